#include "runtime/process_runner.h"

#include "runtime/descendants.h"
#include "runtime/nothing_changed.h"
#include "runtime/step_log.h"
#include "runtime/unique_fd.h"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <map>
#include <set>

// Boost.Process 1.74 compiles its vfork launcher only when the feature macros predate POSIX
// 2008, which g++'s _GNU_SOURCE never does. vfork is worth it: fork copies the page tables of
// the whole runner (about +35 us per MB of it, measured), vfork costs the same at any size. The
// child side below is written for it (see ChildSetup).
#ifndef BOOST_POSIX_HAS_VFORK
#define BOOST_POSIX_HAS_VFORK 1
#endif
#include <boost/process/child.hpp>
#include <boost/process/extend.hpp>
#include <boost/process/io.hpp>
#include <boost/process/pipe.hpp>
#include <boost/process/posix.hpp>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <string>
#include <system_error>
#include <utility>

namespace mig::runtime {
namespace {

namespace bp = boost::process;

using Outcome = ProcessResult::Outcome;

constexpr size_t kDetailLines = 20;
constexpr size_t kTailBytes = 16 * 1024;
constexpr size_t kReadChunk = 64 * 1024;
/// Reads per wake-up and pipe: a chatty process cannot keep the runner from the others.
constexpr int kReadsPerWake = 16;
/// How often a process's descendants are looked for again when those found vanish before they
/// can be watched.
constexpr int kDescendantScans = 3;

std::string errorText(int error) {
  return std::system_category().message(error);
}

/// Replaces secrets with *** in a stream that arrives in pieces. The end of each piece is held
/// back while a secret could still start in it, so the result is the same as redacting the
/// whole stream at once: leftmost match first, the longest secret when several start there.
class StreamRedactor {
 public:
  explicit StreamRedactor(std::vector<std::string> secrets) {
    for (std::string& secret : secrets) {
      if (!secret.empty()) secrets_.push_back(std::move(secret));
    }
    std::sort(secrets_.begin(), secrets_.end(), [](const std::string& a, const std::string& b) {
      return a.size() != b.size() ? a.size() > b.size() : a < b;
    });
    secrets_.erase(std::unique(secrets_.begin(), secrets_.end()), secrets_.end());
    longest_ = secrets_.empty() ? 0 : secrets_.front().size();
  }

  /// Returns the redacted text that no later piece can change.
  std::string feed(std::string_view piece) {
    pending_.append(piece);
    return take(false);
  }
  /// The stream ended: returns what was held back.
  std::string finish() { return take(true); }

 private:
  std::string take(bool atEnd) {
    // A match may start only where the longest secret would fit, so that no later byte can
    // change which secret matches there.
    size_t limit = pending_.size();
    if (!atEnd && longest_ > 0) limit = pending_.size() >= longest_ ? limit - longest_ + 1 : 0;
    std::vector<size_t> next;  // where each secret occurs next, at or after pos
    for (const std::string& secret : secrets_) next.push_back(pending_.find(secret));
    std::string out;
    size_t pos = 0;
    while (pos < limit) {
      size_t matchAt = std::string::npos;
      size_t matchLength = 0;
      for (size_t i = 0; i < secrets_.size(); ++i) {
        if (next[i] != std::string::npos && next[i] < pos) {
          next[i] = pending_.find(secrets_[i], pos);
        }
        if (next[i] < matchAt) {  // strictly: on a tie the longer secret, sorted first, stays
          matchAt = next[i];
          matchLength = secrets_[i].size();
        }
      }
      if (matchAt >= limit) {
        out.append(pending_, pos, limit - pos);
        pos = limit;
        break;
      }
      out.append(pending_, pos, matchAt - pos);
      out += "***";
      pos = matchAt + matchLength;
    }
    pending_.erase(0, pos);
    return out;
  }

  std::vector<std::string> secrets_;  ///< longest first
  size_t longest_ = 0;
  std::string pending_;
};

/// The end of a process's redacted output, for the detail of a failure.
class OutputTail {
 public:
  void append(std::string_view text) {
    text_.append(text);
    if (text_.size() > 2 * kTailBytes) text_.erase(0, text_.size() - kTailBytes);
  }

  std::string lastLines(size_t count) const {
    std::string_view view = text_;
    if (view.size() > kTailBytes) view.remove_prefix(view.size() - kTailBytes);
    while (!view.empty() && view.back() == '\n') view.remove_suffix(1);
    size_t start = view.size();
    size_t lines = 0;
    while (start > 0) {
      size_t newline = view.rfind('\n', start - 1);
      if (newline == std::string_view::npos) {
        start = 0;
        break;
      }
      if (++lines == count) {
        start = newline + 1;
        break;
      }
      start = newline;
    }
    return std::string(view.substr(start));
  }

