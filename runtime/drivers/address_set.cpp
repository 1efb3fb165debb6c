#include "runtime/drivers/address_set.h"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <limits>

#include "runtime/drivers/text.h"

namespace mig::drivers {
namespace {

using Bytes = std::array<uint8_t, 16>;

uint64_t saturatingAdd(uint64_t a, uint64_t b) {
  return a > std::numeric_limits<uint64_t>::max() - b ? std::numeric_limits<uint64_t>::max()
                                                      : a + b;
}

/// Collects the maximal ranges of one family's trie, in order, up to a limit.
class RangeWalk {
 public:
  RangeWalk(int family, size_t limit, std::vector<std::string>& out)
      : family_(family), depth_(family == AF_INET ? 4 : 16), limit_(limit), out_(out) {}

  /// Walks `node` at `level`, the bytes before it in `prefix_`.
  template <typename ChildOf>
  void walk(uint32_t node, int level, const ChildOf& childOf) {
    if (done() || node == AddressSpace::kNone) return;
    if (node == AddressSpace::kAll) {
      Bytes low = prefix_;
      Bytes high = prefix_;
      for (int at = level; at < depth_; ++at) {
        low[at] = 0;
        high[at] = 0xff;
      }
      add(low, high);
      return;
    }
    for (int byte = 0; byte < 256 && !done(); ++byte) {
      prefix_[level] = static_cast<uint8_t>(byte);
      walk(childOf(node, byte), level + 1, childOf);
    }
  }

  /// Writes out the range still open.
  void finish() {
    if (open_ && out_.size() < limit_) out_.push_back(rangeText(start_, end_));
    open_ = false;
  }

 private:
  bool done() const { return out_.size() >= limit_; }

  void add(const Bytes& low, const Bytes& high) {
    if (open_ && follows(end_, low)) {
      end_ = high;
      return;
    }
    finish();
    if (done()) return;
    open_ = true;
    start_ = low;
    end_ = high;
  }

  /// Whether `next` is the address right after `last`.
  bool follows(Bytes last, const Bytes& next) const {
    for (int at = depth_ - 1; at >= 0; --at) {
      if (++last[at] != 0) return last == next;
    }
    return false;  // `last` was the highest address
  }

  std::string addressText(const Bytes& bytes) const {
    std::array<char, INET6_ADDRSTRLEN> buffer{};
    ::inet_ntop(family_, bytes.data(), buffer.data(), buffer.size());
    return buffer.data();
  }

  /// "10.0.0.7", "10.0.0.0/24" or "10.0.1.0-10.0.3.255".
  std::string rangeText(const Bytes& low, const Bytes& high) const {
    const int bits = depth_ * 8;
    auto bit = [](const Bytes& bytes, int at) { return (bytes[at / 8] >> (7 - at % 8)) & 1; };
    int prefix = 0;
    while (prefix < bits && bit(low, prefix) == bit(high, prefix)) ++prefix;
    bool cidr = true;
    for (int at = prefix; at < bits; ++at) cidr = cidr && bit(low, at) == 0 && bit(high, at) == 1;
    if (prefix == bits) return addressText(low);
    if (cidr) return fmt::format("{}/{}", addressText(low), prefix);
    return fmt::format("{}-{}", addressText(low), addressText(high));
  }

