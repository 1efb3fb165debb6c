#pragma once

#include <memory>
#include <set>

#include "compiler/ast/ast.h"
#include "compiler/diag/diagnostic.h"
#include "compiler/sema/model.h"
#include "compiler/sema/modules.h"

namespace mig::sema {

/// Which declarations something refers to: the input of unused-declaration.
struct Usage {
  std::set<const Secret*> secrets;
  std::set<const Endpoint*> endpoints;
  std::set<const Window*> windows;
  std::set<const Host*> hosts;
};

struct CheckedPlan {
  std::unique_ptr<Plan> plan;
  Usage usage;
  /// False when an import or an endpoint's kind could not be found: the
  /// steps that use them were not checked, so what the plan does is not
  /// known well enough to lint it (the lint rules would report follow-on
  /// noise such as unused declarations).
  bool complete = true;
};

/// Gives a plan file's AST its meaning: resolves every name, checks every
/// attribute, argument and value against its schema, and reports what is
/// wrong. The plan it returns holds everything that checked; with errors
/// reported it may be incomplete and must not be lowered.
CheckedPlan checkPlanFile(const ast::File& file, const FileScope& scope,
                          diag::DiagnosticEngine& diags);

}  // namespace mig::sema
