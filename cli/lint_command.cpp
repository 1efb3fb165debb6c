#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <iterator>

#include "cli/color.h"
#include "cli/commands.h"
#include "compiler/diag/printers.h"
#include "compiler/sema/compilation.h"

namespace mig::cli {

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

  if (options.format == "json") {
    diag::printJson(std::cout, compilation.sources(), all);
  } else if (options.format == "sarif") {
    diag::printSarif(std::cout, compilation.sources(), all);
  } else if (options.format == "github") {
    diag::printGithub(std::cout, compilation.sources(), all);
  } else {
    bool color = useColor(STDOUT_FILENO);
    diag::printText(std::cout, compilation.sources(), all, {color});
    std::cout << diag::summaryLine(diags.errorCount(), diags.warningCount()) << '\n';
  }
  return diags.hasErrors() ? kPlanErrors : kSuccess;
}

}  // namespace mig::cli
