#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "compiler/graph/graph.h"

namespace mig::graph {

/// The compiled plan as JSON (docs/compiled-plan.md): the same bytes for
/// the same graph.
std::string toJson(const Graph& graph);

/// Reads a compiled plan. On a malformed document, or one of another
/// schema version, returns nullopt and sets `error` to a message naming
/// what is wrong and where ("nodes[3].after: expected an array").
std::optional<Graph> fromJson(std::string_view text, std::string& error);

/// "sha256:" and the SHA-256 of the plan's meaning: the canonical JSON
/// without what formatting or comments can change (where things were
/// written, the title and owner). Any change to a step, window, ACL,
/// endpoint, secret source or retention changes it.
std::string computePlanHash(const Graph& graph);

}  // namespace mig::graph
