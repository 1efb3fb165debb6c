// The Redis drivers against real redis-server processes on loopback, run
// through the `mig driver` binary as the stdlib runs them; and the RESP
// client they are built on (hiredis underneath).

#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <regex>
#include <set>
#include <span>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "runtime/drivers/redis_client.h"

extern char** environ;

namespace mig::drivers {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using redis::Connection;
using redis::Reply;

std::string readFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

/// A port nobody listens on now (the server may still lose it to another
/// process: starting retries with a new one).
int freeLoopbackPort() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
    port = ntohs(address.sin_port);
  }
  close(fd);
  return port;
}

/// Spawns `argv` with exactly `environment`, stdout and stderr into files;
/// the pid, or -1.
pid_t spawn(const std::vector<std::string>& argv, const std::vector<std::string>& environment,
            const std::string& stdoutPath, const std::string& stderrPath) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, stdoutPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0600);
  posix_spawn_file_actions_addopen(&actions, 2, stderrPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0600);
  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  std::vector<char*> env;
  for (const std::string& entry : environment) env.push_back(const_cast<char*>(entry.c_str()));
  env.push_back(nullptr);
  pid_t pid = -1;
  if (posix_spawnp(&pid, argv[0].c_str(), &actions, nullptr, args.data(), env.data()) != 0) {
    pid = -1;
  }
  posix_spawn_file_actions_destroy(&actions);
  return pid;
}

bool onPath(const std::string& program) {
  const char* path = std::getenv("PATH");
  std::istringstream folders(path ? path : "/usr/bin:/bin");
  for (std::string folder; std::getline(folders, folder, ':');) {
    if (access((folder + "/" + program).c_str(), X_OK) == 0) return true;
  }
  return false;
}

/// Whether this machine has an IPv6 loopback to test with.
bool ipv6LoopbackAvailable() {
  int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in6 address{};
  address.sin6_family = AF_INET6;
  address.sin6_addr = in6addr_loopback;
  const bool bound = bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  close(fd);
  return bound;
}

std::vector<std::string> basicEnvironment() {
  const char* path = std::getenv("PATH");
  return {std::string("PATH=") + (path ? path : "/usr/bin:/bin")};
}

/// A throwaway redis-server on a free loopback port, out of its own
/// temporary folder, without persistence; the password is in its 0600
/// config file, after `settings` (config file lines). The destructor stops
/// it by pid and removes the folder.
class TestRedis {
 public:
  static std::unique_ptr<TestRedis> start(const std::string& password,
                                          const std::string& settings = "") {
    if (!onPath("redis-server") || !onPath("redis-cli")) {
      ADD_FAILURE() << "redis-server is not installed (redis-server and redis-cli are needed): "
                       "run scripts/setup.sh";
      return nullptr;
    }
    std::unique_ptr<TestRedis> server(new TestRedis());
    server->password_ = password;
    server->settings_ = settings;
    char folder[] = "/tmp/mig-redis-test-XXXXXX";
    if (mkdtemp(folder) == nullptr) return nullptr;
    server->folder_ = folder;
    for (int attempt = 0; attempt < 5; ++attempt) {
      if (server->launch()) return server;
    }
    ADD_FAILURE() << "redis-server did not start: " << readFile(server->folder_ + "/redis.log");
    return nullptr;
  }

  ~TestRedis() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      for (int i = 0; i < 500 && waitpid(pid_, nullptr, WNOHANG) == 0; ++i) {
        std::this_thread::sleep_for(10ms);
      }
      if (kill(pid_, 0) == 0) {
        kill(pid_, SIGKILL);
        waitpid(pid_, nullptr, 0);
      }
    }
    std::error_code ignored;
    fs::remove_all(folder_, ignored);
  }

  int port() const { return port_; }
  const std::string& password() const { return password_; }

  /// Kills the server at once (SIGKILL), as a crash or a lost machine would.
  void crash() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  std::string url(int db = 0) const {
    return "redis://127.0.0.1:" + std::to_string(port_) + "/" + std::to_string(db);
  }

  /// A connection of our own client to database `db`.
  std::unique_ptr<Connection> connect(int db = 0) const {
    redis::ConnectOptions options;
    options.password = password_;
    std::string error;
    auto connection = Connection::open({"127.0.0.1", port_, db, ""}, options, error);
    EXPECT_TRUE(connection) << error;
    return connection;
  }

  /// Runs a command; its reply (an error reply fails the test).
  Reply run(std::initializer_list<std::string_view> args, int db = 0) const {
    auto connection = connect(db);
    if (!connection) return {};
    auto reply = connection->command(args);
    EXPECT_TRUE(reply) << connection->error();
    if (!reply) return {};
    EXPECT_FALSE(reply->isError()) << *args.begin() << ": " << reply->text;
    return *reply;
  }

  /// What the server has logged so far.
  std::string log() const { return readFile(folder_ + "/redis.log"); }

  /// What redis-cli prints for `args` (--raw), as an independent reader.
  std::string cli(const std::vector<std::string>& args, int db = 0) const {
    std::vector<std::string> argv = {"redis-cli",
                                     "-h",
                                     "127.0.0.1",
                                     "-p",
                                     std::to_string(port_),
                                     "-n",
                                     std::to_string(db),
                                     "--no-auth-warning",
                                     "--raw"};
    argv.insert(argv.end(), args.begin(), args.end());
    auto environment = basicEnvironment();
    if (!password_.empty()) environment.push_back("REDISCLI_AUTH=" + password_);
    const std::string out = folder_ + "/cli.out";
    pid_t pid = spawn(argv, environment, out, folder_ + "/cli.err");
    EXPECT_GT(pid, 0);
    waitpid(pid, nullptr, 0);
    return readFile(out);
  }

 private:
  TestRedis() = default;

  bool launch() {
    port_ = freeLoopbackPort();
    std::ofstream config(folder_ + "/redis.conf", std::ios::trunc);
    config << "port " << port_ << "\nbind 127.0.0.1 -::1\ndir " << folder_
           << "\nsave \"\"\nappendonly no\ndaemonize no\nrepl-diskless-sync-delay 0\n"
           << "enable-debug-command local\n"
           << settings_;
    if (!password_.empty()) config << "requirepass " << password_ << "\n";
    config.close();
    fs::permissions(folder_ + "/redis.conf", fs::perms::owner_read | fs::perms::owner_write);
    const std::string log = folder_ + "/redis.log";
    pid_ = spawn({"redis-server", folder_ + "/redis.conf"}, basicEnvironment(), log, log);
    if (pid_ <= 0) return false;
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (std::chrono::steady_clock::now() < deadline) {
      if (waitpid(pid_, nullptr, WNOHANG) == pid_) {  // e.g. the port was taken meanwhile
        pid_ = -1;
        return false;
      }
      redis::ConnectOptions options;
      options.password = password_;
      options.connectTimeout = 1s;
      std::string error;
      if (auto connection = Connection::open({"127.0.0.1", port_, 0, ""}, options, error)) {
        auto pong = connection->command({"PING"});
        if (pong && pong->isStatus("PONG")) return true;
      }
      std::this_thread::sleep_for(20ms);
    }
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
    return false;
  }

  std::string password_;
  std::string settings_;
  std::string folder_;
  int port_ = 0;
  pid_t pid_ = -1;
};

struct DriverRun {
  int exitCode = -1;
  std::string out;
  std::string err;
  long peakMemoryKb = 0;                  ///< the driver's maximum resident set size
  std::chrono::milliseconds afterStop{};  ///< from the stop signal to the driver's exit
};

/// The passwords of every server the tests start: no driver output may
/// contain one.
const std::vector<std::string>& allPasswords() {
  static const std::vector<std::string> passwords = {"source-secret-7f3a", "target-secret-91c2",
                                                     "wrong-secret-5e5e"};
  return passwords;
}
const std::string& sourcePassword() {
  return allPasswords()[0];
}
const std::string& targetPassword() {
  return allPasswords()[1];
}
const std::string& wrongPassword() {
  return allPasswords()[2];
}

/// When and how a test stops a running driver, as the runtime does.
struct Stop {
  std::function<bool()> when;  ///< polled every few milliseconds
  int signal = SIGTERM;
};

/// A Stop after `delay`.
Stop after(std::chrono::milliseconds delay, int signal = SIGTERM) {
  const auto at = std::chrono::steady_clock::now() + delay;
  return {[at] { return std::chrono::steady_clock::now() > at; }, signal};
}

/// Runs `mig driver ARGS...` with only PATH and `variables` in its
/// environment, and checks that no password appears in what it printed.
/// With `stop`, sends it the signal when asked to, as a step's timeout does.
DriverRun runDriver(const std::vector<std::string>& args,
                    const std::vector<std::string>& variables = {},
                    std::optional<Stop> stop = std::nullopt) {
  char folder[] = "/tmp/mig-redis-run-XXXXXX";
  EXPECT_NE(mkdtemp(folder), nullptr);
  std::vector<std::string> argv = {MIG_BINARY, "driver"};
  argv.insert(argv.end(), args.begin(), args.end());
  auto environment = basicEnvironment();
  environment.insert(environment.end(), variables.begin(), variables.end());
  // The copy's record goes beside the journal: the run's own folder,
  // unless the test keeps one across runs.
  if (std::none_of(variables.begin(), variables.end(),
                   [](const std::string& v) { return v.starts_with("MIG_JOURNAL="); })) {
    environment.push_back(std::string("MIG_JOURNAL=") + folder + "/state.db");
  }
  DriverRun run;
  const std::string out = std::string(folder) + "/out";
  const std::string err = std::string(folder) + "/err";
  pid_t pid = spawn(argv, environment, out, err);
  EXPECT_GT(pid, 0);
  int status = 0;
  rusage usage{};
  const auto started = std::chrono::steady_clock::now();
  const auto deadline = started + 60s;
  std::optional<std::chrono::steady_clock::time_point> stoppedAt;
  while (wait4(pid, &status, WNOHANG, &usage) == 0) {
    if (stop && !stoppedAt && stop->when()) {
      kill(pid, stop->signal);
      stoppedAt = std::chrono::steady_clock::now();
    }
    if (std::chrono::steady_clock::now() > deadline) {
      ADD_FAILURE() << "mig driver " << args[0] << " did not finish within 60s";
      kill(pid, SIGKILL);
      wait4(pid, &status, 0, &usage);
      break;
    }
    std::this_thread::sleep_for(stop ? 1ms : 5ms);
  }
  if (stoppedAt) {
    run.afterStop = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - *stoppedAt);
  }
  run.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  run.peakMemoryKb = usage.ru_maxrss;
  run.out = readFile(out);
  run.err = readFile(err);
  fs::remove_all(folder);
  for (const std::string& password : allPasswords()) {
    EXPECT_EQ(run.out.find(password), std::string::npos) << "password in stdout:\n" << run.out;
    EXPECT_EQ(run.err.find(password), std::string::npos) << "password in stderr:\n" << run.err;
  }
  return run;
}

/// A relay on loopback in front of a real server, for the moments a test
/// cannot otherwise catch: just before it passes on the first client bytes
/// that contain a needle, it runs that needle's hook, which may say to drop
/// the client's connection instead; and it rewrites the server's replies.
/// One thread, every connection non-blocking with its own buffers.
class TestProxy {
 public:
  /// Returns true to drop the connection instead of passing the bytes on.
  using Hook = std::function<bool()>;

  explicit TestProxy(int serverPort) : serverPort_(serverPort) {
    listener_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    sockaddr_in address = loopback(0);
    socklen_t length = sizeof address;
    EXPECT_EQ(bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    EXPECT_EQ(listen(listener_, 16), 0);
    EXPECT_EQ(getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length), 0);
    port_ = ntohs(address.sin_port);
    relay_ = std::thread([this] { loop(); });
  }
  ~TestProxy() {
    stop_ = true;
    relay_.join();
    for (Pair& pair : pairs_) closePair(pair);
    close(listener_);
  }
  TestProxy(const TestProxy&) = delete;
  TestProxy& operator=(const TestProxy&) = delete;

  std::string url(int db = 0) const { return "redis://" + address() + "/" + std::to_string(db); }
  /// How the drivers' messages name the server behind the proxy.
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

  /// Runs `hook` once, before the first client bytes holding `needle`.
  void beforeClientSends(std::string needle, Hook hook) {
    std::lock_guard lock(mutex_);
    hooks_.push_back({std::move(needle), std::move(hook)});
  }

  /// Replaces `from` by `to` (as long) in every reply.
  void rewriteReplies(std::string from, std::string to) {
    EXPECT_EQ(from.size(), to.size());
    std::lock_guard lock(mutex_);
    rewrites_.emplace_back(std::move(from), std::move(to));
  }

 private:
  struct Pair {
    int client = -1;
    int server = -1;
    std::string toServer;
    std::string toClient;
    std::string seen;  ///< the client's last bytes, for needles split across reads
  };

  static sockaddr_in loopback(int port) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(static_cast<uint16_t>(port));
    return address;
  }

  static void closePair(Pair& pair) {
    if (pair.client >= 0) close(pair.client);
    if (pair.server >= 0) close(pair.server);
    pair.client = pair.server = -1;
  }

  void accept() {
    const int client = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (client < 0) return;
    const int server = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address = loopback(serverPort_);
    if (connect(server, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
      close(client);
      close(server);
      return;
    }
    fcntl(server, F_SETFL, fcntl(server, F_GETFL) | O_NONBLOCK);
    pairs_.push_back({client, server, "", "", ""});
  }

  /// Reads what `from` sent into `into`; false when it closed.
  static bool take(int from, std::string& into) {
    char buffer[65536];
    const ssize_t n = ::read(from, buffer, sizeof buffer);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) return false;
    if (n > 0) into.append(buffer, static_cast<size_t>(n));
    return true;
  }

  static bool give(int to, std::string& pending) {
    if (pending.empty()) return true;
    const ssize_t n = ::write(to, pending.data(), pending.size());
    if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK;
    pending.erase(0, static_cast<size_t>(n));
    return true;
  }

  /// False when a hook says to drop the pair.
  bool fromClient(Pair& pair) {
    std::string bytes;
    if (!take(pair.client, bytes)) return false;
    pair.seen += bytes;
    std::vector<Hook> due;
    {
      std::lock_guard lock(mutex_);
      for (auto it = hooks_.begin(); it != hooks_.end();) {
        if (pair.seen.find(it->first) == std::string::npos) {
          ++it;
          continue;
        }
        due.push_back(std::move(it->second));
        it = hooks_.erase(it);
      }
    }
    bool drop = false;
    for (Hook& hook : due) drop = hook() || drop;
    if (pair.seen.size() > 4096) pair.seen.erase(0, pair.seen.size() - 4096);
    pair.toServer += bytes;
    return !drop;
  }

  bool fromServer(Pair& pair) {
    const size_t before = pair.toClient.size();
    if (!take(pair.server, pair.toClient)) return false;
    std::lock_guard lock(mutex_);
    for (const auto& [from, to] : rewrites_) {
      for (size_t at = pair.toClient.find(from, before); at != std::string::npos;
           at = pair.toClient.find(from, at + to.size())) {
        pair.toClient.replace(at, from.size(), to);
      }
    }
    return true;
  }

  void loop() {
    while (!stop_) {
      std::vector<pollfd> fds = {{listener_, POLLIN, 0}};
      for (const Pair& pair : pairs_) {
        fds.push_back(
            {pair.client, static_cast<short>(POLLIN | (pair.toClient.empty() ? 0 : POLLOUT)), 0});
        fds.push_back(
            {pair.server, static_cast<short>(POLLIN | (pair.toServer.empty() ? 0 : POLLOUT)), 0});
      }
      if (poll(fds.data(), fds.size(), 10) <= 0) continue;
      if (fds[0].revents & POLLIN) accept();
      for (size_t i = 0; i < pairs_.size() && 2 * i + 2 < fds.size(); ++i) {
        Pair& pair = pairs_[i];
        const short client = fds[2 * i + 1].revents;
        const short server = fds[2 * i + 2].revents;
        bool open = true;
        if (client & (POLLIN | POLLHUP | POLLERR)) open = fromClient(pair);
        if (open && (server & (POLLIN | POLLHUP | POLLERR))) open = fromServer(pair);
        if (open) open = give(pair.server, pair.toServer) && give(pair.client, pair.toClient);
        if (!open) closePair(pair);
      }
      std::erase_if(pairs_, [](const Pair& pair) { return pair.client < 0; });
    }
  }

  int serverPort_;
  int listener_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::vector<std::pair<std::string, Hook>> hooks_;
  std::vector<std::pair<std::string, std::string>> rewrites_;
  std::vector<Pair> pairs_;
  std::thread relay_;
};

std::vector<std::string> copyEnvironment(const TestRedis& from, const TestRedis& to) {
  return {"MIG_FROM_PASSWORD=" + from.password(), "MIG_TO_PASSWORD=" + to.password()};
}

std::string address(const TestRedis& server) {
  return "127.0.0.1:" + std::to_string(server.port());
}

