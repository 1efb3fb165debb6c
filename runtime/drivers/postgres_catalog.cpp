// The catalog side of postgres-compare: one query per family of objects,
// each returning rows (kind, name, property, value), names and kinds from
// pg_identify_object so that both servers name an object alike.
#include "runtime/drivers/postgres_catalog.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <set>

#include "runtime/drivers/object_catalog.h"
#include "runtime/drivers/text.h"

namespace mig::drivers::pg {
namespace {

/// The publications postgres.sync makes (mig_ and 16 hex digits): mig's
/// own replication, not the application's, so never a difference.
constexpr const char* kMigReplication = "^mig_[0-9a-f]{16}$";

/// The objects that have an owner, with it: (classid, objid, owner).
std::string objectsWithOwners() {
  return fmt::format(
      R"SQL(
  SELECT 'pg_namespace'::regclass, n.oid, n.nspowner FROM pg_namespace n WHERE {schema}
  UNION ALL
  SELECT 'pg_class'::regclass, c.oid, c.relowner
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f', 'c') AND {schema}
  UNION ALL
  SELECT 'pg_proc'::regclass, p.oid, p.proowner
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE {schema} AND {notPartOf}
  UNION ALL
  SELECT 'pg_type'::regclass, t.oid, t.typowner
    FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
   WHERE {schema} AND t.typrelid = 0 AND t.typtype <> 'm'
     AND NOT EXISTS (SELECT FROM pg_type e WHERE e.typarray = t.oid)
  UNION ALL
  SELECT 'pg_collation'::regclass, o.oid, o.collowner
    FROM pg_collation o JOIN pg_namespace n ON n.oid = o.collnamespace WHERE {schema}
  UNION ALL
  SELECT 'pg_conversion'::regclass, o.oid, o.conowner
    FROM pg_conversion o JOIN pg_namespace n ON n.oid = o.connamespace WHERE {schema}
  UNION ALL
  SELECT 'pg_operator'::regclass, o.oid, o.oprowner
    FROM pg_operator o JOIN pg_namespace n ON n.oid = o.oprnamespace WHERE {schema}
  UNION ALL
  SELECT 'pg_opclass'::regclass, o.oid, o.opcowner
    FROM pg_opclass o JOIN pg_namespace n ON n.oid = o.opcnamespace WHERE {schema}
  UNION ALL
  SELECT 'pg_opfamily'::regclass, o.oid, o.opfowner
    FROM pg_opfamily o JOIN pg_namespace n ON n.oid = o.opfnamespace WHERE {schema}
  UNION ALL
  SELECT 'pg_ts_dict'::regclass, o.oid, o.dictowner
    FROM pg_ts_dict o JOIN pg_namespace n ON n.oid = o.dictnamespace WHERE {schema}
  UNION ALL
  SELECT 'pg_ts_config'::regclass, o.oid, o.cfgowner
    FROM pg_ts_config o JOIN pg_namespace n ON n.oid = o.cfgnamespace WHERE {schema}
  UNION ALL
  SELECT 'pg_statistic_ext'::regclass, o.oid, o.stxowner
    FROM pg_statistic_ext o JOIN pg_namespace n ON n.oid = o.stxnamespace WHERE {schema}
  UNION ALL
  SELECT 'pg_largeobject'::regclass, l.oid, l.lomowner FROM pg_largeobject_metadata l
  UNION ALL
  SELECT 'pg_foreign_data_wrapper'::regclass, w.oid, w.fdwowner
    FROM pg_foreign_data_wrapper w WHERE w.oid >= 16384
  UNION ALL
  SELECT 'pg_foreign_server'::regclass, s.oid, s.srvowner FROM pg_foreign_server s
  UNION ALL
  SELECT 'pg_publication'::regclass, p.oid, p.pubowner FROM pg_publication p
   WHERE p.pubname !~ '{migReplication}'
  UNION ALL
  SELECT 'pg_event_trigger'::regclass, e.oid, e.evtowner FROM pg_event_trigger e
  UNION ALL
  SELECT 'pg_language'::regclass, l.oid, l.lanowner FROM pg_language l WHERE l.oid >= 16384)SQL",
      fmt::arg("notPartOf", notPartOfAnother("'pg_proc'::regclass", "p.oid")),
      fmt::arg("schema", userSchema("n.nspname")), fmt::arg("migReplication", kMigReplication));
}

/// SQL for a lateral row (kind, name, member) naming the extension an
/// object belongs to, or no row: what an extension's script made is
/// reported under the extension ("extension pgcrypto: privileges of PUBLIC
/// on function ..."), so that an extension missing on one side is one
/// difference, not hundreds.
std::string extensionOf(std::string_view classid, std::string_view objid,
                        std::string_view identity) {
  return fmt::format(
      "SELECT 'extension'::text AS kind, quote_ident(mig_ext.extname) AS name, {2}.type || ' ' || "
      "{2}.identity AS member FROM pg_depend mig_member JOIN pg_extension mig_ext ON mig_ext.oid "
      "= mig_member.refobjid WHERE mig_member.classid = {0} AND mig_member.objid = {1} AND "
      "mig_member.deptype = 'e'",
      classid, objid, identity);
}

/// Every owned object (its existence), with its owner unless owners are
/// not compared.
std::string ownersQuery(bool withOwner) {
  return fmt::format(R"SQL(
WITH {owned}
SELECT i.type, i.identity, {property}, {value}
  FROM owned o, pg_identify_object(o.classid, o.objid, 0) i)SQL",
                     fmt::arg("owned", ownedObjectsCte()),
                     fmt::arg("property", withOwner ? "'owner'" : "'exists'"),
                     fmt::arg("value", withOwner ? "pg_get_userbyid(o.owner)" : "'yes'"));
}

