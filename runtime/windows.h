#pragma once

#include <optional>
#include <string>

#include "compiler/graph/graph.h"
#include "compiler/window/window.h"

namespace mig::runtime {

/// The window arithmetic for a compiled plan's window.
std::optional<window::Window> toWindow(const graph::Window& spec, std::string& error);

/// When a step bound to `window` may start, at `now` or later: now if the
/// window is open and the step's timeout (if any) ends before the window
/// does; otherwise the first opening long enough for the timeout.
/// Nullopt when no opening will ever do (a timeout longer than the window,
/// or a one-off window that has passed).
std::optional<window::Instant> earliestStart(const window::Window& window, window::Instant now,
                                             std::optional<window::Milliseconds> timeout);

/// Why no opening of a window will ever do for a step.
struct NeverStarts {
  enum class Reason {
    TimeoutTooLong,  ///< the step's timeout is longer than the window's openings
    TooLittleLeft,   ///< a one-off window is open but closes before the timeout would end
    Closed,          ///< a one-off window has closed for good
    NoOpening,       ///< a weekly window with no opening after now (years past 9999)
  };
  Reason reason;
  /// TooLittleLeft and Closed: the one-off window's opening.
  window::Interval opening{};
};

/// Why a step bound to `window` with `timeout` can never start at `now` or
/// later; nullopt when it can (earliestStart has an answer). A timeout that
/// does not fit in what is left of the current opening of a weekly window
/// is no reason: the step waits for the next opening.
std::optional<NeverStarts> whyNeverStarts(const window::Window& window, window::Instant now,
                                          std::optional<window::Milliseconds> timeout);

/// Why a step can never start, in words, for a step bound to `windowName`
/// (`window`), with `timeout`, at `now`; e.g. "the plan can no longer reach
/// its window cutover, a one-off window that closed at 2026-12-05 05:00
/// UTC; ...". For a one-off window, says what to do next: with `runStarted`
/// (the run being resumed has done steps), `mig rollback` or `mig run
/// --restart`; otherwise, change the window.
std::string describeNeverStarts(const NeverStarts& why, const std::string& windowName,
                                const window::Window& window, window::Instant now,
                                std::optional<window::Milliseconds> timeout, bool runStarted);

/// "2026-12-05 02:00 CST (2026-12-05 08:00 UTC)": `t` in the window's zone,
/// then in UTC when that reads differently.
std::string formatInWindowZone(const window::Window& window, window::Instant t);

}  // namespace mig::runtime
