// redis-copy: every key of one Redis database into another, by the method
// the plan names (redis_dump_copy.cpp, redis_replication.cpp) or the one
// chosen here (auto).

#include "runtime/drivers/redis_copy.h"

#include <fmt/format.h>

#include <charconv>

namespace mig::drivers::redis {
namespace {

constexpr int64_t kDefaultReplicationTimeoutSeconds = 3600;

/// Keys below which the method hardly matters: both take well under a
/// second.
constexpr int64_t kAutoReplicationMinimumKeys = 100'000;
/// Keys sampled (RANDOMKEY, TYPE) to tell whether strings dominate.
constexpr int kAutoTypeSamples = 100;

/// How many of `samples` random keys of the source are strings.
std::optional<int> sampledStrings(Connection& source, int samples, std::string& error) {
  for (int i = 0; i < samples; ++i) source.append({"RANDOMKEY"});
  std::vector<std::string> keys;
  Reply reply;
  for (int i = 0; i < samples; ++i) {
    if (!source.read(reply)) {
      error = source.error();
      return std::nullopt;
    }
    if (reply.kind == Reply::Kind::kBulk) keys.push_back(std::move(reply.text));
  }
  for (const std::string& key : keys) source.append({"TYPE", key});
  int strings = 0;
  for (size_t i = 0; i < keys.size(); ++i) {
    if (!source.read(reply)) {
      error = source.error();
      return std::nullopt;
    }
    if (reply.isStatus("string")) ++strings;
  }
  return strings;
}

}  // namespace

/// --method auto. Replication (Redis's own full sync) is chosen only where
/// it is safe and faster than dump: both URLs name the same database, that
/// is the only one with keys on either side (replication replaces every
/// database), the target runs a Redis at least as new as the source's (it
/// must read the source's RDB), is not a replica, lets us CONFIG it, and
/// the source holds at least 100,000 keys of which most have a TTL or are
/// not strings. For strings without TTL the dump method is the faster one
/// (bench/redis_copy.sh), and it does not make the source fork.
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
    return MethodChoice{"dump", fmt::format("only {} {}", withThousands(keys.keys),
                                            keys.keys == 1 ? "key" : "keys")};
  }
  if (versionNumbers(targetFacts.version) < versionNumbers(sourceFacts.version)) {
    return MethodChoice{"dump", "the target runs an older Redis than the source"};
  }
  if (infoField(*role, "role") != "master") {
    return MethodChoice{"dump", "the target is a replica"};
  }
  if (auto config = target.command({"CONFIG", "GET", "masterauth"}); !config || config->isError()) {
    return MethodChoice{"dump", "the target does not allow CONFIG"};
  }
  if (keys.expires * 2 >= keys.keys) {
    return MethodChoice{"replication",
                        fmt::format("{} of {} keys have a TTL", withThousands(keys.expires),
                                    withThousands(keys.keys))};
  }
  auto strings = sampledStrings(source, kAutoTypeSamples, error);
  if (!strings) return std::nullopt;
  if (*strings * 2 < kAutoTypeSamples) {
    return MethodChoice{"replication", fmt::format("{} of {} sampled keys are not strings",
                                                   kAutoTypeSamples - *strings, kAutoTypeSamples)};
  }
  return MethodChoice{"dump", "mostly strings without TTL"};
}

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
  const std::string method = args.options.contains("method") ? args.options.at("method") : "dump";
  if (method != "dump" && method != "replication" && method != "auto") {
    return reporter.fail(fmt::format("unknown --method '{}' (dump, replication or auto)", method),
                         2);
  }
  int64_t timeout = kDefaultReplicationTimeoutSeconds;
  if (auto it = args.options.find("timeout"); it != args.options.end()) {
    auto [end, ec] =
        std::from_chars(it->second.data(), it->second.data() + it->second.size(), timeout);
    if (ec != std::errc() || end != it->second.data() + it->second.size() || timeout <= 0) {
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
  auto source = openEndpoint(*from, fromPassword, error);
  if (!source) return reporter.fail(error);
  auto target = openEndpoint(*to, toPassword, error);
  if (!target) return reporter.fail(error);

  auto sourceFacts = serverFacts(*source, error);
  auto targetFacts = sourceFacts ? serverFacts(*target, error) : std::nullopt;
  if (!targetFacts) return reporter.fail(error);
  if (!sourceFacts->runId.empty() && sourceFacts->runId == targetFacts->runId &&
      (from->db == to->db || method != "dump")) {
    return reporter.fail(fmt::format("{} and {} are the same server{}", from->describe(),
                                     to->describe(), from->db == to->db ? " and database" : ""));
  }
  std::string chosen = method;
  if (method == "auto") {
    auto choice = chooseMethod(*source, *target, *sourceFacts, *targetFacts, error);
    if (!choice) return reporter.fail(error);
    reporter.say(fmt::format("method auto: {} ({})", choice->method, choice->reason));
    chosen = choice->method;
  }
  if (chosen == "replication") {
    return copyByReplication(*source, *target, fromPassword, toPassword, timeout, reporter);
  }
  auto scanner = openEndpoint(*from, fromPassword, error);
  if (!scanner) return reporter.fail(error);
  return copyByDump(*scanner, *source, *target, *sourceFacts, *targetFacts, reporter);
}

}  // namespace mig::drivers