 private:
  std::string text_;
};

int exitCodeOf(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

// ------------------------------------------------------------------ what to exec

std::vector<std::string_view> splitWords(std::string_view line) {
  std::vector<std::string_view> words;
  size_t start = 0;
  while (true) {
    size_t space = line.find(' ', start);
    words.push_back(line.substr(start, space - start));
    if (space == std::string_view::npos) return words;
    start = space + 1;
  }
}

bool isWordCharacter(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("_@%+=:,./-").find(c) != std::string_view::npos;
}

/// `compgen -k` and `compgen -b` of bash 5.2.
constexpr std::array<std::string_view, 22> kBashKeywords = {
    "if", "then", "else", "elif",     "fi",   "case", "esac", "for", "select", "while", "until",
    "do", "done", "in",   "function", "time", "{",    "}",    "!",   "[[",     "]]",    "coproc"};
constexpr std::array<std::string_view, 61> kBashBuiltins = {
    ".",      ":",       "[",         "alias",    "bg",       "bind",    "break",    "builtin",
    "caller", "cd",      "command",   "compgen",  "complete", "compopt", "continue", "declare",
    "dirs",   "disown",  "echo",      "enable",   "eval",     "exec",    "exit",     "export",
    "false",  "fc",      "fg",        "getopts",  "hash",     "help",    "history",  "jobs",
    "kill",   "let",     "local",     "logout",   "mapfile",  "popd",    "printf",   "pushd",
    "pwd",    "read",    "readarray", "readonly", "return",   "set",     "shift",    "shopt",
    "source", "suspend", "test",      "times",    "trap",     "true",    "type",     "typeset",
    "ulimit", "umask",   "unalias",   "unset",    "wait"};
/// Builtins whose coreutils programs do the same for the arguments isSimpleCommand lets through.
constexpr std::array<std::string_view, 4> kBuiltinsWithTwins = {"true", "false", "echo", "printf"};

template <size_t N>
bool isOneOf(const std::array<std::string_view, N>& names, std::string_view name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

/// Variables that change how bash starts or finds commands; with any of them set, a simple
/// command still goes through bash.
constexpr std::array<std::string_view, 5> kBashSensitiveVariables = {
    "BASH_ENV", "SHELLOPTS", "BASHOPTS", "POSIXLY_CORRECT", "EXECIGNORE"};

std::string_view nameOf(std::string_view entry) {
  return entry.substr(0, entry.find('='));
}

std::optional<std::string_view> findVariable(const std::vector<std::string>& environment,
                                             std::string_view name) {
  for (const std::string& entry : environment) {
    if (nameOf(entry) == name) {
      return entry.size() > name.size() ? std::string_view(entry).substr(name.size() + 1)
                                        : std::string_view();
    }
  }
  return std::nullopt;
}

void removeVariable(std::vector<std::string>& environment, std::string_view name) {
  std::erase_if(environment, [&](const std::string& entry) { return nameOf(entry) == name; });
}

void setVariable(std::vector<std::string>& environment, std::string_view name,
                 std::string_view value) {
  removeVariable(environment, name);
  environment.push_back(fmt::format("{}={}", name, value));
}

/// The runner's own environment, minus `unsetEnv`, plus `env` (the later of two equal names wins).
std::vector<std::string> childEnvironment(const ProcessRequest& request) {
  auto overridden = [&](std::string_view name) {
    return std::find(request.unsetEnv.begin(), request.unsetEnv.end(), name) !=
               request.unsetEnv.end() ||
           std::any_of(request.env.begin(), request.env.end(),
                       [&](const auto& variable) { return variable.first == name; });
  };
  std::vector<std::string> environment;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    if (!overridden(nameOf(*entry))) environment.emplace_back(*entry);
  }
  for (const auto& [name, value] : request.env) setVariable(environment, name, value);
  return environment;
}

/// `path` as the parent sees it when the child will see it from `workdir`.
std::string fromWorkdir(const std::string& workdir, std::string_view path) {
  if (workdir.empty() || path.starts_with('/')) return std::string(path);
  return fmt::format("{}/{}", workdir, path);
}

/// Answers about the file system, remembered for a few seconds: thousands of steps run the same
/// few programs from one folder, and each answer costs several stat calls.
template <typename Value>
class RecentAnswers {
 public:
  template <typename Compute>
  Value get(const std::string& key, Compute compute) {
    auto now = std::chrono::steady_clock::now();
    auto it = answers_.find(key);
    if (it != answers_.end() && now - it->second.second < kFreshFor) return it->second.first;
    if (answers_.size() > 1024) answers_.clear();
    Value value = compute();
    answers_[key] = {value, now};
    return value;
  }

 private:
  static constexpr std::chrono::seconds kFreshFor{5};
  std::map<std::string, std::pair<Value, std::chrono::steady_clock::time_point>> answers_;
};

bool isExecutableFile(const std::string& path) {
  struct stat info;
  return ::stat(path.c_str(), &info) == 0 && S_ISREG(info.st_mode) &&
         ::access(path.c_str(), X_OK) == 0;
}

bool isDirectory(const std::string& path) {
  static RecentAnswers<bool> answers;
  return answers.get(path, [&] {
    struct stat info;
    return ::stat(path.c_str(), &info) == 0 && S_ISDIR(info.st_mode);
  });
}

std::optional<std::string> searchProgram(std::string_view name, std::string_view path,
                                         const std::string& workdir);

/// Where bash would find `name` on `path`, as bash would name it (relative entries stay relative
/// to the working directory).
std::optional<std::string> findProgram(std::string_view name, std::string_view path,
                                       const std::string& workdir) {
  static RecentAnswers<std::optional<std::string>> answers;
  std::string key = fmt::format("{}\n{}\n{}", name, path, workdir);
  return answers.get(key, [&] { return searchProgram(name, path, workdir); });
}

std::optional<std::string> searchProgram(std::string_view name, std::string_view path,
                                         const std::string& workdir) {
  if (name.find('/') != std::string_view::npos) {
    if (isExecutableFile(fromWorkdir(workdir, name))) return std::string(name);
    return std::nullopt;
  }
  size_t start = 0;
  while (true) {
    size_t colon = path.find(':', start);
    std::string_view directory = path.substr(start, colon - start);
    std::string candidate =
        directory.empty() ? fmt::format("./{}", name) : fmt::format("{}/{}", directory, name);
    if (isExecutableFile(fromWorkdir(workdir, candidate))) return candidate;
    if (colon == std::string_view::npos) return std::nullopt;
    start = colon + 1;
  }
}

/// SHLVL as bash passes it to the command it execs: bash counts itself in, then out again.
/// Nothing when bash would warn about the level.
std::optional<std::string> bashShellLevel(std::optional<std::string_view> inherited) {
  long long level = 0;
  if (inherited) {
    std::string_view text = *inherited;
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
      text.remove_prefix(1);
    }
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
      text.remove_suffix(1);
    }
    if (text.starts_with('+')) text.remove_prefix(1);
    long long parsed = 0;
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), parsed);
    if (error == std::errc() && end == text.data() + text.size() && !text.empty()) level = parsed;
  }
  if (level >= 999) return std::nullopt;
  return std::to_string(std::max(level, 0LL));
}

