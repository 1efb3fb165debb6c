#include "runtime/descendants.h"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <set>
#include <system_error>
#include <thread>
#include <utility>

namespace mig::runtime {
namespace {

std::string errorText(int error) {
  return std::system_category().message(error);
}

/// The whole of a (small, /proc or cgroup) file; nothing when it cannot be read.
std::optional<std::string> readWholeFile(const std::string& path) {
  UniqueFd file(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!file.valid()) return std::nullopt;
  std::string text;
  char buffer[4096];
  while (true) {
    ssize_t length = ::read(file.get(), buffer, sizeof buffer);
    if (length < 0 && errno == EINTR) continue;
    if (length < 0) return std::nullopt;
    if (length == 0) return text;
    text.append(buffer, static_cast<size_t>(length));
  }
}

std::optional<pid_t> parsePid(std::string_view text) {
  pid_t pid = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), pid);
  if (error != std::errc() || end != text.data() + text.size() || pid <= 0) return std::nullopt;
  return pid;
}

/// The numbers in `text`, separated by white space.
std::vector<pid_t> parsePids(std::string_view text) {
  std::vector<pid_t> pids;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find_first_of(" \n", start);
    if (end == std::string_view::npos) end = text.size();
    if (std::optional<pid_t> pid = parsePid(text.substr(start, end - start))) pids.push_back(*pid);
    start = end + 1;
  }
  return pids;
}

/// The processes of /proc, by the numbers of their folders.
std::vector<pid_t> allProcesses() {
  std::vector<pid_t> pids;
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) return pids;
  while (dirent* entry = ::readdir(proc)) {
    if (std::optional<pid_t> pid = parsePid(entry->d_name)) pids.push_back(*pid);
  }
  ::closedir(proc);
  return pids;
}

/// Linux lists a task's children in /proc/PID/task/TID/children when built with
/// CONFIG_PROC_CHILDREN (Debian's kernels are); else the parents of all processes are read.
bool kernelListsChildren() {
  static const bool lists = ::access("/proc/thread-self/children", R_OK) == 0;
  return lists;
}

/// "mig-PID-N" names a runner's cgroup folder; the PID.
std::optional<pid_t> folderOwner(std::string_view name) {
  if (!name.starts_with("mig-")) return std::nullopt;
  name.remove_prefix(4);
  return parsePid(name.substr(0, name.find('-')));
}

/// The folders (child cgroups) in cgroup folder `path`.
std::vector<std::string> subfolders(const std::string& path) {
  std::vector<std::string> names;
  DIR* folder = ::opendir(path.c_str());
  if (folder == nullptr) return names;
  while (dirent* entry = ::readdir(folder)) {
    std::string_view name = entry->d_name;
    if (entry->d_type == DT_DIR && name != "." && name != "..") names.emplace_back(name);
  }
  ::closedir(folder);
  return names;
}

/// Removes the folders of runners that are gone, with their cgroups. rmdir removes only empty
/// cgroups: one that still holds processes (left behind by a killed runner) stays.
void removeFoldersOfDeadRunners(const std::string& path) {
  for (const std::string& name : subfolders(path)) {
    std::optional<pid_t> owner = folderOwner(name);
    if (!owner || ::kill(*owner, 0) == 0 || errno != ESRCH) continue;
    std::string folder = fmt::format("{}/{}", path, name);
    for (const std::string& cgroup : subfolders(folder)) {
      ::rmdir(fmt::format("{}/{}", folder, cgroup).c_str());
    }
    ::rmdir(folder.c_str());
  }
}

/// Where the cgroup v2 named `name` (as in /proc/PID/cgroup) is in the file system: under the
/// mount point of a cgroup2 file system whose root holds it.
std::optional<std::string> cgroupDirectory(const std::string& name) {
  std::optional<std::string> mounts = readWholeFile("/proc/self/mountinfo");
  if (!mounts) return std::nullopt;
  size_t start = 0;
  while (start < mounts->size()) {
    size_t end = mounts->find('\n', start);
    if (end == std::string::npos) end = mounts->size();
    std::string_view line = std::string_view(*mounts).substr(start, end - start);
    start = end + 1;
    // ID PARENT MAJOR:MINOR ROOT MOUNTPOINT OPTIONS [TAGS...] - FSTYPE SOURCE OPTIONS
    size_t separator = line.find(" - ");
    if (separator == std::string_view::npos ||
        !line.substr(separator + 3).starts_with("cgroup2 ")) {
      continue;
    }
    std::vector<std::string_view> fields;
    size_t field = 0;
    while (fields.size() < 5 && field < separator) {
      size_t space = line.find(' ', field);
      fields.push_back(line.substr(field, space - field));
      field = space + 1;
    }
    if (fields.size() < 5) continue;
    std::string_view root = fields[3];
    std::string_view mountPoint = fields[4];
    std::string_view inside = name;
    if (root != "/") {
      if (!inside.starts_with(root) ||
          (inside.size() > root.size() && inside[root.size()] != '/')) {
        continue;
      }
      inside.remove_prefix(root.size());
    }
    if (inside == "/") inside = "";
    return fmt::format("{}{}", mountPoint, inside);
  }
  return std::nullopt;
}

