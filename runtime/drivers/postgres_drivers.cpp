// postgres-wipe and postgres-compare: the drivers' command lines over
// postgres_wipe and postgres_catalog.
#include <fmt/format.h>

#include <future>

#include "runtime/drivers/driver.h"
#include "runtime/drivers/pg_client.h"
#include "runtime/drivers/postgres_catalog.h"
#include "runtime/drivers/postgres_wipe.h"
#include "runtime/drivers/text.h"

namespace mig::drivers {

int postgresWipe(const DriverArgs& args, std::ostream& out, std::ostream& err) {
  auto url = args.require("db", err);
  if (!url) return 2;
  auto target = pg::Connection::open(*url, "the database");
  if (!target) return refuseUnchanged(err, "postgres-wipe", "wipe", {target.error()});
  std::string action = "wipe " + (*target)->where();
  Result<pg::WipePlan> plan = pg::planWipe(**target);
  if (!plan) return refuseUnchanged(err, "postgres-wipe", action, {plan.error()});
  if (!plan->problems.empty()) return refuseUnchanged(err, "postgres-wipe", action, plan->problems);

  std::string script = "BEGIN;\n";
  for (const std::string& statement : plan->statements) script += statement + ";\n";
  script += "COMMIT;\n";
  Status wiped = (*target)->execute(script);
  if (!wiped) {
    // The transaction rolled back: the database is as it was.
    return refuseUnchanged(err, "postgres-wipe", action, {wiped.error()});
  }
  out << "wiped: " << plan->summary() << '\n';
  return 0;
}

int postgresCompare(const DriverArgs& args, std::ostream& out, std::ostream& err) {
  auto urlA = args.require("a", err);
  auto urlB = args.require("b", err);
  if (!urlA || !urlB) return 2;
  pg::CatalogOptions options;
  if (auto owners = args.options.find("owners"); owners != args.options.end()) {
    if (owners->second != "compare" && owners->second != "ignore") {
      err << "postgres-compare: --owners is compare or ignore, not '" << owners->second << "'\n";
      return 2;
    }
    options.owners = owners->second == "compare";
  }
  if (auto rows = args.options.find("rows"); rows != args.options.end()) {
    if (rows->second != "compare" && rows->second != "ignore") {
      err << "postgres-compare: --rows is compare or ignore, not '" << rows->second << "'\n";
      return 2;
    }
    options.rows = rows->second == "compare";
  }

  // Both databases are read at once: the comparison takes as long as the
  // bigger one.
  auto read = [&options](const std::string& url, const std::string& name) -> Result<pg::Catalog> {
    auto connection = pg::Connection::open(url, name);
    if (!connection) return Error{connection.error()};
    Result<pg::Catalog> catalog = pg::readCatalog(**connection, options);
    if (!catalog) {
      return Error{
          fmt::format("cannot read {} ({}): {}", name, (*connection)->where(), catalog.error())};
    }
    return catalog;
  };
  // std::async: what the reader of b throws reaches the caller through get().
  std::future<Result<pg::Catalog>> readerB =
      std::async(std::launch::async, [&] { return read(*urlB, "b"); });
  Result<pg::Catalog> a = read(*urlA, "a");
  Result<pg::Catalog> b = readerB.get();
  if (!a) err << "postgres-compare: " << a.error() << '\n';
  if (!b) err << "postgres-compare: " << b.error() << '\n';
  if (!a || !b) return 1;

  std::vector<std::string> differences = pg::catalogDifferences(*a, *b);
  if (differences.empty()) {
    out << fmt::format(
        "{}: identical ({} compared{})\n", a->summary(),
        text::counted(static_cast<long long>(a->properties()), "property", "properties"),
        options.rows ? "" : "; rows and sequence values left out (rows ignore)");
    return 0;
  }
  for (const std::string& difference : differences) out << difference << '\n';
  out << fmt::format("{} (a: {}; b: {})\n",
                     text::counted(static_cast<long long>(differences.size()), "difference"),
                     a->summary(), b->summary());
  return 1;
}

}  // namespace mig::drivers
