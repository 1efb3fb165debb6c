// Online migrations on real servers: while pgbench writes through PgBouncer
// for the whole run, `mig run` syncs a PostgreSQL database to a new server
// (logical replication), compares it while the writes go on, and switches
// over behind the pooler (pause, cutover, point, resume). pgbench must see
// no failed transaction, and every transaction it counts must be on the
// new server. Then: rollback, status while a sync is live, and a runner
// killed mid-sync. Servers are started on loopback by tests/harness.
#include <fcntl.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <future>
#include <regex>
#include <thread>

#include "runtime/drivers/subprocess.h"
#include "test_support.h"
#include "tests/harness/servers.h"

namespace mig {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::PgBouncerServer;
using testing::PostgresServer;

// One password for both servers' postgres user: the pooler logs in to
// either with the one in its auth file.
const char* kPgPassword = "Online-PG-pass-4471";
const char* kPoolPassword = "Online-Pool-pass-9052";

struct PgbenchReport {
  int exitCode = -1;
  long long processed = -1;
  long long failed = -1;
  std::string output;
};

class OnlineMigration : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    oldPg_ = PostgresServer::start(kPgPassword, error);
    ASSERT_TRUE(oldPg_) << error;
    newPg_ = PostgresServer::start(kPgPassword, error);
    ASSERT_TRUE(newPg_) << error;
    ASSERT_TRUE(oldPg_->createDatabase("shop", &error)) << error;
    ASSERT_TRUE(newPg_->createDatabase("shop", &error)) << error;
    auto init = pgbench({"-i", "-s", "2", "--quiet", "-h", "127.0.0.1", "-p",
                         std::to_string(oldPg_->port()), "-U", "postgres", "shop"});
    ASSERT_EQ(init.exitCode, 0) << init.output;
    // pgbench_history has no key; its rows are only inserted, so a full
    // replica identity costs nothing.
    ASSERT_TRUE(oldPg_->sql("shop", "ALTER TABLE pgbench_history REPLICA IDENTITY FULL;", &error))
        << error;
    pool_ = PgBouncerServer::start(*oldPg_, "shop", kPgPassword, kPoolPassword, error);
    ASSERT_TRUE(pool_) << error;
    dir_ = testing::freshTestFolder("mig-online");
  }

  void TearDown() override { fs::remove_all(dir_); }

  /// The plan; `testingSteps` are added to its testing phase.
  std::string planText(const std::string& testingSteps = "") {
    std::string plan = fmt::format(R"(import "std/postgres"
import "std/pgbouncer"

plan online_shop {{
  retain 48h

  secret pg      {{ from env("T_PG") }}
  secret pool_pw {{ from env("T_POOL") }}

  source shop_old postgres {{
    host     "127.0.0.1"
    port     {}
    database "shop"
    password pg
  }}

  target shop_new postgres {{
    host     "127.0.0.1"
    port     {}
    database "shop"
    password pg
  }}

  endpoint pool pgbouncer {{
    host     "127.0.0.1"
    port     {}
    password pool_pw
    database "shop"
    config   "{}"
  }}

  window always {{
    days     [mon, tue, wed, thu, fri, sat, sun]
    start    "00:00"
    length   24h
    timezone "UTC"
  }}

  phase migration {{
    step sync {{
      do   postgres.sync(from: shop_old, to: shop_new)
      undo postgres.unsync(from: shop_old, to: shop_new)
    }}
  }}

  phase testing {{
    step lag    = postgres.lag(from: shop_old, to: shop_new)
    step parity = postgres.compare(a: shop_old, b: shop_new, rows: ignore)
{}  }}
)",
                                   oldPg_->port(), newPg_->port(), pool_->port(),
                                   pool_->configPath(), testingSteps);
    plan += R"(
  phase switchover {
    window always
    step pause {
      do   pgbouncer.pause(pool: pool)
      undo pgbouncer.resume(pool: pool)
    }
    step cutover {
      do    postgres.cutover(from: shop_old, to: shop_new)
      after pause
    }
    step point {
      do    pgbouncer.point(pool: pool, to: shop_new)
      undo  pgbouncer.point(pool: pool, to: shop_old)
      after cutover
    }
    step resume {
      do    pgbouncer.resume(pool: pool)
      undo  pgbouncer.pause(pool: pool)
      after point
    }
  }

  phase verification {
    step served = postgres.query(db: shop_new, sql: "SELECT count(*) FROM pgbench_history")
  }
)";
    return plan + "}\n";
  }

  /// `mig run plan.mig` in the background, for a test to kill.
  pid_t startRunner() {
    pid_t runner = fork();
    if (runner == 0) {
      fs::current_path(dir_);
      int null = ::open("/dev/null", O_WRONLY);
      ::dup2(null, 1);
      ::dup2(null, 2);
      ::setenv("T_PG", kPgPassword, 1);
      ::setenv("T_POOL", kPoolPassword, 1);
      ::execl(MIG_BINARY, "mig", "run", "plan.mig", nullptr);
      ::_exit(127);
    }
    return runner;
  }

  testing::CommandResult mig(const std::string& args) {
    auto result =
        testing::runCommand(fmt::format("cd {} && env T_PG={} T_POOL={} {} {} 2>&1", dir_.string(),
                                        kPgPassword, kPoolPassword, testing::mig(), args));
    outputs_ += result.output;
    return result;
  }

  static PgbenchReport pgbench(const std::vector<std::string>& args) {
    drivers::SubprocessRequest request;
    request.argv = {"/usr/lib/postgresql/15/bin/pgbench"};
    request.argv.insert(request.argv.end(), args.begin(), args.end());
    request.env = {{"PGPASSWORD", kPgPassword}};
    request.unsetEnv = {"PGPASSFILE"};
    request.timeout = 180s;
    drivers::SubprocessResult result = drivers::runSubprocess(request);
    PgbenchReport report;
    report.exitCode = result.started ? result.exitCode : -1;
    report.output = result.out + result.err + result.error;
    std::smatch match;
    static const std::regex processed("number of transactions actually processed: (\\d+)");
    static const std::regex failed("number of failed transactions: (\\d+)");
    if (std::regex_search(report.output, match, processed)) report.processed = std::stoll(match[1]);
    if (std::regex_search(report.output, match, failed)) report.failed = std::stoll(match[1]);
    return report;
  }

  /// pgbench writing through the pool for `seconds`, 4 clients.
  std::future<PgbenchReport> loadThroughThePool(int seconds) {
    std::vector<std::string> args = {"-n",
                                     "-c",
                                     "4",
                                     "-j",
                                     "2",
                                     "-T",
                                     std::to_string(seconds),
                                     "-h",
                                     "127.0.0.1",
                                     "-p",
                                     std::to_string(pool_->port()),
                                     "-U",
                                     "postgres",
                                     "shop"};
    return std::async(std::launch::async, [args] { return pgbench(args); });
  }

  std::string oldSql(const std::string& query) { return trimmed(oldPg_->sql("shop", query)); }
  std::string newSql(const std::string& query) { return trimmed(newPg_->sql("shop", query)); }
  static std::string trimmed(std::optional<std::string> text) {
    std::string value = text.value_or("error");
    while (!value.empty() && value.back() == '\n') value.pop_back();
    return value;
  }

  std::string leftovers() {
    return fmt::format("subscriptions {}, publications {}, slots {}",
                       newSql("SELECT count(*) FROM pg_subscription"),
                       oldSql("SELECT count(*) FROM pg_publication"),
                       oldSql("SELECT count(*) FROM pg_replication_slots"));
  }

  /// Where the pool sends its clients: the server's port.
  std::string poolPort() {
    std::string shown = pool_->admin("SHOW DATABASES").value_or("");
    for (const std::string& line : {shown}) {
      std::smatch match;
      static const std::regex entry("(^|\\n)shop\\|[^|]*\\|(\\d+)\\|");
      if (std::regex_search(line, match, entry)) return match[2];
    }
    return "not found in: " + shown;
  }

  void expectNoPasswordAnywhere() {
    for (const char* password : {kPgPassword, kPoolPassword}) {
      EXPECT_EQ(outputs_.find(password), std::string::npos) << "printed " << password;
      for (const auto& entry : fs::recursive_directory_iterator(dir_)) {
        if (!entry.is_regular_file()) continue;
        EXPECT_EQ(testing::readFile(entry.path()).find(password), std::string::npos)
            << password << " in " << entry.path();
      }
    }
  }

  std::unique_ptr<PostgresServer> oldPg_, newPg_;
  std::unique_ptr<PgBouncerServer> pool_;
  fs::path dir_;
  std::string outputs_;
};

