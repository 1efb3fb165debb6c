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

struct redisContext;

/// The Redis client of the Redis drivers: hiredis underneath (its
/// connection, its pipelining, its RESP parser), our own `Reply` tree on
/// top, built by hiredis directly so that no reply is copied twice.
/// Binary-safe, IPv4 or IPv6. Commands are queued with `append` and sent
/// with `flush`; replies are read one by one with `read`, in the order the
/// commands were sent. An error reply from the server is a `Reply` like any
/// other; only a broken connection (or a protocol violation) is a failure,
/// after which the connection stays failed and `error()` says why. Nothing
/// throws, and no message ever contains a password.
namespace mig::drivers::redis {

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
  /// How long connecting to one address may take.
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
/// Opening the first connection makes the process ignore SIGPIPE (hiredis
/// writes with write(2)): a server that goes away is then an error value,
/// not the end of the process.
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

  /// Queues one command; nothing is sent before `flush` (or `read`) unless
  /// the queue grows past a megabyte.
  void append(std::initializer_list<std::string_view> args);
  void append(std::span<const std::string_view> args);
  void append(std::span<const std::string> args);

  /// Sends every queued command; false when the connection failed.
  bool flush();

  /// The next reply (sending what is queued first); nullopt when the
  /// connection failed (see `error`).
  std::optional<Reply> read();

  /// Reads the next reply into `reply`, reusing its storage; false when the
  /// connection failed.
  bool read(Reply& reply);

  /// How long one send or receive may wait from now on (as
  /// `ConnectOptions::ioTimeout`); false when the connection failed.
  bool setIoTimeout(std::chrono::milliseconds timeout);

  /// One round trip: append, flush, read.
  std::optional<Reply> command(std::initializer_list<std::string_view> args);

  bool failed() const { return !error_.empty(); }
  /// Why the connection failed, naming the server; empty while it works.
  const std::string& error() const { return error_; }
  const Endpoint& endpoint() const { return endpoint_; }

 private:
  Connection(redisContext* context, Endpoint endpoint);

  bool fail(std::string message);
  /// Records why hiredis gave up on the connection.
  bool failFromContext();
  template <typename Args>
  void appendArgs(const Args& args);
  void appendArgv();

  redisContext* context_;
  Endpoint endpoint_;
  std::string error_;
  /// The arguments of the command being appended, as hiredis takes them.
  std::vector<const char*> argv_;
  std::vector<size_t> argvLengths_;
  /// Bytes queued since the last flush (roughly: the arguments' sizes).
  size_t queued_ = 0;
};

/// `text` with every byte outside printable ASCII (and `\`) escaped as
/// redis-cli does (`\n`, `\x00`), so that binary key names print on one line.
std::string printable(std::string_view text);

/// The value of `field` in an INFO reply ("field:value" lines); empty when
/// absent.
std::string infoField(std::string_view info, std::string_view field);

}  // namespace mig::drivers::redis
