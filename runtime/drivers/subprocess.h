#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace mig::drivers {

/// A program to run to completion: text on its stdin, its stdout and stderr
/// captured apart.
struct SubprocessRequest {
  /// The program and its arguments; a program without a '/' is looked up in
  /// PATH. Never put a secret here: arguments are visible in `ps`.
  std::vector<std::string> argv;
  /// Written to the child's stdin, which is then closed.
  std::string input;
  /// Variables set in the child's environment, on top of (or replacing)
  /// this process's. The place for secrets (PGPASSWORD, REDISCLI_AUTH).
  std::vector<std::pair<std::string, std::string>> env;
  /// Variables removed from the inherited environment.
  std::vector<std::string> unsetEnv;
  /// The child's working directory; empty: this process's.
  std::string workdir;
  /// When set, the child is killed (SIGKILL) after this long and the result
  /// says `timedOut`.
  std::optional<std::chrono::milliseconds> timeout;
  /// Starts the child in a process group of its own, killed as a whole at the
  /// timeout. By default it stays in the caller's group, so that whoever
  /// stops the caller's group (the runtime, at a step's timeout or a cancel)
  /// stops the child too.
  bool ownProcessGroup = false;
};

struct SubprocessResult {
  bool started = false;   ///< false: the program could not be started, see `error`
  bool timedOut = false;  ///< killed at the request's timeout
  int exitCode = -1;      ///< its exit status; 128 + N when killed by signal N
  int signal = 0;         ///< the signal that killed it, or 0
  std::string out;        ///< everything it wrote to stdout
  std::string err;        ///< everything it wrote to stderr
  std::string error;      ///< why it could not start (or be waited for)

  bool succeeded() const { return started && !timedOut && exitCode == 0; }
};

/// Runs the request's program and waits for it to exit. stdin is written
/// while stdout and stderr are read, so neither side blocks on a full pipe;
/// output written after the child's exit (by a background process it left
/// holding the pipes) is not waited for. Never throws; a child that outlives
/// its timeout is killed and reaped. Safe to call from several threads at
/// once.
SubprocessResult runSubprocess(const SubprocessRequest& request);

/// A one-line description of a result that did not succeed, for messages:
/// "cannot run psql: No such file or directory", "psql timed out after 30 s",
/// "psql exited with status 2", "psql was killed by signal 9".
std::string describeFailure(const SubprocessRequest& request, const SubprocessResult& result);

}  // namespace mig::drivers
