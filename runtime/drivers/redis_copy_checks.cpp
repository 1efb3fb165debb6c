// redis-copy's checks before any change: what each method needs from the
// two servers, and auto's choice between them.

#include <fmt/format.h>

#include <algorithm>
#include <span>
#include <tuple>

#include "runtime/drivers/redis_copy.h"

namespace mig::drivers::redis {
namespace {

/// Keys below which the method hardly matters: both take a fraction of a
/// second.
constexpr int64_t kAutoReplicationMinimumKeys = 50'000;
/// What a server takes in one argument when CONFIG GET may not tell
/// (Redis's default proto-max-bulk-len).
constexpr int64_t kDefaultBulkLimit = 512LL * 1024 * 1024;
/// Keys too large for the target listed one by one before only counting.
constexpr size_t kListedLargeKeys = 10;
/// The share of a target's maxmemory a copy may fill: the rest is the
/// application's room to write (and Redis's own buffers).
constexpr double kLargestShareOfMaxmemory = 0.9;

/// "32.0 MiB (33,554,432 bytes)".
std::string bytesText(int64_t bytes) {
  return fmt::format("{} ({} bytes)", mebibytes(bytes),
                     withThousands(static_cast<uint64_t>(bytes)));
}

/// The first words of error replies that mean a command may not run at
/// all: no permission, no password, a read-only replica, no memory, a
/// renamed or disabled command.
bool refused(const Reply& reply) {
  static constexpr std::string_view kRefusals[] = {"NOPERM",     "NOAUTH",  "READONLY",
                                                   "OOM",        "MISCONF", "LOADING",
                                                   "MASTERDOWN", "BUSY ",   "ERR unknown command"};
  return reply.isError() &&
         std::any_of(std::begin(kRefusals), std::end(kRefusals),
                     [&](std::string_view refusal) { return reply.text.starts_with(refusal); });
}

std::string refusal(std::string_view role, const Connection& connection, std::string_view command,
                    const Reply& reply) {
  return fmt::format("{} {}: {} refused: {}", role, connection.endpoint().describe(), command,
                     foreign(reply.text));
}

/// Runs `commands` on `connection` and adds a problem for each reply
/// `isProblem` flags; false when the connection failed (also a problem).
bool probe(Connection& connection, std::string_view role,
           const std::vector<std::vector<std::string>>& commands, bool (*isProblem)(const Reply&),
           Problems& problems) {
  for (const auto& command : commands) connection.append(std::span<const std::string>(command));
  Reply reply;
  for (const auto& command : commands) {
    if (!connection.read(reply)) {
      problems.push_back(connection.error());
      return false;
    }
    if (!isProblem(reply)) continue;
    // "FUNCTION RESTORE", "CONFIG SET": a container command with its subcommand.
    const bool container = command[0] == "FUNCTION" || command[0] == "CONFIG";
    const std::string name = container ? command[0] + " " + command[1] : command[0];
    if (!reply.isError()) {
      // A write probe that was not refused at all: a server unlike the ones
      // the probes were written for.
      problems.push_back(fmt::format("{} {}: {} check answered as no Redis 6 or 7 does", role,
                                     connection.endpoint().describe(), name));
      continue;
    }
    problems.push_back(refusal(role, connection, name, reply));
  }
  return true;
}

// Write permission probes: each is a command the copy will send, with
// arguments the command itself rejects once Redis has checked the user's
// permissions and the server's state (read-only replica, out of memory,
// disabled command). A refusal is a problem; any other error means the
// command may run; nothing is ever written.

bool refusedWrite(const Reply& reply) {
  return refused(reply) || !reply.isError();
}

std::vector<std::vector<std::string>> dumpWriteProbes(const std::string& key, bool functions) {
  std::vector<std::vector<std::string>> probes = {
      {"FLUSHDB", "mig-permission-probe"},            // syntax error
      {"MSET", key, "v", key},                        // odd number of arguments
      {"SET", key, "v", "NX", "XX"},                  // syntax error
      {"RESTORE", key, "0", "mig-permission-probe"},  // not a DUMP payload
  };
  if (functions) probes.push_back({"FUNCTION", "RESTORE", "mig-permission-probe"});
  return probes;
}

std::vector<std::vector<std::string>> replicationWriteProbes() {
  return {
      {"CONFIG", "SET", "masterauth", "x", "masterauth"},  // odd number of arguments
      {"REPLICAOF", "mig-permission-probe", "no-port"},    // not a port
  };
}

/// A key the permission probes name: one the copy will read and write, so
/// that an ACL limited to key patterns judges the probes as it will judge
/// the copy. Proves that SCAN may run.
std::string probeKey(Connection& source, Problems& problems) {
  constexpr std::string_view kNoKey = "mig:permission-probe";
  auto reply = source.command({"SCAN", "0", "COUNT", "10"});
  if (!reply) {
    problems.push_back(source.error());
    return std::string(kNoKey);
  }
  std::string cursor;
  std::vector<std::string> keys;
  if (reply->isError() || !takeScanReply(*reply, cursor, keys)) {
    problems.push_back(refusal("source", source, "SCAN", *reply));
    return std::string(kNoKey);
  }
  return keys.empty() ? std::string(kNoKey) : keys.front();
}

/// The source's functions for the dump method: nullopt when it has none
/// (before Redis 7). Adds a problem when the target cannot take them.
std::optional<SourceFunctions> sourceFunctions(Connection& source, Connection& target,
                                               const ServerFacts& targetFacts, Problems& problems) {
  auto dump = source.command({"FUNCTION", "DUMP"});
  auto list = dump ? source.command({"FUNCTION", "LIST"}) : std::nullopt;
  if (!list) {
    problems.push_back(source.error());
    return std::nullopt;
  }
  if (unknownCommand(*dump)) return std::nullopt;
  if (dump->isError() || list->isError()) {
    problems.push_back(refusal("source", source,
                               dump->isError() ? "FUNCTION DUMP" : "FUNCTION LIST",
                               dump->isError() ? *dump : *list));
    return std::nullopt;
  }
  SourceFunctions functions{std::move(dump->text), list->elements.size(), 0};
  auto targetList = target.command({"FUNCTION", "LIST"});
  if (!targetList) {
    problems.push_back(target.error());
    return functions;
  }
  if (unknownCommand(*targetList)) {
    if (functions.libraries > 0) {
      problems.push_back(fmt::format(
          "the source has {}, and the target runs Redis {}, which has no functions: use a "
          "target of Redis 7 or later",
          counted(functions.libraries, "function library", "function libraries"),
          foreign(targetFacts.version)));
    }
    return std::nullopt;  // nothing to carry, nothing to remove
  }
  if (targetList->isError()) {
    problems.push_back(refusal("target", target, "FUNCTION LIST", *targetList));
    return functions;
  }
  functions.targetLibraries = targetList->elements.size();
  return functions;
}

// ---------------------------------------------------------------------------
// The DUMP format

/// The RDB version a DUMP payload was written in: its last ten bytes are
/// the version (two bytes, little-endian) and a CRC64.
std::optional<int> payloadRdbVersion(std::string_view payload) {
  if (payload.size() < 10) return std::nullopt;
  const auto low = static_cast<unsigned char>(payload[payload.size() - 10]);
  const auto high = static_cast<unsigned char>(payload[payload.size() - 9]);
  return low | (high << 8);
}

/// The newest RDB version a Redis reads (and writes): its RDB_VERSION.
/// nullopt for versions newer than this table, which read everything it
/// knows of.
std::optional<int> newestRdbVersion(std::string_view redisVersion) {
  static constexpr struct {
    int major, minor, rdb;
  } kVersions[] = {{7, 4, 12}, {7, 2, 11}, {7, 0, 10}, {5, 0, 9}, {4, 0, 8}, {3, 2, 7}, {0, 0, 6}};
  std::vector<int> numbers = versionNumbers(redisVersion);
  numbers.resize(std::max<size_t>(numbers.size(), 2));
  if (std::vector<int>{numbers[0], numbers[1]} > std::vector<int>{7, 4}) return std::nullopt;
  for (const auto& known : kVersions) {
    if (std::vector<int>{numbers[0], numbers[1]} >= std::vector<int>{known.major, known.minor}) {
      return known.rdb;
    }
  }
  return std::nullopt;
}

/// Adds a problem when the target cannot read the source's DUMP payloads
/// (RESTORE and FUNCTION RESTORE refuse a newer RDB version). `sample`: a
/// payload of the source, empty when it has none to give.
void checkDumpFormat(std::string_view sample, const ServerFacts& sourceFacts,
                     const ServerFacts& targetFacts, Problems& problems) {
  const auto written =
      sample.empty() ? newestRdbVersion(sourceFacts.version) : payloadRdbVersion(sample);
  const auto readable = newestRdbVersion(targetFacts.version);
  if (!written || !readable || *written <= *readable) return;
  problems.push_back(fmt::format(
      "the source (Redis {}) writes DUMP payloads in RDB version {}, and the target (Redis {}) "
      "reads up to version {}: use a target at least as new as the source",
      foreign(sourceFacts.version), *written, foreign(targetFacts.version), *readable));
}

// ---------------------------------------------------------------------------
// Values larger than the target takes

/// How many bytes the copy sends as the one argument that carries `key`'s
/// value (a string's bytes, else its DUMP payload); nullopt with a problem
/// added when the source would not say.
std::optional<int64_t> valueBytes(Connection& source, const std::string& key, Problems& problems) {
  auto type = source.command({"TYPE", key});
  const bool string = type && type->text == "string";
  auto size = type ? source.command({string ? "STRLEN" : "DUMP", key}) : std::nullopt;
  if (!size) {
    problems.push_back(source.error());
    return std::nullopt;
  }
  if (size->isError()) {
    problems.push_back(refusal("source", source, string ? "STRLEN" : "DUMP", *size));
    return std::nullopt;
  }
  return string ? size->integer : static_cast<int64_t>(size->text.size());
}

/// Adds a problem for each key of the source whose value the target would
/// refuse as larger than its proto-max-bulk-len. Only a database using at
/// least half of that limit is scanned (MEMORY USAGE of every key); keys
/// using at least half of it are measured exactly.
void checkValueSizes(Connection& source, Connection& target, const ServerFacts& sourceFacts,
                     Problems& problems) {
  std::string error;
  auto limitText = configValue(target, "proto-max-bulk-len", error);
  const int64_t limit =
      limitText && !limitText->empty() ? std::atoll(limitText->c_str()) : kDefaultBulkLimit;
  if (sourceFacts.usedMemory < limit / 2) return;
  std::vector<std::string> large;
  bool refused = false;
  std::string scanError = scanAll(source, [&](std::vector<std::string>& keys) {
    for (const std::string& key : keys) source.append({"MEMORY", "USAGE", key});
    Reply usage;
    for (const std::string& key : keys) {
      if (!source.read(usage)) {
        problems.push_back(source.error());
        refused = true;
        return false;
      }
      if (usage.isError()) {
        problems.push_back(refusal("source", source, "MEMORY USAGE", usage));
        refused = true;
        return false;
      }
      if (usage.integer >= limit / 2) large.push_back(key);
    }
    return true;
  });
  if (refused || !scanError.empty()) return;  // a failed SCAN: probed already
  size_t tooLarge = 0;
  for (const std::string& key : large) {
    auto bytes = valueBytes(source, key, problems);
    if (!bytes) return;
    if (*bytes <= limit) continue;
    if (++tooLarge > kListedLargeKeys) continue;
    problems.push_back(fmt::format(
        "key {} is {} bytes, more than the target takes in one argument (proto-max-bulk-len "
        "{}): raise it on the target, or copy by replication",
        shown(key), withThousands(static_cast<uint64_t>(*bytes)),
        withThousands(static_cast<uint64_t>(limit))));
  }
  if (tooLarge > kListedLargeKeys) {
    problems.push_back(fmt::format("... and {} more too large for the target",
                                   counted(tooLarge - kListedLargeKeys, "key", "keys")));
  }
}

}  // namespace

void checkServers(const Endpoint& from, const ServerFacts& sourceFacts, const Endpoint& to,
                  const ServerFacts& targetFacts, Problems& problems) {
  for (const auto& [role, endpoint, facts] :
       {std::tuple("source", &from, &sourceFacts), std::tuple("target", &to, &targetFacts)}) {
    if (facts->clusterMode) {
      problems.push_back(fmt::format("{} {}: cluster mode is not supported (cluster_enabled:1)",
                                     role, endpoint->describe()));
    }
  }
}

void checkCapacity(const ServerFacts& sourceFacts, const ServerFacts& targetFacts,
                   std::optional<std::pair<int, int>> databases, Problems& problems) {
  if (targetFacts.maxmemory <= 0) return;
  // The share of a server's data that `db`'s keys take (all of it when
  // the copy replaces every database), or the rest of it.
  const auto share = [&](const ServerFacts& facts, std::optional<int> db, bool ofDb) {
    const double data = static_cast<double>(
        std::max<int64_t>(facts.usedMemory - facts.startupMemory - facts.bufferMemory, 0));
    if (!db) return ofDb ? data : 0.0;
    int64_t all = 0;
    for (const auto& [number, keys] : facts.databases) all += keys.keys;
    if (all == 0) return 0.0;
    const auto it = facts.databases.find(*db);
    const int64_t inDb = it == facts.databases.end() ? 0 : it->second.keys;
    return data * static_cast<double>(ofDb ? inDb : all - inDb) / static_cast<double>(all);
  };
  std::optional<int> sourceDb;
  std::optional<int> targetDb;
  if (databases) std::tie(sourceDb, targetDb) = *databases;
  const auto copied = static_cast<int64_t>(share(sourceFacts, sourceDb, true));
  const auto kept = static_cast<int64_t>(share(targetFacts, targetDb, false));
  const int64_t needed = targetFacts.startupMemory + kept + copied;
  const auto limit =
      static_cast<int64_t>(static_cast<double>(targetFacts.maxmemory) * kLargestShareOfMaxmemory);
  if (needed <= limit) return;
  const std::string& policy = targetFacts.evictionPolicy;
  const std::string consequence =
      policy == "noeviction" || policy.empty()
          ? "the application's writes would fail with OOM"
          : fmt::format("the target would evict keys ({}) to stay under it", foreign(policy));
  problems.push_back(fmt::format(
      "the target cannot hold the source's data: the copy needs about {} ({} of the source's "
      "data{}{}, and what an empty server uses), and the target's maxmemory is {} "
      "(maxmemory-policy {}): less than {:.0f}% of it would be left, and {}; raise maxmemory on "
      "the target",
      bytesText(needed), mebibytes(copied), sourceDb ? fmt::format(" in db {}", *sourceDb) : "",
      kept > 0 ? fmt::format(", {} the target keeps in its other databases", mebibytes(kept)) : "",
      bytesText(targetFacts.maxmemory), policy.empty() ? "?" : foreign(policy),
      (1 - kLargestShareOfMaxmemory) * 100, consequence));
}

bool checkReplication(Connection& target, const ServerFacts& sourceFacts,
                      const ServerFacts& targetFacts, Problems& problems) {
  if (versionNumbers(targetFacts.version) < versionNumbers(sourceFacts.version)) {
    problems.push_back(fmt::format(
        "the target runs Redis {}, older than the source's {}: it may not load the source's "
        "snapshot",
        foreign(targetFacts.version), foreign(sourceFacts.version)));
  }
  std::string error;
  auto role = info(target, "replication", error);
  if (!role) {
    problems.push_back(error);
    return false;
  }
  if (infoField(*role, "role") != "master") {
    problems.push_back(fmt::format(
        "{} is already a replica of {}:{}; refusing to re-point it", target.endpoint().address(),
        foreign(infoField(*role, "master_host")), foreign(infoField(*role, "master_port"))));
  }
  return probe(target, "target", replicationWriteProbes(), refusedWrite, problems);
}

/// --method auto. Replication (Redis's own full sync) is chosen wherever it
/// is safe: both URLs name the same database, that is the only one with
/// keys on either side (replication replaces every database), and nothing
/// in checkReplication stands in the way; and where it pays: the source
/// holds at least 50,000 keys. It costs both servers less work per key
/// than dump's commands (SCAN, MGET or DUMP, PTTL on the source; MSET, SET
/// PX or RESTORE on the target), so it is the faster way for every kind of
/// key, and keeps its pace when the machines are busy (bench/redis_copy.sh,
/// docs/benchmarks.md).
std::optional<MethodChoice> chooseMethod(Connection& source, Connection& target,
                                         const ServerFacts& sourceFacts,
                                         const ServerFacts& targetFacts, std::string& error) {
  const int db = source.endpoint().db;
  const auto dump = [](std::string reason) { return MethodChoice{CopyMethod::kDump, reason}; };
  if (db != target.endpoint().db) return dump("the URLs name different databases");
  auto sourceInfo = info(source, "keyspace", error);
  auto targetInfo = sourceInfo ? info(target, "keyspace", error) : std::nullopt;
  if (!targetInfo) return std::nullopt;
  const auto sourceKeys = keyspace(*sourceInfo);
  for (const auto& databases : {sourceKeys, keyspace(*targetInfo)}) {
    for (const auto& [other, keys] : databases) {
      if (other != db) {
        return dump(fmt::format("db {} also holds keys, which replication would replace", other));
      }
    }
  }
  const DatabaseKeys keys = sourceKeys.contains(db) ? sourceKeys.at(db) : DatabaseKeys{};
  if (keys.keys < kAutoReplicationMinimumKeys) {
    return dump("only " + counted(static_cast<uint64_t>(keys.keys), "key", "keys"));
  }
  Problems obstacles;
  if (!checkReplication(target, sourceFacts, targetFacts, obstacles)) {
    error = obstacles.back();
    return std::nullopt;
  }
  if (!obstacles.empty()) return dump(obstacles.front());
  return MethodChoice{
      CopyMethod::kReplication,
      fmt::format("{}, {} with a TTL", counted(static_cast<uint64_t>(keys.keys), "key", "keys"),
                  withThousands(static_cast<uint64_t>(keys.expires)))};
}

std::optional<SourceFunctions> checkDump(Connection& source, Connection& target,
                                         const ServerFacts& sourceFacts,
                                         const ServerFacts& targetFacts, Problems& problems) {
  const std::string key = probeKey(source, problems);
  if (source.failed()) return std::nullopt;  // probeKey has said why, once
  auto sample = source.command({"DUMP", key});
  if (!sample) {
    problems.push_back(source.error());
    return std::nullopt;
  }
  if (sample->isError()) problems.push_back(refusal("source", source, "DUMP", *sample));
  probe(
      source, "source", {{"MGET", key}, {"PTTL", key}},
      [](const Reply& reply) { return reply.isError(); }, problems);
  auto functions = sourceFunctions(source, target, targetFacts, problems);
  const bool restoresFunctions =
      functions && (functions->libraries > 0 || functions->targetLibraries > 0);
  probe(target, "target", dumpWriteProbes(key, restoresFunctions), refusedWrite, problems);
  std::string_view payload = sample->isError() ? std::string_view() : sample->text;
  if (payload.empty() && restoresFunctions) payload = functions->payload;
  checkDumpFormat(payload, sourceFacts, targetFacts, problems);
  checkValueSizes(source, target, sourceFacts, problems);
  return functions;
}

}  // namespace mig::drivers::redis
