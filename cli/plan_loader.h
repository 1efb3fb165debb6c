#pragma once

#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "compiler/diag/diagnostic.h"
#include "compiler/graph/graph.h"
#include "compiler/window/window.h"

namespace mig::cli {

/// A plan ready to show or run: its step graph, and the lint warnings its
/// source had (text, as `mig lint` prints them), if it was compiled here.
struct LoadedPlan {
  graph::Graph graph;
  std::string warnings;
  size_t warningCount = 0;
};

/// Compiles a .mig file, or reads a compiled plan (.json); `-` reads
/// either from standard input. Errors (lint
/// errors, an unreadable file, a malformed compiled plan) are printed to
/// stderr; `exitCode` is then set (1 for plan errors, 2 for usage).
std::optional<LoadedPlan> loadPlan(const std::string& path, int& exitCode);

/// What `mig plan` prints: steps in order with their expanded commands
/// (secrets masked), windows' next openings as of `now`, retention, lint.
void printPlan(std::ostream& out, const LoadedPlan& plan, window::Instant now,
               const std::string& file);

}  // namespace mig::cli
