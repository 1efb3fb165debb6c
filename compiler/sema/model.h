#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <set>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "compiler/ast/ast.h"

/// The checked meaning of a plan and of the modules it imports: kinds,
/// actions, endpoints, windows, phases and steps, with every name resolved.
/// Sema builds it from the AST; lowering turns it into the step graph.
/// Objects are owned by their Plan or ModuleSet; the pointers between
/// them never own.
namespace mig::sema {

using source::Range;

struct EndpointKind;
struct Endpoint;
struct Secret;
struct Step;
struct Parameter;
struct Window;
struct Phase;
struct Module;
struct Host;

// ---------------------------------------------------------------- types

struct Type {
  enum class Tag {
    Invalid,
    String,
    Command,   ///< a string that is a shell command: its interpolations are quoted
    Int,
    Bool,
    Duration,
    Size,
    Secret,
    List,
    OneOf,
    Endpoint,  ///< one of `kinds`, or any kind when `kinds` is empty
  };
  Tag tag = Tag::Invalid;
  std::vector<Type> element;               ///< List: the element type
  std::vector<std::string> symbols;        ///< OneOf
  std::vector<const EndpointKind*> kinds;  ///< Endpoint

  static Type of(Tag tag) { return Type{tag, {}, {}, {}}; }
  static Type listOf(Type element);

  /// How the type is written: `string`, `[string]`, `one_of(a, b)`, `postgres|redis`.
  std::string name() const;
  /// The name after "a" or "an": `a string`, `an int`, `a [string]`.
  std::string nameWithArticle() const;
  bool acceptsKind(const EndpointKind* kind) const;
};

enum class Effect { Read, Write, Compare, Acl };
std::string_view effectName(Effect effect);

// ---------------------------------------------------------------- values

/// What a name in a value or an interpolation resolved to.
struct Ref {
  enum class To {
    Endpoint,        ///< old_db
    EndpointField,   ///< old_db.url (or a pseudo-field: name, kind, acl)
    Secret,          ///< old_pw
    Window,          ///< sat_night
    Step,            ///< drain (in `after`)
    StepArgument,    ///< dump.file: data flow from another step's call
    Parameter,       ///< db (inside an action)
    ParameterField,  ///< db.url, timeout.seconds (inside an action)
    Field,           ///< user (inside a kind's default)
  };
  To to = To::Endpoint;
  const Endpoint* endpoint = nullptr;
  const Secret* secret = nullptr;
  const Window* window = nullptr;
  const Step* step = nullptr;
  const Parameter* parameter = nullptr;
  std::string name;   ///< the field, argument or pseudo-field
  Range range;
};

/// A string with its interpolations resolved. In a command, each
/// interpolated value becomes one shell-quoted word.
struct Template {
  struct Part {
    std::string text;        ///< literal text, when `ref` is empty
    std::optional<Ref> ref;  ///< an interpolation
    Range range;
  };
  std::vector<Part> parts;
  bool command = false;
};

struct Value {
  enum class Tag { None, String, Int, Bool, Duration, Size, Symbol, List, Ref };
  Tag tag = Tag::None;
  Template text;         ///< String
  int64_t number = 0;    ///< Int; Duration in milliseconds; Size in bytes
  bool boolean = false;  ///< Bool
  std::string symbol;    ///< Symbol
  std::vector<Value> list;
  Ref ref;
  Range range;

  bool isSet() const { return tag != Tag::None; }
};

// ---------------------------------------------------------------- modules

struct Field {
  std::string name;
  Type type;
  bool optional = false;
  const ast::Expr* defaultExpr = nullptr;
  Value defaultValue;  ///< resolved in the kind's scope (Ref::To::Field)
  Range nameRange;
};

/// How commands that reference an endpoint receive its secret.
struct Credentials {
  enum class Delivery { None, Pgpass, OptionFile, Env };
  Delivery delivery = Delivery::None;
  std::string variable;  ///< Env: the variable's name
};

/// `kind postgres { ... }`: the schema of an endpoint.
struct EndpointKind {
  std::string name;
  std::string module;
  std::vector<Field> fields;
  Credentials credentials;
  Range nameRange;

