#include "compiler/sema/lint.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>

#include "compiler/sema/addresses.h"
#include "compiler/sema/modules.h"
#include "compiler/units/units.h"

namespace mig::sema {
namespace {

using diag::Rule;

constexpr int64_t kMinimumRetentionMs = 48LL * 3600 * 1000;

// Dependencies of a step inside its own phase (earlier phases are ordered
// by the phase barriers; later ones are errors reported elsewhere).
std::vector<const Dependency*> samePhaseDependencies(const Step& step) {
  std::vector<const Dependency*> deps;
  for (const auto* list : {&step.after, &step.dataFlow}) {
    for (const Dependency& dep : *list) {
      if (dep.step->phase == step.phase) deps.push_back(&dep);
    }
  }
  return deps;
}

bool refersTo(const Call& call, const Endpoint* endpoint) {
  for (const auto& [name, value] : call.args) {
    if (value.tag == Value::Tag::Ref && value.ref.endpoint == endpoint &&
        value.ref.to == Ref::To::Endpoint) {
      return true;
    }
  }
  return false;
}

// The endpoint a copy, restore or sync writes: its `to` or its `db` (every
// stdlib module names them so). A copy *from* a target does not write it.
const Endpoint* writtenEndpoint(const Call& call) {
  const Action* action = call.action;
  if (action == nullptr || action->effect != Effect::Write) return nullptr;
  const std::string& name = action->name;
  if (name == "copy" || name == "sync") return endpointArgument(call, "to");
  if (name == "restore") return endpointArgument(call, "db");
  return nullptr;
}

// A module's sync that has a cutover to end it (postgres, redis): the
// cutover, or null.
const Action* cutoverOf(const Action* sync) {
  if (sync == nullptr || sync->name != "sync" || sync->declaredIn == nullptr) return nullptr;
  return sync->declaredIn->action("cutover");
}

std::string endpointName(const Endpoint* endpoint) {
  return endpoint ? endpoint->name : std::string("?");
}

// The kinds std/acl's `verify(target: postgres|redis|mysql)` accepts.
bool aclVerifyChecks(const EndpointKind& kind) {
  return (kind.module == "postgres" && kind.name == "postgres") ||
         (kind.module == "redis" && kind.name == "redis") ||
         (kind.module == "mysql" && kind.name == "mysql");
}

bool isWordBreak(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == ';' || c == '&' || c == '|' || c == '(' ||
         c == ')' || c == '`' || c == '{' || c == '}';
}

// Where `text` runs ssh or scp as a command (`ssh host cmd`, `x && scp a b:`,
// `sudo -u deploy ssh ...`, `$(ssh ...)`): the offset and length of that
// word, or nullopt. An `ssh` that is an argument (`systemctl restart ssh`)
// is not one.
std::optional<std::pair<size_t, size_t>> remoteCommandWord(std::string_view text) {
  bool commandPosition = true;
  bool optionArgument = false;  // the word after `sudo -u`: still before the command
  size_t i = 0;
  while (i < text.size()) {
    char c = text[i];
    if (c == ' ' || c == '\t') {
      ++i;
      continue;
    }
    if (isWordBreak(c)) {
      commandPosition = c != ')' && c != '}';
      optionArgument = false;
      ++i;
      continue;
    }
    size_t start = i;
    while (i < text.size() && !isWordBreak(text[i])) ++i;
    std::string_view word = text.substr(start, i - start);
    if (!commandPosition) continue;
    if (optionArgument) {
      optionArgument = false;
      continue;
    }
    std::string_view program =
        word.substr(word.rfind('/') == std::string_view::npos ? 0 : word.rfind('/') + 1);
    if (program == "ssh" || program == "scp" || program == "sftp") {
      return std::pair{start, word.size()};
    }
    // Words after which the next word is still a command.
    static constexpr std::string_view kPrefixes[] = {"sudo",  "exec",  "env", "command", "time",
                                                     "nohup", "then",  "do",  "else",    "if",
                                                     "while", "until", "!"};
    bool prefix =
        std::find(std::begin(kPrefixes), std::end(kPrefixes), word) != std::end(kPrefixes);
    bool assignment = word.find('=') != std::string_view::npos && word.front() != '=';
    bool option = word.front() == '-';
    // sudo's options that take a value: -u USER, -g GROUP, -C N, -D DIR ...
    static constexpr std::string_view kOptionsWithValue[] = {"-u", "-g", "-C", "-D", "-h",
                                                             "-p", "-r", "-t", "-T", "-U"};
    optionArgument = std::find(std::begin(kOptionsWithValue), std::end(kOptionsWithValue), word) !=
                     std::end(kOptionsWithValue);
    commandPosition = prefix || assignment || option;
  }
  return std::nullopt;
}

class Linter {
 public:
  Linter(const Plan& plan, const Usage& usage, diag::DiagnosticEngine& diags)
      : plan_(plan), usage_(usage), diags_(diags) {}

