// mysql-compare against two real MariaDB servers: the same shop built as
// `shop` on the source and as `shop_copy` on the target (text in four
// character sets' worth of utf8mb4, binary values with \0 and 0xFF,
// DECIMAL(65,30), a zero date, NULLs beside 'NULL' strings, a view, a
// procedure, a function, a trigger, an event, accounts with grants) compares
// identical; each single change on the target is then named in exactly one
// line, and undone before the next.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/mysql_servers.h"

namespace {

using namespace mig::testing;

MysqlServers* const servers =
    static_cast<MysqlServers*>(::testing::AddGlobalTestEnvironment(new MysqlServers()));

/// The shop, in database `db`; the rows of table log in reverse order when
/// `reversed` (a table without a key: the checksum ignores row order).
std::string shopSql(const std::string& db, bool reversed) {
  std::string log;
  for (int i = 1; i <= 5; ++i) {
    int n = reversed ? 6 - i : i;
    log += "INSERT INTO log VALUES ('2024-05-0" + std::to_string(n) + " 08:00:00', 'entry " +
           std::to_string(n) + "');\n";
  }
  std::string sql = R"SQL(
DROP DATABASE IF EXISTS $DB;
DROP USER IF EXISTS 'app'@'%', 'app'@'10.0.%', 'report'@'%';
CREATE DATABASE $DB CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci;
USE $DB;
CREATE TABLE customers (
  id INT PRIMARY KEY AUTO_INCREMENT,
  name VARCHAR(100) NOT NULL COMMENT 'as printed on invoices',
  note VARCHAR(20) NULL,
  photo BLOB,
  born DATE,
  created TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
  UNIQUE KEY uq_name (name(50)),
  CONSTRAINT named CHECK (CHAR_LENGTH(name) > 0)
) ENGINE=InnoDB;
CREATE TABLE orders (
  id INT PRIMARY KEY AUTO_INCREMENT,
  customer_id INT NOT NULL,
  total DECIMAL(65,30) NOT NULL,
  label VARCHAR(100),
  token VARBINARY(16),
  price FLOAT,
  ratio DOUBLE,
  attrs JSON,
  flags BIT(8),
  placed DATE,
  KEY idx_placed (placed, label(10)),
  CONSTRAINT fk_customer FOREIGN KEY (customer_id) REFERENCES customers (id) ON DELETE CASCADE
);
CREATE TABLE numbers (n INT PRIMARY KEY, word CHAR(32) CHARACTER SET latin1);
CREATE TABLE log (at DATETIME, message TEXT);

SET SESSION sql_mode = '';
INSERT INTO customers VALUES
  (1, 'Zoë 😀 Ümlaut', 'NULL', x'00FF00FF27', '0000-00-00', '2024-01-01 10:00:00'),
  (2, 'Bob', NULL, NULL, NULL, '2024-01-02 11:00:00'),
  (3, 'Ann', 'vip', x'', '1999-12-31', '2024-01-03 12:00:00');
SET SESSION sql_mode = DEFAULT;
INSERT INTO orders VALUES
  (1, 1, 12345678901234567890123456789012345.123456789012345678901234567890, 'first', x'00FF',
   1.1, 0.1, '{"gift": true}', b'10100101', '2024-02-29'),
  (2, 1, -0.000000000000000000000000000001, NULL, NULL, -3.4e38, 1e308, NULL, b'0', NULL),
  (3, 2, 0, 'NULL', x'FF', 0, -0, '[]', b'11111111', '2024-03-01'),
  (4, 3, 99.99, 'x,y', x'2C', NULL, NULL, '{}', NULL, NULL);
INSERT INTO numbers SELECT seq, MD5(seq) FROM seq_1_to_5000;
$LOG
CREATE VIEW order_totals AS
  SELECT c.name, SUM(o.total) AS total FROM $DB.customers c JOIN orders o ON o.customer_id = c.id
  GROUP BY c.name;
CREATE PROCEDURE add_order(IN p_customer INT, IN p_total DECIMAL(10,2))
  MODIFIES SQL DATA INSERT INTO orders (customer_id, total) VALUES (p_customer, p_total);
CREATE FUNCTION with_tax(amount DECIMAL(10,2)) RETURNS DECIMAL(10,2) DETERMINISTIC
  RETURN amount * 1.2;
CREATE TRIGGER orders_label BEFORE INSERT ON orders FOR EACH ROW
  SET NEW.label = COALESCE(NEW.label, 'new');
CREATE EVENT purge_notes ON SCHEDULE EVERY 1 DAY STARTS '2030-01-01 00:00:00'
  DO DELETE FROM customers WHERE note = 'purge';

CREATE USER 'app'@'%' IDENTIFIED BY 'app-Pa55';
CREATE USER 'app'@'10.0.%' IDENTIFIED BY 'app-Pa55';
CREATE USER 'report'@'%' IDENTIFIED BY 'report-Pa55';
GRANT SELECT, INSERT, UPDATE ON $DB.* TO 'app'@'%';
GRANT EXECUTE ON PROCEDURE $DB.add_order TO 'app'@'%';
GRANT SELECT ON $DB.orders TO 'app'@'10.0.%';
GRANT SELECT ON $DB.order_totals TO 'report'@'%';
)SQL";
  for (const auto& [placeholder, value] : {std::pair<std::string, std::string>{"$DB", db},
                                           std::pair<std::string, std::string>{"$LOG", log}}) {
    for (size_t at = sql.find(placeholder); at != std::string::npos; at = sql.find(placeholder)) {
      sql.replace(at, placeholder.size(), value);
    }
  }
  return sql;
}

