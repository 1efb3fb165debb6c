// The PostgreSQL drivers: wipe a database, compare two, verify pg_hba
// against a declared ACL. They reach servers through `psql` subprocesses
// only; the password comes from the PGPASSFILE the runtime puts in the
// environment, never from arguments.
#include <arpa/inet.h>
#include <fmt/format.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <map>
#include <set>
#include <string_view>
#include <thread>

#include "runtime/drivers/driver.h"
#include "runtime/drivers/subprocess.h"

namespace mig::drivers {
namespace {

constexpr char kFieldSeparator = '\x1f';
constexpr auto kPsqlTimeout = std::chrono::hours(24);

// ---------------------------------------------------------------------------
// Connection strings and messages

/// Where a password may sit in a connection string: `scheme://user:PW@host`
/// or `password=PW` (a URL query or a conninfo string). Empty when none.
std::string passwordIn(std::string_view url) {
  size_t scheme = url.find("://");
  if (scheme != std::string_view::npos) {
    std::string_view rest = url.substr(scheme + 3);
    std::string_view authority = rest.substr(0, rest.find_first_of("/?"));
    size_t at = authority.rfind('@');
    if (at != std::string_view::npos) {
      std::string_view userinfo = authority.substr(0, at);
      size_t colon = userinfo.find(':');
      if (colon != std::string_view::npos) return std::string(userinfo.substr(colon + 1));
    }
  }
  size_t key = url.find("password=");
  if (key == std::string_view::npos) return "";
  std::string_view value = url.substr(key + 9);
  if (value.starts_with('\'')) value = value.substr(1, value.find('\'', 1) - 1);
  return std::string(value.substr(0, value.find_first_of("& ")));
}

/// The user named in a connection URL, or "" when it names none.
std::string userIn(std::string_view url) {
  size_t scheme = url.find("://");
  if (scheme == std::string_view::npos) return "";
  std::string_view rest = url.substr(scheme + 3);
  std::string_view authority = rest.substr(0, rest.find_first_of("/?"));
  size_t at = authority.rfind('@');
  if (at == std::string_view::npos) return "";
  std::string_view userinfo = authority.substr(0, at);
  return std::string(userinfo.substr(0, userinfo.find(':')));
}

/// `text` with every occurrence of `secret` replaced by "***".
std::string redact(std::string text, const std::string& secret) {
  if (secret.empty()) return text;
  for (size_t at = text.find(secret); at != std::string::npos; at = text.find(secret, at + 3)) {
    text.replace(at, secret.size(), "***");
  }
  return text;
}

std::string trimmed(std::string_view text) {
  size_t begin = text.find_first_not_of(" \t\r\n");
  if (begin == std::string_view::npos) return "";
  size_t end = text.find_last_not_of(" \t\r\n");
  return std::string(text.substr(begin, end - begin + 1));
}

std::string joined(const std::vector<std::string>& words, std::string_view separator) {
  std::string text;
  for (const std::string& word : words) {
    if (!text.empty()) text += separator;
    text += word;
  }
  return text;
}

/// "1 table", "2 tables"; `plural` defaults to `singular` + "s".
std::string counted(long long count, std::string_view singular, std::string_view plural = "") {
  if (count == 1) return fmt::format("1 {}", singular);
  if (plural.empty()) return fmt::format("{} {}s", count, singular);
  return fmt::format("{} {}", count, plural);
}

/// 1234567 as "1,234,567".
std::string withThousands(long long number) {
  std::string digits = std::to_string(number < 0 ? -number : number);
  std::string text;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) text += ',';
    text += digits[i];
  }
  return number < 0 ? "-" + text : text;
}

/// "line 7" or "lines 7, 9".
std::string linesText(const std::vector<int>& lines) {
  std::vector<std::string> numbers;
  for (int line : lines) numbers.push_back(std::to_string(line));
  return fmt::format("{} {}", lines.size() == 1 ? "line" : "lines", joined(numbers, ", "));
}

// ---------------------------------------------------------------------------
// psql

using Row = std::vector<std::string>;

/// The rows a psql script printed (tuples only, fields split), or why it failed.
struct PsqlOutput {
  std::vector<Row> rows;
  std::string error;  ///< psql's message, password redacted; empty on success

  bool ok() const { return error.empty(); }
};