/// PWD as bash sets it: the inherited one when it names the working directory, else the
/// physical path.
std::optional<std::string> resolveWorkingDirectory(std::optional<std::string_view> inherited,
                                                   const std::string& workdir);

std::optional<std::string> bashWorkingDirectory(std::optional<std::string_view> inherited,
                                                const std::string& workdir) {
  static RecentAnswers<std::optional<std::string>> answers;
  std::string key = fmt::format("{}\n{}\n{}", inherited.has_value(), inherited.value_or(""), workdir);
  return answers.get(key, [&] { return resolveWorkingDirectory(inherited, workdir); });
}

std::optional<std::string> resolveWorkingDirectory(std::optional<std::string_view> inherited,
                                                   const std::string& workdir) {
  std::string directory = workdir.empty() ? "." : workdir;
  struct stat here;
  if (::stat(directory.c_str(), &here) != 0) return std::nullopt;
  if (inherited && inherited->starts_with('/')) {
    struct stat named;
    std::string path(*inherited);
    if (::stat(path.c_str(), &named) == 0 && named.st_dev == here.st_dev &&
        named.st_ino == here.st_ino) {
      return path;
    }
  }
  char* real = ::realpath(directory.c_str(), nullptr);
  if (real == nullptr) return std::nullopt;
  std::string result(real);
  std::free(real);
  return result;
}

/// A program, its arguments and its environment, ready for execve.
struct Launch {
  std::string program;
  std::vector<std::string> argv;
  std::vector<std::string> environment;
};

Launch bashLaunch(const std::string& script, std::vector<std::string> environment) {
  return Launch{"/bin/bash",
                {"bash", "--noprofile", "--norc", "-e", "-o", "pipefail", "-c", script, "bash"},
                std::move(environment)};
}

/// The fast path: `script` exec'd without bash, when that is sure to behave as bash would.
std::optional<Launch> directLaunch(const std::string& script,
                                   const std::vector<std::string>& environment,
                                   const std::string& workdir) {
  if (!isSimpleCommand(script)) return std::nullopt;
  std::string_view line = script;
  if (line.ends_with('\n')) line.remove_suffix(1);
  std::vector<std::string_view> words = splitWords(line);
  std::string_view name = words.front();
  for (std::string_view variable : kBashSensitiveVariables) {
    if (findVariable(environment, variable)) return std::nullopt;
  }
  if (findVariable(environment, fmt::format("BASH_FUNC_{}%%", name))) return std::nullopt;
  std::optional<std::string_view> path = findVariable(environment, "PATH");
  if (!path) return std::nullopt;
  std::optional<std::string> program = findProgram(name, *path, workdir);
  if (!program) return std::nullopt;
  if (isOneOf(kBuiltinsWithTwins, name) && *program != fmt::format("/usr/bin/{}", name) &&
      *program != fmt::format("/bin/{}", name)) {
    return std::nullopt;
  }
  std::optional<std::string> level = bashShellLevel(findVariable(environment, "SHLVL"));
  std::optional<std::string> pwd = bashWorkingDirectory(findVariable(environment, "PWD"), workdir);
  if (!level || !pwd) return std::nullopt;

  Launch launch{*program, std::vector<std::string>(words.begin(), words.end()), environment};
  setVariable(launch.environment, "SHLVL", *level);
  setVariable(launch.environment, "PWD", *pwd);
  setVariable(launch.environment, "_", *program);
  if (std::optional<std::string_view> old = findVariable(launch.environment, "OLDPWD")) {
    if (!isDirectory(fromWorkdir(workdir, *old))) removeVariable(launch.environment, "OLDPWD");
  }
  return launch;
}

// ------------------------------------------------------------------ spawning

/// The child's side of a Boost.Process launch: its cgroup, its own process group, default signal
/// handling, stdin from /dev/null, the working directory, and no descriptors but 0-2 across exec.
///
/// The child is vforked: until execve it runs on the parent's memory, so it makes system calls
/// only — no allocation, no handler of the parent's (signals are blocked around the launch, and
/// handlers are reset before they are unblocked), errors reported in strings short enough to
/// stay inside std::string. Like Boost.Process's own error reporting, it tells the parent whether
/// it joined its cgroup through that shared memory (`joinedCgroup`).
class ChildSetup : public bp::extend::handler {
 public:
  ChildSetup(const char* program, char* const* argv, char** envp, const char* workdir, int devNull,
             int cgroupProcs, bool& joinedCgroup, pid_t& forkedPid)
      : program_(program),
        argv_(argv),
        envp_(envp),
        workdir_(workdir),
        devNull_(devNull),
        cgroupProcs_(cgroupProcs),
        joinedCgroup_(joinedCgroup),
        forkedPid_(forkedPid) {}

  template <class Executor>
  void on_setup(Executor& exec) const {
    exec.exe = program_;
    exec.cmd_line = argv_;
    exec.env = envp_;
  }

  template <class Executor>
  void on_exec_setup(Executor& exec) const {
    // Before exec, so that the process and all it starts are in the cgroup from the first
    // instruction ("0": the writer).
    if (cgroupProcs_ >= 0) joinedCgroup_ = ::write(cgroupProcs_, "0", 1) == 1;
    ::setpgid(0, 0);
    resetSignals();
    if (::dup2(devNull_, STDIN_FILENO) == -1) fail(exec, "stdin");
    if (workdir_ != nullptr && ::chdir(workdir_) != 0) fail(exec, "chdir");
    ::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
  }

  /// Boost.Process forgets a child whose exec failed; remember it so that it gets reaped.
  template <class Executor>
  void on_error(Executor& exec, const std::error_code&) const {
    forkedPid_ = exec.pid;
  }

