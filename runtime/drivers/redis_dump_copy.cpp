// redis-copy --method dump.
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
// Function libraries travel as one FUNCTION DUMP payload, restored with
// the FLUSH policy before the target's database is flushed. A batch SCAN
// gives is read in parts of about kBatchBytes. At the end the target must
// hold every key written, but those whose TTL ran out since.

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

#include "runtime/drivers/redis_copy.h"

namespace mig::drivers::redis {
namespace {

/// Batches of key names waiting for the reader, and of values waiting for
/// the writer: with kBatchBytes, bounds the copy's memory.
constexpr size_t kQueuedBatches = 8;
/// MGET batches queued on the source before their replies are read.
constexpr size_t kReadBatchesInFlight = 3;
/// Batches sent to the target before their replies are read.
constexpr size_t kWriteBatchesInFlight = 2;
/// Roughly how many bytes of values one batch may hold: a scanned batch is
/// read in as many parts as the values read so far suggest, so that large
/// values do not make batches of gigabytes.
constexpr size_t kBatchBytes = 4 * 1024 * 1024;
/// Keys in the first part read, before any value's size is known.
constexpr size_t kFirstPartKeys = 4;

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

/// SCANs the source on a connection of its own, so that key names arrive
/// ahead of the reads and the reading connection never waits for a SCAN
/// round trip. Returns an error message, or "" (also when the reader gave
/// up first); closes `keys` in both cases.
std::string scanKeys(Connection& source, KeyQueue& keys) {
  std::string error = scanAll(
      source, [&keys](std::vector<std::string>& batch) { return keys.push(std::move(batch)); });
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
        if (scanned_.empty()) {
          auto batch = keys.pop(expected_.empty());
          if (!batch) break;
          scanned_.assign(std::make_move_iterator(batch->begin()),
                          std::make_move_iterator(batch->end()));
        }
        send(nextPart());
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
    return fmt::format("{} of key {} on {} failed: {}", command, shown(key),
                       source_.endpoint().address(), foreign(reply.text));
  }

  /// The next keys of the scanned batch: as many as `measure` says fit in
  /// kBatchBytes.
  std::vector<std::string> nextPart() {
    const size_t count = std::min(partKeys_, scanned_.size());
    std::vector<std::string> part(std::make_move_iterator(scanned_.begin()),
                                  std::make_move_iterator(scanned_.begin() + count));
    scanned_.erase(scanned_.begin(), scanned_.begin() + count);
    return part;
  }

  /// Sizes the next parts by the largest key of `batch` (its name and
  /// value), or by half the previous size when that is larger: after large
  /// values, parts grow back by doubling. A part right after much smaller
  /// values may still hold more than kBatchBytes.
  void measure(const Batch& batch) {
    size_t largest = 1;
    for (const CopiedKey& key : batch)
      largest = std::max(largest, key.key.size() + key.value.size());
    bytesPerKey_ = std::max(largest, bytesPerKey_ / 2);
    partKeys_ = std::max<size_t>(1, kBatchBytes / bytesPerKey_);
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
      return commandFailed("MGET", source_, reply_);
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
    measure(batch);
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
    measure(batch);
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
  /// Keys of the batch SCAN gave, not sent yet.
  std::deque<std::string> scanned_;
  size_t partKeys_ = kFirstPartKeys;
  size_t bytesPerKey_ = kBatchBytes / kFirstPartKeys;
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
      inFlight_.push_back({std::move(*batch), Clock::now()});
      if (inFlight_.size() > kWriteBatchesInFlight) {
        if (auto error = takeReplies(inFlight_.front()); !error.empty()) return error;
        inFlight_.pop_front();
      }
    }
    for (const SentBatch& batch : inFlight_) {
      if (auto error = takeReplies(batch); !error.empty()) return error;
    }
    return "";
  }

  /// Every key written, as a hash of its name: SCAN may find a key twice.
  const std::vector<uint64_t>& writtenKeys() const { return writtenKeys_; }
  /// When the TTL of each key written with one runs out on the target.
  const std::vector<Clock::time_point>& deadlines() const { return deadlines_; }

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

  struct SentBatch {
    Batch keys;
    Clock::time_point sentAt;
  };

  void recordWritten(const CopiedKey& key, Clock::time_point sentAt) {
    writtenKeys_.push_back(std::hash<std::string>{}(key.key));
    if (key.ttl > 0) deadlines_.push_back(sentAt + std::chrono::milliseconds(key.ttl));
  }

  std::string takeReplies(const SentBatch& sent) {
    const Batch& batch = sent.keys;
    const auto strings = std::count_if(batch.begin(), batch.end(), inMset);
    if (strings > 0) {
      if (!target_.read(reply_)) return target_.error();
      if (reply_.isError()) {
        const auto first = std::find_if(batch.begin(), batch.end(), inMset);
        return fmt::format("MSET of {} keys (the first: {}) into {} failed: {}", strings,
                           shown(first->key), target_.endpoint().describe(), foreign(reply_.text));
      }
      counters_.written.fetch_add(static_cast<uint64_t>(strings), std::memory_order_relaxed);
      for (const CopiedKey& key : batch) {
        if (inMset(key)) recordWritten(key, sent.sentAt);
      }
    }
    for (const CopiedKey& key : batch) {
      if (inMset(key)) continue;
      if (!target_.read(reply_)) return target_.error();
      if (reply_.isError()) {
        const bool payloadRefused = reply_.text.find("payload version") != std::string::npos;
        return fmt::format("{} of key {} into {} failed: {}{}", key.dumped ? "RESTORE" : "SET",
                           shown(key.key), target_.endpoint().describe(), foreign(reply_.text),
                           payloadRefused ? versionHint_ : "");
      }
      counters_.written.fetch_add(1, std::memory_order_relaxed);
      recordWritten(key, sent.sentAt);
    }
    return "";
  }

