// Reading what a copy needs of both servers (see postgres_inspect.h).
#include "runtime/drivers/postgres_inspect.h"

#include <fmt/format.h>

#include <algorithm>

#include "runtime/drivers/postgres_catalog.h"
#include "runtime/drivers/text.h"

namespace mig::drivers::pg {
namespace {

/// At most this many objects are named per problem; the rest are counted.
constexpr size_t kNamedObjects = 5;

std::vector<std::string> column(const Rows& rows, int index) {
  std::vector<std::string> values;
  for (int row = 0; row < rows.size(); ++row) values.push_back(rows.text(row, index));
  return values;
}

// ---------------------------------------------------------------------------
// The source

/// The roles the database refers to (owners, unless they are reassigned;
/// grantees; roles with settings or default privileges in it) and every
/// role that is a member of one of them: the roles the application logs
/// in as.
Status readNeededRoles(Connection& source, const CopyOptions& options, SourceFacts& facts) {
  bool keep = options.owners == CopyOptions::Owners::Keep;
  std::string sql = fmt::format(R"SQL(
WITH RECURSIVE {owned},
db AS (SELECT oid, datdba, datacl FROM pg_database WHERE datname = current_database()),
referenced(role) AS (
  SELECT refobjid FROM pg_shdepend
   WHERE dbid = (SELECT oid FROM db) AND refclassid = 'pg_authid'::regclass AND {ownerDependency}
  UNION SELECT owner FROM owned WHERE {keepOwners}
  UNION SELECT setrole FROM pg_db_role_setting WHERE setdatabase = (SELECT oid FROM db) AND setrole <> 0
  UNION SELECT x.grantee FROM db, aclexplode(db.datacl) x WHERE x.grantee NOT IN (0, db.datdba)
  UNION SELECT defaclrole FROM pg_default_acl),
needed(role) AS (
  SELECT role FROM referenced
  UNION SELECT m.member FROM pg_auth_members m JOIN needed n ON m.roleid = n.role)
SELECT r.rolname, r.rolsuper, r.rolinherit, r.rolcreaterole, r.rolcreatedb, r.rolcanlogin,
       r.rolreplication, r.rolbypassrls, r.rolconnlimit, coalesce(r.rolvaliduntil::text, ''),
       shobj_description(r.oid, 'pg_authid'),
       (SELECT array_to_string(s.setconfig, E'\n') FROM pg_db_role_setting s
         WHERE s.setrole = r.oid AND s.setdatabase = 0),
       r.oid IN (SELECT role FROM referenced)
  FROM pg_roles r
 WHERE r.oid IN (SELECT role FROM needed) AND r.rolname NOT LIKE 'pg\_%'
 ORDER BY 1)SQL",
                                fmt::arg("owned", ownedObjectsCte()),
                                fmt::arg("ownerDependency", keep ? "true" : "deptype <> 'o'"),
                                fmt::arg("keepOwners", keep ? "true" : "false"));
  Result<Rows> rows = source.query(sql);
  if (!rows) return Error{rows.error()};
  for (int row = 0; row < rows->size(); ++row) {
    RoleDefinition role;
    role.name = rows->text(row, 0);
    role.superuser = rows->boolean(row, 1);
    role.inherit = rows->boolean(row, 2);
    role.createRole = rows->boolean(row, 3);
    role.createDb = rows->boolean(row, 4);
    role.login = rows->boolean(row, 5);
    role.replication = rows->boolean(row, 6);
    role.bypassRls = rows->boolean(row, 7);
    role.connectionLimit = rows->integer(row, 8);
    role.validUntil = rows->text(row, 9);
    if (!rows->isNull(row, 10)) role.comment = rows->text(row, 10);
    role.referenced = rows->boolean(row, 12);
    role.settings = text::lines(rows->text(row, 11));
    facts.roles.push_back(std::move(role));
  }

  std::string list = "{";
  for (const RoleDefinition& role : facts.roles) {
    if (list.size() > 1) list += ',';
    list += '"';
    for (char c : role.name) {
      if (c == '"' || c == '\\') list += '\\';
      list += c;
    }
    list += '"';
  }
  list += '}';
  Result<Rows> memberships = source.query(R"SQL(
SELECT g.rolname, m.rolname, a.admin_option
  FROM pg_auth_members a JOIN pg_roles g ON g.oid = a.roleid JOIN pg_roles m ON m.oid = a.member
 WHERE m.rolname = ANY ($1::text[])
 ORDER BY 1, 2)SQL",
                                          {list});
  if (!memberships) return Error{memberships.error()};
  for (int row = 0; row < memberships->size(); ++row) {
    facts.memberships.push_back(
        {memberships->text(row, 0), memberships->text(row, 1), memberships->boolean(row, 2)});
  }

