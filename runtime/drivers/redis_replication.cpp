// redis-copy --method replication: the target replicates the source until it
// has synced, then is a master again with its own settings back.

#include <fmt/format.h>
#include <signal.h>

#include <cstdlib>
#include <thread>

#include "runtime/drivers/redis_sync.h"

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

/// How long putting the target back may take: the runtime sends SIGTERM,
/// then SIGKILL 5 seconds later (runtime/process_runner.h), and the driver
/// must have put the target back and said so before that.
constexpr auto kPutBackWithin = std::chrono::milliseconds(4000);
/// Between two REPLICAOF NO ONE while the target loads the snapshot.
constexpr auto kPutBackRetry = std::chrono::milliseconds(20);
/// While the target's link is down, the source is asked (PING) this often;
/// when it has not answered for kSourceGoneAfter the copy gives up, rather
/// than waiting out the step's timeout for a source that is gone.
constexpr auto kSourceCheckInterval = std::chrono::milliseconds(1000);
constexpr auto kSourceGoneAfter = std::chrono::seconds(10);
/// One PING's (and connection's) wait for the source.
constexpr auto kSourceAnswerWithin = std::chrono::milliseconds(500);

// ---------------------------------------------------------------------------
// Stop signals

/// The signal (SIGTERM, SIGINT, SIGHUP, SIGQUIT: a step's timeout, a cancel,
/// Ctrl-C, a closed terminal) received while the target replicates; 0 when
/// none. The driver then puts the target back before exiting.
volatile sig_atomic_t stopSignal = 0;

void onStopSignal(int signal) {
  stopSignal = signal;
}

constexpr int kStopSignals[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT};

std::string_view signalName(int signal) {
  switch (signal) {
    case SIGTERM:
      return "SIGTERM";
    case SIGINT:
      return "SIGINT";
    case SIGHUP:
      return "SIGHUP";
    case SIGQUIT:
      return "SIGQUIT";
    default:
      return "a signal";
  }
}

/// Catches the stop signals for as long as it lives, restoring the previous
/// handlers after.
class StopSignals {
 public:
  StopSignals() {
    stopSignal = 0;
    struct sigaction action {};
    action.sa_handler = onStopSignal;
    sigemptyset(&action.sa_mask);
    for (size_t i = 0; i < std::size(kStopSignals); ++i) {
      sigaction(kStopSignals[i], &action, &previous_[i]);
    }
  }
  ~StopSignals() {
    for (size_t i = 0; i < std::size(kStopSignals); ++i) {
      sigaction(kStopSignals[i], &previous_[i], nullptr);
    }
  }
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

 private:
  struct sigaction previous_[std::size(kStopSignals)]{};
};

// ---------------------------------------------------------------------------
// Putting the target back

/// The target's settings before the copy changed them.
struct SavedSettings {
  std::string masterauth;
  std::string masteruser;
  std::string disklessLoad;
};

/// What the copy changed on the target: each set once its command was sent
/// (or might have arrived before the connection broke), unless the server
/// refused it.
struct Changes {
  bool masterauth = false;
  bool masteruser = false;
  bool disklessLoad = false;
  bool replicaof = false;
};

/// A connection that is opened again when it has failed, every wait ending
/// at a deadline.
class Reconnecting {
 public:
  Reconnecting(Connection& connection, const Password& password)
      : original_(connection), password_(password) {}

  /// One command: nullopt with `error` set when the connection failed and
  /// failed again once reopened, or the deadline has passed. Error replies
  /// are replies.
  std::optional<Reply> command(std::initializer_list<std::string_view> args,
                               Clock::time_point deadline, std::string& error) {
    for (int attempt = 0; attempt < 2; ++attempt) {
      const auto left = timeLeft(deadline);
      if (!left) {
        error =
            fmt::format("redis {}: no reply in time (timed out)", original_.endpoint().address());
        return std::nullopt;
      }
      Connection* connection = current(*left, error);
      if (connection == nullptr) return std::nullopt;
      connection->setIoTimeout(*left);
      auto reply = connection->command(args);
      connection->setIoTimeout(ConnectOptions{}.ioTimeout);
      if (reply) return reply;
      error = connection->error();
    }
    return std::nullopt;
  }

