// Malformed input of every sort gets a diagnostic with a position (or a
// clean result), never a crash, a stack overflow or a hang.
#include <gtest/gtest.h>

#include "test_support.h"

namespace mig {
namespace {

using testing::lintText;

const diag::Diagnostic* first(const testing::LintResult& result, diag::Rule rule) {
  for (const auto& d : result.diagnostics) {
    if (d.rule == rule) return &d;
  }
  return nullptr;
}

TEST(BadInput, EmptyFileIsClean) {
  auto result = lintText("empty.mig", "");
  EXPECT_EQ(result.text, "no problems found\n");
}

TEST(BadInput, OnlyCommentsAndBlankLinesAreClean) {
  auto result = lintText("comments.mig", "# nothing yet\n\n   \n# still nothing\n");
  EXPECT_EQ(result.text, "no problems found\n");
}

TEST(BadInput, BinaryGarbageIsReportedAsInvalidUtf8) {
  std::string garbage;
  for (int i = 0; i < 4096; ++i) garbage += static_cast<char>((i * 7919 + 13) % 256);
  auto result = lintText("garbage.bin", garbage);
  ASSERT_EQ(result.diagnostics.size(), 1u);
  EXPECT_EQ(result.diagnostics[0].rule, diag::Rule::SyntaxError);
  EXPECT_NE(result.diagnostics[0].message.find("invalid UTF-8"), std::string::npos);
}

TEST(BadInput, InvalidUtf8NamesTheByteAndItsPosition) {
  auto result = lintText("latin1.mig", "plan p {\n  title \"caf\xE9\"\n}\n");
  ASSERT_EQ(result.diagnostics.size(), 1u);
  EXPECT_NE(result.text.find("latin1.mig:2:13: error: invalid UTF-8: byte 0xE9"), std::string::npos)
      << result.text;
}

TEST(BadInput, PrintableGarbageGetsSyntaxErrorsAndStops) {
  std::string garbage;
  for (int i = 0; i < 20000; ++i) garbage += "@!%^&;'`~"[i % 9];
  auto result = lintText("noise.mig", garbage);
  EXPECT_GT(result.errors, 0u);
  // The report is capped, not 20,000 lines long.
  EXPECT_LE(result.diagnostics.size(), 60u);
}

TEST(BadInput, TwoMegabyteStringIsHandled) {
  std::string text = "plan p {\n  title \"" + std::string(2 * 1024 * 1024, 'x') + "\"\n}\n";
  auto result = lintText("big.mig", text);
  EXPECT_EQ(result.errors, 0u);
  EXPECT_TRUE(result.has(diag::Rule::RetentionMissing));
}

TEST(BadInput, TwentyThousandNestedBracketsAreADiagnosticNotAStackOverflow) {
  std::string text = "plan p {\n  title " + std::string(20000, '[') + std::string(20000, ']') + "\n}\n";
  auto result = lintText("deep.mig", text);
  const diag::Diagnostic* d = first(result, diag::Rule::SyntaxError);
  ASSERT_NE(d, nullptr);
  EXPECT_NE(d->message.find("nesting is too deep"), std::string::npos);
}

TEST(BadInput, DeepNestingOfBlocksAndCallsIsADiagnostic) {
  std::string text;
  for (int i = 0; i < 5000; ++i) text += "a {\n";
  auto blocks = lintText("blocks.mig", text);
  EXPECT_TRUE(blocks.has(diag::Rule::SyntaxError));
  std::string calls = "plan p {\n  title " + std::string(3000, 'f') + "(" ;
  for (int i = 0; i < 3000; ++i) calls += "f(";
  auto nested = lintText("calls.mig", calls);
  EXPECT_TRUE(nested.has(diag::Rule::SyntaxError));
}

TEST(BadInput, UnterminatedStringPointsAtItsQuote) {
  auto result = lintText("open.mig", "plan p {\n  title \"never closed\n  owner \"x\"\n}\n");
  const diag::Diagnostic* d = first(result, diag::Rule::SyntaxError);
  ASSERT_NE(d, nullptr);
  EXPECT_NE(result.text.find("open.mig:2:9: error: unterminated string"), std::string::npos)
      << result.text;
}

TEST(BadInput, UnterminatedStringAtEndOfFile) {
  auto result = lintText("eof.mig", "plan p {\n  title \"abc");
  EXPECT_NE(result.text.find("eof.mig:2:9: error: unterminated string"), std::string::npos)
      << result.text;
  EXPECT_NE(result.text.find("expected '}' to close the block opened at 1:8"), std::string::npos)
      << result.text;
}

TEST(BadInput, UnterminatedTripleQuotedString) {
  auto result = lintText("triple.mig", "plan p {\n  description \"\"\"\n  lines\n");
  EXPECT_NE(result.text.find("triple.mig:2:15: error: unterminated string: expected '\"\"\"'"),
            std::string::npos)
      << result.text;
}

TEST(BadInput, UnterminatedInterpolation) {
  auto result = lintText("interp.mig", "plan p {\n  title \"a ${b.c and more\"\n}\n");
  EXPECT_NE(result.text.find("interp.mig:2:12: error: unterminated interpolation: expected '}' "
                             "to close '${'"),
            std::string::npos)
      << result.text;
}

TEST(BadInput, ControlCharactersAreReported) {
  auto result = lintText("ctl.mig", std::string("plan p {\x01\n}\n"));
  EXPECT_NE(result.text.find("unexpected control character 0x01"), std::string::npos)
      << result.text;
}

TEST(BadInput, NulBytesAreReported) {
  auto result = lintText("nul.mig", std::string("plan p {\0\n}\n", 12));
  EXPECT_NE(result.text.find("unexpected control character 0x00"), std::string::npos)
      << result.text;
}

TEST(BadInput, HugeNumbersAreInvalidValues) {
  auto result = lintText("num.mig", "plan p {\n  retain 99999999999999999999999h\n}\n");
  EXPECT_TRUE(result.has(diag::Rule::InvalidValue)) << result.text;
  auto ints = lintText("int.mig", "plan p {\n  title 99999999999999999999999\n}\n");
  EXPECT_TRUE(ints.has(diag::Rule::InvalidValue)) << ints.text;
}

TEST(BadInput, WindowsLineEndingsParse) {
  auto result = lintText("crlf.mig", "plan p {\r\n  retain 72h\r\n}\r\n");
  EXPECT_EQ(result.errors, 0u) << result.text;
}

// A bad token after a block's first item is skipped there: parsing goes on
// in the same block, and the plan's '}' is not reported as well.
TEST(BadInput, ColonAfterAFirstAttributeIsOneError) {
  auto result = lintText("colon.mig", "plan p {\n  retain: 72h\n  owner \"x\"\n}\n");
  ASSERT_EQ(result.diagnostics.size(), 1u) << result.text;
  EXPECT_NE(result.text.find("colon.mig:2:9: error: unexpected ':' [syntax-error]"),
            std::string::npos)
      << result.text;
  EXPECT_NE(result.text.find("without ':'"), std::string::npos) << result.text;
}

TEST(BadInput, MissingParenNamesTheOpenArgumentList) {
  auto result = lintText("paren.mig",
                         "plan p {\n  phase migration {\n    step copy {\n"
                         "      do   postgres.copy(from: a, to: b\n      undo postgres.wipe(db: b)\n"
                         "    }\n  }\n}\n");
  EXPECT_NE(result.text.find("paren.mig:5:7: error: expected ',' or ')' in the argument list "
                             "opened at 4:25, found name 'undo'"),
            std::string::npos)
      << result.text;
}

TEST(BadInput, MissingBraceNotesTheBlockIndentedLikeAnOuterOne) {
  auto result = lintText("brace.mig",
                         "plan p {\n  phase migration {\n    step copy {\n      do sh(\"x\")\n"
                         "  }\n\n  phase testing {\n    step t = sh(\"y\")\n  }\n}\n");
  EXPECT_NE(result.text.find("brace.mig:3:15: note: a '}' is probably missing from this block: "
                             "the '}' on line 5"),
            std::string::npos)
      << result.text;
}

// The tree left by error recovery is not the plan the author wrote: a file
// with syntax errors gets those only.
TEST(BadInput, SyntaxErrorsAreReportedAlone) {
  auto result = lintText("alone.mig", "plan p {\n  phase testing {\n    step a = sh(\"x\")\n"
                                      "    step b { after nowhere \n  }\n}\n");
  EXPECT_TRUE(result.has(diag::Rule::SyntaxError)) << result.text;
  for (const auto& d : result.diagnostics) EXPECT_EQ(d.rule, diag::Rule::SyntaxError) << result.text;
}

// An import that fails is reported once, not again at every use of its module.
TEST(BadInput, FailedImportIsReportedOnlyAtTheImport) {
  auto result = lintText("import.mig",
                         "import \"std/wiat\"\nplan p {\n  retain 72h\n"
                         "  phase verification {\n    step settle = wait.for(duration: 30s)\n  }\n}\n");
  ASSERT_EQ(result.diagnostics.size(), 1u) << result.text;
  EXPECT_EQ(result.diagnostics[0].rule, diag::Rule::UnknownImport);
}

}  // namespace
}  // namespace mig
