#pragma once

#include <memory>
#include <ostream>
#include <string>

#include "runtime/events.h"

namespace mig::runtime {

/// One line for an event, as the sinks print it ("step final_copy started:
/// postgres.copy(...)", "step load FAILED: ...").
std::string describeEvent(const Event& event);

/// A live progress line on a terminal (done/total, running, elapsed, ETA,
/// what the run waits for), with events printed above it.
std::unique_ptr<EventSink> makeTerminalSink(std::ostream& out, bool color);
/// One plain line per event: for logs and CI.
std::unique_ptr<EventSink> makeLineSink(std::ostream& out);
/// One JSON object per line (NDJSON) per event.
std::unique_ptr<EventSink> makeJsonSink(std::ostream& out);

}  // namespace mig::runtime
