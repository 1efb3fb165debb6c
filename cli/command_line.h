#pragma once

#include <CLI/CLI.hpp>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "cli/commands.h"

/// mig's command line, defined once: main() parses it, and the man pages
/// and shell completions are generated from the same definition, so the
/// three never disagree.
namespace mig::cli {

/// What `mig help COMMAND` and the man page say about a command beyond its
/// one-line summary.
struct CommandDoc {
  std::string_view name;
  std::string_view description;
};
std::span<const CommandDoc> commandDocs();

/// The exit codes, as one paragraph (man pages).
std::string_view exitCodesText();

/// `--version` and `mig version`: "mig 0.1.0 (commit 1a2b3c4)".
std::string versionLine();

class CommandLine {
 public:
  CommandLine();

  /// Parses argv and runs the command; returns its exit code. Usage
  /// errors (an unknown command or option, a missing file) are printed
  /// with what was probably meant, and return kUsage.
  int run(int argc, char** argv);

  const CLI::App& app() const { return app_; }

 private:
  CLI::App* addCommand(const std::string& name, const std::string& summary);
  int dispatch();
  int usageError(const CLI::ParseError& error, int argc, char** argv);
  int help(const std::vector<std::string>& topic);

  CLI::App app_;
  std::string color_ = "auto";

  LintOptions lint_;
  FmtOptions fmt_;
  ExplainOptions explain_;
  CompileOptions compile_;
  GraphOptions graph_;
  PlanOptions plan_;
  RunOptions run_, resume_, rollback_, status_;
  LogOptions log_;
  StateOptions state_;
  std::vector<std::string> helpTopic_;
  std::string completionShell_;
  std::string completionOutput_;
  std::string manFolder_;
};

/// Everything the CLI knows about its commands, for the generators below.
void printBashCompletion(std::ostream& out, const CLI::App& app);
void printZshCompletion(std::ostream& out, const CLI::App& app);
/// Writes mig.1 and mig-COMMAND.1 for every visible command into `folder`.
bool writeManPages(const std::string& folder, const CLI::App& app, std::string& error);

}  // namespace mig::cli
