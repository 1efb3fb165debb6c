#pragma once

#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "runtime/drivers/result.h"

struct st_mysql;

/// A small layer over MariaDB Connector/C (libmariadb) for the MySQL
/// drivers. Passwords never pass through mig's own code: the runtime writes
/// them into a 0600 option file (MIG_OPTION_FILE), one group
/// `[client-ENDPOINT]` per endpoint, which the library reads for a
/// connection and the clients (`mysqldump`, `mysql`) read with
/// `--defaults-extra-file` and `--defaults-group-suffix=-ENDPOINT`.
namespace mig::drivers::mysql {

/// The variable naming the option file.
inline constexpr const char* kOptionFileVariable = "MIG_OPTION_FILE";

/// What a plan's URL names: mysql://USER@HOST:PORT/DATABASE.
struct Location {
  std::string user;
  std::string host;
  int port = 3306;
  std::string database;

  /// nullopt with `error` set for anything else, or for a URL that holds a
  /// password (it belongs in the plan's secret, never in a URL).
  static std::optional<Location> parse(std::string_view url, std::string& error);
  /// mysql://USER@HOST:PORT/DATABASE
  std::string url() const;
};

/// One endpoint of a driver's command line: `--NAME URL` and, for its
/// password, `--NAME-endpoint ENDPOINT` (the plan's endpoint, whose group of
/// the option file holds it).
struct Endpoint {
  Location location;
  std::string endpoint;  ///< "" when the plan gives it no password
  std::string role;      ///< "source", "a": how messages name it

  /// `program` (mysqldump, mysql) with the arguments that reach this
  /// endpoint's server as this user, password from the option file.
  /// No database: the caller adds it.
  std::vector<std::string> clientCommand(const std::string& program) const;
  /// "source mysql://app@db:3306/shop"
  std::string describe() const;
};

/// The rows of a query, every value as text (nullopt for NULL).
class Rows {
 public:
  using Row = std::vector<std::optional<std::string>>;

  size_t size() const { return rows_.size(); }
  bool empty() const { return rows_.empty(); }
  const Row& operator[](size_t row) const { return rows_[row]; }
  /// The value at (`row`, `column`); "" for NULL.
  std::string text(size_t row, size_t column) const;
  long long integer(size_t row, size_t column) const;
  auto begin() const { return rows_.begin(); }
  auto end() const { return rows_.end(); }

 private:
  friend class Connection;
  std::vector<Row> rows_;
};

/// A connection to one server, with the endpoint's database as default.
class Connection {
 public:
  /// Connects as `endpoint` says, with utf8mb4 as the connection's character
  /// set. The error names the endpoint and the server's reason ("cannot
  /// connect to target mysql://app@db:3306/shop: Access denied for user
  /// ..."). `useDatabase` false connects without a default database (for a
  /// database that may not exist yet).
  static Result<std::unique_ptr<Connection>> open(const Endpoint& endpoint,
                                                  bool useDatabase = true);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  /// Runs one statement and returns its rows (none for a statement without
  /// a result set). An error quotes the statement's start, or says `doing`
  /// instead when given (for statements that hold a password hash).
  Result<Rows> query(std::string_view sql, std::string_view doing = "");
  /// Runs one statement without a result.
  Status execute(std::string_view sql, std::string_view doing = "");

  /// A string literal for this connection's character set ('it''s').
  std::string literal(std::string_view text) const;
  /// "10.11.6-MariaDB-0+deb12u1"
  std::string serverVersion() const;
  const Endpoint& endpoint() const { return endpoint_; }

 private:
  Connection() = default;
  Error failure(std::string_view doing) const;

  st_mysql* connection_ = nullptr;
  Endpoint endpoint_;
};

/// An identifier quoted for SQL, always (`order` -> "`order`").
std::string identifier(std::string_view name);

}  // namespace mig::drivers::mysql

namespace mig::drivers {
struct DriverArgs;
namespace mysql {

/// The endpoint `--NAME URL` and `--NAME-endpoint ENDPOINT` give, named
/// `role` in messages; nullopt after printing what is wrong to `err`.
std::optional<Endpoint> endpointArgument(const DriverArgs& args, const std::string& name,
                                         const std::string& role, std::ostream& err);

/// The user names of `--users u1,u2`, each once, in order; none for "" or
/// no option.
std::vector<std::string> usersArgument(const DriverArgs& args);

}  // namespace mysql
}  // namespace mig::drivers
