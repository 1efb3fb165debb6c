#include "compiler/sema/model.h"

#include <algorithm>

namespace mig::sema {

Type Type::listOf(Type element) {
  Type type = of(Tag::List);
  type.element.push_back(std::move(element));
  return type;
}

std::string Type::name() const {
  switch (tag) {
    case Tag::Invalid: return "invalid";
    case Tag::String: return "string";
    case Tag::Command: return "command";
    case Tag::Int: return "int";
    case Tag::Bool: return "bool";
    case Tag::Duration: return "duration";
    case Tag::Size: return "size";
    case Tag::Secret: return "secret";
    case Tag::List: return "[" + (element.empty() ? std::string("?") : element[0].name()) + "]";
    case Tag::OneOf: {
      std::string out = "one_of(";
      for (size_t i = 0; i < symbols.size(); ++i) out += (i ? ", " : "") + symbols[i];
      return out + ")";
    }
    case Tag::Endpoint: {
      if (kinds.empty()) return "endpoint";
      std::string out;
      for (size_t i = 0; i < kinds.size(); ++i) out += (i ? "|" : "") + kinds[i]->name;
      return out;
    }
  }
  return "invalid";
}

std::string Type::nameWithArticle() const {
  std::string written = name();
  bool vowel = std::string_view("aeiou").find(written.front()) != std::string_view::npos;
  return (vowel ? "an " : "a ") + written;
}

bool Type::acceptsKind(const EndpointKind* kind) const {
  if (tag != Tag::Endpoint) return false;
  return kinds.empty() || std::find(kinds.begin(), kinds.end(), kind) != kinds.end();
}

std::string_view endpointRoleName(EndpointRole role) {
  switch (role) {
    case EndpointRole::Source: return "source";
    case EndpointRole::Target: return "target";
    case EndpointRole::Other: return "endpoint";
  }
  return "endpoint";
}

std::string_view effectName(Effect effect) {
  switch (effect) {
    case Effect::Read: return "read";
    case Effect::Write: return "write";
    case Effect::Compare: return "compare";
    case Effect::Acl: return "acl";
  }
  return "write";
}

std::string_view phaseName(PhaseKind kind) { return kPhaseNames[static_cast<size_t>(kind)]; }

const Field* EndpointKind::field(std::string_view fieldName) const {
  for (const Field& f : fields) {
    if (f.name == fieldName) return &f;
  }
  return nullptr;
}

const Field* EndpointKind::secretField() const {
  for (const Field& f : fields) {
    if (f.type.tag == Type::Tag::Secret) return &f;
  }
  return nullptr;
}

const Parameter* Action::param(std::string_view paramName) const {
  for (const Parameter& p : params) {
    if (p.name == paramName) return &p;
  }
  return nullptr;
}

std::string Action::qualifiedName() const {
  return module == "shell" ? name : module + "." + name;
}

const Window* Step::effectiveWindow() const {
  if (window) return window;
  return phase ? phase->window : nullptr;
}

const Host* Step::effectiveHost() const {
  if (host) return host;
  return phase ? phase->host : nullptr;
}

OnWindowEnd Step::effectiveOnWindowEnd() const {
  if (onWindowEnd) return *onWindowEnd;
  if (phase && phase->onWindowEnd) return *phase->onWindowEnd;
  return OnWindowEnd::Pause;
}

const Phase* Plan::phase(PhaseKind kind) const {
  for (const auto& p : phases) {
    if (p->kind == kind) return p.get();
  }
  return nullptr;
}

const Endpoint* Plan::endpoint(std::string_view endpointName) const {
  for (const auto& e : endpoints) {
    if (e->name == endpointName) return e.get();
  }
  return nullptr;
}

const Step* Plan::step(std::string_view stepName) const {
  for (const auto& s : steps) {
    if (s->name == stepName) return s.get();
  }
  return nullptr;
}

const Endpoint* endpointArgument(const Call& call, const std::string& param) {
  auto it = call.args.find(param);
  if (it == call.args.end() || it->second.tag != Value::Tag::Ref ||
      it->second.ref.to != Ref::To::Endpoint) {
    return nullptr;
  }
  return it->second.ref.endpoint;
}

bool calls(const Call& call, std::string_view module, std::string_view name) {
  return call.action && call.action->module == module && call.action->name == name;
}

bool sameEndpoints(const Call& a, const Call& b) {
  bool shared = false;
  for (const auto& [param, value] : a.args) {
    const Endpoint* endpoint = endpointArgument(a, param);
    if (endpoint == nullptr || !b.args.count(param)) continue;
    if (endpointArgument(b, param) != endpoint) return false;
    shared = true;
  }
  return shared;
}

const Step* undoingStep(const Plan& plan, const Step& step) {
  if (step.run.action == nullptr) return nullptr;
  const Action& action = *step.run.action;
  if (action.undoneWith.empty()) return nullptr;
  const Step* found = nullptr;
  for (const auto& other : plan.steps) {
    if (other.get() == &step || !calls(other->run, action.module, action.undoneWith) ||
        !sameEndpoints(step.run, other->run)) {
      continue;
    }
    if (other->undo) return other.get();
    if (found == nullptr) found = other.get();
  }
  return found;
}

}  // namespace mig::sema
