#pragma once

#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/drivers/driver.h"
#include "runtime/drivers/pipeline.h"
#include "runtime/drivers/postgres_copy_plan.h"

/// What postgres-copy shares with the drivers that load a database the same
/// way (postgres-sync loads the schema alone, then replicates the rows).
namespace mig::drivers {

/// Reads --owners, --owner, --roles and --passwords; nullopt after a usage
/// message.
std::optional<pg::CopyOptions> copyOptions(const DriverArgs& args, std::string_view driver,
                                           std::ostream& err);

/// Runs `producer` (pg_dump, pg_restore) into the target's psql between the
/// plan's prelude and epilogue, then `rest` (large objects; may be empty)
/// and the owners' reassignment, in one transaction, and reports ("DONE:
/// ...; loaded in 1.2 s"). Returns the driver's exit code.
int load(const pg::CopyPlan& plan, pg::Connection& target, const std::string& targetUrl,
         std::vector<std::string> producer, std::function<Status(const GateWrite&)> rest,
         std::string_view driver, std::string_view done, std::ostream& out, std::ostream& err);

}  // namespace mig::drivers
