// The Redis drivers: redis-copy, redis-compare and acl-verify --kind redis.
//
// Passwords come from the environment only (redis-copy: MIG_FROM_PASSWORD,
// MIG_TO_PASSWORD; redis-compare: MIG_A_PASSWORD, MIG_B_PASSWORD; each
// falling back to REDISCLI_AUTH; acl-verify: REDISCLI_AUTH). They reach the
// servers through AUTH (and, for replication, CONFIG SET masterauth), and
// every line the drivers print passes through a Reporter that masks them,
// so not even a server echoing one back can put it in the output.

#include <arpa/inet.h>
#include <signal.h>
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

#include "runtime/drivers/driver.h"
#include "runtime/drivers/redis_client.h"

namespace mig::drivers {
namespace {

using redis::Connection;
using redis::Endpoint;
using redis::Reply;
using Clock = std::chrono::steady_clock;

/// Keys asked of SCAN per round trip; one SCAN reply's keys make a batch
/// of the copy's reads and writes, and of the comparison's commands.
constexpr std::string_view kScanCount = "1000";
/// Batches of key names waiting for the reader, and of values waiting for
/// the writer: bounds the copy's memory.
constexpr size_t kQueuedBatches = 8;
/// MGET batches queued on the source before their replies are read.
constexpr size_t kReadBatchesInFlight = 3;
/// Batches sent to the target before their replies are read.
constexpr size_t kWriteBatchesInFlight = 2;
/// Roughly how many bytes of values one comparison round trip may fetch.
constexpr int64_t kCompareFetchBudget = 64 * 1024 * 1024;
/// Differences listed one by one before only counting them.
constexpr size_t kListedDifferences = 20;
constexpr auto kProgressInterval = std::chrono::seconds(5);
constexpr auto kReplicationPoll = std::chrono::milliseconds(20);
constexpr int64_t kDefaultReplicationTimeoutSeconds = 3600;

std::string withThousands(uint64_t number) {
  const std::string digits = std::to_string(number);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

double secondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

/// "3.2s", or "0.042s" under a second.
std::string duration(double seconds) {
  return seconds < 1 ? fmt::format("{:.3f}s", seconds) : fmt::format("{:.1f}s", seconds);
}

/// "copied 1,000,000 keys in 3.2s (312,500 keys/s)".
std::string copySummary(uint64_t keys, double seconds) {
  const double rate = static_cast<double>(keys) / std::max(seconds, 0.001);
  return fmt::format("copied {} keys in {} ({} keys/s)", withThousands(keys), duration(seconds),
                     withThousands(static_cast<uint64_t>(rate)));
}

/// Where every line of a driver's output goes: stdout for the report,
/// stderr for progress and problems, with every known password masked.
class Reporter {
 public:
  Reporter(std::string driver, std::ostream& out, std::ostream& err)
      : driver_(std::move(driver)), out_(out), err_(err) {}

  void addSecret(const std::string& secret) {
    if (!secret.empty()) secrets_.push_back(secret);
  }
  void say(std::string_view line) { out_ << mask(line) << '\n' << std::flush; }
  void progress(std::string_view line) { err_ << mask(line) << '\n' << std::flush; }
  /// Prints "mig driver NAME: MESSAGE" on stderr; returns `exitCode`.
  int fail(std::string_view message, int exitCode = 1) {
    err_ << "mig driver " << driver_ << ": " << mask(message) << '\n' << std::flush;
    return exitCode;
  }

 private:
  std::string mask(std::string_view text) const {
    std::string masked(text);
    for (const std::string& secret : secrets_) masked = redis::redact(masked, secret);
    return masked;
  }

  std::string driver_;
  std::ostream& out_;
  std::ostream& err_;
  std::vector<std::string> secrets_;
};

struct Password {
  std::string value;
  std::string source;  ///< the variables it is read from, for messages
};

/// `variable`, else REDISCLI_AUTH; an empty variable counts as unset.
Password passwordFromEnvironment(const std::string& variable) {
  Password password;
  password.source = variable == "REDISCLI_AUTH" ? variable : variable + " or REDISCLI_AUTH";
  for (const std::string& name : {variable, std::string("REDISCLI_AUTH")}) {
    const char* value = std::getenv(name.c_str());
    if (value != nullptr && *value != '\0') {
      password.value = value;
      break;
    }
  }
  return password;
}

/// False (after a usage message) when `args` has an option not in `known`.
bool onlyKnownOptions(const DriverArgs& args, std::initializer_list<std::string_view> known,
                      Reporter& reporter) {
  for (const auto& [name, value] : args.options) {
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      reporter.fail(fmt::format("unknown option --{}", name), 2);
      return false;
    }
  }
  return true;
}

std::unique_ptr<Connection> openEndpoint(const Endpoint& endpoint, const Password& password,
                                         Reporter& reporter) {
  redis::ConnectOptions options;
  options.password = password.value;
  options.passwordSource = password.source;
  std::string error;
  auto connection = Connection::open(endpoint, options, error);
  if (!connection) reporter.fail(error);
  return connection;
}

/// One command whose error reply counts as a failure: the reply, or
/// nullopt with `error` naming the command and the server.
std::optional<Reply> call(Connection& connection, std::initializer_list<std::string_view> args,
                          std::string& error) {
  auto reply = connection.command(args);
  if (!reply) {
    error = connection.error();
    return std::nullopt;
  }
  if (reply->isError()) {
    error = fmt::format("{} on {} failed: {}", *args.begin(), connection.endpoint().address(),
                        reply->text);
    return std::nullopt;
  }
  return reply;
}

/// INFO `section` as text, or nullopt with `error` set.
std::optional<std::string> info(Connection& connection, std::string_view section,
                                std::string& error) {
  auto reply = call(connection, {"INFO", section}, error);
  if (!reply) return std::nullopt;
  return std::move(reply->text);
}

std::optional<int64_t> dbSize(Connection& connection, std::string& error) {
  auto reply = call(connection, {"DBSIZE"}, error);
  if (!reply) return std::nullopt;
  return reply->integer;
}

struct DatabaseKeys {
  int64_t keys = 0;
  int64_t expires = 0;  ///< keys with a TTL
};

/// Every non-empty database, from INFO keyspace ("db0:keys=12,expires=3,...").
std::map<int, DatabaseKeys> keyspace(std::string_view info) {
  std::map<int, DatabaseKeys> databases;
  auto number = [](std::string_view text, std::string_view name) {
    int64_t value = 0;
    if (auto at = text.find(name); at != std::string_view::npos) {
      text.remove_prefix(at + name.size());
      std::from_chars(text.data(), text.data() + text.size(), value);
    }
    return value;
  };
  size_t at = 0;
  while ((at = info.find("\ndb", at)) != std::string_view::npos) {
    at += 3;
    int db = 0;
    auto end = std::from_chars(info.data() + at, info.data() + info.size(), db).ptr;
    std::string_view line = info.substr(static_cast<size_t>(end - info.data()));
    line = line.substr(0, line.find('\n'));
    if (!line.starts_with(":keys=")) continue;
    databases[db] = {number(line, "keys="), number(line, "expires=")};
  }
  return databases;
}

/// What two servers say about themselves, read once before a copy.
struct ServerFacts {
  std::string runId;
  std::string version;
};

std::optional<ServerFacts> serverFacts(Connection& connection, std::string& error) {
  auto server = info(connection, "server", error);
  if (!server) return std::nullopt;
  return ServerFacts{redis::infoField(*server, "run_id"), redis::infoField(*server, "redis_version")};
}

// ---------------------------------------------------------------------------
// redis-copy --method dump
//
// Strings (most keys, usually) travel as their bytes: one MGET per SCAN
// batch on the source, one MSET per batch on the target (SET PX for those
// with a TTL). Every other type travels as a DUMP payload, restored with
// RESTORE ... REPLACE. Both ways are binary-safe and keep the value exactly;
// the string way costs both servers about half of DUMP/RESTORE's work.
// PTTL is asked per key only when the source's database has keys with a
// TTL (INFO keyspace "expires"); otherwise every key is copied without one,
// and the copy warns if keys got a TTL while it ran. Like any copy of a
// database in use, writes made during the copy may or may not be carried.

struct CopiedKey {
  std::string key;
  std::string value;    ///< a string's bytes, or a DUMP payload
  int64_t ttl = 0;      ///< milliseconds; 0: none
  bool dumped = false;  ///< `value` is a DUMP payload
};
using Batch = std::vector<CopiedKey>;

/// A bounded hand-over between two threads of a copy.
template <typename Item>
class BoundedQueue {
 public:
  explicit BoundedQueue(size_t capacity) : capacity_(capacity) {}

