// mig run, resume, rollback, status and log end to end, with real
// processes: kill -9 and resume, locks, timeouts, secrets, hostile values,
// preflight and exit codes.
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "compiler/graph/shell.h"
#include "test_support.h"

namespace mig {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::exitStatusOf;
using testing::mig;
using testing::readFile;
using testing::runCommand;
using testing::startMig;
using testing::writeFile;

// A folder of its own for each test, holding the plan and its .mig/.
class RunTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::freshTestFolder("mig-run"); }
  void TearDown() override { fs::remove_all(dir_); }

  std::string plan(const std::string& phases, const std::string& extra = "") {
    std::string text = "plan e2e {\n  retain 72h\n" + extra + phases + "}\n";
    writeFile(dir_ / "plan.mig", text);
    return (dir_ / "plan.mig").string();
  }

  testing::CommandResult mig(const std::string& args, const std::string& env = "") {
    return runCommand("cd " + dir_.string() + " && " + env + " " + testing::mig() + " " + args +
                      " 2>&1");
  }

  /// Waits (up to 5 s) until `file` holds a line: a step has started.
  bool waitForLine(const std::string& file) {
    for (int i = 0; i < 250 && lines(file).empty(); ++i) std::this_thread::sleep_for(20ms);
    return lines(file).size() == 1;
  }

  std::vector<std::string> lines(const std::string& file) {
    std::vector<std::string> out;
    std::ifstream in(dir_ / file);
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
  }

  nlohmann::json status() {
    auto result = runCommand("cd " + dir_.string() + " && " + testing::mig() +
                             " status --json plan.mig");
    auto json = nlohmann::json::parse(result.output, nullptr, false);
    EXPECT_FALSE(json.is_discarded()) << "status printed: " << result.output;
    return json;
  }

  std::string stepState(const std::string& step) {
    nlohmann::json current = status();
    for (const auto& s : current["steps"]) {
      if (s["step"] == step) return s["state"];
    }
    return "?";
  }

  fs::path dir_;
};

TEST_F(RunTest, RunsAPlanAndRecordsIt) {
  plan("  phase preparation {\n    step a = sh(\"echo a >> out.txt\")\n  }\n"
       "  phase migration {\n"
       "    step b {\n      do   sh(\"echo b >> out.txt\")\n      undo sh(\"echo undo-b >> out.txt\")\n    }\n"
       "  }\n");
  auto result = mig("run plan.mig -j 2");
  EXPECT_EQ(result.exitCode, 0) << result.output;
  EXPECT_EQ(lines("out.txt"), (std::vector<std::string>{"a", "b"}));
  auto s = status();
  EXPECT_EQ(s["state"], "succeeded");
  EXPECT_EQ(s["steps"][0]["state"], "done");
  auto log = mig("log b plan.mig");
  EXPECT_NE(log.output.find("== b run attempt 1"), std::string::npos) << log.output;
}

TEST_F(RunTest, StepOutputGoesToItsLog) {
  plan("  phase preparation {\n    step talk = sh(\"echo hello from the step; echo to stderr >&2\")\n  }\n");
  EXPECT_EQ(mig("run plan.mig").exitCode, 0);
  auto log = mig("log talk plan.mig");
  EXPECT_NE(log.output.find("hello from the step\nto stderr\n"), std::string::npos) << log.output;
}

