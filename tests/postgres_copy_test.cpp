// postgres-copy, postgres-restore and postgres-compare on a database built
// to be hard to copy: a non-superuser owner, application roles with grants
// and revokes (table, column, function, type, schema, large object,
// default privileges), RLS, triggers, a hash partition on an enum, a
// database setting and a role setting in it, comments. Whether the target
// answers like the source is checked with the servers' own functions
// (has_table_privilege, ...), not with mig's compare; then compare is
// checked against one tampered thing at a time.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <thread>

#include "runtime/drivers/subprocess.h"
#include "tests/harness/servers.h"

#ifndef MIG_BINARY
#error "MIG_BINARY must name the mig binary"
#endif

namespace {

namespace fs = std::filesystem;
using mig::testing::PostgresServer;

constexpr const char* kSourcePassword = "src-Copy-pass-4d1e";
constexpr const char* kTargetPassword = "tgt-Copy-pass-88c2";
constexpr const char* kMigratorPassword = "mig-Copy-pass-1f07";
constexpr const char* kReaderPassword = "rdr-Copy-pass-5b3a";
constexpr const char* kAppPassword = "app-Copy-pass-e611";

/// The shop, as the source's superuser creates it in database `shop`.
constexpr const char* kShop = R"SQL(
CREATE ROLE shop_owner LOGIN;
CREATE ROLE shop_ro NOLOGIN;
CREATE ROLE shop_rw NOLOGIN;
CREATE ROLE shop_app LOGIN CONNECTION LIMIT 20 IN ROLE shop_rw;
CREATE ROLE shop_audit NOLOGIN;
CREATE ROLE dba SUPERUSER;
GRANT shop_rw TO dba;
GRANT pg_read_all_stats TO shop_app;
ALTER ROLE shop_owner VALID UNTIL '2030-12-11';
ALTER DATABASE shop SET DateStyle = 'SQL, DMY';
ALTER ROLE shop_audit IN DATABASE shop SET search_path = '';
GRANT CREATE ON DATABASE shop TO shop_owner;
ALTER DATABASE shop SET search_path = app, public;
ALTER ROLE shop_app IN DATABASE shop SET statement_timeout = '5s';
COMMENT ON DATABASE shop IS 'the shop';
REVOKE CONNECT ON DATABASE shop FROM PUBLIC;
GRANT CONNECT ON DATABASE shop TO shop_ro, shop_rw;
ALTER SCHEMA public OWNER TO shop_owner;
COMMENT ON SCHEMA public IS 'public, but ours';
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
SET ROLE shop_owner;
CREATE SCHEMA app;
CREATE TYPE app.status AS ENUM ('new', 'paid', 'shipped');
CREATE DOMAIN app.positive AS numeric CHECK (VALUE > 0);
CREATE TABLE app.orders (id bigserial PRIMARY KEY, status app.status NOT NULL DEFAULT 'new',
                         total app.positive, note text COLLATE "C");
CREATE INDEX orders_status_idx ON app.orders (status);
CREATE TABLE app.lines (order_id bigint REFERENCES app.orders ON DELETE CASCADE,
                        n int CHECK (n > 0), qty int NOT NULL, PRIMARY KEY (order_id, n));
CREATE TABLE app.events (id int, kind app.status, payload jsonb) PARTITION BY HASH (kind);
CREATE TABLE app.events_0 PARTITION OF app.events FOR VALUES WITH (MODULUS 2, REMAINDER 0);
CREATE TABLE app.events_1 PARTITION OF app.events FOR VALUES WITH (MODULUS 2, REMAINDER 1);
CREATE TABLE app.secrets (id int PRIMARY KEY, tenant text, body text);
ALTER TABLE app.secrets ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_only ON app.secrets FOR SELECT TO shop_ro USING (tenant = current_user);
CREATE POLICY two_roles ON app.secrets FOR UPDATE TO shop_rw, shop_audit USING (true);
CREATE TYPE app.textrange AS RANGE (subtype = text, collation = "C");
CREATE TABLE app.regions (id int, region int, PRIMARY KEY (id, region)) PARTITION BY LIST (region);
CREATE TABLE app.regions_1 PARTITION OF app.regions FOR VALUES IN (1);
CREATE TABLE app.visits (region_id int, region int, FOREIGN KEY (region_id, region) REFERENCES app.regions);
CREATE TABLE app.regions_0 PARTITION OF app.regions FOR VALUES IN (0);
CREATE FUNCTION app.audit() RETURNS trigger LANGUAGE plpgsql AS
  $f$ BEGIN NEW.note := coalesce(NEW.note, 'audited'); RETURN NEW; END $f$;
CREATE TRIGGER audit_trg BEFORE INSERT ON app.orders FOR EACH ROW EXECUTE FUNCTION app.audit();
CREATE FUNCTION app.total_of(bigint) RETURNS numeric LANGUAGE sql STABLE
  AS 'SELECT sum(qty) FROM app.lines WHERE order_id = $1';
REVOKE EXECUTE ON FUNCTION app.total_of(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app.total_of(bigint) TO shop_rw;
CREATE VIEW app.open_orders AS SELECT id, status FROM app.orders WHERE status <> 'shipped';
CREATE MATERIALIZED VIEW app.order_counts AS SELECT status, count(*) FROM app.orders GROUP BY status;
CREATE SEQUENCE app.invoice_no START 1000 INCREMENT 5;
SELECT nextval('app.invoice_no');
GRANT USAGE ON SCHEMA app TO shop_ro, shop_rw;
GRANT SELECT ON ALL TABLES IN SCHEMA app TO shop_ro;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA app TO shop_rw;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA app TO shop_rw;
GRANT SELECT (id, tenant) ON app.secrets TO shop_audit;
REVOKE USAGE ON TYPE app.status FROM PUBLIC;
GRANT USAGE ON TYPE app.status TO shop_rw;
ALTER DEFAULT PRIVILEGES IN SCHEMA app GRANT SELECT ON TABLES TO shop_ro;
COMMENT ON TABLE app.orders IS 'orders of the shop';
COMMENT ON COLUMN app.orders.total IS 'in euros';
INSERT INTO app.orders (status, total)
  SELECT (ARRAY['new', 'paid', 'shipped']::app.status[])[1 + g % 3], g FROM generate_series(1, 300) g;
INSERT INTO app.lines SELECT o, n, n * 2 FROM generate_series(1, 300) o, generate_series(1, 3) n;
INSERT INTO app.events
  SELECT g, (ARRAY['new', 'paid', 'shipped']::app.status[])[1 + g % 3], jsonb_build_object('g', g)
    FROM generate_series(1, 90) g;
INSERT INTO app.secrets VALUES (1, 'shop_ro', 'x'), (2, 'other', 'y');
REFRESH MATERIALIZED VIEW app.order_counts;
SELECT lo_from_bytea(424242, 'large object contents') > 0;
GRANT SELECT ON LARGE OBJECT 424242 TO shop_ro;
COMMENT ON LARGE OBJECT 424242 IS 'a scanned invoice';
CREATE PUBLICATION orders_feed FOR TABLE app.orders;
RESET ROLE;
)SQL";

/// What the application would ask the target, answered by the server:
/// each query must give the same answer on both sides.
const std::vector<std::string> kQuestions = {
    "SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = 'app.orders'::regclass",
    "SELECT pg_get_userbyid(nspowner), obj_description(oid, 'pg_namespace') FROM pg_namespace "
    "WHERE nspname = 'public'",
    "SELECT has_schema_privilege('public', 'public', 'CREATE'), has_schema_privilege('shop_ro', "
    "'app', 'USAGE')",
    "SELECT has_table_privilege('shop_ro', 'app.orders', 'SELECT'), "
    "has_table_privilege('shop_ro', 'app.orders', 'INSERT'), "
    "has_table_privilege('shop_rw', 'app.lines', 'DELETE'), "
    "has_table_privilege('shop_app', 'app.orders', 'UPDATE')",
    "SELECT has_column_privilege('shop_audit', 'app.secrets', 'tenant', 'SELECT'), "
    "has_column_privilege('shop_audit', 'app.secrets', 'body', 'SELECT')",
    "SELECT has_function_privilege('shop_ro', 'app.total_of(bigint)', 'EXECUTE'), "
    "has_function_privilege('shop_rw', 'app.total_of(bigint)', 'EXECUTE')",
    "SELECT has_type_privilege('shop_ro', 'app.status', 'USAGE'), "
    "has_type_privilege('shop_rw', 'app.status', 'USAGE')",
    "SELECT has_sequence_privilege('shop_rw', 'app.invoice_no', 'USAGE'), "
    "has_database_privilege('shop_ro', current_database(), 'CONNECT'), "
    "has_database_privilege('shop_owner', current_database(), 'CONNECT'), "
    "has_database_privilege('shop_owner', current_database(), 'CREATE')",
    "SELECT pg_get_userbyid(lomowner), lomacl::text, obj_description(oid, 'pg_largeobject'), "
    "encode(lo_get(oid), 'escape') FROM pg_largeobject_metadata",
    "SELECT pg_get_userbyid(defaclrole), defaclacl::text FROM pg_default_acl",
    "SELECT s.setrole <> 0, s.setconfig FROM pg_db_role_setting s JOIN pg_database d ON "
    "d.oid = s.setdatabase WHERE d.datname = current_database() ORDER BY 1, s.setconfig::text",
    "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = "
    "current_database()",
    "SELECT rolname, rolcanlogin, rolconnlimit FROM pg_roles WHERE rolname LIKE 'shop\\_%' ORDER "
    "BY 1",
    "SELECT pg_has_role('shop_app', 'shop_rw', 'MEMBER'), pg_has_role('shop_app', 'shop_ro', "
    "'MEMBER')",
    "SELECT tgenabled FROM pg_trigger WHERE tgname = 'audit_trg'",
    "SELECT relrowsecurity, (SELECT count(*) FROM pg_policy WHERE polrelid = c.oid) FROM pg_class "
    "c WHERE oid = 'app.secrets'::regclass",
    "SELECT last_value, is_called FROM app.invoice_no",
    "SELECT count(*), md5(string_agg(t::text, ';' ORDER BY id)) FROM app.orders t",
    "SELECT count(*), md5(string_agg(t::text, ';' ORDER BY order_id, n)) FROM app.lines t",
    "SELECT count(*), md5(string_agg(t::text, ';' ORDER BY id)) FROM app.events t",
    "SELECT pubname FROM pg_publication",
    "SELECT rolvaliduntil FROM pg_roles WHERE rolname = 'shop_owner'",
    "SELECT pg_has_role('shop_app', 'pg_read_all_stats', 'MEMBER')",
};

struct DriverRun {
  int exitCode = -1;
  std::string out;
  std::string err;
};

/// The clusters, the roles the tests log in as, and their PGPASSFILE.
class Clusters : public ::testing::Environment {
 public:
  void SetUp() override {
    std::string error;
    source = PostgresServer::start(kSourcePassword, error);
    if (source) target = PostgresServer::start(kTargetPassword, error);
    if (!source || !target) {
      startError = error;
      return;
    }
    std::string pattern = (fs::temp_directory_path() / "mig-copy-test-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      startError = std::string("cannot create a folder: ") + std::strerror(errno);
      return;
    }
    folder = pattern;
    const auto& line = mig::testing::pgpassLine;
    std::string all =
        line(*source, "postgres", kSourcePassword) + line(*source, "reader", kReaderPassword) +
        line(*target, "postgres", kTargetPassword) + line(*target, "migrator", kMigratorPassword) +
        line(*target, "shop_app", kAppPassword);
    pgpass = write("pgpass", all);
    wrongSource = write("wrong-source.pgpass", line(*source, "postgres", "not-the-password") +
                                                   line(*target, "postgres", kTargetPassword));
    wrongTarget = write("wrong-target.pgpass", line(*source, "postgres", kSourcePassword) +
                                                   line(*target, "postgres", "not-the-password"));
  }

