#pragma once
/// \file math/procrustes.hpp
/// Small pieces of the Procrustes-over-vector-fields comparison shared by host and device code:
/// the sign search behind the closed-form starting points, and the stable angular score.

#include <dynx/math/hd.hpp>

#include <cmath>
#include <cstdint>

namespace dynx::math {

/// Angular score from the Euclidean one at an orthogonal C: for unit-norm Â and C B̂ Cᵀ,
/// ‖Â − C B̂ Cᵀ‖² = 2 − 2 cos θ, so θ = 2 asin(e / 2). Stable for small angles, where
/// arccos(1 − ε) loses half the digits.
template <class T>
DYNX_HD T angular_from_euclidean(T e) {
  const T h = e / T(2);
  return T(2) * std::asin(h < T(1) ? h : T(1));
}

/// Value of dᵀ W d for a sign vector d (entries ±1) and an n × n column-major W.
template <class T>
DYNX_HD T sign_quadratic(std::int64_t n, const T* w, const signed char* d) {
  T s = 0;
  for (std::int64_t j = 0; j < n; ++j) {
    T col = 0;
    for (std::int64_t i = 0; i < n; ++i) col += w[j * n + i] * T(d[i]);
    s += col * T(d[j]);
  }
  return s;
}

/// Greedy single flips from d until no flip increases dᵀ W d (each accepted flip strictly
/// increases it, so this terminates). `h` is scratch of n entries.
template <class T>
DYNX_HD T sign_local_search(std::int64_t n, const T* w, signed char* d, T* h) {
  for (std::int64_t i = 0; i < n; ++i) {
    T s = 0;
    for (std::int64_t j = 0; j < n; ++j) s += w[j * n + i] * T(d[j]);
    h[i] = s;  // h = W d
  }
  for (std::int64_t sweep = 0; sweep < 4 * n + 4; ++sweep) {
    // Flipping d_i changes dᵀWd by −2 d_i ((Wd)_i + (Wᵀd)_i) + 4 W_ii; W is used symmetrised.
    std::int64_t best = -1;
    T best_gain = T(0);
    for (std::int64_t i = 0; i < n; ++i) {
      T cross = 0;
      for (std::int64_t j = 0; j < n; ++j) cross += w[i * n + j] * T(d[j]);  // (Wᵀ d)_i
      const T gain = -T(2) * T(d[i]) * (h[i] + cross) + T(4) * w[i * n + i];
      if (gain > best_gain * (T(1) + T(1e-12)) + T(0)) {
        best_gain = gain;
        best = i;
      }
    }
    if (best < 0) break;
    const T old = T(d[best]);
    d[best] = static_cast<signed char>(-d[best]);
    for (std::int64_t i = 0; i < n; ++i) h[i] -= T(2) * old * w[best * n + i];
  }
  return sign_quadratic(n, w, d);
}

/// Approximately maximises dᵀ W d over sign vectors d ∈ {±1}ⁿ (W n × n column-major; only its
/// symmetric part matters). Exact by enumeration for n ≤ `exhaustive_max`; otherwise the better
/// of greedy flips from the all-ones vector and from the signs of the leading eigenvector of
/// sym(W) + c I (power iteration), which is exact when W = D₀ |W| D₀ has nonnegative off-diagonal
/// magnitudes (the case of an exactly conjugate pair). Scratch: 3n entries of T and n signs.
/// Writes d and returns dᵀ W d.
template <class T>
DYNX_HD T sign_search(std::int64_t n, const T* w, signed char* d, T* scratch, signed char* dtmp,
                      std::int64_t exhaustive_max = 10) {
  if (n <= 0) return T(0);
  if (n <= exhaustive_max) {
    T best = T(0);
    bool have = false;
    const std::int64_t patterns = std::int64_t{1} << (n - 1);  // d_0 = +1: the global sign is free
    for (std::int64_t p = 0; p < patterns; ++p) {
      dtmp[0] = 1;
      for (std::int64_t i = 1; i < n; ++i) dtmp[i] = ((p >> (i - 1)) & 1) ? -1 : 1;
      const T v = sign_quadratic(n, w, dtmp);
      if (!have || v > best) {
        best = v;
        have = true;
        for (std::int64_t i = 0; i < n; ++i) d[i] = dtmp[i];
      }
    }
    return best;
  }
  T* x = scratch;
  T* y = scratch + n;
  T* h = scratch + 2 * n;
  // Power iteration on sym(W) + c I, c = max row sum of |W| (makes it positive semidefinite).
  T c = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    T r = 0;
    for (std::int64_t j = 0; j < n; ++j) r += std::fabs(w[j * n + i]) + std::fabs(w[i * n + j]);
    c = r / T(2) > c ? r / T(2) : c;
  }
  for (std::int64_t i = 0; i < n; ++i) x[i] = T(1) + T(i) / T(n);  // not orthogonal to much
  for (std::int64_t it = 0; it < 200; ++it) {
    T norm = 0;
    for (std::int64_t i = 0; i < n; ++i) {
      T s = c * x[i];
      for (std::int64_t j = 0; j < n; ++j) s += T(0.5) * (w[j * n + i] + w[i * n + j]) * x[j];
      y[i] = s;
      norm += s * s;
    }
    norm = std::sqrt(norm);
    if (!(norm > T(0))) break;
    for (std::int64_t i = 0; i < n; ++i) x[i] = y[i] / norm;
  }
  for (std::int64_t i = 0; i < n; ++i) d[i] = x[i] < T(0) ? -1 : 1;
  const T v1 = sign_local_search(n, w, d, h);
  for (std::int64_t i = 0; i < n; ++i) dtmp[i] = 1;
  const T v2 = sign_local_search(n, w, dtmp, h);
  if (v2 > v1) {
    for (std::int64_t i = 0; i < n; ++i) d[i] = dtmp[i];
    return v2;
  }
  return v1;
}

}  // namespace dynx::math
