// The scheduler with a fake runner and a fake clock: order, parallelism,
// retries, checks, windows, rollback, resume decisions, and the journal's
// promises. Real processes are in process_runner_test and e2e tests.
#include "runtime/scheduler.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <set>

#include "compiler/lower/lower.h"
#include "runtime/state_store.h"
#include "runtime_fakes.h"
#include "test_support.h"

namespace mig::runtime {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

struct Harness {
  graph::Graph graph;
  fs::path dir;
  std::unique_ptr<StateStore> journal;
  int64_t runId = 0;
  FakeClock clock{kStart};
  FakeRunner runner{clock};
  SimplePreparer preparer;
  RecordingSink sink;
  SchedulerOptions options;

  explicit Harness(graph::Graph g) : graph(std::move(g)) {
    dir = fs::temp_directory_path() /
          ("mig-scheduler-" + std::to_string(::getpid()) + "-" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir);
    std::string error;
    journal = StateStore::open((dir / "state.db").string(), false, error);
    EXPECT_TRUE(journal) << error;
    RunRecord run;
    run.plan = graph.plan;
    run.planHash = graph.planHash;
    run.state = RunState::Running;
    std::vector<std::string> steps;
    for (const auto& node : graph.nodes) {
      if (!node.isBarrier()) steps.push_back(node.id);
    }
    runId = *journal->createRun(run, steps);
  }
  ~Harness() { fs::remove_all(dir); }

  Scheduler scheduler() {
    return Scheduler(graph, *journal, runId, runner, preparer, clock, sink, options);
  }
  RunReport run() { return scheduler().run(); }

