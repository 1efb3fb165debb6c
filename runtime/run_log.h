#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/events.h"

namespace spdlog {
class logger;
}

/// The runner's own diagnostic log, kept through spdlog: what mig decided
/// and why (refusals, lock takeovers, preflight problems, retries, signals,
/// undos), with timestamps, in .mig/logs/PLAN/run-N/mig.log beside the
/// steps' own logs. Not the journal: the journal is what happened, this is
/// how mig got there, for the engineer reading it after a bad night.
namespace mig::runtime {

enum class LogLevel { Trace, Debug, Info, Warn, Error, Off };

/// "trace", "debug", "info", "warn", "error", "off"; nullopt otherwise.
std::optional<LogLevel> parseLogLevel(std::string_view name);
/// The names parseLogLevel() accepts, for messages and help.
const char* logLevelNames();

/// The default size of a run's log: the file and one older file of half
/// this each (spdlog's rotating sink), so the most recent records are kept.
constexpr uint64_t kDefaultRunLogBytes = 16ull << 20;

/// One command's log. Records made before the run is known (the lock,
/// preflight) are held in memory and written first when open() names the
/// file; a command that never opens one (refused, locked, preflight failed)
/// writes them at close() to the plan's own mig.log, so no decision is lost.
/// Every secret value is replaced by *** before a record is written.
class RunLog {
 public:
  RunLog(LogLevel level, uint64_t maxBytes = kDefaultRunLogBytes);
  ~RunLog();
  RunLog(const RunLog&) = delete;
  RunLog& operator=(const RunLog&) = delete;

  /// Writes from now on to `path` (its folder is created), after the
  /// records held so far. A second call is ignored. False, with `error`,
  /// when the file cannot be opened: the records stay held.
  bool open(const std::string& path, std::string& error);
  /// Where the held records go if open() is never called.
  void setFallbackPath(std::string path) { fallbackPath_ = std::move(path); }
  /// Values to redact from every later record.
  void addSecrets(const std::vector<std::string>& values);

  void log(LogLevel level, std::string_view message);
  void trace(std::string_view message) { log(LogLevel::Trace, message); }
  void debug(std::string_view message) { log(LogLevel::Debug, message); }
  void info(std::string_view message) { log(LogLevel::Info, message); }
  void warn(std::string_view message) { log(LogLevel::Warn, message); }
  void error(std::string_view message) { log(LogLevel::Error, message); }

  /// Writes buffered records to the file (warnings and errors are written
  /// at once; the rest at least once a second through tick sinks).
  void flush();
  /// Writes held records to the fallback path if no file was opened, and
  /// flushes. Called by the destructor too.
  void close();

  LogLevel level() const { return level_; }
  /// The file being written, "" before open().
  const std::string& path() const { return path_; }

 private:
  struct Held {
    std::chrono::system_clock::time_point at;
    LogLevel level;
    std::string message;
  };
  std::string redact(std::string_view message) const;
  bool openLogger(const std::string& path, std::string& error);

  LogLevel level_;
  uint64_t maxBytes_;
  std::string path_;
  std::string fallbackPath_;
  std::vector<std::string> secrets_;
  std::vector<Held> held_;
  std::shared_ptr<spdlog::logger> logger_;
};

/// An event sink that writes every event to a RunLog and passes it on to
/// `next` (the terminal, plain lines or NDJSON). Flushes the log on each
/// tick, so a runner killed with -9 loses at most a second of records.
/// `signal`, when given, is the number of the signal that interrupted the
/// run (0 while none has): it is logged once, when first seen.
std::unique_ptr<EventSink> makeLoggingSink(RunLog& log, std::unique_ptr<EventSink> next,
                                           const std::atomic<int>* signal = nullptr);

}  // namespace mig::runtime
