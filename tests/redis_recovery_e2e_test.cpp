// Redis copies that fail, are killed or are undone, end to end: `mig run`,
// `mig resume` and `mig rollback` on real servers the harness starts on
// loopback. A rollback that says "undone" must have undone it: the target
// a master with its own masterauth, holding nothing the copy wrote.
#include <fcntl.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <thread>

#include "test_support.h"
#include "tests/harness/servers.h"

namespace mig {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::RedisServer;

const char* kOldPassword = "Old-Cache-pass-4471";
const char* kNewPassword = "New-Cache-pass-8093";
/// The target's own masterauth, which a copy by replication replaces while
/// it runs and must put back.
const char* kOwnMasterauth = "own-masterauth-2231";

class RedisRecoveryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    source_ = RedisServer::start(kOldPassword, error);
    ASSERT_TRUE(source_) << error;
    target_ = RedisServer::start(kNewPassword, error);
    ASSERT_TRUE(target_) << error;
    ASSERT_TRUE(target_->cli({"CONFIG", "SET", "masterauth", kOwnMasterauth}, &error)) << error;
    dir_ = testing::freshTestFolder("mig-redis-recovery");
    ::setenv("T_OLD_CACHE", kOldPassword, 1);
    ::setenv("T_NEW_CACHE", kNewPassword, 1);
  }

  void TearDown() override { fs::remove_all(dir_); }

  /// `keys` strings of 2 KB in db 0 and three in db 3 of the source, and a
  /// function library, sent through redis-cli --pipe.
  void fillSource(int keys) {
    std::string protocol;
    const auto command = [&](std::initializer_list<std::string> args) {
      protocol += fmt::format("*{}\r\n", args.size());
      for (const std::string& arg : args) protocol += fmt::format("${}\r\n{}\r\n", arg.size(), arg);
    };
    const std::string value(2048, 'v');
    for (int i = 0; i < keys; ++i) command({"SET", fmt::format("key:{}", i), value});
    command({"SELECT", "3"});
    for (int i = 0; i < 3; ++i) command({"SET", fmt::format("other:{}", i), "x"});
    command({"FUNCTION", "LOAD",
             "#!lua name=cachelib\nredis.register_function('hits', "
             "function() return 1 end)"});
    testing::writeFile(dir_ / "fill.txt", protocol);
    auto piped = testing::runCommand(
        fmt::format("REDISCLI_AUTH='{}' redis-cli --no-auth-warning -p {} --pipe < '{}' 2>&1",
                    kOldPassword, source_->port(), (dir_ / "fill.txt").string()));
    ASSERT_EQ(piped.exitCode, 0) << piped.output;
    ASSERT_EQ(cli(*source_, {"DBSIZE"}), std::to_string(keys));
  }

  /// The source sends its snapshot slowly (`microseconds` a key, 2 ms by
  /// default): a copy of 3,000 keys replicates for seconds, long enough to
  /// be killed halfway.
  void slowDownTheSync(int microseconds = 2000) {
    ASSERT_EQ(cli(*source_, {"CONFIG", "SET", "rdb-key-save-delay", std::to_string(microseconds)}),
              "OK");
    ASSERT_EQ(cli(*source_, {"CONFIG", "SET", "repl-diskless-sync-delay", "0"}), "OK");
    // The target answers clients after every kilobyte it loads (Redis's
    // default: every 2 MB, seconds here), so that it can be put back.
    ASSERT_EQ(cli(*target_, {"CONFIG", "SET", "loading-process-events-interval-bytes", "1024"}),
              "OK");
  }

  std::string planText(const std::string& method, const std::string& extraSteps = "") const {
    return fmt::format(R"(import "std/redis"

plan cache_move {{
  secret old_cache {{ from env("T_OLD_CACHE") }}
  secret new_cache {{ from env("T_NEW_CACHE") }}

  source cache_old redis {{
    host     "127.0.0.1"
    port     {}
    password old_cache
  }}

  target cache_new redis {{
    host     "127.0.0.1"
    port     {}
    password new_cache
  }}

  phase migration {{
    step cache_copy {{
      do   redis.copy(from: cache_old, to: cache_new, method: {})
      undo redis.wipe(db: cache_new)
    }}
{}  }}
}}
)",
                       source_->port(), target_->port(), method, extraSteps);
  }

  testing::CommandResult mig(const std::string& args) {
    auto result = testing::runCommand("cd '" + dir_.string() + "' && " + testing::mig() + " " +
                                      args + " 2>&1");
    outputs_ += result.output;
    return result;
  }

  /// redis-cli's answer, without the newline.
  static std::string cli(const RedisServer& server, const std::vector<std::string>& args) {
    std::string error;
    auto out = server.cli(args, &error);
    if (!out) return "error: " + error;
    while (!out->empty() && out->back() == '\n') out->pop_back();
    return *out;
  }

  /// Waits until the target replicates (the copy has re-pointed it).
  bool waitUntilTargetReplicates() {
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (std::chrono::steady_clock::now() < deadline) {
      if (cli(*target_, {"INFO", "replication"}).find("role:slave") != std::string::npos) {
        return true;
      }
      std::this_thread::sleep_for(20ms);
    }
    return false;
  }

  /// Starts `mig run` of plan.mig and kills it (kill -9) once the copy
  /// has re-pointed the target; with `driverToo`, the copy's driver as
  /// well, as a lost machine would.
  void killTheRunMidReplication(bool driverToo) {
    const pid_t runner = testing::startMig(dir_, {"run", "plan.mig"}, "run.out");
    ASSERT_TRUE(waitUntilTargetReplicates()) << testing::readFile(dir_ / "run.out");
    ::kill(runner, SIGKILL);
    EXPECT_EQ(testing::exitStatusOf(runner), 128 + SIGKILL);
    if (!driverToo) return;
    testing::runCommand(fmt::format(
        "pkill -KILL -f 'driver redis-copy .*127.0.0.1:{}/' ; sleep 0.2", target_->port()));
    ASSERT_NE(cli(*target_, {"INFO", "replication"}).find("role:slave"), std::string::npos)
        << "nothing has put the target back yet";
  }

  /// The target as it was before the copy: a master, its own masterauth,
  /// no key in any database, no function library.
  void expectTargetAsBefore() {
    SCOPED_TRACE(outputs_);
    EXPECT_NE(cli(*target_, {"INFO", "replication"}).find("role:master"), std::string::npos);
    EXPECT_EQ(cli(*target_, {"CONFIG", "GET", "masterauth"}),
              std::string("masterauth\n") + kOwnMasterauth);
    EXPECT_EQ(cli(*target_, {"INFO", "keyspace"}).find("keys="), std::string::npos)
        << cli(*target_, {"INFO", "keyspace"});
    EXPECT_EQ(cli(*target_, {"FUNCTION", "LIST"}), "");
    EXPECT_FALSE(
        fs::exists(dir_ / ".mig" / fmt::format("redis-copy-127.0.0.1-{}.state", target_->port())));
  }

  void expectNoPasswordPrinted() {
    for (const char* password : {kOldPassword, kNewPassword, kOwnMasterauth}) {
      EXPECT_EQ(outputs_.find(password), std::string::npos) << "printed " << password;
    }
  }

  std::unique_ptr<RedisServer> source_;
  std::unique_ptr<RedisServer> target_;
  fs::path dir_;
  std::string outputs_;
};