// The balances of pgbench's tables agree with its history: each
// transaction adds one delta to an account, a teller and a branch.
const char* kBalances =
    "SELECT (SELECT sum(abalance) FROM pgbench_accounts) || ' ' || "
    "(SELECT sum(tbalance) FROM pgbench_tellers) || ' ' || "
    "(SELECT sum(bbalance) FROM pgbench_branches) || ' ' || "
    "(SELECT coalesce(sum(delta), 0) FROM pgbench_history)";

TEST_F(OnlineMigration, SwitchoverUnderLoadFailsNoTransactionAndLosesNone) {
  testing::writeFile(dir_ / "plan.mig", planText());
  auto load = loadThroughThePool(20);
  std::this_thread::sleep_for(1s);  // the writes are under way before the sync starts
  auto run = mig("run plan.mig");
  ASSERT_EQ(run.exitCode, 0) << run.output;
  auto synced = mig("log sync plan.mig");
  EXPECT_NE(synced.output.find("synced: 4 tables copied"), std::string::npos) << synced.output;
  auto cut = mig("log cutover plan.mig");
  EXPECT_NE(cut.output.find("rows equal on both sides"), std::string::npos) << cut.output;

  // The application writes to the new server now: the old one takes none.
  std::string oldHistory = oldSql("SELECT count(*) FROM pgbench_history");
  std::string newHistory = newSql("SELECT count(*) FROM pgbench_history");
  std::this_thread::sleep_for(1500ms);
  EXPECT_EQ(oldSql("SELECT count(*) FROM pgbench_history"), oldHistory);
  EXPECT_NE(newSql("SELECT count(*) FROM pgbench_history"), newHistory)
      << "pgbench is not writing to the new server";

  PgbenchReport report = load.get();
  ASSERT_EQ(report.exitCode, 0) << report.output;  // 2: a client aborted
  EXPECT_EQ(report.failed, 0) << report.output;
  ASSERT_GT(report.processed, 0) << report.output;
  EXPECT_EQ(newSql("SELECT count(*) FROM pgbench_history"), std::to_string(report.processed));
  std::string balances = newSql(kBalances);
  std::string delta = balances.substr(balances.rfind(' ') + 1);
  EXPECT_EQ(balances, fmt::format("{0} {0} {0} {0}", delta));
  EXPECT_EQ(poolPort(), std::to_string(newPg_->port()));
  EXPECT_EQ(leftovers(), "subscriptions 0, publications 0, slots 0");
  expectNoPasswordAnywhere();
}

