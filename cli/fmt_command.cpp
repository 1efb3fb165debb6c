#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <optional>
#include <span>

#include "cli/commands.h"
#include "compiler/diag/printers.h"
#include "compiler/format/formatter.h"
#include "compiler/parse/parser.h"
#include "compiler/sema/compilation.h"

namespace mig::cli {
namespace {

// The lines of `text`, each with its '\n': a last line without one differs
// from the same line with one, as diff(1) has it.
std::vector<std::string_view> lines(std::string_view text) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    end = end == std::string_view::npos ? text.size() : end + 1;
    out.push_back(text.substr(start, end - start));
    start = end;
  }
  return out;
}

// An edit script between two line lists: for each line of the result,
// whether it is kept, removed or added. The shortest one (Myers' O(ND)
// algorithm) when there are at most kMaxExactEdits differences; beyond
// that, the lines between the common start and end are all replaced, so
// that a file rewritten from top to bottom costs neither minutes nor
// gigabytes.
enum class Edit { Keep, Remove, Add };
using Edits = std::vector<std::pair<Edit, std::string_view>>;

constexpr int kMaxExactEdits = 2000;

// Myers on a[0..n) and b[0..m), or nullopt past kMaxExactEdits. The trace
// keeps, for each d, only the diagonals -d..d reached so far.
std::optional<Edits> shortestEdits(std::span<const std::string_view> a,
                                   std::span<const std::string_view> b) {
  const int n = static_cast<int>(a.size());
  const int m = static_cast<int>(b.size());
  const int limit = std::min(n + m, kMaxExactEdits);
  const int offset = limit + 1;
  std::vector<int> frontier(2 * offset + 1, 0);
  std::vector<std::vector<int>> trace;  // trace[d][k + d]: the x reached on diagonal k
  bool done = n == 0 && m == 0;
  for (int d = 0; d <= limit && !done; ++d) {
    for (int k = -d; k <= d; k += 2) {
      int x = (k == -d || (k != d && frontier[offset + k - 1] < frontier[offset + k + 1]))
                  ? frontier[offset + k + 1]
                  : frontier[offset + k - 1] + 1;
      int y = x - k;
      while (x < n && y < m && a[x] == b[y]) ++x, ++y;
      frontier[offset + k] = x;
      if (x >= n && y >= m) {
        done = true;
        break;
      }
    }
    trace.emplace_back(frontier.begin() + offset - d, frontier.begin() + offset + d + 1);
  }
  if (!done) return std::nullopt;
  // Walk the trace back from the end to recover the edits.
  Edits edits;
  int x = n, y = m;
  for (int d = static_cast<int>(trace.size()) - 1; d >= 0; --d) {
    int k = x - y;
    if (d == 0) {
      while (x > 0 && y > 0) edits.emplace_back(Edit::Keep, a[--x]), --y;
      break;
    }
    const std::vector<int>& before = trace[d - 1];  // diagonals -(d-1)..(d-1)
    auto reached = [&](int diagonal) { return before[diagonal + d - 1]; };
    int previousK = (k == -d || (k != d && reached(k - 1) < reached(k + 1))) ? k + 1 : k - 1;
    int previousX = reached(previousK);
    // The snake after the edit, then the edit itself.
    int afterEditX = previousK == k + 1 ? previousX : previousX + 1;
    while (x > afterEditX) edits.emplace_back(Edit::Keep, a[--x]), --y;
    if (previousK == k + 1) {
      edits.emplace_back(Edit::Add, b[--y]);
    } else {
      edits.emplace_back(Edit::Remove, a[--x]);
    }
  }
  std::reverse(edits.begin(), edits.end());
  return edits;
}

Edits diffLines(const std::vector<std::string_view>& a, const std::vector<std::string_view>& b) {
  size_t prefix = 0;
  while (prefix < a.size() && prefix < b.size() && a[prefix] == b[prefix]) ++prefix;
  size_t suffix = 0;
  while (suffix < a.size() - prefix && suffix < b.size() - prefix &&
         a[a.size() - 1 - suffix] == b[b.size() - 1 - suffix]) {
    ++suffix;
  }
  std::span<const std::string_view> middleA(a.data() + prefix, a.size() - prefix - suffix);
  std::span<const std::string_view> middleB(b.data() + prefix, b.size() - prefix - suffix);
  Edits edits;
  for (size_t i = 0; i < prefix; ++i) edits.emplace_back(Edit::Keep, a[i]);
  if (auto middle = shortestEdits(middleA, middleB)) {
    edits.insert(edits.end(), middle->begin(), middle->end());
  } else {
    for (std::string_view line : middleA) edits.emplace_back(Edit::Remove, line);
    for (std::string_view line : middleB) edits.emplace_back(Edit::Add, line);
  }
  for (size_t i = a.size() - suffix; i < a.size(); ++i) edits.emplace_back(Edit::Keep, a[i]);
  return edits;
}

