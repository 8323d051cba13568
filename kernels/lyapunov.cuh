#pragma once
// Device code of the Lyapunov-spectrum operations (src/cuda/lyapunov.cu, spec goom.md §5):
//
//  * qr_sweep_kernel: Benettin's discrete QR (§5.2) over independent segments of one Jacobian
//    sequence, one thread block per segment. Per step the block loads J once (coalesced, column
//    by column), forms W = J Q and orthonormalises W by modified Gram–Schmidt. Warp w owns the
//    columns j ≡ w (mod warps) and lane l the rows l, l + 32, …, so the product and the MGS
//    updates of a column stay inside one warp and one block barrier per column suffices.
//  * The selective-resetting scan (§5.4, the reference's estimate_spectrum_in_parallel) over
//    elements [A; B] stored in the scaled float64 format (§3.5): reset_init_kernel builds the
//    elements, then per Sklansky level reset_test_kernel tests (and resets, in place) every left
//    operand and reset_combine_kernel combines every right operand with its left;
//    reset_readout_kernel reads the states out and takes two Gram–Schmidt QRs per step, and
//    reset_finish_kernel applies the CPU backend's failure rule. These follow src/cpu/lyapunov.cpp
//    operation by operation (see block_gram_schmidt and mul_rn), so the resets agree.
//
// Kernels whose per-block matrices fit in shared memory keep them there (kShared = true);
// otherwise the same code runs on a per-block slice of global scratch from the workspace.

#include "kernels/common.cuh"

#include <dynx/math/goom.hpp>

#include <cfloat>
#include <cstddef>
#include <cstdint>

