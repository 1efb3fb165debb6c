#include "runtime/process_runner.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "runtime/descendants.h"
#include "runtime/step_log.h"

namespace mig::runtime {
namespace {

using namespace std::chrono_literals;
using Outcome = ProcessResult::Outcome;

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void writeFile(const std::string& path, const std::string& text, mode_t mode = 0644) {
  std::ofstream(path, std::ios::binary) << text;
  ::chmod(path.c_str(), mode);
}

/// The numbers that follow "pid " in `text`.
std::vector<pid_t> pidsIn(const std::string& text) {
  std::vector<pid_t> pids;
  std::istringstream words(text);
  std::string word;
  while (words >> word) {
    pid_t pid = 0;
    if (word == "pid" && words >> pid) pids.push_back(pid);
  }
  return pids;
}

/// True when `pid` names no process, or only a zombie: it has exited and waits for init, its new
/// parent, to reap it (some containers' init reaps orphans only every few seconds).
bool isGone(pid_t pid) {
  if (::kill(pid, 0) == -1 && errno == ESRCH) return true;
  std::string stat = readFile("/proc/" + std::to_string(pid) + "/stat");
  size_t commandEnd = stat.rfind(')');
  return commandEnd != std::string::npos && commandEnd + 2 < stat.size() &&
         stat[commandEnd + 2] == 'Z';
}

/// True once none of `pids` runs, giving the kernel a moment.
bool allGone(const std::vector<pid_t>& pids) {
  for (int attempt = 0; attempt < 300; ++attempt) {
    if (std::all_of(pids.begin(), pids.end(), isGone)) return true;
    std::this_thread::sleep_for(10ms);
  }
  return false;
}

Milliseconds elapsed(const ProcessResult& result) {
  return result.finished - result.started;
}

class ProcessRunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "process-runner-XXXXXX");
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = std::filesystem::canonical(pattern).string();
  }

  void TearDown() override {
    // Every child, running or zombie, has been reaped.
    errno = 0;
    EXPECT_EQ(::waitpid(-1, nullptr, WNOHANG), -1);
    EXPECT_EQ(errno, ECHILD);
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  ProcessRequest request(uint64_t token, std::string script) {
    ProcessRequest request;
    request.token = token;
    request.script = std::move(script);
    request.workdir = dir_;
    request.logPath = dir_ + "/logs/" + std::to_string(token) + ".log";
    return request;
  }

  /// Waits until `token` finishes, keeping any other result in `others_`; gives up (failing the
  /// test) after 30 s, leaving the process to the runner's destructor.
  ProcessResult waitFor(ProcessRunner& runner, uint64_t token) {
    Instant giveUp = clock_.now() + 30s;
    while (clock_.now() < giveUp && runner.running() > 0) {
      for (ProcessResult& result : runner.wait(giveUp)) {
        if (result.token == token) return result;
        others_.push_back(std::move(result));
      }
    }
    ADD_FAILURE() << "process " << token << " did not finish";
    ProcessResult missing;
    missing.outcome = Outcome::SpawnFailed;
    missing.exitCode = -1;
    return missing;
  }

  /// Waits until `count` processes have finished (giving up after 30 s), by token.
  std::map<uint64_t, ProcessResult> waitForAll(ProcessRunner& runner, size_t count) {
    std::map<uint64_t, ProcessResult> results;
    Instant giveUp = clock_.now() + 30s;
    while (results.size() < count && clock_.now() < giveUp && runner.running() > 0) {
      for (ProcessResult& result : runner.wait(giveUp)) results[result.token] = result;
    }
    EXPECT_EQ(results.size(), count);
    return results;
  }

  ProcessResult run(ProcessRunner& runner, ProcessRequest request) {
    uint64_t token = request.token;
    runner.start(std::move(request));
    return waitFor(runner, token);
  }

  ProcessResult run(ProcessRequest request) {
    ProcessRunner runner(clock_);
    return run(runner, std::move(request));
  }

  /// Lets the runner read output until the log of `request` holds `text` (false after 10 s, or
  /// when nothing runs any more).
  bool waitForLog(ProcessRunner& runner, const ProcessRequest& request, const std::string& text) {
    Instant giveUp = clock_.now() + 10s;
    while (clock_.now() < giveUp) {
      if (readFile(request.logPath).find(text) != std::string::npos) return true;
      if (runner.running() == 0) return false;
      for (ProcessResult& result : runner.wait(clock_.now() + 20ms)) {
        others_.push_back(std::move(result));
      }
    }
    return false;
  }

  SystemClock clock_;
  std::string dir_;
  std::vector<ProcessResult> others_;
};

// ------------------------------------------------------------------ exit codes and bash

TEST_F(ProcessRunnerTest, ReportsExitCodes) {
  ProcessRunner runner(clock_);
  for (int code : {0, 1, 42}) {
    ProcessResult result = run(runner, request(code + 1, "exit " + std::to_string(code)));
    EXPECT_EQ(result.token, static_cast<uint64_t>(code + 1));
    EXPECT_EQ(result.outcome, Outcome::Exited);
    EXPECT_EQ(result.exitCode, code);
    EXPECT_EQ(result.succeeded(), code == 0);
    EXPECT_LE(result.started, result.finished);
  }
  EXPECT_EQ(runner.running(), 0u);
}

TEST_F(ProcessRunnerTest, AFailureCanSayItChangedNothingThroughItsMarkerFile) {
  ProcessRunner runner(clock_);
  std::string marker = dir_ + "/step.unchanged";
  auto marked = [&](uint64_t token, const std::string& script) {
    ProcessRequest r = request(token, script);
    r.nothingChangedMarker = marker;
    return r;
  };
  // One command, which bash execs: it is the step's own process.
  const std::string says = "sh -c 'echo $$ > \"$MIG_NOTHING_CHANGED\"; exit 1'";
  ProcessResult failed = run(runner, marked(1, says));
  EXPECT_EQ(failed.exitCode, 1);
  EXPECT_TRUE(failed.nothingChanged);
  EXPECT_FALSE(std::filesystem::exists(marker));

  // A success changed what it did; a failure without the file may have.
  EXPECT_FALSE(run(runner, marked(2, "sh -c 'echo $$ > \"$MIG_NOTHING_CHANGED\"'")).nothingChanged);
  EXPECT_FALSE(std::filesystem::exists(marker));
  EXPECT_FALSE(run(runner, marked(3, "exit 1")).nothingChanged);
  // A child of the step's process cannot speak for the step.
  EXPECT_FALSE(run(runner, marked(4, "sh -c 'sh -c \"echo \\$\\$ > \\\"$MIG_NOTHING_CHANGED\\\"\"; exit 1'"))
                   .nothingChanged);
  // A file left by a killed runner does not count for the next process.
  writeFile(marker, "1");
  EXPECT_FALSE(run(runner, marked(5, "exit 1")).nothingChanged);
  // Without a marker, the variable is not set.
  ProcessResult unmarked = run(runner, request(6, "test -z \"${MIG_NOTHING_CHANGED:-}\""));
  EXPECT_EQ(unmarked.exitCode, 0);
}

