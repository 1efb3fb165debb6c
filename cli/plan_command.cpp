#include <fmt/format.h>

#include <chrono>
#include <iostream>
#include <map>

#include "cli/commands.h"
#include "cli/plan_loader.h"
#include "compiler/graph/pictures.h"
#include "compiler/units/units.h"
#include "compiler/window/window.h"
#include "runtime/windows.h"

namespace mig::cli {
namespace {

void printWindows(std::ostream& out, const graph::Graph& g, window::Instant now) {
  if (g.windows.empty()) return;
  out << fmt::format("\nWindows (as of {})\n", window::Window::formatUtc(now));
  for (const graph::Window& spec : g.windows) {
    out << fmt::format("  {:<14} {}\n", spec.name, graph::describeWindow(spec));
    std::string error;
    auto w = runtime::toWindow(spec, error);
    if (!w) {
      out << fmt::format("  {:<14} {}\n", "", error);
      continue;
    }
    auto opening = w->currentOrNext(now);
    if (!opening) {
      // A one-off window that has closed: no step bound to it can run.
      auto past = w->onlyOpening();
      out << (past
                  ? fmt::format("  {:<14} closed for good at {}: the plan can no longer reach it\n",
                                "", runtime::formatInWindowZone(*w, past->end))
                  : fmt::format("  {:<14} no opening after now\n", ""));
      continue;
    }
    bool open = opening->begin <= now;
    out << fmt::format("  {:<14} {} {} to {}\n", "", open ? "open now, since" : "next opens",
                             w->formatLocal(opening->begin), w->formatLocal(opening->end));
    out << fmt::format("  {:<14} {:<15} {} to {}\n", "", "", window::Window::formatUtc(opening->begin),
                             window::Window::formatUtc(opening->end));
  }
}

// Why `node` can never start, as preflight says it, or "" when it can.
std::string whyNeverStarts(const graph::Graph& g, const graph::Node& node, window::Instant now) {
  const graph::Window* spec = node.window.empty() ? nullptr : g.window(node.window);
  std::string error;
  auto w = spec ? runtime::toWindow(*spec, error) : std::nullopt;
  if (!w) return "";
  std::optional<window::Milliseconds> timeout;
  if (node.timeoutMs) timeout = window::Milliseconds(*node.timeoutMs);
  auto never = runtime::whyNeverStarts(*w, now, timeout);
  return never ? runtime::describeNeverStarts(*never, node.window, *w, now, timeout, false) : "";
}

void printScript(std::ostream& out, const std::string& script, std::string_view indent) {
  size_t start = 0;
  bool first = true;
  while (start < script.size()) {
    size_t end = script.find('\n', start);
    if (end == std::string::npos) end = script.size();
    out << indent << (first ? "$ " : "  ") << std::string_view(script).substr(start, end - start)
              << '\n';
    first = false;
    start = end + 1;
  }
}

void printCommand(std::ostream& out, const graph::Command& command, std::string_view indent) {
  printScript(out, command.script, indent);
  for (const auto& [name, value] : command.env) {
    out << indent << fmt::format("  env {}={}\n", name, value);
  }
  for (const graph::SecretDelivery& secret : command.secrets) {
    if (secret.via == graph::SecretDelivery::Via::Pgpass) {
      out << indent
                << fmt::format("  PGPASSFILE line {}:{}:{}:{}:*** (secret {}, for {})\n", secret.host,
                               secret.port, secret.database, secret.user, secret.secret,
                               secret.endpoint);
    } else if (secret.via == graph::SecretDelivery::Via::OptionFile) {
      out << indent
          << fmt::format("  MIG_OPTION_FILE group [client-{}] password=*** (secret {})\n",
                         secret.endpoint, secret.secret);
    } else {
      out << indent
                << fmt::format("  env {}=*** (secret {})\n", secret.variable, secret.secret);
    }
  }
}

std::string stepAttributes(const graph::Node& node) {
  std::vector<std::string> parts;
  if (!node.host.empty()) parts.push_back("on host " + node.host);
  if (node.timeoutMs) parts.push_back("timeout " + units::formatDuration(*node.timeoutMs));
  if (node.retry) parts.push_back(fmt::format("retry {}", node.retry));
  if (node.delayMs) parts.push_back("delay " + units::formatDuration(node.delayMs));
  if (node.estimateMs) parts.push_back("estimate " + units::formatDuration(*node.estimateMs));
  if (node.idempotent) parts.push_back("idempotent");
  if (!node.window.empty()) {
    parts.push_back(fmt::format("window {}, at its end: {}", node.window, node.onWindowEnd));
  }
  std::vector<std::string> waits;
  for (const std::string& dep : node.after) {
    if (!dep.starts_with("phase:")) waits.push_back(dep);
  }
  if (!waits.empty()) parts.push_back(fmt::format("after {}", fmt::join(waits, ", ")));
  return fmt::format("{}", fmt::join(parts, "; "));
}

}  // namespace

int planCommand(const PlanOptions& options) {
  window::Instant now = std::chrono::time_point_cast<std::chrono::milliseconds>(
      std::chrono::system_clock::now());
  if (!options.now.empty()) {
    auto parsed = window::parseInstant(options.now);
    if (!parsed) {
      printError(fmt::format("--now '{}' is not an instant like 2026-12-01T10:00Z", options.now));
      return kUsage;
    }
    now = *parsed;
  }
  int exitCode = kSuccess;
  auto loaded = loadPlan(options.file, exitCode);
  if (!loaded) return exitCode;
  printPlan(std::cout, *loaded, now, options.file);
  return kSuccess;
}

void printPlan(std::ostream& out, const LoadedPlan& loaded, window::Instant now,
               const std::string& file) {
  const graph::Graph& g = loaded.graph;

  size_t steps = 0;
  for (const graph::Node& node : g.nodes) steps += !node.isBarrier();
  out << fmt::format("Plan {}{}\n", g.plan, g.title.empty() ? "" : ": " + g.title);
  out << fmt::format("  file   {}\n", g.source.empty() ? file : g.source);
  if (!g.owner.empty()) out << fmt::format("  owner  {}\n", g.owner);
  out << fmt::format("  hash   {}\n", g.planHash);
  out << fmt::format("  steps  {} in {} phases\n", steps, g.phases.size());

  out << "\nRetention\n";
  if (g.retainMs) {
    out << fmt::format("  the old environment is kept {} after switchover completes; `mig "
                             "rollback` is promised until then\n",
                             units::formatDuration(*g.retainMs));
  } else {
    out << "  none declared: rollback after switchover is not promised\n";
  }

  printWindows(out, g, now);

  if (!g.hosts.empty()) {
    out << "\nHosts (steps run there over OpenSSH, host keys checked strictly)\n";
    for (const graph::Host& host : g.hosts) {
      std::string key = !host.hostKey.empty()      ? "key pinned in the plan"
                        : !host.knownHosts.empty() ? "key in " + host.knownHosts
                                                   : "key in ~/.ssh/known_hosts";
      out << fmt::format("  {:<14} {}{}:{}, {}{}{}\n", host.name,
                         host.user.empty() ? "" : host.user + "@", host.address, host.port, key,
                         host.identity.empty() ? "" : ", identity " + host.identity,
                         host.jump.empty() ? "" : ", through " + host.jump);
    }
  }

  if (!g.secrets.empty()) {
    out << "\nSecrets (read when a step runs; values are never shown)\n";
    for (const graph::Secret& secret : g.secrets) {
      out << fmt::format("  {:<14} from {} {}\n", secret.name,
                               secret.from == "env" ? "environment variable" : "file",
                               secret.location);
    }
  }

  out << "\nSteps, in the order run starts them (steps of a phase run in parallel unless "
               "one waits for another)\n";
  int number = 0;
  std::map<std::pair<std::string, int64_t>, std::string> neverStarts;
  for (const graph::Node& node : g.nodes) {
    if (node.isBarrier()) {
      const graph::Phase* phase = nullptr;
      for (const graph::Phase& p : g.phases) {
        if (p.barrier == node.id) phase = &p;
      }
      out << fmt::format("\n  phase {}{}\n", node.phase,
                               phase && !phase->window.empty() ? " (window " + phase->window + ")"
                                                               : "");
      continue;
    }
    ++number;
    out << fmt::format("  {:>3}. {}  {}  [{}]\n", number, node.id, node.run.call, node.effect);
    std::string attributes = stepAttributes(node);
    if (!attributes.empty()) out << "       " << attributes << '\n';
    if (!node.window.empty()) {
      // Asked once per window and timeout: thousands of steps share a few.
      auto key = std::make_pair(node.window, node.timeoutMs.value_or(-1));
      auto [why, asked] = neverStarts.try_emplace(key);
      if (asked) why->second = whyNeverStarts(g, node, now);
      if (!why->second.empty()) out << "       can never start: " << why->second << '\n';
    }
    printCommand(out, node.run, "       ");
    if (node.check) {
      out << fmt::format("       check {}\n", node.check->call);
      printCommand(out, *node.check, "       ");
    }
    if (node.undo) {
      out << fmt::format("       undo {}\n", node.undo->call);
      printCommand(out, *node.undo, "       ");
    }
  }

  out << "\nLint\n";
  if (loaded.warningCount == 0) {
    out << "  no warnings\n";
  } else {
    out << loaded.warnings;
  }
}

}  // namespace mig::cli
