#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace mig::graph {

/// SHA-256 (FIPS 180-4) of `data`, as 64 lower-case hex digits.
std::string sha256Hex(std::string_view data);

}  // namespace mig::graph
