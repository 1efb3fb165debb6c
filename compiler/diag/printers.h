#pragma once

#include <ostream>
#include <span>
#include <string>

#include "compiler/diag/diagnostic.h"

namespace mig::diag {

struct TextStyle {
  bool color = false;
};

/// Compiler-style text: `file:line:col: severity: message [rule]`, the
/// source line, a caret under the range, then notes and the fix hint.
void printText(std::ostream& out, const source::SourceManager& sources,
               std::span<const Diagnostic> diagnostics, TextStyle style = {});

/// "2 errors, 1 warning" (or "no problems found").
std::string summaryLine(size_t errors, size_t warnings);

/// One JSON array of objects with file, line, column, endLine, endColumn,
/// severity, rule, message, notes and fix.
void printJson(std::ostream& out, const source::SourceManager& sources,
               std::span<const Diagnostic> diagnostics);

/// A SARIF 2.1.0 log with one run: every rule as a descriptor (so code
/// scanning shows help for rules that did not fire) and one result per
/// diagnostic.
void printSarif(std::ostream& out, const source::SourceManager& sources,
                std::span<const Diagnostic> diagnostics);

/// GitHub Actions workflow commands: `::error file=...,line=...,col=...::message`.
void printGithub(std::ostream& out, const source::SourceManager& sources,
                 std::span<const Diagnostic> diagnostics);

}  // namespace mig::diag