  /// The connection that works (a new one when the original failed).
  Connection& connection() { return fresh_ ? *fresh_ : original_; }

 private:
  /// Whole milliseconds to the deadline; nullopt when none are left (a
  /// zero timeout would wait for ever).
  static std::optional<std::chrono::milliseconds> timeLeft(Clock::time_point deadline) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return std::nullopt;
    return left;
  }

  Connection* current(std::chrono::milliseconds left, std::string& error) {
    if (!connection().failed()) return &connection();
    ConnectOptions options;
    options.password = password_.value;
    options.passwordSource = password_.source;
    options.connectTimeout = left;
    fresh_ = Connection::open(original_.endpoint(), options, error);
    return fresh_.get();
  }

  Connection& original_;
  const Password& password_;
  std::unique_ptr<Connection> fresh_;
};

/// Puts the target back as it was: its masterauth, masteruser and
/// repl-diskless-load, and a master again. Each step is tried on its own,
/// whatever became of the others, through a new connection when the old one
/// failed, all within kPutBackWithin. The settings go first: without the
/// source's password the target cannot start another sync. A setting the
/// target refuses while it loads the snapshot is set again once it is a
/// master.
class PutBack {
 public:
  /// `sourceClientId`: the id of a connection to the source opened before
  /// the copy; nullopt with `clientIdRefusal` saying why it is not known.
  PutBack(Reconnecting& target, Reconnecting& source, std::optional<int64_t> sourceClientId,
          std::string clientIdRefusal)
      : target_(target),
        source_(source),
        sourceClientId_(sourceClientId),
        clientIdRefusal_(std::move(clientIdRefusal)) {}

  /// "" when everything the copy changed is back; otherwise why not, and
  /// what to run by hand (never a password: "the target's own").
  std::string run(const SavedSettings& saved, const Changes& changes) {
    deadline_ = Clock::now() + kPutBackWithin;
    std::vector<Setting> settings;
    if (changes.masterauth) {
      settings.push_back({"masterauth", saved.masterauth,
                          saved.masterauth.empty() ? "\"\"" : "(the target's own)"});
    }
    if (changes.masteruser) {
      settings.push_back(
          {"masteruser", saved.masteruser, fmt::format("\"{}\"", shown(saved.masteruser))});
    }
    if (changes.disklessLoad) {
      settings.push_back({"repl-diskless-load", saved.disklessLoad, saved.disklessLoad});
    }
    for (Setting& setting : settings) setting.error = configSet(setting);
    const std::string promoted = changes.replicaof ? promote() : "";
    for (Setting& setting : settings) {
      if (setting.error.find("LOADING") != std::string::npos) setting.error = configSet(setting);
    }
    return notPutBack(promoted, settings);
  }

 private:
  struct Setting {
    std::string_view name;
    std::string value;
    std::string byHand;  ///< the value as the message gives it
    std::string error;   ///< why it is not back; "" once it is
  };

  std::string notPutBack(const std::string& promoted, const std::vector<Setting>& settings) {
    std::string why;
    std::string commands = promoted.empty() ? "" : "REPLICAOF NO ONE";
    for (const Setting& setting : settings) {
      if (setting.error.empty()) continue;
      if (why.empty()) why = setting.error;
      if (!commands.empty()) commands += "; ";
      commands += fmt::format("CONFIG SET {} {}", setting.name, setting.byHand);
    }
    if (commands.empty()) return "";
    if (why.empty()) why = promoted;
    return fmt::format("{} is not as it was ({}): run on it {}",
                       target_.connection().endpoint().address(), why, commands);
  }

  std::string configSet(const Setting& setting) {
    std::string error;
    auto reply = target_.command({"CONFIG", "SET", setting.name, setting.value}, deadline_, error);
    if (!reply) return error;
    return reply->isError() ? commandFailed("CONFIG SET", target_.connection(), *reply) : "";
  }