std::atomic<uint64_t> folderSerial{0};

}  // namespace

// ------------------------------------------------------------------ /proc

std::optional<ProcStat> readProcStat(pid_t pid) {
  std::optional<std::string> text = readWholeFile(fmt::format("/proc/{}/stat", pid));
  if (!text) return std::nullopt;
  size_t commandEnd = text->rfind(')');  // the command may hold spaces and parentheses
  if (commandEnd == std::string::npos || commandEnd + 2 >= text->size()) return std::nullopt;
  ProcStat stat;
  stat.state = (*text)[commandEnd + 2];
  // STATE PPID PGRP SESSION TTY_NR TPGID FLAGS ...
  if (std::sscanf(text->c_str() + commandEnd + 3, " %d %d %d %*d %*d %u", &stat.parent, &stat.group,
                  &stat.session, &stat.flags) != 4) {
    return std::nullopt;
  }
  return stat;
}

std::vector<pid_t> childrenOf(pid_t pid) {
  std::vector<pid_t> children;
  if (!kernelListsChildren()) {
    for (pid_t candidate : allProcesses()) {
      std::optional<ProcStat> stat = readProcStat(candidate);
      if (stat && stat->parent == pid) children.push_back(candidate);
    }
    return children;
  }
  std::string tasks = fmt::format("/proc/{}/task", pid);
  DIR* folder = ::opendir(tasks.c_str());
  if (folder == nullptr) return children;
  while (dirent* entry = ::readdir(folder)) {
    if (!parsePid(entry->d_name)) continue;
    std::optional<std::string> list =
        readWholeFile(fmt::format("{}/{}/children", tasks, entry->d_name));
    if (!list) continue;
    for (pid_t child : parsePids(*list)) children.push_back(child);
  }
  ::closedir(folder);
  return children;
}

std::optional<std::string> environmentValue(pid_t pid, std::string_view name) {
  std::string path = fmt::format("/proc/{}/environ", pid);
  std::optional<std::string> environment = readWholeFile(path);
  for (int retry = 0; retry < 2 && environment && environment->empty(); ++retry) {
    std::optional<ProcStat> stat = readProcStat(pid);
    if (!stat || stat->exited() || stat->exiting()) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    environment = readWholeFile(path);
  }
  if (!environment) return std::nullopt;
  std::string_view entries = *environment;
  while (!entries.empty()) {
    size_t end = entries.find('\0');
    std::string_view entry = entries.substr(0, end);
    if (entry.size() > name.size() && entry.starts_with(name) && entry[name.size()] == '=') {
      return std::string(entry.substr(name.size() + 1));
    }
    if (end == std::string_view::npos) break;
    entries.remove_prefix(end + 1);
  }
  return std::nullopt;
}

std::optional<std::string> cgroupOf(pid_t pid) {
  std::optional<std::string> text = readWholeFile(fmt::format("/proc/{}/cgroup", pid));
  if (!text) return std::nullopt;
  size_t line = text->starts_with("0::") ? 0 : text->find("\n0::");
  if (line == std::string::npos) return std::nullopt;
  size_t start = line == 0 ? 3 : line + 4;
  size_t end = text->find('\n', start);
  return text->substr(start, end == std::string::npos ? std::string::npos : end - start);
}

std::vector<pid_t> liveGroupMembers(pid_t group) {
  std::vector<pid_t> members;
  for (pid_t pid : allProcesses()) {
    if (::getpgid(pid) != group) continue;
    std::optional<ProcStat> stat = readProcStat(pid);
    if (stat && !stat->exited()) members.push_back(pid);
  }
  return members;
}

// Through syscall(): glibc 2.36's <sys/pidfd.h> declares pidfd_open without extern "C".
int openPidfd(pid_t pid) {
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
}

void signalProcess(int pidfd, int signal) {
  ::syscall(SYS_pidfd_send_signal, pidfd, signal, nullptr, 0);
}

void reapIfExitedChild(int pidfd) {
  siginfo_t info{};
  ::waitid(P_PIDFD, static_cast<id_t>(pidfd), &info, WEXITED | WNOHANG);
}

// ------------------------------------------------------------------ the subreaper

