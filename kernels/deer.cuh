#pragma once
// Device code of the cell-independent DEER steps (residual, update, scaling) and of the parallel
// ELK filter scan, with the pure host-side planning the launcher and the host emulation share.
// Host side and the algorithms: src/cuda/deer.cu. Reference semantics: src/cpu/deer.cpp (residual,
// update and scaling formula for formula, with the same roundings: no FMA contraction where the
// CPU rounds twice).
//
// ELK elements (spec deer.md §4.4–4.5, Särkkä & García-Fernández 2021, "Temporal parallelization
// of Bayesian smoothers", IEEE TAC 66(1)), for the model x_0 = 0, x_t = F_t x_{t−1} + c_t + w_t,
// w_t ~ N(0, I), observation y_t = 0 with noise N(0, σ² I); κ = 1/(1 + σ²), ω = 1 − κ:
//   t = 1:  A = 0,     b = ω c_1,  C = ω I,  η = 0,            J = 0
//   t ≥ 2:  A = ω F_t, b = ω c_t,  C = ω I,  η = −κ F_tᵀ c_t,  J = κ F_tᵀ F_t
// (the spec's b = b_t + κ (y − b_t) and η = κ Fᵀ (y − b_t) with y = 0, b_t = c_t). Combine, earlier
// i then later j, M = (I + C_i J_j)⁻¹ (and (I + J_j C_i)⁻¹ = Mᵀ since C and J are symmetric):
//   A = A_j M A_i,  b = A_j M (b_i + C_i η_j) + b_j,  C = A_j M C_i A_jᵀ + C_j,
//   η = (M A_i)ᵀ (η_j − J_j b_i) + η_i,  J = (M A_i)ᵀ J_j A_i + J_i.
// A prefix that starts at t = 1 has A = η = J = 0 exactly: it is the filtered (mean, covariance)
// pair (b, C), and combining it with the element of step t is one Kalman step, which the level-0
// sweep computes in the CPU's form (m⁻ = F m + c, P⁻ = F P Fᵀ + I, S = P⁻ + σ² I, m = σ² S⁻¹ m⁻,
// P = σ² S⁻¹ P⁻). Everything is accumulated in double whatever T is, as on the CPU.

#include "kernels/common.cuh"

#include <cub/block/block_reduce.cuh>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace dynx::cuda::kernels {

// ------------------------------------------------------------------------------------------------
// Residual, update, scaling
// ------------------------------------------------------------------------------------------------

/// Products and sums rounded once each (as the CPU backend, which has no FMA contraction), so that
/// thresholds and updated states match it bit for bit.
__device__ inline float mul_rn(float a, float b) { return __fmul_rn(a, b); }
__device__ inline double mul_rn(double a, double b) { return __dmul_rn(a, b); }
__device__ inline float add_rn(float a, float b) { return __fadd_rn(a, b); }
__device__ inline double add_rn(double a, double b) { return __dadd_rn(a, b); }

/// Max key of a non-negative double: its bit pattern (non-negative IEEE doubles order as their
/// bits), with every NaN mapped to the canonical quiet NaN, which sorts above +∞. A maximum of keys
/// (atomicMax on unsigned 64-bit) is thus the NaN-propagating maximum, and the key of the result
/// reads back directly as the double.
inline constexpr unsigned long long kNanKey = 0x7ff8000000000000ULL;
inline constexpr unsigned long long kInfKey = 0x7ff0000000000000ULL;
__device__ inline unsigned long long max_key(double v) {
  return isnan(v) ? kNanKey : static_cast<unsigned long long>(__double_as_longlong(fabs(v)));
}

/// Offset of entry i of step τ of slot k in a window vector (src/core/backend.hpp): [k][τ][d], or
/// chain-major blocks [(k·nb + b)][τ][block] when 0 < block < d.
__host__ __device__ inline std::int64_t window_offset(std::int64_t d, std::int64_t steps,
                                                      std::int64_t block, std::int64_t k,
                                                      std::int64_t tau, std::int64_t i) {
  if (block > 0 && block < d) {
    const std::int64_t nb = d / block;
    return ((k * nb + i / block) * steps + tau) * block + i % block;
  }
  return (k * steps + tau) * d + i;
}

/// Per-block partial of the residual reductions: the max key and the first bad step.
struct SlotPartial {
  unsigned long long key;
  long long tau;
};
struct SlotPartialOp {
  __device__ SlotPartial operator()(const SlotPartial& a, const SlotPartial& b) const {
    return {a.key > b.key ? a.key : b.key, a.tau < b.tau ? a.tau : b.tau};
  }
};
struct MaxKeyOp {
  __device__ unsigned long long operator()(unsigned long long a, unsigned long long b) const {
    return a > b ? a : b;
  }
};

/// Dynamic shared memory of the reduction kernels below (the CUB temporary storage).
template <int BlockSize>
constexpr std::size_t residual_shared_bytes() {
  return sizeof(typename cub::BlockReduce<SlotPartial, BlockSize>::TempStorage);
}
template <int BlockSize>
constexpr std::size_t update_shared_bytes() {
  return sizeof(typename cub::BlockReduce<unsigned long long, BlockSize>::TempStorage);
}

/// key[k] = 0 (the double 0.0) and, when tau is given, tau[k] = tau0, k < count.
template <int BlockSize>
DYNX_KERNEL __launch_bounds__(BlockSize) void slot_init_kernel(unsigned long long* __restrict__ key,
                                                               long long* __restrict__ tau,
                                                               std::int64_t count, long long tau0) {
  for (std::int64_t k = std::int64_t{blockIdx.x} * BlockSize + threadIdx.x; k < count;
       k += std::int64_t{gridDim.x} * BlockSize) {
    key[k] = 0ULL;
    if (tau) tau[k] = tau0;
  }
}

