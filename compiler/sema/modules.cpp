#include "compiler/sema/modules.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "compiler/parse/parser.h"
#include "compiler/sema/resolve.h"
#include "stdlib/embedded.h"

namespace mig::sema {
namespace {

namespace fs = std::filesystem;
using Tag = Type::Tag;

std::string pathText(const std::vector<ast::Identifier>& path) {
  std::string out;
  for (const ast::Identifier& part : path) out += (out.empty() ? "" : ".") + part.text;
  return out;
}

source::Range pathRange(const std::vector<ast::Identifier>& path) {
  return {path.front().range.file, path.front().range.begin, path.back().range.end};
}

// Names inside a kind's defaults: the kind's own fields.
class KindScope : public Scope {
 public:
  KindScope(const EndpointKind& kind, diag::DiagnosticEngine& diags) : kind_(kind), diags_(diags) {}

  std::optional<Resolved> resolve(const std::vector<ast::Identifier>& path) override {
    const Field* field = kind_.field(path[0].text);
    if (field == nullptr) {
      std::vector<std::string> names;
      for (const Field& f : kind_.fields) names.push_back(f.name);
      auto& d = diags_.report(diag::Rule::UndefinedReference, path[0].range,
                              fmt::format("kind '{}' has no field '{}'", kind_.name, path[0].text));
      if (auto near = closestName(path[0].text, names)) {
        d.fix = diag::FixHint{fmt::format("did you mean '{}'?", *near), path[0].range, *near};
      }
      return std::nullopt;
    }
    Ref ref{Ref::To::Field};
    ref.name = field->name;
    ref.range = pathRange(path);
    if (path.size() == 1) return Resolved{ref, field->type};
    if (path.size() == 2) {
      if (auto type = pseudoFieldType(field->type, path[1].text)) {
        ref.name += "." + path[1].text;
        return Resolved{ref, *type};
      }
    }
    if (field->type.tag == Tag::Invalid) return std::nullopt;  // its type was reported
    diags_.report(diag::Rule::UndefinedReference, pathRange(path),
                  fmt::format("'{}' names nothing: field '{}' is {}", pathText(path), field->name,
                              field->type.nameWithArticle()));
    return std::nullopt;
  }

 private:
  const EndpointKind& kind_;
  diag::DiagnosticEngine& diags_;
};

// Names inside an action: its parameters, and the fields of endpoint
// parameters.
class ActionScope : public Scope {
 public:
  ActionScope(const Action& action, diag::DiagnosticEngine& diags) : action_(action), diags_(diags) {}

  std::optional<Resolved> resolve(const std::vector<ast::Identifier>& path) override {
    const Parameter* param = action_.param(path[0].text);
    if (param == nullptr) {
      std::vector<std::string> names;
      for (const Parameter& p : action_.params) names.push_back(p.name);
      auto& d = diags_.report(diag::Rule::UndefinedReference, path[0].range,
                              fmt::format("action '{}' has no parameter '{}'",
                                          action_.qualifiedName(), path[0].text));
      if (auto near = closestName(path[0].text, names)) {
        d.fix = diag::FixHint{fmt::format("did you mean '{}'?", *near), path[0].range, *near};
      }
      return std::nullopt;
    }
    Ref ref{Ref::To::Parameter};
    ref.parameter = param;
    ref.name = param->name;
    ref.range = pathRange(path);
    if (path.size() == 1) return Resolved{ref, param->type};
    ref.to = Ref::To::ParameterField;
    ref.name = path[1].text;
    if (path.size() == 2) {
      if (auto type = pseudoFieldType(param->type, path[1].text)) return Resolved{ref, *type};
      if (param->type.tag == Tag::Endpoint) {
        if (auto type = fieldOfKinds(*param, path[1])) return Resolved{ref, *type};
        return std::nullopt;
      }
    }
    if (param->type.tag == Tag::Invalid) return std::nullopt;  // its type was reported
    diags_.report(diag::Rule::UndefinedReference, pathRange(path),
                  fmt::format("'{}' names nothing: parameter '{}' is {}", pathText(path),
                              param->name, param->type.nameWithArticle()));
    return std::nullopt;
  }

