#include "tests/harness/servers.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "runtime/drivers/subprocess.h"
#include "runtime/option_file.h"

extern char** environ;

namespace mig::testing {
namespace {

namespace fs = std::filesystem;
using drivers::describeFailure;
using drivers::runSubprocess;
using drivers::SubprocessRequest;
using drivers::SubprocessResult;
using namespace std::chrono_literals;

constexpr const char* kPostgresBin = "/usr/lib/postgresql/15/bin";
constexpr int kStartAttempts = 5;

/// A port nobody listens on right now: bind port 0 on loopback, read what
/// the kernel chose, close. Another process may take it before the server
/// binds it, so callers retry a failed start with a new port. 0 on failure.
int freeLoopbackPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof(address);
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
    port = ntohs(address.sin_port);
  }
  ::close(fd);
  return port;
}

/// A new 0700 folder under the temp directory (or /tmp when that path is so
/// long that a unix socket in it would not fit); "" with `error` on failure.
std::string makeTempFolder(const std::string& prefix, std::string& error) {
  std::error_code ec;
  fs::path base = fs::temp_directory_path(ec);
  if (ec || base.string().size() > 60) base = "/tmp";
  std::string pattern = (base / (prefix + "-XXXXXX")).string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    error = fmt::format("cannot create a folder like {}: {}", pattern, std::strerror(errno));
    return "";
  }
  return pattern;
}

/// Writes a 0600 file; `owner` (uid, gid) when given. False with `error` on failure.
bool writePrivateFile(const std::string& path, const std::string& text,
                      std::optional<std::pair<uid_t, gid_t>> owner, std::string& error) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    error = fmt::format("cannot write {}: {}", path, std::strerror(errno));
    return false;
  }
  bool ok = ::fchmod(fd, 0600) == 0 &&
            ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
            (!owner || ::fchown(fd, owner->first, owner->second) == 0);
  if (!ok) error = fmt::format("cannot write {}: {}", path, std::strerror(errno));
  ::close(fd);
  return ok;
}

std::string readText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string trimmed(const std::string& text) {
  size_t begin = text.find_first_not_of(" \t\r\n");
  if (begin == std::string::npos) return "";
  size_t end = text.find_last_not_of(" \t\r\n");
  return text.substr(begin, end - begin + 1);
}

/// The last `count` lines of `text`, for error messages from server logs.
std::string lastLines(const std::string& text, int count) {
  std::string body = trimmed(text);
  size_t at = body.size();
  for (int i = 0; i < count && at != std::string::npos && at > 0; ++i) {
    at = body.rfind('\n', at - 1);
  }
  return at == std::string::npos ? body : body.substr(at + 1);
}

