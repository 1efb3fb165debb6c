#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace date {
class time_zone;
}

/// Maintenance-window arithmetic: when a plan's `window` blocks are open.
///
/// A window is either weekly (a set of weekdays, a local start time and a length) or one-off (a
/// local start date-time and a length), both in an IANA time zone from the OS tz database. Each
/// opening starts at a local wall-clock time and lasts `length` of real elapsed time, so an
/// opening that spans a daylight-saving change is still exactly `length` long.
///
/// Resolving a local start time to an instant:
/// - a local start that does not exist (the clocks spring forward over it, e.g. 02:00 on
///   2026-03-08 in America/Chicago, or 02:30 on 2026-03-29 in Europe/Berlin) opens at the
///   instant the gap ends (03:00 local daylight time);
/// - a local start that occurs twice (the clocks fall back over it, e.g. 01:30 on 2026-11-01 in
///   America/Chicago) opens at the first occurrence (01:30 daylight time).
///
/// Openings that overlap or touch (the next one begins at or before the previous one ends) are
/// one merged interval: every query below answers with merged intervals.
///
/// Queries are defined for instants in years 0000 through 9999 (UTC); an instant outside that
/// range is in no opening and has no next opening. Beyond the last transition the tz files hold
/// (2037 for the zones that still observe daylight saving), the zone's last offset is used.
namespace mig::window {

using Milliseconds = std::chrono::milliseconds;

/// An instant, UTC, millisecond precision.
using Instant = std::chrono::sys_time<Milliseconds>;

/// A half-open span of time [begin, end).
struct Interval {
  Instant begin;
  Instant end;

  friend bool operator==(const Interval&, const Interval&) = default;
};

/// A maintenance window: weekly (days + start + length) or one-off (at + length), in an IANA
/// time zone. Cheap to copy (trivially copyable: the zone is a pointer into the tz database,
/// which lives as long as the program). Never throws once constructed.
///
/// Weekly openings start on each listed local weekday at the local start time; the weekday
/// names the day an opening starts, so `sat 23:00` for 3h is open on Sunday at 01:00.
///
/// Queries never scan unbounded time. Finding the opening at or around `t` looks at a few weeks
/// of local days; when openings run into each other (e.g. every day for 24h or more), merging
/// looks at most `kMergeHorizon` (400 days) before and after the opening that contains `t`, and
/// the search for the next separate opening at most that far past the last opening that began
/// at or before `t`. A window that stays open without a break for longer reports its current
/// opening cut to the openings that begin within that span, and no next opening. 400 days is
/// enough to find the yearly fall-back hour that interrupts a daily 24h window in a zone with
/// daylight saving.
class Window {
 public:
  /// The longest opening a window may declare.
  static constexpr Milliseconds kMaxLength = std::chrono::days{7};
  /// How far merging and the search for a separate next opening look, in local days (see above).
  static constexpr std::chrono::days kMergeHorizon{400};

  /// A window opening on each of `weekdays` (0 = Sunday ... 6 = Saturday; at least one,
  /// duplicates are harmless) at `startMinute` minutes after local midnight (0..1439), for
  /// `length` (more than zero, at most `kMaxLength`). Returns nullopt and, when `error` is not
  /// null, sets it to a lower-case message without a final period (e.g. "unknown time zone
  /// 'Mars/Base'") when an argument is out of range or the zone is unknown.
  static std::optional<Window> weekly(std::vector<int> weekdays, int startMinute,
                                      Milliseconds length, std::string_view timezone,
                                      std::string* error);

  /// A window opening once at `localStart`, "YYYY-MM-DDTHH:MM" in the window's zone (year
  /// 0001..9999, month 01..12, a day that exists in that month, 00:00..23:59), for `length`
  /// (more than zero, at most `kMaxLength`). Errors are reported as for `weekly`.
  static std::optional<Window> oneOff(std::string_view localStart, Milliseconds length,
                                      std::string_view timezone, std::string* error);

