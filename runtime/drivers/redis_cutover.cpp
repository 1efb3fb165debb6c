// redis-cutover: the second half of an online migration. Once the target
// receives the source's replication stream up to the source's offset,
// writes on the source are paused (CLIENT PAUSE WRITE: readers go on,
// writers wait), the target applies the whole stream, is promoted
// (REPLICAOF NO ONE), and the source is unpaused; then the target gets the
// settings it had before redis-sync back. A target that does not catch up
// in time is left replicating, the source unpaused, nothing changed.

#include <fmt/format.h>

#include <algorithm>
#include <thread>

#include "runtime/drivers/redis_sync.h"
#include "runtime/drivers/text.h"

namespace mig::drivers::redis {
namespace {

using namespace std::chrono_literals;

/// --catch-up's default: how long the target may take to receive the
/// source's stream before writes are paused, and then to apply it.
constexpr auto kDefaultCatchUp = 10s;
/// The pause Redis is asked for lasts this much longer than --catch-up: time
/// to promote the target and unpause, and no longer, so that a driver killed
/// at any moment never leaves the source paused for more than that.
constexpr auto kPauseMargin = 2s;
/// How often the offsets are compared.
constexpr auto kCatchUpPoll = 1ms;
/// How long putting the target's settings back may take once promoted.
constexpr auto kSettingsWithin = 10s;
/// CLIENT PAUSE WRITE appeared in Redis 6.2.
const std::vector<int> kPauseWriteSince = {6, 2};

/// How long writes waited: "0.4ms", "12.5ms", "1.2s".
std::string pauseText(double seconds) {
  return seconds < 1 ? fmt::format("{:.1f}ms", seconds * 1000) : duration(seconds);
}

std::chrono::milliseconds timeLeft(Clock::time_point deadline) {
  return std::max(1ms,
                  std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()));
}

/// How far the target is in the source's replication stream: what it has
/// received, or what it has applied.
enum class Progress { kReceived, kApplied };

/// Where the two servers are in the source's replication stream.
struct Offsets {
  int64_t source = 0;      ///< the source's master_repl_offset
  int64_t target = 0;      ///< the target's, as waited for (received or applied)
  std::string link = "?";  ///< the target's master_link_status

  bool caughtUp() const { return link == "up" && target >= source; }
};

/// One redis-cutover, from the checks to the report.
class Cutover {
 public:
  Cutover(const SyncEnds& ends, std::chrono::milliseconds catchUp, Reporter& reporter)
      : ends_(ends), catchUp_(catchUp), reporter_(reporter) {}

  int run() {
    Problems problems;
    check(problems);
    if (!problems.empty()) {
      return refuseBeforeAnyChange(reporter_, "redis-cutover", "cut over", problems);
    }
    // Before writes wait: the source's stream reaches the target. Right
    // after a sync, Redis 7 streams to a new replica only once it has
    // first acknowledged (within a second); and a target far behind
    // catches up here, with writes flowing, rather than during the pause.
    if (!waitForOffset(Progress::kReceived, Clock::now() + catchUp_)) {
      reporter_.fail(fmt::format(
          "{} did not receive the replication stream of {} up to its offset of {} within {} "
          "({} received, link {}{}); writes were not paused",
          to().address(), from().address(), withThousands(offsets_.source),
          duration(seconds(catchUp_)), withThousands(offsets_.target), foreign(offsets_.link),
          error_.empty() ? "" : ": " + error_));
      return refused();
    }
    if (int failed = pauseAndPromote(); failed != 0) return failed;
    target_->setIoTimeout(ConnectOptions{}.ioTimeout);
    std::string notBack =
        standDown(*target_, record_, recordPath_, {Clock::now() + kSettingsWithin, &reporter_});
    if (!notBack.empty()) return reporter_.fail(notBack);
    reporter_.say(settingsPutBack());
    return 0;
  }

 private:
  const Endpoint& from() const { return ends_.from; }
  const Endpoint& to() const { return ends_.to; }

  static double seconds(std::chrono::nanoseconds span) {
    return std::chrono::duration<double>(span).count();
  }

