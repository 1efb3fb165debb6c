#pragma once

#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "compiler/source/source_manager.h"

/// The stdlib's kinds and actions as a user reads them: names, types,
/// defaults and the comments written above each declaration. Read from the
/// modules embedded in the binary, so `mig explain kind`, docs/kinds.md and
/// the language server's hovers say what the stdlib really declares.
namespace mig::sema {

struct FieldReference {
  std::string name;
  std::string type;          ///< as written: `string`, `[string]`, `secret`
  std::string defaultValue;  ///< as written, or "" when there is none
  bool optional = false;
  std::string doc;
};

struct KindReference {
  std::string module;      ///< the module's name: `mysql`
  std::string importPath;  ///< `std/mysql`
  std::string name;
  std::string doc;  ///< the module's own comment (a kind is its module's endpoint)
  std::vector<FieldReference> fields;
  std::string credentials;  ///< how secrets reach commands: `pgpass`, `option_file`, `env X`, ""
};

struct ParameterReference {
  std::string name;
  std::string type;
  std::string defaultValue;
};

struct ActionReference {
  std::string module;
  std::string importPath;
  std::string name;
  std::string doc;
  std::vector<ParameterReference> params;
  std::string effect;  ///< read, write, compare, acl
  std::vector<std::string> requiredCommands;

  /// `postgres.copy(from: postgres, to: postgres, jobs: int = 4)`
  std::string signature() const;
};

struct StdlibReference {
  std::vector<KindReference> kinds;
  std::vector<ActionReference> actions;

  const KindReference* kind(std::string_view name) const;
  /// `module.action`, or a prelude action like `sh`.
  const ActionReference* action(std::string_view qualifiedName) const;
  std::vector<const ActionReference*> actionsOf(std::string_view module) const;
};

/// The block of `#` lines right above `line` (no blank line between), with
/// the `#` and the space after it taken off: the comment that documents the
/// declaration on `line`. Lines are joined by spaces; an empty `#` line
/// starts a new paragraph ("\n\n").
std::string commentAbove(const source::SourceManager& sources, source::FileId file, uint32_t line);

/// Every module of the stdlib, loaded once.
const StdlibReference& stdlibReference();

/// `mig explain kind NAME`: the kind's fields, credentials and actions.
void printKind(std::ostream& out, const KindReference& kind, const StdlibReference& all);
/// `mig explain action MODULE.ACTION`.
void printAction(std::ostream& out, const ActionReference& action);
/// docs/kinds.md: every kind and every action, in Markdown.
void printReferenceMarkdown(std::ostream& out, const StdlibReference& all);

}  // namespace mig::sema