 private:
  // Handlers of the runner become SIG_DFL (exec would do it too, but a signal could reach one
  // first), SIGPIPE too (ignoring it is the runner's business, not its steps'); other ignored
  // signals stay ignored, as bash leaves them. Then the mask blocked around the launch goes.
  static void resetSignals() {
    struct sigaction byDefault {};
    byDefault.sa_handler = SIG_DFL;
    for (int signal = 1; signal < NSIG; ++signal) {
      struct sigaction current {};
      if (::sigaction(signal, nullptr, &current) != 0) continue;
      bool handled = (current.sa_flags & SA_SIGINFO) != 0 ||
                     (current.sa_handler != SIG_DFL && current.sa_handler != SIG_IGN);
      if (handled || signal == SIGPIPE) ::sigaction(signal, &byDefault, nullptr);
    }
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
  }

  // Boost.Process records the error for the parent and carries on to execve: stop here instead.
  template <class Executor>
  static void fail(Executor& exec, const char* what) {
    exec.set_error(std::error_code(errno, std::system_category()), what);
    ::_exit(127);
  }

  const char* program_;
  char* const* argv_;
  char** envp_;
  const char* workdir_;
  int devNull_;
  int cgroupProcs_;  ///< cgroup.procs of the child's cgroup, or -1
  bool& joinedCgroup_;
  pid_t& forkedPid_;
};

/// Blocks every signal of the calling thread while it lives.
class SignalsBlocked {
 public:
  SignalsBlocked() {
    sigset_t all;
    sigfillset(&all);
    ::pthread_sigmask(SIG_SETMASK, &all, &previous_);
  }
  ~SignalsBlocked() { ::pthread_sigmask(SIG_SETMASK, &previous_, nullptr); }
  SignalsBlocked(const SignalsBlocked&) = delete;
  SignalsBlocked& operator=(const SignalsBlocked&) = delete;

 private:
  sigset_t previous_;
};

struct Spawned {
  pid_t pid = -1;
  UniqueFd output;    ///< the read end of the child's stdout and stderr
  std::string error;  ///< why it did not start, when pid is -1
  bool joinedCgroup = false;
};

/// `cgroupProcs`: the cgroup.procs file of the cgroup the child joins, or -1.
Spawned spawnChild(const Launch& launch, const std::string& workdir, int cgroupProcs) {
  Spawned spawned;
  std::vector<char*> argv;
  for (const std::string& argument : launch.argv) {
    argv.push_back(const_cast<char*>(argument.c_str()));
  }
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (const std::string& entry : launch.environment) {
    envp.push_back(const_cast<char*>(entry.c_str()));
  }
  envp.push_back(nullptr);

  UniqueFd devNull(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (!devNull.valid()) {
    spawned.error = fmt::format("cannot open /dev/null: {}", errorText(errno));
    return spawned;
  }
  std::array<int, 2> ends{};
  if (::pipe2(ends.data(), O_CLOEXEC) != 0) {
    spawned.error = fmt::format("cannot create a pipe: {}", errorText(errno));
    return spawned;
  }
  UniqueFd readEnd(ends[0]);
  bp::pipe output(-1, ends[1]);  // Boost.Process closes the write end once the child has it

  pid_t forkedPid = -1;
  std::error_code error;
  try {
    ChildSetup setup(launch.program.c_str(), argv.data(), envp.data(),
                     workdir.empty() ? nullptr : workdir.c_str(), devNull.get(), cgroupProcs,
                     spawned.joinedCgroup, forkedPid);
    SignalsBlocked blocked;
    bp::child child(setup, (bp::std_out & bp::std_err) > output, bp::posix::use_vfork, error);
    if (!error) {
      spawned.pid = child.id();
      child.detach();
    }
  } catch (const std::exception& exception) {
    spawned.error = exception.what();
  }
  if (spawned.pid < 0) {
    if (forkedPid > 0) {
      int status = 0;
      while (::waitpid(forkedPid, &status, 0) < 0 && errno == EINTR) {
      }
    }
    // Boost.Process reports a failed chdir or execve in the child by its error code alone.
    if (spawned.error.empty()) spawned.error = error.message();
    spawned.error =
        workdir.empty()
            ? fmt::format("cannot run {}: {}", launch.program, spawned.error)
            : fmt::format("cannot run {} in '{}': {}", launch.program, workdir, spawned.error);
    return spawned;
  }
  if (::fcntl(readEnd.get(), F_SETFL, O_NONBLOCK) != 0) {
    // Without it a read could block the whole runner; the child is not ours to keep.
    spawned.error = fmt::format("cannot set up the output pipe: {}", errorText(errno));
    ::kill(-spawned.pid, SIGKILL);
    int status = 0;
    while (::waitpid(spawned.pid, &status, 0) < 0 && errno == EINTR) {
    }
    spawned.pid = -1;
    return spawned;
  }
  spawned.output = std::move(readEnd);
  return spawned;
}

}  // namespace

// ------------------------------------------------------------------ isSimpleCommand

bool isSimpleCommand(std::string_view script) {
  if (script.ends_with('\n')) script.remove_suffix(1);
  if (script.empty()) return false;
  for (char c : script) {
    if (c != ' ' && !isWordCharacter(c)) return false;
  }
  std::vector<std::string_view> words = splitWords(script);
  if (std::any_of(words.begin(), words.end(), [](std::string_view w) { return w.empty(); })) {
    return false;
  }
  std::string_view name = words.front();
  if (name.find('=') != std::string_view::npos || name.starts_with('%')) return false;
  if (isOneOf(kBashKeywords, name)) return false;
  if (!isOneOf(kBashBuiltins, name)) return true;
  if (!isOneOf(kBuiltinsWithTwins, name)) return false;
  if (std::any_of(words.begin() + 1, words.end(),
                  [](std::string_view w) { return w.starts_with("--"); })) {
    return false;
  }
  if (name == "printf") {
    return words.size() == 2 && !words[1].starts_with('-') &&
           words[1].find('%') == std::string_view::npos;
  }
  return true;
}