// A unified diff of `before` and `after`, three lines of context per hunk.
void printDiff(const std::string& path, std::string_view before, std::string_view after) {
  auto edits = diffLines(lines(before), lines(after));
  constexpr size_t kContext = 3;
  std::cout << "--- " << path << "\n+++ " << path << " (formatted)\n";
  size_t i = 0;
  size_t oldLine = 1, newLine = 1;  // line numbers at edits[i]
  while (i < edits.size()) {
    if (edits[i].first == Edit::Keep) {
      ++i, ++oldLine, ++newLine;
      continue;
    }
    // A hunk: from kContext lines before this change to kContext after the
    // last change that is at most 2 * kContext lines further.
    size_t start = i >= kContext ? i - kContext : 0;
    size_t end = i;
    size_t keptRun = 0;
    for (size_t j = i; j < edits.size(); ++j) {
      if (edits[j].first == Edit::Keep) {
        if (++keptRun > 2 * kContext) break;
      } else {
        keptRun = 0;
        end = j;
      }
    }
    end = std::min(edits.size(), end + 1 + kContext);
    size_t oldStart = oldLine - (i - start), newStart = newLine - (i - start);
    size_t oldCount = 0, newCount = 0;
    for (size_t j = start; j < end; ++j) {
      if (edits[j].first != Edit::Add) ++oldCount;
      if (edits[j].first != Edit::Remove) ++newCount;
    }
    std::cout << fmt::format("@@ -{},{} +{},{} @@\n", oldStart, oldCount, newStart, newCount);
    for (size_t j = start; j < end; ++j) {
      char mark = edits[j].first == Edit::Keep ? ' ' : edits[j].first == Edit::Remove ? '-' : '+';
      std::string_view line = edits[j].second;
      std::cout << mark << line;
      if (!line.ends_with('\n')) std::cout << "\n\\ No newline at end of file\n";
    }
    for (; i < end; ++i) {
      if (edits[i].first != Edit::Add) ++oldLine;
      if (edits[i].first != Edit::Remove) ++newLine;
    }
  }
}

}  // namespace

int fmtCommand(const FmtOptions& options) {
  bool unformatted = false;
  bool failed = false;
  for (const std::string& path : options.files) {
    std::string text;
    if (path == "-") {
      text.assign(std::istreambuf_iterator<char>(std::cin), {});
    } else {
      std::string error;
      auto read = sema::readWholeFile(path, error);
      if (!read) {
        printError(error);
        return kUsage;
      }
      text = std::move(*read);
    }
    source::SourceManager sources;
    diag::DiagnosticEngine diags;
    std::string name = path == "-" ? "<stdin>" : path;
    source::FileId file = sources.addFile(name, text);
    auto tree = parse::parseFile(sources, file, diags);
    if (!tree->clean) {
      diag::printText(std::cerr, sources, diags.diagnostics());
      printError(fmt::format("cannot format '{}': it has syntax errors", name));
      failed = true;
      continue;
    }
    std::string formatted = mig::format::formatFile(sources, *tree);
    if (path == "-") {
      if (!options.check) std::cout << formatted;
      if (formatted != text) unformatted = true;
      if (options.check && formatted != text) printDiff(name, text, formatted);
      continue;
    }
    if (formatted == text) continue;
    if (options.check) {
      unformatted = true;
      printDiff(path, text, formatted);
      continue;
    }
    // Write beside the file and rename over it: a full disk or a crash
    // leaves the original, never half a file.
    std::string temporary = path + ".mig-fmt.tmp";
    {
      std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
      out << formatted;
      out.flush();
      if (!out) {
        std::error_code ignored;
        std::filesystem::remove(temporary, ignored);
        printError(fmt::format("cannot write '{}'", path));
        failed = true;
        continue;
      }
    }
    std::error_code error;
    std::filesystem::rename(temporary, path, error);
    if (error) {
      std::filesystem::remove(temporary, error);
      printError(fmt::format("cannot replace '{}': {}", path, error.message()));
      failed = true;
    }
  }
  if (failed) return kPlanErrors;
  return options.check && unformatted ? kPlanErrors : kSuccess;
}

}  // namespace mig::cli
