#include "compiler/graph/json.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "compiler/graph/sha256.h"

namespace mig::graph {
namespace {

using Json = nlohmann::ordered_json;

// Which parts to write: the hash leaves out what formatting can change.
enum class Purpose { Document, Hash };

Json optionalNumber(const std::optional<int64_t>& value) {
  return value ? Json(*value) : Json(nullptr);
}

Json commandJson(const Command& command, Purpose purpose) {
  Json out;
  out["action"] = command.action;
  if (purpose == Purpose::Document) out["call"] = command.call;
  out["script"] = command.script;
  out["env"] = command.env;
  Json secrets = Json::array();
  for (const SecretDelivery& s : command.secrets) {
    Json entry;
    entry["secret"] = s.secret;
    if (s.via == SecretDelivery::Via::Pgpass) {
      entry["via"] = "pgpass";
      entry["endpoint"] = s.endpoint;
      entry["host"] = s.host;
      entry["port"] = s.port;
      entry["database"] = s.database;
      entry["user"] = s.user;
    } else if (s.via == SecretDelivery::Via::OptionFile) {
      entry["via"] = "option_file";
      entry["endpoint"] = s.endpoint;
    } else {
      entry["via"] = "env";
      entry["variable"] = s.variable;
    }
    secrets.push_back(std::move(entry));
  }
  out["secrets"] = std::move(secrets);
  out["requires"] = command.requiredCommands;
  out["endpoints"] = command.endpoints;
  if (purpose == Purpose::Document) {
    out["origin"] = command.origin;
    out["definedAt"] = command.definedAt;
  }
  return out;
}

Json graphJson(const Graph& graph, Purpose purpose) {
  Json out;
  out["schema"] = "mig.compiled-plan";
  out["schemaVersion"] = graph.schemaVersion;
  out["plan"] = graph.plan;
  if (purpose == Purpose::Document) {
    out["planHash"] = graph.planHash;
    out["source"] = graph.source;
    out["title"] = graph.title;
    out["owner"] = graph.owner;
  }
  out["retainMs"] = optionalNumber(graph.retainMs);

  Json secrets = Json::array();
  for (const Secret& s : graph.secrets) {
    secrets.push_back({{"name", s.name}, {"from", s.from}, {"location", s.location}});
  }
  out["secrets"] = std::move(secrets);

  Json endpoints = Json::array();
  for (const Endpoint& e : graph.endpoints) {
    Json entry;
    entry["name"] = e.name;
    entry["role"] = e.role;
    entry["kind"] = e.kind;
    entry["fields"] = e.fields;
    entry["secret"] = e.secret.empty() ? Json(nullptr) : Json(e.secret);
    endpoints.push_back(std::move(entry));
  }
  out["endpoints"] = std::move(endpoints);

  Json acls = Json::array();
  for (const Acl& acl : graph.acls) {
    Json allow = Json::array();
    for (const AclEntry& entry : acl.allow) {
      allow.push_back({{"address", entry.address}, {"description", entry.description}});
    }
    acls.push_back({{"target", acl.target}, {"allow", std::move(allow)}});
  }
  out["acls"] = std::move(acls);

  Json windows = Json::array();
  for (const Window& w : graph.windows) {
    Json entry;
    entry["name"] = w.name;
    if (w.isOneOff()) {
      entry["type"] = "one-off";
      entry["at"] = w.at;
    } else {
      entry["type"] = "weekly";
      entry["days"] = w.days;
      entry["start"] = w.start;
    }
    entry["lengthMs"] = w.lengthMs;
    entry["timezone"] = w.timezone;
    windows.push_back(std::move(entry));
  }
  out["windows"] = std::move(windows);

  // Only where there are hosts: plans without remote steps keep their hash.
  if (!graph.hosts.empty()) {
    Json hosts = Json::array();
    for (const Host& h : graph.hosts) {
      Json entry;
      entry["name"] = h.name;
      entry["address"] = h.address;
      entry["port"] = h.port;
      entry["user"] = h.user.empty() ? Json(nullptr) : Json(h.user);
      entry["identity"] = h.identity.empty() ? Json(nullptr) : Json(h.identity);
      entry["knownHosts"] = h.knownHosts.empty() ? Json(nullptr) : Json(h.knownHosts);
      entry["hostKey"] = h.hostKey.empty() ? Json(nullptr) : Json(h.hostKey);
      entry["jump"] = h.jump.empty() ? Json(nullptr) : Json(h.jump);
      hosts.push_back(std::move(entry));
    }
    out["hosts"] = std::move(hosts);
  }

  Json phases = Json::array();
  for (const Phase& p : graph.phases) {
    phases.push_back({{"name", p.name},
                      {"barrier", p.barrier},
                      {"window", p.window.empty() ? Json(nullptr) : Json(p.window)}});
  }
  out["phases"] = std::move(phases);

  Json nodes = Json::array();
  for (const Node& n : graph.nodes) {
    Json entry;
    entry["id"] = n.id;
    entry["kind"] = n.isBarrier() ? "barrier" : "step";
    entry["phase"] = n.phase;
    entry["after"] = n.after;
    if (!n.isBarrier()) {
      entry["effect"] = n.effect;
      entry["run"] = commandJson(n.run, purpose);
      entry["undo"] = n.undo ? commandJson(*n.undo, purpose) : Json(nullptr);
      entry["check"] = n.check ? commandJson(*n.check, purpose) : Json(nullptr);
      entry["timeoutMs"] = optionalNumber(n.timeoutMs);
      entry["retry"] = n.retry;
      entry["delayMs"] = n.delayMs;
      entry["estimateMs"] = optionalNumber(n.estimateMs);
      entry["idempotent"] = n.idempotent;
      // Only where set: plans without online migrations keep their hash.
      if (!n.undoneBy.empty()) entry["undoneBy"] = n.undoneBy;
      if (n.recover) entry["recover"] = commandJson(*n.recover, purpose);
      entry["window"] = n.window.empty() ? Json(nullptr) : Json(n.window);
      entry["onWindowEnd"] = n.onWindowEnd;
      if (!n.host.empty()) entry["host"] = n.host;
      if (purpose == Purpose::Document) {
        entry["description"] = n.description;
        entry["origin"] = n.origin;
      }
    }
    nodes.push_back(std::move(entry));
  }
  out["nodes"] = std::move(nodes);
  return out;
}

// Reading: every accessor names the path of what it reads, so an error
// says where the document is wrong.
class Reader {
 public:
  explicit Reader(std::string& error) : error_(error) {}

