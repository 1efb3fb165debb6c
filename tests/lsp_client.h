#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <deque>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

/// A minimal LSP client for tests: runs `mig lsp` with pipes for its stdin
/// and stdout (stderr goes to a file) and speaks the framed JSON-RPC to it.
/// Every wait has a deadline, so a server that hangs fails the test.
namespace mig::testing {

class LspClient {
 public:
  /// Starts `binary lsp` with `environment` added to this process's.
  LspClient(const std::string& binary, const std::string& stderrPath,
            const std::vector<std::string>& environment = {}) {
    int toServer[2], fromServer[2];
    if (pipe(toServer) != 0 || pipe(fromServer) != 0) throw std::runtime_error("pipe failed");
    pid_ = fork();
    if (pid_ == 0) {
      dup2(toServer[0], 0);
      dup2(fromServer[1], 1);
      int err = open(stderrPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      if (err >= 0) dup2(err, 2);
      close(toServer[1]);
      close(fromServer[0]);
      for (const std::string& variable : environment) putenv(const_cast<char*>(variable.c_str()));
      execl(binary.c_str(), binary.c_str(), "lsp", static_cast<char*>(nullptr));
      _exit(127);
    }
    close(toServer[0]);
    close(fromServer[1]);
    in_ = toServer[1];
    out_ = fromServer[0];
    signal(SIGPIPE, SIG_IGN);
  }

  ~LspClient() {
    closeInput();
    if (out_ >= 0) close(out_);
    if (pid_ > 0 && !exitCode_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }

  void sendRaw(const std::string& bytes) {
    size_t written = 0;
    while (written < bytes.size()) {
      ssize_t n = write(in_, bytes.data() + written, bytes.size() - written);
      if (n <= 0) throw std::runtime_error("cannot write to mig lsp");
      written += static_cast<size_t>(n);
    }
  }

  void send(const nlohmann::json& message) {
    std::string body = message.dump();
    sendRaw("Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
  }

  void notify(const std::string& method, nlohmann::json params) {
    send({{"jsonrpc", "2.0"}, {"method", method}, {"params", std::move(params)}});
  }

  /// Sends a request and returns its whole response (result or error);
  /// notifications that arrive first are kept for waitFor().
  nlohmann::json request(const std::string& method, nlohmann::json params) {
    int id = nextId_++;
    send({{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", std::move(params)}});
    for (;;) {
      nlohmann::json message = next();
      if (message.contains("id") && message["id"] == id && !message.contains("method"))
        return message;
      pending_.push_back(std::move(message));
    }
  }

  /// The next message, either kept earlier or read now.
  nlohmann::json next() {
    if (!pending_.empty()) {
      nlohmann::json message = std::move(pending_.front());
      pending_.pop_front();
      return message;
    }
    return read();
  }

  /// The next notification of `method`; others are dropped.
  nlohmann::json waitFor(const std::string& method) {
    for (;;) {
      nlohmann::json message = next();
      if (message.value("method", "") == method) return message["params"];
    }
  }

  void closeInput() {
    if (in_ >= 0) close(in_);
    in_ = -1;
  }

  /// Waits for the server to exit; its exit code, or nullopt after 10 s.
  std::optional<int> waitExit() {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        exitCode_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        return exitCode_;
      }
      usleep(10000);
    }
    return std::nullopt;
  }

 private:
  // Reads one framed message, failing after 20 s without one.
  nlohmann::json read() {
    std::string header;
    while (header.find("\r\n\r\n") == std::string::npos) header += readBytes(1);
    auto at = header.find("Content-Length: ");
    if (at == std::string::npos) throw std::runtime_error("no Content-Length in " + header);
    size_t length = std::stoul(header.substr(at + 16));
    return nlohmann::json::parse(readBytes(length));
  }

  std::string readBytes(size_t n) {
    std::string out;
    while (out.size() < n) {
      pollfd fd{out_, POLLIN, 0};
      if (poll(&fd, 1, 20000) <= 0) throw std::runtime_error("mig lsp sent nothing for 20 s");
      char buffer[65536];
      ssize_t got = ::read(out_, buffer, std::min(sizeof buffer, n - out.size()));
      if (got <= 0) throw std::runtime_error("mig lsp closed its output");
      out.append(buffer, static_cast<size_t>(got));
    }
    return out;
  }

  pid_t pid_ = -1;
  int in_ = -1;
  int out_ = -1;
  int nextId_ = 1;
  std::optional<int> exitCode_;
  std::deque<nlohmann::json> pending_;
};

}  // namespace mig::testing
