// redis-copy --method replication: the target replicates the source until it
// has synced, then is a master again with its own settings back.

#include <fmt/format.h>
#include <signal.h>

#include <cstdlib>
#include <thread>

#include "runtime/drivers/redis_copy.h"

namespace mig::drivers::redis {
namespace {

/// How often the target is asked whether it has synced: the delay this
/// adds to a copy is half of it, on average.
constexpr auto kReplicationPoll = std::chrono::milliseconds(2);

/// How an empty target loads the source's snapshot: as it arrives, rather
/// than written to disk first and read back (Redis 6 and later). A target
/// that holds keys still loads from disk, keeping them until the snapshot
/// is complete.
constexpr std::string_view kDisklessLoad = "on-empty-db";

/// The target's settings before we changed them.
struct SavedSettings {
  std::string masterauth;
  std::string masteruser;
  bool userChanged = false;  ///< masteruser exists from Redis 6 on: touched only when needed
  std::string disklessLoad;  ///< repl-diskless-load; empty: not changed
};

/// Makes the target a master again and gives it back its masterauth and
/// masteruser (normally empty), so that it does not keep the source's
/// password, and its repl-diskless-load. Returns an error message, or "".
std::string stopReplication(Connection& target, const SavedSettings& saved) {
  std::string error;
  if (!call(target, {"REPLICAOF", "NO", "ONE"}, error)) return error;
  if (!call(target, {"CONFIG", "SET", "masterauth", saved.masterauth}, error)) return error;
  if (saved.userChanged &&
      !call(target, {"CONFIG", "SET", "masteruser", saved.masteruser}, error)) {
    return error;
  }
  if (!saved.disklessLoad.empty() &&
      !call(target, {"CONFIG", "SET", "repl-diskless-load", saved.disklessLoad}, error)) {
    return error;
  }
  return "";
}

/// "link down, 12.5 MB of 40.1 MB received" from the replica's INFO.
std::string syncState(std::string_view replication) {
  std::string state = "link " + infoField(replication, "master_link_status");
  if (infoField(replication, "master_sync_in_progress") == "1") {
    const std::string read = infoField(replication, "master_sync_read_bytes");
    const std::string total = infoField(replication, "master_sync_total_bytes");
    state += ", sync in progress";
    if (!read.empty()) {
      state += fmt::format(", {} bytes received", read);
      if (!total.empty() && total != "-1") state += fmt::format(" of {}", total);
    }
  }
  return state;
}

/// Set by SIGTERM or SIGINT (a step's timeout, a cancel, Ctrl-C) while the
/// target replicates: the driver then puts the target back before exiting.
volatile sig_atomic_t stopRequested = 0;

void onStopSignal(int) {
  stopRequested = 1;
}

/// Catches SIGTERM and SIGINT for as long as it lives, restoring the
/// previous handlers after.
class StopSignals {
 public:
  StopSignals() {
    struct sigaction action {};
    action.sa_handler = onStopSignal;
    sigemptyset(&action.sa_mask);
    sigaction(SIGTERM, &action, &previousTerm_);
    sigaction(SIGINT, &action, &previousInt_);
  }
  ~StopSignals() {
    sigaction(SIGTERM, &previousTerm_, nullptr);
    sigaction(SIGINT, &previousInt_, nullptr);
  }
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

