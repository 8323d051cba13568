#pragma once
/// \file lyapunov.hpp
/// Lyapunov spectra of Jacobian sequences and of built-in dynamical systems (spec goom.md §5).
///
/// Convention: deviation vectors evolve by v_{t+1} = J_t v_t (J_t the Jacobian of the discrete
/// map, or of one integration step of a flow); exponents are per unit time, i.e. the mean of
/// ln R_ii over counted steps divided by `dt`. Views follow the contract of linalg.hpp.

#include <dynx/batch.hpp>
#include <dynx/context.hpp>
#include <dynx/export.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace dynx {

enum class LyapunovMethod {
  /// Benettin's discrete QR, one step after the other: the baseline and the oracle.
  sequential_qr = 0,
  /// Overlapped chunks (spec §5.5, the default for parallel devices): the counted steps are split
  /// into chunks, each started `warmup` steps early from Q = I and run by sequential QR, all
  /// chunks in parallel; the warm-up steps are not counted. Error ~ exp(−gap · warmup · dt).
  overlapped_chunks,
  /// The published parallel method: a prefix scan over stacked [A; B] aggregates with selective
  /// resetting of nearly colinear deviation vectors, then a parallel QR readout (spec §5.4).
  /// As in the reference, the test uses the signed cosine (anti-parallel vectors do not trigger
  /// a reset) and a direction lost to colinearity is completed by an arbitrary orthogonal one in
  /// the readout; the aggregates are kept in scaled float64 rather than complex128 GOOMs. An
  /// approximation whose resets depend on the scan tree: compare with sequential_qr.
  selective_reset,
  /// The largest exponent only, from one reduce (the full product) in scaled float (spec §5.3).
  largest_reduce,
};
DYNX_API const char* to_string(LyapunovMethod m) noexcept;

struct LyapunovOptions {
  LyapunovMethod method = LyapunovMethod::sequential_qr;
  /// Exponents wanted (the k largest); 0 = all d. selective_reset computes all d.
  std::int64_t k = 0;
  /// Time per Jacobian step (1 for maps).
  double dt = 1.0;
  /// Leading Jacobians used only to align Q (not counted), for every method.
  std::int64_t burn_in = 0;
  /// overlapped_chunks: counted steps per chunk (0 = about 8 chunks per thread on the CPU, or
  /// 8192 chunks on a GPU, but at least 4·warmup) and warm-up steps per chunk (0 = from a
  /// sequential pilot on the host over the first ≤ 4000 counted steps: 9 / (smallest gap
  /// between the wanted exponents, per step), i.e. an error factor e^-9, clamped to
  /// [64, counted/4]).
  std::int64_t chunk = 0;
  std::int64_t warmup = 0;
  /// selective_reset: cosine above which two deviation vectors count as colinear, and how many
  /// such pairs trigger a reset (the reference's max_cos_sim and n_above_max).
  double max_cos_sim = 0.99999;
  std::int64_t n_above_max = 1;
  /// largest_reduce and selective_reset: seed of the random initial direction / state.
  std::uint64_t seed = 0;
  /// Record running estimates (0 = none; see LyapunovResult::running): sequential_qr and
  /// selective_reset every this many counted steps, overlapped_chunks at every chunk boundary.
  /// largest_reduce has none.
  std::int64_t record_every = 0;
  /// Called with (steps done, steps in all) as a long run goes on (streamed system runs: after
  /// every block of Jacobians; otherwise once per stage). May be empty.
  std::function<void(std::int64_t, std::int64_t)> progress;
  /// Compute mean ln|det J_t| independently (one QR per counted Jacobian, parallel over steps) and
  /// report the sum-rule residual when k = d. Off: residual and mean_log_det are NaN.
  bool sum_rule = true;
};

enum class LyapunovStatus {
  ok = 0,
  non_finite,  ///< a Jacobian held NaN/Inf, or the deviation vectors lost rank
};
DYNX_API const char* to_string(LyapunovStatus s) noexcept;

