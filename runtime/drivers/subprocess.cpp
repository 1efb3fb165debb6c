#include "runtime/drivers/subprocess.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <thread>

extern char** environ;

namespace mig::drivers {
namespace {

using Clock = std::chrono::steady_clock;

/// How often a child whose output stays open is checked for having exited.
constexpr int kExitCheckMs = 100;

/// A file descriptor closed when it goes out of scope.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { close(); }

  int get() const { return fd_; }
  bool open() const { return fd_ >= 0; }
  void reset(int fd) {
    close();
    fd_ = fd;
  }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

/// posix_spawn's attribute and file-action objects, destroyed on scope exit.
struct SpawnSetup {
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attributes;
  SpawnSetup() {
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attributes);
  }
  ~SpawnSetup() {
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attributes);
  }
  SpawnSetup(const SpawnSetup&) = delete;
  SpawnSetup& operator=(const SpawnSetup&) = delete;
};

std::vector<std::string> childEnvironment(const SubprocessRequest& request) {
  auto replaced = [&](std::string_view entry) {
    std::string_view name = entry.substr(0, entry.find('='));
    for (const auto& [key, value] : request.env) {
      if (key == name) return true;
    }
    for (const auto& key : request.unsetEnv) {
      if (key == name) return true;
    }
    return false;
  };
  std::vector<std::string> env;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    if (!replaced(*entry)) env.emplace_back(*entry);
  }
  for (const auto& [key, value] : request.env) env.push_back(key + "=" + value);
  return env;
}

std::vector<char*> pointersTo(std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  pointers.reserve(strings.size() + 1);
  for (auto& text : strings) pointers.push_back(text.data());
  pointers.push_back(nullptr);
  return pointers;
}

bool setNonBlocking(int fd) {
  int flags = ::fcntl(fd, F_GETFL);
  return flags >= 0 && ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0;
}

