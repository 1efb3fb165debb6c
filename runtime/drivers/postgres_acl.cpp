// acl-verify for PostgreSQL: the addresses a plan declares for a target
// against the host rules of its pg_hba.conf, read from pg_hba_file_rules.
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>

#include "runtime/drivers/driver.h"
#include "runtime/drivers/networks.h"
#include "runtime/drivers/pg_client.h"
#include "runtime/drivers/text.h"

namespace mig::drivers {
namespace {

/// "line 7" or "lines 7, 9".
std::string linesText(const std::vector<int>& lines) {
  std::vector<std::string> numbers;
  for (int line : lines) numbers.push_back(std::to_string(line));
  return fmt::format("{} {}", lines.size() == 1 ? "line" : "lines", text::joined(numbers, ", "));
}

// ---------------------------------------------------------------------------
// acl-verify

/// What pg_hba allows, sorted out for the comparison.
struct HbaRules {
  std::map<Network, std::vector<int>> allowed;  ///< network -> lines allowing it
  std::vector<int> localLines;
  std::vector<std::pair<std::string, int>> rejecting;     ///< address, line
  std::vector<std::pair<int, std::string>> uncomparable;  ///< line, what it allows
  std::vector<std::pair<int, std::string>> errors;        ///< line, error
};

const std::set<std::string>& hostRuleTypes() {
  static const std::set<std::string> types = {"host", "hostssl", "hostnossl", "hostgssenc",
                                              "hostnogssenc"};
  return types;
}

/// Sorts pg_hba_file_rules rows (line, type, address, netmask, auth_method, error).
HbaRules sortRules(const pg::Rows& rows) {
  HbaRules rules;
  for (int row = 0; row < rows.size(); ++row) {
    int line = static_cast<int>(rows.integer(row, 0));
    const std::string type = rows.text(row, 1);
    const std::string address = rows.text(row, 2);
    const std::string netmask = rows.text(row, 3);
    const std::string method = rows.text(row, 4);
    const std::string error = rows.text(row, 5);
    if (!error.empty()) {
      rules.errors.emplace_back(line, error);
      continue;
    }
    if (type == "local") {
      rules.localLines.push_back(line);
      continue;
    }
    if (!hostRuleTypes().contains(type)) continue;
    std::optional<Network> network;
    Network parsed;
    if (parseAddress(address, parsed)) {
      std::optional<int> prefix =
          netmask.empty() ? parsed.bits() : prefixOfNetmask(netmask, parsed.family);
      if (prefix) {
        parsed.prefix = *prefix;
        parsed.clearHostBits();
        network = parsed;
      }
    }
    if (method == "reject") {
      rules.rejecting.emplace_back(network ? network->text() : address, line);
      continue;
    }
    if (network) {
      rules.allowed[*network].push_back(line);
      continue;
    }
    std::string what;
    if (address == "all") {
      what = "all (any address)";
    } else if (address == "samehost") {
      what = "samehost (the server's own addresses)";
    } else if (address == "samenet") {
      what = "samenet (any subnet the server is on)";
    } else if (parseAddress(address, parsed)) {
      what = fmt::format("{} with the netmask {}", address, netmask);
    } else {
      what = fmt::format("the host name {}", address);
    }
    rules.uncomparable.emplace_back(line, what);
  }
  return rules;
}

std::string aclQuery() {
  return "SELECT line_number, coalesce(type, ''), coalesce(address, ''), coalesce(netmask, ''), "
         "coalesce(auth_method, ''), translate(coalesce(error, ''), E'\\n\\r', '  ') "
         "FROM pg_hba_file_rules ORDER BY line_number";
}

}  // namespace

int postgresAclVerify(const DriverArgs& args, std::ostream& out, std::ostream& err) {
  auto url = args.require("url", err);
  if (!url) return 2;
  std::optional<std::vector<Network>> parsed = declaredNetworks(args.rest, err);
  if (!parsed) return 2;
  const std::vector<Network>& declared = *parsed;

  Result<std::unique_ptr<pg::Connection>> connection = pg::Connection::open(*url, "target");
  if (!connection) {
    err << "acl-verify: " << connection.error() << '\n';
    return 1;
  }
  Result<pg::Rows> output = (*connection)->query(aclQuery());
  if (!output) {
    err << "acl-verify: cannot read pg_hba_file_rules at " << (*connection)->where() << ": "
        << output.error() << '\n';
    if (output.error().find("permission denied") != std::string::npos) {
      std::string role = pg::userIn(*url);
      if (role.empty()) role = "ROLE";
      err << "acl-verify: reading pg_hba_file_rules needs a superuser, or (PostgreSQL 15) a "
             "role granted both: GRANT SELECT ON pg_hba_file_rules TO "
          << role << "; GRANT EXECUTE ON FUNCTION pg_hba_file_rules() TO " << role << ";\n";
    }
    return 1;
  }
  HbaRules rules = sortRules(*output);

  if (!rules.localLines.empty()) {
    out << "ignoring local (unix socket) rules: " << linesText(rules.localLines) << '\n';
  }
  std::vector<std::string> loopback;
  std::vector<std::string> extra;
  for (const auto& [network, lines] : rules.allowed) {
    if (std::find(declared.begin(), declared.end(), network) != declared.end()) continue;
    std::string entry = fmt::format("{} ({})", network.text(), linesText(lines));
    (network.isLoopback() ? loopback : extra).push_back(std::move(entry));
  }
  if (!loopback.empty())
    out << "ignoring loopback host rules: " << text::joined(loopback, ", ") << '\n';
  if (!rules.rejecting.empty()) {
    std::vector<std::string> rejecting;
    for (const auto& [address, line] : rules.rejecting) {
      rejecting.push_back(fmt::format("{} ({})", address, linesText({line})));
    }
    out << "ignoring rules that reject: " << text::joined(rejecting, ", ") << '\n';
  }

  size_t missing = 0;
  size_t matchedLines = 0;
  for (const Network& network : declared) {
    auto rule = rules.allowed.find(network);
    if (rule != rules.allowed.end()) {
      matchedLines += rule->second.size();
      continue;
    }
    ++missing;
    out << "declared " << network.text() << " but pg_hba allows no host rule for it";
    std::vector<std::string> wider;
    for (const auto& [candidate, lines] : rules.allowed) {
      if (candidate.contains(network)) {
        wider.push_back(fmt::format("{} ({})", candidate.text(), linesText(lines)));
      }
    }
    if (!wider.empty()) out << "; wider rules contain it: " << text::joined(wider, ", ");
    out << '\n';
  }
  for (const std::string& entry : extra) out << "pg_hba allows " << entry << ", not declared\n";
  for (const auto& [line, what] : rules.uncomparable) {
    out << "pg_hba line " << line << " allows " << what
        << ", which cannot be compared with declared addresses\n";
  }
  for (const auto& [line, error] : rules.errors) {
    out << "pg_hba line " << line << " has an error: " << error << '\n';
  }

  std::vector<std::string> problems;
  if (missing > 0) {
    problems.push_back(text::counted(static_cast<long long>(missing), "declared entry missing",
                                     "declared entries missing"));
  }
  if (!extra.empty()) {
    problems.push_back(text::counted(static_cast<long long>(extra.size()), "rule not declared",
                                     "rules not declared"));
  }
  if (!rules.uncomparable.empty()) {
    problems.push_back(text::counted(static_cast<long long>(rules.uncomparable.size()),
                                     "rule that cannot be compared",
                                     "rules that cannot be compared"));
  }
  if (!rules.errors.empty()) {
    problems.push_back(text::counted(static_cast<long long>(rules.errors.size()),
                                     "line with an error", "lines with errors"));
  }
  if (!problems.empty()) {
    out << "acl differs from pg_hba: " << text::joined(problems, ", ") << '\n';
    return 1;
  }
  out << "acl matches pg_hba: "
      << text::counted(static_cast<long long>(declared.size()), "declared entry",
                       "declared entries")
      << ", " << text::counted(static_cast<long long>(matchedLines), "host rule") << '\n';
  return 0;
}

}  // namespace mig::drivers
