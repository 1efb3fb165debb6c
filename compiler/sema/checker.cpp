#include "compiler/sema/checker.h"

#include <fmt/format.h>

#include <algorithm>
#include <functional>

#include "compiler/units/units.h"
#include "compiler/sema/addresses.h"
#include "compiler/sema/resolve.h"
#include "compiler/window/window.h"

namespace mig::sema {
namespace {

using Tag = Type::Tag;
using diag::Rule;

constexpr int64_t kMaxWindowLengthMs = 7LL * 24 * 3600 * 1000;

std::string pathText(const std::vector<ast::Identifier>& path) {
  std::string out;
  for (const ast::Identifier& part : path) out += (out.empty() ? "" : ".") + part.text;
  return out;
}

source::Range pathRange(const std::vector<ast::Identifier>& path) {
  return {path.front().range.file, path.front().range.begin, path.back().range.end};
}

// The schema of a plan-level block: the attributes it takes and their types.
struct AttributeSpec {
  std::string_view name;
  Type type;
};

Type oneOf(std::initializer_list<std::string_view> symbols) {
  Type type = Type::of(Tag::OneOf);
  for (std::string_view s : symbols) type.symbols.emplace_back(s);
  return type;
}

const std::vector<AttributeSpec>& factSpecs() {
  static const std::vector<AttributeSpec> specs = {
      {"location", Type::of(Tag::String)},
      {"languages", Type::listOf(Type::of(Tag::String))},
      {"frameworks", Type::listOf(Type::of(Tag::String))},
      {"drivers", Type::listOf(Type::of(Tag::String))},
      {"connections", Type::of(Tag::String)},
      {"model", Type::of(Tag::String)},
      {"access_patterns", Type::of(Tag::String)},
      {"size", Type::of(Tag::Size)},
      {"growth", Type::of(Tag::String)},
      {"pains", Type::listOf(Type::of(Tag::String))},
      {"downtime", Type::of(Tag::Duration)},
      {"schedule", Type::of(Tag::String)},
      {"notes", Type::of(Tag::String)},
  };
  return specs;
}

std::vector<std::string> specNames(const std::vector<AttributeSpec>& specs) {
  std::vector<std::string> names;
  for (const AttributeSpec& spec : specs) names.emplace_back(spec.name);
  return names;
}

class PlanChecker : public Scope {
 public:
  PlanChecker(const FileScope& scope, diag::DiagnosticEngine& diags)
      : scope_(scope), diags_(diags), values_(diags) {}

  CheckedPlan check(const ast::File& file) {
    // An import that failed was reported at its path; the names it would
    // have brought are then not reported again at every use.
    const auto& reported = diags_.diagnostics();
    importFailed_ = std::any_of(reported.begin(), reported.end(), [&](const diag::Diagnostic& d) {
      return d.rule == Rule::UnknownImport && d.range.file == file.file;
    });
    const ast::Block* planBlock = nullptr;
    for (const ast::Item& item : file.items) {
      if (item.attribute) {
        const std::string& name = item.attribute->name.text;
        if (name != "import" && name != "module") {
          diags_.report(Rule::UnknownAttribute, item.attribute->name.range,
                        fmt::format("a plan file holds import lines and a plan block, not '{}'",
                                    name));
        }
        continue;
      }
      const ast::Block& block = *item.block;
      if (block.keyword.text != "plan") {
        diags_.report(Rule::UnknownAttribute, block.keyword.range,
                      block.keyword.text == "kind" || block.keyword.text == "action"
                          ? fmt::format("'{}' blocks belong in a module file (with a `module "
                                        "NAME` line) that the plan imports",
                                        block.keyword.text)
                          : fmt::format("a plan file holds a `plan NAME {{` block, not '{}'",
                                        block.keyword.text));
        continue;
      }
      if (planBlock) {
        auto& d = diags_.report(Rule::DuplicateName, block.header,
                                "a file holds one plan; split the second into its own file");
        d.notes.push_back({planBlock->header, "the first plan is here"});
        continue;
      }
      planBlock = &block;
    }
    CheckedPlan result;
    if (planBlock == nullptr) return result;
    plan_ = std::make_unique<Plan>();
    plan_->file = file.file;
    checkPlan(*planBlock);
    result.complete =
        !importFailed_ && std::all_of(plan_->endpoints.begin(), plan_->endpoints.end(),
                                      [](const auto& e) { return e->kind; });
    result.plan = std::move(plan_);
    result.usage = std::move(usage_);
    return result;
  }

  // ---------------------------------------------------------------- Scope

  std::optional<Resolved> resolve(const std::vector<ast::Identifier>& path) override {
    const std::string& name = path[0].text;
    auto it = names_.find(name);
    if (it == names_.end()) {
      undefined(path[0], "");
      return std::nullopt;
    }
    const Declaration& decl = it->second;
    Ref ref;
    ref.range = pathRange(path);
    if (decl.secret) {
      ref.to = Ref::To::Secret;
      ref.secret = decl.secret;
      ref.name = name;
      if (path.size() > 1) {
        diags_.report(Rule::UndefinedReference, pathRange(path),
                      fmt::format("secret '{}' has no fields", name));
        return std::nullopt;
      }
      return Resolved{ref, Type::of(Tag::Secret)};
    }
    if (decl.endpoint) return resolveEndpoint(*decl.endpoint, path, ref);
    if (decl.window) {
      diags_.report(Rule::TypeMismatch, pathRange(path),
                    fmt::format("'{}' is a window: bind it with `window {}`, it is not a value",
                                name, name));
      return std::nullopt;
    }
    if (decl.host) {
      diags_.report(Rule::TypeMismatch, pathRange(path),
                    fmt::format("'{}' is a host: run a step there with `on {}`, it is not a value",
                                name, name));
      return std::nullopt;
    }
    if (decl.step) {
      if (path.size() != 2) {
        diags_.report(Rule::TypeMismatch, pathRange(path),
                      fmt::format("'{}' is a step: name one of its arguments, like '{}.file', "
                                  "or wait for it with `after {}`",
                                  name, name, name));
        return std::nullopt;
      }
      return resolveStepArgument(*decl.step, path, ref);
    }
    return std::nullopt;
  }

  void noteUse(const Ref& ref) override {
    switch (ref.to) {
      case Ref::To::Secret: usage_.secrets.insert(ref.secret); break;
      case Ref::To::Endpoint:
      case Ref::To::EndpointField:
        if (usingFromStep_) usage_.endpoints.insert(ref.endpoint);
        break;
      case Ref::To::StepArgument:
        if (currentStep_ && ref.step != currentStep_) {
          currentStep_->dataFlow.push_back({ref.step, ref.range, false});
        }
        break;
      default: break;
    }
  }

 private:
  struct Declaration {
    Secret* secret = nullptr;
    Endpoint* endpoint = nullptr;
    Window* window = nullptr;
    Step* step = nullptr;
    Host* host = nullptr;
    Range range;
  };

  // ---------------------------------------------------------------- resolution

  void undefined(const ast::Identifier& name, std::string_view what) {
    std::string message =
        what.empty() ? fmt::format("'{}' is not declared", name.text)
                     : fmt::format("{} '{}' is not declared", what, name.text);
    auto& d = diags_.report(Rule::UndefinedReference, name.range, message);
    // Each suggestion compares the name with every declared one: past the
    // first kSuggestionLimit (clang's -fspell-checking-limit), a file with
    // thousands of undefined names would take minutes, and nobody reads
    // that far.
    if (suggestions_ == kSuggestionLimit) return;
    ++suggestions_;
    std::vector<std::string> candidates;
    for (const auto& [declared, decl] : names_) candidates.push_back(declared);
    if (auto near = closestName(name.text, candidates)) {
      d.fix = diag::FixHint{fmt::format("did you mean '{}'?", *near), name.range, *near};
    } else if (scope_.modules.count(name.text) || knownModule(name.text)) {
      d.fix = diag::FixHint{fmt::format("'{}' is a module: call one of its actions, like "
                                        "'{}.inventory(...)'",
                                        name.text, name.text),
                            name.range, std::nullopt};
    }
  }

