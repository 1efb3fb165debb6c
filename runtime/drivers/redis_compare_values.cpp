#include "runtime/drivers/redis_compare_values.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>
#include <set>
#include <utility>

#include "runtime/drivers/redis_common.h"

namespace mig::drivers::redis {
namespace {

const std::vector<TypeReader>& typeReaders() {
  static const std::vector<TypeReader> readers = {
      {"string", "STRLEN", {"GET"}},
      {"hash", "HLEN", {"HGETALL"}},
      {"list", "LLEN", {"LRANGE", "0", "-1"}},
      {"set", "SCARD", {"SMEMBERS"}},
      {"zset", "ZCARD", {"ZRANGE", "0", "-1", "WITHSCORES"}},
      // Entries, ids, consumer groups and their pending entries at once;
      // COUNT 0: all of them, not the first ten.
      {"stream", "XLEN", {"XINFO", "STREAM", "FULL", "COUNT", "0"}, 2},
  };
  return readers;
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
  if (reply.kind == Reply::Kind::kInteger) {
    out += ':';
    out += std::to_string(reply.integer);
    return;
  }
  out += reply.isNil() ? '_' : '$';
  appendLengthPrefixed(out, reply.text);
}

std::string canonical(const Reply& reply) {
  std::string out;
  appendCanonical(out, reply);
  return out;
}

/// A scalar of a reply as text for a message: "(nil)" for nil.
std::string scalar(const Reply& reply) {
  if (reply.kind == Reply::Kind::kInteger) return foreign(std::to_string(reply.integer));
  if (reply.isNil()) return "(nil)";
  if (reply.isArray()) return "(array)";
  return shown(reply.text);
}

/// Pairs of a flat [name, value, name, value...] reply (hashes, and the
/// maps of XINFO and FUNCTION LIST in RESP2).
std::vector<std::pair<std::string_view, const Reply*>> pairsOf(const Reply& reply) {
  std::vector<std::pair<std::string_view, const Reply*>> pairs;
  if (!reply.isArray()) return pairs;
  for (size_t i = 0; i + 1 < reply.elements.size(); i += 2) {
    pairs.emplace_back(reply.elements[i].text, &reply.elements[i + 1]);
  }
  return pairs;
}

/// The value of `name` in a flat map reply; nullptr when absent.
const Reply* field(const Reply& map, std::string_view name) {
  for (const auto& [key, value] : pairsOf(map)) {
    if (key == name) return value;
  }
  return nullptr;
}

/// The exact bits of a score as the server printed it: "-0" and "0" differ,
/// and two versions printing the same double differently ("0.1",
/// "0.10000000000000001") do not.
std::string scoreBits(const std::string& score) {
  char* end = nullptr;
  const double number = std::strtod(score.c_str(), &end);
  if (end != score.c_str() + score.size()) return "?" + score;
  char bits[sizeof number];
  std::memcpy(bits, &number, sizeof number);
  return std::string(bits, sizeof bits);
}

/// Members (fields) of a zset (hash) reply by name, with their scores (values).
std::map<std::string_view, std::string_view> byName(const Reply& reply) {
  std::map<std::string_view, std::string_view> members;
  for (const auto& [name, value] : pairsOf(reply)) members.emplace(name, value->text);
  return members;
}

/// The first member (field) that differs between two zsets (hashes), for
/// the message; "" when none does by name.
std::string firstDifferingMember(std::string_view type, const Reply& a, const Reply& b) {
  const auto inA = byName(a);
  const auto inB = byName(b);
  const std::string_view what = type == "zset" ? "member" : "field";
  for (const auto& [name, value] : inA) {
    auto other = inB.find(name);
    if (other == inB.end()) return fmt::format("{} {} only in a", what, shown(name));
    if (type == "zset" && scoreBits(std::string(value)) != scoreBits(std::string(other->second))) {
      return fmt::format("member {}: score {} in a, {} in b", shown(name), foreign(value),
                         foreign(other->second));
    }
    if (type == "hash" && value != other->second) {
      return fmt::format("field {} differs", shown(name));
    }
  }
  for (const auto& [name, value] : inB) {
    if (!inA.contains(name)) return fmt::format("{} {} only in b", what, shown(name));
  }
  return "";
}

/// A key's value in a form that does not depend on how the server stores
/// it: hash fields and set members sorted, zset scores as exact doubles.
std::string canonicalValue(std::string_view type, const Reply& value) {
  std::string out;
  if (type == "hash" && value.isArray()) {
    auto fields = pairsOf(value);
    std::sort(fields.begin(), fields.end(),
              [](const auto& left, const auto& right) { return left.first < right.first; });
    for (const auto& [name, content] : fields) {
      appendLengthPrefixed(out, name);
      appendLengthPrefixed(out, content->text);
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
    for (const auto& [member, score] : pairsOf(value)) {
      appendLengthPrefixed(out, member);
      appendLengthPrefixed(out, scoreBits(score->text));
    }
    return out;
  }
  appendCanonical(out, value);
  return out;
}

// ---------------------------------------------------------------------------
// Streams, from XINFO STREAM key FULL COUNT 0

struct PendingEntry {
  std::string consumer;
  int64_t deliveries = 0;
};

struct GroupState {
  const Reply* fields = nullptr;
  std::map<std::string, PendingEntry> pending;  ///< by entry id
  std::set<std::string> consumers;
};

/// The stream's own fields compared, in this order; a field only one
/// server reports (an older Redis) is not compared. Lengths, radix tree
/// sizes, lag and the first entry's id follow from what is compared.
constexpr std::string_view kStreamFields[] = {"last-generated-id", "max-deleted-entry-id",
                                              "entries-added"};
constexpr std::string_view kGroupFields[] = {"last-delivered-id", "entries-read"};

std::map<std::string, GroupState> groupsOf(const Reply& stream) {
  std::map<std::string, GroupState> groups;
  const Reply* list = field(stream, "groups");
  if (list == nullptr) return groups;
  for (const Reply& group : list->elements) {
    const Reply* name = field(group, "name");
    if (name == nullptr) continue;
    GroupState& state = groups[name->text];
    state.fields = &group;
    if (const Reply* pending = field(group, "pending")) {
      // [id, consumer, delivery time, delivery count]
      for (const Reply& entry : pending->elements) {
        if (entry.elements.size() < 4) continue;
        state.pending[entry.elements[0].text] = {entry.elements[1].text, entry.elements[3].integer};
      }
    }
    if (const Reply* consumers = field(group, "consumers")) {
      for (const Reply& consumer : consumers->elements) {
        if (const Reply* consumerName = field(consumer, "name")) {
          state.consumers.insert(consumerName->text);
        }
      }
    }
  }
  return groups;
}

/// "`name` X in a, Y in b" for each of `names` both maps have and differ in.
void compareFields(const Reply& a, const Reply& b, std::span<const std::string_view> names,
                   const std::string& prefix, std::vector<std::string>& out) {
  for (std::string_view name : names) {
    const Reply* inA = field(a, name);
    const Reply* inB = field(b, name);
    if (inA == nullptr || inB == nullptr || canonical(*inA) == canonical(*inB)) continue;
    out.push_back(fmt::format("{}{} {} in a, {} in b", prefix, name, scalar(*inA), scalar(*inB)));
  }
}

void compareGroup(const std::string& name, const GroupState& a, const GroupState& b,
                  std::vector<std::string>& out) {
  const std::string prefix = fmt::format("group {}: ", shown(name));
  compareFields(*a.fields, *b.fields, kGroupFields, prefix, out);
  for (const std::string& consumer : a.consumers) {
    if (!b.consumers.contains(consumer)) {
      out.push_back(fmt::format("{}consumer {} only in a", prefix, shown(consumer)));
    }
  }
  for (const std::string& consumer : b.consumers) {
    if (!a.consumers.contains(consumer)) {
      out.push_back(fmt::format("{}consumer {} only in b", prefix, shown(consumer)));
    }
  }
  for (const auto& [id, entry] : a.pending) {
    auto other = b.pending.find(id);
    if (other == b.pending.end()) {
      out.push_back(fmt::format("{}pending entry {} only in a", prefix, shown(id)));
      continue;
    }
    if (entry.consumer != other->second.consumer) {
      out.push_back(fmt::format("{}pending entry {}: consumer {} in a, {} in b", prefix, shown(id),
                                shown(entry.consumer), shown(other->second.consumer)));
    }
    if (entry.deliveries != other->second.deliveries) {
      out.push_back(fmt::format("{}pending entry {}: delivery count {} in a, {} in b", prefix,
                                shown(id), foreign(std::to_string(entry.deliveries)),
                                foreign(std::to_string(other->second.deliveries))));
    }
  }
  for (const auto& [id, entry] : b.pending) {
    if (!a.pending.contains(id)) {
      out.push_back(fmt::format("{}pending entry {} only in b", prefix, shown(id)));
    }
  }
}

std::vector<std::string> streamDifferences(const Reply& a, const Reply& b) {
  std::vector<std::string> out;
  const Reply* entriesA = field(a, "entries");
  const Reply* entriesB = field(b, "entries");
  if (entriesA == nullptr || entriesB == nullptr || canonical(*entriesA) != canonical(*entriesB)) {
    out.emplace_back("different entries");
  }
  compareFields(a, b, kStreamFields, "", out);
  const auto groupsA = groupsOf(a);
  const auto groupsB = groupsOf(b);
  for (const auto& [name, group] : groupsA) {
    auto other = groupsB.find(name);
    if (other == groupsB.end()) {
      out.push_back(fmt::format("group {} only in a", shown(name)));
      continue;
    }
    compareGroup(name, group, other->second, out);
  }
  for (const auto& [name, group] : groupsB) {
    if (!groupsA.contains(name)) out.push_back(fmt::format("group {} only in b", shown(name)));
  }
  return out;
}

// ---------------------------------------------------------------------------
// Function libraries, from FUNCTION LIST WITHCODE

/// Each library's engine and code by name; the code defines its functions
/// and their flags.
std::map<std::string, std::string> libraries(const Reply& list) {
  std::map<std::string, std::string> byName;
  for (const Reply& library : list.elements) {
    const Reply* name = field(library, "library_name");
    const Reply* engine = field(library, "engine");
    const Reply* code = field(library, "library_code");
    if (name == nullptr) continue;
    byName[name->text] = (engine ? canonical(*engine) : "") + (code ? canonical(*code) : "");
  }
  return byName;
}

}  // namespace

const TypeReader& readerFor(std::string_view type) {
  static const TypeReader dump = {"", "", {"DUMP"}};
  for (const TypeReader& reader : typeReaders()) {
    if (reader.type == type) return reader;
  }
  return dump;
}

std::vector<std::string> valueDifferences(std::string_view type, const Reply& a, const Reply& b) {
  if (type == "stream") return streamDifferences(a, b);
  if (canonicalValue(type, a) == canonicalValue(type, b)) return {};
  if (type == "zset" || type == "hash") {
    const std::string detail = firstDifferingMember(type, a, b);
    if (!detail.empty()) return {fmt::format("different values ({})", detail)};
  }
  return {"different values"};
}

std::vector<std::string> functionDifferences(const Reply& a, const Reply& b) {
  std::vector<std::string> out;
  const auto inA = libraries(a);
  const auto inB = libraries(b);
  for (const auto& [name, code] : inA) {
    auto other = inB.find(name);
    if (other == inB.end()) {
      out.push_back(fmt::format("function library {} only in a", shown(name)));
    } else if (code != other->second) {
      out.push_back(fmt::format("function library {}: different code", shown(name)));
    }
  }
  for (const auto& [name, code] : inB) {
    if (!inA.contains(name)) {
      out.push_back(fmt::format("function library {} only in b", shown(name)));
    }
  }
  return out;
}

size_t functionLibraryCount(const Reply& list) {
  return list.elements.size();
}

}  // namespace mig::drivers::redis
