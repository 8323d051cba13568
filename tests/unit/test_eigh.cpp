// eigh_batched on the CPU: residual ‖AV − V diag(w)‖/‖A‖, orthogonality, ascending order, reading
// only the requested triangle, values only, layouts; eigenvalues against a float64 Jacobi
// reference written in tests/common.
//
// Symmetric eigensolvers are backward stable and eigenvalues are perfectly conditioned
// (|Δλ| ≤ ‖ΔA‖₂), so residual, orthogonality and eigenvalue errors are c * n * eps<T> (relative
// to ‖A‖).

#include "common/reference.hpp"
#include "common/test_common.hpp"

#include <dynx/dynx.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace {

using namespace dynx::test;
using dynx::BatchStatus;
using dynx::Context;
using dynx::MatrixStatus;
using dynx::Uplo;

template <class T>
class EighBatched : public ::testing::Test {};
TYPED_TEST_SUITE(EighBatched, RealTypes);

template <class T>
struct Eigh {
  HostVectors<T> w;
  HostBatch<T> v;
  BatchStatus status;
};

template <class T>
Eigh<T> run_eigh(Context& ctx, const HostBatch<T>& a, bool vectors = true, Uplo uplo = Uplo::lower,
                 Layout out = kPacked, VecLayout wl = kPackedVec) {
  const std::int64_t n = a.rows();
  Eigh<T> r{HostVectors<T>(n, a.count(), wl, sentinel<T>()), HostBatch<T>(n, n, a.count(), out, sentinel<T>()),
            BatchStatus()};
  dynx::EighOptions opt;
  opt.uplo = uplo;
  dynx::eigh_batched<T>(ctx, a.cview(), r.w.view(), vectors ? r.v.view() : dynx::MatrixBatch<T>(), &r.status, opt);
  return r;
}

template <class T>
Eigh<T> run_eigh(const HostBatch<T>& a, bool vectors = true, Uplo uplo = Uplo::lower, Layout out = kPacked,
                 VecLayout wl = kPackedVec) {
  Context ctx;
  return run_eigh(ctx, a, vectors, uplo, out, wl);
}

// `sym(k)` is the symmetric matrix the solver should see for matrix k.
template <class T, class Sym>
void expect_valid_eigh(Eigh<T>& r, std::int64_t count, Sym&& sym, bool vectors = true) {
  ASSERT_EQ(r.status.count(), count);
  for (std::int64_t i = 0; i < count; ++i) {
    const DMat a = sym(i);
    const std::int64_t n = a.rows;
    SCOPED_TRACE(testing::Message() << "matrix " << i << " of order " << n);
    EXPECT_EQ(r.status.at(i), MatrixStatus::ok);
    const std::vector<double> w = to_doubles(r.w.get(i));
    for (std::size_t j = 0; j + 1 < w.size(); ++j) EXPECT_LE(w[j], w[j + 1]) << "not ascending at " << j;
    const double c = 10.0;  // c * n * eps<T>
    const double tol = c * static_cast<double>(n) * eps<T>();
    const double scale = std::max(frobenius(a), 1e-300);
    EXPECT_LE(max_abs_diff(w, jacobi_eigenvalues(a)), tol * scale);
    if (vectors) {
      const DMat v = to_dmat(r.v, i);
      EXPECT_LE(eigh_residual(a, v, w), tol);
      EXPECT_LE(orthonormal_columns_error(v), tol);
    }
  }
}

TYPED_TEST(EighBatched, ResidualOrthogonalityAndOrder) {
  using T = TypeParam;
  for (std::int64_t n : {1, 2, 5, 31, 32, 33}) {
    SCOPED_TRACE(testing::Message() << "n = " << n);
    Rng rng(3000 + n);
    auto a = make_batch<T>(n, n, 3, kPacked, [&](std::int64_t) { return random_symmetric(n, rng); });
    auto r = run_eigh(a);
    expect_valid_eigh(r, 3, [&](std::int64_t i) { return to_dmat(a, i); });
  }
}

TYPED_TEST(EighBatched, KnownEigenvaluesIncludingRepeatedAndNegative) {
  using T = TypeParam;
  Rng rng(3100);
  const std::vector<double> lambda = {-3, -3, -1, 0, 0, 0.5, 2, 2, 2, 7};
  auto a = make_batch<T>(10, 10, 2, kPacked, [&](std::int64_t) { return symmetric_with_eigenvalues(lambda, rng); });
  auto r = run_eigh(a);
  expect_valid_eigh(r, 2, [&](std::int64_t i) { return to_dmat(a, i); });
  for (std::int64_t i = 0; i < 2; ++i) {
    const double c = 10.0;  // c * n * eps<T> * max|λ|
    EXPECT_LE(max_abs_diff(to_doubles(r.w.get(i)), lambda), c * 10 * eps<T>() * 7.0);
  }
}

TYPED_TEST(EighBatched, DiagonalMatrixGivesSortedDiagonal) {
  using T = TypeParam;
  HostBatch<T> a(4, 4, 1);
  const T d[4] = {T(3), T(-1), T(2), T(0.5)};
  for (int i = 0; i < 4; ++i) a(i, i) = d[i];
  auto r = run_eigh(a);
  const std::vector<double> expected = {-1, 0.5, 2, 3};
  EXPECT_LE(max_abs_diff(to_doubles(r.w.get(0)), expected), 4 * 4 * eps<T>() * 3);  // c = 4
  expect_valid_eigh(r, 1, [&](std::int64_t) { return to_dmat(a, 0); });
}

