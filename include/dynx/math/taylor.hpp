#pragma once
/// \file math/taylor.hpp
/// Feature maps of the symmetry-aware Taylor attention kernel (spec attention.md §3–4), DYNX_HD so
/// that the CPU backend and CUDA kernels build the same features.
///
/// For x ∈ R^d and degree p, ψ_p(x) holds one feature per multiset a of p indices (an exponent
/// vector with |a| = p): ψ_p(x)_a = x^a / sqrt(a!), m_p = C(d + p − 1, p) features, so that
///     ⟨ψ_p(q), ψ_p(k)⟩ = (q·k)^p / p!      exactly,
/// and Ψ_D(x) = [ψ_0(x); ψ_1(x); …; ψ_D(x)] (M_D = C(d + D, D) features) gives
///     ⟨Ψ_D(q), Ψ_D(k)⟩ = T_D(q·k) = Σ_{p ≤ D} (q·k)^p / p!.
/// (Pass q and k scaled by c^{-1/2}, c = sqrt(d), for the attention kernel T_D(q·k / c).)
///
/// Order (internal, the same for q and k): within a degree, graded colex: multisets ordered by their
/// largest index, then recursively by the rest. Level p is then the concatenation over j = 0 … d − 1
/// of x_j times the first C(j + p − 1, p − 1) features of level p − 1 (those whose largest index is
/// ≤ j), each times 1/sqrt(r), r the new multiplicity of j: one multiply (and one constant
/// multiply) per feature, no index tables (spec §4.2). `run` scratch tracks, per feature, the
/// multiplicity of its largest index.

#include <dynx/math/hd.hpp>

#include <cmath>
#include <cstdint>

