// Online migration drivers (`mig driver postgres-sync | postgres-cutover |
// postgres-unsync | postgres-lag | pgbouncer-*`) against real PostgreSQL
// clusters with wal_level logical, and a real PgBouncer, on loopback. Each
// test starts its own servers. The drivers run as the real `mig` binary
// with a 0600 PGPASSFILE, as the runtime runs them; no password may appear
// in anything they print.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include "runtime/drivers/pg_client.h"
#include "runtime/drivers/subprocess.h"
#include "tests/harness/servers.h"

#ifndef MIG_BINARY
#error "MIG_BINARY must name the mig binary"
#endif

namespace {

namespace fs = std::filesystem;
using mig::drivers::SubprocessRequest;
using mig::drivers::SubprocessResult;
using mig::testing::PgBouncerServer;
using mig::testing::PostgresServer;
using namespace std::chrono_literals;

constexpr const char* kSourcePassword = "src-Sync-Pa55-3c1d";
constexpr const char* kTargetPassword = "tgt-Sync-Pa55-8e2f";
constexpr const char* kAdminPassword = "adm-Pool-Pa55-51a0";

::testing::AssertionResult contains(const std::string& text, const std::string& part) {
  if (text.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "'" << part << "' is not in:\n" << text;
}

struct DriverRun {
  int exitCode = -1;
  std::string out;
  std::string err;
};

const char* kSourceSchema = R"SQL(
CREATE ROLE shop_owner LOGIN;
CREATE TABLE orders (id bigserial PRIMARY KEY, customer text NOT NULL, total numeric(10,2));
ALTER TABLE orders OWNER TO shop_owner;
INSERT INTO orders (customer, total) SELECT 'c' || g, g FROM generate_series(1, 5000) g;
CREATE TABLE events (id uuid DEFAULT gen_random_uuid(), body text);
ALTER TABLE events REPLICA IDENTITY FULL;
INSERT INTO events (body) SELECT 'event ' || g FROM generate_series(1, 300) g;
CREATE SEQUENCE invoice_numbers START 1000;
SELECT nextval('invoice_numbers') FROM generate_series(1, 42);
CREATE MATERIALIZED VIEW order_totals AS SELECT count(*) AS n, sum(total) AS s FROM orders;
)SQL";

/// A source with a small shop, an empty target database, and the PGPASSFILE.
class PostgresSync : public ::testing::Test {
 protected:
  void SetUp() override { startServers("logical", kTargetPassword); }

  void startServers(const std::string& walLevel, const std::string& targetPassword) {
    std::string error;
    source = PostgresServer::start(kSourcePassword, error, walLevel);
    ASSERT_TRUE(source) << error;
    target = PostgresServer::start(targetPassword, error);
    ASSERT_TRUE(target) << error;
    ASSERT_TRUE(source->createDatabase("shop", &error)) << error;
    ASSERT_TRUE(target->createDatabase("shop", &error)) << error;
    ASSERT_TRUE(source->sql("shop", kSourceSchema, &error)) << error;
    char pattern[] = "/tmp/mig-sync-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr) << std::strerror(errno);
    folder = pattern;
    pgpass = folder + "/pgpass";
    std::string lines = mig::testing::pgpassLine(*source, "postgres", kSourcePassword) +
                        mig::testing::pgpassLine(*target, "postgres", targetPassword);
    ASSERT_TRUE(mig::testing::writePrivateFile(pgpass, lines, error)) << error;
  }

  void TearDown() override {
    bouncer.reset();
    source.reset();
    target.reset();
    std::error_code ec;
    if (!folder.empty()) fs::remove_all(folder, ec);
  }

  DriverRun run(const std::vector<std::string>& args) {
    SubprocessRequest request;
    request.argv = {MIG_BINARY, "driver"};
    request.argv.insert(request.argv.end(), args.begin(), args.end());
    request.env = {{"PGPASSFILE", pgpass}};
    request.unsetEnv = {"PGPASSWORD", "PGUSER", "PGDATABASE", "PGHOST", "PGPORT"};
    request.timeout = 120s;
    SubprocessResult result = mig::drivers::runSubprocess(request);
    EXPECT_TRUE(result.started) << result.error;
    EXPECT_FALSE(result.timedOut);
    for (const char* password : {kSourcePassword, kTargetPassword, kAdminPassword}) {
      EXPECT_EQ(result.out.find(password), std::string::npos) << result.out;
      EXPECT_EQ(result.err.find(password), std::string::npos) << result.err;
    }
    return {result.exitCode, result.out, result.err};
  }