  if (options.passwords) {
    // Asked first: a refused SELECT would abort the snapshot's transaction.
    Result<Rows> readable =
        source.query("SELECT has_table_privilege('pg_catalog.pg_authid', 'SELECT')");
    if (!readable) return Error{readable.error()};
    if (!readable->boolean(0, 0)) {
      facts.problems.push_back(fmt::format(
          "source: passwords: true needs the source's password hashes, which only a superuser "
          "can read (pg_authid), not {}",
          facts.user));
      return success();
    }
    Result<Rows> passwords = source.query(
        "SELECT rolname, rolpassword FROM pg_authid WHERE rolname = ANY ($1::text[]) AND "
        "rolpassword IS NOT NULL",
        {list});
    if (!passwords) return Error{passwords.error()};
    std::map<std::string, std::string> hashes;
    for (int row = 0; row < passwords->size(); ++row) {
      hashes[passwords->text(row, 0)] = passwords->text(row, 1);
    }
    for (RoleDefinition& role : facts.roles) {
      if (auto hash = hashes.find(role.name); hash != hashes.end())
        role.passwordHash = hash->second;
    }
  }
  return success();
}

Status readOwners(Connection& source, SourceFacts& facts) {
  Result<Rows> rows = source.query(fmt::format(R"SQL(
WITH {owned}
SELECT pg_get_userbyid(o.owner), r.rolsuper, count(*),
       (array_agg(i.type || ' ' || i.identity ORDER BY i.type, i.identity))[1:5]
  FROM owned o JOIN pg_roles r ON r.oid = o.owner,
       pg_identify_object(o.classid, o.objid, 0) i
 WHERE r.rolname NOT LIKE 'pg\_%'
 GROUP BY 1, 2 ORDER BY 1)SQL",
                                               fmt::arg("owned", ownedObjectsCte())));
  if (!rows) return Error{rows.error()};
  for (int row = 0; row < rows->size(); ++row) {
    OwnerRole owner{rows->text(row, 0), rows->boolean(row, 1), {}, rows->integer(row, 2)};
    // array_agg's text form: {"table app.orders","view app.x"}
    std::string list = rows->text(row, 3);
    std::string current;
    bool quoted = false;
    for (size_t i = 1; i + 1 < list.size(); ++i) {
      char c = list[i];
      if (c == '"') {
        quoted = !quoted;
      } else if (c == '\\' && i + 2 < list.size()) {
        current += list[++i];
      } else if (c == ',' && !quoted) {
        owner.objects.push_back(current);
        current.clear();
      } else {
        current += c;
      }
    }
    if (!current.empty()) owner.objects.push_back(current);
    facts.owners.push_back(std::move(owner));
  }
  Result<Rows> defaults =
      source.query("SELECT DISTINCT pg_get_userbyid(defaclrole) FROM pg_default_acl ORDER BY 1");
  if (!defaults) return Error{defaults.error()};
  facts.defaultAclRoles = column(*defaults, 0);
  return success();
}

/// What keeps pg_dump, running as the source's user, from reading all of
/// the database.
Status readReadability(Connection& source, SourceFacts& facts) {
  Result<Rows> who = source.query(
      "SELECT current_user, rolsuper, rolbypassrls, current_setting('lo_compat_privileges') = 'on' "
      "FROM pg_roles WHERE rolname = current_user");
  if (!who) return Error{who.error()};
  facts.user = who->text(0, 0);
  facts.superuser = who->boolean(0, 1);
  bool bypassRls = who->boolean(0, 2);
  bool loCompat = who->boolean(0, 3);
  if (facts.superuser) return success();

  Result<Rows> schemas = source.query(fmt::format(
      "SELECT nspname FROM pg_namespace n WHERE {} AND NOT has_schema_privilege(n.oid, 'USAGE') "
      "ORDER BY 1",
      userSchema("n.nspname")));
  if (!schemas) return Error{schemas.error()};
  if (!schemas->empty()) {
    facts.problems.push_back(fmt::format("source: {} has no USAGE on {}", facts.user,
                                         text::namedList("schema", column(*schemas, 0))));
  }
  Result<Rows> tables = source.query(fmt::format(R"SQL(
SELECT i.type || ' ' || i.identity
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace,
       pg_identify_object('pg_class'::regclass, c.oid, 0) i
 WHERE c.relkind IN ('r', 'p', 'm', 'S') AND {} AND NOT has_table_privilege(c.oid, 'SELECT')
 ORDER BY 1)SQL",
                                                 userSchema("n.nspname")));
  if (!tables) return Error{tables.error()};
  if (!tables->empty()) {
    facts.problems.push_back(fmt::format("source: {} cannot read (no SELECT privilege): {}",
                                         facts.user, someOf(column(*tables, 0))));
  }
  if (!bypassRls) {
    Result<Rows> secured = source.query(fmt::format(R"SQL(
SELECT i.identity
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace,
       pg_identify_object('pg_class'::regclass, c.oid, 0) i
 WHERE c.relkind IN ('r', 'p') AND {} AND c.relrowsecurity
   AND (c.relforcerowsecurity OR NOT pg_has_role(c.relowner, 'USAGE'))
 ORDER BY 1)SQL",
                                                    userSchema("n.nspname")));
    if (!secured) return Error{secured.error()};
    if (!secured->empty()) {
      facts.problems.push_back(fmt::format(
          "source: row level security would hide rows of {} from {}: pg_dump needs a superuser, "
          "the BYPASSRLS attribute, or (unless FORCE ROW LEVEL SECURITY) the tables' owner",
          someOf(column(*secured, 0)), facts.user));
    }
  }
  if (!loCompat) {
    Result<Rows> objects = source.query(R"SQL(
SELECT l.oid::text FROM pg_largeobject_metadata l
 WHERE NOT pg_has_role(l.lomowner, 'USAGE')
   AND NOT EXISTS (SELECT FROM aclexplode(l.lomacl) x
                    WHERE x.privilege_type = 'SELECT' AND (x.grantee = 0 OR pg_has_role(x.grantee, 'USAGE')))
 ORDER BY l.oid)SQL");
    if (!objects) return Error{objects.error()};
    if (!objects->empty()) {
      facts.problems.push_back(fmt::format("source: {} cannot read {}: {}", facts.user,
                                           text::counted(objects->size(), "large object"),
                                           someOf(column(*objects, 0))));
    }
  }
  return success();
}