  const Field* field(std::string_view name) const;
  /// The field of type `secret`, if any: what the credentials deliver.
  const Field* secretField() const;
};

struct Parameter {
  std::string name;
  Type type;
  const ast::Expr* defaultExpr = nullptr;
  Value defaultValue;
  Range nameRange;
};

/// `env { NAME value }` in an action: an environment variable for its
/// command, a plain value or a parameter's secret.
struct EnvBinding {
  std::string variable;
  Value value;
  Range range;
};

/// `action copy(from: postgres, to: postgres) { ... }`
struct Action {
  std::string module;
  std::string name;
  /// The module that declares it: where lint looks for its siblings (the
  /// cutover that ends a sync).
  const Module* declaredIn = nullptr;
  std::vector<Parameter> params;
  std::vector<std::string> requiredCommands;
  Effect effect = Effect::Write;
  /// `undone_with sync`: the action of this module whose step's undo also
  /// reverses this one (cutover ends what sync started; unsync removes both).
  /// A step calling this action needs no undo of its own when a step
  /// calling that one on the same endpoints has one. Checked to name an
  /// action of the module when the module loads.
  std::string undoneWith;
  Range undoneWithRange;
  Value run;  ///< a command template, or a reference to a `command` parameter
  /// `recover "..."`: a command template that brings back a consistent
  /// state after the action was cut short (its runner and process killed),
  /// run by `mig resume` before it decides about the interrupted step. Unset
  /// (Tag::None) for most actions.
  Value recover;
  std::vector<EnvBinding> env;
  Range nameRange;
  Range range;

  const Parameter* param(std::string_view name) const;
  /// "postgres.copy", or "sh" for the shell module's builtin.
  std::string qualifiedName() const;
};

// ---------------------------------------------------------------- plan

struct Secret {
  enum class Source { Env, File };
  std::string name;
  Source source = Source::Env;
  std::string location;  ///< the variable's name, or the file's path
  Range nameRange;
  Range range;
};

struct Acl;

/// What an endpoint is to the migration: `source`, `target`, or an
/// `endpoint` that is neither (a connection pooler, a DNS service).
enum class EndpointRole { Source, Target, Other };
std::string_view endpointRoleName(EndpointRole role);

struct Endpoint {
  std::string name;
  EndpointRole role = EndpointRole::Source;
  const EndpointKind* kind = nullptr;
  /// Every field with a value: given, or the kind's default.
  std::map<std::string, Value> values;
  /// The plain text of every non-secret field with a value.
  std::map<std::string, std::string> text;
  /// Fields given with a value that was reported as wrong: not also missing.
  std::set<std::string> invalidFields;
  const Secret* secret = nullptr;
  const Acl* acl = nullptr;
  Range nameRange;
  Range header;
  Range range;

  bool isTarget() const { return role == EndpointRole::Target; }
  bool isSource() const { return role == EndpointRole::Source; }
};

struct AclEntry {
  std::string address;  ///< as written: an address or a CIDR
  std::string description;
  Range range;
  Range addressRange;
};

struct Acl {
  const Endpoint* target = nullptr;
  std::vector<AclEntry> entries;
  Range header;
  Range range;
};

/// A weekly window (days, start, length, time zone) or a one-off one (at,
/// length, time zone).
struct Window {
  std::string name;
  std::vector<int> weekdays;  ///< 0 = Sunday ... 6 = Saturday
  int startMinute = 0;        ///< minutes after local midnight
  std::optional<std::string> at;  ///< one-off: "YYYY-MM-DDTHH:MM", local time
  int64_t lengthMs = 0;
  std::string timezone;
  Range nameRange;
  Range range;
};

enum class OnWindowEnd { Pause, Rollback };

/// `host app1 { address ... }`: a machine whose steps run over OpenSSH.
struct Host {
  std::string name;
  std::string address;
  int port = 22;
  std::string user;            ///< "": ssh's default, the runner's own user
  std::string identity;        ///< a private key file, or "" for ssh's defaults and agent
  std::string knownHosts;      ///< a known_hosts file to check its key against, or ""
  std::string hostKey;         ///< its pinned public key, "TYPE BASE64", or ""
  const Host* jump = nullptr;  ///< reached through this host (ssh -J)
  Range nameRange;
  Range header;
  Range range;

