#include "compiler/graph/pictures.h"

#include <fmt/format.h>

#include "compiler/units/units.h"

namespace mig::graph {
namespace {

std::string dotString(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out + "\"";
}

// Mermaid labels go in double quotes; a quote inside is an entity.
std::string mermaidLabel(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    switch (c) {
      case '"': out += "#quot;"; break;
      case '\n': out += "<br/>"; break;
      case '<': out += "#lt;"; break;
      case '>': out += "#gt;"; break;
      default: out += c;
    }
  }
  return out + "\"";
}

std::string mermaidId(const Node& node) {
  return node.isBarrier() ? "phase_" + node.phase : "step_" + node.id;
}

std::string stepLabel(const Node& node) {
  std::string label = node.id + "\n" + node.run.action;
  if (node.timeoutMs) label += "\ntimeout " + units::formatDuration(*node.timeoutMs);
  if (node.retry > 0) label += fmt::format("\nretry {}", node.retry);
  return label;
}

std::string phaseLabel(const Graph& graph, const Phase& phase) {
  if (phase.window.empty()) return phase.name;
  const Window* window = graph.window(phase.window);
  return fmt::format("{} (window {}: {})", phase.name, phase.window,
                     window ? describeWindow(*window) : "");
}

}  // namespace

std::string describeWindow(const Window& window) {
  std::string when = window.isOneOff()
                         ? window.at
                         : fmt::format("{} {}", fmt::join(window.days, ","), window.start);
  return fmt::format("{} for {} ({})", when, units::formatDuration(window.lengthMs),
                     window.timezone);
}

std::string toDot(const Graph& graph) {
  std::string out;
  out += fmt::format("digraph {} {{\n", dotString(graph.plan));
  out += "  rankdir=LR;\n";
  out += "  node [shape=box, style=\"rounded,filled\", fillcolor=white, fontname=\"Helvetica\", "
         "fontsize=10];\n";
  out += "  edge [color=\"#555555\"];\n";
  for (const Phase& phase : graph.phases) {
    bool windowed = !phase.window.empty();
    out += fmt::format("  subgraph {} {{\n", dotString("cluster_" + phase.name));
    out += fmt::format("    label={};\n", dotString(phaseLabel(graph, phase)));
    out += fmt::format("    style=\"rounded{}\"; color=\"{}\"; fontname=\"Helvetica\";\n",
                       windowed ? ",filled" : "", windowed ? "#b35806" : "#999999");
    if (windowed) out += "    fillcolor=\"#fff3e0\";\n";
    for (const Node& node : graph.nodes) {
      if (node.phase != phase.name) continue;
      if (node.isBarrier()) {
        out += fmt::format("    {} [shape=diamond, label=\"\", width=0.2, height=0.2, "
                           "style=filled, fillcolor=\"#999999\"];\n",
                           dotString(node.id));
        continue;
      }
      std::string label = stepLabel(node);
      if (!node.window.empty() && node.window != phase.window) label += "\nwindow " + node.window;
      out += fmt::format("    {} [label={}{}];\n", dotString(node.id), dotString(label),
                         node.effect == "write" ? ", penwidth=1.5" : "");
      if (node.undo) {
        out += fmt::format("    {} [shape=note, style=dashed, label={}];\n",
                           dotString("undo:" + node.id), dotString("undo\n" + node.undo->action));
      }
    }
    out += "  }\n";
  }
  for (const Node& node : graph.nodes) {
    for (const std::string& dep : node.after) {
      out += fmt::format("  {} -> {};\n", dotString(dep), dotString(node.id));
    }
    if (node.undo) {
      out += fmt::format("  {} -> {} [style=dashed, arrowhead=none, color=\"#b35806\"];\n",
                         dotString(node.id), dotString("undo:" + node.id));
    }
  }
  out += "}\n";
  return out;
}

std::string toMermaid(const Graph& graph) {
  std::string out = "flowchart LR\n";
  for (const Phase& phase : graph.phases) {
    out += fmt::format("  subgraph phase_group_{}[{}]\n", phase.name,
                       mermaidLabel(phaseLabel(graph, phase)));
    for (const Node& node : graph.nodes) {
      if (node.phase != phase.name) continue;
      if (node.isBarrier()) {
        out += fmt::format("    {}{{{{{}}}}}\n", mermaidId(node), mermaidLabel(" "));
        continue;
      }
      std::string label = stepLabel(node);
      if (!node.window.empty() && node.window != phase.window) label += "\nwindow " + node.window;
      out += fmt::format("    {}[{}]\n", mermaidId(node), mermaidLabel(label));
      if (node.undo) {
        out += fmt::format("    undo_{}>{}]\n", node.id, mermaidLabel("undo: " + node.undo->action));
      }
    }
    out += "  end\n";
  }
  for (const Node& node : graph.nodes) {
    for (const std::string& dep : node.after) {
      const Node* from = graph.node(dep);
      if (from) out += fmt::format("  {} --> {}\n", mermaidId(*from), mermaidId(node));
    }
    if (node.undo) out += fmt::format("  {} -.- undo_{}\n", mermaidId(node), node.id);
  }
  for (const Phase& phase : graph.phases) {
    if (!phase.window.empty()) {
      out += fmt::format("  style phase_group_{} fill:#fff3e0,stroke:#b35806\n", phase.name);
    }
  }
  return out;
}

}  // namespace mig::graph