/// Runs `script` in one psql session on `url`. Every result row comes back
/// split into fields; names must not contain newlines (see `sqlName`).
PsqlOutput runPsql(const std::string& url, const std::string& script) {
  SubprocessRequest request;
  request.argv = {"psql",           "--no-psqlrc",
                  "--quiet",        "--set=ON_ERROR_STOP=1",
                  "--no-password",  "--no-align",
                  "--tuples-only",  std::string("--field-separator=") + kFieldSeparator,
                  "--dbname=" + url};
  request.input = script;
  request.timeout = kPsqlTimeout;
  if (std::getenv("PGCONNECT_TIMEOUT") == nullptr) {
    request.env.emplace_back("PGCONNECT_TIMEOUT", "10");
  }
  if (std::getenv("PGAPPNAME") == nullptr) request.env.emplace_back("PGAPPNAME", "mig driver");
  SubprocessResult result = runSubprocess(request);

  PsqlOutput output;
  if (!result.succeeded()) {
    std::string message = trimmed(result.err);
    if (message.empty()) message = describeFailure(request, result);
    output.error = redact(message, passwordIn(url));
    return output;
  }
  size_t start = 0;
  while (start < result.out.size()) {
    size_t end = result.out.find('\n', start);
    if (end == std::string::npos) end = result.out.size();
    std::string_view line(result.out.data() + start, end - start);
    start = end + 1;
    if (line.empty()) continue;
    Row row;
    size_t fieldStart = 0;
    while (true) {
      size_t separator = line.find(kFieldSeparator, fieldStart);
      row.emplace_back(line.substr(fieldStart, separator - fieldStart));
      if (separator == std::string_view::npos) break;
      fieldStart = separator + 1;
    }
    output.rows.push_back(std::move(row));
  }
  return output;
}

/// SQL for a printable, one-line name: identifiers quoted where needed,
/// control characters that would break the output turned into spaces.
std::string sqlName(std::string_view format, std::string_view arguments) {
  return fmt::format("translate(format('{}', {}), E'\\n\\r\\x1f', '   ')", format, arguments);
}

/// SQL: true for the schemas a user owns things in (not pg_*, not information_schema).
std::string userSchema(std::string_view column) {
  return fmt::format("({0} NOT LIKE 'pg\\_%' AND {0} <> 'information_schema')", column);
}

/// Catches what a driver body might throw (allocation, threads) and turns
/// it into a message and exit code 1: no exception leaves a driver.
template <typename Body>
int guarded(std::string_view driver, std::ostream& err, Body body) {
  try {
    return body();
  } catch (const std::exception& exception) {
    err << driver << ": " << exception.what() << '\n';
    return 1;
  }
}

// ---------------------------------------------------------------------------
// postgres-wipe

std::string wipeScript() {
  std::string schemaFilter = userSchema("n.nspname");
  return fmt::format(R"SQL(SET client_min_messages = warning;
SELECT 'schema', {name} FROM pg_namespace n WHERE {filter} ORDER BY 2;
SELECT 'extension', {extension} FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
 WHERE {filter} ORDER BY 2;
SELECT 'publication', {publication} FROM pg_publication p ORDER BY 2;
SELECT 'large objects', count(*) FROM pg_largeobject_metadata;
SELECT format('DROP PUBLICATION IF EXISTS %I', p.pubname) FROM pg_publication p \gexec
SELECT format('DROP EXTENSION IF EXISTS %I CASCADE', e.extname)
  FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE {filter} \gexec
SELECT format('DROP SCHEMA IF EXISTS %I CASCADE', n.nspname)
  FROM pg_namespace n WHERE {filter} \gexec
DO $$ BEGIN PERFORM lo_unlink(oid) FROM pg_largeobject_metadata; END $$;
CREATE SCHEMA public;
GRANT USAGE ON SCHEMA public TO PUBLIC;
)SQL",
                     fmt::arg("filter", schemaFilter), fmt::arg("name", sqlName("%I", "n.nspname")),
                     fmt::arg("extension", sqlName("%I", "e.extname")),
                     fmt::arg("publication", sqlName("%I", "p.pubname")));
}

/// "schema public", "schemas a, b", or "" for none.
std::string namedList(std::string_view singular, const std::vector<std::string>& names) {
  if (names.empty()) return "";
  return fmt::format("{} {}",
                     names.size() == 1 ? std::string(singular) : std::string(singular) + "s",
                     joined(names, ", "));
}

