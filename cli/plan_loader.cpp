#include "cli/plan_loader.h"

#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <iterator>
#include <sstream>

#include "cli/color.h"
#include "cli/commands.h"
#include "compiler/diag/printers.h"
#include "compiler/graph/json.h"
#include "compiler/lower/lower.h"
#include "compiler/sema/compilation.h"

namespace mig::cli {

std::optional<LoadedPlan> loadPlan(const std::string& given, int& exitCode) {
  std::string error;
  std::optional<std::string> text;
  // Standard input is a plan in the current folder: its relative imports
  // are read from there.
  std::string path = given == "-" ? "<stdin>" : given;
  if (given == "-") {
    text = std::string(std::istreambuf_iterator<char>(std::cin), {});
  } else {
    text = sema::readWholeFile(given, error);
  }
  if (!text) {
    printError(error);
    exitCode = kUsage;
    return std::nullopt;
  }
  size_t first = text->find_first_not_of(" \t\r\n");
  if (first != std::string::npos && (*text)[first] == '{') {
    auto graph = graph::fromJson(*text, error);
    if (!graph) {
      printError(path + ": " + error);
      exitCode = kPlanErrors;
      return std::nullopt;
    }
    return LoadedPlan{std::move(*graph), "", 0};
  }

  sema::Compilation compilation;
  const sema::CompiledFile* file = compilation.addText(path, std::move(*text));
  diag::DiagnosticEngine& diags = compilation.diags();
  diags.sort(compilation.sources());
  bool color = useColor(STDERR_FILENO);
  if (diags.hasErrors()) {
    diag::printText(std::cerr, compilation.sources(), diags.diagnostics(), {color});
    std::cerr << diag::summaryLine(diags.errorCount(), diags.warningCount()) << '\n';
    exitCode = kPlanErrors;
    return std::nullopt;
  }
  if (file->isModule() || !file->checked.plan) {
    printError(path + ": holds no plan (a `plan NAME { ... }` block)");
    exitCode = kPlanErrors;
    return std::nullopt;
  }
  LoadedPlan loaded{lower::lowerPlan(*file->checked.plan, compilation.sources()), "", 0};
  std::ostringstream warnings;
  diag::printText(warnings, compilation.sources(), diags.diagnostics(), {color});
  loaded.warnings = warnings.str();
  loaded.warningCount = diags.warningCount();
  return loaded;
}

}  // namespace mig::cli
