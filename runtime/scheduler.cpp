#include "runtime/scheduler.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <numeric>
#include <utility>

#include "compiler/units/units.h"
#include "runtime/windows.h"

namespace mig::runtime {

namespace {

/// The last 4 KB of a process's log (redacted as it was written): what a
/// recovery said, which is no attempt of its step and so not in its log.
std::string readLogTail(const std::string& path) {
  constexpr std::streamoff kTail = 4096;
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return "";
  const std::streamoff size = in.tellg();
  in.seekg(std::max<std::streamoff>(0, size - kTail));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  while (!text.empty() && text.back() == '\n') text.pop_back();
  return text;
}

std::string describe(const ProcessResult& result) {
  switch (result.outcome) {
    case ProcessResult::Outcome::Exited: return fmt::format("exit code {}", result.exitCode);
    case ProcessResult::Outcome::TimedOut: return "killed at its timeout";
    case ProcessResult::Outcome::Cancelled: return "stopped";
    case ProcessResult::Outcome::SpawnFailed: return result.detail;
  }
  return "failed";
}

ProcessOutcome outcomeOf(const ProcessResult& result) {
  switch (result.outcome) {
    case ProcessResult::Outcome::Exited:
      return result.nothingChanged ? ProcessOutcome::ExitedUnchanged : ProcessOutcome::Exited;
    case ProcessResult::Outcome::TimedOut:
      return ProcessOutcome::TimedOut;
    case ProcessResult::Outcome::Cancelled:
      return ProcessOutcome::Cancelled;
    case ProcessResult::Outcome::SpawnFailed:
      return ProcessOutcome::SpawnFailed;
  }
  return ProcessOutcome::Unfinished;
}

std::optional<int> exitCodeOf(const ProcessResult& result) {
  if (result.outcome == ProcessResult::Outcome::SpawnFailed) return std::nullopt;
  return result.exitCode;
}

}  // namespace

/// A node of the graph as the run sees it: a step with its journal state,
/// or a barrier, complete once everything it waits for is.
struct Scheduler::NodeState {
  size_t index = 0;
  const graph::Node* node = nullptr;
  std::vector<NodeState*> dependents;
  size_t waiting = 0;  ///< dependencies not yet complete
  bool complete = false;

  // Steps only.
  StepState state = StepState::Pending;  ///< as in the journal
  int attempts = 0;               ///< attempts of `do` started, in all runs
  int undoAttempt = 0;            ///< the number of its latest undo, counted over every rollback
  int attemptBase = 0;            ///< attempts when this scheduler started
  std::optional<Instant> notBefore;  ///< retry delay, or the opening of its window
  bool windowAnnounced = false;
  uint64_t token = 0;
  ProcessKind process = ProcessKind::Run;  ///< what runs, or ran last
  bool deadlineIsWindowEnd = false;
  Instant startedAt;
  int64_t order = 0;

