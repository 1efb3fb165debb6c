// The CI kit end to end: SARIF as code scanning reads it (schema-valid,
// %SRCROOT% URIs, help links), --max-errors, docs/rules.md kept current,
// action.yml's lint step, and the pre-commit hooks run as pre-commit runs
// them. YAML and the SARIF schema are checked by Debian's python3-yaml and
// python3-jsonschema, through /usr/bin/python3.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "compiler/diag/printers.h"
#include "compiler/diag/rules_markdown.h"
#include "test_support.h"

namespace mig {
namespace {

namespace fs = std::filesystem;
using testing::mig;
using testing::readFile;
using testing::runCommand;
using testing::writeFile;

// A fresh folder of its own, removed with the fixture.
class CiKit : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "mig-ci-kit-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = fs::canonical(pattern);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Runs `command` in `folder` with mig first on PATH; stderr joins stdout.
  testing::CommandResult run(const fs::path& folder, const std::string& command) {
    std::string bin = fs::path(MIG_BINARY).parent_path().string();
    return runCommand("cd '" + folder.string() + "' && PATH='" + bin + "':\"$PATH\" " + command +
                      " 2>&1");
  }

  fs::path dir_;
};

const char* kClean =
    "import \"std/shell\"\n"
    "\n"
    "plan p {\n"
    "  retain 72h\n"
    "\n"
    "  phase verification {\n"
    "    step health = sh(\"true\")\n"
    "  }\n"
    "}\n";

// Two undefined references and a warning (no verification phase).
const char* kBad =
    "plan q {\n"
    "  retain 72h\n"
    "  phase migration {\n"
    "    step a {\n"
    "      do    sh(\"true\")\n"
    "      undo  sh(\"true\")\n"
    "      after [x, y]\n"
    "    }\n"
    "  }\n"
    "}\n";

std::string python(const std::string& script) {
  return "/usr/bin/python3 -c '" + script + "'";
}

TEST_F(CiKit, SarifFromASubfolderIsValidWithSrcrootUris) {
  // A repository with a plan at its top, one in a folder with a space, and
  // one outside it; mig runs in the folder.
  fs::path repo = dir_ / "repo";
  fs::create_directories(repo / ".git");
  writeFile(repo / "top.mig", kBad);
  writeFile(repo / "sub dir" / "here.mig", kBad);
  writeFile(dir_ / "outside.mig", kBad);
  fs::path sarif = dir_ / "out.sarif";
  auto lint =
      run(repo / "sub dir", mig() + " lint --format sarif ../top.mig here.mig '" +
                                (dir_ / "outside.mig").string() + "' > '" + sarif.string() + "'");
  EXPECT_EQ(lint.exitCode, 1) << lint.output;

  std::string schema = (testing::sourceDir() / "tests" / "sarif-schema-2.1.0.json").string();
  auto check = runCommand(python("import json,sys,jsonschema; "
                                 "jsonschema.Draft4Validator(json.load(open(sys.argv[1])))"
                                 ".validate(json.load(open(sys.argv[2]))); print(\"valid\")") +
                          " '" + schema + "' '" + sarif.string() + "' 2>&1");
  EXPECT_EQ(check.output, "valid\n");

  auto run0 = nlohmann::json::parse(readFile(sarif))["runs"][0];
  EXPECT_EQ(run0["originalUriBaseIds"]["%SRCROOT%"]["uri"], diag::directoryUri(repo));
  EXPECT_EQ(run0["originalUriBaseIds"]["%SRCROOT%"]["uri"].get<std::string>().back(), '/');
  // In the order of the results: sorted by the names as typed.
  auto artifacts = nlohmann::json::array();
  for (const auto& artifact : run0["artifacts"]) artifacts.push_back(artifact["location"]);
  EXPECT_EQ(artifacts, nlohmann::json::parse(R"([
    {"uri": "top.mig", "uriBaseId": "%SRCROOT%"},
    {"uri": ")" + diag::directoryUri(dir_) + R"(outside.mig"},
    {"uri": "sub%20dir/here.mig", "uriBaseId": "%SRCROOT%"}
  ])"))
      << artifacts.dump(2);
  EXPECT_EQ(run0["invocations"][0]["exitCode"], 1);
  EXPECT_EQ(run0["invocations"][0]["executionSuccessful"], true);
  EXPECT_EQ(run0["results"].size(), 9u);  // three files, two errors and a warning each
  const auto& rule = run0["tool"]["driver"]["rules"][3];
  EXPECT_EQ(rule["helpUri"], std::string(MIG_DOCS_URL_FOR_TESTS) + "#undefined-reference");

  // --sarif-root moves the base; the files outside it keep absolute URIs.
  auto rooted =
      run(repo / "sub dir", mig() + " lint --format sarif --sarif-root . here.mig ../top.mig");
  auto run1 = nlohmann::json::parse(rooted.output)["runs"][0];
  EXPECT_EQ(run1["originalUriBaseIds"]["%SRCROOT%"]["uri"], diag::directoryUri(repo / "sub dir"));
  EXPECT_EQ(run1["artifacts"][0]["location"],
            nlohmann::json({{"uri", diag::directoryUri(repo) + "top.mig"}}));
  EXPECT_EQ(run1["artifacts"][1]["location"],
            nlohmann::json::parse(R"({"uri": "here.mig", "uriBaseId": "%SRCROOT%"})"));
}

TEST_F(CiKit, WithoutGitTheRootIsTheWorkingDirectory) {
  writeFile(dir_ / "p.mig", kBad);
  auto lint = run(dir_, mig() + " lint --format sarif p.mig");
  auto run0 = nlohmann::json::parse(lint.output)["runs"][0];
  EXPECT_EQ(run0["originalUriBaseIds"]["%SRCROOT%"]["uri"], diag::directoryUri(dir_));
  EXPECT_EQ(run0["artifacts"][0]["location"]["uri"], "p.mig");
}

TEST_F(CiKit, MaxErrorsBoundsTextAndOnlyExplicitlyMachineFormats) {
  std::string refs;
  for (int i = 0; i < 30; ++i) refs += (i ? ", u" : "u") + std::to_string(i);
  std::string plan = kBad;
  plan.replace(plan.find("[x, y]"), 6, "[" + refs + "]");
  writeFile(dir_ / "p.mig", plan);

  // The warning (no verification phase, with a help line) sorts first.
  auto text = run(dir_, mig() + " lint p.mig");
  EXPECT_EQ(text.exitCode, 1);
  std::string tail =
      "p.mig: note: 11 more diagnostics of this file not shown (11 errors); "
      "`--max-errors 0` shows all\n"
      "30 errors, 1 warning\n";
  ASSERT_GT(text.output.size(), tail.size());
  EXPECT_EQ(text.output.substr(text.output.size() - tail.size()), tail);
  EXPECT_EQ(std::count(text.output.begin(), text.output.end(), '\n'), 20 * 3 + 1 + 2);

  auto all = run(dir_, mig() + " lint --max-errors 0 p.mig");
  EXPECT_EQ(std::count(all.output.begin(), all.output.end(), '\n'), 31 * 3 + 1 + 1);
  auto two = run(dir_, mig() + " lint --werror --max-errors 2 p.mig");
  EXPECT_EQ(two.output.substr(two.output.find("p.mig: note:")),
            "p.mig: note: 29 more diagnostics of this file not shown (29 errors); "
            "`--max-errors 0` shows all\n"
            "31 errors\n");
  EXPECT_EQ(two.exitCode, 1);

  // Machine formats: every result unless the limit is given.
  auto github = run(dir_, mig() + " lint --format github p.mig");
  EXPECT_EQ(std::count(github.output.begin(), github.output.end(), '\n'), 31);
  auto json = run(dir_, mig() + " lint --format json p.mig");
  EXPECT_EQ(nlohmann::json::parse(json.output).size(), 31u);
  auto limited = runCommand("cd '" + dir_.string() + "' && " + mig() +
                            " lint --format json --max-errors 5 p.mig 2>/dev/null");
  EXPECT_EQ(nlohmann::json::parse(limited.output).size(), 5u);
  EXPECT_EQ(limited.exitCode, 1);
  auto sarif = run(dir_, mig() + " lint --format sarif --max-errors 5 p.mig");
  auto run0 = nlohmann::json::parse(sarif.output)["runs"][0];
  EXPECT_EQ(run0["results"].size(), 5u);
  EXPECT_EQ(run0["invocations"][0]["toolExecutionNotifications"][0]["message"]["text"],
            "26 more diagnostics of this file not shown (26 errors); "
            "`--max-errors 0` shows all");

  EXPECT_EQ(run(dir_, mig() + " lint --max-errors -1 p.mig").exitCode, 2);
}

TEST_F(CiKit, RulesDocIsCurrent) {
  // docs/rules.md is `mig explain --markdown`; regenerate it with
  //   build/cli/mig explain --markdown > docs/rules.md
  std::string doc = readFile(testing::sourceDir() / "docs" / "rules.md");
  EXPECT_EQ(doc, diag::rulesMarkdown()) << "docs/rules.md is out of date: regenerate it with "
                                           "`build/cli/mig explain --markdown > docs/rules.md`";
  auto printed = run(dir_, mig() + " explain --markdown");
  EXPECT_EQ(printed.exitCode, 0);
  EXPECT_EQ(printed.output, doc);
  for (const diag::RuleInfo& info : diag::allRules()) {
    EXPECT_NE(doc.find("\n## " + std::string(info.name) + "\n"), std::string::npos) << info.name;
  }
}

// The hooks of .pre-commit-hooks.yaml, one per line: id, entry, args, files.
std::vector<std::vector<std::string>> hooks() {
  fs::path file = testing::sourceDir() / ".pre-commit-hooks.yaml";
  auto listed =
      runCommand(python("import sys,yaml,shlex\n"
                        "for h in yaml.safe_load(open(sys.argv[1])):\n"
                        "  print(h[\"id\"], h[\"language\"], h[\"files\"], "
                        "shlex.quote(h[\"entry\"] + \" \" + "
                        "\" \".join(map(shlex.quote, h.get(\"args\", [])))), sep=\"\\t\")") +
                 " '" + file.string() + "'");
  EXPECT_EQ(listed.exitCode, 0) << listed.output;
  std::vector<std::vector<std::string>> out;
  std::istringstream lines(listed.output);
  for (std::string line; std::getline(lines, line);) {
    std::vector<std::string> fields;
    std::istringstream parts(line);
    for (std::string field; std::getline(parts, field, '\t');) fields.push_back(field);
    out.push_back(fields);
  }
  return out;
}

TEST_F(CiKit, PreCommitHooksPassOnACleanPlanAndFailOnABadOne) {
  auto all = hooks();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0][0], "mig-lint");
  EXPECT_EQ(all[1][0], "mig-fmt");
  writeFile(dir_ / "clean.mig", kClean);
  writeFile(dir_ / "bad.mig", kBad);
  std::string unformatted = kClean;
  unformatted.replace(unformatted.find("  retain 72h"), 12, "    retain   72h");
  writeFile(dir_ / "unformatted.mig", unformatted);
  for (const auto& hook : all) {
    ASSERT_EQ(hook.size(), 4u);
    EXPECT_EQ(hook[1], "system");
    EXPECT_EQ(hook[2], "\\.mig$");
    // pre-commit runs: entry, then args, then the staged files that match.
    std::string entry = "sh -c " + hook[3] + "' \"$@\"' hook";
    auto clean = run(dir_, entry + " clean.mig");
    EXPECT_EQ(clean.exitCode, 0) << hook[0] << ": " << clean.output;
    const char* bad = hook[0] == "mig-lint" ? "bad.mig" : "unformatted.mig";
    auto failed = run(dir_, entry + " clean.mig " + bad);
    EXPECT_EQ(failed.exitCode, 1) << hook[0] << ": " << failed.output;
  }
}

