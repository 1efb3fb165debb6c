#include <fmt/format.h>
#include <fmt/ostream.h>

#include <algorithm>

#include "compiler/diag/printers.h"
#include "compiler/diag/secret_mask.h"

namespace mig::diag {
namespace {

constexpr std::string_view kReset = "\033[0m";
constexpr std::string_view kBold = "\033[1m";
constexpr std::string_view kRed = "\033[1;31m";
constexpr std::string_view kMagenta = "\033[1;35m";
constexpr std::string_view kCyan = "\033[1;36m";
constexpr std::string_view kGreen = "\033[1;32m";

// A source line wider than this many code points is cut around the range,
// as clang does, with "..." where text was left out.
constexpr uint32_t kMaxSnippetColumns = 120;

bool isContinuation(char c) {
  return (static_cast<unsigned char>(c) & 0xC0) == 0x80;
}

class TextPrinter {
 public:
  TextPrinter(std::ostream& out, const source::SourceManager& sources, TextStyle style,
              std::span<const Diagnostic> all)
      : out_(out), sources_(sources), style_(style), secrets_(all) {}

  void print(const Diagnostic& d) {
    header(d.range, d.severity, d.message, ruleInfo(d.rule).name);
    snippet(d.range);
    for (const Note& note : d.notes) {
      header(note.range, Severity::Note, note.message, {});
      snippet(note.range);
    }
    if (d.fix) {
      out_ << paint(kCyan, "help") << ": " << d.fix->message << '\n';
    }
  }

  // The line that says what --max-errors left out of a file.
  void omitted(const Omitted& left) {
    std::string location;
    if (left.file != source::kNoFile) location = fmt::format("{}: ", sources_.name(left.file));
    out_ << paint(kBold, location) << paint(kCyan, "note") << ": "
         << paint(kBold, omittedMessage(left)) << '\n';
  }

 private:
  std::string paint(std::string_view color, std::string_view text) const {
    if (!style_.color) return std::string(text);
    return fmt::format("{}{}{}", color, text, kReset);
  }

  void header(source::Range range, Severity severity, std::string_view message,
              std::string_view rule) {
    std::string location;
    if (range.valid()) {
      source::LineColumn at = sources_.begin(range);
      location = fmt::format("{}:{}:{}: ", sources_.name(range.file), at.line, at.column);
    }
    std::string_view color = severity == Severity::Error     ? kRed
                             : severity == Severity::Warning ? kMagenta
                                                             : kCyan;
    out_ << paint(kBold, location) << paint(color, severityName(severity)) << ": "
         << paint(kBold, message);
    if (!rule.empty()) out_ << " [" << rule << "]";
    out_ << '\n';
  }

  // The source line, then a caret under the first character of the range
  // and tildes under the rest of it (on that line). A long line is cut to
  // a window of kMaxSnippetColumns code points around the range. Every
  // step costs the window's width, never the line's, so that thousands
  // of diagnostics on one huge line print quickly.
  void snippet(source::Range range) {
    if (!range.valid()) return;
    source::LineColumn from = sources_.begin(range);
    source::LineColumn to = sources_.end(range);
    std::string_view text = sources_.text(range.file);
    std::string_view line = sources_.lineText(range.file, from.line);
    auto lineBegin = static_cast<uint32_t>(line.data() - text.data());
    auto lineEnd = lineBegin + static_cast<uint32_t>(line.size());
    uint32_t caret = std::clamp(range.begin, lineBegin, lineEnd);
    while (caret > lineBegin && isContinuation(text[caret])) --caret;

    // How many code points the marker spans: to the range's end on this
    // line, or to the end of the line (at least one).
    uint32_t width = 1;
    if (to.line == from.line && to.column > from.column) width = to.column - from.column;
    if (to.line != from.line) {
      uint32_t end = walkForward(text, caret, lineEnd, kMaxSnippetColumns + 1);
      width = std::max<uint32_t>(1, countCells(text, caret, end));
    }

    // The window: the whole line when it fits, else the range centred in
    // kMaxSnippetColumns code points (its start kept when it is wider).
    uint32_t first = lineBegin;
    uint32_t last = lineEnd;
    if (line.size() > kMaxSnippetColumns) {
      uint32_t shown = std::min(width, kMaxSnippetColumns - kMaxSnippetColumns / 4);
      first = walkBackward(text, caret, lineBegin, (kMaxSnippetColumns - shown) / 2);
      last = walkForward(text, first, lineEnd, kMaxSnippetColumns);
      if (last == lineEnd) first = walkBackward(text, lineEnd, lineBegin, kMaxSnippetColumns);
    }
    bool cutBefore = first > lineBegin;
    bool cutAfter = last < lineEnd;

    std::string gutter = fmt::format("{:>5} | ", from.line);
    out_ << gutter << (cutBefore ? "..." : "") << display(range.file, text, first, last)
         << (cutAfter ? "..." : "") << '\n';

    // Pad with the line's own tabs so the caret lines up in any tab width.
    std::string pad = cutBefore ? "   " : "";
    for (uint32_t i = first; i < caret; ++i) {
      if (!isContinuation(text[i])) pad += text[i] == '\t' ? '\t' : ' ';
    }
    uint32_t visible = std::max<uint32_t>(1, countCells(text, caret, last));
    // Built by append: GCC 12 at -O3 warns (-Wrestrict, a false positive)
    // about "^" + std::string(...).
    std::string marker(1, '^');
    marker.append(std::min(width, visible) - 1, '~');
    out_ << std::string(gutter.size() - 2, ' ') << "| " << pad << paint(kGreen, marker) << '\n';
  }

