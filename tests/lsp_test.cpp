// `mig lsp` driven over its stdin and stdout by a scripted client, as an
// editor drives it.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <regex>
#include <set>

#include "tests/lsp_client.h"
#include "tests/test_support.h"

namespace mig::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// A plan with one error: `after final_cpy` names no step.
constexpr std::string_view kPlan = R"mig(import "std/postgres"
import "std/acl"
import "std/wait"

plan shop {
  title  "Shop: PostgreSQL 12 to 15"
  owner  "dba@shop.example"
  retain 72h

  secret old_pw { from env("SHOP_OLD_PW") }
  secret new_pw { from env("SHOP_NEW_PW") }

  source old_db postgres {
    host     "10.0.0.5"
    database "app"
    password old_pw
  }

  target new_db postgres {
    host     "10.0.0.6"
    database "app"
    password new_pw
  }

  acl new_db {
    allow "10.1.0.0/24" "app servers"
  }

  window sat_night {
    days     [sat]
    start    "02:00"
    length   2h
    timezone "America/Chicago"
  }

  phase migration {
    step rehearsal {
      do   postgres.copy(from: old_db, to: new_db)
      undo postgres.wipe(db: new_db)
    }
  }

  phase testing {
    step acl_check = acl.verify(target: new_db)
  }

  phase switchover {
    window sat_night

    step final_copy {
      do    postgres.copy(from: old_db, to: new_db)
      undo  postgres.wipe(db: new_db)
      after rehearsal
    }

    step settle = wait.until(cmd: "true", timeout: 1m)

    step counts {
      do    postgres.compare(a: old_db, b: new_db)
      after final_cpy
    }
  }

  phase verification {
    step health = sh("curl -fsS https://shop.example/health")
  }
}
)mig";

std::string fixedPlan() {
  std::string text(kPlan);
  text.replace(text.find("final_cpy"), 9, "final_copy");
  return text;
}

// The 0-based line and column of the `occurrence`-th `needle` (ASCII text).
json positionOf(std::string_view text, std::string_view needle, int occurrence = 1,
                size_t shift = 0) {
  size_t at = std::string_view::npos;
  for (int i = 0; i < occurrence; ++i)
    at = text.find(needle, at == std::string_view::npos ? 0 : at + 1);
  if (at == std::string_view::npos) throw std::runtime_error("no " + std::string(needle));
  at += shift;
  size_t lineStart = text.rfind('\n', at == 0 ? 0 : at - 1);
  lineStart = lineStart == std::string_view::npos ? 0 : lineStart + 1;
  size_t line = std::count(text.begin(), text.begin() + static_cast<long>(at), '\n');
  return {{"line", line}, {"character", at - lineStart}};
}

json range(int line, int from, int to) {
  return {{"start", {{"line", line}, {"character", from}}},
          {"end", {{"line", line}, {"character", to}}}};
}

std::set<std::string> labels(const json& completion) {
  std::set<std::string> out;
  for (const json& item : completion["result"]["items"])
    out.insert(item["label"].get<std::string>());
  return out;
}

// What `mig lint --format json` reports for `text`, as LSP diagnostics
// (ASCII text: a column is a UTF-16 unit).
json lintAsLsp(const fs::path& directory, std::string_view text) {
  fs::path file = directory / "lint-copy.mig";
  writeFile(file, text);
  CommandResult lint = runCommand(mig() + " lint --format json '" + file.string() + "'");
  json out = json::array();
  for (const json& d : json::parse(lint.output)) {
    const std::string severity = d["severity"];
    out.push_back(
        {{"code", d["rule"]},
         {"message", d["message"]},
         {"severity", severity == "error"     ? 1
                      : severity == "warning" ? 2
                                              : 3},
         {"range",
          {{"start",
            {{"line", d["line"].get<int>() - 1}, {"character", d["column"].get<int>() - 1}}},
           {"end",
            {{"line", d["endLine"].get<int>() - 1},
             {"character", d["endColumn"].get<int>() - 1}}}}}});
  }
  return out;
}

// The diagnostics without what lint's JSON does not have.
json essentials(const json& diagnostics) {
  json out = json::array();
  for (const json& d : diagnostics) {
    out.push_back({{"code", d["code"]},
                   {"message", d["message"]},
                   {"severity", d["severity"]},
                   {"range", d["range"]}});
  }
  return out;
}

