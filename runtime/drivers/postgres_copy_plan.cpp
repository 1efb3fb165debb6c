// Planning a PostgreSQL copy: what the source needs of the target (roles,
// owners, extensions, privileges to replay), what the target allows the
// connecting user, and the SQL around pg_dump's output.
#include "runtime/drivers/postgres_copy_plan.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>

#include "runtime/drivers/postgres_catalog.h"
#include "runtime/drivers/postgres_inspect.h"
#include "runtime/drivers/subprocess.h"
#include "runtime/drivers/text.h"

namespace mig::drivers::pg {
namespace {

/// Whether the target's user can become `role` for ALTER ... OWNER TO and
/// ALTER DEFAULT PRIVILEGES FOR ROLE: a superuser can; otherwise it must
/// be a member, or have CREATEROLE (the prelude then grants it the role).
/// Adds a problem, or the role to `join`, as needed.
void ensureCanActAs(const std::string& role, bool roleIsSuperuser, const std::string& why,
                    const TargetFacts& target, std::vector<std::string>& join,
                    std::vector<std::string>& problems) {
  if (target.superuser || target.memberOf.contains(role)) return;
  if (roleIsSuperuser) {
    problems.push_back(fmt::format(
        "target: {}: role {} is a superuser, and only a superuser can act as it; {} is not one "
        "(connect as a superuser, or use owners: reassign)",
        why, role, target.user));
    return;
  }
  if (target.createRole) {
    if (std::find(join.begin(), join.end(), role) == join.end()) join.push_back(role);
    return;
  }
  problems.push_back(fmt::format(
      "target: {}: {} must be a member of role {} (or a superuser, or have CREATEROLE so that mig "
      "can grant it the role)",
      why, target.user, role));
}

/// Extensions the target must be able to create, at the source's version.
Status checkExtensions(Connection& target, const SourceFacts& source, const std::string& creator,
                       bool creatorIsSuperuser, CopyPlan& plan) {
  for (const auto& [name, version] : source.extensions) {
    Result<Rows> available = target.query(R"SQL(
SELECT v.superuser, v.trusted, e.default_version,
       EXISTS (SELECT FROM pg_extension_update_paths($1) p
                WHERE p.source = e.default_version AND p.target = $2 AND p.path IS NOT NULL)
  FROM pg_available_extension_versions v JOIN pg_available_extensions e ON e.name = v.name
 WHERE v.name = $1 AND v.version = $2)SQL",
                                          {name, version});
    if (!available) {
      // pg_extension_update_paths fails for an extension not installed at all.
      available = target.query(
          "SELECT v.superuser, v.trusted, e.default_version, false FROM "
          "pg_available_extension_versions v JOIN pg_available_extensions e ON e.name = v.name "
          "WHERE v.name = $1 AND v.version = $2",
          {name, version});
      if (!available) return Error{available.error()};
    }
    if (available->empty()) {
      plan.problems.push_back(fmt::format(
          "target: extension {} version {} is not available on the target server (install its "
          "package there)",
          name, version));
      continue;
    }
    bool needsSuperuser = available->boolean(0, 0) && !available->boolean(0, 1);
    if (needsSuperuser && !creatorIsSuperuser) {
      plan.problems.push_back(
          fmt::format("target: extension {} can only be created by a superuser, and {} is not one",
                      name, creator));
    }
    std::string defaultVersion = available->text(0, 2);
    if (defaultVersion != version) {
      if (available->boolean(0, 3)) {
        plan.extensionUpdates.emplace_back(name, version);
      } else {
        plan.problems.push_back(fmt::format(
            "target: extension {} would be created at version {} (the target's default) and "
            "cannot be brought to the source's version {}",
            name, defaultVersion, version));
      }
    }
  }
  return success();
}

void planRoles(const SourceFacts& source, const TargetFacts& target, const CopyOptions& options,
               CopyPlan& plan) {
  std::set<std::string> created;
  for (const RoleDefinition& role : source.roles) {
    if (target.roles.contains(role.name)) continue;
    if (role.superuser && !role.referenced) {
      plan.notes.push_back(fmt::format(
          "role {} (a superuser on the source) is a member of a role the database uses, and is "
          "not on the target: mig does not create superusers; create it if the application logs "
          "in as it",
          role.name));
      continue;
    }
    if (options.roles == CopyOptions::Roles::Require) {
      plan.problems.push_back(fmt::format(
          "target: role {} does not exist (roles: require); the database needs it", role.name));
      continue;
    }
    if (role.superuser) {
      plan.problems.push_back(fmt::format(
          "target: role {} does not exist and is a superuser on the source: mig does not create "
          "superusers (create it yourself; if it only owns objects, owners: reassign gives them "
          "to another role)",
          role.name));
      continue;
    }
    if (!target.superuser && !target.createRole) {
      plan.problems.push_back(fmt::format(
          "target: role {} does not exist, and {} may not create roles (it needs CREATEROLE, or "
          "create the role yourself)",
          role.name, target.user));
      continue;
    }
    if ((role.replication || role.bypassRls) && !target.superuser) {
      plan.problems.push_back(fmt::format(
          "target: role {} has the {} attribute on the source, which only a superuser can give",
          role.name, role.replication ? "REPLICATION" : "BYPASSRLS"));
      continue;
    }
    if (role.login && !role.passwordHash) {
      plan.notes.push_back(fmt::format(
          "role {} is created without a password (passwords: true copies it)", role.name));
    }
    created.insert(role.name);
    plan.rolesToCreate.push_back(role);
  }
  for (const Membership& membership : source.memberships) {
    bool groupThere = target.roles.contains(membership.group) || created.contains(membership.group);
    bool memberThere =
        target.roles.contains(membership.member) || created.contains(membership.member);
    if (!memberThere) continue;  // already a problem
    if (target.memberships.contains({membership.group, membership.member})) continue;
    if (!groupThere) {
      plan.notes.push_back(fmt::format(
          "role {} is a member of {} on the source; {} holds nothing in this database and is not "
          "on the target, so the membership is not carried",
          membership.member, membership.group, membership.group));
      continue;
    }
    if (options.roles == CopyOptions::Roles::Require) {
      plan.problems.push_back(fmt::format("target: role {} is not a member of {} (roles: require)",
                                          membership.member, membership.group));
      continue;
    }
    bool groupIsSuperuser =
        target.roles.contains(membership.group) && target.roles.at(membership.group);
    if (!target.superuser && !(target.createRole && !groupIsSuperuser)) {
      plan.problems.push_back(
          fmt::format("target: role {} must become a member of {}, which {} may not grant",
                      membership.member, membership.group, target.user));
      continue;
    }
    plan.membershipsToGrant.push_back(membership);
  }
}

/// Database-level state: settings, comment and privileges need the
/// database's owner; roles' settings in it need CREATEROLE (or the role).
void checkDatabaseState(const DatabaseState& state, const TargetFacts& target,
                        std::vector<std::string>& problems) {
  bool ownState = state.comment || !state.privileges.empty() || state.privilegesKnown;
  for (const Setting& setting : state.settings) ownState = ownState || setting.role.empty();
  if (ownState && !target.databaseOwner) {
    problems.push_back(
        fmt::format("target: only the owner of database {} or a superuser can give it the source's "
                    "privileges (PUBLIC's included), settings and comment; {} is neither",
                    target.database, target.user));
  }
  std::set<std::string> refused;
  for (const Setting& setting : state.settings) {
    if (setting.role.empty() || refused.contains(setting.role)) continue;
    auto role = target.roles.find(setting.role);
    bool roleIsSuperuser = role != target.roles.end() && role->second;
    bool allowed =
        target.superuser || setting.role == target.user || (target.createRole && !roleIsSuperuser);
    if (allowed) continue;
    refused.insert(setting.role);
    problems.push_back(fmt::format(
        "target: role {} has settings in the source database (ALTER ROLE ... IN DATABASE ... "
        "SET), which {} may not set: that needs {}",
        setting.role, target.user,
        roleIsSuperuser ? "a superuser" : "a superuser or the CREATEROLE attribute"));
  }
}

/// owners: reassign: the role that gets every object (the target's user
/// when none is named) must exist, or be created, and the target's user
/// must be able to give objects to it.
void planReassignment(const CopyOptions& options, const TargetFacts& target, CopyPlan& plan) {
  std::string owner = options.owner.empty() ? target.user : options.owner;
  plan.reassignTo = owner;
  bool created = std::any_of(plan.rolesToCreate.begin(), plan.rolesToCreate.end(),
                             [&](const RoleDefinition& role) { return role.name == owner; });
  auto existing = target.roles.find(owner);
  if (existing == target.roles.end() && !created) {
    plan.problems.push_back(fmt::format(
        "target: role {} does not exist, so it cannot own the objects (owners: reassign)", owner));
  } else {
    bool ownerIsSuperuser = existing != target.roles.end() && existing->second;
    ensureCanActAs(owner, ownerIsSuperuser,
                   fmt::format("owners: reassign makes {} the owner of every object", owner),
                   target, plan.rolesToJoin, plan.problems);
  }
  plan.notes.push_back(fmt::format("every object is owned by {} (owners: reassign)", owner));
}

/// The target's wipe, with its problems among the plan's.
Status attachWipe(Connection& target, CopyPlan& plan) {
  Result<WipePlan> wipe = planWipe(target);
  if (!wipe) return Error{fmt::format("cannot read the target: {}", wipe.error())};
  plan.wipe = std::move(*wipe);
  for (const std::string& problem : plan.wipe.problems)
    plan.problems.push_back("target: " + problem);
  return success();
}

/// One transaction holds a lock on every relation it drops or creates;
/// past what the target's lock table holds, the load goes in many.
void checkLockCapacity(long long relations, const TargetFacts& target, CopyPlan& plan) {
  long long locks = relations + target.relations;
  if (locks * 10 <= target.lockCapacity * 8) return;
  plan.singleTransaction = false;
  plan.notes.push_back(fmt::format(
      "the copy touches about {} relations, more than the target's lock table holds in one "
      "transaction ({} = max_locks_per_transaction x connections): it loads in many "
      "transactions, and a failure leaves the target partly loaded (its undo wipes it)",
      text::withThousands(locks), text::withThousands(target.lockCapacity)));
}

}  // namespace

