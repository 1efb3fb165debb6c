// mysql-copy, mysql-dump, mysql-restore, mysql-wipe, mysql-inventory and
// mysql-analyze against real MariaDB servers, run as the real `mig` binary
// with the passwords in an option file, as the stdlib runs them.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>

#include "tests/mysql_servers.h"

namespace {

namespace fs = std::filesystem;
using namespace mig::testing;

MysqlServers* const servers =
    static_cast<MysqlServers*>(::testing::AddGlobalTestEnvironment(new MysqlServers()));

/// A shop database with what a copy gets wrong first: utf8mb4 text,
/// binary values with NUL and quote bytes, DECIMAL(65,30), a zero date
/// (allowed by the table's sql_mode), NULL next to the string 'NULL', JSON,
/// BIT, a view, a procedure, a function, a trigger and an event.
constexpr const char* kShopSql = R"sql(
SET SESSION sql_mode = '';
CREATE TABLE customers (
  id INT AUTO_INCREMENT PRIMARY KEY,
  name VARCHAR(100) NOT NULL,
  note TEXT NULL,
  created DATE NOT NULL,
  KEY by_name (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
CREATE TABLE payments (
  id INT PRIMARY KEY,
  customer_id INT NOT NULL,
  raw VARBINARY(64),
  big LONGBLOB,
  amount DECIMAL(65,30),
  ratio DOUBLE,
  flags BIT(8),
  details JSON,
  CONSTRAINT payments_customer FOREIGN KEY (customer_id) REFERENCES customers (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE numbers (n BIGINT UNSIGNED PRIMARY KEY, label CHAR(12)) ENGINE=InnoDB;
INSERT INTO customers VALUES
  (1, 'Zoë 🙂 ünïcødé', NULL, '0000-00-00'),
  (2, 'NULL', 'NULL', '2024-02-29'),
  (3, 'quote '' and \\ backslash', 'line\nbreak\ttab', '1999-12-31');
INSERT INTO payments VALUES
  (1, 1, X'00FF0A0D1A5C2722', REPEAT(X'00FF', 5000),
   12345678901234567890123456789012345.123456789012345678901234567890, 1.5e-300, b'10100101',
   '{"a": [1, 2, "ü"]}'),
  (2, 2, '', NULL, -0.000000000000000000000000000001, -0.0, b'0', NULL);
INSERT INTO numbers SELECT seq, CONCAT('n', seq) FROM seq_1_to_20000;
CREATE VIEW big_customers AS SELECT id, name FROM customers WHERE id > 1;
CREATE PROCEDURE add_customer(IN who VARCHAR(100))
  INSERT INTO customers (name, created) VALUES (who, CURRENT_DATE);
CREATE FUNCTION double_it(x INT) RETURNS INT DETERMINISTIC RETURN x * 2;
CREATE TRIGGER customers_note BEFORE INSERT ON customers FOR EACH ROW
  SET NEW.note = IFNULL(NEW.note, 'new');
CREATE EVENT nightly ON SCHEDULE EVERY 1 DAY STARTS '2030-01-01 00:00:00'
  DO DELETE FROM numbers WHERE n = 0;
)sql";

/// Everything a database holds, as text: every row of every table (binary
/// values in hex), the definitions of its views, routines, triggers and
/// events, and its character set. Two databases with the same picture
/// are what the application sees as the same.
std::string picture(const MariaDbServer& server, const std::string& database) {
  std::string error;
  std::string text;
  auto add = [&](const std::string& sql) {
    auto rows = server.sql(database, sql, &error);
    EXPECT_TRUE(rows) << error;
    text += sql + "\n" + rows.value_or("") + "\n";
  };
  add("SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME FROM "
      "information_schema.SCHEMATA WHERE SCHEMA_NAME = DATABASE()");
  add("SELECT id, HEX(name), HEX(note), created FROM customers ORDER BY id");
  add("SELECT id, customer_id, HEX(raw), MD5(big), amount, ratio, flags + 0, details FROM "
      "payments ORDER BY id");
  add("SELECT COUNT(*), SUM(n), MD5(GROUP_CONCAT(label ORDER BY n)) FROM numbers");
  add("SELECT TABLE_NAME, VIEW_DEFINITION, DEFINER, SECURITY_TYPE FROM information_schema.VIEWS "
      "WHERE TABLE_SCHEMA = DATABASE()");
  add("SELECT ROUTINE_NAME, ROUTINE_TYPE, ROUTINE_DEFINITION, DEFINER, SQL_MODE FROM "
      "information_schema.ROUTINES WHERE ROUTINE_SCHEMA = DATABASE() ORDER BY 1");
  add("SELECT TRIGGER_NAME, ACTION_TIMING, EVENT_MANIPULATION, ACTION_STATEMENT, DEFINER, "
      "SQL_MODE FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE()");
  add("SELECT EVENT_NAME, EVENT_DEFINITION, INTERVAL_VALUE, INTERVAL_FIELD, STARTS, STATUS, "
      "DEFINER FROM information_schema.EVENTS WHERE EVENT_SCHEMA = DATABASE()");
  add("SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLLATION_NAME FROM "
      "information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() ORDER BY 1, ORDINAL_POSITION");
  return text;
}

class MysqlDriverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(servers->source) << servers->startError;
    std::string error;
    ASSERT_TRUE(source().sql("", "DROP DATABASE IF EXISTS shop; CREATE DATABASE shop;", &error))
        << error;
    ASSERT_TRUE(source().sql("shop", kShopSql, &error)) << error;
    // The target holds an older, different shop: a copy must replace it.
    ASSERT_TRUE(target().sql("",
                             "DROP DATABASE IF EXISTS shop; CREATE DATABASE shop; "
                             "CREATE TABLE shop.stale (id INT); INSERT INTO shop.stale VALUES (7);",
                             &error))
        << error;
  }

  static MariaDbServer& source() { return *servers->source; }
  static MariaDbServer& target() { return *servers->target; }

  static std::vector<std::string> copyArgs(const std::string& targetDatabase = "shop") {
    std::vector<std::string> args = {"mysql-copy"};
    for (auto& word : endpointArgs("from", source().url("shop"), "source")) args.push_back(word);
    for (auto& word : endpointArgs("to", target().url(targetDatabase), "target")) {
      args.push_back(word);
    }
    return args;
  }

  static std::string query(const MariaDbServer& server, const std::string& sql) {
    std::string error;
    auto out = server.sql("", sql, &error);
    EXPECT_TRUE(out) << error;
    return out.value_or("");
  }
};

TEST_F(MysqlDriverTest, CopyMakesTheTargetEqualRowByRowWithViewsRoutinesTriggersAndEvents) {
  DriverRun run = runMigDriver(copyArgs(), servers->optionFile);
  ASSERT_EQ(run.status, 0) << run.all();
  EXPECT_NE(run.out.find("copied shop into target mysql://root@127.0.0.1:"), std::string::npos)
      << run.out;
  EXPECT_NE(run.out.find("3 tables, 1 view"), std::string::npos) << run.out;
  EXPECT_EQ(picture(target(), "shop"), picture(source(), "shop"));
  EXPECT_EQ(query(target(),
                  "SELECT COUNT(*) FROM information_schema.TABLES WHERE "
                  "TABLE_SCHEMA = 'shop' AND TABLE_NAME = 'stale'"),
            "0\n");
  EXPECT_FALSE(showsAPassword(run.all())) << run.all();

  // The copied routines and trigger work on the target.
  EXPECT_EQ(query(target(),
                  "CALL shop.add_customer('Émile'); SELECT note FROM shop.customers "
                  "WHERE name = 'Émile'; SELECT shop.double_it(21);"),
            "new\n42\n");
}

TEST_F(MysqlDriverTest, CopyCarriesTheApplicationsAccountsWithGrantsOnTheNewDatabaseName) {
  query(source(),
        "CREATE USER 'shop_app'@'10.0.%' IDENTIFIED BY 'app-pass-1';"
        "GRANT SELECT, INSERT, UPDATE ON shop.* TO 'shop_app'@'10.0.%';"
        "GRANT PROCESS ON *.* TO 'shop_app'@'10.0.%';"
        "GRANT EXECUTE ON PROCEDURE shop.add_customer TO 'shop_app'@'10.0.%';"
        "GRANT SELECT ON mysql.* TO 'shop_app'@'10.0.%';"
        "CREATE USER 'shop_app'@'192.168.1.5' IDENTIFIED BY 'app-pass-2';"
        "GRANT SELECT ON shop.customers TO 'shop_app'@'192.168.1.5';");
  std::vector<std::string> args = copyArgs("shop_v2");
  args.insert(args.end(), {"--accounts", "create", "--users", "shop_app"});
  DriverRun run = runMigDriver(args, servers->optionFile);
  ASSERT_EQ(run.status, 0) << run.all();
  EXPECT_NE(run.out.find("accounts created: 'shop_app'@'10.0.%', 'shop_app'@'192.168.1.5'"),
            std::string::npos)
      << run.out;
  EXPECT_NE(run.out.find("not carried: 'shop_app'@'10.0.%': grant on `mysql`.* (another database)"),
            std::string::npos)
      << run.out;
  // The password hash travelled, never the password.
  EXPECT_EQ(query(target(),
                  "SELECT authentication_string FROM mysql.user WHERE User = "
                  "'shop_app' ORDER BY Host"),
            query(source(),
                  "SELECT authentication_string FROM mysql.user WHERE User = "
                  "'shop_app' ORDER BY Host"));
  std::string grants = query(target(), "SHOW GRANTS FOR 'shop_app'@'10.0.%'");
  EXPECT_NE(grants.find("GRANT SELECT, INSERT, UPDATE ON `shop_v2`.* TO `shop_app`@`10.0.%`"),
            std::string::npos)
      << grants;
  EXPECT_NE(grants.find("GRANT PROCESS ON *.* TO `shop_app`@`10.0.%`"), std::string::npos)
      << grants;
  EXPECT_NE(grants.find("GRANT EXECUTE ON PROCEDURE `shop_v2`.`add_customer`"), std::string::npos)
      << grants;
  EXPECT_EQ(grants.find("`mysql`"), std::string::npos) << grants;
  EXPECT_NE(query(target(), "SHOW GRANTS FOR 'shop_app'@'192.168.1.5'")
                .find("GRANT SELECT ON `shop_v2`.`customers`"),
            std::string::npos);

  // Again: the accounts are there now, and kept as they are.
  query(target(), "REVOKE UPDATE ON shop_v2.* FROM 'shop_app'@'10.0.%'");
  run = runMigDriver(args, servers->optionFile);
  ASSERT_EQ(run.status, 0) << run.all();
  EXPECT_NE(run.out.find("account kept as it was on the target: 'shop_app'@'10.0.%'"),
            std::string::npos)
      << run.out;
  EXPECT_EQ(query(target(), "SHOW GRANTS FOR 'shop_app'@'10.0.%'").find("UPDATE ON `shop_v2`"),
            std::string::npos);

  // A user without any account is a misspelt name: nothing is changed.
  args.back() = "shop_ap";
  run = runMigDriver(args, servers->optionFile);
  EXPECT_EQ(run.status, 1) << run.all();
  EXPECT_NE(run.err.find("nothing was changed"), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("user shop_ap has no account on source"), std::string::npos) << run.err;
  query(source(), "DROP USER 'shop_app'@'10.0.%', 'shop_app'@'192.168.1.5'");
  query(target(),
        "DROP USER 'shop_app'@'10.0.%', 'shop_app'@'192.168.1.5'; "
        "DROP DATABASE shop_v2");
}

TEST_F(MysqlDriverTest, AWrongPasswordIsAClearErrorAndShowsNoPassword) {
  DriverRun run = runMigDriver(copyArgs(), servers->wrongOptionFile);
  EXPECT_EQ(run.status, 1) << run.all();
  EXPECT_NE(run.err.find("mysql-copy: cannot copy"), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("nothing was changed"), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("cannot connect to source mysql://root@127.0.0.1:"), std::string::npos)
      << run.err;
  EXPECT_NE(run.err.find("Access denied"), std::string::npos) << run.err;
  EXPECT_FALSE(showsAPassword(run.all())) << run.all();
  EXPECT_EQ(query(target(), "SELECT id FROM shop.stale"), "7\n");
}

TEST_F(MysqlDriverTest, ASourceItCannotReadLeavesTheTargetAsItWas) {
  // A user who may read every table but one.
  query(source(),
        "CREATE USER 'partial'@'127.0.0.1' IDENTIFIED BY 'partial-pass-9';"
        "GRANT SELECT ON shop.customers TO 'partial'@'127.0.0.1';"
        "GRANT SELECT ON shop.numbers TO 'partial'@'127.0.0.1';"
        "GRANT SHOW VIEW, TRIGGER, EVENT ON shop.* TO 'partial'@'127.0.0.1';");
  std::string optionFile = servers->folder + "/partial.cnf";
  std::string error;
  ASSERT_TRUE(
      writePrivateFile(optionFile,
                       "[client-source]\npassword=partial-pass-9\n[client-target]\npassword=" +
                           mig::runtime::optionFileValue(kTargetRootPassword) + "\n",
                       error))
      << error;
  std::vector<std::string> args = {"mysql-copy"};
  std::string url = "mysql://partial@127.0.0.1:" + std::to_string(source().port()) + "/shop";
  for (auto& word : endpointArgs("from", url, "source")) args.push_back(word);
  for (auto& word : endpointArgs("to", target().url("shop"), "target")) args.push_back(word);
  DriverRun run = runMigDriver(args, optionFile);
  EXPECT_EQ(run.status, 1) << run.all();
  EXPECT_NE(run.err.find("nothing was changed"), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("reading table payments failed"), std::string::npos) << run.err;
  EXPECT_EQ(query(target(), "SELECT id FROM shop.stale"), "7\n");
  query(source(), "DROP USER 'partial'@'127.0.0.1'");
}

TEST_F(MysqlDriverTest, ALoadThatFailsHalfWayLeavesTheTargetEmptyNotHalfLoaded) {
  // The target refuses rows bigger than 1 MB; the source has one.
  query(source(),
        "INSERT INTO shop.payments (id, customer_id, big) VALUES "
        "(3, 3, REPEAT('x', 3000000))");
  query(target(), "SET GLOBAL max_allowed_packet = 1048576");
  DriverRun run = runMigDriver(copyArgs(), servers->optionFile);
  query(target(), "SET GLOBAL max_allowed_packet = 16777216");
  EXPECT_EQ(run.status, 1) << run.all();
  EXPECT_NE(run.err.find("the target database was emptied again"), std::string::npos) << run.err;
  EXPECT_EQ(query(target(),
                  "SELECT COUNT(*) FROM information_schema.TABLES WHERE "
                  "TABLE_SCHEMA = 'shop'"),
            "0\n");
}

TEST_F(MysqlDriverTest, DumpThenRestoreGivesTheSameDatabase) {
  std::string file = servers->folder + "/shop.sql";
  fs::remove(file);
  std::vector<std::string> dump = {"mysql-dump"};
  for (auto& word : endpointArgs("db", source().url("shop"), "source")) dump.push_back(word);
  dump.insert(dump.end(), {"--file", file});
  DriverRun dumped = runMigDriver(dump, servers->optionFile);
  ASSERT_EQ(dumped.status, 0) << dumped.all();
  EXPECT_TRUE(fs::exists(file));
  EXPECT_FALSE(fs::exists(file + ".partial"));

  std::vector<std::string> restore = {"mysql-restore"};
  for (auto& word : endpointArgs("db", target().url("shop"), "target")) restore.push_back(word);
  restore.insert(restore.end(), {"--file", file});
  DriverRun restored = runMigDriver(restore, servers->optionFile);
  ASSERT_EQ(restored.status, 0) << restored.all();
  EXPECT_EQ(picture(target(), "shop"), picture(source(), "shop"));

  // A file that is no dump, or a dump of several databases, is refused
  // before the target is touched.
  query(target(), "CREATE TABLE shop.marker (id INT)");
  std::string notADump = servers->folder + "/notes.sql";
  std::ofstream(notADump) << "DROP TABLE customers;\n";
  restore.back() = notADump;
  DriverRun refused = runMigDriver(restore, servers->optionFile);
  EXPECT_EQ(refused.status, 1) << refused.all();
  EXPECT_NE(refused.err.find("does not start like a mysqldump file"), std::string::npos)
      << refused.err;
  std::string several = servers->folder + "/all.sql";
  std::ofstream(several) << "-- MariaDB dump 10.19\n--\nCREATE DATABASE other;\nUSE `other`;\n";
  restore.back() = several;
  refused = runMigDriver(restore, servers->optionFile);
  EXPECT_EQ(refused.status, 1) << refused.all();
  EXPECT_NE(refused.err.find("all.sql:3 switches to a database of its own"), std::string::npos)
      << refused.err;
  EXPECT_EQ(query(target(),
                  "SELECT COUNT(*) FROM information_schema.TABLES WHERE "
                  "TABLE_SCHEMA = 'shop' AND TABLE_NAME = 'marker'"),
            "1\n");

  // A dump that fails leaves no file.
  std::string missing = servers->folder + "/missing.sql";
  dump = {"mysql-dump"};
  for (auto& word : endpointArgs("db", source().url("no_such_db"), "source")) dump.push_back(word);
  dump.insert(dump.end(), {"--file", missing});
  DriverRun failed = runMigDriver(dump, servers->optionFile);
  EXPECT_EQ(failed.status, 1) << failed.all();
  EXPECT_FALSE(fs::exists(missing));
  EXPECT_FALSE(fs::exists(missing + ".partial"));
}

TEST_F(MysqlDriverTest, WipeEmptiesTheDatabaseAndKeepsItsCollation) {
  query(target(), "ALTER DATABASE shop CHARACTER SET latin1 COLLATE latin1_swedish_ci");
  std::vector<std::string> wipe = {"mysql-wipe"};
  for (auto& word : endpointArgs("db", target().url("shop"), "target")) wipe.push_back(word);
  DriverRun run = runMigDriver(wipe, servers->optionFile);
  ASSERT_EQ(run.status, 0) << run.all();
  EXPECT_EQ(query(target(),
                  "SELECT COUNT(*) FROM information_schema.TABLES WHERE "
                  "TABLE_SCHEMA = 'shop'"),
            "0\n");
  EXPECT_EQ(query(target(),
                  "SELECT DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA "
                  "WHERE SCHEMA_NAME = 'shop'"),
            "latin1_swedish_ci\n");
  // Twice is fine; the server's own databases are never wiped.
  EXPECT_EQ(runMigDriver(wipe, servers->optionFile).status, 0);
  wipe = {"mysql-wipe"};
  for (auto& word : endpointArgs("db", target().url("mysql"), "target")) wipe.push_back(word);
  run = runMigDriver(wipe, servers->optionFile);
  EXPECT_EQ(run.status, 1);
  EXPECT_NE(run.err.find("the server's own database mysql"), std::string::npos) << run.err;
  EXPECT_NE(query(target(), "SELECT COUNT(*) FROM mysql.user"), "0\n");
}

TEST_F(MysqlDriverTest, InventoryAndAnalyzeReportTheDatabase) {
  std::vector<std::string> inventory = {"mysql-inventory"};
  for (auto& word : endpointArgs("db", source().url("shop"), "source")) inventory.push_back(word);
  DriverRun run = runMigDriver(inventory, servers->optionFile);
  ASSERT_EQ(run.status, 0) << run.all();
  EXPECT_NE(run.out.find("MariaDB"), std::string::npos) << run.out;
  EXPECT_TRUE(std::regex_search(run.out, std::regex("\n  numbers\tBASE TABLE\tInnoDB\t")))
      << run.out;
  EXPECT_NE(run.out.find("\n  PROCEDURE\tadd_customer\n"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("\n  EVENT\tnightly\n"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("\n  root\t127.0.0.1\tmysql_native_password\n"), std::string::npos)
      << run.out;
  EXPECT_NE(run.out.find("\n  shop\tlatin1\tlatin1_swedish_ci\t4\t"), std::string::npos) << run.out;

  std::vector<std::string> analyze = {"mysql-analyze"};
  for (auto& word : endpointArgs("db", source().url("shop"), "source")) analyze.push_back(word);
  run = runMigDriver(analyze, servers->optionFile);
  ASSERT_EQ(run.status, 0) << run.all();
  EXPECT_NE(run.out.find("analyzed 3 tables of database mysql://root@127.0.0.1:"),
            std::string::npos)
      << run.out;
}

}  // namespace