// ---------------------------------------------------------------------------
// postgres-compare

struct TableStats {
  long long rows = 0;
  std::string checksum;
};

/// What one database holds, as far as a comparison looks.
struct DatabaseSnapshot {
  std::map<std::string, TableStats> tables;
  std::map<std::string, std::string> views;       ///< name -> "view" or "materialized view"
  std::map<std::string, std::string> sequences;   ///< name -> last value ("" never used)
  std::map<std::string, std::string> indexes;     ///< name -> definition
  std::map<std::string, std::string> extensions;  ///< name -> version

  long long totalRows() const {
    long long total = 0;
    for (const auto& [name, stats] : tables) total += stats.rows;
    return total;
  }
  std::string tablesAndRows() const {
    return fmt::format("{}, {} rows", counted(static_cast<long long>(tables.size()), "table"),
                       withThousands(totalRows()));
  }
};

std::string snapshotScript() {
  std::string filter = userSchema("n.nspname");
  // One query per table, generated and run by \gexec: the exact row count
  // and the sum of the first 60 bits of every row's md5 (numeric, so no
  // overflow): equal sums with equal counts mean equal contents, in any order.
  return fmt::format(R"SQL(SET client_min_messages = warning;
SET statement_timeout = 0;
SET default_transaction_read_only = on;
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
SET IntervalStyle = 'postgres';
SET extra_float_digits = 1;
SET bytea_output = 'hex';
SELECT format('SELECT %L, %L, count(*), '
              || 'coalesce(sum((''x'' || substr(md5(ROW(mig_row.*)::text), 1, 15))'
              || '::bit(60)::bigint), 0) '
              || 'FROM ONLY %I.%I AS mig_row',
              'table', {table}, n.nspname, c.relname)
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p') AND {filter} ORDER BY 1 \gexec
SELECT CASE c.relkind WHEN 'm' THEN 'materialized view' ELSE 'view' END, {table}
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('v', 'm') AND {filter};
SELECT 'sequence', {sequence}, coalesce(s.last_value::text, '')
  FROM pg_sequences s WHERE {sequenceFilter};
SELECT 'index', {index}, translate(i.indexdef, E'\n\r\x1f', '   ')
  FROM pg_indexes i WHERE {indexFilter};
SELECT 'extension', {extension}, e.extversion FROM pg_extension e;
)SQL",
                     fmt::arg("filter", filter),
                     fmt::arg("table", sqlName("%I.%I", "n.nspname, c.relname")),
                     fmt::arg("sequence", sqlName("%I.%I", "s.schemaname, s.sequencename")),
                     fmt::arg("sequenceFilter", userSchema("s.schemaname")),
                     fmt::arg("index", sqlName("%I.%I", "i.schemaname, i.indexname")),
                     fmt::arg("indexFilter", userSchema("i.schemaname")),
                     fmt::arg("extension", sqlName("%I", "e.extname")));
}

/// Reads a snapshot of `url`; false with `error` set when psql fails.
bool takeSnapshot(const std::string& url, DatabaseSnapshot& snapshot, std::string& error) {
  PsqlOutput output = runPsql(url, snapshotScript());
  if (!output.ok()) {
    error = output.error;
    return false;
  }
  for (const Row& row : output.rows) {
    const std::string& kind = row[0];
    if (kind == "table" && row.size() == 4) {
      snapshot.tables[row[1]] = TableStats{std::stoll(row[2]), row[3]};
    } else if ((kind == "view" || kind == "materialized view") && row.size() == 2) {
      snapshot.views[row[1]] = kind;
    } else if (kind == "sequence" && row.size() == 3) {
      snapshot.sequences[row[1]] = row[2];
    } else if (kind == "index" && row.size() == 3) {
      snapshot.indexes[row[1]] = row[2];
    } else if (kind == "extension" && row.size() == 3) {
      snapshot.extensions[row[1]] = row[2];
    } else {
      error = fmt::format("unexpected output from psql: '{}'", joined(row, " "));
      return false;
    }
  }
  return true;
}

