#include "cli/lsp/positions.h"

#include <algorithm>

namespace mig::cli::lsp {
namespace {

// The length in bytes of the UTF-8 sequence starting with `lead` (1 for a
// byte that starts none, so invalid text still advances).
uint32_t sequenceLength(unsigned char lead) {
  if ((lead & 0xE0) == 0xC0) return 2;
  if ((lead & 0xF0) == 0xE0) return 3;
  if ((lead & 0xF8) == 0xF0) return 4;
  return 1;
}

}  // namespace

LineIndex::LineIndex(std::string_view text, Encoding encoding) : text_(text), encoding_(encoding) {
  lineStarts_.push_back(0);
  for (uint32_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\n') lineStarts_.push_back(i + 1);
  }
}

std::string_view LineIndex::lineText(uint32_t line) const {
  uint32_t start = lineStarts_[line];
  uint32_t end = line + 1 < lineStarts_.size() ? lineStarts_[line + 1] - 1 : text_.size();
  std::string_view text = text_.substr(start, end - start);
  if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
  return text;
}

uint32_t LineIndex::offsetAt(Position position) const {
  if (position.line >= lineStarts_.size()) return static_cast<uint32_t>(text_.size());
  std::string_view line = lineText(position.line);
  uint32_t start = lineStarts_[position.line];
  if (encoding_ == Encoding::Utf8) {
    return start + std::min<uint32_t>(position.character, line.size());
  }
  uint32_t units = 0;
  uint32_t i = 0;
  while (i < line.size() && units < position.character) {
    uint32_t length = std::min<uint32_t>(sequenceLength(line[i]), line.size() - i);
    units += length == 4 ? 2 : 1;  // outside the BMP: a surrogate pair
    i += length;
  }
  return start + i;
}

Position LineIndex::positionAt(uint32_t offset) const {
  offset = std::min<uint32_t>(offset, text_.size());
  auto next = std::upper_bound(lineStarts_.begin(), lineStarts_.end(), offset);
  uint32_t line = static_cast<uint32_t>(next - lineStarts_.begin()) - 1;
  uint32_t start = lineStarts_[line];
  std::string_view before = text_.substr(start, offset - start);
  if (encoding_ == Encoding::Utf8) return {line, static_cast<uint32_t>(before.size())};
  uint32_t units = 0;
  for (uint32_t i = 0; i < before.size();) {
    uint32_t length = sequenceLength(before[i]);
    units += length == 4 ? 2 : 1;
    i += length;
  }
  return {line, units};
}

nlohmann::json LineIndex::positionJson(uint32_t offset) const {
  Position at = positionAt(offset);
  return {{"line", at.line}, {"character", at.character}};
}

nlohmann::json LineIndex::rangeJson(uint32_t begin, uint32_t end) const {
  return {{"start", positionJson(begin)}, {"end", positionJson(end)}};
}

std::optional<Position> parsePosition(const nlohmann::json& value) {
  if (!value.is_object()) return std::nullopt;
  auto line = value.find("line");
  auto character = value.find("character");
  if (line == value.end() || character == value.end() || !line->is_number_unsigned() ||
      !character->is_number_unsigned()) {
    return std::nullopt;
  }
  return Position{line->get<uint32_t>(), character->get<uint32_t>()};
}

}  // namespace mig::cli::lsp