// The runner alone killed while the target replicates: the driver loses
// the reader of its output but not its life (no SIGPIPE death), resume
// stops it and it puts the target back; rollback then empties every
// database the replication wrote and the function library it brought.
TEST_F(RedisRecoveryTest, KillingTheRunnerDuringAReplicationCopyLeavesNoReplicaBehind) {
  fillSource(3000);
  slowDownTheSync(5000);  // 15 s: still syncing when the resume comes
  testing::writeFile(dir_ / "plan.mig", planText("replication"));
  killTheRunMidReplication(false);
  // Longer than the driver's progress interval (5 s): it writes to the
  // pipe whose reader is gone, which used to kill it with SIGPIPE.
  std::this_thread::sleep_for(6s);

  auto resumed = mig("resume plan.mig");
  EXPECT_EQ(resumed.exitCode, 7) << resumed.output;
  EXPECT_NE(resumed.output.find("cache_copy"), std::string::npos) << resumed.output;
  // What the driver said once its runner was gone (it outlived the broken
  // pipe), shown by the resume; then the target was put back: by the
  // driver itself, stopped with SIGTERM, or, when that took longer than
  // the 5 s before SIGKILL (a loaded machine), by the copy's recover.
  EXPECT_TRUE(std::regex_search(resumed.output,
                                std::regex("mig: warning: step cache_copy \\(pid [0-9]+\\), after "
                                           "its runner was gone:\n(redis-copy|mig driver "
                                           "redis-copy)")))
      << resumed.output;
  const bool putBackByTheDriver =
      resumed.output.find("mig driver redis-copy: stopped by SIGTERM while 127.0.0.1:" +
                          std::to_string(target_->port()) + " was syncing") != std::string::npos &&
      resumed.output.find("; replication stopped\n") != std::string::npos;
  const bool putBackByTheRecovery =
      resumed.output.find("step cache_copy was interrupted: recovering first") !=
          std::string::npos &&
      resumed.output.find(" is a master again, with its masterauth") != std::string::npos;
  EXPECT_TRUE(putBackByTheDriver || putBackByTheRecovery) << resumed.output;
  EXPECT_FALSE(fs::exists(dir_ / ".mig" / "orphaned" / "cache_move") &&
               !fs::is_empty(dir_ / ".mig" / "orphaned" / "cache_move"))
      << "shown once, then removed";
  EXPECT_NE(cli(*target_, {"INFO", "replication"}).find("role:master"), std::string::npos)
      << "the target still replicates after resume";
  EXPECT_EQ(cli(*target_, {"CONFIG", "GET", "masterauth"}),
            std::string("masterauth\n") + kOwnMasterauth);

  auto rolledBack = mig("rollback plan.mig");
  EXPECT_EQ(rolledBack.exitCode, 0) << rolledBack.output;
  expectTargetAsBefore();
  EXPECT_NE(cli(*source_, {"DBSIZE"}), "0") << "the source is never touched";
  expectNoPasswordPrinted();
}

