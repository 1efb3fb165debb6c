// The only place that knows ANTLR: it runs the generated lexer and parser,
// reports syntax errors in our own words, and turns the parse tree into our
// AST at once.
#include "compiler/parse/parser.h"

#include <fmt/format.h>

#include <algorithm>
#include <functional>

#include "MigLexer.h"
#include "MigParser.h"
#include "antlr4-runtime.h"
#include "compiler/parse/literals.h"
#include "compiler/units/units.h"

namespace mig::parse {
namespace {

using antlr4::Token;

// ANTLR counts positions in code points; our locations are byte offsets.
class OffsetMap {
 public:
  explicit OffsetMap(std::string_view text) : size_(static_cast<uint32_t>(text.size())) {
    bool ascii = std::all_of(text.begin(), text.end(),
                             [](char c) { return static_cast<unsigned char>(c) < 0x80; });
    if (ascii) return;
    for (uint32_t i = 0; i < text.size(); ++i) {
      if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) byteOfCodePoint_.push_back(i);
    }
  }

  uint32_t byteOffset(size_t codePoint) const {
    if (byteOfCodePoint_.empty()) return std::min<uint32_t>(codePoint, size_);
    if (codePoint >= byteOfCodePoint_.size()) return size_;
    return byteOfCodePoint_[codePoint];
  }

 private:
  uint32_t size_;
  std::vector<uint32_t> byteOfCodePoint_;  // empty when the text is ASCII
};

bool isConjured(const Token* token) {
  return token == nullptr || token->getTokenIndex() == INVALID_INDEX ||
         token->getStartIndex() == INVALID_INDEX;
}

// Shared by the lexical checks, the error strategy and the builder.
class Reporter {
 public:
  Reporter(const source::SourceManager& sources, source::FileId file,
           diag::DiagnosticEngine& diags)
      : sources_(sources), file_(file), diags_(diags), offsets_(sources.text(file)) {}

  source::Range rangeOf(const Token* token) const {
    if (isConjured(token)) return {file_, 0, 0};
    if (token->getType() == Token::EOF) {
      uint32_t end = static_cast<uint32_t>(sources_.text(file_).size());
      return {file_, end, end};
    }
    return {file_, offsets_.byteOffset(token->getStartIndex()),
            offsets_.byteOffset(token->getStopIndex() + 1)};
  }

  source::Range span(const Token* first, const Token* last) const {
    source::Range from = rangeOf(first);
    source::Range to = isConjured(last) ? from : rangeOf(last);
    return {file_, from.begin, std::max(from.begin, to.end)};
  }

  std::string position(const Token* token) const {
    source::LineColumn at = sources_.begin(rangeOf(token));
    return fmt::format("{}:{}", at.line, at.column);
  }

  /// Reports a syntax error unless the per-file limit is reached.
  diag::Diagnostic* error(source::Range range, std::string message) {
    ++errors_;
    if (errors_ > kMaxSyntaxErrors) {
      if (errors_ == kMaxSyntaxErrors + 1) {
        diags_.report(diag::Rule::SyntaxError, range,
                      fmt::format("too many syntax errors; stopped reporting after {}",
                                  kMaxSyntaxErrors));
      }
      return nullptr;
    }
    return &diags_.report(diag::Rule::SyntaxError, range, std::move(message));
  }

  int errorCount() const { return errors_; }
  source::FileId file() const { return file_; }
  diag::DiagnosticEngine& diags() { return diags_; }
  std::string_view text() const { return sources_.text(file_); }