  void TearDown() override {
    source.reset();
    target.reset();
    std::error_code ignored;
    if (!folder.empty()) fs::remove_all(folder, ignored);
  }

  std::string write(const std::string& name, const std::string& text) {
    std::string path = folder + "/" + name;
    if (!mig::testing::writePrivateFile(path, text, startError)) return "";
    return path;
  }

  std::unique_ptr<PostgresServer> source;
  std::unique_ptr<PostgresServer> target;
  std::string startError;
  std::string folder;
  std::string pgpass;
  std::string wrongSource;
  std::string wrongTarget;
};

Clusters* const clusters =
    static_cast<Clusters*>(::testing::AddGlobalTestEnvironment(new Clusters()));

/// `mig driver ARGS...` with `pgpass` as PGPASSFILE and a MIG_NOTHING_CHANGED
/// file; asserts that no password shows in what it prints.
DriverRun runDriver(const std::vector<std::string>& args, const std::string& pgpass = "",
                    bool* nothingChanged = nullptr) {
  std::string marker = clusters->folder + "/nothing-changed";
  fs::remove(marker);
  mig::drivers::SubprocessRequest request;
  request.argv = {MIG_BINARY, "driver"};
  request.argv.insert(request.argv.end(), args.begin(), args.end());
  request.env = {{"PGPASSFILE", pgpass.empty() ? clusters->pgpass : pgpass},
                 {"MIG_NOTHING_CHANGED", marker}};
  request.unsetEnv = {"PGPASSWORD", "PGUSER", "PGDATABASE", "PGHOST", "PGPORT"};
  request.timeout = std::chrono::seconds(120);
  mig::drivers::SubprocessResult result = mig::drivers::runSubprocess(request);
  EXPECT_TRUE(result.started) << result.error;
  for (const char* password :
       {kSourcePassword, kTargetPassword, kMigratorPassword, kReaderPassword, kAppPassword}) {
    EXPECT_EQ(result.out.find(password), std::string::npos) << "a password leaked into stdout";
    EXPECT_EQ(result.err.find(password), std::string::npos) << "a password leaked into stderr";
  }
  if (nothingChanged != nullptr) *nothingChanged = fs::exists(marker);
  return DriverRun{result.exitCode, result.out, result.err};
}

/// The timing in a copy's report, as "N".
std::string withoutTiming(const std::string& text) {
  return std::regex_replace(text, std::regex("loaded in [0-9.]+ s"), "loaded in N s");
}

class CopyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(clusters->source && clusters->target)
        << "cannot start PostgreSQL: " << clusters->startError;
    ASSERT_TRUE(source().createDatabase("shop", &error_)) << error_;
    ASSERT_TRUE(target().createDatabase("shop", &error_)) << error_;
    sql(source(), "shop", kShop);
  }

  const PostgresServer& source() const { return *clusters->source; }
  const PostgresServer& target() const { return *clusters->target; }

  std::string sql(const PostgresServer& server, const std::string& database,
                  const std::string& statements) {
    std::string error;
    auto output = server.sql(database, statements, &error);
    EXPECT_TRUE(output.has_value()) << error << "\n" << statements;
    return output.value_or("");
  }

  std::string url(const PostgresServer& server, const std::string& user = "postgres",
                  const std::string& database = "shop") const {
    return "postgresql://" + user + "@127.0.0.1:" + std::to_string(server.port()) + "/" + database;
  }

  DriverRun copy(std::vector<std::string> options = {}, const std::string& pgpass = "",
                 bool* nothingChanged = nullptr, const std::string& targetUser = "postgres") {
    std::vector<std::string> args = {"postgres-copy", "--from", url(source()), "--to",
                                     url(target(), targetUser)};
    args.insert(args.end(), options.begin(), options.end());
    return runDriver(args, pgpass, nothingChanged);
  }

  DriverRun compare(std::vector<std::string> options = {}) {
    std::vector<std::string> args = {"postgres-compare", "--a", url(source()), "--b",
                                     url(target())};
    args.insert(args.end(), options.begin(), options.end());
    return runDriver(args);
  }

  /// A target user that is not a superuser and owns the target database.
  void createMigrator(const std::string& attributes) {
    sql(target(), "postgres",
        "CREATE ROLE migrator LOGIN " + attributes + " PASSWORD '" + kMigratorPassword +
            "'; ALTER DATABASE shop OWNER TO migrator;");
  }

  /// The source as `pg_dump --format=custom` writes it (as postgres.dump
  /// does); the archive's path.
  std::string dumpSource() {
    std::string archive = clusters->folder + "/shop.dump";
    mig::drivers::SubprocessRequest dump;
    dump.argv = {"pg_dump", "--no-password", "--format=custom", "--file=" + archive,
                 "--dbname=" + url(source())};
    dump.env = {{"PGPASSFILE", clusters->pgpass}};
    dump.timeout = std::chrono::seconds(60);
    EXPECT_EQ(mig::drivers::runSubprocess(dump).exitCode, 0);
    return archive;
  }

  /// What the target's tables hold, to tell whether a failed copy touched it.
  std::string targetContents() {
    return sql(target(), "shop",
               "SELECT string_agg(format('%I.%I', schemaname, tablename), ',' ORDER BY 1) FROM "
               "pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema');");
  }

  std::string error_;
};