// Runner and driver both killed: nothing put the target back, but the
// copy's record says it replicates; the rollback's redis.wipe puts it back
// first, says so, then empties what the copy wrote.
TEST_F(RedisRecoveryTest, RollbackRepairsAReplicationCopyKilledWithItsRunner) {
  fillSource(3000);
  slowDownTheSync();
  testing::writeFile(dir_ / "plan.mig", planText("replication"));
  killTheRunMidReplication(true);

  auto rolledBack = mig("rollback plan.mig");
  EXPECT_EQ(rolledBack.exitCode, 0) << rolledBack.output;
  expectTargetAsBefore();
  auto log = mig("log cache_copy plan.mig");
  EXPECT_NE(log.output.find("was cut short before it put the target back"), std::string::npos)
      << log.output;
  EXPECT_NE(log.output.find("is a master again, with its masterauth"), std::string::npos)
      << log.output;
  EXPECT_NE(
      log.output.find("emptied every database of 127.0.0.1:" + std::to_string(target_->port())),
      std::string::npos)
      << log.output;
  expectNoPasswordPrinted();
}

// Runner and driver both killed: resume runs the copy's `recover` before it
// decides anything, which puts the target back and says so; only then does
// it ask about the step (a --mark-done no longer leaves a replica behind).
TEST_F(RedisRecoveryTest, ResumeRepairsAReplicationCopyKilledWithItsRunnerBeforeAsking) {
  fillSource(3000);
  slowDownTheSync();
  testing::writeFile(dir_ / "plan.mig", planText("replication"));
  killTheRunMidReplication(true);

  auto resumed = mig("resume plan.mig");
  EXPECT_EQ(resumed.exitCode, 7) << resumed.output;
  EXPECT_NE(resumed.output.find("step cache_copy was interrupted: recovering first: "
                                "redis.copy(from: cache_old, to: cache_new, method: replication)"),
            std::string::npos)
      << resumed.output;
  EXPECT_NE(resumed.output.find("was cut short before it put the target back"), std::string::npos)
      << resumed.output;
  EXPECT_NE(resumed.output.find(fmt::format("127.0.0.1:{} is a master again, with its masterauth",
                                            target_->port())),
            std::string::npos)
      << resumed.output;
  EXPECT_NE(cli(*target_, {"INFO", "replication"}).find("role:master"), std::string::npos);
  EXPECT_EQ(cli(*target_, {"CONFIG", "GET", "masterauth"}),
            std::string("masterauth\n") + kOwnMasterauth);

  // Marked done, the run ends with the target a master holding the copy.
  auto done = mig("resume plan.mig --mark-done cache_copy");
  EXPECT_EQ(done.exitCode, 0) << done.output;
  EXPECT_NE(done.output.find("nothing to recover"), std::string::npos) << done.output;
  EXPECT_NE(cli(*target_, {"INFO", "replication"}).find("role:master"), std::string::npos);
  expectNoPasswordPrinted();
}

// An undo that cannot log in has not undone anything: the rollback stops
// there (exit 4, manual attention), where redis-cli's FLUSHDB exited 0 on
// WRONGPASS and mig said "undone".
TEST_F(RedisRecoveryTest, AnUndoRefusedByTheServerIsAFailedUndo) {
  fillSource(100);
  // After the copy, the target's password changes under mig's feet, then
  // the next step fails: the rollback's wipe cannot log in.
  const std::string breakStep = R"(    step break {
      do    sh("touch break.ready; until test -e go; do sleep 0.05; done; exit 1")
      after cache_copy
    }
)";
  testing::writeFile(dir_ / "plan.mig", planText("dump", breakStep));
  const pid_t runner = testing::startMig(dir_, {"run", "plan.mig"}, "run.out");
  ASSERT_TRUE(testing::waitForFile(dir_ / "break.ready")) << testing::readFile(dir_ / "run.out");
  ASSERT_EQ(cli(*target_, {"CONFIG", "SET", "requirepass", "changed-pass-1"}), "OK");
  testing::writeFile(dir_ / "go", "");

  EXPECT_EQ(testing::exitStatusOf(runner), 4);
  const std::string output = testing::readFile(dir_ / "run.out");
  outputs_ += output;
  EXPECT_NE(output.find("step cache_copy UNDO FAILED"), std::string::npos) << output;
  EXPECT_EQ(output.find("step cache_copy undone"), std::string::npos) << output;
  auto log = mig("log cache_copy plan.mig");
  EXPECT_NE(log.output.find("WRONGPASS"), std::string::npos) << log.output;
  // Nothing was wiped.
  auto size = testing::runCommand(fmt::format(
      "REDISCLI_AUTH=changed-pass-1 redis-cli --no-auth-warning -p {} DBSIZE", target_->port()));
  EXPECT_EQ(size.output, "100\n");
  expectNoPasswordPrinted();
}

}  // namespace
}  // namespace mig