  void run() {
    checkDependencies();
    checkAcls();
    checkSwitchoverWindow();
    checkReversibility();
    checkSyncsAreCutOver();
    checkCutoverWindows();
    checkCopiesOfSyncedTargets();
    checkParity();
    checkRetention();
    checkVerification();
    checkWindowLengths();
    checkUnused();
    checkSameSourceTarget();
    checkHostKeys();
    checkRemoteByHand();
  }

 private:
  void checkDependencies() {
    for (const auto& step : plan_.steps) {
      for (const auto* list : {&step->after, &step->dataFlow}) {
        for (const Dependency& dep : *list) {
          if (dep.step->phase->kind <= step->phase->kind) continue;
          auto& d = diags_.report(
              Rule::AfterLaterPhase, dep.range,
              fmt::format("step '{}' ({}) cannot {} step '{}' of the later phase {}", step->name,
                          phaseName(step->phase->kind),
                          dep.explicitAfter ? "run after" : "use a value of", dep.step->name,
                          phaseName(dep.step->phase->kind)));
          d.notes.push_back({dep.step->nameRange, fmt::format("'{}' is declared here", dep.step->name)});
          d.fix = diag::FixHint{"phases run in runbook order: move one of the steps, or drop the "
                                "dependency",
                                dep.range, std::nullopt};
        }
      }
    }
    for (const auto& phase : plan_.phases) findCycles(*phase);
  }

  // Iterative depth-first search (plans may hold long chains); each cycle
  // found is reported once, at one of its `after`s.
  void findCycles(const Phase& phase) {
    enum class Mark { New, Active, Done };
    std::map<const Step*, Mark> marks;
    std::set<std::set<const Step*>> reported;
    for (const Step* root : phase.steps) {
      if (marks[root] != Mark::New) continue;
      struct Frame {
        const Step* step;
        std::vector<const Dependency*> deps;
        size_t next = 0;
      };
      std::vector<Frame> stack;
      stack.push_back({root, samePhaseDependencies(*root)});
      marks[root] = Mark::Active;
      while (!stack.empty()) {
        Frame& frame = stack.back();
        if (frame.next == frame.deps.size()) {
          marks[frame.step] = Mark::Done;
          stack.pop_back();
          continue;
        }
        const Dependency* dep = frame.deps[frame.next++];
        Mark mark = marks[dep->step];
        if (mark == Mark::New) {
          marks[dep->step] = Mark::Active;
          stack.push_back({dep->step, samePhaseDependencies(*dep->step)});
          continue;
        }
        if (mark != Mark::Active) continue;
        // A back edge: the cycle is the stack from dep->step to here.
        std::vector<const Dependency*> edges;
        size_t start = 0;
        while (stack[start].step != dep->step) ++start;
        for (size_t i = start; i < stack.size(); ++i) {
          edges.push_back(i + 1 < stack.size() ? stack[i].deps[stack[i].next - 1] : dep);
        }
        std::set<const Step*> members;
        for (size_t i = start; i < stack.size(); ++i) members.insert(stack[i].step);
        if (reported.insert(members).second) reportCycle(stack, start, edges);
      }
    }
  }