 private:
  const source::SourceManager& sources_;
  source::FileId file_;
  diag::DiagnosticEngine& diags_;
  OffsetMap offsets_;
  int errors_ = 0;
};

// ---------------------------------------------------------------- messages

std::string quoteToken(std::string_view text) {
  constexpr size_t kMax = 24;
  std::string shown(text.substr(0, kMax));
  if (text.size() > kMax) shown += "...";
  return fmt::format("'{}'", shown);
}

std::string describeFound(const Token* token) {
  if (token == nullptr) return "end of file";
  switch (token->getType()) {
    case Token::EOF: return "end of file";
    case MigLexer::NL: return "end of line";
    case MigLexer::STRING:
    case MigLexer::TRIPLE_STRING: return "string " + quoteToken(token->getText());
    case MigLexer::IDENT: return "name " + quoteToken(token->getText());
    default: return quoteToken(token->getText());
  }
}

std::string describeExpectedToken(size_t type) {
  switch (type) {
    case Token::EOF: return "end of file";
    case MigLexer::NL: return "end of line";
    case MigLexer::IDENT: return "a name";
    case MigLexer::STRING:
    case MigLexer::TRIPLE_STRING: return "a string";
    case MigLexer::INT: return "a number";
    case MigLexer::UNIT_NUMBER: return "a duration or size";
    case MigLexer::TRUE:
    case MigLexer::FALSE: return "true or false";
    case MigLexer::LBRACE: return "'{'";
    case MigLexer::RBRACE: return "'}'";
    case MigLexer::LPAREN: return "'('";
    case MigLexer::RPAREN: return "')'";
    case MigLexer::LBRACKET: return "'['";
    case MigLexer::RBRACKET: return "']'";
    case MigLexer::COMMA: return "','";
    case MigLexer::COLON: return "':'";
    case MigLexer::DOT: return "'.'";
    case MigLexer::ASSIGN: return "'='";
    case MigLexer::PIPE: return "'|'";
    default: return "something else";
  }
}

std::string describeExpected(const antlr4::misc::IntervalSet& expected) {
  std::vector<size_t> types;
  for (ssize_t type : expected.toList()) types.push_back(static_cast<size_t>(type));
  auto has = [&](size_t type) { return std::find(types.begin(), types.end(), type) != types.end(); };

  std::vector<std::string> words;
  const size_t valueStarts[] = {MigLexer::STRING, MigLexer::TRIPLE_STRING, MigLexer::INT,
                                MigLexer::UNIT_NUMBER, MigLexer::TRUE, MigLexer::FALSE,
                                MigLexer::LBRACKET};
  int valueTokens = static_cast<int>(std::count_if(std::begin(valueStarts), std::end(valueStarts), has));
  bool aValue = valueTokens >= 3;
  if (aValue) words.push_back("a value");
  for (size_t type : types) {
    bool partOfValue = std::find(std::begin(valueStarts), std::end(valueStarts), type) !=
                           std::end(valueStarts) ||
                       type == MigLexer::IDENT;
    if (aValue && partOfValue) continue;
    std::string word = describeExpectedToken(type);
    if (std::find(words.begin(), words.end(), word) == words.end()) words.push_back(word);
  }
  if (words.empty()) return "something else";
  std::string out = words[0];
  for (size_t i = 1; i < words.size(); ++i) {
    out += (i + 1 == words.size() ? " or " : ", ") + words[i];
  }
  return out;
}

// ---------------------------------------------------------------- errors

// Replaces ANTLR's messages with ours. Recovery is ANTLR's (single-token
// insertion and deletion, then resynchronisation), so one run reports
// several errors.
class ErrorStrategy : public antlr4::DefaultErrorStrategy {
 public:
  explicit ErrorStrategy(Reporter& reporter) : reporter_(reporter) {}