std::string settingClause(const Connection& connection, const std::string& assignment) {
  size_t equals = assignment.find('=');
  std::string name = assignment.substr(0, equals);
  std::string value = equals == std::string::npos ? "" : assignment.substr(equals + 1);
  std::string setting = connection.identifier(name);
  // As pg_dump does: these settings keep a list whose elements were stored
  // quoted one by one ("$user", public); each goes back as a literal.
  static const std::set<std::string> listSettings = {
      "local_preload_libraries",  "search_path",      "session_preload_libraries",
      "shared_preload_libraries", "temp_tablespaces", "unix_socket_directories"};
  std::string lower = name;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (!listSettings.contains(lower))
    return fmt::format("SET {} = {}", setting, connection.literal(value));
  std::vector<std::string> elements;
  std::string element;
  bool quoted = false;
  bool wasQuoted = false;  // its spaces are its own
  for (size_t i = 0; i <= value.size(); ++i) {
    char c = i < value.size() ? value[i] : ',';
    if (quoted) {
      if (c == '"' && i + 1 < value.size() && value[i + 1] == '"') {
        element += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        element += c;
      }
    } else if (c == '"') {
      quoted = true;
      wasQuoted = true;
    } else if (c == ',') {
      elements.push_back(connection.literal(wasQuoted ? element : text::trimmed(element)));
      element.clear();
      wasQuoted = false;
    } else if (c != ' ' || !element.empty()) {
      element += c;
    }
  }
  return fmt::format("SET {} = {}", setting, text::joined(elements, ", "));
}

