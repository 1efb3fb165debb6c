// redis-sync, redis-unsync and redis-cutover (the online migration of a
// Redis server) against real redis-server processes on loopback, started
// once for the whole file: a pair without passwords and a pair with
// (requirepass). The drivers run as the real `mig` binary, as the stdlib
// runs them, with their passwords in MIG_FROM_PASSWORD / MIG_TO_PASSWORD
// and a journal folder of their own (MIG_JOURNAL) for the record of the
// sync; no password may appear in anything they print.

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <mutex>
#include <regex>
#include <sstream>
#include <thread>

#include "runtime/drivers/redis_client.h"
#include "runtime/drivers/subprocess.h"
#include "tests/harness/servers.h"

#ifndef MIG_BINARY
#error "MIG_BINARY must name the mig binary"
#endif

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using mig::drivers::redis::Connection;
using mig::drivers::redis::Reply;
using mig::testing::RedisServer;

constexpr const char* kSourcePassword = "sync-source-8d2f";
constexpr const char* kTargetPassword = "sync-target-4a7e";
constexpr const char* kWrongPassword = "sync-wrong-1b9c";
/// The target's own masterauth before a sync, which unsync must put back.
constexpr const char* kOldMasterauth = "old-masterauth-6e0a";

/// A source and a target.
struct Pair {
  std::unique_ptr<RedisServer> source;
  std::unique_ptr<RedisServer> target;
  std::string sourcePassword;
  std::string targetPassword;
};

/// Both pairs, started once.
class RedisPairs : public ::testing::Environment {
 public:
  void SetUp() override {
    start(plain, "", "");
    start(locked, kSourcePassword, kTargetPassword);
  }
  void TearDown() override {
    plain = {};
    locked = {};
  }

  Pair plain;   ///< no passwords
  Pair locked;  ///< requirepass on both, different passwords
  std::string startError;

 private:
  void start(Pair& pair, const std::string& sourcePassword, const std::string& targetPassword) {
    std::string error;
    pair.source = RedisServer::start(sourcePassword, error);
    if (pair.source) pair.target = RedisServer::start(targetPassword, error);
    if (!pair.source || !pair.target) startError = error;
    pair.sourcePassword = sourcePassword;
    pair.targetPassword = targetPassword;
  }
};

RedisPairs* const servers =
    static_cast<RedisPairs*>(::testing::AddGlobalTestEnvironment(new RedisPairs()));

std::string readFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

/// A connection of our own client to `server`, `password` given, with
/// `ioTimeout` for every reply.
std::unique_ptr<Connection> connect(const RedisServer& server, const std::string& password,
                                    std::chrono::milliseconds ioTimeout = 30s) {
  mig::drivers::redis::ConnectOptions options;
  options.password = password;
  options.ioTimeout = ioTimeout;
  std::string error;
  auto connection = Connection::open({"127.0.0.1", server.port(), 0, ""}, options, error);
  EXPECT_TRUE(connection) << error;
  return connection;
}

/// Runs one command; its reply (nothing when the connection failed, which
/// fails the test).
Reply run(Connection& connection, std::initializer_list<std::string_view> args) {
  auto reply = connection.command(args);
  EXPECT_TRUE(reply) << *args.begin() << ": " << connection.error();
  return reply.value_or(Reply{});
}

/// The value of `field` in INFO `section`.
std::string infoField(Connection& connection, std::string_view section, std::string_view field) {
  return mig::drivers::redis::infoField(run(connection, {"INFO", section}).text, field);
}

std::string configValue(Connection& connection, std::string_view name) {
  Reply reply = run(connection, {"CONFIG", "GET", name});
  return reply.elements.size() == 2 ? reply.elements[1].text : "(none)";
}

/// Whether `condition` holds within `limit`, asked every 10 ms.
bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds limit = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return condition();
}

