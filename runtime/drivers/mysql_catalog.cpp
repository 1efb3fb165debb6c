// The reading side of mysql-compare: one information_schema query per
// family of objects, each row turned into an object's properties; the
// accounts from SHOW CREATE USER and SHOW GRANTS; the rows of every table
// as a count and a checksum.
#include "runtime/drivers/mysql_catalog.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <set>

#include "runtime/drivers/mysql_sql_text.h"
#include "runtime/drivers/text.h"

namespace mig::drivers::mysql {
namespace {

using Properties = std::map<std::string, std::string>;

/// Column values of a row, NULL as "".
class RowReader {
 public:
  explicit RowReader(const Rows::Row& row) : row_(row) {}
  std::string operator[](size_t column) const { return row_[column].value_or(""); }
  bool isNull(size_t column) const { return !row_[column].has_value(); }

 private:
  const Rows::Row& row_;
};

/// "utf8mb4 (utf8mb4_general_ci)": a collation names its character set
/// before its first underscore.
std::string characterSet(const std::string& collation) {
  return fmt::format("{} ({})", collation.substr(0, collation.find('_')), collation);
}

std::string parentTable(const std::string& table) {
  return "table\x1f" + table;
}

/// Reads one information_schema query of the database and hands each row
/// to `add`.
template <typename Add>
Status forEachRow(Connection& connection, const std::string& sql, Add add) {
  Result<Rows> rows = connection.query(sql);
  if (!rows) return Error{rows.error()};
  for (const Rows::Row& row : *rows) add(RowReader(row));
  return success();
}

class SchemaReader {
 public:
  SchemaReader(Connection& connection, Catalog& catalog)
      : connection_(connection),
        catalog_(catalog),
        schema_(connection.literal(catalog.database)),
        mariaDb_(connection.serverVersion().find("MariaDB") != std::string::npos) {}

  Status read(const std::vector<std::string>& users) {
    for (Status (SchemaReader::*step)() :
         {&SchemaReader::readDatabase, &SchemaReader::readTables, &SchemaReader::readColumns,
          &SchemaReader::readIndexes, &SchemaReader::readForeignKeys, &SchemaReader::readChecks,
          &SchemaReader::readViews, &SchemaReader::readRoutines, &SchemaReader::readTriggers,
          &SchemaReader::readEvents}) {
      Status done = (this->*step)();
      if (!done) return done;
    }
    if (!hidden_.empty()) return Error{text::joined(hidden_, "; ")};
    return readAccounts(users);
  }

 private:
  Properties& object(const std::string& kind, const std::string& name) {
    return catalog_.objects[{kind, name}];
  }
  /// Notes an object whose definition the user may not see: an error,
  /// not an empty definition that compares equal to another.
  void hide(const std::string& object, const std::string& needed) {
    hidden_.push_back(fmt::format("cannot read the definition of {} on {}: the user needs {}",
                                  object, connection_.endpoint().describe(), needed));
  }
  bool isTable(const std::string& name) const { return catalog_.objects.contains({"table", name}); }
  /// A definition or body with names qualified by this database unqualified.
  std::string local(const std::string& sql) const {
    return withoutDatabase(sql, catalog_.database);
  }

  Status readDatabase() {
    bool found = false;
    Status read = forEachRow(
        connection_,
        "SELECT DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = " +
            schema_,
        [&](const RowReader& row) {
          found = true;
          object("database", "")["character set"] = characterSet(row[0]);
        });
    if (read && !found) {
      return Error{fmt::format("database {} is not on {}", catalog_.database,
                               connection_.endpoint().describe())};
    }
    return read;
  }

  Status readTables() {
    return forEachRow(connection_,
                      "SELECT TABLE_NAME, TABLE_TYPE, ENGINE, TABLE_COLLATION, TABLE_COMMENT "
                      "FROM information_schema.TABLES WHERE TABLE_SCHEMA = " +
                          schema_ +
                          " AND TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED', 'SEQUENCE')",
                      [&](const RowReader& row) {
                        if (row[1] == "SEQUENCE") {
                          object("sequence", row[0])["exists"] = "yes";
                          return;
                        }
                        Properties& table = object("table", row[0]);
                        table["engine"] = row[2];
                        table["character set"] = characterSet(row[3]);
                        table["comment"] = row[4];
                        if (row[1] != "BASE TABLE") table["type"] = row[1];
                      });
  }

