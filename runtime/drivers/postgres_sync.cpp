// postgres-sync, postgres-unsync, postgres-cutover and postgres-lag: an
// online migration through PostgreSQL's logical replication. sync copies
// the schema as postgres-copy does, then publishes every table on the
// source and subscribes the target to it; the servers keep replicating
// after the driver exits. cutover, once the application's writes are
// held, waits for the target to catch up, checks it, and ends replication.
// unsync, the undo, removes whatever replication is left and wipes the
// target.
#include <fmt/format.h>

#include <chrono>
#include <future>
#include <thread>

#include "compiler/graph/sha256.h"
#include "runtime/drivers/driver.h"
#include "runtime/drivers/pg_client.h"
#include "runtime/drivers/postgres_copy.h"
#include "runtime/drivers/postgres_copy_plan.h"
#include "runtime/drivers/text.h"

namespace mig::drivers {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

/// One name for the publication, the subscription and the slot of a sync
/// from `from` to `to`, so that unsync and cutover find what sync made:
/// "mig_" and a digest of the two URLs (slot names allow [a-z0-9_], 63
/// characters).
std::string replicationName(const std::string& from, const std::string& to) {
  return "mig_" + graph::sha256Hex(from + '\n' + to).substr(0, 16);
}

/// A duration option (60000ms, 5s), or `fallback` when absent; nullopt
/// after a usage message.
std::optional<milliseconds> durationOption(const DriverArgs& args, const std::string& name,
                                           milliseconds fallback, std::string_view driver,
                                           std::ostream& err) {
  auto it = args.options.find(name);
  if (it == args.options.end()) return fallback;
  std::optional<int64_t> parsed = text::parseMilliseconds(it->second);
  if (!parsed) {
    err << driver << ": --" << name << " is a duration like 60000ms or 5s, not '" << it->second
        << "'\n";
    return std::nullopt;
  }
  return milliseconds(*parsed);
}

struct Endpoints {
  std::unique_ptr<pg::Connection> source;
  std::unique_ptr<pg::Connection> target;
};

/// Both ends, or every reason why not.
Result<Endpoints> connectBoth(const std::string& from, const std::string& to) {
  auto source = pg::Connection::open(from, "the source");
  auto target = pg::Connection::open(to, "the target");
  if (source && target) return Endpoints{std::move(*source), std::move(*target)};
  std::vector<std::string> problems;
  if (!source) problems.push_back(source.error());
  if (!target) problems.push_back(target.error());
  return Error{text::joined(problems, "\n  ")};
}

/// The rule a problem breaks, in front of it, as lint prints them, so that
/// `mig explain RULE` tells the operator more.
std::string ruleProblem(std::string_view rule, const std::string& problem) {
  return fmt::format("{}: {}", rule, problem);
}

/// What logical replication needs of the source: wal_level logical, a free
/// replication slot and WAL sender, a user that may publish every table and
/// replicate, every table able to replicate its updates and deletes (a
/// primary key or a replica identity), and no large objects (which logical
/// replication does not carry). And of the target: a user that may
/// subscribe (a superuser, on PostgreSQL 15).
std::vector<std::string> syncProblems(pg::Connection& source, pg::Connection& target,
                                      const std::string& name) {
  std::vector<std::string> problems;
  Result<pg::Rows> server = source.query(R"SQL(
SELECT current_setting('wal_level'),
       current_setting('max_replication_slots')::int
         - (SELECT count(*) FROM pg_replication_slots WHERE slot_name <> $1),
       current_setting('max_wal_senders')::int
         - (SELECT count(*) FROM pg_stat_replication),
       (SELECT rolsuper FROM pg_roles WHERE rolname = current_user),
       (SELECT rolsuper OR rolreplication FROM pg_roles WHERE rolname = current_user),
       (SELECT count(*) FROM pg_largeobject_metadata))SQL",
                                         {name});
  if (!server) return {"cannot read the source's settings: " + server.error()};
  if (server->text(0, 0) != "logical") {
    problems.push_back(ruleProblem(
        "wal-level", fmt::format("the source's wal_level is {}, not logical (set wal_level = "
                                 "logical and restart it)",
                                 server->text(0, 0))));
  }
  if (server->integer(0, 1) < 1) {
    problems.push_back(ruleProblem(
        "wal-level", "the source has no free replication slot (raise max_replication_slots)"));
  }
  if (server->integer(0, 2) < 1) {
    problems.push_back(
        ruleProblem("wal-level", "the source has no free WAL sender (raise max_wal_senders)"));
  }
  if (!server->boolean(0, 3)) {
    problems.push_back(fmt::format(
        "the source's user is not a superuser: it cannot publish every table (FOR ALL TABLES)"));
  } else if (!server->boolean(0, 4)) {
    problems.push_back("the source's user may not replicate (it needs REPLICATION)");
  }
  if (server->integer(0, 5) > 0) {
    problems.push_back(fmt::format(
        "the source holds {}: logical replication does not carry them (use postgres.copy)",
        text::counted(server->integer(0, 5), "large object")));
  }