  /// Waits for room; false when the consumer gave up.
  bool push(Item item) {
    std::unique_lock lock(mutex_);
    notFull_.wait(lock, [&] { return items_.size() < capacity_ || aborted_; });
    if (aborted_) return false;
    items_.push_back(std::move(item));
    notEmpty_.notify_one();
    return true;
  }

  /// The next item, waiting for one when `wait`; nullopt when there is
  /// none now (!wait) or will be none (closed and empty).
  std::optional<Item> pop(bool wait = true) {
    std::unique_lock lock(mutex_);
    if (wait) notEmpty_.wait(lock, [&] { return !items_.empty() || closed_; });
    if (items_.empty()) return std::nullopt;
    Item item = std::move(items_.front());
    items_.pop_front();
    notFull_.notify_one();
    return item;
  }

  /// Closed by the producer and emptied by the consumer.
  bool finished() {
    std::lock_guard lock(mutex_);
    return closed_ && items_.empty();
  }

  /// The producer is done.
  void close() {
    std::lock_guard lock(mutex_);
    closed_ = true;
    notEmpty_.notify_all();
  }

  /// The consumer stops: pending and later pushes are refused.
  void abort() {
    std::lock_guard lock(mutex_);
    aborted_ = true;
    items_.clear();
    notFull_.notify_all();
  }

 private:
  size_t capacity_;
  std::mutex mutex_;
  std::condition_variable notFull_;
  std::condition_variable notEmpty_;
  std::deque<Item> items_;
  bool closed_ = false;
  bool aborted_ = false;
};

using KeyQueue = BoundedQueue<std::vector<std::string>>;
using BatchQueue = BoundedQueue<Batch>;

struct CopyCounters {
  std::atomic<uint64_t> written{0};
  std::atomic<uint64_t> vanished{0};
};

/// A SCAN reply's next cursor and keys; false when it is not one.
bool takeScanReply(Reply& reply, std::string& cursor, std::vector<std::string>& keys) {
  if (!reply.isArray() || reply.elements.size() != 2 || !reply.elements[1].isArray()) return false;
  cursor = std::move(reply.elements[0].text);
  keys.clear();
  keys.reserve(reply.elements[1].elements.size());
  for (Reply& key : reply.elements[1].elements) keys.push_back(std::move(key.text));
  return true;
}

/// SCANs the source on a connection of its own, so that key names arrive
/// ahead of the reads and the reading connection never waits for a SCAN
/// round trip. Returns an error message, or "" (also when the reader gave
/// up first); closes `keys` in both cases.
std::string scanKeys(Connection& source, KeyQueue& keys) {
  std::string cursor = "0";
  Reply reply;
  std::string error;
  do {
    std::vector<std::string> batch;
    source.append({"SCAN", cursor, "COUNT", kScanCount});
    if (!source.read(reply)) {
      error = source.error();
      break;
    }
    if (reply.isError() || !takeScanReply(reply, cursor, batch)) {
      error = fmt::format("SCAN on {} failed: {}", source.endpoint().address(),
                          reply.isError() ? reply.text : "unexpected reply");
      break;
    }
    if (!batch.empty() && !keys.push(std::move(batch))) break;
  } while (cursor != "0");
  keys.close();
  return error;
}

/// Reads the scanned keys' values into the queue: PTTLs when needed, then
/// one MGET per batch, and DUMP for the keys that turn out not to be
/// strings. When most keys of a batch are not strings, the next batches
/// skip the MGET and DUMP every key (a payload's first byte, its RDB type,
/// tells when strings dominate again). Several batches stay queued on the
/// server, so it never waits for us; `expected_` lists what the coming
/// replies answer, in the order the commands were sent.
class SourceReader {
 public:
  SourceReader(Connection& source, bool readTtls, BatchQueue& queue, CopyCounters& counters,
               std::function<void()> afterBatch)
      : source_(source),
        readTtls_(readTtls),
        queue_(queue),
        counters_(counters),
        afterBatch_(std::move(afterBatch)) {}

  /// Returns an error message, or "" (also when the writer gave up first).
  std::string run(KeyQueue& keys) {
    while (true) {
      // Send while few batches are queued on the server; wait for keys only
      // when no reply is due.
      while (batchesInFlight_ < kReadBatchesInFlight) {
        auto batch = keys.pop(expected_.empty());
        if (!batch) break;
        send(std::move(*batch));
      }
      if (expected_.empty()) return "";
      if (!source_.flush()) return source_.error();
      Replies replies = std::move(expected_.front());
      expected_.pop_front();
      std::string error =
          replies.kind == Replies::kStrings ? takeStrings(replies) : takeDumps(replies);
      if (!error.empty() || stopped_) return error;
    }
  }

 private:
  /// The replies to one batch's commands.
  struct Replies {
    enum Kind { kStrings, kDumps } kind;
    std::vector<std::string> keys;
    /// PTTL replies come first (a scanned batch when TTLs are read);
    /// otherwise `ttls` holds each key's TTL, -1 for none.
    bool ttlReplies = false;
    std::vector<int64_t> ttls;
    bool scanned = true;  ///< a whole scanned batch, not the non-strings of one
  };

  /// The RDB type byte that starts the DUMP payload of a string.
  static constexpr char kRdbString = 0;

  std::string failure(std::string_view command, std::string_view key, const Reply& reply) {
    return fmt::format("{} of key {} on {} failed: {}", command, redis::printable(key),
                       source_.endpoint().address(), reply.text);
  }

  void send(std::vector<std::string> keys) {
    if (readTtls_) {
      for (const std::string& key : keys) source_.append({"PTTL", key});
    }
    if (dumpEverything_) {
      for (const std::string& key : keys) source_.append({"DUMP", key});
    } else {
      std::vector<std::string_view> mget = {"MGET"};
      mget.insert(mget.end(), keys.begin(), keys.end());
      source_.append(std::span<const std::string_view>(mget));
    }
    expected_.push_back({dumpEverything_ ? Replies::kDumps : Replies::kStrings,
                         std::move(keys),
                         readTtls_,
                         {},
                         true});
    ++batchesInFlight_;
  }

  /// The PTTL replies that open a scanned batch, or -1 for every key.
  std::string takeTtls(Replies& replies) {
    if (!replies.ttlReplies) {
      replies.ttls.resize(replies.keys.size(), -1);
      return "";
    }
    replies.ttls.resize(replies.keys.size());
    for (size_t i = 0; i < replies.keys.size(); ++i) {
      if (!source_.read(reply_)) return source_.error();
      if (reply_.isError()) return failure("PTTL", replies.keys[i], reply_);
      replies.ttls[i] = reply_.integer;
    }
    return "";
  }

