#include "compiler/sema/resolve.h"

#include <fmt/format.h>

#include <algorithm>

namespace mig::sema {

using Tag = Type::Tag;

std::optional<Type> pseudoFieldType(const Type& of, std::string_view field) {
  if (of.tag == Tag::Duration && (field == "seconds" || field == "ms")) return Type::of(Tag::Int);
  if (of.tag == Tag::Size && field == "bytes") return Type::of(Tag::Int);
  return std::nullopt;
}

bool ValueChecker::assignable(const Type& expected, const Type& actual) {
  if (expected.tag == Tag::Invalid || actual.tag == Tag::Invalid) return true;
  if (expected.tag == Tag::Command && actual.tag == Tag::String) return true;
  if (expected.tag == Tag::String && actual.tag == Tag::OneOf) return true;
  if (expected.tag != actual.tag) return false;
  switch (expected.tag) {
    case Tag::List:
      return expected.element.empty() || actual.element.empty() ||
             assignable(expected.element[0], actual.element[0]);
    case Tag::OneOf:
      return std::all_of(actual.symbols.begin(), actual.symbols.end(), [&](const std::string& s) {
        return std::find(expected.symbols.begin(), expected.symbols.end(), s) !=
               expected.symbols.end();
      });
    case Tag::Endpoint:
      if (expected.kinds.empty()) return true;
      if (actual.kinds.empty()) return false;
      return std::all_of(actual.kinds.begin(), actual.kinds.end(),
                         [&](const EndpointKind* k) { return expected.acceptsKind(k); });
    default: return true;
  }
}

std::string ValueChecker::describe(const ast::Expr& expr) {
  switch (expr.kind) {
    case ast::ExprKind::String: return "a string";
    case ast::ExprKind::Integer: return fmt::format("the number {}", expr.number);
    case ast::ExprKind::Duration: return "a duration";
    case ast::ExprKind::Size: return "a size";
    case ast::ExprKind::BadUnit: return "a number with a unit";
    case ast::ExprKind::Bool: return expr.boolean ? "true" : "false";
    case ast::ExprKind::List: return "a list";
    case ast::ExprKind::Reference: return fmt::format("'{}'", expr.dottedPath());
    case ast::ExprKind::Call: return fmt::format("a call of '{}'", expr.dottedPath());
    case ast::ExprKind::Union: return "a union of kinds";
  }
  return "a value";
}

bool ValueChecker::interpolatable(const Type& type) const {
  switch (type.tag) {
    case Tag::String:
    case Tag::Command:
    case Tag::Int:
    case Tag::Bool:
    case Tag::Duration:
    case Tag::Size:
    case Tag::OneOf:
    case Tag::Invalid: return true;
    case Tag::List: return type.element.empty() || interpolatable(type.element[0]);
    default: return false;
  }
}

std::optional<Template> ValueChecker::checkTemplate(const ast::Expr& expr, bool command,
                                                    Scope& scope) {
  Template result;
  result.command = command;
  bool ok = true;
  for (const ast::StringPart& part : expr.parts) {
    if (!part.isInterpolation) {
      result.parts.push_back({part.text, std::nullopt, part.range});
      continue;
    }
    auto resolved = scope.resolve(part.path);
    if (!resolved) {
      ok = false;
      continue;
    }
    if (resolved->type.tag == Tag::Secret) {
      auto& d = diags_.report(diag::Rule::SecretInCommand, part.range,
                              fmt::format("secret '{}' may not be interpolated: it would appear "
                                          "in {}, logs and the compiled plan",
                                          resolved->ref.secret ? resolved->ref.secret->name
                                                               : resolved->ref.name,
                                          command ? "the command line" : "plain text"));
      d.fix = diag::FixHint{
          command ? "reference the endpoint instead: its kind delivers the password to the "
                    "client (PGPASSFILE, REDISCLI_AUTH)"
                  : "remove it: a secret only reaches commands through its endpoint",
          part.range, std::nullopt};
      ok = false;
      continue;
    }
    if (!interpolatable(resolved->type)) {
      std::string what = resolved->type.tag == Tag::Endpoint
                             ? fmt::format("an endpoint; interpolate one of its fields, like "
                                           "'{}.url'",
                                           part.path.front().text)
                             : fmt::format("of type {}", resolved->type.name());
      diags_.report(diag::Rule::TypeMismatch, part.range,
                    fmt::format("cannot interpolate '{}': it is {}",
                                [&] {
                                  std::string p;
                                  for (const auto& id : part.path) p += (p.empty() ? "" : ".") + id.text;
                                  return p;
                                }(),
                                what));
      ok = false;
      continue;
    }
    scope.noteUse(resolved->ref);
    result.parts.push_back({"", resolved->ref, part.range});
  }
  if (!ok) return std::nullopt;
  if (command) checkQuoting(result);
  return result;
}

namespace {

// Follows a shell command's quoting through its literal text: single and
// double quotes, backslashes, comments and here-documents (whose bodies are
// data, not quoting).
class ShellQuoteState {
 public:
  enum class Quote { None, Single, Double };