  /// Everything before the pause: both servers, their roles, the target's
  /// link, the permissions, the record of the sync.
  void check(Problems& problems) {
    std::string error;
    auto facts = openBoth(ends_, source_, target_, problems);
    if (!facts) return;
    const ServerFacts* sourceFacts = &facts->first;
    if (versionNumbers(sourceFacts->version) < kPauseWriteSince) {
      problems.push_back(fmt::format(
          "the source runs Redis {}: pausing only writes (CLIENT PAUSE WRITE) needs 6.2 or later",
          foreign(sourceFacts->version)));
    }
    auto sourceRole = info(*source_, "replication", error);
    auto targetRole = sourceRole ? info(*target_, "replication", error) : std::nullopt;
    if (!targetRole) {
      problems.push_back(error);
      return;
    }
    if (infoField(*sourceRole, "role") != "master") {
      problems.push_back(
          fmt::format("the source {} is {}: pausing it would not stop the writes of its master",
                      from().address(), roleText(*sourceRole)));
    }
    if (!replicatesFrom(*targetRole, from())) {
      problems.push_back(
          fmt::format("{} is {}, not a replica of {}: nothing to cut over (redis.sync "
                      "makes it one)",
                      to().address(), roleText(*targetRole), from().address()));
    } else if (infoField(*targetRole, "master_link_status") != "up") {
      problems.push_back(fmt::format("{} has no link to {} (link {}): it cannot catch up",
                                     to().address(), from().address(),
                                     foreign(infoField(*targetRole, "master_link_status"))));
    }
    probeCommands(*source_, "source",
                  {{{"CLIENT", "PAUSE", "mig-permission-probe", "WRITE"}, "CLIENT PAUSE"}},
                  problems);
    probeCommands(*target_, "target", replicationProbes(), problems);
    recordPath_ = syncRecordPath(to());
    std::string recordError;
    record_ = readSyncRecord(recordPath_, recordError);
    if (!recordError.empty()) problems.push_back(recordError);
    if (record_) {
      maskRecordedPassword(*record_, reporter_);
      if (record_->source != from().address()) {
        problems.push_back(fmt::format("{} records a sync from {}, not from {}", recordPath_,
                                       foreign(record_->source), from().address()));
      }
    }
  }

  /// Writes paused, the target caught up and promoted, writes unpaused:
  /// 0, or the exit code of a failure it has reported.
  int pauseAndPromote() {
    const auto pause =
        std::chrono::duration_cast<std::chrono::milliseconds>(catchUp_ + kPauseMargin);
    source_->setIoTimeout(ConnectOptions{}.ioTimeout);
    pausedAt_ = Clock::now();
    pauseEnds_ = pausedAt_ + pause;
    std::string error;
    if (!call(*source_, {"CLIENT", "PAUSE", std::to_string(pause.count()), "WRITE"}, error)) {
      return unpauseAndRefuse(error);
    }
    if (!waitForOffset(Progress::kApplied, pausedAt_ + catchUp_)) {
      return unpauseAndRefuse(fmt::format(
          "{} did not catch up with {} within {} (offset {} of {}, link {}{}); the target still "
          "replicates the source",
          to().address(), from().address(), duration(seconds(catchUp_)),
          withThousands(offsets_.target), withThousands(offsets_.source), foreign(offsets_.link),
          error_.empty() ? "" : ": " + error_));
    }
    const double caughtUpAfter = secondsSince(pausedAt_);
    // Promoted while writes wait, or not at all.
    target_->setIoTimeout(timeLeft(pauseEnds_));
    auto promoted = target_->command({"REPLICAOF", "NO", "ONE"});
    const bool inPause = Clock::now() < pauseEnds_;
    if (promoted && promoted->isError()) {
      return unpauseAndRefuse(commandFailed("REPLICAOF", *target_, *promoted));
    }
    const std::string unpaused = unpause();
    const double pausedFor = secondsSince(pausedAt_);
    if (!promoted) {
      return reporter_.fail(fmt::format(
          "{}: REPLICAOF NO ONE was sent and its reply was lost: the target may or may not be a "
          "master now{}",
          target_->error(), unpaused.empty() ? "" : "; and " + unpaused));
    }
    if (!inPause) {
      return reporter_.fail(fmt::format(
          "{} was promoted after the pause of writes on {} had ended ({}): writes made since "
          "on the source may be missing on the target",
          to().address(), from().address(), duration(seconds(pauseEnds_ - pausedAt_))));
    }
    reporter_.say(fmt::format(
        "writes on {} paused for {}: {} caught up at offset {} after {} and was promoted "
        "(REPLICAOF NO ONE)",
        from().address(), pauseText(pausedFor), to().address(), withThousands(offsets_.source),
        pauseText(caughtUpAfter)));
    // The cutover is done: a pause that outlives it by a second or two
    // harms nothing.
    if (!unpaused.empty()) reporter_.progress("redis-cutover: " + unpaused);
    return 0;
  }

