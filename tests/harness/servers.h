#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

/// Throwaway database servers for tests and the demo: each runs on a free
/// loopback port out of its own temporary folder, and is stopped (and the
/// folder removed) by its destructor, also when a test fails. A watchdog
/// process does the same if the test process dies without running
/// destructors (a crash, SIGKILL, a closed pipe).
namespace mig::testing {

/// A PostgreSQL 15 cluster in a temporary folder, made for speed (no fsync,
/// small shared buffers): it starts in about half a second.
///
/// initdb refuses to run as root, so as root (CI) the cluster is created
/// and run by the `postgres` user through `runuser -u postgres --`;
/// otherwise as the current user. Host connections need the password
/// (scram-sha-256), the server listens on 127.0.0.1 only, and its unix
/// socket is in the data folder (so no lock file in /tmp is shared).
class PostgresServer {
 public:
  /// Starts a cluster whose superuser `postgres` has `password`. Returns
  /// nullptr with `error` set on failure, saying what is missing ("postgresql
  /// is not installed ...: run scripts/setup.sh") or what the server logged.
  /// A port taken between choosing and binding it is retried with another.
  /// `walLevel` is logical unless a test needs a server that cannot
  /// replicate (replica, minimal).
  static std::unique_ptr<PostgresServer> start(const std::string& password, std::string& error,
                                               const std::string& walLevel = "logical");

  /// Stops the server (pg_ctl stop -m immediate, then SIGKILL to the
  /// postmaster if it is still there) and removes its folder.
  ~PostgresServer();
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  int port() const { return port_; }
  /// The postmaster's process id.
  int pid() const { return pid_; }
  /// The temporary folder holding the data folder and the server log.
  const std::string& folder() const { return folder_; }

  /// postgresql://postgres@127.0.0.1:PORT/DATABASE, without the password.
  std::string url(const std::string& database = "postgres") const;

  /// Runs `statements` in one psql session as the superuser (over the unix
  /// socket, so it works whatever the host rules say; the password goes in
  /// the child's PGPASSWORD only). Returns what psql printed (unaligned,
  /// tuples only: fields split by '|', one row a line), or nullopt with
  /// `error` set to psql's message.
  std::optional<std::string> sql(const std::string& database, const std::string& statements,
                                 std::string* error = nullptr) const;

  /// CREATE DATABASE `name`; false with `error` set when it fails.
  bool createDatabase(const std::string& name, std::string* error = nullptr) const;

  /// Rewrites pg_hba.conf for ACL tests and reloads the configuration. The
  /// file gets a comment line, the `local` rules initdb wrote (lines 2 and
  /// 3), host rules for 127.0.0.1/32 and ::1/128 (lines 4 to 7, so url()
  /// keeps working), then one line per entry from line 8 on: an entry with
  /// a space is written as a whole rule ("host all all 10.9.0.0/16 reject"),
  /// any other as `host all all ENTRY scram-sha-256`. False with `error` set
  /// on failure.
  bool setHbaHostRules(const std::vector<std::string>& cidrs, std::string* error = nullptr) const;

 private:
  PostgresServer() = default;
  bool launch(std::string& error);
  bool waitUntilReady(std::string& error) const;
  void stop();

  std::string password_;
  std::string folder_;
  std::string dataDir_;
  bool asPostgresUser_ = false;  ///< running as root: commands go through runuser
  int port_ = 0;
  int pid_ = 0;
  int watchdog_ = 0;  ///< stops the cluster if this process dies without the destructor
};

/// A redis-server on a free loopback port, without persistence, out of a
/// temporary folder. The password is in its 0600 config file, never on a
/// command line.
class RedisServer {
 public:
  /// Starts a server that requires `password` (empty: none). nullptr with
  /// `error` set on failure ("redis-server is not installed: run
  /// scripts/setup.sh", or what the server logged).
  static std::unique_ptr<RedisServer> start(const std::string& password, std::string& error);

  /// Stops the server (SIGTERM, then SIGKILL after 5 s) and removes its folder.
  ~RedisServer();
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  int port() const { return port_; }
  int pid() const { return pid_; }
  const std::string& folder() const { return folder_; }

  /// redis://127.0.0.1:PORT/DB
  std::string url(int db = 0) const;

  /// Runs one command through redis-cli (the password in the child's
  /// REDISCLI_AUTH only) and returns its raw output, or nullopt with
  /// `error` set when redis-cli itself fails. A command the server refuses
  /// still returns its error text ("ERR ...").
  std::optional<std::string> cli(const std::vector<std::string>& args,
                                 std::string* error = nullptr) const;

 private:
  RedisServer() = default;
  bool launch(std::string& error);
  void stop();

  std::string password_;
  std::string folder_;
  int port_ = 0;
  int pid_ = 0;
  int watchdog_ = 0;  ///< stops the server if this process dies without the destructor
};

/// A MariaDB 10.11 server (the MySQL family) on a free loopback port, out
/// of a temporary folder: `mariadb-install-db` then `mariadbd`, made for
/// speed (no binary log, no doublewrite, the redo log flushed lazily). As
/// root (CI) the server runs as the `mysql` user, since mariadbd refuses
/// root. Accounts `root`@`localhost`, `root`@`127.0.0.1` and `root`@`::1`
/// have `password`; no other account exists. Names resolve to nothing
/// (skip-name-resolve): host patterns are addresses.
class MariaDbServer {
 public:
  /// nullptr with `error` set on failure ("mariadb-server is not installed:
  /// run scripts/setup.sh", or what the server logged).
  static std::unique_ptr<MariaDbServer> start(const std::string& password, std::string& error);

