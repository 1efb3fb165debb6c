// The comparing side of mysql-compare: two catalogs, one line per
// difference.
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <set>

#include "runtime/drivers/mysql_catalog.h"
#include "runtime/drivers/mysql_sql_text.h"
#include "runtime/drivers/object_catalog.h"
#include "runtime/drivers/text.h"

namespace mig::drivers::mysql {
namespace {

using Properties = std::map<std::string, std::string>;

/// The order kinds are reported in: containers before what they contain.
int kindRank(const std::string& kind) {
  static const std::array<std::string_view, 13> order = {
      "database", "table",     "column",   "index",   "foreign key", "check constraint", "sequence",
      "view",     "procedure", "function", "trigger", "event",       "account"};
  auto it = std::find(order.begin(), order.end(), kind);
  return static_cast<int>(it - order.begin());
}


/// Free text is quoted ("comment 'in euros' in a"); types, states and
/// names read better bare ("security DEFINER in a, INVOKER in b"). A
/// default is shown as the server prints it, literals already quoted.
std::string shown(const std::string& property, const std::string& value) {
  static const std::set<std::string, std::less<>> freeText = {
      "comment", "body", "statement", "clause", "query", "generated as", "options"};
  return freeText.contains(property) || value.empty() ? fmt::format("'{}'", value) : value;
}

/// "type int(11) in a, bigint(20) in b", "none in a, NOT NULL in b",
/// "body differs at character 57: '...' in a, '...' in b".
std::string describeDifference(const std::string& property, const std::string* a,
                               const std::string* b) {
  std::string prefix = property.empty() ? "" : property + " ";
  return describeValues(prefix, a, b,
                        [&property](const std::string& value) { return shown(property, value); });
}

/// "table orders", "account 'app'@'%'", or "the database".
std::string objectText(const ObjectName& name) {
  if (name.first == "database") return "the database";
  return fmt::format("{} {}", name.first, name.second);
}

std::vector<std::string> split(const std::string& joined) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= joined.size() && !joined.empty()) {
    size_t end = std::min(joined.find('\x1f', start), joined.size());
    parts.push_back(joined.substr(start, end - start));
    start = end + 1;
  }
  return parts;
}

/// "column order (id, total, label) in a, (id, label, total) in b" when
/// the columns both tables have are in another order; "" otherwise (a
/// column only one side has is a difference of its own).
std::string columnOrderDifference(const std::string& a, const std::string& b) {
  std::vector<std::string> inA = split(a);
  std::vector<std::string> inB = split(b);
  std::set<std::string> namesA(inA.begin(), inA.end());
  std::set<std::string> namesB(inB.begin(), inB.end());
  std::erase_if(inA, [&](const std::string& name) { return !namesB.contains(name); });
  std::erase_if(inB, [&](const std::string& name) { return !namesA.contains(name); });
  if (inA == inB) return "";
  return fmt::format("column order ({}) in a, ({}) in b", text::joined(inA, ", "),
                     text::joined(inB, ", "));
}

/// What differs in one property of an object both sides have, or "" when
/// nothing does.
std::string propertyDifference(const std::string& property, const Properties& inA,
                               const Properties& inB, const Catalog& a, const Catalog& b) {
  auto x = inA.find(property);
  auto y = inB.find(property);
  const std::string* valueA = x == inA.end() ? nullptr : &x->second;
  const std::string* valueB = y == inB.end() ? nullptr : &y->second;
  if (valueA && valueB && *valueA == *valueB) return "";
  auto same = [&](const std::string& name) {
    auto p = inA.find(name);
    auto q = inB.find(name);
    return p != inA.end() && q != inB.end() && p->second == q->second;
  };
  if (property == "columns" && valueA && valueB) return columnOrderDifference(*valueA, *valueB);
  if (property == "rows" && valueA && valueB) {
    return fmt::format("{} in a, {} in b", text::counted(std::stoll(*valueA), "row"),
                       text::withThousands(std::stoll(*valueB)));
  }
  if (property == "checksum") {
    // Different counts make different checksums: the count says it.
    if (!same("rows")) return "";
    return fmt::format("same {}, different contents",
                       text::counted(std::stoll(inA.at("rows")), "row"));
  }
  if (property == "password") {
    // Hashes of two plugins never match: the plugin line says it. Never
    // print a hash.
    return same("plugin") ? "password differs" : "";
  }
  if (property.starts_with("grant ")) {
    std::string_view grant = std::string_view(property).substr(6);
    return valueA ? fmt::format("grant only in a: {}", grantOn(grant, a.database))
                  : fmt::format("grant only in b: {}", grantOn(grant, b.database));
  }
  return describeDifference(property, valueA, valueB);
}

/// Whether the object `name` of `side` belongs to an object (its table)
/// that `other` lacks: the missing table says it.
bool parentAlsoMissing(const Catalog& side, const Catalog& other, const ObjectName& name) {
  const Properties& properties = side.objects.at(name);
  auto parent = properties.find("parent");
  if (parent == properties.end()) return false;
  size_t separator = parent->second.find('\x1f');
  ObjectName parentName{parent->second.substr(0, separator), parent->second.substr(separator + 1)};
  return side.objects.contains(parentName) && !other.objects.contains(parentName);
}

}  // namespace

std::vector<std::string> catalogDifferences(const Catalog& a, const Catalog& b) {
  std::set<ObjectName> names;
  for (const auto& entry : a.objects) names.insert(entry.first);
  for (const auto& entry : b.objects) names.insert(entry.first);
  std::vector<ObjectName> ordered(names.begin(), names.end());
  std::stable_sort(ordered.begin(), ordered.end(), [](const ObjectName& x, const ObjectName& y) {
    return kindRank(x.first) < kindRank(y.first);
  });

  std::vector<std::string> differences;
  for (const ObjectName& name : ordered) {
    auto inA = a.objects.find(name);
    auto inB = b.objects.find(name);
    if (inB == b.objects.end()) {
      if (!parentAlsoMissing(a, b, name)) differences.push_back(objectText(name) + " only in a");
      continue;
    }
    if (inA == a.objects.end()) {
      if (!parentAlsoMissing(b, a, name)) differences.push_back(objectText(name) + " only in b");
      continue;
    }
    std::set<std::string> properties;
    for (const auto& entry : inA->second) properties.insert(entry.first);
    for (const auto& entry : inB->second) properties.insert(entry.first);
    for (const std::string& property : properties) {
      if (property == "parent") continue;
      std::string difference = propertyDifference(property, inA->second, inB->second, a, b);
      if (!difference.empty()) differences.push_back(objectText(name) + ": " + difference);
    }
  }
  return differences;
}

}  // namespace mig::drivers::mysql
