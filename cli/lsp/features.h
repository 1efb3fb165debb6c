#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "cli/lsp/document.h"

/// The language features, each a function of an analysed document that
/// returns the LSP result as JSON.
namespace mig::cli::lsp {

/// textDocument/publishDiagnostics params: exactly what `mig lint` reports
/// for the document, with notes as related information. Secret literals are
/// never repeated in any message.
nlohmann::json publishDiagnosticsParams(const Document& document);

/// textDocument/hover: null, or `{"contents": {"kind": "markdown", ...}}`.
nlohmann::json hover(const Document& document, uint32_t offset);

/// textDocument/completion: a list of CompletionItems.
nlohmann::json completion(const Document& document, uint32_t offset);

/// textDocument/definition: null, or one Location.
nlohmann::json definition(const Document& document, uint32_t offset);

/// textDocument/documentSymbol: DocumentSymbols, phases holding their steps.
nlohmann::json documentSymbols(const Document& document);

/// textDocument/formatting: TextEdits making the text what `mig fmt` writes
/// (none when it is formatted); nullopt for a file with syntax errors,
/// which `mig fmt` refuses too.
std::optional<nlohmann::json> formatting(const Document& document);

/// The Location of `range` in any file the document's compilation read:
/// the document, a module on disk, or a stdlib module (written out to a
/// cache directory so an editor can open it). nullopt when there is no
/// file to point at.
std::optional<nlohmann::json> locationJson(const Document& document, source::Range range);

/// Where stdlib modules are written for go-to-definition:
/// $XDG_CACHE_HOME/mig/stdlib (or ~/.cache/mig/stdlib).
std::string stdlibCacheDirectory();

}  // namespace mig::cli::lsp
