#include "compiler/source/source_manager.h"

#include <algorithm>
#include <cassert>

namespace mig::source {

FileId SourceManager::addFile(std::string name, std::string text) {
  auto entry = std::make_unique<File>();
  entry->name = std::move(name);
  entry->text = std::move(text);
  entry->lineStarts.push_back(0);
  uint32_t codePoints = 0;
  for (uint32_t i = 0; i < entry->text.size(); ++i) {
    if (i % kBlock == 0) entry->codePointsBefore.push_back(codePoints);
    unsigned char c = entry->text[i];
    if ((c & 0xC0) != 0x80) ++codePoints;
    if (c == '\n') entry->lineStarts.push_back(i + 1);
  }
  files_.push_back(std::move(entry));
  return static_cast<FileId>(files_.size());
}

const SourceManager::File& SourceManager::file(FileId id) const {
  assert(id != kNoFile && id <= files_.size());
  return *files_[id - 1];
}

std::string_view SourceManager::name(FileId id) const { return file(id).name; }
std::string_view SourceManager::text(FileId id) const { return file(id).text; }

uint32_t SourceManager::lineCount(FileId id) const {
  return static_cast<uint32_t>(file(id).lineStarts.size());
}

LineColumn SourceManager::lineColumn(FileId id, uint32_t offset) const {
  const File& f = file(id);
  offset = std::min<uint32_t>(offset, f.text.size());
  auto next = std::upper_bound(f.lineStarts.begin(), f.lineStarts.end(), offset);
  uint32_t line = static_cast<uint32_t>(next - f.lineStarts.begin());
  uint32_t lineStart = f.lineStarts[line - 1];
  return {line, codePointsUpTo(f, offset) - codePointsUpTo(f, lineStart) + 1};
}

uint32_t SourceManager::codePointsUpTo(const File& f, uint32_t offset) {
  if (offset == 0) return 0;
  // The block holding the byte before `offset`, then the rest of the way.
  uint32_t block = (offset - 1) / kBlock;
  uint32_t from = block * kBlock;
  std::string_view rest(f.text.data() + from, offset - from);
  return f.codePointsBefore[block] + countCodePoints(rest);
}

std::string_view SourceManager::lineText(FileId id, uint32_t line) const {
  const File& f = file(id);
  if (line == 0 || line > f.lineStarts.size()) return {};
  uint32_t start = f.lineStarts[line - 1];
  uint32_t end = line < f.lineStarts.size() ? f.lineStarts[line] - 1 : f.text.size();
  std::string_view text(f.text.data() + start, end - start);
  if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
  return text;
}

uint32_t countCodePoints(std::string_view utf8) {
  uint32_t count = 0;
  for (unsigned char c : utf8) {
    if ((c & 0xC0) != 0x80) ++count;
  }
  return count;
}

size_t findInvalidUtf8(std::string_view text) {
  size_t i = 0;
  const size_t n = text.size();
  while (i < n) {
    unsigned char c = text[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t length;
    uint32_t codePoint;
    if ((c & 0xE0) == 0xC0) {
      length = 2;
      codePoint = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      length = 3;
      codePoint = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      length = 4;
      codePoint = c & 0x07;
    } else {
      return i;
    }
    if (i + length > n) return i;
    for (size_t k = 1; k < length; ++k) {
      unsigned char next = text[i + k];
      if ((next & 0xC0) != 0x80) return i;
      codePoint = (codePoint << 6) | (next & 0x3F);
    }
    bool overlong = (length == 2 && codePoint < 0x80) || (length == 3 && codePoint < 0x800) ||
                    (length == 4 && codePoint < 0x10000);
    bool surrogate = codePoint >= 0xD800 && codePoint <= 0xDFFF;
    if (overlong || surrogate || codePoint > 0x10FFFF) return i;
    i += length;
  }
  return std::string_view::npos;
}

}  // namespace mig::source