Status readObjectsAndState(Connection& source, SourceFacts& facts) {
  Result<Rows> extensions = source.query(
      "SELECT extname, extversion FROM pg_extension WHERE extname <> 'plpgsql' ORDER BY 1");
  if (!extensions) return Error{extensions.error()};
  for (int row = 0; row < extensions->size(); ++row) {
    facts.extensions.emplace_back(extensions->text(row, 0), extensions->text(row, 1));
  }
  Result<Rows> special = source.query(
      fmt::format(R"SQL(
SELECT 'event trigger ' || quote_ident(evtname) FROM pg_event_trigger
UNION ALL
SELECT 'foreign-data wrapper ' || quote_ident(w.fdwname) FROM pg_foreign_data_wrapper w
 WHERE w.oid >= 16384 AND {wrapperNotInExtension}
UNION ALL
SELECT i.type || ' ' || i.identity || ' (language ' || l.lanname || ')'
  FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang JOIN pg_namespace n ON n.oid = p.pronamespace,
       pg_identify_object('pg_proc'::regclass, p.oid, 0) i
 WHERE NOT l.lanpltrusted AND {schema} AND {procNotInExtension} AND {procNotPartOf}
 ORDER BY 1)SQL",
                  fmt::arg("procNotPartOf", notPartOfAnother("'pg_proc'::regclass", "p.oid")),
                  fmt::arg("schema", userSchema("n.nspname")),
                  fmt::arg("wrapperNotInExtension",
                           notInExtension("'pg_foreign_data_wrapper'::regclass", "w.oid")),
                  fmt::arg("procNotInExtension", notInExtension("'pg_proc'::regclass", "p.oid"))));
  if (!special) return Error{special.error()};
  facts.superuserOnly = column(*special, 0);

  // Privileges granted by a role other than the object's owner: pg_dump
  // replays them under SET SESSION AUTHORIZATION, which needs a superuser.
  Result<Rows> grants = source.query(fmt::format(R"SQL(
WITH acls(classid, objid, owner, acl) AS (
  SELECT 'pg_namespace'::regclass, n.oid, n.nspowner, n.nspacl FROM pg_namespace n WHERE {schema}
  UNION ALL
  SELECT 'pg_class'::regclass, c.oid, c.relowner, c.relacl FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {schema}
  UNION ALL
  SELECT 'pg_proc'::regclass, p.oid, p.proowner, p.proacl FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE {schema}
  UNION ALL
  SELECT 'pg_type'::regclass, t.oid, t.typowner, t.typacl FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE {schema})
SELECT DISTINCT i.type || ' ' || i.identity, pg_get_userbyid(x.grantor)
  FROM acls a, aclexplode(a.acl) x, pg_identify_object(a.classid, a.objid, 0) i
 WHERE x.grantor <> a.owner ORDER BY 1)SQL",
                                                 fmt::arg("schema", userSchema("n.nspname"))));
  if (!grants) return Error{grants.error()};
  for (int row = 0; row < grants->size(); ++row) {
    facts.foreignGrants.emplace_back(grants->text(row, 0), grants->text(row, 1));
  }

  Result<Rows> settings = source.query(R"SQL(
SELECT coalesce(pg_get_userbyid(nullif(s.setrole, 0)), ''), c
  FROM pg_db_role_setting s, unnest(s.setconfig) c
 WHERE s.setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database())
 ORDER BY 1, 2)SQL");
  if (!settings) return Error{settings.error()};
  for (int row = 0; row < settings->size(); ++row) {
    facts.database.settings.push_back({settings->text(row, 0), settings->text(row, 1)});
  }
  Result<Rows> database = source.query(fmt::format(R"SQL(
SELECT shobj_description(d.oid, 'pg_database'),
       (SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = 'public'),
       (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {schema})
       + (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE {schema} AND c.reltoastrelid <> 0) * 2
  FROM pg_database d WHERE d.datname = current_database())SQL",
                                                   fmt::arg("schema", userSchema("n.nspname"))));
  if (!database) return Error{database.error()};
  if (!database->isNull(0, 0)) facts.database.comment = database->text(0, 0);
  facts.database.publicSchemaOwner = database->text(0, 1);
  facts.relations = database->integer(0, 2);
  Result<Rows> privileges = source.query(R"SQL(
SELECT CASE WHEN x.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(x.grantee) END,
       x.privilege_type || CASE WHEN x.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END
  FROM pg_database d, aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) x
 WHERE d.datname = current_database() AND x.grantee <> d.datdba
 ORDER BY 1, 2)SQL");
  if (!privileges) return Error{privileges.error()};
  facts.database.privilegesKnown = true;
  for (int row = 0; row < privileges->size(); ++row) {
    facts.database.privileges.emplace_back(privileges->text(row, 0), privileges->text(row, 1));
  }
  return success();
}

}  // namespace

