// gemm_batched on the CPU against a float64 triple-loop reference.
//
// Tolerance: each entry of the computed C may differ from the exact result by
// gamma_k * (|alpha| |op(A)| |op(B)| + |beta| |C|) with gamma_k ≈ k * eps (Higham, Accuracy and
// Stability, §3.5), plus one rounding of the result; we allow c = 2 times (k + 2) * eps<T>.

#include "common/reference.hpp"
#include "common/test_common.hpp"

#include <dynx/dynx.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <tuple>

namespace {

using namespace dynx::test;
using dynx::Context;
using dynx::Op;

template <class T>
class GemmBatched : public ::testing::Test {};
TYPED_TEST_SUITE(GemmBatched, RealTypes);

// op(A) is m×k, op(B) is k×n.
struct GemmCase {
  Op ta, tb;
  std::int64_t m, n, k;
};

template <class T>
struct GemmProblem {
  HostBatch<T> a, b, c0;
};

template <class T>
GemmProblem<T> make_problem(const GemmCase& g, std::int64_t count, std::uint64_t seed,
                            Layout layout = kPacked) {
  const std::int64_t ar = g.ta == Op::n ? g.m : g.k, ac = g.ta == Op::n ? g.k : g.m;
  const std::int64_t br = g.tb == Op::n ? g.k : g.n, bc = g.tb == Op::n ? g.n : g.k;
  return {random_batch<T>(ar, ac, count, seed, layout), random_batch<T>(br, bc, count, seed + 1, layout),
          random_batch<T>(g.m, g.n, count, seed + 2, layout)};
}

// Checks matrix k of `c` against the reference computed from the (rounded) inputs in double.
template <class T>
void expect_gemm_close(Op ta, Op tb, T alpha, const DMat& a, const DMat& b, T beta, const DMat& c0,
                       const DMat& c, std::int64_t k_dim) {
  const DMat ref = gemm_reference(ta, tb, alpha, a, b, beta, c0);
  const DMat mag = gemm_magnitude(ta, tb, alpha, a, b, beta, c0);
  const double c_tol = 2.0;  // c in c * (k + 2) * eps<T>
  const double tol = c_tol * static_cast<double>(k_dim + 2) * eps<T>();
  int bad = 0;
  for (std::int64_t j = 0; j < ref.cols; ++j)
    for (std::int64_t i = 0; i < ref.rows; ++i) {
      const double err = std::abs(c(i, j) - ref(i, j));
      if (!(err <= tol * mag(i, j) + 1e-300) && bad++ < 5)
        ADD_FAILURE() << "C(" << i << "," << j << ") = " << c(i, j) << ", reference " << ref(i, j)
                      << ", |error| " << err << " > " << tol * mag(i, j);
    }
}

TYPED_TEST(GemmBatched, MatchesTripleLoopForAllTransposes) {
  using T = TypeParam;
  Context ctx;
  const T alpha = T(0.75), beta = T(-1.25);
  for (Op ta : {Op::n, Op::t})
    for (Op tb : {Op::n, Op::t})
      for (auto [m, n, k] : {std::tuple<std::int64_t, std::int64_t, std::int64_t>{5, 7, 4},
                             {1, 1, 1}, {33, 31, 32}, {3, 1, 9}}) {
        SCOPED_TRACE(testing::Message() << "ta=" << int(ta) << " tb=" << int(tb) << " m=" << m
                                        << " n=" << n << " k=" << k);
        const std::int64_t count = 3;
        auto p = make_problem<T>({ta, tb, m, n, k}, count, 11);
        HostBatch<T> c = p.c0;
        dynx::gemm_batched<T>(ctx, ta, tb, alpha, p.a.cview(), p.b.cview(), beta, c.view());
        for (std::int64_t i = 0; i < count; ++i)
          expect_gemm_close<T>(ta, tb, alpha, to_dmat(p.a, i), to_dmat(p.b, i), beta, to_dmat(p.c0, i),
                               to_dmat(c, i), k);
      }
}

TYPED_TEST(GemmBatched, BetaZeroIgnoresNanInC) {
  using T = TypeParam;
  Context ctx;
  for (Op ta : {Op::n, Op::t}) {
    auto p = make_problem<T>({ta, Op::n, 6, 5, 4}, 2, 21);
    HostBatch<T> c(6, 5, 2, kPacked, nan_value<T>());
    dynx::gemm_batched<T>(ctx, ta, Op::n, T(1.5), p.a.cview(), p.b.cview(), T(0), c.view());
    for (std::int64_t i = 0; i < 2; ++i) {
      EXPECT_TRUE(c.all_finite(i)) << "NaN in C leaked through beta = 0";
      expect_gemm_close<T>(ta, Op::n, T(1.5), to_dmat(p.a, i), to_dmat(p.b, i), T(0),
                           DMat(6, 5, std::nan("")), to_dmat(c, i), 4);
    }
  }
}

TYPED_TEST(GemmBatched, BetaOneAccumulates) {
  using T = TypeParam;
  Context ctx;
  auto p = make_problem<T>({Op::n, Op::n, 4, 4, 4}, 2, 31);
  HostBatch<T> c = p.c0;
  dynx::gemm_batched<T>(ctx, Op::n, Op::n, T(1), p.a.cview(), p.b.cview(), T(1), c.view());
  for (std::int64_t i = 0; i < 2; ++i)
    expect_gemm_close<T>(Op::n, Op::n, T(1), to_dmat(p.a, i), to_dmat(p.b, i), T(1), to_dmat(p.c0, i),
                         to_dmat(c, i), 4);
}

TYPED_TEST(GemmBatched, BroadcastsStrideZeroA) {
  using T = TypeParam;
  Context ctx;
  const std::int64_t count = 5;
  auto one = random_batch<T>(4, 3, 1, 41);                 // a single 4×3 A
  auto b = random_batch<T>(3, 6, count, 42);
  HostBatch<T> c(4, 6, count);
  dynx::MatrixBatch<const T> a(one.cview().data, 4, 3, 4, /*stride=*/0, count);
  dynx::gemm_batched<T>(ctx, Op::n, Op::n, T(1), a, b.cview(), T(0), c.view());
  for (std::int64_t i = 0; i < count; ++i)
    expect_gemm_close<T>(Op::n, Op::n, T(1), to_dmat(one, 0), to_dmat(b, i), T(0), DMat(4, 6),
                         to_dmat(c, i), 3);
}

TYPED_TEST(GemmBatched, BroadcastsStrideZeroB) {
  using T = TypeParam;
  Context ctx;
  const std::int64_t count = 4;
  auto a = random_batch<T>(3, 5, count, 51);   // used transposed: op(A) is 5×3
  auto one = random_batch<T>(2, 3, 1, 52);     // used transposed: op(B) is 3×2
  auto c0 = random_batch<T>(5, 2, count, 53);
  HostBatch<T> c = c0;
  dynx::MatrixBatch<const T> b(one.cview().data, 2, 3, 2, 0, count);
  dynx::gemm_batched<T>(ctx, Op::t, Op::t, T(-2), a.cview(), b, T(0.5), c.view());
  for (std::int64_t i = 0; i < count; ++i)
    expect_gemm_close<T>(Op::t, Op::t, T(-2), to_dmat(a, i), to_dmat(one, 0), T(0.5), to_dmat(c0, i),
                         to_dmat(c, i), 3);
}

TYPED_TEST(GemmBatched, BroadcastsBothInputs) {
  using T = TypeParam;
  Context ctx;
  const std::int64_t count = 3;
  auto a1 = random_batch<T>(3, 3, 1, 61), b1 = random_batch<T>(3, 3, 1, 62);
  HostBatch<T> c(3, 3, count, kPacked, nan_value<T>());
  dynx::gemm_batched<T>(ctx, Op::n, Op::t, T(1), dynx::MatrixBatch<const T>(a1.cview().data, 3, 3, 3, 0, count),
                        dynx::MatrixBatch<const T>(b1.cview().data, 3, 3, 3, 0, count), T(0), c.view());
  for (std::int64_t i = 0; i < count; ++i)
    expect_gemm_close<T>(Op::n, Op::t, T(1), to_dmat(a1, 0), to_dmat(b1, 0), T(0), DMat(3, 3),
                         to_dmat(c, i), 3);
}

TYPED_TEST(GemmBatched, HonoursLdAndStride) {
  using T = TypeParam;
  Context ctx;
  for (Op ta : {Op::n, Op::t})
    for (Op tb : {Op::n, Op::t}) {
      SCOPED_TRACE(testing::Message() << "ta=" << int(ta) << " tb=" << int(tb));
      auto p = make_problem<T>({ta, tb, 7, 5, 6}, 3, 71, kPadded);
      HostBatch<T> c(7, 5, 3, kPadded, sentinel<T>());
      for (std::int64_t i = 0; i < 3; ++i) store(to_dmat(p.c0, i), c, i);
      dynx::gemm_batched<T>(ctx, ta, tb, T(1.25), p.a.cview(), p.b.cview(), T(-0.5), c.view());
      EXPECT_TRUE(c.padding_intact(sentinel<T>())) << "gemm wrote outside C's matrices";
      for (std::int64_t i = 0; i < 3; ++i)
        expect_gemm_close<T>(ta, tb, T(1.25), to_dmat(p.a, i), to_dmat(p.b, i), T(-0.5), to_dmat(p.c0, i),
                             to_dmat(c, i), 6);
    }
}

TYPED_TEST(GemmBatched, InnerDimensionZeroScalesC) {
  using T = TypeParam;
  Context ctx;
  auto c0 = random_batch<T>(3, 4, 2, 81);
  HostBatch<T> c = c0;
  std::vector<T> dummy(1);
  dynx::MatrixBatch<const T> a(dummy.data(), 3, 0, 3, 0, 2), b(dummy.data(), 0, 4, 1, 0, 2);
  dynx::gemm_batched<T>(ctx, Op::n, Op::n, T(1), a, b, T(2), c.view());
  for (std::int64_t i = 0; i < 2; ++i)
    for (std::int64_t j = 0; j < 4; ++j)
      for (std::int64_t r = 0; r < 3; ++r) EXPECT_EQ(c(r, j, i), T(2) * c0(r, j, i));
  // beta = 0 with k = 0 gives zeros even over NaN.
  HostBatch<T> z(3, 4, 2, kPacked, nan_value<T>());
  dynx::gemm_batched<T>(ctx, Op::n, Op::n, T(1), a, b, T(0), z.view());
  for (std::int64_t i = 0; i < 2; ++i)
    for (std::int64_t j = 0; j < 4; ++j)
      for (std::int64_t r = 0; r < 3; ++r) EXPECT_EQ(z(r, j, i), T(0));
}

TYPED_TEST(GemmBatched, EmptyBatchIsANoOp) {
  using T = TypeParam;
  Context ctx;
  EXPECT_NO_THROW(dynx::gemm_batched<T>(ctx, Op::n, Op::n, T(1), dynx::MatrixBatch<const T>(nullptr, 3, 3, 0),
                                        dynx::MatrixBatch<const T>(nullptr, 3, 3, 0), T(0),
                                        dynx::MatrixBatch<T>(nullptr, 3, 3, 0)));
  // Zero-row matrices in a nonempty batch (ld = 1, the BLAS minimum).
  std::vector<T> b(6, T(1));
  EXPECT_NO_THROW(dynx::gemm_batched<T>(ctx, Op::n, Op::n, T(1), dynx::MatrixBatch<const T>(nullptr, 0, 3, 1, 3, 4),
                                        dynx::MatrixBatch<const T>(b.data(), 3, 2, 3, 0, 4), T(0),
                                        dynx::MatrixBatch<T>(nullptr, 0, 2, 1, 2, 4)));
}

TYPED_TEST(GemmBatched, SerialAndParallelBatchLoopsAgree) {
  using T = TypeParam;
  const std::int64_t count = 17;
  auto p = make_problem<T>({Op::t, Op::n, 9, 8, 10}, count, 91);
  HostBatch<T> c1 = p.c0, c2 = p.c0;
  Context serial, parallel;
  serial.set_num_threads(1);
  parallel.set_num_threads(2);
  dynx::gemm_batched<T>(serial, Op::t, Op::n, T(1), p.a.cview(), p.b.cview(), T(1), c1.view());
  dynx::gemm_batched<T>(parallel, Op::t, Op::n, T(1), p.a.cview(), p.b.cview(), T(1), c2.view());
  for (std::int64_t i = 0; i < count; ++i) {
    expect_gemm_close<T>(Op::t, Op::n, T(1), to_dmat(p.a, i), to_dmat(p.b, i), T(1), to_dmat(p.c0, i),
                         to_dmat(c1, i), 10);
    expect_gemm_close<T>(Op::t, Op::n, T(1), to_dmat(p.a, i), to_dmat(p.b, i), T(1), to_dmat(p.c0, i),
                         to_dmat(c2, i), 10);
  }
}

TYPED_TEST(GemmBatched, NanInOneMatrixStaysInThatMatrix) {
  using T = TypeParam;
  Context ctx;
  auto p = make_problem<T>({Op::n, Op::n, 4, 4, 4}, 3, 101);
  p.a(1, 2, 1) = nan_value<T>();
  p.b(0, 0, 2) = std::numeric_limits<T>::infinity();
  HostBatch<T> c(4, 4, 3);
  dynx::gemm_batched<T>(ctx, Op::n, Op::n, T(1), p.a.cview(), p.b.cview(), T(0), c.view());
  EXPECT_TRUE(c.all_finite(0));
  expect_gemm_close<T>(Op::n, Op::n, T(1), to_dmat(p.a, 0), to_dmat(p.b, 0), T(0), DMat(4, 4), to_dmat(c, 0), 4);
  // Row 1 of C_1 is NaN (IEEE propagation); other rows are untouched by the NaN.
  for (std::int64_t j = 0; j < 4; ++j) EXPECT_TRUE(std::isnan(c(1, j, 1)));
  for (std::int64_t j = 0; j < 4; ++j) EXPECT_TRUE(std::isfinite(c(0, j, 1)));
  // Column 0 of C_2 holds Inf or NaN.
  for (std::int64_t i = 0; i < 4; ++i) EXPECT_FALSE(std::isfinite(c(i, 0, 2)));
}

// float32 results against the float64 result of the same (float-representable) inputs.
TEST(GemmBatchedPrecision, Float32AgreesWithFloat64) {
  Context ctx;
  const std::int64_t m = 17, n = 13, k = 29, count = 2;
  auto a32 = random_batch<float>(m, k, count, 111);
  auto b32 = random_batch<float>(k, n, count, 112);
  HostBatch<double> a64(m, k, count), b64(k, n, count);
  for (std::int64_t i = 0; i < count; ++i) {
    store(to_dmat(a32, i), a64, i);
    store(to_dmat(b32, i), b64, i);
  }
  HostBatch<float> c32(m, n, count);
  HostBatch<double> c64(m, n, count);
  dynx::gemm_batched<float>(ctx, Op::n, Op::n, 1.0f, a32.cview(), b32.cview(), 0.0f, c32.view());
  dynx::gemm_batched<double>(ctx, Op::n, Op::n, 1.0, a64.cview(), b64.cview(), 0.0, c64.view());
  for (std::int64_t i = 0; i < count; ++i) {
    const DMat mag = gemm_magnitude(Op::n, Op::n, 1.0, to_dmat(a64, i), to_dmat(b64, i), 0.0, DMat(m, n));
    for (std::int64_t j = 0; j < n; ++j)
      for (std::int64_t r = 0; r < m; ++r) {
        const double c_tol = 2.0;  // c * (k + 2) * eps<float>
        EXPECT_LE(std::abs(double(c32(r, j, i)) - c64(r, j, i)),
                  c_tol * double(k + 2) * eps<float>() * mag(r, j));
      }
  }
}

}  // namespace
