#include <string>
#include <vector>

#include "cli/lsp/features.h"

namespace mig::cli::lsp {
namespace {

// LSP's DiagnosticSeverity.
int severityCode(diag::Severity severity) {
  switch (severity) {
    case diag::Severity::Error:
      return 1;
    case diag::Severity::Warning:
      return 2;
    case diag::Severity::Note:
      return 3;
  }
  return 1;
}

// The contents of every string a secret-literal diagnostic points at. No
// message quotes them today; this keeps it so if one ever does.
std::vector<std::string> secretLiterals(const Document& document) {
  std::vector<std::string> secrets;
  for (const diag::Diagnostic& d : document.diagnostics()) {
    if (d.rule != diag::Rule::SecretLiteral || !d.range.valid()) continue;
    std::string_view text = document.sources().text(d.range.file);
    std::string_view literal = text.substr(d.range.begin, d.range.end - d.range.begin);
    while (!literal.empty() && literal.front() == '"') literal.remove_prefix(1);
    while (!literal.empty() && literal.back() == '"') literal.remove_suffix(1);
    if (literal.size() >= 3) secrets.emplace_back(literal);
  }
  return secrets;
}

std::string masked(std::string message, const std::vector<std::string>& secrets) {
  for (const std::string& secret : secrets) {
    for (size_t at = message.find(secret); at != std::string::npos; at = message.find(secret, at)) {
      message.replace(at, secret.size(), std::string(secret.size(), '*'));
    }
  }
  return message;
}

}  // namespace

nlohmann::json publishDiagnosticsParams(const Document& document) {
  std::vector<std::string> secrets = secretLiterals(document);
  auto all = nlohmann::json::array();
  for (const diag::Diagnostic& d : document.diagnostics()) {
    const diag::RuleInfo& rule = diag::ruleInfo(d.rule);
    nlohmann::json item;
    item["range"] = d.range.valid() ? document.lines().rangeJson(d.range.begin, d.range.end)
                                    : document.lines().rangeJson(0, 0);
    item["severity"] = severityCode(d.severity);
    item["code"] = std::string(rule.name);
    item["source"] = "mig";
    item["message"] = masked(d.message, secrets);
    auto related = nlohmann::json::array();
    for (const diag::Note& note : d.notes) {
      auto location = locationJson(document, note.range);
      if (!location) continue;
      related.push_back({{"location", *location}, {"message", masked(note.message, secrets)}});
    }
    if (d.fix) {
      source::Range at = d.fix->range.valid() ? d.fix->range : d.range;
      if (auto location = locationJson(document, at)) {
        related.push_back(
            {{"location", *location}, {"message", "help: " + masked(d.fix->message, secrets)}});
      }
    }
    if (!related.empty()) item["relatedInformation"] = std::move(related);
    all.push_back(std::move(item));
  }
  return {{"uri", document.uri()}, {"diagnostics", std::move(all)}};
}

}  // namespace mig::cli::lsp