  /// REPLICAOF NO ONE, which a target refuses while it loads the snapshot:
  /// the source then drops its link to the target, which ends the load, and
  /// it is asked again.
  std::string promote() {
    while (true) {
      std::string error;
      auto reply = target_.command({"REPLICAOF", "NO", "ONE"}, deadline_, error);
      if (!reply) return error;
      if (!reply->isError()) return "";
      error = commandFailed("REPLICAOF", target_.connection(), *reply);
      if (!reply->text.starts_with("LOADING")) return error;
      if (Clock::now() >= deadline_) {
        return fmt::format(
            "{}, still after {}s", error,
            std::chrono::duration_cast<std::chrono::seconds>(kPutBackWithin).count());
      }
      if (std::string failure = dropLinkFromSource(); !failure.empty()) {
        return error + "; and " + failure;
      }
      std::this_thread::sleep_for(kPutBackRetry);
    }
  }

  /// Closes the source's connections to replicas that came after the copy
  /// began (client ids grow): the target's. "" or why not.
  std::string dropLinkFromSource() {
    if (!sourceClientId_) return clientIdRefusal_;
    std::string error;
    auto list = source_.command({"CLIENT", "LIST", "TYPE", "replica"}, deadline_, error);
    if (!list) return error;
    if (list->isError()) return commandFailed("CLIENT LIST", source_.connection(), *list);
    for (int64_t id : clientIds(list->text)) {
      if (id <= *sourceClientId_) continue;
      auto kill = source_.command({"CLIENT", "KILL", "ID", std::to_string(id)}, deadline_, error);
      if (!kill) return error;
      if (kill->isError()) return commandFailed("CLIENT KILL", source_.connection(), *kill);
    }
    return "";
  }

  /// The ids of a CLIENT LIST reply ("id=12 addr=... flags=S ...", a line each).
  static std::vector<int64_t> clientIds(std::string_view list) {
    std::vector<int64_t> ids;
    for (size_t at = 0; (at = list.find("id=", at)) != std::string_view::npos; at += 3) {
      if (at != 0 && list[at - 1] != '\n') continue;
      ids.push_back(std::atoll(std::string(list.substr(at + 3, 20)).c_str()));
    }
    return ids;
  }

  Reconnecting& target_;
  Reconnecting& source_;
  std::optional<int64_t> sourceClientId_;
  std::string clientIdRefusal_;
  Clock::time_point deadline_;
};

// ---------------------------------------------------------------------------
// Waiting for the sync

/// Keys the server has evicted under maxmemory since it started.
std::optional<int64_t> evictedKeys(Connection& connection, std::string& error) {
  auto stats = info(connection, "stats", error);
  if (!stats) return std::nullopt;
  return std::atoll(infoField(*stats, "evicted_keys").c_str());
}

enum class Waited { kSynced, kStopped, kTimedOut, kNotStarted, kSourceGone, kFailed };

/// One copy by replication, from the first look at the target to the
/// report.
class ReplicationCopy {
 public:
  ReplicationCopy(Connection& source, Connection& target, const Password& sourcePassword,
                  const Password& targetPassword, const ReplicationOptions& options,
                  Reporter& reporter)
      : source_(source),
        target_(target),
        sourcePassword_(sourcePassword),
        options_(options),
        reporter_(reporter),
        reconnectingSource_(source, sourcePassword),
        reconnectingTarget_(target, targetPassword) {}

  ReplicationResult run() {
    if (!readBefore()) return notRepointed();
    reporter_.say(fmt::format(
        "replicating {} into {}: every database of the target is replaced by the source's",
        from().address(), to().address()));
    start_ = Clock::now();
    // From the first change to the target on, a stop signal puts it back.
    StopSignals stopSignals;
    if (!recordReplicating()) return notRepointed();
    if (!repoint()) return notRepointed();
    switch (waitForSync()) {
      case Waited::kSynced:
        return finish();
      case Waited::kNotStarted:
        return notStarted();
      case Waited::kStopped:
        return putBackAndFail(fmt::format("stopped by {} while {} was syncing from {} ({})",
                                          signalName(stopSignal), to().address(), from().address(),
                                          state_));
      case Waited::kTimedOut:
        return putBackAndFail(fmt::format("{} did not finish syncing from {} within {}s ({})",
                                          to().address(), from().address(), options_.timeoutSeconds,
                                          state_));
      case Waited::kSourceGone:
        return putBackAndFail(fmt::format(
            "the source {} has not answered for {}s ({}) while {} synced from it ({}): giving up",
            from().address(), std::chrono::seconds(kSourceGoneAfter).count(), sourceSilence_,
            to().address(), state_));
      case Waited::kFailed:
        break;
    }
    return putBackAndFail(error_);
  }

