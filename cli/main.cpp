// mig: a thin command line over the compiler and the runtime. Parsing the
// command line is all that happens here; each subcommand lives in its own
// file.
#include <malloc.h>

#include <CLI/CLI.hpp>
#include <iostream>

#include "cli/commands.h"
#include "compiler/diag/rules_markdown.h"

namespace {

/// An option that may be given several times, one value each time
/// (`--rerun a --rerun b`, or `--rerun a,b`). CLI11 otherwise lets a vector
/// option take every word after it, so `--mark-done b plan.mig` would read
/// the plan file as a second step. Every repeatable option goes through here.
CLI::Option* addRepeatedOption(CLI::App* cmd, const std::string& name,
                               std::vector<std::string>& values, const std::string& help) {
  return cmd->add_option(name, values, help)->allow_extra_args(false)->delimiter(',');
}

}  // namespace

int main(int argc, char** argv) {
  using namespace mig::cli;
  // The compiler allocates and frees millions of small objects (tokens,
  // parse trees, JSON) in large batches; without fast bins glibc does not
  // stop to consolidate them, which makes large plans compile ~15% faster.
  mallopt(M_MXFAST, 0);
  CLI::App app{"mig: declarative database migration plans: lint, compile, run, roll back"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("mig ") + MIG_VERSION);

  LintOptions lint;
  auto* lintCmd = app.add_subcommand("lint", "Parse and check plans; report problems");
  lintCmd->add_option("files", lint.files, "Plan or module files ('-' reads stdin)")->required();
  lintCmd->add_option("--format", lint.format, "Output format")
      ->check(CLI::IsMember({"text", "json", "sarif", "github"}));
  lintCmd->add_flag("--werror", lint.werror, "Treat warnings as errors");
  lintCmd
      ->add_option("--max-errors", lint.maxErrors,
                   "Diagnostics shown per file, then a count of the rest (0: all; default 20 "
                   "for text, all for json, sarif and github)")
      ->check(CLI::NonNegativeNumber);
  lintCmd->add_option("--sarif-root", lint.sarifRoot,
                      "Directory SARIF file URIs are relative to, as %SRCROOT% (default: the git "
                      "top-level of the working directory, else the working directory)");

  FmtOptions fmtOptions;
  auto* fmtCmd = app.add_subcommand("fmt", "Rewrite files in the canonical layout");
  fmtCmd->add_option("files", fmtOptions.files, "Files to format ('-': stdin to stdout)")->required();
  fmtCmd->add_flag("--check", fmtOptions.check,
                   "Change nothing; exit 1 and print a diff when a file is not formatted");

  ExplainOptions explain;
  auto* explainCmd = app.add_subcommand("explain", "Explain a lint rule");
  explainCmd->add_option("rule", explain.rule, "Rule name, like acl-too-open");
  explainCmd->add_flag("--list", explain.list, "List every rule");
  explainCmd->add_flag_callback(
      "--markdown",
      [] {
        std::cout << mig::diag::rulesMarkdown();
        throw CLI::Success();
      },
      "Print every rule's explanation as Markdown (docs/rules.md)");

  CompileOptions compile;
  auto* compileCmd = app.add_subcommand("compile", "Compile a plan into its step graph (JSON)");
  compileCmd->add_option("file", compile.file, "Plan file")->required();
  compileCmd->add_option("-o,--output", compile.output, "Where to write the compiled plan (default: stdout)");

  GraphOptions graphOptions;
  auto* graphCmd = app.add_subcommand("graph", "Draw a plan's step graph");
  graphCmd->add_option("file", graphOptions.file, "Plan file (.mig or compiled .json)")->required();
  graphCmd->add_option("--format", graphOptions.format, "dot, mermaid or json")
      ->check(CLI::IsMember({"dot", "mermaid", "json"}));
  graphCmd->add_option("-o,--output", graphOptions.output, "Output file (default: stdout)");

  PlanOptions plan;
  auto* planCmd = app.add_subcommand("plan", "Show what `run` would do, in order");
  planCmd->add_option("file", plan.file, "Plan file (.mig or compiled .json)")->required();
  planCmd->add_option("--now", plan.now,
                      "Compute window openings as of this instant (2026-12-01T10:00Z) instead of now");

  RunOptions run;
  auto* runCmd = app.add_subcommand("run", "Execute a plan");
  auto addRunOptions = [](CLI::App* cmd, RunOptions& options, bool fileRequired) {
    auto* file = cmd->add_option("file", options.file, "Plan file (.mig or compiled .json)");
    if (fileRequired) file->required();
    cmd->add_option("--state", options.statePath,
                    "The journal (default: .mig/state.db beside the plan)");
    cmd->add_flag("--json", options.json, "Print events as NDJSON");
  };
  addRunOptions(runCmd, run, true);
  runCmd->add_option("-j,--jobs", run.jobs, "Steps run at once (default: the number of cores)")
      ->check(CLI::Range(1, 1024));
  runCmd->add_flag("--dry-run", run.dryRun, "Show what would run; run nothing");
  runCmd->add_flag("--no-wait", run.noWait, "Do not wait for a closed window: pause (exit 5)");
  runCmd->add_flag("--no-rollback", run.noRollback, "On failure, undo nothing");
  runCmd->add_flag("--durable", run.durable, "fsync the journal at every commit");
  runCmd->add_flag("--restart", run.restart, "Abandon an unfinished run of the plan and start over");
  auto addLogLimit = [](CLI::App* cmd, RunOptions& options) {
    cmd->add_option("--log-limit", options.logLimit,
                    "Output a step's log keeps: its first and last halves (default 64MiB; 0: all)");
  };
  addLogLimit(runCmd, run);

  RunOptions resume;
  auto* resumeCmd = app.add_subcommand("resume", "Continue an interrupted or paused run");
  addRunOptions(resumeCmd, resume, false);
  resumeCmd->add_option("-j,--jobs", resume.jobs, "Steps run at once")->check(CLI::Range(1, 1024));
  resumeCmd->add_flag("--no-wait", resume.noWait, "Do not wait for a closed window: pause (exit 5)");
  resumeCmd->add_flag("--no-rollback", resume.noRollback, "On failure, undo nothing");
  resumeCmd->add_flag("--durable", resume.durable, "fsync the journal at every commit");
  addLogLimit(resumeCmd, resume);
  addRepeatedOption(resumeCmd, "--rerun", resume.rerun,
                    "Run this interrupted step again (repeat the option for several)");
  addRepeatedOption(resumeCmd, "--mark-done", resume.markDone,
                    "Count this interrupted step as done (repeat the option for several)");

  RunOptions rollback;
  auto* rollbackCmd = app.add_subcommand("rollback", "Undo the last run's steps");
  addRunOptions(rollbackCmd, rollback, false);
  addLogLimit(rollbackCmd, rollback);
  rollbackCmd->add_flag("--force", rollback.force,
                        "Roll back after switchover, or after the retention period");
  addRepeatedOption(rollbackCmd, "--rerun", rollback.rerun,
                    "Run this step's undo, cut short, again");
  addRepeatedOption(rollbackCmd, "--mark-done", rollback.markDone,
                    "Count this step's undo, cut short, as finished");

  RunOptions status;
  auto* statusCmd = app.add_subcommand("status", "Show the last run of a plan");
  addRunOptions(statusCmd, status, false);

  LogOptions log;
  auto* logCmd = app.add_subcommand("log", "Show a step's output in the last run");
  logCmd->add_option("step", log.step, "Step name")->required();
  logCmd->add_option("file", log.file, "Plan file");
  logCmd->add_option("--state", log.statePath, "The journal (default: .mig/state.db)");

  auto* driverCmd = app.add_subcommand("driver", "Built-in drivers called by the stdlib's commands");
  driverCmd->prefix_command();
  driverCmd->group("");

  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kUsage;
  }

  if (lintCmd->parsed()) return lintCommand(lint);
  if (fmtCmd->parsed()) return fmtCommand(fmtOptions);
  if (explainCmd->parsed()) return explainCommand(explain);
  if (compileCmd->parsed()) return compileCommand(compile);
  if (graphCmd->parsed()) return graphCommand(graphOptions);
  if (planCmd->parsed()) return planCommand(plan);
  if (runCmd->parsed()) return runCommand(run);
  if (resumeCmd->parsed()) return resumeCommand(resume);
  if (rollbackCmd->parsed()) return rollbackCommand(rollback);
  if (statusCmd->parsed()) return statusCommand(status);
  if (logCmd->parsed()) return logCommand(log);
  if (driverCmd->parsed()) {
    return driverCommand(driverCmd->remaining());
  }
  return kUsage;
}