Result<ClientVersion> localPgDumpVersion() {
  SubprocessRequest request;
  request.argv = {"pg_dump", "--version"};
  request.timeout = std::chrono::seconds(30);
  SubprocessResult result = runSubprocess(request);
  if (!result.succeeded()) return Error{describeFailure(request, result)};
  // "pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)"
  size_t at = result.out.find(") ");
  if (at == std::string::npos) return Error{"cannot read the version of pg_dump: " + result.out};
  ClientVersion version;
  version.major = std::atoi(result.out.c_str() + at + 2);
  size_t dot = result.out.find('.', at);
  if (dot != std::string::npos) version.minor = std::atoi(result.out.c_str() + dot + 1);
  return version;
}

namespace {

/// The client checks: pg_dump as new as the source (it refuses newer
/// servers) and not newer than the target (its SQL may use what the target
/// lacks), and with the \restrict guard against a hostile source
/// (CVE-2025-8714).
void checkClient(int sourceMajor, int targetMajor, std::vector<std::string>& problems) {
  Result<ClientVersion> pgDump = localPgDumpVersion();
  if (!pgDump) {
    problems.push_back("pg_dump: " + pgDump.error());
    return;
  }
  if (pgDump->major < sourceMajor) {
    problems.push_back(fmt::format(
        "pg_dump {} cannot dump PostgreSQL {}: install the client of version {} or newer",
        pgDump->major, sourceMajor, sourceMajor));
  } else if (pgDump->major > targetMajor) {
    problems.push_back(fmt::format(
        "pg_dump {} writes SQL for PostgreSQL {}, which the target's PostgreSQL {} may not run: "
        "use the client of version {}",
        pgDump->major, pgDump->major, targetMajor, targetMajor));
  }
  static const std::map<int, int> guardedSince = {{13, 22}, {14, 19}, {15, 14}, {16, 10}, {17, 6}};
  auto guarded = guardedSince.find(pgDump->major);
  bool unguarded =
      pgDump->major < 13 || (guarded != guardedSince.end() && pgDump->minor < guarded->second);
  if (unguarded) {
    problems.push_back(
        fmt::format("pg_dump {}.{} lets names from the source run psql commands on this machine "
                    "(CVE-2025-8714): update the PostgreSQL client to the latest minor release",
                    pgDump->major, pgDump->minor));
  }
}

}  // namespace

