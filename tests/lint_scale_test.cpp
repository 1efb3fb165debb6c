// Lint at scale: a 200 KB line holding 50,000 undefined references, as a
// generated file might have. Every stage (parse, checks, sorting, each
// printer) must stay near linear: before long lines were cut and columns
// were looked up by blocks, the text output alone took minutes.
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <sstream>

#include "compiler/diag/printers.h"
#include "compiler/sema/compilation.h"

namespace mig {
namespace {

constexpr size_t kReferences = 50'000;

// `after [zaa,zab,...]`: 50,000 three-letter names, none declared.
std::string hugePlan() {
  std::string refs;
  for (size_t i = 0; i < kReferences; ++i) {
    if (i > 0) refs += ',';
    refs += 'z';
    refs += static_cast<char>('a' + i / 26 % 26);
    refs += static_cast<char>('a' + i % 26);
  }
  return "plan p {\n  retain 72h\n  phase migration {\n    step a {\n      do    sh(\"true\")\n"
         "      undo  sh(\"true\")\n      after [" +
         refs + "]\n    }\n  }\n  phase verification {\n    step health = sh(\"true\")\n  }\n}\n";
}

// The 7th line, where the references are.
std::string hugeLine() {
  std::string plan = hugePlan();
  size_t start = plan.find("      after");
  return plan.substr(start, plan.find('\n', start) - start);
}

double seconds(const std::function<void()>& work) {
  auto start = std::chrono::steady_clock::now();
  work();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Generous: the quadratic versions took minutes; these take well under a
// second each in a release build, a few in a sanitizer build.
constexpr double kBudget = 20;

class HugeLine : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    compilation_ = new sema::Compilation(std::vector<std::string>{});
    checkSeconds_ = seconds([] {
      compilation_->addText("huge.mig", hugePlan());
      compilation_->diags().sort(compilation_->sources());
    });
  }
  static void TearDownTestSuite() { delete compilation_; }

  const source::SourceManager& sources() { return compilation_->sources(); }
  const std::vector<diag::Diagnostic>& all() { return compilation_->diags().diagnostics(); }

  static sema::Compilation* compilation_;
  static double checkSeconds_;
};

sema::Compilation* HugeLine::compilation_ = nullptr;
double HugeLine::checkSeconds_ = 0;

TEST_F(HugeLine, IsParsedCheckedAndSortedQuickly) {
  EXPECT_LT(checkSeconds_, kBudget);
  EXPECT_EQ(compilation_->diags().errorCount(), kReferences);
}

TEST_F(HugeLine, TextShowsTwentyCutSnippetsThenACount) {
  std::ostringstream out;
  EXPECT_LT(seconds([&] { diag::printText(out, sources(), all(), {false, 20}); }), kBudget);
  std::string text = out.str();
  // The first reference: the window starts at the line's start.
  std::string first =
      "huge.mig:7:14: error: step 'zaa' is not declared [undefined-reference]\n"
      "    7 |       after [zaa,zab,zac,zad,zae,zaf,zag,zah,zai,zaj,zak,zal,zam,zan,zao,zap,"
      "zaq,zar,zas,zat,zau,zav,zaw,zax,zay,zaz,zba...\n"
      "      |              ^~~\n";
  EXPECT_EQ(text.substr(0, first.size()), first);
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 20 * 3 + 1) << text.substr(0, 2000);
  std::string last =
      "huge.mig: note: 49980 more diagnostics of this file not shown (49980 "
      "errors); `--max-errors 0` shows all\n";
  ASSERT_GE(text.size(), last.size());
  EXPECT_EQ(text.substr(text.size() - last.size()), last);
}

TEST_F(HugeLine, TextWithoutALimitPrintsEveryDiagnosticCut) {
  std::ostringstream out;
  EXPECT_LT(seconds([&] { diag::printText(out, sources(), all(), {false, 0}); }), kBudget);
  std::string text = out.str();
  // Three lines per reference, none longer than the window and the gutter.
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), kReferences * 3);
  size_t longest = 0;
  for (size_t start = 0, end; start < text.size(); start = end + 1) {
    end = text.find('\n', start);
    longest = std::max(longest, end - start);
  }
  EXPECT_LE(longest, 8 + 3 + 120 + 3 + 80u);  // gutter, "...", window, "...", or a message
  // Reference 25,000 (at column 14 + 4 * 25,000), in the middle: 58
  // characters before it, then 62 from its start.
  std::string line = hugeLine();
  size_t at = 13 + 4 * 25'000;
  std::string middle = "huge.mig:7:100014: error: step '" + line.substr(at, 3) +
                       "' is not declared [undefined-reference]\n"
                       "    7 | ..." +
                       line.substr(at - 58, 120) +
                       "...\n"
                       "      |    " +
                       std::string(58, ' ') + "^~~\n";
  EXPECT_NE(text.find(middle), std::string::npos) << middle;
}

TEST_F(HugeLine, MachineFormatsPrintEveryResultQuickly) {
  std::ostringstream json, sarif, github;
  EXPECT_LT(seconds([&] { diag::printJson(json, sources(), all()); }), kBudget);
  EXPECT_LT(seconds([&] {
              diag::printSarif(sarif, sources(), all(), {"/repo", "/repo", 1, 0});
            }),
            kBudget);
  EXPECT_LT(seconds([&] { diag::printGithub(github, sources(), all()); }), kBudget);
  std::string lines = github.str();
  EXPECT_EQ(std::count(lines.begin(), lines.end(), '\n'), kReferences);
}

}  // namespace
}  // namespace mig
