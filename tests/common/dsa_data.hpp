#pragma once
// Seeded inputs shared by the DSA tests (unit and CUDA): noisy linear systems with known spectra,
// Haar-random orthogonal matrices of a chosen determinant, and conjugation.

#include "common/reference.hpp"

#include <dynx/dsa.hpp>

#include <cmath>
#include <cstdint>
#include <random>
#include <utility>
#include <vector>

namespace dynx::test {

/// A trajectory store: trials of N features, row-major (time, feature) per trial.
struct Data {
  std::int64_t n = 0;
  std::vector<std::int64_t> lengths;
  std::vector<double> x;  // all trials back to back, x[(t0 + t) * n + f]
  TrialSet<double> set() const { return TrialSet<double>{x.data(), n, lengths, Device::cpu()}; }
  double at(std::int64_t trial, std::int64_t t, std::int64_t f) const {
    std::int64_t t0 = 0;
    for (std::int64_t k = 0; k < trial; ++k) t0 += lengths[std::size_t(k)];
    return x[std::size_t((t0 + t) * n + f)];
  }
};

/// x_{t+1} = A x_t + σ ξ_t from a random stable A (spectral radius `radius`), trials of the given
/// lengths with random initial states.
inline Data simulate_linear(std::int64_t n, const std::vector<std::int64_t>& lengths, double radius,
                     double noise, Rng& rng) {
  DMat q = random_orthonormal(n, n, rng);
  DMat d(n, n);
  // block-diagonal rotations scaled by the radius, then a random orthogonal change of basis
  for (std::int64_t i = 0; i + 1 < n; i += 2) {
    const double th = 0.3 + 0.5 * double(i) / double(n);
    const double r = radius * (1.0 - 0.05 * double(i) / double(n));
    d(i, i) = r * std::cos(th), d(i, i + 1) = -r * std::sin(th);
    d(i + 1, i) = r * std::sin(th), d(i + 1, i + 1) = r * std::cos(th);
  }
  if (n % 2) d(n - 1, n - 1) = 0.7 * radius;
  const DMat a = matmul(matmul(q, d), transpose(q));
  std::normal_distribution<double> g;
  Data out{n, lengths, {}};
  for (std::int64_t len : lengths) {
    std::vector<double> s(static_cast<std::size_t>(n));
    for (auto& v : s) v = g(rng);
    for (std::int64_t t = 0; t < len; ++t) {
      out.x.insert(out.x.end(), s.begin(), s.end());
      std::vector<double> next(static_cast<std::size_t>(n), 0.0);
      for (std::int64_t i = 0; i < n; ++i) {
        for (std::int64_t j = 0; j < n; ++j) next[std::size_t(i)] += a(i, j) * s[std::size_t(j)];
        next[std::size_t(i)] += noise * g(rng);
      }
      s = next;
    }
  }
  return out;
}

/// A Haar-random orthogonal matrix with determinant `det_sign` (the sign of an LU determinant;
/// the first column is flipped when it disagrees).
inline DMat haar(std::int64_t n, Rng& rng, int det_sign) {
  DMat q = random_orthonormal(n, n, rng);
  DMat lu = q;
  double det = 1;
  for (std::int64_t k = 0; k < n; ++k) {  // Gaussian elimination with partial pivoting
    std::int64_t p = k;
    for (std::int64_t i = k + 1; i < n; ++i)
      if (std::fabs(lu(i, k)) > std::fabs(lu(p, k))) p = i;
    if (p != k) {
      for (std::int64_t j = 0; j < n; ++j) std::swap(lu(k, j), lu(p, j));
      det = -det;
    }
    det *= lu(k, k);
    for (std::int64_t i = k + 1; i < n; ++i) {
      const double f = lu(i, k) / lu(k, k);
      for (std::int64_t j = k; j < n; ++j) lu(i, j) -= f * lu(k, j);
    }
  }
  if ((det > 0) != (det_sign > 0))
    for (std::int64_t i = 0; i < n; ++i) q(i, 0) = -q(i, 0);
  return q;
}

/// Q A Qᵀ.
inline DMat conj(const DMat& q, const DMat& a) { return matmul(matmul(q, a), transpose(q)); }

/// A / ‖A‖_F.
inline DMat normalised(const DMat& a) {
  DMat out = a;
  const double f = frobenius(a);
  for (auto& x : out.v) x /= f;
  return out;
}

/// ‖Â − C B̂ Cᵀ‖ recomputed in float64 from a returned C.
inline double residual(const DMat& a, const DMat& b, const DMat& c) {
  return frobenius(subtract(normalised(a), matmul(matmul(c, normalised(b)), transpose(c))));
}

/// ‖CᵀC − I‖_F.
inline double orthogonality(const DMat& c) {
  return frobenius(subtract(matmul(transpose(c), c), identity(c.rows)));
}

}  // namespace dynx::test
