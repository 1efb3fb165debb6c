#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "runtime/drivers/mysql_client.h"
#include "runtime/drivers/object_catalog.h"

/// What `mysql-compare` sees of a MySQL or MariaDB database: every object
/// the application can tell apart ("table orders", "column orders.total",
/// "index orders.PRIMARY", "view order_totals", "account 'app'@'%'"), each
/// with its properties as text. Nothing in it depends on the database's
/// name: names qualified by it are unqualified, so a database compares with
/// its copy under another name.
namespace mig::drivers::mysql {

using drivers::ObjectName;

/// A column as the row checksum reads it.
struct ChecksumColumn {
  std::string name;
  bool text = false;  ///< has a character set: read as utf8mb4, whatever it is
};

struct Catalog : ObjectCatalog {
  std::string database;
  /// Every table's columns in order, for the row checksums.
  std::map<std::string, std::vector<ChecksumColumn>> columns;
  /// Whether readRows counted the rows.
  bool rowsRead = false;

  /// "12 tables, 40,000 rows, 3 views, 2 routines, 1 trigger, 1 event, 2
  /// accounts" (no rows when they were not read).
  std::string summary() const;
};

/// Begins a read-only transaction with a consistent snapshot, which
/// readSchema and readRows read in, with the session's time zone UTC (so
/// that TIMESTAMP values read alike on both servers).
Status beginSnapshot(Connection& connection);

/// Reads the connection's database: its default character set, tables
/// (engine, character set, comment, columns, indexes, foreign keys, CHECK
/// constraints), views, routines, triggers and events; and every account
/// (user@host) of the user names `users` with its authentication plugin,
/// password hash, options and grants.
Result<Catalog> readSchema(Connection& connection, const std::vector<std::string>& users);

/// The columns whose values the checksum of each table of `side` reads:
/// the columns both sides have, by name; all its columns for a table the
/// other side lacks. A column only one side has is a difference of its
/// own, not one of every row.
std::map<std::string, std::vector<ChecksumColumn>> checksumColumns(const Catalog& side,
                                                                   const Catalog& other);

/// SQL: the row count and an order-independent checksum of `table`'s
/// rows over `columns`. Each row is hashed (MD5) as its values QUOTE()d
/// (NULL apart from 'NULL', binary bytes escaped) and comma-joined; the
/// checksum is the sum of the hashes' first 64 bits (a DECIMAL: no
/// overflow) and the XOR of their last 64.
std::string rowChecksumQuery(const std::string& table, const std::vector<ChecksumColumn>& columns);

/// Counts and checksums the rows of every table in `columns` (from
/// checksumColumns), in the transaction beginSnapshot began.
Status readRows(Connection& connection,
                const std::map<std::string, std::vector<ChecksumColumn>>& columns,
                Catalog& catalog);

/// One line per difference, in a stable order: objects only in one of the
/// two ("trigger audit only in a"), then properties that differ ("column
/// orders.total: type decimal(10,2) in a, decimal(12,2) in b", "table
/// orders: 1,204 rows in a, 1,203 in b", "account 'app'@'%': password
/// differs").
std::vector<std::string> catalogDifferences(const Catalog& a, const Catalog& b);

}  // namespace mig::drivers::mysql