  template <typename Frames>
  void reportCycle(const Frames& stack, size_t start, const std::vector<const Dependency*>& edges) {
    std::string path;
    for (size_t i = start; i < stack.size(); ++i) path += stack[i].step->name + " -> ";
    path += stack[start].step->name;
    auto primary = std::find_if(edges.begin(), edges.end(),
                                [](const Dependency* e) { return e->explicitAfter; });
    if (primary == edges.end()) primary = edges.begin();
    std::string message =
        edges.size() == 1
            ? fmt::format("step '{}' waits for itself: it can never start", stack[start].step->name)
            : fmt::format("steps wait for each other in a cycle: {} (-> reads 'waits for')", path);
    auto& d = diags_.report(Rule::DependencyCycle, (*primary)->range, message);
    for (const Dependency* edge : edges) {
      if (edge == *primary) continue;
      d.notes.push_back({edge->range, edge->explicitAfter ? "the cycle continues here"
                                                          : "the cycle continues through this "
                                                            "data flow"});
    }
    d.fix = diag::FixHint{(*primary)->explicitAfter
                              ? (edges.size() == 1 ? "remove this `after`"
                                                   : "remove one `after` of the cycle")
                              : "break the cycle: drop one of its references to another step's "
                                "arguments",
                          (*primary)->range, std::nullopt};
  }

  void checkAcls() {
    for (const auto& endpoint : plan_.endpoints) {
      if (!endpoint->isTarget() || endpoint->acl) continue;
      auto& d = diags_.report(Rule::AclMissing, endpoint->nameRange,
                              fmt::format("target '{}' has no ACL: nothing says which machines "
                                          "may reach it",
                                          endpoint->name));
      d.fix = diag::FixHint{
          fmt::format("add `acl {} {{ allow \"10.0.0.0/24\" \"app servers\" }}`", endpoint->name),
          endpoint->nameRange, std::nullopt};
    }
    const Phase* testing = plan_.phase(PhaseKind::Testing);
    for (const auto& acl : plan_.acls) {
      for (const AclEntry& entry : acl->entries) {
        std::string error;
        auto network = parseNetwork(entry.address, error);
        if (!network || !network->isEverything()) continue;
        auto& d = diags_.report(Rule::AclTooOpen, entry.range,
                                fmt::format("'{}' lets every address on the internet reach "
                                            "target '{}'",
                                            entry.address, acl->target->name));
        d.fix = diag::FixHint{"allow the application's own networks and hosts instead",
                              entry.addressRange, std::nullopt};
      }
      bool verified = testing && std::any_of(testing->steps.begin(), testing->steps.end(),
                                             [&](const Step* step) {
                                               return step->run.action &&
                                                      step->effect() == Effect::Acl &&
                                                      refersTo(step->run, acl->target);
                                             });
      if (verified) continue;
      auto& d = diags_.report(Rule::AclNotVerified, acl->header,
                              fmt::format("no testing step verifies the ACL of target '{}'",
                                          acl->target->name));
      const EndpointKind* kind = acl->target->kind;
      if (kind && !aclVerifyChecks(*kind)) {
        d.fix = diag::FixHint{
            fmt::format(
                "acl.verify checks postgres, redis and mysql targets; for this {} target, add a "
                "testing step whose action has `effect acl` and checks what the target "
                "enforces (an action of your own module)",
                kind->name),
            acl->header, std::nullopt};
        continue;
      }
      d.fix = diag::FixHint{fmt::format("add `step acl_check = acl.verify(target: {})` to the "
                                        "testing phase",
                                        acl->target->name),
                            acl->header, std::nullopt};
    }
  }

