// mysql-inventory and mysql-analyze: taking stock of a MySQL database, and
// fresh optimizer statistics for it.
#include <fmt/format.h>

#include "runtime/drivers/driver.h"
#include "runtime/drivers/mysql_client.h"
#include "runtime/drivers/text.h"

namespace mig::drivers {
namespace {

using mysql::Connection;

/// Prints `title` and the rows of `sql` as tab-separated lines under it;
/// a query the server refuses (no privilege) is printed as such, not a
/// failure: an inventory shows what it can.
void section(Connection& db, std::ostream& out, std::string_view title, const std::string& sql) {
  out << '\n' << title << '\n';
  Result<mysql::Rows> rows = db.query(sql);
  if (!rows) {
    out << "  (not readable: " << rows.error() << ")\n";
    return;
  }
  if (rows->empty()) out << "  (none)\n";
  for (const mysql::Rows::Row& row : *rows) {
    std::vector<std::string> fields;
    for (const auto& value : row) fields.push_back(value.value_or("NULL"));
    out << "  " << text::joined(fields, "\t") << '\n';
  }
}

/// The base tables of the connection's database.
Result<std::vector<std::string>> baseTables(Connection& db) {
  Result<mysql::Rows> rows = db.query(
      "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND "
      "TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED') ORDER BY TABLE_NAME");
  if (!rows) return Error{rows.error()};
  std::vector<std::string> tables;
  for (size_t row = 0; row < rows->size(); ++row) tables.push_back(rows->text(row, 0));
  return tables;
}

}  // namespace

int mysqlInventory(const DriverArgs& args, std::ostream& out, std::ostream& err) {
  auto endpoint = mysql::endpointArgument(args, "db", "database", err);
  if (!endpoint) return 2;
  auto db = Connection::open(*endpoint);
  if (!db) {
    err << "mysql-inventory: " << db.error() << '\n';
    return 1;
  }
  Connection& server = **db;
  out << "server: " << server.serverVersion() << " (" << endpoint->location.url() << ")\n";
  section(server, out, "settings (name, value)",
          "SELECT VARIABLE_NAME, VARIABLE_VALUE FROM information_schema.GLOBAL_VARIABLES WHERE "
          "VARIABLE_NAME IN ('CHARACTER_SET_SERVER', 'COLLATION_SERVER', 'SQL_MODE', "
          "'TIME_ZONE', 'SYSTEM_TIME_ZONE', 'LOWER_CASE_TABLE_NAMES', 'MAX_ALLOWED_PACKET', "
          "'LOG_BIN', 'BINLOG_FORMAT', 'DEFAULT_STORAGE_ENGINE', 'EVENT_SCHEDULER') "
          "ORDER BY VARIABLE_NAME");
  section(server, out, "storage engines (engine, support)",
          "SELECT ENGINE, SUPPORT FROM information_schema.ENGINES WHERE SUPPORT IN ('YES', "
          "'DEFAULT') ORDER BY ENGINE");
  section(server, out, "databases (name, character set, collation, tables, MB)",
          "SELECT s.SCHEMA_NAME, s.DEFAULT_CHARACTER_SET_NAME, s.DEFAULT_COLLATION_NAME, "
          "COUNT(t.TABLE_NAME), ROUND(IFNULL(SUM(t.DATA_LENGTH + t.INDEX_LENGTH), 0) / 1048576, 1) "
          "FROM information_schema.SCHEMATA s LEFT JOIN information_schema.TABLES t ON "
          "t.TABLE_SCHEMA = s.SCHEMA_NAME GROUP BY s.SCHEMA_NAME, s.DEFAULT_CHARACTER_SET_NAME, "
          "s.DEFAULT_COLLATION_NAME ORDER BY s.SCHEMA_NAME");
  section(server, out,
          fmt::format("tables of {} (table, type, engine, collation, estimated rows, MB)",
                      endpoint->location.database),
          "SELECT TABLE_NAME, TABLE_TYPE, IFNULL(ENGINE, ''), IFNULL(TABLE_COLLATION, ''), "
          "IFNULL(TABLE_ROWS, 0), ROUND((IFNULL(DATA_LENGTH, 0) + IFNULL(INDEX_LENGTH, 0)) / "
          "1048576, 1) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() ORDER BY "
          "IFNULL(DATA_LENGTH, 0) + IFNULL(INDEX_LENGTH, 0) DESC, TABLE_NAME");
  section(server, out, "routines, triggers and events (kind, name)",
          "SELECT ROUTINE_TYPE, ROUTINE_NAME FROM information_schema.ROUTINES WHERE "
          "ROUTINE_SCHEMA = DATABASE() UNION ALL SELECT 'TRIGGER', TRIGGER_NAME FROM "
          "information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE() UNION ALL SELECT "
          "'EVENT', EVENT_NAME FROM information_schema.EVENTS WHERE EVENT_SCHEMA = DATABASE() "
          "ORDER BY 1, 2");
  section(server, out, "accounts (user, host, authentication)",
          "SELECT User, Host, IFNULL(plugin, '') FROM mysql.user WHERE User <> 'mariadb.sys' "
          "ORDER BY User, Host");
  return 0;
}

int mysqlAnalyze(const DriverArgs& args, std::ostream& out, std::ostream& err) {
  auto endpoint = mysql::endpointArgument(args, "db", "database", err);
  if (!endpoint) return 2;
  auto db = Connection::open(*endpoint);
  if (!db) {
    err << "mysql-analyze: " << db.error() << '\n';
    return 1;
  }
  Result<std::vector<std::string>> tables = baseTables(**db);
  if (!tables) {
    err << "mysql-analyze: " << tables.error() << '\n';
    return 1;
  }
  // ANALYZE TABLE reports per table, in rows: an error there is a failure.
  std::vector<std::string> problems;
  constexpr size_t kTablesPerStatement = 50;
  for (size_t first = 0; first < tables->size(); first += kTablesPerStatement) {
    std::vector<std::string> names;
    for (size_t i = first; i < std::min(tables->size(), first + kTablesPerStatement); ++i) {
      names.push_back(mysql::identifier((*tables)[i]));
    }
    Result<mysql::Rows> report = (*db)->query("ANALYZE TABLE " + text::joined(names, ", "));
    if (!report) {
      err << "mysql-analyze: " << report.error() << '\n';
      return 1;
    }
    for (const mysql::Rows::Row& row : *report) {
      if (row.size() >= 4 && row[2].value_or("") == "error") {
        problems.push_back(fmt::format("{}: {}", row[0].value_or(""), row[3].value_or("")));
      }
    }
  }
  for (const std::string& problem : problems) err << "mysql-analyze: " << problem << '\n';
  if (!problems.empty()) return 1;
  out << fmt::format("analyzed {} of {}\n",
                     text::counted(static_cast<long long>(tables->size()), "table"),
                     endpoint->describe());
  return 0;
}

}  // namespace mig::drivers
