// eig_batched on the CPU: general real matrices, complex eigenvalues and eigenvectors.
// Residual ‖AV − V diag(w)‖/‖A‖ with complex V, conjugate-pair structure, known spectra (rotations,
// diagonal and triangular matrices), eigenvector normalisation, values only, layouts.
//
// The Hessenberg QR algorithm is backward stable: the residual of each unit eigenvector is
// c * n * eps<T> * ‖A‖. Eigenvalues themselves can be ill-conditioned for non-normal matrices, so
// known-spectrum tests use normal matrices (rotations) or triangular ones, whose eigenvalues LAPACK
// isolates exactly by balancing.

#include "common/reference.hpp"
#include "common/test_common.hpp"

#include <dynx/dynx.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <complex>
#include <cstdint>
#include <vector>

namespace {

using namespace dynx::test;
using dynx::BatchStatus;
using dynx::Context;
using dynx::MatrixStatus;

template <class T>
class EigBatched : public ::testing::Test {};
TYPED_TEST_SUITE(EigBatched, RealTypes);

template <class T>
struct Eig {
  HostVectors<std::complex<T>> w;
  HostBatch<std::complex<T>> v;
  BatchStatus status;
};

template <class T>
Eig<T> run_eig(Context& ctx, const HostBatch<T>& a, bool vectors = true, Layout out = kPacked,
               VecLayout wl = kPackedVec) {
  using C = std::complex<T>;
  const std::int64_t n = a.rows();
  Eig<T> r{HostVectors<C>(n, a.count(), wl, sentinel<C>()), HostBatch<C>(n, n, a.count(), out, sentinel<C>()),
           BatchStatus()};
  dynx::eig_batched<T>(ctx, a.cview(), r.w.view(), vectors ? r.v.view() : dynx::MatrixBatch<C>(), &r.status);
  return r;
}

template <class T>
Eig<T> run_eig(const HostBatch<T>& a, bool vectors = true, Layout out = kPacked, VecLayout wl = kPackedVec) {
  Context ctx;
  return run_eig(ctx, a, vectors, out, wl);
}

// Pair structure of geev's output: a complex eigenvalue with positive imaginary part is followed
// by its exact conjugate, and so is its eigenvector.
template <class T>
void expect_conjugate_pairs(const Eig<T>& r, std::int64_t i, bool vectors) {
  const auto w = r.w.get(i);
  const std::int64_t n = r.w.size();
  for (std::int64_t j = 0; j < n; ++j) {
    const auto z = w[static_cast<std::size_t>(j)];
    if (z.imag() == T(0)) continue;
    ASSERT_GT(z.imag(), T(0)) << "w[" << j << "] = " << z << " has negative imaginary part first";
    ASSERT_LT(j + 1, n) << "w[" << j << "] = " << z << " has no partner";
    EXPECT_EQ(w[static_cast<std::size_t>(j + 1)], std::conj(z)) << "w[" << j + 1 << "] is not conj(w[" << j << "])";
    if (vectors) {
      for (std::int64_t row = 0; row < n; ++row)
        EXPECT_EQ(r.v(row, j + 1, i), std::conj(r.v(row, j, i))) << "eigenvectors of the pair at " << j;
    }
    ++j;
  }
}

// Unit 2-norm, and a component of largest modulus that is real.
template <class T>
void expect_normalised(const Eig<T>& r, std::int64_t i) {
  const std::int64_t n = r.w.size();
  const double c = 10.0;  // c * n * eps<T>
  const double tol = c * static_cast<double>(n) * eps<T>();
  for (std::int64_t j = 0; j < n; ++j) {
    double norm2 = 0, mx = 0;
    for (std::int64_t row = 0; row < n; ++row) {
      norm2 += std::norm(std::complex<double>(r.v(row, j, i)));
      mx = std::max(mx, static_cast<double>(std::abs(r.v(row, j, i))));
    }
    EXPECT_NEAR(std::sqrt(norm2), 1.0, tol) << "column " << j;
    bool found = false;
    for (std::int64_t row = 0; row < n && !found; ++row) {
      const auto z = r.v(row, j, i);
      found = std::abs(z) >= mx * (1 - tol) && std::abs(static_cast<double>(z.imag())) <= tol * mx;
    }
    EXPECT_TRUE(found) << "column " << j << ": no largest component is real";
  }
}

template <class T>
void expect_valid_eig(const HostBatch<T>& a, Eig<T>& r, bool vectors = true, double c = 10.0) {
  ASSERT_EQ(r.status.count(), a.count());
  const std::int64_t n = a.rows();
  for (std::int64_t i = 0; i < a.count(); ++i) {
    SCOPED_TRACE(testing::Message() << "matrix " << i << " of order " << n);
    EXPECT_EQ(r.status.at(i), MatrixStatus::ok);
    expect_conjugate_pairs(r, i, vectors);
    if (vectors) {
      // c * n * eps<T>, relative to ‖A‖_F
      EXPECT_LE(eig_residual(to_dmat(a, i), to_cmat(r.v, i), to_cdoubles(r.w.get(i))),
                c * static_cast<double>(n) * eps<T>());
      expect_normalised(r, i);
    }
  }
}

DMat rotation2(double theta) {
  DMat r(2, 2);
  r(0, 0) = std::cos(theta);
  r(1, 0) = std::sin(theta);
  r(0, 1) = -std::sin(theta);
  r(1, 1) = std::cos(theta);
  return r;
}

TYPED_TEST(EigBatched, ResidualWithComplexEigenvectors) {
  using T = TypeParam;
  for (std::int64_t n : {1, 2, 3, 8, 31, 32, 33}) {
    SCOPED_TRACE(testing::Message() << "n = " << n);
    auto a = random_batch<T>(n, n, 3, 4000 + n);
    auto r = run_eig(a);
    expect_valid_eig(a, r);
  }
}

TYPED_TEST(EigBatched, RandomMatricesHaveConjugatePairs) {
  using T = TypeParam;
  auto a = random_batch<T>(10, 10, 8, 4100);
  auto r = run_eig(a);
  expect_valid_eig(a, r);
  // Random real 10×10 matrices almost surely have complex eigenvalues: make sure the pair logic
  // was exercised.
  int complex_values = 0;
  for (std::int64_t i = 0; i < 8; ++i)
    for (auto z : r.w.get(i)) complex_values += z.imag() != T(0);
  EXPECT_GT(complex_values, 0);
}

TYPED_TEST(EigBatched, RotationHasEigenvaluesOnTheUnitCircle) {
  using T = TypeParam;
  const double theta = 0.7;
  HostBatch<T> a(2, 2, 1);
  store(rotation2(theta), a, 0);
  auto r = run_eig(a);
  expect_valid_eig(a, r);
  const double c = 10.0;  // c * n * eps<T>
  EXPECT_LE(std::abs(std::complex<double>(r.w(0)) - std::polar(1.0, theta)), c * 2 * eps<T>());
  EXPECT_LE(std::abs(std::complex<double>(r.w(1)) - std::polar(1.0, -theta)), c * 2 * eps<T>());
}

TYPED_TEST(EigBatched, BlockRotationsInARandomBasis) {
  using T = TypeParam;
  // Q diag(R(θ1), R(θ2), R(θ3), 1) Qᵀ: orthogonal, so the eigenvalues are perfectly conditioned.
  const std::vector<double> thetas = {0.3, 1.4, 2.9};
  Rng rng(4200);
  const std::int64_t n = 7;
  DMat block(n, n);
  for (std::size_t b = 0; b < thetas.size(); ++b) {
    const DMat r2 = rotation2(thetas[b]);
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 2; ++j) block(2 * b + i, 2 * b + j) = r2(i, j);
  }
  block(6, 6) = 1.0;
  std::vector<cdouble> expected = {1.0};
  for (double t : thetas) {
    expected.push_back(std::polar(1.0, t));
    expected.push_back(std::polar(1.0, -t));
  }
  auto a = make_batch<T>(n, n, 3, kPacked, [&](std::int64_t) {
    const DMat q = random_orthonormal(n, n, rng);
    return matmul(matmul(q, block), transpose(q));
  });
  auto r = run_eig(a);
  expect_valid_eig(a, r);
  for (std::int64_t i = 0; i < 3; ++i) {
    const double c = 10.0;  // c * n * eps<T>
    EXPECT_LE(max_matching_distance(to_cdoubles(r.w.get(i)), expected), c * n * eps<T>());
  }
}

