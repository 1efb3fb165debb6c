#pragma once

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

/// A small Redis client for the Redis drivers: RESP2 over TCP (IPv4 or
/// IPv6), binary-safe, pipelined. Commands are queued with `append` and
/// sent with `flush`; replies are read one by one with `read`, in the order
/// the commands were sent. An error reply from the server is a `Reply` like
/// any other; only a broken connection (or a protocol violation) is a
/// failure, after which the connection stays failed and `error()` says why.
/// Nothing throws, and no message ever contains a password.
namespace mig::drivers::resp {

/// Where a Redis database is, from `redis://[user@]host[:port][/db]`.
struct Endpoint {
  std::string host;
  int port = 6379;
  int db = 0;
  std::string user;  ///< empty: AUTH with the password alone (the `default` user)

  /// "host:port", an IPv6 host in brackets: how messages name the server.
  std::string address() const;
  /// "host:port/db".
  std::string describe() const;
};

/// Parses `redis://[user@]host[:port][/db]`; the host may be an IPv6
/// literal in brackets (or, as plans interpolate it, bare: the last colon
/// then separates the port). A URL carrying a password is refused without
/// being echoed: passwords come from the environment. nullopt with `error`
/// set when the URL is malformed.
std::optional<Endpoint> parseUrl(std::string_view url, std::string& error);

/// One RESP2 reply. Nil bulk strings and nil arrays are both `kNil`.
struct Reply {
  enum class Kind : uint8_t { kStatus, kError, kInteger, kBulk, kNil, kArray };

  Kind kind = Kind::kNil;
  int64_t integer = 0;
  std::string text;  ///< a status, an error message or a bulk string's bytes
  std::vector<Reply> elements;

  bool isError() const { return kind == Kind::kError; }
  bool isNil() const { return kind == Kind::kNil; }
  bool isArray() const { return kind == Kind::kArray; }
  bool isStatus(std::string_view status) const { return kind == Kind::kStatus && text == status; }
};

struct ConnectOptions {
  std::chrono::milliseconds connectTimeout{5000};
  /// How long one send or receive may wait; zero waits for ever.
  std::chrono::milliseconds ioTimeout{300000};
  /// Sent with AUTH when not empty; never part of any message.
  std::string password;
  /// Names the environment variables a password comes from, for the
  /// message when a server requires one and none was given.
  std::string passwordSource = "REDISCLI_AUTH";
  /// SELECT the endpoint's db after connecting (this also proves the
  /// connection is usable: a server that wants a password refuses it).
  bool selectDb = true;
};

/// A connection to one server. Not thread-safe: one thread at a time.
class Connection {
 public:
  /// Connects (trying every address the host resolves to), authenticates
  /// and selects the endpoint's db; nullptr with `error` set otherwise,
  /// e.g. "redis 10.0.0.5:6379: connection refused" or "redis
  /// 127.0.0.1:6379: authentication failed: WRONGPASS ...".
  static std::unique_ptr<Connection> open(const Endpoint& endpoint, const ConnectOptions& options,
                                          std::string& error);

  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  /// Queues one command; nothing is sent before `flush` unless the queue
  /// grows past a few megabytes.
  void append(std::initializer_list<std::string_view> args);
  void append(std::span<const std::string_view> args);
  void append(std::span<const std::string> args);

  /// Sends every queued command; false when the connection failed.
  bool flush();

  /// The next reply; nullopt when the connection failed (see `error`).
  std::optional<Reply> read();

  /// Reads the next reply into `reply`, reusing its storage; false when the
  /// connection failed.
  bool read(Reply& reply);

  /// One round trip: append, flush, read.
  std::optional<Reply> command(std::initializer_list<std::string_view> args);

  bool failed() const { return !error_.empty(); }
  /// Why the connection failed, naming the server; empty while it works.
  const std::string& error() const { return error_; }
  const Endpoint& endpoint() const { return endpoint_; }

 private:
  Connection(int fd, Endpoint endpoint);

  bool fail(std::string message);
  bool fill();
  bool readLine(std::string_view& line);
  bool readBulk(size_t length, std::string& out);
  bool readReply(Reply& reply, int depth);
  void appendHeader(char type, size_t number);
  void appendArgument(std::string_view arg);
  void finishCommand();

  int fd_;
  Endpoint endpoint_;
  std::string error_;
  std::string out_;
  std::vector<char> in_;
  size_t inBegin_ = 0;
  size_t inEnd_ = 0;
};

/// `text` with every byte outside printable ASCII (and `"`, `\`) escaped as
/// redis-cli does (`\n`, `\x00`), so that binary key names print on one line.
std::string printable(std::string_view text);

/// `text` with every occurrence of `secret` replaced by "***": for server
/// messages that might echo a command's arguments.
std::string redact(std::string_view text, std::string_view secret);

/// The value of `field` in an INFO reply ("field:value" lines); empty when
/// absent.
std::string infoField(std::string_view info, std::string_view field);

}  // namespace mig::drivers::resp
