// acl-verify --kind mysql: the addresses a plan declares for a target
// against the host patterns of its accounts, read from mysql.user.

#include "runtime/drivers/mysql_acl.h"

#include <fmt/format.h>
#include <netdb.h>
#include <netinet/in.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <tuple>

#include "runtime/drivers/driver.h"
#include "runtime/drivers/mysql_client.h"
#include "runtime/drivers/text.h"

namespace mig::drivers::mysql {
namespace {

// ---------------------------------------------------------------------------
// Host patterns

/// One character of a host pattern.
struct PatternChar {
  enum class Kind { Literal, One, Run } kind = Kind::Literal;  ///< c, _ or %
  char c = 0;
};

/// The pattern's characters; a backslash makes the next one literal, as
/// the server's wild_compare does.
std::vector<PatternChar> patternChars(const std::string& host) {
  std::vector<PatternChar> chars;
  for (size_t at = 0; at < host.size(); ++at) {
    if (host[at] == '\\' && at + 1 < host.size()) {
      chars.push_back({PatternChar::Kind::Literal, host[++at]});
    } else if (host[at] == '%') {
      chars.push_back({PatternChar::Kind::Run, '%'});
    } else if (host[at] == '_') {
      chars.push_back({PatternChar::Kind::One, '_'});
    } else {
      chars.push_back({PatternChar::Kind::Literal, host[at]});
    }
  }
  return chars;
}

/// Matches text against a pattern one character at a time, keeping the
/// set of pattern positions reached (a string of 0/1 flags, one per
/// position and one for the end): the states the IPv4 walk memoizes on.
class WildcardMatcher {
 public:
  using States = std::string;

  explicit WildcardMatcher(std::vector<PatternChar> pattern) : pattern_(std::move(pattern)) {}

  States start() const {
    States states(pattern_.size() + 1, 0);
    states[0] = 1;
    return closed(std::move(states));
  }

  States step(const States& states, char c) const {
    States next(states.size(), 0);
    for (size_t at = 0; at < pattern_.size(); ++at) {
      if (!states[at]) continue;
      const PatternChar& p = pattern_[at];
      if (p.kind == PatternChar::Kind::Run) next[at] = 1;
      if (p.kind == PatternChar::Kind::One || (p.kind == PatternChar::Kind::Literal && p.c == c)) {
        next[at + 1] = 1;
      }
    }
    return closed(std::move(next));
  }

  static bool dead(const States& states) {
    return std::all_of(states.begin(), states.end(), [](char flag) { return flag == 0; });
  }
  bool accepts(const States& states) const { return states[pattern_.size()] != 0; }
  /// Whether every continuation matches: a reached position is followed by
  /// nothing but runs.
  bool acceptsAnyRest(const States& states) const {
    for (size_t at = 0; at <= pattern_.size(); ++at) {
      if (!states[at]) continue;
      bool onlyRuns =
          std::all_of(pattern_.begin() + static_cast<long>(at), pattern_.end(),
                      [](const PatternChar& p) { return p.kind == PatternChar::Kind::Run; });
      if (onlyRuns) return true;
    }
    return false;
  }

 private:
  /// A run also matches nothing: reaching it reaches what follows it.
  States closed(States states) const {
    for (size_t at = 0; at < pattern_.size(); ++at) {
      if (states[at] && pattern_[at].kind == PatternChar::Kind::Run) states[at + 1] = 1;
    }
    return states;
  }

  std::vector<PatternChar> pattern_;
};

/// The IPv4 addresses whose dotted text ("10.0.12.7") a pattern matches,
/// built octet by octet: the octets leading to the same matcher states
/// share one subtree, so the walk visits 256 values per distinct state and
/// level, never the addresses.
class Ipv4PatternWalk {
 public:
  Ipv4PatternWalk(const WildcardMatcher& matcher, AddressSpace& space)
      : matcher_(matcher), space_(space) {}

  uint32_t root() { return subtree(matcher_.start(), 0); }

 private:
  uint32_t subtree(const WildcardMatcher::States& states, int level) {
    auto key = std::make_pair(level, states);
    if (auto it = memo_.find(key); it != memo_.end()) return it->second;
    AddressSpace::Children children{};
    for (int octet = 0; octet < 256; ++octet) {
      std::string text = std::to_string(octet);
      if (level < 3) text += '.';
      WildcardMatcher::States next = states;
      for (char c : text) {
        next = matcher_.step(next, c);
        if (WildcardMatcher::dead(next)) break;
      }
      uint32_t child = AddressSpace::kNone;
      if (WildcardMatcher::dead(next)) {
        child = AddressSpace::kNone;
      } else if (level == 3) {
        child = matcher_.accepts(next) ? AddressSpace::kAll : AddressSpace::kNone;
      } else if (matcher_.acceptsAnyRest(next)) {
        child = AddressSpace::kAll;
      } else {
        child = subtree(next, level + 1);
      }
      children[static_cast<size_t>(octet)] = child;
    }
    return memo_[key] = space_.node(children);
  }