std::string makeTemporaryDirectory() {
  std::string pattern = (fs::temp_directory_path() / "mig-lsp-test-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  return pattern;
}

// One server for the suite, initialized as VS Code does (UTF-16 only),
// with the plan open.
class LspSession : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    directory_ = new fs::path(makeTemporaryDirectory());
    planPath_ = new fs::path(*directory_ / "shop plan.mig");
    writeFile(*planPath_, kPlan);
    uri_ = new std::string("file://" +
                           std::regex_replace(planPath_->string(), std::regex(" "), "%20"));
    client_ = new LspClient(MIG_BINARY, (*directory_ / "stderr.txt").string(),
                            {"XDG_CACHE_HOME=" + (*directory_ / "cache").string()});
    initialize_ = new json(client_->request(
        "initialize", {{"processId", nullptr},
                       {"rootUri", nullptr},
                       {"capabilities", {{"general", {{"positionEncodings", {"utf-16"}}}}}}}));
    client_->notify("initialized", json::object());
    open(*uri_, std::string(kPlan));
    firstDiagnostics_ = new json(client_->waitFor("textDocument/publishDiagnostics"));
  }

  static void TearDownTestSuite() {
    delete client_;
    fs::remove_all(*directory_);
    delete directory_, delete planPath_, delete uri_, delete initialize_, delete firstDiagnostics_;
  }

  static void open(const std::string& uri, const std::string& text) {
    client_->notify(
        "textDocument/didOpen",
        {{"textDocument", {{"uri", uri}, {"languageId", "mig"}, {"version", 1}, {"text", text}}}});
  }

  static json at(const std::string& uri, json position) {
    return {{"textDocument", {{"uri", uri}}}, {"position", std::move(position)}};
  }

  static json atPlan(std::string_view needle, int occurrence = 1, size_t shift = 0) {
    return at(*uri_, positionOf(kPlan, needle, occurrence, shift));
  }

  // Opens `text` as a new document; returns its URI and first diagnostics.
  static std::pair<std::string, json> openScratch(const std::string& name,
                                                  const std::string& text) {
    std::string uri = "file://" + (*directory_ / name).string();
    open(uri, text);
    json diagnostics = client_->waitFor("textDocument/publishDiagnostics");
    EXPECT_EQ(diagnostics["uri"], uri);
    return {uri, diagnostics};
  }

  static inline fs::path* directory_;
  static inline fs::path* planPath_;
  static inline std::string* uri_;
  static inline LspClient* client_;
  static inline json* initialize_;
  static inline json* firstDiagnostics_;
};

TEST_F(LspSession, InitializeAdvertisesFeaturesAndUtf16) {
  const json& capabilities = (*initialize_)["result"]["capabilities"];
  EXPECT_EQ(capabilities["positionEncoding"], "utf-16");
  EXPECT_EQ(capabilities["textDocumentSync"], json({{"openClose", true}, {"change", 1}}));
  EXPECT_EQ(capabilities["hoverProvider"], true);
  EXPECT_EQ(capabilities["definitionProvider"], true);
  EXPECT_EQ(capabilities["documentSymbolProvider"], true);
  EXPECT_EQ(capabilities["documentFormattingProvider"], true);
  EXPECT_TRUE(capabilities["completionProvider"].is_object());
}

TEST_F(LspSession, PublishesTheLintDiagnosticsOfTheOpenedPlan) {
  EXPECT_EQ((*firstDiagnostics_)["uri"], *uri_);
  const json& diagnostics = (*firstDiagnostics_)["diagnostics"];
  ASSERT_EQ(diagnostics.size(), 1u) << diagnostics.dump(2);
  json position = positionOf(kPlan, "final_cpy");
  int line = position["line"], column = position["character"];
  EXPECT_EQ(diagnostics[0]["range"], range(line, column, column + 9));
  EXPECT_EQ(diagnostics[0]["code"], "undefined-reference");
  EXPECT_EQ(diagnostics[0]["severity"], 1);
  EXPECT_EQ(diagnostics[0]["source"], "mig");
  EXPECT_EQ(essentials(diagnostics), lintAsLsp(*directory_, kPlan));
}