  // REPLICA IDENTITY DEFAULT without a primary key, or NOTHING: updates
  // and deletes of such a table fail on the source once it is published.
  Result<pg::Rows> tables = source.query(R"SQL(
SELECT format('%I.%I', n.nspname, c.relname)
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind = 'r' AND c.relpersistence = 'p'
   AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_%'
   AND (c.relreplident = 'n'
        OR (c.relreplident = 'd'
            AND NOT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary)))
   AND NOT EXISTS (SELECT 1 FROM pg_depend d
                    WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
 ORDER BY 1)SQL");
  if (!tables) return {"cannot list the source's tables: " + tables.error()};
  if (!tables->empty()) {
    std::vector<std::string> names;
    for (int row = 0; row < tables->size(); ++row) names.push_back(tables->text(row, 0));
    problems.push_back(ruleProblem(
        "sync-needs-replica-identity",
        fmt::format("{} no primary key or replica identity, so logical replication cannot "
                    "carry their updates and deletes: {} (add a primary key, or ALTER TABLE "
                    "... REPLICA IDENTITY FULL)",
                    text::counted(static_cast<long long>(names.size()), "table has", "tables have"),
                    text::joined(names, ", "))));
  }

  Result<pg::Rows> subscriber =
      target.query("SELECT rolsuper FROM pg_roles WHERE rolname = current_user");
  if (!subscriber) return {"cannot read the target's user: " + subscriber.error()};
  if (subscriber->empty() || !subscriber->boolean(0, 0)) {
    problems.push_back("the target's user is not a superuser: it cannot create a subscription");
  }
  return problems;
}

/// Drops the subscription `name` on the target, if it is there: its
/// replication slot on the source goes with it (and the table-copy slots).
Status dropSubscription(pg::Connection& target, const std::string& name) {
  Result<pg::Rows> found =
      target.query("SELECT subenabled FROM pg_subscription WHERE subname = $1", {name});
  if (!found) return Error{"cannot look for the subscription: " + found.error()};
  if (found->empty()) return success();
  std::string subscription = target.identifier(name);
  // Disabled first, so that its workers stop before the slot is dropped.
  if (found->boolean(0, 0)) {
    Status disabled = target.execute(fmt::format("ALTER SUBSCRIPTION {} DISABLE", subscription));
    if (!disabled) return Error{"cannot disable subscription " + name + ": " + disabled.error()};
  }
  Status dropped = target.execute(fmt::format("DROP SUBSCRIPTION {}", subscription));
  if (!dropped) return Error{"cannot drop subscription " + name + ": " + dropped.error()};
  return success();
}