bool isSingleCommand(std::string_view script) {
  if (script.ends_with('\n')) script.remove_suffix(1);
  if (script.find_first_not_of(" \t") == std::string_view::npos) return false;
  char quote = 0;
  for (size_t i = 0; i < script.size(); ++i) {
    char c = script[i];
    if (quote == '\'') {
      if (c == '\'') quote = 0;
      continue;
    }
    if (c == '\\') {
      if (i + 1 < script.size() && script[i + 1] == '\n') return false;
      ++i;
      continue;
    }
    if (c == '`' || (c == '$' && i + 1 < script.size() && script[i + 1] == '(')) return false;
    if (quote == '"') {
      if (c == '"') quote = 0;
      continue;
    }
    if (c == '\'' || c == '"') {
      quote = c;
      continue;
    }
    if (c == ';' || c == '&' || c == '|' || c == '\n' || c == '(' || c == ')' || c == '{' ||
        c == '}' || c == '#') {
      return false;
    }
  }
  return quote == 0;
}

// ------------------------------------------------------------------ ProcessRunner

namespace {
/// Numbers the processes of all runners of this process, for their tags and cgroups.
std::atomic<uint64_t> processSerial{0};
}  // namespace

struct ProcessRunner::Process {
  enum class Phase {
    Running,   ///< the main process runs
    Settling,  ///< the main process is reaped; its descendants are being stopped
    Reaping,   ///< the result is in finished_; descendants killed at the end of the grace
               ///< period are being reaped
    Done,      ///< nothing is left to do
  };

  Process(ProcessRequest& request, Instant started, uint64_t logLimit)
      : token(request.token),
        deadline(request.deadline),
        started(started),
        log(request.logPath, logLimit),
        redactor(std::move(request.redact)) {}

  uint64_t token;
  std::optional<Instant> deadline;
  Instant started;
  pid_t pid = -1;      ///< the main process, and the id of its process group
  UniqueFd exitWatch;  ///< pidfd of the main process, until it is reaped
  UniqueFd output;
  std::string nothingChangedMarker;
  /// Created at the first output: a step that prints nothing (most of them) costs no file.
  StepLog log;
  StreamRedactor redactor;
  OutputTail tail;
  std::string tag;  ///< the kProcessTagVariable of its processes
  std::optional<Cgroup> cgroup;

  Phase phase = Phase::Running;
  std::optional<Outcome> stoppedFor;  ///< TimedOut or Cancelled
  bool termSent = false;
  bool killSent = false;
  std::optional<Instant> killAt;  ///< when SIGTERM has had its grace period
  int exitCode = 0;
  std::string lostStatus;  ///< why the main process's status is unknown
  /// Watched while settling and reaping; a pidfd is reset once its process has exited.
  std::vector<Descendant> descendants;
  std::set<pid_t> signalled;  ///< descendants sent SIGTERM
  /// The pids, groups and sessions of the descendants seen, and the main process's: a child of
  /// the runner that exits with one of them is one of ours to reap.
  std::set<pid_t> knownIds;

  void record(std::string_view text) {
    tail.append(text);
    log.append(text);
  }

  bool watchingDescendants() const {
    return std::any_of(descendants.begin(), descendants.end(),
                       [](const Descendant& descendant) { return descendant.pidfd.valid(); });
  }
};

ProcessRunner::ProcessRunner(const Clock& clock, Milliseconds gracePeriod)
    : clock_(clock), gracePeriod_(gracePeriod), readBuffer_(kReadChunk) {}

ProcessRunner::~ProcessRunner() {
  Instant now = clock_.now();
  for (const std::unique_ptr<Process>& process : processes_) {
    if (process->phase == Process::Phase::Running && !process->termSent) {
      process->stoppedFor = Outcome::Cancelled;
      stop(*process, now);
    }
  }
  while (active() > 0) wait(std::nullopt);
  // Descendants killed at the end of a grace period go at once, unless stuck in the kernel: after
  // another grace period, they are left to init.
  Instant giveUp = clock_.now() + gracePeriod_;
  for (Instant at = clock_.now(); !processes_.empty() && at < giveUp; at = clock_.now()) {
    pollOnce(at, giveUp);
  }
}

bool ProcessRunner::cgroupsAvailable() {
  if (!useCgroups_ || !cgroupsWork_) return false;
  if (!cgroupFolder_) {
    std::string ignored;  // any reason is the machine's: do without
    cgroupFolder_ = CgroupFolder::create(ignored);
    cgroupsWork_ = cgroupFolder_ != nullptr;
  }
  return cgroupsWork_;
}

