#pragma once
/// \file math/goom.hpp
/// Generalized orders of magnitude (GOOMs; Heinsen & Kozachkov, TMLR 2025; spec goom.md §1–2):
/// a real number carried as its log-magnitude and a sign, so that products are sums and nothing
/// overflows; and the scaled-float alternative for matrices (spec §3.5): a float matrix whose rows
/// are kept in [1, 2) by per-row power-of-two exponents. Header-only, DYNX_HD: the same code serves
/// the CPU backend, host tests and CUDA kernels.
///
/// Goom<T> stores the sign as a bit (Im g ∈ {0, π} of the complex form, never accumulated as k·π:
/// spec §1.4, pitfall 1), so products of any length keep an exact sign. Special values (§1.4):
///   x > 0 → (ln x, +),  x < 0 → (ln|x|, −),  ±0 → (−inf, sign of the zero),  ±inf → (+inf, ±),
///   NaN → (NaN, +). Exporting a GOOM below the float range gives ±0, above it ±inf.
/// Precision: the absolute error of logmag is the relative error of the value, so it grows with
/// |logmag| (about |logmag| · eps): use Goom<double> or the scaled-float format for long chains.

#include <dynx/math/hd.hpp>

#include <cmath>
#include <complex>
#include <cstdint>
#include <cstring>
#include <limits>

