// examples/mysql_shop.mig run for real: `mig plan` and `mig run` move a
// MySQL shop database (MariaDB) and a Redis cache to new servers, and
// `mig rollback` takes it back; an ACL mismatch and a target changed after
// the copy stop the run in testing and roll it back; a wrong password is a
// clear error that no output or state file repeats.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <regex>

#include "runtime/drivers/subprocess.h"
#include "test_support.h"
#include "tests/mysql_servers.h"

namespace mig {
namespace {

namespace fs = std::filesystem;
using namespace mig::testing;

const char* kOldRedisPassword = "Old-Cache-pass-4471";
const char* kNewRedisPassword = "New-Cache-pass-9025";

MysqlServers* const servers =
    static_cast<MysqlServers*>(::testing::AddGlobalTestEnvironment(new MysqlServers()));

class MysqlMigrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(servers->source) << servers->startError;
    std::string error;
    oldCache_ = RedisServer::start(kOldRedisPassword, error);
    ASSERT_TRUE(oldCache_) << error;
    newCache_ = RedisServer::start(kNewRedisPassword, error);
    ASSERT_TRUE(newCache_) << error;
    ASSERT_TRUE(oldCache_->cli({"HSET", "cart:1", "sku", "p1", "qty", "2"}, &error)) << error;
    ASSERT_TRUE(oldCache_->cli({"SET", "visits", "981"}, &error)) << error;

    ASSERT_TRUE(source().sql("", R"sql(
      DROP DATABASE IF EXISTS shop; CREATE DATABASE shop CHARACTER SET utf8mb4;
      USE shop;
      SET SESSION sql_mode = '';
      CREATE TABLE customers (id INT PRIMARY KEY, name VARCHAR(80) NOT NULL, photo BLOB,
                              since DATE NOT NULL);
      CREATE TABLE orders (id INT AUTO_INCREMENT PRIMARY KEY, customer_id INT NOT NULL,
                           amount DECIMAL(65,30) NOT NULL,
                           FOREIGN KEY (customer_id) REFERENCES customers (id));
      INSERT INTO customers VALUES (1, 'Zoë 🙂', X'00FF27', '0000-00-00'), (2, 'Bob', NULL,
                                    '2020-01-01');
      INSERT INTO orders (customer_id, amount) SELECT 1 + seq % 2, seq / 7 FROM seq_1_to_3000;
      CREATE VIEW big_orders AS SELECT * FROM orders WHERE amount > 100;
      CREATE TRIGGER orders_positive BEFORE INSERT ON orders FOR EACH ROW
        SET NEW.amount = ABS(NEW.amount);
      DROP USER IF EXISTS 'shop_app'@'10.20.0.%';
      CREATE USER 'shop_app'@'10.20.0.%' IDENTIFIED BY 'shop-app-pass-1';
      GRANT SELECT, INSERT, UPDATE, DELETE ON shop.* TO 'shop_app'@'10.20.0.%';
    )sql",
                             &error))
        << error;
    ASSERT_TRUE(target().sql("",
                             "DROP DATABASE IF EXISTS shop; "
                             "DROP USER IF EXISTS 'shop_app'@'10.20.0.%', 'shop_app'@'%';",
                             &error))
        << error;

