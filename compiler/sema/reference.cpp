#include "compiler/sema/reference.h"

#include <fmt/format.h>

#include <algorithm>

#include "compiler/parse/parser.h"
#include "compiler/sema/modules.h"
#include "stdlib/embedded.h"

namespace mig::sema {
namespace {

std::string_view trimmed(std::string_view text) {
  size_t begin = text.find_first_not_of(" \t\r");
  if (begin == std::string_view::npos) return {};
  size_t end = text.find_last_not_of(" \t\r");
  return text.substr(begin, end - begin + 1);
}

/// The comment at the top of a module file, above its `module` line.
std::string moduleComment(const source::SourceManager& sources, const Module& module) {
  for (const ast::Item& item : module.ast->items) {
    if (item.attribute && item.attribute->name.text == "module") {
      return commentAbove(sources, module.file, sources.begin(item.attribute->range).line);
    }
  }
  return {};
}

std::string writtenText(const source::SourceManager& sources, const ast::Expr* expr) {
  if (expr == nullptr) return {};
  return std::string(sources.text(expr->range.file)
                         .substr(expr->range.begin, expr->range.end - expr->range.begin));
}

std::string credentialsName(const Credentials& credentials) {
  switch (credentials.delivery) {
    case Credentials::Delivery::None:
      return "";
    case Credentials::Delivery::Pgpass:
      return "pgpass";
    case Credentials::Delivery::OptionFile:
      return "option_file";
    case Credentials::Delivery::Env:
      return "env " + credentials.variable;
  }
  return "";
}

StdlibReference load() {
  source::SourceManager sources;
  diag::DiagnosticEngine diags;
  ModuleSet modules(sources, diags, {});
  // A file that imports every stdlib module, so the module set loads them
  // (and the shell prelude) exactly as a plan would.
  std::string imports;
  for (const auto& embedded : stdlib::embeddedModules()) {
    imports += fmt::format("import \"{}\"\n", embedded.importPath);
  }
  source::FileId file = sources.addFile("<stdlib reference>", std::move(imports));
  std::unique_ptr<ast::File> tree = parse::parseFile(sources, file, diags);
  modules.importsOf(*tree, "");

  StdlibReference reference;
  for (const auto& module : modules.modules()) {
    std::string doc = moduleComment(sources, *module);
    for (const auto& kind : module->kinds) {
      std::string kindDoc =
          commentAbove(sources, module->file, sources.begin(kind->nameRange).line);
      KindReference entry{module->name, module->importPath,
                          kind->name,   kindDoc.empty() ? doc : doc + "\n\n" + kindDoc,
                          {},           credentialsName(kind->credentials)};
      for (const Field& field : kind->fields) {
        entry.fields.push_back(
            {field.name, field.type.name(), writtenText(sources, field.defaultExpr), field.optional,
             commentAbove(sources, module->file, sources.begin(field.nameRange).line)});
      }
      reference.kinds.push_back(std::move(entry));
    }
    for (const auto& action : module->actions) {
      ActionReference entry{module->name,
                            module->importPath,
                            action->name,
                            commentAbove(sources, module->file, sources.begin(action->range).line),
                            {},
                            std::string(effectName(action->effect)),
                            action->requiredCommands};
      for (const Parameter& param : action->params) {
        entry.params.push_back(
            {param.name, param.type.name(), writtenText(sources, param.defaultExpr)});
      }
      reference.actions.push_back(std::move(entry));
    }
  }
  return reference;
}

void printWrapped(std::ostream& out, std::string_view text, std::string_view indent,
                  size_t width = 78) {
  size_t start = 0;
  while (start < text.size()) {
    size_t paragraphEnd = text.find("\n\n", start);
    if (paragraphEnd == std::string_view::npos) paragraphEnd = text.size();
    std::string line(indent);
    size_t at = start;
    while (at < paragraphEnd) {
      size_t space = text.find(' ', at);
      if (space == std::string_view::npos || space > paragraphEnd) space = paragraphEnd;
      std::string_view word = text.substr(at, space - at);
      if (line.size() > indent.size() && line.size() + 1 + word.size() > width) {
        out << line << '\n';
        line = indent;
      }
      if (line.size() > indent.size()) line += ' ';
      line += word;
      at = space + 1;
    }
    if (line.size() > indent.size()) out << line << '\n';
    start = paragraphEnd + 2;
    if (start < text.size()) out << '\n';
  }
}

std::string qualified(const ActionReference& action) {
  return action.module == "shell" ? action.name : action.module + "." + action.name;
}

}  // namespace

std::string commentAbove(const source::SourceManager& sources, source::FileId file, uint32_t line) {
  std::vector<std::string_view> lines;
  for (uint32_t above = line; above > 1; --above) {
    std::string_view text = trimmed(sources.lineText(file, above - 1));
    if (!text.starts_with('#')) break;
    text.remove_prefix(1);
    lines.push_back(trimmed(text));
  }
  std::string doc;
  for (auto it = lines.rbegin(); it != lines.rend(); ++it) {
    if (it->empty()) {
      doc += "\n\n";
    } else {
      if (!doc.empty() && !doc.ends_with('\n')) doc += ' ';
      doc += *it;
    }
  }
  return doc;
}

std::string ActionReference::signature() const {
  std::vector<std::string> written;
  for (const ParameterReference& param : params) {
    std::string text = fmt::format("{}: {}", param.name, param.type);
    if (!param.defaultValue.empty()) text += " = " + param.defaultValue;
    written.push_back(std::move(text));
  }
  return fmt::format("{}({})", qualified(*this), fmt::join(written, ", "));
}

const KindReference* StdlibReference::kind(std::string_view name) const {
  for (const KindReference& entry : kinds) {
    if (entry.name == name) return &entry;
  }
  return nullptr;
}

const ActionReference* StdlibReference::action(std::string_view qualifiedName) const {
  for (const ActionReference& entry : actions) {
    if (qualified(entry) == qualifiedName) return &entry;
  }
  return nullptr;
}

std::vector<const ActionReference*> StdlibReference::actionsOf(std::string_view module) const {
  std::vector<const ActionReference*> found;
  for (const ActionReference& entry : actions) {
    if (entry.module == module) found.push_back(&entry);
  }
  return found;
}

const StdlibReference& stdlibReference() {
  static const StdlibReference reference = load();
  return reference;
}

void printKind(std::ostream& out, const KindReference& kind, const StdlibReference& all) {
  out << fmt::format("kind {} (import \"{}\")\n\n", kind.name, kind.importPath);
  if (!kind.doc.empty()) {
    printWrapped(out, kind.doc, "  ");
    out << '\n';
  }
  out << "Fields\n";
  for (const FieldReference& field : kind.fields) {
    std::string line = fmt::format("  {:<12} {}", field.name, field.type);
    if (field.optional) line += " optional";
    if (!field.defaultValue.empty()) line += " = " + field.defaultValue;
    out << line << '\n';
    if (!field.doc.empty()) printWrapped(out, field.doc, "      ");
  }
  out << "  (every endpoint also has name, kind and acl)\n";
  if (!kind.credentials.empty()) {
    out << fmt::format("\nCredentials\n  {}: how commands receive the password\n",
                       kind.credentials);
  }
  std::vector<const ActionReference*> actions = all.actionsOf(kind.module);
  if (!actions.empty()) {
    out << "\nActions\n";
    for (const ActionReference* action : actions) {
      out << "  " << action->signature() << '\n';
    }
    out << fmt::format("  (`mig explain action {}.NAME` describes one)\n", kind.module);
  }
}

void printAction(std::ostream& out, const ActionReference& action) {
  out << action.signature() << fmt::format("  (import \"{}\")\n\n", action.importPath);
  if (!action.doc.empty()) {
    printWrapped(out, action.doc, "  ");
    out << '\n';
  }
  out << fmt::format("Effect\n  {}\n", action.effect);
  if (!action.requiredCommands.empty()) {
    out << fmt::format("\nRequires\n  {}\n", fmt::join(action.requiredCommands, ", "));
  }
}

void printReferenceMarkdown(std::ostream& out, const StdlibReference& all) {
  out << "<!-- Generated by `mig explain kinds --markdown` from stdlib/std/*.mig; "
         "tests check that it is current. Do not edit by hand. -->\n"
         "# Endpoint kinds and stdlib actions\n\n"
         "Every kind an endpoint can have (`source NAME KIND { ... }`), its fields, and the "
         "actions of its module. `mig explain kind NAME` prints the same in a terminal.\n";
  std::vector<std::string> seenModules;
  for (const KindReference& kind : all.kinds) {
    seenModules.push_back(kind.module);
    out << fmt::format("\n## {}\n\n`import \"{}\"`\n\n", kind.name, kind.importPath);
    if (!kind.doc.empty()) out << kind.doc << "\n\n";
    out << "| Field | Type | Default | Meaning |\n|---|---|---|---|\n";
    for (const FieldReference& field : kind.fields) {
      std::string type = field.type + (field.optional ? " (optional)" : "");
      std::string doc = field.doc;
      for (char& c : doc) {
        if (c == '\n') c = ' ';
      }
      std::string defaultValue = field.defaultValue.empty() ? "" : "`" + field.defaultValue + "`";
      // A '|' inside a cell would end it.
      auto cell = [](std::string text) {
        std::string escaped;
        for (char c : text) escaped += c == '|' ? std::string("\\|") : std::string(1, c);
        return escaped;
      };
      out << fmt::format("| `{}` | {} | {} | {} |\n", field.name, cell(type), cell(defaultValue),
                         cell(doc));
    }
    if (!kind.credentials.empty()) {
      out << fmt::format("\nPasswords reach commands through `credentials {}`.\n",
                         kind.credentials);
    }
    std::vector<const ActionReference*> actions = all.actionsOf(kind.module);
    if (!actions.empty()) out << "\n### Actions\n";
    for (const ActionReference* action : actions) {
      out << fmt::format("\n#### `{}`\n\n", action->signature());
      if (!action->doc.empty()) out << action->doc << "\n\n";
      out << fmt::format("Effect: {}.", action->effect);
      if (!action->requiredCommands.empty()) {
        out << fmt::format(" Requires: {}.", fmt::join(action->requiredCommands, ", "));
      }
      out << '\n';
    }
  }
  out << "\n## Modules without a kind\n";
  for (const ActionReference& action : all.actions) {
    if (std::find(seenModules.begin(), seenModules.end(), action.module) != seenModules.end()) {
      continue;
    }
    out << fmt::format("\n#### `{}`\n\n`import \"{}\"`", action.signature(), action.importPath);
    if (action.module == "shell") out << " (imported into every plan)";
    out << "\n\n";
    if (!action.doc.empty()) out << action.doc << "\n\n";
    out << fmt::format("Effect: {}.", action.effect);
    if (!action.requiredCommands.empty()) {
      out << fmt::format(" Requires: {}.", fmt::join(action.requiredCommands, ", "));
    }
    out << '\n';
  }
}

}  // namespace mig::sema
