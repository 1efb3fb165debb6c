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

// A diagnostic of `rule` at bytes [begin, end) of a one-file source.
struct OneLine {
  source::SourceManager sources;
  diag::DiagnosticEngine diags;
  source::FileId file;

  explicit OneLine(std::string text) { file = sources.addFile("t.mig", std::move(text)); }
  OneLine& at(size_t begin, size_t end, diag::Rule rule = diag::Rule::UndefinedReference) {
    diags.report(rule, {file, static_cast<uint32_t>(begin), static_cast<uint32_t>(end)}, "m");
    return *this;
  }
  std::string text(size_t maxPerFile = 0) {
    std::ostringstream out;
    diag::printText(out, sources, diags.diagnostics(), {false, maxPerFile});
    return out.str();
  }
};

std::string repeat(std::string_view text, size_t times) {
  std::string out;
  for (size_t i = 0; i < times; ++i) out += text;
  return out;
}

TEST(TextPrinter, ShortLinesAreNotCut) {
  std::string ascii = "x " + std::string(114, 'a') + " BAD";  // 120 code points
  std::string utf8 = "x " + repeat("é", 114) + " BAD";        // the same in 234 bytes
  for (const std::string& text : {ascii, utf8}) {
    OneLine f(text + "\n");
    size_t bad = text.find("BAD");
    f.at(bad, bad + 3);
    EXPECT_EQ(f.text(),
              "t.mig:1:118: error: m [undefined-reference]\n"
              "    1 | " +
                  text +
                  "\n"
                  "      | " +
                  std::string(117, ' ') + "^~~\n");
  }
}

TEST(TextPrinter, LongLineIsCutOnBothSidesAroundTheRange) {
  std::string text = std::string(200, 'a') + "BAD" + std::string(200, 'b');
  OneLine f(text + "\n");
  f.at(200, 203);
  // 120 code points: the range centred, 58 before it and 59 after.
  EXPECT_EQ(f.text(),
            "t.mig:1:201: error: m [undefined-reference]\n"
            "    1 | ..." +
                std::string(58, 'a') + "BAD" + std::string(59, 'b') +
                "...\n"
                "      |    " +
                std::string(58, ' ') + "^~~\n");
}

TEST(TextPrinter, LongLineNearItsStartOrEndIsCutOnOneSide) {
  std::string text = "BAD" + std::string(300, 'b') + "END";
  OneLine f(text + "\n");
  f.at(0, 3).at(303, 306);
  EXPECT_EQ(f.text(),
            "t.mig:1:1: error: m [undefined-reference]\n"
            "    1 | BAD" +
                std::string(117, 'b') +
                "...\n"
                "      | ^~~\n"
                "t.mig:1:304: error: m [undefined-reference]\n"
                "    1 | ..." +
                std::string(117, 'b') +
                "END\n"
                "      |    " +
                std::string(117, ' ') + "^~~\n");
}

TEST(TextPrinter, RangeWiderThanTheWindowKeepsItsStart) {
  std::string text = std::string(100, 'a') + std::string(400, 'R') + std::string(100, 'b');
  OneLine f(text + "\n");
  f.at(100, 500);
  // 90 code points of the range are shown, 15 before it: tildes stop at the cut.
  EXPECT_EQ(f.text(),
            "t.mig:1:101: error: m [undefined-reference]\n"
            "    1 | ..." +
                std::string(15, 'a') + std::string(105, 'R') +
                "...\n"
                "      |    " +
                std::string(15, ' ') + "^" + std::string(104, '~') + "\n");
}

