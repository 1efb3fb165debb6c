#include "runtime/state_store.h"

#include <fmt/format.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <charconv>
#include <cstring>
#include <filesystem>
#include <map>
#include <string_view>
#include <system_error>

#include "runtime/journal_seal.h"
#include "runtime/pg_state_store.h"

namespace mig::runtime {
namespace {

/// The journal's layout version, kept in mig_meta. Bump it (and teach
/// checkOrCreateSchema() to upgrade) when the tables change.
///   1: the first layout.
///   2: states checked against their name tables, a run number per plan,
///      a note on incomplete logs, and a count of commits for the seal.
constexpr int64_t kSchemaVersion = 2;

/// A checkpoint (its two fsyncs) once the WAL holds this many pages, rather than SQLite's 1,000:
/// a run commits about four pages per step, and every checkpoint stalls the commit that triggers
/// it, so the next steps start late. 10,000 pages keep the WAL near 40 MB.
constexpr const char* kAutoCheckpoint = "PRAGMA wal_autocheckpoint=10000";

/// How long to wait between tries to switch a busy new file to WAL.
constexpr int kJournalModeRetryMs = 5;

/// The tables of the current version, with `{runs}`, `{steps}` and
/// `{attempts}` as their names (an upgrade builds new tables beside the old
/// ones) and the CHECK lists from states.h.
std::string tablesSql(std::string_view runs, std::string_view steps, std::string_view attempts) {
  return fmt::format(R"sql(
CREATE TABLE {runs} (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  plan TEXT NOT NULL,
  number INTEGER NOT NULL,
  plan_hash TEXT NOT NULL,
  plan_file TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ({runStates})),
  message TEXT NOT NULL,
  started_at INTEGER NOT NULL,
  finished_at INTEGER NOT NULL DEFAULT 0,
  switchover_at INTEGER,
  retain_until INTEGER,
  host TEXT NOT NULL,
  pid INTEGER NOT NULL,
  UNIQUE (plan, number)
);

CREATE TABLE {steps} (
  run_id INTEGER NOT NULL REFERENCES {runs} (id) ON DELETE CASCADE,
  position INTEGER NOT NULL,
  name TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ({stepStates})),
  attempts INTEGER NOT NULL DEFAULT 0,
  started_at INTEGER NOT NULL DEFAULT 0,
  finished_at INTEGER NOT NULL DEFAULT 0,
  exit_code INTEGER,
  message TEXT NOT NULL DEFAULT '',
  completion_order INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (run_id, name)
) WITHOUT ROWID;

CREATE TABLE {attempts} (
  id INTEGER PRIMARY KEY,
  run_id INTEGER NOT NULL,
  step TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ({kinds})),
  attempt INTEGER NOT NULL,
  started_at INTEGER NOT NULL,
  finished_at INTEGER NOT NULL DEFAULT 0,
  exit_code INTEGER,
  outcome TEXT NOT NULL DEFAULT '' CHECK (outcome IN ({outcomes})),
  log_path TEXT NOT NULL,
  log_note TEXT NOT NULL DEFAULT '',
  FOREIGN KEY (run_id, step) REFERENCES {steps} (run_id, name) ON DELETE CASCADE
);
)sql",
                     fmt::arg("runs", runs), fmt::arg("steps", steps),
                     fmt::arg("attempts", attempts), fmt::arg("runStates", sqlNameList<RunState>()),
                     fmt::arg("stepStates", sqlNameList<StepState>()),
                     fmt::arg("kinds", sqlNameList<ProcessKind>()),
                     fmt::arg("outcomes", sqlNameList<ProcessOutcome>()));
}

/// A new journal: every table, and the version.
std::string schemaSql() {
  return tablesSql("runs", "steps", "attempts") + R"sql(
CREATE INDEX runs_by_plan ON runs (plan, id);

CREATE TABLE mig_meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;

-- The compiled plans runs execute, once per plan hash: kept apart so that
-- updating a run's row does not rewrite its (possibly large) plan.
CREATE TABLE compiled_plans (
  plan_hash TEXT PRIMARY KEY,
  compiled TEXT NOT NULL
);
)sql";
}

/// Version 1 to 2: the tables are rebuilt (SQLite cannot add a CHECK to a
/// column), runs numbered per plan in the order they started.
std::string upgradeFromVersion1Sql() {
  return tablesSql("runs_v2", "steps_v2", "attempts_v2") + R"sql(
INSERT INTO runs_v2 (id, plan, number, plan_hash, plan_file, state, message, started_at,
                     finished_at, switchover_at, retain_until, host, pid)
  SELECT id, plan, row_number() OVER (PARTITION BY plan ORDER BY id), plan_hash, plan_file,
         state, message, started_at, finished_at, switchover_at, retain_until, host, pid
  FROM runs;
INSERT INTO steps_v2 SELECT * FROM steps;
INSERT INTO attempts_v2 (id, run_id, step, kind, attempt, started_at, finished_at, exit_code,
                         outcome, log_path)
  SELECT id, run_id, step, kind, attempt, started_at, finished_at, exit_code, outcome, log_path
  FROM attempts;
DROP TABLE attempts;
DROP TABLE steps;
DROP TABLE runs;
ALTER TABLE runs_v2 RENAME TO runs;
ALTER TABLE steps_v2 RENAME TO steps;
ALTER TABLE attempts_v2 RENAME TO attempts;
CREATE INDEX runs_by_plan ON runs (plan, id);
)sql";
}

