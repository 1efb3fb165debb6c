// How mysql-compare reads SQL text the servers print: names qualified by
// the database made independent of its name, and accounts' password hashes
// kept out of everything it prints. No server: the texts are the servers'
// own output, copied.
#include "runtime/drivers/mysql_sql_text.h"

#include <gtest/gtest.h>

namespace {

using mig::drivers::mysql::grantOn;
using mig::drivers::mysql::normalizedGrant;
using mig::drivers::mysql::parseCreateUser;
using mig::drivers::mysql::withoutDatabase;

TEST(MysqlSqlText, UnqualifiesNamesOfTheDatabaseOnly) {
  EXPECT_EQ(withoutDatabase("select `shop`.`t`.`id` AS `id` from (`shop`.`t` join `other`.`c` "
                            "on(`shop`.`t`.`id` = `other`.`c`.`id`)) where `shop`.`t`.`s` <> "
                            "'shop.x'",
                            "shop"),
            "select `t`.`id` AS `id` from (`t` join `other`.`c` on(`t`.`id` = "
            "`other`.`c`.`id`)) where `t`.`s` <> 'shop.x'");
  // Table shop of database shop: only the first name is the database's.
  EXPECT_EQ(withoutDatabase("select `shop`.`shop`.`id` from `shop`.`shop`", "shop"),
            "select `shop`.`id` from `shop`");
  EXPECT_EQ(withoutDatabase("BEGIN -- shop.x isn't touched\n DELETE FROM shop.log; END", "shop"),
            "BEGIN -- shop.x isn't touched\n DELETE FROM log; END");
  EXPECT_EQ(withoutDatabase("SELECT 1.5 FROM shop_copy.t, `shop`.t", "shop"),
            "SELECT 1.5 FROM shop_copy.t, t");
}

TEST(MysqlSqlText, SplitsAMariaDbAccountIntoPluginHashAndOptions) {
  auto native = parseCreateUser(
      "CREATE USER `app`@`%` IDENTIFIED BY PASSWORD '*2B602296A79E0A8784ACC5C88D92E46588CCA3C3' "
      "ACCOUNT LOCK PASSWORD EXPIRE");
  EXPECT_EQ(native.plugin, "mysql_native_password");
  EXPECT_EQ(native.secret, "*2B602296A79E0A8784ACC5C88D92E46588CCA3C3");
  EXPECT_EQ(native.options, "ACCOUNT LOCK PASSWORD EXPIRE");

  auto chain = parseCreateUser(
      "CREATE USER `app`@`10.0.0.%` IDENTIFIED VIA unix_socket OR mysql_native_password USING "
      "'*B27918D2D9402882CEADA0EF687D35FBDC137D72' REQUIRE SSL WITH MAX_QUERIES_PER_HOUR 5");
  EXPECT_EQ(chain.plugin, "unix_socket OR mysql_native_password");
  EXPECT_EQ(chain.secret, "*B27918D2D9402882CEADA0EF687D35FBDC137D72");
  EXPECT_EQ(chain.options, "REQUIRE SSL WITH MAX_QUERIES_PER_HOUR 5");

  auto none = parseCreateUser("CREATE USER `nopw`@`%`");
  EXPECT_EQ(none.plugin, "");
  EXPECT_EQ(none.secret, "");
  EXPECT_EQ(none.options, "");
}

TEST(MysqlSqlText, SplitsAMysqlAccountWithAQuotedPluginAndAnEscapedHash) {
  auto account = parseCreateUser(
      "CREATE USER `app`@`%` IDENTIFIED WITH 'caching_sha2_password' AS '$A$005$x\\'y''z' "
      "REQUIRE NONE PASSWORD EXPIRE DEFAULT ACCOUNT UNLOCK COMMENT 'billing'");
  EXPECT_EQ(account.plugin, "caching_sha2_password");
  EXPECT_EQ(account.secret, "$A$005$x'y'z");
  EXPECT_EQ(account.options,
            "REQUIRE NONE PASSWORD EXPIRE DEFAULT ACCOUNT UNLOCK COMMENT 'billing'");

  // Two factors; and a hash where none was expected is masked, not shown.
  auto twoFactors = parseCreateUser(
      "CREATE USER `u`@`%` IDENTIFIED WITH 'caching_sha2_password' AS 'h1' AND IDENTIFIED WITH "
      "'authentication_fido' REQUIRE NONE IDENTIFIED BY 'h2'");
  EXPECT_EQ(twoFactors.plugin, "caching_sha2_password OR authentication_fido");
  EXPECT_EQ(twoFactors.secret, "h1");
  EXPECT_EQ(twoFactors.options, "REQUIRE NONE IDENTIFIED BY '...'");
}

TEST(MysqlSqlText, GrantsLoseTheHashAndTheDatabaseName) {
  EXPECT_EQ(grantOn(normalizedGrant("GRANT USAGE ON *.* TO `app`@`%` IDENTIFIED BY PASSWORD "
                                    "'*2B602296A79E0A8784ACC5C88D92E46588CCA3C3'",
                                    "shop"),
                    "shop"),
            "GRANT USAGE ON *.* TO `app`@`%`");
  EXPECT_EQ(normalizedGrant("GRANT USAGE ON *.* TO `app`@`h` IDENTIFIED VIA ed25519 USING 'k' "
                            "REQUIRE SSL WITH GRANT OPTION MAX_QUERIES_PER_HOUR 5",
                            "shop"),
            "GRANT USAGE ON *.* TO `app`@`h` WITH GRANT OPTION");

  // The same grants on shop and on shop_copy are equal; printed, each
  // names its own database again.
  for (const char* line : {"GRANT SELECT, INSERT ON `{}`.* TO `app`@`%`",
                           "GRANT SELECT (`id`) ON `{}`.`c` TO `app`@`%`",
                           "GRANT EXECUTE ON PROCEDURE `{}`.`add_order` TO `app`@`%`"}) {
    std::string onShop = std::string(line).replace(std::string(line).find("{}"), 2, "shop");
    std::string onCopy = std::string(line).replace(std::string(line).find("{}"), 2, "shop_copy");
    EXPECT_EQ(normalizedGrant(onShop, "shop"), normalizedGrant(onCopy, "shop_copy")) << line;
    EXPECT_EQ(grantOn(normalizedGrant(onShop, "shop"), "shop_copy"), onCopy) << line;
  }
  // A grant on the pattern `shop\_copy` (only itself) is not one on the
  // pattern `shop_copy` (also shopXcopy).
  EXPECT_EQ(normalizedGrant("GRANT ALL PRIVILEGES ON `shop\\_copy`.* TO `a`@`%`", "shop_copy"),
            normalizedGrant("GRANT ALL PRIVILEGES ON `db\\_2`.* TO `a`@`%`", "db_2"));
  EXPECT_NE(normalizedGrant("GRANT ALL PRIVILEGES ON `shop\\_copy`.* TO `a`@`%`", "shop_copy"),
            normalizedGrant("GRANT ALL PRIVILEGES ON `shop_copy`.* TO `a`@`%`", "shop_copy"));
  // Other databases, roles and proxies stay as they are.
  EXPECT_EQ(normalizedGrant("GRANT SELECT ON `other`.* TO `app`@`%`", "shop"),
            "GRANT SELECT ON `other`.* TO `app`@`%`");
  EXPECT_EQ(normalizedGrant("GRANT `reader` TO `app`@`%`", "reader"),
            "GRANT `reader` TO `app`@`%`");
}

}  // namespace