  Quote quote() const { return inHeredoc_ ? Quote::None : quote_; }

  void feed(std::string_view text) {
    for (size_t i = 0; i < text.size(); ++i) {
      char c = text[i];
      if (inHeredoc_) {
        if (c == '\n') {
          std::string_view line = currentLine_;
          if (stripTabs_) line.remove_prefix(std::min(line.find_first_not_of('\t'), line.size()));
          if (line == delimiter_) inHeredoc_ = false;
          currentLine_.clear();
        } else {
          currentLine_ += c;
        }
        continue;
      }
      switch (quote_) {
        case Quote::None:
          if (c == '\\' && i + 1 < text.size()) {
            ++i;
          } else if (c == '\'') {
            quote_ = Quote::Single;
          } else if (c == '"') {
            quote_ = Quote::Double;
          } else if (c == '#' && isWordBoundary(previous_)) {
            size_t eol = text.find('\n', i);
            i = (eol == std::string_view::npos ? text.size() : eol) - 1;
          } else if (c == '<' && text.substr(i, 2) == "<<" && text.substr(i, 3) != "<<<") {
            i = readHeredocDelimiter(text, i + 2) - 1;
          } else if (c == '\n' && !pendingDelimiter_.empty()) {
            delimiter_ = std::move(pendingDelimiter_);
            pendingDelimiter_.clear();
            inHeredoc_ = true;
            currentLine_.clear();
          }
          break;
        case Quote::Single:
          if (c == '\'') quote_ = Quote::None;
          break;
        case Quote::Double:
          if (c == '\\' && i + 1 < text.size()) ++i;
          else if (c == '"') quote_ = Quote::None;
          break;
      }
      previous_ = text[i];
    }
  }

  /// An interpolated word: not a boundary, no quotes.
  void feedWord() { previous_ = 'x'; }

 private:
  static bool isWordBoundary(char c) { return std::string_view(" \t\n;&|(").find(c) != std::string_view::npos; }

  // After `<<`: an optional `-`, then the delimiter word, bare or quoted.
  size_t readHeredocDelimiter(std::string_view text, size_t i) {
    stripTabs_ = i < text.size() && text[i] == '-';
    if (stripTabs_) ++i;
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
    std::string word;
    while (i < text.size() && !isWordBoundary(text[i]) && text[i] != '<' && text[i] != '>') {
      if (text[i] != '\'' && text[i] != '"' && text[i] != '\\') word += text[i];
      ++i;
    }
    pendingDelimiter_ = word;
    return i;
  }

