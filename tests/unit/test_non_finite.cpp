// NaN and Inf input, for every operation: the matrix is flagged MatrixStatus::non_finite, its
// outputs are NaN, the other matrices of the batch are computed normally, and without a
// BatchStatus the call throws NumericalError. (A hang would hit the CTest timeout.)

#include "common/reference.hpp"
#include "common/test_common.hpp"

#include <dynx/dynx.hpp>

#include <gtest/gtest.h>

#include <complex>
#include <cstdint>
#include <limits>
#include <vector>

namespace {

using namespace dynx::test;
using dynx::BatchStatus;
using dynx::Context;
using dynx::MatrixStatus;

template <class T>
class NonFinite : public ::testing::Test {};
TYPED_TEST_SUITE(NonFinite, RealTypes);

constexpr std::int64_t kCount = 3;
constexpr std::int64_t kBad = 1;  // the poisoned matrix

// The values that poison a matrix, and where: first element, an interior one, the last one.
template <class T>
std::vector<T> poisons() {
  return {std::numeric_limits<T>::quiet_NaN(), std::numeric_limits<T>::infinity(),
          -std::numeric_limits<T>::infinity()};
}

template <class T>
void poison(HostBatch<T>& a, std::int64_t k, T value, int where) {
  const std::int64_t i = where == 0 ? 0 : where == 1 ? a.rows() / 2 : a.rows() - 1;
  const std::int64_t j = where == 0 ? 0 : where == 1 ? a.cols() / 2 : a.cols() - 1;
  a(i, j, k) = value;
}

void expect_flagged(BatchStatus& st) {
  ASSERT_EQ(st.count(), kCount);
  EXPECT_EQ(st.at(0), MatrixStatus::ok);
  EXPECT_EQ(st.at(kBad), MatrixStatus::non_finite);
  EXPECT_EQ(st.at(2), MatrixStatus::ok);
  EXPECT_EQ(st.failed_indices(), std::vector<std::int64_t>{kBad});
}

TYPED_TEST(NonFinite, Svd) {
  using T = TypeParam;
  Context ctx;
  for (T value : poisons<T>())
    for (int where = 0; where < 3; ++where) {
      SCOPED_TRACE(testing::Message() << value << " at position " << where);
      auto a = random_batch<T>(6, 4, kCount, 8000);
      poison(a, kBad, value, where);
      HostVectors<T> s(4, kCount);
      HostBatch<T> u(6, 4, kCount), vt(4, 4, kCount);
      BatchStatus st;
      dynx::svd_batched<T>(ctx, a.cview(), s.view(), u.view(), vt.view(), &st);
      expect_flagged(st);
      EXPECT_TRUE(s.all_nan(kBad));
      EXPECT_TRUE(u.all_nan(kBad));
      EXPECT_TRUE(vt.all_nan(kBad));
      for (std::int64_t i : {std::int64_t{0}, std::int64_t{2}}) {
        const double c = 10.0;  // c * n * eps<T>
        EXPECT_LE(svd_reconstruction_error(to_dmat(a, i), to_dmat(u, i), to_doubles(s.get(i)), to_dmat(vt, i)),
                  c * 6 * eps<T>());
      }
      // Values only.
      HostVectors<T> s2(4, kCount);
      BatchStatus st2;
      dynx::svd_batched<T>(ctx, a.cview(), s2.view(), {}, {}, &st2);
      expect_flagged(st2);
      EXPECT_TRUE(s2.all_nan(kBad));
      // Without a status.
      EXPECT_THROW(dynx::svd_batched<T>(ctx, a.cview(), s2.view(), {}, {}), dynx::NumericalError);
    }
}

TYPED_TEST(NonFinite, SvdWithExplicitQrIteration) {
  using T = TypeParam;
  Context ctx;
  auto a = random_batch<T>(5, 5, kCount, 8050);
  poison(a, kBad, nan_value<T>(), 1);
  HostVectors<T> s(5, kCount);
  HostBatch<T> u(5, 5, kCount), vt(5, 5, kCount);
  BatchStatus st;
  dynx::SvdOptions opt;
  opt.algorithm = dynx::SvdAlgorithm::qr_iteration;
  dynx::svd_batched<T>(ctx, a.cview(), s.view(), u.view(), vt.view(), &st, opt);
  expect_flagged(st);
  EXPECT_TRUE(s.all_nan(kBad));
  EXPECT_TRUE(u.all_nan(kBad));
}

TYPED_TEST(NonFinite, Qr) {
  using T = TypeParam;
  Context ctx;
  for (T value : poisons<T>()) {
    SCOPED_TRACE(testing::Message() << value);
    auto a = random_batch<T>(6, 4, kCount, 8100);
    poison(a, kBad, value, 2);
    HostBatch<T> q(6, 4, kCount), r(4, 4, kCount);
    BatchStatus st;
    dynx::qr_batched<T>(ctx, a.cview(), q.view(), r.view(), &st);
    expect_flagged(st);
    EXPECT_TRUE(q.all_nan(kBad));
    EXPECT_TRUE(r.all_nan(kBad));
    for (std::int64_t i : {std::int64_t{0}, std::int64_t{2}}) {
      const double c = 10.0;  // c * n * eps<T>
      EXPECT_LE(qr_reconstruction_error(to_dmat(a, i), to_dmat(q, i), to_dmat(r, i)), c * 6 * eps<T>());
    }
    HostBatch<T> r2(4, 4, kCount);
    EXPECT_THROW(dynx::qr_batched<T>(ctx, a.cview(), {}, r2.view()), dynx::NumericalError);
    EXPECT_TRUE(r2.all_nan(kBad));
  }
}

TYPED_TEST(NonFinite, Eigh) {
  using T = TypeParam;
  Context ctx;
  for (dynx::Uplo uplo : {dynx::Uplo::lower, dynx::Uplo::upper})
    for (T value : poisons<T>()) {
      SCOPED_TRACE(testing::Message() << value << (uplo == dynx::Uplo::lower ? " lower" : " upper"));
      Rng rng(8200);
      auto a = make_batch<T>(5, 5, kCount, kPacked, [&](std::int64_t) { return random_symmetric(5, rng); });
      // A diagonal entry is in both triangles.
      a(2, 2, kBad) = value;
      HostVectors<T> w(5, kCount);
      HostBatch<T> v(5, 5, kCount);
      BatchStatus st;
      dynx::EighOptions opt;
      opt.uplo = uplo;
      dynx::eigh_batched<T>(ctx, a.cview(), w.view(), v.view(), &st, opt);
      expect_flagged(st);
      EXPECT_TRUE(w.all_nan(kBad));
      EXPECT_TRUE(v.all_nan(kBad));
      for (std::int64_t i : {std::int64_t{0}, std::int64_t{2}}) {
        const double c = 10.0;  // c * n * eps<T>
        EXPECT_LE(eigh_residual(to_dmat(a, i), to_dmat(v, i), to_doubles(w.get(i))), c * 5 * eps<T>());
      }
      EXPECT_THROW(dynx::eigh_batched<T>(ctx, a.cview(), w.view(), {}, nullptr, opt), dynx::NumericalError);
    }
}

TYPED_TEST(NonFinite, EighNanInTheReadOffDiagonalTriangle) {
  using T = TypeParam;
  Context ctx;
  for (dynx::Uplo uplo : {dynx::Uplo::lower, dynx::Uplo::upper}) {
    Rng rng(8250);
    auto a = make_batch<T>(4, 4, kCount, kPacked, [&](std::int64_t) { return random_symmetric(4, rng); });
    if (uplo == dynx::Uplo::lower) a(3, 0, kBad) = nan_value<T>();
    else a(0, 3, kBad) = nan_value<T>();
    HostVectors<T> w(4, kCount);
    BatchStatus st;
    dynx::EighOptions opt;
    opt.uplo = uplo;
    dynx::eigh_batched<T>(ctx, a.cview(), w.view(), {}, &st, opt);
    expect_flagged(st);
    EXPECT_TRUE(w.all_nan(kBad));
  }
}

TYPED_TEST(NonFinite, Eig) {
  using T = TypeParam;
  using C = std::complex<T>;
  Context ctx;
  for (T value : poisons<T>()) {
    SCOPED_TRACE(testing::Message() << value);
    auto a = random_batch<T>(5, 5, kCount, 8300);
    poison(a, kBad, value, 1);
    HostVectors<C> w(5, kCount);
    HostBatch<C> v(5, 5, kCount);
    BatchStatus st;
    dynx::eig_batched<T>(ctx, a.cview(), w.view(), v.view(), &st);
    expect_flagged(st);
    EXPECT_TRUE(w.all_nan(kBad));
    EXPECT_TRUE(v.all_nan(kBad));
    for (std::int64_t i : {std::int64_t{0}, std::int64_t{2}}) {
      const double c = 10.0;  // c * n * eps<T>
      EXPECT_LE(eig_residual(to_dmat(a, i), to_cmat(v, i), to_cdoubles(w.get(i))), c * 5 * eps<T>());
    }
    EXPECT_THROW(dynx::eig_batched<T>(ctx, a.cview(), w.view(), {}), dynx::NumericalError);
  }
}

TYPED_TEST(NonFinite, SolveWithBadMatrix) {
  using T = TypeParam;
  Context ctx;
  for (T value : poisons<T>()) {
    SCOPED_TRACE(testing::Message() << value);
    Rng rng(8400);
    auto a = make_batch<T>(4, 4, kCount, kPacked,
                           [&](std::int64_t) { return with_singular_values(4, 4, {2, 1.7, 1.3, 1}, rng); });
    poison(a, kBad, value, 0);
    auto b = random_batch<T>(4, 2, kCount, 8401);
    HostBatch<T> x(4, 2, kCount);
    BatchStatus st;
    dynx::solve_batched<T>(ctx, a.cview(), b.cview(), x.view(), &st);
    expect_flagged(st);
    EXPECT_TRUE(x.all_nan(kBad));
    for (std::int64_t i : {std::int64_t{0}, std::int64_t{2}}) {
      const double c = 10.0;  // c * n * eps<T>
      EXPECT_LE(solve_residual(to_dmat(a, i), to_dmat(x, i), to_dmat(b, i)), c * 4 * eps<T>());
    }
    EXPECT_THROW(dynx::solve_batched<T>(ctx, a.cview(), b.cview(), x.view()), dynx::NumericalError);
  }
}

TYPED_TEST(NonFinite, SolveWithBadRightHandSide) {
  using T = TypeParam;
  Context ctx;
  Rng rng(8500);
  auto a = make_batch<T>(4, 4, kCount, kPacked,
                         [&](std::int64_t) { return with_singular_values(4, 4, {2, 1.7, 1.3, 1}, rng); });
  auto b = random_batch<T>(4, 2, kCount, 8501);
  b(3, 1, kBad) = nan_value<T>();
  HostBatch<T> x(4, 2, kCount);
  BatchStatus st;
  dynx::solve_batched<T>(ctx, a.cview(), b.cview(), x.view(), &st);
  expect_flagged(st);
  EXPECT_TRUE(x.all_nan(kBad));
  // In place.
  HostBatch<T> xb = b;
  BatchStatus st2;
  dynx::solve_batched<T>(ctx, a.cview(), xb.cview(), xb.view(), &st2);
  expect_flagged(st2);
  EXPECT_TRUE(xb.all_nan(kBad));
}

TYPED_TEST(NonFinite, Inverse) {
  using T = TypeParam;
  Context ctx;
  for (T value : poisons<T>()) {
    SCOPED_TRACE(testing::Message() << value);
    Rng rng(8600);
    auto a = make_batch<T>(4, 4, kCount, kPacked,
                           [&](std::int64_t) { return with_singular_values(4, 4, {2, 1.7, 1.3, 1}, rng); });
    poison(a, kBad, value, 2);
    HostBatch<T> inv(4, 4, kCount);
    BatchStatus st;
    dynx::inverse_batched<T>(ctx, a.cview(), inv.view(), &st);
    expect_flagged(st);
    EXPECT_TRUE(inv.all_nan(kBad));
    for (std::int64_t i : {std::int64_t{0}, std::int64_t{2}}) {
      const double c = 10.0, cond = 2.0;  // c * n * eps<T> * cond(A)
      EXPECT_LE(inverse_residual(to_dmat(a, i), to_dmat(inv, i)), c * 4 * eps<T>() * cond);
    }
    EXPECT_THROW(dynx::inverse_batched<T>(ctx, a.cview(), inv.view()), dynx::NumericalError);
  }
}

TYPED_TEST(NonFinite, Polar) {
  using T = TypeParam;
  Context ctx;
  for (T value : poisons<T>()) {
    SCOPED_TRACE(testing::Message() << value);
    auto a = random_batch<T>(6, 4, kCount, 8700);
    poison(a, kBad, value, 1);
    HostBatch<T> q(6, 4, kCount);
    BatchStatus st;
    dynx::polar_batched<T>(ctx, a.cview(), q.view(), &st);
    expect_flagged(st);
    EXPECT_TRUE(q.all_nan(kBad));
    for (std::int64_t i : {std::int64_t{0}, std::int64_t{2}}) {
      const double c = 10.0;  // c * n * eps<T>
      EXPECT_LE(orthonormal_columns_error(to_dmat(q, i)), c * 6 * eps<T>());
    }
    EXPECT_THROW(dynx::polar_batched<T>(ctx, a.cview(), q.view()), dynx::NumericalError);
  }
}

// Every matrix poisoned, in a batch big enough for the parallel loop.
TYPED_TEST(NonFinite, WholeBatchPoisonedInParallel) {
  using T = TypeParam;
  Context ctx;
  ctx.set_num_threads(2);
  const std::int64_t count = 16;
  HostBatch<T> a(5, 5, count, kPacked, nan_value<T>());
  HostVectors<T> s(5, count);
  BatchStatus st;
  dynx::svd_batched<T>(ctx, a.cview(), s.view(), {}, {}, &st);
  EXPECT_EQ(st.failures(), count);
  for (std::int64_t i = 0; i < count; ++i) {
    EXPECT_EQ(st.at(i), MatrixStatus::non_finite);
    EXPECT_TRUE(s.all_nan(i));
  }
}

}  // namespace
