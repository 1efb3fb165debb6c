#include "compiler/window/window.h"

#include <date/date.h>
#include <date/tz.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <exception>
#include <string>
#include <utility>

namespace mig::window {
namespace {

using std::chrono::days;
using std::chrono::local_days;
using std::chrono::minutes;

constexpr int kMinutesPerDay = 24 * 60;

/// Queries outside [kEarliestSupported, kLatestSupported) answer "closed, nothing next": the
/// arithmetic below then never comes near the limits of the millisecond count.
constexpr Instant kEarliestSupported{date::sys_days{date::year{0} / date::January / 1}};
constexpr Instant kLatestSupported{date::sys_days{date::year{10000} / date::January / 1}};

/// How far below the local day of an instant to look for the opening that begins at or before
/// it: an opening begins at least once a week, and the slack absorbs UTC offset changes.
constexpr days kLookBack{16};
/// How far above the local day of an instant an opening may still begin at or before it: when
/// clocks go back, local times repeat, and an opening on a later local date (the first time it
/// came round) can already have begun.
constexpr days kLookAhead{3};

constexpr std::array<std::string_view, 7> kShortWeekdayNames{"sun", "mon", "tue", "wed",
                                                             "thu", "fri", "sat"};
constexpr std::array<std::string_view, 7> kLongWeekdayNames{
    "sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"};

bool isSupported(Instant t) {
  return t >= kEarliestSupported && t < kLatestSupported;
}

/// `text` in single quotes, for error messages.
std::string quoted(std::string_view text) {
  std::string result;
  result.reserve(text.size() + 2);
  result += '\'';
  result += text;
  result += '\'';
  return result;
}

void setError(std::string* error, std::string message) {
  if (error != nullptr) *error = std::move(message);
}

/// The non-negative number written with exactly `count` ASCII digits at `text[at]`.
std::optional<int> parseDigits(std::string_view text, std::size_t at, std::size_t count) {
  if (at + count > text.size()) return std::nullopt;
  int value = 0;
  for (std::size_t i = at; i < at + count; ++i) {
    if (text[i] < '0' || text[i] > '9') return std::nullopt;
    value = value * 10 + (text[i] - '0');
  }
  return value;
}

/// The zone named `name`, with its tz file already read (the date library reads it lazily on
/// the first query; reading it here keeps every later query free of exceptions).
const date::time_zone* loadZone(std::string_view name, std::string* error) {
  const date::time_zone* zone = nullptr;
  try {
    zone = date::locate_zone(name);
  } catch (const std::exception&) {
    setError(error, "unknown time zone " + quoted(name));
    return nullptr;
  }
  try {
    static_cast<void>(zone->get_info(date::sys_seconds{}));
  } catch (const std::exception& failure) {
    setError(error, "cannot read time zone " + quoted(name) + ": " + failure.what());
    return nullptr;
  }
  return zone;
}

bool checkLength(Milliseconds length, std::string* error) {
  if (length <= Milliseconds::zero()) {
    setError(error, "window length must be positive");
    return false;
  }
  if (length > Window::kMaxLength) {
    setError(error, "window length must be at most 7 days");
    return false;
  }
  return true;
}

std::string formatMinutes(const date::local_time<Milliseconds>& local) {
  return date::format("%Y-%m-%d %H:%M", date::floor<minutes>(local));
}

}  // namespace

Window::Window(Kind kind, const date::time_zone* zone, Milliseconds length)
    : kind_(kind), length_(length), zone_(zone) {}

std::optional<Window> Window::weekly(std::vector<int> weekdays, int startMinute,
                                     Milliseconds length, std::string_view timezone,
                                     std::string* error) {
  if (weekdays.empty()) {
    setError(error, "a weekly window needs at least one day");
    return std::nullopt;
  }
  uint8_t mask = 0;
  for (const int weekday : weekdays) {
    if (weekday < 0 || weekday > 6) {
      setError(error, "weekday " + std::to_string(weekday) +
                          " is out of range 0..6 (0 = sunday, 6 = saturday)");
      return std::nullopt;
    }
    mask = static_cast<uint8_t>(mask | (1U << weekday));
  }
  if (startMinute < 0 || startMinute >= kMinutesPerDay) {
    setError(error, "start minute " + std::to_string(startMinute) + " is out of range 0..1439");
    return std::nullopt;
  }
  if (!checkLength(length, error)) return std::nullopt;
  const date::time_zone* zone = loadZone(timezone, error);
  if (zone == nullptr) return std::nullopt;

  Window window(Kind::Weekly, zone, length);
  window.weekdayMask_ = mask;
  window.startMinute_ = startMinute;
  return window;
}

std::optional<Window> Window::oneOff(std::string_view localStart, Milliseconds length,
                                     std::string_view timezone, std::string* error) {
  const std::string quotedStart = quoted(localStart);
  const std::optional<int> year = parseDigits(localStart, 0, 4);
  const std::optional<int> month = parseDigits(localStart, 5, 2);
  const std::optional<int> day = parseDigits(localStart, 8, 2);
  // YYYY-MM-DDTHH:MM
  // 0123456789012345
  const bool shaped = localStart.size() == 16 && year && localStart[4] == '-' && month &&
                      localStart[7] == '-' && day && localStart[10] == 'T' &&
                      parseDigits(localStart, 11, 2) && localStart[13] == ':' &&
                      parseDigits(localStart, 14, 2);
  if (!shaped) {
    setError(error, "invalid date and time " + quotedStart + ", expected YYYY-MM-DDTHH:MM");
    return std::nullopt;
  }
  if (*year < 1) {
    setError(error, "invalid year 0000 in " + quotedStart);
    return std::nullopt;
  }
  if (*month < 1 || *month > 12) {
    setError(error, "invalid month " + std::string(localStart.substr(5, 2)) + " in " + quotedStart);
    return std::nullopt;
  }
  const date::year_month_day calendarDate{date::year{*year},
                                          date::month{static_cast<unsigned>(*month)},
                                          date::day{static_cast<unsigned>(*day)}};
  if (!calendarDate.ok()) {
    setError(error, "invalid day " + std::string(localStart.substr(8, 2)) + " in " + quotedStart);
    return std::nullopt;
  }
  const std::optional<int> clock = parseClock(localStart.substr(11));
  if (!clock) {
    setError(error, "invalid time " + std::string(localStart.substr(11)) + " in " + quotedStart);
    return std::nullopt;
  }
  if (!checkLength(length, error)) return std::nullopt;
  const date::time_zone* zone = loadZone(timezone, error);
  if (zone == nullptr) return std::nullopt;

  Window window(Kind::OneOff, zone, length);
  const local_days localDay{days{date::local_days{calendarDate}.time_since_epoch()}};
  window.oneOffBegin_ = window.resolveLocal(localDay + minutes{*clock});
  return window;
}

bool Window::isOpen(Instant t) const {
  if (!isSupported(t)) return false;
  if (kind_ == Kind::OneOff) return oneOffBegin_ <= t && t < oneOffBegin_ + length_;
  const std::optional<local_days> day = lastOpeningDayAtOrBefore(t);
  return day && t < beginOnDay(*day) + length_;
}

std::optional<Interval> Window::current(Instant t) const {
  if (!isSupported(t)) return std::nullopt;
  if (kind_ == Kind::OneOff) {
    if (!isOpen(t)) return std::nullopt;
    return Interval{oneOffBegin_, oneOffBegin_ + length_};
  }
  const std::optional<local_days> containing = lastOpeningDayAtOrBefore(t);
  if (!containing) return std::nullopt;
  Instant begin = beginOnDay(*containing);
  if (t >= begin + length_) return std::nullopt;

  // Walk back while the previous opening reaches the start of the run.
  const local_days backLimit = *containing - kMergeHorizon;
  for (local_days day = previousOpeningDay(*containing); day >= backLimit;
       day = previousOpeningDay(day)) {
    const Instant previousBegin = beginOnDay(day);
    if (previousBegin + length_ < begin) break;
    begin = previousBegin;
  }
  return Interval{begin, mergedEndFrom(*containing)};
}

std::optional<Interval> Window::nextOpening(Instant t) const {
  if (!isSupported(t)) return std::nullopt;
  if (kind_ == Kind::OneOff) {
    if (oneOffBegin_ <= t) return std::nullopt;
    return Interval{oneOffBegin_, oneOffBegin_ + length_};
  }
  const std::optional<local_days> last = lastOpeningDayAtOrBefore(t);
  if (!last) return std::nullopt;

  // The first later opening that the run of openings before it does not reach.
  Instant reachedUntil = beginOnDay(*last) + length_;
  const local_days limit = *last + kMergeHorizon;
  for (local_days day = nextOpeningDay(*last); day <= limit; day = nextOpeningDay(day)) {
    const Instant begin = beginOnDay(day);
    if (begin > t && begin > reachedUntil) return Interval{begin, mergedEndFrom(day)};
    reachedUntil = std::max(reachedUntil, begin + length_);
  }
  return std::nullopt;
}

std::optional<Interval> Window::onlyOpening() const {
  if (kind_ != Kind::OneOff) return std::nullopt;
  return Interval{oneOffBegin_, oneOffBegin_ + length_};
}

std::optional<Interval> Window::currentOrNext(Instant t) const {
  if (std::optional<Interval> open = current(t)) return open;
  return nextOpening(t);
}

Milliseconds Window::timeLeft(Instant t) const {
  const std::optional<Interval> open = current(t);
  return open ? open->end - t : Milliseconds::zero();
}

std::string Window::formatLocal(Instant t) const {
  if (!isSupported(t)) return {};
  const date::sys_info info = zone_->get_info(t);
  const date::local_time<Milliseconds> local{t.time_since_epoch() + info.offset};
  return formatMinutes(local) + " " + info.abbrev;
}

std::string Window::formatUtc(Instant t) {
  if (!isSupported(t)) return {};
  const date::local_time<Milliseconds> asLocal{t.time_since_epoch()};
  return formatMinutes(asLocal) + " UTC";
}

Milliseconds Window::length() const {
  return length_;
}

std::string_view Window::timezone() const {
  return zone_->name();
}

Instant Window::resolveLocal(std::chrono::local_time<minutes> local) const {
  const date::local_info info =
      zone_->get_info(date::local_time<minutes>{local.time_since_epoch()});
  // Skipped by a spring-forward gap: open when the gap ends.
  if (info.result == date::local_info::nonexistent) return Instant{info.second.begin};
  // Unique, or repeated by a fall-back: `first` is the offset of the first occurrence.
  return Instant{local.time_since_epoch() - info.first.offset};
}

local_days Window::localDayOf(Instant t) const {
  const Milliseconds sinceLocalEpoch = t.time_since_epoch() + zone_->get_info(t).offset;
  return local_days{std::chrono::floor<days>(sinceLocalEpoch)};
}

bool Window::opensOnDay(local_days day) const {
  return (weekdayMask_ & (1U << std::chrono::weekday{day}.c_encoding())) != 0;
}

Instant Window::beginOnDay(local_days day) const {
  return resolveLocal(day + minutes{startMinute_});
}

local_days Window::previousOpeningDay(local_days day) const {
  // Seven consecutive days hold every weekday, so one of them is listed.
  for (int back = 1; back < 7; ++back) {
    if (opensOnDay(day - days{back})) return day - days{back};
  }
  return day - days{7};
}

local_days Window::nextOpeningDay(local_days day) const {
  for (int ahead = 1; ahead < 7; ++ahead) {
    if (opensOnDay(day + days{ahead})) return day + days{ahead};
  }
  return day + days{7};
}

std::optional<local_days> Window::lastOpeningDayAtOrBefore(Instant t) const {
  // Local start times resolve to instants in the same order, so the first listed day found
  // going down whose opening begins at or before t is the latest one.
  const local_days today = localDayOf(t);
  for (local_days day = today + kLookAhead; day >= today - kLookBack; day -= days{1}) {
    if (opensOnDay(day) && beginOnDay(day) <= t) return day;
  }
  return std::nullopt;
}

Instant Window::mergedEndFrom(local_days firstDay) const {
  Instant end = beginOnDay(firstDay) + length_;
  const local_days limit = firstDay + kMergeHorizon;
  for (local_days day = nextOpeningDay(firstDay); day <= limit; day = nextOpeningDay(day)) {
    const Instant begin = beginOnDay(day);
    if (begin > end) break;
    end = std::max(end, begin + length_);
  }
  return end;
}

std::optional<int> parseClock(std::string_view text) {
  if (text.size() != 5 || text[2] != ':') return std::nullopt;
  const std::optional<int> hour = parseDigits(text, 0, 2);
  const std::optional<int> minute = parseDigits(text, 3, 2);
  if (!hour || !minute || *hour > 23 || *minute > 59) return std::nullopt;
  return *hour * 60 + *minute;
}

std::optional<int> parseWeekday(std::string_view text) {
  for (std::size_t weekday = 0; weekday < kShortWeekdayNames.size(); ++weekday) {
    if (text == kShortWeekdayNames[weekday] || text == kLongWeekdayNames[weekday]) {
      return static_cast<int>(weekday);
    }
  }
  return std::nullopt;
}

bool isKnownTimezone(std::string_view name) {
  return loadZone(name, nullptr) != nullptr;
}

std::vector<std::string> timezoneNames() {
  std::vector<std::string> names;
  try {
    const date::tzdb& database = date::get_tzdb();
    for (const date::time_zone& zone : database.zones) names.emplace_back(zone.name());
  } catch (const std::exception&) {
    return {};  // no tz database: nothing to suggest
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::optional<Instant> parseInstant(std::string_view text) {
  // YYYY-MM-DDTHH:MM[:SS] then Z or +HH:MM / -HH:MM.
  auto digits = [&](size_t at, size_t count) -> std::optional<int> {
    if (at + count > text.size()) return std::nullopt;
    int value = 0;
    for (size_t i = at; i < at + count; ++i) {
      if (text[i] < '0' || text[i] > '9') return std::nullopt;
      value = value * 10 + (text[i] - '0');
    }
    return value;
  };
  auto year = digits(0, 4), month = digits(5, 2), day = digits(8, 2);
  auto hour = digits(11, 2), minute = digits(14, 2);
  if (!year || !month || !day || !hour || !minute || text.size() < 17 || text[4] != '-' ||
      text[7] != '-' || text[10] != 'T' || text[13] != ':') {
    return std::nullopt;
  }
  size_t at = 16;
  int second = 0;
  if (text[at] == ':') {
    auto s = digits(at + 1, 2);
    if (!s || *s > 59) return std::nullopt;
    second = *s;
    at += 3;
  }
  int offsetMinutes = 0;
  if (at < text.size() && (text[at] == 'Z' || text[at] == 'z') && at + 1 == text.size()) {
    offsetMinutes = 0;
  } else if (at + 6 == text.size() && (text[at] == '+' || text[at] == '-') && text[at + 3] == ':') {
    auto offsetHours = digits(at + 1, 2), offsetMins = digits(at + 4, 2);
    if (!offsetHours || !offsetMins || *offsetHours > 23 || *offsetMins > 59) return std::nullopt;
    offsetMinutes = (*offsetHours * 60 + *offsetMins) * (text[at] == '-' ? -1 : 1);
  } else {
    return std::nullopt;
  }
  date::year_month_day date{date::year{*year}, date::month{static_cast<unsigned>(*month)},
                            date::day{static_cast<unsigned>(*day)}};
  if (!date.ok() || *hour > 23 || *minute > 59) return std::nullopt;
  auto local = date::sys_days(date) + std::chrono::hours(*hour) + std::chrono::minutes(*minute) +
               std::chrono::seconds(second) - std::chrono::minutes(offsetMinutes);
  return std::chrono::time_point_cast<Milliseconds>(local);
}

}  // namespace mig::window