  static bool knownModule(std::string_view name) {
    return name == "postgres" || name == "redis" || name == "mysql" || name == "mongodb" ||
           name == "elasticsearch" || name == "acl" || name == "wait" || name == "pgbouncer";
  }

  std::optional<Resolved> resolveEndpoint(const Endpoint& endpoint,
                                          const std::vector<ast::Identifier>& path, Ref ref) {
    ref.endpoint = &endpoint;
    if (path.size() == 1) {
      ref.to = Ref::To::Endpoint;
      ref.name = endpoint.name;
      // An endpoint whose kind is unknown (reported at its header) fits
      // nowhere and everywhere: its uses are not reported again.
      if (endpoint.kind == nullptr) return Resolved{ref, Type::of(Tag::Invalid)};
      Type type = Type::of(Tag::Endpoint);
      type.kinds.push_back(endpoint.kind);
      return Resolved{ref, type};
    }
    ref.to = Ref::To::EndpointField;
    ref.name = path[1].text;
    std::optional<Type> type = endpointPseudoFieldType(path[1].text);
    if (!type && endpoint.kind) {
      if (const Field* field = endpoint.kind->field(path[1].text)) type = field->type;
    }
    if (!type) {
      if (endpoint.kind == nullptr) return std::nullopt;  // its kind was already reported
      std::vector<std::string> names = {"name", "kind", "acl"};
      for (const Field& f : endpoint.kind->fields) names.push_back(f.name);
      auto& d = diags_.report(Rule::UndefinedReference, path[1].range,
                              fmt::format("endpoint '{}' (kind {}) has no field '{}'",
                                          endpoint.name, endpoint.kind->name, path[1].text));
      if (auto near = closestName(path[1].text, names)) {
        d.fix = diag::FixHint{fmt::format("did you mean '{}'?", *near), path[1].range, *near};
      }
      return std::nullopt;
    }
    if (path.size() == 2) return Resolved{ref, *type};
    if (path.size() == 3) {
      if (auto pseudo = pseudoFieldType(*type, path[2].text)) {
        ref.name += "." + path[2].text;
        return Resolved{ref, *pseudo};
      }
    }
    diags_.report(Rule::UndefinedReference, pathRange(path),
                  fmt::format("'{}' names nothing: '{}.{}' is {}", pathText(path), endpoint.name,
                              path[1].text, type->nameWithArticle()));
    return std::nullopt;
  }

  std::optional<Resolved> resolveStepArgument(const Step& step,
                                              const std::vector<ast::Identifier>& path, Ref ref) {
    ref.to = Ref::To::StepArgument;
    ref.step = &step;
    ref.name = path[1].text;
    const Action* action = step.run.action;
    if (action == nullptr) return std::nullopt;  // its call was already reported
    const Parameter* param = action->param(path[1].text);
    if (param == nullptr) {
      std::vector<std::string> names;
      for (const Parameter& p : action->params) names.push_back(p.name);
      auto& d = diags_.report(Rule::UndefinedReference, path[1].range,
                              fmt::format("step '{}' calls {}, which has no argument '{}'",
                                          step.name, action->qualifiedName(), path[1].text));
      if (auto near = closestName(path[1].text, names)) {
        d.fix = diag::FixHint{fmt::format("did you mean '{}'?", *near), path[1].range, *near};
      }
      return std::nullopt;
    }
    return Resolved{ref, param->type};
  }

  // ---------------------------------------------------------------- helpers

  bool declare(const std::string& name, Range range, Declaration decl) {
    decl.range = range;
    auto [it, added] = names_.emplace(name, decl);
    if (added) return true;
    auto& d = diags_.report(Rule::DuplicateName, range,
                            fmt::format("'{}' is already declared in plan '{}'", name, plan_->name));
    d.notes.push_back({it->second.range, "first declared here"});
    return false;
  }

  // The first occurrence of an attribute in a block wins; a repeat is reported.
  bool firstOf(std::map<std::string, Range>& seen, const ast::Identifier& name) {
    auto [it, added] = seen.emplace(name.text, name.range);
    if (added) return true;
    auto& d = diags_.report(Rule::DuplicateName, name.range,
                            fmt::format("'{}' is given twice in this block", name.text));
    d.notes.push_back({it->second, "first given here"});
    return false;
  }

  const ast::Expr* single(const ast::Attribute& attr) {
    if (attr.assigned) {
      diags_.report(Rule::TypeMismatch, attr.assigned->range,
                    fmt::format("'{}' takes a value, not `= ...`", attr.name.text));
      return nullptr;
    }
    if (attr.values.empty()) {
      diags_.report(Rule::TypeMismatch, attr.range,
                    fmt::format("'{}' needs a value", attr.name.text));
      return nullptr;
    }
    if (attr.values.size() > 1) {
      diags_.report(Rule::TypeMismatch, attr.values[1]->range,
                    fmt::format("'{}' takes one value", attr.name.text));
      return nullptr;
    }
    return attr.values[0].get();
  }

  void unknownAttribute(const ast::Identifier& name, std::string_view where,
                        const std::vector<std::string>& known) {
    auto& d = diags_.report(Rule::UnknownAttribute, name.range,
                            fmt::format("{} has no attribute '{}'", where, name.text));
    if (auto near = closestName(name.text, known)) {
      d.fix = diag::FixHint{fmt::format("did you mean '{}'?", *near), name.range, *near};
    } else if (!known.empty()) {
      d.fix = diag::FixHint{fmt::format("it takes {}", fmt::join(known, ", ")), name.range,
                            std::nullopt};
    }
  }

  void unknownBlock(const ast::Block& block, std::string_view where) {
    diags_.report(Rule::UnknownAttribute, block.keyword.range,
                  fmt::format("{} cannot hold a '{}' block", where, block.keyword.text));
  }

  std::optional<int64_t> positiveDuration(const ast::Expr& expr, std::string_view what) {
    Value value = values_.check(expr, Type::of(Tag::Duration), *this);
    if (!value.isSet()) return std::nullopt;
    if (value.tag != Value::Tag::Duration) return std::nullopt;
    if (value.number <= 0) {
      diags_.report(Rule::InvalidValue, expr.range, fmt::format("{} must be longer than zero", what));
      return std::nullopt;
    }
    return value.number;
  }

  std::optional<std::string> plainString(const ast::Expr& expr) {
    if (expr.kind != ast::ExprKind::String) {
      diags_.report(Rule::TypeMismatch, expr.range,
                    fmt::format("expected a string, found {}", ValueChecker::describe(expr)));
      return std::nullopt;
    }
    auto text = expr.plainString();
    if (!text) {
      diags_.report(Rule::InvalidValue, expr.range, "this string cannot hold an interpolation");
    }
    return text;
  }

  // ---------------------------------------------------------------- plan

  void checkPlan(const ast::Block& block) {
    plan_->range = block.range;
    plan_->header = block.header;
    if (block.labels.empty()) {
      diags_.report(Rule::MissingAttribute, block.header, "a plan needs a name: `plan acme_prod {`");
      plan_->nameRange = block.keyword.range;
    } else {
      plan_->name = block.labels[0].text;
      plan_->nameRange = block.labels[0].range;
      for (size_t i = 1; i < block.labels.size(); ++i) {
        diags_.report(Rule::UnknownAttribute, block.labels[i].range,
                      "a plan header is `plan NAME {`");
      }
    }
    if (block.params) {
      diags_.report(Rule::UnknownAttribute, block.paramsRange, "a plan takes no parameters");
    }

    // Declarations first, so that references work in any order.
    for (const ast::Item& item : block.items) {
      if (!item.block) continue;
      const std::string& keyword = item.block->keyword.text;
      if (keyword == "secret") declareSecret(*item.block);
      else if (keyword == "source" || keyword == "target" || keyword == "endpoint") {
        declareEndpoint(*item.block);
      }
      else if (keyword == "window") declareWindow(*item.block);
      else if (keyword == "host")
        declareHost(*item.block);
    }
    for (auto& [host, jump] : hostJumps_) host->jump = resolveHost(*jump, "jump");
    for (auto& [host, jump] : hostJumps_) checkJumpChain(*host, jump->range);
    declarePhasesAndSteps(block);
    for (auto& endpoint : plan_->endpoints) checkEndpoint(*endpoint);
    for (auto& endpoint : plan_->endpoints) renderEndpoint(*endpoint);

    std::map<std::string, Range> seen;
    bool factsSeen = false;
    for (const ast::Item& item : block.items) {
      if (item.attribute) {
        checkPlanAttribute(*item.attribute, seen);
        continue;
      }
      const ast::Block& child = *item.block;
      const std::string& keyword = child.keyword.text;
      if (keyword == "facts") {
        if (factsSeen) {
          diags_.report(Rule::DuplicateName, child.keyword.range, "a plan has one facts block");
          continue;
        }
        factsSeen = true;
        checkFacts(child);
      } else if (keyword == "acl") {
        checkAcl(child);
      } else if (keyword != "secret" && keyword != "source" && keyword != "target" &&
                 keyword != "endpoint" && keyword != "window" && keyword != "host" &&
                 keyword != "phase") {
        diags_.report(Rule::UnknownAttribute, child.keyword.range,
                      fmt::format("a plan holds facts, secret, source, target, endpoint, acl, "
                                  "window, host and phase blocks, not '{}'",
                                  keyword));
      }
    }

    for (auto& [step, block] : stepBlocks_) checkStep(*step, block);
  }