  /// Compares the offsets until the target has received or applied
  /// everything the source wrote (the source's offset may still grow by
  /// its pings to the replica, which the target then has too) or the
  /// deadline has passed.
  bool waitForOffset(Progress progress, Clock::time_point deadline) {
    const std::string_view field =
        progress == Progress::kApplied ? "slave_repl_offset" : "slave_read_repl_offset";
    while (true) {
      // Neither server may hold the driver past the deadline.
      source_->setIoTimeout(timeLeft(deadline));
      target_->setIoTimeout(timeLeft(deadline));
      source_->append({"INFO", "replication"});
      target_->append({"INFO", "replication"});
      source_->flush();
      target_->flush();
      auto source = source_->read();
      auto target = target_->read();
      if (!source) error_ = source_->error();
      if (!target) error_ = target_->error();
      const bool read = source && target && !source->isError() && !target->isError();
      if (read) {
        offsets_.source = std::atoll(infoField(source->text, "master_repl_offset").c_str());
        // Before Redis 7 a replica reports only what it has applied.
        std::string offset = infoField(target->text, field);
        if (offset.empty()) offset = infoField(target->text, "slave_repl_offset");
        offsets_.target = std::atoll(offset.c_str());
        offsets_.link = infoField(target->text, "master_link_status");
        if (offsets_.caughtUp()) return true;
      }
      if (!source || !target || Clock::now() >= deadline) return false;
      std::this_thread::sleep_for(kCatchUpPoll);
    }
  }

  /// CLIENT UNPAUSE, through a new connection if the old one failed. "" or
  /// why not (the pause then ends by itself at its timeout).
  std::string unpause() {
    std::string error;
    Connection* source = usable(source_, from(), ends_.fromPassword, error);
    if (source != nullptr) {
      source->setIoTimeout(ConnectOptions{}.ioTimeout);
      if (call(*source, {"CLIENT", "UNPAUSE"}, error)) return "";
    }
    return fmt::format(
        "writes on {} stay paused until the pause ends by itself, {} after it "
        "began: {}",
        from().address(), duration(seconds(pauseEnds_ - pausedAt_)), error);
  }

  /// Unpauses the source and fails having changed nothing.
  int unpauseAndRefuse(const std::string& cause) {
    const std::string unpaused = unpause();
    reporter_.fail(fmt::format("{}; writes on {} were paused for {}{}", cause, from().address(),
                               pauseText(secondsSince(pausedAt_)),
                               unpaused.empty() ? " and resumed" : "; and " + unpaused));
    return refused();
  }

  int refused() {
    reporter_.fail("nothing was changed");
    reportNothingChanged();
    return 1;
  }

  std::string settingsPutBack() const {
    if (!record_) {
      return fmt::format("no record of a sync into {} ({}): its settings are left as they are",
                         to().address(), recordPath_);
    }
    std::vector<std::string> names;
    for (const SavedSetting& setting : record_->settings) names.push_back(setting.name);
    return fmt::format("{}: {} as before the sync", to().address(),
                       names.empty() ? "settings" : text::joined(names, ", "));
  }

  const SyncEnds& ends_;
  std::chrono::milliseconds catchUp_;
  Reporter& reporter_;
  std::unique_ptr<Connection> source_;
  std::unique_ptr<Connection> target_;
  std::string recordPath_;
  std::optional<SyncRecord> record_;
  Clock::time_point pausedAt_;
  Clock::time_point pauseEnds_;  ///< at the earliest: Redis counts from when it got the command
  Offsets offsets_;
  std::string error_;  ///< why the offsets could not be read
};

}  // namespace
}  // namespace mig::drivers::redis

namespace mig::drivers {

// redis-cutover: see the file comment and stdlib/std/redis.mig.
int redisCutover(const DriverArgs& args, std::ostream& out, std::ostream& err) {
  using namespace redis;
  Reporter reporter("redis-cutover", out, err);
  if (!onlyKnownOptions(args, {"from", "to", "catch-up"}, reporter)) return 2;
  int exitCode = 0;
  auto ends = parseSyncEnds(args, reporter, exitCode);
  if (!ends) return exitCode;
  std::chrono::milliseconds catchUp = kDefaultCatchUp;
  if (auto it = args.options.find("catch-up"); it != args.options.end()) {
    auto parsed = text::parseMilliseconds(it->second);
    if (!parsed) {
      return reporter.fail(
          fmt::format("--catch-up takes a duration such as 500ms, 10s or 1m, not '{}'", it->second),
          2);
    }
    catchUp = std::chrono::milliseconds(*parsed);
  }
  Cutover cutover(*ends, catchUp, reporter);
  return cutover.run();
}

}  // namespace mig::drivers
