#pragma once

#include <chrono>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "compiler/graph/graph.h"
#include "runtime/clock.h"

namespace mig::runtime {

/// What a run will use: the commands it may start.
struct PreflightScope {
  std::vector<const graph::Command*> commands;
  std::vector<const graph::Node*> steps;  ///< steps whose `do` may run (for window checks)
  size_t doneSteps = 0;  ///< steps a run being resumed has done (the `toUndo` of scopeOf)
  /// Commands of steps `on` a host: checked there (RemoteHosts::open), not here.
  std::set<const graph::Command*> remoteCommands;
  /// Each host some command runs on, with the programs those commands require.
  std::map<std::string, std::set<std::string>> hosts;
};

/// The commands that may run: do, check and undo of the steps `toRun`, and
/// the undo of the steps `toUndo` (done steps a rollback may undo).
PreflightScope scopeOf(const graph::Graph& graph, const std::set<std::string>& toRun,
                       const std::set<std::string>& toUndo);

/// Checks, before anything runs, that every external command the scope
/// needs here is on PATH, every endpoint it talks to from here accepts a TCP connection
/// (all at once, `connectTimeout` each), and every windowed step can ever
/// fit in its window (steps that can never start for the same reason are
/// one problem). Returns every problem found, one line each. Secrets are
/// checked by SecretValues::resolve.
std::vector<std::string> preflight(const graph::Graph& graph, const PreflightScope& scope,
                                   Instant now,
                                   std::chrono::milliseconds connectTimeout = std::chrono::seconds(3));

/// The program's full path if `name` is on PATH (or is a path to an
/// executable), otherwise "".
std::string findOnPath(const std::string& name);

/// Host and port of an endpoint: its `host` and `port` fields, or parsed
/// from its `url` (scheme://[user@]host[:port][/...]).
bool endpointAddress(const graph::Endpoint& endpoint, std::string& host, std::string& port);

}  // namespace mig::runtime