template <class T>
struct ResidualPass {
  std::int64_t d = 0, total = 0, first = 0, steps = 0, count = 0, block = 0;
  const T* states = nullptr;
  const std::int64_t* seq = nullptr;
  const T* f = nullptr;
  T* rhs = nullptr;
  double atol = 0, rtol = 0;
  unsigned long long* rmax = nullptr;  // the double outputs, as max keys (initialised to 0)
  long long* prefix = nullptr;         // initialised to steps
};

/// rhs = f − s over the window, rmax[k] = max |s − f| (NaN-propagating), prefix[k] = first τ with
/// some |r| > atol + rtol |s| (NaN counts as above). Blocks along x share a slot's steps·d entries,
/// blocks along y the slots; each block reduces with CUB and folds into the slot with one atomic.
template <int BlockSize, class T>
DYNX_KERNEL __launch_bounds__(BlockSize) void deer_residual_kernel(const ResidualPass<T> p) {
  using Reduce = cub::BlockReduce<SlotPartial, BlockSize>;
  extern __shared__ __align__(16) unsigned char smem[];
  auto& temp = *reinterpret_cast<typename Reduce::TempStorage*>(smem);
  const std::int64_t d = p.d, per_slot = p.steps * d;
  for (std::int64_t k = blockIdx.y; k < p.count; k += gridDim.y) {
    const T* s = p.states + (p.seq[k] * p.total + p.first) * d;
    const T* f = p.f + k * per_slot;
    SlotPartial part{0ULL, static_cast<long long>(p.steps)};
    for (std::int64_t e = std::int64_t{blockIdx.x} * BlockSize + threadIdx.x; e < per_slot;
         e += std::int64_t{gridDim.x} * BlockSize) {
      const std::int64_t tau = e / d, i = e % d;
      const T sv = s[e];
      const T r = sv - f[e];
      p.rhs[window_offset(d, p.steps, p.block, k, tau, i)] = -r;
      const double ar = fabs(static_cast<double>(r));
      const unsigned long long key = max_key(ar);
      if (key > part.key) part.key = key;
      if (!(ar <= add_rn(p.atol, mul_rn(p.rtol, fabs(static_cast<double>(sv))))) && tau < part.tau)
        part.tau = tau;
    }
    const SlotPartial all = Reduce(temp).Reduce(part, SlotPartialOp{});
    if (threadIdx.x == 0) {
      if (all.key != 0ULL) atomicMax(p.rmax + k, all.key);
      if (all.tau < static_cast<long long>(p.steps)) atomicMin(p.prefix + k, all.tau);
    }
    __syncthreads();  // temp is reused by the next slot
  }
}

template <class T>
struct UpdatePass {
  std::int64_t d = 0, total = 0, first = 0, steps = 0, count = 0, block = 0;
  T* states = nullptr;
  const std::int64_t* seq = nullptr;
  const T* delta = nullptr;
  const T* f = nullptr;
  const std::int32_t* reset = nullptr;
  const std::int64_t* prefix = nullptr;
  double omega = 1, clip = 0, atol = 0, rtol = 0;
  unsigned long long* smax = nullptr;  // max keys (initialised to 0)
};

/// s ← clamp(nan→0(s + ω Δ), ±clip) with smax[k] = max |Δ| / (atol + rtol |s_before|); slots with
/// reset[k] ≠ 0 keep τ < prefix[k], take f at τ = prefix[k], zero the rest, and get smax = +∞.
/// Grid as deer_residual_kernel.
template <int BlockSize, class T>
DYNX_KERNEL __launch_bounds__(BlockSize) void deer_update_kernel(const UpdatePass<T> p) {
  using Reduce = cub::BlockReduce<unsigned long long, BlockSize>;
  extern __shared__ __align__(16) unsigned char smem[];
  auto& temp = *reinterpret_cast<typename Reduce::TempStorage*>(smem);
  const std::int64_t d = p.d, per_slot = p.steps * d;
  const T omega = static_cast<T>(p.omega), clip = static_cast<T>(p.clip);
  for (std::int64_t k = blockIdx.y; k < p.count; k += gridDim.y) {
    T* s = p.states + (p.seq[k] * p.total + p.first) * d;
    if (p.reset[k] != 0) {  // the same branch for the whole block
      const std::int64_t pk = p.prefix[k];
      if (pk < p.steps) {
        const T* f = p.f + k * per_slot;
        for (std::int64_t e = pk * d + std::int64_t{blockIdx.x} * BlockSize + threadIdx.x;
             e < per_slot; e += std::int64_t{gridDim.x} * BlockSize)
          s[e] = e < (pk + 1) * d ? f[e] : T(0);
      }
      if (blockIdx.x == 0 && threadIdx.x == 0) p.smax[k] = kInfKey;
      continue;
    }
    unsigned long long key = 0ULL;
    for (std::int64_t e = std::int64_t{blockIdx.x} * BlockSize + threadIdx.x; e < per_slot;
         e += std::int64_t{gridDim.x} * BlockSize) {
      const T sv = s[e];
      const T dv = p.delta[window_offset(d, p.steps, p.block, k, e / d, e % d)];
      const double ratio = fabs(static_cast<double>(dv)) /
                           add_rn(p.atol, mul_rn(p.rtol, fabs(static_cast<double>(sv))));
      const unsigned long long rk = max_key(ratio);
      if (rk > key) key = rk;
      T v = add_rn(sv, mul_rn(omega, dv));
      if (isnan(v)) v = T(0);
      s[e] = v < -clip ? -clip : (clip < v ? clip : v);  // std::clamp(v, −clip, clip)
    }
    const unsigned long long all = Reduce(temp).Reduce(key, MaxKeyOp{});
    if (threadIdx.x == 0 && all != 0ULL) atomicMax(p.smax + k, all);
    __syncthreads();
  }
}

