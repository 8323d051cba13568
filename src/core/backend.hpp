#pragma once
// The backend interface: src/core checks arguments once, then makes one virtual call per batched
// operation into the backend that the context's device selects.

#include <dynx/batch.hpp>
#include <dynx/context.hpp>
#include <dynx/goom.hpp>
#include <dynx/linalg.hpp>
#include <dynx/types.hpp>

#include <complex>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace dynx::detail {

/// Untyped matrix batch view (the typed MatrixBatch with its element type as a value).
struct MatRef {
  void* data = nullptr;
  std::int64_t rows = 0, cols = 0, ld = 0, stride = 0, count = 0;
  Dtype dtype = Dtype::f64;
  bool empty() const noexcept { return data == nullptr; }
  template <class T>
  MatrixBatch<T> as(Device d) const noexcept {
    return MatrixBatch<T>(static_cast<T*>(data), rows, cols, ld, stride, count, d);
  }
};

struct VecRef {
  void* data = nullptr;
  std::int64_t size = 0, stride = 0, count = 0, inc = 1;
  Dtype dtype = Dtype::f64;
  bool empty() const noexcept { return data == nullptr; }
  template <class T>
  VectorBatch<T> as(Device d) const noexcept {
    return VectorBatch<T>(static_cast<T*>(data), size, stride, count, inc, d);
  }
};

template <class T>
MatRef ref(MatrixBatch<T> m) {
  return {const_cast<std::remove_const_t<T>*>(m.data), m.rows, m.cols, m.ld, m.stride, m.count,
          dtype_v<T>};
}
template <class T>
VecRef ref(VectorBatch<T> v) {
  return {const_cast<std::remove_const_t<T>*>(v.data), v.size, v.stride, v.count, v.inc,
          dtype_v<T>};
}

// Every Args struct: `dtype` is the real scalar type (f32 or f64), `count` the batch size, and
// `info` the per-matrix MatrixStatus codes (count entries on the context's device), always set.
struct GemmArgs {
  Dtype dtype;
  Op transa, transb;
  std::int64_t m, n, k, count;
  double alpha, beta;
  MatRef a, b, c;
};
struct SvdArgs {
  Dtype dtype;
  std::int64_t m, n, count;
  MatRef a;
  VecRef s;
  MatRef u, vt;  // both empty for values only
  SvdAlgorithm algorithm;  // resolved: never automatic
  std::int32_t* info;
};
struct QrArgs {
  Dtype dtype;
  std::int64_t m, n, count;
  MatRef a, q, r;  // q may be empty
  std::int32_t* info;
};
struct EighArgs {
  Dtype dtype;
  std::int64_t n, count;
  MatRef a;
  VecRef w;
  MatRef v;  // may be empty
  Uplo uplo;
  std::int32_t* info;
};
struct EigArgs {
  Dtype dtype;
  std::int64_t n, count;
  MatRef a;
  VecRef w;  // complex
  MatRef v;  // complex, may be empty
  std::int32_t* info;
};
struct SolveArgs {
  Dtype dtype;
  std::int64_t n, nrhs, count;
  MatRef a, b, x;  // x may equal b
  std::int32_t* info;
};
struct InverseArgs {
  Dtype dtype;
  std::int64_t n, count;
  MatRef a, ainv;
  std::int32_t* info;
};
struct PolarArgs {
  Dtype dtype;
  std::int64_t m, n, count;
  MatRef a, q;
  SvdAlgorithm svd_algorithm;  // resolved
  std::int32_t* info;
};

// Element-wise and gather operations that the DSA pipeline composes with the batched linear
// algebra above. Scalar arrays (`alpha`, `beta`, `out`) hold `count` values of `dtype` on the
// context's device.

