#pragma once

#include <array>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>

/// The states the journal records for runs, steps and processes. Each enum
/// has one name table: the names are what the journal stores (its CHECK
/// constraints are built from these tables), what `mig status` prints and
/// what `--json` emits.
namespace mig::runtime {

enum class RunState {
  Running,
  Paused,  ///< a closed window, an interrupt, a failure after switchover, a decision
  Succeeded,
  Failed,  ///< a step failed and nothing was undone (--no-rollback)
  RollingBack,
  RolledBack,
  RollbackIncomplete,  ///< an undo failed or was interrupted
  Abandoned,           ///< left for a new run by `mig run --restart`
};

enum class StepState {
  Pending,
  Running,  ///< its `do` (or its check) is running, or was when the runner died
  Done,
  Failed,
  Interrupted,  ///< stopped by an interrupt, or found running by resume
  Undoing,      ///< its undo is running, or was when the runner died
  Undone,
  UndoFailed,
};

/// What a process of a step runs.
enum class ProcessKind { Run, Check, Undo };

/// How a process ended, as the journal records it.
enum class ProcessOutcome {
  Unfinished,  ///< still running, or its runner died
  Exited,
  ExitedUnchanged,  ///< failed, and said it changed nothing
  TimedOut,
  Cancelled,
  SpawnFailed,
};

template <typename Enum>
struct StateNames;

template <>
struct StateNames<RunState> {
  static constexpr std::array<std::string_view, 8> names = {
      "running",      "paused",      "succeeded",           "failed",
      "rolling_back", "rolled_back", "rollback_incomplete", "abandoned"};
};
template <>
struct StateNames<StepState> {
  static constexpr std::array<std::string_view, 8> names = {
      "pending", "running", "done", "failed", "interrupted", "undoing", "undone", "undo_failed"};
};
template <>
struct StateNames<ProcessKind> {
  static constexpr std::array<std::string_view, 3> names = {"run", "check", "undo"};
};
template <>
struct StateNames<ProcessOutcome> {
  static constexpr std::array<std::string_view, 6> names = {
      "", "exited", "exited_unchanged", "timed_out", "cancelled", "spawn_failed"};
};

template <typename Enum>
constexpr std::string_view nameOf(Enum value) {
  return StateNames<Enum>::names[static_cast<size_t>(value)];
}

/// The value named `name`; nullopt for a name the table does not hold.
template <typename Enum>
std::optional<Enum> stateNamed(std::string_view name) {
  const auto& names = StateNames<Enum>::names;
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] == name) return static_cast<Enum>(i);
  }
  return std::nullopt;
}

/// "'a', 'b', 'c'": the names as an SQL list, for CHECK (x IN (...)).
template <typename Enum>
std::string sqlNameList() {
  std::string list;
  for (std::string_view name : StateNames<Enum>::names) {
    if (!list.empty()) list += ", ";
    list += "'";
    list += name;
    list += "'";
  }
  return list;
}

// Readable in test failures and logs.
inline std::ostream& operator<<(std::ostream& out, RunState state) {
  return out << nameOf(state);
}
inline std::ostream& operator<<(std::ostream& out, StepState state) {
  return out << nameOf(state);
}
inline std::ostream& operator<<(std::ostream& out, ProcessKind kind) {
  return out << nameOf(kind);
}
inline std::ostream& operator<<(std::ostream& out, ProcessOutcome outcome) {
  return out << nameOf(outcome);
}

}  // namespace mig::runtime
