#include "compiler/format/formatter.h"

#include <algorithm>
#include <map>

namespace mig::format {
namespace {

constexpr std::string_view kIndent = "  ";

class Formatter {
 public:
  Formatter(const source::SourceManager& sources, const ast::File& file)
      : text_(sources.text(file.file)), comments_(file.comments) {}

  std::string format(const ast::File& file) {
    printItems(file.items, 0);
    // Comments after the last item.
    printOwnLineComments(static_cast<uint32_t>(text_.size()), 0, !out_.empty());
    while (out_.ends_with("\n\n")) out_.pop_back();
    if (!out_.empty() && !out_.ends_with('\n')) out_ += '\n';
    return out_;
  }

 private:
  // ---------------------------------------------------------------- source facts

  std::string_view slice(source::Range range) const {
    return text_.substr(range.begin, range.end - range.begin);
  }

  bool spansLines(source::Range range) const {
    return slice(range).find('\n') != std::string_view::npos;
  }

  // Whether the source has a blank line between two offsets, ignoring
  // comments in between.
  bool blankLineBetween(uint32_t from, uint32_t to) const {
    int newlines = 0;
    for (uint32_t i = from; i < to && i < text_.size(); ++i) {
      char c = text_[i];
      if (c == '\n') {
        if (++newlines >= 2) return true;
      } else if (c == '#') {
        while (i < to && text_[i] != '\n') ++i;
        --i;
        newlines = 0;
      } else if (c != ' ' && c != '\t' && c != '\r') {
        newlines = 0;
      }
    }
    return false;
  }

  bool commentInside(source::Range range) const {
    return std::any_of(comments_.begin(), comments_.end(), [&](const ast::Comment& c) {
      return c.range.begin >= range.begin && c.range.end <= range.end;
    });
  }

  // The offset where the line holding `offset` ends.
  uint32_t lineEnd(uint32_t offset) const {
    size_t end = text_.find('\n', offset);
    return end == std::string_view::npos ? static_cast<uint32_t>(text_.size())
                                         : static_cast<uint32_t>(end);
  }

  // ---------------------------------------------------------------- output

  void indent(int depth) {
    for (int i = 0; i < depth; ++i) out_ += kIndent;
  }

  void blankLine() {
    if (!out_.empty() && !out_.ends_with("\n\n") && !out_.ends_with("{\n")) out_ += '\n';
  }

  std::string commentText(const ast::Comment& comment) const {
    std::string text(slice(comment.range));
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r')) {
      text.pop_back();
    }
    return text;
  }

  // Prints the comments that start before `limit` on lines of their own.
  void printOwnLineComments(uint32_t limit, int depth, bool keepBlank) {
    while (nextComment_ < comments_.size() && comments_[nextComment_].range.begin < limit) {
      const ast::Comment& comment = comments_[nextComment_];
      if (keepBlank && blankLineBetween(lastEnd_, comment.range.begin)) blankLine();
      indent(depth);
      out_ += commentText(comment);
      out_ += '\n';
      lastEnd_ = comment.range.end;
      ++nextComment_;
      keepBlank = true;
    }
  }

  // The comment on the same line right after `end`, if any.
  const ast::Comment* trailingComment(uint32_t end) {
    if (nextComment_ >= comments_.size()) return nullptr;
    const ast::Comment& comment = comments_[nextComment_];
    if (comment.range.begin < end || comment.range.begin > lineEnd(end)) return nullptr;
    return &comment;
  }

  // ---------------------------------------------------------------- expressions