/// `key`'s value in a form two servers of one version agree on: its DUMP
/// payload, but a set's members in order (a set's payload lists them in
/// the order of its hash table); and whether it has a TTL.
std::string canonical(Connection& connection, const std::string& key) {
  std::string value;
  if (run(connection, {"TYPE", key}).text == "set") {
    std::vector<std::string> members;
    for (const Reply& member : run(connection, {"SMEMBERS", key}).elements) {
      members.push_back(member.text);
    }
    std::sort(members.begin(), members.end());
    for (const std::string& member : members) value += "member " + member + "\n";
  } else {
    value = run(connection, {"DUMP", key}).text;
  }
  return value + (run(connection, {"PTTL", key}).integer > 0 ? " with a ttl" : "");
}

/// Every key of databases 0 and 1 with its value (see canonical): two
/// servers hold the same data when these are equal.
std::map<std::string, std::string> contents(Connection& connection) {
  std::map<std::string, std::string> keys;
  for (std::string_view db : {"0", "1"}) {
    run(connection, {"SELECT", db});
    std::string cursor = "0";
    do {
      Reply scan = run(connection, {"SCAN", cursor, "COUNT", "1000"});
      if (scan.elements.size() != 2) break;
      cursor = scan.elements[0].text;
      for (const Reply& key : scan.elements[1].elements) {
        keys[std::string(db) + ":" + key.text] = canonical(connection, key.text);
      }
    } while (cursor != "0");
  }
  run(connection, {"SELECT", "0"});
  return keys;
}

struct DriverRun {
  int exitCode = -1;
  std::string out;
  std::string err;
  bool nothingChanged = false;  ///< the driver told the runtime it changed nothing
};

