#include "core/log.hpp"

#include <dynx/error.hpp>
#include <dynx/log.hpp>

#include <spdlog/sinks/base_sink.h>

#include <cstdio>
#include <memory>
#include <mutex>
#include <string>

namespace dynx {
namespace {

LogLevel from_spdlog(spdlog::level::level_enum l) {
  switch (l) {
    case spdlog::level::trace: return LogLevel::trace;
    case spdlog::level::debug: return LogLevel::debug;
    case spdlog::level::info: return LogLevel::info;
    case spdlog::level::warn: return LogLevel::warn;
    case spdlog::level::err: return LogLevel::error;
    case spdlog::level::critical: return LogLevel::error;
    default: return LogLevel::off;
  }
}

spdlog::level::level_enum to_spdlog(LogLevel l) {
  switch (l) {
    case LogLevel::trace: return spdlog::level::trace;
    case LogLevel::debug: return spdlog::level::debug;
    case LogLevel::info: return spdlog::level::info;
    case LogLevel::warn: return spdlog::level::warn;
    case LogLevel::error: return spdlog::level::err;
    case LogLevel::off: return spdlog::level::off;
  }
  return spdlog::level::off;
}

// Forwards each message to the user's callback, or writes "[dynx] level: text" to stderr.
class CallbackSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  void set_callback(LogCallback cb) {
    std::lock_guard<std::mutex> lock(mutex_);
    callback_ = std::move(cb);
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    const std::string_view text(msg.payload.data(), msg.payload.size());
    if (callback_) {
      try {
        callback_(from_spdlog(msg.level), text);
      } catch (...) {
        // A throwing callback must not take the library down; the message is dropped.
      }
      return;
    }
    const auto name = spdlog::level::to_string_view(msg.level);
    std::fprintf(stderr, "[dynx] %.*s: %.*s\n", static_cast<int>(name.size()), name.data(),
                 static_cast<int>(text.size()), text.data());
  }
  void flush_() override { std::fflush(stderr); }

 private:
  LogCallback callback_;
};

struct LoggerHolder {
  std::shared_ptr<CallbackSink> sink = std::make_shared<CallbackSink>();
  // Constructed directly, not registered with spdlog's registry, so the application's own spdlog
  // setup (global level, pattern, default logger) neither sees nor changes it.
  spdlog::logger logger{"dynx", sink};
  LoggerHolder() {
    logger.set_level(spdlog::level::warn);
    logger.flush_on(spdlog::level::warn);
  }
};

LoggerHolder& holder() {
  static LoggerHolder h;
  return h;
}

}  // namespace

namespace detail {
spdlog::logger& log() { return holder().logger; }
}  // namespace detail

void set_log_level(LogLevel level) { holder().logger.set_level(to_spdlog(level)); }

LogLevel log_level() { return from_spdlog(holder().logger.level()); }

void set_log_callback(LogCallback callback) { holder().sink->set_callback(std::move(callback)); }

LogLevel parse_log_level(std::string_view name) {
  if (name == "trace") return LogLevel::trace;
  if (name == "debug") return LogLevel::debug;
  if (name == "info") return LogLevel::info;
  if (name == "warn" || name == "warning") return LogLevel::warn;
  if (name == "error") return LogLevel::error;
  if (name == "off") return LogLevel::off;
  throw InvalidArgument("dynx: parse_log_level: unknown log level '" + std::string(name) +
                        "' (expected trace, debug, info, warn, error or off)");
}

}  // namespace dynx
