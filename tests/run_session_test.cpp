// The run lifecycle (start, resume, rollback) with a fake runner, clock and
// services: what each command decides from the journal, under the lock.
// The same commands with real processes are in run_e2e_test.
#include "runtime/run_session.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>

#include "runtime_fakes.h"
#include "test_support.h"

namespace mig::runtime {
namespace {

namespace fs = std::filesystem;

class FakeServices : public SessionServices {
 public:
  fs::path stateDir;                  ///< where the plan's lock file goes
  std::vector<std::string> problems;  ///< what preflight finds
  std::vector<std::string> warnings;
  std::vector<std::string> announcements;
  int leftovers = 0;  ///< processes a killed runner left
  int preflights = 0;

  std::unique_ptr<PlanLock> lock(const std::string& plan, PlanLock::Status& status,
                                 std::string& message) override {
    return PlanLock::acquire(stateDir.string(), plan, status, message);
  }
  std::vector<std::string> preflight(const graph::Graph&, const std::set<std::string>&,
                                     const std::set<std::string>&) override {
    ++preflights;
    return problems;
  }
  std::unique_ptr<CommandPreparer> preparer(const graph::Graph&, const RunRecord&) override {
    return std::make_unique<SimplePreparer>();
  }
  int stopLeftovers(const std::string&) override { return std::exchange(leftovers, 0); }
  void warn(const std::string& message) override { warnings.push_back(message); }
  void announce(const std::string& message) override { announcements.push_back(message); }
};

class RunSessionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("mig-session-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "locks");
    ::setenv("MIG_LOCK_DIR", (dir_ / "locks").c_str(), 1);
    services_.stateDir = dir_ / ".mig";
    std::string error;
    journal_ = StateStore::open((dir_ / ".mig" / "state.db").string(), false, error);
    ASSERT_TRUE(journal_) << error;
  }
  void TearDown() override {
    ::unsetenv("MIG_LOCK_DIR");
    journal_.reset();
    fs::remove_all(dir_);
  }

  /// A session as one command runs it; `services_` and the runner are kept
  /// across sessions so tests can see everything that ran.
  SessionReport start(const graph::Graph& plan, SessionOptions options = {}) {
    RunSession session(*journal_, clock_, runner_, sink_, services_, {"test", 1}, options);
    return session.start(plan, "plan.mig");
  }
  SessionReport resume(const std::string& plan, const std::optional<graph::Graph>& current,
                       SessionOptions options = {}) {
    RunSession session(*journal_, clock_, runner_, sink_, services_, {"test", 1}, options);
    return session.resume(plan, current);
  }
  SessionReport rollback(const std::string& plan, SessionOptions options = {}) {
    RunSession session(*journal_, clock_, runner_, sink_, services_, {"test", 1}, options);
    return session.rollback(plan);
  }

  /// A run of `plan` as a runner killed with kill -9 leaves it: `done`
  /// finished, `cutShort` started (their `do`, or their undo when `undoing`),
  /// by a runner on `host` (the session's own by default).
  int64_t killedRun(const graph::Graph& plan, const std::vector<std::string>& done,
                    const std::vector<std::string>& cutShort, bool undoing = false,
                    const std::string& host = "test") {
    RunRecord record;
    record.host = host;
    record.pid = 999;
    record.plan = plan.plan;
    record.planHash = plan.planHash;
    record.compiled = graph::toJson(plan);
    std::vector<std::string> steps;
    for (const graph::Node& node : plan.nodes) {
      if (!node.isBarrier()) steps.push_back(node.id);
    }
    int64_t runId = journal_->createRun(record, steps).value();
    for (const std::string& step : done) {
      EXPECT_TRUE(
          journal_->processStarted(runId, step, ProcessKind::Run, 1, 0, "", StepState::Running));
      EXPECT_TRUE(journal_->processFinished(runId, step, ProcessKind::Run, 1, 1,
                                            ProcessOutcome::Exited, 0, StepState::Done, ""));
    }
    for (const std::string& step : cutShort) {
      if (undoing) {
        EXPECT_TRUE(
            journal_->processStarted(runId, step, ProcessKind::Run, 1, 0, "", StepState::Running));
        EXPECT_TRUE(journal_->processFinished(runId, step, ProcessKind::Run, 1, 1,
                                              ProcessOutcome::Exited, 0, StepState::Done, ""));
        EXPECT_TRUE(journal_->setRunState(runId, RunState::RollingBack, "rollback requested", 0));
      }
      EXPECT_TRUE(journal_->processStarted(runId, step,
                                           undoing ? ProcessKind::Undo : ProcessKind::Run, 1, 2, "",
                                           undoing ? StepState::Undoing : StepState::Running));
    }
    return runId;
  }

