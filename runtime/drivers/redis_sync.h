#pragma once

// What redis-sync, redis-unsync and redis-cutover share (redis_sync.cpp,
// redis_cutover.cpp): their two ends, the record of what sync changed on
// the target (redis_sync_record.cpp), and how the target stops replicating
// with its settings put back.
//
// The record is a small file, 0600 from its creation, beside the journal
// ($MIG_JOURNAL's folder; ./.mig when the driver runs outside a step), one
// per target: redis-sync-HOST-PORT.state. redis-sync writes it before its
// first change to the target; unsync and cutover put back what it holds
// and then remove it. It may hold a password (the target's masterauth
// before the sync), which is why it is a private file and not a key of
// the target (the sync replaces every key) or an argument.

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/drivers/redis_common.h"
#include "runtime/drivers/redis_copy.h"

namespace mig::drivers::redis {

/// The two servers of a sync, as the plan names them, with their passwords
/// (MIG_FROM_PASSWORD, MIG_TO_PASSWORD, each falling back to REDISCLI_AUTH).
struct SyncEnds {
  Endpoint from;
  Endpoint to;
  Password fromPassword;
  Password toPassword;
};

/// Reads --from and --to and the passwords, and tells the reporter what to
/// mask; nullopt with `exitCode` set (after a message) when one is missing
/// or malformed.
std::optional<SyncEnds> parseSyncEnds(const DriverArgs& args, Reporter& reporter, int& exitCode);

/// Both servers of a sync opened into `source` and `target`, with their
/// facts (source's, target's); nullopt after adding to `problems` what
/// failed: a connection, INFO, or two URLs that name one server.
std::optional<std::pair<ServerFacts, ServerFacts>> openBoth(const SyncEnds& ends,
                                                           std::unique_ptr<Connection>& source,
                                                           std::unique_ptr<Connection>& target,
                                                           Problems& problems);

/// `connection`, opened again when it has failed (or was never opened);
/// nullptr with `error` set.
Connection* usable(std::unique_ptr<Connection>& connection, const Endpoint& endpoint,
                   const Password& password, std::string& error);

/// Prints "DRIVER: cannot ACTION; nothing was changed:" and each problem on
/// a line of its own, as refuseUnchanged does but through the reporter
/// (problems quote servers), reports that nothing changed, and returns 1.
int refuseBeforeAnyChange(Reporter& reporter, std::string_view driver, std::string_view action,
                          const Problems& problems);

/// A write the checks send to learn whether a command may run, with
/// arguments the command itself rejects (see redis_copy_checks.cpp): a
/// refusal (NOPERM, a renamed command, ...) is a problem, any other error
/// is not, and nothing is ever changed.
struct Probe {
  std::vector<std::string> command;
  std::string name;  ///< "CONFIG SET", "CLIENT PAUSE"
};

/// Adds a problem for each probe the server refuses; false when the
/// connection failed (also a problem).
bool probeCommands(Connection& connection, std::string_view role, const std::vector<Probe>& probes,
                   Problems& problems);

/// The probes of REPLICAOF and CONFIG SET.
std::vector<Probe> replicationProbes();

/// Whether a server's INFO replication says it replicates `source`: its
/// master host and port as REPLICAOF was given them.
bool replicatesFrom(std::string_view replication, const Endpoint& source);

/// "a master", "a replica of 10.0.0.5:6379", from INFO replication.
std::string roleText(std::string_view replication);

// ---------------------------------------------------------------------------
// The record of a sync (redis_sync_record.cpp)

/// A setting sync changed on the target, with the value it had before.
struct SavedSetting {
  std::string name;
  std::string value;
};

/// What the target had before it became a replica of the source.
/// redis-copy keeps one of its own (copyRecordPath) with what the copy
/// wrote, for redis-wipe to empty it all and put back what it replaced.
struct SyncRecord {
  std::string target;                  ///< the target's "host:port"
  std::string source;                  ///< the source's "host:port"
  std::vector<SavedSetting> settings;  ///< in the order sync changed them

