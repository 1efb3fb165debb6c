#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

/// Small helpers for the drivers' messages.
namespace mig::drivers::text {

/// "1 table", "2 tables", "1,204 rows"; `plural` defaults to `singular` + "s".
std::string counted(long long count, std::string_view singular, std::string_view plural = "");
/// 1234567 as "1,234,567".
std::string withThousands(long long number);
/// The words with `separator` between them.
std::string joined(const std::vector<std::string>& words, std::string_view separator);
/// The lines of `text`, without their newlines ("a\nb\n": "a", "b").
std::vector<std::string> lines(std::string_view text);
/// `text` without leading and trailing white space.
std::string trimmed(std::string_view text);
/// `text` with every occurrence of `secret` replaced by "***": for server
/// messages that might echo a password.
std::string redact(std::string_view text, std::string_view secret);
/// "250ms", "5s", "2m", "1h" (how the stdlib passes durations) as
/// milliseconds; nullopt for anything else.
std::optional<int64_t> parseMilliseconds(std::string_view text);
/// Fifty characters of `value` from a little before character `at`,
/// quoted, on one line, with "..." where it was cut: a long value's
/// difference in a message.
std::string excerpt(std::string_view value, size_t at);
/// "schema public", "schemas a, b", or "" for none.
std::string namedList(std::string_view singular, const std::vector<std::string>& names);

}  // namespace mig::drivers::text
