// redis-copy: every key of one Redis database into another, by the method
// the plan names (redis_dump_copy.cpp, redis_replication.cpp) or the one
// chosen here (auto), once the checks before any change
// (redis_copy_checks.cpp) found nothing in the way.

#include "runtime/drivers/redis_copy.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

namespace mig::drivers::redis {
namespace {

constexpr std::pair<CopyMethod, std::string_view> kMethodNames[] = {
    {CopyMethod::kDump, "dump"},
    {CopyMethod::kReplication, "replication"},
    {CopyMethod::kAuto, "auto"},
};

/// What redis-copy works with once nothing stands in the way.
struct Ends {
  std::unique_ptr<Connection> source;
  std::unique_ptr<Connection> scanner;  ///< a second one to the source, for the dump method
  std::unique_ptr<Connection> target;
  std::optional<ServerFacts> sourceFacts;
  std::optional<ServerFacts> targetFacts;
  std::optional<SourceFunctions> functions;
  CopyMethod method = CopyMethod::kDump;  ///< kDump or kReplication
};

/// Connects to both ends and reads what they say about themselves.
void connect(const Endpoint& from, const Endpoint& to, const Password& fromPassword,
             const Password& toPassword, Ends& ends, Problems& problems) {
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
}

/// The checks of an explicit --method replication, which fail the copy
/// (auto makes its own when it chooses, and copies by dump instead).
void checkExplicitReplication(const Endpoint& from, const Endpoint& to, Ends& ends,
                              Problems& problems) {
  if (!ends.sourceFacts->runId.empty() && ends.sourceFacts->runId == ends.targetFacts->runId) {
    problems.push_back(fmt::format("{} and {} are the same server", from.address(), to.address()));
  }
  if (from.db != to.db) {
    problems.push_back(fmt::format(
        "--method replication copies every database as it is (db {} stays db {}); the URLs "
        "name db {} and db {}: use --method dump",
        from.db, from.db, from.db, to.db));
  }
  checkReplication(*ends.target, *ends.sourceFacts, *ends.targetFacts, problems);
}

/// Connects to both ends and checks everything the copy needs before it
/// changes anything: the passwords, the databases, that the two differ,
/// the method (auto chooses here), and that every command the copy will
/// use may run. Every problem found is in `problems`.
Ends prepare(const Endpoint& from, const Endpoint& to, const Password& fromPassword,
             const Password& toPassword, CopyMethod method, Reporter& reporter,
             Problems& problems) {
  Ends ends;
  connect(from, to, fromPassword, toPassword, ends, problems);
  if (!ends.sourceFacts || !ends.targetFacts) return ends;
  if (std::string same = sameDatabase(from, *ends.sourceFacts, to, *ends.targetFacts);
      !same.empty()) {
    problems.push_back(same);
    return ends;
  }
  checkServers(from, *ends.sourceFacts, to, *ends.targetFacts, problems);
  if (!problems.empty()) return ends;
  ends.method = method == CopyMethod::kReplication ? CopyMethod::kReplication : CopyMethod::kDump;
  if (method == CopyMethod::kReplication) checkExplicitReplication(from, to, ends, problems);
  if (method == CopyMethod::kAuto) {
    std::string error;
    auto choice =
        chooseMethod(*ends.source, *ends.target, *ends.sourceFacts, *ends.targetFacts, error);
    if (!choice) {
      problems.push_back(error);
      return ends;
    }
    reporter.say(fmt::format("method auto: {} ({})", methodName(choice->method), choice->reason));
    ends.method = choice->method;
  }
  // Auto falls back to dump when replication does not start: it needs
  // what dump needs.
  if (method == CopyMethod::kReplication) return ends;
  ends.functions =
      checkDump(*ends.source, *ends.target, *ends.sourceFacts, *ends.targetFacts, problems);
  std::string error;
  ends.scanner = openEndpoint(from, fromPassword, error);
  if (!ends.scanner) problems.push_back(error);
  return ends;
}

/// Opens `connection` again if it failed (replication's own connection to
/// the target broke, say, before auto fell back to dump).
bool reopenIfFailed(std::unique_ptr<Connection>& connection, const Password& password,
                    std::string& error) {
  if (!connection->failed()) return true;
  connection = openEndpoint(connection->endpoint(), password, error);
  return connection != nullptr;
}

}  // namespace

std::string_view methodName(CopyMethod method) {
  for (const auto& [known, name] : kMethodNames) {
    if (known == method) return name;
  }
  return "?";
}

std::optional<CopyMethod> parseMethod(std::string_view name) {
  for (const auto& [method, known] : kMethodNames) {
    if (known == name) return method;
  }
  return std::nullopt;
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
  const std::string methodText =
      args.options.contains("method") ? args.options.at("method") : "auto";
  const auto method = parseMethod(methodText);
  if (!method) {
    return reporter.fail(
        fmt::format("unknown --method '{}' (dump, replication or auto)", methodText), 2);
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
  reporter.addEndpoint(*from);
  reporter.addEndpoint(*to);
  Problems problems;
  Ends ends = prepare(*from, *to, fromPassword, toPassword, *method, reporter, problems);
  if (!problems.empty()) {
    for (const std::string& problem : problems) reporter.fail(problem);
    reportNothingChanged();
    return reporter.fail(fmt::format("nothing was copied: {} found before any change to {}",
                                     counted(problems.size(), "problem", "problems"),
                                     to->describe()));
  }
  if (ends.method == CopyMethod::kReplication) {
    replication.startWithin = std::min<std::chrono::milliseconds>(
        replication.startWithin, std::chrono::seconds(replication.timeoutSeconds));
    replication.fallBack = *method == CopyMethod::kAuto;
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
    if (!reopenIfFailed(ends.source, fromPassword, error) ||
        !reopenIfFailed(ends.target, toPassword, error)) {
      return reporter.fail(error);
    }
  }
  return copyByDump(*ends.scanner, *ends.source, *ends.target, *ends.sourceFacts, *ends.targetFacts,
                    ends.functions, reporter);
}

}  // namespace mig::drivers