namespace dynx::math {

/// C(n, k) for the feature counts, or −1 when it exceeds int64.
DYNX_HD inline std::int64_t taylor_binomial(std::int64_t n, std::int64_t k) {
  if (k < 0 || n < k) return 0;
  if (k > n - k) k = n - k;
  std::int64_t r = 1;
  for (std::int64_t i = 1; i <= k; ++i) {
    // r · (n − k + i) / i is exact at every step (r·(n−k+i) is divisible by i).
    const std::int64_t f = n - k + i;
    if (r > INT64_MAX / f) return -1;
    r = r * f / i;
  }
  return r;
}

/// m_p = C(d + p − 1, p): features of degree p in d variables (1 for p = 0); −1 on overflow.
DYNX_HD inline std::int64_t taylor_degree_features(int d, int p) {
  return p == 0 ? 1 : taylor_binomial(std::int64_t(d) + p - 1, p);
}

/// M_D = C(d + D, D): features of degrees 0 … D; −1 on overflow.
DYNX_HD inline std::int64_t taylor_features(int d, int max_degree) {
  return taylor_binomial(std::int64_t(d) + max_degree, max_degree);
}

/// Ψ_D(scale · x) into psi (taylor_features(d, D) entries: degree 0 first), with `run` scratch of
/// the same length. weighted = true: ψ features x^a / sqrt(a!); false: the plain monomials x^a
/// (the paper's Φ, to be paired with taylor_multiplicities). Arithmetic in T.
template <class T>
DYNX_HD void taylor_feature_map(const T* x, int d, int max_degree, T scale, T* psi,
                                unsigned char* run, bool weighted = true) {
  psi[0] = T(1);
  run[0] = 0;
  std::int64_t prev = 0;  // offset of level p − 1
  std::int64_t at = 1;    // next free entry
  for (int p = 1; p <= max_degree; ++p) {
    const std::int64_t level = at;
    for (int j = 0; j < d; ++j) {
      const T xj = scale * x[j];
      // Parents: level p − 1 features with largest index ≤ j; those with largest index exactly j
      // (level p − 1's block j) start at C(j + p − 2, p − 1) within the level.
      const std::int64_t parents = taylor_degree_features(j + 1, p - 1);
      const std::int64_t same = p == 1 ? parents : taylor_degree_features(j, p - 1);
      for (std::int64_t r = 0; r < parents; ++r) {
        const unsigned char mult = static_cast<unsigned char>((p > 1 && r >= same ? run[prev + r] : 0) + 1);
        T v = xj * psi[prev + r];
        if (weighted && mult > 1) v *= T(1) / std::sqrt(T(mult));
        psi[at] = v;
        run[at] = mult;
        ++at;
      }
    }
    prev = level;
  }
}

/// The multiset-permutation counts p!/a! of the degree-p features, in the order of
/// taylor_feature_map's level p (m_p entries, double; they sum to d^p). `run` scratch of
/// taylor_features(d, p) entries and `work` of as many doubles.
DYNX_HD inline void taylor_multiplicities(int d, int p, double* out, unsigned char* run,
                                          double* work) {
  // work holds the counts of every level, built like the features: child = parent · q / r at
  // level q, r the new multiplicity of the added index.
  work[0] = 1;
  run[0] = 0;
  std::int64_t prev = 0, at = 1, level = 0;
  for (int q = 1; q <= p; ++q) {
    level = at;
    for (int j = 0; j < d; ++j) {
      const std::int64_t parents = taylor_degree_features(j + 1, q - 1);
      const std::int64_t same = q == 1 ? parents : taylor_degree_features(j, q - 1);
      for (std::int64_t r = 0; r < parents; ++r) {
        const unsigned char mult = static_cast<unsigned char>((q > 1 && r >= same ? run[prev + r] : 0) + 1);
        work[at] = work[prev + r] * double(q) / double(mult);
        run[at] = mult;
        ++at;
      }
    }
    prev = level;
  }
  const std::int64_t first = p == 0 ? 0 : level, count = taylor_degree_features(d, p);
  for (std::int64_t i = 0; i < count; ++i) out[i] = work[first + i];
}

/// T_D(x) = Σ_{p ≤ D} x^p / p! by Horner: 1 + x(1 + x/2(1 + x/3(… (1 + x/D)))) (the intra-chunk
/// weights of the chunked form, spec §6).
template <class T>
DYNX_HD T taylor_series(T x, int max_degree) {
  T r = T(1);
  for (int p = max_degree; p >= 1; --p) r = T(1) + x * r / T(p);
  return r;
}

/// Folds one key/value pair into a Taylor-attention state (spec §5): S += Ψ(k̃) vᵀ, z += Ψ(k̃).
/// S is M × dv row-major (S[f·dv + j]), z has M entries; A is the accumulation type (double keeps
/// the token count z_0 exact far past 2^24).
template <class T, class A>
DYNX_HD void taylor_state_add(const T* psi_k, const T* v, std::int64_t features, int dv, A* S, A* z) {
  for (std::int64_t f = 0; f < features; ++f) {
    const A w = A(psi_k[f]);
    z[f] += w;
    for (int j = 0; j < dv; ++j) S[f * dv + j] += w * A(v[j]);
  }
}

/// The readout y = Ψ(q̃)ᵀ S / Ψ(q̃)ᵀ z (spec §5), accumulated in double. Returns false when the
/// denominator is not positive (possible for odd D, whose T_D has a negative range, spec §2.3):
/// it is then replaced by 1e-6 · Σ_f |Ψ(q̃)_f z_f| (or 1 when that is 0) so that y stays finite,
/// and the caller counts the event.
template <class T, class A>
DYNX_HD bool taylor_readout(const T* psi_q, const A* S, const A* z, std::int64_t features, int dv,
                            T* y, double* numerator /* dv scratch */) {
  double den = 0, mag = 0;
  for (int j = 0; j < dv; ++j) numerator[j] = 0;
  for (std::int64_t f = 0; f < features; ++f) {
    const double w = double(psi_q[f]);
    const double wz = w * double(z[f]);
    den += wz;
    mag += wz < 0 ? -wz : wz;
    for (int j = 0; j < dv; ++j) numerator[j] += w * double(S[f * dv + j]);
  }
  const bool ok = den > 0;
  if (!ok) den = mag > 0 ? 1e-6 * mag : 1.0;
  for (int j = 0; j < dv; ++j) y[j] = T(numerator[j] / den);
  return ok;
}

}  // namespace dynx::math
