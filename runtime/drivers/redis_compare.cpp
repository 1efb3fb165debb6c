// redis-compare: two Redis databases, key by key.

#include <fmt/format.h>

#include <algorithm>
#include <functional>
#include <span>

#include "runtime/drivers/redis_common.h"

namespace mig::drivers::redis {
namespace {

/// Roughly how many bytes of values one comparison round trip may fetch.
constexpr int64_t kCompareFetchBudget = 64 * 1024 * 1024;
/// Differences listed one by one before only counting them.
constexpr size_t kListedDifferences = 20;

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
    return failWith(fmt::format("{} of key {} on {} failed: {}", command, printable(key),
                                connection.endpoint().address(), reply.text));
  }

  /// Lists the first differences, counts the rest; `format` has one {} for
  /// the key.
  void difference(std::string_view key, fmt::format_string<std::string> format) {
    ++differences_;
    if (differences_ <= kListedDifferences) reporter_.say(fmt::format(format, printable(key)));
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
              fmt::format("key {}: type {} in a, {} in b", printable(keys[i]), typeA, typeB));
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

}  // namespace
}  // namespace mig::drivers::redis

namespace mig::drivers {

// redis-compare: see the file comment and stdlib/std/redis.mig.
int redisCompare(const DriverArgs& args, std::ostream& out, std::ostream& err) {
  using namespace redis;
  Reporter reporter("redis-compare", out, err);
  if (!onlyKnownOptions(args, {"a", "b"}, reporter)) return 2;
  auto aUrl = args.require("a", err);
  auto bUrl = args.require("b", err);
  if (!aUrl || !bUrl) return 2;
  std::string error;
  auto aEndpoint = parseUrl(*aUrl, error);
  if (!aEndpoint) return reporter.fail("--a: " + error, 2);
  auto bEndpoint = parseUrl(*bUrl, error);
  if (!bEndpoint) return reporter.fail("--b: " + error, 2);

  const Password aPassword = passwordFromEnvironment("MIG_A_PASSWORD");
  const Password bPassword = passwordFromEnvironment("MIG_B_PASSWORD");
  reporter.addSecret(aPassword.value);
  reporter.addSecret(bPassword.value);
  auto a = openEndpoint(*aEndpoint, aPassword, error);
  if (!a) return reporter.fail(error);
  auto b = openEndpoint(*bEndpoint, bPassword, error);
  if (!b) return reporter.fail(error);

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

}  // namespace mig::drivers