 private:
  // A field of the kinds the parameter accepts, with one type. Kinds
  // without it interpolate it as empty (`${target.users}` in an action for
  // postgres|mysql); a field no kind has is an error.
  std::optional<Type> fieldOfKinds(const Parameter& param, const ast::Identifier& field) {
    if (auto type = endpointPseudoFieldType(field.text)) return type;
    if (param.type.kinds.empty()) {
      diags_.report(diag::Rule::UndefinedReference, field.range,
                    fmt::format("parameter '{}' accepts any endpoint, which has only the fields "
                                "name, kind and acl",
                                param.name));
      return std::nullopt;
    }
    std::optional<Type> type;
    std::vector<std::string> kindNames;
    for (const EndpointKind* kind : param.type.kinds) {
      kindNames.push_back(kind->name);
      const Field* f = kind->field(field.text);
      if (f == nullptr) continue;
      if (type && type->name() != f->type.name()) {
        diags_.report(diag::Rule::TypeMismatch, field.range,
                      fmt::format("field '{}' has different types in the kinds of parameter '{}'",
                                  field.text, param.name));
        return std::nullopt;
      }
      type = f->type;
    }
    if (!type) {
      std::string message =
          kindNames.size() == 1
              ? fmt::format("kind '{}' of parameter '{}' has no field '{}'", kindNames[0],
                            param.name, field.text)
              : fmt::format("no kind of parameter '{}' ({}) has a field '{}'", param.name,
                            fmt::join(kindNames, "|"), field.text);
      diags_.report(diag::Rule::UndefinedReference, field.range, message);
    }
    return type;
  }

  const Action& action_;
  diag::DiagnosticEngine& diags_;
};

const std::set<std::string_view> kBuiltinTypes = {"string", "command", "int",    "bool",
                                                  "duration", "size", "secret", "endpoint"};

class SchemaBuilder {
 public:
  SchemaBuilder(Module& module, const FileScope& scope, diag::DiagnosticEngine& diags)
      : module_(module), scope_(scope), diags_(diags), values_(diags) {}

  void buildKind(const ast::Block& block) {
    if (block.labels.size() != 1 || block.params) {
      diags_.report(diag::Rule::MissingAttribute, block.header,
                    "a kind is declared as `kind NAME {`");
      if (block.labels.empty()) return;
    }
    auto kind = std::make_unique<EndpointKind>();
    kind->name = block.labels[0].text;
    kind->module = module_.name;
    kind->nameRange = block.labels[0].range;
    if (!declare(kind->name, kind->nameRange)) return;

    std::map<std::string, Range> seen;
    for (const ast::Item& item : block.items) {
      if (item.block) {
        diags_.report(diag::Rule::UnknownAttribute, item.block->keyword.range,
                      fmt::format("a kind holds fields, not '{}' blocks", item.block->keyword.text));
        continue;
      }
      const ast::Attribute& attr = *item.attribute;
      if (!firstOf(seen, attr.name)) continue;
      if (attr.name.text == "credentials") {
        kind->credentials = buildCredentials(attr);
        continue;
      }
      if (auto field = buildField(attr)) kind->fields.push_back(std::move(*field));
    }
    // Defaults may name other fields, so they are checked once all are known.
    KindScope kindScope(*kind, diags_);
    for (Field& field : kind->fields) {
      if (field.defaultExpr == nullptr) continue;
      if (field.type.tag == Tag::Secret) {
        diags_.report(diag::Rule::SecretLiteral, field.defaultExpr->range,
                      fmt::format("secret field '{}' cannot have a default", field.name));
        continue;
      }
      field.defaultValue = values_.check(*field.defaultExpr, field.type, kindScope);
    }
    if (kind->credentials.delivery != Credentials::Delivery::None && !kind->secretField()) {
      diags_.report(diag::Rule::MissingAttribute, block.header,
                    fmt::format("kind '{}' declares credentials but has no field of type secret",
                                kind->name));
    }
    module_.kinds.push_back(std::move(kind));
  }