TEST(SingleCommand, IsOneCommandOutsideQuotes) {
  EXPECT_TRUE(isSingleCommand("\"$MIG\" driver postgres-copy --from a --to 'b c'"));
  EXPECT_TRUE(isSingleCommand("psql --command='SELECT 1; SELECT 2' x > out.txt\n"));
  EXPECT_FALSE(isSingleCommand("psql -f migrate.sql && \"$MIG\" driver postgres-copy"));
  EXPECT_FALSE(isSingleCommand("touch done\n\"$MIG\" driver postgres-wipe"));
  EXPECT_FALSE(isSingleCommand("a; b"));
  EXPECT_FALSE(isSingleCommand("a | b"));
  EXPECT_FALSE(isSingleCommand("a & b"));
  EXPECT_FALSE(isSingleCommand("echo $(touch x)"));
  EXPECT_FALSE(isSingleCommand("echo \"`touch x`\""));
  EXPECT_FALSE(isSingleCommand("(a)"));
  EXPECT_FALSE(isSingleCommand("a \\\nb"));
  EXPECT_FALSE(isSingleCommand("echo 'unterminated"));
  EXPECT_FALSE(isSingleCommand("   "));
}

TEST_F(ProcessRunnerTest, PipelineFailsWhenAnyCommandInItFails) {
  EXPECT_EQ(run(request(1, "false | true")).exitCode, 1);
  EXPECT_EQ(run(request(2, "true | true")).exitCode, 0);
}

TEST_F(ProcessRunnerTest, MultiLineScriptStopsAtTheFirstFailure) {
  ProcessRequest script = request(1, "echo before\nfalse\necho after\n");
  ProcessResult result = run(script);
  EXPECT_EQ(result.exitCode, 1);
  EXPECT_EQ(readFile(script.logPath), "before\n");
}

TEST_F(ProcessRunnerTest, RunsCommandSubstitution) {
  ProcessRequest script = request(1, R"sh(echo "got $(echo inner | tr a-z A-Z)")sh");
  EXPECT_TRUE(run(script).succeeded());
  EXPECT_EQ(readFile(script.logPath), "got INNER\n");
}

TEST_F(ProcessRunnerTest, LogInterleavesStdoutAndStderr) {
  ProcessRequest script = request(1, "echo out; echo err >&2; echo out again");
  EXPECT_TRUE(run(script).succeeded());
  EXPECT_EQ(readFile(script.logPath), "out\nerr\nout again\n");
}

// ------------------------------------------------------------------ the fast path

TEST_F(ProcessRunnerTest, IsSimpleCommandAcceptsPlainWords) {
  for (const char* script : {"true", "sleep 1", "echo a=b", "printf ok",
                             "pg_dump -Fc -f out.dump db", "./tool --flag=x,y:z@h%1+2", "true\n"}) {
    EXPECT_TRUE(isSimpleCommand(script)) << script;
  }
}

TEST_F(ProcessRunnerTest, IsSimpleCommandRejectsShellSyntaxAndBuiltins) {
  for (const char* script : {"",
                             "a=b cmd",
                             "echo $HOME",
                             "cd /tmp",
                             "x | y",
                             "echo 'q'",
                             "true\ntrue",
                             "echo  two",
                             " true",
                             "true ",
                             "echo a;b",
                             "ls *.txt",
                             "ls ~",
                             "export A=1",
                             "pwd",
                             "kill 1",
                             "if",
                             "%1",
                             "printf %s x",
                             "printf -v x y",
                             "echo --help",
                             "true --version",
                             "source x",
                             ". x",
                             "exec true",
                             "exit 3",
                             "time true",
                             "echo a>b",
                             "echo \"q\"",
                             "echo a\\b"}) {
    EXPECT_FALSE(isSimpleCommand(script)) << script;
  }
}

TEST_F(ProcessRunnerTest, FastPathRunsTrueAndPrintf) {
  EXPECT_TRUE(run(request(1, "true")).succeeded());
  ProcessResult failed = run(request(2, "false"));
  EXPECT_EQ(failed.outcome, Outcome::Exited);
  EXPECT_EQ(failed.exitCode, 1);
  ProcessRequest printOk = request(3, "printf ok");
  EXPECT_TRUE(run(printOk).succeeded());
  EXPECT_EQ(readFile(printOk.logPath), "ok");
}

TEST_F(ProcessRunnerTest, MissingProgramExits127AndIsNamedInTheLog) {
  for (const char* script : {"nosuch-mig-program --flag", "nosuch-mig-program | cat"}) {
    ProcessRequest missing = request(1, script);
    ProcessResult result = run(missing);
    EXPECT_EQ(result.outcome, Outcome::Exited) << script;
    EXPECT_EQ(result.exitCode, 127) << script;
    EXPECT_NE(readFile(missing.logPath).find("nosuch-mig-program"), std::string::npos) << script;
    EXPECT_NE(result.detail.find("nosuch-mig-program: command not found"), std::string::npos)
        << result.detail;
  }
}

TEST_F(ProcessRunnerTest, FastPathFindsProgramsOnTheChildsPath) {
  std::filesystem::create_directory(dir_ + "/bin");
  writeFile(dir_ + "/bin/mig-test-tool", "#!/bin/sh\necho \"tool $0 $*\"\n", 0755);
  ProcessRequest tool = request(1, "mig-test-tool a b");
  tool.env = {{"PATH", dir_ + "/bin:/usr/bin:/bin"}};
  EXPECT_TRUE(run(tool).succeeded());
  EXPECT_EQ(readFile(tool.logPath), "tool " + dir_ + "/bin/mig-test-tool a b\n");
}

