#include <fmt/format.h>

#include "compiler/diag/printers.h"

namespace mig::diag {

std::string omittedMessage(const Omitted& omitted) {
  auto plural = [](size_t n, std::string_view word) {
    return fmt::format("{} {}{}", n, word, n == 1 ? "" : "s");
  };
  std::string counts;
  if (omitted.errors > 0) counts = plural(omitted.errors, "error");
  if (omitted.warnings > 0) {
    if (!counts.empty()) counts += ", ";
    counts += plural(omitted.warnings, "warning");
  }
  return fmt::format("{} of this file not shown ({}); `--max-errors 0` shows all",
                     plural(omitted.total(), "more diagnostic"), counts);
}

DiagnosticLimit::DiagnosticLimit(std::span<const Diagnostic> all, size_t maxPerFile)
    : maxPerFile_(maxPerFile) {
  if (maxPerFile_ == 0) return;
  std::map<source::FileId, size_t> counted;
  std::map<source::FileId, size_t> slot;  // index in omitted_
  for (const Diagnostic& d : all) {
    source::FileId file = d.range.file;
    if (++counted[file] <= maxPerFile_) continue;
    auto [it, added] = slot.emplace(file, omitted_.size());
    if (added) omitted_.push_back(Omitted{file, 0, 0});
    Omitted& left = omitted_[it->second];
    (d.severity == Severity::Warning ? left.warnings : left.errors) += 1;
  }
}

bool DiagnosticLimit::shows(const Diagnostic& d) {
  size_t seen = ++seen_[d.range.file];
  return maxPerFile_ == 0 || seen <= maxPerFile_;
}

std::optional<Omitted> DiagnosticLimit::omittedAfter(const Diagnostic& d) const {
  if (maxPerFile_ == 0) return std::nullopt;
  auto seen = seen_.find(d.range.file);
  if (seen == seen_.end() || seen->second != maxPerFile_) return std::nullopt;
  for (const Omitted& left : omitted_) {
    if (left.file == d.range.file) return left;
  }
  return std::nullopt;
}

std::vector<Diagnostic> limitPerFile(std::span<const Diagnostic> all, size_t maxPerFile,
                                     std::vector<Omitted>& omitted) {
  DiagnosticLimit limit(all, maxPerFile);
  std::vector<Diagnostic> shown;
  for (const Diagnostic& d : all) {
    if (limit.shows(d)) shown.push_back(d);
  }
  omitted = limit.omitted();
  return shown;
}

}  // namespace mig::diag
