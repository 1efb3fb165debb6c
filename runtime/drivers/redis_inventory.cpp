// redis-inventory: what a Redis server holds, as a migration needs to know
// it before copying one of its databases: version and role, memory against
// maxmemory and its policy, every non-empty database (not only the URL's),
// the function libraries (which belong to the server), and the keys of the
// URL's database by type, counted as SCAN finds them. Every reply is
// checked: a wrong password or a refused command fails the step.

#include <fmt/format.h>

#include "runtime/drivers/redis_sync.h"

namespace mig::drivers::redis {
namespace {

/// Keys of the connection's database per type ("string" → 1,200), as SCAN
/// finds them; a key gone between SCAN and TYPE ("none") is not counted.
std::optional<std::map<std::string, uint64_t>> keysByType(Connection& connection,
                                                          std::string& error) {
  std::map<std::string, uint64_t> types;
  Reply reply;
  error = scanAll(connection, [&](std::vector<std::string>& keys) {
    for (const std::string& key : keys) connection.append({"TYPE", key});
    for (size_t i = 0; i < keys.size(); ++i) {
      if (!connection.read(reply)) {
        error = connection.error();
        return false;
      }
      if (reply.isError()) {
        error = commandFailed("TYPE", connection, reply);
        return false;
      }
      if (reply.text != "none") ++types[reply.text];
    }
    return true;
  });
  if (!error.empty()) return std::nullopt;
  return types;
}

/// "2 function libraries (cache, rates) with 5 functions", or "no function
/// libraries"; nullopt with `error` set when the server refuses.
std::optional<std::string> functionsText(Connection& connection, std::string& error) {
  auto list = connection.command({"FUNCTION", "LIST"});
  if (!list) {
    error = connection.error();
    return std::nullopt;
  }
  if (unknownCommand(*list)) return "no functions (Redis before 7)";
  if (list->isError()) {
    error = commandFailed("FUNCTION LIST", connection, *list);
    return std::nullopt;
  }
  if (list->elements.empty()) return "no function libraries";
  std::vector<std::string> names;
  size_t functions = 0;
  for (const Reply& library : list->elements) {
    // Each library is a map as a flat array: name, engine, functions, ...
    for (size_t i = 0; i + 1 < library.elements.size(); i += 2) {
      if (library.elements[i].text == "library_name") {
        names.push_back(shown(library.elements[i + 1].text));
      } else if (library.elements[i].text == "functions") {
        functions += library.elements[i + 1].elements.size();
      }
    }
  }
  return fmt::format("{} ({}) with {}",
                     counted(list->elements.size(), "function library", "function libraries"),
                     text::joined(names, ", "), counted(functions, "function", "functions"));
}

}  // namespace
}  // namespace mig::drivers::redis

namespace mig::drivers {

// redis-inventory: see the file comment and stdlib/std/redis.mig.
int redisInventory(const DriverArgs& args, std::ostream& out, std::ostream& err) {
  using namespace redis;
  Reporter reporter("redis-inventory", out, err);
  if (!onlyKnownOptions(args, {"db"}, reporter)) return 2;
  const auto db = oneServer(args, "db", "MIG_DB_PASSWORD", reporter, err);
  if (!db) return 2;
  const Endpoint* endpoint = &db->endpoint;
  std::string error;
  auto server = openEndpoint(*endpoint, db->password, error);
  if (!server) return reporter.fail(error);
  auto facts = serverFacts(*server, error);
  auto replication = facts ? info(*server, "replication", error) : std::nullopt;
  auto functions = replication ? functionsText(*server, error) : std::nullopt;
  auto types = functions ? keysByType(*server, error) : std::nullopt;
  if (!types) return reporter.fail(error);

  reporter.say(fmt::format("redis {} at {}, {}{}", foreign(facts->version), endpoint->address(),
                           roleText(*replication), facts->clusterMode ? ", cluster mode" : ""));
  reporter.say(fmt::format("memory: {} used, maxmemory {}, maxmemory-policy {}",
                           mebibytes(facts->usedMemory),
                           facts->maxmemory > 0 ? mebibytes(facts->maxmemory) : "none (no limit)",
                           facts->evictionPolicy.empty() ? "?" : foreign(facts->evictionPolicy)));
  if (facts->databases.empty()) reporter.say("databases: none holds a key");
  for (const auto& [db, keys] : facts->databases) {
    reporter.say(fmt::format("db {}: {}, {} with a TTL{}", db,
                             counted(static_cast<uint64_t>(keys.keys), "key", "keys"),
                             withThousands(static_cast<uint64_t>(keys.expires)),
                             db == endpoint->db ? " (the URL's database)" : ""));
  }
  reporter.say("functions: " + *functions);
  std::vector<std::string> byType;
  uint64_t scanned = 0;
  for (const auto& [type, count] : *types) {
    byType.push_back(fmt::format("{} {}", foreign(type), withThousands(count)));
    scanned += count;
  }
  reporter.say(fmt::format("db {} by type ({} as SCAN finds them): {}", endpoint->db,
                           counted(scanned, "key", "keys"),
                           byType.empty() ? "none" : text::joined(byType, ", ")));
  if (std::string others = databaseList(facts->databases, endpoint->db); !others.empty()) {
    reporter.say(fmt::format(
        "warning: the server also holds {}: a copy of db {} leaves {} behind (redis.copy with "
        "method replication copies every database)",
        others, endpoint->db,
        facts->databases.size() - (facts->databases.contains(endpoint->db) ? 1 : 0) == 1 ? "it"
                                                                                         : "them"));
  }
  return 0;
}

}  // namespace mig::drivers