/// The publication and the replication slot `name` on the source, dropped
/// if they are there; the slot's WAL sender is stopped first.
Status dropPublicationAndSlot(pg::Connection& source, const std::string& name) {
  Status publication =
      source.execute(fmt::format("DROP PUBLICATION IF EXISTS {}", source.identifier(name)));
  if (!publication) return Error{"cannot drop publication " + name + ": " + publication.error()};
  for (int attempt = 0;; ++attempt) {
    Result<pg::Rows> slot = source.query(
        "SELECT active_pid, pg_terminate_backend(active_pid) FROM pg_replication_slots "
        "WHERE slot_name = $1",
        {name});
    if (!slot) return Error{"cannot look for replication slot " + name + ": " + slot.error()};
    if (slot->empty()) return success();
    if (slot->isNull(0, 0)) {
      Result<pg::Rows> dropped = source.query("SELECT pg_drop_replication_slot($1)", {name});
      if (dropped) return success();
      if (attempt >= 50) {
        return Error{"cannot drop replication slot " + name + ": " + dropped.error()};
      }
    }
    // Its WAL sender was told to stop; it lets go of the slot shortly.
    std::this_thread::sleep_for(milliseconds(100));
  }
}

/// Whether an earlier sync left its subscription, publication or slot.
Result<bool> replicationExists(pg::Connection& source, pg::Connection& target,
                               const std::string& name) {
  Result<pg::Rows> subscription =
      target.query("SELECT count(*) FROM pg_subscription WHERE subname = $1", {name});
  if (!subscription)
    return Error{"cannot look for subscription " + name + ": " + subscription.error()};
  Result<pg::Rows> published = source.query(
      "SELECT (SELECT count(*) FROM pg_publication WHERE pubname = $1) + "
      "(SELECT count(*) FROM pg_replication_slots WHERE slot_name = $1)",
      {name});
  if (!published) return Error{"cannot look for publication " + name + ": " + published.error()};
  return subscription->integer(0, 0) + published->integer(0, 0) > 0;
}

/// Where the initial copy stands: tables copied and ready, of all.
struct SyncState {
  long long tables = 0;
  long long ready = 0;
  long long errors = 0;  ///< table copy and apply errors since the subscription began
  bool enabled = true;
  bool workerRunning = false;
};

Result<SyncState> syncState(pg::Connection& target, const std::string& name) {
  Result<pg::Rows> rows = target.query(R"SQL(
SELECT (SELECT count(*) FROM pg_subscription_rel r WHERE r.srsubid = s.oid),
       (SELECT count(*) FROM pg_subscription_rel r WHERE r.srsubid = s.oid AND r.srsubstate IN ('r', 's')),
       coalesce((SELECT apply_error_count + sync_error_count FROM pg_stat_subscription_stats t
                  WHERE t.subid = s.oid), 0),
       s.subenabled,
       EXISTS (SELECT 1 FROM pg_stat_subscription w WHERE w.subid = s.oid AND w.relid IS NULL
                                                      AND w.pid IS NOT NULL)
  FROM pg_subscription s WHERE s.subname = $1)SQL",
                                       {name});
  if (!rows) return Error{"cannot read the subscription's state: " + rows.error()};
  if (rows->empty()) return Error{"subscription " + name + " is gone from the target"};
  return SyncState{rows->integer(0, 0), rows->integer(0, 1), rows->integer(0, 2),
                   rows->boolean(0, 3), rows->boolean(0, 4)};
}

/// The replication slot's position on the source against the source's
/// current WAL position: how far behind the target is.
struct Lag {
  bool slotFound = false;
  bool active = false;
  long long bytes = 0;
  double seconds = 0;  ///< since the target last reported applying (0 when caught up)
  /// The source's WAL insert position when read: past every commit record,
  /// also those of asynchronous commits not yet written out (the write
  /// position, pg_current_wal_lsn, may be short of them).
  std::string currentLsn;
  bool caughtUpTo = false;  ///< the slot has confirmed `lsn` (when one was asked about)
};