/// The program's path in PATH, or "".
std::string findProgram(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin";
  std::istringstream stream(dirs);
  std::string dir;
  while (std::getline(stream, dir, ':')) {
    std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  for (const char* dirFallback : {"/usr/sbin", "/sbin", "/usr/bin", "/bin"}) {
    std::string candidate = std::string(dirFallback) + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

bool sleepUntilGone(int pid, std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (processIsRunning(pid)) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

std::string quotedIdentifier(const std::string& name) {
  std::string quoted = "\"";
  for (char c : name) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

/// The first line of DATA/postmaster.pid: the postmaster's pid, or 0.
int postmasterPid(const std::string& dataDir) {
  std::ifstream in(dataDir + "/postmaster.pid");
  int pid = 0;
  in >> pid;
  return in ? pid : 0;
}

/// How a background process is started.
enum class Session {
  Ours,  ///< in our process group: a Ctrl-C, or a runner killing the group, stops it too
  Own,   ///< in a session of its own: it outlives us (for the watchdog)
};

/// Starts `argv` in the background with stdin from /dev/null and its output
/// appended to `logPath`; the pid, or 0 with `error` set.
int spawnInBackground(const std::vector<std::string>& argv, const std::string& logPath,
                      Session session, std::string& error) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, logPath.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0600);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  sigset_t none;
  sigemptyset(&none);
  short flags = POSIX_SPAWN_SETSIGMASK;
  if (session == Session::Own) flags |= POSIX_SPAWN_SETSID;
  posix_spawnattr_setflags(&attributes, flags);
  posix_spawnattr_setsigmask(&attributes, &none);
  std::vector<std::string> storage = argv;
  std::vector<char*> pointers;
  for (auto& word : storage) pointers.push_back(word.data());
  pointers.push_back(nullptr);
  pid_t pid = 0;
  int failed = ::posix_spawn(&pid, pointers[0], &actions, &attributes, pointers.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  if (failed != 0) {
    error = fmt::format("cannot run {}: {}", argv[0], std::strerror(failed));
    return 0;
  }
  return pid;
}

std::string shellQuoted(const std::string& word) {
  std::string quoted = "'";
  for (char c : word) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

/// Starts a watchdog that runs `cleanup` (shell words, quoted) once this
/// process has ended, however it ended: a crash, SIGKILL, a test runner's
/// timeout, a closed pipe. Destructors cover every other case; the server
/// never outlives its test. Returns the watchdog's pid (stop it with
/// `stopWatchdog` when the server is stopped normally), or 0.
int startWatchdog(const std::string& cleanup) {
  std::string script = fmt::format(
      "while kill -0 {0} 2>/dev/null && ! grep -q '^[0-9]* (.*) Z' /proc/{0}/stat; do sleep 0.5; "
      "done; {1}",
      ::getpid(), cleanup);
  std::string ignored;
  return spawnInBackground({"/bin/sh", "-c", script}, "/dev/null", Session::Own, ignored);
}

void stopWatchdog(int pid) {
  if (pid <= 0) return;
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
}

/// Stops our child `pid`: SIGTERM, SIGKILL after `grace`, reaped either way.
void terminateChild(int pid, std::chrono::milliseconds grace) {
  ::kill(pid, SIGTERM);
  auto deadline = std::chrono::steady_clock::now() + grace;
  int status = 0;
  while (::waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() >= deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return;
    }
    std::this_thread::sleep_for(20ms);
  }
}

}  // namespace

std::string pgpassLine(const PostgresServer& server, const std::string& user,
                       const std::string& password) {
  return fmt::format("127.0.0.1:{}:*:{}:{}\n", server.port(), user, password);
}

bool writePrivateFile(const std::string& path, const std::string& text, std::string& error) {
  return writePrivateFile(path, text, std::nullopt, error);
}

bool processIsRunning(int pid) {
  if (pid <= 0) return false;
  if (::kill(pid, 0) != 0 && errno != EPERM) return false;
  // A zombie nobody reaps yet (the postmaster's parent, pg_ctl, is gone and
  // PID 1 may not reap in a container) has stopped all the same.
  std::string stat = readText(fmt::format("/proc/{}/stat", pid));
  size_t close = stat.rfind(')');
  if (close == std::string::npos || close + 2 >= stat.size()) return !stat.empty();
  char state = stat[close + 2];
  return state != 'Z' && state != 'X';
}

// ---------------------------------------------------------------------------
// PostgresServer

namespace {

/// How to run a PostgreSQL program as the cluster's owner.
std::vector<std::string> asOwner(bool asPostgresUser, std::vector<std::string> argv) {
  if (!asPostgresUser) return argv;
  std::vector<std::string> wrapped = {findProgram("runuser"), "-u", "postgres", "--"};
  wrapped.insert(wrapped.end(), argv.begin(), argv.end());
  return wrapped;
}

std::string binary(const std::string& name) {
  return fmt::format("{}/{}", kPostgresBin, name);
}

}  // namespace

std::unique_ptr<PostgresServer> PostgresServer::start(const std::string& password,
                                                      std::string& error,
                                                      const std::string& walLevel) {
  for (const char* program : {"initdb", "pg_ctl", "pg_isready", "psql"}) {
    if (::access(binary(program).c_str(), X_OK) != 0) {
      error =
          fmt::format("postgresql is not installed (no {}): run scripts/setup.sh", binary(program));
      return nullptr;
    }
  }
  std::unique_ptr<PostgresServer> server(new PostgresServer());
  server->password_ = password;
  std::optional<std::pair<uid_t, gid_t>> owner;
  if (::geteuid() == 0) {
    // initdb refuses root: the cluster belongs to the `postgres` user.
    const passwd* user = ::getpwnam("postgres");
    if (user == nullptr) {
      error =
          "there is no `postgres` user to run PostgreSQL as (running as root): "
          "run scripts/setup.sh";
      return nullptr;
    }
    if (findProgram("runuser").empty()) {
      error = "runuser is not installed (needed to run PostgreSQL as root): run scripts/setup.sh";
      return nullptr;
    }
    owner = std::make_pair(user->pw_uid, user->pw_gid);
    server->asPostgresUser_ = true;
  }

  server->folder_ = makeTempFolder("mig-pg", error);
  if (server->folder_.empty()) return nullptr;
  if (owner && ::chown(server->folder_.c_str(), owner->first, owner->second) != 0) {
    error = fmt::format("cannot give {} to postgres: {}", server->folder_, std::strerror(errno));
    return nullptr;
  }
  server->dataDir_ = server->folder_ + "/data";
  std::string stopCommand;
  for (const std::string& word :
       asOwner(server->asPostgresUser_,
               {binary("pg_ctl"), "stop", "--mode=immediate", "--pgdata=" + server->dataDir_})) {
    stopCommand += shellQuoted(word) + " ";
  }
  server->watchdog_ = startWatchdog(
      fmt::format("{}>/dev/null 2>&1; rm -rf {}", stopCommand, shellQuoted(server->folder_)));

  std::string passwordFile = server->folder_ + "/initdb.password";
  if (!writePrivateFile(passwordFile, password + "\n", owner, error)) return nullptr;
  SubprocessRequest initdb;
  initdb.argv =
      asOwner(server->asPostgresUser_,
              {binary("initdb"), "--no-sync", "--pgdata=" + server->dataDir_, "--username=postgres",
               "--pwfile=" + passwordFile, "--auth-host=scram-sha-256",
               "--auth-local=scram-sha-256", "--encoding=UTF8", "--no-locale"});
  initdb.workdir = server->folder_;
  initdb.timeout = 120s;
  SubprocessResult created = runSubprocess(initdb);
  ::unlink(passwordFile.c_str());
  if (!created.succeeded()) {
    error = fmt::format("initdb failed ({}): {}", describeFailure(initdb, created),
                        lastLines(created.err + created.out, 10));
    return nullptr;
  }

  std::ofstream config(server->dataDir_ + "/postgresql.conf", std::ios::app);
  config << "\n# mig test harness: loopback only, fast and small\n"
         << "listen_addresses = '127.0.0.1'\n"
         << "unix_socket_directories = '" << server->dataDir_ << "'\n"
         << "fsync = off\n"
         << "synchronous_commit = off\n"
         << "full_page_writes = off\n"
         << "shared_buffers = 16MB\n"
         << "max_connections = 30\n"
         << "autovacuum = off\n"
         // Online migrations replicate from these clusters.
         << "wal_level = " << walLevel << "\n"
         << "max_replication_slots = 10\n"
         << "max_wal_senders = 10\n";
  config.close();
  if (!config) {
    error = fmt::format("cannot write {}/postgresql.conf", server->dataDir_);
    return nullptr;
  }
  if (!server->launch(error)) return nullptr;
  return server;
}

bool PostgresServer::launch(std::string& error) {
  std::string logPath = folder_ + "/server.log";
  for (int attempt = 1; attempt <= kStartAttempts; ++attempt) {
    port_ = freeLoopbackPort();
    if (port_ == 0) {
      error = fmt::format("cannot find a free loopback port: {}", std::strerror(errno));
      return false;
    }
    size_t logBefore = readText(logPath).size();
    SubprocessRequest start;
    start.argv = asOwner(asPostgresUser_, {binary("pg_ctl"), "start", "--wait", "--timeout=60",
                                           "--pgdata=" + dataDir_, "--log=" + logPath,
                                           fmt::format("--options=-p {}", port_)});
    start.workdir = folder_;
    start.timeout = 90s;
    SubprocessResult started = runSubprocess(start);
    if (started.succeeded()) {
      pid_ = postmasterPid(dataDir_);
      if (waitUntilReady(error)) return true;
      return false;
    }
    std::string log = readText(logPath);
    std::string news = log.size() > logBefore ? log.substr(logBefore) : "";
    bool portTaken = news.find("could not bind") != std::string::npos ||
                     news.find("could not create any TCP/IP sockets") != std::string::npos;
    if (!portTaken) {
      error = fmt::format("pg_ctl start failed ({}): {}", describeFailure(start, started),
                          lastLines(news.empty() ? started.err + started.out : news, 10));
      return false;
    }
  }
  error = fmt::format("PostgreSQL found no free port in {} attempts", kStartAttempts);
  return false;
}

bool PostgresServer::waitUntilReady(std::string& error) const {
  auto deadline = std::chrono::steady_clock::now() + 30s;
  SubprocessRequest probe;
  probe.argv = {binary("pg_isready"), "--host=127.0.0.1", fmt::format("--port={}", port_),
                "--dbname=postgres", "--timeout=2"};
  probe.timeout = 10s;
  while (true) {
    SubprocessResult result = runSubprocess(probe);
    if (result.succeeded()) return true;
    if (!processIsRunning(pid_)) {
      error = fmt::format("the postmaster (pid {}) stopped: {}", pid_,
                          lastLines(readText(folder_ + "/server.log"), 10));
      return false;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      error = fmt::format("PostgreSQL on port {} is not ready after 30 s: {}", port_,
                          trimmed(result.out + result.err));
      return false;
    }
    std::this_thread::sleep_for(50ms);
  }
}

PostgresServer::~PostgresServer() {
  stop();
}

void PostgresServer::stop() {
  stopWatchdog(watchdog_);
  watchdog_ = 0;
  if (!dataDir_.empty()) {
    int pid = pid_ > 0 ? pid_ : postmasterPid(dataDir_);
    if (processIsRunning(pid)) {
      SubprocessRequest stopping;
      stopping.argv = asOwner(asPostgresUser_, {binary("pg_ctl"), "stop", "--mode=immediate",
                                                "--wait", "--timeout=10", "--pgdata=" + dataDir_});
      stopping.workdir = folder_;
      stopping.timeout = 20s;
      runSubprocess(stopping);
      if (!sleepUntilGone(pid, 10s)) {
        ::kill(pid, SIGKILL);
        sleepUntilGone(pid, 5s);
      }
    }
  }
  if (!folder_.empty()) {
    std::error_code ec;
    fs::remove_all(folder_, ec);
  }
  pid_ = 0;
}

std::string PostgresServer::url(const std::string& database) const {
  return fmt::format("postgresql://postgres@127.0.0.1:{}/{}", port_, database);
}

std::optional<std::string> PostgresServer::sql(const std::string& database,
                                               const std::string& statements,
                                               std::string* error) const {
  SubprocessRequest request;
  request.argv = {binary("psql"),          "--no-psqlrc",         "--quiet",
                  "--set=ON_ERROR_STOP=1", "--no-password",       "--no-align",
                  "--tuples-only",         "--host=" + dataDir_,  fmt::format("--port={}", port_),
                  "--username=postgres",   "--dbname=" + database};
  request.input = statements;
  request.env = {{"PGPASSWORD", password_}, {"PGCONNECT_TIMEOUT", "10"}};
  request.unsetEnv = {"PGPASSFILE", "PGSERVICE", "PGOPTIONS"};
  request.timeout = 120s;
  SubprocessResult result = runSubprocess(request);
  if (result.succeeded()) return result.out;
  if (error) {
    std::string message = trimmed(result.err);
    *error = message.empty() ? describeFailure(request, result) : message;
  }
  return std::nullopt;
}

bool PostgresServer::createDatabase(const std::string& name, std::string* error) const {
  return sql("postgres", "CREATE DATABASE " + quotedIdentifier(name) + ";\n", error).has_value();
}

bool PostgresServer::setHbaHostRules(const std::vector<std::string>& cidrs,
                                     std::string* error) const {
  std::string path = dataDir_ + "/pg_hba.conf";
  std::string rules = "# pg_hba.conf written by mig's test harness\n";
  std::istringstream current(readText(path));
  for (std::string line; std::getline(current, line);) {
    if (line.starts_with("local")) rules += line + "\n";
  }
  rules +=
      "host all all 127.0.0.1/32 scram-sha-256\n"
      "host all all ::1/128 scram-sha-256\n"
      "host replication all 127.0.0.1/32 scram-sha-256\n"
      "host replication all ::1/128 scram-sha-256\n";
  for (const std::string& entry : cidrs) {
    rules += entry.find(' ') != std::string::npos ? entry + "\n"
                                                  : "host all all " + entry + " scram-sha-256\n";
  }
  {
    // Truncating keeps the file's owner (postgres) and mode.
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << rules;
    out.close();
    if (!out) {
      if (error) *error = fmt::format("cannot write {}", path);
      return false;
    }
  }
  // The postmaster reloads asynchronously: wait until a new session sees a
  // newer load time, so that the next connection follows the new rules.
  auto loadTime = sql("postgres", "SELECT pg_conf_load_time();\n", error);
  if (!loadTime || !sql("postgres", "SELECT pg_reload_conf();\n", error)) return false;
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline) {
    auto now = sql("postgres", "SELECT pg_conf_load_time();\n", error);
    if (!now) return false;
    if (*now != *loadTime) return true;
    std::this_thread::sleep_for(20ms);
  }
  if (error) *error = "PostgreSQL did not reload its configuration within 10 s";
  return false;
}

// ---------------------------------------------------------------------------
// RedisServer

namespace {

/// A value quoted for redis.conf.
std::string redisQuoted(const std::string& value) {
  std::string quoted = "\"";
  for (char c : value) {
    if (c == '"' || c == '\\') quoted += '\\';
    quoted += c;
  }
  return quoted + "\"";
}

}  // namespace

std::unique_ptr<RedisServer> RedisServer::start(const std::string& password, std::string& error) {
  if (findProgram("redis-server").empty() || findProgram("redis-cli").empty()) {
    error =
        "redis-server is not installed (redis-server and redis-cli are needed): "
        "run scripts/setup.sh";
    return nullptr;
  }
  std::unique_ptr<RedisServer> server(new RedisServer());
  server->password_ = password;
  server->folder_ = makeTempFolder("mig-redis", error);
  if (server->folder_.empty()) return nullptr;
  if (!server->launch(error)) return nullptr;
  return server;
}

bool RedisServer::launch(std::string& error) {
  std::string logPath = folder_ + "/redis.log";
  for (int attempt = 1; attempt <= kStartAttempts; ++attempt) {
    port_ = freeLoopbackPort();
    if (port_ == 0) {
      error = fmt::format("cannot find a free loopback port: {}", std::strerror(errno));
      return false;
    }
    std::string config = fmt::format(
        "port {}\nbind 127.0.0.1\nprotected-mode yes\ndaemonize no\nsave \"\"\nappendonly no\n"
        "dir {}\nlogfile {}\n",
        port_, redisQuoted(folder_), redisQuoted(logPath));
    if (!password_.empty()) config += "requirepass " + redisQuoted(password_) + "\n";
    std::string configPath = folder_ + "/redis.conf";
    if (!writePrivateFile(configPath, config, std::nullopt, error)) return false;

    size_t logBefore = readText(logPath).size();
    pid_ = spawnInBackground({findProgram("redis-server"), configPath}, folder_ + "/redis.out",
                             Session::Ours, error);
    if (pid_ == 0) return false;

    auto deadline = std::chrono::steady_clock::now() + 15s;
    bool exited = false;
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        exited = true;
        break;
      }
      std::string ignored;
      auto pong = cli({"PING"}, &ignored);
      if (pong && trimmed(*pong) == "PONG") {
        watchdog_ = startWatchdog(fmt::format(
            "kill -TERM {0} 2>/dev/null; sleep 2; kill -KILL {0} 2>/dev/null; rm -rf {1}", pid_,
            shellQuoted(folder_)));
        return true;
      }
      std::this_thread::sleep_for(50ms);
    }
    std::string log = readText(logPath) + readText(folder_ + "/redis.out");
    std::string news = log.size() > logBefore ? log.substr(logBefore) : log;
    if (!exited) {
      stop();
      error = fmt::format("redis-server on port {} did not answer PING within 15 s: {}", port_,
                          lastLines(news, 10));
      return false;
    }
    pid_ = 0;
    if (news.find("Address already in use") == std::string::npos) {
      error = fmt::format("redis-server did not start: {}", lastLines(news, 10));
      return false;
    }
  }
  error = fmt::format("redis-server found no free port in {} attempts", kStartAttempts);
  return false;
}

