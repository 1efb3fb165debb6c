#pragma once

// Two throwaway MariaDB servers for the MySQL tests, started once per test
// program: `source` and `target`, each with a root password full of the
// characters option files and shells treat specially. The drivers run as
// the real `mig` binary, as the stdlib runs them, with the passwords in a
// 0600 option file (MIG_OPTION_FILE) the way the runtime writes it: group
// [client-source] and [client-target].

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "runtime/drivers/subprocess.h"
#include "runtime/option_file.h"
#include "tests/harness/servers.h"

#ifndef MIG_BINARY
#error "MIG_BINARY must name the mig binary"
#endif

namespace mig::testing {

// Quotes, a backslash, a hash (a comment in an option file), spaces and a
// semicolon: a password that survives these survives anything.
inline constexpr const char* kSourceRootPassword = R"(src "pw' #1\x;)";
inline constexpr const char* kTargetRootPassword = R"(tgt 'pw" #2\y;)";
inline constexpr const char* kWrongRootPassword = "wrong-root-5c1d";

class MysqlServers : public ::testing::Environment {
 public:
  void SetUp() override {
    std::string error;
    source = MariaDbServer::start(kSourceRootPassword, error);
    if (source) target = MariaDbServer::start(kTargetRootPassword, error);
    if (!source || !target) {
      // Tests check `source` alone: both or neither.
      source.reset();
      startError = error;
      return;
    }
    // Inside the source server's folder: whatever ends the test program,
    // the server's watchdog removes it with the server.
    folder = source->folder() + "/files";
    std::filesystem::create_directories(folder);
    optionFile = folder + "/passwords.cnf";
    wrongOptionFile = folder + "/wrong.cnf";
    writePrivateFile(
        optionFile,
        "[client-source]\npassword=" + runtime::optionFileValue(kSourceRootPassword) +
            "\n[client-target]\npassword=" + runtime::optionFileValue(kTargetRootPassword) + "\n",
        error);
    writePrivateFile(
        wrongOptionFile,
        "[client-source]\npassword=" + runtime::optionFileValue(kWrongRootPassword) +
            "\n[client-target]\npassword=" + runtime::optionFileValue(kWrongRootPassword) + "\n",
        error);
  }
  void TearDown() override {
    source.reset();
    target.reset();
  }

  std::unique_ptr<MariaDbServer> source;
  std::unique_ptr<MariaDbServer> target;
  std::string folder;           ///< files of the tests (the option files, dumps)
  std::string optionFile;       ///< the right passwords
  std::string wrongOptionFile;  ///< wrong passwords for both
  std::string startError;
};

/// What `mig driver ARGS` did.
struct DriverRun {
  int status = -1;
  std::string out;
  std::string err;
  std::string all() const { return out + err; }
};

/// Runs `mig driver` with `args` and MIG_OPTION_FILE set to `optionFile`
/// (none when empty).
inline DriverRun runMigDriver(const std::vector<std::string>& args, const std::string& optionFile) {
  drivers::SubprocessRequest request;
  request.argv = {MIG_BINARY, "driver"};
  request.argv.insert(request.argv.end(), args.begin(), args.end());
  if (optionFile.empty()) {
    request.unsetEnv = {"MIG_OPTION_FILE"};
  } else {
    request.env = {{"MIG_OPTION_FILE", optionFile}};
  }
  request.timeout = std::chrono::minutes(5);
  drivers::SubprocessResult result = drivers::runSubprocess(request);
  return {result.exitCode, result.out, result.err};
}

/// The arguments naming an endpoint for a driver: `--NAME URL
/// --NAME-endpoint ENDPOINT`.
inline std::vector<std::string> endpointArgs(const std::string& name, const std::string& url,
                                             const std::string& endpoint) {
  return {"--" + name, url, "--" + name + "-endpoint", endpoint};
}

/// Whether `text` shows either root password, or a part of one long enough
/// to identify it.
inline bool showsAPassword(const std::string& text) {
  for (const char* password : {kSourceRootPassword, kTargetRootPassword, kWrongRootPassword}) {
    std::string value = password;
    if (text.find(value) != std::string::npos) return true;
    if (text.find(value.substr(0, 6)) != std::string::npos) return true;
  }
  return false;
}

}  // namespace mig::testing
