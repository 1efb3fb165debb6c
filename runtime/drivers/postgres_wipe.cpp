// Wiping a PostgreSQL database back to what CREATE DATABASE gives: the
// plan (what goes, and whether the connecting user may make it go) and the
// statements, shared by postgres-wipe and by the copy's first half.
#include "runtime/drivers/postgres_wipe.h"

#include <fmt/format.h>

#include "runtime/drivers/postgres_catalog.h"
#include "runtime/drivers/text.h"

namespace mig::drivers::pg {
namespace {

/// Objects of one kind that the wipe drops: name, owner, and whether the
/// connecting user may drop it (it is the owner, a member, or a superuser).
struct Droppable {
  std::string name;
  std::string owner;
  bool allowed = false;
};

Result<std::vector<Droppable>> droppable(Connection& target, const std::string& sql) {
  Result<Rows> rows = target.query(sql);
  if (!rows) return Error{rows.error()};
  std::vector<Droppable> objects;
  for (int row = 0; row < rows->size(); ++row) {
    objects.push_back({rows->text(row, 0), rows->text(row, 1), rows->boolean(row, 2)});
  }
  return objects;
}

/// Adds "KIND NAME is owned by OWNER: ..." for each object the user may not drop.
void refuseForeign(const std::vector<Droppable>& objects, std::string_view kind,
                   std::vector<std::string>& problems) {
  for (const Droppable& object : objects) {
    if (object.allowed) continue;
    problems.push_back(fmt::format(
        "{} {} is owned by {}: only its owner, a member of that role, or a superuser can drop it",
        kind, object.name, object.owner));
  }
}

/// Default privileges for a role in every schema (ALTER DEFAULT PRIVILEGES
/// without IN SCHEMA) live on when the schemas go, and would apply to every
/// object a copy creates: they are put back to the built-in ones, which
/// removes them. Adds the statements, or a problem when the user may not.
Status resetGlobalDefaultPrivileges(Connection& target, bool superuser,
                                    std::vector<std::string>& statements,
                                    std::vector<std::string>& problems) {
  Result<Rows> rows = target.query(R"SQL(
SELECT pg_get_userbyid(d.defaclrole), pg_has_role(d.defaclrole, 'MEMBER'),
       CASE d.defaclobjtype WHEN 'r' THEN 'TABLES' WHEN 'S' THEN 'SEQUENCES' WHEN 'f' THEN 'FUNCTIONS'
                            WHEN 'T' THEN 'TYPES' WHEN 'n' THEN 'SCHEMAS' END,
       (SELECT string_agg(DISTINCT CASE WHEN x.grantee = 0 THEN 'PUBLIC'
                                        ELSE quote_ident(pg_get_userbyid(x.grantee)) END, ', ')
          FROM (SELECT grantee FROM aclexplode(d.defaclacl)
                UNION SELECT grantee FROM aclexplode(acldefault(lower(d.defaclobjtype)::"char", d.defaclrole))) x),
       (SELECT string_agg(format('%s TO %s', x.privilege_type,
                                 CASE WHEN x.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(x.grantee)) END),
                          E'\n')
          FROM aclexplode(acldefault(lower(d.defaclobjtype)::"char", d.defaclrole)) x)
  FROM pg_default_acl d WHERE d.defaclnamespace = 0 ORDER BY 1, 3)SQL");
  if (!rows) return Error{rows.error()};
  for (int row = 0; row < rows->size(); ++row) {
    std::string role = rows->text(row, 0);
    std::string kind = rows->text(row, 2);
    if (!superuser && !rows->boolean(row, 1)) {
      problems.push_back(fmt::format(
          "role {} has default privileges on {} in every schema, which would apply to the copied "
          "objects: resetting them needs that role or a superuser",
          role, kind));
      continue;
    }
    std::string prefix = "ALTER DEFAULT PRIVILEGES FOR ROLE " + target.identifier(role);
    statements.push_back(
        fmt::format("{} REVOKE ALL ON {} FROM {}", prefix, kind, rows->text(row, 3)));
    for (const std::string& entry : text::lines(rows->text(row, 4))) {  // "SELECT TO x"
      size_t to = entry.find(" TO ");
      statements.push_back(
          fmt::format("{} GRANT {} ON {}{}", prefix, entry.substr(0, to), kind, entry.substr(to)));
    }
  }
  return success();
}

}  // namespace

std::string WipePlan::summary() const {
  std::vector<std::string> dropped;
  for (std::string part :
       {text::namedList("schema", schemas), text::namedList("extension", extensions),
        text::namedList("publication", publications)}) {
    if (!part.empty()) dropped.push_back(std::move(part));
  }
  if (largeObjects > 0) dropped.push_back(text::counted(largeObjects, "large object"));
  std::string text = dropped.empty() ? "nothing to drop" : "dropped " + text::joined(dropped, "; ");
  text += "; created schema public as a new database has it";
  if (resetsDatabaseState) text += "; reset the database's settings and comment";
  return text;
}

