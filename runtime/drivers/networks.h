#pragma once

#include <sys/socket.h>

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

/// IP networks as the acl-verify drivers read them: the CIDRs a plan
/// declares and the addresses and netmasks of a server's access rules.
namespace mig::drivers {

/// An IPv4 or IPv6 network, host bits cleared.
struct Network {
  int family = AF_INET;
  std::array<uint8_t, 16> bytes{};  ///< the first 4 for IPv4
  int prefix = 0;

  int bits() const { return family == AF_INET ? 32 : 128; }
  auto operator<=>(const Network&) const = default;

  /// "10.1.0.0/24", "2001:db8::/48", "203.0.113.7/32".
  std::string text() const;
  /// The address alone ("10.1.0.0", "::1").
  std::string addressText() const;
  /// True when every address of `inner` is in this network.
  bool contains(const Network& inner) const;
  /// Within 127.0.0.0/8, or ::1/128.
  bool isLoopback() const;
  /// Whether some bit after the prefix is set ("10.0.0.1" with prefix 24).
  bool hasHostBits() const;
  void clearHostBits();
};

/// Parses an IPv4 or IPv6 address into `network` (its family and bytes;
/// the prefix is left alone). False for anything else.
bool parseAddress(const std::string& text, Network& network);

/// "10.1.0.0/24", "203.0.113.7" (a /32), "2001:db8::/48", "::1" (a /128),
/// host bits cleared; nullopt for anything else.
std::optional<Network> parseNetwork(const std::string& text);

/// The networks a plan declares (the words after `--` of acl-verify), each
/// once; nullopt after telling `err` which entry is no address or CIDR.
std::optional<std::vector<Network>> declaredNetworks(const std::vector<std::string>& entries,
                                                     std::ostream& err);

/// The prefix length of a contiguous netmask of `family` ("255.255.255.0"
/// -> 24); nullopt for a netmask that is not contiguous or not of `family`.
std::optional<int> prefixOfNetmask(const std::string& text, int family);

}  // namespace mig::drivers