// The `run` script of one step of action.yml, into `script`.
void actionStep(const std::string& id, const fs::path& script) {
  fs::path action = testing::sourceDir() / "action.yml";
  auto written =
      runCommand(python("import sys,yaml\n"
                        "a=yaml.safe_load(open(sys.argv[1]))\n"
                        "assert a[\"runs\"][\"using\"]==\"composite\"\n"
                        "s=[s for s in a[\"runs\"][\"steps\"] if s.get(\"id\")==sys.argv[2]]\n"
                        "open(sys.argv[3],\"w\").write(s[0][\"run\"])") +
                 " '" + action.string() + "' " + id + " '" + script.string() + "'");
  ASSERT_EQ(written.exitCode, 0) << written.output;
}

TEST_F(CiKit, ActionDeclaresItsInputsAndUploadsSarif) {
  fs::path action = testing::sourceDir() / "action.yml";
  auto checked = runCommand(python("import sys,yaml\n"
                                   "a=yaml.safe_load(open(sys.argv[1]))\n"
                                   "print(sorted(a[\"inputs\"]))\n"
                                   "for s in a[\"runs\"][\"steps\"]:\n"
                                   "  print(s.get(\"uses\") or s[\"shell\"])") +
                            " '" + action.string() + "'");
  EXPECT_EQ(checked.output,
            "['files', 'sarif', 'sarif-file', 'werror']\n"
            "bash\n"
            "bash\n"
            "github/codeql-action/upload-sarif@v3\n"
            "bash\n");
  // Every script is valid bash.
  fs::path script = dir_ / "install.sh";
  actionStep("lint", script);
  EXPECT_EQ(runCommand("bash -n '" + script.string() + "' 2>&1").output, "");
}