void ProcessRunner::start(ProcessRequest request) {
  Instant now = clock_.now();
  enum class Log { Write, Skip };  // Skip: the log's folder is missing
  auto endEarly = [&](Outcome outcome, std::string detail, Log writeLog) {
    ProcessResult result;
    if (writeLog == Log::Write) {
      StepLog log(request.logPath, logLimit_);
      log.append(detail + "\n");
      log.finish();
      result.logError = log.error();
    }
    result.token = request.token;
    result.outcome = outcome;
    result.exitCode = 0;
    result.detail = std::move(detail);
    result.started = now;
    result.finished = now;
    finished_.push_back(std::move(result));
  };

  try {
    // The log itself is created at the first output; its folder now, once.
    if (!request.logPath.empty()) {
      std::filesystem::path folder = std::filesystem::path(request.logPath).parent_path();
      if (!folder.empty() && !logFolders_.count(folder.string())) {
        std::error_code error;
        std::filesystem::create_directories(folder, error);
        if (!std::filesystem::is_directory(folder, error)) {
          return endEarly(
              Outcome::SpawnFailed,
              fmt::format("cannot start: cannot create the log folder '{}'", folder.string()),
              Log::Skip);
        }
        logFolders_.insert(folder.string());
      }
    }
    if (!request.workdir.empty()) {
      static RecentAnswers<std::string> workdirProblems;
      std::string problem = workdirProblems.get(request.workdir, [&]() -> std::string {
        struct stat info;
        if (::stat(request.workdir.c_str(), &info) != 0) {
          return errno == ENOENT ? fmt::format("no such directory '{}'", request.workdir)
                                 : fmt::format("cannot use the directory '{}': {}", request.workdir,
                                               errorText(errno));
        }
        if (!S_ISDIR(info.st_mode)) return fmt::format("'{}' is not a directory", request.workdir);
        if (::access(request.workdir.c_str(), X_OK) != 0) {
          return fmt::format("cannot enter the directory '{}': {}", request.workdir,
                             errorText(errno));
        }
        return "";
      });
      if (!problem.empty()) {
        return endEarly(Outcome::SpawnFailed, "cannot start: " + problem, Log::Write);
      }
    }
    if (request.deadline && *request.deadline <= now) {
      return endEarly(Outcome::TimedOut, "not started: its deadline had already passed",
                      Log::Write);
    }

    if (!request.nothingChangedMarker.empty()) {
      ::unlink(request.nothingChangedMarker.c_str());  // left by a killed runner
      request.env.emplace_back(kNothingChangedVariable, request.nothingChangedMarker);
    }
    uint64_t serial = ++processSerial;
    std::string tag = fmt::format("{}-{}", ::getpid(), serial);
    request.env.emplace_back(kProcessTagVariable, tag);
    std::vector<std::string> environment = childEnvironment(request);
    std::optional<Cgroup> cgroup;
    if (cgroupsAvailable()) {
      std::string ignored;  // without its cgroup, the process is followed as on any machine
      cgroup = cgroupFolder_->newCgroup(serial, ignored);
    }
    UniqueFd joining = cgroup ? cgroup->openForJoining() : UniqueFd();
    Spawned spawned;
    if (std::optional<Launch> direct = directLaunch(request.script, environment, request.workdir)) {
      // A failed exec is bash's to report (127, 126, or a script without #!): fall back to it.
      spawned = spawnChild(*direct, request.workdir, joining.get());
    }
    if (spawned.pid < 0) {
      spawned = spawnChild(bashLaunch(request.script, std::move(environment)), request.workdir,
                           joining.get());
    }
    joining.reset();
    if (spawned.pid < 0) {
      return endEarly(Outcome::SpawnFailed, "cannot start: " + spawned.error, Log::Write);
    }
    if (cgroup && !spawned.joinedCgroup) {
      // We may make cgroups here but not move processes into them: do without from now on.
      cgroup.reset();
      cgroupsWork_ = false;
    }
    UniqueFd exitWatch(openPidfd(spawned.pid));
    if (!exitWatch.valid()) {
      std::string why = errorText(errno);
      ::kill(-spawned.pid, SIGKILL);
      if (cgroup) cgroup->killAll();
      int status = 0;
      while (::waitpid(spawned.pid, &status, 0) < 0 && errno == EINTR) {
      }
      return endEarly(Outcome::SpawnFailed, "cannot start: cannot watch the process: " + why,
                      Log::Write);
    }

    auto process = std::make_unique<Process>(request, now, logLimit_);
    process->pid = spawned.pid;
    process->exitWatch = std::move(exitWatch);
    process->output = std::move(spawned.output);
    process->nothingChangedMarker = request.nothingChangedMarker;
    process->tag = std::move(tag);
    process->cgroup = std::move(cgroup);
    process->knownIds.insert(spawned.pid);
    processes_.push_back(std::move(process));
  } catch (const std::exception& exception) {
    endEarly(Outcome::SpawnFailed, fmt::format("cannot start: {}", exception.what()), Log::Skip);
  }
}

std::vector<ProcessResult> ProcessRunner::wait(std::optional<Instant> until) {
  while (true) {
    Instant now = clock_.now();
    fireTimers(now);
    if (!finished_.empty()) return std::exchange(finished_, {});
    if (active() == 0) {
      // Descendants killed at the end of a grace period may be waiting to be reaped: a look.
      if (!processes_.empty()) pollOnce(now, now);
      return {};
    }
    bool expired = until && now >= *until;
    std::optional<Instant> wake = expired ? std::optional<Instant>(now) : until;
    if (std::optional<Instant> timer = nextTimer(); timer && (!wake || *timer < *wake)) {
      wake = timer;
    }
    pollOnce(now, wake);
    if (expired) return std::exchange(finished_, {});
  }
}

void ProcessRunner::cancel(uint64_t token) {
  for (const std::unique_ptr<Process>& process : processes_) {
    if (process->token != token || process->phase == Process::Phase::Reaping) continue;
    if (process->phase == Process::Phase::Running && !process->termSent) {
      process->stoppedFor = Outcome::Cancelled;
      stop(*process, clock_.now());
    }
    return;
  }
}

size_t ProcessRunner::running() const {
  return active() + finished_.size();
}

size_t ProcessRunner::active() const {
  return static_cast<size_t>(
      std::count_if(processes_.begin(), processes_.end(), [](const std::unique_ptr<Process>& p) {
        return p->phase == Process::Phase::Running || p->phase == Process::Phase::Settling;
      }));
}

bool ProcessRunner::isMainProcess(pid_t pid) const {
  return std::any_of(processes_.begin(), processes_.end(), [&](const std::unique_ptr<Process>& p) {
    return p->pid == pid && p->exitWatch.valid();
  });
}

