#include "runtime/state_store.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <vector>

namespace mig::runtime {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kHour = 3'600'000;

RunRecord sampleRun(const std::string& plan) {
  RunRecord run;
  run.plan = plan;
  run.planHash = "sha256:" + plan;
  run.planFile = plan + ".mig";
  run.compiled = R"({"schema":1})";
  run.startedAt = 1'000;
  run.host = "db-runner-1";
  run.pid = 4321;
  return run;
}

std::vector<std::string> stepNames(const std::vector<StepRecord>& steps) {
  std::vector<std::string> names;
  for (const auto& step : steps) names.push_back(step.step);
  return names;
}

/// Runs SQL on the file through a connection of its own, as another program.
void execOnFile(const std::string& path, const char* sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* message = nullptr;
  const int rc = sqlite3_exec(db, sql, nullptr, nullptr, &message);
  const std::string text = message ? message : "";
  sqlite3_free(message);
  sqlite3_close(db);
  ASSERT_EQ(rc, SQLITE_OK) << text;
}

/// Runs SQL on the file as another program would; returns SQLite's error
/// message, "" when it succeeded.
std::string sqlErrorOnFile(const std::string& path, const char* sql) {
  sqlite3* db = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) return "cannot open";
  char* message = nullptr;
  sqlite3_exec(db, sql, nullptr, nullptr, &message);
  std::string text = message ? message : "";
  sqlite3_free(message);
  sqlite3_close(db);
  return text;
}

/// Writes all of `text` to `fd`.
void sendText(int fd, const std::string& text) {
  size_t written = 0;
  while (written < text.size()) {
    const ssize_t n = write(fd, text.data() + written, text.size() - written);
    if (n <= 0) return;
    written += static_cast<size_t>(n);
  }
}

/// A child process, forked while this process has no store open, that
/// reports to the parent as text through a pipe: `body` may send text while
/// it runs, and what it returns is sent when it ends.
class Child {
 public:
  using Body = std::function<std::string(int reportFd)>;

  explicit Child(const Body& body) {
    int fds[2];
    if (pipe(fds) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      close(fds[0]);
      sendText(fds[1], body(fds[1]));
      _exit(0);  // no atexit handlers, no gtest teardown in the child
    }
    close(fds[1]);
    readFd_ = fds[0];
  }
  ~Child() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (readFd_ >= 0) close(readFd_);
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  bool started() const { return pid_ > 0; }

  /// Reads up to `count` bytes of what the child sends (fewer if it exits).
  std::string read(size_t count) {
    std::string text;
    char buffer[4096];
    while (text.size() < count) {
      const ssize_t n = ::read(readFd_, buffer, std::min(sizeof buffer, count - text.size()));
      if (n <= 0) break;
      text.append(buffer, static_cast<size_t>(n));
    }
    return text;
  }

  /// Everything the child sends, once it has exited.
  std::string result() {
    std::string text = read(SIZE_MAX);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    if (!WIFEXITED(status)) text += " [the child died]";
    return text;
  }

  /// Kills the child with SIGKILL; returns whether that is what ended it.
  bool killHard() {
    kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
  }

 private:
  pid_t pid_ = -1;
  int readFd_ = -1;
};

class StateStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/mig-state-test-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    root_ = pattern;
    path_ = (root_ / ".mig" / "state.db").string();
  }
  void TearDown() override {
    std::error_code ignored;
    fs::permissions(root_, fs::perms::owner_all, ignored);
    fs::remove_all(root_, ignored);
  }

  std::unique_ptr<StateStore> open(bool durable = false) {
    std::string error;
    auto store = StateStore::open(path_, durable, error);
    EXPECT_NE(store, nullptr) << error;
    EXPECT_EQ(error, "");
    return store;
  }

  std::string openError() {
    std::string error;
    auto store = StateStore::open(path_, false, error);
    EXPECT_EQ(store, nullptr);
    return error;
  }

  /// A child opens the journal, `writes` (returning whether they were
  /// committed), and is killed with kill -9 while the store is still open:
  /// no clean close, no checkpoint.
  void killedAfterWriting(const std::function<bool(StateStore&)>& writes) {
    Child child([&](int reportFd) -> std::string {
      std::string error;
      auto store = StateStore::open(path_, false, error);
      if (!store) return "open failed: " + error;
      if (!writes(*store)) return "write failed: " + store->lastError();
      sendText(reportFd, "y");
      for (;;) pause();
    });
    ASSERT_TRUE(child.started());
    ASSERT_EQ(child.read(1), "y");
    ASSERT_TRUE(child.killHard());
  }

  void writeBytes(const std::string& bytes) {
    fs::create_directories(fs::path(path_).parent_path());
    std::ofstream out(path_, std::ios::binary | std::ios::trunc);
    out << bytes;
  }

  fs::path root_;
  std::string path_;
};

TEST_F(StateStoreTest, CreatesFolderAndSchema) {
  ASSERT_FALSE(fs::exists(root_ / ".mig"));
  auto store = open();
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(fs::is_regular_file(path_));

  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2(path_.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* select = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db,
                               "SELECT name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' "
                               "ORDER BY name",
                               -1, &select, nullptr),
            SQLITE_OK);
  std::vector<std::string> names;
  while (sqlite3_step(select) == SQLITE_ROW) {
    names.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(select, 0)));
  }
  sqlite3_finalize(select);
  ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT value FROM mig_meta WHERE key = 'schema_version'", -1,
                               &select, nullptr),
            SQLITE_OK);
  ASSERT_EQ(sqlite3_step(select), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(select, 0)), "2");
  sqlite3_finalize(select);
  sqlite3_close(db);

  EXPECT_EQ(names, (std::vector<std::string>{"attempts", "compiled_plans", "mig_meta", "runs",
                                             "runs_by_plan", "steps"}));
  EXPECT_EQ(store->plans(), std::vector<std::string>{});
  EXPECT_EQ(store->lastError(), "");
}

TEST_F(StateStoreTest, ReopeningKeepsTheRuns) {
  int64_t runId = 0;
  {
    auto store = open();
    runId = store->createRun(sampleRun("alpha"), {"prepare"}).value();
  }
  auto store = open();
  ASSERT_TRUE(store->run(runId).has_value()) << store->lastError();
  EXPECT_EQ(store->run(runId)->plan, "alpha");
  EXPECT_EQ(stepNames(store->steps(runId)), std::vector<std::string>{"prepare"});
}

