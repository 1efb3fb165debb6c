#include "runtime/windows.h"

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

}  // namespace mig::runtime