TEST(TextPrinter, CutLineKeepsTabsUtf8AndControlCharactersAligned) {
  // Tabs before the window are cut away; a tab inside it pads with a tab.
  std::string text = "\t\t" + repeat("ü", 150) + "\tBAD" + repeat("ö", 150) + "\x01";
  OneLine f(text + "\n");
  size_t bad = text.find("BAD");
  f.at(bad, bad + 3);
  EXPECT_EQ(f.text(),
            "t.mig:1:154: error: m [undefined-reference]\n"
            "    1 | ..." +
                repeat("ü", 57) + "\tBAD" + repeat("ö", 59) +
                "...\n"
                "      |    " +
                std::string(57, ' ') + "\t^~~\n");
  OneLine end(text + "\n");
  end.at(text.size() - 1, text.size());
  EXPECT_EQ(end.text(),
            "t.mig:1:307: error: m [undefined-reference]\n"
            "    1 | ..." +
                repeat("ö", 119) +
                "?\n"
                "      |    " +
                std::string(119, ' ') + "^\n");
}

TEST(TextPrinter, CutLineStillMasksSecrets) {
  std::string text = std::string(150, ' ') + "password \"hünter2\" " + std::string(150, 'x');
  OneLine f(text + "\n");
  size_t quote = text.find('"');
  f.at(quote, quote + 10, diag::Rule::SecretLiteral);  // "hünter2" with its quotes
  std::string shown = f.text();
  EXPECT_EQ(shown.find("hünter2"), std::string::npos) << shown;
  EXPECT_EQ(shown,
            "t.mig:1:160: error: m [secret-literal]\n"
            "    1 | ..." +
                std::string(46, ' ') + "password \"*******\" " + std::string(55, 'x') +
                "...\n"
                "      |    " +
                std::string(55, ' ') + "^" + std::string(8, '~') + "\n");
}

TEST(TextPrinter, MaskingCountsCodePointsNotBytes) {
  OneLine f("secret s { from \"pässwörd\" } # x\n");
  f.at(16, 28, diag::Rule::SecretLiteral).at(31, 32);
  std::string line = "    1 | secret s { from \"********\" } # x\n";
  EXPECT_EQ(f.text(), "t.mig:1:17: error: m [secret-literal]\n" + line + "      | " +
                          std::string(16, ' ') + "^" + std::string(9, '~') + "\n" +
                          "t.mig:1:30: error: m [undefined-reference]\n" + line + "      | " +
                          std::string(29, ' ') + "^\n");
}

TEST(TextPrinter, MaxPerFileShowsTheFirstThenCountsTheRest) {
  OneLine f("a b c d e\n");
  f.at(0, 1)
      .at(2, 3)
      .at(4, 5, diag::Rule::UnusedDeclaration)
      .at(6, 7)
      .at(8, 9, diag::Rule::RetentionMissing);
  EXPECT_EQ(f.text(2),
            "t.mig:1:1: error: m [undefined-reference]\n"
            "    1 | a b c d e\n"
            "      | ^\n"
            "t.mig:1:3: error: m [undefined-reference]\n"
            "    1 | a b c d e\n"
            "      |   ^\n"
            "t.mig: note: 3 more diagnostics of this file not shown (1 error, 2 "
            "warnings); `--max-errors 0` shows all\n");
  EXPECT_EQ(f.text(5), f.text(0));
}

TEST(TextPrinter, MaxPerFileCountsEachFileOnItsOwn) {
  source::SourceManager sources;
  diag::DiagnosticEngine diags;
  auto a = sources.addFile("a.mig", "x y\n");
  auto b = sources.addFile("b.mig", "z\n");
  diags.report(diag::Rule::UndefinedReference, {a, 0, 1}, "one");
  diags.report(diag::Rule::UndefinedReference, {a, 2, 3}, "two");
  diags.report(diag::Rule::UndefinedReference, {b, 0, 1}, "three");
  std::ostringstream out;
  diag::printText(out, sources, diags.diagnostics(), {false, 1});
  EXPECT_EQ(out.str(),
            "a.mig:1:1: error: one [undefined-reference]\n"
            "    1 | x y\n"
            "      | ^\n"
            "a.mig: note: 1 more diagnostic of this file not shown (1 error); "
            "`--max-errors 0` shows all\n"
            "b.mig:1:1: error: three [undefined-reference]\n"
            "    1 | z\n"
            "      | ^\n");
}

