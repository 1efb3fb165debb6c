// The PostgreSQL drivers (`mig driver postgres-wipe | postgres-compare |
// acl-verify --kind postgres`) against two real clusters on loopback: a
// source and a target, started once for the whole file. The drivers run as
// the real `mig` binary with a 0600 PGPASSFILE in their environment, as the
// runtime runs them; no password may appear in anything they print.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>

#include "runtime/drivers/subprocess.h"
#include "tests/harness/servers.h"

#ifndef MIG_BINARY
#error "MIG_BINARY must name the mig binary"
#endif

namespace {

namespace fs = std::filesystem;
using mig::drivers::SubprocessRequest;
using mig::drivers::SubprocessResult;
using mig::testing::PostgresServer;

constexpr const char* kSourcePassword = "src-Pa55word-7f3e";
constexpr const char* kTargetPassword = "tgt-Pa55word-91ab";
constexpr const char* kAuditorPassword = "aud-Pa55word-c4d2";
constexpr const char* kWrongPassword = "wrong-Pa55word-0000";

/// The two clusters and the PGPASSFILEs the drivers get.
class PostgresServers : public ::testing::Environment {
 public:
  void SetUp() override {
    std::string error;
    source = PostgresServer::start(kSourcePassword, error);
    if (source) target = PostgresServer::start(kTargetPassword, error);
    if (!source || !target) {
      startError = error;
      return;
    }
    char pattern[] = "/tmp/mig-pgpass-XXXXXX";
    if (::mkdtemp(pattern) == nullptr) {
      startError =
          std::string("cannot create a folder for the PGPASSFILE: ") + std::strerror(errno);
      return;
    }
    folder = pattern;
    pgpass = folder + "/pgpass";
    writePgpass(pgpass, {{*source, "postgres", kSourcePassword},
                         {*target, "postgres", kTargetPassword},
                         {*target, "auditor", kAuditorPassword}});
    wrongPgpass = folder + "/wrong.pgpass";
    writePgpass(wrongPgpass, {{*target, "postgres", kWrongPassword}});
  }

  void TearDown() override {
    source.reset();
    target.reset();
    std::error_code ec;
    if (!folder.empty()) fs::remove_all(folder, ec);
  }

  std::unique_ptr<PostgresServer> source;
  std::unique_ptr<PostgresServer> target;
  std::string startError;
  std::string folder;
  std::string pgpass;       ///< the right passwords
  std::string wrongPgpass;  ///< a wrong password for the target

 private:
  struct Login {
    const PostgresServer& server;
    std::string user;
    std::string password;
  };

  static void writePgpass(const std::string& path, const std::vector<Login>& logins) {
    std::string text;
    for (const Login& login : logins) {
      text += mig::testing::pgpassLine(login.server, login.user, login.password);
    }
    std::string error;
    EXPECT_TRUE(mig::testing::writePrivateFile(path, text, error)) << error;
  }
};

PostgresServers* const servers =
    static_cast<PostgresServers*>(::testing::AddGlobalTestEnvironment(new PostgresServers()));

/// Passes when `text` contains `part`; prints both otherwise.
::testing::AssertionResult contains(const std::string& text, const std::string& part) {
  if (text.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "'" << part << "' is not in:\n" << text;
}

struct DriverRun {
  int exitCode = -1;
  std::string out;
  std::string err;
};

/// `mig driver ARGS...` with PGPASSFILE set (and no other password in the
/// environment); asserts that no password shows in what it prints.
DriverRun runDriver(const std::vector<std::string>& args, const std::string& pgpass = "") {
  SubprocessRequest request;
  request.argv = {MIG_BINARY, "driver"};
  request.argv.insert(request.argv.end(), args.begin(), args.end());
  request.env = {{"PGPASSFILE", pgpass.empty() ? servers->pgpass : pgpass}};
  request.unsetEnv = {"PGPASSWORD", "PGUSER", "PGDATABASE", "PGHOST", "PGPORT"};
  request.timeout = std::chrono::seconds(60);
  SubprocessResult result = mig::drivers::runSubprocess(request);
  EXPECT_TRUE(result.started) << result.error;
  EXPECT_FALSE(result.timedOut);
  for (const char* password :
       {kSourcePassword, kTargetPassword, kAuditorPassword, kWrongPassword}) {
    EXPECT_FALSE(contains(result.out, password)) << "a password leaked into stdout";
    EXPECT_FALSE(contains(result.err, password)) << "a password leaked into stderr";
  }
  return DriverRun{result.exitCode, result.out, result.err};
}

/// Runs SQL through the harness, failing the test (not aborting it) on error.
std::string sql(const PostgresServer& server, const std::string& database,
                const std::string& statements) {
  std::string error;
  auto output = server.sql(database, statements, &error);
  EXPECT_TRUE(output.has_value()) << "SQL failed on port " << server.port() << ": " << error << "\n"
                                  << statements;
  return output.value_or("");
}

class PostgresDriverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(servers->source && servers->target && !servers->pgpass.empty())
        << "cannot start PostgreSQL: " << servers->startError;
  }
  const PostgresServer& source() const { return *servers->source; }
  const PostgresServer& target() const { return *servers->target; }

