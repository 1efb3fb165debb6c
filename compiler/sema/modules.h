#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "compiler/ast/ast.h"
#include "compiler/diag/diagnostic.h"
#include "compiler/sema/model.h"

namespace mig::sema {

/// A module file (`module postgres`): the kinds and actions it declares.
struct Module {
  std::string name;
  std::string importPath;  ///< "std/postgres", or the file's path
  source::FileId file = source::kNoFile;
  std::unique_ptr<ast::File> ast;
  std::vector<std::unique_ptr<EndpointKind>> kinds;
  std::vector<std::unique_ptr<Action>> actions;

  const Action* action(std::string_view name) const;
  const EndpointKind* kind(std::string_view name) const;
};

/// The names a file sees: the modules it imports (by module name) and the
/// shell prelude, which every file sees without an import.
struct FileScope {
  std::map<std::string, const Module*> modules;
  const Module* prelude = nullptr;

  const EndpointKind* kind(std::string_view name) const;
  std::vector<std::string> kindNames() const;
};

/// Endpoint pseudo-fields, available on every endpoint besides its kind's
/// fields: `name` (the endpoint's name), `kind` (its kind's name) and `acl`
/// (the addresses its plan's ACL allows).
std::optional<Type> endpointPseudoFieldType(std::string_view field);

/// Finds, parses and checks modules, each once. Imports resolve against
/// the directory of the importing file (paths starting with ./, ../ or /),
/// then the MIG_PATH directories, then the stdlib embedded in the binary.
class ModuleSet {
 public:
  ModuleSet(source::SourceManager& sources, diag::DiagnosticEngine& diags,
            std::vector<std::string> searchPath);
  ~ModuleSet();

  /// The scope of a parsed file: loads what its `import` lines name and
  /// reports unknown-import for what cannot be found.
  FileScope importsOf(const ast::File& file, const std::string& directory);

  /// Checks a parsed file that holds a `module` line as a module of its own
  /// (for `mig lint` on library files).
  const Module* addModuleFile(std::unique_ptr<ast::File> file, const std::string& path);
  /// The module file at `path` if it was loaded already, by an import or
  /// given on its own, so that `mig lint plan.mig mod.mig` checks it once.
  const Module* loadedFile(const std::string& path) const;

  const std::vector<std::unique_ptr<Module>>& modules() const { return modules_; }

 private:
  const Module* load(const std::string& importPath, source::Range at, const std::string& directory);
  const Module* loadText(std::string key, std::string displayName, std::string importPath,
                         std::string text, const std::string& directory);
  void checkModule(Module& module, const std::string& directory);

  source::SourceManager& sources_;
  diag::DiagnosticEngine& diags_;
  std::vector<std::string> searchPath_;
  std::vector<std::unique_ptr<Module>> modules_;
  std::map<std::string, const Module*> byKey_;  ///< canonical path or "std/x"
  std::vector<std::string> loading_;            ///< keys being loaded, for cycles
  const Module* prelude_ = nullptr;
  bool preludeRequested_ = false;
};

/// The MIG_PATH environment variable, split at ':'.
std::vector<std::string> searchPathFromEnvironment();

}  // namespace mig::sema
