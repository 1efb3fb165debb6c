#include "compiler/sema/addresses.h"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <charconv>

namespace mig::sema {

std::string Network::text() const {
  char buffer[INET6_ADDRSTRLEN] = {};
  inet_ntop(ipv6 ? AF_INET6 : AF_INET, bytes.data(), buffer, sizeof buffer);
  return fmt::format("{}/{}", buffer, prefix);
}

std::optional<Network> parseNetwork(std::string_view text, std::string& error) {
  Network network;
  std::string_view address = text;
  std::optional<int> prefix;
  if (size_t slash = text.find('/'); slash != std::string_view::npos) {
    address = text.substr(0, slash);
    std::string_view digits = text.substr(slash + 1);
    int value = -1;
    auto [end, status] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (digits.empty() || status != std::errc() || end != digits.data() + digits.size()) {
      error = fmt::format("'{}' has no valid prefix length after '/'", text);
      return std::nullopt;
    }
    prefix = value;
  }
  std::string host(address);
  if (inet_pton(AF_INET, host.c_str(), network.bytes.data()) == 1) {
    network.ipv6 = false;
  } else if (inet_pton(AF_INET6, host.c_str(), network.bytes.data()) == 1) {
    network.ipv6 = true;
  } else {
    error = fmt::format("'{}' is not an IPv4 or IPv6 address", address);
    return std::nullopt;
  }
  int bits = network.ipv6 ? 128 : 32;
  network.prefix = prefix.value_or(bits);
  if (network.prefix < 0 || network.prefix > bits) {
    error = fmt::format("prefix length /{} is out of range for {} (0 to {})", network.prefix,
                        network.ipv6 ? "IPv6" : "IPv4", bits);
    return std::nullopt;
  }
  Network masked = network;
  for (int bit = network.prefix; bit < bits; ++bit) {
    masked.bytes[bit / 8] &= static_cast<uint8_t>(~(0x80 >> (bit % 8)));
  }
  if (masked != network) {
    error = fmt::format("'{}' has host bits set below its /{} prefix; the network is {}", text,
                        network.prefix, masked.text());
    return std::nullopt;
  }
  return network;
}

}  // namespace mig::sema
