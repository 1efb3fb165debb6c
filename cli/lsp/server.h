#pragma once

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <variant>

#include "cli/lsp/document.h"
#include "cli/lsp/json_rpc.h"

/// `mig lsp`: a language server (LSP 3.17) for .mig files.
namespace mig::cli::lsp {

/// An error answer to a request.
struct ReplyError {
  int code;
  std::string message;
};
using Reply = std::variant<nlohmann::json, ReplyError>;

/// Runs the protocol over a Transport: the lifecycle (initialize, shutdown,
/// exit), the open documents, and the requests on them.
class Server {
 public:
  explicit Server(Transport& transport) : transport_(transport) {}

  /// Serves until `exit` or the end of the input. Returns the process's
  /// exit code: 0 after shutdown, 1 otherwise.
  int run();

 private:
  void handle(const nlohmann::json& message);
  Reply request(const std::string& method, const nlohmann::json& params);
  void notification(const std::string& method, const nlohmann::json& params);

  Reply initialize(const nlohmann::json& params);
  void open(const std::string& uri, std::string text);
  void change(const nlohmann::json& params);
  void close(const std::string& uri);
  void publish(const Document& document);
  /// The open document a request names; null when it is not open.
  const Document* document(const nlohmann::json& params) const;
  /// The document and the byte offset of the request's position.
  std::optional<std::pair<const Document*, uint32_t>> at(const nlohmann::json& params) const;

  void send(const nlohmann::json& message);

  Transport& transport_;
  Encoding encoding_ = Encoding::Utf16;
  bool initialized_ = false;
  bool shutdown_ = false;
  std::optional<int> exitCode_;
  std::map<std::string, std::unique_ptr<Document>> documents_;
};

}  // namespace mig::cli::lsp