TYPED_TEST(EigBatched, DiagonalMatrixHasItsDiagonalAsEigenvalues) {
  using T = TypeParam;
  const std::vector<double> d = {4, -2, 1, 0.5, 3, -2};
  const std::int64_t n = 6;
  HostBatch<T> a(n, n, 1);
  for (std::int64_t i = 0; i < n; ++i) a(i, i) = static_cast<T>(d[static_cast<std::size_t>(i)]);
  auto r = run_eig(a);
  expect_valid_eig(a, r);
  std::vector<cdouble> expected(d.begin(), d.end());
  EXPECT_LE(max_matching_distance(to_cdoubles(r.w.get(0)), expected), 4 * n * eps<T>() * 4);  // c = 4
  for (auto z : r.w.get(0)) EXPECT_EQ(z.imag(), T(0));
}

TYPED_TEST(EigBatched, TriangularMatricesHaveTheirDiagonalAsEigenvalues) {
  using T = TypeParam;
  const std::vector<double> d = {4, -2, 1, 0.5, 3};
  const std::int64_t n = 5;
  Rng rng(4300);
  for (bool upper : {true, false}) {
    SCOPED_TRACE(upper ? "upper" : "lower");
    auto a = make_batch<T>(n, n, 2, kPacked, [&](std::int64_t) {
      DMat t = random_uniform(n, n, -1, 1, rng);
      for (std::int64_t j = 0; j < n; ++j)
        for (std::int64_t i = 0; i < n; ++i) {
          if (i == j) t(i, j) = d[static_cast<std::size_t>(i)];
          else if (upper ? i > j : i < j) t(i, j) = 0.0;
        }
      return t;
    });
    auto r = run_eig(a);
    expect_valid_eig(a, r);
    std::vector<cdouble> expected(d.begin(), d.end());
    for (std::int64_t i = 0; i < 2; ++i) {
      const double c = 10.0;  // c * n * eps<T> * max|d|
      EXPECT_LE(max_matching_distance(to_cdoubles(r.w.get(i)), expected), c * n * eps<T>() * 4);
    }
  }
}

