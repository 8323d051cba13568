#pragma once
// Float64 reference math for the tests, written here so that tests need no BLAS or LAPACK:
// dense column-major double matrices, a triple-loop GEMM, seeded random matrices (Gaussian,
// orthonormal by Gram–Schmidt with reorthogonalisation, prescribed singular values or
// eigenvalues), a cyclic Jacobi symmetric eigensolver, norms and the residuals the tests check.

#include "test_common.hpp"

#include <dynx/types.hpp>

#include <algorithm>
#include <cmath>
#include <complex>
#include <cstdint>
#include <limits>
#include <random>
#include <utility>
#include <vector>

namespace dynx::test {

using Rng = std::mt19937_64;
using cdouble = std::complex<double>;

/// Dense column-major matrix of doubles.
struct DMat {
  std::int64_t rows = 0, cols = 0;
  std::vector<double> v;

  DMat() = default;
  DMat(std::int64_t r, std::int64_t c, double x = 0.0)
      : rows(r), cols(c), v(static_cast<std::size_t>(r * c), x) {}
  double& operator()(std::int64_t i, std::int64_t j) { return v[static_cast<std::size_t>(j * rows + i)]; }
  double operator()(std::int64_t i, std::int64_t j) const {
    return v[static_cast<std::size_t>(j * rows + i)];
  }
};

/// Dense column-major matrix of complex doubles.
struct CMat {
  std::int64_t rows = 0, cols = 0;
  std::vector<cdouble> v;

  CMat() = default;
  CMat(std::int64_t r, std::int64_t c) : rows(r), cols(c), v(static_cast<std::size_t>(r * c)) {}
  cdouble& operator()(std::int64_t i, std::int64_t j) { return v[static_cast<std::size_t>(j * rows + i)]; }
  cdouble operator()(std::int64_t i, std::int64_t j) const {
    return v[static_cast<std::size_t>(j * rows + i)];
  }
};

// --- conversions between views and reference matrices -------------------------------------------

/// Matrix k of a host view as doubles.
template <class T>
DMat to_dmat(const MatrixBatch<T>& b, std::int64_t k) {
  DMat out(b.rows, b.cols);
  for (std::int64_t j = 0; j < b.cols; ++j)
    for (std::int64_t i = 0; i < b.rows; ++i) out(i, j) = static_cast<double>(b(i, j, k));
  return out;
}
template <class T>
DMat to_dmat(const HostBatch<T>& b, std::int64_t k) {
  return to_dmat(b.cview(), k);
}

template <class T>
CMat to_cmat(const HostBatch<std::complex<T>>& b, std::int64_t k) {
  CMat out(b.rows(), b.cols());
  for (std::int64_t j = 0; j < b.cols(); ++j)
    for (std::int64_t i = 0; i < b.rows(); ++i) {
      const auto x = b(i, j, k);
      out(i, j) = cdouble(static_cast<double>(x.real()), static_cast<double>(x.imag()));
    }
  return out;
}

/// Writes `d` (rounded to T) into matrix k of `b`.
template <class T>
void store(const DMat& d, HostBatch<T>& b, std::int64_t k) {
  for (std::int64_t j = 0; j < d.cols; ++j)
    for (std::int64_t i = 0; i < d.rows; ++i) b(i, j, k) = static_cast<T>(d(i, j));
}

template <class T>
std::vector<double> to_doubles(const std::vector<T>& x) {
  return std::vector<double>(x.begin(), x.end());
}

// --- basic dense algebra ------------------------------------------------------------------------

inline DMat identity(std::int64_t n) {
  DMat out(n, n);
  for (std::int64_t i = 0; i < n; ++i) out(i, i) = 1.0;
  return out;
}

inline DMat transpose(const DMat& a) {
  DMat out(a.cols, a.rows);
  for (std::int64_t j = 0; j < a.cols; ++j)
    for (std::int64_t i = 0; i < a.rows; ++i) out(j, i) = a(i, j);
  return out;
}

/// Plain triple-loop product a * b.
inline DMat matmul(const DMat& a, const DMat& b) {
  DMat out(a.rows, b.cols);
  for (std::int64_t j = 0; j < b.cols; ++j)
    for (std::int64_t l = 0; l < a.cols; ++l) {
      const double blj = b(l, j);
      for (std::int64_t i = 0; i < a.rows; ++i) out(i, j) += a(i, l) * blj;
    }
  return out;
}

inline DMat subtract(const DMat& a, const DMat& b) {
  DMat out = a;
  for (std::size_t p = 0; p < out.v.size(); ++p) out.v[p] -= b.v[p];
  return out;
}

/// a * diag(s) (s.size() == a.cols).
inline DMat scale_columns(const DMat& a, const std::vector<double>& s) {
  DMat out = a;
  for (std::int64_t j = 0; j < a.cols; ++j)
    for (std::int64_t i = 0; i < a.rows; ++i) out(i, j) *= s[static_cast<std::size_t>(j)];
  return out;
}

/// Columns [0, k) of a.
inline DMat first_columns(const DMat& a, std::int64_t k) {
  DMat out(a.rows, k);
  std::copy(a.v.begin(), a.v.begin() + a.rows * k, out.v.begin());
  return out;
}

inline double frobenius(const DMat& a) {
  double s = 0.0;
  for (double x : a.v) s += x * x;
  return std::sqrt(s);
}

inline double max_abs(const DMat& a) {
  double m = 0.0;
  for (double x : a.v) m = std::max(m, std::abs(x));
  return m;
}

inline double max_abs_diff(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size()) return std::numeric_limits<double>::infinity();
  double m = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(a[i] - b[i]));
  return m;
}

