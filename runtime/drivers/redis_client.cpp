#include "runtime/drivers/redis_client.h"

#include <fmt/format.h>
#include <hiredis.h>
#include <netdb.h>
#include <signal.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <mutex>

#include "runtime/drivers/text.h"

namespace mig::drivers::redis {
namespace {

/// Queued bytes past which `append` sends them before queuing more.
constexpr size_t kAutoFlush = 1024 * 1024;

/// A message of the system or of hiredis starting lower case, as ours do.
std::string lowerFirst(std::string text) {
  if (!text.empty()) text[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
  return text;
}

bool allDigits(std::string_view text) {
  return !text.empty() &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

template <typename Int>
bool parseInt(std::string_view text, Int& value) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  return ec == std::errc() && end == text.data() + text.size();
}

std::string seconds(std::chrono::milliseconds duration) {
  if (duration.count() % 1000 == 0) return fmt::format("{}s", duration.count() / 1000);
  return fmt::format("{:.1f}s", static_cast<double>(duration.count()) / 1000.0);
}

timeval toTimeval(std::chrono::milliseconds duration) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(duration.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((duration.count() % 1000) * 1000);
  return tv;
}

// hiredis builds replies through these functions: ours fill a `Reply` tree
// in place. The root is the `Reply` that `Connection::read` was given (the
// reader's privdata), every other node an element of its parent, sized when
// the parent array was created. The tree belongs to the caller: freeObject
// has nothing to free. They follow hiredis 0.14's layout of
// redisReplyObjectFunctions, which hiredis 1.0 changed: the top-level
// CMakeLists.txt requires hiredis below 1.0, so that another version fails
// at configure time rather than here.

Reply* replySlot(const redisReadTask* task) {
  if (task->parent == nullptr) return static_cast<Reply*>(task->privdata);
  auto* parent = static_cast<Reply*>(task->parent->obj);
  return &parent->elements[static_cast<size_t>(task->idx)];
}

void* createString(const redisReadTask* task, char* text, size_t length) {
  Reply* reply = replySlot(task);
  reply->kind = task->type == REDIS_REPLY_ERROR    ? Reply::Kind::kError
                : task->type == REDIS_REPLY_STATUS ? Reply::Kind::kStatus
                                                   : Reply::Kind::kBulk;
  reply->integer = 0;
  reply->text.assign(text, length);
  reply->elements.clear();
  return reply;
}

void* createArray(const redisReadTask* task, int elements) {
  Reply* reply = replySlot(task);
  reply->kind = Reply::Kind::kArray;
  reply->integer = 0;
  reply->text.clear();
  reply->elements.resize(static_cast<size_t>(std::max(elements, 0)));
  return reply;
}

void* createInteger(const redisReadTask* task, long long value) {
  Reply* reply = replySlot(task);
  reply->kind = Reply::Kind::kInteger;
  reply->integer = value;
  reply->text.clear();
  reply->elements.clear();
  return reply;
}

void* createNil(const redisReadTask* task) {
  Reply* reply = replySlot(task);
  reply->kind = Reply::Kind::kNil;
  reply->integer = 0;
  reply->text.clear();
  reply->elements.clear();
  return reply;
}

void freeNothing(void*) {}

redisReplyObjectFunctions replyFunctions = {createString, createArray, createInteger, createNil,
                                            freeNothing};

/// Every address `host` resolves to, numeric, for hiredis to connect to one
/// by one; nullopt with `error` set when it does not resolve.
std::optional<std::vector<std::string>> resolve(const Endpoint& endpoint, std::string& error) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* addresses = nullptr;
  const std::string port = std::to_string(endpoint.port);
  if (int rc = getaddrinfo(endpoint.host.c_str(), port.c_str(), &hints, &addresses); rc != 0) {
    error = fmt::format("redis {}: cannot resolve {}: {}", endpoint.address(), endpoint.host,
                        rc == EAI_SYSTEM ? lowerFirst(std::strerror(errno)) : gai_strerror(rc));
    return std::nullopt;
  }
  std::vector<std::string> numeric;
  for (addrinfo* address = addresses; address != nullptr; address = address->ai_next) {
    char host[NI_MAXHOST];
    if (getnameinfo(address->ai_addr, address->ai_addrlen, host, sizeof host, nullptr, 0,
                    NI_NUMERICHOST) == 0 &&
        std::find(numeric.begin(), numeric.end(), host) == numeric.end()) {
      numeric.emplace_back(host);
    }
  }
  freeaddrinfo(addresses);
  return numeric;
}

void ignoreSigpipe() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction current {};
    if (sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL) {
      signal(SIGPIPE, SIG_IGN);
    }
  });
}

}  // namespace

std::string Endpoint::address() const {
  if (host.find(':') != std::string::npos) return fmt::format("[{}]:{}", host, port);
  return fmt::format("{}:{}", host, port);
}

