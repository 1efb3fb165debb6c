#pragma once

#include <string>
#include <vector>

#include "compiler/diag/rules.h"
#include "compiler/source/source_manager.h"

namespace mig::diag {

/// A secondary location: "first declared here", "the cycle continues here".
struct Note {
  source::Range range;
  std::string message;
};

/// A suggested change, shown as "help: ...". When `replacement` is set the
/// hint is a concrete edit of `range`.
struct FixHint {
  std::string message;
  source::Range range;
  std::optional<std::string> replacement;
};

struct Diagnostic {
  Rule rule;
  Severity severity;
  source::Range range;
  std::string message;
  std::vector<Note> notes;
  std::optional<FixHint> fix;
};

/// Collects diagnostics (never throws them). Stages run to completion and
/// report what they found; the caller decides whether to go on.
class DiagnosticEngine {
 public:
  /// Adds a diagnostic of `rule` at its table severity; returns it so the
  /// caller can attach notes and a fix hint.
  Diagnostic& report(Rule rule, source::Range range, std::string message);

  const std::vector<Diagnostic>& diagnostics() const { return diagnostics_; }
  size_t errorCount() const;
  size_t warningCount() const;
  bool hasErrors() const { return errorCount() > 0; }

  /// Sorts by file, then position, then rule, keeping report order for ties.
  void sort(const source::SourceManager& sources);

  /// Turns every warning into an error (`--werror`).
  void promoteWarnings();

 private:
  std::vector<Diagnostic> diagnostics_;
};

}  // namespace mig::diag