/// The privileges of every grantee on every object with an ACL: a missing
/// ACL is read as the default one, so "never granted" and "granted as by
/// default" compare equal. The owner's own entry is "the owner", so that
/// it compares whoever owns the object.
std::string privilegesQuery() {
  return fmt::format(R"SQL(
WITH acls(classid, objid, subid, owner, acl) AS (
  SELECT 'pg_namespace'::regclass, n.oid, 0, n.nspowner, coalesce(n.nspacl, acldefault('n', n.nspowner))
    FROM pg_namespace n WHERE {schema}
  UNION ALL
  SELECT 'pg_class'::regclass, c.oid, 0, c.relowner,
         coalesce(c.relacl, acldefault((CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END)::"char", c.relowner))
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND {schema}
  UNION ALL
  SELECT 'pg_class'::regclass, a.attrelid, a.attnum, c.relowner, a.attacl
    FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE a.attacl IS NOT NULL AND a.attnum > 0 AND NOT a.attisdropped AND {schema}
  UNION ALL
  SELECT 'pg_proc'::regclass, p.oid, 0, p.proowner, coalesce(p.proacl, acldefault('f', p.proowner))
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
   WHERE {schema} AND {procNotPartOf}
  UNION ALL
  SELECT 'pg_type'::regclass, t.oid, 0, t.typowner, coalesce(t.typacl, acldefault('T', t.typowner))
    FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
   WHERE {schema} AND t.typrelid = 0 AND t.typtype <> 'm'
     AND NOT EXISTS (SELECT FROM pg_type e WHERE e.typarray = t.oid)
  UNION ALL
  SELECT 'pg_largeobject'::regclass, l.oid, 0, l.lomowner, coalesce(l.lomacl, acldefault('L', l.lomowner))
    FROM pg_largeobject_metadata l
  UNION ALL
  SELECT 'pg_foreign_data_wrapper'::regclass, w.oid, 0, w.fdwowner,
         coalesce(w.fdwacl, acldefault('F', w.fdwowner))
    FROM pg_foreign_data_wrapper w WHERE w.oid >= 16384
  UNION ALL
  SELECT 'pg_foreign_server'::regclass, s.oid, 0, s.srvowner, coalesce(s.srvacl, acldefault('S', s.srvowner))
    FROM pg_foreign_server s
  UNION ALL
  SELECT 'pg_language'::regclass, l.oid, 0, l.lanowner, coalesce(l.lanacl, acldefault('l', l.lanowner))
    FROM pg_language l WHERE l.lanispl)
SELECT coalesce(e.kind, i.type), coalesce(e.name, i.identity),
       'privileges of ' || CASE WHEN x.grantee = 0 THEN 'PUBLIC'
                                WHEN x.grantee = a.owner THEN 'the owner'
                                ELSE pg_get_userbyid(x.grantee) END
       || coalesce(' on ' || e.member, ''),
       string_agg(x.privilege_type || CASE WHEN x.is_grantable THEN ' (grantable)' ELSE '' END,
                  ', ' ORDER BY x.privilege_type)
  FROM acls a
  CROSS JOIN pg_identify_object(a.classid, a.objid, a.subid) i
  CROSS JOIN aclexplode(a.acl) x
  LEFT JOIN LATERAL ({member}) e ON true
 GROUP BY 1, 2, 3)SQL",
                     fmt::arg("procNotPartOf", notPartOfAnother("'pg_proc'::regclass", "p.oid")),
                     fmt::arg("schema", userSchema("n.nspname")),
                     fmt::arg("member", extensionOf("a.classid", "a.objid", "i")));
}

/// Default privileges (ALTER DEFAULT PRIVILEGES), by role, schema and kind.
std::string defaultPrivilegesQuery() {
  return R"SQL(
SELECT 'default privileges',
       format('for role %s%s on %s', pg_get_userbyid(d.defaclrole),
              CASE WHEN d.defaclnamespace = 0 THEN ''
                   ELSE ' in schema ' || quote_ident(n.nspname) END,
              CASE d.defaclobjtype WHEN 'r' THEN 'tables' WHEN 'S' THEN 'sequences'
                   WHEN 'f' THEN 'functions' WHEN 'T' THEN 'types' WHEN 'n' THEN 'schemas'
                   ELSE d.defaclobjtype::text END),
       'privileges of ' || CASE WHEN x.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(x.grantee) END,
       string_agg(x.privilege_type || CASE WHEN x.is_grantable THEN ' (grantable)' ELSE '' END,
                  ', ' ORDER BY x.privilege_type)
  FROM pg_default_acl d LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace,
       aclexplode(d.defaclacl) x
 GROUP BY 1, 2, 3)SQL";
}