std::string Endpoint::describe() const {
  return fmt::format("{}/{}", address(), db);
}

std::optional<Endpoint> parseUrl(std::string_view url, std::string& error) {
  constexpr std::string_view kScheme = "redis://";
  if (url.starts_with("rediss://")) {
    error = "TLS (rediss://) is not supported; use redis://host:port/db";
    return std::nullopt;
  }
  if (!url.starts_with(kScheme)) {
    error = "a Redis URL starts with redis:// (redis://host:port/db)";
    return std::nullopt;
  }
  std::string_view rest = url.substr(kScheme.size());
  if (rest.find_first_of("?#") != std::string_view::npos) {
    // Never echo the URL: a query may hold a password (?password=...).
    error =
        "the Redis URL has a query or a fragment, which mig does not read: give the password in "
        "the environment and the database as redis://host:port/db";
    return std::nullopt;
  }
  std::string_view authority = rest.substr(0, rest.find('/'));
  std::string_view path =
      authority.size() < rest.size() ? rest.substr(authority.size() + 1) : std::string_view();
  Endpoint endpoint;
  if (auto at = authority.rfind('@'); at != std::string_view::npos) {
    std::string_view user = authority.substr(0, at);
    if (user.find(':') != std::string_view::npos) {
      // Never echo the URL: it holds a password.
      error = "the Redis URL carries a password; give it in the environment instead";
      return std::nullopt;
    }
    endpoint.user = std::string(user);
    authority = authority.substr(at + 1);
  }
  std::string_view host = authority;
  std::string_view port;
  if (authority.starts_with('[')) {
    auto close = authority.find(']');
    if (close == std::string_view::npos) {
      error = "unclosed '[' in the Redis URL's host";
      return std::nullopt;
    }
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (!after.starts_with(':')) {
        error = "unexpected text after the Redis URL's host";
        return std::nullopt;
      }
      port = after.substr(1);
    }
  } else if (auto colon = authority.rfind(':'); colon != std::string_view::npos) {
    // One colon: host:port. Several: a bare IPv6 literal, as plans
    // interpolate it, whose last colon separates the port.
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.empty()) {
    error = "the Redis URL names no host";
    return std::nullopt;
  }
  endpoint.host = std::string(host);
  if (!port.empty() &&
      (!parseInt(port, endpoint.port) || endpoint.port < 1 || endpoint.port > 65535)) {
    error = fmt::format("bad port '{}' in the Redis URL", port);
    return std::nullopt;
  }
  if (!path.empty() &&
      (!allDigits(path) || !parseInt(path, endpoint.db) || endpoint.db > 1000000)) {
    error = fmt::format("bad database '{}' in the Redis URL (a number: redis://host:port/3)", path);
    return std::nullopt;
  }
  return endpoint;
}

Connection::Connection(redisContext* context, Endpoint endpoint)
    : context_(context), endpoint_(std::move(endpoint)) {
  context_->reader->fn = &replyFunctions;
}

Connection::~Connection() {
  redisFree(context_);
}

std::unique_ptr<Connection> Connection::open(const Endpoint& endpoint,
                                             const ConnectOptions& options, std::string& error) {
  ignoreSigpipe();
  auto addresses = resolve(endpoint, error);
  if (!addresses) return nullptr;
  redisContext* context = nullptr;
  std::string reason = "no address";
  for (const std::string& address : *addresses) {
    context =
        redisConnectWithTimeout(address.c_str(), endpoint.port, toTimeval(options.connectTimeout));
    if (context == nullptr) {
      reason = "out of memory";
      continue;
    }
    if (context->err == 0) break;
    reason = lowerFirst(context->errstr);
    if (reason == "connection timed out") reason += " after " + seconds(options.connectTimeout);
    redisFree(context);
    context = nullptr;
  }
  if (context == nullptr) {
    error = fmt::format("redis {}: {}", endpoint.address(), reason);
    return nullptr;
  }
  if (redisSetTimeout(context, toTimeval(options.ioTimeout)) != REDIS_OK) {
    error = fmt::format("redis {}: {}", endpoint.address(), lowerFirst(context->errstr));
    redisFree(context);
    return nullptr;
  }
  std::unique_ptr<Connection> connection(new Connection(context, endpoint));

  const std::string db = std::to_string(endpoint.db);
  if (!options.password.empty()) {
    if (endpoint.user.empty()) {
      connection->append({"AUTH", options.password});
    } else {
      connection->append({"AUTH", endpoint.user, options.password});
    }
  }
  if (options.selectDb) connection->append({"SELECT", db});
  if (!options.password.empty()) {
    auto auth = connection->read();
    if (!auth) {
      error = connection->error();
      return nullptr;
    }
    // A server without any password answers AUTH with an error that says
    // so; the password is then simply not needed, as redis-cli treats it.
    const bool noPasswordConfigured =
        auth->isError() && auth->text.find("without any password configured") != std::string::npos;
    if (auth->isError() && !noPasswordConfigured) {
      error = fmt::format("redis {}: authentication failed: {}", endpoint.address(),
                          text::redact(auth->text, options.password));
      return nullptr;
    }
  }
  if (options.selectDb) {
    auto select = connection->read();
    if (!select) {
      error = connection->error();
      return nullptr;
    }
    if (select->isError()) {
      if (select->text.starts_with("NOAUTH") && options.password.empty()) {
        error = fmt::format("redis {} requires a password: set {}", endpoint.address(),
                            options.passwordSource);
      } else {
        error = fmt::format("redis {}: SELECT {} failed: {}", endpoint.address(), db,
                            text::redact(select->text, options.password));
      }
      return nullptr;
    }
  }
  return connection;
}

