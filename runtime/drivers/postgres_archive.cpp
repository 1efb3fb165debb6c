#include "runtime/drivers/postgres_archive.h"

#include <fmt/format.h>

#include <regex>
#include <set>

#include "runtime/drivers/pipeline.h"
#include "runtime/drivers/subprocess.h"
#include "runtime/drivers/temporary_folder.h"

namespace mig::drivers::pg {
namespace {

/// The entry's description (TABLE, "TABLE DATA", BLOBS...) is between the
/// entry's ids and its schema; these are the ones a restore looks at.
bool hasDescription(const std::string& entry, std::string_view description) {
  return entry.find(fmt::format(" {} ", description)) != std::string::npos;
}

/// The owner closes an entry's line; entries without one end in a space.
std::string ownerOf(const std::string& entry) {
  if (entry.empty() || entry.back() == ' ') return "";
  return entry.substr(entry.rfind(' ') + 1);
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
  size_t start = 0;
  while (start < result.out.size()) {
    size_t end = result.out.find('\n', start);
    if (end == std::string::npos) end = result.out.size();
    std::string line = result.out.substr(start, end - start);
    start = end + 1;
    if (!line.empty() && line[0] != ';') entries.push_back(std::move(line));
  }
  return entries;
}

}  // namespace

std::string Archive::mainList() const {
  std::string list;
  for (const std::string& entry : entries) {
    if (!hasDescription(entry, "BLOBS")) list += entry + '\n';
  }
  return list;
}

std::string Archive::largeObjectsList() const {
  std::string list;
  for (const std::string& entry : entries) {
    if (hasDescription(entry, "BLOBS")) list += entry + '\n';
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

Result<Archive> readArchive(const std::string& path, Connection& target) {
  Archive archive;
  archive.path = path;
  auto entries = listEntries(path, /*withDatabase=*/false);
  if (!entries) return Error{entries.error()};
  archive.entries = std::move(*entries);
  auto withDatabase = listEntries(path, /*withDatabase=*/true);
  if (!withDatabase) return Error{withDatabase.error()};

  ArchiveNeeds& needs = archive.needs;
  std::set<std::string> owners;
  std::string aclList;
  for (const std::string& entry : archive.entries) {
    if (hasDescription(entry, "BLOBS")) archive.largeObjects = true;
    if (hasDescription(entry, "EXTENSION -")) {
      size_t name = entry.find(" EXTENSION - ") + 13;
      needs.extensions.push_back(entry.substr(name, entry.find(' ', name) - name));
    }
    if (hasDescription(entry, "ACL") || hasDescription(entry, "DEFAULT ACL")) aclList += entry + '\n';
    std::string owner = ownerOf(entry);
    if (hasDescription(entry, "SCHEMA - public")) needs.publicSchemaOwner = owner;
    if (!owner.empty() && !hasDescription(entry, "EXTENSION -")) owners.insert(owner);
  }
  needs.owners.assign(owners.begin(), owners.end());

  std::string databaseList;
  for (const std::string& entry : *withDatabase) {
    if (hasDescription(entry, "DATABASE -")) {
      size_t name = entry.find(" DATABASE - ") + 12;
      archive.sourceDatabase = entry.substr(name, entry.rfind(' ') - name);
    }
    if (hasDescription(entry, "COMMENT - DATABASE") || hasDescription(entry, "ACL - DATABASE") ||
        hasDescription(entry, "DATABASE PROPERTIES")) {
      databaseList += entry + '\n';
    }
  }

  // Grantees, and roles with default privileges, from the statements.
  std::set<std::string> grantees;
  std::set<std::string> defaultAclRoles;
  static const std::regex grant(R"(^(GRANT|REVOKE) .* (TO|FROM) ("(?:[^"]|"")+"|[^ ;]+)( WITH GRANT OPTION)?;$)");
  static const std::regex forRole(R"(^ALTER DEFAULT PRIVILEGES FOR ROLE ("(?:[^"]|"")+"|[^ ]+) )");
  if (!aclList.empty()) {
    Status read = restoreScript(archive, aclList, {}, [&](std::string_view text) {
      std::string line(text.substr(0, text.size() - (text.ends_with('\n') ? 1 : 0)));
      std::smatch match;
      if (line.starts_with("SET SESSION AUTHORIZATION")) needs.foreignGrants = true;
      if (std::regex_search(line, match, forRole)) defaultAclRoles.insert(unquoted(match[1].str()));
      if (std::regex_search(line, match, grant)) {
        std::string grantee = unquoted(match[3].str());
        if (grantee != "PUBLIC") grantees.insert(grantee);
      }
      return true;
    });
    if (!read) return Error{fmt::format("cannot read the archive {}: {}", path, read.error())};
  }
  needs.grantees.assign(grantees.begin(), grantees.end());
  needs.defaultAclRoles.assign(defaultAclRoles.begin(), defaultAclRoles.end());

  // The database's own statements name the database it came from: they
  // are turned to the target's.
  if (!databaseList.empty() && !archive.sourceDatabase.empty()) {
    // Both names as pg_dump writes them: quoted only when they must be.
    Result<Rows> names = target.query("SELECT quote_ident($1), quote_ident(current_database())",
                                      {archive.sourceDatabase});
    if (!names) return Error{names.error()};
    std::string from = " DATABASE " + names->text(0, 0);
    std::string to = " DATABASE " + names->text(0, 1);
    static const std::regex roleSetting(R"(^ALTER ROLE ("(?:[^"]|"")+"|[^ ]+) IN DATABASE )");
    // Statements may span lines (a comment's text): a line ending in ';'
    // outside quotes ends one.
    std::string statement;
    size_t quotes = 0;
    Status read = restoreScript(archive, databaseList, {"--create"}, [&](std::string_view text) {
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
      bool wanted = line.starts_with("COMMENT ON DATABASE ") || line.starts_with("GRANT ") ||
                    line.starts_with("REVOKE ") || line.starts_with("ALTER ROLE ") ||
                    (line.starts_with("ALTER DATABASE ") && line.find(" OWNER TO ") == std::string::npos);
      if (!wanted) return true;
      if (size_t at = line.find(from); at != std::string::npos) line.replace(at, from.size(), to);
      std::smatch match;
      if (std::regex_search(line, match, roleSetting)) {
        needs.roleSettingRoles.push_back(unquoted(match[1].str()));
      } else {
        needs.databaseState = true;
      }
      needs.databaseSql += line;
      return true;
    });
    if (!read) return Error{fmt::format("cannot read the archive {}: {}", path, read.error())};
  }
  return archive;
}

}  // namespace mig::drivers::pg
