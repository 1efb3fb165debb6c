// Whole migrations on real servers: `mig run` copies a PostgreSQL database
// and a Redis database to new servers, verifies ACLs and parity, switches
// over, and `mig rollback` takes it all back; failures in testing roll back
// on their own. Servers are started on loopback by tests/harness.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <thread>
#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/harness/servers.h"
#include "test_support.h"

namespace mig {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::PostgresServer;
using testing::RedisServer;

const char* kOldPgPassword = "Old-PG-pass-7731";
const char* kNewPgPassword = "New-PG-pass-2209";
const char* kOldRedisPassword = "Old-Redis-pass-5518";
const char* kNewRedisPassword = "New-Redis-pass-6604";

class MigrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    oldPg_ = PostgresServer::start(kOldPgPassword, error);
    ASSERT_TRUE(oldPg_) << error;
    newPg_ = PostgresServer::start(kNewPgPassword, error);
    ASSERT_TRUE(newPg_) << error;
    oldRedis_ = RedisServer::start(kOldRedisPassword, error);
    ASSERT_TRUE(oldRedis_) << error;
    newRedis_ = RedisServer::start(kNewRedisPassword, error);
    ASSERT_TRUE(newRedis_) << error;
    ASSERT_TRUE(oldPg_->createDatabase("shop", &error)) << error;
    ASSERT_TRUE(newPg_->createDatabase("shop", &error)) << error;
    ASSERT_TRUE(oldPg_->sql("shop", R"(
      CREATE TABLE customers (id serial PRIMARY KEY, email text UNIQUE NOT NULL, note bytea);
      CREATE TABLE orders (id bigserial PRIMARY KEY, customer_id int REFERENCES customers,
                           amount numeric(10,2), placed timestamptz NOT NULL);
      CREATE INDEX orders_by_customer ON orders (customer_id);
      CREATE VIEW big_orders AS SELECT * FROM orders WHERE amount > 500;
      CREATE SEQUENCE invoice_numbers START 1000;
      SELECT nextval('invoice_numbers');
      INSERT INTO customers (email, note)
        SELECT 'c' || i || '@example.com', decode(md5(i::text), 'hex') FROM generate_series(1, 300) i;
      INSERT INTO orders (customer_id, amount, placed)
        SELECT 1 + i % 300, (i * 7.31) % 1000, '2026-01-01'::timestamptz + (i || ' minutes')::interval
        FROM generate_series(1, 5000) i;
    )", &error)) << error;
    for (const auto& command : std::vector<std::vector<std::string>>{
             {"HSET", "session:1", "user", "42", "cart", "cart:1"},
             {"EXPIRE", "session:1", "3600"},
             {"RPUSH", "cart:1", "p1", "p2", "p3"},
             {"SADD", "tags", "a", "b"},
             {"ZADD", "best", "10", "p1", "5", "p2"},
             {"SET", "visits", "12345"}}) {
      ASSERT_TRUE(oldRedis_->cli(command, &error)) << error;
    }
    dir_ = fs::temp_directory_path() /
           ("mig-migration-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }

  void TearDown() override { fs::remove_all(dir_); }

  // The plan, with the servers' ports. `testing` and `afterCopy` add steps.
  std::string planText(const std::string& testingSteps = "") {
    return fmt::format(R"(import "std/postgres"
import "std/redis"
import "std/acl"

plan shop_move {{
  retain 48h

  secret old_pg    {{ from env("T_OLD_PG") }}
  secret new_pg    {{ from env("T_NEW_PG") }}
  secret old_redis {{ from env("T_OLD_REDIS") }}
  secret new_redis {{ from env("T_NEW_REDIS") }}

  source shop_old postgres {{
    host     "127.0.0.1"
    port     {}
    database "shop"
    password old_pg
  }}

  target shop_new postgres {{
    host     "127.0.0.1"
    port     {}
    database "shop"
    password new_pg
  }}

  source cache_old redis {{
    host     "127.0.0.1"
    port     {}
    password old_redis
  }}

  target cache_new redis {{
    host     "127.0.0.1"
    port     {}
    password new_redis
  }}

  acl shop_new {{ allow "127.0.0.1" "this machine" }}
  acl cache_new {{ allow "127.0.0.1" "this machine" }}

  window always {{
    days     [mon, tue, wed, thu, fri, sat, sun]
    start    "00:00"
    length   24h
    timezone "UTC"
  }}

  phase preparation {{
    step shop_inventory = postgres.inventory(db: shop_old)
  }}

  phase migration {{
    step shop_copy {{
      do   postgres.copy(from: shop_old, to: shop_new)
      undo postgres.wipe(db: shop_new)
    }}
    step cache_copy {{
      do   redis.copy(from: cache_old, to: cache_new)
      undo redis.wipe(db: cache_new)
    }}
  }}

  phase testing {{
    step shop_acl  = acl.verify(target: shop_new)
    step cache_acl = acl.verify(target: cache_new)
{}    step shop_parity {{
      do    postgres.compare(a: shop_old, b: shop_new)
      after shop_acl
    }}
    step cache_parity = redis.compare(a: cache_old, b: cache_new)
  }}

  phase switchover {{
    window always
    step point_app {{
      do   sh("echo ${{shop_new.url}} > app.url")
      undo sh("echo ${{shop_old.url}} > app.url")
    }}
  }}

  phase verification {{
    step orders_served = postgres.query(db: shop_new, sql: "SELECT count(*) FROM orders")
  }}
}}
)",
                       oldPg_->port(), newPg_->port(), oldRedis_->port(), newRedis_->port(),
                       testingSteps);
  }

  /// `newPgPassword` replaces the new server's password (to fail a login).
  testing::CommandResult mig(const std::string& args, const std::string& newPgPassword = kNewPgPassword) {
    std::string env = fmt::format("T_OLD_PG={} T_NEW_PG={} T_OLD_REDIS={} T_NEW_REDIS={}",
                                  kOldPgPassword, newPgPassword, kOldRedisPassword,
                                  kNewRedisPassword);
    auto result = testing::runCommand("cd " + dir_.string() + " && env " + env + " " +
                                      testing::mig() + " " + args + " 2>&1");
    outputs_ += result.output;
    return result;
  }

  std::string oldSql(const std::string& query) { return *oldPg_->sql("shop", query); }
  std::string newSql(const std::string& query) {
    std::string error;
    auto out = newPg_->sql("shop", query, &error);
    return out ? *out : "error: " + error;
  }

  // No password in anything mig printed or wrote.
  void expectNoPasswordAnywhere() {
    for (const char* password : {kOldPgPassword, kNewPgPassword, kOldRedisPassword, kNewRedisPassword}) {
      EXPECT_EQ(outputs_.find(password), std::string::npos) << "printed " << password;
      for (const auto& entry : fs::recursive_directory_iterator(dir_)) {
        if (!entry.is_regular_file()) continue;
        EXPECT_EQ(testing::readFile(entry.path()).find(password), std::string::npos)
            << password << " in " << entry.path();
      }
    }
  }

  std::unique_ptr<PostgresServer> oldPg_, newPg_;
  std::unique_ptr<RedisServer> oldRedis_, newRedis_;
  fs::path dir_;
  std::string outputs_;
};

// Every row of every table, in a fixed order, as text.
const char* kAllRows =
    "SELECT (SELECT md5(string_agg(c::text, '|' ORDER BY id)) FROM customers c) || "
    "(SELECT md5(string_agg(o::text, '|' ORDER BY id)) FROM orders o)";

TEST_F(MigrationTest, CopiesEverythingThenRollbackEmptiesTheTarget) {
  testing::writeFile(dir_ / "plan.mig", planText());
  auto run = mig("run plan.mig -j 2");
  ASSERT_EQ(run.exitCode, 0) << run.output;

  // The target equals the source row by row, with its views, indexes and
  // sequences.
  EXPECT_EQ(newSql(kAllRows), oldSql(kAllRows));
  EXPECT_EQ(newSql("SELECT count(*) FROM orders"), "5000\n");
  EXPECT_EQ(newSql("SELECT viewname FROM pg_views WHERE schemaname = 'public'"), "big_orders\n");
  EXPECT_EQ(newSql("SELECT indexname FROM pg_indexes WHERE tablename = 'orders' ORDER BY 1"),
            "orders_by_customer\norders_pkey\n");
  EXPECT_EQ(newSql("SELECT last_value FROM invoice_numbers"), "1000\n");
  EXPECT_EQ(*newRedis_->cli({"DBSIZE"}), "5\n");
  EXPECT_EQ(*newRedis_->cli({"HGET", "session:1", "cart"}), "cart:1\n");
  EXPECT_NE(*newRedis_->cli({"TTL", "session:1"}), "-1\n");
  EXPECT_EQ(*newRedis_->cli({"LRANGE", "cart:1", "0", "-1"}), "p1\np2\np3\n");
  EXPECT_EQ(testing::readFile(dir_ / "app.url"), newPg_->url("shop") + "\n");

  auto status = nlohmann::json::parse(mig("status --json plan.mig").output.substr(0), nullptr, false);
  // status --json printed only JSON (lint warnings go to the run).
  ASSERT_FALSE(status.is_discarded());
  EXPECT_EQ(status["state"], "succeeded");
  EXPECT_FALSE(status["switchoverAt"].is_null());

  // Switchover is done: rollback needs --force, and then undoes it all.
  EXPECT_EQ(mig("rollback plan.mig").exitCode, 2);
  auto rollback = mig("rollback --force plan.mig");
  EXPECT_EQ(rollback.exitCode, 0) << rollback.output;
  EXPECT_EQ(newSql("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"), "0\n");
  EXPECT_EQ(*newRedis_->cli({"DBSIZE"}), "0\n");
  EXPECT_EQ(oldSql("SELECT count(*) FROM orders"), "5000\n");
  EXPECT_EQ(*oldRedis_->cli({"DBSIZE"}), "5\n");
  EXPECT_EQ(testing::readFile(dir_ / "app.url"), oldPg_->url("shop") + "\n");
  expectNoPasswordAnywhere();
}

TEST_F(MigrationTest, AclMismatchStopsTheRunInTestingAndRollsBack) {
  std::string error;
  ASSERT_TRUE(newPg_->setHbaHostRules({"10.9.0.0/16"}, &error)) << error;
  testing::writeFile(dir_ / "plan.mig", planText());
  auto run = mig("run plan.mig");
  EXPECT_EQ(run.exitCode, 3) << run.output;
  EXPECT_NE(run.output.find("step shop_acl FAILED"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("pg_hba allows 10.9.0.0/16 (line 8), not declared"), std::string::npos)
      << mig("log shop_acl plan.mig").output;
  // Rolled back: the copies were undone, the switchover never happened.
  EXPECT_EQ(newSql("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"), "0\n");
  EXPECT_EQ(*newRedis_->cli({"DBSIZE"}), "0\n");
  EXPECT_FALSE(fs::exists(dir_ / "app.url"));
  auto status = nlohmann::json::parse(mig("status --json plan.mig").output, nullptr, false);
  EXPECT_EQ(status["state"], "rolled_back");
  expectNoPasswordAnywhere();
}

TEST_F(MigrationTest, TargetChangedAfterTheCopyFailsCompareAndRollsBack) {
  testing::writeFile(
      dir_ / "plan.mig",
      planText("    step someone_writes = sh(\"psql --no-psqlrc --quiet --command='DELETE FROM orders "
               "WHERE id = 17' ${shop_new.url}\")\n"));
  // The compare must see the change: make it wait for the write.
  std::string text = testing::readFile(dir_ / "plan.mig");
  text.replace(text.find("      after shop_acl"), 20, "      after [shop_acl, someone_writes]");
  testing::writeFile(dir_ / "plan.mig", text);
  auto run = mig("run plan.mig");
  EXPECT_EQ(run.exitCode, 3) << run.output;
  EXPECT_NE(run.output.find("step shop_parity FAILED"), std::string::npos) << run.output;
  auto log = mig("log shop_parity plan.mig");
  EXPECT_NE(log.output.find("table public.orders: 5,000 rows in a, 4,999 in b"), std::string::npos)
      << log.output;
  EXPECT_EQ(newSql("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"), "0\n");
  EXPECT_EQ(oldSql("SELECT count(*) FROM orders"), "5000\n");
  expectNoPasswordAnywhere();
}

// A copy that cannot log in to the target fails before touching it: the
// rollback has nothing of it to undo (no wipe, which would fail the same
// way and leave the run needing manual attention), and once the password is
// right, `mig run` simply runs again.
TEST_F(MigrationTest, ACopyThatCannotLogInChangesNothingAndAFixedRunGoesThrough) {
  ASSERT_TRUE(newPg_->sql("shop", "CREATE TABLE yesterday (x int); INSERT INTO yesterday VALUES (1);"));
  testing::writeFile(dir_ / "plan.mig", planText());
  auto failed = mig("run plan.mig", "Wrong-PG-pass-0000");
  EXPECT_EQ(failed.exitCode, 3) << failed.output;
  EXPECT_NE(failed.output.find("step shop_copy failed before changing anything: nothing to undo"),
            std::string::npos)
      << failed.output;
  EXPECT_EQ(failed.output.find("undo postgres.wipe"), std::string::npos) << failed.output;
  auto log = mig("log shop_copy plan.mig");
  EXPECT_NE(log.output.find("password authentication failed for user \"postgres\""),
            std::string::npos)
      << log.output;
  EXPECT_EQ(newSql("SELECT count(*) FROM yesterday"), "1\n");
  EXPECT_EQ(outputs_.find("Wrong-PG-pass-0000"), std::string::npos) << "printed the wrong password";

  auto fixed = mig("run plan.mig");
  EXPECT_EQ(fixed.exitCode, 0) << fixed.output;
  EXPECT_EQ(newSql(kAllRows), oldSql(kAllRows));
  expectNoPasswordAnywhere();
}

// kill -9 of mig while a step holds a PGPASSFILE: the file outlives the
// runner, and the next command on the plan removes it (and stops the step)
// before doing anything else.
TEST_F(MigrationTest, PasswordFilesOfAKilledRunnerAreRemovedByResume) {
  // PostgreSQL notices that a client went away in the middle of a query
  // only when told to look: without this, the backend of slow's killed psql
  // would sleep on whenever psql had sent its query before the kill.
  ASSERT_TRUE(oldPg_->sql("postgres",
                          "ALTER ROLE postgres SET client_connection_check_interval = '100ms';"));
  testing::writeFile(dir_ / "plan.mig",
                     planText("    step slow = postgres.query(db: shop_old, sql: \"SELECT "
                              "pg_sleep(60)\")\n"));
  pid_t runner = fork();
  if (runner == 0) {
    fs::current_path(dir_);
    int null = open("/dev/null", O_WRONLY);
    dup2(null, 1);
    dup2(null, 2);
    setenv("T_OLD_PG", kOldPgPassword, 1);
    setenv("T_NEW_PG", kNewPgPassword, 1);
    setenv("T_OLD_REDIS", kOldRedisPassword, 1);
    setenv("T_NEW_REDIS", kNewRedisPassword, 1);
    execl(MIG_BINARY, "mig", "run", "plan.mig", nullptr);
    _exit(127);
  }
  const fs::path secretFolder = dir_ / ".mig" / "tmp" / "shop_move";
  auto passwordFiles = [&] {
    std::vector<std::string> names;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(secretFolder, ec)) {
      names.push_back(entry.path().filename().string());
    }
    return names;
  };
  auto slowStarted = [&] {
    for (const std::string& name : passwordFiles()) {
      if (name.rfind("slow.run.", 0) == 0) return true;
    }
    return false;
  };
  for (int i = 0; i < 1500 && !slowStarted(); ++i) std::this_thread::sleep_for(20ms);
  ASSERT_TRUE(slowStarted()) << "step slow never started";
  EXPECT_EQ(fs::status(secretFolder).permissions() & fs::perms::all, fs::perms::owner_all);
  // The password file is written before psql starts: kill the runner only
  // once psql's query runs, so that there is a process left to stop.
  const std::string sleeping =
      "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(60)%' "
      "AND pid <> pg_backend_pid()";
  for (int i = 0; i < 300 && oldSql(sleeping) != "1\n"; ++i) std::this_thread::sleep_for(20ms);
  ASSERT_EQ(oldSql(sleeping), "1\n") << "step slow's query never started";
  kill(runner, SIGKILL);
  waitpid(runner, nullptr, 0);
  ASSERT_FALSE(passwordFiles().empty());

  // slow has no check and is not idempotent: resume asks, but cleans up first.
  auto resumed = mig("resume plan.mig");
  EXPECT_EQ(resumed.exitCode, 7) << resumed.output;
  EXPECT_NE(resumed.output.find("left running by the interrupted runner"), std::string::npos)
      << resumed.output;
  EXPECT_EQ(passwordFiles(), std::vector<std::string>{});
  // The killed psql's backend ends within the check interval.
  for (int i = 0; i < 100 && oldSql(sleeping) != "0\n"; ++i) std::this_thread::sleep_for(100ms);
  EXPECT_EQ(oldSql(sleeping), "0\n");
  expectNoPasswordAnywhere();
}

}  // namespace
}  // namespace mig