RedisServer::~RedisServer() {
  stop();
  if (!folder_.empty()) {
    std::error_code ec;
    fs::remove_all(folder_, ec);
  }
}

void RedisServer::stop() {
  stopWatchdog(watchdog_);
  watchdog_ = 0;
  if (pid_ <= 0) return;
  terminateChild(pid_, 5s);
  pid_ = 0;
}

std::string RedisServer::url(int db) const {
  return fmt::format("redis://127.0.0.1:{}/{}", port_, db);
}

std::optional<std::string> RedisServer::cli(const std::vector<std::string>& args,
                                            std::string* error) const {
  SubprocessRequest request;
  request.argv = {"redis-cli", "-h", "127.0.0.1", "-p", std::to_string(port_)};
  request.argv.insert(request.argv.end(), args.begin(), args.end());
  if (password_.empty()) {
    request.unsetEnv = {"REDISCLI_AUTH"};
  } else {
    request.env = {{"REDISCLI_AUTH", password_}};
  }
  request.timeout = 30s;
  SubprocessResult result = runSubprocess(request);
  if (result.succeeded()) return result.out;
  if (error) {
    std::string message = trimmed(result.err + result.out);
    *error = message.empty() ? describeFailure(request, result) : message;
  }
  return std::nullopt;
}


