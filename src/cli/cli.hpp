#pragma once
// Helpers shared by the subcommands of the dynx command line.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <unistd.h>
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

/// The current time as "YYYY-MM-DDTHH:MM:SSZ".
std::string utc_now();

/// Seconds since t0.
inline double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

/// Prints "done/total <unit>, rate, ETA" to stderr: in place on a terminal (at most 4 times a
/// second), otherwise a line at most every 10 s; silent for runs that end within a second.
class Progress {
 public:
  Progress(std::string what, std::string unit, bool enabled)
      : what_(std::move(what)), unit_(std::move(unit)), enabled_(enabled) {}
  void operator()(std::int64_t done, std::int64_t total) {
    if (!enabled_) return;
    const double t = seconds_since(start_);
    if (t < 1.0 && done < total) return;
    if (t - last_ < (tty_ ? 0.25 : 10.0) && done < total) return;
    if (t < 1.0 && !shown_) return;  // finished within a second: nothing to show
    last_ = t;
    shown_ = true;
    const double rate = double(done) / std::max(t, 1e-9);
    const double eta = rate > 0 ? double(total - done) / rate : 0;
    std::fprintf(stderr, "%s%s: %lld/%lld %s (%.0f%%), %.4g %s/s, elapsed %s, ETA %s%s",
                 tty_ ? "\r" : "", what_.c_str(), (long long)done, (long long)total, unit_.c_str(),
                 100.0 * double(done) / double(std::max<std::int64_t>(total, 1)), rate,
                 unit_.c_str(), clock_text(t).c_str(), clock_text(eta).c_str(), tty_ ? "   " : "\n");
    open_line_ = tty_;
    std::fflush(stderr);
  }
  /// Ends the in-place line (after the last update or a cancelled run).
  void finish() {
    if (open_line_) std::fprintf(stderr, "\n");
    open_line_ = false;
  }

 private:
  static std::string clock_text(double s) {
    const long v = long(std::lround(s));
    char b[32];
    if (v >= 3600) std::snprintf(b, sizeof b, "%ldh%02ldm%02lds", v / 3600, v / 60 % 60, v % 60);
    else if (v >= 60) std::snprintf(b, sizeof b, "%ldm%02lds", v / 60, v % 60);
    else std::snprintf(b, sizeof b, "%lds", v);
    return b;
  }
  std::string what_, unit_;
  bool enabled_;
  bool tty_ = isatty(STDERR_FILENO) != 0;
  bool shown_ = false, open_line_ = false;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  double last_ = -1e9;
};

/// `dynx compare`: DSA (and geometric baselines) on data files or the built-in examples.
int run_compare(const std::vector<std::string>& args);
extern const char* const kCompareUsage;

/// `dynx lyapunov`: Lyapunov spectra of a built-in system or of Jacobians from a file.
int run_lyapunov(const std::vector<std::string>& args);
extern const char* const kLyapunovUsage;

/// `dynx deer`: a built-in recurrent cell evaluated over T steps by DEER (or the automatic
/// choice), compared with the sequential evaluation.
int run_deer(const std::vector<std::string>& args);
extern const char* const kDeerUsage;

}  // namespace dynx::cli
