#include "cli/command_line.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <fstream>
#include <iostream>

#include "cli/color.h"
#include "compiler/sema/resolve.h"
#include "mig_version.h"

namespace mig::cli {
namespace {

constexpr std::array kCommandDocs = {
    CommandDoc{"lint",
               "Parses and checks plan and module files and reports every problem with its "
               "position, its rule and, where one is known, a fix. Text output is for people; "
               "json, sarif (code scanning) and github (workflow annotations) are for tools. "
               "Exits 1 when a file has errors, or warnings with --werror. `mig explain RULE` "
               "says what a rule catches and why."},
    CommandDoc{"fmt",
               "Rewrites files in the canonical layout (indentation, aligned attribute values, "
               "one blank line between blocks), keeping every comment. With --check it changes "
               "nothing and exits 1 with a diff when a file is not formatted. A file with syntax "
               "errors is left alone."},
    CommandDoc{"explain",
               "Explains a lint rule (what it catches, why it matters, how to fix it, a bad and "
               "a good example), an endpoint kind (`mig explain kind mysql`: its fields with "
               "types and defaults, and its actions) or an action (`mig explain action "
               "postgres.copy`). Without a topic, or with --list, lists every rule."},
    CommandDoc{"compile",
               "Checks a plan and writes its step graph as JSON: every step with its expanded "
               "commands, dependencies, windows, timeouts and undo. `mig run` accepts the "
               "compiled file in place of the .mig."},
    CommandDoc{"graph",
               "Draws a plan's step graph for Graphviz (dot), Mermaid, or as the compiled "
               "JSON."},
    CommandDoc{"plan",
               "Shows what `mig run` would do, in order: each phase's steps with their commands "
               "(secrets masked), the next opening of each window, the retention period, and "
               "the plan's lint warnings. Runs nothing."},
    CommandDoc{"run",
               "Runs a plan: preflight (tools, secrets, endpoints), then its steps, in parallel "
               "where the graph allows, each gated by its window and journaled before it starts "
               "and after it ends. When a step fails, the steps already done are undone in "
               "reverse order, unless --no-rollback or the plan is past switchover."},
    CommandDoc{"resume",
               "Continues a run that was interrupted (a crash, a kill, a lost machine) or paused "
               "by a closed window. A step that was running when the runner died is neither "
               "repeated nor skipped silently: name it with --rerun or --mark-done."},
    CommandDoc{"rollback",
               "Undoes the steps of the plan's last run, newest first, from the journal: back "
               "to the old environment. After switchover, or once the retention period is over, "
               "it needs --force."},
    CommandDoc{"status",
               "Shows the plan's last run: each step's state, when it ran, how long it took, "
               "and what `resume` or `rollback` would do next. With --all, one line for every "
               "plan in the journal: the team's view of the migrations in flight."},
    CommandDoc{"log", "Prints the output a step wrote in the plan's last run."},
    CommandDoc{"state",
               "Moves a journal's history: `mig state export > runs.json` writes every run of "
               "every plan (or of --plan NAME) with its steps and processes as JSON; `mig state "
               "import runs.json --state postgresql://...` replays them into another journal, "
               "which must hold no run of those plans. Logs stay where they were written; a "
               "PostgreSQL journal copies those it can read."},
    CommandDoc{"lsp",
               "Runs a language server (LSP 3.17) on standard input and output for editors: "
               "diagnostics as you type (the same as lint), hover, completion, go to definition, "
               "document symbols and formatting. docs/editors.md sets up VS Code and Neovim."},
    CommandDoc{"help", "Shows the commands, or a command's options and description."},
    CommandDoc{"version", "Prints mig's version and the commit it was built from."},
    CommandDoc{"completion",
               "Prints a shell completion script. bash: `source <(mig completion bash)`; zsh: "
               "`mig completion zsh > \"${fpath[1]}/_mig\"`. The Debian package installs both."},
};

constexpr std::string_view kExitCodes =
    "0 success; 1 the plan has errors, or `fmt --check` found unformatted files; 2 usage "
    "(unknown command or option, missing file); 3 a step failed and everything was rolled "
    "back; 4 a step failed and rollback is incomplete; 5 paused (a window is closed, or a "
    "failure after switchover); 6 the plan is locked by another runner; 7 resume needs the "
    "operator's decision; 8 preflight failed, nothing ran; 9 the journal cannot be read or "
    "written.";

/// An option that may be given several times, one value each time
/// (`--rerun a --rerun b`, or `--rerun a,b`). CLI11 otherwise lets a vector
/// option take every word after it, so `--mark-done b plan.mig` would read
/// the plan file as a second step. Every repeatable option goes through here.
CLI::Option* addRepeatedOption(CLI::App* cmd, const std::string& name,
                               std::vector<std::string>& values, const std::string& help) {
  return cmd->add_option(name, values, help)->allow_extra_args(false)->delimiter(',');
}

void addRunOptions(CLI::App* cmd, RunOptions& options, bool fileRequired) {
  auto* file =
      cmd->add_option("file", options.file, "Plan file (.mig or compiled .json; '-' reads stdin)");
  if (fileRequired) file->required();
  cmd->add_option("--state", options.statePath,
                  "The journal: a file, or postgresql://... shared by a team (default: $MIG_STATE, "
                  "else .mig/state.db beside the plan)");
  cmd->add_flag("--json", options.json, "Print events as NDJSON");
}

void addLogOptions(CLI::App* cmd, RunOptions& options) {
  cmd->add_option("--log-limit", options.logLimit,
                  "Output a step's log keeps: its first and last halves (default 64MiB; 0: all)");
  cmd->add_option("--log-level", options.logLevel,
                  "What mig's own log (.mig/logs/PLAN/run-N/mig.log) keeps: trace, debug, info, "
                  "warn, error or off (default: $MIG_LOG, else info)");
}

std::vector<const CLI::App*> visibleCommands(const CLI::App& app) {
  std::vector<const CLI::App*> commands;
  for (const CLI::App* command :
       app.get_subcommands([](const CLI::App* c) { return !c->get_group().empty(); })) {
    commands.push_back(command);
  }
  return commands;
}

std::vector<std::string> optionNames(const CLI::App& command) {
  std::vector<std::string> names;
  for (const CLI::Option* option : command.get_options()) {
    for (const std::string& name : option->get_lnames()) names.push_back("--" + name);
    for (const std::string& name : option->get_snames()) names.push_back("-" + name);
  }
  return names;
}

}  // namespace

std::span<const CommandDoc> commandDocs() {
  return kCommandDocs;
}

std::string_view exitCodesText() {
  return kExitCodes;
}

std::string versionLine() {
  std::string commit = MIG_COMMIT;
  if (commit.empty()) return fmt::format("mig {}", MIG_VERSION);
  return fmt::format("mig {} (commit {})", MIG_VERSION, commit);
}

CommandLine::CommandLine()
    : app_("mig: declarative database migration plans: lint, compile, run, roll back", "mig") {
  app_.set_version_flag("--version", versionLine(), "Print the version and exit");
  app_.add_option("--color", color_,
                  "Colour the output: auto (a terminal, no NO_COLOR, "
                  "TERM not dumb), always or never")
      ->check(CLI::IsMember({"auto", "always", "never"}));
  app_.fallthrough();
  app_.footer("`mig help COMMAND` describes a command; `man mig-COMMAND` too.");

  auto* lint = addCommand("lint", "Parse and check plans; report problems");
  lint->add_option("files", lint_.files, "Plan or module files ('-' reads stdin)")->required();
  lint->add_option("--format", lint_.format, "Output format")
      ->check(CLI::IsMember({"text", "json", "sarif", "github"}));
  lint->add_flag("--werror", lint_.werror, "Treat warnings as errors");
  lint->add_option("--max-errors", lint_.maxErrors,
                   "Diagnostics shown per file, then a count of the rest (0: all; default 20 "
                   "for text, all for json, sarif and github)")
      ->check(CLI::NonNegativeNumber);
  lint->add_option("--sarif-root", lint_.sarifRoot,
                   "Directory SARIF file URIs are relative to, as %SRCROOT% (default: the git "
                   "top-level of the working directory, else the working directory)");

  auto* fmt = addCommand("fmt", "Rewrite files in the canonical layout");
  fmt->add_option("files", fmt_.files, "Files to format ('-': stdin to stdout)")->required();
  fmt->add_flag("--check", fmt_.check,
                "Change nothing; exit 1 and print a diff when a file is not formatted");

  auto* explain = addCommand("explain", "Explain a lint rule, an endpoint kind or an action");
  explain
      ->add_option("topic", explain_.topic,
                   "A rule (acl-too-open), `kinds`, `kind NAME` or `action MODULE.ACTION`")
      ->expected(0, 2);
  explain->add_flag("--list", explain_.list, "List every rule");
  explain->add_flag("--markdown", explain_.markdown,
                    "Every rule's explanation in Markdown (docs/rules.md); with `kinds`, every "
                    "kind and action (docs/kinds.md)");

  auto* compile = addCommand("compile", "Compile a plan into its step graph (JSON)");
  compile->add_option("file", compile_.file, "Plan file ('-' reads stdin)")->required();
  compile->add_option("-o,--output", compile_.output,
                      "Where to write the compiled plan (default: stdout)");

  auto* graph = addCommand("graph", "Draw a plan's step graph");
  graph->add_option("file", graph_.file, "Plan file (.mig or compiled .json; '-' reads stdin)")
      ->required();
  graph->add_option("--format", graph_.format, "dot, mermaid or json")
      ->check(CLI::IsMember({"dot", "mermaid", "json"}));
  graph->add_option("-o,--output", graph_.output, "Output file (default: stdout)");

  auto* plan = addCommand("plan", "Show what `run` would do, in order");
  plan->add_option("file", plan_.file, "Plan file (.mig or compiled .json; '-' reads stdin)")
      ->required();
  plan->add_option("--now", plan_.now,
                   "Compute window openings as of this instant (2026-12-01T10:00Z) instead of now");

  auto* run = addCommand("run", "Execute a plan");
  addRunOptions(run, run_, true);
  run->add_option("-j,--jobs", run_.jobs, "Steps run at once (default: the number of cores)")
      ->check(CLI::Range(1, 1024));
  run->add_flag("--dry-run", run_.dryRun, "Show what would run; run nothing");
  run->add_flag("--no-wait", run_.noWait, "Do not wait for a closed window: pause (exit 5)");
  run->add_flag("--no-rollback", run_.noRollback, "On failure, undo nothing");
  run->add_flag("--durable", run_.durable, "fsync the journal at every commit");
  run->add_flag("--restart", run_.restart, "Abandon an unfinished run of the plan and start over");
  addLogOptions(run, run_);

  auto* resume = addCommand("resume", "Continue an interrupted or paused run");
  addRunOptions(resume, resume_, false);
  resume->add_option("-j,--jobs", resume_.jobs, "Steps run at once")->check(CLI::Range(1, 1024));
  resume->add_flag("--no-wait", resume_.noWait, "Do not wait for a closed window: pause (exit 5)");
  resume->add_flag("--no-rollback", resume_.noRollback, "On failure, undo nothing");
  resume->add_flag("--durable", resume_.durable, "fsync the journal at every commit");
  addLogOptions(resume, resume_);
  addRepeatedOption(resume, "--rerun", resume_.rerun,
                    "Run this interrupted step again (repeat the option for several)");
  addRepeatedOption(resume, "--mark-done", resume_.markDone,
                    "Count this interrupted step as done (repeat the option for several)");

  auto* rollback = addCommand("rollback", "Undo the last run's steps");
  addRunOptions(rollback, rollback_, false);
  addLogOptions(rollback, rollback_);
  rollback->add_flag("--force", rollback_.force,
                     "Roll back after switchover, or after the retention period");
  addRepeatedOption(rollback, "--rerun", rollback_.rerun, "Run this step's undo, cut short, again");
  addRepeatedOption(rollback, "--mark-done", rollback_.markDone,
                    "Count this step's undo, cut short, as finished");

  auto* status = addCommand("status", "Show the last run of a plan");
  addRunOptions(status, status_, false);
  status->add_flag("--all", status_.all,
                   "Every plan in the journal: its last run's state, next window and retention");

  auto* log = addCommand("log", "Show a step's output in the last run");
  log->add_option("step", log_.step, "Step name")->required();
  log->add_option("file", log_.file, "Plan file");
  log->add_option("--state", log_.statePath,
                  "The journal: a file or postgresql://... (default: $MIG_STATE, else "
                  ".mig/state.db)");

  auto* state = addCommand("state", "Export or import a journal's history");
  state->add_option("action", state_.action, "export or import")
      ->required()
      ->check(CLI::IsMember({"export", "import"}));
  state->add_option("file", state_.file, "import: the exported file ('-': stdin)");
  addRepeatedOption(state, "--plan", state_.plans, "export: only this plan");
  state->add_option("-o,--output", state_.output, "export: write here (default: stdout)");
  state->add_option("--state", state_.statePath,
                    "The journal: a file or postgresql://... (default: $MIG_STATE, else "
                    ".mig/state.db)");

  // Parsed by run() before CLI11 sees it; defined here for the help text,
  // the man page and the completions.
  auto* help = addCommand("help", "Show the commands, or one command's help");
  help->add_option("command", helpTopic_, "The command to describe")->expected(0, 1);

  addCommand("version", "Print mig's version and commit");

  addCommand("lsp", "Language server for editors (LSP over stdin/stdout)");

  auto* completion = addCommand("completion", "Print a shell completion script");
  completion->add_option("shell", completionShell_, "bash or zsh")
      ->required()
      ->check(CLI::IsMember({"bash", "zsh"}));
  completion->add_option("-o,--output", completionOutput_,
                         "Write the script here (default: stdout)");

  // Hidden: the built-in drivers the stdlib's commands call, and the man
  // page generator the build runs.
  auto* driver = app_.add_subcommand("driver", "Built-in drivers called by the stdlib's commands");
  driver->prefix_command();
  driver->fallthrough(false);  // every word after the driver's name is the driver's
  driver->group("");
  auto* man = app_.add_subcommand("man", "Write the man pages into a folder");
  man->add_option("folder", manFolder_, "Where to write mig.1 and mig-COMMAND.1")->required();
  man->group("");
}

CLI::App* CommandLine::addCommand(const std::string& name, const std::string& summary) {
  CLI::App* command = app_.add_subcommand(name, summary);
  for (const CommandDoc& doc : kCommandDocs) {
    if (doc.name == name) command->footer(std::string(doc.description));
  }
  return command;
}

int CommandLine::run(int argc, char** argv) {
  // What CLI11 reports alone ("A subcommand is required") does not say what
  // went wrong when the command itself is misspelt: check the words before
  // the command first.
  std::vector<std::string> globalOptions = optionNames(app_);
  for (int i = 1; i < argc; ++i) {
    std::string word = argv[i];
    if (word.starts_with("--color")) {
      if (word == "--color") ++i;
      continue;
    }
    if (word == "-h" || word == "--help" || word == "--version") break;
    if (word.starts_with("-")) {
      std::string message = fmt::format("unknown option '{}'", word);
      if (auto near = sema::closestName(word, globalOptions)) {
        message += fmt::format("; did you mean '{}'?", *near);
      } else {
        message += "; options of a command go after it: `mig COMMAND --help` lists them";
      }
      printError(message);
      return kUsage;
    }
    const CLI::App* command = nullptr;
    try {
      command = app_.get_subcommand(word);
    } catch (const CLI::OptionNotFound&) {
    }
    if (command == nullptr) {
      std::vector<std::string> names;
      for (const CLI::App* visible : visibleCommands(app_)) names.push_back(visible->get_name());
      std::string message = fmt::format("unknown command '{}'", word);
      if (auto near = sema::closestName(word, names)) {
        message += fmt::format("; did you mean '{}'?", *near);
      }
      printError(message + " (`mig help` lists the commands)");
      return kUsage;
    }
    // `mig help lint`: CLI11 would read "lint" as the lint command.
    if (word == "help") {
      std::vector<std::string> topic;
      for (int j = i + 1; j < argc; ++j) topic.emplace_back(argv[j]);
      return help(topic);
    }
    break;
  }
  if (argc < 2) {
    std::cerr << app_.get_formatter()->make_help(&app_, "mig", CLI::AppFormatMode::Normal);
    return kUsage;
  }

  try {
    app_.parse(argc, argv);
  } catch (const CLI::Success& success) {
    return app_.exit(success);
  } catch (const CLI::ParseError& error) {
    return usageError(error, argc, argv);
  }
  ColorChoice choice = ColorChoice::Auto;
  parseColorChoice(color_, choice);
  setColorChoice(choice);
  return dispatch();
}

int CommandLine::usageError(const CLI::ParseError& error, int argc, char** argv) {
  const CLI::App* command = nullptr;
  for (const CLI::App* candidate : app_.get_subcommands({})) {
    if (candidate->parsed()) command = candidate;
  }
  std::string prefix = command ? command->get_name() + ": " : "";
  std::string more = command ? fmt::format("`mig help {}` lists its options", command->get_name())
                             : std::string("`mig help` lists the commands");
  // An unknown option: say which, and what was probably meant.
  if (command && dynamic_cast<const CLI::ExtrasError*>(&error) != nullptr) {
    std::vector<std::string> known = optionNames(*command);
    for (const std::string& global : optionNames(app_)) known.push_back(global);
    for (int i = 1; i < argc; ++i) {
      std::string word = argv[i];
      if (word == "--") break;
      if (!word.starts_with("-") || word == "-") continue;
      std::string name = word.substr(0, word.find('='));
      if (std::find(known.begin(), known.end(), name) != known.end()) continue;
      std::string message = fmt::format("{}unknown option '{}'", prefix, name);
      if (auto near = sema::closestName(name, known)) {
        message += fmt::format("; did you mean '{}'?", *near);
      }
      printError(fmt::format("{} ({})", message, more));
      return kUsage;
    }
  }
  printError(fmt::format("{}{} ({})", prefix, error.what(), more));
  return kUsage;
}

int CommandLine::help(const std::vector<std::string>& topic) {
  if (topic.size() > 1) {
    printError("`mig help COMMAND` describes one command");
    return kUsage;
  }
  if (topic.empty() || topic[0] == "-h" || topic[0] == "--help") {
    std::cout << app_.get_formatter()->make_help(&app_, "mig", CLI::AppFormatMode::Normal);
    return kSuccess;
  }
  const CLI::App* command = nullptr;
  try {
    command = app_.get_subcommand(topic[0]);
  } catch (const CLI::OptionNotFound&) {
  }
  if (command == nullptr || command->get_group().empty()) {
    std::vector<std::string> names;
    for (const CLI::App* visible : visibleCommands(app_)) names.push_back(visible->get_name());
    std::string message = fmt::format("no command '{}'", topic[0]);
    if (auto near = sema::closestName(topic[0], names)) {
      message += fmt::format("; did you mean '{}'?", *near);
    }
    printError(message + " (`mig help` lists the commands)");
    return kUsage;
  }
  std::cout << command->help("mig");
  return kSuccess;
}

int CommandLine::dispatch() {
  auto parsed = [&](const char* name) { return app_.get_subcommand(name)->parsed(); };
  if (parsed("lint")) return lintCommand(lint_);
  if (parsed("fmt")) return fmtCommand(fmt_);
  if (parsed("explain")) return explainCommand(explain_);
  if (parsed("compile")) return compileCommand(compile_);
  if (parsed("graph")) return graphCommand(graph_);
  if (parsed("plan")) return planCommand(plan_);
  if (parsed("run")) return runCommand(run_);
  if (parsed("resume")) return resumeCommand(resume_);
  if (parsed("rollback")) return rollbackCommand(rollback_);
  if (parsed("status")) return statusCommand(status_);
  if (parsed("log")) return logCommand(log_);
  if (parsed("state")) return stateCommand(state_);
  if (parsed("lsp")) return lspCommand();
  if (parsed("version")) {
    std::cout << versionLine() << '\n';
    return kSuccess;
  }
  if (parsed("completion")) {
    std::ofstream file;
    if (!completionOutput_.empty()) file.open(completionOutput_);
    std::ostream& out = completionOutput_.empty() ? std::cout : file;
    if (completionShell_ == "bash") printBashCompletion(out, app_);
    if (completionShell_ == "zsh") printZshCompletion(out, app_);
    out.flush();
    if (!out) {
      printError(fmt::format("cannot write '{}'", completionOutput_));
      return kUsage;
    }
    return kSuccess;
  }
  if (parsed("man")) {
    std::string error;
    if (!writeManPages(manFolder_, app_, error)) {
      printError(error);
      return kUsage;
    }
    return kSuccess;
  }
  if (parsed("driver")) return driverCommand(app_.get_subcommand("driver")->remaining());
  return kUsage;
}

}  // namespace mig::cli
