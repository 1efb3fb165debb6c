// What lint says after a mistake that hides part of the plan (an unknown
// import, kind or type): the mistake once, with what was meant, and no
// errors or warnings that only follow from it.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "compiler/diag/rules.h"
#include "test_support.h"

namespace mig {
namespace {

namespace fs = std::filesystem;
using diag::Rule;
using testing::lintText;

std::string demoWith(std::string_view from, std::string_view to) {
  std::string text = testing::readFile(testing::sourceDir() / "examples/demo.mig");
  size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

TEST(FollowOn, UnknownImportIsTheOnlyProblemReported) {
  auto result = lintText("demo.mig", demoWith("import \"std/postgres\"", "import \"std/postgrs\""));
  EXPECT_EQ(result.errors, 1u) << result.text;
  EXPECT_EQ(result.warnings, 0u) << result.text;
  ASSERT_TRUE(result.has(Rule::UnknownImport)) << result.text;
  EXPECT_NE(result.text.find("did you mean \"std/postgres\"?"), std::string::npos) << result.text;
}

TEST(FollowOn, UnknownKindIsReportedOnceNotAtEveryUse) {
  auto result =
      lintText("demo.mig", demoWith("source shop_old postgres", "source shop_old postgrs"));
  EXPECT_EQ(result.errors, 1u) << result.text;
  EXPECT_EQ(result.warnings, 0u) << result.text;
  EXPECT_FALSE(result.has(Rule::TypeMismatch)) << result.text;
  EXPECT_NE(result.text.find("kind 'postgrs' is not declared"), std::string::npos) << result.text;
  EXPECT_NE(result.text.find("did you mean 'postgres'?"), std::string::npos) << result.text;
}

TEST(FollowOn, UnknownTypeOfAParameterIsNotReportedAgainAtItsUses) {
  fs::path dir = fs::temp_directory_path() / "mig-follow-on-type";
  fs::remove_all(dir);
  testing::writeFile(dir / "mod.mig",
                     "module thing\n"
                     "action go(db: strng) {\n"
                     "  effect read\n"
                     "  run \"echo ${db.url}\"\n"
                     "}\n");
  auto result = lintText((dir / "mod.mig").string(), testing::readFile(dir / "mod.mig"));
  EXPECT_EQ(result.errors, 1u) << result.text;
  EXPECT_NE(result.text.find("unknown type 'strng'"), std::string::npos) << result.text;
  EXPECT_NE(result.text.find("did you mean 'string'?"), std::string::npos) << result.text;
  EXPECT_EQ(result.text.find("a invalid"), std::string::npos) << result.text;
  fs::remove_all(dir);
}

TEST(FollowOn, FieldOfAScalarSaysAnWhereItShould) {
  // `port` is an int: naming a field of it reads "is an int".
  auto misuse = lintText("p.mig",
                         "import \"std/postgres\"\n"
                         "plan p {\n"
                         "  retain 1d\n"
                         "  source a postgres {\n    host \"h\"\n    database \"d\"\n  }\n"
                         "  phase verification {\n"
                         "    step s = sh(\"echo ${a.port.x}\")\n"
                         "  }\n"
                         "}\n");
  EXPECT_NE(misuse.text.find("'a.port' is an int"), std::string::npos) << misuse.text;
}

TEST(FollowOn, UnknownTimeZoneSuggestsTheClosestZone) {
  std::string text = testing::readFile(testing::sourceDir() / "examples/acme_postgres.mig");
  size_t at = text.find("America/Chicago");
  ASSERT_NE(at, std::string::npos);
  text.replace(at, std::string("America/Chicago").size(), "America/Chicgo");
  auto result = lintText("acme.mig", text);
  EXPECT_EQ(result.errors, 1u) << result.text;
  EXPECT_NE(result.text.find("did you mean \"America/Chicago\"?"), std::string::npos)
      << result.text;
}

TEST(FollowOn, ModuleGivenAlongsideThePlanThatImportsItIsCheckedOnce) {
  fs::path dir = fs::temp_directory_path() / "mig-follow-on-module";
  fs::remove_all(dir);
  testing::writeFile(dir / "mod.mig", "module thing\naction go(db: strng) {\n  run \"true\"\n}\n");
  testing::writeFile(dir / "plan.mig",
                     "import \"./mod.mig\"\nplan p {\n  retain 1d\n"
                     "  phase verification {\n    step a = sh(\"true\")\n  }\n}\n");
  for (auto order : {std::vector<std::string>{"plan.mig", "mod.mig"},
                     std::vector<std::string>{"mod.mig", "plan.mig"}}) {
    sema::Compilation compilation(std::vector<std::string>{});
    for (const std::string& name : order) {
      std::string error;
      ASSERT_NE(compilation.addFile((dir / name).string(), error), nullptr) << error;
    }
    size_t unknownType = 0;
    for (const auto& d : compilation.diags().diagnostics()) {
      if (d.rule == Rule::UndefinedReference) ++unknownType;
    }
    EXPECT_EQ(unknownType, 1u) << order[0];
  }
  fs::remove_all(dir);
}

// Suggestions stop after 50 per file (as clang's spell-checking limit):
// each compares a name with every declared one.
TEST(FollowOn, DidYouMeanStopsAfterFiftyUndefinedNames) {
  std::string steps;
  for (int i = 0; i < 60; ++i) {
    steps +=
        fmt::format("    step s{} {{\n      do    sh(\"true\")\n      after s{}x\n    }}\n", i, i);
  }
  auto result =
      lintText("many.mig", "plan p {\n  retain 1d\n  phase verification {\n" + steps + "  }\n}\n");
  size_t undefinedCount = 0;
  size_t suggested = 0;
  for (const auto& d : result.diagnostics) {
    if (d.rule != Rule::UndefinedReference) continue;
    ++undefinedCount;
    if (d.fix && d.fix->message.starts_with("did you mean")) ++suggested;
  }
  EXPECT_EQ(undefinedCount, 60u) << result.text;
  EXPECT_EQ(suggested, 50u) << result.text;
}

}  // namespace
}  // namespace mig
