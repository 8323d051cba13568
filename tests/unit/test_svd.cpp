// svd_batched on the CPU: reconstruction, orthogonality, ordering, shapes, edge cases, layouts,
// algorithms and precision. References are computed in double by tests/common/reference.hpp.
//
// Tolerances are c * n * eps<T> with n = max(m, n): LAPACK's SVD is backward stable, so
// ‖A − U S Vᵀ‖ / ‖A‖ and ‖UᵀU − I‖ are a modest multiple of eps (Demmel, Applied Numerical Linear
// Algebra, §5.4); singular values move by at most ‖ΔA‖₂ (Weyl), hence absolute errors relative to
// s_max.

#include "common/reference.hpp"
#include "common/test_common.hpp"

#include <dynx/dynx.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>

namespace {

using namespace dynx::test;
using dynx::BatchStatus;
using dynx::Context;
using dynx::MatrixStatus;
using dynx::SvdAlgorithm;

template <class T>
class SvdBatched : public ::testing::Test {};
TYPED_TEST_SUITE(SvdBatched, RealTypes);

template <class T>
struct Svd {
  HostVectors<T> s;
  HostBatch<T> u, vt;
  BatchStatus status;
};

// Runs svd_batched on `a` with outputs in the given layouts (padding filled with sentinel<T>()).
template <class T>
Svd<T> run_svd(Context& ctx, const HostBatch<T>& a, bool vectors = true,
               SvdAlgorithm algo = SvdAlgorithm::automatic, Layout out = kPacked,
               VecLayout sl = kPackedVec) {
  const std::int64_t m = a.rows(), n = a.cols(), k = std::min(m, n), count = a.count();
  Svd<T> r{HostVectors<T>(k, count, sl, sentinel<T>()), HostBatch<T>(m, k, count, out, sentinel<T>()),
           HostBatch<T>(k, n, count, out, sentinel<T>()), BatchStatus()};
  dynx::SvdOptions opt;
  opt.algorithm = algo;
  dynx::svd_batched<T>(ctx, a.cview(), r.s.view(), vectors ? r.u.view() : dynx::MatrixBatch<T>(),
                       vectors ? r.vt.view() : dynx::MatrixBatch<T>(), &r.status, opt);
  return r;
}

template <class T>
Svd<T> run_svd(const HostBatch<T>& a, bool vectors = true, SvdAlgorithm algo = SvdAlgorithm::automatic,
               Layout out = kPacked, VecLayout sl = kPackedVec) {
  Context ctx;
  return run_svd(ctx, a, vectors, algo, out, sl);
}

// Singular values descending and non-negative.
template <class T>
void expect_ordered(const std::vector<T>& s) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    EXPECT_GE(s[i], T(0)) << "s[" << i << "]";
    if (i + 1 < s.size()) {
      EXPECT_GE(s[i], s[i + 1]) << "s[" << i << "] < s[" << i + 1 << "]";
    }
  }
}

// Every property of a thin SVD of every matrix of `a`.
template <class T>
void expect_valid_svd(const HostBatch<T>& a, Svd<T>& r, double c = 16.0) {
  // c = 16: for n ≤ 4 the reconstruction error of gesdd already reaches ~6 n eps.
  const std::int64_t m = a.rows(), n = a.cols();
  const double tol = c * static_cast<double>(std::max(m, n)) * eps<T>();  // c * n * eps<T>
  ASSERT_EQ(r.status.count(), a.count());
  for (std::int64_t i = 0; i < a.count(); ++i) {
    SCOPED_TRACE(testing::Message() << "matrix " << i << " of " << m << "x" << n);
    EXPECT_EQ(r.status.at(i), MatrixStatus::ok);
    const std::vector<T> s = r.s.get(i);
    expect_ordered(s);
    EXPECT_LE(svd_reconstruction_error(to_dmat(a, i), to_dmat(r.u, i), to_doubles(s), to_dmat(r.vt, i)), tol);
    EXPECT_LE(orthonormal_columns_error(to_dmat(r.u, i)), tol);
    EXPECT_LE(orthonormal_rows_error(to_dmat(r.vt, i)), tol);
  }
}

using Shape = std::pair<std::int64_t, std::int64_t>;

TYPED_TEST(SvdBatched, ReconstructsTallWideAndSquare) {
  using T = TypeParam;
  for (auto [m, n] : std::vector<Shape>{{7, 4}, {4, 7}, {6, 6}, {2, 2}, {12, 3}, {3, 12}}) {
    SCOPED_TRACE(testing::Message() << m << "x" << n);
    auto a = random_batch<T>(m, n, 3, 100 + m * 10 + n);
    auto r = run_svd(a);
    expect_valid_svd(a, r);
  }
}