/// Appends "KIND NAME only in a|b" for names in one map only, and
/// `differ(name, a, b)` (when not empty) for names in both. `kindOf(value)`
/// names what the entry is ("table", "materialized view").
template <typename Value, typename KindOf, typename Differ>
void compareByName(KindOf kindOf, const std::map<std::string, Value>& a,
                   const std::map<std::string, Value>& b, Differ differ,
                   std::vector<std::string>& differences) {
  std::set<std::string> names;
  for (const auto& entry : a) names.insert(entry.first);
  for (const auto& entry : b) names.insert(entry.first);
  for (const std::string& name : names) {
    auto inA = a.find(name);
    auto inB = b.find(name);
    if (inB == b.end()) {
      differences.push_back(fmt::format("{} {} only in a", kindOf(inA->second), name));
    } else if (inA == a.end()) {
      differences.push_back(fmt::format("{} {} only in b", kindOf(inB->second), name));
    } else if (std::string difference = differ(name, inA->second, inB->second);
               !difference.empty()) {
      differences.push_back(std::move(difference));
    }
  }
}

/// `kindOf` for maps whose entries are all of one kind.
auto always(std::string_view kind) {
  return [kind](const auto&) { return kind; };
}

std::vector<std::string> differencesBetween(const DatabaseSnapshot& a, const DatabaseSnapshot& b) {
  std::vector<std::string> differences;
  compareByName(
      always("table"), a.tables, b.tables,
      [](const std::string& name, const TableStats& x, const TableStats& y) -> std::string {
        if (x.rows != y.rows) {
          return fmt::format("table {}: {} in a, {} in b", name, counted(x.rows, "row"), y.rows);
        }
        if (x.checksum != y.checksum) {
          return fmt::format("table {}: {} in both, but different contents (checksum)", name,
                             counted(x.rows, "row"));
        }
        return "";
      },
      differences);
  compareByName(
      [](const std::string& kind) { return kind; }, a.views, b.views,
      [](const std::string& name, const std::string& x, const std::string& y) -> std::string {
        if (x == y) return "";
        return fmt::format("view {}: a {} in a, a {} in b", name, x, y);
      },
      differences);
  compareByName(
      always("sequence"), a.sequences, b.sequences,
      [](const std::string& name, const std::string& x, const std::string& y) -> std::string {
        if (x == y) return "";
        auto shown = [](const std::string& value) { return value.empty() ? "none" : value; };
        return fmt::format("sequence {}: last value {} in a, {} in b", name, shown(x), shown(y));
      },
      differences);
  compareByName(
      always("index"), a.indexes, b.indexes,
      [](const std::string& name, const std::string& x, const std::string& y) -> std::string {
        if (x == y) return "";
        return fmt::format("index {}: defined differently\n  a: {}\n  b: {}", name, x, y);
      },
      differences);
  compareByName(
      always("extension"), a.extensions, b.extensions,
      [](const std::string& name, const std::string& x, const std::string& y) -> std::string {
        if (x == y) return "";
        return fmt::format("extension {}: version {} in a, {} in b", name, x, y);
      },
      differences);
  return differences;
}

// ---------------------------------------------------------------------------
// acl-verify

/// An IPv4 or IPv6 network, host bits cleared.
struct Network {
  int family = AF_INET;
  std::array<uint8_t, 16> bytes{};
  int prefix = 0;

  int bits() const { return family == AF_INET ? 32 : 128; }
  auto operator<=>(const Network&) const = default;

  std::string text() const {
    std::array<char, INET6_ADDRSTRLEN> buffer{};
    ::inet_ntop(family, bytes.data(), buffer.data(), buffer.size());
    return fmt::format("{}/{}", buffer.data(), prefix);
  }

  /// True when every address of `inner` is in this network.
  bool contains(const Network& inner) const {
    if (inner.family != family || inner.prefix < prefix) return false;
    for (int bit = 0; bit < prefix; ++bit) {
      uint8_t mask = static_cast<uint8_t>(0x80 >> (bit % 8));
      if ((bytes[bit / 8] & mask) != (inner.bytes[bit / 8] & mask)) return false;
    }
    return true;
  }

  bool isLoopback() const {
    if (family == AF_INET) return prefix >= 8 && bytes[0] == 127;
    Network ipv6Loopback{AF_INET6, {}, 128};
    ipv6Loopback.bytes[15] = 1;
    return *this == ipv6Loopback;
  }

  void clearHostBits() {
    for (int bit = prefix; bit < bits(); ++bit) {
      bytes[bit / 8] &= static_cast<uint8_t>(~(0x80 >> (bit % 8)));
    }
  }
};