  /// A new, empty database `name` (dropped first if a repeated run left one).
  void createDatabase(const PostgresServer& server, const std::string& name) {
    std::string error;
    ASSERT_TRUE(
        server.sql("postgres", "DROP DATABASE IF EXISTS " + name + " WITH (FORCE);", &error))
        << error;
    ASSERT_TRUE(server.createDatabase(name, &error)) << error;
  }

  /// A small shop (3 tables, 1,600 rows, a view, 2 sequences, 4 indexes)
  /// created as `name` on both servers; the target gets the items in the
  /// opposite order, so that physical row order differs.
  void createShops(const std::string& name) {
    createDatabase(source(), name);
    createDatabase(target(), name);
    sql(source(), name, shopSql("ASC"));
    sql(target(), name, shopSql("DESC"));
  }

  static std::string shopSql(const std::string& itemOrder) {
    return R"SQL(
CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL);
CREATE TABLE orders (id serial PRIMARY KEY, customer_id int NOT NULL REFERENCES customers,
                     total numeric(10, 2), placed timestamptz NOT NULL, note text);
CREATE INDEX orders_customer_idx ON orders (customer_id);
CREATE TABLE items (id int PRIMARY KEY, label text, weight double precision);
CREATE VIEW big_orders AS SELECT * FROM orders WHERE total > 100;
INSERT INTO customers (name) SELECT 'customer ' || g FROM generate_series(1, 100) g;
INSERT INTO orders (customer_id, total, placed, note)
  SELECT 1 + g % 100, g * 1.5, timestamptz '2024-01-01 00:00+00' + g * interval '1 hour',
         CASE WHEN g % 7 = 0 THEN NULL ELSE 'note ' || g END
    FROM generate_series(1, 1000) g;
INSERT INTO items SELECT g, 'item ' || g, g / 3.0 FROM generate_series(1, 500) g ORDER BY g )SQL" +
           itemOrder + ";\n";
  }

  DriverRun compare(const std::string& database) {
    return runDriver(
        {"postgres-compare", "--a", source().url(database), "--b", target().url(database)});
  }

  void setHbaRules(const std::vector<std::string>& rules) {
    std::string error;
    ASSERT_TRUE(target().setHbaHostRules(rules, &error)) << error;
  }

  DriverRun verifyAcl(const std::vector<std::string>& declared,
                      const std::string& user = "postgres") {
    std::string url =
        "postgresql://" + user + "@127.0.0.1:" + std::to_string(target().port()) + "/postgres";
    std::vector<std::string> args = {"acl-verify", "--kind", "postgres", "--url", url, "--"};
    args.insert(args.end(), declared.begin(), declared.end());
    return runDriver(args);
  }
};

// ---------------------------------------------------------------------------
// The harness itself

