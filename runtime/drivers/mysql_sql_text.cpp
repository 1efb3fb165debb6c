#include "runtime/drivers/mysql_sql_text.h"

#include <algorithm>
#include <cctype>

#include "runtime/drivers/mysql_client.h"
#include "runtime/drivers/text.h"

namespace mig::drivers::mysql {
namespace {

/// What grant lines hold in place of the database's name: as a name, and
/// as a pattern with _ and % escaped.
constexpr std::string_view kDatabaseName = "\1database\1";
constexpr std::string_view kDatabasePattern = "\1database pattern\1";

bool isWordCharacter(char c) {
  auto byte = static_cast<unsigned char>(c);
  return std::isalnum(byte) != 0 || c == '_' || c == '$' || byte >= 0x80;
}

/// The offset just past a quoted token opening at `begin`, and its value.
size_t quotedEnd(std::string_view sql, size_t begin, bool backslashEscapes, std::string& value) {
  char quote = sql[begin];
  size_t at = begin + 1;
  while (at < sql.size()) {
    char c = sql[at];
    if (backslashEscapes && c == '\\' && at + 1 < sql.size()) {
      value += sql[at + 1];
      at += 2;
      continue;
    }
    if (c == quote) {
      if (at + 1 < sql.size() && sql[at + 1] == quote) {
        value += quote;
        at += 2;
        continue;
      }
      return at + 1;
    }
    value += c;
    ++at;
  }
  return at;
}

/// Where a comment starting at `at` ends, or `at` when none starts there.
size_t commentEnd(std::string_view sql, size_t at) {
  auto lineEnd = [&](size_t from) { return std::min(sql.find('\n', from), sql.size()); };
  if (sql[at] == '#') return lineEnd(at);
  if (sql.substr(at).starts_with("--") &&
      (at + 2 == sql.size() || std::isspace(static_cast<unsigned char>(sql[at + 2])) != 0)) {
    return lineEnd(at);
  }
  if (sql.substr(at).starts_with("/*")) {
    size_t close = sql.find("*/", at + 2);
    return close == std::string_view::npos ? sql.size() : close + 2;
  }
  return at;
}

bool isSymbol(const std::vector<Token>& tokens, size_t i, char symbol) {
  return i < tokens.size() && tokens[i].kind == Token::Kind::kSymbol &&
         tokens[i].value.size() == 1 && tokens[i].value[0] == symbol;
}

/// Whether token `i` is the first name of a dotted chain: `shop`.`t` but
/// not the `t` of `shop`.`t`.`id`.
bool startsQualifiedName(const std::vector<Token>& tokens, size_t i) {
  const Token& name = tokens[i];
  if (name.kind != Token::Kind::kWord && name.kind != Token::Kind::kIdentifier) return false;
  if (!isSymbol(tokens, i + 1, '.') || tokens[i + 1].begin != name.end) return false;
  return i == 0 || !isSymbol(tokens, i - 1, '.') || tokens[i - 1].end != name.begin;
}

/// The database's name as a LIKE pattern matching only itself.
std::string escapedPattern(std::string_view database) {
  std::string pattern;
  for (char c : database) {
    if (c == '_' || c == '%') pattern += '\\';
    pattern += c;
  }
  return pattern;
}

/// Reads an authentication clause starting at token `i` (just after
/// IDENTIFIED): plugins and secrets into `account`. Returns the index of
/// the first token after the clause.
size_t readAuthentication(const std::vector<Token>& tokens, size_t i, AccountDefinition& account) {
  std::vector<std::string> plugins;
  std::vector<std::string> secrets;
  auto at = [&](size_t index, std::string_view keyword) {
    return index < tokens.size() && tokens[index].is(keyword);
  };
  auto takeSecret = [&](size_t& index) {
    if (at(index, "PASSWORD") && isSymbol(tokens, index + 1, '(')) index += 2;
    if (index < tokens.size() && tokens[index].kind == Token::Kind::kString) {
      secrets.push_back(tokens[index].value);
      ++index;
    }
    if (isSymbol(tokens, index, ')')) ++index;
  };
  // MariaDB: VIA a OR b USING '...'; MySQL: WITH 'a' AS '...' AND
  // IDENTIFIED WITH 'b'.
  bool afterOr = false;
  while (i < tokens.size()) {
    if (at(i, "BY")) {
      ++i;
      if (at(i, "PASSWORD")) ++i;
      plugins.push_back("mysql_native_password");
      takeSecret(i);
    } else {
      if (at(i, "VIA") || at(i, "WITH")) {
        ++i;
      } else if (!afterOr) {
        break;
      }
      if (i >= tokens.size()) break;
      plugins.push_back(tokens[i].value);
      ++i;
      if (at(i, "USING") || at(i, "AS") || at(i, "BY")) {
        ++i;
        takeSecret(i);
      }
    }
    afterOr = at(i, "OR");
    if (afterOr) {
      ++i;
    } else if (at(i, "AND") && at(i + 1, "IDENTIFIED")) {
      i += 2;
    } else {
      break;
    }
  }
  account.plugin = text::joined(plugins, " OR ");
  account.secret = text::joined(secrets, "\x1f");
  return i;
}

/// The text from token `from` on, strings after BY, USING, AS or PASSWORD
/// masked: a hash the parser did not expect is never printed.
std::string maskedRest(std::string_view sql, const std::vector<Token>& tokens, size_t from) {
  if (from >= tokens.size()) return "";
  std::string out;
  size_t copied = tokens[from].begin;
  for (size_t i = from; i < tokens.size(); ++i) {
    if (tokens[i].kind != Token::Kind::kString || i == 0) continue;
    const Token& before = tokens[i - 1];
    if (!before.is("BY") && !before.is("USING") && !before.is("AS") && !before.is("PASSWORD")) {
      continue;
    }
    out += sql.substr(copied, tokens[i].begin - copied);
    out += "'...'";
    copied = tokens[i].end;
  }
  out += sql.substr(copied);
  return text::trimmed(out);
}

/// The index just past an account name (`u`@`h`, 'u'@'h', u) at token `i`.
size_t accountEnd(const std::vector<Token>& tokens, size_t i) {
  if (i >= tokens.size()) return i;
  if (isSymbol(tokens, i + 1, '@') && i + 2 < tokens.size()) return i + 3;
  return i + 1;
}

}  // namespace

bool Token::is(std::string_view keyword) const {
  if (kind != Kind::kWord || value.size() != keyword.size()) return false;
  return std::equal(value.begin(), value.end(), keyword.begin(), [](char x, char y) {
    return std::toupper(static_cast<unsigned char>(x)) ==
           std::toupper(static_cast<unsigned char>(y));
  });
}

std::vector<Token> tokenize(std::string_view sql) {
  std::vector<Token> tokens;
  size_t at = 0;
  while (at < sql.size()) {
    char c = sql[at];
    if (std::isspace(static_cast<unsigned char>(c)) != 0) {
      ++at;
      continue;
    }
    if (size_t end = commentEnd(sql, at); end != at) {
      at = end;
      continue;
    }
    Token token;
    token.begin = at;
    if (c == '`') {
      token.kind = Token::Kind::kIdentifier;
      at = quotedEnd(sql, at, /*backslashEscapes=*/false, token.value);
    } else if (c == '\'' || c == '"') {
      token.kind = Token::Kind::kString;
      at = quotedEnd(sql, at, /*backslashEscapes=*/true, token.value);
    } else if (isWordCharacter(c)) {
      token.kind = Token::Kind::kWord;
      while (at < sql.size() && isWordCharacter(sql[at])) ++at;
      token.value = std::string(sql.substr(token.begin, at - token.begin));
    } else {
      token.kind = Token::Kind::kSymbol;
      token.value = std::string(1, c);
      ++at;
    }
    token.end = at;
    tokens.push_back(std::move(token));
  }
  return tokens;
}

std::string withoutDatabase(std::string_view sql, std::string_view database) {
  std::vector<Token> tokens = tokenize(sql);
  std::string out;
  size_t copied = 0;
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (tokens[i].value != database || !startsQualifiedName(tokens, i)) continue;
    out += sql.substr(copied, tokens[i].begin - copied);
    copied = tokens[i + 1].end;  // the name and its dot
  }
  out += sql.substr(copied);
  return out;
}