  bool keyPinned() const { return !knownHosts.empty() || !hostKey.empty(); }
};

struct Call {
  const Action* action = nullptr;
  std::map<std::string, Value> args;  ///< every parameter with a value
  Range range;
  Range callee;
};

struct Dependency {
  const Step* step = nullptr;
  Range range;
  bool explicitAfter = true;  ///< `after`; false for data flow
};

enum class PhaseKind {
  Preparation,
  Migration,
  Testing,
  Switchover,
  Verification,
  Recovery,
  Optimizations,
};
inline constexpr std::array<std::string_view, 7> kPhaseNames = {
    "preparation", "migration", "testing", "switchover", "verification", "recovery", "optimizations"};
std::string_view phaseName(PhaseKind kind);

struct Step {
  std::string name;
  Phase* phase = nullptr;
  Call run;                   ///< `do`
  std::optional<Call> undo;
  std::optional<Call> check;  ///< a post-condition run after `do`
  std::vector<Dependency> after;
  std::vector<Dependency> dataFlow;
  std::optional<int64_t> timeoutMs;
  std::optional<int64_t> delayMs;
  std::optional<int64_t> estimateMs;
  int retry = 0;
  bool idempotent = false;
  const Window* window = nullptr;  ///< the step's own `window`
  Range windowRange;
  std::optional<OnWindowEnd> onWindowEnd;
  const Host* host = nullptr;  ///< the step's own `on`
  Range hostRange;
  std::string description;
  Range nameRange;
  Range range;

  Effect effect() const { return run.action ? run.action->effect : Effect::Write; }
  /// The step's window, or its phase's.
  const Window* effectiveWindow() const;
  /// Where its commands run: its own `on`, its phase's, or null for this machine.
  const Host* effectiveHost() const;
  OnWindowEnd effectiveOnWindowEnd() const;
};

struct Phase {
  PhaseKind kind = PhaseKind::Preparation;
  const Window* window = nullptr;
  Range windowRange;
  std::optional<OnWindowEnd> onWindowEnd;
  const Host* host = nullptr;  ///< `on HOST`: where its steps run unless they say otherwise
  Range hostRange;
  std::vector<Step*> steps;
  Range nameRange;
  Range header;
};

struct Fact {
  std::string name;
  Value value;
  Range range;
};

struct Plan {
  std::string name;
  std::string title;
  std::string owner;
  std::string description;
  std::optional<int64_t> retainMs;
  Range retainRange;
  std::vector<Fact> facts;

  std::vector<std::unique_ptr<Secret>> secrets;
  std::vector<std::unique_ptr<Endpoint>> endpoints;
  std::vector<std::unique_ptr<Acl>> acls;
  std::vector<std::unique_ptr<Window>> windows;
  std::vector<std::unique_ptr<Host>> hosts;
  std::vector<std::unique_ptr<Phase>> phases;  ///< in runbook order
  std::vector<std::unique_ptr<Step>> steps;    ///< in source order

  Range nameRange;
  Range header;
  Range range;
  source::FileId file = source::kNoFile;

  const Phase* phase(PhaseKind kind) const;
  const Endpoint* endpoint(std::string_view name) const;
  const Step* step(std::string_view name) const;
};

/// The endpoint a call passes as `param`, or null.
const Endpoint* endpointArgument(const Call& call, const std::string& param);
/// Whether `call` calls MODULE.NAME.
bool calls(const Call& call, std::string_view module, std::string_view name);
/// Whether two calls name the same endpoints: they share at least one
/// endpoint parameter (`from`, `to`), and every one they share names the
/// same endpoint in both.
bool sameEndpoints(const Call& a, const Call& b);
/// The step whose undo also reverses `step` (its action is `undone_with`
/// that step's action, on the same endpoints), preferring one that has an
/// undo; null if none.
const Step* undoingStep(const Plan& plan, const Step& step);

}  // namespace mig::sema
