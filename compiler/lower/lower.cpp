#include "compiler/lower/lower.h"

#include <fmt/format.h>

#include <algorithm>
#include <cassert>
#include <set>

#include "compiler/graph/json.h"
#include "compiler/graph/shell.h"
#include "compiler/units/units.h"
#include "compiler/sema/lint.h"

namespace mig::lower {
namespace {

using sema::Ref;
using sema::Value;

constexpr std::array<std::string_view, 7> kWeekdayNames = {"sun", "mon", "tue", "wed",
                                                           "thu", "fri", "sat"};

// The arguments of one call: given ones, then the parameters' defaults.
struct CallScope {
  const sema::Action* action = nullptr;
  const std::map<std::string, Value>* args = nullptr;

  const Value* argument(const sema::Parameter& param) const {
    auto it = args->find(param.name);
    if (it != args->end()) return &it->second;
    return param.defaultValue.isSet() ? &param.defaultValue : nullptr;
  }
};

class Lowerer {
 public:
  Lowerer(const sema::Plan& plan, const source::SourceManager& sources)
      : plan_(plan), sources_(sources) {}

  graph::Graph lower() {
    graph::Graph g;
    g.plan = plan_.name;
    g.source = std::string(sources_.name(plan_.file));
    g.title = plan_.title;
    g.owner = plan_.owner;
    g.retainMs = plan_.retainMs;
    for (const auto& secret : plan_.secrets) {
      g.secrets.push_back({secret->name,
                           secret->source == sema::Secret::Source::Env ? "env" : "file",
                           secret->location});
    }
    for (const auto& endpoint : plan_.endpoints) {
      graph::Endpoint e;
      e.name = endpoint->name;
      e.role = sema::endpointRoleName(endpoint->role);
      e.kind = endpoint->kind ? endpoint->kind->name : "";
      e.fields = endpoint->text;
      e.secret = endpoint->secret ? endpoint->secret->name : "";
      g.endpoints.push_back(std::move(e));
    }
    for (const auto& acl : plan_.acls) {
      graph::Acl a;
      a.target = acl->target->name;
      for (const sema::AclEntry& entry : acl->entries) a.allow.push_back({entry.address, entry.description});
      g.acls.push_back(std::move(a));
    }
    for (const auto& window : plan_.windows) {
      graph::Window w;
      w.name = window->name;
      if (window->at) {
        w.at = *window->at;
      } else {
        for (int day : window->weekdays) w.days.emplace_back(kWeekdayNames[day]);
        w.start = fmt::format("{:02}:{:02}", window->startMinute / 60, window->startMinute % 60);
      }
      w.lengthMs = window->lengthMs;
      w.timezone = window->timezone;
      g.windows.push_back(std::move(w));
    }
    for (const auto& host : plan_.hosts) {
      g.hosts.push_back({host->name, host->address, host->port, host->user, host->identity,
                         host->knownHosts, host->hostKey, host->jump ? host->jump->name : ""});
    }
    lowerPhases(g);
    g.planHash = graph::computePlanHash(g);
    return g;
  }

 private:
  // ---------------------------------------------------------------- graph

  void lowerPhases(graph::Graph& g) {
    std::vector<std::string> previous;  // what the next barrier waits for
    for (const auto& phase : plan_.phases) {
      std::string name(sema::phaseName(phase->kind));
      graph::Node barrier;
      barrier.kind = graph::Node::Kind::Barrier;
      barrier.id = "phase:" + name;
      barrier.phase = name;
      barrier.after = previous;
      g.phases.push_back({name, barrier.id, phase->window ? phase->window->name : ""});
      g.nodes.push_back(std::move(barrier));

      auto order = sema::orderWithinPhase(*phase);
      assert(order && "lowering a plan with a dependency cycle");
      // The next barrier waits for the phase's last steps (those no other
      // step of the phase waits for); the rest are ordered before them.
      std::set<std::string> waitedFor;
      for (const sema::Step* step : *order) {
        graph::Node node = lowerStep(*step, "phase:" + name);
        for (const std::string& dep : node.after) waitedFor.insert(dep);
        g.nodes.push_back(std::move(node));
      }
      previous.clear();
      for (const sema::Step* step : *order) {
        if (!waitedFor.count(step->name)) previous.push_back(step->name);
      }
      if (previous.empty()) previous.push_back("phase:" + name);
    }
  }