TEST_F(ProcessRunnerTest, FastPathLetsBashRunAScriptWithoutShebang) {
  writeFile(dir_ + "/plain-script", "echo from the script; exit 3\n", 0755);
  ProcessRequest script = request(1, "./plain-script");
  ProcessResult result = run(script);
  EXPECT_EQ(result.exitCode, 3);
  EXPECT_EQ(readFile(script.logPath), "from the script\n");
}

TEST_F(ProcessRunnerTest, FastPathPassesTheEnvironmentBashWould) {
  std::filesystem::create_directory(dir_ + "/real");
  std::filesystem::create_directory_symlink(dir_ + "/real", dir_ + "/link");
  auto output = [&](uint64_t token, const std::string& script, const std::string& pwd) {
    ProcessRequest print = request(token, script);
    print.workdir = dir_ + "/link";
    print.env = {{"PWD", pwd}, {"SHLVL", " 7"}, {"OLDPWD", "/no/such/dir"}};
    ProcessResult result = run(print);
    return std::to_string(result.exitCode) + ":" + readFile(print.logPath);
  };
  // The second script is no simple command, so bash runs it and execs printenv at the end.
  for (const std::string& pwd : {std::string("/elsewhere"), dir_ + "/link"}) {
    std::string direct = output(1, "printenv PWD SHLVL OLDPWD", pwd);
    std::string throughBash = output(2, "true; printenv PWD SHLVL OLDPWD", pwd);
    EXPECT_EQ(direct, throughBash);
  }
  EXPECT_EQ(output(3, "printenv PWD", "/elsewhere"), "0:" + dir_ + "/real\n");
  EXPECT_EQ(output(4, "printenv PWD", dir_ + "/link"), "0:" + dir_ + "/link\n");
}

// ------------------------------------------------------------------ environment and workdir

TEST_F(ProcessRunnerTest, AddsAndOverridesEnvironmentVariables) {
  ::setenv("MIG_TEST_OVERRIDDEN", "inherited", 1);
  ::setenv("MIG_TEST_KEPT", "kept", 1);
  ProcessRequest bash =
      request(1, R"sh(echo "$MIG_TEST_ADDED $MIG_TEST_OVERRIDDEN $MIG_TEST_KEPT")sh");
  bash.env = {{"MIG_TEST_ADDED", "added"}, {"MIG_TEST_OVERRIDDEN", "overridden"}};
  ProcessRequest direct = request(2, "printenv MIG_TEST_ADDED MIG_TEST_OVERRIDDEN MIG_TEST_KEPT");
  direct.env = bash.env;
  EXPECT_TRUE(run(bash).succeeded());
  EXPECT_TRUE(run(direct).succeeded());
  ::unsetenv("MIG_TEST_OVERRIDDEN");
  ::unsetenv("MIG_TEST_KEPT");
  EXPECT_EQ(readFile(bash.logPath), "added overridden kept\n");
  EXPECT_EQ(readFile(direct.logPath), "added\noverridden\nkept\n");
}

TEST_F(ProcessRunnerTest, UnsetEnvRemovesAnInheritedVariable) {
  ::setenv("MIG_TEST_SECRET_SOURCE", "s3cret", 1);
  ProcessRequest bash = request(1, R"sh(echo "[${MIG_TEST_SECRET_SOURCE-unset}]")sh");
  bash.unsetEnv = {"MIG_TEST_SECRET_SOURCE"};
  ProcessRequest direct = request(2, "printenv MIG_TEST_SECRET_SOURCE");
  direct.unsetEnv = bash.unsetEnv;
  EXPECT_TRUE(run(bash).succeeded());
  ProcessResult printed = run(direct);
  ::unsetenv("MIG_TEST_SECRET_SOURCE");
  EXPECT_EQ(readFile(bash.logPath), "[unset]\n");
  EXPECT_EQ(printed.exitCode, 1);  // printenv: no such variable
  EXPECT_EQ(readFile(direct.logPath), "");
}

TEST_F(ProcessRunnerTest, RunsInTheWorkdir) {
  std::filesystem::create_directory(dir_ + "/work");
  writeFile(dir_ + "/work/marker-file", "");
  ProcessRequest bash = request(1, "pwd");
  bash.workdir = dir_ + "/work";
  ProcessRequest direct = request(2, "ls");
  direct.workdir = dir_ + "/work";
  EXPECT_TRUE(run(bash).succeeded());
  EXPECT_TRUE(run(direct).succeeded());
  EXPECT_EQ(readFile(bash.logPath), dir_ + "/work\n");
  EXPECT_EQ(readFile(direct.logPath), "marker-file\n");
}

TEST_F(ProcessRunnerTest, SpawnFailsForAMissingWorkdir) {
  ProcessRunner runner(clock_);
  for (const char* script : {"true", "echo $HOME"}) {
    ProcessRequest nowhere = request(1, script);
    nowhere.workdir = "/nonexistent-mig-dir";
    runner.start(nowhere);
    EXPECT_EQ(runner.running(), 1u);
    std::vector<ProcessResult> results = runner.wait(std::nullopt);
    ASSERT_EQ(results.size(), 1u);
    EXPECT_EQ(results[0].outcome, Outcome::SpawnFailed);
    EXPECT_EQ(results[0].detail, "cannot start: no such directory '/nonexistent-mig-dir'");
    EXPECT_EQ(runner.running(), 0u);
  }
}

TEST_F(ProcessRunnerTest, DeadlineThatHasPassedKeepsTheProcessFromStarting) {
  ProcessRequest late = request(1, "touch ran");
  late.deadline = clock_.now() - 1s;
  ProcessResult result = run(late);
  EXPECT_EQ(result.outcome, Outcome::TimedOut);
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/ran"));
}

TEST_F(ProcessRunnerTest, ChildInheritsOnlyStdinStdoutAndStderr) {
  int inheritable = ::open("/dev/null", O_RDONLY);  // no O_CLOEXEC
  ASSERT_GE(inheritable, 0);
  ProcessRequest list = request(1, "ls /proc/$$/fd; true");  // bash lists its own descriptors
  EXPECT_TRUE(run(list).succeeded());
  ::close(inheritable);
  EXPECT_EQ(readFile(list.logPath), "0\n1\n2\n");
}