  // The offset `cells` code points after `at`, or `limit` when nearer.
  static uint32_t walkForward(std::string_view text, uint32_t at, uint32_t limit, uint32_t cells) {
    for (uint32_t n = 0; at < limit && n < cells; ++n) {
      ++at;
      while (at < limit && isContinuation(text[at])) ++at;
    }
    return at;
  }

  // The offset `cells` code points before `at`, or `limit` when nearer.
  static uint32_t walkBackward(std::string_view text, uint32_t at, uint32_t limit, uint32_t cells) {
    for (uint32_t n = 0; at > limit && n < cells; ++n) {
      --at;
      while (at > limit && isContinuation(text[at])) --at;
    }
    return at;
  }

  static uint32_t countCells(std::string_view text, uint32_t from, uint32_t to) {
    return source::countCodePoints(text.substr(from, to - from));
  }

  // Bytes [first, last) of a line as printed: one character per code
  // point, so the caret lines up. A secret literal shows as '*' (its
  // quotes kept); a code point that is not valid UTF-8, or a control
  // character, as '?', so a bad file cannot garble the terminal.
  std::string display(source::FileId file, std::string_view text, uint32_t first,
                      uint32_t last) const {
    std::string out;
    uint32_t i = first;
    while (i < last) {
      uint32_t next = walkForward(text, i, last, 1);
      std::string_view cell = text.substr(i, next - i);
      if (cell != "\"" && secrets_.covers(file, i)) {
        out += '*';
      } else if (cell.size() == 1 && static_cast<unsigned char>(cell[0]) < 0x20 &&
                 cell[0] != '\t') {
        out += '?';
      } else if (source::findInvalidUtf8(cell) != std::string_view::npos) {
        out += '?';
      } else {
        out += cell;
      }
      i = next;
    }
    return out;
  }

  std::ostream& out_;
  const source::SourceManager& sources_;
  TextStyle style_;
  SecretMask secrets_;
};

}  // namespace

std::string_view severityName(Severity severity) {
  switch (severity) {
    case Severity::Error: return "error";
    case Severity::Warning: return "warning";
    case Severity::Note: return "note";
  }
  return "error";
}

void printText(std::ostream& out, const source::SourceManager& sources,
               std::span<const Diagnostic> diagnostics, TextStyle style) {
  TextPrinter printer(out, sources, style, diagnostics);
  DiagnosticLimit limit(diagnostics, style.maxPerFile);
  for (const Diagnostic& d : diagnostics) {
    if (!limit.shows(d)) continue;
    printer.print(d);
    if (auto left = limit.omittedAfter(d)) printer.omitted(*left);
  }
}

std::string summaryLine(size_t errors, size_t warnings) {
  if (errors == 0 && warnings == 0) return "no problems found";
  auto plural = [](size_t n, std::string_view word) {
    return fmt::format("{} {}{}", n, word, n == 1 ? "" : "s");
  };
  if (errors == 0) return plural(warnings, "warning");
  if (warnings == 0) return plural(errors, "error");
  return plural(errors, "error") + ", " + plural(warnings, "warning");
}

}  // namespace mig::diag