TEST_F(LspSession, ChangeThatFixesTheErrorClearsTheDiagnostics) {
  std::string uri = "file://" + (*directory_ / "change.mig").string();
  open(uri, std::string(kPlan));
  EXPECT_EQ(client_->waitFor("textDocument/publishDiagnostics")["diagnostics"].size(), 1u);
  client_->notify("textDocument/didChange", {{"textDocument", {{"uri", uri}, {"version", 2}}},
                                             {"contentChanges", {{{"text", fixedPlan()}}}}});
  json fixed = client_->waitFor("textDocument/publishDiagnostics");
  EXPECT_EQ(fixed, json({{"uri", uri}, {"diagnostics", json::array()}}));
  EXPECT_EQ(lintAsLsp(*directory_, fixedPlan()), json::array());

  client_->notify("textDocument/didChange", {{"textDocument", {{"uri", uri}, {"version", 3}}},
                                             {"contentChanges", {{{"text", std::string(kPlan)}}}}});
  EXPECT_EQ(client_->waitFor("textDocument/publishDiagnostics")["diagnostics"].size(), 1u);
  client_->notify("textDocument/didClose", {{"textDocument", {{"uri", uri}}}});
  EXPECT_EQ(client_->waitFor("textDocument/publishDiagnostics"),
            json({{"uri", uri}, {"diagnostics", json::array()}}));
}

TEST_F(LspSession, ColumnsCountUtf16UnitsOnALineWithNonAscii) {
  std::string text = fixedPlan();
  // é is one UTF-16 unit (two bytes), 😀 two (four bytes).
  std::string line = "    step greet = sh(\"é😀 ${nope}\")\n";
  std::string_view phase = "  phase verification {\n";
  text.insert(text.find(phase) + phase.size(), line);
  auto [uri, diagnostics] = openScratch("utf16.mig", text);
  ASSERT_EQ(diagnostics["diagnostics"].size(), 1u) << diagnostics.dump(2);
  const json& d = diagnostics["diagnostics"][0];
  int lineNumber = positionOf(text, "step greet")["line"];
  // 4 + `step greet = sh("` (17) + é (1) + 😀 (2) + ` ${` (3) = 27
  EXPECT_EQ(d["range"], range(lineNumber, 27, 31));
  EXPECT_EQ(d["code"], "undefined-reference");
  // And back: hover at UTF-16 column 28 lands inside `nope`.
  json hover =
      client_->request("textDocument/hover", at(uri, {{"line", lineNumber}, {"character", 28}}));
  EXPECT_EQ(hover["result"]["range"], range(lineNumber, 27, 31));
}

TEST_F(LspSession, SecretLiteralIsNeverEchoed) {
  std::string text = fixedPlan();
  text.replace(text.find("password new_pw"), 15, "password \"hunter2-swordfish\"");
  auto [uri, diagnostics] = openScratch("secret.mig", text);
  std::string all = diagnostics.dump();
  EXPECT_NE(all.find("secret-literal"), std::string::npos) << all;
  EXPECT_EQ(all.find("hunter2"), std::string::npos) << all;
  json hover = client_->request("textDocument/hover", at(uri, positionOf(text, "hunter2")));
  EXPECT_EQ(hover.dump().find("hunter2"), std::string::npos);
  EXPECT_NE(hover.dump().find("secret-literal"), std::string::npos);
}

TEST_F(LspSession, HoverOnAnActionShowsItsSignatureAndDocComment) {
  json hover = client_->request("textDocument/hover", atPlan("wait.until", 1, 6));
  EXPECT_EQ(hover["result"]["contents"],
            json({{"kind", "markdown"},
                  {"value",
                   "```mig\naction wait.until(cmd: command, timeout: duration, every: duration = "
                   "5s)\n```\n"
                   "\nRuns `cmd` every `every` until it succeeds; fails after `timeout`.\n"
                   "\neffect: `read`; requires: `bash`, `sleep`\n"}}));
  int line = positionOf(kPlan, "wait.until")["line"];
  int column = positionOf(kPlan, "wait.until")["character"];
  EXPECT_EQ(hover["result"]["range"], range(line, column, column + 10));
}

TEST_F(LspSession, HoverOnAKindListsItsFields) {
  json hover = client_->request("textDocument/hover", atPlan("postgres {", 1, 2));
  EXPECT_EQ(hover["result"]["contents"]["value"],
            "```mig\nkind postgres (module postgres)\n```\n"
            "\n| field | type | default | |\n|---|---|---|---|\n"
            "| `host` | `string` | required | The server's host name or IP address. |\n"
            "| `port` | `int` | `5432` | The TCP port the server listens on. |\n"
            "| `database` | `string` | required | The database the application uses: what mig "
            "copies, compares and checks. |\n"
            "| `user` | `string` | `\"postgres\"` | The role mig connects as; it must be able to "
            "read (source) or create and fill (target) the database. |\n"
            "| `password` | `secret` | optional | The role's password, a secret: it reaches "
            "commands in a 0600 PGPASSFILE. |\n"
            "| `url` | `string` | `\"postgresql://${user}@${host}:${port}/${database}\"` | The "
            "libpq connection URL commands receive (never with the password). |\n");
}

