#include "runtime/drivers/pg_client.h"

#include <fmt/format.h>
#include <libpq-fe.h>

#include <poll.h>

#include <cerrno>
#include <cstdlib>

#include "runtime/drivers/text.h"

namespace mig::drivers::pg {
namespace {

/// libpq's message on one line, without its trailing newline.
std::string oneMessage(const char* text) {
  std::string message = text == nullptr ? "" : text;
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) {
    message.pop_back();
  }
  // Hints come on lines of their own, indented: one line reads better.
  std::string folded;
  for (size_t i = 0; i < message.size(); ++i) {
    char c = message[i];
    if (c == '\n' || c == '\t') {
      while (i + 1 < message.size() && (message[i + 1] == ' ' || message[i + 1] == '\t')) ++i;
      if (!folded.empty() && folded.back() != ' ') folded += ' ';
      continue;
    }
    folded += c;
  }
  return folded;
}

}  // namespace

void Rows::Free::operator()(pg_result* result) const {
  PQclear(result);
}

Rows::Rows(pg_result* result)
    : result_(result, Free{}), rows_(PQntuples(result)), columns_(PQnfields(result)) {}

std::string Rows::text(int row, int column) const {
  const char* value = PQgetvalue(result_.get(), row, column);
  return std::string(value, static_cast<size_t>(PQgetlength(result_.get(), row, column)));
}

bool Rows::isNull(int row, int column) const {
  return PQgetisnull(result_.get(), row, column) != 0;
}

long long Rows::integer(int row, int column) const {
  return std::atoll(PQgetvalue(result_.get(), row, column));
}

Result<std::unique_ptr<Connection>> Connection::open(const std::string& url,
                                                     const std::string& role,
                                                     bool serverSettings) {
  std::unique_ptr<Connection> connection(new Connection());
  connection->password_ = passwordIn(url);
  connection->where_ = text::redact(url, connection->password_);
  connection->role_ = role;

  const char* timeout = std::getenv("PGCONNECT_TIMEOUT");
  // Values the drivers read back and print or replay (a role's VALID
  // UNTIL) in one format whatever the database's settings; and no limit
  // of the server's on how long a copy or a compare may take.
  const char* options =
      "-c DateStyle=ISO,YMD -c TimeZone=UTC -c IntervalStyle=postgres -c statement_timeout=0 "
      "-c lock_timeout=0 -c idle_in_transaction_session_timeout=0";
  const char* keywords[] = {"dbname", "connect_timeout", "fallback_application_name", "options",
                            nullptr};
  const char* values[] = {url.c_str(), timeout != nullptr ? timeout : "10", "mig driver", options,
                          nullptr};
  if (!serverSettings) keywords[3] = nullptr;
  connection->connection_ = PQconnectdbParams(keywords, values, /*expand_dbname=*/1);
  if (connection->connection_ == nullptr) {
    return Error{fmt::format("cannot connect to {} {}: out of memory", role, connection->where_)};
  }
  if (PQstatus(connection->connection_) != CONNECTION_OK) {
    return Error{fmt::format(
        "cannot connect to {} {}: {}", role, connection->where_,
        text::redact(oneMessage(PQerrorMessage(connection->connection_)), connection->password_))};
  }
  // Notices (DROP ... CASCADE lists, "does not exist, skipping") are not
  // for the operator: the drivers say what they did themselves.
  PQsetNoticeProcessor(
      connection->connection_, [](void*, const char*) {}, nullptr);
  return connection;
}

std::string Connection::password() const {
  const char* password = PQpass(connection_);
  return password == nullptr ? "" : password;
}

std::string Connection::conninfoWithPassword() const {
  // conninfo values are single-quoted, with \ and ' escaped by a backslash.
  auto value = [](const char* text) {
    std::string quoted = "'";
    for (const char* c = text == nullptr ? "" : text; *c != '\0'; ++c) {
      if (*c == '\'' || *c == '\\') quoted += '\\';
      quoted += *c;
    }
    return quoted + "'";
  };
  std::string conninfo = fmt::format("host={} port={} dbname={} user={}", value(PQhost(connection_)),
                                     value(PQport(connection_)), value(PQdb(connection_)),
                                     value(PQuser(connection_)));
  std::string secret = password();
  if (!secret.empty()) conninfo += " password=" + value(secret.c_str());
  return conninfo;
}

Connection::~Connection() {
  if (connection_ != nullptr) PQfinish(connection_);
}

Error Connection::failure(std::string_view doing, pg_result* result) const {
  std::string message =
      oneMessage(result != nullptr ? PQresultErrorMessage(result) : PQerrorMessage(connection_));
  if (message.empty()) message = oneMessage(PQerrorMessage(connection_));
  if (result != nullptr) PQclear(result);
  std::string described = doing.empty() ? message : fmt::format("{}: {}", doing, message);
  return Error{text::redact(described, password_)};
}