TEST_F(OnlineMigration, RollbackPointsThePoolBackAndRemovesReplicationOnBothSides) {
  testing::writeFile(dir_ / "plan.mig", planText());
  auto run = mig("run plan.mig");
  ASSERT_EQ(run.exitCode, 0) << run.output;
  ASSERT_EQ(poolPort(), std::to_string(newPg_->port()));

  auto rollback = mig("rollback --force plan.mig");
  ASSERT_EQ(rollback.exitCode, 0) << rollback.output;
  // The cutover is reversed by the sync's undo: nothing to check by hand.
  EXPECT_NE(rollback.output.find("step cutover has no undo of its own: the undo of step sync "
                                 "reverses it"),
            std::string::npos)
      << rollback.output;
  EXPECT_EQ(rollback.output.find("check them by hand"), std::string::npos) << rollback.output;
  EXPECT_EQ(poolPort(), std::to_string(oldPg_->port()));
  EXPECT_EQ(leftovers(), "subscriptions 0, publications 0, slots 0");
  EXPECT_EQ(newSql("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"), "0");
  // The application works through the pool again, on the old server.
  auto after = pgbench({"-n", "-c", "2", "-t", "20", "-h", "127.0.0.1", "-p",
                        std::to_string(pool_->port()), "-U", "postgres", "shop"});
  EXPECT_EQ(after.exitCode, 0) << after.output;
  EXPECT_EQ(after.failed, 0) << after.output;
  EXPECT_EQ(oldSql("SELECT count(*) FROM pgbench_history"), "40");
  expectNoPasswordAnywhere();
}