  const WildcardMatcher& matcher_;
  AddressSpace& space_;
  std::map<std::pair<int, WildcardMatcher::States>, uint32_t> memo_;
};

bool isDigit(char c) {
  return c >= '0' && c <= '9';
}

/// "10.", "192.168": text starting with digits and a dot, which the server
/// never takes for a host name (so "10.0.%" cannot match one).
bool startsWithDigitsAndDot(std::string_view text) {
  size_t digits = 0;
  while (digits < text.size() && isDigit(text[digits])) ++digits;
  return digits > 0 && digits < text.size() && text[digits] == '.';
}

/// What a wildcard pattern's literal characters allow it to match besides
/// dotted IPv4 text.
struct OtherMatches {
  bool ipv6Text = false;   ///< "2001:db8::7": hex digits and colons
  bool hostNames = false;  ///< "web1.example.com"
};

OtherMatches otherMatches(const std::vector<PatternChar>& chars) {
  std::string literals;
  std::string prefix;  // the literal characters before the first wildcard
  bool wildcardSeen = false;
  for (const PatternChar& p : chars) {
    if (p.kind != PatternChar::Kind::Literal) {
      wildcardSeen = true;
      continue;
    }
    literals += p.c;
    if (!wildcardSeen) prefix += p.c;
  }
  auto allOf = [&](auto allowed) { return std::all_of(literals.begin(), literals.end(), allowed); };
  OtherMatches other;
  // An IPv6 address's text has a dot only in a trailing IPv4 part, after a
  // colon: a pattern whose literal start holds a dot (and no colon) cannot
  // match one.
  other.ipv6Text = prefix.find('.') == std::string::npos && allOf([](char c) {
                     return std::isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.';
                   });
  other.hostNames = !startsWithDigitsAndDot(prefix) && allOf([](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_';
  });
  return other;
}

/// "255.255.0.0" for 16.
std::string netmaskText(int prefix) {
  Network mask;
  mask.prefix = 32;
  for (int bit = 0; bit < prefix; ++bit) {
    mask.bytes[static_cast<size_t>(bit / 8)] |= static_cast<uint8_t>(0x80 >> (bit % 8));
  }
  return mask.addressText();
}

/// IP/NETMASK and IP/PREFIX.
AdmittedHosts admittedByNetmask(const std::string& host, const HostMatching& matching,
                                AddressSpace& space) {
  AdmittedHosts admitted;
  const size_t slash = host.find('/');
  const std::string addressText = host.substr(0, slash);
  const std::string maskText = host.substr(slash + 1);
  Network network;
  if (!parseAddress(addressText, network)) {
    admitted.problem = fmt::format("admits no address: '{}' is not an IP address", addressText);
    return admitted;
  }
  if (network.family != AF_INET) {
    admitted.problem = "admits no address: the server reads IP/NETMASK for IPv4 addresses only";
    return admitted;
  }
  const bool prefixLength = !maskText.empty() && maskText.size() <= 2 &&
                            std::all_of(maskText.begin(), maskText.end(), isDigit);
  if (prefixLength) {
    network.prefix = std::stoi(maskText);
    if (network.prefix > 32) {
      admitted.problem = fmt::format("admits no address: /{} is not a prefix length", maskText);
      return admitted;
    }
    if (!matching.readsPrefixLength) {
      Network cleared = network;
      cleared.clearHostBits();
      admitted.problem =
          fmt::format("admits no address: the server reads IP/NETMASK, not a prefix length ({}/{})",
                      cleared.addressText(), netmaskText(network.prefix));
      return admitted;
    }
  } else {
    Network mask;
    if (!parseAddress(maskText, mask) || mask.family != AF_INET) {
      admitted.problem = fmt::format("admits no address: '{}' is not a netmask", maskText);
      return admitted;
    }
    std::optional<int> prefix = prefixOfNetmask(maskText, AF_INET);
    if (!prefix) {
      admitted.problem = fmt::format(
          "has a netmask that is not contiguous ({}), which cannot be compared", maskText);
      return admitted;
    }
    network.prefix = *prefix;
  }
  if (network.hasHostBits()) {
    // The server admits a client when its address AND the netmask is the
    // address given: never, when the address has bits outside the netmask.
    admitted.problem = fmt::format("admits no address: {} has bits outside the {} {}", addressText,
                                   prefixLength ? "prefix length" : "netmask", maskText);
    return admitted;
  }
  admitted.addresses = space.network(network);
  return admitted;
}

AdmittedHosts admittedByWildcard(const std::vector<PatternChar>& chars,
                                 const HostMatching& matching, AddressSpace& space) {
  AdmittedHosts admitted;
  WildcardMatcher matcher(chars);
  Ipv4PatternWalk walk(matcher, space);
  admitted.addresses.ipv4 = walk.root();
  const OtherMatches other = otherMatches(chars);
  std::vector<std::string> unknown;
  if (other.ipv6Text) unknown.push_back("IPv6 addresses");
  if (other.hostNames && matching.resolvesNames) unknown.push_back("host names");
  if (!unknown.empty()) {
    admitted.problem = fmt::format(
        "can match {}, which cannot be turned into addresses{}", text::joined(unknown, " and "),
        admitted.addresses == space.none() ? "" : " (its IPv4 addresses are checked)");
  } else if (admitted.addresses == space.none()) {
    if (other.hostNames) {
      admitted.unresolvedName = true;
    } else {
      admitted.problem = "admits no address";
    }
  }
  return admitted;
}

}  // namespace

Result<std::vector<Network>> SystemResolver::resolve(const std::string& name) const {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  int status = ::getaddrinfo(name.c_str(), nullptr, &hints, &found);
  if (status != 0) return Error{::gai_strerror(status)};
  std::vector<Network> networks;
  for (addrinfo* entry = found; entry != nullptr; entry = entry->ai_next) {
    Network network;
    if (entry->ai_family == AF_INET) {
      const auto* address = reinterpret_cast<const sockaddr_in*>(entry->ai_addr);
      std::memcpy(network.bytes.data(), &address->sin_addr, 4);
    } else if (entry->ai_family == AF_INET6) {
      const auto* address = reinterpret_cast<const sockaddr_in6*>(entry->ai_addr);
      std::memcpy(network.bytes.data(), &address->sin6_addr, 16);
    } else {
      continue;
    }
    network.family = entry->ai_family;
    network.prefix = network.bits();
    networks.push_back(network);
  }
  ::freeaddrinfo(found);
  return networks;
}

AdmittedHosts admittedHosts(const std::string& host, const HostMatching& matching,
                            const HostResolver& resolver, AddressSpace& space) {
  const std::vector<PatternChar> chars = patternChars(host);
  const bool onlyRuns = std::all_of(chars.begin(), chars.end(), [](const PatternChar& p) {
    return p.kind == PatternChar::Kind::Run;
  });
  // An empty Host matches every client, as % does (CREATE USER 'a'@''
  // stores %; an empty Host comes from older servers or direct writes).
  if (onlyRuns) return {space.every()};
  const bool wildcard = std::any_of(chars.begin(), chars.end(), [](const PatternChar& p) {
    return p.kind != PatternChar::Kind::Literal;
  });
  if (wildcard) return admittedByWildcard(chars, matching, space);
  if (host.find('/') != std::string::npos) return admittedByNetmask(host, matching, space);

  AdmittedHosts admitted;
  Network address;
  if (parseAddress(host, address)) {
    address.prefix = address.bits();
    admitted.addresses = space.network(address);
    return admitted;
  }
  std::string lower = host;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (lower == "localhost") {
    // Also the unix socket's clients, whatever skip_name_resolve says.
    admitted.addresses =
        space.unite(space.network(*parseNetwork("127.0.0.1")), space.network(*parseNetwork("::1")));
    return admitted;
  }
  if (startsWithDigitsAndDot(host)) {
    admitted.problem =
        "admits no address: it is not an IP address, and the server takes no host name "
        "starting with digits and a dot";
    return admitted;
  }
  if (!matching.resolvesNames) {
    admitted.unresolvedName = true;
    return admitted;
  }
  Result<std::vector<Network>> resolved = resolver.resolve(host);
  if (!resolved) {
    admitted.problem = fmt::format(
        "names a host that does not resolve here ({}): what it admits cannot be checked",
        resolved.error());
    return admitted;
  }
  for (const Network& network : *resolved) {
    admitted.addresses = space.unite(admitted.addresses, space.network(network));
  }
  return admitted;
}

std::string accountName(const Account& account) {
  auto quoted = [](const std::string& text) {
    std::string out = "'";
    for (char c : text) {
      if (c == '\'' || c == '\\') out += '\\';
      out += c;
    }
    return out + "'";
  };
  return quoted(account.user) + "@" + quoted(account.host);
}

namespace {

/// "10.0.0.0/8, of which 10.1.0.0-10.255.255.255 is not declared", said the
/// shorter way round.
std::string excessText(AddressSpace& space, AddressSet admitted, AddressSet declaredPart,
                       AddressSet excess) {
  std::string what = space.describe(admitted);
  if (declaredPart == space.none()) return what + ", not declared";
  const uint64_t declaredRanges = space.rangeCount(declaredPart);
  const uint64_t excessRanges = space.rangeCount(excess);
  if (declaredRanges < excessRanges) {
    return fmt::format("{}, of which only {} {} declared", what, space.describe(declaredPart),
                       declaredRanges == 1 ? "is" : "are");
  }
  return fmt::format("{}, of which {} {} not declared", what, space.describe(excess),
                     excessRanges == 1 ? "is" : "are");
}

}  // namespace

AclComparison compareAccounts(const std::vector<Network>& declared,
                              const std::vector<std::string>& users,
                              const std::vector<Account>& accounts, const HostMatching& matching,
                              const HostResolver& resolver) {
  AddressSpace space;
  AddressSet declaredSet = space.none();
  for (const Network& network : declared) {
    declaredSet = space.unite(declaredSet, space.network(network));
  }
  const AddressSet loopback =
      space.unite(space.network(*parseNetwork("127.0.0.0/8")), space.network(*parseNetwork("::1")));
  const bool loopbackDeclared = space.overlaps(declaredSet, loopback);
  // Loopback addresses are never "not declared" unless the plan speaks of them.
  const AddressSet notReported = loopbackDeclared ? space.none() : loopback;
  const std::set<std::string> named(users.begin(), users.end());

  AclComparison comparison;
  std::vector<std::string> accountFindings;
  AddressSet admittedByUsers = space.none();
  long long checked = 0;
  long long loopbackIgnored = 0;
  long long namesIgnored = 0;
  long long undeclared = 0;
  long long hostProblems = 0;
  for (const Account& account : accounts) {
    AdmittedHosts admitted = admittedHosts(account.host, matching, resolver, space);
    if (admitted.unresolvedName) {
      ++namesIgnored;
      continue;
    }
    if (admitted.problem.empty() && !loopbackDeclared && !(admitted.addresses == space.none()) &&
        space.contains(loopback, admitted.addresses)) {
      ++loopbackIgnored;
      continue;
    }
    ++checked;
    if (named.empty() || named.contains(account.user)) {
      admittedByUsers = space.unite(admittedByUsers, admitted.addresses);
    }
    const AddressSet excess =
        space.subtract(space.subtract(admitted.addresses, declaredSet), notReported);
    if (!(excess == space.none())) {
      ++undeclared;
      accountFindings.push_back(
          fmt::format("{} admits {}", accountName(account),
                      excessText(space, admitted.addresses,
                                 space.intersect(admitted.addresses, declaredSet), excess)));
    }
    if (!admitted.problem.empty()) {
      ++hostProblems;
      accountFindings.push_back(fmt::format("{} {}", accountName(account), admitted.problem));
    }
  }

  long long missing = 0;
  const std::string nobody =
      named.empty() ? "no account" : fmt::format("no account of {}", text::joined(users, ", "));
  for (const Network& network : declared) {
    const AddressSet wanted = space.network(network);
    const AddressSet notAdmitted = space.subtract(wanted, admittedByUsers);
    if (notAdmitted == space.none()) continue;
    ++missing;
    comparison.findings.push_back(
        notAdmitted == wanted ? fmt::format("declared {}: {} admits it", network.text(), nobody)
                              : fmt::format("declared {}: {} admits {} of it", network.text(),
                                            nobody, space.describe(notAdmitted)));
  }
  comparison.findings.insert(comparison.findings.end(), accountFindings.begin(),
                             accountFindings.end());

  std::vector<std::string> ignored;
  if (loopbackIgnored > 0) ignored.push_back(text::counted(loopbackIgnored, "loopback account"));
  if (namesIgnored > 0) {
    ignored.push_back(text::counted(namesIgnored, "account by host name", "accounts by host name") +
                      " (the server does not resolve names)");
  }
  const std::string ignoredText =
      ignored.empty() ? "" : "; ignored: " + text::joined(ignored, ", ");
  if (comparison.matches()) {
    comparison.summary = fmt::format("acl matches mysql.user: {}, {}{}",
                                     text::counted(static_cast<long long>(declared.size()),
                                                   "declared entry", "declared entries"),
                                     text::counted(checked, "account"), ignoredText);
    return comparison;
  }
  std::vector<std::string> problems;
  if (missing > 0) {
    problems.push_back(
        text::counted(missing, "declared entry missing", "declared entries missing"));
  }
  if (undeclared > 0) {
    problems.push_back(text::counted(undeclared, "account admitting undeclared addresses",
                                     "accounts admitting undeclared addresses"));
  }
  if (hostProblems > 0) {
    problems.push_back(
        text::counted(hostProblems, "account with a host problem", "accounts with host problems"));
  }
  comparison.summary =
      fmt::format("acl differs from mysql.user: {}{}", text::joined(problems, ", "), ignoredText);
  return comparison;
}

}  // namespace mig::drivers::mysql

