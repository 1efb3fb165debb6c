#pragma once

#include <string>

namespace mig::diag {

/// The rule reference, docs/rules.md: an index table, then one section per
/// rule under a `## rule-name` heading (its anchor, which SARIF's helpUri
/// points at) with what `mig explain RULE` says. `mig explain --markdown`
/// prints it; a test keeps the checked-in file current.
std::string rulesMarkdown();

}  // namespace mig::diag