TEST_F(RunTest, FailureRollsBackAndExitsThree) {
  plan("  phase migration {\n"
       "    step a {\n      do   sh(\"echo a >> out.txt\")\n      undo sh(\"echo undo-a >> out.txt\")\n    }\n"
       "    step b {\n      do    sh(\"echo b >> out.txt; exit 7\")\n      after a\n    }\n"
       "  }\n");
  auto result = mig("run plan.mig");
  EXPECT_EQ(result.exitCode, 3) << result.output;
  EXPECT_EQ(lines("out.txt"), (std::vector<std::string>{"a", "b", "undo-a"}));
  EXPECT_NE(result.output.find("step b FAILED: it failed (exit code 7)"), std::string::npos)
      << result.output;
  EXPECT_NE(result.output.find("undone: a"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("have no undo: b"), std::string::npos) << result.output;
  EXPECT_EQ(status()["state"], "rolled_back");
}

TEST_F(RunTest, RollbackLaterUndoesTheLastRun) {
  plan("  phase migration {\n"
       "    step a {\n      do   sh(\"echo a >> out.txt\")\n      undo sh(\"echo undo-a >> out.txt\")\n    }\n"
       "    step b {\n      do    sh(\"echo b >> out.txt\")\n      undo  sh(\"echo undo-b >> out.txt\")\n"
       "      after a\n    }\n"
       "  }\n");
  ASSERT_EQ(mig("run plan.mig").exitCode, 0);
  auto result = mig("rollback plan.mig");
  EXPECT_EQ(result.exitCode, 0) << result.output;
  EXPECT_EQ(lines("out.txt"), (std::vector<std::string>{"a", "b", "undo-b", "undo-a"}));
  EXPECT_EQ(status()["state"], "rolled_back");
  // Nothing is undone twice.
  EXPECT_NE(mig("rollback plan.mig").output.find("nothing to undo"), std::string::npos);
}

TEST_F(RunTest, RollbackAfterSwitchoverNeedsForce) {
  plan("  phase switchover {\n"
       "    step flip {\n      do   sh(\"echo flip >> out.txt\")\n      undo sh(\"echo unflip >> out.txt\")\n    }\n"
       "  }\n");
  ASSERT_EQ(mig("run plan.mig").exitCode, 0);
  auto s = status();
  ASSERT_FALSE(s["switchoverAt"].is_null());
  EXPECT_EQ(s["rollbackPromisedUntil"].get<int64_t>() - s["switchoverAt"].get<int64_t>(),
            72LL * 3600 * 1000);
  auto refused = mig("rollback plan.mig");
  EXPECT_EQ(refused.exitCode, 2);
  EXPECT_NE(refused.output.find("--force"), std::string::npos) << refused.output;
  EXPECT_EQ(lines("out.txt"), std::vector<std::string>{"flip"});
  auto forced = mig("rollback --force plan.mig");
  EXPECT_EQ(forced.exitCode, 0) << forced.output;
  EXPECT_NE(forced.output.find("are NOT carried back"), std::string::npos) << forced.output;
  EXPECT_EQ(lines("out.txt"), (std::vector<std::string>{"flip", "unflip"}));
}

TEST_F(RunTest, RollbackAfterTheRetentionPeriodNeedsForce) {
  plan("  phase switchover {\n"
       "    step flip {\n      do   sh(\"echo flip >> out.txt\")\n      undo sh(\"echo unflip >> out.txt\")\n    }\n"
       "  }\n");
  // A retention of one second: lint warns, the run keeps it.
  std::string text = readFile(dir_ / "plan.mig");
  text.replace(text.find("retain 72h"), 10, "retain 1s");
  writeFile(dir_ / "plan.mig", text);
  ASSERT_EQ(mig("run plan.mig").exitCode, 0);
  std::this_thread::sleep_for(1500ms);
  auto forced = mig("rollback --force plan.mig");
  EXPECT_EQ(forced.exitCode, 0) << forced.output;
  EXPECT_NE(forced.output.find("warning: the retention ended at"), std::string::npos) << forced.output;
  EXPECT_EQ(lines("out.txt"), (std::vector<std::string>{"flip", "unflip"}));
}

TEST_F(RunTest, TimeoutKillsTheWholeProcessGroup) {
  plan("  phase migration {\n"
       "    step slow {\n"
       "      do      sh(\"sleep 300 & echo $! > child.pid; sleep 300\")\n"
       "      timeout 1s\n"
       "    }\n"
       "  }\n");
  auto result = mig("run plan.mig --no-rollback");
  EXPECT_EQ(result.exitCode, 4) << result.output;
  EXPECT_NE(result.output.find("killed at its timeout"), std::string::npos) << result.output;
  pid_t child = std::stoi(readFile(dir_ / "child.pid"));
  bool gone = false;
  for (int i = 0; i < 50 && !gone; ++i) {
    gone = kill(child, 0) != 0 && errno == ESRCH;
    if (!gone) std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(gone) << "the step's background child " << child << " outlived its timeout";
}

TEST_F(RunTest, PreflightReportsEveryProblemAndRunsNothing) {
  writeFile(dir_ / "plan.mig",
            "import \"std/postgres\"\n"
            "plan e2e {\n  retain 72h\n"
            "  secret pw { from env(\"MIG_E2E_UNSET_SECRET\") }\n"
            "  target db postgres {\n    host     \"127.0.0.1\"\n    port     1\n"
            "    database \"x\"\n    password pw\n  }\n"
            "  phase migration {\n"
            "    step a = sh(\"echo a >> out.txt\")\n"
            "    step b = sh(\"no-such-tool-xyz --flag ${db.host}\")\n"
            "  }\n}\n");
  auto result = mig("run plan.mig", "env -u MIG_E2E_UNSET_SECRET");
  EXPECT_EQ(result.exitCode, 8) << result.output;
  EXPECT_NE(result.output.find("command no-such-tool-xyz is not on PATH"), std::string::npos)
      << result.output;
  EXPECT_NE(result.output.find("secret pw: environment variable MIG_E2E_UNSET_SECRET is not set"),
            std::string::npos);
  EXPECT_NE(result.output.find("endpoint db: cannot connect to 127.0.0.1:1"), std::string::npos);
  EXPECT_FALSE(fs::exists(dir_ / "out.txt"));
}

TEST_F(RunTest, SecondRunnerIsRefusedNamingTheHolder) {
  plan("  phase migration {\n    step wait = sh(\"sleep 3\")\n  }\n");
  pid_t first = fork();
  if (first == 0) {
    fs::current_path(dir_);
    execl(MIG_BINARY, "mig", "run", "plan.mig", nullptr);
    _exit(127);
  }
  // Wait until the first runner holds the lock and runs its step.
  for (int i = 0; i < 100 && readFile(dir_ / ".mig" / "e2e.lock").empty(); ++i) {
    std::this_thread::sleep_for(50ms);
  }
  auto second = mig("run plan.mig");
  EXPECT_EQ(second.exitCode, 6) << second.output;
  EXPECT_NE(second.output.find("plan e2e is being run by another mig (host "), std::string::npos)
      << second.output;
  EXPECT_NE(second.output.find(fmt::format("pid {}", first)), std::string::npos) << second.output;
  int status = 0;
  waitpid(first, &status, 0);
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST_F(RunTest, PlansShareAFolderWithoutBlockingEachOther) {
  writeFile(dir_ / "one.mig", "plan one {\n  retain 72h\n  phase migration {\n    step a = sh(\"sleep 1; echo one >> out1.txt\")\n  }\n}\n");
  writeFile(dir_ / "two.mig", "plan two {\n  retain 72h\n  phase migration {\n    step a = sh(\"echo two >> out2.txt\")\n  }\n}\n");
  pid_t first = fork();
  if (first == 0) {
    fs::current_path(dir_);
    execl(MIG_BINARY, "mig", "run", "one.mig", nullptr);
    _exit(127);
  }
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(mig("run two.mig").exitCode, 0);
  int status = 0;
  waitpid(first, &status, 0);
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_EQ(lines("out1.txt"), std::vector<std::string>{"one"});
  EXPECT_EQ(lines("out2.txt"), std::vector<std::string>{"two"});
  auto ambiguous = mig("status");
  EXPECT_EQ(ambiguous.exitCode, 2);
  EXPECT_NE(ambiguous.output.find("several plans (one, two)"), std::string::npos) << ambiguous.output;
}

// kill -9 at several points, then resume: every step's side effect happens
// exactly once. Each step appends its name and is checked by grep, so a step
// interrupted after its side effect counts as done, and one interrupted
// before it runs again.
TEST_F(RunTest, KillNineThenResumeRunsEveryStepExactlyOnce) {
  for (int killAfter : {1, 4, 7}) {
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    std::string steps = "  phase migration {\n";
    for (int i = 1; i <= 10; ++i) {
      steps += fmt::format(
          "    step s{0} {{\n      do    sh(\"sleep 0.1; echo s{0} >> counts.txt; sleep 0.1\")\n"
          "      check \"grep -qx s{0} counts.txt\"\n{1}    }}\n",
          i, i > 1 ? fmt::format("      after s{}\n", i - 1) : "");
    }
    steps += "  }\n";
    plan(steps);
    pid_t runner = fork();
    if (runner == 0) {
      fs::current_path(dir_);
      int null = open("/dev/null", O_WRONLY);
      dup2(null, 1);
      execl(MIG_BINARY, "mig", "run", "plan.mig", nullptr);
      _exit(127);
    }
    for (int i = 0; i < 200 && lines("counts.txt").size() < static_cast<size_t>(killAfter); ++i) {
      std::this_thread::sleep_for(20ms);
    }
    kill(runner, SIGKILL);
    waitpid(runner, nullptr, 0);
    auto resumed = mig("resume plan.mig");
    EXPECT_EQ(resumed.exitCode, 0) << "killed after " << killAfter << ":\n" << resumed.output;
    // The killed runner's lock is taken over, saying whose it was.
    EXPECT_NE(resumed.output.find(fmt::format("took over the lock of a runner that is gone (host "
                                              "{}",
                                              [] {
                                                char host[256] = {};
                                                gethostname(host, sizeof host - 1);
                                                return std::string(host);
                                              }())),
              std::string::npos)
        << resumed.output;
    EXPECT_NE(resumed.output.find(fmt::format("pid {}", runner)), std::string::npos)
        << resumed.output;
    std::vector<std::string> expected;
    for (int i = 1; i <= 10; ++i) expected.push_back(fmt::format("s{}", i));
    EXPECT_EQ(lines("counts.txt"), expected) << "killed after " << killAfter;
    EXPECT_EQ(status()["state"], "succeeded");
  }
}

TEST_F(RunTest, ResumeAsksAboutAnInterruptedStepItCannotDecide) {
  plan("  phase migration {\n    step unsure = sh(\"echo started >> out.txt; sleep 30\")\n  }\n");
  pid_t runner = fork();
  if (runner == 0) {
    fs::current_path(dir_);
    int null = open("/dev/null", O_WRONLY);
    dup2(null, 1);
    execl(MIG_BINARY, "mig", "run", "plan.mig", nullptr);
    _exit(127);
  }
  for (int i = 0; i < 200 && lines("out.txt").empty(); ++i) std::this_thread::sleep_for(20ms);
  kill(runner, SIGKILL);
  waitpid(runner, nullptr, 0);
  auto resumed = mig("resume plan.mig");
  EXPECT_EQ(resumed.exitCode, 7) << resumed.output;
  EXPECT_NE(resumed.output.find("--rerun STEP"), std::string::npos) << resumed.output;
  EXPECT_NE(resumed.output.find("unsure (plan.mig:4: it has no check and is not idempotent)"),
            std::string::npos)
      << resumed.output;
  auto marked = mig("resume plan.mig --mark-done unsure");
  EXPECT_EQ(marked.exitCode, 0) << marked.output;
  EXPECT_EQ(stepState("unsure"), "done");
  EXPECT_EQ(lines("out.txt").size(), 1u);
}

TEST_F(RunTest, ResumeRefusesWhenThePlanChanged) {
  plan("  phase migration {\n    step a = sh(\"exit 1\")\n  }\n");
  ASSERT_EQ(mig("run plan.mig --no-rollback").exitCode, 4);
  // A failed run left as it is can be resumed; first, change the plan.
  std::string text = readFile(dir_ / "plan.mig");
  text.replace(text.find("exit 1"), 6, "exit 0");
  writeFile(dir_ / "plan.mig", text);
  auto refused = mig("resume plan.mig");
  EXPECT_EQ(refused.exitCode, 7) << refused.output;
  EXPECT_NE(refused.output.find("the plan changed since run 1 started"), std::string::npos)
      << refused.output;
  EXPECT_NE(refused.output.find("step a changed"), std::string::npos) << refused.output;
}

TEST_F(RunTest, NewRunIsRefusedWhileTheLastOneFailedWithoutRollingBack) {
  plan("  phase migration {\n"
       "    step copy {\n      do   sh(\"echo copy >> out.txt\")\n      undo sh(\"echo wipe >> out.txt\")\n    }\n"
       "    step bad {\n      do    sh(\"exit 1\")\n      after copy\n    }\n"
       "  }\n");
  ASSERT_EQ(mig("run plan.mig --no-rollback").exitCode, 4);
  auto refused = mig("run plan.mig");
  EXPECT_EQ(refused.exitCode, 7) << refused.output;
  EXPECT_NE(refused.output.find("run 1 of plan e2e failed and was not rolled back (failed"),
            std::string::npos)
      << refused.output;
  EXPECT_EQ(lines("out.txt"), std::vector<std::string>{"copy"});
  // The old run can still be rolled back; after that a new run starts.
  EXPECT_EQ(mig("rollback plan.mig").exitCode, 0);
  EXPECT_EQ(lines("out.txt"), (std::vector<std::string>{"copy", "wipe"}));
  EXPECT_EQ(mig("run plan.mig").exitCode, 3);
}

TEST_F(RunTest, RestartStopsWhatTheKilledRunnerLeftRunning) {
  plan("  phase migration {\n"
       "    step slow = sh(\"echo started >> started.txt; sleep 2; echo slow >> out.txt\")\n"
       "  }\n");
  pid_t runner = fork();
  if (runner == 0) {
    fs::current_path(dir_);
    int null = open("/dev/null", O_WRONLY);
    dup2(null, 1);
    execl(MIG_BINARY, "mig", "run", "plan.mig", nullptr);
    _exit(127);
  }
  ASSERT_TRUE(waitForLine("started.txt"));
  kill(runner, SIGKILL);
  waitpid(runner, nullptr, 0);
  auto restarted = mig("run --restart plan.mig");
  EXPECT_EQ(restarted.exitCode, 0) << restarted.output;
  EXPECT_NE(restarted.output.find("left running by the interrupted runner"),
            std::string::npos)
      << restarted.output;
  std::this_thread::sleep_for(2500ms);  // long enough for the old step to have finished
  EXPECT_EQ(lines("out.txt"), std::vector<std::string>{"slow"});
}

TEST_F(RunTest, NoWaitPausesWhenTheWindowIsClosed) {
  // A one-off window far in the future.
  plan("  phase switchover {\n    window later\n    step flip = sh(\"echo flip >> out.txt\")\n  }\n",
       "  window later {\n    at       \"2099-01-01T00:00\"\n    length   1h\n    timezone \"UTC\"\n  }\n");
  auto result = mig("run plan.mig --no-wait");
  EXPECT_EQ(result.exitCode, 5) << result.output;
  EXPECT_NE(result.output.find("2099-01-01 00:00"), std::string::npos) << result.output;
  EXPECT_FALSE(fs::exists(dir_ / "out.txt"));
  EXPECT_EQ(status()["state"], "paused");
}

TEST_F(RunTest, SecretsReachStepsButNoFileOrOutput) {
  const std::string secret = "s3cr3t-Value-9431";
  // Preflight connects to the endpoint: give it a listener.
  int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  ASSERT_EQ(listen(listener, 4), 0);
  getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length);
  int port = ntohs(address.sin_port);
  writeFile(dir_ / "plan.mig",
            "import \"std/redis\"\n"
            "plan e2e {\n  retain 72h\n"
            "  secret pw { from env(\"MIG_E2E_SECRET\") }\n"
            "  target cache redis {\n    host     \"127.0.0.1\"\n    port     " +
                std::to_string(port) +
                "\n    password pw\n  }\n"
                "  phase migration {\n"
                "    step use = sh(\"echo got:$REDISCLI_AUTH; env | grep -c MIG_E2E_SECRET || true; "
                "echo ${cache.host}\")\n"
                "  }\n}\n");
  // At trace, mig's own log keeps the most it ever keeps.
  auto result = mig("run plan.mig --json", "MIG_LOG=trace MIG_E2E_SECRET=" + secret);
  close(listener);
  EXPECT_EQ(result.exitCode, 0) << result.output;
  EXPECT_EQ(result.output.find(secret), std::string::npos) << result.output;
  EXPECT_TRUE(fs::exists(dir_ / ".mig/logs/e2e/run-1/mig.log"));
  auto log = mig("log use plan.mig");
  EXPECT_NE(log.output.find("got:***\n0\n127.0.0.1\n"), std::string::npos)
      << "the secret was not delivered, or its source variable leaked into the step: " << log.output;
  for (const auto& entry : fs::recursive_directory_iterator(dir_ / ".mig")) {
    if (!entry.is_regular_file()) continue;
    EXPECT_EQ(readFile(entry.path()).find(secret), std::string::npos) << entry.path();
  }
}

// A value that short would be "redacted" inside every word holding it,
// showing it to anyone reading the output: preflight refuses it.
TEST_F(RunTest, SecretShorterThanFourCharactersFailsPreflightUnseen) {
  const std::string secret = "b7q";
  writeFile(dir_ / "plan.mig",
            "import \"std/redis\"\n"
            "plan e2e {\n  retain 72h\n"
            "  secret pw { from env(\"MIG_E2E_SECRET\") }\n"
            "  target cache redis {\n    host     \"127.0.0.1\"\n    port     1\n"
            "    password pw\n  }\n"
            "  phase migration {\n"
            "    step use = sh(\"echo ${cache.host} >> out.txt\")\n"
            "  }\n}\n");
  auto result = mig("run plan.mig", "MIG_E2E_SECRET=" + secret);
  EXPECT_EQ(result.exitCode, 8) << result.output;
  // After lint's warnings about the plan:
  size_t preflight = result.output.find("mig: preflight failed");
  ASSERT_NE(preflight, std::string::npos) << result.output;
  EXPECT_EQ(result.output.substr(preflight),
            "mig: preflight failed; nothing was run (2 problems):\n"
            "  - secret pw: the value of environment variable MIG_E2E_SECRET is shorter than 4 "
            "characters, too short to hide in output\n"
            "  - endpoint cache: cannot connect to 127.0.0.1:1: Connection refused\n");
  EXPECT_EQ(result.output.find(secret), std::string::npos) << result.output;
  EXPECT_FALSE(fs::exists(dir_ / "out.txt"));
  // No run began: mig's own log of it is the plan's.
  std::string log = readFile(dir_ / ".mig/logs/e2e/mig.log");
  EXPECT_NE(log.find(" error   finished with exit code 8: preflight failed"), std::string::npos)
      << log;
  EXPECT_NE(log.find(" error     endpoint cache: cannot connect to 127.0.0.1:1"), std::string::npos)
      << log;
}

// Hostile values in a plan reach a command as one word each: nothing in
// them runs.
TEST_F(RunTest, HostileValuesNeverExecute) {
  fs::path marker = dir_ / "pwned";
  writeFile(dir_ / "ops.mig",
            "module ops\n"
            "action show(value: string, more: string) {\n"
            "  effect read\n"
            "  run    \"printf '<%s>\\\\n' ${value} ${more} > values.txt\"\n"
            "}\n");
  std::string hostile = "x'; touch " + marker.string() + "; echo '";
  std::string substitution = "$(touch " + marker.string() + ")`touch " + marker.string() + "`";
  writeFile(dir_ / "plan.mig",
            "import \"./ops\"\n"
            "plan e2e {\n  retain 72h\n"
            "  phase preparation {\n"
            "    step show = ops.show(value: \"" + hostile + "\", more: \"" + substitution +
                "; rm -rf /\")\n"
                "  }\n}\n");
  auto result = mig("run plan.mig");
  EXPECT_EQ(result.exitCode, 0) << result.output;
  EXPECT_FALSE(fs::exists(marker));
  EXPECT_EQ(readFile(dir_ / "values.txt"), "<" + hostile + ">\n<" + substitution + "; rm -rf />\n");
}

TEST_F(RunTest, ALogKeepsItsHeadAndTailWithinTheLimitAndSaysSo) {
  plan(
      "  phase migration {\n"
      "    step talk = sh(\"echo first; head -c 100000 /dev/zero | tr '\\\\0' x; echo; echo "
      "last\")\n"
      "  }\n");
  auto run = mig("run --log-limit 4KiB plan.mig");
  ASSERT_EQ(run.exitCode, 0) << run.output;
  auto log = mig("log talk plan.mig");
  EXPECT_EQ(log.exitCode, 0);
  EXPECT_LT(log.output.size(), 6000u);
  EXPECT_NE(log.output.find("first\n"), std::string::npos) << log.output.substr(0, 300);
  EXPECT_NE(log.output.find("\nlast\n"), std::string::npos);
  EXPECT_NE(log.output.find("(mig: this log is incomplete: "), std::string::npos);
  EXPECT_NE(log.output.find("left out of its middle (the log size limit)"), std::string::npos);
  auto refused = mig("run --log-limit 4 plan.mig");
  EXPECT_EQ(refused.exitCode, 2) << refused.output;
  EXPECT_NE(refused.output.find("--log-limit 4: unknown unit"), std::string::npos)
      << refused.output;
}

TEST_F(RunTest, AnUndoCutShortByKillNineDoesNotRunAgainWithoutADecision) {
  plan(
      "  phase migration {\n"
      "    step a {\n      do   sh(\"echo a >> out.txt\")\n"
      "      undo sh(\"echo undo >> trace.txt; sleep 3\")\n    }\n  }\n");
  ASSERT_EQ(mig("run plan.mig").exitCode, 0);
  pid_t rollback = startMig(dir_, {"rollback", "plan.mig"});
  ASSERT_TRUE(waitForLine("trace.txt"));
  kill(rollback, SIGKILL);
  waitpid(rollback, nullptr, 0);

  auto again = mig("rollback plan.mig");
  EXPECT_EQ(again.exitCode, 7) << again.output;
  EXPECT_NE(again.output.find("--mark-done STEP"), std::string::npos) << again.output;
  EXPECT_NE(again.output.find("a (plan.mig:"), std::string::npos) << again.output;
  EXPECT_EQ(lines("trace.txt").size(), 1u);

  auto decided = mig("rollback --mark-done a plan.mig");
  EXPECT_EQ(decided.exitCode, 0) << decided.output;
  EXPECT_EQ(lines("trace.txt").size(), 1u);
  EXPECT_EQ(stepState("a"), "undone");
}

TEST_F(RunTest, RemovingTheJournalFolderDoesNotLetASecondRunnerIn) {
  plan(
      "  phase migration {\n"
      "    step slow = sh(\"echo started >> started.txt; sleep 3\")\n  }\n");
  pid_t first = startMig(dir_, {"run", "plan.mig"}, "first.txt");
  ASSERT_TRUE(waitForLine("started.txt"));
  // Held still, the first runner cannot notice the removal before the
  // second one tries: the lock alone must keep the second out.
  kill(first, SIGSTOP);
  fs::remove_all(dir_ / ".mig");
  auto second = mig("run plan.mig");
  EXPECT_EQ(second.exitCode, 6) << second.output;
  EXPECT_NE(second.output.find("plan e2e is being run by another mig"), std::string::npos)
      << second.output;
  EXPECT_EQ(lines("started.txt").size(), 1u);
  // Let go, the first runner sees its journal gone and stops at once.
  kill(first, SIGCONT);
  EXPECT_EQ(exitStatusOf(first), 9);
  std::string said = readFile(dir_ / "first.txt");
  EXPECT_NE(said.find("was removed or replaced while in use"), std::string::npos) << said;
}

TEST_F(RunTest, SighupStopsTheRunLikeSigterm) {
  plan(
      "  phase migration {\n"
      "    step slow = sh(\"echo started >> started.txt; sleep 30\")\n  }\n");
  pid_t runner = startMig(dir_, {"run", "plan.mig"});
  ASSERT_TRUE(waitForLine("started.txt"));
  kill(runner, SIGHUP);
  EXPECT_EQ(exitStatusOf(runner), 5);
  EXPECT_EQ(status()["state"], "paused");
  EXPECT_EQ(stepState("slow"), "interrupted");
}

TEST_F(RunTest, AnEmptiedJournalIsReportedDamagedNotEmpty) {
  plan("  phase migration {\n    step a = sh(\"echo a >> out.txt\")\n  }\n");
  ASSERT_EQ(mig("run plan.mig").exitCode, 0);
  fs::resize_file(dir_ / ".mig" / "state.db", 0);
  auto shown = mig("status plan.mig");
  EXPECT_EQ(shown.exitCode, 9) << shown.output;
  EXPECT_NE(shown.output.find("is damaged: it is empty"), std::string::npos) << shown.output;
  EXPECT_EQ(shown.output.find("has not run yet"), std::string::npos) << shown.output;
  auto run = mig("run plan.mig");
  EXPECT_EQ(run.exitCode, 9) << run.output;
  EXPECT_EQ(lines("out.txt").size(), 1u);
}

// mig's own log: .mig/logs/PLAN/run-N/mig.log.
std::string runnerLog(const fs::path& dir, const std::string& name = "run-1/mig.log") {
  return readFile(dir / ".mig" / "logs" / "e2e" / name);
}

TEST_F(RunTest, TheRunnersOwnLogRecordsWhatItDecided) {
  plan(
      "  phase migration {\n"
      "    step a {\n      do   sh(\"true\")\n      undo sh(\"true\")\n    }\n"
      "    step b {\n      do    sh(\"exit 7\")\n      retry 1\n      after a\n    }\n"
      "  }\n");
  auto result = mig("run plan.mig");
  ASSERT_EQ(result.exitCode, 3) << result.output;
  std::string log = runnerLog(dir_);
  for (const char* expected :
       {" info    mig 0.1.0", "run of plan e2e on ", "run 1 of plan e2e is journaled as id 1",
        " warning [1/2] step b attempt 1 it failed (exit code 7); retrying",
        " error   [1/2] step b FAILED: it failed (exit code 7)", "step a undone",
        " error   finished with exit code 3: step b failed; rolled back"}) {
    EXPECT_NE(log.find(expected), std::string::npos) << expected << " in:\n" << log;
  }
  // Timestamps: the date and time of each record, in UTC.
  EXPECT_EQ(log.substr(10, 1), "T") << log;
}

TEST_F(RunTest, TheRunnersLogLevelComesFromTheOptionOrMigLog) {
  plan("  phase migration {\n    step a = sh(\"true\")\n  }\n");
  auto loud = mig("run plan.mig --log-level loud");
  EXPECT_EQ(loud.exitCode, 2) << loud.output;
  EXPECT_NE(loud.output.find("--log-level loud: the log level is one of trace, debug, info, warn, "
                             "error or off"),
            std::string::npos)
      << loud.output;
  auto bogus = mig("run plan.mig", "MIG_LOG=bogus");
  EXPECT_EQ(bogus.exitCode, 2) << bogus.output;
  EXPECT_NE(bogus.output.find("MIG_LOG=bogus: the log level is one of"), std::string::npos)
      << bogus.output;
  EXPECT_FALSE(fs::exists(dir_ / "out.txt"));
  ASSERT_EQ(mig("run plan.mig", "MIG_LOG=warn").exitCode, 0);
  EXPECT_EQ(runnerLog(dir_).find(" info "), std::string::npos) << runnerLog(dir_);
  // The option wins over the variable.
  ASSERT_EQ(mig("run plan.mig --log-level debug", "MIG_LOG=off").exitCode, 0);
  EXPECT_NE(runnerLog(dir_, "run-2/mig.log").find(" debug   preflight: "), std::string::npos)
      << runnerLog(dir_, "run-2/mig.log");
}

TEST_F(RunTest, TheRunnersLogTellsASignalAndALockTakenOver) {
  plan(
      "  phase migration {\n"
      "    step slow = sh(\"echo started >> started.txt; sleep 30\")\n  }\n");
  pid_t runner = startMig(dir_, {"run", "plan.mig"});
  ASSERT_TRUE(waitForLine("started.txt"));
  kill(runner, SIGTERM);
  EXPECT_EQ(exitStatusOf(runner), 5);
  std::string log = runnerLog(dir_);
  EXPECT_NE(log.find(" warning received SIGTERM: stopping the running steps"), std::string::npos)
      << log;
  EXPECT_NE(log.find("finished with exit code 5"), std::string::npos) << log;

  fs::remove(dir_ / "started.txt");
  runner = startMig(dir_, {"resume", "plan.mig", "--rerun", "slow"});
  ASSERT_TRUE(waitForLine("started.txt"));
  kill(runner, SIGKILL);
  waitpid(runner, nullptr, 0);
  ASSERT_EQ(mig("resume plan.mig --mark-done slow").exitCode, 0);
  // Both resumes write to the run's log, after the first runner's records.
  log = runnerLog(dir_);
  size_t signal = log.find("received SIGTERM");
  size_t takeover = log.find(fmt::format("took over the lock of a runner that is gone"));
  ASSERT_NE(takeover, std::string::npos) << log;
  EXPECT_LT(signal, takeover);
  EXPECT_NE(log.find(fmt::format("pid {}", runner), takeover), std::string::npos) << log;
  EXPECT_NE(log.find("finished with exit code 0", takeover), std::string::npos) << log;
}

TEST_F(RunTest, ARunnerThatFindsThePlanLockedLogsItInThePlansLog) {
  plan(
      "  phase migration {\n"
      "    step slow = sh(\"echo started >> started.txt; sleep 30\")\n  }\n");
  pid_t first = startMig(dir_, {"run", "plan.mig"});
  ASSERT_TRUE(waitForLine("started.txt"));
  auto second = mig("run plan.mig");
  kill(first, SIGTERM);
  exitStatusOf(first);
  EXPECT_EQ(second.exitCode, 6) << second.output;
  // No run of its own: the records go to the plan's log.
  std::string log = runnerLog(dir_, "mig.log");
  EXPECT_NE(log.find("plan e2e is being run by another mig"), std::string::npos) << log;
  EXPECT_NE(log.find("finished with exit code 6"), std::string::npos) << log;
}

}  // namespace
}  // namespace mig
