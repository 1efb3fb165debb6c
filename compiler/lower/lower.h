#pragma once

#include "compiler/graph/graph.h"
#include "compiler/sema/model.h"
#include "compiler/source/source_manager.h"

namespace mig::lower {

/// Lowers a plan that checked without errors into the step graph: every
/// action call expanded into its command (interpolations shell-quoted,
/// secrets as references delivered through the endpoint's kind), one
/// barrier node per phase, edges from `after` and data flow, and the
/// plan hash. `sources` names the files for origins (file:line).
graph::Graph lowerPlan(const sema::Plan& plan, const source::SourceManager& sources);

/// The first word of a shell script, when it names an external command
/// (not a builtin, keyword or variable): what preflight checks on PATH.
std::string externalCommandOf(std::string_view script);

}  // namespace mig::lower
