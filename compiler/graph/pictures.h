#pragma once

#include <string>

#include "compiler/graph/graph.h"

namespace mig::graph {

/// Graphviz: phases as clusters (windowed ones marked with their window),
/// barriers as small diamonds, each undo as a dashed note hanging off its
/// step. Renders with `dot -Tsvg`.
std::string toDot(const Graph& graph);

/// The same as a Mermaid flowchart, which GitHub renders in Markdown.
std::string toMermaid(const Graph& graph);

/// "sat 02:00 for 2h (America/Chicago)", "2026-12-05T02:00 for 3h (UTC)".
std::string describeWindow(const Window& window);

}  // namespace mig::graph
