#include "compiler/ast/ast.h"

namespace mig::ast {

std::string Expr::dottedPath() const {
  std::string out;
  for (const Identifier& part : path) {
    if (!out.empty()) out += '.';
    out += part.text;
  }
  return out;
}

std::optional<std::string> Expr::plainString() const {
  if (kind != ExprKind::String) return std::nullopt;
  std::string out;
  for (const StringPart& part : parts) {
    if (part.isInterpolation) return std::nullopt;
    out += part.text;
  }
  return out;
}

Range Item::range() const { return attribute ? attribute->range : block->range; }

}  // namespace mig::ast
