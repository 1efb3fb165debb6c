// Golden tests for every lint rule, and the examples.
//
// tests/lint/RULE/bad.mig triggers RULE; bad.expected is exactly what
// `mig lint tests/lint/RULE/bad.mig` prints. good.mig is the same plan
// fixed: it lints with no problems at all. Refresh the .expected files with
// tests/update_goldens.sh after checking that the new output is right.
// Rules checked at run time by a driver (wal-level, ...) have no lint
// golden: no plan can trigger them; the drivers' tests cover them.
#include <gtest/gtest.h>

#include <filesystem>

#include "compiler/diag/rules.h"
#include "test_support.h"

namespace mig {
namespace {

namespace fs = std::filesystem;
using testing::lintText;
using testing::readFile;
using testing::sourceDir;

std::string repoPath(const fs::path& path) {
  return fs::relative(path, sourceDir()).generic_string();
}

TEST(LintGolden, EveryRuleHasAGoldenCase) {
  for (const diag::RuleInfo& info : diag::allRules()) {
    fs::path dir = sourceDir() / "tests" / "lint" / std::string(info.name);
    if (info.checkedBy == diag::CheckedBy::Run) {
      EXPECT_FALSE(fs::exists(dir)) << info.name << " is checked at run time, not by lint";
      continue;
    }
    EXPECT_TRUE(fs::exists(dir / "bad.mig")) << info.name << " has no bad.mig";
    EXPECT_TRUE(fs::exists(dir / "bad.expected")) << info.name << " has no bad.expected";
    EXPECT_TRUE(fs::exists(dir / "good.mig")) << info.name << " has no good.mig";
  }
}

class RuleGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(RuleGolden, BadCaseReportsExactlyTheGoldenOutput) {
  fs::path dir = sourceDir() / "tests" / "lint" / GetParam();
  fs::path bad = dir / "bad.mig";
  auto result = lintText(repoPath(bad), readFile(bad));
  EXPECT_EQ(result.text, readFile(dir / "bad.expected"));
  auto rule = diag::findRule(GetParam());
  ASSERT_TRUE(rule) << GetParam() << " is not a rule";
  EXPECT_TRUE(result.has(*rule)) << "bad.mig does not trigger " << GetParam();
}

TEST_P(RuleGolden, GoodCaseIsClean) {
  fs::path good = sourceDir() / "tests" / "lint" / GetParam() / "good.mig";
  auto result = lintText(repoPath(good), readFile(good));
  EXPECT_EQ(result.text, "no problems found\n");
}

std::vector<std::string> lintRuleNames() {
  std::vector<std::string> names;
  for (const diag::RuleInfo& info : diag::allRules()) {
    if (info.checkedBy == diag::CheckedBy::Lint) names.emplace_back(info.name);
  }
  return names;
}

std::string testName(const ::testing::TestParamInfo<std::string>& info) {
  std::string name = info.param;
  for (char& c : name) {
    if (c == '-') c = '_';
  }
  return name;
}

INSTANTIATE_TEST_SUITE_P(Rules, RuleGolden, ::testing::ValuesIn(lintRuleNames()), testName);

std::vector<fs::path> examples() {
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(sourceDir() / "examples")) {
    if (entry.path().extension() == ".mig") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

TEST(Examples, ThereAreAtLeastThree) { EXPECT_GE(examples().size(), 3u); }

TEST(Examples, EveryExampleLintsClean) {
  for (const fs::path& example : examples()) {
    auto result = lintText(repoPath(example), readFile(example));
    EXPECT_EQ(result.text, "no problems found\n") << example;
  }
}

TEST(Examples, EveryStdlibModuleLintsClean) {
  for (const auto& entry : fs::directory_iterator(sourceDir() / "stdlib" / "std")) {
    auto result = lintText(repoPath(entry.path()), readFile(entry.path()));
    EXPECT_EQ(result.text, "no problems found\n") << entry.path();
  }
}

// Every prefix of every example, cut at each line, as an editor would show
// it while typing: each gets diagnostics or a clean result, never a crash
// or a hang (ctest's timeout catches hangs).
TEST(Examples, EveryPrefixLintsWithoutCrashing) {
  for (const fs::path& example : examples()) {
    std::string text = readFile(example);
    size_t cut = 0;
    int prefixes = 0;
    while (true) {
      auto result = lintText("prefix.mig", text.substr(0, cut));
      bool incomplete = cut < text.size();
      // A cut inside the plan block leaves it unclosed: a syntax error.
      if (incomplete && text.substr(0, cut).find("\nplan ") != std::string::npos) {
        EXPECT_GT(result.errors, 0u) << example << " cut at byte " << cut;
      }
      ++prefixes;
      if (cut >= text.size()) break;
      size_t next = text.find('\n', cut);
      cut = next == std::string::npos ? text.size() : next + 1;
    }
    EXPECT_GT(prefixes, 50) << example;
  }
}

}  // namespace
}  // namespace mig