  void buildAction(const ast::Block& block) {
    if (block.labels.size() != 1 || !block.params) {
      diags_.report(diag::Rule::MissingAttribute, block.header,
                    "an action is declared as `action NAME(PARAM: TYPE, ...) {`");
      if (block.labels.empty()) return;
    }
    auto action = std::make_unique<Action>();
    action->module = module_.name;
    action->name = block.labels[0].text;
    action->declaredIn = &module_;
    action->nameRange = block.labels[0].range;
    action->range = block.range;
    if (!declare(action->name, action->nameRange)) return;

    std::map<std::string, Range> seenParams;
    if (block.params) {
      for (const ast::Argument& arg : *block.params) {
        if (!arg.name) {
          diags_.report(diag::Rule::MissingAttribute, arg.range,
                        "a parameter is written `NAME: TYPE`");
          continue;
        }
        if (!firstOf(seenParams, *arg.name)) continue;
        Parameter param;
        param.name = arg.name->text;
        param.nameRange = arg.name->range;
        param.type = buildType(*arg.value);
        param.defaultExpr = arg.defaultValue.get();
        action->params.push_back(std::move(param));
      }
    }
    ActionScope actionScope(*action, diags_);
    for (Parameter& param : action->params) {
      if (param.defaultExpr) param.defaultValue = values_.check(*param.defaultExpr, param.type, actionScope);
    }

    std::map<std::string, Range> seen;
    bool hasRun = false;
    for (const ast::Item& item : block.items) {
      if (item.block) {
        if (item.block->keyword.text == "env" && item.block->labels.empty()) {
          buildEnv(*item.block, *action, actionScope);
        } else {
          diags_.report(diag::Rule::UnknownAttribute, item.block->keyword.range,
                        fmt::format("an action takes requires, effect, run and env, not a '{}' block",
                                    item.block->keyword.text));
        }
        continue;
      }
      const ast::Attribute& attr = *item.attribute;
      if (!firstOf(seen, attr.name)) continue;
      const ast::Expr* value = single(attr);
      if (attr.name.text == "requires") {
        if (!value) continue;
        Value list = values_.check(*value, Type::listOf(Type::of(Tag::String)), actionScope);
        for (const Value& item : list.list) {
          if (item.text.parts.size() == 1) action->requiredCommands.push_back(item.text.parts[0].text);
        }
      } else if (attr.name.text == "effect") {
        if (!value) continue;
        Type effects = Type::of(Tag::OneOf);
        effects.symbols = {"read", "write", "compare", "acl"};
        Value effect = values_.check(*value, effects, actionScope);
        if (effect.symbol == "read") action->effect = Effect::Read;
        if (effect.symbol == "compare") action->effect = Effect::Compare;
        if (effect.symbol == "acl") action->effect = Effect::Acl;
      } else if (attr.name.text == "undone_with") {
        if (!value) continue;
        if (!value->isSymbol()) {
          diags_.report(diag::Rule::TypeMismatch, value->range,
                        "undone_with names an action of this module, like `undone_with sync`");
          continue;
        }
        action->undoneWith = value->path[0].text;
        action->undoneWithRange = value->range;
      } else if (attr.name.text == "run") {
        hasRun = true;
        if (!value) continue;
        action->run = values_.check(*value, Type::of(Tag::Command), actionScope);
      } else if (attr.name.text == "recover") {
        if (!value) continue;
        action->recover = values_.check(*value, Type::of(Tag::Command), actionScope);
      } else {
        diags_.report(
            diag::Rule::UnknownAttribute, attr.name.range,
            fmt::format(
                "an action takes requires, effect, undone_with, run, recover and env, not '{}'",
                attr.name.text));
      }
    }
    if (!hasRun) {
      diags_.report(diag::Rule::MissingAttribute, block.header,
                    fmt::format("action '{}' has no `run` command", action->name));
    }
    module_.actions.push_back(std::move(action));
  }

  // `undone_with NAME` names an action of the same module; run once all of
  // them are declared, since it may name one declared further down.
  void checkUndoneWith() {
    for (const auto& action : module_.actions) {
      if (action->undoneWith.empty() || module_.action(action->undoneWith)) continue;
      auto& d = diags_.report(diag::Rule::UndefinedReference, action->undoneWithRange,
                              fmt::format("module '{}' has no action '{}' for action '{}' "
                                          "to be undone with",
                                          module_.name, action->undoneWith, action->name));
      std::vector<std::string> names;
      for (const auto& other : module_.actions) names.push_back(other->name);
      if (auto near = closestName(action->undoneWith, names)) {
        d.fix =
            diag::FixHint{fmt::format("did you mean '{}'?", *near), action->undoneWithRange, *near};
      }
    }
  }