// ---------------------------------------------------------------------------
// PgBouncerServer

namespace {

/// A TCP connection to 127.0.0.1:`port` is accepted.
bool acceptsConnections(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<uint16_t>(port));
  bool connected = ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
  ::close(fd);
  return connected;
}

/// A value quoted for PgBouncer's auth file: "name" "password".
std::string authQuoted(const std::string& value) {
  std::string quoted = "\"";
  for (char c : value) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

}  // namespace

std::unique_ptr<PgBouncerServer> PgBouncerServer::start(const PostgresServer& backend,
                                                        const std::string& database,
                                                        const std::string& serverPassword,
                                                        const std::string& adminPassword,
                                                        std::string& error) {
  std::string program = findProgram("pgbouncer");
  if (program.empty()) {
    error = "pgbouncer is not installed: run scripts/setup.sh";
    return nullptr;
  }
  std::unique_ptr<PgBouncerServer> server(new PgBouncerServer());
  server->database_ = database;
  server->adminPassword_ = adminPassword;
  std::optional<std::pair<uid_t, gid_t>> owner;
  bool asPostgresUser = ::geteuid() == 0;
  if (asPostgresUser) {
    const passwd* user = ::getpwnam("postgres");
    if (user == nullptr) {
      error = "there is no `postgres` user to run PgBouncer as (running as root)";
      return nullptr;
    }
    owner = std::make_pair(user->pw_uid, user->pw_gid);
  }
  server->folder_ = makeTempFolder("mig-pgbouncer", error);
  if (server->folder_.empty()) return nullptr;
  if (owner && ::chown(server->folder_.c_str(), owner->first, owner->second) != 0) {
    error = fmt::format("cannot give {} to postgres: {}", server->folder_, std::strerror(errno));
    return nullptr;
  }
  const std::string& folder = server->folder_;
  std::string authFile = folder + "/userlist.txt";
  std::string users = fmt::format("{} {}\n{} {}\n", authQuoted("postgres"),
                                  authQuoted(serverPassword), authQuoted("pgbouncer"),
                                  authQuoted(adminPassword));
  if (!writePrivateFile(authFile, users, owner, error)) return nullptr;

  std::string logPath = folder + "/pgbouncer.log";
  std::string pidPath = folder + "/pgbouncer.pid";
  for (int attempt = 1; attempt <= kStartAttempts; ++attempt) {
    server->port_ = freeLoopbackPort();
    if (server->port_ == 0) {
      error = fmt::format("cannot find a free loopback port: {}", std::strerror(errno));
      return nullptr;
    }
    std::string config = fmt::format(
        "[databases]\n"
        "{} = host=127.0.0.1 port={} dbname={}\n"
        "\n[pgbouncer]\n"
        "listen_addr = 127.0.0.1\nlisten_port = {}\nunix_socket_dir =\n"
        "auth_type = scram-sha-256\nauth_file = {}\nadmin_users = pgbouncer\n"
        "pool_mode = transaction\nmax_client_conn = 200\ndefault_pool_size = 10\n"
        "ignore_startup_parameters = extra_float_digits,options\n"
        "logfile = {}\npidfile = {}\n",
        database, backend.port(), database, server->port_, authFile, logPath, pidPath);
    if (!writePrivateFile(server->configPath(), config, owner, error)) return nullptr;
    ::unlink(pidPath.c_str());
    size_t logBefore = readText(logPath).size();
    std::vector<std::string> argv = {program, server->configPath()};
    if (asPostgresUser) argv.insert(argv.begin(), {findProgram("runuser"), "-u", "postgres", "--"});
    int launcher = spawnInBackground(argv, folder + "/pgbouncer.out", Session::Ours, error);
    if (launcher == 0) return nullptr;

    auto deadline = std::chrono::steady_clock::now() + 15s;
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (::waitpid(launcher, &status, WNOHANG) == launcher) break;  // it exited: see the log
      std::ifstream pidFile(pidPath);
      int pid = 0;
      if (pidFile >> pid && pid > 0 && acceptsConnections(server->port_)) {
        server->pid_ = pid;
        server->watchdog_ = startWatchdog(fmt::format(
            "kill -TERM {0} 2>/dev/null; sleep 2; kill -KILL {0} 2>/dev/null; rm -rf {1}", pid,
            shellQuoted(folder)));
        return server;
      }
      std::this_thread::sleep_for(50ms);
    }
    ::kill(launcher, SIGKILL);
    int status = 0;
    ::waitpid(launcher, &status, 0);
    std::string log = readText(logPath) + readText(folder + "/pgbouncer.out");
    std::string news = log.size() > logBefore ? log.substr(logBefore) : log;
    if (news.find("Address already in use") == std::string::npos) {
      error = fmt::format("pgbouncer did not start: {}", lastLines(news, 10));
      return nullptr;
    }
  }
  error = fmt::format("pgbouncer found no free port in {} attempts", kStartAttempts);
  return nullptr;
}

