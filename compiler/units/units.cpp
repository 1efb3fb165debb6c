#include "compiler/units/units.h"

#include <fmt/format.h>

#include <array>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <limits>

namespace mig::units {
namespace {

struct Unit {
  std::string_view name;
  UnitValue::Kind kind;
  double factor;
};

constexpr double kKiB = 1024.0;
constexpr std::array kUnits = {
    Unit{"ms", UnitValue::Kind::Duration, 1},
    Unit{"s", UnitValue::Kind::Duration, 1000},
    Unit{"m", UnitValue::Kind::Duration, 60'000},
    Unit{"h", UnitValue::Kind::Duration, 3'600'000},
    Unit{"d", UnitValue::Kind::Duration, 86'400'000},
    Unit{"w", UnitValue::Kind::Duration, 604'800'000},
    Unit{"B", UnitValue::Kind::Size, 1},
    Unit{"KB", UnitValue::Kind::Size, kKiB},
    Unit{"MB", UnitValue::Kind::Size, kKiB * kKiB},
    Unit{"GB", UnitValue::Kind::Size, kKiB * kKiB * kKiB},
    Unit{"TB", UnitValue::Kind::Size, kKiB * kKiB * kKiB * kKiB},
    Unit{"PB", UnitValue::Kind::Size, kKiB * kKiB * kKiB * kKiB * kKiB},
    Unit{"KiB", UnitValue::Kind::Size, kKiB},
    Unit{"MiB", UnitValue::Kind::Size, kKiB * kKiB},
    Unit{"GiB", UnitValue::Kind::Size, kKiB * kKiB * kKiB},
    Unit{"TiB", UnitValue::Kind::Size, kKiB * kKiB * kKiB * kKiB},
    Unit{"PiB", UnitValue::Kind::Size, kKiB * kKiB * kKiB * kKiB * kKiB},
};

const Unit* findUnit(std::string_view name) {
  for (const Unit& unit : kUnits) {
    if (unit.name == name) return &unit;
  }
  return nullptr;
}

}  // namespace

std::optional<UnitValue> parseUnitNumber(std::string_view text, std::string& error) {
  size_t i = 0;
  double total = 0;
  std::optional<UnitValue::Kind> kind;
  while (i < text.size()) {
    size_t numberStart = i;
    while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.'))
      ++i;
    size_t unitStart = i;
    while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i]))) ++i;
    std::string_view number = text.substr(numberStart, unitStart - numberStart);
    std::string_view unitName = text.substr(unitStart, i - unitStart);
    char* parsedEnd = nullptr;
    std::string digits(number);
    double amount = std::strtod(digits.c_str(), &parsedEnd);
    if (digits.empty() || parsedEnd != digits.c_str() + digits.size()) {
      error = fmt::format("'{}' is not a number with a unit", text);
      return std::nullopt;
    }
    const Unit* unit = findUnit(unitName);
    if (!unit) {
      error = fmt::format(
          "unknown unit '{}' in '{}': durations take ms, s, m, h, d, w and sizes B, KB, MB, GB, "
          "TB, PB",
          unitName, text);
      return std::nullopt;
    }
    if (kind && *kind != unit->kind) {
      error = fmt::format("'{}' mixes duration and size units", text);
      return std::nullopt;
    }
    kind = unit->kind;
    total += amount * unit->factor;
  }
  if (!kind) {
    error = fmt::format("'{}' has no unit", text);
    return std::nullopt;
  }
  if (total > static_cast<double>(std::numeric_limits<int64_t>::max() / 2)) {
    error = fmt::format("'{}' is too large", text);
    return std::nullopt;
  }
  return UnitValue{*kind, static_cast<int64_t>(std::llround(total))};
}

std::string formatDuration(int64_t milliseconds) {
  if (milliseconds == 0) return "0s";
  if (milliseconds % 1000 != 0) return fmt::format("{}ms", milliseconds);
  int64_t seconds = milliseconds / 1000;
  std::string out;
  struct Part {
    int64_t size;
    char unit;
  };
  for (Part part : {Part{86'400, 'd'}, Part{3'600, 'h'}, Part{60, 'm'}, Part{1, 's'}}) {
    if (seconds >= part.size) {
      out += fmt::format("{}{}", seconds / part.size, part.unit);
      seconds %= part.size;
    }
  }
  return out;
}

std::string formatSize(int64_t bytes) {
  constexpr std::array<std::string_view, 6> names = {"B", "KB", "MB", "GB", "TB", "PB"};
  size_t unit = 0;
  while (unit + 1 < names.size() && bytes != 0 && bytes % 1024 == 0) {
    bytes /= 1024;
    ++unit;
  }
  return fmt::format("{}{}", bytes, names[unit]);
}

}  // namespace mig::units