  // ANTLR's default gives up on a rule when a bad token stands in front of
  // the first iteration of a loop (`retain: 72h` as a block's first item):
  // the block is left, its '}' closes the enclosing block, and a distant
  // '}' is reported as well. Here that token is skipped as it is in front
  // of any later iteration, and parsing goes on in the same block.
  void sync(antlr4::Parser* parser) override {
    if (inErrorRecoveryMode(parser)) return;
    antlr4::atn::ATNState* state =
        parser->getInterpreter<antlr4::atn::ATNSimulator>()->atn.states[parser->getState()];
    if (state->getStateType() != antlr4::atn::ATNState::STAR_LOOP_ENTRY) {
      DefaultErrorStrategy::sync(parser);
      return;
    }
    size_t la = parser->getTokenStream()->LA(1);
    const antlr4::misc::IntervalSet& next = parser->getATN().nextTokens(state);
    if (next.contains(Token::EPSILON) || next.contains(la)) return;
    if (singleTokenDeletion(parser) != nullptr) return;
    reportUnwantedToken(parser);
    consumeUntil(parser, parser->getExpectedTokens().Or(getErrorRecoverySet(parser)));
  }

 protected:
  void reportNoViableAlternative(antlr4::Parser* parser,
                                 const antlr4::NoViableAltException& e) override {
    report(parser, e.getOffendingToken());
  }

  void reportInputMismatch(antlr4::Parser* parser,
                           const antlr4::InputMismatchException& e) override {
    report(parser, e.getOffendingToken());
  }

  void reportFailedPredicate(antlr4::Parser* parser,
                             const antlr4::FailedPredicateException& e) override {
    report(parser, e.getOffendingToken());
  }

  void reportUnwantedToken(antlr4::Parser* parser) override {
    if (inErrorRecoveryMode(parser)) return;
    beginErrorCondition(parser);
    report(parser, parser->getCurrentToken());
  }

  void reportMissingToken(antlr4::Parser* parser) override {
    if (inErrorRecoveryMode(parser)) return;
    beginErrorCondition(parser);
    report(parser, parser->getCurrentToken());
  }

 private:
  // The innermost construct still open at the error: a block, a list or an
  // argument list, with the token that opened it.
  struct OpenConstruct {
    size_t closer;
    std::string_view what;
    Token* opener;
  };

  static std::optional<OpenConstruct> innermostOpen(antlr4::Parser* parser) {
    for (antlr4::RuleContext* ctx = parser->getContext(); ctx != nullptr;
         ctx = dynamic_cast<antlr4::RuleContext*>(ctx->parent)) {
      if (auto* block = dynamic_cast<MigParser::BlockContext*>(ctx)) {
        if (block->LBRACE() && !isConjured(block->LBRACE()->getSymbol()))
          return OpenConstruct{MigLexer::RBRACE, "block", block->LBRACE()->getSymbol()};
      } else if (auto* list = dynamic_cast<MigParser::ListValueContext*>(ctx)) {
        if (list->LBRACKET())
          return OpenConstruct{MigLexer::RBRACKET, "list", list->LBRACKET()->getSymbol()};
      } else if (auto* args = dynamic_cast<MigParser::ArgumentsContext*>(ctx)) {
        if (args->LPAREN())
          return OpenConstruct{MigLexer::RPAREN, "argument list", args->LPAREN()->getSymbol()};
      }
    }
    return std::nullopt;
  }

  // The column of the first token on `token`'s line, and whether that
  // token is `token` itself.
  static std::pair<size_t, bool> lineIndent(antlr4::BufferedTokenStream& stream, Token* token) {
    size_t i = token->getTokenIndex();
    while (i > 0 && stream.get(i - 1)->getLine() == token->getLine()) --i;
    while (i < token->getTokenIndex() && stream.get(i)->getType() == MigLexer::SPACE) ++i;
    Token* first = stream.get(i);
    return {first->getCharPositionInLine(), first == token};
  }