  /// True when `t` lies in an opening (openings are half-open: open at the begin, closed at the
  /// end).
  bool isOpen(Instant t) const;
  /// The (merged) opening that contains `t`, if the window is open at `t`.
  std::optional<Interval> current(Instant t) const;
  /// The first (merged) opening that begins strictly after `t`. When `t` is inside an opening
  /// this is the following, separate opening. Nullopt for a one-off window that has already
  /// begun, and for a weekly window that never closes within `kMergeHorizon`.
  std::optional<Interval> nextOpening(Instant t) const;
  /// The current opening if open at `t`, otherwise the next one.
  std::optional<Interval> currentOrNext(Instant t) const;
  /// Time until the current (merged) opening ends; zero when closed.
  Milliseconds timeLeft(Instant t) const;
  /// The one opening of a one-off window, past or future; nullopt for a weekly window.
  std::optional<Interval> onlyOpening() const;

  /// "2026-12-05 02:00 CST": `t` in the window's time zone, truncated to the minute, followed by
  /// the zone's abbreviation at `t` (some zones only have numeric ones, e.g. "+13"). Empty for
  /// an instant outside years 0000..9999.
  std::string formatLocal(Instant t) const;
  /// "2026-12-05 08:00 UTC": `t` in UTC, truncated to the minute. Empty for an instant outside
  /// years 0000..9999.
  static std::string formatUtc(Instant t);

  /// The declared length of one opening (a merged opening can be longer).
  Milliseconds length() const;
  /// The zone name as declared, e.g. "America/Chicago" (a link such as "US/Central" keeps its
  /// own name).
  std::string_view timezone() const;

 private:
  enum class Kind : uint8_t { Weekly, OneOff };

  Window(Kind kind, const date::time_zone* zone, Milliseconds length);

  /// The instant the local wall-clock time `local` starts, resolving gaps and repeats as
  /// described above.
  Instant resolveLocal(std::chrono::local_time<std::chrono::minutes> local) const;
  /// The local calendar day on which `t` falls in the window's zone.
  std::chrono::local_days localDayOf(Instant t) const;

  bool opensOnDay(std::chrono::local_days day) const;
  Instant beginOnDay(std::chrono::local_days day) const;
  /// The nearest day before / after `day` with an opening (at most a week away).
  std::chrono::local_days previousOpeningDay(std::chrono::local_days day) const;
  std::chrono::local_days nextOpeningDay(std::chrono::local_days day) const;
  /// The latest day with a weekly opening that begins at or before `t`.
  std::optional<std::chrono::local_days> lastOpeningDayAtOrBefore(Instant t) const;
  /// The end of the merged run of weekly openings that starts with the one on `firstDay`.
  Instant mergedEndFrom(std::chrono::local_days firstDay) const;

  Kind kind_;
  /// Weekly: bit w set when the window opens on weekday w (0 = Sunday).
  uint8_t weekdayMask_ = 0;
  /// Weekly: minutes after local midnight.
  int startMinute_ = 0;
  /// One-off: the resolved begin of the single opening.
  Instant oneOffBegin_{};
  Milliseconds length_;
  const date::time_zone* zone_;
};

/// Parses "HH:MM" (exactly two digits each, 00:00..23:59) into minutes after midnight.
std::optional<int> parseClock(std::string_view text);

/// Parses a weekday: mon tue wed thu fri sat sun, or the full English names (monday ...
/// sunday); lower case only. Returns 0 for Sunday ... 6 for Saturday.
std::optional<int> parseWeekday(std::string_view text);

/// True when the IANA zone (or link) exists in the tz database; names are case-sensitive.
bool isKnownTimezone(std::string_view name);

/// Every zone and link name in the tz database, sorted ("Africa/Abidjan" ... "Zulu"):
/// for did-you-mean and completion.
std::vector<std::string> timezoneNames();

/// Parses an ISO 8601 instant with its offset: "2026-12-01T10:00Z",
/// "2026-12-01T10:00:30Z", "2026-12-01T04:00-06:00". Nullopt when malformed.
std::optional<Instant> parseInstant(std::string_view text);

}  // namespace mig::window
