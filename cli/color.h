#pragma once

#include <string>

/// Whether mig paints its output: `--color auto|always|never`, then the
/// conventions of the environment (https://no-color.org, TERM=dumb).
namespace mig::cli {

enum class ColorChoice { Auto, Always, Never };

/// Set once from the command line, before any command runs.
void setColorChoice(ColorChoice choice);

/// Parses "auto", "always" or "never".
bool parseColorChoice(const std::string& text, ColorChoice& choice);

/// True when output written to `fd` should carry colours: always with
/// `--color always`; never with `--color never`; otherwise when `fd` is a
/// terminal, NO_COLOR is unset or empty, and TERM is not "dumb".
bool useColor(int fd);

}  // namespace mig::cli