constexpr const char* kDbaNote =
    "note: role dba (a superuser on the source) is a member of a role the database uses, and is "
    "not on the target: mig does not create superusers; create it if the application logs in as "
    "it\n";

constexpr const char* kNoPasswordNotes =
    "note: role shop_app is created without a password (passwords: true copies it)\n"
    "note: role shop_owner is created without a password (passwords: true copies it)\n";

/// What the prelude does for the shop, before "; dropped ...".
constexpr const char* kRolesReport =
    "created roles shop_app, shop_audit, shop_owner, shop_ro, shop_rw; granted pg_read_all_stats "
    "to shop_app, shop_rw to shop_app";

const std::string kCopyReport = std::string(kDbaNote) + kNoPasswordNotes +
                                "copied: " + kRolesReport +
                                "; dropped schema public; created schema public as a new "
                                "database has it; loaded in N s, in one transaction\n";

TEST_F(CopyTest, TheTargetAnswersLikeTheSourceAndCompareAgrees) {
  // The target's enum gets other OIDs than the source's, so that rows hash
  // into other partitions of app.events.
  sql(target(), "postgres", "CREATE TYPE shift AS ENUM ('a', 'b', 'c', 'd', 'e');");
  DriverRun run = copy();
  EXPECT_EQ(run.exitCode, 0) << run.err;
  EXPECT_EQ(withoutTiming(run.out), kCopyReport);

  for (const std::string& question : kQuestions) {
    std::string fromSource = sql(source(), "shop", question + ";");
    EXPECT_EQ(sql(target(), "shop", question + ";"), fromSource) << question;
  }
  // The answers themselves are the shop's, not empty ones.
  EXPECT_EQ(sql(target(), "shop",
                "SELECT has_table_privilege('shop_ro', 'app.orders', 'SELECT'), "
                "has_function_privilege('shop_ro', 'app.total_of(bigint)', 'EXECUTE'), "
                "has_column_privilege('shop_audit', 'app.secrets', 'body', 'SELECT'), "
                "pg_get_userbyid(relowner) FROM pg_class WHERE oid = 'app.orders'::regclass;"),
            "t|f|f|shop_owner\n");
  EXPECT_EQ(sql(target(), "shop",
                "SELECT setconfig FROM pg_db_role_setting s JOIN pg_database d ON d.oid = "
                "s.setdatabase WHERE d.datname = 'shop' AND s.setrole = 0;"),
            "{\"DateStyle=SQL, DMY\",\"search_path=app, public\"}\n");
  EXPECT_EQ(sql(target(), "shop", "SET ROLE shop_ro; SELECT count(*) FROM app.orders;"), "300\n");

  DriverRun same = compare();
  EXPECT_EQ(same.out,
            "10 tables, 1,292 rows, 2 views, 2 sequences, 7 indexes and 26 other objects: "
            "identical (293 properties compared)\n");
  EXPECT_EQ(same.exitCode, 0) << same.err;
}