TEST_F(LspSession, HoverOnARuleNameInACommentExplainsTheRule) {
  std::string text = fixedPlan();
  text.insert(text.find("  phase testing"), "  # mig:allow(acl-not-verified)\n");
  auto [uri, diagnostics] = openScratch("comment.mig", text);
  json hover =
      client_->request("textDocument/hover", at(uri, positionOf(text, "acl-not-verified", 1, 4)));
  std::string value = hover["result"]["contents"]["value"];
  const auto& rule = diag::ruleInfo(diag::Rule::AclNotVerified);
  EXPECT_TRUE(value.starts_with("**acl-not-verified** (" +
                                std::string(diag::severityName(rule.severity)) +
                                "): " + std::string(rule.summary)))
      << value;
}

TEST_F(LspSession, CompletesTheAttributesOfAStep) {
  json completion =
      client_->request("textDocument/completion", atPlan("      after rehearsal", 1, 6));
  EXPECT_EQ(labels(completion),
            (std::set<std::string>{"do", "undo", "check", "after", "timeout", "retry", "delay",
                                   "estimate", "idempotent", "window", "on_window_end", "on",
                                   "description"}));
}

TEST_F(LspSession, CompletesTheActionsOfAModule) {
  // Right after `postgres.` in `undo postgres.wipe`.
  json completion = client_->request("textDocument/completion", atPlan("postgres.wipe", 1, 9));
  std::set<std::string> expected;
  std::string stdlib = readFile(sourceDir() / "stdlib/std/postgres.mig");
  std::regex action(R"(\naction (\w+)\()");
  for (std::sregex_iterator it(stdlib.begin(), stdlib.end(), action), end; it != end; ++it) {
    expected.insert("postgres." + (*it)[1].str());
  }
  EXPECT_EQ(labels(completion), expected);
  EXPECT_GT(expected.size(), 5u);
}

TEST_F(LspSession, CompletesTheParametersLeftAndEnumSymbols) {
  // After `postgres.copy(from: old_db, ` -> the parameters not yet given.
  json params = client_->request("textDocument/completion", atPlan("to: new_db)", 1, 0));
  EXPECT_EQ(labels(params), (std::set<std::string>{"to", "owners", "owner", "roles", "passwords"}));

  std::string text = fixedPlan();
  text.replace(text.find("to: new_db)"), 10, "to: new_db, owners: ");
  auto [uri, diagnostics] = openScratch("enum.mig", text);
  json symbols =
      client_->request("textDocument/completion", at(uri, positionOf(text, "owners: ", 1, 8)));
  EXPECT_EQ(labels(symbols), (std::set<std::string>{"keep", "reassign"}));
}

TEST_F(LspSession, CompletesDeclaredNames) {
  json steps = client_->request("textDocument/completion", atPlan("after rehearsal", 1, 6));
  EXPECT_EQ(labels(steps), (std::set<std::string>{"rehearsal", "acl_check", "final_copy", "settle",
                                                  "counts", "health"}));
  json endpoints = client_->request("textDocument/completion", atPlan("from: old_db", 1, 6));
  EXPECT_EQ(labels(endpoints), (std::set<std::string>{"old_db", "new_db"}));
  json windows = client_->request("textDocument/completion", atPlan("window sat_night", 2, 7));
  EXPECT_EQ(labels(windows), (std::set<std::string>{"sat_night"}));
  json secrets = client_->request("textDocument/completion", atPlan("password old_pw", 1, 9));
  EXPECT_EQ(labels(secrets), (std::set<std::string>{"old_pw", "new_pw"}));
}

