// redis-sync and redis-unsync: the first half of an online migration (the
// target a replica of the source, in sync, and staying one) and its undo
// (the target a master again with its own settings, emptied); and what they
// share with redis-cutover (redis_sync.h).

#include "runtime/drivers/redis_sync.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <map>
#include <span>
#include <thread>

namespace mig::drivers::redis {
namespace {

using namespace std::chrono_literals;

/// How often the target is asked whether it has synced.
constexpr auto kSyncPoll = 2ms;
/// Fail (and put the target back) unless the sync starts within this time.
constexpr auto kStartWithin = 10s;
/// --timeout's default, in seconds: how long the initial sync may take.
constexpr int64_t kDefaultTimeoutSeconds = 3600;
/// How long a failed sync may take to put the target back.
constexpr auto kPutBackWithin = 10s;
/// Between two REPLICAOF NO ONE while the target loads a snapshot.
constexpr auto kLoadingRetry = 20ms;
/// How an empty target loads the source's snapshot: as it arrives (see
/// redis_replication.cpp).
constexpr std::string_view kDisklessLoad = "on-empty-db";

/// --timeout SECONDS (default an hour); nullopt after a message when malformed.
std::optional<int64_t> timeoutSeconds(const DriverArgs& args, Reporter& reporter) {
  auto it = args.options.find("timeout");
  if (it == args.options.end()) return kDefaultTimeoutSeconds;
  int64_t seconds = 0;
  auto [end, ec] =
      std::from_chars(it->second.data(), it->second.data() + it->second.size(), seconds);
  if (ec != std::errc() || end != it->second.data() + it->second.size() || seconds <= 0) {
    reporter.fail(fmt::format("--timeout takes seconds, not '{}'", it->second), 2);
    return std::nullopt;
  }
  return seconds;
}

/// What redis-sync and redis-unsync are given: both ends and --timeout.
struct SyncCommand {
  SyncEnds ends;
  int64_t timeoutSeconds = 0;
};

/// Reads --from, --to (with their passwords) and --timeout; nullopt with
/// `exitCode` set after a message.
std::optional<SyncCommand> parseSyncCommand(const DriverArgs& args, Reporter& reporter,
                                            int& exitCode) {
  exitCode = 2;
  if (!onlyKnownOptions(args, {"from", "to", "timeout"}, reporter)) return std::nullopt;
  auto ends = parseSyncEnds(args, reporter, exitCode);
  if (!ends) return std::nullopt;
  auto timeout = timeoutSeconds(args, reporter);
  if (!timeout) {
    exitCode = 2;
    return std::nullopt;
  }
  return SyncCommand{std::move(*ends), *timeout};
}

/// A setting sync gives the target, and its value for the sync.
struct Change {
  std::string_view name;
  std::string value;
};

enum class Waited { kSynced, kTimedOut, kNotStarted, kFailed };

/// One redis-sync, from the checks to the report.
class Sync {
 public:
  Sync(const SyncEnds& ends, int64_t timeoutSeconds, Reporter& reporter)
      : ends_(ends), timeoutSeconds_(timeoutSeconds), reporter_(reporter) {}

  int run() {
    Problems problems;
    check(problems);
    if (!problems.empty()) return refuseBeforeAnyChange(reporter_, "redis-sync", "sync", problems);
    start_ = Clock::now();
    if (already_) {
      reporter_.say(fmt::format("{} already replicates {}: waiting until it is in sync",
                                to().address(), from().address()));
    } else {
      reporter_.say(fmt::format(
          "replicating {} into {}: every database of the target is replaced by the source's; "
          "its settings before the sync are kept in {}",
          from().address(), to().address(), recordPath_));
      if (!repoint()) return putBackAndFail(error_);
    }
    switch (waitForSync()) {
      case Waited::kSynced:
        return finish();
      case Waited::kNotStarted:
        return putBackAndFail(fmt::format(
            "replication did not start within {}s ({}): the target could not reach {} or was "
            "refused by it (the source's user needs SYNC and PSYNC)",
            std::chrono::seconds(kStartWithin).count(), state_, from().address()));
      case Waited::kTimedOut:
        return putBackAndFail(fmt::format("{} did not finish syncing from {} within {}s ({})",
                                          to().address(), from().address(), timeoutSeconds_,
                                          state_));
      case Waited::kFailed:
        break;
    }
    return putBackAndFail(error_);
  }

