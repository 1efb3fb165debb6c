#pragma once

#include <string_view>

#include "cli/lsp/document.h"

/// Finding what a name in a document means: the module, action or kind it
/// names in the document's scope.
namespace mig::cli::lsp {

const sema::Module* findModule(const Document& document, std::string_view name);
/// `postgres.copy`, or a builtin of the shell prelude (`sh`).
const sema::Action* findAction(const Document& document, std::string_view dottedName);
const sema::EndpointKind* findKind(const Document& document, std::string_view name);
/// The kind of a declared endpoint, or null.
const sema::EndpointKind* endpointKind(const Document& document, std::string_view endpoint);

}  // namespace mig::cli::lsp
