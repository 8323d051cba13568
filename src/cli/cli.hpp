#pragma once
// Helpers shared by the subcommands of the dynx command line.

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace dynx::cli {

/// A mistake in the command line: printed with the command's usage, exit status 2.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// Exit statuses.
constexpr int kExitOk = 0;
constexpr int kExitError = 1;        ///< bad data, failed computation, unwritable output
constexpr int kExitUsage = 2;        ///< bad command line
constexpr int kExitInterrupted = 130;  ///< SIGINT: finished work was saved

/// Parses an integer in [lo, hi] given to `flag`; UsageError otherwise.
std::int64_t parse_int(const std::string& flag, const std::string& value, std::int64_t lo,
                       std::int64_t hi);
/// Parses a finite number in [lo, hi] given to `flag`; UsageError otherwise.
double parse_double(const std::string& flag, const std::string& value, double lo, double hi);

/// `dynx compare`: DSA (and geometric baselines) on data files or the built-in examples.
int run_compare(const std::vector<std::string>& args);
extern const char* const kCompareUsage;

}  // namespace dynx::cli