 private:
  const Endpoint& from() const { return ends_.from; }
  const Endpoint& to() const { return ends_.to; }

  /// Everything before the first change: both servers, the target's role,
  /// permissions, the record of its settings (written last).
  void check(Problems& problems) {
    std::string error;
    auto facts = openBoth(ends_, source_, target_, problems);
    if (!facts) return;
    const ServerFacts* sourceFacts = &facts->first;
    const ServerFacts* targetFacts = &facts->second;
    if (from().db != to().db) {
      problems.push_back(fmt::format(
          "replication copies every database as it is (db {} stays db {}); the URLs name db {} "
          "and db {}",
          from().db, from().db, from().db, to().db));
    }
    checkServers(from(), *sourceFacts, to(), *targetFacts, problems);
    auto replication = info(*target_, "replication", error);
    if (!replication) {
      problems.push_back(error);
      return;
    }
    // A sync run again (a resumed run) finds the target replicating the
    // source already: it changes nothing and waits.
    already_ = replicatesFrom(*replication, from());
    if (!already_) {
      checkReplication(*target_, *sourceFacts, *targetFacts, problems);
      checkCapacity(*sourceFacts, *targetFacts, std::nullopt, problems);
    }
    recordPath_ = syncRecordPath(to());
    std::string recordError;
    std::optional<SyncRecord> earlier = readSyncRecord(recordPath_, recordError);
    if (!recordError.empty()) problems.push_back(recordError);
    if (!problems.empty() || already_) return;
    if (!planChanges(earlier, problems)) return;
    auto replicas = replicaCount(*source_, error);
    if (!replicas) {
      problems.push_back(error);
      return;
    }
    replicasBefore_ = *replicas;
    if (std::string failed = writeSyncRecord(recordPath_, *record_); !failed.empty()) {
      problems.push_back(failed + ": the target's settings could not be recorded for unsync");
    }
  }

  /// The settings to give the target, and the record of their values now.
  /// A record left by an earlier sync that was not put back keeps the
  /// values it holds: they are the ones from before any sync.
  bool planChanges(const std::optional<SyncRecord>& earlier, Problems& problems) {
    std::string error;
    std::map<std::string_view, std::string> now;
    for (std::string_view name :
         {"masterauth", "masteruser", "replica-read-only", "repl-diskless-load"}) {
      auto value = configValue(*target_, name, error);
      if (!value) {
        problems.push_back(error);
        return false;
      }
      now[name] = std::move(*value);
    }
    reporter_.addSecret(now["masterauth"]);
    // The source's password; its user, when the URL names one; no writes
    // from clients while it replicates (they would be lost at cutover, and
    // are at every full sync); an empty target loading the snapshot as it
    // arrives. Only Redis's defaults are changed: a server set otherwise
    // knows why.
    changes_.push_back({"masterauth", ends_.fromPassword.value});
    if (now["masteruser"] != from().user) changes_.push_back({"masteruser", from().user});
    if (now["replica-read-only"] == "no") changes_.push_back({"replica-read-only", "yes"});
    if (now["repl-diskless-load"] == "disabled") {
      changes_.push_back({"repl-diskless-load", std::string(kDisklessLoad)});
    }
    record_ = earlier.value_or(SyncRecord{});
    record_->target = to().address();
    record_->source = from().address();
    maskRecordedPassword(*record_, reporter_);
    for (const Change& change : changes_) {
      if (record_->find(change.name) == nullptr) {
        record_->settings.push_back({std::string(change.name), now[change.name]});
      }
    }
    return true;
  }