TEST_F(StateStoreTest, UsesWalWithNormalSynchronousByDefault) {
  auto store = open(/*durable=*/false);
  const auto settings = store->settings();
  ASSERT_TRUE(settings.has_value()) << store->lastError();
  EXPECT_EQ(settings->journalMode, "wal");
  EXPECT_EQ(settings->synchronous, 1);
  EXPECT_EQ(settings->busyTimeoutMs, StateStore::kDefaultBusyTimeout.count());
  EXPECT_GE(settings->busyTimeoutMs, 2000);
  EXPECT_TRUE(settings->foreignKeys);
}

TEST_F(StateStoreTest, UsesFullSynchronousWhenDurable) {
  auto store = open(/*durable=*/true);
  const auto settings = store->settings();
  ASSERT_TRUE(settings.has_value()) << store->lastError();
  EXPECT_EQ(settings->journalMode, "wal");
  EXPECT_EQ(settings->synchronous, 2);
}

TEST_F(StateStoreTest, KeysRunsByPlan) {
  auto store = open();
  const int64_t zulu1 = store->createRun(sampleRun("zulu"), {"a"}).value();
  const int64_t alpha1 = store->createRun(sampleRun("alpha"), {"a"}).value();
  const int64_t zulu2 = store->createRun(sampleRun("zulu"), {"a"}).value();
  EXPECT_LT(zulu1, alpha1);
  EXPECT_LT(alpha1, zulu2);

  EXPECT_EQ(store->plans(), (std::vector<std::string>{"alpha", "zulu"}));
  ASSERT_TRUE(store->lastRun("zulu").has_value());
  EXPECT_EQ(store->lastRun("zulu")->id, zulu2);
  ASSERT_TRUE(store->lastRun("alpha").has_value());
  EXPECT_EQ(store->lastRun("alpha")->id, alpha1);

  EXPECT_FALSE(store->lastRun("missing").has_value());
  EXPECT_EQ(store->lastError(), "");
}