TEST_F(CiKit, ActionLintStepAnnotatesWritesSarifAndReportsTheExitCode) {
  fs::path script = dir_ / "lint.sh";
  actionStep("lint", script);
  fs::path workspace = dir_ / "workspace";
  writeFile(workspace / "plans" / "ok.mig", kClean);
  writeFile(workspace / "plans" / "deep" / "bad.mig", kBad);
  writeFile(workspace / "README", "not a plan");
  auto step = [&](const std::string& files, const std::string& werror) {
    fs::remove(dir_ / "output");
    return run(workspace, "GITHUB_OUTPUT='" + (dir_ / "output").string() + "' MIG_FILES='" + files +
                              "' MIG_WERROR=" + werror + " MIG_SARIF_FILE=mig.sarif bash '" +
                              script.string() + "'");
  };
  auto bad = step("**/*.mig", "false");
  EXPECT_EQ(bad.exitCode, 0) << bad.output;  // a later step fails the job, after the upload
  EXPECT_EQ(readFile(dir_ / "output"), "exit-code=1\n");
  EXPECT_EQ(std::count(bad.output.begin(), bad.output.end(), '\n'), 3) << bad.output;
  // Sorted by file and position: the warning at the plan's name comes first.
  EXPECT_EQ(bad.output.rfind("::warning file=plans/deep/bad.mig,line=1,", 0), 0u) << bad.output;
  EXPECT_NE(bad.output.find("\n::error file=plans/deep/bad.mig,line=7,col=14,"), std::string::npos);
  auto sarif = nlohmann::json::parse(readFile(workspace / "mig.sarif"));
  EXPECT_EQ(sarif["runs"][0]["results"].size(), 3u);

  auto clean = step("plans/ok.mig", "true");
  EXPECT_EQ(readFile(dir_ / "output"), "exit-code=0\n") << clean.output;
  auto strict = step("plans/deep/*.mig", "true");
  EXPECT_EQ(readFile(dir_ / "output"), "exit-code=1\n") << strict.output;
  EXPECT_EQ(strict.output.find("::warning"), std::string::npos) << strict.output;
  auto none = step("nothing/*.mig", "false");
  EXPECT_EQ(readFile(dir_ / "output"), "exit-code=0\n");
  EXPECT_EQ(none.output, "::warning title=mig::no file matches 'nothing/*.mig'\n");
}

}  // namespace
}  // namespace mig
