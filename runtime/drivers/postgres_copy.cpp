// postgres-copy and postgres-restore: a database replaced by another one
// (or by an archive), checked before anything is touched and loaded in one
// transaction, so that a failure at any point leaves the target as it was
// (in many, and said so, where the target's lock table is too small).
#include <fmt/format.h>

#include <chrono>
#include <cstdlib>

#include "runtime/drivers/driver.h"
#include "runtime/drivers/pg_client.h"
#include "runtime/drivers/pipeline.h"
#include "runtime/drivers/postgres_archive.h"
#include "runtime/drivers/postgres_copy.h"
#include "runtime/drivers/postgres_copy_plan.h"
#include "runtime/drivers/temporary_folder.h"
#include "runtime/drivers/text.h"

namespace mig::drivers {

std::optional<pg::CopyOptions> copyOptions(const DriverArgs& args, std::string_view driver,
                                           std::ostream& err) {
  pg::CopyOptions options;
  auto value = [&](const std::string& name) -> std::string {
    auto it = args.options.find(name);
    return it == args.options.end() ? "" : it->second;
  };
  std::string owners = value("owners");
  if (owners == "reassign") {
    options.owners = pg::CopyOptions::Owners::Reassign;
  } else if (!owners.empty() && owners != "keep") {
    err << driver << ": --owners is keep or reassign, not '" << owners << "'\n";
    return std::nullopt;
  }
  options.owner = value("owner");
  if (!options.owner.empty() && options.owners != pg::CopyOptions::Owners::Reassign) {
    err << driver << ": --owner names the new owner for --owners reassign\n";
    return std::nullopt;
  }
  std::string roles = value("roles");
  if (roles == "require") {
    options.roles = pg::CopyOptions::Roles::Require;
  } else if (!roles.empty() && roles != "create") {
    err << driver << ": --roles is create or require, not '" << roles << "'\n";
    return std::nullopt;
  }
  std::string passwords = value("passwords");
  if (passwords != "" && passwords != "true" && passwords != "false") {
    err << driver << ": --passwords is true or false, not '" << passwords << "'\n";
    return std::nullopt;
  }
  options.passwords = passwords == "true";
  return options;
}

namespace {

using Clock = std::chrono::steady_clock;

/// The psql that loads pg_dump's (or pg_restore's) SQL between the plan's
/// prelude and epilogue. The prelude opens the transaction and the gate's
/// last words commit it: psql's own --single-transaction would commit at
/// the end of its input, also when mig died before writing all of it.
std::vector<std::string> loader(const std::string& url) {
  return {"psql",
          "--no-psqlrc",
          "--no-password",
          "--quiet",
          "--set=ON_ERROR_STOP=1",
          "--dbname=" + url,
          "--file=/dev/fd/3",
          "--file=-",
          "--file=/dev/fd/4"};
}

std::vector<std::pair<std::string, std::string>> clientEnvironment() {
  std::vector<std::pair<std::string, std::string>> env = {{"PGAPPNAME", "mig copy"}};
  if (std::getenv("PGCONNECT_TIMEOUT") == nullptr) env.emplace_back("PGCONNECT_TIMEOUT", "10");
  return env;
}

/// What the prelude does, for the report: "created roles a, b; granted ...".
std::string preludeSummary(const pg::CopyPlan& plan) {
  std::vector<std::string> parts;
  std::vector<std::string> created;
  for (const auto& role : plan.rolesToCreate) created.push_back(role.name);
  if (!created.empty()) parts.push_back("created " + text::namedList("role", created));
  std::vector<std::string> granted;
  for (const auto& membership : plan.membershipsToGrant) {
    granted.push_back(fmt::format("{} to {}", membership.group, membership.member));
  }
  for (const auto& role : plan.rolesToJoin)
    granted.push_back(fmt::format("{} to {}", role, plan.targetUser));
  if (!granted.empty()) parts.push_back("granted " + text::joined(granted, ", "));
  return text::joined(parts, "; ");
}

/// How much of a large object one statement carries.
constexpr long long kLargeObjectChunk = 1 << 20;

/// Streams the source's large objects as SQL that recreates them on the
/// target with the same OIDs, owners (unless owners are reassigned: then
/// the target's user creates them, and the reassignment hands them over
/// with everything else), privileges and comments. pg_dump leaves them out
/// (--no-blobs): it would wrap them in a transaction of their own, which
/// would commit the load half-way.
Status streamLargeObjects(pg::Connection& source, pg::Connection& target, bool keepOwners,
                          const GateWrite& write) {
  Result<pg::Rows> objects = source.query(R"SQL(
SELECT l.oid::text, pg_get_userbyid(l.lomowner), obj_description(l.oid, 'pg_largeobject'),
       l.lomacl IS NOT NULL,
       (SELECT string_agg(CASE WHEN x.grantee = 0 THEN 'PUBLIC' WHEN x.grantee = l.lomowner THEN ''
                               ELSE quote_ident(pg_get_userbyid(x.grantee)) END
                          || E'\t' || x.privilege_type || E'\t' || x.is_grantable::text, E'\n')
          FROM aclexplode(l.lomacl) x)
  FROM pg_largeobject_metadata l ORDER BY l.oid)SQL");
  if (!objects) return Error{"cannot list the source's large objects: " + objects.error()};
  for (int row = 0; row < objects->size(); ++row) {
    std::string oid = objects->text(row, 0);
    if (!write(fmt::format("SELECT pg_catalog.lo_create({});\n", oid))) return success();
    for (long long offset = 0;; offset += kLargeObjectChunk) {
      Result<pg::Rows> chunk =
          source.query("SELECT lo_get($1::oid, $2::bigint, $3::int)",
                       {oid, std::to_string(offset), std::to_string(kLargeObjectChunk)});
      if (!chunk) return Error{fmt::format("cannot read large object {}: {}", oid, chunk.error())};
      std::string hex = chunk->text(0, 0);  // \x..., two characters a byte
      long long bytes = static_cast<long long>(hex.size() - 2) / 2;
      if (bytes > 0 && !write(fmt::format("SELECT pg_catalog.lo_put({}, {}, '{}'::bytea);\n", oid,
                                          offset, hex))) {
        return success();
      }
      if (bytes < kLargeObjectChunk) break;
    }
    std::string owner = objects->text(row, 1);
    std::string sql;
    if (keepOwners) {
      sql += fmt::format("ALTER LARGE OBJECT {} OWNER TO {};\n", oid, target.identifier(owner));
    }
    if (objects->boolean(row, 3)) {
      // An explicit ACL: the owner's own privileges as listed, then the others'.
      sql += fmt::format("REVOKE ALL ON LARGE OBJECT {} FROM {};\n", oid,
                         keepOwners ? target.identifier(owner) : "CURRENT_USER");
      for (const std::string& entry : text::lines(objects->text(row, 4))) {
        size_t tab = entry.find('\t');
        size_t tab2 = entry.find('\t', tab + 1);
        std::string grantee = entry.substr(0, tab);
        if (grantee.empty()) grantee = keepOwners ? target.identifier(owner) : "CURRENT_USER";
        sql += fmt::format("GRANT {} ON LARGE OBJECT {} TO {}{};\n",
                           entry.substr(tab + 1, tab2 - tab - 1), oid, grantee,
                           entry.substr(tab2 + 1) == "true" ? " WITH GRANT OPTION" : "");
      }
    }
    if (!objects->isNull(row, 2)) {
      sql += fmt::format("COMMENT ON LARGE OBJECT {} IS {};\n", oid,
                         target.literal(objects->text(row, 2)));
    }
    if (!write(sql)) return success();
  }
  return success();
}

}  // namespace

int load(const pg::CopyPlan& plan, pg::Connection& target, const std::string& targetUrl,
         std::vector<std::string> producer, std::function<Status(const GateWrite&)> rest,
         std::string_view driver, std::string_view done, std::ostream& out, std::ostream& err) {
  for (const std::string& note : plan.notes) out << "note: " << note << '\n';
  GatedPipeline pipeline;
  pipeline.producer = std::move(producer);
  pipeline.consumer = loader(targetUrl);
  pipeline.before = plan.prelude(target);
  pipeline.last = plan.singleTransaction ? "COMMIT;\n" : "";
  std::string epilogue = plan.epilogue(target);
  std::string reassignment = plan.reassignment(target);
  pipeline.after = [&](const GateWrite& write) -> Status {
    if (!write(epilogue)) return success();
    if (rest) {
      Status status = rest(write);
      if (!status) return status;
    }
    write(reassignment);
    return success();
  };
  pipeline.env = clientEnvironment();

  auto started = Clock::now();
  Result<PipelineOutcome> outcome = runGatedPipeline(pipeline);
  // psql exits with 2 when it lost the connection: perhaps during COMMIT.
  constexpr int kPsqlConnectionLost = 2;
  bool rolledBack =
      plan.singleTransaction && (!outcome || outcome->consumerStatus != kPsqlConnectionLost);
  if (!outcome || !outcome->succeeded()) {
    std::string why = outcome ? outcome->failure() + " (its messages are above)" : outcome.error();
    if (rolledBack) {
      return refuseUnchanged(err, driver, "load " + target.where(),
                             {why + "; the transaction was rolled back"});
    }
    err << driver << ": " << why << "; "
        << (plan.singleTransaction
                ? "the connection to the target was lost, perhaps while committing: check "
                  "whether "
                : "")
        << "the target " << target.where()
        << (plan.singleTransaction ? " holds the copy" : " is partly loaded") << '\n';
    return 1;
  }
  double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  std::string prelude = preludeSummary(plan);
  out << fmt::format("{}: {}{}; loaded in {:.1f} s{}\n", done,
                     prelude.empty() ? "" : prelude + "; ", plan.wipe.summary(), seconds,
                     plan.singleTransaction ? ", in one transaction" : "");
  return 0;
}

int postgresCopy(const DriverArgs& args, std::ostream& out, std::ostream& err) {
  auto from = args.require("from", err);
  auto to = args.require("to", err);
  if (!from || !to) return 2;
  auto options = copyOptions(args, "postgres-copy", err);
  if (!options) return 2;

  auto source = pg::Connection::open(*from, "the source");
  auto target = pg::Connection::open(*to, "the target");
  if (!source || !target) {
    std::vector<std::string> problems;
    if (!source) problems.push_back(source.error());
    if (!target) problems.push_back(target.error());
    return refuseUnchanged(err, "postgres-copy", "copy", problems);
  }
  std::string action = fmt::format("copy {} into {}", (*source)->where(), (*target)->where());
  // One snapshot of the source for the plan, pg_dump and the large
  // objects: they agree on what the source held.
  // The transaction stays open, idle, while pg_dump runs on its snapshot.
  Status begin = (*source)->execute(
      "SET idle_in_transaction_session_timeout = 0; "
      "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET LOCAL bytea_output = 'hex'");
  Result<pg::Rows> snapshot = begin ? (*source)->query("SELECT pg_export_snapshot()")
                                    : Result<pg::Rows>(Error{begin.error()});
  if (!snapshot)
    return refuseUnchanged(err, "postgres-copy", action, {"the source: " + snapshot.error()});
  Result<pg::CopyPlan> plan = pg::planCopy(**source, **target, *options);
  if (!plan) return refuseUnchanged(err, "postgres-copy", action, {plan.error()});
  if (!plan->problems.empty()) return refuseUnchanged(err, "postgres-copy", action, plan->problems);

  bool keepOwners = options->owners == pg::CopyOptions::Owners::Keep;
  std::vector<std::string> dump = {"pg_dump", "--no-password", "--no-blobs",
                                   "--snapshot=" + snapshot->text(0, 0), "--dbname=" + *from};
  if (!keepOwners) dump.push_back("--no-owner");
  pg::Connection& sourceConnection = **source;
  pg::Connection& targetConnection = **target;
  return load(
      *plan, targetConnection, *to, std::move(dump),
      [&](const GateWrite& write) {
        return streamLargeObjects(sourceConnection, targetConnection, keepOwners, write);
      },
      "postgres-copy", "copied", out, err);
}

int postgresRestore(const DriverArgs& args, std::ostream& out, std::ostream& err) {
  auto file = args.require("file", err);
  auto to = args.require("to", err);
  if (!file || !to) return 2;
  auto options = copyOptions(args, "postgres-restore", err);
  if (!options) return 2;

  auto target = pg::Connection::open(*to, "the target");
  if (!target)
    return refuseUnchanged(err, "postgres-restore", "restore " + *file, {target.error()});
  std::string action = fmt::format("restore {} into {}", *file, (*target)->where());
  Result<pg::Archive> archive = pg::readArchive(*file, **target);
  if (!archive) return refuseUnchanged(err, "postgres-restore", action, {archive.error()});
  Result<pg::CopyPlan> plan = pg::planRestore(archive->needs, **target, *options);
  if (!plan) return refuseUnchanged(err, "postgres-restore", action, {plan.error()});
  if (!plan->problems.empty())
    return refuseUnchanged(err, "postgres-restore", action, plan->problems);

  // The main list goes to pg_restore as a file; it lives as long as the load.
  const pg::Archive& source = *archive;
  auto folder = TemporaryFolder::create("mig-restore");
  if (!folder) return refuseUnchanged(err, "postgres-restore", action, {folder.error()});
  Result<std::string> listPath = folder->write("main.list", source.mainList());
  if (!listPath) return refuseUnchanged(err, "postgres-restore", action, {listPath.error()});
  std::vector<std::string> restore = {"pg_restore", "--file=-", "--use-list=" + *listPath};
  if (options->owners == pg::CopyOptions::Owners::Reassign) restore.push_back("--no-owner");
  restore.push_back(*file);
  return load(
      *plan, **target, *to, std::move(restore),
      [&source](const GateWrite& write) -> Status {
        if (!source.largeObjects) return success();
        // pg_restore writes the large objects' data in a transaction of
        // its own; its BEGIN and COMMIT would end the load's.
        bool open = true;
        Status streamed =
            pg::restoreScript(source, source.largeObjectsList(), {}, [&](std::string_view line) {
              if (line == "BEGIN;\n" || line == "COMMIT;\n") return true;
              open = write(line);
              return open;
            });
        if (!streamed && open) return streamed;
        return success();
      },
      "postgres-restore", "restored", out, err);
}

}  // namespace mig::drivers