/// Prepared statements, kept per connection and reused: preparing one
/// costs more than running it, and a run journals thousands of steps.
class StatementCache {
 public:
  static sqlite3_stmt* take(sqlite3* db, std::string_view sql, int& rc) {
    auto& cache = entries()[db];
    auto it = cache.find(std::string(sql));
    if (it != cache.end() && !it->second.empty()) {
      sqlite3_stmt* stmt = it->second.back();
      it->second.pop_back();
      rc = SQLITE_OK;
      return stmt;
    }
    sqlite3_stmt* stmt = nullptr;
    rc = sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                            &stmt, nullptr);
    return stmt;
  }

  static void giveBack(sqlite3* db, std::string_view sql, sqlite3_stmt* stmt) {
    if (stmt == nullptr) return;
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
    entries()[db][std::string(sql)].push_back(stmt);
  }

  /// Finalizes the connection's statements: before it is closed.
  static void release(sqlite3* db) {
    auto it = entries().find(db);
    if (it == entries().end()) return;
    for (auto& [sql, statements] : it->second) {
      for (sqlite3_stmt* stmt : statements) sqlite3_finalize(stmt);
    }
    entries().erase(it);
  }

 private:
  static std::map<sqlite3*, std::map<std::string, std::vector<sqlite3_stmt*>>>& entries() {
    static std::map<sqlite3*, std::map<std::string, std::vector<sqlite3_stmt*>>> all;
    return all;
  }
};

/// A prepared statement. Bind failures are kept and reported by the first
/// step, so a chain of bind() calls needs one check.
class Statement {
 public:
  Statement(sqlite3* db, std::string_view sql) : db_(db), sql_(sql) {
    stmt_ = StatementCache::take(db, sql, rc_);
  }
  ~Statement() { StatementCache::giveBack(db_, sql_, stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& bind(int index, int64_t value) {
    if (ok()) rc_ = sqlite3_bind_int64(stmt_, index, value);
    return *this;
  }
  Statement& bind(int index, std::optional<int64_t> value) {
    if (!value) {
      if (ok()) rc_ = sqlite3_bind_null(stmt_, index);
      return *this;
    }
    return bind(index, *value);
  }
  Statement& bind(int index, const std::string& value) {
    if (ok()) {
      rc_ = sqlite3_bind_text64(stmt_, index, value.data(), value.size(), SQLITE_TRANSIENT,
                                SQLITE_UTF8);
    }
    return *this;
  }

  /// Steps once: true when a row is ready; false when done or failed (ok()
  /// tells which).
  bool next() {
    if (!ok()) return false;
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc != SQLITE_DONE) rc_ = rc;
    return false;
  }
  /// Runs a statement that returns no rows.
  bool run() {
    while (next()) {
    }
    return ok();
  }
  bool ok() const { return rc_ == SQLITE_OK; }

  int64_t integer(int column) const { return sqlite3_column_int64(stmt_, column); }
  std::optional<int64_t> optionalInteger(int column) const {
    if (sqlite3_column_type(stmt_, column) == SQLITE_NULL) return std::nullopt;
    return integer(column);
  }
  std::optional<int> optionalInt(int column) const {
    const std::optional<int64_t> value = optionalInteger(column);
    if (!value) return std::nullopt;
    return static_cast<int>(*value);
  }
  std::string text(int column) const {
    const auto* data = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
    if (data == nullptr) return {};
    return std::string(data, static_cast<size_t>(sqlite3_column_bytes(stmt_, column)));
  }

 private:
  sqlite3* db_;
  std::string sql_;
  sqlite3_stmt* stmt_ = nullptr;
  int rc_ = SQLITE_OK;
};

/// Counts a commit in the transaction about to commit; returns the new
/// count (nullopt on failure, SQLite keeping the error).
std::optional<int64_t> countCommit(sqlite3* db) {
  Statement count(db,
                  "UPDATE mig_meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'commits' "
                  "RETURNING CAST(value AS INTEGER)");
  std::optional<int64_t> commits;
  if (count.next()) commits = count.integer(0);
  if (!count.run()) return std::nullopt;
  return commits;
}

/// Commits the open transaction, counted, and then records the count in
/// the seal (when there is one: not while the schema is being checked).
bool commitCounted(sqlite3* db, JournalSeal* seal) {
  std::optional<int64_t> commits = countCommit(db);
  if (!commits) return false;
  Statement commit(db, "COMMIT");
  if (!commit.run()) return false;
  std::string ignored;  // a seal left behind only weakens the next open's check
  if (seal) seal->write(*commits, ignored);
  return true;
}

/// BEGIN IMMEDIATE on construction (waiting for other writers up to the
/// busy timeout); ROLLBACK on destruction unless commit() succeeded.
class WriteTransaction {
 public:
  /// Inside a batch, the batch's transaction is used: begun by its first
  /// write (`batchOpen` says whether it has been), ended by commitBatch().
  WriteTransaction(sqlite3* db, JournalSeal* seal, bool inBatch = false, bool* batchOpen = nullptr)
      : db_(db), seal_(seal), inBatch_(inBatch) {
    if (inBatch_ && *batchOpen) {
      begun_ = true;
      return;
    }
    Statement begin(db_, "BEGIN IMMEDIATE");
    begun_ = begin.run();
    if (inBatch_ && begun_) *batchOpen = true;
  }
  ~WriteTransaction() {
    if (!inBatch_ && !sqlite3_get_autocommit(db_)) {
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    }
  }
  WriteTransaction(const WriteTransaction&) = delete;
  WriteTransaction& operator=(const WriteTransaction&) = delete;