/// a ← clamp(scale·a, ±clip) (no clamp unless `clamp`), NaN → 0, over n entries.
template <int BlockSize, class T>
DYNX_KERNEL __launch_bounds__(BlockSize) void deer_scale_kernel(T* __restrict__ a, std::int64_t n,
                                                                T scale, T clip, bool clamp) {
  for (std::int64_t i = std::int64_t{blockIdx.x} * BlockSize + threadIdx.x; i < n;
       i += std::int64_t{gridDim.x} * BlockSize) {
    T v = mul_rn(scale, a[i]);
    if (isnan(v)) v = T(0);
    a[i] = clamp ? (v < -clip ? -clip : (clip < v ? clip : v)) : v;
  }
}

// ------------------------------------------------------------------------------------------------
// ELK: levels, element buffers, passes
// ------------------------------------------------------------------------------------------------

/// One level of the chunked scan: `n` elements per chain (level 0: the steps; level k ≥ 1: the
/// chunk totals of level k − 1) cut into `nch` chunks of `chunk` (the last one shorter).
struct ElkLevel {
  std::int64_t n = 0, chunk = 1, nch = 1;
};

/// `count` elements in doubles. Dense: element e is the d × (3d + 2) column-major block
/// [A | C | b | J | η] at p + e·(3d² + 2d). Diagonal: five planes of count·d values, in the order
/// ElkPlane; unit i of element e at p[plane·count·d + e·d + i].
struct ElkElems {
  double* p = nullptr;
  std::int64_t count = 0;
};
enum ElkPlane : int { kPlaneA = 0, kPlaneB, kPlaneC, kPlaneEta, kPlaneJ, kElkPlanes };

__host__ __device__ inline std::int64_t elk_dense_elems(std::int64_t d) {
  return 3 * d * d + 2 * d;
}
__host__ __device__ inline std::int64_t elk_elem_doubles(std::int64_t d, bool diagonal) {
  return diagonal ? kElkPlanes * d : elk_dense_elems(d);
}

/// What one launch does. A reduce pass (sweep = false) leaves the total of chunk q of chain c at
/// dst[c·nch + q] for q < nch − 1 (the last chunk's total is never needed). A sweep at level 0
/// filters chunk q of every chain from the prefix incoming[c·nch + q − 1] (q ≥ 1, when nch > 1)
/// or from x_0 = 0, P_0 = 0, writing x. A sweep at level k ≥ 1 writes the inclusive prefixes
/// dst[c·n + j] for j < n − 1 (level k − 1 reads prefix j as the incoming of its chunk j + 1).
/// Chains whose info is set are skipped.
template <class T>
struct ElkPass {
  std::int64_t d = 0, chains = 0, steps = 0;
  ElkLevel level;
  bool level0 = true, sweep = false, diagonal = false;
  const T* F = nullptr;  // level 0: chains·steps matrices d × d (packed) or vectors of d
  const T* c = nullptr;  // level 0: chains·steps vectors of d
  T* x = nullptr;        // level-0 sweep output, as c
  ElkElems src;          // level ≥ 1: the elements (chains·n)
  ElkElems dst;          // reduce: totals (chains·nch); sweep at level ≥ 1: prefixes (chains·n)
  ElkElems incoming;     // sweeps with nch > 1: inclusive prefixes of this level's totals
  double kappa = 0, om = 1, sigma2 = 0;
  std::int32_t* info = nullptr;
  std::int32_t fail_code = 3;
  double* scratch = nullptr;  // dense: per-block working memory in global memory (null: shared)
  std::int64_t scratch_elems = 0;

  /// Chunks of each chain this pass works on.
  __host__ __device__ std::int64_t chunks() const { return sweep ? level.nch : level.nch - 1; }
  /// One past the last element of chunk q this pass reads (see above).
  __host__ __device__ std::int64_t chunk_end(std::int64_t q) const {
    const std::int64_t stop = sweep && !level0 ? level.n - 1 : level.n;
    const std::int64_t e = (q + 1) * level.chunk;
    return e < stop ? e : stop;
  }
};

// --- dense: working memory of one block ---------------------------------------------------------

/// Threads per dense block: about one per entry of the 3d² of a combine phase, 32 to 256.
inline constexpr int kElkMaxThreads = 256;
inline int elk_dense_threads(std::int64_t d) {
  const std::int64_t w = 3 * d * d;
  return w <= 32 ? 32 : w <= 64 ? 64 : w <= 128 ? 128 : 256;
}

/// Combine passes: acc and nxt elements, L (d × d), Tm (d × d), u (d), the pivot slot.
struct ElkCombineWork {
  double *acc, *nxt, *L, *Tm, *u;
  int* piv;
};
__host__ __device__ inline std::int64_t elk_combine_doubles(std::int64_t d) {
  return 2 * elk_dense_elems(d) + 2 * d * d + d + 2;
}
__device__ inline ElkCombineWork elk_carve_combine(double* w, std::int64_t d) {
  ElkCombineWork s;
  s.acc = w;
  s.nxt = s.acc + elk_dense_elems(d);
  s.L = s.nxt + elk_dense_elems(d);
  s.Tm = s.L + d * d;
  s.u = s.Tm + d * d;
  s.piv = reinterpret_cast<int*>(s.u + d);
  return s;
}

/// Level-0 sweeps: m (d), P, Fs, S (d × d each), R (d × (d + 1): [P⁻ | m⁻]), Tm, the pivot slot.
struct ElkFilterWork {
  double *m, *P, *Fs, *S, *R, *Tm;
  int* piv;
};
__host__ __device__ inline std::int64_t elk_filter_doubles(std::int64_t d) {
  return d + 5 * d * d + d + 2;
}
__device__ inline ElkFilterWork elk_carve_filter(double* w, std::int64_t d) {
  ElkFilterWork s;
  s.m = w;
  s.P = s.m + d;
  s.Fs = s.P + d * d;
  s.S = s.Fs + d * d;
  s.R = s.S + d * d;
  s.Tm = s.R + d * (d + 1);
  s.piv = reinterpret_cast<int*>(s.Tm + d * d);
  return s;
}

