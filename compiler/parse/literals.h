#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "compiler/ast/ast.h"
#include "compiler/diag/diagnostic.h"

/// Decoding of literal tokens, shared by the parser and by tests. Nothing
/// here knows ANTLR.
namespace mig::parse {

/// Decodes a string token (`"..."` or `"""..."""`, quotes included) that
/// starts at byte `begin` of `file` into literal runs and interpolations.
/// `terminated` is false for a string that was never closed (the closing
/// quote is then not stripped). Triple-quoted strings are raw: backslashes
/// are plain text (scripts and SQL keep theirs), only `${...}` and `$${`
/// are special, and a newline right after the opening quotes is dropped.
/// Bad escapes and malformed interpolations are reported as syntax errors;
/// the parts hold what could be decoded.
std::vector<ast::StringPart> decodeString(std::string_view token, bool terminated,
                                          source::FileId file, uint32_t begin,
                                          diag::DiagnosticEngine& diags);

}  // namespace mig::parse