TEST(ServerHarnessTest, PostgresServerAnswersAndLeavesNoProcessOrFolderBehind) {
  std::string error;
  auto server = PostgresServer::start("harness-Pa55word", error);
  ASSERT_NE(server, nullptr) << error;
  int pid = server->pid();
  std::string folder = server->folder();
  ASSERT_GT(pid, 0);
  EXPECT_TRUE(mig::testing::processIsRunning(pid));
  EXPECT_EQ(server->url("shop"),
            "postgresql://postgres@127.0.0.1:" + std::to_string(server->port()) + "/shop");
  EXPECT_EQ(server->sql("postgres", "SELECT 1 + 1, 'two';"), "2|two\n");
  std::string sqlError;
  EXPECT_EQ(server->sql("postgres", "SELEC 1;", &sqlError), std::nullopt);
  EXPECT_TRUE(contains(sqlError, "syntax error"));

  server.reset();
  EXPECT_FALSE(mig::testing::processIsRunning(pid)) << "the postmaster " << pid << " survived";
  EXPECT_FALSE(fs::exists(folder));
}

TEST(ServerHarnessTest, RedisServerRequiresItsPasswordAndStopsCleanly) {
  std::string error;
  auto server = mig::testing::RedisServer::start("redis-Pa55word", error);
  ASSERT_NE(server, nullptr) << error;
  int pid = server->pid();
  std::string folder = server->folder();
  EXPECT_EQ(server->url(2), "redis://127.0.0.1:" + std::to_string(server->port()) + "/2");
  EXPECT_EQ(server->cli({"PING"}), "PONG\n");
  EXPECT_EQ(server->cli({"SET", "greeting", "hello"}), "OK\n");
  EXPECT_EQ(server->cli({"GET", "greeting"}), "hello\n");
  EXPECT_EQ(server->cli({"CONFIG", "GET", "save"}), "save\n\n");

  server.reset();
  EXPECT_FALSE(mig::testing::processIsRunning(pid)) << "redis-server " << pid << " survived";
  EXPECT_FALSE(fs::exists(folder));
}

// ---------------------------------------------------------------------------
// postgres-wipe

TEST_F(PostgresDriverTest, WipeDropsEverySchemaWithItsObjectsAndLeavesAnEmptyPublic) {
  createDatabase(target(), "wipe_full");
  bool haveExtension =
      sql(target(), "postgres",
          "SELECT count(*) FROM pg_available_extensions WHERE name = 'pgcrypto';") == "1\n";
  if (!haveExtension) {
    std::cout << "[   NOTE   ] pgcrypto is not available (install postgresql-contrib): "
                 "the schema `crypto` gets a plain function instead of the extension\n";
  }
  sql(target(), "wipe_full",
      std::string(R"SQL(
CREATE SCHEMA sales;
CREATE TABLE sales.deals (id serial PRIMARY KEY, amount numeric);
INSERT INTO sales.deals (amount) VALUES (10), (20);
CREATE TABLE public.notes (id int, body text);
CREATE VIEW public.recent_deals AS SELECT * FROM sales.deals;
CREATE SEQUENCE public.ticket_numbers;
CREATE SCHEMA crypto;
SELECT lo_create(0) > 0;
SET client_min_messages = error;
CREATE PUBLICATION deals_feed FOR TABLE sales.deals;
)SQL") + (haveExtension ? "CREATE EXTENSION pgcrypto SCHEMA crypto;\n"
                        : "CREATE FUNCTION crypto.digest(text) RETURNS text "
                          "LANGUAGE sql AS 'SELECT md5($1)';\n"));

  DriverRun wipe = runDriver({"postgres-wipe", "--db", target().url("wipe_full")});
  EXPECT_EQ(wipe.exitCode, 0) << wipe.err;
  EXPECT_EQ(wipe.out,
            std::string("wiped: dropped schemas crypto, public, sales; ") +
                (haveExtension ? "extension pgcrypto; " : "") +
                "publication deals_feed; 1 large object; created schema public as a new database "
                "has it\n");
  EXPECT_EQ(wipe.err, "");

  EXPECT_EQ(sql(target(), "wipe_full",
                "SELECT string_agg(nspname, ',' ORDER BY nspname) FROM pg_namespace "
                "WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema';"),
            "public\n");
  EXPECT_EQ(sql(target(), "wipe_full",
                "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = 'public';"),
            "0\n");
  EXPECT_EQ(sql(target(), "wipe_full", "SELECT string_agg(extname, ',') FROM pg_extension;"),
            "plpgsql\n");
  EXPECT_EQ(sql(target(), "wipe_full",
                "SELECT (SELECT count(*) FROM pg_largeobject_metadata), "
                "(SELECT count(*) FROM pg_publication);"),
            "0|0\n");
  // public as CREATE DATABASE makes it: owner, privileges and comment.
  EXPECT_EQ(sql(target(), "wipe_full",
                "SELECT pg_get_userbyid(nspowner), nspacl, obj_description(oid, 'pg_namespace') "
                "FROM pg_namespace WHERE nspname = 'public';"),
            "pg_database_owner|{pg_database_owner=UC/pg_database_owner,=U/pg_database_owner}|"
            "standard public schema\n");

  // Empty means equal to a database nobody has touched.
  createDatabase(source(), "wipe_full");
  DriverRun equal = compare("wipe_full");
  EXPECT_EQ(equal.out,
            "0 tables, 0 rows, 0 views, 0 sequences, 0 indexes and 2 other objects: identical (13 "
            "properties compared)\n");
  EXPECT_EQ(equal.exitCode, 0) << equal.err;

  DriverRun again = runDriver({"postgres-wipe", "--db", target().url("wipe_full")});
  EXPECT_EQ(again.exitCode, 0) << again.err;
  EXPECT_EQ(again.out, "wiped: dropped schema public; created schema public as a new database has it\n");
}

