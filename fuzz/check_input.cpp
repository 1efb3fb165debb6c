#include "fuzz/check_input.h"

#include <sstream>

#include "compiler/diag/printers.h"
#include "compiler/format/formatter.h"
#include "compiler/parse/parser.h"
#include "compiler/sema/compilation.h"

namespace mig::fuzz {
namespace {

// What `mig lint` does, every format; the output itself is not checked.
void lint(std::string_view text) {
  sema::Compilation compilation(std::vector<std::string>{});
  compilation.addText("fuzz.mig", std::string(text));
  diag::DiagnosticEngine& diags = compilation.diags();
  diags.sort(compilation.sources());
  const auto& all = diags.diagnostics();
  std::ostringstream out;
  diag::printText(out, compilation.sources(), all, {false, 20});
  diag::printJson(out, compilation.sources(), all);
  diag::printSarif(out, compilation.sources(), all, {"/src", "/src", 1, 0});
  diag::printGithub(out, compilation.sources(), all);
}

// `mig fmt`: the formatted text, or nullopt when `text` does not parse cleanly.
std::optional<std::string> format(std::string_view text) {
  source::SourceManager sources;
  diag::DiagnosticEngine diags;
  source::FileId file = sources.addFile("fuzz.mig", std::string(text));
  auto tree = parse::parseFile(sources, file, diags);
  if (!tree->clean) return std::nullopt;
  return mig::format::formatFile(sources, *tree);
}

}  // namespace

std::string checkInput(std::string_view text) {
  lint(text);
  auto once = format(text);
  if (!once) return "";
  auto twice = format(*once);
  if (!twice) return "the formatted text does not parse:\n" + *once;
  if (*twice != *once) return "formatting the formatted text changes it:\n" + *once;
  return "";
}

}  // namespace mig::fuzz
