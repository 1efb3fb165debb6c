#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

/// Durations and sizes: the numbers with units of the language, shared by
/// the parser, the step graph and the runtime.
namespace mig::units {

/// A number with a unit: a duration (in milliseconds) or a size (in bytes).
struct UnitValue {
  enum class Kind { Duration, Size } kind;
  int64_t amount;
};

/// Parses `90s`, `1h30m`, `1.5h`, `512MB`, `2TiB`. Units: ms s m h d w for
/// durations; B KB MB GB TB PB (powers of 1024, as PostgreSQL and Redis
/// read them) and KiB MiB GiB TiB PiB for sizes. Returns nullopt with
/// `error` set for an unknown unit, a mix of durations and sizes, or
/// an overflow.
std::optional<UnitValue> parseUnitNumber(std::string_view text, std::string& error);

/// "1h30m", "90s", "2d", "512MB": the shortest canonical spelling.
std::string formatDuration(int64_t milliseconds);
std::string formatSize(int64_t bytes);

}  // namespace mig::units