TYPED_TEST(EigBatched, SingleElementMatrix) {
  using T = TypeParam;
  HostBatch<T> a(1, 1, 3);
  a(0, 0, 0) = T(2.5);
  a(0, 0, 1) = T(-1);
  a(0, 0, 2) = T(0);
  auto r = run_eig(a);
  expect_valid_eig(a, r);
  EXPECT_EQ(r.w(0, 0), std::complex<T>(T(2.5), T(0)));
  EXPECT_EQ(r.w(0, 1), std::complex<T>(T(-1), T(0)));
  EXPECT_EQ(r.w(0, 2), std::complex<T>(T(0), T(0)));
  for (std::int64_t i = 0; i < 3; ++i) EXPECT_NEAR(std::abs(r.v(0, 0, i)), T(1), 2 * eps<T>());
}

TYPED_TEST(EigBatched, ValuesOnlyMatchesVectorMode) {
  using T = TypeParam;
  for (std::int64_t n : {4, 9, 33}) {
    SCOPED_TRACE(testing::Message() << "n = " << n);
    // Normal matrices (random orthogonal ones) so that eigenvalues are well-conditioned.
    Rng rng(4400 + n);
    auto a = make_batch<T>(n, n, 3, kPacked, [&](std::int64_t) { return random_orthonormal(n, n, rng); });
    auto full = run_eig(a, true);
    auto values = run_eig(a, false);
    expect_valid_eig(a, full);
    expect_valid_eig(a, values, false);
    for (std::int64_t i = 0; i < 3; ++i) {
      const double c = 10.0;  // c * n * eps<T> (‖A‖₂ = 1)
      EXPECT_LE(max_matching_distance(to_cdoubles(full.w.get(i)), to_cdoubles(values.w.get(i))), c * n * eps<T>());
      for (auto z : values.w.get(i))
        EXPECT_NEAR(std::abs(std::complex<double>(z)), 1.0, c * n * eps<T>()) << "orthogonal matrix eigenvalue off the unit circle";
    }
  }
}

TYPED_TEST(EigBatched, HonoursLdStrideAndIncrement) {
  using T = TypeParam;
  using C = std::complex<T>;
  auto a = random_batch<T>(6, 6, 3, 4500, kPadded);
  auto r = run_eig(a, true, kPadded, kPaddedVec);
  EXPECT_TRUE(r.w.padding_intact(sentinel<C>())) << "w written outside its elements";
  EXPECT_TRUE(r.v.padding_intact(sentinel<C>())) << "v written outside its matrices";
  expect_valid_eig(a, r);
}

TYPED_TEST(EigBatched, EmptyBatchIsANoOp) {
  using T = TypeParam;
  using C = std::complex<T>;
  Context ctx;
  BatchStatus st;
  EXPECT_NO_THROW(dynx::eig_batched<T>(ctx, dynx::MatrixBatch<const T>(nullptr, 3, 3, 0),
                                       dynx::VectorBatch<C>(nullptr, 3, 0), dynx::MatrixBatch<C>(nullptr, 3, 3, 0), &st));
  EXPECT_EQ(st.count(), 0);
}

TYPED_TEST(EigBatched, SerialAndParallelBatchLoopsAgree) {
  using T = TypeParam;
  auto a = random_batch<T>(7, 7, 12, 4600);
  Context serial, parallel;
  serial.set_num_threads(1);
  parallel.set_num_threads(2);
  auto r1 = run_eig(serial, a), r2 = run_eig(parallel, a);
  expect_valid_eig(a, r1);
  expect_valid_eig(a, r2);
}

}  // namespace
