#pragma once

#include <string>
#include <vector>

#include "runtime/drivers/mysql_client.h"
#include "runtime/drivers/result.h"

/// Carrying the application's accounts from one server to another, for
/// mysql-copy: every account (user@host) of the named users, with its
/// authentication (the password hash, never the password), its limits,
/// its global grants and its grants on the copied database.
namespace mig::drivers::mysql {

struct AccountPlan {
  struct Account {
    std::string user;
    std::string host;
    bool existsOnTarget = false;  ///< left as it is
    /// CREATE USER and GRANT statements for the target. They hold password
    /// hashes: never print them.
    std::vector<std::string> statements;
    std::string name() const;  ///< 'user'@'host'
  };
  std::vector<Account> accounts;
  /// Grants of these accounts that are not carried (on other databases,
  /// of roles, proxies), one line each.
  std::vector<std::string> notCarried;
};

/// Reads, without changing anything, what carrying `users` takes: a user
/// without any account on the source is an error (a misspelt name).
/// Grants on `source`'s database become grants on `target`'s.
Result<AccountPlan> planAccounts(Connection& source, Connection& target,
                                 const std::vector<std::string>& users);

/// Creates the accounts the target lacks, with their grants (run after the
/// data is loaded: grants on routines need the routines). Returns the names
/// of the accounts created.
Result<std::vector<std::string>> createAccounts(Connection& target, const AccountPlan& plan);

}  // namespace mig::drivers::mysql
