// The `mig` binary end to end: exit codes, usage errors, output formats.
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "compiler/diag/rules.h"
#include "test_support.h"

namespace mig {
namespace {

namespace fs = std::filesystem;
using testing::mig;
using testing::runCommand;

fs::path scratch(const std::string& name) {
  fs::path dir = fs::temp_directory_path() / ("mig-cli-test-" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

const char* kWarnOnly =
    "plan p {\n"
    "  phase verification {\n"
    "    step health = sh(\"true\")\n"
    "  }\n"
    "}\n";

TEST(Cli, LintsTheExamplesClean) {
  auto result = runCommand(mig() + " lint examples/*.mig");
  EXPECT_EQ(result.exitCode, 0) << result.output;
  EXPECT_EQ(result.output, "no problems found\n");
}

TEST(Cli, MissingFileIsAUsageError) {
  auto result = runCommand(mig() + " lint examples/acme_postgres.mig no/such.mig 2>&1");
  EXPECT_EQ(result.exitCode, 2);
  EXPECT_EQ(result.output, "mig: cannot read 'no/such.mig': No such file or directory\n");
}

TEST(Cli, UnknownFlagIsAUsageError) {
  auto result = runCommand(mig() + " lint --frobnicate examples/acme_postgres.mig 2>&1");
  EXPECT_EQ(result.exitCode, 2);
  EXPECT_NE(result.output.find("frobnicate"), std::string::npos) << result.output;
}

TEST(Cli, UnknownFormatIsAUsageError) {
  auto result = runCommand(mig() + " lint --format xml examples/acme_postgres.mig 2>&1");
  EXPECT_EQ(result.exitCode, 2) << result.output;
}

TEST(Cli, NoSubcommandIsAUsageError) {
  EXPECT_EQ(runCommand(mig() + " 2>&1").exitCode, 2);
}

TEST(Cli, WarningsPassUnlessWerror) {
  fs::path dir = scratch("werror");
  testing::writeFile(dir / "p.mig", kWarnOnly);
  auto plain = runCommand(mig() + " lint " + (dir / "p.mig").string());
  EXPECT_EQ(plain.exitCode, 0) << plain.output;
  EXPECT_NE(plain.output.find("warning:"), std::string::npos);
  auto strict = runCommand(mig() + " lint --werror " + (dir / "p.mig").string());
  EXPECT_EQ(strict.exitCode, 1) << strict.output;
  EXPECT_NE(strict.output.find("error: plan 'p' does not say how long"), std::string::npos);
}

TEST(Cli, ErrorsExitOne) {
  fs::path dir = scratch("errors");
  testing::writeFile(dir / "p.mig", "plan p {\n  phase cleanup {\n  }\n}\n");
  auto result = runCommand(mig() + " lint " + (dir / "p.mig").string());
  EXPECT_EQ(result.exitCode, 1);
  EXPECT_NE(result.output.find("[unknown-phase]"), std::string::npos);
}

TEST(Cli, ReadsStdin) {
  auto result = runCommand(std::string("printf 'plan p {\\n  retain 1h\\n}\\n' | ") + mig() +
                           " lint -");
  EXPECT_NE(result.output.find("<stdin>:2:10: warning: the old environment is kept only 1h"),
            std::string::npos)
      << result.output;
}

TEST(Cli, JsonIsOneArrayOfDiagnostics) {
  fs::path dir = scratch("json");
  testing::writeFile(dir / "p.mig", kWarnOnly);
  auto result = runCommand(mig() + " lint --format json " + (dir / "p.mig").string());
  auto json = nlohmann::json::parse(result.output);
  ASSERT_TRUE(json.is_array());
  ASSERT_FALSE(json.empty());
  for (const auto& d : json) {
    for (const char* field : {"file", "line", "column", "severity", "rule", "message"}) {
      EXPECT_TRUE(d.contains(field)) << field;
    }
  }
}

TEST(Cli, SarifValidatesAgainstTheOfficialSchema) {
  fs::path dir = scratch("sarif");
  testing::writeFile(dir / "p.mig", std::string(kWarnOnly) + "plan q {\n  phase x {}\n}\n");
  fs::path sarif = dir / "out.sarif";
  auto lint = runCommand(mig() + " lint --format sarif " + (dir / "p.mig").string() + " > " +
                         sarif.string());
  EXPECT_EQ(lint.exitCode, 1);
  // The official OASIS schema (draft-04), checked in beside the tests.
  std::string schema = (testing::sourceDir() / "tests" / "sarif-schema-2.1.0.json").string();
  auto check = runCommand("/usr/bin/python3 -c 'import json,sys,jsonschema; "
                          "jsonschema.Draft4Validator(json.load(open(sys.argv[1])))"
                          ".validate(json.load(open(sys.argv[2]))); print(\"valid\")' " +
                          schema + " " + sarif.string() + " 2>&1");
  EXPECT_EQ(check.output, "valid\n");
  auto log = nlohmann::json::parse(testing::readFile(sarif));
  EXPECT_GE(log["runs"][0]["results"].size(), 2u);
}

TEST(Cli, GithubFormatPrintsWorkflowCommands) {
  fs::path dir = scratch("github");
  testing::writeFile(dir / "p.mig", kWarnOnly);
  auto result = runCommand(mig() + " lint --format github " + (dir / "p.mig").string());
  EXPECT_EQ(result.output.rfind("::warning file=", 0), 0u) << result.output;
  EXPECT_NE(result.output.find(",line=1,col=6,"), std::string::npos);
  EXPECT_NE(result.output.find("title=retention-missing::"), std::string::npos);
}

TEST(Cli, ExplainsEveryRule) {
  for (const diag::RuleInfo& info : diag::allRules()) {
    auto result = runCommand(mig() + " explain " + std::string(info.name));
    EXPECT_EQ(result.exitCode, 0) << info.name;
    for (const char* section : {"What it catches", "Why it matters", "How to fix it", "Bad", "Good"}) {
      EXPECT_NE(result.output.find(section), std::string::npos) << info.name << ": " << section;
    }
  }
  EXPECT_EQ(runCommand(mig() + " explain no-such-rule 2>/dev/null").exitCode, 2);
}

// The rules postgres.sync checks against the servers are explained like
// the others, and say where they are checked and what the driver prints.
TEST(Cli, ExplainsTheRulesCheckedAtRunTime) {
  for (const char* rule : {"wal-level", "sync-needs-replica-identity"}) {
    auto result = runCommand(mig() + " explain " + rule);
    EXPECT_EQ(result.exitCode, 0) << rule;
    std::string head = std::string(rule) +
                       " (error)\n\nWhat it catches\n    Checked at run time by postgres.sync (the "
                       "postgres-sync driver) before it changes anything, not by `mig lint`: ";
    EXPECT_EQ(result.output.substr(0, head.size()), head) << result.output;
    EXPECT_NE(result.output.find("a line starting with `" + std::string(rule) + ":`"),
              std::string::npos)
        << result.output;
  }
}

TEST(Cli, ExplainListNamesEveryRule) {
  auto result = runCommand(mig() + " explain --list");
  for (const diag::RuleInfo& info : diag::allRules()) {
    EXPECT_NE(result.output.find(std::string(info.name)), std::string::npos) << info.name;
  }
}

// An `endpoint` (here a PgBouncer pool) is neither source nor target: the
// compiled plan says so in its role.
TEST(Cli, CompiledPlanGivesEveryEndpointItsRole) {
  auto result = runCommand(mig() + " compile tests/lint/sync-without-cutover/good.mig");
  ASSERT_EQ(result.exitCode, 0) << result.output;
  auto plan = nlohmann::json::parse(result.output);
  std::map<std::string, std::string> roles;
  for (const auto& endpoint : plan["endpoints"]) roles[endpoint["name"]] = endpoint["role"];
  EXPECT_EQ(roles, (std::map<std::string, std::string>{
                       {"new_db", "target"}, {"old_db", "source"}, {"pool", "endpoint"}}));
}

TEST(Cli, FmtCheckReportsAndChangesNothing) {
  fs::path dir = scratch("fmt");
  std::string messy = "plan p {\n      retain 72h\n title \"t\"\n}\n";
  testing::writeFile(dir / "p.mig", messy);
  auto check = runCommand(mig() + " fmt --check " + (dir / "p.mig").string());
  EXPECT_EQ(check.exitCode, 1);
  EXPECT_NE(check.output.find("-      retain 72h\n"), std::string::npos) << check.output;
  EXPECT_NE(check.output.find("+  retain 72h\n"), std::string::npos) << check.output;
  EXPECT_EQ(testing::readFile(dir / "p.mig"), messy);

  auto rewrite = runCommand(mig() + " fmt " + (dir / "p.mig").string());
  EXPECT_EQ(rewrite.exitCode, 0);
  EXPECT_EQ(testing::readFile(dir / "p.mig"), "plan p {\n  retain 72h\n  title  \"t\"\n}\n");
  EXPECT_EQ(runCommand(mig() + " fmt --check " + (dir / "p.mig").string()).exitCode, 0);
}

// The diff `fmt --check` prints applies with patch(1) and gives the
// formatted file: a few scattered changes (the shortest diff), a long file
// changed on every line (one replacement, printed at once), and files
// without a final newline.
TEST(Cli, FmtCheckDiffAppliesWithPatch) {
  fs::path dir = scratch("fmt-patch");
  std::string scattered = "plan p {\n  retain 72h\n  phase migration {\n";
  for (int i = 0; i < 60; ++i) {
    // Every 15th step indented wrong: hunks far enough apart to stay apart.
    scattered += std::string(i % 15 == 7 ? "      " : "    ") + "step s" + std::to_string(i) +
                 " = sh(\"true\")\n";
  }
  scattered += "  }\n}\n";
  std::string everyLine = "plan p {\nretain 72h\nphase migration {\n";
  for (int i = 0; i < 5000; ++i) everyLine += "step s" + std::to_string(i) + " = sh(\"true\")\n";
  everyLine += "}\n}\n";
  std::string onlyNoFinalNewline = "plan p {\n  retain 72h\n}";
  std::string changedAndNoFinalNewline = "plan p {\n    retain 72h\n}";
  for (const std::string& messy :
       {scattered, everyLine, onlyNoFinalNewline, changedAndNoFinalNewline}) {
    testing::writeFile(dir / "p.mig", messy);
    auto check = runCommand(mig() + " fmt --check " + (dir / "p.mig").string() + " > " +
                            (dir / "p.diff").string());
    EXPECT_EQ(check.exitCode, 1);
    auto formatted = runCommand(mig() + " fmt - < " + (dir / "p.mig").string());
    ASSERT_EQ(formatted.exitCode, 0);
    ASSERT_NE(formatted.output, messy);
    auto patched = runCommand("patch --silent --output=" + (dir / "patched.mig").string() + " " +
                              (dir / "p.mig").string() + " " + (dir / "p.diff").string());
    EXPECT_EQ(patched.exitCode, 0) << patched.output << testing::readFile(dir / "p.diff");
    EXPECT_EQ(testing::readFile(dir / "patched.mig"), formatted.output);
  }
}

TEST(Cli, FmtReadsStdinWritesStdout) {
  auto result = runCommand(std::string("printf 'plan p {\\nretain 72h\\n}\\n' | ") + mig() + " fmt -");
  EXPECT_EQ(result.exitCode, 0);
  EXPECT_EQ(result.output, "plan p {\n  retain 72h\n}\n");
}

TEST(Cli, FmtRefusesFilesWithSyntaxErrors) {
  fs::path dir = scratch("fmt-broken");
  testing::writeFile(dir / "p.mig", "plan p {\n");
  auto result = runCommand(mig() + " fmt " + (dir / "p.mig").string() + " 2>&1");
  EXPECT_EQ(result.exitCode, 1);
  EXPECT_NE(result.output.find("cannot format"), std::string::npos);
  EXPECT_EQ(testing::readFile(dir / "p.mig"), "plan p {\n");
}

}  // namespace
}  // namespace mig

namespace mig {
namespace {

// A password written into a plan is reported as secret-literal, and no
// output format shows it again.
TEST(Cli, SecretLiteralsAreNeverPrinted) {
  std::string plan = (testing::sourceDir() / "tests/lint/secret-literal/bad.mig").string();
  std::string text = testing::readFile(plan);
  ASSERT_NE(text.find("Shipm3nts!2019"), std::string::npos);
  for (const char* format : {"text", "json", "sarif", "github"}) {
    auto result = testing::runCommand(testing::mig() + " lint --format " + format + " " + plan);
    EXPECT_EQ(result.exitCode, 1) << format;
    EXPECT_NE(result.output.find("secret-literal"), std::string::npos) << format;
    EXPECT_EQ(result.output.find("Shipm3nts!2019"), std::string::npos) << format;
  }
}

}  // namespace
}  // namespace mig

namespace mig {
namespace {

// Writing a compiled plan to a device or a pipe writes into it; it must
// never replace it with a file.
TEST(Cli, CompileToDevNullLeavesTheDeviceAlone) {
  auto result = testing::runCommand(testing::mig() + " compile examples/acme_postgres.mig -o /dev/null");
  EXPECT_EQ(result.exitCode, 0);
  struct stat info;
  ASSERT_EQ(::stat("/dev/null", &info), 0);
  EXPECT_TRUE(S_ISCHR(info.st_mode)) << "/dev/null was replaced";
  auto piped = testing::runCommand(testing::mig() +
                                   " graph examples/acme_postgres.mig --format mermaid -o /dev/stdout | head -1");
  EXPECT_EQ(piped.output, "flowchart LR\n");
}

}  // namespace
}  // namespace mig

namespace mig {
namespace {

// `--rerun` and `--mark-done` take one step each: the plan file may come
// before or after them. A failed run is resumed with the tool its first
// step needs gone from PATH, so both orders stop at the same preflight
// problem, having read the same options.
TEST(Cli, ResumeStepOptionsTakeOneValueInAnyOrder) {
  fs::path dir = scratch("resume-order");
  testing::writeFile(dir / "bin" / "mig-cli-tool", "#!/bin/sh\nexit 1\n");
  fs::permissions(dir / "bin" / "mig-cli-tool", fs::perms::owner_all);
  testing::writeFile(dir / "p.mig",
                     "plan p {\n  retain 72h\n  phase migration {\n"
                     "    step a = sh(\"mig-cli-tool\")\n"
                     "    step b {\n      do    sh(\"true\")\n      after a\n    }\n"
                     "  }\n}\n");
  std::string in = "cd " + dir.string() + " && ";
  auto failed = runCommand(in + "PATH=" + (dir / "bin").string() + ":$PATH " + mig() +
                           " run p.mig --no-rollback 2>&1");
  ASSERT_EQ(failed.exitCode, 4) << failed.output;
  const std::string refused =
      "mig: preflight failed; nothing was run (1 problem):\n"
      "  - command mig-cli-tool is not on PATH (needed by p.mig:4)\n";
  for (const char* args :
       {"resume --mark-done b p.mig", "resume p.mig --mark-done b",
        "resume --rerun a --mark-done b p.mig", "resume --mark-done=b,a p.mig"}) {
    auto resumed = runCommand(in + mig() + " " + args + " 2>&1");
    EXPECT_EQ(resumed.exitCode, 8) << args << ":\n" << resumed.output;
    EXPECT_EQ(resumed.output, refused) << args;
  }
  auto unknown = runCommand(in + mig() + " resume --rerun a,nope p.mig 2>&1");
  EXPECT_EQ(unknown.exitCode, 2) << unknown.output;
  EXPECT_EQ(unknown.output, "mig: plan p has no step 'nope'\n");
  fs::remove_all(dir);
}

}  // namespace
}  // namespace mig

namespace mig {
namespace {

// `mig plan` says of a one-off window that has closed, and of each step
// bound to it, what preflight would say.
TEST(Cli, PlanSaysAClosedOneOffWindowCanNoLongerBeReached) {
  fs::path dir = scratch("closed-window");
  testing::writeFile(dir / "q.mig",
                     "plan q {\n  retain 72h\n"
                     "  window cutover {\n    at       \"2026-11-25T03:00\"\n    length   1h\n"
                     "    timezone \"America/Chicago\"\n  }\n"
                     "  phase switchover {\n    window cutover\n"
                     "    step flip {\n      do      sh(\"true\")\n      undo    sh(\"true\")\n"
                     "      timeout 30m\n    }\n  }\n}\n");
  auto result =
      runCommand(mig() + " plan " + (dir / "q.mig").string() + " --now 2026-11-25T12:00Z");
  EXPECT_EQ(result.exitCode, 0) << result.output;
  size_t windows = result.output.find("\nWindows");
  size_t steps = result.output.find("\nSteps");
  ASSERT_LT(windows, steps) << result.output;
  EXPECT_EQ(result.output.substr(windows, steps - windows),
            "\nWindows (as of 2026-11-25 12:00 UTC)\n"
            "  cutover        2026-11-25T03:00 for 1h (America/Chicago)\n"
            "                 closed for good at 2026-11-25 04:00 CST (2026-11-25 10:00 UTC): the "
            "plan can no longer reach it\n");
  EXPECT_NE(
      result.output.find("\n       timeout 30m; window cutover, at its end: pause\n"
                         "       can never start: the plan can no longer reach its window "
                         "cutover, a one-off window that closed at 2026-11-25 04:00 CST "
                         "(2026-11-25 10:00 UTC); change the window before running the plan\n"),
      std::string::npos)
      << result.output;
  fs::remove_all(dir);
}

}  // namespace
}  // namespace mig
