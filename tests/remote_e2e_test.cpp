// Steps on remote hosts, through a real OpenSSH server the harness starts
// on a loopback port with a throwaway host key and user key: commands run
// there, hostile values stay one word on the remote side, secrets are in no
// process's arguments on either side, a timeout stops the remote process,
// a wrong host key stops preflight, and a jump host is used on the way.
// The host is this machine (sshd logs in as the test's own user), so what
// a step leaves in the test's folder is what it did there.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "test_support.h"
#include "tests/harness/servers.h"

namespace mig {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::exitStatusOf;
using testing::readFile;
using testing::runCommand;
using testing::SshServer;
using testing::startMig;
using testing::waitForFile;
using testing::writeFile;

class RemoteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    sshd_ = SshServer::start(error);
    ASSERT_TRUE(sshd_) << error;
    dir_ = testing::freshTestFolder("mig-remote");
  }
  void TearDown() override { fs::remove_all(dir_); }

  /// `host app1 { ... }` for the test's sshd; `key` is how its key is pinned.
  std::string hostBlock(const std::string& name, const std::string& key,
                        const std::string& extra = "") {
    return fmt::format(
        "  host {} {{\n    address  \"127.0.0.1\"\n    port     {}\n    user     \"{}\"\n"
        "    identity \"{}\"\n    {}\n{}  }}\n",
        name, sshd_->port(), sshd_->user(), sshd_->identityPath(), key, extra);
  }
  std::string knownHosts() { return fmt::format("known_hosts \"{}\"", sshd_->knownHostsPath()); }

  void plan(const std::string& body, const std::string& imports = "") {
    writeFile(dir_ / "plan.mig", imports + "plan remote {\n  retain 72h\n" + body + "}\n");
  }

  testing::CommandResult mig(const std::string& args, const std::string& env = "") {
    return runCommand("cd " + dir_.string() + " && " + env + " " + testing::mig() + " " + args +
                      " 2>&1");
  }

  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  /// A phase on app1 whose one step creates the file `ran`: whether anything ran.
  std::string touchRanOnApp1() const {
    return "  phase preparation {\n    on app1\n    step touch = sh(\"touch " + path("ran") +
           "\")\n  }\n";
  }

  std::unique_ptr<SshServer> sshd_;
  fs::path dir_;
};