PgBouncerServer::~PgBouncerServer() {
  stop();
  if (!folder_.empty()) {
    std::error_code ec;
    fs::remove_all(folder_, ec);
  }
}

void PgBouncerServer::stop() {
  stopWatchdog(watchdog_);
  watchdog_ = 0;
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  if (!sleepUntilGone(pid_, 5s)) {
    ::kill(pid_, SIGKILL);
    sleepUntilGone(pid_, 5s);
  }
  pid_ = 0;
}

std::string PgBouncerServer::url() const {
  return fmt::format("postgresql://postgres@127.0.0.1:{}/{}", port_, database_);
}

std::string PgBouncerServer::adminUrl() const {
  return fmt::format("postgresql://pgbouncer@127.0.0.1:{}/pgbouncer", port_);
}

std::optional<std::string> PgBouncerServer::admin(const std::string& command,
                                                  std::string* error) const {
  SubprocessRequest request;
  request.argv = {findProgram("psql"), "--no-psqlrc", "--quiet",  "--no-password",
                  "--no-align",        "--tuples-only", "--dbname=" + adminUrl(),
                  "--command=" + command};
  request.env = {{"PGPASSWORD", adminPassword_}, {"PGCONNECT_TIMEOUT", "10"}};
  request.unsetEnv = {"PGPASSFILE", "PGSERVICE", "PGOPTIONS"};
  request.timeout = 60s;
  SubprocessResult result = runSubprocess(request);
  if (result.succeeded()) return result.out;
  if (error) {
    std::string message = trimmed(result.err);
    *error = message.empty() ? describeFailure(request, result) : message;
  }
  return std::nullopt;
}


