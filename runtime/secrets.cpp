#include "runtime/secrets.h"

#include "runtime/option_file.h"
#include "runtime/process_runner.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

namespace mig::runtime {

namespace {

// A value too short to redact is refused: neither it nor its length is told.
bool longEnough(const std::string& name, const std::string& source, std::string_view value,
                std::vector<std::string>& problems) {
  if (value.size() >= kMinSecretLength) return true;
  problems.push_back(
      fmt::format("secret {}: the value of {} is shorter than {} characters, too "
                  "short to hide in output",
                  name, source, kMinSecretLength));
  return false;
}

}  // namespace

SecretValues SecretValues::resolve(const graph::Graph& graph, const std::vector<std::string>& names,
                                   std::vector<std::string>& problems) {
  SecretValues values;
  for (const std::string& name : names) {
    const graph::Secret* secret = graph.secret(name);
    if (secret == nullptr) {
      problems.push_back(fmt::format("secret {} is not declared by the plan", name));
      continue;
    }
    std::string source = secret->from == "env" ? "environment variable " + secret->location
                                               : "file " + secret->location;
    if (secret->from == "env") {
      const char* value = std::getenv(secret->location.c_str());
      if (value == nullptr || *value == '\0') {
        problems.push_back(fmt::format("secret {}: {} is {}", name, source,
                                       value == nullptr ? "not set" : "empty"));
        continue;
      }
      if (!longEnough(name, source, value, problems)) continue;
      values.values_[name] = value;
      continue;
    }
    std::ifstream in(secret->location, std::ios::binary);
    if (!in) {
      problems.push_back(fmt::format("secret {}: cannot read file {}: {}", name, secret->location,
                                     std::strerror(errno)));
      continue;
    }
    std::ostringstream text;
    text << in.rdbuf();
    std::string value = text.str();
    while (!value.empty() && (value.back() == '\n' || value.back() == '\r')) value.pop_back();
    if (value.empty()) {
      problems.push_back(fmt::format("secret {}: {} is empty", name, source));
      continue;
    }
    if (!longEnough(name, source, value, problems)) continue;
    values.values_[name] = std::move(value);
  }
  return values;
}

const std::string* SecretValues::value(const std::string& name) const {
  auto it = values_.find(name);
  return it == values_.end() ? nullptr : &it->second;
}

std::vector<std::string> SecretValues::all() const {
  std::vector<std::string> out;
  for (const auto& [name, value] : values_) out.push_back(value);
  return out;
}

std::string pgpassField(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == ':' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

std::vector<std::string> secretsOf(const std::vector<const graph::Command*>& commands) {
  std::set<std::string> names;
  for (const graph::Command* command : commands) {
    for (const graph::SecretDelivery& delivery : command->secrets) names.insert(delivery.secret);
  }
  return {names.begin(), names.end()};
}

SecretCommandPreparer::SecretCommandPreparer(const graph::Graph& graph, const SecretValues& secrets,
                                             RunPaths paths, const RemoteHosts* remote)
    : graph_(graph), secrets_(secrets), paths_(std::move(paths)), remote_(remote) {
  for (const graph::Secret& secret : graph_.secrets) {
    if (secret.from == "env") unset_.push_back(secret.location);
  }
  unset_.insert(unset_.end(), paths_.hiddenVariables.begin(), paths_.hiddenVariables.end());
}

std::optional<ProcessRequest> SecretCommandPreparer::prepare(const graph::Node& node,
                                                             const graph::Command& command,
                                                             const std::string& kind, int attempt,
                                                             std::string& error) {
  ProcessRequest request;
  request.script = command.script;
  request.workdir = paths_.workdir;
  request.logPath = fmt::format("{}/{}.{}.{}.log", paths_.logDir, node.id, kind, attempt);
  if (kind == "run" && isSingleCommand(command.script)) {
    request.nothingChangedMarker = request.logPath + ".unchanged";
  }
  request.unsetEnv = unset_;
  request.redact = secrets_.all();
  request.env.emplace_back("MIG", paths_.migBinary);
  request.env.emplace_back("MIG_PLAN", graph_.plan);
  request.env.emplace_back("MIG_STEP", node.id);
  request.env.emplace_back("MIG_JOURNAL", paths_.journal);
  if (!paths_.run.empty()) request.env.emplace_back("MIG_RUN", paths_.run);
  // Whether the reader of the step's output is gone (cli/driver_command.cpp).
  request.env.emplace_back("MIG_RUNNER_PID", std::to_string(::getpid()));
  for (const auto& [name, value] : command.env) request.env.emplace_back(name, value);

  std::string pgpass;
  std::string optionFile;
  std::set<std::string> optionGroups;
  for (const graph::SecretDelivery& delivery : command.secrets) {
    const std::string* value = secrets_.value(delivery.secret);
    if (value == nullptr) {
      error = fmt::format("secret {} is not available", delivery.secret);
      return std::nullopt;
    }
    if (delivery.via == graph::SecretDelivery::Via::Env) {
      request.env.emplace_back(delivery.variable, *value);
      continue;
    }
    if (delivery.via == graph::SecretDelivery::Via::OptionFile) {
      if (optionGroups.insert(delivery.endpoint).second) {
        optionFile += fmt::format("[client-{}]\npassword={}\n", delivery.endpoint,
                                  optionFileValue(*value));
      }
      continue;
    }
    pgpass += fmt::format("{}:{}:{}:{}:{}\n", pgpassField(delivery.host), pgpassField(delivery.port),
                          pgpassField(delivery.database), pgpassField(delivery.user),
                          pgpassField(*value));
  }
  if (!node.host.empty()) {
    std::vector<RemoteFile> files;
    if (!pgpass.empty()) files.push_back({std::string(kPgpassFile.variable), "pgpass", pgpass});
    if (!optionFile.empty()) {
      files.push_back({std::string(kOptionFile.variable), "options.cnf", optionFile});
    }
    if (!makeRemote(node, kind, attempt, std::move(files), request, error)) return std::nullopt;
    return request;
  }
  if (!pgpass.empty()) {
    std::optional<std::string> path =
        writePasswordFile(node, kind, attempt, kPgpassFile, pgpass, error);
    if (!path) return std::nullopt;
    request.env.emplace_back(kPgpassFile.variable, *path);
  }
  if (!optionFile.empty()) {
    std::optional<std::string> path =
        writePasswordFile(node, kind, attempt, kOptionFile, optionFile, error);
    if (!path) return std::nullopt;
    request.env.emplace_back(kOptionFile.variable, *path);
  }
  return request;
}

// Everything the command would get here goes into the payload instead,
// but for what names this machine's files (MIG, MIG_JOURNAL).
bool SecretCommandPreparer::makeRemote(const graph::Node& node, const std::string& kind,
                                       int attempt, std::vector<RemoteFile> files,
                                       ProcessRequest& request, std::string& error) {
  if (remote_ == nullptr) {
    error = fmt::format("step {} runs on host {}, and this run has no connection to it", node.id,
                        node.host);
    return false;
  }
  std::vector<std::pair<std::string, std::string>> env;
  for (auto& [name, value] : request.env) {
    if (name != "MIG" && name != "MIG_JOURNAL") env.emplace_back(name, value);
  }
  std::string payload;
  if (!remotePayload(env, files, request.script, payload, error)) return false;
  std::string script = remote_->stepScript(node.host, payload.size(), error);
  if (script.empty()) return false;
  std::optional<std::string> path =
      writePasswordFile(node, kind, attempt, kRemotePayloadFile, payload, error);
  if (!path) return false;
  request.script = std::move(script);
  request.nothingChangedMarker.clear();
  // MIG_PLAN and MIG_JOURNAL mark the local ssh as this plan's, so that the
  // next runner stops it (and so the remote step) after a kill -9 of this one.
  request.env = {{"MIG_PLAN", graph_.plan},
                 {"MIG_STEP", node.id},
                 {"MIG_JOURNAL", paths_.journal},
                 {std::string(kRemotePayloadVariable), *path}};
  return true;
}

// Only this user may open the folder and the file; a file already there
// (or a link planted in its place) is replaced, never written through.
std::optional<std::string> SecretCommandPreparer::writePasswordFile(const graph::Node& node,
                                                                    const std::string& kind,
                                                                    int attempt,
                                                                    const PasswordFileType& type,
                                                                    const std::string& content,
                                                                    std::string& error) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(paths_.tempDir, ec);
  if (::chmod(paths_.tempDir.c_str(), 0700) != 0) {
    error = fmt::format("cannot make {} private: {}", paths_.tempDir, std::strerror(errno));
    return std::nullopt;
  }
  std::string path =
      fmt::format("{}/{}.{}.{}.{}{}", paths_.tempDir, node.id, kind, attempt, ++files_, type.suffix);
  ::unlink(path.c_str());
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    error = fmt::format("cannot write the {} {}: {}", type.variable, path, std::strerror(errno));
    return std::nullopt;
  }
  bool written = ::fchmod(fd, 0600) == 0 &&
                 ::write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size());
  int writeErrno = errno;
  ::close(fd);
  if (!written) {
    ::unlink(path.c_str());
    error = fmt::format("cannot write the {} {}: {}", type.variable, path, std::strerror(writeErrno));
    return std::nullopt;
  }
  return path;
}

void SecretCommandPreparer::finished(const ProcessRequest& request) {
  for (const auto& [name, value] : request.env) {
    if (name == kPgpassFile.variable || name == kOptionFile.variable ||
        name == kRemotePayloadFile.variable) {
      ::unlink(value.c_str());
    }
  }
}

int removeLeftoverSecretFiles(const std::string& tempDir) {
  namespace fs = std::filesystem;
  int removed = 0;
  std::error_code ec;
  for (const fs::directory_entry& entry : fs::directory_iterator(tempDir, ec)) {
    std::string extension = entry.path().extension().string();
    bool secretFile = extension == kPgpassFile.suffix || extension == kOptionFile.suffix ||
                      extension == kRemotePayloadFile.suffix;
    if (secretFile && fs::remove(entry.path(), ec)) ++removed;
  }
  return removed;
}

}  // namespace mig::runtime