  bool isStep() const { return !node->isBarrier(); }
  const std::string& id() const { return node->id; }
};

Scheduler::Scheduler(const graph::Graph& graph, StateStore& journal, int64_t runId,
                     ActionRunner& runner, CommandPreparer& preparer, Clock& clock,
                     EventSink& events, SchedulerOptions options)
    : graph_(graph),
      journal_(journal),
      runId_(runId),
      runner_(runner),
      preparer_(preparer),
      clock_(clock),
      events_(events),
      options_(options) {
  options_.jobs = std::max(1, options_.jobs);
  for (const graph::Node& node : graph_.nodes) {
    auto state = std::make_unique<NodeState>();
    state->index = nodes_.size();
    state->node = &node;
    byId_[node.id] = state.get();
    nodes_.push_back(std::move(state));
  }
  for (auto& state : nodes_) {
    for (const std::string& dep : state->node->after) byId_.at(dep)->dependents.push_back(state.get());
    if (state->isStep()) {
      ++stepCount_;
      if (state->node->phase == "switchover") ++switchoverSteps_;
    }
  }
  started_ = clock_.now();
}

Scheduler::~Scheduler() = default;

// ---------------------------------------------------------------- journal

bool Scheduler::journalOk(bool ok) {
  if (ok || journalBroken_) return ok;
  journalBroken_ = true;
  emit(Event::Kind::Warning, nullptr,
       "the journal failed, so nothing more is started: " + journal_.lastError());
  return false;
}

bool Scheduler::loadJournal() {
  std::vector<StepRecord> records = journal_.steps(runId_);
  if (!journal_.lastError().empty()) return journalOk(false);
  std::map<std::string, const StepRecord*> byStep;
  for (const StepRecord& record : records) byStep[record.step] = &record;
  for (auto& state : nodes_) {
    if (!state->isStep()) continue;
    auto it = byStep.find(state->id());
    if (it == byStep.end()) continue;
    state->state = it->second->state;
    state->attempts = it->second->attempts;
    state->attemptBase = state->attempts;
    state->order = it->second->order;
    orderCounter_ = std::max(orderCounter_, state->order);
  }
  auto run = journal_.run(runId_);
  if (!run) return journalOk(false);
  if (run->switchoverAt) switchoverCompleted_ = true;

  // Completion flows from the done steps through the barriers.
  for (auto& state : nodes_) {
    state->complete = false;
    state->waiting = state->node->after.size();
  }
  ready_.clear();
  deferred_.clear();
  doneCount_ = 0;
  switchoverDone_ = 0;
  std::vector<NodeState*> finished;
  for (auto& state : nodes_) {
    if (state->isStep() && state->state == StepState::Done) finished.push_back(state.get());
  }
  for (NodeState* state : finished) complete(*state);
  for (auto& state : nodes_) {
    if (!state->complete && !state->isStep() && state->waiting == 0) complete(*state);
  }
  for (auto& state : nodes_) {
    if (state->isStep() && !state->complete && state->waiting == 0 &&
        (state->state == StepState::Pending || state->state == StepState::Failed)) {
      ready_.insert(state->index);
    }
  }
  return true;
}

// Marks a node complete and releases what waited for it; barriers complete
// as soon as their last dependency does.
void Scheduler::complete(NodeState& first) {
  std::vector<NodeState*> work = {&first};
  while (!work.empty()) {
    NodeState* node = work.back();
    work.pop_back();
    if (node->complete) continue;
    node->complete = true;
    if (node->isStep()) {
      ++doneCount_;
      if (node->node->phase == "switchover") ++switchoverDone_;
    }
    for (NodeState* dependent : node->dependents) {
      if (--dependent->waiting != 0) continue;
      if (!dependent->isStep()) {
        work.push_back(dependent);
      } else if (dependent->state == StepState::Pending || dependent->state == StepState::Failed) {
        ready_.insert(dependent->index);
      }
    }
  }
}

// ---------------------------------------------------------------- windows

const window::Window* Scheduler::windowOf(const std::string& name) {
  auto it = windows_.find(name);
  if (it == windows_.end()) {
    const graph::Window* spec = graph_.window(name);
    std::string error;
    std::optional<window::Window> w = spec ? toWindow(*spec, error) : std::nullopt;
    it = windows_.emplace(name, std::move(w)).first;
  }
  return it->second ? &*it->second : nullptr;
}

// ---------------------------------------------------------------- launching

void Scheduler::launchReady() {
  Instant now = clock_.now();
  for (auto it = ready_.begin(); it != ready_.end() && !stopping();) {
    if (requests_.size() >= static_cast<size_t>(options_.jobs)) return;
    NodeState& step = *nodes_[*it];
    if (step.notBefore && *step.notBefore > now) {
      ++it;
      continue;
    }
    std::optional<Instant> deadline;
    bool windowEnd = false;
    const graph::Node& node = *step.node;
    if (node.timeoutMs) deadline = now + Milliseconds(*node.timeoutMs);
    if (!node.window.empty()) {
      const window::Window* w = windowOf(node.window);
      std::optional<Milliseconds> timeout;
      if (node.timeoutMs) timeout = Milliseconds(*node.timeoutMs);
      // While a window's opening lasts, a step that fits starts at once without
      // asking the time zone database again.
      std::optional<Instant> start;
      auto open = openings_.find(node.window);
      if (open != openings_.end() && open->second.begin <= now && now < open->second.end &&
          (!timeout || now + *timeout <= open->second.end)) {
        start = now;
      } else if (w) {
        start = earliestStart(*w, now, timeout);
        if (start && *start == now) {
          if (auto current = w->current(now)) openings_[node.window] = *current;
        }
      }
      if (!start) {
        // Preflight saw the step fit: its window closed while earlier steps
        // ran, and the run has started by now.
        std::optional<NeverStarts> why = w ? whyNeverStarts(*w, now, timeout) : std::nullopt;
        cannotStart(step, why ? describeNeverStarts(*why, node.window, *w, now, timeout, true)
                              : fmt::format("window {} is invalid", node.window));
        deferred_.erase(*it);
        it = ready_.erase(it);
        continue;
      }
      if (*start > now) {
        if (options_.noWait) {
          pauseReason_ = fmt::format("step {} waits for window {}, which opens at {} ({}); "
                                     "--no-wait was given",
                                     step.id(), node.window, w->formatLocal(*start),
                                     window::Window::formatUtc(*start));
          pausedUntil_ = *start;
          return;
        }
        step.notBefore = *start;
        deferred_.insert(step.index);
        if (!step.windowAnnounced) {
          step.windowAnnounced = true;
          Event event;
          event.kind = Event::Kind::WindowWait;
          event.at = now;
          event.step = step.id();
          event.until = *start;
          event.message = fmt::format("waits for window {}: opens {} ({})", node.window,
                                      w->formatLocal(*start), window::Window::formatUtc(*start));
          events_.emit(event, progress());
        }
        ++it;
        continue;
      }
      // Open now: a step without a timeout is stopped at the window's end.
      if (!node.timeoutMs) {
        if (auto current = openings_.find(node.window); current != openings_.end()) {
          deadline = current->second.end;
          windowEnd = true;
        }
      }
    }
    it = ready_.erase(it);
    step.notBefore.reset();
    deferred_.erase(step.index);
    step.windowAnnounced = false;
    ++step.attempts;
    launch(step, ProcessKind::Run, deadline, windowEnd);
  }
}

// Starts the `run` or `check` process of a step of the main loop; its end
// comes back through handle().
bool Scheduler::launch(NodeState& step, ProcessKind process, std::optional<Instant> deadline,
                       bool deadlineIsWindowEnd) {
  const graph::Node& node = *step.node;
  const graph::Command& command = process == ProcessKind::Run ? node.run : *node.check;
  int attempt = step.attempts;
  std::string error;
  std::optional<ProcessRequest> request =
      preparer_.prepare(node, command, std::string(nameOf(process)), attempt, error);
  Instant now = clock_.now();
  if (!journalOk(journal_.processStarted(runId_, step.id(), process, attempt, toEpochMs(now),
                                         request ? request->logPath : "", StepState::Running))) {
    if (request) preparer_.finished(*request);
    return false;
  }
  step.state = StepState::Running;
  step.process = process;
  step.startedAt = now;
  if (!request) {
    ProcessResult result;
    result.outcome = ProcessResult::Outcome::SpawnFailed;
    result.detail = error;
    result.started = result.finished = now;
    uint64_t token = nextToken_++;
    result.token = token;
    step.token = token;
    byToken_[token] = &step;
    requests_[token] = ProcessRequest{};
    handle(result);
    return false;
  }
  uint64_t token = nextToken_++;
  request->token = token;
  request->deadline = deadline;
  step.token = token;
  step.deadlineIsWindowEnd = deadlineIsWindowEnd;
  byToken_[token] = &step;
  requests_[token] = std::move(*request);
  if (journal_.inBatch()) {
    pendingSpawns_.push_back(token);  // started when the batch is committed
    return true;
  }
  Event event;
  event.kind = Event::Kind::StepStarted;
  event.at = now;
  event.step = step.id();
  event.process = nameOf(process);
  event.attempt = attempt;
  event.message = command.call;
  events_.emit(event, progress());
  runner_.start(requests_[token]);
  return true;
}

// Runs one `check` or `undo` process of a step to its end: resume and
// rollback take one step at a time. What cannot be prepared, journaled or
// waited for comes back as SpawnFailed, never as a success. An interrupt
// (SIGINT, SIGTERM) stops the process; it comes back Cancelled.
ProcessResult Scheduler::runAlone(NodeState& step, ProcessKind process) {
  flushBatch();
  const graph::Node& node = *step.node;
  const graph::Command& command = process == ProcessKind::Check ? *node.check : *node.undo;
  ProcessResult result;
  int attempt = step.attempts;
  if (process == ProcessKind::Undo) {
    // A rollback tried again numbers its undos on, keeping the earlier logs.
    int earlier = 0;
    for (const AttemptRecord& record : journal_.attempts(runId_, step.id())) {
      if (record.kind == ProcessKind::Undo) ++earlier;
    }
    attempt = step.undoAttempt = earlier + 1;
  }
  result.outcome = ProcessResult::Outcome::SpawnFailed;
  result.started = result.finished = clock_.now();
  if (!journal_.lastError().empty()) {
    journalOk(false);
    result.detail = "cannot read the journal: " + journal_.lastError();
    return result;
  }

  std::string error;
  std::optional<ProcessRequest> request =
      preparer_.prepare(node, command, std::string(nameOf(process)), attempt, error);
  // A check run about an undo cut short leaves the step undoing.
  const bool aboutUndo = process == ProcessKind::Undo || step.state == StepState::Undoing;
  StepState stepState = aboutUndo ? StepState::Undoing : StepState::Running;
  if (!journalOk(journal_.processStarted(runId_, step.id(), process, attempt,
                                         toEpochMs(result.started),
                                         request ? request->logPath : "", stepState))) {
    if (request) preparer_.finished(*request);
    result.detail = "the journal could not be written: " + journal_.lastError();
    return result;
  }
  step.state = stepState;
  step.process = process;
  step.startedAt = result.started;
  if (!request) {
    result.detail = error;
    return result;
  }
  emit(Event::Kind::StepStarted, &step, command.call);
  return runToEnd(node, *request);
}

ProcessResult Scheduler::runToEnd(const graph::Node& node, ProcessRequest& request) {
  uint64_t token = nextToken_++;
  request.token = token;
  if (node.timeoutMs) request.deadline = clock_.now() + Milliseconds(*node.timeoutMs);
  runner_.start(request);

  bool cancelled = false;
  std::optional<ProcessResult> finished;
  while (!finished) {
    if (interrupted() && !cancelled) {
      cancelled = true;
      runner_.cancel(token);
    }
    if (runner_.running() == 0) break;
    for (ProcessResult& end : runner_.wait(clock_.now() + options_.tick)) {
      if (end.token == token) {
        finished = std::move(end);
      } else {
        handle(end);
      }
    }
  }
  preparer_.finished(request);
  if (!finished) {
    ProcessResult lost;
    lost.outcome = ProcessResult::Outcome::SpawnFailed;
    lost.started = lost.finished = clock_.now();
    lost.detail = "the process was lost: the runner no longer knows it";
    return lost;
  }
  return *finished;
}

std::string Scheduler::recover(NodeState& step) {
  const graph::Node& node = *step.node;
  emit(Event::Kind::Warning, &step, "was interrupted: recovering first: " + node.recover->call);
  std::string error;
  std::optional<ProcessRequest> request =
      preparer_.prepare(node, *node.recover, "recover", std::max(step.attempts, 1), error);
  if (!request) return error;
  const std::string logPath = request->logPath;
  // An earlier resume's recovery of this attempt: not what this one says.
  std::error_code ignored;
  std::filesystem::remove(logPath, ignored);
  ProcessResult result = runToEnd(node, *request);
  // Not an attempt of the step: its output is shown here, and stays in
  // its own log file.
  std::string said = readLogTail(logPath);
  if (!said.empty()) emit(Event::Kind::Warning, &step, "recovery said:\n" + said);
  if (interrupted()) return "interrupted (SIGINT or SIGTERM) while it ran";
  if (!result.succeeded()) return fmt::format("{} (its log: {})", describe(result), logPath);
  return "";
}

// Commits the journal's open batch, then starts the processes it journaled:
// a process starts only once its start is durable.
void Scheduler::flushBatch() {
  if (!journal_.inBatch()) return;
  if (journalBroken_) {
    journal_.abortBatch();
  } else if (!journal_.commitBatch()) {
    journalOk(false);
  }
  std::vector<uint64_t> spawns = std::exchange(pendingSpawns_, {});
  for (uint64_t token : spawns) {
    auto step = byToken_.find(token);
    auto request = requests_.find(token);
    if (step == byToken_.end() || request == requests_.end()) continue;
    if (journalBroken_) {
      preparer_.finished(request->second);
      step->second->state = StepState::Pending;
      step->second->token = 0;
      byToken_.erase(step);
      requests_.erase(request);
      continue;
    }
    NodeState& state = *step->second;
    Event event;
    event.kind = Event::Kind::StepStarted;
    event.at = clock_.now();
    event.step = state.id();
    event.process = nameOf(state.process);
    event.attempt = state.attempts;
    const graph::Node& node = *state.node;
    event.message = state.process == ProcessKind::Run ? node.run.call : node.check->call;
    events_.emit(event, progress());
    runner_.start(request->second);
  }
}

// ---------------------------------------------------------------- results

// Journals the end of a process of `step`, with a note of what its log
// misses; a log that could not be written is also said at once.
bool Scheduler::journalEnd(NodeState& step, ProcessKind kind, int attempt, Instant at,
                           const ProcessResult& result, StepState state,
                           const std::string& message) {
  std::vector<std::string> missing;
  if (result.logOmittedBytes > 0) {
    missing.push_back(fmt::format("{} of output left out of its middle (the log size limit)",
                                  units::formatSize(static_cast<int64_t>(result.logOmittedBytes))));
  }
  if (!result.logError.empty()) {
    missing.push_back(result.logError);
    emit(Event::Kind::Warning, &step,
         fmt::format("its {} log is incomplete: {}", nameOf(kind), result.logError));
  }
  return journal_.processFinished(runId_, step.id(), kind, attempt, toEpochMs(at),
                                  outcomeOf(result), exitCodeOf(result), state, message,
                                  fmt::format("{}", fmt::join(missing, "; ")));
}

void Scheduler::handle(const ProcessResult& result) {
  auto it = byToken_.find(result.token);
  if (it == byToken_.end()) return;
  NodeState& step = *it->second;
  byToken_.erase(it);
  if (auto request = requests_.find(result.token); request != requests_.end()) {
    preparer_.finished(request->second);
    requests_.erase(request);
  }
  step.token = 0;
  const graph::Node& node = *step.node;

  if (result.outcome == ProcessResult::Outcome::Cancelled) {
    journalOk(journalEnd(step, step.process, step.attempts, result.finished, result,
                         StepState::Interrupted, stopReason_));
    step.state = StepState::Interrupted;
    emit(Event::Kind::StepStopped, &step, stopReason_);
    return;
  }
  if (result.outcome == ProcessResult::Outcome::TimedOut && step.deadlineIsWindowEnd) {
    std::string message = fmt::format("stopped at the end of window {}", node.window);
    if (node.onWindowEnd == "rollback") {
      failed(step, message + " (on_window_end rollback)", result);
      return;
    }
    journalOk(journalEnd(step, step.process, step.attempts, result.finished, result,
                         StepState::Interrupted, message));
    step.state = StepState::Interrupted;
    emit(Event::Kind::StepStopped, &step, message);
    if (!pauseReason_) {
      pauseReason_ = message + fmt::format(" (on_window_end pause): step {} did not finish", step.id());
      if (const window::Window* w = windowOf(node.window)) {
        if (auto next = w->nextOpening(clock_.now())) pausedUntil_ = next->begin;
      }
    }
    return;
  }
  if (!result.succeeded()) {
    std::string what = step.process == ProcessKind::Check ? "its check failed" : "it failed";
    attemptFailed(step, fmt::format("{} ({})", what, describe(result)), result);
    return;
  }
  if (step.process == ProcessKind::Run && node.check) {
    if (!journalOk(journalEnd(step, ProcessKind::Run, step.attempts, result.finished, result,
                              StepState::Running, "checking"))) {
      return;
    }
    std::optional<Instant> deadline;
    if (node.timeoutMs) deadline = clock_.now() + Milliseconds(*node.timeoutMs);
    launch(step, ProcessKind::Check, deadline, false);
    return;
  }
  succeeded(step, result);
}

void Scheduler::succeeded(NodeState& step, const ProcessResult& result) {
  if (!journalOk(journalEnd(step, step.process, step.attempts, result.finished, result,
                            StepState::Done, ""))) {
    return;
  }
  step.state = StepState::Done;
  step.order = ++orderCounter_;
  durationTotal_ += std::chrono::duration_cast<Milliseconds>(result.finished - step.startedAt);
  ++durationCount_;
  emit(Event::Kind::StepSucceeded, &step, "", result.exitCode);
  complete(step);
  if (!switchoverCompleted_ && switchoverSteps_ > 0 && switchoverDone_ == switchoverSteps_) {
    switchoverCompleted_ = true;
    int64_t at = toEpochMs(clock_.now());
    std::optional<int64_t> retainUntil;
    if (graph_.retainMs) retainUntil = at + *graph_.retainMs;
    journalOk(journal_.setSwitchover(runId_, at, retainUntil));
    emit(Event::Kind::Warning, nullptr,
         "switchover completed: from now on a failure pauses the run instead of rolling back");
  }
}

void Scheduler::attemptFailed(NodeState& step, const std::string& message,
                              const ProcessResult& result) {
  const graph::Node& node = *step.node;
  int used = step.attempts - step.attemptBase;
  if (used <= node.retry && !stopping()) {
    Milliseconds delay(node.delayMs);
    std::string retrying = fmt::format("attempt {} {}; retrying{}", step.attempts, message,
                                       delay.count() ? " in " + units::formatDuration(delay.count())
                                                     : "");
    if (!journalOk(journalEnd(step, step.process, step.attempts, result.finished, result,
                              StepState::Pending, retrying))) {
      return;
    }
    step.state = StepState::Pending;
    step.notBefore = clock_.now() + delay;
    deferred_.insert(step.index);
    ready_.insert(step.index);
    emit(Event::Kind::StepRetrying, &step, retrying, exitCodeOf(result));
    return;
  }
  failed(step, message, result);
}

void Scheduler::failed(NodeState& step, const std::string& message, const ProcessResult& result) {
  std::string full = message;
  if (!result.detail.empty()) full += "\n" + result.detail;
  journalOk(journalEnd(step, step.process, step.attempts, clock_.now(), result, StepState::Failed,
                       message));
  step.state = StepState::Failed;
  emit(Event::Kind::StepFailed, &step, full, exitCodeOf(result));
  if (!failure_) failure_ = step.id();
}

// A step that can never start (no opening of its window fits it) fails
// without a process, so there is no attempt to close in the journal.
void Scheduler::cannotStart(NodeState& step, const std::string& message) {
  journalOk(journal_.setStepState(runId_, step.id(), StepState::Failed, message));
  step.state = StepState::Failed;
  emit(Event::Kind::StepFailed, &step, message);
  if (!failure_) failure_ = step.id();
}

// Stops what runs after a failure before switchover: the run will roll back.
void Scheduler::stopRunning() {
  if (cancelled_) return;
  cancelled_ = true;
  for (const auto& [token, step] : byToken_) runner_.cancel(token);
}

// ---------------------------------------------------------------- the run

std::optional<Instant> Scheduler::nextWake() const {
  std::optional<Instant> wake;
  if (!stopping()) {
    for (size_t index : deferred_) {
      const NodeState& step = *nodes_[index];
      if (step.notBefore && (!wake || *step.notBefore < *wake)) wake = step.notBefore;
    }
  }
  Instant tick = clock_.now() + options_.tick;
  if (!wake || tick < *wake) wake = tick;
  return wake;
}

RunReport Scheduler::run() {
  if (!loadJournal()) {
    return finishRun(RunResult::JournalFailed, "cannot read the journal: " + journal_.lastError());
  }
  started_ = clock_.now();
  emit(Event::Kind::RunStarted, nullptr, fmt::format("{} of {} steps to run", stepCount_ - doneCount_, stepCount_));
  while (true) {
    if (interrupted() && !pauseReason_) {
      pauseReason_ = "interrupted (SIGINT or SIGTERM): running steps were stopped; `mig resume` "
                     "continues the run";
      stopReason_ = "stopped: the run was interrupted";
      stopRunning();
    }
    // A journal removed under the run (`rm -rf .mig`) would record nothing
    // more that anyone could read: stop as for a journal that fails.
    if (!journalBroken_ && !journal_.stillInPlace()) journalOk(false);
    // The ends just handled and the starts decided now go in one commit.
    if (!journal_.inBatch() && !journalBroken_) journalOk(journal_.beginBatch());
    if (!stopping()) launchReady();
    flushBatch();
    if (failure_ && !switchoverCompleted_) stopRunning();
    if (journalBroken_) stopRunning();
    if (requests_.empty()) {
      if (journalBroken_) {
        return finishRun(RunResult::JournalFailed,
                         "the journal could not be written; stopped: " + journal_.lastError());
      }
      if (failure_) break;
      if (pauseReason_) {
        RunReport report = finishRun(RunResult::Paused, *pauseReason_);
        report.nextOpening = pausedUntil_;
        return report;
      }
      if (doneCount_ == stepCount_) {
        return finishRun(RunResult::Succeeded, fmt::format("all {} steps done", stepCount_));
      }
      std::optional<Instant> wake = nextWake();
      bool waiting = !deferred_.empty();
      if (!waiting) {
        return finishRun(RunResult::Stuck,
                         "no step can start and none is waiting: the journal and the plan "
                         "disagree");
      }
      events_.tick(progress());
      clock_.sleepUntil(*wake);
      continue;
    }
    events_.tick(progress());  // before blocking: what happened so far is shown
    std::vector<ProcessResult> results = runner_.wait(nextWake());
    if (!results.empty() && !journalBroken_) journalOk(journal_.beginBatch());
    for (const ProcessResult& result : results) handle(result);
  }

  // A step failed for good.
  const std::string& step = *failure_;
  if (switchoverCompleted_) {
    auto run = journal_.run(runId_);
    std::string when = run && run->switchoverAt
                           ? window::Window::formatUtc(fromEpochMs(*run->switchoverAt))
                           : "earlier";
    RunReport report = finishRun(
        RunResult::Paused,
        fmt::format("step {} failed after the switchover completed ({}); nothing was undone: the "
                    "application now writes to the target. Fix the cause and `mig resume`, or "
                    "roll back with `mig rollback --force`",
                    step, when));
    report.failedStep = step;
    return report;
  }
  if (options_.noRollback) {
    journalOk(journal_.setRunState(runId_, RunState::Failed,
                                   "step " + step + " failed; --no-rollback",
                                   toEpochMs(clock_.now())));
    RunReport report;
    report.result = RunResult::RollbackIncomplete;
    report.failedStep = step;
    report.message = fmt::format("step {} failed; nothing was undone (--no-rollback): everything "
                                 "is left as it is for inspection; `mig rollback` undoes it later",
                                 step);
    emit(Event::Kind::RunFinished, nullptr, report.message);
    events_.close();
    return report;
  }
  RunReport report = rollback(fmt::format("step {} failed", step));
  report.failedStep = step;
  return report;
}

RunReport Scheduler::finishRun(RunResult result, std::string message) {
  RunState state = result == RunResult::Succeeded    ? RunState::Succeeded
                   : result == RunResult::Paused     ? RunState::Paused
                   : result == RunResult::RolledBack ? RunState::RolledBack
                                                     : RunState::Failed;
  int64_t finished = result == RunResult::Paused ? 0 : toEpochMs(clock_.now());
  if (!journalBroken_) journalOk(journal_.setRunState(runId_, state, message, finished));
  RunReport report;
  report.result = journalBroken_ ? RunResult::JournalFailed : result;
  report.message = std::move(message);
  emit(Event::Kind::RunFinished, nullptr, report.message);
  events_.close();
  return report;
}

// ---------------------------------------------------------------- resume

RunReport Scheduler::pausedByInterrupt(std::string_view doing) {
  RunReport report;
  report.result = RunResult::Paused;
  report.message = fmt::format(
      "interrupted (SIGINT or SIGTERM) while {}; `mig resume` starts over from there", doing);
  journalOk(journal_.setRunState(runId_, RunState::Paused, report.message, 0));
  return report;
}

RunReport Scheduler::decideInterrupted(const std::map<std::string, ResumeChoice>& choices) {
  RunReport report;
  if (!loadJournal()) {
    report.result = RunResult::JournalFailed;
    report.message = "cannot read the journal: " + journal_.lastError();
    return report;
  }
  for (auto& state : nodes_) {
    NodeState& step = *state;
    if (!step.isStep() ||
        (step.state != StepState::Running && step.state != StepState::Interrupted))
      continue;
    const graph::Node& node = *step.node;
    // Whatever is decided, a state left inconsistent by the cut is put
    // right first (a Redis target left replicating by a copy).
    if (node.recover) {
      std::string failure = recover(step);
      if (interrupted()) return pausedByInterrupt("recovering interrupted steps");
      if (!failure.empty()) {
        report.undecided.push_back(fmt::format("{} ({}: its recovery failed: {}; fix that first)",
                                               step.id(), node.origin, failure));
        continue;
      }
    }
    if (auto choice = choices.find(step.id()); choice != choices.end()) {
      bool done = choice->second == ResumeChoice::MarkDone;
      journalOk(journal_.setStepState(
          runId_, step.id(), done ? StepState::Done : StepState::Pending,
          done ? "marked done by the operator" : "run again by the operator's choice"));
      step.state = done ? StepState::Done : StepState::Pending;
      emit(Event::Kind::Warning, &step,
           done ? "marked done (--mark-done)" : "will run again (--rerun)");
      continue;
    }
    if (node.check) {
      step.attempts = std::max(step.attempts, 1);
      ProcessResult result = runAlone(step, ProcessKind::Check);
      if (interrupted()) {
        journalOk(journalEnd(step, ProcessKind::Check, step.attempts, result.finished, result,
                             StepState::Interrupted, "its check was stopped by an interrupt"));
        return pausedByInterrupt("checking interrupted steps");
      }
      if (result.succeeded()) {
        journalOk(journalEnd(step, ProcessKind::Check, step.attempts, result.finished, result,
                             StepState::Done, "interrupted, but its check passed"));
        step.state = StepState::Done;
        emit(Event::Kind::StepSucceeded, &step, "was interrupted; its check passes, so it is done");
        continue;
      }
      journalOk(journalEnd(step, ProcessKind::Check, step.attempts, result.finished, result,
                           StepState::Interrupted, "interrupted, and its check fails"));
      step.state = StepState::Interrupted;
      emit(Event::Kind::Warning, &step,
           fmt::format("was interrupted, and its check fails ({})", describe(result)));
    }
    if (node.idempotent) {
      journalOk(journal_.setStepState(runId_, step.id(), StepState::Pending,
                                      "interrupted; idempotent, so it runs again"));
      step.state = StepState::Pending;
      emit(Event::Kind::Warning, &step, "was interrupted; it is idempotent, so it runs again");
      continue;
    }
    report.undecided.push_back(
        fmt::format("{} ({}: {})", step.id(), node.origin,
                    node.check ? "its check fails and it is not idempotent"
                               : "it has no check and is not idempotent"));
  }
  if (journalBroken_) {
    report.result = RunResult::JournalFailed;
    report.message = "the journal could not be written: " + journal_.lastError();
    return report;
  }
  if (!report.undecided.empty()) {
    report.result = RunResult::NeedsDecision;
    report.message =
        "resume cannot tell whether these interrupted steps finished; decide for each with "
        "--rerun STEP (run it again) or --mark-done STEP (it did finish)";
    journalOk(journal_.setRunState(runId_, RunState::Paused, report.message, 0));
  }
  return report;
}

// ---------------------------------------------------------------- rollback

RunReport Scheduler::rollback(const std::string& reason,
                              const std::map<std::string, ResumeChoice>& choices) {
  RunReport report;
  if (!loadJournal()) {
    report.result = RunResult::JournalFailed;
    report.message = "cannot read the journal, so nothing was undone: " + journal_.lastError();
    events_.close();
    return report;
  }
  journalOk(journal_.setRunState(runId_, RunState::RollingBack, reason, 0));
  emit(Event::Kind::RollbackStarted, nullptr, reason + "; rolling back");

  // Steps not finished (failed, stopped, or an undo cut short or failed)
  // go first, latest first; then the done ones in reverse order of
  // completion.
  std::vector<NodeState*> candidates;
  for (auto& state : nodes_) {
    if (!state->isStep()) continue;
    const StepState s = state->state;
    // A step that failed without ever starting (its window closed for good)
    // changed nothing.
    if (s == StepState::Failed && state->attempts == 0) continue;
    if (s == StepState::Failed && changedNothing(*state)) {
      emit(Event::Kind::Warning, state.get(), "failed before changing anything: nothing to undo");
      continue;
    }
    if (s == StepState::Done || s == StepState::Failed || s == StepState::Interrupted ||
        s == StepState::Running || s == StepState::Undoing || s == StepState::UndoFailed) {
      candidates.push_back(state.get());
    }
  }
  auto records = journal_.steps(runId_);
  if (!journal_.lastError().empty()) journalOk(false);
  std::map<std::string, int64_t> startedAt;
  for (const StepRecord& record : records) startedAt[record.step] = record.startedAt;
  std::stable_sort(candidates.begin(), candidates.end(), [&](NodeState* a, NodeState* b) {
    bool aDone = a->state == StepState::Done, bDone = b->state == StepState::Done;
    if (aDone != bDone) return !aDone;
    if (!aDone) return startedAt[a->id()] > startedAt[b->id()];
    return a->order > b->order;
  });

  // An undo cut short (kill -9 of the runner) is decided about before any
  // undo runs, as resume decides about interrupted steps.
  std::vector<std::string> undecided;
  for (NodeState* step : candidates) {
    if (step->state != StepState::Undoing || !step->node->undo) continue;
    if (!decideInterruptedUndo(*step, choices, undecided)) {
      if (interrupted()) {
        return rollbackIncomplete(
            std::move(report),
            fmt::format("{}; rollback is incomplete: interrupted (SIGINT or SIGTERM) while "
                        "checking step {}, whose undo had been cut short (`mig rollback` "
                        "continues)",
                        reason, step->id()));
      }
    }
  }
  std::erase_if(candidates, [](const NodeState* step) { return step->state == StepState::Undone; });
  if (!undecided.empty() && !journalBroken_) {
    report.result = RunResult::NeedsDecision;
    report.undecided = std::move(undecided);
    report.message =
        "rollback cannot tell whether these undos, cut short, finished; nothing was undone. "
        "Decide for each with --rerun STEP (run its undo again) or --mark-done STEP (its undo "
        "did finish)";
    journalOk(journal_.setRunState(runId_, RunState::RollbackIncomplete, report.message,
                                   toEpochMs(clock_.now())));
    emit(Event::Kind::RunFinished, nullptr, report.message);
    events_.close();
    return report;
  }

  auto willBeUndone = [&](const std::string& id) {
    return std::any_of(candidates.begin(), candidates.end(), [&](const NodeState* other) {
      return other->id() == id && other->node->undo;
    });
  };
  for (NodeState* step : candidates) {
    const graph::Node& node = *step->node;
    if (!node.undo) {
      if (node.effect == "write" && !node.undoneBy.empty() && willBeUndone(node.undoneBy)) {
        // A cutover: the undo of the sync it ended removes what it left.
        emit(Event::Kind::NoUndo, step,
             fmt::format("has no undo of its own: the undo of step {} reverses it", node.undoneBy));
      } else if (node.effect == "write") {
        report.notUndone.push_back(step->id());
        emit(Event::Kind::NoUndo, step,
             step->state == StepState::Done
                 ? "changed something but has no undo"
                 : "may have changed something before it stopped, and has no undo");
      }
      continue;
    }
    if (journalBroken_) break;
    if (interrupted()) {
      return rollbackIncomplete(
          std::move(report),
          fmt::format("{}; rollback is incomplete: interrupted (SIGINT or SIGTERM) before the "
                      "undo of step {}, which did not start, and the steps before it (`mig "
                      "rollback` continues)",
                      reason, step->id()));
    }
    ProcessResult result = runAlone(*step, ProcessKind::Undo);
    if (journalBroken_) break;
    if (result.succeeded()) {
      journalOk(journalEnd(*step, ProcessKind::Undo, step->undoAttempt, result.finished, result,
                           StepState::Undone, ""));
      step->state = StepState::Undone;
      report.undone.push_back(step->id());
      emit(Event::Kind::Undone, step, node.undo->call);
      continue;
    }
    std::string message = fmt::format("undo {} failed ({})", node.undo->call, describe(result));
    journalOk(journalEnd(*step, ProcessKind::Undo, step->undoAttempt, clock_.now(), result,
                         StepState::UndoFailed, message));
    step->state = StepState::UndoFailed;
    emit(Event::Kind::UndoFailed, step,
         result.detail.empty() ? message : message + "\n" + result.detail, exitCodeOf(result));
    return rollbackIncomplete(
        std::move(report),
        fmt::format("{}; rollback is incomplete: the undo of step {} failed, and the steps before "
                    "it were left as they are (manual attention needed; `mig rollback` tries "
                    "again)",
                    reason, step->id()));
  }
  if (journalBroken_) {
    report.result = RunResult::JournalFailed;
    report.message = "the journal could not be written during rollback: " + journal_.lastError();
    events_.close();
    return report;
  }
  report.result = RunResult::RolledBack;
  std::string undone = report.undone.empty() ? "nothing needed undoing"
                                             : fmt::format("undone: {}", fmt::join(report.undone, ", "));
  std::string notUndone =
      report.notUndone.empty()
          ? ""
          : fmt::format("; changed something but have no undo: {}", fmt::join(report.notUndone, ", "));
  report.message = fmt::format("{}; rolled back ({}{})", reason, undone, notUndone);
  journalOk(
      journal_.setRunState(runId_, RunState::RolledBack, report.message, toEpochMs(clock_.now())));
  emit(Event::Kind::RunFinished, nullptr, report.message);
  events_.close();
  return report;
}

// A step whose undo was cut short: the operator's choice if given; else its
// check, which fails once the step's effect is gone (the undo finished);
// else its undo runs again if the step is idempotent. Returns false when
// the step stays undecided (added to `undecided`) or an interrupt stopped
// its check.
bool Scheduler::decideInterruptedUndo(NodeState& step,
                                      const std::map<std::string, ResumeChoice>& choices,
                                      std::vector<std::string>& undecided) {
  const graph::Node& node = *step.node;
  if (auto choice = choices.find(step.id()); choice != choices.end()) {
    if (choice->second == ResumeChoice::Rerun) {
      emit(Event::Kind::Warning, &step, "its undo was cut short; it runs again (--rerun)");
      return true;
    }
    journalOk(journal_.setStepState(runId_, step.id(), StepState::Undone,
                                    "its undo was cut short; marked undone by the operator"));
    step.state = StepState::Undone;
    emit(Event::Kind::Warning, &step, "its undo was cut short; marked undone (--mark-done)");
    return true;
  }
  if (node.check) {
    ProcessResult result = runAlone(step, ProcessKind::Check);
    if (interrupted()) {
      journalOk(journalEnd(step, ProcessKind::Check, step.attempts, result.finished, result,
                           StepState::Undoing, "its check was stopped by an interrupt"));
      return false;
    }
    if (!result.succeeded() && result.outcome == ProcessResult::Outcome::Exited) {
      journalOk(journalEnd(step, ProcessKind::Check, step.attempts, result.finished, result,
                           StepState::Undone,
                           "its undo was cut short, and its check now fails: the "
                           "undo had finished"));
      step.state = StepState::Undone;
      emit(Event::Kind::Undone, &step,
           "its undo was cut short; its check now fails, so the undo had finished");
      return true;
    }
    journalOk(journalEnd(step, ProcessKind::Check, step.attempts, result.finished, result,
                         StepState::Undoing, "its undo was cut short, and its check still passes"));
  }
  if (node.idempotent) {
    emit(Event::Kind::Warning, &step, "its undo was cut short; it is idempotent, so it runs again");
    return true;
  }
  undecided.push_back(fmt::format("{} ({}: its undo was cut short; {})", step.id(), node.origin,
                                  node.check ? "its check still passes and it is not idempotent"
                                             : "it has no check and is not idempotent"));
  return false;
}

// Whether every attempt of a failed step said it changed nothing, or never
// started: then there is nothing to undo.
bool Scheduler::changedNothing(const NodeState& step) {
  std::vector<AttemptRecord> attempts = journal_.attempts(runId_, step.id());
  if (!journal_.lastError().empty()) return false;
  bool anyRun = false;
  for (const AttemptRecord& attempt : attempts) {
    if (attempt.kind != ProcessKind::Run) continue;
    anyRun = true;
    if (attempt.outcome != ProcessOutcome::ExitedUnchanged &&
        attempt.outcome != ProcessOutcome::SpawnFailed)
      return false;
  }
  return anyRun;
}

// A rollback that stops before its end: journaled and reported as such.
RunReport Scheduler::rollbackIncomplete(RunReport report, std::string message) {
  report.result = RunResult::RollbackIncomplete;
  report.message = std::move(message);
  journalOk(journal_.setRunState(runId_, RunState::RollbackIncomplete, report.message,
                                 toEpochMs(clock_.now())));
  emit(Event::Kind::RunFinished, nullptr, report.message);
  events_.close();
  return report;
}

// ---------------------------------------------------------------- events

Progress Scheduler::progress() const {
  Progress p;
  p.done = doneCount_;
  p.total = stepCount_;
  p.running = requests_.size();
  p.started = started_;
  p.now = clock_.now();
  if (durationCount_ > 0 && doneCount_ < stepCount_) {
    Milliseconds average = durationTotal_ / durationCount_;
    size_t remaining = stepCount_ - doneCount_;
    p.eta = average * static_cast<int64_t>(remaining) / options_.jobs;
  }
  for (size_t index : deferred_) {
    const NodeState& step = *nodes_[index];
    if (step.notBefore && step.windowAnnounced && *step.notBefore > p.now) {
      auto left = std::chrono::duration_cast<Milliseconds>(*step.notBefore - p.now);
      p.waiting = fmt::format("window {} opens in {}", step.node->window,
                              units::formatDuration(left.count() / 1000 * 1000));
      break;
    }
  }
  return p;
}

void Scheduler::emit(Event::Kind kind, const NodeState* step, std::string message,
                     std::optional<int> exitCode) {
  Event event;
  event.kind = kind;
  event.at = clock_.now();
  if (step) {
    event.step = step->id();
    event.process = nameOf(step->process);
    event.attempt = step->process == ProcessKind::Undo ? step->undoAttempt : step->attempts;
  }
  event.exitCode = exitCode;
  event.message = std::move(message);
  events_.emit(event, progress());
}

}  // namespace mig::runtime