/// Tables, views, materialized views, foreign tables: how each is stored
/// and secured.
std::string relationsQuery() {
  return fmt::format(R"SQL(
SELECT i.type, i.identity, p.property, p.value
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  CROSS JOIN pg_identify_object('pg_class'::regclass, c.oid, 0) i
  CROSS JOIN LATERAL (VALUES
    ('row level security',
     CASE WHEN c.relkind NOT IN ('r', 'p') THEN NULL
          WHEN c.relrowsecurity AND c.relforcerowsecurity THEN 'enabled and forced'
          WHEN c.relrowsecurity THEN 'enabled'
          WHEN c.relforcerowsecurity THEN 'disabled (forced)'
          ELSE 'disabled' END),
    ('persistence', CASE c.relpersistence WHEN 'u' THEN 'unlogged' WHEN 'p' THEN 'logged' END),
    ('partition key', CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END),
    ('partition of',
     CASE WHEN c.relispartition THEN
       (SELECT h.inhparent::regclass::text FROM pg_inherits h WHERE h.inhrelid = c.oid)
       || ' ' || pg_get_expr(c.relpartbound, c.oid) END),
    ('options', array_to_string(c.reloptions, ', ')),
    ('replica identity',
     CASE WHEN c.relkind IN ('r', 'p') THEN
       CASE c.relreplident WHEN 'd' THEN 'default' WHEN 'n' THEN 'nothing' WHEN 'f' THEN 'full'
                           ELSE 'index' END END),
    ('definition', CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid) END),
    ('populated', CASE WHEN c.relkind = 'm' THEN CASE WHEN c.relispopulated THEN 'yes' ELSE 'no' END END)
  ) AS p(property, value)
 WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND {schema} AND p.value IS NOT NULL
   AND {notInExtension})SQL",
                     fmt::arg("schema", userSchema("n.nspname")),
                     fmt::arg("notInExtension", notInExtension("'pg_class'::regclass", "c.oid")));
}

/// Columns of tables, views and composite types: position, type,
/// collation, NOT NULL, default or generation, identity.
std::string columnsQuery(int version) {
  return fmt::format(R"SQL(
SELECT i.type, i.identity, p.property, p.value
  FROM (SELECT a.*, row_number() OVER (PARTITION BY a.attrelid ORDER BY a.attnum) AS position
          FROM pg_attribute a WHERE a.attnum > 0 AND NOT a.attisdropped) a
  JOIN pg_class c ON c.oid = a.attrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
  LEFT JOIN pg_type t ON t.oid = a.atttypid
  CROSS JOIN pg_identify_object('pg_class'::regclass, c.oid, a.attnum) i
  CROSS JOIN pg_identify_object('pg_class'::regclass, c.oid, 0) parent
  CROSS JOIN LATERAL (VALUES
    ('parent', parent.type || chr(31) || parent.identity),
    ('position', a.position::text),
    ('type', format_type(a.atttypid, a.atttypmod)),
    ('collation', CASE WHEN a.attcollation <> t.typcollation
                       THEN (SELECT quote_ident(collname) FROM pg_collation WHERE oid = a.attcollation) END),
    ('', CASE WHEN c.relkind IN ('r', 'p', 'f') THEN
           CASE WHEN a.attnotnull THEN 'NOT NULL' ELSE 'nullable' END END),
    (CASE WHEN {generated} = 's' THEN 'generated as' ELSE 'default' END,
     pg_get_expr(d.adbin, d.adrelid)),
    ('identity', CASE a.attidentity WHEN 'a' THEN 'generated always' WHEN 'd' THEN 'generated by default' END)
  ) AS p(property, value)
 WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'c') AND {schema} AND p.value IS NOT NULL
   AND {notInExtension})SQL",
                     fmt::arg("generated", version >= 120000 ? "a.attgenerated" : "''::\"char\""),
                     fmt::arg("schema", userSchema("n.nspname")),
                     fmt::arg("notInExtension", notInExtension("'pg_class'::regclass", "c.oid")));
}