  void checkSwitchoverWindow() {
    const Phase* switchover = plan_.phase(PhaseKind::Switchover);
    // A `window` that names no window is an error already; it still binds.
    if (switchover == nullptr || switchover->window || switchover->windowRange.valid()) return;
    std::vector<const Step*> unbound;
    for (const Step* step : switchover->steps) {
      if (step->window == nullptr && !step->windowRange.valid()) unbound.push_back(step);
    }
    if (unbound.empty() && !switchover->steps.empty()) return;
    if (unbound.size() == switchover->steps.size()) {
      auto& d = diags_.report(Rule::SwitchoverOutsideWindow, switchover->header,
                              "the switchover phase is bound to no maintenance window: it would "
                              "cut over whenever the run reaches it");
      d.fix = diag::FixHint{"declare a window and add `window NAME` to the phase",
                            switchover->header, std::nullopt};
      return;
    }
    for (const Step* step : unbound) {
      auto& d = diags_.report(Rule::SwitchoverOutsideWindow, step->nameRange,
                              fmt::format("switchover step '{}' is bound to no maintenance window",
                                          step->name));
      d.fix = diag::FixHint{"add `window NAME` to the step or to the phase", step->nameRange,
                            std::nullopt};
    }
  }

  void checkReversibility() {
    for (const auto& step : plan_.steps) {
      PhaseKind kind = step->phase->kind;
      if (kind != PhaseKind::Migration && kind != PhaseKind::Switchover) continue;
      if (!step->run.action || step->effect() != Effect::Write || step->undo) continue;
      const Step* undoing = undoingStep(plan_, *step);
      if (undoing && undoing->undo) continue;
      const Action& action = *step->run.action;
      auto& d = diags_.report(Rule::IrreversibleStep, step->nameRange,
                              fmt::format("{} step '{}' changes something ({}) and has no undo: a "
                                          "rollback cannot reverse it",
                                          phaseName(kind), step->name, action.qualifiedName()));
      d.fix = diag::FixHint{undoHint(*step, undoing), step->nameRange, std::nullopt};
    }
  }

  static std::string undoHint(const Step& step, const Step* undoing) {
    const Action& action = *step.run.action;
    if (undoing) {
      return fmt::format(
          "{} is undone by the undo of step '{}' ({}), which has none: give that step an `undo`",
          action.qualifiedName(), undoing->name, undoing->run.action->qualifiedName());
    }
    const Endpoint* written = writtenEndpoint(step.run);
    if (cutoverOf(&action) && action.declaredIn->action("unsync")) {
      return fmt::format("add an `undo` that reverses it, like `undo {}.unsync(from: {}, to: {})`",
                         action.module, endpointName(endpointArgument(step.run, "from")),
                         endpointName(written));
    }
    if (written && !action.module.empty()) {
      return fmt::format("add an `undo` that reverses it, like `undo {}.wipe(db: {})`",
                         action.module, written->name);
    }
    if (action.module == "shell") {
      return "add an `undo` with the command that reverses it, like `undo sh(\"...\")`";
    }
    return "add an `undo` that reverses it";
  }

  // A sync leaves its target a replica of its source until the module's
  // cutover, in the switchover phase, ends the replication.
  void checkSyncsAreCutOver() {
    for (const auto& step : plan_.steps) {
      const Action* cutover = cutoverOf(step->run.action);
      const Endpoint* from = endpointArgument(step->run, "from");
      const Endpoint* to = endpointArgument(step->run, "to");
      if (cutover == nullptr || from == nullptr || to == nullptr) continue;
      const Step* elsewhere = nullptr;
      bool cutOver = false;
      for (const auto& other : plan_.steps) {
        if (other->run.action != cutover || !sameEndpoints(step->run, other->run)) continue;
        if (other->phase->kind == PhaseKind::Switchover) {
          cutOver = true;
        } else if (elsewhere == nullptr) {
          elsewhere = other.get();
        }
      }
      if (cutOver) continue;
      std::string cutoverCall =
          fmt::format("{}(from: {}, to: {})", cutover->qualifiedName(), from->name, to->name);
      auto& d = diags_.report(Rule::SyncWithoutCutover, step->run.range,
                              fmt::format("step '{}' keeps '{}' a replica of '{}' ({}), but no "
                                          "switchover step ends the replication with {}",
                                          step->name, to->name, from->name,
                                          step->run.action->qualifiedName(), cutoverCall));
      if (elsewhere) {
        d.notes.push_back(
            {elsewhere->nameRange, fmt::format("a cutover of the same endpoints is in the {} phase",
                                               phaseName(elsewhere->phase->kind))});
      }
      d.fix = diag::FixHint{fmt::format("add `step cutover = {}` to the switchover phase, after "
                                        "the step that holds the application's writes",
                                        cutoverCall),
                            step->run.range, std::nullopt};
    }
  }

