#include "runtime/progress.h"

#include <fmt/format.h>

#include <chrono>
#include <nlohmann/json.hpp>

#include "compiler/units/units.h"

namespace mig::runtime {
namespace {

std::string kindName(Event::Kind kind) {
  switch (kind) {
    case Event::Kind::RunStarted: return "run_started";
    case Event::Kind::StepStarted: return "step_started";
    case Event::Kind::StepSucceeded: return "step_succeeded";
    case Event::Kind::StepRetrying: return "step_retrying";
    case Event::Kind::StepFailed: return "step_failed";
    case Event::Kind::StepStopped: return "step_stopped";
    case Event::Kind::WindowWait: return "window_wait";
    case Event::Kind::RollbackStarted: return "rollback_started";
    case Event::Kind::Undone: return "undone";
    case Event::Kind::UndoFailed: return "undo_failed";
    case Event::Kind::NoUndo: return "no_undo";
    case Event::Kind::Warning: return "warning";
    case Event::Kind::RunFinished: return "run_finished";
  }
  return "event";
}

std::string seconds(Milliseconds d) { return units::formatDuration(d.count() / 1000 * 1000); }

}  // namespace

std::string describeEvent(const Event& e) {
  std::string who = e.step.empty() ? "" : "step " + e.step + " ";
  switch (e.kind) {
    case Event::Kind::StepStarted:
      if (e.process == "run") {
        return fmt::format("{}started{}: {}", who,
                           e.attempt > 1 ? fmt::format(" (attempt {})", e.attempt) : "", e.message);
      }
      return fmt::format("{}{} started: {}", who, e.process, e.message);
    case Event::Kind::StepSucceeded:
      return fmt::format("{}done{}", who, e.message.empty() ? "" : ": " + e.message);
    case Event::Kind::StepRetrying: return fmt::format("{}{}", who, e.message);
    case Event::Kind::StepFailed: return fmt::format("{}FAILED: {}", who, e.message);
    case Event::Kind::StepStopped: return fmt::format("{}{}", who, e.message);
    case Event::Kind::WindowWait: return fmt::format("{}{}", who, e.message);
    case Event::Kind::Undone: return fmt::format("{}undone: {}", who, e.message);
    case Event::Kind::UndoFailed: return fmt::format("{}UNDO FAILED: {}", who, e.message);
    case Event::Kind::NoUndo: return fmt::format("{}{}", who, e.message);
    default: return who + e.message;
  }
}

namespace {

// The UTC time of day of `at` as HH:MM, by arithmetic: a run of short steps writes two lines a
// step, and a calendar conversion for each cost more than the rest of the line.
std::string timeOfDayUtc(Instant at) {
  int64_t minutes = std::chrono::floor<std::chrono::minutes>(at.time_since_epoch()).count();
  int64_t ofDay = (minutes % 1440 + 1440) % 1440;
  return fmt::format("{:02}:{:02}", ofDay / 60, ofDay % 60);
}

class LineSink : public EventSink {
 public:
  explicit LineSink(std::ostream& out) : out_(out) {}
  void emit(const Event& event, const Progress& progress) override {
    out_ << fmt::format("{} [{}/{}] {}\n", timeOfDayUtc(event.at), progress.done, progress.total,
                        describeEvent(event));
  }
  // Lines are written out whenever the run waits: at once for a reader,
  // without a write per event.
  void tick(const Progress&) override { out_.flush(); }
  void close() override { out_.flush(); }

 private:
  std::ostream& out_;
};

class JsonSink : public EventSink {
 public:
  explicit JsonSink(std::ostream& out) : out_(out) {}
  void emit(const Event& event, const Progress& progress) override {
    nlohmann::ordered_json line;
    line["event"] = kindName(event.kind);
    line["at"] = toEpochMs(event.at);
    if (!event.step.empty()) line["step"] = event.step;
    if (!event.process.empty()) line["process"] = event.process;
    if (event.attempt) line["attempt"] = event.attempt;
    if (event.exitCode) line["exitCode"] = *event.exitCode;
    if (!event.message.empty()) line["message"] = event.message;
    if (event.until) line["until"] = toEpochMs(*event.until);
    line["done"] = progress.done;
    line["total"] = progress.total;
    line["running"] = progress.running;
    out_ << line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
  }
  void tick(const Progress&) override { out_.flush(); }
  void close() override { out_.flush(); }

 private:
  std::ostream& out_;
};

class TerminalSink : public EventSink {
 public:
  TerminalSink(std::ostream& out, bool color) : out_(out), color_(color) {}

  void emit(const Event& event, const Progress& progress) override {
    clearLine();
    std::string text = describeEvent(event);
    const char* paint = nullptr;
    if (event.kind == Event::Kind::StepFailed || event.kind == Event::Kind::UndoFailed) {
      paint = "\033[1;31m";
    } else if (event.kind == Event::Kind::StepSucceeded || event.kind == Event::Kind::Undone) {
      paint = "\033[32m";
    } else if (event.kind == Event::Kind::WindowWait || event.kind == Event::Kind::Warning ||
               event.kind == Event::Kind::RollbackStarted) {
      paint = "\033[33m";
    }
    if (color_ && paint) text = paint + text + "\033[0m";
    // Routine starts stay on the status line; everything else is kept.
    if (event.kind != Event::Kind::StepStarted || event.process != "run") out_ << text << '\n';
    status(progress);
  }

  void tick(const Progress& progress) override {
    // At most ten redraws a second: a run of short steps ticks thousands of times.
    auto now = std::chrono::steady_clock::now();
    if (drawn_ && now - lastDraw_ < std::chrono::milliseconds(100)) return;
    clearLine();
    status(progress);
  }

  void close() override {
    clearLine();
    out_.flush();
  }

 private:
  void clearLine() {
    if (drawn_) out_ << "\r\033[K";
    drawn_ = false;
  }

  void status(const Progress& p) {
    std::string line = fmt::format("[{}/{}] running {} · {} elapsed", p.done, p.total, p.running,
                                   seconds(std::chrono::duration_cast<Milliseconds>(p.now - p.started)));
    if (p.eta) line += " · ETA " + seconds(*p.eta);
    if (!p.waiting.empty()) line += " · " + p.waiting;
    out_ << line;
    out_.flush();
    drawn_ = true;
    lastDraw_ = std::chrono::steady_clock::now();
  }

  std::ostream& out_;
  bool color_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point lastDraw_;
};

}  // namespace

std::unique_ptr<EventSink> makeTerminalSink(std::ostream& out, bool color) {
  return std::make_unique<TerminalSink>(out, color);
}
std::unique_ptr<EventSink> makeLineSink(std::ostream& out) { return std::make_unique<LineSink>(out); }
std::unique_ptr<EventSink> makeJsonSink(std::ostream& out) { return std::make_unique<JsonSink>(out); }

}  // namespace mig::runtime
