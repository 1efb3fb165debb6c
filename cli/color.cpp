#include "cli/color.h"

#include <unistd.h>

#include <cstdlib>
#include <string_view>

namespace mig::cli {
namespace {

ColorChoice chosen = ColorChoice::Auto;

bool environmentAllowsColor() {
  const char* noColor = std::getenv("NO_COLOR");
  if (noColor != nullptr && noColor[0] != '\0') return false;
  const char* term = std::getenv("TERM");
  return term == nullptr || std::string_view(term) != "dumb";
}

}  // namespace

void setColorChoice(ColorChoice choice) {
  chosen = choice;
}

bool parseColorChoice(const std::string& text, ColorChoice& choice) {
  if (text == "auto")
    choice = ColorChoice::Auto;
  else if (text == "always")
    choice = ColorChoice::Always;
  else if (text == "never")
    choice = ColorChoice::Never;
  else
    return false;
  return true;
}

bool useColor(int fd) {
  switch (chosen) {
    case ColorChoice::Always:
      return true;
    case ColorChoice::Never:
      return false;
    case ColorChoice::Auto:
      break;
  }
  return isatty(fd) && environmentAllowsColor();
}

}  // namespace mig::cli
