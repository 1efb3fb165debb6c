#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "runtime/states.h"

struct sqlite3;

namespace mig::runtime {

class JournalSeal;

/// A run of a plan, as the journal records it.
struct RunRecord {
  int64_t id = 0;      ///< the journal's key for the run, shared by every plan
  int64_t number = 0;  ///< 1 for the plan's first run, 2 for its second: what users read
  std::string plan;
  std::string planHash;
  std::string planFile;  ///< the plan's source file, as given to `mig run`
  std::string compiled;  ///< the compiled plan (JSON) the run executes
  RunState state = RunState::Running;
  std::string message;
  int64_t startedAt = 0;   ///< ms since the epoch
  int64_t finishedAt = 0;  ///< 0 while not finished
  std::optional<int64_t> switchoverAt;  ///< when the switchover phase completed
  std::optional<int64_t> retainUntil;   ///< switchoverAt + the plan's retention
  std::string host;
  int64_t pid = 0;
};

/// A step of a run.
struct StepRecord {
  std::string step;
  StepState state = StepState::Pending;
  int attempts = 0;  ///< attempts of `do` started so far
  int64_t startedAt = 0;
  int64_t finishedAt = 0;  ///< when its `do` (or its check) ended; an undo does not change it
  std::optional<int> exitCode;
  std::string message;
  int64_t order = 0;  ///< increases with every step that reaches `done`: undo goes in reverse
};

/// One process of a step: an attempt of its `do`, a `check` or its `undo`.
struct AttemptRecord {
  std::string step;
  ProcessKind kind = ProcessKind::Run;
  int attempt = 0;
  int64_t startedAt = 0;
  int64_t finishedAt = 0;  ///< 0 while running
  std::optional<int> exitCode;
  ProcessOutcome outcome = ProcessOutcome::Unfinished;
  std::string logPath;
  /// Empty when the log holds all the output; else what is missing (cut by
  /// the size limit, or a write that failed).
  std::string logNote;
};

/// The connection's settings, as SQLite reports them (diagnostics, tests).
struct StoreSettings {
  std::string journalMode;  ///< "wal"
  int synchronous = 0;      ///< 0 off, 1 normal, 2 full, 3 extra
  int64_t busyTimeoutMs = 0;
  bool foreignKeys = false;
};

/// The journal of runs: every method is one transaction, committed before
/// it returns; a method that fails returns false (or nullopt) and
/// lastError() says why. Every call clears lastError() first, so a method
/// returning a list returns an empty one on failure with lastError() set.
/// Several objects, in one process or many, may share a journal; one object
/// belongs to one thread.
///
/// Two journals keep the same records with the same promises: an SQLite
/// file (SqliteStateStore, the default, one machine) and a PostgreSQL
/// database (PostgresStateStore, `--state postgresql://...`, shared by a
/// team's machines).
class StateStore {
 public:
  /// How long a write waits for another process's transaction by default.
  static constexpr std::chrono::milliseconds kDefaultBusyTimeout{5000};

  /// Opens the journal at `location`: a PostgreSQL URL (postgresql:// or
  /// postgres://) or the path of an SQLite file. nullptr with `error` set
  /// when it cannot.
  static std::unique_ptr<StateStore> open(const std::string& location, bool durable,
                                          std::string& error);
  /// Whether `location` names a PostgreSQL journal.
  static bool isPostgresUrl(const std::string& location);

  virtual ~StateStore() = default;
  StateStore(const StateStore&) = delete;
  StateStore& operator=(const StateStore&) = delete;

  const std::string& lastError() const { return error_; }

  /// Whether the journal opened is still the one at its location: false
  /// (with lastError() set) once its file was removed or replaced (`rm -rf
  /// .mig`), when what is written goes to a file nobody will read.
  virtual bool stillInPlace() = 0;

  /// How long a write waits for another writer before failing as locked.
  virtual void setBusyTimeout(std::chrono::milliseconds timeout) = 0;
  /// The SQLite connection's settings; nullopt for other journals.
  virtual std::optional<StoreSettings> settings() = 0;

  /// A new run in state `running`, with a `pending` row for each step (in
  /// the order given, which steps() keeps). Of `run`, the id, state,
  /// finishedAt and switchover fields are not used.
  virtual std::optional<int64_t> createRun(const RunRecord& run,
                                           const std::vector<std::string>& steps) = 0;
  /// nullopt with lastError() set when there is no such run.
  virtual std::optional<RunRecord> run(int64_t runId) = 0;
  /// The plan's latest run (highest id); nullopt with an empty lastError()
  /// when the plan has none.
  virtual std::optional<RunRecord> lastRun(const std::string& plan) = 0;
  /// Plans with at least one run, sorted by name.
  virtual std::vector<std::string> plans() = 0;
  /// Every run of the plan, oldest first.
  virtual std::vector<RunRecord> runs(const std::string& plan) = 0;

  virtual bool setRunState(int64_t runId, RunState state, const std::string& message,
                           int64_t finishedAt) = 0;
  /// Records who runs it now (a resume by another process).
  virtual bool setRunner(int64_t runId, const std::string& host, int64_t pid) = 0;
  virtual bool setSwitchover(int64_t runId, int64_t at, std::optional<int64_t> retainUntil) = 0;