/// Constraints of tables and domains (CHECK, FOREIGN KEY, PRIMARY KEY,
/// UNIQUE, EXCLUDE), indexes, triggers, rules, policies and statistics
/// objects: their definitions, as each server prints them.
std::string definitionsQuery() {
  return fmt::format(
      R"SQL(
SELECT i.type, i.identity, p.property, p.value
  FROM pg_constraint o JOIN pg_namespace n ON n.oid = o.connamespace
  CROSS JOIN pg_identify_object('pg_constraint'::regclass, o.oid, 0) i
  CROSS JOIN LATERAL (VALUES
    ('definition', pg_get_constraintdef(o.oid)),
    ('parent', (SELECT r.type || chr(31) || r.identity
                  FROM pg_identify_object(CASE WHEN o.conrelid <> 0 THEN 'pg_class'::regclass
                                               ELSE 'pg_type'::regclass END,
                                          CASE WHEN o.conrelid <> 0 THEN o.conrelid ELSE o.contypid END, 0) r))
  ) AS p(property, value)
 WHERE {schema} AND {constraintNotInExtension}
   -- Constraints derived from a partitioned table's are named by each
   -- server in the order of its partitions: compared through their parent's.
   AND o.conparentid = 0
UNION ALL
SELECT i.type, i.identity, p.property, p.value
  FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
  CROSS JOIN pg_identify_object('pg_class'::regclass, c.oid, 0) i
  CROSS JOIN pg_identify_object('pg_class'::regclass, x.indrelid, 0) parent
  CROSS JOIN LATERAL (VALUES
    ('parent', parent.type || chr(31) || parent.identity),
    ('definition', pg_get_indexdef(c.oid)),
    ('', CASE WHEN NOT x.indisvalid THEN 'invalid' ELSE 'valid' END),
    ('clustered', CASE WHEN x.indisclustered THEN 'yes' END)) AS p(property, value)
 WHERE {schema} AND p.value IS NOT NULL AND {indexNotInExtension}
UNION ALL
SELECT i.type, i.identity, p.property, p.value
  FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
  CROSS JOIN pg_identify_object('pg_trigger'::regclass, t.oid, 0) i
  CROSS JOIN pg_identify_object('pg_class'::regclass, c.oid, 0) parent
  CROSS JOIN LATERAL (VALUES
    ('parent', parent.type || chr(31) || parent.identity),
    ('definition', pg_get_triggerdef(t.oid)),
    ('', CASE t.tgenabled WHEN 'O' THEN 'enabled' WHEN 'D' THEN 'disabled'
                          WHEN 'R' THEN 'enabled on replicas only' WHEN 'A' THEN 'always enabled' END)
  ) AS p(property, value)
 WHERE NOT t.tgisinternal AND {schema}
UNION ALL
SELECT i.type, i.identity, p.property, p.value
  FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class JOIN pg_namespace n ON n.oid = c.relnamespace
  CROSS JOIN pg_identify_object('pg_rewrite'::regclass, r.oid, 0) i
  CROSS JOIN pg_identify_object('pg_class'::regclass, c.oid, 0) parent
  CROSS JOIN LATERAL (VALUES
    ('parent', parent.type || chr(31) || parent.identity),
    ('definition', pg_get_ruledef(r.oid)),
    ('', CASE r.ev_enabled WHEN 'O' THEN 'enabled' WHEN 'D' THEN 'disabled'
                           WHEN 'R' THEN 'enabled on replicas only' WHEN 'A' THEN 'always enabled' END)
  ) AS p(property, value)
 WHERE r.rulename <> '_RETURN' AND {schema}
UNION ALL
SELECT i.type, i.identity, 'parent', parent.type || chr(31) || parent.identity
  FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid JOIN pg_namespace n ON n.oid = c.relnamespace,
       pg_identify_object('pg_policy'::regclass, p.oid, 0) i,
       pg_identify_object('pg_class'::regclass, c.oid, 0) parent
 WHERE {schema}
UNION ALL
SELECT i.type, i.identity, 'definition',
       format('%s FOR %s TO %s%s%s',
              CASE WHEN p.polpermissive THEN 'PERMISSIVE' ELSE 'RESTRICTIVE' END,
              CASE p.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' WHEN 'w' THEN 'UPDATE'
                            WHEN 'd' THEN 'DELETE' ELSE 'ALL' END,
              (SELECT string_agg(name, ', ' ORDER BY name)
                 FROM (SELECT CASE WHEN r = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(r)) END
                         FROM unnest(p.polroles) r) AS roles(name)),
              coalesce(' USING (' || pg_get_expr(p.polqual, p.polrelid) || ')', ''),
              coalesce(' WITH CHECK (' || pg_get_expr(p.polwithcheck, p.polrelid) || ')', ''))
  FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid JOIN pg_namespace n ON n.oid = c.relnamespace,
       pg_identify_object('pg_policy'::regclass, p.oid, 0) i
 WHERE {schema}
UNION ALL
SELECT i.type, i.identity, 'definition', pg_get_statisticsobjdef(s.oid)
  FROM pg_statistic_ext s JOIN pg_namespace n ON n.oid = s.stxnamespace,
       pg_identify_object('pg_statistic_ext'::regclass, s.oid, 0) i
 WHERE {schema})SQL",
      fmt::arg("schema", userSchema("n.nspname")),
      fmt::arg("constraintNotInExtension", notInExtension("'pg_constraint'::regclass", "o.oid")),
      fmt::arg("indexNotInExtension", notInExtension("'pg_class'::regclass", "c.oid")));
}

