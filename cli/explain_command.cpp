#include <fmt/format.h>

#include <iostream>

#include "cli/commands.h"
#include "compiler/diag/rules.h"

namespace mig::cli {
namespace {

void indent(std::string_view text) {
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::cout << "    " << text.substr(start, end - start) << '\n';
    start = end + 1;
  }
}

}  // namespace

int explainCommand(const ExplainOptions& options) {
  if (options.list || options.rule.empty()) {
    for (const diag::RuleInfo& info : diag::allRules()) {
      std::cout << fmt::format("{:<27} {:<8} {}\n", info.name, diag::severityName(info.severity),
                               info.summary);
    }
    return kSuccess;
  }
  auto rule = diag::findRule(options.rule);
  if (!rule) {
    printError(fmt::format("unknown rule '{}'; `mig explain --list` lists them", options.rule));
    return kUsage;
  }
  const diag::RuleInfo& info = diag::ruleInfo(*rule);
  std::cout << fmt::format("{} ({})\n\n", info.name, diag::severityName(info.severity));
  std::cout << "What it catches\n";
  indent(info.catches);
  std::cout << "\nWhy it matters\n";
  indent(info.why);
  std::cout << "\nHow to fix it\n";
  indent(info.fix);
  std::cout << "\nBad\n";
  indent(info.bad);
  std::cout << "\nGood\n";
  indent(info.good);
  return kSuccess;
}

}  // namespace mig::cli
