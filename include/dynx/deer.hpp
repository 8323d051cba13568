#pragma once
/// \file deer.hpp
/// Parallel-in-time evaluation of nonlinear recurrences s_t = f(s_{t−1}, u_t) by Newton's method
/// over the whole sequence (DEER and its quasi, block, damped and ELK variants, spec deer.md), the
/// sequential evaluator it must beat, and the automatic choice between them.
///
/// Layout: a batch of B sequences of T steps. States are a MatrixBatch of B matrices D × T (column
/// t − 1 is s_t), packed (ld = D, stride = D·T); inputs B matrices D_in × T likewise (column t − 1
/// is u_t; an empty view when D_in = 0); initial states B matrices D × 1. All on ctx's device.
///
/// Cells: the built-in cells of include/dynx/math/cells.hpp (tanh RNN, mean-field RNN, GRU, LSTM)
/// run on both backends through make_deer_cell, with weights on ctx's device. A user cell (any type
/// with the cell concept of math/cells.hpp) runs through CpuDeerCell<T, Cell>
/// (<dynx/deer_cell.hpp>) on the CPU and CudaDeerCell<T, Cell> (<dynx/cuda/deer_cell.cuh>, compiled
/// by nvcc in the user's code) on CUDA: both implement DeerCell<T>, the interface the solvers call.

#include <dynx/batch.hpp>
#include <dynx/context.hpp>
#include <dynx/device.hpp>
#include <dynx/export.hpp>
#include <dynx/math/cells.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace dynx {

// ------------------------------------------------------------------------------------------------
// What a solver needs from a cell on one device
// ------------------------------------------------------------------------------------------------

/// The matrix A_t of the linearised recurrence (spec §4): `dense` D × D column-major, `diagonal`
/// D entries, `block` D/m blocks of m × m (the diagonal blocks of the Jacobian, column-major),
/// `none` (values only).
enum class JacobianForm { none = 0, dense, diagonal, block };

/// Evaluation of f and its Jacobian along the shifted trajectory of some sequences (one Newton
/// linearisation) over the steps [first, first + steps) of sequences of `total` steps. Slot
/// k = 0 … count − 1 stands for sequence q = seq[k]; for t = first … first + steps − 1, with
/// prev = s0 of q when t = 0 and column t − 1 of the states of q otherwise, and τ = t − first:
///   f            [(k·steps + τ)·D + i]             = f_i(prev, column t of the inputs of q)
///   jac dense    [(k·steps + τ)·D² + j·D + i]      = ∂f_i/∂s_j
///   jac diagonal [(k·steps + τ)·D + i]             = ∂f_i/∂s_i
///   jac block    [((k·nb + b)·steps + τ)·m² + j·m + i] = ∂f_{bm+i}/∂s_{bm+j}   (nb = D/m)
/// Block Jacobians are chain-major (all steps of one block of one slot in a row: the layout of
/// the block scan). `jac` is unused for form none. Memory: s0 is B × D, states B × total × D,
/// u B × total × D_in (null when D_in = 0), packed, B any number above every seq[k]; every pointer
/// (and `seq`, count int64 values) on the cell's device.
template <class T>
struct DeerLinearizeArgs {
  const T* s0 = nullptr;
  const T* states = nullptr;
  const T* u = nullptr;
  std::int64_t total = 0;
  std::int64_t first = 0;
  std::int64_t steps = 0;
  const std::int64_t* seq = nullptr;
  std::int64_t count = 0;
  T* f = nullptr;
  JacobianForm form = JacobianForm::none;
  int block = 0;  ///< m for JacobianForm::block (a divisor of D)
  T* jac = nullptr;
};

/// Sequential evaluation of some sequences from a start step: for slot k (sequence q = seq[k]),
/// columns start[k] … end − 1 (end ≤ total) of the states of q are computed one after the other
/// from column start[k] − 1 (from s0 of q when start[k] = 0); the other columns are left as they
/// are. Layout as in DeerLinearizeArgs; `seq` and `start` hold count int64 values on the cell's
/// device.
template <class T>
struct DeerSequentialArgs {
  const T* s0 = nullptr;
  const T* u = nullptr;
  T* states = nullptr;
  std::int64_t total = 0;
  std::int64_t end = 0;
  const std::int64_t* seq = nullptr;
  const std::int64_t* start = nullptr;
  std::int64_t count = 0;
};