/// Functions, procedures and aggregates; types (enum labels, domains,
/// ranges, base types); sequences' parameters; extensions; publications;
/// event triggers.
std::string routinesAndTypesQuery(int version) {
  return fmt::format(
      R"SQL(
SELECT i.type, i.identity, 'definition',
       CASE WHEN p.prokind = 'a' THEN
         (SELECT format('%s; state %s; transition %s; final %s; combine %s; initial %s; sort operator %s',
                        a.aggkind, format_type(a.aggtranstype, NULL), a.aggtransfn, a.aggfinalfn,
                        a.aggcombinefn, coalesce(a.agginitval, 'NULL'), a.aggsortop::regoper)
            FROM pg_aggregate a WHERE a.aggfnoid = p.oid)
       ELSE pg_get_functiondef(p.oid) END
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace,
       pg_identify_object('pg_proc'::regclass, p.oid, 0) i
 WHERE {schema} AND {procNotInExtension} AND {procNotPartOf}
UNION ALL
SELECT i.type, i.identity, p.property, p.value
  FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
  CROSS JOIN pg_identify_object('pg_type'::regclass, t.oid, 0) i
  CROSS JOIN LATERAL (VALUES
    ('labels', CASE WHEN t.typtype = 'e' THEN
       (SELECT string_agg(quote_literal(e.enumlabel), ', ' ORDER BY e.enumsortorder)
          FROM pg_enum e WHERE e.enumtypid = t.oid) END),
    ('definition', CASE t.typtype
       WHEN 'd' THEN format('%s%s%s%s', format_type(t.typbasetype, t.typtypmod),
                            CASE WHEN t.typcollation <> (SELECT b.typcollation FROM pg_type b WHERE b.oid = t.typbasetype)
                                 THEN ' COLLATE ' || (SELECT quote_ident(collname) FROM pg_collation WHERE oid = t.typcollation) ELSE '' END,
                            CASE WHEN t.typnotnull THEN ' NOT NULL' ELSE '' END,
                            coalesce(' DEFAULT ' || t.typdefault, ''))
       WHEN 'r' THEN (SELECT format('subtype %s, collation %s, operator class %s, canonical %s, subtype_diff %s',
                                    format_type(r.rngsubtype, NULL),
                                    coalesce((SELECT quote_ident(collname) FROM pg_collation WHERE oid = r.rngcollation), 'none'),
                                    (SELECT quote_ident(opcname) FROM pg_opclass WHERE oid = r.rngsubopc),
                                    r.rngcanonical, r.rngsubdiff)
                        FROM pg_range r WHERE r.rngtypid = t.oid)
       WHEN 'b' THEN format('input %s, output %s, length %s', t.typinput, t.typoutput, t.typlen)
       END)
  ) AS p(property, value)
 WHERE {schema} AND t.typrelid = 0 AND p.value IS NOT NULL AND {typeNotInExtension}
   AND NOT EXISTS (SELECT FROM pg_type e WHERE e.typarray = t.oid)
UNION ALL
SELECT i.type, i.identity, 'definition',
       format('%s, start %s, increment %s, minimum %s, maximum %s, cache %s%s',
              format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement, s.seqmin, s.seqmax, s.seqcache,
              CASE WHEN s.seqcycle THEN ', cycle' ELSE '' END)
  FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid JOIN pg_namespace n ON n.oid = c.relnamespace,
       pg_identify_object('pg_class'::regclass, c.oid, 0) i
 WHERE {schema}
UNION ALL
SELECT i.type, i.identity, 'owned by', t.relname || '.' || a.attname
  FROM pg_depend d JOIN pg_class c ON c.oid = d.objid AND c.relkind = 'S'
  JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_class t ON t.oid = d.refobjid
  JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
  CROSS JOIN pg_identify_object('pg_class'::regclass, c.oid, 0) i
 WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass
   AND d.deptype IN ('a', 'i') AND {schema}
UNION ALL
SELECT 'extension', quote_ident(e.extname), p.property, p.value
  FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
  CROSS JOIN LATERAL (VALUES ('version', e.extversion), ('schema', quote_ident(n.nspname))) AS p(property, value)
UNION ALL
SELECT 'publication', quote_ident(p.pubname), 'definition',
       format('%s; publishes%s%s%s%s%s',
              CASE WHEN p.puballtables THEN 'all tables'
                   ELSE coalesce((SELECT string_agg(format('%I.%I', t.schemaname, t.tablename), ', ' ORDER BY 1)
                                    FROM pg_publication_tables t WHERE t.pubname = p.pubname), 'no tables') END,
              CASE WHEN p.pubinsert THEN ' insert' ELSE '' END, CASE WHEN p.pubupdate THEN ' update' ELSE '' END,
              CASE WHEN p.pubdelete THEN ' delete' ELSE '' END, CASE WHEN p.pubtruncate THEN ' truncate' ELSE '' END,
              CASE WHEN {viaRoot} THEN '; via partition root' ELSE '' END)
  FROM pg_publication p WHERE p.pubname !~ '{migReplication}'
UNION ALL
SELECT 'event trigger', quote_ident(e.evtname), p.property, p.value
  FROM pg_event_trigger e
  CROSS JOIN LATERAL (VALUES
    ('definition', format('ON %s EXECUTE FUNCTION %s%s', e.evtevent, e.evtfoid::regproc,
                          coalesce(' WHEN TAG IN (' || array_to_string(e.evttags, ', ') || ')', ''))),
    ('', CASE e.evtenabled WHEN 'O' THEN 'enabled' WHEN 'D' THEN 'disabled'
                           WHEN 'R' THEN 'enabled on replicas only' WHEN 'A' THEN 'always enabled' END)
  ) AS p(property, value)
UNION ALL
SELECT 'server', quote_ident(s.srvname), 'definition',
       format('wrapper %s, type %s, version %s, options %s', w.fdwname, coalesce(s.srvtype, ''),
              coalesce(s.srvversion, ''),
              -- names only: an option's value may be a password
              coalesce((SELECT string_agg(split_part(o, '=', 1), ', ' ORDER BY 1) FROM unnest(s.srvoptions) o), ''))
  FROM pg_foreign_server s JOIN pg_foreign_data_wrapper w ON w.oid = s.srvfdw
UNION ALL
SELECT 'user mapping', format('for %s on server %s', coalesce(pg_get_userbyid(nullif(u.umuser, 0)), 'PUBLIC'),
                              quote_ident(s.srvname)),
       'exists', 'yes'
  FROM pg_user_mapping u JOIN pg_foreign_server s ON s.oid = u.umserver)SQL",
      fmt::arg("viaRoot", version >= 130000 ? "p.pubviaroot" : "false"),
      fmt::arg("migReplication", kMigReplication),
      fmt::arg("procNotPartOf", notPartOfAnother("'pg_proc'::regclass", "p.oid")),
      fmt::arg("schema", userSchema("n.nspname")),
      fmt::arg("procNotInExtension", notInExtension("'pg_proc'::regclass", "p.oid")),
      fmt::arg("typeNotInExtension", notInExtension("'pg_type'::regclass", "t.oid")));
}