  /// The settings, then REPLICAOF: false with error_ set when one failed.
  bool repoint() {
    for (const Change& change : changes_) {
      if (!send({"CONFIG", "SET", change.name, change.value})) return false;
    }
    return send({"REPLICAOF", from().host, std::to_string(from().port)});
  }

  bool send(std::initializer_list<std::string_view> args) {
    auto reply = target_->command(args);
    if (!reply) error_ = target_->error();
    if (reply && reply->isError()) error_ = commandFailed(*args.begin(), *target_, *reply);
    return reply && !reply->isError();
  }

  /// Polls the target until it has synced, the time is up, the sync did
  /// not start in time, or a server failed.
  Waited waitForSync() {
    auto lastProgress = Clock::now();
    bool started = false;
    while (true) {
      target_->append({"INFO", "replication"});
      target_->append({"INFO", "persistence"});
      auto replication = target_->read();
      auto persistence = replication ? target_->read() : std::nullopt;
      if (!persistence) {
        error_ = target_->error();
        return Waited::kFailed;
      }
      // An error reply: e.g. LOADING from servers older than Redis 4.
      if (!replication->isError() && !persistence->isError()) {
        state_ = syncState(replication->text, persistence->text);
        const bool up = infoField(replication->text, "master_link_status") == "up";
        const bool syncing = infoField(replication->text, "master_sync_in_progress") == "1";
        if (up && !syncing) return Waited::kSynced;
        started = started || up || syncing;
      }
      if (!started) {
        // The source lists the target once it has connected, authenticated
        // and asked for a sync; until then the target's data is untouched.
        auto replicas = replicaCount(*source_, error_);
        if (!replicas) return Waited::kFailed;
        started = *replicas > replicasBefore_;
        if (!started && Clock::now() - start_ > kStartWithin) return Waited::kNotStarted;
      }
      started_ = started;
      if (secondsSince(start_) > static_cast<double>(timeoutSeconds_)) return Waited::kTimedOut;
      if (Clock::now() - lastProgress >= kProgressInterval) {
        lastProgress = Clock::now();
        reporter_.progress(fmt::format("redis-sync: waiting for {} to sync from {} ({:.0f}s): {}",
                                       to().address(), from().address(), secondsSince(start_),
                                       state_));
      }
      std::this_thread::sleep_for(kSyncPoll);
    }
  }

  int finish() {
    const double elapsed = secondsSince(start_);
    auto keys = allKeys(*target_, error_);
    if (!keys) return reporter_.fail(error_);
    const auto count = static_cast<uint64_t>(keys->keys);
    reporter_.say(fmt::format(
        "{} replicates {}, in sync (link up): {} in every database after {} ({} keys/s); it "
        "stays a replica until redis.cutover promotes it or redis.unsync puts it back",
        to().address(), from().address(), counted(count, "key", "keys"), duration(elapsed),
        withThousands(
            static_cast<uint64_t>(static_cast<double>(count) / std::max(elapsed, 1e-3)))));
    return 0;
  }

  /// A failed sync: the target a master again with its settings back (as
  /// unsync, but keeping its data), unless it replicated the source before
  /// this step. Reports that nothing changed when the sync never started.
  int putBackAndFail(const std::string& cause) {
    if (already_) {
      reporter_.fail(fmt::format("{}; {} still replicates {}, as before this step", cause,
                                 to().address(), from().address()));
      reportNothingChanged();
      return 1;
    }
    std::string error;
    Connection* target = usable(target_, to(), ends_.toPassword, error);
    std::string notBack =
        target ? standDown(*target, record_, recordPath_, {Clock::now() + kPutBackWithin, nullptr})
               : error;
    if (!notBack.empty()) {
      return reporter_.fail(fmt::format(
          "{}; and {} (redis.unsync, the step's undo, puts the target back)", cause, notBack));
    }
    if (!started_) {
      reporter_.fail(cause + "; the target is as it was");
      reportNothingChanged();
      return 1;
    }
    return reporter_.fail(
        cause +
        "; replication stopped and the target's settings put back, but its data may be "
        "partly replaced by the source's (redis.unsync empties it)");
  }