struct LyapunovResult {
  std::vector<double> exponents;  ///< k values, descending for the QR methods
  /// Σ exponents − mean ln|det J_t| / dt over the counted steps (for k = d: zero up to rounding
  /// and, for approximate methods, their error; NaN when k < d).
  double sum_rule_residual = 0;
  double mean_log_det = 0;       ///< mean ln|det J_t| / dt over the counted steps
  std::int64_t steps = 0;        ///< counted steps
  std::int64_t resets = 0;       ///< selective_reset: resets performed
  std::int64_t chunks = 0;       ///< overlapped_chunks: chunks run
  std::int64_t warmup = 0;       ///< overlapped_chunks: warm-up steps per chunk
  LyapunovMethod method = LyapunovMethod::sequential_qr;
  LyapunovStatus status = LyapunovStatus::ok;
  /// record_every > 0: (counted steps so far, estimates so far) pairs, k estimates each.
  std::vector<std::int64_t> running_steps;
  std::vector<double> running;
};

/// The Lyapunov spectrum of one sequence of `jac.count` d × d Jacobians (on ctx's device).
/// Exponents come in the order of the QR columns (descending once converged); largest_reduce
/// returns one value and selective_reset all d. Bad options (k > d, dt ≤ 0 or non-finite,
/// negative counts, burn_in ≥ jac.count) throw InvalidArgument naming the option; NaN/Inf in the
/// Jacobians, or deviation vectors that lose rank, give status non_finite and NaN exponents.
template <class T>
DYNX_API LyapunovResult lyapunov_spectrum(Context& ctx, MatrixBatch<const T> jac,
                                          const LyapunovOptions& options = {});

/// Built-in systems (include/dynx/math/dynamical_systems.hpp).
struct SystemSpec {
  /// "lorenz63", "rossler", "lorenz96", "henon", "tanh-rnn".
  std::string name = "lorenz63";
  /// Parameters by name (system defaults otherwise): lorenz63 sigma, rho, beta; rossler a, b, c;
  /// lorenz96 F; henon a, b; tanh-rnn gain (W has N(0, gain²/n) entries, seeded).
  std::vector<std::pair<std::string, double>> params;
  std::int64_t n = 0;  ///< lorenz96 and tanh-rnn: the dimension (0 = 40 and 64)
  std::uint64_t seed = 0;  ///< tanh-rnn weights, and the initial condition's perturbation
};

enum class TangentKind {
  rk4_exact = 0,  ///< the derivative of the RK4 step map (integrated variational equations)
  euler,          ///< I + dt·Df(x): the reference's choice, biased by O(dt) (spec §5.1)
};

struct SystemRunOptions {
  double dt = 0.01;               ///< integration step of a flow (ignored for maps: 1)
  std::int64_t steps = 100000;    ///< counted steps (after the transient and burn-in)
  std::int64_t transient = 10000; ///< steps of the trajectory discarded before anything is used
  TangentKind tangent = TangentKind::rk4_exact;
};

/// Dimension of a built-in system (InvalidArgument for an unknown name or parameter).
DYNX_API std::int64_t system_dimension(const SystemSpec& system);

/// Integrates a built-in system on the host in float64 and writes `steps` step Jacobians (after
/// `transient` discarded steps) into `jac` (host memory, count = steps).
DYNX_API void system_jacobians(const SystemSpec& system, const SystemRunOptions& run,
                               MatrixBatch<double> jac);

/// Spectrum of a built-in system: options.burn_in + run.steps Jacobians generated on the host
/// (in blocks, so memory stays bounded for sequential_qr) and processed on ctx's device. `dt` of
/// `options` is replaced by run.dt for flows and 1 for maps.
DYNX_API LyapunovResult lyapunov_spectrum_of_system(Context& ctx, const SystemSpec& system,
                                                    const SystemRunOptions& run,
                                                    const LyapunovOptions& options = {});

}  // namespace dynx