TEST_F(ProcessRunnerTest, ChildStartsWithDefaultSignalHandling) {
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  struct sigaction previousPipe {};
  ::sigaction(SIGPIPE, &ignore, &previousPipe);
  sigset_t usr1;
  sigemptyset(&usr1);
  sigaddset(&usr1, SIGUSR1);
  sigset_t previousMask;
  ::pthread_sigmask(SIG_BLOCK, &usr1, &previousMask);

  // Exec'd directly, and run by bash.
  ProcessRequest direct = request(1, "grep -e SigBlk -e SigIgn /proc/self/status");
  ProcessRequest bash = request(2, "grep -e SigBlk -e SigIgn /proc/self/status; true");
  ProcessResult directResult = run(direct);
  ProcessResult bashResult = run(bash);
  sigset_t maskAfter;
  ::pthread_sigmask(SIG_SETMASK, &previousMask, &maskAfter);
  ::sigaction(SIGPIPE, &previousPipe, nullptr);

  EXPECT_TRUE(sigismember(&maskAfter, SIGUSR1));  // the runner's own mask is as it was
  EXPECT_FALSE(sigismember(&maskAfter, SIGTERM));
  for (const ProcessRequest& status : {direct, bash}) {
    std::istringstream lines(readFile(status.logPath));
    std::map<std::string, uint64_t> masks;
    std::string name;
    std::string hex;
    while (lines >> name >> hex) masks[name] = std::stoull(hex, nullptr, 16);
    ASSERT_EQ(masks.size(), 2u) << status.script;
    EXPECT_EQ(masks["SigBlk:"], 0u) << status.script;
    EXPECT_EQ(masks["SigIgn:"] & (1u << (SIGPIPE - 1)), 0u) << status.script;
  }
  EXPECT_TRUE(directResult.succeeded());
  EXPECT_TRUE(bashResult.succeeded());
}

// ------------------------------------------------------------------ the log