  Status readColumns() {
    return forEachRow(connection_,
                      "SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT, "
                      "COLLATION_NAME, EXTRA, GENERATION_EXPRESSION, COLUMN_COMMENT "
                      "FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = " +
                          schema_ + " ORDER BY TABLE_NAME, ORDINAL_POSITION",
                      [&](const RowReader& row) {
                        const std::string table = row[0];
                        if (!isTable(table)) return;  // a view's
                        std::string& order = object("table", table)["columns"];
                        order += (order.empty() ? "" : "\x1f") + row[1];
                        catalog_.columns[table].push_back({row[1], !row.isNull(5)});

                        Properties& column = object("column", table + "." + row[1]);
                        column["parent"] = parentTable(table);
                        column["type"] = row[2];
                        column[""] = row[3] == "YES" ? "NULL" : "NOT NULL";
                        if (!row.isNull(4)) column["default"] = row[4];
                        if (!row.isNull(5)) column["character set"] = characterSet(row[5]);
                        if (!row[6].empty()) column["extra"] = row[6];
                        if (!row[7].empty()) column["generated as"] = local(row[7]);
                        if (!row[8].empty()) column["comment"] = row[8];
                      });
  }

  Status readIndexes() {
    std::map<std::string, std::vector<std::string>> parts;
    Status read = forEachRow(
        connection_,
        "SELECT TABLE_NAME, INDEX_NAME, NON_UNIQUE, COLUMN_NAME, SUB_PART, INDEX_TYPE, "
        "COLLATION, INDEX_COMMENT FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = " +
            schema_ + " ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX",
        [&](const RowReader& row) {
          if (!isTable(row[0])) return;
          std::string name = row[0] + "." + row[1];
          Properties& index = object("index", name);
          index["parent"] = parentTable(row[0]);
          index["kind"] = (row[2] == "0" ? "UNIQUE " : "") + row[5];
          if (!row[7].empty()) index["comment"] = row[7];
          std::string part = row.isNull(3) ? "(an expression)" : identifier(row[3]);
          if (!row.isNull(4)) part += "(" + row[4] + ")";
          if (row[6] == "D") part += " DESC";
          parts[name].push_back(std::move(part));
        });
    for (const auto& [name, columns] : parts) {
      Properties& index = object("index", name);
      index["definition"] = fmt::format("{} ({})", index["kind"], text::joined(columns, ", "));
      index.erase("kind");
    }
    return read;
  }

  Status readForeignKeys() {
    struct Key {
      std::vector<std::string> columns;
      std::vector<std::string> referenced;
      std::string table;
      std::string rules;
    };
    std::map<std::string, Key> keys;
    Status read = forEachRow(
        connection_,
        "SELECT k.TABLE_NAME, k.CONSTRAINT_NAME, k.COLUMN_NAME, k.REFERENCED_TABLE_SCHEMA, "
        "k.REFERENCED_TABLE_NAME, k.REFERENCED_COLUMN_NAME, r.UPDATE_RULE, r.DELETE_RULE "
        "FROM information_schema.KEY_COLUMN_USAGE k "
        "JOIN information_schema.REFERENTIAL_CONSTRAINTS r ON r.CONSTRAINT_SCHEMA = "
        "k.CONSTRAINT_SCHEMA AND r.TABLE_NAME = k.TABLE_NAME AND r.CONSTRAINT_NAME = "
        "k.CONSTRAINT_NAME WHERE k.TABLE_SCHEMA = " +
            schema_ +
            " AND k.REFERENCED_TABLE_NAME IS NOT NULL "
            "ORDER BY k.TABLE_NAME, k.CONSTRAINT_NAME, k.ORDINAL_POSITION",
        [&](const RowReader& row) {
          std::string name = row[0] + "." + row[1];
          object("foreign key", name)["parent"] = parentTable(row[0]);
          Key& key = keys[name];
          key.columns.push_back(identifier(row[2]));
          key.referenced.push_back(identifier(row[5]));
          // Another database's table keeps its database; this one's not.
          key.table = row[3] == catalog_.database ? identifier(row[4])
                                                  : identifier(row[3]) + "." + identifier(row[4]);
          key.rules = fmt::format("ON UPDATE {} ON DELETE {}", row[6], row[7]);
        });
    for (const auto& [name, key] : keys) {
      object("foreign key", name)["definition"] =
          fmt::format("({}) REFERENCES {} ({}) {}", text::joined(key.columns, ", "), key.table,
                      text::joined(key.referenced, ", "), key.rules);
    }
    return read;
  }