// --- dense: block-wide linear algebra -----------------------------------------------------------

/// Row of the largest |L(r, k)|, r ≥ k (the first on ties; k when the column is all NaN), by warp
/// 0 with a butterfly so that every lane agrees; lane 0 writes it to *piv. Needs blockDim ≥ 32.
__device__ inline void elk_pivot(const double* L, std::int64_t d, std::int64_t k, int* piv) {
  if (threadIdx.x >= 32) return;
  double best = -1.0;
  int row = -1;
  for (std::int64_t r = k + threadIdx.x; r < d; r += 32) {
    const double v = fabs(L[k * d + r]);
    if (v > best) {  // rows rise along a lane: '>' keeps the first maximum
      best = v;
      row = static_cast<int>(r);
    }
  }
  for (int off = 16; off > 0; off >>= 1) {
    const double ob = __shfl_xor_sync(0xffffffffu, best, off);
    const int orow = __shfl_xor_sync(0xffffffffu, row, off);
    if (orow >= 0 && (row < 0 || ob > best || (ob == best && orow < row))) {
      best = ob;
      row = orow;
    }
  }
  if (threadIdx.x == 0) *piv = row < 0 ? static_cast<int>(k) : row;
}

/// Solves L X = R in place (R: d × nr, ld d; L: d × d, destroyed) by Gaussian elimination with
/// partial pivoting, the whole block. L must be complete on entry; R may still be being written
/// (nothing reads it before the first barrier). Ends synchronised.
__device__ inline void elk_eliminate(double* L, double* R, std::int64_t nr, std::int64_t d,
                                     int* piv) {
  const std::int64_t nt = blockDim.x;
  for (std::int64_t k = 0; k < d; ++k) {
    elk_pivot(L, d, k, piv);
    __syncthreads();
    const std::int64_t p = *piv;
    if (p != k) {  // the same branch for the whole block
      for (std::int64_t col = threadIdx.x; col < (d - k) + nr; col += nt) {
        double* a = col < d - k ? L + (k + col) * d : R + (col - (d - k)) * d;
        const double tmp = a[k];
        a[k] = a[p];
        a[p] = tmp;
      }
      __syncthreads();
    }
    const std::int64_t rows = d - k - 1, lcols = d - k - 1;
    const double pivot = L[k * d + k];
    for (std::int64_t w = threadIdx.x; w < rows * (lcols + nr); w += nt) {
      const std::int64_t r = k + 1 + w % rows, cidx = w / rows;
      const double l = L[k * d + r] / pivot;
      double* a = cidx < lcols ? L + (k + 1 + cidx) * d : R + (cidx - lcols) * d;
      a[r] = fma(-l, a[k], a[r]);
    }
    __syncthreads();
  }
  // Back substitution, column-oriented: row k of R is final when step k starts; it is divided by
  // the pivot on the fly here and in place at the end.
  for (std::int64_t k = d - 1; k > 0; --k) {
    const double pivot = L[k * d + k];
    for (std::int64_t w = threadIdx.x; w < k * nr; w += nt) {
      const std::int64_t r = w % k, col = w / k;
      R[col * d + r] = fma(-L[k * d + r], R[col * d + k] / pivot, R[col * d + r]);
    }
    __syncthreads();
  }
  for (std::int64_t w = threadIdx.x; w < d * nr; w += nt) R[w] /= L[(w % d) * d + w % d];
  __syncthreads();
}