DriverRun copy(const TestRedis& from, const TestRedis& to, int db = 0,
               std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {"redis-copy", "--from", from.url(db), "--to", to.url(db)};
  args.insert(args.end(), extra.begin(), extra.end());
  return runDriver(args, copyEnvironment(from, to));
}

DriverRun compare(const TestRedis& a, const TestRedis& b, int db = 0) {
  return runDriver({"redis-compare", "--a", a.url(db), "--b", b.url(db)},
                   {"MIG_A_PASSWORD=" + a.password(), "MIG_B_PASSWORD=" + b.password()});
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> result;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) result.push_back(line);
  return result;
}

const std::string kBinaryKey = std::string("bin:\0\r\n\xff", 8);
const std::string kBinaryValue = std::string("a\0b\r\nc\r\n\xfe\x01", 10) + std::string(70000, 'x');

/// One key of each type, binary bytes, TTLs and enough keys for several
/// SCAN batches, in database `db` of `server`.
void fillWithEveryType(const TestRedis& server, int db = 0) {
  auto c = server.connect(db);
  ASSERT_TRUE(c);
  c->append({"SET", kBinaryKey, kBinaryValue});
  c->append({"SET", "counter", "12345"});
  c->append({"SET", "session:1", "alive", "PX", "600000"});
  c->append({"HSET", "user:42", "name", "Ada", "bytes", std::string("\0\r\n", 3), "n", "1"});
  c->append({"RPUSH", "queue", "one", "two", std::string("\0", 1), "two"});
  c->append({"SADD", "tags", "red", "green", "blue"});
  c->append({"ZADD", "scores", "1.5", "ada", "-2", "bob", "inf", "cyd", "0.1", "dan"});
  c->append({"XADD", "events", "1-1", "kind", "login", "user", "42"});
  c->append({"XADD", "events", "2-0", "kind", "logout"});
  c->append({"HSET", "cart:7", "apples", "3"});
  c->append({"PEXPIRE", "cart:7", "900000"});
  for (int i = 0; i < 3000; ++i) {
    const std::string key = "bulk:" + std::to_string(i);
    if (i % 500 == 0) {
      c->append({"RPUSH", key, "x", "y"});
    } else {
      c->append({"SET", key, std::to_string(i * 7)});
    }
  }
  for (int i = 0; i < 2000; ++i) c->append({"RPUSH", "long", "element-" + std::to_string(i)});
  ASSERT_TRUE(c->flush());
  for (int i = 0; i < 11 + 3000 + 2000; ++i) {
    auto reply = c->read();
    ASSERT_TRUE(reply) << c->error();
    ASSERT_FALSE(reply->isError()) << reply->text;
  }
}

std::string get(const TestRedis& server, std::string_view key, int db = 0) {
  return server.run({"GET", key}, db).text;
}

using Commands = std::vector<std::vector<std::string>>;

/// How redis-compare says it counts keys, in its summary of differences.
const std::string kScanCounted =
    " (as SCAN finds them: keys whose TTL ran out are not counted, though DBSIZE may still count "
    "them)";

const std::string kLibrary =
    "#!lua name=mylib\nredis.register_function('hello', function() return 'hi' end)";
const std::string kChangedLibrary =
    "#!lua name=mylib\nredis.register_function('hello', function() return 'bye' end)";

void runAll(const TestRedis& server, const Commands& commands) {
  auto c = server.connect();
  ASSERT_TRUE(c);
  for (const auto& command : commands) c->append(std::span<const std::string>(command));
  for (const auto& command : commands) {
    auto reply = c->read();
    ASSERT_TRUE(reply) << c->error();
    ASSERT_FALSE(reply->isError()) << command[0] << ": " << reply->text;
  }
}

// ---------------------------------------------------------------------------
// The client (hiredis underneath)

TEST(RedisUrl, ParsesHostPortAndDatabase) {
  std::string error;
  auto endpoint = redis::parseUrl("redis://db.example.com:6380/3", error);
  ASSERT_TRUE(endpoint) << error;
  EXPECT_EQ(endpoint->host, "db.example.com");
  EXPECT_EQ(endpoint->port, 6380);
  EXPECT_EQ(endpoint->db, 3);
  EXPECT_EQ(endpoint->describe(), "db.example.com:6380/3");

  endpoint = redis::parseUrl("redis://cache", error);
  ASSERT_TRUE(endpoint) << error;
  EXPECT_EQ(endpoint->port, 6379);
  EXPECT_EQ(endpoint->db, 0);
}

TEST(RedisUrl, AcceptsIpv6InBracketsAndAsPlansInterpolateIt) {
  std::string error;
  auto bracketed = redis::parseUrl("redis://[::1]:7000/2", error);
  ASSERT_TRUE(bracketed) << error;
  EXPECT_EQ(bracketed->host, "::1");
  EXPECT_EQ(bracketed->port, 7000);
  EXPECT_EQ(bracketed->address(), "[::1]:7000");
  auto bare = redis::parseUrl("redis://fd00::5:7000/2", error);
  ASSERT_TRUE(bare) << error;
  EXPECT_EQ(bare->host, "fd00::5");
  EXPECT_EQ(bare->port, 7000);
}

TEST(RedisUrl, RefusesPasswordWithoutEchoingIt) {
  std::string error;
  EXPECT_FALSE(redis::parseUrl("redis://admin:hunter2@host:6379/0", error));
  EXPECT_EQ(error, "the Redis URL carries a password; give it in the environment instead");
  for (const char* url : {"redis://host:6379/0?password=hunter2",
                          "redis://host:6379?password=hunter2", "redis://host:6379/0#hunter2"}) {
    EXPECT_FALSE(redis::parseUrl(url, error)) << url;
    EXPECT_EQ(error.find("hunter2"), std::string::npos) << error;
    EXPECT_EQ(error,
              "the Redis URL has a query or a fragment, which mig does not read: give the "
              "password in the environment and the database as redis://host:port/db");
  }
  auto user = redis::parseUrl("redis://admin@host:6379/0", error);
  ASSERT_TRUE(user) << error;
  EXPECT_EQ(user->user, "admin");
}

TEST(RedisUrl, RejectsMalformedUrls) {
  std::string error;
  EXPECT_FALSE(redis::parseUrl("http://host:6379/0", error));
  EXPECT_FALSE(redis::parseUrl("redis://host:99999/0", error));
  EXPECT_EQ(error, "bad port '99999' in the Redis URL");
  EXPECT_FALSE(redis::parseUrl("redis://host:6379/x", error));
  EXPECT_FALSE(redis::parseUrl("rediss://host:6379/0", error));
  EXPECT_FALSE(redis::parseUrl("redis://:6379/0", error));
}

TEST(RedisClient, PipelinesBinarySafeValuesAndReturnsErrorsAsReplies) {
  auto server = TestRedis::start(sourcePassword());
  ASSERT_TRUE(server);
  auto c = server->connect();
  ASSERT_TRUE(c);
  const std::string big = kBinaryValue + std::string(3'000'000, '\r');
  c->append({"SET", kBinaryKey, big});
  c->append({"GET", kBinaryKey});
  c->append({"LPUSH", kBinaryKey, "x"});  // wrong type: an error reply
  c->append({"GET", "missing"});
  for (int i = 0; i < 5000; ++i) c->append({"INCR", "n"});
  ASSERT_TRUE(c->flush());
  EXPECT_TRUE(c->read()->isStatus("OK"));
  EXPECT_EQ(c->read()->text, big);
  auto wrongType = c->read();
  ASSERT_TRUE(wrongType);
  EXPECT_TRUE(wrongType->isError());
  EXPECT_TRUE(wrongType->text.starts_with("WRONGTYPE")) << wrongType->text;
  EXPECT_TRUE(c->read()->isNil());
  Reply reply;
  for (int i = 1; i <= 5000; ++i) {
    ASSERT_TRUE(c->read(reply)) << c->error();
    ASSERT_EQ(reply.integer, i);
  }
  EXPECT_FALSE(c->failed());
}

TEST(RedisClient, ReadsNestedRepliesIntoOneTreeAndReusesIt) {
  auto server = TestRedis::start(sourcePassword());
  ASSERT_TRUE(server);
  auto c = server->connect();
  ASSERT_TRUE(c);
  Reply reply;
  c->append({"EVAL", "return {1, {'a', {2, redis.status_reply('FINE')}}, {}, false}", "0"});
  c->append({"EVAL", "return 'flat'", "0"});
  ASSERT_TRUE(c->read(reply)) << c->error();
  ASSERT_TRUE(reply.isArray());
  ASSERT_EQ(reply.elements.size(), 4u);
  EXPECT_EQ(reply.elements[0].kind, Reply::Kind::kInteger);
  EXPECT_EQ(reply.elements[0].integer, 1);
  const Reply& inner = reply.elements[1];
  ASSERT_EQ(inner.elements.size(), 2u);
  EXPECT_EQ(inner.elements[0].text, "a");
  ASSERT_EQ(inner.elements[1].elements.size(), 2u);
  EXPECT_EQ(inner.elements[1].elements[0].integer, 2);
  EXPECT_TRUE(inner.elements[1].elements[1].isStatus("FINE"));
  EXPECT_TRUE(reply.elements[2].isArray());
  EXPECT_TRUE(reply.elements[2].elements.empty());
  EXPECT_TRUE(reply.elements[3].isNil());  // Lua false is a nil bulk string
  // The same Reply read again holds only the new reply.
  ASSERT_TRUE(c->read(reply)) << c->error();
  EXPECT_EQ(reply.kind, Reply::Kind::kBulk);
  EXPECT_EQ(reply.text, "flat");
  EXPECT_TRUE(reply.elements.empty());
}

TEST(RedisClient, ATimeoutOrAClosedConnectionIsAnErrorThatStays) {
  auto server = TestRedis::start(sourcePassword());
  ASSERT_TRUE(server);
  const std::string where = "redis 127.0.0.1:" + std::to_string(server->port()) + ": ";
  redis::ConnectOptions options;
  options.password = sourcePassword();
  options.ioTimeout = 200ms;
  std::string error;
  auto waiting = Connection::open({"127.0.0.1", server->port(), 0, ""}, options, error);
  ASSERT_TRUE(waiting) << error;
  EXPECT_FALSE(waiting->command({"BLPOP", "nothing", "0"}));
  EXPECT_EQ(waiting->error(), where + "no reply in time (timed out)");
  EXPECT_FALSE(waiting->command({"PING"}));
  EXPECT_EQ(waiting->error(), where + "no reply in time (timed out)");

  auto victim = server->connect();
  auto killer = server->connect();
  ASSERT_TRUE(victim && killer);
  auto id = victim->command({"CLIENT", "ID"});
  ASSERT_TRUE(id) << victim->error();
  victim->append({"BLPOP", "nothing", "0"});
  ASSERT_TRUE(victim->flush());
  auto killed = killer->command({"CLIENT", "KILL", "ID", std::to_string(id->integer)});
  ASSERT_TRUE(killed) << killer->error();
  EXPECT_EQ(killed->integer, 1);
  EXPECT_FALSE(victim->read());
  EXPECT_EQ(victim->error(), where + "connection closed by the server");
  EXPECT_TRUE(victim->failed());
}

TEST(RedisClient, AServerThatBreaksTheProtocolIsAnError) {
  // Not a Redis server: one connection, answered with a reply type RESP
  // does not have.
  int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  ASSERT_EQ(listen(listener, 1), 0);
  ASSERT_EQ(getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length), 0);
  const int port = ntohs(address.sin_port);
  std::thread fake([listener] {
    int client = accept(listener, nullptr, nullptr);
    char request[256];
    if (client >= 0 && ::read(client, request, sizeof request) > 0) {
      const std::string answer = "!bogus\r\n";
      EXPECT_EQ(write(client, answer.data(), answer.size()), static_cast<ssize_t>(answer.size()));
    }
    if (client >= 0) close(client);
  });
  redis::ConnectOptions options;
  options.selectDb = false;
  std::string error;
  auto connection = Connection::open({"127.0.0.1", port, 0, ""}, options, error);
  ASSERT_TRUE(connection) << error;
  EXPECT_FALSE(connection->command({"PING"}));
  EXPECT_EQ(connection->error(), "redis 127.0.0.1:" + std::to_string(port) +
                                     ": protocol error, got \"!\" as reply type byte");
  fake.join();
  close(listener);
}

TEST(RedisClient, ConnectionFailuresNameTheServerAndNeverThePassword) {
  auto server = TestRedis::start(sourcePassword());
  ASSERT_TRUE(server);
  redis::ConnectOptions options;
  options.password = wrongPassword();
  std::string error;
  EXPECT_FALSE(Connection::open({"127.0.0.1", server->port(), 0, ""}, options, error));
  EXPECT_EQ(error, "redis 127.0.0.1:" + std::to_string(server->port()) +
                       ": authentication failed: WRONGPASS invalid username-password pair or "
                       "user is disabled.");
  options.password.clear();
  options.passwordSource = "MIG_A_PASSWORD or REDISCLI_AUTH";
  EXPECT_FALSE(Connection::open({"127.0.0.1", server->port(), 0, ""}, options, error));
  EXPECT_EQ(error, "redis 127.0.0.1:" + std::to_string(server->port()) +
                       " requires a password: set MIG_A_PASSWORD or REDISCLI_AUTH");
  const int closedPort = freeLoopbackPort();
  EXPECT_FALSE(Connection::open({"127.0.0.1", closedPort, 0, ""}, options, error));
  EXPECT_EQ(error, "redis 127.0.0.1:" + std::to_string(closedPort) + ": connection refused");
}

TEST(RedisClient, ConnectsOverIpv6) {
  if (!ipv6LoopbackAvailable()) GTEST_SKIP() << "no IPv6 loopback on this machine";
  auto server = TestRedis::start("");
  ASSERT_TRUE(server);
  std::string error;
  auto connection = Connection::open({"::1", server->port(), 0, ""}, {}, error);
  ASSERT_TRUE(connection) << error;
  EXPECT_TRUE(connection->command({"PING"})->isStatus("PONG"));
}

// ---------------------------------------------------------------------------
// redis-copy

TEST(RedisCopy, CopiesEveryTypeBinarySafeWithTtlsAndLeavesTargetEqual) {
  auto source = TestRedis::start(sourcePassword());
  auto target = TestRedis::start(targetPassword());
  ASSERT_TRUE(source && target);
  fillWithEveryType(*source);
  source->run({"SET", "only-in-db-3", "three"}, 3);

  DriverRun run = copy(*source, *target);
  ASSERT_EQ(run.exitCode, 0) << run.err;
  EXPECT_TRUE(std::regex_match(
      run.out, std::regex("method auto: dump \\(db 3 also holds keys, which replication would "
                          "replace\\)\n"
                          "warning: the source also holds db 3 \\(1 key\\), which this copy of "
                          "db 0 leaves behind: copy each with a step of its own, or the whole "
                          "server by replication\n"
                          R"(copied 3,010 keys in [0-9.]+s \([0-9,]+ keys/s\)\n)")))
      << run.out;
  EXPECT_EQ(run.err, "");

  DriverRun parity = compare(*source, *target);
  EXPECT_EQ(parity.exitCode, 0) << parity.out << parity.err;

  // Independently: our client for the binary bytes, redis-cli for the rest.
  EXPECT_EQ(get(*target, kBinaryKey), kBinaryValue);
  EXPECT_EQ(target->cli({"TYPE", "user:42"}), "hash\n");
  EXPECT_EQ(target->cli({"HGET", "user:42", "name"}), "Ada\n");
  EXPECT_EQ(target->cli({"LRANGE", "queue", "0", "-1"}), std::string("one\ntwo\n\0\ntwo\n", 14));
  EXPECT_EQ(target->cli({"SCARD", "tags"}), "3\n");
  EXPECT_EQ(target->cli({"ZRANGE", "scores", "0", "-1", "WITHSCORES"}),
            "bob\n-2\ndan\n0.10000000000000001\nada\n1.5\ncyd\ninf\n");
  EXPECT_EQ(target->cli({"XLEN", "events"}), "2\n");
  EXPECT_EQ(target->cli({"LLEN", "long"}), "2000\n");
  EXPECT_EQ(target->cli({"GET", "counter"}), "12345\n");
  EXPECT_EQ(target->cli({"TTL", "counter"}), "-1\n");
  for (const char* key : {"session:1", "cart:7"}) {
    const int ttl = std::stoi(target->cli({"TTL", key}));
    EXPECT_GT(ttl, 500) << key;
    EXPECT_LE(ttl, 900) << key;
  }
  EXPECT_EQ(target->cli({"DBSIZE"}, 3), "0\n") << "only the URL's database is copied";

  DriverRun db3 = copy(*source, *target, 3);
  ASSERT_EQ(db3.exitCode, 0) << db3.err;
  EXPECT_EQ(get(*target, "only-in-db-3", 3), "three");
  EXPECT_EQ(target->cli({"DBSIZE"}, 0), "3010\n") << "db 0 is left alone by a copy of db 3";
}

