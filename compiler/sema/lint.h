#pragma once

#include "compiler/diag/diagnostic.h"
#include "compiler/sema/checker.h"

namespace mig::sema {

/// The rules about the migration itself rather than the language: cycles
/// and phase order of dependencies, ACLs, windows, reversibility, parity,
/// retention, verification, unused and duplicated declarations. Runs on
/// whatever part of the plan checked.
void lintPlan(const Plan& plan, const Usage& usage, diag::DiagnosticEngine& diags);

/// Steps of `phase` in an order where every step comes after the steps it
/// depends on within the phase; nullopt when they form a cycle.
std::optional<std::vector<const Step*>> orderWithinPhase(const Phase& phase);

}  // namespace mig::sema