  bool failed() const { return failed_; }

  const Json* member(const Json& object, const std::string& path, const char* key,
                     Json::value_t type, bool nullable = false) {
    if (failed_) return nullptr;
    if (!object.is_object() || !object.contains(key)) {
      fail(fmt::format("{}.{}: missing", path, key));
      return nullptr;
    }
    const Json& value = object.at(key);
    if (nullable && value.is_null()) return &value;
    bool ok = value.type() == type ||
              (type == Json::value_t::number_integer && value.is_number_unsigned());
    if (!ok) {
      fail(fmt::format("{}.{}: expected {}", path, key, typeName(type)));
      return nullptr;
    }
    return &value;
  }

  std::string string(const Json& object, const std::string& path, const char* key) {
    const Json* value = member(object, path, key, Json::value_t::string);
    return value ? value->get<std::string>() : std::string();
  }

  std::string nullableString(const Json& object, const std::string& path, const char* key) {
    const Json* value = member(object, path, key, Json::value_t::string, true);
    return value && !value->is_null() ? value->get<std::string>() : std::string();
  }

  int64_t integer(const Json& object, const std::string& path, const char* key) {
    const Json* value = member(object, path, key, Json::value_t::number_integer);
    return value ? value->get<int64_t>() : 0;
  }

  std::optional<int64_t> nullableInteger(const Json& object, const std::string& path,
                                         const char* key) {
    const Json* value = member(object, path, key, Json::value_t::number_integer, true);
    if (!value || value->is_null()) return std::nullopt;
    return value->get<int64_t>();
  }

  bool boolean(const Json& object, const std::string& path, const char* key) {
    const Json* value = member(object, path, key, Json::value_t::boolean);
    return value ? value->get<bool>() : false;
  }

  std::vector<std::string> strings(const Json& object, const std::string& path, const char* key) {
    std::vector<std::string> out;
    const Json* value = member(object, path, key, Json::value_t::array);
    if (!value) return out;
    for (size_t i = 0; i < value->size(); ++i) {
      if (!(*value)[i].is_string()) {
        fail(fmt::format("{}.{}[{}]: expected a string", path, key, i));
        return out;
      }
      out.push_back((*value)[i].get<std::string>());
    }
    return out;
  }