TEST(RedisCopy, CopiesEveryTypeWhenNoKeyHasATtl) {
  auto source = TestRedis::start(sourcePassword());
  auto target = TestRedis::start(targetPassword());
  ASSERT_TRUE(source && target);
  source->run({"SET", kBinaryKey, kBinaryValue}, 5);
  source->run({"HSET", "h", "f", std::string("\0v", 2)}, 5);
  source->run({"ZADD", "z", "2", "b", "1", "a"}, 5);
  source->run({"XADD", "s", "5-5", "f", "v"}, 5);

  DriverRun run = copy(*source, *target, 5, {"--method", "dump"});
  ASSERT_EQ(run.exitCode, 0) << run.err;
  EXPECT_TRUE(run.out.starts_with("copied 4 keys in ")) << run.out;
  EXPECT_EQ(get(*target, kBinaryKey, 5), kBinaryValue);
  EXPECT_EQ(target->cli({"HGET", "h", "f"}, 5), std::string("\0v\n", 3));
  EXPECT_EQ(compare(*source, *target, 5).exitCode, 0);
}

TEST(RedisCopy, CopiesDatabasesOfMostlyOtherTypesThanStrings) {
  auto source = TestRedis::start(sourcePassword());
  auto target = TestRedis::start(targetPassword());
  ASSERT_TRUE(source && target);
  auto c = source->connect();
  ASSERT_TRUE(c);
  for (int i = 0; i < 4000; ++i) {
    const std::string n = std::to_string(i);
    if (i % 8 == 0) {
      c->append({"SET", "string:" + n, n});
    } else {
      c->append({"HSET", "hash:" + n, "field", n});
    }
    if (i % 3 == 0) c->append({"PEXPIRE", (i % 8 == 0 ? "string:" : "hash:") + n, "600000"});
  }
  ASSERT_TRUE(c->flush());
  for (int i = 0; i < 4000 + 1334; ++i) ASSERT_TRUE(c->read()) << c->error();

  DriverRun run = copy(*source, *target, 0, {"--method", "dump"});
  ASSERT_EQ(run.exitCode, 0) << run.err;
  EXPECT_TRUE(run.out.starts_with("copied 4,000 keys in ")) << run.out;
  DriverRun parity = compare(*source, *target);
  EXPECT_EQ(parity.exitCode, 0) << parity.out;
  EXPECT_EQ(target->cli({"TYPE", "string:8"}), "string\n");
  EXPECT_GT(std::stoi(target->cli({"TTL", "hash:3"})), 500);
  EXPECT_EQ(target->cli({"TTL", "hash:1"}), "-1\n");
}

TEST(RedisCopy, FlushesTheTargetDatabaseFirst) {
  auto source = TestRedis::start(sourcePassword());
  auto target = TestRedis::start(targetPassword());
  ASSERT_TRUE(source && target);
  source->run({"SET", "fresh", "1"});
  target->run({"SET", "stale:1", "old"});
  target->run({"SET", "stale:2", "old"});
  target->run({"SET", "fresh", "old"});
  target->run({"SET", "elsewhere", "kept"}, 1);

  DriverRun run = copy(*source, *target, 0, {"--method", "dump"});
  ASSERT_EQ(run.exitCode, 0) << run.err;
  EXPECT_EQ(lines(run.out)[0],
            "flushed 127.0.0.1:" + std::to_string(target->port()) + "/0 (3 keys)");
  EXPECT_EQ(target->cli({"KEYS", "*"}), "fresh\n");
  EXPECT_EQ(get(*target, "fresh"), "1");
  EXPECT_EQ(get(*target, "elsewhere", 1), "kept");
}

TEST(RedisCopy, WrongOrMissingPasswordIsAClearErrorAndExitsOne) {
  auto source = TestRedis::start(sourcePassword());
  auto target = TestRedis::start(targetPassword());
  ASSERT_TRUE(source && target);
  const std::string port = std::to_string(source->port());

  // The runtime learns that nothing changed, so rollback skips the undo.
  char folder[] = "/tmp/mig-redis-marker-XXXXXX";
  ASSERT_NE(mkdtemp(folder), nullptr);
  const std::string marker = std::string(folder) + "/unchanged";
  DriverRun wrong =
      runDriver({"redis-copy", "--from", source->url(), "--to", target->url()},
                {"MIG_FROM_PASSWORD=" + wrongPassword(), "MIG_TO_PASSWORD=" + targetPassword(),
                 "MIG_NOTHING_CHANGED=" + marker});
  EXPECT_EQ(wrong.exitCode, 1);
  EXPECT_TRUE(fs::exists(marker));
  fs::remove_all(folder);
  EXPECT_EQ(wrong.out, "");
  const std::string untouched =
      "mig driver redis-copy: nothing was copied: 1 problem found "
      "before any change to 127.0.0.1:" +
      std::to_string(target->port()) + "/0\n";
  EXPECT_EQ(wrong.err, "mig driver redis-copy: redis 127.0.0.1:" + port +
                           ": authentication failed: WRONGPASS invalid username-password pair or "
                           "user is disabled.\n" +
                           untouched);

  DriverRun missing = runDriver({"redis-copy", "--from", source->url(), "--to", target->url()},
                                {"MIG_TO_PASSWORD=" + targetPassword()});
  EXPECT_EQ(missing.exitCode, 1);
  EXPECT_EQ(missing.err, "mig driver redis-copy: redis 127.0.0.1:" + port +
                             " requires a password: set MIG_FROM_PASSWORD or REDISCLI_AUTH\n" +
                             untouched);
}

TEST(RedisCopy, FallsBackToRedisCliAuth) {
  auto source = TestRedis::start(sourcePassword());
  auto target = TestRedis::start(sourcePassword());  // one password for both
  ASSERT_TRUE(source && target);
  source->run({"SET", "k", "v"});
  DriverRun run = runDriver({"redis-copy", "--from", source->url(), "--to", target->url()},
                            {"REDISCLI_AUTH=" + sourcePassword()});
  EXPECT_EQ(run.exitCode, 0) << run.err;
  EXPECT_EQ(get(*target, "k"), "v");
}

TEST(RedisCopy, AWrongSourcePasswordLeavesAFilledTargetUntouched) {
  auto source = TestRedis::start(sourcePassword());
  auto target = TestRedis::start(targetPassword());
  auto reference = TestRedis::start(targetPassword());
  ASSERT_TRUE(source && target && reference);
  fillWithEveryType(*source);
  for (const TestRedis* server : {target.get(), reference.get()}) {
    fillWithEveryType(*server);
    server->run({"SET", "target-only", "mine"});
    server->run({"SET", "in-db-1", "mine"}, 1);
  }
  const std::string untouched =
      "mig driver redis-copy: nothing was copied: 1 problem found "
      "before any change to 127.0.0.1:" +
      std::to_string(target->port()) + "/0\n";
  for (const std::string method : {"dump", "replication", "auto"}) {
    DriverRun run = runDriver(
        {"redis-copy", "--from", source->url(), "--to", target->url(), "--method", method},
        {"MIG_FROM_PASSWORD=" + wrongPassword(), "MIG_TO_PASSWORD=" + targetPassword()});
    EXPECT_EQ(run.exitCode, 1) << method;
    EXPECT_EQ(run.out, "") << method;
    EXPECT_EQ(run.err, "mig driver redis-copy: redis 127.0.0.1:" + std::to_string(source->port()) +
                           ": authentication failed: WRONGPASS invalid username-password pair "
                           "or user is disabled.\n" +
                           untouched)
        << method;
    for (int db : {0, 1}) {
      DriverRun same = compare(*reference, *target, db);
      EXPECT_EQ(same.exitCode, 0) << method << " db " << db << ": " << same.out;
    }
    EXPECT_EQ(target->cli({"CONFIG", "GET", "masterauth"}), "masterauth\n\n");
    EXPECT_EQ(target->cli({"CONFIG", "GET", "repl-diskless-load"}),
              "repl-diskless-load\ndisabled\n");
  }
}

TEST(RedisCopy, ReportsEveryProblemAtOnceBeforeChangingAnything) {
  auto source = TestRedis::start(sourcePassword());
  auto target = TestRedis::start(targetPassword());
  ASSERT_TRUE(source && target);
  source->run({"HSET", "profile:9", "f", "v"});
  source->run({"ACL", "SETUSER", "default", "-dump"});
  target->run({"SET", "kept", "1"});
  target->run({"ACL", "SETUSER", "default", "-restore", "-flushdb"});

  DriverRun run = copy(*source, *target);
  EXPECT_EQ(run.exitCode, 1);
  EXPECT_EQ(run.out, "method auto: dump (only 1 key)\n");
  const std::string from = "127.0.0.1:" + std::to_string(source->port()) + "/0";
  const std::string to = "127.0.0.1:" + std::to_string(target->port()) + "/0";
  EXPECT_EQ(run.err,
            "mig driver redis-copy: source " + from +
                ": DUMP refused: NOPERM this user has no permissions to run the 'dump' command\n"
                "mig driver redis-copy: target " +
                to +
                ": FLUSHDB refused: NOPERM this user has no permissions to run the 'flushdb' "
                "command\n"
                "mig driver redis-copy: target " +
                to +
                ": RESTORE refused: NOPERM this user has no permissions to run the 'restore' "
                "command\n"
                "mig driver redis-copy: nothing was copied: 3 problems found before any change "
                "to " +
                to + "\n");
  EXPECT_EQ(get(*target, "kept"), "1");
}

TEST(RedisCopy, ReplicationIsRefusedBeforeAnyChangeWhereTheTargetMayNotReplicate) {
  auto source = TestRedis::start(sourcePassword());
  auto target = TestRedis::start(targetPassword());
  ASSERT_TRUE(source && target);
  source->run({"SET", "k", "v"});
  target->run({"SET", "kept", "1"});
  target->run({"ACL", "SETUSER", "default", "-replicaof"});

  DriverRun run = copy(*source, *target, 0, {"--method", "replication"});
  EXPECT_EQ(run.exitCode, 1);
  EXPECT_EQ(run.out, "");
  const std::string to = "127.0.0.1:" + std::to_string(target->port()) + "/0";
  EXPECT_EQ(run.err, "mig driver redis-copy: target " + to +
                         ": REPLICAOF refused: NOPERM this user has no permissions to run the "
                         "'replicaof' command\n"
                         "mig driver redis-copy: nothing was copied: 1 problem found before any "
                         "change to " +
                         to + "\n");
  EXPECT_EQ(get(*target, "kept"), "1");
  EXPECT_EQ(target->cli({"CONFIG", "GET", "masterauth"}), "masterauth\n\n");
  EXPECT_EQ(target->cli({"CONFIG", "GET", "repl-diskless-load"}), "repl-diskless-load\ndisabled\n");
}

TEST(RedisCopy, ReportsAReadOnlyTarget) {
  auto source = TestRedis::start(sourcePassword());
  auto target = TestRedis::start(targetPassword());
  ASSERT_TRUE(source && target);
  source->run({"SET", "k", "v"});
  target->run({"SET", "kept", "1"});
  // A replica of a master that does not exist: read-only, never synced.
  target->run({"REPLICAOF", "127.0.0.1", std::to_string(freeLoopbackPort())});

  DriverRun run = copy(*source, *target, 0, {"--method", "dump"});
  EXPECT_EQ(run.exitCode, 1);
  const std::vector<std::string> err = lines(run.err);
  ASSERT_EQ(err.size(), 5u) << run.err;
  const std::string to = "127.0.0.1:" + std::to_string(target->port()) + "/0";
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_TRUE(err[i].starts_with("mig driver redis-copy: target " + to + ": ")) << err[i];
    EXPECT_TRUE(
        err[i].ends_with(" refused: READONLY You can't write against a read only "
                         "replica."))
        << err[i];
  }
  EXPECT_EQ(get(*target, "kept"), "1");
  target->run({"REPLICAOF", "NO", "ONE"});
}

TEST(RedisCopy, RefusesToCopyADatabaseOntoItself) {
  auto server = TestRedis::start(sourcePassword());
  ASSERT_TRUE(server);
  DriverRun run = copy(*server, *server);
  EXPECT_EQ(run.exitCode, 1);
  const std::string where = "127.0.0.1:" + std::to_string(server->port()) + "/0";
  EXPECT_EQ(run.err, "mig driver redis-copy: " + where + " and " + where +
                         " are the same server and database\n"
                         "mig driver redis-copy: nothing was copied: 1 problem found before any "
                         "change to " +
                         where + "\n");
}

TEST(RedisCopy, UnreachableServerAndBadArgumentsAreReported) {
  const int closedPort = freeLoopbackPort();
  const std::string closed = "redis://127.0.0.1:" + std::to_string(closedPort) + "/0";
  DriverRun refused = runDriver({"redis-copy", "--from", closed, "--to", closed});
  EXPECT_EQ(refused.exitCode, 1);
  const std::string refusedLine =
      "mig driver redis-copy: redis 127.0.0.1:" + std::to_string(closedPort) +
      ": connection refused\n";
  EXPECT_EQ(refused.err, refusedLine + refusedLine +
                             "mig driver redis-copy: nothing was copied: 2 problems found before "
                             "any change to 127.0.0.1:" +
                             std::to_string(closedPort) + "/0\n");

  DriverRun usage = runDriver({"redis-copy", "--from", closed, "--to", closed, "--method", "x"});
  EXPECT_EQ(usage.exitCode, 2);
  EXPECT_EQ(usage.err, "mig driver redis-copy: unknown --method 'x' (dump, replication or auto)\n");

  DriverRun secretUrl = runDriver(
      {"redis-copy", "--from", "redis://u:" + sourcePassword() + "@127.0.0.1:1/0", "--to", closed});
  EXPECT_EQ(secretUrl.exitCode, 2);
}

TEST(RedisCopy, AutoMethodSaysWhatItChoseAndWhy) {
  auto source = TestRedis::start(sourcePassword());
  auto target = TestRedis::start(targetPassword());
  ASSERT_TRUE(source && target);
  source->run({"SET", "k", "v"});
  DriverRun small = copy(*source, *target, 0, {"--method", "auto"});
  ASSERT_EQ(small.exitCode, 0) << small.err;
  EXPECT_EQ(lines(small.out)[0], "method auto: dump (only 1 key)");
  EXPECT_EQ(get(*target, "k"), "v");

  target->run({"SET", "kept", "1"}, 1);
  DriverRun otherDatabase = copy(*source, *target, 0, {"--method", "auto"});
  ASSERT_EQ(otherDatabase.exitCode, 0) << otherDatabase.err;
  EXPECT_EQ(lines(otherDatabase.out)[0],
            "method auto: dump (db 1 also holds keys, which replication would replace)");
}

enum class Many { kStrings, kStringsWithTtl, kHashes };

/// `count` keys "many:N" of one kind: strings, strings with a TTL (an
/// hour), small hashes.
void fillMany(const TestRedis& server, int count, Many kind) {
  auto c = server.connect();
  ASSERT_TRUE(c);
  for (int i = 0; i < count; ++i) {
    const std::string key = "many:" + std::to_string(i);
    const std::string n = std::to_string(i);
    switch (kind) {
      case Many::kStrings:
        c->append({"SET", key, "value-" + n});
        break;
      case Many::kStringsWithTtl:
        c->append({"SET", key, "value-" + n, "PX", "3600000"});
        break;
      case Many::kHashes:
        c->append({"HSET", key, "name", "user-" + n, "n", n});
        break;
    }
    if (i % 1000 == 999 || i == count - 1) {
      ASSERT_TRUE(c->flush());
      for (int j = i - i % 1000; j <= i; ++j) {
        auto reply = c->read();
        ASSERT_TRUE(reply && !reply->isError()) << c->error();
      }
    }
  }
}