  int family_;
  int depth_;
  size_t limit_;
  std::vector<std::string>& out_;
  Bytes prefix_{};
  bool open_ = false;
  Bytes start_{};
  Bytes end_{};
};

}  // namespace

size_t AddressSpace::ChildrenHash::operator()(const Children& children) const {
  uint64_t hash = 1469598103934665603ull;
  for (uint32_t id : children) hash = (hash ^ id) * 1099511628211ull;
  return static_cast<size_t>(hash);
}

AddressSpace::AddressSpace() : nodes_(2) {}

uint32_t AddressSpace::child(uint32_t node, int byte) const {
  return node == kNone || node == kAll ? node : nodes_[node][static_cast<size_t>(byte)];
}

uint32_t AddressSpace::node(const Children& children) {
  bool none = true;
  bool all = true;
  for (uint32_t id : children) {
    none = none && id == kNone;
    all = all && id == kAll;
  }
  if (none) return kNone;
  if (all) return kAll;
  auto [it, added] = ids_.try_emplace(children, static_cast<uint32_t>(nodes_.size()));
  if (added) nodes_.push_back(children);
  return it->second;
}

uint32_t AddressSpace::prefixNode(const Network& network, int level) {
  const int bitsHere = network.prefix - level * 8;
  if (bitsHere <= 0) return kAll;
  Children children{};
  const uint8_t byte = network.bytes[static_cast<size_t>(level)];
  if (bitsHere >= 8) {
    children[byte] = prefixNode(network, level + 1);
    return node(children);
  }
  const int mask = (0xff << (8 - bitsHere)) & 0xff;
  for (int value = 0; value < 256; ++value) {
    if ((value & mask) == (byte & mask)) children[static_cast<size_t>(value)] = kAll;
  }
  return node(children);
}

AddressSet AddressSpace::network(const Network& network) {
  AddressSet set;
  (network.family == AF_INET ? set.ipv4 : set.ipv6) = prefixNode(network, 0);
  return set;
}

AddressSet AddressSpace::unite(AddressSet a, AddressSet b) {
  return {unite(a.ipv4, b.ipv4), unite(a.ipv6, b.ipv6)};
}

AddressSet AddressSpace::subtract(AddressSet a, AddressSet b) {
  return {subtract(a.ipv4, b.ipv4), subtract(a.ipv6, b.ipv6)};
}

uint32_t AddressSpace::unite(uint32_t a, uint32_t b) {
  if (a == kNone || a == b) return b;
  if (b == kNone) return a;
  if (a == kAll || b == kAll) return kAll;
  if (a > b) std::swap(a, b);
  const uint64_t key = (static_cast<uint64_t>(a) << 32) | b;
  if (auto it = united_.find(key); it != united_.end()) return it->second;
  Children children{};
  for (int byte = 0; byte < 256; ++byte) {
    children[static_cast<size_t>(byte)] = unite(child(a, byte), child(b, byte));
  }
  return united_[key] = node(children);
}

uint32_t AddressSpace::subtract(uint32_t a, uint32_t b) {
  if (a == kNone || b == kAll || a == b) return kNone;
  if (b == kNone) return a;
  const uint64_t key = (static_cast<uint64_t>(a) << 32) | b;
  if (auto it = subtracted_.find(key); it != subtracted_.end()) return it->second;
  Children children{};
  for (int byte = 0; byte < 256; ++byte) {
    children[static_cast<size_t>(byte)] = subtract(child(a, byte), child(b, byte));
  }
  return subtracted_[key] = node(children);
}

AddressSpace::RangeShape AddressSpace::shape(uint32_t id) {
  if (id == kNone) return {};
  if (id == kAll) return {1, true, true};
  if (auto it = shapes_.find(id); it != shapes_.end()) return it->second;
  RangeShape whole;
  RangeShape previous;
  for (int byte = 0; byte < 256; ++byte) {
    RangeShape part = shape(child(id, byte));
    if (byte == 0) whole.low = part.low;
    // A range running across the boundary of two children counts once.
    uint64_t joined = previous.high && part.low ? 1 : 0;
    if (whole.count != std::numeric_limits<uint64_t>::max()) whole.count -= joined;
    whole.count = saturatingAdd(whole.count, part.count);
    previous = part;
  }
  whole.high = previous.high;
  return shapes_[id] = whole;
}

std::vector<std::string> AddressSpace::ranges(AddressSet set, size_t limit) {
  std::vector<std::string> out;
  auto childOf = [this](uint32_t node, int byte) { return child(node, byte); };
  for (auto [family, root] : {std::pair{AF_INET, set.ipv4}, std::pair{AF_INET6, set.ipv6}}) {
    RangeWalk walk(family, limit, out);
    walk.walk(root, 0, childOf);
    walk.finish();
  }
  return out;
}

uint64_t AddressSpace::rangeCount(AddressSet set) {
  return saturatingAdd(shape(set.ipv4).count, shape(set.ipv6).count);
}

std::string AddressSpace::describe(AddressSet set, size_t limit) {
  if (set == every()) return "every address";
  if (set == none()) return "none";
  std::vector<std::string> shown = ranges(set, limit);
  std::string text = text::joined(shown, ", ");
  const uint64_t count = rangeCount(set);
  if (count > shown.size()) {
    const uint64_t more = count - shown.size();
    text += more > static_cast<uint64_t>(std::numeric_limits<long long>::max())
                ? " and more ranges"
                : fmt::format(" and {}", text::counted(static_cast<long long>(more), "more range"));
  }
  return text;
}

}  // namespace mig::drivers