  std::map<std::string, std::string> stringMap(const Json& object, const std::string& path,
                                               const char* key) {
    std::map<std::string, std::string> out;
    const Json* value = member(object, path, key, Json::value_t::object);
    if (!value) return out;
    for (const auto& [name, item] : value->items()) {
      if (!item.is_string()) {
        fail(fmt::format("{}.{}.{}: expected a string", path, key, name));
        return out;
      }
      out[name] = item.get<std::string>();
    }
    return out;
  }

  const Json* array(const Json& object, const std::string& path, const char* key) {
    return member(object, path, key, Json::value_t::array);
  }

  void fail(std::string message) {
    if (failed_) return;
    failed_ = true;
    error_ = std::move(message);
  }

 private:
  static const char* typeName(Json::value_t type) {
    switch (type) {
      case Json::value_t::string: return "a string";
      case Json::value_t::number_integer: return "an integer";
      case Json::value_t::boolean: return "true or false";
      case Json::value_t::array: return "an array";
      case Json::value_t::object: return "an object";
      default: return "a value";
    }
  }

  std::string& error_;
  bool failed_ = false;
};

Command readCommand(Reader& r, const Json& json, const std::string& path) {
  Command c;
  if (!json.is_object()) {
    r.fail(fmt::format("{}: expected an object", path));
    return c;
  }
  c.action = r.string(json, path, "action");
  c.call = r.string(json, path, "call");
  c.script = r.string(json, path, "script");
  c.env = r.stringMap(json, path, "env");
  if (const Json* secrets = r.array(json, path, "secrets")) {
    for (size_t i = 0; i < secrets->size(); ++i) {
      const Json& s = (*secrets)[i];
      std::string at = fmt::format("{}.secrets[{}]", path, i);
      SecretDelivery d;
      d.secret = r.string(s, at, "secret");
      std::string via = r.string(s, at, "via");
      if (via == "pgpass") {
        d.via = SecretDelivery::Via::Pgpass;
        d.endpoint = r.string(s, at, "endpoint");
        d.host = r.string(s, at, "host");
        d.port = r.string(s, at, "port");
        d.database = r.string(s, at, "database");
        d.user = r.string(s, at, "user");
      } else if (via == "option_file") {
        d.via = SecretDelivery::Via::OptionFile;
        d.endpoint = r.string(s, at, "endpoint");
      } else if (via == "env") {
        d.variable = r.string(s, at, "variable");
      } else if (!r.failed()) {
        r.fail(fmt::format("{}.via: expected \"pgpass\", \"option_file\" or \"env\"", at));
      }
      c.secrets.push_back(std::move(d));
    }
  }
  c.requiredCommands = r.strings(json, path, "requires");
  c.endpoints = r.strings(json, path, "endpoints");
  c.origin = r.string(json, path, "origin");
  c.definedAt = r.string(json, path, "definedAt");
  return c;
}

std::optional<Command> readOptionalCommand(Reader& r, const Json& object, const std::string& path,
                                           const char* key) {
  const Json* value = r.member(object, path, key, Json::value_t::object, true);
  if (!value || value->is_null()) return std::nullopt;
  return readCommand(r, *value, path + "." + key);
}

}  // namespace

std::string toJson(const Graph& graph) { return graphJson(graph, Purpose::Document).dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n"; }

std::string computePlanHash(const Graph& graph) {
  return "sha256:" + sha256Hex(graphJson(graph, Purpose::Hash).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

std::optional<Graph> fromJson(std::string_view text, std::string& error) {
  Json json = Json::parse(text, nullptr, false);
  if (json.is_discarded()) {
    error = "not valid JSON";
    return std::nullopt;
  }
  Reader r(error);
  Graph g;
  if (!json.is_object() || r.string(json, "$", "schema") != "mig.compiled-plan") {
    if (!r.failed()) r.fail("$.schema: not a mig compiled plan");
    return std::nullopt;
  }
  g.schemaVersion = static_cast<int>(r.integer(json, "$", "schemaVersion"));
  if (!r.failed() && g.schemaVersion != kSchemaVersion) {
    r.fail(fmt::format("schema version {} is not supported: this mig reads version {}; compile "
                       "the plan again with this mig",
                       g.schemaVersion, kSchemaVersion));
  }
  g.plan = r.string(json, "$", "plan");
  g.planHash = r.string(json, "$", "planHash");
  g.source = r.string(json, "$", "source");
  g.title = r.string(json, "$", "title");
  g.owner = r.string(json, "$", "owner");
  g.retainMs = r.nullableInteger(json, "$", "retainMs");

  if (const Json* secrets = r.array(json, "$", "secrets")) {
    for (size_t i = 0; i < secrets->size(); ++i) {
      std::string at = fmt::format("$.secrets[{}]", i);
      const Json& s = (*secrets)[i];
      g.secrets.push_back({r.string(s, at, "name"), r.string(s, at, "from"), r.string(s, at, "location")});
    }
  }
  if (const Json* endpoints = r.array(json, "$", "endpoints")) {
    for (size_t i = 0; i < endpoints->size(); ++i) {
      std::string at = fmt::format("$.endpoints[{}]", i);
      const Json& e = (*endpoints)[i];
      Endpoint endpoint;
      endpoint.name = r.string(e, at, "name");
      endpoint.role = r.string(e, at, "role");
      endpoint.kind = r.string(e, at, "kind");
      endpoint.fields = r.stringMap(e, at, "fields");
      endpoint.secret = r.nullableString(e, at, "secret");
      g.endpoints.push_back(std::move(endpoint));
    }
  }
  if (const Json* acls = r.array(json, "$", "acls")) {
    for (size_t i = 0; i < acls->size(); ++i) {
      std::string at = fmt::format("$.acls[{}]", i);
      const Json& a = (*acls)[i];
      Acl acl;
      acl.target = r.string(a, at, "target");
      if (const Json* allow = r.array(a, at, "allow")) {
        for (size_t k = 0; k < allow->size(); ++k) {
          std::string entryAt = fmt::format("{}.allow[{}]", at, k);
          acl.allow.push_back({r.string((*allow)[k], entryAt, "address"),
                               r.string((*allow)[k], entryAt, "description")});
        }
      }
      g.acls.push_back(std::move(acl));
    }
  }
  if (const Json* windows = r.array(json, "$", "windows")) {
    for (size_t i = 0; i < windows->size(); ++i) {
      std::string at = fmt::format("$.windows[{}]", i);
      const Json& w = (*windows)[i];
      Window window;
      window.name = r.string(w, at, "name");
      std::string type = r.string(w, at, "type");
      if (type == "one-off") {
        window.at = r.string(w, at, "at");
      } else if (type == "weekly") {
        window.days = r.strings(w, at, "days");
        window.start = r.string(w, at, "start");
      } else if (!r.failed()) {
        r.fail(fmt::format("{}.type: expected \"weekly\" or \"one-off\"", at));
      }
      window.lengthMs = r.integer(w, at, "lengthMs");
      window.timezone = r.string(w, at, "timezone");
      g.windows.push_back(std::move(window));
    }
  }
  if (json.contains("hosts")) {
    if (const Json* hosts = r.array(json, "$", "hosts")) {
      for (size_t i = 0; i < hosts->size(); ++i) {
        std::string at = fmt::format("$.hosts[{}]", i);
        const Json& h = (*hosts)[i];
        Host host;
        host.name = r.string(h, at, "name");
        host.address = r.string(h, at, "address");
        host.port = static_cast<int>(r.integer(h, at, "port"));
        host.user = r.nullableString(h, at, "user");
        host.identity = r.nullableString(h, at, "identity");
        host.knownHosts = r.nullableString(h, at, "knownHosts");
        host.hostKey = r.nullableString(h, at, "hostKey");
        host.jump = r.nullableString(h, at, "jump");
        g.hosts.push_back(std::move(host));
      }
    }
  }
  if (const Json* phases = r.array(json, "$", "phases")) {
    for (size_t i = 0; i < phases->size(); ++i) {
      std::string at = fmt::format("$.phases[{}]", i);
      const Json& p = (*phases)[i];
      g.phases.push_back({r.string(p, at, "name"), r.string(p, at, "barrier"),
                          r.nullableString(p, at, "window")});
    }
  }
  if (const Json* nodes = r.array(json, "$", "nodes")) {
    for (size_t i = 0; i < nodes->size() && !r.failed(); ++i) {
      std::string at = fmt::format("$.nodes[{}]", i);
      const Json& n = (*nodes)[i];
      Node node;
      node.id = r.string(n, at, "id");
      std::string kind = r.string(n, at, "kind");
      node.phase = r.string(n, at, "phase");
      node.after = r.strings(n, at, "after");
      if (kind == "barrier") {
        node.kind = Node::Kind::Barrier;
      } else if (kind == "step") {
        node.effect = r.string(n, at, "effect");
        if (const Json* run = r.member(n, at, "run", Json::value_t::object)) {
          node.run = readCommand(r, *run, at + ".run");
        }
        node.undo = readOptionalCommand(r, n, at, "undo");
        node.check = readOptionalCommand(r, n, at, "check");
        node.timeoutMs = r.nullableInteger(n, at, "timeoutMs");
        node.retry = static_cast<int>(r.integer(n, at, "retry"));
        node.delayMs = r.integer(n, at, "delayMs");
        node.estimateMs = r.nullableInteger(n, at, "estimateMs");
        node.idempotent = r.boolean(n, at, "idempotent");
        if (n.contains("undoneBy")) node.undoneBy = r.string(n, at, "undoneBy");
        if (n.contains("recover")) node.recover = readOptionalCommand(r, n, at, "recover");
        node.window = r.nullableString(n, at, "window");
        node.onWindowEnd = r.string(n, at, "onWindowEnd");
        if (n.contains("host")) node.host = r.string(n, at, "host");
        node.description = r.string(n, at, "description");
        node.origin = r.string(n, at, "origin");
      } else if (!r.failed()) {
        r.fail(fmt::format("{}.kind: expected \"step\" or \"barrier\"", at));
      }
      g.nodes.push_back(std::move(node));
    }
  }
  if (r.failed()) return std::nullopt;

  // The graph's own consistency: ids unique, every `after` names an earlier
  // node, every window named exists.
  std::map<std::string, size_t> seen;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    if (!seen.emplace(n.id, i).second) {
      error = fmt::format("$.nodes[{}]: node id '{}' appears twice", i, n.id);
      return std::nullopt;
    }
    for (const std::string& dep : n.after) {
      if (!seen.count(dep) || dep == n.id) {
        error = fmt::format("$.nodes[{}]: '{}' waits for '{}', which is not an earlier node", i,
                            n.id, dep);
        return std::nullopt;
      }
    }
    if (!n.window.empty() && g.window(n.window) == nullptr) {
      error = fmt::format("$.nodes[{}]: window '{}' is not declared", i, n.window);
      return std::nullopt;
    }
    if (!n.host.empty() && g.host(n.host) == nullptr) {
      error = fmt::format("$.nodes[{}]: host '{}' is not declared", i, n.host);
      return std::nullopt;
    }
  }
  for (size_t i = 0; i < g.hosts.size(); ++i) {
    const Host& h = g.hosts[i];
    if (!h.jump.empty() && g.host(h.jump) == nullptr) {
      error = fmt::format("$.hosts[{}]: jump host '{}' is not declared", i, h.jump);
      return std::nullopt;
    }
  }
  if (computePlanHash(g) != g.planHash) {
    error = "the plan hash does not match the plan: the file was edited after compiling; compile "
            "it again";
    return std::nullopt;
  }
  return g;
}

const Node* Graph::node(std::string_view id) const {
  for (const Node& n : nodes) {
    if (n.id == id) return &n;
  }
  return nullptr;
}

const Window* Graph::window(std::string_view windowName) const {
  for (const Window& w : windows) {
    if (w.name == windowName) return &w;
  }
  return nullptr;
}

const Endpoint* Graph::endpoint(std::string_view endpointName) const {
  for (const Endpoint& e : endpoints) {
    if (e.name == endpointName) return &e;
  }
  return nullptr;
}

const Host* Graph::host(std::string_view hostName) const {
  for (const Host& h : hosts) {
    if (h.name == hostName) return &h;
  }
  return nullptr;
}

const Secret* Graph::secret(std::string_view secretName) const {
  for (const Secret& s : secrets) {
    if (s.name == secretName) return &s;
  }
  return nullptr;
}

}  // namespace mig::graph