/// Comments on objects of the database (not on the system's own objects,
/// except the public schema's), and the database's own comment.
std::string commentsQuery() {
  return fmt::format(R"SQL(
SELECT coalesce(e.kind, i.type), coalesce(e.name, i.identity),
       'comment' || coalesce(' on ' || e.member, ''), d.description
  FROM pg_description d
  CROSS JOIN pg_identify_object(d.classoid, d.objoid, d.objsubid) i
  LEFT JOIN LATERAL ({member}) e ON true
 WHERE (d.objoid >= 16384 OR (d.classoid = 'pg_namespace'::regclass AND d.objoid = 2200))
   AND i.identity IS NOT NULL
UNION ALL
SELECT 'database', '(this database)', 'comment', shobj_description(d.oid, 'pg_database')
  FROM pg_database d WHERE d.datname = current_database()
   AND shobj_description(d.oid, 'pg_database') IS NOT NULL)SQL",
                     fmt::arg("member", extensionOf("d.classoid", "d.objoid", "i")));
}

/// The database's settings (ALTER DATABASE ... SET), its roles' settings
/// in it (ALTER ROLE ... IN DATABASE ... SET), its privileges, encoding and
/// locale. The database's name and owner are the platform's, not compared.
std::string databaseQuery() {
  return R"SQL(
SELECT 'database', '(this database)', 'setting ' || split_part(c, '=', 1), substr(c, strpos(c, '=') + 1)
  FROM pg_db_role_setting s, unnest(s.setconfig) c
 WHERE s.setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database()) AND s.setrole = 0
UNION ALL
SELECT 'database', '(this database)',
       'setting ' || split_part(c, '=', 1) || ' for role ' || quote_ident(pg_get_userbyid(s.setrole)),
       substr(c, strpos(c, '=') + 1)
  FROM pg_db_role_setting s, unnest(s.setconfig) c
 WHERE s.setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database()) AND s.setrole <> 0
UNION ALL
SELECT 'database', '(this database)',
       'privileges of ' || CASE WHEN x.grantee = 0 THEN 'PUBLIC'
                                WHEN x.grantee = d.datdba THEN 'the owner'
                                ELSE pg_get_userbyid(x.grantee) END,
       string_agg(x.privilege_type || CASE WHEN x.is_grantable THEN ' (grantable)' ELSE '' END,
                  ', ' ORDER BY x.privilege_type)
  FROM pg_database d, aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) x
 WHERE d.datname = current_database()
 GROUP BY 1, 2, 3
UNION ALL
SELECT 'database', '(this database)', p.property, p.value
  FROM pg_database d
  CROSS JOIN LATERAL (VALUES ('encoding', pg_encoding_to_char(d.encoding)),
                             ('LC_COLLATE', d.datcollate), ('LC_CTYPE', d.datctype)) AS p(property, value)
 WHERE d.datname = current_database())SQL";
}

/// Each large object's contents, as an md5 digest.
std::string largeObjectsQuery() {
  return R"SQL(
SELECT 'large object', l.oid::text, 'contents', md5(lo_get(l.oid)) FROM pg_largeobject_metadata l)SQL";
}

/// The tables whose rows are compared, with the query for their count and
/// checksum. A table hash-partitioned (at any level) is compared at its
/// topmost hash-partitioned ancestor, not per leaf: which leaf a row lands
/// in depends on hash values that may differ between servers (enum OIDs).
std::string rowQueriesQuery() {
  return fmt::format(R"SQL(
WITH RECURSIVE ancestors(relid, ancestor) AS (
  SELECT h.inhrelid, h.inhparent FROM pg_inherits h JOIN pg_class c ON c.oid = h.inhrelid WHERE c.relispartition
  UNION
  SELECT a.relid, h.inhparent FROM ancestors a JOIN pg_inherits h ON h.inhrelid = a.ancestor
),
under_hash AS (
  SELECT DISTINCT a.relid FROM ancestors a JOIN pg_partitioned_table p ON p.partrelid = a.ancestor
   WHERE p.partstrat = 'h'
)
SELECT i.type, i.identity,
       format('SELECT count(*), coalesce(sum(hashtextextended(mig_row::text, 0)), 0) FROM %s %I.%I AS mig_row',
              CASE WHEN c.relkind = 'p' THEN '' ELSE 'ONLY' END, n.nspname, c.relname)
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_partitioned_table p ON p.partrelid = c.oid,
       pg_identify_object('pg_class'::regclass, c.oid, 0) i
 WHERE {schema} AND {notInExtension}
   AND c.oid NOT IN (SELECT relid FROM under_hash)
   AND (c.relkind = 'r' OR (c.relkind = 'm' AND c.relispopulated) OR (c.relkind = 'p' AND p.partstrat = 'h'))
 ORDER BY c.relpages DESC)SQL",
                     fmt::arg("schema", userSchema("n.nspname")),
                     fmt::arg("notInExtension", notInExtension("'pg_class'::regclass", "c.oid")));
}