/// acc ← acc • nxt (earlier acc, later nxt; the combine of the file comment), the whole block.
/// Both elements d × (3d + 2) as [A | C | b | J | η]. C and J come out exactly symmetric (each
/// pair of entries is computed once from both triangles). Starts and ends synchronised.
__device__ inline void elk_combine_block(double* acc, const double* nxt, const ElkCombineWork& w,
                                         std::int64_t d) {
  const std::int64_t dd = d * d, nt = blockDim.x;
  double* Ai = acc;           // Y = M A_i after the solve
  double* Ci = acc + dd;      // Z = M C_i after the solve
  double* bi = acc + 2 * dd;  // M (b_i + C_i η_j) after the solve
  double* Ji = acc + 2 * dd + d;
  double* ei = acc + 3 * dd + d;
  const double* Aj = nxt;
  const double* Cj = nxt + dd;
  const double* bj = nxt + 2 * dd;
  const double* Jj = nxt + 2 * dd + d;
  const double* ej = nxt + 3 * dd + d;
  // 1. L = I + C_i J_j,  Tm = J_j A_i,  u = η_j − J_j b_i.
  for (std::int64_t t = threadIdx.x; t < 2 * dd + d; t += nt) {
    if (t < dd) {
      const std::int64_t r = t % d, col = t / d;
      double v = r == col ? 1.0 : 0.0;
      for (std::int64_t l = 0; l < d; ++l) v = fma(Ci[l * d + r], Jj[col * d + l], v);
      w.L[t] = v;
    } else if (t < 2 * dd) {
      const std::int64_t e = t - dd, r = e % d, col = e / d;
      double v = 0;
      for (std::int64_t l = 0; l < d; ++l) v = fma(Jj[l * d + r], Ai[col * d + l], v);
      w.Tm[e] = v;
    } else {
      const std::int64_t r = t - 2 * dd;
      double v = ej[r];
      for (std::int64_t l = 0; l < d; ++l) v = fma(-Jj[l * d + r], bi[l], v);
      w.u[r] = v;
    }
  }
  __syncthreads();
  // 2. b_i ← b_i + C_i η_j (each entry by its own thread). No barrier needed after it: the
  //    elimination reads only L before its first barrier.
  for (std::int64_t r = threadIdx.x; r < d; r += nt) {
    double v = bi[r];
    for (std::int64_t l = 0; l < d; ++l) v = fma(Ci[l * d + r], ej[l], v);
    bi[r] = v;
  }
  // 3. The columns [A_i | C_i | b_i] ← M [A_i | C_i | b_i].
  elk_eliminate(w.L, acc, 2 * d + 1, d, w.piv);
  // 4. J_i ← J_i + Yᵀ Tm (pairs of entries by one thread), η_i ← η_i + Yᵀ u.
  for (std::int64_t t = threadIdx.x; t < dd + d; t += nt) {
    if (t < dd) {
      const std::int64_t r = t % d, col = t / d;
      if (r > col) continue;
      double prc = 0, pcr = 0;
      for (std::int64_t l = 0; l < d; ++l) {
        prc = fma(Ai[r * d + l], w.Tm[col * d + l], prc);
        pcr = fma(Ai[col * d + l], w.Tm[r * d + l], pcr);
      }
      const double v = 0.5 * ((Ji[col * d + r] + prc) + (Ji[r * d + col] + pcr));
      Ji[col * d + r] = v;
      Ji[r * d + col] = v;
    } else {
      const std::int64_t r = t - dd;
      double v = ei[r];
      for (std::int64_t l = 0; l < d; ++l) v = fma(Ai[r * d + l], w.u[l], v);
      ei[r] = v;
    }
  }
  __syncthreads();
  // 5. Tm = A_j Y, L = A_j Z, u = A_j w + b_j.
  for (std::int64_t t = threadIdx.x; t < 2 * dd + d; t += nt) {
    if (t < 2 * dd) {
      const bool z = t >= dd;
      const std::int64_t e = z ? t - dd : t, r = e % d, col = e / d;
      const double* src = z ? Ci : Ai;
      double v = 0;
      for (std::int64_t l = 0; l < d; ++l) v = fma(Aj[l * d + r], src[col * d + l], v);
      (z ? w.L : w.Tm)[e] = v;
    } else {
      const std::int64_t r = t - 2 * dd;
      double v = bj[r];
      for (std::int64_t l = 0; l < d; ++l) v = fma(Aj[l * d + r], bi[l], v);
      w.u[r] = v;
    }
  }
  __syncthreads();
  // 6. A_i ← Tm, C_i ← L A_jᵀ + C_j (pairs by one thread), b_i ← u.
  for (std::int64_t t = threadIdx.x; t < 2 * dd + d; t += nt) {
    if (t < dd) {
      Ai[t] = w.Tm[t];
    } else if (t < 2 * dd) {
      const std::int64_t e = t - dd, r = e % d, col = e / d;
      if (r > col) continue;
      double vrc = 0, vcr = 0;
      for (std::int64_t l = 0; l < d; ++l) {
        vrc = fma(w.L[l * d + r], Aj[l * d + col], vrc);
        vcr = fma(w.L[l * d + col], Aj[l * d + r], vcr);
      }
      const double v = 0.5 * ((vrc + Cj[col * d + r]) + (vcr + Cj[r * d + col]));
      Ci[col * d + r] = v;
      Ci[r * d + col] = v;
    } else {
      bi[t - 2 * dd] = w.u[t - 2 * dd];
    }
  }
  __syncthreads();
}

/// Element j of chain c into E: from F and c at level 0 (through Tm and u), else a copy of
/// src[c·n + j]. Ends synchronised.
template <class T>
__device__ void elk_load_dense(const ElkPass<T>& p, std::int64_t c, std::int64_t j, double* E,
                               const ElkCombineWork& w) {
  const std::int64_t d = p.d, dd = d * d, nt = blockDim.x;
  if (!p.level0) {
    const double* s = p.src.p + (c * p.level.n + j) * elk_dense_elems(d);
    for (std::int64_t e = threadIdx.x; e < elk_dense_elems(d); e += nt) E[e] = s[e];
    __syncthreads();
    return;
  }
  const T* Ft = p.F + (c * p.steps + j) * dd;
  const T* ct = p.c + (c * p.steps + j) * d;
  for (std::int64_t e = threadIdx.x; e < dd + d; e += nt) {
    if (e < dd) {
      w.Tm[e] = static_cast<double>(Ft[e]);
    } else {
      w.u[e - dd] = static_cast<double>(ct[e - dd]);
    }
  }
  __syncthreads();
  const bool first = j == 0;  // x_0 = 0 is known: A = η = J = 0
  for (std::int64_t t = threadIdx.x; t < 3 * dd + 2 * d; t += nt) {
    if (t < dd) {  // A
      E[t] = first ? 0.0 : p.om * w.Tm[t];
    } else if (t < 2 * dd) {  // C
      const std::int64_t e = t - dd;
      E[t] = e % d == e / d ? p.om : 0.0;
    } else if (t < 2 * dd + d) {  // b
      E[t] = p.om * w.u[t - 2 * dd];
    } else if (t < 3 * dd + d) {  // J = κ FᵀF
      const std::int64_t e = t - 2 * dd - d, r = e % d, col = e / d;
      double v = 0;
      if (!first)
        for (std::int64_t l = 0; l < d; ++l) v = fma(w.Tm[r * d + l], w.Tm[col * d + l], v);
      E[t] = p.kappa * v;
    } else {  // η = −κ Fᵀ c
      const std::int64_t r = t - 3 * dd - d;
      double v = 0;
      if (!first)
        for (std::int64_t l = 0; l < d; ++l) v = fma(w.Tm[r * d + l], w.u[l], v);
      E[t] = -p.kappa * v;
    }
  }
  __syncthreads();
}