  Status readChecks() {
    // MariaDB names the table; MySQL 8 only the constraint, unique in the
    // schema.
    std::string sql =
        mariaDb_
            ? "SELECT TABLE_NAME, CONSTRAINT_NAME, CHECK_CLAUSE FROM "
              "information_schema.CHECK_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = " +
                  schema_
            : "SELECT t.TABLE_NAME, c.CONSTRAINT_NAME, c.CHECK_CLAUSE FROM "
              "information_schema.CHECK_CONSTRAINTS c JOIN information_schema.TABLE_CONSTRAINTS "
              "t ON t.CONSTRAINT_SCHEMA = c.CONSTRAINT_SCHEMA AND t.CONSTRAINT_NAME = "
              "c.CONSTRAINT_NAME AND t.CONSTRAINT_TYPE = 'CHECK' WHERE c.CONSTRAINT_SCHEMA = " +
                  schema_;
    return forEachRow(connection_, sql, [&](const RowReader& row) {
      Properties& check = object("check constraint", row[0] + "." + row[1]);
      check["parent"] = parentTable(row[0]);
      check["clause"] = local(row[2]);
    });
  }

  Status readViews() {
    return forEachRow(connection_,
                      "SELECT TABLE_NAME, VIEW_DEFINITION, CHECK_OPTION, SECURITY_TYPE, DEFINER "
                      "FROM information_schema.VIEWS WHERE TABLE_SCHEMA = " +
                          schema_,
                      [&](const RowReader& row) {
                        // Without SHOW VIEW the server shows an empty
                        // definition, which would compare equal to another.
                        if (row[1].empty()) hide("view " + row[0], "the SHOW VIEW privilege");
                        Properties& view = object("view", row[0]);
                        view["query"] = local(row[1]);
                        view["check option"] = row[2];
                        view["security"] = row[3];
                        view["definer"] = row[4];
                      });
  }

  Status readRoutines() {
    Status read = forEachRow(
        connection_,
        "SELECT ROUTINE_NAME, ROUTINE_TYPE, DTD_IDENTIFIER, ROUTINE_DEFINITION, IS_DETERMINISTIC, "
        "SQL_DATA_ACCESS, SECURITY_TYPE, SQL_MODE, DEFINER, ROUTINE_COMMENT "
        "FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = " +
            schema_,
        [&](const RowReader& row) {
          Properties& routine = object(routineKind(row[1]), row[0]);
          routine["parameters"] = "()";
          if (!row.isNull(2)) routine["returns"] = row[2];
          if (row.isNull(3)) {
            hide(routineKind(row[1]) + " " + row[0],
                 "to be its definer, or SELECT on mysql.proc (MariaDB) or SHOW_ROUTINE (MySQL)");
          }
          routine["body"] = local(row[3]);
          routine[""] = row[4] == "YES" ? "deterministic" : "not deterministic";
          routine["data access"] = row[5];
          routine["security"] = row[6];
          routine["sql_mode"] = row[7];
          routine["definer"] = row[8];
          if (!row[9].empty()) routine["comment"] = row[9];
        });
    if (!read) return read;
    std::map<ObjectName, std::vector<std::string>> parameters;
    read = forEachRow(
        connection_,
        "SELECT SPECIFIC_NAME, ROUTINE_TYPE, PARAMETER_MODE, PARAMETER_NAME, DTD_IDENTIFIER "
        "FROM information_schema.PARAMETERS WHERE SPECIFIC_SCHEMA = " +
            schema_ +
            " AND ORDINAL_POSITION > 0 ORDER BY SPECIFIC_NAME, ROUTINE_TYPE, ORDINAL_POSITION",
        [&](const RowReader& row) {
          std::string mode = row.isNull(2) ? "" : row[2] + " ";
          parameters[{routineKind(row[1]), row[0]}].push_back(
              fmt::format("{}{} {}", mode, identifier(row[3]), row[4]));
        });
    for (const auto& [name, list] : parameters) {
      object(name.first, name.second)["parameters"] = "(" + text::joined(list, ", ") + ")";
    }
    return read;
  }

