// Go to definition, document symbols and formatting.
#include <fmt/format.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "cli/lsp/cursor.h"
#include "cli/lsp/features.h"
#include "cli/lsp/lookup.h"
#include "compiler/format/formatter.h"
#include "compiler/parse/parser.h"

namespace mig::cli::lsp {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kStdlibPrefix = "<stdlib>/";

// LSP's SymbolKind.
enum SymbolKind : int {
  kModule = 2,
  kNamespace = 3,
  kPackage = 4,
  kProperty = 7,
  kField = 8,
  kInterface = 11,
  kFunction = 12,
  kConstant = 14,
  kObject = 19,
  kStruct = 23,
  kEvent = 24,
};

// The stdlib module `name` ("std/postgres.mig") written under the cache
// directory, rewritten when the binary's copy differs; its path, or "".
std::string stdlibFile(std::string_view name, std::string_view text) {
  fs::path path = fs::path(stdlibCacheDirectory()) / name;
  std::error_code error;
  if (fs::is_regular_file(path, error)) {
    std::ifstream in(path, std::ios::binary);
    std::string existing((std::istreambuf_iterator<char>(in)), {});
    if (existing == text) return path.string();
  }
  fs::create_directories(path.parent_path(), error);
  std::string temporary = path.string() + ".tmp";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out) return "";
  }
  fs::rename(temporary, path, error);
  return error ? "" : path.string();
}

std::vector<std::string_view> splitDots(std::string_view word) {
  std::vector<std::string_view> parts;
  for (size_t start = 0;;) {
    size_t dot = word.find('.', start);
    parts.push_back(word.substr(start, dot - start));
    if (dot == std::string_view::npos) return parts;
    start = dot + 1;
  }
}

// The range a definition of `word` (the cursor on its part `part`) points at.
source::Range definitionRange(const Document& document, std::string_view word, size_t part) {
  std::vector<std::string_view> parts = splitDots(word);
  if (parts.size() >= 2 && part >= 1) {
    if (const sema::Action* action =
            findAction(document, fmt::format("{}.{}", parts[0], parts[1]))) {
      return action->nameRange;
    }
    if (const sema::EndpointKind* kind = endpointKind(document, parts[0])) {
      if (const sema::Field* field = kind->field(parts[1])) return field->nameRange;
    }
  }
  std::string_view name = parts[0];
  if (const Declaration* declared = document.declaration(name)) return declared->nameRange;
  if (parts.size() >= 2) {
    if (const sema::Module* module = findModule(document, name)) return {module->file, 0, 0};
  }
  if (parts.size() == 1) {
    if (const sema::Action* action = findAction(document, name)) return action->nameRange;
  }
  if (const sema::EndpointKind* kind = findKind(document, name)) return kind->nameRange;
  return {};
}

nlohmann::json symbol(const Document& document, std::string name, std::string detail, int kind,
                      source::Range range, source::Range selection) {
  const LineIndex& lines = document.lines();
  if (!selection.valid() || selection.begin < range.begin || selection.end > range.end)
    selection = range;
  nlohmann::json out = {{"name", name.empty() ? "?" : std::move(name)},
                        {"kind", kind},
                        {"range", lines.rangeJson(range.begin, range.end)},
                        {"selectionRange", lines.rangeJson(selection.begin, selection.end)}};
  if (!detail.empty()) out["detail"] = std::move(detail);
  return out;
}

std::string labelsText(const ast::Block& block, size_t from) {
  std::string out;
  for (size_t i = from; i < block.labels.size(); ++i)
    out += (out.empty() ? "" : " ") + block.labels[i].text;
  return out;
}

nlohmann::json blockSymbol(const Document& document, const ast::Block& block, int kind,
                           std::string detail) {
  std::string name = block.labels.empty() ? block.keyword.text : block.labels[0].text;
  source::Range selection = block.labels.empty() ? block.keyword.range : block.labels[0].range;
  return symbol(document, std::move(name), std::move(detail), kind, block.range, selection);
}

nlohmann::json phaseSymbol(const Document& document, const ast::Block& phase) {
  nlohmann::json out = blockSymbol(document, phase, kNamespace, "phase");
  auto steps = nlohmann::json::array();
  for (const ast::Item& item : phase.items) {
    if (item.block && item.block->keyword.text == "step") {
      steps.push_back(blockSymbol(document, *item.block, kFunction, "step"));
    }
    const ast::Attribute* attr = item.attribute.get();
    if (attr && attr->name.text == "step" && attr->values.size() == 1 &&
        attr->values[0]->isSymbol()) {
      const ast::Identifier& name = attr->values[0]->path[0];
      std::string detail = attr->assigned ? attr->assigned->dottedPath() : "step";
      steps.push_back(symbol(document, name.text, detail, kFunction, attr->range, name.range));
    }
  }
  out["children"] = std::move(steps);
  return out;
}

nlohmann::json planSymbol(const Document& document, const ast::Block& plan) {
  nlohmann::json out = blockSymbol(document, plan, kModule, "plan");
  auto children = nlohmann::json::array();
  for (const ast::Item& item : plan.items) {
    if (!item.block) continue;
    const ast::Block& block = *item.block;
    const std::string& keyword = block.keyword.text;
    if (keyword == "phase") children.push_back(phaseSymbol(document, block));
    if (keyword == "secret") children.push_back(blockSymbol(document, block, kConstant, "secret"));
    if (keyword == "window") children.push_back(blockSymbol(document, block, kEvent, "window"));
    if (keyword == "facts") children.push_back(blockSymbol(document, block, kStruct, "facts"));
    if (keyword == "acl") children.push_back(blockSymbol(document, block, kProperty, "acl"));
    if (keyword == "source" || keyword == "target" || keyword == "endpoint") {
      children.push_back(
          blockSymbol(document, block, kObject, keyword + " " + labelsText(block, 1)));
    }
  }
  out["children"] = std::move(children);
  return out;
}