  Connection& target_;
  CopyCounters& counters_;
  std::string versionHint_;
  std::deque<SentBatch> inFlight_;
  Reply reply_;
  std::vector<uint64_t> writtenKeys_;
  std::vector<Clock::time_point> deadlines_;
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

/// The target's functions made equal to the source's: FUNCTION RESTORE
/// with the FLUSH policy drops the target's libraries first.
std::string copyFunctions(Connection& target, const SourceFunctions& functions,
                          const std::string& versionHint, Reporter& reporter) {
  if (functions.libraries == 0 && functions.targetLibraries == 0) return "";
  std::string error;
  if (!call(target, {"FUNCTION", "RESTORE", functions.payload, "FLUSH"}, error)) {
    return error + (error.find("payload version") != std::string::npos ? versionHint : "");
  }
  if (functions.libraries == 0) {
    reporter.say(
        fmt::format("removed the target's {} (the source has none)",
                    counted(functions.targetLibraries, "function library", "function libraries")));
  } else if (functions.targetLibraries == 0) {
    reporter.say(fmt::format(
        "copied {}", counted(functions.libraries, "function library", "function libraries")));
  } else {
    reporter.say(fmt::format("copied {} in place of the target's {}",
                             counted(functions.libraries, "function library", "function libraries"),
                             functions.targetLibraries));
  }
  return "";
}

/// An error when the target holds fewer keys than were written, beyond
/// those whose TTL ran out since; "" otherwise.
std::string missingKeys(const TargetWriter& writer, int64_t targetKeys, const Endpoint& target) {
  const auto now = Clock::now();
  const auto expired = static_cast<uint64_t>(
      std::count_if(writer.deadlines().begin(), writer.deadlines().end(),
                    [&](Clock::time_point deadline) { return deadline <= now; }));
  const auto held = static_cast<uint64_t>(targetKeys);
  uint64_t written = writer.writtenKeys().size();
  if (held + expired >= written) return "";
  // SCAN may have found some keys twice: count each once.
  std::vector<uint64_t> keys = writer.writtenKeys();
  std::sort(keys.begin(), keys.end());
  written = static_cast<uint64_t>(std::unique(keys.begin(), keys.end()) - keys.begin());
  if (held + expired >= written) return "";
  return fmt::format(
      "{} holds {} after the copy, {} fewer than the {} written ({} of which had a TTL that ran "
      "out since): keys were lost on the target (evicted under maxmemory, or deleted by another "
      "client)",
      target.describe(), counted(held, "key", "keys"), withThousands(written - held - expired),
      withThousands(written), withThousands(expired));
}

}  // namespace

std::string copySummary(uint64_t keys, double seconds) {
  const double rate = static_cast<double>(keys) / std::max(seconds, 0.001);
  return fmt::format("copied {} in {} ({} keys/s)", counted(keys, "key", "keys"), duration(seconds),
                     withThousands(static_cast<uint64_t>(rate)));
}

/// Three connections: `scanner` and `source` to the source's database (one
/// for SCAN, one for reading values), `target`. Three threads: scanning,
/// reading (this one), writing.
int copyByDump(Connection& scanner, Connection& source, Connection& target,
               const ServerFacts& sourceFacts, const ServerFacts& targetFacts,
               const std::optional<SourceFunctions>& functions, Reporter& reporter) {
  const auto start = Clock::now();
  std::string error;
  std::string hint;
  if (sourceFacts.version != targetFacts.version) {
    hint = fmt::format(
        " (the source runs Redis {}, the target {}: a target older than the source "
        "cannot read its DUMP format; use a target at least as new)",
        foreign(sourceFacts.version), foreign(targetFacts.version));
  }
  // FUNCTION RESTORE is all or nothing: refused, it leaves the target as
  // it was, so it goes before FLUSHDB.
  if (functions) {
    if (std::string failure = copyFunctions(target, *functions, hint, reporter); !failure.empty()) {
      return reporter.fail(failure + "; the target is as it was");
    }
  }
  auto before = dbSize(target, error);
  if (!before) return reporter.fail(error);
  // ASYNC frees the old keys in the background (Redis 4 and later).
  if (!call(target, {"FLUSHDB", "ASYNC"}, error) && !call(target, {"FLUSHDB"}, error)) {
    return reporter.fail(error);
  }
  if (*before > 0) {
    reporter.say(fmt::format("flushed {} ({})", target.endpoint().describe(),
                             counted(static_cast<uint64_t>(*before), "key", "keys")));
  }
  const auto ttlsBefore = keysWithTtl(source, source.endpoint().db, error);
  if (!ttlsBefore) return reporter.fail(error);

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
  if (std::string lost = missingKeys(writer, *copied, target.endpoint()); !lost.empty()) {
    return reporter.fail(lost);
  }
  reporter.say(copySummary(static_cast<uint64_t>(*copied), secondsSince(start)));
  if (uint64_t vanished = counters.vanished.load(); vanished > 0) {
    reporter.say(fmt::format("skipped {} that expired or were deleted during the copy",
                             counted(vanished, "key", "keys")));
  }
  if (*ttlsBefore == 0 && *ttlsAfter > 0) {
    reporter.progress(fmt::format(
        "redis-copy: warning: {} keys of the source got a TTL during the copy, which copied keys "
        "without one; compare, or copy again once writes have stopped",
        withThousands(static_cast<uint64_t>(*ttlsAfter))));
  }
  return 0;
}

}  // namespace mig::drivers::redis
