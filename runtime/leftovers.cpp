#include "runtime/leftovers.h"

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <vector>
#include <thread>

namespace mig::runtime {
namespace {

// The process group and state of a process, from /proc/PID/stat.
bool readStat(pid_t pid, pid_t& group, char& state) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), {});
  size_t close = text.rfind(')');  // the command name may hold spaces
  if (close == std::string::npos || close + 4 >= text.size()) return false;
  state = text[close + 2];
  long parent = 0;
  long pgrp = 0;
  if (std::sscanf(text.c_str() + close + 4, "%ld %ld", &parent, &pgrp) != 2) return false;
  group = static_cast<pid_t>(pgrp);
  return true;
}

// Whether the process's environment holds every one of `markers`.
bool belongsToPlan(pid_t pid, const std::vector<std::string>& markers) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/environ", std::ios::binary);
  std::string environ((std::istreambuf_iterator<char>(in)), {});
  size_t matched = 0;
  size_t at = 0;
  while (at < environ.size()) {
    size_t end = environ.find('\0', at);
    if (end == std::string::npos) end = environ.size();
    for (const std::string& marker : markers) {
      if (environ.compare(at, end - at, marker) == 0) ++matched;
    }
    at = end + 1;
  }
  return matched == markers.size();
}

std::set<pid_t> planProcesses(const std::vector<std::string>& marker) {
  std::set<pid_t> found;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", error)) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    pid_t pid = static_cast<pid_t>(std::stol(name));
    if (pid == getpid()) continue;
    pid_t group = 0;
    char state = 0;
    if (!readStat(pid, group, state) || state == 'Z') continue;
    if (belongsToPlan(pid, marker)) found.insert(pid);
  }
  return found;
}

}  // namespace

int stopLeftoverProcesses(const std::string& plan, const std::string& journalPath) {
  const std::vector<std::string> marker = {"MIG_PLAN=" + plan, "MIG_JOURNAL=" + journalPath};
  std::set<pid_t> found = planProcesses(marker);
  for (pid_t pid : found) {
    pid_t group = 0;
    char state = 0;
    if (readStat(pid, group, state) && group > 1 && group != getpgrp()) kill(-group, SIGKILL);
    kill(pid, SIGKILL);
  }
  // Wait (briefly) until they are gone, so nothing they do comes later.
  for (int i = 0; i < 100 && !found.empty() && !planProcesses(marker).empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return static_cast<int>(found.size());
}

}  // namespace mig::runtime