  /// In the order the step names were given to createRun().
  virtual std::vector<StepRecord> steps(int64_t runId) = 0;
  /// Ordered by start.
  virtual std::vector<AttemptRecord> attempts(int64_t runId, const std::string& step) = 0;

  /// Journals the start of a process: an attempt row, and the step moved to
  /// `stepState` (`running` for run and check, `undoing` for undo), with
  /// its attempt count set for `run` (and its start time on the first one).
  virtual bool processStarted(int64_t runId, const std::string& step, ProcessKind kind, int attempt,
                              int64_t at, const std::string& logPath, StepState stepState) = 0;
  /// Journals the end of a process (the latest attempt row of that kind and
  /// number, which processStarted() must have written) and the step's new
  /// state, message, exit code and finish time (not for an undo). Reaching
  /// `done` gives the step the next completion order. `logNote`: what the
  /// process's log is missing, if anything.
  virtual bool processFinished(int64_t runId, const std::string& step, ProcessKind kind,
                               int attempt, int64_t at, ProcessOutcome outcome,
                               std::optional<int> exitCode, StepState stepState,
                               const std::string& message, const std::string& logNote = "") = 0;
  /// Sets a step's state and message without a process (resume decisions,
  /// skips). A step that becomes `done` takes the next completion order.
  virtual bool setStepState(int64_t runId, const std::string& step, StepState state,
                            const std::string& message) = 0;

  /// The output of a process as the journal keeps it, for journals that
  /// keep logs themselves (PostgreSQL: read from its log file when it ends);
  /// nullopt when the journal keeps only the log's path.
  virtual std::optional<std::string> storedLog(int64_t runId, const std::string& step,
                                               ProcessKind kind, int attempt);

  /// Groups the writes that follow into one transaction, committed by
  /// commitBatch(): a run commits the end of one step and the starts of the
  /// steps it lets begin at once. Until then nothing of the batch is
  /// durable, so the caller starts no process before commitBatch() returns.
  virtual bool beginBatch() = 0;
  virtual bool commitBatch() = 0;
  /// Drops the batch's writes (after a write in it failed half-way).
  virtual void abortBatch() = 0;
  bool inBatch() const { return batch_; }

 protected:
  StateStore() = default;

  bool batch_ = false;  ///< a batch was begun
  std::string error_;
};

/// The journal as an SQLite database (WAL; synchronous=NORMAL, or FULL when
/// durable) shared by every plan of a folder, rows keyed by plan name,
/// with a seal beside it (journal_seal.h) that lets open() tell a journal
/// that lost commits from one where less happened.
class SqliteStateStore final : public StateStore {
 public:
  /// Opens or creates the database at `path` (creating its folder),
  /// upgrading a journal of an older layout. Returns nullptr with `error`
  /// set when it cannot, when the file is not a mig state database, or when
  /// it is damaged: emptied, or short of commits its seal records.
  static std::unique_ptr<SqliteStateStore> open(const std::string& path, bool durable,
                                                std::string& error);
  ~SqliteStateStore() override;

  bool stillInPlace() override;
  void setBusyTimeout(std::chrono::milliseconds timeout) override;
  std::optional<StoreSettings> settings() override;
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
  bool beginBatch() override;
  bool commitBatch() override;
  void abortBatch() override;

 private:
  SqliteStateStore() = default;
  /// Opens the connection, sets the pragmas and checks or creates the schema.
  bool connect(bool durable);
  bool checkOrCreateSchema();
  bool upgradeFromVersion1();
  /// Sets lastError() for a journal found empty whose seal records commits.
  bool failEmptyButSealed(const std::string& sealPath, int64_t commits);
  /// Sets lastError() for a failed read of the schema (damage included).
  bool failToReadSchema();
  /// Runs SQL without values or results; SQLite keeps the error on failure.
  bool exec(const char* sql);
  /// Sets lastError() to "cannot <what> in '<path>': <SQLite's reason>".
  bool fail(const std::string& what);
  /// Sets lastError() to "cannot <what> in '<path>': <why>".
  bool failBecause(const std::string& what, const std::string& why);
  /// SQLite's last error on the connection, in words.
  std::string sqliteReason() const;

  /// The completion order the next `done` step gets (one writer per run:
  /// the plan's lock).
  std::optional<int64_t> nextCompletionOrder(int64_t runId);
  static std::string attemptKey(int64_t runId, const std::string& step, ProcessKind kind,
                                int attempt);

  sqlite3* db_ = nullptr;
  std::unique_ptr<JournalSeal> seal_;  ///< set once the schema is checked
  uint64_t device_ = 0;                ///< of the file opened, for stillInPlace()
  uint64_t inode_ = 0;
  bool batchOpen_ = false;  ///< and its transaction, by a first write
  std::map<int64_t, int64_t> nextOrder_;            ///< run -> last completion order given
  std::map<std::string, int64_t> openAttempts_;     ///< attempts started here -> row id
  std::string path_;
  std::chrono::milliseconds busyTimeout_ = kDefaultBusyTimeout;
};

}  // namespace mig::runtime