  graph::Node lowerStep(const sema::Step& step, const std::string& barrier) {
    graph::Node node;
    node.id = step.name;
    node.phase = std::string(sema::phaseName(step.phase->kind));
    for (const auto* list : {&step.after, &step.dataFlow}) {
      for (const sema::Dependency& dep : *list) {
        if (dep.step->phase != step.phase) continue;  // earlier phases: the barrier orders them
        if (std::find(node.after.begin(), node.after.end(), dep.step->name) == node.after.end()) {
          node.after.push_back(dep.step->name);
        }
      }
    }
    // A step that waits for nothing else in its phase waits for the phase.
    if (node.after.empty()) node.after.push_back(barrier);
    node.effect = std::string(sema::effectName(step.effect()));
    node.run = expand(step.run);
    if (step.undo) node.undo = expand(*step.undo);
    if (step.check) node.check = expand(*step.check);
    if (step.run.action && step.run.action->recover.isSet()) {
      node.recover = expand(step.run, step.run.action->recover);
    }
    node.timeoutMs = step.timeoutMs;
    node.retry = step.retry;
    node.delayMs = step.delayMs.value_or(0);
    node.estimateMs = step.estimateMs;
    node.idempotent = step.idempotent;
    if (const sema::Step* undoing = sema::undoingStep(plan_, step); undoing && undoing->undo) {
      node.undoneBy = undoing->name;
    }
    if (const sema::Window* window = step.effectiveWindow()) node.window = window->name;
    node.onWindowEnd = step.effectiveOnWindowEnd() == sema::OnWindowEnd::Rollback ? "rollback" : "pause";
    if (const sema::Host* host = step.effectiveHost()) node.host = host->name;
    node.description = step.description;
    node.origin = origin(step.nameRange);
    return node;
  }

  std::string origin(source::Range range) const {
    if (!range.valid()) return "";
    return fmt::format("{}:{}", sources_.name(range.file), sources_.begin(range).line);
  }

  // The call as written, on one line.
  std::string callText(const sema::Call& call) const {
    if (!call.range.valid()) return "";
    std::string_view text = sources_.text(call.range.file).substr(call.range.begin,
                                                                  call.range.end - call.range.begin);
    std::string out;
    bool space = false;
    for (char c : text) {
      if (c == '\n' || c == '\r' || c == ' ' || c == '\t') {
        space = !out.empty();
        continue;
      }
      if (space && c != ')' && c != ']' && out.back() != '(' && out.back() != '[') out += ' ';
      space = false;
      out += c;
    }
    return out;
  }

  // ---------------------------------------------------------------- values

  // A value as plain text (outside commands): strings with their
  // interpolations replaced, numbers and durations in canonical form.
  std::string plain(const Value& value) {
    switch (value.tag) {
      case Value::Tag::String: {
        std::string out;
        for (const sema::Template::Part& part : value.text.parts) {
          out += part.ref ? joinWords(refWords(*part.ref), " ") : part.text;
        }
        return out;
      }
      case Value::Tag::Int: return std::to_string(value.number);
      case Value::Tag::Bool: return value.boolean ? "true" : "false";
      case Value::Tag::Duration: return units::formatDuration(value.number);
      case Value::Tag::Size: return units::formatSize(value.number);
      case Value::Tag::Symbol: return value.symbol;
      case Value::Tag::List: {
        std::vector<std::string> items;
        for (const Value& item : value.list) items.push_back(plain(item));
        return joinWords(items, " ");
      }
      case Value::Tag::Ref: return joinWords(refWords(value.ref), " ");
      case Value::Tag::None: return "";
    }
    return "";
  }

