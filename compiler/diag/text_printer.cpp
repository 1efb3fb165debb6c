#include <algorithm>

#include <fmt/format.h>
#include <fmt/ostream.h>

#include "compiler/diag/printers.h"

namespace mig::diag {
namespace {

constexpr std::string_view kReset = "\033[0m";
constexpr std::string_view kBold = "\033[1m";
constexpr std::string_view kRed = "\033[1;31m";
constexpr std::string_view kMagenta = "\033[1;35m";
constexpr std::string_view kCyan = "\033[1;36m";
constexpr std::string_view kGreen = "\033[1;32m";

class TextPrinter {
 public:
  TextPrinter(std::ostream& out, const source::SourceManager& sources, TextStyle style,
              std::span<const Diagnostic> all)
      : out_(out), sources_(sources), style_(style) {
    // A secret written as a literal is reported, but never shown again.
    for (const Diagnostic& d : all) {
      if (d.rule == Rule::SecretLiteral) secrets_.push_back(d.range);
    }
  }

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
  // and tildes under the rest of it (on that line).
  void snippet(source::Range range) {
    if (!range.valid()) return;
    source::LineColumn from = sources_.begin(range);
    source::LineColumn to = sources_.end(range);
    std::string line = printable(masked(range.file, from.line));
    std::string gutter = fmt::format("{:>5} | ", from.line);
    out_ << gutter << line << '\n';

    // Pad with the line's own tabs so the caret lines up in any tab width.
    std::string pad;
    uint32_t column = 1;
    size_t i = 0;
    for (; i < line.size() && column < from.column; ++i) {
      unsigned char c = line[i];
      if ((c & 0xC0) == 0x80) continue;
      pad += c == '\t' ? '\t' : ' ';
      ++column;
    }
    uint32_t width = 1;
    if (to.line == from.line && to.column > from.column) width = to.column - from.column;
    if (to.line != from.line) {
      uint32_t lineColumns = source::countCodePoints(line) + 1;
      width = std::max<uint32_t>(1, lineColumns - from.column);
    }
    std::string marker = "^" + std::string(width - 1, '~');
    out_ << std::string(gutter.size() - 2, ' ') << "| " << pad << paint(kGreen, marker) << '\n';
  }

  // The line with every byte that is not valid UTF-8 (or a control
  // character) shown as '?', so a bad file cannot garble the terminal.
  static std::string printable(std::string_view line) {
    std::string out;
    while (!line.empty()) {
      size_t bad = source::findInvalidUtf8(line);
      std::string_view good = line.substr(0, bad);
      for (char c : good) out += (static_cast<unsigned char>(c) < 0x20 && c != '\t') ? '?' : c;
      if (bad == std::string_view::npos) break;
      out += '?';
      line.remove_prefix(bad + 1);
    }
    return out;
  }

  // The line with every secret literal on it replaced by asterisks (its
  // quotes kept), so that reporting a password does not print it.
  std::string masked(source::FileId file, uint32_t lineNumber) const {
    std::string_view text = sources_.lineText(file, lineNumber);
    std::string line(text);
    auto lineBegin = static_cast<uint32_t>(text.data() - sources_.text(file).data());
    auto lineEnd = lineBegin + static_cast<uint32_t>(text.size());
    for (const source::Range& secret : secrets_) {
      if (secret.file != file || secret.end <= lineBegin || secret.begin >= lineEnd) continue;
      size_t begin = std::max(secret.begin, lineBegin) - lineBegin;
      size_t end = std::min(secret.end, lineEnd) - lineBegin;
      for (size_t i = begin; i < end; ++i) {
        if (line[i] != '"') line[i] = '*';
      }
    }
    return line;
  }

  std::ostream& out_;
  const source::SourceManager& sources_;
  TextStyle style_;
  std::vector<source::Range> secrets_;
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
  for (const Diagnostic& d : diagnostics) printer.print(d);
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
