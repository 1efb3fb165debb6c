#pragma once

namespace mig {

/// The environment variable through which the runtime names a file that a
/// failing step creates to say it failed before changing anything, so that
/// rollback skips its undo. The file holds the process id of the one who
/// says so: the runtime believes it only from the step's own process (a
/// single command, which bash execs), not from one command of a script.
/// Shared by the runtime, which sets it, and the drivers, which write it.
inline constexpr const char* kNothingChangedVariable = "MIG_NOTHING_CHANGED";

}  // namespace mig
