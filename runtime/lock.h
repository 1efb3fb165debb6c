#pragma once

#include <memory>
#include <string>

namespace mig::runtime {

/// One runner per plan: an exclusive lock on `.mig/PLAN.lock`, which holds
/// who has it (host, pid, since). The kernel drops the lock when its holder
/// dies, even by kill -9, so a lock left by a crashed runner never blocks:
/// the next runner takes it over and says whose it was.
class PlanLock {
 public:
  enum class Status { Acquired, Held, Error };

  /// Tries once, never waits. Held: `message` names the holder.
  /// Acquired after a crash: `message` says whose lock was taken over.
  static std::unique_ptr<PlanLock> acquire(const std::string& stateDir, const std::string& plan,
                                           Status& status, std::string& message);
  ~PlanLock();

 private:
  PlanLock(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  int fd_;
  std::string path_;
};

}  // namespace mig::runtime
