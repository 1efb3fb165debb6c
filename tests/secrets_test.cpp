// Reading a plan's secrets before a run: what is refused, and that a
// refusal never shows the value.
#include "runtime/secrets.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "test_support.h"

namespace mig::runtime {
namespace {

namespace fs = std::filesystem;

graph::Graph planWithSecrets(const std::vector<graph::Secret>& secrets) {
  graph::Graph g;
  g.plan = "p";
  g.secrets = secrets;
  return g;
}

std::vector<std::string> namesOf(const graph::Graph& g) {
  std::vector<std::string> names;
  for (const graph::Secret& secret : g.secrets) names.push_back(secret.name);
  return names;
}

TEST(Secrets, RefusesValuesTooShortToRedactNamingOnlyTheSecretAndItsSource) {
  fs::path dir = fs::temp_directory_path() / ("mig-secrets-test-" + std::to_string(getpid()));
  fs::create_directories(dir);
  testing::writeFile(dir / "short.txt", "q7z\n");
  testing::writeFile(dir / "long.txt", "q7zk\n");
  setenv("MIG_SECRETS_TEST_SHORT", "b7q", 1);
  setenv("MIG_SECRETS_TEST_LONG", "b7qk", 1);
  graph::Graph g = planWithSecrets({
      {"env_short", "env", "MIG_SECRETS_TEST_SHORT"},
      {"env_long", "env", "MIG_SECRETS_TEST_LONG"},
      {"file_short", "file", (dir / "short.txt").string()},
      {"file_long", "file", (dir / "long.txt").string()},
  });
  std::vector<std::string> problems;
  SecretValues values = SecretValues::resolve(g, namesOf(g), problems);
  unsetenv("MIG_SECRETS_TEST_SHORT");
  unsetenv("MIG_SECRETS_TEST_LONG");
  fs::remove_all(dir);

  EXPECT_EQ(problems,
            (std::vector<std::string>{
                "secret env_short: the value of environment variable MIG_SECRETS_TEST_SHORT is "
                "shorter than 4 characters, too short to hide in output",
                "secret file_short: the value of file " + (dir / "short.txt").string() +
                    " is shorter than 4 characters, too short to hide in output",
            }));
  EXPECT_EQ(values.value("env_short"), nullptr);
  EXPECT_EQ(values.value("file_short"), nullptr);
  EXPECT_EQ(values.all(), (std::vector<std::string>{"b7qk", "q7zk"}));  // by name: env_, file_
}

TEST(Secrets, RefusesAnEmptyOrUnsetVariableAndAnEmptyFile) {
  fs::path dir = fs::temp_directory_path() / ("mig-secrets-empty-" + std::to_string(getpid()));
  fs::create_directories(dir);
  testing::writeFile(dir / "empty.txt", "\n");
  setenv("MIG_SECRETS_TEST_EMPTY", "", 1);
  unsetenv("MIG_SECRETS_TEST_UNSET");
  graph::Graph g = planWithSecrets({
      {"empty", "env", "MIG_SECRETS_TEST_EMPTY"},
      {"unset", "env", "MIG_SECRETS_TEST_UNSET"},
      {"blank", "file", (dir / "empty.txt").string()},
  });
  std::vector<std::string> problems;
  SecretValues::resolve(g, namesOf(g), problems);
  unsetenv("MIG_SECRETS_TEST_EMPTY");
  fs::remove_all(dir);

  EXPECT_EQ(problems, (std::vector<std::string>{
                          "secret empty: environment variable MIG_SECRETS_TEST_EMPTY is empty",
                          "secret unset: environment variable MIG_SECRETS_TEST_UNSET is not set",
                          "secret blank: file " + (dir / "empty.txt").string() + " is empty",
                      }));
}

// A MySQL endpoint's password reaches its command as a group of a 0600
// option file, escaped so that quotes, '#' and backslashes survive; the
// file goes when the process ends, or as a leftover of a dead runner.
TEST(Secrets, MysqlPasswordsTravelInAPrivateOptionFileGroupPerEndpoint) {
  fs::path folder = fs::temp_directory_path() / ("mig-secrets-" + std::to_string(::getpid()));
  fs::remove_all(folder);
  graph::Graph g = planWithSecrets({{"old_pw", "env", "X"}, {"new_pw", "env", "Y"}});
  SecretValues values;
  values.set("old_pw", "a\"b #c\\d");
  values.set("new_pw", "plain-new-pw");
  graph::Node node;
  node.id = "copy";
  graph::Command command;
  command.script = "true";
  for (const auto& [endpoint, secret] :
       std::vector<std::pair<std::string, std::string>>{{"shop_old", "old_pw"},
                                                        {"shop_new", "new_pw"},
                                                        {"shop_old", "old_pw"}}) {
    graph::SecretDelivery delivery;
    delivery.via = graph::SecretDelivery::Via::OptionFile;
    delivery.secret = secret;
    delivery.endpoint = endpoint;
    command.secrets.push_back(delivery);
  }
  RunPaths paths{folder.string(), (folder / "logs").string(), (folder / "tmp").string(), "mig",
                 (folder / "state.db").string()};
  SecretCommandPreparer preparer(g, values, paths);
  std::string error;
  auto request = preparer.prepare(node, command, "run", 1, error);
  ASSERT_TRUE(request) << error;
  std::string path;
  for (const auto& [name, value] : request->env) {
    if (name == "MIG_OPTION_FILE") path = value;
    EXPECT_EQ(value.find("plain-new-pw"), std::string::npos) << name;
  }
  ASSERT_FALSE(path.empty());
  EXPECT_EQ(fs::status(path).permissions() & fs::perms::all, fs::perms::owner_read | fs::perms::owner_write);
  // One group per endpoint, however often the command names it.
  EXPECT_EQ(testing::readFile(path),
            "[client-shop_old]\npassword=\"a\\\"b #c\\\\d\"\n"
            "[client-shop_new]\npassword=\"plain-new-pw\"\n");
  preparer.finished(*request);
  EXPECT_FALSE(fs::exists(path));

  auto leftover = preparer.prepare(node, command, "run", 2, error);
  ASSERT_TRUE(leftover) << error;
  EXPECT_EQ(removeLeftoverSecretFiles(paths.tempDir), 1);
  fs::remove_all(folder);
}

}  // namespace
}  // namespace mig::runtime
