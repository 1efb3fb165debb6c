#include "runtime/drivers/mysql_client.h"

#include <fmt/format.h>
#include <mysql.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>

#include "runtime/drivers/driver.h"
#include "runtime/drivers/text.h"

namespace mig::drivers::mysql {
namespace {

/// The option file the runtime wrote for this step, or "" when the plan
/// gives none of the step's endpoints a password.
std::string optionFile() {
  const char* path = std::getenv(kOptionFileVariable);
  return path == nullptr ? "" : path;
}

}  // namespace

std::optional<Location> Location::parse(std::string_view url, std::string& error) {
  constexpr std::string_view scheme = "mysql://";
  auto fail = [&](std::string_view why) {
    error = fmt::format("'{}' is not a MySQL URL (mysql://USER@HOST:PORT/DATABASE): {}", url, why);
    return std::nullopt;
  };
  if (!url.starts_with(scheme)) return fail("it does not start with mysql://");
  std::string_view rest = url.substr(scheme.size());
  size_t slash = rest.find('/');
  if (slash == std::string_view::npos) return fail("no /DATABASE");
  std::string_view authority = rest.substr(0, slash);
  Location location;
  location.database = std::string(rest.substr(slash + 1));
  if (location.database.empty()) return fail("no database after the /");
  size_t at = authority.rfind('@');
  if (at != std::string_view::npos) {
    std::string_view user = authority.substr(0, at);
    if (user.find(':') != std::string_view::npos) {
      // Say nothing of what follows the colon: it is a password.
      error = fmt::format(
          "a MySQL URL for user '{}' holds a password: give it to the plan's secret instead",
          user.substr(0, user.find(':')));
      return std::nullopt;
    }
    location.user = std::string(user);
    authority = authority.substr(at + 1);
  }
  std::string_view port;
  if (authority.starts_with('[')) {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return fail("an unclosed [ in the host");
    location.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (!after.starts_with(':')) return fail("text after the ]");
      port = after.substr(1);
    }
  } else {
    size_t colon = authority.rfind(':');
    location.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
  }
  if (location.host.empty()) return fail("no host");
  if (!port.empty()) {
    int number = 0;
    auto [end, problem] = std::from_chars(port.data(), port.data() + port.size(), number);
    if (problem != std::errc() || end != port.data() + port.size() || number < 1 ||
        number > 65535) {
      return fail(fmt::format("the port '{}' is not a number from 1 to 65535", port));
    }
    location.port = number;
  }
  return location;
}

std::string Location::url() const {
  bool ipv6 = host.find(':') != std::string::npos;
  return fmt::format("mysql://{}{}{}:{}/{}", user, user.empty() ? "" : "@",
                     ipv6 ? "[" + host + "]" : host, port, database);
}

std::vector<std::string> Endpoint::clientCommand(const std::string& program) const {
  std::vector<std::string> argv = {program};
  std::string file = optionFile();
  // The clients take --defaults-extra-file only as their first argument.
  if (!file.empty()) argv.push_back("--defaults-extra-file=" + file);
  if (!endpoint.empty()) argv.push_back("--defaults-group-suffix=-" + endpoint);
  argv.push_back("--host=" + location.host);
  argv.push_back(fmt::format("--port={}", location.port));
  if (!location.user.empty()) argv.push_back("--user=" + location.user);
  return argv;
}

std::string Endpoint::describe() const {
  return fmt::format("{} {}", role, location.url());
}

std::string Rows::text(size_t row, size_t column) const {
  const std::optional<std::string>& value = rows_[row][column];
  return value ? *value : "";
}

long long Rows::integer(size_t row, size_t column) const {
  return std::atoll(text(row, column).c_str());
}

