#pragma once

// What the Redis drivers (redis-copy, redis-compare, acl-verify --kind
// redis) share: their output, their passwords, and the few questions every
// one of them asks a server.
//
// Passwords come from the environment only (redis-copy: MIG_FROM_PASSWORD,
// MIG_TO_PASSWORD; redis-compare: MIG_A_PASSWORD, MIG_B_PASSWORD; each
// falling back to REDISCLI_AUTH; acl-verify: REDISCLI_AUTH). They reach the
// servers through AUTH (and, for replication, CONFIG SET masterauth), and
// never appear in mig's own words. Every line the drivers print passes
// through a Reporter, which masks them in whatever came from a server
// (replies, key names, marked with `foreign` or `shown`) or from a URL: not
// even a server echoing one back can put it in the output, and mig's own
// numbers stay whole ("copied 1,000 keys" when a password is "000").

#include <chrono>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/drivers/driver.h"
#include "runtime/drivers/redis_client.h"
#include "runtime/drivers/text.h"

namespace mig::drivers::redis {

using Clock = std::chrono::steady_clock;

/// Keys asked of SCAN per round trip (a hint: a reply may hold more or
/// fewer); the copy and the comparison size their own batches from there.
inline constexpr std::string_view kScanCount = "1000";
/// How often a long copy says how far it got.
inline constexpr auto kProgressInterval = std::chrono::seconds(5);

using text::counted;        // "1 key", "1,000 keys"
using text::withThousands;  // "1,234,567"
double secondsSince(Clock::time_point start);
/// "3.2s", or "0.042s" under a second.
std::string duration(double seconds);
/// "32.0 MiB".
std::string mebibytes(int64_t bytes);

/// `text` from a server, marked for the Reporter to mask passwords in (and
/// escaped where it holds the marks themselves).
std::string foreign(std::string_view text);
/// A key, field, member or other name from a server: printable, and
/// marked as foreign.
std::string shown(std::string_view name);

/// Where every line of a driver's output goes: stdout for the report,
/// stderr for progress and problems, with every known password masked
/// where it touches text from a server or a URL (see `foreign`).
class Reporter {
 public:
  Reporter(std::string driver, std::ostream& out, std::ostream& err)
      : driver_(std::move(driver)), out_(out), err_(err) {}

  void addSecret(const std::string& secret) {
    if (!secret.empty()) secrets_.push_back(secret);
  }
  /// Text of a URL (a host, a user), foreign wherever a line holds it.
  void addUrlText(const std::string& text) {
    if (!text.empty()) urlTexts_.push_back(text);
  }
  void addEndpoint(const Endpoint& endpoint) {
    addUrlText(endpoint.address());
    addUrlText(endpoint.user);
  }
  void say(std::string_view line) { out_ << mask(line) << '\n' << std::flush; }
  void progress(std::string_view line) { err_ << mask(line) << '\n' << std::flush; }
  /// Prints "mig driver NAME: MESSAGE" on stderr; returns `exitCode`.
  int fail(std::string_view message, int exitCode = 1) {
    err_ << "mig driver " << driver_ << ": " << mask(message) << '\n' << std::flush;
    return exitCode;
  }

 private:
  std::string mask(std::string_view text) const;

