// redis-wipe: the undo of redis-copy (and a wipe of its own): the target
// emptied of what the copy wrote, as mig's own client sees the server's
// replies (redis-cli exits 0 on WRONGPASS, NOAUTH and READONLY), and put
// back as far as the copy's record beside the journal allows:
//
// - a copy by replication cut short (runner and driver killed while the
//   target replicated): the target a master again with its masterauth,
//   masteruser and repl-diskless-load as before, said first;
// - after a copy by replication, which wrote every database and the
//   functions: FLUSHALL; otherwise FLUSHDB of the URL's database;
// - the function libraries the copy replaced: as before mig's first copy
//   (FUNCTION RESTORE of the recorded payload, or none).
//
// A target that is a replica for another reason is refused before any
// change, naming its master: a replica refuses writes. A record is acted
// on only by the step that wrote it (its plan, step and run).
//
// Here too: the copy's record helpers (redis_sync.h) and redis-copy-recover,
// the `recover` of redis.copy that mig resume runs first.

#include <fmt/format.h>

#include <cstdlib>

#include "runtime/drivers/redis_sync.h"

namespace mig::drivers::redis {
namespace {

/// How long a cut-short replication may take to stand down: a target
/// loading a snapshot refuses REPLICAOF NO ONE until the load ends.
constexpr auto kRepairWithin = std::chrono::seconds(30);

/// What a copy record says the wipe of `db` must do beyond FLUSHDB.
struct WhatTheCopyWrote {
  bool everyDatabase = false;  ///< a copy by replication: FLUSHALL
  bool functions = false;      ///< the function libraries to put back
};

WhatTheCopyWrote whatTheCopyWrote(const std::optional<SyncRecord>& record, int db) {
  if (!record) return {};
  const bool everyDatabase = record->method == "replication";
  return {everyDatabase, record->functions && (everyDatabase || record->db == db)};
}

/// Refuses a target that is a replica (after any repair): "" or why.
std::string replicaRefusal(Connection& target, const Endpoint& endpoint) {
  std::string error;
  auto replication = info(target, "replication", error);
  if (!replication) return error;
  if (infoField(*replication, "role") == "master") return "";
  std::string ignored;
  std::string why =
      ", not made so by mig: run REPLICAOF NO ONE on it first if it should be a master";
  if (readSyncRecord(syncRecordPath(endpoint), ignored)) {
    why = ", made so by redis.sync: redis.unsync puts it back and empties it";
  } else if (auto copy = readSyncRecord(copyRecordPath(endpoint), ignored);
             copy && copy->replicating) {
    why = fmt::format(
        ", left so by a copy of another plan that was cut short (its record {} names {}): that "
        "plan's resume or rollback puts it back",
        copyRecordPath(endpoint), copy->owner.empty() ? "no plan" : shown(copy->owner));
  }
  return fmt::format("{} is {}{}: a replica refuses writes (READONLY)", endpoint.address(),
                     roleText(*replication), why);
}

/// The function libraries back as the record has them. "" or why not.
std::string putFunctionsBack(Connection& target, const SyncRecord& record, Reporter& reporter) {
  std::string error;
  auto now = functionLibraries(target, error);
  if (!now) return error;
  if (*now == record.functionsBefore) {
    reporter.say("function libraries as before the copy");
    return "";
  }
  // One command each way: a refused RESTORE leaves the libraries as they were.
  const bool restored =
      record.functionsBefore.empty()
          ? call(target, {"FUNCTION", "FLUSH", "SYNC"}, error).has_value()
          : call(target, {"FUNCTION", "RESTORE", record.functionsBefore, "FLUSH"}, error)
                .has_value();
  if (!restored) return error;
  reporter.say(record.functionsBefore.empty()
                   ? "function libraries the copy brought removed: the target had none"
                   : "function libraries put back as they were before the copy");
  return "";
}

}  // namespace

std::string copyOwner() {
  const auto variable = [](const char* name) {
    const char* value = std::getenv(name);
    return std::string(value == nullptr ? "" : value);
  };
  const std::string plan = variable("MIG_PLAN");
  if (plan.empty()) return "";
  return fmt::format("{} {}", plan, variable("MIG_RUN"));
}

bool ownRecord(const SyncRecord& record) {
  const std::string owner = copyOwner();
  return owner.empty() || record.owner == owner;
}

bool mayRepair(const SyncRecord& record) {
  const std::string owner = copyOwner();
  // Plan names are identifiers: the plan is what comes before the space.
  const auto plan = [](const std::string& text) { return text.substr(0, text.find(' ')); };
  return owner.empty() || plan(record.owner) == plan(owner);
}

std::optional<std::string> functionLibraries(Connection& server, std::string& error) {
  auto list = server.command({"FUNCTION", "LIST"});
  if (!list) {
    error = server.error();
    return std::nullopt;
  }
  if (unknownCommand(*list)) return "";
  if (list->isError()) {
    error = commandFailed("FUNCTION LIST", server, *list);
    return std::nullopt;
  }
  if (list->elements.empty()) return "";
  auto dump = call(server, {"FUNCTION", "DUMP"}, error);
  if (!dump) return std::nullopt;
  return std::move(dump->text);
}

std::optional<SyncRecord> readCopyRecord(const Endpoint& target, Reporter& reporter,
                                         std::string& error) {
  const std::string path = copyRecordPath(target);
  auto record = readSyncRecord(path, error);
  if (!record) return std::nullopt;
  if (record->method.empty() || record->target != target.address()) {
    error = fmt::format("{} is not the record of a copy into {}", path, target.address());
    return std::nullopt;
  }
  maskRecordedPassword(*record, reporter);
  return record;
}

std::string repairCutShortCopy(Connection& target, SyncRecord& record, Reporter& reporter) {
  if (!record.replicating || !mayRepair(record)) return "";
  const std::string path = copyRecordPath(target.endpoint());
  // Only a replica of the copy's source is the copy's doing.
  std::string error;
  auto replication = info(target, "replication", error);
  if (!replication) return error;
  if (infoField(*replication, "role") != "master") {
    // As Endpoint::address() writes it: an IPv6 host in brackets.
    const std::string host = infoField(*replication, "master_host");
    const std::string shownHost = host.find(':') != std::string::npos ? "[" + host + "]" : host;
    const std::string master =
        fmt::format("{}:{}", shownHost, infoField(*replication, "master_port"));
    if (master != record.source) {
      return fmt::format(
          "{} is {}, not of {} as the record of the copy cut short says: mig leaves it as it "
          "is; once it is as it should be, remove the record {}",
          target.endpoint().address(), roleText(*replication), record.source, path);
    }
  }
  reporter.say(fmt::format(
      "a copy by replication from {} into {} was cut short before it put the target back (its "
      "record: {}): putting it back now",
      record.source, target.endpoint().address(), path));
  if (std::string notBack =
          standDown(target, record, path, {Clock::now() + kRepairWithin, &reporter, true});
      !notBack.empty()) {
    return notBack;
  }
  record.replicating = false;
  record.settings.clear();
  if (std::string failure = writeSyncRecord(path, record); !failure.empty()) return failure;
  reporter.say(fmt::format(
      "{} is a master again, with its masterauth, masteruser and repl-diskless-load as before",
      target.endpoint().address()));
  return "";
}

}  // namespace mig::drivers::redis

