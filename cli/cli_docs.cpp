// The man pages and shell completions, generated from the CLI11
// definition in command_line.cpp: the summaries, descriptions, options and
// choices they show are the ones `mig help` prints.
#include <fmt/format.h>

#include <filesystem>
#include <fstream>

#include "cli/command_line.h"

namespace mig::cli {
namespace {

namespace fs = std::filesystem;

std::vector<const CLI::App*> documentedCommands(const CLI::App& app) {
  return app.get_subcommands([](const CLI::App* c) { return !c->get_group().empty(); });
}

/// The values an option accepts when they are a fixed set: CLI11 shows
/// them in its type name, as in "TEXT:{text,json,sarif,github}".
std::vector<std::string> choicesOf(const CLI::Option& option) {
  std::string type = option.get_type_name();
  size_t open = type.find('{');
  size_t close = type.find('}', open);
  std::vector<std::string> choices;
  if (open == std::string::npos || close == std::string::npos) return choices;
  std::string list = type.substr(open + 1, close - open - 1);
  size_t start = 0;
  while (start <= list.size()) {
    size_t comma = list.find(',', start);
    if (comma == std::string::npos) comma = list.size();
    if (comma > start) choices.push_back(list.substr(start, comma - start));
    start = comma + 1;
  }
  return choices;
}

bool takesValue(const CLI::Option& option) {
  return option.get_expected_max() != 0;
}

std::string optionWords(const CLI::App& command) {
  std::string words;
  for (const CLI::Option* option : command.get_options()) {
    for (const std::string& name : option->get_snames()) words += " -" + name;
    for (const std::string& name : option->get_lnames()) words += " --" + name;
  }
  return words.empty() ? words : words.substr(1);
}

// ------------------------------------------------------------------ bash

void bashValueCases(std::ostream& out, const CLI::App& command, const std::string& prefix) {
  for (const CLI::Option* option : command.get_options()) {
    if (option->get_positional() || !takesValue(*option)) continue;
    std::vector<std::string> choices = choicesOf(*option);
    std::string names;
    for (const std::string& name : option->get_snames()) names += "|-" + name;
    for (const std::string& name : option->get_lnames()) names += "|--" + name;
    out << fmt::format("      {}{})\n", prefix, names.substr(1));
    if (!choices.empty()) {
      out << fmt::format("        COMPREPLY=($(compgen -W \"{}\" -- \"$cur\")); return ;;\n",
                         fmt::join(choices, " "));
    } else {
      out << "        COMPREPLY=($(compgen -f -- \"$cur\")); return ;;\n";
    }
  }
}

// ------------------------------------------------------------------- zsh

std::string zshEscape(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '\'')
      out += "'\\''";
    else if (c == '[' || c == ']' || c == ':')
      out += std::string("\\") + c;
    else
      out += c;
  }
  return out;
}

std::string zshArgument(const CLI::Option& option, const std::string& commandName) {
  std::string description = zshEscape(option.get_description());
  if (option.get_positional()) {
    std::string action = "_files";
    if (commandName == "explain") action = "_mig_rules";
    if (commandName == "completion") action = "(bash zsh)";
    if (commandName == "help") action = "_mig_commands";
    if (commandName == "log" && option.get_name() == "step") action = " ";
    std::string repeat = option.get_items_expected_max() > 1 ? "*" : "";
    return fmt::format("'{}:{}:{}'", repeat, description, action);
  }
  std::vector<std::string> names;
  for (const std::string& name : option.get_snames()) names.push_back("-" + name);
  for (const std::string& name : option.get_lnames()) names.push_back("--" + name);
  std::string value;
  if (takesValue(option)) {
    std::vector<std::string> choices = choicesOf(option);
    value = choices.empty() ? ":value:_files" : fmt::format(":value:({})", fmt::join(choices, " "));
  }
  std::string spec = names.size() == 1 ? names[0] : fmt::format("{{{}}}", fmt::join(names, ","));
  std::string exclusive = names.size() == 1 ? "" : fmt::format("({})", fmt::join(names, " "));
  return fmt::format("'{}{}[{}]{}'", exclusive, spec, description, value);
}

// ------------------------------------------------------------------- man

std::string roff(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '\\')
      out += "\\e";
    else if (c == '-')
      out += "\\-";
    else
      out += c;
  }
  // A line starting with '.' or '\'' would be read as a request.
  if (!out.empty() && (out[0] == '.' || out[0] == '\'')) out = "\\&" + out;
  return out;
}

