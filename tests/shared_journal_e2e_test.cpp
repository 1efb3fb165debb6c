// The journal in PostgreSQL, shared by runners on several machines: two
// runner processes in two folders (each with its own .mig, as two machines
// would have) against one real PostgreSQL server the harness starts on
// loopback. Exactly one runs a plan; `kill -9` of the holder lets the other
// take over at once and finish the run; logs, status and history are the
// same from either side; a plan's history moves from the SQLite file into
// PostgreSQL and can be rolled back from there.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "test_support.h"
#include "tests/harness/servers.h"

namespace mig {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::exitStatusOf;
using testing::PostgresServer;
using testing::readFile;
using testing::runCommand;
using testing::startMig;
using testing::waitForFile;
using testing::writeFile;

const char* kPassword = "Journal-pass-6613";

class SharedJournal : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    server_ = PostgresServer::start(kPassword, error);
    ASSERT_TRUE(server_) << error;
    ASSERT_TRUE(server_->createDatabase("journal", &error)) << error;
    url_ = server_->url("journal");
    dir_ = testing::freshTestFolder("mig-shared");
    fs::create_directories(dir_ / "a");
    fs::create_directories(dir_ / "b");
    // Both "machines" reach the journal with the password from the
    // environment, as psql would.
    setenv("PGPASSWORD", kPassword, 1);
  }
  void TearDown() override {
    unsetenv("PGPASSWORD");
    unsetenv("MIG_STATE");
    // The killed runner's step, left running on "machine" a.
    runCommand(fmt::format("pkill -f {} >/dev/null 2>&1; pkill -fx 'sleep 61' >/dev/null 2>&1",
                           (dir_ / "go").string()));
    fs::remove_all(dir_);
  }

  void plan(const std::string& phases) {
    std::string text = "plan shared {\n  retain 72h\n" + phases + "}\n";
    writeFile(dir_ / "a" / "plan.mig", text);
    writeFile(dir_ / "b" / "plan.mig", text);
  }

  /// `mig ARGS` in folder `machine` ("a" or "b") with the shared journal.
  testing::CommandResult mig(const std::string& machine, const std::string& args) {
    return runCommand(fmt::format("cd {} && MIG_STATE={} {} {} 2>&1", (dir_ / machine).string(),
                                  url_, testing::mig(), args));
  }

  std::unique_ptr<PostgresServer> server_;
  std::string url_;
  fs::path dir_;
};

std::string hostName() {
  char name[256] = {};
  gethostname(name, sizeof name - 1);
  return name;
}

