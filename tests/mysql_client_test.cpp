// The MariaDB test harness and mig's MySQL client layer against real
// MariaDB servers: passwords reach libmariadb and the mysql clients through
// the option file only, whatever characters they hold.

#include "runtime/drivers/mysql_client.h"

#include <gtest/gtest.h>

#include <cstdlib>

#include "tests/mysql_servers.h"

namespace {

using mig::drivers::mysql::Connection;
using mig::drivers::mysql::Endpoint;
using mig::drivers::mysql::Location;
using namespace mig::testing;

MysqlServers* const servers =
    static_cast<MysqlServers*>(::testing::AddGlobalTestEnvironment(new MysqlServers()));

class MysqlClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(servers->source) << servers->startError;
    ::setenv("MIG_OPTION_FILE", servers->optionFile.c_str(), 1);
  }
  void TearDown() override { ::unsetenv("MIG_OPTION_FILE"); }

  static Endpoint endpoint(const MariaDbServer& server, const std::string& name,
                           const std::string& database = "mysql") {
    std::string error;
    auto location = Location::parse(server.url(database), error);
    EXPECT_TRUE(location) << error;
    return {location.value_or(Location{}), name, name};
  }
};

TEST(MysqlLocation, ParsesUrlsAndRefusesPasswordsInThem) {
  std::string error;
  auto plain = Location::parse("mysql://app@db.internal:3307/shop", error);
  ASSERT_TRUE(plain) << error;
  EXPECT_EQ(plain->user, "app");
  EXPECT_EQ(plain->host, "db.internal");
  EXPECT_EQ(plain->port, 3307);
  EXPECT_EQ(plain->database, "shop");
  auto ipv6 = Location::parse("mysql://root@[::1]/shop", error);
  ASSERT_TRUE(ipv6) << error;
  EXPECT_EQ(ipv6->host, "::1");
  EXPECT_EQ(ipv6->port, 3306);
  EXPECT_EQ(ipv6->url(), "mysql://root@[::1]:3306/shop");

  EXPECT_FALSE(Location::parse("mysql://app:hunter22@db/shop", error));
  EXPECT_NE(error.find("holds a password"), std::string::npos) << error;
  EXPECT_EQ(error.find("hunter22"), std::string::npos) << error;
  EXPECT_FALSE(Location::parse("postgresql://app@db/shop", error));
  EXPECT_FALSE(Location::parse("mysql://app@db:99999/shop", error));
  EXPECT_NE(error.find("99999"), std::string::npos) << error;
  EXPECT_FALSE(Location::parse("mysql://app@db:3306/", error));
}

TEST_F(MysqlClientTest, ConnectsWithThePasswordOfItsOwnGroup) {
  auto source = Connection::open(endpoint(*servers->source, "source"));
  ASSERT_TRUE(source) << source.error();
  auto user = (*source)->query("SELECT CURRENT_USER(), @@port");
  ASSERT_TRUE(user) << user.error();
  ASSERT_EQ(user->size(), 1u);
  EXPECT_EQ(user->text(0, 0), "root@127.0.0.1");
  EXPECT_EQ(user->integer(0, 1), servers->source->port());

  // The target's group holds the target's password, not the source's.
  auto target = Connection::open(endpoint(*servers->target, "target"));
  ASSERT_TRUE(target) << target.error();
  auto crossed = Connection::open(endpoint(*servers->target, "source"));
  ASSERT_FALSE(crossed);
  EXPECT_NE(crossed.error().find("Access denied"), std::string::npos) << crossed.error();
  EXPECT_NE(crossed.error().find("source mysql://root@127.0.0.1"), std::string::npos)
      << crossed.error();
  EXPECT_FALSE(showsAPassword(crossed.error())) << crossed.error();
}

// Both passwords: the target's has a double quote before " #", which the
// command-line clients cut as a comment unless the quote is escaped.
TEST_F(MysqlClientTest, TheClientsReadTheSameGroup) {
  for (auto [server, name] :
       {std::pair{servers->source.get(), "source"}, std::pair{servers->target.get(), "target"}}) {
    std::vector<std::string> argv = endpoint(*server, name).clientCommand("mariadb");
    for (const std::string& word : argv) EXPECT_FALSE(showsAPassword(word)) << word;
    argv.insert(argv.end(), {"--batch", "--skip-column-names", "--execute=SELECT CURRENT_USER()"});
    mig::drivers::SubprocessRequest request;
    request.argv = argv;
    request.env = {{"MIG_OPTION_FILE", servers->optionFile}};
    request.timeout = std::chrono::seconds(30);
    auto result = mig::drivers::runSubprocess(request);
    ASSERT_TRUE(result.succeeded()) << name << ": " << result.err;
    EXPECT_EQ(result.out, "root@127.0.0.1\n") << name;
  }
}

TEST_F(MysqlClientTest, TheHarnessRunsSqlOnBothServers) {
  for (const MariaDbServer* server : {servers->source.get(), servers->target.get()}) {
    std::string error;
    EXPECT_EQ(server->sql("mysql", "SELECT CURRENT_USER()", &error), "root@localhost\n") << error;
  }
}

TEST_F(MysqlClientTest, QuotesLiteralsAndIdentifiers) {
  auto source = Connection::open(endpoint(*servers->source, "source"));
  ASSERT_TRUE(source) << source.error();
  std::string tricky = "it's a \\ \"test\" \xF0\x9F\x99\x82";
  auto echoed = (*source)->query("SELECT " + (*source)->literal(tricky));
  ASSERT_TRUE(echoed) << echoed.error();
  EXPECT_EQ(echoed->text(0, 0), tricky);
  EXPECT_EQ(mig::drivers::mysql::identifier("we`ird"), "`we``ird`");
  auto bad = (*source)->query("SELECT * FROM no_such_table");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().find("no_such_table"), std::string::npos) << bad.error();
}

}  // namespace