  bool begun() const { return begun_; }
  bool commit() {
    if (inBatch_) return true;
    return commitCounted(db_, seal_);
  }
  /// For a transaction that only read, or whose count is the caller's.
  bool commitUncounted() {
    Statement commit(db_, "COMMIT");
    return commit.run();
  }

 private:
  sqlite3* db_;
  JournalSeal* seal_;
  bool inBatch_;
  bool begun_ = false;
};

constexpr const char* kRunColumns =
    "r.id, r.number, r.plan, r.plan_hash, r.plan_file, coalesce(c.compiled, ''), r.state, "
    "r.message, "
    "r.started_at, r.finished_at, r.switchover_at, r.retain_until, r.host, r.pid";
constexpr const char* kRunTables =
    "runs r LEFT JOIN compiled_plans c ON c.plan_hash = r.plan_hash";

/// A state as the journal stores it; the CHECK constraints keep other
/// names out, so the fallback is never used.
template <typename Enum>
Enum stored(const std::string& name) {
  return stateNamed<Enum>(name).value_or(Enum{});
}

RunRecord readRun(const Statement& row) {
  RunRecord run;
  run.id = row.integer(0);
  run.number = row.integer(1);
  run.plan = row.text(2);
  run.planHash = row.text(3);
  run.planFile = row.text(4);
  run.compiled = row.text(5);
  run.state = stored<RunState>(row.text(6));
  run.message = row.text(7);
  run.startedAt = row.integer(8);
  run.finishedAt = row.integer(9);
  run.switchoverAt = row.optionalInteger(10);
  run.retainUntil = row.optionalInteger(11);
  run.host = row.text(12);
  run.pid = row.integer(13);
  return run;
}

std::string stepLabel(int64_t runId, const std::string& step) {
  return fmt::format("step '{}' of run {}", step, runId);
}

}  // namespace

bool StateStore::isPostgresUrl(const std::string& location) {
  return location.starts_with("postgresql://") || location.starts_with("postgres://");
}

std::unique_ptr<StateStore> StateStore::open(const std::string& location, bool durable,
                                             std::string& error) {
  if (isPostgresUrl(location)) return PostgresStateStore::open(location, error);
  return SqliteStateStore::open(location, durable, error);
}

std::optional<std::string> StateStore::storedLog(int64_t, const std::string&, ProcessKind, int) {
  return std::nullopt;
}

std::unique_ptr<SqliteStateStore> SqliteStateStore::open(const std::string& path, bool durable,
                                                         std::string& error) {
  std::unique_ptr<SqliteStateStore> store(new SqliteStateStore());
  store->path_ = path;
  if (!store->connect(durable)) {
    error = store->error_;
    return nullptr;
  }
  return store;
}

SqliteStateStore::~SqliteStateStore() {
  StatementCache::release(db_);
  sqlite3_close_v2(db_);
}

bool SqliteStateStore::failEmptyButSealed(const std::string& sealPath, int64_t commits) {
  error_ = fmt::format(
      "'{}' is damaged: it is empty, but its seal '{}' records {} committed transactions: the "
      "journal lost everything it had (emptied, or replaced by a new file). Nothing was read "
      "as current. Restore the journal from a backup; to start afresh on purpose, remove both "
      "files",
      path_, sealPath, commits);
  return false;
}

