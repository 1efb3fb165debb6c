#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "compiler/graph/graph.h"
#include "compiler/window/window.h"
#include "runtime/action_runner.h"
#include "runtime/clock.h"
#include "runtime/events.h"
#include "runtime/state_store.h"

namespace mig::runtime {

/// Turns a graph command into a process request: environment, secrets
/// (resolved at the last moment), log file. The real one lives in
/// secrets.h; tests use a simple one.
class CommandPreparer {
 public:
  virtual ~CommandPreparer() = default;
  /// `kind` is run, check or undo. On failure (a secret that no longer
  /// resolves) returns nullopt with `error` set.
  virtual std::optional<ProcessRequest> prepare(const graph::Node& node,
                                                const graph::Command& command,
                                                const std::string& kind, int attempt,
                                                std::string& error) = 0;
  /// The process of `request` is over: remove what was made for it.
  virtual void finished(const ProcessRequest&) {}
};

struct SchedulerOptions {
  int jobs = 1;
  bool noWait = false;      ///< a closed window pauses the run instead of waiting
  bool noRollback = false;  ///< a failure leaves everything for inspection
  Milliseconds tick = std::chrono::seconds(1);
  /// Set (by a signal handler) to stop the run: running steps are stopped
  /// and journaled as interrupted, and the run pauses.
  const std::atomic<bool>* interrupted = nullptr;
};

/// How a run (or a rollback) ended; the CLI maps it to an exit code.
enum class RunResult {
  Succeeded,
  RolledBack,          ///< a step failed; every undo ran
  RollbackIncomplete,  ///< a step failed; an undo failed, or --no-rollback
  Paused,              ///< a window is closed (--no-wait, on_window_end pause) or a failure after switchover
  NeedsDecision,       ///< resume cannot decide about an interrupted step
  JournalFailed,       ///< the journal could not be read or written: stopped at once
  Stuck,               ///< no step can start and none waits: the journal and the plan disagree
};

/// What the operator decided about an interrupted step (`mig resume
/// --rerun STEP` / `--mark-done STEP`).
enum class ResumeChoice { Rerun, MarkDone };

struct RunReport {
  RunResult result = RunResult::Succeeded;
  std::string message;                 ///< one line: what happened
  std::vector<std::string> undone;     ///< steps whose undo ran, in order
  std::vector<std::string> notUndone;  ///< `write` steps that ran (or started) but have no undo
  std::string failedStep;
  std::vector<std::string> undecided;  ///< NeedsDecision: the steps, with why
  std::optional<Instant> nextOpening;  ///< Paused for a window: when it opens
};

/// Runs a plan's step graph: up to `jobs` steps at once, in dependency
/// order, gated by windows, with retries, checks, timeouts, and rollback on
/// failure, journaling every start and end before anything that depends on
/// it happens.
class Scheduler {
 public:
  Scheduler(const graph::Graph& graph, StateStore& journal, int64_t runId, ActionRunner& runner,
            CommandPreparer& preparer, Clock& clock, EventSink& events, SchedulerOptions options);
  ~Scheduler();

  /// Runs the steps not yet done (a fresh run, or one resumed: the journal
  /// says which are done). Interrupted steps must have been decided first
  /// (decideInterrupted).
  RunReport run();

  /// For a resumed run: decides what to do with each step the journal shows
  /// as started but not finished (a crash or kill -9): the operator's
  /// choice if given; else its check, if it passes the step is done; else
  /// it runs again if idempotent. Steps left undecided are reported.
  RunReport decideInterrupted(const std::map<std::string, ResumeChoice>& choices);

  /// Undoes the started steps of the run, in reverse order of completion
  /// (the failed or stopped ones first). Used after a failure and by `mig
  /// rollback`. A step whose undo was cut short (the runner was killed) is
  /// decided about first, as decideInterrupted() does for steps, with the
  /// undo in place of `do`: the operator's choice (`--rerun`: run the undo
  /// again; `--mark-done`: it finished); else the step's check, which
  /// failing means the undo finished; else the undo runs again if the step
  /// is idempotent. If any stays undecided, nothing is undone
  /// (NeedsDecision).
  RunReport rollback(const std::string& reason,
                     const std::map<std::string, ResumeChoice>& choices = {});

