// The four output formats of diagnostics.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "compiler/diag/printers.h"

namespace mig {
namespace {

struct Fixture {
  source::SourceManager sources;
  diag::DiagnosticEngine diags;
  source::FileId file;

  Fixture() {
    file = sources.addFile("plans/a b.mig", "plan p {\n  secret x { from env(\"X\") }\n  secret x { from env(\"Y\") }\n}\n");
    auto& d = diags.report(diag::Rule::DuplicateName, {file, 47, 48},
                           "'x' is already declared in plan 'p'");
    d.notes.push_back({{file, 18, 19}, "first declared here"});
    d.fix = diag::FixHint{"rename one of them", {file, 47, 48}, std::string("y")};
    diags.report(diag::Rule::RetentionMissing, {file, 5, 6}, "plan 'p' has no retain, 100%");
  }
};

TEST(TextPrinter, PrintsSourceLineCaretNotesAndHelp) {
  Fixture f;
  std::ostringstream out;
  diag::printText(out, f.sources, f.diags.diagnostics());
  EXPECT_EQ(out.str(),
            "plans/a b.mig:3:10: error: 'x' is already declared in plan 'p' [duplicate-name]\n"
            "    3 |   secret x { from env(\"Y\") }\n"
            "      |          ^\n"
            "plans/a b.mig:2:10: note: first declared here\n"
            "    2 |   secret x { from env(\"X\") }\n"
            "      |          ^\n"
            "help: rename one of them\n"
            "plans/a b.mig:1:6: warning: plan 'p' has no retain, 100% [retention-missing]\n"
            "    1 | plan p {\n"
            "      |      ^\n");
}

TEST(TextPrinter, ColourOnlyWhenAsked) {
  Fixture f;
  std::ostringstream plain, coloured;
  diag::printText(plain, f.sources, f.diags.diagnostics(), {false});
  diag::printText(coloured, f.sources, f.diags.diagnostics(), {true});
  EXPECT_EQ(plain.str().find('\033'), std::string::npos);
  EXPECT_NE(coloured.str().find("\033[1;31merror"), std::string::npos);
}

TEST(TextPrinter, TildesUnderTheWholeRange) {
  source::SourceManager sources;
  diag::DiagnosticEngine diags;
  auto file = sources.addFile("t.mig", "\tretain 12h\n");
  diags.report(diag::Rule::RetentionTooShort, {file, 8, 11}, "short");
  std::ostringstream out;
  diag::printText(out, sources, diags.diagnostics());
  EXPECT_NE(out.str().find("      | \t       ^~~\n"), std::string::npos) << out.str();
}

TEST(Summary, CountsErrorsAndWarnings) {
  EXPECT_EQ(diag::summaryLine(0, 0), "no problems found");
  EXPECT_EQ(diag::summaryLine(1, 0), "1 error");
  EXPECT_EQ(diag::summaryLine(0, 2), "2 warnings");
  EXPECT_EQ(diag::summaryLine(2, 1), "2 errors, 1 warning");
}

TEST(JsonPrinter, HoldsTheExpectedFields) {
  Fixture f;
  std::ostringstream out;
  diag::printJson(out, f.sources, f.diags.diagnostics());
  auto json = nlohmann::json::parse(out.str());
  ASSERT_TRUE(json.is_array());
  ASSERT_EQ(json.size(), 2u);
  const auto& first = json[0];
  EXPECT_EQ(first["file"], "plans/a b.mig");
  EXPECT_EQ(first["line"], 3);
  EXPECT_EQ(first["column"], 10);
  EXPECT_EQ(first["endLine"], 3);
  EXPECT_EQ(first["endColumn"], 11);
  EXPECT_EQ(first["severity"], "error");
  EXPECT_EQ(first["rule"], "duplicate-name");
  EXPECT_EQ(first["message"], "'x' is already declared in plan 'p'");
  EXPECT_EQ(first["notes"][0]["line"], 2);
  EXPECT_EQ(first["notes"][0]["message"], "first declared here");
  EXPECT_EQ(first["fix"]["replacement"], "y");
  EXPECT_EQ(json[1]["severity"], "warning");
}

TEST(SarifPrinter, HoldsRulesResultsAndLocations) {
  Fixture f;
  std::ostringstream out;
  diag::printSarif(out, f.sources, f.diags.diagnostics());
  auto log = nlohmann::json::parse(out.str());
  EXPECT_EQ(log["version"], "2.1.0");
  const auto& run = log["runs"][0];
  EXPECT_EQ(run["tool"]["driver"]["name"], "mig");
  EXPECT_EQ(run["columnKind"], "unicodeCodePoints");
  const auto& rules = run["tool"]["driver"]["rules"];
  EXPECT_EQ(rules.size(), diag::allRules().size());
  EXPECT_EQ(rules[2]["id"], "duplicate-name");
  EXPECT_EQ(rules[2]["defaultConfiguration"]["level"], "error");
  EXPECT_FALSE(rules[2]["shortDescription"]["text"].get<std::string>().empty());
  EXPECT_FALSE(rules[2]["help"]["text"].get<std::string>().empty());

  const auto& result = run["results"][0];
  EXPECT_EQ(result["ruleId"], "duplicate-name");
  EXPECT_EQ(result["ruleIndex"], 2);
  EXPECT_EQ(result["level"], "error");
  const auto& location = result["locations"][0]["physicalLocation"];
  EXPECT_EQ(location["artifactLocation"]["uri"], "plans/a%20b.mig");
  EXPECT_EQ(location["region"]["startLine"], 3);
  EXPECT_EQ(location["region"]["startColumn"], 10);
  EXPECT_EQ(location["region"]["endColumn"], 11);
  EXPECT_EQ(result["relatedLocations"][0]["message"]["text"], "first declared here");
  EXPECT_EQ(run["results"][1]["level"], "warning");
}

TEST(GithubPrinter, EscapesWorkflowCommands) {
  Fixture f;
  std::ostringstream out;
  diag::printGithub(out, f.sources, f.diags.diagnostics());
  EXPECT_EQ(out.str(),
            "::error file=plans/a b.mig,line=3,col=10,endLine=3,endColumn=11,title=duplicate-name"
            "::'x' is already declared in plan 'p'%0Aplans/a b.mig:2:10: note: first declared "
            "here%0Ahelp: rename one of them\n"
            "::warning file=plans/a b.mig,line=1,col=6,endLine=1,endColumn=7,title=retention-missing"
            "::plan 'p' has no retain, 100%25\n");
}

}  // namespace
}  // namespace mig

namespace mig {
namespace {

TEST(Rules, EveryRuleIsFullyExplained) {
  for (const diag::RuleInfo& info : diag::allRules()) {
    EXPECT_FALSE(info.summary.empty()) << info.name;
    EXPECT_FALSE(info.catches.empty()) << info.name << ": what it catches";
    EXPECT_FALSE(info.why.empty()) << info.name << ": why it matters";
    EXPECT_FALSE(info.fix.empty()) << info.name << ": how to fix it";
    EXPECT_FALSE(info.bad.empty()) << info.name << ": a bad snippet";
    EXPECT_FALSE(info.good.empty()) << info.name << ": a good snippet";
    EXPECT_NE(info.bad, info.good) << info.name;
  }
}

TEST(Rules, NamesAreFoundAndUnique) {
  for (const diag::RuleInfo& info : diag::allRules()) {
    auto found = diag::findRule(info.name);
    ASSERT_TRUE(found) << info.name;
    EXPECT_EQ(*found, info.rule);
    EXPECT_EQ(&diag::ruleInfo(info.rule), &info);
  }
  EXPECT_FALSE(diag::findRule("no-such-rule"));
  EXPECT_EQ(diag::allRules().size(), 31u);
}

}  // namespace
}  // namespace mig