  void checkPlanAttribute(const ast::Attribute& attr, std::map<std::string, Range>& seen) {
    const std::string& name = attr.name.text;
    static const std::vector<std::string> known = {"title", "owner", "description", "retain"};
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      unknownAttribute(attr.name, fmt::format("plan '{}'", plan_->name), known);
      return;
    }
    if (!firstOf(seen, attr.name)) return;
    const ast::Expr* value = single(attr);
    if (!value) return;
    if (name == "retain") {
      Value retain = values_.check(*value, Type::of(Tag::Duration), *this);
      if (retain.tag == Value::Tag::Duration) {
        plan_->retainMs = retain.number;
        plan_->retainRange = value->range;
      }
      return;
    }
    Value text = values_.check(*value, Type::of(Tag::String), *this);
    std::string plain = text.tag == Value::Tag::String ? renderPlain(text.text) : "";
    if (name == "title") plan_->title = plain;
    if (name == "owner") plan_->owner = plain;
    if (name == "description") plan_->description = plain;
  }

  void checkFacts(const ast::Block& block) {
    std::map<std::string, Range> seen;
    for (const ast::Item& item : block.items) {
      if (item.block) {
        unknownBlock(*item.block, "facts");
        continue;
      }
      const ast::Attribute& attr = *item.attribute;
      auto spec = std::find_if(factSpecs().begin(), factSpecs().end(),
                               [&](const AttributeSpec& s) { return s.name == attr.name.text; });
      if (spec == factSpecs().end()) {
        unknownAttribute(attr.name, "facts", specNames(factSpecs()));
        continue;
      }
      if (!firstOf(seen, attr.name)) continue;
      const ast::Expr* value = single(attr);
      if (!value) continue;
      Value checked = values_.check(*value, spec->type, *this);
      if (checked.isSet()) plan_->facts.push_back({attr.name.text, std::move(checked), attr.range});
    }
  }

  // ---------------------------------------------------------------- secrets

  void declareSecret(const ast::Block& block) {
    if (block.labels.size() != 1) {
      diags_.report(Rule::MissingAttribute, block.header,
                    "a secret is declared as `secret NAME { from env(\"VAR\") }`");
      if (block.labels.empty()) return;
    }
    auto secret = std::make_unique<Secret>();
    secret->name = block.labels[0].text;
    secret->nameRange = block.labels[0].range;
    secret->range = block.range;
    if (!declare(secret->name, secret->nameRange, {.secret = secret.get()})) return;

    bool hasFrom = false;
    for (const ast::Item& item : block.items) {
      if (item.block) {
        unknownBlock(*item.block, "a secret");
        continue;
      }
      const ast::Attribute& attr = *item.attribute;
      if (attr.name.text != "from") {
        unknownAttribute(attr.name, fmt::format("secret '{}'", secret->name), {"from"});
        continue;
      }
      if (hasFrom) {
        diags_.report(Rule::DuplicateName, attr.name.range, "a secret has one `from`");
        continue;
      }
      hasFrom = true;
      const ast::Expr* value = single(attr);
      if (!value) continue;
      checkSecretSource(*value, *secret);
    }
    if (!hasFrom) {
      diags_.report(Rule::MissingAttribute, block.header,
                    fmt::format("secret '{}' does not say where it comes from: `from env(\"VAR\")` "
                                "or `from file(\"PATH\")`",
                                secret->name));
    }
    plan_->secrets.push_back(std::move(secret));
  }

  void checkSecretSource(const ast::Expr& value, Secret& secret) {
    if (value.kind == ast::ExprKind::String) {
      auto& d = diags_.report(Rule::SecretLiteral, value.range,
                              "a secret's value written in the plan ends up in its repository, "
                              "reviews and logs");
      d.fix = diag::FixHint{"read it at run time: `from env(\"VAR\")` or `from file(\"PATH\")`",
                            value.range, std::nullopt};
      return;
    }
    std::string callee = value.kind == ast::ExprKind::Call ? value.dottedPath() : "";
    if (callee != "env" && callee != "file") {
      diags_.report(Rule::TypeMismatch, value.range,
                    fmt::format("expected env(\"VAR\") or file(\"PATH\"), found {}",
                                ValueChecker::describe(value)));
      return;
    }
    if (value.arguments.size() != 1 || value.arguments[0].name) {
      diags_.report(Rule::TypeMismatch, value.argumentsRange,
                    fmt::format("{}() takes one string", callee));
      return;
    }
    auto text = plainString(*value.arguments[0].value);
    if (!text) return;
    if (text->empty()) {
      diags_.report(Rule::InvalidValue, value.arguments[0].value->range,
                    callee == "env" ? "the variable's name is empty" : "the file's path is empty");
      return;
    }
    secret.source = callee == "env" ? Secret::Source::Env : Secret::Source::File;
    secret.location = *text;
  }

  // ---------------------------------------------------------------- endpoints

  void declareEndpoint(const ast::Block& block) {
    const std::string& keyword = block.keyword.text;
    EndpointRole role = keyword == "target"   ? EndpointRole::Target
                        : keyword == "source" ? EndpointRole::Source
                                              : EndpointRole::Other;
    // What the messages show as a header: a pooler for an `endpoint`.
    std::string_view exampleKind = role == EndpointRole::Other ? "pgbouncer" : "postgres";
    if (block.labels.empty()) {
      diags_.report(Rule::MissingAttribute, block.header,
                    fmt::format("{} needs a name and a kind: `{} {} {} {{`", keyword, keyword,
                                role == EndpointRole::Other ? "pool" : "old_db", exampleKind));
      return;
    }
    auto endpoint = std::make_unique<Endpoint>();
    endpoint->name = block.labels[0].text;
    endpoint->role = role;
    endpoint->nameRange = block.labels[0].range;
    endpoint->header = block.header;
    endpoint->range = block.range;
    if (block.labels.size() < 2) {
      auto& d = diags_.report(Rule::MissingAttribute, block.header,
                              fmt::format("{} '{}' needs a kind: `{} {} {} {{`", keyword,
                                          endpoint->name, keyword, endpoint->name, exampleKind));
      auto kinds = scope_.kindNames();
      if (!kinds.empty()) {
        d.fix = diag::FixHint{fmt::format("kinds imported here: {}", fmt::join(kinds, ", ")),
                              block.header, std::nullopt};
      }
    } else {
      const ast::Identifier& kindName = block.labels[1];
      endpoint->kind = scope_.kind(kindName.text);
      if (endpoint->kind == nullptr && !importFailed_) {
        auto& d = diags_.report(Rule::UndefinedReference, kindName.range,
                                fmt::format("kind '{}' is not declared by any imported module",
                                            kindName.text));
        auto near = closestName(kindName.text, scope_.kindNames());
        if (near) {
          d.fix = diag::FixHint{fmt::format("did you mean '{}'?", *near), kindName.range, *near};
        } else if (knownModule(kindName.text)) {
          d.fix = diag::FixHint{fmt::format("add `import \"std/{}\"`", kindName.text),
                                kindName.range, std::nullopt};
        }
      }
      for (size_t i = 2; i < block.labels.size(); ++i) {
        diags_.report(Rule::UnknownAttribute, block.labels[i].range,
                      fmt::format("an endpoint header is `{} NAME KIND {{`", block.keyword.text));
      }
    }
    if (!declare(endpoint->name, endpoint->nameRange, {.endpoint = endpoint.get()})) return;
    endpointBlocks_[endpoint.get()] = &block;
    plan_->endpoints.push_back(std::move(endpoint));
  }