// Every process's command line, NUL-separated words joined by spaces.
std::vector<std::string> everyCommandLine() {
  std::vector<std::string> lines;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc", ec)) {
    std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(entry.path() / "cmdline", std::ios::binary);
    std::string line((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    for (char& c : line) c = c == '\0' ? ' ' : c;
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

TEST_F(RemoteTest, StepsRunOnTheHostAndTheirOutputIsLogged) {
  plan(hostBlock("app1", knownHosts()) +
       "  phase preparation {\n"
       "    on app1\n"
       "    step hello = sh(\"echo \\\"ran in $PWD as $(id -un) for $MIG_STEP\\\" > " +
       path("hello.txt") + "; echo said hello\")\n  }\n");
  auto result = mig("run plan.mig");
  ASSERT_EQ(result.exitCode, 0) << result.output;
  // The remote login starts in the user's home, not in the plan's folder.
  std::string home = runCommand("cd && pwd").output;
  home.erase(home.find_last_not_of('\n') + 1);
  EXPECT_EQ(readFile(dir_ / "hello.txt"),
            fmt::format("ran in {} as {} for hello\n", home, sshd_->user()));
  EXPECT_NE(mig("log hello plan.mig").output.find("said hello\n"), std::string::npos);
  // The master connection (the only ssh naming this test's key) was closed
  // at the end of the run.
  for (const std::string& line : everyCommandLine()) {
    EXPECT_EQ(line.find(sshd_->identityPath()), std::string::npos) << line;
  }
}

TEST_F(RemoteTest, HostileValuesStayOneWordOnTheRemoteSide) {
  fs::path marker = dir_ / "pwned";
  std::string hostile = fmt::format(
      "x'; touch {0}; echo ' \"; touch {0}; \" $(touch {0}) `touch {0}` ; touch {0} \n touch {0}",
      marker.string());
  // As a .mig string: quotes and the line break escaped.
  std::string written;
  for (char c : hostile) {
    if (c == '"')
      written += "\\\"";
    else if (c == '\n')
      written += "\\n";
    else
      written += c;
  }
  writeFile(dir_ / "ops.mig",
            "module ops\n"
            "action show(value: string, file: string) {\n"
            "  effect read\n"
            "  run    \"printf '<%s>\\\\n' ${value} > ${file}\"\n"
            "}\n");
  plan(hostBlock("app1", knownHosts()) +
           "  phase preparation {\n"
           "    step show {\n"
           "      on app1\n"
           "      do ops.show(value: \"" +
           written + "\", file: \"" + path("values.txt") +
           "\")\n"
           "    }\n  }\n",
       "import \"./ops\"\n");
  auto result = mig("run plan.mig");
  ASSERT_EQ(result.exitCode, 0) << result.output;
  EXPECT_FALSE(fs::exists(marker)) << "a value ran as a command on the host";
  EXPECT_EQ(readFile(dir_ / "values.txt"), "<" + hostile + ">\n");
}

TEST_F(RemoteTest, SecretsReachTheRemoteCommandButNoArgumentOnEitherSide) {
  const std::string redisSecret = "Remote-redis-pass-7731";
  const std::string pgSecret = "Remote-pg-pass-4490";
  plan(
      "  secret cache_pw { from env(\"T_CACHE_PW\") }\n"
      "  secret pg_pw    { from env(\"T_PG_PW\") }\n"
      "  source cache redis {\n    host \"127.0.0.1\"\n    port 1\n    password cache_pw\n  }\n"
      "  target db postgres {\n    host \"127.0.0.1\"\n    port 1\n    database \"shop\"\n"
      "    password pg_pw\n  }\n" +
          hostBlock("app1", knownHosts()) +
          "  phase migration {\n"
          "    step use {\n"
          "      on app1\n"
          "      do sh(\"echo ${cache.host} ${db.host} > /dev/null; "
          "printf '%s\\\\n' \\\"$REDISCLI_AUTH\\\" > " +
          path("auth.txt") +
          "; "
          "cat \\\"$PGPASSFILE\\\" > " +
          path("pgpass.txt") +
          "; "
          "stat -c %a \\\"$PGPASSFILE\\\" > " +
          path("mode.txt") +
          "; "
          "dirname \\\"$PGPASSFILE\\\" > " +
          path("folder.txt") +
          "; "
          "touch " +
          path("started") +
          "; sleep 2\")\n"
          "    }\n  }\n",
      "import \"std/redis\"\nimport \"std/postgres\"\n");
  setenv("T_CACHE_PW", redisSecret.c_str(), 1);
  setenv("T_PG_PW", pgSecret.c_str(), 1);
  pid_t runner = startMig(dir_, {"run", "plan.mig"}, "run.out");
  unsetenv("T_CACHE_PW");
  unsetenv("T_PG_PW");
  ASSERT_TRUE(waitForFile(dir_ / "started")) << readFile(dir_ / "run.out");
  // Both sides of the connection run here: mig, ssh, sshd, bash, the step.
  for (const std::string& line : everyCommandLine()) {
    EXPECT_EQ(line.find(redisSecret), std::string::npos) << "a command line holds a secret";
    EXPECT_EQ(line.find(pgSecret), std::string::npos) << "a command line holds a secret";
  }
  ASSERT_EQ(exitStatusOf(runner), 0) << readFile(dir_ / "run.out");
  EXPECT_TRUE(readFile(dir_ / "auth.txt") == redisSecret + "\n") << "REDISCLI_AUTH did not arrive";
  EXPECT_TRUE(readFile(dir_ / "pgpass.txt") == "127.0.0.1:1:*:postgres:" + pgSecret + "\n")
      << "the pgpass file did not arrive";
  EXPECT_EQ(readFile(dir_ / "mode.txt"), "600\n");
  std::string folder = readFile(dir_ / "folder.txt");
  folder.erase(folder.find_last_not_of('\n') + 1);
  EXPECT_FALSE(fs::exists(folder)) << "the step's folder on the host was left behind";
  // Nothing mig keeps holds either secret; the local payload is gone.
  for (const auto& entry : fs::recursive_directory_iterator(dir_ / ".mig")) {
    if (!entry.is_regular_file()) continue;
    std::string text = readFile(entry.path());
    EXPECT_EQ(text.find(redisSecret), std::string::npos) << entry.path();
    EXPECT_EQ(text.find(pgSecret), std::string::npos) << entry.path();
    EXPECT_NE(entry.path().extension(), ".remote") << entry.path();
  }
  EXPECT_EQ(readFile(dir_ / "run.out").find(redisSecret), std::string::npos);
}

TEST_F(RemoteTest, ATimeoutStopsTheRemoteProcess) {
  plan(hostBlock("app1", knownHosts()) +
       "  phase preparation {\n"
       "    step slow {\n"
       "      on      app1\n"
       "      do      sh(\"echo $$ > " +
       path("pid") + "; sleep 600; touch " + path("finished") +
       "\")\n"
       "      timeout 3s\n"
       "    }\n  }\n");
  auto began = std::chrono::steady_clock::now();
  auto result = mig("run plan.mig");
  auto took = std::chrono::steady_clock::now() - began;
  EXPECT_EQ(result.exitCode, 3) << result.output;
  EXPECT_NE(result.output.find("killed at its timeout"), std::string::npos) << result.output;
  EXPECT_LT(took, 60s);
  std::string pid = readFile(dir_ / "pid");
  ASSERT_FALSE(pid.empty());
  pid_t remote = std::stoi(pid);
  // The remote bash, and its sleep with it, are gone (within the
  // bootstrap's grace period).
  for (int i = 0; i < 400 && ::kill(remote, 0) == 0; ++i) std::this_thread::sleep_for(25ms);
  EXPECT_NE(::kill(remote, 0), 0) << "the remote step still runs";
  EXPECT_EQ(runCommand("pgrep -fx 'sleep 600' | wc -l").output, "0\n");
  EXPECT_FALSE(fs::exists(dir_ / "finished"));
}

// What a remote step leaves running is stopped when its main process
// exits, as a local step's is: it neither outlives the step nor, holding
// the step's output open, keeps the step from ending.
TEST_F(RemoteTest, WhatARemoteStepLeavesRunningIsStopped) {
  plan(hostBlock("app1", knownHosts()) +
       "  phase preparation {\n"
       "    step leave {\n"
       "      on      app1\n"
       "      do      sh(\"sleep 301 & echo left it running\")\n"
       "      timeout 60s\n"
       "    }\n  }\n");
  auto began = std::chrono::steady_clock::now();
  auto result = mig("run plan.mig");
  EXPECT_EQ(result.exitCode, 0) << result.output;
  EXPECT_LT(std::chrono::steady_clock::now() - began, 30s);
  EXPECT_EQ(runCommand("pgrep -fx 'sleep 301' | wc -l").output, "0\n");
}

TEST_F(RemoteTest, AWrongHostKeyStopsPreflight) {
  plan(hostBlock("app1", fmt::format("host_key \"{}\"", sshd_->otherHostKey())) + touchRanOnApp1());
  auto result = mig("run plan.mig");
  EXPECT_EQ(result.exitCode, 8) << result.output;
  EXPECT_NE(result.output.find(fmt::format(
                "  - host app1 ({}@127.0.0.1:{}): Host key verification failed. (checked "
                "against its host_key)",
                sshd_->user(), sshd_->port())),
            std::string::npos)
      << result.output;
  EXPECT_FALSE(fs::exists(dir_ / "ran"));

  // The right key, pinned in the plan, lets it through.
  plan(hostBlock("app1", fmt::format("host_key \"{}\"", sshd_->hostKey())) + touchRanOnApp1());
  result = mig("run plan.mig");
  EXPECT_EQ(result.exitCode, 0) << result.output;
  EXPECT_TRUE(fs::exists(dir_ / "ran"));
}

TEST_F(RemoteTest, AHostThatDoesNotAnswerFailsPreflightNamingIt) {
  plan(fmt::format("  host app1 {{\n    address \"127.0.0.1\"\n    port 1\n    {}\n  }}\n",
                   knownHosts()) +
       touchRanOnApp1());
  auto result = mig("run plan.mig");
  EXPECT_EQ(result.exitCode, 8) << result.output;
  EXPECT_NE(result.output.find("  - host app1 (127.0.0.1:1): ssh: connect to host 127.0.0.1 port "
                               "1: Connection refused"),
            std::string::npos)
      << result.output;
  EXPECT_FALSE(fs::exists(dir_ / "ran"));
}

// The jump host is the same server: ssh reaches it, then opens a channel
// from it to the target's address and port (ssh -W), with each hop's own
// key checked.
TEST_F(RemoteTest, AJumpHostIsUsedOnTheWay) {
  plan(hostBlock("bastion", knownHosts()) + hostBlock("app1", knownHosts(), "    jump bastion\n") +
       "  phase preparation {\n"
       "    step hello {\n"
       "      on app1\n"
       "      do sh(\"echo \\\"$SSH_CONNECTION\\\" > " +
       path("connection") +
       "\")\n"
       "    }\n  }\n");
  auto result = mig("run plan.mig");
  ASSERT_EQ(result.exitCode, 0) << result.output;
  // SSH_CONNECTION: client address and port, server address and port.
  std::string connection = readFile(dir_ / "connection");
  EXPECT_NE(connection.find(fmt::format(" 127.0.0.1 {}\n", sshd_->port())), std::string::npos)
      << connection;
  // Two logins: one to the jump host, one to the target through it (the
  // step then reuses the target's connection).
  std::string log = readFile(fs::path(sshd_->folder()) / "sshd.log");
  int logins = 0;
  for (size_t at = log.find("Accepted publickey"); at != std::string::npos;
       at = log.find("Accepted publickey", at + 1)) {
    ++logins;
  }
  EXPECT_EQ(logins, 2) << log;
}

TEST_F(RemoteTest, RollbackUndoesOnTheHost) {
  plan(hostBlock("app1", knownHosts()) +
       "  phase migration {\n"
       "    on app1\n"
       "    step flip {\n"
       "      do   sh(\"echo on > " +
       path("state") +
       "\")\n"
       "      undo sh(\"echo off > " +
       path("state") +
       "\")\n"
       "    }\n"
       "    step fail {\n"
       "      do    sh(\"exit 4\")\n"
       "      after flip\n"
       "    }\n  }\n");
  auto result = mig("run plan.mig");
  EXPECT_EQ(result.exitCode, 3) << result.output;
  EXPECT_EQ(readFile(dir_ / "state"), "off\n");
}

}  // namespace
}  // namespace mig
