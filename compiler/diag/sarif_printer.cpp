#include <fmt/format.h>

#include <map>
#include <nlohmann/json.hpp>

#include "compiler/diag/printers.h"

namespace mig::diag {
namespace {

using Json = nlohmann::ordered_json;

std::string_view level(Severity severity) {
  switch (severity) {
    case Severity::Error: return "error";
    case Severity::Warning: return "warning";
    case Severity::Note: return "note";
  }
  return "error";
}

// A relative path stays relative (code scanning resolves it against the
// repository root); an absolute one becomes a file URI. Characters that
// are not allowed in a URI path are percent-encoded.
std::string toUri(std::string_view path) {
  std::string out = path.starts_with('/') ? "file://" : "";
  for (unsigned char c : path) {
    bool plain = std::isalnum(c) || std::string_view("/-._~").find(c) != std::string_view::npos;
    if (plain) {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

Json region(const source::SourceManager& sources, source::Range range) {
  source::LineColumn from = sources.begin(range);
  source::LineColumn to = sources.end(range);
  Json r;
  r["startLine"] = from.line;
  r["startColumn"] = from.column;
  r["endLine"] = to.line;
  r["endColumn"] = to.column;
  return r;
}

// "duplicate-name" -> "DuplicateName"
std::string pascalCase(std::string_view id) {
  std::string out;
  bool upper = true;
  for (char c : id) {
    if (c == '-') {
      upper = true;
      continue;
    }
    out += upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c;
    upper = false;
  }
  return out;
}

Json ruleDescriptor(const RuleInfo& info) {
  Json rule;
  rule["id"] = std::string(info.name);
  rule["name"] = pascalCase(info.name);
  rule["shortDescription"] = {{"text", std::string(info.summary)}};
  rule["fullDescription"] = {{"text", fmt::format("{} {}", info.catches, info.why)}};
  std::string help = fmt::format("{}\n\nWhy: {}\n\nFix: {}\n\nRun `mig explain {}` for examples.",
                                 info.catches, info.why, info.fix, info.name);
  std::string markdown = fmt::format(
      "{}\n\n**Why it matters:** {}\n\n**How to fix:** {}\n\nBad:\n\n```\n{}\n```\n\n"
      "Good:\n\n```\n{}\n```\n",
      info.catches, info.why, info.fix, info.bad, info.good);
  rule["help"] = {{"text", help}, {"markdown", markdown}};
  rule["defaultConfiguration"] = {{"level", std::string(level(info.severity))}};
  rule["properties"] = {{"tags", Json::array({"migration", "mig"})}};
  return rule;
}

}  // namespace

void printSarif(std::ostream& out, const source::SourceManager& sources,
                std::span<const Diagnostic> diagnostics) {
  Json driver;
  driver["name"] = "mig";
  driver["version"] = MIG_VERSION;
  driver["informationUri"] = "https://github.com/mig-migrations/mig";
  Json rules = Json::array();
  std::map<Rule, size_t> ruleIndex;
  for (const RuleInfo& info : allRules()) {
    ruleIndex[info.rule] = rules.size();
    rules.push_back(ruleDescriptor(info));
  }
  driver["rules"] = std::move(rules);

  Json artifacts = Json::array();
  std::map<source::FileId, size_t> artifactIndex;
  auto artifactFor = [&](source::FileId file) {
    auto [it, added] = artifactIndex.emplace(file, artifacts.size());
    if (added) {
      artifacts.push_back({{"location", {{"uri", toUri(sources.name(file))}}}});
    }
    return it->second;
  };
  auto location = [&](source::Range range) {
    Json physical;
    physical["artifactLocation"] = {{"uri", toUri(sources.name(range.file))},
                                    {"index", artifactFor(range.file)}};
    physical["region"] = region(sources, range);
    return Json{{"physicalLocation", std::move(physical)}};
  };

  Json results = Json::array();
  for (const Diagnostic& d : diagnostics) {
    Json result;
    result["ruleId"] = std::string(ruleInfo(d.rule).name);
    result["ruleIndex"] = ruleIndex[d.rule];
    result["level"] = std::string(level(d.severity));
    std::string text = d.message;
    if (d.fix) text += fmt::format(" (help: {})", d.fix->message);
    result["message"] = {{"text", text}};
    if (d.range.valid()) result["locations"] = Json::array({location(d.range)});
    Json related = Json::array();
    int id = 1;
    for (const Note& note : d.notes) {
      if (!note.range.valid()) continue;
      Json entry = location(note.range);
      entry["id"] = id++;
      entry["message"] = {{"text", note.message}};
      related.push_back(std::move(entry));
    }
    if (!related.empty()) result["relatedLocations"] = std::move(related);
    results.push_back(std::move(result));
  }

  Json run;
  run["tool"] = {{"driver", std::move(driver)}};
  run["columnKind"] = "unicodeCodePoints";
  run["artifacts"] = std::move(artifacts);
  run["results"] = std::move(results);

  Json log;
  log["$schema"] = "https://json.schemastore.org/sarif-2.1.0.json";
  log["version"] = "2.1.0";
  log["runs"] = Json::array({std::move(run)});
  out << log.dump(2) << '\n';
}

}  // namespace mig::diag