TEST(GithubPrinter, MaxPerFileEndsWithANotice) {
  OneLine f("a b c\n");
  f.at(0, 1).at(2, 3).at(4, 5);
  std::ostringstream out;
  diag::printGithub(out, f.sources, f.diags.diagnostics(), 2);
  EXPECT_EQ(out.str(),
            "::error file=t.mig,line=1,col=1,endLine=1,endColumn=2,title=undefined-reference::m\n"
            "::error file=t.mig,line=1,col=3,endLine=1,endColumn=4,title=undefined-reference::m\n"
            "::notice file=t.mig,title=max-errors::1 more diagnostic of this file not shown (1 "
            "error); `--max-errors 0` shows all\n");
}

TEST(LimitPerFile, KeepsTheFirstOfEachFileAndCountsTheRest) {
  OneLine f("a b c\n");
  f.at(0, 1).at(2, 3, diag::Rule::UnusedDeclaration).at(4, 5);
  std::vector<diag::Omitted> omitted;
  auto shown = diag::limitPerFile(f.diags.diagnostics(), 1, omitted);
  ASSERT_EQ(shown.size(), 1u);
  EXPECT_EQ(shown[0].range.begin, 0u);
  ASSERT_EQ(omitted.size(), 1u);
  EXPECT_EQ(omitted[0].file, f.file);
  EXPECT_EQ(omitted[0].errors, 1u);
  EXPECT_EQ(omitted[0].warnings, 1u);
  EXPECT_EQ(diag::limitPerFile(f.diags.diagnostics(), 0, omitted).size(), 3u);
  EXPECT_TRUE(omitted.empty());
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

TEST(SarifPrinter, UrisAreRelativeToTheRootWhenUnderIt) {
  auto uri = [](std::string_view path) {
    diag::ArtifactUri u = diag::artifactUri(path, "/repo", "/repo/plans");
    return (u.underRoot ? "%SRCROOT%/" : "") + u.uri;
  };
  EXPECT_EQ(uri("a.mig"), "%SRCROOT%/plans/a.mig");
  EXPECT_EQ(uri("./a.mig"), "%SRCROOT%/plans/a.mig");
  EXPECT_EQ(uri("../x.mig"), "%SRCROOT%/x.mig");
  EXPECT_EQ(uri("../other/../x.mig"), "%SRCROOT%/x.mig");
  EXPECT_EQ(uri("/repo/deep/a b#ü.mig"), "%SRCROOT%/deep/a%20b%23%C3%BC.mig");
  EXPECT_EQ(uri("../../etc/x.mig"), "file:///etc/x.mig");
  EXPECT_EQ(uri("/repository/x.mig"), "file:///repository/x.mig");
  EXPECT_EQ(uri("<stdin>"), "%3Cstdin%3E");
  // Without a root: the path as typed.
  EXPECT_EQ(diag::artifactUri("../x.mig", "", "/repo").uri, "../x.mig");
  EXPECT_EQ(diag::artifactUri("/a b.mig", "", "/repo").uri, "file:///a%20b.mig");
  EXPECT_EQ(diag::directoryUri("/home/me/my repo"), "file:///home/me/my%20repo/");
  EXPECT_EQ(diag::directoryUri("/srv/mig/"), "file:///srv/mig/");
}

// The SARIF log of `text` linted as /repo/plans/p.mig, from /repo/plans.
nlohmann::json sarifOf(const std::string& text, size_t maxPerFile = 0) {
  source::SourceManager sources;
  diag::DiagnosticEngine diags;
  auto file = sources.addFile("p.mig", text);
  // One diagnostic at every "BAD", and a secret literal at the first string.
  for (size_t at = text.find("BAD"); at != std::string::npos; at = text.find("BAD", at + 1)) {
    diags.report(diag::Rule::UndefinedReference, {file, uint32_t(at), uint32_t(at + 3)}, "bad");
  }
  if (size_t open = text.find('"'); open != std::string::npos) {
    size_t close = text.find('"', open + 1);
    diags.report(diag::Rule::SecretLiteral, {file, uint32_t(open), uint32_t(close + 1)}, "pw");
  }
  std::ostringstream out;
  diag::printSarif(out, sources, diags.diagnostics(), {"/repo", "/repo/plans", 1, maxPerFile});
  return nlohmann::json::parse(out.str());
}

TEST(SarifPrinter, LocationsUseSrcrootAndRulesLinkTheirHelp) {
  auto run = sarifOf("x BAD\n")["runs"][0];
  EXPECT_EQ(run["originalUriBaseIds"],
            nlohmann::json::parse(R"({"%SRCROOT%": {"uri": "file:///repo/"}})"));
  EXPECT_EQ(run["artifacts"][0]["location"],
            nlohmann::json::parse(R"({"uri": "plans/p.mig", "uriBaseId": "%SRCROOT%"})"));
  EXPECT_EQ(
      run["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"],
      nlohmann::json::parse(R"({"uri": "plans/p.mig", "uriBaseId": "%SRCROOT%", "index": 0})"));
  EXPECT_EQ(run["invocations"],
            nlohmann::json::parse(R"([{"executionSuccessful": true, "exitCode": 1}])"));
  for (const auto& rule : run["tool"]["driver"]["rules"]) {
    EXPECT_EQ(rule["helpUri"], diag::ruleHelpUri(rule["id"].get<std::string>()));
  }
  EXPECT_EQ(diag::ruleHelpUri("acl-too-open"), std::string(MIG_DOCS_URL) + "#acl-too-open");
}

std::vector<std::string> fingerprints(const nlohmann::json& log) {
  std::vector<std::string> out;
  for (const auto& result : log["runs"][0]["results"]) {
    out.push_back(result["partialFingerprints"]["mig/v1"]);
  }
  return out;
}

TEST(SarifPrinter, FingerprintsSurviveLinesInsertedAbove) {
  auto before = fingerprints(sarifOf("plan p {\n  after BAD\n  a BAD\n  after BAD\n}\n"));
  auto after = fingerprints(sarifOf("# new\n\nplan p {\n    after BAD\n  a BAD\n after BAD\n}\n"));
  ASSERT_EQ(before.size(), 3u);
  EXPECT_EQ(before, after);
  // Two results of one rule on equal lines differ by their counter.
  EXPECT_EQ(before[0].substr(0, 17), before[2].substr(0, 17));
  EXPECT_EQ(before[0].substr(16), ":1");
  EXPECT_EQ(before[2].substr(16), ":2");
  EXPECT_NE(before[0].substr(0, 16), before[1].substr(0, 16));
  // A changed line changes its fingerprint.
  EXPECT_NE(fingerprints(sarifOf("plan p {\n  after BAD2\n}\n"))[0], before[0]);
}

TEST(SarifPrinter, FingerprintsDoNotDependOnSecrets) {
  // The line is hashed with the secret masked: the hash says nothing about it.
  auto one = fingerprints(sarifOf("password \"hunter2\" BAD\n"));
  auto two = fingerprints(sarifOf("password \"letmein\" BAD\n"));
  ASSERT_EQ(one.size(), 2u);
  EXPECT_EQ(one, two);
}

TEST(SarifPrinter, MaxPerFileLeavesANotification) {
  auto log = sarifOf("BAD BAD BAD\n", 2);
  const auto& run = log["runs"][0];
  EXPECT_EQ(run["results"].size(), 2u);
  const auto& notification = run["invocations"][0]["toolExecutionNotifications"][0];
  EXPECT_EQ(notification["level"], "note");
  EXPECT_EQ(notification["message"]["text"],
            "1 more diagnostic of this file not shown (1 error); `--max-errors 0` shows all");
  EXPECT_EQ(notification["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            "plans/p.mig");
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
  EXPECT_EQ(diag::allRules().size(), 34u);
}

}  // namespace
}  // namespace mig
