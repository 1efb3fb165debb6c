#include <fmt/format.h>

#include <map>
#include <nlohmann/json.hpp>
#include <tuple>

#include "compiler/diag/printers.h"
#include "compiler/diag/secret_mask.h"

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

constexpr const char* kSourceRoot = "%SRCROOT%";

// Percent-encodes what a URI path may not hold as it is.
std::string encodePath(std::string_view path) {
  std::string out;
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
  rule["helpUri"] = ruleHelpUri(info.name);
  rule["help"] = {{"text", help}, {"markdown", markdown}};
  rule["defaultConfiguration"] = {{"level", std::string(level(info.severity))}};
  rule["properties"] = {{"tags", Json::array({"migration", "mig"})}};
  return rule;
}

// 64-bit FNV-1a: small, stable across platforms and versions.
uint64_t fnv1a(std::string_view text, uint64_t hash = 0xcbf29ce484222325ULL) {
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

std::string_view trim(std::string_view text) {
  size_t first = text.find_first_not_of(" \t");
  if (first == std::string_view::npos) return {};
  size_t last = text.find_last_not_of(" \t");
  return text.substr(first, last - first + 1);
}

}  // namespace

std::string directoryUri(const std::filesystem::path& directory) {
  std::string path = directory.lexically_normal().generic_string();
  if (!path.ends_with('/')) path += '/';
  return "file://" + encodePath(path);
}

ArtifactUri artifactUri(std::string_view path, const std::filesystem::path& root,
                        const std::filesystem::path& workingDirectory) {
  namespace fs = std::filesystem;
  // Not a file: "<stdin>", or a module embedded in the binary.
  if (path.empty() || path.starts_with('<')) return {encodePath(path), false};
  fs::path file(path);
  if (root.empty()) {
    // No root: the path as typed, relative or absolute.
    return {(file.is_absolute() ? "file://" : "") + encodePath(file.generic_string()), false};
  }
  fs::path absolute = (file.is_absolute() ? file : workingDirectory / file).lexically_normal();
  fs::path relative = absolute.lexically_relative(root.lexically_normal());
  bool under = !relative.empty() && *relative.begin() != ".." && !relative.is_absolute();
  if (under) return {encodePath(relative.generic_string()), true};
  return {"file://" + encodePath(absolute.generic_string()), false};
}

std::string ruleHelpUri(std::string_view ruleName) {
  return fmt::format("{}#{}", MIG_DOCS_URL, ruleName);
}

void printSarif(std::ostream& out, const source::SourceManager& sources,
                std::span<const Diagnostic> diagnostics, const SarifOptions& options) {
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
  std::map<source::FileId, std::pair<size_t, ArtifactUri>> artifactIndex;
  auto artifactFor = [&](source::FileId file) -> const std::pair<size_t, ArtifactUri>& {
    auto it = artifactIndex.find(file);
    if (it != artifactIndex.end()) return it->second;
    ArtifactUri uri = artifactUri(sources.name(file), options.root, options.workingDirectory);
    Json location = {{"uri", uri.uri}};
    if (uri.underRoot) location["uriBaseId"] = kSourceRoot;
    artifacts.push_back({{"location", std::move(location)}});
    return artifactIndex.emplace(file, std::pair(artifacts.size() - 1, uri)).first->second;
  };
  auto location = [&](source::Range range) {
    const auto& [index, uri] = artifactFor(range.file);
    Json artifact = {{"uri", uri.uri}};
    if (uri.underRoot) artifact["uriBaseId"] = kSourceRoot;
    artifact["index"] = index;
    Json physical;
    physical["artifactLocation"] = std::move(artifact);
    physical["region"] = region(sources, range);
    return Json{{"physicalLocation", std::move(physical)}};
  };

  // A result's fingerprint: its rule, file and line text (secrets masked,
  // blanks trimmed), and how many results before it had the same ones; it
  // stays the same when lines are added above.
  SecretMask secrets(diagnostics);
  std::map<std::pair<source::FileId, uint32_t>, std::string> lineHashes;  // one pass per line
  std::map<std::string, int> occurrences;
  auto fingerprint = [&](const Diagnostic& d) {
    uint32_t lineNumber = sources.begin(d.range).line;
    auto [cached, added] = lineHashes.try_emplace({d.range.file, lineNumber});
    if (added) {
      std::string_view text = sources.text(d.range.file);
      std::string_view line = sources.lineText(d.range.file, lineNumber);
      auto begin = static_cast<uint32_t>(line.data() - text.data());
      std::string masked =
          secrets.apply(sources, d.range.file, begin, begin + static_cast<uint32_t>(line.size()));
      cached->second = fmt::format("{:016x}", fnv1a(trim(masked)));
    }
    std::string key = fmt::format("{}\n{}\n{}", ruleInfo(d.rule).name,
                                  artifactFor(d.range.file).second.uri, cached->second);
    return fmt::format("{:016x}:{}", fnv1a(key), ++occurrences[key]);
  };

  DiagnosticLimit limit(diagnostics, options.maxPerFile);
  Json results = Json::array();
  for (const Diagnostic& d : diagnostics) {
    if (!limit.shows(d)) continue;
    Json result;
    result["ruleId"] = std::string(ruleInfo(d.rule).name);
    result["ruleIndex"] = ruleIndex[d.rule];
    result["level"] = std::string(level(d.severity));
    std::string text = d.message;
    if (d.fix) text += fmt::format(" (help: {})", d.fix->message);
    result["message"] = {{"text", text}};
    if (d.range.valid()) {
      result["locations"] = Json::array({location(d.range)});
      result["partialFingerprints"] = {{"mig/v1", fingerprint(d)}};
    }
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

  // The run itself: whether mig ran to the end (it did: problems in the
  // plans are results, not failures), its exit code, and what --max-errors
  // left out. No command line or environment: they may hold secrets.
  Json invocation;
  invocation["executionSuccessful"] = true;
  invocation["exitCode"] = options.exitCode;
  Json notifications = Json::array();
  for (const Omitted& left : limit.omitted()) {
    Json notification;
    notification["level"] = "note";
    notification["message"] = {{"text", omittedMessage(left)}};
    if (left.file != source::kNoFile) {
      const auto& [index, uri] = artifactFor(left.file);
      Json artifact = {{"uri", uri.uri}};
      if (uri.underRoot) artifact["uriBaseId"] = kSourceRoot;
      artifact["index"] = index;
      notification["locations"] =
          Json::array({{{"physicalLocation", {{"artifactLocation", std::move(artifact)}}}}});
    }
    notifications.push_back(std::move(notification));
  }
  if (!notifications.empty()) invocation["toolExecutionNotifications"] = std::move(notifications);

  Json run;
  run["tool"] = {{"driver", std::move(driver)}};
  run["invocations"] = Json::array({std::move(invocation)});
  if (!options.root.empty()) {
    run["originalUriBaseIds"] = {{kSourceRoot, {{"uri", directoryUri(options.root)}}}};
  }
  run["columnKind"] = "unicodeCodePoints";
  run["artifacts"] = std::move(artifacts);
  run["results"] = std::move(results);

  Json log;
  log["$schema"] = "https://json.schemastore.org/sarif-2.1.0.json";
  log["version"] = "2.1.0";
  log["runs"] = Json::array({std::move(run)});
  out << log.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
}

}  // namespace mig::diag