  // The words a plan-scope reference stands for: one, or one per element
  // of a list (an endpoint's `acl`).
  std::vector<std::string> refWords(const Ref& ref) {
    switch (ref.to) {
      case Ref::To::EndpointField: return endpointFieldWords(*ref.endpoint, ref.name);
      case Ref::To::Endpoint: return {ref.endpoint->name};
      case Ref::To::StepArgument: {
        const Value* value = stepArgument(ref);
        if (!value) return {""};
        if (value->tag == Value::Tag::List) {
          std::vector<std::string> words;
          for (const Value& item : value->list) words.push_back(plain(item));
          return words;
        }
        return {plain(*value)};
      }
      default:
        // Secrets never reach here: sema refuses to interpolate them.
        return {""};
    }
  }

  std::vector<std::string> endpointFieldWords(const sema::Endpoint& endpoint,
                                              const std::string& field) {
    std::string base = field.substr(0, field.find('.'));
    if (base == "name") return {endpoint.name};
    if (base == "kind") return {endpoint.kind ? endpoint.kind->name : ""};
    if (base == "acl") {
      std::vector<std::string> words;
      if (endpoint.acl) {
        for (const sema::AclEntry& entry : endpoint.acl->entries) words.push_back(entry.address);
      }
      return words;
    }
    if (base.size() < field.size()) {
      auto value = endpoint.values.find(base);
      if (value == endpoint.values.end()) return {""};
      return {pseudo(value->second, field.substr(base.size() + 1))};
    }
    auto text = endpoint.text.find(field);
    return {text == endpoint.text.end() ? "" : text->second};
  }

  static std::string pseudo(const Value& value, std::string_view name) {
    if (name == "seconds") return std::to_string(value.number / 1000);
    return std::to_string(value.number);  // ms, bytes
  }

  const Value* stepArgument(const Ref& ref) {
    const sema::Call& call = ref.step->run;
    if (!call.action) return nullptr;
    auto it = call.args.find(ref.name);
    if (it != call.args.end()) return &it->second;
    const sema::Parameter* param = call.action->param(ref.name);
    return param && param->defaultValue.isSet() ? &param->defaultValue : nullptr;
  }

  static std::string joinWords(const std::vector<std::string>& words, std::string_view separator) {
    std::string out;
    for (size_t i = 0; i < words.size(); ++i) out += (i ? std::string(separator) : "") + words[i];
    return out;
  }

  static std::string quoteWords(const std::vector<std::string>& words) {
    std::vector<std::string> quoted;
    for (const std::string& word : words) quoted.push_back(graph::shellQuote(word));
    return joinWords(quoted, " ");
  }

  // A command written in the plan (a `command` argument): literal text as
  // written, each interpolation one shell-quoted word.
  std::string commandText(const Value& value) {
    if (value.tag == Value::Tag::Ref && value.ref.to == Ref::To::StepArgument) {
      const Value* target = stepArgument(value.ref);
      return target ? commandText(*target) : "";
    }
    if (value.tag != Value::Tag::String) return plain(value);
    std::string out;
    for (const sema::Template::Part& part : value.text.parts) {
      out += part.ref ? quoteWords(refWords(*part.ref)) : part.text;
    }
    return out;
  }

  // The endpoint an argument names, directly or through data flow.
  const sema::Endpoint* endpointOf(const Value* value) {
    for (int hops = 0; value && hops < 64; ++hops) {
      if (value->tag != Value::Tag::Ref) return nullptr;
      if (value->ref.to == Ref::To::Endpoint) return value->ref.endpoint;
      if (value->ref.to != Ref::To::StepArgument) return nullptr;
      value = stepArgument(value->ref);
    }
    return nullptr;
  }

  // Every endpoint a value mentions: named, or interpolated.
  void collectEndpoints(const Value& value, std::vector<const sema::Endpoint*>& out, int depth = 0) {
    if (depth > 64) return;
    auto add = [&](const sema::Endpoint* e) {
      if (e && std::find(out.begin(), out.end(), e) == out.end()) out.push_back(e);
    };
    auto fromRef = [&](const Ref& ref) {
      if (ref.to == Ref::To::Endpoint || ref.to == Ref::To::EndpointField) add(ref.endpoint);
      if (ref.to == Ref::To::StepArgument) {
        if (const Value* target = stepArgument(ref)) collectEndpoints(*target, out, depth + 1);
      }
    };
    switch (value.tag) {
      case Value::Tag::Ref: fromRef(value.ref); break;
      case Value::Tag::String:
        for (const auto& part : value.text.parts) {
          if (part.ref) fromRef(*part.ref);
        }
        break;
      case Value::Tag::List:
        for (const Value& item : value.list) collectEndpoints(item, out, depth + 1);
        break;
      default: break;
    }
  }