/// Parses an address; `family` says which kind it was.
bool parseAddress(const std::string& text, Network& network) {
  if (::inet_pton(AF_INET, text.c_str(), network.bytes.data()) == 1) {
    network.family = AF_INET;
    return true;
  }
  if (::inet_pton(AF_INET6, text.c_str(), network.bytes.data()) == 1) {
    network.family = AF_INET6;
    return true;
  }
  return false;
}

/// "10.1.0.0/24", "203.0.113.7" (a /32), "2001:db8::/48", "::1" (a /128).
std::optional<Network> parseNetwork(const std::string& text) {
  Network network;
  size_t slash = text.find('/');
  if (!parseAddress(text.substr(0, slash), network)) return std::nullopt;
  network.prefix = network.bits();
  if (slash != std::string::npos) {
    std::string prefix = text.substr(slash + 1);
    if (prefix.empty() || prefix.size() > 3 ||
        !std::all_of(prefix.begin(), prefix.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return std::nullopt;
    }
    network.prefix = std::stoi(prefix);
    if (network.prefix > network.bits()) return std::nullopt;
  }
  network.clearHostBits();
  return network;
}

/// The prefix length of a contiguous netmask ("255.255.255.0" -> 24).
std::optional<int> prefixOfNetmask(const std::string& text, int family) {
  Network mask;
  if (!parseAddress(text, mask) || mask.family != family) return std::nullopt;
  int prefix = 0;
  while (prefix < mask.bits() && (mask.bytes[prefix / 8] & (0x80 >> (prefix % 8))) != 0) ++prefix;
  for (int bit = prefix; bit < mask.bits(); ++bit) {
    if ((mask.bytes[bit / 8] & (0x80 >> (bit % 8))) != 0) return std::nullopt;
  }
  return prefix;
}

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
HbaRules sortRules(const std::vector<Row>& rows) {
  HbaRules rules;
  for (const Row& row : rows) {
    if (row.size() != 6) continue;
    int line = std::atoi(row[0].c_str());
    const std::string& type = row[1];
    const std::string& address = row[2];
    const std::string& netmask = row[3];
    const std::string& method = row[4];
    const std::string& error = row[5];
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

std::string aclScript() {
  return "SELECT line_number, coalesce(type, ''), coalesce(address, ''), coalesce(netmask, ''), "
         "coalesce(auth_method, ''), translate(coalesce(error, ''), E'\\n\\r\\x1f', '   ') "
         "FROM pg_hba_file_rules ORDER BY line_number;\n";
}

}  // namespace

int postgresWipe(const DriverArgs& args, std::ostream& out, std::ostream& err) {
  return guarded("postgres-wipe", err, [&] {
    auto url = args.require("db", err);
    if (!url) return 2;
    PsqlOutput output = runPsql(*url, wipeScript());
    if (!output.ok()) {
      err << "postgres-wipe: cannot wipe " << redact(*url, passwordIn(*url)) << ": " << output.error
          << '\n';
      return 1;
    }
    std::vector<std::string> schemas;
    std::vector<std::string> extensions;
    std::vector<std::string> publications;
    long long largeObjects = 0;
    for (const Row& row : output.rows) {
      if (row.size() != 2) continue;
      if (row[0] == "schema") schemas.push_back(row[1]);
      if (row[0] == "extension") extensions.push_back(row[1]);
      if (row[0] == "publication") publications.push_back(row[1]);
      if (row[0] == "large objects") largeObjects = std::atoll(row[1].c_str());
    }
    std::vector<std::string> dropped;
    for (std::string part : {namedList("schema", schemas), namedList("extension", extensions),
                             namedList("publication", publications)}) {
      if (!part.empty()) dropped.push_back(std::move(part));
    }
    if (largeObjects > 0) dropped.push_back(counted(largeObjects, "large object"));
    out << "wiped: "
        << (dropped.empty() ? std::string("nothing to drop") : "dropped " + joined(dropped, "; "))
        << "; created an empty schema public\n";
    return 0;
  });
}

int postgresCompare(const DriverArgs& args, std::ostream& out, std::ostream& err) {
  return guarded("postgres-compare", err, [&] {
    auto urlA = args.require("a", err);
    auto urlB = args.require("b", err);
    if (!urlA || !urlB) return 2;

    DatabaseSnapshot a;
    DatabaseSnapshot b;
    std::string errorA;
    std::string errorB;
    bool readA = false;
    bool readB = false;
    {
      // Both databases are read at once: the comparison takes as long as the bigger one.
      std::thread readerB([&] { readB = takeSnapshot(*urlB, b, errorB); });
      readA = takeSnapshot(*urlA, a, errorA);
      readerB.join();
    }
    if (!readA) {
      err << "postgres-compare: cannot read a (" << redact(*urlA, passwordIn(*urlA))
          << "): " << errorA << '\n';
    }
    if (!readB) {
      err << "postgres-compare: cannot read b (" << redact(*urlB, passwordIn(*urlB))
          << "): " << errorB << '\n';
    }
    if (!readA || !readB) return 1;

    std::vector<std::string> differences = differencesBetween(a, b);
    if (differences.empty()) {
      out << fmt::format("{}, {}, {}, {}: identical\n", a.tablesAndRows(),
                         counted(static_cast<long long>(a.views.size()), "view"),
                         counted(static_cast<long long>(a.sequences.size()), "sequence"),
                         counted(static_cast<long long>(a.indexes.size()), "index", "indexes"));
      return 0;
    }
    for (const std::string& difference : differences) out << difference << '\n';
    out << fmt::format("{} (a: {}; b: {})\n",
                       counted(static_cast<long long>(differences.size()), "difference"),
                       a.tablesAndRows(), b.tablesAndRows());
    return 1;
  });
}

int postgresAclVerify(const DriverArgs& args, std::ostream& out, std::ostream& err) {
  return guarded("acl-verify", err, [&] {
    auto url = args.require("url", err);
    if (!url) return 2;
    std::vector<Network> declared;
    for (const std::string& entry : args.rest) {
      std::optional<Network> network = parseNetwork(entry);
      if (!network) {
        err << "acl-verify: '" << entry << "' is not an IP address or CIDR\n";
        return 2;
      }
      if (std::find(declared.begin(), declared.end(), *network) == declared.end()) {
        declared.push_back(*network);
      }
    }

    PsqlOutput output = runPsql(*url, aclScript());
    if (!output.ok()) {
      err << "acl-verify: cannot read pg_hba_file_rules at " << redact(*url, passwordIn(*url))
          << ": " << output.error << '\n';
      if (output.error.find("permission denied") != std::string::npos) {
        std::string role = userIn(*url);
        if (role.empty()) role = "ROLE";
        err << "acl-verify: reading pg_hba_file_rules needs a superuser, or (PostgreSQL 15) a "
               "role granted both: GRANT SELECT ON pg_hba_file_rules TO "
            << role << "; GRANT EXECUTE ON FUNCTION pg_hba_file_rules() TO " << role << ";\n";
      }
      return 1;
    }
    HbaRules rules = sortRules(output.rows);

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
      out << "ignoring loopback host rules: " << joined(loopback, ", ") << '\n';
    if (!rules.rejecting.empty()) {
      std::vector<std::string> rejecting;
      for (const auto& [address, line] : rules.rejecting) {
        rejecting.push_back(fmt::format("{} ({})", address, linesText({line})));
      }
      out << "ignoring rules that reject: " << joined(rejecting, ", ") << '\n';
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
      if (!wider.empty()) out << "; wider rules contain it: " << joined(wider, ", ");
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
      problems.push_back(counted(static_cast<long long>(missing), "declared entry missing",
                                 "declared entries missing"));
    }
    if (!extra.empty()) {
      problems.push_back(
          counted(static_cast<long long>(extra.size()), "rule not declared", "rules not declared"));
    }
    if (!rules.uncomparable.empty()) {
      problems.push_back(counted(static_cast<long long>(rules.uncomparable.size()),
                                 "rule that cannot be compared", "rules that cannot be compared"));
    }
    if (!rules.errors.empty()) {
      problems.push_back(counted(static_cast<long long>(rules.errors.size()), "line with an error",
                                 "lines with errors"));
    }
    if (!problems.empty()) {
      out << "acl differs from pg_hba: " << joined(problems, ", ") << '\n';
      return 1;
    }
    out << "acl matches pg_hba: "
        << counted(static_cast<long long>(declared.size()), "declared entry", "declared entries")
        << ", " << counted(static_cast<long long>(matchedLines), "host rule") << '\n';
    return 0;
  });
}

}  // namespace mig::drivers