/// One test's view of a pair: its connections, a journal folder of its own,
/// and the drivers run against the pair.
class RedisSyncTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    ASSERT_TRUE(servers->plain.target && servers->locked.target)
        << "cannot start redis-server: " << servers->startError;
    pair_ = GetParam() ? &servers->locked : &servers->plain;
    char folder[] = "/tmp/mig-redis-sync-XXXXXX";
    ASSERT_NE(::mkdtemp(folder), nullptr) << std::strerror(errno);
    folder_ = folder;
    source_ = connect(*pair_->source, pair_->sourcePassword);
    target_ = connect(*pair_->target, pair_->targetPassword);
    ASSERT_TRUE(source_ && target_);
    // Every test starts from two empty masters at Redis's defaults, the
    // source syncing at once (its default waits 5 s for more replicas).
    for (Connection* server : {source_.get(), target_.get()}) {
      run(*server, {"CLIENT", "UNPAUSE"});
      run(*server, {"REPLICAOF", "NO", "ONE"});
      run(*server, {"FLUSHALL"});
      run(*server, {"CONFIG", "SET", "masterauth", ""});
      run(*server, {"CONFIG", "SET", "masteruser", ""});
      run(*server, {"CONFIG", "SET", "replica-read-only", "yes"});
      run(*server, {"CONFIG", "SET", "repl-diskless-load", "disabled"});
    }
    run(*source_, {"CONFIG", "SET", "repl-diskless-sync-delay", "0"});
  }

  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(folder_, ignored);
  }

  const RedisServer& source() const { return *pair_->source; }
  const RedisServer& target() const { return *pair_->target; }
  std::string sourceAddress() const { return "127.0.0.1:" + std::to_string(source().port()); }
  std::string targetAddress() const { return "127.0.0.1:" + std::to_string(target().port()); }
  std::string recordPath() const {
    return folder_ + "/redis-sync-127.0.0.1-" + std::to_string(target().port()) + ".state";
  }

  /// `mig driver NAME --from SOURCE --to TARGET EXTRA...` with the pair's
  /// passwords (or `sourcePassword`), MIG_JOURNAL in the test's folder
  /// (unless `journal` is false: the driver then runs in the folder), and a
  /// MIG_NOTHING_CHANGED file.
  DriverRun driver(const std::string& name, const std::vector<std::string>& extra = {},
                   std::optional<std::string> sourcePassword = std::nullopt, bool journal = true) {
    mig::drivers::SubprocessRequest request;
    request.argv = {MIG_BINARY, "driver", name, "--from", source().url(), "--to", target().url()};
    request.argv.insert(request.argv.end(), extra.begin(), extra.end());
    const std::string marker = folder_ + "/nothing-changed";
    fs::remove(marker);
    request.env = {{"MIG_NOTHING_CHANGED", marker}};
    request.unsetEnv = {"REDISCLI_AUTH", "MIG_JOURNAL", "MIG_FROM_PASSWORD", "MIG_TO_PASSWORD"};
    if (journal) request.env.emplace_back("MIG_JOURNAL", folder_ + "/state.db");
    if (!journal) request.workdir = folder_;
    const std::string fromPassword = sourcePassword.value_or(pair_->sourcePassword);
    if (!fromPassword.empty()) request.env.emplace_back("MIG_FROM_PASSWORD", fromPassword);
    if (!pair_->targetPassword.empty()) {
      request.env.emplace_back("MIG_TO_PASSWORD", pair_->targetPassword);
    }
    request.timeout = 60s;
    mig::drivers::SubprocessResult result = mig::drivers::runSubprocess(request);
    EXPECT_TRUE(result.started) << result.error;
    EXPECT_FALSE(result.timedOut) << name << " did not finish within 60 s";
    for (const char* password :
         {kSourcePassword, kTargetPassword, kWrongPassword, kOldMasterauth}) {
      EXPECT_EQ(result.out.find(password), std::string::npos) << "a password in stdout:\n"
                                                              << result.out;
      EXPECT_EQ(result.err.find(password), std::string::npos) << "a password in stderr:\n"
                                                              << result.err;
    }
    return {result.exitCode, result.out, result.err, fs::exists(marker)};
  }

  /// Fills the source: 2,000 strings, one with a TTL, a hash and a list
  /// in db 0, a set in db 1.
  void fillSource() {
    for (int i = 0; i < 2000; ++i) {
      source_->append({"SET", "key:" + std::to_string(i), "value " + std::to_string(i)});
    }
    Reply reply;
    for (int i = 0; i < 2000; ++i) ASSERT_TRUE(source_->read(reply)) << source_->error();
    run(*source_, {"SET", "session", "s", "EX", "3600"});
    run(*source_, {"HSET", "user:1", "name", "Ada", "email", "ada@example.com"});
    run(*source_, {"RPUSH", "queue", "a", "b", "c"});
    run(*source_, {"SELECT", "1"});
    run(*source_, {"SADD", "tags", "x", "y"});
    run(*source_, {"SELECT", "0"});
  }

  /// Whether the target replicates the source with its link up.
  bool targetReplicatesSource() {
    const std::string replication = run(*target_, {"INFO", "replication"}).text;
    using mig::drivers::redis::infoField;
    return infoField(replication, "role") == "slave" &&
           infoField(replication, "master_host") == "127.0.0.1" &&
           infoField(replication, "master_port") == std::to_string(source().port()) &&
           infoField(replication, "master_link_status") == "up";
  }

  /// The settings sync changes, as the target has them now.
  std::map<std::string, std::string> targetSettings() {
    std::map<std::string, std::string> settings;
    for (const char* name :
         {"masterauth", "masteruser", "replica-read-only", "repl-diskless-load"}) {
      settings[name] = configValue(*target_, name);
    }
    return settings;
  }

  /// A sync that must succeed.
  void sync() {
    DriverRun synced = driver("redis-sync");
    ASSERT_EQ(synced.exitCode, 0) << synced.err;
  }

  Pair* pair_ = nullptr;
  std::string folder_;
  std::unique_ptr<Connection> source_;
  std::unique_ptr<Connection> target_;
};

INSTANTIATE_TEST_SUITE_P(Passwords, RedisSyncTest, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "WithPasswords" : "Without"; });

// ---------------------------------------------------------------------------
// redis-sync

