#include "runtime/lock.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>

#include "compiler/graph/sha256.h"
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

// "host web1, pid 4242, since 2026-11-25 20:01 UTC" from "web1 4242 1795000000000 ...".
std::string describeHolder(const std::string& content) {
  char host[256] = {};
  long long pid = 0;
  long long since = 0;
  if (std::sscanf(content.c_str(), "%255s %lld %lld", host, &pid, &since) != 3) return content;
  return describeLockHolder(host, pid, since);
}

// The lock directory, made if missing, and checked to be ours: a lock file
// another user could swap would let a second runner in.
bool prepareLockDirectory(const std::string& dir, std::string& error) {
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    error = fmt::format("cannot create the lock folder {}: {}", dir, std::strerror(errno));
    return false;
  }
  struct stat info {};
  if (::lstat(dir.c_str(), &info) != 0) {
    error = fmt::format("cannot use the lock folder {}: {}", dir, std::strerror(errno));
    return false;
  }
  if (!S_ISDIR(info.st_mode) || info.st_uid != ::geteuid()) {
    error = fmt::format(
        "the lock folder {} is not a folder of this user: refusing to use it "
        "(set MIG_LOCK_DIR to a folder of your own)",
        dir);
    return false;
  }
  return true;
}

// Opens and locks `path`. Returns the descriptor, or -1 with `status` and
// `message` set (Held names the holder).
int lockFile(const std::string& path, const std::string& plan, PlanLock::Status& status,
             std::string& message) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    status = PlanLock::Status::Error;
    message = fmt::format("cannot open the lock file {}: {}", path, std::strerror(errno));
    return -1;
  }
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    std::string holder = readAll(fd);
    close(fd);
    status = PlanLock::Status::Held;
    message = fmt::format("plan {} is being run by another mig ({})", plan,
                          holder.empty() ? "holder unknown" : describeHolder(holder));
    return -1;
  }
  return fd;
}

bool writeRecord(int fd, const std::string& content) {
  return ftruncate(fd, 0) == 0 &&
         pwrite(fd, content.data(), content.size(), 0) == static_cast<ssize_t>(content.size());
}

class FilePlanLock final : public PlanLock {
 public:
  FilePlanLock(int fd, std::string path, int outsideFd, std::string outsidePath)
      : fd_(fd),
        path_(std::move(path)),
        outsideFd_(outsideFd),
        outsidePath_(std::move(outsidePath)) {}
  ~FilePlanLock() override;
  std::string claim(std::string& error) override;

 private:
  int fd_;
  std::string path_;
  int outsideFd_;
  std::string outsidePath_;
  bool claimed_ = false;
};

}  // namespace

std::string describeLockHolder(const std::string& host, long long pid, long long sinceMs) {
  auto at = window::Instant(std::chrono::milliseconds(sinceMs));
  return fmt::format("host {}, pid {}, since {}", host, pid, window::Window::formatUtc(at));
}

std::string lockDirectory() {
  if (const char* dir = std::getenv("MIG_LOCK_DIR"); dir != nullptr && *dir != '\0') return dir;
  return fmt::format("/tmp/mig-locks-{}", ::geteuid());
}

std::unique_ptr<PlanLock> PlanLock::acquire(const std::string& stateDir, const std::string& plan,
                                            Status& status, std::string& message) {
  std::error_code ec;
  std::filesystem::create_directories(stateDir, ec);
  // The outside lock first: it is the one that survives the folder.
  const std::string outsideDir = lockDirectory();
  if (!prepareLockDirectory(outsideDir, message)) {
    status = Status::Error;
    return nullptr;
  }
  std::filesystem::path folder = std::filesystem::weakly_canonical(stateDir, ec);
  if (ec) folder = std::filesystem::absolute(stateDir).lexically_normal();
  const std::string key = graph::sha256Hex(folder.string() + '\n' + plan).substr(0, 32);
  const std::string outsidePath = fmt::format("{}/{}.lock", outsideDir, key);
  const int outsideFd = lockFile(outsidePath, plan, status, message);
  if (outsideFd < 0) return nullptr;

  const std::string path = stateDir + "/" + plan + ".lock";
  const int fd = lockFile(path, plan, status, message);
  if (fd < 0) {
    close(outsideFd);
    return nullptr;
  }
  status = Status::Acquired;
  message.clear();
  return std::make_unique<FilePlanLock>(fd, path, outsideFd, outsidePath);
}

std::string FilePlanLock::claim(std::string& error) {
  std::string previous = readAll(fd_);
  if (previous.empty()) previous = readAll(outsideFd_);
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::system_clock::now().time_since_epoch());
  std::string record = fmt::format("{} {} {}\n", host, getpid(), now.count());
  if (!writeRecord(fd_, record)) {
    error = fmt::format("cannot write the lock file {}: {}", path_, std::strerror(errno));
  } else if (!writeRecord(outsideFd_, record + path_ + "\n")) {
    error = fmt::format("cannot write the lock file {}: {}", outsidePath_, std::strerror(errno));
  }
  claimed_ = true;
  return previous.empty() ? ""
                          : fmt::format("took over the lock of a runner that is gone ({})",
                                        describeHolder(previous));
}

FilePlanLock::~FilePlanLock() {
  // Emptied before they are released: a lock file with content was left by
  // a runner that died. Should emptying fail, the next runner merely
  // reports a takeover it need not. A holder that never claimed leaves the
  // record it found for the next one.
  if (claimed_) {
    [[maybe_unused]] int emptied = ftruncate(fd_, 0);
    [[maybe_unused]] int outsideEmptied = ftruncate(outsideFd_, 0);
  }
  flock(fd_, LOCK_UN);
  close(fd_);
  flock(outsideFd_, LOCK_UN);
  close(outsideFd_);
}

}  // namespace mig::runtime
