#include <fmt/format.h>

#include "cli/lsp/cursor.h"
#include "cli/lsp/features.h"
#include "cli/lsp/lookup.h"
#include "cli/lsp/reference_docs.h"

namespace mig::cli::lsp {
namespace {

std::string_view declarationKindName(Declaration::Kind kind) {
  switch (kind) {
    case Declaration::Kind::Secret:
      return "secret";
    case Declaration::Kind::Endpoint:
      return "endpoint";
    case Declaration::Kind::Window:
      return "window";
    case Declaration::Kind::Host:
      return "host";
    case Declaration::Kind::Step:
      return "step";
  }
  return "";
}

std::string fieldMarkdown(const Document& document, const sema::EndpointKind& kind,
                          const sema::Field& field) {
  std::string out = fmt::format("```mig\n{}.{} {}", kind.name, field.name, field.type.name());
  if (field.defaultExpr) {
    const source::Range at = field.defaultExpr->range;
    out +=
        " = " + std::string(document.sources().text(at.file).substr(at.begin, at.end - at.begin));
  }
  out += "\n```\n";
  std::string doc = docComment(document.sources(), field.nameRange.file, field.nameRange.begin);
  if (!doc.empty()) out += "\n" + doc + "\n";
  return out;
}

// What the dotted name `word` says where the cursor is (on its part
// `part`), or "".
std::string nameMarkdown(const Document& document, std::string_view word, size_t part,
                         const CursorContext& context) {
  std::vector<std::string_view> parts;
  for (size_t start = 0;;) {
    size_t dot = word.find('.', start);
    parts.push_back(word.substr(start, dot - start));
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  if (parts.size() >= 2 && part >= 1) {
    std::string dotted = fmt::format("{}.{}", parts[0], parts[1]);
    if (const sema::Action* action = findAction(document, dotted)) {
      return actionMarkdown(document.sources(), *action);
    }
    if (const sema::EndpointKind* kind = endpointKind(document, parts[0])) {
      if (const sema::Field* field = kind->field(parts[1]))
        return fieldMarkdown(document, *kind, *field);
    }
  }
  std::string_view name = parts[std::min(part, parts.size() - 1)];
  bool kindPosition = context.itemWords.size() == 2 &&
                      (context.itemWords[0] == "source" || context.itemWords[0] == "target" ||
                       context.itemWords[0] == "endpoint");
  if (!kindPosition) {
    if (const Declaration* declared = document.declaration(name)) {
      std::string out =
          fmt::format("```mig\n{} {}{}\n```\n", declarationKindName(declared->kind), declared->name,
                      declared->detail.empty() ? "" : " " + declared->detail);
      return out;
    }
    if (parts.size() == 1) {
      if (const sema::Action* action = findAction(document, name)) {
        return actionMarkdown(document.sources(), *action);
      }
    }
  }
  if (const sema::EndpointKind* kind = findKind(document, name)) {
    return kindMarkdown(document.sources(), *kind);
  }
  if (const sema::Module* module = findModule(document, name); module && parts.size() >= 2) {
    return fmt::format("```mig\nmodule {}\n```\nimported from \"{}\"\n", module->name,
                       module->importPath);
  }
  return "";
}

nlohmann::json hoverResult(const Document& document, const Word& word, std::string markdown) {
  return {{"contents", {{"kind", "markdown"}, {"value", std::move(markdown)}}},
          {"range", document.lines().rangeJson(word.begin, word.end)}};
}

}  // namespace

nlohmann::json hover(const Document& document, uint32_t offset) {
  const std::string& text = document.text();
  // A rule's name in a comment (`# mig:allow(acl-too-open)`).
  if (auto word = wordAt(text, offset, /*dashes=*/true)) {
    CursorContext context = cursorContext(text, word->begin);
    if (context.where == CursorContext::Where::Comment) {
      if (auto rule = diag::findRule(word->text)) {
        return hoverResult(document, *word, ruleMarkdown(diag::ruleInfo(*rule)));
      }
      return nullptr;
    }
  }
  if (auto word = wordAt(text, offset)) {
    CursorContext context = cursorContext(text, word->begin);
    if (context.where == CursorContext::Where::Code ||
        context.where == CursorContext::Where::Interpolation) {
      size_t part = 0;
      for (uint32_t i = word->begin; i < offset && i < word->end; ++i) part += text[i] == '.';
      std::string markdown = nameMarkdown(document, word->text, part, context);
      if (!markdown.empty()) return hoverResult(document, *word, std::move(markdown));
    }
  }
  // Elsewhere in a diagnostic's range: the rule that reported it.
  for (const diag::Diagnostic& d : document.diagnostics()) {
    if (!d.range.valid() || offset < d.range.begin || offset > d.range.end) continue;
    return {{"contents", {{"kind", "markdown"}, {"value", ruleMarkdown(diag::ruleInfo(d.rule))}}},
            {"range", document.lines().rangeJson(d.range.begin, d.range.end)}};
  }
  return nullptr;
}

}  // namespace mig::cli::lsp
