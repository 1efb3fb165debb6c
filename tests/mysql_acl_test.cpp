// acl-verify --kind mysql: what each account host pattern admits, as
// address sets (unit tests), and the driver against a real MariaDB server
// whose accounts the tests create (live tests, one server per suite).

#include "runtime/drivers/mysql_acl.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <map>

#include "runtime/drivers/address_set.h"
#include "tests/mysql_servers.h"

namespace {

using mig::drivers::AddressSpace;
using mig::drivers::Error;
using mig::drivers::Network;
using mig::drivers::parseNetwork;
using mig::drivers::Result;
using mig::drivers::mysql::Account;
using mig::drivers::mysql::AdmittedHosts;
using mig::drivers::mysql::HostMatching;
using mig::drivers::mysql::HostResolver;
using namespace mig::testing;

/// Names from a table instead of DNS.
class FakeResolver final : public HostResolver {
 public:
  std::map<std::string, std::vector<std::string>> names;

  Result<std::vector<Network>> resolve(const std::string& name) const override {
    auto it = names.find(name);
    if (it == names.end()) return Error{"Name or service not known"};
    std::vector<Network> networks;
    for (const std::string& address : it->second) networks.push_back(*parseNetwork(address));
    return networks;
  }
};

constexpr HostMatching kMariaDb{/*resolvesNames=*/true, /*readsPrefixLength=*/false};
constexpr HostMatching kMySql8{/*resolvesNames=*/true, /*readsPrefixLength=*/true};
constexpr HostMatching kSkipNameResolve{/*resolvesNames=*/false, /*readsPrefixLength=*/false};

/// What `host` admits, every range listed, then the problem in brackets or
/// "(a host name the server does not resolve)".
std::string admits(const std::string& host, const HostMatching& matching = kMariaDb,
                   const FakeResolver& resolver = FakeResolver()) {
  AddressSpace space;
  AdmittedHosts admitted = mig::drivers::mysql::admittedHosts(host, matching, resolver, space);
  std::string text = space.describe(admitted.addresses, 100);
  if (!admitted.problem.empty()) text += " [" + admitted.problem + "]";
  if (admitted.unresolvedName) text += " (a host name the server does not resolve)";
  return text;
}

// ---------------------------------------------------------------------------
// Host patterns (no server)

TEST(MysqlHostPattern, PercentAndAnEmptyHostAdmitEveryAddress) {
  EXPECT_EQ(admits("%"), "every address");
  EXPECT_EQ(admits("%%"), "every address");
  EXPECT_EQ(admits(""), "every address");
}

TEST(MysqlHostPattern, WildcardsMatchTheDottedText) {
  EXPECT_EQ(admits("10.0.%"), "10.0.0.0/16");
  EXPECT_EQ(admits("10.0.1%"), "10.0.1.0/24, 10.0.10.0-10.0.19.255, 10.0.100.0-10.0.199.255");
  EXPECT_EQ(admits("10._.0.1"),
            "10.0.0.1, 10.1.0.1, 10.2.0.1, 10.3.0.1, 10.4.0.1, 10.5.0.1, 10.6.0.1, 10.7.0.1, "
            "10.8.0.1, 10.9.0.1");
  EXPECT_EQ(admits("192.168.1.__"), "192.168.1.10-192.168.1.99");
  EXPECT_EQ(admits("10.0.0.2_"), "10.0.0.20-10.0.0.29");
  // % also matches nothing, and dots: 10.% is all of 10.0.0.0/8.
  EXPECT_EQ(admits("10.%"), "10.0.0.0/8");
  EXPECT_EQ(admits("10.%.%.%"), "10.0.0.0/8");
  EXPECT_EQ(admits("10.0.300.%"), "none [admits no address]");
  // Every 10.X.Y.5: 65,536 addresses apart, walked as a few shared nodes.
  AddressSpace space;
  auto fives = mig::drivers::mysql::admittedHosts("10.%.5", kMariaDb, FakeResolver(), space);
  EXPECT_EQ(space.describe(fives.addresses, 3),
            "10.0.0.5, 10.0.1.5, 10.0.2.5 and 65,533 more ranges");
  EXPECT_EQ(fives.problem, "");
}

TEST(MysqlHostPattern, AWildcardThatCanMatchMoreThanIpv4TextSaysSo) {
  // Text starting with digits and a dot is neither IPv6 nor a host name the
  // server takes; other patterns can match those, which have no addresses.
  EXPECT_EQ(admits("%.example.com"),
            "none [can match host names, which cannot be turned into addresses]");
  EXPECT_EQ(admits("%.example.com", kSkipNameResolve),
            "none (a host name the server does not resolve)");
  EXPECT_EQ(admits("2001:db8::%"),
            "none [can match IPv6 addresses, which cannot be turned into addresses]");
  AddressSpace space;
  AdmittedHosts ones = mig::drivers::mysql::admittedHosts("1%", kMariaDb, FakeResolver(), space);
  EXPECT_EQ(space.describe(ones.addresses),
            "1.0.0.0/8, 10.0.0.0-19.255.255.255, 100.0.0.0-199.255.255.255");
  EXPECT_EQ(ones.problem,
            "can match IPv6 addresses and host names, which cannot be turned into addresses (its "
            "IPv4 addresses are checked)");
}

TEST(MysqlHostPattern, ReadsAddressesAndNetmasks) {
  EXPECT_EQ(admits("203.0.113.7"), "203.0.113.7");
  EXPECT_EQ(admits("2001:db8::7"), "2001:db8::7");
  EXPECT_EQ(admits("::1"), "::1");
  EXPECT_EQ(admits("10.0.0.0/255.255.0.0"), "10.0.0.0/16");
  EXPECT_EQ(admits("10.0.0.0/255.0.255.0"),
            "none [has a netmask that is not contiguous (255.0.255.0), which cannot be compared]");
  EXPECT_EQ(admits("10.0.0.1/255.255.255.0"),
            "none [admits no address: 10.0.0.1 has bits outside the netmask 255.255.255.0]");
  EXPECT_EQ(admits("10.0.0.0/255.255.0.x"),
            "none [admits no address: '255.255.0.x' is not a netmask]");
  EXPECT_EQ(admits("2001:db8::/32"),
            "none [admits no address: the server reads IP/NETMASK for IPv4 addresses only]");
}

TEST(MysqlHostPattern, APrefixLengthCountsWhereTheServerReadsIt) {
  EXPECT_EQ(admits("10.0.0.0/16", kMySql8), "10.0.0.0/16");
  EXPECT_EQ(admits("10.0.0.1/24", kMySql8),
            "none [admits no address: 10.0.0.1 has bits outside the prefix length 24]");
  EXPECT_EQ(admits("10.0.0.0/16", kMariaDb),
            "none [admits no address: the server reads IP/NETMASK, not a prefix length "
            "(10.0.0.0/255.255.0.0)]");
}

TEST(MysqlHostPattern, ResolvesHostNamesWhenTheServerDoes) {
  FakeResolver resolver;
  resolver.names["web1.example.com"] = {"10.0.0.5", "2001:db8::5"};
  EXPECT_EQ(admits("web1.example.com", kMariaDb, resolver), "10.0.0.5, 2001:db8::5");
  EXPECT_EQ(admits("gone.example.com", kMariaDb, resolver),
            "none [names a host that does not resolve here (Name or service not known): what it "
            "admits cannot be checked]");
  EXPECT_EQ(admits("web1.example.com", kSkipNameResolve, resolver),
            "none (a host name the server does not resolve)");
  // localhost is loopback (and the unix socket) either way; text that
  // starts like an address is never taken for a name.
  EXPECT_EQ(admits("localhost", kSkipNameResolve), "127.0.0.1, ::1");
  EXPECT_EQ(admits("10.0.0.01", kMariaDb, resolver),
            "none [admits no address: it is not an IP address, and the server takes no host name "
            "starting with digits and a dot]");
}

TEST(AddressSpace, DescribesLongSetsShortly) {
  AddressSpace space;
  auto set = [&](const char* cidr) { return space.network(*parseNetwork(cidr)); };
  EXPECT_EQ(space.describe(space.subtract(set("10.0.0.0/8"), set("10.0.0.0/16"))),
            "10.1.0.0-10.255.255.255");
  auto everyOther = space.none();
  for (int i = 0; i < 10; i += 2) {
    everyOther = space.unite(everyOther, set(fmt::format("10.0.{}.0/24", i).c_str()));
  }
  EXPECT_EQ(space.rangeCount(everyOther), 5u);
  EXPECT_EQ(space.describe(everyOther, 2), "10.0.0.0/24, 10.0.2.0/24 and 3 more ranges");
  EXPECT_EQ(space.describe(space.unite(set("0.0.0.0/0"), set("::/0"))), "every address");
  EXPECT_EQ(space.describe(space.subtract(space.every(), set("::/1"))), "0.0.0.0/0, 8000::/1");
}

TEST(MysqlAclComparison, SaysWhatIsMissingAndWhatIsTooMuch) {
  std::vector<Network> declared = {*parseNetwork("10.0.0.0/16"), *parseNetwork("10.9.0.0/24")};
  std::vector<Account> accounts = {{"app", "10.%"},
                                   {"app", "10.9.0.1__"},
                                   {"root", "localhost"},
                                   {"shop_app", "10.0.%"},
                                   {"shop_app", "10.9.0.12_"}};
  auto comparison = mig::drivers::mysql::compareAccounts(declared, {"shop_app"}, accounts, kMariaDb,
                                                         FakeResolver());
  const std::vector<std::string> expected = {
      "declared 10.9.0.0/24: no account of shop_app admits 10.9.0.0-10.9.0.119, "
      "10.9.0.130-10.9.0.255 of it",
      "'app'@'10.%' admits 10.0.0.0/8, of which 10.1.0.0-10.8.255.255, 10.9.1.0-10.255.255.255 "
      "are not declared",
  };
  EXPECT_EQ(comparison.findings, expected);
  EXPECT_EQ(comparison.summary,
            "acl differs from mysql.user: 1 declared entry missing, 1 account admitting "
            "undeclared addresses; ignored: 1 loopback account");
}

// ---------------------------------------------------------------------------
// The driver against a real MariaDB server

class MysqlAclVerify : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    servers_ = new MysqlServers();
    servers_->SetUp();
  }
  static void TearDownTestSuite() {
    servers_->TearDown();
    delete servers_;
    servers_ = nullptr;
  }
  void SetUp() override { ASSERT_TRUE(servers_->target) << servers_->startError; }
  void TearDown() override {
    for (const std::string& account : created_) sql("DROP USER IF EXISTS " + account);
    for (const std::string& role : roles_) sql("DROP ROLE IF EXISTS " + role);
  }

  static const MariaDbServer& server() { return *servers_->target; }

  void sql(const std::string& statements) {
    std::string error;
    ASSERT_TRUE(server().sql("mysql", statements, &error)) << error;
  }
  /// CREATE USER `account` ('shop_app'@'10.0.%'), dropped after the test.
  void createAccount(const std::string& account) {
    created_.push_back(account);
    sql("CREATE USER " + account + " IDENTIFIED BY 'Acl-test-pw1'");
  }
  void createRole(const std::string& role) {
    roles_.push_back(role);
    sql("CREATE ROLE " + role);
  }

  /// `mig driver acl-verify --kind mysql` against the server as root.
  DriverRun verify(const std::string& users, const std::vector<std::string>& cidrs) {
    std::vector<std::string> args = {"acl-verify", "--kind", "mysql"};
    for (const std::string& word : endpointArgs("url", server().url("mysql"), "target")) {
      args.push_back(word);
    }
    args.insert(args.end(), {"--users", users, "--"});
    args.insert(args.end(), cidrs.begin(), cidrs.end());
    return runMigDriver(args, servers_->optionFile);
  }

  static MysqlServers* servers_;
  std::vector<std::string> created_;
  std::vector<std::string> roles_;
};

