#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/drivers/postgres_copy_plan.h"

/// A custom-format archive (`pg_dump --format=custom`), read through
/// pg_restore before a restore touches the target: that it is readable at
/// all, and what it needs (roles, extensions, the database's own state).
namespace mig::drivers::pg {

struct Archive {
  std::string path;
  std::string sourceDatabase;        ///< the database it was dumped from
  std::vector<std::string> entries;  ///< `pg_restore --list` lines, comments left out
  bool largeObjects = false;
  ArchiveNeeds needs;

  /// A `pg_restore --use-list` list of every entry but the large objects'
  /// data (which pg_restore wraps in a transaction of its own).
  std::string mainList() const;
  /// The list of the large objects' data alone.
  std::string largeObjectsList() const;
};

/// Reads the archive's table of contents, the roles its objects and
/// privileges name, and its database-level statements (settings, comment,
/// privileges), renamed for the target's database.
Result<Archive> readArchive(const std::string& path, Connection& target);

/// Runs `pg_restore --use-list=LIST ARGS... FILE` with the list in a
/// private temporary file, streaming its SQL to `line`.
Status restoreScript(const Archive& archive, const std::string& list,
                     const std::vector<std::string>& arguments,
                     const std::function<bool(std::string_view line)>& line);

}  // namespace mig::drivers::pg
