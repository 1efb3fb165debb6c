#pragma once

#include <optional>
#include <string>
#include <vector>

#include "compiler/diag/diagnostic.h"
#include "compiler/sema/model.h"

namespace mig::sema {

/// A name resolved in some scope, with the type of what it names.
struct Resolved {
  Ref ref;
  Type type;
};

/// Where names are looked up: a plan (endpoints, secrets, windows, steps),
/// an action (its parameters) or a kind (its fields).
class Scope {
 public:
  virtual ~Scope() = default;
  /// Resolves `path`; on failure reports undefined-reference (with a
  /// suggestion where one is close) and returns nullopt.
  virtual std::optional<Resolved> resolve(const std::vector<ast::Identifier>& path) = 0;
  /// Called for every reference that resolved, so the plan can record uses
  /// and data flow.
  virtual void noteUse(const Ref&) {}
};

/// The pseudo-fields every value of a type offers: `seconds` and `ms` on a
/// duration, `bytes` on a size. Returns the pseudo-field's type.
std::optional<Type> pseudoFieldType(const Type& of, std::string_view field);

/// Checks AST values against expected types and resolves them into Values.
/// Reports type-mismatch, invalid-value, undefined-reference,
/// secret-literal and secret-in-command.
class ValueChecker {
 public:
  explicit ValueChecker(diag::DiagnosticEngine& diags) : diags_(diags) {}

  /// `expr` as a value of `type`. Returns an unset Value after reporting.
  Value check(const ast::Expr& expr, const Type& type, Scope& scope);

  /// A string (plain text, or a command when `command`) with its
  /// interpolations resolved.
  std::optional<Template> checkTemplate(const ast::Expr& expr, bool command, Scope& scope);

  /// Whether a value of type `actual` may stand where `expected` is wanted.
  static bool assignable(const Type& expected, const Type& actual);

  /// A short description of what an expression is, for messages: "a string",
  /// "the number 5", "endpoint 'old_db'".
  static std::string describe(const ast::Expr& expr);

 private:
  void checkQuoting(const Template& command);
  bool interpolatable(const Type& type) const;

  diag::DiagnosticEngine& diags_;
};

/// The closest of `candidates` to `name` (edit distance), for "did you mean".
std::optional<std::string> closestName(std::string_view name,
                                       const std::vector<std::string>& candidates);

}  // namespace mig::sema
