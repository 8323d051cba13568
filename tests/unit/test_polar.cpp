// polar_batched on the CPU: Q has orthonormal columns (rows for m < n), equals U Vᵀ of the SVD,
// solves orthogonal Procrustes, and A = Q H with H = QᵀA symmetric positive semidefinite.
//
// Tolerances: orthogonality and ‖A − QH‖/‖A‖ are c * n * eps<T>; the polar factor of a matrix
// with smallest singular value σ_min moves by O(eps ‖A‖ / σ_min) (Higham, Functions of
// Matrices, §8.2), so comparisons of Q use well-conditioned inputs (singular values in [1, 3]).

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
using dynx::SvdAlgorithm;

template <class T>
class PolarBatched : public ::testing::Test {};
TYPED_TEST_SUITE(PolarBatched, RealTypes);

using Shape = std::pair<std::int64_t, std::int64_t>;

template <class T>
struct Polar {
  HostBatch<T> q;
  BatchStatus status;
};

template <class T>
Polar<T> run_polar(Context& ctx, const HostBatch<T>& a, SvdAlgorithm algo = SvdAlgorithm::automatic,
                   Layout out = kPacked) {
  Polar<T> r{HostBatch<T>(a.rows(), a.cols(), a.count(), out, sentinel<T>()), BatchStatus()};
  dynx::PolarOptions opt;
  opt.svd_algorithm = algo;
  dynx::polar_batched<T>(ctx, a.cview(), r.q.view(), &r.status, opt);
  return r;
}

template <class T>
Polar<T> run_polar(const HostBatch<T>& a, SvdAlgorithm algo = SvdAlgorithm::automatic, Layout out = kPacked) {
  Context ctx;
  return run_polar(ctx, a, algo, out);
}

template <class T>
HostBatch<T> well_conditioned(std::int64_t m, std::int64_t n, std::int64_t count, std::uint64_t seed,
                              Layout layout = kPacked) {
  Rng rng(seed);
  return make_batch<T>(m, n, count, layout, [&](std::int64_t) {
    return with_singular_values(m, n, spread_values(std::min(m, n), 3.0, 1.0), rng);
  });
}

// Orthonormal columns (m ≥ n) or rows (m < n), and A = Q H with H = QᵀA (m ≥ n) or A = H Q with
// H = A Qᵀ (m < n) symmetric positive semidefinite.
template <class T>
void expect_valid_polar(const HostBatch<T>& a, Polar<T>& r) {
  const std::int64_t m = a.rows(), n = a.cols();
  const double c = 10.0;  // c * n * eps<T>
  const double tol = c * static_cast<double>(std::max(m, n)) * eps<T>();
  ASSERT_EQ(r.status.count(), a.count());
  for (std::int64_t i = 0; i < a.count(); ++i) {
    SCOPED_TRACE(testing::Message() << "matrix " << i << " of " << m << "x" << n);
    EXPECT_EQ(r.status.at(i), MatrixStatus::ok);
    const DMat ad = to_dmat(a, i), q = to_dmat(r.q, i);
    const bool tall = m >= n;
    EXPECT_LE(tall ? orthonormal_columns_error(q) : orthonormal_rows_error(q), tol);
    const DMat h = tall ? matmul(transpose(q), ad) : matmul(ad, transpose(q));
    const double scale = std::max(frobenius(ad), 1e-300);
    EXPECT_LE(frobenius(subtract(h, transpose(h))) / scale, tol) << "H is not symmetric";
    EXPECT_GE(jacobi_eigenvalues(h).front() / scale, -tol) << "H has a negative eigenvalue";
    EXPECT_LE(relative_error(ad, tall ? matmul(q, h) : matmul(h, q)), tol) << "A != Q H";
  }
}

TYPED_TEST(PolarBatched, OrthogonalFactorOfTallWideAndSquare) {
  using T = TypeParam;
  for (auto [m, n] : std::vector<Shape>{{7, 4}, {5, 5}, {4, 7}, {1, 1}, {6, 1}, {1, 6}, {31, 31},
                                        {32, 32}, {33, 33}, {40, 33}}) {
    SCOPED_TRACE(testing::Message() << m << "x" << n);
    auto a = random_batch<T>(m, n, 3, 7000 + m * 41 + n);
    auto r = run_polar(a);
    expect_valid_polar(a, r);
  }
}

TYPED_TEST(PolarBatched, EqualsUVtFromTheSvd) {
  using T = TypeParam;
  Context ctx;
  for (auto [m, n] : std::vector<Shape>{{8, 5}, {6, 6}, {5, 8}}) {
    SCOPED_TRACE(testing::Message() << m << "x" << n);
    const std::int64_t k = std::min(m, n);
    auto a = well_conditioned<T>(m, n, 3, 7100 + m);
    auto r = run_polar(ctx, a);
    HostVectors<T> s(k, 3);
    HostBatch<T> u(m, k, 3), vt(k, n, 3);
    dynx::svd_batched<T>(ctx, a.cview(), s.view(), u.view(), vt.view());
    for (std::int64_t i = 0; i < 3; ++i) {
      const DMat uvt = matmul(to_dmat(u, i), to_dmat(vt, i));
      const double c = 10.0, cond = 3.0;  // c * n * eps<T> * cond(A)
      EXPECT_LE(frobenius(subtract(to_dmat(r.q, i), uvt)), c * std::max(m, n) * eps<T>() * cond);
    }
  }
}

