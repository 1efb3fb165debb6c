#pragma once

// The ways redis-copy moves data, and the checks it makes before it changes
// anything, for redis_copy.cpp to run in order.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "runtime/drivers/redis_common.h"

namespace mig::drivers::redis {

struct SyncRecord;  // redis_sync.h

/// How redis-copy moves the keys (`--method`).
enum class CopyMethod { kDump, kReplication, kAuto };

/// "dump", "replication", "auto".
std::string_view methodName(CopyMethod method);
/// The method `name` names; nullopt for any other word.
std::optional<CopyMethod> parseMethod(std::string_view name);

/// "copied 1,000,000 keys in 3.2s (312,500 keys/s)".
std::string copySummary(uint64_t keys, double seconds);

/// Problems found before the copy changes anything, reported together.
using Problems = std::vector<std::string>;

/// The source's functions, as the dump method carries them: the target's
/// end equal to the source's (functions belong to a server, not to one of
/// its databases).
struct SourceFunctions {
  std::string payload;         ///< FUNCTION DUMP of the source
  size_t libraries = 0;        ///< libraries of the source
  size_t targetLibraries = 0;  ///< libraries of the target before the copy
};

/// --method dump: SCAN, then MGET/MSET and DUMP/RESTORE, over three
/// connections: `scanner` and `source` to the source's database, `target`.
/// `functions`: nullopt when the source has no functions (before Redis 7).
/// Fails, naming the count, when the target ends with fewer keys than were
/// written beyond those whose TTL ran out meanwhile.
int copyByDump(Connection& scanner, Connection& source, Connection& target,
               const ServerFacts& sourceFacts, const ServerFacts& targetFacts,
               const std::optional<SourceFunctions>& functions, Reporter& reporter);

struct ReplicationOptions {
  int64_t timeoutSeconds = 3600;
  /// The copy's record (see redis_sync.h), written with the target's
  /// settings and `replicating yes` before the first change, and with
  /// `replicating no` once the target is put back.
  SyncRecord* record = nullptr;
  std::string recordPath;
  /// Give up (and put the target back) unless the source lists the target
  /// as a new replica within this time (or --timeout, if shorter): then
  /// the copy fails, or, under auto, copies by dump instead.
  std::chrono::milliseconds startWithin{10'000};
  /// Auto's: whatever stops replication before the target starts syncing
  /// (a refused command, a sync that does not start) ends in kNotStarted
  /// once the target is put back, for dump to copy instead.
  bool fallBack = false;
};

enum class ReplicationResult {
  kCopied,
  kFailed,      ///< said why; the target is put back as far as possible
  kNotStarted,  ///< (fallBack only) said why; the target is as it was
};

/// --method replication: the target replicates the source until synced,
/// then is put back as it was but for its data (a master, its masterauth,
/// masteruser and repl-diskless-load), and must hold as many keys as the
/// source did.
ReplicationResult copyByReplication(Connection& source, Connection& target,
                                    const Password& sourcePassword, const Password& targetPassword,
                                    const ReplicationOptions& options, Reporter& reporter);

// ---------------------------------------------------------------------------
// Checks before any change (redis_copy_checks.cpp)

/// Adds what keeps any method from copying between the two servers (cluster
/// mode on either side).
void checkServers(const Endpoint& from, const ServerFacts& sourceFacts, const Endpoint& to,
                  const ServerFacts& targetFacts, Problems& problems);

/// Adds a problem when the target's maxmemory cannot hold what the copy
/// brings with room to spare (a tenth of it): the source's data (only the
/// share the keys of the source's database take, when `databases` names
/// the one copied (source's, target's); every database when nullopt) and
/// what the target keeps in its other databases. Both figures and the
/// target's maxmemory-policy are in the message: under noeviction the
/// application's writes would fail, otherwise keys would be evicted.
void checkCapacity(const ServerFacts& sourceFacts, const ServerFacts& targetFacts,
                   std::optional<std::pair<int, int>> databases, Problems& problems);

/// Adds what keeps replication from copying the source into the target,
/// whatever the databases: a target older than the source, a replica, a
/// refused CONFIG SET or REPLICAOF.
/// False when a connection failed (the last problem says how).
bool checkReplication(Connection& target, const ServerFacts& sourceFacts,
                      const ServerFacts& targetFacts, Problems& problems);

struct MethodChoice {
  CopyMethod method = CopyMethod::kDump;  ///< kDump or kReplication
  std::string reason;
};

/// --method auto: replication where it is safe and faster, else dump.
std::optional<MethodChoice> chooseMethod(Connection& source, Connection& target,
                                         const ServerFacts& sourceFacts,
                                         const ServerFacts& targetFacts, std::string& error);

/// Adds what keeps the dump method from copying: reading the source (SCAN,
/// DUMP, MGET, PTTL, FUNCTION DUMP), writing the target (FLUSHDB, MSET, SET,
/// RESTORE, FUNCTION RESTORE), a target that cannot read the source's DUMP
/// format, values larger than the target takes in one argument. Returns
/// the source's functions (see copyByDump).
std::optional<SourceFunctions> checkDump(Connection& source, Connection& target,
                                         const ServerFacts& sourceFacts,
                                         const ServerFacts& targetFacts, Problems& problems);

}  // namespace mig::drivers::redis