// ---------------------------------------------------------------------------
// MariaDbServer

namespace {

/// A string literal for MariaDB: quotes and backslashes escaped.
std::string mariaDbQuoted(const std::string& value) {
  std::string quoted = "'";
  for (char c : value) {
    if (c == '\'' || c == '\\') quoted += '\\';
    quoted += c;
  }
  return quoted + "'";
}


}  // namespace

std::unique_ptr<MariaDbServer> MariaDbServer::start(const std::string& password,
                                                    std::string& error) {
  for (const char* program : {"mariadb-install-db", "mariadbd", "mariadb"}) {
    if (findProgram(program).empty()) {
      error = fmt::format("mariadb-server is not installed (no {}): run scripts/setup.sh", program);
      return nullptr;
    }
  }
  std::unique_ptr<MariaDbServer> server(new MariaDbServer());
  std::optional<std::pair<uid_t, gid_t>> owner;
  if (::geteuid() == 0) {
    const passwd* user = ::getpwnam("mysql");
    if (user == nullptr) {
      error = "there is no `mysql` user to run MariaDB as (running as root): run scripts/setup.sh";
      return nullptr;
    }
    owner = std::make_pair(user->pw_uid, user->pw_gid);
    server->asMysqlUser_ = true;
  }
  server->folder_ = makeTempFolder("mig-mariadb", error);
  if (server->folder_.empty()) return nullptr;
  if (owner && ::chown(server->folder_.c_str(), owner->first, owner->second) != 0) {
    error = fmt::format("cannot give {} to mysql: {}", server->folder_, std::strerror(errno));
    return nullptr;
  }
  server->dataDir_ = server->folder_ + "/data";
  // A temporary folder of its own: servers bootstrapping side by side in
  // one /tmp have been seen to remove each other's temporary tables.
  std::string tmpDir = server->folder_ + "/tmp";
  if (::mkdir(tmpDir.c_str(), 0700) != 0 ||
      (owner && ::chown(tmpDir.c_str(), owner->first, owner->second) != 0)) {
    error = fmt::format("cannot create {}: {}", tmpDir, std::strerror(errno));
    return nullptr;
  }

  SubprocessRequest install;
  install.argv = {findProgram("mariadb-install-db"),
                  "--no-defaults",
                  "--datadir=" + server->dataDir_,
                  "--tmpdir=" + tmpDir,
                  "--auth-root-authentication-method=normal",
                  "--skip-test-db",
                  "--skip-name-resolve"};
  if (server->asMysqlUser_) install.argv.push_back("--user=mysql");
  install.workdir = server->folder_;
  install.timeout = 120s;
  SubprocessResult installed = runSubprocess(install);
  if (!installed.succeeded()) {
    // Its reason comes first; the advice after it is always the same.
    error = fmt::format("mariadb-install-db failed ({}): {}", describeFailure(install, installed),
                        trimmed(installed.out + installed.err).substr(0, 600));
    return nullptr;
  }
  if (!server->launch(error)) return nullptr;

  // The fresh server lets root in over the socket without a password: give
  // root its password on every loopback account and remove all others
  // (root@HOSTNAME, which skip-name-resolve ignores anyway).
  std::string bootstrap = fmt::format(
      "DELETE FROM mysql.global_priv WHERE User <> 'mariadb.sys' AND NOT (User = 'root' AND "
      "Host IN ('localhost', '127.0.0.1', '::1'));\n"
      "DELETE FROM mysql.proxies_priv WHERE Host NOT IN ('localhost', '127.0.0.1', '::1');\n"
      "FLUSH PRIVILEGES;\n"
      "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1';\n"
      "CREATE USER IF NOT EXISTS 'root'@'::1';\n"
      "GRANT ALL ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;\n"
      "GRANT ALL ON *.* TO 'root'@'::1' WITH GRANT OPTION;\n"
      "ALTER USER 'root'@'localhost' IDENTIFIED BY {0};\n"
      "ALTER USER 'root'@'127.0.0.1' IDENTIFIED BY {0};\n"
      "ALTER USER 'root'@'::1' IDENTIFIED BY {0};\n",
      mariaDbQuoted(password));
  SubprocessRequest setup;
  setup.argv = {findProgram("mariadb"), "--no-defaults", "--socket=" + server->socketPath(),
                "--user=root", "--batch"};
  setup.input = bootstrap;
  setup.timeout = 60s;
  SubprocessResult done = runSubprocess(setup);
  if (!done.succeeded()) {
    error = fmt::format("cannot set up root on MariaDB ({}): {}", describeFailure(setup, done),
                        trimmed(done.err));
    return nullptr;
  }
  if (!writePrivateFile(server->folder_ + "/root.cnf",
                        "[client]\npassword=" + runtime::optionFileValue(password) + "\n", std::nullopt,
                        error)) {
    return nullptr;
  }
  return server;
}

