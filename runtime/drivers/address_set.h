#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "runtime/drivers/networks.h"

/// Sets of IP addresses of any shape (a MySQL host pattern like `10.0.1%`
/// admits 10.0.1.0/24, 10.0.10.0/24 to 10.0.19.0/24 and 10.0.100.0/24 to
/// 10.0.199.0/24), for comparing what a server admits with what a plan
/// declares without enumerating addresses.
namespace mig::drivers {

/// A set of IPv4 and IPv6 addresses: for each family the root of a trie of
/// address bytes in an AddressSpace, which owns the nodes. Equal sets of
/// one space have equal roots.
struct AddressSet {
  uint32_t ipv4 = 0;  ///< AddressSpace::kNone
  uint32_t ipv6 = 0;

  bool operator==(const AddressSet&) const = default;
};

/// The owner of the sets' nodes. A node has one child per value of the
/// next address byte; kNone and kAll stand for "no address" and "every
/// address" below a byte, whatever its depth. Nodes are shared (an equal
/// node is never made twice), so the operations are memoized walks over
/// a few nodes, not over addresses.
class AddressSpace {
 public:
  static constexpr uint32_t kNone = 0;
  static constexpr uint32_t kAll = 1;
  using Children = std::array<uint32_t, 256>;

  AddressSpace();

  AddressSet none() const { return {}; }
  AddressSet every() const { return {kAll, kAll}; }
  AddressSet network(const Network& network);
  /// The node whose byte value `b` leads to `children[b]`: kNone or kAll
  /// when every child is that, else a shared node.
  uint32_t node(const Children& children);

  AddressSet unite(AddressSet a, AddressSet b);
  /// The addresses of `a` not in `b`.
  AddressSet subtract(AddressSet a, AddressSet b);
  AddressSet intersect(AddressSet a, AddressSet b) { return subtract(a, subtract(a, b)); }
  bool contains(AddressSet outer, AddressSet inner) { return subtract(inner, outer) == none(); }
  bool overlaps(AddressSet a, AddressSet b) { return !(intersect(a, b) == none()); }

  /// The set's first `limit` maximal ranges of consecutive addresses, IPv4
  /// first, each written as an address ("10.0.0.7"), a CIDR ("10.0.0.0/24")
  /// or a range ("10.0.1.0-10.0.3.255").
  std::vector<std::string> ranges(AddressSet set, size_t limit);
  /// How many maximal ranges the set has (at most UINT64_MAX).
  uint64_t rangeCount(AddressSet set);
  /// "every address", "none", or the first `limit` ranges joined by ", "
  /// and "and N more ranges".
  std::string describe(AddressSet set, size_t limit = 4);

 private:
  struct ChildrenHash {
    size_t operator()(const Children& children) const;
  };
  /// Whether a node's addresses start at its lowest address, end at its
  /// highest, and how many maximal ranges it holds.
  struct RangeShape {
    uint64_t count = 0;
    bool low = false;
    bool high = false;
  };

  uint32_t child(uint32_t node, int byte) const;
  uint32_t prefixNode(const Network& network, int level);
  uint32_t unite(uint32_t a, uint32_t b);
  uint32_t subtract(uint32_t a, uint32_t b);
  RangeShape shape(uint32_t node);

  std::vector<Children> nodes_;  ///< by id; the first two stand for kNone and kAll
  std::unordered_map<Children, uint32_t, ChildrenHash> ids_;
  std::unordered_map<uint64_t, uint32_t> united_;
  std::unordered_map<uint64_t, uint32_t> subtracted_;
  std::unordered_map<uint32_t, RangeShape> shapes_;
};

}  // namespace mig::drivers
