// The dynx command line. Subcommands: `compare` (the default: DSA on data files or built-in
// examples, src/cli/compare.cpp), `lyapunov` (Lyapunov spectra, src/cli/lyapunov.cpp), `deer`
// (recurrent cells evaluated in parallel over time, src/cli/deer.cpp), `demo` (batched primitives
// on example matrices, with their accuracy and speed), `info` (build and devices).

#include "cli/cli.hpp"

#include <dynx/dynx.hpp>

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <random>
#include <string>
#include <vector>

namespace {

constexpr const char* kUsage =
    "usage: dynx [command] [options]\n"
    "\n"
    "commands:\n"
    "  compare  Dynamical Similarity Analysis of systems in .npy/.npz/HDF5 files, or of built-in\n"
    "           example systems when no data is given (the default command; dynx compare --help)\n"
    "  lyapunov Lyapunov spectrum of a built-in system (Lorenz-63, Rossler, Lorenz-96, Henon,\n"
    "           tanh RNN) or of Jacobians from a .npy/HDF5 file (dynx lyapunov --help)\n"
    "  deer     evaluate a recurrent cell (tanh RNN, mean-field RNN, GRU, LSTM) over T steps in\n"
    "           parallel by Newton's method (DEER, quasi-DEER, ELK) or sequentially, and compare\n"
    "           with sequential evaluation (dynx deer --help)\n"
    "  demo     run every batched primitive on random example matrices and report accuracy and\n"
    "           throughput (options: --device cpu|cuda:N, --n N, --count N, --dtype f32|f64)\n"
    "  info     print the build configuration and the usable devices\n"
    "  help     print this text\n"
    "\n"
    "global options: --log-level trace|debug|info|warn|error|off, --version\n";

struct Options {
  std::string command;
  dynx::Device device = dynx::Device::cpu();
  std::int64_t n = 32;
  std::int64_t count = 1000;
  std::string dtype = "f64";
};

[[noreturn]] void usage_error(const std::string& msg) { throw dynx::cli::UsageError(msg); }

using dynx::cli::parse_int;

Options parse(const std::vector<std::string>& args) {
  Options o;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= args.size()) usage_error(a + " needs a value");
      return args[++i];
    };
    if (a == "--version") {
      std::printf("%s\n", dynx::version());
      std::exit(0);
    } else if (a == "-h" || a == "--help") {
      std::printf("%s", kUsage);
      std::exit(0);
    } else if (a == "--device") {
      o.device = dynx::Device::parse(value());
    } else if (a == "--n") {
      o.n = parse_int(a, value(), 1, 4096);
    } else if (a == "--count") {
      o.count = parse_int(a, value(), 0, 10'000'000);
    } else if (a == "--dtype") {
      o.dtype = value();
      if (o.dtype != "f32" && o.dtype != "f64") usage_error("--dtype expects f32 or f64");
    } else if (a == "--log-level") {
      dynx::set_log_level(dynx::parse_log_level(value()));
    } else if (!a.empty() && a[0] == '-') {
      usage_error("unknown option " + a);
    } else if (o.command.empty()) {
      o.command = a;
    } else {
      usage_error("unexpected argument '" + a + "'");
    }
  }
  if (o.command.empty()) o.command = "demo";
  return o;
}

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Frobenius norm of a host n×n matrix difference, helper for residuals.
template <class T>
double rel_diff(const T* x, const T* y, std::int64_t len) {
  double num = 0, den = 0;
  for (std::int64_t i = 0; i < len; ++i) {
    num += (double(x[i]) - double(y[i])) * (double(x[i]) - double(y[i]));
    den += double(y[i]) * double(y[i]);
  }
  return std::sqrt(num / std::max(den, 1e-300));
}

