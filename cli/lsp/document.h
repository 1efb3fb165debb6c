#pragma once

#include <memory>
#include <string>
#include <vector>

#include "cli/lsp/positions.h"
#include "compiler/diag/diagnostic.h"
#include "compiler/sema/compilation.h"

/// An open document and what the compiler made of it.
namespace mig::cli::lsp {

/// A name a plan declares, found in its syntax tree (so also in a plan with
/// errors): where `after`, references and interpolations point.
struct Declaration {
  enum class Kind { Secret, Endpoint, Window, Host, Step };
  Kind kind = Kind::Step;
  std::string name;
  std::string detail;  ///< endpoints: their kind's name
  source::Range nameRange;
};

/// A document's text, compiled the way `mig lint` compiles a file: its
/// imports resolve against the directory of its path.
class Document {
 public:
  Document(std::string uri, std::string text, Encoding encoding);
  Document(const Document&) = delete;
  Document& operator=(const Document&) = delete;

  const std::string& uri() const { return uri_; }
  /// The file system path of a file: URI; the URI itself otherwise.
  const std::string& path() const { return path_; }
  const std::string& text() const { return text_; }
  const LineIndex& lines() const { return lines_; }

  const source::SourceManager& sources() const { return compilation_->sources(); }
  source::FileId file() const { return compiled_->file; }
  /// What was parsed; it holds what error recovery kept when `!clean`.
  const ast::File* ast() const;
  /// The checked plan, when the file is a plan that checked.
  const sema::Plan* plan() const { return compiled_->checked.plan.get(); }
  /// The module, when the file is a module.
  const sema::Module* module() const { return compiled_->module; }
  /// The modules the document's imports name, and the prelude; loaded also
  /// when the document has syntax errors, for completion.
  const sema::FileScope& scope() const { return scope_; }

  /// This document's diagnostics as `mig lint` reports them, in its order.
  const std::vector<diag::Diagnostic>& diagnostics() const { return diagnostics_; }
  const std::vector<Declaration>& declarations() const { return declarations_; }
  const Declaration* declaration(std::string_view name) const;

 private:
  void collectDeclarations(const ast::Block& plan);

  std::string uri_;
  std::string path_;
  std::string text_;
  LineIndex lines_;
  std::unique_ptr<sema::Compilation> compilation_;
  const sema::CompiledFile* compiled_ = nullptr;
  sema::FileScope scope_;
  std::vector<diag::Diagnostic> diagnostics_;
  std::vector<Declaration> declarations_;
};

/// `file:///a%20b/x.mig` -> `/a b/x.mig`; nullopt for another scheme.
std::optional<std::string> pathFromUri(std::string_view uri);
/// `/a b/x.mig` -> `file:///a%20b/x.mig`
std::string uriFromPath(std::string_view path);

}  // namespace mig::cli::lsp