  std::string driver_;
  std::ostream& out_;
  std::ostream& err_;
  std::vector<std::string> secrets_;
  std::vector<std::string> urlTexts_;
};

struct Password {
  std::string value;
  std::string source;  ///< the variables it is read from, for messages
};

/// `variable`, else REDISCLI_AUTH; an empty variable counts as unset.
Password passwordFromEnvironment(const std::string& variable);

/// False (after a usage message) when `args` has an option not in `known`.
bool onlyKnownOptions(const DriverArgs& args, std::initializer_list<std::string_view> known,
                      Reporter& reporter);

/// The server of a driver that talks to one: its URL (option `option`)
/// and its password (`variable`, else REDISCLI_AUTH), both masked by the
/// reporter from then on.
struct OneServer {
  Endpoint endpoint;
  Password password;
};

/// Reads --`option` and the password; nullopt after a usage message
/// ("missing --db", "--db: ...") when the option is missing or malformed.
std::optional<OneServer> oneServer(const DriverArgs& args, const std::string& option,
                                   const std::string& variable, Reporter& reporter,
                                   std::ostream& err);

/// A connection to `endpoint`, or nullptr with `error` set.
std::unique_ptr<Connection> openEndpoint(const Endpoint& endpoint, const Password& password,
                                         std::string& error);

/// One command whose error reply counts as a failure: the reply, or
/// nullopt with `error` naming the command and the server.
std::optional<Reply> call(Connection& connection, std::initializer_list<std::string_view> args,
                          std::string& error);

/// INFO `section` as text, or nullopt with `error` set.
std::optional<std::string> info(Connection& connection, std::string_view section,
                                std::string& error);

std::optional<int64_t> dbSize(Connection& connection, std::string& error);

/// A setting from CONFIG GET; "" when the server does not have it.
std::optional<std::string> configValue(Connection& connection, std::string_view name,
                                       std::string& error);

struct DatabaseKeys {
  int64_t keys = 0;
  int64_t expires = 0;  ///< keys with a TTL
};

/// Every non-empty database, from INFO keyspace ("db0:keys=12,expires=3,...").
std::map<int, DatabaseKeys> keyspace(std::string_view info);

/// Keys in every database of a server, and how many have a TTL.
std::optional<DatabaseKeys> allKeys(Connection& connection, std::string& error);

// Replication, as the replica and its source see it (INFO replication).

/// The source's replicas ("connected_slaves:1").
std::optional<int64_t> replicaCount(Connection& source, std::string& error);

/// "link down, sync in progress, 12,345 bytes received of 40,100" or "link
/// down, loading the snapshot" from the replica's INFO replication and INFO
/// persistence.
std::string syncState(std::string_view replication, std::string_view persistence);

/// What a server says about itself (INFO server, cluster, memory and
/// keyspace).
struct ServerFacts {
  std::string runId;
  std::string version;
  bool clusterMode = false;               ///< cluster_enabled:1
  int64_t usedMemory = 0;                 ///< bytes
  int64_t startupMemory = 0;              ///< bytes an empty server uses (used_memory_startup)
  /// Bytes of used_memory that are buffers, not data: the replication
  /// backlog, clients' buffers, the AOF buffer.
  int64_t bufferMemory = 0;
  int64_t maxmemory = 0;                  ///< bytes; 0: no limit
  std::string evictionPolicy;             ///< maxmemory_policy: "noeviction", "allkeys-lru", ...
  std::map<int, DatabaseKeys> databases;  ///< every non-empty database
};

/// "db 3 (1,200 keys), db 15 (3 keys)": the databases of `databases` but `except`.
std::string databaseList(const std::map<int, DatabaseKeys>& databases,
                         std::optional<int> except = std::nullopt);

std::optional<ServerFacts> serverFacts(Connection& connection, std::string& error);

/// "A and B are the same server and database" when `a` and `b` (with the
/// servers' facts) name one database; "" otherwise.
std::string sameDatabase(const Endpoint& a, const ServerFacts& aFacts, const Endpoint& b,
                         const ServerFacts& bFacts);

/// "7.0.15" as numbers, for comparing versions.
std::vector<int> versionNumbers(std::string_view version);

/// A SCAN reply's next cursor and keys; false when it is not one.
bool takeScanReply(Reply& reply, std::string& cursor, std::vector<std::string>& keys);

/// An error reply saying that the server does not know the command (older
/// than the command, or renamed away).
bool unknownCommand(const Reply& reply);

/// "COMMAND on HOST:PORT failed: ..." for a command whose reply was an
/// error, or not the reply expected.
std::string commandFailed(std::string_view command, const Connection& connection,
                          const Reply& reply);

/// SCANs the whole database, handing each non-empty batch of keys to
/// `batch` (which may take them) until the scan ends or `batch` returns
/// false. The error, or "" (also when `batch` stopped it).
std::string scanAll(Connection& connection,
                    const std::function<bool(std::vector<std::string>&)>& batch);

}  // namespace mig::drivers::redis