bool SqliteStateStore::connect(bool durable) {
  // SQLite would take an emptied file for a new database and write to it:
  // look at the seal before SQLite touches the file.
  std::error_code sizeError;
  if (std::filesystem::file_size(path_, sizeError) == 0 && !sizeError) {
    JournalSeal seal(path_ + "-seal");
    std::string ignored;  // an unreadable seal is reported once the schema is checked
    std::optional<JournalSeal::Contents> sealed = seal.read(ignored);
    if (sealed && sealed->commits > 0) return failEmptyButSealed(seal.path(), sealed->commits);
  }

  const std::filesystem::path folder = std::filesystem::path(path_).parent_path();
  if (!folder.empty()) {
    std::error_code code;
    std::filesystem::create_directories(folder, code);
    if (code) {
      error_ = fmt::format("cannot create the folder '{}' for the state database: {}",
                           folder.string(), code.message());
      return false;
    }
  }

  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
  if (sqlite3_open_v2(path_.c_str(), &db_, flags, nullptr) != SQLITE_OK) {
    error_ = fmt::format("cannot open '{}': {}", path_,
                         db_ ? sqliteReason() : std::string("out of memory"));
    return false;
  }
  sqlite3_extended_result_codes(db_, 1);
  // SQLite quietly opens a file it may not write read-only; the journal
  // must be written, so say so now rather than at the first step.
  if (sqlite3_db_readonly(db_, "main") == 1) {
    error_ = fmt::format("cannot open '{}': the file is read-only for this user", path_);
    return false;
  }
  sqlite3_busy_timeout(db_, static_cast<int>(busyTimeout_.count()));

  // The first statement that reads the file: where a foreign file shows.
  // Switching a new file to WAL fails at once, without the busy handler,
  // while another process does the same: retry until the busy timeout.
  std::string mode;
  const auto deadline = std::chrono::steady_clock::now() + busyTimeout_;
  for (;;) {
    Statement journalMode(db_, "PRAGMA journal_mode=WAL");
    if (journalMode.next()) mode = journalMode.text(0);
    if (journalMode.ok()) break;
    if ((sqlite3_errcode(db_) & 0xff) == SQLITE_BUSY &&
        std::chrono::steady_clock::now() < deadline) {
      sqlite3_sleep(kJournalModeRetryMs);
      continue;
    }
    const int code = sqlite3_errcode(db_) & 0xff;
    if (code == SQLITE_NOTADB) {
      error_ = fmt::format("'{}' is not a mig state database: {}", path_, sqliteReason());
    } else if (code == SQLITE_CORRUPT) {
      error_ = fmt::format("'{}' is damaged: {}", path_, sqliteReason());
    } else {
      error_ = fmt::format("cannot open '{}': {}", path_, sqliteReason());
    }
    return false;
  }
  if (mode != "wal") {
    error_ = fmt::format(
        "cannot open '{}': SQLite cannot use write-ahead logging there "
        "(the journal mode stays '{}')",
        path_, mode);
    return false;
  }

  const char* synchronous = durable ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL";
  if (!exec(synchronous) || !exec("PRAGMA foreign_keys=ON") || !exec(kAutoCheckpoint)) {
    error_ = fmt::format("cannot open '{}': {}", path_, sqliteReason());
    return false;
  }
  return checkOrCreateSchema();
}

bool SqliteStateStore::checkOrCreateSchema() {
  // Under the write lock: no other writer is between a commit and its seal.
  WriteTransaction transaction(db_, nullptr);
  if (!transaction.begun()) return fail("check the schema");

  auto seal = std::make_unique<JournalSeal>(path_ + "-seal");
  std::string sealError;
  const std::optional<JournalSeal::Contents> sealed = seal->read(sealError);
  if (!sealError.empty()) {
    error_ = fmt::format(
        "cannot check '{}' against its seal: {}; if the journal is right, remove "
        "the seal and mig writes a new one",
        path_, sealError);
    return false;
  }

  // Statements are scoped: COMMIT fails while one is still stepping.
  int64_t objectCount = 0;
  bool hasMeta = false;
  {
    Statement objects(db_,
                      "SELECT count(*), coalesce(sum(type = 'table' AND name = 'mig_meta'), 0) "
                      "FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'");
    if (!objects.next()) return failToReadSchema();
    objectCount = objects.integer(0);
    hasMeta = objects.integer(1) > 0;
  }

  if (objectCount == 0) {
    if (sealed && sealed->commits > 0) return failEmptyButSealed(seal->path(), sealed->commits);
    if (!exec(schemaSql().c_str())) return fail("create the schema");
    Statement meta(db_,
                   "INSERT INTO mig_meta (key, value) VALUES ('schema_version', ?1), "
                   "('journal_id', lower(hex(randomblob(16)))), ('commits', '0')");
    meta.bind(1, std::to_string(kSchemaVersion));
    if (!meta.run()) return fail("create the schema");
  } else {
    if (!hasMeta) {
      error_ = fmt::format(
          "'{}' is not a mig state database: it holds tables of another program and no "
          "mig schema version",
          path_);
      return false;
    }
    std::optional<std::string> versionText;
    {
      Statement version(db_, "SELECT value FROM mig_meta WHERE key = 'schema_version'");
      if (version.next()) versionText = version.text(0);
      if (!version.ok()) return failToReadSchema();
    }
    if (!versionText) {
      error_ = fmt::format("'{}' is not a mig state database: it has no mig schema version", path_);
      return false;
    }
    const std::string& text = *versionText;
    int64_t number = 0;
    const auto [end, parseError] = std::from_chars(text.data(), text.data() + text.size(), number);
    if (parseError != std::errc() || end != text.data() + text.size() || number < 1) {
      error_ = fmt::format(
          "'{}' is not a mig state database: its schema version '{}' is not one "
          "mig wrote",
          path_, text);
      return false;
    }
    if (number > kSchemaVersion) {
      error_ = fmt::format(
          "'{}' was written by a newer mig: its schema version is {}, this mig reads up to {}",
          path_, number, kSchemaVersion);
      return false;
    }
    if (number == 1 && !upgradeFromVersion1()) return false;
  }

  std::string journalId;
  int64_t commits = 0;
  {
    Statement meta(db_,
                   "SELECT (SELECT value FROM mig_meta WHERE key = 'journal_id'), "
                   "(SELECT CAST(value AS INTEGER) FROM mig_meta WHERE key = 'commits')");
    if (!meta.next()) return failToReadSchema();
    journalId = meta.text(0);
    commits = meta.integer(1);
  }
  if (sealed && sealed->journalId != journalId) {
    error_ = fmt::format(
        "'{}' is damaged: its seal '{}' belongs to another journal (the file was replaced). "
        "Nothing was read as current. Put the right journal back; if this one is what you "
        "want, remove the seal and mig writes a new one",
        path_, seal->path());
    return false;
  }
  if (sealed && sealed->commits > commits) {
    error_ = fmt::format(
        "'{}' is damaged: it holds {} committed transactions, its seal '{}' records {}: the "
        "last {} were lost (a damaged write-ahead log '{}-wal', or a journal restored from an "
        "older copy). Nothing was read as current; `mig status` would show an older state. "
        "Restore the journal from a backup; if this older journal is what you want, remove "
        "the seal and mig writes a new one",
        path_, commits, seal->path(), sealed->commits, sealed->commits - commits, path_);
    return false;
  }
  // Not counted: opening the journal (`mig status`) changes nothing in it.
  if (!transaction.commitUncounted()) return fail("check the schema");
  seal->setJournalId(journalId);
  std::string ignored;  // a missing seal only weakens the next open's check
  seal->write(commits, ignored);
  seal_ = std::move(seal);
  struct stat info {};
  if (::stat(path_.c_str(), &info) == 0) {
    device_ = info.st_dev;
    inode_ = info.st_ino;
  }
  return true;
}

