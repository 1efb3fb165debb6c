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

}  // namespace mig::runtime
