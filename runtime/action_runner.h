#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "runtime/clock.h"

namespace mig::runtime {

/// One process to run: a step's command (or its check or undo), ready to go.
struct ProcessRequest {
  uint64_t token = 0;  ///< the caller's id for this process; results carry it back
  std::string script;  ///< a bash script
  /// Variables added to (or replacing) the runner's environment.
  std::vector<std::pair<std::string, std::string>> env;
  /// Variables removed from the inherited environment (the plan's secret
  /// sources, so that steps only get the secrets meant for them).
  std::vector<std::string> unsetEnv;
  std::string workdir;
  std::string logPath;  ///< stdout and stderr, interleaved, secrets redacted
  std::vector<std::string> redact;  ///< values replaced by *** in the log and in `tail`
  /// When to stop the process and its descendants (timeout, or a window's end).
  std::optional<Instant> deadline;
  /// A file the process may create, holding its process id, to say that it
  /// failed before changing anything (so rollback need not undo it); its
  /// path reaches the process in MIG_NOTHING_CHANGED. Only the spawned
  /// process itself counts. Empty: no such file.
  std::string nothingChangedMarker;
};

struct ProcessResult {
  enum class Outcome {
    Exited,       ///< `exitCode` holds its status (128 + N when killed by signal N)
    TimedOut,     ///< killed at its deadline
    Cancelled,    ///< killed by cancel()
    SpawnFailed,  ///< never started; `detail` says why
  };
  uint64_t token = 0;
  Outcome outcome = Outcome::Exited;
  int exitCode = 0;
  std::string detail;  ///< spawn error, or the last lines of output (redacted)
  /// It failed, and said it changed nothing (see nothingChangedMarker).
  bool nothingChanged = false;
  /// Empty, or what went wrong with the log and why, e.g. "cannot write '/x/run-1/step.run.1.log':
  /// No space left on device": the log is then incomplete (nothing was written to it after that).
  std::string logError;
  /// Bytes of output left out of the middle of the log because of its size limit (the log says
  /// so where they were).
  uint64_t logOmittedBytes = 0;
  Instant started;
  Instant finished;

  bool succeeded() const { return outcome == Outcome::Exited && exitCode == 0; }
};

/// Runs processes; the scheduler's only way to touch the world, so tests
/// can put a fake in its place.
class ActionRunner {
 public:
  virtual ~ActionRunner() = default;
  /// Starts a process and returns at once; a spawn failure comes back
  /// through wait() as SpawnFailed.
  virtual void start(ProcessRequest request) = 0;
  /// Blocks until at least one started process has finished (returning all
  /// that have), or until `until` (returning none). Without `until` and with
  /// nothing running, returns at once.
  virtual std::vector<ProcessResult> wait(std::optional<Instant> until) = 0;
  /// Stops the process of `token` and its descendants (SIGTERM, then
  /// SIGKILL after a grace period); its result comes through wait() as
  /// Cancelled.
  virtual void cancel(uint64_t token) = 0;
  virtual size_t running() const = 0;
};

}  // namespace mig::runtime
