#include "cli/lsp/server.h"

#include <fmt/format.h>

#include <iostream>

#include "cli/lsp/features.h"

namespace mig::cli::lsp {
namespace {

void logError(const std::string& message) {
  std::cerr << "mig lsp: " << message << '\n';
}

bool offers(const nlohmann::json& capabilities, std::string_view encoding) {
  auto general = capabilities.find("general");
  if (general == capabilities.end() || !general->is_object()) return false;
  auto encodings = general->find("positionEncodings");
  if (encodings == general->end() || !encodings->is_array()) return false;
  for (const auto& offered : *encodings) {
    if (offered.is_string() && offered.get<std::string>() == encoding) return true;
  }
  return false;
}

}  // namespace

int Server::run() {
  while (!exitCode_) {
    ReadResult read = transport_.read();
    if (std::holds_alternative<EndOfInput>(read)) return shutdown_ ? 0 : 1;
    if (auto* error = std::get_if<ReadError>(&read)) {
      logError(error->message);
      send(errorMessage(nullptr, error->code, error->message));
      continue;
    }
    handle(std::get<nlohmann::json>(read));
  }
  return *exitCode_;
}

void Server::send(const nlohmann::json& message) {
  if (!transport_.write(message)) {
    logError("cannot write to the client: its end of the pipe is closed");
    exitCode_ = 1;
  }
}

void Server::handle(const nlohmann::json& message) {
  if (!message.is_object()) {
    send(errorMessage(nullptr, kInvalidRequest, "a message must be a JSON object"));
    return;
  }
  nlohmann::json id = message.contains("id") ? message["id"] : nlohmann::json();
  auto method = message.find("method");
  if (method == message.end()) {
    // A response to a request of ours: we send none, so there is nothing to match.
    if (message.contains("result") || message.contains("error")) return;
    send(errorMessage(id, kInvalidRequest, "a request needs a method"));
    return;
  }
  bool isRequest = message.contains("id");
  if (!method->is_string() || (isRequest && !id.is_string() && !id.is_number_integer())) {
    send(errorMessage(
        isRequest && (id.is_string() || id.is_number_integer()) ? id : nlohmann::json(),
        kInvalidRequest, "a request's method is a string and its id a number or string"));
    return;
  }
  const std::string name = method->get<std::string>();
  nlohmann::json params = message.contains("params") ? message["params"] : nlohmann::json::object();
  if (!isRequest) {
    try {
      notification(name, params);
    } catch (const nlohmann::json::exception& e) {
      logError(fmt::format("{}: invalid params: {}", name, e.what()));
    }
    return;
  }
  Reply reply = ReplyError{kInternalError, "no reply"};
  try {
    reply = request(name, params);
  } catch (const nlohmann::json::exception& e) {
    reply = ReplyError{kInvalidParams, fmt::format("invalid params: {}", e.what())};
  } catch (const std::exception& e) {
    reply = ReplyError{kInternalError, e.what()};
  }
  if (auto* error = std::get_if<ReplyError>(&reply)) {
    send(errorMessage(id, error->code, error->message));
    return;
  }
  send(responseMessage(id, std::move(std::get<nlohmann::json>(reply))));
}

Reply Server::request(const std::string& method, const nlohmann::json& params) {
  if (method == "initialize") return initialize(params);
  if (!initialized_) return ReplyError{kServerNotInitialized, "the server is not initialized"};
  if (shutdown_) return ReplyError{kInvalidRequest, "the server is shutting down"};
  if (method == "shutdown") {
    shutdown_ = true;
    return nullptr;
  }
  if (method == "textDocument/hover") {
    auto where = at(params);
    return where ? hover(*where->first, where->second) : nullptr;
  }
  if (method == "textDocument/completion") {
    auto where = at(params);
    return where ? completion(*where->first, where->second) : nlohmann::json::array();
  }
  if (method == "textDocument/definition") {
    auto where = at(params);
    return where ? definition(*where->first, where->second) : nullptr;
  }
  if (method == "textDocument/documentSymbol") {
    const Document* open = document(params);
    return open ? documentSymbols(*open) : nlohmann::json::array();
  }
  if (method == "textDocument/formatting") {
    const Document* open = document(params);
    if (open == nullptr) return nullptr;
    auto edits = formatting(*open);
    if (!edits) return ReplyError{kRequestFailed, "cannot format the file: it has syntax errors"};
    return *edits;
  }
  return ReplyError{kMethodNotFound, fmt::format("unknown method '{}'", method)};
}

void Server::notification(const std::string& method, const nlohmann::json& params) {
  if (method == "exit") {
    exitCode_ = shutdown_ ? 0 : 1;
    return;
  }
  if (!initialized_ || shutdown_) return;
  if (method == "textDocument/didOpen") {
    const nlohmann::json& item = params.at("textDocument");
    open(item.at("uri").get<std::string>(), item.at("text").get<std::string>());
  } else if (method == "textDocument/didChange") {
    change(params);
  } else if (method == "textDocument/didClose") {
    close(params.at("textDocument").at("uri").get<std::string>());
  }
  // Anything else (initialized, didSave, $/cancelRequest, ...) needs nothing.
}

Reply Server::initialize(const nlohmann::json& params) {
  if (initialized_) return ReplyError{kInvalidRequest, "the server is already initialized"};
  initialized_ = true;
  nlohmann::json capabilities = params.is_object() && params.contains("capabilities")
                                    ? params["capabilities"]
                                    : nlohmann::json::object();
  encoding_ =
      capabilities.is_object() && offers(capabilities, "utf-8") ? Encoding::Utf8 : Encoding::Utf16;
  return nlohmann::json{
      {"capabilities",
       {{"positionEncoding", encoding_ == Encoding::Utf8 ? "utf-8" : "utf-16"},
        {"textDocumentSync", {{"openClose", true}, {"change", 1}}},
        {"hoverProvider", true},
        {"completionProvider", {{"triggerCharacters", {".", "\"", "/", "(", ","}}}},
        {"definitionProvider", true},
        {"documentSymbolProvider", true},
        {"documentFormattingProvider", true}}},
      {"serverInfo", {{"name", "mig"}}}};
}

void Server::open(const std::string& uri, std::string text) {
  auto document = std::make_unique<Document>(uri, std::move(text), encoding_);
  publish(*document);
  documents_[uri] = std::move(document);
}

void Server::change(const nlohmann::json& params) {
  std::string uri = params.at("textDocument").at("uri").get<std::string>();
  auto it = documents_.find(uri);
  if (it == documents_.end()) {
    logError(fmt::format("didChange for '{}', which is not open", uri));
    return;
  }
  std::string text = it->second->text();
  for (const nlohmann::json& change : params.at("contentChanges")) {
    std::string newText = change.at("text").get<std::string>();
    if (!change.contains("range")) {
      text = std::move(newText);
      continue;
    }
    // An incremental change, from a client that sends them anyway.
    LineIndex lines(text, encoding_);
    auto start = parsePosition(change["range"].at("start"));
    auto end = parsePosition(change["range"].at("end"));
    if (!start || !end) {
      logError(fmt::format("didChange for '{}' with a malformed range: ignored", uri));
      return;
    }
    uint32_t begin = lines.offsetAt(*start);
    uint32_t finish = std::max(begin, lines.offsetAt(*end));
    text.replace(begin, finish - begin, newText);
  }
  open(uri, std::move(text));
}

void Server::close(const std::string& uri) {
  documents_.erase(uri);
  send(notificationMessage("textDocument/publishDiagnostics",
                           {{"uri", uri}, {"diagnostics", nlohmann::json::array()}}));
}

void Server::publish(const Document& document) {
  send(notificationMessage("textDocument/publishDiagnostics", publishDiagnosticsParams(document)));
}

const Document* Server::document(const nlohmann::json& params) const {
  std::string uri = params.at("textDocument").at("uri").get<std::string>();
  auto it = documents_.find(uri);
  return it == documents_.end() ? nullptr : it->second.get();
}

std::optional<std::pair<const Document*, uint32_t>> Server::at(const nlohmann::json& params) const {
  const Document* open = document(params);
  auto position = parsePosition(params.at("position"));
  if (!open || !position) return std::nullopt;
  return std::pair{open, open->lines().offsetAt(*position)};
}

}  // namespace mig::cli::lsp
