#pragma once

// SQL text as MySQL and MariaDB print it (view definitions, routine
// bodies, SHOW CREATE USER, SHOW GRANTS), read for comparing two servers:
// names qualified by the database made independent of its name, and
// accounts' password hashes kept apart from everything that is printed.

#include <string>
#include <string_view>
#include <vector>

namespace mig::drivers::mysql {

/// One token of SQL text. Comments and white space are no tokens.
struct Token {
  enum class Kind { kWord, kIdentifier, kString, kSymbol };
  Kind kind = Kind::kSymbol;
  size_t begin = 0;   ///< offset of the token's first character
  size_t end = 0;     ///< offset just past its last character
  std::string value;  ///< a word as written; an identifier or string unquoted

  /// Whether this is the word `keyword`, in any case.
  bool is(std::string_view keyword) const;
};

/// The tokens of `sql`: words, `identifiers`, 'strings' and "strings" (with
/// backslash escapes and doubled quotes), and single symbols.
std::vector<Token> tokenize(std::string_view sql);

/// `sql` with every name qualified by `database` unqualified, so that the
/// same view over two databases of different names reads alike:
/// "select `shop`.`t`.`id` from `shop`.`t`" -> "select `t`.`id` from `t`".
/// Only the first name of a chain is the database's (`shop`.`shop`.`id` is
/// column id of table shop); strings and comments are left alone.
std::string withoutDatabase(std::string_view sql, std::string_view database);

/// What SHOW CREATE USER says of an account, the password hashes apart.
struct AccountDefinition {
  /// "mysql_native_password", "unix_socket OR mysql_native_password", or
  /// "" for an account without authentication.
  std::string plugin;
  /// The hashes (IDENTIFIED BY PASSWORD '...', USING '...', AS '...'),
  /// joined: compared, never printed.
  std::string secret;
  /// The rest as printed (REQUIRE SSL, WITH MAX_QUERIES_PER_HOUR 5,
  /// PASSWORD EXPIRE, ACCOUNT LOCK), "" when there is none. Any string
  /// after BY, USING, AS or PASSWORD in it is masked as '...'.
  std::string options;
};

/// Splits a SHOW CREATE USER statement.
AccountDefinition parseCreateUser(std::string_view statement);

/// A SHOW GRANTS line as compared between servers: without its
/// authentication (IDENTIFIED ..., which would print the hash), REQUIRE
/// clause and resource limits (the account's options hold them), and with
/// names of `database` (`shop`.* or, as a pattern, `shop\_db`.*) replaced
/// by placeholders, so that a grant on database shop of one server equals
/// the same grant on shop_copy of the other.
std::string normalizedGrant(std::string_view line, std::string_view database);

/// A line of normalizedGrant with `database` back in place of the
/// placeholders, for printing.
std::string grantOn(std::string_view normalized, std::string_view database);

}  // namespace mig::drivers::mysql