  const SyncEnds& ends_;
  int64_t timeoutSeconds_;
  Reporter& reporter_;
  std::unique_ptr<Connection> source_;
  std::unique_ptr<Connection> target_;
  bool already_ = false;  ///< the target replicated the source before this step
  bool started_ = false;  ///< the sync started: the target's data may be replaced
  std::string recordPath_;
  std::optional<SyncRecord> record_;
  std::vector<Change> changes_;
  int64_t replicasBefore_ = 0;
  Clock::time_point start_;
  std::string state_ = "link down";
  std::string error_;
};

/// The value of `setting` as a message may show it: never a password.
std::string byHand(const SavedSetting& setting, const std::string& recordPath) {
  if (setting.name != "masterauth") return fmt::format("\"{}\"", shown(setting.value));
  return setting.value.empty() ? "\"\"" : fmt::format("(the value in {})", recordPath);
}

/// REPLICAOF NO ONE, asked again while the target loads a snapshot (it
/// refuses with LOADING) until the deadline. "" or why not.
std::string promote(Connection& target, const StandDown& how) {
  auto lastProgress = Clock::now();
  while (true) {
    auto reply = target.command({"REPLICAOF", "NO", "ONE"});
    if (!reply) return target.error();
    if (!reply->isError()) return "";
    std::string error = commandFailed("REPLICAOF", target, *reply);
    if (!reply->text.starts_with("LOADING")) return error;
    if (Clock::now() >= how.deadline) return error + ", until the time was up";
    if (how.reporter != nullptr && Clock::now() - lastProgress >= kProgressInterval) {
      lastProgress = Clock::now();
      how.reporter->progress(
          fmt::format("waiting for {} to load its snapshot: it cannot stop replicating before",
                      target.endpoint().address()));
    }
    std::this_thread::sleep_for(kLoadingRetry);
  }
}

}  // namespace

std::optional<SyncEnds> parseSyncEnds(const DriverArgs& args, Reporter& reporter, int& exitCode) {
  exitCode = 2;
  SyncEnds ends;
  using Option = std::pair<std::string, Endpoint*>;
  for (const auto& [option, endpoint] : {Option{"from", &ends.from}, Option{"to", &ends.to}}) {
    auto it = args.options.find(option);
    if (it == args.options.end() || it->second.empty()) {
      reporter.fail(fmt::format("missing --{}", option), 2);
      return std::nullopt;
    }
    std::string error;
    auto parsed = parseUrl(it->second, error);
    if (!parsed) {
      reporter.fail(fmt::format("--{}: {}", option, error), 2);
      return std::nullopt;
    }
    *endpoint = std::move(*parsed);
  }
  ends.fromPassword = passwordFromEnvironment("MIG_FROM_PASSWORD");
  ends.toPassword = passwordFromEnvironment("MIG_TO_PASSWORD");
  reporter.addSecret(ends.fromPassword.value);
  reporter.addSecret(ends.toPassword.value);
  reporter.addEndpoint(ends.from);
  reporter.addEndpoint(ends.to);
  exitCode = 0;
  return ends;
}

std::optional<std::pair<ServerFacts, ServerFacts>> openBoth(const SyncEnds& ends,
                                                            std::unique_ptr<Connection>& source,
                                                            std::unique_ptr<Connection>& target,
                                                            Problems& problems) {
  std::string error;
  source = openEndpoint(ends.from, ends.fromPassword, error);
  if (!source) problems.push_back(error);
  target = openEndpoint(ends.to, ends.toPassword, error);
  if (!target) problems.push_back(error);
  auto sourceFacts = source ? serverFacts(*source, error) : std::nullopt;
  if (source && !sourceFacts) problems.push_back(error);
  auto targetFacts = target ? serverFacts(*target, error) : std::nullopt;
  if (target && !targetFacts) problems.push_back(error);
  if (!sourceFacts || !targetFacts) return std::nullopt;
  if (!sourceFacts->runId.empty() && sourceFacts->runId == targetFacts->runId) {
    problems.push_back(
        fmt::format("{} and {} are the same server", ends.from.address(), ends.to.address()));
    return std::nullopt;
  }
  return std::make_pair(std::move(*sourceFacts), std::move(*targetFacts));
}

Connection* usable(std::unique_ptr<Connection>& connection, const Endpoint& endpoint,
                   const Password& password, std::string& error) {
  if (connection && !connection->failed()) return connection.get();
  connection = openEndpoint(endpoint, password, error);
  return connection.get();
}

int refuseBeforeAnyChange(Reporter& reporter, std::string_view driver, std::string_view action,
                          const Problems& problems) {
  reporter.progress(fmt::format("{}: cannot {}; nothing was changed:", driver, action));
  for (const std::string& problem : problems) reporter.progress("  - " + problem);
  reportNothingChanged();
  return 1;
}

bool probeCommands(Connection& connection, std::string_view role, const std::vector<Probe>& probes,
                   Problems& problems) {
  static constexpr std::string_view kRefusals[] = {
      "NOPERM", "NOAUTH", "READONLY", "LOADING", "BUSY ", "MASTERDOWN", "ERR unknown command"};
  for (const Probe& probe : probes) {
    connection.append(std::span<const std::string>(probe.command));
  }
  Reply reply;
  for (const Probe& probe : probes) {
    if (!connection.read(reply)) {
      problems.push_back(connection.error());
      return false;
    }
    const bool refused = reply.isError() && std::any_of(std::begin(kRefusals), std::end(kRefusals),
                                                        [&](std::string_view refusal) {
                                                          return reply.text.starts_with(refusal);
                                                        });
    if (!reply.isError()) {
      problems.push_back(fmt::format("{} {}: {} check answered as no Redis 6 or 7 does", role,
                                     connection.endpoint().address(), probe.name));
    } else if (refused) {
      problems.push_back(fmt::format("{} {}: {} refused: {}", role, connection.endpoint().address(),
                                     probe.name, foreign(reply.text)));
    }
  }
  return true;
}

std::vector<Probe> replicationProbes() {
  return {
      {{"CONFIG", "SET", "masterauth", "x", "masterauth"}, "CONFIG SET"},  // odd arguments
      {{"REPLICAOF", "mig-permission-probe", "no-port"}, "REPLICAOF"},     // not a port
  };
}

bool replicatesFrom(std::string_view replication, const Endpoint& source) {
  return infoField(replication, "role") == "slave" &&
         infoField(replication, "master_host") == source.host &&
         infoField(replication, "master_port") == std::to_string(source.port);
}

std::string roleText(std::string_view replication) {
  if (infoField(replication, "role") == "master") return "a master";
  return fmt::format("a replica of {}:{}", foreign(infoField(replication, "master_host")),
                     foreign(infoField(replication, "master_port")));
}

std::string standDown(Connection& target, const std::optional<SyncRecord>& record,
                      const std::string& recordPath, const StandDown& how) {
  std::string why;
  std::vector<std::string> commands;
  auto notBack = [&](std::string error, std::string command) {
    if (why.empty()) why = std::move(error);
    commands.push_back(std::move(command));
  };
  std::string error;
  auto replication = info(target, "replication", error);
  if (!replication) {
    notBack(error, "REPLICAOF NO ONE");
  } else if (infoField(*replication, "role") != "master") {
    if (std::string failed = promote(target, how); !failed.empty()) {
      notBack(failed, "REPLICAOF NO ONE");
    }
  }
  for (const SavedSetting& setting : record ? record->settings : std::vector<SavedSetting>{}) {
    if (!call(target, {"CONFIG", "SET", setting.name, setting.value}, error)) {
      notBack(error, fmt::format("CONFIG SET {} {}", setting.name, byHand(setting, recordPath)));
    }
  }
  if (commands.empty()) return record && !how.keepRecord ? removeSyncRecord(recordPath) : "";
  return fmt::format("{} is not as it was before the sync ({}): run on it {}",
                     target.endpoint().address(), why, text::joined(commands, "; "));
}

}  // namespace mig::drivers::redis

