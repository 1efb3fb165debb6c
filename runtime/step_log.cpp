#include "runtime/step_log.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <system_error>
#include <utility>

namespace mig::runtime {
namespace {

constexpr uint64_t kKiB = 1024;
constexpr uint64_t kMiB = 1024 * kKiB;

std::string errorText(int error) {
  return std::system_category().message(error);
}

/// "32 MiB", "512 KiB", or "1,000 bytes".
std::string sizeText(uint64_t bytes) {
  if (bytes > 0 && bytes % kMiB == 0) return fmt::format("{} MiB", bytes / kMiB);
  if (bytes > 0 && bytes % kKiB == 0) return fmt::format("{} KiB", bytes / kKiB);
  return fmt::format("{} bytes", withThousandsSeparators(bytes));
}

}  // namespace

std::string withThousandsSeparators(uint64_t bytes) {
  std::string digits = std::to_string(bytes);
  std::string text;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) text += ',';
    text += digits[i];
  }
  return text;
}

StepLog::StepLog(std::string path, uint64_t limit)
    : path_(std::move(path)),
      headLimit_(limit / 2),
      tailLimit_(limit - limit / 2),
      limited_(limit > 0) {}

StepLog::~StepLog() {
  close();
}

void StepLog::append(std::string_view text) {
  if (text.empty() || path_.empty()) return;
  uint64_t before = received_;
  received_ += text.size();
  if (!error_.empty() || (fd_ < 0 && !open())) return;
  uint64_t limit = headLimit_ + tailLimit_;
  if (!limited_ || received_ <= limit) return write(text);
  if (before <= limit) {  // this piece passes the limit
    size_t fits = static_cast<size_t>(limit - before);
    write(text.substr(0, fits));
    startTail();
    text.remove_prefix(fits);
  }
  if (error_.empty()) keepInTail(text);
}

void StepLog::finish() {
  uint64_t limit = headLimit_ + tailLimit_;
  if (fd_ >= 0 && limited_ && received_ > limit) {
    omitted_ = received_ - limit;
    if (::ftruncate(fd_, static_cast<off_t>(headLimit_)) != 0 ||
        ::lseek(fd_, static_cast<off_t>(headLimit_), SEEK_SET) < 0) {
      error_ = fmt::format("cannot cut '{}' to its limit: {}", path_, errorText(errno));
      return close();
    }
    write(
        fmt::format("{}[mig: {} bytes of output left out here: the log keeps the first {} and "
                    "the last {}]\n",
                    headEndsLine_ ? "" : "\n", withThousandsSeparators(omitted_),
                    sizeText(headLimit_), sizeText(tailLimit_)));
    write(std::string_view(tail_).substr(tailStart_));
    write(std::string_view(tail_).substr(0, tailStart_));
  }
  close();
  std::string().swap(tail_);
}

bool StepLog::open() {
  fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd_ < 0) {
    error_ = fmt::format("cannot open '{}': {}", path_, errorText(errno));
    return false;
  }
  // An existing file keeps its mode through open: make it private. Only a regular file: a
  // device (/dev/null) is not ours to change, nor can it be cut to the limit.
  struct stat info;
  if (::fstat(fd_, &info) != 0 ||
      (S_ISREG(info.st_mode) && (info.st_mode & 07777) != 0600 && ::fchmod(fd_, 0600) != 0)) {
    error_ = fmt::format("cannot make '{}' private: {}", path_, errorText(errno));
    close();
    return false;
  }
  if (!S_ISREG(info.st_mode)) limited_ = false;
  return true;
}

void StepLog::write(std::string_view text) {
  if (text.empty() || fd_ < 0) return;
  if (written_ < headLimit_ && written_ + text.size() >= headLimit_) {
    headEndsLine_ = text[static_cast<size_t>(headLimit_ - written_ - 1)] == '\n';
  }
  while (!text.empty()) {
    ssize_t length = ::write(fd_, text.data(), text.size());
    if (length < 0 && errno == EINTR) continue;
    if (length < 0) {
      error_ = fmt::format("cannot write '{}': {}", path_, errorText(errno));
      return close();
    }
    written_ += static_cast<uint64_t>(length);
    text.remove_prefix(static_cast<size_t>(length));
  }
}

// The output has just passed the limit, and the file holds its first headLimit_ + tailLimit_
// bytes: the last tailLimit_ of them start the tail.
void StepLog::startTail() {
  if (fd_ < 0) return;
  tail_.resize(static_cast<size_t>(tailLimit_));
  size_t filled = 0;
  while (filled < tail_.size()) {
    ssize_t length = ::pread(fd_, tail_.data() + filled, tail_.size() - filled,
                             static_cast<off_t>(headLimit_ + filled));
    if (length < 0 && errno == EINTR) continue;
    if (length <= 0) {
      error_ = fmt::format("cannot read '{}' back: {}", path_,
                           length < 0 ? errorText(errno) : "it is shorter than written");
      return close();
    }
    filled += static_cast<size_t>(length);
  }
  tailStart_ = 0;
}

void StepLog::keepInTail(std::string_view text) {
  if (tail_.empty()) return;
  if (text.size() >= tail_.size()) {
    tail_.assign(text.substr(text.size() - tail_.size()));
    tailStart_ = 0;
    return;
  }
  // The ring is full: the new bytes replace the oldest ones.
  size_t first = std::min(text.size(), tail_.size() - tailStart_);
  std::copy_n(text.data(), first, tail_.data() + tailStart_);
  std::copy_n(text.data() + first, text.size() - first, tail_.data());
  tailStart_ = (tailStart_ + text.size()) % tail_.size();
}

void StepLog::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

}  // namespace mig::runtime
