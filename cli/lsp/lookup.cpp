#include "cli/lsp/lookup.h"

namespace mig::cli::lsp {

const sema::Module* findModule(const Document& document, std::string_view name) {
  if (const sema::Module* own = document.module(); own && own->name == name) return own;
  auto it = document.scope().modules.find(std::string(name));
  return it == document.scope().modules.end() ? nullptr : it->second;
}

const sema::Action* findAction(const Document& document, std::string_view dottedName) {
  size_t dot = dottedName.find('.');
  if (dot == std::string_view::npos) {
    if (const sema::Module* own = document.module()) {
      if (const sema::Action* action = own->action(dottedName)) return action;
    }
    const sema::Module* prelude = document.scope().prelude;
    return prelude ? prelude->action(dottedName) : nullptr;
  }
  const sema::Module* module = findModule(document, dottedName.substr(0, dot));
  return module ? module->action(dottedName.substr(dot + 1)) : nullptr;
}

const sema::EndpointKind* findKind(const Document& document, std::string_view name) {
  if (const sema::Module* own = document.module()) {
    if (const sema::EndpointKind* kind = own->kind(name)) return kind;
  }
  return document.scope().kind(name);
}

const sema::EndpointKind* endpointKind(const Document& document, std::string_view endpoint) {
  const Declaration* declared = document.declaration(endpoint);
  if (declared == nullptr || declared->kind != Declaration::Kind::Endpoint) return nullptr;
  return findKind(document, declared->detail);
}

}  // namespace mig::cli::lsp