Result<Rows> Connection::query(std::string_view sql,
                               const std::vector<std::optional<std::string>>& parameters) {
  std::vector<const char*> values;
  values.reserve(parameters.size());
  for (const auto& parameter : parameters) {
    values.push_back(parameter ? parameter->c_str() : nullptr);
  }
  std::string statement(sql);
  pg_result* result = PQexecParams(connection_, statement.c_str(), static_cast<int>(values.size()),
                                   nullptr, values.data(), nullptr, nullptr, /*resultFormat=*/0);
  if (result == nullptr) return failure("");
  ExecStatusType status = PQresultStatus(result);
  if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) return failure("", result);
  return Rows(result);
}

Result<Rows> Connection::simpleQuery(std::string_view sql, std::chrono::milliseconds limit,
                                     bool* timedOut) {
  if (timedOut != nullptr) *timedOut = false;
  std::string statement(sql);
  if (PQsendQuery(connection_, statement.c_str()) == 0) return failure("");
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (PQisBusy(connection_) != 0) {
    int waitMs = -1;
    if (limit.count() > 0) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        if (timedOut != nullptr) *timedOut = true;
        return Error{fmt::format("no answer within {} ms", limit.count())};
      }
      waitMs = static_cast<int>(left.count());
    }
    pollfd socket{PQsocket(connection_), POLLIN, 0};
    if (::poll(&socket, 1, waitMs) < 0 && errno != EINTR) return failure("");
    if (PQconsumeInput(connection_) == 0) return failure("");
  }
  Result<Rows> last = Rows();
  while (pg_result* result = PQgetResult(connection_)) {
    ExecStatusType status = PQresultStatus(result);
    if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
      last = failure("", result);
    } else if (last) {
      last = Rows(result);
    } else {
      PQclear(result);
    }
  }
  return last;
}

Status Connection::execute(std::string_view sql) {
  std::string script(sql);
  pg_result* result = PQexec(connection_, script.c_str());
  if (result == nullptr) return failure("");
  ExecStatusType status = PQresultStatus(result);
  if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) return failure("", result);
  PQclear(result);
  return success();
}

std::string Connection::identifier(std::string_view name) const {
  char* quoted = PQescapeIdentifier(connection_, name.data(), name.size());
  if (quoted == nullptr) {
    // Out of memory, or not valid in the client encoding: quote it by hand.
    std::string text = "\"";
    for (char c : name) text += c == '"' ? std::string("\"\"") : std::string(1, c);
    return text + "\"";
  }
  std::string text = quoted;
  PQfreemem(quoted);
  return text;
}

std::string Connection::literal(std::string_view text) const {
  char* quoted = PQescapeLiteral(connection_, text.data(), text.size());
  if (quoted == nullptr) {
    // As PQescapeLiteral would: quotes doubled, and E'' with backslashes doubled.
    std::string body;
    bool backslash = false;
    for (char c : text) {
      if (c == '\'') body += '\'';
      if (c == '\\') {
        body += '\\';
        backslash = true;
      }
      body += c;
    }
    return (backslash ? " E'" : "'") + body + "'";
  }
  std::string result = quoted;
  PQfreemem(quoted);
  return result;
}

int Connection::serverVersion() const {
  return PQserverVersion(connection_);
}

std::string passwordIn(std::string_view url) {
  size_t scheme = url.find("://");
  if (scheme != std::string_view::npos) {
    std::string_view rest = url.substr(scheme + 3);
    std::string_view authority = rest.substr(0, rest.find_first_of("/?"));
    size_t at = authority.rfind('@');
    if (at != std::string_view::npos) {
      std::string_view userinfo = authority.substr(0, at);
      size_t colon = userinfo.find(':');
      if (colon != std::string_view::npos) return std::string(userinfo.substr(colon + 1));
    }
  }
  size_t key = url.find("password=");
  if (key == std::string_view::npos) return "";
  std::string_view value = url.substr(key + 9);
  if (value.starts_with('\'')) value = value.substr(1, value.find('\'', 1) - 1);
  return std::string(value.substr(0, value.find_first_of("& ")));
}

std::string userIn(std::string_view url) {
  size_t scheme = url.find("://");
  if (scheme == std::string_view::npos) return "";
  std::string_view rest = url.substr(scheme + 3);
  std::string_view authority = rest.substr(0, rest.find_first_of("/?"));
  size_t at = authority.rfind('@');
  if (at == std::string_view::npos) return "";
  std::string_view userinfo = authority.substr(0, at);
  return std::string(userinfo.substr(0, userinfo.find(':')));
}

}  // namespace mig::drivers::pg