  Quote quote_ = Quote::None;
  char previous_ = '\n';
  bool inHeredoc_ = false;
  bool stripTabs_ = false;
  std::string pendingDelimiter_;
  std::string delimiter_;
  std::string currentLine_;
};

}  // namespace

// An interpolation is already one shell word; written inside quotes of the
// command itself, its quoting would nest.
void ValueChecker::checkQuoting(const Template& command) {
  ShellQuoteState state;
  for (const Template::Part& part : command.parts) {
    if (!part.ref) {
      state.feed(part.text);
      continue;
    }
    if (state.quote() != ShellQuoteState::Quote::None) {
      auto& d = diags_.report(
          diag::Rule::InvalidValue, part.range,
          fmt::format("interpolation inside {} quotes: '${{...}}' already inserts one "
                      "shell-quoted word",
                      state.quote() == ShellQuoteState::Quote::Single ? "single" : "double"));
      d.fix = diag::FixHint{"remove the quotes around the interpolation", part.range,
                            std::nullopt};
    }
    state.feedWord();
  }
}

Value ValueChecker::check(const ast::Expr& expr, const Type& type, Scope& scope) {
  Value value;
  value.range = expr.range;
  auto mismatch = [&](std::string_view expected) {
    diags_.report(diag::Rule::TypeMismatch, expr.range,
                  fmt::format("expected {}, found {}", expected, describe(expr)));
    return Value{};
  };

  if (expr.kind == ast::ExprKind::BadUnit) return Value{};  // already reported

  // A reference stands for a value of its own type anywhere.
  if (expr.kind == ast::ExprKind::Reference && type.tag != Tag::OneOf) {
    auto resolved = scope.resolve(expr.path);
    if (!resolved) return Value{};
    if (resolved->type.tag == Tag::Invalid) {  // what it names was reported where declared
      scope.noteUse(resolved->ref);
      return Value{};
    }
    if (!assignable(type, resolved->type)) {
      if (type.tag == Tag::Endpoint && resolved->type.tag == Tag::Endpoint) {
        diags_.report(diag::Rule::TypeMismatch, expr.range,
                      fmt::format("expected {} endpoint, found '{}' of kind {}", type.name(),
                                  expr.dottedPath(), resolved->type.name()));
        return Value{};
      }
      diags_.report(diag::Rule::TypeMismatch, expr.range,
                    fmt::format("expected {}, found '{}' of type {}", type.name(),
                                expr.dottedPath(), resolved->type.name()));
      return Value{};
    }
    scope.noteUse(resolved->ref);
    value.tag = Value::Tag::Ref;
    value.ref = resolved->ref;
    return value;
  }

  switch (type.tag) {
    case Tag::Invalid: return Value{};
    case Tag::String:
    case Tag::Command: {
      if (expr.kind != ast::ExprKind::String) return mismatch(type.tag == Tag::Command ? "a command string" : "a string");
      auto text = checkTemplate(expr, type.tag == Tag::Command, scope);
      if (!text) return Value{};
      value.tag = Value::Tag::String;
      value.text = std::move(*text);
      return value;
    }
    case Tag::Int:
      if (expr.kind != ast::ExprKind::Integer) return mismatch("a whole number");
      value.tag = Value::Tag::Int;
      value.number = expr.number;
      return value;
    case Tag::Bool:
      if (expr.kind != ast::ExprKind::Bool) return mismatch("true or false");
      value.tag = Value::Tag::Bool;
      value.boolean = expr.boolean;
      return value;
    case Tag::Duration:
      if (expr.kind != ast::ExprKind::Duration) return mismatch("a duration like 90s, 15m or 1h30m");
      value.tag = Value::Tag::Duration;
      value.number = expr.number;
      return value;
    case Tag::Size:
      if (expr.kind != ast::ExprKind::Size) return mismatch("a size like 512MB or 2TB");
      value.tag = Value::Tag::Size;
      value.number = expr.number;
      return value;
    case Tag::Secret: {
      if (expr.kind == ast::ExprKind::String) {
        auto& d = diags_.report(diag::Rule::SecretLiteral, expr.range,
                                "a secret written as a plain string ends up in the plan's "
                                "repository, its reviews and its logs");
        d.fix = diag::FixHint{
            "declare `secret NAME { from env(\"VAR\") }` (or file(\"PATH\")) and name it here",
            expr.range, std::nullopt};
        return Value{};
      }
      return mismatch("a secret's name");
    }
    case Tag::List: {
      if (expr.kind != ast::ExprKind::List) return mismatch(fmt::format("a list {}", type.name()));
      value.tag = Value::Tag::List;
      bool ok = true;
      for (const ast::ExprPtr& element : expr.elements) {
        Value item = check(*element, type.element[0], scope);
        if (!item.isSet()) ok = false;
        value.list.push_back(std::move(item));
      }
      return ok ? value : Value{};
    }
    case Tag::OneOf: {
      if (!expr.isSymbol()) {
        return mismatch(fmt::format("one of {}", fmt::join(type.symbols, ", ")));
      }
      const std::string& symbol = expr.path[0].text;
      if (std::find(type.symbols.begin(), type.symbols.end(), symbol) == type.symbols.end()) {
        auto& d = diags_.report(diag::Rule::InvalidValue, expr.range,
                                fmt::format("'{}' is not one of {}", symbol,
                                            fmt::join(type.symbols, ", ")));
        if (auto near = closestName(symbol, type.symbols)) {
          d.fix = diag::FixHint{fmt::format("did you mean '{}'?", *near), expr.range, *near};
        }
        return Value{};
      }
      value.tag = Value::Tag::Symbol;
      value.symbol = symbol;
      return value;
    }
    case Tag::Endpoint:
      return mismatch(fmt::format("{} endpoint's name", type.kinds.empty() ? "an" : type.name()));
  }
  return Value{};
}

std::optional<std::string> closestName(std::string_view name,
                                       const std::vector<std::string>& candidates) {
  // Optimal string alignment: edits, and swaps of neighbours ("form" for
  // "from") count one each. Three rows of the table, reused: this runs
  // once per undefined name against every declared one.
  std::vector<size_t> twoBack, back, row;
  auto distance = [&](std::string_view a, std::string_view b) {
    twoBack.assign(b.size() + 1, 0);
    back.resize(b.size() + 1);
    row.resize(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j) back[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
      row[0] = i;
      for (size_t j = 1; j <= b.size(); ++j) {
        size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
        row[j] = std::min({back[j] + 1, row[j - 1] + 1, back[j - 1] + cost});
        if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
          row[j] = std::min(row[j], twoBack[j - 2] + 1);
        }
      }
      std::swap(twoBack, back);
      std::swap(back, row);
    }
    return back[b.size()];
  };
  size_t limit = std::max<size_t>(1, name.size() / 3);
  std::optional<std::string> best;
  size_t bestDistance = limit + 1;
  for (const std::string& candidate : candidates) {
    // The distance is at least the difference in length.
    size_t gap = name.size() > candidate.size() ? name.size() - candidate.size()
                                                : candidate.size() - name.size();
    if (gap >= bestDistance) continue;
    size_t d = distance(name, candidate);
    if (d < bestDistance) {
      bestDistance = d;
      best = candidate;
    }
  }
  return best;
}

}  // namespace mig::sema
