#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>

/// What the compare drivers see of a database, whatever the server: named
/// objects, each with its properties as text, compared property by
/// property.
namespace mig::drivers {

/// "table" and "orders".
using ObjectName = std::pair<std::string, std::string>;

struct ObjectCatalog {
  /// object -> property -> value. Every property is compared but "parent":
  /// the object that holds this one ("table\x1forders" for a column, an
  /// index, a trigger), so that a missing table is one difference, not one
  /// per column.
  std::map<ObjectName, std::map<std::string, std::string>> objects;

  /// How many objects of `kind` ("table", "view") it holds.
  long long count(const std::string& kind) const;
  /// The sum of the tables' "rows" properties.
  long long rows() const;
};

/// One property's two values in a message: "type int in a, bigint in b"
/// (short values, each through `shown`), "'...' in a, none in b", or
/// "body differs at character 57: '...' in a, '...' in b" for long ones.
/// `prefix` starts it ("type ", "" for none).
std::string describeValues(std::string_view prefix, const std::string* a, const std::string* b,
                           const std::function<std::string(const std::string&)>& shown);

}  // namespace mig::drivers
