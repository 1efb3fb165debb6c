#include "compiler/sema/compilation.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "compiler/parse/parser.h"
#include "compiler/sema/lint.h"

namespace mig::sema {

Compilation::Compilation(std::vector<std::string> searchPath)
    : modules_(sources_, diags_, std::move(searchPath)) {}

Compilation::~Compilation() = default;

std::optional<std::string> readWholeFile(const std::string& path, std::string& error) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    error = fmt::format("cannot read '{}': it is a directory", path);
    return std::nullopt;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = fmt::format("cannot read '{}': {}", path, std::strerror(errno));
    return std::nullopt;
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    error = fmt::format("cannot read '{}': {}", path, std::strerror(errno));
    return std::nullopt;
  }
  return text.str();
}

const CompiledFile* Compilation::addFile(const std::string& path, std::string& error) {
  if (const Module* module = modules_.loadedFile(path)) return alreadyLoaded(path, *module);
  auto text = readWholeFile(path, error);
  if (!text) return nullptr;
  return check(path, sources_.addFile(path, std::move(*text)));
}

const CompiledFile* Compilation::addText(std::string name, std::string text) {
  if (const Module* module = modules_.loadedFile(name)) return alreadyLoaded(name, *module);
  std::string path = name;
  return check(std::move(path), sources_.addFile(std::move(name), std::move(text)));
}

const CompiledFile* Compilation::alreadyLoaded(const std::string& path, const Module& module) {
  auto compiled = std::make_unique<CompiledFile>();
  compiled->path = path;
  compiled->file = module.file;
  compiled->module = &module;
  files_.push_back(std::move(compiled));
  return files_.back().get();
}

const CompiledFile* Compilation::check(std::string path, source::FileId file) {
  auto compiled = std::make_unique<CompiledFile>();
  compiled->path = std::move(path);
  compiled->file = file;
  std::unique_ptr<ast::File> tree = parse::parseFile(sources_, file, diags_);

  bool isModule = false;
  for (const ast::Item& item : tree->items) {
    if (item.attribute && item.attribute->name.text == "module") isModule = true;
  }
  if (isModule) {
    compiled->module = modules_.addModuleFile(std::move(tree), compiled->path);
  } else if (!tree->clean) {
    // A plan with syntax errors gets only those: the tree that error
    // recovery leaves (a missing '}' nests every later phase in one block)
    // would give checks and lint rules a plan the author did not write.
    compiled->ast = std::move(tree);
  } else {
    std::string directory = std::filesystem::path(compiled->path).parent_path().string();
    FileScope scope = modules_.importsOf(*tree, directory);
    compiled->checked = checkPlanFile(*tree, scope, diags_);
    if (compiled->checked.plan && compiled->checked.complete) {
      lintPlan(*compiled->checked.plan, compiled->checked.usage, diags_);
    }
    compiled->ast = std::move(tree);
  }
  files_.push_back(std::move(compiled));
  return files_.back().get();
}

}  // namespace mig::sema
