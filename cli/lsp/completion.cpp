#include <fmt/format.h>

#include <algorithm>

#include "cli/lsp/cursor.h"
#include "cli/lsp/features.h"
#include "cli/lsp/lookup.h"
#include "cli/lsp/reference_docs.h"
#include "compiler/window/window.h"
#include "stdlib/embedded.h"

namespace mig::cli::lsp {
namespace {

// LSP's CompletionItemKind.
enum ItemKind : int {
  kFunction = 3,
  kField = 5,
  kVariable = 6,
  kModule = 9,
  kProperty = 10,
  kValue = 12,
  kKeyword = 14,
  kEnumMember = 20,
  kStruct = 22,
  kEvent = 23,
};

// The attributes and blocks each plan block takes, as sema checks them
// (compiler/sema/checker.cpp). Endpoint blocks take their kind's fields.
struct BlockAttributes {
  std::string_view keyword;
  std::vector<std::string_view> names;
};
const std::vector<BlockAttributes>& blockAttributes() {
  static const std::vector<BlockAttributes> table = {
      {"", {"import", "module", "plan", "kind", "action"}},
      {"plan",
       {"title", "owner", "description", "retain", "facts", "secret", "source", "target",
        "endpoint", "acl", "window", "host", "phase"}},
      {"facts",
       {"location", "languages", "frameworks", "drivers", "connections", "model", "access_patterns",
        "size", "growth", "pains", "downtime", "schedule", "notes"}},
      {"secret", {"from"}},
      {"acl", {"allow"}},
      {"window", {"days", "start", "length", "timezone", "at"}},
      {"host", {"address", "port", "user", "identity", "known_hosts", "host_key", "jump"}},
      {"phase", {"window", "on_window_end", "on", "step"}},
      {"step",
       {"do", "undo", "check", "after", "timeout", "retry", "delay", "estimate", "idempotent",
        "window", "on_window_end", "on", "description"}},
      {"action", {"requires", "effect", "run", "recover", "env", "undone_with"}},
  };
  return table;
}

class Completer {
 public:
  Completer(const Document& document, uint32_t offset)
      : document_(document), offset_(offset), context_(cursorContext(document.text(), offset)) {}

  nlohmann::json run() {
    using Where = CursorContext::Where;
    switch (context_.where) {
      case Where::Comment:
        break;
      case Where::String:
        inString();
        break;
      case Where::Interpolation:
        if (!dotted()) {
          endpoints();
          steps();
        }
        break;
      case Where::Code:
        inCode();
        break;
    }
    return {{"isIncomplete", false}, {"items", std::move(items_)}};
  }

 private:
  void inString() {
    const std::vector<std::string>& words = context_.itemWords;
    if (words.empty() || !context_.callee.empty()) return;
    if (words[0] == "timezone") {
      for (const std::string& zone : timeZones()) {
        add(zone, kValue, "", replacing(context_.stringBegin, zone));
      }
    }
    if (words[0] == "import") {
      for (const auto& module : stdlib::embeddedModules()) {
        std::string path(module.importPath);
        add(path, kModule, "", replacing(context_.stringBegin, path));
      }
    }
  }

  void inCode() {
    if (!context_.callee.empty()) return inCall();
    if (dotted()) return;
    const std::vector<std::string>& words = context_.itemWords;
    const std::string block = context_.blockKeyword();
    if (words.empty()) return attributes(block);
    if (words.size() == 2 &&
        (words[0] == "source" || words[0] == "target" || words[0] == "endpoint")) {
      return kinds();
    }
    if (words.size() == 1 && words[0] == "acl" && block == "plan") return endpoints();
    if (words.size() == 3 && words[0] == "step" && words[2] == "=") return actions();
    if (words.size() != 1) return;
    valuesOf(block, words[0]);
  }

  void attributes(const std::string& block) {
    if (block == "source" || block == "target" || block == "endpoint") {
      const std::vector<std::string>& header = context_.blocks.back();
      const sema::EndpointKind* kind =
          header.size() >= 3 ? findKind(document_, header[2]) : nullptr;
      if (kind == nullptr) return;
      for (const sema::Field& field : kind->fields) {
        add(field.name, kField, field.type.name());
      }
      return;
    }
    for (const BlockAttributes& entry : blockAttributes()) {
      if (entry.keyword != block) continue;
      for (std::string_view name : entry.names) add(std::string(name), kKeyword);
    }
  }

  // The value of attribute `name` in `block`.
  void valuesOf(const std::string& block, const std::string& name) {
    if (block == "step" || block == "phase") {
      if (name == "do" || name == "undo" || name == "check") return actions();
      if (name == "after") return steps();
      if (name == "window") return declared(Declaration::Kind::Window, kEvent);
      if (name == "on_window_end") return symbols({"pause", "rollback"});
      if (name == "on") return declared(Declaration::Kind::Host, kVariable);
      if (name == "idempotent") return symbols({"true", "false"});
    }
    if (block == "host" && name == "jump") return declared(Declaration::Kind::Host, kVariable);
    if (block == "window") {
      if (name == "days") return symbols({"sun", "mon", "tue", "wed", "thu", "fri", "sat"});
      if (name == "timezone") {
        for (const std::string& zone : timeZones()) {
          add(zone, kValue, "", replacing(context_.wordBegin, fmt::format("\"{}\"", zone)));
        }
      }
      return;
    }
    if (block == "secret" && name == "from") return symbols({"env", "file"}, kFunction);
    if (block == "action" && name == "effect") return symbols({"read", "write", "compare", "acl"});
    if (block == "source" || block == "target" || block == "endpoint") {
      const std::vector<std::string>& header = context_.blocks.back();
      const sema::EndpointKind* kind =
          header.size() >= 3 ? findKind(document_, header[2]) : nullptr;
      const sema::Field* field = kind ? kind->field(name) : nullptr;
      if (field) valuesOfType(field->type);
    }
  }