/// Working memory of a dense block: a slot of global scratch, or dynamic shared memory.
__device__ inline double* elk_block_work(double* scratch, std::int64_t elems, unsigned char* smem) {
  return scratch ? scratch + std::int64_t{blockIdx.x} * elems : reinterpret_cast<double*>(smem);
}

/// Dense reduce passes (any level) and sweeps at levels ≥ 1: one block per (chain, chunk), the
/// running element folded sequentially over the chunk.
template <class T>
DYNX_KERNEL __launch_bounds__(kElkMaxThreads) void elk_dense_combine_kernel(const ElkPass<T> p) {
  extern __shared__ __align__(16) unsigned char smem[];
  const std::int64_t d = p.d, esz = elk_dense_elems(d), nt = blockDim.x;
  const ElkCombineWork w = elk_carve_combine(elk_block_work(p.scratch, p.scratch_elems, smem), d);
  const std::int64_t per_chain = p.chunks(), units = p.chains * per_chain;
  for (std::int64_t u = blockIdx.x; u < units; u += gridDim.x) {
    const std::int64_t c = u / per_chain, q = u % per_chain;
    if (__syncthreads_or(p.info[c] != 0)) continue;  // one answer for the whole block
    const std::int64_t begin = q * p.level.chunk, end = p.chunk_end(q);
    if (begin >= end) continue;
    std::int64_t j = begin;
    if (p.sweep && q > 0) {
      const double* in = p.incoming.p + (c * p.level.nch + q - 1) * esz;
      for (std::int64_t e = threadIdx.x; e < esz; e += nt) w.acc[e] = in[e];
      __syncthreads();
    } else {
      elk_load_dense(p, c, j, w.acc, w);
      if (p.sweep) {
        double* out = p.dst.p + (c * p.level.n + j) * esz;
        for (std::int64_t e = threadIdx.x; e < esz; e += nt) out[e] = w.acc[e];
      }
      ++j;
    }
    for (; j < end; ++j) {
      elk_load_dense(p, c, j, w.nxt, w);
      elk_combine_block(w.acc, w.nxt, w, d);
      if (p.sweep) {
        double* out = p.dst.p + (c * p.level.n + j) * esz;
        for (std::int64_t e = threadIdx.x; e < esz; e += nt) out[e] = w.acc[e];
      }
    }
    if (!p.sweep) {
      double* out = p.dst.p + (c * p.level.nch + q) * esz;
      for (std::int64_t e = threadIdx.x; e < esz; e += nt) out[e] = w.acc[e];
    }
    __syncthreads();  // the working memory is reused by the next unit
  }
}

/// One Kalman step of chain c at step t from (m, P) in w, writing x_t (the whole block; the CPU's
/// formulas, with the SPD solve by elimination instead of Cholesky). Flags the chain when the mean
/// is not finite. Starts and ends synchronised.
template <class T>
__device__ void elk_filter_step_block(const ElkPass<T>& p, std::int64_t c, std::int64_t t,
                                      const ElkFilterWork& w) {
  const std::int64_t d = p.d, dd = d * d, nt = blockDim.x;
  const T* Ft = p.F + (c * p.steps + t) * dd;
  const T* ct = p.c + (c * p.steps + t) * d;
  double* mp = w.R + dd;  // m⁻, the last column of R
  for (std::int64_t e = threadIdx.x; e < dd + d; e += nt) {
    if (e < dd) {
      w.Fs[e] = static_cast<double>(Ft[e]);
    } else {
      mp[e - dd] = static_cast<double>(ct[e - dd]);
    }
  }
  __syncthreads();
  // Tm = F P,  m⁻ = c + F m.
  for (std::int64_t e = threadIdx.x; e < dd + d; e += nt) {
    if (e < dd) {
      const std::int64_t r = e % d, col = e / d;
      double v = 0;
      for (std::int64_t l = 0; l < d; ++l) v = fma(w.Fs[l * d + r], w.P[col * d + l], v);
      w.Tm[e] = v;
    } else {
      const std::int64_t r = e - dd;
      double v = mp[r];
      for (std::int64_t l = 0; l < d; ++l) v = fma(w.Fs[l * d + r], w.m[l], v);
      mp[r] = v;
    }
  }
  __syncthreads();
  // P⁻ = Tm Fᵀ + I into R, S = P⁻ + σ² I.
  for (std::int64_t e = threadIdx.x; e < dd; e += nt) {
    const std::int64_t r = e % d, col = e / d;
    double v = r == col ? 1.0 : 0.0;
    for (std::int64_t l = 0; l < d; ++l) v = fma(w.Tm[l * d + r], w.Fs[l * d + col], v);
    w.R[e] = v;
    w.S[e] = r == col ? v + p.sigma2 : v;
  }
  __syncthreads();
  elk_eliminate(w.S, w.R, d + 1, d, w.piv);
  // m = σ² S⁻¹ m⁻ (written out), P = σ² S⁻¹ P⁻ symmetrised.
  bool bad = false;
  T* xt = p.x + (c * p.steps + t) * d;
  for (std::int64_t e = threadIdx.x; e < dd + d; e += nt) {
    if (e < dd) {
      const std::int64_t r = e % d, col = e / d;
      w.P[e] = 0.5 * p.sigma2 * (w.R[col * d + r] + w.R[r * d + col]);
    } else {
      const std::int64_t r = e - dd;
      const double v = p.sigma2 * mp[r];
      w.m[r] = v;
      xt[r] = static_cast<T>(v);
      bad |= !isfinite(v);
    }
  }
  if (bad) p.info[c] = p.fail_code;
  __syncthreads();
}

