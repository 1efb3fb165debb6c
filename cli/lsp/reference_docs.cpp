#include "cli/lsp/reference_docs.h"

#include <fmt/format.h>

#include "compiler/sema/reference.h"

namespace mig::cli::lsp {
namespace {

std::string_view trimmed(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

// The text of a comment line, without '#' and one space after it.
std::string commentText(std::string_view line) {
  line = trimmed(line);
  line.remove_prefix(1);
  if (!line.empty() && line.front() == ' ') line.remove_prefix(1);
  return std::string(line);
}

// A comment at the end of a line of code (`port int = 5432  # the port`):
// the first '#' outside a string.
std::string trailingComment(std::string_view line) {
  bool inString = false;
  for (size_t i = 0; i < line.size(); ++i) {
    if (line[i] == '\\' && inString) {
      ++i;
      continue;
    }
    if (line[i] == '"') inString = !inString;
    if (line[i] == '#' && !inString) return commentText(line.substr(i));
  }
  return "";
}

std::string sourceText(const source::SourceManager& sources, source::Range range) {
  if (!range.valid()) return "";
  return std::string(sources.text(range.file).substr(range.begin, range.end - range.begin));
}

std::string defaultText(const source::SourceManager& sources, const ast::Expr* expr) {
  return expr ? sourceText(sources, expr->range) : "";
}

}  // namespace

std::string docComment(const source::SourceManager& sources, source::FileId file, uint32_t offset) {
  return sema::commentAbove(sources, file, sources.lineColumn(file, offset).line);
}

std::string actionSignature(const source::SourceManager& sources, const sema::Action& action) {
  std::string out = action.qualifiedName() + "(";
  for (size_t i = 0; i < action.params.size(); ++i) {
    const sema::Parameter& param = action.params[i];
    out += fmt::format("{}{}: {}", i ? ", " : "", param.name, param.type.name());
    if (param.defaultExpr) out += " = " + defaultText(sources, param.defaultExpr);
  }
  return out + ")";
}

std::string actionMarkdown(const source::SourceManager& sources, const sema::Action& action) {
  std::string out = fmt::format("```mig\naction {}\n```\n", actionSignature(sources, action));
  if (action.range.valid()) {
    std::string doc = docComment(sources, action.range.file, action.range.begin);
    if (!doc.empty()) out += "\n" + doc + "\n";
  }
  out += fmt::format("\neffect: `{}`", sema::effectName(action.effect));
  if (!action.requiredCommands.empty()) {
    out += fmt::format("; requires: `{}`", fmt::join(action.requiredCommands, "`, `"));
  }
  return out + "\n";
}

std::string kindMarkdown(const source::SourceManager& sources, const sema::EndpointKind& kind) {
  std::string out = fmt::format("```mig\nkind {} (module {})\n```\n", kind.name, kind.module);
  if (kind.nameRange.valid()) {
    std::string doc = docComment(sources, kind.nameRange.file, kind.nameRange.begin);
    if (!doc.empty()) out += "\n" + doc + "\n";
  }
  out += "\n| field | type | default | |\n|---|---|---|---|\n";
  for (const sema::Field& field : kind.fields) {
    std::string value = field.defaultExpr ? "`" + defaultText(sources, field.defaultExpr) + "`"
                        : field.optional  ? "optional"
                                          : "required";
    std::string comment;
    if (field.nameRange.valid()) {
      comment = docComment(sources, field.nameRange.file, field.nameRange.begin);
      uint32_t line = sources.begin(field.nameRange).line;
      std::string trailing = trailingComment(sources.lineText(field.nameRange.file, line));
      if (!trailing.empty()) comment += (comment.empty() ? "" : " ") + trailing;
    }
    for (char& c : comment) {
      if (c == '\n') c = ' ';
      if (c == '|') c = '/';
    }
    out +=
        fmt::format("| `{}` | `{}` | {} | {} |\n", field.name, field.type.name(), value, comment);
  }
  return out;
}

std::string ruleMarkdown(const diag::RuleInfo& rule) {
  return fmt::format(
      "**{}** ({}): {}\n\n{}\n\n**Why:** {}\n\n**Fix:** "
      "{}\n\n```mig\n{}\n```\nfixed:\n```mig\n{}\n```\n",
      rule.name, diag::severityName(rule.severity), rule.summary, rule.catches, rule.why, rule.fix,
      rule.bad, rule.good);
}

}  // namespace mig::cli::lsp