 private:
  bool declare(const std::string& name, Range range) {
    auto [it, added] = declared_.emplace(name, range);
    if (added) return true;
    auto& d = diags_.report(diag::Rule::DuplicateName, range,
                            fmt::format("'{}' is already declared in module '{}'", name, module_.name));
    d.notes.push_back({it->second, "first declared here"});
    return false;
  }

  bool firstOf(std::map<std::string, Range>& seen, const ast::Identifier& name) {
    auto [it, added] = seen.emplace(name.text, name.range);
    if (added) return true;
    auto& d = diags_.report(diag::Rule::DuplicateName, name.range,
                            fmt::format("'{}' is given twice", name.text));
    d.notes.push_back({it->second, "first given here"});
    return false;
  }

  const ast::Expr* single(const ast::Attribute& attr) {
    if (attr.values.empty() || attr.assigned) {
      diags_.report(diag::Rule::TypeMismatch, attr.range,
                    fmt::format("'{}' takes one value", attr.name.text));
      return nullptr;
    }
    if (attr.values.size() > 1) {
      diags_.report(diag::Rule::TypeMismatch, attr.values[1]->range,
                    fmt::format("'{}' takes one value", attr.name.text));
      return nullptr;
    }
    return attr.values[0].get();
  }

  Credentials buildCredentials(const ast::Attribute& attr) {
    Credentials credentials;
    const ast::Expr* value = single(attr);
    if (!value) return credentials;
    if (value->isSymbol() && value->path[0].text == "pgpass") {
      credentials.delivery = Credentials::Delivery::Pgpass;
      return credentials;
    }
    if (value->isSymbol() && value->path[0].text == "option_file") {
      credentials.delivery = Credentials::Delivery::OptionFile;
      return credentials;
    }
    if (value->kind == ast::ExprKind::Call && value->dottedPath() == "env" &&
        value->arguments.size() == 1 && !value->arguments[0].name) {
      if (auto name = value->arguments[0].value->plainString(); name && !name->empty()) {
        credentials.delivery = Credentials::Delivery::Env;
        credentials.variable = *name;
        return credentials;
      }
    }
    diags_.report(diag::Rule::InvalidValue, value->range,
                  "credentials are delivered as `pgpass`, `option_file` or `env(\"VARIABLE\")`");
    return credentials;
  }

  std::optional<Field> buildField(const ast::Attribute& attr) {
    Field field;
    field.name = attr.name.text;
    field.nameRange = attr.name.range;
    if (attr.values.empty()) {
      diags_.report(diag::Rule::MissingAttribute, attr.range,
                    fmt::format("field '{}' needs a type: `{} string`", field.name, field.name));
      return std::nullopt;
    }
    field.type = buildType(*attr.values[0]);
    for (size_t i = 1; i < attr.values.size(); ++i) {
      const ast::Expr& extra = *attr.values[i];
      if (extra.isSymbol() && extra.path[0].text == "optional" && !field.optional) {
        field.optional = true;
        continue;
      }
      diags_.report(diag::Rule::UnknownAttribute, extra.range,
                    "a field is written `NAME TYPE [optional] [= DEFAULT]`");
    }
    field.defaultExpr = attr.assigned.get();
    return field;
  }

  void buildEnv(const ast::Block& block, Action& action, ActionScope& scope) {
    std::map<std::string, Range> seen;
    for (const ast::Item& item : block.items) {
      if (!item.attribute) {
        diags_.report(diag::Rule::UnknownAttribute, item.block->keyword.range,
                      "an env block holds `VARIABLE value` lines");
        continue;
      }
      const ast::Attribute& attr = *item.attribute;
      if (!firstOf(seen, attr.name)) continue;
      const ast::Expr* value = single(attr);
      if (!value) continue;
      EnvBinding binding;
      binding.variable = attr.name.text;
      binding.range = attr.range;
      if (value->kind == ast::ExprKind::Reference) {
        auto resolved = scope.resolve(value->path);
        if (!resolved) continue;
        binding.value.tag = Value::Tag::Ref;
        binding.value.ref = resolved->ref;
        binding.value.range = value->range;
      } else {
        binding.value = values_.check(*value, Type::of(Tag::String), scope);
      }
      action.env.push_back(std::move(binding));
    }
  }

