// mig run, resume, rollback, status and log: the runtime driven from the
// command line. Everything here is the wiring between the pieces — the
// journal, the lock, preflight, the scheduler — and what the operator reads.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "cli/commands.h"
#include "cli/plan_loader.h"
#include "compiler/graph/json.h"
#include "compiler/units/units.h"
#include "runtime/leftovers.h"
#include "runtime/lock.h"
#include "runtime/preflight.h"
#include "runtime/process_runner.h"
#include "runtime/progress.h"
#include "runtime/scheduler.h"
#include "runtime/secrets.h"
#include "runtime/state_store.h"

namespace mig::cli {
namespace {

namespace fs = std::filesystem;
using runtime::RunResult;

std::atomic<bool> interrupted{false};

void onInterrupt(int) { interrupted = true; }

// Ctrl-C and SIGTERM stop the run cleanly (running steps are stopped and
// journaled as interrupted, the run is paused); a second one is not needed.
void installInterruptHandlers() {
  struct sigaction action {};
  action.sa_handler = onInterrupt;
  sigemptyset(&action.sa_mask);
  action.sa_flags = 0;  // no SA_RESTART: a blocked wait returns at once
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

std::string ownBinary() {
  std::error_code error;
  fs::path self = fs::read_symlink("/proc/self/exe", error);
  return error ? std::string("mig") : self.string();
}

std::string hostName() {
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  return host;
}

std::string formatTime(int64_t ms) {
  return window::Window::formatUtc(runtime::fromEpochMs(ms));
}

// Where the journal of a plan lives: --state, or .mig/state.db beside the
// plan (the current folder when there is no plan file).
std::string statePathFor(const RunOptions& options) {
  if (!options.statePath.empty()) return options.statePath;
  fs::path dir = options.file.empty() ? fs::path(".") : fs::path(options.file).parent_path();
  if (dir.empty()) dir = ".";
  return (dir / ".mig" / "state.db").string();
}

std::unique_ptr<runtime::StateStore> openJournal(const std::string& path, bool durable,
                                                 int& exitCode) {
  std::string error;
  auto journal = runtime::StateStore::open(path, durable, error);
  if (!journal) {
    printError(error);
    exitCode = kPreflightFailed;
  }
  return journal;
}

std::unique_ptr<runtime::EventSink> sinkFor(const RunOptions& options) {
  if (options.json) return runtime::makeJsonSink(std::cout);
  if (isatty(STDOUT_FILENO)) {
    return runtime::makeTerminalSink(std::cout, std::getenv("NO_COLOR") == nullptr);
  }
  return runtime::makeLineSink(std::cout);
}

int exitCodeFor(RunResult result) {
  switch (result) {
    case RunResult::Succeeded: return kSuccess;
    case RunResult::RolledBack: return kRolledBack;
    case RunResult::RollbackIncomplete: return kRollbackIncomplete;
    case RunResult::Paused: return kPaused;
    case RunResult::NeedsDecision: return kNeedsDecision;
    case RunResult::JournalFailed: return kRollbackIncomplete;
    case RunResult::Stuck: return kRollbackIncomplete;
  }
  return kRollbackIncomplete;
}

const char* resultName(RunResult result) {
  switch (result) {
    case RunResult::Succeeded: return "succeeded";
    case RunResult::RolledBack: return "rolled_back";
    case RunResult::RollbackIncomplete: return "rollback_incomplete";
    case RunResult::Paused: return "paused";
    case RunResult::NeedsDecision: return "needs_decision";
    case RunResult::JournalFailed: return "journal_failed";
    case RunResult::Stuck: return "stuck";
  }
  return "failed";
}

void printReport(const runtime::RunReport& report, const RunOptions& options) {
  if (options.json) {
    nlohmann::ordered_json summary;
    summary["event"] = "summary";
    summary["result"] = resultName(report.result);
    summary["exitCode"] = exitCodeFor(report.result);
    summary["message"] = report.message;
    summary["undone"] = report.undone;
    summary["notUndone"] = report.notUndone;
    if (!report.failedStep.empty()) summary["failedStep"] = report.failedStep;
    if (!report.undecided.empty()) summary["undecided"] = report.undecided;
    std::cout << summary.dump() << '\n';
    return;
  }
  std::cout << "\n" << report.message << "\n";
  if (!report.undone.empty()) {
    std::cout << fmt::format("  undone, in order: {}\n", fmt::join(report.undone, ", "));
  }
  if (!report.notUndone.empty()) {
    std::cout << fmt::format("  steps that changed something (or may have) but have no undo (check "
                             "them by hand): {}\n",
                             fmt::join(report.notUndone, ", "));
  }
  for (const std::string& step : report.undecided) std::cout << "  " << step << "\n";
  if (report.nextOpening) {
    std::cout << fmt::format("  the window opens next at {}; `mig resume` then continues\n",
                             window::Window::formatUtc(*report.nextOpening));
  }
}

// A read of the journal that failed leaves lastError() set: say so, rather
// than go on as if the journal were empty.
bool readFailed(const runtime::StateStore& journal) {
  if (journal.lastError().empty()) return false;
  printError("cannot read the journal: " + journal.lastError());
  return true;
}

// The plan and the journal a command works on.
struct Target {
  std::optional<LoadedPlan> plan;  ///< compiled now, when a plan file was given or found
  std::string planName;
  std::string statePath;
  std::unique_ptr<runtime::StateStore> journal;
};

// Finds the plan for resume, rollback, status and log: FILE if given;
// otherwise the one plan recorded in ./.mig (an error lists them if there
// are several).
std::optional<Target> findTarget(const RunOptions& options, int& exitCode, bool compile) {
  Target target;
  target.statePath = statePathFor(options);
  if (!options.file.empty()) {
    auto plan = loadPlan(options.file, exitCode);
    if (!plan) return std::nullopt;
    target.planName = plan->graph.plan;
    if (compile) target.plan = std::move(plan);
  }
  if (!fs::exists(target.statePath)) {
    printError(fmt::format("no journal at {}: nothing has run here yet{}", target.statePath,
                           options.file.empty() ? " (give the plan file, or run in its folder)"
                                                : ""));
    exitCode = kUsage;
    return std::nullopt;
  }
  target.journal = openJournal(target.statePath, options.durable, exitCode);
  if (!target.journal) return std::nullopt;
  if (target.planName.empty()) {
    std::vector<std::string> plans = target.journal->plans();
    if (readFailed(*target.journal)) {
      exitCode = kPreflightFailed;
      return std::nullopt;
    }
    if (plans.empty()) {
      printError(fmt::format("the journal {} records no run", target.statePath));
      exitCode = kUsage;
      return std::nullopt;
    }
    if (plans.size() > 1) {
      printError(fmt::format("the journal {} records several plans ({}); name the plan file",
                             target.statePath, fmt::join(plans, ", ")));
      exitCode = kUsage;
      return std::nullopt;
    }
    target.planName = plans[0];
  }
  return target;
}

// What differs between the graph a run executed and the plan now.
std::vector<std::string> describeChanges(const graph::Graph& before, const graph::Graph& after) {
  std::vector<std::string> changes;
  auto nodeJson = [](const graph::Graph& g, const graph::Node& n) {
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
    } else if (nodeJson(before, n) != nodeJson(after, *now)) {
      changes.push_back("step " + n.id + " changed");
    }
  }
  for (const graph::Node& n : after.nodes) {
    if (!n.isBarrier() && !before.node(n.id)) changes.push_back("step " + n.id + " was added");
  }
  auto windowText = [](const graph::Window& w) {
    return fmt::format("{} {} {} {} {}", fmt::join(w.days, ","), w.start, w.at, w.lengthMs, w.timezone);
  };
  for (const graph::Window& w : after.windows) {
    const graph::Window* old = before.window(w.name);
    if (!old || windowText(*old) != windowText(w)) changes.push_back("window " + w.name + " changed");
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

// Secrets, PATH, endpoints and windows for the commands that may run: the
// steps `toRun`, and the undos of the steps `toUndo`. Every problem is
// printed, and nothing runs if there is one.
bool checkBeforeRunning(const graph::Graph& g, const std::set<std::string>& toRun,
                        const std::set<std::string>& toUndo, runtime::SecretValues& secrets) {
  runtime::PreflightScope scope = runtime::scopeOf(g, toRun, toUndo);
  std::vector<std::string> problems;
  secrets = runtime::SecretValues::resolve(g, runtime::secretsOf(scope.commands), problems);
  runtime::SystemClock clock;
  std::vector<std::string> more = runtime::preflight(g, scope, clock.now());
  problems.insert(problems.end(), more.begin(), more.end());
  if (problems.empty()) return true;
  std::cerr << fmt::format("mig: preflight failed; nothing was run ({} problem{}):\n",
                           problems.size(), problems.size() == 1 ? "" : "s");
  for (const std::string& problem : problems) std::cerr << "  - " << problem << '\n';
  return false;
}

// .mig/tmp/PLAN: the plan's password files, while their processes run.
std::string secretFolder(const std::string& statePath, const std::string& plan) {
  fs::path stateDir = fs::path(statePath).parent_path();
  if (stateDir.empty()) stateDir = ".";
  return (stateDir / "tmp" / plan).string();
}

runtime::RunPaths pathsFor(const std::string& statePath, const graph::Graph& g, int64_t runId,
                           const std::string& planFile) {
  fs::path stateDir = fs::path(statePath).parent_path();
  if (stateDir.empty()) stateDir = ".";
  runtime::RunPaths paths;
  fs::path workdir = planFile.empty() ? fs::current_path() : fs::path(planFile).parent_path();
  paths.workdir = fs::absolute(workdir.empty() ? fs::path(".") : workdir).lexically_normal().string();
  paths.logDir = (stateDir / "logs" / g.plan / fmt::format("run-{}", runId)).string();
  paths.tempDir = secretFolder(statePath, g.plan);
  paths.migBinary = ownBinary();
  paths.journal = fs::absolute(statePath).lexically_normal().string();
  std::error_code ec;
  fs::create_directories(paths.logDir, ec);
  fs::create_directories(paths.tempDir, ec);
  ::chmod(fs::path(paths.tempDir).parent_path().c_str(), 0700);
  return paths;
}

std::unique_ptr<runtime::PlanLock> lockPlan(const std::string& statePath, const std::string& plan,
                                            int& exitCode) {
  fs::path stateDir = fs::path(statePath).parent_path();
  runtime::PlanLock::Status status;
  std::string message;
  auto lock = runtime::PlanLock::acquire(stateDir.empty() ? "." : stateDir.string(), plan, status,
                                         message);
  if (status == runtime::PlanLock::Status::Held) {
    printError(message);
    exitCode = kLocked;
    return nullptr;
  }
  if (status == runtime::PlanLock::Status::Error) {
    printError(message);
    exitCode = kPreflightFailed;
    return nullptr;
  }
  if (!message.empty()) std::cerr << "mig: warning: " << message << '\n';
  return lock;
}

// A runner killed with kill -9 leaves its steps' processes running; they
// must be gone before anything is decided about those steps.
void stopLeftovers(const std::string& plan, const std::string& statePath) {
  int stopped = runtime::stopLeftoverProcesses(
      plan, fs::absolute(statePath).lexically_normal().string());
  if (stopped > 0) {
    std::cerr << fmt::format("mig: warning: stopped {} process{} left running by the interrupted "
                             "runner\n",
                             stopped, stopped == 1 ? "" : "es");
  }
  runtime::removeLeftoverSecretFiles(secretFolder(statePath, plan));
}

int jobsFor(const RunOptions& options) {
  if (options.jobs > 0) return options.jobs;
  unsigned cores = std::thread::hardware_concurrency();
  return cores == 0 ? 1 : static_cast<int>(cores);
}

// Runs (or resumes) the run's remaining steps, preflight passed and
// `secrets` read, and reports.
int execute(const graph::Graph& g, runtime::StateStore& journal, int64_t runId,
            const std::string& statePath, const std::string& planFile, const RunOptions& options,
            const std::map<std::string, runtime::ResumeChoice>* choices,
            const runtime::SecretValues& secrets) {
  runtime::SystemClock clock;
  runtime::ProcessRunner runner(clock);
  runtime::SecretCommandPreparer preparer(g, secrets, pathsFor(statePath, g, runId, planFile));
  auto sink = sinkFor(options);
  runtime::SchedulerOptions schedulerOptions;
  schedulerOptions.jobs = jobsFor(options);
  schedulerOptions.noWait = options.noWait;
  schedulerOptions.noRollback = options.noRollback;
  schedulerOptions.interrupted = &interrupted;
  installInterruptHandlers();
  runtime::Scheduler scheduler(g, journal, runId, runner, preparer, clock, *sink, schedulerOptions);
  if (choices) {
    runtime::RunReport decisions = scheduler.decideInterrupted(*choices);
    if (decisions.result != RunResult::Succeeded) {
      sink->close();
      printReport(decisions, options);
      return exitCodeFor(decisions.result);
    }
  }
  runtime::RunReport report = scheduler.run();
  printReport(report, options);
  return exitCodeFor(report.result);
}

}  // namespace

int runCommand(const RunOptions& options) {
  int exitCode = kSuccess;
  auto plan = loadPlan(options.file, exitCode);
  if (!plan) return exitCode;
  const graph::Graph& g = plan->graph;
  if (plan->warningCount > 0 && !options.json) std::cerr << plan->warnings;
  if (options.dryRun) {
    printPlan(std::cout, *plan, runtime::SystemClock().now(), options.file);
    std::cout << "\n--dry-run: nothing was run\n";
    return kSuccess;
  }

  std::string statePath = statePathFor(options);
  auto journal = openJournal(statePath, options.durable, exitCode);
  if (!journal) return exitCode;
  auto lock = lockPlan(statePath, g.plan, exitCode);
  if (!lock) return exitCode;

  auto last = journal->lastRun(g.plan);
  if (readFailed(*journal)) return kPreflightFailed;
  bool abandonLast = false;  // --restart, once preflight has passed
  if (last) {
    // A run that stopped half way (or failed and was not fully undone) left
    // the environments changed: a new run would hide it from `mig rollback`.
    bool unfinished = last->state == "running" || last->state == "paused" ||
                      last->state == "rolling_back";
    bool notUndone = last->state == "failed" || last->state == "rollback_incomplete";
    if ((unfinished || notUndone) && !options.restart) {
      printError(fmt::format(
          "run {} of plan {} {} ({}, started {}): {}`mig rollback` undoes it, `mig run --restart` "
          "abandons it and starts over",
          last->id, g.plan, unfinished ? "is unfinished" : "failed and was not rolled back",
          last->state, formatTime(last->startedAt),
          unfinished ? "`mig resume` continues it, " : ""));
      return kNeedsDecision;
    }
    abandonLast = unfinished || notUndone;
  }

  std::set<std::string> all;
  for (const graph::Node& node : g.nodes) {
    if (!node.isBarrier()) all.insert(node.id);
  }
  runtime::SecretValues secrets;
  if (!checkBeforeRunning(g, all, {}, secrets)) return kPreflightFailed;
  if (abandonLast) {
    stopLeftovers(g.plan, statePath);
    if (!journal->setRunState(last->id, "abandoned", "abandoned by mig run --restart",
                              runtime::toEpochMs(runtime::SystemClock().now()))) {
      printError("cannot record that the last run is abandoned: " + journal->lastError());
      return kPreflightFailed;
    }
  }

  runtime::RunRecord record;
  record.plan = g.plan;
  record.planHash = g.planHash;
  record.planFile = fs::absolute(options.file).lexically_normal().string();
  record.compiled = graph::toJson(g);
  record.state = "running";
  record.startedAt = runtime::toEpochMs(runtime::SystemClock().now());
  record.host = hostName();
  record.pid = getpid();
  std::vector<std::string> steps;
  for (const graph::Node& node : g.nodes) {
    if (!node.isBarrier()) steps.push_back(node.id);
  }
  auto runId = journal->createRun(record, steps);
  if (!runId) {
    printError("cannot start the run: " + journal->lastError());
    return kPreflightFailed;
  }
  if (!options.json) std::cout << fmt::format("run {} of plan {} ({} steps)\n", *runId, g.plan, steps.size());
  return execute(g, *journal, *runId, statePath, options.file, options, nullptr, secrets);
}

namespace {

// The plan's last run, for `resume` and `rollback` (`doing`: "resume",
// "roll back"); nullopt with `exitCode` set when there is none or the
// journal cannot be read.
std::optional<runtime::RunRecord> lastRunTo(const char* doing, Target& target, int& exitCode) {
  auto last = target.journal->lastRun(target.planName);
  if (readFailed(*target.journal)) {
    exitCode = kPreflightFailed;
    return std::nullopt;
  }
  if (!last) {
    printError(fmt::format("plan {} has no run to {}", target.planName, doing));
    exitCode = kUsage;
  }
  return last;
}

}  // namespace

int resumeCommand(const RunOptions& options) {
  int exitCode = kSuccess;
  auto target = findTarget(options, exitCode, true);
  if (!target) return exitCode;
  auto last = lastRunTo("resume", *target, exitCode);
  if (!last) return exitCode;
  if (last->state == "succeeded" || last->state == "rolled_back" || last->state == "abandoned") {
    std::cout << fmt::format("run {} of plan {} is {}: nothing to resume\n", last->id,
                             last->plan, last->state);
    return kSuccess;
  }
  std::string error;
  auto executed = graph::fromJson(last->compiled, error);
  if (!executed) {
    printError(fmt::format("the journal's copy of run {} is unreadable: {}", last->id, error));
    return kPreflightFailed;
  }
  // The plan as it is now must be the plan the run started with.
  std::string planFile = options.file.empty() ? last->planFile : options.file;
  if (!target->plan && !planFile.empty() && fs::exists(planFile)) {
    target->plan = loadPlan(planFile, exitCode);
    if (!target->plan) return exitCode;
  }
  if (target->plan && target->plan->graph.planHash != last->planHash) {
    printError(fmt::format("the plan changed since run {} started, so it cannot be resumed:",
                           last->id));
    for (const std::string& change : describeChanges(*executed, target->plan->graph)) {
      std::cerr << "  - " << change << '\n';
    }
    std::cerr << "  undo the changes and resume, or `mig rollback` the run and `mig run` anew\n";
    return kNeedsDecision;
  }
  if (last->state == "rolling_back" || last->state == "rollback_incomplete") {
    std::cout << fmt::format("run {} was rolling back: continuing the rollback\n", last->id);
    return rollbackCommand(options);
  }
  std::map<std::string, runtime::ResumeChoice> choices;
  for (const std::string& step : options.rerun) choices[step] = runtime::ResumeChoice::Rerun;
  for (const std::string& step : options.markDone) choices[step] = runtime::ResumeChoice::MarkDone;
  for (const auto& [step, choice] : choices) {
    const graph::Node* node = executed->node(step);
    if (!node || node->isBarrier()) {
      printError(fmt::format("plan {} has no step '{}'", last->plan, step));
      return kUsage;
    }
  }
  auto lock = lockPlan(target->statePath, target->planName, exitCode);
  if (!lock) return exitCode;
  stopLeftovers(last->plan, target->statePath);

  // What may run now: the steps not done, and the undos of the done ones
  // should one of them fail.
  std::set<std::string> toRun, done;
  for (const runtime::StepRecord& step : target->journal->steps(last->id)) {
    (step.state == "done" ? done : toRun).insert(step.step);
  }
  if (readFailed(*target->journal)) return kPreflightFailed;
  runtime::SecretValues secrets;
  if (!checkBeforeRunning(*executed, toRun, done, secrets)) return kPreflightFailed;
  if (!target->journal->setRunner(last->id, hostName(), getpid()) ||
      !target->journal->setRunState(last->id, "running", "resumed", 0)) {
    printError("cannot record the resumed run: " + target->journal->lastError());
    return kPreflightFailed;
  }
  if (!options.json) std::cout << fmt::format("resuming run {} of plan {}\n", last->id, last->plan);
  return execute(*executed, *target->journal, last->id, target->statePath, planFile, options,
                 &choices, secrets);
}

int rollbackCommand(const RunOptions& options) {
  int exitCode = kSuccess;
  auto target = findTarget(options, exitCode, false);
  if (!target) return exitCode;
  auto last = lastRunTo("roll back", *target, exitCode);
  if (!last) return exitCode;
  std::string error;
  auto executed = graph::fromJson(last->compiled, error);
  if (!executed) {
    printError(fmt::format("the journal's copy of run {} is unreadable: {}", last->id, error));
    return kPreflightFailed;
  }
  int64_t now = runtime::toEpochMs(runtime::SystemClock().now());
  if (last->switchoverAt) {
    if (!options.force) {
      printError(fmt::format(
          "run {} completed its switchover at {}: the application has written to the target "
          "since. Rolling back does not carry those writes back to the old environment; if that "
          "is what you want, `mig rollback --force`",
          last->id, formatTime(*last->switchoverAt)));
      return kUsage;
    }
    std::cerr << fmt::format(
        "mig: warning: rolling back after the switchover of {}: writes made to the target since "
        "then are NOT carried back to the old environment\n",
        formatTime(*last->switchoverAt));
  }
  if (last->retainUntil && now > *last->retainUntil) {
    if (!options.force) {
      printError(fmt::format("the retention of run {} ended at {}: the old environment may be "
                             "gone. `mig rollback --force` tries anyway",
                             last->id, formatTime(*last->retainUntil)));
      return kUsage;
    }
    std::cerr << fmt::format("mig: warning: the retention ended at {}; trying anyway\n",
                             formatTime(*last->retainUntil));
  }
  auto lock = lockPlan(target->statePath, target->planName, exitCode);
  if (!lock) return exitCode;
  stopLeftovers(last->plan, target->statePath);

  std::set<std::string> started;
  for (const runtime::StepRecord& step : target->journal->steps(last->id)) {
    bool neverStarted = step.state == "pending" || (step.state == "failed" && step.attempts == 0);
    if (!neverStarted && step.state != "undone") started.insert(step.step);
  }
  if (readFailed(*target->journal)) return kPreflightFailed;
  if (started.empty()) {
    std::cout << fmt::format("run {} of plan {}: nothing to undo\n", last->id, last->plan);
    return kSuccess;
  }
  runtime::SecretValues secrets;
  if (!checkBeforeRunning(*executed, {}, started, secrets)) return kPreflightFailed;

  runtime::SystemClock clock;
  runtime::ProcessRunner runner(clock);
  std::string planFile = options.file.empty() ? last->planFile : options.file;
  runtime::SecretCommandPreparer preparer(*executed, secrets,
                                          pathsFor(target->statePath, *executed, last->id, planFile));
  auto sink = sinkFor(options);
  runtime::SchedulerOptions schedulerOptions;
  schedulerOptions.interrupted = &interrupted;
  installInterruptHandlers();
  runtime::Scheduler scheduler(*executed, *target->journal, last->id, runner, preparer, clock,
                               *sink, schedulerOptions);
  runtime::RunReport report = scheduler.rollback("rollback requested");
  printReport(report, options);
  if (report.result == RunResult::RolledBack) return kSuccess;
  return exitCodeFor(report.result);
}

/// The lag command for a postgres.sync step: its own command, with the
/// stdlib's `postgres-sync --from A --to B ...` turned into `postgres-lag
/// --from A --to B` (and the same PGPASSFILE lines); nullopt for a command
/// of another form.
std::optional<graph::Command> lagCommandOf(const graph::Command& sync) {
  const std::string driver = "driver postgres-sync --from ";
  size_t at = sync.script.find(driver);
  size_t options = sync.script.find(" --owners ");
  if (at == std::string::npos || options == std::string::npos || options < at) return std::nullopt;
  graph::Command lag = sync;
  lag.action = "postgres.lag";
  lag.script = sync.script.substr(0, at) + "driver postgres-lag --from " +
               sync.script.substr(at + driver.size(), options - at - driver.size());
  return lag;
}

/// "sync STEP: lag: ..." for every postgres.sync step of the run that is
/// done and not yet ended by a postgres.cutover of the same endpoints: the
/// servers keep replicating after the step, and the operator watches the
/// lag fall before the switchover.
void printReplicationLag(const graph::Graph& executed,
                         const std::vector<runtime::StepRecord>& steps,
                         const std::string& statePath, int64_t runId,
                         const std::string& planFile) {
  std::map<std::string, std::string> state;
  for (const runtime::StepRecord& step : steps) state[step.step] = step.state;
  auto cutOver = [&](const graph::Node& sync) {
    return std::any_of(executed.nodes.begin(), executed.nodes.end(), [&](const graph::Node& other) {
      return !other.isBarrier() && other.run.action == "postgres.cutover" &&
             other.run.endpoints == sync.run.endpoints && state[other.id] == "done";
    });
  };
  for (const graph::Node& node : executed.nodes) {
    if (node.isBarrier() || node.run.action != "postgres.sync" || state[node.id] != "done") {
      continue;
    }
    std::optional<graph::Command> lag = lagCommandOf(node.run);
    if (cutOver(node) || !lag) continue;
    std::vector<std::string> problems;
    std::vector<std::string> names;
    for (const graph::SecretDelivery& delivery : lag->secrets) names.push_back(delivery.secret);
    runtime::SecretValues secrets = runtime::SecretValues::resolve(executed, names, problems);
    std::string lagText;
    if (problems.empty()) {
      runtime::SecretCommandPreparer preparer(executed, secrets,
                                              pathsFor(statePath, executed, runId, planFile));
      std::string error;
      std::optional<runtime::ProcessRequest> request =
          preparer.prepare(node, *lag, "lag", 1, error);
      if (request) {
        runtime::SystemClock clock;
        runtime::ProcessRunner runner(clock);
        request->deadline = clock.now() + std::chrono::seconds(15);
        runner.start(*request);
        std::vector<runtime::ProcessResult> results = runner.wait(std::nullopt);
        preparer.finished(*request);
        std::ifstream log(request->logPath);
        std::string said((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
        if (said.empty() && !results.empty()) said = results[0].detail;
        std::error_code ignored;
        fs::remove(request->logPath, ignored);
        while (!said.empty() && (said.back() == '\n' || said.back() == ' ')) said.pop_back();
        lagText = said.empty() ? "no answer from postgres-lag" : said;
      } else {
        lagText = error;
      }
    } else {
      lagText = problems[0];
    }
    std::cout << fmt::format("  sync {}: {}\n", node.id, lagText);
  }
}

int statusCommand(const RunOptions& options) {
  int exitCode = kSuccess;
  auto target = findTarget(options, exitCode, false);
  if (!target) return exitCode;
  auto last = target->journal->lastRun(target->planName);
  if (readFailed(*target->journal)) return kPreflightFailed;
  if (!last) {
    std::cout << fmt::format("plan {} has not run yet\n", target->planName);
    return kSuccess;
  }
  std::vector<runtime::StepRecord> steps = target->journal->steps(last->id);
  if (readFailed(*target->journal)) return kPreflightFailed;
  if (options.json) {
    nlohmann::ordered_json out;
    out["plan"] = last->plan;
    out["run"] = last->id;
    out["state"] = last->state;
    out["message"] = last->message;
    out["planHash"] = last->planHash;
    out["startedAt"] = last->startedAt;
    out["finishedAt"] = last->finishedAt ? nlohmann::ordered_json(last->finishedAt) : nullptr;
    out["switchoverAt"] = last->switchoverAt ? nlohmann::ordered_json(*last->switchoverAt) : nullptr;
    out["rollbackPromisedUntil"] =
        last->retainUntil ? nlohmann::ordered_json(*last->retainUntil) : nullptr;
    auto list = nlohmann::ordered_json::array();
    for (const runtime::StepRecord& step : steps) {
      nlohmann::ordered_json s;
      s["step"] = step.step;
      s["state"] = step.state;
      s["attempts"] = step.attempts;
      s["startedAt"] = step.startedAt ? nlohmann::ordered_json(step.startedAt) : nullptr;
      s["finishedAt"] = step.finishedAt ? nlohmann::ordered_json(step.finishedAt) : nullptr;
      s["exitCode"] = step.exitCode ? nlohmann::ordered_json(*step.exitCode) : nullptr;
      s["message"] = step.message;
      list.push_back(std::move(s));
    }
    out["steps"] = std::move(list);
    std::cout << out.dump(2) << '\n';
    return kSuccess;
  }
  std::cout << fmt::format("plan {}, run {}: {}\n", last->plan, last->id, last->state);
  if (!last->message.empty()) std::cout << "  " << last->message << '\n';
  std::cout << fmt::format("  started {} on {} (pid {})", formatTime(last->startedAt), last->host,
                           last->pid);
  if (last->finishedAt) std::cout << fmt::format(", finished {}", formatTime(last->finishedAt));
  std::cout << fmt::format("\n  plan hash {}\n", last->planHash);
  if (last->switchoverAt) {
    std::cout << fmt::format("  switchover completed {}\n", formatTime(*last->switchoverAt));
    if (last->retainUntil) {
      std::cout << fmt::format("  rollback is promised until {} (the retention period)\n",
                               formatTime(*last->retainUntil));
    }
  } else {
    std::cout << "  switchover not completed: `mig rollback` undoes the run\n";
  }
  std::string unreadable;
  if (auto executed = graph::fromJson(last->compiled, unreadable)) {
    printReplicationLag(*executed, steps, target->statePath, last->id,
                        options.file.empty() ? last->planFile : options.file);
  }
  size_t width = 4;
  for (const runtime::StepRecord& step : steps) width = std::max(width, step.step.size());
  std::cout << fmt::format("\n  {:<{}}  {:<12} {:>8}  {:<17} {:>9}  {}\n", "STEP", width, "STATE",
                           "ATTEMPTS", "STARTED", "DURATION", "EXIT / MESSAGE");
  for (const runtime::StepRecord& step : steps) {
    std::string started = step.startedAt ? formatTime(step.startedAt).substr(5) : "";
    std::string duration = step.startedAt && step.finishedAt && step.finishedAt >= step.startedAt
                               ? units::formatDuration(step.finishedAt - step.startedAt)
                               : "";
    std::string tail = step.exitCode ? fmt::format("{}", *step.exitCode) : "";
    if (!step.message.empty()) tail += (tail.empty() ? "" : "  ") + step.message.substr(0, step.message.find('\n'));
    std::cout << fmt::format("  {:<{}}  {:<12} {:>8}  {:<17} {:>9}  {}\n", step.step, width,
                             step.state, step.attempts, started, duration, tail);
  }
  return kSuccess;
}

int logCommand(const LogOptions& options) {
  RunOptions runOptions;
  runOptions.file = options.file;
  runOptions.statePath = options.statePath;
  int exitCode = kSuccess;
  auto target = findTarget(runOptions, exitCode, false);
  if (!target) return exitCode;
  auto last = target->journal->lastRun(target->planName);
  if (readFailed(*target->journal)) return kPreflightFailed;
  if (!last) {
    printError(fmt::format("plan {} has not run yet", target->planName));
    return kUsage;
  }
  std::vector<runtime::AttemptRecord> attempts = target->journal->attempts(last->id, options.step);
  if (readFailed(*target->journal)) return kPreflightFailed;
  if (attempts.empty()) {
    bool known = false;
    for (const runtime::StepRecord& step : target->journal->steps(last->id)) {
      known = known || step.step == options.step;
    }
    if (readFailed(*target->journal)) return kPreflightFailed;
    if (!known) {
      printError(fmt::format("run {} of plan {} has no step '{}'", last->id, last->plan, options.step));
      return kUsage;
    }
    std::cout << fmt::format("step {} has not started in run {}\n", options.step, last->id);
    return kSuccess;
  }
  for (const runtime::AttemptRecord& attempt : attempts) {
    std::string outcome = attempt.finishedAt == 0 ? "still running, or interrupted"
                          : attempt.exitCode      ? fmt::format("exit code {}", *attempt.exitCode)
                                                  : attempt.outcome;
    std::cout << fmt::format("== {} {} attempt {}, started {}: {} ==\n", options.step,
                             attempt.kind, attempt.attempt, formatTime(attempt.startedAt), outcome);
    std::ifstream in(attempt.logPath, std::ios::binary);
    if (!in) {
      // Logs are created at a process's first output.
      std::cout << "(no output)\n";
      continue;
    }
    std::cout << in.rdbuf();
    std::cout.flush();
  }
  return kSuccess;
}

}  // namespace mig::cli