  void checkEndpoint(Endpoint& endpoint) {
    const ast::Block& block = *endpointBlocks_.at(&endpoint);
    if (endpoint.kind == nullptr) return;
    const EndpointKind& kind = *endpoint.kind;
    std::map<std::string, Range> seen;
    std::vector<std::string> fieldNames;
    for (const Field& f : kind.fields) fieldNames.push_back(f.name);
    for (const ast::Item& item : block.items) {
      if (item.block) {
        unknownBlock(*item.block, fmt::format("{} '{}'", block.keyword.text, endpoint.name));
        continue;
      }
      const ast::Attribute& attr = *item.attribute;
      const Field* field = kind.field(attr.name.text);
      if (field == nullptr) {
        unknownAttribute(attr.name, fmt::format("kind '{}'", kind.name), fieldNames);
        continue;
      }
      if (!firstOf(seen, attr.name)) continue;
      const ast::Expr* value = single(attr);
      if (!value) continue;
      Value checked = values_.check(*value, field->type, *this);
      if (!checked.isSet()) {
        endpoint.invalidFields.insert(field->name);
        continue;
      }
      if (checked.tag == Value::Tag::Ref && checked.ref.to == Ref::To::Secret) {
        endpoint.secret = checked.ref.secret;
      }
      endpoint.values[field->name] = std::move(checked);
    }
    std::vector<std::string> missing;
    for (const Field& field : kind.fields) {
      if (endpoint.values.count(field.name) || endpoint.invalidFields.count(field.name)) continue;
      if (field.defaultExpr) {
        if (field.defaultValue.isSet()) endpoint.values[field.name] = field.defaultValue;
        continue;
      }
      if (!field.optional) missing.push_back(field.name);
    }
    if (!missing.empty()) {
      diags_.report(Rule::MissingAttribute, endpoint.header,
                    fmt::format("{} '{}' (kind {}) is missing {}", block.keyword.text,
                                endpoint.name, kind.name,
                                [&] {
                                  std::vector<std::string> quoted;
                                  for (const auto& m : missing) quoted.push_back("'" + m + "'");
                                  return fmt::format("{}", fmt::join(quoted, ", "));
                                }()));
    }
  }

  // The plain text of every field, defaults included. A default that names
  // an unset optional field is reported at the endpoint.
  void renderEndpoint(Endpoint& endpoint) {
    if (endpoint.kind == nullptr) return;
    for (const Field& field : endpoint.kind->fields) {
      if (field.type.tag == Tag::Secret) continue;
      std::vector<std::string> visiting;
      if (auto text = fieldText(endpoint, field.name, visiting)) endpoint.text[field.name] = *text;
    }
  }

  std::optional<std::string> fieldText(const Endpoint& endpoint, const std::string& field,
                                       std::vector<std::string>& visiting) {
    if (auto done = endpoint.text.find(field); done != endpoint.text.end()) return done->second;
    auto it = endpoint.values.find(field);
    if (it == endpoint.values.end()) return std::nullopt;
    if (std::find(visiting.begin(), visiting.end(), field) != visiting.end()) {
      diags_.report(Rule::InvalidValue, endpoint.header,
                    fmt::format("the fields of '{}' refer to each other in a circle: {} -> {}",
                                endpoint.name, fmt::join(visiting, " -> "), field));
      return std::nullopt;
    }
    visiting.push_back(field);
    auto text = valueText(endpoint, it->second, visiting, field);
    visiting.pop_back();
    return text;
  }

  std::optional<std::string> valueText(const Endpoint& endpoint, const Value& value,
                                       std::vector<std::string>& visiting,
                                       const std::string& field) {
    switch (value.tag) {
      case Value::Tag::String: {
        std::string out;
        for (const Template::Part& part : value.text.parts) {
          if (!part.ref) {
            out += part.text;
            continue;
          }
          auto piece = refText(endpoint, *part.ref, visiting, field);
          if (!piece) return std::nullopt;
          out += *piece;
        }
        return out;
      }
      case Value::Tag::Int: return std::to_string(value.number);
      case Value::Tag::Bool: return value.boolean ? "true" : "false";
      case Value::Tag::Duration: return units::formatDuration(value.number);
      case Value::Tag::Size: return units::formatSize(value.number);
      case Value::Tag::Symbol: return value.symbol;
      case Value::Tag::Ref: return refText(endpoint, value.ref, visiting, field);
      case Value::Tag::List: {
        // One word for a command line: the items joined by commas.
        std::vector<std::string> items;
        for (const Value& item : value.list) {
          auto text = valueText(endpoint, item, visiting, field);
          if (!text) return std::nullopt;
          items.push_back(std::move(*text));
        }
        return fmt::format("{}", fmt::join(items, ","));
      }
      default: return std::nullopt;
    }
  }

  std::optional<std::string> refText(const Endpoint& endpoint, const Ref& ref,
                                     std::vector<std::string>& visiting, const std::string& field) {
    if (ref.to == Ref::To::Field) {
      std::string name = ref.name.substr(0, ref.name.find('.'));
      if (!endpoint.values.count(name)) {
        // A required field that is missing, or one given with a bad value,
        // has been reported already.
        const Field* needed = endpoint.kind->field(name);
        bool reported = endpoint.invalidFields.count(name) ||
                        (needed && !needed->optional && !needed->defaultExpr);
        if (!reported) {
          diags_.report(Rule::MissingAttribute, endpoint.header,
                        fmt::format("'{}' needs '{}': the default of '{}' uses it", endpoint.name,
                                    name, field));
        }
        return std::nullopt;
      }
      auto text = fieldText(endpoint, name, visiting);
      if (!text) return std::nullopt;
      if (name.size() == ref.name.size()) return text;
      return pseudoText(endpoint.values.at(name), ref.name.substr(name.size() + 1));
    }
    if (ref.to == Ref::To::EndpointField && ref.endpoint) {
      std::string name = ref.name.substr(0, ref.name.find('.'));
      if (name == "name") return ref.endpoint->name;
      if (name == "kind") return ref.endpoint->kind ? ref.endpoint->kind->name : "";
      std::vector<std::string> fresh;
      if (ref.endpoint == &endpoint) return fieldText(endpoint, name, visiting);
      return fieldText(*ref.endpoint, name, fresh);
    }
    return std::nullopt;
  }

  static std::optional<std::string> pseudoText(const Value& value, std::string_view pseudo) {
    if (pseudo == "seconds") return std::to_string(value.number / 1000);
    if (pseudo == "ms") return std::to_string(value.number);
    if (pseudo == "bytes") return std::to_string(value.number);
    return std::nullopt;
  }

  // Plain text of a checked template outside any endpoint (title, owner):
  // interpolations of endpoint fields are replaced by their text.
  std::string renderPlain(const Template& text) {
    std::string out;
    for (const Template::Part& part : text.parts) {
      if (!part.ref) {
        out += part.text;
        continue;
      }
      if (part.ref->to != Ref::To::EndpointField || part.ref->endpoint == nullptr) continue;
      const Endpoint& endpoint = *part.ref->endpoint;
      if (part.ref->name == "name") {
        out += endpoint.name;
      } else if (auto it = endpoint.text.find(part.ref->name); it != endpoint.text.end()) {
        out += it->second;
      }
    }
    return out;
  }

  // ---------------------------------------------------------------- acl

  static std::string whatIsNotATarget(const Declaration& declared) {
    if (declared.secret) return "a secret";
    if (declared.window) return "a window";
    if (declared.step) return "a step";
    if (declared.endpoint == nullptr) return "not an endpoint";
    if (declared.endpoint->isSource()) return "a source";
    return "an endpoint, neither source nor target";
  }

