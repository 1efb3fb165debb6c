// The edges of the command line: help, version, misspelt commands and
// options, `-` for stdin, colour, explain for kinds and actions, and the
// man pages and completions generated from the command line definition.
#include <gtest/gtest.h>

#include <filesystem>
#include <regex>

#include "test_support.h"

namespace mig {
namespace {

namespace fs = std::filesystem;
using testing::mig;
using testing::runCommand;

const std::vector<std::string> kCommands = {"lint", "fmt",  "explain", "compile",   "graph",
                                            "plan", "run",  "resume",  "rollback",  "status",
                                            "log",  "help", "version", "completion"};

fs::path scratch(const std::string& name) {
  fs::path dir = fs::temp_directory_path() / ("mig-cli-edges-" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

TEST(CliEdges, HelpListsEveryCommand) {
  auto result = runCommand(mig() + " help");
  EXPECT_EQ(result.exitCode, 0);
  for (const std::string& command : kCommands) {
    EXPECT_NE(result.output.find("\n  " + command + " "), std::string::npos) << command;
  }
  EXPECT_EQ(result.output.find("driver"), std::string::npos) << "internal commands stay hidden";
}

TEST(CliEdges, HelpOfACommandShowsItsOptionsAndDescription) {
  auto result = runCommand(mig() + " help lint");
  EXPECT_EQ(result.exitCode, 0) << result.output;
  EXPECT_NE(result.output.find("Usage: mig lint [OPTIONS] files..."), std::string::npos)
      << result.output;
  EXPECT_NE(result.output.find("--format"), std::string::npos);
  EXPECT_NE(result.output.find("Parses and checks plan and module files"), std::string::npos);
  EXPECT_EQ(runCommand(mig() + " lint --help").output, result.output);
}

TEST(CliEdges, HelpOfAnUnknownCommandSuggestsOne) {
  auto result = runCommand(mig() + " help lnt 2>&1");
  EXPECT_EQ(result.exitCode, 2);
  EXPECT_NE(result.output.find("did you mean 'lint'?"), std::string::npos) << result.output;
}

TEST(CliEdges, VersionNamesTheCommitItWasBuiltFrom) {
  auto version = runCommand(mig() + " version");
  EXPECT_EQ(version.exitCode, 0);
  EXPECT_EQ(runCommand(mig() + " --version").output, version.output);
  // Built from a git checkout: the commit is HEAD's when the build ran
  // (12 hex digits, "-dirty" with uncommitted changes).
  if (fs::exists(testing::sourceDir() / ".git")) {
    EXPECT_TRUE(std::regex_search(version.output,
                                  std::regex(R"(\(commit [0-9a-f]{12}(-dirty)?\)\n$)")))
        << version.output;
    auto log = runCommand("git -C '" + testing::sourceDir().string() + "' log --format=%h --abbrev=12");
    std::smatch commit;
    ASSERT_TRUE(std::regex_search(version.output, commit, std::regex("[0-9a-f]{12}")));
    EXPECT_NE(log.output.find(commit.str()), std::string::npos) << "not a commit of this repository";
  }
  EXPECT_TRUE(std::regex_search(version.output, std::regex(R"(^mig \d+\.\d+\.\d+)")))
      << version.output;
}

TEST(CliEdges, MisspeltCommandSuggestsTheRightOne) {
  auto result = runCommand(mig() + " lnt examples/demo.mig 2>&1");
  EXPECT_EQ(result.exitCode, 2);
  EXPECT_EQ(result.output,
            "mig: unknown command 'lnt'; did you mean 'lint'? (`mig help` lists the commands)\n");
}

TEST(CliEdges, UnknownOptionBeforeTheCommandIsNamed) {
  auto result = runCommand(mig() + " --frob 2>&1");
  EXPECT_EQ(result.exitCode, 2);
  EXPECT_NE(result.output.find("unknown option '--frob'"), std::string::npos) << result.output;
  EXPECT_EQ(result.output.find("subcommand is required"), std::string::npos) << result.output;
  auto near = runCommand(mig() + " --colr never lint examples/demo.mig 2>&1");
  EXPECT_NE(near.output.find("did you mean '--color'?"), std::string::npos) << near.output;
}

TEST(CliEdges, MisspeltOptionOfACommandSuggestsTheRightOne) {
  auto result = runCommand(mig() + " lint --frmat json examples/demo.mig 2>&1");
  EXPECT_EQ(result.exitCode, 2);
  EXPECT_NE(result.output.find("lint: unknown option '--frmat'; did you mean '--format'?"),
            std::string::npos)
      << result.output;
}

TEST(CliEdges, MissingFileArgumentNamesTheCommand) {
  auto result = runCommand(mig() + " compile 2>&1");
  EXPECT_EQ(result.exitCode, 2);
  EXPECT_NE(result.output.find("compile: "), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("`mig help compile`"), std::string::npos) << result.output;
}

TEST(CliEdges, EveryCommandThatReadsAPlanAcceptsStdin) {
  std::string plan = "examples/demo.mig";
  auto fromFile = runCommand(mig() + " graph --format dot " + plan);
  auto fromStdin = runCommand(mig() + " graph --format dot - < " + plan);
  ASSERT_EQ(fromStdin.exitCode, 0) << fromStdin.output;
  EXPECT_EQ(fromStdin.output, fromFile.output);

  auto compiled = runCommand(mig() + " compile - < " + plan);
  ASSERT_EQ(compiled.exitCode, 0);
  EXPECT_NE(compiled.output.find("\"plan\": \"demo_shop\""), std::string::npos);

  auto shown = runCommand(mig() + " plan --now 2026-12-01T10:00Z - < " + plan);
  EXPECT_EQ(shown.exitCode, 0) << shown.output;
  EXPECT_NE(shown.output.find("demo_shop"), std::string::npos) << shown.output;

  fs::path dir = scratch("stdin-run");
  auto dry = runCommand("cd '" + dir.string() + "' && " + mig() + " run --dry-run - < '" +
                        (testing::sourceDir() / plan).string() + "'");
  EXPECT_EQ(dry.exitCode, 0) << dry.output;
  EXPECT_NE(dry.output.find("--dry-run: nothing was run"), std::string::npos) << dry.output;

  // A compiled plan comes through stdin too.
  auto again = runCommand(mig() + " compile " + plan + " | " + mig() + " graph --format dot -");
  EXPECT_EQ(again.output, fromFile.output);
}

// Colour follows --color, then NO_COLOR (only when not empty) and TERM=dumb;
// `script` gives mig a terminal.
TEST(CliEdges, ColourFollowsTheOptionAndTheEnvironment) {
  std::string lint = mig() + " lint tests/lint/retention-missing/bad.mig";
  auto inTerminal = [&](const std::string& env, const std::string& options = "") {
    return runCommand("env " + env + " script -qec \"" + mig() + options +
                      " lint tests/lint/retention-missing/bad.mig\" /dev/null")
        .output;
  };
  const std::string escape = "\033[";
  EXPECT_NE(inTerminal("TERM=xterm").find(escape), std::string::npos);
  EXPECT_NE(inTerminal("TERM=xterm NO_COLOR=").find(escape), std::string::npos)
      << "an empty NO_COLOR does not turn colour off";
  EXPECT_EQ(inTerminal("TERM=xterm NO_COLOR=1").find(escape), std::string::npos);
  EXPECT_EQ(inTerminal("TERM=dumb").find(escape), std::string::npos);
  EXPECT_EQ(inTerminal("TERM=xterm", " --color never").find(escape), std::string::npos);
  EXPECT_NE(inTerminal("TERM=dumb NO_COLOR=1", " --color always").find(escape), std::string::npos);

  EXPECT_EQ(runCommand(lint).output.find(escape), std::string::npos) << "a pipe gets no colour";
  EXPECT_NE(runCommand(mig() + " --color always lint tests/lint/retention-missing/bad.mig")
                .output.find(escape),
            std::string::npos);
  EXPECT_NE(runCommand(mig() + " lint --color always tests/lint/retention-missing/bad.mig")
                .output.find(escape),
            std::string::npos)
      << "the option may follow the command";
  EXPECT_EQ(runCommand(mig() + " --color sometimes lint examples/demo.mig 2>/dev/null").exitCode,
            2);
}

TEST(CliEdges, ExplainSuggestsTheRuleMeant) {
  auto result = runCommand(mig() + " explain acl-to-open 2>&1");
  EXPECT_EQ(result.exitCode, 2);
  EXPECT_NE(result.output.find("did you mean 'acl-too-open'?"), std::string::npos) << result.output;
}

TEST(CliEdges, ExplainKindListsFieldsWithTypesDefaultsAndMeaning) {
  auto result = runCommand(mig() + " explain kind mysql");
  ASSERT_EQ(result.exitCode, 0) << result.output;
  EXPECT_NE(result.output.find("kind mysql (import \"std/mysql\")"), std::string::npos);
  EXPECT_TRUE(std::regex_search(result.output, std::regex(R"(\n  port +int = 3306\n)")))
      << result.output;
  EXPECT_TRUE(std::regex_search(result.output, std::regex(R"(\n  users +\[string\] = \[\]\n)")))
      << result.output;
  EXPECT_NE(result.output.find("The user names the application connects as."), std::string::npos);
  EXPECT_NE(result.output.find("option_file"), std::string::npos);
  EXPECT_NE(result.output.find("mysql.copy(from: mysql, to: mysql, accounts: one_of(create, skip) "
                               "= create)"),
            std::string::npos)
      << result.output;

  // Every kind of the stdlib, and every field of each, has a meaning.
  auto kinds = runCommand(mig() + " explain kinds");
  for (const char* kind : {"postgres", "redis", "mysql", "mongodb", "elasticsearch", "pgbouncer"}) {
    EXPECT_NE(kinds.output.find(std::string(kind) + " "), std::string::npos) << kind;
    auto explained = runCommand(mig() + " explain kind " + kind);
    EXPECT_EQ(explained.exitCode, 0) << kind;
    size_t begin = explained.output.find("Fields\n");
    size_t end = explained.output.find("  (every endpoint");
    ASSERT_LT(begin, end) << explained.output;
    // A field line is followed by its meaning, indented further.
    std::string fields = explained.output.substr(begin + 6, end - begin - 6);
    EXPECT_FALSE(std::regex_search(fields, std::regex(R"(\n  [a-z_]+ +[^\n]+\n  [a-z_])")))
        << kind << ": a field without a meaning\n"
        << explained.output;
  }
  auto misspelt = runCommand(mig() + " explain kind mysq 2>&1");
  EXPECT_EQ(misspelt.exitCode, 2);
  EXPECT_NE(misspelt.output.find("did you mean 'mysql'?"), std::string::npos);
}

TEST(CliEdges, ExplainActionShowsItsSignatureAndDoc) {
  auto result = runCommand(mig() + " explain action redis.copy");
  ASSERT_EQ(result.exitCode, 0) << result.output;
  EXPECT_EQ(result.output.rfind("redis.copy(from: redis, to: redis", 0), 0u) << result.output;
  EXPECT_NE(result.output.find("Effect\n  write"), std::string::npos) << result.output;
  auto misspelt = runCommand(mig() + " explain action redis.cpy 2>&1");
  EXPECT_EQ(misspelt.exitCode, 2);
  EXPECT_NE(misspelt.output.find("did you mean 'redis.copy'?"), std::string::npos);
}

// docs/kinds.md is generated from the stdlib; CI fails when it is stale
// (regenerate: `build/cli/mig explain kinds --markdown > docs/kinds.md`).
TEST(CliEdges, KindsReferenceInTheDocsIsCurrent) {
  auto generated = runCommand(mig() + " explain kinds --markdown");
  ASSERT_EQ(generated.exitCode, 0);
  EXPECT_EQ(testing::readFile(testing::sourceDir() / "docs/kinds.md"), generated.output)
      << "docs/kinds.md is stale: run `build/cli/mig explain kinds --markdown > docs/kinds.md`";
}

std::string bashComplete(const std::string& words) {
  fs::path dir = scratch("bash-completion");
  runCommand(mig() + " completion bash -o '" + (dir / "mig").string() + "'");
  // COMP_WORDS as bash would split the line; the last word is being completed.
  testing::writeFile(dir / "complete.sh", "PATH='" + fs::path(MIG_BINARY).parent_path().string() +
                                              "':$PATH\n"
                                              "source '" +
                                              (dir / "mig").string() +
                                              "'\n"
                                              "COMP_WORDS=(" +
                                              words +
                                              ")\n"
                                              "COMP_CWORD=$((${#COMP_WORDS[@]} - 1))\n"
                                              "_mig\n"
                                              "echo \"${COMPREPLY[*]}\"\n");
  return runCommand("bash '" + (dir / "complete.sh").string() + "'").output;
}

TEST(CliEdges, BashCompletionCompletesCommandsOptionsAndValues) {
  EXPECT_EQ(bashComplete("mig li"), "lint\n");
  EXPECT_EQ(bashComplete("mig re"), "resume\n");
  EXPECT_EQ(bashComplete("mig lint --fo"), "--format\n");
  EXPECT_EQ(bashComplete("mig lint --format s"), "sarif\n");
  EXPECT_EQ(bashComplete("mig --color n"), "never\n");
  EXPECT_EQ(bashComplete("mig explain acl-too-o"), "acl-too-open\n");
  EXPECT_EQ(bashComplete("mig completion z"), "zsh\n");
}

TEST(CliEdges, ZshCompletionIsValidAndNamesEveryCommand) {
  auto script = runCommand(mig() + " completion zsh");
  ASSERT_EQ(script.exitCode, 0);
  EXPECT_EQ(script.output.rfind("#compdef mig\n", 0), 0u);
  for (const std::string& command : kCommands) {
    EXPECT_NE(script.output.find("'" + command + ":"), std::string::npos) << command;
  }
  EXPECT_NE(script.output.find("--format[Output format]:value:(text json sarif github)"),
            std::string::npos);
  if (runCommand("command -v zsh").exitCode == 0) {
    fs::path dir = scratch("zsh-completion");
    testing::writeFile(dir / "_mig", script.output);
    auto checked = runCommand("zsh -n '" + (dir / "_mig").string() + "' 2>&1");
    EXPECT_EQ(checked.exitCode, 0) << checked.output;
  }
}

TEST(CliEdges, ManPagesCoverEveryCommandAndRender) {
  fs::path dir = scratch("man");
  auto written = runCommand(mig() + " man '" + dir.string() + "' 2>&1");
  ASSERT_EQ(written.exitCode, 0) << written.output;
  EXPECT_TRUE(fs::exists(dir / "mig.1"));
  for (const std::string& command : kCommands) {
    fs::path page = dir / ("mig-" + command + ".1");
    ASSERT_TRUE(fs::exists(page)) << page;
    std::string text = testing::readFile(page);
    EXPECT_NE(text.find(".SH EXIT STATUS"), std::string::npos) << command;
  }
  std::string lint = testing::readFile(dir / "mig-lint.1");
  EXPECT_NE(lint.find("\\fB\\-\\-format\\fR \\fItext|json|sarif|github\\fR"), std::string::npos)
      << lint;
  if (runCommand("command -v man").exitCode == 0) {
    auto rendered =
        runCommand("MANWIDTH=80 man -l '" + (dir / "mig-lint.1").string() + "' 2>&1 | col -b");
    EXPECT_EQ(rendered.exitCode, 0) << rendered.output;
    EXPECT_NE(rendered.output.find("mig-lint - Parse and check plans; report problems"),
              std::string::npos)
        << rendered.output;
    EXPECT_NE(rendered.output.find("--werror"), std::string::npos) << rendered.output;
  }
}

}  // namespace
}  // namespace mig
