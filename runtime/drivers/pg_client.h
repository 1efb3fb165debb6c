#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/drivers/result.h"

struct pg_conn;
struct pg_result;

/// A small layer over libpq for the PostgreSQL drivers: connections opened
/// from a plan's URL (the password comes from the PGPASSFILE the runtime
/// writes, as for every libpq client), text-format queries with parameters,
/// and messages that never show a password.
namespace mig::drivers::pg {

/// The rows of a query, in text format.
class Rows {
 public:
  Rows() = default;
  explicit Rows(pg_result* result);

  int size() const { return rows_; }
  bool empty() const { return rows_ == 0; }
  int columns() const { return columns_; }
  /// The value at (`row`, `column`); "" for NULL.
  std::string text(int row, int column) const;
  bool isNull(int row, int column) const;
  long long integer(int row, int column) const;
  bool boolean(int row, int column) const { return text(row, column) == "t"; }

 private:
  struct Free {
    void operator()(pg_result* result) const;
  };
  std::shared_ptr<pg_result> result_;  ///< shared: Rows are copied into results freely
  int rows_ = 0;
  int columns_ = 0;
};

/// A connection to one database.
class Connection {
 public:
  /// Connects to `url` (a libpq URL or conninfo string). `role` names the
  /// endpoint in messages ("source", "a"). The error says which server
  /// refused and why ("cannot connect to source postgresql://app@db/shop:
  /// password authentication failed for user \"app\"").
  ///
  /// `serverSettings` false sends no session settings (DateStyle, time
  /// zone, timeouts): a connection pooler's admin console takes none.
  static Result<std::unique_ptr<Connection>> open(const std::string& url, const std::string& role,
                                                  bool serverSettings = true);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  /// Runs one statement with text parameters ($1, $2, ...; nullopt is NULL).
  Result<Rows> query(std::string_view sql,
                     const std::vector<std::optional<std::string>>& parameters = {});
  /// Runs a script of statements without parameters or results.
  Status execute(std::string_view sql);
  /// Runs `sql` with the simple query protocol (the only one a pooler's
  /// admin console speaks) and returns the last result's rows. With a
  /// `limit`, gives up waiting after it and sets `timedOut`; the statement
  /// may still be running then, so the caller drops the connection.
  Result<Rows> simpleQuery(std::string_view sql,
                           std::chrono::milliseconds limit = std::chrono::milliseconds::zero(),
                           bool* timedOut = nullptr);

  /// An identifier quoted for SQL, always ("orders" -> "\"orders\"").
  std::string identifier(std::string_view name) const;
  /// A string literal for SQL, quotes and backslashes escaped.
  std::string literal(std::string_view text) const;

  /// 150004 for 15.4.
  int serverVersion() const;
  /// A libpq conninfo string (host, port, dbname, user, password) that
  /// reaches this database as this connection did, password included (from
  /// the URL or the PGPASSFILE): for a server that must connect to it, like
  /// a subscription. Never print it.
  std::string conninfoWithPassword() const;
  /// The password this connection logged in with, or "" for none.
  std::string password() const;
  /// The URL with any password in it replaced by ***: how messages name it.
  const std::string& where() const { return where_; }
  /// "source", "a": the name messages give this endpoint.
  const std::string& role() const { return role_; }

 private:
  Connection() = default;
  Error failure(std::string_view doing, pg_result* result = nullptr) const;

  pg_conn* connection_ = nullptr;
  std::string where_;
  std::string role_;
  std::string password_;  ///< a password written in the URL itself: redacted from messages
};

/// The password a URL or conninfo string carries in itself
/// (`scheme://user:PW@host`, `password=PW`), or "" when none.
std::string passwordIn(std::string_view url);
/// The user a URL names, or "" when it names none.
std::string userIn(std::string_view url);

}  // namespace mig::drivers::pg
