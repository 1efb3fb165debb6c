#include "runtime/windows.h"

#include <fmt/format.h>

#include "compiler/units/units.h"

namespace mig::runtime {

std::optional<window::Window> toWindow(const graph::Window& spec, std::string& error) {
  std::chrono::milliseconds length(spec.lengthMs);
  if (spec.isOneOff()) return window::Window::oneOff(spec.at, length, spec.timezone, &error);
  std::vector<int> days;
  for (const std::string& day : spec.days) {
    auto weekday = window::parseWeekday(day);
    if (!weekday) {
      error = "unknown weekday '" + day + "'";
      return std::nullopt;
    }
    days.push_back(*weekday);
  }
  auto start = window::parseClock(spec.start);
  if (!start) {
    error = "bad start time '" + spec.start + "'";
    return std::nullopt;
  }
  return window::Window::weekly(days, *start, length, spec.timezone, &error);
}

std::optional<window::Instant> earliestStart(const window::Window& window, window::Instant now,
                                             std::optional<window::Milliseconds> timeout) {
  auto fits = [&](window::Instant start, const window::Interval& opening) {
    return !timeout || start + *timeout <= opening.end;
  };
  if (auto current = window.current(now); current && fits(now, *current)) return now;
  window::Instant from = now;
  // Openings are at most a week apart; a year of them is more than enough
  // to find one that is long enough, if any is.
  for (int i = 0; i < 400; ++i) {
    auto next = window.nextOpening(from);
    if (!next) return std::nullopt;
    if (fits(next->begin, *next)) return next->begin;
    from = next->begin;
  }
  return std::nullopt;
}

std::optional<NeverStarts> whyNeverStarts(const window::Window& window, window::Instant now,
                                          std::optional<window::Milliseconds> timeout) {
  using Reason = NeverStarts::Reason;
  if (earliestStart(window, now, timeout)) return std::nullopt;
  bool tooLong = timeout && *timeout > window.length();
  std::optional<window::Interval> only = window.onlyOpening();
  if (!only) return NeverStarts{tooLong ? Reason::TimeoutTooLong : Reason::NoOpening};
  // A closed window is the first thing to fix, whatever the timeout.
  if (now >= only->end) return NeverStarts{Reason::Closed, *only};
  if (tooLong) return NeverStarts{Reason::TimeoutTooLong};
  return NeverStarts{Reason::TooLittleLeft, *only};
}

std::string describeNeverStarts(const NeverStarts& why, const std::string& windowName,
                                const window::Window& window, window::Instant now,
                                std::optional<window::Milliseconds> timeout, bool runStarted) {
  std::string next = runStarted ? "`mig rollback` undoes what the run did, or change the window "
                                  "and `mig run --restart`"
                                : "change the window before running the plan";
  std::string timeoutText = timeout ? units::formatDuration(timeout->count()) : "none";
  switch (why.reason) {
    case NeverStarts::Reason::TimeoutTooLong:
      return fmt::format("its timeout {} is longer than {} window {} ({})", timeoutText,
                         window.onlyOpening() ? "the one opening of" : "any opening of", windowName,
                         units::formatDuration(window.length().count()));
    case NeverStarts::Reason::TooLittleLeft: {
      // Whole seconds: "41s from now", not "40512ms from now".
      auto timeLeft = std::chrono::duration_cast<window::Milliseconds>(
          std::chrono::ceil<std::chrono::seconds>(why.opening.end - now));
      return fmt::format(
          "one-off window {} closes at {}, {} from now, before its timeout {} "
          "would end, and does not open again; {}",
          windowName, formatInWindowZone(window, why.opening.end),
          units::formatDuration(timeLeft.count()), timeoutText, next);
    }
    case NeverStarts::Reason::Closed:
      return fmt::format(
          "the plan can no longer reach its window {}, a one-off window that "
          "closed at {}; {}",
          windowName, formatInWindowZone(window, why.opening.end), next);
    case NeverStarts::Reason::NoOpening:
      break;
  }
  return fmt::format("window {} has no opening after now", windowName);
}

std::string formatInWindowZone(const window::Window& window, window::Instant t) {
  std::string local = window.formatLocal(t);
  std::string utc = window::Window::formatUtc(t);
  return local == utc ? local : fmt::format("{} ({})", local, utc);
}

}  // namespace mig::runtime
