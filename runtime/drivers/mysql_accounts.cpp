#include "runtime/drivers/mysql_accounts.h"

#include <fmt/format.h>

#include "runtime/drivers/text.h"

namespace mig::drivers::mysql {
namespace {

/// 'user'@'host' as SHOW GRANTS and CREATE USER take it.
std::string accountLiteral(const Connection& server, const std::string& user,
                           const std::string& host) {
  return server.literal(user) + "@" + server.literal(host);
}

/// The object a `GRANT ... ON object TO account` line is on, and where it
/// starts in the line; npos when the line is no such grant (a role or
/// proxy grant).
struct GrantObject {
  size_t start = std::string::npos;
  std::string text;
};

GrantObject grantObject(const std::string& grant, const std::string& quotedAccount) {
  size_t to = grant.rfind(" TO " + quotedAccount);
  if (!grant.starts_with("GRANT ") || to == std::string::npos) return {};
  size_t on = grant.rfind(" ON ", to);
  if (on == std::string::npos) return {};
  return {on + 4, grant.substr(on + 4, to - on - 4)};
}

}  // namespace

std::string AccountPlan::Account::name() const {
  return fmt::format("'{}'@'{}'", user, host);
}

Result<AccountPlan> planAccounts(Connection& source, Connection& target,
                                 const std::vector<std::string>& users) {
  AccountPlan plan;
  const std::string sourceDatabase = identifier(source.endpoint().location.database);
  const std::string targetDatabase = identifier(target.endpoint().location.database);
  std::vector<std::string> unknown;
  for (const std::string& user : users) {
    Result<Rows> hosts = source.query(fmt::format(
        "SELECT Host FROM mysql.user WHERE User = {} ORDER BY Host", source.literal(user)));
    if (!hosts)
      return Error{fmt::format("cannot read the accounts of {}: {}", user, hosts.error())};
    if (hosts->empty()) unknown.push_back(user);
    for (size_t row = 0; row < hosts->size(); ++row) {
      AccountPlan::Account account{user, hosts->text(row, 0), false, {}};
      Result<Rows> present =
          target.query(fmt::format("SELECT 1 FROM mysql.user WHERE User = {} AND Host = {}",
                                   target.literal(user), target.literal(account.host)));
      if (!present) return Error{present.error()};
      account.existsOnTarget = !present->empty();
      if (account.existsOnTarget) {
        plan.accounts.push_back(std::move(account));
        continue;
      }
      std::string literal = accountLiteral(source, user, account.host);
      Result<Rows> create =
          source.query("SHOW CREATE USER " + literal, "reading account " + account.name());
      if (!create) return Error{create.error()};
      if (!create->empty()) account.statements.push_back(create->text(0, 0));
      Result<Rows> grants =
          source.query("SHOW GRANTS FOR " + literal, "reading the grants of " + account.name());
      if (!grants) return Error{grants.error()};
      std::string quoted = identifier(user) + "@" + identifier(account.host);
      for (size_t line = 0; line < grants->size(); ++line) {
        std::string grant = grants->text(line, 0);
        GrantObject object = grantObject(grant, quoted);
        if (object.start == std::string::npos) {
          plan.notCarried.push_back(fmt::format("{}: {}", account.name(), grant));
          continue;
        }
        // The object may name a routine: PROCEDURE `db`.`name`.
        std::string objectName = object.text;
        for (std::string_view prefix : {"PROCEDURE ", "FUNCTION ", "PACKAGE BODY ", "PACKAGE "}) {
          if (objectName.starts_with(prefix)) {
            objectName = objectName.substr(prefix.size());
            break;
          }
        }
        if (objectName.starts_with("*.")) {
          account.statements.push_back(grant);
        } else if (objectName.starts_with(sourceDatabase + ".")) {
          size_t at = object.start + (object.text.size() - objectName.size());
          account.statements.push_back(grant.substr(0, at) + targetDatabase +
                                       grant.substr(at + sourceDatabase.size()));
        } else {
          plan.notCarried.push_back(
              fmt::format("{}: grant on {} (another database)", account.name(), object.text));
        }
      }
      plan.accounts.push_back(std::move(account));
    }
  }
  if (!unknown.empty()) {
    return Error{fmt::format("{} no account on {}",
                             unknown.size() == 1 ? "user " + unknown[0] + " has"
                                                 : "users " + text::joined(unknown, ", ") + " have",
                             source.endpoint().describe())};
  }
  return plan;
}

Result<std::vector<std::string>> createAccounts(Connection& target, const AccountPlan& plan) {
  std::vector<std::string> created;
  for (const AccountPlan::Account& account : plan.accounts) {
    if (account.existsOnTarget) continue;
    for (const std::string& statement : account.statements) {
      Status done = target.execute(statement, "creating account " + account.name());
      if (!done) return Error{done.error()};
    }
    created.push_back(account.name());
  }
  return created;
}

}  // namespace mig::drivers::mysql