  void valuesOfType(const sema::Type& type) {
    using Tag = sema::Type::Tag;
    switch (type.tag) {
      case Tag::OneOf: {
        std::vector<std::string_view> names(type.symbols.begin(), type.symbols.end());
        return symbols(names);
      }
      case Tag::Bool:
        return symbols({"true", "false"});
      case Tag::Secret:
        return declared(Declaration::Kind::Secret, kVariable);
      case Tag::Endpoint:
        for (const Declaration& d : document_.declarations()) {
          if (d.kind != Declaration::Kind::Endpoint) continue;
          const sema::EndpointKind* kind = findKind(document_, d.detail);
          if (kind && !type.acceptsKind(kind)) continue;
          add(d.name, kVariable, d.detail);
        }
        return;
      default:
        return;
    }
  }

  void inCall() {
    const sema::Action* action = findAction(document_, context_.callee);
    if (action == nullptr) return;
    if (context_.argument.empty()) {
      for (const sema::Parameter& param : action->params) {
        const auto& given = context_.givenArguments;
        if (std::find(given.begin(), given.end(), param.name) != given.end()) continue;
        nlohmann::json item = {{"label", param.name},
                               {"kind", kProperty},
                               {"detail", param.type.name()},
                               {"insertText", param.name + ": "}};
        items_.push_back(std::move(item));
      }
      return;
    }
    if (const sema::Parameter* param = action->param(context_.argument)) valuesOfType(param->type);
  }

  // `postgres.` -> the module's actions; `old_db.` -> the endpoint's fields.
  bool dotted() {
    size_t dot = context_.word.rfind('.');
    if (dot == std::string::npos) return false;
    std::string prefix = context_.word.substr(0, dot);
    if (const sema::Module* module = findModule(document_, prefix)) {
      for (const auto& action : module->actions) actionItem(*action);
      return true;
    }
    if (const sema::EndpointKind* kind = endpointKind(document_, prefix)) {
      for (const sema::Field& field : kind->fields) {
        add(field.name, kField, field.type.name(),
            replacing(context_.wordBegin, prefix + "." + field.name));
      }
      for (std::string_view pseudo : {"name", "kind", "acl"}) {
        add(std::string(pseudo), kField, "",
            replacing(context_.wordBegin, prefix + "." + std::string(pseudo)));
      }
      return true;
    }
    return true;  // after another dot nothing fits
  }

  void actions() {
    for (const auto& [name, module] : document_.scope().modules) {
      for (const auto& action : module->actions) actionItem(*action);
    }
  }

  void actionItem(const sema::Action& action) {
    std::string name = action.qualifiedName();
    nlohmann::json item = {
        {"label", name},
        {"kind", kFunction},
        {"detail", actionSignature(document_.sources(), action)},
        {"documentation",
         {{"kind", "markdown"}, {"value", actionMarkdown(document_.sources(), action)}}},
        {"textEdit", replacing(context_.wordBegin, name)}};
    items_.push_back(std::move(item));
  }

  void kinds() {
    for (const std::string& name : document_.scope().kindNames()) {
      const sema::EndpointKind* kind = findKind(document_, name);
      nlohmann::json item = {{"label", name}, {"kind", kStruct}};
      if (kind)
        item["documentation"] = {{"kind", "markdown"},
                                 {"value", kindMarkdown(document_.sources(), *kind)}};
      items_.push_back(std::move(item));
    }
  }

  void endpoints() { declared(Declaration::Kind::Endpoint, kVariable); }
  void steps() { declared(Declaration::Kind::Step, kFunction); }

  void declared(Declaration::Kind kind, ItemKind itemKind) {
    for (const Declaration& d : document_.declarations()) {
      if (d.kind == kind) add(d.name, itemKind, d.detail);
    }
  }

  void symbols(const std::vector<std::string_view>& names, ItemKind kind = kEnumMember) {
    for (std::string_view name : names) add(std::string(name), kind);
  }

  // A TextEdit putting `newText` in place of [begin, cursor).
  nlohmann::json replacing(uint32_t begin, const std::string& newText) const {
    return {{"range", document_.lines().rangeJson(begin, offset_)}, {"newText", newText}};
  }

  void add(const std::string& label, ItemKind kind, const std::string& detail = "",
           nlohmann::json textEdit = nullptr) {
    nlohmann::json item = {{"label", label}, {"kind", kind}};
    if (!detail.empty()) item["detail"] = detail;
    if (!textEdit.is_null()) item["textEdit"] = std::move(textEdit);
    items_.push_back(std::move(item));
  }

  static const std::vector<std::string>& timeZones() {
    static const std::vector<std::string> names = window::timezoneNames();
    return names;
  }

  const Document& document_;
  uint32_t offset_;
  CursorContext context_;
  nlohmann::json items_ = nlohmann::json::array();
};

}  // namespace

nlohmann::json completion(const Document& document, uint32_t offset) {
  return Completer(document, offset).run();
}

}  // namespace mig::cli::lsp