 private:
  const Endpoint& from() const { return source_.endpoint(); }
  const Endpoint& to() const { return target_.endpoint(); }

  ReplicationResult fail(std::string_view message) {
    reporter_.fail(message);
    return ReplicationResult::kFailed;
  }

  /// The target's settings, the source's replicas and the eviction count
  /// before any change.
  bool readBefore() {
    auto masterauth = configValue(target_, "masterauth", error_);
    auto masteruser = masterauth ? configValue(target_, "masteruser", error_) : std::nullopt;
    auto disklessLoad =
        masteruser ? configValue(target_, "repl-diskless-load", error_) : std::nullopt;
    auto replicas = disklessLoad ? replicaCount(source_, error_) : std::nullopt;
    auto evicted = replicas ? evictedKeys(target_, error_) : std::nullopt;
    // Only needed to put back a target that is loading the snapshot.
    auto clientId = evicted ? source_.command({"CLIENT", "ID"}) : std::nullopt;
    if (!clientId) {
      if (evicted) error_ = source_.error();
      return false;
    }
    saved_ = {std::move(*masterauth), std::move(*masteruser), std::move(*disklessLoad)};
    reporter_.addSecret(saved_.masterauth);
    replicasBefore_ = *replicas;
    evictedBefore_ = *evicted;
    sourceClientId_ = clientId->isError() ? std::nullopt : std::optional(clientId->integer);
    if (clientId->isError()) clientIdRefusal_ = commandFailed("CLIENT ID", source_, *clientId);
    return true;
  }

  /// Sends `args` to the target: false with error_ set when it failed.
  /// `changed` is set unless the server refused the command: a command
  /// whose connection broke may have been carried out.
  bool change(std::initializer_list<std::string_view> args, bool& changed) {
    auto reply = target_.command(args);
    changed = !reply || !reply->isError();
    if (!reply) error_ = target_.error();
    if (reply && reply->isError()) error_ = commandFailed(*args.begin(), target_, *reply);
    return reply && !reply->isError();
  }

  /// The source's password (and user) on the target, the snapshot loaded
  /// as it arrives when the target allows, then REPLICAOF. Only Redis's
  /// default repl-diskless-load is changed: a server set otherwise knows why.
  bool repoint() {
    if (!change({"CONFIG", "SET", "masterauth", sourcePassword_.value}, changes_.masterauth)) {
      return false;
    }
    if (saved_.masteruser != from().user &&
        !change({"CONFIG", "SET", "masteruser", from().user}, changes_.masteruser)) {
      return false;
    }
    if (saved_.disklessLoad == "disabled" &&
        !change({"CONFIG", "SET", "repl-diskless-load", kDisklessLoad}, changes_.disklessLoad)) {
      return false;
    }
    return change({"REPLICAOF", from().host, std::to_string(from().port)}, changes_.replicaof);
  }