  // When a block is still open at the end of the file, the '}' that is
  // missing usually belongs to the first block (after `outer` opened) whose
  // matching '}' sits on its own line with another indentation than the
  // block's header: that '}' was written for an enclosing block. Returns
  // that block's '{' and the '}' matched with it.
  static std::optional<std::pair<Token*, Token*>> misindentedBlock(antlr4::Parser* parser,
                                                                   Token* outer) {
    auto* stream = dynamic_cast<antlr4::BufferedTokenStream*>(parser->getTokenStream());
    if (stream == nullptr || isConjured(outer)) return std::nullopt;
    std::vector<Token*> open;
    for (size_t i = outer->getTokenIndex() + 1; i < stream->size(); ++i) {
      Token* token = stream->get(i);
      if (token->getType() == MigLexer::LBRACE) {
        open.push_back(token);
      } else if (token->getType() == MigLexer::RBRACE && !open.empty()) {
        Token* opener = open.back();
        open.pop_back();
        if (token->getLine() == opener->getLine()) continue;
        auto [closerColumn, closerFirst] = lineIndent(*stream, token);
        if (!closerFirst) continue;
        if (closerColumn != lineIndent(*stream, opener).first) return std::make_pair(opener, token);
      }
    }
    return std::nullopt;
  }

  static Token* previousToken(antlr4::Parser* parser, Token* token) {
    auto* stream = dynamic_cast<antlr4::BufferedTokenStream*>(parser->getTokenStream());
    if (stream == nullptr || isConjured(token) || token->getTokenIndex() == 0) return nullptr;
    for (size_t i = token->getTokenIndex(); i-- > 0;) {
      Token* previous = stream->get(i);
      if (previous->getChannel() == Token::DEFAULT_CHANNEL) return previous;
    }
    return nullptr;
  }

  void report(antlr4::Parser* parser, Token* offending) {
    antlr4::misc::IntervalSet expected = parser->getExpectedTokens();
    source::Range at = reporter_.rangeOf(offending);
    size_t type = offending ? offending->getType() : Token::EOF;
    std::string found = describeFound(offending);

    // A `{` on its own line: the header became an attribute.
    Token* previous = previousToken(parser, offending);
    if (type == MigLexer::LBRACE && previous && previous->getType() == MigLexer::NL) {
      auto* d = reporter_.error(at, "unexpected '{': a block's '{' goes on the line of its header");
      if (d) d->fix = diag::FixHint{"move '{' up to the end of the previous line", at, {}};
      return;
    }

    std::optional<OpenConstruct> open = innermostOpen(parser);
    if (open && expected.contains(static_cast<size_t>(open->closer)) &&
        (type == Token::EOF || type == MigLexer::RBRACE || type == MigLexer::RBRACKET ||
         type == MigLexer::RPAREN)) {
      std::string closer = describeExpectedToken(open->closer);
      auto* d = reporter_.error(at, fmt::format("expected {} to close the {} opened at {}, found {}",
                                                closer, open->what,
                                                reporter_.position(open->opener), found));
      if (d) d->notes.push_back({reporter_.rangeOf(open->opener), fmt::format("the {} opened here", open->what)});
      if (d && type == Token::EOF && open->closer == MigLexer::RBRACE) {
        if (auto suspect = misindentedBlock(parser, open->opener)) {
          d->notes.push_back(
              {reporter_.rangeOf(suspect->first),
               fmt::format("a '}}' is probably missing from this block: the '}}' on line {} that "
                           "closes it is indented like an outer block",
                           suspect->second->getLine())});
        }
      }
      return;
    }

    // Inside (...) or [...], a value followed by something that neither
    // continues nor closes the list: most often a missing ')' or ']'.
    if (open && open->closer != MigLexer::RBRACE &&
        expected.contains(static_cast<size_t>(open->closer)) && type != MigLexer::NL) {
      auto* d = reporter_.error(at, fmt::format("expected ',' or {} in the {} opened at {}, found {}",
                                                describeExpectedToken(open->closer), open->what,
                                                reporter_.position(open->opener), found));
      if (d) d->notes.push_back({reporter_.rangeOf(open->opener), fmt::format("the {} opened here", open->what)});
      return;
    }

    bool lineEndExpected = expected.contains(static_cast<size_t>(MigLexer::NL)) &&
                           !expected.contains(static_cast<size_t>(MigLexer::IDENT));
    bool punctuation = type == MigLexer::RPAREN || type == MigLexer::RBRACKET ||
                       type == MigLexer::COMMA || type == MigLexer::COLON ||
                       type == MigLexer::ASSIGN || type == MigLexer::DOT ||
                       type == MigLexer::PIPE || type == MigLexer::RBRACE;
    if (lineEndExpected && punctuation) {
      auto* d = reporter_.error(at, fmt::format("unexpected {}", found));
      if (d && type == MigLexer::COLON) {
        d->fix = diag::FixHint{"an attribute is written `NAME VALUE`, without ':' (a ':' only names "
                               "a call's argument, as in `from: old_db`)",
                               at, std::nullopt};
      }
      return;
    }
    if (lineEndExpected && type != MigLexer::NL && type != Token::EOF) {
      reporter_.error(at, fmt::format("expected end of line, found {}: one attribute or block per "
                                      "line",
                                      found));
      return;
    }
    reporter_.error(at, fmt::format("expected {}, found {}", describeExpected(expected), found));
  }

