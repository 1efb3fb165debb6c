#include "runtime/leftovers.h"

#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
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
  if (found.empty()) return 0;
  // The groups are remembered from the first look: a member without the
  // plan's variables (under sudo or env -i) still gets SIGKILL when its
  // leader is gone.
  std::set<pid_t> groups;
  for (pid_t pid : found) {
    std::optional<ProcStat> stat = readProcStat(pid);
    if (stat && stat->group > 1 && stat->group != getpgrp()) groups.insert(stat->group);
  }
  const auto signalAll = [&](int signal) {
    for (pid_t group : groups) kill(-group, signal);
    for (pid_t pid : planProcesses(plan, journalPath)) kill(pid, signal);
  };
  // Wait until they are gone, so nothing they do comes later.
  const auto waitUntilGone = [&](std::chrono::milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!planProcesses(plan, journalPath).empty() &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  };
  // As a step's timeout does: SIGTERM first, for a step that puts back
  // what it changed when stopped (redis-copy with the target replicating),
  // then SIGKILL for whatever outlives the grace period.
  signalAll(SIGTERM);
  waitUntilGone(gracePeriod);
  signalAll(SIGKILL);
  waitUntilGone(std::chrono::seconds(2));
  return static_cast<int>(found.size());
}

std::string orphanedOutputFolder(const std::string& journalPath, const std::string& plan) {
  return (std::filesystem::absolute(journalPath).parent_path() / "orphaned" / plan).string();
}

std::vector<std::string> takeOrphanedOutput(const std::string& journalPath,
                                            const std::string& plan) {
  namespace fs = std::filesystem;
  std::vector<std::pair<fs::file_time_type, fs::path>> files;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(orphanedOutputFolder(journalPath, plan), error)) {
    if (entry.is_regular_file(error) && entry.path().extension() == ".out") {
      files.emplace_back(entry.last_write_time(error), entry.path());
    }
  }
  std::sort(files.begin(), files.end());
  std::vector<std::string> outputs;
  for (const auto& [time, path] : files) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    // STEP-PID: the step's name may hold '-', the pid never does.
    const std::string name = path.stem().string();
    const size_t dash = name.rfind('-');
    std::string said = text.str();
    // Its end is what it did last; a driver that kept talking is cut.
    constexpr size_t kShown = 4096;
    if (said.size() > kShown) said = "...\n" + said.substr(said.size() - kShown);
    while (!said.empty() && said.back() == '\n') said.pop_back();
    while (!said.empty() && said.front() == '\n') said.erase(0, 1);
    if (!said.empty()) {
      outputs.push_back(fmt::format("step {} (pid {}), after its runner was gone:\n{}",
                                    name.substr(0, dash), name.substr(dash + 1), said));
    }
    fs::remove(path, error);
  }
  return outputs;
}

}  // namespace mig::runtime