  /// Polls the target until it has synced, a stop signal came, the time is
  /// up, the sync did not start in time, or a server failed.
  Waited waitForSync() {
    auto lastProgress = Clock::now();
    bool started = false;
    while (true) {
      std::this_thread::sleep_for(kReplicationPoll);
      target_.append({"INFO", "replication"});
      target_.append({"INFO", "persistence"});
      auto replication = target_.read();
      auto persistence = replication ? target_.read() : std::nullopt;
      if (!persistence) {
        error_ = target_.error();
        return Waited::kFailed;
      }
      // An error reply: e.g. LOADING from servers older than Redis 4.
      bool linkUp = false;
      if (!replication->isError() && !persistence->isError()) {
        state_ = syncState(replication->text, persistence->text);
        linkUp = infoField(replication->text, "master_link_status") == "up";
        if (linkUp && infoField(replication->text, "master_sync_in_progress") == "0") {
          return Waited::kSynced;
        }
      }
      if (stopSignal != 0) return Waited::kStopped;
      if (started && !linkUp && sourceGone()) return Waited::kSourceGone;
      if (!started) {
        // The source lists the target once it has connected, authenticated
        // and asked for a sync; until then the target's data is untouched.
        // A source that does not answer ends the wait as a dead one does.
        source_.setIoTimeout(kSourceGoneAfter);
        auto replicas = replicaCount(source_, error_);
        source_.setIoTimeout(ConnectOptions{}.ioTimeout);
        if (!replicas) return Waited::kFailed;
        started = *replicas > replicasBefore_;
        if (!started && Clock::now() - start_ > options_.startWithin) return Waited::kNotStarted;
      }
      if (secondsSince(start_) > static_cast<double>(options_.timeoutSeconds)) {
        return Waited::kTimedOut;
      }
      if (Clock::now() - lastProgress >= kProgressInterval) {
        lastProgress = Clock::now();
        reporter_.progress(fmt::format("redis-copy: waiting for {} to sync from {} ({:.0f}s): {}",
                                       to().address(), from().address(), secondsSince(start_),
                                       state_));
      }
    }
  }

  /// Whether the source has not answered a PING (asked at most every
  /// kSourceCheckInterval) for kSourceGoneAfter. Through a connection of
  /// its own, opened again after a failure, so that a source slow to
  /// answer while it forks for the snapshot does not break the one the
  /// copy goes on with.
  bool sourceGone() {
    if (Clock::now() - lastSourceCheck_ < kSourceCheckInterval) return false;
    lastSourceCheck_ = Clock::now();
    std::string failure;
    if (pinger_ == nullptr || pinger_->failed()) {
      ConnectOptions connect;
      connect.password = sourcePassword_.value;
      connect.passwordSource = sourcePassword_.source;
      connect.connectTimeout = kSourceAnswerWithin;
      connect.ioTimeout = kSourceAnswerWithin;
      pinger_ = Connection::open(from(), connect, failure);
    }
    auto pong = pinger_ ? pinger_->command({"PING"}) : std::nullopt;
    if (pong && !pong->isError()) {
      sourceSilentSince_.reset();
      return false;
    }
    if (pinger_) failure = pong ? commandFailed("PING", *pinger_, *pong) : pinger_->error();
    sourceSilence_ = failure;
    if (!sourceSilentSince_) sourceSilentSince_ = lastSourceCheck_;
    return Clock::now() - *sourceSilentSince_ >= kSourceGoneAfter;
  }

  /// The copy's record says, before the first change, that the target
  /// replicates and what to put back: a copy cut short by kill -9 is put
  /// back by the next redis-copy or redis-wipe. False with error_ set.
  bool recordReplicating() {
    if (options_.record == nullptr) return true;
    SyncRecord replicating = *options_.record;
    replicating.settings = {{"masterauth", saved_.masterauth},
                            {"masteruser", saved_.masteruser},
                            {"repl-diskless-load", saved_.disklessLoad}};
    replicating.replicating = true;
    error_ = writeSyncRecord(options_.recordPath, replicating);
    if (!error_.empty()) return false;
    *options_.record = std::move(replicating);
    return true;
  }

  /// "" when the target is back as it was (and its record says so);
  /// otherwise what is not.
  std::string putBack() {
    PutBack putBack(reconnectingTarget_, reconnectingSource_, sourceClientId_, clientIdRefusal_);
    std::string notBack = putBack.run(saved_, changes_);
    if (!notBack.empty() || options_.record == nullptr || !options_.record->replicating) {
      return notBack;
    }
    options_.record->replicating = false;
    options_.record->settings.clear();
    return writeSyncRecord(options_.recordPath, *options_.record);
  }

