#pragma once

#include <string>
#include <string_view>

namespace mig::graph {

/// `value` as exactly one bash word: unchanged when it is made only of
/// characters no shell treats specially, otherwise in single quotes (a
/// quote inside becomes '\''). Nothing in the value can end the word, run a
/// command or expand: not quotes, $(...), backticks, ; or newlines.
std::string shellQuote(std::string_view value);

}  // namespace mig::graph
