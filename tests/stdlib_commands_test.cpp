// The exact commands and environment the stdlib's MySQL, MongoDB and
// Elasticsearch actions produce. There are no MongoDB or Elasticsearch
// servers here, so these tests pin their commands down (and check that
// bash accepts every script); docs/drivers.md says they were not run
// against live servers.
#include <gtest/gtest.h>

#include <filesystem>

#include "compiler/graph/json.h"
#include "compiler/graph/shell.h"
#include "compiler/lower/lower.h"
#include "test_support.h"

namespace mig {
namespace {

graph::Graph compile(const std::string& text) {
  sema::Compilation compilation(std::vector<std::string>{});
  const sema::CompiledFile* file = compilation.addText("p.mig", text);
  std::ostringstream out;
  diag::printText(out, compilation.sources(), compilation.diags().diagnostics());
  EXPECT_FALSE(compilation.diags().hasErrors()) << out.str();
  if (!file->checked.plan) return {};
  return lower::lowerPlan(*file->checked.plan, compilation.sources());
}

const graph::Command& run(const graph::Graph& g, const std::string& step) {
  const graph::Node* node = g.node(step);
  if (node == nullptr) throw std::runtime_error("no step " + step);
  return node->run;
}

std::map<std::string, std::string> secretVariables(const graph::Command& command) {
  std::map<std::string, std::string> out;
  for (const auto& delivery : command.secrets) {
    if (delivery.via == graph::SecretDelivery::Via::Env) out[delivery.variable] = delivery.secret;
  }
  return out;
}

void expectBashAccepts(const graph::Graph& g) {
  for (const graph::Node& node : g.nodes) {
    if (node.isBarrier()) continue;
    auto check = testing::runCommand("bash -n -c " + graph::shellQuote(node.run.script) + " 2>&1");
    EXPECT_EQ(check.exitCode, 0) << node.id << ": " << check.output << "\n" << node.run.script;
  }
}

std::map<std::string, std::string> optionFileGroups(const graph::Command& command) {
  std::map<std::string, std::string> out;
  for (const auto& delivery : command.secrets) {
    if (delivery.via == graph::SecretDelivery::Via::OptionFile) {
      out[delivery.endpoint] = delivery.secret;
    }
  }
  return out;
}

// The MySQL actions run mig's drivers (tested against live MariaDB servers
// in mysql_driver_test.cpp); here, that the plan's values and the
// endpoints' option-file groups reach them.
TEST(StdlibCommands, MySql) {
  auto g = compile(R"(import "std/mysql"
import "std/acl"
plan p {
  secret a_pw { from env("A") }
  secret b_pw { from env("B") }
  source a mysql {
    host     "db1.example"
    database "shop"
    user     "app"
    password a_pw
    users    ["shop_app", "shop_report"]
  }
  target b mysql {
    host     "db2.example"
    port     3307
    database "shop"
    password b_pw
  }
  acl b { allow "10.0.0.0/24" "web" }
  phase migration {
    step dump    = mysql.dump(db: a, file: "/backups/shop.sql")
    step restore = mysql.restore(db: b, file: dump.file)
    step copy    = mysql.copy(from: a, to: b, accounts: skip)
    step wipe    = mysql.wipe(db: b)
    step compare = mysql.compare(a: a, b: b)
    step acl     = acl.verify(target: b)
  }
}
)");
  EXPECT_EQ(run(g, "dump").script,
            "\"$MIG\" driver mysql-dump --db mysql://app@db1.example:3306/shop --db-endpoint a "
            "--file /backups/shop.sql");
  EXPECT_EQ(optionFileGroups(run(g, "dump")), (std::map<std::string, std::string>{{"a", "a_pw"}}));
  EXPECT_EQ(run(g, "restore").script,
            "\"$MIG\" driver mysql-restore --db mysql://root@db2.example:3307/shop --db-endpoint b "
            "--file /backups/shop.sql");
  const graph::Command& copy = run(g, "copy");
  EXPECT_EQ(copy.script,
            "\"$MIG\" driver mysql-copy --from mysql://app@db1.example:3306/shop --from-endpoint a "
            "--to mysql://root@db2.example:3307/shop --to-endpoint b --accounts skip "
            "--users shop_app,shop_report");
  // Each endpoint's password in a group of its own, never a variable.
  EXPECT_EQ(optionFileGroups(copy),
            (std::map<std::string, std::string>{{"a", "a_pw"}, {"b", "b_pw"}}));
  EXPECT_TRUE(secretVariables(copy).empty());
  EXPECT_EQ(run(g, "compare").script,
            "\"$MIG\" driver mysql-compare --a mysql://app@db1.example:3306/shop --a-endpoint a "
            "--b mysql://root@db2.example:3307/shop --b-endpoint b --rows compare "
            "--users shop_app,shop_report");
  // The target names no users: the option is there, empty.
  EXPECT_EQ(run(g, "acl").script,
            "\"$MIG\" driver acl-verify --kind mysql --url mysql://root@db2.example:3307/shop "
            "--url-endpoint b --users '' -- 10.0.0.0/24");
  expectBashAccepts(g);
  EXPECT_EQ(graph::toJson(g).find("password\":"), std::string::npos);
  EXPECT_NE(graph::toJson(g).find("\"via\": \"option_file\""), std::string::npos);
}

TEST(StdlibCommands, MongoDb) {
  auto g = compile(R"(import "std/mongodb"
plan p {
  secret a_pw { from env("A") }
  secret b_pw { from env("B") }
  source a mongodb {
    host     "mongo1.example"
    user     "admin"
    password a_pw
  }
  target b mongodb {
    url      "mongodb+srv://cluster0.example.net/?authSource=admin"
    user     "migrator"
    password b_pw
  }
  phase migration {
    step dump    = mongodb.dump(db: a, file: "/backups/all.archive.gz")
    step restore = mongodb.restore(db: b, file: "/backups/all.archive.gz")
    step copy    = mongodb.copy(from: a, to: b)
    step compare = mongodb.compare(a: a, b: b)
  }
}
)");
  EXPECT_EQ(run(g, "dump").script,
            "mongodump --uri='mongodb://mongo1.example:27017/?authSource=admin' --username=admin "
            "--config=<(printf 'password: \"%s\"\\n' \"$MIG_MONGODB_PASSWORD\") --gzip "
            "--archive=/backups/all.archive.gz\n");
  EXPECT_EQ(secretVariables(run(g, "dump")),
            (std::map<std::string, std::string>{{"MIG_MONGODB_PASSWORD", "a_pw"}}));
  EXPECT_NE(run(g, "restore").script.find("--uri='mongodb+srv://cluster0.example.net/?authSource=admin' "
                                          "--username=migrator"),
            std::string::npos)
      << run(g, "restore").script;
  EXPECT_NE(run(g, "copy").script.find("--archive |\n  mongorestore"), std::string::npos);
  EXPECT_EQ(secretVariables(run(g, "copy")), (std::map<std::string, std::string>{
                                                 {"MIG_FROM_PASSWORD", "a_pw"}, {"MIG_TO_PASSWORD", "b_pw"}}));
  expectBashAccepts(g);
}

TEST(StdlibCommands, Elasticsearch) {
  auto g = compile(R"(import "std/elasticsearch"
plan p {
  secret a_pw { from env("A") }
  secret b_pw { from env("B") }
  source a elasticsearch {
    host     "es1.example"
    password a_pw
  }
  target b elasticsearch {
    host     "es2.example"
    scheme   http
    port     9201
    password b_pw
  }
  phase migration {
    step dump    = elasticsearch.dump(db: a, file: "/backups/es")
    step restore = elasticsearch.restore(db: b, file: dump.file)
    step copy    = elasticsearch.copy(from: a, to: b)
    step compare = elasticsearch.compare(a: a, b: b)
  }
}
)");
  EXPECT_EQ(run(g, "dump").script,
            "multielasticdump --direction=dump --match='^[^.].*$' "
            "--includeType=data,mapping,settings --input=https://es1.example:9200 "
            "--output=/backups/es --httpAuthFile=<(printf 'user=%s\\npassword=%s\\n' elastic "
            "\"$MIG_ES_PASSWORD\")\n");
  EXPECT_NE(run(g, "restore").script.find("--output=http://es2.example:9201"), std::string::npos);
  const graph::Command& copy = run(g, "copy");
  EXPECT_NE(copy.script.find("from_url=https://es1.example:9200\n"), std::string::npos) << copy.script;
  EXPECT_NE(copy.script.find("_reindex?wait_for_completion=true&refresh=true"), std::string::npos);
  EXPECT_EQ(secretVariables(copy), (std::map<std::string, std::string>{
                                       {"MIG_FROM_PASSWORD", "a_pw"}, {"MIG_TO_PASSWORD", "b_pw"}}));
  EXPECT_EQ(copy.requiredCommands, (std::vector<std::string>{"curl", "jq"}));
  expectBashAccepts(g);
}

TEST(StdlibCommands, EveryExampleScriptIsValidBash) {
  for (const auto& entry : std::filesystem::directory_iterator(testing::sourceDir() / "examples")) {
    if (entry.path().extension() != ".mig") continue;
    auto g = compile(testing::readFile(entry.path()));
    expectBashAccepts(g);
  }
}

}  // namespace
}  // namespace mig
