#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>

#include "runtime/lock.h"
#include "runtime/state_store.h"

namespace mig::drivers::pg {
class Connection;
}

namespace mig::runtime {

/// The journal in a PostgreSQL database, for a team: the same records and
/// promises as the SQLite file (every method one transaction, committed
/// before it returns; a batch one transaction), in the tables of a schema
/// `mig` it creates on first use. The URL is libpq's; its password comes
/// from ~/.pgpass, PGPASSFILE or PGPASSWORD, as for psql (one written in
/// the URL works, and is never shown). Each process's log is copied into
/// the journal when the process ends (up to kStoredLogLimit bytes), so
/// `mig log` works on every machine that reaches the database.
class PostgresStateStore final : public StateStore {
 public:
  /// The most of one process's log the journal keeps: its head and tail
  /// beyond this, with a line saying what was left out.
  static constexpr size_t kStoredLogLimit = 16 * 1024 * 1024;

  static std::unique_ptr<PostgresStateStore> open(const std::string& url, std::string& error);
  ~PostgresStateStore() override;

  bool stillInPlace() override;
  void setBusyTimeout(std::chrono::milliseconds timeout) override;
  std::optional<StoreSettings> settings() override { return std::nullopt; }
  std::optional<int64_t> createRun(const RunRecord& run,
                                   const std::vector<std::string>& steps) override;
  std::optional<RunRecord> run(int64_t runId) override;
  std::optional<RunRecord> lastRun(const std::string& plan) override;
  std::vector<std::string> plans() override;
  std::vector<RunRecord> runs(const std::string& plan) override;
  bool setRunState(int64_t runId, RunState state, const std::string& message,
                   int64_t finishedAt) override;
  bool setRunner(int64_t runId, const std::string& host, int64_t pid) override;
  bool setSwitchover(int64_t runId, int64_t at, std::optional<int64_t> retainUntil) override;
  std::vector<StepRecord> steps(int64_t runId) override;
  std::vector<AttemptRecord> attempts(int64_t runId, const std::string& step) override;
  bool processStarted(int64_t runId, const std::string& step, ProcessKind kind, int attempt,
                      int64_t at, const std::string& logPath, StepState stepState) override;
  bool processFinished(int64_t runId, const std::string& step, ProcessKind kind, int attempt,
                       int64_t at, ProcessOutcome outcome, std::optional<int> exitCode,
                       StepState stepState, const std::string& message,
                       const std::string& logNote = "") override;
  bool setStepState(int64_t runId, const std::string& step, StepState state,
                    const std::string& message) override;
  std::optional<std::string> storedLog(int64_t runId, const std::string& step, ProcessKind kind,
                                       int attempt) override;
  bool beginBatch() override;
  bool commitBatch() override;
  void abortBatch() override;

 private:
  PostgresStateStore() = default;
  bool createSchema();
  /// Opens the transaction of a write: its own, or the batch's.
  bool beginWrite(const std::string& action);
  /// Commits a write's own transaction (a batch's waits for commitBatch()).
  bool endWrite(const std::string& action);
  /// Rolls back a write that failed, unless it belongs to a batch (whose
  /// caller aborts it).
  void failedWrite();
  bool failBecause(const std::string& what, const std::string& why);
  std::optional<int64_t> nextCompletionOrder(int64_t runId, const std::string& action);

  std::unique_ptr<drivers::pg::Connection> db_;
  bool batchOpen_ = false;
  std::map<int64_t, int64_t> nextOrder_;               ///< run -> last completion order given
  std::string where_;                                  ///< the URL, password hidden
  std::chrono::steady_clock::time_point lastReached_;  ///< see stillInPlace()
};

/// The plan lock of a PostgreSQL journal: a session-level advisory lock
/// held by a connection of its own, which PostgreSQL drops when the holder's
/// session ends, even when its process is killed with -9 (its connection
/// closes), so a dead runner never blocks. Who holds it is recorded in the
/// journal's `mig.locks` table and in the connection's application_name.
std::unique_ptr<PlanLock> acquireAdvisoryPlanLock(const std::string& url, const std::string& plan,
                                                  PlanLock::Status& status, std::string& message);

}  // namespace mig::runtime
