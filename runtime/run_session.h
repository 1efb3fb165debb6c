#pragma once

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "compiler/graph/graph.h"
#include "runtime/action_runner.h"
#include "runtime/clock.h"
#include "runtime/events.h"
#include "runtime/lock.h"
#include "runtime/scheduler.h"
#include "runtime/state_store.h"

/// The life of a run: starting one, resuming it, rolling it back. Each
/// command decides from the journal what may happen (refusing with a
/// reason when it may not), takes the plan's lock, checks before running,
/// and hands the steps to the scheduler. The CLI parses options, prints,
/// and maps a SessionReport to an exit code; tests drive a session with a
/// fake clock, runner and services.
namespace mig::runtime {

/// How a session command ended.
enum class SessionResult {
  Succeeded,           ///< the run (or rollback) completed, or there was nothing to do
  RolledBack,          ///< a step failed and every undo ran
  RollbackIncomplete,  ///< an undo failed, --no-rollback, or an interrupted rollback
  Paused,              ///< a window, an interrupt, a failure after switchover
  NeedsDecision,       ///< the operator must choose: an interrupted step or undo, a changed plan,
                       ///< an unfinished run
  Refused,             ///< not allowed as asked (past switchover without --force, an unknown step)
  Locked,              ///< another runner holds the plan
  PreflightFailed,     ///< something the run needs is missing; nothing ran
  JournalFailed,       ///< the journal could not be read or written
};

struct SessionReport {
  SessionResult result = SessionResult::Succeeded;
  std::string message;               ///< one line: what happened, or why not
  std::vector<std::string> details;  ///< preflight problems, plan changes, undecided steps
  std::optional<RunReport> run;      ///< when the scheduler ran
  std::optional<RunRecord> record;   ///< the run the command worked on, if any
};

/// What a session uses besides the journal, clock and runner: the real
/// ones read secrets, talk to servers and print; tests fake them.
class SessionServices {
 public:
  virtual ~SessionServices() = default;
  /// Takes the plan's lock (never waits).
  virtual std::unique_ptr<PlanLock> lock(const std::string& plan, PlanLock::Status& status,
                                         std::string& message) = 0;
  /// Checks what the commands about to run need (secrets, programs,
  /// endpoints, windows): the `do` of `toRun` and the undo of `toUndo`.
  /// Returns the problems, none when all is well; keeps the secrets read
  /// for preparer().
  virtual std::vector<std::string> preflight(const graph::Graph& graph,
                                             const std::set<std::string>& toRun,
                                             const std::set<std::string>& toUndo) = 0;
  /// Turns the run's commands into processes (after preflight()).
  virtual std::unique_ptr<CommandPreparer> preparer(const graph::Graph& graph,
                                                    const RunRecord& run) = 0;
  /// Stops the processes a killed runner left for `plan` and removes its
  /// secret files; returns how many processes were stopped.
  virtual int stopLeftovers(const std::string& plan) = 0;
  /// Something the operator should know that is not an event of the run.
  virtual void warn(const std::string& message) = 0;
  /// A line about what is about to happen ("run 3 of plan x (12 steps)").
  virtual void announce(const std::string& message) = 0;
};

/// Who runs: recorded with the run, shown by status.
struct RunnerIdentity {
  std::string host;
  int64_t pid = 0;
};

struct SessionOptions {
  SchedulerOptions scheduler;
  bool restart = false;  ///< run: abandon an unfinished run and start over
  bool force = false;    ///< rollback: after switchover, or past the retention
  /// resume: about interrupted steps; rollback: about undos cut short.
  std::map<std::string, ResumeChoice> choices;
};

class RunSession {
 public:
  RunSession(StateStore& journal, Clock& clock, ActionRunner& runner, EventSink& events,
             SessionServices& services, RunnerIdentity identity, SessionOptions options);

  /// `mig run`: a new run of `plan` (compiled from `planFile`). Refuses
  /// while the plan's last run is unfinished or failed without being
  /// undone, unless `restart`.
  SessionReport start(const graph::Graph& plan, const std::string& planFile);

  /// `mig resume`: continues the plan's last run. `current` is the plan as
  /// it is now, when its file could be read: it must have the run's hash
  /// (it is then what runs, so messages cite today's lines).
  SessionReport resume(const std::string& planName, const std::optional<graph::Graph>& current);

  /// `mig rollback`: undoes the plan's last run.
  SessionReport rollback(const std::string& planName);

 private:
  std::optional<SessionReport> takeLock(const std::string& plan);
  std::optional<SessionReport> claimLock();
  void stopLeftovers(const std::string& plan);
  void stopLeftovers(const std::string& plan, const RunRecord& run);
  SessionReport rollbackLocked(const RunRecord& last);
  SessionReport execute(const graph::Graph& graph, const RunRecord& run, bool resuming);
  /// The journal's copy of the plan a run executes.
  std::optional<graph::Graph> executedPlan(const RunRecord& run, SessionReport& failure);
  std::optional<SessionReport> unknownChoice(const graph::Graph& graph, const RunRecord& run);
  SessionReport journalFailed(std::string message);

  StateStore& journal_;
  Clock& clock_;
  ActionRunner& runner_;
  EventSink& events_;
  SessionServices& services_;
  RunnerIdentity identity_;
  SessionOptions options_;
  std::unique_ptr<PlanLock> lock_;
};

/// What differs between the graph a run executed and the plan now, one
/// line each ("step load changed").
std::vector<std::string> describeChanges(const graph::Graph& before, const graph::Graph& after);

}  // namespace mig::runtime