TEST_P(RedisSyncTest, SyncLeavesTheTargetAReplicaWithTheSourcesDataFollowingLaterWrites) {
  fillSource();
  run(*target_, {"SET", "target-only", "gone after the sync"});

  DriverRun synced = driver("redis-sync");
  ASSERT_EQ(synced.exitCode, 0) << synced.err;
  EXPECT_TRUE(std::regex_match(
      synced.out,
      std::regex("replicating " + sourceAddress() + " into " + targetAddress() +
                 ": every database of the target is replaced by the source's; its settings "
                 "before the sync are kept in " +
                 recordPath() + "\n" + targetAddress() + " replicates " + sourceAddress() +
                 ", in sync \\(link up\\): 2,004 keys in every database after [0-9.]+s \\([0-9,]+ "
                 "keys/s\\); it stays a replica until redis.cutover promotes it or redis.unsync "
                 "puts it back\n")))
      << synced.out;
  EXPECT_FALSE(synced.nothingChanged);

  EXPECT_TRUE(targetReplicatesSource());
  EXPECT_EQ(contents(*target_), contents(*source_));
  EXPECT_EQ(contents(*target_).count("0:target-only"), 0u);
  EXPECT_EQ(configValue(*target_, "masterauth"), pair_->sourcePassword);
  EXPECT_EQ(configValue(*target_, "repl-diskless-load"), "on-empty-db");

  run(*source_, {"SET", "written-after-the-sync", "1"});
  run(*source_, {"DEL", "key:7"});
  EXPECT_TRUE(eventually([&] {
    return run(*target_, {"GET", "written-after-the-sync"}).text == "1" &&
           run(*target_, {"EXISTS", "key:7"}).integer == 0;
  }));
  EXPECT_EQ(run(*target_, {"SET", "x", "1"}).text,
            "READONLY You can't write against a read only replica.");

  struct stat record {};
  ASSERT_EQ(::stat(recordPath().c_str(), &record), 0) << recordPath();
  EXPECT_EQ(record.st_mode & 0777, 0600u);
}

TEST_P(RedisSyncTest, SyncRunAgainOnItsReplicaChangesNothingAndWaits) {
  fillSource();
  sync();
  const std::string record = readFile(recordPath());

  DriverRun again = driver("redis-sync");
  EXPECT_EQ(again.exitCode, 0) << again.err;
  EXPECT_TRUE(std::regex_match(
      again.out, std::regex(targetAddress() + " already replicates " + sourceAddress() +
                            ": waiting until it is in sync\n" + targetAddress() + " replicates " +
                            sourceAddress() + ", in sync \\(link up\\): 2,004 keys .*\n")))
      << again.out;
  EXPECT_EQ(readFile(recordPath()), record);
  EXPECT_TRUE(targetReplicatesSource());
}

/// The pair with passwords only: a source without one takes any.
class RedisSyncPasswordTest : public RedisSyncTest {};
INSTANTIATE_TEST_SUITE_P(Passwords, RedisSyncPasswordTest, ::testing::Values(true),
                         [](const auto&) { return "WithPasswords"; });

TEST_P(RedisSyncPasswordTest, AWrongSourcePasswordChangesNothing) {
  run(*target_, {"SET", "target-only", "kept"});
  run(*target_, {"CONFIG", "SET", "masterauth", kOldMasterauth});
  const auto settings = targetSettings();

  DriverRun refused = driver("redis-sync", {}, kWrongPassword);
  EXPECT_EQ(refused.exitCode, 1);
  EXPECT_EQ(refused.out, "");
  EXPECT_EQ(refused.err,
            "redis-sync: cannot sync; nothing was changed:\n"
            "  - redis " +
                sourceAddress() +
                ": authentication failed: WRONGPASS invalid username-password pair or user is "
                "disabled.\n");
  EXPECT_TRUE(refused.nothingChanged);

  EXPECT_EQ(infoField(*target_, "replication", "role"), "master");
  EXPECT_EQ(targetSettings(), settings);
  EXPECT_EQ(run(*target_, {"GET", "target-only"}).text, "kept");
  EXPECT_FALSE(fs::exists(recordPath()));
}

TEST_P(RedisSyncTest, RefusesATargetThatReplicatesAnotherServer) {
  // The other pair's source: a master this test's target must not leave.
  const Pair& other = GetParam() ? servers->plain : servers->locked;
  run(*target_, {"CONFIG", "SET", "masterauth", other.sourcePassword});
  run(*target_, {"REPLICAOF", "127.0.0.1", std::to_string(other.source->port())});

  DriverRun refused = driver("redis-sync");
  EXPECT_EQ(refused.exitCode, 1);
  EXPECT_EQ(refused.err, "redis-sync: cannot sync; nothing was changed:\n  - " + targetAddress() +
                             " is already a replica of 127.0.0.1:" +
                             std::to_string(other.source->port()) + "; refusing to re-point it\n");
  EXPECT_TRUE(refused.nothingChanged);
  EXPECT_EQ(infoField(*target_, "replication", "master_port"),
            std::to_string(other.source->port()));
  EXPECT_FALSE(fs::exists(recordPath()));
}

