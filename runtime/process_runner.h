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
/// A process is over when its main process (bash, or the exec'd program) exits. Whatever else is
/// still in its group then gets SIGTERM, and SIGKILL after the grace period, before the result is
/// returned: a step's background children never outlive it, and never hold up its result for
/// longer than the grace period.
///
/// Use from one thread. Children inherit only stdin, stdout and stderr. No exception escapes.
class ProcessRunner : public ActionRunner {
 public:
  /// `clock` gives the time for deadlines, grace periods and result timestamps; waits happen in
  /// real time (poll), so it is a SystemClock outside tests of pure bookkeeping. `gracePeriod`:
  /// after SIGTERM to a group, how long before SIGKILL.
  explicit ProcessRunner(const Clock& clock, Milliseconds gracePeriod = std::chrono::seconds(5));
  /// Stops whatever still runs (SIGTERM, SIGKILL after the grace period) and reaps it; may block
  /// for up to the grace period.
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

 private:
  struct Process;

  void fireTimers(Instant now);
  void pollOnce(Instant now, std::optional<Instant> wake);
  std::optional<Instant> nextTimer() const;
  void readOutput(Process& process);
  void onMainExit(Process& process, Instant now);
  void stopGroup(Process& process, Instant now);
  void settleGroup(Process& process, Instant now);
  void watchLeftovers(Process& process, Instant now);
  void complete(Process& process, Instant now);
  void sweep();

  const Clock& clock_;
  Milliseconds gracePeriod_;
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
