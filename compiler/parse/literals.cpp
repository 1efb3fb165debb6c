#include "compiler/parse/literals.h"

#include <fmt/format.h>

#include <array>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <limits>

namespace mig::parse {
namespace {

bool isIdentStart(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool isIdentChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

class StringDecoder {
 public:
  StringDecoder(std::string_view token, source::FileId file, uint32_t begin,
                diag::DiagnosticEngine& diags)
      : token_(token), file_(file), begin_(begin), diags_(diags) {}

  std::vector<ast::StringPart> decode(bool terminated) {
    bool triple = token_.starts_with("\"\"\"");
    size_t quote = triple ? 3 : 1;
    size_t end = token_.size();
    if (terminated) end -= quote;
    size_t i = quote;
    // A newline right after the opening """ is not part of the text.
    if (triple && token_.substr(i, 1) == "\n") ++i;
    if (triple && token_.substr(i, 2) == "\r\n") i += 2;
    literalStart_ = i;
    while (i < end) {
      char c = token_[i];
      if (c == '\\' && !triple) {
        i = escape(i, end);
      } else if (c == '$' && token_.substr(i, 3) == "$${") {
        literal_ += "${";
        i += 3;
      } else if (c == '$' && i + 1 < end && token_[i + 1] == '{') {
        i = interpolation(i, end);
      } else {
        literal_ += c;
        ++i;
      }
    }
    flushLiteral(end);
    return std::move(parts_);
  }

 private:
  source::Range range(size_t from, size_t to) const {
    return {file_, begin_ + static_cast<uint32_t>(from), begin_ + static_cast<uint32_t>(to)};
  }

  void flushLiteral(size_t at) {
    if (!literal_.empty()) {
      ast::StringPart part;
      part.text = std::move(literal_);
      part.range = range(literalStart_, at);
      parts_.push_back(std::move(part));
    }
    literal_.clear();
    literalStart_ = at;
  }

  size_t escape(size_t at, size_t end) {
    if (at + 1 >= end) {
      literal_ += '\\';
      return at + 1;
    }
    char next = token_[at + 1];
    switch (next) {
      case '"': literal_ += '"'; break;
      case '\\': literal_ += '\\'; break;
      case 'n': literal_ += '\n'; break;
      case 't': literal_ += '\t'; break;
      case '$': literal_ += '$'; break;
      default: {
        auto& d = diags_.report(diag::Rule::SyntaxError, range(at, at + 2),
                                fmt::format("unknown escape sequence '\\{}'", next));
        d.fix = diag::FixHint{"the escapes are \\\" \\\\ \\n \\t and \\$; write \\\\ for a backslash",
                              range(at, at + 1), std::string("\\\\")};
        literal_ += next;
      }
    }
    return at + 2;
  }

  size_t interpolation(size_t at, size_t end) {
    size_t close = token_.find('}', at + 2);
    if (close == std::string_view::npos || close >= end) {
      auto& d = diags_.report(diag::Rule::SyntaxError, range(at, at + 2),
                              "unterminated interpolation: expected '}' to close '${'");
      d.fix = diag::FixHint{"write $${ for a literal '${'", range(at, at + 1), std::string("$$")};
      literal_ += token_.substr(at, end - at);
      return end;
    }
    flushLiteral(at);
    ast::StringPart part;
    part.isInterpolation = true;
    part.range = range(at, close + 1);
    size_t i = at + 2;
    auto skipSpace = [&] {
      while (i < close && (token_[i] == ' ' || token_[i] == '\t')) ++i;
    };
    skipSpace();
    bool ok = true;
    while (true) {
      if (i >= close || !isIdentStart(token_[i])) {
        ok = false;
        break;
      }
      size_t nameStart = i;
      while (i < close && isIdentChar(token_[i])) ++i;
      part.path.push_back({std::string(token_.substr(nameStart, i - nameStart)), range(nameStart, i)});
      skipSpace();
      if (i < close && token_[i] == '.') {
        ++i;
        continue;
      }
      break;
    }
    if (!ok || i != close) {
      size_t bad = std::min(i, close);
      diags_.report(diag::Rule::SyntaxError, range(bad, bad < close ? bad + 1 : close + 1),
                    i == close || bad == close
                        ? std::string("expected a name in '${...}'")
                        : fmt::format("unexpected '{}' in '${{...}}': expected a name like "
                                      "endpoint.field",
                                      token_[bad]));
      part.path.clear();
    }
    if (!part.path.empty()) parts_.push_back(std::move(part));
    literalStart_ = close + 1;
    return close + 1;
  }

  std::string_view token_;
  source::FileId file_;
  uint32_t begin_;
  diag::DiagnosticEngine& diags_;
  std::vector<ast::StringPart> parts_;
  std::string literal_;
  size_t literalStart_ = 0;
};

}  // namespace

std::vector<ast::StringPart> decodeString(std::string_view token, bool terminated,
                                          source::FileId file, uint32_t begin,
                                          diag::DiagnosticEngine& diags) {
  return StringDecoder(token, file, begin, diags).decode(terminated);
}

}  // namespace mig::parse