  std::string state(const std::string& step) {
    for (const auto& s : journal->steps(runId)) {
      if (s.step == step) return std::string(nameOf(s.state));
    }
    return std::string("?");
  }
};

TEST(Scheduler, RunsStepsAfterTheirDependenciesAndPhasesInOrder) {
  Harness h(compilePlan(
      "  phase preparation {\n    step a = sh(\"a\")\n    step b = sh(\"b\")\n  }\n"
      "  phase migration {\n"
      "    step c {\n      do    sh(\"c\")\n      after d\n    }\n"
      "    step d = sh(\"d\")\n"
      "  }\n"));
  h.options.jobs = 2;
  h.runner.behave = [&](const std::string& script, int) {
    return Behaviour{0, script == "a" ? 5s : 1s};
  };
  RunReport report = h.run();
  EXPECT_EQ(report.result, RunResult::Succeeded) << report.message;
  ASSERT_EQ(h.runner.started.size(), 4u);
  // d may only start once both preparation steps are done; c after d.
  EXPECT_EQ(h.runner.started[2], "d");
  EXPECT_EQ(h.runner.started[3], "c");
  EXPECT_EQ(h.clock.now(), kStart + 5s + 1s + 1s);
  for (const char* step : {"a", "b", "c", "d"}) EXPECT_EQ(h.state(step), "done") << step;
}

TEST(Scheduler, NeverRunsMoreThanJobsAtOnce) {
  std::string steps = "  phase migration {\n";
  for (int i = 0; i < 10; ++i) steps += "    step s" + std::to_string(i) + " = sh(\"s" + std::to_string(i) + "\")\n";
  steps += "  }\n";
  for (int jobs : {1, 2, 4}) {
    Harness h(compilePlan(steps));
    h.options.jobs = jobs;
    EXPECT_EQ(h.run().result, RunResult::Succeeded);
    EXPECT_EQ(h.runner.maxRunning, static_cast<size_t>(jobs));
    EXPECT_EQ(h.clock.now(), kStart + Milliseconds(1000 * ((10 + jobs - 1) / jobs)));
  }
}

TEST(Scheduler, RetriesWithDelayThenSucceeds) {
  Harness h(compilePlan("  phase migration {\n"
                        "    step flaky {\n      do    sh(\"flaky\")\n      retry 2\n      delay 10s\n    }\n"
                        "  }\n"));
  h.runner.behave = [](const std::string&, int count) { return Behaviour{count < 3 ? 1 : 0, 1s}; };
  RunReport report = h.run();
  EXPECT_EQ(report.result, RunResult::Succeeded) << report.message;
  EXPECT_EQ(h.runner.started.size(), 3u);
  EXPECT_EQ(h.clock.now(), kStart + 1s + 10s + 1s + 10s + 1s);
  EXPECT_EQ(h.journal->attempts(h.runId, "flaky").size(), 3u);
  EXPECT_TRUE(h.sink.has(Event::Kind::StepRetrying, "flaky"));
}

const char* kChain =
    "  phase migration {\n"
    "    step a {\n      do   sh(\"a\")\n      undo sh(\"undo a\")\n    }\n"
    "    step b {\n      do    sh(\"b\")\n      after a\n    }\n"
    "    step c {\n      do    sh(\"c\")\n      undo  sh(\"undo c\")\n      after b\n    }\n"
    "    step d {\n      do    sh(\"d\")\n      undo  sh(\"undo d\")\n      retry 1\n      after c\n    }\n"
    "  }\n";

TEST(Scheduler, FailureRollsBackInReverseOrder) {
  Harness h(compilePlan(kChain));
  h.runner.behave = [](const std::string& script, int) { return Behaviour{script == "d" ? 3 : 0, 1s}; };
  RunReport report = h.run();
  EXPECT_EQ(report.result, RunResult::RolledBack) << report.message;
  EXPECT_EQ(report.failedStep, "d");
  // d failed twice (retry 1); its undo runs first, then c's, then a's; b has none.
  std::vector<std::string> expected = {"a", "b", "c", "d", "d", "undo d", "undo c", "undo a"};
  EXPECT_EQ(h.runner.started, expected);
  EXPECT_EQ(report.undone, (std::vector<std::string>{"d", "c", "a"}));
  EXPECT_EQ(report.notUndone, std::vector<std::string>{"b"});
  EXPECT_EQ(h.state("a"), "undone");
  EXPECT_EQ(h.state("b"), "done");
  EXPECT_EQ(nameOf(h.journal->run(h.runId)->state), "rolled_back");
}

TEST(Scheduler, AFailureThatChangedNothingNeedsNoUndo) {
  Harness h(compilePlan(kChain));
  h.runner.behave = [](const std::string& script, int) {
    return Behaviour{script == "d" ? 1 : 0, 1s, /*nothingChanged=*/true};
  };
  RunReport report = h.run();
  EXPECT_EQ(report.result, RunResult::RolledBack) << report.message;
  std::vector<std::string> expected = {"a", "b", "c", "d", "d", "undo c", "undo a"};
  EXPECT_EQ(h.runner.started, expected);
  EXPECT_EQ(report.undone, (std::vector<std::string>{"c", "a"}));
  EXPECT_EQ(h.state("d"), "failed");
  EXPECT_TRUE(h.sink.has(Event::Kind::Warning, "d"));
  auto attempts = h.journal->attempts(h.runId, "d");
  ASSERT_EQ(attempts.size(), 2u);
  EXPECT_EQ(nameOf(attempts[1].outcome), "exited_unchanged");
}

TEST(Scheduler, AFailureIsUndoneWhenAnEarlierAttemptMayHaveChangedSomething) {
  Harness h(compilePlan(kChain));
  // d's first attempt fails half-way; its retry fails before changing anything.
  h.runner.behave = [](const std::string& script, int count) {
    return Behaviour{script == "d" ? 1 : 0, 1s, /*nothingChanged=*/script == "d" && count == 2};
  };
  RunReport report = h.run();
  EXPECT_EQ(report.result, RunResult::RolledBack) << report.message;
  EXPECT_EQ(report.undone, (std::vector<std::string>{"d", "c", "a"}));
}

TEST(Scheduler, FailedUndoStopsTheRollback) {
  Harness h(compilePlan(kChain));
  h.runner.behave = [](const std::string& script, int) {
    return Behaviour{script == "d" || script == "undo c" ? 1 : 0, 1s};
  };
  RunReport report = h.run();
  EXPECT_EQ(report.result, RunResult::RollbackIncomplete) << report.message;
  EXPECT_EQ(h.runner.started.back(), "undo c");
  EXPECT_EQ(h.state("c"), "undo_failed");
  EXPECT_EQ(h.state("a"), "done");
  EXPECT_EQ(nameOf(h.journal->run(h.runId)->state), "rollback_incomplete");
}

TEST(Scheduler, UndoThatCannotBePreparedIsNotCountedAsUndone) {
  Harness h(compilePlan(kChain));
  h.runner.behave = [](const std::string& script, int) { return Behaviour{script == "d" ? 1 : 0, 1s}; };
  h.preparer.refused = {"undo c"};
  RunReport report = h.run();
  EXPECT_EQ(report.result, RunResult::RollbackIncomplete) << report.message;
  EXPECT_EQ(report.undone, std::vector<std::string>{"d"});
  EXPECT_EQ(h.state("c"), "undo_failed");
  EXPECT_EQ(h.state("a"), "done");
  EXPECT_EQ(h.runner.started.back(), "undo d");
  EXPECT_TRUE(h.sink.has(Event::Kind::UndoFailed, "c"));
}

TEST(Scheduler, RollbackAgainRetriesTheUndoThatFailedAndKeepsItsFirstLog) {
  Harness h(compilePlan(kChain));
  h.runner.behave = [](const std::string& script, int count) {
    return Behaviour{script == "d" || (script == "undo c" && count == 1) ? 1 : 0, 1s};
  };
  ASSERT_EQ(h.run().result, RunResult::RollbackIncomplete);
  ASSERT_EQ(h.state("c"), "undo_failed");

  RunReport again = h.scheduler().rollback("rollback requested");
  EXPECT_EQ(again.result, RunResult::RolledBack) << again.message;
  EXPECT_EQ(again.undone, (std::vector<std::string>{"c", "a"}));
  EXPECT_EQ(h.state("c"), "undone");
  EXPECT_EQ(h.state("a"), "undone");
  std::vector<int> undoAttempts;
  for (const AttemptRecord& attempt : h.journal->attempts(h.runId, "c")) {
    if (attempt.kind == ProcessKind::Undo) undoAttempts.push_back(attempt.attempt);
  }
  EXPECT_EQ(undoAttempts, (std::vector<int>{1, 2}));
}

TEST(Scheduler, InterruptDuringAnUndoStopsItAndLeavesTheRollbackIncomplete) {
  Harness h(compilePlan(kChain));
  std::atomic<bool> stop{false};
  h.options.interrupted = &stop;
  h.runner.behave = [&](const std::string& script, int) {
    if (script == "undo c") stop = true;  // Ctrl-C while c's undo runs
    return Behaviour{script == "d" ? 1 : 0, script == "undo c" ? 1h : 1s};
  };
  RunReport report = h.run();
  EXPECT_EQ(report.result, RunResult::RollbackIncomplete) << report.message;
  EXPECT_EQ(h.state("c"), "undo_failed");
  EXPECT_EQ(h.state("a"), "done");
  EXPECT_LT(h.clock.now(), kStart + 1h);  // stopped, not waited for
}

TEST(Scheduler, InterruptBeforeTheRollbackStartsNoUndo) {
  Harness h(compilePlan(kChain));
  std::atomic<bool> stop{false};
  h.options.interrupted = &stop;
  h.runner.behave = [&](const std::string& script, int) {
    if (script == "d") stop = true;  // Ctrl-C while the failing step runs
    return Behaviour{script == "d" ? 1 : 0, 1s};
  };
  RunReport report = h.run();
  EXPECT_EQ(report.result, RunResult::Paused) << report.message;
  EXPECT_EQ(h.state("d"), "pending");  // its retry never started

  // The interrupt is still pending: the rollback starts nothing.
  RunReport rollback = h.scheduler().rollback("rollback requested");
  EXPECT_EQ(rollback.result, RunResult::RollbackIncomplete) << rollback.message;
  EXPECT_EQ(h.runner.started, (std::vector<std::string>{"a", "b", "c", "d"}));
  EXPECT_EQ(h.state("c"), "done");
  EXPECT_EQ(nameOf(h.journal->run(h.runId)->state), "rollback_incomplete");
}

TEST(Scheduler, StepWhoseWindowHasClosedForGoodFailsAndRollsBack) {
  Harness h(compilePlan("  phase migration {\n"
                        "    step copy {\n      do   sh(\"copy\")\n      undo sh(\"wipe\")\n    }\n"
                        "  }\n"
                        "  phase switchover {\n    window cutover\n"
                        "    step flip {\n      do   sh(\"flip\")\n      undo sh(\"unflip\")\n    }\n"
                        "  }\n",
                        "  window cutover {\n    at       \"2026-11-25T12:30\"\n    length   1h\n"
                        "    timezone \"UTC\"\n  }\n"));
  // The copy outlasts the one-off window: flip can never start, so its
  // undo does not run either.
  h.runner.behave = [](const std::string& script, int) { return Behaviour{0, script == "copy" ? 2h : 1s}; };
  RunReport report = h.run();
  EXPECT_EQ(report.result, RunResult::RolledBack) << report.message;
  EXPECT_EQ(report.failedStep, "flip");
  EXPECT_EQ(report.undone, std::vector<std::string>{"copy"});
  EXPECT_EQ(h.state("flip"), "failed");
  EXPECT_EQ(h.state("copy"), "undone");
  EXPECT_EQ(h.runner.started, (std::vector<std::string>{"copy", "wipe"}));
  EXPECT_EQ(nameOf(h.journal->run(h.runId)->state), "rolled_back");
}

TEST(Scheduler, NoRollbackLeavesEverything) {
  Harness h(compilePlan(kChain));
  h.options.noRollback = true;
  h.runner.behave = [](const std::string& script, int) { return Behaviour{script == "c" ? 1 : 0, 1s}; };
  RunReport report = h.run();
  EXPECT_EQ(report.result, RunResult::RollbackIncomplete);
  EXPECT_EQ(h.runner.started, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(h.state("a"), "done");
}

TEST(Scheduler, FailureStopsRunningStepsBeforeRollingBack) {
  Harness h(compilePlan("  phase migration {\n"
                        "    step slow {\n      do   sh(\"slow\")\n      undo sh(\"undo slow\")\n    }\n"
                        "    step bad = sh(\"bad\")\n"
                        "  }\n"));
  h.options.jobs = 2;
  h.runner.behave = [](const std::string& script, int) {
    if (script == "slow") return Behaviour{0, 1h};
    return Behaviour{script == "bad" ? 1 : 0, 1s};
  };
  RunReport report = h.run();
  EXPECT_EQ(report.result, RunResult::RolledBack) << report.message;
  EXPECT_LT(h.clock.now(), kStart + 1min);  // slow was stopped, not waited for
  EXPECT_TRUE(h.sink.has(Event::Kind::StepStopped, "slow"));
  EXPECT_EQ(report.undone, std::vector<std::string>{"slow"});
}

TEST(Scheduler, FailureAfterSwitchoverPausesWithoutUndoing) {
  Harness h(compilePlan("  phase switchover {\n"
                        "    step flip {\n      do   sh(\"flip\")\n      undo sh(\"unflip\")\n    }\n"
                        "  }\n"
                        "  phase verification {\n    step health = sh(\"health\")\n  }\n"));
  h.runner.behave = [](const std::string& script, int) { return Behaviour{script == "health" ? 1 : 0, 1s}; };
  RunReport report = h.run();
  EXPECT_EQ(report.result, RunResult::Paused) << report.message;
  EXPECT_NE(report.message.find("after the switchover completed"), std::string::npos);
  EXPECT_EQ(h.runner.started, (std::vector<std::string>{"flip", "health"}));
  auto run = h.journal->run(h.runId);
  ASSERT_TRUE(run->switchoverAt);
  EXPECT_EQ(*run->switchoverAt, toEpochMs(kStart + 1s));
  EXPECT_EQ(*run->retainUntil, toEpochMs(kStart + 1s + 72h));
}

TEST(Scheduler, CheckDecidesWhetherAnAttemptSucceeded) {
  Harness h(compilePlan("  phase migration {\n"
                        "    step s {\n      do    sh(\"s\")\n      check \"verify\"\n      retry 1\n    }\n"
                        "  }\n"));
  h.runner.behave = [](const std::string& script, int count) {
    return Behaviour{script == "verify" && count == 1 ? 1 : 0, 1s};
  };
  RunReport report = h.run();
  EXPECT_EQ(report.result, RunResult::Succeeded) << report.message;
  EXPECT_EQ(h.runner.started, (std::vector<std::string>{"s", "verify", "s", "verify"}));
}

const char* kSaturdayWindow =
    "  window sat_night {\n    days     [sat]\n    start    \"02:00\"\n    length   2h\n"
    "    timezone \"UTC\"\n  }\n";

TEST(Scheduler, WaitsForTheWindowToOpen) {
  Harness h(compilePlan("  phase switchover {\n    window sat_night\n    step flip = sh(\"flip\")\n  }\n",
                        kSaturdayWindow));
  RunReport report = h.run();
  EXPECT_EQ(report.result, RunResult::Succeeded) << report.message;
  // Wednesday noon -> Saturday 02:00 UTC.
  EXPECT_EQ(h.clock.now(), kStart + 62h + 1s);
  EXPECT_TRUE(h.sink.has(Event::Kind::WindowWait, "flip"));
}

TEST(Scheduler, NoWaitPausesWithTheNextOpening) {
  Harness h(compilePlan("  phase switchover {\n    window sat_night\n    step flip = sh(\"flip\")\n  }\n",
                        kSaturdayWindow));
  h.options.noWait = true;
  RunReport report = h.run();
  EXPECT_EQ(report.result, RunResult::Paused);
  ASSERT_TRUE(report.nextOpening);
  EXPECT_EQ(*report.nextOpening, kStart + 62h);
  EXPECT_TRUE(h.runner.started.empty());
  EXPECT_EQ(nameOf(h.journal->run(h.runId)->state), "paused");
}

TEST(Scheduler, DoesNotStartAStepWhoseTimeoutWouldOutlastTheWindow) {
  Harness h(compilePlan("  phase switchover {\n    window sat_night\n"
                        "    step a = sh(\"a\")\n"
                        "    step b {\n      do      sh(\"b\")\n      timeout 90m\n      after a\n    }\n"
                        "  }\n",
                        kSaturdayWindow));
  h.runner.behave = [](const std::string& script, int) { return Behaviour{0, script == "a" ? 1h : 1min}; };
  RunReport report = h.run();
  EXPECT_EQ(report.result, RunResult::Succeeded) << report.message;
  // a ends at 03:00 with 1h left: b (90m) waits for the next Saturday.
  EXPECT_EQ(h.clock.now(), kStart + 62h + 7 * 24h + 1min);
}

TEST(Scheduler, StepWithoutTimeoutIsStoppedAtTheWindowsEnd) {
  for (const char* onEnd : {"pause", "rollback"}) {
    Harness h(compilePlan(std::string("  phase switchover {\n    window sat_night\n    on_window_end ") +
                              onEnd + "\n    step long {\n      do   sh(\"long\")\n      undo sh(\"undo\")\n    }\n  }\n",
                          kSaturdayWindow));
    h.runner.behave = [](const std::string&, int) { return Behaviour{0, 5h}; };
    RunReport report = h.run();
    EXPECT_EQ(h.clock.now() >= kStart + 64h, true);
    if (std::string(onEnd) == "pause") {
      EXPECT_EQ(report.result, RunResult::Paused) << report.message;
      EXPECT_EQ(h.state("long"), "interrupted");
    } else {
      EXPECT_EQ(report.result, RunResult::RolledBack) << report.message;
      EXPECT_EQ(h.state("long"), "undone");
    }
  }
}

TEST(Scheduler, JournalsEveryStartBeforeTheProcessAndEveryEndBeforeDependents) {
  Harness h(compilePlan("  phase migration {\n"
                        "    step a = sh(\"a\")\n"
                        "    step b {\n      do    sh(\"b\")\n      after a\n    }\n"
                        "  }\n"));
  // A second connection sees only what is committed.
  std::string error;
  auto observer = StateStore::open((h.dir / "state.db").string(), false, error);
  ASSERT_TRUE(observer) << error;
  auto committed = [&](const std::string& step) {
    for (const auto& s : observer->steps(h.runId)) {
      if (s.step == step) return std::string(nameOf(s.state));
    }
    return std::string("?");
  };
  h.runner.onStart = [&](const ProcessRequest& request) {
    std::string step = request.script;
    EXPECT_EQ(committed(step), "running") << "start of " << step << " not committed first";
    if (step == "b") {
      EXPECT_EQ(committed("a"), "done") << "a's end not committed before b started";
    }
  };
  EXPECT_EQ(h.run().result, RunResult::Succeeded);
}

TEST(Scheduler, ResumeNeverRerunsCompletedSteps) {
  Harness h(compilePlan("  phase migration {\n    step a = sh(\"a\")\n"
                        "    step b {\n      do    sh(\"b\")\n      after a\n    }\n  }\n"));
  ASSERT_TRUE(
      h.journal->processStarted(h.runId, "a", ProcessKind::Run, 1, 0, "", StepState::Running));
  ASSERT_TRUE(h.journal->processFinished(h.runId, "a", ProcessKind::Run, 1, 1,
                                         ProcessOutcome::Exited, 0, StepState::Done, ""));
  RunReport report = h.run();
  EXPECT_EQ(report.result, RunResult::Succeeded);
  EXPECT_EQ(h.runner.started, std::vector<std::string>{"b"});
}

TEST(Scheduler, ResumeDecidesInterruptedSteps) {
  Harness h(compilePlan("  phase migration {\n"
                        "    step checked {\n      do    sh(\"checked\")\n      check \"is checked done\"\n    }\n"
                        "    step again {\n      do         sh(\"again\")\n      idempotent true\n    }\n"
                        "    step unsure = sh(\"unsure\")\n"
                        "  }\n"));
  for (const char* step : {"checked", "again", "unsure"}) {
    ASSERT_TRUE(
        h.journal->processStarted(h.runId, step, ProcessKind::Run, 1, 0, "", StepState::Running));
  }
  RunReport decisions = h.scheduler().decideInterrupted({});
  EXPECT_EQ(decisions.result, RunResult::NeedsDecision);
  ASSERT_EQ(decisions.undecided.size(), 1u);
  EXPECT_EQ(decisions.undecided[0].rfind("unsure", 0), 0u);
  EXPECT_EQ(h.state("checked"), "done");
  EXPECT_EQ(h.state("again"), "pending");
  EXPECT_EQ(h.state("unsure"), "running");
  EXPECT_EQ(h.runner.started, std::vector<std::string>{"is checked done"});
  EXPECT_EQ(nameOf(h.journal->run(h.runId)->state), "paused");

  RunReport chosen = h.scheduler().decideInterrupted({{"unsure", ResumeChoice::MarkDone}});
  EXPECT_EQ(chosen.result, RunResult::Succeeded) << chosen.message;
  EXPECT_EQ(h.state("unsure"), "done");
  RunReport report = h.run();
  EXPECT_EQ(report.result, RunResult::Succeeded);
  EXPECT_EQ(h.runner.started, (std::vector<std::string>{"is checked done", "again"}));
}

/// `graph` with `step`'s action given a `recover` command `script`.
graph::Graph withRecover(graph::Graph graph, const std::string& step, const std::string& script) {
  for (graph::Node& node : graph.nodes) {
    if (node.id != step) continue;
    node.recover = node.run;
    node.recover->script = script;
    node.recover->call = "recover " + step;
  }
  return graph;
}

TEST(Scheduler, ResumeRecoversAnInterruptedStepBeforeDecidingAboutIt) {
  Harness h(withRecover(compilePlan("  phase migration {\n    step unsure = sh(\"unsure\")\n"
                                    "    step plain = sh(\"plain\")\n  }\n"),
                        "unsure", "put unsure back"));
  for (const char* step : {"unsure", "plain"}) {
    ASSERT_TRUE(
        h.journal->processStarted(h.runId, step, ProcessKind::Run, 1, 0, "", StepState::Running));
  }
  // Recovery runs whatever the operator chose, and before it counts.
  RunReport chosen = h.scheduler().decideInterrupted(
      {{"unsure", ResumeChoice::MarkDone}, {"plain", ResumeChoice::MarkDone}});
  EXPECT_EQ(chosen.result, RunResult::Succeeded) << chosen.message;
  EXPECT_EQ(h.runner.started, std::vector<std::string>{"put unsure back"});
  EXPECT_EQ(h.state("unsure"), "done");
}

TEST(Scheduler, AFailedRecoveryLeavesTheStepUndecidedWhateverTheChoice) {
  Harness h(withRecover(compilePlan("  phase migration {\n    step unsure = sh(\"unsure\")\n  }\n"),
                        "unsure", "put unsure back"));
  ASSERT_TRUE(
      h.journal->processStarted(h.runId, "unsure", ProcessKind::Run, 1, 0, "", StepState::Running));
  h.runner.behave = [](const std::string& script, int) {
    return Behaviour{script == "put unsure back" ? 1 : 0};
  };
  RunReport decisions = h.scheduler().decideInterrupted({{"unsure", ResumeChoice::MarkDone}});
  EXPECT_EQ(decisions.result, RunResult::NeedsDecision);
  ASSERT_EQ(decisions.undecided.size(), 1u);
  EXPECT_NE(decisions.undecided[0].find("its recovery failed: exit code 1"), std::string::npos)
      << decisions.undecided[0];
  EXPECT_EQ(h.state("unsure"), "running");
  EXPECT_EQ(h.runner.started, std::vector<std::string>{"put unsure back"});
}

TEST(Scheduler, CheckThatCannotBePreparedDoesNotMarkTheStepDone) {
  Harness h(compilePlan("  phase migration {\n"
                        "    step checked {\n      do    sh(\"checked\")\n      check \"is checked done\"\n    }\n"
                        "  }\n"));
  ASSERT_TRUE(h.journal->processStarted(h.runId, "checked", ProcessKind::Run, 1, 0, "",
                                        StepState::Running));
  h.preparer.refused = {"is checked done"};
  RunReport decisions = h.scheduler().decideInterrupted({});
  EXPECT_EQ(decisions.result, RunResult::NeedsDecision) << decisions.message;
  EXPECT_EQ(h.state("checked"), "interrupted");
  EXPECT_TRUE(h.runner.started.empty());
}

TEST(Scheduler, RerunChoiceRunsTheStepAgain) {
  Harness h(compilePlan("  phase migration {\n    step unsure = sh(\"unsure\")\n  }\n"));
  ASSERT_TRUE(
      h.journal->processStarted(h.runId, "unsure", ProcessKind::Run, 1, 0, "", StepState::Running));
  EXPECT_EQ(h.scheduler().decideInterrupted({{"unsure", ResumeChoice::Rerun}}).result,
            RunResult::Succeeded);
  EXPECT_EQ(h.run().result, RunResult::Succeeded);
  EXPECT_EQ(h.runner.started, std::vector<std::string>{"unsure"});
}

TEST(Scheduler, ALogThatCouldNotBeWrittenIsSaidAndJournaled) {
  Harness h(compilePlan("  phase migration {\n    step talk = sh(\"talk\")\n  }\n"));
  const std::string full = "cannot write 'talk.run.1.log': No space left on device";
  h.runner.behave = [&](const std::string&, int) {
    Behaviour b;
    b.logError = full;
    return b;
  };
  RunReport report = h.run();
  EXPECT_EQ(report.result, RunResult::Succeeded) << report.message;
  bool warned = false;
  for (const Event& event : h.sink.events) {
    warned = warned || (event.kind == Event::Kind::Warning && event.step == "talk" &&
                        event.message == "its run log is incomplete: " + full);
  }
  EXPECT_TRUE(warned);
  EXPECT_EQ(h.journal->attempts(h.runId, "talk").at(0).logNote, full);
}

TEST(Scheduler, InterruptStopsRunningStepsAndPauses) {
  Harness h(compilePlan("  phase migration {\n    step slow = sh(\"slow\")\n  }\n"));
  std::atomic<bool> stop{false};
  h.options.interrupted = &stop;
  h.runner.behave = [&](const std::string&, int) {
    stop = true;
    return Behaviour{0, 1h};
  };
  RunReport report = h.run();
  EXPECT_EQ(report.result, RunResult::Paused) << report.message;
  EXPECT_EQ(h.state("slow"), "interrupted");
}

}  // namespace
}  // namespace mig::runtime
