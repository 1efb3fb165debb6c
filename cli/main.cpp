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
  return kUsage;
}