  void checkAcl(const ast::Block& block) {
    if (block.labels.size() != 1) {
      diags_.report(Rule::MissingAttribute, block.header,
                    "an ACL names its target: `acl new_db { allow \"10.0.0.0/24\" \"app servers\" }`");
      if (block.labels.empty()) return;
    }
    const ast::Identifier& targetName = block.labels[0];
    auto it = names_.find(targetName.text);
    if (it == names_.end()) {
      undefined(targetName, "target");
      return;
    }
    Endpoint* target = it->second.endpoint;
    if (target == nullptr || !target->isTarget()) {
      auto& d = diags_.report(Rule::TypeMismatch, targetName.range,
                              fmt::format("an ACL belongs to a target; '{}' is {}", targetName.text,
                                          whatIsNotATarget(it->second)));
      d.notes.push_back({it->second.range, "declared here"});
      return;
    }
    if (target->acl) {
      auto& d = diags_.report(Rule::DuplicateName, targetName.range,
                              fmt::format("target '{}' already has an ACL", target->name));
      d.notes.push_back({target->acl->header, "the first ACL is here"});
      return;
    }
    auto acl = std::make_unique<Acl>();
    acl->target = target;
    acl->header = block.header;
    acl->range = block.range;
    for (const ast::Item& item : block.items) {
      if (item.block) {
        unknownBlock(*item.block, "an ACL");
        continue;
      }
      const ast::Attribute& attr = *item.attribute;
      if (attr.name.text != "allow") {
        unknownAttribute(attr.name, "an ACL", {"allow"});
        continue;
      }
      if (attr.values.empty() || attr.values.size() > 2 || attr.assigned) {
        diags_.report(Rule::TypeMismatch, attr.range,
                      "an ACL entry is `allow \"ADDRESS-OR-CIDR\" [\"what it is\"]`");
        continue;
      }
      auto address = plainString(*attr.values[0]);
      if (!address) continue;
      std::string error;
      auto network = parseNetwork(*address, error);
      if (!network) {
        diags_.report(Rule::InvalidValue, attr.values[0]->range, error);
        continue;
      }
      AclEntry entry;
      entry.address = *address;
      entry.range = attr.range;
      entry.addressRange = attr.values[0]->range;
      if (attr.values.size() == 2) {
        auto description = plainString(*attr.values[1]);
        if (description) entry.description = *description;
      }
      acl->entries.push_back(std::move(entry));
    }
    target->acl = acl.get();
    plan_->acls.push_back(std::move(acl));
  }

  // ---------------------------------------------------------------- windows

  void declareWindow(const ast::Block& block) {
    if (block.labels.size() != 1) {
      diags_.report(Rule::MissingAttribute, block.header, "a window is declared as `window NAME {`");
      if (block.labels.empty()) return;
    }
    auto window = std::make_unique<Window>();
    window->name = block.labels[0].text;
    window->nameRange = block.labels[0].range;
    window->range = block.range;
    if (!declare(window->name, window->nameRange, {.window = window.get()})) return;

    static const std::vector<std::string> known = {"days", "start", "length", "timezone", "at"};
    std::map<std::string, Range> seen;
    std::map<std::string, const ast::Expr*> given;
    for (const ast::Item& item : block.items) {
      if (item.block) {
        unknownBlock(*item.block, "a window");
        continue;
      }
      const ast::Attribute& attr = *item.attribute;
      if (std::find(known.begin(), known.end(), attr.name.text) == known.end()) {
        unknownAttribute(attr.name, fmt::format("window '{}'", window->name), known);
        continue;
      }
      if (!firstOf(seen, attr.name)) continue;
      if (const ast::Expr* value = single(attr)) given[attr.name.text] = value;
    }

    bool oneOff = given.count("at") > 0;
    if (oneOff && (given.count("days") || given.count("start"))) {
      const ast::Expr* extra = given.count("days") ? given["days"] : given["start"];
      diags_.report(Rule::InvalidValue, extra->range,
                    "a window is weekly (days, start) or one-off (at), not both");
    }
    std::vector<std::string> missing;
    for (std::string_view need : oneOff ? std::vector<std::string_view>{"at", "length", "timezone"}
                                        : std::vector<std::string_view>{"days", "start", "length",
                                                                        "timezone"}) {
      if (!given.count(std::string(need))) missing.push_back("'" + std::string(need) + "'");
    }
    if (!missing.empty()) {
      diags_.report(Rule::MissingAttribute, block.header,
                    fmt::format("window '{}' is missing {}", window->name, fmt::join(missing, ", ")));
    }

    if (auto it = given.find("days"); it != given.end()) {
      const ast::Expr& list = *it->second;
      if (list.kind != ast::ExprKind::List) {
        diags_.report(Rule::TypeMismatch, list.range,
                      fmt::format("expected a list of weekdays like [sat, sun], found {}",
                                  ValueChecker::describe(list)));
      } else if (list.elements.empty()) {
        diags_.report(Rule::InvalidValue, list.range, "a weekly window needs at least one day");
      }
      for (const ast::ExprPtr& day : list.elements) {
        std::optional<int> weekday =
            day->isSymbol() ? window::parseWeekday(day->path[0].text) : std::nullopt;
        if (!weekday) {
          diags_.report(Rule::InvalidValue, day->range,
                        fmt::format("{} is not a weekday: mon, tue, wed, thu, fri, sat, sun",
                                    ValueChecker::describe(*day)));
          continue;
        }
        if (std::find(window->weekdays.begin(), window->weekdays.end(), *weekday) ==
            window->weekdays.end()) {
          window->weekdays.push_back(*weekday);
        }
      }
    }
    if (auto it = given.find("start"); it != given.end()) {
      if (auto text = plainString(*it->second)) {
        auto minute = window::parseClock(*text);
        if (!minute) {
          diags_.report(Rule::InvalidValue, it->second->range,
                        fmt::format("'{}' is not a time of day: write HH:MM, 00:00 to 23:59", *text));
        } else {
          window->startMinute = *minute;
        }
      }
    }
    if (auto it = given.find("length"); it != given.end()) {
      if (auto length = positiveDuration(*it->second, "a window's length")) {
        if (*length > kMaxWindowLengthMs) {
          diags_.report(Rule::InvalidValue, it->second->range,
                        "a window lasts at most 7 days");
        } else {
          window->lengthMs = *length;
        }
      }
    }
    if (auto it = given.find("timezone"); it != given.end()) {
      if (auto zone = plainString(*it->second)) {
        if (!window::isKnownTimezone(*zone)) {
          auto& d = diags_.report(Rule::InvalidValue, it->second->range,
                                  fmt::format("unknown time zone '{}': use an IANA name like "
                                              "\"Europe/Berlin\" or \"UTC\"",
                                              *zone));
          if (auto near = closestName(*zone, window::timezoneNames())) {
            d.fix = diag::FixHint{fmt::format("did you mean \"{}\"?", *near), it->second->range,
                                  fmt::format("\"{}\"", *near)};
          }
        } else {
          window->timezone = *zone;
        }
      }
    }
    if (auto it = given.find("at"); it != given.end()) {
      if (auto at = plainString(*it->second)) {
        std::string error;
        auto parsed = window::Window::oneOff(*at, std::chrono::milliseconds(3600000), "UTC", &error);
        if (!parsed) {
          diags_.report(Rule::InvalidValue, it->second->range,
                        fmt::format("'{}' is not a local date and time like \"2026-12-05T02:00\"",
                                    *at));
        } else {
          window->at = *at;
        }
      }
    }
    plan_->windows.push_back(std::move(window));
  }

  const Window* resolveWindow(const ast::Expr& expr) {
    if (!expr.isSymbol()) {
      diags_.report(Rule::TypeMismatch, expr.range,
                    fmt::format("expected a window's name, found {}", ValueChecker::describe(expr)));
      return nullptr;
    }
    auto it = names_.find(expr.path[0].text);
    if (it == names_.end()) {
      undefined(expr.path[0], "window");
      return nullptr;
    }
    if (it->second.window == nullptr) {
      auto& d = diags_.report(Rule::TypeMismatch, expr.range,
                              fmt::format("'{}' is not a window", expr.path[0].text));
      d.notes.push_back({it->second.range, "declared here"});
      return nullptr;
    }
    usage_.windows.insert(it->second.window);
    return it->second.window;
  }