namespace dynx::math {

template <class T>
struct Goom {
  T logmag;  ///< ln|x| (−inf for zero, +inf for an infinity, NaN for NaN)
  bool neg;  ///< the sign of x
};

template <class T>
DYNX_HD constexpr T goom_pi() {
  return T(3.14159265358979323846264338327950288);
}

/// x → (ln|x|, x < 0); zeros keep their sign bit, NaN maps to (NaN, +).
template <class T>
DYNX_HD Goom<T> goom_from_real(T x) {
  if (x != x) return {x, false};
  return {std::log(std::fabs(x)), std::signbit(x)};
}

/// sign · exp(logmag): ±0 below the float range, ±inf above it, NaN for NaN.
template <class T>
DYNX_HD T goom_to_real(Goom<T> g) {
  const T m = std::exp(g.logmag);
  return g.neg ? -m : m;
}

/// From the complex form re + i·im: the sign is the parity of the nearest multiple of π to im (so
/// rounding in im, including accumulated k·π, does not flip it). Non-finite im gives NaN.
template <class T>
DYNX_HD Goom<T> goom_from_complex_parts(T re, T im) {
  if (!(std::fabs(im) <= std::numeric_limits<T>::max())) return {std::numeric_limits<T>::quiet_NaN(), false};
  const T k = std::nearbyint(im / goom_pi<T>());
  const T half = k * T(0.5);
  return {re, std::floor(half) != half};  // k odd
}

/// The complex form (logmag, 0 or π), e.g. to exchange complex64/complex128 GOOM tensors.
template <class T>
inline std::complex<T> goom_to_complex(Goom<T> g) {
  return {g.logmag, g.neg ? goom_pi<T>() : T(0)};
}
template <class T>
inline Goom<T> goom_from_complex(std::complex<T> z) {
  return goom_from_complex_parts(z.real(), z.imag());
}

/// Product: logs add, signs multiply. (−inf) + (+inf) = NaN is 0 · inf, as for floats.
template <class T>
DYNX_HD Goom<T> goom_mul(Goom<T> a, Goom<T> b) {
  return {a.logmag + b.logmag, a.neg != b.neg};
}
template <class T>
DYNX_HD Goom<T> goom_div(Goom<T> a, Goom<T> b) {
  return {a.logmag - b.logmag, a.neg != b.neg};
}
template <class T>
DYNX_HD Goom<T> goom_reciprocal(Goom<T> a) {
  return {-a.logmag, a.neg};
}
template <class T>
DYNX_HD Goom<T> goom_negate(Goom<T> a) {
  return {a.logmag, !a.neg};
}

/// Sum by signed log-add-exp with the larger term as the shift (per element, never a global max:
/// spec §2): with d = r_small − r_big ≤ 0, ln|y| = r_big + log1p(±exp(d)), accurate to a few ulps
/// of the result except under cancellation, whose relative error is that of float subtraction
/// (eps · exp(r_big − r_result)). Exact cancellation gives (−inf, +). (+inf) + (−inf) = NaN.
template <class T>
DYNX_HD Goom<T> goom_add(Goom<T> a, Goom<T> b) {
  if (a.logmag != a.logmag || b.logmag != b.logmag)
    return {std::numeric_limits<T>::quiet_NaN(), false};
  const Goom<T>& big = a.logmag >= b.logmag ? a : b;
  const Goom<T>& small = a.logmag >= b.logmag ? b : a;
  const T inf = std::numeric_limits<T>::infinity();
  if (big.logmag == -inf) return {-inf, big.neg && small.neg};  // 0 + 0 (−0 only for −0 + −0)
  if (big.logmag == inf) {
    if (small.logmag == inf && small.neg != big.neg) return {std::numeric_limits<T>::quiet_NaN(), false};
    return big;
  }
  const T e = std::exp(small.logmag - big.logmag);  // ≤ 1; 0 when small is zero
  if (small.neg == big.neg) return {big.logmag + std::log1p(e), big.neg};
  if (e == T(1)) return {-inf, false};  // exact cancellation
  return {big.logmag + std::log1p(-e), big.neg};
}

/// Monoids (apply x first, then y; both commutative here).
template <class T>
struct GoomMul {
  DYNX_HD Goom<T> operator()(Goom<T> x, Goom<T> y) const { return goom_mul(x, y); }
  DYNX_HD static Goom<T> identity() { return {T(0), false}; }
};
template <class T>
struct GoomAdd {
  DYNX_HD Goom<T> operator()(Goom<T> x, Goom<T> y) const { return goom_add(x, y); }
  DYNX_HD static Goom<T> identity() { return {-std::numeric_limits<T>::infinity(), false}; }
};

// ------------------------------------------------------------------------------------------------
// Scaled-float matrices (spec §3.5): P = diag(2^e) · M, rows of M with max |entry| in [1, 2) (or
// all zero, exponent 0). Exponents are exact integers, mantissas keep the float's relative
// precision at any magnitude, and a product costs a GEMM plus power-of-two scalings (no
// transcendental functions). Column-major n × n blocks.

/// IEEE layout of float and double, for exponent arithmetic on the bits.
template <class T>
struct FloatBits;
template <>
struct FloatBits<float> {
  using U = std::uint32_t;
  static constexpr int kMantissa = 23, kBias = 127, kMaxExp = 127;
};
template <>
struct FloatBits<double> {
  using U = std::uint64_t;
  static constexpr int kMantissa = 52, kBias = 1023, kMaxExp = 1023;
};

/// Binary exponent of |x| (floor(log2|x|)) for a finite nonzero x: read from the bits for normal
/// numbers (frexp is a library call on the host), frexp for subnormals.
template <class T>
DYNX_HD int scaled_exponent(T x) {
  using B = FloatBits<T>;
  typename B::U bits;
  std::memcpy(&bits, &x, sizeof x);
  const int e = int((bits >> B::kMantissa) & typename B::U((1 << (sizeof(T) == 4 ? 8 : 11)) - 1));
  if (e != 0) return e - B::kBias;
  int f = 0;
  std::frexp(x, &f);  // subnormal: x = m · 2^f, |m| ∈ [0.5, 1)
  return f - 1;
}

/// 2^k, exactly, built from the bits in the normal range (ldexp outside it: 0, subnormal or inf).
template <class T>
DYNX_HD T pow2(int k) {
  using B = FloatBits<T>;
  if (k < 1 - B::kBias || k > B::kMaxExp) return std::ldexp(T(1), k);
  const typename B::U bits = typename B::U(k + B::kBias) << B::kMantissa;
  T r;
  std::memcpy(&r, &bits, sizeof r);
  return r;
}

/// x · 2^k rounded once, as ldexp(x, k), for any int k (clamped to a range where the result is
/// already 0 or inf for every finite x).
template <class T>
DYNX_HD T times_pow2(T x, std::int64_t k) {
  using B = FloatBits<T>;
  constexpr int kLim = 2 * B::kMaxExp + B::kMantissa + 2;
  const int kk = k < -kLim ? -kLim : k > kLim ? kLim : int(k);
  // Within the normal range of 2^k one exact multiplication; beyond it, split in two factors
  // (the first exact, the second rounding once).
  if (kk >= 1 - B::kBias && kk <= B::kMaxExp) return x * pow2<T>(kk);
  const int half = kk / 2;
  return (x * pow2<T>(half)) * pow2<T>(kk - half);
}

/// Brings every row of the rows × cols matrix m (leading dimension ld) to max |entry| ∈ [1, 2) by
/// exact power-of-two scaling, adding the shifts to `e` (one exponent per row). All-zero rows are
/// left as they are; a row with NaN/Inf is left as it is and its NaN/Inf propagates.
template <class T>
DYNX_HD void scaled_normalize_rows(std::int64_t rows, std::int64_t cols, T* m, std::int64_t ld,
                                   std::int64_t* e) {
  for (std::int64_t i = 0; i < rows; ++i) {
    T big = 0;  // (a NaN entry compares false and is passed over, as fmax would)
    for (std::int64_t j = 0; j < cols; ++j) {
      const T a = std::fabs(m[j * ld + i]);
      big = a > big ? a : big;
    }
    if (!(big > T(0)) || !(big <= std::numeric_limits<T>::max())) continue;
    const int s = scaled_exponent(big);
    for (std::int64_t j = 0; j < cols; ++j) m[j * ld + i] = times_pow2(m[j * ld + i], -s);
    e[i] += s;
  }
}

/// The product (2^e1 ⊙ M1)(2^e2 ⊙ M2) of n × n scaled-float matrices, "apply 2 first, then 1"
/// written as out = P1 · P2 (column-major, leading dimension n). The exponents of P2's rows are
/// folded into M1 two-sidedly (spec §3.5): with s_i = max_l (exponent(M1_il) + e2_l),
/// M1'_il = M1_il · 2^(e2_l − s_i), so each output row keeps its dominant terms; then
/// out_M = M1' M2 renormalised and out_e_i = e1_i + s_i + shift_i. `scratch` holds n·n entries.
/// Terms more than 2^-(mantissa range) below a row's dominant term are dropped, as in LMME.
template <class T>
DYNX_HD void scaled_matmul(std::int64_t n, const T* m1, const std::int64_t* e1, const T* m2,
                           const std::int64_t* e2, T* out_m, std::int64_t* out_e, T* scratch) {
  for (std::int64_t i = 0; i < n; ++i) {
    std::int64_t s = std::numeric_limits<std::int64_t>::min();
    for (std::int64_t l = 0; l < n; ++l) {
      const T v = m1[l * n + i];
      if (v != T(0)) {
        const std::int64_t x = std::int64_t(scaled_exponent(v)) + e2[l];
        s = x > s ? x : s;
      }
    }
    if (s == std::numeric_limits<std::int64_t>::min()) s = 0;  // a zero row
    for (std::int64_t l = 0; l < n; ++l) {
      // ≤ 0 for every nonzero term; far below the float range the term flushes to 0.
      scratch[l * n + i] = times_pow2(m1[l * n + i], e2[l] - s);
    }
    out_e[i] = e1[i] + s;
  }
  for (std::int64_t j = 0; j < n; ++j)
    for (std::int64_t i = 0; i < n; ++i) {
      T acc = 0;
      for (std::int64_t l = 0; l < n; ++l) acc += scratch[l * n + i] * m2[j * n + l];
      out_m[j * n + i] = acc;
    }
  scaled_normalize_rows(n, n, out_m, n, out_e);
}

/// Entry (i, j) of a scaled-float matrix as a GOOM: (ln|M_ij| + e_i ln 2, sign M_ij).
template <class T>
DYNX_HD Goom<double> scaled_entry_goom(T mij, std::int64_t ei) {
  const Goom<double> g = goom_from_real(double(mij));
  return {g.logmag + double(ei) * 0.693147180559945309417232121458176568, g.neg};
}

}  // namespace dynx::math