MysqlServers* MysqlAclVerify::servers_ = nullptr;

TEST_F(MysqlAclVerify, PassesWhenTheAccountsAdmitExactlyTheDeclaredNetworks) {
  createAccount("'shop_app'@'10.0.%'");
  createAccount("'shop_app'@'192.168.1.7'");
  createAccount("'shop_app'@'10.1.0.0/255.255.0.0'");
  // A role has no host to log in from: never an account that admits.
  createRole("shop_reader");
  DriverRun run = verify("shop_app", {"10.0.0.0/16", "10.1.0.0/16", "192.168.1.7"});
  EXPECT_EQ(run.status, 0) << run.all();
  EXPECT_EQ(run.out,
            "acl matches mysql.user: 3 declared entries, 3 accounts; ignored: 3 loopback "
            "accounts\n");
  EXPECT_EQ(run.err, "");
}

TEST_F(MysqlAclVerify, ReportsEveryAccountAdmittingUndeclaredAddresses) {
  createAccount("'shop_app'@'10.0.%'");
  createAccount("'app'@'%'");
  createAccount("'web'@'10.1.1%'");
  createAccount("'ops'@'10.0.0.0/255.254.0.0'");
  createAccount("'batch'@'10.2.0.0/16'");  // MariaDB reads no prefix length
  DriverRun run = verify("shop_app", {"10.0.0.0/16"});
  EXPECT_EQ(run.status, 1) << run.all();
  EXPECT_EQ(run.out,
            "'app'@'%' admits every address, of which only 10.0.0.0/16 is declared\n"
            "'batch'@'10.2.0.0/16' admits no address: the server reads IP/NETMASK, not a prefix "
            "length (10.2.0.0/255.255.0.0)\n"
            "'ops'@'10.0.0.0/255.254.0.0' admits 10.0.0.0/15, of which 10.1.0.0/16 is not "
            "declared\n"
            "'web'@'10.1.1%' admits 10.1.1.0/24, 10.1.10.0-10.1.19.255, 10.1.100.0-10.1.199.255, "
            "not declared\n"
            "acl differs from mysql.user: 3 accounts admitting undeclared addresses, 1 account "
            "with a host problem; ignored: 3 loopback accounts\n");
  EXPECT_FALSE(showsAPassword(run.all()));
}