  Reporter& reporter_;
};

// ---------------------------------------------------------------- lexical checks

// Reports tokens the parser should not see in their raw form, and fixes them
// up so parsing goes on: unterminated strings become strings, stray
// characters are hidden. Returns false when nesting is too deep to parse.
bool checkTokens(antlr4::CommonTokenStream& tokens, Reporter& reporter) {
  int depth = 0;
  for (size_t i = 0; i < tokens.size(); ++i) {
    auto* token = dynamic_cast<antlr4::CommonToken*>(tokens.get(i));
    if (token == nullptr) continue;
    switch (token->getType()) {
      case MigLexer::UNTERMINATED_STRING: {
        source::Range at = reporter.rangeOf(token);
        auto* d = reporter.error({at.file, at.begin, at.begin + 1},
                                 "unterminated string: expected '\"' before the end of the line");
        if (d) d->fix = diag::FixHint{"close the string, or use \"\"\"...\"\"\" for text over several lines", at, {}};
        token->setType(MigLexer::STRING);
        break;
      }
      case MigLexer::UNTERMINATED_TRIPLE_STRING: {
        source::Range at = reporter.rangeOf(token);
        reporter.error({at.file, at.begin, at.begin + 3},
                       "unterminated string: expected '\"\"\"' before the end of the file");
        token->setType(MigLexer::TRIPLE_STRING);
        break;
      }
      case MigLexer::STRAY: {
        std::string text = token->getText();
        bool control = text.size() == 1 && static_cast<unsigned char>(text[0]) < 0x20;
        reporter.error(reporter.rangeOf(token),
                       control ? fmt::format("unexpected control character 0x{:02X}",
                                             static_cast<unsigned char>(text[0]))
                               : fmt::format("unexpected character '{}'", text));
        token->setChannel(Token::HIDDEN_CHANNEL);
        break;
      }
      case MigLexer::LBRACE:
      case MigLexer::LBRACKET:
      case MigLexer::LPAREN:
        if (++depth > kMaxNesting) {
          reporter.error(reporter.rangeOf(token),
                         fmt::format("nesting is too deep: more than {} levels of brackets",
                                     kMaxNesting));
          return false;
        }
        break;
      case MigLexer::RBRACE:
      case MigLexer::RBRACKET:
      case MigLexer::RPAREN:
        depth = std::max(0, depth - 1);
        break;
      default: break;
    }
  }
  return true;
}

// ---------------------------------------------------------------- AST builder

// Turns the parse tree into our AST. After error recovery any context may
// be partial, so every child is checked before use.
class AstBuilder {
 public:
  explicit AstBuilder(Reporter& reporter) : reporter_(reporter) {}

  std::vector<ast::Item> buildItems(const std::vector<MigParser::ItemContext*>& contexts) {
    std::vector<ast::Item> items;
    for (MigParser::ItemContext* item : contexts) {
      if (auto built = buildItem(item)) items.push_back(std::move(*built));
    }
    return items;
  }