  std::string state(int64_t runId, const std::string& step) {
    for (const StepRecord& record : journal_->steps(runId)) {
      if (record.step == step) return std::string(nameOf(record.state));
    }
    return "?";
  }

  fs::path dir_;
  std::unique_ptr<StateStore> journal_;
  FakeClock clock_{kStart};
  FakeRunner runner_{clock_};
  RecordingSink sink_;
  FakeServices services_;
};

const char* kTwoSteps =
    "  phase migration {\n"
    "    step a {\n      do   sh(\"a\")\n      undo sh(\"undo a\")\n    }\n"
    "    step b {\n      do   sh(\"b\")\n      undo sh(\"undo b\")\n      after a\n    }\n"
    "  }\n";

TEST_F(RunSessionTest, StartRunsThePlanAndNumbersTheRun) {
  graph::Graph plan = compilePlan(kTwoSteps);
  SessionReport first = start(plan);
  EXPECT_EQ(first.result, SessionResult::Succeeded) << first.message;
  SessionReport second = start(plan);
  EXPECT_EQ(second.result, SessionResult::Succeeded) << second.message;
  EXPECT_EQ(services_.announcements,
            (std::vector<std::string>{"run 1 of plan p (2 steps)", "run 2 of plan p (2 steps)"}));
  EXPECT_EQ(runner_.started, (std::vector<std::string>{"a", "b", "a", "b"}));
}

TEST_F(RunSessionTest, StartRefusesWhileTheLastRunIsUnfinishedUnlessRestarted) {
  graph::Graph plan = compilePlan(kTwoSteps);
  int64_t killed = killedRun(plan, {"a"}, {"b"});
  services_.leftovers = 2;
  SessionReport refused = start(plan);
  EXPECT_EQ(refused.result, SessionResult::NeedsDecision);
  EXPECT_NE(refused.message.find("run 1 of plan p is unfinished"), std::string::npos)
      << refused.message;
  EXPECT_TRUE(runner_.started.empty());
  EXPECT_EQ(services_.preflights, 0);

  SessionOptions restart;
  restart.restart = true;
  SessionReport restarted = start(plan, restart);
  EXPECT_EQ(restarted.result, SessionResult::Succeeded) << restarted.message;
  EXPECT_EQ(journal_->run(killed)->state, RunState::Abandoned);
  EXPECT_EQ(services_.warnings,
            std::vector<std::string>{"stopped 2 processes left running by the interrupted runner"});
}

TEST_F(RunSessionTest, PreflightProblemsRunNothingAndRecordNoRun) {
  services_.problems = {"command pg_dump is not on PATH (needed by p.mig:3)"};
  SessionReport report = start(compilePlan(kTwoSteps));
  EXPECT_EQ(report.result, SessionResult::PreflightFailed);
  EXPECT_EQ(report.details, services_.problems);
  EXPECT_TRUE(runner_.started.empty());
  EXPECT_FALSE(journal_->lastRun("p").has_value());
}

TEST_F(RunSessionTest, ASecondRunnerIsLockedOut) {
  PlanLock::Status status;
  std::string message;
  auto held = PlanLock::acquire((dir_ / ".mig").string(), "p", status, message);
  ASSERT_EQ(status, PlanLock::Status::Acquired) << message;
  std::string error;
  held->claim(error);
  SessionReport report = start(compilePlan(kTwoSteps));
  EXPECT_EQ(report.result, SessionResult::Locked);
  EXPECT_NE(report.message.find("plan p is being run by another mig (host "), std::string::npos)
      << report.message;
  EXPECT_TRUE(runner_.started.empty());
}

TEST_F(RunSessionTest, TheLockHoldsWhenTheJournalFolderIsRemoved) {
  PlanLock::Status status;
  std::string message;
  auto held = PlanLock::acquire((dir_ / ".mig").string(), "p", status, message);
  ASSERT_EQ(status, PlanLock::Status::Acquired) << message;
  fs::remove_all(dir_ / ".mig");  // rm -rf .mig during the run
  auto second = PlanLock::acquire((dir_ / ".mig").string(), "p", status, message);
  EXPECT_EQ(second, nullptr);
  EXPECT_EQ(status, PlanLock::Status::Held);
  held.reset();
  auto third = PlanLock::acquire((dir_ / ".mig").string(), "p", status, message);
  EXPECT_NE(third, nullptr);
  EXPECT_EQ(status, PlanLock::Status::Acquired) << message;
}

// A shared journal: the killed runner was on another machine, whose
// leftover processes this one cannot stop. The operator is told so.
TEST_F(RunSessionTest, ResumingARunOfAnotherHostWarnsThatItsLeftoversMayRun) {
  graph::Graph plan = compilePlan(kTwoSteps);
  killedRun(plan, {"a"}, {}, false, "ops-elsewhere");
  SessionReport resumed = resume("p", plan);
  EXPECT_EQ(resumed.result, SessionResult::Succeeded) << resumed.message;
  ASSERT_EQ(services_.warnings.size(), 1u);
  EXPECT_EQ(services_.warnings[0],
            "run 1 was last driven from host ops-elsewhere (pid 999): processes its runner left "
            "running there cannot be stopped from here; make sure they are gone");
}

TEST_F(RunSessionTest, ATakeoverIsAnnouncedByTheCommandThatGoesOn) {
  graph::Graph plan = compilePlan(kTwoSteps);
  killedRun(plan, {"a"}, {});
  // What a runner killed with kill -9 leaves in its lock file.
  {
    PlanLock::Status status;
    std::string message, error;
    auto dead = PlanLock::acquire((dir_ / ".mig").string(), "p", status, message);
    ASSERT_TRUE(dead) << message;
    dead->claim(error);
    // Released without emptying, as by a death: copy the record aside and back.
    std::string record = mig::testing::readFile(dir_ / ".mig" / "p.lock");
    dead.reset();
    mig::testing::writeFile(dir_ / ".mig" / "p.lock", record);
  }
  SessionReport refused = start(plan);  // the last run is unfinished
  EXPECT_EQ(refused.result, SessionResult::NeedsDecision);
  EXPECT_TRUE(services_.warnings.empty());
  SessionReport resumed = resume("p", plan);
  EXPECT_EQ(resumed.result, SessionResult::Succeeded) << resumed.message;
  ASSERT_EQ(services_.warnings.size(), 1u);
  EXPECT_EQ(services_.warnings[0].rfind("took over the lock of a runner that is gone (host ", 0),
            0u)
      << services_.warnings[0];
}

TEST_F(RunSessionTest, ResumeRefusesAChangedPlan) {
  graph::Graph plan = compilePlan(kTwoSteps);
  killedRun(plan, {"a"}, {});
  graph::Graph changed = compilePlan(
      "  phase migration {\n"
      "    step a {\n      do   sh(\"a\")\n      undo sh(\"undo a\")\n    }\n"
      "    step b {\n      do   sh(\"b2\")\n      undo sh(\"undo b\")\n      after a\n    }\n"
      "  }\n");
  SessionReport report = resume("p", changed);
  EXPECT_EQ(report.result, SessionResult::NeedsDecision);
  ASSERT_FALSE(report.details.empty());
  EXPECT_EQ(report.details[0], "step b changed");
  EXPECT_TRUE(runner_.started.empty());
}

TEST_F(RunSessionTest, ResumeCitesTheLinesOfThePlanAsItIsNow) {
  const std::string steps = "  phase migration {\n    step unsure = sh(\"unsure\")\n  }\n";
  graph::Graph plan = compilePlan(steps);
  killedRun(plan, {}, {"unsure"});
  graph::Graph commented = compilePlan("  # a comment added above the step\n\n" + steps);
  ASSERT_EQ(commented.planHash, plan.planHash);
  ASSERT_NE(commented.node("unsure")->origin, plan.node("unsure")->origin);
  SessionReport report = resume("p", commented);
  EXPECT_EQ(report.result, SessionResult::NeedsDecision);
  ASSERT_TRUE(report.run);
  ASSERT_EQ(report.run->undecided.size(), 1u);
  EXPECT_NE(report.run->undecided[0].find(commented.node("unsure")->origin), std::string::npos)
      << report.run->undecided[0];
}

TEST_F(RunSessionTest, ResumeRefusesAChoiceAboutAStepThePlanDoesNotHave) {
  graph::Graph plan = compilePlan(kTwoSteps);
  killedRun(plan, {"a"}, {"b"});
  SessionOptions options;
  options.choices["plan.mig"] = ResumeChoice::MarkDone;
  SessionReport report = resume("p", plan, options);
  EXPECT_EQ(report.result, SessionResult::Refused);
  EXPECT_EQ(report.message, "plan p has no step 'plan.mig'");
}

TEST_F(RunSessionTest, RollbackAfterSwitchoverNeedsForce) {
  graph::Graph plan = compilePlan(kTwoSteps);
  int64_t runId = killedRun(plan, {"a", "b"}, {});
  ASSERT_TRUE(journal_->setSwitchover(runId, toEpochMs(kStart), std::nullopt));
  SessionReport refused = rollback("p");
  EXPECT_EQ(refused.result, SessionResult::Refused);
  EXPECT_NE(refused.message.find("mig rollback --force"), std::string::npos);
  EXPECT_TRUE(runner_.started.empty());

  SessionOptions force;
  force.force = true;
  SessionReport forced = rollback("p", force);
  EXPECT_EQ(forced.result, SessionResult::Succeeded) << forced.message;
  EXPECT_EQ(runner_.started, (std::vector<std::string>{"undo b", "undo a"}));
  ASSERT_EQ(services_.warnings.size(), 1u);
  EXPECT_NE(services_.warnings[0].find("are NOT carried back"), std::string::npos);
}

// An undo cut short by kill -9 does not run again without a decision.
TEST_F(RunSessionTest, AnUndoCutShortIsDecidedBeforeAnyUndoRuns) {
  graph::Graph plan = compilePlan(kTwoSteps);
  int64_t runId = killedRun(plan, {"a"}, {"b"}, /*undoing=*/true);
  SessionReport undecided = rollback("p");
  EXPECT_EQ(undecided.result, SessionResult::NeedsDecision) << undecided.message;
  ASSERT_TRUE(undecided.run);
  ASSERT_EQ(undecided.run->undecided.size(), 1u);
  EXPECT_EQ(undecided.run->undecided[0].rfind("b (", 0), 0u) << undecided.run->undecided[0];
  EXPECT_TRUE(runner_.started.empty());
  EXPECT_EQ(state(runId, "b"), "undoing");
  EXPECT_EQ(journal_->run(runId)->state, RunState::RollbackIncomplete);

  // resume goes on with the rollback, and takes the same choices.
  SessionOptions markDone;
  markDone.choices["b"] = ResumeChoice::MarkDone;
  SessionReport decided = resume("p", plan, markDone);
  EXPECT_EQ(decided.result, SessionResult::Succeeded) << decided.message;
  EXPECT_EQ(runner_.started, std::vector<std::string>{"undo a"});
  EXPECT_EQ(state(runId, "b"), "undone");
  EXPECT_EQ(state(runId, "a"), "undone");
}

TEST_F(RunSessionTest, AnUndoCutShortWhoseCheckFailsHadFinished) {
  graph::Graph plan = compilePlan(
      "  phase migration {\n"
      "    step a {\n      do    sh(\"a\")\n      undo  sh(\"undo a\")\n"
      "      check \"is a there\"\n    }\n"
      "  }\n");
  int64_t runId = killedRun(plan, {}, {"a"}, /*undoing=*/true);
  runner_.behave = [](const std::string& script, int) {
    return Behaviour{script == "is a there" ? 1 : 0};
  };
  SessionReport report = rollback("p");
  EXPECT_EQ(report.result, SessionResult::Succeeded) << report.message;
  EXPECT_EQ(runner_.started, std::vector<std::string>{"is a there"});
  EXPECT_EQ(state(runId, "a"), "undone");
}

TEST_F(RunSessionTest, AnIdempotentUndoCutShortRunsAgain) {
  graph::Graph plan = compilePlan(
      "  phase migration {\n"
      "    step a {\n      do    sh(\"a\")\n      undo  sh(\"undo a\")\n"
      "      check \"is a there\"\n      idempotent true\n    }\n"
      "  }\n");
  int64_t runId = killedRun(plan, {}, {"a"}, /*undoing=*/true);
  SessionReport report = rollback("p");  // the check passes: a is still there
  EXPECT_EQ(report.result, SessionResult::Succeeded) << report.message;
  EXPECT_EQ(runner_.started, (std::vector<std::string>{"is a there", "undo a"}));
  EXPECT_EQ(state(runId, "a"), "undone");
}

}  // namespace
}  // namespace mig::runtime