Result<Lag> readLag(pg::Connection& source, const std::string& name, const std::string& lsn = "") {
  Result<pg::Rows> rows = source.query(R"SQL(
SELECT s.active, pg_wal_lsn_diff(pg_current_wal_insert_lsn(), s.confirmed_flush_lsn)::bigint,
       coalesce(extract(epoch FROM r.replay_lag), 0), pg_current_wal_insert_lsn()::text,
       CASE WHEN $2 = '' THEN false ELSE s.confirmed_flush_lsn >= $2::pg_lsn END
  FROM pg_replication_slots s LEFT JOIN pg_stat_replication r ON r.pid = s.active_pid
 WHERE s.slot_name = $1)SQL",
                                       {name, lsn});
  if (!rows) return Error{"cannot read replication slot " + name + ": " + rows.error()};
  Lag lag;
  if (rows->empty()) return lag;
  lag.slotFound = true;
  lag.active = rows->boolean(0, 0);
  lag.bytes = std::max(0LL, rows->integer(0, 1));
  lag.seconds = std::stod(rows->text(0, 2));
  lag.currentLsn = rows->text(0, 3);
  lag.caughtUpTo = rows->boolean(0, 4);
  return lag;
}

std::string describeLag(const Lag& lag) {
  return fmt::format("{} bytes and {:.1f} s behind{}", text::withThousands(lag.bytes), lag.seconds,
                     lag.active ? "" : " (the target is not connected)");
}

/// Every table's exact row count, by qualified name.
Result<std::map<std::string, long long>> rowCounts(const std::string& url,
                                                   const std::string& role) {
  auto connection = pg::Connection::open(url, role);
  if (!connection) return Error{connection.error()};
  pg::Connection& db = **connection;
  Result<pg::Rows> tables = db.query(R"SQL(
SELECT format('%I.%I', n.nspname, c.relname)
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind = 'r' AND c.relpersistence = 'p'
   AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_%'
 ORDER BY 1)SQL");
  if (!tables) return Error{"cannot list the tables of " + role + ": " + tables.error()};
  // One snapshot for every count.
  Status begin = db.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
  if (!begin) return Error{begin.error()};
  std::map<std::string, long long> counts;
  for (int row = 0; row < tables->size(); ++row) {
    std::string table = tables->text(row, 0);
    Result<pg::Rows> count = db.query(fmt::format("SELECT count(*) FROM ONLY {}", table));
    if (!count) return Error{fmt::format("cannot count {} on {}: {}", table, role, count.error())};
    counts[table] = count->integer(0, 0);
  }
  return counts;
}

/// The differences between the two sides' counts, one line each.
std::vector<std::string> countDifferences(const std::map<std::string, long long>& source,
                                          const std::map<std::string, long long>& target) {
  std::vector<std::string> differences;
  for (const auto& [table, rows] : source) {
    auto it = target.find(table);
    if (it == target.end()) {
      differences.push_back(fmt::format("table {} is missing on the target", table));
    } else if (it->second != rows) {
      differences.push_back(fmt::format("table {}: {} rows on the source, {} on the target", table,
                                        text::withThousands(rows),
                                        text::withThousands(it->second)));
    }
  }
  for (const auto& [table, rows] : target) {
    if (!source.count(table)) {
      differences.push_back(fmt::format("table {} is on the target only", table));
    }
  }
  return differences;
}

/// The source's sequences' values set on the target, and its populated
/// materialized views refreshed there (logical replication carries
/// neither). Returns what it did, for the report.
Result<std::string> carryOver(pg::Connection& source, pg::Connection& target) {
  Result<pg::Rows> sequences = source.query(R"SQL(
SELECT format('%I.%I', schemaname, sequencename), last_value::text
  FROM pg_sequences WHERE last_value IS NOT NULL ORDER BY 1)SQL");
  if (!sequences) return Error{"cannot read the source's sequences: " + sequences.error()};
  std::string script = "BEGIN;\n";
  for (int row = 0; row < sequences->size(); ++row) {
    script += fmt::format("SELECT pg_catalog.setval({}, {}, true);\n",
                          target.literal(sequences->text(row, 0)), sequences->text(row, 1));
  }
  Result<pg::Rows> views = source.query(R"SQL(
SELECT format('%I.%I', schemaname, matviewname) FROM pg_matviews WHERE ispopulated ORDER BY 1)SQL");
  if (!views) return Error{"cannot read the source's materialized views: " + views.error()};
  for (int row = 0; row < views->size(); ++row) {
    script += fmt::format("REFRESH MATERIALIZED VIEW {};\n", views->text(row, 0));
  }
  script += "COMMIT;\n";
  Status carried = target.execute(script);
  if (!carried) return Error{"cannot set the target's sequences: " + carried.error()};
  return fmt::format("{} set, {} refreshed", text::counted(sequences->size(), "sequence"),
                     text::counted(views->size(), "materialized view"));
}

}  // namespace

