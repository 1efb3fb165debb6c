// redis-copy: every key of one Redis database into another, by the method
// the plan names (redis_dump_copy.cpp, redis_replication.cpp) or the one
// chosen here (auto).

#include "runtime/drivers/redis_copy.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <span>

namespace mig::drivers::redis {
namespace {

/// Keys below which the method hardly matters: both take a fraction of a
/// second.
constexpr int64_t kAutoReplicationMinimumKeys = 50'000;
/// How long auto waits (at most: --timeout if shorter) for the target to
/// start syncing from the source before it puts the target back and
/// copies by dump instead.
constexpr auto kAutoReplicationStart = std::chrono::milliseconds(10'000);

/// Problems found before the copy changes anything, reported together.
using Problems = std::vector<std::string>;

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
                     reply.text);
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

}  // namespace

/// --method auto. Replication (Redis's own full sync) is chosen wherever it
/// is safe: both URLs name the same database, that is the only one with
/// keys on either side (replication replaces every database), the target
/// runs a Redis at least as new as the source's (it must read the source's
/// RDB), is not a replica, and lets us CONFIG SET and REPLICAOF; and where
/// it pays: the source holds at least 50,000 keys. It costs both servers
/// less work per key than dump's commands (SCAN, MGET or DUMP, PTTL on the
/// source; MSET, SET PX or RESTORE on the target), so it is the faster way
/// for every kind of key, and keeps its pace when the machines are busy
/// (bench/redis_copy.sh, docs/benchmarks.md).
std::optional<MethodChoice> chooseMethod(Connection& source, Connection& target,
                                         const ServerFacts& sourceFacts,
                                         const ServerFacts& targetFacts, std::string& error) {
  const int db = source.endpoint().db;
  if (db != target.endpoint().db) return MethodChoice{"dump", "the URLs name different databases"};
  auto sourceInfo = info(source, "keyspace", error);
  auto targetInfo = sourceInfo ? info(target, "keyspace", error) : std::nullopt;
  auto role = targetInfo ? info(target, "replication", error) : std::nullopt;
  if (!role) return std::nullopt;
  const auto sourceKeys = keyspace(*sourceInfo);
  for (const auto& databases : {sourceKeys, keyspace(*targetInfo)}) {
    for (const auto& [other, keys] : databases) {
      if (other != db) {
        return MethodChoice{"dump", fmt::format("db {} also holds keys, which replication would "
                                                "replace",
                                                other)};
      }
    }
  }
  const DatabaseKeys keys = sourceKeys.contains(db) ? sourceKeys.at(db) : DatabaseKeys{};
  if (keys.keys < kAutoReplicationMinimumKeys) {
    return MethodChoice{"dump", "only " + counted(static_cast<uint64_t>(keys.keys), "key", "keys")};
  }
  if (versionNumbers(targetFacts.version) < versionNumbers(sourceFacts.version)) {
    return MethodChoice{"dump", "the target runs an older Redis than the source"};
  }
  if (infoField(*role, "role") != "master") {
    return MethodChoice{"dump", "the target is a replica"};
  }
  Problems refusals;
  if (!probe(target, "target", replicationWriteProbes(), refusedWrite, refusals)) {
    error = refusals.back();
    return std::nullopt;
  }
  if (!refusals.empty()) return MethodChoice{"dump", refusals.front()};
  return MethodChoice{
      "replication",
      fmt::format("{}, {} with a TTL", counted(static_cast<uint64_t>(keys.keys), "key", "keys"),
                  withThousands(static_cast<uint64_t>(keys.expires)))};
}

namespace {

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
std::optional<SourceFunctions> sourceFunctions(Connection& source, Connection* target,
                                               const ServerFacts* targetFacts, Problems& problems) {
  auto dump = source.command({"FUNCTION", "DUMP"});
  auto list = dump ? source.command({"FUNCTION", "LIST"}) : std::nullopt;
  if (!list) {
    problems.push_back(source.error());
    return std::nullopt;
  }
  if (dump->isError() && dump->text.starts_with("ERR unknown command")) return std::nullopt;
  if (dump->isError() || list->isError()) {
    problems.push_back(refusal("source", source,
                               dump->isError() ? "FUNCTION DUMP" : "FUNCTION LIST",
                               dump->isError() ? *dump : *list));
    return std::nullopt;
  }
  SourceFunctions functions{std::move(dump->text), list->elements.size(), 0};
  if (target == nullptr) return functions;
  auto targetList = target->command({"FUNCTION", "LIST"});
  if (!targetList) {
    problems.push_back(target->error());
    return functions;
  }
  if (targetList->isError() && targetList->text.starts_with("ERR unknown command")) {
    if (functions.libraries > 0) {
      problems.push_back(fmt::format(
          "the source has {}, and the target runs Redis {}, which has no functions: use a "
          "target of Redis 7 or later",
          counted(functions.libraries, "function library", "function libraries"),
          targetFacts ? targetFacts->version : "?"));
    }
    return std::nullopt;  // nothing to carry, nothing to remove
  }
  if (targetList->isError()) {
    problems.push_back(refusal("target", *target, "FUNCTION LIST", *targetList));
    return functions;
  }
  functions.targetLibraries = targetList->elements.size();
  return functions;
}

/// What redis-copy works with once nothing stands in the way.
struct Ends {
  std::unique_ptr<Connection> source;
  std::unique_ptr<Connection> scanner;  ///< a second one to the source, for the dump method
  std::unique_ptr<Connection> target;
  std::optional<ServerFacts> sourceFacts;
  std::optional<ServerFacts> targetFacts;
  std::optional<SourceFunctions> functions;
  std::string method;  ///< "dump" or "replication"
};

/// Connects to both ends and checks everything the copy needs before it
/// changes anything: the passwords, the databases, that the two differ,
/// the method (auto chooses here), and that every command the copy will
/// use may run. Every problem found is in `problems`.
Ends prepare(const Endpoint& from, const Endpoint& to, const Password& fromPassword,
             const Password& toPassword, const std::string& method, Reporter& reporter,
             Problems& problems) {
  Ends ends;
  std::string error;
  ends.source = openEndpoint(from, fromPassword, error);
  if (!ends.source) problems.push_back(error);
  ends.target = openEndpoint(to, toPassword, error);
  if (!ends.target) problems.push_back(error);
  if (ends.source && !(ends.sourceFacts = serverFacts(*ends.source, error))) {
    problems.push_back(error);
  }
  if (ends.target && !(ends.targetFacts = serverFacts(*ends.target, error))) {
    problems.push_back(error);
  }
  ends.method = method == "replication" ? "replication" : "dump";
  if (ends.sourceFacts && ends.targetFacts) {
    const bool sameServer =
        !ends.sourceFacts->runId.empty() && ends.sourceFacts->runId == ends.targetFacts->runId;
    if (sameServer && (from.db == to.db || method == "replication")) {
      problems.push_back(fmt::format("{} and {} are the same server{}", from.describe(),
                                     to.describe(), from.db == to.db ? " and database" : ""));
    } else if (method == "auto" && problems.empty()) {
      auto choice =
          chooseMethod(*ends.source, *ends.target, *ends.sourceFacts, *ends.targetFacts, error);
      if (!choice) {
        problems.push_back(error);
      } else {
        reporter.say(fmt::format("method auto: {} ({})", choice->method, choice->reason));
        ends.method = choice->method;
      }
    }
  }
  // (auto checked these when it chose replication)
  if (method == "replication" && ends.target) {
    if (from.db != to.db) {
      problems.push_back(fmt::format(
          "--method replication copies every database as it is (db {} stays db {}); the URLs "
          "name db {} and db {}: use --method dump",
          from.db, from.db, from.db, to.db));
    }
    if (auto role = info(*ends.target, "replication", error); !role) {
      problems.push_back(error);
    } else if (infoField(*role, "role") != "master") {
      problems.push_back(fmt::format("{} is already a replica of {}:{}; refusing to re-point it",
                                     to.address(), infoField(*role, "master_host"),
                                     infoField(*role, "master_port")));
    }
    probe(*ends.target, "target", replicationWriteProbes(), refusedWrite, problems);
  }
  // Auto falls back to dump when replication does not start: it needs
  // what dump needs.
  const bool dumpPossible = ends.method == "dump" || method == "auto";
  std::string key = "mig:permission-probe";
  if (ends.source && dumpPossible) {
    key = probeKey(*ends.source, problems);
    probe(
        *ends.source, "source", {{"DUMP", key}, {"MGET", key}, {"PTTL", key}},
        [](const Reply& reply) { return reply.isError(); }, problems);
    ends.functions = sourceFunctions(*ends.source, ends.target.get(),
                                     ends.targetFacts ? &*ends.targetFacts : nullptr, problems);
    ends.scanner = openEndpoint(from, fromPassword, error);
    if (!ends.scanner) problems.push_back(error);
  }
  if (ends.target && dumpPossible) {
    const bool restoresFunctions =
        ends.functions && (ends.functions->libraries > 0 || ends.functions->targetLibraries > 0);
    probe(*ends.target, "target", dumpWriteProbes(key, restoresFunctions), refusedWrite, problems);
  }
  return ends;
}

}  // namespace
}  // namespace mig::drivers::redis

