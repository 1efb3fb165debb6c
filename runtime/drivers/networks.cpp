#include "runtime/drivers/networks.h"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <algorithm>

namespace mig::drivers {

std::string Network::text() const {
  return fmt::format("{}/{}", addressText(), prefix);
}

std::string Network::addressText() const {
  std::array<char, INET6_ADDRSTRLEN> buffer{};
  ::inet_ntop(family, bytes.data(), buffer.data(), buffer.size());
  return buffer.data();
}

bool Network::contains(const Network& inner) const {
  if (inner.family != family || inner.prefix < prefix) return false;
  for (int bit = 0; bit < prefix; ++bit) {
    uint8_t mask = static_cast<uint8_t>(0x80 >> (bit % 8));
    if ((bytes[bit / 8] & mask) != (inner.bytes[bit / 8] & mask)) return false;
  }
  return true;
}

bool Network::isLoopback() const {
  if (family == AF_INET) return prefix >= 8 && bytes[0] == 127;
  Network ipv6Loopback{AF_INET6, {}, 128};
  ipv6Loopback.bytes[15] = 1;
  return *this == ipv6Loopback;
}

bool Network::hasHostBits() const {
  for (int bit = prefix; bit < bits(); ++bit) {
    if ((bytes[bit / 8] & (0x80 >> (bit % 8))) != 0) return true;
  }
  return false;
}

void Network::clearHostBits() {
  for (int bit = prefix; bit < bits(); ++bit) {
    bytes[bit / 8] &= static_cast<uint8_t>(~(0x80 >> (bit % 8)));
  }
}

bool parseAddress(const std::string& text, Network& network) {
  if (::inet_pton(AF_INET, text.c_str(), network.bytes.data()) == 1) {
    network.family = AF_INET;
    return true;
  }
  if (::inet_pton(AF_INET6, text.c_str(), network.bytes.data()) == 1) {
    network.family = AF_INET6;
    return true;
  }
  return false;
}

std::optional<Network> parseNetwork(const std::string& text) {
  Network network;
  size_t slash = text.find('/');
  if (!parseAddress(text.substr(0, slash), network)) return std::nullopt;
  network.prefix = network.bits();
  if (slash != std::string::npos) {
    std::string prefix = text.substr(slash + 1);
    if (prefix.empty() || prefix.size() > 3 ||
        !std::all_of(prefix.begin(), prefix.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return std::nullopt;
    }
    network.prefix = std::stoi(prefix);
    if (network.prefix > network.bits()) return std::nullopt;
  }
  network.clearHostBits();
  return network;
}

std::optional<int> prefixOfNetmask(const std::string& text, int family) {
  Network mask;
  if (!parseAddress(text, mask) || mask.family != family) return std::nullopt;
  int prefix = 0;
  while (prefix < mask.bits() && (mask.bytes[prefix / 8] & (0x80 >> (prefix % 8))) != 0) ++prefix;
  for (int bit = prefix; bit < mask.bits(); ++bit) {
    if ((mask.bytes[bit / 8] & (0x80 >> (bit % 8))) != 0) return std::nullopt;
  }
  return prefix;
}

std::optional<std::vector<Network>> declaredNetworks(const std::vector<std::string>& entries,
                                                     std::ostream& err) {
  std::vector<Network> declared;
  for (const std::string& entry : entries) {
    std::optional<Network> network = parseNetwork(entry);
    if (!network) {
      err << "acl-verify: '" << entry << "' is not an IP address or CIDR\n";
      return std::nullopt;
    }
    if (std::find(declared.begin(), declared.end(), *network) == declared.end()) {
      declared.push_back(*network);
    }
  }
  return declared;
}

}  // namespace mig::drivers
