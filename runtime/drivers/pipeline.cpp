#include "runtime/drivers/pipeline.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

extern char** environ;

namespace mig::drivers {
namespace {

/// A file descriptor closed when it goes out of scope.
class OwnedFd {
 public:
  OwnedFd() = default;
  explicit OwnedFd(int fd) : fd_(fd) {}
  OwnedFd(OwnedFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  OwnedFd& operator=(OwnedFd&& other) noexcept {
    close();
    fd_ = std::exchange(other.fd_, -1);
    return *this;
  }
  ~OwnedFd() { close(); }
  int get() const { return fd_; }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

Result<std::pair<OwnedFd, OwnedFd>> makePipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    return Error{fmt::format("cannot create a pipe: {}", std::strerror(errno))};
  }
  return std::pair<OwnedFd, OwnedFd>{OwnedFd(fds[0]), OwnedFd(fds[1])};
}

/// An anonymous in-memory file holding `contents`: read by a child as
/// /dev/fd/N, never on disk (it may hold password hashes).
Result<OwnedFd> memoryFile(const std::string& contents) {
  OwnedFd fd(::memfd_create("mig-input", MFD_CLOEXEC));
  if (fd.get() < 0)
    return Error{fmt::format("cannot create a memory file: {}", std::strerror(errno))};
  size_t written = 0;
  while (written < contents.size()) {
    ssize_t n = ::write(fd.get(), contents.data() + written, contents.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Error{fmt::format("cannot fill a memory file: {}", std::strerror(errno))};
    written += static_cast<size_t>(n);
  }
  return fd;
}

struct Spawned {
  pid_t pid = -1;
};

/// Spawns `argv` with `mapping` (child fd <- parent fd; -1 opens /dev/null)
/// and the environment plus `env`.
Result<Spawned> spawn(const std::vector<std::string>& argv,
                      const std::vector<std::pair<int, int>>& mapping,
                      const std::vector<std::pair<std::string, std::string>>& env) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  for (const auto& [child, parent] : mapping) {
    if (parent < 0) {
      posix_spawn_file_actions_addopen(&actions, child, "/dev/null", O_RDWR, 0);
    } else {
      posix_spawn_file_actions_adddup2(&actions, parent, child);
    }
  }
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  sigset_t none;
  sigemptyset(&none);
  sigset_t defaults;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setsigmask(&attributes, &none);
  posix_spawnattr_setsigdefault(&attributes, &defaults);

  std::vector<std::string> environment;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    std::string_view text(*entry);
    std::string_view name = text.substr(0, text.find('='));
    bool replaced = false;
    for (const auto& [key, value] : env) replaced = replaced || key == name;
    if (!replaced) environment.emplace_back(text);
  }
  for (const auto& [key, value] : env) environment.push_back(key + "=" + value);
  std::vector<char*> envp;
  for (std::string& entry : environment) envp.push_back(entry.data());
  envp.push_back(nullptr);
  std::vector<std::string> words = argv;
  std::vector<char*> args;
  for (std::string& word : words) args.push_back(word.data());
  args.push_back(nullptr);

  Spawned spawned;
  int error =
      ::posix_spawnp(&spawned.pid, args[0], &actions, &attributes, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  if (error != 0) return Error{fmt::format("cannot run {}: {}", argv[0], std::strerror(error))};
  return spawned;
}

int waitFor(pid_t pid);

/// A child process that is killed and reaped when the object goes, unless
/// it was waited for: no path out of a function (an error, an exception)
/// leaves a child running or unreaped.
class Child {
 public:
  explicit Child(pid_t pid) : pid_(pid) {}
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child() {
    if (pid_ > 0) {
      kill();
      waitFor(pid_);
    }
  }
  void kill() const {
    if (pid_ > 0) ::kill(pid_, SIGKILL);
  }
  /// Its exit status (128 + N when killed by signal N).
  int wait() {
    int status = waitFor(pid_);
    pid_ = -1;
    return status;
  }

