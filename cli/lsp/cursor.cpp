#include "cli/lsp/cursor.h"

#include <algorithm>
#include <cctype>

namespace mig::cli::lsp {
namespace {

bool identifierChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
}

// One open bracket: a block `{`, a call `(` (with its callee), a list `[`,
// or an interpolation `${` inside a string.
struct Frame {
  enum class Kind { Block, Call, List, Interpolation };
  Kind kind;
  std::vector<std::string> header;   // Block: its header words; Call: {callee}
  std::vector<std::string> args;     // Call: argument names written
  std::vector<std::string> pending;  // Call: words of the current argument
};

class Scanner {
 public:
  Scanner(std::string_view text, uint32_t end) : text_(text.substr(0, end)) {}

  CursorContext run() {
    while (i_ < text_.size()) step();
    return finish();
  }

 private:
  void step() {
    char c = text_[i_];
    if (inString_) return stringChar();
    if (c == '#') {
      size_t newline = text_.find('\n', i_);
      if (newline == std::string_view::npos) {
        where_ = CursorContext::Where::Comment;
        i_ = text_.size();
        return;
      }
      i_ = newline;
      return;
    }
    if (c == '"') {
      triple_ = text_.substr(i_, 3) == "\"\"\"";
      i_ += triple_ ? 3 : 1;
      inString_ = true;
      stringBegin_ = static_cast<uint32_t>(i_);
      word("\"");
      return;
    }
    if (identifierChar(c)) {
      size_t begin = i_;
      while (i_ < text_.size() && (identifierChar(text_[i_]) || text_[i_] == '.')) ++i_;
      word(std::string(text_.substr(begin, i_ - begin)));
      return;
    }
    ++i_;
    switch (c) {
      case ' ':
      case '\t':
      case '\r':
        return;
      case '\n':
        if (!insideCall()) words_.clear();
        return;
      case '{':
        frames_.push_back({Frame::Kind::Block, words_, {}, {}});
        words_.clear();
        return;
      case '}':
        popTo(Frame::Kind::Block);
        words_.clear();
        return;
      case '(': {
        std::string callee = lastWord_ != "\"" ? lastWord_ : "";
        frames_.push_back({Frame::Kind::Call, {callee}, {}, {}});
        return;
      }
      case ')':
        popTo(Frame::Kind::Call);
        return;
      case '[':
        frames_.push_back({Frame::Kind::List, {}, {}, {}});
        return;
      case ']':
        popTo(Frame::Kind::List);
        return;
      case ',':
        if (!frames_.empty() && frames_.back().kind == Frame::Kind::Call)
          frames_.back().pending.clear();
        return;
      case ':':
        if (!frames_.empty() && frames_.back().kind == Frame::Kind::Call &&
            !frames_.back().pending.empty()) {
          frames_.back().args.push_back(frames_.back().pending.back());
          frames_.back().pending = {":"};
        }
        return;
      default:
        word(std::string(1, c));
        return;
    }
  }

  void stringChar() {
    char c = text_[i_];
    if (c == '\\') {
      i_ += 2;
      return;
    }
    if (c == '$' && text_.substr(i_, 3) == "$${") {
      i_ += 3;
      return;
    }
    if (c == '$' && text_.substr(i_, 2) == "${") {
      i_ += 2;
      inString_ = false;
      frames_.push_back({Frame::Kind::Interpolation, {}, {}, {}});
      return;
    }
    if (c == '"' && (!triple_ || text_.substr(i_, 3) == "\"\"\"")) {
      i_ += triple_ ? 3 : 1;
      inString_ = false;
      return;
    }
    if (c == '\n' && !triple_) inString_ = false;  // an unclosed string ends at its line
    ++i_;
  }

  // A word of the current item, or of the current call argument.
  void word(std::string text) {
    lastWord_ = text;
    if (!frames_.empty() && frames_.back().kind == Frame::Kind::Call) {
      frames_.back().pending.push_back(text);
    }
    if (frames_.empty() || frames_.back().kind == Frame::Kind::Block)
      words_.push_back(std::move(text));
  }

  bool insideCall() const {
    return std::any_of(frames_.begin(), frames_.end(), [](const Frame& f) {
      return f.kind == Frame::Kind::Call || f.kind == Frame::Kind::List;
    });
  }

  // Closes the innermost frame of `kind` and what is still open inside it.
  void popTo(Frame::Kind kind) {
    for (size_t k = frames_.size(); k-- > 0;) {
      if (frames_[k].kind == Frame::Kind::Interpolation) {
        if (kind == Frame::Kind::Block) {  // `}` ends an interpolation
          frames_.resize(k);
          inString_ = true;
        }
        return;
      }
      if (frames_[k].kind == kind) {
        frames_.resize(k);
        return;
      }
      if (frames_[k].kind == Frame::Kind::Block) return;  // never past a block
    }
  }

  CursorContext finish() {
    CursorContext context;
    context.where = where_;
    if (inString_) context.where = CursorContext::Where::String;
    bool interpolation = !frames_.empty() && frames_.back().kind == Frame::Kind::Interpolation;
    if (interpolation) context.where = CursorContext::Where::Interpolation;
    context.stringBegin = stringBegin_;

    size_t begin = text_.size();
    while (begin > 0 && (identifierChar(text_[begin - 1]) || text_[begin - 1] == '.')) --begin;
    context.wordBegin = static_cast<uint32_t>(begin);
    context.word = std::string(text_.substr(begin));

    for (const Frame& frame : frames_) {
      if (frame.kind == Frame::Kind::Block) context.blocks.push_back(frame.header);
    }
    // The words before the one being typed.
    std::vector<std::string> words = words_;
    bool typing = !context.word.empty();
    for (const Frame& frame : frames_) {
      if (frame.kind != Frame::Kind::Call) continue;
      context.callee = frame.header.front();
      context.givenArguments = frame.args;
      std::vector<std::string> pending = frame.pending;
      if (typing && !pending.empty()) pending.pop_back();
      context.argument = pending.size() >= 1 && pending.front() == ":" && !frame.args.empty()
                             ? frame.args.back()
                             : "";
      if (!context.argument.empty()) context.givenArguments.pop_back();
    }
    if (typing && !words.empty() && context.where == CursorContext::Where::Code && !insideCall()) {
      words.pop_back();
    }
    context.itemWords = std::move(words);
    for (std::vector<std::string>& header : context.blocks) {
      if (header.empty()) header.push_back("");
    }
    return context;
  }

  std::string_view text_;
  size_t i_ = 0;
  bool inString_ = false;
  bool triple_ = false;
  uint32_t stringBegin_ = 0;
  CursorContext::Where where_ = CursorContext::Where::Code;
  std::vector<Frame> frames_;
  std::vector<std::string> words_;
  std::string lastWord_;  // the last word anywhere: a call's callee
};

}  // namespace

CursorContext cursorContext(std::string_view text, uint32_t offset) {
  offset = std::min<uint32_t>(offset, text.size());
  return Scanner(text, offset).run();
}

std::optional<Word> wordAt(std::string_view text, uint32_t offset, bool dashes) {
  auto part = [&](char c) { return identifierChar(c) || c == '.' || (dashes && c == '-'); };
  offset = std::min<uint32_t>(offset, text.size());
  uint32_t begin = offset;
  uint32_t end = offset;
  while (begin > 0 && part(text[begin - 1])) --begin;
  while (end < text.size() && part(text[end])) ++end;
  if (begin == end) return std::nullopt;
  return Word{begin, end, text.substr(begin, end - begin)};
}

}  // namespace mig::cli::lsp