TYPED_TEST(SvdBatched, SizesAroundThirtyTwo) {
  using T = TypeParam;
  for (auto [m, n] : std::vector<Shape>{{31, 31}, {32, 32}, {33, 33}, {33, 32}, {31, 33}, {40, 33}}) {
    SCOPED_TRACE(testing::Message() << m << "x" << n);
    auto a = random_batch<T>(m, n, 2, 200 + m + n);
    auto r = run_svd(a);
    expect_valid_svd(a, r);
  }
}

TYPED_TEST(SvdBatched, RecoversPrescribedSingularValues) {
  using T = TypeParam;
  Rng rng(300);
  const std::int64_t m = 9, n = 6;
  const std::vector<double> truth = spread_values(n, 10.0, 0.5);
  auto a = make_batch<T>(m, n, 2, kPacked, [&](std::int64_t) { return with_singular_values(m, n, truth, rng); });
  auto r = run_svd(a);
  expect_valid_svd(a, r);
  for (std::int64_t i = 0; i < 2; ++i) {
    const double c = 10.0;  // c * n * eps<T> * s_max
    EXPECT_LE(max_abs_diff(to_doubles(r.s.get(i)), truth), c * m * eps<T>() * truth[0]);
  }
}

TYPED_TEST(SvdBatched, ValuesOnlyMatchesVectorMode) {
  using T = TypeParam;
  for (auto [m, n] : std::vector<Shape>{{8, 5}, {5, 8}, {33, 33}}) {
    SCOPED_TRACE(testing::Message() << m << "x" << n);
    auto a = random_batch<T>(m, n, 3, 400 + m);
    auto full = run_svd(a, true);
    auto values = run_svd(a, false);
    for (std::int64_t i = 0; i < a.count(); ++i) {
      EXPECT_EQ(values.status.at(i), MatrixStatus::ok);
      const auto sv = to_doubles(values.s.get(i)), sf = to_doubles(full.s.get(i));
      expect_ordered(values.s.get(i));
      const double c = 10.0;  // c * n * eps<T> * s_max
      EXPECT_LE(max_abs_diff(sv, sf), c * std::max(m, n) * eps<T>() * sf[0]);
    }
  }
}

TYPED_TEST(SvdBatched, EmptyBatchIsANoOp) {
  using T = TypeParam;
  Context ctx;
  BatchStatus st;
  EXPECT_NO_THROW(dynx::svd_batched<T>(ctx, dynx::MatrixBatch<const T>(nullptr, 5, 3, 0),
                                       dynx::VectorBatch<T>(nullptr, 3, 0), dynx::MatrixBatch<T>(nullptr, 5, 3, 0),
                                       dynx::MatrixBatch<T>(nullptr, 3, 3, 0), &st));
  EXPECT_EQ(st.count(), 0);
  EXPECT_TRUE(st.all_ok());
  // Without a status, and values only.
  EXPECT_NO_THROW(dynx::svd_batched<T>(ctx, dynx::MatrixBatch<const T>(nullptr, 5, 3, 0),
                                       dynx::VectorBatch<T>(nullptr, 3, 0), {}, {}));
}

TYPED_TEST(SvdBatched, SingleMatrixBatch) {
  using T = TypeParam;
  auto a = random_batch<T>(6, 4, 1, 500);
  auto r = run_svd(a);
  expect_valid_svd(a, r);
}

TYPED_TEST(SvdBatched, SingleColumnAndSingleRow) {
  using T = TypeParam;
  for (auto [m, n] : std::vector<Shape>{{5, 1}, {1, 5}, {1, 1}}) {
    SCOPED_TRACE(testing::Message() << m << "x" << n);
    auto a = random_batch<T>(m, n, 3, 600 + m);
    auto r = run_svd(a);
    expect_valid_svd(a, r);
    for (std::int64_t i = 0; i < 3; ++i) {
      const double norm = frobenius(to_dmat(a, i));  // the only singular value is the 2-norm
      const double c = 2.0;                          // c * n * eps<T> * norm
      EXPECT_NEAR(static_cast<double>(r.s(0, i)), norm, c * std::max(m, n) * eps<T>() * norm);
    }
  }
}