  DriverRun sync() { return run({"postgres-sync", "--from", from(), "--to", to()}); }
  DriverRun cutover(const std::string& catchUp = "30000ms") {
    return run({"postgres-cutover", "--from", from(), "--to", to(), "--catch-up", catchUp});
  }
  DriverRun unsync() { return run({"postgres-unsync", "--from", from(), "--to", to()}); }

  std::string from() const { return source->url("shop"); }
  std::string to() const { return target->url("shop"); }

  std::string onSource(const std::string& sql) { return query(*source, sql); }
  std::string onTarget(const std::string& sql) { return query(*target, sql); }

  static std::string query(const PostgresServer& server, const std::string& sql) {
    std::string error;
    auto result = server.sql("shop", sql, &error);
    EXPECT_TRUE(result) << error;
    std::string text = result.value_or("");
    while (!text.empty() && text.back() == '\n') text.pop_back();
    return text;
  }

  /// Waits (up to 30 s) until `sql` gives the same answer on both sides;
  /// returns the target's last answer.
  std::string whenReplicated(const std::string& sql) {
    std::string expected = onSource(sql);
    std::string actual;
    for (auto deadline = std::chrono::steady_clock::now() + 30s;
         std::chrono::steady_clock::now() < deadline; std::this_thread::sleep_for(100ms)) {
      actual = onTarget(sql);
      if (actual == expected) break;
    }
    EXPECT_EQ(actual, expected) << sql;
    return actual;
  }

  /// What replication objects are left: subscriptions on the target,
  /// publications and slots on the source.
  std::string leftovers() {
    return fmt_leftovers(onTarget("SELECT count(*) FROM pg_subscription"),
                         onSource("SELECT count(*) FROM pg_publication"),
                         onSource("SELECT count(*) FROM pg_replication_slots"));
  }
  static std::string fmt_leftovers(const std::string& subscriptions,
                                   const std::string& publications, const std::string& slots) {
    return "subscriptions " + subscriptions + ", publications " + publications + ", slots " + slots;
  }

