#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "compiler/graph/graph.h"
#include "runtime/remote_hosts.h"
#include "runtime/scheduler.h"

namespace mig::runtime {

/// The shortest secret value a run accepts, in bytes. Output is redacted by
/// replacing every occurrence of each value with `***`: a shorter value
/// would be found inside ordinary words, garbling the logs and showing
/// where, and so what, the secret is.
inline constexpr size_t kMinSecretLength = 4;

/// The values of a plan's secrets, read once from their sources. Held in
/// memory only; handed to a command in the form its client reads.
class SecretValues {
 public:
  /// Reads every secret `names` refers to. Problems (a variable not set or
  /// empty, a file missing or empty, a value shorter than
  /// kMinSecretLength) are appended to `problems`, one per secret, naming
  /// the secret and its source, never its value.
  static SecretValues resolve(const graph::Graph& graph, const std::vector<std::string>& names,
                              std::vector<std::string>& problems);

  const std::string* value(const std::string& name) const;
  /// Every value, for redaction.
  std::vector<std::string> all() const;
  void set(const std::string& name, std::string value) { values_[name] = std::move(value); }

 private:
  std::map<std::string, std::string> values_;
};

/// A kind of file that hands passwords to a command: the variable that
/// names it, and its file name's suffix.
struct PasswordFileType {
  std::string_view variable;
  std::string_view suffix;
};
/// libpq's password file: a line per endpoint.
inline constexpr PasswordFileType kPgpassFile{"PGPASSFILE", ".pgpass"};
/// A MySQL option file: a group [client-ENDPOINT] per endpoint, read by
/// the clients with --defaults-extra-file and --defaults-group-suffix.
inline constexpr PasswordFileType kOptionFile{"MIG_OPTION_FILE", ".cnf"};
/// What a remote step's ssh carries to its host (see RemoteHosts).
inline constexpr PasswordFileType kRemotePayloadFile{kRemotePayloadVariable, kRemotePayloadSuffix};

/// Where a run keeps its files.
struct RunPaths {
  std::string workdir;  ///< the plan's folder: commands run here
  std::string logDir;   ///< .mig/logs/PLAN/run-N
  std::string tempDir;  ///< .mig/tmp/PLAN, 0700: the plan's password files
  std::string migBinary;  ///< exported as MIG for the stdlib's drivers
  std::string journal;    ///< the journal's absolute path, exported as MIG_JOURNAL
  /// Variables of the runner's environment steps never see (the journal's
  /// credentials), besides the plan's secret sources.
  std::vector<std::string> hiddenVariables;
  /// The run's id in the journal, exported as MIG_RUN: what a step's
  /// process (a driver's record of what it changed) tells runs apart by.
  std::string run;
};

/// The real preparer: environment with MIG, the command's own variables and
/// its secrets (env variables, or a 0600 PGPASSFILE or option file written
/// for the process and removed when it ends), the plan's secret sources removed
/// from the inherited environment, and a log file per process.
///
/// A step `on` a host runs through `remote` (RemoteHosts::stepScript): its
/// variables, secrets and password files go into a payload, a 0600 file
/// of the plan's private folder that ssh's stdin carries to the host and
/// that is removed when the process ends. MIG, MIG_JOURNAL and the
/// nothing-changed marker are this machine's, so they are not given there.
class SecretCommandPreparer : public CommandPreparer {
 public:
  SecretCommandPreparer(const graph::Graph& graph, const SecretValues& secrets, RunPaths paths,
                        const RemoteHosts* remote = nullptr);
  std::optional<ProcessRequest> prepare(const graph::Node& node, const graph::Command& command,
                                        const std::string& kind, int attempt,
                                        std::string& error) override;
  void finished(const ProcessRequest& request) override;

 private:
  bool makeRemote(const graph::Node& node, const std::string& kind, int attempt,
                  std::vector<RemoteFile> files, ProcessRequest& request, std::string& error);
  std::optional<std::string> writePasswordFile(const graph::Node& node, const std::string& kind,
                                               int attempt, const PasswordFileType& type,
                                               const std::string& content, std::string& error);

  const graph::Graph& graph_;
  const SecretValues& secrets_;
  RunPaths paths_;
  const RemoteHosts* remote_;
  std::vector<std::string> unset_;
  uint64_t files_ = 0;
};

/// Removes the password files a runner killed with -9 left in `tempDir` (a
/// plan's own folder: other plans' runners may be using theirs). Call it
/// holding the plan's lock, once the dead runner's processes are stopped.
/// Returns how many it removed.
int removeLeftoverSecretFiles(const std::string& tempDir);

/// A pgpass field with ':' and '\' escaped, as libpq reads it.
std::string pgpassField(const std::string& value);

/// The names of the secrets a set of commands needs.
std::vector<std::string> secretsOf(const std::vector<const graph::Command*>& commands);

}  // namespace mig::runtime