  std::optional<OnWindowEnd> checkOnWindowEnd(const ast::Expr& expr) {
    Value value = values_.check(expr, oneOf({"pause", "rollback"}), *this);
    if (value.tag != Value::Tag::Symbol) return std::nullopt;
    return value.symbol == "rollback" ? OnWindowEnd::Rollback : OnWindowEnd::Pause;
  }

  // ---------------------------------------------------------------- hosts

  void declareHost(const ast::Block& block) {
    if (block.labels.size() != 1 || block.params) {
      diags_.report(Rule::MissingAttribute, block.header,
                    "a host is declared as `host NAME { address \"...\" }`");
      if (block.labels.empty()) return;
    }
    auto host = std::make_unique<Host>();
    host->name = block.labels[0].text;
    host->nameRange = block.labels[0].range;
    host->header = block.header;
    host->range = block.range;
    if (!declare(host->name, host->nameRange, {.host = host.get()})) return;

    static const std::vector<std::string> known = {"address",     "port",     "user", "identity",
                                                   "known_hosts", "host_key", "jump"};
    std::map<std::string, Range> seen;
    for (const ast::Item& item : block.items) {
      if (item.block) {
        unknownBlock(*item.block, fmt::format("host '{}'", host->name));
        continue;
      }
      const ast::Attribute& attr = *item.attribute;
      const std::string& name = attr.name.text;
      if (std::find(known.begin(), known.end(), name) == known.end()) {
        unknownAttribute(attr.name, fmt::format("host '{}'", host->name), known);
        continue;
      }
      if (!firstOf(seen, attr.name)) continue;
      const ast::Expr* value = single(attr);
      if (!value) continue;
      if (name == "jump") {
        hostJumps_.emplace_back(host.get(), value);
      } else if (name == "port") {
        Value port = values_.check(*value, Type::of(Tag::Int), *this);
        if (port.tag != Value::Tag::Int) continue;
        if (port.number < 1 || port.number > 65535) {
          diags_.report(Rule::InvalidValue, value->range, "a port is a number from 1 to 65535");
          continue;
        }
        host->port = static_cast<int>(port.number);
      } else if (auto text = plainString(*value)) {
        checkHostText(*host, name, *text, value->range);
      }
    }
    if (!seen.count("address")) {
      diags_.report(Rule::MissingAttribute, block.header,
                    fmt::format("host '{}' is missing 'address'", host->name));
    }
    if (seen.count("known_hosts") && seen.count("host_key")) {
      diags_.report(
          Rule::InvalidValue, seen["host_key"],
          fmt::format("host '{}' pins its key with known_hosts or host_key, not both", host->name));
    }
    plan_->hosts.push_back(std::move(host));
  }

  // Every text of a host ends up as one argument of ssh: nothing in it may
  // look like an option, and nothing may be empty.
  void checkHostText(Host& host, const std::string& attribute, const std::string& text,
                     Range range) {
    if (text.empty()) {
      diags_.report(Rule::InvalidValue, range, fmt::format("'{}' is empty", attribute));
      return;
    }
    if (text.find_first_of("\n\r") != std::string::npos || text.front() == '-') {
      diags_.report(Rule::InvalidValue, range,
                    fmt::format("'{}' cannot start with '-' or hold a line break", attribute));
      return;
    }
    if (attribute == "address") {
      if (text.find_first_of(" \t@/") != std::string::npos) {
        diags_.report(Rule::InvalidValue, range,
                      "an address is a host name or an IP address, without a user, port or path "
                      "(those are `user` and `port`)");
        return;
      }
      host.address = text;
    } else if (attribute == "user") {
      if (text.find_first_of(" \t@:/") != std::string::npos) {
        diags_.report(Rule::InvalidValue, range, fmt::format("'{}' is not a user name", text));
        return;
      }
      host.user = text;
    } else if (attribute == "identity") {
      host.identity = text;
    } else if (attribute == "known_hosts") {
      host.knownHosts = text;
    } else if (attribute == "host_key") {
      if (!isPublicKeyText(text)) {
        auto& d = diags_.report(Rule::InvalidValue, range,
                                "a host key is written `TYPE BASE64`, as ssh-keyscan prints it "
                                "after the host's name");
        d.fix =
            diag::FixHint{"like \"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA...\"", range, std::nullopt};
        return;
      }
      host.hostKey = text;
    }
  }

  // `ssh-ed25519 AAAA...`: a key type, one space, the key in base64 (no comment).
  static bool isPublicKeyText(const std::string& text) {
    size_t space = text.find(' ');
    if (space == std::string::npos || space == 0) return false;
    std::string type = text.substr(0, space);
    std::string key = text.substr(space + 1);
    static const std::vector<std::string> types = {"ssh-ed25519",
                                                   "ssh-rsa",
                                                   "ecdsa-sha2-nistp256",
                                                   "ecdsa-sha2-nistp384",
                                                   "ecdsa-sha2-nistp521",
                                                   "sk-ssh-ed25519@openssh.com",
                                                   "sk-ecdsa-sha2-nistp256@openssh.com"};
    if (std::find(types.begin(), types.end(), type) == types.end()) return false;
    if (key.size() < 16 || key.size() % 4 != 0) return false;
    return std::all_of(key.begin(), key.end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/' || c == '=';
    });
  }

  // A host reached through itself, directly or through other jumps, is
  // never reached: its first jump is cut.
  void checkJumpChain(Host& host, Range jumpRange) {
    std::vector<std::string> chain = {host.name};
    for (const Host* hop = host.jump; hop; hop = hop->jump) {
      chain.push_back(hop->name);
      if (hop == &host) {
        diags_.report(Rule::InvalidValue, jumpRange,
                      fmt::format("host '{}' is reached through itself: {}", host.name,
                                  fmt::join(chain, " -> ")));
        host.jump = nullptr;
        return;
      }
      if (chain.size() > plan_->hosts.size() + 1) return;  // a cycle that does not include `host`
    }
  }

  // `on app1`, `jump bastion`: the name of a host block.
  const Host* resolveHost(const ast::Expr& expr, std::string_view attribute) {
    if (!expr.isSymbol()) {
      diags_.report(
          Rule::TypeMismatch, expr.range,
          fmt::format("`{}` names a host, found {}", attribute, ValueChecker::describe(expr)));
      return nullptr;
    }
    const ast::Identifier& name = expr.path[0];
    auto it = names_.find(name.text);
    if (it == names_.end() || it->second.host == nullptr) {
      std::string message =
          it == names_.end()
              ? fmt::format("host '{}' is not declared", name.text)
              : fmt::format("'{}' is not a host: `{}` names a `host` block", name.text, attribute);
      auto& d = diags_.report(Rule::UnknownHost, name.range, message);
      if (it != names_.end()) d.notes.push_back({it->second.range, "declared here"});
      std::vector<std::string> hosts;
      for (const auto& host : plan_->hosts) hosts.push_back(host->name);
      if (auto near = closestName(name.text, hosts)) {
        d.fix = diag::FixHint{fmt::format("did you mean '{}'?", *near), name.range, *near};
      } else if (hosts.empty()) {
        d.fix = diag::FixHint{fmt::format("declare it: `host {} {{ address \"...\" }}`", name.text),
                              name.range, std::nullopt};
      }
      return nullptr;
    }
    usage_.hosts.insert(it->second.host);
    return it->second.host;
  }

  // ---------------------------------------------------------------- phases

