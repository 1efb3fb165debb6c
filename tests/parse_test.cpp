// The parser: our AST from the text, and syntax errors in our own words.
#include <gtest/gtest.h>

#include <sstream>

#include "compiler/diag/printers.h"
#include "compiler/parse/parser.h"

namespace mig {
namespace {

struct Parsed {
  source::SourceManager sources;
  diag::DiagnosticEngine diags;
  std::unique_ptr<ast::File> file;

  std::string text() {
    std::ostringstream out;
    diag::printText(out, sources, diags.diagnostics());
    return out.str();
  }
};

std::unique_ptr<Parsed> parse(std::string text) {
  auto parsed = std::make_unique<Parsed>();
  source::FileId id = parsed->sources.addFile("t.mig", std::move(text));
  parsed->file = parse::parseFile(parsed->sources, id, parsed->diags);
  return parsed;
}

TEST(Parser, BuildsBlocksAttributesAndValues) {
  auto p = parse(
      "import \"std/postgres\"\n"
      "plan acme {\n"
      "  retain 72h\n"
      "  secret pw { from env(\"X\") }\n"
      "  source old postgres {\n"
      "    port 5432\n"
      "  }\n"
      "  phase testing {\n"
      "    step s = postgres.compare(a: old, b: new)\n"
      "  }\n"
      "}\n");
  ASSERT_TRUE(p->file->clean) << p->text();
  ASSERT_EQ(p->file->items.size(), 2u);
  const ast::Attribute& import = *p->file->items[0].attribute;
  EXPECT_EQ(import.name.text, "import");
  EXPECT_EQ(import.values[0]->plainString(), "std/postgres");

  const ast::Block& plan = *p->file->items[1].block;
  EXPECT_EQ(plan.keyword.text, "plan");
  ASSERT_EQ(plan.labels.size(), 1u);
  EXPECT_EQ(plan.labels[0].text, "acme");
  ASSERT_EQ(plan.items.size(), 4u);

  const ast::Attribute& retain = *plan.items[0].attribute;
  EXPECT_EQ(retain.values[0]->kind, ast::ExprKind::Duration);
  EXPECT_EQ(retain.values[0]->number, 72LL * 3600 * 1000);

  const ast::Block& secret = *plan.items[1].block;
  ASSERT_EQ(secret.items.size(), 1u);
  const ast::Expr& from = *secret.items[0].attribute->values[0];
  EXPECT_EQ(from.kind, ast::ExprKind::Call);
  EXPECT_EQ(from.dottedPath(), "env");
  EXPECT_FALSE(from.arguments[0].name.has_value());

  const ast::Block& source = *plan.items[2].block;
  EXPECT_EQ(source.labels[1].text, "postgres");

  const ast::Attribute& step = *plan.items[3].block->items[0].attribute;
  EXPECT_EQ(step.name.text, "step");
  EXPECT_EQ(step.values[0]->dottedPath(), "s");
  ASSERT_TRUE(step.assigned);
  EXPECT_EQ(step.assigned->dottedPath(), "postgres.compare");
  ASSERT_EQ(step.assigned->arguments.size(), 2u);
  EXPECT_EQ(step.assigned->arguments[1].name->text, "b");
}

TEST(Parser, RangesAreByteOffsetsOfTheSource) {
  auto p = parse("plan acme {\n  owner \"x\"\n}\n");
  const ast::Block& plan = *p->file->items[0].block;
  EXPECT_EQ(plan.labels[0].range.begin, 5u);
  EXPECT_EQ(plan.labels[0].range.end, 9u);
  const ast::Attribute& owner = *plan.items[0].attribute;
  EXPECT_EQ(owner.values[0]->range.begin, 20u);
  EXPECT_EQ(owner.values[0]->range.end, 23u);
}

TEST(Parser, ColumnsCountCodePoints) {
  auto p = parse("plan p {\n  title \"Zürich → Köln\" oops(\n}\n");
  EXPECT_FALSE(p->file->clean);
  // "oops" starts after 2 + 6 + 16 characters, not bytes.
  EXPECT_NE(p->text().find("t.mig:3:1: error:"), std::string::npos) << p->text();
  auto q = parse("plan p {\n  title \"Köln\" }}\n}\n");
  EXPECT_NE(q->text().find("t.mig:2:17: error"), std::string::npos) << q->text();
}

TEST(Parser, KeywordsAreContextual) {
  auto p = parse(
      "plan p {\n"
      "  phase testing {\n"
      "    step window = wait.for(duration: 10m)\n"
      "    step from {\n"
      "      do    sh(\"true\")\n"
      "      after window\n"
      "    }\n"
      "  }\n"
      "}\n");
  EXPECT_TRUE(p->file->clean) << p->text();
}

TEST(Parser, NewlinesAreFreeInsideBracketsAndParentheses) {
  auto p = parse(
      "plan p {\n"
      "  facts {\n"
      "    languages [\n"
      "      \"go\",\n"
      "      \"rust\",\n"
      "    ]\n"
      "  }\n"
      "  phase testing {\n"
      "    step s = postgres.compare(\n"
      "      a: x,\n"
      "      b: y\n"
      "    )\n"
      "  }\n"
      "}\n");
  EXPECT_TRUE(p->file->clean) << p->text();
}

TEST(Parser, MissingCloseBraceNamesTheOpeningBrace) {
  auto p = parse("plan p {\n  phase testing {\n    step s = sh(\"x\")\n");
  EXPECT_EQ(p->text(),
            "t.mig:4:1: error: expected '}' to close the block opened at 2:17, found end of file "
            "[syntax-error]\n"
            "    4 | \n"
            "      | ^\n"
            "t.mig:2:17: note: the block opened here\n"
            "    2 |   phase testing {\n"
            "      |                 ^\n");
}

TEST(Parser, MissingCloseBracketNamesTheList) {
  auto p = parse("plan p {\n  facts {\n    languages [\"go\", \"rust\"\n  }\n}\n");
  EXPECT_NE(p->text().find("expected ']' to close the list opened at 3:15"), std::string::npos)
      << p->text();
}

TEST(Parser, BraceOnItsOwnLineIsExplained) {
  auto p = parse("plan p\n{\n}\n");
  EXPECT_NE(p->text().find("t.mig:2:1: error: unexpected '{': a block's '{' goes on the line of "
                           "its header"),
            std::string::npos)
      << p->text();
}

TEST(Parser, TwoItemsOnOneLineAreAnError) {
  auto p = parse("plan p {\n  title \"a\" owner = = 3\n}\n");
  EXPECT_FALSE(p->file->clean);
  EXPECT_NE(p->text().find("t.mig:2:21: error: expected a value, found '='"), std::string::npos)
      << p->text();
}

TEST(Parser, RecoversAndReportsSeveralErrors) {
  auto p = parse(
      "plan p {\n"
      "  title \"a\" )\n"
      "  owner \"b\"\n"
      "  retain ,\n"
      "  phase testing {\n"
      "    step s = sh(\"x\" \"y\")\n"
      "  }\n"
      "}\n");
  int syntaxErrors = 0;
  for (const auto& d : p->diags.diagnostics()) syntaxErrors += d.rule == diag::Rule::SyntaxError;
  EXPECT_GE(syntaxErrors, 3) << p->text();
  // What is fine is still in the tree.
  ASSERT_FALSE(p->file->items.empty());
  const ast::Block& plan = *p->file->items[0].block;
  bool ownerKept = false;
  for (const ast::Item& item : plan.items) {
    if (item.attribute && item.attribute->name.text == "owner") ownerKept = true;
  }
  EXPECT_TRUE(ownerKept) << p->text();
}

TEST(Parser, UnknownEscapeIsASyntaxErrorAtTheEscape) {
  auto p = parse("plan p {\n  title \"a\\qb\"\n}\n");
  EXPECT_NE(p->text().find("t.mig:2:11: error: unknown escape sequence '\\q' [syntax-error]"),
            std::string::npos)
      << p->text();
}

TEST(Parser, InterpolationMustNameSomething) {
  auto p = parse("plan p {\n  title \"${}\"\n  owner \"${a-b}\"\n}\n");
  EXPECT_NE(p->text().find("t.mig:2:12: error: expected a name in '${...}'"), std::string::npos)
      << p->text();
  EXPECT_NE(p->text().find("t.mig:3:13: error: unexpected '-' in '${...}'"), std::string::npos)
      << p->text();
}

TEST(Parser, CommentsAreKeptForTheFormatter) {
  auto p = parse("# head\nplan p { # after brace\n}\n# tail\n");
  ASSERT_EQ(p->file->comments.size(), 3u);
  EXPECT_EQ(p->file->comments[1].range.begin, 16u);
}

TEST(Parser, StrayCharacterIsReportedOnce) {
  auto p = parse("plan p {\n  title \"a\" @\n}\n");
  EXPECT_EQ(p->diags.diagnostics().size(), 1u) << p->text();
  EXPECT_NE(p->text().find("t.mig:2:13: error: unexpected character '@'"), std::string::npos)
      << p->text();
}

}  // namespace
}  // namespace mig