  /// Gone since SCAN (-2), or about to expire (0): nothing to copy.
  bool vanished(int64_t ttl) {
    if (ttl != -2 && ttl != 0) return false;
    counters_.vanished.fetch_add(1, std::memory_order_relaxed);
    return true;
  }

  /// A scanned batch's MGET: strings go to the queue, the other keys get a
  /// DUMP.
  std::string takeStrings(Replies& replies) {
    --batchesInFlight_;
    if (auto error = takeTtls(replies); !error.empty()) return error;
    if (!source_.read(reply_)) return source_.error();
    if (!reply_.isArray() || reply_.elements.size() != replies.keys.size()) {
      return fmt::format("MGET on {} failed: {}", source_.endpoint().address(),
                         reply_.isError() ? reply_.text : "unexpected reply");
    }
    Batch batch;
    batch.reserve(replies.keys.size());
    Replies dumps{Replies::kDumps, {}, false, {}, false};
    for (size_t i = 0; i < replies.keys.size(); ++i) {
      if (vanished(replies.ttls[i])) continue;
      Reply& value = reply_.elements[i];
      if (value.isNil()) {  // not a string (or gone): DUMP tells
        source_.append({"DUMP", replies.keys[i]});
        dumps.keys.push_back(std::move(replies.keys[i]));
        dumps.ttls.push_back(replies.ttls[i]);
        continue;
      }
      batch.push_back({std::move(replies.keys[i]), std::move(value.text),
                       std::max<int64_t>(replies.ttls[i], 0), false});
    }
    dumpEverything_ = dumps.keys.size() * 2 > replies.keys.size();
    if (!dumps.keys.empty()) expected_.push_back(std::move(dumps));
    return push(std::move(batch));
  }

  std::string takeDumps(Replies& replies) {
    if (replies.scanned) --batchesInFlight_;
    if (auto error = takeTtls(replies); !error.empty()) return error;
    Batch batch;
    batch.reserve(replies.keys.size());
    size_t strings = 0;
    for (size_t i = 0; i < replies.keys.size(); ++i) {
      if (!source_.read(reply_)) return source_.error();
      if (reply_.isError()) return failure("DUMP", replies.keys[i], reply_);
      if (reply_.isNil()) {
        counters_.vanished.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      if (vanished(replies.ttls[i])) continue;
      if (!reply_.text.empty() && reply_.text[0] == kRdbString) ++strings;
      batch.push_back({std::move(replies.keys[i]), std::move(reply_.text),
                       std::max<int64_t>(replies.ttls[i], 0), true});
    }
    if (replies.scanned) dumpEverything_ = strings * 2 <= replies.keys.size();
    return push(std::move(batch));
  }

  std::string push(Batch batch) {
    if (!batch.empty() && !queue_.push(std::move(batch))) stopped_ = true;
    afterBatch_();
    return "";
  }

  Connection& source_;
  bool readTtls_;
  BatchQueue& queue_;
  CopyCounters& counters_;
  std::function<void()> afterBatch_;
  std::deque<Replies> expected_;
  size_t batchesInFlight_ = 0;
  bool dumpEverything_ = false;
  Reply reply_;
  bool stopped_ = false;
};

/// Writes batches into the target: one MSET for a batch's strings without
/// TTL, SET PX for strings with one, RESTORE REPLACE for the rest. A few
/// batches stay in flight before their replies are read.
class TargetWriter {
 public:
  TargetWriter(Connection& target, CopyCounters& counters, std::string versionHint)
      : target_(target), counters_(counters), versionHint_(std::move(versionHint)) {}

  /// Returns an error message naming the key, or "".
  std::string run(BatchQueue& queue) {
    while (auto batch = queue.pop()) {
      send(*batch);
      if (!target_.flush()) return target_.error();
      inFlight_.push_back(std::move(*batch));
      if (inFlight_.size() > kWriteBatchesInFlight) {
        if (auto error = takeReplies(inFlight_.front()); !error.empty()) return error;
        inFlight_.pop_front();
      }
    }
    for (const Batch& batch : inFlight_) {
      if (auto error = takeReplies(batch); !error.empty()) return error;
    }
    return "";
  }

 private:
  static bool inMset(const CopiedKey& key) { return !key.dumped && key.ttl == 0; }

  void send(const Batch& batch) {
    std::vector<std::string_view> mset = {"MSET"};
    for (const CopiedKey& key : batch) {
      if (!inMset(key)) continue;
      mset.push_back(key.key);
      mset.push_back(key.value);
    }
    if (mset.size() > 1) target_.append(std::span<const std::string_view>(mset));
    char digits[24];
    for (const CopiedKey& key : batch) {
      if (inMset(key)) continue;
      const auto end = std::to_chars(digits, digits + sizeof digits, key.ttl).ptr;
      const std::string_view ttl(digits, static_cast<size_t>(end - digits));
      if (key.dumped) {
        target_.append({"RESTORE", key.key, ttl, key.value, "REPLACE"});
      } else {
        target_.append({"SET", key.key, key.value, "PX", ttl});
      }
    }
  }

  std::string takeReplies(const Batch& batch) {
    const auto strings = std::count_if(batch.begin(), batch.end(), inMset);
    if (strings > 0) {
      if (!target_.read(reply_)) return target_.error();
      if (reply_.isError()) {
        const auto first = std::find_if(batch.begin(), batch.end(), inMset);
        return fmt::format("MSET of {} keys (the first: {}) into {} failed: {}", strings,
                           redis::printable(first->key), target_.endpoint().describe(), reply_.text);
      }
      counters_.written.fetch_add(static_cast<uint64_t>(strings), std::memory_order_relaxed);
    }
    for (const CopiedKey& key : batch) {
      if (inMset(key)) continue;
      if (!target_.read(reply_)) return target_.error();
      if (reply_.isError()) {
        const bool payloadRefused = reply_.text.find("payload version") != std::string::npos;
        return fmt::format("{} of key {} into {} failed: {}{}", key.dumped ? "RESTORE" : "SET",
                           redis::printable(key.key), target_.endpoint().describe(), reply_.text,
                           payloadRefused ? versionHint_ : "");
      }
      counters_.written.fetch_add(1, std::memory_order_relaxed);
    }
    return "";
  }