constexpr const char* kSummary =
    "4 tables, 5,012 rows, 1 view, 2 routines, 1 trigger, 1 event, 3 accounts";

class MysqlCompareTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(servers->source && servers->target) << servers->startError;
    std::string error;
    ASSERT_TRUE(servers->source->sql("", shopSql("shop", false), &error)) << error;
    ASSERT_TRUE(servers->target->sql("", shopSql("shop_copy", true), &error)) << error;
  }

  /// mysql-compare of source shop (a) with target shop_copy (b).
  static DriverRun compare(const std::string& rows = "compare",
                           const std::string& optionFile = servers->optionFile) {
    std::vector<std::string> args = {"mysql-compare"};
    for (const std::string& word : endpointArgs("a", servers->source->url("shop"), "source")) {
      args.push_back(word);
    }
    for (const std::string& word : endpointArgs("b", servers->target->url("shop_copy"), "target")) {
      args.push_back(word);
    }
    args.insert(args.end(), {"--rows", rows, "--users", "app,report"});
    return runMigDriver(args, optionFile);
  }

  /// Runs `statements` on the target's shop_copy.
  static void onTarget(const std::string& statements) {
    std::string error;
    ASSERT_TRUE(servers->target->sql("shop_copy", statements, &error)) << error;
  }

  /// What compare prints for the one difference `line`, b summed up as
  /// `summaryB`.
  static std::string oneDifference(const std::string& line,
                                   const std::string& summaryB = kSummary) {
    return line + "\n1 difference (a: shop, " + kSummary + "; b: shop_copy, " + summaryB + ")\n";
  }

  struct Change {
    std::string apply;
    std::string undo;
    std::string line;
    std::string summaryB = kSummary;
  };

  /// Each change alone: compare names it in exactly its line, and compares
  /// identical again once it is undone.
  static void expectEachNamed(const std::vector<Change>& changes) {
    for (const Change& change : changes) {
      SCOPED_TRACE(change.apply);
      onTarget(change.apply);
      DriverRun run = compare();
      EXPECT_EQ(run.status, 1) << run.err;
      EXPECT_EQ(run.out, oneDifference(change.line, change.summaryB));
      EXPECT_EQ(run.err, "");
      onTarget(change.undo);
    }
    DriverRun again = compare();
    EXPECT_EQ(again.status, 0) << again.all();
  }
};

TEST_F(MysqlCompareTest, TheSameShopUnderAnotherNameIsIdentical) {
  DriverRun run = compare();
  EXPECT_EQ(run.status, 0) << run.err;
  EXPECT_EQ(run.out, std::string("shop and shop_copy: identical (") + kSummary + " compared)\n");
  EXPECT_EQ(run.err, "");

  DriverRun withoutRows = compare("ignore");
  EXPECT_EQ(withoutRows.status, 0) << withoutRows.err;
  EXPECT_EQ(withoutRows.out,
            "shop and shop_copy: identical (4 tables, 1 view, 2 routines, 1 trigger, 1 event, 3 "
            "accounts compared; rows left out (rows ignore))\n");
}

