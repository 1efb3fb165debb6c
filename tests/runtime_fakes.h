#pragma once

// Fakes for the runtime's logic tests: a plan compiled from text, a runner
// whose processes end on a fake clock, a preparer without secrets, and a
// sink that keeps the events.
#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "compiler/diag/printers.h"
#include "compiler/graph/json.h"
#include "compiler/lower/lower.h"
#include "compiler/sema/compilation.h"
#include "runtime/scheduler.h"

namespace mig::runtime {

using namespace std::chrono_literals;

// 2026-11-25 12:00 UTC, a Wednesday.
const Instant kStart = Instant(Milliseconds(1795608000000LL));

inline graph::Graph compilePlan(const std::string& body, const std::string& windows = "") {
  sema::Compilation compilation(std::vector<std::string>{});
  std::string text = "plan p {\n  retain 72h\n" + windows + body + "}\n";
  const sema::CompiledFile* file = compilation.addText("p.mig", text);
  std::ostringstream out;
  diag::printText(out, compilation.sources(), compilation.diags().diagnostics());
  EXPECT_FALSE(compilation.diags().hasErrors()) << out.str();
  return lower::lowerPlan(*file->checked.plan, compilation.sources());
}

// What a fake process does: keyed by its script.
struct Behaviour {
  int exitCode = 0;
  Milliseconds duration = 1s;
  bool nothingChanged = false;  ///< a failure that says it changed nothing
  std::string logError;         ///< writing its log failed
};

class FakeRunner : public ActionRunner {
 public:
  explicit FakeRunner(FakeClock& clock) : clock_(clock) {}

  std::function<Behaviour(const std::string& script, int count)> behave =
      [](const std::string&, int) { return Behaviour{}; };
  std::function<void(const ProcessRequest&)> onStart;
  std::vector<std::string> started;  ///< scripts in start order
  size_t maxRunning = 0;

  void start(ProcessRequest request) override {
    if (onStart) onStart(request);
    int count = ++counts_[request.script];
    Behaviour b = behave(request.script, count);
    Pending p;
    p.result.token = request.token;
    p.result.started = clock_.now();
    p.finish = clock_.now() + b.duration;
    p.result.exitCode = b.exitCode;
    p.result.nothingChanged = b.nothingChanged && b.exitCode != 0;
    p.result.logError = b.logError;
    if (request.deadline && *request.deadline < p.finish) {
      p.finish = *request.deadline;
      p.result.outcome = ProcessResult::Outcome::TimedOut;
      p.result.exitCode = 128 + 15;
    }
    started.push_back(request.script);
    pending_.push_back(p);
    maxRunning = std::max(maxRunning, pending_.size());
  }

  std::vector<ProcessResult> wait(std::optional<Instant> until) override {
    if (pending_.empty()) return {};
    auto earliest =
        std::min_element(pending_.begin(), pending_.end(),
                         [](const Pending& a, const Pending& b) { return a.finish < b.finish; });
    if (until && *until < earliest->finish) {
      clock_.sleepUntil(*until);
      return {};
    }
    Instant at = earliest->finish;
    clock_.sleepUntil(at);
    std::vector<ProcessResult> done;
    for (auto it = pending_.begin(); it != pending_.end();) {
      if (it->finish <= at) {
        it->result.finished = it->finish;
        done.push_back(it->result);
        it = pending_.erase(it);
      } else {
        ++it;
      }
    }
    return done;
  }

  void cancel(uint64_t token) override {
    for (Pending& p : pending_) {
      if (p.result.token == token) {
        p.result.outcome = ProcessResult::Outcome::Cancelled;
        p.result.exitCode = 128 + 15;
        p.finish = clock_.now();
      }
    }
  }

  size_t running() const override { return pending_.size(); }

 private:
  struct Pending {
    ProcessResult result;
    Instant finish;
  };
  FakeClock& clock_;
  std::vector<Pending> pending_;
  std::map<std::string, int> counts_;
};

class SimplePreparer : public CommandPreparer {
 public:
  /// Scripts whose preparation fails, as when a secret cannot be read.
  std::set<std::string> refused;

  std::optional<ProcessRequest> prepare(const graph::Node&, const graph::Command& command,
                                        const std::string&, int, std::string& error) override {
    if (refused.count(command.script)) {
      error = "secret db_password is not available";
      return std::nullopt;
    }
    ProcessRequest request;
    request.script = command.script;
    return request;
  }
};

class RecordingSink : public EventSink {
 public:
  void emit(const Event& event, const Progress&) override { events.push_back(event); }
  std::vector<Event> events;
  bool has(Event::Kind kind, const std::string& step) const {
    for (const Event& e : events) {
      if (e.kind == kind && e.step == step) return true;
    }
    return false;
  }
};

}  // namespace mig::runtime