bool MariaDbServer::launch(std::string& error) {
  std::string logPath = folder_ + "/error.log";
  for (int attempt = 1; attempt <= kStartAttempts; ++attempt) {
    port_ = freeLoopbackPort();
    if (port_ == 0) {
      error = fmt::format("cannot find a free loopback port: {}", std::strerror(errno));
      return false;
    }
    std::vector<std::string> argv = {findProgram("mariadbd"),
                                     "--no-defaults",
                                     "--datadir=" + dataDir_,
                                     "--tmpdir=" + folder_ + "/tmp",
                                     "--bind-address=127.0.0.1",
                                     fmt::format("--port={}", port_),
                                     "--socket=" + socketPath(),
                                     "--pid-file=" + folder_ + "/mysqld.pid",
                                     "--log-error=" + logPath,
                                     "--skip-name-resolve",
                                     "--skip-log-bin",
                                     "--innodb-flush-log-at-trx-commit=0",
                                     "--innodb-doublewrite=0",
                                     "--innodb-buffer-pool-size=128M",
                                     "--max-connections=60",
                                     "--event-scheduler=OFF"};
    if (asMysqlUser_) argv.push_back("--user=mysql");
    size_t logBefore = readText(logPath).size();
    pid_ = spawnInBackground(argv, folder_ + "/mysqld.out", Session::Ours, error);
    if (pid_ == 0) return false;

    SubprocessRequest ping;
    ping.argv = {findProgram("mariadb-admin"), "--no-defaults", "--socket=" + socketPath(),
                 "--user=root", "--connect-timeout=2", "ping"};
    ping.timeout = 10s;
    auto deadline = std::chrono::steady_clock::now() + 60s;
    bool exited = false;
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        exited = true;
        break;
      }
      if (::access(socketPath().c_str(), F_OK) == 0 && runSubprocess(ping).succeeded()) {
        watchdog_ = startWatchdog(fmt::format(
            "kill -TERM {0} 2>/dev/null; sleep 5; kill -KILL {0} 2>/dev/null; rm -rf {1}", pid_,
            shellQuoted(folder_)));
        return true;
      }
      std::this_thread::sleep_for(50ms);
    }
    std::string log = readText(logPath) + readText(folder_ + "/mysqld.out");
    std::string news = log.size() > logBefore ? log.substr(logBefore) : log;
    if (!exited) {
      stop();
      error = fmt::format("MariaDB on port {} did not answer within 60 s: {}", port_,
                          lastLines(news, 10));
      return false;
    }
    pid_ = 0;
    if (news.find("Bind on TCP/IP port") == std::string::npos) {
      error = fmt::format("mariadbd did not start: {}", lastLines(news, 10));
      return false;
    }
  }
  error = fmt::format("MariaDB found no free port in {} attempts", kStartAttempts);
  return false;
}

MariaDbServer::~MariaDbServer() {
  stop();
  if (!folder_.empty()) {
    std::error_code ec;
    fs::remove_all(folder_, ec);
  }
}

void MariaDbServer::stop() {
  stopWatchdog(watchdog_);
  watchdog_ = 0;
  if (pid_ <= 0) return;
  terminateChild(pid_, 10s);
  pid_ = 0;
}

std::string MariaDbServer::url(const std::string& database) const {
  return fmt::format("mysql://root@127.0.0.1:{}/{}", port_, database);
}

std::optional<std::string> MariaDbServer::sql(const std::string& database,
                                              const std::string& statements,
                                              std::string* error) const {
  SubprocessRequest request;
  request.argv = {findProgram("mariadb"),
                  "--defaults-file=" + folder_ + "/root.cnf",
                  "--socket=" + socketPath(),
                  "--user=root",
                  "--batch",
                  "--skip-column-names",
                  "--default-character-set=utf8mb4"};
  if (!database.empty()) request.argv.push_back("--database=" + database);
  request.input = statements;
  request.unsetEnv = {"MYSQL_PWD", "MYSQL_HOST", "MYSQL_TCP_PORT"};
  request.timeout = 300s;
  SubprocessResult result = runSubprocess(request);
  if (result.succeeded()) return result.out;
  if (error) {
    std::string message = trimmed(result.err);
    *error = message.empty() ? describeFailure(request, result) : message;
  }
  return std::nullopt;
}