  void checkCutoverWindows() {
    for (const auto& step : plan_.steps) {
      const Action* action = step->run.action;
      if (action == nullptr || action->name != "cutover") continue;
      // A `window` that names no window is an error already; it still binds.
      bool bound =
          step->effectiveWindow() || step->windowRange.valid() || step->phase->windowRange.valid();
      PhaseKind kind = step->phase->kind;
      if (kind == PhaseKind::Switchover && bound) continue;
      if (kind != PhaseKind::Switchover) {
        auto& d = diags_.report(Rule::CutoverOutsideWindow, step->nameRange,
                                fmt::format("step '{}' cuts over ({}) in the {} phase: a cutover "
                                            "belongs in the switchover phase, in its maintenance "
                                            "window",
                                            step->name, action->qualifiedName(), phaseName(kind)));
        d.fix = diag::FixHint{
            "move the step to the switchover phase, after the step that holds the application's "
            "writes",
            step->nameRange, std::nullopt};
        continue;
      }
      auto& d = diags_.report(Rule::CutoverOutsideWindow, step->nameRange,
                              fmt::format("switchover step '{}' cuts over ({}) outside any "
                                          "maintenance window: it would cut over whenever the "
                                          "run reaches it",
                                          step->name, action->qualifiedName()));
      d.fix = diag::FixHint{"add `window NAME` to the step or to the phase", step->nameRange,
                            std::nullopt};
    }
  }

  // A full copy in the window of a target that a sync keeps current.
  void checkCopiesOfSyncedTargets() {
    const Phase* switchover = plan_.phase(PhaseKind::Switchover);
    if (switchover == nullptr) return;
    for (const Step* copy : switchover->steps) {
      const Action* action = copy->run.action;
      if (action == nullptr || action->name == "sync") continue;
      const Endpoint* target = writtenEndpoint(copy->run);
      if (target == nullptr) continue;
      for (const auto& sync : plan_.steps) {
        if (!calls(sync->run, action->module, "sync") ||
            endpointArgument(sync->run, "to") != target) {
          continue;
        }
        const Endpoint* source = endpointArgument(sync->run, "from");
        auto& d = diags_.report(
            Rule::CopyAfterSync, copy->run.range,
            fmt::format("switchover step '{}' replaces all of '{}' ({}), which step '{}' keeps in "
                        "sync: the copy throws the live replica away and makes the window as long "
                        "as a full copy",
                        copy->name, target->name, action->qualifiedName(), sync->name));
        d.notes.push_back({sync->nameRange, fmt::format("'{}' is kept in sync with '{}' here",
                                                        target->name, endpointName(source))});
        std::string hint = "drop this step";
        if (const Action* cutover = cutoverOf(sync->run.action)) {
          hint = fmt::format("drop this step: {}(from: {}, to: {}) ends the sync in the window",
                             cutover->qualifiedName(), endpointName(source), target->name);
        }
        d.fix = diag::FixHint{hint, copy->run.range, std::nullopt};
        break;
      }
    }
  }

