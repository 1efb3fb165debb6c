#pragma once

#include <string>

namespace mig::runtime {

/// A value for a MySQL option file, double-quoted with its backslashes,
/// double quotes, newlines, carriage returns and tabs escaped, as both the
/// clients and libmariadb read it (an unescaped quote would end the quoted
/// text early and let a '#' after it start a comment).
inline std::string optionFileValue(const std::string& value) {
  std::string out = "\"";
  for (char c : value) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        out += c;
    }
  }
  return out + "\"";
}

}  // namespace mig::runtime