/// A cell bound to a device: the two batched operations every DEER solver is built from. Calls are
/// ordered on ctx's stream; implementations must not synchronise the host with the device.
template <class T>
class DeerCell {
 public:
  virtual ~DeerCell() = default;
  virtual int state_dim() const noexcept = 0;
  virtual int input_dim() const noexcept = 0;
  /// The device whose memory the cell's weights (and every pointer of the arguments) live in.
  virtual Device device() const noexcept = 0;
  /// f and A_t at every step of the given sequences (DeerLinearizeArgs).
  virtual void linearize(Context& ctx, const DeerLinearizeArgs<T>& args) const = 0;
  /// The sequential evaluator (DeerSequentialArgs): the baseline and the fallback.
  virtual void sequential(Context& ctx, const DeerSequentialArgs<T>& args) const = 0;
  /// A short name for reports ("gru", "tanh_rnn", or a user cell's choice).
  virtual const char* name() const noexcept { return "cell"; }
};

/// The built-in cells on ctx's device (their weight pointers must point to memory there). The
/// weights are checked once here: shapes, null pointers, NaN/Inf (InvalidArgument naming the
/// weight). The cell keeps the pointers, not copies: the weights must outlive it.
template <class T>
DYNX_API std::unique_ptr<DeerCell<T>> make_deer_cell(Context& ctx, const math::TanhRnnCell<T>& cell);
template <class T>
DYNX_API std::unique_ptr<DeerCell<T>> make_deer_cell(Context& ctx,
                                                     const math::MeanFieldRnnCell<T>& cell);
template <class T>
DYNX_API std::unique_ptr<DeerCell<T>> make_deer_cell(Context& ctx, const math::GruCell<T>& cell);
template <class T>
DYNX_API std::unique_ptr<DeerCell<T>> make_deer_cell(Context& ctx, const math::LstmCell<T>& cell);

// ------------------------------------------------------------------------------------------------
// Solvers
// ------------------------------------------------------------------------------------------------

enum class DeerMethod {
  /// Estimate the largest Lyapunov exponent on a sequential prefix and pick sequential, DEER,
  /// quasi-DEER or quasi-ELK (spec §8.5), then abandon the parallel solve for the sequential one as
  /// soon as its measured cost can no longer beat it (spec §3.6). The choice and the reason are
  /// reported.
  automatic = 0,
  sequential,  ///< one step after the other (the fused sequential evaluator)
  deer,        ///< Newton with dense Jacobians (spec §4.1)
  quasi_deer,  ///< diagonal Jacobians (spec §4.2)
  block_deer,  ///< m × m diagonal blocks of the Jacobian (spec §4.3); DeerOptions::block
  elk,         ///< Levenberg–Marquardt with dense Jacobians, the Kalman-filter step (spec §4.4)
  quasi_elk,   ///< the same with diagonal Jacobians (spec §4.5)
};
DYNX_API const char* to_string(DeerMethod m) noexcept;

struct DeerOptions {
  DeerMethod method = DeerMethod::automatic;
  /// block_deer: the block size m (a divisor of D; m = D is DEER, m = 1 quasi-DEER).
  int block = 2;
  /// Newton iterations at most (each one a linearisation and a scan). 0: 100, or for automatic the
  /// measured budget alone.
  std::int64_t max_iter = 0;
  /// A sequence converges when, for every step t and unit i, both the residual
  /// |s_t,i − f_i(s_{t−1}, u_t)| and the Newton step |Δ_t,i| computed from the same iterate are at
  /// most atol + rtol·|s_t,i|. The step test is what a small residual alone cannot prove for
  /// unpredictable systems (spec §9.4, §10.4 E): there the step (≈ the error) stays large. 0 picks
  /// 1e-10 for double, 1e-6 for float (both tolerances).
  double atol = 0;
  double rtol = 0;
  /// Jacobian shrinkage k ∈ [0, 1): A_t = (1 − k) J_t (spec §4.6; deer, quasi_deer, block_deer).
  double shrink = 0;
  /// quasi_deer / quasi_elk: diagonal Jacobian entries clipped to [−c, c] (spec §3.5); 0 = off.
  double clip_jacobian = 0;
  /// Sanitising after every update (spec §3.5): states clipped to [−c, c], NaN replaced by 0.
  double clip_state = 1e8;
  /// Relaxation ω of S ← S + ω Δ (ω ≠ 1 breaks the prefix property, spec §4.6).
  double relaxation = 1.0;
  /// elk / quasi_elk: the observation variance σ² = 1/λ of the damped step. 0 picks the values of
  /// the published experiments: 1e6 for elk, 1e2 for quasi_elk.
  double elk_sigma2 = 0;
  /// Finish sequentially from the converged prefix (spec §3.4, §3.6) when the budget is spent, the
  /// iterates stay non-finite for `stall` iterations, or the solve stalls: the residual has not
  /// reached a new low (by 1 %) for `stall` iterations while the converged prefix grows too slowly
  /// to cover the sequence within the budget. Off: only the budget ends the iterations, and such
  /// sequences end with status not_converged and the last iterate.
  bool fallback = true;
  int stall = 8;
  /// Initial guess of the explicit parallel methods: all states zero (false), or the states passed
  /// in (true, a warm start such as the previous training step's trajectory). automatic starts
  /// from its sequential prefix and zeros after it.
  bool warm_start = false;
  /// automatic: steps of the sequential prefix that measures the sequential cost and on which the
  /// largest Lyapunov exponent is estimated (0: min(T, 1024), fewer for very wide cells), and the
  /// exponent (per step) below which the recurrence counts as predictable.
  std::int64_t probe_steps = 0;
  double lle_threshold = -0.02;
  /// automatic: also weigh the measured costs (the probe's sequential time against a Newton
  /// iteration's, and a time budget for the parallel solve). Off: the choice rests on the
  /// Lyapunov exponent alone and the parallel solve is bounded by max_iter only.
  bool measure_cost = true;
};

