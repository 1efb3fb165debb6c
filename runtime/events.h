#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "runtime/clock.h"

namespace mig::runtime {

/// What the scheduler reports as a run goes: one event per change.
struct Event {
  enum class Kind {
    RunStarted,
    StepStarted,     ///< a process of a step started (kind: run, check, undo)
    StepSucceeded,   ///< the step is done
    StepRetrying,    ///< an attempt failed; another comes after the delay
    StepFailed,      ///< the step failed for good
    StepStopped,     ///< stopped: a failure elsewhere, or its window's end
    WindowWait,      ///< a step waits for its window to open
    RollbackStarted,
    Undone,          ///< a step's undo succeeded
    UndoFailed,
    NoUndo,          ///< a step that changed something has no undo
    Warning,
    RunFinished,
  };
  Kind kind = Kind::Warning;
  Instant at;
  std::string step;
  std::string process;  ///< run, check or undo
  int attempt = 0;
  std::optional<int> exitCode;
  std::string message;
  std::optional<Instant> until;  ///< WindowWait: when the window opens
};

/// Counts for a progress line.
struct Progress {
  size_t done = 0;
  size_t total = 0;
  size_t running = 0;
  Instant started;
  Instant now;
  std::optional<Milliseconds> eta;
  std::string waiting;  ///< what the run is waiting for, if anything ("window sat_night opens in 2h")
};

/// Where events go: a terminal, plain lines, or NDJSON.
class EventSink {
 public:
  virtual ~EventSink() = default;
  virtual void emit(const Event& event, const Progress& progress) = 0;
  /// Called about once a second while the run waits or steps run.
  virtual void tick(const Progress&) {}
  /// Called when the run is over, to finish the terminal line.
  virtual void close() {}
};

}  // namespace mig::runtime