/// Delay-embedding rows gathered from a time series: out_k(i, b·N + f) =
/// data[(starts[k·rows + i] + (n_delays − 1 − b)·delay_interval)·N + f] (most recent lag first), or
/// a zero row where starts[...] < 0. `data` is column-major N × samples; `starts` holds count·rows
/// sample indices on the device; out is rows × N·n_delays.
struct HankelArgs {
  Dtype dtype;
  const void* data;
  std::int64_t n_features, n_delays, delay_interval;
  const std::int64_t* starts;
  std::int64_t rows, count;
  MatRef out;
};
/// out[k] = Σ_ij a_k(i, j) · b_k(i, j) (Frobenius inner product, accumulated in double).
struct DotArgs {
  Dtype dtype;
  std::int64_t m, n, count;
  MatRef a, b;
  void* out;
};
/// c_k = alpha[k] · op(a_k) + beta[k] · c_k with op = transpose when `transpose_a` (a_k is then
/// n × m, and must not overlap c); a_k is not read where alpha[k] == 0, c_k not where
/// beta[k] == 0 (so NaN there does not propagate). a may have stride 0.
struct AxpbyArgs {
  Dtype dtype;
  std::int64_t m, n, count;
  const void* alpha;
  const void* beta;
  bool transpose_a;
  MatRef a, c;
};
/// One Adam step (Kingma & Ba, bias-corrected, step ≥ 1) on every entry of param with gradient
/// grad and moment estimates moment1, moment2 (all m × n).
struct AdamArgs {
  Dtype dtype;
  std::int64_t m, n, count;
  MatRef param, grad, moment1, moment2;
  double lr, beta1, beta2, eps;
  std::int64_t step;
};

/// L-BFGS two-loop recursion (Nocedal & Wright, Alg. 7.4) per item: out_k = H_k grad_k, where
/// H_k is the inverse-Hessian approximation from the pairs (s, y) of item k in slots
/// (newest − i) mod memory, i = 0 … memory−1 (newest first). Slot j of item k is matrix
/// j·count + k of `s` and `y` (slot-major, each m × n packed); rho[j·count + k] = 1/⟨s, y⟩, or 0
/// for an empty or skipped slot; gamma[k] scales the initial H₀ = γ I. memory ≤ 64.
struct LbfgsArgs {
  Dtype dtype;
  std::int64_t m, n, count, memory, newest;
  MatRef grad, out, s, y;
  const void* rho;
  const void* gamma;
};

// GOOM operations (include/dynx/goom.hpp). A GOOM matrix is a pair of views of the same shape:
// `logmag` of `dtype` and `neg` of u8 (1 = negative). Checked by src/core/goom.cpp.

/// to_real: real_k = ±exp(logmag + shift); otherwise (logmag, neg) = GOOM(real_k).
struct GoomConvertArgs {
  Dtype dtype;
  std::int64_t m, n, count;
  MatRef real, logmag, neg;
  double shift;
  bool to_real;
};
/// c = GOOM(exp(a) · exp(b)), a m × k, b k × n (a or b may have stride 0), two-sided scaling.
/// info[k] = non_finite (outputs NaN) where an input holds NaN or +∞ logmag.
struct LmmeArgs {
  Dtype dtype;
  std::int64_t m, n, k, count;
  MatRef a, a_neg, b, b_neg, c, c_neg;
  InnerPrecision precision;
  std::int32_t* info;
};
/// Prefix products of `chains` chains of `steps` d × d factors (input matrix c·steps + t): real
/// factors when in_neg is empty, GOOM factors otherwise. Output GOOM: chains·steps matrices
/// (inclusive) or chains (reduce). `chunk` (≥ 1, resolved by core: a backend may use a larger
/// one, never a smaller one when that would change results beyond rounding) is the number of
/// factors per chunk. info[c] per chain.
struct ProductScanArgs {
  Dtype dtype;
  std::int64_t d, steps, chains;
  MatRef in, in_neg, out, out_neg;
  ScanKind kind;
  ScanFormat format;
  InnerPrecision precision;
  ProductOrder order;
  std::int64_t chunk;  // 0: the backend chooses
  std::int32_t* info;
};
/// x_t = A_t x_{t−1} + b_t per chain: a holds chains·steps d × d matrices, or d × 1 diagonals
/// when `diagonal`; b and x chains·steps d × n; x0 chains d × n. info[c] per chain.
struct AffineScanArgs {
  Dtype dtype;
  std::int64_t d, n, steps, chains;
  bool diagonal;
  MatRef a, b, x0, x;
  std::int64_t chunk;  // 0: the backend chooses
  std::int32_t* info;
};

