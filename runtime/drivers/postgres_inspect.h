#pragma once

#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "runtime/drivers/pg_client.h"
#include "runtime/drivers/postgres_copy_plan.h"

/// What a copy needs to know of both servers before it plans anything:
/// read once, in the source's snapshot, with the checks of what keeps
/// pg_dump from reading it all.
namespace mig::drivers::pg {

/// A role that owns objects in the source database.
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

/// Reads the source in the transaction the caller opened.
Result<SourceFacts> readSource(Connection& source, const CopyOptions& options);
Result<TargetFacts> readTarget(Connection& target);

/// "table app.orders, view app.x and 3 more": at most five names.
std::string someOf(const std::vector<std::string>& names);

}  // namespace mig::drivers::pg
