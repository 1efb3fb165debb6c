#include "runtime/drivers/driver.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <exception>
#include <functional>

#include "runtime/nothing_changed.h"

namespace mig::drivers {

std::optional<std::string> DriverArgs::require(const std::string& name, std::ostream& err) const {
  auto it = options.find(name);
  if (it == options.end() || it->second.empty()) {
    err << "mig driver: missing --" << name << '\n';
    return std::nullopt;
  }
  return it->second;
}

std::optional<DriverArgs> parseDriverArgs(const std::vector<std::string>& args,
                                          std::string& error) {
  DriverArgs parsed;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& word = args[i];
    if (word == "--") {
      parsed.rest.assign(args.begin() + static_cast<long>(i) + 1, args.end());
      break;
    }
    if (!word.starts_with("--") || word.size() == 2) {
      error = fmt::format("unexpected argument '{}'", word);
      return std::nullopt;
    }
    if (i + 1 >= args.size()) {
      error = fmt::format("{} needs a value", word);
      return std::nullopt;
    }
    parsed.options[word.substr(2)] = args[++i];
  }
  return parsed;
}

void reportNothingChanged() {
  const char* path = std::getenv(kNothingChangedVariable);
  if (path == nullptr || *path == '\0') return;
  // The runtime believes only the step's own process: one command of a
  // script cannot speak for the commands before it.
  int fd = ::open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return;
  std::string pid = std::to_string(::getpid());
  [[maybe_unused]] ssize_t written = ::write(fd, pid.data(), pid.size());
  ::close(fd);
}

int refuseUnchanged(std::ostream& err, std::string_view driver, std::string_view action,
                    const std::vector<std::string>& problems) {
  err << driver << ": cannot " << action << "; nothing was changed:\n";
  for (const std::string& problem : problems) err << "  - " << problem << '\n';
  reportNothingChanged();
  return 1;
}

int runDriver(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  using Driver = std::function<int(const DriverArgs&, std::ostream&, std::ostream&)>;
  static const std::map<std::string, Driver> drivers = {
      {"postgres-copy", postgresCopy},
      {"postgres-restore", postgresRestore},
      {"postgres-wipe", postgresWipe},
      {"postgres-compare", postgresCompare},
      {"postgres-sync", postgresSync},
      {"postgres-unsync", postgresUnsync},
      {"postgres-cutover", postgresCutover},
      {"postgres-lag", postgresLag},
      {"pgbouncer-pause", pgbouncerPause},
      {"pgbouncer-resume", pgbouncerResume},
      {"pgbouncer-point", pgbouncerPoint},
      {"redis-copy", redisCopy},
      {"redis-compare", redisCompare},
      {"redis-sync", redisSync},
      {"redis-unsync", redisUnsync},
      {"redis-cutover", redisCutover},
      {"redis-wipe", redisWipe},
      {"redis-copy-recover", redisCopyRecover},
      {"redis-inventory", redisInventory},
      {"mysql-inventory", mysqlInventory},
      {"mysql-copy", mysqlCopy},
      {"mysql-dump", mysqlDump},
      {"mysql-restore", mysqlRestore},
      {"mysql-wipe", mysqlWipe},
      {"mysql-analyze", mysqlAnalyze},
      {"mysql-compare", mysqlCompare},
      {"acl-verify",
       [](const DriverArgs& parsed, std::ostream& o, std::ostream& e) {
         auto kind = parsed.require("kind", e);
         if (!kind) return 2;
         if (*kind == "postgres") return postgresAclVerify(parsed, o, e);
         if (*kind == "redis") return redisAclVerify(parsed, o, e);
         if (*kind == "mysql") return mysqlAclVerify(parsed, o, e);
         e << "mig driver acl-verify: cannot verify ACLs of kind '" << *kind << "'\n";
         return 2;
       }},
  };
  if (args.empty()) {
    err << "mig driver: name a driver:";
    for (const auto& [name, driver] : drivers) err << ' ' << name;
    err << '\n';
    return 2;
  }
  auto driver = drivers.find(args[0]);
  if (driver == drivers.end()) {
    err << "mig driver: unknown driver '" << args[0] << "'\n";
    return 2;
  }
  std::string error;
  auto parsed = parseDriverArgs({args.begin() + 1, args.end()}, error);
  if (!parsed) {
    err << "mig driver " << args[0] << ": " << error << '\n';
    return 2;
  }
  // A driver outlives the reader of its output (a runner killed with
  // kill -9): its writes fail instead of killing it with SIGPIPE, so that
  // it finishes, or puts back what it changed when it is stopped, rather
  // than dying halfway (redis-copy with the target replicating). Programs
  // it starts get SIGPIPE back (subprocess.cpp, pipeline.cpp).
  std::signal(SIGPIPE, SIG_IGN);
  // No exception leaves a driver: allocation or a thread that cannot start
  // is a message and exit code 1, like any other failure.
  try {
    return driver->second(*parsed, out, err);
  } catch (const std::exception& exception) {
    err << "mig driver " << args[0] << ": " << exception.what() << '\n';
    return 1;
  }
}

}  // namespace mig::drivers