template <class T>
int run_demo(const Options& o) {
  dynx::Context ctx(o.device);
  const std::int64_t n = o.n, count = o.count, nn = n * n;
  std::printf("%s\n", dynx::build_info());
  std::printf("demo: %lld random %lldx%lld %s matrices on %s\n\n", static_cast<long long>(count),
              static_cast<long long>(n), static_cast<long long>(n), o.dtype.c_str(),
              o.device.str().c_str());

  std::mt19937_64 rng(42);
  std::normal_distribution<double> normal;
  std::vector<T> h_a(static_cast<std::size_t>(nn * count));
  for (auto& x : h_a) x = static_cast<T>(normal(rng));
  // Diagonally dominated copies make the solve/inverse inputs well conditioned.
  std::vector<T> h_w = h_a;
  for (std::int64_t k = 0; k < count; ++k)
    for (std::int64_t i = 0; i < n; ++i) h_w[k * nn + i * n + i] += static_cast<T>(2 * n);

  auto a = dynx::to_device(ctx, h_a.data(), h_a.size());
  auto well = dynx::to_device(ctx, h_w.data(), h_w.size());
  dynx::Buffer<T> u(nn * count, o.device), vt(nn * count, o.device), s(n * count, o.device),
      r(nn * count, o.device), x(nn * count, o.device);
  dynx::Buffer<std::complex<T>> w(n * count, o.device);
  dynx::BatchStatus status;

  const auto A = a.matrices(n, n, count);
  std::printf("%-16s %12s %14s  %s\n", "primitive", "time [s]", "matrices/s", "check");
  auto report = [&](const char* name, double t, double err, const char* what) {
    std::printf("%-16s %12.4f %14.0f  %s = %.2e, %lld failed\n", name, t, count / std::max(t, 1e-12),
                what, err, static_cast<long long>(status.failures()));
  };

  // gemm: C = A Aᵀ, checked on matrix 0 against a direct sum.
  auto t0 = Clock::now();
  dynx::gemm_batched<T>(ctx, dynx::Op::n, dynx::Op::t, T(1), A, A, T(0), r.matrices(n, n, count));
  ctx.synchronize();
  double t = seconds_since(t0);
  {
    auto h_r = dynx::to_host(ctx, r);
    std::vector<T> ref(static_cast<std::size_t>(nn));
    for (std::int64_t j = 0; j < n; ++j)
      for (std::int64_t i = 0; i < n; ++i) {
        double acc = 0;
        for (std::int64_t l = 0; l < n; ++l) acc += double(h_a[l * n + i]) * double(h_a[l * n + j]);
        ref[j * n + i] = static_cast<T>(acc);
      }
    status.prepare(ctx, 0);
    report("gemm_batched", t, count ? rel_diff(h_r.data(), ref.data(), nn) : 0.0, "rel err (matrix 0)");
  }

  // svd, then reconstruction of matrix 0.
  t0 = Clock::now();
  dynx::svd_batched<T>(ctx, A, s.vectors(n, count), u.matrices(n, n, count),
                       vt.matrices(n, n, count), &status);
  ctx.synchronize();
  t = seconds_since(t0);
  {
    auto h_u = dynx::to_host(ctx, u), h_vt = dynx::to_host(ctx, vt);
    auto h_s = dynx::to_host(ctx, s);
    std::vector<T> rec(static_cast<std::size_t>(nn));
    for (std::int64_t j = 0; j < n; ++j)
      for (std::int64_t i = 0; i < n; ++i) {
        double acc = 0;
        for (std::int64_t l = 0; l < n; ++l) acc += double(h_u[l * n + i]) * h_s[l] * h_vt[j * n + l];
        rec[j * n + i] = static_cast<T>(acc);
      }
    report("svd_batched", t, count ? rel_diff(rec.data(), h_a.data(), nn) : 0.0, "||A-USVt||/||A||");
  }

  t0 = Clock::now();
  dynx::qr_batched<T>(ctx, A, u.matrices(n, n, count), r.matrices(n, n, count), &status);
  ctx.synchronize();
  t = seconds_since(t0);
  {
    auto h_q = dynx::to_host(ctx, u), h_r = dynx::to_host(ctx, r);
    std::vector<T> rec(static_cast<std::size_t>(nn));
    for (std::int64_t j = 0; j < n; ++j)
      for (std::int64_t i = 0; i < n; ++i) {
        double acc = 0;
        for (std::int64_t l = 0; l <= j; ++l) acc += double(h_q[l * n + i]) * double(h_r[j * n + l]);
        rec[j * n + i] = static_cast<T>(acc);
      }
    report("qr_batched", t, count ? rel_diff(rec.data(), h_a.data(), nn) : 0.0, "||A-QR||/||A||");
  }

  t0 = Clock::now();
  dynx::eig_batched<T>(ctx, A, w.vectors(n, count), {}, &status);
  ctx.synchronize();
  {
    // The sum of the eigenvalues equals the trace.
    auto h_w = dynx::to_host(ctx, w);
    double tr = 0, sum = 0;
    for (std::int64_t i = 0; i < std::min<std::int64_t>(n, count ? n : 0); ++i) {
      tr += double(h_a[i * n + i]);
      sum += double(h_w[i].real());
    }
    report("eig_batched", seconds_since(t0), std::abs(tr - sum) / std::max(1.0, std::abs(tr)),
           "|trace - sum(eig)|");
  }

  // solve W X = A, then W X against A for matrix 0.
  auto residual0 = [&](const dynx::Buffer<T>& x_buf, const std::vector<T>& rhs) {
    auto h_x = dynx::to_host(ctx, x_buf);
    std::vector<T> wx(static_cast<std::size_t>(nn));
    for (std::int64_t j = 0; j < n; ++j)
      for (std::int64_t i = 0; i < n; ++i) {
        double acc = 0;
        for (std::int64_t l = 0; l < n; ++l) acc += double(h_w[l * n + i]) * double(h_x[j * n + l]);
        wx[j * n + i] = static_cast<T>(acc);
      }
    return count ? rel_diff(wx.data(), rhs.data(), nn) : 0.0;
  };
  t0 = Clock::now();
  dynx::solve_batched<T>(ctx, well.matrices(n, n, count), A, x.matrices(n, n, count), &status);
  ctx.synchronize();
  t = seconds_since(t0);
  report("solve_batched", t, residual0(x, h_a), "||WX-A||/||A||");

  t0 = Clock::now();
  dynx::inverse_batched<T>(ctx, well.matrices(n, n, count), x.matrices(n, n, count), &status);
  ctx.synchronize();
  t = seconds_since(t0);
  {
    std::vector<T> eye(static_cast<std::size_t>(nn), T(0));
    for (std::int64_t i = 0; i < n; ++i) eye[i * n + i] = T(1);
    report("inverse_batched", t, residual0(x, eye), "||W inv(W)-I||/||I||");
  }

  t0 = Clock::now();
  dynx::polar_batched<T>(ctx, A, x.matrices(n, n, count), &status);
  ctx.synchronize();
  t = seconds_since(t0);
  {
    auto h_q = dynx::to_host(ctx, x);
    double err = 0;  // ||QᵀQ - I|| for matrix 0
    for (std::int64_t j = 0; count && j < n; ++j)
      for (std::int64_t i = 0; i < n; ++i) {
        double acc = 0;
        for (std::int64_t l = 0; l < n; ++l) acc += double(h_q[i * n + l]) * double(h_q[j * n + l]);
        err = std::max(err, std::abs(acc - (i == j ? 1.0 : 0.0)));
      }
    report("polar_batched", t, err, "max|QtQ-I|");
  }
  return 0;
}