  std::string expr(const ast::Expr& e, int depth) {
    switch (e.kind) {
      case ast::ExprKind::String:
      case ast::ExprKind::Integer:
      case ast::ExprKind::Duration:
      case ast::ExprKind::Size:
      case ast::ExprKind::BadUnit:
      case ast::ExprKind::Bool: return std::string(slice(e.range));
      case ast::ExprKind::Reference: return e.dottedPath();
      case ast::ExprKind::Union: {
        std::string out;
        for (const ast::ExprPtr& alternative : e.elements) {
          out += (out.empty() ? "" : "|") + expr(*alternative, depth);
        }
        return out;
      }
      case ast::ExprKind::List: {
        if (!spansLines(e.range) || e.elements.empty()) {
          std::string out = "[";
          for (size_t i = 0; i < e.elements.size(); ++i) {
            out += (i ? ", " : "") + expr(*e.elements[i], depth);
          }
          return out + "]";
        }
        std::string out = "[\n";
        for (const ast::ExprPtr& element : e.elements) {
          out += indentation(depth + 1) + expr(*element, depth + 1) + ",\n";
        }
        return out + indentation(depth) + "]";
      }
      case ast::ExprKind::Call:
        return e.dottedPath() + arguments(e.arguments, e.argumentsRange, depth);
    }
    return std::string(slice(e.range));
  }

  static std::string indentation(int depth) {
    std::string out;
    for (int i = 0; i < depth; ++i) out += kIndent;
    return out;
  }

  std::string argument(const ast::Argument& arg, int depth) {
    std::string out;
    if (arg.name) out = arg.name->text + ": ";
    out += expr(*arg.value, depth);
    if (arg.defaultValue) out += " = " + expr(*arg.defaultValue, depth);
    return out;
  }

  std::string arguments(const std::vector<ast::Argument>& args, source::Range range, int depth) {
    if (!spansLines(range) || args.empty()) {
      std::string out = "(";
      for (size_t i = 0; i < args.size(); ++i) out += (i ? ", " : "") + argument(args[i], depth);
      return out + ")";
    }
    std::string out = "(\n";
    for (const ast::Argument& arg : args) {
      out += indentation(depth + 1) + argument(arg, depth + 1) + ",\n";
    }
    return out + indentation(depth) + ")";
  }

  // ---------------------------------------------------------------- items

  // A run: consecutive attributes with no blank line or block between them.
  // Names are padded to one column; attributes of one name repeated in a row
  // also align their values column by column.
  struct Line {
    const ast::Attribute* attribute;
    std::vector<std::string> columns;  // name, values..., "= default"
    std::string text;
  };

  std::vector<std::string> columnsOf(const ast::Attribute& attr, int depth) {
    std::vector<std::string> columns = {attr.name.text};
    for (const ast::ExprPtr& value : attr.values) columns.push_back(expr(*value, depth));
    if (attr.assigned) columns.push_back("= " + expr(*attr.assigned, depth));
    return columns;
  }

  void layoutRun(std::vector<Line>& run) {
    size_t nameWidth = 0;
    for (const Line& line : run) {
      if (line.columns.size() > 1) nameWidth = std::max(nameWidth, line.columns[0].size());
    }
    size_t groupStart = 0;
    while (groupStart < run.size()) {
      size_t groupEnd = groupStart + 1;
      while (groupEnd < run.size() && run[groupEnd].columns[0] == run[groupStart].columns[0] &&
             run[groupEnd].columns.size() > 1) {
        ++groupEnd;
      }
      std::vector<size_t> widths;
      for (size_t i = groupStart; i < groupEnd; ++i) {
        const auto& columns = run[i].columns;
        for (size_t c = 1; c + 1 < columns.size(); ++c) {
          if (widths.size() < c) widths.resize(c, 0);
          if (columns[c].find('\n') == std::string::npos) {
            widths[c - 1] = std::max(widths[c - 1], columns[c].size());
          }
        }
      }
      for (size_t i = groupStart; i < groupEnd; ++i) {
        const auto& columns = run[i].columns;
        std::string text = columns[0];
        if (columns.size() > 1) text += std::string(nameWidth - columns[0].size() + 1, ' ');
        for (size_t c = 1; c < columns.size(); ++c) {
          text += columns[c];
          bool last = c + 1 == columns.size();
          if (last) break;
          size_t width = groupEnd - groupStart > 1 ? widths[c - 1] : columns[c].size();
          text += std::string(width >= columns[c].size() ? width - columns[c].size() + 1 : 1, ' ');
        }
        run[i].text = std::move(text);
      }
      groupStart = groupEnd;
    }
  }

