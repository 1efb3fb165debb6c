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

/// A number with a unit: a duration (in milliseconds) or a size (in bytes).
struct UnitValue {
  enum class Kind { Duration, Size } kind;
  int64_t amount;
};

/// Parses `90s`, `1h30m`, `1.5h`, `512MB`, `2TiB`. Units: ms s m h d w for
/// durations; B KB MB GB TB PB (powers of 1024, as PostgreSQL and Redis
/// read them) and KiB MiB GiB TiB PiB for sizes. Returns nullopt with
/// `error` set for an unknown unit, a mix of durations and sizes, or
/// an overflow.
std::optional<UnitValue> parseUnitNumber(std::string_view text, std::string& error);

/// "1h30m", "90s", "2d", "512MB": the shortest canonical spelling.
std::string formatDuration(int64_t milliseconds);
std::string formatSize(int64_t bytes);

}  // namespace mig::parse
