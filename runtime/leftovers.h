#pragma once

#include <chrono>
#include <string>

namespace mig::runtime {

/// Stops the processes a killed runner left behind for `plan` of the
/// journal at `journalPath`: a step's process group keeps running when mig
/// dies (kill -9, a crash). They are found by the MIG_PLAN and MIG_JOURNAL
/// variables every step process inherits (plans of the same name in other
/// folders are left alone), and their process groups are stopped as a
/// step's timeout stops them: SIGTERM, then SIGKILL for what still runs
/// after `gracePeriod`. Returns how many processes were stopped.
/// Called by resume and rollback, under the plan's lock, before deciding
/// anything about interrupted steps.
int stopLeftoverProcesses(const std::string& plan, const std::string& journalPath,
                          std::chrono::milliseconds gracePeriod = std::chrono::seconds(5));

}  // namespace mig::runtime