// --- GEMM reference ------------------------------------------------------------------------------

inline DMat apply_op(const DMat& a, Op op) { return op == Op::t ? transpose(a) : a; }

/// alpha * op(a) * op(b) + beta * c by the triple loop, in double. beta == 0 ignores c entirely
/// (NaN in c is not propagated), as gemm_batched documents.
inline DMat gemm_reference(Op ta, Op tb, double alpha, const DMat& a, const DMat& b, double beta,
                           const DMat& c) {
  const DMat oa = apply_op(a, ta), ob = apply_op(b, tb);
  DMat out(oa.rows, ob.cols);
  for (std::int64_t i = 0; i < oa.rows; ++i)
    for (std::int64_t j = 0; j < ob.cols; ++j) {
      double sum = 0.0;
      for (std::int64_t l = 0; l < oa.cols; ++l) sum += oa(i, l) * ob(l, j);
      out(i, j) = alpha * sum + (beta == 0.0 ? 0.0 : beta * c(i, j));
    }
  return out;
}

/// |alpha| |op(a)| |op(b)| + |beta| |c| elementwise: the scale of GEMM's rounding error in each
/// entry (the standard bound is gamma_k times this).
inline DMat gemm_magnitude(Op ta, Op tb, double alpha, const DMat& a, const DMat& b, double beta,
                           const DMat& c) {
  const DMat oa = apply_op(a, ta), ob = apply_op(b, tb);
  DMat out(oa.rows, ob.cols);
  for (std::int64_t i = 0; i < oa.rows; ++i)
    for (std::int64_t j = 0; j < ob.cols; ++j) {
      double sum = 0.0;
      for (std::int64_t l = 0; l < oa.cols; ++l) sum += std::abs(oa(i, l) * ob(l, j));
      out(i, j) = std::abs(alpha) * sum + (beta == 0.0 ? 0.0 : std::abs(beta * c(i, j)));
    }
  return out;
}

// --- random matrices -----------------------------------------------------------------------------

inline DMat random_gaussian(std::int64_t rows, std::int64_t cols, Rng& rng) {
  std::normal_distribution<double> normal(0.0, 1.0);
  DMat out(rows, cols);
  for (double& x : out.v) x = normal(rng);
  return out;
}

inline DMat random_uniform(std::int64_t rows, std::int64_t cols, double lo, double hi, Rng& rng) {
  std::uniform_real_distribution<double> uni(lo, hi);
  DMat out(rows, cols);
  for (double& x : out.v) x = uni(rng);
  return out;
}

