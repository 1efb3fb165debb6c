#pragma once

#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

/// The built-in drivers behind `mig driver NAME ...`, which the stdlib's
/// commands call where a shell pipeline would not do (comparing two
/// databases, copying Redis keys binary-safe). Each is a small program:
/// arguments in, a report on stdout, problems on stderr, an exit code.
/// Passwords come from the environment the runtime gives the command
/// (PGPASSFILE for PostgreSQL; REDISCLI_AUTH or MIG_*_PASSWORD for Redis;
/// the option file MIG_OPTION_FILE for MySQL),
/// never from arguments.
namespace mig::drivers {

/// `--name value` options and the words after `--`.
struct DriverArgs {
  std::map<std::string, std::string> options;
  std::vector<std::string> rest;

  /// The option's value, or nullopt after printing "missing --NAME" to `err`.
  std::optional<std::string> require(const std::string& name, std::ostream& err) const;
};

/// Parses `--name value ... [-- rest...]`; nullopt with `error` set for a
/// malformed list.
std::optional<DriverArgs> parseDriverArgs(const std::vector<std::string>& args,
                                          std::string& error);

/// Runs driver `args[0]` with the rest of `args`. Exit codes: 0 success,
/// 1 the check or copy failed (differences, errors from the servers),
/// 2 usage (unknown driver, bad arguments).
int runDriver(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

/// Tells the runtime that this failing command changed nothing (see
/// runtime/nothing_changed.h); does nothing when run outside a step.
void reportNothingChanged();

/// Prints "DRIVER: cannot ACTION; nothing was changed:" and each problem on
/// a line of its own, reports that nothing changed, and returns 1.
int refuseUnchanged(std::ostream& err, std::string_view driver, std::string_view action,
                    const std::vector<std::string>& problems);

// The drivers, one per stdlib need. Each returns its exit code.
int postgresCopy(const DriverArgs& args, std::ostream& out, std::ostream& err);
int postgresRestore(const DriverArgs& args, std::ostream& out, std::ostream& err);
int postgresWipe(const DriverArgs& args, std::ostream& out, std::ostream& err);
int postgresCompare(const DriverArgs& args, std::ostream& out, std::ostream& err);
int postgresSync(const DriverArgs& args, std::ostream& out, std::ostream& err);
int postgresUnsync(const DriverArgs& args, std::ostream& out, std::ostream& err);
int postgresCutover(const DriverArgs& args, std::ostream& out, std::ostream& err);
int postgresLag(const DriverArgs& args, std::ostream& out, std::ostream& err);
int pgbouncerPause(const DriverArgs& args, std::ostream& out, std::ostream& err);
int pgbouncerResume(const DriverArgs& args, std::ostream& out, std::ostream& err);
int pgbouncerPoint(const DriverArgs& args, std::ostream& out, std::ostream& err);
int postgresAclVerify(const DriverArgs& args, std::ostream& out, std::ostream& err);
int mysqlAclVerify(const DriverArgs& args, std::ostream& out, std::ostream& err);
int redisCopy(const DriverArgs& args, std::ostream& out, std::ostream& err);
int redisCompare(const DriverArgs& args, std::ostream& out, std::ostream& err);
int redisSync(const DriverArgs& args, std::ostream& out, std::ostream& err);
int redisUnsync(const DriverArgs& args, std::ostream& out, std::ostream& err);
int redisCutover(const DriverArgs& args, std::ostream& out, std::ostream& err);
int redisWipe(const DriverArgs& args, std::ostream& out, std::ostream& err);
int redisCopyRecover(const DriverArgs& args, std::ostream& out, std::ostream& err);
int redisInventory(const DriverArgs& args, std::ostream& out, std::ostream& err);
int redisAclVerify(const DriverArgs& args, std::ostream& out, std::ostream& err);
int mysqlInventory(const DriverArgs& args, std::ostream& out, std::ostream& err);
int mysqlCopy(const DriverArgs& args, std::ostream& out, std::ostream& err);
int mysqlDump(const DriverArgs& args, std::ostream& out, std::ostream& err);
int mysqlRestore(const DriverArgs& args, std::ostream& out, std::ostream& err);
int mysqlWipe(const DriverArgs& args, std::ostream& out, std::ostream& err);
int mysqlAnalyze(const DriverArgs& args, std::ostream& out, std::ostream& err);
int mysqlCompare(const DriverArgs& args, std::ostream& out, std::ostream& err);

}  // namespace mig::drivers
