// Planning a PostgreSQL copy: what the source needs of the target (roles,
// owners, extensions, privileges to replay), what the target allows the
// connecting user, and the SQL around pg_dump's output.
#include "runtime/drivers/postgres_copy_plan.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>

#include "runtime/drivers/postgres_catalog.h"
#include "runtime/drivers/subprocess.h"
#include "runtime/drivers/text.h"

namespace mig::drivers::pg {
namespace {

/// At most this many objects are named per problem; the rest are counted.
constexpr size_t kNamedObjects = 5;

/// "table app.orders, view app.x and 3 more".
std::string someOf(const std::vector<std::string>& names) {
  std::vector<std::string> shown(names.begin(),
                                 names.begin() + static_cast<long>(std::min(names.size(), kNamedObjects)));
  std::string text = text::joined(shown, ", ");
  if (names.size() > kNamedObjects) text += fmt::format(" and {} more", names.size() - kNamedObjects);
  return text;
}

std::vector<std::string> column(const Rows& rows, int index) {
  std::vector<std::string> values;
  for (int row = 0; row < rows.size(); ++row) values.push_back(rows.text(row, index));
  return values;
}

/// The objects with an owner, as postgres_catalog lists them, without
/// extension members: (classid, objid, owner).
std::string ownedObjectsCte() {
  return fmt::format(R"SQL(
objects(classid, objid, owner) AS (
  SELECT 'pg_namespace'::regclass, n.oid, n.nspowner FROM pg_namespace n WHERE {schema}
  UNION ALL
  SELECT 'pg_class'::regclass, c.oid, c.relowner FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f', 'c') AND {schema}
  UNION ALL
  SELECT 'pg_proc'::regclass, p.oid, p.proowner FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
   WHERE {schema}
  UNION ALL
  SELECT 'pg_type'::regclass, t.oid, t.typowner FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
   WHERE {schema} AND t.typrelid = 0 AND t.typtype <> 'm'
     AND NOT EXISTS (SELECT FROM pg_type e WHERE e.typarray = t.oid)
  UNION ALL
  SELECT 'pg_largeobject'::regclass, l.oid, l.lomowner FROM pg_largeobject_metadata l
  UNION ALL
  SELECT 'pg_publication'::regclass, p.oid, p.pubowner FROM pg_publication p
  UNION ALL
  SELECT 'pg_event_trigger'::regclass, e.oid, e.evtowner FROM pg_event_trigger e
  UNION ALL
  SELECT 'pg_foreign_server'::regclass, s.oid, s.srvowner FROM pg_foreign_server s
  UNION ALL
  SELECT 'pg_statistic_ext'::regclass, o.oid, o.stxowner
    FROM pg_statistic_ext o JOIN pg_namespace n ON n.oid = o.stxnamespace WHERE {schema}
  UNION ALL
  SELECT 'pg_collation'::regclass, o.oid, o.collowner
    FROM pg_collation o JOIN pg_namespace n ON n.oid = o.collnamespace WHERE {schema}
  UNION ALL
  SELECT 'pg_ts_dict'::regclass, o.oid, o.dictowner
    FROM pg_ts_dict o JOIN pg_namespace n ON n.oid = o.dictnamespace WHERE {schema}
  UNION ALL
  SELECT 'pg_ts_config'::regclass, o.oid, o.cfgowner
    FROM pg_ts_config o JOIN pg_namespace n ON n.oid = o.cfgnamespace WHERE {schema}
  UNION ALL
  SELECT 'pg_operator'::regclass, o.oid, o.oprowner
    FROM pg_operator o JOIN pg_namespace n ON n.oid = o.oprnamespace WHERE {schema}
  UNION ALL
  SELECT 'pg_opfamily'::regclass, o.oid, o.opfowner
    FROM pg_opfamily o JOIN pg_namespace n ON n.oid = o.opfnamespace WHERE {schema}
  UNION ALL
  SELECT 'pg_opclass'::regclass, o.oid, o.opcowner
    FROM pg_opclass o JOIN pg_namespace n ON n.oid = o.opcnamespace WHERE {schema}
  UNION ALL
  SELECT 'pg_conversion'::regclass, o.oid, o.conowner
    FROM pg_conversion o JOIN pg_namespace n ON n.oid = o.connamespace WHERE {schema}),
owned AS (SELECT * FROM objects o WHERE {notInExtension}))SQL",
                     fmt::arg("schema", userSchema("n.nspname")),
                     fmt::arg("notInExtension", notInExtension("o.classid", "o.objid")));
}

// ---------------------------------------------------------------------------
// The source

struct OwnerRole {
  std::string name;
  bool superuser = false;
  std::vector<std::string> objects;  ///< a few of the objects it owns
  long long count = 0;
};

struct SourceFacts {
  int version = 0;
  std::string user;
  bool superuser = false;
  std::vector<RoleDefinition> roles;  ///< the roles the database needs
  std::vector<Membership> memberships;
  std::vector<OwnerRole> owners;
  std::vector<std::string> defaultAclRoles;
  std::vector<std::pair<std::string, std::string>> extensions;  ///< name, version
  std::vector<std::string> superuserOnly;  ///< objects only a superuser can create
  std::vector<std::pair<std::string, std::string>> foreignGrants;  ///< object, grantor
  DatabaseState database;
  long long relations = 0;
  std::vector<std::string> problems;  ///< what keeps pg_dump from reading everything
};

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
         WHERE s.setrole = r.oid AND s.setdatabase = 0)
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
    std::string settings = rows->text(row, 11);
    for (size_t start = 0; start < settings.size();) {
      size_t end = settings.find('\n', start);
      if (end == std::string::npos) end = settings.size();
      role.settings.push_back(settings.substr(start, end - start));
      start = end + 1;
    }
    facts.roles.push_back(std::move(role));
  }

  std::vector<std::optional<std::string>> names;
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
 WHERE m.rolname = ANY ($1::text[]) AND g.rolname NOT LIKE 'pg\_%'
 ORDER BY 1, 2)SQL",
                                           {list});
  if (!memberships) return Error{memberships.error()};
  for (int row = 0; row < memberships->size(); ++row) {
    facts.memberships.push_back(
        {memberships->text(row, 0), memberships->text(row, 1), memberships->boolean(row, 2)});
  }

  if (options.passwords) {
    Result<Rows> passwords = source.query(
        "SELECT rolname, rolpassword FROM pg_authid WHERE rolname = ANY ($1::text[]) AND "
        "rolpassword IS NOT NULL",
        {list});
    if (!passwords) {
      facts.problems.push_back(fmt::format(
          "passwords: true needs the source's password hashes, which only a superuser can read "
          "(pg_authid), not {}: {}",
          facts.user, passwords.error()));
    } else {
      std::map<std::string, std::string> hashes;
      for (int row = 0; row < passwords->size(); ++row) {
        hashes[passwords->text(row, 0)] = passwords->text(row, 1);
      }
      for (RoleDefinition& role : facts.roles) {
        if (auto hash = hashes.find(role.name); hash != hashes.end()) role.passwordHash = hash->second;
      }
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
  Result<Rows> defaults = source.query(
      "SELECT DISTINCT pg_get_userbyid(defaclrole) FROM pg_default_acl ORDER BY 1");
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
  Result<Rows> extensions =
      source.query("SELECT extname, extversion FROM pg_extension WHERE extname <> 'plpgsql' ORDER BY 1");
  if (!extensions) return Error{extensions.error()};
  for (int row = 0; row < extensions->size(); ++row) {
    facts.extensions.emplace_back(extensions->text(row, 0), extensions->text(row, 1));
  }
  Result<Rows> special = source.query(fmt::format(R"SQL(
SELECT 'event trigger ' || quote_ident(evtname) FROM pg_event_trigger
UNION ALL
SELECT 'foreign-data wrapper ' || quote_ident(w.fdwname) FROM pg_foreign_data_wrapper w
 WHERE w.oid >= 16384 AND {wrapperNotInExtension}
UNION ALL
SELECT i.type || ' ' || i.identity || ' (language ' || l.lanname || ')'
  FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang JOIN pg_namespace n ON n.oid = p.pronamespace,
       pg_identify_object('pg_proc'::regclass, p.oid, 0) i
 WHERE NOT l.lanpltrusted AND {schema} AND {procNotInExtension}
 ORDER BY 1)SQL",
                                                  fmt::arg("schema", userSchema("n.nspname")),
                                                  fmt::arg("wrapperNotInExtension",
                                                           notInExtension("'pg_foreign_data_wrapper'::regclass", "w.oid")),
                                                  fmt::arg("procNotInExtension",
                                                           notInExtension("'pg_proc'::regclass", "p.oid"))));
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
       NOT EXISTS (SELECT FROM aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) x
                    WHERE x.grantee = 0 AND x.privilege_type = 'CONNECT')
       OR NOT EXISTS (SELECT FROM aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) x
                       WHERE x.grantee = 0 AND x.privilege_type = 'TEMPORARY'),
       (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {schema})
       + (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE {schema} AND c.reltoastrelid <> 0) * 2
  FROM pg_database d WHERE d.datname = current_database())SQL",
                                                   fmt::arg("schema", userSchema("n.nspname"))));
  if (!database) return Error{database.error()};
  if (!database->isNull(0, 0)) facts.database.comment = database->text(0, 0);
  facts.database.publicSchemaOwner = database->text(0, 1);
  facts.database.publicRevoked = database->boolean(0, 2);
  facts.relations = database->integer(0, 3);
  Result<Rows> privileges = source.query(R"SQL(
SELECT CASE WHEN x.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(x.grantee) END,
       x.privilege_type || CASE WHEN x.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END
  FROM pg_database d, aclexplode(d.datacl) x
 WHERE d.datname = current_database() AND x.grantee <> d.datdba
 ORDER BY 1, 2)SQL");
  if (!privileges) return Error{privileges.error()};
  for (int row = 0; row < privileges->size(); ++row) {
    facts.database.privileges.emplace_back(privileges->text(row, 0), privileges->text(row, 1));
  }
  return success();
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

