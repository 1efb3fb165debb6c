// Preflight's endpoint probes against real sockets on loopback: one that
// accepts, one that refuses, and one that never answers.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <chrono>
#include <thread>
#include <vector>

#include "compiler/graph/graph.h"
#include "runtime/clock.h"
#include "runtime/preflight.h"

namespace mig::runtime {
namespace {

using namespace std::chrono_literals;

/// A loopback TCP socket listening on a free port, closed at the end.
struct Listener {
  int fd = -1;
  int port = 0;

  explicit Listener(int backlog) {
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    EXPECT_EQ(listen(fd, backlog), 0);
    socklen_t length = sizeof address;
    getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
    port = ntohs(address.sin_port);
  }
  ~Listener() { close(fd); }
};

graph::Graph planWithEndpoints(const std::vector<std::pair<std::string, int>>& endpoints) {
  graph::Graph g;
  g.plan = "p";
  graph::Node step;
  step.id = "touch";
  step.run.call = "sh(\"true\")";
  step.run.script = "true";
  for (const auto& [name, port] : endpoints) {
    graph::Endpoint endpoint;
    endpoint.name = name;
    endpoint.kind = "postgres";
    endpoint.fields = {{"host", "127.0.0.1"}, {"port", std::to_string(port)}};
    g.endpoints.push_back(endpoint);
    step.run.endpoints.push_back(name);
  }
  g.nodes.push_back(step);
  return g;
}

TEST(Preflight, ReportsEachEndpointThatRefusesOrNeverAnswers) {
  Listener open(16);
  int closedPort = 0;
  {
    Listener closing(1);
    closedPort = closing.port;
  }
  // A backlog of 0 that is never accepted: once it is full, new
  // connections get no answer at all.
  Listener silent(0);
  std::vector<int> filling;
  for (int i = 0; i < 4; ++i) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(silent.port);
    connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
    filling.push_back(fd);
  }
  std::this_thread::sleep_for(100ms);

  graph::Graph g =
      planWithEndpoints({{"up", open.port}, {"down", closedPort}, {"mute", silent.port}});
  PreflightScope scope = scopeOf(g, {"touch"}, {});
  auto started = std::chrono::steady_clock::now();
  std::vector<std::string> problems = preflight(g, scope, SystemClock().now(), 500ms);
  auto took = std::chrono::steady_clock::now() - started;
  for (int fd : filling) close(fd);

  EXPECT_EQ(problems,
            (std::vector<std::string>{
                fmt::format("endpoint down: cannot connect to 127.0.0.1:{}: Connection refused",
                            closedPort),
                fmt::format("endpoint mute: no answer from 127.0.0.1:{} within 500ms", silent.port),
            }));
  EXPECT_LT(took, 3s);  // the probes run at once, each with its own timeout
}

}  // namespace
}  // namespace mig::runtime
