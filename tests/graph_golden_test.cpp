// Golden compiled plans and pictures of the examples: tests/golden/NAME.json,
// .dot and .mmd are exactly what `mig compile`, `mig graph --format dot` and
// `--format mermaid` print for examples/NAME.mig. Refresh them with
// tests/update_goldens.sh after checking the new output.
#include <gtest/gtest.h>

#include <filesystem>

#include "compiler/graph/json.h"
#include "compiler/graph/pictures.h"
#include "compiler/lower/lower.h"
#include "test_support.h"

namespace mig {
namespace {

namespace fs = std::filesystem;

TEST(GraphGolden, ExamplesCompileToTheGoldenFiles) {
  int compared = 0;
  for (const auto& entry : fs::directory_iterator(testing::sourceDir() / "examples")) {
    if (entry.path().extension() != ".mig") continue;
    std::string name = entry.path().stem().string();
    sema::Compilation compilation(std::vector<std::string>{});
    const sema::CompiledFile* file = compilation.addText(
        "examples/" + entry.path().filename().string(), testing::readFile(entry.path()));
    ASSERT_TRUE(file->checked.plan) << name;
    ASSERT_FALSE(compilation.diags().hasErrors()) << name;
    graph::Graph g = lower::lowerPlan(*file->checked.plan, compilation.sources());
    fs::path golden = testing::sourceDir() / "tests" / "golden" / name;
    EXPECT_EQ(graph::toJson(g), testing::readFile(golden.string() + ".json")) << name;
    EXPECT_EQ(graph::toDot(g), testing::readFile(golden.string() + ".dot")) << name;
    EXPECT_EQ(graph::toMermaid(g), testing::readFile(golden.string() + ".mmd")) << name;
    ++compared;
  }
  EXPECT_GE(compared, 3);
}

TEST(GraphGolden, PlanShowsTheGoldenOutput) {
  for (const char* name : {"acme_postgres", "northwind_both", "shopfast_redis"}) {
    auto result = testing::runCommand("NO_COLOR=1 " + testing::mig() + " plan examples/" + name +
                                      ".mig --now 2026-11-25T12:00Z");
    EXPECT_EQ(result.exitCode, 0) << name;
    fs::path golden = testing::sourceDir() / "tests" / "golden" / (std::string(name) + ".plan.txt");
    EXPECT_EQ(result.output, testing::readFile(golden)) << name;
  }
}

TEST(GraphGolden, CompileWritesTheGoldenFileAndPlanReadsIt) {
  fs::path out = fs::temp_directory_path() / "mig-compile-test.json";
  auto compile = testing::runCommand(testing::mig() + " compile examples/acme_postgres.mig -o " +
                                     out.string());
  EXPECT_EQ(compile.exitCode, 0);
  EXPECT_EQ(testing::readFile(out),
            testing::readFile(testing::sourceDir() / "tests/golden/acme_postgres.json"));
  auto plan = testing::runCommand(testing::mig() + " plan " + out.string() +
                                  " --now 2026-11-25T12:00Z");
  EXPECT_EQ(plan.exitCode, 0);
  EXPECT_NE(plan.output.find("next opens 2026-11-28 02:00 CST"), std::string::npos) << plan.output;
  fs::remove(out);
}

TEST(GraphGolden, CompileRefusesAPlanWithErrors) {
  fs::path dir = fs::temp_directory_path() / "mig-compile-errors";
  fs::create_directories(dir);
  testing::writeFile(dir / "p.mig", "plan p {\n  phase cleanup {}\n}\n");
  auto result = testing::runCommand(testing::mig() + " compile " + (dir / "p.mig").string() +
                                    " -o " + (dir / "out.json").string() + " 2>&1");
  EXPECT_EQ(result.exitCode, 1);
  EXPECT_NE(result.output.find("[unknown-phase]"), std::string::npos) << result.output;
  EXPECT_FALSE(fs::exists(dir / "out.json"));
  fs::remove_all(dir);
}

TEST(GraphGolden, DotRendersWithGraphviz) {
  fs::path dot = testing::sourceDir() / "tests" / "golden" / "northwind_both.dot";
  auto result = testing::runCommand("dot -Tsvg " + dot.string() + " 2>&1");
  EXPECT_EQ(result.exitCode, 0) << result.output;
  EXPECT_NE(result.output.find("<svg"), std::string::npos);
  EXPECT_NE(result.output.find("orders_final"), std::string::npos);
}

}  // namespace
}  // namespace mig