TYPED_TEST(SvdBatched, RankDeficientHasZeroSingularValues) {
  using T = TypeParam;
  Rng rng(700);
  const std::int64_t m = 8, n = 6;
  const std::vector<double> truth = {3, 2, 1, 0, 0, 0};
  for (auto [rows, cols] : std::vector<Shape>{{m, n}, {n, m}}) {
    SCOPED_TRACE(testing::Message() << rows << "x" << cols);
    auto a = make_batch<T>(rows, cols, 2, kPacked,
                           [&](std::int64_t) { return with_singular_values(rows, cols, truth, rng); });
    auto r = run_svd(a);
    expect_valid_svd(a, r);
    for (std::int64_t i = 0; i < 2; ++i) {
      const double c = 10.0;  // c * n * eps<T> * s_max
      EXPECT_LE(max_abs_diff(to_doubles(r.s.get(i)), truth), c * m * eps<T>() * truth[0]);
    }
  }
}

TYPED_TEST(SvdBatched, ZeroMatrix) {
  using T = TypeParam;
  HostBatch<T> a(5, 3, 2);
  auto r = run_svd(a);
  ASSERT_TRUE(r.status.all_ok());
  for (std::int64_t i = 0; i < 2; ++i) {
    for (std::int64_t j = 0; j < 3; ++j) EXPECT_EQ(r.s(j, i), T(0));
    const double c = 2.0;  // c * n * eps<T>
    EXPECT_LE(orthonormal_columns_error(to_dmat(r.u, i)), c * 5 * eps<T>());
    EXPECT_LE(orthonormal_rows_error(to_dmat(r.vt, i)), c * 5 * eps<T>());
  }
}

TYPED_TEST(SvdBatched, RepeatedSingularValues) {
  using T = TypeParam;
  Rng rng(800);
  const std::vector<double> truth = {2, 2, 2, 1, 1, 0.5};
  auto a = make_batch<T>(7, 6, 3, kPacked, [&](std::int64_t) { return with_singular_values(7, 6, truth, rng); });
  auto r = run_svd(a);
  expect_valid_svd(a, r);
  for (std::int64_t i = 0; i < 3; ++i) {
    const double c = 10.0;  // c * n * eps<T> * s_max
    EXPECT_LE(max_abs_diff(to_doubles(r.s.get(i)), truth), c * 7 * eps<T>() * 2.0);
  }
  // The identity: every singular value is 1 and U Vt = I.
  HostBatch<T> eye(4, 4, 1);
  for (int i = 0; i < 4; ++i) eye(i, i) = T(1);
  auto ri = run_svd(eye);
  expect_valid_svd(eye, ri);
  for (int j = 0; j < 4; ++j) EXPECT_NEAR(static_cast<double>(ri.s(j, 0)), 1.0, 1 * 4 * eps<T>());  // c = 1, n = 4
}

TYPED_TEST(SvdBatched, HonoursLdStrideAndIncrement) {
  using T = TypeParam;
  for (auto [m, n] : std::vector<Shape>{{7, 4}, {4, 7}}) {
    SCOPED_TRACE(testing::Message() << m << "x" << n);
    // Input padding holds NaN: reading it would flag the matrix non-finite.
    auto a = random_batch<T>(m, n, 3, 900 + m, kPadded);
    for (bool vectors : {true, false}) {
      auto r = run_svd(a, vectors, SvdAlgorithm::automatic, kPadded, kPaddedVec);
      EXPECT_TRUE(r.s.padding_intact(sentinel<T>())) << "s written outside its elements";
      EXPECT_TRUE(r.u.padding_intact(sentinel<T>())) << "u written outside its matrices";
      EXPECT_TRUE(r.vt.padding_intact(sentinel<T>())) << "vt written outside its matrices";
      if (vectors) {
        expect_valid_svd(a, r);
      } else {
        EXPECT_TRUE(r.status.all_ok());
      }
    }
  }
}

TYPED_TEST(SvdBatched, ExplicitAlgorithmsAgree) {
  using T = TypeParam;
  for (auto [m, n] : std::vector<Shape>{{9, 5}, {5, 9}, {33, 33}}) {
    SCOPED_TRACE(testing::Message() << m << "x" << n);
    auto a = random_batch<T>(m, n, 2, 1000 + m);
    auto dc = run_svd(a, true, SvdAlgorithm::divide_and_conquer);
    auto qr = run_svd(a, true, SvdAlgorithm::qr_iteration);
    auto qr_values = run_svd(a, false, SvdAlgorithm::qr_iteration);
    expect_valid_svd(a, dc);
    expect_valid_svd(a, qr);
    for (std::int64_t i = 0; i < 2; ++i) {
      const double c = 10.0;  // c * n * eps<T> * s_max
      const double tol = c * std::max(m, n) * eps<T>() * static_cast<double>(dc.s(0, i));
      EXPECT_LE(max_abs_diff(to_doubles(dc.s.get(i)), to_doubles(qr.s.get(i))), tol);
      EXPECT_LE(max_abs_diff(to_doubles(dc.s.get(i)), to_doubles(qr_values.s.get(i))), tol);
    }
  }
}