std::string synopsis(const CLI::App& command) {
  std::string line = fmt::format(".B mig {}\n[\\fIOPTIONS\\fR]", command.get_name());
  for (const CLI::Option* option : command.get_options()) {
    if (!option->get_positional()) continue;
    std::string name = fmt::format("\\fI{}\\fR", roff(option->get_name()));
    if (option->get_items_expected_max() > 1) name += "...";
    line += option->get_required() ? " " + name : " [" + name + "]";
  }
  return line + "\n";
}

void manOptions(std::ostream& out, const CLI::App& command) {
  out << ".SH OPTIONS\n";
  for (const CLI::Option* option : command.get_options()) {
    std::vector<std::string> names;
    if (option->get_positional()) {
      names.push_back(fmt::format("\\fI{}\\fR", roff(option->get_name())));
    } else {
      for (const std::string& name : option->get_snames())
        names.push_back("\\fB\\-" + name + "\\fR");
      for (const std::string& name : option->get_lnames()) {
        names.push_back("\\fB\\-\\-" + roff(name) + "\\fR");
      }
    }
    std::string value;
    if (!option->get_positional() && takesValue(*option)) {
      std::vector<std::string> choices = choicesOf(*option);
      value = choices.empty()
                  ? " \\fIVALUE\\fR"
                  : fmt::format(" \\fI{}\\fR", roff(fmt::format("{}", fmt::join(choices, "|"))));
    }
    out << ".TP\n" << fmt::format("{}", fmt::join(names, ", ")) << value << '\n';
    out << roff(option->get_description()) << '\n';
  }
}

void writePage(std::ostream& out, const CLI::App& app, const CLI::App* command) {
  std::string name = command ? "mig-" + command->get_name() : "mig";
  std::string upper;
  for (char c : name) upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  out << fmt::format(".TH {} 1 \"\" \"{}\" \"mig manual\"\n", roff(upper), roff(versionLine()));
  out << ".SH NAME\n";
  if (command) {
    out << fmt::format("{} \\- {}\n", roff(name), roff(command->get_description()));
    out << ".SH SYNOPSIS\n" << synopsis(*command);
    out << ".SH DESCRIPTION\n" << roff(command->get_footer()) << '\n';
    manOptions(out, *command);
  } else {
    out << "mig \\- declarative database migration plans: lint, compile, run, roll back\n";
    out << ".SH SYNOPSIS\n.B mig\n[\\fB\\-\\-color\\fR \\fIauto|always|never\\fR] "
           "\\fICOMMAND\\fR [\\fIOPTIONS\\fR] [\\fIARGS\\fR]\n";
    out << ".SH DESCRIPTION\nmig checks, compiles and runs migration plans written in the .mig "
           "language, journaling every step so that a run can be resumed after a crash and "
           "rolled back to the old environment.\n";
    out << ".SH COMMANDS\n";
    for (const CLI::App* each : documentedCommands(app)) {
      out << fmt::format(".TP\n\\fBmig {}\\fR\n{}\n", roff(each->get_name()),
                         roff(each->get_description()));
    }
    manOptions(out, app);
    out << ".SH ENVIRONMENT\n.TP\n\\fBNO_COLOR\\fR\nWhen set and not empty, no colours "
           "(unless \\fB\\-\\-color always\\fR).\n.TP\n\\fBMIG_PATH\\fR\nFolders searched "
           "for imported modules, separated by colons.\n";
  }
  out << ".SH EXIT STATUS\n" << roff(exitCodesText()) << '\n';
  out << ".SH SEE ALSO\n";
  std::vector<std::string> others;
  if (command) others.push_back("\\fBmig\\fR(1)");
  for (const CLI::App* each : documentedCommands(app)) {
    if (each != command)
      others.push_back(fmt::format("\\fBmig\\-{}\\fR(1)", roff(each->get_name())));
  }
  out << fmt::format("{}", fmt::join(others, ", ")) << '\n';
}

}  // namespace

