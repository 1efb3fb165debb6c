#include "runtime/pg_state_store.h"

#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <fstream>

#include "runtime/drivers/pg_client.h"

namespace mig::runtime {
namespace {

using drivers::pg::Connection;
using drivers::pg::Rows;

// Taken while the schema is made, so that two first runners do not race.
constexpr long long kSchemaLockKey = 0x6d69675f736368;  // "mig_sch"

std::string schemaSql() {
  return fmt::format(R"sql(
CREATE SCHEMA IF NOT EXISTS mig;
CREATE TABLE IF NOT EXISTS mig.meta (
  key   text PRIMARY KEY,
  value text NOT NULL
);
INSERT INTO mig.meta (key, value) VALUES ('schema_version', '1') ON CONFLICT (key) DO NOTHING;
CREATE TABLE IF NOT EXISTS mig.compiled_plans (
  plan_hash text PRIMARY KEY,
  compiled  text NOT NULL
);
CREATE TABLE IF NOT EXISTS mig.runs (
  id            bigserial PRIMARY KEY,
  plan          text NOT NULL,
  number        bigint NOT NULL,
  plan_hash     text NOT NULL,
  plan_file     text NOT NULL,
  state         text NOT NULL CHECK (state IN ({runStates})),
  message       text NOT NULL,
  started_at    bigint NOT NULL,
  finished_at   bigint NOT NULL DEFAULT 0,
  switchover_at bigint,
  retain_until  bigint,
  host          text NOT NULL,
  pid           bigint NOT NULL,
  UNIQUE (plan, number)
);
CREATE TABLE IF NOT EXISTS mig.steps (
  run_id           bigint NOT NULL REFERENCES mig.runs (id) ON DELETE CASCADE,
  position         int NOT NULL,
  name             text NOT NULL,
  state            text NOT NULL CHECK (state IN ({stepStates})),
  attempts         int NOT NULL DEFAULT 0,
  started_at       bigint NOT NULL DEFAULT 0,
  finished_at      bigint NOT NULL DEFAULT 0,
  exit_code        int,
  message          text NOT NULL DEFAULT '',
  completion_order bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (run_id, name)
);
CREATE TABLE IF NOT EXISTS mig.attempts (
  id          bigserial PRIMARY KEY,
  run_id      bigint NOT NULL,
  step        text NOT NULL,
  kind        text NOT NULL CHECK (kind IN ({kinds})),
  attempt     int NOT NULL,
  started_at  bigint NOT NULL,
  finished_at bigint NOT NULL DEFAULT 0,
  exit_code   int,
  outcome     text NOT NULL DEFAULT '' CHECK (outcome IN ({outcomes})),
  log_path    text NOT NULL,
  log_note    text NOT NULL DEFAULT '',
  log         bytea,
  FOREIGN KEY (run_id, step) REFERENCES mig.steps (run_id, name) ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS mig.locks (
  plan  text PRIMARY KEY,
  host  text NOT NULL,
  pid   bigint NOT NULL,
  since bigint NOT NULL
);
)sql",
                     fmt::arg("runStates", sqlNameList<RunState>()),
                     fmt::arg("stepStates", sqlNameList<StepState>()),
                     fmt::arg("kinds", sqlNameList<ProcessKind>()),
                     fmt::arg("outcomes", sqlNameList<ProcessOutcome>()));
}

constexpr const char* kRunColumns =
    "r.id, r.number, r.plan, r.plan_hash, r.plan_file, coalesce(c.compiled, ''), r.state, "
    "r.message, r.started_at, r.finished_at, r.switchover_at, r.retain_until, r.host, r.pid";
constexpr const char* kRunTables =
    "mig.runs r LEFT JOIN mig.compiled_plans c ON c.plan_hash = r.plan_hash";

std::string number(int64_t value) {
  return std::to_string(value);
}

std::optional<std::string> optionalNumber(std::optional<int64_t> value) {
  if (!value) return std::nullopt;
  return std::to_string(*value);
}

template <typename Enum>
Enum stored(const std::string& name) {
  return stateNamed<Enum>(name).value_or(Enum{});
}

std::optional<int64_t> optionalInteger(const Rows& rows, int row, int column) {
  if (rows.isNull(row, column)) return std::nullopt;
  return rows.integer(row, column);
}

RunRecord readRun(const Rows& rows, int row) {
  RunRecord run;
  run.id = rows.integer(row, 0);
  run.number = rows.integer(row, 1);
  run.plan = rows.text(row, 2);
  run.planHash = rows.text(row, 3);
  run.planFile = rows.text(row, 4);
  run.compiled = rows.text(row, 5);
  run.state = stored<RunState>(rows.text(row, 6));
  run.message = rows.text(row, 7);
  run.startedAt = rows.integer(row, 8);
  run.finishedAt = rows.integer(row, 9);
  run.switchoverAt = optionalInteger(rows, row, 10);
  run.retainUntil = optionalInteger(rows, row, 11);
  run.host = rows.text(row, 12);
  run.pid = rows.integer(row, 13);
  return run;
}

std::string stepLabel(int64_t runId, const std::string& step) {
  return fmt::format("step '{}' of run {}", step, runId);
}

// Bytes as a bytea literal in hex ("\x4142"), which takes any byte.
std::string byteaHex(const std::string& bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out = "\\x";
  out.reserve(2 + bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}

// encode(bytes, 'hex') back to the bytes.
std::string fromHex(const std::string& text) {
  auto digit = [](char c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; };
  std::string out;
  for (size_t i = 0; i + 1 < text.size(); i += 2) {
    out += static_cast<char>(digit(text[i]) << 4 | digit(text[i + 1]));
  }
  return out;
}

// What the journal keeps of a log file: all of it, or its head and tail
// (only those are read).
std::string logToStore(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return "";
  const size_t size = static_cast<size_t>(in.tellg());
  const size_t limit = PostgresStateStore::kStoredLogLimit;
  auto read = [&](size_t from, size_t length) {
    std::string part(length, '\0');
    in.seekg(static_cast<std::streamoff>(from));
    in.read(part.data(), static_cast<std::streamsize>(length));
    part.resize(static_cast<size_t>(in.gcount()));
    return part;
  };
  if (size <= limit) return read(0, size);
  return fmt::format(
      "{}\n[mig: {} bytes left out of the journal's copy; the whole log is {} on "
      "the machine that ran it]\n{}",
      read(0, limit / 2), size - limit, path, read(size - limit / 2, limit / 2));
}

}  // namespace

std::unique_ptr<PostgresStateStore> PostgresStateStore::open(const std::string& url,
                                                             std::string& error) {
  auto connection = Connection::open(url, "journal");
  if (!connection) {
    error = connection.error();
    return nullptr;
  }
  std::unique_ptr<PostgresStateStore> store(new PostgresStateStore());
  store->db_ = std::move(*connection);
  store->where_ = store->db_->where();
  if (!store->createSchema()) {
    error = store->error_;
    return nullptr;
  }
  store->setBusyTimeout(kDefaultBusyTimeout);
  if (store->db_->serverVersion() >= 140000) {
    (void)store->db_->execute("SET idle_session_timeout = 0");
  }
  return store;
}

PostgresStateStore::~PostgresStateStore() = default;

// The schema is made by the first runner only: the others need no CREATE
// privilege, only to read and write its tables.
bool PostgresStateStore::createSchema() {
  const std::string action = "prepare the journal's tables";
  auto present = db_->query("SELECT to_regclass('mig.locks') IS NOT NULL");
  if (!present) return failBecause(action, present.error());
  if (!present->boolean(0, 0)) {
    auto status = db_->execute(fmt::format("BEGIN; SELECT pg_advisory_xact_lock({}); {} COMMIT;",
                                           kSchemaLockKey, schemaSql()));
    if (!status) {
      (void)db_->execute("ROLLBACK");
      return failBecause(action, status.error());
    }
  }
  auto version = db_->query("SELECT value FROM mig.meta WHERE key = 'schema_version'");
  if (!version) return failBecause(action, version.error());
  if (version->empty() || version->text(0, 0) != "1") {
    return failBecause(action, fmt::format("its schema `mig` is of version {}, and this mig "
                                           "reads version 1",
                                           version->empty() ? "?" : version->text(0, 0)));
  }
  return true;
}

bool PostgresStateStore::stillInPlace() {
  error_.clear();
  // Asked at every turn of a run's loop: a round trip at most once a second.
  auto now = std::chrono::steady_clock::now();
  if (now - lastReached_ < std::chrono::seconds(1)) return true;
  auto alive = db_->query("SELECT 1");
  if (!alive) return failBecause("reach the journal", alive.error());
  lastReached_ = now;
  return true;
}

void PostgresStateStore::setBusyTimeout(std::chrono::milliseconds timeout) {
  // A write waits this long for a row lock another session holds.
  (void)db_->execute(fmt::format("SET lock_timeout = {}", timeout.count()));
}

bool PostgresStateStore::failBecause(const std::string& what, const std::string& why) {
  error_ = fmt::format("cannot {} in the journal {}: {}", what, where_, why);
  return false;
}

bool PostgresStateStore::beginWrite(const std::string& action) {
  error_.clear();
  if (batch_ && batchOpen_) return true;
  auto begun = db_->execute("BEGIN");
  if (!begun) return failBecause(action, begun.error());
  if (batch_) batchOpen_ = true;
  return true;
}

bool PostgresStateStore::endWrite(const std::string& action) {
  if (batch_) return true;
  auto committed = db_->execute("COMMIT");
  if (committed) return true;
  (void)db_->execute("ROLLBACK");
  return failBecause(action, committed.error());
}

void PostgresStateStore::failedWrite() {
  if (!batch_) (void)db_->execute("ROLLBACK");
}

std::optional<int64_t> PostgresStateStore::createRun(const RunRecord& run,
                                                     const std::vector<std::string>& steps) {
  const std::string action = fmt::format("create a run of plan '{}'", run.plan);
  if (!beginWrite(action)) return std::nullopt;
  auto fail = [&](const std::string& why) {
    failBecause(action, why);
    failedWrite();
    return std::nullopt;
  };
  auto plan = db_->query(
      "INSERT INTO mig.compiled_plans (plan_hash, compiled) VALUES ($1, $2) "
      "ON CONFLICT (plan_hash) DO NOTHING",
      {run.planHash, run.compiled});
  if (!plan) return fail(plan.error());
  auto inserted = db_->query(
      "INSERT INTO mig.runs (plan, number, plan_hash, plan_file, state, message, started_at, "
      "host, pid) VALUES ($1, (SELECT coalesce(max(number), 0) + 1 FROM mig.runs WHERE plan = $1), "
      "$2, $3, 'running', $4, $5, $6, $7) RETURNING id",
      {run.plan, run.planHash, run.planFile, run.message, number(run.startedAt), run.host,
       number(run.pid)});
  if (!inserted) return fail(inserted.error());
  const int64_t runId = inserted->integer(0, 0);
  std::string list;
  for (const std::string& step : steps) list += (list.empty() ? "" : ",") + db_->literal(step);
  if (!steps.empty()) {
    auto rows = db_->query(
        fmt::format("INSERT INTO mig.steps (run_id, position, name, state) "
                    "SELECT $1, ordinality - 1, name, 'pending' "
                    "FROM unnest(ARRAY[{}]::text[]) WITH ORDINALITY AS s (name, ordinality)",
                    list),
        {number(runId)});
    if (!rows) return fail(rows.error());
  }
  if (!endWrite(action)) return std::nullopt;
  return runId;
}

std::optional<RunRecord> PostgresStateStore::run(int64_t runId) {
  error_.clear();
  const std::string action = fmt::format("read run {}", runId);
  auto rows = db_->query(fmt::format("SELECT {} FROM {} WHERE r.id = $1", kRunColumns, kRunTables),
                         {number(runId)});
  if (!rows) {
    failBecause(action, rows.error());
    return std::nullopt;
  }
  if (rows->empty()) {
    failBecause(action, "there is no such run");
    return std::nullopt;
  }
  return readRun(*rows, 0);
}

std::optional<RunRecord> PostgresStateStore::lastRun(const std::string& plan) {
  error_.clear();
  auto rows = db_->query(fmt::format("SELECT {} FROM {} WHERE r.plan = $1 ORDER BY r.id DESC "
                                     "LIMIT 1",
                                     kRunColumns, kRunTables),
                         {plan});
  if (!rows) {
    failBecause(fmt::format("read the last run of plan '{}'", plan), rows.error());
    return std::nullopt;
  }
  if (rows->empty()) return std::nullopt;
  return readRun(*rows, 0);
}

std::vector<std::string> PostgresStateStore::plans() {
  error_.clear();
  auto rows = db_->query("SELECT DISTINCT plan FROM mig.runs ORDER BY plan");
  if (!rows) {
    failBecause("list the plans", rows.error());
    return {};
  }
  std::vector<std::string> names;
  for (int i = 0; i < rows->size(); ++i) names.push_back(rows->text(i, 0));
  return names;
}

std::vector<RunRecord> PostgresStateStore::runs(const std::string& plan) {
  error_.clear();
  auto rows = db_->query(
      fmt::format("SELECT {} FROM {} WHERE r.plan = $1 ORDER BY r.id", kRunColumns, kRunTables),
      {plan});
  if (!rows) {
    failBecause(fmt::format("read the runs of plan '{}'", plan), rows.error());
    return {};
  }
  std::vector<RunRecord> records;
  for (int i = 0; i < rows->size(); ++i) records.push_back(readRun(*rows, i));
  return records;
}

bool PostgresStateStore::setRunState(int64_t runId, RunState state, const std::string& message,
                                     int64_t finishedAt) {
  const std::string action = fmt::format("set the state of run {} to '{}'", runId, nameOf(state));
  if (!beginWrite(action)) return false;
  auto rows = db_->query(
      "UPDATE mig.runs SET state = $1, message = $2, finished_at = $3 WHERE id = $4 RETURNING id",
      {std::string(nameOf(state)), message, number(finishedAt), number(runId)});
  if (!rows || rows->empty()) {
    failBecause(action, rows ? "there is no such run" : rows.error());
    failedWrite();
    return false;
  }
  return endWrite(action);
}

bool PostgresStateStore::setRunner(int64_t runId, const std::string& host, int64_t pid) {
  const std::string action = fmt::format("record the runner of run {}", runId);
  if (!beginWrite(action)) return false;
  auto rows = db_->query("UPDATE mig.runs SET host = $1, pid = $2 WHERE id = $3 RETURNING id",
                         {host, number(pid), number(runId)});
  if (!rows || rows->empty()) {
    failBecause(action, rows ? "there is no such run" : rows.error());
    failedWrite();
    return false;
  }
  return endWrite(action);
}

bool PostgresStateStore::setSwitchover(int64_t runId, int64_t at,
                                       std::optional<int64_t> retainUntil) {
  const std::string action = fmt::format("record the switchover of run {}", runId);
  if (!beginWrite(action)) return false;
  auto rows = db_->query(
      "UPDATE mig.runs SET switchover_at = $1, retain_until = $2 WHERE id = $3 RETURNING id",
      {number(at), optionalNumber(retainUntil), number(runId)});
  if (!rows || rows->empty()) {
    failBecause(action, rows ? "there is no such run" : rows.error());
    failedWrite();
    return false;
  }
  return endWrite(action);
}

std::vector<StepRecord> PostgresStateStore::steps(int64_t runId) {
  error_.clear();
  auto rows = db_->query(
      "SELECT name, state, attempts, started_at, finished_at, exit_code, message, "
      "completion_order FROM mig.steps WHERE run_id = $1 ORDER BY position",
      {number(runId)});
  if (!rows) {
    failBecause(fmt::format("read the steps of run {}", runId), rows.error());
    return {};
  }
  std::vector<StepRecord> records;
  for (int i = 0; i < rows->size(); ++i) {
    StepRecord& step = records.emplace_back();
    step.step = rows->text(i, 0);
    step.state = stored<StepState>(rows->text(i, 1));
    step.attempts = static_cast<int>(rows->integer(i, 2));
    step.startedAt = rows->integer(i, 3);
    step.finishedAt = rows->integer(i, 4);
    if (!rows->isNull(i, 5)) step.exitCode = static_cast<int>(rows->integer(i, 5));
    step.message = rows->text(i, 6);
    step.order = rows->integer(i, 7);
  }
  return records;
}

std::vector<AttemptRecord> PostgresStateStore::attempts(int64_t runId, const std::string& step) {
  error_.clear();
  auto rows = db_->query(
      "SELECT kind, attempt, started_at, finished_at, exit_code, outcome, log_path, log_note "
      "FROM mig.attempts WHERE run_id = $1 AND step = $2 ORDER BY started_at, id",
      {number(runId), step});
  if (!rows) {
    failBecause(fmt::format("read the attempts of {}", stepLabel(runId, step)), rows.error());
    return {};
  }
  std::vector<AttemptRecord> records;
  for (int i = 0; i < rows->size(); ++i) {
    AttemptRecord& attempt = records.emplace_back();
    attempt.step = step;
    attempt.kind = stored<ProcessKind>(rows->text(i, 0));
    attempt.attempt = static_cast<int>(rows->integer(i, 1));
    attempt.startedAt = rows->integer(i, 2);
    attempt.finishedAt = rows->integer(i, 3);
    if (!rows->isNull(i, 4)) attempt.exitCode = static_cast<int>(rows->integer(i, 4));
    attempt.outcome = stored<ProcessOutcome>(rows->text(i, 5));
    attempt.logPath = rows->text(i, 6);
    attempt.logNote = rows->text(i, 7);
  }
  return records;
}

bool PostgresStateStore::processStarted(int64_t runId, const std::string& step, ProcessKind kind,
                                        int attempt, int64_t at, const std::string& logPath,
                                        StepState stepState) {
  const std::string action =
      fmt::format("record the start of {} {} of {}", nameOf(kind), attempt, stepLabel(runId, step));
  if (!beginWrite(action)) return false;
  const bool isRun = kind == ProcessKind::Run;
  auto updated = db_->query(
      "UPDATE mig.steps SET state = $1, "
      "attempts = CASE WHEN $2 THEN $3 ELSE attempts END, "
      "started_at = CASE WHEN $2 AND ($3 <= 1 OR started_at = 0) THEN $4 ELSE started_at END "
      "WHERE run_id = $5 AND name = $6 RETURNING name",
      {std::string(nameOf(stepState)), isRun ? "true" : "false", std::to_string(attempt),
       number(at), number(runId), step});
  if (!updated || updated->empty()) {
    failBecause(action, updated ? "the run has no such step" : updated.error());
    failedWrite();
    return false;
  }
  auto inserted = db_->query(
      "INSERT INTO mig.attempts (run_id, step, kind, attempt, started_at, log_path) "
      "VALUES ($1, $2, $3, $4, $5, $6)",
      {number(runId), step, std::string(nameOf(kind)), std::to_string(attempt), number(at),
       logPath});
  if (!inserted) {
    failBecause(action, inserted.error());
    failedWrite();
    return false;
  }
  return endWrite(action);
}

bool PostgresStateStore::processFinished(int64_t runId, const std::string& step, ProcessKind kind,
                                         int attempt, int64_t at, ProcessOutcome outcome,
                                         std::optional<int> exitCode, StepState stepState,
                                         const std::string& message, const std::string& logNote) {
  const std::string action =
      fmt::format("record the end of {} {} of {}", nameOf(kind), attempt, stepLabel(runId, step));
  if (!beginWrite(action)) return false;
  auto fail = [&](const std::string& why) {
    failBecause(action, why);
    failedWrite();
    return false;
  };
  std::optional<std::string> exit;
  if (exitCode) exit = std::to_string(*exitCode);
  auto latest = db_->query(
      "SELECT max(id), (array_agg(log_path ORDER BY id DESC))[1] FROM mig.attempts "
      "WHERE run_id = $1 AND step = $2 AND kind = $3 AND attempt = $4",
      {number(runId), step, std::string(nameOf(kind)), std::to_string(attempt)});
  if (!latest) return fail(latest.error());
  if (latest->empty() || latest->isNull(0, 0)) return fail("that process was never journaled");
  const std::string attemptId = latest->text(0, 0);
  const std::string logPath = latest->text(0, 1);
  auto updatedAttempt = db_->query(
      "UPDATE mig.attempts SET finished_at = $1, outcome = $2, exit_code = $3, log_note = $4, "
      "log = $5::bytea WHERE id = $6",
      {number(at), std::string(nameOf(outcome)), exit, logNote, byteaHex(logToStore(logPath)),
       attemptId});
  if (!updatedAttempt) return fail(updatedAttempt.error());

  std::optional<int64_t> order;
  if (stepState == StepState::Done) {
    order = nextCompletionOrder(runId, action);
    if (!order) {
      failedWrite();
      return false;
    }
  }
  auto updatedStep = db_->query(
      "UPDATE mig.steps SET state = $1, message = $2, exit_code = $3, "
      "finished_at = CASE WHEN $8 THEN finished_at ELSE $4 END, "
      "completion_order = coalesce($7, completion_order) "
      "WHERE run_id = $5 AND name = $6 RETURNING name",
      {std::string(nameOf(stepState)), message, exit, number(at), number(runId), step,
       optionalNumber(order), kind == ProcessKind::Undo ? "true" : "false"});
  if (!updatedStep) return fail(updatedStep.error());
  if (updatedStep->empty()) return fail("the run has no such step");
  return endWrite(action);
}

bool PostgresStateStore::setStepState(int64_t runId, const std::string& step, StepState state,
                                      const std::string& message) {
  const std::string action =
      fmt::format("set the state of {} to '{}'", stepLabel(runId, step), nameOf(state));
  if (!beginWrite(action)) return false;
  std::optional<int64_t> order;
  if (state == StepState::Done) {
    order = nextCompletionOrder(runId, action);
    if (!order) {
      failedWrite();
      return false;
    }
  }
  auto rows = db_->query(
      "UPDATE mig.steps SET state = $1, message = $2, "
      "completion_order = CASE WHEN $5::bigint IS NOT NULL AND state <> 'done' THEN $5::bigint "
      "ELSE completion_order END WHERE run_id = $3 AND name = $4 RETURNING name",
      {std::string(nameOf(state)), message, number(runId), step, optionalNumber(order)});
  if (!rows || rows->empty()) {
    failBecause(action, rows ? "the run has no such step" : rows.error());
    failedWrite();
    return false;
  }
  return endWrite(action);
}

std::optional<std::string> PostgresStateStore::storedLog(int64_t runId, const std::string& step,
                                                         ProcessKind kind, int attempt) {
  error_.clear();
  auto rows = db_->query(
      "SELECT encode(log, 'hex') FROM mig.attempts WHERE run_id = $1 AND step = $2 AND "
      "kind = $3 AND attempt = $4 AND log IS NOT NULL ORDER BY id DESC LIMIT 1",
      {number(runId), step, std::string(nameOf(kind)), std::to_string(attempt)});
  if (!rows) {
    failBecause(fmt::format("read the log of {}", stepLabel(runId, step)), rows.error());
    return std::nullopt;
  }
  if (rows->empty()) return std::nullopt;
  return fromHex(rows->text(0, 0));
}

std::optional<int64_t> PostgresStateStore::nextCompletionOrder(int64_t runId,
                                                               const std::string& action) {
  auto it = nextOrder_.find(runId);
  if (it == nextOrder_.end()) {
    auto highest =
        db_->query("SELECT coalesce(max(completion_order), 0) FROM mig.steps WHERE run_id = $1",
                   {number(runId)});
    if (!highest) {
      failBecause(action, highest.error());
      return std::nullopt;
    }
    it = nextOrder_.emplace(runId, highest->integer(0, 0)).first;
  }
  return ++it->second;
}

bool PostgresStateStore::beginBatch() {
  error_.clear();
  batch_ = true;
  return true;
}

bool PostgresStateStore::commitBatch() {
  error_.clear();
  if (!batch_) return true;
  batch_ = false;
  if (!batchOpen_) return true;
  batchOpen_ = false;
  auto committed = db_->execute("COMMIT");
  if (committed) return true;
  (void)db_->execute("ROLLBACK");
  return failBecause("commit the journal", committed.error());
}

void PostgresStateStore::abortBatch() {
  if (!batch_) return;
  batch_ = false;
  if (!batchOpen_) return;
  batchOpen_ = false;
  // The cached completion orders may hold numbers the rollback gave back.
  nextOrder_.clear();
  (void)db_->execute("ROLLBACK");
}

// ---------------------------------------------------------------- the lock

namespace {

// The advisory lock's key for a plan: 64 bits of a hash PostgreSQL and every
// runner compute alike.
constexpr const char* kPlanLockKey = "('x' || left(md5('mig plan ' || $1), 16))::bit(64)::bigint";

class AdvisoryPlanLock final : public PlanLock {
 public:
  AdvisoryPlanLock(std::unique_ptr<Connection> connection, std::string plan)
      : connection_(std::move(connection)), plan_(std::move(plan)) {}
  ~AdvisoryPlanLock() override {
    // A holder that claimed removes its record: a record left behind is a
    // runner that died.
    if (claimed_) {
      (void)connection_->query("DELETE FROM mig.locks WHERE plan = $1 AND pid = $2",
                               {plan_, std::to_string(::getpid())});
    }
    (void)connection_->query(fmt::format("SELECT pg_advisory_unlock({})", kPlanLockKey), {plan_});
  }

