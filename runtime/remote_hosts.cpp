#include "runtime/remote_hosts.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "compiler/graph/sha256.h"
#include "compiler/graph/shell.h"
#include "runtime/drivers/subprocess.h"

namespace mig::runtime {
namespace {

// Run on the host by `bash -c`: reads the payload's size, then the payload,
// into a fresh 0700 folder (a payload cut short runs nothing); runs it in a
// process group of its own; sends that group SIGTERM when stdin closes (the
// local ssh is gone) or when the bootstrap is signalled; once the step's
// main process has exited, stops what is left of its group (SIGTERM, then
// SIGKILL after 5 s), as a local step's leftovers are; removes the folder.
// Written without single quotes, so that it travels inside one pair of
// them through any POSIX login shell.
constexpr std::string_view kBootstrap = R"sh(umask 077
d=$(mktemp -d "${TMPDIR:-/tmp}/mig-step.XXXXXXXX") || exit 255
trap "rm -rf -- \"\$d\"" EXIT
IFS= read -r size || exit 255
head -c "$size" > "$d/step" || exit 255
[ "$(wc -c < "$d/step")" -eq "$size" ] || exit 255
set -m
MIG_REMOTE_DIR="$d" bash --noprofile --norc -e -o pipefail "$d/step" < /dev/null &
step=$!
trap "kill -TERM -- -\$step 2>/dev/null; exit 143" TERM HUP INT
{ while read -r _; do :; done; kill -TERM -- -$step; } > /dev/null 2>&1 &
watcher=$!
set +m
wait $step
status=$?
kill -TERM -- -$step 2>/dev/null
i=0
while kill -0 -- -$step 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
kill -KILL -- -$step 2>/dev/null
kill $watcher 2>/dev/null
exit $status)sh";

// What every host must have for a step to run there.
const std::vector<std::string> kRemoteBasics = {"bash", "mktemp", "head", "rm"};

bool isVariableName(const std::string& name) {
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0]))) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

bool isPlainCommandName(const std::string& name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.' ||
           c == '+';
  });
}

std::string quoteAll(const std::vector<std::string>& words) {
  std::string out;
  for (const std::string& word : words) {
    if (!out.empty()) out += ' ';
    out += graph::shellQuote(word);
  }
  return out;
}

// A folder only this user may use, for the master connections' sockets: short
// enough for a socket path (108 bytes), and the same for every plan, so that
// the runner of one plan never follows a link another user planted.
std::string privateSocketFolder(std::string& error) {
  const char* runtimeDir = std::getenv("XDG_RUNTIME_DIR");
  std::string base =
      runtimeDir && *runtimeDir && std::strlen(runtimeDir) < 60 ? runtimeDir : "/tmp";
  std::string folder = fmt::format("{}/mig-ssh-{}", base, ::getuid());
  if (::mkdir(folder.c_str(), 0700) != 0 && errno != EEXIST) {
    error = fmt::format("cannot create {}: {}", folder, std::strerror(errno));
    return "";
  }
  struct stat info {};
  if (::lstat(folder.c_str(), &info) != 0 || !S_ISDIR(info.st_mode) || info.st_uid != ::getuid() ||
      (info.st_mode & 077) != 0) {
    error = fmt::format("{} is not a folder that only this user may use; remove it", folder);
    return "";
  }
  return folder;
}

// The last non-empty line ssh printed: why it failed.
std::string lastLine(const std::string& text) {
  size_t end = text.find_last_not_of("\r\n ");
  if (end == std::string::npos) return "";
  size_t start = text.rfind('\n', end);
  return text.substr(start == std::string::npos ? 0 : start + 1,
                     end + 1 - (start == std::string::npos ? 0 : start + 1));
}

// ssh expands % tokens in a ProxyCommand: a literal one is written %%.
std::string escapePercent(const std::string& text) {
  std::string out;
  for (char c : text) {
    out += c;
    if (c == '%') out += '%';
  }
  return out;
}

std::string describeHost(const graph::Host& host) {
  return fmt::format("{}{}:{}", host.user.empty() ? "" : host.user + "@", host.address, host.port);
}

}  // namespace

bool remotePayload(const std::vector<std::pair<std::string, std::string>>& env,
                   const std::vector<RemoteFile>& files, const std::string& script,
                   std::string& payload, std::string& error) {
  payload.clear();
  for (const auto& [name, value] : env) {
    if (!isVariableName(name)) {
      error = fmt::format("'{}' cannot be an environment variable on a remote host", name);
      return false;
    }
    payload += fmt::format("export {}={}\n", name, graph::shellQuote(value));
  }
  for (const RemoteFile& file : files) {
    if (!isVariableName(file.variable) || !isPlainCommandName(file.name)) {
      error = fmt::format("'{}' cannot name a file on a remote host", file.variable);
      return false;
    }
    payload +=
        fmt::format("printf %s {} > \"$MIG_REMOTE_DIR/{}\"\nexport {}=\"$MIG_REMOTE_DIR/{}\"\n",
                    graph::shellQuote(file.content), file.name, file.variable, file.name);
  }
  payload += script;
  if (payload.empty() || payload.back() != '\n') payload += '\n';
  return true;
}

