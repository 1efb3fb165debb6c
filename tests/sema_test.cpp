// Semantic checks that the per-rule goldens do not pin down: module
// resolution, data flow, rendering of endpoint fields, value validation.
#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "compiler/sema/compilation.h"
#include "test_support.h"

namespace mig {
namespace {

namespace fs = std::filesystem;
using testing::lintText;

// A small complete plan around `phases`, clean apart from what they add.
std::string planWith(std::string_view extra, std::string_view phases) {
  return std::string(
             "import \"std/postgres\"\n"
             "import \"std/acl\"\n"
             "plan p {\n"
             "  retain 72h\n"
             "  secret pw { from env(\"PW\") }\n"
             "  source a postgres {\n"
             "    host     \"10.0.0.1\"\n"
             "    database \"app\"\n"
             "    password pw\n"
             "  }\n"
             "  target b postgres {\n"
             "    host     \"10.0.0.2\"\n"
             "    database \"app\"\n"
             "  }\n"
             "  acl b { allow \"10.1.0.0/24\" }\n") +
         std::string(extra) +
         "  phase testing {\n"
         "    step acl_check = acl.verify(target: b)\n"
         "  }\n"
         "  phase verification {\n"
         "    step health = sh(\"curl -fsS http://x/health ${a.host} ${b.host}\")\n"
         "  }\n" +
         std::string(phases) + "}\n";
}

TEST(Sema, MinimalPlanIsClean) {
  auto result = lintText("p.mig", planWith("", ""));
  EXPECT_EQ(result.text, "no problems found\n");
}

TEST(Sema, EndpointFieldsRenderWithKindDefaults) {
  sema::Compilation compilation(std::vector<std::string>{});
  const auto* file = compilation.addText("p.mig", planWith("", ""));
  ASSERT_TRUE(file->checked.plan);
  const sema::Endpoint* a = file->checked.plan->endpoint("a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->text.at("url"), "postgresql://postgres@10.0.0.1:5432/app");
  EXPECT_EQ(a->text.at("port"), "5432");
  ASSERT_NE(a->secret, nullptr);
  EXPECT_EQ(a->secret->name, "pw");
  EXPECT_EQ(a->secret->location, "PW");
}

TEST(Sema, DataFlowReferenceMakesADependency) {
  sema::Compilation compilation(std::vector<std::string>{});
  const auto* file = compilation.addText(
      "p.mig", planWith("", "  phase recovery {\n"
                            "    step dump    = postgres.dump(db: a, file: \"/tmp/a.dump\")\n"
                            "    step restore = postgres.restore(db: b, file: dump.file)\n"
                            "  }\n"));
  EXPECT_FALSE(compilation.diags().hasErrors());
  const sema::Step* restore = file->checked.plan->step("restore");
  ASSERT_NE(restore, nullptr);
  ASSERT_EQ(restore->dataFlow.size(), 1u);
  EXPECT_EQ(restore->dataFlow[0].step->name, "dump");
}

TEST(Sema, StepArgumentThatDoesNotExistIsUndefined) {
  auto result = lintText("p.mig", planWith("", "  phase recovery {\n"
                                               "    step dump    = postgres.dump(db: a, file: \"/tmp/a.dump\")\n"
                                               "    step restore = postgres.restore(db: b, file: dump.fil)\n"
                                               "  }\n"));
  EXPECT_NE(result.text.find("step 'dump' calls postgres.dump, which has no argument 'fil'"),
            std::string::npos)
      << result.text;
  EXPECT_NE(result.text.find("help: did you mean 'file'?"), std::string::npos) << result.text;
}

TEST(Sema, ModuleOfAnActionMustBeImported) {
  auto result = lintText("p.mig", planWith("", "  phase recovery {\n"
                                               "    step s = redis.wipe(db: b)\n"
                                               "  }\n"));
  EXPECT_NE(result.text.find("error: module 'redis' is not imported [undefined-reference]"),
            std::string::npos)
      << result.text;
  EXPECT_NE(result.text.find("help: add `import \"std/redis\"` at the top of the file"),
            std::string::npos);
}

TEST(Sema, WrongKindOfEndpointIsATypeMismatch) {
  auto result = lintText("p.mig", "import \"std/redis\"\n" +
                                      planWith("", "  phase recovery {\n"
                                                   "    step s = redis.wipe(db: b)\n"
                                                   "  }\n"));
  EXPECT_NE(result.text.find("expected redis endpoint, found 'b' of kind postgres [type-mismatch]"),
            std::string::npos)
      << result.text;
}

TEST(Sema, MissingArgumentPointsAtTheCall) {
  auto result = lintText("p.mig", planWith("", "  phase recovery {\n"
                                               "    step s = postgres.copy(from: a)\n"
                                               "  }\n"));
  EXPECT_NE(result.text.find("p.mig:23:14: error: postgres.copy is missing 'to' [missing-attribute]"),
            std::string::npos)
      << result.text;
}

TEST(Sema, UnknownArgumentSuggestsTheParameter) {
  auto result = lintText("p.mig", planWith("", "  phase recovery {\n"
                                               "    step s = postgres.copy(form: a, to: b)\n"
                                               "  }\n"));
  EXPECT_NE(result.text.find("postgres.copy has no parameter 'form' [unknown-attribute]"),
            std::string::npos)
      << result.text;
  EXPECT_NE(result.text.find("did you mean 'from'?"), std::string::npos);
}

TEST(Sema, MigPathOverridesTheStdlib) {
  fs::path dir = fs::temp_directory_path() / "mig-sema-test-path";
  testing::writeFile(dir / "std" / "postgres.mig",
                     "module postgres\n"
                     "kind postgres {\n"
                     "  host     string\n"
                     "  database string\n"
                     "  url      string = \"pg://${host}/${database}\"\n"
                     "}\n"
                     "action ping(db: postgres) {\n"
                     "  effect read\n"
                     "  run    \"pg_isready -d ${db.url}\"\n"
                     "}\n");
  sema::Compilation compilation({dir.string()});
  compilation.addText("p.mig",
                      "import \"std/postgres\"\n"
                      "plan p {\n"
                      "  target b postgres {\n"
                      "    host     \"h\"\n"
                      "    database \"d\"\n"
                      "  }\n"
                      "  phase testing {\n"
                      "    step s = postgres.ping(db: b)\n"
                      "  }\n"
                      "}\n");
  for (const auto& d : compilation.diags().diagnostics()) {
    EXPECT_NE(d.rule, diag::Rule::UndefinedReference) << d.message;
    EXPECT_NE(d.rule, diag::Rule::UnknownImport) << d.message;
  }
  fs::remove_all(dir);
}

TEST(Sema, UnknownImportSuggestsTheClosestModule) {
  auto result = lintText("p.mig", "import \"std/postgress\"\nplan p {\n  retain 72h\n}\n");
  EXPECT_NE(result.text.find("p.mig:1:8: error: unknown module 'std/postgress'"), std::string::npos)
      << result.text;
  EXPECT_NE(result.text.find("help: did you mean \"std/postgres\"?"), std::string::npos);
}

TEST(Sema, RelativeImportsResolveAgainstThePlansDirectory) {
  fs::path dir = fs::temp_directory_path() / "mig-sema-relative";
  testing::writeFile(dir / "lib" / "ops.mig",
                     "module ops\n"
                     "action page(team: string) {\n"
                     "  effect read\n"
                     "  run    \"pagerduty-notify --team ${team}\"\n"
                     "}\n");
  sema::Compilation compilation(std::vector<std::string>{});
  compilation.addText((dir / "plan.mig").string(),
                      "import \"./lib/ops\"\n"
                      "plan p {\n"
                      "  phase verification {\n"
                      "    step tell = ops.page(team: \"dba\")\n"
                      "  }\n"
                      "}\n");
  for (const auto& d : compilation.diags().diagnostics()) {
    EXPECT_NE(d.severity, diag::Severity::Error) << d.message;
  }
  fs::remove_all(dir);
}

// acl.verify checks postgres, redis and mysql; the ACL of a mongodb target is
// verified by a module action of effect acl, and the hint says so.
TEST(Sema, AclOfAKindAclVerifyCannotCheckIsVerifiedByAnAclAction) {
  fs::path dir = fs::temp_directory_path() / "mig-sema-acl-action";
  testing::writeFile(dir / "mongo_checks.mig",
                     "import \"std/mongodb\"\n"
                     "module mongo_checks\n"
                     "action acl(target: mongodb) {\n"
                     "  effect acl\n"
                     "  run    \"mongosh --quiet ${target.url} --eval 'db.getUsers()'\"\n"
                     "}\n");
  auto plan = [](std::string_view testing) {
    return std::string("import \"std/mongodb\"\n"
                       "import \"./mongo_checks\"\n"
                       "plan p {\n"
                       "  retain 72h\n"
                       "  source a mongodb {\n    url  \"mongodb://10.0.0.1:27017\"\n"
                       "    user \"app\"\n  }\n"
                       "  target b mongodb {\n    url  \"mongodb://10.0.0.2:27017\"\n"
                       "    user \"app\"\n  }\n"
                       "  acl b { allow \"10.1.0.0/24\" }\n"
                       "  phase migration {\n"
                       "    step copy {\n"
                       "      do   mongodb.copy(from: a, to: b)\n"
                       "      undo mongodb.wipe(db: b)\n"
                       "    }\n"
                       "  }\n"
                       "  phase testing {\n"
                       "    step parity = mongodb.compare(a: a, b: b)\n") +
           std::string(testing) +
           "  }\n"
           "  phase verification {\n"
           "    step health = sh(\"curl -fsS http://x/health\")\n"
           "  }\n"
           "}\n";
  };
  std::string path = (dir / "plan.mig").string();
  auto unverified = lintText(path, plan(""));
  bool hinted = false;
  for (const diag::Diagnostic& d : unverified.diagnostics) {
    if (d.rule != diag::Rule::AclNotVerified) continue;
    ASSERT_TRUE(d.fix);
    hinted = d.fix->message.find(
                 "acl.verify checks postgres, redis and mysql targets; for this "
                 "mongodb target, add a testing step whose action has `effect acl`") !=
             std::string::npos;
  }
  EXPECT_TRUE(hinted) << unverified.text;

  auto verified = lintText(path, plan("    step acl_b = mongo_checks.acl(target: b)\n"));
  EXPECT_EQ(verified.text, "no problems found\n");
  fs::remove_all(dir);
}

TEST(Sema, AFieldWithABadValueIsNotAlsoMissingAndAMissingOneIsReportedOnce) {
  auto result = lintText("p.mig",
                         "import \"std/postgres\"\n"
                         "plan p {\n"
                         "  source a postgres {\n"
                         "    host     \"10.0.0.1\"\n"
                         "    database 5\n"
                         "  }\n"
                         "  target b postgres {\n"
                         "    host     \"x${HOME}\"\n"
                         "    database \"app\"\n"
                         "  }\n"
                         "  target c postgres {\n"
                         "    database \"app\"\n"
                         "  }\n"
                         "}\n");
  std::vector<std::string> errors;
  std::istringstream lines(result.text);
  for (std::string line; std::getline(lines, line);) {
    if (line.find(": error: ") != std::string::npos) errors.push_back(line);
  }
  EXPECT_EQ(errors, (std::vector<std::string>{
                        "p.mig:5:14: error: expected a string, found the number 5 [type-mismatch]",
                        "p.mig:8:18: error: 'HOME' is not declared [undefined-reference]",
                        "p.mig:11:3: error: target 'c' (kind postgres) is missing 'host' "
                        "[missing-attribute]",
                    }))
      << result.text;
}

TEST(Sema, InterpolatingASecretIsRefusedWherever) {
  auto result = lintText("p.mig", planWith("", "  phase recovery {\n"
                                               "    step leak = sh(\"echo ${pw}\")\n"
                                               "    step leak2 = sh(\"echo ${a.password}\")\n"
                                               "  }\n"));
  int count = 0;
  for (const auto& d : result.diagnostics) count += d.rule == diag::Rule::SecretInCommand;
  EXPECT_EQ(count, 2) << result.text;
}

TEST(Sema, InterpolationInsideQuotesIsInvalid) {
  auto result = lintText("p.mig", planWith("", "  phase recovery {\n"
                                               "    step q1 = sh(\"psql -c '${a.host}'\")\n"
                                               "    step q2 = sh(\"echo \\\"${a.host}\\\"\")\n"
                                               "    step q3 = sh(\"echo ${a.host} 'it''s' # '${a.host}\")\n"
                                               "  }\n"));
  int count = 0;
  for (const auto& d : result.diagnostics) count += d.rule == diag::Rule::InvalidValue;
  EXPECT_EQ(count, 2) << result.text;
  EXPECT_NE(result.text.find("interpolation inside single quotes"), std::string::npos);
  EXPECT_NE(result.text.find("interpolation inside double quotes"), std::string::npos);
}

TEST(Sema, HereDocumentBodiesDoNotCountAsQuotes) {
  auto result = lintText("p.mig", planWith("", "  phase recovery {\n"
                                               "    step h = sh(\"\"\"\n"
                                               "psql ${b.url} <<'SQL'\n"
                                               "SELECT 'it''s';\n"
                                               "SQL\n"
                                               "echo ${a.host}\n"
                                               "\"\"\")\n"
                                               "  }\n"));
  EXPECT_FALSE(result.has(diag::Rule::InvalidValue)) << result.text;
}

TEST(Sema, WindowValuesAreValidated) {
  auto result = lintText("p.mig", planWith("  window w {\n"
                                           "    days     [sat, caturday]\n"
                                           "    start    \"25:00\"\n"
                                           "    length   0s\n"
                                           "    timezone \"Mars/Olympus\"\n"
                                           "  }\n",
                                           "  phase recovery {\n"
                                           "    window w\n"
                                           "    step s = sh(\"true\")\n"
                                           "  }\n"));
  EXPECT_NE(result.text.find("'caturday' is not a weekday"), std::string::npos) << result.text;
  EXPECT_NE(result.text.find("'25:00' is not a time of day"), std::string::npos);
  EXPECT_NE(result.text.find("a window's length must be longer than zero"), std::string::npos);
  EXPECT_NE(result.text.find("unknown time zone 'Mars/Olympus'"), std::string::npos);
}

TEST(Sema, AddressesAndNetworksAreValidated) {
  auto result = lintText("p.mig", "import \"std/postgres\"\n"
                                   "plan p {\n"
                                   "  target b postgres {\n"
                                   "    host     \"h\"\n"
                                   "    database \"d\"\n"
                                   "  }\n"
                                   "  acl b {\n"
                                   "    allow \"10.1.0.5/24\"\n"
                                   "    allow \"300.1.1.1\"\n"
                                   "    allow \"2001:db8::/129\"\n"
                                   "    allow \"fe80::1\"\n"
                                   "  }\n"
                                   "}\n");
  EXPECT_NE(result.text.find("'10.1.0.5/24' has host bits set below its /24 prefix; the network is "
                             "10.1.0.0/24"),
            std::string::npos)
      << result.text;
  EXPECT_NE(result.text.find("'300.1.1.1' is not an IPv4 or IPv6 address"), std::string::npos);
  EXPECT_NE(result.text.find("prefix length /129 is out of range for IPv6"), std::string::npos);
  int invalid = 0;
  for (const auto& d : result.diagnostics) invalid += d.rule == diag::Rule::InvalidValue;
  EXPECT_EQ(invalid, 3);
}

TEST(Sema, ModuleFilesAreCheckedOnTheirOwn) {
  auto result = lintText("lib.mig",
                         "module lib\n"
                         "kind thing {\n"
                         "  host string\n"
                         "  port integer\n"
                         "}\n"
                         "action poke(t: thing) {\n"
                         "  effect poke\n"
                         "  run    \"poke ${t.hots}\"\n"
                         "}\n");
  EXPECT_NE(result.text.find("unknown type 'integer'"), std::string::npos) << result.text;
  EXPECT_NE(result.text.find("'poke' is not one of read, write, compare, acl"), std::string::npos);
  EXPECT_NE(result.text.find("kind 'thing' of parameter 't' has no field 'hots'"), std::string::npos);
}

// A union's field may belong to some of its kinds (empty for the others);
// one that belongs to none is still an error, naming every kind.
TEST(Sema, AUnionsFieldMayBelongToSomeOfItsKinds) {
  auto result = lintText("lib.mig",
                         "module lib\n"
                         "kind small {\n"
                         "  host string\n"
                         "}\n"
                         "kind large {\n"
                         "  host  string\n"
                         "  users [string] = []\n"
                         "}\n"
                         "action poke(t: small|large) {\n"
                         "  effect read\n"
                         "  run    \"poke ${t.host} ${t.users} ${t.hosts}\"\n"
                         "}\n");
  EXPECT_EQ(result.text.find("no field 'users'"), std::string::npos) << result.text;
  EXPECT_NE(result.text.find("no kind of parameter 't' (small|large) has a field 'hosts'"),
            std::string::npos)
      << result.text;
}

// ---------------------------------------------------------------- online migration

// The diagnostics of `result` without their source lines and carets:
// headers, notes, hints and the summary, to compare whole.
std::vector<std::string> reported(const testing::LintResult& result) {
  std::vector<std::string> lines;
  std::istringstream text(result.text);
  for (std::string line; std::getline(text, line);) {
    if (!line.empty() && line[0] != ' ') lines.push_back(line);
  }
  return lines;
}

// The line of `result` that reports `rule`, and the line after it (its
// note or hint); empty when the rule was not reported.
std::vector<std::string> reportOf(const testing::LintResult& result, std::string_view rule) {
  std::vector<std::string> lines = reported(result);
  std::string tag = "[" + std::string(rule) + "]";
  for (size_t i = 0; i + 1 < lines.size(); ++i) {
    if (lines[i].ends_with(tag)) return {lines[i], lines[i + 1]};
  }
  return {};
}

// A plan that moves old_db to new_db online behind the pooler `pool`: the
// declarations, then `phases` from line 27 on.
std::string onlinePlan(std::string_view phases) {
  return std::string(
             "import \"std/postgres\"\n"
             "import \"std/pgbouncer\"\n"
             "plan online {\n"
             "  retain 72h\n"
             "  secret pool_pw { from env(\"POOL_PW\") }\n"
             "  source old_db postgres {\n"
             "    host     \"127.0.0.1\"\n"
             "    database \"shop\"\n"
             "  }\n"
             "  target new_db postgres {\n"
             "    host     \"127.0.0.2\"\n"
             "    database \"shop\"\n"
             "  }\n"
             "  endpoint pool pgbouncer {\n"
             "    host     \"127.0.0.1\"\n"
             "    user     \"pgbouncer\"\n"
             "    password pool_pw\n"
             "    database \"shop\"\n"
             "    config   \"/etc/pgbouncer/databases.ini\"\n"
             "  }\n"
             "  window sat_night {\n"
             "    days     [sat]\n"
             "    start    \"02:00\"\n"
             "    length   2h\n"
             "    timezone \"UTC\"\n"
             "  }\n") +
         std::string(phases) + "}\n";
}

// A sync in migration; pause, cutover, point and resume in a switchover
// bound to sat_night. Together, the online example of docs/language.md.
const char* const kSyncPhase =
    "  phase migration {\n"
    "    step sync {\n"
    "      do   postgres.sync(from: old_db, to: new_db)\n"
    "      undo postgres.unsync(from: old_db, to: new_db)\n"
    "    }\n"
    "  }\n";

const char* const kOnlineSwitchover =
    "  phase switchover {\n"
    "    window sat_night\n"
    "    step pause {\n"
    "      do   pgbouncer.pause(pool: pool)\n"
    "      undo pgbouncer.resume(pool: pool)\n"
    "    }\n"
    "    step cutover {\n"
    "      do    postgres.cutover(from: old_db, to: new_db)\n"
    "      after pause\n"
    "    }\n"
    "    step point {\n"
    "      do    pgbouncer.point(pool: pool, to: new_db)\n"
    "      undo  pgbouncer.point(pool: pool, to: old_db)\n"
    "      after cutover\n"
    "    }\n"
    "    step resume {\n"
    "      do    pgbouncer.resume(pool: pool)\n"
    "      undo  pgbouncer.pause(pool: pool)\n"
    "      after point\n"
    "    }\n"
    "  }\n";

// `text` with `from` replaced by `to`, which must be there.
std::string replaced(std::string text, std::string_view from, std::string_view to) {
  size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

TEST(Sema, EndpointIsDeclaredNeitherSourceNorTargetAndUsedByItsSteps) {
  sema::Compilation compilation(std::vector<std::string>{});
  const auto* file =
      compilation.addText("p.mig", onlinePlan(std::string(kSyncPhase) + kOnlineSwitchover));
  ASSERT_TRUE(file->checked.plan);
  const sema::Endpoint* pool = file->checked.plan->endpoint("pool");
  ASSERT_NE(pool, nullptr);
  EXPECT_EQ(pool->role, sema::EndpointRole::Other);
  EXPECT_FALSE(pool->isSource());
  EXPECT_FALSE(pool->isTarget());
  ASSERT_NE(pool->kind, nullptr);
  EXPECT_EQ(pool->kind->name, "pgbouncer");
  EXPECT_EQ(pool->text.at("url"), "postgresql://pgbouncer@127.0.0.1:6432/pgbouncer");
  ASSERT_NE(pool->secret, nullptr);
  EXPECT_EQ(pool->secret->name, "pool_pw");
  EXPECT_EQ(file->checked.usage.endpoints.count(pool), 1u);
}

TEST(Sema, UnusedEndpointIsReportedAsAnEndpoint) {
  auto result = lintText("p.mig", onlinePlan(kSyncPhase));
  std::vector<std::string> unused;
  for (const diag::Diagnostic& d : result.diagnostics) {
    if (d.rule == diag::Rule::UnusedDeclaration) unused.push_back(d.message);
  }
  EXPECT_EQ(unused, (std::vector<std::string>{"endpoint 'pool' is never used by a step",
                                              "window 'sat_night' is never used"}))
      << result.text;
}

TEST(Sema, EndpointOfAnUnknownKindIsUndefined) {
  auto misspelt =
      lintText("p.mig", replaced(onlinePlan(kSyncPhase), "pool pgbouncer", "pool pgbouncr"));
  EXPECT_EQ(reportOf(misspelt, "undefined-reference"),
            (std::vector<std::string>{"p.mig:14:17: error: kind 'pgbouncr' is not declared by any "
                                      "imported module [undefined-reference]",
                                      "help: did you mean 'pgbouncer'?"}))
      << misspelt.text;

  auto notImported =
      lintText("p.mig", replaced(onlinePlan(kSyncPhase), "import \"std/pgbouncer\"\n", ""));
  EXPECT_EQ(reportOf(notImported, "undefined-reference"),
            (std::vector<std::string>{"p.mig:13:17: error: kind 'pgbouncer' is not declared by "
                                      "any imported module [undefined-reference]",
                                      "help: add `import \"std/pgbouncer\"`"}))
      << notImported.text;
}

TEST(Sema, EndpointWithoutANameOrAKindIsMissingThem) {
  auto noName = lintText(
      "p.mig", replaced(onlinePlan(kSyncPhase), "endpoint pool pgbouncer {", "endpoint {"));
  EXPECT_EQ(reportOf(noName, "missing-attribute")[0],
            "p.mig:14:3: error: endpoint needs a name and a kind: `endpoint pool pgbouncer {` "
            "[missing-attribute]")
      << noName.text;
  auto noKind = lintText(
      "p.mig", replaced(onlinePlan(kSyncPhase), "endpoint pool pgbouncer {", "endpoint pool {"));
  EXPECT_EQ(reportOf(noKind, "missing-attribute"),
            (std::vector<std::string>{"p.mig:14:3: error: endpoint 'pool' needs a kind: "
                                      "`endpoint pool pgbouncer {` [missing-attribute]",
                                      "help: kinds imported here: pgbouncer, postgres"}))
      << noKind.text;
}

TEST(Sema, AclOfANonTargetSaysWhatItNames) {
  std::string plan = onlinePlan(std::string(kSyncPhase) + kOnlineSwitchover);
  plan = replaced(plan, "  window sat_night {\n",
                  "  acl pool { allow \"10.1.0.0/24\" }\n"
                  "  acl old_db { allow \"10.1.0.0/24\" }\n"
                  "  acl pool_pw { allow \"10.1.0.0/24\" }\n"
                  "  window sat_night {\n");
  std::vector<std::string> mismatches;
  for (const diag::Diagnostic& d : lintText("p.mig", plan).diagnostics) {
    if (d.rule == diag::Rule::TypeMismatch) mismatches.push_back(d.message);
  }
  EXPECT_EQ(mismatches,
            (std::vector<std::string>{
                "an ACL belongs to a target; 'pool' is an endpoint, neither source nor target",
                "an ACL belongs to a target; 'old_db' is a source",
                "an ACL belongs to a target; 'pool_pw' is a secret",
            }));
}

// cutover is `undone_with sync`: the sync's undo (unsync) covers it, when
// there is one, for the same endpoints.
TEST(Sema, CutoverNeedsNoUndoWhenItsSyncHasOne) {
  auto covered = lintText("p.mig", onlinePlan(std::string(kSyncPhase) + kOnlineSwitchover));
  EXPECT_FALSE(covered.has(diag::Rule::IrreversibleStep)) << covered.text;

  std::string noUnsync = replaced(onlinePlan(std::string(kSyncPhase) + kOnlineSwitchover),
                                  "      undo postgres.unsync(from: old_db, to: new_db)\n", "");
  std::vector<std::string> irreversible;
  for (const std::string& line : reported(lintText("p.mig", noUnsync))) {
    if (line.find("[irreversible-step]") != std::string::npos || line.starts_with("help: add an") ||
        line.starts_with("help: postgres")) {
      irreversible.push_back(line);
    }
  }
  EXPECT_EQ(irreversible,
            (std::vector<std::string>{
                "p.mig:28:10: warning: migration step 'sync' changes something (postgres.sync) and "
                "has no undo: a rollback cannot reverse it [irreversible-step]",
                "help: add an `undo` that reverses it, like `undo postgres.unsync(from: old_db, "
                "to: new_db)`",
                "p.mig:38:10: warning: switchover step 'cutover' changes something "
                "(postgres.cutover) and has no undo: a rollback cannot reverse it "
                "[irreversible-step]",
                "help: postgres.cutover is undone by the undo of step 'sync' (postgres.sync), "
                "which has none: give that step an `undo`",
            }));
}

TEST(Sema, CutoverOfOtherEndpointsThanTheSyncNeedsItsOwnUndo) {
  std::string plan = onlinePlan(std::string(kSyncPhase) + kOnlineSwitchover);
  plan = replaced(plan, "  window sat_night {\n",
                  "  target other_db postgres {\n"
                  "    host     \"127.0.0.3\"\n"
                  "    database \"shop\"\n"
                  "  }\n"
                  "  window sat_night {\n");
  plan = replaced(plan, "do    postgres.cutover(from: old_db, to: new_db)",
                  "do    postgres.cutover(from: old_db, to: other_db)");
  auto result = lintText("p.mig", plan);
  std::vector<std::string> irreversible;
  for (const diag::Diagnostic& d : result.diagnostics) {
    if (d.rule == diag::Rule::IrreversibleStep) irreversible.push_back(d.message);
  }
  EXPECT_EQ(irreversible, (std::vector<std::string>{
                              "switchover step 'cutover' changes something (postgres.cutover) and "
                              "has no undo: a rollback cannot reverse it"}))
      << result.text;
}

TEST(Sema, UndoneWithMustNameAnActionOfTheModule) {
  const char* module =
      "module m\n"
      "kind thing {\n"
      "  host string\n"
      "}\n"
      "action cutover(from: thing, to: thing) {\n"
      "  effect      write\n"
      "  undone_with %s\n"
      "  run         \"cut ${from.host} ${to.host}\"\n"
      "}\n"
      "action sync(from: thing, to: thing) {\n"
      "  effect write\n"
      "  run    \"sync ${from.host} ${to.host}\"\n"
      "}\n";
  auto lint = [&](const char* undoneWith) {
    std::string text = module;
    return lintText("m.mig", replaced(text, "%s", undoneWith));
  };
  // Declared further down the file: fine.
  EXPECT_EQ(lint("sync").text, "no problems found\n");
  auto misspelt = lint("synk");
  EXPECT_EQ(reported(misspelt),
            (std::vector<std::string>{
                "m.mig:7:15: error: module 'm' has no action 'synk' for action 'cutover' to be "
                "undone with [undefined-reference]",
                "help: did you mean 'sync'?",
                "1 error",
            }));
}

TEST(Sema, SyncCountsAsAWriteOfItsTargetForParity) {
  auto unchecked = lintText("p.mig", onlinePlan(std::string(kSyncPhase) + kOnlineSwitchover));
  EXPECT_TRUE(unchecked.has(diag::Rule::ParityUnchecked)) << unchecked.text;
  std::string compared =
      replaced(onlinePlan(std::string(kSyncPhase) + kOnlineSwitchover), "    step point {\n",
               "    step parity {\n"
               "      do    postgres.compare(a: old_db, b: new_db)\n"
               "      after cutover\n"
               "    }\n"
               "    step point {\n");
  auto checked = lintText("p.mig", compared);
  EXPECT_FALSE(checked.has(diag::Rule::ParityUnchecked)) << checked.text;
}

// The brief's example: no error, and none of the rules about reversibility
// and cutovers; what it lacks (a verification phase, an ACL, a compare of
// what the sync wrote) is reported.
TEST(Sema, OnlineMigrationWithAPoolerLintsWithoutErrors) {
  auto result = lintText("p.mig", onlinePlan(std::string(kSyncPhase) + kOnlineSwitchover));
  EXPECT_EQ(result.errors, 0u) << result.text;
  EXPECT_EQ(reported(result),
            (std::vector<std::string>{
                "p.mig:3:6: warning: plan 'online' has no verification phase: nothing checks the "
                "application after switchover [verification-missing]",
                "help: add `phase verification { step health = sh(\"curl -fsS "
                "https://.../health\") }`",
                "p.mig:10:10: warning: target 'new_db' has no ACL: nothing says which machines may "
                "reach it [acl-missing]",
                "help: add `acl new_db { allow \"10.0.0.0/24\" \"app servers\" }`",
                "p.mig:10:10: warning: target 'new_db' is written by step 'sync' but nothing "
                "compares it with its source before or during switchover [parity-unchecked]",
                "p.mig:28:10: note: written here",
                "help: add a compare step in testing or switchover, like `postgres.compare(a: "
                "SOURCE, b: new_db)`",
                "3 warnings",
            }));
}

TEST(Sema, SyncWithoutCutoverInSwitchoverIsAnError) {
  std::string noCutover = replaced(onlinePlan(std::string(kSyncPhase) + kOnlineSwitchover),
                                   "    step cutover {\n"
                                   "      do    postgres.cutover(from: old_db, to: new_db)\n"
                                   "      after pause\n"
                                   "    }\n",
                                   "");
  noCutover = replaced(noCutover, "after cutover", "after pause");
  auto result = lintText("p.mig", noCutover);
  std::vector<std::string> lines;
  for (const std::string& line : reported(result)) {
    if (line.find("error") != std::string::npos || line.starts_with("help: add `step")) {
      lines.push_back(line);
    }
  }
  EXPECT_EQ(lines, (std::vector<std::string>{
                       "p.mig:29:12: error: step 'sync' keeps 'new_db' a replica of 'old_db' "
                       "(postgres.sync), but no switchover step ends the replication with "
                       "postgres.cutover(from: old_db, to: new_db) [sync-without-cutover]",
                       "help: add `step cutover = postgres.cutover(from: old_db, to: new_db)` to "
                       "the switchover phase, after the step that holds the application's writes",
                       "1 error, 3 warnings",
                   }))
      << result.text;
}

TEST(Sema, CutoverOfOtherEndpointsOrInAnotherPhaseDoesNotEndTheSync) {
  std::string plan = onlinePlan(std::string(kSyncPhase) + kOnlineSwitchover);
  std::string swapped = replaced(plan, "do    postgres.cutover(from: old_db, to: new_db)",
                                 "do    postgres.cutover(from: new_db, to: old_db)");
  EXPECT_TRUE(lintText("p.mig", swapped).has(diag::Rule::SyncWithoutCutover));

  // The cutover moved to the migration phase: a note points at it.
  std::string early = replaced(plan,
                               "    step cutover {\n"
                               "      do    postgres.cutover(from: old_db, to: new_db)\n"
                               "      after pause\n"
                               "    }\n",
                               "");
  early = replaced(early, "after cutover", "after pause");
  early = replaced(early, "      undo postgres.unsync(from: old_db, to: new_db)\n    }\n",
                   "      undo postgres.unsync(from: old_db, to: new_db)\n    }\n"
                   "    step cutover {\n"
                   "      do    postgres.cutover(from: old_db, to: new_db)\n"
                   "      after sync\n"
                   "    }\n");
  auto result = lintText("p.mig", early);
  std::vector<std::string> lines;
  for (const std::string& line : reported(result)) {
    if (line.find("sync-without-cutover") != std::string::npos ||
        line.find("cutover-outside-window") != std::string::npos ||
        line.find(": note: a cutover") != std::string::npos) {
      lines.push_back(line);
    }
  }
  EXPECT_EQ(lines, (std::vector<std::string>{
                       "p.mig:29:12: error: step 'sync' keeps 'new_db' a replica of 'old_db' "
                       "(postgres.sync), but no switchover step ends the replication with "
                       "postgres.cutover(from: old_db, to: new_db) [sync-without-cutover]",
                       "p.mig:32:10: note: a cutover of the same endpoints is in the migration "
                       "phase",
                       "p.mig:32:10: warning: step 'cutover' cuts over (postgres.cutover) in the "
                       "migration phase: a cutover belongs in the switchover phase, in its "
                       "maintenance window [cutover-outside-window]",
                   }))
      << result.text;
}

TEST(Sema, RedisSyncNeedsARedisCutover) {
  std::string plan =
      "import \"std/redis\"\n"
      "plan p {\n"
      "  retain 72h\n"
      "  source a redis {\n    host \"10.0.0.1\"\n  }\n"
      "  target b redis {\n    host \"10.0.0.2\"\n  }\n"
      "  phase migration {\n"
      "    step sync {\n"
      "      do   redis.sync(from: a, to: b)\n"
      "      undo redis.unsync(from: a, to: b)\n"
      "    }\n"
      "  }\n"
      "}\n";
  std::vector<std::string> errors;
  for (const diag::Diagnostic& d : lintText("p.mig", plan).diagnostics) {
    if (d.severity == diag::Severity::Error) errors.push_back(d.message);
  }
  EXPECT_EQ(errors, (std::vector<std::string>{
                        "step 'sync' keeps 'b' a replica of 'a' (redis.sync), but no switchover "
                        "step ends the replication with redis.cutover(from: a, to: b)"}));
}

TEST(Sema, CutoverInAnUnboundSwitchoverIsOutsideAnyWindow) {
  std::string unbound = replaced(onlinePlan(std::string(kSyncPhase) + kOnlineSwitchover),
                                 "    window sat_night\n    step pause", "    step pause");
  unbound = replaced(unbound, "  window sat_night {", "  window spare {");
  auto result = lintText("p.mig", unbound);
  std::vector<std::string> lines;
  for (const std::string& line : reported(result)) {
    if (line.find("cutover-outside-window") != std::string::npos ||
        line.find("switchover-outside-window") != std::string::npos) {
      lines.push_back(line);
    }
  }
  EXPECT_EQ(lines, (std::vector<std::string>{
                       "p.mig:33:3: warning: the switchover phase is bound to no maintenance "
                       "window: it would cut over whenever the run reaches it "
                       "[switchover-outside-window]",
                       "p.mig:38:10: warning: switchover step 'cutover' cuts over "
                       "(postgres.cutover) outside any maintenance window: it would cut over "
                       "whenever the run reaches it [cutover-outside-window]",
                   }))
      << result.text;

  // A window of the step's own binds it.
  std::string stepBound = replaced(unbound, "      after pause\n    }\n    step point",
                                   "      after pause\n      window spare\n    }\n    step point");
  EXPECT_FALSE(lintText("p.mig", stepBound).has(diag::Rule::CutoverOutsideWindow));
}

TEST(Sema, FullCopyOrRestoreOfASyncedTargetInSwitchoverIsReported) {
  std::string plan = onlinePlan(std::string(kSyncPhase) + kOnlineSwitchover);
  std::string copied = replaced(plan, "    step cutover {\n",
                                "    step final_copy {\n"
                                "      do   postgres.copy(from: old_db, to: new_db)\n"
                                "      undo postgres.wipe(db: new_db)\n"
                                "    }\n"
                                "    step cutover {\n");
  auto result = lintText("p.mig", copied);
  std::vector<std::string> lines;
  for (const std::string& line : reported(result)) {
    if (line.find("copy-after-sync") != std::string::npos ||
        line.find(": note: '") != std::string::npos || line.starts_with("help: drop")) {
      lines.push_back(line);
    }
  }
  EXPECT_EQ(lines, (std::vector<std::string>{
                       "p.mig:40:12: warning: switchover step 'final_copy' replaces all of "
                       "'new_db' (postgres.copy), which step 'sync' keeps in sync: the copy throws "
                       "the live replica away and makes the window as long as a full copy "
                       "[copy-after-sync]",
                       "p.mig:28:10: note: 'new_db' is kept in sync with 'old_db' here",
                       "help: drop this step: postgres.cutover(from: old_db, to: new_db) ends the "
                       "sync in the window",
                   }))
      << result.text;

  std::string restored =
      replaced(plan, "    step cutover {\n",
               "    step final_restore {\n"
               "      do   postgres.restore(db: new_db, file: \"/backups/shop.dump\")\n"
               "      undo postgres.wipe(db: new_db)\n"
               "    }\n"
               "    step cutover {\n");
  EXPECT_TRUE(lintText("p.mig", restored).has(diag::Rule::CopyAfterSync));
}

TEST(Sema, CopiesBeforeTheSwitchoverOrOfOtherTargetsAreNotCopiesAfterSync) {
  std::string plan = onlinePlan(std::string(kSyncPhase) + kOnlineSwitchover);
  // A rehearsal copy in the migration phase, before the sync.
  std::string rehearsal = replaced(plan, "    step sync {\n",
                                   "    step rehearsal {\n"
                                   "      do   postgres.copy(from: old_db, to: new_db)\n"
                                   "      undo postgres.wipe(db: new_db)\n"
                                   "    }\n"
                                   "    step sync {\n");
  EXPECT_FALSE(lintText("p.mig", rehearsal).has(diag::Rule::CopyAfterSync));
  // A copy of the source's data to another target in the window.
  std::string other = replaced(plan, "  window sat_night {\n",
                               "  target reports postgres {\n"
                               "    host     \"127.0.0.4\"\n"
                               "    database \"reports\"\n"
                               "  }\n"
                               "  window sat_night {\n");
  other = replaced(other, "    step cutover {\n",
                   "    step reports_copy {\n"
                   "      do   postgres.copy(from: old_db, to: reports)\n"
                   "      undo postgres.wipe(db: reports)\n"
                   "    }\n"
                   "    step cutover {\n");
  EXPECT_FALSE(lintText("p.mig", other).has(diag::Rule::CopyAfterSync));
}

// ---------------------------------------------------------------- hosts

const char* kHost =
    "  host app1 {\n"
    "    address     \"10.0.0.7\"\n"
    "    user        \"deploy\"\n"
    "    known_hosts \"/etc/mig/known_hosts\"\n"
    "  }\n";

TEST(Sema, AStepRunsOnItsOwnHostOrItsPhases) {
  sema::Compilation compilation(std::vector<std::string>{});
  const auto* file = compilation.addText(
      "p.mig",
      planWith(std::string(kHost) +
                   "  host app2 {\n    address \"10.0.0.8\"\n    port 2222\n"
                   "    host_key \"ssh-ed25519 "
                   "AAAAC3NzaC1lZDI1NTE5AAAAIMupWECc6ISH3hznLBB7nKKr0ZfJ55QWns5rJ8XWLHV7\"\n"
                   "    jump app1\n  }\n",
               "  phase recovery {\n    on app1\n"
               "    step stop = sh(\"systemctl stop shop\")\n"
               "    step flip {\n      on app2\n      do sh(\"flip\")\n    }\n  }\n"));
  ASSERT_TRUE(file->checked.plan);
  EXPECT_FALSE(compilation.diags().hasErrors());
  const sema::Plan& plan = *file->checked.plan;
  ASSERT_EQ(plan.hosts.size(), 2u);
  EXPECT_EQ(plan.hosts[1]->port, 2222);
  EXPECT_EQ(plan.hosts[1]->jump, plan.hosts[0].get());
  EXPECT_EQ(plan.step("stop")->effectiveHost(), plan.hosts[0].get());
  EXPECT_EQ(plan.step("flip")->effectiveHost(), plan.hosts[1].get());
  EXPECT_EQ(plan.step("health")->effectiveHost(), nullptr);
}

TEST(Sema, BadHostsAreReportedWithTheirPosition) {
  auto result = lintText(
      "p.mig", planWith("  host h1 {\n"
                        "    address  \"deploy@10.0.0.7\"\n"
                        "    port     70000\n"
                        "    user     \"-oProxyCommand=x\"\n"
                        "    host_key \"ssh-ed25519 not base64!\"\n"
                        "    jump     h1\n"
                        "  }\n"
                        "  host h2 {\n"
                        "    known_hosts \"/k\"\n"
                        "    host_key    \"ssh-ed25519 "
                        "AAAAC3NzaC1lZDI1NTE5AAAAIMupWECc6ISH3hznLBB7nKKr0ZfJ55QWns5rJ8XWLHV7\"\n"
                        "    colour      \"blue\"\n"
                        "  }\n",
                        "  phase recovery {\n    on a\n"
                        "    step stop {\n      on h3\n      do sh(\"x ${h1}\")\n    }\n  }\n"));
  const std::string& text = result.text;
  EXPECT_NE(text.find("p.mig:17:14: error: an address is a host name or an IP address"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("p.mig:18:14: error: a port is a number from 1 to 65535"), std::string::npos)
      << text;
  EXPECT_NE(text.find("p.mig:19:14: error: 'user' cannot start with '-'"), std::string::npos)
      << text;
  EXPECT_NE(text.find("p.mig:20:14: error: a host key is written `TYPE BASE64`"), std::string::npos)
      << text;
  EXPECT_NE(text.find("p.mig:21:14: error: host 'h1' is reached through itself: h1 -> h1"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("p.mig:23:3: error: host 'h2' is missing 'address'"), std::string::npos)
      << text;
  EXPECT_NE(text.find("p.mig:25:5: error: host 'h2' pins its key with known_hosts or host_key, "
                      "not both"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("p.mig:26:5: error: host 'h2' has no attribute 'colour'"), std::string::npos)
      << text;
  EXPECT_NE(text.find("p.mig:35:8: error: 'a' is not a host: `on` names a `host` block "
                      "[unknown-host]"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("p.mig:37:10: error: host 'h3' is not declared [unknown-host]"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("help: did you mean 'h1'?"), std::string::npos) << text;
  EXPECT_NE(
      text.find(
          "p.mig:38:18: error: 'h1' is a host: run a step there with `on h1`, it is not a value"),
      std::string::npos)
      << text;
}

TEST(Sema, RemoteByHandFindsSshAndScpAsCommandsOnly) {
  auto lint = [](std::string_view command) {
    return lintText("p.mig", planWith(std::string(kHost),
                                      "  phase recovery {\n    on app1\n"
                                      "    step s = sh(\"" +
                                          std::string(command) + "\")\n  }\n"));
  };
  for (std::string_view command :
       {"ssh app1 uptime", "cd /x && scp a b:", "sudo -u deploy ssh x", "echo $(ssh x y)",
        "FOO=1 /usr/bin/ssh x", "true; sftp x", "if true; then ssh x y; fi"}) {
    EXPECT_TRUE(lint(command).has(diag::Rule::RemoteByHand)) << command;
  }
  for (std::string_view command :
       {"systemctl restart ssh", "echo ssh", "apt-get install -y openssh-client sshpass",
        "grep scp /etc/services", "ls ${b.host}"}) {
    EXPECT_FALSE(lint(command).has(diag::Rule::RemoteByHand)) << command;
  }
}

}  // namespace
}  // namespace mig