enum class DeerStatus {
  converged = 0,   ///< the parallel iterations met both tolerances
  fell_back,       ///< finished sequentially from the converged prefix (see DeerResult::reason)
  sequential,      ///< evaluated sequentially from the start (method sequential, or chosen)
  not_converged,   ///< fallback off and the budget spent: the last iterate is returned
};
DYNX_API const char* to_string(DeerStatus s) noexcept;

struct DeerResult {
  DeerMethod method = DeerMethod::sequential;  ///< what ran (the choice, for automatic)
  std::string reason;                          ///< why (automatic, and every fallback)
  double lle = 0;            ///< automatic: the estimate (per step) on the prefix; NaN otherwise
  std::int64_t probe_steps = 0;  ///< automatic: the sequential prefix length
  double seconds_per_step_sequential = 0;  ///< automatic: measured on the prefix (all sequences)
  double seconds_per_iteration = 0;        ///< mean wall time of one parallel iteration
  // Per sequence:
  std::vector<DeerStatus> status;
  std::vector<std::int64_t> iterations;        ///< Newton updates made
  /// max_t,i |s_t,i − f_i(s_{t−1}, u_t)| of the returned trajectory, evaluated once more after the
  /// solve (0 for status sequential: such trajectories satisfy the recurrence by construction)
  std::vector<double> residual;
  /// max_t,i |Δ_t,i| / (atol + rtol |s_t,i|) of the last Newton step (≤ 1 when converged; NaN
  /// when no step was computed)
  std::vector<double> step;
  /// Steps 1 … converged_prefix had met the tolerance when the parallel iterations stopped
  std::vector<std::int64_t> converged_prefix;

  bool all_converged() const noexcept {
    for (DeerStatus s : status)
      if (s == DeerStatus::not_converged) return false;
    return true;
  }
};

/// Evaluates s_t = f(s_{t−1}, u_t), t = 1 … T, for B sequences. `states` (D × T, B) receives the
/// trajectories (and holds the initial guess when options.warm_start). Bad shapes, devices or
/// options, and NaN/Inf in s0, u or a warm start, throw InvalidArgument naming the argument.
template <class T>
DYNX_API DeerResult deer_evaluate(Context& ctx, const DeerCell<T>& cell, MatrixBatch<const T> s0,
                                  MatrixBatch<const T> u, MatrixBatch<T> states,
                                  const DeerOptions& options = {});

/// The sequential evaluator alone (the same as method sequential, without the bookkeeping).
template <class T>
DYNX_API void deer_sequential(Context& ctx, const DeerCell<T>& cell, MatrixBatch<const T> s0,
                              MatrixBatch<const T> u, MatrixBatch<T> states);

/// Largest Lyapunov exponent per step along given trajectories (spec §8.1): QR (power) iteration
/// over the cell's Jacobians at states (D × T, B), the mean over the B sequences. The dense
/// Jacobians are held at once, so only the last max(16, 2^20 / D²) steps are used. The automatic
/// choice uses the same estimate on its sequential prefix; NaN when a Jacobian is not finite.
template <class T>
DYNX_API double deer_largest_lyapunov(Context& ctx, const DeerCell<T>& cell,
                                      MatrixBatch<const T> s0, MatrixBatch<const T> u,
                                      MatrixBatch<const T> states);

}  // namespace dynx
