#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

/// The step graph: the contract between the compiler and the runtime.
/// `mig compile` writes it as JSON (docs/compiled-plan.md); the runtime
/// reads it and never sees the AST. Plain structs, linked by ids.
namespace mig::graph {

inline constexpr int kSchemaVersion = 1;

/// How one secret reaches one command. Values are never in the graph: the
/// runtime reads them from the plan's secret sources when the command runs.
struct SecretDelivery {
  enum class Via {
    Pgpass,  ///< a line in a 0600 PGPASSFILE (host:port:database:user:password)
    /// a group `[client-ENDPOINT]` of a 0600 MySQL option file named by
    /// MIG_OPTION_FILE (clients read it with --defaults-extra-file and
    /// --defaults-group-suffix=-ENDPOINT)
    OptionFile,
    Env,  ///< an environment variable of the command
  };
  Via via = Via::Env;
  std::string secret;    ///< the plan's secret
  std::string variable;  ///< Env: the variable's name
  std::string endpoint;  ///< Pgpass, OptionFile: whose line or group it is
  std::string host, port, database, user;  ///< Pgpass: the line's key
};

/// A concrete command: a bash script with every interpolation already
/// shell-quoted, its environment, and where it came from.
struct Command {
  std::string action;  ///< "postgres.copy", or "sh"
  std::string call;    ///< the call as written: postgres.copy(from: old_db, to: new_db)
  std::string script;
  std::map<std::string, std::string> env;
  std::vector<SecretDelivery> secrets;
  std::vector<std::string> requiredCommands;  ///< commands that must exist on PATH
  std::vector<std::string> endpoints;  ///< endpoints the command talks to
  std::string origin;     ///< file:line of the call
  std::string definedAt;  ///< file:line of the action's definition
};

struct Node {
  enum class Kind { Step, Barrier };
  std::string id;  ///< the step's name, or "phase:NAME" for a barrier
  Kind kind = Kind::Step;
  std::string phase;
  std::vector<std::string> after;  ///< ids this node waits for
  // Steps only:
  std::string effect;  ///< read, write, compare, acl
  Command run;
  std::optional<Command> undo;
  std::optional<Command> check;
  /// The action's `recover`: run by resume, before it decides about the
  /// step when it was interrupted, to bring back a consistent state.
  std::optional<Command> recover;
  std::optional<int64_t> timeoutMs;
  int retry = 0;
  int64_t delayMs = 0;
  std::optional<int64_t> estimateMs;
  bool idempotent = false;
  /// The step whose undo also reverses this one (a cutover's sync: its
  /// undo removes what the cutover left), or "".
  std::string undoneBy;
  std::string window;  ///< the window bounding the step (its own or its phase's), or ""
  std::string onWindowEnd = "pause";
  std::string host;  ///< the host its commands run on (its own `on` or its phase's), or "" for here
  std::string description;
  std::string origin;  ///< file:line of the step

  bool isBarrier() const { return kind == Kind::Barrier; }
};

struct Window {
  std::string name;
  std::vector<std::string> days;  ///< weekly: mon..sun; empty for one-off
  std::string start;              ///< weekly: "HH:MM"
  std::string at;                 ///< one-off: "YYYY-MM-DDTHH:MM"
  int64_t lengthMs = 0;
  std::string timezone;

  bool isOneOff() const { return !at.empty(); }
};

/// A machine steps run on, over OpenSSH (docs/runtime.md, "Remote hosts").
struct Host {
  std::string name;
  std::string address;
  int port = 22;
  std::string user;        ///< "" for ssh's default
  std::string identity;    ///< a private key file, or ""
  std::string knownHosts;  ///< a known_hosts file, or ""
  std::string hostKey;     ///< the pinned key, "TYPE BASE64", or ""
  std::string jump;        ///< the host it is reached through, or ""
};

struct Secret {
  std::string name;
  std::string from;      ///< "env" or "file"
  std::string location;  ///< the variable, or the file's path
};

struct Endpoint {
  std::string name;
  std::string role;  ///< "source", "target" or "endpoint"
  std::string kind;
  std::map<std::string, std::string> fields;  ///< every non-secret field with a value
  std::string secret;                          ///< the secret holding its password, or ""
};

struct AclEntry {
  std::string address;
  std::string description;
};

struct Acl {
  std::string target;
  std::vector<AclEntry> allow;
};

struct Phase {
  std::string name;
  std::string barrier;  ///< the id of its barrier node
  std::string window;   ///< the phase's window, or ""
};

struct Graph {
  int schemaVersion = kSchemaVersion;
  std::string plan;
  std::string planHash;  ///< "sha256:..." over the plan's meaning
  std::string source;    ///< the plan file
  std::string title;
  std::string owner;
  std::optional<int64_t> retainMs;
  std::vector<Secret> secrets;
  std::vector<Endpoint> endpoints;
  std::vector<Acl> acls;
  std::vector<Window> windows;
  std::vector<Host> hosts;
  std::vector<Phase> phases;  ///< in runbook order
  std::vector<Node> nodes;    ///< every node after the nodes it waits for

  const Node* node(std::string_view id) const;
  const Window* window(std::string_view name) const;
  const Endpoint* endpoint(std::string_view name) const;
  const Secret* secret(std::string_view name) const;
  const Host* host(std::string_view name) const;
};

}  // namespace mig::graph