AccountDefinition parseCreateUser(std::string_view statement) {
  std::vector<Token> tokens = tokenize(statement);
  AccountDefinition account;
  size_t i = 0;
  if (i < tokens.size() && tokens[i].is("CREATE")) ++i;
  if (i < tokens.size() && tokens[i].is("USER")) ++i;
  i = accountEnd(tokens, i);
  if (i < tokens.size() && tokens[i].is("IDENTIFIED"))
    i = readAuthentication(tokens, i + 1, account);
  account.options = maskedRest(statement, tokens, i);
  return account;
}

std::string normalizedGrant(std::string_view line, std::string_view database) {
  std::vector<Token> tokens = tokenize(line);
  auto to = std::find_if(tokens.begin(), tokens.end(), [](const Token& t) { return t.is("TO"); });
  size_t account = static_cast<size_t>(to - tokens.begin());
  size_t after = to == tokens.end() ? tokens.size() : accountEnd(tokens, account + 1);

  std::string out;
  size_t copied = 0;
  std::string pattern = escapedPattern(database);
  for (size_t i = 0; i < account && i < tokens.size(); ++i) {
    const Token& token = tokens[i];
    if (token.kind != Token::Kind::kIdentifier || !startsQualifiedName(tokens, i)) continue;
    std::string_view placeholder = token.value == database  ? kDatabaseName
                                   : token.value == pattern ? kDatabasePattern
                                                            : std::string_view();
    if (placeholder.empty()) continue;
    out += line.substr(copied, token.begin - copied);
    out += placeholder;
    copied = token.end;
  }
  size_t kept = after == 0 ? line.size() : tokens[after - 1].end;
  out += line.substr(copied, kept - copied);

  // What follows the account: its authentication, REQUIRE and resource
  // limits belong to the account, not to the grant; WITH GRANT OPTION and
  // anything unknown stay.
  AccountDefinition ignored;
  size_t i = after;
  while (i < tokens.size()) {
    if (tokens[i].is("IDENTIFIED")) {
      i = readAuthentication(tokens, i + 1, ignored);
    } else if (tokens[i].is("REQUIRE")) {
      ++i;
      while (i < tokens.size() && !tokens[i].is("WITH")) ++i;
    } else if (tokens[i].is("WITH")) {
      ++i;
    } else if (tokens[i].value.starts_with("MAX_") || tokens[i].value.starts_with("max_")) {
      i += 2;
    } else if (i + 1 < tokens.size() && (tokens[i].is("GRANT") || tokens[i].is("ADMIN")) &&
               tokens[i + 1].is("OPTION")) {
      out += " WITH " + tokens[i].value + " OPTION";
      i += 2;
    } else {
      // Unknown: kept as written, but never a string that may be a hash.
      out += tokens[i].kind == Token::Kind::kString ? " '...'" : " " + tokens[i].value;
      ++i;
    }
  }
  return out;
}

std::string grantOn(std::string_view normalized, std::string_view database) {
  std::string out(normalized);
  auto replace = [&](std::string_view placeholder, const std::string& name) {
    for (size_t at = out.find(placeholder); at != std::string::npos;
         at = out.find(placeholder, at + name.size())) {
      out.replace(at, placeholder.size(), name);
    }
  };
  replace(kDatabaseName, identifier(database));
  replace(kDatabasePattern, identifier(escapedPattern(database)));
  return out;
}

}  // namespace mig::drivers::mysql
