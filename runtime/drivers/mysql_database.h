#pragma once

#include <optional>
#include <string>
#include <vector>

#include "runtime/drivers/mysql_client.h"
#include "runtime/drivers/result.h"

/// What the MySQL drivers that replace a database share: the database's
/// defaults, recreating it, the checks made before anything is dropped,
/// and the mysqldump command.
namespace mig::drivers::mysql {

/// A database's default character set and collation.
struct DatabaseDefaults {
  std::string characterSet;
  std::string collation;
};

/// The defaults of database `name`, or nullopt when there is no such
/// database.
Result<std::optional<DatabaseDefaults>> databaseDefaults(Connection& server,
                                                         const std::string& name);

/// The server's own databases (mysql, sys, information_schema,
/// performance_schema), which no driver replaces.
bool isSystemDatabase(const std::string& name);

/// Database `name` dropped (if there) and created empty with `defaults`
/// (the server's when nullopt).
Status recreateDatabase(Connection& server, const std::string& name,
                        const std::optional<DatabaseDefaults>& defaults);

/// What a source database holds, read before a copy or a dump: proof that
/// it can be read.
struct SourceSurvey {
  DatabaseDefaults defaults;
  std::vector<std::string> tables;  ///< base tables
  int views = 0;
  long long estimatedRows = 0;
  long long bytes = 0;  ///< data and indexes
  std::string summary() const;
};

/// Reads the source's tables and checks that every one can be selected
/// from and that mysqldump can read its schema, routines, triggers and
/// events (a dump without data, thrown away): the errors a copy would
/// otherwise meet half-way, after the target was dropped.
Result<SourceSurvey> surveySource(Connection& source);

/// mysqldump of the endpoint's database, consistent (one transaction),
/// with routines, triggers and events, binary values in hexadecimal, no
/// CREATE DATABASE or USE (the load goes to whatever database the
/// consumer names).
std::vector<std::string> dumpCommand(const Endpoint& source);

/// The mysql client loading into the endpoint's database.
std::vector<std::string> loadCommand(const Endpoint& target);

}  // namespace mig::drivers::mysql