/// The sequences, and the query for their state.
std::string sequencesQuery() {
  return fmt::format(R"SQL(
SELECT i.type, i.identity, format('SELECT last_value, is_called FROM %I.%I', n.nspname, c.relname)
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace,
       pg_identify_object('pg_class'::regclass, c.oid, 0) i
 WHERE c.relkind = 'S' AND {schema} AND {notInExtension})SQL",
                     fmt::arg("schema", userSchema("n.nspname")),
                     fmt::arg("notInExtension", notInExtension("'pg_class'::regclass", "c.oid")));
}

/// Whitespace runs as one space: deparsed definitions compare by words.
std::string collapsedWhitespace(std::string_view text) {
  std::string out;
  bool space = false;
  for (char c : text) {
    if (c == ' ' || c == '\n' || c == '\t' || c == '\r') {
      space = true;
      continue;
    }
    if (space && !out.empty()) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

Status addFacts(Connection& connection, const std::string& sql, Catalog& catalog) {
  Result<Rows> rows = connection.query(sql);
  if (!rows) return Error{rows.error()};
  for (int row = 0; row < rows->size(); ++row) {
    std::string value = rows->text(row, 3);
    const std::string property = rows->text(row, 2);
    if (property == "definition") value = collapsedWhitespace(value);
    catalog.objects[{rows->text(row, 0), rows->text(row, 1)}][property] = std::move(value);
  }
  return success();
}

/// Runs the generated per-object queries (row checksums, sequence state).
Status addGenerated(Connection& connection, const std::string& listing, bool sequences,
                    Catalog& catalog) {
  Result<Rows> list = connection.query(listing);
  if (!list) return Error{list.error()};
  for (int row = 0; row < list->size(); ++row) {
    ObjectName name{list->text(row, 0), list->text(row, 1)};
    Result<Rows> result = connection.query(list->text(row, 2));
    if (!result) return Error{fmt::format("{} {}: {}", name.first, name.second, result.error())};
    if (result->size() != 1) continue;
    auto& properties = catalog.objects[name];
    if (sequences) {
      properties["last value"] = result->text(0, 0);
      properties["is_called"] = result->boolean(0, 1) ? "true" : "false";
    } else {
      properties["rows"] = result->text(0, 0);
      properties["checksum"] = result->text(0, 1);
    }
  }
  return success();
}

// ---------------------------------------------------------------------------
// Differences

/// The order kinds are reported in: containers before what they contain.
int kindRank(const std::string& kind) {
  static const std::array<std::string_view, 16> order = {"database",
                                                         "role",
                                                         "extension",
                                                         "schema",
                                                         "type",
                                                         "table",
                                                         "table column",
                                                         "table constraint",
                                                         "index",
                                                         "view",
                                                         "materialized view",
                                                         "sequence",
                                                         "function",
                                                         "trigger",
                                                         "policy",
                                                         "large object"};
  auto it = std::find(order.begin(), order.end(), kind);
  return static_cast<int>(it - order.begin());
}


/// Free text is quoted ("comment 'in euros' in a"); states, names and
/// privilege lists read better bare ("enabled in a, disabled in b").
std::string shown(const std::string& property, const std::string& value) {
  bool freeText = property == "comment" || property == "default" || property == "generated as" ||
                  property == "options" || property.starts_with("setting ");
  return freeText || value.empty() ? fmt::format("'{}'", value) : value;
}

/// "enabled in a, disabled in b", "rows: 1,000 in a, 998 in b",
/// "definition differs at character 57: '...' in a, '...' in b".
std::string describeDifference(const std::string& property, const std::string* a,
                               const std::string* b) {
  if (property == "rows" && a && b) {
    return fmt::format("{} in a, {} in b", text::counted(std::stoll(*a), "row"),
                       text::withThousands(std::stoll(*b)));
  }
  if (property == "checksum") return "same row count, different contents (checksum)";
  bool subject = property.starts_with("privileges of ") || property.starts_with("setting ");
  std::string prefix = property.empty() ? "" : property + (subject ? ": " : " ");
  return describeValues(prefix, a, b,
                        [&property](const std::string& value) { return shown(property, value); });
}

/// "table public.orders", "large object 16385", or "the database".
std::string objectText(const ObjectName& name) {
  if (name.first == "database") return "the database";
  return fmt::format("{} {}", name.first, name.second);
}

}  // namespace

std::string ownedObjectsCte() {
  return fmt::format(
      "objects(classid, objid, owner) AS ({}),\nowned AS (SELECT * FROM objects o WHERE {})",
      objectsWithOwners(), notInExtension("o.classid", "o.objid"));
}

std::string notPartOfAnother(std::string_view classid, std::string_view objid) {
  return fmt::format(
      "NOT EXISTS (SELECT FROM pg_depend mig_part WHERE mig_part.classid = {} AND mig_part.objid "
      "= {} AND mig_part.deptype = 'i')",
      classid, objid);
}

std::string userSchema(std::string_view column) {
  return fmt::format(
      "({0} NOT IN ('pg_catalog', 'information_schema', 'pg_toast') AND {0} NOT LIKE "
      "'pg\\_temp\\_%' AND {0} NOT LIKE 'pg\\_toast\\_temp\\_%')",
      column);
}

std::string notInExtension(std::string_view classid, std::string_view objid) {
  return fmt::format(
      "NOT EXISTS (SELECT FROM pg_depend mig_dep WHERE mig_dep.classid = {} AND mig_dep.objid = "
      "{} AND mig_dep.deptype = 'e')",
      classid, objid);
}

size_t Catalog::properties() const {
  size_t total = 0;
  for (const auto& [name, properties] : objects) {
    total += properties.size() - properties.count("parent");
  }
  return total;
}

std::string Catalog::summary() const {
  long long tables = count("table");
  long long views = count("view") + count("materialized view");
  long long sequences = count("sequence");
  long long indexes = count("index");
  long long others = static_cast<long long>(objects.size()) - tables - views - sequences - indexes -
                     count("table column") - count("database");
  return fmt::format(
      "{}, {} rows, {}, {}, {} and {}", text::counted(tables, "table"), text::withThousands(rows()),
      text::counted(views, "view"), text::counted(sequences, "sequence"),
      text::counted(indexes, "index", "indexes"), text::counted(others, "other object"));
}

Result<Catalog> readCatalog(Connection& connection, const CatalogOptions& options) {
  Catalog catalog;
  // Columns some versions lack are read only where they exist.
  int version = connection.serverVersion();
  // One snapshot for every query; output settings fixed so that both
  // servers print values alike.
  Status begin = connection.execute(
      "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;"
      "SET LOCAL statement_timeout = 0; SET LOCAL lock_timeout = 0;"
      "SET LOCAL TimeZone = 'UTC'; SET LOCAL DateStyle = 'ISO, YMD';"
      "SET LOCAL IntervalStyle = 'postgres'; SET LOCAL extra_float_digits = 1;"
      "SET LOCAL bytea_output = 'hex'; SET LOCAL lc_monetary = 'C';"
      // Rows hidden by row-level security are an error, not a smaller count.
      "SET LOCAL row_security = off;"
      "SET LOCAL search_path = pg_catalog;");
  if (!begin) return Error{begin.error()};
  for (const std::string& sql :
       {ownersQuery(options.owners), privilegesQuery(), defaultPrivilegesQuery(), relationsQuery(),
        columnsQuery(version), definitionsQuery(), routinesAndTypesQuery(version), commentsQuery(),
        databaseQuery(), largeObjectsQuery()}) {
    Status added = addFacts(connection, sql, catalog);
    if (!added) return Error{added.error()};
  }
  if (options.rows) {
    Status sequences = addGenerated(connection, sequencesQuery(), /*sequences=*/true, catalog);
    if (!sequences) return Error{sequences.error()};
    Status rows = addGenerated(connection, rowQueriesQuery(), /*sequences=*/false, catalog);
    if (!rows) return Error{rows.error()};
  }
  Status end = connection.execute("COMMIT");
  if (!end) return Error{end.error()};
  return catalog;
}

std::vector<std::string> catalogDifferences(const Catalog& a, const Catalog& b) {
  std::set<ObjectName> names;
  for (const auto& entry : a.objects) names.insert(entry.first);
  for (const auto& entry : b.objects) names.insert(entry.first);
  std::vector<ObjectName> ordered(names.begin(), names.end());
  std::stable_sort(ordered.begin(), ordered.end(), [](const ObjectName& x, const ObjectName& y) {
    return kindRank(x.first) < kindRank(y.first);
  });

  // An object only in one of the two is one line; what it holds (its
  // columns, indexes, triggers) goes with it.
  auto parentAlsoMissing = [](const Catalog& side, const Catalog& other, const ObjectName& name) {
    auto object = side.objects.find(name);
    auto parent = object->second.find("parent");
    if (parent == object->second.end()) return false;
    // "KIND\x1fNAME", as the catalog queries write it.
    size_t separator = parent->second.find('\x1f');
    ObjectName parentName{parent->second.substr(0, separator),
                          parent->second.substr(separator + 1)};
    return side.objects.contains(parentName) && !other.objects.contains(parentName);
  };
  std::vector<std::string> differences;
  for (const ObjectName& name : ordered) {
    auto inA = a.objects.find(name);
    auto inB = b.objects.find(name);
    if (inB == b.objects.end()) {
      if (!parentAlsoMissing(a, b, name)) differences.push_back(objectText(name) + " only in a");
      continue;
    }
    if (inA == a.objects.end()) {
      if (!parentAlsoMissing(b, a, name)) differences.push_back(objectText(name) + " only in b");
      continue;
    }
    std::set<std::string> properties;
    for (const auto& entry : inA->second) properties.insert(entry.first);
    for (const auto& entry : inB->second) properties.insert(entry.first);
    auto rowsA = inA->second.find("rows");
    auto rowsB = inB->second.find("rows");
    bool rowsDiffer =
        rowsA != inA->second.end() && rowsB != inB->second.end() && rowsA->second != rowsB->second;
    for (const std::string& property : properties) {
      if (property == "parent") continue;
      auto x = inA->second.find(property);
      auto y = inB->second.find(property);
      const std::string* valueA = x == inA->second.end() ? nullptr : &x->second;
      const std::string* valueB = y == inB->second.end() ? nullptr : &y->second;
      if (valueA && valueB && *valueA == *valueB) continue;
      // The database's privileges for roles the source does not know are
      // the platform's (its administrators, monitoring): not differences.
      if (!valueA && name.first == "database" && property.starts_with("privileges of ")) continue;
      // Different counts make different checksums: one line says it.
      if (property == "checksum" && (rowsDiffer || !valueA || !valueB)) continue;
      differences.push_back(
          fmt::format("{}: {}", objectText(name), describeDifference(property, valueA, valueB)));
    }
  }
  return differences;
}

}  // namespace mig::drivers::pg
