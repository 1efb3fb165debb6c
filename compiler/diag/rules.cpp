#include "compiler/diag/rules.h"

#include <array>
#include <cassert>

namespace mig::diag {
namespace {

using enum Rule;
using enum Severity;
using enum CheckedBy;

// The one table of rules. Order matches the Rule enum.
constexpr std::array kRules = {
#include "compiler/diag/rule_table.inc"
};

}  // namespace

std::span<const RuleInfo> allRules() { return kRules; }

const RuleInfo& ruleInfo(Rule rule) {
  const RuleInfo& info = kRules[static_cast<size_t>(rule)];
  assert(info.rule == rule);
  return info;
}

std::optional<Rule> findRule(std::string_view name) {
  for (const RuleInfo& info : kRules) {
    if (info.name == name) return info.rule;
  }
  return std::nullopt;
}

}  // namespace mig::diag
