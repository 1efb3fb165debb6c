// Lowering to the step graph: expansion, quoting, secrets, edges, hash.
#include <gtest/gtest.h>

#include <filesystem>

#include "compiler/graph/json.h"
#include "compiler/graph/shell.h"
#include "compiler/lower/lower.h"
#include "compiler/format/formatter.h"
#include "compiler/parse/parser.h"
#include "test_support.h"

namespace mig {
namespace {

namespace fs = std::filesystem;

// Compiles `text`; fails the test on any error.
graph::Graph compile(const std::string& text, const std::string& name = "p.mig") {
  sema::Compilation compilation(std::vector<std::string>{});
  const sema::CompiledFile* file = compilation.addText(name, text);
  std::ostringstream out;
  diag::printText(out, compilation.sources(), compilation.diags().diagnostics());
  EXPECT_FALSE(compilation.diags().hasErrors()) << out.str();
  if (!file->checked.plan) return {};
  return lower::lowerPlan(*file->checked.plan, compilation.sources());
}

const graph::Node& node(const graph::Graph& g, const std::string& id) {
  const graph::Node* n = g.node(id);
  if (n == nullptr) throw std::runtime_error("no node " + id);
  return *n;
}

std::string plan(std::string_view endpoints, std::string_view steps) {
  return "import \"std/postgres\"\nimport \"std/redis\"\nimport \"std/wait\"\nplan p {\n  retain 72h\n" +
         std::string(endpoints) + std::string(steps) + "}\n";
}

const char* kPostgresPair =
    "  secret old_pw { from env(\"OLD_PW\") }\n"
    "  secret new_pw { from file(\"/run/new_pw\") }\n"
    "  source old_db postgres {\n"
    "    host     \"10.0.0.5\"\n"
    "    database \"app\"\n"
    "    user     \"app\"\n"
    "    password old_pw\n"
    "  }\n"
    "  target new_db postgres {\n"
    "    host     \"pg.example\"\n"
    "    port     6432\n"
    "    database \"app\"\n"
    "    password new_pw\n"
    "  }\n";

TEST(ShellQuote, LeavesPlainWordsAndQuotesTheRest) {
  EXPECT_EQ(graph::shellQuote("postgresql://app@h:5432/db"), "postgresql://app@h:5432/db");
  EXPECT_EQ(graph::shellQuote(""), "''");
  EXPECT_EQ(graph::shellQuote("a b"), "'a b'");
  EXPECT_EQ(graph::shellQuote("it's"), "'it'\\''s'");
  EXPECT_EQ(graph::shellQuote("$(id)"), "'$(id)'");
}

TEST(Lower, ExpandsActionsWithQuotedInterpolations) {
  auto g = compile(plan(kPostgresPair, "  phase migration {\n"
                                       "    step copy {\n"
                                       "      do   postgres.copy(from: old_db, to: new_db)\n"
                                       "      undo postgres.wipe(db: new_db)\n"
                                       "    }\n"
                                       "  }\n"));
  const graph::Node& copy = node(g, "copy");
  EXPECT_EQ(copy.run.action, "postgres.copy");
  EXPECT_EQ(copy.run.call, "postgres.copy(from: old_db, to: new_db)");
  EXPECT_EQ(copy.run.script,
            "\"$MIG\" driver postgres-copy --from postgresql://app@10.0.0.5:5432/app --to "
            "postgresql://postgres@pg.example:6432/app --owners keep --owner '' --roles create "
            "--passwords false");
  EXPECT_EQ(copy.run.origin, "p.mig:22");
  EXPECT_EQ(copy.run.definedAt, "<stdlib>/std/postgres.mig:74");
  EXPECT_EQ(copy.origin, "p.mig:21");
  ASSERT_TRUE(copy.undo);
  EXPECT_EQ(copy.undo->action, "postgres.wipe");
  EXPECT_EQ(copy.effect, "write");
  EXPECT_EQ(copy.run.requiredCommands, (std::vector<std::string>{"psql", "pg_dump"}));
}

TEST(Lower, PassesTheCopysChoicesToTheDriver) {
  auto g = compile(plan(kPostgresPair,
                        "  phase migration {\n"
                        "    step copy {\n"
                        "      do   postgres.copy(from: old_db, to: new_db, owners: reassign, "
                        "owner: \"app owner\", roles: require, passwords: true)\n"
                        "      undo postgres.wipe(db: new_db)\n"
                        "    }\n"
                        "  }\n"
                        "  phase testing {\n"
                        "    step parity = postgres.compare(a: old_db, b: new_db, owners: ignore)\n"
                        "  }\n"));
  EXPECT_EQ(node(g, "copy").run.script,
            "\"$MIG\" driver postgres-copy --from postgresql://app@10.0.0.5:5432/app --to "
            "postgresql://postgres@pg.example:6432/app --owners reassign --owner 'app owner' "
            "--roles require --passwords true");
  EXPECT_EQ(node(g, "parity").run.script,
            "\"$MIG\" driver postgres-compare --a postgresql://app@10.0.0.5:5432/app --b "
            "postgresql://postgres@pg.example:6432/app --owners ignore --rows compare");
}

TEST(Lower, PostgresSecretsTravelAsPgpassLinesNeverAsValues) {
  auto g = compile(plan(kPostgresPair, "  phase migration {\n"
                                       "    step copy = postgres.copy(from: old_db, to: new_db)\n"
                                       "  }\n"));
  const graph::Command& run = node(g, "copy").run;
  ASSERT_EQ(run.secrets.size(), 2u);
  EXPECT_EQ(run.secrets[0].via, graph::SecretDelivery::Via::Pgpass);
  EXPECT_EQ(run.secrets[0].secret, "old_pw");
  EXPECT_EQ(run.secrets[0].host, "10.0.0.5");
  EXPECT_EQ(run.secrets[0].port, "5432");
  EXPECT_EQ(run.secrets[0].database, "*");  // a password is the role's, on every database
  EXPECT_EQ(run.secrets[0].user, "app");
  EXPECT_EQ(run.secrets[1].secret, "new_pw");
  EXPECT_EQ(run.secrets[1].port, "6432");
  EXPECT_EQ(run.secrets[1].user, "postgres");
  std::string json = graph::toJson(g);
  EXPECT_NE(json.find("\"location\": \"OLD_PW\""), std::string::npos);
  EXPECT_EQ(json.find("password\":"), std::string::npos);
}

const char* kRedisPair =
    "  secret a_pw { from env(\"A_PW\") }\n"
    "  secret b_pw { from env(\"B_PW\") }\n"
    "  source cache_a redis {\n"
    "    host     \"10.0.0.7\"\n"
    "    password a_pw\n"
    "  }\n"
    "  target cache_b redis {\n"
    "    host     \"redis.example\"\n"
    "    db       3\n"
    "    password b_pw\n"
    "  }\n";

TEST(Lower, RedisGetsRediscliAuthForOneEndpointAndNamedVariablesForTwo) {
  auto g = compile(plan(kRedisPair, "  phase migration {\n"
                                    "    step copy = redis.copy(from: cache_a, to: cache_b)\n"
                                    "    step wipe = redis.wipe(db: cache_b)\n"
                                    "  }\n"));
  const graph::Command& wipe = node(g, "wipe").run;
  ASSERT_EQ(wipe.secrets.size(), 1u);
  EXPECT_EQ(wipe.secrets[0].via, graph::SecretDelivery::Via::Env);
  EXPECT_EQ(wipe.secrets[0].variable, "REDISCLI_AUTH");
  EXPECT_EQ(wipe.secrets[0].secret, "b_pw");
  EXPECT_EQ(wipe.script, "\"$MIG\" driver redis-wipe --db redis://redis.example:6379/3");

  const graph::Command& copy = node(g, "copy").run;
  std::map<std::string, std::string> variables;
  for (const auto& s : copy.secrets) variables[s.variable] = s.secret;
  EXPECT_EQ(variables, (std::map<std::string, std::string>{{"MIG_FROM_PASSWORD", "a_pw"},
                                                            {"MIG_TO_PASSWORD", "b_pw"}}));
  EXPECT_EQ(copy.endpoints, (std::vector<std::string>{"cache_a", "cache_b"}));

  // The copy's recover, for resume: the same endpoints and passwords.
  ASSERT_TRUE(node(g, "copy").recover);
  const graph::Command& recover = *node(g, "copy").recover;
  EXPECT_EQ(recover.script,
            "\"$MIG\" driver redis-copy-recover --from redis://10.0.0.7:6379/0 --to "
            "redis://redis.example:6379/3");
  std::map<std::string, std::string> recoverVariables;
  for (const auto& s : recover.secrets) recoverVariables[s.variable] = s.secret;
  EXPECT_EQ(recoverVariables, variables);
  EXPECT_FALSE(node(g, "wipe").recover);
}

// A hostile value must arrive as exactly one word, with nothing executed.
TEST(Lower, HostileValuesNeverBreakOutOfTheirWord) {
  fs::path dir = fs::temp_directory_path() / "mig-lower-hostile";
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::string marker = (dir / "pwned").string();
  std::vector<std::string> hostile = {
      "a'b",
      "x\" ; touch " + marker + " ; echo \"",
      "$(touch " + marker + ")",
      "`touch " + marker + "`",
      "; touch " + marker,
      "line1\\nline2 && touch " + marker,
      "${HOME} $HOME *",
      "-rf --no-preserve-root /",
  };
  for (const std::string& value : hostile) {
    std::string escaped;
    for (char c : value) {
      if (c == '"' || c == '$') escaped += '\\';
      escaped += c;
    }
    auto g = compile(plan("  target t postgres {\n"
                          "    host     \"" + escaped + "\"\n"
                          "    database \"d\"\n"
                          "  }\n",
                          "  phase testing {\n"
                          "    step show = sh(\"printf '<%s>' ${t.host}\")\n"
                          "  }\n"));
    const std::string& script = node(g, "show").run.script;
    auto result = testing::runCommand("bash -c " + graph::shellQuote(script));
    std::string expected = value;
    size_t at = expected.find("\\n");
    if (at != std::string::npos) expected.replace(at, 2, "\n");
    EXPECT_EQ(result.output, "<" + expected + ">") << script;
    EXPECT_FALSE(fs::exists(marker)) << "executed: " << script;
  }
  fs::remove_all(dir);
}

TEST(Lower, ListsInterpolateAsOneWordPerElement) {
  auto g = compile("import \"std/postgres\"\nimport \"std/acl\"\nplan p {\n"
                   "  target t postgres {\n    host \"h\"\n    database \"d\"\n  }\n"
                   "  acl t {\n    allow \"10.0.0.0/8\" \"office\"\n    allow \"2001:db8::/32\"\n  }\n"
                   "  phase testing {\n    step v = acl.verify(target: t)\n  }\n}\n");
  EXPECT_NE(node(g, "v").run.script.find("-- 10.0.0.0/8 2001:db8::/32"), std::string::npos)
      << node(g, "v").run.script;
}

TEST(Lower, CommandArgumentsAreQuotedAsOneWordWhenInserted) {
  auto g = compile(plan(kPostgresPair, "  phase verification {\n"
                                       "    step up = wait.until(cmd: \"pg_isready -h ${new_db.host}\", timeout: 2m)\n"
                                       "  }\n"),
                   "p.mig");
  const std::string& script = node(g, "up").run.script;
  EXPECT_NE(script.find("until bash -c 'pg_isready -h pg.example'; do"), std::string::npos) << script;
  EXPECT_NE(script.find("deadline=$(( $(date +%s) + 120 ))"), std::string::npos) << script;
  EXPECT_NE(script.find("sleep 5\n"), std::string::npos) << script;
}

TEST(Lower, BarriersOrderPhasesWithoutEdgesBetweenEveryPair) {
  std::string steps = "  phase preparation {\n";
  for (int i = 0; i < 5; ++i) steps += "    step a" + std::to_string(i) + " = sh(\"true\")\n";
  steps += "  }\n  phase testing {\n";
  for (int i = 0; i < 5; ++i) steps += "    step b" + std::to_string(i) + " = sh(\"true\")\n";
  steps += "    step b5 {\n      do    sh(\"true\")\n      after b0\n    }\n  }\n";
  auto g = compile(plan("", steps));
  ASSERT_EQ(g.phases.size(), 2u);
  EXPECT_EQ(node(g, "phase:preparation").after, std::vector<std::string>{});
  EXPECT_EQ(node(g, "a3").after, std::vector<std::string>{"phase:preparation"});
  EXPECT_EQ(node(g, "phase:testing").after,
            (std::vector<std::string>{"a0", "a1", "a2", "a3", "a4"}));
  EXPECT_EQ(node(g, "b0").after, std::vector<std::string>{"phase:testing"});
  EXPECT_EQ(node(g, "b5").after, std::vector<std::string>{"b0"});
  size_t edges = 0;
  for (const auto& n : g.nodes) edges += n.after.size();
  EXPECT_EQ(edges, 16u);  // 5 + 5 into the barrier and out of it, 5 + 1 in testing
}

TEST(Lower, NodesComeAfterEverythingTheyWaitFor) {
  auto g = compile(plan("", "  phase testing {\n"
                            "    step c {\n      do    sh(\"c\")\n      after b\n    }\n"
                            "    step b {\n      do    sh(\"b\")\n      after a\n    }\n"
                            "    step a = sh(\"a\")\n"
                            "  }\n"));
  std::set<std::string> seen;
  for (const auto& n : g.nodes) {
    for (const auto& dep : n.after) EXPECT_TRUE(seen.count(dep)) << n.id << " before " << dep;
    seen.insert(n.id);
  }
}

TEST(CompiledPlan, RoundTripsThroughJson) {
  auto g = compile(testing::readFile(testing::sourceDir() / "examples/northwind_both.mig"),
                   "examples/northwind_both.mig");
  std::string json = graph::toJson(g);
  std::string error;
  auto read = graph::fromJson(json, error);
  ASSERT_TRUE(read) << error;
  EXPECT_EQ(graph::toJson(*read), json);
}

TEST(CompiledPlan, MalformedDocumentsNameWhatIsWrong) {
  auto g = compile(plan("", "  phase testing {\n    step a = sh(\"a\")\n  }\n"));
  std::string json = graph::toJson(g);
  std::string error;
  EXPECT_FALSE(graph::fromJson("{", error));
  EXPECT_EQ(error, "not valid JSON");

  std::string edited = json;
  edited.replace(edited.find("\"retry\": 0"), 10, "\"retry\": \"x\"");
  EXPECT_FALSE(graph::fromJson(edited, error));
  EXPECT_EQ(error, "$.nodes[1].retry: expected an integer");

  edited = json;
  edited.replace(edited.find("\"script\": \"a\""), 13, "\"script\": \"rm -rf /\"");
  EXPECT_FALSE(graph::fromJson(edited, error));
  EXPECT_NE(error.find("the plan hash does not match"), std::string::npos);

  edited = json;
  edited.replace(edited.find("\"schemaVersion\": 1"), 18, "\"schemaVersion\": 9");
  EXPECT_FALSE(graph::fromJson(edited, error));
  EXPECT_NE(error.find("schema version 9 is not supported"), std::string::npos);
}

TEST(CompiledPlan, SameInputSameBytes) {
  std::string text = testing::readFile(testing::sourceDir() / "examples/acme_postgres.mig");
  EXPECT_EQ(graph::toJson(compile(text)), graph::toJson(compile(text)));
}

// ---------------------------------------------------------------- plan hash

std::string hashOf(const std::string& text) { return compile(text).planHash; }

std::string replaced(std::string text, const std::string& from, const std::string& to) {
  size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

TEST(PlanHash, IgnoresCommentsLayoutAndTitle) {
  std::string text = testing::readFile(testing::sourceDir() / "examples/acme_postgres.mig");
  std::string base = hashOf(text);
  EXPECT_EQ(base.rfind("sha256:", 0), 0u);
  EXPECT_EQ(base.size(), 7u + 64u);
  EXPECT_EQ(hashOf("# a new comment\n" + text), base);
  EXPECT_EQ(hashOf(replaced(text, "  retain 72h", "  retain    72h   # kept\n\n")), base);
  EXPECT_EQ(hashOf(replaced(text, "title  \"Acme:", "title  \"ACME Corp:")), base);

  std::string messy = replaced(replaced(text, "    step inventory = ", "\n\n      step   inventory   =   "),
                               "  phase testing {", "  phase testing {  # tests");
  EXPECT_EQ(hashOf(messy), base);
}

TEST(PlanHash, ChangesWithEveryPartOfTheMeaning) {
  std::string text = testing::readFile(testing::sourceDir() / "examples/acme_postgres.mig");
  std::string base = hashOf(text);
  std::vector<std::pair<std::string, std::string>> edits = {
      {"timeout 4h", "timeout 5h"},                       // a step
      {"retry   2", "retry   3"},                         // a step
      {"curl -fsS https://acme.example/health", "curl -fsS https://acme.example/healthz"},
      {"length   2h", "length   3h"},                     // a window
      {"timezone \"America/Chicago\"", "timezone \"America/Denver\""},
      {"allow \"203.0.113.7\"", "allow \"203.0.113.8\""},  // an ACL
      {"host     \"10.0.0.5\"", "host     \"10.0.0.6\""},  // an endpoint
      {"retain 72h", "retain 96h"},                       // retention
      {"from env(\"ACME_OLD_PG_PASSWORD\")", "from env(\"ACME_PG_PASSWORD\")"},
  };
  for (const auto& [from, to] : edits) {
    EXPECT_NE(hashOf(replaced(text, from, to)), base) << from << " -> " << to;
  }
  EXPECT_NE(hashOf(replaced(text, "      after counts\n", "      after final_copy\n")), base);
}

TEST(Lower, HostsAndTheHostOfEachStepReachTheGraphAndSurviveJson) {
  graph::Graph g = compile(
      plan("  host bastion {\n    address \"bastion.example\"\n"
           "    host_key \"ssh-ed25519 "
           "AAAAC3NzaC1lZDI1NTE5AAAAIMupWECc6ISH3hznLBB7nKKr0ZfJ55QWns5rJ8XWLHV7\"\n"
           "  }\n"
           "  host app1 {\n    address \"10.0.0.7\"\n    port 2222\n    user \"deploy\"\n"
           "    identity \"/k/deploy\"\n    known_hosts \"/k/known\"\n    jump bastion\n  }\n",
           "  phase switchover {\n    on app1\n    step stop = sh(\"systemctl stop shop\")\n"
           "    step here {\n      do sh(\"true\")\n    }\n  }\n"));
  ASSERT_EQ(g.hosts.size(), 2u);
  const graph::Host& app1 = g.hosts[1];
  EXPECT_EQ(app1.address, "10.0.0.7");
  EXPECT_EQ(app1.port, 2222);
  EXPECT_EQ(app1.user, "deploy");
  EXPECT_EQ(app1.identity, "/k/deploy");
  EXPECT_EQ(app1.knownHosts, "/k/known");
  EXPECT_EQ(app1.jump, "bastion");
  EXPECT_EQ(node(g, "stop").host, "app1");
  // A phase's `on` is every step's in it: `here` says nothing of its own.
  EXPECT_EQ(node(g, "here").host, "app1");
  // The script is the command alone: how it reaches the host is the runtime's.
  EXPECT_EQ(node(g, "stop").run.script, "systemctl stop shop");

  std::string json = graph::toJson(g);
  std::string error;
  auto read = graph::fromJson(json, error);
  ASSERT_TRUE(read) << error;
  EXPECT_EQ(graph::toJson(*read), json);
  // The host is part of the plan's meaning: moving a step changes the hash.
  graph::Graph moved = g;
  for (graph::Node& n : moved.nodes) {
    if (n.id == "here") n.host = "";
  }
  EXPECT_NE(graph::computePlanHash(moved), g.planHash);
  // A compiled plan naming a host it does not declare is refused.
  std::string broken = json;
  broken.replace(broken.find("\"host\": \"app1\""), 14, "\"host\": \"app9\"");
  EXPECT_FALSE(graph::fromJson(broken, error));
  EXPECT_NE(error.find("host 'app9' is not declared"), std::string::npos) << error;
}

}  // namespace
}  // namespace mig