  void declarePhasesAndSteps(const ast::Block& planBlock) {
    std::map<PhaseKind, Range> seenPhases;
    int lastIndex = -1;
    std::string lastName;
    for (const ast::Item& item : planBlock.items) {
      if (!item.block || item.block->keyword.text != "phase") continue;
      const ast::Block& block = *item.block;
      if (block.labels.size() != 1) {
        diags_.report(Rule::MissingAttribute, block.header,
                      "a phase is declared as `phase NAME {`, NAME one of the seven of the runbook");
        if (block.labels.empty()) continue;
      }
      const ast::Identifier& name = block.labels[0];
      auto known = std::find(kPhaseNames.begin(), kPhaseNames.end(), name.text);
      if (known == kPhaseNames.end()) {
        auto& d = diags_.report(Rule::UnknownPhase, name.range,
                                fmt::format("'{}' is not a phase of the runbook: {}", name.text,
                                            fmt::join(kPhaseNames, ", ")));
        std::vector<std::string> names(kPhaseNames.begin(), kPhaseNames.end());
        if (auto near = closestName(name.text, names)) {
          d.fix = diag::FixHint{fmt::format("did you mean '{}'?", *near), name.range, *near};
        }
        continue;
      }
      auto kind = static_cast<PhaseKind>(known - kPhaseNames.begin());
      if (auto first = seenPhases.find(kind); first != seenPhases.end()) {
        auto& d = diags_.report(Rule::PhaseOrder, block.header,
                                fmt::format("phase '{}' appears twice; put all its steps in one "
                                            "block",
                                            name.text));
        d.notes.push_back({first->second, "the first is here"});
        continue;
      }
      seenPhases[kind] = block.header;
      int index = static_cast<int>(kind);
      if (index < lastIndex) {
        diags_.report(Rule::PhaseOrder, block.header,
                      fmt::format("phase '{}' comes before '{}' in the runbook: {}", name.text,
                                  lastName, fmt::join(kPhaseNames, ", ")));
      }
      if (index > lastIndex) {
        lastIndex = index;
        lastName = name.text;
      }
      auto phase = std::make_unique<Phase>();
      phase->kind = kind;
      phase->nameRange = name.range;
      phase->header = block.header;
      declareSteps(block, *phase);
      plan_->phases.push_back(std::move(phase));
    }
    std::stable_sort(plan_->phases.begin(), plan_->phases.end(),
                     [](const auto& a, const auto& b) { return a->kind < b->kind; });
    // Each step's action is resolved before any argument is checked, so a
    // data-flow reference (`dump.file`) knows the type of what it names.
    for (auto& [step, block] : stepBlocks_) {
      if (const ast::Expr* call = block.doExpr) step->run = resolveCallee(*call);
    }
  }

  struct StepSource {
    const ast::Block* block = nullptr;          ///< `step NAME { ... }`
    const ast::Attribute* shorthand = nullptr;  ///< `step NAME = CALL`
    const ast::Expr* doExpr = nullptr;
    Range headerRange;
  };

  void declareSteps(const ast::Block& phaseBlock, Phase& phase) {
    std::map<std::string, Range> seen;
    for (const ast::Item& item : phaseBlock.items) {
      StepSource source;
      ast::Identifier name;
      if (item.block && item.block->keyword.text == "step") {
        const ast::Block& block = *item.block;
        if (block.labels.size() != 1 || block.params) {
          diags_.report(Rule::MissingAttribute, block.header, "a step is declared as `step NAME {`");
          if (block.labels.empty()) continue;
        }
        name = block.labels[0];
        source.block = &block;
        source.headerRange = block.header;
        for (const ast::Item& stepItem : block.items) {
          if (stepItem.attribute && stepItem.attribute->name.text == "do" &&
              !stepItem.attribute->values.empty()) {
            source.doExpr = stepItem.attribute->values[0].get();
            break;
          }
        }
      } else if (item.attribute && item.attribute->name.text == "step") {
        const ast::Attribute& attr = *item.attribute;
        if (attr.values.size() != 1 || !attr.values[0]->isSymbol() || !attr.assigned) {
          diags_.report(Rule::MissingAttribute, attr.range,
                        "a step is `step NAME = CALL` or `step NAME { do CALL ... }`");
          continue;
        }
        name = attr.values[0]->path[0];
        source.shorthand = &attr;
        source.doExpr = attr.assigned.get();
        source.headerRange = {attr.range.file, attr.name.range.begin, name.range.end};
      } else {
        checkPhaseItem(item, phase, seen);
        continue;
      }
      auto step = std::make_unique<Step>();
      step->name = name.text;
      step->nameRange = name.range;
      step->range = item.range();
      step->phase = &phase;
      if (!declare(step->name, step->nameRange, {.step = step.get()})) continue;
      phase.steps.push_back(step.get());
      stepBlocks_.emplace_back(step.get(), source);
      plan_->steps.push_back(std::move(step));
    }
  }

  void checkPhaseItem(const ast::Item& item, Phase& phase, std::map<std::string, Range>& seen) {
    static const std::vector<std::string> known = {"window", "on_window_end", "on", "step"};
    std::string where = fmt::format("phase '{}'", phaseName(phase.kind));
    if (item.block) {
      diags_.report(Rule::UnknownAttribute, item.block->keyword.range,
                    fmt::format("{} holds steps, not '{}' blocks", where, item.block->keyword.text));
      return;
    }
    const ast::Attribute& attr = *item.attribute;
    if (attr.name.text != "window" && attr.name.text != "on_window_end" && attr.name.text != "on") {
      unknownAttribute(attr.name, where, known);
      return;
    }
    if (!firstOf(seen, attr.name)) return;
    const ast::Expr* value = single(attr);
    if (!value) return;
    if (attr.name.text == "on") {
      phase.host = resolveHost(*value, "on");
      phase.hostRange = value->range;
    } else if (attr.name.text == "window") {
      phase.window = resolveWindow(*value);
      phase.windowRange = value->range;
    } else {
      phase.onWindowEnd = checkOnWindowEnd(*value);
    }
  }

  // ---------------------------------------------------------------- steps

  // Finds the action a call names. Strings are shell commands (`check
  // "pg_isready"`), short for sh("...").
  Call resolveCallee(const ast::Expr& expr) {
    Call call;
    call.range = expr.range;
    call.callee = expr.range;
    if (expr.kind == ast::ExprKind::String) {
      call.action = scope_.prelude ? scope_.prelude->action("sh") : nullptr;
      return call;
    }
    if (expr.kind != ast::ExprKind::Call) {
      diags_.report(Rule::TypeMismatch, expr.range,
                    fmt::format("expected an action call like postgres.copy(from: a, to: b) or "
                                "sh(\"...\"), found {}",
                                ValueChecker::describe(expr)));
      return call;
    }
    call.callee = pathRange(expr.path);
    if (expr.path.size() == 1) {
      const std::string& name = expr.path[0].text;
      if (name == "env" || name == "file") {
        diags_.report(Rule::TypeMismatch, call.callee,
                      fmt::format("{}() names where a secret comes from; it is not an action",
                                  name));
        return call;
      }
      call.action = scope_.prelude ? scope_.prelude->action(name) : nullptr;
      if (call.action == nullptr) {
        diags_.report(Rule::UndefinedReference, call.callee,
                      fmt::format("action '{}' is not declared; actions are called as "
                                  "module.action(...), like postgres.copy(...)",
                                  name));
      }
      return call;
    }
    if (expr.path.size() != 2) {
      diags_.report(Rule::UndefinedReference, call.callee,
                    fmt::format("'{}' is not an action: actions are called as module.action(...)",
                                expr.dottedPath()));
      return call;
    }
    const std::string& moduleName = expr.path[0].text;
    const std::string& actionName = expr.path[1].text;
    auto module = scope_.modules.find(moduleName);
    if (module == scope_.modules.end()) {
      if (importFailed_) return call;
      auto& d = diags_.report(Rule::UndefinedReference, expr.path[0].range,
                              fmt::format("module '{}' is not imported", moduleName));
      if (knownModule(moduleName)) {
        d.fix = diag::FixHint{fmt::format("add `import \"std/{}\"` at the top of the file",
                                          moduleName),
                              expr.path[0].range, std::nullopt};
      }
      return call;
    }
    call.action = module->second->action(actionName);
    if (call.action == nullptr) {
      std::vector<std::string> names;
      for (const auto& a : module->second->actions) names.push_back(a->name);
      auto& d = diags_.report(Rule::UndefinedReference, expr.path[1].range,
                              fmt::format("module '{}' has no action '{}'", moduleName, actionName));
      if (auto near = closestName(actionName, names)) {
        d.fix = diag::FixHint{fmt::format("did you mean '{}.{}'?", moduleName, *near),
                              expr.path[1].range, *near};
      } else {
        d.fix = diag::FixHint{fmt::format("its actions: {}", fmt::join(names, ", ")),
                              expr.path[1].range, std::nullopt};
      }
    }
    return call;
  }

