#include "runtime/drivers/resp.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>

namespace mig::drivers::resp {
namespace {

constexpr size_t kInitialBuffer = 256 * 1024;
constexpr size_t kMaxLine = 64 * 1024 * 1024;
constexpr size_t kAutoFlush = 4 * 1024 * 1024;
constexpr int kMaxDepth = 64;

/// strerror's text starting lower case, as our messages do.
std::string systemError(int code) {
  std::string text = std::strerror(code);
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

void setTimeout(int fd, int option, std::chrono::milliseconds timeout) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  setsockopt(fd, SOL_SOCKET, option, &tv, sizeof tv);
}

/// Connects one resolved address within `timeout`; the socket, or -1 with
/// `error` set.
int connectAddress(const addrinfo& address, std::chrono::milliseconds timeout, std::string& error) {
  int fd = socket(address.ai_family, address.ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
                  address.ai_protocol);
  if (fd < 0) {
    error = systemError(errno);
    return -1;
  }
  int rc = connect(fd, address.ai_addr, address.ai_addrlen);
  if (rc != 0 && errno != EINPROGRESS) {
    error = systemError(errno);
    close(fd);
    return -1;
  }
  if (rc != 0) {
    pollfd waiting{fd, POLLOUT, 0};
    do {
      rc = poll(&waiting, 1, static_cast<int>(timeout.count()));
    } while (rc < 0 && errno == EINTR);
    if (rc == 0) {
      error = "connection timed out after " + seconds(timeout);
      close(fd);
      return -1;
    }
    int code = 0;
    socklen_t length = sizeof code;
    if (rc < 0) {
      code = errno;
    } else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &code, &length) != 0) {
      code = errno;
    }
    if (code != 0) {
      error = systemError(code);
      close(fd);
      return -1;
    }
  }
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
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

Connection::Connection(int fd, Endpoint endpoint)
    : fd_(fd), endpoint_(std::move(endpoint)), in_(kInitialBuffer) {}

Connection::~Connection() {
  if (fd_ >= 0) close(fd_);
}

std::unique_ptr<Connection> Connection::open(const Endpoint& endpoint,
                                             const ConnectOptions& options, std::string& error) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* addresses = nullptr;
  const std::string port = std::to_string(endpoint.port);
  if (int rc = getaddrinfo(endpoint.host.c_str(), port.c_str(), &hints, &addresses); rc != 0) {
    error = fmt::format("redis {}: cannot resolve {}: {}", endpoint.address(), endpoint.host,
                        rc == EAI_SYSTEM ? systemError(errno) : gai_strerror(rc));
    return nullptr;
  }
  int fd = -1;
  std::string reason = "no address";
  for (addrinfo* address = addresses; address && fd < 0; address = address->ai_next) {
    fd = connectAddress(*address, options.connectTimeout, reason);
  }
  freeaddrinfo(addresses);
  if (fd < 0) {
    error = fmt::format("redis {}: {}", endpoint.address(), reason);
    return nullptr;
  }
  if (options.ioTimeout.count() > 0) {
    setTimeout(fd, SO_RCVTIMEO, options.ioTimeout);
    setTimeout(fd, SO_SNDTIMEO, options.ioTimeout);
  }
  std::unique_ptr<Connection> connection(new Connection(fd, endpoint));

  const std::string db = std::to_string(endpoint.db);
  if (!options.password.empty()) {
    if (endpoint.user.empty()) {
      connection->append({"AUTH", options.password});
    } else {
      connection->append({"AUTH", endpoint.user, options.password});
    }
  }
  if (options.selectDb) connection->append({"SELECT", db});
  if (!connection->flush()) {
    error = connection->error();
    return nullptr;
  }
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
                          redact(auth->text, options.password));
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
                            redact(select->text, options.password));
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

void Connection::appendHeader(char type, size_t number) {
  char buffer[24];
  buffer[0] = type;
  auto result = std::to_chars(buffer + 1, buffer + sizeof buffer - 2, number);
  result.ptr[0] = '\r';
  result.ptr[1] = '\n';
  out_.append(buffer, static_cast<size_t>(result.ptr + 2 - buffer));
}

void Connection::appendArgument(std::string_view arg) {
  appendHeader('$', arg.size());
  out_.append(arg);
  out_.append("\r\n", 2);
}

void Connection::finishCommand() {
  if (out_.size() >= kAutoFlush) flush();
}

void Connection::append(std::initializer_list<std::string_view> args) {
  append(std::span<const std::string_view>(args.begin(), args.size()));
}

void Connection::append(std::span<const std::string_view> args) {
  appendHeader('*', args.size());
  for (std::string_view arg : args) appendArgument(arg);
  finishCommand();
}

void Connection::append(std::span<const std::string> args) {
  appendHeader('*', args.size());
  for (const std::string& arg : args) appendArgument(arg);
  finishCommand();
}

bool Connection::flush() {
  if (failed()) {
    out_.clear();
    return false;
  }
  size_t sent = 0;
  while (sent < out_.size()) {
    ssize_t n = send(fd_, out_.data() + sent, out_.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      out_.clear();
      if (errno == EAGAIN || errno == EWOULDBLOCK) return fail("the server stopped reading");
      return fail(systemError(errno));
    }
    sent += static_cast<size_t>(n);
  }
  out_.clear();
  return true;
}