TEST_F(StateStoreTest, RunRecordRoundTrips) {
  auto store = open();
  RunRecord given = sampleRun("alpha");
  given.compiled = std::string("{\"steps\":[\"a\\u0000\"]}\n") + std::string(1, '\0') + "tail";
  const int64_t runId = store->createRun(given, {"a"}).value();

  auto run = store->run(runId);
  ASSERT_TRUE(run.has_value()) << store->lastError();
  EXPECT_EQ(run->id, runId);
  EXPECT_EQ(run->plan, "alpha");
  EXPECT_EQ(run->planHash, "sha256:alpha");
  EXPECT_EQ(run->planFile, "alpha.mig");
  EXPECT_EQ(run->compiled, given.compiled);
  EXPECT_EQ(nameOf(run->state), "running");
  EXPECT_EQ(run->startedAt, 1'000);
  EXPECT_EQ(run->finishedAt, 0);
  EXPECT_FALSE(run->switchoverAt.has_value());
  EXPECT_FALSE(run->retainUntil.has_value());
  EXPECT_EQ(run->host, "db-runner-1");
  EXPECT_EQ(run->pid, 4321);

  ASSERT_TRUE(store->setSwitchover(runId, 5'000, 5'000 + 48 * kHour)) << store->lastError();
  ASSERT_TRUE(store->setRunner(runId, "db-runner-2", 99)) << store->lastError();
  ASSERT_TRUE(
      store->setRunState(runId, RunState::Paused, "verification failed after switchover", 9'000))
      << store->lastError();
  run = store->run(runId);
  ASSERT_TRUE(run.has_value());
  EXPECT_EQ(run->switchoverAt, 5'000);
  EXPECT_EQ(run->retainUntil, 5'000 + 48 * kHour);
  EXPECT_EQ(run->host, "db-runner-2");
  EXPECT_EQ(run->pid, 99);
  EXPECT_EQ(nameOf(run->state), "paused");
  EXPECT_EQ(run->message, "verification failed after switchover");
  EXPECT_EQ(run->finishedAt, 9'000);

  ASSERT_TRUE(store->setSwitchover(runId, 6'000, std::nullopt));
  EXPECT_EQ(store->run(runId)->switchoverAt, 6'000);
  EXPECT_FALSE(store->run(runId)->retainUntil.has_value());
}

TEST_F(StateStoreTest, UnknownRunIsReportedNotCreated) {
  auto store = open();
  EXPECT_FALSE(store->run(42).has_value());
  EXPECT_EQ(store->lastError(), "cannot read run 42 in '" + path_ + "': there is no such run");
  EXPECT_FALSE(store->setRunState(42, RunState::Failed, "", 1));
  EXPECT_EQ(store->lastError(),
            "cannot set the state of run 42 to 'failed' in '" + path_ + "': there is no such run");
  EXPECT_FALSE(store->setRunner(42, "h", 1));
  EXPECT_FALSE(store->setSwitchover(42, 1, std::nullopt));
  EXPECT_EQ(store->plans(), std::vector<std::string>{});
}

TEST_F(StateStoreTest, StepsKeepTheOrderTheyWereGiven) {
  auto store = open();
  const std::vector<std::string> names = {"zeta", "alpha", "mid", "beta"};
  const int64_t runId = store->createRun(sampleRun("alpha"), names).value();
  const auto steps = store->steps(runId);
  EXPECT_EQ(stepNames(steps), names);
  for (const auto& step : steps) {
    EXPECT_EQ(nameOf(step.state), "pending");
    EXPECT_EQ(step.attempts, 0);
    EXPECT_EQ(step.startedAt, 0);
    EXPECT_EQ(step.finishedAt, 0);
    EXPECT_FALSE(step.exitCode.has_value());
    EXPECT_EQ(step.order, 0);
  }
}

TEST_F(StateStoreTest, DuplicateStepNameLeavesNoHalfWrittenRun) {
  auto store = open();
  EXPECT_FALSE(store->createRun(sampleRun("alpha"), {"a", "b", "a"}).has_value());
  EXPECT_NE(store->lastError().find("cannot create a run of plan 'alpha' (step 'a') in '" + path_ +
                                    "': UNIQUE constraint failed"),
            std::string::npos)
      << store->lastError();
  EXPECT_EQ(store->plans(), std::vector<std::string>{});
  EXPECT_FALSE(store->lastRun("alpha").has_value());
}

TEST_F(StateStoreTest, StepLifecycleFromPendingToUndone) {
  auto store = open();
  const int64_t runId = store->createRun(sampleRun("alpha"), {"prepare", "copy", "switch"}).value();

  ASSERT_TRUE(store->processStarted(runId, "prepare", ProcessKind::Run, 1, 1'000,
                                    "logs/prepare.log", StepState::Running))
      << store->lastError();
  StepRecord prepare = store->steps(runId)[0];
  EXPECT_EQ(nameOf(prepare.state), "running");
  EXPECT_EQ(prepare.attempts, 1);
  EXPECT_EQ(prepare.startedAt, 1'000);
  EXPECT_EQ(prepare.order, 0);

  ASSERT_TRUE(store->processFinished(runId, "prepare", ProcessKind::Run, 1, 1'500,
                                     ProcessOutcome::Exited, 0, StepState::Done, ""))
      << store->lastError();
  prepare = store->steps(runId)[0];
  EXPECT_EQ(nameOf(prepare.state), "done");
  EXPECT_EQ(prepare.finishedAt, 1'500);
  EXPECT_EQ(prepare.exitCode, 0);
  EXPECT_EQ(prepare.order, 1);

  // copy fails once, is retried, then succeeds: it keeps its first start.
  ASSERT_TRUE(store->processStarted(runId, "copy", ProcessKind::Run, 1, 2'000, "logs/copy.1.log",
                                    StepState::Running));
  ASSERT_TRUE(store->processFinished(runId, "copy", ProcessKind::Run, 1, 2'100,
                                     ProcessOutcome::Exited, 3, StepState::Running,
                                     "attempt 1 exited with 3"));
  ASSERT_TRUE(store->processStarted(runId, "copy", ProcessKind::Run, 2, 3'000, "logs/copy.2.log",
                                    StepState::Running));
  StepRecord copy = store->steps(runId)[1];
  EXPECT_EQ(nameOf(copy.state), "running");
  EXPECT_EQ(copy.attempts, 2);
  EXPECT_EQ(copy.startedAt, 2'000);
  ASSERT_TRUE(store->processFinished(runId, "copy", ProcessKind::Run, 2, 3'500,
                                     ProcessOutcome::Exited, 0, StepState::Done, ""));
  copy = store->steps(runId)[1];
  EXPECT_EQ(nameOf(copy.state), "done");
  EXPECT_EQ(copy.order, 2);
  EXPECT_EQ(copy.exitCode, 0);
  EXPECT_EQ(copy.finishedAt, 3'500);

  // switch fails for good.
  ASSERT_TRUE(store->processStarted(runId, "switch", ProcessKind::Run, 1, 4'000, "logs/switch.log",
                                    StepState::Running));
  ASSERT_TRUE(store->processFinished(runId, "switch", ProcessKind::Run, 1, 4'200,
                                     ProcessOutcome::Exited, 7, StepState::Failed,
                                     "pg_ctl promote exited with 7"));
  const StepRecord failed = store->steps(runId)[2];
  EXPECT_EQ(nameOf(failed.state), "failed");
  EXPECT_EQ(failed.exitCode, 7);
  EXPECT_EQ(failed.message, "pg_ctl promote exited with 7");
  EXPECT_EQ(failed.finishedAt, 4'200);
  EXPECT_EQ(failed.order, 0);

  // Undo in reverse completion order: copy first. The order and the count
  // of `do` attempts stay.
  ASSERT_TRUE(store->processStarted(runId, "copy", ProcessKind::Undo, 1, 5'000,
                                    "logs/copy.undo.log", StepState::Undoing));
  copy = store->steps(runId)[1];
  EXPECT_EQ(nameOf(copy.state), "undoing");
  EXPECT_EQ(copy.attempts, 2);
  EXPECT_EQ(copy.startedAt, 2'000);
  EXPECT_EQ(copy.order, 2);
  ASSERT_TRUE(store->processFinished(runId, "copy", ProcessKind::Undo, 1, 5'400,
                                     ProcessOutcome::Exited, 0, StepState::Undone, ""));
  copy = store->steps(runId)[1];
  EXPECT_EQ(nameOf(copy.state), "undone");
  EXPECT_EQ(copy.order, 2);
  EXPECT_EQ(copy.finishedAt, 3'500);  // the undo does not stretch the step
}

TEST_F(StateStoreTest, CompletionOrderIsCountedPerRun) {
  auto store = open();
  const int64_t first = store->createRun(sampleRun("alpha"), {"a", "b"}).value();
  const int64_t second = store->createRun(sampleRun("beta"), {"a"}).value();
  for (const std::string step : {"b", "a"}) {
    ASSERT_TRUE(
        store->processStarted(first, step, ProcessKind::Run, 1, 10, "", StepState::Running));
    ASSERT_TRUE(store->processFinished(first, step, ProcessKind::Run, 1, 20, ProcessOutcome::Exited,
                                       0, StepState::Done, ""));
  }
  ASSERT_TRUE(store->processStarted(second, "a", ProcessKind::Run, 1, 10, "", StepState::Running));
  ASSERT_TRUE(store->processFinished(second, "a", ProcessKind::Run, 1, 20, ProcessOutcome::Exited,
                                     0, StepState::Done, ""));

  EXPECT_EQ(store->steps(first)[0].order, 2);
  EXPECT_EQ(store->steps(first)[1].order, 1);
  EXPECT_EQ(store->steps(second)[0].order, 1);
}

TEST_F(StateStoreTest, CheckDoesNotCountAsAnAttempt) {
  auto store = open();
  const int64_t runId = store->createRun(sampleRun("alpha"), {"copy"}).value();
  ASSERT_TRUE(store->processStarted(runId, "copy", ProcessKind::Run, 1, 100, "logs/copy.1.log",
                                    StepState::Running));
  ASSERT_TRUE(store->setStepState(runId, "copy", StepState::Interrupted, "the runner was killed"));
  ASSERT_TRUE(store->processStarted(runId, "copy", ProcessKind::Check, 1, 900,
                                    "logs/copy.check.log", StepState::Running));
  StepRecord copy = store->steps(runId)[0];
  EXPECT_EQ(nameOf(copy.state), "running");
  EXPECT_EQ(copy.attempts, 1);
  EXPECT_EQ(copy.startedAt, 100);
  ASSERT_TRUE(store->processFinished(runId, "copy", ProcessKind::Check, 1, 950,
                                     ProcessOutcome::Exited, 0, StepState::Done, "check passed"));
  copy = store->steps(runId)[0];
  EXPECT_EQ(nameOf(copy.state), "done");
  EXPECT_EQ(copy.message, "check passed");
  EXPECT_EQ(copy.order, 1);
}

TEST_F(StateStoreTest, SetStepStateChangesStateAndMessageAndOrdersADoneStep) {
  auto store = open();
  const int64_t runId = store->createRun(sampleRun("alpha"), {"copy"}).value();
  ASSERT_TRUE(
      store->processStarted(runId, "copy", ProcessKind::Run, 1, 100, "", StepState::Running));
  ASSERT_TRUE(store->processFinished(runId, "copy", ProcessKind::Run, 1, 200,
                                     ProcessOutcome::Exited, 4, StepState::Failed, "boom"));
  ASSERT_TRUE(store->setStepState(runId, "copy", StepState::Done, "marked done by the operator"))
      << store->lastError();
  const StepRecord copy = store->steps(runId)[0];
  EXPECT_EQ(nameOf(copy.state), "done");
  EXPECT_EQ(copy.message, "marked done by the operator");
  EXPECT_EQ(copy.attempts, 1);
  EXPECT_EQ(copy.startedAt, 100);
  EXPECT_EQ(copy.finishedAt, 200);
  EXPECT_EQ(copy.exitCode, 4);
  EXPECT_EQ(copy.order, 1);
}

TEST_F(StateStoreTest, ListsAttemptsInStartOrder) {
  auto store = open();
  const int64_t runId = store->createRun(sampleRun("alpha"), {"copy", "other"}).value();
  ASSERT_TRUE(store->processStarted(runId, "copy", ProcessKind::Run, 1, 100, "logs/copy.1.log",
                                    StepState::Running));
  ASSERT_TRUE(store->processFinished(runId, "copy", ProcessKind::Run, 1, 150,
                                     ProcessOutcome::TimedOut, std::nullopt, StepState::Running,
                                     "timed out"));
  ASSERT_TRUE(store->processStarted(runId, "other", ProcessKind::Run, 1, 160, "logs/other.log",
                                    StepState::Running));
  ASSERT_TRUE(store->processStarted(runId, "copy", ProcessKind::Run, 2, 200, "logs/copy.2.log",
                                    StepState::Running));
  ASSERT_TRUE(store->processFinished(runId, "copy", ProcessKind::Run, 2, 250,
                                     ProcessOutcome::Exited, 0, StepState::Done, ""));
  ASSERT_TRUE(store->processStarted(runId, "copy", ProcessKind::Undo, 1, 300, "logs/copy.undo.log",
                                    StepState::Undoing));

  const auto attempts = store->attempts(runId, "copy");
  ASSERT_EQ(attempts.size(), 3u) << store->lastError();
  EXPECT_EQ(attempts[0].step, "copy");
  EXPECT_EQ(nameOf(attempts[0].kind), "run");
  EXPECT_EQ(attempts[0].attempt, 1);
  EXPECT_EQ(attempts[0].startedAt, 100);
  EXPECT_EQ(attempts[0].finishedAt, 150);
  EXPECT_EQ(nameOf(attempts[0].outcome), "timed_out");
  EXPECT_FALSE(attempts[0].exitCode.has_value());
  EXPECT_EQ(attempts[0].logPath, "logs/copy.1.log");

  EXPECT_EQ(nameOf(attempts[1].kind), "run");
  EXPECT_EQ(attempts[1].attempt, 2);
  EXPECT_EQ(nameOf(attempts[1].outcome), "exited");
  EXPECT_EQ(attempts[1].exitCode, 0);
  EXPECT_EQ(attempts[1].finishedAt, 250);
  EXPECT_EQ(attempts[1].logPath, "logs/copy.2.log");

  EXPECT_EQ(nameOf(attempts[2].kind), "undo");
  EXPECT_EQ(attempts[2].attempt, 1);
  EXPECT_EQ(attempts[2].startedAt, 300);
  EXPECT_EQ(attempts[2].finishedAt, 0);
  EXPECT_EQ(nameOf(attempts[2].outcome), "");
  EXPECT_FALSE(attempts[2].exitCode.has_value());

  EXPECT_EQ(store->attempts(runId, "other").size(), 1u);
  EXPECT_TRUE(store->attempts(runId, "missing").empty());
  EXPECT_EQ(store->lastError(), "");
}

TEST_F(StateStoreTest, ProcessOfUnknownStepIsRefusedAndChangesNothing) {
  auto store = open();
  const int64_t runId = store->createRun(sampleRun("alpha"), {"copy"}).value();

  EXPECT_FALSE(
      store->processStarted(runId, "cpoy", ProcessKind::Run, 1, 100, "", StepState::Running));
  EXPECT_EQ(store->lastError(), "cannot record the start of run 1 of step 'cpoy' of run " +
                                    std::to_string(runId) + " in '" + path_ +
                                    "': the run has no such step");

  EXPECT_EQ(nameOf(store->steps(runId)[0].state), "pending");
  EXPECT_TRUE(store->attempts(runId, "copy").empty());

  EXPECT_FALSE(store->processFinished(runId, "copy", ProcessKind::Run, 1, 200,
                                      ProcessOutcome::Exited, 0, StepState::Done, ""));
  EXPECT_EQ(store->lastError(), "cannot record the end of run 1 of step 'copy' of run " +
                                    std::to_string(runId) + " in '" + path_ +
                                    "': that process was never journaled");
  EXPECT_EQ(nameOf(store->steps(runId)[0].state), "pending");

  EXPECT_FALSE(store->setStepState(runId, "cpoy", StepState::Done, ""));
  EXPECT_NE(store->lastError().find("the run has no such step"), std::string::npos);
}

TEST_F(StateStoreTest, CommittedStartSurvivesKillOfTheProcess) {
  int64_t runId = 0;
  {
    auto store = open();
    runId = store->createRun(sampleRun("alpha"), {"prepare", "copy"}).value();
  }
  killedAfterWriting([&](StateStore& store) {
    return store.processStarted(runId, "copy", ProcessKind::Run, 1, 2'000, "logs/copy.log",
                                StepState::Running);
  });
  EXPECT_TRUE(fs::exists(path_ + "-wal"));

  auto store = open();
  const auto steps = store->steps(runId);
  ASSERT_EQ(steps.size(), 2u) << store->lastError();
  EXPECT_EQ(nameOf(steps[0].state), "pending");
  EXPECT_EQ(nameOf(steps[1].state), "running");
  EXPECT_EQ(steps[1].attempts, 1);
  EXPECT_EQ(steps[1].startedAt, 2'000);
  const auto attempts = store->attempts(runId, "copy");
  ASSERT_EQ(attempts.size(), 1u);
  EXPECT_EQ(attempts[0].finishedAt, 0);
  EXPECT_EQ(attempts[0].logPath, "logs/copy.log");
}

TEST_F(StateStoreTest, RefusesFileThatIsNotADatabase) {
  std::mt19937 random(20240229);
  std::string bytes(8192, '\0');
  for (char& byte : bytes) byte = static_cast<char>(random());
  writeBytes(bytes);
  EXPECT_EQ(openError(), "'" + path_ + "' is not a mig state database: file is not a database");
}

TEST_F(StateStoreTest, RefusesSqliteDatabaseOfAnotherProgram) {
  fs::create_directories(fs::path(path_).parent_path());
  execOnFile(path_, "CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)");
  EXPECT_EQ(openError(), "'" + path_ +
                             "' is not a mig state database: it holds tables of another program "
                             "and no mig schema version");
}

TEST_F(StateStoreTest, RefusesJournalWithoutSchemaVersion) {
  open().reset();
  execOnFile(path_, "DELETE FROM mig_meta");
  EXPECT_EQ(openError(),
            "'" + path_ + "' is not a mig state database: it has no mig schema version");
}

TEST_F(StateStoreTest, RefusesJournalOfANewerSchema) {
  open().reset();
  execOnFile(path_, "UPDATE mig_meta SET value = '7' WHERE key = 'schema_version'");
  EXPECT_EQ(openError(), "'" + path_ +
                             "' was written by a newer mig: its schema version is 7, this mig "
                             "reads up to 2");
}

TEST_F(StateStoreTest, ReportsDamagedPagesWithoutCrashing) {
  {
    auto store = open();
    for (int i = 0; i < 20; ++i) {
      ASSERT_TRUE(store->createRun(sampleRun("plan" + std::to_string(i)), {"a", "b", "c"}));
    }
  }
  // Keep page 1 (the header and the list of tables), garble the rest.
  const auto size = fs::file_size(path_);
  ASSERT_GT(size, 4096u);
  std::fstream file(path_, std::ios::binary | std::ios::in | std::ios::out);
  file.seekp(4096);
  std::mt19937 random(7);
  for (auto offset = 4096u; offset < size; ++offset) file.put(static_cast<char>(random()));
  file.close();

  EXPECT_EQ(openError(), "'" + path_ + "' is damaged: database disk image is malformed");
}

TEST_F(StateStoreTest, ReportsFolderThatCannotBeCreated) {
  writeBytes("");
  path_ = path_ + "/inner/state.db";  // below a regular file
  const std::string error = openError();
  EXPECT_EQ(error.rfind("cannot create the folder '" + fs::path(path_).parent_path().string() +
                            "' for the state database: ",
                        0),
            0u)
      << error;
  EXPECT_NE(error.find("Not a directory"), std::string::npos) << error;
}

TEST_F(StateStoreTest, RefusesReadOnlyFile) {
  open().reset();
  fs::permissions(path_, fs::perms::owner_read | fs::perms::group_read | fs::perms::others_read);
  for (const fs::path& folder : {root_, root_ / ".mig"}) {
    fs::permissions(folder, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                fs::perms::others_read | fs::perms::others_exec);
  }
  // Permission bits do not stop root: become nobody in a child to see them.
  Child child([&](int) -> std::string {
    constexpr uid_t kNobody = 65534;
    if (geteuid() == 0 && (setgid(kNobody) != 0 || setuid(kNobody) != 0)) return "skip";
    std::string error;
    auto store = StateStore::open(path_, false, error);
    if (store) return "opened";
    return error;
  });
  ASSERT_TRUE(child.started());
  const std::string result = child.result();
  if (result == "skip") GTEST_SKIP() << "cannot drop root privileges here";
  EXPECT_EQ(result, "cannot open '" + path_ + "': the file is read-only for this user");
}

TEST_F(StateStoreTest, FullDiskFailsTheWriteWithReasonAndLeavesNothingHalfWritten) {
  open().reset();
  // A file size limit is a full disk that even root runs into: writes past
  // it fail with EFBIG. The child lifts it again to check the store still
  // works afterwards.
  Child child([&](int) -> std::string {
    std::string error;
    auto store = StateStore::open(path_, false, error);
    if (!store) return "open failed: " + error;
    signal(SIGXFSZ, SIG_IGN);
    rlimit limit{};
    getrlimit(RLIMIT_FSIZE, &limit);
    const rlim_t previous = limit.rlim_cur;
    limit.rlim_cur = 64 * 1024;
    if (setrlimit(RLIMIT_FSIZE, &limit) != 0) return "setrlimit failed";

    RunRecord big = sampleRun("alpha");
    big.compiled.assign(2 * 1024 * 1024, 'x');
    std::string report;
    if (store->createRun(big, {"a", "b"})) {
      report = "the big run was written";
    } else {
      report = store->lastError();
    }
    limit.rlim_cur = previous;
    setrlimit(RLIMIT_FSIZE, &limit);
    if (!store->createRun(sampleRun("alpha"), {"a"})) {
      report += "\nretry failed: " + store->lastError();
    }
    return report;
  });
  ASSERT_TRUE(child.started());
  const std::string report = child.result();
  EXPECT_EQ(report.rfind("cannot create a run of plan 'alpha' in '" + path_ + "': ", 0), 0u)
      << report;
  EXPECT_NE(report.find("disk"), std::string::npos) << report;
  EXPECT_NE(report.find("File too large"), std::string::npos) << report;
  EXPECT_EQ(report.find("retry"), std::string::npos) << report;

  auto store = open();
  const auto run = store->lastRun("alpha");
  ASSERT_TRUE(run.has_value()) << store->lastError();
  EXPECT_EQ(run->id, 1);
  EXPECT_EQ(run->compiled, sampleRun("alpha").compiled);
  EXPECT_EQ(stepNames(store->steps(run->id)), std::vector<std::string>{"a"});
}

TEST_F(StateStoreTest, LockHeldTooLongFailsTheWriteWithReason) {
  auto store = open();
  const int64_t runId = store->createRun(sampleRun("alpha"), {"a"}).value();
  store->setBusyTimeout(std::chrono::milliseconds(100));

  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);

  EXPECT_FALSE(store->setRunState(runId, RunState::Failed, "", 5));
  EXPECT_EQ(store->lastError(), "cannot set the state of run " + std::to_string(runId) +
                                    " to 'failed' in '" + path_ +
                                    "': database is locked (another process kept it locked for "
                                    "more than 100 ms)");
  // Readers are not blocked by a writer.
  ASSERT_TRUE(store->run(runId).has_value());
  EXPECT_EQ(nameOf(store->run(runId)->state), "running");

  ASSERT_EQ(sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(other);
  EXPECT_TRUE(store->setRunState(runId, RunState::Failed, "", 5)) << store->lastError();
  EXPECT_EQ(store->lastError(), "");
}

TEST_F(StateStoreTest, TwoStoresOnOneFileInterleaveWrites) {
  auto first = open();
  auto second = open();
  const int64_t alpha = first->createRun(sampleRun("alpha"), {"a", "b"}).value();
  const int64_t beta = second->createRun(sampleRun("beta"), {"a", "b"}).value();
  for (const std::string step : {"a", "b"}) {
    ASSERT_TRUE(first->processStarted(alpha, step, ProcessKind::Run, 1, 10, "", StepState::Running))
        << first->lastError();
    ASSERT_TRUE(second->processStarted(beta, step, ProcessKind::Run, 1, 11, "", StepState::Running))
        << second->lastError();
    ASSERT_TRUE(second->processFinished(beta, step, ProcessKind::Run, 1, 20, ProcessOutcome::Exited,
                                        0, StepState::Done, ""))
        << second->lastError();
    ASSERT_TRUE(first->processFinished(alpha, step, ProcessKind::Run, 1, 21, ProcessOutcome::Exited,
                                       0, StepState::Done, ""))
        << first->lastError();
  }
  ASSERT_TRUE(first->setRunState(alpha, RunState::Succeeded, "", 30));
  ASSERT_TRUE(second->setRunState(beta, RunState::Succeeded, "", 31));

  EXPECT_EQ(first->plans(), (std::vector<std::string>{"alpha", "beta"}));
  EXPECT_EQ(nameOf(first->lastRun("beta")->state), "succeeded");
  EXPECT_EQ(nameOf(second->lastRun("alpha")->state), "succeeded");
  for (const int64_t runId : {alpha, beta}) {
    const auto steps = first->steps(runId);
    ASSERT_EQ(steps.size(), 2u);
    EXPECT_EQ(steps[0].order, 1);
    EXPECT_EQ(steps[1].order, 2);
  }
}

TEST_F(StateStoreTest, ProcessesOfDifferentPlansWriteAtTheSameTime) {
  constexpr int kSteps = 40;
  std::vector<std::string> names;
  for (int i = 0; i < kSteps; ++i) names.push_back("step" + std::to_string(i));
  // Both children create the file and its schema at once, then write.
  auto writer = [&](const std::string& plan) {
    return [&, plan](int) -> std::string {
      std::string error;
      auto store = StateStore::open(path_, false, error);
      if (!store) return "open failed: " + error;
      const auto runId = store->createRun(sampleRun(plan), names);
      if (!runId) return "create failed: " + store->lastError();
      for (const auto& step : names) {
        if (!store->processStarted(*runId, step, ProcessKind::Run, 1, 1, "", StepState::Running) ||
            !store->processFinished(*runId, step, ProcessKind::Run, 1, 2, ProcessOutcome::Exited, 0,
                                    StepState::Done, "")) {
          return "write failed: " + store->lastError();
        }
      }
      return std::string("ok");
    };
  };
  Child alpha(writer("alpha"));
  Child beta(writer("beta"));
  ASSERT_TRUE(alpha.started());
  ASSERT_TRUE(beta.started());
  EXPECT_EQ(alpha.result(), "ok");
  EXPECT_EQ(beta.result(), "ok");

  auto store = open();
  EXPECT_EQ(store->plans(), (std::vector<std::string>{"alpha", "beta"}));
  for (const std::string plan : {"alpha", "beta"}) {
    const auto run = store->lastRun(plan);
    ASSERT_TRUE(run.has_value()) << plan;
    const auto steps = store->steps(run->id);
    ASSERT_EQ(steps.size(), static_cast<size_t>(kSteps));
    for (int i = 0; i < kSteps; ++i) {
      EXPECT_EQ(nameOf(steps[i].state), "done");
      EXPECT_EQ(steps[i].order, i + 1);
    }
  }
}

// ------------------------------------------------------------ version 2

TEST_F(StateStoreTest, StatesOutsideTheirNameTablesAreRefusedByTheSchema) {
  const int64_t runId = open()->createRun(sampleRun("alpha"), {"copy"}).value();
  auto refused = [&](const std::string& sql) {
    std::string error = sqlErrorOnFile(path_, sql.c_str());
    EXPECT_NE(error.find("CHECK constraint failed"), std::string::npos) << sql << ": " << error;
  };
  refused("UPDATE runs SET state = 'finished'");
  refused("UPDATE steps SET state = 'complete'");
  refused(
      fmt::format("INSERT INTO attempts (run_id, step, kind, attempt, started_at, log_path) "
                  "VALUES ({}, 'copy', 'probe', 1, 0, '')",
                  runId));
  refused(
      fmt::format("INSERT INTO attempts (run_id, step, kind, attempt, started_at, log_path, "
                  "outcome) VALUES ({}, 'copy', 'run', 1, 0, '', 'exploded')",
                  runId));
  // Every name of every table is accepted.
  for (std::string_view state : StateNames<StepState>::names) {
    EXPECT_EQ(sqlErrorOnFile(path_, fmt::format("UPDATE steps SET state = '{}'", state).c_str()),
              "");
  }
}

TEST_F(StateStoreTest, RunsAreNumberedPerPlan) {
  auto store = open();
  const int64_t alpha1 = store->createRun(sampleRun("alpha"), {"a"}).value();
  const int64_t beta1 = store->createRun(sampleRun("beta"), {"a"}).value();
  const int64_t alpha2 = store->createRun(sampleRun("alpha"), {"a"}).value();
  EXPECT_EQ(store->run(alpha1)->number, 1);
  EXPECT_EQ(store->run(beta1)->number, 1);
  EXPECT_EQ(store->run(alpha2)->number, 2);
  EXPECT_EQ(store->lastRun("alpha")->number, 2);
}

TEST_F(StateStoreTest, AnUndoDoesNotChangeWhenTheStepFinished) {
  auto store = open();
  const int64_t runId = store->createRun(sampleRun("alpha"), {"copy"}).value();
  ASSERT_TRUE(
      store->processStarted(runId, "copy", ProcessKind::Run, 1, 1'000, "", StepState::Running));
  ASSERT_TRUE(store->processFinished(runId, "copy", ProcessKind::Run, 1, 2'000,
                                     ProcessOutcome::Exited, 0, StepState::Done, ""));
  ASSERT_TRUE(
      store->processStarted(runId, "copy", ProcessKind::Undo, 1, 90'000, "", StepState::Undoing));
  ASSERT_TRUE(store->processFinished(runId, "copy", ProcessKind::Undo, 1, 95'000,
                                     ProcessOutcome::Exited, 0, StepState::Undone, ""));
  const StepRecord step = store->steps(runId).at(0);
  EXPECT_EQ(step.state, StepState::Undone);
  EXPECT_EQ(step.finishedAt - step.startedAt, 1'000);
}

TEST_F(StateStoreTest, KeepsWhatALogIsMissing) {
  auto store = open();
  const int64_t runId = store->createRun(sampleRun("alpha"), {"copy"}).value();
  ASSERT_TRUE(store->processStarted(runId, "copy", ProcessKind::Run, 1, 1'000, "copy.log",
                                    StepState::Running));
  ASSERT_TRUE(store->processFinished(runId, "copy", ProcessKind::Run, 1, 2'000,
                                     ProcessOutcome::Exited, 0, StepState::Done, "",
                                     "cannot write 'copy.log': No space left on device"));
  EXPECT_EQ(store->attempts(runId, "copy").at(0).logNote,
            "cannot write 'copy.log': No space left on device");
}

/// The first layout, as mig wrote it before version 2.
constexpr const char* kVersion1Schema = R"sql(
CREATE TABLE mig_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE runs (id INTEGER PRIMARY KEY AUTOINCREMENT, plan TEXT NOT NULL,
  plan_hash TEXT NOT NULL, plan_file TEXT NOT NULL, state TEXT NOT NULL, message TEXT NOT NULL,
  started_at INTEGER NOT NULL, finished_at INTEGER NOT NULL DEFAULT 0, switchover_at INTEGER,
  retain_until INTEGER, host TEXT NOT NULL, pid INTEGER NOT NULL);
CREATE INDEX runs_by_plan ON runs (plan, id);
CREATE TABLE compiled_plans (plan_hash TEXT PRIMARY KEY, compiled TEXT NOT NULL);
CREATE TABLE steps (run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  position INTEGER NOT NULL, name TEXT NOT NULL, state TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0, started_at INTEGER NOT NULL DEFAULT 0,
  finished_at INTEGER NOT NULL DEFAULT 0, exit_code INTEGER, message TEXT NOT NULL DEFAULT '',
  completion_order INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (run_id, name)) WITHOUT ROWID;
CREATE TABLE attempts (id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL, step TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('run', 'check', 'undo')), attempt INTEGER NOT NULL,
  started_at INTEGER NOT NULL, finished_at INTEGER NOT NULL DEFAULT 0, exit_code INTEGER,
  outcome TEXT NOT NULL DEFAULT '', log_path TEXT NOT NULL,
  FOREIGN KEY (run_id, step) REFERENCES steps (run_id, name) ON DELETE CASCADE);
INSERT INTO mig_meta VALUES ('schema_version', '1');
INSERT INTO runs VALUES (1, 'alpha', 'h1', 'a.mig', 'rolled_back', 'step b failed', 10, 20, NULL,
                         NULL, 'web1', 41);
INSERT INTO runs VALUES (2, 'beta', 'h2', 'b.mig', 'succeeded', '', 30, 40, 35, 99, 'web1', 42);
INSERT INTO runs VALUES (3, 'alpha', 'h1', 'a.mig', 'running', '', 50, 0, NULL, NULL, 'web1', 43);
INSERT INTO steps VALUES (3, 0, 'copy', 'done', 1, 51, 52, 0, '', 1);
INSERT INTO steps VALUES (3, 1, 'load', 'running', 1, 53, 0, NULL, '', 0);
INSERT INTO attempts VALUES (7, 3, 'copy', 'run', 1, 51, 52, 0, 'exited', 'logs/copy.log');
INSERT INTO attempts VALUES (8, 3, 'load', 'run', 1, 53, 0, NULL, '', 'logs/load.log');
)sql";

TEST_F(StateStoreTest, UpgradesAVersion1JournalKeepingEveryRun) {
  fs::create_directories(fs::path(path_).parent_path());
  execOnFile(path_, kVersion1Schema);
  auto store = open();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->plans(), (std::vector<std::string>{"alpha", "beta"}));
  const std::optional<RunRecord> alpha = store->lastRun("alpha");
  ASSERT_TRUE(alpha) << store->lastError();
  EXPECT_EQ(alpha->id, 3);
  EXPECT_EQ(alpha->number, 2);
  EXPECT_EQ(alpha->state, RunState::Running);
  EXPECT_EQ(store->run(1)->state, RunState::RolledBack);
  EXPECT_EQ(store->run(1)->message, "step b failed");
  EXPECT_EQ(store->lastRun("beta")->number, 1);
  EXPECT_EQ(store->lastRun("beta")->retainUntil, 99);
  const std::vector<StepRecord> steps = store->steps(3);
  ASSERT_EQ(stepNames(steps), (std::vector<std::string>{"copy", "load"}));
  EXPECT_EQ(steps[0].state, StepState::Done);
  EXPECT_EQ(steps[1].state, StepState::Running);
  const std::vector<AttemptRecord> attempts = store->attempts(3, "load");
  ASSERT_EQ(attempts.size(), 1u);
  EXPECT_EQ(attempts[0].outcome, ProcessOutcome::Unfinished);
  // The upgraded journal goes on: the resumed run's step ends, a new run
  // of alpha is its third.
  EXPECT_TRUE(store->processFinished(3, "load", ProcessKind::Run, 1, 60, ProcessOutcome::Exited, 0,
                                     StepState::Done, ""))
      << store->lastError();
  EXPECT_EQ(store->run(store->createRun(sampleRun("alpha"), {"copy"}).value())->number, 3);
  store.reset();
  EXPECT_EQ(sqlErrorOnFile(path_, "UPDATE runs SET state = 'finished'").find("CHECK"), 0u);
}

// ------------------------------------------------------------ the seal

TEST_F(StateStoreTest, AnEmptiedJournalIsDamagedNotNew) {
  {
    auto store = open();
    ASSERT_TRUE(store->createRun(sampleRun("alpha"), {"copy"}));
  }
  ASSERT_TRUE(fs::exists(path_ + "-seal"));
  fs::resize_file(path_, 0);
  const std::string error = openError();
  EXPECT_NE(error.find("'" + path_ + "' is damaged: it is empty, but its seal"), std::string::npos)
      << error;
  EXPECT_NE(error.find("lost everything it had"), std::string::npos) << error;
  // Nothing was written over it: it is still empty.
  EXPECT_EQ(fs::file_size(path_), 0u);
}

TEST_F(StateStoreTest, AJournalShortOfCommitsIsDamaged) {
  // A copy of the journal after its first run, put back after a second.
  const fs::path older = root_ / "older.db";
  {
    auto store = open();
    ASSERT_TRUE(store->createRun(sampleRun("alpha"), {"copy"}));
  }
  fs::copy_file(path_, older);
  {
    auto store = open();
    ASSERT_TRUE(store->createRun(sampleRun("alpha"), {"copy"}));
  }
  fs::copy_file(older, path_, fs::copy_options::overwrite_existing);
  const std::string error = openError();
  EXPECT_NE(error.find("is damaged: it holds"), std::string::npos) << error;
  EXPECT_NE(error.find("were lost"), std::string::npos) << error;
  // Removing the seal is how an operator accepts the older journal.
  fs::remove(path_ + "-seal");
  auto store = open();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->lastRun("alpha")->number, 1);
}

TEST_F(StateStoreTest, GarbageInTheWriteAheadLogIsDamageNotAnOlderState) {
  int64_t runId = 0;
  {
    auto store = open();
    runId = store->createRun(sampleRun("alpha"), {"prepare", "copy"}).value();
  }
  // Two commits, left in the write-ahead log.
  killedAfterWriting([&](StateStore& store) {
    return store.processStarted(runId, "prepare", ProcessKind::Run, 1, 1'000, "",
                                StepState::Running) &&
           store.processFinished(runId, "prepare", ProcessKind::Run, 1, 2'000,
                                 ProcessOutcome::Exited, 0, StepState::Done, "");
  });
  const std::string wal = path_ + "-wal";
  ASSERT_TRUE(fs::exists(wal));
  const auto size = fs::file_size(wal);
  ASSERT_GT(size, 4096u);
  // Garble the last frame: SQLite drops it, and the commit it ends.
  std::fstream file(wal, std::ios::binary | std::ios::in | std::ios::out);
  file.seekp(static_cast<std::streamoff>(size - 2048));
  for (int i = 0; i < 2048; ++i) file.put(static_cast<char>(0x5a));
  file.close();

  const std::string error = openError();
  EXPECT_NE(error.find("is damaged: it holds"), std::string::npos) << error;
  EXPECT_NE(error.find("write-ahead log"), std::string::npos) << error;
}

TEST_F(StateStoreTest, ASealOfAnotherJournalIsRefused) {
  open()->createRun(sampleRun("alpha"), {"copy"});
  const std::string seal = path_ + "-seal";
  fs::copy_file(seal, root_ / "seal");
  fs::remove(path_);
  fs::remove(seal);
  open()->createRun(sampleRun("beta"), {"copy"});  // a new journal, another id
  fs::copy_file(root_ / "seal", seal, fs::copy_options::overwrite_existing);
  const std::string error = openError();
  EXPECT_NE(error.find("belongs to another journal"), std::string::npos) << error;
}

// Another process creates the seal, then writes it: one opening the
// journal in between finds it empty, which is no damage (it was a race of
// two runners of different plans starting at once).
TEST_F(StateStoreTest, AnEmptySealIsOneBeingWrittenNotADamagedOne) {
  open()->createRun(sampleRun("alpha"), {"copy"});
  const std::string seal = path_ + "-seal";
  std::ofstream(seal, std::ios::trunc).close();
  ASSERT_EQ(fs::file_size(seal), 0u);
  EXPECT_NE(open(), nullptr);
  EXPECT_GT(fs::file_size(seal), 0u) << "written again by the opening";
  // A seal with other text is still refused.
  std::ofstream(seal, std::ios::trunc) << "not a seal\n";
  EXPECT_NE(openError().find("is not a journal seal written by mig"), std::string::npos);
}

}  // namespace
}  // namespace mig::runtime
