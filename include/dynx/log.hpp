#pragma once
/// \file log.hpp
/// dynx logs through its own named logger; it never touches a global logger. By default messages of
/// level `warn` and above go to stderr. Applications redirect them with set_log_callback.

#include <dynx/export.hpp>

#include <functional>
#include <string_view>

namespace dynx {

enum class LogLevel { trace = 0, debug = 1, info = 2, warn = 3, error = 4, off = 5 };

/// Messages below `level` are dropped. Thread-safe.
DYNX_API void set_log_level(LogLevel level);
/// The current threshold.
DYNX_API LogLevel log_level();

/// Receives every message at or above the log level instead of stderr. Pass an empty function to go
/// back to stderr. The callback may be called from any thread that calls into dynx; it must not
/// throw (an exception it throws is caught and dropped).
using LogCallback = std::function<void(LogLevel, std::string_view)>;
DYNX_API void set_log_callback(LogCallback callback);

/// Parses "trace", "debug", "info", "warn", "error" or "off". Throws InvalidArgument otherwise.
DYNX_API LogLevel parse_log_level(std::string_view name);

}  // namespace dynx
