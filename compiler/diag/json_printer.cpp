#include <nlohmann/json.hpp>

#include "compiler/diag/printers.h"

namespace mig::diag {
namespace {

void addPosition(nlohmann::ordered_json& object, const source::SourceManager& sources,
                 source::Range range) {
  if (!range.valid()) return;
  source::LineColumn from = sources.begin(range);
  source::LineColumn to = sources.end(range);
  object["file"] = std::string(sources.name(range.file));
  object["line"] = from.line;
  object["column"] = from.column;
  object["endLine"] = to.line;
  object["endColumn"] = to.column;
}

}  // namespace

void printJson(std::ostream& out, const source::SourceManager& sources,
               std::span<const Diagnostic> diagnostics) {
  auto all = nlohmann::ordered_json::array();
  for (const Diagnostic& d : diagnostics) {
    nlohmann::ordered_json item;
    addPosition(item, sources, d.range);
    item["severity"] = std::string(severityName(d.severity));
    item["rule"] = std::string(ruleInfo(d.rule).name);
    item["message"] = d.message;
    auto notes = nlohmann::ordered_json::array();
    for (const Note& note : d.notes) {
      nlohmann::ordered_json n;
      addPosition(n, sources, note.range);
      n["message"] = note.message;
      notes.push_back(std::move(n));
    }
    item["notes"] = std::move(notes);
    if (d.fix) {
      nlohmann::ordered_json fix;
      fix["message"] = d.fix->message;
      if (d.fix->replacement) {
        addPosition(fix, sources, d.fix->range);
        fix["replacement"] = *d.fix->replacement;
      }
      item["fix"] = std::move(fix);
    }
    all.push_back(std::move(item));
  }
  out << all.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
}

}  // namespace mig::diag
