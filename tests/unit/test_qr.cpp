// qr_batched on the CPU: A = Q R, QᵀQ = I, R upper triangular; tall, wide and square; R only.
//
// Householder QR is backward stable: ‖A − QR‖/‖A‖ and ‖QᵀQ − I‖ are c * n * eps<T> with n the
// larger dimension (Higham, Accuracy and Stability, §19.3).

#include "common/reference.hpp"
#include "common/test_common.hpp"

#include <dynx/dynx.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

namespace {

using namespace dynx::test;
using dynx::BatchStatus;
using dynx::Context;
using dynx::MatrixStatus;

template <class T>
class QrBatched : public ::testing::Test {};
TYPED_TEST_SUITE(QrBatched, RealTypes);

using Shape = std::pair<std::int64_t, std::int64_t>;

template <class T>
struct Qr {
  HostBatch<T> q, r;
  BatchStatus status;
};

template <class T>
Qr<T> run_qr(Context& ctx, const HostBatch<T>& a, bool want_q = true, Layout out = kPacked) {
  const std::int64_t m = a.rows(), n = a.cols(), k = std::min(m, n);
  Qr<T> res{HostBatch<T>(m, k, a.count(), out, sentinel<T>()), HostBatch<T>(k, n, a.count(), out, sentinel<T>()),
            BatchStatus()};
  dynx::qr_batched<T>(ctx, a.cview(), want_q ? res.q.view() : dynx::MatrixBatch<T>(), res.r.view(), &res.status);
  return res;
}

template <class T>
Qr<T> run_qr(const HostBatch<T>& a, bool want_q = true, Layout out = kPacked) {
  Context ctx;
  return run_qr(ctx, a, want_q, out);
}

template <class T>
void expect_valid_qr(const HostBatch<T>& a, Qr<T>& res) {
  const std::int64_t m = a.rows(), n = a.cols();
  const double c = 10.0;  // c * n * eps<T>
  const double tol = c * static_cast<double>(std::max(m, n)) * eps<T>();
  ASSERT_EQ(res.status.count(), a.count());
  for (std::int64_t i = 0; i < a.count(); ++i) {
    SCOPED_TRACE(testing::Message() << "matrix " << i << " of " << m << "x" << n);
    EXPECT_EQ(res.status.at(i), MatrixStatus::ok);
    const DMat q = to_dmat(res.q, i), r = to_dmat(res.r, i);
    EXPECT_LE(qr_reconstruction_error(to_dmat(a, i), q, r), tol);
    EXPECT_LE(orthonormal_columns_error(q), tol);
    EXPECT_EQ(below_diagonal_max(r), 0.0) << "R is not upper triangular";
  }
}

TYPED_TEST(QrBatched, ReconstructsTallWideAndSquare) {
  using T = TypeParam;
  for (auto [m, n] : std::vector<Shape>{{7, 4}, {4, 7}, {5, 5}, {1, 1}, {1, 4}, {4, 1}, {31, 31},
                                        {32, 32}, {33, 33}, {33, 31}, {31, 33}}) {
    SCOPED_TRACE(testing::Message() << m << "x" << n);
    auto a = random_batch<T>(m, n, 3, 2000 + m * 37 + n);
    auto res = run_qr(a);
    expect_valid_qr(a, res);
  }
}

TYPED_TEST(QrBatched, ROnlyMatchesRFromTheFullFactorisation) {
  using T = TypeParam;
  for (auto [m, n] : std::vector<Shape>{{9, 4}, {4, 9}, {6, 6}}) {
    SCOPED_TRACE(testing::Message() << m << "x" << n);
    auto a = random_batch<T>(m, n, 3, 2100 + m);
    auto full = run_qr(a, true);
    auto ronly = run_qr(a, false);
    EXPECT_TRUE(ronly.status.all_ok());
    for (std::int64_t i = 0; i < a.count(); ++i) {
      const DMat r = to_dmat(ronly.r, i), rf = to_dmat(full.r, i);
      EXPECT_EQ(below_diagonal_max(r), 0.0);
      const double c = 10.0;  // c * n * eps<T> * ‖A‖
      EXPECT_LE(frobenius(subtract(r, rf)), c * std::max(m, n) * eps<T>() * frobenius(to_dmat(a, i)));
    }
  }
}

// Without Q, R alone must still be a QR factor: RᵀR = AᵀA for m ≥ n.
TYPED_TEST(QrBatched, ROnlySatisfiesTheNormalEquations) {
  using T = TypeParam;
  auto a = random_batch<T>(10, 6, 2, 2200);
  auto res = run_qr(a, false);
  for (std::int64_t i = 0; i < 2; ++i) {
    const DMat ad = to_dmat(a, i), r = to_dmat(res.r, i);
    const DMat ata = matmul(transpose(ad), ad), rtr = matmul(transpose(r), r);
    const double c = 10.0;  // c * n * eps<T> * ‖A‖²
    EXPECT_LE(frobenius(subtract(ata, rtr)), c * 10 * eps<T>() * frobenius(ata));
  }
}

TYPED_TEST(QrBatched, RankDeficientInputStillFactorises) {
  using T = TypeParam;
  Rng rng(2300);
  auto a = make_batch<T>(8, 5, 2, kPacked,
                         [&](std::int64_t) { return with_singular_values(8, 5, {4, 3, 0, 0, 0}, rng); });
  auto res = run_qr(a);
  expect_valid_qr(a, res);
  HostBatch<T> zero(4, 3, 1);
  auto rz = run_qr(zero);
  expect_valid_qr(zero, rz);
}

TYPED_TEST(QrBatched, HonoursLdAndStride) {
  using T = TypeParam;
  for (auto [m, n] : std::vector<Shape>{{7, 4}, {4, 7}}) {
    SCOPED_TRACE(testing::Message() << m << "x" << n);
    auto a = random_batch<T>(m, n, 3, 2400 + m, kPadded);
    for (bool want_q : {true, false}) {
      auto res = run_qr(a, want_q, kPadded);
      EXPECT_TRUE(res.r.padding_intact(sentinel<T>())) << "r written outside its matrices";
      EXPECT_TRUE(res.q.padding_intact(sentinel<T>())) << "q written outside its matrices";
      if (want_q) {
        expect_valid_qr(a, res);
      } else {
        EXPECT_TRUE(res.status.all_ok());
      }
    }
  }
}

TYPED_TEST(QrBatched, EmptyBatchIsANoOp) {
  using T = TypeParam;
  Context ctx;
  BatchStatus st;
  EXPECT_NO_THROW(dynx::qr_batched<T>(ctx, dynx::MatrixBatch<const T>(nullptr, 4, 3, 0),
                                      dynx::MatrixBatch<T>(nullptr, 4, 3, 0), dynx::MatrixBatch<T>(nullptr, 3, 3, 0),
                                      &st));
  EXPECT_EQ(st.count(), 0);
}

TYPED_TEST(QrBatched, SerialAndParallelBatchLoopsAgree) {
  using T = TypeParam;
  auto a = random_batch<T>(12, 8, 11, 2500);
  Context serial, parallel;
  serial.set_num_threads(1);
  parallel.set_num_threads(2);
  auto r1 = run_qr(serial, a), r2 = run_qr(parallel, a);
  expect_valid_qr(a, r1);
  expect_valid_qr(a, r2);
}

}  // namespace
