#include "runtime/run_session.h"

#include <fmt/format.h>

#include "compiler/graph/json.h"
#include "compiler/window/window.h"

namespace mig::runtime {
namespace {

std::string formatTime(int64_t ms) {
  return window::Window::formatUtc(fromEpochMs(ms));
}

SessionResult sessionResultOf(RunResult result) {
  switch (result) {
    case RunResult::Succeeded:
      return SessionResult::Succeeded;
    case RunResult::RolledBack:
      return SessionResult::RolledBack;
    case RunResult::RollbackIncomplete:
      return SessionResult::RollbackIncomplete;
    case RunResult::Paused:
      return SessionResult::Paused;
    case RunResult::NeedsDecision:
      return SessionResult::NeedsDecision;
    case RunResult::JournalFailed:
      return SessionResult::JournalFailed;
    case RunResult::Stuck:
      return SessionResult::RollbackIncomplete;
  }
  return SessionResult::RollbackIncomplete;
}

/// How a command ended without the scheduler: refused, or nothing to do.
SessionReport withoutRun(SessionResult result, std::string message,
                         std::vector<std::string> details = {}) {
  SessionReport report;
  report.result = result;
  report.message = std::move(message);
  report.details = std::move(details);
  return report;
}

SessionReport fromRun(const RunReport& run, const RunRecord& record) {
  SessionReport report;
  report.result = sessionResultOf(run.result);
  report.message = run.message;
  report.run = run;
  report.record = record;
  return report;
}

std::vector<std::string> stepNames(const graph::Graph& graph) {
  std::vector<std::string> names;
  for (const graph::Node& node : graph.nodes) {
    if (!node.isBarrier()) names.push_back(node.id);
  }
  return names;
}

}  // namespace

RunSession::RunSession(StateStore& journal, Clock& clock, ActionRunner& runner, EventSink& events,
                       SessionServices& services, RunnerIdentity identity, SessionOptions options)
    : journal_(journal),
      clock_(clock),
      runner_(runner),
      events_(events),
      services_(services),
      identity_(std::move(identity)),
      options_(std::move(options)) {}

SessionReport RunSession::journalFailed(std::string message) {
  return withoutRun(SessionResult::JournalFailed, std::move(message));
}

// The lock is taken before the journal is read, so that what is decided
// from it still holds when the steps start.
std::optional<SessionReport> RunSession::takeLock(const std::string& plan) {
  PlanLock::Status status;
  std::string message;
  lock_ = services_.lock(plan, status, message);
  if (status == PlanLock::Status::Held) return withoutRun(SessionResult::Locked, message);
  if (status == PlanLock::Status::Error || !lock_) {
    return withoutRun(SessionResult::PreflightFailed, message);
  }
  return std::nullopt;
}

// The command goes on: it becomes the lock's recorded holder, and says
// whose lock it took over, if a runner died holding it.
std::optional<SessionReport> RunSession::claimLock() {
  std::string error;
  std::string takenOver = lock_->claim(error);
  if (!error.empty()) return withoutRun(SessionResult::PreflightFailed, error);
  if (!takenOver.empty()) services_.warn(takenOver);
  return std::nullopt;
}

// A runner killed with kill -9 leaves its steps' processes running; they
// must be gone before anything is decided about those steps.
void RunSession::stopLeftovers(const std::string& plan) {
  if (int stopped = services_.stopLeftovers(plan); stopped > 0) {
    services_.warn(fmt::format("stopped {} process{} left running by the interrupted runner",
                               stopped, stopped == 1 ? "" : "es"));
  }
}

// Only this machine's leftovers can be stopped: a run last driven from
// another machine (a shared journal) may still have processes there.
void RunSession::stopLeftovers(const std::string& plan, const RunRecord& run) {
  stopLeftovers(plan);
  bool unfinished = run.state == RunState::Running || run.state == RunState::RollingBack;
  if (unfinished && run.host != identity_.host) {
    services_.warn(
        fmt::format("run {} was last driven from host {} (pid {}): processes its "
                    "runner left running there cannot be stopped from here; make sure "
                    "they are gone",
                    run.number, run.host, run.pid));
  }
}

std::optional<graph::Graph> RunSession::executedPlan(const RunRecord& run, SessionReport& failure) {
  std::string error;
  std::optional<graph::Graph> executed = graph::fromJson(run.compiled, error);
  if (!executed) {
    failure = journalFailed(fmt::format("the journal's copy of run {} of plan {} is unreadable: {}",
                                        run.number, run.plan, error));
  }
  return executed;
}

std::optional<SessionReport> RunSession::unknownChoice(const graph::Graph& graph,
                                                       const RunRecord& run) {
  for (const auto& [step, choice] : options_.choices) {
    const graph::Node* node = graph.node(step);
    if (!node || node->isBarrier()) {
      return withoutRun(SessionResult::Refused,
                        fmt::format("plan {} has no step '{}'", run.plan, step));
    }
  }
  return std::nullopt;
}

// ---------------------------------------------------------------- start

SessionReport RunSession::start(const graph::Graph& plan, const std::string& planFile) {
  if (auto failure = takeLock(plan.plan)) return *failure;
  std::optional<RunRecord> last = journal_.lastRun(plan.plan);
  if (!journal_.lastError().empty()) return journalFailed(journal_.lastError());

  bool abandonLast = false;  // --restart, once preflight has passed
  if (last) {
    // A run that stopped half way (or failed and was not fully undone) left
    // the environments changed: a new run would hide it from `mig rollback`.
    const RunState state = last->state;
    bool unfinished =
        state == RunState::Running || state == RunState::Paused || state == RunState::RollingBack;
    bool notUndone = state == RunState::Failed || state == RunState::RollbackIncomplete;
    if ((unfinished || notUndone) && !options_.restart) {
      return withoutRun(
          SessionResult::NeedsDecision,
          fmt::format("run {} of plan {} {} ({}, started {}): {}`mig rollback` undoes it, `mig "
                      "run --restart` abandons it and starts over",
                      last->number, plan.plan,
                      unfinished ? "is unfinished" : "failed and was not rolled back",
                      nameOf(state), formatTime(last->startedAt),
                      unfinished ? "`mig resume` continues it, " : ""));
    }
    abandonLast = unfinished || notUndone;
  }

  std::vector<std::string> steps = stepNames(plan);
  std::set<std::string> all(steps.begin(), steps.end());
  std::vector<std::string> problems = services_.preflight(plan, all, {});
  if (!problems.empty()) {
    return withoutRun(SessionResult::PreflightFailed, "preflight failed; nothing was run",
                      problems);
  }
  if (auto failure = claimLock()) return *failure;
  if (abandonLast) {
    stopLeftovers(plan.plan);
    if (!journal_.setRunState(last->id, RunState::Abandoned, "abandoned by mig run --restart",
                              toEpochMs(clock_.now()))) {
      return journalFailed("cannot record that the last run is abandoned: " + journal_.lastError());
    }
  }

  RunRecord record;
  record.plan = plan.plan;
  record.planHash = plan.planHash;
  record.planFile = planFile;
  record.compiled = graph::toJson(plan);
  record.state = RunState::Running;
  record.startedAt = toEpochMs(clock_.now());
  record.host = identity_.host;
  record.pid = identity_.pid;
  std::optional<int64_t> runId = journal_.createRun(record, steps);
  if (!runId) return journalFailed("cannot start the run: " + journal_.lastError());
  std::optional<RunRecord> created = journal_.run(*runId);
  if (!created) return journalFailed("cannot read the run just started: " + journal_.lastError());
  services_.announce(
      fmt::format("run {} of plan {} ({} steps)", created->number, plan.plan, steps.size()));
  return execute(plan, *created, false);
}

// ---------------------------------------------------------------- resume

SessionReport RunSession::resume(const std::string& planName,
                                 const std::optional<graph::Graph>& current) {
  if (auto failure = takeLock(planName)) return *failure;
  std::optional<RunRecord> last = journal_.lastRun(planName);
  if (!journal_.lastError().empty()) return journalFailed(journal_.lastError());
  if (!last) {
    return withoutRun(SessionResult::Refused,
                      fmt::format("plan {} has no run to resume", planName));
  }
  if (last->state == RunState::Succeeded || last->state == RunState::RolledBack ||
      last->state == RunState::Abandoned) {
    SessionReport report = withoutRun(SessionResult::Succeeded,
                                      fmt::format("run {} of plan {} is {}: nothing to resume",
                                                  last->number, last->plan, nameOf(last->state)));
    report.record = last;
    return report;
  }
  SessionReport failure;
  std::optional<graph::Graph> executed = executedPlan(*last, failure);
  if (!executed) return failure;
  // The plan as it is now must be the plan the run started with.
  if (current && current->planHash != last->planHash) {
    std::vector<std::string> changes = describeChanges(*executed, *current);
    changes.push_back("undo the changes and resume, or `mig rollback` the run and `mig run` anew");
    return withoutRun(SessionResult::NeedsDecision,
                      fmt::format("the plan changed since run {} started, so it cannot be resumed:",
                                  last->number),
                      changes);
  }
  if (last->state == RunState::RollingBack || last->state == RunState::RollbackIncomplete) {
    services_.announce(
        fmt::format("run {} was rolling back: continuing the rollback", last->number));
    return rollbackLocked(*last);
  }
  if (auto unknown = unknownChoice(*executed, *last)) return *unknown;
  if (auto failed = claimLock()) return *failed;
  stopLeftovers(last->plan, *last);

  // What may run now: the steps not done, and the undos of the done ones
  // should one of them fail.
  std::set<std::string> toRun, done;
  for (const StepRecord& step : journal_.steps(last->id)) {
    (step.state == StepState::Done ? done : toRun).insert(step.step);
  }
  if (!journal_.lastError().empty()) return journalFailed(journal_.lastError());
  std::vector<std::string> problems = services_.preflight(*executed, toRun, done);
  if (!problems.empty()) {
    return withoutRun(SessionResult::PreflightFailed, "preflight failed; nothing was run",
                      problems);
  }
  if (!journal_.setRunner(last->id, identity_.host, identity_.pid) ||
      !journal_.setRunState(last->id, RunState::Running, "resumed", 0)) {
    return journalFailed("cannot record the resumed run: " + journal_.lastError());
  }
  services_.announce(fmt::format("resuming run {} of plan {}", last->number, last->plan));
  // Same hash: the plan now differs at most in where things are written
  // (a comment added), and its lines are the ones to cite.
  return execute(current ? *current : *executed, *last, true);
}

// ---------------------------------------------------------------- rollback

SessionReport RunSession::rollback(const std::string& planName) {
  if (auto failure = takeLock(planName)) return *failure;
  std::optional<RunRecord> last = journal_.lastRun(planName);
  if (!journal_.lastError().empty()) return journalFailed(journal_.lastError());
  if (!last) {
    return withoutRun(SessionResult::Refused,
                      fmt::format("plan {} has no run to roll back", planName));
  }
  return rollbackLocked(*last);
}

SessionReport RunSession::rollbackLocked(const RunRecord& last) {
  SessionReport failure;
  std::optional<graph::Graph> executed = executedPlan(last, failure);
  if (!executed) return failure;
  const int64_t now = toEpochMs(clock_.now());
  if (last.switchoverAt) {
    if (!options_.force) {
      return withoutRun(
          SessionResult::Refused,
          fmt::format("run {} completed its switchover at {}: the application has written to "
                      "the target since. Rolling back does not carry those writes back to the "
                      "old environment; if that is what you want, `mig rollback --force`",
                      last.number, formatTime(*last.switchoverAt)));
    }
    services_.warn(fmt::format(
        "rolling back after the switchover of {}: writes made to the target since then are NOT "
        "carried back to the old environment",
        formatTime(*last.switchoverAt)));
  }
  if (last.retainUntil && now > *last.retainUntil) {
    if (!options_.force) {
      return withoutRun(SessionResult::Refused,
                        fmt::format("the retention of run {} ended at {}: the old environment may "
                                    "be gone. `mig rollback --force` tries anyway",
                                    last.number, formatTime(*last.retainUntil)));
    }
    services_.warn(
        fmt::format("the retention ended at {}; trying anyway", formatTime(*last.retainUntil)));
  }
  if (auto unknown = unknownChoice(*executed, last)) return *unknown;
  if (auto failed = claimLock()) return *failed;
  stopLeftovers(last.plan, last);

  std::set<std::string> started;
  for (const StepRecord& step : journal_.steps(last.id)) {
    bool neverStarted =
        step.state == StepState::Pending || (step.state == StepState::Failed && step.attempts == 0);
    if (!neverStarted && step.state != StepState::Undone) started.insert(step.step);
  }
  if (!journal_.lastError().empty()) return journalFailed(journal_.lastError());
  if (started.empty()) {
    SessionReport report =
        withoutRun(SessionResult::Succeeded,
                   fmt::format("run {} of plan {}: nothing to undo", last.number, last.plan));
    report.record = last;
    return report;
  }
  std::vector<std::string> problems = services_.preflight(*executed, {}, started);
  if (!problems.empty()) {
    return withoutRun(SessionResult::PreflightFailed, "preflight failed; nothing was run",
                      problems);
  }
  std::unique_ptr<CommandPreparer> preparer = services_.preparer(*executed, last);
  SchedulerOptions schedulerOptions;
  schedulerOptions.interrupted = options_.scheduler.interrupted;
  schedulerOptions.tick = options_.scheduler.tick;
  Scheduler scheduler(*executed, journal_, last.id, runner_, *preparer, clock_, events_,
                      schedulerOptions);
  RunReport run = scheduler.rollback("rollback requested", options_.choices);
  SessionReport report = fromRun(run, last);
  // Asked for, a complete rollback is a success.
  if (run.result == RunResult::RolledBack) report.result = SessionResult::Succeeded;
  return report;
}

// ---------------------------------------------------------------- running

SessionReport RunSession::execute(const graph::Graph& graph, const RunRecord& run, bool resuming) {
  std::unique_ptr<CommandPreparer> preparer = services_.preparer(graph, run);
  Scheduler scheduler(graph, journal_, run.id, runner_, *preparer, clock_, events_,
                      options_.scheduler);
  if (resuming) {
    RunReport decisions = scheduler.decideInterrupted(options_.choices);
    if (decisions.result != RunResult::Succeeded) {
      events_.close();
      return fromRun(decisions, run);
    }
  }
  return fromRun(scheduler.run(), run);
}

std::vector<std::string> describeChanges(const graph::Graph& before, const graph::Graph& after) {
  std::vector<std::string> changes;
  auto nodeHash = [](const graph::Graph& g, const graph::Node& n) {
    graph::Graph single;
    single.plan = g.plan;
    single.nodes.push_back(n);
    single.nodes.back().origin.clear();
    single.nodes.back().run.origin.clear();
    return graph::computePlanHash(single);
  };
  for (const graph::Node& n : before.nodes) {
    if (n.isBarrier()) continue;
    const graph::Node* now = after.node(n.id);
    if (!now) {
      changes.push_back("step " + n.id + " was removed");
    } else if (nodeHash(before, n) != nodeHash(after, *now)) {
      changes.push_back("step " + n.id + " changed");
    }
  }
  for (const graph::Node& n : after.nodes) {
    if (!n.isBarrier() && !before.node(n.id)) changes.push_back("step " + n.id + " was added");
  }
  auto windowText = [](const graph::Window& w) {
    return fmt::format("{} {} {} {} {}", fmt::join(w.days, ","), w.start, w.at, w.lengthMs,
                       w.timezone);
  };
  for (const graph::Window& w : after.windows) {
    const graph::Window* old = before.window(w.name);
    if (!old || windowText(*old) != windowText(w))
      changes.push_back("window " + w.name + " changed");
  }
  for (const graph::Endpoint& e : after.endpoints) {
    const graph::Endpoint* old = before.endpoint(e.name);
    if (!old || old->fields != e.fields || old->secret != e.secret || old->kind != e.kind) {
      changes.push_back("endpoint " + e.name + " changed");
    }
  }
  if (before.retainMs != after.retainMs) changes.push_back("the retention changed");
  if (changes.empty()) changes.push_back("ACLs, secrets or the order of steps changed");
  return changes;
}

}  // namespace mig::runtime