namespace {
std::mutex subreaperMutex;
int subreaperUsers = 0;
int subreaperBefore = 0;  ///< the setting the first user found
bool subreaperActive = false;
}  // namespace

ChildSubreaper::ChildSubreaper() {
  std::lock_guard lock(subreaperMutex);
  if (subreaperUsers++ == 0) {
    subreaperBefore = 0;
    ::prctl(PR_GET_CHILD_SUBREAPER, &subreaperBefore, 0, 0, 0);
    subreaperActive = subreaperBefore != 0 || ::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0;
  }
  active_ = subreaperActive;
}

ChildSubreaper::~ChildSubreaper() {
  std::lock_guard lock(subreaperMutex);
  if (--subreaperUsers == 0 && subreaperBefore == 0 && subreaperActive) {
    ::prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0);
  }
}

// ------------------------------------------------------------------ cgroups

Cgroup::Cgroup(std::string path, std::string name, bool hasKillFile)
    : path_(std::move(path)), name_(std::move(name)), hasKillFile_(hasKillFile) {}

Cgroup::Cgroup(Cgroup&& other) noexcept
    : path_(std::exchange(other.path_, {})),
      name_(std::move(other.name_)),
      hasKillFile_(other.hasKillFile_) {}

Cgroup& Cgroup::operator=(Cgroup&& other) noexcept {
  if (this != &other) {
    if (!path_.empty()) ::rmdir(path_.c_str());
    path_ = std::exchange(other.path_, {});
    name_ = std::move(other.name_);
    hasKillFile_ = other.hasKillFile_;
  }
  return *this;
}

Cgroup::~Cgroup() {
  if (!path_.empty()) ::rmdir(path_.c_str());
}

UniqueFd Cgroup::openForJoining() const {
  return UniqueFd(::open(fmt::format("{}/cgroup.procs", path_).c_str(), O_WRONLY | O_CLOEXEC));
}

std::vector<pid_t> Cgroup::processes() const {
  std::optional<std::string> list = readWholeFile(fmt::format("{}/cgroup.procs", path_));
  return list ? parsePids(*list) : std::vector<pid_t>{};
}

void Cgroup::killAll() const {
  if (hasKillFile_) return write("cgroup.kill", "1");
  write("cgroup.freeze", "1");
  // A process that was forking as the freeze began may show up in the next listing.
  for (int round = 0; round < 3; ++round) {
    std::vector<pid_t> members = processes();
    if (members.empty()) break;
    for (pid_t pid : members) {
      UniqueFd process(openPidfd(pid));
      if (process.valid() && cgroupOf(pid) == name_) signalProcess(process.get(), SIGKILL);
    }
  }
  write("cgroup.freeze", "0");
}

void Cgroup::write(const char* file, std::string_view text) const {
  UniqueFd control(::open(fmt::format("{}/{}", path_, file).c_str(), O_WRONLY | O_CLOEXEC));
  if (control.valid()) static_cast<void>(::write(control.get(), text.data(), text.size()));
}

std::unique_ptr<CgroupFolder> CgroupFolder::create(std::string& why) {
  std::optional<std::string> own = cgroupOf(::getpid());
  if (!own) {
    why = "this process is in no cgroup v2 hierarchy";
    return nullptr;
  }
  std::optional<std::string> directory = cgroupDirectory(*own);
  if (!directory) {
    why = fmt::format("its cgroup '{}' is in no cgroup2 file system mounted here", *own);
    return nullptr;
  }
  removeFoldersOfDeadRunners(*directory);
  std::string folder = fmt::format("mig-{}-{}", ::getpid(), ++folderSerial);
  std::string path = fmt::format("{}/{}", *directory, folder);
  if (::mkdir(path.c_str(), 0755) != 0) {
    why = fmt::format("cannot create the cgroup '{}': {}", path, errorText(errno));
    return nullptr;
  }
  bool hasKillFile = ::access(fmt::format("{}/cgroup.kill", path).c_str(), F_OK) == 0;
  std::string name = fmt::format("{}/{}", *own == "/" ? "" : *own, folder);
  return std::unique_ptr<CgroupFolder>(new CgroupFolder(path, name, hasKillFile));
}

CgroupFolder::CgroupFolder(std::string path, std::string name, bool hasKillFile)
    : path_(std::move(path)), name_(std::move(name)), hasKillFile_(hasKillFile) {}

CgroupFolder::~CgroupFolder() {
  spare_.clear();  // their folders first
  ::rmdir(path_.c_str());
}