Result<CopyPlan> planCopy(Connection& source, Connection& target, const CopyOptions& options) {
  Result<SourceFacts> sourceFacts = readSource(source, options);
  if (!sourceFacts) return Error{fmt::format("cannot read the source: {}", sourceFacts.error())};
  Result<TargetFacts> targetFacts = readTarget(target);
  if (!targetFacts) return Error{fmt::format("cannot read the target: {}", targetFacts.error())};
  const SourceFacts& from = *sourceFacts;
  const TargetFacts& to = *targetFacts;

  CopyPlan plan;
  plan.targetDatabase = to.database;
  plan.targetUser = to.user;
  plan.targetVersion = to.version;
  plan.database = from.database;
  plan.problems = from.problems;

  int sourceMajor = from.version / 10000;
  int targetMajor = to.version / 10000;
  if (targetMajor < sourceMajor) {
    plan.problems.push_back(fmt::format(
        "target: PostgreSQL {} is older than the source's {}: a dump loads only into the same or "
        "a newer major version",
        targetMajor, sourceMajor));
  }
  checkClient(sourceMajor, targetMajor, plan.problems);
  // The same server (started at the same moment) and the same database.
  const char* identity =
      "SELECT current_database() || '/' || pg_postmaster_start_time() || '/' || "
      "(SELECT oid FROM pg_database WHERE datname = current_database())";
  Result<Rows> sourceId = source.query(identity);
  if (!sourceId) return Error{fmt::format("cannot read the source: {}", sourceId.error())};
  Result<Rows> targetId = target.query(identity);
  if (!targetId) return Error{fmt::format("cannot read the target: {}", targetId.error())};
  if (sourceId->text(0, 0) == targetId->text(0, 0)) {
    plan.problems.push_back("the source and the target are the same database");
  }

  planRoles(from, to, options, plan);
  std::map<std::string, bool> superuserRoles;  // source roles -> superuser
  for (const RoleDefinition& role : from.roles) superuserRoles[role.name] = role.superuser;

  std::string creator = to.user;
  bool creatorIsSuperuser = to.superuser;
  if (options.owners == CopyOptions::Owners::Keep) {
    for (const auto& owner : from.owners) {
      std::string objects = text::joined(owner.objects, ", ");
      long long more = owner.count - static_cast<long long>(owner.objects.size());
      if (more > 0) objects += fmt::format(" and {} more", more);
      ensureCanActAs(owner.name, owner.superuser,
                     fmt::format("{} owns {} on the source ({})", owner.name,
                                 text::counted(owner.count, "object"), objects),
                     to, plan.rolesToJoin, plan.problems);
    }
  } else {
    planReassignment(options, to, plan);
  }
  for (const std::string& role : from.defaultAclRoles) {
    ensureCanActAs(role, superuserRoles[role],
                   fmt::format("the source has default privileges for role {}", role), to,
                   plan.rolesToJoin, plan.problems);
  }
  if (!creatorIsSuperuser && !from.superuserOnly.empty()) {
    plan.problems.push_back(fmt::format("target: only a superuser can create {}, and {} is not one",
                                        someOf(from.superuserOnly), creator));
  }
  if (!to.superuser && !from.foreignGrants.empty()) {
    std::vector<std::string> grants;
    for (const auto& [object, grantor] : from.foreignGrants) {
      grants.push_back(fmt::format("{} (granted by {})", object, grantor));
    }
    plan.problems.push_back(fmt::format(
        "target: privileges granted by a role other than the object's owner are replayed as that "
        "role (SET SESSION AUTHORIZATION), which needs a superuser: {}",
        someOf(grants)));
  }
  Status extensions = checkExtensions(target, from, creator, creatorIsSuperuser, plan);
  if (!extensions) return Error{extensions.error()};
  checkDatabaseState(from.database, to, plan.problems);

  Status wipe = attachWipe(target, plan);
  if (!wipe) return Error{wipe.error()};

  checkLockCapacity(from.relations, to, plan);
  return plan;
}

