// The record of what redis-sync changed on a target: a private file beside
// the journal, written before the first change and removed once unsync or
// cutover has put everything back (see redis_sync.h).
//
// One line per fact, "NAME VALUE", values escaped as %XX wherever a byte is
// not printable ASCII, a space or '%':
//
//   # mig redis-sync: ...
//   target 127.0.0.1:6380
//   source 127.0.0.1:6379
//   setting masterauth old%20secret
//   setting replica-read-only no
//
// redis-copy's record (redis-copy-HOST-PORT.state) adds `owner` (the
// plan, step and run that copied), `method`, `db`,
// `replicating yes|no` and `functions PAYLOAD` (the target's FUNCTION DUMP
// before mig's first copy into it).

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "runtime/drivers/redis_sync.h"

namespace mig::drivers::redis {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kSyncHeader =
    "# mig redis-sync: the target's settings before it became a replica; redis-unsync and "
    "redis-cutover put them back, then remove this file";
constexpr std::string_view kCopyHeader =
    "# mig redis-copy: what the copy wrote into the target and what it replaced; redis-wipe "
    "empties it, puts it back, then removes this file";

std::string escaped(std::string_view value) {
  std::string out;
  for (char c : value) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte <= ' ' || byte > '~' || c == '%') {
      out += fmt::format("%{:02X}", byte);
    } else {
      out += c;
    }
  }
  return out;
}

std::optional<std::string> unescaped(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    if (i + 2 >= text.size()) return std::nullopt;
    const std::string hex(text.substr(i + 1, 2));
    if (!std::isxdigit(static_cast<unsigned char>(hex[0])) ||
        !std::isxdigit(static_cast<unsigned char>(hex[1]))) {
      return std::nullopt;
    }
    out += static_cast<char>(std::strtol(hex.c_str(), nullptr, 16));
    i += 2;
  }
  return out;
}

/// The record's folder: the journal's, or ./.mig outside a step.
fs::path recordFolder() {
  const char* journal = std::getenv("MIG_JOURNAL");
  if (journal != nullptr && *journal != '\0') return fs::absolute(fs::path(journal)).parent_path();
  return fs::absolute(".mig");
}

/// The record of `prefix` (redis-sync-, redis-copy-) for `target`.
std::string recordPath(std::string_view prefix, const Endpoint& target) {
  std::string name(prefix);
  for (char c : target.host)
    name += std::isalnum(static_cast<unsigned char>(c)) || c == '.' ? c : '_';
  name += fmt::format("-{}.state", target.port);
  return (recordFolder() / name).string();
}

std::string systemError(std::string_view what, const std::string& path) {
  return fmt::format("cannot {} {}: {}", what, path, std::strerror(errno));
}

}  // namespace

const SavedSetting* SyncRecord::find(std::string_view name) const {
  for (const SavedSetting& setting : settings) {
    if (setting.name == name) return &setting;
  }
  return nullptr;
}

void maskRecordedPassword(const SyncRecord& record, Reporter& reporter) {
  if (const SavedSetting* masterauth = record.find("masterauth")) {
    reporter.addSecret(masterauth->value);
  }
}

std::string syncRecordPath(const Endpoint& target) {
  return recordPath("redis-sync-", target);
}

std::string copyRecordPath(const Endpoint& target) {
  return recordPath("redis-copy-", target);
}

std::optional<SyncRecord> readSyncRecord(const std::string& path, std::string& error) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    if (errno != ENOENT) error = systemError("read", path);
    return std::nullopt;
  }
  std::string text;
  char buffer[4096];
  ssize_t n = 0;
  while ((n = ::read(fd, buffer, sizeof buffer)) > 0) text.append(buffer, static_cast<size_t>(n));
  const int readErrno = errno;
  ::close(fd);
  if (n < 0) {
    errno = readErrno;
    error = systemError("read", path);
    return std::nullopt;
  }
  SyncRecord record;
  size_t number = 0;
  for (const std::string& line : text::lines(text)) {
    ++number;
    if (line.empty() || line.starts_with('#')) continue;
    const size_t space = line.find(' ');
    const std::string name = line.substr(0, space);
    std::string_view rest =
        space == std::string::npos ? std::string_view() : std::string_view(line).substr(space + 1);
    std::optional<std::string> value;
    if (name == "setting") {
      const size_t split = rest.find(' ');
      value = unescaped(split == std::string_view::npos ? "" : rest.substr(split + 1));
      if (value && split != std::string_view::npos) {
        record.settings.push_back({std::string(rest.substr(0, split)), std::move(*value)});
        continue;
      }
    } else if ((name == "target" || name == "source" || name == "method" || name == "owner") &&
               (value = unescaped(rest))) {
      (name == "target"   ? record.target
       : name == "source" ? record.source
       : name == "method" ? record.method
                          : record.owner) = std::move(*value);
      continue;
    } else if (name == "db" && !rest.empty() &&
               std::all_of(rest.begin(), rest.end(), [](char c) { return std::isdigit(c); })) {
      record.db = std::atoi(std::string(rest).c_str());
      continue;
    } else if (name == "replicating" && (rest == "yes" || rest == "no")) {
      record.replicating = rest == "yes";
      continue;
    } else if (name == "functions" && (value = unescaped(rest))) {
      record.functions = true;
      record.functionsBefore = std::move(*value);
      continue;
    }
    // Not the line itself: it may hold the recorded masterauth.
    error = fmt::format("{} is not a record of mig's Redis drivers (line {})", path, number);
    return std::nullopt;
  }
  return record;
}

std::string writeSyncRecord(const std::string& path, const SyncRecord& record) {
  const fs::path folder = fs::path(path).parent_path();
  if (::mkdir(folder.c_str(), 0700) != 0 && errno != EEXIST) {
    return systemError("create the folder", folder.string());
  }
  std::string text = std::string(record.method.empty() ? kSyncHeader : kCopyHeader) + "\n";
  text += fmt::format("target {}\nsource {}\n", escaped(record.target), escaped(record.source));
  if (!record.method.empty()) {
    text += fmt::format("owner {}\nmethod {}\ndb {}\nreplicating {}\n", escaped(record.owner),
                        escaped(record.method), record.db, record.replicating ? "yes" : "no");
    if (record.functions) text += fmt::format("functions {}\n", escaped(record.functionsBefore));
  }
  for (const SavedSetting& setting : record.settings) {
    text += fmt::format("setting {} {}\n", setting.name, escaped(setting.value));
  }
  // A new file, 0600 from the start (whatever the umask), written whole,
  // then renamed over the old one: a reader never sees half a record.
  const std::string temporary = fmt::format("{}.{}.tmp", path, ::getpid());
  ::unlink(temporary.c_str());
  const int fd =
      ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return systemError("create", temporary);
  bool written = ::fchmod(fd, 0600) == 0;
  for (size_t at = 0; written && at < text.size();) {
    const ssize_t n = ::write(fd, text.data() + at, text.size() - at);
    written = n > 0;
    if (written) at += static_cast<size_t>(n);
  }
  written = written && ::fsync(fd) == 0;
  const int writeErrno = errno;
  ::close(fd);
  if (!written) {
    ::unlink(temporary.c_str());
    errno = writeErrno;
    return systemError("write", temporary);
  }
  if (::rename(temporary.c_str(), path.c_str()) != 0) {
    std::string error = systemError("rename", temporary);
    ::unlink(temporary.c_str());
    return error;
  }
  return "";
}

std::string removeSyncRecord(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return systemError("remove", path);
  return "";
}

}  // namespace mig::drivers::redis
