// mig run, resume, rollback, status and log: the runtime driven from the
// command line. Everything here is the wiring between the pieces — the
// journal, the lock, preflight, the scheduler — and what the operator reads.
#include <fmt/format.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "cli/color.h"
#include "cli/command_line.h"
#include "cli/commands.h"
#include "cli/plan_loader.h"
#include "compiler/graph/json.h"
#include "compiler/units/units.h"
#include "runtime/drivers/pg_client.h"
#include "runtime/drivers/text.h"
#include "runtime/leftovers.h"
#include "runtime/lock.h"
#include "runtime/pg_state_store.h"
#include "runtime/preflight.h"
#include "runtime/process_runner.h"
#include "runtime/progress.h"
#include "runtime/remote_hosts.h"
#include "runtime/run_log.h"
#include "runtime/run_session.h"
#include "runtime/scheduler.h"
#include "runtime/secrets.h"
#include "runtime/state_store.h"
#include "runtime/windows.h"

namespace mig::cli {
namespace {

namespace fs = std::filesystem;
using runtime::RunResult;

std::atomic<bool> interrupted{false};
std::atomic<int> interruptSignal{0};  ///< the first signal that interrupted the run

void onInterrupt(int signal) {
  int none = 0;
  interruptSignal.compare_exchange_strong(none, signal);
  interrupted = true;
}

// Ctrl-C, SIGTERM and SIGHUP (a closed terminal or ssh session) stop the
// run cleanly (running steps are stopped and journaled as interrupted, the
// run is paused); a second one is not needed.
void installInterruptHandlers() {
  struct sigaction action {};
  action.sa_handler = onInterrupt;
  sigemptyset(&action.sa_mask);
  action.sa_flags = 0;  // no SA_RESTART: a blocked wait returns at once
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGHUP, &action, nullptr);
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

// .mig/state.db beside the plan (the current folder when there is no plan
// file, or the plan comes from stdin).
std::string defaultStatePath(const std::string& planFile) {
  fs::path dir =
      planFile.empty() || planFile == "-" ? fs::path(".") : fs::path(planFile).parent_path();
  if (dir.empty()) dir = ".";
  return (dir / ".mig" / "state.db").string();
}

// The journal file, or, for a journal in PostgreSQL, the default file's
// place: its folder holds this machine's files of the plan (logs, password
// files, the local lock's record).
std::string statePathFor(const RunOptions& options) {
  std::string location = journalLocationFor(options.statePath, options.file);
  return runtime::StateStore::isPostgresUrl(location) ? defaultStatePath(options.file) : location;
}

std::unique_ptr<runtime::StateStore> openJournal(const std::string& path, bool durable,
                                                 int& exitCode) {
  std::string error;
  auto journal = runtime::StateStore::open(path, durable, error);
  if (!journal) {
    printError(error);
    exitCode = kJournalFailed;
  }
  return journal;
}

std::unique_ptr<runtime::EventSink> sinkFor(const RunOptions& options) {
  if (options.json) return runtime::makeJsonSink(std::cout);
  if (isatty(STDOUT_FILENO)) {
    return runtime::makeTerminalSink(std::cout, useColor(STDOUT_FILENO));
  }
  return runtime::makeLineSink(std::cout);
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

void printReport(const runtime::RunReport& report, const RunOptions& options, int exitCode) {
  if (options.json) {
    nlohmann::ordered_json summary;
    summary["event"] = "summary";
    summary["result"] = resultName(report.result);
    summary["exitCode"] = exitCode;
    summary["message"] = report.message;
    summary["undone"] = report.undone;
    summary["notUndone"] = report.notUndone;
    if (!report.failedStep.empty()) summary["failedStep"] = report.failedStep;
    if (!report.undecided.empty()) summary["undecided"] = report.undecided;
    std::cout << summary.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
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
  std::string journalLocation;  ///< the journal: a file, or a PostgreSQL URL
  std::string statePath;        ///< see statePathFor()
  std::unique_ptr<runtime::StateStore> journal;
};

// Finds the plan for resume, rollback, status and log: FILE if given;
// otherwise the one plan recorded in ./.mig (an error lists them if there
// are several).
std::optional<Target> findTarget(const RunOptions& options, int& exitCode, bool compile) {
  Target target;
  target.journalLocation = journalLocationFor(options.statePath, options.file);
  target.statePath = statePathFor(options);
  if (!options.file.empty()) {
    auto plan = loadPlan(options.file, exitCode);
    if (!plan) return std::nullopt;
    target.planName = plan->graph.plan;
    if (compile) target.plan = std::move(plan);
  }
  bool shared = runtime::StateStore::isPostgresUrl(target.journalLocation);
  if (!shared && !fs::exists(target.statePath)) {
    printError(fmt::format("no journal at {}: nothing has run here yet{}", target.statePath,
                           options.file.empty() ? " (give the plan file, or run in its folder)"
                                                : ""));
    exitCode = kUsage;
    return std::nullopt;
  }
  target.journal = openJournal(target.journalLocation, options.durable, exitCode);
  if (!target.journal) return std::nullopt;
  if (target.planName.empty()) {
    std::vector<std::string> plans = target.journal->plans();
    if (readFailed(*target.journal)) {
      exitCode = kJournalFailed;
      return std::nullopt;
    }
    if (plans.empty()) {
      printError(fmt::format("the journal {} records no run", journalName(target.journalLocation)));
      exitCode = kUsage;
      return std::nullopt;
    }
    if (plans.size() > 1) {
      printError(fmt::format("the journal {} records several plans ({}); name the plan file",
                             journalName(target.journalLocation), fmt::join(plans, ", ")));
      exitCode = kUsage;
      return std::nullopt;
    }
    target.planName = plans[0];
  }
  return target;
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
  paths.run = std::to_string(runId);
  std::error_code ec;
  fs::create_directories(paths.logDir, ec);
  fs::create_directories(paths.tempDir, ec);
  ::chmod(fs::path(paths.tempDir).parent_path().c_str(), 0700);
  return paths;
}

int jobsFor(const RunOptions& options) {
  if (options.jobs > 0) return options.jobs;
  unsigned cores = std::thread::hardware_concurrency();
  return cores == 0 ? 1 : static_cast<int>(cores);
}

/// The session's services on this machine: the plan's lock beside the
/// journal, secrets from the environment and files, real preflight, and
/// the terminal.
class CliServices : public runtime::SessionServices {
 public:
  CliServices(std::string journalLocation, std::string statePath, std::string planFile, bool json,
              runtime::RunLog& log)
      : journalLocation_(std::move(journalLocation)),
        statePath_(std::move(statePath)),
        planFile_(std::move(planFile)),
        json_(json),
        log_(log) {}

  std::unique_ptr<runtime::PlanLock> lock(const std::string& plan,
                                          runtime::PlanLock::Status& status,
                                          std::string& message) override {
    if (runtime::StateStore::isPostgresUrl(journalLocation_)) {
      return runtime::acquireAdvisoryPlanLock(journalLocation_, plan, status, message);
    }
    fs::path stateDir = fs::path(statePath_).parent_path();
    return runtime::PlanLock::acquire(stateDir.empty() ? "." : stateDir.string(), plan, status,
                                      message);
  }

  std::vector<std::string> preflight(const graph::Graph& g, const std::set<std::string>& toRun,
                                     const std::set<std::string>& toUndo) override {
    runtime::PreflightScope scope = runtime::scopeOf(g, toRun, toUndo);
    std::vector<std::string> problems;
    secrets_ = runtime::SecretValues::resolve(g, runtime::secretsOf(scope.commands), problems);
    log_.addSecrets(secrets_.all());
    log_.debug(fmt::format("preflight: {} command{} to run, {} to undo", scope.commands.size(),
                           scope.commands.size() == 1 ? "" : "s", toUndo.size()));
    std::vector<std::string> more = runtime::preflight(g, scope, runtime::SystemClock().now());
    problems.insert(problems.end(), more.begin(), more.end());
    if (!scope.hosts.empty()) {
      std::string privateDir = secretFolder(statePath_, g.plan);
      std::error_code ec;
      fs::create_directories(privateDir, ec);
      ::chmod(privateDir.c_str(), 0700);
      remote_ = std::make_unique<runtime::RemoteHosts>(g.hosts, privateDir);
      for (const auto& [host, commands] : scope.hosts) {
        log_.debug(fmt::format("preflight: connecting to host {}", host));
      }
      std::vector<std::string> remote = remote_->open(scope.hosts);
      problems.insert(problems.end(), remote.begin(), remote.end());
    }
    return problems;
  }

  std::unique_ptr<runtime::CommandPreparer> preparer(const graph::Graph& g,
                                                     const runtime::RunRecord& run) override {
    std::string planFile = planFile_.empty() ? run.planFile : planFile_;
    runtime::RunPaths paths = pathsFor(statePath_, g, run.id, planFile);
    // The journal's location and a shared journal's password are the
    // runner's, not the steps': their clients get their passwords from mig.
    paths.hiddenVariables = {"MIG_STATE"};
    if (runtime::StateStore::isPostgresUrl(journalLocation_)) {
      paths.hiddenVariables.push_back("PGPASSWORD");
    }
    std::string error;
    std::string logPath = (fs::path(paths.logDir) / "mig.log").string();
    if (!log_.open(logPath, error)) warn(fmt::format("cannot write {}: {}", logPath, error));
    log_.info(fmt::format("run {} of plan {} is journaled as id {}: plan hash {}, plan file {}",
                          run.number, run.plan, run.id, run.planHash,
                          planFile.empty() ? "none (the journal's copy)" : planFile));
    return std::make_unique<runtime::SecretCommandPreparer>(g, secrets_, paths, remote_.get());
  }

  int stopLeftovers(const std::string& plan) override {
    const std::string journal = fs::absolute(statePath_).lexically_normal().string();
    int stopped = runtime::stopLeftoverProcesses(plan, journal);
    runtime::removeLeftoverSecretFiles(secretFolder(statePath_, plan));
    // What they said once their runner was gone (a driver putting back what
    // it changed), which no step log holds.
    for (const std::string& output : runtime::takeOrphanedOutput(journal, plan)) warn(output);
    return stopped;
  }

  void warn(const std::string& message) override {
    log_.warn(message);
    std::cerr << "mig: warning: " << message << '\n';
  }

  void announce(const std::string& message) override {
    log_.info(message);
    if (!json_) std::cout << message << '\n';
  }

 private:
  std::string journalLocation_;
  std::string statePath_;
  std::string planFile_;  ///< as given on the command line; "" for the run's own
  bool json_;
  runtime::RunLog& log_;
  runtime::SecretValues secrets_;
  std::unique_ptr<runtime::RemoteHosts> remote_;  ///< the run's hosts, connected by preflight
};

int exitCodeFor(runtime::SessionResult result) {
  using runtime::SessionResult;
  switch (result) {
    case SessionResult::Succeeded:
      return kSuccess;
    case SessionResult::RolledBack:
      return kRolledBack;
    case SessionResult::RollbackIncomplete:
      return kRollbackIncomplete;
    case SessionResult::Paused:
      return kPaused;
    case SessionResult::NeedsDecision:
      return kNeedsDecision;
    case SessionResult::Refused:
      return kUsage;
    case SessionResult::Locked:
      return kLocked;
    case SessionResult::PreflightFailed:
      return kPreflightFailed;
    case SessionResult::JournalFailed:
      return kJournalFailed;
  }
  return kRollbackIncomplete;
}

/// Prints how a session command ended and returns its exit code.
int finish(const runtime::SessionReport& report, const RunOptions& options) {
  const int exitCode = exitCodeFor(report.result);
  if (report.run) {
    printReport(*report.run, options, exitCode);
    return exitCode;
  }
  if (report.result == runtime::SessionResult::Succeeded) {
    std::cout << report.message << '\n';
    return exitCode;
  }
  if (report.result == runtime::SessionResult::PreflightFailed && !report.details.empty()) {
    std::cerr << fmt::format("mig: {} ({} problem{}):\n", report.message, report.details.size(),
                             report.details.size() == 1 ? "" : "s");
  } else {
    printError(report.message);
  }
  for (const std::string& detail : report.details) std::cerr << "  - " << detail << '\n';
  return exitCode;
}

runtime::SessionOptions sessionOptionsFor(const RunOptions& options) {
  runtime::SessionOptions session;
  session.scheduler.jobs = jobsFor(options);
  session.scheduler.noWait = options.noWait;
  session.scheduler.noRollback = options.noRollback;
  session.scheduler.interrupted = &interrupted;
  session.restart = options.restart;
  session.force = options.force;
  for (const std::string& step : options.rerun)
    session.choices[step] = runtime::ResumeChoice::Rerun;
  for (const std::string& step : options.markDone) {
    session.choices[step] = runtime::ResumeChoice::MarkDone;
  }
  return session;
}

/// Records how a session command ended in mig's own log.
void logOutcome(runtime::RunLog& log, const runtime::SessionReport& report) {
  const int exitCode = exitCodeFor(report.result);
  const runtime::LogLevel level = exitCode == kSuccess  ? runtime::LogLevel::Info
                                  : exitCode == kPaused ? runtime::LogLevel::Warn
                                                        : runtime::LogLevel::Error;
  std::string message = report.run ? report.run->message : report.message;
  log.log(level, fmt::format("finished with exit code {}: {}", exitCode, message));
  for (const std::string& detail : report.details) log.log(level, "  " + detail);
  if (report.run) {
    if (!report.run->undone.empty()) {
      log.info(fmt::format("undone, in order: {}", fmt::join(report.run->undone, ", ")));
    }
    if (!report.run->notUndone.empty()) {
      log.warn(fmt::format("changed something but have no undo: {}",
                           fmt::join(report.run->notUndone, ", ")));
    }
    for (const std::string& step : report.run->undecided) log.warn("undecided: " + step);
  }
}

/// The level of mig's own log: --log-level, else $MIG_LOG, else info;
/// nullopt, said, when it names no level.
std::optional<runtime::LogLevel> logLevelOf(const RunOptions& options) {
  const char* fromEnvironment = std::getenv("MIG_LOG");
  std::string name = !options.logLevel.empty()                     ? options.logLevel
                     : fromEnvironment && *fromEnvironment != '\0' ? fromEnvironment
                                                                   : "info";
  std::optional<runtime::LogLevel> level = runtime::parseLogLevel(name);
  if (!level) {
    printError(fmt::format("{}{}: the log level is one of {}",
                           options.logLevel.empty() ? "MIG_LOG=" : "--log-level ", name,
                           runtime::logLevelNames()));
  }
  return level;
}

/// --log-limit in bytes (0: no limit); nullopt, said, when it is not a size.
std::optional<uint64_t> logLimitOf(const RunOptions& options) {
  if (options.logLimit.empty()) return runtime::kDefaultLogLimitBytes;
  if (options.logLimit == "0") return 0;
  std::string error;
  std::optional<units::UnitValue> size = units::parseUnitNumber(options.logLimit, error);
  if (!size || size->kind != units::UnitValue::Kind::Size || size->amount <= 0) {
    printError(fmt::format("--log-limit {}: {}", options.logLimit,
                           size ? "not a size, like 64MiB (or 0: no limit)" : error));
    return std::nullopt;
  }
  return static_cast<uint64_t>(size->amount);
}

/// Runs `command` on a session over the real runner, clock and terminal.
template <typename Command>
int withSession(runtime::StateStore& journal, const std::string& journalLocation,
                const std::string& statePath, const std::string& planName, const char* what,
                const RunOptions& options, Command command) {
  std::optional<uint64_t> logLimit = logLimitOf(options);
  if (!logLimit) return kUsage;
  std::optional<runtime::LogLevel> logLevel = logLevelOf(options);
  if (!logLevel) return kUsage;
  // Until the run is known its records wait in memory; a command that
  // never reaches a run (locked, refused) leaves them in the plan's log.
  runtime::RunLog log(*logLevel);
  fs::path stateDir = fs::path(statePath).parent_path();
  log.setFallbackPath(
      ((stateDir.empty() ? fs::path(".") : stateDir) / "logs" / planName / "mig.log").string());
  log.info(fmt::format("{}: {} of plan {} on {} (pid {}), journal {}", versionLine(), what,
                       planName, hostName(), getpid(), journalName(journalLocation)));
  installInterruptHandlers();
  runtime::SystemClock clock;
  runtime::ProcessRunner runner(clock);
  runner.setLogLimit(*logLimit);
  if (const char* cgroups = std::getenv("MIG_STEP_CGROUPS"); cgroups && std::string(cgroups) == "off") {
    runner.setUseCgroups(false);
  }
  auto sink = runtime::makeLoggingSink(log, sinkFor(options), &interruptSignal);
  CliServices services(journalLocation, statePath, options.file, options.json, log);
  runtime::RunSession session(journal, clock, runner, *sink, services, {hostName(), getpid()},
                              sessionOptionsFor(options));
  runtime::SessionReport report = command(session);
  logOutcome(log, report);
  return finish(report, options);
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
  std::string journalLocation = journalLocationFor(options.statePath, options.file);
  std::string statePath = statePathFor(options);
  auto journal = openJournal(journalLocation, options.durable, exitCode);
  if (!journal) return exitCode;
  // A plan read from stdin has no file to come back to: resume and
  // rollback use the graph kept in the journal.
  std::string planFile =
      options.file == "-" ? "" : fs::absolute(options.file).lexically_normal().string();
  return withSession(*journal, journalLocation, statePath, g.plan, "run", options,
                     [&](runtime::RunSession& session) { return session.start(g, planFile); });
}

int resumeCommand(const RunOptions& options) {
  int exitCode = kSuccess;
  auto target = findTarget(options, exitCode, true);
  if (!target) return exitCode;
  // The plan as it is now, to compare with the run's: the file given, or
  // the one the run was started from, if it is still there.
  if (!target->plan) {
    std::optional<runtime::RunRecord> last = target->journal->lastRun(target->planName);
    if (readFailed(*target->journal)) return kJournalFailed;
    if (last && !last->planFile.empty() && fs::exists(last->planFile)) {
      target->plan = loadPlan(last->planFile, exitCode);
      if (!target->plan) return exitCode;
    }
  }
  std::optional<graph::Graph> current;
  if (target->plan) current = target->plan->graph;
  return withSession(*target->journal, target->journalLocation, target->statePath, target->planName,
                     "resume", options, [&](runtime::RunSession& session) {
                       return session.resume(target->planName, current);
                     });
}

int rollbackCommand(const RunOptions& options) {
  int exitCode = kSuccess;
  auto target = findTarget(options, exitCode, false);
  if (!target) return exitCode;
  return withSession(
      *target->journal, target->journalLocation, target->statePath, target->planName, "rollback",
      options, [&](runtime::RunSession& session) { return session.rollback(target->planName); });
}

namespace {

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
  std::map<std::string, runtime::StepState> state;
  for (const runtime::StepRecord& step : steps) state[step.step] = step.state;
  auto cutOver = [&](const graph::Node& sync) {
    return std::any_of(executed.nodes.begin(), executed.nodes.end(), [&](const graph::Node& other) {
      return !other.isBarrier() && other.run.action == "postgres.cutover" &&
             other.run.endpoints == sync.run.endpoints &&
             state[other.id] == runtime::StepState::Done;
    });
  };
  for (const graph::Node& node : executed.nodes) {
    if (node.isBarrier() || node.run.action != "postgres.sync" ||
        state[node.id] != runtime::StepState::Done) {
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

}  // namespace

namespace {

// When the plan's run may next go on in a window: the soonest opening (now,
// if one is open) of the windows bound to its steps that are not done.
std::string nextWindowOf(const runtime::RunRecord& run,
                         const std::vector<runtime::StepRecord>& steps) {
  std::string unreadable;
  auto executed = graph::fromJson(run.compiled, unreadable);
  if (!executed) return "";
  std::set<std::string> done;
  for (const runtime::StepRecord& step : steps) {
    if (step.state == runtime::StepState::Done) done.insert(step.step);
  }
  const window::Instant now = runtime::SystemClock().now();
  std::optional<std::pair<window::Instant, std::string>> soonest;
  std::set<std::string> asked;
  for (const graph::Node& node : executed->nodes) {
    if (node.isBarrier() || node.window.empty() || done.count(node.id)) continue;
    if (!asked.insert(node.window).second) continue;
    const graph::Window* spec = executed->window(node.window);
    std::string error;
    auto w = spec ? runtime::toWindow(*spec, error) : std::nullopt;
    auto opening = w ? w->currentOrNext(now) : std::nullopt;
    if (opening && (!soonest || opening->begin < soonest->first)) {
      soonest = {opening->begin, node.window};
    }
  }
  if (!soonest) return "";
  if (soonest->first <= now) return fmt::format("{} (open now)", soonest->second);
  return fmt::format("{} {}", soonest->second, window::Window::formatUtc(soonest->first));
}

// `mig status --all`: one line for every plan in the journal.
int statusOfEveryPlan(const RunOptions& options) {
  int exitCode = kSuccess;
  std::string location = journalLocationFor(options.statePath, options.file);
  if (!runtime::StateStore::isPostgresUrl(location) && !fs::exists(location)) {
    printError(fmt::format("no journal at {}: nothing has run here yet", location));
    return kUsage;
  }
  auto journal = openJournal(location, options.durable, exitCode);
  if (!journal) return exitCode;
  std::vector<std::string> plans = journal->plans();
  if (readFailed(*journal)) return kJournalFailed;
  auto list = nlohmann::ordered_json::array();
  struct Line {
    std::string plan, run, state, started, window, retention;
  };
  std::vector<Line> lines;
  for (const std::string& plan : plans) {
    auto last = journal->lastRun(plan);
    if (readFailed(*journal) || !last) return kJournalFailed;
    std::vector<runtime::StepRecord> steps = journal->steps(last->id);
    if (readFailed(*journal)) return kJournalFailed;
    bool finished = last->state == runtime::RunState::Succeeded ||
                    last->state == runtime::RunState::RolledBack ||
                    last->state == runtime::RunState::Abandoned;
    std::string window = finished ? "" : nextWindowOf(*last, steps);
    if (options.json) {
      nlohmann::ordered_json entry;
      entry["plan"] = plan;
      entry["run"] = last->number;
      entry["state"] = runtime::nameOf(last->state);
      entry["startedAt"] = last->startedAt;
      entry["host"] = last->host;
      entry["pid"] = last->pid;
      entry["nextWindow"] =
          window.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(window);
      entry["rollbackPromisedUntil"] =
          last->retainUntil ? nlohmann::ordered_json(*last->retainUntil) : nullptr;
      list.push_back(std::move(entry));
      continue;
    }
    lines.push_back({plan, std::to_string(last->number), std::string(runtime::nameOf(last->state)),
                     fmt::format("{} on {}", formatTime(last->startedAt), last->host),
                     window.empty() ? "-" : window,
                     last->retainUntil    ? formatTime(*last->retainUntil)
                     : last->switchoverAt ? "none declared"
                                          : "-"});
  }
  if (options.json) {
    std::cout << list.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
    return kSuccess;
  }
  if (lines.empty()) {
    std::cout << fmt::format("the journal {} records no run\n", journalName(location));
    return kSuccess;
  }
  size_t width = 4;
  for (const Line& line : lines) width = std::max(width, line.plan.size());
  std::cout << fmt::format("{:<{}}  {:>3}  {:<19}  {:<30}  {:<34}  {}\n", "PLAN", width, "RUN",
                           "STATE", "STARTED", "NEXT WINDOW", "ROLLBACK PROMISED UNTIL");
  for (const Line& line : lines) {
    std::cout << fmt::format("{:<{}}  {:>3}  {:<19}  {:<30}  {:<34}  {}\n", line.plan, width,
                             line.run, line.state, line.started, line.window, line.retention);
  }
  return kSuccess;
}

}  // namespace

int statusCommand(const RunOptions& options) {
  if (options.all) return statusOfEveryPlan(options);
  int exitCode = kSuccess;
  auto target = findTarget(options, exitCode, false);
  if (!target) return exitCode;
  auto last = target->journal->lastRun(target->planName);
  if (readFailed(*target->journal)) return kJournalFailed;
  if (!last) {
    std::cout << fmt::format("plan {} has not run yet\n", target->planName);
    return kSuccess;
  }
  std::vector<runtime::StepRecord> steps = target->journal->steps(last->id);
  if (readFailed(*target->journal)) return kJournalFailed;
  if (options.json) {
    nlohmann::ordered_json out;
    out["plan"] = last->plan;
    out["run"] = last->number;
    out["state"] = runtime::nameOf(last->state);
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
      s["state"] = runtime::nameOf(step.state);
      s["attempts"] = step.attempts;
      s["startedAt"] = step.startedAt ? nlohmann::ordered_json(step.startedAt) : nullptr;
      s["finishedAt"] = step.finishedAt ? nlohmann::ordered_json(step.finishedAt) : nullptr;
      s["exitCode"] = step.exitCode ? nlohmann::ordered_json(*step.exitCode) : nullptr;
      s["message"] = step.message;
      list.push_back(std::move(s));
    }
    out["steps"] = std::move(list);
    std::cout << out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
    return kSuccess;
  }
  std::cout << fmt::format("plan {}, run {}: {}\n", last->plan, last->number,
                           runtime::nameOf(last->state));
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
                             runtime::nameOf(step.state), step.attempts, started, duration, tail);
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
  if (readFailed(*target->journal)) return kJournalFailed;
  if (!last) {
    printError(fmt::format("plan {} has not run yet", target->planName));
    return kUsage;
  }
  std::vector<runtime::AttemptRecord> attempts = target->journal->attempts(last->id, options.step);
  if (readFailed(*target->journal)) return kJournalFailed;
  if (attempts.empty()) {
    bool known = false;
    for (const runtime::StepRecord& step : target->journal->steps(last->id)) {
      known = known || step.step == options.step;
    }
    if (readFailed(*target->journal)) return kJournalFailed;
    if (!known) {
      printError(fmt::format("run {} of plan {} has no step '{}'", last->number, last->plan,
                             options.step));
      return kUsage;
    }
    std::cout << fmt::format("step {} has not started in run {}\n", options.step, last->number);
    return kSuccess;
  }
  for (const runtime::AttemptRecord& attempt : attempts) {
    std::string outcome = attempt.finishedAt == 0 ? "still running, or interrupted"
                          : attempt.exitCode      ? fmt::format("exit code {}", *attempt.exitCode)
                                                  : std::string(runtime::nameOf(attempt.outcome));
    std::cout << fmt::format("== {} {} attempt {}, started {}: {} ==\n", options.step,
                             runtime::nameOf(attempt.kind), attempt.attempt,
                             formatTime(attempt.startedAt), outcome);
    std::ifstream in(attempt.logPath, std::ios::binary);
    if (in) {
      std::cout << in.rdbuf();
    } else if (std::optional<std::string> stored = target->journal->storedLog(
                   last->id, options.step, attempt.kind, attempt.attempt);
               stored && !stored->empty()) {
      // Run on another machine: the journal's copy.
      std::cout << *stored;
    } else {
      // Logs are created at a process's first output.
      std::cout << "(no output)\n";
    }
    if (!attempt.logNote.empty()) {
      std::cout << fmt::format("(mig: this log is incomplete: {})\n", attempt.logNote);
    }
    std::cout.flush();
  }
  return kSuccess;
}

std::string journalLocationFor(const std::string& stateOption, const std::string& planFile) {
  if (!stateOption.empty()) return stateOption;
  if (const char* state = std::getenv("MIG_STATE"); state && *state) return state;
  return defaultStatePath(planFile);
}

std::string journalName(const std::string& location) {
  if (!runtime::StateStore::isPostgresUrl(location)) return location;
  return drivers::text::redact(location, drivers::pg::passwordIn(location));
}

}  // namespace mig::cli