TEST_F(MysqlAclVerify, ReportsADeclaredNetworkTheUsersDoNotAdmit) {
  createAccount("'shop_app'@'10.0.%'");
  createAccount("'report'@'10.1.%'");
  createAccount("'report'@'172.16.0.0/255.255.255.128'");
  const std::vector<std::string> declared = {"10.0.0.0/16", "10.1.0.0/16", "172.16.0.0/24"};
  DriverRun one = verify("shop_app", declared);
  EXPECT_EQ(one.status, 1) << one.all();
  EXPECT_EQ(one.out,
            "declared 10.1.0.0/16: no account of shop_app admits it\n"
            "declared 172.16.0.0/24: no account of shop_app admits it\n"
            "acl differs from mysql.user: 2 declared entries missing; ignored: 3 loopback "
            "accounts\n");

  // Both users: only the upper half of 172.16.0.0/24 is missing.
  DriverRun both = verify("shop_app, report", declared);
  EXPECT_EQ(both.status, 1) << both.all();
  EXPECT_EQ(both.out,
            "declared 172.16.0.0/24: no account of shop_app, report admits 172.16.0.128/25 of it\n"
            "acl differs from mysql.user: 1 declared entry missing; ignored: 3 loopback "
            "accounts\n");

  // No users named: the accounts of all users count.
  sql("RENAME USER 'report'@'172.16.0.0/255.255.255.128' TO "
      "'report'@'172.16.0.0/255.255.255.0'");
  created_.push_back("'report'@'172.16.0.0/255.255.255.0'");
  DriverRun all = verify("", declared);
  EXPECT_EQ(all.status, 0) << all.all();
  EXPECT_EQ(all.out,
            "acl matches mysql.user: 3 declared entries, 3 accounts; ignored: 3 loopback "
            "accounts\n");
}

