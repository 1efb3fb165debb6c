#pragma once

#include <string>
#include <vector>

#include "runtime/drivers/address_set.h"
#include "runtime/drivers/networks.h"
#include "runtime/drivers/result.h"

/// acl-verify --kind mysql: the addresses each account's host pattern
/// admits ('app'@'10.0.%') against the CIDRs a plan declares. The driver
/// (mysqlAclVerify in driver.h) reads the accounts; what is here turns them
/// into address sets and findings, without a server.
namespace mig::drivers::mysql {

/// Looks up the addresses of a host name: a seam for tests.
class HostResolver {
 public:
  virtual ~HostResolver() = default;
  /// The name's addresses, or why there are none.
  virtual Result<std::vector<Network>> resolve(const std::string& name) const = 0;
};

/// getaddrinfo(3), as the machine running the check sees the name.
class SystemResolver final : public HostResolver {
 public:
  Result<std::vector<Network>> resolve(const std::string& name) const override;
};

/// How the server matches a client with an account's Host.
struct HostMatching {
  bool resolvesNames = true;       ///< skip_name_resolve is OFF: host names count
  bool readsPrefixLength = false;  ///< MySQL 8.0.23 on: 10.0.0.0/16 is a CIDR
};

/// What one account's Host admits.
struct AdmittedHosts {
  AddressSet addresses;  ///< the addresses known to be admitted
  /// Why (part of) what the Host admits cannot be turned into addresses,
  /// or why it admits no address although it looks like it would; "" when
  /// `addresses` is exactly what it admits. Follows the account in a
  /// finding ("'app'@'%.example.com' can match host names, ...").
  std::string problem;
  /// A host name (or name pattern) the server does not resolve
  /// (skip_name_resolve): it admits no client over TCP.
  bool unresolvedName = false;
};

/// The addresses `host` (mysql.user's Host) admits:
///   - "%" and "" every address, IPv4 and IPv6;
///   - a pattern with % (any run of characters) and _ (one character): the
///     IPv4 addresses whose dotted text it matches; one that could also
///     match an IPv6 address's text or a host name reports that part;
///   - an IPv4 or IPv6 address;
///   - IP/NETMASK (contiguous, no address bits outside it);
///   - IP/PREFIX where the server reads it (MySQL 8.0.23 on);
///   - "localhost": 127.0.0.1 and ::1;
///   - a host name: what `resolver` finds, when the server resolves names.
AdmittedHosts admittedHosts(const std::string& host, const HostMatching& matching,
                            const HostResolver& resolver, AddressSpace& space);

/// One row of mysql.user.
struct Account {
  std::string user;
  std::string host;
};

/// 'app'@'10.0.%', quotes and backslashes escaped.
std::string accountName(const Account& account);

/// The outcome of comparing the accounts with the declared CIDRs.
struct AclComparison {
  std::vector<std::string> findings;  ///< one line each; empty when they match
  std::string summary;                ///< the last line
  bool matches() const { return findings.empty(); }
};

/// Compares `accounts` (roles and internal accounts already left out) with
/// `declared`: each declared network must be admitted entirely by the
/// accounts of `users` (all accounts when empty); every account admitting
/// an address outside the declared networks is a finding, and so is every
/// account whose Host cannot be turned into addresses. Accounts admitting
/// only loopback addresses, and loopback addresses admitted by others, are
/// left out unless a declared network is loopback.
AclComparison compareAccounts(const std::vector<Network>& declared,
                              const std::vector<std::string>& users,
                              const std::vector<Account>& accounts, const HostMatching& matching,
                              const HostResolver& resolver);

}  // namespace mig::drivers::mysql