  static std::string routineKind(const std::string& type) {
    std::string kind = type;
    for (char& c : kind) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return kind;
  }

  Status readTriggers() {
    return forEachRow(
        connection_,
        "SELECT TRIGGER_NAME, EVENT_OBJECT_TABLE, ACTION_TIMING, EVENT_MANIPULATION, ACTION_ORDER, "
        "ACTION_STATEMENT, SQL_MODE, DEFINER FROM information_schema.TRIGGERS "
        "WHERE TRIGGER_SCHEMA = " +
            schema_,
        [&](const RowReader& row) {
          Properties& trigger = object("trigger", row[0]);
          trigger["parent"] = parentTable(row[1]);
          trigger["table"] = row[1];
          trigger["timing"] = row[2];
          trigger["event"] = row[3];
          trigger["order"] = row[4];
          trigger["statement"] = local(row[5]);
          trigger["sql_mode"] = row[6];
          trigger["definer"] = row[7];
        });
  }

  Status readEvents() {
    return forEachRow(
        connection_,
        "SELECT EVENT_NAME, EVENT_TYPE, EXECUTE_AT, INTERVAL_VALUE, INTERVAL_FIELD, STARTS, ENDS, "
        "STATUS, ON_COMPLETION, EVENT_DEFINITION, DEFINER, SQL_MODE, TIME_ZONE, EVENT_COMMENT "
        "FROM information_schema.EVENTS WHERE EVENT_SCHEMA = " +
            schema_,
        [&](const RowReader& row) {
          Properties& event = object("event", row[0]);
          if (row[1] == "ONE TIME") {
            event["schedule"] = "AT " + row[2];
          } else {
            event["schedule"] = fmt::format("EVERY {} {}{}{}", row[3], row[4],
                                            row.isNull(5) ? "" : " STARTS " + row[5],
                                            row.isNull(6) ? "" : " ENDS " + row[6]);
          }
          event["status"] = row[7];
          event["on completion"] = row[8];
          event["body"] = local(row[9]);
          event["definer"] = row[10];
          event["sql_mode"] = row[11];
          event["time zone"] = row[12];
          if (!row[13].empty()) event["comment"] = row[13];
        });
  }

  /// Every account of the user names: its plugin, password hash, options
  /// and grants. The hash is kept to be compared; nothing prints it.
  Status readAccounts(const std::vector<std::string>& users) {
    if (users.empty()) return success();
    std::vector<std::string> names;
    for (const std::string& user : users) names.push_back(connection_.literal(user));
    std::vector<std::pair<std::string, std::string>> accounts;
    Status listed = forEachRow(
        connection_,
        fmt::format("SELECT User, Host FROM mysql.user WHERE User IN ({}){} ORDER BY User, Host",
                    text::joined(names, ", "), mariaDb_ ? " AND is_role = 'N'" : ""),
        [&](const RowReader& row) { accounts.emplace_back(row[0], row[1]); });
    if (!listed) return listed;
    for (const auto& [user, host] : accounts) {
      std::string account = connection_.literal(user) + "@" + connection_.literal(host);
      std::string shown = fmt::format("'{}'@'{}'", user, host);
      // The results hold the password hash: errors say what was done, and
      // no error quotes a result.
      Result<Rows> created =
          connection_.query("SHOW CREATE USER " + account, "reading account " + shown);
      if (!created) return Error{created.error()};
      Result<Rows> grants =
          connection_.query("SHOW GRANTS FOR " + account, "reading the grants of " + shown);
      if (!grants) return Error{grants.error()};
      Properties& properties = object("account", shown);
      AccountDefinition definition = parseCreateUser(created->empty() ? "" : created->text(0, 0));
      properties["plugin"] = definition.plugin.empty() ? "none" : definition.plugin;
      properties["password"] = definition.secret;
      if (!definition.options.empty()) properties["options"] = definition.options;
      for (const Rows::Row& row : *grants) {
        properties["grant " + normalizedGrant(row[0].value_or(""), catalog_.database)] = "yes";
      }
    }
    return success();
  }