TEST_F(PostgresDriverTest, WipeOfAnUnreachableServerFailsWithLibpqsMessage) {
  DriverRun wipe = runDriver({"postgres-wipe", "--db", "postgresql://postgres@127.0.0.1:1/gone"});
  EXPECT_EQ(wipe.exitCode, 1);
  EXPECT_EQ(wipe.out, "");
  EXPECT_EQ(wipe.err,
            "postgres-wipe: cannot wipe; nothing was changed:\n"
            "  - cannot connect to the database postgresql://postgres@127.0.0.1:1/gone: connection "
            "to server at \"127.0.0.1\", port 1 failed: Connection refused Is the server running "
            "on that host and accepting TCP/IP connections?\n");
}

TEST_F(PostgresDriverTest, WipeNamesWhatTheUserMayNotDropAndChangesNothing) {
  createDatabase(target(), "wipe_foreign");
  sql(target(), "wipe_foreign",
      std::string("DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'auditor') THEN "
                  "CREATE ROLE auditor LOGIN PASSWORD '") +
          kAuditorPassword +
          "'; END IF; END $$;\n"
          "ALTER DATABASE wipe_foreign OWNER TO auditor;\n"
          "CREATE SCHEMA kept; CREATE TABLE kept.rows (x int); INSERT INTO kept.rows VALUES (1);\n"
          "CREATE SCHEMA mine AUTHORIZATION auditor;\n");
  std::string url =
      "postgresql://auditor@127.0.0.1:" + std::to_string(target().port()) + "/wipe_foreign";
  DriverRun wipe = runDriver({"postgres-wipe", "--db", url});
  EXPECT_EQ(wipe.exitCode, 1);
  EXPECT_EQ(wipe.out, "");
  EXPECT_EQ(wipe.err, "postgres-wipe: cannot wipe " + url +
                          "; nothing was changed:\n"
                          "  - schema kept is owned by postgres: only its owner, a member of that "
                          "role, or a superuser can drop it\n");
  EXPECT_EQ(sql(target(), "wipe_foreign",
                "SELECT (SELECT count(*) FROM kept.rows), (SELECT count(*) FROM pg_namespace WHERE "
                "nspname = 'mine');"),
            "1|1\n");
}

// ---------------------------------------------------------------------------
// postgres-compare