/// Benettin sweeps (discrete QR, spec §5.2) over segments of one Jacobian sequence, for Lyapunov
/// spectra. Segment s starts at Jacobian `first[s]` from Q = q0_s (d × k, orthonormal columns) or,
/// when q0 is empty, from the first k columns of the identity; for each of its warmup[s] +
/// length[s] Jacobians J: (Q, R) = qr(J Q) with R's diagonal made non-negative; ln R_ii of the
/// last length[s] steps are summed into log_r[s·k + i] (double, overwritten). The final Q goes to
/// q_out (d × k per segment) when not empty. `segment` holds 3·segments int64 on the device:
/// first, warmup, length per segment. info[s] = non_finite where a Jacobian held NaN/Inf or Q
/// lost rank (a zero R_ii); that segment's log_r is NaN.
struct QrSweepArgs {
  Dtype dtype;
  std::int64_t d, k, segments;
  MatRef jac;
  const std::int64_t* segment;
  MatRef q0, q_out;
  double* log_r;
  std::int32_t* info;
};
/// The reference's parallel spectrum with selective resetting (spec §5.4), one chain of `steps`
/// Jacobians J_0 … J_{steps−1} (v_{t+1} = J_t v_t): the scheme is spelled out in
/// src/cpu/lyapunov.cpp, which both backends follow. Output: log_r[t·d + i] = ln|R_t,ii| of the
/// readout at every step t (double) and the number of resets.
struct SelectiveResetArgs {
  Dtype dtype;
  std::int64_t d, steps;
  MatRef jac;  // steps d × d
  MatRef s0;   // one d × d: rows are the initial deviation vectors
  double max_cos_sim;
  std::int64_t n_above_max;
  double* log_r;          // steps · d
  std::int64_t* resets;   // one count
  std::int32_t* info;     // one code
};

// DEER (include/dynx/deer.hpp, spec deer.md §3): the cell-independent steps of one Newton
// iteration over the window [first, first + steps) of `count` slots, slot k standing for sequence
// seq[k] (count int64 on the device) of a packed B × total × d state array. Per-(slot, step)
// vectors of the window ("window vectors": f, rhs, delta) are laid out [k][τ][d] (τ = t − first),
// except that with 0 < block < d they are chain-major blocks [(k·nb + b)][τ][block] (nb = d/block),
// the layout of the block scan. Both backends follow src/cpu/deer.cpp.
/// Residual r = s − f: rhs = −r (window vector); per slot, rmax[k] = max |r| (NaN when any r is
/// NaN) and prefix[k] = the first τ with some |r_τ,i| > atol + rtol·|s_τ,i| (steps when none; a NaN
/// r counts as above). f is always [k][τ][d].
struct DeerResidualArgs {
  Dtype dtype;
  std::int64_t d, total, first, steps, count, block;
  const void* states;
  const std::int64_t* seq;
  const void* f;
  void* rhs;
  double atol, rtol;
  double* rmax;
  std::int64_t* prefix;
};
/// The Newton update s ← s + ω·Δ (Δ a window vector), then sanitising: NaN → 0 and a clamp to
/// [−clip, clip]. Per slot, smax[k] = max over the window of |Δ_τ,i| / (atol + rtol·|s_τ,i|) with s
/// the state before the update (NaN when Δ holds NaN). Slots whose scan failed (reset[k] ≠ 0,
/// the scan's status code) instead keep the columns τ < prefix[k], set column prefix[k] (when
/// inside the window) to f (exact there, spec §3.4) and the later columns to 0 (the NaN → 0 rule),
/// and report smax[k] = +∞.
struct DeerUpdateArgs {
  Dtype dtype;
  std::int64_t d, total, first, steps, count, block;
  void* states;
  const std::int64_t* seq;
  const void* delta;
  const void* f;
  const std::int32_t* reset;
  const std::int64_t* prefix;
  double omega, clip, atol, rtol;
  double* smax;
};
/// a ← clamp(scale·a, −clip, clip) over n contiguous entries (no clamp when clip is 0); NaN → 0.
struct DeerScaleArgs {
  Dtype dtype;
  std::int64_t n;
  void* a;
  double scale, clip;
};
/// The ELK step (spec §4.4–4.5) in delta form, one Kalman filter per chain: x_0 = 0 known,
/// x_t = F_t x_{t−1} + c_t + w_t with w_t ~ N(0, I), observations y_t = 0 with variance sigma2;
/// x receives the filtered means (the step Δ). F: chains·steps d × d matrices (column-major) or,
/// when `diagonal`, d entries per step; c and x: chains·steps vectors of d. info[c] = non_finite
/// where the chain's inputs or results are not finite.
struct ElkScanArgs {
  Dtype dtype;
  std::int64_t d, steps, chains;
  bool diagonal;
  const void* F;
  const void* c;
  void* x;
  double sigma2;
  std::int32_t* info;
};