/// "table app.orders, view app.x and 3 more".
std::string someOf(const std::vector<std::string>& names) {
  std::vector<std::string> shown(
      names.begin(), names.begin() + static_cast<long>(std::min(names.size(), kNamedObjects)));
  std::string text = text::joined(shown, ", ");
  if (names.size() > kNamedObjects)
    text += fmt::format(" and {} more", names.size() - kNamedObjects);
  return text;
}

Result<SourceFacts> readSource(Connection& source, const CopyOptions& options) {
  SourceFacts facts;
  facts.version = source.serverVersion();
  for (Status (*read)(Connection&, SourceFacts&) :
       {&readReadability, &readOwners, &readObjectsAndState}) {
    Status status = read(source, facts);
    if (!status) return Error{status.error()};
  }
  Status roles = readNeededRoles(source, options, facts);
  if (!roles) return Error{roles.error()};
  return facts;
}

Result<TargetFacts> readTarget(Connection& target) {
  TargetFacts facts;
  facts.version = target.serverVersion();
  Result<Rows> who = target.query(fmt::format(R"SQL(
SELECT current_user, current_database(), r.rolsuper, r.rolcreaterole, pg_has_role(d.datdba, 'MEMBER'),
       current_setting('max_locks_per_transaction')::bigint
         * (current_setting('max_connections')::bigint + current_setting('max_prepared_transactions')::bigint),
       (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {schema})
  FROM pg_roles r, pg_database d
 WHERE r.rolname = current_user AND d.datname = current_database())SQL",
                                              fmt::arg("schema", userSchema("n.nspname"))));
  if (!who) return Error{who.error()};
  facts.user = who->text(0, 0);
  facts.database = who->text(0, 1);
  facts.superuser = who->boolean(0, 2);
  facts.createRole = who->boolean(0, 3);
  facts.databaseOwner = who->boolean(0, 4);
  facts.lockCapacity = who->integer(0, 5);
  facts.relations = who->integer(0, 6);
  Result<Rows> roles =
      target.query("SELECT rolname, rolsuper, pg_has_role(oid, 'MEMBER') FROM pg_roles ORDER BY 1");
  if (!roles) return Error{roles.error()};
  for (int row = 0; row < roles->size(); ++row) {
    facts.roles[roles->text(row, 0)] = roles->boolean(row, 1);
    if (roles->boolean(row, 2)) facts.memberOf.insert(roles->text(row, 0));
  }
  Result<Rows> memberships = target.query(
      "SELECT g.rolname, m.rolname FROM pg_auth_members a JOIN pg_roles g ON g.oid = a.roleid "
      "JOIN pg_roles m ON m.oid = a.member");
  if (!memberships) return Error{memberships.error()};
  for (int row = 0; row < memberships->size(); ++row) {
    facts.memberships.emplace(memberships->text(row, 0), memberships->text(row, 1));
  }
  return facts;
}

}  // namespace mig::drivers::pg