Result<WipePlan> planWipe(Connection& target) {
  WipePlan plan;
  Result<Rows> who = target.query(R"SQL(
SELECT current_user, r.rolsuper, r.rolcreaterole, pg_has_role(d.datdba, 'MEMBER'),
       current_database(), has_database_privilege(d.oid, 'CREATE'),
       (SELECT rolname FROM pg_roles WHERE oid = 10), pg_get_userbyid(d.datdba),
       shobj_description(d.oid, 'pg_database') IS NOT NULL,
       EXISTS (SELECT FROM pg_db_role_setting s WHERE s.setdatabase = d.oid AND s.setrole = 0)
  FROM pg_roles r, pg_database d
 WHERE r.rolname = current_user AND d.datname = current_database())SQL");
  if (!who) return Error{who.error()};
  if (who->size() != 1) return Error{"cannot read the current user and database"};
  const std::string user = who->text(0, 0);
  const bool superuser = who->boolean(0, 1);
  const bool createRole = who->boolean(0, 2);
  const bool databaseOwner = who->boolean(0, 3);
  const std::string database = who->text(0, 4);
  const bool mayCreateSchemas = who->boolean(0, 5);
  const std::string bootstrapSuperuser = who->text(0, 6);
  const std::string owner = who->text(0, 7);
  const bool hasComment = who->boolean(0, 8);
  const bool hasSettings = who->boolean(0, 9);
  const std::string databaseName = target.identifier(database);

  auto publications = droppable(target, R"SQL(
SELECT p.pubname, pg_get_userbyid(p.pubowner), pg_has_role(p.pubowner, 'MEMBER')
  FROM pg_publication p ORDER BY 1)SQL");
  auto extensions = droppable(target, fmt::format(R"SQL(
SELECT e.extname, pg_get_userbyid(e.extowner), pg_has_role(e.extowner, 'MEMBER')
  FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE {} ORDER BY 1)SQL",
                                                  userSchema("n.nspname")));
  auto schemas = droppable(target, fmt::format(R"SQL(
SELECT n.nspname, pg_get_userbyid(n.nspowner), pg_has_role(n.nspowner, 'MEMBER')
  FROM pg_namespace n WHERE {} ORDER BY 1)SQL",
                                               userSchema("n.nspname")));
  auto eventTriggers = droppable(target, R"SQL(
SELECT e.evtname, pg_get_userbyid(e.evtowner), pg_has_role(e.evtowner, 'MEMBER')
  FROM pg_event_trigger e ORDER BY 1)SQL");
  auto servers = droppable(target, R"SQL(
SELECT s.srvname, pg_get_userbyid(s.srvowner), pg_has_role(s.srvowner, 'MEMBER')
  FROM pg_foreign_server s ORDER BY 1)SQL");
  auto wrappers = droppable(
      target, fmt::format(R"SQL(
SELECT w.fdwname, pg_get_userbyid(w.fdwowner), pg_has_role(w.fdwowner, 'MEMBER')
  FROM pg_foreign_data_wrapper w WHERE w.oid >= 16384 AND {} ORDER BY 1)SQL",
                          notInExtension("'pg_foreign_data_wrapper'::regclass", "w.oid")));
  Result<Rows> largeObjects = target.query(R"SQL(
SELECT count(*), count(*) FILTER (WHERE NOT pg_has_role(lomowner, 'MEMBER')),
       min(oid::text) FILTER (WHERE NOT pg_has_role(lomowner, 'MEMBER'))
  FROM pg_largeobject_metadata)SQL");
  Result<Rows> roleSettings = target.query(R"SQL(
SELECT r.rolname, r.rolsuper
  FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole
 WHERE s.setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database())
 ORDER BY 1)SQL");
  for (const auto* failed :
       {&publications, &extensions, &schemas, &eventTriggers, &servers, &wrappers}) {
    if (!*failed) return Error{failed->error()};
  }
  for (const auto* failed : {&largeObjects, &roleSettings}) {
    if (!*failed) return Error{failed->error()};
  }

  std::vector<std::string>& problems = plan.problems;
  refuseForeign(*publications, "publication", problems);
  refuseForeign(*extensions, "extension", problems);
  refuseForeign(*schemas, "schema", problems);
  refuseForeign(*eventTriggers, "event trigger", problems);
  refuseForeign(*servers, "foreign server", problems);
  refuseForeign(*wrappers, "foreign-data wrapper", problems);
  long long foreignObjects = largeObjects->integer(0, 1);
  if (foreignObjects > 0) {
    problems.push_back(fmt::format(
        "{} not owned by {} (the first: {}): only its owner or a superuser can unlink it",
        text::counted(foreignObjects, "large object"), user, largeObjects->text(0, 2)));
  }
  if (!mayCreateSchemas && !superuser) {
    problems.push_back(fmt::format(
        "{} has no CREATE privilege on database {}, so it cannot create schema public again", user,
        database));
  }
  bool newPublicSchema = target.serverVersion() >= 150000;
  if (newPublicSchema && !databaseOwner) {
    problems.push_back(fmt::format(
        "schema public is created as a new database has it, owned by pg_database_owner: that "
        "needs the database's owner ({}) or a superuser, not {}",
        owner, user));
  }
  if (!newPublicSchema && !superuser) {
    problems.push_back(fmt::format(
        "schema public is created as a new database has it, owned by {}: that needs a superuser "
        "on PostgreSQL 14 and older",
        bootstrapSuperuser));
  }
  plan.resetsDatabaseState = hasComment || hasSettings || roleSettings->size() > 0;
  if ((hasComment || hasSettings) && !databaseOwner) {
    problems.push_back(fmt::format(
        "database {} has settings or a comment to reset: that needs its owner ({}) or a "
        "superuser, not {}",
        database, owner, user));
  }
  for (int row = 0; row < roleSettings->size(); ++row) {
    std::string role = roleSettings->text(row, 0);
    bool roleIsSuperuser = roleSettings->boolean(row, 1);
    bool allowed = superuser || role == user || (createRole && !roleIsSuperuser);
    if (!allowed) {
      problems.push_back(fmt::format(
          "role {} has settings in database {}: resetting them needs {}", role, database,
          roleIsSuperuser ? "a superuser" : "a superuser, the CREATEROLE attribute, or that role"));
    }
  }

  std::vector<std::string>& sql = plan.statements;
  for (const Droppable& publication : *publications) {
    plan.publications.push_back(publication.name);
    sql.push_back(
        fmt::format("DROP PUBLICATION IF EXISTS {}", target.identifier(publication.name)));
  }
  for (const Droppable& trigger : *eventTriggers) {
    sql.push_back(fmt::format("DROP EVENT TRIGGER IF EXISTS {}", target.identifier(trigger.name)));
  }
  for (const Droppable& extension : *extensions) {
    plan.extensions.push_back(extension.name);
    sql.push_back(
        fmt::format("DROP EXTENSION IF EXISTS {} CASCADE", target.identifier(extension.name)));
  }
  for (const Droppable& server : *servers) {
    sql.push_back(fmt::format("DROP SERVER IF EXISTS {} CASCADE", target.identifier(server.name)));
  }
  for (const Droppable& wrapper : *wrappers) {
    sql.push_back(fmt::format("DROP FOREIGN DATA WRAPPER IF EXISTS {} CASCADE",
                              target.identifier(wrapper.name)));
  }
  for (const Droppable& schema : *schemas) {
    plan.schemas.push_back(schema.name);
    sql.push_back(fmt::format("DROP SCHEMA IF EXISTS {} CASCADE", target.identifier(schema.name)));
  }
  plan.largeObjects = largeObjects->integer(0, 0);
  if (plan.largeObjects > 0) {
    sql.push_back(
        "DO $$ BEGIN PERFORM pg_catalog.lo_unlink(oid) FROM "
        "pg_catalog.pg_largeobject_metadata; END $$");
  }
  if (newPublicSchema) {
    sql.push_back("CREATE SCHEMA public AUTHORIZATION pg_database_owner");
    sql.push_back("GRANT USAGE ON SCHEMA public TO PUBLIC");
  } else {
    sql.push_back("CREATE SCHEMA public AUTHORIZATION " + target.identifier(bootstrapSuperuser));
    sql.push_back("GRANT USAGE, CREATE ON SCHEMA public TO PUBLIC");
  }
  sql.push_back("COMMENT ON SCHEMA public IS 'standard public schema'");
  if (hasSettings) sql.push_back(fmt::format("ALTER DATABASE {} RESET ALL", databaseName));
  for (int row = 0; row < roleSettings->size(); ++row) {
    sql.push_back(fmt::format("ALTER ROLE {} IN DATABASE {} RESET ALL",
                              target.identifier(roleSettings->text(row, 0)), databaseName));
  }
  if (hasComment) sql.push_back(fmt::format("COMMENT ON DATABASE {} IS NULL", databaseName));
  Status defaults = resetGlobalDefaultPrivileges(target, superuser, sql, problems);
  if (!defaults) return Error{defaults.error()};
  return plan;
}

}  // namespace mig::drivers::pg
