#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

/// Where a cursor is in a .mig text, found by a lexical scan of the text
/// before it: the blocks around it, the call whose arguments it is in, the
/// attribute whose value it is typing. It needs no parse, so it works in
/// the half-written text an editor sends while the user types.
namespace mig::cli::lsp {

struct CursorContext {
  enum class Where { Code, String, Interpolation, Comment };
  Where where = Where::Code;

  /// The header words of each enclosing block, outermost first:
  /// {"plan", "acme"}, {"source", "old_db", "postgres"}.
  std::vector<std::vector<std::string>> blocks;

  /// The innermost call whose parentheses hold the cursor ("postgres.copy",
  /// "sh"); empty when there is none.
  std::string callee;
  /// In a call: the named argument whose value is being typed ("from" in
  /// `copy(from: ol`); empty while typing an argument's name.
  std::string argument;
  /// In a call: the argument names already written.
  std::vector<std::string> givenArguments;

  /// The words of the current item before the word being typed, outside
  /// calls: {} at the start of a line, {"after"}, {"step", "x", "="},
  /// {"source", "old_db"}.
  std::vector<std::string> itemWords;

  /// The identifier (with dots) that ends at the cursor, and its start.
  std::string word;
  uint32_t wordBegin = 0;
  /// In a string: the offset just after its opening quote.
  uint32_t stringBegin = 0;

  /// The keyword of the innermost block ("" at the top level).
  std::string blockKeyword() const { return blocks.empty() ? "" : blocks.back().front(); }
};

CursorContext cursorContext(std::string_view text, uint32_t offset);

/// The extent of the word around `offset`: identifier characters and dots,
/// and '-' when `dashes` (rule names).
struct Word {
  uint32_t begin = 0;
  uint32_t end = 0;
  std::string_view text;
};
std::optional<Word> wordAt(std::string_view text, uint32_t offset, bool dashes = false);

}  // namespace mig::cli::lsp
