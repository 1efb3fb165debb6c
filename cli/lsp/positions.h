#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string_view>
#include <vector>

/// LSP positions (a line and a column in the negotiated encoding) and the
/// byte offsets the compiler uses.
namespace mig::cli::lsp {

/// How a Position's `character` counts: UTF-8 bytes, or UTF-16 code units
/// (the LSP default, used when the client offers nothing else).
enum class Encoding { Utf8, Utf16 };

struct Position {
  uint32_t line = 0;       ///< 0-based
  uint32_t character = 0;  ///< 0-based, in the document's encoding
};

/// The line starts of one text, to convert offsets and positions both ways.
/// The text must outlive the index.
class LineIndex {
 public:
  LineIndex() = default;
  LineIndex(std::string_view text, Encoding encoding);

  /// The byte offset of `position`; a column past the end of its line
  /// clamps to the line's end, a line past the end to the end of the text.
  uint32_t offsetAt(Position position) const;
  Position positionAt(uint32_t offset) const;
  Encoding encoding() const { return encoding_; }

  /// `{"line": L, "character": C}`
  nlohmann::json positionJson(uint32_t offset) const;
  /// `{"start": ..., "end": ...}`
  nlohmann::json rangeJson(uint32_t begin, uint32_t end) const;

 private:
  std::string_view lineText(uint32_t line) const;

  std::string_view text_;
  Encoding encoding_ = Encoding::Utf16;
  std::vector<uint32_t> lineStarts_;
};

/// Reads `{"line": L, "character": C}`; nullopt when it is not one.
std::optional<Position> parsePosition(const nlohmann::json& value);

}  // namespace mig::cli::lsp