bool SqliteStateStore::upgradeFromVersion1() {
  if (!exec(upgradeFromVersion1Sql().c_str())) return fail("upgrade the journal from version 1");
  Statement meta(db_,
                 "INSERT INTO mig_meta (key, value) VALUES ('journal_id', "
                 "lower(hex(randomblob(16)))), ('commits', '0') ON CONFLICT (key) DO NOTHING");
  Statement version(db_, "UPDATE mig_meta SET value = ?1 WHERE key = 'schema_version'");
  version.bind(1, std::to_string(kSchemaVersion));
  if (!meta.run() || !version.run()) return fail("upgrade the journal from version 1");
  return true;
}

bool SqliteStateStore::failToReadSchema() {
  const int code = sqlite3_errcode(db_) & 0xff;
  if (code == SQLITE_CORRUPT || code == SQLITE_NOTADB) {
    error_ = fmt::format("'{}' is damaged: {}", path_, sqliteReason());
    return false;
  }
  return fail("read the schema");
}

bool SqliteStateStore::stillInPlace() {
  struct stat info {};
  if (::stat(path_.c_str(), &info) == 0 && info.st_dev == device_ && info.st_ino == inode_) {
    return true;
  }
  error_ = fmt::format(
      "'{}' was removed or replaced while in use: what is written now would be "
      "lost",
      path_);
  return false;
}

void SqliteStateStore::setBusyTimeout(std::chrono::milliseconds timeout) {
  busyTimeout_ = timeout;
  sqlite3_busy_timeout(db_, static_cast<int>(timeout.count()));
}

std::optional<StoreSettings> SqliteStateStore::settings() {
  error_.clear();
  StoreSettings settings;
  Statement journalMode(db_, "PRAGMA journal_mode");
  Statement synchronous(db_, "PRAGMA synchronous");
  Statement busyTimeout(db_, "PRAGMA busy_timeout");
  Statement foreignKeys(db_, "PRAGMA foreign_keys");
  if (!journalMode.next() || !synchronous.next() || !busyTimeout.next() || !foreignKeys.next()) {
    fail("read the connection settings");
    return std::nullopt;
  }
  settings.journalMode = journalMode.text(0);
  settings.synchronous = static_cast<int>(synchronous.integer(0));
  settings.busyTimeoutMs = busyTimeout.integer(0);
  settings.foreignKeys = foreignKeys.integer(0) != 0;
  return settings;
}

std::optional<int64_t> SqliteStateStore::createRun(const RunRecord& run,
                                                   const std::vector<std::string>& steps) {
  error_.clear();
  const std::string action = fmt::format("create a run of plan '{}'", run.plan);
  WriteTransaction transaction(db_, seal_.get(), batch_, &batchOpen_);
  if (!transaction.begun()) {
    fail(action);
    return std::nullopt;
  }
  Statement insertPlan(db_,
                       "INSERT OR IGNORE INTO compiled_plans (plan_hash, compiled) VALUES (?1, ?2)");
  insertPlan.bind(1, run.planHash).bind(2, run.compiled);
  if (!insertPlan.run()) {
    fail(action);
    return std::nullopt;
  }
  Statement insertRun(db_,
                      "INSERT INTO runs (plan, number, plan_hash, plan_file, state, message, "
                      "started_at, host, pid) VALUES (?1, (SELECT coalesce(max(number), 0) + 1 "
                      "FROM runs WHERE plan = ?1), ?2, ?3, 'running', ?4, ?5, ?6, ?7)");
  insertRun.bind(1, run.plan)
      .bind(2, run.planHash)
      .bind(3, run.planFile)
      .bind(4, run.message)
      .bind(5, run.startedAt)
      .bind(6, run.host)
      .bind(7, run.pid);
  if (!insertRun.run()) {
    fail(action);
    return std::nullopt;
  }
  const int64_t runId = sqlite3_last_insert_rowid(db_);

  for (size_t position = 0; position < steps.size(); ++position) {
    Statement insertStep(db_,
                         "INSERT INTO steps (run_id, position, name, state) "
                         "VALUES (?1, ?2, ?3, 'pending')");
    insertStep.bind(1, runId).bind(2, static_cast<int64_t>(position)).bind(3, steps[position]);
    if (!insertStep.run()) {
      fail(fmt::format("{} (step '{}')", action, steps[position]));
      return std::nullopt;
    }
  }
  if (!transaction.commit()) {
    fail(action);
    return std::nullopt;
  }
  return runId;
}

