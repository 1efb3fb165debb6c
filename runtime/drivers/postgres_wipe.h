#pragma once

#include <string>
#include <vector>

#include "runtime/drivers/pg_client.h"

namespace mig::drivers::pg {

/// What wiping a database drops and resets, found out before anything is
/// touched: the statements (run in one transaction by whoever uses them),
/// and the problems that would make them fail, each naming the object and
/// the reason.
struct WipePlan {
  std::vector<std::string> schemas;
  std::vector<std::string> extensions;
  std::vector<std::string> publications;
  long long largeObjects = 0;
  bool resetsDatabaseState = false;  ///< settings or a comment to reset

  std::vector<std::string> statements;
  std::vector<std::string> problems;

  /// "dropped schemas app, public; extension pgcrypto; 1 large object; ..."
  std::string summary() const;
};

/// Reads the target and plans its wipe: every schema but the system ones
/// dropped with its objects, with the extensions, publications and large
/// objects; `public` recreated exactly as a new database has it (PostgreSQL
/// 15: owned by pg_database_owner, USAGE for PUBLIC, the standard comment);
/// the database's settings, its roles' settings in it and its comment back
/// to a new database's. Its privileges (CONNECT, CREATE: the platform's)
/// are left as they are.
Result<WipePlan> planWipe(Connection& target);

}  // namespace mig::drivers::pg