// Q minimises ‖R − A‖_F over all R with orthonormal columns.
TYPED_TEST(PolarBatched, SolvesOrthogonalProcrustes) {
  using T = TypeParam;
  Rng rng(7200);
  for (auto [m, n] : std::vector<Shape>{{6, 6}, {9, 4}}) {
    SCOPED_TRACE(testing::Message() << m << "x" << n);
    auto a = random_batch<T>(m, n, 2, 7300 + m);
    auto r = run_polar(a);
    for (std::int64_t i = 0; i < 2; ++i) {
      const DMat ad = to_dmat(a, i);
      const double best = frobenius(subtract(to_dmat(r.q, i), ad));
      const double c = 10.0;  // c * n * eps<T> * ‖A‖ of slack for rounding in Q
      const double slack = c * m * eps<T>() * frobenius(ad);
      for (int trial = 0; trial < 50; ++trial) {
        const DMat other = random_orthonormal(m, n, rng);
        EXPECT_LE(best, frobenius(subtract(other, ad)) + slack) << "trial " << trial;
      }
      // Small rotations of Q itself do no better either.
      for (int trial = 0; trial < 10; ++trial) {
        DMat nearby = to_dmat(r.q, i);
        const DMat noise = random_gaussian(m, n, rng);
        for (std::size_t p = 0; p < nearby.v.size(); ++p) nearby.v[p] += 1e-2 * noise.v[p];
        nearby = orthonormalize_columns(nearby);
        EXPECT_LE(best, frobenius(subtract(nearby, ad)) + slack) << "perturbation " << trial;
      }
    }
  }
}

TYPED_TEST(PolarBatched, OrthogonalInputIsItsOwnFactor) {
  using T = TypeParam;
  Rng rng(7400);
  auto a = make_batch<T>(7, 7, 2, kPacked, [&](std::int64_t) { return random_orthonormal(7, 7, rng); });
  auto r = run_polar(a);
  expect_valid_polar(a, r);
  for (std::int64_t i = 0; i < 2; ++i) {
    const double c = 10.0;  // c * n * eps<T>
    EXPECT_LE(frobenius(subtract(to_dmat(r.q, i), to_dmat(a, i))), c * 7 * eps<T>());
  }
}

TYPED_TEST(PolarBatched, RankDeficientInputGivesAValidFactor) {
  using T = TypeParam;
  Rng rng(7500);
  auto a = make_batch<T>(6, 4, 2, kPacked, [&](std::int64_t) { return with_singular_values(6, 4, {2, 1, 0, 0}, rng); });
  auto r = run_polar(a);
  expect_valid_polar(a, r);
}

TYPED_TEST(PolarBatched, ExplicitSvdAlgorithms) {
  using T = TypeParam;
  auto a = well_conditioned<T>(9, 6, 3, 7600);
  auto dc = run_polar(a, SvdAlgorithm::divide_and_conquer);
  auto qr = run_polar(a, SvdAlgorithm::qr_iteration);
  expect_valid_polar(a, dc);
  expect_valid_polar(a, qr);
  for (std::int64_t i = 0; i < 3; ++i) {
    const double c = 10.0, cond = 3.0;  // c * n * eps<T> * cond(A)
    EXPECT_LE(frobenius(subtract(to_dmat(dc.q, i), to_dmat(qr.q, i))), c * 9 * eps<T>() * cond);
  }
  HostBatch<T> q(9, 6, 3);
  dynx::PolarOptions opt;
  opt.svd_algorithm = SvdAlgorithm::jacobi_batched;
  Context ctx;
  EXPECT_THROW(dynx::polar_batched<T>(ctx, a.cview(), q.view(), nullptr, opt), dynx::InvalidArgument);
}

TYPED_TEST(PolarBatched, HonoursLdAndStride) {
  using T = TypeParam;
  for (auto [m, n] : std::vector<Shape>{{7, 4}, {4, 7}}) {
    auto a = random_batch<T>(m, n, 3, 7700 + m, kPadded);
    auto r = run_polar(a, SvdAlgorithm::automatic, kPadded);
    EXPECT_TRUE(r.q.padding_intact(sentinel<T>())) << "q written outside its matrices";
    expect_valid_polar(a, r);
  }
}

TYPED_TEST(PolarBatched, EmptyBatchIsANoOp) {
  using T = TypeParam;
  Context ctx;
  BatchStatus st;
  EXPECT_NO_THROW(dynx::polar_batched<T>(ctx, dynx::MatrixBatch<const T>(nullptr, 4, 3, 0),
                                         dynx::MatrixBatch<T>(nullptr, 4, 3, 0), &st));
  EXPECT_EQ(st.count(), 0);
}

TYPED_TEST(PolarBatched, SerialAndParallelBatchLoopsAgree) {
  using T = TypeParam;
  auto a = random_batch<T>(8, 6, 10, 7800);
  Context serial, parallel;
  serial.set_num_threads(1);
  parallel.set_num_threads(2);
  auto r1 = run_polar(serial, a), r2 = run_polar(parallel, a);
  expect_valid_polar(a, r1);
  expect_valid_polar(a, r2);
}

}  // namespace