  // The comment on the line where `end` is, after it, wherever the cursor is.
  const ast::Comment* commentAfterOnLine(uint32_t end) const {
    auto it = std::lower_bound(comments_.begin(), comments_.end(), end,
                               [](const ast::Comment& c, uint32_t at) { return c.range.begin < at; });
    if (it == comments_.end() || it->range.begin > lineEnd(end)) return nullptr;
    return &*it;
  }

  static size_t lastLineWidth(const std::string& text) {
    size_t lastLine = text.rfind('\n');
    return lastLine == std::string::npos ? text.size() : text.size() - lastLine - 1;
  }

  void printRun(std::vector<Line>& run, int depth) {
    if (run.empty()) return;
    layoutRun(run);
    // Trailing comments on consecutive lines line up two columns after the
    // longest of those lines.
    std::vector<size_t> commentColumn(run.size(), 0);
    for (size_t i = 0; i < run.size();) {
      if (!commentAfterOnLine(run[i].attribute->range.end)) {
        ++i;
        continue;
      }
      size_t j = i;
      size_t width = 0;
      while (j < run.size() && commentAfterOnLine(run[j].attribute->range.end)) {
        width = std::max(width, lastLineWidth(run[j].text));
        ++j;
      }
      for (size_t k = i; k < j; ++k) commentColumn[k] = width + 2;
      i = j;
    }
    for (size_t i = 0; i < run.size(); ++i) {
      const Line& line = run[i];
      printOwnLineComments(line.attribute->range.begin, depth, true);
      if (blankLineBetween(lastEnd_, line.attribute->range.begin)) blankLine();
      indent(depth);
      out_ += line.text;
      lastEnd_ = line.attribute->range.end;
      if (const ast::Comment* comment = trailingComment(line.attribute->range.end)) {
        out_ += std::string(commentColumn[i] - lastLineWidth(line.text), ' ');
        out_ += commentText(*comment);
        lastEnd_ = comment->range.end;
        ++nextComment_;
      }
      out_ += '\n';
    }
    run.clear();
  }

  // An attribute with a comment inside keeps its source text as written.
  Line lineFor(const ast::Attribute& attr, int depth) {
    Line line{&attr, {}, {}};
    if (commentInside(attr.range)) {
      line.columns = {std::string(slice(attr.range))};
      // Comments inside are part of the raw text now.
      while (nextComment_ < comments_.size() && comments_[nextComment_].range.end <= attr.range.end &&
             comments_[nextComment_].range.begin >= attr.range.begin) {
        ++nextComment_;
      }
      return line;
    }
    line.columns = columnsOf(attr, depth);
    return line;
  }

  bool isInline(const ast::Block& block) const {
    return !spansLines(block.range) && block.items.size() <= 1 && !commentInside(block.range);
  }

  std::string headerOf(const ast::Block& block, int depth) {
    std::string header = block.keyword.text;
    for (const ast::Identifier& label : block.labels) header += " " + label.text;
    if (block.params) header += arguments(*block.params, block.paramsRange, depth);
    return header;
  }

  // One-line blocks of one keyword on consecutive lines line up their '{':
  // the width their headers are padded to, for each such block.
  std::map<const ast::Block*, size_t> inlineHeaderWidths(const std::vector<ast::Item>& items,
                                                         int depth) {
    std::map<const ast::Block*, size_t> widths;
    size_t i = 0;
    while (i < items.size()) {
      const ast::Block* first = items[i].block.get();
      if (first == nullptr || !isInline(*first)) {
        ++i;
        continue;
      }
      size_t j = i + 1;
      while (j < items.size() && items[j].block && isInline(*items[j].block) &&
             items[j].block->keyword.text == first->keyword.text &&
             !blankLineBetween(items[j - 1].range().end, items[j].range().begin) &&
             !commentBetween(items[j - 1].range().end, items[j].range().begin)) {
        ++j;
      }
      size_t width = 0;
      for (size_t k = i; k < j; ++k) width = std::max(width, headerOf(*items[k].block, depth).size());
      for (size_t k = i; k < j; ++k) widths[items[k].block.get()] = width;
      i = j;
    }
    return widths;
  }

