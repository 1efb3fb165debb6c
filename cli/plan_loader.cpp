#include "cli/plan_loader.h"

#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <sstream>

#include "cli/commands.h"
#include "compiler/diag/printers.h"
#include "compiler/graph/json.h"
#include "compiler/lower/lower.h"
#include "compiler/sema/compilation.h"

namespace mig::cli {

std::optional<LoadedPlan> loadPlan(const std::string& path, int& exitCode) {
  std::string error;
  auto text = sema::readWholeFile(path, error);
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
  bool color = isatty(STDERR_FILENO) && std::getenv("NO_COLOR") == nullptr;
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
