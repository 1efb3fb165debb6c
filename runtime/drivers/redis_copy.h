#pragma once

// The two ways redis-copy moves data, for redis_copy.cpp to choose from.

#include <cstdint>
#include <optional>
#include <string>

#include "runtime/drivers/redis_common.h"

namespace mig::drivers::redis {

/// "copied 1,000,000 keys in 3.2s (312,500 keys/s)".
std::string copySummary(uint64_t keys, double seconds);

/// --method dump: SCAN, then MGET/MSET and DUMP/RESTORE, over three
/// connections: `scanner` and `source` to the source's database, `target`.
int copyByDump(Connection& scanner, Connection& source, Connection& target,
               const ServerFacts& sourceFacts, const ServerFacts& targetFacts, Reporter& reporter);

/// --method replication: the target replicates the source until synced.
int copyByReplication(Connection& source, Connection& target, const Password& sourcePassword,
                      const Password& targetPassword, int64_t timeoutSeconds, Reporter& reporter);

struct MethodChoice {
  std::string method;  ///< "dump" or "replication"
  std::string reason;
};

/// --method auto: replication where it is safe and faster, else dump.
std::optional<MethodChoice> chooseMethod(Connection& source, Connection& target,
                                         const ServerFacts& sourceFacts,
                                         const ServerFacts& targetFacts, std::string& error);

}  // namespace mig::drivers::redis
