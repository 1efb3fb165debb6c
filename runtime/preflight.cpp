#include "runtime/preflight.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>

#include "compiler/units/units.h"
#include "runtime/windows.h"

namespace mig::runtime {
namespace {

// A TCP connection being attempted to one endpoint: to each address its
// host resolves to in turn, until one answers.
struct Probe {
  std::string endpoint;
  std::string host;
  std::string port;
  std::vector<sockaddr_storage> addresses;
  std::vector<socklen_t> lengths;
  size_t next = 0;  ///< the address to try after the current one
  std::chrono::milliseconds timeout{0};          ///< for each address
  std::chrono::steady_clock::time_point deadline;  ///< of the current address
  int fd = -1;
  std::string problem;
  bool connected = false;
};

// Starts connecting to the probe's next address; with none left, the last
// error is the probe's problem.
void connectNext(Probe& probe, int lastError) {
  probe.deadline = std::chrono::steady_clock::now() + probe.timeout;
  if (probe.fd >= 0) {
    close(probe.fd);
    probe.fd = -1;
  }
  while (probe.next < probe.addresses.size()) {
    const auto* address = reinterpret_cast<const sockaddr*>(&probe.addresses[probe.next]);
    socklen_t length = probe.lengths[probe.next];
    ++probe.next;
    probe.fd = socket(address->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (probe.fd < 0) {
      lastError = errno;
      continue;
    }
    if (connect(probe.fd, address, length) == 0) {
      probe.connected = true;
      return;
    }
    if (errno == EINPROGRESS) return;
    lastError = errno;
    close(probe.fd);
    probe.fd = -1;
  }
  probe.problem =
      lastError == ETIMEDOUT
          ? fmt::format("endpoint {}: no answer from {}:{} within {}", probe.endpoint, probe.host,
                        probe.port, units::formatDuration(probe.timeout.count()))
          : fmt::format("endpoint {}: cannot connect to {}:{}: {}", probe.endpoint, probe.host,
                        probe.port, std::strerror(lastError));
}

void startProbe(Probe& probe) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* addresses = nullptr;
  int status = getaddrinfo(probe.host.c_str(), probe.port.c_str(), &hints, &addresses);
  if (status != 0) {
    probe.problem = fmt::format("endpoint {}: cannot resolve {}: {}", probe.endpoint, probe.host,
                                gai_strerror(status));
    return;
  }
  for (const addrinfo* address = addresses; address; address = address->ai_next) {
    sockaddr_storage storage{};
    std::memcpy(&storage, address->ai_addr, address->ai_addrlen);
    probe.addresses.push_back(storage);
    probe.lengths.push_back(address->ai_addrlen);
  }
  freeaddrinfo(addresses);
  connectNext(probe, EHOSTUNREACH);
}

// "step a", "steps a, b and c", "steps a, b, c, d, e and 7 more".
std::string namesOfSteps(const std::vector<std::string>& steps) {
  constexpr size_t kNamed = 5;
  if (steps.size() == 1) return "step " + steps[0];
  size_t named = steps.size() <= kNamed ? steps.size() - 1 : kNamed;
  std::string out = "steps " + steps[0];
  for (size_t i = 1; i < named; ++i) out += ", " + steps[i];
  if (steps.size() <= kNamed) return out + " and " + steps.back();
  return fmt::format("{} and {} more", out, steps.size() - named);
}

}  // namespace

PreflightScope scopeOf(const graph::Graph& graph, const std::set<std::string>& toRun,
                       const std::set<std::string>& toUndo) {
  PreflightScope scope;
  scope.doneSteps = toUndo.size();
  auto add = [&](const graph::Node& node, const graph::Command& command) {
    scope.commands.push_back(&command);
    if (node.host.empty()) return;
    scope.remoteCommands.insert(&command);
    scope.hosts[node.host].insert(command.requiredCommands.begin(), command.requiredCommands.end());
  };
  for (const graph::Node& node : graph.nodes) {
    if (node.isBarrier()) continue;
    if (toRun.count(node.id)) {
      scope.steps.push_back(&node);
      add(node, node.run);
      if (node.check) add(node, *node.check);
      if (node.recover) add(node, *node.recover);
      if (node.undo) add(node, *node.undo);
    } else if (toUndo.count(node.id) && node.undo) {
      add(node, *node.undo);
    }
  }
  return scope;
}

std::string findOnPath(const std::string& name) {
  if (name.find('/') != std::string::npos) return access(name.c_str(), X_OK) == 0 ? name : "";
  const char* path = std::getenv("PATH");
  std::string_view rest = path ? path : "/usr/local/bin:/usr/bin:/bin";
  while (true) {
    size_t colon = rest.find(':');
    std::string dir(rest.substr(0, colon));
    std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
    if (colon == std::string_view::npos) return "";
    rest.remove_prefix(colon + 1);
  }
}

bool endpointAddress(const graph::Endpoint& endpoint, std::string& host, std::string& port) {
  auto field = [&](const char* name) {
    auto it = endpoint.fields.find(name);
    return it == endpoint.fields.end() ? std::string() : it->second;
  };
  host = field("host");
  port = field("port");
  if (!host.empty() && !port.empty()) return true;
  std::string url = field("url");
  size_t scheme = url.find("://");
  if (scheme == std::string::npos) return false;
  std::string rest = url.substr(scheme + 3);
  rest = rest.substr(0, rest.find_first_of("/?"));
  if (size_t at = rest.rfind('@'); at != std::string::npos) rest = rest.substr(at + 1);
  if (!rest.empty() && rest[0] == '[') {  // [ipv6]:port
    size_t close = rest.find(']');
    host = rest.substr(1, close - 1);
    port = close + 2 <= rest.size() ? rest.substr(close + 2) : "";
  } else if (size_t colon = rest.rfind(':'); colon != std::string::npos) {
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
  } else {
    host = rest;
  }
  if (port.empty()) {
    std::string kind = url.substr(0, scheme);
    if (kind == "https") port = "443";
    if (kind == "http") port = "80";
  }
  return !host.empty() && !port.empty();
}

std::vector<std::string> preflight(const graph::Graph& graph, const PreflightScope& scope,
                                   Instant now, std::chrono::milliseconds connectTimeout) {
  std::vector<std::string> problems;

  std::map<std::string, std::string> missing;  // command -> a step that needs it
  std::set<std::string> endpoints;
  for (const graph::Command* command : scope.commands) {
    if (scope.remoteCommands.count(command)) continue;
    for (const std::string& program : command->requiredCommands) {
      if (findOnPath(program).empty() && !missing.count(program)) {
        missing[program] = command->origin;
      }
    }
    endpoints.insert(command->endpoints.begin(), command->endpoints.end());
  }
  for (const auto& [program, origin] : missing) {
    problems.push_back(fmt::format("command {} is not on PATH (needed by {})", program, origin));
  }

  // Whether a step can ever start depends only on its window and timeout:
  // asked once per pair (thousands of steps share a few), and the steps
  // that cannot, for the same reason, are one problem.
  std::map<std::pair<std::string, int64_t>, std::string> neverStarts;  // -> why, or ""
  std::vector<std::pair<std::string, std::vector<std::string>>> stepsByReason;
  for (const graph::Node* step : scope.steps) {
    if (step->window.empty()) continue;
    const graph::Window* spec = graph.window(step->window);
    std::string error;
    auto w = spec ? toWindow(*spec, error) : std::nullopt;
    if (!w) {
      problems.push_back(fmt::format("step {}: window {} is invalid: {}", step->id, step->window, error));
      continue;
    }
    std::optional<Milliseconds> timeout;
    if (step->timeoutMs) timeout = Milliseconds(*step->timeoutMs);
    auto key = std::make_pair(step->window, step->timeoutMs.value_or(-1));
    auto known = neverStarts.find(key);
    if (known == neverStarts.end()) {
      std::string why;
      if (auto never = whyNeverStarts(*w, now, timeout)) {
        why = describeNeverStarts(*never, step->window, *w, now, timeout, scope.doneSteps > 0);
      }
      known = neverStarts.emplace(key, why).first;
    }
    if (known->second.empty()) continue;
    auto group = std::find_if(stepsByReason.begin(), stepsByReason.end(),
                              [&](const auto& g) { return g.first == known->second; });
    if (group == stepsByReason.end()) {
      group = stepsByReason.insert(stepsByReason.end(), {known->second, {}});
    }
    group->second.push_back(step->id);
  }
  for (const auto& [why, steps] : stepsByReason) {
    problems.push_back(fmt::format("{} can never start: {}", namesOfSteps(steps), why));
  }

  // Every endpoint at once, each with its own timeout.
  std::vector<Probe> probes;
  for (const std::string& name : endpoints) {
    const graph::Endpoint* endpoint = graph.endpoint(name);
    if (endpoint == nullptr) continue;
    Probe probe;
    probe.endpoint = name;
    if (!endpointAddress(*endpoint, probe.host, probe.port)) {
      problems.push_back(fmt::format("endpoint {}: no host and port to check", name));
      continue;
    }
    probe.timeout = connectTimeout;
    startProbe(probe);
    probes.push_back(std::move(probe));
  }
  while (true) {
    std::vector<pollfd> waiting;
    std::vector<Probe*> owners;
    auto firstDeadline = std::chrono::steady_clock::time_point::max();
    for (Probe& probe : probes) {
      if (probe.fd >= 0 && !probe.connected && probe.problem.empty()) {
        waiting.push_back({probe.fd, POLLOUT, 0});
        owners.push_back(&probe);
        firstDeadline = std::min(firstDeadline, probe.deadline);
      }
    }
    if (waiting.empty()) break;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        firstDeadline - std::chrono::steady_clock::now());
    int ready = poll(waiting.data(), waiting.size(),
                     static_cast<int>(std::max<int64_t>(0, left.count())));
    if (ready < 0 && errno != EINTR) break;
    auto now = std::chrono::steady_clock::now();
    for (size_t i = 0; i < waiting.size(); ++i) {
      if (waiting[i].revents == 0) {
        // No answer in time: the next address, if any, gets its own.
        if (now >= owners[i]->deadline) connectNext(*owners[i], ETIMEDOUT);
        continue;
      }
      int error = 0;
      socklen_t length = sizeof error;
      getsockopt(waiting[i].fd, SOL_SOCKET, SO_ERROR, &error, &length);
      if (error == 0) {
        owners[i]->connected = true;
      } else {
        connectNext(*owners[i], error);
      }
    }
  }
  for (Probe& probe : probes) {
    if (probe.fd >= 0) close(probe.fd);
    if (!probe.problem.empty()) problems.push_back(probe.problem);
  }
  return problems;
}

}  // namespace mig::runtime