std::optional<RunRecord> SqliteStateStore::run(int64_t runId) {
  error_.clear();
  Statement select(db_, fmt::format("SELECT {} FROM {} WHERE r.id = ?1", kRunColumns, kRunTables));
  select.bind(1, runId);
  if (select.next()) return readRun(select);
  if (!select.ok()) {
    fail(fmt::format("read run {}", runId));
  } else {
    failBecause(fmt::format("read run {}", runId), "there is no such run");
  }
  return std::nullopt;
}

std::optional<RunRecord> SqliteStateStore::lastRun(const std::string& plan) {
  error_.clear();
  Statement select(db_, fmt::format("SELECT {} FROM {} WHERE r.plan = ?1 ORDER BY r.id DESC LIMIT 1",
                                    kRunColumns, kRunTables));
  select.bind(1, plan);
  if (select.next()) return readRun(select);
  if (!select.ok()) fail(fmt::format("read the last run of plan '{}'", plan));
  return std::nullopt;
}

std::vector<std::string> SqliteStateStore::plans() {
  error_.clear();
  std::vector<std::string> names;
  Statement select(db_, "SELECT DISTINCT plan FROM runs ORDER BY plan");
  while (select.next()) names.push_back(select.text(0));
  if (!select.ok()) {
    fail("list the plans");
    return {};
  }
  return names;
}

std::vector<RunRecord> SqliteStateStore::runs(const std::string& plan) {
  error_.clear();
  std::vector<RunRecord> records;
  Statement select(db_, fmt::format("SELECT {} FROM {} WHERE r.plan = ?1 ORDER BY r.id",
                                    kRunColumns, kRunTables));
  select.bind(1, plan);
  while (select.next()) records.push_back(readRun(select));
  if (!select.ok()) {
    fail(fmt::format("read the runs of plan '{}'", plan));
    return {};
  }
  return records;
}

bool SqliteStateStore::setRunState(int64_t runId, RunState state, const std::string& message,
                                   int64_t finishedAt) {
  error_.clear();
  const std::string action = fmt::format("set the state of run {} to '{}'", runId, nameOf(state));
  WriteTransaction transaction(db_, seal_.get(), batch_, &batchOpen_);
  if (!transaction.begun()) return fail(action);
  Statement update(db_, "UPDATE runs SET state = ?1, message = ?2, finished_at = ?3 WHERE id = ?4");
  update.bind(1, std::string(nameOf(state))).bind(2, message).bind(3, finishedAt).bind(4, runId);
  if (!update.run()) return fail(action);
  if (sqlite3_changes(db_) == 0) return failBecause(action, "there is no such run");
  return transaction.commit() || fail(action);
}

bool SqliteStateStore::setRunner(int64_t runId, const std::string& host, int64_t pid) {
  error_.clear();
  const std::string action = fmt::format("record the runner of run {}", runId);
  WriteTransaction transaction(db_, seal_.get(), batch_, &batchOpen_);
  if (!transaction.begun()) return fail(action);
  Statement update(db_, "UPDATE runs SET host = ?1, pid = ?2 WHERE id = ?3");
  update.bind(1, host).bind(2, pid).bind(3, runId);
  if (!update.run()) return fail(action);
  if (sqlite3_changes(db_) == 0) return failBecause(action, "there is no such run");
  return transaction.commit() || fail(action);
}

bool SqliteStateStore::setSwitchover(int64_t runId, int64_t at,
                                     std::optional<int64_t> retainUntil) {
  error_.clear();
  const std::string action = fmt::format("record the switchover of run {}", runId);
  WriteTransaction transaction(db_, seal_.get(), batch_, &batchOpen_);
  if (!transaction.begun()) return fail(action);
  Statement update(db_, "UPDATE runs SET switchover_at = ?1, retain_until = ?2 WHERE id = ?3");
  update.bind(1, at).bind(2, retainUntil).bind(3, runId);
  if (!update.run()) return fail(action);
  if (sqlite3_changes(db_) == 0) return failBecause(action, "there is no such run");
  return transaction.commit() || fail(action);
}

std::vector<StepRecord> SqliteStateStore::steps(int64_t runId) {
  error_.clear();
  std::vector<StepRecord> records;
  Statement select(db_,
                   "SELECT name, state, attempts, started_at, finished_at, exit_code, message, "
                   "completion_order FROM steps WHERE run_id = ?1 ORDER BY position");
  select.bind(1, runId);
  while (select.next()) {
    StepRecord& step = records.emplace_back();
    step.step = select.text(0);
    step.state = stored<StepState>(select.text(1));
    step.attempts = static_cast<int>(select.integer(2));
    step.startedAt = select.integer(3);
    step.finishedAt = select.integer(4);
    step.exitCode = select.optionalInt(5);
    step.message = select.text(6);
    step.order = select.integer(7);
  }
  if (!select.ok()) {
    fail(fmt::format("read the steps of run {}", runId));
    return {};
  }
  return records;
}