// ---------------------------------------------------------------- sshd

namespace {

// A fresh ed25519 key pair at `path` (and `path`.pub); its public half as
// `ssh-ed25519 BASE64`, or "" with `error` set.
std::string makeKeyPair(const std::string& path, std::string& error) {
  std::string command = fmt::format(
      "ssh-keygen -q -t ed25519 -N '' -C mig-test -f {} "
      "</dev/null >/dev/null 2>&1",
      shellQuoted(path));
  if (std::system(command.c_str()) != 0) {
    error = fmt::format("ssh-keygen could not make {}", path);
    return "";
  }
  std::string pub = trimmed(readText(path + ".pub"));
  size_t comment = pub.rfind(' ');
  return comment == std::string::npos ? pub : pub.substr(0, comment);
}

}  // namespace

std::unique_ptr<SshServer> SshServer::start(std::string& error) {
  if (!fs::exists("/usr/sbin/sshd") || findProgram("ssh").empty() ||
      findProgram("ssh-keygen").empty()) {
    error =
        "openssh-server is not installed (/usr/sbin/sshd, ssh and ssh-keygen are needed): "
        "run scripts/setup.sh";
    return nullptr;
  }
  std::unique_ptr<SshServer> server(new SshServer());
  const passwd* account = ::getpwuid(::getuid());
  if (account == nullptr) {
    error = "this process's user has no name to log in as";
    return nullptr;
  }
  server->user_ = account->pw_name;
  server->folder_ = makeTempFolder("mig-sshd", error);
  if (server->folder_.empty()) return nullptr;
  const std::string& folder = server->folder_;
  server->hostKey_ = makeKeyPair(folder + "/host_key", error);
  if (server->hostKey_.empty()) return nullptr;
  server->otherHostKey_ = makeKeyPair(folder + "/other_host_key", error);
  if (server->otherHostKey_.empty()) return nullptr;
  std::string userKey = makeKeyPair(server->identityPath(), error);
  if (userKey.empty()) return nullptr;
  if (!writePrivateFile(folder + "/authorized_keys", userKey + "\n", std::nullopt, error)) {
    return nullptr;
  }
  // As root, sshd wants its privilege separation folder.
  if (::getuid() == 0) {
    std::error_code ec;
    fs::create_directories("/run/sshd", ec);
  }
  if (!server->launch(error)) return nullptr;
  return server;
}

bool SshServer::launch(std::string& error) {
  std::string logPath = folder_ + "/sshd.log";
  for (int attempt = 1; attempt <= kStartAttempts; ++attempt) {
    port_ = freeLoopbackPort();
    if (port_ == 0) {
      error = fmt::format("cannot find a free loopback port: {}", std::strerror(errno));
      return false;
    }
    std::string config = fmt::format(
        "ListenAddress 127.0.0.1\nPort {}\nHostKey {}/host_key\n"
        "AuthorizedKeysFile {}/authorized_keys\nPasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\n"
        "StrictModes no\nUsePAM no\nPidFile none\nAllowUsers {}\n",
        port_, folder_, folder_, user_);
    if (!writePrivateFile(folder_ + "/sshd_config", config, std::nullopt, error)) return false;
    std::string knownHosts = fmt::format("[127.0.0.1]:{} {}\n", port_, hostKey_);
    if (!writePrivateFile(knownHostsPath(), knownHosts, std::nullopt, error)) return false;

    size_t logBefore = readText(logPath).size();
    pid_ = spawnInBackground({"/usr/sbin/sshd", "-D", "-e", "-f", folder_ + "/sshd_config"},
                             logPath, Session::Ours, error);
    if (pid_ == 0) return false;
    auto deadline = std::chrono::steady_clock::now() + 15s;
    bool exited = false;
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        exited = true;
        break;
      }
      std::string log = readText(logPath);
      if (log.find("Server listening on 127.0.0.1", logBefore) != std::string::npos) {
        watchdog_ = startWatchdog(fmt::format(
            "kill -TERM {0} 2>/dev/null; sleep 2; kill -KILL {0} 2>/dev/null; rm -rf {1}", pid_,
            shellQuoted(folder_)));
        return true;
      }
      std::this_thread::sleep_for(20ms);
    }
    std::string log = readText(logPath);
    std::string news = log.size() > logBefore ? log.substr(logBefore) : log;
    if (!exited) {
      stop();
      error =
          fmt::format("sshd on port {} did not listen within 15 s: {}", port_, lastLines(news, 10));
      return false;
    }
    pid_ = 0;
    if (news.find("Address already in use") == std::string::npos) {
      error = fmt::format("sshd did not start: {}", lastLines(news, 10));
      return false;
    }
  }
  error = fmt::format("sshd found no free port in {} attempts", kStartAttempts);
  return false;
}

SshServer::~SshServer() {
  stop();
  if (!folder_.empty()) {
    std::error_code ec;
    fs::remove_all(folder_, ec);
  }
}

void SshServer::stop() {
  if (pid_ > 0) terminateChild(pid_, 5s);
  pid_ = 0;
  stopWatchdog(watchdog_);
  watchdog_ = 0;
}

}  // namespace mig::testing
