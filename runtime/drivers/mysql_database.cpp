#include "runtime/drivers/mysql_database.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>

#include "runtime/drivers/subprocess.h"
#include "runtime/drivers/text.h"

namespace mig::drivers::mysql {

Result<std::optional<DatabaseDefaults>> databaseDefaults(Connection& server,
                                                         const std::string& name) {
  Result<Rows> rows = server.query(fmt::format(
      "SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA "
      "WHERE SCHEMA_NAME = {}",
      server.literal(name)));
  if (!rows) return Error{rows.error()};
  if (rows->empty()) return std::optional<DatabaseDefaults>();
  return std::optional<DatabaseDefaults>(DatabaseDefaults{rows->text(0, 0), rows->text(0, 1)});
}

bool isSystemDatabase(const std::string& name) {
  static constexpr std::array<std::string_view, 4> kSystem = {"mysql", "sys", "information_schema",
                                                              "performance_schema"};
  std::string lower = name;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return std::find(kSystem.begin(), kSystem.end(), lower) != kSystem.end();
}

Status recreateDatabase(Connection& server, const std::string& name,
                        const std::optional<DatabaseDefaults>& defaults) {
  Status dropped = server.execute("DROP DATABASE IF EXISTS " + identifier(name));
  if (!dropped) return dropped;
  std::string create = "CREATE DATABASE " + identifier(name);
  if (defaults) {
    create +=
        fmt::format(" CHARACTER SET {} COLLATE {}", defaults->characterSet, defaults->collation);
  }
  return server.execute(create);
}

std::string SourceSurvey::summary() const {
  std::string text = text::counted(static_cast<long long>(tables.size()), "table");
  if (views > 0) text += ", " + text::counted(views, "view");
  return fmt::format("{}, about {} and {} MB", text, text::counted(estimatedRows, "row"),
                     text::withThousands((bytes + (1 << 20) - 1) >> 20));
}

Result<SourceSurvey> surveySource(Connection& source) {
  const std::string& database = source.endpoint().location.database;
  SourceSurvey survey;
  Result<std::optional<DatabaseDefaults>> defaults = databaseDefaults(source, database);
  if (!defaults) return Error{defaults.error()};
  if (!*defaults) {
    return Error{fmt::format("{} has no database {}", source.endpoint().describe(), database)};
  }
  survey.defaults = **defaults;

  Result<Rows> tables = source.query(
      "SELECT TABLE_NAME, TABLE_TYPE, IFNULL(TABLE_ROWS, 0), "
      "IFNULL(DATA_LENGTH, 0) + IFNULL(INDEX_LENGTH, 0) FROM information_schema.TABLES "
      "WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME");
  if (!tables) return Error{tables.error()};
  std::vector<std::string> unreadable;
  for (size_t row = 0; row < tables->size(); ++row) {
    std::string name = tables->text(row, 0);
    if (tables->text(row, 1) == "VIEW") {
      ++survey.views;
      continue;
    }
    survey.tables.push_back(name);
    survey.estimatedRows += tables->integer(row, 2);
    survey.bytes += tables->integer(row, 3);
    Status readable = source.execute(fmt::format("SELECT 1 FROM {} LIMIT 0", identifier(name)),
                                     fmt::format("reading table {}", name));
    if (!readable) unreadable.push_back(readable.error());
  }
  if (!unreadable.empty()) return Error{text::joined(unreadable, "; ")};

  // The schema, routines, triggers and events as mysqldump reads them:
  // missing privileges (SHOW VIEW, TRIGGER, EVENT, SELECT on mysql.proc)
  // show here, not half-way through the copy.
  std::vector<std::string> schemaDump = dumpCommand(source.endpoint());
  schemaDump.insert(schemaDump.end() - 1, "--no-data");
  SubprocessRequest request;
  request.argv = schemaDump;
  request.timeout = std::chrono::minutes(10);
  SubprocessResult result = runSubprocess(request);
  if (!result.succeeded()) {
    std::string why = text::trimmed(result.err);
    return Error{fmt::format("mysqldump cannot read {} ({}){}", source.endpoint().describe(),
                             describeFailure(request, result), why.empty() ? "" : ": " + why)};
  }
  return survey;
}

std::vector<std::string> dumpCommand(const Endpoint& source) {
  std::vector<std::string> argv = source.clientCommand("mysqldump");
  argv.insert(argv.end(), {"--single-transaction", "--routines", "--triggers", "--events",
                           "--hex-blob", "--no-create-db", "--default-character-set=utf8mb4",
                           "--max-allowed-packet=1G", source.location.database});
  return argv;
}

std::vector<std::string> loadCommand(const Endpoint& target) {
  std::vector<std::string> argv = target.clientCommand("mysql");
  argv.insert(argv.end(), {"--batch", "--default-character-set=utf8mb4", "--max-allowed-packet=1G",
                           "--database=" + target.location.database});
  return argv;
}

}  // namespace mig::drivers::mysql