Result<CopyPlan> planRestore(const ArchiveNeeds& archive, Connection& target,
                             const CopyOptions& options) {
  Result<TargetFacts> targetFacts = readTarget(target);
  if (!targetFacts) return Error{fmt::format("cannot read the target: {}", targetFacts.error())};
  const TargetFacts& to = *targetFacts;
  CopyPlan plan;
  plan.targetDatabase = to.database;
  plan.targetUser = to.user;
  plan.targetVersion = to.version;
  plan.databaseSql = archive.databaseSql;
  plan.database.publicSchemaOwner = archive.publicSchemaOwner;

  std::set<std::string> missing;
  auto require = [&](const std::string& role, const std::string& why) {
    if (to.roles.contains(role) || role.starts_with("pg_") || missing.contains(role)) return;
    missing.insert(role);
    plan.problems.push_back(fmt::format(
        "target: role {} does not exist; {} (an archive holds no role definitions: create the "
        "roles first, or copy from the live database)",
        role, why));
  };
  bool keep = options.owners == CopyOptions::Owners::Keep;
  if (keep) {
    for (const std::string& owner : archive.owners)
      require(owner, "the archive's objects are owned by it");
  }
  for (const std::string& grantee : archive.grantees)
    require(grantee, "the archive grants it privileges");
  for (const std::string& role : archive.defaultAclRoles)
    require(role, "the archive has default privileges for it");
  for (const std::string& role : archive.roleSettingRoles)
    require(role, "it has settings in the database");

  auto isSuperuser = [&](const std::string& role) {
    auto it = to.roles.find(role);
    return it != to.roles.end() && it->second;
  };
  std::string creator = to.user;
  bool creatorIsSuperuser = to.superuser;
  if (keep) {
    for (const std::string& owner : archive.owners) {
      if (missing.contains(owner) || owner.starts_with("pg_")) continue;
      ensureCanActAs(owner, isSuperuser(owner),
                     fmt::format("{} owns objects of the archive", owner), to, plan.rolesToJoin,
                     plan.problems);
    }
  } else {
    planReassignment(options, to, plan);
  }
  for (const std::string& role : archive.defaultAclRoles) {
    if (missing.contains(role)) continue;
    ensureCanActAs(role, isSuperuser(role),
                   fmt::format("the archive has default privileges for role {}", role), to,
                   plan.rolesToJoin, plan.problems);
  }
  if (!to.superuser && !archive.superuserOnly.empty()) {
    plan.problems.push_back(fmt::format("target: only a superuser can create {}, and {} is not one",
                                        someOf(archive.superuserOnly), to.user));
  }
  if (archive.foreignGrants && !to.superuser) {
    plan.problems.push_back(
        "target: the archive has privileges granted by a role other than the object's owner, "
        "replayed as that role (SET SESSION AUTHORIZATION), which needs a superuser");
  }
  for (const std::string& extension : archive.extensions) {
    Result<Rows> available = target.query(
        "SELECT superuser AND NOT trusted FROM pg_available_extension_versions WHERE name = $1 "
        "AND version = (SELECT default_version FROM pg_available_extensions WHERE name = $1)",
        {extension});
    if (!available) return Error{available.error()};
    if (available->empty()) {
      plan.problems.push_back(fmt::format(
          "target: extension {} is not available on the target server (install its package "
          "there)",
          extension));
    } else if (available->boolean(0, 0) && !creatorIsSuperuser) {
      plan.problems.push_back(
          fmt::format("target: extension {} can only be created by a superuser, and {} is not one",
                      extension, creator));
    }
  }
  DatabaseState state;
  if (archive.databaseState) state.comment = "";  // any database-level statement needs the owner
  for (const std::string& role : archive.roleSettingRoles) state.settings.push_back({role, ""});
  checkDatabaseState(state, to, plan.problems);

  Status wipe = attachWipe(target, plan);
  if (!wipe) return Error{wipe.error()};
  checkLockCapacity(archive.relations, to, plan);
  return plan;
}

