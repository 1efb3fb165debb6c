// redis-compare: two Redis databases, key by key, and the two servers'
// function libraries.
//
// Every key SCAN finds in a is looked up in b (type, TTL, then the value
// where the types agree); then every key SCAN finds in b is looked up in a,
// to find the keys only b has. Keys are counted as the scans find them, not
// by DBSIZE, which also counts keys that expired but were not yet
// reclaimed. A key that is gone by the time it is compared, or that is
// missing on one side while the other side's copy has at most the TTL
// tolerance left to live, expired during the comparison: it is counted
// apart, not as a difference. Each batch takes three rounds (type and TTL,
// lengths, values); a reply of a later round that may be a key gone since
// (a length of 0, nil, an empty collection, "no such key") has the key
// looked up again on both sides and judged as in the first. Remaining TTLs agree when they are
// within the tolerance of each other; a key with a TTL on one side and none on the other always
// differs.

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <functional>
#include <span>

#include "runtime/drivers/redis_common.h"
#include "runtime/drivers/redis_compare_values.h"
#include "runtime/drivers/text.h"

namespace mig::drivers::redis {
namespace {

/// Roughly how many bytes of values one comparison round trip may fetch.
constexpr int64_t kCompareFetchBudget = 64 * 1024 * 1024;
/// Differences listed one by one before only counting them.
constexpr size_t kListedDifferences = 20;
/// How far apart two remaining TTLs of one key may be without a message.
constexpr int64_t kDefaultTtlToleranceMs = 5000;


/// A tolerance as the option spells it: "5s", "250ms".
std::string toleranceText(int64_t ms) {
  return ms % 1000 == 0 ? fmt::format("{}s", ms / 1000) : fmt::format("{}ms", ms);
}

/// A remaining TTL: "599.998s".
std::string ttlText(int64_t ms) {
  return fmt::format("{}.{:03}s", ms / 1000, ms % 1000);
}

void appendCommand(Connection& connection, const TypeReader& reader, std::string_view key) {
  std::vector<std::string_view> args(reader.read.begin(), reader.read.end());
  args.insert(args.begin() + static_cast<std::ptrdiff_t>(reader.keyAt), key);
  connection.append(std::span<const std::string_view>(args));
}

/// Reads `count` replies into `replies` (storage reused).
bool readReplies(Connection& connection, size_t count, std::vector<Reply>& replies) {
  replies.resize(count);
  for (Reply& reply : replies) {
    if (!connection.read(reply)) return false;
  }
  return true;
}

/// Compares database a with database b, batch by batch.
class Comparison {
 public:
  Comparison(Connection& a, Connection& b, int64_t ttlToleranceMs, Reporter& reporter)
      : a_(a), b_(b), ttlToleranceMs_(ttlToleranceMs), reporter_(reporter) {}

  /// The function libraries of both servers; a server without functions
  /// (before Redis 7) has none. False (with `error()`) when a server failed.
  bool compareFunctions() {
    Reply lists[2];
    for (int side : {0, 1}) {
      Connection& connection = side == 0 ? a_ : b_;
      auto reply = connection.command({"FUNCTION", "LIST", "WITHCODE"});
      if (!reply) return failWith(connection.error());
      if (unknownCommand(*reply)) {
        lists[side].kind = Reply::Kind::kArray;
        continue;
      }
      if (!check(*reply, connection, "FUNCTION LIST", "")) return false;
      lists[side] = std::move(*reply);
    }
    libraries_ = functionLibraryCount(lists[0]);
    for (const std::string& difference : functionDifferences(lists[0], lists[1])) {
      report(difference);
    }
    return true;
  }

  /// Every key of a against b.
  bool compareKeysOfA() {
    return scan(a_, [&](std::vector<std::string>& keys) { return compareBatch(keys); });
  }

