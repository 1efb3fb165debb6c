// `mig fmt`: canonical layout, comments kept, idempotent, and never a
// change in what lint reports.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "compiler/format/formatter.h"
#include "compiler/parse/parser.h"
#include "test_support.h"

namespace mig {
namespace {

namespace fs = std::filesystem;

std::string format(const std::string& text) {
  source::SourceManager sources;
  diag::DiagnosticEngine diags;
  auto file = sources.addFile("f.mig", text);
  auto tree = parse::parseFile(sources, file, diags);
  EXPECT_TRUE(tree->clean) << text;
  return mig::format::formatFile(sources, *tree);
}

TEST(Fmt, IndentsAndAlignsAttributeValues) {
  EXPECT_EQ(format("plan p {\n"
                   "title \"t\"\n"
                   "      retain    72h\n"
                   " owner \"o\"\n"
                   "}\n"),
            "plan p {\n"
            "  title  \"t\"\n"
            "  retain 72h\n"
            "  owner  \"o\"\n"
            "}\n");
}

TEST(Fmt, AlignsRepeatedAttributesColumnByColumn) {
  EXPECT_EQ(format("plan p {\n"
                   "  acl b {\n"
                   "    allow \"10.1.0.0/24\" \"app servers\"\n"
                   "    allow \"203.0.113.7\" \"bastion\"\n"
                   "    allow \"2001:db8::/48\" \"ipv6\"\n"
                   "  }\n"
                   "  phase testing {\n"
                   "    step acl_check = acl.verify(target: b)\n"
                   "    step smoke = sh(\"true\")\n"
                   "  }\n"
                   "}\n"),
            "plan p {\n"
            "  acl b {\n"
            "    allow \"10.1.0.0/24\"   \"app servers\"\n"
            "    allow \"203.0.113.7\"   \"bastion\"\n"
            "    allow \"2001:db8::/48\" \"ipv6\"\n"
            "  }\n"
            "\n"
            "  phase testing {\n"
            "    step acl_check = acl.verify(target: b)\n"
            "    step smoke     = sh(\"true\")\n"
            "  }\n"
            "}\n");
}

TEST(Fmt, OneBlankLineBetweenBlocksNoneInsideBraces) {
  EXPECT_EQ(format("plan p {\n\n\n"
                   "  phase preparation {\n\n"
                   "    step a = sh(\"a\")\n\n\n"
                   "  }\n"
                   "  phase testing {\n"
                   "    step b = sh(\"b\")\n"
                   "  }\n\n\n"
                   "}\n\n\n"),
            "plan p {\n"
            "  phase preparation {\n"
            "    step a = sh(\"a\")\n"
            "  }\n"
            "\n"
            "  phase testing {\n"
            "    step b = sh(\"b\")\n"
            "  }\n"
            "}\n");
}

TEST(Fmt, KeepsCommentsWhereTheyWere) {
  std::string text =
      "# header comment\n"
      "plan p { # on the brace\n"
      "  # before retain\n"
      "  retain 72h  # trailing\n"
      "  title \"t\"         # another\n"
      "\n"
      "  # a lone comment\n"
      "  secret s { from env(\"S\") } # after a one-line block\n"
      "  # at the end\n"
      "}\n"
      "# after everything\n";
  EXPECT_EQ(format(text),
            "# header comment\n"
            "plan p {  # on the brace\n"
            "  # before retain\n"
            "  retain 72h  # trailing\n"
            "  title  \"t\"  # another\n"
            "\n"
            "  # a lone comment\n"
            "  secret s { from env(\"S\") }  # after a one-line block\n"
            "  # at the end\n"
            "}\n"
            "# after everything\n");
}

TEST(Fmt, KeepsSingleLineBlocksAndMultiLineLists) {
  EXPECT_EQ(format("plan p {\n"
                   "  secret a { from env(\"A\") }\n"
                   "  secret b {   from   env(\"B\")   }\n"
                   "  facts {\n"
                   "    languages [\n"
                   "    \"go\", \"rust\"]\n"
                   "    pains [\"x\",\"y\"]\n"
                   "  }\n"
                   "}\n"),
            "plan p {\n"
            "  secret a { from env(\"A\") }\n"
            "  secret b { from env(\"B\") }\n"
            "\n"
            "  facts {\n"
            "    languages [\n"
            "      \"go\",\n"
            "      \"rust\",\n"
            "    ]\n"
            "    pains     [\"x\", \"y\"]\n"
            "  }\n"
            "}\n");
}

std::vector<fs::path> corpus() {
  std::vector<fs::path> files;
  for (const char* dir : {"examples", "stdlib/std"}) {
    for (const auto& entry : fs::directory_iterator(testing::sourceDir() / dir)) {
      if (entry.path().extension() == ".mig") files.push_back(entry.path());
    }
  }
  fs::path lint = testing::sourceDir() / "tests" / "lint";
  if (fs::exists(lint)) {
    for (const auto& entry : fs::recursive_directory_iterator(lint)) {
      if (entry.path().extension() == ".mig") files.push_back(entry.path());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::vector<std::string> rulesAndMessages(const std::string& name, const std::string& text) {
  auto result = testing::lintText(name, text);
  std::vector<std::string> out;
  for (const auto& d : result.diagnostics) {
    out.push_back(std::string(diag::ruleInfo(d.rule).name) + ": " + d.message);
  }
  std::sort(out.begin(), out.end());
  return out;
}

bool parsesCleanly(const std::string& text) {
  source::SourceManager sources;
  diag::DiagnosticEngine diags;
  return parse::parseFile(sources, sources.addFile("x", text), diags)->clean;
}

TEST(Fmt, IsIdempotentOnEveryFileWeHave) {
  for (const fs::path& path : corpus()) {
    std::string text = testing::readFile(path);
    if (!parsesCleanly(text)) continue;
    std::string once = format(text);
    EXPECT_EQ(format(once), once) << path;
  }
}

TEST(Fmt, NeverChangesWhatLintReports) {
  for (const fs::path& path : corpus()) {
    std::string text = testing::readFile(path);
    if (!parsesCleanly(text)) continue;
    std::string name = fs::relative(path, testing::sourceDir()).string();
    EXPECT_EQ(rulesAndMessages(name, format(text)), rulesAndMessages(name, text)) << path;
  }
}

TEST(Fmt, KeepsEveryCommentOfEveryFile) {
  for (const fs::path& path : corpus()) {
    std::string text = testing::readFile(path);
    if (!parsesCleanly(text)) continue;
    std::string formatted = format(text);
    auto countComments = [](const std::string& s) {
      source::SourceManager sources;
      diag::DiagnosticEngine diags;
      return parse::parseFile(sources, sources.addFile("x", s), diags)->comments.size();
    };
    EXPECT_EQ(countComments(formatted), countComments(text)) << path;
  }
}

}  // namespace
}  // namespace mig

namespace mig {
namespace {

TEST(Fmt, ExamplesAndStdlibAreFormatted) {
  for (const char* dir : {"examples", "stdlib/std"}) {
    for (const auto& entry : std::filesystem::directory_iterator(testing::sourceDir() / dir)) {
      if (entry.path().extension() != ".mig") continue;
      std::string text = testing::readFile(entry.path());
      EXPECT_EQ(format(text), text) << entry.path() << " is not formatted: run `mig fmt` on it";
    }
  }
}

}  // namespace
}  // namespace mig
