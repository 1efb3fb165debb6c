#include <gtest/gtest.h>

#include "compiler/parse/literals.h"
#include "compiler/units/units.h"

namespace mig::parse {
namespace {

using units::formatDuration;
using units::formatSize;
using units::parseUnitNumber;
using units::UnitValue;

int64_t durationMs(std::string_view text) {
  std::string error;
  auto value = parseUnitNumber(text, error);
  EXPECT_TRUE(value) << error;
  EXPECT_EQ(value->kind, UnitValue::Kind::Duration);
  return value->amount;
}

int64_t sizeBytes(std::string_view text) {
  std::string error;
  auto value = parseUnitNumber(text, error);
  EXPECT_TRUE(value) << error;
  EXPECT_EQ(value->kind, UnitValue::Kind::Size);
  return value->amount;
}

TEST(Units, Durations) {
  EXPECT_EQ(durationMs("90s"), 90'000);
  EXPECT_EQ(durationMs("15m"), 900'000);
  EXPECT_EQ(durationMs("4h"), 14'400'000);
  EXPECT_EQ(durationMs("2d"), 172'800'000);
  EXPECT_EQ(durationMs("1h30m"), 5'400'000);
  EXPECT_EQ(durationMs("1.5h"), 5'400'000);
  EXPECT_EQ(durationMs("250ms"), 250);
  EXPECT_EQ(durationMs("1w"), 604'800'000);
}

TEST(Units, SizesArePowersOf1024) {
  EXPECT_EQ(sizeBytes("512MB"), 512LL << 20);
  EXPECT_EQ(sizeBytes("120GB"), 120LL << 30);
  EXPECT_EQ(sizeBytes("2TB"), 2LL << 40);
  EXPECT_EQ(sizeBytes("2TiB"), 2LL << 40);
  EXPECT_EQ(sizeBytes("100B"), 100);
}

TEST(Units, UnknownUnitsAndMixturesAreErrors) {
  std::string error;
  EXPECT_FALSE(parseUnitNumber("12parsecs", error));
  EXPECT_EQ(error,
            "unknown unit 'parsecs' in '12parsecs': durations take ms, s, m, h, d, w and sizes B, "
            "KB, MB, GB, TB, PB");
  EXPECT_FALSE(parseUnitNumber("1h2MB", error));
  EXPECT_EQ(error, "'1h2MB' mixes duration and size units");
  EXPECT_FALSE(parseUnitNumber("1mb", error));
}

TEST(Units, FormatsCanonically) {
  EXPECT_EQ(formatDuration(5'400'000), "1h30m");
  EXPECT_EQ(formatDuration(172'800'000), "2d");
  EXPECT_EQ(formatDuration(250), "250ms");
  EXPECT_EQ(formatDuration(0), "0s");
  EXPECT_EQ(formatSize(512LL << 20), "512MB");
  EXPECT_EQ(formatSize(1000), "1000B");
}

std::vector<ast::StringPart> decode(std::string_view token, diag::DiagnosticEngine& diags) {
  return decodeString(token, true, 1, 0, diags);
}

TEST(Strings, DecodesEscapes) {
  diag::DiagnosticEngine diags;
  auto parts = decode(R"("a\"b\\c\nd\te\$f")", diags);
  ASSERT_EQ(parts.size(), 1u);
  EXPECT_EQ(parts[0].text, "a\"b\\c\nd\te$f");
  EXPECT_TRUE(diags.diagnostics().empty());
}

TEST(Strings, SplitsInterpolations) {
  diag::DiagnosticEngine diags;
  auto parts = decode(R"("psql ${new_db.url} -c x")", diags);
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(parts[0].text, "psql ");
  EXPECT_TRUE(parts[1].isInterpolation);
  ASSERT_EQ(parts[1].path.size(), 2u);
  EXPECT_EQ(parts[1].path[0].text, "new_db");
  EXPECT_EQ(parts[1].path[1].text, "url");
  EXPECT_EQ(parts[1].range.begin, 6u);
  EXPECT_EQ(parts[1].range.end, 19u);
  EXPECT_EQ(parts[2].text, " -c x");
}

TEST(Strings, DoubleDollarIsALiteralInterpolation) {
  diag::DiagnosticEngine diags;
  auto parts = decode(R"("cost $${x} and \${y}")", diags);
  ASSERT_EQ(parts.size(), 1u);
  EXPECT_EQ(parts[0].text, "cost ${x} and ${y}");
}

TEST(Strings, TripleQuotedStringsAreRawButInterpolate) {
  diag::DiagnosticEngine diags;
  auto parts = decode("\"\"\"\nline \\d+ ${a}\n\"\"\"", diags);
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(parts[0].text, "line \\d+ ");
  EXPECT_EQ(parts[1].path[0].text, "a");
  EXPECT_EQ(parts[2].text, "\n");
  EXPECT_TRUE(diags.diagnostics().empty());
}

TEST(Strings, BadEscapeIsReportedWithAFix) {
  diag::DiagnosticEngine diags;
  decode(R"("C:\data")", diags);
  ASSERT_EQ(diags.diagnostics().size(), 1u);
  const diag::Diagnostic& d = diags.diagnostics()[0];
  EXPECT_EQ(d.message, "unknown escape sequence '\\d'");
  EXPECT_EQ(d.range.begin, 3u);
  EXPECT_EQ(d.range.end, 5u);
  ASSERT_TRUE(d.fix);
  EXPECT_EQ(d.fix->replacement, "\\\\");
}

}  // namespace
}  // namespace mig::parse
