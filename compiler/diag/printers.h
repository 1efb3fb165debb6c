#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <ostream>
#include <span>
#include <string>
#include <vector>

#include "compiler/diag/diagnostic.h"

namespace mig::diag {

/// What `--max-errors` left out of one file.
struct Omitted {
  source::FileId file = source::kNoFile;
  size_t errors = 0;
  size_t warnings = 0;
  size_t total() const { return errors + warnings; }
};

/// "3 more diagnostics of this file not shown (2 errors, 1 warning);
/// `--max-errors 0` shows all"
std::string omittedMessage(const Omitted& omitted);

/// Keeps the first `maxPerFile` diagnostics of each file, in the order
/// given (all of them when `maxPerFile` is 0). Diagnostics without a
/// location count as one more file.
class DiagnosticLimit {
 public:
  DiagnosticLimit(std::span<const Diagnostic> all, size_t maxPerFile);

  /// Call once per diagnostic, in order: whether it is shown.
  bool shows(const Diagnostic& d);
  /// After the last shown diagnostic of a file that had more: what was left out.
  std::optional<Omitted> omittedAfter(const Diagnostic& d) const;
  /// Every file that had more than the limit, in the order of their first diagnostic.
  const std::vector<Omitted>& omitted() const { return omitted_; }

 private:
  size_t maxPerFile_;
  std::map<source::FileId, size_t> seen_;
  std::vector<Omitted> omitted_;
};

/// The diagnostics a DiagnosticLimit shows, copied.
std::vector<Diagnostic> limitPerFile(std::span<const Diagnostic> all, size_t maxPerFile,
                                     std::vector<Omitted>& omitted);

struct TextStyle {
  bool color = false;
  /// At most this many diagnostics per file, then one line that says how
  /// many were left out; 0: no limit.
  size_t maxPerFile = 0;
};

/// Compiler-style text: `file:line:col: severity: message [rule]`, the
/// source line (cut around the range when it is long), a caret under the
/// range, then notes and the fix hint.
void printText(std::ostream& out, const source::SourceManager& sources,
               std::span<const Diagnostic> diagnostics, TextStyle style = {});

/// "2 errors, 1 warning" (or "no problems found").
std::string summaryLine(size_t errors, size_t warnings);

/// One JSON array of objects with file, line, column, endLine, endColumn,
/// severity, rule, message, notes and fix.
void printJson(std::ostream& out, const source::SourceManager& sources,
               std::span<const Diagnostic> diagnostics);

struct SarifOptions {
  /// The root artifact URIs are relative to (`%SRCROOT%`), absolute; empty:
  /// paths as typed, no base id.
  std::filesystem::path root;
  /// What relative file names are relative to, absolute.
  std::filesystem::path workingDirectory;
  /// The command's exit code, for `invocations`.
  int exitCode = 0;
  /// At most this many results per file (0: all); what is left out is a
  /// tool execution notification.
  size_t maxPerFile = 0;
};

/// A SARIF 2.1.0 log with one run: every rule as a descriptor with a
/// `helpUri` (so code scanning shows help for rules that did not fire),
/// one result per diagnostic with `partialFingerprints`, artifact URIs
/// relative to `%SRCROOT%` for files under `options.root`, and one
/// invocation.
void printSarif(std::ostream& out, const source::SourceManager& sources,
                std::span<const Diagnostic> diagnostics, const SarifOptions& options = {});

/// The URI of a file for SARIF: `path` (as typed, relative to
/// `workingDirectory`) relative to `root` and percent-encoded when it lies
/// under it (`underRoot`); otherwise an absolute `file://` URI.
struct ArtifactUri {
  std::string uri;
  bool underRoot = false;
};
ArtifactUri artifactUri(std::string_view path, const std::filesystem::path& root,
                        const std::filesystem::path& workingDirectory);

/// `file:///abs/dir/` for a directory: percent-encoded, ending in '/'.
std::string directoryUri(const std::filesystem::path& directory);

/// Where `mig explain` documents a rule: MIG_DOCS_URL#rule-name.
std::string ruleHelpUri(std::string_view ruleName);

/// GitHub Actions workflow commands: `::error file=...,line=...,col=...::message`.
/// At most `maxPerFile` per file (0: all), then a `::notice` that says how
/// many were left out.
void printGithub(std::ostream& out, const source::SourceManager& sources,
                 std::span<const Diagnostic> diagnostics, size_t maxPerFile = 0);

}  // namespace mig::diag