/// Reads what is there; false at end of file (or on an error).
bool drain(int fd, std::string& into) {
  std::array<char, 65536> buffer;
  while (true) {
    ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n > 0) {
      into.append(buffer.data(), static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
    return false;
  }
}

void recordStatus(int status, SubprocessResult& result) {
  if (WIFEXITED(status)) {
    result.exitCode = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result.signal = WTERMSIG(status);
    result.exitCode = 128 + result.signal;
  }
}

/// Waits for `pid` until `deadline` (if any); false when the deadline came first.
bool reap(pid_t pid, std::optional<Clock::time_point> deadline, SubprocessResult& result) {
  while (true) {
    int status = 0;
    pid_t done = ::waitpid(pid, &status, deadline ? WNOHANG : 0);
    if (done == pid) {
      recordStatus(status, result);
      return true;
    }
    if (done < 0 && errno == EINTR) continue;
    if (done < 0) {
      result.error = fmt::format("cannot wait for the child: {}", std::strerror(errno));
      return true;
    }
    if (Clock::now() >= *deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

}  // namespace

SubprocessResult runSubprocess(const SubprocessRequest& request) {
  SubprocessResult result;
  if (request.argv.empty()) {
    result.error = "no program to run";
    return result;
  }

  // stdin is a socket so that writing to a child that has exited fails with
  // EPIPE (MSG_NOSIGNAL) instead of raising SIGPIPE in this process.
  std::array<int, 2> inputPair;
  std::array<int, 2> outPipe;
  std::array<int, 2> errPipe;
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, inputPair.data()) != 0) {
    result.error = fmt::format("cannot create a socket pair: {}", std::strerror(errno));
    return result;
  }
  Fd inputParent(inputPair[0]);
  Fd inputChild(inputPair[1]);
  if (::pipe2(outPipe.data(), O_CLOEXEC) != 0) {
    result.error = fmt::format("cannot create a pipe: {}", std::strerror(errno));
    return result;
  }
  Fd outRead(outPipe[0]);
  Fd outWrite(outPipe[1]);
  if (::pipe2(errPipe.data(), O_CLOEXEC) != 0) {
    result.error = fmt::format("cannot create a pipe: {}", std::strerror(errno));
    return result;
  }
  Fd errRead(errPipe[0]);
  Fd errWrite(errPipe[1]);

  SpawnSetup setup;
  posix_spawn_file_actions_adddup2(&setup.actions, inputChild.get(), STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&setup.actions, outWrite.get(), STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&setup.actions, errWrite.get(), STDERR_FILENO);
  if (!request.workdir.empty()) {
    posix_spawn_file_actions_addchdir_np(&setup.actions, request.workdir.c_str());
  }
  // The child starts with no signal blocked and SIGPIPE at its default (a
  // caller that ignores SIGPIPE must not make `psql ... | ...` hang).
  sigset_t noSignals;
  sigemptyset(&noSignals);
  sigset_t defaultSignals;
  sigemptyset(&defaultSignals);
  sigaddset(&defaultSignals, SIGPIPE);
  short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
  if (request.ownProcessGroup) flags |= POSIX_SPAWN_SETPGROUP;
  posix_spawnattr_setflags(&setup.attributes, flags);
  posix_spawnattr_setpgroup(&setup.attributes, 0);
  posix_spawnattr_setsigmask(&setup.attributes, &noSignals);
  posix_spawnattr_setsigdefault(&setup.attributes, &defaultSignals);

  std::vector<std::string> argvStorage = request.argv;
  std::vector<std::string> envStorage = childEnvironment(request);
  std::vector<char*> argv = pointersTo(argvStorage);
  std::vector<char*> envp = pointersTo(envStorage);

  pid_t pid = 0;
  int spawnError =
      ::posix_spawnp(&pid, argv[0], &setup.actions, &setup.attributes, argv.data(), envp.data());
  inputChild.close();
  outWrite.close();
  errWrite.close();
  if (spawnError != 0) {
    result.error = fmt::format("cannot run {}: {}", request.argv[0], std::strerror(spawnError));
    return result;
  }
  result.started = true;

  std::optional<Clock::time_point> deadline;
  if (request.timeout) deadline = Clock::now() + *request.timeout;

  setNonBlocking(inputParent.get());
  setNonBlocking(outRead.get());
  setNonBlocking(errRead.get());
  size_t written = 0;
  if (request.input.empty()) inputParent.close();

  // Until the child has exited and its output is read. A background process
  // it leaves behind may hold stdout or stderr open for long: the child's
  // exit, not the end of its output, ends the wait.
  bool exited = false;
  while (outRead.open() || errRead.open()) {
    std::array<pollfd, 3> fds{};
    nfds_t count = 0;
    auto watch = [&](const Fd& fd, short events) {
      if (fd.open()) fds[count++] = pollfd{fd.get(), events, 0};
    };
    watch(inputParent, POLLOUT);
    watch(outRead, POLLIN);
    watch(errRead, POLLIN);
    int waitMs = kExitCheckMs;
    if (deadline) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*deadline - Clock::now());
      if (left.count() <= 0) {
        result.timedOut = true;
        break;
      }
      waitMs = static_cast<int>(std::min<long long>(left.count() + 1, kExitCheckMs));
    }
    int ready = ::poll(fds.data(), count, waitMs);
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) {
      result.error = fmt::format("cannot poll the child's output: {}", std::strerror(errno));
      break;
    }
    for (nfds_t i = 0; i < count; ++i) {
      if (fds[i].revents == 0) continue;
      if (inputParent.open() && fds[i].fd == inputParent.get()) {
        ssize_t n = ::send(inputParent.get(), request.input.data() + written,
                           request.input.size() - written, MSG_NOSIGNAL);
        if (n > 0) written += static_cast<size_t>(n);
        bool retry = n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR);
        // A child that stops reading (exited, or closed stdin) gets no more.
        if (written == request.input.size() || (n < 0 && !retry)) inputParent.close();
      } else if (outRead.open() && fds[i].fd == outRead.get()) {
        if (!drain(outRead.get(), result.out)) outRead.close();
      } else if (errRead.open() && fds[i].fd == errRead.get()) {
        if (!drain(errRead.get(), result.err)) errRead.close();
      }
    }
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      // Everything the child wrote is in the pipes by now.
      recordStatus(status, result);
      exited = true;
      if (outRead.open()) drain(outRead.get(), result.out);
      if (errRead.open()) drain(errRead.get(), result.err);
      break;
    }
  }
  inputParent.close();
  outRead.close();
  errRead.close();

  if (!exited && !result.timedOut && !reap(pid, deadline, result)) result.timedOut = true;
  if (result.timedOut) {
    if (request.ownProcessGroup) ::kill(-pid, SIGKILL);
    ::kill(pid, SIGKILL);
    reap(pid, std::nullopt, result);
  }
  return result;
}

std::string describeFailure(const SubprocessRequest& request, const SubprocessResult& result) {
  std::string program = request.argv.empty() ? "the program" : request.argv[0];
  if (!result.started) return result.error;
  if (result.timedOut) {
    long long ms = request.timeout ? request.timeout->count() : 0;
    if (ms % 1000 == 0) return fmt::format("{} timed out after {} s", program, ms / 1000);
    return fmt::format("{} timed out after {:.1f} s", program, static_cast<double>(ms) / 1000);
  }
  if (!result.error.empty()) return fmt::format("{}: {}", program, result.error);
  if (result.signal != 0) {
    return fmt::format("{} was killed by signal {} ({})", program, result.signal,
                       ::strsignal(result.signal));
  }
  return fmt::format("{} exited with status {}", program, result.exitCode);
}

}  // namespace mig::drivers