TEST_F(SharedJournal, OneRunnerAtATimeAndTheOtherTakesOverAfterKillNine) {
  plan(fmt::format(
      "  phase preparation {{\n"
      "    step hello = sh(\"echo hello from $PWD; echo pw=$(printenv PGPASSWORD || echo none) "
      "state=$(printenv MIG_STATE || echo none)\")\n"
      "    step slow {{\n"
      "      do         \"touch {0}; test -e {1} || sleep 61\"\n"
      "      idempotent true\n"
      "      after      hello\n"
      "    }}\n  }}\n",
      (dir_ / "started").string(), (dir_ / "go").string()));
  setenv("MIG_STATE", url_.c_str(), 1);
  pid_t first = startMig(dir_ / "a", {"run", "plan.mig"}, (dir_ / "a.out").string());
  unsetenv("MIG_STATE");
  ASSERT_TRUE(waitForFile(dir_ / "started")) << readFile(dir_ / "a.out");

  // The other machine is refused while the first runs, and told by whom.
  auto refused = mig("b", "run plan.mig");
  EXPECT_EQ(refused.exitCode, 6) << refused.output;
  EXPECT_NE(refused.output.find(
                fmt::format("plan shared is being run by another mig (host {}", hostName())),
            std::string::npos)
      << refused.output;
  EXPECT_NE(refused.output.find(fmt::format("pid {},", first)), std::string::npos)
      << refused.output;
  auto all = mig("b", "status --all");
  EXPECT_EQ(all.exitCode, 0) << all.output;
  EXPECT_NE(all.output.find("shared    1  running"), std::string::npos) << all.output;

  // kill -9: its session ends, and with it the lock. As if it ran on
  // another machine, whose leftovers this one cannot stop:
  ASSERT_EQ(::kill(first, SIGKILL), 0);
  exitStatusOf(first);
  std::string error;
  ASSERT_TRUE(server_->sql("journal", "UPDATE mig.runs SET host = 'ops-elsewhere';", &error))
      << error;
  writeFile(dir_ / "go", "");
  auto began = std::chrono::steady_clock::now();
  testing::CommandResult resumed;
  for (int i = 0; i < 20; ++i) {
    resumed = mig("b", "resume plan.mig");
    if (resumed.exitCode != 6) break;
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_LT(std::chrono::steady_clock::now() - began, 5s);
  EXPECT_EQ(resumed.exitCode, 0) << resumed.output;
  EXPECT_NE(resumed.output.find(fmt::format("took over the lock of a runner that is gone (host "
                                            "{}, pid {},",
                                            hostName(), first)),
            std::string::npos)
      << resumed.output;
  EXPECT_NE(resumed.output.find("step slow was interrupted; it is idempotent, so it runs again"),
            std::string::npos)
      << resumed.output;
  EXPECT_NE(resumed.output.find("run 1 was last driven from host ops-elsewhere (pid " +
                                std::to_string(first) +
                                "): processes its runner left running "
                                "there cannot be stopped from here"),
            std::string::npos)
      << resumed.output;

  // Either machine sees the same run; the first one's log is in the
  // journal even once its folder is gone.
  auto status = mig("a", "status plan.mig");
  EXPECT_NE(status.output.find("plan shared, run 1: succeeded"), std::string::npos)
      << status.output;
  fs::remove_all(dir_ / "a" / ".mig");
  auto log = mig("b", "log hello plan.mig");
  // ... and the journal's credentials never reached the step.
  EXPECT_NE(log.output.find("hello from " + (dir_ / "a").string() + "\npw=none state=none\n"),
            std::string::npos)
      << log.output;
}

TEST_F(SharedJournal, APlansHistoryMovesFromTheFileAndRollsBackFromPostgres) {
  fs::path order = dir_ / "order";
  plan(
      fmt::format("  phase migration {{\n"
                  "    step first {{\n      do   \"echo do-first >> {0}\"\n      undo \"echo "
                  "undo-first >> {0}\"\n    }}\n"
                  "    step second {{\n      do   \"echo do-second >> {0}\"\n      undo \"echo "
                  "undo-second >> {0}\"\n"
                  "      after first\n    }}\n  }}\n",
                  order.string()));
  auto local = runCommand(
      fmt::format("cd {} && {} run plan.mig 2>&1", (dir_ / "a").string(), testing::mig()));
  ASSERT_EQ(local.exitCode, 0) << local.output;
  auto exported =
      runCommand(fmt::format("cd {} && {} state export -o {} 2>&1", (dir_ / "a").string(),
                             testing::mig(), (dir_ / "runs.json").string()));
  ASSERT_EQ(exported.exitCode, 0) << exported.output;

  auto imported = mig("b", "state import " + (dir_ / "runs.json").string());
  EXPECT_EQ(imported.exitCode, 0) << imported.output;
  EXPECT_NE(imported.output.find("imported 1 run of plan shared into " + url_), std::string::npos)
      << imported.output;
  // A second import would mix two histories of one plan: refused, nothing written.
  auto again = mig("b", "state import " + (dir_ / "runs.json").string());
  EXPECT_EQ(again.exitCode, 2) << again.output;
  EXPECT_NE(again.output.find("plan shared already has runs in"), std::string::npos)
      << again.output;

  // The history exported back from PostgreSQL is the same document.
  auto roundTrip = mig("b", "state export -o " + (dir_ / "back.json").string());
  ASSERT_EQ(roundTrip.exitCode, 0) << roundTrip.output;
  EXPECT_EQ(readFile(dir_ / "back.json"), readFile(dir_ / "runs.json"));

  // Rolled back from the shared journal: newest first.
  auto rollback = mig("b", "rollback plan.mig");
  EXPECT_EQ(rollback.exitCode, 0) << rollback.output;
  EXPECT_EQ(readFile(order), "do-first\ndo-second\nundo-second\nundo-first\n");
}

TEST_F(SharedJournal, AJournalThatCannotBeReachedIsAClearErrorAndNothingRuns) {
  plan("  phase preparation {\n    step touch = sh(\"touch " + (dir_ / "ran").string() +
       "\")\n  }\n");
  auto result =
      runCommand(fmt::format("cd {} && {} run plan.mig --state "
                             "postgresql://mig@127.0.0.1:1/journal 2>&1",
                             (dir_ / "a").string(), testing::mig()));
  EXPECT_EQ(result.exitCode, 9) << result.output;
  EXPECT_NE(
      result.output.find("mig: cannot connect to journal postgresql://mig@127.0.0.1:1/journal"),
      std::string::npos)
      << result.output;
  EXPECT_FALSE(fs::exists(dir_ / "ran"));
  // A password written in the URL is never shown.
  result =
      runCommand(fmt::format("cd {} && {} status --all --state "
                             "postgresql://mig:Url-secret-2291@127.0.0.1:1/journal 2>&1",
                             (dir_ / "a").string(), testing::mig()));
  EXPECT_EQ(result.exitCode, 9) << result.output;
  EXPECT_EQ(result.output.find("Url-secret-2291"), std::string::npos) << result.output;
  // Nor where its text is also part of the URL's other parts: a role whose
  // password is "postgres", in a postgresql:// URL.
  std::string error;
  ASSERT_TRUE(server_->sql("journal",
                           "CREATE ROLE mig LOGIN PASSWORD 'postgres'; "
                           "GRANT ALL ON DATABASE journal TO mig;",
                           &error))
      << error;
  unsetenv("PGPASSWORD");
  result = runCommand(
      fmt::format("cd {} && {} status --all --state postgresql://mig:postgres@127.0.0.1:{}/journal "
                  "2>&1",
                  (dir_ / "a").string(), testing::mig(), server_->port()));
  EXPECT_EQ(result.exitCode, 0) << result.output;
  EXPECT_EQ(result.output.find(":postgres@"), std::string::npos) << result.output;
  EXPECT_NE(
      result.output.find(fmt::format(":***@127.0.0.1:{}/journal records no run", server_->port())),
      std::string::npos)
      << result.output;
}

}  // namespace
}  // namespace mig