TYPED_TEST(SvdBatched, CudaAlgorithmOnCpuThrowsInvalidArgument) {
  using T = TypeParam;
  auto a = random_batch<T>(4, 4, 2, 1100);
  for (SvdAlgorithm algo : {SvdAlgorithm::jacobi_batched, SvdAlgorithm::gram_batched, SvdAlgorithm::jacobi_each}) {
    SCOPED_TRACE(static_cast<int>(algo));
    HostVectors<T> s(4, 2, kPackedVec, sentinel<T>());
    dynx::SvdOptions opt;
    opt.algorithm = algo;
    Context ctx;
    EXPECT_THROW(dynx::svd_batched<T>(ctx, a.cview(), s.view(), {}, {}, nullptr, opt), dynx::InvalidArgument);
    EXPECT_TRUE(s.padding_intact(sentinel<T>()));
    EXPECT_EQ(s(0, 0), sentinel<T>()) << "output written before the argument check";
  }
}

TYPED_TEST(SvdBatched, SerialAndParallelBatchLoopsAgree) {
  using T = TypeParam;
  auto a = random_batch<T>(10, 7, 9, 1200);
  Context serial, parallel;
  serial.set_num_threads(1);
  parallel.set_num_threads(2);
  auto r1 = run_svd(serial, a);
  auto r2 = run_svd(parallel, a);
  expect_valid_svd(a, r1);
  expect_valid_svd(a, r2);
  for (std::int64_t i = 0; i < a.count(); ++i) {
    const double c = 10.0;  // c * n * eps<T> * s_max
    EXPECT_LE(max_abs_diff(to_doubles(r1.s.get(i)), to_doubles(r2.s.get(i))),
              c * 10 * eps<T>() * static_cast<double>(r1.s(0, i)));
  }
}

TYPED_TEST(SvdBatched, OneContextServesManyShapes) {
  using T = TypeParam;
  Context ctx;
  ctx.set_num_threads(2);
  // The workspace grows and is reused; results must not depend on what ran before.
  for (auto [m, n] : std::vector<Shape>{{3, 3}, {40, 20}, {2, 5}, {33, 33}, {4, 1}}) {
    SCOPED_TRACE(testing::Message() << m << "x" << n);
    auto a = random_batch<T>(m, n, 4, 1300 + m);
    auto r = run_svd(ctx, a);
    expect_valid_svd(a, r);
  }
}

TYPED_TEST(SvdBatched, WithoutStatusSucceedsOnGoodInput) {
  using T = TypeParam;
  Context ctx;
  auto a = random_batch<T>(5, 5, 2, 1400);
  HostVectors<T> s(5, 2);
  EXPECT_NO_THROW(dynx::svd_batched<T>(ctx, a.cview(), s.view(), {}, {}));
  expect_ordered(s.get(0));
  expect_ordered(s.get(1));
}

// The same matrices in float and double: float32 singular values within c * n * eps<float> * s_max
// of the float64 ones.
TEST(SvdBatchedPrecision, Float32AgreesWithFloat64) {
  for (auto [m, n] : std::vector<Shape>{{12, 7}, {7, 12}, {33, 33}}) {
    SCOPED_TRACE(testing::Message() << m << "x" << n);
    auto a32 = random_batch<float>(m, n, 3, 1500 + m);
    HostBatch<double> a64(m, n, 3);
    for (std::int64_t i = 0; i < 3; ++i) store(to_dmat(a32, i), a64, i);  // exactly the same values
    auto r32 = run_svd(a32);
    auto r64 = run_svd(a64);
    for (std::int64_t i = 0; i < 3; ++i) {
      const auto s32 = to_doubles(r32.s.get(i)), s64 = r64.s.get(i);
      const double c = 10.0;  // c * n * eps<float> * s_max
      EXPECT_LE(max_abs_diff(s32, s64), c * std::max(m, n) * eps<float>() * s64[0]);
    }
  }
}

}  // namespace