namespace mig::drivers {
namespace {

/// Whether a MySQL (not MariaDB) version reads IP/PREFIX: 8.0.23 on.
bool readsPrefixLength(const std::string& version) {
  if (version.find("MariaDB") != std::string::npos) return false;
  int major = 0;
  int minor = 0;
  int patch = 0;
  if (std::sscanf(version.c_str(), "%d.%d.%d", &major, &minor, &patch) < 2) return false;
  return std::tie(major, minor, patch) >= std::tuple(8, 0, 23);
}

/// "shop_app, shop_report" as its names.
}  // namespace

// acl-verify --kind mysql: every account's host pattern against the
// declared CIDRs (see mysql_acl.h for what each pattern admits, and
// docs/drivers.md for what is and is not checked).
int mysqlAclVerify(const DriverArgs& args, std::ostream& out, std::ostream& err) {
  std::optional<mysql::Endpoint> endpoint = mysql::endpointArgument(args, "url", "target", err);
  if (!endpoint) return 2;
  std::optional<std::vector<Network>> parsed = declaredNetworks(args.rest, err);
  if (!parsed) return 2;
  const std::vector<Network>& declared = *parsed;
  const std::vector<std::string> named = mysql::usersArgument(args);

  Result<std::unique_ptr<mysql::Connection>> connection =
      mysql::Connection::open(*endpoint, /*useDatabase=*/false);
  if (!connection) {
    err << "acl-verify: " << connection.error() << '\n';
    return 1;
  }
  mysql::Connection& server = **connection;
  const std::string version = server.serverVersion();
  const bool mariadb = version.find("MariaDB") != std::string::npos;
  // MariaDB marks roles; MySQL's roles (and internal accounts) are locked
  // accounts, which admit no client.
  Result<mysql::Rows> rows =
      server.query(mariadb ? "SELECT User, Host, is_role = 'Y' FROM mysql.user"
                           : "SELECT User, Host, account_locked = 'Y' FROM mysql.user",
                   "reading the accounts (SELECT User, Host FROM mysql.user)");
  if (!rows) {
    err << "acl-verify: " << rows.error() << '\n';
    if (rows.error().find("denied") != std::string::npos) {
      Result<mysql::Rows> self = server.query("SELECT CURRENT_USER()");
      std::string account = self && !self->empty() ? self->text(0, 0) : "";
      size_t at = account.rfind('@');
      std::string grantee =
          at == std::string::npos
              ? "USER"
              : mysql::accountName({account.substr(0, at), account.substr(at + 1)});
      err << "acl-verify: reading the accounts needs SELECT on mysql.user: GRANT SELECT ON "
             "mysql.user TO "
          << grantee << ";\n";
    }
    return 1;
  }
  Result<mysql::Rows> skipNameResolve = server.query("SELECT @@skip_name_resolve");
  if (!skipNameResolve) {
    err << "acl-verify: " << skipNameResolve.error() << '\n';
    return 1;
  }

  std::vector<mysql::Account> accounts;
  for (size_t row = 0; row < rows->size(); ++row) {
    mysql::Account account{rows->text(row, 0), rows->text(row, 1)};
    if (rows->text(row, 2) == "1") continue;                 // a role, or locked
    if (mariadb && account.user == "mariadb.sys") continue;  // owns mysql.user's view
    accounts.push_back(std::move(account));
  }
  std::sort(accounts.begin(), accounts.end(), [](const auto& a, const auto& b) {
    return std::tie(a.user, a.host) < std::tie(b.user, b.host);
  });
  mysql::HostMatching matching;
  matching.resolvesNames = skipNameResolve->text(0, 0) != "1";
  matching.readsPrefixLength = readsPrefixLength(version);
  mysql::AclComparison comparison =
      mysql::compareAccounts(declared, named, accounts, matching, mysql::SystemResolver());
  for (const std::string& finding : comparison.findings) out << finding << '\n';
  out << comparison.summary << '\n';
  return comparison.matches() ? 0 : 1;
}

}  // namespace mig::drivers