  /// Names the keys of b that a lacks.
  bool findKeysOnlyInB() {
    return scan(b_, [&](std::vector<std::string>& keys) {
      for (const std::string& key : keys) a_.append({"EXISTS", key});
      for (const std::string& key : keys) b_.append({"PTTL", key});
      if (!exchange(keys.size())) return false;
      for (size_t i = 0; i < keys.size(); ++i) {
        if (!check(replies_[0][i], a_, "EXISTS", keys[i]) ||
            !check(replies_[1][i], b_, "PTTL", keys[i])) {
          return false;
        }
        if (replies_[0][i].integer == 1) continue;  // compared with the keys of a
        if (expiring(replies_[1][i].integer)) {
          ++expired_;
          continue;
        }
        ++keysInB_;
        report(fmt::format("key {} only in b", shown(keys[i])));
      }
      return true;
    });
  }

  uint64_t differences() const { return differences_; }
  uint64_t keysInA() const { return keysInA_; }
  uint64_t keysInB() const { return keysInB_; }
  uint64_t expired() const { return expired_; }
  size_t libraries() const { return libraries_; }
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
    if (key.empty()) return failWith(commandFailed(command, connection, reply));
    return failWith(fmt::format("{} of key {} on {} failed: {}", command, shown(key),
                                connection.endpoint().address(), foreign(reply.text)));
  }

  /// Lists the first differences, counts the rest.
  void report(const std::string& line) {
    ++differences_;
    if (differences_ <= kListedDifferences) reporter_.say(line);
  }

  /// Gone (-2), or with at most the tolerance left to live: the other
  /// side's copy may have expired a moment earlier.
  bool expiring(int64_t ttl) const { return ttl == -2 || (ttl >= 0 && ttl <= ttlToleranceMs_); }

  /// False when the scan or `batch` failed (and said why).
  bool scan(Connection& connection, const std::function<bool(std::vector<std::string>&)>& batch) {
    bool stopped = false;
    std::string error = scanAll(connection, [&](std::vector<std::string>& keys) {
      stopped = !batch(keys);
      return !stopped;
    });
    if (!error.empty()) return failWith(std::move(error));
    return !stopped;
  }

  /// Sends what is queued on both servers and reads `count` replies from
  /// each into replies_[0] (a) and replies_[1] (b).
  bool exchange(size_t count) {
    if (!a_.flush()) return failWith(a_.error());
    if (!b_.flush()) return failWith(b_.error());
    if (!readReplies(a_, count, replies_[0])) return failWith(a_.error());
    if (!readReplies(b_, count, replies_[1])) return failWith(b_.error());
    return true;
  }

  /// The TTL differences of one key present on both sides.
  void compareTtls(std::string_view key, int64_t ttlA, int64_t ttlB) {
    if (ttlA < 0 && ttlB < 0) return;
    if (ttlA < 0 || ttlB < 0) {
      report(fmt::format("key {}: {} in a, {} in b", shown(key),
                         ttlA < 0 ? "no ttl" : "ttl " + ttlText(ttlA),
                         ttlB < 0 ? "no ttl" : "ttl " + ttlText(ttlB)));
      return;
    }
    if (std::abs(ttlA - ttlB) > ttlToleranceMs_) {
      report(fmt::format("key {}: ttl {} in a, ttl {} in b, more than {} apart", shown(key),
                         ttlText(ttlA), ttlText(ttlB), toleranceText(ttlToleranceMs_)));
    }
  }