std::string CopyPlan::prelude(Connection& target) const {
  // The session waits, idle in its transaction, while pg_dump reads the
  // source's catalogs; the target's own limits must not end it.
  std::string sql =
      "SET client_min_messages = warning;\nSET statement_timeout = 0;\nSET lock_timeout = 0;\n"
      "SET idle_in_transaction_session_timeout = 0;\n";
  if (targetVersion >= 170000) sql += "SET transaction_timeout = 0;\n";
  if (singleTransaction) sql += "BEGIN;\n";
  for (const RoleDefinition& role : rolesToCreate) {
    std::string name = target.identifier(role.name);
    sql += fmt::format(
        "CREATE ROLE {} WITH {}SUPERUSER {}INHERIT {}CREATEROLE {}CREATEDB {}LOGIN "
        "{}REPLICATION {}BYPASSRLS CONNECTION LIMIT {}",
        name, role.superuser ? "" : "NO", role.inherit ? "" : "NO", role.createRole ? "" : "NO",
        role.createDb ? "" : "NO", role.login ? "" : "NO", role.replication ? "" : "NO",
        role.bypassRls ? "" : "NO", role.connectionLimit);
    if (!role.validUntil.empty()) sql += " VALID UNTIL " + target.literal(role.validUntil);
    if (role.passwordHash) sql += " PASSWORD " + target.literal(*role.passwordHash);
    sql += ";\n";
    if (role.comment)
      sql += fmt::format("COMMENT ON ROLE {} IS {};\n", name, target.literal(*role.comment));
    for (const std::string& setting : role.settings) {
      sql += fmt::format("ALTER ROLE {} {};\n", name, settingClause(target, setting));
    }
  }
  for (const Membership& membership : membershipsToGrant) {
    sql += fmt::format("GRANT {} TO {}{};\n", target.identifier(membership.group),
                       target.identifier(membership.member),
                       membership.adminOption ? " WITH ADMIN OPTION" : "");
  }
  for (const std::string& role : rolesToJoin) {
    sql += fmt::format("GRANT {} TO {};\n", target.identifier(role), target.identifier(targetUser));
  }
  for (const std::string& statement : wipe.statements) sql += statement + ";\n";
  // Before the dump: objects it creates may need these (a publication's
  // owner needs CREATE on the database).
  sql += databaseStatements(target);
  return sql;
}