  Connection& connection_;
  Catalog& catalog_;
  std::string schema_;  ///< the database's name as a literal
  bool mariaDb_ = false;
  std::vector<std::string> hidden_;  ///< definitions the user may not see
};

}  // namespace

std::string Catalog::summary() const {
  std::vector<std::string> parts = {text::counted(count("table"), "table")};
  if (rowsRead) parts.push_back(text::counted(rows(), "row"));
  parts.push_back(text::counted(count("view"), "view"));
  parts.push_back(text::counted(count("procedure") + count("function"), "routine"));
  parts.push_back(text::counted(count("trigger"), "trigger"));
  parts.push_back(text::counted(count("event"), "event"));
  parts.push_back(text::counted(count("account"), "account"));
  return text::joined(parts, ", ");
}

Status beginSnapshot(Connection& connection) {
  for (const char* sql : {"SET SESSION time_zone = '+00:00'",
                          "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ",
                          "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY"}) {
    Status done = connection.execute(sql);
    if (!done) return done;
  }
  return success();
}

Result<Catalog> readSchema(Connection& connection, const std::vector<std::string>& users) {
  Catalog catalog;
  catalog.database = connection.endpoint().location.database;
  SchemaReader reader(connection, catalog);
  Status read = reader.read(users);
  if (!read) return Error{read.error()};
  return catalog;
}

std::map<std::string, std::vector<ChecksumColumn>> checksumColumns(const Catalog& side,
                                                                   const Catalog& other) {
  std::map<std::string, std::vector<ChecksumColumn>> chosen;
  for (const auto& [table, columns] : side.columns) {
    auto theirs = other.columns.find(table);
    if (theirs == other.columns.end()) {
      chosen[table] = columns;
      continue;
    }
    std::set<std::string> common;
    for (const ChecksumColumn& column : theirs->second) common.insert(column.name);
    std::vector<ChecksumColumn>& read = chosen[table];
    for (const ChecksumColumn& column : columns) {
      if (common.contains(column.name)) read.push_back(column);
    }
    // By name: both sides read the common columns in the same order,
    // whatever order their tables have them in.
    std::sort(read.begin(), read.end(),
              [](const ChecksumColumn& x, const ChecksumColumn& y) { return x.name < y.name; });
  }
  return chosen;
}

std::string rowChecksumQuery(const std::string& table, const std::vector<ChecksumColumn>& columns) {
  if (columns.empty()) return fmt::format("SELECT COUNT(*), '' FROM {}", identifier(table));
  std::vector<std::string> values;
  for (const ChecksumColumn& column : columns) {
    // Text in utf8mb4, so that a column converted to another character set
    // keeps its checksum; everything as bytes, so that no two character
    // sets meet in CONCAT_WS.
    std::string quoted = fmt::format("QUOTE({})", identifier(column.name));
    if (column.text) quoted = fmt::format("CONVERT({} USING utf8mb4)", quoted);
    values.push_back(fmt::format("CAST({} AS BINARY)", quoted));
  }
  return fmt::format(
      "SELECT COUNT(*), CONCAT(COALESCE(SUM(CAST(CONV(LEFT(mig_hash, 16), 16, 10) AS UNSIGNED)), "
      "0), '/', COALESCE(BIT_XOR(CAST(CONV(RIGHT(mig_hash, 16), 16, 10) AS UNSIGNED)), 0)) "
      "FROM (SELECT MD5(CONCAT_WS(',', {})) AS mig_hash FROM {}) AS mig_rows",
      text::joined(values, ", "), identifier(table));
}

Status readRows(Connection& connection,
                const std::map<std::string, std::vector<ChecksumColumn>>& columns,
                Catalog& catalog) {
  for (const auto& [table, read] : columns) {
    Result<Rows> result = connection.query(rowChecksumQuery(table, read));
    if (!result) return Error{fmt::format("table {}: {}", table, result.error())};
    if (result->size() != 1) continue;
    Properties& properties = catalog.objects[{"table", table}];
    properties["rows"] = result->text(0, 0);
    properties["checksum"] = result->text(0, 1);
  }
  catalog.rowsRead = true;
  return success();
}

}  // namespace mig::drivers::mysql
