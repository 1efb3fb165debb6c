// mig: a thin command line over the compiler and the runtime. Parsing the
// command line is all that happens here; each subcommand lives in its own
// file.
#include <CLI/CLI.hpp>
#include <iostream>

#include "cli/commands.h"

int main(int argc, char** argv) {
  using namespace mig::cli;
  CLI::App app{"mig: declarative database migration plans: lint, compile, run, roll back"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("mig ") + MIG_VERSION);

  LintOptions lint;
  auto* lintCmd = app.add_subcommand("lint", "Parse and check plans; report problems");
  lintCmd->add_option("files", lint.files, "Plan or module files ('-' reads stdin)")->required();
  lintCmd->add_option("--format", lint.format, "Output format")
      ->check(CLI::IsMember({"text", "json", "sarif", "github"}));
  lintCmd->add_flag("--werror", lint.werror, "Treat warnings as errors");

  FmtOptions fmtOptions;
  auto* fmtCmd = app.add_subcommand("fmt", "Rewrite files in the canonical layout");
  fmtCmd->add_option("files", fmtOptions.files, "Files to format ('-': stdin to stdout)")->required();
  fmtCmd->add_flag("--check", fmtOptions.check,
                   "Change nothing; exit 1 and print a diff when a file is not formatted");

  ExplainOptions explain;
  auto* explainCmd = app.add_subcommand("explain", "Explain a lint rule");
  explainCmd->add_option("rule", explain.rule, "Rule name, like acl-too-open");
  explainCmd->add_flag("--list", explain.list, "List every rule");

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
  return kUsage;
}
