#pragma once

#include <memory>

#include "compiler/ast/ast.h"
#include "compiler/diag/diagnostic.h"

namespace mig::parse {

/// The deepest nesting of (), [] and {} accepted. Deeper input gets a
/// diagnostic instead of a stack overflow in the recursive-descent parser.
inline constexpr int kMaxNesting = 100;

/// At most this many syntax errors are reported per file.
inline constexpr int kMaxSyntaxErrors = 50;

/// Parses one file of `sources` into our AST. Syntax errors are reported to
/// `diags` as `syntax-error` (in our own words, with recovery, so one run
/// reports several); the tree then holds what could be recovered and
/// `clean` is false. Never throws.
std::unique_ptr<ast::File> parseFile(const source::SourceManager& sources, source::FileId file,
                                     diag::DiagnosticEngine& diags);

}  // namespace mig::parse