TEST_F(LspSession, CompletesTimeZonesInsideTheString) {
  json position = positionOf(kPlan, "America/Chicago", 1, 3);  // after `"Ame`
  json completion = client_->request("textDocument/completion", at(*uri_, position));
  std::set<std::string> zones = labels(completion);
  EXPECT_TRUE(zones.count("America/Chicago"));
  EXPECT_TRUE(zones.count("Europe/Berlin"));
  EXPECT_TRUE(zones.count("UTC"));
  for (const json& item : completion["result"]["items"]) {
    if (item["label"] != "America/Chicago") continue;
    int line = position["line"], column = position["character"];
    EXPECT_EQ(item["textEdit"],
              json({{"range", range(line, column - 3, column)}, {"newText", "America/Chicago"}}));
  }
}

TEST_F(LspSession, DefinitionOfAStepIsItsDeclaration) {
  json definition = client_->request("textDocument/definition", atPlan("after rehearsal", 1, 8));
  json declared = positionOf(kPlan, "rehearsal {");
  int line = declared["line"], column = declared["character"];
  EXPECT_EQ(definition["result"],
            json({{"uri", *uri_}, {"range", range(line, column, column + 9)}}));

  json endpoint = client_->request("textDocument/definition", atPlan("to: new_db", 1, 5));
  json target = positionOf(kPlan, "new_db postgres");
  line = target["line"], column = target["character"];
  EXPECT_EQ(endpoint["result"], json({{"uri", *uri_}, {"range", range(line, column, column + 6)}}));
}

TEST_F(LspSession, DefinitionOfAStdlibActionOpensTheModule) {
  json definition = client_->request("textDocument/definition", atPlan("postgres.copy", 1, 10));
  fs::path file = *directory_ / "cache/mig/stdlib/std/postgres.mig";
  std::string stdlib = readFile(sourceDir() / "stdlib/std/postgres.mig");
  json declared = positionOf(stdlib, "action copy(", 1, 7);
  int line = declared["line"], column = declared["character"];
  EXPECT_EQ(definition["result"],
            json({{"uri", "file://" + file.string()}, {"range", range(line, column, column + 4)}}));
  EXPECT_EQ(readFile(file), stdlib);
}

TEST_F(LspSession, DocumentSymbolsAreThePlanItsPhasesAndTheirSteps) {
  json symbols =
      client_->request("textDocument/documentSymbol", {{"textDocument", {{"uri", *uri_}}}});
  std::function<json(const json&)> outline = [&](const json& list) {
    json out = json::array();
    for (const json& s : list) {
      json entry = {s["name"], s["kind"]};
      if (s.contains("children")) entry.push_back(outline(s["children"]));
      out.push_back(entry);
    }
    return out;
  };
  EXPECT_EQ(outline(symbols["result"]),
            json::parse(R"([["\"std/postgres\"", 4], ["\"std/acl\"", 4], ["\"std/wait\"", 4],
              ["shop", 2, [["old_pw", 14], ["new_pw", 14], ["old_db", 19], ["new_db", 19], ["new_db", 7],
                           ["sat_night", 24],
                           ["migration", 3, [["rehearsal", 12]]],
                           ["testing", 3, [["acl_check", 12]]],
                           ["switchover", 3, [["final_copy", 12], ["settle", 12], ["counts", 12]]],
                           ["verification", 3, [["health", 12]]]]]])"));
}

TEST_F(LspSession, FormattingGivesWhatMigFmtWrites) {
  std::string messy = fixedPlan();
  messy.replace(messy.find("title  \"Shop"), 7, "title   ");
  messy.replace(messy.find("    host     \"10.0.0.5\""), 4, "");
  auto [uri, diagnostics] = openScratch("messy.mig", messy);
  json edits = client_->request(
      "textDocument/formatting",
      {{"textDocument", {{"uri", uri}}}, {"options", {{"tabSize", 2}, {"insertSpaces", true}}}});
  writeFile(*directory_ / "messy-copy.mig", messy);
  CommandResult formatted =
      runCommand(mig() + " fmt - < '" + (*directory_ / "messy-copy.mig").string() + "'");
  ASSERT_EQ(edits["result"].size(), 1u) << edits.dump();
  EXPECT_EQ(edits["result"][0]["newText"], formatted.output);
  EXPECT_NE(formatted.output, messy);
  int lines = static_cast<int>(std::count(messy.begin(), messy.end(), '\n'));
  EXPECT_EQ(edits["result"][0]["range"], json({{"start", {{"line", 0}, {"character", 0}}},
                                               {"end", {{"line", lines}, {"character", 0}}}}));

  json none = client_->request("textDocument/formatting",
                               {{"textDocument", {{"uri", *uri_}}}, {"options", json::object()}});
  EXPECT_EQ(none["result"], json::array());
}

