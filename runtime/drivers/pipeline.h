#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "runtime/drivers/result.h"

namespace mig::drivers {

/// Writes text into the consumer's last input; false once the consumer
/// stopped reading.
using GateWrite = std::function<bool(std::string_view text)>;

/// `producer | consumer` for loads that must commit only if everything
/// succeeded (pg_dump | psql, in a transaction): the producer's stdout
/// goes straight into the consumer's stdin through a kernel pipe, and the
/// consumer reads two more inputs, `/dev/fd/3` before its stdin and
/// `/dev/fd/4` after it. The first is given in full at the start (it opens
/// the transaction); the second is written by `after` only once the
/// producer has exited with status 0, and ends with `last` (the COMMIT)
/// only once `after` succeeded too. The gate fails closed: if this process
/// dies at any moment, the consumer reads the end of `/dev/fd/4` without
/// `last`, and the transaction is never committed; if the producer or
/// `after` fails, the consumer is killed. Both share the caller's process
/// group (a step's timeout stops them with it) and its stderr.
struct GatedPipeline {
  std::vector<std::string> producer;
  std::vector<std::string> consumer;
  std::string before;  ///< /dev/fd/3 of the consumer
  /// Writes /dev/fd/4 of the consumer, after the producer succeeded; an
  /// error stops the consumer before it reads the end.
  std::function<Status(const GateWrite& write)> after;
  /// The consumer's last input, written when everything before succeeded.
  std::string last;
  /// Variables set for both, on top of the caller's environment.
  std::vector<std::pair<std::string, std::string>> env;
};

struct PipelineOutcome {
  int producerStatus = -1;  ///< exit status; 128 + N when killed by signal N
  int consumerStatus = -1;
  bool consumerStopped = false;  ///< killed because the producer or `after` failed
  /// It ended before it had all its input (the producer got SIGPIPE, or a
  /// write of `after` or `last` found no reader): its status is the cause.
  bool consumerEndedFirst = false;
  std::string producerError;  ///< "pg_dump exited with status 1", or ""
  std::string afterError;     ///< what `after` returned, or ""
  std::string consumerError;
  bool succeeded() const {
    return producerStatus == 0 && afterError.empty() && consumerStatus == 0;
  }
  /// Why it failed: the consumer's error when it ended first, else the
  /// first of the producer's, `after`'s and the consumer's errors.
  std::string failure() const;
};

/// `producer | consumer` for loads that cannot be gated (a MySQL dump:
/// its DDL commits as it goes): the producer's stdout straight into the
/// consumer's stdin through a kernel pipe; the consumer's stdout is
/// discarded, both share the caller's stderr and process group. If the
/// producer fails, the consumer is killed before it reads further.
struct Pipeline {
  std::vector<std::string> producer;
  std::vector<std::string> consumer;
  /// Variables set for both, on top of the caller's environment.
  std::vector<std::pair<std::string, std::string>> env;
};

/// Runs `argv` and hands its stdout to `line`, one line at a time (with its
/// newline), as it comes: for outputs too big to hold. Stops reading (and
/// kills the program) when `line` returns false. An error when it could not
/// run or did not exit with status 0.
Status streamLines(const std::vector<std::string>& argv,
                   const std::function<bool(std::string_view line)>& line);

/// Runs the pipeline to its end. An error only when it could not start (a
/// program missing, no pipe); otherwise the outcome says how each ended
/// (`afterError` stays empty).
Result<PipelineOutcome> runPipeline(const Pipeline& pipeline);

/// Runs `argv` with its stdin read from the file at `inputPath` (opened
/// here: an error when it cannot be) and its stdout discarded; its exit
/// status, 128 + N when killed by signal N.
Result<int> runWithInput(const std::vector<std::string>& argv, const std::string& inputPath,
                         const std::vector<std::pair<std::string, std::string>>& env);

/// Runs the pipeline to its end. An error only when it could not start
/// (a program missing, no pipes); otherwise the outcome says how each
/// side ended.
Result<PipelineOutcome> runGatedPipeline(const GatedPipeline& pipeline);

}  // namespace mig::drivers