 private:
  source::Range rangeOf(antlr4::ParserRuleContext* ctx) const {
    return reporter_.span(ctx->getStart(), ctx->getStop());
  }

  std::optional<ast::Identifier> buildIdent(MigParser::IdentContext* ctx) {
    if (ctx == nullptr || ctx->IDENT() == nullptr || isConjured(ctx->IDENT()->getSymbol()))
      return std::nullopt;
    Token* token = ctx->IDENT()->getSymbol();
    return ast::Identifier{token->getText(), reporter_.rangeOf(token)};
  }

  std::optional<ast::Item> buildItem(MigParser::ItemContext* ctx) {
    if (ctx == nullptr) return std::nullopt;
    ast::Item item;
    if (ctx->block()) {
      item.block = buildBlock(ctx->block());
      if (!item.block) return std::nullopt;
    } else if (ctx->attribute()) {
      item.attribute = buildAttribute(ctx->attribute());
      if (!item.attribute) return std::nullopt;
    } else {
      return std::nullopt;
    }
    return item;
  }

  std::unique_ptr<ast::Block> buildBlock(MigParser::BlockContext* ctx) {
    auto keyword = buildIdent(ctx->keyword);
    if (!keyword) return nullptr;
    auto block = std::make_unique<ast::Block>();
    block->keyword = *keyword;
    for (MigParser::IdentContext* label : ctx->labels) {
      if (auto ident = buildIdent(label)) block->labels.push_back(*ident);
    }
    block->header = keyword->range;
    if (!block->labels.empty()) block->header.end = block->labels.back().range.end;
    if (ctx->params) {
      block->params = buildArguments(ctx->params);
      block->paramsRange = rangeOf(ctx->params);
      block->header.end = std::max(block->header.end, block->paramsRange.end);
    }
    if (ctx->LBRACE()) block->openBrace = reporter_.rangeOf(ctx->LBRACE()->getSymbol());
    if (ctx->RBRACE() && !isConjured(ctx->RBRACE()->getSymbol())) {
      block->closeBrace = reporter_.rangeOf(ctx->RBRACE()->getSymbol());
    }
    block->items = buildItems(ctx->item());
    block->range = rangeOf(ctx);
    return block;
  }

  std::unique_ptr<ast::Attribute> buildAttribute(MigParser::AttributeContext* ctx) {
    auto name = buildIdent(ctx->name);
    if (!name) return nullptr;
    auto attribute = std::make_unique<ast::Attribute>();
    attribute->name = *name;
    for (MigParser::ValueContext* value : ctx->values) {
      if (auto expr = buildValue(value)) attribute->values.push_back(std::move(expr));
    }
    if (ctx->assigned) attribute->assigned = buildValue(ctx->assigned);
    attribute->range = rangeOf(ctx);
    return attribute;
  }

  ast::ExprPtr buildValue(MigParser::ValueContext* ctx) {
    if (ctx == nullptr) return nullptr;
    if (ctx->alternatives.size() == 1) return buildPrimary(ctx->alternatives[0]);
    auto expr = std::make_unique<ast::Expr>();
    expr->kind = ast::ExprKind::Union;
    expr->range = rangeOf(ctx);
    for (MigParser::PrimaryContext* alternative : ctx->alternatives) {
      if (auto built = buildPrimary(alternative)) expr->elements.push_back(std::move(built));
    }
    if (expr->elements.empty()) return nullptr;
    return expr;
  }

  ast::ExprPtr makeExpr(ast::ExprKind kind, source::Range range) {
    auto expr = std::make_unique<ast::Expr>();
    expr->kind = kind;
    expr->range = range;
    return expr;
  }