TEST_F(CopyTest, ACopyReplacesWhatTheTargetHeld) {
  // Also what outlives its schemas: default privileges for every schema
  // (they would apply to each copied table), and PUBLIC's privileges on
  // the database (the source's are the default ones).
  sql(target(), "shop",
      "CREATE SCHEMA old; CREATE TABLE old.leftover (x int); ALTER DATABASE shop SET work_mem = "
      "'64MB'; COMMENT ON DATABASE shop IS 'yesterday'; SELECT lo_create(777) > 0;"
      "ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO PUBLIC;"
      "REVOKE TEMPORARY ON DATABASE shop FROM PUBLIC;");
  DriverRun run = copy();
  EXPECT_EQ(run.exitCode, 0) << run.err;
  EXPECT_EQ(withoutTiming(run.out),
            std::string(kDbaNote) + kNoPasswordNotes + "copied: " + kRolesReport +
                "; dropped schemas old, public; 1 large object; created schema public as a new "
                "database has it; reset the database's settings and comment; loaded in N s, in "
                "one transaction\n");
  DriverRun same = compare();
  EXPECT_EQ(same.exitCode, 0) << same.out;
}

TEST_F(CopyTest, ACopyIntoItsOwnSourceIsRefused) {
  bool nothingChanged = false;
  DriverRun run = runDriver({"postgres-copy", "--from", url(source()), "--to", url(source())}, "",
                            &nothingChanged);
  EXPECT_EQ(run.exitCode, 1);
  EXPECT_EQ(run.err, "postgres-copy: cannot copy " + url(source()) + " into " + url(source()) +
                         "; nothing was changed:\n"
                         "  - the source and the target are the same database\n");
  EXPECT_TRUE(nothingChanged);
}