TEST_P(RedisSyncTest, WithoutAJournalTheRecordIsKeptInDotMigOfTheWorkingFolder) {
  DriverRun synced = driver("redis-sync", {}, std::nullopt, /*journal=*/false);
  ASSERT_EQ(synced.exitCode, 0) << synced.err;
  const std::string record =
      folder_ + "/.mig/redis-sync-127.0.0.1-" + std::to_string(target().port()) + ".state";
  EXPECT_TRUE(fs::exists(record)) << synced.out;
  DriverRun unsynced = driver("redis-unsync", {}, std::nullopt, /*journal=*/false);
  EXPECT_EQ(unsynced.exitCode, 0) << unsynced.err;
  EXPECT_FALSE(fs::exists(record));
}

// ---------------------------------------------------------------------------
// redis-unsync

TEST_P(RedisSyncTest, UnsyncPutsTheTargetsSettingsBackAndEmptiesIt) {
  fillSource();
  run(*target_, {"CONFIG", "SET", "masterauth", kOldMasterauth});
  run(*target_, {"CONFIG", "SET", "masteruser", "old-user"});
  run(*target_, {"CONFIG", "SET", "replica-read-only", "no"});
  const auto before = targetSettings();
  sync();
  EXPECT_EQ(targetSettings(),
            (std::map<std::string, std::string>{{"masterauth", pair_->sourcePassword},
                                                {"masteruser", ""},
                                                {"replica-read-only", "yes"},
                                                {"repl-diskless-load", "on-empty-db"}}));

  DriverRun unsynced = driver("redis-unsync");
  ASSERT_EQ(unsynced.exitCode, 0) << unsynced.err;
  EXPECT_EQ(unsynced.out, targetAddress() + ": replication from " + sourceAddress() +
                              " stopped; masterauth, masteruser, replica-read-only, "
                              "repl-diskless-load put back; emptied (FLUSHALL: 2,004 keys in "
                              "every database)\n");
  EXPECT_EQ(infoField(*target_, "replication", "role"), "master");
  EXPECT_EQ(targetSettings(), before);
  EXPECT_EQ(contents(*target_), (std::map<std::string, std::string>{}));
  EXPECT_FALSE(fs::exists(recordPath()));
  // The source is untouched.
  EXPECT_EQ(run(*source_, {"DBSIZE"}).integer, 2003);
}

TEST_P(RedisSyncTest, UnsyncTwiceIsFine) {
  fillSource();
  sync();
  DriverRun first = driver("redis-unsync");
  ASSERT_EQ(first.exitCode, 0) << first.err;

  DriverRun second = driver("redis-unsync");
  EXPECT_EQ(second.exitCode, 0) << second.err;
  EXPECT_EQ(second.out, targetAddress() + ": a master already; no record of a sync into it (" +
                            recordPath() +
                            "): settings left as they are; emptied (FLUSHALL: 0 keys in every "
                            "database)\n");
  EXPECT_EQ(infoField(*target_, "replication", "role"), "master");
  EXPECT_EQ(configValue(*target_, "masterauth"), "");
}

// ---------------------------------------------------------------------------
// redis-cutover

/// Writes SET w:N N to the source, N = 0, 1, 2, ..., one at a time, until
/// stopped: the application during a cutover.
class Writer {
 public:
  explicit Writer(std::unique_ptr<Connection> connection)
      : connection_(std::move(connection)), thread_([this] { loop(); }) {}
  ~Writer() { stop(); }

  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  /// Writes the source has acknowledged.
  int64_t acknowledged() const { return acknowledged_; }
  /// The first failure ("" when none): writes may wait, never fail.
  std::string failure() const {
    std::lock_guard lock(mutex_);
    return failure_;
  }
  /// The longest a write waited for its reply.
  std::chrono::microseconds longestWait() const { return longestWait_.load(); }