  ast::ExprPtr buildString(antlr4::tree::TerminalNode* node, bool triple) {
    Token* token = node->getSymbol();
    if (isConjured(token)) return nullptr;
    source::Range range = reporter_.rangeOf(token);
    std::string_view text = reporter_.text().substr(range.begin, range.end - range.begin);
    // Unterminated strings were retyped to strings; only real ones end with
    // their quote.
    bool terminated = triple ? text.size() >= 6 && text.ends_with("\"\"\"")
                             : text.size() >= 2 && text.back() == '"' && !endsEscaped(text);
    auto expr = makeExpr(ast::ExprKind::String, range);
    expr->tripleQuoted = triple;
    expr->parts = decodeString(text, terminated, range.file, range.begin, reporter_.diags());
    return expr;
  }

  // True when the final quote of `text` is escaped by an odd run of backslashes.
  static bool endsEscaped(std::string_view text) {
    size_t backslashes = 0;
    for (size_t i = text.size() - 1; i > 0 && text[i - 1] == '\\'; --i) ++backslashes;
    return backslashes % 2 == 1;
  }

  ast::ExprPtr buildPrimary(MigParser::PrimaryContext* ctx) {
    if (ctx == nullptr) return nullptr;
    source::Range range = rangeOf(ctx);
    if (auto* s = dynamic_cast<MigParser::StringValueContext*>(ctx)) {
      return s->STRING() ? buildString(s->STRING(), false) : nullptr;
    }
    if (auto* s = dynamic_cast<MigParser::TripleStringValueContext*>(ctx)) {
      return s->TRIPLE_STRING() ? buildString(s->TRIPLE_STRING(), true) : nullptr;
    }
    if (auto* n = dynamic_cast<MigParser::IntValueContext*>(ctx)) {
      auto expr = makeExpr(ast::ExprKind::Integer, range);
      std::string digits = n->getText();
      errno = 0;
      char* end = nullptr;
      long long parsed = std::strtoll(digits.c_str(), &end, 10);
      if (errno == ERANGE) {
        reporter_.diags().report(diag::Rule::InvalidValue, range,
                                 fmt::format("the number {} is too large", quoteToken(digits)));
        expr->kind = ast::ExprKind::BadUnit;
      }
      expr->number = parsed;
      return expr;
    }
    if (auto* u = dynamic_cast<MigParser::UnitValueContext*>(ctx)) {
      std::string error;
      auto parsed = units::parseUnitNumber(u->getText(), error);
      if (!parsed) {
        reporter_.diags().report(diag::Rule::InvalidValue, range, error);
        return makeExpr(ast::ExprKind::BadUnit, range);
      }
      auto expr = makeExpr(parsed->kind == units::UnitValue::Kind::Duration ? ast::ExprKind::Duration
                                                                     : ast::ExprKind::Size,
                           range);
      expr->number = parsed->amount;
      return expr;
    }
    if (auto* b = dynamic_cast<MigParser::BoolValueContext*>(ctx)) {
      auto expr = makeExpr(ast::ExprKind::Bool, range);
      expr->boolean = b->TRUE() != nullptr;
      return expr;
    }
    if (auto* l = dynamic_cast<MigParser::ListValueContext*>(ctx)) {
      auto expr = makeExpr(ast::ExprKind::List, range);
      for (MigParser::ValueContext* element : l->value()) {
        if (auto built = buildValue(element)) expr->elements.push_back(std::move(built));
      }
      return expr;
    }
    if (auto* c = dynamic_cast<MigParser::CallValueContext*>(ctx)) {
      auto expr = makeExpr(ast::ExprKind::Call, range);
      expr->path = buildPath(c->path());
      if (expr->path.empty()) return nullptr;
      if (c->arguments()) {
        expr->arguments = buildArguments(c->arguments());
        expr->argumentsRange = rangeOf(c->arguments());
      }
      return expr;
    }
    if (auto* r = dynamic_cast<MigParser::ReferenceValueContext*>(ctx)) {
      auto expr = makeExpr(ast::ExprKind::Reference, range);
      expr->path = buildPath(r->path());
      if (expr->path.empty()) return nullptr;
      return expr;
    }
    return nullptr;
  }