TEST_F(ProcessRunnerTest, LogIsCreatedAtTheFirstOutputWithMode0600AndTruncated) {
  ProcessRequest script = request(1, "echo fresh");
  std::filesystem::create_directories(dir_ + "/logs");
  writeFile(script.logPath, "old content that is longer\n", 0644);
  EXPECT_TRUE(run(script).succeeded());
  EXPECT_EQ(readFile(script.logPath), "fresh\n");
  struct stat info;
  ASSERT_EQ(::stat(script.logPath.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);

  ProcessRequest silent = request(2, "true");
  silent.logPath = dir_ + "/a/b/c/silent.log";
  EXPECT_TRUE(run(silent).succeeded());
  EXPECT_TRUE(std::filesystem::is_directory(dir_ + "/a/b/c"));
  EXPECT_FALSE(std::filesystem::exists(silent.logPath)) << "a process without output made a log";

  ProcessRequest nested = request(3, "echo nested");
  nested.logPath = dir_ + "/a/b/c/step.log";
  EXPECT_TRUE(run(nested).succeeded());
  ASSERT_EQ(::stat(nested.logPath.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
}

TEST_F(ProcessRunnerTest, RedactsASecretPrintedWhole) {
  ProcessRequest script =
      request(1, "echo user=admin password=hunter2; echo hunter2hunter2; exit 4");
  script.redact = {"hunter2", ""};
  ProcessResult result = run(script);
  EXPECT_EQ(readFile(script.logPath), "user=admin password=***\n******\n");
  EXPECT_EQ(result.detail, "user=admin password=***\n******");
}

TEST_F(ProcessRunnerTest, RedactsASecretSplitAcrossReads) {
  ProcessRequest script = request(1, "printf 'sec'; sleep 0.2; printf 'ret'; printf ' tail\\n'");
  script.redact = {"secret"};
  EXPECT_TRUE(run(script).succeeded());
  EXPECT_EQ(readFile(script.logPath), "*** tail\n");
}

TEST_F(ProcessRunnerTest, RedactsTwoDifferentSecrets) {
  ProcessRequest script =
      request(1, "echo alpha-key then beta-token; printf 'no newline alpha-'; printf key");
  script.redact = {"alpha-key", "beta-token", "alpha"};
  EXPECT_TRUE(run(script).succeeded());
  EXPECT_EQ(readFile(script.logPath), "*** then ***\nno newline ***");
}

TEST_F(ProcessRunnerTest, DetailHoldsTheLastTwentyLinesOfAFailure) {
  ProcessResult failed = run(request(1, "seq 1 30; exit 3"));
  std::string expected;
  for (int line = 11; line <= 30; ++line)
    expected += std::to_string(line) + (line < 30 ? "\n" : "");
  EXPECT_EQ(failed.detail, expected);
  EXPECT_EQ(run(request(2, "seq 1 30")).detail, "");
}

/// What `seq 1 N` prints.
std::string seqOutput(int last) {
  std::string text;
  for (int i = 1; i <= last; ++i) text += std::to_string(i) + "\n";
  return text;
}

TEST_F(ProcessRunnerTest, LogOfOutputBeyondTheLimitKeepsItsHeadAndItsTail) {
  ProcessRunner runner(clock_);
  runner.setLogLimit(1024 * 1024);
  ProcessRequest chatty = request(1, "seq 1 700000");
  ProcessResult result = run(runner, chatty);
  EXPECT_TRUE(result.succeeded()) << result.detail;
  std::string output = seqOutput(700000);
  ASSERT_EQ(output.size(), 4'788'895u);
  // The first 512 KiB end inside a line: the marker starts a line of its own.
  std::string expected = output.substr(0, 512 * 1024) +
                         "\n[mig: 3,740,319 bytes of output left out here: the log keeps the first "
                         "512 KiB and the last 512 KiB]\n" +
                         output.substr(output.size() - 512 * 1024);
  EXPECT_TRUE(readFile(chatty.logPath) == expected) << "the log differs";
  EXPECT_EQ(result.logOmittedBytes, 3'740'319u);
  EXPECT_EQ(result.logError, "");
}

TEST_F(ProcessRunnerTest, LogOfOutputWithinTheLimitIsWhole) {
  ProcessRunner runner(clock_);
  runner.setLogLimit(1024 * 1024);
  ProcessRequest script = request(1, "seq 1 100000");
  ProcessResult result = run(runner, script);
  EXPECT_TRUE(result.succeeded()) << result.detail;
  EXPECT_TRUE(readFile(script.logPath) == seqOutput(100000)) << "the log differs";
  EXPECT_EQ(result.logOmittedBytes, 0u);
  EXPECT_EQ(result.logError, "");

  runner.setLogLimit(0);  // no limit
  ProcessRequest chatty = request(2, "seq 1 700000");
  result = run(runner, chatty);
  EXPECT_TRUE(readFile(chatty.logPath) == seqOutput(700000)) << "the log differs";
  EXPECT_EQ(result.logOmittedBytes, 0u);
}

TEST_F(ProcessRunnerTest, LogWriteFailureIsReportedAndTheStepKeepsItsOwnResult) {
  struct stat before;
  ASSERT_EQ(::stat("/dev/full", &before), 0);  // writes to it fail with ENOSPC
  ProcessRunner runner(clock_);
  ProcessRequest failing = request(1, "echo said something; exit 3");
  failing.logPath = "/dev/full";
  ProcessResult failed = run(runner, failing);
  EXPECT_EQ(failed.outcome, Outcome::Exited);
  EXPECT_EQ(failed.exitCode, 3);
  EXPECT_EQ(failed.logError, "cannot write '/dev/full': No space left on device");
  EXPECT_EQ(failed.detail,
            "said something\nthe log is incomplete: cannot write '/dev/full': No space left on "
            "device");

  // Through a symbolic link, with output long enough to pass the log's limit.
  runner.setLogLimit(1024);
  std::filesystem::create_directories(dir_ + "/logs");
  std::filesystem::create_symlink("/dev/full", dir_ + "/logs/full.log");
  ProcessRequest chatty = request(2, "seq 1 100000");
  chatty.logPath = dir_ + "/logs/full.log";
  ProcessResult succeeded = run(runner, chatty);
  EXPECT_TRUE(succeeded.succeeded());
  EXPECT_EQ(succeeded.logError, "cannot write '" + chatty.logPath + "': No space left on device");
  EXPECT_EQ(succeeded.logOmittedBytes, 0u);

  // A process that does not start says why in its log, when it can.
  ProcessRequest nowhere = request(3, "true");
  nowhere.logPath = "/dev/full";
  nowhere.workdir = "/nonexistent-mig-dir";
  ProcessResult notStarted = run(runner, nowhere);
  EXPECT_EQ(notStarted.outcome, Outcome::SpawnFailed);
  EXPECT_EQ(notStarted.logError, "cannot write '/dev/full': No space left on device");

  struct stat after;
  ASSERT_EQ(::stat("/dev/full", &after), 0);
  EXPECT_EQ(after.st_mode, before.st_mode) << "the runner changed the mode of /dev/full";
}

/// A StepLog fed `pieces`, finished; returns what its file holds.
std::string logOf(const std::string& path, uint64_t limit, const std::vector<std::string>& pieces,
                  uint64_t* omitted = nullptr) {
  StepLog log(path, limit);
  for (const std::string& piece : pieces) log.append(piece);
  log.finish();
  EXPECT_EQ(log.error(), "");
  if (omitted != nullptr) *omitted = log.omittedBytes();
  return readFile(path);
}

TEST_F(ProcessRunnerTest, StepLogCutsTheMiddleOfWhatPassesItsLimit) {
  std::string path = dir_ + "/step.log";
  uint64_t omitted = 99;
  EXPECT_EQ(logOf(path, 10, {"0123456789"}, &omitted), "0123456789");
  EXPECT_EQ(omitted, 0u);
  EXPECT_EQ(logOf(path, 10, {"01234", "56789", "a"}, &omitted),
            "01234\n[mig: 1 bytes of output left out here: the log keeps the first 5 bytes and the "
            "last 5 bytes]\n6789a");
  EXPECT_EQ(omitted, 1u);
  // Pieces that pass the limit, and wrap around the kept tail; an odd limit keeps one more byte
  // of the tail; a head that ends a line is not followed by an empty one.
  EXPECT_EQ(logOf(path, 11, {"abcd\n", "fghijklm", "nop", "qr"}, &omitted),
            "abcd\n[mig: 7 bytes of output left out here: the log keeps the first 5 bytes and "
            "the last 6 bytes]\nmnopqr");
  EXPECT_EQ(omitted, 7u);
  EXPECT_EQ(logOf(path, 11, {"abcd\n", "fghijklm", "nopqrs", "tuvwxyz"}, &omitted),
            "abcd\n[mig: 15 bytes of output left out here: the log keeps the first 5 bytes and "
            "the last 6 bytes]\nuvwxyz");
  EXPECT_EQ(omitted, 15u);
  EXPECT_EQ(logOf(path, 4, {"ab", std::string(1'234'567, 'x'), "yz"}, &omitted),
            "ab\n[mig: 1,234,567 bytes of output left out here: the log keeps the first 2 bytes "
            "and the last 2 bytes]\nyz");
  EXPECT_EQ(omitted, 1'234'567u);
  EXPECT_EQ(logOf(path, 0, {std::string(100'000, 'x')}, &omitted), std::string(100'000, 'x'));
  EXPECT_EQ(omitted, 0u);
}

// ------------------------------------------------------------------ stopping processes

TEST_F(ProcessRunnerTest, TimeoutKillsTheWholeProcessGroup) {
  ProcessRunner runner(clock_);
  ProcessRequest script = request(1,
                                  "sleep 300 & echo \"pid $!\"\n"
                                  "sleep 300 & echo \"pid $!\"\n"
                                  "echo \"pid $$\"\n"
                                  "sleep 300\n");
  script.deadline = clock_.now() + 1500ms;
  runner.start(script);
  std::vector<ProcessResult> results = runner.wait(clock_.now() + 20s);  // the deadline is first
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].outcome, Outcome::TimedOut);
  EXPECT_EQ(results[0].exitCode, 128 + SIGTERM);
  EXPECT_GE(elapsed(results[0]), 1400ms);
  EXPECT_LT(elapsed(results[0]), 4500ms);  // well before the 5 s grace period
  std::vector<pid_t> pids = pidsIn(readFile(script.logPath));
  ASSERT_EQ(pids.size(), 3u) << readFile(script.logPath);
  EXPECT_TRUE(allGone(pids));
}

TEST_F(ProcessRunnerTest, ProcessIgnoringSigtermIsKilledAfterTheGracePeriod) {
  ProcessRunner runner(clock_, 300ms);
  ProcessRequest script =
      request(1, "trap '' TERM; echo \"pid $$\"; sleep 300 & echo \"pid $!\"; wait");
  runner.start(script);
  ASSERT_TRUE(waitForLog(runner, script, "\npid"));
  Instant cancelled = clock_.now();
  runner.cancel(1);
  ProcessResult result = waitFor(runner, 1);
  EXPECT_EQ(result.outcome, Outcome::Cancelled);
  EXPECT_EQ(result.exitCode, 128 + SIGKILL);
  EXPECT_GE(result.finished - cancelled, 250ms);
  EXPECT_LT(result.finished - cancelled, 3s);
  std::vector<pid_t> pids = pidsIn(readFile(script.logPath));
  ASSERT_EQ(pids.size(), 2u);
  EXPECT_TRUE(allGone(pids));
}

TEST_F(ProcessRunnerTest, CancelStopsAProcessAtOnce) {
  ProcessRunner runner(clock_);
  runner.start(request(1, "sleep 300"));
  runner.start(request(2, "exit 5"));
  runner.cancel(1);
  runner.cancel(99);  // unknown: ignored
  std::map<uint64_t, ProcessResult> results = waitForAll(runner, 2);
  EXPECT_EQ(results[1].outcome, Outcome::Cancelled);
  EXPECT_EQ(results[1].exitCode, 128 + SIGTERM);
  EXPECT_LT(elapsed(results[1]), 3s);
  EXPECT_EQ(results[2].outcome, Outcome::Exited);
  EXPECT_EQ(results[2].exitCode, 5);
}

TEST_F(ProcessRunnerTest, BackgroundChildIsStoppedWithoutWaitingForTheGracePeriod) {
  ProcessRequest script = request(1, "sleep 300 >/dev/null 2>&1 & echo \"pid $!\"");
  ProcessResult result = run(script);  // grace period 5 s
  EXPECT_TRUE(result.succeeded());
  EXPECT_LT(elapsed(result), 3s);
  std::vector<pid_t> pids = pidsIn(readFile(script.logPath));
  ASSERT_EQ(pids.size(), 1u);
  EXPECT_TRUE(allGone(pids));
}

TEST_F(ProcessRunnerTest, StubbornBackgroundChildDelaysTheResultByTheGracePeriodAtMost) {
  ProcessRunner runner(clock_, 300ms);
  // The fifo makes the main process wait until the child ignores SIGTERM.
  ProcessRequest script = request(1,
                                  "mkfifo ready\n"
                                  "(trap '' TERM; echo > ready; exec sleep 300) &\n"
                                  "read -r _ < ready\n"
                                  "echo \"pid $!\"\n");
  ProcessResult result = run(runner, script);
  EXPECT_TRUE(result.succeeded());
  std::vector<pid_t> pids = pidsIn(readFile(script.logPath));
  ASSERT_EQ(pids.size(), 1u);
  EXPECT_TRUE(allGone(pids));
  // The main process exits at once; the result waits for the SIGKILL, and no longer.
  EXPECT_GE(elapsed(result), 250ms);
  EXPECT_LT(elapsed(result), 3s);
}

TEST_F(ProcessRunnerTest, DestructorStopsRunningProcesses) {
  ProcessRequest script = request(1, "sleep 300 & echo \"pid $!\"; echo \"pid $$\"; wait");
  std::vector<pid_t> pids;
  {
    ProcessRunner runner(clock_, 300ms);
    runner.start(script);
    ASSERT_TRUE(waitForLog(runner, script, "\npid"));
    pids = pidsIn(readFile(script.logPath));
  }
  ASSERT_EQ(pids.size(), 2u);
  EXPECT_TRUE(allGone(pids));
}

// ------------------------------------------------------------------ descendants in other sessions

/// True when none of `pids` is left, not even as a zombie: they were reaped.
bool allReaped(const std::vector<pid_t>& pids) {
  return std::none_of(pids.begin(), pids.end(), [](pid_t pid) {
    return std::filesystem::exists("/proc/" + std::to_string(pid));
  });
}

/// Kills whatever of `pids` a failed test left running, so that it does not outlive the test.
void killSurvivors(const std::vector<pid_t>& pids) {
  for (pid_t pid : pids) {
    if (!isGone(pid)) ::kill(pid, SIGKILL);
  }
}

/// Each background command prints the pid of a sleep that left the step's process group: one
/// through setsid, one through setsid and a double fork (its parent exits at once).
const std::string kEscapingChildren =
    "setsid sleep 1000 & echo \"pid $!\"\n"
    "setsid sh -c 'sleep 1000 & echo \"pid $!\"' & wait $!\n";

/// Run twice: with a cgroup per process (where the machine allows it), and with the subreaper
/// alone, as on a machine without cgroup v2.
class DescendantsTest : public ProcessRunnerTest, public ::testing::WithParamInterface<bool> {
 protected:
  /// Makes `runner` use cgroups or not, as the test's parameter says; false (and the test
  /// skipped) when cgroups are wanted and the machine has none for us.
  bool track(ProcessRunner& runner) {
    runner.setUseCgroups(GetParam());
    return !GetParam() || runner.cgroupsAvailable();
  }
};

INSTANTIATE_TEST_SUITE_P(Tracking, DescendantsTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "Cgroup" : "Subreaper";
                         });

TEST_P(DescendantsTest, ChildrenInNewSessionsDoNotOutliveTheirStep) {
  ProcessRunner runner(clock_);
  if (!track(runner)) GTEST_SKIP() << "no cgroup v2 for us here";
  ProcessRequest script = request(1, kEscapingChildren + "echo started\n");
  ProcessResult result = run(runner, script);
  EXPECT_TRUE(result.succeeded()) << result.detail;
  EXPECT_LT(elapsed(result), 3s);  // SIGTERM was enough: no grace period spent
  std::vector<pid_t> pids = pidsIn(readFile(script.logPath));
  ASSERT_EQ(pids.size(), 2u) << readFile(script.logPath);
  EXPECT_TRUE(allReaped(pids));  // before the result came back
  EXPECT_TRUE(allGone(pids));
  killSurvivors(pids);
}

TEST_P(DescendantsTest, ChildrenInNewSessionsAreStoppedAtTheTimeout) {
  ProcessRunner runner(clock_);
  if (!track(runner)) GTEST_SKIP() << "no cgroup v2 for us here";
  ProcessRequest script = request(1, kEscapingChildren + "echo \"pid $$\"\nsleep 1000\n");
  script.deadline = clock_.now() + 2s;
  runner.start(script);
  ProcessResult result = waitFor(runner, 1);
  EXPECT_EQ(result.outcome, Outcome::TimedOut);
  EXPECT_EQ(result.exitCode, 128 + SIGTERM);
  EXPECT_LT(elapsed(result), 4500ms);  // well before the 5 s grace period
  std::vector<pid_t> pids = pidsIn(readFile(script.logPath));
  ASSERT_EQ(pids.size(), 3u) << readFile(script.logPath);
  EXPECT_TRUE(allReaped(pids));
  EXPECT_TRUE(allGone(pids));
  killSurvivors(pids);
}

TEST_P(DescendantsTest, StubbornChildInANewSessionIsKilledAfterTheGracePeriod) {
  ProcessRunner runner(clock_, 300ms);
  if (!track(runner)) GTEST_SKIP() << "no cgroup v2 for us here";
  // The fifo makes the main process wait until the child ignores SIGTERM.
  ProcessRequest script = request(1,
                                  "mkfifo ready\n"
                                  "setsid sh -c 'trap \"\" TERM; echo \"pid $$\"; echo > ready; "
                                  "exec sleep 1000' &\n"
                                  "read -r _ < ready\n");
  ProcessResult result = run(runner, script);
  EXPECT_TRUE(result.succeeded()) << result.detail;
  std::vector<pid_t> pids = pidsIn(readFile(script.logPath));
  ASSERT_EQ(pids.size(), 1u) << readFile(script.logPath);
  EXPECT_TRUE(allGone(pids));
  // The main process exits at once; the result waits for the SIGKILL, and no longer.
  EXPECT_GE(elapsed(result), 250ms);
  EXPECT_LT(elapsed(result), 3s);
  killSurvivors(pids);
}

TEST_P(DescendantsTest, CancelStopsChildrenInNewSessions) {
  ProcessRunner runner(clock_);
  if (!track(runner)) GTEST_SKIP() << "no cgroup v2 for us here";
  ProcessRequest script = request(1, kEscapingChildren + "echo ready\nsleep 1000\n");
  runner.start(script);
  ASSERT_TRUE(waitForLog(runner, script, "ready"));
  runner.cancel(1);
  ProcessResult result = waitFor(runner, 1);
  EXPECT_EQ(result.outcome, Outcome::Cancelled);
  std::vector<pid_t> pids = pidsIn(readFile(script.logPath));
  ASSERT_EQ(pids.size(), 2u) << readFile(script.logPath);
  EXPECT_TRUE(allReaped(pids));
  EXPECT_TRUE(allGone(pids));
  killSurvivors(pids);
}

TEST_P(DescendantsTest, AStepsEndLeavesTheDescendantsOfAnotherStepAlone) {
  ProcessRunner runner(clock_);
  if (!track(runner)) GTEST_SKIP() << "no cgroup v2 for us here";
  ASSERT_EQ(::mkfifo((dir_ + "/release").c_str(), 0600), 0);
  ProcessRequest waiting = request(1, kEscapingChildren + "read -r _ < release\n");
  runner.start(waiting);
  ASSERT_TRUE(waitForLog(runner, waiting, "\npid"));  // the second of two lines
  std::vector<pid_t> waitingPids = pidsIn(readFile(waiting.logPath));
  ASSERT_EQ(waitingPids.size(), 2u) << readFile(waiting.logPath);

  ProcessRequest ending = request(2, kEscapingChildren + "echo started\n");
  EXPECT_TRUE(run(runner, ending).succeeded());
  std::vector<pid_t> endingPids = pidsIn(readFile(ending.logPath));
  ASSERT_EQ(endingPids.size(), 2u) << readFile(ending.logPath);
  EXPECT_TRUE(allReaped(endingPids));
  for (pid_t pid : waitingPids) EXPECT_FALSE(isGone(pid)) << pid;

  std::ofstream(dir_ + "/release") << "go\n";  // blocks until the step reads
  EXPECT_TRUE(waitFor(runner, 1).succeeded());
  EXPECT_TRUE(allReaped(waitingPids));
  killSurvivors(endingPids);
  killSurvivors(waitingPids);
}

/// The line "0::PATH" of /proc/PID/cgroup: PATH.
std::string cgroupLine(const std::string& procCgroup) {
  size_t start = procCgroup.find("0::");
  if (start == std::string::npos) return "";
  return procCgroup.substr(start + 3, procCgroup.find('\n', start) - start - 3);
}

TEST_F(ProcessRunnerTest, ProcessesRunningAtOnceHaveCgroupsOfTheirOwnThatGoWithTheRunner) {
  std::string ownCgroup = cgroupLine(readFile("/proc/self/cgroup"));
  std::vector<std::string> cgroups;
  {
    ProcessRunner runner(clock_);
    if (!runner.cgroupsAvailable()) GTEST_SKIP() << "no cgroup v2 for us here";
    std::vector<ProcessRequest> together = {request(1, "cat /proc/self/cgroup; sleep 0.3"),
                                            request(2, "cat /proc/self/cgroup; sleep 0.3")};
    for (const ProcessRequest& script : together) runner.start(script);
    size_t results = 0;
    while (results < together.size()) {
      for (const ProcessResult& result : runner.wait(std::nullopt)) {
        EXPECT_TRUE(result.succeeded());
        ++results;
      }
    }
    for (const ProcessRequest& script : together) {
      cgroups.push_back(cgroupLine(readFile(script.logPath)));
    }
    // One that starts once they are gone takes an emptied cgroup again.
    ProcessRequest later = request(3, "cat /proc/self/cgroup");
    EXPECT_TRUE(run(runner, later).succeeded());
    std::string reused = cgroupLine(readFile(later.logPath));
    EXPECT_TRUE(reused == cgroups[0] || reused == cgroups[1]) << reused;
  }
  ASSERT_EQ(cgroups.size(), 2u);
  EXPECT_NE(cgroups[0], cgroups[1]);
  // OWN/mig-PID-N/pM, in the cgroup2 file system (mounted where the runner found it).
  std::string folder = std::filesystem::path(cgroups[0]).parent_path().string();
  EXPECT_EQ(std::filesystem::path(cgroups[1]).parent_path().string(), folder);
  EXPECT_EQ(std::filesystem::path(folder).parent_path().string(), ownCgroup);
  std::string prefix = "mig-" + std::to_string(::getpid()) + "-";
  EXPECT_EQ(std::filesystem::path(folder).filename().string().rfind(prefix, 0), 0u) << folder;
  for (const char* mount : {"/sys/fs/cgroup", "/sys/fs/cgroup/unified"}) {
    EXPECT_FALSE(std::filesystem::exists(mount + folder)) << mount + folder << " is left";
  }
}

TEST_F(ProcessRunnerTest, InACgroupADescendantWithoutTheEnvironmentIsStoppedToo) {
  ProcessRunner runner(clock_);
  if (!runner.cgroupsAvailable()) GTEST_SKIP() << "no cgroup v2 for us here";
  // env -i drops the variable that marks the step's processes: only the cgroup knows it.
  ProcessRequest script = request(1, "setsid env -i sleep 1000 & echo \"pid $!\"\n");
  EXPECT_TRUE(run(runner, script).succeeded());
  std::vector<pid_t> pids = pidsIn(readFile(script.logPath));
  ASSERT_EQ(pids.size(), 1u) << readFile(script.logPath);
  EXPECT_TRUE(allReaped(pids));
  EXPECT_TRUE(allGone(pids));
  killSurvivors(pids);
}

TEST_F(ProcessRunnerTest, CgroupWithoutAKillFileKillsItsProcessesWhileFrozen) {
  std::string why;
  std::unique_ptr<CgroupFolder> folder = CgroupFolder::create(why);
  if (!folder) GTEST_SKIP() << why;
  std::optional<Cgroup> cgroup = folder->newCgroup(1, why);
  ASSERT_TRUE(cgroup) << why;
  pid_t child = ::fork();
  if (child == 0) {
    UniqueFd procs = cgroup->openForJoining();
    if (::write(procs.get(), "0", 1) != 1) ::_exit(3);
    ::execl("/bin/sleep", "sleep", "1000", nullptr);
    ::_exit(4);
  }
  ASSERT_GT(child, 0);
  bool joined = false;
  for (int attempt = 0; attempt < 300 && !joined; ++attempt) {
    joined = cgroup->processes() == std::vector<pid_t>{child};
    if (!joined) std::this_thread::sleep_for(10ms);
  }
  EXPECT_TRUE(joined);
  // The same cgroup, as on a kernel before 5.14, without cgroup.kill.
  Cgroup withoutKillFile(cgroup->path(), cgroup->name(), false);
  withoutKillFile.killAll();
  int status = 0;
  pid_t reaped = 0;
  for (int attempt = 0; attempt < 300 && reaped == 0; ++attempt) {
    reaped = ::waitpid(child, &status, WNOHANG);
    if (reaped == 0) std::this_thread::sleep_for(10ms);
  }
  if (reaped == 0) {  // not killed: do not leave it behind
    ::kill(child, SIGKILL);
    reaped = ::waitpid(child, &status, 0);
    ADD_FAILURE() << "the process in the cgroup was not killed";
  }
  ASSERT_EQ(reaped, child);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
  EXPECT_EQ(readFile(cgroup->path() + "/cgroup.freeze"), "0\n");  // thawed again
}

// ------------------------------------------------------------------ waiting

TEST_F(ProcessRunnerTest, RunsSixtyFourProcessesAtOnce) {
  ProcessRunner runner(clock_);
  Instant begin = clock_.now();
  for (uint64_t token = 1; token <= 64; ++token) {
    runner.start(request(token, "sleep 0.5; exit " + std::to_string(token)));
  }
  EXPECT_EQ(runner.running(), 64u);
  std::map<uint64_t, ProcessResult> results = waitForAll(runner, 64);
  for (uint64_t token = 1; token <= 64; ++token) {
    EXPECT_EQ(results[token].outcome, Outcome::Exited);
    EXPECT_EQ(results[token].exitCode, static_cast<int>(token));
  }
  EXPECT_LT(clock_.now() - begin, 10s);  // not one after the other (32 s)
  EXPECT_EQ(runner.running(), 0u);
}

TEST_F(ProcessRunnerTest, WaitReturnsNothingAtUntilWhileAProcessRuns) {
  ProcessRunner runner(clock_);
  runner.start(request(1, "sleep 300"));
  Instant begin = clock_.now();
  EXPECT_TRUE(runner.wait(begin + 300ms).empty());
  Milliseconds waited = clock_.now() - begin;
  EXPECT_GE(waited, 290ms);
  EXPECT_LT(waited, 3s);
  EXPECT_EQ(runner.running(), 1u);
  EXPECT_TRUE(runner.wait(clock_.now() - 1s).empty());  // until has passed: returns at once
  runner.cancel(1);
  EXPECT_EQ(waitFor(runner, 1).outcome, Outcome::Cancelled);
}

TEST_F(ProcessRunnerTest, WaitReturnsAtOnceWhenNothingRuns) {
  ProcessRunner runner(clock_);
  Instant begin = clock_.now();
  EXPECT_TRUE(runner.wait(std::nullopt).empty());
  EXPECT_TRUE(runner.wait(begin + 60s).empty());
  EXPECT_LT(clock_.now() - begin, 1s);
}

double cpuSeconds() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

TEST_F(ProcessRunnerTest, WaitingUsesNoCpu) {
  ProcessRunner runner(clock_);
  runner.start(request(1, "sleep 300"));
  double before = cpuSeconds();
  EXPECT_TRUE(runner.wait(clock_.now() + 500ms).empty());
  EXPECT_LT(cpuSeconds() - before, 0.1);
  runner.cancel(1);
  waitFor(runner, 1);
}

}  // namespace
}  // namespace mig::runtime