  /// One SCAN batch of a: type and TTL on both sides, then lengths where
  /// cheap, then the values of the keys whose lengths agree.
  bool compareBatch(const std::vector<std::string>& keys) {
    std::vector<KeyPair> same;
    std::vector<KeyPair> fetch;
    if (!compareTypesAndTtls(keys, same) || !compareLengths(same, fetch)) return false;
    // The values, a few megabytes per round trip.
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

  /// Round 1: the keys present on both sides with one type go to `same`.
  bool compareTypesAndTtls(const std::vector<std::string>& keys, std::vector<KeyPair>& same) {
    for (Connection* side : {&a_, &b_}) {
      for (const std::string& key : keys) {
        side->append({"TYPE", key});
        side->append({"PTTL", key});
      }
    }
    if (!exchange(2 * keys.size())) return false;
    for (auto& types : types_) {
      types.clear();
      types.reserve(keys.size());  // `same` points into it
    }
    for (size_t i = 0; i < keys.size(); ++i) {
      int64_t ttls[2];
      for (int side : {0, 1}) {
        Connection& connection = side == 0 ? a_ : b_;
        if (!check(replies_[side][2 * i], connection, "TYPE", keys[i]) ||
            !check(replies_[side][2 * i + 1], connection, "PTTL", keys[i])) {
          return false;
        }
        ttls[side] = replies_[side][2 * i + 1].integer;
        // A key that expires between TYPE and PTTL is gone too.
        types_[side].push_back(ttls[side] == -2 ? "none" : std::move(replies_[side][2 * i].text));
      }
      const std::string& typeA = types_[0].back();
      const std::string& typeB = types_[1].back();
      if (typeA == "none" || (typeB == "none" && expiring(ttls[0]))) {
        ++expired_;  // expired (or deleted) since SCAN found it
        continue;
      }
      ++keysInA_;
      if (typeB == "none") {
        report(fmt::format("key {} only in a", shown(keys[i])));
        continue;
      }
      ++keysInB_;
      if (typeA != typeB) {
        report(fmt::format("key {}: type {} in a, {} in b", shown(keys[i]), foreign(typeA),
                           foreign(typeB)));
        continue;
      }
      compareTtls(keys[i], ttls[0], ttls[1]);
      same.push_back({keys[i], typeA});
    }
    return true;
  }

  /// Round 2: lengths, where cheap; different lengths are different
  /// values. The keys to fetch go to `fetch`, weighed.
  bool compareLengths(std::vector<KeyPair>& same, std::vector<KeyPair>& fetch) {
    for (Connection* side : {&a_, &b_}) {
      for (const KeyPair& pair : same) {
        const TypeReader& reader = readerFor(pair.type);
        if (!reader.length.empty()) side->append({reader.length, pair.key});
      }
    }
    size_t lengths = 0;
    for (const KeyPair& pair : same) lengths += readerFor(pair.type).length.empty() ? 0 : 1;
    if (!exchange(lengths)) return false;
    std::vector<KeyPair> differing;
    std::vector<std::pair<int64_t, int64_t>> differingLengths;
    size_t at = 0;
    for (KeyPair& pair : same) {
      const TypeReader& reader = readerFor(pair.type);
      if (reader.length.empty()) {
        fetch.push_back(pair);
        continue;
      }
      const Reply& lengthA = replies_[0][at];
      const Reply& lengthB = replies_[1][at];
      ++at;
      if (!check(lengthA, a_, reader.length, pair.key) ||
          !check(lengthB, b_, reader.length, pair.key)) {
        return false;
      }
      if (lengthA.integer != lengthB.integer) {
        differing.push_back(pair);
        differingLengths.emplace_back(lengthA.integer, lengthB.integer);
        continue;
      }
      // Strings weigh their bytes; collection elements some 32 bytes each.
      pair.weight =
          std::max<int64_t>(1, pair.type == "string" ? lengthA.integer : lengthA.integer * 32);
      fetch.push_back(pair);
    }
    // A length of 0 may be a key that expired since round 1.
    std::vector<size_t> suspects;
    for (size_t i = 0; i < differing.size(); ++i) {
      if (differingLengths[i].first == 0 || differingLengths[i].second == 0) suspects.push_back(i);
    }
    std::vector<bool> vanished(differing.size(), false);
    if (!recheck(differing, suspects, vanished)) return false;
    for (size_t i = 0; i < differing.size(); ++i) {
      if (vanished[i]) continue;
      report(fmt::format("key {}: different {} (length {} in a, {} in b)", shown(differing[i].key),
                         differing[i].type == "stream" ? "entries" : "values",
                         differingLengths[i].first, differingLengths[i].second));
    }
    return true;
  }

  /// Whether a value reply may be that of a key gone since round 1: nil,
  /// an empty collection (Redis deletes empty ones), "no such key".
  static bool maybeGone(std::string_view type, const Reply& reply) {
    if (reply.isNil()) return true;
    if (reply.isError()) return reply.text.find("no such key") != std::string::npos;
    return reply.isArray() && reply.elements.empty() && type != "stream";
  }

  /// Round 3: the values.
  bool compareValues(std::span<const KeyPair> pairs) {
    for (Connection* side : {&a_, &b_}) {
      for (const KeyPair& pair : pairs) appendCommand(*side, readerFor(pair.type), pair.key);
    }
    if (!exchange(pairs.size())) return false;
    std::vector<size_t> suspects;
    for (size_t i = 0; i < pairs.size(); ++i) {
      if (maybeGone(pairs[i].type, replies_[0][i]) || maybeGone(pairs[i].type, replies_[1][i])) {
        suspects.push_back(i);
      }
    }
    // The rechecks read into replies_: the suspects' replies are kept apart.
    std::vector<Reply> suspectReplies[2];
    for (size_t i : suspects) {
      for (int side : {0, 1}) suspectReplies[side].push_back(std::move(replies_[side][i]));
    }
    for (size_t i = 0, next = 0; i < pairs.size(); ++i) {
      if (next < suspects.size() && suspects[next] == i) {
        ++next;
        continue;
      }
      if (!compareValue(pairs[i], replies_[0][i], replies_[1][i])) return false;
    }
    std::vector<bool> vanished(pairs.size(), false);
    if (!recheck(pairs, suspects, vanished)) return false;
    for (size_t n = 0; n < suspects.size(); ++n) {
      if (vanished[suspects[n]]) continue;
      if (!compareValue(pairs[suspects[n]], suspectReplies[0][n], suspectReplies[1][n])) {
        return false;
      }
    }
    return true;
  }

  bool compareValue(const KeyPair& pair, const Reply& a, const Reply& b) {
    const TypeReader& reader = readerFor(pair.type);
    const std::string command = reader.keyAt == 1
                                    ? std::string(reader.read[0])
                                    : fmt::format("{} {}", reader.read[0], reader.read[1]);
    if (!check(a, a_, command, pair.key) || !check(b, b_, command, pair.key)) return false;
    for (const std::string& difference : valueDifferences(pair.type, a, b)) {
      report(fmt::format("key {}: {}", shown(pair.key), difference));
    }
    return true;
  }

  /// Asks both sides again about `pairs[i]` for each i of `suspects`: keys
  /// found on both sides in round 1 whose later replies say one side lost
  /// them. One gone from a, or gone from b while a's has at most the
  /// tolerance left to live, expired during the comparison, as round 1
  /// judges it: counted apart, and `vanished[i]` set. One gone from b only
  /// is only in a: reported, and `vanished[i]` set. Keys still on both
  /// sides are left to the caller.
  template <typename Pairs>
  bool recheck(const Pairs& pairs, const std::vector<size_t>& suspects,
               std::vector<bool>& vanished) {
    if (suspects.empty()) return true;
    for (Connection* side : {&a_, &b_}) {
      for (size_t i : suspects) side->append({"PTTL", pairs[i].key});
    }
    if (!exchange(suspects.size())) return false;
    for (size_t n = 0; n < suspects.size(); ++n) {
      const std::string_view key = pairs[suspects[n]].key;
      if (!check(replies_[0][n], a_, "PTTL", key) || !check(replies_[1][n], b_, "PTTL", key)) {
        return false;
      }
      const int64_t ttlA = replies_[0][n].integer;
      const int64_t ttlB = replies_[1][n].integer;
      if (ttlA != -2 && ttlB != -2) continue;
      vanished[suspects[n]] = true;
      --keysInB_;
      if (expiring(ttlA)) {
        --keysInA_;
        ++expired_;
        continue;
      }
      report(fmt::format("key {} only in a", shown(key)));
    }
    return true;
  }

  Connection& a_;
  Connection& b_;
  int64_t ttlToleranceMs_;
  Reporter& reporter_;
  std::vector<Reply> replies_[2];
  std::vector<std::string> types_[2];
  uint64_t differences_ = 0;
  uint64_t keysInA_ = 0;
  uint64_t keysInB_ = 0;
  uint64_t expired_ = 0;
  size_t libraries_ = 0;
  std::string error_;
};

}  // namespace
}  // namespace mig::drivers::redis