  bool commentBetween(uint32_t from, uint32_t to) const {
    return std::any_of(comments_.begin(), comments_.end(), [&](const ast::Comment& c) {
      return c.range.begin >= from && c.range.begin < to;
    });
  }

  void printItems(const std::vector<ast::Item>& items, int depth) {
    std::vector<Line> run;
    const ast::Item* previous = nullptr;
    std::map<const ast::Block*, size_t> headerWidths = inlineHeaderWidths(items, depth);
    for (const ast::Item& item : items) {
      bool breakRun = previous && (previous->block || blankLineBetween(previous->range().end,
                                                                       item.range().begin));
      if (item.block || breakRun) printRun(run, depth);
      if (item.attribute) {
        // Comments before the run's first attribute are printed with it.
        if (run.empty()) {
          printOwnLineComments(item.attribute->range.begin, depth, previous != nullptr);
          if (previous && (previous->block && spansLines(previous->block->range))) blankLine();
          else if (previous && blankLineBetween(lastEnd_, item.range().begin)) blankLine();
        }
        run.push_back(lineFor(*item.attribute, depth));
      } else {
        auto width = headerWidths.find(item.block.get());
        printBlock(*item.block, depth, previous, width == headerWidths.end() ? 0 : width->second);
      }
      previous = &item;
    }
    printRun(run, depth);
  }

  void printBlock(const ast::Block& block, int depth, const ast::Item* previous,
                  size_t headerWidth) {
    bool multiLine = spansLines(block.range);
    bool previousMultiLine = previous && previous->block && spansLines(previous->block->range);
    // One blank line around multi-line blocks; single-line ones keep the
    // author's spacing (at most one blank line).
    bool wantBlank = previous && (multiLine || previousMultiLine ||
                                  blankLineBetween(previous->range().end, block.range.begin));
    if (wantBlank) blankLine();
    printOwnLineComments(block.range.begin, depth, false);

    std::string header = headerOf(block, depth);
    indent(depth);
    out_ += header;
    lastEnd_ = block.header.end;

    if (isInline(block)) {
      if (headerWidth > header.size()) out_ += std::string(headerWidth - header.size(), ' ');
      if (block.items.empty()) {
        out_ += " {}";
      } else {
        const ast::Item& only = block.items[0];
        out_ += " { ";
        if (only.attribute) {
          auto columns = columnsOf(*only.attribute, depth + 1);
          std::string text;
          for (const std::string& c : columns) text += (text.empty() ? "" : " ") + c;
          out_ += text;
        }
        out_ += " }";
      }
      lastEnd_ = block.range.end;
      if (const ast::Comment* comment = trailingComment(block.range.end)) {
        out_ += "  " + commentText(*comment);
        lastEnd_ = comment->range.end;
        ++nextComment_;
      }
      out_ += '\n';
      return;
    }

    out_ += " {";
    if (const ast::Comment* comment = trailingComment(block.openBrace.end)) {
      out_ += "  " + commentText(*comment);
      lastEnd_ = comment->range.end;
      ++nextComment_;
    }
    out_ += '\n';
    lastEnd_ = std::max(lastEnd_, block.openBrace.end);
    printItems(block.items, depth + 1);
    printOwnLineComments(block.closeBrace.begin, depth + 1, true);
    while (out_.ends_with("\n\n")) out_.pop_back();
    indent(depth);
    out_ += "}";
    lastEnd_ = block.range.end;
    if (const ast::Comment* comment = trailingComment(block.range.end)) {
      out_ += "  " + commentText(*comment);
      lastEnd_ = comment->range.end;
      ++nextComment_;
    }
    out_ += '\n';
  }

  std::string_view text_;
  const std::vector<ast::Comment>& comments_;
  size_t nextComment_ = 0;
  uint32_t lastEnd_ = 0;
  std::string out_;
};

}  // namespace

std::string formatFile(const source::SourceManager& sources, const ast::File& file) {
  return Formatter(sources, file).format(file);
}

}  // namespace mig::format
