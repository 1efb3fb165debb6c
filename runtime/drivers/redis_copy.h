#pragma once

// The ways redis-copy moves data, for redis_copy.cpp to choose from once
// it has checked that the copy can run.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "runtime/drivers/redis_common.h"

namespace mig::drivers::redis {

/// "copied 1,000,000 keys in 3.2s (312,500 keys/s)".
std::string copySummary(uint64_t keys, double seconds);

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
  /// When set: give up (and put the target back) unless the source lists
  /// the target as a new replica within this time.
  std::optional<std::chrono::milliseconds> startWithin;
};

enum class ReplicationResult {
  kCopied,
  kFailed,      ///< said why; the target is put back as far as possible
  kNotStarted,  ///< the target never reached the source; it is as it was
};

/// --method replication: the target replicates the source until synced.
ReplicationResult copyByReplication(Connection& source, Connection& target,
                                    const Password& sourcePassword, const Password& targetPassword,
                                    const ReplicationOptions& options, Reporter& reporter);

struct MethodChoice {
  std::string method;  ///< "dump" or "replication"
  std::string reason;
};

/// --method auto: replication where it is safe and faster, else dump.
std::optional<MethodChoice> chooseMethod(Connection& source, Connection& target,
                                         const ServerFacts& sourceFacts,
                                         const ServerFacts& targetFacts, std::string& error);

}  // namespace mig::drivers::redis
