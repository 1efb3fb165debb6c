#include "runtime/drivers/postgres_archive.h"

#include <fmt/format.h>

#include <algorithm>
#include <regex>
#include <set>

#include "runtime/drivers/pipeline.h"
#include "runtime/drivers/subprocess.h"
#include "runtime/drivers/temporary_folder.h"
#include "runtime/drivers/text.h"

namespace mig::drivers::pg {
namespace {

/// What follows an entry's ids ("215; 1259 16386 "): its description
/// (TABLE, "TABLE DATA", BLOBS...), schema, name and owner.
std::string_view afterIds(std::string_view entry) {
  size_t spaces = 0;
  for (size_t i = 0; i < entry.size(); ++i) {
    if (entry[i] == ' ' && ++spaces == 3) return entry.substr(i + 1);
  }
  return {};
}

/// True when the entry is of `description` ("BLOBS", "EXTENSION"): a
/// table named BLOBS is not.
bool described(std::string_view entry, std::string_view description) {
  std::string_view rest = afterIds(entry);
  return rest.starts_with(description) && rest.size() > description.size() &&
         rest[description.size()] == ' ';
}

/// An identifier as pg_dump prints it, without its quotes.
std::string unquoted(std::string_view name) {
  if (name.size() < 2 || name.front() != '"') return std::string(name);
  std::string text;
  for (size_t i = 1; i + 1 < name.size(); ++i) {
    text += name[i];
    if (name[i] == '"' && name[i + 1] == '"') ++i;
  }
  return text;
}

Result<std::vector<std::string>> listEntries(const std::string& path, bool withDatabase) {
  SubprocessRequest request;
  request.argv = {"pg_restore", "--list"};
  if (withDatabase) request.argv.push_back("--create");
  request.argv.push_back(path);
  request.timeout = std::chrono::minutes(10);
  SubprocessResult result = runSubprocess(request);
  if (!result.succeeded()) {
    std::string why = result.err.empty() ? describeFailure(request, result) : result.err;
    while (!why.empty() && why.back() == '\n') why.pop_back();
    return Error{fmt::format("cannot read the archive {}: {}", path, why)};
  }
  std::vector<std::string> entries;
  for (std::string& line : text::lines(result.out)) {
    if (!line.empty() && line[0] != ';') entries.push_back(std::move(line));
  }
  return entries;
}

}  // namespace

std::string Archive::mainList() const {
  std::string list;
  for (const std::string& entry : entries) {
    if (!described(entry, "BLOBS")) list += entry + '\n';
  }
  return list;
}

std::string Archive::largeObjectsList() const {
  std::string list;
  for (const std::string& entry : entries) {
    if (described(entry, "BLOBS")) list += entry + '\n';
  }
  return list;
}

Status restoreScript(const Archive& archive, const std::string& list,
                     const std::vector<std::string>& arguments,
                     const std::function<bool(std::string_view line)>& line) {
  auto folder = TemporaryFolder::create("mig-restore");
  if (!folder) return Error{folder.error()};
  Result<std::string> listPath = folder->write("entries.list", list);
  if (!listPath) return Error{listPath.error()};
  std::vector<std::string> argv = {"pg_restore", "--use-list=" + *listPath, "--file=-"};
  argv.insert(argv.end(), arguments.begin(), arguments.end());
  argv.push_back(archive.path);
  return streamLines(argv, line);
}

namespace {

/// Owners, grantees, roles with default privileges, extensions, and what
/// only a superuser can replay, from the table of contents and the
/// statements that name roles.
Status readRoles(Archive& archive) {
  ArchiveNeeds& needs = archive.needs;
  std::string aclList;
  std::string schemaList;
  for (const std::string& entry : archive.entries) {
    if (described(entry, "BLOBS")) {
      archive.largeObjects = true;
      continue;
    }
    if (described(entry, "EXTENSION")) {
      std::string_view rest = afterIds(entry).substr(12);  // "EXTENSION - "
      needs.extensions.emplace_back(rest.substr(0, rest.find(' ')));
    }
    if (described(entry, "EVENT TRIGGER") || described(entry, "FOREIGN DATA WRAPPER")) {
      needs.superuserOnly.emplace_back(afterIds(entry));
    }
    if (described(entry, "TABLE") || described(entry, "INDEX") || described(entry, "SEQUENCE") ||
        described(entry, "MATERIALIZED VIEW") || described(entry, "VIEW")) {
      // A table may have a TOAST table and its index too.
      needs.relations += described(entry, "TABLE") ? 3 : 1;
    }
    if (described(entry, "ACL") || described(entry, "DEFAULT ACL")) {
      aclList += entry + '\n';
    } else if (!described(entry, "TABLE DATA") && !described(entry, "SEQUENCE SET")) {
      schemaList += entry + '\n';
    }
  }

  // pg_dump writes one statement a line for these: OWNER TO closes an
  // ALTER, and an ACL entry holds only GRANT, REVOKE and SET SESSION
  // AUTHORIZATION.
  static const std::regex ownerTo(R"(^ALTER [A-Z ]+ .* OWNER TO ("(?:[^"]|"")+"|[^ ;"]+);$)");
  static const std::regex grant(
      R"(^(GRANT|REVOKE) .* (TO|FROM) ("(?:[^"]|"")+"|[^ ;]+)( WITH GRANT OPTION)?;$)");
  static const std::regex forRole(R"(^ALTER DEFAULT PRIVILEGES FOR ROLE ("(?:[^"]|"")+"|[^ ]+) )");
  std::set<std::string> owners;
  std::set<std::string> grantees;
  std::set<std::string> defaultAclRoles;
  auto statement = [](std::string_view text) {
    return std::string(text.substr(0, text.size() - (text.ends_with('\n') ? 1 : 0)));
  };
  Status schema = restoreScript(archive, schemaList, {"--schema-only"}, [&](std::string_view text) {
    std::string line = statement(text);
    std::smatch match;
    if (std::regex_match(line, match, ownerTo)) {
      std::string owner = unquoted(match[1].str());
      owners.insert(owner);
      if (line.starts_with("ALTER SCHEMA public OWNER TO ")) needs.publicSchemaOwner = owner;
    }
    return true;
  });
  if (!schema) return schema;
  if (!aclList.empty()) {
    Status acls = restoreScript(archive, aclList, {}, [&](std::string_view text) {
      std::string line = statement(text);
      std::smatch match;
      if (line.starts_with("SET SESSION AUTHORIZATION")) needs.foreignGrants = true;
      if (std::regex_search(line, match, forRole)) defaultAclRoles.insert(unquoted(match[1].str()));
      if (std::regex_search(line, match, grant)) {
        std::string grantee = unquoted(match[3].str());
        if (grantee != "PUBLIC") grantees.insert(grantee);
      }
      return true;
    });
    if (!acls) return acls;
  }
  needs.owners.assign(owners.begin(), owners.end());
  needs.grantees.assign(grantees.begin(), grantees.end());
  needs.defaultAclRoles.assign(defaultAclRoles.begin(), defaultAclRoles.end());
  return success();
}

/// The database's own statements (settings, roles' settings in it,
/// comment, privileges), which name the database the archive came from:
/// turned to the target's.
Status readDatabaseState(Archive& archive, const std::vector<std::string>& withDatabase,
                         Connection& target) {
  ArchiveNeeds& needs = archive.needs;
  std::string databaseList;
  for (const std::string& entry : withDatabase) {
    std::string_view rest = afterIds(entry);
    if (rest.starts_with("DATABASE - ")) {
      std::string_view name = rest.substr(11);
      archive.sourceDatabase = std::string(name.substr(0, name.rfind(' ')));
    }
    if (rest.starts_with("COMMENT - DATABASE ") || rest.starts_with("ACL - DATABASE ") ||
        described(entry, "DATABASE PROPERTIES")) {
      databaseList += entry + '\n';
    }
  }
  if (databaseList.empty() || archive.sourceDatabase.empty()) return success();

  // Both names as pg_dump writes them: quoted only when they must be.
  Result<Rows> names = target.query("SELECT quote_ident($1), quote_ident(current_database())",
                                    {archive.sourceDatabase});
  if (!names) return Error{names.error()};
  const std::string from = names->text(0, 0);
  const std::string to = names->text(0, 1);
  // What goes, with where the database's name is in it. ALTER DATABASE
  // ... CONNECTION LIMIT or IS_TEMPLATE and its owner are the platform's.
  const std::vector<std::string> prefixes = {"COMMENT ON DATABASE " + from + " IS ",
                                             "ALTER DATABASE " + from + " SET ",
                                             "ALTER DATABASE " + from + " RESET "};
  static const std::regex onDatabase(R"(^(GRANT|REVOKE) [A-Z, ]+ ON DATABASE )");
  static const std::regex roleSetting(R"(^ALTER ROLE ("(?:[^"]|"")+"|[^ ]+) IN DATABASE )");

  // Statements may span lines (a comment's text): a line ending in ';'
  // outside quotes ends one.
  std::string statement;
  size_t quotes = 0;
  return restoreScript(archive, databaseList, {"--create"}, [&](std::string_view text) {
    bool between = statement.empty() && (text.starts_with('\\') || text.starts_with("--") ||
                                         text.find_first_not_of(" \n") == std::string_view::npos);
    if (between) return true;
    statement += text;
    for (char c : text) quotes += c == '\'';
    std::string_view end = text.substr(0, text.find_last_not_of("\n") + 1);
    if (!end.ends_with(';') || quotes % 2 != 0) return true;
    std::string line = std::move(statement);
    statement.clear();
    quotes = 0;
    std::smatch match;
    std::string name = " DATABASE " + from;
    if (std::regex_search(line, match, roleSetting) &&
        line.compare(match.length(0) - 10, name.size() + 1, name + " ") == 0) {
      needs.roleSettingRoles.push_back(unquoted(match[1].str()));
    } else if (std::regex_search(line, match, onDatabase) &&
               line.compare(match.length(0) - 10, name.size() + 1, name + " ") == 0) {
      needs.databaseState = true;
    } else if (std::any_of(prefixes.begin(), prefixes.end(),
                           [&](const std::string& prefix) { return line.starts_with(prefix); })) {
      needs.databaseState = true;
    } else {
      return true;
    }
    line.replace(line.find(name), name.size(), " DATABASE " + to);
    needs.databaseSql += line;
    return true;
  });
}

}  // namespace

Result<Archive> readArchive(const std::string& path, Connection& target) {
  Archive archive;
  archive.path = path;
  auto entries = listEntries(path, /*withDatabase=*/false);
  if (!entries) return Error{entries.error()};
  archive.entries = std::move(*entries);
  auto withDatabase = listEntries(path, /*withDatabase=*/true);
  if (!withDatabase) return Error{withDatabase.error()};
  Status roles = readRoles(archive);
  if (!roles) return Error{fmt::format("cannot read the archive {}: {}", path, roles.error())};
  Status database = readDatabaseState(archive, *withDatabase, target);
  if (!database)
    return Error{fmt::format("cannot read the archive {}: {}", path, database.error())};
  return archive;
}

}  // namespace mig::drivers::pg