int postgresSync(const DriverArgs& args, std::ostream& out, std::ostream& err) {
  auto from = args.require("from", err);
  auto to = args.require("to", err);
  if (!from || !to) return 2;
  auto options = copyOptions(args, "postgres-sync", err);
  if (!options) return 2;

  std::string name = replicationName(*from, *to);
  Result<Endpoints> ends = connectBoth(*from, *to);
  if (!ends) return refuseUnchanged(err, "postgres-sync", "sync", {ends.error()});
  pg::Connection& source = *ends->source;
  pg::Connection& target = *ends->target;
  std::string action = fmt::format("sync {} into {}", source.where(), target.where());

  std::vector<std::string> problems = syncProblems(source, target, name);
  if (!problems.empty()) return refuseUnchanged(err, "postgres-sync", action, problems);

  // A sync run again (after a crash, or --rerun) starts over: what an
  // earlier one left replicating goes first, before pg_dump reads the
  // schema (it would copy the publication too).
  Result<bool> earlier = replicationExists(source, target, name);
  if (!earlier) return refuseUnchanged(err, "postgres-sync", action, {earlier.error()});
  if (*earlier) {
    Status removed = dropSubscription(target, name);
    if (removed) removed = dropPublicationAndSlot(source, name);
    if (!removed) {
      err << "postgres-sync: cannot remove what an earlier sync left: " << removed.error() << '\n';
      return 1;
    }
    out << "removed the replication an earlier sync left (" << name << ")\n";
  }
  // Refuses to go on; after removing an earlier sync's replication,
  // something did change.
  auto refuse = [&](const std::vector<std::string>& why) {
    if (!*earlier) return refuseUnchanged(err, "postgres-sync", action, why);
    err << "postgres-sync: cannot " << action << ":\n";
    for (const std::string& problem : why) err << "  - " << problem << '\n';
    return 1;
  };

  // The schema is read in one snapshot, as a copy reads it.
  Status begin = source.execute(
      "SET idle_in_transaction_session_timeout = 0; "
      "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
  Result<pg::Rows> snapshot =
      begin ? source.query("SELECT pg_export_snapshot()") : Result<pg::Rows>(Error{begin.error()});
  if (!snapshot) return refuse({"the source: " + snapshot.error()});
  Result<pg::CopyPlan> plan = pg::planCopy(source, target, *options);
  if (!plan) return refuse({plan.error()});
  if (!plan->problems.empty()) return refuse(plan->problems);

  std::vector<std::string> dump = {"pg_dump",
                                   "--no-password",
                                   "--schema-only",
                                   "--no-subscriptions",
                                   "--snapshot=" + snapshot->text(0, 0),
                                   "--dbname=" + *from};
  if (options->owners == pg::CopyOptions::Owners::Reassign) dump.push_back("--no-owner");
  int loaded =
      load(*plan, target, *to, std::move(dump), {}, "postgres-sync", "schema copied", out, err);
  if (loaded != 0) return loaded;
  Status ended = source.execute("COMMIT");
  if (!ended) {
    err << "postgres-sync: the source: " << ended.error() << '\n';
    return 1;
  }

  Status published =
      source.execute(fmt::format("CREATE PUBLICATION {} FOR ALL TABLES", source.identifier(name)));
  if (!published) {
    err << "postgres-sync: cannot publish the source's tables: " << published.error() << '\n';
    return 1;
  }
  // The target logs in to the source as mig did. The connection string
  // stays in pg_subscription (superusers only); no message shows it. The
  // subscription applies with asynchronous commit, PostgreSQL's default:
  // with synchronous_commit on, the target would confirm sooner at the
  // cutover, but fall behind a busy source (88 MB behind at 1 GB with
  // pgbench's 4 clients, against 6 MB).
  std::string sourcePassword = source.password();
  Status subscribed = target.execute(fmt::format(
      "CREATE SUBSCRIPTION {} CONNECTION {} PUBLICATION {} WITH (slot_name = {}, copy_data = "
      "true)",
      target.identifier(name), target.literal(source.conninfoWithPassword()),
      target.identifier(name), target.literal(name)));
  if (!subscribed) {
    err << "postgres-sync: cannot subscribe the target to the source: "
        << text::redact(subscribed.error(), sourcePassword) << '\n';
    return 1;
  }
  out << fmt::format("replicating through publication, subscription and slot {}\n", name);

  auto started = Clock::now();
  auto lastReport = started;
  long long errorsAtStart = -1;
  for (;;) {
    Result<SyncState> state = syncState(target, name);
    if (!state) {
      err << "postgres-sync: " << state.error() << '\n';
      return 1;
    }
    if (errorsAtStart < 0) errorsAtStart = state->errors;
    if (!state->enabled) {
      err << "postgres-sync: subscription " << name
          << " was disabled on the target while the rows were copied (ALTER SUBSCRIPTION ... "
             "ENABLE goes on); replication was left in place for the undo (postgres.unsync) to "
             "remove\n";
      return 1;
    }
    if (state->errors > errorsAtStart) {
      err << fmt::format(
          "postgres-sync: the target reports {} while copying or applying (its server log "
          "says why); replication was left in place for the undo (postgres.unsync) to remove\n",
          text::counted(state->errors - errorsAtStart, "error"));
      return 1;
    }
    if (state->tables == state->ready && state->workerRunning) {
      double seconds = std::chrono::duration<double>(Clock::now() - started).count();
      out << fmt::format(
          "synced: {} copied in {:.1f} s; the target applies every change of "
          "the source until postgres.cutover ends it\n",
          text::counted(state->tables, "table"), seconds);
      return 0;
    }
    auto now = Clock::now();
    if (now - lastReport >= std::chrono::seconds(10)) {
      lastReport = now;
      out << fmt::format("copying: {} of {} tables ready ({:.0f} s)\n", state->ready, state->tables,
                         std::chrono::duration<double>(now - started).count())
          << std::flush;
    }
    std::this_thread::sleep_for(milliseconds(200));
  }
}

int postgresUnsync(const DriverArgs& args, std::ostream& out, std::ostream& err) {
  auto from = args.require("from", err);
  auto to = args.require("to", err);
  if (!from || !to) return 2;
  std::string name = replicationName(*from, *to);
  Result<Endpoints> ends = connectBoth(*from, *to);
  if (!ends) {
    err << "postgres-unsync: " << ends.error() << '\n';
    return 1;
  }
  Status subscription = dropSubscription(*ends->target, name);
  if (!subscription) {
    err << "postgres-unsync: " << subscription.error() << '\n';
    return 1;
  }
  Status publication = dropPublicationAndSlot(*ends->source, name);
  if (!publication) {
    err << "postgres-unsync: " << publication.error() << '\n';
    return 1;
  }
  out << "replication " << name << " removed from both servers\n";
  DriverArgs wipe;
  wipe.options["db"] = *to;
  return postgresWipe(wipe, out, err);
}

int postgresCutover(const DriverArgs& args, std::ostream& out, std::ostream& err) {
  auto from = args.require("from", err);
  auto to = args.require("to", err);
  if (!from || !to) return 2;
  auto catchUp =
      durationOption(args, "catch-up", std::chrono::seconds(60), "postgres-cutover", err);
  if (!catchUp) return 2;
  std::string name = replicationName(*from, *to);
  Result<Endpoints> ends = connectBoth(*from, *to);
  if (!ends) return refuseUnchanged(err, "postgres-cutover", "cut over", {ends.error()});
  pg::Connection& source = *ends->source;
  pg::Connection& target = *ends->target;
  std::string action = fmt::format("cut over from {} to {}", source.where(), target.where());

  Result<SyncState> state = syncState(target, name);
  if (!state) {
    return refuseUnchanged(
        err, "postgres-cutover", action,
        {state.error() + " (no postgres.sync from this source to this target is live)"});
  }
  if (state->ready != state->tables) {
    return refuseUnchanged(err, "postgres-cutover", action,
                           {fmt::format("the initial copy is not done: {} of {} tables ready",
                                        state->ready, state->tables)});
  }

  // Everything the source committed until now: the application's writes
  // are held, so nothing commits after it.
  auto started = Clock::now();
  Result<Lag> lag = readLag(source, name);
  if (!lag) return refuseUnchanged(err, "postgres-cutover", action, {lag.error()});
  if (!lag->slotFound) {
    return refuseUnchanged(err, "postgres-cutover", action,
                           {"replication slot " + name + " is not on the source"});
  }
  std::string goal = lag->currentLsn;
  long long behind = lag->bytes;
  // The source holds still from here on: its rows are counted while the
  // target catches up.
  auto sourceCounts = std::async(std::launch::async, rowCounts, *from, "the source");
  for (;;) {
    Result<Lag> now = readLag(source, name, goal);
    if (!now) return refuseUnchanged(err, "postgres-cutover", action, {now.error()});
    if (now->caughtUpTo) break;
    if (Clock::now() - started > *catchUp) {
      return refuseUnchanged(
          err, "postgres-cutover", action,
          {fmt::format("the target did not catch up with the source's {} within {} ms: it is "
                       "still {}; replication goes on",
                       goal, catchUp->count(), describeLag(*now))});
    }
    std::this_thread::sleep_for(milliseconds(20));
  }
  auto caughtUp = Clock::now();

  auto targetRows = rowCounts(*to, "the target");
  auto sourceRows = sourceCounts.get();
  if (!sourceRows || !targetRows) {
    std::vector<std::string> problems;
    if (!sourceRows) problems.push_back(sourceRows.error());
    if (!targetRows) problems.push_back(targetRows.error());
    return refuseUnchanged(err, "postgres-cutover", action, problems);
  }
  std::vector<std::string> differences = countDifferences(*sourceRows, *targetRows);
  if (!differences.empty()) {
    differences.push_back("replication goes on");
    return refuseUnchanged(err, "postgres-cutover", action, differences);
  }
  long long rows = 0;
  for (const auto& [table, count] : *sourceRows) rows += count;
  auto counted = Clock::now();

  Result<std::string> carried = carryOver(source, target);
  if (!carried) {
    err << "postgres-cutover: " << carried.error() << '\n';
    return 1;
  }
  Status subscription = dropSubscription(target, name);
  Status publication = subscription ? dropPublicationAndSlot(source, name) : subscription;
  if (!publication) {
    err << "postgres-cutover: " << publication.error() << '\n';
    return 1;
  }
  auto ms = [](Clock::duration d) { return std::chrono::duration_cast<milliseconds>(d).count(); };
  out << fmt::format(
      "cut over: caught up {} bytes in {} ms; {} with {} rows equal on both sides ({} ms); {}; "
      "replication {} removed; {} ms in all\n",
      text::withThousands(behind), ms(caughtUp - started),
      text::counted(static_cast<long long>(sourceRows->size()), "table"), text::withThousands(rows),
      ms(counted - caughtUp), *carried, name, ms(Clock::now() - started));
  return 0;
}

int postgresLag(const DriverArgs& args, std::ostream& out, std::ostream& err) {
  auto from = args.require("from", err);
  auto to = args.require("to", err);
  if (!from || !to) return 2;
  std::string name = replicationName(*from, *to);
  auto source = pg::Connection::open(*from, "the source");
  if (!source) {
    err << "postgres-lag: " << source.error() << '\n';
    return 1;
  }
  Result<Lag> lag = readLag(**source, name);
  if (!lag) {
    err << "postgres-lag: " << lag.error() << '\n';
    return 1;
  }
  if (!lag->slotFound) {
    err << "postgres-lag: no sync is live from " << (*source)->where() << " (no slot " << name
        << ")\n";
    return 1;
  }
  out << fmt::format("lag: {} bytes, {:.1f} s{}\n", text::withThousands(lag->bytes), lag->seconds,
                     lag->active ? "" : " (the target is not connected)");
  return 0;
}

}  // namespace mig::drivers