bool Connection::fail(std::string message) {
  if (error_.empty()) error_ = fmt::format("redis {}: {}", endpoint_.address(), message);
  return false;
}

bool Connection::failFromContext() {
  const std::string reason = context_->errstr;
  switch (context_->err) {
    case REDIS_ERR_EOF:
      return fail("connection closed by the server");
    case REDIS_ERR_PROTOCOL: {
      std::string message = lowerFirst(reason);  // "protocol error, got ..." mostly
      return fail(message.starts_with("protocol error") ? message : "protocol error: " + message);
    }
    case REDIS_ERR_OOM:
      return fail("out of memory");
    case REDIS_ERR_IO:
      // A socket timeout (SO_RCVTIMEO, SO_SNDTIMEO) ends a blocking read or
      // write with EAGAIN.
      if (reason == std::strerror(EAGAIN) || reason == std::strerror(EWOULDBLOCK)) {
        return fail("no reply in time (timed out)");
      }
      return fail(lowerFirst(reason));
    default:
      return fail(reason.empty() ? "connection failed" : lowerFirst(reason));
  }
}

void Connection::appendArgv() {
  if (failed()) return;
  if (redisAppendCommandArgv(context_, static_cast<int>(argv_.size()), argv_.data(),
                             argvLengths_.data()) != REDIS_OK) {
    failFromContext();
    return;
  }
  if (queued_ >= kAutoFlush) flush();
}

void Connection::append(std::initializer_list<std::string_view> args) {
  append(std::span<const std::string_view>(args.begin(), args.size()));
}

void Connection::append(std::span<const std::string_view> args) {
  appendArgs(args);
}

void Connection::append(std::span<const std::string> args) {
  appendArgs(args);
}

template <typename Args>
void Connection::appendArgs(const Args& args) {
  argv_.clear();
  argvLengths_.clear();
  for (const auto& arg : args) {
    argv_.push_back(arg.data());
    argvLengths_.push_back(arg.size());
    queued_ += arg.size() + 16;
  }
  appendArgv();
}

bool Connection::setIoTimeout(std::chrono::milliseconds timeout) {
  if (failed()) return false;
  if (redisSetTimeout(context_, toTimeval(timeout)) != REDIS_OK) return failFromContext();
  return true;
}

bool Connection::flush() {
  queued_ = 0;
  if (failed()) return false;
  int done = 0;
  while (!done) {
    if (redisBufferWrite(context_, &done) != REDIS_OK) return failFromContext();
  }
  return true;
}

bool Connection::read(Reply& reply) {
  if (failed()) return false;
  queued_ = 0;
  context_->reader->privdata = &reply;
  void* built = nullptr;
  const int rc = redisGetReply(context_, &built);
  context_->reader->privdata = nullptr;
  if (rc != REDIS_OK || built == nullptr) return failFromContext();
  return true;
}

std::optional<Reply> Connection::read() {
  Reply reply;
  if (!read(reply)) return std::nullopt;
  return reply;
}

std::optional<Reply> Connection::command(std::initializer_list<std::string_view> args) {
  append(args);
  if (!flush()) return std::nullopt;
  return read();
}

std::string printable(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (byte < 0x20 || byte >= 0x7f) {
          out += fmt::format("\\x{:02x}", byte);
        } else {
          out += c;
        }
    }
  }
  return out;
}

std::string infoField(std::string_view info, std::string_view field) {
  size_t at = 0;
  while (at < info.size()) {
    size_t end = info.find('\n', at);
    if (end == std::string_view::npos) end = info.size();
    std::string_view line = info.substr(at, end - at);
    if (line.ends_with('\r')) line.remove_suffix(1);
    if (line.size() > field.size() && line.starts_with(field) && line[field.size()] == ':') {
      return std::string(line.substr(field.size() + 1));
    }
    at = end + 1;
  }
  return "";
}

}  // namespace mig::drivers::redis
