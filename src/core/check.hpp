#pragma once
// Argument checks that throw dynx errors with the failed expression and file:line.

#include <dynx/error.hpp>

#include <fmt/format.h>

#include <string>

namespace dynx::detail {

[[noreturn]] void throw_invalid_argument(const char* expr, const std::string& msg, const char* file,
                                         int line);
[[noreturn]] void throw_unsupported(const std::string& msg, const char* file, int line);

/// The file name part of __FILE__, for "file:line" in error messages.
inline const char* base_name(const char* file) noexcept {
  const char* name = file;
  for (const char* p = file; *p; ++p)
    if (*p == '/') name = p + 1;
  return name;
}

/// "48×32" for messages.
inline std::string shape_str(std::int64_t rows, std::int64_t cols) {
  return fmt::format("{}x{}", rows, cols);
}

}  // namespace dynx::detail

/// Throws InvalidArgument with `msg` (a std::string or string literal) when `cond` is false.
#define DYNX_EXPECTS(cond, msg)                                                        \
  do {                                                                                 \
    if (!(cond)) ::dynx::detail::throw_invalid_argument(#cond, (msg), __FILE__, __LINE__); \
  } while (0)

/// Throws Unsupported with `msg`.
#define DYNX_UNSUPPORTED(msg) ::dynx::detail::throw_unsupported((msg), __FILE__, __LINE__)