TEST(RedisCopy, AutoReplicatesLargeKeyspacesOfEveryKind) {
  auto source = TestRedis::start(sourcePassword());
  auto target = TestRedis::start(targetPassword());
  ASSERT_TRUE(source && target);
  fillMany(*source, 50'000, Many::kStringsWithTtl);
  DriverRun ttls = copy(*source, *target);
  ASSERT_EQ(ttls.exitCode, 0) << ttls.err;
  std::vector<std::string> out = lines(ttls.out);
  ASSERT_EQ(out.size(), 3u) << ttls.out;
  EXPECT_EQ(out[0], "method auto: replication (50,000 keys, 50,000 with a TTL)");
  EXPECT_TRUE(std::regex_match(
      out[2], std::regex(R"(copied 50,000 keys in [0-9.]+s \([0-9,]+ keys/s\) by replication )"
                         R"(\(every database\))")))
      << out[2];
  EXPECT_EQ(compare(*source, *target).exitCode, 0);

  for (Many kind : {Many::kHashes, Many::kStrings}) {
    source->run({"FLUSHALL"});
    fillMany(*source, 50'000, kind);
    DriverRun run = copy(*source, *target);
    ASSERT_EQ(run.exitCode, 0) << run.err;
    EXPECT_EQ(lines(run.out)[0], "method auto: replication (50,000 keys, 0 with a TTL)");
    EXPECT_EQ(compare(*source, *target).exitCode, 0);
  }

  // Not where the target may not replicate.
  target->run({"ACL", "SETUSER", "default", "-replicaof"});
  DriverRun refused = copy(*source, *target);
  ASSERT_EQ(refused.exitCode, 0) << refused.err;
  EXPECT_EQ(lines(refused.out)[0],
            "method auto: dump (target 127.0.0.1:" + std::to_string(target->port()) +
                "/0: REPLICAOF refused: NOPERM this user has no permissions to run the "
                "'replicaof' command)");
  EXPECT_EQ(compare(*source, *target).exitCode, 0);
}

TEST(RedisCopy, AutoCopiesByDumpWhenReplicationDoesNotStart) {
  auto source = TestRedis::start(sourcePassword());
  auto target = TestRedis::start(targetPassword());
  ASSERT_TRUE(source && target);
  fillMany(*source, 50'000, Many::kStringsWithTtl);
  target->run({"SET", "stale", "old"});
  // The source refuses to serve replicas: the target never starts syncing.
  source->run({"ACL", "SETUSER", "default", "-sync", "-psync"});

  DriverRun run = copy(*source, *target, 0, {"--timeout", "1"});
  ASSERT_EQ(run.exitCode, 0) << run.err;
  const std::vector<std::string> out = lines(run.out);
  ASSERT_EQ(out.size(), 6u) << run.out;
  EXPECT_EQ(out[0], "method auto: replication (50,000 keys, 50,000 with a TTL)");
  EXPECT_TRUE(std::regex_match(
      out[2],
      std::regex("replication did not start within 1s \\(link down[a-z0-9, ]*\\): the target "
                 "could not reach 127.0.0.1:" +
                 std::to_string(source->port()) +
                 " or was refused by it \\(the source's user needs SYNC and PSYNC\\); the "
                 "target is as it was")))
      << out[2];
  EXPECT_EQ(out[3], "method auto: dump instead");
  EXPECT_EQ(out[4], "flushed 127.0.0.1:" + std::to_string(target->port()) + "/0 (1 key)");
  EXPECT_TRUE(out[5].starts_with("copied 50,000 keys in ")) << out[5];
  EXPECT_EQ(compare(*source, *target).exitCode, 0);
  EXPECT_EQ(target->cli({"CONFIG", "GET", "masterauth"}), "masterauth\n\n");
  EXPECT_EQ(target->cli({"CONFIG", "GET", "repl-diskless-load"}), "repl-diskless-load\ndisabled\n");
  EXPECT_NE(target->cli({"INFO", "replication"}).find("role:master"), std::string::npos);
}

/// A stream with consumer groups, consumers and pending entries, a zset
/// large enough to be a skiplist with a -0 score, and a function library.
void fillWithStateBeyondKeys(const TestRedis& server) {
  runAll(server,
         {
             {"XADD", "jobs", "1-0", "job", "a"},
             {"XADD", "jobs", "2-0", "job", "b"},
             {"XADD", "jobs", "3-0", "job", "c"},
             {"XDEL", "jobs", "3-0"},
             {"XGROUP", "CREATE", "jobs", "workers", "0"},
             {"XGROUP", "CREATE", "jobs", "idle", "$"},
             {"XGROUP", "CREATECONSUMER", "jobs", "workers", "bob"},
             {"XREADGROUP", "GROUP", "workers", "alice", "COUNT", "1", "STREAMS", "jobs", ">"},
             {"XCLAIM", "jobs", "workers", "alice", "0", "1-0", "RETRYCOUNT", "4", "JUSTID"},
             {"FUNCTION", "LOAD", kLibrary},
         });
  auto c = server.connect();
  ASSERT_TRUE(c);
  // Past 128 members a zset becomes a skiplist, which keeps -0 (a listpack
  // stores it as 0).
  std::vector<std::string> zadd = {"ZADD", "big"};
  for (int i = 0; i < 200; ++i) {
    zadd.push_back(std::to_string(i));
    zadd.push_back("member:" + std::to_string(i));
  }
  c->append(std::span<const std::string>(zadd));
  c->append({"ZADD", "big", "-0", "negative-zero", "0", "zero"});
  ASSERT_TRUE(c->flush());
  for (int i = 0; i < 2; ++i) {
    auto added = c->read();
    ASSERT_TRUE(added && !added->isError()) << c->error();
  }
  EXPECT_EQ(server.cli({"ZSCORE", "big", "negative-zero"}), "-0\n");
}

TEST(RedisCopy, CarriesStreamGroupsNegativeZeroScoresAndFunctions) {
  for (const std::string method : {"dump", "replication"}) {
    SCOPED_TRACE(method);
    auto source = TestRedis::start(sourcePassword());
    auto target = TestRedis::start(targetPassword());
    ASSERT_TRUE(source && target);
    fillWithStateBeyondKeys(*source);
    target->run({"FUNCTION", "LOAD",
                 "#!lua name=old\nredis.register_function('old', function() "
                 "return 1 end)"});

    DriverRun run = copy(*source, *target, 0, {"--method", method, "--timeout", "60"});
    ASSERT_EQ(run.exitCode, 0) << run.err;
    if (method == "dump") {
      EXPECT_EQ(lines(run.out)[0], "copied 1 function library in place of the target's 1");
    }
    DriverRun parity = compare(*source, *target);
    EXPECT_EQ(parity.exitCode, 0) << parity.out;
    EXPECT_TRUE(parity.out.find("same function libraries (1)") != std::string::npos) << parity.out;
    // Independently, through redis-cli.
    EXPECT_EQ(target->cli({"ZSCORE", "big", "negative-zero"}), "-0\n");
    EXPECT_EQ(target->cli({"FUNCTION", "LIST", "LIBRARYNAME", "old"}), "\n");  // none
    EXPECT_EQ(target->cli({"FCALL", "hello", "0"}), "hi\n");
    EXPECT_EQ(target->cli({"XPENDING", "jobs", "workers"}), "1\n1-0\n1-0\nalice\n1\n");
    if (method == "replication") {
      // The target held no keys: it loaded the snapshot as it arrived, not
      // from disk, and has its own setting back.
      EXPECT_NE(target->log().find("MASTER <-> REPLICA sync: Loading DB in memory"),
                std::string::npos);
      EXPECT_EQ(target->log().find(" to disk"), std::string::npos) << target->log();
      EXPECT_EQ(target->cli({"CONFIG", "GET", "repl-diskless-load"}),
                "repl-diskless-load\ndisabled\n");
    }
  }
}

TEST(RedisCopy, FailsWhenTheTargetEndsWithFewerKeysThanItWrote) {
  auto source = TestRedis::start(sourcePassword());
  // Hashes take about twice the memory here (a hash table each, not a
  // listpack): the target fills up though the source's data fits its
  // maxmemory, which is all the check before the copy can know.
  auto target = TestRedis::start(targetPassword(), "hash-max-listpack-entries 0\n");
  ASSERT_TRUE(source && target);
  fillMany(*source, 50'000, Many::kHashes);
  const int64_t used =
      std::stoll(redis::infoField(source->run({"INFO", "memory"}).text, "used_memory"));
  target->run({"CONFIG", "SET", "maxmemory", std::to_string(used + 2'000'000)});
  target->run({"CONFIG", "SET", "maxmemory-policy", "allkeys-random"});

  DriverRun run = copy(*source, *target, 0, {"--method", "dump"});
  EXPECT_EQ(run.exitCode, 1);
  EXPECT_TRUE(std::regex_match(
      run.err,
      std::regex("mig driver redis-copy: 127.0.0.1:" + std::to_string(target->port()) +
                 "/0 holds [0-9,]+ keys after the copy, [0-9,]+ fewer than the 50,000 written \\(0 "
                 "of which had a TTL that ran out since\\): keys were lost on the target "
                 "\\(evicted under maxmemory, or deleted by another client\\)\n")))
      << run.err;
}

TEST(RedisCopy, ReplicationMethodCopiesEveryDatabaseAndForgetsThePassword) {
  auto source = TestRedis::start(sourcePassword());
  auto target = TestRedis::start(targetPassword());
  ASSERT_TRUE(source && target);
  fillWithEveryType(*source);
  source->run({"SET", "in-db-2", "two"}, 2);
  source->run({"FUNCTION", "LOAD", kLibrary});
  target->run({"SET", "stale", "old"}, 4);

  // A database the URLs do not name is replaced only when the plan says so.
  DriverRun refused = copy(*source, *target, 0, {"--method", "replication", "--timeout", "60"});
  EXPECT_EQ(refused.exitCode, 1);
  EXPECT_EQ(refused.err,
            "mig driver redis-copy: the target also holds db 4 (1 key), which replication would "
            "replace (it copies every database of the source): empty them, copy by dump, or let "
            "the plan replace them (replace_other_databases: true)\n"
            "mig driver redis-copy: nothing was copied: 1 problem found before any change to " +
                address(*target) + "/0\n");
  EXPECT_EQ(get(*target, "stale", 4), "old");

  DriverRun run =
      copy(*source, *target, 0,
           {"--method", "replication", "--timeout", "60", "--replace-other-databases", "true"});
  ASSERT_EQ(run.exitCode, 0) << run.err;
  const std::vector<std::string> out = lines(run.out);
  ASSERT_EQ(out.size(), 3u) << run.out;
  EXPECT_EQ(out[0],
            "replication copies every database of the source: db 0 (3,010 keys), db 2 "
            "(1 key)");
  EXPECT_EQ(out[1], "replicating 127.0.0.1:" + std::to_string(source->port()) +
                        " into 127.0.0.1:" + std::to_string(target->port()) +
                        ": every database of the target is replaced by the source's");
  EXPECT_TRUE(std::regex_match(
      out[2],
      std::regex(
          R"(copied 3,011 keys in [0-9.]+s \([0-9,]+ keys/s\) by replication \(every database\))")))
      << out[2];

  EXPECT_EQ(compare(*source, *target).exitCode, 0);
  EXPECT_EQ(get(*target, "in-db-2", 2), "two");
  EXPECT_EQ(target->cli({"DBSIZE"}, 4), "0\n");
  EXPECT_EQ(target->cli({"CONFIG", "GET", "masterauth"}), "masterauth\n\n");
  EXPECT_EQ(target->cli({"CONFIG", "GET", "repl-diskless-load"}), "repl-diskless-load\ndisabled\n");
  // The target held a key: it kept it until the snapshot was on disk.
  EXPECT_NE(target->log().find(" to disk"), std::string::npos) << target->log();
  EXPECT_NE(target->cli({"INFO", "replication"}).find("role:master"), std::string::npos);
  target->run({"SET", "writable", "yes"});  // no longer a read-only replica
}

/// What a target put back after replication shows: a master with the
/// settings it had before (masterauth `masterauth`, repl-diskless-load
/// disabled).
void expectPutBack(const TestRedis& target, const std::string& masterauth = "") {
  EXPECT_EQ(target.cli({"CONFIG", "GET", "masterauth"}), "masterauth\n" + masterauth + "\n");
  EXPECT_EQ(target.cli({"CONFIG", "GET", "repl-diskless-load"}), "repl-diskless-load\ndisabled\n");
  EXPECT_NE(target.cli({"INFO", "replication"}).find("role:master"), std::string::npos);
}

TEST(RedisCopy, ReplicationMethodFailsWhenTheSyncDoesNotStartAndPutsTheTargetBack) {
  auto source = TestRedis::start(sourcePassword());
  auto target = TestRedis::start(targetPassword());
  ASSERT_TRUE(source && target);
  // The source refuses to serve replicas, so the target never syncs.
  source->run({"ACL", "SETUSER", "default", "-sync", "-psync"});

  DriverRun run = copy(*source, *target, 0, {"--method", "replication", "--timeout", "1"});
  EXPECT_EQ(run.exitCode, 1);
  // The link state at the moment of giving up varies with the replica's retries.
  EXPECT_TRUE(std::regex_match(
      run.err, std::regex(R"(mig driver redis-copy: replication did not start within 1s \(link )"
                          R"(down[a-z0-9, ]*\): the target could not reach )" +
                          address(*source) +
                          R"( or was refused by it \(the source's user needs SYNC and PSYNC\); )"
                          "the target is as it was\n")))
      << run.err;
  expectPutBack(*target);
}

/// A source whose snapshot takes seconds to send (`keys` values of 2 KB,
/// written 2 ms apart), and a target that answers clients after every
/// kilobyte it loads (Redis's default: every 2 MB): replication stays long
/// enough in the target's loading of the snapshot to be stopped there.
void slowDownTheSync(const TestRedis& source, const TestRedis& target, int keys) {
  source.run({"DEBUG", "POPULATE", std::to_string(keys), "key", "2048"});
  source.run({"CONFIG", "SET", "rdb-key-save-delay", "2000"});
  target.run({"CONFIG", "SET", "loading-process-events-interval-bytes", "1024"});
}

/// A Stop once `server` says it is loading a snapshot.
Stop onceLoading(const TestRedis& server, int signal = SIGTERM) {
  std::shared_ptr<Connection> watcher = server.connect();
  return {[watcher] {
            auto persistence = watcher->command({"INFO", "persistence"});
            return persistence && persistence->text.find("loading:1") != std::string::npos;
          },
          signal};
}

TEST(RedisCopy, ReplicationMethodGivesUpAfterTheTimeoutAndPutsTheLoadingTargetBack) {
  auto source = TestRedis::start(sourcePassword());
  auto target = TestRedis::start(targetPassword());
  ASSERT_TRUE(source && target);
  slowDownTheSync(*source, *target, 3000);  // 6 seconds

  DriverRun run = copy(*source, *target, 0, {"--method", "replication", "--timeout", "3"});
  EXPECT_EQ(run.exitCode, 1);
  EXPECT_EQ(run.err, "mig driver redis-copy: " + address(*target) +
                         " did not finish syncing from " + address(*source) +
                         " within 3s (link down, loading the snapshot); replication stopped\n");
  expectPutBack(*target);
  EXPECT_EQ(target->cli({"DBSIZE"}), "0\n") << "the load was cut short";
}

TEST(RedisCopy, ReplicationMethodPutsBackATargetStoppedWhileLoadingTheSnapshot) {
  auto source = TestRedis::start(sourcePassword());
  auto target = TestRedis::start(targetPassword());
  ASSERT_TRUE(source && target);
  slowDownTheSync(*source, *target, 3000);
  target->run({"CONFIG", "SET", "masterauth", wrongPassword()});  // the target's own

  DriverRun run = runDriver(
      {"redis-copy", "--from", source->url(), "--to", target->url(), "--method", "replication"},
      copyEnvironment(*source, *target), onceLoading(*target));
  EXPECT_EQ(run.exitCode, 1);
  EXPECT_EQ(run.err, "mig driver redis-copy: stopped by SIGTERM while " + address(*target) +
                         " was syncing from " + address(*source) +
                         " (link down, loading the snapshot); replication stopped\n");
  // Within the runtime's grace period between SIGTERM and SIGKILL.
  EXPECT_LT(run.afterStop, 4500ms);
  expectPutBack(*target, wrongPassword());
  EXPECT_EQ(target->cli({"DBSIZE"}), "0\n") << "the load was cut short";
}

class RedisCopyStopSignal : public testing::TestWithParam<int> {};

TEST_P(RedisCopyStopSignal, PutsTheTargetBackBeforeExiting) {
  const int signal = GetParam();
  auto source = TestRedis::start(sourcePassword());
  auto target = TestRedis::start(targetPassword());
  ASSERT_TRUE(source && target);
  source->run({"ACL", "SETUSER", "default", "-sync", "-psync"});  // it never syncs

  DriverRun run = runDriver({"redis-copy", "--from", source->url(), "--to", target->url(),
                             "--method", "replication", "--timeout", "60"},
                            copyEnvironment(*source, *target), after(1s, signal));
  EXPECT_EQ(run.exitCode, 1) << run.err;
  const std::string name = std::string("SIG") + sigabbrev_np(signal);
  EXPECT_TRUE(std::regex_match(
      run.err, std::regex("mig driver redis-copy: stopped by " + name + " while " +
                          address(*target) + " was syncing from " + address(*source) +
                          R"( \(link down[a-z0-9, ]*\); replication stopped\n)")))
      << run.err;
  expectPutBack(*target);
}

INSTANTIATE_TEST_SUITE_P(Signals, RedisCopyStopSignal,
                         testing::Values(SIGTERM, SIGINT, SIGHUP, SIGQUIT),
                         [](const testing::TestParamInfo<int>& info) {
                           return std::string("SIG") + sigabbrev_np(info.param);
                         });

TEST(RedisCopy, ReplicationPutsBackThroughANewConnectionAndNamesWhatItCouldNot) {
  auto source = TestRedis::start(sourcePassword());
  auto target = TestRedis::start(targetPassword());
  ASSERT_TRUE(source && target);
  source->run({"SET", "k", "v"});
  target->run({"CONFIG", "SET", "masterauth", wrongPassword()});  // the target's own
  TestProxy proxy(target->port());
  // Once replicating, the target may no longer be re-pointed or configured,
  // and the driver's connection to it breaks.
  proxy.beforeClientSends("persistence", [&] {
    target->run({"ACL", "SETUSER", "default", "-replicaof", "-config"});
    return true;
  });

  DriverRun run = runDriver(
      {"redis-copy", "--from", source->url(), "--to", proxy.url(), "--method", "replication"},
      copyEnvironment(*source, *target));
  EXPECT_EQ(run.exitCode, 1);
  const std::string to = proxy.address();
  EXPECT_EQ(run.err, "mig driver redis-copy: redis " + to +
                         ": connection closed by the server; and " + to +
                         " is not as it was (CONFIG SET on " + to +
                         " failed: NOPERM this user has no permissions to run the 'config|set' "
                         "command): run on it REPLICAOF NO ONE; CONFIG SET masterauth (the "
                         "target's own); CONFIG SET repl-diskless-load disabled\n");
  target->run({"ACL", "SETUSER", "default", "+@all"});
  target->run({"REPLICAOF", "NO", "ONE"});
}

TEST(RedisCopy, AutoCopiesByDumpWhenTheTargetConnectionBreaksBeforeItReplicates) {
  auto source = TestRedis::start(sourcePassword());
  auto target = TestRedis::start(targetPassword());
  ASSERT_TRUE(source && target);
  fillMany(*source, 50'000, Many::kStrings);
  TestProxy proxy(target->port());
  // CONFIG SET masterauth went through; REPLICAOF does not.
  proxy.beforeClientSends("REPLICAOF\r\n$9\r\n127.0.0.1", [] { return true; });

  DriverRun run = runDriver({"redis-copy", "--from", source->url(), "--to", proxy.url()},
                            copyEnvironment(*source, *target));
  ASSERT_EQ(run.exitCode, 0) << run.err;
  const std::vector<std::string> out = lines(run.out);
  ASSERT_EQ(out.size(), 5u) << run.out;
  EXPECT_EQ(out[0], "method auto: replication (50,000 keys, 0 with a TTL)");
  EXPECT_EQ(out[2], "replication could not start: redis " + proxy.address() +
                        ": connection closed by the server; the target is as it was");
  EXPECT_EQ(out[3], "method auto: dump instead");
  EXPECT_TRUE(out[4].starts_with("copied 50,000 keys in ")) << out[4];
  expectPutBack(*target);
  EXPECT_EQ(compare(*source, *target).exitCode, 0);
}

TEST(RedisCopy, ARefusedReplicaofFailsReplicationAndMakesAutoCopyByDump) {
  auto source = TestRedis::start(sourcePassword());
  auto target = TestRedis::start(targetPassword());
  ASSERT_TRUE(source && target);
  fillMany(*source, 50'000, Many::kStrings);
  TestProxy proxy(target->port());
  const std::string to = proxy.address();
  const std::string refusedLine = "REPLICAOF on " + to +
                                  " failed: NOPERM this user has no permissions to run the "
                                  "'replicaof' command; the target is as it was";
  // After the checks, before the real REPLICAOF: refused as, say, a
  // managed service refuses it.
  const auto refuseReplicaof = [&] {
    target->run({"ACL", "SETUSER", "default", "-replicaof"});
    return false;
  };

  proxy.beforeClientSends("REPLICAOF\r\n$9\r\n127.0.0.1", refuseReplicaof);
  DriverRun replication = runDriver(
      {"redis-copy", "--from", source->url(), "--to", proxy.url(), "--method", "replication"},
      copyEnvironment(*source, *target));
  EXPECT_EQ(replication.exitCode, 1);
  EXPECT_EQ(replication.err, "mig driver redis-copy: " + refusedLine + "\n");
  expectPutBack(*target);
  EXPECT_EQ(target->cli({"DBSIZE"}), "0\n");

  target->run({"ACL", "SETUSER", "default", "+replicaof"});
  proxy.beforeClientSends("REPLICAOF\r\n$9\r\n127.0.0.1", refuseReplicaof);
  DriverRun automatic = runDriver({"redis-copy", "--from", source->url(), "--to", proxy.url()},
                                  copyEnvironment(*source, *target));
  ASSERT_EQ(automatic.exitCode, 0) << automatic.err;
  const std::vector<std::string> out = lines(automatic.out);
  ASSERT_EQ(out.size(), 5u) << automatic.out;
  EXPECT_EQ(out[2], "replication could not start: " + refusedLine);
  EXPECT_EQ(out[3], "method auto: dump instead");
  expectPutBack(*target);
  EXPECT_EQ(compare(*source, *target).exitCode, 0);
}

TEST(RedisCopy, RefusesClusterModeBeforeAnyChange) {
  auto source = TestRedis::start(sourcePassword(), "cluster-enabled yes\n");
  auto target = TestRedis::start(targetPassword());
  ASSERT_TRUE(source && target);
  target->run({"SET", "kept", "1"});
  for (const std::string method : {"dump", "replication", "auto"}) {
    DriverRun run = copy(*source, *target, 0, {"--method", method});
    EXPECT_EQ(run.exitCode, 1) << method;
    EXPECT_EQ(run.out, "") << method;
    EXPECT_EQ(run.err, "mig driver redis-copy: source " + address(*source) +
                           "/0: cluster mode is not supported (cluster_enabled:1)\n"
                           "mig driver redis-copy: nothing was copied: 1 problem found before "
                           "any change to " +
                           address(*target) + "/0\n")
        << method;
  }
  EXPECT_EQ(get(*target, "kept"), "1");
}

/// The capacity problem redis-copy and redis-sync report for a target of
/// `maxmemory` (as the message gives it) under `policy`.
std::string capacityProblem(const std::string& maxmemory, const std::string& policy,
                            const std::string& consequence, const std::string& inDb = "") {
  return "the target cannot hold the source's data: the copy needs about [0-9.]+ MiB "
         "\\([0-9,]+ bytes\\) \\([0-9.]+ MiB of the source's data" +
         inDb + ", and what an empty server uses\\), and the target's maxmemory is " + maxmemory +
         " \\(maxmemory-policy " + policy + "\\): less than 10% of it would be left, and " +
         consequence + "; raise maxmemory on the target";
}

TEST(RedisCopy, ATargetTooSmallIsRefusedBeforeAnyChangeNamingBothFigures) {
  auto source = TestRedis::start(sourcePassword());
  auto target = TestRedis::start(targetPassword());
  ASSERT_TRUE(source && target);
  source->run({"DEBUG", "POPULATE", "20000", "key", "2048"});  // about 45 MB
  target->run({"CONFIG", "SET", "maxmemory", "32mb"});
  target->run({"SET", "kept", "1"});
  const std::string nothingCopied =
      "mig driver redis-copy: nothing was copied: 1 problem found "
      "before any change to " +
      address(*target) + "/0\n";

  for (const std::string method : {"replication", "dump", "auto"}) {
    SCOPED_TRACE(method);
    DriverRun run = copy(*source, *target, 0, {"--method", method});
    EXPECT_EQ(run.exitCode, 1);
    const std::string inDb = method == "replication" ? "" : " in db 0";
    EXPECT_TRUE(std::regex_match(
        run.err, std::regex("mig driver redis-copy: " +
                            capacityProblem("32.0 MiB \\(33,554,432 bytes\\)", "noeviction",
                                            "the application's writes would fail with OOM", inDb) +
                            "\n" + nothingCopied)))
        << run.err;
  }
  // Under an eviction policy, keys would be lost instead.
  target->run({"CONFIG", "SET", "maxmemory-policy", "allkeys-lru"});
  DriverRun evicting = copy(*source, *target, 0, {"--method", "dump"});
  EXPECT_EQ(evicting.exitCode, 1);
  EXPECT_NE(evicting.err.find("(maxmemory-policy allkeys-lru): less than 10% of it would be left, "
                              "and the target would evict keys (allkeys-lru) to stay under it"),
            std::string::npos)
      << evicting.err;
  EXPECT_EQ(get(*target, "kept"), "1");
  EXPECT_EQ(target->cli({"DBSIZE"}), "1\n");

  // Room enough: the same copy runs.
  target->run({"CONFIG", "SET", "maxmemory", "128mb"});
  DriverRun fits = copy(*source, *target, 0, {"--method", "dump"});
  EXPECT_EQ(fits.exitCode, 0) << fits.err;
  EXPECT_EQ(target->cli({"DBSIZE"}), "20000\n");
}

TEST(RedisCopy, ReplicationFailsWhenTheTargetEvictsKeysOnceAMasterAgain) {
  auto source = TestRedis::start(sourcePassword());
  // Hashes take about twice the memory here (a hash table each, not a
  // listpack): above maxmemory, though the source uses less.
  auto target = TestRedis::start(targetPassword(), "hash-max-listpack-entries 0\n");
  ASSERT_TRUE(source && target);
  fillMany(*source, 50'000, Many::kHashes);
  const int64_t used =
      std::stoll(redis::infoField(source->run({"INFO", "memory"}).text, "used_memory"));
  target->run({"CONFIG", "SET", "maxmemory", std::to_string(used + 2'000'000)});
  target->run({"CONFIG", "SET", "maxmemory-policy", "allkeys-random"});

  DriverRun run = copy(*source, *target);
  EXPECT_EQ(run.exitCode, 1);
  EXPECT_EQ(lines(run.out)[0], "method auto: replication (50,000 keys, 0 with a TTL)");
  EXPECT_TRUE(std::regex_match(
      run.err, std::regex("mig driver redis-copy: " + address(*target) +
                          "/0 holds [0-9,]+ keys after the copy, [0-9,]+ fewer than the 50,000 "
                          "the source held when the target synced \\([0-9,]+ evicted by the "
                          "target under maxmemory since the copy began\\): keys were lost on the "
                          "target\n")))
      << run.err;
  expectPutBack(*target);
}

TEST(RedisCopy, RefusesATargetOlderThanTheSourceBeforeAnyChange) {
  auto source = TestRedis::start(sourcePassword());
  auto target = TestRedis::start(targetPassword());
  ASSERT_TRUE(source && target);
  source->run({"HSET", "h", "f", "v"});
  target->run({"SET", "kept", "1"});
  // The target, as the driver sees it, one major version older.
  const std::string version =
      redis::infoField(target->run({"INFO", "server"}).text, "redis_version");
  const std::string older = std::to_string(version[0] - '1') + version.substr(1);
  TestProxy proxy(target->port());
  proxy.rewriteReplies("redis_version:" + version, "redis_version:" + older);
  const std::string nothing =
      "mig driver redis-copy: nothing was copied: 1 problem found before "
      "any change to " +
      proxy.address() + "/0\n";

  DriverRun replication = runDriver(
      {"redis-copy", "--from", source->url(), "--to", proxy.url(), "--method", "replication"},
      copyEnvironment(*source, *target));
  EXPECT_EQ(replication.exitCode, 1);
  EXPECT_EQ(replication.err, "mig driver redis-copy: the target runs Redis " + older +
                                 ", older than the source's " + version +
                                 ": it may not load the source's snapshot\n" + nothing);

  DriverRun dump =
      runDriver({"redis-copy", "--from", source->url(), "--to", proxy.url(), "--method", "dump"},
                copyEnvironment(*source, *target));
  EXPECT_EQ(dump.exitCode, 1);
  EXPECT_TRUE(std::regex_match(
      dump.err, std::regex("mig driver redis-copy: the source \\(Redis " + version +
                           "\\) writes DUMP payloads in RDB version [0-9]+, and the target "
                           "\\(Redis " +
                           older +
                           "\\) reads up to version [0-9]+: use a target at least as new as the "
                           "source\n" +
                           nothing)))
      << dump.err;
  EXPECT_EQ(get(*target, "kept"), "1");
}

TEST(RedisCopy, DumpRefusesValuesLargerThanTheTargetTakesBeforeAnyChange) {
  auto source = TestRedis::start(sourcePassword());
  auto target = TestRedis::start(targetPassword(), "proto-max-bulk-len 1mb\n");
  ASSERT_TRUE(source && target);
  source->run({"SET", "small", "v"});
  source->run({"SET", "big-string", std::string(1'500'000, 's')});
  // Bytes that do not compress: a DUMP payload holds them as they are.
  std::mt19937 random(42);
  for (int i = 0; i < 100; ++i) {
    std::string bytes(15'000, '\0');
    for (char& byte : bytes) byte = static_cast<char>(random());
    source->run({"HSET", "big-hash", "field-" + std::to_string(i), bytes});
  }
  target->run({"SET", "kept", "1"});

  DriverRun run = copy(*source, *target, 0, {"--method", "dump"});
  EXPECT_EQ(run.exitCode, 1);
  const std::vector<std::string> err = lines(run.err);
  ASSERT_EQ(err.size(), 3u) << run.err;
  const std::string tail =
      " bytes, more than the target takes in one argument \\(proto-max-bulk-len 1,048,576\\): "
      "raise it on the target, or copy by replication";
  const std::set<std::string> tooLarge(err.begin(), err.begin() + 2);
  EXPECT_TRUE(std::regex_match(
      *tooLarge.begin(), std::regex("mig driver redis-copy: key big-hash is 1,5[0-9,]+" + tail)))
      << run.err;
  EXPECT_EQ(*tooLarge.rbegin(),
            "mig driver redis-copy: key big-string is 1,500,000 bytes, more "
            "than the target takes in one argument (proto-max-bulk-len "
            "1,048,576): raise it on the target, or copy by replication");
  EXPECT_EQ(err[2],
            "mig driver redis-copy: nothing was copied: 2 problems found before any "
            "change to " +
                address(*target) + "/0");
  EXPECT_EQ(target->cli({"KEYS", "*"}), "kept\n");
}

TEST(RedisCopy, DumpLeavesTheTargetAsItWasWhenItsFunctionsAreRefused) {
  auto source = TestRedis::start(sourcePassword());
  auto target = TestRedis::start(targetPassword());
  ASSERT_TRUE(source && target);
  source->run({"SET", "k", "v"});
  source->run({"FUNCTION", "LOAD", kLibrary});
  target->run({"SET", "kept", "1"});
  target->run({"FUNCTION", "LOAD", kChangedLibrary});
  TestProxy proxy(target->port());
  // After the checks, before FUNCTION RESTORE ... FLUSH.
  proxy.beforeClientSends("$5\r\nFLUSH\r\n", [&] {
    target->run({"ACL", "SETUSER", "default", "-function"});
    return false;
  });

  DriverRun run =
      runDriver({"redis-copy", "--from", source->url(), "--to", proxy.url(), "--method", "dump"},
                copyEnvironment(*source, *target));
  EXPECT_EQ(run.exitCode, 1);
  EXPECT_EQ(run.out, "");
  EXPECT_EQ(run.err, "mig driver redis-copy: FUNCTION on " + proxy.address() +
                         " failed: NOPERM this user has no permissions to run the "
                         "'function|restore' command; the target is as it was\n");
  EXPECT_EQ(target->cli({"KEYS", "*"}), "kept\n");
  target->run({"ACL", "SETUSER", "default", "+@all"});
  EXPECT_EQ(target->cli({"FCALL", "hello", "0"}), "bye\n");
}

TEST(RedisCopy, DumpCopiesLargeValuesInBatchesOfBoundedSize) {
  auto source = TestRedis::start(sourcePassword());
  auto target = TestRedis::start(targetPassword());
  ASSERT_TRUE(source && target);
  // 200 MB: strings of 1 MB, and lists of 16 elements of 64 KB that do not
  // compress (a DUMP payload of 1 MB each).
  source->run({"DEBUG", "POPULATE", "150", "string", "1048576"});
  auto c = source->connect();
  ASSERT_TRUE(c);
  std::mt19937 random(7);
  for (int i = 0; i < 50; ++i) {
    std::vector<std::string> rpush = {"RPUSH", "list:" + std::to_string(i)};
    for (int j = 0; j < 16; ++j) {
      std::string element(65'536, '\0');
      for (char& byte : element) byte = static_cast<char>(random());
      rpush.push_back(std::move(element));
    }
    c->append(std::span<const std::string>(rpush));
    auto pushed = c->read();
    ASSERT_TRUE(pushed && !pushed->isError()) << c->error();
  }

  DriverRun run = copy(*source, *target, 0, {"--method", "dump"});
  ASSERT_EQ(run.exitCode, 0) << run.err;
  EXPECT_TRUE(run.out.starts_with("copied 200 keys in ")) << run.out;
  EXPECT_LT(run.peakMemoryKb, 128 * 1024) << "the driver held more than 128 MB at once";
  EXPECT_EQ(compare(*source, *target).exitCode, 0);
}

// ---------------------------------------------------------------------------
// redis-compare

// ---------------------------------------------------------------------------
// What a copy leaves for its undo, redis-wipe, and copies cut short

/// A folder that stands for the journal's, kept across driver runs: the
/// copy's record lives beside the journal.
class JournalFolder {
 public:
  JournalFolder() {
    char folder[] = "/tmp/mig-redis-journal-XXXXXX";
    EXPECT_NE(mkdtemp(folder), nullptr);
    path_ = folder;
  }
  ~JournalFolder() { fs::remove_all(path_); }
  std::string variable() const { return "MIG_JOURNAL=" + path_ + "/state.db"; }
  std::string copyRecord(const TestRedis& target) const {
    return path_ + "/redis-copy-127.0.0.1-" + std::to_string(target.port()) + ".state";
  }

 private:
  std::string path_;
};

std::vector<std::string> withJournal(std::vector<std::string> variables,
                                     const JournalFolder& journal) {
  variables.push_back(journal.variable());
  return variables;
}

DriverRun wipe(const TestRedis& target, const JournalFolder& journal, const std::string& password) {
  return runDriver({"redis-wipe", "--db", target.url()},
                   withJournal({"MIG_DB_PASSWORD=" + password}, journal));
}

/// Keys in every database of `server`, from INFO keyspace ("db0:keys=3,...").
std::string keyspaceOf(const TestRedis& server) {
  std::string text = server.run({"INFO", "keyspace"}).text;
  std::erase(text, '\r');
  return text;
}

// Runner and driver killed (kill -9) while the target loads the source's
// snapshot: nothing put it back, but the copy's record says it replicates.
// redis-wipe puts it back first and says so, then empties every database
// the replication wrote and removes the function library it brought.
TEST(RedisWipe, PutsBackAReplicationCopyKilledHalfwayThenEmptiesWhatItWrote) {
  auto source = TestRedis::start(sourcePassword());
  auto target = TestRedis::start(targetPassword());
  ASSERT_TRUE(source && target);
  slowDownTheSync(*source, *target, 3000);
  source->run({"SET", "in-db-3", "three"}, 3);
  source->run({"FUNCTION", "LOAD", kLibrary});
  target->run({"CONFIG", "SET", "masterauth", wrongPassword()});  // the target's own
  JournalFolder journal;

  DriverRun killed = runDriver(
      {"redis-copy", "--from", source->url(), "--to", target->url(), "--method", "replication"},
      withJournal(copyEnvironment(*source, *target), journal), onceLoading(*target, SIGKILL));
  EXPECT_EQ(killed.exitCode, 128 + SIGKILL);
  EXPECT_NE(target->cli({"INFO", "replication"}).find("role:slave"), std::string::npos);
  const std::string record = readFile(journal.copyRecord(*target));
  EXPECT_NE(record.find("\nmethod replication\n"), std::string::npos) << record;
  EXPECT_NE(record.find("\nreplicating yes\n"), std::string::npos) << record;
  EXPECT_EQ(fs::status(journal.copyRecord(*target)).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);

  DriverRun wiped = wipe(*target, journal, targetPassword());
  ASSERT_EQ(wiped.exitCode, 0) << wiped.err;
  // The replica went on loading after the kill: how far it got varies.
  EXPECT_TRUE(std::regex_match(
      wiped.out,
      std::regex("a copy by replication from " + address(*source) + " into " + address(*target) +
                 " was cut short before it put the target back \\(its record: " +
                 journal.copyRecord(*target) + "\\): putting it back now\n" + address(*target) +
                 " is a master again, with its masterauth, masteruser and repl-diskless-load as "
                 "before\nemptied every database of " +
                 address(*target) + " \\([0-9,]+ keys?\\): the copy by replication from " +
                 address(*source) +
                 " wrote them all\n(function libraries the copy brought removed: the target had "
                 "none|function libraries as before the copy)\n")))
      << wiped.out;
  expectPutBack(*target, wrongPassword());
  EXPECT_EQ(keyspaceOf(*target), "# Keyspace\n");
  EXPECT_TRUE(target->run({"FUNCTION", "LIST"}).elements.empty());
  EXPECT_FALSE(fs::exists(journal.copyRecord(*target)));
}

// The record belongs to the step that copied (plan, step and run): that
// step may copy again over what it wrote, and its undo empties every
// database; another run's undo, months later, must not.
TEST(RedisWipe, ActsOnTheRecordOfItsOwnStepAndRunOnly) {
  auto source = TestRedis::start(sourcePassword());
  auto target = TestRedis::start(targetPassword());
  ASSERT_TRUE(source && target);
  fillWithEveryType(*source);
  source->run({"SET", "in-db-3", "three"}, 3);
  JournalFolder journal;
  const auto step = [&](const std::string& run, std::vector<std::string> variables) {
    variables.insert(variables.end(), {"MIG_PLAN=move", "MIG_STEP=cache_copy", "MIG_RUN=" + run});
    return withJournal(variables, journal);
  };
  const std::vector<std::string> copyArgs = {"redis-copy",  "--from",   source->url(), "--to",
                                             target->url(), "--method", "replication"};

  ASSERT_EQ(runDriver(copyArgs, step("1", copyEnvironment(*source, *target))).exitCode, 0);
  // Run again by the same step: db 3 is its own doing, not refused.
  DriverRun again = runDriver(copyArgs, step("1", copyEnvironment(*source, *target)));
  EXPECT_EQ(again.exitCode, 0) << again.err;
  // Another run finds db 3 as any other data: the plan must allow it.
  DriverRun otherRun = runDriver(copyArgs, step("2", copyEnvironment(*source, *target)));
  EXPECT_EQ(otherRun.exitCode, 1);
  EXPECT_NE(otherRun.err.find("the target also holds db 3 (1 key), which replication would "
                              "replace"),
            std::string::npos)
      << otherRun.err;

  // Another run's undo empties its own database only.
  target->run({"SET", "written-later", "1"}, 3);
  DriverRun notOurs = runDriver({"redis-wipe", "--db", target->url()},
                                step("2", {"MIG_DB_PASSWORD=" + targetPassword()}));
  ASSERT_EQ(notOurs.exitCode, 0) << notOurs.err;
  EXPECT_EQ(notOurs.out, "emptied " + address(*target) + "/0 (3,010 keys)\n");
  EXPECT_EQ(target->cli({"DBSIZE"}, 3), "2\n");
  EXPECT_TRUE(fs::exists(journal.copyRecord(*target)));

  // The copying run's undo empties every database the replication wrote.
  DriverRun ours = runDriver({"redis-wipe", "--db", target->url()},
                             step("1", {"MIG_DB_PASSWORD=" + targetPassword()}));
  ASSERT_EQ(ours.exitCode, 0) << ours.err;
  EXPECT_EQ(lines(ours.out)[0], "emptied every database of " + address(*target) +
                                    " (2 keys): the copy by replication from " + address(*source) +
                                    " wrote them all");
  EXPECT_EQ(keyspaceOf(*target), "# Keyspace\n");
  EXPECT_FALSE(fs::exists(journal.copyRecord(*target)));
}

// Two copies into one server in one run (every database by replication,
// then another database by dump): the record stays the run's, so the
// undos, latest first, empty everything and put back the target's own
// function library, not the one the first copy brought.
TEST(RedisWipe, TwoCopiesIntoOneServerInOneRunAreBothUndone) {
  auto source = TestRedis::start(sourcePassword());
  auto target = TestRedis::start(targetPassword());
  ASSERT_TRUE(source && target);
  fillWithEveryType(*source);
  source->run({"SET", "in-db-3", "three"}, 3);
  source->run({"FUNCTION", "LOAD", kLibrary});
  target->run({"FUNCTION", "LOAD",
               "#!lua name=targetlib\nredis.register_function('own', function() return 1 end)"});
  JournalFolder journal;
  const auto step = [&](const std::string& name, std::vector<std::string> variables) {
    variables.insert(variables.end(), {"MIG_PLAN=move", "MIG_STEP=" + name, "MIG_RUN=7"});
    return withJournal(variables, journal);
  };
  ASSERT_EQ(runDriver({"redis-copy", "--from", source->url(), "--to", target->url(), "--method",
                       "replication"},
                      step("everything", copyEnvironment(*source, *target)))
                .exitCode,
            0);
  DriverRun second = runDriver(
      {"redis-copy", "--from", source->url(0), "--to", target->url(4), "--method", "dump"},
      step("db4", copyEnvironment(*source, *target)));
  ASSERT_EQ(second.exitCode, 0) << second.err;
  EXPECT_EQ(target->cli({"DBSIZE"}, 4), "3010\n");

  DriverRun undoSecond = runDriver({"redis-wipe", "--db", target->url(4)},
                                   step("db4", {"MIG_DB_PASSWORD=" + targetPassword()}));
  ASSERT_EQ(undoSecond.exitCode, 0) << undoSecond.err;
  EXPECT_EQ(lines(undoSecond.out)[0], "emptied every database of " + address(*target) +
                                          " (6,021 keys): the copy by replication from " +
                                          address(*source) + " wrote them all");
  DriverRun undoFirst = runDriver({"redis-wipe", "--db", target->url()},
                                  step("everything", {"MIG_DB_PASSWORD=" + targetPassword()}));
  ASSERT_EQ(undoFirst.exitCode, 0) << undoFirst.err;
  EXPECT_EQ(keyspaceOf(*target), "# Keyspace\n");
  const std::string functions = target->cli({"FUNCTION", "LIST"});
  EXPECT_NE(functions.find("targetlib"), std::string::npos) << functions;
  EXPECT_EQ(functions.find("mylib"), std::string::npos) << functions;
}

// The repair promotes only a replica of the recorded source, written as
// the record writes it: an IPv6 source is "[::1]:PORT" there and "::1"
// in INFO.
TEST(RedisWipe, PutsBackACopyCutShortFromAnIpv6Source) {
  if (!ipv6LoopbackAvailable()) GTEST_SKIP() << "no IPv6 loopback on this machine";
  auto source = TestRedis::start(sourcePassword());
  auto target = TestRedis::start(targetPassword());
  ASSERT_TRUE(source && target);
  slowDownTheSync(*source, *target, 3000);
  JournalFolder journal;
  const std::string sourceAddress = "[::1]:" + std::to_string(source->port());
  DriverRun killed = runDriver({"redis-copy", "--from", "redis://" + sourceAddress + "/0", "--to",
                                target->url(), "--method", "replication"},
                               withJournal(copyEnvironment(*source, *target), journal),
                               onceLoading(*target, SIGKILL));
  EXPECT_EQ(killed.exitCode, 128 + SIGKILL);
  EXPECT_NE(target->cli({"INFO", "replication"}).find("master_host:::1"), std::string::npos);

  // A record naming another source than the target's master: left alone.
  const std::string record = readFile(journal.copyRecord(*target));
  std::string otherSource = record;
  otherSource.replace(otherSource.find("source " + sourceAddress), 7 + sourceAddress.size(),
                      "source 127.0.0.1:1");
  std::ofstream(journal.copyRecord(*target), std::ios::trunc) << otherSource;
  DriverRun refused = wipe(*target, journal, targetPassword());
  EXPECT_EQ(refused.exitCode, 1);
  EXPECT_NE(refused.err.find(" is a replica of ::1:" + std::to_string(source->port()) +
                             ", not of 127.0.0.1:1 as the record of the copy cut short says: mig "
                             "leaves it as it is; once it is as it should be, remove the record " +
                             journal.copyRecord(*target)),
            std::string::npos)
      << refused.err;
  EXPECT_NE(target->cli({"INFO", "replication"}).find("role:slave"), std::string::npos);

  std::ofstream(journal.copyRecord(*target), std::ios::trunc) << record;
  DriverRun wiped = wipe(*target, journal, targetPassword());
  ASSERT_EQ(wiped.exitCode, 0) << wiped.err;
  EXPECT_NE(wiped.out.find("is a master again"), std::string::npos) << wiped.out;
  expectPutBack(*target);
}

// A copy run again after one cut short puts the target back first, then
// copies as asked (where it used to refuse: "already a replica").
TEST(RedisCopy, RunAgainAfterAKilledReplicationCopyPutsTheTargetBackFirst) {
  auto source = TestRedis::start(sourcePassword());
  auto target = TestRedis::start(targetPassword());
  ASSERT_TRUE(source && target);
  slowDownTheSync(*source, *target, 3000);
  JournalFolder journal;
  DriverRun killed = runDriver(
      {"redis-copy", "--from", source->url(), "--to", target->url(), "--method", "replication"},
      withJournal(copyEnvironment(*source, *target), journal), onceLoading(*target, SIGKILL));
  EXPECT_EQ(killed.exitCode, 128 + SIGKILL);
  source->run({"CONFIG", "SET", "rdb-key-save-delay", "0"});

  DriverRun again =
      runDriver({"redis-copy", "--from", source->url(), "--to", target->url(), "--method", "dump"},
                withJournal(copyEnvironment(*source, *target), journal));
  ASSERT_EQ(again.exitCode, 0) << again.err;
  const std::vector<std::string> out = lines(again.out);
  ASSERT_GE(out.size(), 2u) << again.out;
  EXPECT_TRUE(out[0].starts_with("a copy by replication from " + address(*source) + " into " +
                                 address(*target) + " was cut short"))
      << again.out;
  EXPECT_EQ(out[1], address(*target) +
                        " is a master again, with its masterauth, masteruser and "
                        "repl-diskless-load as before");
  expectPutBack(*target);
  EXPECT_EQ(target->cli({"DBSIZE"}), "3000\n");
  // What the interrupted replication may have written stays the record's
  // concern: the undo still empties every database.
  EXPECT_NE(readFile(journal.copyRecord(*target)).find("\nmethod replication\n"),
            std::string::npos);
}

// The undo of a copy by dump: its database emptied, and the function
// libraries the copy replaced back as they were.
TEST(RedisWipe, AfterADumpCopyEmptiesItsDatabaseAndPutsTheFunctionsBack) {
  auto source = TestRedis::start(sourcePassword());
  auto target = TestRedis::start(targetPassword());
  ASSERT_TRUE(source && target);
  fillWithEveryType(*source);
  source->run({"FUNCTION", "LOAD", kLibrary});
  target->run({"FUNCTION", "LOAD",
               "#!lua name=targetlib\nredis.register_function('own', function() return 1 end)"});
  target->run({"SET", "elsewhere", "kept"}, 5);
  JournalFolder journal;

  DriverRun copied =
      runDriver({"redis-copy", "--from", source->url(), "--to", target->url(), "--method", "dump"},
                withJournal(copyEnvironment(*source, *target), journal));
  ASSERT_EQ(copied.exitCode, 0) << copied.err;
  EXPECT_NE(target->cli({"FUNCTION", "LIST"}).find("mylib"), std::string::npos);

  DriverRun wiped = wipe(*target, journal, targetPassword());
  ASSERT_EQ(wiped.exitCode, 0) << wiped.err;
  EXPECT_EQ(wiped.out, "emptied " + address(*target) +
                           "/0 (3,010 keys)\nfunction libraries put back as they were before "
                           "the copy\n");
  EXPECT_EQ(target->cli({"DBSIZE"}), "0\n");
  EXPECT_EQ(get(*target, "elsewhere", 5), "kept");
  const std::string functions = target->cli({"FUNCTION", "LIST"});
  EXPECT_NE(functions.find("targetlib"), std::string::npos) << functions;
  EXPECT_EQ(functions.find("mylib"), std::string::npos) << functions;
  EXPECT_FALSE(fs::exists(journal.copyRecord(*target)));

  // Without a record (nothing mig copied), it empties its database only.
  target->run({"SET", "again", "1"});
  DriverRun plain = wipe(*target, journal, targetPassword());
  ASSERT_EQ(plain.exitCode, 0) << plain.err;
  EXPECT_EQ(plain.out, "emptied " + address(*target) + "/0 (1 key)\n");
  EXPECT_EQ(get(*target, "elsewhere", 5), "kept");
}

// What redis-cli reported as success (exit 0) is a failure that changed
// nothing: a wrong password, a server that wants one, a read-only replica.
TEST(RedisWipe, FailsOnTheServersRefusalsAndChangesNothing) {
  auto source = TestRedis::start(sourcePassword());
  auto target = TestRedis::start(targetPassword());
  ASSERT_TRUE(source && target);
  target->run({"SET", "k", "v"});
  JournalFolder journal;

  DriverRun wrong = wipe(*target, journal, wrongPassword());
  EXPECT_EQ(wrong.exitCode, 1);
  EXPECT_EQ(wrong.err, "mig driver redis-wipe: redis " + address(*target) +
                           ": authentication failed: WRONGPASS invalid username-password pair or "
                           "user is disabled.; nothing was changed\n");
  DriverRun none = runDriver({"redis-wipe", "--db", target->url()}, {journal.variable()});
  EXPECT_EQ(none.exitCode, 1);
  EXPECT_EQ(none.err, "mig driver redis-wipe: redis " + address(*target) +
                          " requires a password: set MIG_DB_PASSWORD or REDISCLI_AUTH; nothing "
                          "was changed\n");

  target->run({"CONFIG", "SET", "masterauth", sourcePassword()});
  target->run({"REPLICAOF", "127.0.0.1", std::to_string(source->port())});
  DriverRun replica = wipe(*target, journal, targetPassword());
  EXPECT_EQ(replica.exitCode, 1);
  EXPECT_EQ(replica.err, "mig driver redis-wipe: " + address(*target) + " is a replica of " +
                             address(*source) +
                             ", not made so by mig: run REPLICAOF NO ONE on it first if it "
                             "should be a master: a replica refuses writes (READONLY); nothing "
                             "was changed\n");
  EXPECT_NE(target->cli({"INFO", "replication"}).find("role:slave"), std::string::npos);
}

// A source that dies while the target syncs: the copy gives up after 10
// seconds without an answer, rather than waiting out its timeout (an hour
// by default), and puts the target back.
TEST(RedisCopy, ReplicationGivesUpOnASourceThatStoppedAnswering) {
  auto source = TestRedis::start(sourcePassword());
  auto target = TestRedis::start(targetPassword());
  ASSERT_TRUE(source && target);
  slowDownTheSync(*source, *target, 3000);
  std::shared_ptr<Connection> watcher = target->connect();
  TestRedis* crashing = source.get();
  // Never stops the driver: crashes the source once the target loads.
  Stop crashTheSource{
      [watcher, crashing] {
        auto persistence = watcher->command({"INFO", "persistence"});
        if (persistence && persistence->text.find("loading:1") != std::string::npos) {
          crashing->crash();
        }
        return false;
      },
      SIGTERM};
  const auto started = std::chrono::steady_clock::now();
  DriverRun run = runDriver(
      {"redis-copy", "--from", source->url(), "--to", target->url(), "--method", "replication"},
      copyEnvironment(*source, *target), crashTheSource);
  const auto took = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(run.exitCode, 1);
  EXPECT_TRUE(std::regex_match(
      run.err,
      std::regex("(redis-copy: waiting for .*\n)*"
                 "mig driver redis-copy: the source " +
                 address(*source) + " has not answered for 10s \\(.*\\) while " + address(*target) +
                 " synced from it \\(link down[a-z0-9, ]*\\): giving up; replication "
                 "stopped\n")))
      << run.err;
  EXPECT_LT(took, 30s);
  expectPutBack(*target);
}

TEST(RedisInventory, NamesEveryDatabaseTheFunctionsAndTheKeysByType) {
  auto server = TestRedis::start(sourcePassword());
  ASSERT_TRUE(server);
  fillWithEveryType(*server);
  server->run({"SET", "a", "1"}, 3);
  server->run({"SET", "x", "1", "EX", "3600"}, 15);
  server->run({"FUNCTION", "LOAD", kLibrary});

  DriverRun run = runDriver({"redis-inventory", "--db", server->url()},
                            {"MIG_DB_PASSWORD=" + sourcePassword()});
  ASSERT_EQ(run.exitCode, 0) << run.err;
  const std::vector<std::string> out = lines(run.out);
  ASSERT_EQ(out.size(), 8u) << run.out;
  EXPECT_TRUE(
      std::regex_match(out[0], std::regex("redis [0-9.]+ at " + address(*server) + ", a master")))
      << out[0];
  EXPECT_TRUE(std::regex_match(
      out[1], std::regex("memory: [0-9.]+ MiB used, maxmemory none \\(no limit\\), "
                         "maxmemory-policy noeviction")))
      << out[1];
  EXPECT_TRUE(std::regex_match(out[2], std::regex("db 0: 3,010 keys, [0-9,]+ with a TTL \\(the "
                                                  "URL's database\\)")))
      << out[2];
  EXPECT_EQ(out[3], "db 3: 1 key, 0 with a TTL");
  EXPECT_EQ(out[4], "db 15: 1 key, 1 with a TTL");
  EXPECT_EQ(out[5], "functions: 1 function library (mylib) with 1 function");
  EXPECT_TRUE(std::regex_match(out[6], std::regex("db 0 by type \\(3,010 keys as SCAN finds "
                                                  "them\\): hash [0-9,]+, list [0-9,]+, set "
                                                  "[0-9,]+, stream [0-9,]+, string [0-9,]+, zset "
                                                  "[0-9,]+")))
      << out[6];
  EXPECT_EQ(out[7],
            "warning: the server also holds db 3 (1 key), db 15 (1 key): a copy of db 0 "
            "leaves them behind (redis.copy with method replication copies every "
            "database)");

  DriverRun refused =
      runDriver({"redis-inventory", "--db", server->url()}, {"MIG_DB_PASSWORD=" + wrongPassword()});
  EXPECT_EQ(refused.exitCode, 1);
  EXPECT_NE(refused.err.find("WRONGPASS"), std::string::npos) << refused.err;
  EXPECT_EQ(refused.out, "");
}

// Millisecond TTLs by the thousand, expired but not reclaimed (active
// expiry off): DBSIZE counts them on the source; a good copy by either
// method compares equal, the comparison counting what SCAN finds.
TEST(RedisCompare, TtlHeavyDataComparesEqualAfterAGoodCopy) {
  for (const std::string method : {"dump", "replication"}) {
    SCOPED_TRACE(method);
    auto source = TestRedis::start(sourcePassword());
    auto target = TestRedis::start(targetPassword());
    ASSERT_TRUE(source && target);
    for (const TestRedis* server : {source.get(), target.get()}) {
      server->run({"DEBUG", "SET-ACTIVE-EXPIRE", "0"});
    }
    auto c = source->connect();
    ASSERT_TRUE(c);
    for (int i = 0; i < 20'000; ++i) {
      c->append({"SET", "short:" + std::to_string(i), "v", "PX", std::to_string(1 + i % 40)});
    }
    for (int i = 0; i < 1'000; ++i) c->append({"SET", "long:" + std::to_string(i), "v"});
    ASSERT_TRUE(c->flush());
    for (int i = 0; i < 21'000; ++i) ASSERT_TRUE(c->read());

    DriverRun copied = copy(*source, *target, 0, {"--method", method});
    ASSERT_EQ(copied.exitCode, 0) << copied.err;
    std::this_thread::sleep_for(100ms);  // every short TTL has run out
    EXPECT_GT(std::stoi(source->cli({"DBSIZE"})), 1'000) << "expired keys not yet reclaimed";

    DriverRun parity = compare(*source, *target);
    EXPECT_EQ(parity.exitCode, 0) << parity.out << parity.err;
    EXPECT_TRUE(
        std::regex_match(parity.out, std::regex("equal: 1,000 keys \\(as SCAN finds them\\) in .*; "
                                                "[0-9,]+ keys? expired while compared, "
                                                "not counted \\([0-9.]+s\\)\n")))
        << parity.out;
  }
}

TEST(RedisCompare, ReportsParityInOneLine) {
  auto a = TestRedis::start(sourcePassword());
  auto b = TestRedis::start(targetPassword());
  ASSERT_TRUE(a && b);
  for (const TestRedis* server : {a.get(), b.get()}) {
    server->run({"SET", "k", "v"});
    server->run({"SET", "t", "v", "EX", "1000"});
  }
  // Same content inserted in another order (and so possibly stored
  // differently) is equal.
  a->run({"HSET", "h", "x", "1", "y", "2"});
  b->run({"HSET", "h", "y", "2", "x", "1"});
  a->run({"SADD", "s", "1", "2", "three"});
  b->run({"SADD", "s", "three", "2", "1"});
  a->run({"ZADD", "z", "1", "a", "1", "b"});
  b->run({"ZADD", "z", "1", "b", "1", "a"});

  DriverRun run = compare(*a, *b);
  EXPECT_EQ(run.exitCode, 0) << run.out << run.err;
  EXPECT_TRUE(std::regex_match(
      run.out, std::regex("equal: 5 keys \\(as SCAN finds them\\) in 127.0.0.1:" +
                          std::to_string(a->port()) +
                          "/0 \\(a\\) and 127.0.0.1:" + std::to_string(b->port()) +
                          "/0 \\(b\\), same types, values, stream groups and ttls \\(within "
                          "5s\\); same function libraries \\(0\\); 0 keys expired while "
                          "compared, not counted \\([0-9.]+s\\)\n")))
      << run.out;
}

TEST(RedisCompare, NamesMissingChangedAndTtlDifferencesWithCounts) {
  auto a = TestRedis::start(sourcePassword());
  auto b = TestRedis::start(targetPassword());
  ASSERT_TRUE(a && b);
  fillWithEveryType(*a);
  ASSERT_EQ(copy(*a, *b).exitCode, 0);
  a->run({"SET", "user:1000", "only here"});
  b->run({"DEL", "queue"});
  b->run({"HSET", "cart:7", "apples", "4"});
  b->run({"PERSIST", "session:1"});
  b->run({"SET", "extra", "1"});
  b->run({"DEL", "tags"});
  b->run({"SET", "tags", "now a string"});
  b->run({"ZADD", "scores", "1.25", "ada"});
  b->run({"DEL", "user:42"});

  DriverRun run = compare(*a, *b);
  EXPECT_EQ(run.exitCode, 1) << run.err;
  std::vector<std::string> out = lines(run.out);
  ASSERT_EQ(out.size(), 10u) << run.out;
  const std::set<std::string> differences(out.begin(), out.end() - 2);
  // The remaining TTL of session:1 (600s when set) depends on the moment.
  std::string ttlLine;
  for (const std::string& line : differences) {
    if (line.starts_with("key session:1: ttl ")) ttlLine = line;
  }
  EXPECT_TRUE(
      std::regex_match(ttlLine, std::regex(R"(key session:1: ttl 59\d\.\d{3}s in a, no ttl in b)")))
      << ttlLine;
  EXPECT_EQ(differences, (std::set<std::string>{
                             "key user:1000 only in a",
                             "key queue only in a",
                             "key user:42 only in a",
                             "key cart:7: different values (field apples differs)",
                             ttlLine,
                             "key tags: type set in a, string in b",
                             "key scores: different values (member ada: score 1.5 in a, 1.25 in b)",
                             "key extra only in b",
                         }));
  EXPECT_EQ(out[8], "a has 3,011 keys, b has 3,009 keys" + kScanCounted +
                        "; 0 keys expired while compared, not counted");
  EXPECT_EQ(out[9], "8 differences between 127.0.0.1:" + std::to_string(a->port()) +
                        "/0 (a) and 127.0.0.1:" + std::to_string(b->port()) + "/0 (b)");
}

TEST(RedisCompare, ListsTheFirstTwentyDifferencesThenCounts) {
  auto a = TestRedis::start(sourcePassword());
  auto b = TestRedis::start(targetPassword());
  ASSERT_TRUE(a && b);
  for (int i = 0; i < 30; ++i) a->run({"SET", "k" + std::to_string(i), "v"});
  a->run({"SET", kBinaryKey, "v"});

  DriverRun run = compare(*a, *b);
  EXPECT_EQ(run.exitCode, 1);
  std::vector<std::string> out = lines(run.out);
  ASSERT_EQ(out.size(), 23u) << run.out;
  EXPECT_EQ(out[20], "... and 11 more differences");
  EXPECT_EQ(out[21], "a has 31 keys, b has 0 keys" + kScanCounted +
                         "; 0 keys expired while compared, not counted");
  EXPECT_EQ(out[22], "31 differences between 127.0.0.1:" + std::to_string(a->port()) +
                         "/0 (a) and 127.0.0.1:" + std::to_string(b->port()) + "/0 (b)");
}

TEST(RedisCompare, EscapesBinaryKeyNames) {
  auto a = TestRedis::start(sourcePassword());
  auto b = TestRedis::start(targetPassword());
  ASSERT_TRUE(a && b);
  a->run({"SET", kBinaryKey, "v"});
  DriverRun run = compare(*a, *b);
  EXPECT_EQ(run.exitCode, 1);
  EXPECT_EQ(lines(run.out)[0], "key bin:\\x00\\r\\n\\xff only in a");
}

TEST(RedisCompare, TtlsAgreeWithinTheToleranceWhichIsAnOption) {
  auto a = TestRedis::start(sourcePassword());
  auto b = TestRedis::start(targetPassword());
  ASSERT_TRUE(a && b);
  a->run({"SET", "k", "v", "PX", "3600000"});
  b->run({"SET", "k", "v", "PX", "3597000"});  // 3 seconds apart

  DriverRun lenient = compare(*a, *b);
  EXPECT_EQ(lenient.exitCode, 0) << lenient.out;
  EXPECT_TRUE(lenient.out.starts_with("equal: 1 key (as SCAN finds them) in ")) << lenient.out;

  for (const std::string tolerance : {"1s", "2500ms"}) {
    DriverRun strict =
        runDriver({"redis-compare", "--a", a->url(), "--b", b->url(), "--ttl-tolerance", tolerance},
                  {"MIG_A_PASSWORD=" + a->password(), "MIG_B_PASSWORD=" + b->password()});
    EXPECT_EQ(strict.exitCode, 1) << tolerance;
    const std::vector<std::string> out = lines(strict.out);
    ASSERT_EQ(out.size(), 3u) << strict.out;
    EXPECT_TRUE(std::regex_match(
        out[0],
        std::regex(R"(key k: ttl 35\d\d\.\d{3}s in a, ttl 35\d\d\.\d{3}s in b, more than )" +
                   tolerance + " apart")))
        << out[0];
  }

  DriverRun bad =
      runDriver({"redis-compare", "--a", a->url(), "--b", b->url(), "--ttl-tolerance", "soon"}, {});
  EXPECT_EQ(bad.exitCode, 2);
  EXPECT_EQ(bad.err,
            "mig driver redis-compare: --ttl-tolerance takes a duration such as 500ms, 5s, 2m or "
            "1h, not 'soon'\n");
  DriverRun negative =
      runDriver({"redis-compare", "--a", a->url(), "--b", b->url(), "--ttl-tolerance", "-5s"}, {});
  EXPECT_EQ(negative.exitCode, 2);
  EXPECT_EQ(negative.err,
            "mig driver redis-compare: --ttl-tolerance takes a duration such as 500ms, 5s, 2m or "
            "1h, not '-5s'\n");
}

TEST(RedisCompare, ExpiredKeysAreNeitherCountedNorDifferences) {
  auto a = TestRedis::start(sourcePassword());
  auto b = TestRedis::start(targetPassword());
  ASSERT_TRUE(a && b);
  for (const TestRedis* server : {a.get(), b.get()}) server->run({"SET", "kept", "v"});
  // Expired but not reclaimed: DBSIZE still counts them, SCAN does not.
  a->run({"DEBUG", "SET-ACTIVE-EXPIRE", "0"});
  for (int i = 0; i < 50; ++i) a->run({"SET", "gone:" + std::to_string(i), "v", "PX", "1"});
  // Only in a, and due to expire within the tolerance: b's copy may just
  // have expired first.
  a->run({"SET", "fleeting", "v", "PX", "3000"});
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(a->cli({"DBSIZE"}), "52\n");

  DriverRun run = compare(*a, *b);
  EXPECT_EQ(run.exitCode, 0) << run.out;
  EXPECT_TRUE(std::regex_match(run.out, std::regex("equal: 1 key \\(as SCAN finds them\\) in .*; "
                                                   "same function libraries \\(0\\); 1 key expired "
                                                   "while compared, not counted \\([0-9.]+s\\)\n")))
      << run.out;
}

TEST(RedisCompare, RefusesToCompareADatabaseWithItself) {
  auto server = TestRedis::start(sourcePassword());
  ASSERT_TRUE(server);
  server->run({"SET", "k", "v"});
  DriverRun run = compare(*server, *server);
  EXPECT_EQ(run.exitCode, 1);
  EXPECT_EQ(run.out, "");
  const std::string where = address(*server) + "/0";
  EXPECT_EQ(run.err, "mig driver redis-compare: " + where + " and " + where +
                         " are the same server and database: a database compared with itself is "
                         "always equal\n");
  server->run({"SET", "k", "v"}, 1);
  DriverRun otherDatabase =
      runDriver({"redis-compare", "--a", server->url(0), "--b", server->url(1)},
                {"MIG_A_PASSWORD=" + server->password(), "MIG_B_PASSWORD=" + server->password()});
  EXPECT_EQ(otherDatabase.exitCode, 0) << otherDatabase.err;
}

/// A key that expires on both sides after compare has seen it on both
/// (round 1), just before b answers a later round's command.
struct ExpiryBetweenRounds {
  std::string name;
  Commands fill;       ///< creates "key" (run on both sides)
  std::string before;  ///< the command (as RESP bytes) b is about to answer
};

void PrintTo(const ExpiryBetweenRounds& expiry, std::ostream* out) {
  *out << expiry.name;
}

class RedisCompareExpiry : public testing::TestWithParam<ExpiryBetweenRounds> {};

TEST_P(RedisCompareExpiry, CountsTheKeyAsExpiredNotAsADifference) {
  const ExpiryBetweenRounds& expiry = GetParam();
  auto a = TestRedis::start(sourcePassword());
  auto b = TestRedis::start(targetPassword());
  ASSERT_TRUE(a && b);
  for (const TestRedis* server : {a.get(), b.get()}) {
    runAll(*server, expiry.fill);
    server->run({"SET", "kept", "v"});
  }
  TestProxy proxy(b->port());
  proxy.beforeClientSends(expiry.before, [&] {
    for (const TestRedis* server : {a.get(), b.get()}) server->run({"PEXPIRE", "key", "1"});
    std::this_thread::sleep_for(10ms);
    return false;
  });

  DriverRun run = runDriver({"redis-compare", "--a", a->url(), "--b", proxy.url()},
                            {"MIG_A_PASSWORD=" + a->password(), "MIG_B_PASSWORD=" + b->password()});
  EXPECT_EQ(run.exitCode, 0) << run.err;
  EXPECT_TRUE(std::regex_match(
      run.out, std::regex("equal: 1 key \\(as SCAN finds them\\) in " + address(*a) +
                          "/0 \\(a\\) and " + proxy.address() +
                          "/0 \\(b\\), same types, values, stream groups and ttls \\(within 5s\\); "
                          "same function libraries \\(0\\); 1 key expired while compared, not "
                          "counted \\([0-9.]+s\\)\n")))
      << run.out << run.err;
}

INSTANTIATE_TEST_SUITE_P(
    LaterRounds, RedisCompareExpiry,
    testing::Values(
        ExpiryBetweenRounds{"HashBeforeItsLength", {{"HSET", "key", "f", "1", "g", "2"}}, "HLEN"},
        ExpiryBetweenRounds{
            "HashBeforeItsFields", {{"HSET", "key", "f", "1", "g", "2"}}, "HGETALL"},
        ExpiryBetweenRounds{"StringBeforeItsValue", {{"SET", "key", "v"}}, "$3\r\nGET\r\n"},
        ExpiryBetweenRounds{"ListBeforeItsElements", {{"RPUSH", "key", "x", "y"}}, "LRANGE"},
        ExpiryBetweenRounds{"StreamBeforeItsState", {{"XADD", "key", "1-1", "f", "v"}}, "XINFO"}),
    [](const testing::TestParamInfo<ExpiryBetweenRounds>& info) { return info.param.name; });

TEST(RedisDrivers, MaskAPasswordInServerTextAndUrlsButNotInTheirOwnNumbers) {
  // A password that mig's own numbers contain.
  const std::string password = "000";
  auto a = TestRedis::start(password);
  auto b = TestRedis::start(password);
  ASSERT_TRUE(a && b);
  fillMany(*a, 999, Many::kStrings);
  a->run({"SET", "key-000", "v"});
  const std::vector<std::string> environment = {"REDISCLI_AUTH=" + password};

  DriverRun copied = runDriver(
      {"redis-copy", "--from", a->url(), "--to", b->url(), "--method", "dump"}, environment);
  ASSERT_EQ(copied.exitCode, 0) << copied.err;
  EXPECT_TRUE(std::regex_match(copied.out,
                               std::regex(R"(copied 1,000 keys in [0-9.]+s \([0-9,]+ keys/s\)\n)")))
      << copied.out;

  b->run({"DEL", "key-000"});
  DriverRun compared = runDriver({"redis-compare", "--a", a->url(), "--b", b->url()}, environment);
  EXPECT_EQ(compared.exitCode, 1);
  // A port is part of a URL: masked there too.
  const auto masked = [&](const TestRedis& server) {
    return std::regex_replace(address(server), std::regex(password), "***");
  };
  EXPECT_EQ(compared.out,
            "key key-*** only in a\n"
            "a has 1,000 keys, b has 999 keys" +
                kScanCounted +
                "; 0 keys expired while compared, not "
                "counted\n"
                "1 difference between " +
                masked(*a) + "/0 (a) and " + masked(*b) + "/0 (b)\n");
}

// ---------------------------------------------------------------------------
// redis-compare: one change at a time on b, named in one line, and gone
// once reverted

/// A little of every kind of state redis-compare checks: 7 keys, a stream
/// with two consumer groups, consumers and pending entries, a function
/// library.
const Commands& tamperingFixture() {
  static const Commands commands = {
      {"SET", "plain", "v"},
      {"SET", "session:1", "alive", "PX", "3600000"},
      {"HSET", "h", "f", "1", "g", "2"},
      // A skiplist, as large zsets are: a listpack stores -0 as 0.
      {"CONFIG", "SET", "zset-max-listpack-entries", "0"},
      {"ZADD", "z", "0", "zero", "1", "one", "-2.5", "neg"},
      {"RPUSH", "l", "x", "y"},
      {"SADD", "s", "a", "b"},
      {"XADD", "events", "1-1", "kind", "login"},
      {"XADD", "events", "2-0", "kind", "logout"},
      {"XGROUP", "CREATE", "events", "workers", "0"},
      {"XGROUP", "CREATE", "events", "audit", "0"},
      {"XGROUP", "CREATECONSUMER", "events", "workers", "bob"},
      {"XREADGROUP", "GROUP", "workers", "alice", "COUNT", "2", "STREAMS", "events", ">"},
      {"FUNCTION", "LOAD", kLibrary},
  };
  return commands;
}

struct Tamper {
  std::string name;
  Commands change;         ///< run on b
  Commands revert;         ///< run on b
  std::string difference;  ///< a regular expression for the one line
  int keysInA = 7;
  int keysInB = 7;
};

void PrintTo(const Tamper& tamper, std::ostream* out) {
  *out << tamper.name;
}

class RedisCompareTamper : public testing::TestWithParam<Tamper> {};

TEST_P(RedisCompareTamper, FailsNamingTheChangeThenPassesOnceReverted) {
  const Tamper& tamper = GetParam();
  auto a = TestRedis::start(sourcePassword());
  auto b = TestRedis::start(targetPassword());
  ASSERT_TRUE(a && b);
  runAll(*a, tamperingFixture());
  runAll(*b, tamperingFixture());
  DriverRun before = compare(*a, *b);
  ASSERT_EQ(before.exitCode, 0) << before.out << before.err;

  runAll(*b, tamper.change);
  DriverRun changed = compare(*a, *b);
  EXPECT_EQ(changed.exitCode, 1) << changed.err;
  const std::vector<std::string> out = lines(changed.out);
  ASSERT_EQ(out.size(), 3u) << changed.out;
  EXPECT_TRUE(std::regex_match(out[0], std::regex(tamper.difference))) << out[0];
  EXPECT_EQ(out[1], "a has " + std::to_string(tamper.keysInA) + " keys, b has " +
                        std::to_string(tamper.keysInB) + " keys" + kScanCounted +
                        "; 0 keys expired while compared, not counted");
  EXPECT_EQ(out[2], "1 difference between 127.0.0.1:" + std::to_string(a->port()) +
                        "/0 (a) and 127.0.0.1:" + std::to_string(b->port()) + "/0 (b)");

  runAll(*b, tamper.revert);
  DriverRun reverted = compare(*a, *b);
  EXPECT_EQ(reverted.exitCode, 0) << reverted.out << reverted.err;
}

INSTANTIATE_TEST_SUITE_P(
    OneChange, RedisCompareTamper,
    testing::Values(
        Tamper{
            "TtlMovedByAnHour",
            {{"PEXPIRE", "session:1", "7200000"}},
            {{"PEXPIRE", "session:1", "3600000"}},
            R"(key session:1: ttl 35\d\d\.\d{3}s in a, ttl 71\d\d\.\d{3}s in b, more than 5s apart)"},
        Tamper{"TtlRemoved",
               {{"PERSIST", "session:1"}},
               {{"PEXPIRE", "session:1", "3600000"}},
               R"(key session:1: ttl 35\d\d\.\d{3}s in a, no ttl in b)"},
        Tamper{"TtlAdded",
               {{"PEXPIRE", "plain", "3600000"}},
               {{"PERSIST", "plain"}},
               R"(key plain: no ttl in a, ttl 35\d\d\.\d{3}s in b)"},
        Tamper{"StringChanged",
               {{"SET", "plain", "w"}},
               {{"SET", "plain", "v"}},
               R"(key plain: different values)"},
        Tamper{"StringLonger",
               {{"APPEND", "plain", "w"}},
               {{"SET", "plain", "v"}},
               R"(key plain: different values \(length 1 in a, 2 in b\))"},
        Tamper{"HashFieldChanged",
               {{"HSET", "h", "f", "9"}},
               {{"HSET", "h", "f", "1"}},
               R"(key h: different values \(field f differs\))"},
        Tamper{"ZsetScoreNegativeZero",
               {{"ZREM", "z", "zero"}, {"ZADD", "z", "-0", "zero"}},
               {{"ZREM", "z", "zero"}, {"ZADD", "z", "0", "zero"}},
               R"(key z: different values \(member zero: score 0 in a, -0 in b\))"},
        Tamper{"ListReordered",
               {{"LSET", "l", "0", "y"}, {"LSET", "l", "1", "x"}},
               {{"LSET", "l", "0", "x"}, {"LSET", "l", "1", "y"}},
               R"(key l: different values)"},
        Tamper{"SetMemberReplaced",
               {{"SREM", "s", "b"}, {"SADD", "s", "c"}},
               {{"SREM", "s", "c"}, {"SADD", "s", "b"}},
               R"(key s: different values)"},
        Tamper{"StreamLastGeneratedId",
               {{"XSETID", "events", "5-0"}},
               {{"XSETID", "events", "2-0"}},
               R"(key events: last-generated-id 2-0 in a, 5-0 in b)"},
        Tamper{"StreamEntriesAdded",
               {{"XSETID", "events", "2-0", "ENTRIESADDED", "9"}},
               {{"XSETID", "events", "2-0", "ENTRIESADDED", "2"}},
               R"(key events: entries-added 2 in a, 9 in b)"},
        Tamper{"GroupLastDeliveredId",
               {{"XGROUP", "SETID", "events", "workers", "1-1", "ENTRIESREAD", "2"}},
               {{"XGROUP", "SETID", "events", "workers", "2-0", "ENTRIESREAD", "2"}},
               R"(key events: group workers: last-delivered-id 2-0 in a, 1-1 in b)"},
        Tamper{"GroupEntriesRead",
               {{"XGROUP", "SETID", "events", "workers", "2-0", "ENTRIESREAD", "1"}},
               {{"XGROUP", "SETID", "events", "workers", "2-0", "ENTRIESREAD", "2"}},
               R"(key events: group workers: entries-read 2 in a, 1 in b)"},
        Tamper{"GroupRemoved",
               {{"XGROUP", "DESTROY", "events", "audit"}},
               {{"XGROUP", "CREATE", "events", "audit", "0"}},
               R"(key events: group audit only in a)"},
        Tamper{"GroupAdded",
               {{"XGROUP", "CREATE", "events", "extra", "$"}},
               {{"XGROUP", "DESTROY", "events", "extra"}},
               R"(key events: group extra only in b)"},
        Tamper{"ConsumerRemoved",
               {{"XGROUP", "DELCONSUMER", "events", "workers", "bob"}},
               {{"XGROUP", "CREATECONSUMER", "events", "workers", "bob"}},
               R"(key events: group workers: consumer bob only in a)"},
        Tamper{"PendingEntryAcknowledged",
               {{"XACK", "events", "workers", "1-1"}},
               {{"XCLAIM", "events", "workers", "alice", "0", "1-1", "FORCE", "RETRYCOUNT", "1",
                 "JUSTID"}},
               R"(key events: group workers: pending entry 1-1 only in a)"},
        Tamper{"PendingEntryDeliveryCount",
               {{"XCLAIM", "events", "workers", "alice", "0", "1-1", "RETRYCOUNT", "3", "JUSTID"}},
               {{"XCLAIM", "events", "workers", "alice", "0", "1-1", "RETRYCOUNT", "1", "JUSTID"}},
               R"(key events: group workers: pending entry 1-1: delivery count 1 in a, 3 in b)"},
        Tamper{"PendingEntryConsumer",
               {{"XCLAIM", "events", "workers", "bob", "0", "1-1", "JUSTID"}},
               {{"XCLAIM", "events", "workers", "alice", "0", "1-1", "JUSTID"}},
               R"(key events: group workers: pending entry 1-1: consumer alice in a, bob in b)"},
        Tamper{"FunctionLibraryChanged",
               {{"FUNCTION", "LOAD", "REPLACE", kChangedLibrary}},
               {{"FUNCTION", "LOAD", "REPLACE", kLibrary}},
               R"(function library mylib: different code)"},
        Tamper{"FunctionLibraryRemoved",
               {{"FUNCTION", "DELETE", "mylib"}},
               {{"FUNCTION", "LOAD", kLibrary}},
               R"(function library mylib only in a)"},
        Tamper{"KeyOnlyInB",
               {{"SET", "extra", "1"}},
               {{"DEL", "extra"}},
               R"(key extra only in b)",
               7,
               8},
        Tamper{"KeyOnlyInA",
               {{"DEL", "h"}},
               {{"HSET", "h", "f", "1", "g", "2"}},
               R"(key h only in a)",
               7,
               6},
        Tamper{"TypeChanged",
               {{"DEL", "plain"}, {"RPUSH", "plain", "v"}},
               {{"DEL", "plain"}, {"SET", "plain", "v"}},
               R"(key plain: type string in a, list in b)"}),
    [](const testing::TestParamInfo<Tamper>& info) { return info.param.name; });

// ---------------------------------------------------------------------------
// acl-verify --kind redis

TEST(RedisAclVerify, FailsOnAServerWithoutPassword) {
  auto open = TestRedis::start("");
  ASSERT_TRUE(open);
  DriverRun run =
      runDriver({"acl-verify", "--kind", "redis", "--url", open->url(), "--", "10.1.0.0/16"});
  EXPECT_EQ(run.exitCode, 1);
  const std::vector<std::string> expected = {
      "redis 127.0.0.1:" + std::to_string(open->port()),
      "  authentication: NOT required (an unauthenticated PING was answered)",
      "  default user: enabled, no password (nopass) (ACL GETUSER default)",
      "  protected-mode: yes",
      "  bind: 127.0.0.1 -::1 (loopback only)",
      "  not verifiable on Redis: enforce them in the network (firewall, security group):",
      "    10.1.0.0/16",
      "failed: the server accepts unauthenticated clients",
  };
  EXPECT_EQ(lines(run.out), expected);
}

TEST(RedisAclVerify, PassesOnAServerWithPasswordAndListsTheCidrs) {
  auto secured = TestRedis::start(sourcePassword());
  ASSERT_TRUE(secured);
  // The options std/acl passes every kind (stdlib_commands_test.cpp).
  DriverRun run =
      runDriver({"acl-verify", "--kind", "redis", "--url", secured->url(), "--url-endpoint",
                 "cache", "--users", "", "--", "10.1.0.0/16", "192.168.7.9", "2001:db8::/32"},
                {"REDISCLI_AUTH=" + sourcePassword()});
  EXPECT_EQ(run.exitCode, 0) << run.out << run.err;
  const std::vector<std::string> expected = {
      "redis 127.0.0.1:" + std::to_string(secured->port()),
      "  authentication: required (an unauthenticated PING was refused: NOAUTH Authentication "
      "required.)",
      "  default user: enabled, needs a password (ACL GETUSER default)",
      "  protected-mode: yes",
      "  bind: 127.0.0.1 -::1 (loopback only)",
      "  not verifiable on Redis: enforce them in the network (firewall, security group):",
      "    10.1.0.0/16",
      "    192.168.7.9",
      "    2001:db8::/32",
      "ok: a password is required and no declared CIDR is open to the world",
  };
  EXPECT_EQ(lines(run.out), expected);

  // Without the password, what needs one is said to be unread; still a pass.
  DriverRun anonymous =
      runDriver({"acl-verify", "--kind", "redis", "--url", secured->url(), "--", "10.1.0.0/16"});
  EXPECT_EQ(anonymous.exitCode, 0) << anonymous.out;
  EXPECT_NE(anonymous.out.find("  settings: not read (set REDISCLI_AUTH"), std::string::npos);
}

TEST(RedisAclVerify, FailsOnACidrOpenToTheWorld) {
  auto secured = TestRedis::start(sourcePassword());
  ASSERT_TRUE(secured);
  for (const char* world : {"0.0.0.0/0", "::/0"}) {
    DriverRun run = runDriver(
        {"acl-verify", "--kind", "redis", "--url", secured->url(), "--", "10.0.0.0/8", world},
        {"REDISCLI_AUTH=" + sourcePassword()});
    EXPECT_EQ(run.exitCode, 1) << world;
    const std::vector<std::string> out = lines(run.out);
    ASSERT_GE(out.size(), 2u);
    EXPECT_EQ(out[out.size() - 2], std::string("    ") + world + " (open to the world)");
    EXPECT_EQ(out.back(), std::string("failed: ") + world + " opens the server to every address");
  }
}

}  // namespace
}  // namespace mig::drivers