TEST_F(OnlineMigration, StatusShowsTheLagOfALiveSync) {
  // The switchover's window opens in 2099: the run pauses before it (exit
  // 5), with the sync live.
  std::string plan = planText();
  const std::string weekly =
      "    days     [mon, tue, wed, thu, fri, sat, sun]\n    start    \"00:00\"\n    length   "
      "24h\n";
  ASSERT_NE(plan.find(weekly), std::string::npos);
  plan.replace(plan.find(weekly), weekly.size(),
               "    at       \"2099-01-04T00:00\"\n    length   2h\n");
  testing::writeFile(dir_ / "plan.mig", plan);
  auto run = mig("run --no-wait plan.mig");
  ASSERT_EQ(run.exitCode, 5) << run.output;
  auto parity = mig("log parity plan.mig");
  EXPECT_NE(parity.output.find("identical"), std::string::npos) << parity.output;
  auto status = mig("status plan.mig");
  EXPECT_EQ(status.exitCode, 0) << status.output;
  std::smatch match;
  std::regex lag("sync sync: lag: [0-9,]+ bytes, [0-9.]+ s");
  EXPECT_TRUE(std::regex_search(status.output, match, lag)) << status.output;
  // Writes on the source reach the target after the run ended.
  oldSql("INSERT INTO pgbench_history (tid, bid, aid, delta) VALUES (1, 1, 1, 77)");
  std::string seen;
  for (auto deadline = std::chrono::steady_clock::now() + 20s;
       std::chrono::steady_clock::now() < deadline && seen != "1";
       std::this_thread::sleep_for(100ms)) {
    seen = newSql("SELECT count(*) FROM pgbench_history WHERE delta = 77");
  }
  EXPECT_EQ(seen, "1");
  expectNoPasswordAnywhere();
}

TEST_F(OnlineMigration, ARunnerKilledDuringTheSyncResumesWithoutDuplicatesOrLoss) {
  testing::writeFile(dir_ / "plan.mig", planText());
  pid_t runner = startRunner();
  // Killed once the sync has made its subscription: mid-copy.
  bool subscribed = false;
  for (auto deadline = std::chrono::steady_clock::now() + 60s;
       !subscribed && std::chrono::steady_clock::now() < deadline;
       std::this_thread::sleep_for(20ms)) {
    subscribed = newSql("SELECT count(*) FROM pg_subscription") == "1";
  }
  ::kill(runner, SIGKILL);
  int status = 0;
  ::waitpid(runner, &status, 0);
  ASSERT_TRUE(subscribed) << "the sync never subscribed";

  // Writes while no runner is there.
  oldSql(
      "INSERT INTO pgbench_history (tid, bid, aid, delta) SELECT 1, 1, g, 5 FROM "
      "generate_series(1, 100) g");
  auto resumed = mig("resume plan.mig");
  EXPECT_EQ(resumed.exitCode, 7) << resumed.output;  // sync is not idempotent: mig asks
  auto rerun = mig("resume plan.mig --rerun sync");
  ASSERT_EQ(rerun.exitCode, 0) << rerun.output;
  const char* history = "SELECT count(*) || ' ' || coalesce(sum(delta), 0) FROM pgbench_history";
  EXPECT_EQ(newSql(history), oldSql(history));
  EXPECT_EQ(newSql(kBalances), oldSql(kBalances));
  EXPECT_EQ(leftovers(), "subscriptions 0, publications 0, slots 0");
  expectNoPasswordAnywhere();
}