  void checkParity() {
    for (const auto& target : plan_.endpoints) {
      if (!target->isTarget()) continue;
      const Step* writer = nullptr;
      for (const auto& step : plan_.steps) {
        if (writtenEndpoint(step->run) == target.get()) {
          writer = step.get();
          break;
        }
      }
      if (writer == nullptr) continue;
      bool compared = false;
      for (PhaseKind kind : {PhaseKind::Testing, PhaseKind::Switchover}) {
        const Phase* phase = plan_.phase(kind);
        if (phase == nullptr) continue;
        for (const Step* step : phase->steps) {
          if (step->run.action && step->effect() == Effect::Compare &&
              refersTo(step->run, target.get())) {
            compared = true;
          }
        }
      }
      if (compared) continue;
      auto& d = diags_.report(Rule::ParityUnchecked, target->nameRange,
                              fmt::format("target '{}' is written by step '{}' but nothing "
                                          "compares it with its source before or during "
                                          "switchover",
                                          target->name, writer->name));
      d.notes.push_back({writer->nameRange, "written here"});
      d.fix = diag::FixHint{
          fmt::format("add a compare step in testing or switchover, like "
                      "`{}.compare(a: SOURCE, b: {})`",
                      writer->run.action->module, target->name),
          target->nameRange, std::nullopt};
    }
  }

  void checkRetention() {
    if (!plan_.retainMs) {
      auto& d = diags_.report(Rule::RetentionMissing, plan_.nameRange,
                              fmt::format("plan '{}' does not say how long the old environment "
                                          "is kept after switchover",
                                          plan_.name));
      d.fix = diag::FixHint{"add `retain 72h` (at least 48h)", plan_.nameRange, std::nullopt};
      return;
    }
    if (*plan_.retainMs >= kMinimumRetentionMs) return;
    // In hours, to compare with the 48h the runbook asks for (24h, not 1d).
    int64_t retainMs = *plan_.retainMs;
    std::string kept = retainMs % 3'600'000 == 0 ? fmt::format("{}h", retainMs / 3'600'000)
                                                 : units::formatDuration(retainMs);
    auto& d = diags_.report(Rule::RetentionTooShort, plan_.retainRange,
                            fmt::format("the old environment is kept only {} after switchover; "
                                        "keep it at least 48h to be able to roll back",
                                        kept));
    d.fix = diag::FixHint{"retain 48h or more", plan_.retainRange, std::string("48h")};
  }

  void checkVerification() {
    const Phase* verification = plan_.phase(PhaseKind::Verification);
    if (verification && !verification->steps.empty()) return;
    auto& d = diags_.report(Rule::VerificationMissing, plan_.nameRange,
                            verification ? fmt::format("plan '{}' has an empty verification "
                                                       "phase: nothing checks the application "
                                                       "after switchover",
                                                       plan_.name)
                                         : fmt::format("plan '{}' has no verification phase: "
                                                       "nothing checks the application after "
                                                       "switchover",
                                                       plan_.name));
    d.fix = diag::FixHint{
        verification
            ? "add a step to it, like `step health = sh(\"curl -fsS https://.../health\")`"
            : "add `phase verification { step health = sh(\"curl -fsS https://.../health\") }`",
        plan_.nameRange, std::nullopt};
  }

  static int64_t plannedMs(const Step& step) {
    if (step.timeoutMs) return *step.timeoutMs;
    if (step.estimateMs) return *step.estimateMs;
    return 0;
  }