void printBashCompletion(std::ostream& out, const CLI::App& app) {
  std::vector<const CLI::App*> commands = documentedCommands(app);
  std::string names;
  for (const CLI::App* command : commands)
    names += (names.empty() ? "" : " ") + command->get_name();
  out << "# bash completion for mig, generated by `mig completion bash` from mig's command line.\n"
         "_mig() {\n"
         "  local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}\n"
         "  local command= i\n"
         "  for ((i = 1; i < COMP_CWORD; i++)); do\n"
         "    case ${COMP_WORDS[i]} in\n"
         "      --color) ((i++)) ;;\n"
         "      -*) ;;\n"
         "      *) command=${COMP_WORDS[i]}; break ;;\n"
         "    esac\n"
         "  done\n"
         "  if [[ -z $command ]]; then\n";
  bashValueCases(out << "    case $prev in\n", app, "");
  out << "    esac\n";
  out << fmt::format("    COMPREPLY=($(compgen -W \"{} {}\" -- \"$cur\")); return\n", names,
                     optionWords(app));
  out << "  fi\n  case \"$command\" in\n";
  for (const CLI::App* command : commands) {
    out << fmt::format("    {})\n      case $prev in\n", command->get_name());
    bashValueCases(out, *command, "");
    out << "      esac\n";
    out << fmt::format(
        "      if [[ $cur == -* ]]; then\n"
        "        COMPREPLY=($(compgen -W \"{}\" -- \"$cur\")); return\n"
        "      fi\n",
        optionWords(*command));
    if (command->get_name() == "explain") {
      out << "      COMPREPLY=($(compgen -W \"kinds kind action $(mig explain --list 2>/dev/null | "
             "cut -d' ' -f1)\" -- \"$cur\")) ;;\n";
    } else if (command->get_name() == "help") {
      out << fmt::format("      COMPREPLY=($(compgen -W \"{}\" -- \"$cur\")) ;;\n", names);
    } else if (command->get_name() == "completion") {
      out << "      COMPREPLY=($(compgen -W \"bash zsh\" -- \"$cur\")) ;;\n";
    } else if (command->get_name() == "version" || command->get_name() == "log") {
      out << "      COMPREPLY=() ;;\n";
    } else {
      out << "      compopt -o filenames 2>/dev/null\n"
             "      COMPREPLY=($(compgen -f -X '!*.mig' -- \"$cur\") "
             "$(compgen -f -X '!*.json' -- \"$cur\") $(compgen -d -- \"$cur\")) ;;\n";
    }
  }
  out << "  esac\n}\ncomplete -F _mig mig\n";
}

void printZshCompletion(std::ostream& out, const CLI::App& app) {
  std::vector<const CLI::App*> commands = documentedCommands(app);
  out << "#compdef mig\n"
         "# zsh completion for mig, generated by `mig completion zsh` from mig's command line.\n"
         "_mig_commands() {\n  local -a commands=(\n";
  for (const CLI::App* command : commands) {
    out << fmt::format("    '{}:{}'\n", command->get_name(), zshEscape(command->get_description()));
  }
  out << "  )\n  _describe 'command' commands\n}\n"
         "_mig_rules() {\n"
         "  local -a rules=(kinds kind action ${(f)\"$(mig explain --list 2>/dev/null | cut -d' ' "
         "-f1)\"})\n"
         "  _describe 'rule' rules\n}\n"
         "_mig() {\n"
         "  local curcontext=$curcontext state line\n"
         "  _arguments -C \\\n";
  for (const CLI::Option* option : app.get_options()) {
    out << "    " << zshArgument(*option, "") << " \\\n";
  }
  out << "    '1:command:_mig_commands' \\\n    '*::argument:->argument'\n"
         "  [[ $state == argument ]] || return\n"
         "  case ${line[1]} in\n";
  for (const CLI::App* command : commands) {
    out << fmt::format("    {})\n      _arguments", command->get_name());
    for (const CLI::Option* option : command->get_options()) {
      out << " \\\n        " << zshArgument(*option, command->get_name());
    }
    out << " ;;\n";
  }
  out << "  esac\n}\n_mig \"$@\"\n";
}

bool writeManPages(const std::string& folder, const CLI::App& app, std::string& error) {
  std::error_code ec;
  fs::create_directories(folder, ec);
  std::vector<const CLI::App*> pages = {nullptr};
  for (const CLI::App* command : documentedCommands(app)) pages.push_back(command);
  for (const CLI::App* command : pages) {
    fs::path path = fs::path(folder) / (command ? "mig-" + command->get_name() + ".1" : "mig.1");
    std::ofstream out(path);
    writePage(out, app, command);
    out.close();
    if (!out) {
      error = fmt::format("cannot write '{}'", path.string());
      return false;
    }
  }
  return true;
}

}  // namespace mig::cli
