#include "runtime/leftovers.h"

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <set>
#include <string>
#include <thread>

#include "runtime/descendants.h"

namespace mig::runtime {
namespace {

// Whether the process's environment holds the plan's and the journal's
// markers, as every step process inherits them.
bool belongsToPlan(pid_t pid, const std::string& plan, const std::string& journalPath) {
  return environmentValue(pid, "MIG_PLAN") == plan &&
         environmentValue(pid, "MIG_JOURNAL") == journalPath;
}

std::set<pid_t> planProcesses(const std::string& plan, const std::string& journalPath) {
  std::set<pid_t> found;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", error)) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    pid_t pid = static_cast<pid_t>(std::stol(name));
    if (pid == getpid()) continue;
    std::optional<ProcStat> stat = readProcStat(pid);
    if (!stat || stat->exited()) continue;
    if (belongsToPlan(pid, plan, journalPath)) found.insert(pid);
  }
  return found;
}

}  // namespace

int stopLeftoverProcesses(const std::string& plan, const std::string& journalPath,
                          std::chrono::milliseconds gracePeriod) {
  const std::set<pid_t> found = planProcesses(plan, journalPath);
  const auto signalAll = [&](int signal) {
    for (pid_t pid : planProcesses(plan, journalPath)) {
      std::optional<ProcStat> stat = readProcStat(pid);
      if (stat && stat->group > 1 && stat->group != getpgrp()) kill(-stat->group, signal);
      kill(pid, signal);
    }
  };
  // Wait until they are gone, so nothing they do comes later.
  const auto waitUntilGone = [&](std::chrono::milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!planProcesses(plan, journalPath).empty() &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  };
  if (found.empty()) return 0;
  // As a step's timeout does: SIGTERM first, for a step that puts back
  // what it changed when stopped (redis-copy with the target replicating),
  // then SIGKILL for whatever outlives the grace period.
  signalAll(SIGTERM);
  waitUntilGone(gracePeriod);
  signalAll(SIGKILL);
  waitUntilGone(std::chrono::seconds(2));
  return static_cast<int>(found.size());
}

}  // namespace mig::runtime