TEST_F(MysqlCompareTest, ARowValueChangedIsDifferentContentsAndADeletedRowACount) {
  expectEachNamed({
      {"UPDATE orders SET label = 'First' WHERE id = 1",
       "UPDATE orders SET label = 'first' WHERE id = 1",
       "table orders: same 4 rows, different contents"},
      {"DELETE FROM numbers WHERE n = 4321", "INSERT INTO numbers VALUES (4321, MD5(4321))",
       "table numbers: 5,000 rows in a, 4,999 in b",
       "4 tables, 5,011 rows, 1 view, 2 routines, 1 trigger, 1 event, 3 accounts"},
      // Two rows swapping a value: every column holds the same values.
      {"UPDATE numbers SET word = IF(n = 1, MD5(2), MD5(1)) WHERE n IN (1, 2)",
       "UPDATE numbers SET word = MD5(n) WHERE n IN (1, 2)",
       "table numbers: same 5,000 rows, different contents"},
  });
}

TEST_F(MysqlCompareTest, NullAndTheStringNullBinaryBytesDecimalsAndZeroDatesAreTold) {
  expectEachNamed({
      {"UPDATE customers SET note = 'NULL' WHERE id = 2",
       "UPDATE customers SET note = NULL WHERE id = 2",
       "table customers: same 3 rows, different contents"},
      {"UPDATE customers SET note = NULL WHERE id = 1",
       "UPDATE customers SET note = 'NULL' WHERE id = 1",
       "table customers: same 3 rows, different contents"},
      {"UPDATE customers SET photo = x'00FF00FE27' WHERE id = 1",
       "UPDATE customers SET photo = x'00FF00FF27' WHERE id = 1",
       "table customers: same 3 rows, different contents"},
      {"UPDATE customers SET name = 'Zoë 😁 Ümlaut' WHERE id = 1",
       "UPDATE customers SET name = 'Zoë 😀 Ümlaut' WHERE id = 1",
       "table customers: same 3 rows, different contents"},
      {"UPDATE orders SET total = total + 0.000000000000000000000000000001 WHERE id = 1",
       "UPDATE orders SET total = total - 0.000000000000000000000000000001 WHERE id = 1",
       "table orders: same 4 rows, different contents"},
      {"UPDATE customers SET born = NULL WHERE id = 1",
       "SET SESSION sql_mode = ''; UPDATE customers SET born = '0000-00-00' WHERE id = 1",
       "table customers: same 3 rows, different contents"},
  });

  // rows ignore leaves contents out.
  onTarget("UPDATE customers SET note = 'NULL' WHERE id = 2");
  DriverRun run = compare("ignore");
  EXPECT_EQ(run.status, 0) << run.all();
}

TEST_F(MysqlCompareTest, SchemaChangesAreNamedOneLineEach) {
  expectEachNamed({
      {"ALTER TABLE orders MODIFY label VARCHAR(200)",
       "ALTER TABLE orders MODIFY label VARCHAR(100)",
       "column orders.label: type varchar(100) in a, varchar(200) in b"},
      {"ALTER TABLE orders DROP INDEX idx_placed",
       "ALTER TABLE orders ADD INDEX idx_placed (placed, label(10))",
       "index orders.idx_placed only in a"},
      {"CREATE OR REPLACE VIEW order_totals AS SELECT c.name, SUM(o.total) * 2 AS total FROM "
       "customers c JOIN orders o ON o.customer_id = c.id GROUP BY c.name",
       "CREATE OR REPLACE VIEW order_totals AS SELECT c.name, SUM(o.total) AS total FROM "
       "customers c JOIN orders o ON o.customer_id = c.id GROUP BY c.name",
       "view order_totals: query differs at character 46: '...e`,sum(`o`.`total`) AS `total` from "
       "(`customers` `...' in a, '...e`,sum(`o`.`total`) * 2 AS `total` from (`customer...' in b"},
      {"DROP TRIGGER orders_label",
       "CREATE TRIGGER orders_label BEFORE INSERT ON orders FOR EACH ROW "
       "SET NEW.label = COALESCE(NEW.label, 'new')",
       "trigger orders_label only in a",
       "4 tables, 5,012 rows, 1 view, 2 routines, 0 triggers, 1 event, 3 accounts"},
  });
}