void ProcessRunner::fireTimers(Instant now) {
  for (const std::unique_ptr<Process>& process : processes_) {
    bool running = process->phase == Process::Phase::Running;
    bool settling = process->phase == Process::Phase::Settling;
    if (running && !process->termSent && process->deadline && now >= *process->deadline) {
      process->stoppedFor = Outcome::TimedOut;
      stop(*process, now);
    }
    if ((running || settling) && !process->killSent && process->killAt && now >= *process->killAt) {
      killEverything(*process);
      // While running, the main process's exit comes through its pidfd and completes it.
      if (settling) complete(*process, now);
    }
  }
  sweep();
}

std::optional<Instant> ProcessRunner::nextTimer() const {
  std::optional<Instant> next;
  auto consider = [&](Instant at) {
    if (!next || at < *next) next = at;
  };
  for (const std::unique_ptr<Process>& process : processes_) {
    bool running = process->phase == Process::Phase::Running;
    bool settling = process->phase == Process::Phase::Settling;
    if (running && !process->termSent && process->deadline) consider(*process->deadline);
    if ((running || settling) && !process->killSent && process->killAt) {
      consider(*process->killAt);
    }
  }
  return next;
}

void ProcessRunner::pollOnce(Instant now, std::optional<Instant> wake) {
  enum class Source { Output, MainExit, Descendant };
  struct Watch {
    Process* process;
    Source source;
    size_t descendant;
  };
  std::vector<pollfd> fds;
  std::vector<Watch> watches;
  auto watch = [&](int fd, Process* process, Source source, size_t descendant = 0) {
    fds.push_back(pollfd{fd, POLLIN, 0});
    watches.push_back(Watch{process, source, descendant});
  };
  for (const std::unique_ptr<Process>& process : processes_) {
    if (process->output.valid()) watch(process->output.get(), process.get(), Source::Output);
    if (process->exitWatch.valid()) {
      watch(process->exitWatch.get(), process.get(), Source::MainExit);
    }
    for (size_t i = 0; i < process->descendants.size(); ++i) {
      if (process->descendants[i].pidfd.valid()) {
        watch(process->descendants[i].pidfd.get(), process.get(), Source::Descendant, i);
      }
    }
  }
  int timeout = -1;
  if (wake) timeout = static_cast<int>(std::clamp<int64_t>((*wake - now).count(), 0, INT_MAX));
  if (fds.empty() && timeout < 0) return;
  if (::poll(fds.data(), fds.size(), timeout) <= 0) return;  // the caller looks at the clock

  Instant at = clock_.now();
  // Output first: a main process's last words are read before its exit completes it.
  for (size_t i = 0; i < fds.size(); ++i) {
    if (fds[i].revents != 0 && watches[i].source == Source::Output) {
      readOutput(*watches[i].process);
    }
  }
  std::vector<Process*> lostDescendants;
  for (size_t i = 0; i < fds.size(); ++i) {
    if (fds[i].revents == 0) continue;
    Process& process = *watches[i].process;
    if (watches[i].source == Source::MainExit && process.phase == Process::Phase::Running) {
      onMainExit(process, at);
    } else if (watches[i].source == Source::Descendant) {
      UniqueFd& pidfd = process.descendants[watches[i].descendant].pidfd;
      reapIfExitedChild(pidfd.get());
      pidfd.reset();
      if (std::find(lostDescendants.begin(), lostDescendants.end(), &process) ==
          lostDescendants.end()) {
        lostDescendants.push_back(&process);
      }
    }
  }
  for (Process* process : lostDescendants) {
    bool watching =
        process->phase == Process::Phase::Settling || process->phase == Process::Phase::Reaping;
    // Once all have exited, look again: they may have forked while dying.
    if (watching && !process->watchingDescendants()) watchDescendants(*process, at);
  }
  sweep();
}

