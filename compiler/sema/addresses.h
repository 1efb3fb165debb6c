#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mig::sema {

/// An IPv4 or IPv6 network: an address and a prefix length. A plain
/// address is a network of one host (/32 or /128).
struct Network {
  bool ipv6 = false;
  std::array<uint8_t, 16> bytes{};  ///< IPv4 uses the first 4
  int prefix = 0;

  /// Canonical text: "10.1.0.0/24", "2001:db8::/48", "203.0.113.7/32".
  std::string text() const;
  bool operator==(const Network&) const = default;
  /// True for 0.0.0.0/0 and ::/0: every address on the internet.
  bool isEverything() const { return prefix == 0; }
};

/// Parses "10.1.0.0/24", "203.0.113.7", "2001:db8::/48". On failure
/// returns nullopt and sets `error` (lower case, no period). Host bits set
/// below the prefix ("10.1.0.5/24") are an error naming the network meant.
std::optional<Network> parseNetwork(std::string_view text, std::string& error);

}  // namespace mig::sema
