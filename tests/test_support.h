#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "compiler/diag/printers.h"
#include "compiler/sema/compilation.h"

namespace mig::testing {

inline std::filesystem::path sourceDir() { return MIG_SOURCE_DIR; }

inline std::string readFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

inline void writeFile(const std::filesystem::path& path, std::string_view text) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

/// What `mig lint` prints for `text` (named `name`), without colour, and the
/// diagnostics themselves.
struct LintResult {
  std::string text;
  std::vector<diag::Diagnostic> diagnostics;
  size_t errors = 0;
  size_t warnings = 0;

  bool has(diag::Rule rule) const {
    for (const auto& d : diagnostics) {
      if (d.rule == rule) return true;
    }
    return false;
  }
};

inline LintResult lintText(const std::string& name, std::string text,
                           std::vector<std::string> searchPath = {}) {
  sema::Compilation compilation(std::move(searchPath));
  compilation.addText(name, std::move(text));
  compilation.diags().sort(compilation.sources());
  LintResult result;
  std::ostringstream out;
  diag::printText(out, compilation.sources(), compilation.diags().diagnostics());
  out << diag::summaryLine(compilation.diags().errorCount(), compilation.diags().warningCount())
      << '\n';
  result.text = out.str();
  result.diagnostics = compilation.diags().diagnostics();
  result.errors = compilation.diags().errorCount();
  result.warnings = compilation.diags().warningCount();
  return result;
}

/// Runs a shell command; returns its exit code and what it printed on stdout.
struct CommandResult {
  int exitCode = -1;
  std::string output;
};

inline CommandResult runCommand(const std::string& command) {
  CommandResult result;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return result;
  std::array<char, 4096> buffer;
  size_t n;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) result.output.append(buffer.data(), n);
  int status = pclose(pipe);
  result.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

/// An empty folder of the running test's own: TMPDIR/PREFIX-PID-TEST, emptied
/// first if an earlier run left it. The test removes it in its TearDown.
inline std::filesystem::path freshTestFolder(const std::string& prefix) {
  std::filesystem::path dir = std::filesystem::temp_directory_path() /
                              (prefix + "-" + std::to_string(getpid()) + "-" +
                               ::testing::UnitTest::GetInstance()->current_test_info()->name());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

/// Waits until `file` exists (a step has got that far), at most `limit`.
inline bool waitForFile(const std::filesystem::path& file,
                        std::chrono::milliseconds limit = std::chrono::seconds(20)) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!std::filesystem::exists(file) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return std::filesystem::exists(file);
}

/// The mig binary, quoted for a shell.
inline std::string mig() { return std::string("'") + MIG_BINARY + "'"; }

/// Starts `mig ARGS...` in `dir` without waiting; its output goes to
/// `output` (a path, or one relative to `dir`), or to /dev/null.
inline pid_t startMig(const std::filesystem::path& dir, std::vector<std::string> args,
                      const std::string& output = "/dev/null") {
  pid_t pid = fork();
  if (pid == 0) {
    std::filesystem::current_path(dir);
    int out = open(output.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(out, 1);
    dup2(out, 2);
    std::vector<char*> argv;
    std::string name = "mig";
    argv.push_back(name.data());
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    execv(MIG_BINARY, argv.data());
    _exit(127);
  }
  return pid;
}

/// Waits for `pid`: its exit code, or 128 + the signal that killed it.
inline int exitStatusOf(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace mig::testing