// ---------------------------------------------------------------------------
// The target

struct TargetFacts {
  int version = 0;
  std::string user;
  std::string database;
  bool superuser = false;
  bool createRole = false;
  bool databaseOwner = false;
  std::map<std::string, bool> roles;  ///< existing role -> superuser
  std::set<std::string> memberOf;     ///< roles the user is a member of (or may act as)
  std::set<std::pair<std::string, std::string>> memberships;  ///< (group, member)
  long long lockCapacity = 0;
  long long relations = 0;
};

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
  Result<Rows> roles = target.query(
      "SELECT rolname, rolsuper, pg_has_role(oid, 'MEMBER') FROM pg_roles ORDER BY 1");
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
Status checkExtensions(Connection& target, const SourceFacts& source, const TargetFacts& facts,
                       const std::string& creator, bool creatorIsSuperuser, CopyPlan& plan) {
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
      plan.problems.push_back(fmt::format(
          "target: extension {} can only be created by a superuser, and {} is not one", name,
          creator));
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
  (void)facts;
  return success();
}

void planRoles(const SourceFacts& source, const TargetFacts& target, const CopyOptions& options,
               CopyPlan& plan) {
  std::set<std::string> created;
  for (const RoleDefinition& role : source.roles) {
    if (target.roles.contains(role.name)) continue;
    if (options.roles == CopyOptions::Roles::Require) {
      plan.problems.push_back(fmt::format(
          "target: role {} does not exist (roles: require); the database needs it", role.name));
      continue;
    }
    if (role.superuser) {
      plan.problems.push_back(fmt::format(
          "target: role {} does not exist and is a superuser on the source: mig does not create "
          "superusers (create it yourself, or use owners: reassign)",
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
    bool memberThere = target.roles.contains(membership.member) || created.contains(membership.member);
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
      plan.problems.push_back(fmt::format(
          "target: role {} is not a member of {} (roles: require)", membership.member,
          membership.group));
      continue;
    }
    bool groupIsSuperuser = target.roles.contains(membership.group) && target.roles.at(membership.group);
    if (!target.superuser && !(target.createRole && !groupIsSuperuser)) {
      plan.problems.push_back(fmt::format(
          "target: role {} must become a member of {}, which {} may not grant", membership.member,
          membership.group, target.user));
      continue;
    }
    plan.membershipsToGrant.push_back(membership);
  }
}

/// Database-level state: settings, comment and privileges need the
/// database's owner; roles' settings in it need CREATEROLE (or the role).
void checkDatabaseState(const DatabaseState& state, const TargetFacts& target,
                        std::vector<std::string>& problems) {
  bool ownState = state.comment || !state.privileges.empty() || state.publicRevoked;
  for (const Setting& setting : state.settings) ownState = ownState || setting.role.empty();
  if (ownState && !target.databaseOwner) {
    problems.push_back(fmt::format(
        "target: the source database has settings, a comment or privileges, which only the "
        "owner of database {} or a superuser can set, not {}",
        target.database, target.user));
  }
  std::set<std::string> refused;
  for (const Setting& setting : state.settings) {
    if (setting.role.empty() || refused.contains(setting.role)) continue;
    auto role = target.roles.find(setting.role);
    bool roleIsSuperuser = role != target.roles.end() && role->second;
    bool allowed = target.superuser || setting.role == target.user ||
                   (target.createRole && !roleIsSuperuser);
    if (allowed) continue;
    refused.insert(setting.role);
    problems.push_back(fmt::format(
        "target: role {} has settings in the source database (ALTER ROLE ... IN DATABASE ... "
        "SET), which {} may not set: that needs {}",
        setting.role, target.user,
        roleIsSuperuser ? "a superuser" : "a superuser or the CREATEROLE attribute"));
  }
}

}  // namespace

std::string settingClause(const Connection& connection, const std::string& assignment) {
  size_t equals = assignment.find('=');
  std::string name = assignment.substr(0, equals);
  std::string value = equals == std::string::npos ? "" : assignment.substr(equals + 1);
  // As pg_dump does: these keep their elements quoted one by one in the
  // stored value, which is written back as it is.
  static const std::set<std::string> listSettings = {
      "local_preload_libraries", "search_path", "session_preload_libraries",
      "shared_preload_libraries", "temp_tablespaces", "unix_socket_directories"};
  std::string lower = name;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (listSettings.contains(lower)) return fmt::format("SET {} = {}", name, value.empty() ? "''" : value);
  return fmt::format("SET {} = {}", name, connection.literal(value));
}

Result<int> localPgDumpMajor() {
  SubprocessRequest request;
  request.argv = {"pg_dump", "--version"};
  request.timeout = std::chrono::seconds(30);
  SubprocessResult result = runSubprocess(request);
  if (!result.succeeded()) return Error{describeFailure(request, result)};
  // "pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)"
  size_t at = result.out.find(") ");
  if (at == std::string::npos) return Error{"cannot read the version of pg_dump: " + result.out};
  return std::atoi(result.out.c_str() + at + 2);
}

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
  Result<int> pgDump = localPgDumpMajor();
  if (!pgDump) {
    plan.problems.push_back("pg_dump: " + pgDump.error());
  } else if (*pgDump < sourceMajor) {
    plan.problems.push_back(fmt::format(
        "pg_dump {} cannot dump PostgreSQL {}: install the client of version {} or newer",
        *pgDump, sourceMajor, sourceMajor));
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
    std::string owner = options.owner.empty() ? to.user : options.owner;
    plan.reassignTo = owner;
    bool created = std::any_of(plan.rolesToCreate.begin(), plan.rolesToCreate.end(),
                               [&](const RoleDefinition& role) { return role.name == owner; });
    auto existing = to.roles.find(owner);
    if (existing == to.roles.end() && !created) {
      plan.problems.push_back(fmt::format(
          "target: role {} does not exist, so it cannot own the copied objects (owners: reassign)",
          owner));
    } else {
      bool ownerIsSuperuser = existing != to.roles.end() && existing->second;
      ensureCanActAs(owner, ownerIsSuperuser,
                     fmt::format("owners: reassign makes {} the owner of every object", owner), to,
                     plan.rolesToJoin, plan.problems);
    }
    plan.notes.push_back(fmt::format("every copied object is owned by {} (owners: reassign)", owner));
  }
  for (const std::string& role : from.defaultAclRoles) {
    ensureCanActAs(role, superuserRoles[role],
                   fmt::format("the source has default privileges for role {}", role), to,
                   plan.rolesToJoin, plan.problems);
  }
  if (!creatorIsSuperuser && !from.superuserOnly.empty()) {
    plan.problems.push_back(fmt::format(
        "target: only a superuser can create {}, and {} is not one", someOf(from.superuserOnly),
        creator));
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
  Status extensions = checkExtensions(target, from, to, creator, creatorIsSuperuser, plan);
  if (!extensions) return Error{extensions.error()};
  checkDatabaseState(from.database, to, plan.problems);

  Result<WipePlan> wipe = planWipe(target);
  if (!wipe) return Error{fmt::format("cannot read the target: {}", wipe.error())};
  plan.wipe = std::move(*wipe);
  for (const std::string& problem : plan.wipe.problems) plan.problems.push_back("target: " + problem);

  // One transaction holds a lock on every relation it drops or creates;
  // past what the lock table holds, the load goes in many.
  long long locks = from.relations + to.relations;
  if (locks * 10 > to.lockCapacity * 8) {
    plan.singleTransaction = false;
    plan.notes.push_back(fmt::format(
        "the copy touches about {} relations, more than the target's lock table holds in one "
        "transaction ({} = max_locks_per_transaction x connections): it loads in many "
        "transactions, and a failure leaves the target partly loaded (its undo wipes it)",
        text::withThousands(locks), text::withThousands(to.lockCapacity)));
  }
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
    for (const std::string& owner : archive.owners) require(owner, "the archive's objects are owned by it");
  }
  for (const std::string& grantee : archive.grantees) require(grantee, "the archive grants it privileges");
  for (const std::string& role : archive.defaultAclRoles) require(role, "the archive has default privileges for it");
  for (const std::string& role : archive.roleSettingRoles) require(role, "it has settings in the database");

  auto isSuperuser = [&](const std::string& role) {
    auto it = to.roles.find(role);
    return it != to.roles.end() && it->second;
  };
  std::string creator = to.user;
  bool creatorIsSuperuser = to.superuser;
  if (keep) {
    for (const std::string& owner : archive.owners) {
      if (missing.contains(owner) || owner.starts_with("pg_")) continue;
      ensureCanActAs(owner, isSuperuser(owner), fmt::format("{} owns objects of the archive", owner),
                     to, plan.rolesToJoin, plan.problems);
    }
  } else {
    std::string owner = options.owner.empty() ? to.user : options.owner;
    plan.reassignTo = owner;
    if (!to.roles.contains(owner)) {
      plan.problems.push_back(fmt::format(
          "target: role {} does not exist, so it cannot own the restored objects", owner));
    } else {
      ensureCanActAs(owner, isSuperuser(owner),
                     fmt::format("owners: reassign makes {} the owner of every object", owner), to,
                     plan.rolesToJoin, plan.problems);
    }
    plan.notes.push_back(fmt::format("every restored object is owned by {} (owners: reassign)", owner));
  }
  for (const std::string& role : archive.defaultAclRoles) {
    if (missing.contains(role)) continue;
    ensureCanActAs(role, isSuperuser(role),
                   fmt::format("the archive has default privileges for role {}", role), to,
                   plan.rolesToJoin, plan.problems);
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
      plan.problems.push_back(fmt::format(
          "target: extension {} can only be created by a superuser, and {} is not one", extension,
          creator));
    }
  }
  DatabaseState state;
  if (archive.databaseState) state.comment = "";  // any database-level statement needs the owner
  for (const std::string& role : archive.roleSettingRoles) state.settings.push_back({role, ""});
  checkDatabaseState(state, to, plan.problems);

  Result<WipePlan> wipe = planWipe(target);
  if (!wipe) return Error{fmt::format("cannot read the target: {}", wipe.error())};
  plan.wipe = std::move(*wipe);
  for (const std::string& problem : plan.wipe.problems) plan.problems.push_back("target: " + problem);
  return plan;
}