 private:
  void loop() {
    for (int64_t n = 0; !stop_; ++n) {
      const auto sent = std::chrono::steady_clock::now();
      auto reply = connection_->command({"SET", "w:" + std::to_string(n), std::to_string(n)});
      const auto waited = std::chrono::duration_cast<std::chrono::microseconds>(
          std::chrono::steady_clock::now() - sent);
      if (!reply || !reply->isStatus("OK")) {
        std::lock_guard lock(mutex_);
        failure_ = reply ? reply->text : connection_->error();
        return;
      }
      longestWait_ = std::max(longestWait_.load(), waited);
      acknowledged_ = n + 1;
    }
  }

  std::unique_ptr<Connection> connection_;
  std::atomic<bool> stop_ = false;
  std::atomic<int64_t> acknowledged_ = 0;
  std::atomic<std::chrono::microseconds> longestWait_{};
  mutable std::mutex mutex_;
  std::string failure_;
  std::thread thread_;
};

/// How many keys w:0, w:1, ... `connection` holds in a row from w:0; -1
/// when it holds one beyond them (a gap: writes out of order).
int64_t writtenInARow(Connection& connection) {
  constexpr int64_t kBatch = 1000;
  const int64_t total = run(connection, {"DBSIZE"}).integer;
  for (int64_t first = 0;; first += kBatch) {
    for (int64_t n = first; n < first + kBatch; ++n) {
      connection.append({"GET", "w:" + std::to_string(n)});
    }
    Reply reply;
    int64_t inARow = -1;
    for (int64_t n = first; n < first + kBatch; ++n) {
      EXPECT_TRUE(connection.read(reply)) << connection.error();
      if (inARow < 0 && reply.text != std::to_string(n)) inARow = n;
    }
    if (inARow >= 0) return inARow == total ? inARow : -1;
  }
}

TEST_P(RedisSyncTest, CutoverWithAWriterPromotesTheTargetWithEveryWriteBeforeThePause) {
  sync();
  Writer writer(connect(source(), pair_->sourcePassword, 60s));
  ASSERT_TRUE(eventually([&] { return writer.acknowledged() >= 500; }));
  const int64_t beforeCutover = writer.acknowledged();

  DriverRun cutover = driver("redis-cutover", {"--catch-up", "10000ms"});
  const int64_t afterCutover = writer.acknowledged();
  ASSERT_EQ(cutover.exitCode, 0) << cutover.err;
  EXPECT_TRUE(std::regex_match(
      cutover.out,
      std::regex("writes on " + sourceAddress() + " paused for [0-9.]+m?s: " + targetAddress() +
                 " caught up at offset [0-9,]+ after [0-9.]+m?s and was promoted \\(REPLICAOF NO "
                 "ONE\\)\n" +
                 targetAddress() + ": masterauth, repl-diskless-load as before the sync\n")))
      << cutover.out;
  EXPECT_EQ(cutover.err, "");
  // The source takes writes again: they reach it, not the target.
  ASSERT_TRUE(eventually([&] { return writer.acknowledged() >= afterCutover + 100; }))
      << "the writer made no progress after the cutover: the source stayed paused";
  writer.stop();
  EXPECT_EQ(writer.failure(), "");
  std::cout << "the writer's longest wait: " << writer.longestWait().count() << " us; "
            << cutover.out;

  EXPECT_EQ(infoField(*target_, "replication", "role"), "master");
  const int64_t onTarget = writtenInARow(*target_);
  EXPECT_GE(onTarget, beforeCutover);
  EXPECT_LE(onTarget, afterCutover);
  EXPECT_EQ(writtenInARow(*source_), writer.acknowledged());
  EXPECT_GT(writer.acknowledged(), onTarget);
  EXPECT_EQ(run(*target_, {"SET", "after-cutover", "1"}).text, "OK");
  EXPECT_EQ(configValue(*target_, "masterauth"), "");
  EXPECT_EQ(configValue(*target_, "repl-diskless-load"), "disabled");
  EXPECT_FALSE(fs::exists(recordPath()));
}