/// Orthonormalises the columns of `a` (rows ≥ cols, full column rank) by classical Gram–Schmidt
/// applied twice per column ("twice is enough": orthogonal to working precision).
inline DMat orthonormalize_columns(DMat a) {
  for (std::int64_t j = 0; j < a.cols; ++j) {
    for (int pass = 0; pass < 2; ++pass) {
      for (std::int64_t p = 0; p < j; ++p) {
        double d = 0.0;
        for (std::int64_t i = 0; i < a.rows; ++i) d += a(i, p) * a(i, j);
        for (std::int64_t i = 0; i < a.rows; ++i) a(i, j) -= d * a(i, p);
      }
    }
    double nrm = 0.0;
    for (std::int64_t i = 0; i < a.rows; ++i) nrm += a(i, j) * a(i, j);
    nrm = std::sqrt(nrm);
    for (std::int64_t i = 0; i < a.rows; ++i) a(i, j) /= nrm;
  }
  return a;
}

/// A random rows × cols matrix with orthonormal columns (rows ≥ cols).
inline DMat random_orthonormal(std::int64_t rows, std::int64_t cols, Rng& rng) {
  return orthonormalize_columns(random_gaussian(rows, cols, rng));
}

/// A random m × n matrix U diag(s) Vᵀ with the given min(m, n) singular values (any order) and
/// random orthonormal U, V.
inline DMat with_singular_values(std::int64_t m, std::int64_t n, const std::vector<double>& s,
                                 Rng& rng) {
  const std::int64_t k = std::min(m, n);
  const DMat u = random_orthonormal(m, k, rng);
  const DMat v = random_orthonormal(n, k, rng);
  return matmul(scale_columns(u, s), transpose(v));
}

/// A random symmetric n × n matrix Q diag(lambda) Qᵀ, symmetric to the last bit.
inline DMat symmetric_with_eigenvalues(const std::vector<double>& lambda, Rng& rng) {
  const auto n = static_cast<std::int64_t>(lambda.size());
  const DMat q = random_orthonormal(n, n, rng);
  DMat a = matmul(scale_columns(q, lambda), transpose(q));
  for (std::int64_t j = 0; j < n; ++j)
    for (std::int64_t i = j + 1; i < n; ++i) a(j, i) = a(i, j) = 0.5 * (a(i, j) + a(j, i));
  return a;
}

inline DMat random_symmetric(std::int64_t n, Rng& rng) {
  DMat a = random_gaussian(n, n, rng);
  for (std::int64_t j = 0; j < n; ++j)
    for (std::int64_t i = j + 1; i < n; ++i) a(j, i) = a(i, j);
  return a;
}

/// Singular values spread evenly between hi and lo (descending), min(m, n) of them.
inline std::vector<double> spread_values(std::int64_t k, double hi, double lo) {
  std::vector<double> s(static_cast<std::size_t>(k));
  for (std::int64_t i = 0; i < k; ++i)
    s[static_cast<std::size_t>(i)] = k == 1 ? hi : hi + (lo - hi) * static_cast<double>(i) / static_cast<double>(k - 1);
  return s;
}

/// A host batch whose matrix k is gen(k) rounded to T. Input padding holds NaN, so an operation
/// that reads outside the view sees non-finite data.
template <class T, class Gen>
HostBatch<T> make_batch(std::int64_t rows, std::int64_t cols, std::int64_t count, Layout layout,
                        Gen&& gen) {
  HostBatch<T> b(rows, cols, count, layout, nan_value<T>());
  for (std::int64_t k = 0; k < count; ++k) store(gen(k), b, k);
  return b;
}

/// `count` Gaussian matrices from a fixed seed.
template <class T>
HostBatch<T> random_batch(std::int64_t rows, std::int64_t cols, std::int64_t count,
                          std::uint64_t seed, Layout layout = kPacked) {
  Rng rng(seed);
  return make_batch<T>(rows, cols, count, layout, [&](std::int64_t) { return random_gaussian(rows, cols, rng); });
}

// --- a symmetric eigensolver (reference) ---------------------------------------------------------

