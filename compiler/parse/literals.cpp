#include "compiler/parse/literals.h"

#include <fmt/format.h>

#include <array>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <limits>

namespace mig::parse {
namespace {

bool isIdentStart(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool isIdentChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

class StringDecoder {
 public:
  StringDecoder(std::string_view token, source::FileId file, uint32_t begin,
                diag::DiagnosticEngine& diags)
      : token_(token), file_(file), begin_(begin), diags_(diags) {}

  std::vector<ast::StringPart> decode(bool terminated) {
    bool triple = token_.starts_with("\"\"\"");
    size_t quote = triple ? 3 : 1;
    size_t end = token_.size();
    if (terminated) end -= quote;
    size_t i = quote;
    // A newline right after the opening """ is not part of the text.
    if (triple && token_.substr(i, 1) == "\n") ++i;
    if (triple && token_.substr(i, 2) == "\r\n") i += 2;
    literalStart_ = i;
    while (i < end) {
      char c = token_[i];
      if (c == '\\' && !triple) {
        i = escape(i, end);
      } else if (c == '$' && token_.substr(i, 3) == "$${") {
        literal_ += "${";
        i += 3;
      } else if (c == '$' && i + 1 < end && token_[i + 1] == '{') {
        i = interpolation(i, end);
      } else {
        literal_ += c;
        ++i;
      }
    }
    flushLiteral(end);
    return std::move(parts_);
  }

 private:
  source::Range range(size_t from, size_t to) const {
    return {file_, begin_ + static_cast<uint32_t>(from), begin_ + static_cast<uint32_t>(to)};
  }

  void flushLiteral(size_t at) {
    if (!literal_.empty()) {
      ast::StringPart part;
      part.text = std::move(literal_);
      part.range = range(literalStart_, at);
      parts_.push_back(std::move(part));
    }
    literal_.clear();
    literalStart_ = at;
  }

  size_t escape(size_t at, size_t end) {
    if (at + 1 >= end) {
      literal_ += '\\';
      return at + 1;
    }
    char next = token_[at + 1];
    switch (next) {
      case '"': literal_ += '"'; break;
      case '\\': literal_ += '\\'; break;
      case 'n': literal_ += '\n'; break;
      case 't': literal_ += '\t'; break;
      case '$': literal_ += '$'; break;
      default: {
        auto& d = diags_.report(diag::Rule::SyntaxError, range(at, at + 2),
                                fmt::format("unknown escape sequence '\\{}'", next));
        d.fix = diag::FixHint{"the escapes are \\\" \\\\ \\n \\t and \\$; write \\\\ for a backslash",
                              range(at, at + 1), std::string("\\\\")};
        literal_ += next;
      }
    }
    return at + 2;
  }

  size_t interpolation(size_t at, size_t end) {
    size_t close = token_.find('}', at + 2);
    if (close == std::string_view::npos || close >= end) {
      auto& d = diags_.report(diag::Rule::SyntaxError, range(at, at + 2),
                              "unterminated interpolation: expected '}' to close '${'");
      d.fix = diag::FixHint{"write $${ for a literal '${'", range(at, at + 1), std::string("$$")};
      literal_ += token_.substr(at, end - at);
      return end;
    }
    flushLiteral(at);
    ast::StringPart part;
    part.isInterpolation = true;
    part.range = range(at, close + 1);
    size_t i = at + 2;
    auto skipSpace = [&] {
      while (i < close && (token_[i] == ' ' || token_[i] == '\t')) ++i;
    };
    skipSpace();
    bool ok = true;
    while (true) {
      if (i >= close || !isIdentStart(token_[i])) {
        ok = false;
        break;
      }
      size_t nameStart = i;
      while (i < close && isIdentChar(token_[i])) ++i;
      part.path.push_back({std::string(token_.substr(nameStart, i - nameStart)), range(nameStart, i)});
      skipSpace();
      if (i < close && token_[i] == '.') {
        ++i;
        continue;
      }
      break;
    }
    if (!ok || i != close) {
      size_t bad = std::min(i, close);
      diags_.report(diag::Rule::SyntaxError, range(bad, bad < close ? bad + 1 : close + 1),
                    i == close || bad == close
                        ? std::string("expected a name in '${...}'")
                        : fmt::format("unexpected '{}' in '${{...}}': expected a name like "
                                      "endpoint.field",
                                      token_[bad]));
      part.path.clear();
    }
    if (!part.path.empty()) parts_.push_back(std::move(part));
    literalStart_ = close + 1;
    return close + 1;
  }

  std::string_view token_;
  source::FileId file_;
  uint32_t begin_;
  diag::DiagnosticEngine& diags_;
  std::vector<ast::StringPart> parts_;
  std::string literal_;
  size_t literalStart_ = 0;
};

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

std::vector<ast::StringPart> decodeString(std::string_view token, bool terminated,
                                          source::FileId file, uint32_t begin,
                                          diag::DiagnosticEngine& diags) {
  return StringDecoder(token, file, begin, diags).decode(terminated);
}

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

}  // namespace mig::parse