  Connection& target_;
  CopyCounters& counters_;
  std::string versionHint_;
  std::deque<Batch> inFlight_;
  Reply reply_;
};

/// Keys with a TTL in database `db`, from INFO keyspace; 0 when the
/// database is empty.
std::optional<int64_t> keysWithTtl(Connection& connection, int db, std::string& error) {
  auto keys = info(connection, "keyspace", error);
  if (!keys) return std::nullopt;
  const auto databases = keyspace(*keys);
  const auto found = databases.find(db);
  return found == databases.end() ? 0 : found->second.expires;
}

/// Three connections: `scanner` and `source` to the source's database (one
/// for SCAN, one for reading values), `target`. Three threads: scanning,
/// reading (this one), writing.
int copyByDump(Connection& scanner, Connection& source, Connection& target,
               const ServerFacts& sourceFacts, const ServerFacts& targetFacts, Reporter& reporter) {
  const auto start = Clock::now();
  std::string error;
  auto before = dbSize(target, error);
  if (!before) return reporter.fail(error);
  // ASYNC frees the old keys in the background (Redis 4 and later).
  if (!call(target, {"FLUSHDB", "ASYNC"}, error) && !call(target, {"FLUSHDB"}, error)) {
    return reporter.fail(error);
  }
  if (*before > 0) {
    reporter.say(fmt::format("flushed {} ({} keys)", target.endpoint().describe(),
                             withThousands(static_cast<uint64_t>(*before))));
  }
  const auto ttlsBefore = keysWithTtl(source, source.endpoint().db, error);
  if (!ttlsBefore) return reporter.fail(error);
  std::string hint;
  if (sourceFacts.version != targetFacts.version) {
    hint = fmt::format(
        " (the source runs Redis {}, the target {}: a target older than the source "
        "cannot read its DUMP format; use a target at least as new)",
        sourceFacts.version, targetFacts.version);
  }

  KeyQueue keys(kQueuedBatches);
  BatchQueue queue(kQueuedBatches);
  CopyCounters counters;
  std::string scanError;
  std::thread scanning([&] { scanError = scanKeys(scanner, keys); });
  TargetWriter writer(target, counters, hint);
  std::string writeError;
  std::thread writing([&] {
    writeError = writer.run(queue);
    if (!writeError.empty()) queue.abort();
  });
  auto lastProgress = Clock::now();
  SourceReader reader(source, *ttlsBefore > 0, queue, counters, [&] {
    if (Clock::now() - lastProgress < kProgressInterval) return;
    lastProgress = Clock::now();
    reporter.progress(fmt::format("redis-copy: {} keys written so far ({:.0f}s)",
                                  withThousands(counters.written.load()), secondsSince(start)));
  });
  const std::string readError = reader.run(keys);
  keys.abort();  // stops the scanner if the reader stopped early
  queue.close();
  scanning.join();
  writing.join();
  if (!writeError.empty()) return reporter.fail(writeError);
  if (!readError.empty()) return reporter.fail(readError);
  if (!scanError.empty()) return reporter.fail(scanError);

  auto copied = dbSize(target, error);
  const auto ttlsAfter = copied ? keysWithTtl(source, source.endpoint().db, error) : std::nullopt;
  if (!ttlsAfter) return reporter.fail(error);
  reporter.say(copySummary(static_cast<uint64_t>(*copied), secondsSince(start)));
  if (uint64_t vanished = counters.vanished.load(); vanished > 0) {
    reporter.say(fmt::format("skipped {} keys that expired or were deleted during the copy",
                             withThousands(vanished)));
  }
  if (*ttlsBefore == 0 && *ttlsAfter > 0) {
    reporter.progress(fmt::format(
        "redis-copy: warning: {} keys of the source got a TTL during the copy, which copied keys "
        "without one; compare, or copy again once writes have stopped",
        withThousands(static_cast<uint64_t>(*ttlsAfter))));
  }
  return 0;
}

// ---------------------------------------------------------------------------
// redis-copy --method replication

/// The target's replication credentials before we changed them.
struct SavedMasterAuth {
  std::string masterauth;
  std::string masteruser;
  bool userChanged = false;  ///< masteruser exists from Redis 6 on: touched only when needed
};

std::optional<std::string> configValue(Connection& connection, std::string_view name,
                                       std::string& error) {
  auto reply = call(connection, {"CONFIG", "GET", name}, error);
  if (!reply) return std::nullopt;
  if (!reply->isArray() || reply->elements.size() != 2) return std::string();
  return std::move(reply->elements[1].text);
}

/// Makes the target a master again and gives it back its masterauth and
/// masteruser (normally empty), so that it does not keep the source's
/// password. Returns an error message, or "".
std::string stopReplication(Connection& target, const SavedMasterAuth& saved) {
  std::string error;
  if (!call(target, {"REPLICAOF", "NO", "ONE"}, error)) return error;
  if (!call(target, {"CONFIG", "SET", "masterauth", saved.masterauth}, error)) return error;
  if (saved.userChanged &&
      !call(target, {"CONFIG", "SET", "masteruser", saved.masteruser}, error)) {
    return error;
  }
  return "";
}

/// "link down, 12.5 MB of 40.1 MB received" from the replica's INFO.
std::string syncState(std::string_view replication) {
  std::string state = "link " + redis::infoField(replication, "master_link_status");
  if (redis::infoField(replication, "master_sync_in_progress") == "1") {
    const std::string read = redis::infoField(replication, "master_sync_read_bytes");
    const std::string total = redis::infoField(replication, "master_sync_total_bytes");
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

void onStopSignal(int) { stopRequested = 1; }

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
                          const SavedMasterAuth& saved) {
  std::string error = stopReplication(target, saved);
  if (error.empty()) return "";
  redis::ConnectOptions options;
  options.password = targetPassword.value;
  options.passwordSource = targetPassword.source;
  auto fresh = Connection::open(target.endpoint(), options, error);
  return fresh ? stopReplication(*fresh, saved) : error;
}

int copyByReplication(Connection& source, Connection& target, const Password& sourcePassword,
                      const Password& targetPassword, int64_t timeoutSeconds,
                      Reporter& reporter) {
  const Endpoint& from = source.endpoint();
  const Endpoint& to = target.endpoint();
  if (from.db != to.db) {
    return reporter.fail(fmt::format(
        "--method replication copies every database as it is (db {} stays db {}); the URLs name "
        "db {} and db {}: use --method dump",
        from.db, from.db, from.db, to.db));
  }
  std::string error;
  auto role = info(target, "replication", error);
  if (!role) return reporter.fail(error);
  if (redis::infoField(*role, "role") != "master") {
    return reporter.fail(fmt::format("{} is already a replica of {}:{}; refusing to re-point it",
                                     to.address(), redis::infoField(*role, "master_host"),
                                     redis::infoField(*role, "master_port")));
  }
  SavedMasterAuth saved;
  auto masterauth = configValue(target, "masterauth", error);
  auto masteruser = masterauth ? configValue(target, "masteruser", error) : std::nullopt;
  if (!masteruser) return reporter.fail(error);
  saved = {std::move(*masterauth), std::move(*masteruser), false};
  saved.userChanged = saved.masteruser != from.user;
  reporter.addSecret(saved.masterauth);

  reporter.say(
      fmt::format("replicating {} into {}: every database of the target is replaced by "
                  "the source's",
                  from.address(), to.address()));
  const auto start = Clock::now();
  // From the first change to the target on, a stop signal puts it back.
  StopSignals stopSignals;
  if (!call(target, {"CONFIG", "SET", "masterauth", sourcePassword.value}, error) ||
      (saved.userChanged && !call(target, {"CONFIG", "SET", "masteruser", from.user}, error))) {
    stopReplication(target, saved);
    return reporter.fail(error);
  }
  if (!call(target, {"REPLICAOF", from.host, std::to_string(from.port)}, error)) {
    stopReplication(target, saved);
    return reporter.fail(error);
  }

  std::string state = "link down";
  auto lastProgress = Clock::now();
  bool synced = false;
  while (!synced) {
    if (secondsSince(start) > static_cast<double>(timeoutSeconds)) break;
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
    synced = redis::infoField(replication->text, "master_link_status") == "up" &&
             redis::infoField(replication->text, "master_sync_in_progress") == "0";
    if (!synced && Clock::now() - lastProgress >= kProgressInterval) {
      lastProgress = Clock::now();
      reporter.progress(fmt::format("redis-copy: waiting for {} to sync from {} ({:.0f}s): {}",
                                    to.address(), from.address(), secondsSince(start), state));
    }
  }
  if (!error.empty()) {
    if (std::string stopError = restoreTarget(target, targetPassword, saved); !stopError.empty()) {
      return reporter.fail(error + "; and " + stopError +
                           ": the target may still be a replica: run REPLICAOF NO ONE and "
                           "CONFIG SET masterauth \"\" on it");
    }
    return reporter.fail(error + "; replication stopped");
  }
  const double elapsed = secondsSince(start);
  if (std::string stopError = stopReplication(target, saved); !stopError.empty()) {
    return reporter.fail(stopError +
                         "; the target may still be a replica: run REPLICAOF NO ONE "
                         "and CONFIG SET masterauth \"\" on it");
  }
  if (!synced) {
    return reporter.fail(fmt::format(
        "{} did not finish syncing from {} within {}s ({}); check that the target can reach the "
        "source at that address and that the source's password is right; replication stopped",
        to.address(), from.address(), timeoutSeconds, state));
  }
  auto keys = info(target, "keyspace", error);
  if (!keys) return reporter.fail(error);
  uint64_t total = 0;
  for (const auto& [db, count] : keyspace(*keys)) total += static_cast<uint64_t>(count.keys);
  reporter.say(copySummary(total, elapsed) + " by replication (every database)");
  return 0;
}

// ---------------------------------------------------------------------------
// redis-copy --method auto

/// Keys below which the method hardly matters: both take well under a
/// second.
constexpr int64_t kAutoReplicationMinimumKeys = 100'000;
/// Keys sampled (RANDOMKEY, TYPE) to tell whether strings dominate.
constexpr int kAutoTypeSamples = 100;

/// "7.0.15" as numbers, for comparing versions.
std::vector<int> versionNumbers(std::string_view version) {
  std::vector<int> numbers;
  for (size_t at = 0; at <= version.size();) {
    size_t end = version.find('.', at);
    if (end == std::string_view::npos) end = version.size();
    int number = 0;
    std::from_chars(version.data() + at, version.data() + end, number);
    numbers.push_back(number);
    at = end + 1;
  }
  return numbers;
}

/// How many of `samples` random keys of the source are strings.
std::optional<int> sampledStrings(Connection& source, int samples, std::string& error) {
  for (int i = 0; i < samples; ++i) source.append({"RANDOMKEY"});
  std::vector<std::string> keys;
  Reply reply;
  for (int i = 0; i < samples; ++i) {
    if (!source.read(reply)) {
      error = source.error();
      return std::nullopt;
    }
    if (reply.kind == Reply::Kind::kBulk) keys.push_back(std::move(reply.text));
  }
  for (const std::string& key : keys) source.append({"TYPE", key});
  int strings = 0;
  for (size_t i = 0; i < keys.size(); ++i) {
    if (!source.read(reply)) {
      error = source.error();
      return std::nullopt;
    }
    if (reply.isStatus("string")) ++strings;
  }
  return strings;
}

struct MethodChoice {
  std::string method;  ///< "dump" or "replication"
  std::string reason;
};

/// --method auto. Replication (Redis's own full sync) is chosen only where
/// it is safe and faster than dump: both URLs name the same database, that
/// is the only one with keys on either side (replication replaces every
/// database), the target runs a Redis at least as new as the source's (it
/// must read the source's RDB), is not a replica, lets us CONFIG it, and
/// the source holds at least 100,000 keys of which most have a TTL or are
/// not strings. For strings without TTL the dump method is the faster one
/// (bench/redis_copy.sh), and it does not make the source fork.
std::optional<MethodChoice> chooseMethod(Connection& source, Connection& target,
                                         const ServerFacts& sourceFacts,
                                         const ServerFacts& targetFacts, std::string& error) {
  const int db = source.endpoint().db;
  if (db != target.endpoint().db) return MethodChoice{"dump", "the URLs name different databases"};
  auto sourceInfo = info(source, "keyspace", error);
  auto targetInfo = sourceInfo ? info(target, "keyspace", error) : std::nullopt;
  auto role = targetInfo ? info(target, "replication", error) : std::nullopt;
  if (!role) return std::nullopt;
  const auto sourceKeys = keyspace(*sourceInfo);
  for (const auto& databases : {sourceKeys, keyspace(*targetInfo)}) {
    for (const auto& [other, keys] : databases) {
      if (other != db) {
        return MethodChoice{"dump", fmt::format("db {} also holds keys, which replication would "
                                                "replace",
                                                other)};
      }
    }
  }
  const DatabaseKeys keys = sourceKeys.contains(db) ? sourceKeys.at(db) : DatabaseKeys{};
  if (keys.keys < kAutoReplicationMinimumKeys) {
    return MethodChoice{"dump", fmt::format("only {} {}", withThousands(keys.keys),
                                            keys.keys == 1 ? "key" : "keys")};
  }
  if (versionNumbers(targetFacts.version) < versionNumbers(sourceFacts.version)) {
    return MethodChoice{"dump", "the target runs an older Redis than the source"};
  }
  if (redis::infoField(*role, "role") != "master") {
    return MethodChoice{"dump", "the target is a replica"};
  }
  if (auto config = target.command({"CONFIG", "GET", "masterauth"}); !config || config->isError()) {
    return MethodChoice{"dump", "the target does not allow CONFIG"};
  }
  if (keys.expires * 2 >= keys.keys) {
    return MethodChoice{"replication",
                        fmt::format("{} of {} keys have a TTL", withThousands(keys.expires),
                                    withThousands(keys.keys))};
  }
  auto strings = sampledStrings(source, kAutoTypeSamples, error);
  if (!strings) return std::nullopt;
  if (*strings * 2 < kAutoTypeSamples) {
    return MethodChoice{"replication", fmt::format("{} of {} sampled keys are not strings",
                                                   kAutoTypeSamples - *strings, kAutoTypeSamples)};
  }
  return MethodChoice{"dump", "mostly strings without TTL"};
}

// ---------------------------------------------------------------------------
// redis-compare

/// How a key's value is read for comparison, by TYPE.
struct TypeReader {
  std::string_view type;
  std::string_view length;             ///< empty: no cheap length command
  std::vector<std::string_view> read;  ///< the key goes after read[0]
};

const std::vector<TypeReader>& typeReaders() {
  static const std::vector<TypeReader> readers = {
      {"string", "STRLEN", {"GET"}},
      {"hash", "HLEN", {"HGETALL"}},
      {"list", "LLEN", {"LRANGE", "0", "-1"}},
      {"set", "SCARD", {"SMEMBERS"}},
      {"zset", "ZCARD", {"ZRANGE", "0", "-1", "WITHSCORES"}},
      {"stream", "XLEN", {"XRANGE", "-", "+"}},
  };
  return readers;
}

/// Module types and anything newer: compared by DUMP payload.
const TypeReader& readerFor(std::string_view type) {
  static const TypeReader dump = {"", "", {"DUMP"}};
  for (const TypeReader& reader : typeReaders()) {
    if (reader.type == type) return reader;
  }
  return dump;
}

void appendCommand(Connection& connection, const std::vector<std::string_view>& words,
                   std::string_view key) {
  std::vector<std::string_view> args;
  args.reserve(words.size() + 1);
  args.push_back(words[0]);
  args.push_back(key);
  args.insert(args.end(), words.begin() + 1, words.end());
  connection.append(std::span<const std::string_view>(args));
}

void appendLengthPrefixed(std::string& out, std::string_view bytes) {
  out += std::to_string(bytes.size());
  out += ':';
  out += bytes;
}

/// A reply as bytes that are equal exactly when the replies are.
void appendCanonical(std::string& out, const Reply& reply) {
  if (reply.isArray()) {
    out += '*';
    out += std::to_string(reply.elements.size());
    for (const Reply& element : reply.elements) appendCanonical(out, element);
    return;
  }
  out += reply.isNil() ? '_' : '$';
  appendLengthPrefixed(out, reply.text);
}

/// A key's value in a form that does not depend on how the server stores
/// it: hash fields and set members sorted, zset scores as numbers.
std::string canonicalValue(std::string_view type, Reply& value) {
  std::string out;
  if (type == "hash" && value.isArray()) {
    std::vector<std::pair<std::string_view, std::string_view>> fields;
    for (size_t i = 0; i + 1 < value.elements.size(); i += 2) {
      fields.emplace_back(value.elements[i].text, value.elements[i + 1].text);
    }
    std::sort(fields.begin(), fields.end());
    for (const auto& [field, content] : fields) {
      appendLengthPrefixed(out, field);
      appendLengthPrefixed(out, content);
    }
    return out;
  }
  if (type == "set" && value.isArray()) {
    std::vector<std::string_view> members;
    for (const Reply& member : value.elements) members.push_back(member.text);
    std::sort(members.begin(), members.end());
    for (std::string_view member : members) appendLengthPrefixed(out, member);
    return out;
  }
  if (type == "zset" && value.isArray()) {
    for (size_t i = 0; i + 1 < value.elements.size(); i += 2) {
      appendLengthPrefixed(out, value.elements[i].text);
      const std::string& score = value.elements[i + 1].text;
      char* end = nullptr;
      const double number = std::strtod(score.c_str(), &end);
      appendLengthPrefixed(out,
                           end == score.c_str() + score.size() ? fmt::format("{}", number) : score);
    }
    return out;
  }
  appendCanonical(out, value);
  return out;
}

/// Reads `count` replies into `replies` (storage reused).
bool readReplies(Connection& connection, size_t count, std::vector<Reply>& replies) {
  replies.resize(count);
  for (Reply& reply : replies) {
    if (!connection.read(reply)) return false;
  }
  return true;
}

/// Compares the keys of database a with database b, batch by batch.
class Comparison {
 public:
  Comparison(Connection& a, Connection& b, Reporter& reporter)
      : a_(a), b_(b), reporter_(reporter) {}

  /// Every key of a against b; false (with `error()`) when a server failed.
  bool compareKeysOfA() {
    return scan(a_, [&](std::vector<std::string>& keys) { return compareBatch(keys); });
  }

  /// Names the keys of b that a lacks.
  bool findKeysOnlyInB() {
    return scan(b_, [&](std::vector<std::string>& keys) {
      for (const std::string& key : keys) a_.append({"EXISTS", key});
      if (!a_.flush() || !readReplies(a_, keys.size(), replies_[0])) return failWith(a_.error());
      for (size_t i = 0; i < keys.size(); ++i) {
        if (!check(replies_[0][i], a_, "EXISTS", keys[i])) return false;
        if (replies_[0][i].integer == 0) difference(keys[i], "key {} only in b");
      }
      return true;
    });
  }

  uint64_t differences() const { return differences_; }
  uint64_t keysCompared() const { return compared_; }
  const std::string& error() const { return error_; }

 private:
  struct KeyPair {
    std::string_view key;
    std::string_view type;
    int64_t weight = 1;
  };

  bool failWith(std::string error) {
    error_ = std::move(error);
    return false;
  }

  bool check(const Reply& reply, Connection& connection, std::string_view command,
             std::string_view key) {
    if (!reply.isError()) return true;
    return failWith(fmt::format("{} of key {} on {} failed: {}", command, redis::printable(key),
                                connection.endpoint().address(), reply.text));
  }

  /// Lists the first differences, counts the rest; `format` has one {} for
  /// the key.
  void difference(std::string_view key, fmt::format_string<std::string> format) {
    ++differences_;
    if (differences_ <= kListedDifferences)
      reporter_.say(fmt::format(format, redis::printable(key)));
  }

  bool scan(Connection& connection, const std::function<bool(std::vector<std::string>&)>& batch) {
    std::string cursor = "0";
    std::vector<std::string> keys;
    Reply reply;
    do {
      connection.append({"SCAN", cursor, "COUNT", kScanCount});
      if (!connection.read(reply)) return failWith(connection.error());
      if (reply.isError() || !takeScanReply(reply, cursor, keys)) {
        return failWith(fmt::format("SCAN on {} failed: {}", connection.endpoint().address(),
                                    reply.isError() ? reply.text : "unexpected reply"));
      }
      if (!keys.empty() && !batch(keys)) return false;
    } while (cursor != "0");
    return true;
  }

  /// Sends `commands` of each pair to both servers and reads the replies
  /// into replies_[0] (a) and replies_[1] (b).
  bool exchange(size_t count) {
    if (!a_.flush()) return failWith(a_.error());
    if (!b_.flush()) return failWith(b_.error());
    if (!readReplies(a_, count, replies_[0])) return failWith(a_.error());
    if (!readReplies(b_, count, replies_[1])) return failWith(b_.error());
    return true;
  }

  bool compareBatch(const std::vector<std::string>& keys) {
    // Round 1: type and TTL on both sides.
    for (Connection* side : {&a_, &b_}) {
      for (const std::string& key : keys) {
        side->append({"TYPE", key});
        side->append({"PTTL", key});
      }
    }
    if (!exchange(2 * keys.size())) return false;
    std::vector<KeyPair> same;
    for (auto& types : types_) {
      types.clear();
      types.reserve(keys.size());  // `same` points into it
    }
    for (size_t i = 0; i < keys.size(); ++i) {
      for (int side : {0, 1}) {
        Connection& connection = side == 0 ? a_ : b_;
        if (!check(replies_[side][2 * i], connection, "TYPE", keys[i]) ||
            !check(replies_[side][2 * i + 1], connection, "PTTL", keys[i])) {
          return false;
        }
        types_[side].push_back(std::move(replies_[side][2 * i].text));
      }
      const std::string& typeA = types_[0].back();
      const std::string& typeB = types_[1].back();
      if (typeA == "none") continue;  // deleted or expired since SCAN
      ++compared_;
      if (typeB == "none") {
        difference(keys[i], "key {} only in a");
        continue;
      }
      if (typeA != typeB) {
        ++differences_;
        if (differences_ <= kListedDifferences) {
          reporter_.say(
              fmt::format("key {}: type {} in a, {} in b", redis::printable(keys[i]), typeA, typeB));
        }
        continue;
      }
      const bool ttlA = replies_[0][2 * i + 1].integer >= 0;
      const bool ttlB = replies_[1][2 * i + 1].integer >= 0;
      if (ttlA && !ttlB) difference(keys[i], "key {}: ttl in a, none in b");
      if (!ttlA && ttlB) difference(keys[i], "key {}: none in a, ttl in b");
      same.push_back({keys[i], typeA});
    }

    // Round 2: lengths, where cheap; different lengths are different values.
    size_t lengths = 0;
    for (Connection* side : {&a_, &b_}) {
      for (const KeyPair& pair : same) {
        const TypeReader& reader = readerFor(pair.type);
        if (!reader.length.empty()) side->append({reader.length, pair.key});
      }
    }
    for (const KeyPair& pair : same) lengths += readerFor(pair.type).length.empty() ? 0 : 1;
    if (!exchange(lengths)) return false;
    std::vector<KeyPair> fetch;
    size_t at = 0;
    for (KeyPair& pair : same) {
      if (readerFor(pair.type).length.empty()) {
        fetch.push_back(pair);
        continue;
      }
      const Reply& lengthA = replies_[0][at];
      const Reply& lengthB = replies_[1][at];
      ++at;
      if (!check(lengthA, a_, readerFor(pair.type).length, pair.key) ||
          !check(lengthB, b_, readerFor(pair.type).length, pair.key)) {
        return false;
      }
      if (lengthA.integer != lengthB.integer) {
        difference(pair.key, "key {}: different values");
        continue;
      }
      // Strings weigh their bytes; collection elements some 32 bytes each.
      pair.weight =
          std::max<int64_t>(1, pair.type == "string" ? lengthA.integer : lengthA.integer * 32);
      fetch.push_back(pair);
    }

    // Round 3: the values, a few megabytes per round trip.
    for (size_t begin = 0; begin < fetch.size();) {
      size_t end = begin;
      int64_t budget = 0;
      while (end < fetch.size() &&
             (end == begin || budget + fetch[end].weight <= kCompareFetchBudget)) {
        budget += fetch[end++].weight;
      }
      if (!compareValues(std::span(fetch).subspan(begin, end - begin))) return false;
      begin = end;
    }
    return true;
  }

  bool compareValues(std::span<const KeyPair> pairs) {
    for (Connection* side : {&a_, &b_}) {
      for (const KeyPair& pair : pairs) appendCommand(*side, readerFor(pair.type).read, pair.key);
    }
    if (!exchange(pairs.size())) return false;
    for (size_t i = 0; i < pairs.size(); ++i) {
      const std::string_view command = readerFor(pairs[i].type).read[0];
      if (!check(replies_[0][i], a_, command, pairs[i].key) ||
          !check(replies_[1][i], b_, command, pairs[i].key)) {
        return false;
      }
      if (canonicalValue(pairs[i].type, replies_[0][i]) !=
          canonicalValue(pairs[i].type, replies_[1][i])) {
        difference(pairs[i].key, "key {}: different values");
      }
    }
    return true;
  }

  Connection& a_;
  Connection& b_;
  Reporter& reporter_;
  std::vector<Reply> replies_[2];
  std::vector<std::string> types_[2];
  uint64_t differences_ = 0;
  uint64_t compared_ = 0;
  std::string error_;
};

// ---------------------------------------------------------------------------
// acl-verify --kind redis

/// An address or CIDR as the plan declares it.
struct DeclaredNetwork {
  bool valid = false;
  bool world = false;  ///< prefix length 0: every address
};

DeclaredNetwork parseNetwork(const std::string& text) {
  const size_t slash = text.find('/');
  const std::string address = text.substr(0, slash);
  unsigned char bytes[sizeof(in6_addr)];
  int maxPrefix = 0;
  if (inet_pton(AF_INET, address.c_str(), bytes) == 1) {
    maxPrefix = 32;
  } else if (inet_pton(AF_INET6, address.c_str(), bytes) == 1) {
    maxPrefix = 128;
  } else {
    return {};
  }
  int prefix = maxPrefix;
  if (slash != std::string::npos) {
    std::string_view digits = std::string_view(text).substr(slash + 1);
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), prefix);
    if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() || prefix < 0 ||
        prefix > maxPrefix) {
      return {};
    }
  }
  return {true, prefix == 0};
}

/// "(all interfaces)", "(loopback only)" or "(listed interfaces)" for the
/// `bind` setting ("* -::*", "127.0.0.1 -::1", ...).
std::string describeBind(const std::string& bind) {
  bool all = false;
  bool loopbackOnly = true;
  size_t words = 0;
  for (size_t at = 0; at < bind.size();) {
    size_t end = bind.find(' ', at);
    if (end == std::string::npos) end = bind.size();
    std::string_view address = std::string_view(bind).substr(at, end - at);
    at = end + 1;
    if (address.empty()) continue;
    ++words;
    if (address.starts_with('-')) address.remove_prefix(1);  // "-": optional address
    if (address == "*" || address == "0.0.0.0" || address == "::" || address == "::*") all = true;
    if (!address.starts_with("127.") && address != "::1" && address != "localhost") {
      loopbackOnly = false;
    }
  }
  if (all || words == 0) return "all interfaces";
  return loopbackOnly ? "loopback only" : "listed interfaces";
}

/// Reads what an authenticated client may: the default user, protected
/// mode, bind. Each line says where it came from or why it is missing.
void reportSettings(Connection& connection, Reporter& reporter) {
  auto user = connection.command({"ACL", "GETUSER", "default"});
  bool userKnown = false;
  if (user && user->isArray()) {
    for (size_t i = 0; i + 1 < user->elements.size(); i += 2) {
      if (user->elements[i].text != "flags") continue;
      bool on = false;
      bool nopass = false;
      for (const Reply& flag : user->elements[i + 1].elements) {
        on = on || flag.text == "on";
        nopass = nopass || flag.text == "nopass";
      }
      reporter.say(fmt::format("  default user: {} (ACL GETUSER default)",
                               !on      ? "disabled"
                               : nopass ? "enabled, no password (nopass)"
                                        : "enabled, needs a password"));
      userKnown = true;
    }
  }
  if (!userKnown) {
    // Before Redis 6, or without permission for ACL: requirepass says as
    // much. Only whether it is set is printed, never its value.
    auto requirepass = connection.command({"CONFIG", "GET", "requirepass"});
    if (requirepass && requirepass->isArray() && requirepass->elements.size() == 2) {
      reporter.say(fmt::format("  requirepass: {} (CONFIG GET requirepass)",
                               requirepass->elements[1].text.empty() ? "not set" : "set"));
    } else {
      reporter.say(fmt::format("  default user: not readable ({})",
                               user && user->isError() ? user->text : connection.error()));
    }
  }
  for (std::string_view name : {"protected-mode", "bind"}) {
    auto reply = connection.command({"CONFIG", "GET", name});
    if (!reply || !reply->isArray() || reply->elements.size() != 2) {
      reporter.say(fmt::format("  {}: not readable ({})", name,
                               reply && reply->isError() ? reply->text : connection.error()));
      continue;
    }
    const std::string& value = reply->elements[1].text;
    if (name == "bind") {
      reporter.say(
          fmt::format("  bind: {} ({})", value.empty() ? "\"\"" : value, describeBind(value)));
    } else {
      reporter.say(fmt::format("  {}: {}", name, value));
    }
  }
}

}  // namespace

