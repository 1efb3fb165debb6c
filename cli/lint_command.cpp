#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <iterator>

#include "cli/color.h"
#include "cli/commands.h"
#include "compiler/diag/printers.h"
#include "compiler/sema/compilation.h"

namespace mig::cli {
namespace {

namespace fs = std::filesystem;

/// The text format stops after this many diagnostics per file, like clang.
constexpr size_t kDefaultMaxErrors = 20;

// What SARIF URIs are relative to: --sarif-root, else the nearest folder
// at or above the working directory that holds `.git` (a directory, or
// the file of a worktree or submodule), else the working directory.
fs::path sarifRoot(const std::string& option, const fs::path& workingDirectory) {
  std::error_code ec;
  if (!option.empty()) {
    fs::path root = fs::weakly_canonical(workingDirectory / option, ec);
    return ec ? (workingDirectory / option).lexically_normal() : root;
  }
  for (fs::path dir = workingDirectory; !dir.empty(); dir = dir.parent_path()) {
    if (fs::exists(dir / ".git", ec)) return dir;
    if (dir == dir.root_path()) break;
  }
  return workingDirectory;
}

}  // namespace

void printError(const std::string& message) { std::cerr << "mig: " << message << '\n'; }

int lintCommand(const LintOptions& options) {
  sema::Compilation compilation;
  // Read every file first: a missing one is a usage error, before any output.
  std::vector<std::pair<std::string, std::string>> inputs;
  for (const std::string& path : options.files) {
    std::string error;
    if (path == "-") {
      inputs.emplace_back("<stdin>", std::string(std::istreambuf_iterator<char>(std::cin), {}));
      continue;
    }
    auto text = sema::readWholeFile(path, error);
    if (!text) {
      printError(error);
      return kUsage;
    }
    inputs.emplace_back(path, std::move(*text));
  }
  for (auto& [path, text] : inputs) compilation.addText(path, std::move(text));

  diag::DiagnosticEngine& diags = compilation.diags();
  if (options.werror) diags.promoteWarnings();
  diags.sort(compilation.sources());
  const auto& all = diags.diagnostics();
  // The exit code counts every error, shown or not.
  int exitCode = diags.hasErrors() ? kPlanErrors : kSuccess;

  if (options.format == "json") {
    std::vector<diag::Omitted> omitted;
    auto shown = diag::limitPerFile(all, options.maxErrors.value_or(0), omitted);
    diag::printJson(std::cout, compilation.sources(), shown);
    for (const diag::Omitted& left : omitted) {
      std::string where;
      if (left.file != source::kNoFile) where = std::string(compilation.sources().name(left.file));
      printError((where.empty() ? "" : where + ": ") + diag::omittedMessage(left));
    }
  } else if (options.format == "sarif") {
    diag::SarifOptions sarif;
    std::error_code ec;
    sarif.workingDirectory = fs::current_path(ec);
    sarif.root = sarifRoot(options.sarifRoot, sarif.workingDirectory);
    sarif.exitCode = exitCode;
    sarif.maxPerFile = options.maxErrors.value_or(0);
    diag::printSarif(std::cout, compilation.sources(), all, sarif);
  } else if (options.format == "github") {
    diag::printGithub(std::cout, compilation.sources(), all, options.maxErrors.value_or(0));
  } else {
    bool color = useColor(STDOUT_FILENO);
    diag::printText(std::cout, compilation.sources(), all,
                    {color, options.maxErrors.value_or(kDefaultMaxErrors)});
    std::cout << diag::summaryLine(diags.errorCount(), diags.warningCount()) << '\n';
  }
  return exitCode;
}

}  // namespace mig::cli