void ProcessRunner::readOutput(Process& process) {
  for (int reads = 0; reads < kReadsPerWake && process.output.valid(); ++reads) {
    ssize_t length = ::read(process.output.get(), readBuffer_.data(), readBuffer_.size());
    if (length > 0) {
      process.record(
          process.redactor.feed(std::string_view(readBuffer_.data(), static_cast<size_t>(length))));
      continue;
    }
    if (length < 0 && errno == EINTR) continue;
    if (length < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    process.output.reset();  // end of file: every writer is gone
  }
}

void ProcessRunner::onMainExit(Process& process, Instant now) {
  int status = 0;
  pid_t reaped = ::waitpid(process.pid, &status, WNOHANG);
  if (reaped == 0) return;
  if (reaped == process.pid) {
    process.exitCode = exitCodeOf(status);
  } else {
    process.exitCode = -1;
    process.lostStatus = fmt::format("the exit status was lost: {}", errorText(errno));
  }
  process.exitWatch.reset();
  readOutput(process);
  settle(process, now);
}

// SIGTERM to the process group, and to the descendants that left it. They are found first, while
// they can all show their tag.
void ProcessRunner::stop(Process& process, Instant now) {
  FoundDescendants found = findDescendants(process);
  ::kill(-process.pid, SIGTERM);
  ::kill(-process.pid, SIGCONT);  // a stopped member would not see SIGTERM until the SIGKILL
  terminate(process, found.live);
  process.termSent = true;
  process.killAt = now + gracePeriod_;
}

// SIGTERM to those of `descendants` that have not had it yet.
void ProcessRunner::terminate(Process& process, const std::vector<Descendant>& descendants) {
  for (const Descendant& descendant : descendants) {
    if (!process.signalled.insert(descendant.pid).second) continue;
    signalProcess(descendant.pidfd.get(), SIGTERM);
    signalProcess(descendant.pidfd.get(), SIGCONT);
  }
}

// The end of the grace period: SIGKILL to the process group, the cgroup and every descendant.
// The descendants are found first, while they live, so that they are watched until reaped.
void ProcessRunner::killEverything(Process& process) {
  FoundDescendants found = findDescendants(process);
  ::kill(-process.pid, SIGKILL);
  if (process.cgroup) process.cgroup->killAll();
  for (Descendant& descendant : found.live) {
    signalProcess(descendant.pidfd.get(), SIGKILL);
    process.descendants.push_back(std::move(descendant));
  }
  process.killSent = true;
}

// The main process is reaped: stop its descendants, if any are left, before completing.
void ProcessRunner::settle(Process& process, Instant now) {
  process.phase = Process::Phase::Settling;
  if (!process.killSent) return watchDescendants(process, now);
  killEverything(process);
  complete(process, now);
}

// Looks for the descendants left, reaps those that exited, and watches the others through their
// pidfds after SIGTERM (SIGKILL once reaping); completes (or, reaping, lets go) when there are
// none. When one cannot be watched, the SIGKILL at the end of the grace period settles it.
void ProcessRunner::watchDescendants(Process& process, Instant now) {
  bool reaping = process.phase == Process::Phase::Reaping;
  for (int scan = 0; scan < kDescendantScans; ++scan) {
    FoundDescendants found = findDescendants(process);
    if (found.live.empty() && !found.unwatchable) {
      if (found.vanished) continue;  // their children may have come back to us meanwhile
      break;
    }
    if (reaping) {
      for (const Descendant& descendant : found.live) {
        signalProcess(descendant.pidfd.get(), SIGKILL);
      }
    } else {
      if (!process.termSent) {
        // The group's id stays taken while any member lives; once it is empty, the id could name
        // another group only if the pid counter wrapped around since the main process was reaped.
        ::kill(-process.pid, SIGTERM);
        ::kill(-process.pid, SIGCONT);
        process.termSent = true;
        process.killAt = now + gracePeriod_;
      }
      terminate(process, found.live);
    }
    process.descendants = std::move(found.live);
    if (reaping && !process.watchingDescendants()) break;  // nothing it can watch: let go
    reapExitedDescendants(process);
    return;
  }
  process.descendants.clear();
  if (reaping) return release(process);
  complete(process, now);
}

FoundDescendants ProcessRunner::findDescendants(Process& process) {
  DescendantQuery query;
  query.main = process.pid;
  query.mainRunning = process.exitWatch.valid();
  query.tag = process.tag;
  query.cgroup = process.cgroup ? &*process.cgroup : nullptr;
  query.orphansComeBack = subreaper_.active();
  query.isMainProcess = [this](pid_t pid) { return isMainProcess(pid); };
  query.isKnown = [&](pid_t pid, const ProcStat& stat) { return isKnown(process, pid, stat); };
  FoundDescendants found = runtime::findDescendants(query);
  if (found.live.empty()) return found;
  pid_t ownGroup = ::getpgrp();
  pid_t ownSession = ::getsid(0);
  for (const Descendant& descendant : found.live) {
    for (pid_t id : {descendant.pid, descendant.stat.group, descendant.stat.session}) {
      if (id != ownGroup && id != ownSession) process.knownIds.insert(id);
    }
  }
  return found;
}

bool ProcessRunner::isKnown(const Process& process, pid_t pid, const ProcStat& stat) {
  return process.knownIds.count(pid) || process.knownIds.count(stat.group) ||
         process.knownIds.count(stat.session);
}

void ProcessRunner::reapExitedDescendants(Process& process) {
  reapExitedChildren([this](pid_t pid) { return isMainProcess(pid); },
                     [&](pid_t pid, const ProcStat& stat) {
                       return isKnown(process, pid, stat) ||
                              (process.cgroup && cgroupOf(pid) == process.cgroup->name());
                     });
}

void ProcessRunner::complete(Process& process, Instant now) {
  readOutput(process);
  process.record(process.redactor.finish());
  process.output.reset();

  ProcessResult result;
  result.token = process.token;
  result.outcome = process.stoppedFor.value_or(Outcome::Exited);
  result.exitCode = process.exitCode;
  result.started = process.started;
  result.finished = now;
  if (!process.nothingChangedMarker.empty()) {
    // Only the step's own process may say so: a command among others in a
    // script cannot vouch for what the ones before it did.
    // Read with plain calls: most processes leave no marker, and an ifstream's failed open
    // costs more than the two system calls it takes to find that out.
    UniqueFd marker(::open(process.nothingChangedMarker.c_str(), O_RDONLY | O_CLOEXEC));
    if (marker.valid() || errno != ENOENT) {
      std::array<char, 32> text{};
      ssize_t length = marker.valid() ? ::read(marker.get(), text.data(), text.size() - 1) : -1;
      pid_t writer = 0;
      bool marked = length > 0 && std::sscanf(text.data(), "%d", &writer) == 1;
      result.nothingChanged = marked && writer == process.pid && !result.succeeded();
      ::unlink(process.nothingChangedMarker.c_str());
    }
  }
  process.log.finish();
  result.logError = process.log.error();
  result.logOmittedBytes = process.log.omittedBytes();
  std::vector<std::string> notes;
  if (!process.lostStatus.empty()) notes.push_back(process.lostStatus);
  if (!result.logError.empty()) notes.push_back("the log is incomplete: " + result.logError);
  if (!result.succeeded()) {
    std::string lines = process.tail.lastLines(kDetailLines);
    if (!lines.empty()) notes.insert(notes.begin(), std::move(lines));
  }
  result.detail = fmt::format("{}", fmt::join(notes, "\n"));
  finished_.push_back(std::move(result));
  process.phase = Process::Phase::Reaping;
  if (!process.watchingDescendants()) release(process);
}

// Nothing of the process is left to watch: reaps the descendants that came back to the runner
// as they exited, and removes the cgroup.
void ProcessRunner::release(Process& process) {
  reapExitedDescendants(process);
  process.descendants.clear();
  if (process.cgroup) cgroupFolder_->giveBack(std::move(*process.cgroup));
  process.cgroup.reset();
  process.phase = Process::Phase::Done;
}

void ProcessRunner::sweep() {
  std::erase_if(processes_, [](const std::unique_ptr<Process>& process) {
    return process->phase == Process::Phase::Done;
  });
}

}  // namespace mig::runtime