  /// Stops the server (SIGTERM, SIGKILL after 10 s) and removes its folder.
  ~MariaDbServer();
  MariaDbServer(const MariaDbServer&) = delete;
  MariaDbServer& operator=(const MariaDbServer&) = delete;

  int port() const { return port_; }
  int pid() const { return pid_; }
  const std::string& folder() const { return folder_; }

  /// mysql://root@127.0.0.1:PORT/DATABASE, without the password.
  std::string url(const std::string& database) const;

  /// Runs `statements` in one `mariadb` session as root over the unix
  /// socket (the password in a 0600 option file of the server's folder).
  /// Returns what it printed (--batch --skip-column-names: fields split by
  /// tabs, one row a line, NULL as "NULL"), or nullopt with `error` set.
  std::optional<std::string> sql(const std::string& database, const std::string& statements,
                                 std::string* error = nullptr) const;

 private:
  MariaDbServer() = default;
  bool launch(std::string& error);
  void stop();
  std::string socketPath() const { return folder_ + "/mysqld.sock"; }

  std::string folder_;
  std::string dataDir_;
  bool asMysqlUser_ = false;
  int port_ = 0;
  int pid_ = 0;
  int watchdog_ = 0;
};

/// OpenSSH's sshd on a free loopback port, out of a temporary folder, with
/// a throwaway host key and one throwaway user key: it accepts that key
/// (and nothing else: no passwords) for the user running the test, root in
/// CI. Not a daemon: it runs in our process group, stopped by its
/// destructor or the watchdog.
class SshServer {
 public:
  /// nullptr with `error` set on failure ("openssh-server is not installed:
  /// run scripts/setup.sh", or what sshd logged).
  static std::unique_ptr<SshServer> start(std::string& error);

  /// Stops sshd (SIGTERM, SIGKILL after 5 s) and removes its folder.
  ~SshServer();
  SshServer(const SshServer&) = delete;
  SshServer& operator=(const SshServer&) = delete;

  int port() const { return port_; }
  int pid() const { return pid_; }
  const std::string& folder() const { return folder_; }
  /// The user the key logs in as: this process's.
  const std::string& user() const { return user_; }
  /// The user key's private half, 0600.
  std::string identityPath() const { return folder_ + "/user_key"; }
  /// A known_hosts file holding this server's key as `[127.0.0.1]:PORT`.
  std::string knownHostsPath() const { return folder_ + "/known_hosts"; }
  /// The server's public key, `ssh-ed25519 BASE64`.
  const std::string& hostKey() const { return hostKey_; }
  /// Another key of the same type: what a man in the middle would show.
  const std::string& otherHostKey() const { return otherHostKey_; }

 private:
  SshServer() = default;
  bool launch(std::string& error);
  void stop();

  std::string folder_;
  std::string user_;
  std::string hostKey_;
  std::string otherHostKey_;
  int port_ = 0;
  int pid_ = 0;
  int watchdog_ = 0;
};

/// PgBouncer on a free loopback port, out of a temporary folder, in
/// transaction pooling, in front of one database of a PostgresServer: the
/// pool `database` (its entry in pgbouncer.ini's [databases] section) goes
/// to the server's database of that name. Clients log in as `postgres`
/// with the server's password; the admin console's user is `pgbouncer`
/// with `adminPassword`. Both passwords are in its 0600 auth file. As root
/// (CI) it runs as the `postgres` user, since PgBouncer refuses root.
class PgBouncerServer {
 public:
  /// nullptr with `error` set on failure ("pgbouncer is not installed: run
  /// scripts/setup.sh", or what it logged).
  static std::unique_ptr<PgBouncerServer> start(const PostgresServer& backend,
                                                const std::string& database,
                                                const std::string& serverPassword,
                                                const std::string& adminPassword,
                                                std::string& error);

  /// Stops it (SIGTERM, then SIGKILL after 5 s) and removes its folder.
  ~PgBouncerServer();
  PgBouncerServer(const PgBouncerServer&) = delete;
  PgBouncerServer& operator=(const PgBouncerServer&) = delete;

  int port() const { return port_; }
  int pid() const { return pid_; }
  /// pgbouncer.ini: the file pgbouncer.point rewrites.
  std::string configPath() const { return folder_ + "/pgbouncer.ini"; }
  /// postgresql://postgres@127.0.0.1:PORT/DATABASE: the pool, as the application reaches it.
  std::string url() const;
  /// postgresql://pgbouncer@127.0.0.1:PORT/pgbouncer: the admin console.
  std::string adminUrl() const;
  /// What the admin console answers to `command` (psql, unaligned), or
  /// nullopt with `error` set.
  std::optional<std::string> admin(const std::string& command, std::string* error = nullptr) const;

 private:
  PgBouncerServer() = default;
  void stop();

  std::string database_;
  std::string adminPassword_;
  std::string folder_;
  int port_ = 0;
  int pid_ = 0;
  int watchdog_ = 0;
};

/// Whether process `pid` is still running (a zombie counts as gone).
bool processIsRunning(int pid);

/// A PGPASSFILE line: `user` may log in to `server` with `password`.
std::string pgpassLine(const PostgresServer& server, const std::string& user,
                       const std::string& password);

/// Writes `text` to a file that is 0600 from its creation on (libpq ignores
/// a looser PGPASSFILE). False with `error` set on failure.
bool writePrivateFile(const std::string& path, const std::string& text, std::string& error);

}  // namespace mig::testing
