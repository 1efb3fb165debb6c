#include "compiler/window/window.h"

#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace mig::window {

// Readable failure messages: intervals print as UTC minutes.
void PrintTo(const Interval& interval, std::ostream* out) {
  *out << "[" << Window::formatUtc(interval.begin) << ", " << Window::formatUtc(interval.end)
       << ")";
}

namespace {

using std::chrono::days;
using std::chrono::hours;
using std::chrono::minutes;

constexpr int kSun = 0;
constexpr int kMon = 1;
constexpr int kTue = 2;
constexpr int kWed = 3;
constexpr int kFri = 5;
constexpr int kSat = 6;
constexpr Milliseconds kLastMillisecondOfMinute{59'999};

/// The UTC instant year-month-day hour:minute.
Instant utc(int year, int month, int day, int hour, int minute) {
  const std::chrono::sys_days date{std::chrono::year{year} / month / day};
  return Instant{date} + hours{hour} + minutes{minute};
}

Interval between(Instant begin, Instant end) {
  return Interval{begin, end};
}

Window weekly(std::vector<int> weekdays, std::string_view start, Milliseconds length,
              std::string_view timezone) {
  std::string error;
  const std::optional<int> startMinute = parseClock(start);
  EXPECT_TRUE(startMinute.has_value()) << start;
  std::optional<Window> window =
      Window::weekly(std::move(weekdays), startMinute.value_or(0), length, timezone, &error);
  EXPECT_TRUE(window.has_value()) << error;
  return window.value();
}

Window oneOff(std::string_view at, Milliseconds length, std::string_view timezone) {
  std::string error;
  std::optional<Window> window = Window::oneOff(at, length, timezone, &error);
  EXPECT_TRUE(window.has_value()) << error;
  return window.value();
}

std::string oneOffError(std::string_view at, Milliseconds length, std::string_view timezone) {
  std::string error;
  const std::optional<Window> window = Window::oneOff(at, length, timezone, &error);
  EXPECT_FALSE(window.has_value()) << at;
  return error;
}

std::string weeklyError(std::vector<int> weekdays, int startMinute, Milliseconds length,
                        std::string_view timezone) {
  std::string error;
  const std::optional<Window> window =
      Window::weekly(std::move(weekdays), startMinute, length, timezone, &error);
  EXPECT_FALSE(window.has_value());
  return error;
}

// --- Weekly windows, America/Chicago: CST is UTC-6, CDT is UTC-5. ---------------------------

// 2026-01-10 is a Saturday in CST: 02:00 CST is 08:00 UTC.
TEST(WeeklyWindow, IsOpenOnlyWithinTheWinterSaturdayOpening) {
  const Window window = weekly({kSat}, "02:00", hours{2}, "America/Chicago");

  EXPECT_FALSE(window.isOpen(utc(2026, 1, 10, 7, 59) + kLastMillisecondOfMinute));
  EXPECT_TRUE(window.isOpen(utc(2026, 1, 10, 8, 0)));
  EXPECT_TRUE(window.isOpen(utc(2026, 1, 10, 9, 59) + kLastMillisecondOfMinute));
  EXPECT_FALSE(window.isOpen(utc(2026, 1, 10, 10, 0)));
  EXPECT_FALSE(window.isOpen(utc(2026, 1, 11, 8, 30)));  // Sunday
  EXPECT_EQ(window.current(utc(2026, 1, 10, 9, 0)),
            between(utc(2026, 1, 10, 8, 0), utc(2026, 1, 10, 10, 0)));
}

// 2026-07-11 is a Saturday in CDT: 02:00 CDT is 07:00 UTC.
TEST(WeeklyWindow, IsOpenOnlyWithinTheSummerSaturdayOpening) {
  const Window window = weekly({kSat}, "02:00", hours{2}, "America/Chicago");

  EXPECT_FALSE(window.isOpen(utc(2026, 7, 11, 6, 59) + kLastMillisecondOfMinute));
  EXPECT_TRUE(window.isOpen(utc(2026, 7, 11, 7, 0)));
  EXPECT_TRUE(window.isOpen(utc(2026, 7, 11, 8, 59) + kLastMillisecondOfMinute));
  EXPECT_FALSE(window.isOpen(utc(2026, 7, 11, 9, 0)));
  EXPECT_EQ(window.current(utc(2026, 7, 11, 7, 0)),
            between(utc(2026, 7, 11, 7, 0), utc(2026, 7, 11, 9, 0)));
}

TEST(WeeklyWindow, NextOpeningFromWednesdayIsTheComingSaturday) {
  const Window window = weekly({kSat}, "02:00", hours{2}, "America/Chicago");

  // Wednesdays 2026-01-07 and 2026-07-08.
  EXPECT_EQ(window.nextOpening(utc(2026, 1, 7, 12, 0)),
            between(utc(2026, 1, 10, 8, 0), utc(2026, 1, 10, 10, 0)));
  EXPECT_EQ(window.nextOpening(utc(2026, 7, 8, 12, 0)),
            between(utc(2026, 7, 11, 7, 0), utc(2026, 7, 11, 9, 0)));
  EXPECT_EQ(window.currentOrNext(utc(2026, 1, 7, 12, 0)),
            between(utc(2026, 1, 10, 8, 0), utc(2026, 1, 10, 10, 0)));
}

TEST(WeeklyWindow, NextOpeningFromInsideOrAtTheEndIsTheFollowingWeek) {
  const Window window = weekly({kSat}, "02:00", hours{2}, "America/Chicago");
  const Interval following = between(utc(2026, 1, 17, 8, 0), utc(2026, 1, 17, 10, 0));

  EXPECT_EQ(window.nextOpening(utc(2026, 1, 10, 8, 0)), following);
  EXPECT_EQ(window.nextOpening(utc(2026, 1, 10, 9, 0)), following);
  EXPECT_EQ(window.nextOpening(utc(2026, 1, 10, 10, 0)), following);
  EXPECT_EQ(window.currentOrNext(utc(2026, 1, 10, 9, 0)),
            between(utc(2026, 1, 10, 8, 0), utc(2026, 1, 10, 10, 0)));
  EXPECT_EQ(window.currentOrNext(utc(2026, 1, 10, 10, 0)), following);
}

TEST(WeeklyWindow, TimeLeftCountsDownToTheEndAndIsZeroWhenClosed) {
  const Window window = weekly({kSat}, "02:00", hours{2}, "America/Chicago");

  EXPECT_EQ(window.timeLeft(utc(2026, 1, 10, 8, 0)), hours{2});
  EXPECT_EQ(window.timeLeft(utc(2026, 1, 10, 9, 15)), minutes{45});
  EXPECT_EQ(window.timeLeft(utc(2026, 1, 10, 9, 59) + kLastMillisecondOfMinute), Milliseconds{1});
  EXPECT_EQ(window.timeLeft(utc(2026, 1, 10, 10, 0)), Milliseconds::zero());
  EXPECT_EQ(window.timeLeft(utc(2026, 1, 7, 12, 0)), Milliseconds::zero());
  EXPECT_EQ(window.current(utc(2026, 1, 7, 12, 0)), std::nullopt);
}

// --- Daylight saving. ------------------------------------------------------------------------

// 2026-03-08 (a Sunday) 02:00 CST jumps to 03:00 CDT at 08:00 UTC.
TEST(WeeklyWindow, OpensAtGapEndOnSpringForwardDay) {
  const Window window = weekly({kSun}, "02:00", hours{2}, "America/Chicago");
  const Interval springForward = between(utc(2026, 3, 8, 8, 0), utc(2026, 3, 8, 10, 0));

  EXPECT_EQ(window.nextOpening(utc(2026, 3, 7, 12, 0)), springForward);
  EXPECT_FALSE(window.isOpen(utc(2026, 3, 8, 7, 59) + kLastMillisecondOfMinute));
  EXPECT_TRUE(window.isOpen(utc(2026, 3, 8, 8, 0)));
  EXPECT_EQ(window.timeLeft(utc(2026, 3, 8, 8, 0)), hours{2});
  EXPECT_FALSE(window.isOpen(utc(2026, 3, 8, 10, 0)));
  EXPECT_EQ(window.formatLocal(utc(2026, 3, 8, 8, 0)), "2026-03-08 03:00 CDT");
  // The Sundays around it: 02:00 CST on 03-01, 02:00 CDT on 03-15.
  EXPECT_EQ(window.current(utc(2026, 3, 1, 9, 0)),
            between(utc(2026, 3, 1, 8, 0), utc(2026, 3, 1, 10, 0)));
  EXPECT_EQ(window.nextOpening(utc(2026, 3, 8, 9, 0)),
            between(utc(2026, 3, 15, 7, 0), utc(2026, 3, 15, 9, 0)));
}

// 2026-11-01 (a Sunday) 02:00 CDT falls back to 01:00 CST at 07:00 UTC: 01:30 happens at
// 06:30 UTC (CDT) and again at 07:30 UTC (CST).
TEST(WeeklyWindow, OpensAtFirstOccurrenceOfRepeatedTimeOnFallBackDay) {
  const Window window = weekly({kSun}, "01:30", hours{1}, "America/Chicago");

  EXPECT_EQ(window.nextOpening(utc(2026, 10, 31, 12, 0)),
            between(utc(2026, 11, 1, 6, 30), utc(2026, 11, 1, 7, 30)));
  EXPECT_FALSE(window.isOpen(utc(2026, 11, 1, 6, 29)));
  EXPECT_TRUE(window.isOpen(utc(2026, 11, 1, 7, 29)));
  EXPECT_FALSE(window.isOpen(utc(2026, 11, 1, 7, 30)));  // the second 01:30
  EXPECT_EQ(window.formatLocal(utc(2026, 11, 1, 6, 30)), "2026-11-01 01:30 CDT");
  EXPECT_EQ(window.formatLocal(utc(2026, 11, 1, 7, 30)), "2026-11-01 01:30 CST");
  EXPECT_EQ(window.nextOpening(utc(2026, 11, 1, 7, 0)),
            between(utc(2026, 11, 8, 7, 30), utc(2026, 11, 8, 8, 30)));
}

TEST(WeeklyWindow, OpeningAcrossFallBackLastsItsLengthInRealTime) {
  // 00:30 CDT is 05:30 UTC; three real hours later it is 02:30 CST.
  const Window window = weekly({kSun}, "00:30", hours{3}, "America/Chicago");

  EXPECT_EQ(window.current(utc(2026, 11, 1, 8, 0)),
            between(utc(2026, 11, 1, 5, 30), utc(2026, 11, 1, 8, 30)));
  EXPECT_EQ(window.formatLocal(utc(2026, 11, 1, 8, 30)), "2026-11-01 02:30 CST");
}

// Europe/Berlin: CET is UTC+1, CEST is UTC+2. 2026-03-29 (a Sunday) 02:00 CET jumps to
// 03:00 CEST at 01:00 UTC, so 02:30 does not exist.
TEST(WeeklyWindow, OpensAtGapEndOnBerlinSpringForwardDay) {
  const Window window = weekly({kSun}, "02:30", hours{1}, "Europe/Berlin");

  EXPECT_EQ(window.nextOpening(utc(2026, 3, 28, 12, 0)),
            between(utc(2026, 3, 29, 1, 0), utc(2026, 3, 29, 2, 0)));
  EXPECT_EQ(window.formatLocal(utc(2026, 3, 29, 1, 0)), "2026-03-29 03:00 CEST");
  // The Sunday before: 02:30 CET.
  EXPECT_EQ(window.nextOpening(utc(2026, 3, 21, 12, 0)),
            between(utc(2026, 3, 22, 1, 30), utc(2026, 3, 22, 2, 30)));
}

// 2026-10-25 (a Sunday) 03:00 CEST falls back to 02:00 CET at 01:00 UTC: 02:30 happens at
// 00:30 UTC (CEST) and again at 01:30 UTC (CET).
TEST(WeeklyWindow, OpensAtFirstOccurrenceOnBerlinFallBackDay) {
  const Window window = weekly({kSun}, "02:30", hours{1}, "Europe/Berlin");

  EXPECT_EQ(window.nextOpening(utc(2026, 10, 24, 12, 0)),
            between(utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 1, 30)));
  EXPECT_FALSE(window.isOpen(utc(2026, 10, 25, 1, 30)));  // the second 02:30
  EXPECT_EQ(window.formatLocal(utc(2026, 10, 25, 0, 30)), "2026-10-25 02:30 CEST");
  // The Sunday after: 02:30 CET.
  EXPECT_EQ(window.nextOpening(utc(2026, 10, 25, 1, 0)),
            between(utc(2026, 11, 1, 1, 30), utc(2026, 11, 1, 2, 30)));
}

// Samoa skipped 2011-12-30 entirely: 2011-12-29 24:00 at UTC-10 became 2011-12-31 00:00 at
// UTC+14 (2011-12-30 10:00 UTC).
TEST(WeeklyWindow, OpeningOnASkippedLocalDayOpensWhenTheSkipEnds) {
  const Window window = weekly({0, 1, 2, 3, 4, 5, 6}, "12:00", hours{1}, "Pacific/Apia");

  EXPECT_EQ(window.nextOpening(utc(2011, 12, 29, 21, 0)),
            between(utc(2011, 12, 29, 22, 0), utc(2011, 12, 29, 23, 0)));
  EXPECT_EQ(window.nextOpening(utc(2011, 12, 29, 23, 0)),
            between(utc(2011, 12, 30, 10, 0), utc(2011, 12, 30, 11, 0)));
  EXPECT_EQ(window.nextOpening(utc(2011, 12, 30, 10, 0)),
            between(utc(2011, 12, 30, 22, 0), utc(2011, 12, 30, 23, 0)));
}

// When Alaska changed sides in 1867, Juneau's clocks went from Saturday 1867-10-19 15:33:32
// (LMT +15:02:19) back to Friday 1867-10-18 15:33:32 (LMT -08:57:41) at 00:31:13 UTC, so most
// of the local Saturday happened twice. Saturday 12:00 first happened at 1867-10-18 20:57:41 UTC;
// an hour later (01:00 UTC) the local date is back to Friday, yet the opening is still running.
TEST(WeeklyWindow, OpeningOnARepeatedLocalDayIsFoundAfterTheClocksGoBack) {
  const Window window = weekly({kSat}, "12:00", hours{6}, "America/Juneau");
  const Instant firstSaturdayNoon = utc(1867, 10, 18, 20, 57) + std::chrono::seconds{41};
  const Instant t = utc(1867, 10, 19, 1, 0);

  EXPECT_EQ(window.formatLocal(t), "1867-10-18 16:02 LMT");
  EXPECT_TRUE(window.isOpen(t));
  EXPECT_EQ(window.current(t), between(firstSaturdayNoon, firstSaturdayNoon + hours{6}));
  EXPECT_EQ(window.nextOpening(t), between(utc(1867, 10, 26, 20, 57) + std::chrono::seconds{41},
                                           utc(1867, 10, 27, 2, 57) + std::chrono::seconds{41}));
}

// --- Crossing midnight and long openings. ----------------------------------------------------

// Saturday 2026-01-10 23:00 CST is Sunday 05:00 UTC; the opening ends at Sunday 02:00 CST.
TEST(WeeklyWindow, SaturdayNightOpeningStaysOpenIntoSunday) {
  const Window window = weekly({kSat}, "23:00", hours{3}, "America/Chicago");
  const Interval opening = between(utc(2026, 1, 11, 5, 0), utc(2026, 1, 11, 8, 0));

  EXPECT_TRUE(window.isOpen(utc(2026, 1, 11, 7, 0)));   // Sunday 01:00 CST
  EXPECT_FALSE(window.isOpen(utc(2026, 1, 11, 8, 0)));  // Sunday 02:00 CST
  EXPECT_EQ(window.current(utc(2026, 1, 11, 7, 0)), opening);
  EXPECT_EQ(window.timeLeft(utc(2026, 1, 11, 7, 0)), hours{1});
  EXPECT_EQ(window.nextOpening(utc(2026, 1, 10, 12, 0)), opening);
  const Interval following = between(utc(2026, 1, 18, 5, 0), utc(2026, 1, 18, 8, 0));
  EXPECT_EQ(window.nextOpening(utc(2026, 1, 11, 7, 0)), following);
  EXPECT_EQ(window.nextOpening(utc(2026, 1, 11, 8, 0)), following);
}

TEST(WeeklyWindow, LooksBackAlmostAWeekForLongOpenings) {
  // Monday 06:00 for 6 days 20 hours: until the next Monday 02:00.
  const Window window = weekly({kMon}, "06:00", days{6} + hours{20}, "UTC");

  EXPECT_EQ(window.current(utc(2026, 1, 11, 12, 0)),
            between(utc(2026, 1, 5, 6, 0), utc(2026, 1, 12, 2, 0)));
  EXPECT_TRUE(window.isOpen(utc(2026, 1, 12, 1, 59)));
  EXPECT_FALSE(window.isOpen(utc(2026, 1, 12, 2, 0)));
  EXPECT_EQ(window.nextOpening(utc(2026, 1, 12, 3, 0)),
            between(utc(2026, 1, 12, 6, 0), utc(2026, 1, 19, 2, 0)));
}

// --- Several weekdays and merging. -----------------------------------------------------------

// 2026-01-05 is a Monday.
TEST(WeeklyWindow, OpensOnEachListedWeekday) {
  std::vector<int> weekdays;
  for (const std::string_view name : {"mon", "wed", "fri"}) {
    weekdays.push_back(parseWeekday(name).value());
  }
  const Window window = weekly(weekdays, "09:00", hours{1}, "UTC");

  EXPECT_TRUE(window.isOpen(utc(2026, 1, 5, 9, 30)));
  EXPECT_FALSE(window.isOpen(utc(2026, 1, 6, 9, 30)));  // Tuesday
  EXPECT_TRUE(window.isOpen(utc(2026, 1, 7, 9, 30)));
  EXPECT_FALSE(window.isOpen(utc(2026, 1, 8, 9, 30)));  // Thursday
  EXPECT_TRUE(window.isOpen(utc(2026, 1, 9, 9, 30)));
  EXPECT_FALSE(window.isOpen(utc(2026, 1, 10, 9, 30)));  // Saturday
  EXPECT_FALSE(window.isOpen(utc(2026, 1, 11, 9, 30)));  // Sunday

  EXPECT_EQ(window.nextOpening(utc(2026, 1, 5, 10, 0)),
            between(utc(2026, 1, 7, 9, 0), utc(2026, 1, 7, 10, 0)));
  EXPECT_EQ(window.nextOpening(utc(2026, 1, 7, 10, 0)),
            between(utc(2026, 1, 9, 9, 0), utc(2026, 1, 9, 10, 0)));
  EXPECT_EQ(window.nextOpening(utc(2026, 1, 9, 10, 0)),
            between(utc(2026, 1, 12, 9, 0), utc(2026, 1, 12, 10, 0)));
}

TEST(WeeklyWindow, RepeatedWeekdaysAreTheSameAsListingOnce) {
  const Window window = weekly({kWed, kWed, kFri}, "09:00", hours{1}, "UTC");

  EXPECT_EQ(window.nextOpening(utc(2026, 1, 5, 0, 0)),
            between(utc(2026, 1, 7, 9, 0), utc(2026, 1, 7, 10, 0)));
  EXPECT_EQ(window.nextOpening(utc(2026, 1, 7, 9, 0)),
            between(utc(2026, 1, 9, 9, 0), utc(2026, 1, 9, 10, 0)));
}

TEST(WeeklyWindow, TouchingOpeningsMergeIntoOneInterval) {
  // Monday 02:00 + 24h ends exactly when Tuesday's opening begins.
  const Window window = weekly({kMon, kTue}, "02:00", hours{24}, "UTC");
  const Interval merged = between(utc(2026, 1, 5, 2, 0), utc(2026, 1, 7, 2, 0));

  EXPECT_EQ(window.current(utc(2026, 1, 5, 2, 0)), merged);
  EXPECT_EQ(window.current(utc(2026, 1, 6, 2, 0)), merged);
  EXPECT_EQ(window.current(utc(2026, 1, 7, 1, 59)), merged);
  EXPECT_EQ(window.timeLeft(utc(2026, 1, 5, 2, 0)), hours{48});
  EXPECT_EQ(window.nextOpening(utc(2026, 1, 4, 0, 0)), merged);
  // From inside, Tuesday's opening is part of the current one: next is the following Monday.
  EXPECT_EQ(window.nextOpening(utc(2026, 1, 5, 12, 0)),
            between(utc(2026, 1, 12, 2, 0), utc(2026, 1, 14, 2, 0)));
}

TEST(WeeklyWindow, OverlappingOpeningsMergeIntoOneInterval) {
  // Saturday 22:00 + 30h = Monday 04:00; Sunday 22:00 + 30h = Tuesday 04:00.
  const Window window = weekly({kSat, kSun}, "22:00", hours{30}, "UTC");
  const Interval merged = between(utc(2026, 1, 10, 22, 0), utc(2026, 1, 13, 4, 0));

  EXPECT_EQ(window.current(utc(2026, 1, 11, 12, 0)), merged);
  EXPECT_EQ(window.current(utc(2026, 1, 13, 3, 0)), merged);
  EXPECT_EQ(window.timeLeft(utc(2026, 1, 12, 4, 0)), hours{24});
  EXPECT_EQ(window.nextOpening(utc(2026, 1, 11, 0, 0)),
            between(utc(2026, 1, 17, 22, 0), utc(2026, 1, 20, 4, 0)));
}

// A daily 24h window in America/Chicago: spring forward makes consecutive openings overlap, fall
// back leaves one hour uncovered (Saturday 02:00 CDT + 24h = Sunday 01:00 CST, the next opening
// is at 02:00 CST), so the merged opening runs from one fall back to the next.
TEST(WeeklyWindow, DailyFullDayWindowClosesOnlyForTheFallBackHour) {
  const Window window = weekly({0, 1, 2, 3, 4, 5, 6}, "02:00", hours{24}, "America/Chicago");
  const Interval year2026 = between(utc(2025, 11, 2, 8, 0), utc(2026, 11, 1, 7, 0));
  const Interval year2027 = between(utc(2026, 11, 1, 8, 0), utc(2027, 11, 7, 7, 0));

  EXPECT_TRUE(window.isOpen(utc(2026, 3, 8, 7, 59)));
  EXPECT_TRUE(window.isOpen(utc(2026, 3, 8, 8, 0)));
  EXPECT_FALSE(window.isOpen(utc(2026, 11, 1, 7, 0)));
  EXPECT_FALSE(window.isOpen(utc(2026, 11, 1, 7, 59) + kLastMillisecondOfMinute));
  EXPECT_TRUE(window.isOpen(utc(2026, 11, 1, 8, 0)));

  EXPECT_EQ(window.current(utc(2026, 6, 1, 12, 0)), year2026);
  EXPECT_EQ(window.nextOpening(utc(2026, 6, 1, 12, 0)), year2027);
  EXPECT_EQ(window.currentOrNext(utc(2026, 11, 1, 7, 30)), year2027);
  EXPECT_EQ(window.current(utc(2026, 11, 1, 8, 0)), year2027);
}

TEST(WeeklyWindow, WindowThatNeverClosesIsCutAtTheMergeHorizon) {
  const Window window = weekly({0, 1, 2, 3, 4, 5, 6}, "00:00", hours{25}, "UTC");
  const Instant midnight = utc(2026, 1, 10, 0, 0);
  const Instant t = midnight + hours{12};

  EXPECT_TRUE(window.isOpen(t));
  EXPECT_TRUE(window.isOpen(midnight));
  EXPECT_EQ(window.current(t), between(midnight - Window::kMergeHorizon,
                                       midnight + Window::kMergeHorizon + hours{25}));
  EXPECT_EQ(window.nextOpening(t), std::nullopt);
}

// --- One-off windows. ------------------------------------------------------------------------

TEST(OneOffWindow, BeforeItBeginsItIsTheNextOpening) {
  const Window window = oneOff("2026-12-05T02:00", hours{3}, "UTC");
  const Interval opening = between(utc(2026, 12, 5, 2, 0), utc(2026, 12, 5, 5, 0));

  EXPECT_FALSE(window.isOpen(utc(2026, 12, 1, 0, 0)));
  EXPECT_FALSE(window.isOpen(utc(2026, 12, 5, 1, 59) + kLastMillisecondOfMinute));
  EXPECT_EQ(window.current(utc(2026, 12, 1, 0, 0)), std::nullopt);
  EXPECT_EQ(window.nextOpening(utc(2026, 12, 1, 0, 0)), opening);
  EXPECT_EQ(window.currentOrNext(utc(2026, 12, 1, 0, 0)), opening);
  EXPECT_EQ(window.timeLeft(utc(2026, 12, 1, 0, 0)), Milliseconds::zero());
}

TEST(OneOffWindow, DuringItIsOpenWithTimeLeftAndNothingNext) {
  const Window window = oneOff("2026-12-05T02:00", hours{3}, "UTC");
  const Interval opening = between(utc(2026, 12, 5, 2, 0), utc(2026, 12, 5, 5, 0));

  EXPECT_TRUE(window.isOpen(utc(2026, 12, 5, 2, 0)));
  EXPECT_TRUE(window.isOpen(utc(2026, 12, 5, 3, 30)));
  EXPECT_EQ(window.current(utc(2026, 12, 5, 3, 30)), opening);
  EXPECT_EQ(window.currentOrNext(utc(2026, 12, 5, 3, 30)), opening);
  EXPECT_EQ(window.timeLeft(utc(2026, 12, 5, 3, 30)), minutes{90});
  EXPECT_EQ(window.nextOpening(utc(2026, 12, 5, 2, 0)), std::nullopt);
  EXPECT_EQ(window.nextOpening(utc(2026, 12, 5, 3, 30)), std::nullopt);
}

TEST(OneOffWindow, AfterItEndsThereIsNoOpening) {
  const Window window = oneOff("2026-12-05T02:00", hours{3}, "UTC");

  EXPECT_FALSE(window.isOpen(utc(2026, 12, 5, 5, 0)));
  EXPECT_EQ(window.current(utc(2026, 12, 5, 5, 0)), std::nullopt);
  EXPECT_EQ(window.nextOpening(utc(2026, 12, 5, 5, 0)), std::nullopt);
  EXPECT_EQ(window.currentOrNext(utc(2027, 1, 1, 0, 0)), std::nullopt);
  EXPECT_EQ(window.timeLeft(utc(2026, 12, 5, 5, 0)), Milliseconds::zero());
}

TEST(OneOffWindow, KnowsItsOnlyOpeningAtAnyTime) {
  const Window window = oneOff("2026-12-05T02:00", hours{3}, "UTC");
  const Interval opening = between(utc(2026, 12, 5, 2, 0), utc(2026, 12, 5, 5, 0));

  EXPECT_EQ(window.onlyOpening(), opening);
  EXPECT_EQ(weekly({kSat}, "02:00", hours{2}, "UTC").onlyOpening(), std::nullopt);
}

TEST(OneOffWindow, LocalStartIsReadInTheWindowsZone) {
  const Window window = oneOff("2026-12-05T02:00", hours{3}, "America/Chicago");
  const Interval opening = between(utc(2026, 12, 5, 8, 0), utc(2026, 12, 5, 11, 0));

  EXPECT_EQ(window.nextOpening(utc(2026, 12, 1, 0, 0)), opening);
  EXPECT_EQ(window.formatLocal(opening.begin), "2026-12-05 02:00 CST");
  EXPECT_EQ(Window::formatUtc(opening.begin), "2026-12-05 08:00 UTC");
}

TEST(OneOffWindow, StartInSpringForwardGapOpensAtGapEnd) {
  const Window window = oneOff("2026-03-08T02:30", hours{1}, "America/Chicago");

  EXPECT_EQ(window.nextOpening(utc(2026, 3, 1, 0, 0)),
            between(utc(2026, 3, 8, 8, 0), utc(2026, 3, 8, 9, 0)));
}

TEST(OneOffWindow, StartInRepeatedHourOpensAtFirstOccurrence) {
  const Window window = oneOff("2026-11-01T01:30", hours{1}, "America/Chicago");

  EXPECT_EQ(window.nextOpening(utc(2026, 10, 1, 0, 0)),
            between(utc(2026, 11, 1, 6, 30), utc(2026, 11, 1, 7, 30)));
}

TEST(OneOffWindow, AcceptsLeapDay) {
  const Window window = oneOff("2028-02-29T23:59", minutes{1}, "UTC");

  EXPECT_EQ(window.nextOpening(utc(2028, 1, 1, 0, 0)),
            between(utc(2028, 2, 29, 23, 59), utc(2028, 3, 1, 0, 0)));
}

TEST(OneOffWindow, RejectsInvalidLocalStarts) {
  EXPECT_EQ(oneOffError("2026-02-30T02:00", hours{1}, "UTC"),
            "invalid day 30 in '2026-02-30T02:00'");
  EXPECT_EQ(oneOffError("2026-02-29T02:00", hours{1}, "UTC"),
            "invalid day 29 in '2026-02-29T02:00'");
  EXPECT_EQ(oneOffError("2026-04-00T02:00", hours{1}, "UTC"),
            "invalid day 00 in '2026-04-00T02:00'");
  EXPECT_EQ(oneOffError("2026-13-01T00:00", hours{1}, "UTC"),
            "invalid month 13 in '2026-13-01T00:00'");
  EXPECT_EQ(oneOffError("2026-00-01T00:00", hours{1}, "UTC"),
            "invalid month 00 in '2026-00-01T00:00'");
  EXPECT_EQ(oneOffError("2026-12-05T24:00", hours{1}, "UTC"),
            "invalid time 24:00 in '2026-12-05T24:00'");
  EXPECT_EQ(oneOffError("2026-12-05T02:60", hours{1}, "UTC"),
            "invalid time 02:60 in '2026-12-05T02:60'");
  EXPECT_EQ(oneOffError("0000-12-05T02:00", hours{1}, "UTC"),
            "invalid year 0000 in '0000-12-05T02:00'");
  EXPECT_EQ(oneOffError("2026-12-05 02:00", hours{1}, "UTC"),
            "invalid date and time '2026-12-05 02:00', expected YYYY-MM-DDTHH:MM");
  for (const std::string_view malformed :
       {"", "2026-12-05", "2026-12-5T02:00", "2026-12-05T2:00", "2026-12-05T02:00Z",
        "2026/12/05T02:00", "+026-12-05T02:00", "2026-12-05t02:00", "2026-12-05T02-00"}) {
    EXPECT_EQ(oneOffError(malformed, hours{1}, "UTC"),
              "invalid date and time '" + std::string(malformed) + "', expected YYYY-MM-DDTHH:MM");
  }
}

// --- Construction errors. --------------------------------------------------------------------

TEST(WindowConstruction, RejectsUnknownTimeZone) {
  EXPECT_EQ(oneOffError("2026-12-05T02:00", hours{3}, "Mars/Base"),
            "unknown time zone 'Mars/Base'");
  EXPECT_EQ(weeklyError({kSat}, 120, hours{2}, "Mars/Base"), "unknown time zone 'Mars/Base'");
  EXPECT_EQ(weeklyError({kSat}, 120, hours{2}, ""), "unknown time zone ''");
  EXPECT_EQ(weeklyError({kSat}, 120, hours{2}, "america/chicago"),
            "unknown time zone 'america/chicago'");
}

TEST(WindowConstruction, RejectsLengthsThatAreNotPositiveOrLongerThanAWeek) {
  EXPECT_EQ(weeklyError({kSat}, 120, Milliseconds::zero(), "UTC"),
            "window length must be positive");
  EXPECT_EQ(weeklyError({kSat}, 120, Milliseconds{-1}, "UTC"), "window length must be positive");
  EXPECT_EQ(weeklyError({kSat}, 120, days{7} + Milliseconds{1}, "UTC"),
            "window length must be at most 7 days");
  EXPECT_EQ(oneOffError("2026-12-05T02:00", Milliseconds::zero(), "UTC"),
            "window length must be positive");
  EXPECT_EQ(oneOffError("2026-12-05T02:00", days{8}, "UTC"),
            "window length must be at most 7 days");
  EXPECT_TRUE(Window::weekly({kSat}, 120, days{7}, "UTC", nullptr).has_value());
  EXPECT_TRUE(Window::weekly({kSat}, 120, Milliseconds{1}, "UTC", nullptr).has_value());
}

TEST(WindowConstruction, RejectsMissingOrOutOfRangeWeekdaysAndStartMinutes) {
  EXPECT_EQ(weeklyError({}, 120, hours{2}, "UTC"), "a weekly window needs at least one day");
  EXPECT_EQ(weeklyError({kSat, 7}, 120, hours{2}, "UTC"),
            "weekday 7 is out of range 0..6 (0 = sunday, 6 = saturday)");
  EXPECT_EQ(weeklyError({-1}, 120, hours{2}, "UTC"),
            "weekday -1 is out of range 0..6 (0 = sunday, 6 = saturday)");
  EXPECT_EQ(weeklyError({kSat}, 1440, hours{2}, "UTC"),
            "start minute 1440 is out of range 0..1439");
  EXPECT_EQ(weeklyError({kSat}, -1, hours{2}, "UTC"), "start minute -1 is out of range 0..1439");
  EXPECT_TRUE(Window::weekly({kSat}, 1439, hours{2}, "UTC", nullptr).has_value());
}

TEST(WindowConstruction, ToleratesANullErrorPointer) {
  EXPECT_FALSE(Window::weekly({}, 120, hours{2}, "UTC", nullptr).has_value());
  EXPECT_FALSE(Window::oneOff("2026-02-30T02:00", hours{2}, "UTC", nullptr).has_value());
  EXPECT_FALSE(Window::oneOff("2026-12-05T02:00", hours{2}, "Mars/Base", nullptr).has_value());
}

TEST(WindowConstruction, ReportsItsLengthAndTimeZone) {
  const Window window = weekly({kSat}, "02:00", hours{2}, "America/Chicago");
  EXPECT_EQ(window.length(), hours{2});
  EXPECT_EQ(window.timezone(), "America/Chicago");
  EXPECT_EQ(oneOff("2026-12-05T02:00", minutes{90}, "Europe/Berlin").timezone(), "Europe/Berlin");
}

TEST(WindowConstruction, IsTriviallyCopyable) {
  static_assert(std::is_trivially_copyable_v<Window>);
  const Window original = weekly({kSat}, "02:00", hours{2}, "America/Chicago");
  const Window copy = original;
  EXPECT_EQ(copy.nextOpening(utc(2026, 1, 7, 12, 0)), original.nextOpening(utc(2026, 1, 7, 12, 0)));
}

// --- Formatting. -----------------------------------------------------------------------------

TEST(WindowFormatting, FormatLocalShowsMinutesAndZoneAbbreviation) {
  const Window chicago = weekly({kSat}, "02:00", hours{2}, "America/Chicago");
  const Window berlin = weekly({kSat}, "02:00", hours{2}, "Europe/Berlin");
  const Window utcWindow = weekly({kSat}, "02:00", hours{2}, "UTC");

  EXPECT_EQ(chicago.formatLocal(utc(2026, 12, 5, 8, 0)), "2026-12-05 02:00 CST");
  EXPECT_EQ(chicago.formatLocal(utc(2026, 7, 11, 7, 0)), "2026-07-11 02:00 CDT");
  // Crossing midnight backwards: 03:15 UTC on 01-01 is still New Year's Eve in Chicago.
  EXPECT_EQ(chicago.formatLocal(utc(2026, 1, 1, 3, 15)), "2025-12-31 21:15 CST");
  EXPECT_EQ(berlin.formatLocal(utc(2026, 1, 10, 23, 30)), "2026-01-11 00:30 CET");
  EXPECT_EQ(berlin.formatLocal(utc(2026, 7, 11, 0, 0)), "2026-07-11 02:00 CEST");
  EXPECT_EQ(utcWindow.formatLocal(utc(2026, 12, 5, 8, 0)), "2026-12-05 08:00 UTC");
  // Seconds and milliseconds are truncated, not rounded.
  EXPECT_EQ(chicago.formatLocal(utc(2026, 12, 5, 8, 0) + kLastMillisecondOfMinute),
            "2026-12-05 02:00 CST");
}

TEST(WindowFormatting, FormatUtcShowsMinutesAndUtc) {
  EXPECT_EQ(Window::formatUtc(utc(2026, 12, 5, 8, 0)), "2026-12-05 08:00 UTC");
  EXPECT_EQ(Window::formatUtc(utc(2026, 12, 5, 8, 0) + kLastMillisecondOfMinute),
            "2026-12-05 08:00 UTC");
  EXPECT_EQ(Window::formatUtc(utc(1969, 12, 31, 23, 59) + Milliseconds{500}),
            "1969-12-31 23:59 UTC");
}

TEST(WindowRange, InstantsPastYearNineThousandNineHundredNinetyNineAreClosedAndUnformatted) {
  const Window window = weekly({0, 1, 2, 3, 4, 5, 6}, "00:00", days{7}, "America/Chicago");

  for (const Instant extreme : {Instant::min(), Instant::max(), utc(10000, 1, 1, 0, 0)}) {
    EXPECT_EQ(Window::formatUtc(extreme), "");
    EXPECT_EQ(window.formatLocal(extreme), "");
    EXPECT_FALSE(window.isOpen(extreme));
    EXPECT_EQ(window.currentOrNext(extreme), std::nullopt);
    EXPECT_EQ(window.timeLeft(extreme), Milliseconds::zero());
  }
  EXPECT_EQ(Window::formatUtc(utc(9999, 12, 31, 23, 59)), "9999-12-31 23:59 UTC");
}

// --- Parsing helpers. ------------------------------------------------------------------------

TEST(ParseClock, ReadsTwoDigitHoursAndMinutes) {
  EXPECT_EQ(parseClock("00:00"), 0);
  EXPECT_EQ(parseClock("02:00"), 120);
  EXPECT_EQ(parseClock("09:05"), 545);
  EXPECT_EQ(parseClock("23:59"), 1439);
}

TEST(ParseClock, RejectsMalformedOrOutOfRangeTimes) {
  for (const std::string_view bad : {"", "24:00", "23:60", "2:00", "02:0", "0200", "02-00", "ab:cd",
                                     "+2:00", " 02:00", "02:00 ", "02:00:00", "-1:00"}) {
    EXPECT_EQ(parseClock(bad), std::nullopt) << "'" << bad << "'";
  }
}

TEST(ParseWeekday, ReadsShortAndFullLowerCaseNames) {
  EXPECT_EQ(parseWeekday("sun"), 0);
  EXPECT_EQ(parseWeekday("mon"), 1);
  EXPECT_EQ(parseWeekday("tue"), 2);
  EXPECT_EQ(parseWeekday("wed"), 3);
  EXPECT_EQ(parseWeekday("thu"), 4);
  EXPECT_EQ(parseWeekday("fri"), 5);
  EXPECT_EQ(parseWeekday("sat"), 6);
  EXPECT_EQ(parseWeekday("sunday"), 0);
  EXPECT_EQ(parseWeekday("wednesday"), 3);
  EXPECT_EQ(parseWeekday("saturday"), 6);
}

TEST(ParseWeekday, RejectsOtherSpellings) {
  for (const std::string_view bad :
       {"", "Sat", "SUN", "Monday", "tues", "thur", "sa", "0", "sat ", "satur"}) {
    EXPECT_EQ(parseWeekday(bad), std::nullopt) << "'" << bad << "'";
  }
}

TEST(IsKnownTimezone, AcceptsZonesInTheDatabase) {
  EXPECT_TRUE(isKnownTimezone("America/Chicago"));
  EXPECT_TRUE(isKnownTimezone("Europe/Berlin"));
  EXPECT_TRUE(isKnownTimezone("UTC"));
  EXPECT_TRUE(isKnownTimezone("US/Central"));
}

TEST(IsKnownTimezone, RejectsUnknownOrMisspelledZones) {
  EXPECT_FALSE(isKnownTimezone("Mars/Base"));
  EXPECT_FALSE(isKnownTimezone(""));
  EXPECT_FALSE(isKnownTimezone("america/chicago"));
  EXPECT_FALSE(isKnownTimezone("America/Chicago "));
  EXPECT_FALSE(isKnownTimezone("../../etc/passwd"));
}

}  // namespace
}  // namespace mig::window

namespace mig::window {
namespace {

TEST(ParseInstant, ReadsUtcAndOffsets) {
  using namespace std::chrono;
  auto utc = parseInstant("2026-12-01T10:00Z");
  ASSERT_TRUE(utc);
  EXPECT_EQ(*utc, Instant(sys_days(year{2026} / 12 / 1) + hours(10)));
  auto seconds = parseInstant("2026-12-01T10:00:30Z");
  ASSERT_TRUE(seconds);
  EXPECT_EQ(*seconds, *utc + std::chrono::seconds(30));
  auto offset = parseInstant("2026-12-01T04:00-06:00");
  ASSERT_TRUE(offset);
  EXPECT_EQ(*offset, *utc);
}

TEST(ParseInstant, RejectsMalformedInstants) {
  for (const char* bad : {"", "2026-12-01", "2026-12-01T10:00", "tomorrow", "2026-13-01T10:00Z",
                          "2026-12-01T10:00Zjunk"}) {
    EXPECT_FALSE(parseInstant(bad)) << bad;
  }
}

}  // namespace
}  // namespace mig::window
