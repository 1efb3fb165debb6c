#include <fmt/format.h>

#include <iostream>

#include "cli/commands.h"
#include "compiler/diag/rules.h"
#include "compiler/diag/rules_markdown.h"
#include "compiler/sema/reference.h"
#include "compiler/sema/resolve.h"

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

namespace {

int unknownTopic(std::string_view what, const std::string& name,
                 const std::vector<std::string>& candidates, std::string_view listing) {
  std::string message = fmt::format("unknown {} '{}'", what, name);
  if (auto near = sema::closestName(name, candidates)) {
    message += fmt::format("; did you mean '{}'?", *near);
  }
  printError(fmt::format("{} ({})", message, listing));
  return kUsage;
}

std::vector<std::string> kindNames(const sema::StdlibReference& reference) {
  std::vector<std::string> names;
  for (const auto& kind : reference.kinds) names.push_back(kind.name);
  return names;
}

std::vector<std::string> actionNames(const sema::StdlibReference& reference) {
  std::vector<std::string> names;
  for (const auto& action : reference.actions) {
    names.push_back(action.module == "shell" ? action.name : action.module + "." + action.name);
  }
  return names;
}

void listKinds(const sema::StdlibReference& reference) {
  for (const auto& kind : reference.kinds) {
    std::vector<std::string> fields;
    for (const auto& field : kind.fields) fields.push_back(field.name);
    std::cout << fmt::format("{:<15} import \"{}\": {}\n", kind.name, kind.importPath,
                             fmt::join(fields, ", "));
  }
}

int explainRule(const std::string& name) {
  auto rule = diag::findRule(name);
  if (!rule) {
    std::vector<std::string> names;
    for (const diag::RuleInfo& info : diag::allRules()) names.emplace_back(info.name);
    return unknownTopic("rule", name, names,
                        "`mig explain --list` lists the rules, `mig explain kinds` the kinds");
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

}  // namespace

int explainCommand(const ExplainOptions& options) {
  const std::vector<std::string>& topic = options.topic;
  if (options.markdown && topic.empty()) {
    std::cout << diag::rulesMarkdown();
    return kSuccess;
  }
  if (options.list || topic.empty()) {
    for (const diag::RuleInfo& info : diag::allRules()) {
      std::cout << fmt::format("{:<27} {:<8} {}\n", info.name, diag::severityName(info.severity),
                               info.summary);
    }
    return kSuccess;
  }
  const sema::StdlibReference& reference = sema::stdlibReference();
  if (topic[0] == "kinds" && topic.size() == 1) {
    if (options.markdown) {
      sema::printReferenceMarkdown(std::cout, reference);
    } else {
      listKinds(reference);
    }
    return kSuccess;
  }
  if (topic[0] == "kind" || topic[0] == "action") {
    if (topic.size() != 2) {
      printError(fmt::format("`mig explain {} NAME`: name the {}", topic[0], topic[0]));
      return kUsage;
    }
    if (topic[0] == "kind") {
      const sema::KindReference* kind = reference.kind(topic[1]);
      if (!kind) {
        return unknownTopic("kind", topic[1], kindNames(reference),
                            "`mig explain kinds` lists them");
      }
      sema::printKind(std::cout, *kind, reference);
      return kSuccess;
    }
    const sema::ActionReference* action = reference.action(topic[1]);
    if (!action) {
      return unknownTopic("action", topic[1], actionNames(reference),
                          "actions are named MODULE.ACTION, like postgres.copy");
    }
    sema::printAction(std::cout, *action);
    return kSuccess;
  }
  if (topic.size() != 1) {
    printError("`mig explain RULE`, `mig explain kind NAME` or `mig explain action MODULE.ACTION`");
    return kUsage;
  }
  // A kind or an action named on its own is explained too.
  if (!diag::findRule(topic[0])) {
    if (const sema::KindReference* kind = reference.kind(topic[0])) {
      sema::printKind(std::cout, *kind, reference);
      return kSuccess;
    }
    if (const sema::ActionReference* action = reference.action(topic[0])) {
      sema::printAction(std::cout, *action);
      return kSuccess;
    }
  }
  return explainRule(topic[0]);
}

}  // namespace mig::cli