nlohmann::json kindSymbol(const Document& document, const ast::Block& kind) {
  nlohmann::json out = blockSymbol(document, kind, kStruct, "kind");
  auto fields = nlohmann::json::array();
  for (const ast::Item& item : kind.items) {
    if (!item.attribute) continue;
    const ast::Attribute& field = *item.attribute;
    fields.push_back(symbol(document, field.name.text, "", kField, field.range, field.name.range));
  }
  out["children"] = std::move(fields);
  return out;
}

}  // namespace

std::string stdlibCacheDirectory() {
  if (const char* cache = std::getenv("XDG_CACHE_HOME"); cache && *cache) {
    return (fs::path(cache) / "mig" / "stdlib").string();
  }
  if (const char* home = std::getenv("HOME"); home && *home) {
    return (fs::path(home) / ".cache" / "mig" / "stdlib").string();
  }
  return (fs::temp_directory_path() / "mig-stdlib").string();
}

std::optional<nlohmann::json> locationJson(const Document& document, source::Range range) {
  if (!range.valid()) return std::nullopt;
  if (range.file == document.file()) {
    return nlohmann::json{{"uri", document.uri()},
                          {"range", document.lines().rangeJson(range.begin, range.end)}};
  }
  const source::SourceManager& sources = document.sources();
  std::string_view name = sources.name(range.file);
  std::string_view text = sources.text(range.file);
  std::string path;
  if (name.starts_with(kStdlibPrefix)) {
    name.remove_prefix(kStdlibPrefix.size());
    path = stdlibFile(name, text);
  } else {
    std::error_code error;
    path = fs::absolute(name, error).string();
  }
  if (path.empty()) return std::nullopt;
  LineIndex lines(text, document.lines().encoding());
  return nlohmann::json{{"uri", uriFromPath(path)},
                        {"range", lines.rangeJson(range.begin, range.end)}};
}

nlohmann::json definition(const Document& document, uint32_t offset) {
  const std::string& text = document.text();
  auto word = wordAt(text, offset);
  if (!word) return nullptr;
  CursorContext context = cursorContext(text, word->begin);
  source::Range target;
  if (context.where == CursorContext::Where::String && !context.itemWords.empty() &&
      context.itemWords[0] == "import") {
    // import "std/postgres": the module's file.
    std::string_view line = text;
    uint32_t close = static_cast<uint32_t>(line.find('"', context.stringBegin));
    std::string_view path = line.substr(context.stringBegin, close - context.stringBegin);
    for (const auto& [moduleName, module] : document.scope().modules) {
      if (module->importPath == path) target = {module->file, 0, 0};
    }
  } else if (context.where == CursorContext::Where::Code ||
             context.where == CursorContext::Where::Interpolation) {
    size_t part = 0;
    for (uint32_t i = word->begin; i < offset && i < word->end; ++i) part += text[i] == '.';
    target = definitionRange(document, word->text, part);
  }
  auto location = locationJson(document, target);
  if (!location) return nullptr;
  return *location;
}

nlohmann::json documentSymbols(const Document& document) {
  auto symbols = nlohmann::json::array();
  const ast::File* file = document.ast();
  if (file == nullptr) return symbols;
  for (const ast::Item& item : file->items) {
    if (const ast::Attribute* attr = item.attribute.get()) {
      if (attr->name.text != "import" && attr->name.text != "module") continue;
      std::string value = attr->values.empty()
                              ? ""
                              : std::string(document.text().substr(
                                    attr->values[0]->range.begin,
                                    attr->values[0]->range.end - attr->values[0]->range.begin));
      int kind = attr->name.text == "import" ? kPackage : kModule;
      symbols.push_back(symbol(document, value, attr->name.text, kind, attr->range, attr->range));
      continue;
    }
    const ast::Block& block = *item.block;
    const std::string& keyword = block.keyword.text;
    if (keyword == "plan") symbols.push_back(planSymbol(document, block));
    if (keyword == "kind") symbols.push_back(kindSymbol(document, block));
    if (keyword == "action") symbols.push_back(blockSymbol(document, block, kFunction, "action"));
  }
  return symbols;
}

std::optional<nlohmann::json> formatting(const Document& document) {
  // Parsed again on its own, exactly as `mig fmt` does.
  source::SourceManager sources;
  diag::DiagnosticEngine diags;
  source::FileId file = sources.addFile(document.path(), document.text());
  auto tree = parse::parseFile(sources, file, diags);
  if (!tree->clean) return std::nullopt;
  std::string formatted = format::formatFile(sources, *tree);
  auto edits = nlohmann::json::array();
  if (formatted == document.text()) return edits;
  const std::string& text = document.text();
  edits.push_back({{"range", document.lines().rangeJson(0, static_cast<uint32_t>(text.size()))},
                   {"newText", std::move(formatted)}});
  return edits;
}

}  // namespace mig::cli::lsp
