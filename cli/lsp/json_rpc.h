#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <variant>

/// JSON-RPC 2.0 over a byte stream with LSP's base protocol framing:
/// `Content-Length: N\r\n` (other headers ignored), `\r\n`, then N bytes of
/// UTF-8 JSON.
namespace mig::cli::lsp {

/// JSON-RPC and LSP error codes.
enum ErrorCode : int {
  kParseError = -32700,
  kInvalidRequest = -32600,
  kMethodNotFound = -32601,
  kInvalidParams = -32602,
  kInternalError = -32603,
  kServerNotInitialized = -32002,
  kRequestFailed = -32803,
};

/// The largest message body accepted; a larger Content-Length is refused.
inline constexpr size_t kMaxMessageBytes = 64 * 1024 * 1024;

/// What reading one message gave: a message, a framing or JSON error (the
/// stream goes on after it), or the end of the input.
struct EndOfInput {};
struct ReadError {
  ErrorCode code;
  std::string message;
};
using ReadResult = std::variant<nlohmann::json, ReadError, EndOfInput>;

/// Reads framed messages from a file descriptor, and writes them.
class Transport {
 public:
  Transport(int in, int out) : in_(in), out_(out) {}

  ReadResult read();
  /// Writes one message; false when the output is gone.
  bool write(const nlohmann::json& message);

 private:
  /// One header line without its line break; nullopt at the end of input.
  std::optional<std::string> readLine();
  /// Exactly `n` bytes; nullopt when the input ends first.
  std::optional<std::string> readBytes(size_t n);
  bool fill();

  int in_;
  int out_;
  std::string buffer_;
  size_t position_ = 0;
};

nlohmann::json responseMessage(const nlohmann::json& id, nlohmann::json result);
nlohmann::json errorMessage(const nlohmann::json& id, int code, const std::string& message);
nlohmann::json notificationMessage(const std::string& method, nlohmann::json params);

}  // namespace mig::cli::lsp