// Only the requested triangle is read: the other holds NaN, which must neither be used nor flag
// the matrix as non-finite.
TYPED_TEST(EighBatched, ReadsOnlyTheRequestedTriangle) {
  using T = TypeParam;
  const std::int64_t n = 9;
  for (Uplo uplo : {Uplo::lower, Uplo::upper}) {
    SCOPED_TRACE(uplo == Uplo::lower ? "lower" : "upper");
    Rng rng(3200);
    std::vector<DMat> sym;
    for (int i = 0; i < 3; ++i) sym.push_back(random_symmetric(n, rng));
    HostBatch<T> a(n, n, 3);
    for (std::int64_t k = 0; k < 3; ++k) {
      store(sym[static_cast<std::size_t>(k)], a, k);
      for (std::int64_t j = 0; j < n; ++j)
        for (std::int64_t i = 0; i < n; ++i) {
          const bool unread = uplo == Uplo::lower ? i < j : i > j;
          if (unread) a(i, j, k) = k == 1 ? nan_value<T>() : T(1000 + i * n + j);  // garbage
        }
    }
    auto r = run_eigh(a, true, uplo);
    expect_valid_eigh(r, 3, [&](std::int64_t i) { return sym[static_cast<std::size_t>(i)]; });
  }
}

TYPED_TEST(EighBatched, LowerAndUpperAgreeOnSymmetricInput) {
  using T = TypeParam;
  Rng rng(3300);
  auto a = make_batch<T>(12, 12, 2, kPacked, [&](std::int64_t) { return random_symmetric(12, rng); });
  auto lo = run_eigh(a, true, Uplo::lower);
  auto up = run_eigh(a, true, Uplo::upper);
  for (std::int64_t i = 0; i < 2; ++i) {
    const double c = 10.0;  // c * n * eps<T> * ‖A‖
    EXPECT_LE(max_abs_diff(to_doubles(lo.w.get(i)), to_doubles(up.w.get(i))),
              c * 12 * eps<T>() * frobenius(to_dmat(a, i)));
  }
}

TYPED_TEST(EighBatched, ValuesOnlyMatchesVectorMode) {
  using T = TypeParam;
  for (std::int64_t n : {3, 33}) {
    Rng rng(3400 + n);
    auto a = make_batch<T>(n, n, 3, kPacked, [&](std::int64_t) { return random_symmetric(n, rng); });
    auto full = run_eigh(a, true);
    auto values = run_eigh(a, false);
    expect_valid_eigh(values, 3, [&](std::int64_t i) { return to_dmat(a, i); }, false);
    for (std::int64_t i = 0; i < 3; ++i) {
      const double c = 10.0;  // c * n * eps<T> * ‖A‖
      EXPECT_LE(max_abs_diff(to_doubles(full.w.get(i)), to_doubles(values.w.get(i))),
                c * n * eps<T>() * frobenius(to_dmat(a, i)));
    }
  }
}

TYPED_TEST(EighBatched, HonoursLdStrideAndIncrement) {
  using T = TypeParam;
  Rng rng(3500);
  const std::int64_t n = 6;
  auto a = make_batch<T>(n, n, 3, kPadded, [&](std::int64_t) { return random_symmetric(n, rng); });
  for (Uplo uplo : {Uplo::lower, Uplo::upper}) {
    auto r = run_eigh(a, true, uplo, kPadded, kPaddedVec);
    EXPECT_TRUE(r.w.padding_intact(sentinel<T>())) << "w written outside its elements";
    EXPECT_TRUE(r.v.padding_intact(sentinel<T>())) << "v written outside its matrices";
    expect_valid_eigh(r, 3, [&](std::int64_t i) { return to_dmat(a, i); });
  }
}

TYPED_TEST(EighBatched, EmptyBatchIsANoOp) {
  using T = TypeParam;
  Context ctx;
  BatchStatus st;
  EXPECT_NO_THROW(dynx::eigh_batched<T>(ctx, dynx::MatrixBatch<const T>(nullptr, 4, 4, 0),
                                        dynx::VectorBatch<T>(nullptr, 4, 0), dynx::MatrixBatch<T>(nullptr, 4, 4, 0),
                                        &st));
  EXPECT_EQ(st.count(), 0);
}

TYPED_TEST(EighBatched, SerialAndParallelBatchLoopsAgree) {
  using T = TypeParam;
  Rng rng(3600);
  auto a = make_batch<T>(8, 8, 10, kPacked, [&](std::int64_t) { return random_symmetric(8, rng); });
  Context serial, parallel;
  serial.set_num_threads(1);
  parallel.set_num_threads(2);
  auto r1 = run_eigh(serial, a), r2 = run_eigh(parallel, a);
  expect_valid_eigh(r1, 10, [&](std::int64_t i) { return to_dmat(a, i); });
  expect_valid_eigh(r2, 10, [&](std::int64_t i) { return to_dmat(a, i); });
}

}  // namespace
