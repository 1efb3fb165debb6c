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

}  // namespace
}  // namespace mig::runtime