  void checkWindowLengths() {
    for (const auto& phase : plan_.phases) {
      auto order = orderWithinPhase(*phase);
      if (!order) continue;  // a cycle, reported already
      std::map<const Window*, std::vector<const Step*>> byWindow;
      for (const Step* step : *order) {
        if (const Window* window = step->effectiveWindow()) byWindow[window].push_back(step);
      }
      for (const auto& [window, steps] : byWindow) {
        if (window->lengthMs <= 0) continue;
        // Longest chain through the steps bound to this window.
        std::map<const Step*, std::pair<int64_t, const Step*>> finish;
        const Step* last = nullptr;
        for (const Step* step : steps) {
          int64_t start = 0;
          const Step* via = nullptr;
          for (const Dependency* dep : samePhaseDependencies(*step)) {
            auto it = finish.find(dep->step);
            if (it != finish.end() && it->second.first > start) {
              start = it->second.first;
              via = dep->step;
            }
          }
          finish[step] = {start + plannedMs(*step), via};
          if (last == nullptr || finish[step].first > finish[last].first) last = step;
        }
        int64_t needed = finish[last].first;
        if (needed <= window->lengthMs) continue;
        std::vector<std::string> chain;
        for (const Step* s = last; s; s = finish[s].second) {
          chain.push_back(fmt::format("{} {}", s->name, units::formatDuration(plannedMs(*s))));
        }
        std::reverse(chain.begin(), chain.end());
        Range at = phase->window == window ? phase->windowRange : steps.front()->windowRange;
        auto& d = diags_.report(Rule::WindowTooShort, at,
                                fmt::format("the steps bound to window '{}' may need {} ({}), "
                                            "longer than its {}",
                                            window->name, units::formatDuration(needed),
                                            fmt::join(chain, " -> "),
                                            units::formatDuration(window->lengthMs)));
        d.notes.push_back({window->nameRange, "the window is declared here"});
        d.fix = diag::FixHint{"lengthen the window, or move steps out of it", at, std::nullopt};
      }
    }
  }

  void checkUnused() {
    for (const auto& secret : plan_.secrets) {
      if (usage_.secrets.count(secret.get())) continue;
      auto& d = diags_.report(Rule::UnusedDeclaration, secret->nameRange,
                              fmt::format("secret '{}' is never used", secret->name));
      d.fix = diag::FixHint{"give it to an endpoint's password, or remove it", secret->nameRange,
                            std::nullopt};
    }
    for (const auto& endpoint : plan_.endpoints) {
      if (usage_.endpoints.count(endpoint.get())) continue;
      auto& d = diags_.report(Rule::UnusedDeclaration, endpoint->nameRange,
                              fmt::format("{} '{}' is never used by a step",
                                          endpointRoleName(endpoint->role), endpoint->name));
      d.fix = diag::FixHint{"name it in a step's action, or remove it", endpoint->nameRange,
                            std::nullopt};
    }
    for (const auto& window : plan_.windows) {
      if (usage_.windows.count(window.get())) continue;
      auto& d = diags_.report(Rule::UnusedDeclaration, window->nameRange,
                              fmt::format("window '{}' is never used", window->name));
      d.fix = diag::FixHint{fmt::format("bind it with `window {}` in a phase or step", window->name),
                            window->nameRange, std::nullopt};
    }
    for (const auto& host : plan_.hosts) {
      if (usage_.hosts.count(host.get())) continue;
      auto& d = diags_.report(Rule::UnusedDeclaration, host->nameRange,
                              fmt::format("host '{}' is never used", host->name));
      d.fix =
          diag::FixHint{fmt::format("run steps there with `on {}` in a phase or step", host->name),
                        host->nameRange, std::nullopt};
    }
  }

  void checkHostKeys() {
    for (const auto& host : plan_.hosts) {
      if (host->keyPinned()) continue;
      auto& d = diags_.report(
          Rule::HostKeyUnpinned, host->header,
          fmt::format("host '{}' has no known_hosts or host_key: its key is checked against the "
                      "runner's own ~/.ssh/known_hosts, which differs from machine to machine",
                      host->name));
      d.fix = diag::FixHint{"add `known_hosts \"PATH\"` or `host_key \"ssh-ed25519 AAAA...\"`",
                            host->header, std::nullopt};
    }
  }

  void checkRemoteByHand() {
    for (const auto& step : plan_.steps) {
      for (const Call* call : {&step->run, step->undo ? &*step->undo : nullptr,
                               step->check ? &*step->check : nullptr}) {
        if (call == nullptr || call->action == nullptr) continue;
        for (const auto& [name, value] : call->args) {
          if (value.tag == Value::Tag::String && value.text.command) checkRemoteByHand(value.text);
        }
      }
    }
  }

