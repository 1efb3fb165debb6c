#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/unique_fd.h"

namespace mig::runtime {

/// Finding, stopping and reaping the descendants of the processes a ProcessRunner starts,
/// whatever process group or session they move to (Linux): each process in a cgroup v2 of its
/// own where the machine allows it, and the runner a child subreaper, so that orphans come back
/// to it instead of init, and are recognized by a variable in their environment.

/// Marks every process a ProcessRunner starts, and is inherited by their descendants: one value
/// per process started ("RUNNERPID-SERIAL").
inline constexpr std::string_view kProcessTagVariable = "MIG_PROCESS_TAG";

/// Part of what /proc/PID/stat says of a process.
struct ProcStat {
  pid_t parent = 0;
  pid_t group = 0;
  pid_t session = 0;
  char state = 0;
  unsigned flags = 0;

  /// It has exited and waits to be reaped (a zombie).
  bool exited() const { return state == 'Z' || state == 'X' || state == 'x'; }
  /// It is on its way out (PF_EXITING): its memory, environment included, may be gone already.
  bool exiting() const { return (flags & 0x4) != 0; }
};

std::optional<ProcStat> readProcStat(pid_t pid);
/// The children of `pid` (of any of its threads), zombies included.
std::vector<pid_t> childrenOf(pid_t pid);
/// The value of `name` in the environment `pid` was started with. Nothing for a process that is
/// exiting; a process in the middle of an exec shows an empty environment for a moment, so an
/// empty one is read again after a millisecond, twice.
std::optional<std::string> environmentValue(pid_t pid, std::string_view name);
/// The cgroup v2 of `pid` as /proc/PID/cgroup names it ("/mig-41-1/p3"); a zombie keeps its own.
std::optional<std::string> cgroupOf(pid_t pid);
/// The processes of group `group` that have not exited, from a scan of all of /proc.
std::vector<pid_t> liveGroupMembers(pid_t group);

/// A descriptor that polls readable once `pid` has exited; -1 (errno) when there is none.
int openPidfd(pid_t pid);
/// Sends `signal` to the process of `pidfd`, never to another one that took over its pid.
void signalProcess(int pidfd, int signal);
/// Reaps the process of `pidfd` if it is an exited child of the caller.
void reapIfExitedChild(int pidfd);

/// While any instance lives, the calling process is a child subreaper (PR_SET_CHILD_SUBREAPER):
/// orphaned descendants become its children instead of init's, so they can still be found, and
/// it must reap them. The last instance to go restores the setting found by the first.
class ChildSubreaper {
 public:
  ChildSubreaper();
  ~ChildSubreaper();
  ChildSubreaper(const ChildSubreaper&) = delete;
  ChildSubreaper& operator=(const ChildSubreaper&) = delete;

  /// False when the kernel refused.
  bool active() const { return active_; }

 private:
  bool active_ = false;
};

/// The cgroup of one process the runner started: the process and every descendant, whatever
/// group or session they move to, are in it (only a privileged process can leave it, on
/// purpose). Removed on destruction if it is empty by then.
class Cgroup {
 public:
  Cgroup(std::string path, std::string name, bool hasKillFile);
  Cgroup(Cgroup&& other) noexcept;
  Cgroup& operator=(Cgroup&& other) noexcept;
  Cgroup(const Cgroup&) = delete;
  ~Cgroup();

  /// As /proc/PID/cgroup names it.
  const std::string& name() const { return name_; }
  /// Its folder in the file system.
  const std::string& path() const { return path_; }
  /// Its cgroup.procs, open for writing: the child joins by writing "0" to it before exec.
  UniqueFd openForJoining() const;
  /// Its live processes (zombies are not listed).
  std::vector<pid_t> processes() const;
  /// SIGKILL to every process in it: at once through cgroup.kill (Linux 5.14), else one by one
  /// while it is frozen, so that none can fork in between.
  void killAll() const;

 private:
  void write(const char* file, std::string_view text) const;

  std::string path_;  ///< in the file system
  std::string name_;
  bool hasKillFile_;
};

/// The folder ("mig-PID-N") in the caller's own cgroup v2 under which a runner makes the cgroups
/// of its processes; removed on destruction, when they are gone.
class CgroupFolder {
 public:
  /// Nothing, and `why`, when the machine does not allow it (no cgroup v2 hierarchy, or none we
  /// may write to). Also removes the empty folders that killed runners left behind.
  static std::unique_ptr<CgroupFolder> create(std::string& why);
  ~CgroupFolder();
  CgroupFolder(const CgroupFolder&) = delete;
  CgroupFolder& operator=(const CgroupFolder&) = delete;

  /// A cgroup in the folder for a new process: an empty one given back, else a new one named
  /// for `serial`; nothing (and `why`) on failure.
  std::optional<Cgroup> newCgroup(uint64_t serial, std::string& why);
  /// A cgroup whose process and descendants are gone: kept for the next process when it is
  /// empty, since making and removing one costs about as much as a no-op step (~90 us).
  void giveBack(Cgroup cgroup);

 private:
  /// Enough for every job slot; more are removed.
  static constexpr size_t kSpareCgroups = 64;

  CgroupFolder(std::string path, std::string name, bool hasKillFile);

  std::string path_;
  std::string name_;
  bool hasKillFile_;
  std::vector<Cgroup> spare_;  ///< empty cgroups given back, for the next processes
};

/// How to recognize the descendants of one process the runner started.
struct DescendantQuery {
  pid_t main = 0;            ///< its main process, and the id of its process group
  bool mainRunning = false;  ///< not reaped yet: its subtree is searched
  std::string tag;           ///< its kProcessTagVariable value
  const Cgroup* cgroup = nullptr;
  /// Orphans come to the caller (ChildSubreaper); if not, the process group is searched for in
  /// all of /proc.
  bool orphansComeBack = true;
  /// True for the runner's main processes not reaped yet: never anyone's descendants.
  std::function<bool(pid_t)> isMainProcess;
  /// True for a process the runner knows to descend from it (seen before, or in a group or a
  /// session of one seen before): so recognized even when it is too far gone to show its tag.
  std::function<bool(pid_t, const ProcStat&)> isKnown;
};

struct Descendant {
  pid_t pid = 0;
  ProcStat stat;
  UniqueFd pidfd;  ///< signals through it reach this process, whoever takes its pid later
};

struct FoundDescendants {
  std::vector<Descendant> live;
  bool unwatchable = false;  ///< some could not be opened, though they had not exited
  bool vanished = false;     ///< some exited while they were being looked at
};

/// The live descendants of a process the runner started (its main process excepted): what is in
/// its cgroup or process group, below its main process while it runs, and the orphans that came
/// back to the caller marked with its tag or known (with everything below them). Each is checked
/// after its pidfd is open, so that a pid taken over in between is not counted.
FoundDescendants findDescendants(const DescendantQuery& query);

/// Reaps the exited children of the caller for which `isOurs` holds, main processes excepted.
void reapExitedChildren(const std::function<bool(pid_t)>& isMainProcess,
                        const std::function<bool(pid_t, const ProcStat&)>& isOurs);

}  // namespace mig::runtime
