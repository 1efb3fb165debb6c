#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string_view>
#include <vector>

#include "runtime/action_runner.h"
#include "runtime/clock.h"
#include "runtime/descendants.h"

namespace mig::runtime {

/// How much of a process's output its log keeps by default (see ProcessRunner::setLogLimit).
constexpr uint64_t kDefaultLogLimitBytes = 64 * 1024 * 1024;

/// The real ActionRunner: each request runs as a child process (Boost.Process) in a process group
/// of its own, with stdin from /dev/null and stdout and stderr merged into one pipe, which is read
/// as data arrives and written, redacted, to the request's log file.
///
/// A script runs as `/bin/bash --noprofile --norc -e -o pipefail -c SCRIPT`. A simple command
/// (isSimpleCommand) is exec'd directly instead, with the environment bash would have passed it
/// (PWD, OLDPWD, SHLVL, `_`); it still goes through bash whenever bash could behave differently:
/// the program is not on PATH or cannot be exec'd, or the environment changes how bash starts or
/// finds commands (BASH_ENV, SHELLOPTS, BASHOPTS, POSIXLY_CORRECT, EXECIGNORE, an exported
/// function of that name, no PATH).
///
/// A process is over when its main process (bash, or the exec'd program) exits. Whatever else
/// descends from it and still runs then gets SIGTERM, and SIGKILL after the grace period, before
/// the result is returned: a step's background children never outlive it, and never hold up its
/// result for longer than the grace period. That holds for children that leave the process group
/// (setsid, setpgid, a double fork) too: each process runs in a cgroup v2 of its own where the
/// machine allows it, and the runner is a child subreaper (PR_SET_CHILD_SUBREAPER) so that
/// orphans come back to it rather than to init; it recognizes them by kProcessTagVariable in
/// their environment and reaps them (see descendants.h). A timeout or a cancel stops them the same
/// way, and the end of one process never touches the descendants of another.
///
/// While a runner lives, its process is a child subreaper: orphans of any of its children come
/// to it, and those the runner cannot tell as its own stay zombies until it exits. Use from one
/// thread. Children inherit only stdin, stdout and stderr. No exception escapes.
class ProcessRunner : public ActionRunner {
 public:
  /// `clock` gives the time for deadlines, grace periods and result timestamps; waits happen in
  /// real time (poll), so it is a SystemClock outside tests of pure bookkeeping. `gracePeriod`:
  /// after SIGTERM to a group, how long before SIGKILL.
  explicit ProcessRunner(const Clock& clock, Milliseconds gracePeriod = std::chrono::seconds(5));
  /// Stops whatever still runs (SIGTERM, SIGKILL after the grace period) and reaps it; may block
  /// for up to twice the grace period (the second for processes stuck in the kernel after the
  /// SIGKILL).
  ~ProcessRunner() override;
  ProcessRunner(const ProcessRunner&) = delete;
  ProcessRunner& operator=(const ProcessRunner&) = delete;

  /// A request whose deadline has already passed does not run: it comes back TimedOut.
  void start(ProcessRequest request) override;
  /// With nothing running and no result pending, returns at once, whatever `until` says.
  std::vector<ProcessResult> wait(std::optional<Instant> until) override;
  /// Leaves alone unknown tokens and processes whose main process has already exited.
  void cancel(uint64_t token) override;
  /// Processes started whose results wait() has not returned yet.
  size_t running() const override;

  /// How many bytes of its output a process's log keeps (kDefaultLogLimitBytes unless set; 0 keeps
  /// everything), for the processes started from now on. Beyond it, the log keeps the first half
  /// and the last half of the limit, with a marker line between them saying how many bytes were
  /// left out (ProcessResult::logOmittedBytes). Past the limit, each such process holds the last
  /// half of the limit in memory until it ends (see StepLog).
  void setLogLimit(uint64_t bytes) { logLimit_ = bytes; }

  /// Whether each process gets a cgroup of its own where the machine allows it (true unless
  /// set): without, its descendants are found through the subreaper alone. For the processes
  /// started from now on.
  void setUseCgroups(bool use) { useCgroups_ = use; }
  /// Whether the processes started from now on get a cgroup each: setUseCgroups allows it, and
  /// this machine does (a cgroup v2 hierarchy we may create cgroups in and move processes to).
  bool cgroupsAvailable();

 private:
  struct Process;

  size_t active() const;  ///< processes whose results are not in finished_ yet
  bool isMainProcess(pid_t pid) const;
  void fireTimers(Instant now);
  void pollOnce(Instant now, std::optional<Instant> wake);
  std::optional<Instant> nextTimer() const;
  void readOutput(Process& process);
  void onMainExit(Process& process, Instant now);
  void stop(Process& process, Instant now);
  void terminate(Process& process, const std::vector<Descendant>& descendants);
  void killEverything(Process& process);
  void settle(Process& process, Instant now);
  void watchDescendants(Process& process, Instant now);
  FoundDescendants findDescendants(Process& process);
  static bool isKnown(const Process& process, pid_t pid, const ProcStat& stat);
  void reapExitedDescendants(Process& process);
  void complete(Process& process, Instant now);
  void release(Process& process);
  void sweep();

  const Clock& clock_;
  Milliseconds gracePeriod_;
  ChildSubreaper subreaper_;
  bool useCgroups_ = true;
  bool cgroupsWork_ = true;                     ///< until the machine says otherwise
  std::unique_ptr<CgroupFolder> cgroupFolder_;  ///< made at the first start; outlives processes_
  std::vector<std::unique_ptr<Process>> processes_;
  std::vector<ProcessResult> finished_;  ///< results wait() has yet to return
  std::vector<char> readBuffer_;
  std::set<std::string> logFolders_;  ///< log folders known to exist
  uint64_t logLimit_ = kDefaultLogLimitBytes;
};

/// True when `script` is one simple command that gives the same result exec'd directly as run by
/// bash: a single line of words made of `[A-Za-z0-9_@%+=:,./-]`, separated by single spaces,
/// whose first word is not an assignment, a job spec (`%1`), a keyword or a builtin. The builtins
/// `true`, `false`, `echo` and `printf` are allowed, because their coreutils twins behave the
/// same, but only without arguments that make the twins differ (`--help`, `--version`; for
/// `printf` anything but one plain format without `%`).
bool isSimpleCommand(std::string_view script);

/// True when `script` is one command, for bash: no `;`, `&`, `|`, newline,
/// subshell or command substitution outside quotes (quoted words and
/// variables are fine). Such a command is the step's own process (bash
/// execs it), so it alone may say that it changed nothing.
bool isSingleCommand(std::string_view script);

}  // namespace mig::runtime
