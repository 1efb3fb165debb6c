#pragma once

#include <memory>
#include <string>

namespace mig::runtime {

/// One runner per plan. The journal's kind decides how: for a PostgreSQL
/// journal an advisory lock (acquireAdvisoryPlanLock, pg_state_store.h);
/// for the SQLite file, acquire() below.
///
/// acquire(): exclusive locks on two files, which hold who has
/// them (host, pid, since). One is `.mig/PLAN.lock` beside the journal,
/// where an operator looks; the other lives outside that folder (see
/// lockDirectory()), keyed by the folder's path, so that a runner still
/// holds the plan when the folder is removed under it (`rm -rf .mig`) and
/// a second runner would otherwise find no lock at all.
///
/// The kernel drops the locks when their holder dies, even by kill -9, so
/// a lock left by a crashed runner never blocks: the next runner takes it
/// over. Taking the locks writes nothing: a command that then refuses
/// leaves the dead holder's record for the one that goes on, which calls
/// claim() and says whose lock it took over.
class PlanLock {
 public:
  enum class Status { Acquired, Held, Error };

  /// The file lock of the journal folder `stateDir`. Tries once, never
  /// waits. Held: `message` names the holder.
  static std::unique_ptr<PlanLock> acquire(const std::string& stateDir, const std::string& plan,
                                           Status& status, std::string& message);
  /// Releases the lock.
  virtual ~PlanLock() = default;
  PlanLock(const PlanLock&) = delete;
  PlanLock& operator=(const PlanLock&) = delete;

  /// Records this process as the holder. Returns what was taken over
  /// ("took over the lock of a runner that is gone (host h, pid p, since
  /// t)"), or "" when the lock was free; sets `error` if the record cannot
  /// be written.
  virtual std::string claim(std::string& error) = 0;

 protected:
  PlanLock() = default;
};

/// "host web1, pid 4242, since 2026-11-25 20:01 UTC": who holds a lock.
std::string describeLockHolder(const std::string& host, long long pid, long long sinceMs);

/// Where the locks kept outside the journal's folder live: $MIG_LOCK_DIR,
/// else /tmp/mig-locks-UID (made 0700; refused if it is a symbolic link or
/// owned by another user).
std::string lockDirectory();

}  // namespace mig::runtime