int run_info() {
  std::printf("%s\n", dynx::build_info());
  std::printf("cuda devices: %d\n", dynx::cuda_device_count());
  return 0;
}

}  // namespace

namespace dynx::cli {
namespace {
std::string number_text(double v) {
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char b[32];
  std::snprintf(b, sizeof b, "%g", v);
  return b;
}
}  // namespace

std::int64_t parse_int(const std::string& flag, const std::string& value, std::int64_t lo,
                       std::int64_t hi) {
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(value.c_str(), &end, 10);
  if (value.empty() || *end != '\0' || errno == ERANGE || v < lo || v > hi)
    throw UsageError(flag + " expects an integer in [" + std::to_string(lo) + ", " +
                     std::to_string(hi) + "], got '" + value + "'");
  return v;
}

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  char b[32];
  std::strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return b;
}

double parse_double(const std::string& flag, const std::string& value, double lo, double hi) {
  char* end = nullptr;
  const double v = std::strtod(value.c_str(), &end);
  if (value.empty() || *end != '\0' || !std::isfinite(v) || v < lo || v > hi)
    throw UsageError(flag + " expects a number in [" + number_text(lo) + ", " +
                     number_text(hi) + "], got '" + value + "'");
  return v;
}

}  // namespace dynx::cli

int main(int argc, char** argv) {
  dynx::set_log_level(dynx::LogLevel::warn);
  std::vector<std::string> args(argv + 1, argv + argc);
  // `compare` unless the first argument names another command or a global flag; `compare`,
  // `lyapunov` and `deer` parse their own options (with --help and --log-level handled here).
  const bool lyapunov = !args.empty() && args[0] == "lyapunov";
  const bool deer = !args.empty() && args[0] == "deer";
  const bool other = !lyapunov && !deer && !args.empty() &&
                     (args[0] == "demo" || args[0] == "info" || args[0] == "help" ||
                      args[0] == "-h" || args[0] == "--help" || args[0] == "--version");
  const std::string command = other ? "" : lyapunov ? "lyapunov" : deer ? "deer" : "compare";
  const char* const usage = lyapunov ? dynx::cli::kLyapunovUsage
                            : deer   ? dynx::cli::kDeerUsage
                                     : dynx::cli::kCompareUsage;
  if (!other && !args.empty() && args[0] == command) args.erase(args.begin());
  try {
    if (!other) {
      std::vector<std::string> rest;
      for (std::size_t i = 0; i < args.size(); ++i) {
        if (args[i] == "-h" || args[i] == "--help") {
          std::printf("%s", usage);
          return dynx::cli::kExitOk;
        }
        if (args[i] == "--log-level") {
          if (i + 1 >= args.size()) throw dynx::cli::UsageError("--log-level needs a value");
          dynx::set_log_level(dynx::parse_log_level(args[++i]));
          continue;
        }
        rest.push_back(args[i]);
      }
      return lyapunov ? dynx::cli::run_lyapunov(rest)
             : deer   ? dynx::cli::run_deer(rest)
                      : dynx::cli::run_compare(rest);
    }
    const Options o = parse(args);
    if (o.command == "help") {
      std::printf("%s", kUsage);
      return dynx::cli::kExitOk;
    }
    if (o.command == "info") return run_info();
    if (o.command == "demo") return o.dtype == "f32" ? run_demo<float>(o) : run_demo<double>(o);
    usage_error("unknown command '" + o.command + "'");
  } catch (const dynx::cli::UsageError& e) {
    std::fprintf(stderr, "dynx%s%s: %s\n\n%s", command.empty() ? "" : " ", command.c_str(),
                 e.what(), other ? kUsage : usage);
    return dynx::cli::kExitUsage;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "dynx%s%s: %s\n", command.empty() ? "" : " ", command.c_str(), e.what());
    return dynx::cli::kExitError;
  }
}
