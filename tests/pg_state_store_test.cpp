// The PostgreSQL journal keeps the SQLite journal's promises
// (state_store_test.cpp), against a real server the harness starts on
// loopback: records round-trip, steps keep their order and completion
// order, failed writes leave nothing half-written, a batch is one
// transaction nobody else sees before it commits, logs are kept in the
// journal, and the advisory plan lock admits one holder and names it.
#include "runtime/pg_state_store.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "test_support.h"
#include "tests/harness/servers.h"

namespace mig::runtime {
namespace {

namespace fs = std::filesystem;
using testing::PostgresServer;

const char* kPassword = "Store-pass-3307";

RunRecord sampleRun(const std::string& plan) {
  RunRecord run;
  run.plan = plan;
  run.planHash = "sha256:" + plan;
  run.planFile = plan + ".mig";
  run.compiled = R"({"schema":1,"text":"quotes ' and \" and \\ and ünïcode"})";
  run.startedAt = 1'000;
  run.host = "db-runner-1";
  run.pid = 4321;
  return run;
}

class PgStateStoreTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::string error;
    server_ = PostgresServer::start(kPassword, error).release();
    ASSERT_NE(server_, nullptr) << error;
    setenv("PGPASSWORD", kPassword, 1);
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
    unsetenv("PGPASSWORD");
  }
  void SetUp() override {
    ASSERT_NE(server_, nullptr);
    std::string database =
        fmt::format("j_{}", ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::transform(database.begin(), database.end(), database.begin(), ::tolower);
    std::string error;
    ASSERT_TRUE(server_->createDatabase(database, &error)) << error;
    url_ = server_->url(database);
  }

  std::unique_ptr<StateStore> open() {
    std::string error;
    auto store = StateStore::open(url_, false, error);
    EXPECT_NE(store, nullptr) << error;
    return store;
  }

  static PostgresServer* server_;
  std::string url_;
};

PostgresServer* PgStateStoreTest::server_ = nullptr;

TEST_F(PgStateStoreTest, RecordsRoundTripAndStepsKeepTheirOrders) {
  auto store = open();
  ASSERT_TRUE(store);
  const int64_t runId = store->createRun(sampleRun("alpha"), {"zeta", "alpha", "mid"}).value();
  const int64_t other = store->createRun(sampleRun("alpha"), {"a"}).value();
  EXPECT_EQ(store->run(other)->number, 2);
  EXPECT_EQ(store->lastRun("alpha")->id, other);
  EXPECT_EQ(store->plans(), std::vector<std::string>{"alpha"});
  EXPECT_EQ(store->runs("alpha").size(), 2u);

  auto run = store->run(runId);
  ASSERT_TRUE(run) << store->lastError();
  EXPECT_EQ(run->compiled, sampleRun("alpha").compiled);
  EXPECT_EQ(run->host, "db-runner-1");
  ASSERT_TRUE(store->setSwitchover(runId, 5'000, 9'000));
  ASSERT_TRUE(store->setRunner(runId, "db-runner-2", 99));
  ASSERT_TRUE(store->setRunState(runId, RunState::Paused, "verification failed", 9'500));
  run = store->run(runId);
  EXPECT_EQ(run->switchoverAt, 5'000);
  EXPECT_EQ(run->retainUntil, 9'000);
  EXPECT_EQ(run->pid, 99);
  EXPECT_EQ(nameOf(run->state), "paused");
  EXPECT_EQ(run->finishedAt, 9'500);

  // mid is done first, then zeta after a failed attempt; an undo does not
  // move zeta's finish time.
  ASSERT_TRUE(
      store->processStarted(runId, "mid", ProcessKind::Run, 1, 1'000, "m.log", StepState::Running));
  ASSERT_TRUE(store->processFinished(runId, "mid", ProcessKind::Run, 1, 1'100,
                                     ProcessOutcome::Exited, 0, StepState::Done, ""));
  ASSERT_TRUE(store->processStarted(runId, "zeta", ProcessKind::Run, 1, 2'000, "z1.log",
                                    StepState::Running));
  ASSERT_TRUE(store->processFinished(runId, "zeta", ProcessKind::Run, 1, 2'100,
                                     ProcessOutcome::Exited, 3, StepState::Running, "exit 3"));
  ASSERT_TRUE(store->processStarted(runId, "zeta", ProcessKind::Run, 2, 3'000, "z2.log",
                                    StepState::Running));
  ASSERT_TRUE(store->processFinished(runId, "zeta", ProcessKind::Run, 2, 3'500,
                                     ProcessOutcome::Exited, 0, StepState::Done, ""));
  ASSERT_TRUE(store->processStarted(runId, "zeta", ProcessKind::Undo, 1, 4'000, "u.log",
                                    StepState::Undoing));
  ASSERT_TRUE(store->processFinished(runId, "zeta", ProcessKind::Undo, 1, 4'500,
                                     ProcessOutcome::Exited, 0, StepState::Undone, ""));
  ASSERT_TRUE(store->setStepState(runId, "alpha", StepState::Done, "marked done by hand"));

  std::vector<StepRecord> steps = store->steps(runId);
  ASSERT_EQ(steps.size(), 3u);
  EXPECT_EQ(steps[0].step, "zeta");
  EXPECT_EQ(nameOf(steps[0].state), "undone");
  EXPECT_EQ(steps[0].attempts, 2);
  EXPECT_EQ(steps[0].startedAt, 2'000);
  EXPECT_EQ(steps[0].finishedAt, 3'500);
  EXPECT_EQ(steps[0].order, 2);
  EXPECT_EQ(steps[1].step, "alpha");
  EXPECT_EQ(steps[1].order, 3);
  EXPECT_EQ(steps[1].message, "marked done by hand");
  EXPECT_EQ(steps[2].step, "mid");
  EXPECT_EQ(steps[2].order, 1);
  std::vector<AttemptRecord> attempts = store->attempts(runId, "zeta");
  ASSERT_EQ(attempts.size(), 3u);
  EXPECT_EQ(attempts[0].exitCode, 3);
  EXPECT_EQ(attempts[1].logPath, "z2.log");
  EXPECT_EQ(nameOf(attempts[2].kind), "undo");
}

TEST_F(PgStateStoreTest, AFailedWriteLeavesNothingHalfWritten) {
  auto store = open();
  ASSERT_TRUE(store);
  EXPECT_FALSE(store->createRun(sampleRun("alpha"), {"a", "b", "a"}));
  EXPECT_NE(store->lastError().find("cannot create a run of plan 'alpha' in the journal " + url_),
            std::string::npos)
      << store->lastError();
  EXPECT_TRUE(store->plans().empty());
  EXPECT_FALSE(store->run(42));
  EXPECT_EQ(store->lastError(),
            fmt::format("cannot read run 42 in the journal {}: there is no such run", url_));
  const int64_t runId = store->createRun(sampleRun("alpha"), {"a"}).value();
  EXPECT_FALSE(
      store->processStarted(runId, "nope", ProcessKind::Run, 1, 1, "x", StepState::Running));
  EXPECT_NE(store->lastError().find("the run has no such step"), std::string::npos);
  EXPECT_TRUE(store->attempts(runId, "nope").empty());
  EXPECT_FALSE(store->processFinished(runId, "a", ProcessKind::Run, 1, 1, ProcessOutcome::Exited, 0,
                                      StepState::Done, ""));
  EXPECT_NE(store->lastError().find("that process was never journaled"), std::string::npos);
  EXPECT_EQ(nameOf(store->steps(runId)[0].state), "pending");
}

TEST_F(PgStateStoreTest, ABatchIsOneTransactionOthersSeeOnlyOnceCommitted) {
  auto store = open();
  auto other = open();
  ASSERT_TRUE(store && other);
  const int64_t runId = store->createRun(sampleRun("alpha"), {"a", "b"}).value();
  ASSERT_TRUE(store->beginBatch());
  ASSERT_TRUE(
      store->processStarted(runId, "a", ProcessKind::Run, 1, 1'000, "a.log", StepState::Running));
  ASSERT_TRUE(
      store->processStarted(runId, "b", ProcessKind::Run, 1, 1'000, "b.log", StepState::Running));
  EXPECT_EQ(nameOf(other->steps(runId)[0].state), "pending");
  ASSERT_TRUE(store->commitBatch()) << store->lastError();
  EXPECT_EQ(nameOf(other->steps(runId)[0].state), "running");
  EXPECT_EQ(nameOf(other->steps(runId)[1].state), "running");

  ASSERT_TRUE(store->beginBatch());
  ASSERT_TRUE(store->processFinished(runId, "a", ProcessKind::Run, 1, 2'000, ProcessOutcome::Exited,
                                     0, StepState::Done, ""));
  store->abortBatch();
  EXPECT_EQ(nameOf(other->steps(runId)[0].state), "running");
  // Aborted: the order given in it is given again.
  ASSERT_TRUE(store->processFinished(runId, "a", ProcessKind::Run, 1, 2'000, ProcessOutcome::Exited,
                                     0, StepState::Done, ""));
  EXPECT_EQ(other->steps(runId)[0].order, 1);
}

TEST_F(PgStateStoreTest, KeepsEachProcesssLog) {
  auto store = open();
  ASSERT_TRUE(store);
  fs::path log = fs::temp_directory_path() / fmt::format("mig-pg-log-{}.log", getpid());
  std::string output = "line one\n" + std::string(1, '\0') + "\xff binary\n";
  testing::writeFile(log, output);
  const int64_t runId = store->createRun(sampleRun("alpha"), {"a"}).value();
  ASSERT_TRUE(
      store->processStarted(runId, "a", ProcessKind::Run, 1, 1, log.string(), StepState::Running));
  EXPECT_FALSE(store->storedLog(runId, "a", ProcessKind::Run, 1));
  ASSERT_TRUE(store->processFinished(runId, "a", ProcessKind::Run, 1, 2, ProcessOutcome::Exited, 0,
                                     StepState::Done, ""));
  fs::remove(log);
  auto kept = open()->storedLog(runId, "a", ProcessKind::Run, 1);
  ASSERT_TRUE(kept);
  EXPECT_EQ(*kept, output);
}

TEST_F(PgStateStoreTest, TheAdvisoryLockAdmitsOneHolderAndNamesIt) {
  ASSERT_TRUE(open());  // the schema, with its table of holders
  PlanLock::Status status;
  std::string message;
  auto held = acquireAdvisoryPlanLock(url_, "alpha", status, message);
  ASSERT_EQ(status, PlanLock::Status::Acquired) << message;
  std::string error;
  EXPECT_EQ(held->claim(error), "");
  EXPECT_EQ(error, "");

  auto second = acquireAdvisoryPlanLock(url_, "alpha", status, message);
  EXPECT_EQ(second, nullptr);
  EXPECT_EQ(status, PlanLock::Status::Held);
  EXPECT_EQ(message.find("plan alpha is being run by another mig (host "), 0u) << message;
  EXPECT_NE(message.find(fmt::format(", pid {}, since ", getpid())), std::string::npos) << message;
  // Another plan is free.
  auto beta = acquireAdvisoryPlanLock(url_, "beta", status, message);
  EXPECT_EQ(status, PlanLock::Status::Acquired) << message;

  held.reset();
  auto third = acquireAdvisoryPlanLock(url_, "alpha", status, message);
  EXPECT_EQ(status, PlanLock::Status::Acquired) << message;
  // Its holder released it in good order: nothing to take over.
  EXPECT_EQ(third->claim(error), "");
}

}  // namespace
}  // namespace mig::runtime
