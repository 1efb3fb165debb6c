#include "cli/lsp/document.h"

#include <fmt/format.h>

#include <cctype>
#include <filesystem>

namespace mig::cli::lsp {
namespace {

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool unreserved(unsigned char c) {
  return std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '/';
}

}  // namespace

std::optional<std::string> pathFromUri(std::string_view uri) {
  constexpr std::string_view kScheme = "file://";
  if (!uri.starts_with(kScheme)) return std::nullopt;
  uri.remove_prefix(kScheme.size());
  // file://host/path: only the local host is ours.
  if (!uri.starts_with("/")) {
    size_t slash = uri.find('/');
    if (slash == std::string_view::npos || uri.substr(0, slash) != "localhost") return std::nullopt;
    uri.remove_prefix(slash);
  }
  std::string path;
  for (size_t i = 0; i < uri.size(); ++i) {
    if (uri[i] == '%' && i + 2 < uri.size() && hexValue(uri[i + 1]) >= 0 &&
        hexValue(uri[i + 2]) >= 0) {
      path += static_cast<char>(hexValue(uri[i + 1]) * 16 + hexValue(uri[i + 2]));
      i += 2;
      continue;
    }
    path += uri[i];
  }
  return path;
}

std::string uriFromPath(std::string_view path) {
  std::string uri = "file://";
  for (unsigned char c : path) {
    if (unreserved(c)) {
      uri += static_cast<char>(c);
    } else {
      uri += fmt::format("%{:02X}", c);
    }
  }
  return uri;
}

Document::Document(std::string uri, std::string text, Encoding encoding)
    : uri_(std::move(uri)), text_(std::move(text)), lines_(text_, encoding) {
  path_ = pathFromUri(uri_).value_or(uri_);
  compilation_ = std::make_unique<sema::Compilation>();
  compiled_ = compilation_->addText(path_, text_);

  // The same diagnostics, in the same order, as `mig lint` on this file.
  diag::DiagnosticEngine& diags = compilation_->diags();
  diags.sort(compilation_->sources());
  for (const diag::Diagnostic& d : diags.diagnostics()) {
    if (!d.range.valid() || d.range.file == compiled_->file) diagnostics_.push_back(d);
  }

  const ast::File* tree = ast();
  if (tree == nullptr) return;
  // Loads the imports also of a file the compiler stopped at (syntax
  // errors); whatever this reports is not the file's lint and is dropped.
  std::string directory = std::filesystem::path(path_).parent_path().string();
  scope_ = compilation_->modules().importsOf(*tree, directory);
  for (const ast::Item& item : tree->items) {
    if (item.block && item.block->keyword.text == "plan") collectDeclarations(*item.block);
  }
}

const ast::File* Document::ast() const {
  if (compiled_->module) return compiled_->module->ast.get();
  return compiled_->ast.get();
}

const Declaration* Document::declaration(std::string_view name) const {
  for (const Declaration& d : declarations_) {
    if (d.name == name) return &d;
  }
  return nullptr;
}

void Document::collectDeclarations(const ast::Block& plan) {
  using Kind = Declaration::Kind;
  auto add = [&](Kind kind, const ast::Identifier& name, std::string detail = {}) {
    declarations_.push_back({kind, name.text, std::move(detail), name.range});
  };
  for (const ast::Item& item : plan.items) {
    if (!item.block || item.block->labels.empty()) continue;
    const ast::Block& block = *item.block;
    const std::string& keyword = block.keyword.text;
    if (keyword == "secret") add(Kind::Secret, block.labels[0]);
    if (keyword == "window") add(Kind::Window, block.labels[0]);
    if (keyword == "host") add(Kind::Host, block.labels[0]);
    if (keyword == "source" || keyword == "target" || keyword == "endpoint") {
      add(Kind::Endpoint, block.labels[0], block.labels.size() > 1 ? block.labels[1].text : "");
    }
    if (keyword != "phase") continue;
    for (const ast::Item& inPhase : block.items) {
      if (inPhase.block && inPhase.block->keyword.text == "step" &&
          !inPhase.block->labels.empty()) {
        add(Kind::Step, inPhase.block->labels[0]);
      }
      const ast::Attribute* attr = inPhase.attribute.get();
      if (attr && attr->name.text == "step" && attr->values.size() == 1 &&
          attr->values[0]->isSymbol()) {
        add(Kind::Step, attr->values[0]->path[0]);
      }
    }
  }
}

}  // namespace mig::cli::lsp
