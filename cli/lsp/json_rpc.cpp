#include "cli/lsp/json_rpc.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <charconv>

namespace mig::cli::lsp {
namespace {

// The longest header line read before the header counts as malformed.
constexpr size_t kMaxHeaderLine = 8192;

std::string lowerCase(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

}  // namespace

bool Transport::fill() {
  if (position_ > 0 && position_ == buffer_.size()) {
    buffer_.clear();
    position_ = 0;
  }
  char chunk[65536];
  for (;;) {
    ssize_t n = ::read(in_, chunk, sizeof chunk);
    if (n > 0) {
      buffer_.append(chunk, static_cast<size_t>(n));
      return true;
    }
    if (n < 0 && errno == EINTR) continue;
    return false;
  }
}

std::optional<std::string> Transport::readLine() {
  for (;;) {
    size_t newline = buffer_.find('\n', position_);
    if (newline != std::string::npos) {
      std::string line = buffer_.substr(position_, newline - position_);
      position_ = newline + 1;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      return line;
    }
    if (buffer_.size() - position_ > kMaxHeaderLine) {
      // A header line this long is garbage: hand it over to be refused.
      std::string line = buffer_.substr(position_);
      position_ = buffer_.size();
      return line;
    }
    if (!fill()) {
      if (position_ == buffer_.size()) return std::nullopt;
      std::string rest = buffer_.substr(position_);
      position_ = buffer_.size();
      return rest;
    }
  }
}

std::optional<std::string> Transport::readBytes(size_t n) {
  while (buffer_.size() - position_ < n) {
    if (!fill()) return std::nullopt;
  }
  std::string bytes = buffer_.substr(position_, n);
  position_ += n;
  return bytes;
}

ReadResult Transport::read() {
  std::optional<size_t> length;
  std::string problem;
  bool sawHeader = false;
  for (;;) {
    std::optional<std::string> line = readLine();
    if (!line) {
      if (!sawHeader) return EndOfInput{};
      return ReadError{kParseError, "the input ended inside a message header"};
    }
    if (line->empty()) {
      if (!sawHeader) continue;  // stray blank lines between messages
      break;
    }
    sawHeader = true;
    size_t colon = line->find(':');
    if (colon == std::string::npos) {
      if (problem.empty()) problem = fmt::format("malformed header line '{}'", line->substr(0, 80));
      continue;
    }
    std::string name = lowerCase(trim(std::string_view(*line).substr(0, colon)));
    std::string_view value = trim(std::string_view(*line).substr(colon + 1));
    if (name != "content-length") continue;
    size_t parsed = 0;
    auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), parsed);
    if (error != std::errc() || end != value.data() + value.size()) {
      if (problem.empty()) problem = fmt::format("Content-Length '{}' is not a number", value);
      continue;
    }
    length = parsed;
  }
  if (!problem.empty()) {
    // Skip the body the header announced, so the next message is read whole.
    if (length && *length <= kMaxMessageBytes) readBytes(*length);
    return ReadError{kParseError, problem};
  }
  if (!length) return ReadError{kParseError, "a message header without Content-Length"};
  if (*length > kMaxMessageBytes) {
    return ReadError{kParseError,
                     fmt::format("Content-Length {} is larger than the {} bytes allowed", *length,
                                 kMaxMessageBytes)};
  }
  std::optional<std::string> body = readBytes(*length);
  if (!body) return ReadError{kParseError, "the input ended inside a message body"};
  nlohmann::json message = nlohmann::json::parse(*body, nullptr, /*allow_exceptions=*/false);
  if (message.is_discarded()) return ReadError{kParseError, "the message body is not valid JSON"};
  return message;
}

bool Transport::write(const nlohmann::json& message) {
  std::string body = message.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  std::string frame = fmt::format("Content-Length: {}\r\n\r\n{}", body.size(), body);
  size_t written = 0;
  while (written < frame.size()) {
    ssize_t n = ::write(out_, frame.data() + written, frame.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    written += static_cast<size_t>(n);
  }
  return true;
}

nlohmann::json responseMessage(const nlohmann::json& id, nlohmann::json result) {
  return {{"jsonrpc", "2.0"}, {"id", id}, {"result", std::move(result)}};
}

nlohmann::json errorMessage(const nlohmann::json& id, int code, const std::string& message) {
  return {{"jsonrpc", "2.0"}, {"id", id}, {"error", {{"code", code}, {"message", message}}}};
}

nlohmann::json notificationMessage(const std::string& method, nlohmann::json params) {
  return {{"jsonrpc", "2.0"}, {"method", method}, {"params", std::move(params)}};
}

}  // namespace mig::cli::lsp