  std::unique_ptr<PostgresServer> source;
  std::unique_ptr<PostgresServer> target;
  std::unique_ptr<PgBouncerServer> bouncer;
  std::string folder;
  std::string pgpass;
};

const char* kOrdersDigest =
    "SELECT count(*) || ' ' || md5(string_agg(id || ':' || customer || ':' || total, ',' "
    "ORDER BY id)) FROM orders";

TEST_F(PostgresSync, SyncCopiesTheDatabaseAndKeepsApplyingTheSourcesWrites) {
  onTarget("CREATE TABLE stale (x int); INSERT INTO stale VALUES (1);");
  DriverRun synced = sync();
  ASSERT_EQ(synced.exitCode, 0) << synced.out << synced.err;
  EXPECT_TRUE(contains(synced.out, "synced: 2 tables copied"));
  EXPECT_EQ(onTarget(kOrdersDigest), onSource(kOrdersDigest));
  EXPECT_EQ(onTarget("SELECT tableowner FROM pg_tables WHERE tablename = 'orders'"), "shop_owner");
  EXPECT_EQ(onTarget("SELECT count(*) FROM pg_tables WHERE tablename = 'stale'"), "0");
  EXPECT_EQ(leftovers(), "subscriptions 1, publications 1, slots 1");

  // Writes after the step ended: inserts, updates and deletes arrive.
  onSource(
      "INSERT INTO orders (customer, total) SELECT 'late ' || g, g FROM generate_series(1, 250) "
      "g; UPDATE orders SET total = total + 1 WHERE id % 7 = 0; DELETE FROM orders WHERE id % 11 "
      "= 0; DELETE FROM events WHERE body LIKE 'event 1%';");
  whenReplicated(kOrdersDigest);
  whenReplicated("SELECT count(*) FROM events");

  DriverRun lag = run({"postgres-lag", "--from", from(), "--to", to()});
  EXPECT_EQ(lag.exitCode, 0) << lag.err;
  EXPECT_TRUE(contains(lag.out, "lag: "));
  EXPECT_TRUE(contains(lag.out, " bytes, "));
}

TEST_F(PostgresSync, CutoverWaitsForTheTargetCarriesSequencesAndEndsReplication) {
  ASSERT_EQ(sync().exitCode, 0);
  onSource(
      "INSERT INTO orders (customer, total) SELECT 'late ' || g, g FROM generate_series(1, 400) "
      "g; SELECT nextval('invoice_numbers') FROM generate_series(1, 8);");
  DriverRun cut = cutover();
  ASSERT_EQ(cut.exitCode, 0) << cut.out << cut.err;
  EXPECT_TRUE(contains(cut.out, "cut over: caught up"));
  EXPECT_TRUE(contains(cut.out, "2 tables with 5,700 rows equal on both sides"));
  // Everything the source committed before the cutover is on the target.
  EXPECT_EQ(onTarget(kOrdersDigest), onSource(kOrdersDigest));
  // Sequences: the next value on the target follows the source's last.
  EXPECT_EQ(onTarget("SELECT last_value FROM invoice_numbers"),
            onSource("SELECT last_value FROM invoice_numbers"));
  EXPECT_EQ(onTarget("SELECT last_value FROM orders_id_seq"), "5400");
  // A materialized view the source has populated is populated on the
  // target too, from the replicated rows.
  EXPECT_EQ(onTarget("SELECT n FROM order_totals"), "5400");
  EXPECT_EQ(leftovers(), "subscriptions 0, publications 0, slots 0");
  // The target is the application's now: it takes writes of its own.
  onTarget("INSERT INTO orders (customer, total) VALUES ('first on target', 1)");
  EXPECT_EQ(onTarget("SELECT max(id) FROM orders"), "5401");
}

TEST_F(PostgresSync, CutoverThatCannotCatchUpFailsAndChangesNothing) {
  ASSERT_EQ(sync().exitCode, 0);
  // The target stops applying; the source goes on writing.
  onTarget("ALTER SUBSCRIPTION " + std::string("\"") +
           onTarget("SELECT subname FROM pg_subscription") + "\" DISABLE");
  onSource("INSERT INTO orders (customer, total) VALUES ('unapplied', 1)");
  DriverRun cut = cutover("700ms");
  EXPECT_EQ(cut.exitCode, 1) << cut.out;
  EXPECT_TRUE(contains(cut.err, "did not catch up"));
  EXPECT_TRUE(contains(cut.err, "nothing was changed"));
  EXPECT_EQ(leftovers(), "subscriptions 1, publications 1, slots 1");
  EXPECT_EQ(onTarget("SELECT count(*) FROM orders WHERE customer = 'unapplied'"), "0");

  // Once the target applies again, the same cutover goes through.
  onTarget("ALTER SUBSCRIPTION " + std::string("\"") +
           onTarget("SELECT subname FROM pg_subscription") + "\" ENABLE");
  DriverRun again = cutover();
  ASSERT_EQ(again.exitCode, 0) << again.err;
  EXPECT_EQ(onTarget("SELECT count(*) FROM orders WHERE customer = 'unapplied'"), "1");
}

TEST_F(PostgresSync, CutoverWithoutALiveSyncChangesNothing) {
  DriverRun cut = cutover();
  EXPECT_EQ(cut.exitCode, 1);
  EXPECT_TRUE(contains(cut.err, "no postgres.sync from this source to this target is live"));
}

TEST_F(PostgresSync, UnsyncRemovesReplicationOnBothSidesAndWipesTheTarget) {
  ASSERT_EQ(sync().exitCode, 0);
  DriverRun undone = unsync();
  ASSERT_EQ(undone.exitCode, 0) << undone.err;
  EXPECT_EQ(leftovers(), "subscriptions 0, publications 0, slots 0");
  EXPECT_EQ(onTarget("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"), "0");
  // The source keeps its data, and an undo run twice is fine.
  EXPECT_EQ(onSource("SELECT count(*) FROM orders"), "5000");
  EXPECT_EQ(unsync().exitCode, 0);
  // After a cutover there is no replication left; unsync only wipes.
  ASSERT_EQ(sync().exitCode, 0);
  ASSERT_EQ(cutover().exitCode, 0);
  EXPECT_EQ(unsync().exitCode, 0);
  EXPECT_EQ(onTarget("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"), "0");
}

TEST_F(PostgresSync, ASyncRunAgainStartsOverWithoutDuplicates) {
  ASSERT_EQ(sync().exitCode, 0);
  onSource("INSERT INTO orders (customer, total) VALUES ('between runs', 1)");
  DriverRun again = sync();
  ASSERT_EQ(again.exitCode, 0) << again.err;
  EXPECT_EQ(leftovers(), "subscriptions 1, publications 1, slots 1");
  whenReplicated(kOrdersDigest);
}

TEST_F(PostgresSync, TablesWithoutReplicaIdentityFailTheSyncByNameAndNothingChanges) {
  onSource("CREATE TABLE audit_log (at timestamptz, what text); CREATE TABLE \"Notes\" (x int);");
  onTarget("CREATE TABLE keep_me (x int)");
  DriverRun synced = sync();
  EXPECT_EQ(synced.exitCode, 1);
  EXPECT_TRUE(contains(synced.err, "sync-needs-replica-identity: 2 tables have no primary key"));
  EXPECT_TRUE(contains(synced.err, "public.\"Notes\", public.audit_log"));
  EXPECT_TRUE(contains(synced.err, "nothing was changed"));
  EXPECT_EQ(onTarget("SELECT count(*) FROM pg_tables WHERE tablename = 'keep_me'"), "1");
  EXPECT_EQ(leftovers(), "subscriptions 0, publications 0, slots 0");
}

class PostgresSyncWithoutLogicalWal : public PostgresSync {
 protected:
  void SetUp() override { startServers("replica", kTargetPassword); }
};

TEST_F(PostgresSyncWithoutLogicalWal, FailsTheWalLevelCheckAndChangesNothing) {
  onTarget("CREATE TABLE keep_me (x int)");
  DriverRun synced = sync();
  EXPECT_EQ(synced.exitCode, 1);
  EXPECT_TRUE(contains(synced.err, "wal-level: the source's wal_level is replica, not logical"));
  EXPECT_EQ(onTarget("SELECT count(*) FROM pg_tables WHERE tablename = 'keep_me'"), "1");
}

// ---------------------------------------------------------------- PgBouncer

class PgBouncerSwitch : public PostgresSync {
 protected:
  void SetUp() override {
    // Both servers' postgres users share one password: the pooler logs in
    // to either with the one in its auth file.
    startServers("logical", kSourcePassword);
    if (HasFatalFailure()) return;
    std::string error;
    bouncer = PgBouncerServer::start(*source, "shop", kSourcePassword, kAdminPassword, error);
    ASSERT_TRUE(bouncer) << error;
    std::string lines = mig::testing::pgpassLine(*source, "postgres", kSourcePassword) +
                        mig::testing::pgpassLine(*target, "postgres", kSourcePassword) +
                        fmt("127.0.0.1:", bouncer->port(), ":*:pgbouncer:", kAdminPassword);
    ASSERT_TRUE(mig::testing::writePrivateFile(pgpass, lines, error)) << error;
    onSource("CREATE TABLE whoami (name text); INSERT INTO whoami VALUES ('old')");
    onTarget("CREATE TABLE whoami (name text); INSERT INTO whoami VALUES ('new')");
  }

