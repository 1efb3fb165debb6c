#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>

#include "cli/commands.h"
#include "compiler/diag/printers.h"
#include "compiler/format/formatter.h"
#include "compiler/parse/parser.h"
#include "compiler/sema/compilation.h"

namespace mig::cli {
namespace {

std::vector<std::string_view> lines(std::string_view text) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    out.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

// The shortest edit script between two line lists (Myers' O(ND) algorithm):
// for each line of the result, whether it is kept, removed or added.
enum class Edit { Keep, Remove, Add };

std::vector<std::pair<Edit, std::string_view>> diffLines(const std::vector<std::string_view>& a,
                                                         const std::vector<std::string_view>& b) {
  const int n = static_cast<int>(a.size());
  const int m = static_cast<int>(b.size());
  const int offset = n + m + 1;
  std::vector<int> frontier(2 * offset + 1, 0);
  std::vector<std::vector<int>> trace;
  for (int d = 0; d <= n + m; ++d) {
    trace.push_back(frontier);
    bool done = false;
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
    if (done) break;
  }
  // Walk the trace back from the end to recover the edits.
  std::vector<std::pair<Edit, std::string_view>> edits;
  int x = n, y = m;
  for (int d = static_cast<int>(trace.size()) - 1; d >= 0; --d) {
    const std::vector<int>& v = trace[d];
    int k = x - y;
    int previousK = (k == -d || (k != d && v[offset + k - 1] < v[offset + k + 1])) ? k + 1 : k - 1;
    int previousX = d == 0 ? 0 : v[offset + previousK];
    int previousY = previousX - previousK;
    while (x > previousX && y > previousY) edits.emplace_back(Edit::Keep, a[--x]), --y;
    if (d == 0) break;
    if (x == previousX) {
      edits.emplace_back(Edit::Add, b[--y]);
    } else {
      edits.emplace_back(Edit::Remove, a[--x]);
    }
  }
  std::reverse(edits.begin(), edits.end());
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
      std::cout << mark << edits[j].second << '\n';
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
