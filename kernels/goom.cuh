#pragma once
// GOOM kernels (spec goom.md §1–3): element-wise conversion between reals and GOOMs, and the
// passes of log-matmul-exp around the real GEMM. The per-row helpers at the top (two-sided LMME
// scaling, scaled-float rows) are shared with kernels/scan.cuh, whose combines are the same
// operations on shared-memory or workspace matrices; they follow math::scaled_matmul and the CPU
// backend formula for formula, so that the backends differ only in rounding.
//
// LMME arithmetic is done in the compute type C (T, or double for InnerPrecision::f64) exactly as
// in the CPU backend, so the two differ only by the order of the GEMM's sums and the ulps of
// exp/log.

#include "kernels/common.cuh"

#include <dynx/math/goom.hpp>

#include <cstdint>
#include <limits>

namespace dynx::cuda::kernels {

/// MatrixStatus::non_finite as stored in the per-item info arrays.
inline constexpr std::int32_t kNonFiniteStatus = 3;

/// A GOOM logmag that makes its item non_finite: NaN or +∞ (−∞ is an exact zero).
template <class T>
__device__ inline bool goom_bad(T x) {
  return !(x < std::numeric_limits<T>::infinity());
}

// --- LMME with two-sided scaling (spec §3.4), one row at a time ----------------------------------
// Formula for formula the CPU backend's lmme_one<T, C> (src/cpu/goom_formats.hpp): scale
// arithmetic, exponentials, the GEMM and the final log all in the compute type C (T, or double for
// InnerPrecision::f64), rounded to T once at the end. Matrices are column-major: entry (i, j) at
// p[j * ld + i]. Threads that handle consecutive rows read consecutive addresses, so these loops
// coalesce in global memory and are free of bank conflicts in shared memory.

template <class C>
__device__ inline C minus_inf_of() {
  return -std::numeric_limits<C>::infinity();
}

/// r = max_j lm(row, j) over `cols` entries, in C; −∞ for an all −∞ row. NaN entries are skipped
/// (fmax); callers flag them separately.
template <class C, class T>
__device__ inline C goom_row_max(const T* lm, std::int64_t ld, std::int64_t row,
                                 std::int64_t cols) {
  C r = minus_inf_of<C>();
  for (std::int64_t j = 0; j < cols; ++j) r = fmax(r, static_cast<C>(lm[j * ld + row]));
  return r;
}

/// Row `row` of the right operand scaled by its own maximum r: y(row, j) = ±exp(lm − r), or 0 for
/// the whole row when r = −∞.
template <class C, class T>
__device__ inline void lmme_right_row(const T* lm, std::int64_t ld, const std::uint8_t* ng,
                                      std::int64_t ld_neg, std::int64_t row, std::int64_t cols, C r,
                                      C* y, std::int64_t ldy) {
  const bool zero = r == minus_inf_of<C>();
  for (std::int64_t j = 0; j < cols; ++j) {
    C v = 0;
    if (!zero) {
      v = exp(static_cast<C>(lm[j * ld + row]) - r);
      if (ng[j * ld_neg + row]) v = -v;
    }
    y[j * ldy + row] = v;
  }
}

/// Row `row` of the left operand with the right operand's row maxima r (k of them) folded into its
/// columns: returns a = max_l (lm(row, l) + r_l) and writes x(row, l) = ±exp((lm + r_l) − a), or 0
/// where a or r_l is −∞.
template <class C, class T>
__device__ inline C lmme_left_row(const T* lm, std::int64_t ld, const std::uint8_t* ng,
                                  std::int64_t ld_neg, std::int64_t row, std::int64_t k, const C* r,
                                  C* x, std::int64_t ldx) {
  const C ninf = minus_inf_of<C>();
  C a = ninf;
  for (std::int64_t l = 0; l < k; ++l) a = fmax(a, static_cast<C>(lm[l * ld + row]) + r[l]);
  for (std::int64_t l = 0; l < k; ++l) {
    C v = 0;
    if (r[l] != ninf && a != ninf) {
      v = exp((static_cast<C>(lm[l * ld + row]) + r[l]) - a);
      if (ng[l * ld_neg + row]) v = -v;
    }
    x[l * ldx + row] = v;
  }
  return a;
}

/// The GOOM of z · e^a rounded to T: (ln|z| + a, z < 0), or (−∞, +) when z = 0 or a = −∞.
template <class T, class C>
__device__ inline void lmme_entry(C z, C a, T* lm, std::uint8_t* neg) {
  const bool zero = z == C(0) || a == minus_inf_of<C>();
  *lm = zero ? -std::numeric_limits<T>::infinity() : static_cast<T>(log(fabs(z)) + a);
  *neg = (!zero && z < C(0)) ? 1 : 0;
}

// --- scaled-float rows (spec §3.5; the CPU ScaledFormat, one row at a time) ----------------------

/// Brings row `row` of z to max |entry| ∈ [1, 2) by an exact power-of-two shift, writing it to m
/// (which may be z), and returns the shift. All-zero rows and rows with NaN/Inf are copied as they
/// are (shift 0), as in math::scaled_normalize_rows.
template <class Z, class S>
__device__ inline int scaled_normalize_row(const Z* z, std::int64_t ldz, std::int64_t row,
                                           std::int64_t cols, S* m, std::int64_t ldm) {
  S big = 0;
  for (std::int64_t j = 0; j < cols; ++j) big = fmax(big, fabs(static_cast<S>(z[j * ldz + row])));
  if (!(big > S(0)) || !(big <= std::numeric_limits<S>::max())) {
    if (static_cast<const void*>(z) != static_cast<const void*>(m))
      for (std::int64_t j = 0; j < cols; ++j) m[j * ldm + row] = static_cast<S>(z[j * ldz + row]);
    return 0;
  }
  const int s = math::scaled_exponent(big);
  for (std::int64_t j = 0; j < cols; ++j)
    m[j * ldm + row] = math::times_pow2(static_cast<S>(z[j * ldz + row]), -s);
  return s;
}

/// A real row as a scaled-float row: m = x normalised, *e = its exponent.
template <class T, class S>
__device__ inline void scaled_row_from_real(const T* x, std::int64_t ldx, std::int64_t row,
                                            std::int64_t cols, S* m, std::int64_t ldm,
                                            std::int64_t* e) {
  *e = scaled_normalize_row(x, ldx, row, cols, m, ldm);
}

inline constexpr double kLn2 = 0.693147180559945309417232121458176568;

/// A GOOM logmag row beyond this (in absolute value) cannot be held by the int64 row exponent of
/// the scaled format; the CPU backend reports its chain non_finite, and so do we.
inline constexpr double kScaledMaxLogmag = 3e18;

/// A GOOM row as a scaled-float row (the CPU ScaledFormat::load_goom): with L = the row's largest
/// logmag and e0 = floor(L / ln 2), m = ±exp(lm − e0·ln 2) (in double) normalised, *e = e0 + the
/// normalising shift. An all −∞ row is the zero row (exponent 0). Rows that make a chain
/// non_finite give garbage.
template <class T, class S>
__device__ inline void scaled_row_from_goom(const T* lm, std::int64_t ld, const std::uint8_t* ng,
                                            std::int64_t ld_neg, std::int64_t row,
                                            std::int64_t cols, S* m, std::int64_t ldm,
                                            std::int64_t* e) {
  const double big = goom_row_max<double>(lm, ld, row, cols);
  std::int64_t e0 = 0;
  if (big > minus_inf_of<double>() && fabs(big) <= kScaledMaxLogmag)
    e0 = static_cast<std::int64_t>(floor(big / kLn2));
  for (std::int64_t j = 0; j < cols; ++j) {
    const double v = exp(static_cast<double>(lm[j * ld + row]) - static_cast<double>(e0) * kLn2);
    m[j * ldm + row] = static_cast<S>(ng[j * ld_neg + row] ? -v : v);
  }
  *e = e0 + scaled_normalize_row(m, ldm, row, cols, m, ldm);
}

/// The two-sided exponent fold of math::scaled_matmul for row `row` of the left factor m1 (n × n)
/// against the right factor's row exponents e2: s = max_l (exponent(m1(row, l)) + e2_l) (0 for a
/// zero row), x(row, l) = m1(row, l) · 2^(e2_l − s). Returns s; the product's row exponent is
/// e1_row + s (+ the normalising shift of the product row).
template <class S>
__device__ inline std::int64_t scaled_fold_row(const S* m1, std::int64_t ld1,
                                               const std::int64_t* e2, std::int64_t row,
                                               std::int64_t n, S* x, std::int64_t ldx) {
  constexpr std::int64_t kNone = std::numeric_limits<std::int64_t>::min();
  std::int64_t s = kNone;
  for (std::int64_t l = 0; l < n; ++l) {
    const S v = m1[l * ld1 + row];
    if (v != S(0)) {
      const std::int64_t t = static_cast<std::int64_t>(math::scaled_exponent(v)) + e2[l];
      s = t > s ? t : s;
    }
  }
  if (s == kNone) s = 0;
  // Shifts ≤ −exponent(m1(row, l)) for nonzero terms; far below the format's range a term flushes
  // to 0 (times_pow2 rounds once, as ldexp).
  for (std::int64_t l = 0; l < n; ++l)
    x[l * ldx + row] = math::times_pow2(m1[l * ld1 + row], e2[l] - s);
  return s;
}

/// Entry (i, j) of a scaled-float matrix as a GOOM rounded to T (the CPU ScaledFormat::store):
/// (ln|m| + e_i ln 2 in double, m < 0), −∞ for m = 0.
template <class T, class S>
__device__ inline void scaled_entry(S m, std::int64_t e, T* lm, std::uint8_t* neg) {
  *lm = m == S(0)
            ? -std::numeric_limits<T>::infinity()
            : static_cast<T>(log(fabs(static_cast<double>(m))) + static_cast<double>(e) * kLn2);
  *neg = m < S(0) ? 1 : 0;
}

// --- element-wise conversion ---------------------------------------------------------------------

/// real = ±exp(logmag + shift), in T as in the CPU backend.
template <int BlockSize, class T>
DYNX_KERNEL __launch_bounds__(BlockSize) void goom_to_real_kernel(
    const T* __restrict__ d_lm, std::int64_t ld_lm, std::int64_t stride_lm,
    const std::uint8_t* __restrict__ d_neg, std::int64_t ld_neg, std::int64_t stride_neg,
    T* __restrict__ d_x, std::int64_t ldx, std::int64_t stride_x, std::int64_t m, std::int64_t n,
    std::int64_t count, T shift) {
  const std::int64_t elems = m * n;
  for (std::int64_t k = blockIdx.y; k < count; k += gridDim.y) {
    for (std::int64_t e = std::int64_t{blockIdx.x} * BlockSize + threadIdx.x; e < elems;
         e += std::int64_t{gridDim.x} * BlockSize) {
      const std::int64_t i = e % m, j = e / m;
      const T r = exp(d_lm[k * stride_lm + j * ld_lm + i] + shift);
      d_x[k * stride_x + j * ldx + i] = d_neg[k * stride_neg + j * ld_neg + i] ? -r : r;
    }
  }
}

/// (logmag, neg) = GOOM(x): ln|x| (−∞ for ±0, NaN for NaN), neg = signbit(x) (0 for NaN).
template <int BlockSize, class T>
DYNX_KERNEL __launch_bounds__(BlockSize) void goom_from_real_kernel(
    const T* __restrict__ d_x, std::int64_t ldx, std::int64_t stride_x, T* __restrict__ d_lm,
    std::int64_t ld_lm, std::int64_t stride_lm, std::uint8_t* __restrict__ d_neg,
    std::int64_t ld_neg, std::int64_t stride_neg, std::int64_t m, std::int64_t n,
    std::int64_t count) {
  const std::int64_t elems = m * n;
  for (std::int64_t k = blockIdx.y; k < count; k += gridDim.y) {
    for (std::int64_t e = std::int64_t{blockIdx.x} * BlockSize + threadIdx.x; e < elems;
         e += std::int64_t{gridDim.x} * BlockSize) {
      const std::int64_t i = e % m, j = e / m;
      const math::Goom<T> g = math::goom_from_real(d_x[k * stride_x + j * ldx + i]);
      d_lm[k * stride_lm + j * ld_lm + i] = g.logmag;
      d_neg[k * stride_neg + j * ld_neg + i] = g.neg ? 1 : 0;
    }
  }
}

// --- log-matmul-exp ------------------------------------------------------------------------------
// Per item: (1) rows of B: r (row maxima) and Y = ±exp(B − r); (2) rows of A: a (row maxima of
// A + r) and X = ±exp(A + r − a); (3) Z = X·Y by cuBLAS; (4) C = (ln|Z| + a, Z < 0). Items are
// numbered by the buffers they produce: B item kb (ny of them: 1 when B is broadcast), A item kx
// (nx of them: 1 when both are broadcast). A thread handles one row of one item.

/// Rows of B: r[kb·k + l], y (packed k × n per item) and flag_b[kb] = 1 where B holds NaN / +∞.
/// C is the compute type (r, y, and later x, a and Z).
template <int BlockSize, class T, class C>
DYNX_KERNEL __launch_bounds__(BlockSize) void lmme_right_kernel(
    const T* __restrict__ d_b, std::int64_t ldb, std::int64_t stride_b,
    const std::uint8_t* __restrict__ d_bneg, std::int64_t ld_bneg, std::int64_t stride_bneg,
    std::int64_t k, std::int64_t n, std::int64_t ny, C* __restrict__ d_r, C* __restrict__ d_y,
    std::int32_t* __restrict__ d_flag) {
  const std::int64_t rows = ny * k;
  for (std::int64_t t = std::int64_t{blockIdx.x} * BlockSize + threadIdx.x; t < rows;
       t += std::int64_t{gridDim.x} * BlockSize) {
    const std::int64_t kb = t / k, l = t % k;
    const T* b = d_b + kb * stride_b;
    bool bad = false;
    for (std::int64_t j = 0; j < n; ++j) bad |= goom_bad(b[j * ldb + l]);
    if (bad) d_flag[kb] = 1;
    const C r = goom_row_max<C>(b, ldb, l, n);
    d_r[t] = r;
    lmme_right_row(b, ldb, d_bneg + kb * stride_bneg, ld_bneg, l, n, r, d_y + kb * k * n, k);
  }
}

/// Rows of A: a[kx·m + i], x (packed m × k per item) and flag_a[kx] = 1 where A holds NaN / +∞.
/// The row maxima r of item kx are those of B item (ny == 1 ? 0 : kx).
template <int BlockSize, class T, class C>
DYNX_KERNEL __launch_bounds__(BlockSize) void lmme_left_kernel(
    const T* __restrict__ d_a, std::int64_t lda, std::int64_t stride_a,
    const std::uint8_t* __restrict__ d_aneg, std::int64_t ld_aneg, std::int64_t stride_aneg,
    std::int64_t m, std::int64_t k, std::int64_t nx, std::int64_t ny, const C* __restrict__ d_r,
    C* __restrict__ d_scale, C* __restrict__ d_x, std::int32_t* __restrict__ d_flag) {
  const std::int64_t rows = nx * m;
  for (std::int64_t t = std::int64_t{blockIdx.x} * BlockSize + threadIdx.x; t < rows;
       t += std::int64_t{gridDim.x} * BlockSize) {
    const std::int64_t kx = t / m, i = t % m;
    const T* a = d_a + kx * stride_a;
    bool bad = false;
    for (std::int64_t l = 0; l < k; ++l) bad |= goom_bad(a[l * lda + i]);
    if (bad) d_flag[kx] = 1;
    const C* r = d_r + (ny == 1 ? 0 : kx) * k;
    d_scale[t] =
        lmme_left_row(a, lda, d_aneg + kx * stride_aneg, ld_aneg, i, k, r, d_x + kx * m * k, m);
  }
}

/// info[item] = non_finite where its A or B item was flagged, else 0.
template <int BlockSize>
DYNX_KERNEL __launch_bounds__(BlockSize) void lmme_status_kernel(
    const std::int32_t* __restrict__ d_flag_a, std::int64_t nx,
    const std::int32_t* __restrict__ d_flag_b, std::int64_t ny, std::int64_t count,
    std::int32_t* __restrict__ d_info) {
  for (std::int64_t t = std::int64_t{blockIdx.x} * BlockSize + threadIdx.x; t < count;
       t += std::int64_t{gridDim.x} * BlockSize) {
    const bool bad = d_flag_a[nx == 1 ? 0 : t] != 0 || d_flag_b[ny == 1 ? 0 : t] != 0;
    d_info[t] = bad ? kNonFiniteStatus : 0;
  }
}

/// C(i, j) = (ln|Z(i, j)| + a_i, Z < 0) rounded to T; NaN logmag (neg 0) for items with a bad
/// status.
/// d_z == nullptr means Z = 0 (k = 0). Z item: (nz == 1 ? 0 : item), packed m × n.
template <int BlockSize, class T, class C>
DYNX_KERNEL __launch_bounds__(BlockSize) void lmme_epilogue_kernel(
    const C* __restrict__ d_z, std::int64_t nz, const C* __restrict__ d_scale, std::int64_t nx,
    const std::int32_t* __restrict__ d_info, T* __restrict__ d_c, std::int64_t ldc,
    std::int64_t stride_c, std::uint8_t* __restrict__ d_cneg, std::int64_t ld_cneg,
    std::int64_t stride_cneg, std::int64_t m, std::int64_t n, std::int64_t count) {
  const std::int64_t elems = m * n;
  for (std::int64_t kc = blockIdx.y; kc < count; kc += gridDim.y) {
    const bool bad = d_info[kc] != 0;
    const C* z = d_z ? d_z + (nz == 1 ? 0 : kc) * m * n : nullptr;
    const C* a = d_scale + (nx == 1 ? 0 : kc) * m;
    for (std::int64_t e = std::int64_t{blockIdx.x} * BlockSize + threadIdx.x; e < elems;
         e += std::int64_t{gridDim.x} * BlockSize) {
      const std::int64_t i = e % m, j = e / m;
      T lm = NanOf<T>::value();
      std::uint8_t neg = 0;
      if (!bad) lmme_entry(z ? z[e] : C(0), a[i], &lm, &neg);
      d_c[kc * stride_c + j * ldc + i] = lm;
      d_cneg[kc * stride_cneg + j * ld_cneg + i] = neg;
    }
  }
}

}  // namespace dynx::cuda::kernels
