// mysql-copy, mysql-dump, mysql-restore and mysql-wipe: the MySQL drivers
// that replace or save a database. Each checks everything it can before it
// drops anything; MySQL's DDL commits as it goes, so a load that fails
// half-way is emptied again rather than left half-loaded.
#include <fmt/format.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "runtime/drivers/driver.h"
#include "runtime/drivers/mysql_accounts.h"
#include "runtime/drivers/mysql_client.h"
#include "runtime/drivers/mysql_database.h"
#include "runtime/drivers/pipeline.h"
#include "runtime/drivers/subprocess.h"
#include "runtime/drivers/text.h"

namespace mig::drivers {
namespace {

using mysql::Connection;
using mysql::Endpoint;

/// Problems with replacing the endpoint's database at all.
std::vector<std::string> targetProblems(const Endpoint& target) {
  if (mysql::isSystemDatabase(target.location.database)) {
    return {fmt::format("{} is the server's own database {}: mig never replaces it",
                        target.describe(), target.location.database)};
  }
  return {};
}

/// After a load failed half-way: the database emptied again, so that it is
/// never left half-loaded. Returns what to add to the error.
std::string emptyAfterFailure(Connection& target, const mysql::DatabaseDefaults& defaults) {
  Status emptied = mysql::recreateDatabase(target, target.endpoint().location.database, defaults);
  if (!emptied) {
    return fmt::format("; emptying it again failed too ({}): it may be half-loaded",
                       emptied.error());
  }
  return "; the target database was emptied again";
}

/// "mysqldump exited with status 2" for a failed side of a pipeline.
std::string statusText(const std::string& program, int status) {
  if (status > 128) return fmt::format("{} was killed by signal {}", program, status - 128);
  return fmt::format("{} exited with status {}", program, status);
}

}  // namespace

int mysqlCopy(const DriverArgs& args, std::ostream& out, std::ostream& err) {
  auto from = mysql::endpointArgument(args, "from", "source", err);
  auto to = mysql::endpointArgument(args, "to", "target", err);
  if (!from || !to) return 2;
  std::string accountsMode = "create";
  if (auto it = args.options.find("accounts"); it != args.options.end()) accountsMode = it->second;
  if (accountsMode != "create" && accountsMode != "skip") {
    err << "mysql-copy: --accounts is create or skip, not '" << accountsMode << "'\n";
    return 2;
  }
  std::vector<std::string> users = mysql::usersArgument(args);
  std::string action = fmt::format("copy {} to {}", from->location.url(), to->location.url());
  const auto refuse = [&](const std::vector<std::string>& problems) {
    return refuseUnchanged(err, "mysql-copy", action, problems);
  };

  if (from->location.host == to->location.host && from->location.port == to->location.port &&
      from->location.database == to->location.database) {
    return refuse({"the source and the target are the same database"});
  }
  if (auto problems = targetProblems(*to); !problems.empty()) return refuse(problems);

  auto source = Connection::open(*from);
  if (!source) return refuse({source.error()});
  Result<mysql::SourceSurvey> survey = mysql::surveySource(**source);
  if (!survey) return refuse({survey.error()});
  auto target = Connection::open(*to, /*useDatabase=*/false);
  if (!target) return refuse({target.error()});
  mysql::AccountPlan accounts;
  if (accountsMode == "create" && !users.empty()) {
    Result<mysql::AccountPlan> plan = mysql::planAccounts(**source, **target, users);
    if (!plan) return refuse({plan.error()});
    accounts = std::move(*plan);
  }

  // DROP DATABASE removes table after table: a failure may have removed some.
  Status emptied = mysql::recreateDatabase(**target, to->location.database, survey->defaults);
  if (!emptied) {
    err << "mysql-copy: " << action << " failed: " << emptied.error() << '\n';
    return 1;
  }
  Result<PipelineOutcome> loaded =
      runPipeline({mysql::dumpCommand(*from), mysql::loadCommand(*to), {}});
  if (!loaded || !loaded->succeeded()) {
    std::string why = loaded ? loaded->failure() : loaded.error();
    err << "mysql-copy: " << action << " failed: " << why
        << emptyAfterFailure(**target, survey->defaults) << '\n';
    return 1;
  }
  Result<std::vector<std::string>> created = mysql::createAccounts(**target, accounts);
  if (!created) {
    err << "mysql-copy: the data is copied, but " << created.error() << '\n';
    return 1;
  }

  out << fmt::format("copied {} into {}: {}\n", from->location.database, to->describe(),
                     survey->summary());
  if (!created->empty()) {
    out << "accounts created: " << text::joined(*created, ", ") << '\n';
  }
  for (const mysql::AccountPlan::Account& account : accounts.accounts) {
    if (account.existsOnTarget)
      out << "account kept as it was on the target: " << account.name() << '\n';
  }
  for (const std::string& grant : accounts.notCarried) out << "not carried: " << grant << '\n';
  return 0;
}

int mysqlDump(const DriverArgs& args, std::ostream& out, std::ostream& err) {
  auto db = mysql::endpointArgument(args, "db", "source", err);
  auto file = args.require("file", err);
  if (!db || !file) return 2;
  std::string action = fmt::format("dump {} to {}", db->location.url(), *file);
  auto source = Connection::open(*db);
  if (!source) return refuseUnchanged(err, "mysql-dump", action, {source.error()});
  Result<mysql::SourceSurvey> survey = mysql::surveySource(**source);
  if (!survey) return refuseUnchanged(err, "mysql-dump", action, {survey.error()});

  // Written beside the file and renamed into place: a dump that fails
  // leaves no file, and never half of one where a whole one was.
  std::string partial = *file + ".partial";
  std::vector<std::string> argv = mysql::dumpCommand(*db);
  argv.insert(argv.end() - 1, "--result-file=" + partial);
  SubprocessRequest request;
  request.argv = argv;
  SubprocessResult result = runSubprocess(request);
  if (!result.succeeded()) {
    std::remove(partial.c_str());
    std::string why = text::trimmed(result.err);
    err << "mysql-dump: " << action << " failed (" << describeFailure(request, result) << ")"
        << (why.empty() ? "" : ": " + why) << '\n';
    return 1;
  }
  std::error_code ec;
  std::filesystem::rename(partial, *file, ec);
  if (ec) {
    std::remove(partial.c_str());
    err << "mysql-dump: cannot move the dump to " << *file << ": " << ec.message() << '\n';
    return 1;
  }
  out << fmt::format("dumped {} to {}: {}\n", db->location.database, *file, survey->summary());
  return 0;
}

namespace {

/// Why `path` is not a dump of one database that mysql-restore can load,
/// or "" when it is: a mysqldump header, and no USE or CREATE DATABASE
/// (which would load another database than the endpoint's).
std::string dumpFileProblem(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return fmt::format("cannot read {}: {}", path, std::strerror(errno));
  std::string line;
  std::getline(in, line);
  long number = 1;
  // MariaDB's mysqldump starts with a line for its own client.
  if (line.starts_with("/*M!999999\\- enable the sandbox mode */")) {
    std::getline(in, line);
    ++number;
  }
  if (!line.starts_with("-- MySQL dump") && !line.starts_with("-- MariaDB dump")) {
    return fmt::format(
        "{} does not start like a mysqldump file (\"-- MariaDB dump\" or "
        "\"-- MySQL dump\")",
        path);
  }
  while (std::getline(in, line)) {
    ++number;
    if (line.starts_with("USE ") || line.starts_with("CREATE DATABASE ")) {
      return fmt::format(
          "{}:{} switches to a database of its own ({}): it was made with --databases or "
          "--all-databases; mysql-restore loads dumps of one database",
          path, number, line.substr(0, 80));
    }
  }
  if (in.bad()) return fmt::format("cannot read {}: {}", path, std::strerror(errno));
  return "";
}

}  // namespace

int mysqlRestore(const DriverArgs& args, std::ostream& out, std::ostream& err) {
  auto db = mysql::endpointArgument(args, "db", "target", err);
  auto file = args.require("file", err);
  if (!db || !file) return 2;
  std::string action = fmt::format("restore {} into {}", *file, db->location.url());
  const auto refuse = [&](const std::vector<std::string>& problems) {
    return refuseUnchanged(err, "mysql-restore", action, problems);
  };
  if (auto problems = targetProblems(*db); !problems.empty()) return refuse(problems);
  if (std::string problem = dumpFileProblem(*file); !problem.empty()) return refuse({problem});
  auto target = Connection::open(*db, /*useDatabase=*/false);
  if (!target) return refuse({target.error()});
  auto defaults = mysql::databaseDefaults(**target, db->location.database);
  if (!defaults) return refuse({defaults.error()});

  Status emptied = mysql::recreateDatabase(**target, db->location.database, *defaults);
  if (!emptied) {
    err << "mysql-restore: " << action << " failed: " << emptied.error() << '\n';
    return 1;
  }
  Result<int> status = runWithInput(mysql::loadCommand(*db), *file, {});
  if (!status || *status != 0) {
    std::string why = status ? statusText("mysql", *status) : status.error();
    mysql::DatabaseDefaults kept = defaults->value_or(mysql::DatabaseDefaults{});
    err << "mysql-restore: " << action << " failed: " << why
        << (*defaults ? emptyAfterFailure(**target, kept) : "") << '\n';
    return 1;
  }
  out << fmt::format("restored {} into {}\n", *file, db->describe());
  return 0;
}

int mysqlWipe(const DriverArgs& args, std::ostream& out, std::ostream& err) {
  auto db = mysql::endpointArgument(args, "db", "target", err);
  if (!db) return 2;
  std::string action = "wipe " + db->location.url();
  if (auto problems = targetProblems(*db); !problems.empty()) {
    return refuseUnchanged(err, "mysql-wipe", action, problems);
  }
  auto target = Connection::open(*db, /*useDatabase=*/false);
  if (!target) return refuseUnchanged(err, "mysql-wipe", action, {target.error()});
  auto defaults = mysql::databaseDefaults(**target, db->location.database);
  if (!defaults) return refuseUnchanged(err, "mysql-wipe", action, {defaults.error()});
  Status emptied = mysql::recreateDatabase(**target, db->location.database, *defaults);
  if (!emptied) {
    err << "mysql-wipe: " << action << " failed: " << emptied.error() << '\n';
    return 1;
  }
  out << fmt::format("wiped: {} is empty\n", db->describe());
  return 0;
}

}  // namespace mig::drivers