  std::vector<ast::Identifier> buildPath(MigParser::PathContext* ctx) {
    std::vector<ast::Identifier> path;
    if (ctx == nullptr) return path;
    for (MigParser::IdentContext* part : ctx->ident()) {
      auto ident = buildIdent(part);
      if (!ident) return {};
      path.push_back(*ident);
    }
    return path;
  }

  std::vector<ast::Argument> buildArguments(MigParser::ArgumentsContext* ctx) {
    std::vector<ast::Argument> arguments;
    for (MigParser::ArgumentContext* arg : ctx->argument()) {
      ast::Argument argument;
      if (arg->name) argument.name = buildIdent(arg->name);
      argument.value = buildValue(arg->value(0));
      if (!argument.value) continue;
      if (arg->defaultValue) argument.defaultValue = buildValue(arg->defaultValue);
      argument.range = rangeOf(arg);
      arguments.push_back(std::move(argument));
    }
    return arguments;
  }

  Reporter& reporter_;
};

}  // namespace

std::unique_ptr<ast::File> parseFile(const source::SourceManager& sources, source::FileId file,
                                     diag::DiagnosticEngine& diags) {
  auto result = std::make_unique<ast::File>();
  result->file = file;
  size_t reportedBefore = diags.diagnostics().size();
  std::string_view text = sources.text(file);
  Reporter reporter(sources, file, diags);

  // The ANTLR 4.9 runtime throws on invalid UTF-8: check first.
  size_t invalid = source::findInvalidUtf8(text);
  if (invalid != std::string_view::npos) {
    uint32_t at = static_cast<uint32_t>(invalid);
    reporter.error({file, at, at + 1},
                   fmt::format("invalid UTF-8: byte 0x{:02X} does not start a valid character; "
                               "plans are UTF-8 text",
                               static_cast<unsigned char>(text[invalid])));
    result->clean = false;
    return result;
  }

  try {
    antlr4::ANTLRInputStream input(text.data(), text.size());
    MigLexer lexer(&input);
    lexer.removeErrorListeners();
    antlr4::CommonTokenStream tokens(&lexer);
    tokens.fill();

    for (size_t i = 0; i < tokens.size(); ++i) {
      Token* token = tokens.get(i);
      if (token->getType() == MigLexer::COMMENT) {
        result->comments.push_back({reporter.rangeOf(token)});
      }
    }

    if (!checkTokens(tokens, reporter)) {
      result->clean = false;
      return result;
    }

    MigParser parser(&tokens);
    parser.removeErrorListeners();

    // Two stages, as ANTLR recommends: the fast SLL prediction first, and
    // the full LL prediction with error reporting only if SLL gives up.
    MigParser::FileContext* tree = nullptr;
    parser.getInterpreter<antlr4::atn::ParserATNSimulator>()->setPredictionMode(
        antlr4::atn::PredictionMode::SLL);
    parser.setErrorHandler(std::make_shared<antlr4::BailErrorStrategy>());
    try {
      tree = parser.file();
    } catch (const antlr4::ParseCancellationException&) {
      tokens.seek(0);
      parser.reset();
      parser.getInterpreter<antlr4::atn::ParserATNSimulator>()->setPredictionMode(
          antlr4::atn::PredictionMode::LL);
      parser.setErrorHandler(std::make_shared<ErrorStrategy>(reporter));
      tree = parser.file();
    }

    AstBuilder builder(reporter);
    if (tree != nullptr) result->items = builder.buildItems(tree->item());
  } catch (const std::exception& e) {
    reporter.error({file, 0, 0}, fmt::format("the parser failed: {}", e.what()));
  }
  const auto& all = diags.diagnostics();
  result->clean = std::none_of(all.begin() + reportedBefore, all.end(), [](const diag::Diagnostic& d) {
    return d.rule == diag::Rule::SyntaxError;
  });
  return result;
}

}  // namespace mig::parse