TEST_F(PostgresDriverTest, CompareFindsEqualDatabasesIdenticalWhateverTheRowOrder) {
  createShops("shop_equal");
  DriverRun run = compare("shop_equal");
  EXPECT_EQ(run.out,
            "3 tables, 1,600 rows, 1 view, 2 sequences, 4 indexes and 11 other objects: identical "
            "(104 properties compared)\n");
  EXPECT_EQ(run.err, "");
  EXPECT_EQ(run.exitCode, 0);
}

TEST_F(PostgresDriverTest, CompareNamesTheTableAndBothCountsWhenRowCountsDiffer) {
  createShops("shop_rows");
  sql(target(), "shop_rows", "DELETE FROM orders WHERE id > 998;");
  DriverRun run = compare("shop_rows");
  EXPECT_EQ(run.out,
            "table public.orders: 1,000 rows in a, 998 in b\n"
            "1 difference (a: 3 tables, 1,600 rows, 1 view, 2 sequences, 4 indexes and 11 other "
            "objects; b: 3 tables, 1,598 rows, 1 view, 2 sequences, 4 indexes and 11 other "
            "objects)\n");
  EXPECT_EQ(run.exitCode, 1);
}

TEST_F(PostgresDriverTest, CompareFindsAChangedRowWhenCountsAreEqual) {
  createShops("shop_changed");
  sql(target(), "shop_changed", "UPDATE items SET label = 'item 250 (changed)' WHERE id = 250;");
  DriverRun run = compare("shop_changed");
  EXPECT_EQ(run.out,
            "table public.items: same row count, different contents (checksum)\n"
            "1 difference (a: 3 tables, 1,600 rows, 1 view, 2 sequences, 4 indexes and 11 other "
            "objects; b: 3 tables, 1,600 rows, 1 view, 2 sequences, 4 indexes and 11 other "
            "objects)\n");
  EXPECT_EQ(run.exitCode, 1);
}

TEST_F(PostgresDriverTest, CompareReportsAMissingTableOnceNotEachOfItsColumnsAndIndexes) {
  createShops("shop_missing_table");
  sql(target(), "shop_missing_table", "DROP TABLE items;");
  DriverRun run = compare("shop_missing_table");
  EXPECT_EQ(run.out,
            "table public.items only in a\n"
            "1 difference (a: 3 tables, 1,600 rows, 1 view, 2 sequences, 4 indexes and 11 other "
            "objects; b: 2 tables, 1,100 rows, 1 view, 2 sequences, 3 indexes and 10 other "
            "objects)\n");
  EXPECT_EQ(run.exitCode, 1);
}

TEST_F(PostgresDriverTest, CompareReportsAMissingIndex) {
  createShops("shop_missing_index");
  sql(target(), "shop_missing_index", "DROP INDEX orders_customer_idx;");
  DriverRun run = compare("shop_missing_index");
  EXPECT_EQ(run.out,
            "index public.orders_customer_idx only in a\n"
            "1 difference (a: 3 tables, 1,600 rows, 1 view, 2 sequences, 4 indexes and 11 other "
            "objects; b: 3 tables, 1,600 rows, 1 view, 2 sequences, 3 indexes and 11 other "
            "objects)\n");
  EXPECT_EQ(run.exitCode, 1);
}

TEST_F(PostgresDriverTest, CompareReportsViewsAndSequenceValues) {
  createShops("shop_objects");
  sql(source(), "shop_objects", "CREATE VIEW customer_names AS SELECT name FROM customers;");
  sql(target(), "shop_objects",
      "SELECT setval('orders_id_seq', 1005);\n"
      "CREATE MATERIALIZED VIEW order_totals AS SELECT sum(total) FROM orders;");
  DriverRun run = compare("shop_objects");
  EXPECT_EQ(run.out,
            "view public.customer_names only in a\n"
            "materialized view public.order_totals only in b\n"
            "sequence public.orders_id_seq: last value 1000 in a, 1005 in b\n"
            "3 differences (a: 3 tables, 1,600 rows, 2 views, 2 sequences, 4 indexes and 12 other "
            "objects; b: 3 tables, 1,600 rows, 2 views, 2 sequences, 4 indexes and 12 other "
            "objects)\n");
  EXPECT_EQ(run.exitCode, 1);
}