RemoteHosts::RemoteHosts(std::vector<graph::Host> hosts, std::string privateDir)
    : hosts_(std::move(hosts)), privateDir_(std::move(privateDir)) {}

RemoteHosts::~RemoteHosts() {
  close();
}

const graph::Host* RemoteHosts::declared(const std::string& name) const {
  for (const graph::Host& candidate : hosts_) {
    if (candidate.name == name) return &candidate;
  }
  return nullptr;
}

std::string RemoteHosts::knownHostsFile(const graph::Host& host) const {
  return fmt::format("{}/host-{}.known_hosts", privateDir_, host.name);
}

std::string RemoteHosts::controlPath(const graph::Host& host) const {
  std::string identity =
      fmt::format("{}\n{}\n{}\n{}\n{}\n{}\n{}\n{}\n{}", privateDir_, host.name, host.address,
                  host.port, host.user, host.identity, host.knownHosts, host.hostKey, host.jump);
  return fmt::format("{}/{}", controlDir_, graph::sha256Hex(identity).substr(0, 24));
}

std::vector<std::string> RemoteHosts::connectionOptions(const graph::Host& host) const {
  std::vector<std::string> args = {"-F", "none",
                                   "-o", "BatchMode=yes",
                                   "-o", "StrictHostKeyChecking=yes",
                                   "-o", "UpdateHostKeys=no",
                                   "-o", "ConnectTimeout=10",
                                   "-o", "ServerAliveInterval=15",
                                   "-o", "ServerAliveCountMax=4",
                                   "-o", "LogLevel=ERROR",
                                   "-p", std::to_string(host.port)};
  if (!host.user.empty()) args.insert(args.end(), {"-l", host.user});
  if (!host.identity.empty()) {
    args.insert(args.end(), {"-i", host.identity, "-o", "IdentitiesOnly=yes"});
  }
  if (!host.hostKey.empty()) {
    args.insert(args.end(),
                {"-o", "UserKnownHostsFile=" + knownHostsFile(host), "-o",
                 "GlobalKnownHostsFile=/dev/null", "-o", "HostKeyAlias=mig-host-" + host.name});
  } else if (!host.knownHosts.empty()) {
    args.insert(args.end(), {"-o", "UserKnownHostsFile=" + host.knownHosts, "-o",
                             "GlobalKnownHostsFile=/dev/null"});
  }
  if (!host.jump.empty()) {
    if (const graph::Host* jump = declared(host.jump)) {
      std::vector<std::string> proxy = {"ssh"};
      std::vector<std::string> jumpOptions = connectionOptions(*jump);
      proxy.insert(proxy.end(), jumpOptions.begin(), jumpOptions.end());
      proxy.insert(proxy.end(), {"-o", "ControlPath=none"});
      std::string command = fmt::format("{} -W %h:%p -- {}", escapePercent(quoteAll(proxy)),
                                        escapePercent(graph::shellQuote(jump->address)));
      args.insert(args.end(), {"-o", "ProxyCommand=" + command});
    }
  }
  return args;
}

std::vector<std::string> RemoteHosts::sshArguments(const graph::Host& host) const {
  std::vector<std::string> args = {"ssh"};
  std::vector<std::string> options = connectionOptions(host);
  args.insert(args.end(), options.begin(), options.end());
  args.insert(args.end(), {"-o", "ControlMaster=no", "-o", "ControlPath=" + controlPath(host), "--",
                           host.address});
  return args;
}

bool RemoteHosts::writePinnedKey(const graph::Host& host, std::string& error) const {
  if (host.hostKey.empty()) return true;
  std::string path = knownHostsFile(host);
  std::string line = fmt::format("mig-host-{} {}\n", host.name, host.hostKey);
  ::unlink(path.c_str());
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    error = fmt::format("cannot write {}: {}", path, std::strerror(errno));
    return false;
  }
  bool written = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
  ::close(fd);
  if (!written) error = fmt::format("cannot write {}", path);
  return written;
}