  Type buildType(const ast::Expr& expr) {
    switch (expr.kind) {
      case ast::ExprKind::Reference: {
        if (expr.path.size() == 1) {
          const std::string& name = expr.path[0].text;
          if (name == "string") return Type::of(Tag::String);
          if (name == "command") return Type::of(Tag::Command);
          if (name == "int") return Type::of(Tag::Int);
          if (name == "bool") return Type::of(Tag::Bool);
          if (name == "duration") return Type::of(Tag::Duration);
          if (name == "size") return Type::of(Tag::Size);
          if (name == "secret") return Type::of(Tag::Secret);
          if (name == "endpoint") return Type::of(Tag::Endpoint);
          if (const EndpointKind* kind = findKind(name)) {
            Type type = Type::of(Tag::Endpoint);
            type.kinds.push_back(kind);
            return type;
          }
        }
        unknownType(expr);
        return Type{};
      }
      case ast::ExprKind::List: {
        if (expr.elements.size() != 1) {
          diags_.report(diag::Rule::TypeMismatch, expr.range,
                        "a list type names one element type: `[string]`");
          return Type{};
        }
        return Type::listOf(buildType(*expr.elements[0]));
      }
      case ast::ExprKind::Union: {
        Type type = Type::of(Tag::Endpoint);
        for (const ast::ExprPtr& alternative : expr.elements) {
          const EndpointKind* kind =
              alternative->isSymbol() ? findKind(alternative->path[0].text) : nullptr;
          if (kind == nullptr) {
            unknownType(*alternative);
            return Type{};
          }
          type.kinds.push_back(kind);
        }
        return type;
      }
      case ast::ExprKind::Call: {
        if (expr.dottedPath() == "one_of") {
          Type type = Type::of(Tag::OneOf);
          for (const ast::Argument& arg : expr.arguments) {
            if (arg.name || !arg.value->isSymbol()) {
              diags_.report(diag::Rule::TypeMismatch, arg.range,
                            "one_of takes names: `one_of(pause, rollback)`");
              return Type{};
            }
            type.symbols.push_back(arg.value->path[0].text);
          }
          if (!type.symbols.empty()) return type;
        }
        unknownType(expr);
        return Type{};
      }
      default:
        unknownType(expr);
        return Type{};
    }
  }

  const EndpointKind* findKind(const std::string& name) const {
    if (const EndpointKind* kind = module_.kind(name)) return kind;
    return scope_.kind(name);
  }

  void unknownType(const ast::Expr& expr) {
    std::vector<std::string> names(kBuiltinTypes.begin(), kBuiltinTypes.end());
    for (const auto& kind : module_.kinds) names.push_back(kind->name);
    for (const std::string& kind : scope_.kindNames()) names.push_back(kind);
    auto& d = diags_.report(diag::Rule::UndefinedReference, expr.range,
                            fmt::format("unknown type {}: types are string, command, int, bool, "
                                        "duration, size, secret, [T], one_of(...), endpoint and "
                                        "kind names",
                                        ValueChecker::describe(expr)));
    if (expr.isSymbol()) {
      if (auto near = closestName(expr.path[0].text, names)) {
        d.fix = diag::FixHint{fmt::format("did you mean '{}'?", *near), expr.range, *near};
      }
    }
  }

