#include "runtime/lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>

#include "compiler/window/window.h"

namespace mig::runtime {
namespace {

std::string readAll(int fd) {
  std::string text;
  char buffer[512];
  lseek(fd, 0, SEEK_SET);
  ssize_t n;
  while ((n = read(fd, buffer, sizeof buffer)) > 0) text.append(buffer, n);
  while (!text.empty() && text.back() == '\n') text.pop_back();
  return text;
}

// "host web1, pid 4242, since 2026-11-25 20:01 UTC" from "web1 4242 1795000000000".
std::string describeHolder(const std::string& content) {
  char host[256] = {};
  long long pid = 0;
  long long since = 0;
  if (std::sscanf(content.c_str(), "%255s %lld %lld", host, &pid, &since) != 3) return content;
  auto at = window::Instant(std::chrono::milliseconds(since));
  return fmt::format("host {}, pid {}, since {}", host, pid, window::Window::formatUtc(at));
}

}  // namespace

std::unique_ptr<PlanLock> PlanLock::acquire(const std::string& stateDir, const std::string& plan,
                                            Status& status, std::string& message) {
  std::error_code ec;
  std::filesystem::create_directories(stateDir, ec);
  std::string path = stateDir + "/" + plan + ".lock";
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    status = Status::Error;
    message = fmt::format("cannot open the lock file {}: {}", path, std::strerror(errno));
    return nullptr;
  }
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    std::string holder = readAll(fd);
    close(fd);
    status = Status::Held;
    message = fmt::format("plan {} is being run by another mig ({})", plan,
                          holder.empty() ? "holder unknown" : describeHolder(holder));
    return nullptr;
  }
  std::string previous = readAll(fd);
  message = previous.empty() ? ""
                             : fmt::format("took over the lock of a runner that is gone ({})",
                                           describeHolder(previous));
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::system_clock::now().time_since_epoch());
  std::string content = fmt::format("{} {} {}\n", host, getpid(), now.count());
  if (ftruncate(fd, 0) != 0 || pwrite(fd, content.data(), content.size(), 0) < 0) {
    status = Status::Error;
    message = fmt::format("cannot write the lock file {}: {}", path, std::strerror(errno));
    close(fd);
    return nullptr;
  }
  status = Status::Acquired;
  return std::unique_ptr<PlanLock>(new PlanLock(fd, path));
}

PlanLock::~PlanLock() {
  // Emptied before it is released: a lock file with content was left by a
  // runner that died. Should emptying fail, the next runner merely reports
  // a takeover it need not.
  [[maybe_unused]] int emptied = ftruncate(fd_, 0);
  flock(fd_, LOCK_UN);
  close(fd_);
}

}  // namespace mig::runtime
