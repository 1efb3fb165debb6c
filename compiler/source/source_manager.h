#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace mig::source {

/// Identifies a buffer owned by a SourceManager. Zero is "no file".
using FileId = uint32_t;
inline constexpr FileId kNoFile = 0;

/// A half-open byte range [begin, end) in one file. Small and copied freely;
/// line and column are computed only when a diagnostic is printed.
struct Range {
  FileId file = kNoFile;
  uint32_t begin = 0;
  uint32_t end = 0;

  bool valid() const { return file != kNoFile; }
  bool operator==(const Range&) const = default;
};

/// 1-based line and column; the column counts Unicode code points.
struct LineColumn {
  uint32_t line = 0;
  uint32_t column = 0;
};

/// Owns every buffer the compiler reads: plan files, imported modules and
/// the embedded stdlib. Offsets into these buffers are the locations used
/// everywhere else.
class SourceManager {
 public:
  FileId addFile(std::string name, std::string text);

  std::string_view name(FileId file) const;
  std::string_view text(FileId file) const;
  size_t fileCount() const { return files_.size(); }

  LineColumn lineColumn(FileId file, uint32_t offset) const;
  LineColumn begin(Range range) const { return lineColumn(range.file, range.begin); }
  LineColumn end(Range range) const { return lineColumn(range.file, range.end); }

  /// The text of a 1-based line, without its line break.
  std::string_view lineText(FileId file, uint32_t line) const;
  uint32_t lineCount(FileId file) const;

 private:
  struct File {
    std::string name;
    std::string text;
    std::vector<uint32_t> lineStarts;  // byte offset of each line's start
    /// Code points before each kBlock-byte block of the text, so that a
    /// column on a long line costs at most one block's scan, not the line's.
    std::vector<uint32_t> codePointsBefore;
  };
  static constexpr uint32_t kBlock = 1024;
  /// Code points in the first `offset` bytes of `f`'s text.
  static uint32_t codePointsUpTo(const File& f, uint32_t offset);
  const File& file(FileId id) const;

  std::vector<std::unique_ptr<File>> files_;
};

/// Number of code points in a UTF-8 byte string (invalid bytes count as one).
uint32_t countCodePoints(std::string_view utf8);

/// Byte offset of the first invalid UTF-8 sequence, or npos when valid.
size_t findInvalidUtf8(std::string_view text);

}  // namespace mig::source
