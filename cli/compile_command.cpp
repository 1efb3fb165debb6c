#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <iostream>

#include "cli/commands.h"
#include "cli/plan_loader.h"
#include "compiler/graph/json.h"
#include "compiler/graph/pictures.h"

namespace mig::cli {
namespace {

// Writes `text` to `path` through a temporary file renamed over it (a
// crash leaves the old file whole), or to stdout for "-". Something that is
// not a regular file (/dev/null, a pipe) is written to directly: renaming
// over it would replace it.
bool writeOutput(const std::string& path, const std::string& text) {
  if (path.empty() || path == "-") {
    std::cout << text;
    return true;
  }
  std::error_code ec;
  auto status = std::filesystem::status(path, ec);
  if (!ec && std::filesystem::exists(status) && !std::filesystem::is_regular_file(status)) {
    std::ofstream out(path, std::ios::binary);
    out << text;
    out.flush();
    if (!out) printError(fmt::format("cannot write '{}'", path));
    return static_cast<bool>(out);
  }
  std::string temporary = path + ".tmp";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out << text;
    out.flush();
    if (!out) {
      printError(fmt::format("cannot write '{}'", path));
      std::error_code ignored;
      std::filesystem::remove(temporary, ignored);
      return false;
    }
  }
  std::error_code error;
  std::filesystem::rename(temporary, path, error);
  if (error) {
    printError(fmt::format("cannot write '{}': {}", path, error.message()));
    return false;
  }
  return true;
}

}  // namespace

int compileCommand(const CompileOptions& options) {
  int exitCode = kSuccess;
  auto plan = loadPlan(options.file, exitCode);
  if (!plan) return exitCode;
  if (plan->warningCount > 0) std::cerr << plan->warnings;
  return writeOutput(options.output, graph::toJson(plan->graph)) ? kSuccess : kUsage;
}

int graphCommand(const GraphOptions& options) {
  int exitCode = kSuccess;
  auto plan = loadPlan(options.file, exitCode);
  if (!plan) return exitCode;
  std::string text;
  if (options.format == "dot") {
    text = graph::toDot(plan->graph);
  } else if (options.format == "mermaid") {
    text = graph::toMermaid(plan->graph);
  } else {
    text = graph::toJson(plan->graph);
  }
  return writeOutput(options.output, text) ? kSuccess : kUsage;
}

}  // namespace mig::cli