namespace mig::drivers {

// redis-compare: see the file comment and stdlib/std/redis.mig.
int redisCompare(const DriverArgs& args, std::ostream& out, std::ostream& err) {
  using namespace redis;
  Reporter reporter("redis-compare", out, err);
  if (!onlyKnownOptions(args, {"a", "b", "ttl-tolerance"}, reporter)) return 2;
  auto aUrl = args.require("a", err);
  auto bUrl = args.require("b", err);
  if (!aUrl || !bUrl) return 2;
  int64_t tolerance = kDefaultTtlToleranceMs;
  if (auto it = args.options.find("ttl-tolerance"); it != args.options.end()) {
    auto parsed = text::parseMilliseconds(it->second);
    if (!parsed) {
      return reporter.fail(
          fmt::format("--ttl-tolerance takes a duration such as 500ms, 5s, 2m or 1h, not '{}'",
                      it->second),
          2);
    }
    tolerance = *parsed;
  }
  std::string error;
  auto aEndpoint = parseUrl(*aUrl, error);
  if (!aEndpoint) return reporter.fail("--a: " + error, 2);
  auto bEndpoint = parseUrl(*bUrl, error);
  if (!bEndpoint) return reporter.fail("--b: " + error, 2);

  const Password aPassword = passwordFromEnvironment("MIG_A_PASSWORD");
  const Password bPassword = passwordFromEnvironment("MIG_B_PASSWORD");
  reporter.addSecret(aPassword.value);
  reporter.addSecret(bPassword.value);
  reporter.addEndpoint(*aEndpoint);
  reporter.addEndpoint(*bEndpoint);
  auto a = openEndpoint(*aEndpoint, aPassword, error);
  if (!a) return reporter.fail(error);
  auto b = openEndpoint(*bEndpoint, bPassword, error);
  if (!b) return reporter.fail(error);
  auto aFacts = serverFacts(*a, error);
  auto bFacts = aFacts ? serverFacts(*b, error) : std::nullopt;
  if (!bFacts) return reporter.fail(error);
  if (std::string same = sameDatabase(*aEndpoint, *aFacts, *bEndpoint, *bFacts); !same.empty()) {
    return reporter.fail(same + ": a database compared with itself is always equal");
  }

  const auto start = Clock::now();
  Comparison comparison(*a, *b, tolerance, reporter);
  if (!comparison.compareFunctions() || !comparison.compareKeysOfA() ||
      !comparison.findKeysOnlyInB()) {
    return reporter.fail(comparison.error());
  }
  const uint64_t differences = comparison.differences();
  const std::string names =
      fmt::format("{} (a) and {} (b)", aEndpoint->describe(), bEndpoint->describe());
  const std::string expired =
      counted(comparison.expired(), "key", "keys") + " expired while compared, not counted";
  if (differences == 0) {
    reporter.say(
        fmt::format("equal: {} (as SCAN finds them) in {}, same types, values, stream groups and "
                    "ttls (within {}); same "
                    "function libraries ({}); {} ({})",
                    counted(comparison.keysInA(), "key", "keys"), names, toleranceText(tolerance),
                    comparison.libraries(), expired, duration(secondsSince(start))));
    return 0;
  }
  if (differences > kListedDifferences) {
    reporter.say(fmt::format("... and {} more differences",
                             withThousands(differences - kListedDifferences)));
  }
  reporter.say(
      fmt::format("a has {}, b has {} (as SCAN finds them: keys whose TTL ran out are "
                  "not counted, though DBSIZE may still count them); {}",
                  counted(comparison.keysInA(), "key", "keys"),
                  counted(comparison.keysInB(), "key", "keys"), expired));
  reporter.say(fmt::format("{} {} between {}", withThousands(differences),
                           differences == 1 ? "difference" : "differences", names));
  return 1;
}

}  // namespace mig::drivers