TEST_F(MysqlCompareTest, AccountChangesAreNamedAndNoPasswordHashIsPrinted) {
  std::string error;
  auto hashes = servers->target->sql(
      "", "SELECT PASSWORD('app-Pa55'), PASSWORD('other-Pa55'), PASSWORD('report-Pa55')", &error);
  ASSERT_TRUE(hashes) << error;

  onTarget("ALTER USER 'app'@'10.0.%' IDENTIFIED BY 'other-Pa55'");
  DriverRun run = compare();
  EXPECT_EQ(run.status, 1) << run.err;
  EXPECT_EQ(run.out, oneDifference("account 'app'@'10.0.%': password differs"));
  // "*2B60...\t*8D1E...\t*C5A9...\n": no 16 hex digits of any hash.
  for (size_t star = hashes->find('*'); star != std::string::npos;
       star = hashes->find('*', star + 1)) {
    std::string digits = hashes->substr(star + 1, 16);
    EXPECT_EQ(run.all().find(digits), std::string::npos) << digits;
  }
  onTarget("ALTER USER 'app'@'10.0.%' IDENTIFIED BY 'app-Pa55'");

  expectEachNamed({
      {"REVOKE EXECUTE ON PROCEDURE shop_copy.add_order FROM 'app'@'%'",
       "GRANT EXECUTE ON PROCEDURE shop_copy.add_order TO 'app'@'%'",
       "account 'app'@'%': grant only in a: GRANT EXECUTE ON PROCEDURE `shop`.`add_order` TO "
       "`app`@`%`"},
      {"GRANT DELETE ON shop_copy.numbers TO 'report'@'%'",
       "REVOKE DELETE ON shop_copy.numbers FROM 'report'@'%'",
       "account 'report'@'%': grant only in b: GRANT DELETE ON `shop_copy`.`numbers` TO "
       "`report`@`%`"},
      {"DROP USER 'report'@'%'",
       "CREATE USER 'report'@'%' IDENTIFIED BY 'report-Pa55'; "
       "GRANT SELECT ON shop_copy.order_totals TO 'report'@'%'",
       "account 'report'@'%' only in a",
       "4 tables, 5,012 rows, 1 view, 2 routines, 1 trigger, 1 event, 2 accounts"},
  });
}

TEST_F(MysqlCompareTest, AWrongPasswordNamesBothEndpointsAndShowsNoPassword) {
  DriverRun run = compare("compare", servers->wrongOptionFile);
  EXPECT_EQ(run.status, 1);
  EXPECT_EQ(run.out, "");
  std::string a = servers->source->url("shop");
  std::string b = servers->target->url("shop_copy");
  EXPECT_EQ(run.err, "mysql-compare: cannot connect to a " + a +
                         ": Access denied for user 'root'@'127.0.0.1' (using password: YES)\n"
                         "mysql-compare: cannot connect to b " +
                         b + ": Access denied for user 'root'@'127.0.0.1' (using password: YES)\n");
  EXPECT_FALSE(showsAPassword(run.all())) << run.all();
}

TEST_F(MysqlCompareTest, AUserWhoCannotSeeAViewsDefinitionIsToldWhatItNeeds) {
  std::string error;
  ASSERT_TRUE(servers->source->sql("",
                                   "CREATE OR REPLACE USER 'reader'@'127.0.0.1'; "
                                   "GRANT SELECT ON shop.* TO 'reader'@'127.0.0.1'",
                                   &error))
      << error;
  // Without -endpoint: no password.
  std::string a = servers->source->url("shop");
  a.replace(a.find("root@"), 5, "reader@");
  std::vector<std::string> args = {
      "mysql-compare", "--a",   a, "--b", servers->target->url("shop_copy"),
      "--b-endpoint",  "target"};
  DriverRun run = runMigDriver(args, servers->optionFile);
  EXPECT_EQ(run.status, 1);
  EXPECT_EQ(run.out, "");
  EXPECT_EQ(run.err, "mysql-compare: cannot read the definition of view order_totals on a " + a +
                         ": the user needs the SHOW VIEW privilege\n");
}

TEST_F(MysqlCompareTest, AnUnknownRowsModeIsAUsageError) {
  DriverRun run = compare("sometimes");
  EXPECT_EQ(run.status, 2);
  EXPECT_EQ(run.out, "");
  EXPECT_EQ(run.err, "mysql-compare: --rows is compare or ignore, not 'sometimes'\n");
}

}  // namespace