bool Connection::fill() {
  if (inBegin_ == inEnd_) {
    inBegin_ = inEnd_ = 0;
  } else if (inEnd_ == in_.size()) {
    if (inBegin_ > 0) {
      std::memmove(in_.data(), in_.data() + inBegin_, inEnd_ - inBegin_);
      inEnd_ -= inBegin_;
      inBegin_ = 0;
    } else {
      if (in_.size() >= kMaxLine) return fail("protocol error: a reply line is too long");
      in_.resize(in_.size() * 2);
    }
  }
  while (true) {
    ssize_t n = recv(fd_, in_.data() + inEnd_, in_.size() - inEnd_, 0);
    if (n > 0) {
      inEnd_ += static_cast<size_t>(n);
      return true;
    }
    if (n == 0) return fail("connection closed by the server");
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return fail("no reply in time (timed out)");
    return fail(systemError(errno));
  }
}

bool Connection::readLine(std::string_view& line) {
  size_t scanned = 0;  // bytes after inBegin_ known to hold no '\n'
  while (true) {
    const char* begin = in_.data() + inBegin_;
    const size_t available = inEnd_ - inBegin_;
    if (available > scanned) {
      const void* found = std::memchr(begin + scanned, '\n', available - scanned);
      if (found != nullptr) {
        const char* newline = static_cast<const char*>(found);
        const size_t length = static_cast<size_t>(newline - begin);
        if (length == 0 || begin[length - 1] != '\r') {
          return fail("protocol error: a reply line does not end with CRLF");
        }
        line = std::string_view(begin, length - 1);
        inBegin_ += length + 1;
        return true;
      }
      scanned = available;
    }
    if (!fill()) return false;
  }
}

bool Connection::readBulk(size_t length, std::string& out) {
  out.resize(length);
  size_t copied = std::min(length, inEnd_ - inBegin_);
  std::memcpy(out.data(), in_.data() + inBegin_, copied);
  inBegin_ += copied;
  while (copied < length) {
    if (length - copied >= in_.size()) {
      // Large values go straight into the string, not through the buffer.
      ssize_t n = recv(fd_, out.data() + copied, length - copied, 0);
      if (n > 0) {
        copied += static_cast<size_t>(n);
        continue;
      }
      if (n == 0) return fail("connection closed by the server");
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return fail("no reply in time (timed out)");
      return fail(systemError(errno));
    }
    if (!fill()) return false;
    const size_t chunk = std::min(length - copied, inEnd_ - inBegin_);
    std::memcpy(out.data() + copied, in_.data() + inBegin_, chunk);
    inBegin_ += chunk;
    copied += chunk;
  }
  while (inEnd_ - inBegin_ < 2) {
    if (!fill()) return false;
  }
  if (in_[inBegin_] != '\r' || in_[inBegin_ + 1] != '\n') {
    return fail("protocol error: a bulk string does not end with CRLF");
  }
  inBegin_ += 2;
  return true;
}

bool Connection::readReply(Reply& reply, int depth) {
  if (depth > kMaxDepth) return fail("protocol error: replies nested too deep");
  std::string_view line;
  if (!readLine(line)) return false;
  if (line.empty()) return fail("protocol error: empty reply line");
  const char type = line[0];
  const std::string_view body = line.substr(1);
  reply.integer = 0;
  switch (type) {
    case '+':
    case '-':
      reply.kind = type == '+' ? Reply::Kind::kStatus : Reply::Kind::kError;
      reply.text.assign(body);
      reply.elements.clear();
      return true;
    case ':':
      reply.kind = Reply::Kind::kInteger;
      reply.text.clear();
      reply.elements.clear();
      if (!parseInt(body, reply.integer)) return fail("protocol error: bad integer reply");
      return true;
    case '$':
    case '*': {
      int64_t count = 0;
      if (!parseInt(body, count) || count < -1) return fail("protocol error: bad length");
      if (count == -1) {
        reply.kind = Reply::Kind::kNil;
        reply.text.clear();
        reply.elements.clear();
        return true;
      }
      if (type == '$') {
        reply.kind = Reply::Kind::kBulk;
        reply.elements.clear();
        return readBulk(static_cast<size_t>(count), reply.text);
      }
      reply.kind = Reply::Kind::kArray;
      reply.text.clear();
      reply.elements.resize(static_cast<size_t>(count));
      for (Reply& element : reply.elements) {
        if (!readReply(element, depth + 1)) return false;
      }
      return true;
    }
    default:
      return fail(fmt::format("protocol error: unexpected reply type '{}'", printable({&type, 1})));
  }
}

bool Connection::read(Reply& reply) {
  if (failed()) return false;
  if (!out_.empty() && !flush()) return false;
  return readReply(reply, 0);
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

std::string redact(std::string_view text, std::string_view secret) {
  std::string out(text);
  if (secret.empty()) return out;
  for (size_t at = out.find(secret); at != std::string::npos; at = out.find(secret, at + 3)) {
    out.replace(at, secret.size(), "***");
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

}  // namespace mig::drivers::resp
