#include "compiler/diag/diagnostic.h"

#include <algorithm>

namespace mig::diag {

Diagnostic& DiagnosticEngine::report(Rule rule, source::Range range, std::string message) {
  diagnostics_.push_back(Diagnostic{rule, ruleInfo(rule).severity, range, std::move(message), {}, {}});
  return diagnostics_.back();
}

size_t DiagnosticEngine::errorCount() const {
  return std::count_if(diagnostics_.begin(), diagnostics_.end(),
                       [](const Diagnostic& d) { return d.severity == Severity::Error; });
}

size_t DiagnosticEngine::warningCount() const {
  return std::count_if(diagnostics_.begin(), diagnostics_.end(),
                       [](const Diagnostic& d) { return d.severity == Severity::Warning; });
}

void DiagnosticEngine::sort(const source::SourceManager& sources) {
  std::stable_sort(diagnostics_.begin(), diagnostics_.end(),
                   [&](const Diagnostic& a, const Diagnostic& b) {
                     if (a.range.file != b.range.file) {
                       if (!a.range.valid() || !b.range.valid()) return a.range.valid();
                       return sources.name(a.range.file) < sources.name(b.range.file);
                     }
                     if (a.range.begin != b.range.begin) return a.range.begin < b.range.begin;
                     return a.rule < b.rule;
                   });
}

void DiagnosticEngine::promoteWarnings() {
  for (Diagnostic& d : diagnostics_) {
    if (d.severity == Severity::Warning) d.severity = Severity::Error;
  }
}

}  // namespace mig::diag
