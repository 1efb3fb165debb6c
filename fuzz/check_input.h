#pragma once

#include <string>
#include <string_view>

namespace mig::fuzz {

/// Runs one input through the front end as `mig lint` and `mig fmt` do:
/// parse, imports and checks, every diagnostic printer, and, when the
/// input parses cleanly, the formatter. Returns "" when every invariant
/// held, else what broke:
/// - the formatter's output parses cleanly,
/// - formatting it again changes nothing.
/// Crashes, hangs, leaks and undefined behaviour are for the sanitizers
/// and libFuzzer to catch. Imports resolve only against the embedded
/// stdlib and the working directory (MIG_PATH is ignored).
std::string checkInput(std::string_view text);

}  // namespace mig::fuzz