  static std::string fmt(const std::string& a, int port, const std::string& b,
                         const std::string& c) {
    return a + std::to_string(port) + b + c + "\n";
  }

  /// A client of the pool, as the application connects.
  std::unique_ptr<mig::drivers::pg::Connection> client() {
    std::string url = "postgresql://postgres:" + std::string(kSourcePassword) +
                      "@127.0.0.1:" + std::to_string(bouncer->port()) + "/shop";
    auto connection = mig::drivers::pg::Connection::open(url, "the pool");
    EXPECT_TRUE(connection) << connection.error();
    return connection ? std::move(*connection) : nullptr;
  }

  std::string whoIsBehind(mig::drivers::pg::Connection& connection) {
    auto rows = connection.query("SELECT name FROM whoami");
    EXPECT_TRUE(rows) << rows.error();
    return rows && !rows->empty() ? rows->text(0, 0) : "";
  }

  std::vector<std::string> pool(const std::string& verb) {
    return {"pgbouncer-" + verb, "--admin", bouncer->adminUrl(), "--pool", "shop"};
  }
};

TEST_F(PgBouncerSwitch, PauseHoldsQueriesPointMovesThePoolResumeLetsThemGo) {
  auto app = client();
  ASSERT_TRUE(app);
  EXPECT_EQ(whoIsBehind(*app), "old");

  DriverRun paused = run(pool("pause"));
  ASSERT_EQ(paused.exitCode, 0) << paused.err;
  EXPECT_TRUE(contains(paused.out, "paused pool shop"));
  // A query sent now waits instead of failing.
  auto held = std::async(std::launch::async, [&] { return whoIsBehind(*app); });
  EXPECT_EQ(held.wait_for(500ms), std::future_status::timeout);

  // Through a symlink, as /etc/pgbouncer/pgbouncer.ini may be: the file it
  // names is changed, and the link stays.
  std::string link = folder + "/pgbouncer-link.ini";
  fs::create_symlink(bouncer->configPath(), link);
  auto point = pool("point");
  point.insert(point.end(), {"--config", link, "--to", to()});
  DriverRun pointed = run(point);
  ASSERT_EQ(pointed.exitCode, 0) << pointed.err;
  EXPECT_TRUE(fs::is_symlink(link));
  EXPECT_TRUE(contains(pointed.out, "pointed pool shop"));
  EXPECT_TRUE(contains(pointed.out, "now to 127.0.0.1:" + std::to_string(target->port())));

  DriverRun resumed = run(pool("resume"));
  ASSERT_EQ(resumed.exitCode, 0) << resumed.err;
  EXPECT_EQ(held.get(), "new");  // the held query ran, on the new database
  EXPECT_EQ(whoIsBehind(*app), "new");
  // A client that logs in now gets there too, as itself: the entry named
  // no user, and point added none.
  auto later = client();
  ASSERT_TRUE(later);
  EXPECT_EQ(whoIsBehind(*later), "new");
  std::ifstream file(bouncer->configPath());
  std::string config((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  EXPECT_EQ(config.find("user="), std::string::npos) << config;

  // The undo: pointed back, the pool reaches the old database again.
  auto back = pool("point");
  back.insert(back.end(), {"--config", bouncer->configPath(), "--to", from()});
  ASSERT_EQ(run(back).exitCode, 0);
  EXPECT_EQ(whoIsBehind(*app), "old");
  // Resuming a pool that is not paused is no error.
  DriverRun twice = run(pool("resume"));
  EXPECT_EQ(twice.exitCode, 0) << twice.err;
  EXPECT_TRUE(contains(twice.out, "was not paused"));
}

TEST_F(PgBouncerSwitch, APauseThatAnOpenTransactionOutlastsFailsAndResumesThePool) {
  auto app = client();
  ASSERT_TRUE(app);
  ASSERT_TRUE(app->execute("BEGIN; INSERT INTO whoami VALUES ('in a transaction')"));
  auto pause = pool("pause");
  pause.insert(pause.end(), {"--wait", "600ms"});
  DriverRun paused = run(pause);
  EXPECT_EQ(paused.exitCode, 1);
  EXPECT_TRUE(contains(paused.err, "still in transactions after 600 ms; the pool was resumed"));
  ASSERT_TRUE(app->execute("COMMIT"));
  // Another client gets through: the pool is not left paused.
  auto other = client();
  ASSERT_TRUE(other);
  auto rows = other->query("SELECT count(*) FROM whoami");
  ASSERT_TRUE(rows) << rows.error();
  EXPECT_EQ(rows->text(0, 0), "2");
}

TEST_F(PgBouncerSwitch, PointRefusesAPoolTheConfigDoesNotHave) {
  std::vector<std::string> point = {"pgbouncer-point",
                                    "--admin",
                                    bouncer->adminUrl(),
                                    "--pool",
                                    "shop",
                                    "--config",
                                    folder + "/missing.ini",
                                    "--to",
                                    to()};
  DriverRun missing = run(point);
  EXPECT_EQ(missing.exitCode, 1);
  EXPECT_TRUE(contains(missing.err, "missing.ini"));
  EXPECT_TRUE(contains(missing.err, "nothing was changed"));
  point[4] = "other";
  point[6] = bouncer->configPath();
  DriverRun unknown = run(point);
  EXPECT_EQ(unknown.exitCode, 1);
  EXPECT_TRUE(contains(unknown.err, "the pooler has no pool other"));
}

}  // namespace