TEST_F(PostgresDriverTest, CompareFailsWithLibpqsMessageWhenADatabaseIsUnreachable) {
  DriverRun run = runDriver({"postgres-compare", "--a", source().url(), "--b",
                             "postgresql://postgres@127.0.0.1:1/postgres"});
  EXPECT_EQ(run.exitCode, 1);
  EXPECT_EQ(run.out, "");
  EXPECT_EQ(run.err,
            "postgres-compare: cannot connect to b postgresql://postgres@127.0.0.1:1/postgres: "
            "connection to server at \"127.0.0.1\", port 1 failed: Connection refused Is the "
            "server running on that host and accepting TCP/IP connections?\n");
}

TEST_F(PostgresDriverTest, CompareWithAWrongPasswordFailsWithoutShowingIt) {
  DriverRun run = runDriver({"postgres-compare", "--a", target().url(), "--b", target().url()},
                            servers->wrongPgpass);
  EXPECT_EQ(run.exitCode, 1);
  EXPECT_TRUE(contains(run.err, "password authentication failed for user \"postgres\""));
}

TEST_F(PostgresDriverTest, CompareWithoutBothDatabasesIsAUsageError) {
  DriverRun run = runDriver({"postgres-compare", "--a", source().url()});
  EXPECT_EQ(run.exitCode, 2);
  EXPECT_EQ(run.err, "mig driver: missing --b\n");
}

// ---------------------------------------------------------------------------
// acl-verify --kind postgres
//
// setHbaHostRules writes local rules on lines 2-3, loopback host rules on
// lines 4-7, and the given rules from line 8 on.

constexpr const char* kIgnoredLines =
    "ignoring local (unix socket) rules: lines 2, 3\n"
    "ignoring loopback host rules: 127.0.0.1/32 (lines 4, 6), ::1/128 (lines 5, 7)\n";

TEST_F(PostgresDriverTest, AclVerifyPassesWhenPgHbaAllowsExactlyTheDeclaredAddresses) {
  setHbaRules({"10.1.0.0/24", "203.0.113.7/32", "2001:db8::/48"});
  DriverRun run = verifyAcl({"10.1.0.0/24", "203.0.113.7", "2001:db8::/48"});
  EXPECT_EQ(run.out,
            std::string(kIgnoredLines) + "acl matches pg_hba: 3 declared entries, 3 host rules\n");
  EXPECT_EQ(run.err, "");
  EXPECT_EQ(run.exitCode, 0);
}

TEST_F(PostgresDriverTest, AclVerifyListsMissingAndUndeclaredEntries) {
  setHbaRules({"10.1.0.0/24", "0.0.0.0/0", "10.0.0.0/8",
               "hostnossl all all 198.51.100.0/24 scram-sha-256"});
  DriverRun run = verifyAcl({"10.1.0.0/24", "10.2.0.0/16", "192.0.2.10"});
  EXPECT_EQ(run.out, std::string(kIgnoredLines) +
                         "declared 10.2.0.0/16 but pg_hba allows no host rule for it; wider rules "
                         "contain it: 0.0.0.0/0 (line 9), 10.0.0.0/8 (line 10)\n"
                         "declared 192.0.2.10/32 but pg_hba allows no host rule for it; wider "
                         "rules contain it: 0.0.0.0/0 (line 9)\n"
                         "pg_hba allows 0.0.0.0/0 (line 9), not declared\n"
                         "pg_hba allows 10.0.0.0/8 (line 10), not declared\n"
                         "pg_hba allows 198.51.100.0/24 (line 11), not declared\n"
                         "acl differs from pg_hba: 2 declared entries missing, 3 rules not "
                         "declared\n");
  EXPECT_EQ(run.exitCode, 1);
}