  Module& module_;
  const FileScope& scope_;
  diag::DiagnosticEngine& diags_;
  ValueChecker values_;
  std::map<std::string, Range> declared_;
};

std::optional<std::string> readFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

std::optional<Type> endpointPseudoFieldType(std::string_view field) {
  if (field == "name" || field == "kind") return Type::of(Tag::String);
  if (field == "acl") return Type::listOf(Type::of(Tag::String));
  return std::nullopt;
}

const Action* Module::action(std::string_view actionName) const {
  for (const auto& a : actions) {
    if (a->name == actionName) return a.get();
  }
  return nullptr;
}

const EndpointKind* Module::kind(std::string_view kindName) const {
  for (const auto& k : kinds) {
    if (k->name == kindName) return k.get();
  }
  return nullptr;
}

const EndpointKind* FileScope::kind(std::string_view kindName) const {
  for (const auto& [name, module] : modules) {
    if (const EndpointKind* k = module->kind(kindName)) return k;
  }
  return nullptr;
}

std::vector<std::string> FileScope::kindNames() const {
  std::vector<std::string> names;
  for (const auto& [name, module] : modules) {
    for (const auto& k : module->kinds) names.push_back(k->name);
  }
  return names;
}

ModuleSet::ModuleSet(source::SourceManager& sources, diag::DiagnosticEngine& diags,
                     std::vector<std::string> searchPath)
    : sources_(sources), diags_(diags), searchPath_(std::move(searchPath)) {}

ModuleSet::~ModuleSet() = default;

std::vector<std::string> searchPathFromEnvironment() {
  std::vector<std::string> dirs;
  const char* value = std::getenv("MIG_PATH");
  if (value == nullptr) return dirs;
  std::string_view rest = value;
  while (!rest.empty()) {
    size_t colon = rest.find(':');
    std::string_view dir = rest.substr(0, colon);
    if (!dir.empty()) dirs.emplace_back(dir);
    if (colon == std::string_view::npos) break;
    rest.remove_prefix(colon + 1);
  }
  return dirs;
}

FileScope ModuleSet::importsOf(const ast::File& file, const std::string& directory) {
  FileScope scope;
  if (!preludeRequested_) {
    preludeRequested_ = true;
    prelude_ = load("std/shell", {}, directory);
  }
  scope.prelude = prelude_;
  if (prelude_) scope.modules[prelude_->name] = prelude_;
  for (const ast::Item& item : file.items) {
    if (!item.attribute || item.attribute->name.text != "import") continue;
    const ast::Attribute& attr = *item.attribute;
    std::optional<std::string> path;
    if (attr.values.size() == 1 && !attr.assigned) path = attr.values[0]->plainString();
    if (!path || path->empty()) {
      diags_.report(diag::Rule::TypeMismatch, attr.range,
                    "an import names one module as a string: `import \"std/postgres\"`");
      continue;
    }
    const Module* module = load(*path, attr.values[0]->range, directory);
    if (module == nullptr) continue;
    auto [it, added] = scope.modules.emplace(module->name, module);
    if (!added && it->second != module) {
      diags_.report(diag::Rule::DuplicateName, attr.values[0]->range,
                    fmt::format("module name '{}' is already imported from '{}'", module->name,
                                it->second->importPath));
    }
  }
  return scope;
}

const Module* ModuleSet::load(const std::string& importPath, source::Range at,
                              const std::string& directory) {
  auto fail = [&](std::string message) -> const Module* {
    if (at.valid()) {
      auto& d = diags_.report(diag::Rule::UnknownImport, at, std::move(message));
      std::vector<std::string> names;
      for (const auto& embedded : stdlib::embeddedModules()) names.emplace_back(embedded.importPath);
      if (auto near = closestName(importPath, names)) {
        d.fix = diag::FixHint{fmt::format("did you mean \"{}\"?", *near), at,
                              fmt::format("\"{}\"", *near)};
      }
    }
    return nullptr;
  };

  bool relative = importPath.starts_with("./") || importPath.starts_with("../") ||
                  importPath.starts_with("/");
  std::vector<fs::path> candidates;
  if (relative) {
    fs::path path = fs::path(directory) / importPath;
    if (importPath.starts_with("/")) path = importPath;
    if (path.extension() != ".mig") path += ".mig";
    candidates.push_back(path);
  } else {
    for (const std::string& dir : searchPath_) candidates.push_back(fs::path(dir) / (importPath + ".mig"));
  }

  for (const fs::path& candidate : candidates) {
    std::error_code error;
    if (!fs::is_regular_file(candidate, error)) continue;
    std::string key = fs::weakly_canonical(candidate, error).string();
    if (auto it = byKey_.find(key); it != byKey_.end()) return it->second;
    if (std::find(loading_.begin(), loading_.end(), key) != loading_.end()) {
      return fail(fmt::format("import cycle: '{}' imports itself through its imports", importPath));
    }
    auto text = readFile(candidate);
    if (!text) return fail(fmt::format("cannot read module '{}' at {}", importPath, candidate.string()));
    return loadText(key, candidate.string(), importPath, std::move(*text),
                    candidate.parent_path().string());
  }

  if (!relative) {
    for (const auto& embedded : stdlib::embeddedModules()) {
      if (embedded.importPath != importPath) continue;
      if (auto it = byKey_.find(importPath); it != byKey_.end()) return it->second;
      if (std::find(loading_.begin(), loading_.end(), importPath) != loading_.end()) {
        return fail(fmt::format("import cycle: '{}' imports itself through its imports", importPath));
      }
      return loadText(importPath, fmt::format("<stdlib>/{}.mig", importPath), importPath,
                      std::string(embedded.text), "");
    }
  }
  if (relative) return fail(fmt::format("cannot find module file '{}'", candidates[0].string()));
  std::string searched = searchPath_.empty() ? std::string("MIG_PATH is not set")
                                             : fmt::format("searched {}", fmt::join(searchPath_, ":"));
  return fail(fmt::format("unknown module '{}': it is neither in the stdlib nor in MIG_PATH ({})",
                          importPath, searched));
}

const Module* ModuleSet::loadText(std::string key, std::string displayName, std::string importPath,
                                  std::string text, const std::string& directory) {
  loading_.push_back(key);
  source::FileId file = sources_.addFile(std::move(displayName), std::move(text));
  auto module = std::make_unique<Module>();
  module->importPath = std::move(importPath);
  module->file = file;
  module->ast = parse::parseFile(sources_, file, diags_);
  checkModule(*module, directory);
  loading_.pop_back();
  const Module* result = module.get();
  byKey_[key] = result;
  modules_.push_back(std::move(module));
  return result;
}

const Module* ModuleSet::addModuleFile(std::unique_ptr<ast::File> file, const std::string& path) {
  auto module = std::make_unique<Module>();
  module->importPath = path;
  module->file = file->file;
  module->ast = std::move(file);
  checkModule(*module, fs::path(path).parent_path().string());
  const Module* result = module.get();
  std::error_code error;
  if (fs::is_regular_file(path, error)) byKey_[fs::weakly_canonical(path, error).string()] = result;
  modules_.push_back(std::move(module));
  return result;
}

const Module* ModuleSet::loadedFile(const std::string& path) const {
  std::error_code error;
  if (!fs::is_regular_file(path, error)) return nullptr;
  auto it = byKey_.find(fs::weakly_canonical(path, error).string());
  return it == byKey_.end() ? nullptr : it->second;
}

void ModuleSet::checkModule(Module& module, const std::string& directory) {
  const ast::File& file = *module.ast;
  for (const ast::Item& item : file.items) {
    if (!item.attribute || item.attribute->name.text != "module") continue;
    const ast::Attribute& attr = *item.attribute;
    if (!module.name.empty()) {
      diags_.report(diag::Rule::DuplicateName, attr.name.range, "a file has at most one `module` line");
      continue;
    }
    if (attr.values.size() == 1 && attr.values[0]->isSymbol()) {
      module.name = attr.values[0]->path[0].text;
    } else {
      diags_.report(diag::Rule::TypeMismatch, attr.range, "a module line is `module NAME`");
    }
  }
  if (module.name.empty()) {
    module.name = fs::path(module.importPath).stem().string();
    if (file.clean) {
      diags_.report(diag::Rule::MissingAttribute, {file.file, 0, 0},
                    fmt::format("module file '{}' has no `module NAME` line", module.importPath));
    }
  }

  FileScope scope = importsOf(file, directory);
  SchemaBuilder builder(module, scope, diags_);
  // Kinds first: actions name them in their parameter types.
  for (const ast::Item& item : file.items) {
    if (item.block && item.block->keyword.text == "kind") builder.buildKind(*item.block);
  }
  for (const ast::Item& item : file.items) {
    if (item.attribute) {
      const std::string& name = item.attribute->name.text;
      if (name != "module" && name != "import") {
        diags_.report(diag::Rule::UnknownAttribute, item.attribute->name.range,
                      fmt::format("a module holds import and module lines, kinds and actions, "
                                  "not '{}'",
                                  name));
      }
      continue;
    }
    const ast::Block& block = *item.block;
    if (block.keyword.text == "kind") {
      continue;
    } else if (block.keyword.text == "action") {
      builder.buildAction(block);
    } else {
      diags_.report(diag::Rule::UnknownAttribute, block.keyword.range,
                    fmt::format("a module holds kinds and actions, not '{}' blocks; plans go in "
                                "their own files",
                                block.keyword.text));
    }
  }
  builder.checkUndoneWith();
}

}  // namespace mig::sema
