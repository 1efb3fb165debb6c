#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "compiler/source/source_manager.h"

/// The syntax tree of a .mig file: blocks, attributes and values, exactly
/// as written. It knows nothing of what a `plan` or a `step` is; sema gives
/// the tree its meaning against the stdlib's schemas. Every node carries
/// its source range.
namespace mig::ast {

using source::Range;

struct Identifier {
  std::string text;
  Range range;
};

enum class ExprKind {
  String,      ///< "..." or """...""", possibly with ${...} interpolations
  Integer,     ///< 42
  Duration,    ///< 90s, 1h30m
  Size,        ///< 512MB
  BadUnit,     ///< 12parsecs: already reported as invalid-value
  Bool,        ///< true, false
  List,        ///< [a, b]
  Reference,   ///< name, name.attr
  Call,        ///< name(args), module.name(args)
  Union,       ///< postgres|redis (types only)
};

/// One piece of a string: literal text (escapes decoded) or an
/// interpolation `${path}`.
struct StringPart {
  bool isInterpolation = false;
  std::string text;               ///< the literal text, when not an interpolation
  std::vector<Identifier> path;   ///< the reference, when an interpolation
  Range range;                    ///< the literal run, or the whole `${...}`
};

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

/// A call argument (`from: old_db`, or positional `"cmd"`), or an action
/// parameter (`db: postgres`).
struct Argument {
  std::optional<Identifier> name;
  ExprPtr value;
  ExprPtr defaultValue;  ///< action parameters only: `every: duration = 5s`
  Range range;
};

struct Expr {
  ExprKind kind = ExprKind::String;
  Range range;

  // String
  std::vector<StringPart> parts;
  bool tripleQuoted = false;

  // Integer, Duration (milliseconds), Size (bytes)
  int64_t number = 0;

  // Bool
  bool boolean = false;

  // List elements, Union alternatives
  std::vector<ExprPtr> elements;

  // Reference, and the callee of a Call
  std::vector<Identifier> path;

  // Call
  std::vector<Argument> arguments;
  Range argumentsRange;  ///< from '(' to ')'

  /// "a.b.c" for references and callees.
  std::string dottedPath() const;
  /// The string's text when it has no interpolation.
  std::optional<std::string> plainString() const;
  bool isSymbol() const { return kind == ExprKind::Reference && path.size() == 1; }
};

struct Block;

/// `NAME VALUE... [= VALUE]`
struct Attribute {
  Identifier name;
  std::vector<ExprPtr> values;
  ExprPtr assigned;  ///< after '=' (kind field default, step shorthand call)
  Range range;
};

/// An attribute or a nested block, in source order.
struct Item {
  std::unique_ptr<Attribute> attribute;
  std::unique_ptr<Block> block;
  Range range() const;
};

/// `KEYWORD [LABEL...] [(PARAMS)] { ITEMS }`
struct Block {
  Identifier keyword;
  std::vector<Identifier> labels;
  std::optional<std::vector<Argument>> params;  ///< action headers only
  Range paramsRange;
  std::vector<Item> items;
  Range range;       ///< keyword to closing brace
  Range header;      ///< keyword to the last label (or params)
  Range openBrace;
  Range closeBrace;  ///< invalid when the block was never closed
};

struct Comment {
  Range range;
};

struct File {
  source::FileId file = source::kNoFile;
  std::vector<Item> items;
  std::vector<Comment> comments;
  /// False when syntax errors were found: the tree holds what was recovered.
  bool clean = true;
};

}  // namespace mig::ast
