// Logging: levels, parsing, and the user callback receiving the core's dispatch messages.

#include "common/test_common.hpp"

#include <dynx/dynx.hpp>

#include <gtest/gtest.h>

#include <mutex>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace {

using dynx::LogLevel;

// Restores the library's level and callback after each test: both are process-wide.
class Logging : public ::testing::Test {
 protected:
  void SetUp() override { saved_ = dynx::log_level(); }
  void TearDown() override {
    dynx::set_log_callback({});
    dynx::set_log_level(saved_);
  }

  // Installs a callback that records every message.
  void capture() {
    dynx::set_log_callback([this](LogLevel level, std::string_view text) {
      std::lock_guard<std::mutex> lock(mutex_);
      messages_.emplace_back(level, std::string(text));
    });
  }
  std::vector<std::pair<LogLevel, std::string>> messages() {
    std::lock_guard<std::mutex> lock(mutex_);
    return messages_;
  }

  // A 4×3 SVD of one matrix on the CPU: the core logs its algorithm choice at debug.
  static void run_small_svd() {
    dynx::Context ctx;
    const double a[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13};
    double s[3];
    dynx::svd_batched<double>(ctx, dynx::MatrixBatch<const double>(a, 4, 3, 1),
                              dynx::VectorBatch<double>(s, 3, 1), {}, {});
  }

 private:
  LogLevel saved_ = LogLevel::warn;
  std::mutex mutex_;
  std::vector<std::pair<LogLevel, std::string>> messages_;
};

TEST(LogLevel, ParsesEveryName) {
  EXPECT_EQ(dynx::parse_log_level("trace"), LogLevel::trace);
  EXPECT_EQ(dynx::parse_log_level("debug"), LogLevel::debug);
  EXPECT_EQ(dynx::parse_log_level("info"), LogLevel::info);
  EXPECT_EQ(dynx::parse_log_level("warn"), LogLevel::warn);
  EXPECT_EQ(dynx::parse_log_level("error"), LogLevel::error);
  EXPECT_EQ(dynx::parse_log_level("off"), LogLevel::off);
}

TEST(LogLevel, RejectsUnknownNames) {
  for (const char* bad : {"", "DEBUG", "verbose", "fatal", "debug "}) {
    SCOPED_TRACE(bad);
    DYNX_EXPECT_INVALID_ARGUMENT(dynx::parse_log_level(bad), "level");
  }
}

TEST_F(Logging, DefaultLevelIsWarn) {
  // Nothing in this process has changed the level before SetUp recorded it, unless another test
  // in the same process did and restored it: either way it must be warn now.
  EXPECT_EQ(dynx::log_level(), LogLevel::warn);
}

TEST_F(Logging, SetLevelRoundTrips) {
  for (LogLevel l : {LogLevel::trace, LogLevel::debug, LogLevel::info, LogLevel::warn,
                     LogLevel::error, LogLevel::off}) {
    dynx::set_log_level(l);
    EXPECT_EQ(dynx::log_level(), l);
  }
}

TEST_F(Logging, CallbackReceivesDispatchDecisionAtDebug) {
  capture();
  dynx::set_log_level(LogLevel::debug);
  run_small_svd();
  const auto msgs = messages();
  bool found = false;
  for (const auto& [level, text] : msgs) {
    EXPECT_GE(static_cast<int>(level), static_cast<int>(LogLevel::debug)) << text;
    if (level == LogLevel::debug && text.find("svd") != std::string::npos) found = true;
  }
  EXPECT_TRUE(found) << "no debug message about the svd among " << msgs.size() << " messages";
}

TEST_F(Logging, MessagesBelowTheLevelAreDropped) {
  capture();
  dynx::set_log_level(LogLevel::warn);
  run_small_svd();
  for (const auto& [level, text] : messages())
    EXPECT_GE(static_cast<int>(level), static_cast<int>(LogLevel::warn)) << text;
  dynx::set_log_level(LogLevel::off);
  const auto before = messages().size();
  run_small_svd();
  EXPECT_EQ(messages().size(), before) << "a message got through with the level at off";
}

TEST_F(Logging, ThrowingCallbackDoesNotPropagate) {
  dynx::set_log_callback([](LogLevel, std::string_view) { throw std::runtime_error("callback"); });
  dynx::set_log_level(LogLevel::debug);
  EXPECT_NO_THROW(run_small_svd());
}

TEST_F(Logging, EmptyCallbackGoesBackToStderr) {
  capture();
  dynx::set_log_callback({});
  dynx::set_log_level(LogLevel::debug);
  testing::internal::CaptureStderr();
  run_small_svd();
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_TRUE(messages().empty());
  EXPECT_NE(err.find("svd"), std::string::npos) << "stderr: " << err;
}

}  // namespace
