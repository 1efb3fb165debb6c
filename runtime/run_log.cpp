#include "runtime/run_log.h"

#include <fmt/format.h>
#include <spdlog/logger.h>
#include <spdlog/sinks/rotating_file_sink.h>
#include <string.h>

#include <algorithm>
#include <filesystem>
#include <iostream>

#include "runtime/progress.h"

namespace mig::runtime {
namespace {

namespace fs = std::filesystem;

struct LevelName {
  LogLevel level;
  const char* name;
};
constexpr LevelName kLevelNames[] = {
    {LogLevel::Trace, "trace"}, {LogLevel::Debug, "debug"}, {LogLevel::Info, "info"},
    {LogLevel::Warn, "warn"},   {LogLevel::Error, "error"}, {LogLevel::Off, "off"},
};

spdlog::level::level_enum spdlogLevel(LogLevel level) {
  switch (level) {
    case LogLevel::Trace:
      return spdlog::level::trace;
    case LogLevel::Debug:
      return spdlog::level::debug;
    case LogLevel::Info:
      return spdlog::level::info;
    case LogLevel::Warn:
      return spdlog::level::warn;
    case LogLevel::Error:
      return spdlog::level::err;
    case LogLevel::Off:
      return spdlog::level::off;
  }
  return spdlog::level::info;
}

LogLevel levelOf(Event::Kind kind) {
  switch (kind) {
    case Event::Kind::StepFailed:
    case Event::Kind::UndoFailed:
      return LogLevel::Error;
    case Event::Kind::StepRetrying:
    case Event::Kind::StepStopped:
    case Event::Kind::RollbackStarted:
    case Event::Kind::NoUndo:
    case Event::Kind::Warning:
      return LogLevel::Warn;
    default:
      return LogLevel::Info;
  }
}

}  // namespace

std::optional<LogLevel> parseLogLevel(std::string_view name) {
  for (const LevelName& entry : kLevelNames) {
    if (name == entry.name) return entry.level;
  }
  return std::nullopt;
}

const char* logLevelNames() {
  return "trace, debug, info, warn, error or off";
}

RunLog::RunLog(LogLevel level, uint64_t maxBytes) : level_(level), maxBytes_(maxBytes) {}

RunLog::~RunLog() {
  close();
}

void RunLog::addSecrets(const std::vector<std::string>& values) {
  for (const std::string& value : values) {
    if (!value.empty() && std::find(secrets_.begin(), secrets_.end(), value) == secrets_.end()) {
      secrets_.push_back(value);
    }
  }
  // The longest first, so a secret holding another is hidden whole.
  std::sort(secrets_.begin(), secrets_.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
}

std::string RunLog::redact(std::string_view message) const {
  std::string text(message);
  for (const std::string& secret : secrets_) {
    for (size_t at = text.find(secret); at != std::string::npos; at = text.find(secret, at + 3)) {
      text.replace(at, secret.size(), "***");
    }
  }
  return text;
}

bool RunLog::openLogger(const std::string& path, std::string& error) {
  std::error_code ec;
  fs::path folder = fs::path(path).parent_path();
  if (!folder.empty()) fs::create_directories(folder, ec);
  try {
    // Two files of half the cap: when mig.log is full it becomes mig.1.log
    // and a new mig.log starts, so the end of a long run is always there.
    auto sink = std::make_shared<spdlog::sinks::rotating_file_sink_mt>(
        path, std::max<uint64_t>(maxBytes_ / 2, 4096), 1);
    logger_ = std::make_shared<spdlog::logger>("mig", std::move(sink));
  } catch (const spdlog::spdlog_ex& failure) {
    error = failure.what();
    return false;
  }
  logger_->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %-7l %v", spdlog::pattern_time_type::utc);
  logger_->set_level(spdlogLevel(level_));
  logger_->flush_on(spdlog::level::warn);
  // A log that cannot be written must not stop a migration; say so once.
  logger_->set_error_handler([said = false](const std::string& message) mutable {
    if (!said) std::cerr << "mig: warning: the run's log cannot be written: " << message << '\n';
    said = true;
  });
  path_ = path;
  for (const Held& record : held_) {
    logger_->log(record.at, spdlog::source_loc{}, spdlogLevel(record.level),
                 redact(record.message));
  }
  held_.clear();
  logger_->flush();
  return true;
}

bool RunLog::open(const std::string& path, std::string& error) {
  if (logger_ || level_ == LogLevel::Off) return true;
  return openLogger(path, error);
}

void RunLog::log(LogLevel level, std::string_view message) {
  if (level < level_ || level == LogLevel::Off) return;
  // Held records are redacted when written: a secret read after them
  // (by preflight) is hidden in them too.
  if (logger_) {
    logger_->log(spdlogLevel(level), redact(message));
  } else {
    held_.push_back({std::chrono::system_clock::now(), level, std::string(message)});
  }
}

void RunLog::flush() {
  if (logger_) logger_->flush();
}

void RunLog::close() {
  if (!logger_ && !held_.empty() && !fallbackPath_.empty()) {
    std::string error;
    if (!openLogger(fallbackPath_, error)) {
      std::cerr << fmt::format("mig: warning: cannot write {}: {}\n", fallbackPath_, error);
    }
  }
  held_.clear();
  flush();
}

namespace {

/// Tees events into the log; passes them on unchanged.
class LoggingSink : public EventSink {
 public:
  LoggingSink(RunLog& log, std::unique_ptr<EventSink> next, const std::atomic<int>* signal)
      : log_(log), next_(std::move(next)), signal_(signal) {}

  void emit(const Event& event, const Progress& progress) override {
    noteSignal();
    log_.log(levelOf(event.kind),
             fmt::format("[{}/{}] {}", progress.done, progress.total, describeEvent(event)));
    next_->emit(event, progress);
  }

  void tick(const Progress& progress) override {
    noteSignal();
    auto now = std::chrono::steady_clock::now();
    if (now - lastFlush_ >= std::chrono::seconds(1)) {
      if (!progress.waiting.empty() && progress.waiting != lastWaiting_) {
        log_.debug("waiting: " + progress.waiting);
      }
      lastWaiting_ = progress.waiting;
      log_.flush();
      lastFlush_ = now;
    }
    next_->tick(progress);
  }

  void close() override {
    noteSignal();
    log_.flush();
    next_->close();
  }

 private:
  // The signal handler only sets a number; it is told here, in order with
  // the events it causes.
  void noteSignal() {
    if (!signal_ || signalTold_) return;
    int number = signal_->load();
    if (number == 0) return;
    const char* name = sigabbrev_np(number);
    log_.warn(fmt::format("received SIG{}: stopping the running steps; the run pauses",
                          name ? name : std::to_string(number)));
    signalTold_ = true;
  }

  RunLog& log_;
  std::unique_ptr<EventSink> next_;
  const std::atomic<int>* signal_;
  bool signalTold_ = false;
  std::chrono::steady_clock::time_point lastFlush_;
  std::string lastWaiting_;
};

}  // namespace

std::unique_ptr<EventSink> makeLoggingSink(RunLog& log, std::unique_ptr<EventSink> next,
                                           const std::atomic<int>* signal) {
  return std::make_unique<LoggingSink>(log, std::move(next), signal);
}

}  // namespace mig::runtime
