#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <streambuf>
#include <string>

#include "cli/commands.h"
#include "runtime/drivers/driver.h"
#include "runtime/leftovers.h"

namespace mig::cli {
namespace {

/// Output to a file descriptor (a step's stdout or stderr, a pipe the
/// runner reads) that does not vanish when the runner does: once a write
/// fails with EPIPE (the runner was killed), what the driver says goes to
/// the orphaned-output file beside the journal (runtime/leftovers.h), which
/// the next resume or rollback prints. Unbuffered: the drivers write whole
/// lines and flush them.
class OrphanSafeOutput : public std::streambuf {
 public:
  OrphanSafeOutput(int fd, std::string fallbackPath, pid_t runner)
      : fd_(fd), fallbackPath_(std::move(fallbackPath)), runner_(runner) {}

 protected:
  int_type overflow(int_type c) override {
    if (traits_type::eq_int_type(c, traits_type::eof())) return traits_type::not_eof(c);
    const char byte = traits_type::to_char_type(c);
    return write(&byte, 1) ? c : traits_type::eof();
  }
  std::streamsize xsputn(const char* data, std::streamsize size) override {
    return write(data, static_cast<size_t>(size)) ? size : 0;
  }

 private:
  bool write(const char* data, size_t size) {
    while (size > 0) {
      const ssize_t n = ::write(fd_, data, size);
      if (n > 0) {
        data += n;
        size -= static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EPIPE && switchToFallback()) continue;
      return false;
    }
    return true;
  }

  /// The orphaned-output file instead of the broken pipe, from now on;
  /// only when the runner is gone (a reader that ended on purpose, such as
  /// `| head -1` in a step, is not a lost runner).
  bool switchToFallback() {
    if (fallbackPath_.empty() || runner_ <= 0 || ::kill(runner_, 0) == 0 || errno != ESRCH) {
      return false;
    }
    std::error_code ignored;  // open says what failed
    std::filesystem::create_directories(std::filesystem::path(fallbackPath_).parent_path(),
                                        ignored);
    const int fd =
        ::open(fallbackPath_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
    fallbackPath_.clear();
    if (fd < 0) return false;
    fd_ = fd;
    return true;
  }

  int fd_;
  std::string fallbackPath_;
  pid_t runner_;
};

}  // namespace

int driverCommand(const std::vector<std::string>& args) {
  const auto variable = [](const char* name) {
    const char* value = std::getenv(name);
    return std::string(value == nullptr ? "" : value);
  };
  const std::string journal = variable("MIG_JOURNAL");
  const std::string plan = variable("MIG_PLAN");
  const std::string step = variable("MIG_STEP");
  const pid_t runner = static_cast<pid_t>(std::atol(variable("MIG_RUNNER_PID").c_str()));
  if (journal.empty() || plan.empty() || step.empty() || runner <= 0) {
    return drivers::runDriver(args, std::cout, std::cerr);
  }
  // Outside a step there is no runner to lose: only steps get the fallback.
  // stdout and stderr share one file, as they share the runner's pipe.
  const std::string fallback = runtime::orphanedOutputFolder(journal, plan) + "/" + step + "-" +
                               std::to_string(::getpid()) + ".out";
  OrphanSafeOutput outBuffer(STDOUT_FILENO, fallback, runner);
  OrphanSafeOutput errBuffer(STDERR_FILENO, fallback, runner);
  std::ostream out(&outBuffer);
  std::ostream err(&errBuffer);
  return drivers::runDriver(args, out, err);
}

}  // namespace mig::cli