 private:
  struct sigaction previousTerm_ {};
  struct sigaction previousInt_ {};
};

/// Puts the target back after replication went wrong: through its
/// connection, or through a new one when that connection is what failed.
std::string restoreTarget(Connection& target, const Password& targetPassword,
                          const SavedSettings& saved) {
  std::string error = stopReplication(target, saved);
  if (error.empty()) return "";
  ConnectOptions options;
  options.password = targetPassword.value;
  options.passwordSource = targetPassword.source;
  auto fresh = Connection::open(target.endpoint(), options, error);
  return fresh ? stopReplication(*fresh, saved) : error;
}

/// The source's replicas, from INFO replication ("connected_slaves:1").
std::optional<int64_t> replicaCount(Connection& source, std::string& error) {
  auto replication = info(source, "replication", error);
  if (!replication) return std::nullopt;
  return std::atoll(infoField(*replication, "connected_slaves").c_str());
}

}  // namespace

ReplicationResult copyByReplication(Connection& source, Connection& target,
                                    const Password& sourcePassword, const Password& targetPassword,
                                    const ReplicationOptions& options, Reporter& reporter) {
  const Endpoint& from = source.endpoint();
  const Endpoint& to = target.endpoint();
  auto failed = [&](std::string_view message) {
    reporter.fail(message);
    return ReplicationResult::kFailed;
  };
  std::string error;
  SavedSettings saved;
  auto masterauth = configValue(target, "masterauth", error);
  auto masteruser = masterauth ? configValue(target, "masteruser", error) : std::nullopt;
  auto disklessLoad = masteruser ? configValue(target, "repl-diskless-load", error) : std::nullopt;
  auto replicasBefore = disklessLoad ? replicaCount(source, error) : std::nullopt;
  if (!replicasBefore) return failed(error);
  saved = {std::move(*masterauth), std::move(*masteruser), false, ""};
  saved.userChanged = saved.masteruser != from.user;
  // Only Redis's default is changed; a server set otherwise knows why.
  if (*disklessLoad == "disabled") saved.disklessLoad = std::move(*disklessLoad);
  reporter.addSecret(saved.masterauth);

  reporter.say(
      fmt::format("replicating {} into {}: every database of the target is replaced by "
                  "the source's",
                  from.address(), to.address()));
  const auto start = Clock::now();
  // From the first change to the target on, a stop signal puts it back.
  StopSignals stopSignals;
  if (!call(target, {"CONFIG", "SET", "masterauth", sourcePassword.value}, error) ||
      (saved.userChanged && !call(target, {"CONFIG", "SET", "masteruser", from.user}, error)) ||
      (!saved.disklessLoad.empty() &&
       !call(target, {"CONFIG", "SET", "repl-diskless-load", kDisklessLoad}, error))) {
    stopReplication(target, saved);
    return failed(error);
  }
  if (!call(target, {"REPLICAOF", from.host, std::to_string(from.port)}, error)) {
    stopReplication(target, saved);
    return failed(error);
  }

  std::string state = "link down";
  auto lastProgress = Clock::now();
  bool synced = false;
  bool started = !options.startWithin;  // only watched when it matters
  bool gaveUp = false;
  while (!synced) {
    if (secondsSince(start) > static_cast<double>(options.timeoutSeconds)) break;
    if (stopRequested) {
      error = fmt::format("stopped by a signal while {} was syncing from {} ({})", to.address(),
                          from.address(), state);
      break;
    }
    std::this_thread::sleep_for(kReplicationPoll);
    auto replication = target.command({"INFO", "replication"});
    if (!replication) {
      error = target.error();
      break;
    }
    if (replication->isError()) continue;  // e.g. LOADING on old servers
    state = syncState(replication->text);
    synced = infoField(replication->text, "master_link_status") == "up" &&
             infoField(replication->text, "master_sync_in_progress") == "0";
    if (!started) {
      // The source lists the target once it has connected, authenticated
      // and asked for a sync; until then the target's data is untouched.
      auto replicas = replicaCount(source, error);
      if (!replicas) break;
      started = synced || *replicas > *replicasBefore;
      if (!started && Clock::now() - start > *options.startWithin) {
        gaveUp = true;
        break;
      }
    }
    if (!synced && Clock::now() - lastProgress >= kProgressInterval) {
      lastProgress = Clock::now();
      reporter.progress(fmt::format("redis-copy: waiting for {} to sync from {} ({:.0f}s): {}",
                                    to.address(), from.address(), secondsSince(start), state));
    }
  }
  if (!error.empty() || gaveUp) {
    if (std::string stopError = restoreTarget(target, targetPassword, saved); !stopError.empty()) {
      return failed((error.empty() ? "replication did not start" : error) + "; and " + stopError +
                    ": the target may still be a replica: run REPLICAOF NO ONE and CONFIG SET "
                    "masterauth \"\" on it");
    }
    if (!gaveUp) return failed(error + "; replication stopped");
    reporter.say(fmt::format(
        "replication did not start within {:.0f}s ({}): the target could not reach {} or was "
        "refused by it; the target is as it was",
        std::chrono::duration<double>(*options.startWithin).count(), state, from.address()));
    return ReplicationResult::kNotStarted;
  }
  const double elapsed = secondsSince(start);
  if (std::string stopError = stopReplication(target, saved); !stopError.empty()) {
    return failed(stopError +
                  "; the target may still be a replica: run REPLICAOF NO ONE and CONFIG SET "
                  "masterauth \"\" on it");
  }
  if (!synced) {
    return failed(fmt::format(
        "{} did not finish syncing from {} within {}s ({}); check that the target can reach the "
        "source at that address and that the source's password is right; replication stopped",
        to.address(), from.address(), options.timeoutSeconds, state));
  }
  auto keys = info(target, "keyspace", error);
  if (!keys) return failed(error);
  uint64_t total = 0;
  for (const auto& [db, count] : keyspace(*keys)) total += static_cast<uint64_t>(count.keys);
  reporter.say(copySummary(total, elapsed) + " by replication (every database)");
  return ReplicationResult::kCopied;
}

}  // namespace mig::drivers::redis