// The load commits only when mig writes its last words: killing mig (the
// runtime's step timeout kills the whole group, but the OOM killer or a
// kill -9 of its pid alone would not) leaves psql at the end of its input
// without them, and the transaction rolls back.
TEST_F(CopyTest, KillingTheDriverMidLoadCommitsNothing) {
  ASSERT_EQ(copy().exitCode, 0);
  std::string before = targetContents();
  sql(source(), "shop",
      "CREATE TABLE app.big AS SELECT g AS id, repeat('x', 200) AS filler "
      "FROM generate_series(1, 1500000) g;");
  mig::drivers::SubprocessRequest request;
  request.argv = {MIG_BINARY,    "driver", "postgres-copy", "--from",
                  url(source()), "--to",   url(target())};
  request.env = {{"PGPASSFILE", clusters->pgpass}};
  // Only the driver's own pid is killed, so that psql and pg_dump keep
  // running: the worst case.
  std::string script =
      "\"$0\" \"$@\" & driver=$!; echo $driver > " + clusters->folder + "/driver.pid; wait $driver";
  mig::drivers::SubprocessRequest shell;
  shell.argv = {"bash", "-c", script};
  shell.argv.insert(shell.argv.end(), request.argv.begin(), request.argv.end());
  shell.env = request.env;
  shell.timeout = std::chrono::seconds(120);
  std::thread killer([&] {
    // Once psql has loaded part of app.big.
    for (int i = 0; i < 600; ++i) {
      std::string error;
      auto copying = target().sql(
          "postgres",
          "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'COPY app.big%' AND datname = "
          "'shop';",
          &error);
      if (copying && *copying != "0\n") break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    std::ifstream pidFile(clusters->folder + "/driver.pid");
    pid_t pid = 0;
    if (pidFile >> pid && pid > 0) ::kill(pid, SIGKILL);
  });
  mig::drivers::SubprocessResult result = mig::drivers::runSubprocess(shell);
  killer.join();
  EXPECT_EQ(result.exitCode, 128 + SIGKILL) << result.err;
  // psql and pg_dump end on their own; the target's transaction with them.
  // Only once psql has read all its input does the target show what it did
  // with it: a commit would show now, not while the data still flows.
  std::string active;
  for (int i = 0; i < 1200; ++i) {
    active = sql(target(), "postgres",
                 "SELECT count(*) FROM pg_stat_activity WHERE datname = 'shop' AND "
                 "application_name = 'mig copy';");
    if (active == "0\n") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(active, "0\n") << "the load still runs 2 minutes after the driver was killed";
  EXPECT_EQ(targetContents(), before);
  EXPECT_EQ(sql(target(), "shop", "SELECT count(*) FROM pg_tables WHERE tablename = 'big';"),
            "0\n");
}

TEST_F(CopyTest, AWrongSourcePasswordLeavesAFilledTargetUntouched) {
  ASSERT_EQ(copy().exitCode, 0);
  std::string before = targetContents();
  ASSERT_EQ(before,
            "app.events,app.events_0,app.events_1,app.lines,app.orders,app.regions,app.regions_0,"
            "app.regions_1,app.secrets,app.visits\n");

  bool nothingChanged = false;
  DriverRun run = copy({}, clusters->wrongSource, &nothingChanged);
  EXPECT_EQ(run.exitCode, 1);
  EXPECT_EQ(run.out, "");
  EXPECT_EQ(run.err,
            "postgres-copy: cannot copy; nothing was changed:\n"
            "  - cannot connect to the source " +
                url(source()) + ": connection to server at \"127.0.0.1\", port " +
                std::to_string(source().port()) +
                " failed: FATAL:  password authentication failed for user \"postgres\" "
                "password retrieved from file \"" +
                clusters->wrongSource + "\"\n");
  EXPECT_TRUE(nothingChanged);
  EXPECT_EQ(targetContents(), before);
  EXPECT_EQ(compare().exitCode, 0);
}

TEST_F(CopyTest, AWrongTargetPasswordChangesNothingAndSaysSo) {
  bool nothingChanged = false;
  DriverRun run = copy({}, clusters->wrongTarget, &nothingChanged);
  EXPECT_EQ(run.exitCode, 1);
  EXPECT_EQ(run.err,
            "postgres-copy: cannot copy; nothing was changed:\n"
            "  - cannot connect to the target " +
                url(target()) + ": connection to server at \"127.0.0.1\", port " +
                std::to_string(target().port()) +
                " failed: FATAL:  password authentication failed for user \"postgres\" "
                "password retrieved from file \"" +
                clusters->wrongTarget + "\"\n");
  EXPECT_TRUE(nothingChanged);
  // Run again with the right password: it simply works.
  EXPECT_EQ(copy().exitCode, 0);
}

// A CHECK that reads another table, loaded after this one: the dump
// replays fine up to the data of app.guarded, then fails.
constexpr const char* kFailsHalfWay =
    "CREATE TABLE app.z_allowed (v int); INSERT INTO app.z_allowed VALUES (1);"
    "CREATE FUNCTION app.allowed(int) RETURNS bool LANGUAGE sql STABLE AS "
    "'SELECT EXISTS (SELECT FROM app.z_allowed WHERE v = $1)';"
    "CREATE TABLE app.guarded (v int CHECK (app.allowed(v))); INSERT INTO app.guarded VALUES "
    "(1);";

TEST_F(CopyTest, ALoadThatFailsHalfWayLeavesTheTargetAsItWas) {
  ASSERT_EQ(copy().exitCode, 0);
  std::string before = targetContents();
  sql(source(), "shop", kFailsHalfWay);
  bool nothingChanged = false;
  DriverRun run = copy({}, "", &nothingChanged);
  EXPECT_EQ(run.exitCode, 1);
  // psql's own lines (with line numbers of its input), then mig's.
  std::regex expected(
      "(psql:<stdin>:[0-9]+: (ERROR|DETAIL|CONTEXT): [^\n]*\n)*"
      "psql:<stdin>:[0-9]+: ERROR:  new row for relation \"guarded\" violates check constraint "
      "\"guarded_v_check\"\n"
      "(DETAIL|CONTEXT):  [^\n]*\n(CONTEXT|DETAIL):  [^\n]*\n"
      "postgres-copy: cannot load " +
      std::regex_replace(url(target()), std::regex("[.]"), "[.]") +
      "; nothing was changed:\n  - psql exited with status 3 \\(its messages are above\\); the "
      "transaction was rolled back\n");
  EXPECT_TRUE(std::regex_match(run.err, expected)) << run.err;
  EXPECT_TRUE(nothingChanged);
  EXPECT_EQ(targetContents(), before);
}

// The large objects follow the dump, after psql has already stopped: more
// than a pipe holds finds no reader, and psql's status is still the cause.
TEST_F(CopyTest, ALoadThatFailsBeforeItsLargeObjectsNamesPsqlsFailure) {
  ASSERT_EQ(copy().exitCode, 0);
  std::string before = targetContents();
  sql(source(), "shop",
      std::string(kFailsHalfWay) +
          "SELECT lo_from_bytea(0, convert_to(repeat('x', 300000), 'UTF8'));");
  bool nothingChanged = false;
  DriverRun run = copy({}, "", &nothingChanged);
  EXPECT_EQ(run.exitCode, 1);
  const std::string cause =
      "  - psql exited with status 3 (its messages are above); the transaction was rolled back\n";
  EXPECT_TRUE(run.err.ends_with(cause)) << run.err;
  EXPECT_TRUE(nothingChanged);
  EXPECT_EQ(targetContents(), before);
}

TEST_F(CopyTest, ATargetUserThatMayNotCreateRolesFailsNamingEachOneBeforeTouchingAnything) {
  createMigrator("");
  sql(target(), "shop", "CREATE TABLE precious (x int); INSERT INTO precious VALUES (1);");
  sql(source(), "shop", "CREATE TABLE app.admin_notes (x int);");  // owned by the superuser
  bool nothingChanged = false;
  DriverRun run = copy({}, "", &nothingChanged, "migrator");
  EXPECT_EQ(run.exitCode, 1);
  EXPECT_EQ(
      run.err,
      "postgres-copy: cannot copy " + url(source()) + " into " + url(target(), "migrator") +
          "; nothing was changed:\n"
          "  - target: role shop_app does not exist, and migrator may not create roles (it needs "
          "CREATEROLE, or create the role yourself)\n"
          "  - target: role shop_audit does not exist, and migrator may not create roles (it "
          "needs CREATEROLE, or create the role yourself)\n"
          "  - target: role shop_owner does not exist, and migrator may not create roles (it "
          "needs CREATEROLE, or create the role yourself)\n"
          "  - target: role shop_ro does not exist, and migrator may not create roles (it needs "
          "CREATEROLE, or create the role yourself)\n"
          "  - target: role shop_rw does not exist, and migrator may not create roles (it needs "
          "CREATEROLE, or create the role yourself)\n"
          "  - target: postgres owns 1 object on the source (table app.admin_notes): role "
          "postgres is a superuser, and only a superuser can act as it; migrator is not one "
          "(connect as a superuser, or use owners: reassign)\n"
          "  - target: shop_owner owns 23 objects on the source (function app.audit(), function "
          "app.total_of(bigint), large object 424242, materialized view app.order_counts, "
          "publication orders_feed and 18 more): migrator must be a member of role shop_owner "
          "(or a superuser, or have CREATEROLE so that mig can grant it the role)\n"
          "  - target: the source has default privileges for role shop_owner: migrator must be a "
          "member of role shop_owner (or a superuser, or have CREATEROLE so that mig can grant "
          "it the role)\n"
          "  - target: role shop_app has settings in the source database (ALTER ROLE ... IN "
          "DATABASE ... SET), which migrator may not set: that needs a superuser or the "
          "CREATEROLE attribute\n"
          "  - target: role shop_audit has settings in the source database (ALTER ROLE ... IN "
          "DATABASE ... SET), which migrator may not set: that needs a superuser or the "
          "CREATEROLE attribute\n");
  EXPECT_TRUE(nothingChanged);
  EXPECT_EQ(targetContents(), "public.precious\n");
}

TEST_F(CopyTest, ATargetUserWithCreateRoleCreatesTheRolesAndJoinsTheOwners) {
  createMigrator("CREATEROLE");
  DriverRun run = copy({}, "", nullptr, "migrator");
  EXPECT_EQ(run.exitCode, 0) << run.err;
  EXPECT_EQ(withoutTiming(run.out),
            std::string(kDbaNote) + kNoPasswordNotes + "copied: " + kRolesReport +
                ", shop_owner to migrator; dropped schema public; created schema public as a new "
                "database has it; loaded in N s, in one transaction\n");
  DriverRun same = compare();
  EXPECT_EQ(same.exitCode, 0) << same.out;
}

TEST_F(CopyTest, RolesRequireNamesTheMissingRoles) {
  sql(target(), "postgres", "CREATE ROLE shop_ro; CREATE ROLE shop_rw;");
  bool nothingChanged = false;
  DriverRun run = copy({"--roles", "require"}, "", &nothingChanged);
  EXPECT_EQ(run.exitCode, 1);
  EXPECT_EQ(run.err, "postgres-copy: cannot copy " + url(source()) + " into " + url(target()) +
                         "; nothing was changed:\n"
                         "  - target: role shop_app does not exist (roles: require); the "
                         "database needs it\n"
                         "  - target: role shop_audit does not exist (roles: require); the "
                         "database needs it\n"
                         "  - target: role shop_owner does not exist (roles: require); the "
                         "database needs it\n");
  EXPECT_TRUE(nothingChanged);
}

TEST_F(CopyTest, OwnersReassignGivesEveryObjectToOneRole) {
  sql(target(), "postgres",
      "CREATE ROLE platform_owner; GRANT CREATE ON DATABASE shop TO platform_owner;");
  DriverRun run = copy({"--owners", "reassign", "--owner", "platform_owner"});
  EXPECT_EQ(run.exitCode, 0) << run.err;
  EXPECT_EQ(sql(target(), "shop",
                "SELECT string_agg(DISTINCT pg_get_userbyid(relowner), ',') FROM pg_class c JOIN "
                "pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'app';"
                "SELECT pg_get_userbyid(lomowner) FROM pg_largeobject_metadata;"),
            "platform_owner\nplatform_owner\n");
  // The application's privileges are there all the same.
  EXPECT_EQ(sql(target(), "shop",
                "SELECT has_table_privilege('shop_ro', 'app.orders', 'SELECT'), "
                "has_function_privilege('shop_rw', 'app.total_of(bigint)', 'EXECUTE');"),
            "t|t\n");
  DriverRun ignoring = compare({"--owners", "ignore"});
  EXPECT_EQ(ignoring.exitCode, 0) << ignoring.out;
  DriverRun strict = compare();
  EXPECT_EQ(strict.exitCode, 1);
  EXPECT_NE(strict.out.find("table app.orders: owner shop_owner in a, platform_owner in b\n"),
            std::string::npos)
      << strict.out;
}

TEST_F(CopyTest, PasswordsTrueLetsTheApplicationLogInWithItsPassword) {
  sql(source(), "postgres", std::string("ALTER ROLE shop_app PASSWORD '") + kAppPassword + "';");
  DriverRun run = copy({"--passwords", "true"});
  EXPECT_EQ(run.exitCode, 0) << run.err;
  EXPECT_EQ(withoutTiming(run.out),
            std::string(kDbaNote) +
                "note: role shop_owner is created without a password (passwords: true copies it)\n"
                "copied: " +
                kRolesReport +
                "; dropped schema public; created schema public as a new database has it; loaded "
                "in N s, in one transaction\n");
  // shop_app logs in over TCP with its password (from the PGPASSFILE), and
  // reads what shop_rw may read.
  mig::drivers::SubprocessRequest login;
  login.argv = {"psql",
                "--no-psqlrc",
                "--no-password",
                "--tuples-only",
                "--no-align",
                "--dbname=" + url(target(), "shop_app"),
                "--command=SELECT count(*) FROM app.lines"};
  login.env = {{"PGPASSFILE", clusters->pgpass}};
  login.unsetEnv = {"PGPASSWORD"};
  login.timeout = std::chrono::seconds(30);
  auto result = mig::drivers::runSubprocess(login);
  EXPECT_EQ(result.exitCode, 0) << result.err;
  EXPECT_EQ(result.out, "900\n");
}

TEST_F(CopyTest, ASourceUserThatCannotReadEverythingFailsBeforeTouchingTheTarget) {
  sql(source(), "shop",
      std::string("CREATE ROLE reader LOGIN PASSWORD '") + kReaderPassword +
          "'; GRANT CONNECT ON DATABASE shop TO reader; GRANT USAGE ON SCHEMA app TO reader; "
          "GRANT SELECT ON ALL TABLES IN SCHEMA app TO reader; GRANT SELECT ON ALL SEQUENCES IN "
          "SCHEMA app TO reader; REVOKE SELECT ON app.lines FROM reader;");
  std::vector<std::string> args = {"postgres-copy", "--from", url(source(), "reader"), "--to",
                                   url(target())};
  bool nothingChanged = false;
  DriverRun run = runDriver(args, "", &nothingChanged);
  EXPECT_EQ(run.exitCode, 1);
  EXPECT_EQ(run.err,
            "postgres-copy: cannot copy " + url(source(), "reader") + " into " + url(target()) +
                "; nothing was changed:\n"
                "  - source: reader cannot read (no SELECT privilege): table app.lines\n"
                "  - source: row level security would hide rows of app.secrets from reader: "
                "pg_dump needs a superuser, the BYPASSRLS attribute, or (unless FORCE ROW LEVEL "
                "SECURITY) the tables' owner\n"
                "  - source: reader cannot read 1 large object: 424242\n");
  EXPECT_TRUE(nothingChanged);
}

TEST_F(CopyTest, PasswordsFromASourceUserThatCannotReadThemIsAProblemNamedWithTheOthers) {
  sql(source(), "shop",
      std::string("CREATE ROLE reader LOGIN PASSWORD '") + kReaderPassword +
          "'; GRANT CONNECT ON DATABASE shop TO reader;");
  std::vector<std::string> args = {"postgres-copy", "--from",      url(source(), "reader"),
                                   "--to",          url(target()), "--passwords",
                                   "true"};
  bool nothingChanged = false;
  DriverRun run = runDriver(args, "", &nothingChanged);
  EXPECT_EQ(run.exitCode, 1);
  EXPECT_NE(run.err.find("\n  - source: passwords: true needs the source's password hashes, "
                         "which only a superuser can read (pg_authid), not reader\n"),
            std::string::npos)
      << run.err;
  EXPECT_NE(run.err.find("\n  - source: reader cannot read (no SELECT privilege): "),
            std::string::npos)
      << run.err;
  EXPECT_TRUE(nothingChanged);
}

TEST_F(CopyTest, RestoreOfADumpIntoAnotherDatabaseEqualsTheSource) {
  ASSERT_EQ(copy().exitCode, 0);  // the roles, on the target
  std::string archive = dumpSource();
  // Another name: the database's own settings, comment and privileges are
  // renamed on the way.
  ASSERT_TRUE(target().createDatabase("Shop Restored", &error_)) << error_;
  std::string restored =
      "postgresql://postgres@127.0.0.1:" + std::to_string(target().port()) + "/Shop%20Restored";

  DriverRun run = runDriver({"postgres-restore", "--file", archive, "--to", restored});
  EXPECT_EQ(run.exitCode, 0) << run.err;
  EXPECT_EQ(withoutTiming(run.out),
            "restored: dropped schema public; created schema public as a new database has it; "
            "loaded in N s, in one transaction\n");
  DriverRun same = runDriver({"postgres-compare", "--a", url(source()), "--b", restored});
  EXPECT_EQ(same.exitCode, 0) << same.out;
  EXPECT_EQ(sql(target(), "Shop Restored",
                "SELECT shobj_description(oid, 'pg_database'), has_database_privilege('shop_ro', "
                "oid, 'CONNECT') FROM pg_database WHERE datname = current_database();"),
            "the shop|t\n");
}

TEST_F(CopyTest, RestoreWithOwnersReassignGivesEveryObjectToTheTargetsUser) {
  // The grantees must exist all the same: a copy into another database
  // creates them.
  ASSERT_TRUE(target().createDatabase("scratch", &error_)) << error_;
  ASSERT_EQ(runDriver({"postgres-copy", "--from", url(source()), "--to",
                       url(target(), "postgres", "scratch")})
                .exitCode,
            0);
  std::string archive = dumpSource();
  DriverRun run = runDriver(
      {"postgres-restore", "--file", archive, "--to", url(target()), "--owners", "reassign"});
  EXPECT_EQ(run.exitCode, 0) << run.err;
  EXPECT_EQ(sql(target(), "shop",
                "SELECT string_agg(DISTINCT pg_get_userbyid(c.relowner), ',') FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'app';"
                "SELECT has_table_privilege('shop_ro', 'app.orders', 'SELECT');"),
            "postgres\nt\n");
  DriverRun ignoring = compare({"--owners", "ignore"});
  EXPECT_EQ(ignoring.exitCode, 0) << ignoring.out;
}

TEST_F(CopyTest, RestoreNamesTheRolesTheArchiveNeedsAndAnUnreadableArchive) {
  std::string archive = dumpSource();
  bool nothingChanged = false;
  DriverRun run = runDriver({"postgres-restore", "--file", archive, "--to", url(target())}, "",
                            &nothingChanged);
  EXPECT_EQ(run.exitCode, 1);
  std::string hint =
      " (an archive holds no role definitions: create the roles first, or copy "
      "from the live database)\n";
  EXPECT_EQ(run.err, "postgres-restore: cannot restore " + archive + " into " + url(target()) +
                         "; nothing was changed:\n"
                         "  - target: role shop_owner does not exist; the archive's objects are "
                         "owned by it" +
                         hint +
                         "  - target: role shop_audit does not exist; the archive grants it "
                         "privileges" +
                         hint +
                         "  - target: role shop_ro does not exist; the archive grants it "
                         "privileges" +
                         hint +
                         "  - target: role shop_rw does not exist; the archive grants it "
                         "privileges" +
                         hint +
                         "  - target: role shop_app does not exist; it has settings in the "
                         "database" +
                         hint);
  EXPECT_TRUE(nothingChanged);

  std::string garbage = clusters->write("garbage.dump", "not an archive");
  DriverRun bad = runDriver({"postgres-restore", "--file", garbage, "--to", url(target())});
  EXPECT_EQ(bad.exitCode, 1);
  EXPECT_EQ(
      bad.err,
      "postgres-restore: cannot restore " + garbage + " into " + url(target()) +
          "; nothing was changed:\n  - cannot read the archive " + garbage +
          ": pg_restore: error: input file does not appear to be a valid archive (too short?)\n");
}

// ---------------------------------------------------------------------------
// One difference at a time: compare names it in one line, and passes again
// once it is undone.

struct Tamper {
  std::string name;
  std::string change;  ///< SQL run on the target's copy
  std::string undo;    ///< SQL that puts it back
  std::string line;    ///< what compare must say
};

void PrintTo(const Tamper& tamper, std::ostream* out) {
  *out << tamper.name;
}

class CompareTamperTest : public CopyTest, public ::testing::WithParamInterface<Tamper> {};

TEST_P(CompareTamperTest, NamesTheDifferenceAndPassesOnceItIsUndone) {
  ASSERT_EQ(copy().exitCode, 0);
  ASSERT_EQ(compare().exitCode, 0);
  sql(target(), "shop", GetParam().change);
  DriverRun changed = compare();
  EXPECT_EQ(changed.exitCode, 1);
  std::string lines = changed.out.substr(0, changed.out.rfind('\n', changed.out.size() - 2) + 1);
  EXPECT_EQ(lines, GetParam().line + "\n") << changed.out;
  sql(target(), "shop", GetParam().undo);
  DriverRun undone = compare();
  EXPECT_EQ(undone.exitCode, 0) << undone.out;
}

INSTANTIATE_TEST_SUITE_P(
    EveryKind, CompareTamperTest,
    ::testing::Values(
        Tamper{"DisabledTrigger", "ALTER TABLE app.orders DISABLE TRIGGER audit_trg;",
               "ALTER TABLE app.orders ENABLE TRIGGER audit_trg;",
               "trigger audit_trg on app.orders: enabled in a, disabled in b"},
        Tamper{"DroppedTrigger", "DROP TRIGGER audit_trg ON app.orders;",
               "CREATE TRIGGER audit_trg BEFORE INSERT ON app.orders FOR EACH ROW EXECUTE "
               "FUNCTION app.audit();",
               "trigger audit_trg on app.orders only in a"},
        Tamper{"ChangedFunctionBody",
               "CREATE OR REPLACE FUNCTION app.total_of(bigint) RETURNS numeric LANGUAGE sql "
               "STABLE AS 'SELECT sum(qty) + 1 FROM app.lines WHERE order_id = $1';",
               "CREATE OR REPLACE FUNCTION app.total_of(bigint) RETURNS numeric LANGUAGE sql "
               "STABLE AS 'SELECT sum(qty) FROM app.lines WHERE order_id = $1';",
               "function app.total_of(bigint): definition differs at character 114: '...ion$SELECT "
               "sum(qty) FROM app.lines WHERE order_id ...' in a, '...ion$SELECT sum(qty) + 1 "
               "FROM app.lines WHERE order...' in b"},
        Tamper{"ChangedView",
               "CREATE OR REPLACE VIEW app.open_orders AS SELECT id, status FROM app.orders "
               "WHERE status = 'new';",
               "CREATE OR REPLACE VIEW app.open_orders AS SELECT id, status FROM app.orders "
               "WHERE status <> 'shipped';",
               "view app.open_orders: definition differs at character 70: '...HERE (orders.status "
               "<> 'shipped'::app.status);' in a, '...HERE (orders.status = 'new'::app.status);' "
               "in b"},
        Tamper{"DroppedPolicy", "DROP POLICY tenant_only ON app.secrets;",
               "CREATE POLICY tenant_only ON app.secrets FOR SELECT TO shop_ro USING (tenant = "
               "current_user);",
               "policy tenant_only on app.secrets only in a"},
        Tamper{"RlsDisabled", "ALTER TABLE app.secrets DISABLE ROW LEVEL SECURITY;",
               "ALTER TABLE app.secrets ENABLE ROW LEVEL SECURITY;",
               "table app.secrets: row level security enabled in a, disabled in b"},
        Tamper{"RevokedGrant", "REVOKE SELECT ON app.orders FROM shop_ro;",
               "GRANT SELECT ON app.orders TO shop_ro;",
               "table app.orders: privileges of shop_ro: SELECT in a, none in b"},
        Tamper{"PublicExecuteGranted", "GRANT EXECUTE ON FUNCTION app.total_of(bigint) TO PUBLIC;",
               "REVOKE EXECUTE ON FUNCTION app.total_of(bigint) FROM PUBLIC;",
               "function app.total_of(bigint): privileges of PUBLIC: none in a, EXECUTE in b"},
        Tamper{"ColumnGrant", "GRANT SELECT (body) ON app.secrets TO shop_audit;",
               "REVOKE SELECT (body) ON app.secrets FROM shop_audit;",
               "table column app.secrets.body: privileges of shop_audit: none in a, SELECT in b"},
        Tamper{"ChangedColumnType", "ALTER TABLE app.lines ALTER COLUMN qty TYPE bigint;",
               "ALTER TABLE app.lines ALTER COLUMN qty TYPE integer;",
               "table column app.lines.qty: type integer in a, bigint in b"},
        Tamper{"ChangedDefault", "ALTER TABLE app.orders ALTER COLUMN status SET DEFAULT 'paid';",
               "ALTER TABLE app.orders ALTER COLUMN status SET DEFAULT 'new';",
               "table column app.orders.status: default ''new'::app.status' in a, "
               "''paid'::app.status' in b"},
        Tamper{"DroppedNotNull", "ALTER TABLE app.lines ALTER COLUMN qty DROP NOT NULL;",
               "ALTER TABLE app.lines ALTER COLUMN qty SET NOT NULL;",
               "table column app.lines.qty: NOT NULL in a, nullable in b"},
        Tamper{"DroppedCheck", "ALTER TABLE app.lines DROP CONSTRAINT lines_n_check;",
               "ALTER TABLE app.lines ADD CONSTRAINT lines_n_check CHECK (n > 0);",
               "table constraint lines_n_check on app.lines only in a"},
        Tamper{"DroppedDomainConstraint",
               "ALTER DOMAIN app.positive DROP CONSTRAINT positive_check;",
               "ALTER DOMAIN app.positive ADD CONSTRAINT positive_check CHECK (VALUE > 0);",
               "domain constraint positive_check on app.positive only in a"},
        Tamper{"UnpopulatedMaterializedView",
               "REFRESH MATERIALIZED VIEW app.order_counts WITH NO DATA;",
               "REFRESH MATERIALIZED VIEW app.order_counts;",
               "materialized view app.order_counts: populated yes in a, no in b\n"
               "materialized view app.order_counts: rows 3 in a, none in b"},
        Tamper{"DroppedForeignKey", "ALTER TABLE app.lines DROP CONSTRAINT lines_order_id_fkey;",
               "ALTER TABLE app.lines ADD CONSTRAINT lines_order_id_fkey FOREIGN KEY (order_id) "
               "REFERENCES app.orders ON DELETE CASCADE;",
               "table constraint lines_order_id_fkey on app.lines only in a"},
        Tamper{"ChangedCollation", "ALTER TABLE app.orders ALTER COLUMN note TYPE text;",
               "ALTER TABLE app.orders ALTER COLUMN note TYPE text COLLATE \"C\";",
               "table column app.orders.note: collation \"C\" in a, none in b"},
        Tamper{"AddedEnumLabel", "ALTER TYPE app.status ADD VALUE 'lost';",
               "DELETE FROM pg_enum WHERE enumlabel = 'lost';",
               "type app.status: labels 'new', 'paid', 'shipped' in a, 'new', 'paid', 'shipped', "
               "'lost' in b"},
        Tamper{"ChangedLargeObject", "SELECT lo_put(424242, 0, 'L');",
               "SELECT lo_put(424242, 0, 'l');",
               "large object 424242: contents 625993aee1aa6e2ea8975f63ae587993 in a, "
               "3b65340eb9a4652a64e45c9505b9ba92 in b"},
        Tamper{"LargeObjectAcl", "REVOKE SELECT ON LARGE OBJECT 424242 FROM shop_ro;",
               "GRANT SELECT ON LARGE OBJECT 424242 TO shop_ro;",
               "large object 424242: privileges of shop_ro: SELECT in a, none in b"},
        Tamper{"ChangedRow", "UPDATE app.events SET payload = '{}' WHERE id = 5;",
               "UPDATE app.events SET payload = '{\"g\": 5}' WHERE id = 5;",
               "table app.events: same row count, different contents (checksum)"},
        Tamper{"DeletedRow", "DELETE FROM app.lines WHERE order_id = 7 AND n = 3;",
               "INSERT INTO app.lines VALUES (7, 3, 6);",
               "table app.lines: 900 rows in a, 899 in b"},
        Tamper{"SequenceValue", "SELECT setval('app.invoice_no', 5000);",
               "SELECT setval('app.invoice_no', 1000);",
               "sequence app.invoice_no: last value 1000 in a, 5000 in b"},
        Tamper{"SequenceIsCalled", "SELECT setval('app.invoice_no', 1000, false);",
               "SELECT setval('app.invoice_no', 1000, true);",
               "sequence app.invoice_no: is_called true in a, false in b"},
        Tamper{"SequenceIncrement", "ALTER SEQUENCE app.invoice_no INCREMENT 7;",
               "ALTER SEQUENCE app.invoice_no INCREMENT 5;",
               "sequence app.invoice_no: definition differs at character 31: '...art 1000, "
               "increment 5, minimum 1, maximum 92233720...' in a, '...art 1000, increment 7, "
               "minimum 1, maximum 92233720...' in b"},
        Tamper{"Owner", "ALTER TABLE app.lines OWNER TO postgres;",
               "ALTER TABLE app.lines OWNER TO shop_owner;",
               "table app.lines: owner shop_owner in a, postgres in b"},
        Tamper{"Comment", "COMMENT ON COLUMN app.orders.total IS 'in dollars';",
               "COMMENT ON COLUMN app.orders.total IS 'in euros';",
               "table column app.orders.total: comment 'in euros' in a, 'in dollars' in b"},
        Tamper{"DatabaseSetting", "ALTER DATABASE shop SET search_path = public;",
               "ALTER DATABASE shop SET search_path = app, public;",
               "the database: setting search_path: 'app, public' in a, 'public' in b"},
        Tamper{"RoleSettingInDatabase", "ALTER ROLE shop_app IN DATABASE shop RESET ALL;",
               "ALTER ROLE shop_app IN DATABASE shop SET statement_timeout = '5s';",
               "the database: setting statement_timeout for role shop_app: '5s' in a, none in b"},
        Tamper{"PublicSchemaComment", "COMMENT ON SCHEMA public IS NULL;",
               "COMMENT ON SCHEMA public IS 'public, but ours';",
               "schema public: comment 'public, but ours' in a, none in b"},
        Tamper{"DroppedIndex", "DROP INDEX app.orders_status_idx;",
               "CREATE INDEX orders_status_idx ON app.orders (status);",
               "index app.orders_status_idx only in a"},
        Tamper{"Publication", "DROP PUBLICATION orders_feed;",
               "CREATE PUBLICATION orders_feed FOR TABLE app.orders; ALTER PUBLICATION orders_feed "
               "OWNER TO shop_owner;",
               "publication orders_feed only in a"},
        Tamper{"Extension", "CREATE EXTENSION pgcrypto;", "DROP EXTENSION pgcrypto;",
               "extension pgcrypto only in b"},
        Tamper{"DefaultPrivileges",
               "ALTER DEFAULT PRIVILEGES FOR ROLE shop_owner IN SCHEMA app REVOKE SELECT ON "
               "TABLES FROM shop_ro;",
               "ALTER DEFAULT PRIVILEGES FOR ROLE shop_owner IN SCHEMA app GRANT SELECT ON "
               "TABLES TO shop_ro;",
               "default privileges for role shop_owner in schema app on tables only in a"}),
    [](const ::testing::TestParamInfo<Tamper>& info) { return info.param.name; });

}  // namespace