    dir_ = fs::temp_directory_path() /
           ("mig-mysql-e2e-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }

  void TearDown() override {
    source().sql("", "DROP USER IF EXISTS 'shop_app'@'%'");
    fs::remove_all(dir_);
  }

  static MariaDbServer& source() { return *servers->source; }
  static MariaDbServer& target() { return *servers->target; }

  /// The example plan with this test's ports, and `extraMigrationSteps`
  /// added to its migration phase.
  void writePlan(const std::string& extraMigrationSteps = "") {
    std::string plan = readFile(sourceDir() / "examples/mysql_shop.mig");
    auto port = [&](const std::string& from, int to) {
      plan = std::regex_replace(plan, std::regex("port     " + from + "\n"),
                                "port     " + std::to_string(to) + "\n");
    };
    port("33061", source().port());
    port("33062", target().port());
    port("36379", oldCache_->port());
    port("36380", newCache_->port());
    ASSERT_EQ(plan.find("33061"), std::string::npos);
    if (!extraMigrationSteps.empty()) {
      std::string anchor = "  phase testing {\n";
      size_t at = plan.find(anchor);
      ASSERT_NE(at, std::string::npos);
      // The migration phase ends just before the testing phase.
      size_t end = plan.rfind("  }\n", at);
      plan.insert(end, extraMigrationSteps);
    }
    writeFile(dir_ / "shop.mig", plan);
  }

  /// `mig ARGS` in the plan's folder with the plan's secrets in its
  /// environment; `newMysqlPassword` replaces the target's.
  CommandResult mig(const std::vector<std::string>& args,
                    const std::string& newMysqlPassword = kTargetRootPassword) {
    drivers::SubprocessRequest request;
    request.argv = {MIG_BINARY};
    request.argv.insert(request.argv.end(), args.begin(), args.end());
    request.workdir = dir_.string();
    request.env = {{"SHOPCO_OLD_MYSQL_PASSWORD", kSourceRootPassword},
                   {"SHOPCO_NEW_MYSQL_PASSWORD", newMysqlPassword},
                   {"SHOPCO_OLD_REDIS_PASSWORD", kOldRedisPassword},
                   {"SHOPCO_NEW_REDIS_PASSWORD", kNewRedisPassword}};
    request.timeout = std::chrono::minutes(5);
    drivers::SubprocessResult result = drivers::runSubprocess(request);
    outputs_ += result.out + result.err;
    return {result.exitCode, result.out + result.err};
  }

  std::string targetSql(const std::string& sql) {
    std::string error;
    auto out = target().sql("", sql, &error);
    return out ? *out : "error: " + error;
  }

  /// No password in anything mig printed or wrote.
  void expectNoPasswordAnywhere() {
    EXPECT_FALSE(showsAPassword(outputs_)) << outputs_;
    for (const char* password : {kOldRedisPassword, kNewRedisPassword}) {
      EXPECT_EQ(outputs_.find(password), std::string::npos) << password;
    }
    for (const auto& entry : fs::recursive_directory_iterator(dir_)) {
      if (!entry.is_regular_file()) continue;
      std::string text = readFile(entry.path());
      EXPECT_FALSE(showsAPassword(text)) << entry.path();
      EXPECT_EQ(text.find(kNewRedisPassword), std::string::npos) << entry.path();
    }
  }

  std::unique_ptr<RedisServer> oldCache_;
  std::unique_ptr<RedisServer> newCache_;
  fs::path dir_;
  std::string outputs_;
};

TEST_F(MysqlMigrationTest, PlanRunAndRollbackTheExample) {
  writePlan();
  CommandResult plan = mig({"plan", "shop.mig"});
  ASSERT_EQ(plan.exitCode, 0) << plan.output;
  EXPECT_NE(plan.output.find("driver mysql-copy --from mysql://root@127.0.0.1:"), std::string::npos)
      << plan.output;
  EXPECT_NE(plan.output.find("MIG_OPTION_FILE group [client-shop_new] password=***"),
            std::string::npos)
      << plan.output;

  CommandResult run = mig({"run", "shop.mig"});
  ASSERT_EQ(run.exitCode, 0) << run.output;
  EXPECT_EQ(targetSql("SELECT COUNT(*), SUM(amount) FROM shop.orders"),
            *source().sql("", "SELECT COUNT(*), SUM(amount) FROM shop.orders"));
  EXPECT_EQ(targetSql("SELECT id, HEX(name), HEX(photo), since FROM shop.customers ORDER BY id"),
            *source().sql("",
                          "SELECT id, HEX(name), HEX(photo), since FROM shop.customers "
                          "ORDER BY id"));
  EXPECT_NE(targetSql("SHOW GRANTS FOR 'shop_app'@'10.20.0.%'")
                .find("GRANT SELECT, INSERT, UPDATE, DELETE ON `shop`.*"),
            std::string::npos);
  auto visits = newCache_->cli({"GET", "visits"});
  ASSERT_TRUE(visits);
  EXPECT_EQ(*visits, "981\n");
  EXPECT_NE(readFile(dir_ / "app.url").find(std::to_string(target().port())), std::string::npos);

  CommandResult rollback = mig({"rollback", "--force", "shop.mig"});
  ASSERT_EQ(rollback.exitCode, 0) << rollback.output;
  EXPECT_EQ(targetSql("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = "
                      "'shop'"),
            "0\n");
  EXPECT_EQ(*source().sql("", "SELECT COUNT(*) FROM shop.orders"), "3000\n");
  EXPECT_NE(readFile(dir_ / "app.url").find(std::to_string(source().port())), std::string::npos);
  expectNoPasswordAnywhere();
}

TEST_F(MysqlMigrationTest, AnAclMismatchStopsTheRunInTestingAndRollsBack) {
  // An account that admits every address comes along with the copy.
  ASSERT_TRUE(source().sql("", "CREATE USER 'shop_app'@'%' IDENTIFIED BY 'shop-app-pass-2'"));
  writePlan();
  CommandResult run = mig({"run", "shop.mig"});
  EXPECT_NE(run.exitCode, 0) << run.output;
  CommandResult log = mig({"log", "shop_acl", "shop.mig"});
  EXPECT_NE(log.output.find("'shop_app'@'%' admits every address"), std::string::npos)
      << log.output << run.output;
  EXPECT_EQ(targetSql("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = "
                      "'shop'"),
            "0\n");
  EXPECT_FALSE(fs::exists(dir_ / "app.url"));
  expectNoPasswordAnywhere();
}

TEST_F(MysqlMigrationTest, ATargetChangedAfterTheCopyFailsCompareNamingTheTable) {
  writePlan(fmt::format(
      "    step tamper {{\n"
      "      do    sh(\"mariadb --defaults-file={0}/root.cnf --socket={0}/mysqld.sock --user=root "
      "--execute='DELETE FROM shop.orders WHERE id = 7'\")\n"
      "      undo  sh(\"true\")\n"
      "      after shop_copy\n"
      "    }}\n",
      target().folder()));
  CommandResult run = mig({"run", "shop.mig"});
  EXPECT_NE(run.exitCode, 0) << run.output;
  CommandResult log = mig({"log", "shop_parity", "shop.mig"});
  EXPECT_NE(log.output.find("orders"), std::string::npos) << log.output;
  EXPECT_NE(log.output.find("3,000"), std::string::npos) << log.output;
  EXPECT_EQ(targetSql("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = "
                      "'shop'"),
            "0\n");
  expectNoPasswordAnywhere();
}

TEST_F(MysqlMigrationTest, AWrongPasswordIsAClearErrorNothingRepeats) {
  writePlan();
  CommandResult run = mig({"run", "shop.mig"}, kWrongRootPassword);
  EXPECT_NE(run.exitCode, 0) << run.output;
  CommandResult log = mig({"log", "shop_copy", "shop.mig"}, kWrongRootPassword);
  EXPECT_NE(log.output.find("cannot connect to target mysql://root@127.0.0.1:"), std::string::npos)
      << log.output << run.output;
  EXPECT_NE(log.output.find("Access denied"), std::string::npos) << log.output;
  EXPECT_EQ(*source().sql("", "SELECT COUNT(*) FROM shop.orders"), "3000\n");
  expectNoPasswordAnywhere();
}

}  // namespace
}  // namespace mig
