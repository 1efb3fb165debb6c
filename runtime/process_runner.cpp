#include "runtime/process_runner.h"

#include "runtime/nothing_changed.h"
#include "runtime/step_log.h"

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
#include <chrono>
#include <map>
#include <array>

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
/// How often a group whose members vanish before they can be watched is looked at again.
constexpr int kLeftoverScans = 3;

std::string errorText(int error) {
  return std::system_category().message(error);
}

/// A descriptor that polls readable once `pid` has exited. Through syscall(): glibc 2.36's
/// <sys/pidfd.h> declares pidfd_open without extern "C".
int openPidfd(pid_t pid) {
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
}

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  ~UniqueFd() { reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

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

/// The child's side of a Boost.Process launch: its own process group, default signal handling,
/// stdin from /dev/null, the working directory, and no descriptors but 0-2 across exec.
///
/// The child is vforked: until execve it runs on the parent's memory, so it makes system calls
/// only — no allocation, no handler of the parent's (signals are blocked around the launch, and
/// handlers are reset before they are unblocked), errors reported in strings short enough to
/// stay inside std::string.
class ChildSetup : public bp::extend::handler {
 public:
  ChildSetup(const char* program, char* const* argv, char** envp, const char* workdir, int devNull,
             pid_t& forkedPid)
      : program_(program),
        argv_(argv),
        envp_(envp),
        workdir_(workdir),
        devNull_(devNull),
        forkedPid_(forkedPid) {}

  template <class Executor>
  void on_setup(Executor& exec) const {
    exec.exe = program_;
    exec.cmd_line = argv_;
    exec.env = envp_;
  }

  template <class Executor>
  void on_exec_setup(Executor& exec) const {
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
};

Spawned spawnChild(const Launch& launch, const std::string& workdir) {
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
                     workdir.empty() ? nullptr : workdir.c_str(), devNull.get(), forkedPid);
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

/// The processes of group `group` that have not exited: its members other than the main process
/// are not our children, so /proc is the only place that knows them.
std::vector<pid_t> liveGroupMembers(pid_t group) {
  std::vector<pid_t> members;
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) return members;
  while (dirent* entry = ::readdir(proc)) {
    pid_t pid = 0;
    std::string_view name = entry->d_name;
    auto [end, error] = std::from_chars(name.data(), name.data() + name.size(), pid);
    if (error != std::errc() || end != name.data() + name.size()) continue;
    if (::getpgid(pid) != group) continue;
    // An exited member waits for its new parent (init) to reap it: it counts as gone.
    UniqueFd stat(::open(fmt::format("/proc/{}/stat", pid).c_str(), O_RDONLY | O_CLOEXEC));
    if (!stat.valid()) continue;
    std::array<char, 512> buffer{};
    ssize_t length = ::read(stat.get(), buffer.data(), buffer.size() - 1);
    if (length <= 0) continue;
    std::string_view text(buffer.data(), static_cast<size_t>(length));
    size_t commandEnd = text.rfind(')');
    if (commandEnd == std::string_view::npos || commandEnd + 2 >= text.size()) continue;
    char state = text[commandEnd + 2];
    if (state != 'Z' && state != 'X' && state != 'x') members.push_back(pid);
  }
  ::closedir(proc);
  return members;
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

struct ProcessRunner::Process {
  enum class Phase {
    Running,   ///< the main process runs
    Settling,  ///< the main process is reaped; the rest of its group is being stopped
    Done,      ///< the result is in finished_
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
  UniqueFd exitWatch;  ///< pidfd of the main process
  UniqueFd output;
  std::string nothingChangedMarker;
  /// Created at the first output: a step that prints nothing (most of them) costs no file.
  StepLog log;
  StreamRedactor redactor;
  OutputTail tail;

  Phase phase = Phase::Running;
  std::optional<Outcome> stoppedFor;  ///< TimedOut or Cancelled
  bool termSent = false;
  bool killSent = false;
  std::optional<Instant> killAt;  ///< when SIGTERM has had its grace period
  int exitCode = 0;
  std::string lostStatus;           ///< why the main process's status is unknown
  std::vector<UniqueFd> leftovers;  ///< pidfds of the group's other members, while settling

  void record(std::string_view text) {
    tail.append(text);
    log.append(text);
  }
};

ProcessRunner::ProcessRunner(const Clock& clock, Milliseconds gracePeriod)
    : clock_(clock), gracePeriod_(gracePeriod), readBuffer_(kReadChunk) {}

ProcessRunner::~ProcessRunner() {
  Instant now = clock_.now();
  for (const std::unique_ptr<Process>& process : processes_) {
    if (process->phase == Process::Phase::Running && !process->termSent) {
      process->stoppedFor = Outcome::Cancelled;
      stopGroup(*process, now);
    }
  }
  while (!processes_.empty()) wait(std::nullopt);
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
    std::vector<std::string> environment = childEnvironment(request);
    Spawned spawned;
    if (std::optional<Launch> direct = directLaunch(request.script, environment, request.workdir)) {
      // A failed exec is bash's to report (127, 126, or a script without #!): fall back to it.
      spawned = spawnChild(*direct, request.workdir);
    }
    if (spawned.pid < 0) {
      spawned = spawnChild(bashLaunch(request.script, std::move(environment)), request.workdir);
    }
    if (spawned.pid < 0) {
      return endEarly(Outcome::SpawnFailed, "cannot start: " + spawned.error, Log::Write);
    }
    UniqueFd exitWatch(openPidfd(spawned.pid));
    if (!exitWatch.valid()) {
      std::string why = errorText(errno);
      ::kill(-spawned.pid, SIGKILL);
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
    if (processes_.empty()) return {};
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
    if (process->token != token) continue;
    if (process->phase == Process::Phase::Running && !process->termSent) {
      process->stoppedFor = Outcome::Cancelled;
      stopGroup(*process, clock_.now());
    }
    return;
  }
}

size_t ProcessRunner::running() const {
  return processes_.size() + finished_.size();
}

void ProcessRunner::fireTimers(Instant now) {
  for (const std::unique_ptr<Process>& process : processes_) {
    if (process->phase == Process::Phase::Running && !process->termSent && process->deadline &&
        now >= *process->deadline) {
      process->stoppedFor = Outcome::TimedOut;
      stopGroup(*process, now);
    }
    if (process->phase != Process::Phase::Done && !process->killSent && process->killAt &&
        now >= *process->killAt) {
      ::kill(-process->pid, SIGKILL);
      process->killSent = true;
      // While running, the main process's exit comes through its pidfd and completes it.
      if (process->phase == Process::Phase::Settling) complete(*process, now);
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
    if (process->phase == Process::Phase::Running && !process->termSent && process->deadline) {
      consider(*process->deadline);
    }
    if (process->phase != Process::Phase::Done && !process->killSent && process->killAt) {
      consider(*process->killAt);
    }
  }
  return next;
}

void ProcessRunner::pollOnce(Instant now, std::optional<Instant> wake) {
  enum class Source { Output, MainExit, Leftover };
  struct Watch {
    Process* process;
    Source source;
    size_t leftover;
  };
  std::vector<pollfd> fds;
  std::vector<Watch> watches;
  auto watch = [&](int fd, Process* process, Source source, size_t leftover = 0) {
    fds.push_back(pollfd{fd, POLLIN, 0});
    watches.push_back(Watch{process, source, leftover});
  };
  for (const std::unique_ptr<Process>& process : processes_) {
    if (process->output.valid()) watch(process->output.get(), process.get(), Source::Output);
    if (process->exitWatch.valid()) {
      watch(process->exitWatch.get(), process.get(), Source::MainExit);
    }
    for (size_t i = 0; i < process->leftovers.size(); ++i) {
      if (process->leftovers[i].valid()) {
        watch(process->leftovers[i].get(), process.get(), Source::Leftover, i);
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
  std::vector<Process*> settling;
  for (size_t i = 0; i < fds.size(); ++i) {
    if (fds[i].revents == 0) continue;
    Process& process = *watches[i].process;
    if (watches[i].source == Source::MainExit && process.phase == Process::Phase::Running) {
      onMainExit(process, at);
    } else if (watches[i].source == Source::Leftover && process.phase == Process::Phase::Settling) {
      process.leftovers[watches[i].leftover].reset();
      settling.push_back(&process);
    }
  }
  for (Process* process : settling) {
    if (process->phase != Process::Phase::Settling) continue;
    bool allGone = std::none_of(process->leftovers.begin(), process->leftovers.end(),
                                [](const UniqueFd& fd) { return fd.valid(); });
    if (allGone) watchLeftovers(*process, at);  // members may have forked while dying
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
  settleGroup(process, now);
}

void ProcessRunner::stopGroup(Process& process, Instant now) {
  ::kill(-process.pid, SIGTERM);
  ::kill(-process.pid, SIGCONT);  // a stopped member would not see SIGTERM until the SIGKILL
  process.termSent = true;
  process.killAt = now + gracePeriod_;
}

// The main process is reaped: stop the rest of its group, if any, before completing. The group's
// id stays taken while any member lives; once it is empty, the id could name another group only
// if the pid counter wrapped around between the reaping and the kill.
void ProcessRunner::settleGroup(Process& process, Instant now) {
  process.phase = Process::Phase::Settling;
  if (process.killSent) {
    ::kill(-process.pid, SIGKILL);
    return complete(process, now);
  }
  if (!process.termSent) {
    if (::kill(-process.pid, SIGTERM) != 0) return complete(process, now);  // nobody left
    ::kill(-process.pid, SIGCONT);
    process.termSent = true;
    process.killAt = now + gracePeriod_;
  } else if (::kill(-process.pid, 0) != 0) {
    return complete(process, now);
  }
  watchLeftovers(process, now);
}

// Watches the group's remaining members through pidfds; completes when there are none. When a
// member cannot be watched, the SIGKILL at the end of the grace period settles it.
void ProcessRunner::watchLeftovers(Process& process, Instant now) {
  process.leftovers.clear();
  for (int scan = 0; scan < kLeftoverScans; ++scan) {
    std::vector<pid_t> members = liveGroupMembers(process.pid);
    if (members.empty()) return complete(process, now);
    bool unwatchable = false;
    for (pid_t member : members) {
      UniqueFd fd(openPidfd(member));
      if (!fd.valid()) {
        if (errno != ESRCH) unwatchable = true;
        continue;
      }
      // The pid may have been reused between the scan and pidfd_open.
      if (::getpgid(member) == process.pid) process.leftovers.push_back(std::move(fd));
    }
    if (!process.leftovers.empty() || unwatchable) return;
  }
}

void ProcessRunner::complete(Process& process, Instant now) {
  readOutput(process);
  process.record(process.redactor.finish());
  process.output.reset();
  process.leftovers.clear();

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
  process.phase = Process::Phase::Done;
  finished_.push_back(std::move(result));
}

void ProcessRunner::sweep() {
  std::erase_if(processes_, [](const std::unique_ptr<Process>& process) {
    return process->phase == Process::Phase::Done;
  });
}

}  // namespace mig::runtime