  // The words an action-scope reference stands for, given the call's arguments.
  std::vector<std::string> actionRefWords(const Ref& ref, const CallScope& scope) {
    const Value* value = scope.argument(*ref.parameter);
    if (!value) return {""};
    if (ref.to == Ref::To::Parameter) {
      if (ref.parameter->type.tag == sema::Type::Tag::Command) return {commandText(*value)};
      if (value->tag == Value::Tag::List) {
        std::vector<std::string> words;
        for (const Value& item : value->list) words.push_back(plain(item));
        return words;
      }
      return {plain(*value)};
    }
    // ParameterField: a field of an endpoint argument, or a pseudo-field.
    if (const sema::Endpoint* endpoint = endpointOf(value)) return endpointFieldWords(*endpoint, ref.name);
    return {pseudo(*value, ref.name)};
  }

  // ---------------------------------------------------------------- commands

  graph::Command expand(const sema::Call& call) { return expand(call, call.action->run); }

  /// The command of `call` whose script is `run`: the action's `run`, or
  /// its `recover`.
  graph::Command expand(const sema::Call& call, const Value& run) {
    const sema::Action& action = *call.action;
    CallScope scope{&action, &call.args};
    graph::Command command;
    command.action = action.qualifiedName();
    command.call = callText(call);
    command.origin = origin(call.range);
    command.definedAt = origin(action.nameRange);
    command.requiredCommands = action.requiredCommands;

    // The script.
    if (run.tag == Value::Tag::Ref && run.ref.to == Ref::To::Parameter) {
      const Value* value = scope.argument(*run.ref.parameter);
      command.script = value ? commandText(*value) : "";
      std::string program = externalCommandOf(command.script);
      if (!program.empty()) command.requiredCommands.push_back(program);
    } else if (run.tag == Value::Tag::String) {
      for (const sema::Template::Part& part : run.text.parts) {
        command.script += part.ref ? quoteWords(actionRefWords(*part.ref, scope)) : part.text;
      }
    }

    // The endpoints it talks to, and their credentials.
    std::vector<const sema::Endpoint*> endpoints;
    for (const sema::Parameter& param : action.params) {
      if (const Value* value = scope.argument(param)) collectEndpoints(*value, endpoints);
    }
    for (const sema::Endpoint* endpoint : endpoints) command.endpoints.push_back(endpoint->name);
    deliverCredentials(endpoints, command);

    // The action's own environment.
    for (const sema::EnvBinding& binding : action.env) {
      if (binding.value.tag == Value::Tag::Ref && binding.value.ref.parameter) {
        const sema::Endpoint* endpoint = endpointOf(scope.argument(*binding.value.ref.parameter));
        const sema::Field* field =
            endpoint && endpoint->kind ? endpoint->kind->field(binding.value.ref.name) : nullptr;
        if (field && field->type.tag == sema::Type::Tag::Secret) {
          if (endpoint->secret) {
            graph::SecretDelivery delivery;
            delivery.via = graph::SecretDelivery::Via::Env;
            delivery.secret = endpoint->secret->name;
            delivery.variable = binding.variable;
            command.secrets.push_back(std::move(delivery));
          }
          continue;
        }
        command.env[binding.variable] = joinWords(actionRefWords(binding.value.ref, scope), " ");
        continue;
      }
      command.env[binding.variable] = plain(binding.value);
    }
    return command;
  }

