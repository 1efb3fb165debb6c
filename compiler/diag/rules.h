#pragma once

#include <optional>
#include <span>
#include <string_view>

namespace mig::diag {

enum class Severity { Note, Warning, Error };

std::string_view severityName(Severity severity);

/// Every lint rule. The names are binding: they are the rule ids in every
/// output format and the argument of `mig explain`.
enum class Rule {
  SyntaxError,
  UnknownImport,
  DuplicateName,
  UndefinedReference,
  UnknownAttribute,
  MissingAttribute,
  TypeMismatch,
  InvalidValue,
  UnknownPhase,
  PhaseOrder,
  DependencyCycle,
  AfterLaterPhase,
  SecretLiteral,
  SecretInCommand,
  AclMissing,
  AclTooOpen,
  AclNotVerified,
  SwitchoverOutsideWindow,
  IrreversibleStep,
  ParityUnchecked,
  RetentionTooShort,
  RetentionMissing,
  VerificationMissing,
  WindowTooShort,
  UnusedDeclaration,
  SameSourceTarget,
  SyncWithoutCutover,
  CutoverOutsideWindow,
  CopyAfterSync,
  UnknownHost,
  HostKeyUnpinned,
  RemoteByHand,
  WalLevel,
  SyncNeedsReplicaIdentity,
};

/// Where a rule is checked: by `mig lint` on the plan, or at run time by a
/// driver against a live server (its output lines start with `RULE:`), for
/// what only the server knows.
enum class CheckedBy { Lint, Run };

/// What `mig explain` and the SARIF rule descriptors say about a rule.
struct RuleInfo {
  Rule rule;
  std::string_view name;
  Severity severity;
  /// One line, lower case, no period: SARIF's shortDescription.
  std::string_view summary;
  /// What the rule catches.
  std::string_view catches;
  /// Why it matters in a migration.
  std::string_view why;
  /// How to fix it.
  std::string_view fix;
  /// A snippet that triggers the rule, and the same snippet fixed.
  std::string_view bad;
  std::string_view good;
  CheckedBy checkedBy = CheckedBy::Lint;
};

std::span<const RuleInfo> allRules();
const RuleInfo& ruleInfo(Rule rule);
std::optional<Rule> findRule(std::string_view name);

}  // namespace mig::diag
