#include "runtime/drivers/object_catalog.h"

#include <fmt/format.h>

#include "runtime/drivers/text.h"

namespace mig::drivers {
namespace {

/// Values longer than this, or of several lines, are shown as excerpts.
constexpr size_t kShortValue = 60;

}  // namespace

long long ObjectCatalog::count(const std::string& kind) const {
  long long total = 0;
  for (const auto& [name, properties] : objects) {
    if (name.first == kind) ++total;
  }
  return total;
}

long long ObjectCatalog::rows() const {
  long long total = 0;
  for (const auto& [name, properties] : objects) {
    auto rows = properties.find("rows");
    if (rows != properties.end() && name.first == "table") total += std::stoll(rows->second);
  }
  return total;
}

std::string describeValues(std::string_view prefix, const std::string* a, const std::string* b,
                           const std::function<std::string(const std::string&)>& shown) {
  auto isShort = [](const std::string* value) {
    return !value || (value->size() <= kShortValue && value->find('\n') == std::string::npos);
  };
  if (isShort(a) && isShort(b)) {
    return fmt::format("{}{} in a, {} in b", prefix, a ? shown(*a) : "none",
                       b ? shown(*b) : "none");
  }
  if (!a || !b) {
    return fmt::format("{}{} in a, {} in b", prefix, a ? text::excerpt(*a, 0) : "none",
                       b ? text::excerpt(*b, 0) : "none");
  }
  size_t at = 0;
  while (at < a->size() && at < b->size() && (*a)[at] == (*b)[at]) ++at;
  return fmt::format("{}differs at character {}: {} in a, {} in b", prefix, at + 1,
                     text::excerpt(*a, at), text::excerpt(*b, at));
}

}  // namespace mig::drivers