  // Checks the arguments of a call whose action is known.
  void checkArguments(const ast::Expr& expr, Call& call) {
    const Action& action = *call.action;
    if (expr.kind == ast::ExprKind::String) {
      const Parameter* cmd = action.params.empty() ? nullptr : &action.params[0];
      if (cmd) {
        Value value = values_.check(expr, cmd->type, *this);
        if (value.isSet()) call.args[cmd->name] = std::move(value);
      }
      return;
    }
    bool positionalAllowed = action.module == "shell" && action.params.size() == 1;
    std::map<std::string, Range> seen;
    std::vector<std::string> paramNames;
    for (const Parameter& p : action.params) paramNames.push_back(p.name);
    for (const ast::Argument& arg : expr.arguments) {
      const Parameter* param = nullptr;
      if (!arg.name) {
        if (!positionalAllowed || expr.arguments.size() != 1) {
          diags_.report(Rule::TypeMismatch, arg.range,
                        fmt::format("the arguments of {} are named: `{}: ...`",
                                    action.qualifiedName(),
                                    action.params.empty() ? "name" : action.params[0].name));
          continue;
        }
        param = &action.params[0];
      } else {
        param = action.param(arg.name->text);
        if (param == nullptr) {
          auto& d = diags_.report(Rule::UnknownAttribute, arg.name->range,
                                  fmt::format("{} has no parameter '{}'", action.qualifiedName(),
                                              arg.name->text));
          if (auto near = closestName(arg.name->text, paramNames)) {
            d.fix = diag::FixHint{fmt::format("did you mean '{}'?", *near), arg.name->range, *near};
          } else {
            d.fix = diag::FixHint{fmt::format("its parameters: {}", fmt::join(paramNames, ", ")),
                                  arg.name->range, std::nullopt};
          }
          continue;
        }
        if (!firstOf(seen, *arg.name)) continue;
      }
      if (arg.defaultValue) {
        diags_.report(Rule::TypeMismatch, arg.defaultValue->range,
                      "a call's argument takes a value, not `= ...`");
      }
      Value value = values_.check(*arg.value, param->type, *this);
      if (value.isSet()) call.args[param->name] = std::move(value);
    }
    std::vector<std::string> missing;
    for (const Parameter& p : action.params) {
      bool given = std::any_of(expr.arguments.begin(), expr.arguments.end(), [&](const ast::Argument& a) {
        return (a.name && a.name->text == p.name) || (!a.name && positionalAllowed);
      });
      if (!given && p.defaultExpr == nullptr) missing.push_back("'" + p.name + "'");
    }
    if (!missing.empty()) {
      diags_.report(Rule::MissingAttribute, call.callee,
                    fmt::format("{} is missing {}", action.qualifiedName(), fmt::join(missing, ", ")));
    }
  }

  std::optional<Call> checkCall(const ast::Expr& expr) {
    Call call = resolveCallee(expr);
    if (call.action == nullptr) return std::nullopt;
    checkArguments(expr, call);
    return call;
  }

  void checkStep(Step& step, const StepSource& source) {
    currentStep_ = &step;
    usingFromStep_ = true;
    if (source.shorthand) {
      if (step.run.action) checkArguments(*source.doExpr, step.run);
      currentStep_ = nullptr;
      usingFromStep_ = false;
      return;
    }
    static const std::vector<std::string> known = {
        "do",       "undo",       "check",  "after",         "timeout", "retry",      "delay",
        "estimate", "idempotent", "window", "on_window_end", "on",      "description"};
    std::map<std::string, Range> seen;
    bool hasDo = false;
    for (const ast::Item& item : source.block->items) {
      if (item.block) {
        unknownBlock(*item.block, fmt::format("step '{}'", step.name));
        continue;
      }
      const ast::Attribute& attr = *item.attribute;
      const std::string& name = attr.name.text;
      if (std::find(known.begin(), known.end(), name) == known.end()) {
        unknownAttribute(attr.name, fmt::format("step '{}'", step.name), known);
        continue;
      }
      if (!firstOf(seen, attr.name)) continue;
      if (name == "after") {
        checkAfter(step, attr);
        continue;
      }
      const ast::Expr* value = single(attr);
      if (name == "do") hasDo = true;
      if (!value) continue;
      if (name == "do") {
        if (step.run.action) checkArguments(*value, step.run);
      } else if (name == "undo") {
        step.undo = checkCall(*value);
      } else if (name == "check") {
        step.check = checkCall(*value);
      } else if (name == "timeout") {
        step.timeoutMs = positiveDuration(*value, "a timeout");
      } else if (name == "estimate") {
        step.estimateMs = positiveDuration(*value, "an estimate");
      } else if (name == "delay") {
        Value delay = values_.check(*value, Type::of(Tag::Duration), *this);
        if (delay.tag == Value::Tag::Duration) step.delayMs = delay.number;
      } else if (name == "retry") {
        Value retry = values_.check(*value, Type::of(Tag::Int), *this);
        if (retry.tag == Value::Tag::Int) {
          if (retry.number > 100) {
            diags_.report(Rule::InvalidValue, value->range, "retry at most 100 times");
          } else {
            step.retry = static_cast<int>(retry.number);
          }
        }
      } else if (name == "idempotent") {
        Value flag = values_.check(*value, Type::of(Tag::Bool), *this);
        step.idempotent = flag.boolean;
      } else if (name == "window") {
        step.window = resolveWindow(*value);
        step.windowRange = value->range;
      } else if (name == "on_window_end") {
        step.onWindowEnd = checkOnWindowEnd(*value);
      } else if (name == "on") {
        step.host = resolveHost(*value, "on");
        step.hostRange = value->range;
      } else if (name == "description") {
        Value text = values_.check(*value, Type::of(Tag::String), *this);
        if (text.tag == Value::Tag::String) step.description = renderPlain(text.text);
      }
    }
    if (!hasDo) {
      diags_.report(Rule::MissingAttribute, source.headerRange,
                    fmt::format("step '{}' has no `do`: what should it run?", step.name));
    }
    currentStep_ = nullptr;
    usingFromStep_ = false;
  }

  void checkAfter(Step& step, const ast::Attribute& attr) {
    if (attr.values.empty() || attr.assigned) {
      diags_.report(Rule::TypeMismatch, attr.range,
                    "`after` names steps: `after drain` or `after [drain, final_copy]`");
      return;
    }
    std::vector<const ast::Expr*> names;
    for (const ast::ExprPtr& value : attr.values) {
      if (value->kind == ast::ExprKind::List) {
        for (const ast::ExprPtr& element : value->elements) names.push_back(element.get());
      } else {
        names.push_back(value.get());
      }
    }
    for (const ast::Expr* name : names) {
      if (!name->isSymbol()) {
        diags_.report(Rule::TypeMismatch, name->range,
                      fmt::format("expected a step's name, found {}", ValueChecker::describe(*name)));
        continue;
      }
      auto it = names_.find(name->path[0].text);
      if (it == names_.end()) {
        undefined(name->path[0], "step");
        continue;
      }
      if (it->second.step == nullptr) {
        auto& d = diags_.report(Rule::TypeMismatch, name->range,
                                fmt::format("'{}' is not a step", name->path[0].text));
        d.notes.push_back({it->second.range, "declared here"});
        continue;
      }
      step.after.push_back({it->second.step, name->range, true});
    }
  }

  const FileScope& scope_;
  diag::DiagnosticEngine& diags_;
  ValueChecker values_;
  std::unique_ptr<Plan> plan_;
  Usage usage_;
  std::map<std::string, Declaration> names_;
  std::map<const Endpoint*, const ast::Block*> endpointBlocks_;
  std::vector<std::pair<Step*, StepSource>> stepBlocks_;
  std::vector<std::pair<Host*, const ast::Expr*>>
      hostJumps_;  ///< resolved once all hosts are declared
  Step* currentStep_ = nullptr;
  bool usingFromStep_ = false;
  bool importFailed_ = false;
  static constexpr int kSuggestionLimit = 50;
  int suggestions_ = 0;
};

}  // namespace

CheckedPlan checkPlanFile(const ast::File& file, const FileScope& scope,
                          diag::DiagnosticEngine& diags) {
  PlanChecker checker(scope, diags);
  return checker.check(file);
}

}  // namespace mig::sema