TEST_F(MysqlAclVerify, LeavesLoopbackAccountsOutUnlessLoopbackIsDeclared) {
  createAccount("'shop_app'@'10.0.%'");
  createAccount("'ops'@'localhost'");
  createAccount("'ops'@'127.%'");
  DriverRun run = verify("", {"10.0.0.0/16"});
  EXPECT_EQ(run.status, 0) << run.all();
  EXPECT_EQ(run.out,
            "acl matches mysql.user: 1 declared entry, 1 account; ignored: 5 loopback accounts\n");

  // Declared, 127.0.0.1 counts like any address: what else the loopback
  // accounts admit is reported.
  DriverRun declared = verify("", {"10.0.0.0/16", "127.0.0.1"});
  EXPECT_EQ(declared.status, 1) << declared.all();
  EXPECT_EQ(declared.out,
            "'ops'@'127.%' admits 127.0.0.0/8, of which only 127.0.0.1 is declared\n"
            "'ops'@'localhost' admits 127.0.0.1, ::1, of which ::1 is not declared\n"
            "'root'@'::1' admits ::1, not declared\n"
            "'root'@'localhost' admits 127.0.0.1, ::1, of which ::1 is not declared\n"
            "acl differs from mysql.user: 4 accounts admitting undeclared addresses\n");
}

