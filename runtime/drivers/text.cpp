#include "runtime/drivers/text.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

namespace mig::drivers::text {

std::string counted(long long count, std::string_view singular, std::string_view plural) {
  if (count == 1) return fmt::format("1 {}", singular);
  if (plural.empty()) return fmt::format("{} {}s", withThousands(count), singular);
  return fmt::format("{} {}", withThousands(count), plural);
}

std::vector<std::string> lines(std::string_view text) {
  std::vector<std::string> found;
  for (size_t start = 0; start < text.size();) {
    size_t end = std::min(text.find('\n', start), text.size());
    found.emplace_back(text.substr(start, end - start));
    start = end + 1;
  }
  return found;
}

std::string redact(std::string_view text, std::string_view secret) {
  std::string out(text);
  if (secret.empty()) return out;
  for (size_t at = out.find(secret); at != std::string::npos; at = out.find(secret, at + 3)) {
    out.replace(at, secret.size(), "***");
  }
  return out;
}

std::string withThousands(long long number) {
  std::string digits = std::to_string(number < 0 ? -number : number);
  std::string text;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) text += ',';
    text += digits[i];
  }
  return number < 0 ? "-" + text : text;
}

std::string joined(const std::vector<std::string>& words, std::string_view separator) {
  std::string text;
  for (const std::string& word : words) {
    if (!text.empty()) text += separator;
    text += word;
  }
  return text;
}

std::string trimmed(std::string_view text) {
  size_t begin = text.find_first_not_of(" \t\r\n");
  if (begin == std::string_view::npos) return "";
  size_t end = text.find_last_not_of(" \t\r\n");
  return std::string(text.substr(begin, end - begin + 1));
}

std::string namedList(std::string_view singular, const std::vector<std::string>& names) {
  if (names.empty()) return "";
  return fmt::format("{} {}",
                     names.size() == 1 ? std::string(singular) : std::string(singular) + "s",
                     joined(names, ", "));
}

std::optional<int64_t> parseMilliseconds(std::string_view text) {
  static const std::pair<std::string_view, int64_t> units[] = {
      {"ms", 1}, {"s", 1000}, {"m", 60'000}, {"h", 3'600'000}};
  for (const auto& [unit, factor] : units) {
    if (!text.ends_with(unit)) continue;
    const std::string_view digits = text.substr(0, text.size() - unit.size());
    int64_t value = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() || value < 0 ||
        value > INT64_MAX / factor) {
      return std::nullopt;
    }
    return value * factor;
  }
  return std::nullopt;
}

std::string excerpt(std::string_view value, size_t at) {
  constexpr size_t kBefore = 20;
  constexpr size_t kLength = 50;
  size_t begin = at > kBefore ? at - kBefore : 0;
  std::string part(value.substr(begin, kLength));
  for (char& c : part) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  }
  return fmt::format("'{}{}{}'", begin > 0 ? "..." : "", part,
                     begin + kLength < value.size() ? "..." : "");
}

}  // namespace mig::drivers::text
