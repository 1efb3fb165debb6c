#pragma once

#include <optional>
#include <string>
#include <vector>

#include "runtime/drivers/pg_client.h"
#include "runtime/drivers/postgres_wipe.h"

/// What a copy (or a restore) will do to the target, worked out before it
/// touches anything: the roles the database needs and which are missing,
/// who will own the objects, what the source's database-level state is,
/// and every reason the load would fail. The load itself replays pg_dump's
/// output in one transaction between a prelude (roles, the wipe, the
/// database's settings) and an epilogue (extension versions, large objects,
/// owners), so it either all happens or none of it; only a target whose
/// lock table cannot hold the whole copy loads in many transactions.
namespace mig::drivers::pg {

struct CopyOptions {
  enum class Owners { Keep, Reassign };
  enum class Roles { Create, Require };
  Owners owners = Owners::Keep;
  /// With Owners::Reassign: the role that owns everything on the target
  /// ("" for the target's connecting user).
  std::string owner;
  Roles roles = Roles::Create;
  /// Copies the password (hash) of every role the copy creates.
  bool passwords = false;
};

/// A role as the source defines it.
struct RoleDefinition {
  std::string name;
  bool superuser = false;
  bool inherit = true;
  bool createRole = false;
  bool createDb = false;
  bool login = false;
  bool replication = false;
  bool bypassRls = false;
  long long connectionLimit = -1;
  std::string validUntil;  ///< "" for none
  std::optional<std::string> comment;
  std::optional<std::string> passwordHash;
  std::vector<std::string> settings;  ///< "name=value", ALTER ROLE ... SET
  /// The database refers to it (owner, grantee, settings); false for a
  /// role that is only a member of one that is.
  bool referenced = true;
};

struct Membership {
  std::string group;
  std::string member;
  bool adminOption = false;
};

/// A database setting as pg_db_role_setting keeps it: "name=value".
struct Setting {
  std::string role;  ///< "" for the database's own settings
  std::string assignment;
};

/// What the source's database holds beyond its schemas (pg_dump leaves
/// it out unless it creates the database).
struct DatabaseState {
  std::vector<Setting> settings;
  std::optional<std::string> comment;
  /// Non-owner grantees ("PUBLIC" too) with their privileges on the
  /// database: ("app_ro", "CONNECT"), ("PUBLIC", "TEMPORARY").
  std::vector<std::pair<std::string, std::string>> privileges;
  /// `privileges` were read: PUBLIC's are set to them, granted or revoked.
  bool privilegesKnown = false;
  std::string publicSchemaOwner;  ///< "" when not known
};

struct CopyPlan {
  std::vector<std::string> problems;  ///< why the copy cannot run; empty: it can
  std::vector<std::string> notes;     ///< what the operator should know

  std::vector<RoleDefinition> rolesToCreate;
  std::vector<Membership> membershipsToGrant;
  std::vector<std::string> rolesToJoin;  ///< granted to the target user so it can hand objects over
  WipePlan wipe;
  std::string reassignTo;  ///< Owners::Reassign: the role that gets every object
  DatabaseState database;
  std::vector<std::pair<std::string, std::string>> extensionUpdates;  ///< name, version
  std::string targetDatabase;
  std::string targetUser;
  int targetVersion = 0;
  bool singleTransaction = true;
  /// A restore's database-level statements, in place of `database`.
  std::string databaseSql;

  /// psql input before the dump: roles, memberships, the wipe, the
  /// database's settings, comment and privileges.
  std::string prelude(Connection& target) const;
  /// psql input right after the dump: extension updates.
  std::string epilogue(Connection& target) const;
  /// psql input at the end, for reassigned owners: every object the load
  /// created (as the target's user) given to the new owner.
  std::string reassignment(Connection& target) const;

 private:
  std::string databaseStatements(Connection& target) const;
};

/// Inspects both servers and plans a copy from `source` into `target`.
/// An error only when the servers cannot be read; everything that would
/// make the copy fail is in the plan's problems. The source is read in the
/// transaction the caller opened (the snapshot pg_dump will use).
Result<CopyPlan> planCopy(Connection& source, Connection& target, const CopyOptions& options);

/// What restoring an archive needs of the target. An archive holds no
/// role definitions: every role it names must exist there already.
struct ArchiveNeeds {
  std::vector<std::string> owners;
  std::vector<std::string> grantees;
  std::vector<std::string> defaultAclRoles;
  std::vector<std::string> extensions;
  std::vector<std::string> roleSettingRoles;  ///< roles with settings in the database
  bool databaseState = false;                 ///< settings, comment or privileges of the database
  bool foreignGrants = false;                 ///< grants replayed as another role
  std::vector<std::string> superuserOnly;     ///< event triggers, foreign-data wrappers
  long long relations = 0;                    ///< tables (with TOAST), indexes, sequences, views
  std::string databaseSql;                    ///< those, for the target database
  std::string publicSchemaOwner;
};

/// Plans restoring an archive into `target`, as planCopy does for a copy.
Result<CopyPlan> planRestore(const ArchiveNeeds& archive, Connection& target,
                             const CopyOptions& options);

/// `ALTER ... SET name = value` text for a stored "name=value" setting:
/// list settings (search_path) keep their quoted elements, others become
/// one string literal.
std::string settingClause(const Connection& connection, const std::string& assignment);

struct ClientVersion {
  int major = 0;
  int minor = 0;
};

/// The version of `pg_dump --version` on PATH (15.18), or an error.
Result<ClientVersion> localPgDumpVersion();

}  // namespace mig::drivers::pg