TEST_P(RedisSyncTest, CutoverThatCannotCatchUpUnpausesTheSourceAndLeavesReplication) {
  sync();
  run(*source_, {"SET", "streamed", "1"});
  ASSERT_TRUE(eventually([&] { return run(*target_, {"GET", "streamed"}).text == "1"; }));
  // The target stops applying the source's stream (a paused replica
  // receives it but applies nothing), and the source writes one more key.
  run(*target_, {"CLIENT", "PAUSE", "30000", "WRITE"});
  run(*source_, {"SET", "late", "1"});

  DriverRun cutover = driver("redis-cutover", {"--catch-up", "300ms"});
  EXPECT_EQ(cutover.exitCode, 1);
  EXPECT_EQ(cutover.out, "");
  EXPECT_TRUE(std::regex_match(
      cutover.err,
      std::regex("mig driver redis-cutover: " + targetAddress() + " did not catch up with " +
                 sourceAddress() +
                 " within 0.300s \\(offset [0-9,]+ of [0-9,]+, link up\\); the target still "
                 "replicates the source; writes on " +
                 sourceAddress() +
                 " were paused for [0-9.]+m?s and resumed\nmig driver redis-cutover: nothing was "
                 "changed\n")))
      << cutover.err;
  EXPECT_TRUE(cutover.nothingChanged);

  // Not paused any more: a write answers at once (the pause Redis was
  // asked for would have lasted 2.3 s).
  auto prompt = connect(source(), pair_->sourcePassword, 1s);
  ASSERT_TRUE(prompt);
  EXPECT_EQ(run(*prompt, {"SET", "after", "1"}).text, "OK");
  EXPECT_TRUE(targetReplicatesSource());
  EXPECT_TRUE(fs::exists(recordPath()));
  run(*target_, {"CLIENT", "UNPAUSE"});
  EXPECT_TRUE(eventually([&] { return run(*target_, {"GET", "late"}).text == "1"; }));
}

TEST_P(RedisSyncTest, CutoverRefusesATargetThatIsNotAReplica) {
  DriverRun cutover = driver("redis-cutover");
  EXPECT_EQ(cutover.exitCode, 1);
  EXPECT_EQ(cutover.err, "redis-cutover: cannot cut over; nothing was changed:\n  - " +
                             targetAddress() + " is a master, not a replica of " + sourceAddress() +
                             ": nothing to cut over (redis.sync makes it one)\n");
  EXPECT_TRUE(cutover.nothingChanged);
}

TEST_P(RedisSyncTest, UnsyncAfterCutoverEmptiesThePromotedTarget) {
  fillSource();
  sync();
  DriverRun cutover = driver("redis-cutover");
  ASSERT_EQ(cutover.exitCode, 0) << cutover.err;
  DriverRun unsynced = driver("redis-unsync");
  EXPECT_EQ(unsynced.exitCode, 0) << unsynced.err;
  EXPECT_EQ(run(*target_, {"DBSIZE"}).integer, 0);
  EXPECT_EQ(infoField(*target_, "replication", "role"), "master");
}

TEST(RedisSyncArguments, AreCheckedBeforeAnyConnection) {
  auto usage = [](std::vector<std::string> args) {
    mig::drivers::SubprocessRequest request;
    request.argv = {MIG_BINARY, "driver"};
    request.argv.insert(request.argv.end(), args.begin(), args.end());
    request.timeout = 30s;
    auto result = mig::drivers::runSubprocess(request);
    return std::to_string(result.exitCode) + " " + result.err;
  };
  EXPECT_EQ(usage({"redis-sync", "--from", "redis://127.0.0.1:1/0"}),
            "2 mig driver redis-sync: missing --to\n");
  EXPECT_EQ(usage({"redis-cutover", "--from", "redis://127.0.0.1:1/0", "--to",
                   "redis://127.0.0.1:2/0", "--catch-up", "soon"}),
            "2 mig driver redis-cutover: --catch-up takes a duration such as 500ms, 10s or 1m, "
            "not 'soon'\n");
  EXPECT_EQ(usage({"redis-unsync", "--from", "redis://127.0.0.1:1/0", "--to",
                   "redis://127.0.0.1:2/0", "--method", "dump"}),
            "2 mig driver redis-unsync: unknown option --method\n");
}

}  // namespace