namespace mig::drivers {

// redis-sync: see the file comment and stdlib/std/redis.mig.
int redisSync(const DriverArgs& args, std::ostream& out, std::ostream& err) {
  using namespace redis;
  Reporter reporter("redis-sync", out, err);
  int exitCode = 0;
  auto command = parseSyncCommand(args, reporter, exitCode);
  if (!command) return exitCode;
  Sync sync(command->ends, command->timeoutSeconds, reporter);
  return sync.run();
}

// redis-unsync: the target a master again, its settings as the record of
// the sync holds them, and emptied. Only the target is needed: a source
// that is gone does not keep the undo from running.
int redisUnsync(const DriverArgs& args, std::ostream& out, std::ostream& err) {
  using namespace redis;
  Reporter reporter("redis-unsync", out, err);
  int exitCode = 0;
  auto command = parseSyncCommand(args, reporter, exitCode);
  if (!command) return exitCode;
  const SyncEnds& ends = command->ends;
  const Endpoint& from = ends.from;
  const Endpoint& to = ends.to;

  Problems problems;
  std::string error;
  auto target = openEndpoint(to, ends.toPassword, error);
  if (!target) problems.push_back(error);
  auto replication = target ? info(*target, "replication", error) : std::nullopt;
  if (target && !replication) problems.push_back(error);
  const std::string recordPath = syncRecordPath(to);
  std::string recordError;
  std::optional<SyncRecord> record = readSyncRecord(recordPath, recordError);
  if (!recordError.empty()) problems.push_back(recordError);
  if (record) {
    maskRecordedPassword(*record, reporter);
    if (record->source != from.address()) {
      problems.push_back(fmt::format("{} records a sync from {}, not from {}", recordPath,
                                     foreign(record->source), from.address()));
    }
  }
  bool replica = false;
  if (replication) {
    replica = infoField(*replication, "role") != "master";
    if (replica && !replicatesFrom(*replication, from)) {
      problems.push_back(fmt::format("{} is {}, not of {}: refusing to change it", to.address(),
                                     roleText(*replication), from.address()));
    }
    // A replica refuses FLUSHALL (READONLY) until it is a master: its
    // permission cannot be checked before then.
    std::vector<Probe> probes = replicationProbes();
    if (!replica) probes.push_back({{"FLUSHALL", "mig-permission-probe"}, "FLUSHALL"});
    probeCommands(*target, "target", probes, problems);
  }
  if (!problems.empty()) return refuseBeforeAnyChange(reporter, "redis-unsync", "unsync", problems);

  auto keys = allKeys(*target, error);
  if (!keys) return reporter.fail(error);
  std::string notBack =
      standDown(*target, record, recordPath,
                {Clock::now() + std::chrono::seconds(command->timeoutSeconds), &reporter});
  if (!notBack.empty()) return reporter.fail(notBack);
  if (!call(*target, {"FLUSHALL"}, error)) return reporter.fail(error);
  std::vector<std::string> done;
  done.push_back(replica ? fmt::format("replication from {} stopped", from.address())
                         : "a master already");
  if (!record) {
    done.push_back(
        fmt::format("no record of a sync into it ({}): settings left as they are", recordPath));
  } else if (!record->settings.empty()) {
    std::vector<std::string> names;
    for (const SavedSetting& setting : record->settings) names.push_back(setting.name);
    done.push_back(text::joined(names, ", ") + " put back");
  }
  done.push_back(fmt::format("emptied (FLUSHALL: {} in every database)",
                             counted(static_cast<uint64_t>(keys->keys), "key", "keys")));
  reporter.say(fmt::format("{}: {}", to.address(), text::joined(done, "; ")));
  return 0;
}

}  // namespace mig::drivers