std::optional<Cgroup> CgroupFolder::newCgroup(uint64_t serial, std::string& why) {
  if (!spare_.empty()) {
    Cgroup cgroup = std::move(spare_.back());
    spare_.pop_back();
    return cgroup;
  }
  std::string path = fmt::format("{}/p{}", path_, serial);
  if (::mkdir(path.c_str(), 0755) != 0) {
    why = fmt::format("cannot create the cgroup '{}': {}", path, errorText(errno));
    return std::nullopt;
  }
  return Cgroup(path, fmt::format("{}/p{}", name_, serial), hasKillFile_);
}

void CgroupFolder::giveBack(Cgroup cgroup) {
  // One that still holds a process (a zombie not reaped yet) is removed, or left to the
  // next runner's clean-up, rather than shared.
  if (spare_.size() < kSpareCgroups && cgroup.processes().empty()) {
    spare_.push_back(std::move(cgroup));
  }
}

// ------------------------------------------------------------------ finding descendants

FoundDescendants findDescendants(const DescendantQuery& query) {
  // How a candidate was found, to check once its pidfd is open that it is still the same process.
  enum class Found { InCgroup, ChildOf, InGroup };
  struct Candidate {
    Found how;
    pid_t parent;
  };
  std::map<pid_t, Candidate> candidates;
  auto add = [&](pid_t pid, Found how, pid_t parent = 0) {
    if (pid != query.main) candidates.emplace(pid, Candidate{how, parent});
  };
  std::set<pid_t> walked;
  auto addSubtree = [&](pid_t root) {
    std::vector<pid_t> pending{root};
    while (!pending.empty()) {
      pid_t parent = pending.back();
      pending.pop_back();
      if (!walked.insert(parent).second) continue;
      for (pid_t child : childrenOf(parent)) {
        add(child, Found::ChildOf, parent);
        pending.push_back(child);
      }
    }
  };

  if (query.cgroup != nullptr) {
    for (pid_t pid : query.cgroup->processes()) add(pid, Found::InCgroup);
  }
  // Once the main process is gone, the cgroup alone answers: whatever session, group or parent
  // its descendants moved to, they stay in it (only a writer of another cgroup's cgroup.procs
  // takes a process out). Looking further costs a dozen reads of /proc for every step.
  const bool cgroupSuffices = query.cgroup != nullptr && !query.mainRunning;
  if (query.mainRunning) addSubtree(query.main);
  const pid_t self = cgroupSuffices ? 0 : ::getpid();
  for (pid_t child : cgroupSuffices ? std::vector<pid_t>{} : childrenOf(self)) {
    if (query.isMainProcess(child)) continue;
    std::optional<ProcStat> stat = readProcStat(child);
    if (!stat || stat->exited()) continue;
    if (stat->group == query.main || query.isKnown(child, *stat) ||
        environmentValue(child, kProcessTagVariable) == std::optional<std::string>(query.tag)) {
      add(child, Found::ChildOf, self);
      addSubtree(child);
    }
  }
  if (!query.orphansComeBack && !cgroupSuffices) {
    for (pid_t pid : liveGroupMembers(query.main)) add(pid, Found::InGroup);
  }

  FoundDescendants found;
  for (const auto& [pid, candidate] : candidates) {
    UniqueFd pidfd(openPidfd(pid));
    if (!pidfd.valid()) {
      (errno == ESRCH ? found.vanished : found.unwatchable) = true;
      continue;
    }
    std::optional<ProcStat> stat = readProcStat(pid);
    if (!stat || stat->exited()) {
      found.vanished = true;
      continue;
    }
    bool same = false;
    switch (candidate.how) {
      case Found::InCgroup:
        same = cgroupOf(pid) == query.cgroup->name();
        break;
      case Found::ChildOf:
        same = stat->parent == candidate.parent;
        break;
      case Found::InGroup:
        same = stat->group == query.main;
        break;
    }
    if (same) found.live.push_back(Descendant{pid, *stat, std::move(pidfd)});
  }
  return found;
}

void reapExitedChildren(const std::function<bool(pid_t)>& isMainProcess,
                        const std::function<bool(pid_t, const ProcStat&)>& isOurs) {
  // Most of the time no child has exited: one look (reaping nothing) spares the walk of /proc.
  siginfo_t exited{};
  if (::waitid(P_ALL, 0, &exited, WEXITED | WNOHANG | WNOWAIT) != 0 || exited.si_pid == 0) return;
  for (pid_t child : childrenOf(::getpid())) {
    if (isMainProcess(child)) continue;
    std::optional<ProcStat> stat = readProcStat(child);
    if (!stat || !stat->exited() || !isOurs(child, *stat)) continue;
    int status = 0;
    ::waitpid(child, &status, WNOHANG);  // an exited child's pid cannot be taken over
  }
}

}  // namespace mig::runtime
