#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "compiler/ast/ast.h"
#include "compiler/diag/diagnostic.h"
#include "compiler/sema/checker.h"
#include "compiler/sema/modules.h"

namespace mig::sema {

/// One file given to the compiler: a plan, or a module file.
struct CompiledFile {
  std::string path;
  source::FileId file = source::kNoFile;
  std::unique_ptr<ast::File> ast;
  CheckedPlan checked;            ///< a plan file
  const Module* module = nullptr;  ///< a module file
  bool isModule() const { return module != nullptr; }
};

/// Runs the front end over files: parse, imports, checks, lint. Files share
/// one source manager, one diagnostic engine and the modules they import,
/// which are loaded once.
class Compilation {
 public:
  explicit Compilation(std::vector<std::string> searchPath = searchPathFromEnvironment());
  ~Compilation();

  /// Reads, parses and checks `path`. Returns nullptr with `error` set when
  /// the file cannot be read.
  const CompiledFile* addFile(const std::string& path, std::string& error);
  /// The same for text already in memory (stdin, tests).
  const CompiledFile* addText(std::string name, std::string text);

  source::SourceManager& sources() { return sources_; }
  diag::DiagnosticEngine& diags() { return diags_; }
  /// The modules loaded so far; also loads more (the language server's
  /// completion in a file whose syntax errors stopped the compiler).
  ModuleSet& modules() { return modules_; }
  const std::vector<std::unique_ptr<CompiledFile>>& files() const { return files_; }

 private:
  const CompiledFile* check(std::string path, source::FileId file);
  const CompiledFile* alreadyLoaded(const std::string& path, const Module& module);

  source::SourceManager sources_;
  diag::DiagnosticEngine diags_;
  ModuleSet modules_;
  std::vector<std::unique_ptr<CompiledFile>> files_;
};

/// Reads a whole file; nullopt with `error` set ("cannot read 'x': No such
/// file or directory") when it cannot.
std::optional<std::string> readWholeFile(const std::string& path, std::string& error);

}  // namespace mig::sema