  std::string claim(std::string& error) override {
    auto previous =
        connection_->query("SELECT host, pid, since FROM mig.locks WHERE plan = $1", {plan_});
    char host[256] = {};
    gethostname(host, sizeof host - 1);
    const long long now = std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count();
    auto written = connection_->query(
        "INSERT INTO mig.locks (plan, host, pid, since) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT (plan) DO UPDATE SET host = $2, pid = $3, since = $4",
        {plan_, std::string(host), std::to_string(::getpid()), std::to_string(now)});
    if (!written)
      error = fmt::format("cannot record the holder of plan {}'s lock: {}", plan_, written.error());
    claimed_ = true;
    if (!previous || previous->empty()) return "";
    return fmt::format(
        "took over the lock of a runner that is gone ({})",
        describeLockHolder(previous->text(0, 0), previous->integer(0, 1), previous->integer(0, 2)));
  }

 private:
  std::unique_ptr<Connection> connection_;
  std::string plan_;
  bool claimed_ = false;
};

}  // namespace

std::unique_ptr<PlanLock> acquireAdvisoryPlanLock(const std::string& url, const std::string& plan,
                                                  PlanLock::Status& status, std::string& message) {
  // Its own connection: the lock lives exactly as long as this session.
  auto connection = Connection::open(url, "journal");
  if (!connection) {
    status = PlanLock::Status::Error;
    message = connection.error();
    return nullptr;
  }
  auto taken =
      (*connection)->query(fmt::format("SELECT pg_try_advisory_lock({})", kPlanLockKey), {plan});
  if (!taken) {
    status = PlanLock::Status::Error;
    message = fmt::format("cannot lock plan {} in the journal: {}", plan, taken.error());
    return nullptr;
  }
  if (!taken->boolean(0, 0)) {
    status = PlanLock::Status::Held;
    auto holder =
        (*connection)->query("SELECT host, pid, since FROM mig.locks WHERE plan = $1", {plan});
    message = fmt::format(
        "plan {} is being run by another mig ({})", plan,
        holder && !holder->empty()
            ? describeLockHolder(holder->text(0, 0), holder->integer(0, 1), holder->integer(0, 2))
            : "holder unknown");
    return nullptr;
  }
  status = PlanLock::Status::Acquired;
  message.clear();
  return std::make_unique<AdvisoryPlanLock>(std::move(*connection), plan);
}

}  // namespace mig::runtime