TEST_F(PostgresDriverTest, AclVerifyReportsRulesItCannotCompareAndIgnoresRejectRules) {
  setHbaRules({"10.1.0.0/24", "all", "samenet", "db.example.com", "host all all 10.9.0.0/16 reject",
               "host all all 10.5.0.0/33 scram-sha-256"});
  DriverRun run = verifyAcl({"10.1.0.0/24"});
  EXPECT_EQ(run.out,
            std::string(kIgnoredLines) +
                "ignoring rules that reject: 10.9.0.0/16 (line 12)\n"
                "pg_hba line 9 allows all (any address), which cannot be compared with declared "
                "addresses\n"
                "pg_hba line 10 allows samenet (any subnet the server is on), which cannot be "
                "compared with declared addresses\n"
                "pg_hba line 11 allows the host name db.example.com, which cannot be compared "
                "with declared addresses\n"
                "pg_hba line 13 has an error: invalid CIDR mask in address \"10.5.0.0/33\"\n"
                "acl differs from pg_hba: 3 rules that cannot be compared, 1 line with an error\n");
  EXPECT_EQ(run.exitCode, 1);
}

TEST_F(PostgresDriverTest, AclVerifyTellsANonSuperuserWhichGrantsItNeeds) {
  setHbaRules({"10.1.0.0/24"});
  sql(target(), "postgres",
      std::string("DO $$ BEGIN IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'auditor') THEN "
                  "DROP OWNED BY auditor; DROP ROLE auditor; END IF; END $$;\n"
                  "CREATE ROLE auditor LOGIN PASSWORD '") +
          kAuditorPassword + "';");
  std::string url =
      "postgresql://auditor@127.0.0.1:" + std::to_string(target().port()) + "/postgres";
  std::string hint =
      "acl-verify: reading pg_hba_file_rules needs a superuser, or (PostgreSQL 15) a role granted "
      "both: GRANT SELECT ON pg_hba_file_rules TO auditor; GRANT EXECUTE ON FUNCTION "
      "pg_hba_file_rules() TO auditor;\n";

  DriverRun denied = verifyAcl({"10.1.0.0/24"}, "auditor");
  EXPECT_EQ(denied.exitCode, 1);
  EXPECT_EQ(denied.out, "");
  EXPECT_EQ(denied.err, "acl-verify: cannot read pg_hba_file_rules at " + url +
                            ": ERROR:  permission denied for view pg_hba_file_rules\n" + hint);

  // pg_read_all_settings is no help; the view alone is not enough either.
  sql(target(), "postgres",
      "GRANT pg_read_all_settings TO auditor; GRANT SELECT ON pg_hba_file_rules TO auditor;");
  DriverRun halfGranted = verifyAcl({"10.1.0.0/24"}, "auditor");
  EXPECT_EQ(halfGranted.exitCode, 1);
  EXPECT_EQ(halfGranted.err, "acl-verify: cannot read pg_hba_file_rules at " + url +
                                 ": ERROR:  permission denied for function pg_hba_file_rules\n" +
                                 hint);

  sql(target(), "postgres",
      "REVOKE pg_read_all_settings FROM auditor; "
      "GRANT EXECUTE ON FUNCTION pg_hba_file_rules() TO auditor;");
  DriverRun granted = verifyAcl({"10.1.0.0/24"}, "auditor");
  EXPECT_EQ(granted.out,
            std::string(kIgnoredLines) + "acl matches pg_hba: 1 declared entry, 1 host rule\n");
  EXPECT_EQ(granted.err, "");
  EXPECT_EQ(granted.exitCode, 0);
}

TEST_F(PostgresDriverTest, AclVerifyRefusesADeclaredEntryThatIsNotAnAddress) {
  DriverRun run = verifyAcl({"10.1.0.0/24", "app-servers"});
  EXPECT_EQ(run.exitCode, 2);
  EXPECT_EQ(run.err, "acl-verify: 'app-servers' is not an IP address or CIDR\n");
  DriverRun tooLong = verifyAcl({"10.1.0.0/33"});
  EXPECT_EQ(tooLong.exitCode, 2);
  EXPECT_EQ(tooLong.err, "acl-verify: '10.1.0.0/33' is not an IP address or CIDR\n");
}

}  // namespace
