#include "runtime/journal_seal.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <iterator>

namespace mig::runtime {
namespace {

constexpr const char* kHeader = "mig journal seal 1";

}  // namespace

JournalSeal::~JournalSeal() {
  if (fd_ >= 0) ::close(fd_);
}

std::optional<JournalSeal::Contents> JournalSeal::read(std::string& error) const {
  std::ifstream in(path_, std::ios::binary);
  if (!in) {
    if (errno != ENOENT) error = fmt::format("cannot read '{}': {}", path_, std::strerror(errno));
    return std::nullopt;
  }
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Empty: another process has just created it and not yet written it
  // (write() creates, then writes): no seal yet, as when it is missing.
  if (text.empty()) return std::nullopt;
  // "mig journal seal 1\n<journal id> <commits>\n", the count padded to a
  // fixed width so that a rewrite in place never leaves a longer old tail.
  Contents contents;
  const size_t headerEnd = text.find('\n');
  const size_t space = text.find(' ', headerEnd + 1);
  const size_t end = text.find('\n', space == std::string::npos ? text.size() : space);
  if (headerEnd == std::string::npos || text.compare(0, headerEnd, kHeader) != 0 ||
      space == std::string::npos || end == std::string::npos) {
    error = fmt::format("'{}' is not a journal seal written by mig", path_);
    return std::nullopt;
  }
  contents.journalId = text.substr(headerEnd + 1, space - headerEnd - 1);
  const char* first = text.data() + space + 1;
  const char* last = text.data() + end;
  auto [parsedTo, parseError] = std::from_chars(first, last, contents.commits);
  if (parseError != std::errc() || parsedTo != last || contents.journalId.empty()) {
    error = fmt::format("'{}' is not a journal seal written by mig", path_);
    return std::nullopt;
  }
  return contents;
}

bool JournalSeal::write(int64_t commits, std::string& error) {
  if (fd_ < 0) {
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd_ < 0) {
      error = fmt::format("cannot write '{}': {}", path_, std::strerror(errno));
      return false;
    }
  }
  const std::string text = fmt::format("{}\n{} {:020}\n", kHeader, journalId_, commits);
  const ssize_t written = ::pwrite(fd_, text.data(), text.size(), 0);
  if (written != static_cast<ssize_t>(text.size())) {
    error = fmt::format("cannot write '{}': {}", path_,
                        written < 0 ? std::strerror(errno) : "short write");
    return false;
  }
  return true;
}

}  // namespace mig::runtime
