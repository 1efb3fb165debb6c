// Inputs the fuzzer (scripts/fuzz.sh) found to crash, hang or break a fmt
// invariant, run through the same checks: parse, check, every printer, fmt.
// The lint goldens' plans go through them too.
#include <gtest/gtest.h>

#include <filesystem>

#include "fuzz/check_input.h"
#include "test_support.h"

namespace mig {
namespace {

namespace fs = std::filesystem;

std::vector<fs::path> inputs() {
  std::vector<fs::path> out;
  for (const auto& entry : fs::directory_iterator(testing::sourceDir() / "tests" / "fuzz")) {
    if (entry.path().extension() == ".mig") out.push_back(entry.path());
  }
  for (const auto& rule : fs::directory_iterator(testing::sourceDir() / "tests" / "lint")) {
    for (const char* name : {"bad.mig", "good.mig"}) {
      if (fs::exists(rule.path() / name)) out.push_back(rule.path() / name);
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST(FuzzRegression, EveryInputPassesParseCheckAndFmt) {
  auto all = inputs();
  ASSERT_GT(all.size(), 50u);
  for (const fs::path& path : all) {
    EXPECT_EQ(fuzz::checkInput(testing::readFile(path)), "") << path;
  }
}

}  // namespace
}  // namespace mig
