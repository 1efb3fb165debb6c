#pragma once

#include <chrono>
#include <string>
#include <vector>

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

/// Where a step's process writes what it prints once the reader of its
/// output is gone (its runner killed): `orphaned/PLAN/` beside the journal
/// at `journalPath`, a file per process, STEP-PID.out. mig's drivers do
/// (cli/driver_command.cpp), so that what they did after the runner died,
/// such as putting a Redis target back when stopped, is not lost.
std::string orphanedOutputFolder(const std::string& journalPath, const std::string& plan);

/// What processes of a killed runner of `plan` printed after it was gone, one entry
/// per process ("step copy (pid 4242), after its runner was gone:" and the
/// lines), oldest first; the files are removed once read.
std::vector<std::string> takeOrphanedOutput(const std::string& journalPath,
                                            const std::string& plan);

}  // namespace mig::runtime