std::string CopyPlan::epilogue(Connection& target) const {
  std::string sql;
  for (const auto& [name, version] : extensionUpdates) {
    sql += fmt::format("ALTER EXTENSION {} UPDATE TO {};\n", target.identifier(name),
                       target.literal(version));
  }
  return sql;
}

std::string CopyPlan::reassignment(Connection& target) const {
  if (reassignTo.empty() || reassignTo == targetUser) return "";
  std::string sql;
  // A public schema that is not a new database's (owned by
  // pg_database_owner) was the source owner's: it goes to the new owner.
  if (!database.publicSchemaOwner.empty() && database.publicSchemaOwner != "pg_database_owner") {
    sql += fmt::format("ALTER SCHEMA public OWNER TO {};\n", target.identifier(reassignTo));
  }
  // Everything the load created belongs to the target's user: schemas
  // first, so that the new owner may own what is in them.
  sql += fmt::format(R"SQL(DO $mig$
DECLARE object record;
BEGIN
  FOR object IN
    WITH {owned}
    SELECT i.type, i.identity FROM owned o, pg_identify_object(o.classid, o.objid, 0) i
     WHERE o.owner = (SELECT oid FROM pg_roles WHERE rolname = current_user)
       -- a sequence that belongs to a column follows its table
       AND NOT EXISTS (SELECT FROM pg_depend d JOIN pg_class s ON s.oid = d.objid
                        WHERE o.classid = 'pg_class'::regclass AND d.classid = o.classid
                          AND d.objid = o.objid AND s.relkind = 'S' AND d.refobjsubid <> 0
                          AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i'))
     ORDER BY i.type <> 'schema'
  LOOP
    EXECUTE format('ALTER %s %s OWNER TO %s',
                   CASE object.type WHEN 'composite type' THEN 'TYPE'
                                    WHEN 'statistics object' THEN 'STATISTICS'
                                    WHEN 'foreign-data wrapper' THEN 'FOREIGN DATA WRAPPER'
                                    ELSE upper(object.type) END,
                   object.identity, {owner});
  END LOOP;
END $mig$;
)SQL",
                     fmt::arg("owned", ownedObjectsCte()),
                     fmt::arg("owner", target.literal(target.identifier(reassignTo))));
  return sql;
}

std::string CopyPlan::databaseStatements(Connection& target) const {
  std::string sql;
  std::string name = target.identifier(targetDatabase);
  for (const Setting& setting : database.settings) {
    if (setting.role.empty()) {
      sql +=
          fmt::format("ALTER DATABASE {} {};\n", name, settingClause(target, setting.assignment));
    } else {
      sql += fmt::format("ALTER ROLE {} IN DATABASE {} {};\n", target.identifier(setting.role),
                         name, settingClause(target, setting.assignment));
    }
  }
  sql += databaseSql;
  if (database.comment) {
    sql += fmt::format("COMMENT ON DATABASE {} IS {};\n", name, target.literal(*database.comment));
  }
  if (database.privilegesKnown) {
    // PUBLIC's privileges as the source has them: revoked, then granted.
    sql += fmt::format("REVOKE CONNECT, TEMPORARY ON DATABASE {} FROM PUBLIC;\n", name);
  }
  for (const auto& [grantee, privilege] : database.privileges) {
    std::string role = grantee == "PUBLIC" ? grantee : target.identifier(grantee);
    std::string what = privilege;
    std::string option;
    if (size_t with = what.find(" WITH GRANT OPTION"); with != std::string::npos) {
      option = what.substr(with);
      what = what.substr(0, with);
    }
    sql += fmt::format("GRANT {} ON DATABASE {} TO {}{};\n", what, name, role, option);
  }
  return sql;
}

}  // namespace mig::drivers::pg
