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

TEST(GraphGolden, DotRendersWithGraphviz) {
  fs::path dot = testing::sourceDir() / "tests" / "golden" / "northwind_both.dot";
  auto result = testing::runCommand("dot -Tsvg " + dot.string() + " 2>&1");
  EXPECT_EQ(result.exitCode, 0) << result.output;
  EXPECT_NE(result.output.find("<svg"), std::string::npos);
  EXPECT_NE(result.output.find("orders_final"), std::string::npos);
}

}  // namespace
}  // namespace mig