namespace mig::drivers {

// redis-copy: see the file comment and stdlib/std/redis.mig.
int redisCopy(const DriverArgs& args, std::ostream& out, std::ostream& err) {
  using namespace redis;
  Reporter reporter("redis-copy", out, err);
  if (!onlyKnownOptions(args, {"from", "to", "method", "timeout"}, reporter)) return 2;
  auto fromUrl = args.require("from", err);
  auto toUrl = args.require("to", err);
  if (!fromUrl || !toUrl) return 2;
  const std::string method = args.options.contains("method") ? args.options.at("method") : "auto";
  if (method != "dump" && method != "replication" && method != "auto") {
    return reporter.fail(fmt::format("unknown --method '{}' (dump, replication or auto)", method),
                         2);
  }
  ReplicationOptions replication;
  if (auto it = args.options.find("timeout"); it != args.options.end()) {
    auto [end, ec] = std::from_chars(it->second.data(), it->second.data() + it->second.size(),
                                     replication.timeoutSeconds);
    if (ec != std::errc() || end != it->second.data() + it->second.size() ||
        replication.timeoutSeconds <= 0) {
      return reporter.fail(fmt::format("--timeout takes seconds, not '{}'", it->second), 2);
    }
  }
  std::string error;
  auto from = parseUrl(*fromUrl, error);
  if (!from) return reporter.fail("--from: " + error, 2);
  auto to = parseUrl(*toUrl, error);
  if (!to) return reporter.fail("--to: " + error, 2);

  const Password fromPassword = passwordFromEnvironment("MIG_FROM_PASSWORD");
  const Password toPassword = passwordFromEnvironment("MIG_TO_PASSWORD");
  reporter.addSecret(fromPassword.value);
  reporter.addSecret(toPassword.value);
  Problems problems;
  Ends ends = prepare(*from, *to, fromPassword, toPassword, method, reporter, problems);
  if (!problems.empty()) {
    for (const std::string& problem : problems) reporter.fail(problem);
    return reporter.fail(fmt::format("nothing was copied: {} found before any change to {}",
                                     counted(problems.size(), "problem", "problems"),
                                     to->describe()));
  }
  if (ends.method == "replication") {
    if (method == "auto") {
      replication.startWithin = std::min<std::chrono::milliseconds>(
          kAutoReplicationStart, std::chrono::seconds(replication.timeoutSeconds));
    }
    switch (copyByReplication(*ends.source, *ends.target, fromPassword, toPassword, replication,
                              reporter)) {
      case ReplicationResult::kCopied:
        return 0;
      case ReplicationResult::kFailed:
        return 1;
      case ReplicationResult::kNotStarted:
        reporter.say("method auto: dump instead");
        break;
    }
  }
  return copyByDump(*ends.scanner, *ends.source, *ends.target, *ends.sourceFacts, *ends.targetFacts,
                    ends.functions, reporter);
}

}  // namespace mig::drivers
