#pragma once

#include <optional>
#include <string>
#include <vector>

/// The subcommands of `mig`. main.cpp parses the command line; each
/// command is a function of its options that returns the exit code.
namespace mig::cli {

/// Exit codes, as product.md defines them.
enum ExitCode : int {
  kSuccess = 0,
  kPlanErrors = 1,     ///< lint/compile errors, or `fmt --check` found changes
  kUsage = 2,          ///< unknown flag, missing file
  kRolledBack = 3,     ///< a step failed and everything was rolled back
  kRollbackIncomplete = 4,
  kPaused = 5,         ///< a window is closed, or a failure after switchover
  kLocked = 6,
  kNeedsDecision = 7,  ///< resume needs the operator's decision
  kPreflightFailed = 8,
  kJournalFailed = 9,  ///< the journal is damaged, or cannot be read or written
};

struct LintOptions {
  std::vector<std::string> files;
  std::string format = "text";
  bool werror = false;
  /// --max-errors: diagnostics shown per file (0: all). Unset: 20 for
  /// text, all for json, sarif and github (CI wants every result).
  std::optional<size_t> maxErrors;
  /// --sarif-root: what SARIF URIs are relative to; "" for the git
  /// top-level of the working directory, or the working directory.
  std::string sarifRoot;
};
int lintCommand(const LintOptions& options);

struct ExplainOptions {
  /// A rule name, or `kind NAME`, or `action MODULE.ACTION`.
  std::vector<std::string> topic;
  bool list = false;
  bool markdown = false;  ///< docs/rules.md; with `kinds`, docs/kinds.md
};
int explainCommand(const ExplainOptions& options);

struct FmtOptions {
  std::vector<std::string> files;
  bool check = false;
};
int fmtCommand(const FmtOptions& options);

struct CompileOptions {
  std::string file;
  std::string output;  ///< "" or "-": stdout
};
int compileCommand(const CompileOptions& options);

struct GraphOptions {
  std::string file;
  std::string format = "dot";
  std::string output;
};
int graphCommand(const GraphOptions& options);

struct PlanOptions {
  std::string file;
  std::string now;  ///< ISO 8601 instant to compute windows from; "" for the clock
};
int planCommand(const PlanOptions& options);

/// Options shared by the commands that run steps.
struct RunOptions {
  std::string file;      ///< a .mig plan or a compiled .json; "" for the one in ./.mig
  std::string statePath;  ///< --state; "" for .mig/state.db beside the plan
  int jobs = 0;           ///< 0: the number of cores
  bool dryRun = false;
  bool noWait = false;
  bool noRollback = false;
  bool durable = false;
  bool json = false;
  bool restart = false;  ///< run: abandon an unfinished run and start over
  bool all = false;      ///< status: every plan of the journal
  bool force = false;    ///< rollback: after switchover, or past retention
  std::string logLimit;  ///< --log-limit: a size (64MiB), or 0 for no limit; "" for the default
  std::string logLevel;  ///< --log-level of mig's own log; "" for $MIG_LOG, else info
  /// resume: interrupted steps to run again; rollback: undos cut short to run again
  std::vector<std::string> rerun;
  /// resume: interrupted steps that did finish; rollback: undos cut short that did finish
  std::vector<std::string> markDone;
};
int runCommand(const RunOptions& options);
int resumeCommand(const RunOptions& options);
int rollbackCommand(const RunOptions& options);
int statusCommand(const RunOptions& options);

struct LogOptions {
  std::string step;
  std::string file;
  std::string statePath;
};
int logCommand(const LogOptions& options);

/// `mig state export|import`: a journal's history as JSON, to move plans
/// between journals (docs/runtime.md, "Moving a plan's history").
struct StateOptions {
  std::string action;              ///< export or import
  std::string file;                ///< import: the exported document ('-': stdin)
  std::vector<std::string> plans;  ///< export: only these plans; empty: every plan
  std::string output;              ///< export: where to write; "" or '-': stdout
  std::string statePath;           ///< --state
};
int stateCommand(const StateOptions& options);

/// The journal commands use: `stateOption` (--state), else $MIG_STATE,
/// else .mig/state.db beside `planFile` (or in the current folder).
std::string journalLocationFor(const std::string& stateOption, const std::string& planFile);
/// How messages name a journal: its path, or its URL with any password as ***.
std::string journalName(const std::string& location);

/// `mig lsp`: a language server for editors, over stdin and stdout.
int lspCommand();

/// `mig driver NAME ARGS...`: the built-in drivers the stdlib's commands call.
int driverCommand(const std::vector<std::string>& args);

/// Prints "mig: <message>" to stderr.
void printError(const std::string& message);

}  // namespace mig::cli