TEST_F(LspSession, FormattingAFileWithSyntaxErrorsFails) {
  auto [uri, diagnostics] =
      openScratch("broken.mig", "plan x {\n  phase migration {\n    step a = sh(\"x\"\n}\n");
  EXPECT_EQ(diagnostics["diagnostics"][0]["code"], "syntax-error");
  json reply = client_->request("textDocument/formatting",
                                {{"textDocument", {{"uri", uri}}}, {"options", json::object()}});
  EXPECT_EQ(reply["error"]["code"], -32803);
  EXPECT_FALSE(reply.contains("result"));
}

TEST_F(LspSession, UnknownRequestIsMethodNotFoundAndNotificationsAreIgnored) {
  client_->notify("workspace/didChangeConfiguration", {{"settings", json::object()}});
  client_->notify("$/made-up", json::object());
  json reply = client_->request("textDocument/made-up", json::object());
  EXPECT_EQ(reply["error"]["code"], -32601);
  EXPECT_EQ(reply["error"]["message"], "unknown method 'textDocument/made-up'");
}

// Servers of their own: the lifecycle and bad input.
class LspProtocol : public ::testing::Test {
 protected:
  void SetUp() override { directory_ = makeTemporaryDirectory(); }
  void TearDown() override { fs::remove_all(directory_); }
  std::string stderrPath() const { return directory_ + "/stderr.txt"; }
  json initialize(LspClient& client, json encodings = {"utf-16"}) {
    return client.request("initialize",
                          {{"processId", nullptr},
                           {"capabilities", {{"general", {{"positionEncodings", encodings}}}}}});
  }
  std::string directory_;
};

TEST_F(LspProtocol, ShutdownThenExitExitsWithZero) {
  LspClient client(MIG_BINARY, stderrPath());
  initialize(client);
  EXPECT_EQ(client.request("shutdown", nullptr)["result"], nullptr);
  EXPECT_EQ(client.request("textDocument/hover", json::object())["error"]["code"], -32600);
  client.notify("exit", nullptr);
  EXPECT_EQ(client.waitExit(), 0);
}

TEST_F(LspProtocol, ExitWithoutShutdownExitsWithOne) {
  LspClient client(MIG_BINARY, stderrPath());
  initialize(client);
  client.notify("exit", nullptr);
  EXPECT_EQ(client.waitExit(), 1);
}

TEST_F(LspProtocol, RequestBeforeInitializeIsRefused) {
  LspClient client(MIG_BINARY, stderrPath());
  EXPECT_EQ(client.request("textDocument/hover", json::object())["error"]["code"], -32002);
}

TEST_F(LspProtocol, NegotiatesUtf8WhenOffered) {
  LspClient client(MIG_BINARY, stderrPath());
  json reply = initialize(client, {"utf-16", "utf-8"});
  EXPECT_EQ(reply["result"]["capabilities"]["positionEncoding"], "utf-8");
  client.notify("textDocument/didOpen", {{"textDocument",
                                          {{"uri", "file://" + directory_ + "/x.mig"},
                                           {"languageId", "mig"},
                                           {"version", 1},
                                           {"text", "plan p {\n  title \"é😀 ${nope}\"\n}\n"}}}});
  json diagnostics = client.waitFor("textDocument/publishDiagnostics")["diagnostics"];
  bool found = false;
  for (const json& d : diagnostics) {
    if (d["code"] != "undefined-reference") continue;
    found = true;
    // `  title "` (9) + é (2 bytes) + 😀 (4 bytes) + ` ${` (3) = 18
    EXPECT_EQ(d["range"], range(1, 18, 22));
  }
  EXPECT_TRUE(found) << diagnostics.dump(2);
}

TEST_F(LspProtocol, MalformedJsonGetsAParseErrorAndTheServerGoesOn) {
  LspClient client(MIG_BINARY, stderrPath());
  client.sendRaw("Content-Length: 9\r\n\r\n{\"id\": 1,");
  json error = client.next();
  EXPECT_EQ(
      error,
      json({{"jsonrpc", "2.0"},
            {"id", nullptr},
            {"error", {{"code", -32700}, {"message", "the message body is not valid JSON"}}}}));
  client.send(json::array({1, 2}));
  EXPECT_EQ(client.next()["error"]["code"], -32600);
  EXPECT_EQ(initialize(client)["result"]["capabilities"]["positionEncoding"], "utf-16");
  EXPECT_EQ(readFile(stderrPath()), "mig lsp: the message body is not valid JSON\n");
}

