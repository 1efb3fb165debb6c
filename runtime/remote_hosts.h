#pragma once

#include <chrono>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "compiler/graph/graph.h"

namespace mig::runtime {

/// A file a remote step reads its secret from: written into the step's own
/// 0700 folder on the host, and named by `variable` (PGPASSFILE).
struct RemoteFile {
  std::string variable;
  std::string name;     ///< its name in the folder
  std::string content;  ///< may hold secrets
};

/// What the remote bash runs for one step: `env` exported, each file
/// written into the step's folder on the host (named by $MIG_REMOTE_DIR)
/// with bash's builtin printf, so that no secret is ever an argument of a
/// process, then `script`. False with `error` naming a variable that is not
/// a valid name.
bool remotePayload(const std::vector<std::pair<std::string, std::string>>& env,
                   const std::vector<RemoteFile>& files, const std::string& script,
                   std::string& payload, std::string& error);

/// The plan's hosts, reached through the system's OpenSSH client: one
/// master connection per host (ControlMaster), opened and checked by
/// open() and reused by every step, closed when this object goes.
///
/// Every connection is strict: BatchMode (never a prompt), no ssh_config
/// file (the plan says everything), StrictHostKeyChecking=yes against the
/// host's known_hosts file, or a file holding its pinned `host_key`, or
/// else ssh's default ~/.ssh/known_hosts. A step's commands reach the host
/// as a payload on ssh's stdin (see remotePayload), which a fixed bootstrap
/// saves into a 0700 folder made by mktemp, runs with bash, and removes;
/// the bootstrap stops the step's process group as soon as its stdin
/// closes, that is when the local ssh ends (a timeout, a cancel, a runner
/// killed), so a remote step never outlives its local one.
class RemoteHosts {
 public:
  /// `hosts`: the plan's (copied). `privateDir`: a 0700 folder of the plan
  /// (.mig/tmp/PLAN), for the known_hosts files of pinned keys.
  RemoteHosts(std::vector<graph::Host> hosts, std::string privateDir);
  /// Closes the master connections open() opened.
  ~RemoteHosts();
  RemoteHosts(const RemoteHosts&) = delete;
  RemoteHosts& operator=(const RemoteHosts&) = delete;

  /// Connects to each host of `required` (through its jump host), checking
  /// its key, leaves a master connection open, and checks that bash and the
  /// commands listed for it are on the host's PATH. Hosts are tried one
  /// after the other, each within `timeout`. Returns one problem line per
  /// host that failed, naming it.
  std::vector<std::string> open(const std::map<std::string, std::set<std::string>>& required,
                                std::chrono::seconds timeout = std::chrono::seconds(30));

  /// The local bash script that runs a payload of `payloadBytes` bytes,
  /// read from the file named by $MIG_REMOTE_PAYLOAD, on `host`. Empty,
  /// with `error` set, for a host open() did not open.
  std::string stepScript(const std::string& host, size_t payloadBytes, std::string& error) const;

  /// ssh's arguments up to the host's address (the remote command
  /// follows), for `ControlMaster=no` connections through the master.
  std::vector<std::string> sshArguments(const graph::Host& host) const;

  /// The Unix socket of the host's master connection.
  std::string controlPath(const graph::Host& host) const;

 private:
  const graph::Host* declared(const std::string& name) const;
  std::vector<std::string> connectionOptions(const graph::Host& host) const;
  bool writePinnedKey(const graph::Host& host, std::string& error) const;
  std::string knownHostsFile(const graph::Host& host) const;
  void close();

  std::vector<graph::Host> hosts_;
  std::string privateDir_;
  std::string controlDir_;
  std::set<std::string> opened_;
};

/// Where every remote step's payload travels: the environment variable
/// naming the local 0600 file, and its suffix in the plan's private folder.
inline constexpr std::string_view kRemotePayloadVariable = "MIG_REMOTE_PAYLOAD";
inline constexpr std::string_view kRemotePayloadSuffix = ".remote";

}  // namespace mig::runtime