// redis-copy: see the file comment and stdlib/std/redis.mig.
int redisCopy(const DriverArgs& args, std::ostream& out, std::ostream& err) {
  Reporter reporter("redis-copy", out, err);
  if (!onlyKnownOptions(args, {"from", "to", "method", "timeout"}, reporter)) return 2;
  auto fromUrl = args.require("from", err);
  auto toUrl = args.require("to", err);
  if (!fromUrl || !toUrl) return 2;
  const std::string method = args.options.contains("method") ? args.options.at("method") : "dump";
  if (method != "dump" && method != "replication" && method != "auto") {
    return reporter.fail(fmt::format("unknown --method '{}' (dump, replication or auto)", method),
                         2);
  }
  int64_t timeout = kDefaultReplicationTimeoutSeconds;
  if (auto it = args.options.find("timeout"); it != args.options.end()) {
    auto [end, ec] =
        std::from_chars(it->second.data(), it->second.data() + it->second.size(), timeout);
    if (ec != std::errc() || end != it->second.data() + it->second.size() || timeout <= 0) {
      return reporter.fail(fmt::format("--timeout takes seconds, not '{}'", it->second), 2);
    }
  }
  std::string error;
  auto from = redis::parseUrl(*fromUrl, error);
  if (!from) return reporter.fail("--from: " + error, 2);
  auto to = redis::parseUrl(*toUrl, error);
  if (!to) return reporter.fail("--to: " + error, 2);

  const Password fromPassword = passwordFromEnvironment("MIG_FROM_PASSWORD");
  const Password toPassword = passwordFromEnvironment("MIG_TO_PASSWORD");
  reporter.addSecret(fromPassword.value);
  reporter.addSecret(toPassword.value);
  auto source = openEndpoint(*from, fromPassword, reporter);
  if (!source) return 1;
  auto target = openEndpoint(*to, toPassword, reporter);
  if (!target) return 1;

  auto sourceFacts = serverFacts(*source, error);
  auto targetFacts = sourceFacts ? serverFacts(*target, error) : std::nullopt;
  if (!targetFacts) return reporter.fail(error);
  if (!sourceFacts->runId.empty() && sourceFacts->runId == targetFacts->runId &&
      (from->db == to->db || method != "dump")) {
    return reporter.fail(fmt::format("{} and {} are the same server{}", from->describe(),
                                     to->describe(), from->db == to->db ? " and database" : ""));
  }
  std::string chosen = method;
  if (method == "auto") {
    auto choice = chooseMethod(*source, *target, *sourceFacts, *targetFacts, error);
    if (!choice) return reporter.fail(error);
    reporter.say(fmt::format("method auto: {} ({})", choice->method, choice->reason));
    chosen = choice->method;
  }
  if (chosen == "replication") {
    return copyByReplication(*source, *target, fromPassword, toPassword, timeout, reporter);
  }
  auto scanner = openEndpoint(*from, fromPassword, reporter);
  if (!scanner) return 1;
  return copyByDump(*scanner, *source, *target, *sourceFacts, *targetFacts, reporter);
}