namespace dynx::cuda::kernels {

/// MatrixStatus::non_finite.
inline constexpr std::int32_t kLyapunovNonFinite = 3;
/// Most threads of the sweep and readout blocks (8 warps).
inline constexpr int kSweepMaxThreads = 256;
/// Entries of the next Jacobian each sweep thread prefetches into registers.
inline constexpr int kSweepPrefetch = 4;
/// Most threads of the reset-test and combine blocks.
inline constexpr int kResetMaxThreads = 256;

/// Byte sizes of the pieces a kernel carves from its scratch; each piece starts 16-byte aligned.
__host__ __device__ inline std::size_t lyap_align(std::size_t bytes) {
  return (bytes + 15) / 16 * 16;
}

/// Sweep (and readout) blocks: the small part (per-column log sums and R diagonal) always lives in
/// shared memory; the big part (J d × d, Q and W d × k) in shared memory or global scratch.
__host__ __device__ inline std::size_t sweep_small_bytes(std::int64_t k, std::size_t elem) {
  return lyap_align(sizeof(double) * std::size_t(k)) + lyap_align(elem * std::size_t(k));
}
__host__ __device__ inline std::size_t sweep_big_bytes(std::int64_t d, std::int64_t k,
                                                       std::size_t elem) {
  return lyap_align(elem * std::size_t(d * d)) + 2 * lyap_align(elem * std::size_t(d * k));
}
/// Dynamic shared memory of every kernel in this file.
extern __shared__ __align__(16) unsigned char lyapunov_smem[];

/// Hands out consecutive 16-byte-aligned pieces of a scratch block.
struct Carve {
  unsigned char* at;
  template <class U>
  __device__ U* take(std::size_t n) {
    U* p = reinterpret_cast<U*>(at);
    at += lyap_align(sizeof(U) * n);
    return p;
  }
};

/// The big part of this block's scratch: dynamic shared memory after `small_bytes`, or the block's
/// slice of global scratch.
template <bool kShared>
__device__ inline unsigned char* block_scratch(std::size_t small_bytes, unsigned char* d_scratch,
                                               std::size_t per_block) {
  if constexpr (kShared) {
    (void)d_scratch;
    (void)per_block;
    return lyapunov_smem + small_bytes;
  } else {
    (void)small_bytes;
    return d_scratch + std::size_t(blockIdx.x) * per_block;
  }
}

/// Lanes summed together by group_sum for columns of `d` rows: the smallest power of two ≥ d, at
/// most a warp (lane l holds rows l, l + 32, …, so only lanes < min(d, 32) hold data).
__device__ inline int group_width(int d) {
  int w = 1;
  while (w < d && w < 32) w <<= 1;
  return w;
}

/// Butterfly sum over aligned groups of `width` lanes; every lane of a group receives the same,
/// bitwise identical sum (each level adds the same two values in either order). Call from all 32
/// lanes.
template <class T>
__device__ inline T group_sum(T v, int width) {
  for (int off = width >> 1; off > 0; off >>= 1) v += __shfl_xor_sync(0xffffffffu, v, off);
  return v;
}

/// A power-of-two shift for ldexp: int64 exponent differences clamped to a range that keeps
/// mantissas in [2^-1100, 2^2] at 0 or exact (the same clamp as math::scaled_matmul).
__device__ inline int clamp_shift(std::int64_t sh) {
  return sh < -100000 ? -100000 : sh > 100000 ? 100000 : static_cast<int>(sh);
}

/// Row of a scaled-float matrix (n entries `inc` apart) brought to max |entry| ∈ [1, 2) by an exact
/// power-of-two scaling added to `e`: math::scaled_normalize_rows for one row. All-zero rows and
/// rows holding NaN/Inf are left as they are.
__device__ inline void normalize_row(double* row, std::int64_t inc, int n, std::int64_t& e) {
  double big = 0;
  for (int c = 0; c < n; ++c) big = fmax(big, fabs(row[c * inc]));
  if (!(big > 0.0) || !(big <= DBL_MAX)) return;
  const int s = math::scaled_exponent(big);
  if (s == 0) return;
  for (int c = 0; c < n; ++c) row[c * inc] = ldexp(row[c * inc], -s);
  e += s;
}

__device__ inline bool row_is_zero(const double* row, std::int64_t inc, int n) {
  for (int c = 0; c < n; ++c)
    if (row[c * inc] != 0.0) return false;
  return true;
}

// --- block routines shared by the sweep and the readout -----------------------------------------

/// W(:, j) = J Q(:, j) for the columns j this warp owns (J d × d, Q and W d × k, all column-major
/// with leading dimension d). Lane l computes rows l, l + 32, …
template <class T>
__device__ void block_apply(int d, int k, const T* J, const T* Q, T* W) {
  const int lane = static_cast<int>(threadIdx.x) & 31;
  const int warp = static_cast<int>(threadIdx.x) >> 5;
  const int nwarps = static_cast<int>(blockDim.x) >> 5;
  for (int j = warp; j < k; j += nwarps) {
    const T* qj = Q + std::int64_t(j) * d;
    T* wj = W + std::int64_t(j) * d;
    for (int r = lane; r < d; r += 32) {
      T acc = 0;
      for (int m = 0; m < d; ++m) acc += J[std::int64_t(m) * d + r] * qj[m];
      wj[r] = acc;
    }
  }
}

/// Modified Gram–Schmidt of the columns of the d × k matrix W (leading dimension d) by one block:
/// r_ii = ‖w_i‖ ≥ 0 of column i after q_0 … q_{i−1} were projected out, Q(:, i) = w_i / r_ii, so R's
/// diagonal is non-negative by construction. W is overwritten by the projected columns and Q (not
/// aliasing W) receives the orthonormal columns; lane 0 of column i's owner calls on_r(i, r_ii).
///
/// Work split: warp w owns the columns j ≡ w (mod warps), lane l the rows l, l + 32, … At step i
/// every warp projects q_i = w_i · (1/r_ii) out of its columns j > i (a butterfly dot product, so
/// all lanes see the same value) while the owner of column i writes q_i to Q; the owner of column
/// i + 1 forms its norm right after its update. One block barrier per column.
///
/// Preconditions: each lane already sees the rows it owns of its warp's columns of W (it wrote them
/// itself, or a __syncthreads came after the writes), and every thread has passed a __syncthreads
/// since it last read `rdiag` (k entries). Call from every thread of the block.
template <class T, class OnR>
__device__ void block_mgs(int d, int k, T* W, T* Q, T* rdiag, OnR&& on_r) {
  if (k <= 0) return;
  const int lane = static_cast<int>(threadIdx.x) & 31;
  const int warp = static_cast<int>(threadIdx.x) >> 5;
  const int nwarps = static_cast<int>(blockDim.x) >> 5;
  const int width = group_width(d);
  if (warp == 0) {  // column 0 belongs to warp 0
    T s = 0;
    for (int r = lane; r < d; r += 32) s += W[r] * W[r];
    s = group_sum(s, width);
    if (lane == 0) rdiag[0] = sqrt(s);
  }
  for (int i = 0; i < k; ++i) {
    __syncthreads();  // column i final, rdiag[i] written
    const T rii = rdiag[i];
    const T inv = T(1) / rii;  // r_ii = 0 gives Inf/NaN in Q: the callers flag it as lost rank
    const T* wi = W + std::int64_t(i) * d;
    for (int j = warp; j < k; j += nwarps) {  // warp-uniform
      if (j <= i) continue;
      T* wj = W + std::int64_t(j) * d;
      T dot = 0;
      for (int r = lane; r < d; r += 32) dot += (wi[r] * inv) * wj[r];
      dot = group_sum(dot, width);
      T nrm = 0;
      for (int r = lane; r < d; r += 32) {
        const T v = wj[r] - dot * (wi[r] * inv);
        wj[r] = v;
        nrm += v * v;
      }
      if (j == i + 1) {
        nrm = group_sum(nrm, width);
        if (lane == 0) rdiag[j] = sqrt(nrm);
      }
    }
    if (i % nwarps == warp) {
      T* qi = Q + std::int64_t(i) * d;
      for (int r = lane; r < d; r += 32) qi[r] = wi[r] * inv;
      if (lane == 0) on_r(i, rii);
    }
  }
}

template <class T>
__device__ inline bool bad_diagonal(T r) {
  return !(r > T(0)) || !isfinite(r);
}

// --- qr_sweep -------------------------------------------------------------------------------------

/// Benettin sweeps (QrSweepArgs in core/backend.hpp), one block of whole warps per segment
/// (grid-stride over segments). Segment s: Q = q0_s (or the first k identity columns), then for
/// each Jacobian J of [first, first + warmup + length): (Q, R) = qr(J Q); ln R_ii of the last
/// `length` steps are summed in double. Outputs: log_r[s·k + i] (NaN on failure), info[s] (0 or
/// non_finite: a Jacobian with NaN/Inf, or R_ii zero or not finite), q_out_s (NaN on failure) when
/// d_q_out is not null. Dynamic shared memory: sweep_small_bytes, plus sweep_big_bytes when
/// kShared (otherwise the big part is d_scratch + blockIdx.x · per_block).
template <class T, bool kShared>
DYNX_KERNEL __launch_bounds__(kSweepMaxThreads) void qr_sweep_kernel(
    const T* __restrict__ d_jac, std::int64_t ld_jac, std::int64_t stride_jac,
    const std::int64_t* __restrict__ d_segment, std::int64_t segments, int d, int k,
    const T* __restrict__ d_q0, std::int64_t ld_q0, std::int64_t stride_q0, T* d_q_out,
    std::int64_t ld_q_out, std::int64_t stride_q_out, double* __restrict__ d_log_r,
    std::int32_t* __restrict__ d_info, unsigned char* d_scratch, std::size_t per_block) {
  __shared__ int s_bad;
  const int tid = static_cast<int>(threadIdx.x);
  const int nthreads = static_cast<int>(blockDim.x);
  Carve small{lyapunov_smem};
  double* log_acc = small.take<double>(std::size_t(k));
  T* rdiag = small.take<T>(std::size_t(k));
  Carve big{block_scratch<kShared>(sweep_small_bytes(k, sizeof(T)), d_scratch, per_block)};
  T* Js = big.take<T>(std::size_t(d) * std::size_t(d));
  T* Q = big.take<T>(std::size_t(d) * std::size_t(k));
  T* W = big.take<T>(std::size_t(d) * std::size_t(k));
  const std::int64_t dd = std::int64_t(d) * d, dk = std::int64_t(d) * k;

  for (std::int64_t s = blockIdx.x; s < segments; s += gridDim.x) {
    const std::int64_t first = d_segment[3 * s];
    const std::int64_t warmup = d_segment[3 * s + 1];
    const std::int64_t length = d_segment[3 * s + 2];
    for (std::int64_t e = tid; e < dk; e += nthreads) {
      const std::int64_t i = e % d, j = e / d;
      Q[e] = d_q0 ? d_q0[s * stride_q0 + j * ld_q0 + i] : (i == j ? T(1) : T(0));
    }
    for (int i = tid; i < k; i += nthreads) log_acc[i] = 0.0;
    if (tid == 0) s_bad = 0;
    // No barrier needed here: the first step's load is followed by one before Q or s_bad is read.

    const std::int64_t steps = warmup + length;
    // J_{t+1} is loaded into registers while step t computes (when J fits kSweepPrefetch entries
    // per thread), so the global-memory latency is not paid once per step.
    T next[kSweepPrefetch];
    const bool prefetch = dd <= std::int64_t(kSweepPrefetch) * nthreads;
    auto fetch = [&](std::int64_t t) {
      const T* J = d_jac + (first + t) * stride_jac;
#pragma unroll
      for (int r = 0; r < kSweepPrefetch; ++r) {
        const std::int64_t e = tid + std::int64_t(r) * nthreads;
        if (e < dd) next[r] = J[(e / d) * ld_jac + e % d];
      }
    };
    if (prefetch && steps > 0) fetch(0);
    for (std::int64_t t = 0; t < steps; ++t) {
      int bad = 0;
      if (prefetch) {
#pragma unroll
        for (int r = 0; r < kSweepPrefetch; ++r) {
          const std::int64_t e = tid + std::int64_t(r) * nthreads;
          if (e < dd) {
            bad |= !isfinite(next[r]);
            Js[e] = next[r];
          }
        }
        if (t + 1 < steps) fetch(t + 1);
      } else {
        const T* J = d_jac + (first + t) * stride_jac;
        for (std::int64_t e = tid; e < dd; e += nthreads) {
          const std::int64_t i = e % d, c = e / d;
          const T v = J[c * ld_jac + i];
          bad |= !isfinite(v);
          Js[e] = v;
        }
      }
      if (bad) s_bad = 1;
      __syncthreads();
      // Every thread reads s_bad here, before any thread can pass the first barrier of block_mgs
      // (the only later writer in this step), so the break is block-uniform.
      if (s_bad) break;
      block_apply(d, k, Js, Q, W);
      const bool counted = t >= warmup;
      block_mgs(d, k, W, Q, rdiag, [&](int i, T r) {
        if (bad_diagonal(r))
          s_bad = 1;
        else if (counted)
          log_acc[i] += log(static_cast<double>(r));
      });
    }
    __syncthreads();  // s_bad, log_acc and Q complete

    const bool failed = s_bad != 0;
    for (int i = tid; i < k; i += nthreads)
      d_log_r[s * k + i] = failed ? NanOf<double>::value() : log_acc[i];
    if (tid == 0) d_info[s] = failed ? kLyapunovNonFinite : 0;
    if (d_q_out) {
      for (std::int64_t e = tid; e < dk; e += nthreads) {
        const std::int64_t i = e % d, j = e / d;
        d_q_out[s * stride_q_out + j * ld_q_out + i] = failed ? NanOf<T>::value() : Q[e];
      }
    }
    __syncthreads();  // before the next segment overwrites Q, log_acc and s_bad
  }
}

// --- selective resetting --------------------------------------------------------------------------
//
// Element t of the scan: a 2d × d float64 mantissa matrix at d_mant + t·2d·d (column-major,
// leading dimension 2d; rows 0 … d−1 are A, rows d … 2d−1 are B), 2d int64 row exponents at
// d_expo + t·2d (row i is mantissa row i times 2^e_i), and a reset flag d_flag[t]. The arithmetic
// follows the CPU backend (src/cpu/lyapunov.cpp) step for step, so that both place the same
// resets: the same folds, the same zero-row rules (a zero row has exponent 0), unit rows as
// m · (1/√Σm²), and Gram–Schmidt "twice" with the same completion of a lost direction.

/// normalize_row of the CPU backend: like normalize_row above, but an all-zero row gets exponent 0.
__device__ inline void normalize_row_zero_e(double* row, std::int64_t inc, int n, std::int64_t& e) {
  double big = 0;
  for (int c = 0; c < n; ++c) big = fmax(big, fabs(row[c * inc]));
  if (!(big > 0.0)) {
    e = 0;
    return;
  }
  normalize_row(row, inc, n, e);
}

// Products and sums outside the GEMMs are rounded one by one, as in the CPU backend's C++ (built
// for baseline x86-64, without FMA), so that nvcc's contraction into FMA cannot change a rounding.
// The GEMM-shaped loops (the combine's product, J_t Q_t) keep the contraction: the CPU's small
// GEMM (gemm_one for d ≤ 16) is an FMA chain over l in ascending order on AVX2/FMA hosts.
__device__ inline double mul_rn(double a, double b) { return __dmul_rn(a, b); }
__device__ inline double add_rn(double a, double b) { return __dadd_rn(a, b); }
__device__ inline double sub_rn(double a, double b) { return __dsub_rn(a, b); }

/// Up to this n, block_gram_schmidt runs its second pass on one thread in the CPU's order (the
/// CPU's GEMMs are bitwise reproducible up to the same size); above it, the second pass is
/// parallel and agrees to rounding.
inline constexpr int kExactOrderMax = 16;

/// Gram–Schmidt of n vectors of length n in order by one block, in place: vector i has entry c at
/// V[i·vs + c·es]. As the CPU's gram_schmidt_rows / mgs2, each vector gets the projections
/// v −= (q_j·v) q_j onto the earlier (final) q_j twice ("twice is enough"). The first pass runs
/// right-looking (as soon as q_i is final every later vector, one per thread, takes its
/// projection: per vector the same operations in the same order as the CPU's left-looking loop).
/// The second pass runs on thread 0 in the CPU's order for n ≤ kExactOrderMax; above, it is
/// classical (all dots against the same vector, then one update), which only changes
/// rounding-level components. Then, by mode:
///  * kComplete (gram_schmidt_rows): ss = Σv²; a vector with ss ≤ 1e-28 (colinear in float64) is
///    replaced by the unit vector orthogonal to the earlier ones that is closest to a coordinate
///    axis (axes tried in order until one keeps ≥ 0.5 of its square norm; thread 0, CPU order);
///    v *= 1/√ss. Never fails.
///  * kQr (mgs2): r = big·√Σ(v/big)² with big = max|v| into rdiag[i]; v /= r; *s_fail = 1 when
///    big is zero or not finite (the R factor lost rank).
/// `tmp` holds n doubles. Call from every thread, with V complete and visible; returns with every
/// thread synchronised.
enum class GsMode { kComplete, kQr };

/// v −= (q·v) q over n entries (stride `es`), rounded as the CPU's project_out.
__device__ inline void project_out_one(int n, const double* q, double* v, std::int64_t es_q,
                                       std::int64_t es_v) {
  double dot = 0;
  for (int c = 0; c < n; ++c) dot = add_rn(dot, mul_rn(q[c * es_q], v[c * es_v]));
  for (int c = 0; c < n; ++c) v[c * es_v] = sub_rn(v[c * es_v], mul_rn(dot, q[c * es_q]));
}

template <GsMode kMode>
__device__ void block_gram_schmidt(int n, double* V, std::int64_t vs, std::int64_t es, double* tmp,
                                   double* rdiag, double* s_scale, int* s_fail) {
  const int tid = static_cast<int>(threadIdx.x);
  const int nthreads = static_cast<int>(blockDim.x);
  const bool exact_order = n <= kExactOrderMax;
  for (int i = 0; i < n; ++i) {
    double* vi = V + std::int64_t(i) * vs;
    if (i > 0) {  // second pass against q_0 … q_{i−1}
      if (exact_order) {
        if (tid == 0)
          for (int j = 0; j < i; ++j) project_out_one(n, V + std::int64_t(j) * vs, vi, es, es);
      } else {
        for (int j = tid; j < i; j += nthreads) {
          const double* qj = V + std::int64_t(j) * vs;
          double dot = 0;
          for (int c = 0; c < n; ++c) dot = add_rn(dot, mul_rn(qj[c * es], vi[c * es]));
          tmp[j] = dot;
        }
        __syncthreads();
        for (int c = tid; c < n; c += nthreads) {
          double v = vi[c * es];
          for (int j = 0; j < i; ++j) v = sub_rn(v, mul_rn(tmp[j], V[std::int64_t(j) * vs + c * es]));
          vi[c * es] = v;
        }
      }
      __syncthreads();
    }
    if (tid == 0) {
      if constexpr (kMode == GsMode::kComplete) {
        double ss = 0;
        for (int c = 0; c < n; ++c) ss = add_rn(ss, mul_rn(vi[c * es], vi[c * es]));
        if (!(ss > 1e-28)) {
          double best = -1;
          for (int axis = 0; axis < n && best < 0.5; ++axis) {
            for (int c = 0; c < n; ++c) tmp[c] = c == axis ? 1.0 : 0.0;
            for (int pass = 0; pass < 2; ++pass)
              for (int j = 0; j < i; ++j) project_out_one(n, V + std::int64_t(j) * vs, tmp, es, 1);
            double r = 0;
            for (int c = 0; c < n; ++c) r = add_rn(r, mul_rn(tmp[c], tmp[c]));
            if (r > best) {
              best = r;
              for (int c = 0; c < n; ++c) vi[c * es] = tmp[c];
            }
          }
          ss = best;
        }
        *s_scale = 1.0 / sqrt(ss);
      } else {
        double big = 0;
        for (int c = 0; c < n; ++c) big = fmax(big, fabs(vi[c * es]));
        if (!(big > 0.0) || !isfinite(big)) *s_fail = 1;
        double ss = 0;
        for (int c = 0; c < n; ++c) {
          const double x = vi[c * es] / big;
          ss = add_rn(ss, mul_rn(x, x));
        }
        const double r = mul_rn(big, sqrt(ss));
        rdiag[i] = r;
        *s_scale = r;
      }
    }
    __syncthreads();
    const double scale = *s_scale;
    for (int c = tid; c < n; c += nthreads) {
      if constexpr (kMode == GsMode::kComplete)
        vi[c * es] = mul_rn(vi[c * es], scale);
      else
        vi[c * es] = vi[c * es] / scale;
    }
    __syncthreads();
    for (int j = i + 1 + tid; j < n; j += nthreads)  // first pass of the later vectors: q_i
      project_out_one(n, vi, V + std::int64_t(j) * vs, es, es);
    __syncthreads();
  }
}

/// Shared memory of the reset test and the readout besides their matrices: tmp and rdiag (n
/// doubles each).
__host__ __device__ inline std::size_t gs_extra_bytes(std::int64_t d) {
  return 2 * lyap_align(sizeof(double) * std::size_t(d));
}

/// Builds the elements: e_0 = [S_0; 0] (rows of S_0 are deviation vectors), e_t = [J_{t−1}ᵀ; 0] for
/// t = 1 … steps−1, rows normalised, flags cleared. One thread per row of the stacked elements.
/// *d_info = non_finite when S_0 or one of these Jacobians holds NaN/Inf.
template <int BlockSize, class T>
DYNX_KERNEL __launch_bounds__(BlockSize) void reset_init_kernel(
    const T* __restrict__ d_jac, std::int64_t ld_jac, std::int64_t stride_jac,
    const T* __restrict__ d_s0, std::int64_t ld_s0, int d, std::int64_t steps,
    double* __restrict__ d_mant, std::int64_t* __restrict__ d_expo,
    std::int32_t* __restrict__ d_flag, std::int32_t* __restrict__ d_info) {
  const std::int64_t d2 = 2 * std::int64_t(d), elem = d2 * d;
  const std::int64_t rows = steps * d2;
  for (std::int64_t g = std::int64_t{blockIdx.x} * BlockSize + threadIdx.x; g < rows;
       g += std::int64_t{gridDim.x} * BlockSize) {
    const std::int64_t t = g / d2;
    const int i = static_cast<int>(g % d2);
    double* row = d_mant + t * elem + i;  // entry c at row[c · 2d]
    std::int64_t e = 0;
    if (i >= d) {
      for (int c = 0; c < d; ++c) row[c * d2] = 0.0;
      if (i == d) d_flag[t] = 0;
    } else {
      bool bad = false;
      for (int c = 0; c < d; ++c) {
        // A(i, c) = S_0(i, c), or (J_{t−1}ᵀ)(i, c) = J_{t−1}(c, i): column i of J, contiguous.
        const T v = t == 0 ? d_s0[std::int64_t(c) * ld_s0 + i]
                           : d_jac[(t - 1) * stride_jac + std::int64_t(i) * ld_jac + c];
        bad |= !isfinite(v);
        row[c * d2] = static_cast<double>(v);
      }
      if (bad) *d_info = kLyapunovNonFinite;
      normalize_row_zero_e(row, d2, d, e);
    }
    d_expo[t * d2 + i] = e;
  }
}

/// Number of left operands at Sklansky level n that have at least one right operand (block starts
/// s = 0, 2n, … with s + n < steps; the CPU backend tests exactly these).
__host__ __device__ inline std::int64_t sklansky_lefts(std::int64_t steps, std::int64_t n) {
  return (steps + n - 1) / (2 * n);
}
/// Number of (left, right) slots at level n: n per left (the last block may be partial: slots
/// with j ≥ steps are skipped).
__host__ __device__ inline std::int64_t sklansky_slots(std::int64_t steps, std::int64_t n) {
  return sklansky_lefts(steps, n) * n;
}

/// Reset test: U (d × d) plus gs_extra_bytes.
__host__ __device__ inline std::size_t reset_test_bytes(std::int64_t d) {
  return lyap_align(sizeof(double) * std::size_t(d * d)) + gs_extra_bytes(d);
}

/// Selective-reset test of every left operand l = s + n − 1 of level n (one block per left,
/// grid-stride), in place. Unless already reset: U = the rows of A_l's mantissa at unit 2-norm
/// (zero rows stay zero); if at least n_above_max pairs i < j have ⟨U_i, U_j⟩ > max_cos_sim,
/// e_l := [0; Q] with Q the Gram–Schmidt of U's rows in row order (block_gram_schmidt,
/// kComplete), flag set, *d_resets incremented. Dynamic shared memory: reset_test_bytes(d) when
/// kShared.
template <bool kShared>
DYNX_KERNEL __launch_bounds__(kResetMaxThreads) void reset_test_kernel(
    double* __restrict__ d_mant, std::int64_t* __restrict__ d_expo,
    std::int32_t* __restrict__ d_flag, int d, std::int64_t steps, std::int64_t n,
    double max_cos_sim, std::int64_t n_above_max, unsigned long long* __restrict__ d_resets,
    unsigned char* d_scratch, std::size_t per_block) {
  __shared__ int s_count;
  __shared__ int s_fail;
  __shared__ double s_scale;
  const int tid = static_cast<int>(threadIdx.x);
  const int nthreads = static_cast<int>(blockDim.x);
  Carve big{block_scratch<kShared>(0, d_scratch, per_block)};
  double* U = big.take<double>(std::size_t(d) * std::size_t(d));  // U(i, c) at U[c · d + i]
  double* tmp = big.take<double>(std::size_t(d));
  double* rdiag = big.take<double>(std::size_t(d));
  const std::int64_t d2 = 2 * std::int64_t(d), elem = d2 * d;
  const std::int64_t lefts = sklansky_lefts(steps, n);
  const std::int64_t pairs = std::int64_t(d) * (d - 1) / 2;
  if (tid == 0) s_count = 0;  // ordered before its first use by the first barrier below

  for (std::int64_t b = blockIdx.x; b < lefts; b += gridDim.x) {
    const std::int64_t l = b * 2 * n + n - 1;
    if (d_flag[l]) continue;  // block-uniform: only this block writes flag l, after this read
    double* m = d_mant + l * elem;
    std::int64_t* e = d_expo + l * d2;
    for (int i = tid; i < d; i += nthreads) {
      double ss = 0;
      for (int c = 0; c < d; ++c) ss = add_rn(ss, mul_rn(m[c * d2 + i], m[c * d2 + i]));
      const double inv = ss > 0.0 ? 1.0 / sqrt(ss) : 0.0;
      for (int c = 0; c < d; ++c) U[std::int64_t(c) * d + i] = mul_rn(m[c * d2 + i], inv);
    }
    __syncthreads();
    int local = 0;
    for (std::int64_t p = tid; p < pairs; p += nthreads) {
      // Pair p → (i, j), i < j, in row-major order of the strict upper triangle.
      std::int64_t i = 0, rem = p;
      while (rem >= d - 1 - i) {
        rem -= d - 1 - i;
        ++i;
      }
      const std::int64_t j = i + 1 + rem;
      double dot = 0;
      for (int c = 0; c < d; ++c)
        dot = add_rn(dot, mul_rn(U[std::int64_t(c) * d + i], U[std::int64_t(c) * d + j]));
      if (dot > max_cos_sim) ++local;
    }
    if (local) atomicAdd(&s_count, local);
    __syncthreads();
    const int count = s_count;
    __syncthreads();  // everyone has read s_count
    if (tid == 0) s_count = 0;
    if (count < n_above_max) continue;  // block-uniform

    // Reset: B := the orthonormalised rows (row-scaled), A := 0. A's rows were last read before
    // the first barrier above; B is zero and not read here.
    block_gram_schmidt<GsMode::kComplete>(d, U, 1, d, tmp, rdiag, &s_scale, &s_fail);
    for (int i = tid; i < d; i += nthreads) {
      double* brow = m + d + i;  // row d + i
      for (int c = 0; c < d; ++c) brow[c * d2] = U[std::int64_t(c) * d + i];
      std::int64_t eb = 0;
      normalize_row_zero_e(brow, d2, d, eb);
      e[d + i] = eb;
      for (int c = 0; c < d; ++c) m[c * d2 + i] = 0.0;
      e[i] = 0;
    }
    if (tid == 0) {
      d_flag[l] = 1;
      atomicAdd(d_resets, 1ull);
    }
    __syncthreads();  // before the next left overwrites U
  }
}

/// One combine team: N = A_R (d × d), the folded left M' and the product P (2d × d each), the
/// exponents of A_R's rows (d) and of the product's rows (2d).
__host__ __device__ inline std::size_t combine_team_bytes(std::int64_t d) {
  return lyap_align(sizeof(double) * std::size_t(d * d)) +
         2 * lyap_align(sizeof(double) * std::size_t(2 * d * d)) +
         lyap_align(sizeof(std::int64_t) * std::size_t(d)) +
         lyap_align(sizeof(std::int64_t) * std::size_t(2 * d));
}

/// e_j ← Combine(e_l, e_j) for every slot of level n: R := [A_L A_R; B_L A_R + B_R], flag_R :=
/// flag_L || flag_R, in the scaled float64 format. A team of `team` threads per slot (blockDim.x /
/// team teams per block, grid-stride over rounds of slots; every thread takes every barrier).
///
///  1. Stage N = A_R and its row exponents f (R's A rows are overwritten in step 4).
///  2. Fold (spec §3.5, two-sided): for row i of M = [A_L; B_L] with exponent e_i,
///     s_i = max over nonzero M_ic of (exponent(M_ic) + f_c) (0 for a zero row),
///     M'_ic = ldexp(M_ic, f_c − s_i); the product row's exponent is e_i + s_i.
///  3. P = M' N (each entry summed over l = 0 … d−1 in order).
///  4. Renormalise P's rows (a zero row gets exponent 0); for the B rows add B_R's row (B_R's
///     row zero: the product row; the product row zero: B_R's row; else the larger exponent,
///     ldexp-aligned mantissas added, renormalised); write back into e_j.
///
/// Left operands are only read (tests ran in the previous launch, and lefts of level n are never
/// right operands of level n). Dynamic shared memory: teams · combine_team_bytes(d) when kShared.
template <bool kShared>
DYNX_KERNEL __launch_bounds__(kResetMaxThreads) void reset_combine_kernel(
    double* __restrict__ d_mant, std::int64_t* __restrict__ d_expo,
    std::int32_t* __restrict__ d_flag, int d, std::int64_t steps, std::int64_t n, int team,
    unsigned char* d_scratch, std::size_t per_block) {
  const int teams = static_cast<int>(blockDim.x) / team;
  const int my_team = static_cast<int>(threadIdx.x) / team;
  const int tt = static_cast<int>(threadIdx.x) % team;
  Carve big{block_scratch<kShared>(0, d_scratch, per_block) +
            std::size_t(my_team) * combine_team_bytes(d)};
  const std::int64_t d2 = 2 * std::int64_t(d), elem = d2 * d, dd = std::int64_t(d) * d;
  double* N = big.take<double>(std::size_t(dd));       // N(l, c) at N[c · d + l]
  double* Mp = big.take<double>(std::size_t(d2 * d));  // M'(i, c) at Mp[c · 2d + i]
  double* P = big.take<double>(std::size_t(d2 * d));   // P(i, c) at P[c · 2d + i]
  std::int64_t* f = big.take<std::int64_t>(std::size_t(d));
  std::int64_t* se = big.take<std::int64_t>(std::size_t(d2));
  const std::int64_t slots = sklansky_slots(steps, n);
  constexpr std::int64_t kNone = INT64_MIN;

  for (std::int64_t base = std::int64_t{blockIdx.x} * teams; base < slots;
       base += std::int64_t{gridDim.x} * teams) {
    const std::int64_t q = base + my_team;
    std::int64_t l = 0, j = 0;
    bool active = false;
    if (q < slots) {
      const std::int64_t s = q / n * 2 * n;
      l = s + n - 1;
      j = s + n + q % n;
      active = j < steps;
    }
    const double* mL = d_mant + l * elem;
    const std::int64_t* eL = d_expo + l * d2;
    double* mR = d_mant + j * elem;
    std::int64_t* eR = d_expo + j * d2;

    if (active) {  // 1. stage A_R
      for (std::int64_t x = tt; x < dd; x += team) {
        const std::int64_t r = x % d, c = x / d;
        N[c * d + r] = mR[c * d2 + r];
      }
      for (int r = tt; r < d; r += team) f[r] = eR[r];
    }
    __syncthreads();
    if (active) {  // 2. two-sided fold of [A_L; B_L]
      for (std::int64_t i = tt; i < d2; i += team) {
        std::int64_t s = kNone;
        for (int c = 0; c < d; ++c) {
          const double v = mL[c * d2 + i];
          if (v != 0.0) {
            const std::int64_t x = std::int64_t(math::scaled_exponent(v)) + f[c];
            s = x > s ? x : s;
          }
        }
        if (s == kNone) s = 0;
        for (int c = 0; c < d; ++c) Mp[c * d2 + i] = ldexp(mL[c * d2 + i], clamp_shift(f[c] - s));
        se[i] = eL[i] + s;
      }
    }
    __syncthreads();
    if (active) {  // 3. P = M' N
      for (std::int64_t x = tt; x < elem; x += team) {
        const std::int64_t i = x % d2, c = x / d2;
        double acc = 0;
        for (int m = 0; m < d; ++m) acc += Mp[std::int64_t(m) * d2 + i] * N[c * d + m];
        P[c * d2 + i] = acc;
      }
    }
    __syncthreads();
    if (active) {  // 4. renormalise, add B_R to the B rows, write back
      for (std::int64_t i = tt; i < d2; i += team) {
        double* p = P + i;
        std::int64_t e = se[i];
        normalize_row_zero_e(p, d2, d, e);
        double* out = mR + i;  // row i of e_j (for i ≥ d: B_R's row, read here first)
        if (i >= d) {
          const std::int64_t eb = eR[i];
          if (row_is_zero(out, d2, d)) {
            // B_R's row is zero: the product row alone.
          } else if (row_is_zero(p, d2, d)) {
            continue;  // the product row is zero: B_R's row stays as it is
          } else {
            const std::int64_t E = e > eb ? e : eb;
            const int sp = clamp_shift(e - E), sb = clamp_shift(eb - E);
            for (int c = 0; c < d; ++c) p[c * d2] = ldexp(p[c * d2], sp) + ldexp(out[c * d2], sb);
            e = E;
            normalize_row_zero_e(p, d2, d, e);
          }
        }
        for (int c = 0; c < d; ++c) out[c * d2] = p[c * d2];
        eR[i] = e;
      }
      if (tt == 0) d_flag[j] = (d_flag[l] || d_flag[j]) ? 1 : 0;
    }
    __syncthreads();  // before the next round reuses the team's scratch
  }
}

/// Readout block: Q_t and W (d × d each) and J_t (d × d) in float64, plus gs_extra_bytes.
__host__ __device__ inline std::size_t readout_bytes(std::int64_t d) {
  return 3 * lyap_align(sizeof(double) * std::size_t(d * d)) + gs_extra_bytes(d);
}

/// The readout, one block per step t (grid-stride): X_t = A_t + B_t row by row (scaled sum; its
/// renormalisation is skipped because the unit-norm scaling below removes every power of two
/// exactly), U = X_t's rows at unit 2-norm, Q_t = Gram–Schmidt of U's rows as columns
/// (kComplete), then R of QR(J_t Q_t) (J_t in float64) by Gram–Schmidt twice (kQr):
/// log_r[t·d + i] = ln R_ii. *d_info = non_finite when J_t holds NaN/Inf or the R factor lost
/// rank. Dynamic shared memory: readout_bytes(d) when kShared.
template <class T, bool kShared>
DYNX_KERNEL __launch_bounds__(kResetMaxThreads) void reset_readout_kernel(
    const T* __restrict__ d_jac, std::int64_t ld_jac, std::int64_t stride_jac,
    const double* __restrict__ d_mant, const std::int64_t* __restrict__ d_expo, int d,
    std::int64_t steps, double* __restrict__ d_log_r, std::int32_t* __restrict__ d_info,
    unsigned char* d_scratch, std::size_t per_block) {
  __shared__ int s_fail;
  __shared__ double s_scale;
  const int tid = static_cast<int>(threadIdx.x);
  const int nthreads = static_cast<int>(blockDim.x);
  Carve big{block_scratch<kShared>(0, d_scratch, per_block)};
  double* Q = big.take<double>(std::size_t(d) * std::size_t(d));   // column i = q_i
  double* W = big.take<double>(std::size_t(d) * std::size_t(d));   // J_t Q_t, column-major
  double* Js = big.take<double>(std::size_t(d) * std::size_t(d));  // J_t, column-major
  double* tmp = big.take<double>(std::size_t(d));
  double* rdiag = big.take<double>(std::size_t(d));
  const std::int64_t d2 = 2 * std::int64_t(d), elem = d2 * d, dd = std::int64_t(d) * d;

  for (std::int64_t t = blockIdx.x; t < steps; t += gridDim.x) {
    if (tid == 0) s_fail = 0;
    const double* m = d_mant + t * elem;
    const std::int64_t* ex = d_expo + t * d2;
    for (int i = tid; i < d; i += nthreads) {
      const double* a = m + i;
      const double* b = m + d + i;
      const bool az = row_is_zero(a, d2, d), bz = row_is_zero(b, d2, d);
      const std::int64_t ea = ex[i], eb = ex[d + i];
      const std::int64_t E = az ? eb : bz ? ea : (ea > eb ? ea : eb);
      const int sa = clamp_shift(ea - E), sb = clamp_shift(eb - E);
      double* u = Q + std::int64_t(i) * d;  // row i of U is column i of Q
      double ss = 0;
      for (int c = 0; c < d; ++c) {
        const double x = (az ? 0.0 : ldexp(a[c * d2], sa)) + (bz ? 0.0 : ldexp(b[c * d2], sb));
        u[c] = x;
        ss = add_rn(ss, mul_rn(x, x));
      }
      const double inv = ss > 0.0 ? 1.0 / sqrt(ss) : 0.0;
      for (int c = 0; c < d; ++c) u[c] = mul_rn(u[c], inv);
    }
    int bad = 0;
    const T* J = d_jac + t * stride_jac;
    for (std::int64_t x = tid; x < dd; x += nthreads) {
      const std::int64_t i = x % d, c = x / d;
      const T v = J[c * ld_jac + i];
      bad |= !isfinite(v);
      Js[x] = static_cast<double>(v);
    }
    if (bad) *d_info = kLyapunovNonFinite;
    __syncthreads();  // U and J_t complete
    block_gram_schmidt<GsMode::kComplete>(d, Q, d, 1, tmp, rdiag, &s_scale, &s_fail);
    for (std::int64_t x = tid; x < dd; x += nthreads) {
      const std::int64_t i = x % d, j = x / d;
      double acc = 0;
      for (int l = 0; l < d; ++l) acc += Js[std::int64_t(l) * d + i] * Q[j * d + l];
      W[x] = acc;
    }
    __syncthreads();
    block_gram_schmidt<GsMode::kQr>(d, W, d, 1, tmp, rdiag, &s_scale, &s_fail);
    for (int i = tid; i < d; i += nthreads) d_log_r[t * d + i] = log(rdiag[i]);
    if (tid == 0 && s_fail) *d_info = kLyapunovNonFinite;
    __syncthreads();  // before the next step resets s_fail and overwrites Q
  }
}

/// As the CPU backend: when the inputs held NaN/Inf or a readout lost rank (*d_info ≠ 0), every
/// log_r is NaN and the reset count 0.
template <int BlockSize>
DYNX_KERNEL __launch_bounds__(BlockSize) void reset_finish_kernel(
    const std::int32_t* __restrict__ d_info, double* __restrict__ d_log_r, std::int64_t n,
    unsigned long long* __restrict__ d_resets) {
  if (*d_info == 0) return;
  for (std::int64_t i = std::int64_t{blockIdx.x} * BlockSize + threadIdx.x; i < n;
       i += std::int64_t{gridDim.x} * BlockSize)
    d_log_r[i] = NanOf<double>::value();
  if (blockIdx.x == 0 && threadIdx.x == 0) *d_resets = 0;
}

}  // namespace dynx::cuda::kernels