/// Eigen-decomposition of a symmetric matrix by cyclic Jacobi rotations, independent of LAPACK:
/// returns the eigenvalues ascending and, when `vectors` is non-null, the matching orthonormal
/// eigenvectors as its columns.
inline std::vector<double> jacobi_eigh(DMat a, DMat* vectors) {
  const std::int64_t n = a.rows;
  const double scale = std::max(frobenius(a), std::numeric_limits<double>::min());
  DMat v(n, n);
  for (std::int64_t i = 0; i < n; ++i) v(i, i) = 1.0;
  for (int sweep = 0; sweep < 100; ++sweep) {
    double off = 0.0;
    for (std::int64_t j = 0; j < n; ++j)
      for (std::int64_t i = 0; i < j; ++i) off += a(i, j) * a(i, j);
    if (std::sqrt(off) <= 1e-17 * scale) break;
    for (std::int64_t p = 0; p < n; ++p)
      for (std::int64_t q = p + 1; q < n; ++q) {
        const double apq = a(p, q);
        if (apq == 0.0) continue;
        const double theta = (a(q, q) - a(p, p)) / (2.0 * apq);
        const double t = std::abs(theta) > 1e150
                             ? 0.5 / theta
                             : (theta >= 0 ? 1.0 : -1.0) / (std::abs(theta) + std::sqrt(theta * theta + 1.0));
        const double c = 1.0 / std::sqrt(t * t + 1.0), s = t * c;
        for (std::int64_t k = 0; k < n; ++k) {  // columns p, q
          const double akp = a(k, p), akq = a(k, q);
          a(k, p) = c * akp - s * akq;
          a(k, q) = s * akp + c * akq;
          const double vkp = v(k, p), vkq = v(k, q);
          v(k, p) = c * vkp - s * vkq;
          v(k, q) = s * vkp + c * vkq;
        }
        for (std::int64_t k = 0; k < n; ++k) {  // rows p, q
          const double apk = a(p, k), aqk = a(q, k);
          a(p, k) = c * apk - s * aqk;
          a(q, k) = s * apk + c * aqk;
        }
      }
  }
  std::vector<std::int64_t> order(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) order[static_cast<std::size_t>(i)] = i;
  std::sort(order.begin(), order.end(), [&](std::int64_t x, std::int64_t y) { return a(x, x) < a(y, y); });
  std::vector<double> w(static_cast<std::size_t>(n));
  if (vectors) *vectors = DMat(n, n);
  for (std::int64_t j = 0; j < n; ++j) {
    const std::int64_t src = order[static_cast<std::size_t>(j)];
    w[static_cast<std::size_t>(j)] = a(src, src);
    if (vectors)
      for (std::int64_t i = 0; i < n; ++i) (*vectors)(i, j) = v(i, src);
  }
  return w;
}

/// Eigenvalues of a symmetric matrix by cyclic Jacobi rotations, ascending. Independent of LAPACK.
inline std::vector<double> jacobi_eigenvalues(const DMat& a) { return jacobi_eigh(a, nullptr); }

/// Singular values from the Jacobi eigenvalues of AᵀA or AAᵀ (descending). Accurate only to
/// eps * s_max / s_i: for tests of the helpers, not of the library.
inline std::vector<double> gram_singular_values(const DMat& a) {
  const DMat g = a.rows >= a.cols ? matmul(transpose(a), a) : matmul(a, transpose(a));
  std::vector<double> w = jacobi_eigenvalues(g);
  for (double& x : w) x = std::sqrt(std::max(0.0, x));
  std::sort(w.rbegin(), w.rend());
  return w;
}

// --- errors and residuals ------------------------------------------------------------------------

/// ‖a − b‖_F / ‖a‖_F, or the absolute ‖a − b‖_F when a is zero.
inline double relative_error(const DMat& a, const DMat& b) {
  const double na = frobenius(a);
  const double d = frobenius(subtract(a, b));
  return na > 0.0 ? d / na : d;
}

/// ‖A − U diag(s) Vt‖_F / ‖A‖_F.
inline double svd_reconstruction_error(const DMat& a, const DMat& u, const std::vector<double>& s,
                                       const DMat& vt) {
  return relative_error(a, matmul(scale_columns(u, s), vt));
}