  // PostgreSQL endpoints each get a line of the PGPASSFILE, MySQL ones a
  // group of the option file; an endpoint
  // whose kind reads an environment variable gets it, unless two endpoints
  // of the command would need the same variable (the action then names its
  // own variables in `env`).
  void deliverCredentials(const std::vector<const sema::Endpoint*>& endpoints,
                          graph::Command& command) {
    std::map<std::string, std::set<const sema::Secret*>> byVariable;
    for (const sema::Endpoint* endpoint : endpoints) {
      if (!endpoint->secret || !endpoint->kind) continue;
      const sema::Credentials& credentials = endpoint->kind->credentials;
      if (credentials.delivery == sema::Credentials::Delivery::Env) {
        byVariable[credentials.variable].insert(endpoint->secret);
      }
    }
    for (const sema::Endpoint* endpoint : endpoints) {
      if (!endpoint->secret || !endpoint->kind) continue;
      const sema::Credentials& credentials = endpoint->kind->credentials;
      graph::SecretDelivery delivery;
      delivery.secret = endpoint->secret->name;
      if (credentials.delivery == sema::Credentials::Delivery::Pgpass) {
        auto field = [&](const char* name) {
          auto it = endpoint->text.find(name);
          return it == endpoint->text.end() ? std::string("*") : it->second;
        };
        delivery.via = graph::SecretDelivery::Via::Pgpass;
        delivery.endpoint = endpoint->name;
        delivery.host = field("host");
        delivery.port = field("port");
        // A password belongs to a role of the server, not to one of its
        // databases; and a pooler's admin console is a database of its own
        // ("pgbouncer"), not the pooled one its endpoint names.
        delivery.database = "*";
        delivery.user = field("user");
        command.secrets.push_back(std::move(delivery));
      } else if (credentials.delivery == sema::Credentials::Delivery::OptionFile) {
        delivery.via = graph::SecretDelivery::Via::OptionFile;
        delivery.endpoint = endpoint->name;
        command.secrets.push_back(std::move(delivery));
      } else if (credentials.delivery == sema::Credentials::Delivery::Env &&
                 byVariable[credentials.variable].size() == 1) {
        delivery.via = graph::SecretDelivery::Via::Env;
        delivery.variable = credentials.variable;
        bool already = std::any_of(command.secrets.begin(), command.secrets.end(),
                                   [&](const graph::SecretDelivery& d) {
                                     return d.via == graph::SecretDelivery::Via::Env &&
                                            d.variable == delivery.variable;
                                   });
        if (!already) command.secrets.push_back(std::move(delivery));
      }
    }
  }

  const sema::Plan& plan_;
  const source::SourceManager& sources_;
};

}  // namespace

std::string externalCommandOf(std::string_view script) {
  static const std::set<std::string_view> kBuiltins = {
      "[",      "[[",    ":",     "!",      "{",       "(",      "alias", "break",  "case",
      "cd",     "command", "continue", "declare", "do", "done",  "echo",  "elif",   "else",
      "esac",   "eval",  "exec",  "exit",   "export",  "false",  "fi",    "for",    "function",
      "if",     "let",   "local", "printf", "pwd",     "read",   "readonly", "return", "set",
      "shift",  "source", "test", "then",   "time",    "trap",   "true",  "type",   "ulimit",
      "umask",  "unset", "until", "wait",   "while",   "."};
  size_t i = 0;
  while (true) {
    while (i < script.size() && std::isspace(static_cast<unsigned char>(script[i]))) ++i;
    size_t start = i;
    while (i < script.size() && !std::isspace(static_cast<unsigned char>(script[i])) &&
           script[i] != ';' && script[i] != '|' && script[i] != '&') {
      ++i;
    }
    std::string_view word = script.substr(start, i - start);
    if (word.empty()) return "";
    // Leading VAR=value assignments belong to the command that follows.
    size_t equals = word.find('=');
    if (equals != std::string_view::npos && equals > 0 &&
        std::all_of(word.begin(), word.begin() + equals, [](char c) {
          return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
        })) {
      continue;
    }
    if (kBuiltins.count(word)) return "";
    bool plainWord = std::all_of(word.begin(), word.end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) ||
             std::string_view("_-.+/").find(c) != std::string_view::npos;
    });
    return plainWord ? std::string(word) : "";
  }
}

graph::Graph lowerPlan(const sema::Plan& plan, const source::SourceManager& sources) {
  return Lowerer(plan, sources).lower();
}

}  // namespace mig::lower
