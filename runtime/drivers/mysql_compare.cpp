// mysql-compare: the driver's command line over mysql_catalog. Both
// databases are read at once, in two rounds: the schemas (which tell what
// the row checksums read), then the rows, each side in its own consistent
// snapshot.
#include <fmt/format.h>

#include <future>

#include "runtime/drivers/driver.h"
#include "runtime/drivers/mysql_catalog.h"
#include "runtime/drivers/mysql_client.h"
#include "runtime/drivers/text.h"

namespace mig::drivers {
namespace {

/// One side of the comparison: its connection and what was read of it.
struct Side {
  std::unique_ptr<mysql::Connection> connection;
  mysql::Catalog catalog;
};

/// Runs `readA` here and `readB` on a thread of its own; the errors of
/// both, a's first.
template <typename Read>
std::vector<std::string> bothAtOnce(Read readA, Read readB) {
  // std::async: what the reader of b throws reaches the caller through get().
  std::future<Status> b = std::async(std::launch::async, readB);
  Status a = readA();
  Status doneB = b.get();
  std::vector<std::string> errors;
  if (!a) errors.push_back(a.error());
  if (!doneB) errors.push_back(doneB.error());
  return errors;
}

int failed(std::ostream& err, const std::vector<std::string>& errors) {
  for (const std::string& error : errors) err << "mysql-compare: " << error << '\n';
  return 1;
}

}  // namespace

int mysqlCompare(const DriverArgs& args, std::ostream& out, std::ostream& err) {
  auto endpointA = mysql::endpointArgument(args, "a", "a", err);
  auto endpointB = mysql::endpointArgument(args, "b", "b", err);
  if (!endpointA || !endpointB) return 2;
  bool rows = true;
  if (auto option = args.options.find("rows"); option != args.options.end()) {
    if (option->second != "compare" && option->second != "ignore") {
      err << "mysql-compare: --rows is compare or ignore, not '" << option->second << "'\n";
      return 2;
    }
    rows = option->second == "compare";
  }
  std::vector<std::string> users = mysql::usersArgument(args);

  // Connected one after the other: the client library's first connection
  // initializes it, which is not safe from two threads at once.
  Side a;
  Side b;
  std::vector<std::string> errors;
  for (auto [side, endpoint] : {std::pair{&a, &*endpointA}, std::pair{&b, &*endpointB}}) {
    auto connection = mysql::Connection::open(*endpoint);
    if (!connection) {
      errors.push_back(connection.error());
      continue;
    }
    side->connection = std::move(*connection);
  }
  if (!errors.empty()) return failed(err, errors);

  auto readSchema = [&users](Side& side) {
    return [&side, &users]() -> Status {
      Status begun = mysql::beginSnapshot(*side.connection);
      if (!begun) return begun;
      Result<mysql::Catalog> catalog = mysql::readSchema(*side.connection, users);
      if (!catalog) return Error{catalog.error()};
      side.catalog = std::move(*catalog);
      return success();
    };
  };
  errors = bothAtOnce(readSchema(a), readSchema(b));
  if (!errors.empty()) return failed(err, errors);

  if (rows) {
    auto readRows = [](Side& side, const Side& other) {
      return [&side, columns = mysql::checksumColumns(side.catalog, other.catalog)]() -> Status {
        return mysql::readRows(*side.connection, columns, side.catalog);
      };
    };
    errors = bothAtOnce(readRows(a, b), readRows(b, a));
    if (!errors.empty()) return failed(err, errors);
  }

  std::vector<std::string> differences = mysql::catalogDifferences(a.catalog, b.catalog);
  if (differences.empty()) {
    std::string names = a.catalog.database == b.catalog.database
                            ? a.catalog.database
                            : a.catalog.database + " and " + b.catalog.database;
    out << fmt::format("{}: identical ({} compared{})\n", names, a.catalog.summary(),
                       rows ? "" : "; rows left out (rows ignore)");
    return 0;
  }
  for (const std::string& difference : differences) out << difference << '\n';
  out << fmt::format("{} (a: {}, {}; b: {}, {})\n",
                     text::counted(static_cast<long long>(differences.size()), "difference"),
                     a.catalog.database, a.catalog.summary(), b.catalog.database,
                     b.catalog.summary());
  return 1;
}

}  // namespace mig::drivers