// redis-compare: see the file comment and stdlib/std/redis.mig.
int redisCompare(const DriverArgs& args, std::ostream& out, std::ostream& err) {
  Reporter reporter("redis-compare", out, err);
  if (!onlyKnownOptions(args, {"a", "b"}, reporter)) return 2;
  auto aUrl = args.require("a", err);
  auto bUrl = args.require("b", err);
  if (!aUrl || !bUrl) return 2;
  std::string error;
  auto aEndpoint = redis::parseUrl(*aUrl, error);
  if (!aEndpoint) return reporter.fail("--a: " + error, 2);
  auto bEndpoint = redis::parseUrl(*bUrl, error);
  if (!bEndpoint) return reporter.fail("--b: " + error, 2);

  const Password aPassword = passwordFromEnvironment("MIG_A_PASSWORD");
  const Password bPassword = passwordFromEnvironment("MIG_B_PASSWORD");
  reporter.addSecret(aPassword.value);
  reporter.addSecret(bPassword.value);
  auto a = openEndpoint(*aEndpoint, aPassword, reporter);
  if (!a) return 1;
  auto b = openEndpoint(*bEndpoint, bPassword, reporter);
  if (!b) return 1;

  const auto start = Clock::now();
  auto aKeys = dbSize(*a, error);
  auto bKeys = aKeys ? dbSize(*b, error) : std::nullopt;
  if (!bKeys) return reporter.fail(error);
  Comparison comparison(*a, *b, reporter);
  if (!comparison.compareKeysOfA() || !comparison.findKeysOnlyInB()) {
    return reporter.fail(comparison.error());
  }
  // Equal key counts with no key differing, unless keys came or went while
  // the comparison ran.
  const uint64_t differences = comparison.differences();
  const std::string names =
      fmt::format("{} (a) and {} (b)", aEndpoint->describe(), bEndpoint->describe());
  if (differences == 0 && *aKeys == *bKeys) {
    reporter.say(fmt::format("equal: {} keys in {}, same types, values and ttl presence ({})",
                             withThousands(static_cast<uint64_t>(*aKeys)), names,
                             duration(secondsSince(start))));
    return 0;
  }
  if (differences > kListedDifferences) {
    reporter.say(fmt::format("... and {} more differences",
                             withThousands(differences - kListedDifferences)));
  }
  reporter.say(fmt::format("a has {} keys, b has {}", withThousands(static_cast<uint64_t>(*aKeys)),
                           withThousands(static_cast<uint64_t>(*bKeys))));
  reporter.say(fmt::format("{} {} between {}", withThousands(differences),
                           differences == 1 ? "key difference" : "key differences", names));
  return 1;
}