/// Per-context state a backend keeps (CUDA: stream and handles).
class BackendState {
 public:
  virtual ~BackendState() = default;
  virtual void synchronize() = 0;
  virtual void* native_stream() noexcept { return nullptr; }
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual const char* name() const noexcept = 0;

  // Devices, memory and streams.
  virtual int device_count() noexcept = 0;
  virtual std::unique_ptr<BackendState> make_state(Device device) = 0;
  virtual void* allocate(Device device, std::size_t bytes) = 0;
  virtual void deallocate(Device device, void* ptr) noexcept = 0;
  /// Copy where dst or src is on this backend's devices (the other may be the host).
  virtual void copy(Context& ctx, void* dst, const void* src, std::size_t bytes) = 0;
  virtual void zero(Context& ctx, void* dst, std::size_t bytes) = 0;

  // Batched operations: arguments already checked by src/core.
  virtual void gemm_batched(Context&, const GemmArgs&) = 0;
  virtual void svd_batched(Context&, const SvdArgs&) = 0;
  virtual void qr_batched(Context&, const QrArgs&) = 0;
  virtual void eigh_batched(Context&, const EighArgs&) = 0;
  virtual void eig_batched(Context&, const EigArgs&) = 0;
  virtual void solve_batched(Context&, const SolveArgs&) = 0;
  virtual void inverse_batched(Context&, const InverseArgs&) = 0;
  virtual void polar_batched(Context&, const PolarArgs&) = 0;

  // Element-wise and gather operations (internal: used by the DSA pipeline, not public API).
  virtual void hankel_rows(Context&, const HankelArgs&) = 0;
  virtual void dot_batched(Context&, const DotArgs&) = 0;
  virtual void axpby_batched(Context&, const AxpbyArgs&) = 0;
  virtual void adam_batched(Context&, const AdamArgs&) = 0;
  virtual void lbfgs_direction(Context&, const LbfgsArgs&) = 0;

  // GOOMs, scans over matrix products and Lyapunov spectra (include/dynx/goom.hpp).
  virtual void goom_convert(Context&, const GoomConvertArgs&) = 0;
  virtual void log_matmul_exp(Context&, const LmmeArgs&) = 0;
  virtual void product_scan(Context&, const ProductScanArgs&) = 0;
  virtual void affine_scan(Context&, const AffineScanArgs&) = 0;
  virtual void qr_sweep(Context&, const QrSweepArgs&) = 0;
  virtual void selective_reset(Context&, const SelectiveResetArgs&) = 0;
  // DEER (include/dynx/deer.hpp).
  virtual void deer_residual(Context&, const DeerResidualArgs&) = 0;
  virtual void deer_update(Context&, const DeerUpdateArgs&) = 0;
  virtual void deer_scale(Context&, const DeerScaleArgs&) = 0;
  virtual void elk_scan(Context&, const ElkScanArgs&) = 0;
};

/// The backend for a device kind. Throws Unsupported for CUDA in a build without it.
Backend& backend_for(DeviceKind kind);
inline Backend& backend_for(const Context& ctx) { return backend_for(ctx.device().kind()); }

/// Context internals, shared by core and backends.
struct ContextImpl {
  Device device;
  Backend* backend = nullptr;
  std::unique_ptr<BackendState> state;
  int num_threads = 1;
  void* workspace = nullptr;
  std::size_t workspace_bytes = 0;
};

}  // namespace dynx::detail
