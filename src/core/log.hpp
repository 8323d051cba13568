#pragma once
// The library's private, named spdlog logger. Never the global or default logger.

#include <spdlog/spdlog.h>

namespace dynx::detail {

/// The "dynx" logger. Its sink forwards to the user's callback or to stderr.
spdlog::logger& log();

}  // namespace dynx::detail
