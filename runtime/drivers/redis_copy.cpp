// redis-copy: every key of one Redis database into another, by the method
// the plan names (redis_dump_copy.cpp, redis_replication.cpp) or the one
// chosen here (auto), once the checks before any change
// (redis_copy_checks.cpp) found nothing in the way.

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

#include "runtime/drivers/redis_sync.h"

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
/// `replaceOthers`: the plan lets it replace databases of the target that
/// its URL does not name.
void checkExplicitReplication(const Endpoint& from, const Endpoint& to, Ends& ends,
                              bool replaceOthers, Problems& problems) {
  if (std::string others = databaseList(ends.targetFacts->databases, to.db);
      !others.empty() && !replaceOthers) {
    problems.push_back(fmt::format(
        "the target also holds {}, which replication would replace (it copies every database "
        "of the source): empty them, copy by dump, or let the plan replace them "
        "(replace_other_databases: true)",
        others));
  }
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
             const Password& toPassword, CopyMethod method, bool replaceOthers, Reporter& reporter,
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
  if (method == CopyMethod::kReplication) {
    checkExplicitReplication(from, to, ends, replaceOthers, problems);
  }
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
  checkCapacity(*ends.sourceFacts, *ends.targetFacts,
                ends.method == CopyMethod::kReplication ? std::nullopt
                                                        : std::optional(std::pair(from.db, to.db)),
                problems);
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

/// Says what the copy leaves behind on the source, or takes beyond the
/// URL's database: a copy of one database of several is not a copy of the
/// server.
void sayWhatIsCopied(const Endpoint& from, const Ends& ends, Reporter& reporter) {
  const auto& databases = ends.sourceFacts->databases;
  if (ends.method == CopyMethod::kReplication) {
    if (databases.size() > 1 || (databases.size() == 1 && !databases.contains(from.db))) {
      reporter.say(fmt::format("replication copies every database of the source: {}",
                               databaseList(databases)));
    }
    return;
  }
  if (std::string others = databaseList(databases, from.db); !others.empty()) {
    reporter.say(fmt::format(
        "warning: the source also holds {}, which this copy of db {} leaves behind: copy each "
        "with a step of its own, or the whole server by replication",
        others, from.db));
  }
}

/// The copy's record as it must be before the first change: what this copy
/// writes, and the target's function libraries as they were before mig's
/// first copy into it (kept from `previous`). nullopt with `error` set.
std::optional<SyncRecord> recordOfCopy(const Endpoint& from, const Endpoint& to, Ends& ends,
                                       const std::optional<SyncRecord>& previous,
                                       std::string& error) {
  SyncRecord record;
  record.owner = copyOwner();
  record.target = to.address();
  record.source = from.address();
  const bool replication = ends.method == CopyMethod::kReplication;
  // What an earlier copy wrote is still there until a wipe empties it.
  record.method =
      replication || (previous && previous->method == "replication") ? "replication" : "dump";
  record.db = to.db;
  if (previous && previous->functions) {
    record.functions = true;
    record.functionsBefore = previous->functionsBefore;
    return record;
  }
  auto before = functionLibraries(*ends.target, error);
  if (!before) return std::nullopt;
  const bool dumpRestores =
      ends.functions && (ends.functions->libraries > 0 || ends.functions->targetLibraries > 0);
  record.functions = replication || dumpRestores;
  record.functionsBefore = std::move(*before);
  return record;
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
  if (!onlyKnownOptions(args, {"from", "to", "method", "timeout", "replace-other-databases"},
                        reporter)) {
    return 2;
  }
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
  const std::string replaceOthers = args.options.contains("replace-other-databases")
                                        ? args.options.at("replace-other-databases")
                                        : "false";
  if (replaceOthers != "true" && replaceOthers != "false") {
    return reporter.fail(
        fmt::format("--replace-other-databases is true or false, not '{}'", replaceOthers), 2);
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
  // A copy by replication cut short earlier is put back before anything
  // else: the target may still replicate the source.
  std::optional<SyncRecord> previous = readCopyRecord(*to, reporter, error);
  if (!error.empty()) return reporter.fail(error);
  const bool repairing = previous && previous->replicating && mayRepair(*previous);
  if (repairing) {
    auto target = openEndpoint(*to, toPassword, error);
    if (!target) return reporter.fail(error);
    if (std::string notBack = repairCutShortCopy(*target, *previous, reporter); !notBack.empty()) {
      return reporter.fail("nothing was copied: " + notBack);
    }
  }
  // Another copy's record (another plan's, an earlier run's) is not this
  // one's to build on: this copy's record replaces it.
  if (previous && !ownRecord(*previous)) previous.reset();
  // Databases this run's earlier copy by replication wrote are its own to
  // replace again.
  const bool replacesItsOwn =
      previous && previous->method == "replication" && previous->source == from->address();
  Problems problems;
  Ends ends = prepare(*from, *to, fromPassword, toPassword, *method,
                      replaceOthers == "true" || replacesItsOwn, reporter, problems);
  std::optional<SyncRecord> record;
  if (problems.empty()) {
    record = recordOfCopy(*from, *to, ends, previous, error);
    if (!record) problems.push_back(error);
  }
  if (!problems.empty()) {
    for (const std::string& problem : problems) reporter.fail(problem);
    // A repaired target holds what the cut-short copy wrote: its undo runs.
    if (!repairing) reportNothingChanged();
    return reporter.fail(fmt::format(
        "nothing was copied: {} found {} {}", counted(problems.size(), "problem", "problems"),
        repairing ? "once it had put back" : "before any change to", to->describe()));
  }
  sayWhatIsCopied(*from, ends, reporter);
  const std::string recordPath = copyRecordPath(*to);
  replication.record = &*record;
  replication.recordPath = recordPath;
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
        // Replication wrote nothing: the dump's record says what it writes.
        if (!previous || previous->method != "replication") record->method = "dump";
        break;
    }
    if (!reopenIfFailed(ends.source, fromPassword, error) ||
        !reopenIfFailed(ends.target, toPassword, error)) {
      return reporter.fail(error);
    }
  }
  if (std::string failure = writeSyncRecord(recordPath, *record); !failure.empty()) {
    reporter.fail(failure);
    reportNothingChanged();
    return reporter.fail("nothing was copied");
  }
  return copyByDump(*ends.scanner, *ends.source, *ends.target, *ends.sourceFacts, *ends.targetFacts,
                    ends.functions, reporter);
}

}  // namespace mig::drivers
