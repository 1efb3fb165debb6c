#include <fmt/format.h>

#include "compiler/diag/printers.h"

namespace mig::diag {
namespace {

// Workflow-command escaping: the message escapes %, CR and LF; property
// values also escape ':' and ','.
std::string escapeData(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '%': out += "%25"; break;
      case '\r': out += "%0D"; break;
      case '\n': out += "%0A"; break;
      default: out += c;
    }
  }
  return out;
}

std::string escapeProperty(std::string_view text) {
  std::string out;
  for (char c : escapeData(text)) {
    switch (c) {
      case ':': out += "%3A"; break;
      case ',': out += "%2C"; break;
      default: out += c;
    }
  }
  return out;
}

std::string_view command(Severity severity) {
  switch (severity) {
    case Severity::Error: return "error";
    case Severity::Warning: return "warning";
    case Severity::Note: return "notice";
  }
  return "error";
}

}  // namespace

void printGithub(std::ostream& out, const source::SourceManager& sources,
                 std::span<const Diagnostic> diagnostics, size_t maxPerFile) {
  DiagnosticLimit limit(diagnostics, maxPerFile);
  for (const Diagnostic& d : diagnostics) {
    if (!limit.shows(d)) continue;
    std::string_view rule = ruleInfo(d.rule).name;
    std::string message = d.message;
    for (const Note& note : d.notes) {
      if (note.range.valid()) {
        source::LineColumn at = sources.begin(note.range);
        message += fmt::format("\n{}:{}:{}: note: {}", sources.name(note.range.file), at.line,
                               at.column, note.message);
      } else {
        message += "\nnote: " + note.message;
      }
    }
    if (d.fix) message += "\nhelp: " + d.fix->message;

    out << "::" << command(d.severity) << ' ';
    if (d.range.valid()) {
      source::LineColumn from = sources.begin(d.range);
      source::LineColumn to = sources.end(d.range);
      out << "file=" << escapeProperty(sources.name(d.range.file)) << ",line=" << from.line
          << ",col=" << from.column << ",endLine=" << to.line;
      if (to.line == from.line) out << ",endColumn=" << to.column;
      out << ',';
    }
    out << "title=" << escapeProperty(rule) << "::" << escapeData(message) << '\n';
    if (auto left = limit.omittedAfter(d)) {
      out << "::notice ";
      if (left->file != source::kNoFile) {
        out << "file=" << escapeProperty(sources.name(left->file)) << ',';
      }
      out << "title=max-errors::" << escapeData(omittedMessage(*left)) << '\n';
    }
  }
}

}  // namespace mig::diag