TEST_F(OnlineMigration, ARunnerKilledDuringTheCutoverResumesWithoutDuplicatesOrLoss) {
  // The target stops applying before the switchover (while a testing
  // step waits for the file `go`), so that the cutover waits for it, and
  // the runner is killed while it waits.
  testing::writeFile(
      dir_ / "plan.mig",
      planText("    step hold = sh(\"touch holding; while [ ! -e go ]; do sleep 0.05; done\")\n"));
  auto load = loadThroughThePool(25);
  std::this_thread::sleep_for(1s);
  pid_t runner = startRunner();
  auto waitFor = [&](const std::string& sql, const std::string& expected, auto query) {
    std::string seen;
    for (auto deadline = std::chrono::steady_clock::now() + 60s;
         seen != expected && std::chrono::steady_clock::now() < deadline;
         std::this_thread::sleep_for(20ms)) {
      seen = query(sql);
    }
    return seen == expected;
  };
  auto onOld = [&](const std::string& sql) { return oldSql(sql); };
  bool holding = false;
  for (auto deadline = std::chrono::steady_clock::now() + 60s;
       !holding && std::chrono::steady_clock::now() < deadline; std::this_thread::sleep_for(20ms)) {
    holding = fs::exists(dir_ / "holding");
  }
  ASSERT_TRUE(holding) << "the run never reached the step hold";
  newSql(
      "DO $$ BEGIN EXECUTE format('ALTER SUBSCRIPTION %I DISABLE', "
      "(SELECT subname FROM pg_subscription)); END $$");
  testing::writeFile(dir_ / "go", "");
  // The cutover is waiting when the pool is paused and the slot lags.
  bool waiting = waitFor(
      "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'mig "
      "driver' AND query LIKE '%confirmed_flush_lsn%'",
      "1", onOld);
  std::this_thread::sleep_for(300ms);
  ::kill(runner, SIGKILL);
  int status = 0;
  ::waitpid(runner, &status, 0);
  ASSERT_TRUE(waiting) << "the cutover never started waiting: "
                       << oldSql(
                              "SELECT string_agg(application_name || ' ' || state || ' ' || "
                              "left(query, 50), E'\\n') FROM pg_stat_activity")
                       << mig("status plan.mig").output;

  newSql(
      "DO $$ BEGIN EXECUTE format('ALTER SUBSCRIPTION %I ENABLE', "
      "(SELECT subname FROM pg_subscription)); END $$");
  auto rerun = mig("resume plan.mig --rerun cutover");
  ASSERT_EQ(rerun.exitCode, 0) << rerun.output;
  PgbenchReport report = load.get();
  EXPECT_EQ(report.exitCode, 0) << report.output;
  EXPECT_EQ(report.failed, 0) << report.output;
  EXPECT_EQ(newSql("SELECT count(*) FROM pgbench_history"), std::to_string(report.processed));
  EXPECT_EQ(poolPort(), std::to_string(newPg_->port()));
  EXPECT_EQ(leftovers(), "subscriptions 0, publications 0, slots 0");
  expectNoPasswordAnywhere();
}

}  // namespace
}  // namespace mig