TEST_F(MysqlAclVerify, SaysWhichPrivilegeReadingTheAccountsNeeds) {
  createAccount("'auditor'@'127.0.0.1'");
  std::string error;
  const std::string optionFile = servers_->folder + "/auditor.cnf";
  ASSERT_TRUE(writePrivateFile(optionFile, "[client-auditor]\npassword=Acl-test-pw1\n", error))
      << error;
  const std::string url = "mysql://auditor@127.0.0.1:" + std::to_string(server().port()) + "/mysql";
  std::vector<std::string> args = {"acl-verify",     "--kind",  "mysql",   "--url", url,
                                   "--url-endpoint", "auditor", "--users", "",      "--",
                                   "10.0.0.0/16"};
  DriverRun denied = runMigDriver(args, optionFile);
  EXPECT_EQ(denied.status, 1) << denied.all();
  EXPECT_EQ(denied.out, "");
  EXPECT_EQ(
      denied.err,
      "acl-verify: reading the accounts (SELECT User, Host FROM mysql.user) failed on target " +
          url +
          ": SELECT command denied to user 'auditor'@'127.0.0.1' for table `mysql`.`user`\n"
          "acl-verify: reading the accounts needs SELECT on mysql.user: GRANT SELECT ON "
          "mysql.user TO 'auditor'@'127.0.0.1';\n");

  // With the grant the hint names, the check runs.
  sql("GRANT SELECT ON mysql.user TO 'auditor'@'127.0.0.1'");
  DriverRun granted = runMigDriver(args, optionFile);
  EXPECT_EQ(granted.status, 1) << granted.all();
  EXPECT_EQ(granted.out,
            "declared 10.0.0.0/16: no account admits it\n"
            "acl differs from mysql.user: 1 declared entry missing; ignored: 4 loopback "
            "accounts\n");
}

// Usage errors stop before connecting: no server needed.
TEST(MysqlAclVerifyUsage, RefusesWhatIsNotACidr) {
  DriverRun run =
      runMigDriver({"acl-verify", "--kind", "mysql", "--url", "mysql://root@127.0.0.1:1/mysql",
                    "--url-endpoint", "target", "--users", "", "--", "10.0.0.0/16", "app-servers"},
                   "");
  EXPECT_EQ(run.status, 2) << run.all();
  EXPECT_EQ(run.err, "acl-verify: 'app-servers' is not an IP address or CIDR\n");
  EXPECT_EQ(run.out, "");
}

}  // namespace
