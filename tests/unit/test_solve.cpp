// solve_batched and inverse_batched on the CPU: residuals on well-conditioned matrices, in-place
// solves, exactly singular matrices (status, NaN outputs, the rest of the batch intact), layouts.
//
// LU with partial pivoting is backward stable in practice: ‖AX − B‖ / (‖A‖‖X‖ + ‖B‖) is
// c * n * eps<T>, and ‖A A⁻¹ − I‖ is c * n * eps<T> * cond(A). The matrices here have singular
// values in [1, 2], so cond(A) ≤ 2.

#include "common/reference.hpp"
#include "common/test_common.hpp"

#include <dynx/dynx.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <vector>

namespace {

using namespace dynx::test;
using dynx::BatchStatus;
using dynx::Context;
using dynx::MatrixStatus;

template <class T>
class SolveBatched : public ::testing::Test {};
TYPED_TEST_SUITE(SolveBatched, RealTypes);
template <class T>
class InverseBatched : public ::testing::Test {};
TYPED_TEST_SUITE(InverseBatched, RealTypes);

// `count` n×n matrices with singular values spread over [1, 2].
template <class T>
HostBatch<T> well_conditioned(std::int64_t n, std::int64_t count, std::uint64_t seed, Layout layout = kPacked) {
  Rng rng(seed);
  return make_batch<T>(n, n, count, layout,
                       [&](std::int64_t) { return with_singular_values(n, n, spread_values(n, 2.0, 1.0), rng); });
}

// Makes matrix k exactly singular for LU: its first column is zero.
template <class T>
void make_singular(HostBatch<T>& a, std::int64_t k) {
  for (std::int64_t i = 0; i < a.rows(); ++i) a(i, 0, k) = T(0);
}

template <class T>
void expect_solved(const HostBatch<T>& a, const HostBatch<T>& b, const HostBatch<T>& x, std::int64_t i) {
  const double c = 10.0;  // c * n * eps<T>
  EXPECT_LE(solve_residual(to_dmat(a, i), to_dmat(x, i), to_dmat(b, i)), c * a.rows() * eps<T>()) << "matrix " << i;
}

template <class T>
void expect_inverse(const HostBatch<T>& a, const HostBatch<T>& ainv, std::int64_t i) {
  const double c = 10.0, cond = 2.0;  // c * n * eps<T> * cond(A)
  EXPECT_LE(inverse_residual(to_dmat(a, i), to_dmat(ainv, i)), c * a.rows() * eps<T>() * cond) << "matrix " << i;
}

TYPED_TEST(SolveBatched, SmallResidualOnWellConditionedMatrices) {
  using T = TypeParam;
  Context ctx;
  for (std::int64_t n : {1, 2, 5, 31, 32, 33})
    for (std::int64_t nrhs : {1, 3}) {
      SCOPED_TRACE(testing::Message() << "n = " << n << ", nrhs = " << nrhs);
      auto a = well_conditioned<T>(n, 3, 5000 + n);
      auto b = random_batch<T>(n, nrhs, 3, 5100 + n);
      HostBatch<T> x(n, nrhs, 3);
      BatchStatus st;
      dynx::solve_batched<T>(ctx, a.cview(), b.cview(), x.view(), &st);
      ASSERT_TRUE(st.all_ok());
      for (std::int64_t i = 0; i < 3; ++i) expect_solved(a, b, x, i);
    }
}

TYPED_TEST(SolveBatched, InPlaceMatchesOutOfPlace) {
  using T = TypeParam;
  Context ctx;
  auto a = well_conditioned<T>(7, 4, 5200);
  auto b = random_batch<T>(7, 2, 4, 5201);
  HostBatch<T> x(7, 2, 4);
  dynx::solve_batched<T>(ctx, a.cview(), b.cview(), x.view());
  HostBatch<T> xb = b;  // x is the same view as b
  BatchStatus st;
  dynx::solve_batched<T>(ctx, a.cview(), xb.cview(), xb.view(), &st);
  ASSERT_TRUE(st.all_ok());
  for (std::int64_t i = 0; i < 4; ++i) {
    expect_solved(a, b, xb, i);
    const double c = 10.0, cond = 2.0;  // c * n * eps<T> * cond(A), relative to ‖X‖
    EXPECT_LE(relative_error(to_dmat(x, i), to_dmat(xb, i)), c * 7 * eps<T>() * cond);
  }
}

TYPED_TEST(SolveBatched, SingularMatrixIsFlaggedAndTheRestSolved) {
  using T = TypeParam;
  Context ctx;
  const std::int64_t n = 5, count = 4;
  auto a = well_conditioned<T>(n, count, 5300);
  make_singular(a, 2);
  auto b = random_batch<T>(n, 2, count, 5301);
  HostBatch<T> x(n, 2, count);
  BatchStatus st;
  dynx::solve_batched<T>(ctx, a.cview(), b.cview(), x.view(), &st);
  EXPECT_EQ(st.failures(), 1);
  EXPECT_EQ(st.at(2), MatrixStatus::singular);
  EXPECT_TRUE(x.all_nan(2)) << "outputs of the singular matrix are not NaN";
  for (std::int64_t i : {0, 1, 3}) {
    EXPECT_EQ(st.at(i), MatrixStatus::ok);
    expect_solved(a, b, x, i);
  }
}

TYPED_TEST(SolveBatched, SingularInPlaceGivesNan) {
  using T = TypeParam;
  Context ctx;
  auto a = well_conditioned<T>(3, 2, 5400);
  make_singular(a, 0);
  auto b = random_batch<T>(3, 1, 2, 5401);
  HostBatch<T> xb = b;
  BatchStatus st;
  dynx::solve_batched<T>(ctx, a.cview(), xb.cview(), xb.view(), &st);
  EXPECT_EQ(st.at(0), MatrixStatus::singular);
  EXPECT_EQ(st.at(1), MatrixStatus::ok);
  EXPECT_TRUE(xb.all_nan(0));
  expect_solved(a, b, xb, 1);
}

TYPED_TEST(SolveBatched, ExactlySingularTwoByTwo) {
  using T = TypeParam;
  // [2 4; 1 2]: elimination gives 2 - (1/2)·4 = 0 exactly.
  Context ctx;
  HostBatch<T> a(2, 2, 1);
  a(0, 0) = T(2);
  a(1, 0) = T(1);
  a(0, 1) = T(4);
  a(1, 1) = T(2);
  HostBatch<T> b(2, 1, 1, kPacked, T(1)), x(2, 1, 1);
  BatchStatus st;
  dynx::solve_batched<T>(ctx, a.cview(), b.cview(), x.view(), &st);
  EXPECT_EQ(st.at(0), MatrixStatus::singular);
  EXPECT_TRUE(x.all_nan(0));
}

TYPED_TEST(SolveBatched, WithoutStatusSingularThrowsNumericalError) {
  using T = TypeParam;
  Context ctx;
  auto a = well_conditioned<T>(4, 3, 5500);
  make_singular(a, 1);
  auto b = random_batch<T>(4, 1, 3, 5501);
  HostBatch<T> x(4, 1, 3);
  try {
    dynx::solve_batched<T>(ctx, a.cview(), b.cview(), x.view());
    FAIL() << "no exception for a singular matrix without a BatchStatus";
  } catch (const dynx::NumericalError& e) {
    EXPECT_NE(std::string(e.what()).find("solve_batched"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("matrix 1"), std::string::npos) << e.what();
  }
  // The rest of the batch was still computed.
  expect_solved(a, b, x, 0);
  expect_solved(a, b, x, 2);
}

TYPED_TEST(SolveBatched, HonoursLdAndStride) {
  using T = TypeParam;
  Context ctx;
  auto a = well_conditioned<T>(6, 3, 5600, kPadded);
  auto b = random_batch<T>(6, 2, 3, 5601, kPadded);
  HostBatch<T> x(6, 2, 3, kPadded, sentinel<T>());
  BatchStatus st;
  dynx::solve_batched<T>(ctx, a.cview(), b.cview(), x.view(), &st);
  ASSERT_TRUE(st.all_ok());
  EXPECT_TRUE(x.padding_intact(sentinel<T>())) << "x written outside its matrices";
  for (std::int64_t i = 0; i < 3; ++i) expect_solved(a, b, x, i);
}

TYPED_TEST(SolveBatched, EmptyBatchAndNoRightHandSides) {
  using T = TypeParam;
  Context ctx;
  BatchStatus st;
  EXPECT_NO_THROW(dynx::solve_batched<T>(ctx, dynx::MatrixBatch<const T>(nullptr, 3, 3, 0),
                                         dynx::MatrixBatch<const T>(nullptr, 3, 2, 0),
                                         dynx::MatrixBatch<T>(nullptr, 3, 2, 0), &st));
  EXPECT_EQ(st.count(), 0);
  auto a = well_conditioned<T>(3, 2, 5700);
  EXPECT_NO_THROW(dynx::solve_batched<T>(ctx, a.cview(), dynx::MatrixBatch<const T>(nullptr, 3, 0, 3, 3, 2),
                                         dynx::MatrixBatch<T>(nullptr, 3, 0, 3, 3, 2), &st));
  EXPECT_EQ(st.count(), 2);
  EXPECT_TRUE(st.all_ok());
}

TYPED_TEST(SolveBatched, SerialAndParallelBatchLoopsAgree) {
  using T = TypeParam;
  auto a = well_conditioned<T>(9, 13, 5800);
  auto b = random_batch<T>(9, 2, 13, 5801);
  HostBatch<T> x1(9, 2, 13), x2(9, 2, 13);
  Context serial, parallel;
  serial.set_num_threads(1);
  parallel.set_num_threads(2);
  dynx::solve_batched<T>(serial, a.cview(), b.cview(), x1.view());
  dynx::solve_batched<T>(parallel, a.cview(), b.cview(), x2.view());
  for (std::int64_t i = 0; i < 13; ++i) {
    expect_solved(a, b, x1, i);
    expect_solved(a, b, x2, i);
  }
}

TYPED_TEST(InverseBatched, SmallResidualOnWellConditionedMatrices) {
  using T = TypeParam;
  Context ctx;
  for (std::int64_t n : {1, 2, 6, 31, 32, 33}) {
    SCOPED_TRACE(testing::Message() << "n = " << n);
    auto a = well_conditioned<T>(n, 3, 6000 + n);
    HostBatch<T> inv(n, n, 3);
    BatchStatus st;
    dynx::inverse_batched<T>(ctx, a.cview(), inv.view(), &st);
    ASSERT_TRUE(st.all_ok());
    for (std::int64_t i = 0; i < 3; ++i) expect_inverse(a, inv, i);
  }
}

TYPED_TEST(InverseBatched, SingularMatrixIsFlaggedAndTheRestInverted) {
  using T = TypeParam;
  Context ctx;
  auto a = well_conditioned<T>(5, 3, 6100);
  make_singular(a, 1);
  HostBatch<T> inv(5, 5, 3);
  BatchStatus st;
  dynx::inverse_batched<T>(ctx, a.cview(), inv.view(), &st);
  EXPECT_EQ(st.at(0), MatrixStatus::ok);
  EXPECT_EQ(st.at(1), MatrixStatus::singular);
  EXPECT_EQ(st.at(2), MatrixStatus::ok);
  EXPECT_TRUE(inv.all_nan(1));
  expect_inverse(a, inv, 0);
  expect_inverse(a, inv, 2);
}

TYPED_TEST(InverseBatched, ZeroMatrixIsSingular) {
  using T = TypeParam;
  Context ctx;
  HostBatch<T> a(3, 3, 1), inv(3, 3, 1);
  BatchStatus st;
  dynx::inverse_batched<T>(ctx, a.cview(), inv.view(), &st);
  EXPECT_EQ(st.at(0), MatrixStatus::singular);
  EXPECT_TRUE(inv.all_nan(0));
}

TYPED_TEST(InverseBatched, WithoutStatusSingularThrowsNumericalError) {
  using T = TypeParam;
  Context ctx;
  auto a = well_conditioned<T>(4, 2, 6200);
  make_singular(a, 0);
  HostBatch<T> inv(4, 4, 2);
  EXPECT_THROW(dynx::inverse_batched<T>(ctx, a.cview(), inv.view()), dynx::NumericalError);
  expect_inverse(a, inv, 1);
}

TYPED_TEST(InverseBatched, HonoursLdAndStride) {
  using T = TypeParam;
  Context ctx;
  auto a = well_conditioned<T>(7, 3, 6300, kPadded);
  HostBatch<T> inv(7, 7, 3, kPadded, sentinel<T>());
  BatchStatus st;
  dynx::inverse_batched<T>(ctx, a.cview(), inv.view(), &st);
  ASSERT_TRUE(st.all_ok());
  EXPECT_TRUE(inv.padding_intact(sentinel<T>())) << "ainv written outside its matrices";
  for (std::int64_t i = 0; i < 3; ++i) expect_inverse(a, inv, i);
}

TYPED_TEST(InverseBatched, InverseSolvesTheSameSystems) {
  using T = TypeParam;
  Context ctx;
  auto a = well_conditioned<T>(8, 2, 6400);
  auto b = random_batch<T>(8, 8, 2, 6401);
  HostBatch<T> inv(8, 8, 2), x(8, 8, 2);
  dynx::inverse_batched<T>(ctx, a.cview(), inv.view());
  dynx::solve_batched<T>(ctx, a.cview(), b.cview(), x.view());
  for (std::int64_t i = 0; i < 2; ++i) {
    const DMat xi = matmul(to_dmat(inv, i), to_dmat(b, i));
    const double c = 10.0, cond = 2.0;  // c * n * eps<T> * cond(A)
    EXPECT_LE(relative_error(to_dmat(x, i), xi), c * 8 * eps<T>() * cond);
  }
}

TYPED_TEST(InverseBatched, EmptyBatchIsANoOp) {
  using T = TypeParam;
  Context ctx;
  BatchStatus st;
  EXPECT_NO_THROW(dynx::inverse_batched<T>(ctx, dynx::MatrixBatch<const T>(nullptr, 3, 3, 0),
                                           dynx::MatrixBatch<T>(nullptr, 3, 3, 0), &st));
  EXPECT_EQ(st.count(), 0);
}

}  // namespace