TEST_F(LspProtocol, BadHeaderGetsAParseErrorAndTheServerGoesOn) {
  LspClient client(MIG_BINARY, stderrPath());
  client.sendRaw("Content-Length: twelve\r\n\r\n");
  EXPECT_EQ(client.next()["error"],
            json({{"code", -32700}, {"message", "Content-Length 'twelve' is not a number"}}));
  client.sendRaw("Content-Type: x\r\n\r\n");
  EXPECT_EQ(client.next()["error"]["message"], "a message header without Content-Length");
  EXPECT_EQ(initialize(client)["result"]["capabilities"]["positionEncoding"], "utf-16");
  client.request("shutdown", nullptr);
  client.notify("exit", nullptr);
  EXPECT_EQ(client.waitExit(), 0);
  EXPECT_EQ(readFile(stderrPath()),
            "mig lsp: Content-Length 'twelve' is not a number\n"
            "mig lsp: a message header without Content-Length\n");
}

TEST_F(LspProtocol, InputEndingInsideAMessageEndsTheServer) {
  LspClient client(MIG_BINARY, stderrPath());
  client.sendRaw("Content-Length: 100\r\n\r\n{\"jsonrpc\"");
  client.closeInput();
  json error = client.next();
  EXPECT_EQ(error["error"]["message"], "the input ended inside a message body");
  EXPECT_EQ(client.waitExit(), 1);
}

// The VS Code extension's files: valid JSON, and a grammar that colours the
// reserved words of grammar/Mig.g4 and the block keywords.
TEST(LspEditorFiles, TextMateGrammarNamesTheKeywords) {
  fs::path vscode = sourceDir() / "editors/vscode";
  json package = json::parse(readFile(vscode / "package.json"));
  EXPECT_EQ(package["contributes"]["grammars"][0]["path"], "./syntaxes/mig.tmLanguage.json");
  EXPECT_TRUE(json::parse(readFile(vscode / "language-configuration.json")).is_object());
  json grammar = json::parse(readFile(vscode / "syntaxes/mig.tmLanguage.json"));
  EXPECT_EQ(grammar["scopeName"], package["contributes"]["grammars"][0]["scopeName"]);

  // The `match` rules that apply at the top level, in the order TextMate
  // tries them (includes resolved), each with the scope it gives (of the
  // whole match, or of its first capture).
  std::vector<std::pair<std::regex, std::string>> rules;
  std::function<void(const json&)> collect = [&](const json& patterns) {
    for (const json& pattern : patterns) {
      if (pattern.contains("include")) {
        std::string name = pattern["include"].get<std::string>().substr(1);
        const json& target = grammar["repository"].at(name);
        collect(target.contains("patterns") && !target.contains("begin") ? target["patterns"]
                                                                         : json::array({target}));
        continue;
      }
      if (!pattern.contains("match")) continue;
      std::string scope = pattern.value("name", "");
      if (scope.empty() && pattern.contains("captures"))
        scope = pattern["captures"]["1"].value("name", "");
      rules.emplace_back(std::regex(pattern["match"].get<std::string>()), scope);
    }
  };
  collect(grammar["patterns"]);

  std::set<std::string> keywords = {"import",   "module", "plan",   "kind",   "action",
                                    "phase",    "step",   "secret", "source", "target",
                                    "endpoint", "window", "acl",    "facts"};
  std::string g4 = readFile(sourceDir() / "grammar/Mig.g4");
  std::regex literal("'([a-z_]+)'");
  for (std::sregex_iterator it(g4.begin(), g4.end(), literal), end; it != end; ++it)
    keywords.insert((*it)[1]);
  EXPECT_TRUE(keywords.count("true") && keywords.count("false"));
  for (const std::string& keyword : keywords) {
    std::string scope;
    for (const auto& [pattern, name] : rules) {
      std::smatch match;
      std::string line = "  " + keyword + " x";
      if (std::regex_search(line, match, pattern) && match.position(0) <= 2) {
        scope = name;
        break;
      }
    }
    EXPECT_TRUE(scope.starts_with("keyword.") || scope.starts_with("constant.language."))
        << keyword << " gets scope '" << scope << "'";
  }
}

}  // namespace
}  // namespace mig::testing