  ReplicationResult putBackAndFail(const std::string& cause) {
    if (std::string notBack = putBack(); !notBack.empty()) return fail(cause + "; and " + notBack);
    return fail(cause + "; replication stopped");
  }

  /// A failure before the target was re-pointed: auto copies by dump.
  ReplicationResult notRepointed() {
    if (std::string notBack = putBack(); !notBack.empty()) return fail(error_ + "; and " + notBack);
    if (!options_.fallBack) {
      reportNothingChanged();
      return fail(error_ + "; the target is as it was");
    }
    reporter_.say(fmt::format("replication could not start: {}; the target is as it was", error_));
    return ReplicationResult::kNotStarted;
  }

  ReplicationResult notStarted() {
    const std::string message = fmt::format(
        "replication did not start within {:.0f}s ({}): the target could not reach {} or was "
        "refused by it (the source's user needs SYNC and PSYNC)",
        std::chrono::duration<double>(options_.startWithin).count(), state_, from().address());
    if (std::string notBack = putBack(); !notBack.empty())
      return fail(message + "; and " + notBack);
    if (!options_.fallBack) {
      reportNothingChanged();
      return fail(message + "; the target is as it was");
    }
    reporter_.say(message + "; the target is as it was");
    return ReplicationResult::kNotStarted;
  }

  /// Synced: the target is put back, then must hold the keys the source
  /// held when it synced, but those whose TTL ran out since: a master again,
  /// it evicts at once what exceeds its maxmemory (a replica ignores it).
  ReplicationResult finish() {
    const double elapsed = secondsSince(start_);
    auto sourceKeys = allKeys(source_, error_);
    if (!sourceKeys) return putBackAndFail(error_);
    if (std::string notBack = putBack(); !notBack.empty()) {
      return fail(
          fmt::format("{} synced from {}, but {}", to().address(), from().address(), notBack));
    }
    Connection& target = reconnectingTarget_.connection();
    auto targetKeys = allKeys(target, error_);
    auto evicted = targetKeys ? evictedKeys(target, error_) : std::nullopt;
    if (!evicted) return fail(error_);
    const int64_t missing = sourceKeys->keys - targetKeys->keys;
    if (missing > 0 && (*evicted > evictedBefore_ || missing > sourceKeys->expires)) {
      return fail(fmt::format(
          "{} holds {} after the copy, {} fewer than the {} the source held when the target "
          "synced ({} evicted by the target under maxmemory since the copy began): keys were "
          "lost on the target",
          to().describe(), counted(static_cast<uint64_t>(targetKeys->keys), "key", "keys"),
          withThousands(static_cast<uint64_t>(missing)),
          withThousands(static_cast<uint64_t>(sourceKeys->keys)),
          withThousands(static_cast<uint64_t>(*evicted - evictedBefore_))));
    }
    reporter_.say(copySummary(static_cast<uint64_t>(targetKeys->keys), elapsed) +
                  " by replication (every database)");
    return ReplicationResult::kCopied;
  }

  Connection& source_;
  Connection& target_;
  const Password& sourcePassword_;
  const ReplicationOptions& options_;
  Reporter& reporter_;
  Reconnecting reconnectingSource_;
  Reconnecting reconnectingTarget_;
  SavedSettings saved_;
  Changes changes_;
  int64_t replicasBefore_ = 0;
  int64_t evictedBefore_ = 0;
  std::optional<int64_t> sourceClientId_;
  std::string clientIdRefusal_;
  Clock::time_point start_;
  std::string state_ = "link down";
  std::string error_;
  Clock::time_point lastSourceCheck_;
  std::optional<Clock::time_point> sourceSilentSince_;
  std::unique_ptr<Connection> pinger_;  ///< the source, for sourceGone
  std::string sourceSilence_;  ///< why the source's last PING failed
};

}  // namespace

ReplicationResult copyByReplication(Connection& source, Connection& target,
                                    const Password& sourcePassword, const Password& targetPassword,
                                    const ReplicationOptions& options, Reporter& reporter) {
  ReplicationCopy copy(source, target, sourcePassword, targetPassword, options, reporter);
  return copy.run();
}

}  // namespace mig::drivers::redis
