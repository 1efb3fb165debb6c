// The runner's own log (runtime/run_log.h): held records, the fallback
// file, levels, redaction, the size cap, and the event tee.
#include "runtime/run_log.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <sstream>

#include "runtime/progress.h"
#include "test_support.h"

namespace mig::runtime {
namespace {

namespace fs = std::filesystem;

class RunLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("mig-run-log-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string read(const std::string& name) { return testing::readFile(dir_ / name); }

  fs::path dir_;
};

TEST_F(RunLogTest, RecordsBeforeOpenAreWrittenFirstWithTheirLevels) {
  {
    RunLog log(LogLevel::Info);
    log.info("took the lock");
    log.debug("not kept at info");
    std::string error;
    ASSERT_TRUE(log.open((dir_ / "run-1" / "mig.log").string(), error)) << error;
    log.error("step load failed");
  }
  std::string text = read("run-1/mig.log");
  size_t lock = text.find(" info    took the lock\n");
  size_t failed = text.find(" error   step load failed\n");
  ASSERT_NE(lock, std::string::npos) << text;
  ASSERT_NE(failed, std::string::npos) << text;
  EXPECT_LT(lock, failed);
  EXPECT_EQ(text.find("not kept"), std::string::npos);
  // Each line starts with a UTC timestamp to the millisecond.
  EXPECT_EQ(text.substr(4, 1), "-");
  EXPECT_EQ(text.substr(10, 1), "T");
  EXPECT_EQ(text.substr(23, 2), "Z ");
}

TEST_F(RunLogTest, ACommandThatNeverReachesARunWritesToTheFallback) {
  {
    RunLog log(LogLevel::Info);
    log.setFallbackPath((dir_ / "logs" / "p" / "mig.log").string());
    log.warn("plan p is being run by another mig");
  }
  EXPECT_NE(read("logs/p/mig.log").find("warning plan p is being run by another mig"),
            std::string::npos);
}

TEST_F(RunLogTest, SecretsAreRedactedEvenInRecordsMadeBeforeTheyWereKnown) {
  {
    RunLog log(LogLevel::Trace);
    log.info("before: token hunter2-long-secret in a message");
    log.addSecrets({"hunter2-long-secret", "hunter2"});
    std::string error;
    ASSERT_TRUE(log.open((dir_ / "mig.log").string(), error)) << error;
    log.error("after: hunter2-long-secret and hunter2 again");
  }
  std::string text = read("mig.log");
  EXPECT_EQ(text.find("hunter2"), std::string::npos) << text;
  EXPECT_NE(text.find("before: token *** in a message"), std::string::npos) << text;
  EXPECT_NE(text.find("after: *** and *** again"), std::string::npos) << text;
}

TEST_F(RunLogTest, OffWritesNoFile) {
  {
    RunLog log(LogLevel::Off);
    log.setFallbackPath((dir_ / "fallback.log").string());
    log.error("nothing");
    std::string error;
    EXPECT_TRUE(log.open((dir_ / "mig.log").string(), error));
  }
  EXPECT_FALSE(fs::exists(dir_ / "mig.log"));
  EXPECT_FALSE(fs::exists(dir_ / "fallback.log"));
}

TEST_F(RunLogTest, TheCapKeepsTheMostRecentRecords) {
  const uint64_t cap = 64 * 1024;
  {
    RunLog log(LogLevel::Info, cap);
    std::string error;
    ASSERT_TRUE(log.open((dir_ / "mig.log").string(), error)) << error;
    for (int i = 0; i < 5000; ++i)
      log.info(fmt::format("record {:05} {}", i, std::string(60, 'x')));
  }
  uint64_t total = fs::file_size(dir_ / "mig.log") + fs::file_size(dir_ / "mig.1.log");
  EXPECT_LE(total, cap);
  EXPECT_NE(read("mig.log").find("record 04999"), std::string::npos);
  EXPECT_EQ(read("mig.log").find("record 00000"), std::string::npos);
  EXPECT_EQ(read("mig.1.log").find("record 00000"), std::string::npos);
}

TEST_F(RunLogTest, AFileThatCannotBeOpenedLeavesTheRecordsHeld) {
  // A file where the folder should be: no one, root included, can create it.
  testing::writeFile(dir_ / "blocker", "");
  RunLog log(LogLevel::Info);
  log.info("kept");
  std::string error;
  EXPECT_FALSE(log.open((dir_ / "blocker" / "run-1" / "mig.log").string(), error));
  EXPECT_FALSE(error.empty());
  ASSERT_TRUE(log.open((dir_ / "mig.log").string(), error)) << error;
  log.close();
  EXPECT_NE(read("mig.log").find("kept"), std::string::npos);
}

TEST(LogLevels, NamesParse) {
  EXPECT_EQ(parseLogLevel("debug"), LogLevel::Debug);
  EXPECT_EQ(parseLogLevel("off"), LogLevel::Off);
  EXPECT_EQ(parseLogLevel("verbose"), std::nullopt);
  EXPECT_EQ(parseLogLevel(""), std::nullopt);
}

TEST_F(RunLogTest, TheLoggingSinkTeesEventsAndTellsTheSignalOnce) {
  std::ostringstream terminal;
  std::atomic<int> signal{0};
  {
    RunLog log(LogLevel::Info);
    std::string error;
    ASSERT_TRUE(log.open((dir_ / "mig.log").string(), error)) << error;
    auto sink = makeLoggingSink(log, makeLineSink(terminal), &signal);
    Progress progress;
    progress.total = 2;
    Event failed;
    failed.kind = Event::Kind::StepFailed;
    failed.step = "load";
    failed.message = "it failed (exit code 3)";
    sink->emit(failed, progress);
    signal = SIGTERM;
    sink->tick(progress);
    sink->tick(progress);
    sink->close();
  }
  std::string text = read("mig.log");
  EXPECT_NE(text.find(" error   [0/2] step load FAILED: it failed (exit code 3)\n"),
            std::string::npos)
      << text;
  size_t told = text.find("received SIGTERM");
  ASSERT_NE(told, std::string::npos) << text;
  EXPECT_EQ(text.find("received SIGTERM", told + 1), std::string::npos) << text;
  EXPECT_NE(terminal.str().find("step load FAILED"), std::string::npos);
}

}  // namespace
}  // namespace mig::runtime