/// Dense level-0 sweeps: one block per (chain, chunk) filtering the chunk's steps from its
/// incoming prefix (or from x_0 = 0, P_0 = 0).
template <class T>
DYNX_KERNEL __launch_bounds__(kElkMaxThreads) void elk_dense_filter_kernel(const ElkPass<T> p) {
  extern __shared__ __align__(16) unsigned char smem[];
  const std::int64_t d = p.d, dd = d * d, nt = blockDim.x;
  const ElkFilterWork w = elk_carve_filter(elk_block_work(p.scratch, p.scratch_elems, smem), d);
  const std::int64_t nch = p.level.nch, units = p.chains * nch;
  for (std::int64_t u = blockIdx.x; u < units; u += gridDim.x) {
    const std::int64_t c = u / nch, q = u % nch;
    if (__syncthreads_or(p.info[c] != 0)) continue;
    const double* in = q > 0 ? p.incoming.p + (c * nch + q - 1) * elk_dense_elems(d) : nullptr;
    for (std::int64_t e = threadIdx.x; e < dd + d; e += nt) {
      if (e < dd) {
        w.P[e] = in ? in[dd + e] : 0.0;  // C block
      } else {
        w.m[e - dd] = in ? in[2 * dd + e - dd] : 0.0;  // b column
      }
    }
    __syncthreads();
    const std::int64_t end = p.chunk_end(q);
    for (std::int64_t t = q * p.level.chunk; t < end; ++t) elk_filter_step_block(p, c, t, w);
  }
}

// --- diagonal: five scalars per (step, unit) ----------------------------------------------------

struct ElkScalar {
  double A, b, C, eta, J;
};

/// i • j (earlier i, later j) for scalars, den = 1 + C_i J_j (spec §4.5).
__host__ __device__ inline ElkScalar elk_combine(const ElkScalar& i, const ElkScalar& j) {
  const double den = 1.0 + i.C * j.J;
  return {i.A * j.A / den, j.A * (i.C * j.eta + i.b) / den + j.b, i.C * j.A * j.A / den + j.C,
          i.A * (j.eta - j.J * i.b) / den + i.eta, j.J * i.A * i.A / den + i.J};
}

/// The level-0 element of one unit at one step (x_0 = 0 known at the first step).
__host__ __device__ inline ElkScalar elk_element(double f, double cv, bool first, double kappa,
                                                 double om) {
  if (first) return {0.0, om * cv, om, 0.0, 0.0};
  return {om * f, om * cv, om, -kappa * f * cv, kappa * f * f};
}

__device__ inline ElkScalar elk_read(const ElkElems& b, std::int64_t e, std::int64_t i,
                                     std::int64_t d) {
  const std::int64_t plane = b.count * d, at = e * d + i;
  return {b.p[kPlaneA * plane + at], b.p[kPlaneB * plane + at], b.p[kPlaneC * plane + at],
          b.p[kPlaneEta * plane + at], b.p[kPlaneJ * plane + at]};
}
__device__ inline void elk_write(const ElkElems& b, std::int64_t e, std::int64_t i, std::int64_t d,
                                 const ElkScalar& v) {
  const std::int64_t plane = b.count * d, at = e * d + i;
  b.p[kPlaneA * plane + at] = v.A;
  b.p[kPlaneB * plane + at] = v.b;
  b.p[kPlaneC * plane + at] = v.C;
  b.p[kPlaneEta * plane + at] = v.eta;
  b.p[kPlaneJ * plane + at] = v.J;
}

/// Every diagonal pass: one thread per (chain, chunk, unit), unit fastest (coalesced for d ≥ 32).
template <int BlockSize, class T>
DYNX_KERNEL __launch_bounds__(BlockSize) void elk_diag_kernel(const ElkPass<T> p) {
  const std::int64_t d = p.d, nq = p.chunks(), total = p.chains * nq * d;
  for (std::int64_t tid = std::int64_t{blockIdx.x} * BlockSize + threadIdx.x; tid < total;
       tid += std::int64_t{gridDim.x} * BlockSize) {
    const std::int64_t i = tid % d, rest = tid / d, q = rest % nq, c = rest / nq;
    if (p.info[c] != 0) continue;
    const std::int64_t begin = q * p.level.chunk, end = p.chunk_end(q);
    if (p.level0 && p.sweep) {
      // The CPU's scalar Kalman step.
      double m = 0, P = 0;
      if (q > 0) {
        const ElkScalar in = elk_read(p.incoming, c * p.level.nch + q - 1, i, d);
        m = in.b;
        P = in.C;
      }
      bool bad = false;
      for (std::int64_t t = begin; t < end; ++t) {
        const std::int64_t at = (c * p.steps + t) * d + i;
        const double fi = static_cast<double>(p.F[at]);
        const double pp = fi * fi * P + 1.0;
        const double g = p.sigma2 / (pp + p.sigma2);
        m = g * (fi * m + static_cast<double>(p.c[at]));
        P = g * pp;
        p.x[at] = static_cast<T>(m);
        bad |= !isfinite(m);
      }
      if (bad) p.info[c] = p.fail_code;
      continue;
    }
    auto element = [&](std::int64_t j) {
      if (!p.level0) return elk_read(p.src, c * p.level.n + j, i, d);
      const std::int64_t at = (c * p.steps + j) * d + i;
      return elk_element(static_cast<double>(p.F[at]), static_cast<double>(p.c[at]), j == 0,
                         p.kappa, p.om);
    };
    std::int64_t j = begin;
    ElkScalar acc;
    if (p.sweep && q > 0) {
      acc = elk_read(p.incoming, c * p.level.nch + q - 1, i, d);
    } else {
      acc = element(j++);
      if (p.sweep) elk_write(p.dst, c * p.level.n + begin, i, d, acc);
    }
    for (; j < end; ++j) {
      acc = elk_combine(acc, element(j));
      if (p.sweep) elk_write(p.dst, c * p.level.n + j, i, d, acc);
    }
    if (!p.sweep) elk_write(p.dst, c * p.level.nch + q, i, d, acc);
  }
}

// --- status -------------------------------------------------------------------------------------