// acl-verify --kind redis. Redis cannot restrict clients by address, so
// this checks exactly what can be checked from here:
//   - checked: whether an unauthenticated client may run commands (a fresh
//     connection without AUTH sends PING; NOAUTH means a password is
//     required) -- this alone decides pass or fail for the server;
//   - reported when the credentials permit (REDISCLI_AUTH): the `default`
//     user's flags (ACL GETUSER; before Redis 6 or without ACL permission,
//     whether requirepass is set), protected-mode, and the bind addresses
//     with whether they cover every interface;
//   - not checked: the declared CIDRs, which Redis cannot enforce; each is
//     listed as to be enforced in the network (firewall, security group),
//     and the check fails when one is open to the world (prefix length 0,
//     e.g. 0.0.0.0/0 or ::/0) or is not an address at all;
//   - not checked either: users other than `default`, TLS, and whether the
//     server is reachable from addresses other than ours.
int redisAclVerify(const DriverArgs& args, std::ostream& out, std::ostream& err) {
  Reporter reporter("acl-verify", out, err);
  if (!onlyKnownOptions(args, {"kind", "url"}, reporter)) return 2;
  auto url = args.require("url", err);
  if (!url) return 2;
  std::string error;
  auto endpoint = redis::parseUrl(*url, error);
  if (!endpoint) return reporter.fail("--url: " + error, 2);
  const Password password = passwordFromEnvironment("REDISCLI_AUTH");
  reporter.addSecret(password.value);

  redis::ConnectOptions anonymous;
  anonymous.selectDb = false;
  auto probe = Connection::open(*endpoint, anonymous, error);
  if (!probe) return reporter.fail(error);
  auto ping = probe->command({"PING"});
  if (!ping) return reporter.fail(probe->error());
  const bool authRequired = ping->isError() && ping->text.starts_with("NOAUTH");

  std::vector<std::string> failures;
  reporter.say(fmt::format("redis {}", endpoint->address()));
  if (authRequired) {
    reporter.say(fmt::format("  authentication: required (an unauthenticated PING was refused: {})",
                             ping->text));
  } else {
    reporter.say("  authentication: NOT required (an unauthenticated PING was answered)");
    failures.push_back("the server accepts unauthenticated clients");
  }
  if (!authRequired || !password.value.empty()) {
    redis::ConnectOptions options;
    options.password = authRequired ? password.value : "";
    options.passwordSource = password.source;
    options.selectDb = false;
    auto session = Connection::open(*endpoint, options, error);
    if (session) {
      reportSettings(*session, reporter);
    } else {
      reporter.say(fmt::format("  settings: not readable ({})", error));
    }
  } else {
    reporter.say(
        "  settings: not read (set REDISCLI_AUTH to read the default user, "
        "protected-mode and bind)");
  }

  if (args.rest.empty()) {
    reporter.say("  declared CIDRs: none");
  } else {
    reporter.say(
        "  not verifiable on Redis: enforce them in the network (firewall, security "
        "group):");
    for (const std::string& cidr : args.rest) {
      const DeclaredNetwork network = parseNetwork(cidr);
      if (!network.valid) {
        reporter.say(fmt::format("    {} (not an address or CIDR)", cidr));
        failures.push_back(fmt::format("'{}' is not an address or CIDR", cidr));
      } else if (network.world) {
        reporter.say(fmt::format("    {} (open to the world)", cidr));
        failures.push_back(fmt::format("{} opens the server to every address", cidr));
      } else {
        reporter.say(fmt::format("    {}", cidr));
      }
    }
  }
  if (failures.empty()) {
    reporter.say("ok: a password is required and no declared CIDR is open to the world");
    return 0;
  }
  for (const std::string& failure : failures) reporter.say("failed: " + failure);
  return 1;
}

}  // namespace mig::drivers
