#include "runtime/drivers/redis_common.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>

namespace mig::drivers::redis {

double secondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string mebibytes(int64_t bytes) {
  return fmt::format("{:.1f} MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
}

std::string duration(double seconds) {
  return seconds < 1 ? fmt::format("{:.3f}s", seconds) : fmt::format("{:.1f}s", seconds);
}

namespace {

/// Where foreign text begins and ends in a message: bytes `printable` never
/// leaves in a name, and `foreign` escapes in a reply.
constexpr char kForeignBegin = '\x1e';
constexpr char kForeignEnd = '\x1f';

}  // namespace

std::string foreign(std::string_view text) {
  std::string out(1, kForeignBegin);
  for (char c : text) {
    if (c == kForeignBegin || c == kForeignEnd) {
      out += printable(std::string_view(&c, 1));
    } else {
      out += c;
    }
  }
  out += kForeignEnd;
  return out;
}

std::string shown(std::string_view name) {
  return foreign(printable(name));
}

std::string Reporter::mask(std::string_view text) const {
  // The line without its marks, and which of its bytes came from a server
  // or a URL.
  std::string plain;
  std::vector<bool> isForeign;
  int depth = 0;
  for (char c : text) {
    if (c == kForeignBegin || c == kForeignEnd) {
      depth = std::max(0, depth + (c == kForeignBegin ? 1 : -1));
      continue;
    }
    plain += c;
    isForeign.push_back(depth > 0);
  }
  for (const std::string& url : urlTexts_) {
    for (size_t at = plain.find(url); at != std::string::npos; at = plain.find(url, at + 1)) {
      std::fill_n(isForeign.begin() + static_cast<std::ptrdiff_t>(at), url.size(), true);
    }
  }
  // Every occurrence of a password that touches foreign text, masked.
  std::vector<bool> masked(plain.size(), false);
  for (const std::string& secret : secrets_) {
    for (size_t at = plain.find(secret); at != std::string::npos; at = plain.find(secret, at + 1)) {
      const auto begin = isForeign.begin() + static_cast<std::ptrdiff_t>(at);
      if (std::find(begin, begin + static_cast<std::ptrdiff_t>(secret.size()), true) ==
          begin + static_cast<std::ptrdiff_t>(secret.size())) {
        continue;
      }
      std::fill_n(masked.begin() + static_cast<std::ptrdiff_t>(at), secret.size(), true);
    }
  }
  std::string out;
  for (size_t i = 0; i < plain.size(); ++i) {
    if (!masked[i]) {
      out += plain[i];
    } else if (i == 0 || !masked[i - 1]) {
      out += "***";
    }
  }
  return out;
}

Password passwordFromEnvironment(const std::string& variable) {
  Password password;
  password.source = variable == "REDISCLI_AUTH" ? variable : variable + " or REDISCLI_AUTH";
  for (const std::string& name : {variable, std::string("REDISCLI_AUTH")}) {
    const char* value = std::getenv(name.c_str());
    if (value != nullptr && *value != '\0') {
      password.value = value;
      break;
    }
  }
  return password;
}

bool onlyKnownOptions(const DriverArgs& args, std::initializer_list<std::string_view> known,
                      Reporter& reporter) {
  for (const auto& [name, value] : args.options) {
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      reporter.fail(fmt::format("unknown option --{}", name), 2);
      return false;
    }
  }
  return true;
}

std::optional<OneServer> oneServer(const DriverArgs& args, const std::string& option,
                                   const std::string& variable, Reporter& reporter,
                                   std::ostream& err) {
  auto url = args.require(option, err);
  if (!url) return std::nullopt;
  std::string error;
  auto endpoint = parseUrl(*url, error);
  if (!endpoint) {
    reporter.fail(fmt::format("--{}: {}", option, error), 2);
    return std::nullopt;
  }
  OneServer server{std::move(*endpoint), passwordFromEnvironment(variable)};
  reporter.addSecret(server.password.value);
  reporter.addEndpoint(server.endpoint);
  return server;
}

std::unique_ptr<Connection> openEndpoint(const Endpoint& endpoint, const Password& password,
                                         std::string& error) {
  ConnectOptions options;
  options.password = password.value;
  options.passwordSource = password.source;
  return Connection::open(endpoint, options, error);
}

std::optional<Reply> call(Connection& connection, std::initializer_list<std::string_view> args,
                          std::string& error) {
  auto reply = connection.command(args);
  if (!reply) {
    error = connection.error();
    return std::nullopt;
  }
  if (reply->isError()) {
    error = commandFailed(*args.begin(), connection, *reply);
    return std::nullopt;
  }
  return reply;
}

std::optional<std::string> info(Connection& connection, std::string_view section,
                                std::string& error) {
  auto reply = call(connection, {"INFO", section}, error);
  if (!reply) return std::nullopt;
  return std::move(reply->text);
}

std::optional<int64_t> dbSize(Connection& connection, std::string& error) {
  auto reply = call(connection, {"DBSIZE"}, error);
  if (!reply) return std::nullopt;
  return reply->integer;
}

std::optional<std::string> configValue(Connection& connection, std::string_view name,
                                       std::string& error) {
  auto reply = call(connection, {"CONFIG", "GET", name}, error);
  if (!reply) return std::nullopt;
  if (!reply->isArray() || reply->elements.size() != 2) return std::string();
  return std::move(reply->elements[1].text);
}

std::map<int, DatabaseKeys> keyspace(std::string_view info) {
  std::map<int, DatabaseKeys> databases;
  auto number = [](std::string_view text, std::string_view name) {
    int64_t value = 0;
    if (auto at = text.find(name); at != std::string_view::npos) {
      text.remove_prefix(at + name.size());
      std::from_chars(text.data(), text.data() + text.size(), value);
    }
    return value;
  };
  size_t at = 0;
  while ((at = info.find("\ndb", at)) != std::string_view::npos) {
    at += 3;
    int db = 0;
    auto end = std::from_chars(info.data() + at, info.data() + info.size(), db).ptr;
    std::string_view line = info.substr(static_cast<size_t>(end - info.data()));
    line = line.substr(0, line.find('\n'));
    if (!line.starts_with(":keys=")) continue;
    databases[db] = {number(line, "keys="), number(line, "expires=")};
  }
  return databases;
}

std::optional<DatabaseKeys> allKeys(Connection& connection, std::string& error) {
  auto text = info(connection, "keyspace", error);
  if (!text) return std::nullopt;
  DatabaseKeys total;
  for (const auto& [db, keys] : keyspace(*text)) {
    total.keys += keys.keys;
    total.expires += keys.expires;
  }
  return total;
}

std::optional<int64_t> replicaCount(Connection& source, std::string& error) {
  auto replication = info(source, "replication", error);
  if (!replication) return std::nullopt;
  return std::atoll(infoField(*replication, "connected_slaves").c_str());
}

std::string syncState(std::string_view replication, std::string_view persistence) {
  std::string state = "link " + foreign(infoField(replication, "master_link_status"));
  if (infoField(persistence, "loading") == "1") return state + ", loading the snapshot";
  if (infoField(replication, "master_sync_in_progress") != "1") return state;
  state += ", sync in progress";
  const int64_t read = std::atoll(infoField(replication, "master_sync_read_bytes").c_str());
  const int64_t total = std::atoll(infoField(replication, "master_sync_total_bytes").c_str());
  if (read > 0)
    state += fmt::format(", {} bytes received", withThousands(static_cast<uint64_t>(read)));
  if (read > 0 && total > 0)
    state += fmt::format(" of {}", withThousands(static_cast<uint64_t>(total)));
  return state;
}

std::optional<ServerFacts> serverFacts(Connection& connection, std::string& error) {
  auto server = info(connection, "server", error);
  auto cluster = server ? info(connection, "cluster", error) : std::nullopt;
  auto memory = cluster ? info(connection, "memory", error) : std::nullopt;
  auto keys = memory ? info(connection, "keyspace", error) : std::nullopt;
  if (!keys) return std::nullopt;
  const auto number = [&](std::string_view field) {
    return std::atoll(infoField(*memory, field).c_str());
  };
  return ServerFacts{infoField(*server, "run_id"),
                     infoField(*server, "redis_version"),
                     infoField(*cluster, "cluster_enabled") == "1",
                     number("used_memory"),
                     number("used_memory_startup"),
                     number("mem_replication_backlog") + number("mem_clients_slaves") +
                         number("mem_clients_normal") + number("mem_aof_buffer"),
                     number("maxmemory"),
                     infoField(*memory, "maxmemory_policy"),
                     keyspace(*keys)};
}

std::string databaseList(const std::map<int, DatabaseKeys>& databases, std::optional<int> except) {
  std::string list;
  for (const auto& [db, keys] : databases) {
    if (db == except) continue;
    if (!list.empty()) list += ", ";
    list += fmt::format("db {} ({})", db, counted(static_cast<uint64_t>(keys.keys), "key", "keys"));
  }
  return list;
}

std::string sameDatabase(const Endpoint& a, const ServerFacts& aFacts, const Endpoint& b,
                         const ServerFacts& bFacts) {
  if (aFacts.runId.empty() || aFacts.runId != bFacts.runId || a.db != b.db) return "";
  return fmt::format("{} and {} are the same server and database", a.describe(), b.describe());
}

std::vector<int> versionNumbers(std::string_view version) {
  std::vector<int> numbers;
  for (size_t at = 0; at <= version.size();) {
    size_t end = version.find('.', at);
    if (end == std::string_view::npos) end = version.size();
    int number = 0;
    std::from_chars(version.data() + at, version.data() + end, number);
    numbers.push_back(number);
    at = end + 1;
  }
  return numbers;
}

bool takeScanReply(Reply& reply, std::string& cursor, std::vector<std::string>& keys) {
  if (!reply.isArray() || reply.elements.size() != 2 || !reply.elements[1].isArray()) return false;
  cursor = std::move(reply.elements[0].text);
  keys.clear();
  keys.reserve(reply.elements[1].elements.size());
  for (Reply& key : reply.elements[1].elements) keys.push_back(std::move(key.text));
  return true;
}

bool unknownCommand(const Reply& reply) {
  return reply.isError() && reply.text.starts_with("ERR unknown command");
}

std::string commandFailed(std::string_view command, const Connection& connection,
                          const Reply& reply) {
  return fmt::format("{} on {} failed: {}", command, connection.endpoint().address(),
                     reply.isError() ? foreign(reply.text) : "unexpected reply");
}


std::string scanAll(Connection& connection,
                    const std::function<bool(std::vector<std::string>&)>& batch) {
  std::string cursor = "0";
  std::vector<std::string> keys;
  Reply reply;
  do {
    connection.append({"SCAN", cursor, "COUNT", kScanCount});
    if (!connection.read(reply)) return connection.error();
    if (reply.isError() || !takeScanReply(reply, cursor, keys)) {
      return commandFailed("SCAN", connection, reply);
    }
    if (!keys.empty() && !batch(keys)) return "";
  } while (cursor != "0");
  return "";
}

}  // namespace mig::drivers::redis