namespace mig::drivers {

// redis-wipe: see the file comment and stdlib/std/redis.mig.
int redisWipe(const DriverArgs& args, std::ostream& out, std::ostream& err) {
  using namespace redis;
  Reporter reporter("redis-wipe", out, err);
  if (!onlyKnownOptions(args, {"db"}, reporter)) return 2;
  const auto db = oneServer(args, "db", "MIG_DB_PASSWORD", reporter, err);
  if (!db) return 2;
  const Endpoint* endpoint = &db->endpoint;
  const Password& password = db->password;
  std::string error;

  const auto unchanged = [&](const std::string& problem) {
    reporter.fail(problem + "; nothing was changed");
    reportNothingChanged();
    return 1;
  };
  auto target = openEndpoint(*endpoint, password, error);
  if (!target) return unchanged(error);
  std::optional<SyncRecord> record = readCopyRecord(*endpoint, reporter, error);
  if (!error.empty()) return unchanged(error);
  const bool repairing = record && record->replicating && mayRepair(*record);
  if (repairing) {
    if (std::string notBack = repairCutShortCopy(*target, *record, reporter); !notBack.empty()) {
      return reporter.fail(notBack);
    }
  }
  // Another copy's record (another plan's, an earlier run's) is not this
  // undo's to act on: it empties its database only.
  if (record && !ownRecord(*record)) record.reset();
  if (std::string refusal = replicaRefusal(*target, *endpoint); !refusal.empty()) {
    return repairing ? reporter.fail(refusal) : unchanged(refusal);
  }

  const WhatTheCopyWrote wrote = whatTheCopyWrote(record, endpoint->db);
  if (wrote.everyDatabase) {
    auto keys = allKeys(*target, error);
    if (!keys || !call(*target, {"FLUSHALL"}, error)) return reporter.fail(error);
    reporter.say(fmt::format(
        "emptied every database of {} ({}): the copy by replication from {} wrote them all",
        endpoint->address(), counted(static_cast<uint64_t>(keys->keys), "key", "keys"),
        record->source));
  } else {
    auto keys = dbSize(*target, error);
    if (!keys || !call(*target, {"FLUSHDB"}, error)) return reporter.fail(error);
    reporter.say(fmt::format("emptied {} ({})", endpoint->describe(),
                             counted(static_cast<uint64_t>(*keys), "key", "keys")));
  }
  if (wrote.functions) {
    if (std::string failure = putFunctionsBack(*target, *record, reporter); !failure.empty()) {
      return reporter.fail(failure);
    }
  }
  if (record && (wrote.everyDatabase || record->db == endpoint->db)) {
    if (std::string failure = removeSyncRecord(copyRecordPath(*endpoint)); !failure.empty()) {
      return reporter.fail(failure);
    }
  }
  return 0;
}

// redis-copy-recover: the `recover` of redis.copy, which mig resume runs
// before it decides about a copy that was interrupted: a copy by
// replication cut short (runner and driver killed) is put back, as the
// next copy or wipe would; anything else is left alone.
int redisCopyRecover(const DriverArgs& args, std::ostream& out, std::ostream& err) {
  using namespace redis;
  Reporter reporter("redis-copy-recover", out, err);
  if (!onlyKnownOptions(args, {"from", "to"}, reporter)) return 2;
  auto fromUrl = args.require("from", err);
  auto toUrl = args.require("to", err);
  if (!fromUrl || !toUrl) return 2;
  std::string error;
  auto to = parseUrl(*toUrl, error);
  if (!to) return reporter.fail("--to: " + error, 2);
  const Password password = passwordFromEnvironment("MIG_TO_PASSWORD");
  reporter.addSecret(password.value);
  // The target's masterauth while it replicates.
  reporter.addSecret(passwordFromEnvironment("MIG_FROM_PASSWORD").value);
  reporter.addEndpoint(*to);

  std::optional<SyncRecord> record = readCopyRecord(*to, reporter, error);
  if (!error.empty()) return reporter.fail(error);
  if (!record || !mayRepair(*record) || !record->replicating) {
    reporter.say(fmt::format(
        "nothing to recover: no record here of a copy into {} cut short while the target "
        "replicated (records are kept beside the journal of the machine that ran the copy)",
        to->address()));
    return 0;
  }
  auto target = openEndpoint(*to, password, error);
  if (!target) return reporter.fail(error);
  if (std::string notBack = repairCutShortCopy(*target, *record, reporter); !notBack.empty()) {
    return reporter.fail(notBack);
  }
  return 0;
}

}  // namespace mig::drivers