std::vector<AttemptRecord> SqliteStateStore::attempts(int64_t runId, const std::string& step) {
  error_.clear();
  std::vector<AttemptRecord> records;
  Statement select(
      db_,
      "SELECT kind, attempt, started_at, finished_at, exit_code, outcome, log_path, "
      "log_note FROM attempts WHERE run_id = ?1 AND step = ?2 ORDER BY started_at, id");
  select.bind(1, runId).bind(2, step);
  while (select.next()) {
    AttemptRecord& attempt = records.emplace_back();
    attempt.step = step;
    attempt.kind = stored<ProcessKind>(select.text(0));
    attempt.attempt = static_cast<int>(select.integer(1));
    attempt.startedAt = select.integer(2);
    attempt.finishedAt = select.integer(3);
    attempt.exitCode = select.optionalInt(4);
    attempt.outcome = stored<ProcessOutcome>(select.text(5));
    attempt.logPath = select.text(6);
    attempt.logNote = select.text(7);
  }
  if (!select.ok()) {
    fail(fmt::format("read the attempts of {}", stepLabel(runId, step)));
    return {};
  }
  return records;
}

bool SqliteStateStore::processStarted(int64_t runId, const std::string& step, ProcessKind kind,
                                      int attempt, int64_t at, const std::string& logPath,
                                      StepState stepState) {
  error_.clear();
  const std::string action =
      fmt::format("record the start of {} {} of {}", nameOf(kind), attempt, stepLabel(runId, step));
  WriteTransaction transaction(db_, seal_.get(), batch_, &batchOpen_);
  if (!transaction.begun()) return fail(action);

  // Only an attempt of `do` counts, and the first one dates the step.
  const bool isRun = kind == ProcessKind::Run;
  Statement updateStep(db_,
                       "UPDATE steps SET state = ?1, "
                       "attempts = CASE WHEN ?2 THEN ?3 ELSE attempts END, "
                       "started_at = CASE WHEN ?2 AND (?3 <= 1 OR started_at = 0) "
                       "THEN ?4 ELSE started_at END "
                       "WHERE run_id = ?5 AND name = ?6");
  updateStep.bind(1, std::string(nameOf(stepState)))
      .bind(2, int64_t{isRun})
      .bind(3, int64_t{attempt})
      .bind(4, at)
      .bind(5, runId)
      .bind(6, step);
  if (!updateStep.run()) return fail(action);
  if (sqlite3_changes(db_) == 0) return failBecause(action, "the run has no such step");

  Statement insertAttempt(db_,
                          "INSERT INTO attempts (run_id, step, kind, attempt, started_at, "
                          "log_path) VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
  insertAttempt.bind(1, runId)
      .bind(2, step)
      .bind(3, std::string(nameOf(kind)))
      .bind(4, int64_t{attempt})
      .bind(5, at)
      .bind(6, logPath);
  if (!insertAttempt.run()) return fail(action);
  openAttempts_[attemptKey(runId, step, kind, attempt)] = sqlite3_last_insert_rowid(db_);
  return transaction.commit() || fail(action);
}

bool SqliteStateStore::processFinished(int64_t runId, const std::string& step, ProcessKind kind,
                                       int attempt, int64_t at, ProcessOutcome outcome,
                                       std::optional<int> exitCode, StepState stepState,
                                       const std::string& message, const std::string& logNote) {
  error_.clear();
  const std::string action =
      fmt::format("record the end of {} {} of {}", nameOf(kind), attempt, stepLabel(runId, step));
  std::optional<int64_t> exitCodeValue;
  if (exitCode) exitCodeValue = *exitCode;
  WriteTransaction transaction(db_, seal_.get(), batch_, &batchOpen_);
  if (!transaction.begun()) return fail(action);

  // The attempt this process journaled at its start (found by its row id
  // when this store started it, else looked up: a resumed run).
  std::optional<int64_t> attemptId;
  if (auto open = openAttempts_.find(attemptKey(runId, step, kind, attempt));
      open != openAttempts_.end()) {
    attemptId = open->second;
    openAttempts_.erase(open);
  } else {
    Statement latest(db_,
                     "SELECT max(id) FROM attempts WHERE run_id = ?1 AND step = ?2 AND kind = ?3 "
                     "AND attempt = ?4");
    latest.bind(1, runId)
        .bind(2, step)
        .bind(3, std::string(nameOf(kind)))
        .bind(4, int64_t{attempt});
    if (latest.next()) attemptId = latest.optionalInteger(0);
    if (!latest.ok()) return fail(action);
  }
  if (!attemptId) return failBecause(action, "that process was never journaled");
  Statement updateAttempt(db_,
                          "UPDATE attempts SET finished_at = ?1, outcome = ?2, exit_code = ?3, "
                          "log_note = ?5 WHERE id = ?4");
  updateAttempt.bind(1, at)
      .bind(2, std::string(nameOf(outcome)))
      .bind(3, exitCodeValue)
      .bind(4, *attemptId)
      .bind(5, logNote);
  if (!updateAttempt.run()) return fail(action);
  if (sqlite3_changes(db_) == 0) return failBecause(action, "that process was never journaled");

  std::optional<int64_t> order;
  if (stepState == StepState::Done) {
    order = nextCompletionOrder(runId);
    if (!order) return fail(action);
  }
  // The step's finish time is its `do`'s (or its check's): an undo later
  // does not stretch the step's duration.
  Statement updateStep(db_,
                       "UPDATE steps SET state = ?1, message = ?2, exit_code = ?3, "
                       "finished_at = CASE WHEN ?8 THEN finished_at ELSE ?4 END, "
                       "completion_order = coalesce(?7, completion_order) "
                       "WHERE run_id = ?5 AND name = ?6");
  updateStep.bind(1, std::string(nameOf(stepState)))
      .bind(2, message)
      .bind(3, exitCodeValue)
      .bind(4, at)
      .bind(5, runId)
      .bind(6, step)
      .bind(7, order)
      .bind(8, int64_t{kind == ProcessKind::Undo});
  if (!updateStep.run()) return fail(action);
  if (sqlite3_changes(db_) == 0) return failBecause(action, "the run has no such step");
  return transaction.commit() || fail(action);
}

bool SqliteStateStore::setStepState(int64_t runId, const std::string& step, StepState state,
                                    const std::string& message) {
  error_.clear();
  const std::string action =
      fmt::format("set the state of {} to '{}'", stepLabel(runId, step), nameOf(state));
  WriteTransaction transaction(db_, seal_.get(), batch_, &batchOpen_);
  if (!transaction.begun()) return fail(action);
  // A step marked done takes its place in the completion order, so that a
  // rollback undoes it in turn.
  std::optional<int64_t> order;
  if (state == StepState::Done) {
    order = nextCompletionOrder(runId);
    if (!order) return fail(action);
  }
  Statement update(db_,
                   "UPDATE steps SET state = ?1, message = ?2,"
                   " completion_order = CASE WHEN ?5 IS NOT NULL AND state <> 'done' THEN ?5"
                   "   ELSE completion_order END"
                   " WHERE run_id = ?3 AND name = ?4");
  update.bind(1, std::string(nameOf(state)))
      .bind(2, message)
      .bind(3, runId)
      .bind(4, step)
      .bind(5, order);
  if (!update.run()) return fail(action);
  if (sqlite3_changes(db_) == 0) return failBecause(action, "the run has no such step");
  return transaction.commit() || fail(action);
}

bool SqliteStateStore::beginBatch() {
  error_.clear();
  batch_ = true;
  return true;
}

bool SqliteStateStore::commitBatch() {
  error_.clear();
  if (!batch_) return true;
  batch_ = false;
  if (!batchOpen_) return true;  // nothing was written
  batchOpen_ = false;
  if (commitCounted(db_, seal_.get())) return true;
  fail("commit the journal");
  sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  return false;
}

std::optional<int64_t> SqliteStateStore::nextCompletionOrder(int64_t runId) {
  auto it = nextOrder_.find(runId);
  if (it == nextOrder_.end()) {
    Statement highest(db_, "SELECT coalesce(max(completion_order), 0) FROM steps WHERE run_id = ?1");
    highest.bind(1, runId);
    if (!highest.next()) return std::nullopt;
    it = nextOrder_.emplace(runId, highest.integer(0)).first;
  }
  return ++it->second;
}

std::string SqliteStateStore::attemptKey(int64_t runId, const std::string& step, ProcessKind kind,
                                         int attempt) {
  return fmt::format("{}\n{}\n{}\n{}", runId, step, nameOf(kind), attempt);
}

void SqliteStateStore::abortBatch() {
  if (!batch_) return;
  batch_ = false;
  if (!batchOpen_) return;
  batchOpen_ = false;
  sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
}

bool SqliteStateStore::exec(const char* sql) {
  return sqlite3_exec(db_, sql, nullptr, nullptr, nullptr) == SQLITE_OK;
}

bool SqliteStateStore::fail(const std::string& what) {
  return failBecause(what, sqliteReason());
}

bool SqliteStateStore::failBecause(const std::string& what, const std::string& why) {
  error_ = fmt::format("cannot {} in '{}': {}", what, path_, why);
  return false;
}

std::string SqliteStateStore::sqliteReason() const {
  std::string reason = sqlite3_errmsg(db_);
  const int code = sqlite3_extended_errcode(db_) & 0xff;
  if (code == SQLITE_BUSY || code == SQLITE_LOCKED) {
    reason +=
        fmt::format(" (another process kept it locked for more than {} ms)", busyTimeout_.count());
  } else if (code == SQLITE_IOERR || code == SQLITE_CANTOPEN) {
    // SQLite keeps the errno of the failed system call for these two only.
    if (const int systemError = sqlite3_system_errno(db_); systemError != 0) {
      reason += fmt::format(" ({})", std::strerror(systemError));
    }
  }
  return reason;
}

}  // namespace mig::runtime