  // Interpolations count as one plain word each: `${host}` cannot be ssh.
  void checkRemoteByHand(const Template& command) {
    std::string text;
    std::vector<std::pair<size_t, const Template::Part*>> starts;
    for (const Template::Part& part : command.parts) {
      starts.emplace_back(text.size(), &part);
      text += part.ref ? std::string("value") : part.text;
    }
    auto found = remoteCommandWord(text);
    if (!found) return;
    const Template::Part* part = nullptr;
    size_t partStart = 0;
    for (const auto& [offset, candidate] : starts) {
      if (offset > found->first) break;
      part = candidate;
      partStart = offset;
    }
    if (part == nullptr) return;
    std::string word = text.substr(found->first, found->second);
    // The literal run's range covers its text one to one unless it held
    // escapes; then the whole run is shown.
    Range range = part->range;
    if (!part->ref && range.end - range.begin == part->text.size()) {
      range.begin += static_cast<uint32_t>(found->first - partStart);
      range.end = range.begin + static_cast<uint32_t>(word.size());
    }
    auto& d = diags_.report(
        Rule::RemoteByHand, range,
        fmt::format("this command runs {} itself: the remote shell parses the command again, so "
                    "interpolated values are no longer one word there, and secrets, timeouts "
                    "and host keys escape mig",
                    word));
    d.fix = diag::FixHint{
        "declare the machine as a `host` and give the step `on HOST` with the "
        "command alone",
        range, std::nullopt};
  }

  // Host, port and database (or the URL when there is no host) identify a
  // server's data; loopback names count as one.
  static std::string identity(const Endpoint& endpoint) {
    auto text = [&](const char* field) {
      auto it = endpoint.text.find(field);
      return it == endpoint.text.end() ? std::string() : it->second;
    };
    std::string host = text("host");
    std::transform(host.begin(), host.end(), host.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (host == "127.0.0.1" || host == "::1" || host == "localhost") host = "localhost";
    if (host.empty()) return text("url");
    return fmt::format("{}|{}|{}|{}", host, text("port"), text("database"), text("db"));
  }

  void checkSameSourceTarget() {
    for (const auto& target : plan_.endpoints) {
      if (!target->isTarget() || target->kind == nullptr) continue;
      std::string id = identity(*target);
      if (id.empty() || id == "|||") continue;
      for (const auto& source : plan_.endpoints) {
        if (!source->isSource() || source->kind != target->kind || identity(*source) != id) continue;
        auto& d = diags_.report(Rule::SameSourceTarget, target->nameRange,
                                fmt::format("target '{}' is the same server and database as "
                                            "source '{}': a copy would overwrite the source",
                                            target->name, source->name));
        d.notes.push_back({source->nameRange, "the source is declared here"});
        d.fix = diag::FixHint{"point the target at the new server (its host, port and database)",
                              target->nameRange, std::nullopt};
        break;
      }
    }
  }

  const Plan& plan_;
  const Usage& usage_;
  diag::DiagnosticEngine& diags_;
};

}  // namespace

std::optional<std::vector<const Step*>> orderWithinPhase(const Phase& phase) {
  // Kahn's algorithm, stable in source order.
  std::map<const Step*, size_t> waiting;
  std::map<const Step*, std::vector<const Step*>> dependents;
  for (const Step* step : phase.steps) {
    std::set<const Step*> distinct;
    for (const Dependency* dep : samePhaseDependencies(*step)) distinct.insert(dep->step);
    waiting[step] = distinct.size();
    for (const Step* dep : distinct) dependents[dep].push_back(step);
  }
  std::vector<const Step*> order;
  std::vector<const Step*> ready;
  for (const Step* step : phase.steps) {
    if (waiting[step] == 0) ready.push_back(step);
  }
  for (size_t i = 0; i < ready.size(); ++i) {
    order.push_back(ready[i]);
    for (const Step* next : dependents[ready[i]]) {
      if (--waiting[next] == 0) ready.push_back(next);
    }
  }
  if (order.size() != phase.steps.size()) return std::nullopt;
  return order;
}

void lintPlan(const Plan& plan, const Usage& usage, diag::DiagnosticEngine& diags) {
  Linter(plan, usage, diags).run();
}

}  // namespace mig::sema
