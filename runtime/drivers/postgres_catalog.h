#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "runtime/drivers/object_catalog.h"
#include "runtime/drivers/pg_client.h"

/// What `postgres-compare` sees of a database: every object the
/// application can tell apart, named as PostgreSQL names it
/// (`pg_identify_object`: "table public.orders", "trigger audit on
/// public.orders"), each with its properties as text (a definition, an
/// owner, the privileges of one grantee, a row count and checksum). Two
/// databases are equal when they hold the same objects with the same
/// properties; nothing in it depends on OIDs, so two clusters compare.
namespace mig::drivers::pg {

/// "table" and "public.orders".
using drivers::ObjectName;

struct Catalog : ObjectCatalog {
  size_t properties() const;
  /// "3 tables, 1,600 rows, 1 view, 2 sequences, 4 indexes and 12 other objects".
  std::string summary() const;
};

/// How compare reads a database.
struct CatalogOptions {
  /// Whether owners are compared (false for a copy that reassigned them).
  bool owners = true;
  /// Whether rows and sequence values are compared (false while a sync is
  /// live: they move on both sides).
  bool rows = true;
};

/// Reads every object of the connection's database in one read-only
/// snapshot (REPEATABLE READ): schema objects with their definitions,
/// owners, privileges and comments, database-level settings, and the rows
/// of every table (an exact count and an order-independent checksum).
Result<Catalog> readCatalog(Connection& connection, const CatalogOptions& options);

/// One line per difference, in a stable order: objects only in one of the
/// two ("index public.x only in a"), then properties that differ
/// ("trigger audit on public.orders: enabled in a, disabled in b").
std::vector<std::string> catalogDifferences(const Catalog& a, const Catalog& b);

/// SQL: the CTEs `objects(classid, objid, owner)`, every object with an
/// owner in the database (not the system's), and `owned`, those of them
/// that no extension made.
std::string ownedObjectsCte();

/// SQL: true unless the object is part of another one (a range type's
/// constructor functions): it comes and goes with that one.
std::string notPartOfAnother(std::string_view classid, std::string_view objid);

/// SQL: true for a schema name a user owns objects in (not pg_catalog,
/// information_schema, pg_toast or temporary schemas).
std::string userSchema(std::string_view column);

/// SQL: true unless the object belongs to an extension (whose script,
/// not the dump, creates it).
std::string notInExtension(std::string_view classid, std::string_view objid);

}  // namespace mig::drivers::pg