 private:
  pid_t pid_;
};

int waitFor(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

std::string describeStatus(const std::string& program, int status) {
  if (status == 0) return "";
  if (status > 128) {
    return fmt::format("{} was killed by signal {} ({})", program, status - 128,
                       ::strsignal(status - 128));
  }
  return fmt::format("{} exited with status {}", program, status);
}

/// Writes all of `text` to a pipe; false when it could not (the reader
/// is gone: EPIPE, with SIGPIPE ignored by the caller).
bool writeAll(int fd, std::string_view text) {
  size_t written = 0;
  while (written < text.size()) {
    ssize_t n = ::write(fd, text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    written += static_cast<size_t>(n);
  }
  return true;
}

/// SIGPIPE ignored while it lives, so that writing to a consumer that died
/// fails with EPIPE instead of killing this process.
class SigpipeIgnored {
 public:
  SigpipeIgnored() {
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    ::sigaction(SIGPIPE, &ignore, &previous_);
  }
  ~SigpipeIgnored() { ::sigaction(SIGPIPE, &previous_, nullptr); }
  SigpipeIgnored(const SigpipeIgnored&) = delete;
  SigpipeIgnored& operator=(const SigpipeIgnored&) = delete;

 private:
  struct sigaction previous_ {};
};

}  // namespace

Status streamLines(const std::vector<std::string>& argv,
                   const std::function<bool(std::string_view line)>& line) {
  auto output = makePipe();
  if (!output) return Error{output.error()};
  auto& [outputRead, outputWrite] = *output;
  auto spawned = spawn(argv, {{STDIN_FILENO, -1}, {STDOUT_FILENO, outputWrite.get()}}, {});
  outputWrite.close();
  if (!spawned) return Error{spawned.error()};
  Child child(spawned->pid);
  std::string pending;
  std::string buffer(1 << 16, '\0');
  bool stopped = false;
  while (!stopped) {
    ssize_t n = ::read(outputRead.get(), buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    pending.append(buffer.data(), static_cast<size_t>(n));
    size_t start = 0;
    for (size_t end = pending.find('\n'); end != std::string::npos;
         end = pending.find('\n', start)) {
      if (!line(std::string_view(pending).substr(start, end + 1 - start))) {
        stopped = true;
        break;
      }
      start = end + 1;
    }
    pending.erase(0, start);
  }
  if (!stopped && !pending.empty()) stopped = !line(pending);
  if (stopped) child.kill();
  outputRead.close();
  int status = child.wait();
  if (stopped) return Error{fmt::format("stopped reading {}", argv[0])};
  if (status != 0) return Error{describeStatus(argv[0], status)};
  return success();
}

std::string PipelineOutcome::failure() const {
  if (consumerEndedFirst && !consumerError.empty()) return consumerError;
  if (!producerError.empty()) return producerError;
  if (!afterError.empty()) return afterError;
  return consumerError;
}

Result<PipelineOutcome> runGatedPipeline(const GatedPipeline& pipeline) {
  auto data = makePipe();
  if (!data) return Error{data.error()};
  auto gate = makePipe();
  if (!gate) return Error{gate.error()};
  auto before = memoryFile(pipeline.before);
  if (!before) return Error{before.error()};
  auto& [dataRead, dataWrite] = *data;
  auto& [gateRead, gateWrite] = *gate;

  auto consumerPid = spawn(pipeline.consumer,
                           {{STDIN_FILENO, dataRead.get()},
                            {STDOUT_FILENO, -1},
                            {3, before->get()},
                            {4, gateRead.get()}},
                           pipeline.env);
  if (!consumerPid) return Error{consumerPid.error()};
  Child consumer(consumerPid->pid);
  dataRead.close();
  gateRead.close();
  before->close();
  auto producerPid = spawn(pipeline.producer,
                           {{STDIN_FILENO, -1}, {STDOUT_FILENO, dataWrite.get()}}, pipeline.env);
  dataWrite.close();
  if (!producerPid) return Error{producerPid.error()};
  Child producer(producerPid->pid);

  PipelineOutcome outcome;
  outcome.producerStatus = producer.wait();
  bool gateBroken = false;  // a write to the gate failed: the consumer is gone
  bool committed = false;
  if (outcome.producerStatus == 0) {
    SigpipeIgnored ignored;
    int fd = gateWrite.get();
    auto write = [fd, &gateBroken](std::string_view text) {
      gateBroken = gateBroken || !writeAll(fd, text);
      return !gateBroken;
    };
    Status written = pipeline.after ? pipeline.after(write) : success();
    if (!written) {
      outcome.afterError = written.error();
    } else if (!write(pipeline.last)) {
      outcome.afterError = fmt::format("{} stopped reading its input", pipeline.consumer[0]);
    }
    committed = outcome.afterError.empty();
  }
  // A producer killed by SIGPIPE lost its reader, and a failed write to the
  // gate found none: the consumer stopped first, and its status is the cause.
  outcome.consumerEndedFirst = gateBroken || outcome.producerStatus == 128 + SIGPIPE;
  if (!committed && !outcome.consumerEndedFirst) {
    // The consumer must not reach its end: an end without `last` is safe,
    // but it must not wait for the rest of the data either.
    consumer.kill();
    outcome.consumerStopped = true;
  }
  gateWrite.close();
  outcome.consumerStatus = consumer.wait();
  outcome.producerError = describeStatus(pipeline.producer[0], outcome.producerStatus);
  if (!outcome.consumerStopped) {
    outcome.consumerError = describeStatus(pipeline.consumer[0], outcome.consumerStatus);
  }
  return outcome;
}

Result<PipelineOutcome> runPipeline(const Pipeline& pipeline) {
  auto data = makePipe();
  if (!data) return Error{data.error()};
  auto& [dataRead, dataWrite] = *data;
  auto consumerPid = spawn(pipeline.consumer,
                           {{STDIN_FILENO, dataRead.get()}, {STDOUT_FILENO, -1}}, pipeline.env);
  if (!consumerPid) return Error{consumerPid.error()};
  Child consumer(consumerPid->pid);
  dataRead.close();
  auto producerPid = spawn(pipeline.producer,
                           {{STDIN_FILENO, -1}, {STDOUT_FILENO, dataWrite.get()}}, pipeline.env);
  dataWrite.close();
  if (!producerPid) return Error{producerPid.error()};
  Child producer(producerPid->pid);

  PipelineOutcome outcome;
  outcome.producerStatus = producer.wait();
  outcome.consumerEndedFirst = outcome.producerStatus == 128 + SIGPIPE;
  if (outcome.producerStatus != 0 && !outcome.consumerEndedFirst) {
    consumer.kill();
    outcome.consumerStopped = true;
  }
  outcome.consumerStatus = consumer.wait();
  outcome.producerError = describeStatus(pipeline.producer[0], outcome.producerStatus);
  if (!outcome.consumerStopped) {
    outcome.consumerError = describeStatus(pipeline.consumer[0], outcome.consumerStatus);
  }
  return outcome;
}

Result<int> runWithInput(const std::vector<std::string>& argv, const std::string& inputPath,
                         const std::vector<std::pair<std::string, std::string>>& env) {
  OwnedFd input(::open(inputPath.c_str(), O_RDONLY | O_CLOEXEC));
  if (input.get() < 0) {
    return Error{fmt::format("cannot read {}: {}", inputPath, std::strerror(errno))};
  }
  auto pid = spawn(argv, {{STDIN_FILENO, input.get()}, {STDOUT_FILENO, -1}}, env);
  if (!pid) return Error{pid.error()};
  Child child(pid->pid);
  input.close();
  return child.wait();
}

}  // namespace mig::drivers
