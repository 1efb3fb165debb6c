// Preflight's endpoint probes against real sockets on loopback (one that
// accepts, one that refuses, and one that never answers), and its window
// checks at a fixed instant.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <chrono>
#include <optional>
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

// 2026-11-25 12:00 UTC, a Wednesday.
const Instant kNow = Instant(Milliseconds(1795608000000LL));

struct WindowedStep {
  std::string id;
  std::optional<int64_t> timeoutMs;
};

// A plan with one window, `steps` bound to it, and a step `copy` outside it.
graph::Graph planWithWindow(graph::Window window, const std::vector<WindowedStep>& steps) {
  graph::Graph g;
  g.plan = "p";
  graph::Node copy;
  copy.id = "copy";
  copy.run.script = "true";
  g.nodes.push_back(copy);
  for (const WindowedStep& s : steps) {
    graph::Node step;
    step.id = s.id;
    step.run.script = "true";
    step.window = window.name;
    step.timeoutMs = s.timeoutMs;
    g.nodes.push_back(step);
  }
  g.windows.push_back(std::move(window));
  return g;
}

graph::Window weekly(std::vector<std::string> days, std::string start, int64_t lengthMs) {
  graph::Window w;
  w.name = "nightly";
  w.days = std::move(days);
  w.start = std::move(start);
  w.lengthMs = lengthMs;
  w.timezone = "UTC";
  return w;
}

graph::Window oneOff(std::string at, int64_t lengthMs, std::string timezone = "UTC") {
  graph::Window w;
  w.name = "cutover";
  w.at = std::move(at);
  w.lengthMs = lengthMs;
  w.timezone = std::move(timezone);
  return w;
}

constexpr int64_t kMinute = 60'000;
constexpr int64_t kHour = 60 * kMinute;

// Too little is left of tonight's opening, but the next one is long enough:
// the step waits for it, which is no problem for preflight.
TEST(PreflightWindows, StepThatFitsALaterOpeningOfAWeeklyWindowPasses) {
  graph::Graph g = planWithWindow(weekly({"wed"}, "11:30", kHour), {{"flip", 45 * kMinute}});
  EXPECT_EQ(preflight(g, scopeOf(g, {"copy", "flip"}, {}), kNow), std::vector<std::string>{});
}

TEST(PreflightWindows, TimeoutLongerThanTheWindowNamesBothLengths) {
  graph::Graph weeklyPlan = planWithWindow(weekly({"sat"}, "02:00", kHour), {{"flip", 2 * kHour}});
  EXPECT_EQ(preflight(weeklyPlan, scopeOf(weeklyPlan, {"flip"}, {}), kNow),
            std::vector<std::string>{"step flip can never start: its timeout 2h is longer than "
                                     "any opening of window nightly (1h)"});
  graph::Graph oneOffPlan =
      planWithWindow(oneOff("2026-12-05T02:00", kHour), {{"flip", 2 * kHour}});
  EXPECT_EQ(preflight(oneOffPlan, scopeOf(oneOffPlan, {"flip"}, {}), kNow),
            std::vector<std::string>{"step flip can never start: its timeout 2h is longer than "
                                     "the one opening of window cutover (1h)"});
}

// A one-off window open since 11:30 closes at 12:30: 30 minutes are left,
// less than the step's 45; no later opening will come.
TEST(PreflightWindows, OneOffWindowClosingBeforeTheTimeoutSaysHowLittleIsLeft) {
  graph::Graph g = planWithWindow(oneOff("2026-11-25T11:30", kHour), {{"flip", 45 * kMinute}});
  EXPECT_EQ(preflight(g, scopeOf(g, {"flip"}, {"copy"}), kNow),
            std::vector<std::string>{
                "step flip can never start: one-off window cutover closes at 2026-11-25 12:30 "
                "UTC, 30m from now, before its timeout 45m would end, and does not open again; "
                "`mig rollback` undoes what the run did, or change the window and `mig run "
                "--restart`"});
}

// Resumed after the one-off window closed (03:00 to 04:00 in Chicago): the
// steps left are one problem, which says what to do.
TEST(PreflightWindows, OneOffWindowThatClosedCanNoLongerBeReached) {
  graph::Graph g = planWithWindow(oneOff("2026-11-25T03:00", kHour, "America/Chicago"),
                                  {{"flip", 30 * kMinute}, {"verify", std::nullopt}});
  EXPECT_EQ(preflight(g, scopeOf(g, {"flip", "verify"}, {"copy"}), kNow),
            std::vector<std::string>{
                "steps flip and verify can never start: the plan can no longer reach its window "
                "cutover, a one-off window that closed at 2026-11-25 04:00 CST (2026-11-25 10:00 "
                "UTC); `mig rollback` undoes what the run did, or change the window and `mig run "
                "--restart`"});
  // Before anything ran, there is nothing to roll back.
  EXPECT_EQ(preflight(g, scopeOf(g, {"copy", "flip", "verify"}, {}), kNow),
            std::vector<std::string>{
                "steps flip and verify can never start: the plan can no longer reach its window "
                "cutover, a one-off window that closed at 2026-11-25 04:00 CST (2026-11-25 10:00 "
                "UTC); change the window before running the plan"});
}

}  // namespace
}  // namespace mig::runtime