std::vector<std::string> RemoteHosts::open(
    const std::map<std::string, std::set<std::string>>& required, std::chrono::seconds timeout) {
  std::vector<std::string> problems;
  if (required.empty()) return problems;
  std::string error;
  if (controlDir_.empty()) controlDir_ = privateSocketFolder(error);
  if (controlDir_.empty()) {
    problems.push_back(fmt::format("remote hosts: {}", error));
    return problems;
  }
  for (const auto& [name, commands] : required) {
    const graph::Host* host = declared(name);
    if (host == nullptr) {
      problems.push_back(fmt::format("host {}: not declared in the plan", name));
      continue;
    }
    bool keysWritten = writePinnedKey(*host, error);
    for (const graph::Host* hop = declared(host->jump); keysWritten && hop;
         hop = declared(hop->jump)) {
      keysWritten = writePinnedKey(*hop, error);
    }
    if (!keysWritten) {
      problems.push_back(fmt::format("host {}: {}", name, error));
      continue;
    }
    std::vector<std::string> wanted = kRemoteBasics;
    for (const std::string& command : commands) {
      if (isPlainCommandName(command)) wanted.push_back(command);
    }
    std::string check =
        fmt::format("for c in {}; do command -v \"$c\" > /dev/null || echo \"missing $c\"; done",
                    quoteAll(wanted));
    drivers::SubprocessRequest request;
    request.argv = {"ssh"};
    std::vector<std::string> options = connectionOptions(*host);
    request.argv.insert(request.argv.end(), options.begin(), options.end());
    request.argv.insert(request.argv.end(),
                        {"-o", "ControlMaster=auto", "-o", "ControlPersist=600", "-o",
                         "ControlPath=" + controlPath(*host), "--", host->address, check});
    request.timeout = timeout;
    request.ownProcessGroup = true;
    drivers::SubprocessResult result = drivers::runSubprocess(request);
    std::string where = fmt::format("host {} ({})", name, describeHost(*host));
    if (!result.started) {
      problems.push_back(fmt::format("{}: cannot run ssh: {}", where, result.error));
      continue;
    }
    if (result.timedOut) {
      problems.push_back(fmt::format("{}: no answer within {} s", where, timeout.count()));
      continue;
    }
    if (result.exitCode == 255) {
      std::string why = lastLine(result.err);
      if (why.find("Host key verification failed") != std::string::npos ||
          why.find("host key") != std::string::npos) {
        why += host->hostKey.empty() && host->knownHosts.empty()
                   ? " (checked against ~/.ssh/known_hosts)"
                   : fmt::format(" (checked against {})",
                                 host->hostKey.empty() ? host->knownHosts : "its host_key");
      }
      problems.push_back(fmt::format("{}: {}", where, why.empty() ? "ssh failed" : why));
      continue;
    }
    opened_.insert(name);
    std::vector<std::string> missing;
    size_t at = 0;
    while ((at = result.out.find("missing ", at)) != std::string::npos) {
      size_t end = result.out.find('\n', at);
      missing.push_back(result.out.substr(at + 8, end == std::string::npos ? end : end - at - 8));
      at += 8;
    }
    if (!missing.empty()) {
      problems.push_back(fmt::format("{}: {} not on its PATH", where, fmt::join(missing, ", ")));
    } else if (result.exitCode != 0) {
      problems.push_back(fmt::format("{}: its check exited with status {}: {}", where,
                                     result.exitCode, lastLine(result.err)));
    }
  }
  return problems;
}

std::string RemoteHosts::stepScript(const std::string& hostName, size_t payloadBytes,
                                    std::string& error) const {
  const graph::Host* host = declared(hostName);
  if (host == nullptr || !opened_.count(hostName)) {
    error = fmt::format("host {} was not connected by preflight", hostName);
    return "";
  }
  std::string remoteCommand = fmt::format("bash --noprofile --norc -c '{}'", kBootstrap);
  std::vector<std::string> args = sshArguments(*host);
  args.push_back(remoteCommand);
  // The payload's size, the payload, then stdin stays open until ssh ends:
  // its end is how the host learns that the step is over for us.
  return fmt::format("exec {} < <(printf '%s\\n' {}; cat -- \"${}\"; exec sleep infinity)\n",
                     quoteAll(args), payloadBytes, kRemotePayloadVariable);
}

void RemoteHosts::close() {
  for (const std::string& name : opened_) {
    const graph::Host* host = declared(name);
    if (host == nullptr) continue;
    drivers::SubprocessRequest request;
    request.argv = {"ssh", "-F",   "none", "-o",         "ControlPath=" + controlPath(*host),
                    "-O",  "exit", "--",   host->address};
    request.timeout = std::chrono::seconds(10);
    request.ownProcessGroup = true;
    drivers::runSubprocess(request);
  }
  opened_.clear();
}

}  // namespace mig::runtime