Result<std::unique_ptr<Connection>> Connection::open(const Endpoint& endpoint, bool useDatabase) {
  std::unique_ptr<Connection> connection(new Connection());
  connection->endpoint_ = endpoint;
  connection->connection_ = mysql_init(nullptr);
  if (connection->connection_ == nullptr) {
    return Error{fmt::format("cannot connect to {}: out of memory", endpoint.describe())};
  }
  st_mysql* handle = connection->connection_;
  unsigned int timeout = 10;
  mysql_optionsv(handle, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
  mysql_optionsv(handle, MYSQL_SET_CHARSET_NAME, "utf8mb4");
  std::string file = optionFile();
  std::string group = "client-" + endpoint.endpoint;
  if (!file.empty() && !endpoint.endpoint.empty()) {
    mysql_optionsv(handle, MYSQL_READ_DEFAULT_FILE, file.c_str());
    mysql_optionsv(handle, MYSQL_READ_DEFAULT_GROUP, group.c_str());
  }
  const Location& where = endpoint.location;
  if (mysql_real_connect(handle, where.host.c_str(),
                         where.user.empty() ? nullptr : where.user.c_str(),
                         /*passwd=*/nullptr, useDatabase ? where.database.c_str() : nullptr,
                         static_cast<unsigned int>(where.port), /*unix_socket=*/nullptr,
                         /*flags=*/0) == nullptr) {
    return Error{fmt::format("cannot connect to {}: {}", endpoint.describe(), mysql_error(handle))};
  }
  return connection;
}

Connection::~Connection() {
  if (connection_ != nullptr) mysql_close(connection_);
}

Error Connection::failure(std::string_view doing) const {
  return Error{fmt::format("{} on {}: {}", doing, endpoint_.describe(), mysql_error(connection_))};
}

Result<Rows> Connection::query(std::string_view sql, std::string_view doing) {
  std::string what = doing.empty() ? fmt::format("'{}'", sql.substr(0, 200)) : std::string(doing);
  if (mysql_real_query(connection_, sql.data(), static_cast<unsigned long>(sql.size())) != 0) {
    return failure(fmt::format("{} failed", what));
  }
  Rows rows;
  MYSQL_RES* result = mysql_store_result(connection_);
  if (result == nullptr) {
    if (mysql_field_count(connection_) == 0) return rows;
    return failure(fmt::format("cannot read the result of {}", what));
  }
  unsigned int columns = mysql_num_fields(result);
  while (MYSQL_ROW row = mysql_fetch_row(result)) {
    unsigned long* lengths = mysql_fetch_lengths(result);
    Rows::Row values(columns);
    for (unsigned int column = 0; column < columns; ++column) {
      if (row[column] != nullptr) values[column] = std::string(row[column], lengths[column]);
    }
    rows.rows_.push_back(std::move(values));
  }
  mysql_free_result(result);
  return rows;
}

Status Connection::execute(std::string_view sql, std::string_view doing) {
  Result<Rows> rows = query(sql, doing);
  if (!rows) return Error{rows.error()};
  return success();
}

std::string Connection::literal(std::string_view text) const {
  std::string escaped(text.size() * 2 + 1, '\0');
  unsigned long length = mysql_real_escape_string(connection_, escaped.data(), text.data(),
                                                  static_cast<unsigned long>(text.size()));
  escaped.resize(length);
  return "'" + escaped + "'";
}

std::string Connection::serverVersion() const {
  return mysql_get_server_info(connection_);
}

std::string identifier(std::string_view name) {
  std::string quoted = "`";
  for (char c : name) quoted += c == '`' ? std::string("``") : std::string(1, c);
  return quoted + "`";
}

std::optional<Endpoint> endpointArgument(const DriverArgs& args, const std::string& name,
                                         const std::string& role, std::ostream& err) {
  std::optional<std::string> url = args.require(name, err);
  if (!url) return std::nullopt;
  std::string error;
  std::optional<Location> location = Location::parse(*url, error);
  if (!location) {
    err << "mig driver: --" << name << ": " << error << '\n';
    return std::nullopt;
  }
  Endpoint endpoint;
  endpoint.location = std::move(*location);
  endpoint.role = role;
  if (auto it = args.options.find(name + "-endpoint"); it != args.options.end()) {
    endpoint.endpoint = it->second;
  }
  return endpoint;
}

std::vector<std::string> usersArgument(const DriverArgs& args) {
  std::vector<std::string> users;
  auto option = args.options.find("users");
  if (option == args.options.end()) return users;
  const std::string& text = option->second;
  size_t at = 0;
  while (at <= text.size()) {
    size_t comma = std::min(text.find(',', at), text.size());
    std::string user = text::trimmed(std::string_view(text).substr(at, comma - at));
    if (!user.empty() && std::find(users.begin(), users.end(), user) == users.end()) {
      users.push_back(std::move(user));
    }
    at = comma + 1;
  }
  return users;
}

}  // namespace mig::drivers::mysql