 private:
  struct NodeState;

  bool loadJournal();
  void complete(NodeState& node);
  void launchReady();
  bool launch(NodeState& step, ProcessKind process, std::optional<Instant> deadline,
              bool deadlineIsWindowEnd);
  void handle(const ProcessResult& result);
  bool journalEnd(NodeState& step, ProcessKind kind, int attempt, Instant at,
                  const ProcessResult& result, StepState state, const std::string& message);
  bool decideInterruptedUndo(NodeState& step, const std::map<std::string, ResumeChoice>& choices,
                             std::vector<std::string>& undecided);
  void succeeded(NodeState& step, const ProcessResult& result);
  void attemptFailed(NodeState& step, const std::string& message, const ProcessResult& result);
  void failed(NodeState& step, const std::string& message, const ProcessResult& result);
  void cannotStart(NodeState& step, const std::string& message);
  void stopRunning();
  void flushBatch();
  ProcessResult runAlone(NodeState& step, ProcessKind process);
  /// Starts `request` of `node` and waits for its end, handling the ends
  /// of other processes meanwhile; cancels it on an interrupt.
  ProcessResult runToEnd(const graph::Node& node, ProcessRequest& request);
  /// Runs the interrupted step's `recover` command (not an attempt: it is
  /// not journaled, and what it says is shown as a warning). "" or why it
  /// failed.
  std::string recover(NodeState& step);
  /// The run paused by an interrupt (SIGINT, SIGTERM) while `doing`
  /// ("checking interrupted steps"), journaled.
  RunReport pausedByInterrupt(std::string_view doing);
  bool interrupted() const { return options_.interrupted && options_.interrupted->load(); }
  std::optional<Instant> nextWake() const;
  Progress progress() const;
  void emit(Event::Kind kind, const NodeState* step, std::string message,
            std::optional<int> exitCode = std::nullopt);
  RunReport finishRun(RunResult result, std::string message);
  RunReport rollbackIncomplete(RunReport report, std::string message);
  bool changedNothing(const NodeState& step);
  bool journalOk(bool ok);
  bool stopping() const { return failure_ || pauseReason_ || journalBroken_; }
  const window::Window* windowOf(const std::string& name);

  const graph::Graph& graph_;
  StateStore& journal_;
  int64_t runId_;
  ActionRunner& runner_;
  CommandPreparer& preparer_;
  Clock& clock_;
  EventSink& events_;
  SchedulerOptions options_;

  std::vector<std::unique_ptr<NodeState>> nodes_;  ///< graph order: dependencies first
  std::map<std::string, NodeState*> byId_;
  std::set<size_t> ready_;                         ///< indices of startable steps, graph order
  std::set<size_t> deferred_;  ///< ready steps waiting for a time (retry delay, window)
  std::map<uint64_t, NodeState*> byToken_;
  std::map<uint64_t, ProcessRequest> requests_;
  std::vector<uint64_t> pendingSpawns_;  ///< journaled in the open batch, started once it commits
  std::map<std::string, std::optional<window::Window>> windows_;
  std::map<std::string, window::Interval> openings_;  ///< the current opening of open windows
  uint64_t nextToken_ = 1;
  Instant started_;
  size_t stepCount_ = 0;
  size_t doneCount_ = 0;
  size_t switchoverSteps_ = 0;
  size_t switchoverDone_ = 0;

  std::optional<std::string> failure_;  ///< the step whose failure stops the run
  std::optional<std::string> pauseReason_;
  std::optional<Instant> pausedUntil_;
  bool switchoverCompleted_ = false;
  bool journalBroken_ = false;
  bool cancelled_ = false;  ///< running steps were stopped
  std::string stopReason_ = "stopped: another step failed";
  int64_t orderCounter_ = 0;
  Milliseconds durationTotal_{0};  ///< of the steps completed here, for the ETA
  int64_t durationCount_ = 0;
};

}  // namespace mig::runtime