  // redis-copy's record only.
  /// The run that copied, "PLAN RUN" (MIG_PLAN, MIG_RUN); "" outside a
  /// run. Only that run's steps build on the record and undo what it says.
  std::string owner;
  /// "replication" (every database written) or "dump" (its database only);
  /// "" for a sync.
  std::string method;
  int db = 0;  ///< the database of the target's URL
  /// The target replicates (or may replicate) the source: the copy was
  /// cut short before it put the target back.
  bool replicating = false;
  bool functions = false;       ///< the copy replaced the target's function libraries
  std::string functionsBefore;  ///< their FUNCTION DUMP before mig's first copy ("" for none)

  /// The saved value of `name`; nullptr when sync did not change it.
  const SavedSetting* find(std::string_view name) const;
};

/// Has the reporter mask the password the record holds (the target's
/// masterauth before the sync), and only that: the other settings are
/// words such as "no" that server replies hold too.
void maskRecordedPassword(const SyncRecord& record, Reporter& reporter);

/// Where the record of a sync into `target` is kept.
std::string syncRecordPath(const Endpoint& target);
/// Where the record of a copy into `target` is kept.
std::string copyRecordPath(const Endpoint& target);

/// The record at `path`; nullopt when there is none or, with `error` set,
/// when it cannot be read.
std::optional<SyncRecord> readSyncRecord(const std::string& path, std::string& error);

/// Writes `record` to `path` (its folder created, 0700, if missing) through
/// a new 0600 file renamed over any older one. "" or why not.
std::string writeSyncRecord(const std::string& path, const SyncRecord& record);

/// Removes the record; "" or why not (none there is fine).
std::string removeSyncRecord(const std::string& path);

// ---------------------------------------------------------------------------
// The record of a copy (redis_wipe.cpp)

/// The function libraries of `server` as one FUNCTION DUMP payload; "" when
/// it has none (or no functions at all: before Redis 7). nullopt with
/// `error` set when it would not say.
std::optional<std::string> functionLibraries(Connection& server, std::string& error);

/// The run this driver runs in, as a copy's record names its owner:
/// "PLAN RUN" from MIG_PLAN and MIG_RUN; "" outside a run.
std::string copyOwner();

/// Whether `record` is this run's to build on and undo: a copy of the
/// same plan and run (one step's, or another's into the same server); any
/// record outside a run (a driver run by hand acts on what it finds).
bool ownRecord(const SyncRecord& record);

/// Whether a copy cut short that `record` tells of may be put back from
/// here: a copy of the same plan (whatever the run: the plan's lock keeps
/// two runs of it apart, so that copy is not running), or outside a run.
bool mayRepair(const SyncRecord& record);

/// The record of the last copy into `target` (copyRecordPath), its
/// recorded password masked by the reporter; nullopt when there is none,
/// or with `error` set when it cannot be read.
std::optional<SyncRecord> readCopyRecord(const Endpoint& target, Reporter& reporter,
                                         std::string& error);

/// A copy by replication cut short (the runner and the driver killed
/// before it put the target back: `record` says it replicates): the target
/// a master again with its settings back, said through the reporter, and
/// the record kept with `replicating no`. "" when nothing was cut short or
/// all is back; otherwise what is not, and what to run by hand.
std::string repairCutShortCopy(Connection& target, SyncRecord& record, Reporter& reporter);

// ---------------------------------------------------------------------------
// Standing down

/// How a target stops replicating and gets its settings back.
struct StandDown {
  /// REPLICAOF NO ONE; a target that loads a snapshot refuses it (LOADING)
  /// and is asked again every 20 ms until this time.
  Clock::time_point deadline;
  /// Says what is waited for, every few seconds, while the target loads.
  Reporter* reporter = nullptr;
  /// The record stays once all is back (a copy's, which its undo needs).
  bool keepRecord = false;
};

/// The target a master again (when it is a replica), then every setting of
/// `record` set back (CONFIG SET), then the record at `recordPath` removed.
/// Each step is tried whatever became of the one before. "" when all is
/// back; otherwise what is not, and what to run on the target by hand
/// (never a password: "CONFIG SET masterauth (the value in PATH)").
std::string standDown(Connection& target, const std::optional<SyncRecord>& record,
                      const std::string& recordPath, const StandDown& how);

}  // namespace mig::drivers::redis