std::string CopyPlan::prelude(Connection& target) const {
  std::string sql = "SET client_min_messages = warning;\n";
  for (const RoleDefinition& role : rolesToCreate) {
    std::string name = target.identifier(role.name);
    sql += fmt::format("CREATE ROLE {} WITH {}SUPERUSER {}INHERIT {}CREATEROLE {}CREATEDB {}LOGIN "
                       "{}REPLICATION {}BYPASSRLS CONNECTION LIMIT {}",
                       name, role.superuser ? "" : "NO", role.inherit ? "" : "NO",
                       role.createRole ? "" : "NO", role.createDb ? "" : "NO",
                       role.login ? "" : "NO", role.replication ? "" : "NO",
                       role.bypassRls ? "" : "NO", role.connectionLimit);
    if (!role.validUntil.empty()) sql += " VALID UNTIL " + target.literal(role.validUntil);
    if (role.passwordHash) sql += " PASSWORD " + target.literal(*role.passwordHash);
    sql += ";\n";
    if (role.comment) sql += fmt::format("COMMENT ON ROLE {} IS {};\n", name, target.literal(*role.comment));
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
      sql += fmt::format("ALTER DATABASE {} {};\n", name, settingClause(target, setting.assignment));
    } else {
      sql += fmt::format("ALTER ROLE {} IN DATABASE {} {};\n", target.identifier(setting.role),
                         name, settingClause(target, setting.assignment));
    }
  }
  sql += databaseSql;
  if (database.comment) {
    sql += fmt::format("COMMENT ON DATABASE {} IS {};\n", name, target.literal(*database.comment));
  }
  if (database.publicRevoked) {
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