/// ‖QᵀQ − I‖_F: how far the columns of q are from orthonormal.
inline double orthonormal_columns_error(const DMat& q) {
  return frobenius(subtract(matmul(transpose(q), q), identity(q.cols)));
}

/// ‖Q Qᵀ − I‖_F: how far the rows of q are from orthonormal.
inline double orthonormal_rows_error(const DMat& q) {
  return frobenius(subtract(matmul(q, transpose(q)), identity(q.rows)));
}

/// ‖A − Q R‖_F / ‖A‖_F.
inline double qr_reconstruction_error(const DMat& a, const DMat& q, const DMat& r) {
  return relative_error(a, matmul(q, r));
}

/// Largest |r(i, j)| strictly below the diagonal.
inline double below_diagonal_max(const DMat& r) {
  double m = 0.0;
  for (std::int64_t j = 0; j < r.cols; ++j)
    for (std::int64_t i = j + 1; i < r.rows; ++i) m = std::max(m, std::abs(r(i, j)));
  return m;
}

/// ‖A V − V diag(w)‖_F / ‖A‖_F for a symmetric eigen-decomposition.
inline double eigh_residual(const DMat& a, const DMat& v, const std::vector<double>& w) {
  const double na = frobenius(a);
  const double r = frobenius(subtract(matmul(a, v), scale_columns(v, w)));
  return na > 0.0 ? r / na : r;
}

/// ‖A V − V diag(w)‖_F / ‖A‖_F with complex V and w.
inline double eig_residual(const DMat& a, const CMat& v, const std::vector<cdouble>& w) {
  const std::int64_t n = a.rows;
  double r2 = 0.0;
  for (std::int64_t j = 0; j < v.cols; ++j)
    for (std::int64_t i = 0; i < n; ++i) {
      cdouble s = 0.0;
      for (std::int64_t l = 0; l < n; ++l) s += a(i, l) * v(l, j);
      s -= v(i, j) * w[static_cast<std::size_t>(j)];
      r2 += std::norm(s);
    }
  const double na = frobenius(a);
  return na > 0.0 ? std::sqrt(r2) / na : std::sqrt(r2);
}

/// ‖A X − B‖_F / (‖A‖_F ‖X‖_F + ‖B‖_F): the normwise backward error of a linear solve.
inline double solve_residual(const DMat& a, const DMat& x, const DMat& b) {
  const double r = frobenius(subtract(matmul(a, x), b));
  const double scale = frobenius(a) * frobenius(x) + frobenius(b);
  return scale > 0.0 ? r / scale : r;
}

/// ‖A A⁻¹ − I‖_F.
inline double inverse_residual(const DMat& a, const DMat& ainv) {
  return frobenius(subtract(matmul(a, ainv), identity(a.rows)));
}

/// Pairs each value of `a` with the nearest unused value of `b` and returns the largest distance
/// (infinity when the sizes differ). For comparing eigenvalue sets whose order is not specified.
inline double max_matching_distance(const std::vector<cdouble>& a, const std::vector<cdouble>& b) {
  if (a.size() != b.size()) return std::numeric_limits<double>::infinity();
  std::vector<bool> used(b.size(), false);
  double worst = 0.0;
  for (const cdouble& x : a) {
    std::size_t best = b.size();
    double best_d = std::numeric_limits<double>::infinity();
    for (std::size_t j = 0; j < b.size(); ++j)
      if (!used[j] && std::abs(x - b[j]) < best_d) {
        best_d = std::abs(x - b[j]);
        best = j;
      }
    if (best == b.size()) return std::numeric_limits<double>::infinity();
    used[best] = true;
    worst = std::max(worst, best_d);
  }
  return worst;
}

template <class T>
std::vector<cdouble> to_cdoubles(const std::vector<std::complex<T>>& x) {
  std::vector<cdouble> out;
  out.reserve(x.size());
  for (const auto& z : x) out.emplace_back(static_cast<double>(z.real()), static_cast<double>(z.imag()));
  return out;
}

}  // namespace dynx::test