/// info[chain] = code for every chain with a non-finite entry in F (fsz per step) or c (d per
/// step). One thread per entry; other entries of info are left as they are.
template <int BlockSize, class T>
DYNX_KERNEL __launch_bounds__(BlockSize) void elk_check_kernel(
    const T* __restrict__ F, std::int64_t fsz, const T* __restrict__ c, std::int64_t d,
    std::int64_t steps, std::int64_t chains, std::int32_t code, std::int32_t* __restrict__ info) {
  const std::int64_t nf = chains * steps * fsz, total = nf + chains * steps * d;
  for (std::int64_t e = std::int64_t{blockIdx.x} * BlockSize + threadIdx.x; e < total;
       e += std::int64_t{gridDim.x} * BlockSize) {
    const bool f = e < nf;
    const T v = f ? F[e] : c[e - nf];
    if (!isfinite(v)) info[f ? e / (steps * fsz) : (e - nf) / (steps * d)] = code;
  }
}

/// x of every chain whose info is set becomes NaN (per_chain entries each).
template <int BlockSize, class T>
DYNX_KERNEL __launch_bounds__(BlockSize) void elk_nan_fill_kernel(
    T* __restrict__ x, std::int64_t per_chain, std::int64_t chains,
    const std::int32_t* __restrict__ info) {
  for (std::int64_t c = blockIdx.y; c < chains; c += gridDim.y) {
    if (info[c] == 0) continue;
    for (std::int64_t e = std::int64_t{blockIdx.x} * BlockSize + threadIdx.x; e < per_chain;
         e += std::int64_t{gridDim.x} * BlockSize)
      x[c * per_chain + e] = NanOf<T>::value();
  }
}

// ------------------------------------------------------------------------------------------------
// ELK: planning (pure host functions) and the level recursion
// ------------------------------------------------------------------------------------------------

/// Chunks are at least this long (dense: a combine costs ~2.5 Kalman steps; diagonal: a step is
/// two loads, so short chunks only add passes).
inline constexpr std::int64_t kElkDenseMinChunk = 8;
inline constexpr std::int64_t kElkDiagMinChunk = 32;
/// A level of at most this many elements per chain is swept by one unit per chain.
inline constexpr std::int64_t kElkDenseSeqMax = 16;
inline constexpr std::int64_t kElkDiagSeqMax = 64;

/// Level 0 cuts the steps into k0 chunks; each level above scans the chunk totals of the one below
/// (in one chunk once there are at most seq_max, else in chunks of ≈ √n), up to one chunk per
/// chain.
inline std::vector<ElkLevel> elk_plan_levels(std::int64_t steps, std::int64_t k0,
                                             std::int64_t seq_max) {
  std::vector<ElkLevel> levels;
  std::int64_t n = steps, k = k0;
  for (;;) {
    k = k < 1 ? 1 : (k > n ? n : k);
    const std::int64_t chunk = (n + k - 1) / k, nch = (n + chunk - 1) / chunk;
    levels.push_back({n, chunk, nch});
    if (nch == 1) break;
    n = nch;
    if (n <= seq_max) {
      k = 1;
    } else {
      const auto root = static_cast<std::int64_t>(std::ceil(std::sqrt(static_cast<double>(n))));
      k = (n + root - 1) / root;
    }
  }
  return levels;
}

/// Chunks per chain at level 0: dense, about `target_units` (chain, chunk) blocks in all; diagonal,
/// about `target_units` threads (chain, chunk, unit). One when the chains alone fill the device.
inline std::int64_t elk_chunks_per_chain(std::int64_t d, std::int64_t steps, std::int64_t chains,
                                         bool diagonal, std::int64_t target_units) {
  const std::int64_t per_chain = diagonal ? chains * d : chains;
  if (per_chain <= 0 || per_chain >= target_units) return 1;
  const std::int64_t min_chunk = diagonal ? kElkDiagMinChunk : kElkDenseMinChunk;
  const std::int64_t by_target = (target_units + per_chain - 1) / per_chain;
  const std::int64_t by_length = steps / min_chunk > 1 ? steps / min_chunk : 1;
  return by_target < by_length ? by_target : by_length;
}

/// Bytes of the element buffers of a plan: chunk totals and their prefixes at every level with
/// more than one chunk.
inline std::size_t elk_buffer_bytes(const std::vector<ElkLevel>& levels, std::int64_t chains,
                                    std::int64_t d, bool diagonal) {
  std::size_t bytes = 0;
  for (const ElkLevel& l : levels)
    if (l.nch > 1)
      bytes += 2 * static_cast<std::size_t>(chains * l.nch * elk_elem_doubles(d, diagonal)) *
               sizeof(double);
  return bytes;
}

/// The scan over all levels: reduce level k into its chunk totals, scan the totals one level up
/// (their prefixes land in pref[k]), then sweep level k from those prefixes; level 0's sweep writes
/// x. tot[k] and pref[k] hold chains·levels[k].nch elements. `launch(pass)` runs one pass.
template <class T, class Launch>
void elk_run_levels(ElkPass<T> p, const std::vector<ElkLevel>& levels,
                    const std::vector<ElkElems>& tot, const std::vector<ElkElems>& pref,
                    std::size_t k, ElkElems src, ElkElems dst, Launch& launch) {
  p.level = levels[k];
  p.level0 = k == 0;
  p.src = src;
  p.incoming = ElkElems{};
  if (levels[k].nch > 1) {
    p.sweep = false;
    p.dst = tot[k];
    launch(static_cast<const ElkPass<T>&>(p));
    elk_run_levels(p, levels, tot, pref, k + 1, tot[k], pref[k], launch);
    p.incoming = pref[k];
  }
  p.sweep = true;
  p.dst = dst;
  launch(static_cast<const ElkPass<T>&>(p));
}

}  // namespace dynx::cuda::kernels
