// The CUDA backend against the CPU backend, for every operation: the same random batch on both,
// values compared to tolerance, and reconstruction / orthogonality / residuals checked on the GPU
// result itself. Sizes on both sides of 32 and batches of 0, 1 and 257 (more with
// DYNX_TEST_LEVEL=1|2). Skipped without a CUDA device.
//
// Tolerances are c * n * eps<T> with c = kGpuC (16) for GPU results: cuSOLVER's Jacobi and
// Gram-based SVDs stop at a tolerance of a few eps rather than LAPACK's, and sum in a different
// order.

#include "cuda/cuda_common.hpp"

#include <algorithm>
#include <cmath>
#include <complex>
#include <cstdint>
#include <utility>
#include <vector>

namespace {

using namespace dynx::test;
using dynx::BatchStatus;
using dynx::Context;
using dynx::MatrixStatus;
using dynx::Op;
using dynx::SvdAlgorithm;

template <class T>
class CudaLinalg : public CudaTest {};
TYPED_TEST_SUITE(CudaLinalg, RealTypes);

using Shape = std::pair<std::int64_t, std::int64_t>;

// --- gemm ----------------------------------------------------------------------------------------

TYPED_TEST(CudaLinalg, GemmMatchesCpu) {
  using T = TypeParam;
  for (Op ta : {Op::n, Op::t})
    for (Op tb : {Op::n, Op::t})
      for (std::int64_t n : cuda_sizes())
        for (std::int64_t count : cuda_counts(n)) {
          SCOPED_TRACE(testing::Message() << "ta=" << int(ta) << " tb=" << int(tb) << " n=" << n << " count=" << count);
          const std::int64_t m = n + 3, k = std::max<std::int64_t>(1, n - 1);
          auto a = ta == Op::n ? random_batch<T>(m, k, count, 10) : random_batch<T>(k, m, count, 10);
          auto b = tb == Op::n ? random_batch<T>(k, n, count, 11) : random_batch<T>(n, k, count, 11);
          auto c0 = random_batch<T>(m, n, count, 12);
          HostBatch<T> c_cpu = c0, c_gpu = c0;
          dynx::gemm_batched<T>(this->cpu(), ta, tb, T(0.5), a.cview(), b.cview(), T(-1), c_cpu.view());
          DeviceBatch<T> da(this->gpu(), a), db(this->gpu(), b), dc(this->gpu(), c0);
          dynx::gemm_batched<T>(this->gpu(), ta, tb, T(0.5), da.cview(), db.cview(), T(-1), dc.view());
          dc.download(this->gpu(), c_gpu);
          for (std::int64_t i = 0; i < count; ++i) {
            const DMat mag = gemm_magnitude(ta, tb, 0.5, to_dmat(a, i), to_dmat(b, i), -1.0, to_dmat(c0, i));
            const DMat diff = subtract(to_dmat(c_gpu, i), to_dmat(c_cpu, i));
            const double c = 4.0;  // c * (k + 2) * eps<T>, both results within 2 * (k + 2) * eps
            for (std::size_t p = 0; p < diff.v.size(); ++p)
              ASSERT_LE(std::abs(diff.v[p]), c * double(k + 2) * eps<T>() * mag.v[p]) << "matrix " << i;
          }
        }
}

TYPED_TEST(CudaLinalg, GemmBroadcastAndBetaZero) {
  using T = TypeParam;
  const std::int64_t count = 257;
  auto a1 = random_batch<T>(40, 33, 1, 20);
  auto b = random_batch<T>(33, 7, count, 21);
  HostBatch<T> c_cpu(40, 7, count, kPacked, nan_value<T>()), c_gpu = c_cpu;
  dynx::MatrixBatch<const T> a_bc(a1.cview().data, 40, 33, 40, 0, count);
  dynx::gemm_batched<T>(this->cpu(), Op::n, Op::n, T(1), a_bc, b.cview(), T(0), c_cpu.view());
  DeviceBatch<T> da(this->gpu(), a1), db(this->gpu(), b), dc(this->gpu(), c_gpu);
  dynx::MatrixBatch<const T> da_bc(da.cview().data, 40, 33, 40, 0, count, dynx::Device::cuda(0));
  dynx::gemm_batched<T>(this->gpu(), Op::n, Op::n, T(1), da_bc, db.cview(), T(0), dc.view());
  dc.download(this->gpu(), c_gpu);
  for (std::int64_t i = 0; i < count; ++i) {
    ASSERT_TRUE(c_gpu.all_finite(i)) << "NaN in C leaked through beta = 0 in matrix " << i;
    const DMat mag = gemm_magnitude(Op::n, Op::n, 1.0, to_dmat(a1, 0), to_dmat(b, i), 0.0, DMat(40, 7));
    const DMat diff = subtract(to_dmat(c_gpu, i), to_dmat(c_cpu, i));
    for (std::size_t p = 0; p < diff.v.size(); ++p)
      ASSERT_LE(std::abs(diff.v[p]), 4.0 * 35 * eps<T>() * mag.v[p]);  // c = 4, k + 2 = 35
  }
}

// --- svd -----------------------------------------------------------------------------------------

template <class T>
struct SvdOut {
  HostVectors<T> s;
  HostBatch<T> u, vt;
  BatchStatus status;
};

template <class T>
SvdOut<T> svd_on(Context& ctx, const HostBatch<T>& a, bool vectors, SvdAlgorithm algo, Layout out = kPacked) {
  const std::int64_t m = a.rows(), n = a.cols(), k = std::min(m, n), count = a.count();
  SvdOut<T> r{HostVectors<T>(k, count), HostBatch<T>(m, k, count, out, sentinel<T>()),
              HostBatch<T>(k, n, count, out, sentinel<T>()), BatchStatus()};
  dynx::SvdOptions opt;
  opt.algorithm = algo;
  if (ctx.device().is_cpu()) {
    dynx::svd_batched<T>(ctx, a.cview(), r.s.view(), vectors ? r.u.view() : dynx::MatrixBatch<T>(),
                         vectors ? r.vt.view() : dynx::MatrixBatch<T>(), &r.status, opt);
    return r;
  }
  DeviceBatch<T> da(ctx, a), du(ctx, r.u), dvt(ctx, r.vt);
  DeviceVectors<T> ds(ctx, r.s);
  dynx::svd_batched<T>(ctx, da.cview(), ds.view(), vectors ? du.view() : dynx::MatrixBatch<T>(),
                       vectors ? dvt.view() : dynx::MatrixBatch<T>(), &r.status, opt);
  ds.download(ctx, r.s);
  du.download(ctx, r.u);
  dvt.download(ctx, r.vt);
  return r;
}

template <class T>
void expect_svd_matches(const HostBatch<T>& a, SvdOut<T>& cpu, SvdOut<T>& gpu, bool vectors) {
  const std::int64_t m = a.rows(), n = a.cols();
  const double tol = kGpuC * static_cast<double>(std::max(m, n)) * eps<T>();  // c * n * eps<T>
  ASSERT_EQ(gpu.status.count(), a.count());
  for (std::int64_t i = 0; i < a.count(); ++i) {
    SCOPED_TRACE(testing::Message() << "matrix " << i);
    ASSERT_EQ(gpu.status.at(i), MatrixStatus::ok);
    const auto sg = to_doubles(gpu.s.get(i)), sc = to_doubles(cpu.s.get(i));
    for (std::size_t j = 0; j < sg.size(); ++j) {
      ASSERT_GE(sg[j], 0.0);
      if (j + 1 < sg.size()) {
        ASSERT_GE(sg[j], sg[j + 1]) << "not descending at " << j;
      }
    }
    ASSERT_LE(max_abs_diff(sg, sc), tol * std::max(sc.empty() ? 0.0 : sc[0], 1e-300));
    if (vectors) {
      ASSERT_LE(svd_reconstruction_error(to_dmat(a, i), to_dmat(gpu.u, i), sg, to_dmat(gpu.vt, i)), tol);
      ASSERT_LE(orthonormal_columns_error(to_dmat(gpu.u, i)), tol);
      ASSERT_LE(orthonormal_rows_error(to_dmat(gpu.vt, i)), tol);
    }
  }
}

// The GPU algorithms that can run on an m×n batch of `count`.
std::vector<SvdAlgorithm> gpu_svd_algorithms(std::int64_t m, std::int64_t n) {
  std::vector<SvdAlgorithm> algos = {SvdAlgorithm::automatic, SvdAlgorithm::gram_batched, SvdAlgorithm::jacobi_each};
  if (m <= 32 && n <= 32) algos.push_back(SvdAlgorithm::jacobi_batched);
  return algos;
}

TYPED_TEST(CudaLinalg, SvdMatchesCpuOnRandomBatches) {
  using T = TypeParam;
  for (std::int64_t n : cuda_sizes())
    for (std::int64_t count : cuda_counts(n)) {
      auto a = random_batch<T>(n, n, count, 100 + n);
      auto cpu = svd_on(this->cpu(), a, true, SvdAlgorithm::automatic);
      for (SvdAlgorithm algo : gpu_svd_algorithms(n, n)) {
        SCOPED_TRACE(testing::Message() << "n=" << n << " count=" << count << " algorithm " << int(algo));
        auto gpu = svd_on(this->gpu(), a, true, algo);
        expect_svd_matches(a, cpu, gpu, true);
        auto values = svd_on(this->gpu(), a, false, algo);
        expect_svd_matches(a, cpu, values, false);
      }
    }
}

TYPED_TEST(CudaLinalg, SvdTallAndWide) {
  using T = TypeParam;
  for (auto [m, n] : std::vector<Shape>{{20, 7}, {7, 20}, {32, 31}, {33, 31}, {31, 33}, {60, 40}, {40, 60}, {5, 1}, {1, 5}})
    for (std::int64_t count : {std::int64_t{1}, std::int64_t{257}}) {
      auto a = random_batch<T>(m, n, count, 200 + m * 3 + n);
      auto cpu = svd_on(this->cpu(), a, true, SvdAlgorithm::automatic);
      for (SvdAlgorithm algo : gpu_svd_algorithms(m, n)) {
        SCOPED_TRACE(testing::Message() << m << "x" << n << " count=" << count << " algorithm " << int(algo));
        auto gpu = svd_on(this->gpu(), a, true, algo);
        expect_svd_matches(a, cpu, gpu, true);
      }
    }
}

TYPED_TEST(CudaLinalg, SvdRankDeficientRepeatedAndPadded) {
  using T = TypeParam;
  Rng rng(300);
  for (std::int64_t n : {8, 31, 33, 40}) {
    std::vector<double> sv(static_cast<std::size_t>(n), 1.0);  // repeated
    for (std::int64_t j = n / 2; j < n; ++j) sv[static_cast<std::size_t>(j)] = 0.0;  // rank n/2
    sv[0] = 3.0;
    auto a = make_batch<T>(n, n, 20, kPadded, [&](std::int64_t) { return with_singular_values(n, n, sv, rng); });
    auto cpu = svd_on(this->cpu(), a, true, SvdAlgorithm::automatic);
    for (SvdAlgorithm algo : gpu_svd_algorithms(n, n)) {
      SCOPED_TRACE(testing::Message() << "n=" << n << " algorithm " << int(algo));
      auto gpu = svd_on(this->gpu(), a, true, algo, kPadded);
      EXPECT_TRUE(gpu.u.padding_intact(sentinel<T>()));
      EXPECT_TRUE(gpu.vt.padding_intact(sentinel<T>()));
      expect_svd_matches(a, cpu, gpu, true);
    }
  }
}

// --- qr ------------------------------------------------------------------------------------------

TYPED_TEST(CudaLinalg, QrMatchesCpu) {
  using T = TypeParam;
  std::vector<Shape> shapes;
  for (std::int64_t n : cuda_sizes()) shapes.push_back({n, n});
  shapes.insert(shapes.end(), {{40, 20}, {20, 40}, {33, 5}});
  for (auto [m, n] : shapes)
    for (std::int64_t count : cuda_counts(std::max(m, n))) {
      SCOPED_TRACE(testing::Message() << m << "x" << n << " count=" << count);
      const std::int64_t k = std::min(m, n);
      auto a = random_batch<T>(m, n, count, 400 + m + n);
      HostBatch<T> q_cpu(m, k, count), r_cpu(k, n, count), q(m, k, count), r(k, n, count);
      dynx::qr_batched<T>(this->cpu(), a.cview(), q_cpu.view(), r_cpu.view());
      DeviceBatch<T> da(this->gpu(), a), dq(this->gpu(), q), dr(this->gpu(), r);
      BatchStatus st;
      dynx::qr_batched<T>(this->gpu(), da.cview(), dq.view(), dr.view(), &st);
      dq.download(this->gpu(), q);
      dr.download(this->gpu(), r);
      const double tol = kGpuC * std::max(m, n) * eps<T>();  // c * n * eps<T>
      for (std::int64_t i = 0; i < count; ++i) {
        ASSERT_EQ(st.at(i), MatrixStatus::ok);
        const DMat qd = to_dmat(q, i), rd = to_dmat(r, i), rc = to_dmat(r_cpu, i);
        ASSERT_LE(qr_reconstruction_error(to_dmat(a, i), qd, rd), tol) << "matrix " << i;
        ASSERT_LE(orthonormal_columns_error(qd), tol) << "matrix " << i;
        ASSERT_EQ(below_diagonal_max(rd), 0.0) << "matrix " << i;
        // R is unique up to the signs of its rows.
        for (std::int64_t j = 0; j < k; ++j)
          ASSERT_NEAR(std::abs(rd(j, j)), std::abs(rc(j, j)), tol * frobenius(to_dmat(a, i))) << "matrix " << i;
      }
      // R only.
      HostBatch<T> r2(k, n, count);
      DeviceBatch<T> dr2(this->gpu(), r2);
      dynx::qr_batched<T>(this->gpu(), da.cview(), {}, dr2.view());
      dr2.download(this->gpu(), r2);
      for (std::int64_t i = 0; i < count; ++i) {
        const DMat ad = to_dmat(a, i), rd = to_dmat(r2, i);
        const DMat g = m >= n ? matmul(transpose(ad), ad) : DMat();
        if (m >= n) {
          ASSERT_LE(frobenius(subtract(g, matmul(transpose(rd), rd))), tol * frobenius(g));
        }
      }
    }
}

// --- eigh ----------------------------------------------------------------------------------------

TYPED_TEST(CudaLinalg, EighMatchesCpu) {
  using T = TypeParam;
  for (dynx::Uplo uplo : {dynx::Uplo::lower, dynx::Uplo::upper})
    for (std::int64_t n : cuda_sizes())
      for (std::int64_t count : cuda_counts(n)) {
        SCOPED_TRACE(testing::Message() << "n=" << n << " count=" << count << (uplo == dynx::Uplo::lower ? " lower" : " upper"));
        Rng rng(500 + n);
        std::vector<DMat> sym;
        auto a = make_batch<T>(n, n, count, kPacked, [&](std::int64_t) {
          sym.push_back(random_symmetric(n, rng));
          return sym.back();
        });
        // Garbage in the triangle that is not read.
        for (std::int64_t k = 0; k < count; ++k)
          for (std::int64_t j = 0; j < n; ++j)
            for (std::int64_t i = 0; i < n; ++i)
              if (uplo == dynx::Uplo::lower ? i < j : i > j) a(i, j, k) = T(99);
        dynx::EighOptions opt;
        opt.uplo = uplo;
        HostVectors<T> w_cpu(n, count), w(n, count);
        HostBatch<T> v(n, n, count);
        dynx::eigh_batched<T>(this->cpu(), a.cview(), w_cpu.view(), {}, nullptr, opt);
        DeviceBatch<T> da(this->gpu(), a), dv(this->gpu(), v);
        DeviceVectors<T> dw(this->gpu(), w);
        BatchStatus st;
        dynx::eigh_batched<T>(this->gpu(), da.cview(), dw.view(), dv.view(), &st, opt);
        dw.download(this->gpu(), w);
        dv.download(this->gpu(), v);
        const double tol = kGpuC * n * eps<T>();  // c * n * eps<T>
        for (std::int64_t i = 0; i < count; ++i) {
          ASSERT_EQ(st.at(i), MatrixStatus::ok) << "matrix " << i;
          const DMat& s = sym[static_cast<std::size_t>(i)];
          const auto wg = to_doubles(w.get(i));
          for (std::size_t j = 0; j + 1 < wg.size(); ++j) ASSERT_LE(wg[j], wg[j + 1]);
          ASSERT_LE(max_abs_diff(wg, to_doubles(w_cpu.get(i))), tol * frobenius(s)) << "matrix " << i;
          ASSERT_LE(eigh_residual(s, to_dmat(v, i), wg), tol) << "matrix " << i;
          ASSERT_LE(orthonormal_columns_error(to_dmat(v, i)), tol) << "matrix " << i;
        }
      }
}

// --- eig -----------------------------------------------------------------------------------------

TYPED_TEST(CudaLinalg, EigMatchesCpu) {
  using T = TypeParam;
  using C = std::complex<T>;
  for (std::int64_t n : cuda_sizes())
    for (std::int64_t count : cuda_counts(n)) {
      SCOPED_TRACE(testing::Message() << "n=" << n << " count=" << count);
      // Orthogonal matrices: normal, so eigenvalues are perfectly conditioned and comparable.
      Rng rng(600 + n);
      auto a = make_batch<T>(n, n, count, kPacked, [&](std::int64_t) { return random_orthonormal(n, n, rng); });
      HostVectors<C> w_cpu(n, count), w(n, count);
      HostBatch<C> v(n, n, count);
      dynx::eig_batched<T>(this->cpu(), a.cview(), w_cpu.view(), {});
      DeviceBatch<T> da(this->gpu(), a);
      DeviceBatch<C> dv(this->gpu(), v);
      DeviceVectors<C> dw(this->gpu(), w);
      BatchStatus st;
      dynx::eig_batched<T>(this->gpu(), da.cview(), dw.view(), dv.view(), &st);
      dw.download(this->gpu(), w);
      dv.download(this->gpu(), v);
      const double tol = kGpuC * n * eps<T>();  // c * n * eps<T>
      for (std::int64_t i = 0; i < count; ++i) {
        ASSERT_EQ(st.at(i), MatrixStatus::ok) << "matrix " << i;
        const auto wg = w.get(i);
        ASSERT_LE(max_matching_distance(to_cdoubles(wg), to_cdoubles(w_cpu.get(i))), tol) << "matrix " << i;
        ASSERT_LE(eig_residual(to_dmat(a, i), to_cmat(v, i), to_cdoubles(wg)), tol) << "matrix " << i;
        for (std::int64_t j = 0; j < n; ++j) {
          if (wg[static_cast<std::size_t>(j)].imag() == T(0)) continue;
          ASSERT_GT(wg[static_cast<std::size_t>(j)].imag(), T(0)) << "pair order at " << j;
          ASSERT_EQ(wg[static_cast<std::size_t>(j + 1)], std::conj(wg[static_cast<std::size_t>(j)]));
          ++j;
        }
      }
    }
}

TYPED_TEST(CudaLinalg, EigResidualOnGeneralMatrices) {
  using T = TypeParam;
  using C = std::complex<T>;
  for (std::int64_t n : {3, 31, 33, 48}) {
    auto a = random_batch<T>(n, n, 33, 700 + n);
    HostVectors<C> w(n, 33);
    HostBatch<C> v(n, n, 33);
    DeviceBatch<T> da(this->gpu(), a);
    DeviceBatch<C> dv(this->gpu(), v);
    DeviceVectors<C> dw(this->gpu(), w);
    dynx::eig_batched<T>(this->gpu(), da.cview(), dw.view(), dv.view());
    dw.download(this->gpu(), w);
    dv.download(this->gpu(), v);
    for (std::int64_t i = 0; i < 33; ++i)
      ASSERT_LE(eig_residual(to_dmat(a, i), to_cmat(v, i), to_cdoubles(w.get(i))), kGpuC * n * eps<T>())
          << "n=" << n << " matrix " << i;  // c * n * eps<T>
  }
}

// --- solve and inverse ---------------------------------------------------------------------------

template <class T>
HostBatch<T> well_conditioned(std::int64_t n, std::int64_t count, std::uint64_t seed) {
  Rng rng(seed);
  return make_batch<T>(n, n, count, kPacked,
                       [&](std::int64_t) { return with_singular_values(n, n, spread_values(n, 2.0, 1.0), rng); });
}

TYPED_TEST(CudaLinalg, SolveAndInverseMatchCpu) {
  using T = TypeParam;
  for (std::int64_t n : cuda_sizes())
    for (std::int64_t count : cuda_counts(n)) {
      SCOPED_TRACE(testing::Message() << "n=" << n << " count=" << count);
      auto a = well_conditioned<T>(n, count, 800 + n);
      auto b = random_batch<T>(n, 3, count, 801 + n);
      HostBatch<T> x_cpu(n, 3, count), x(n, 3, count), inv_cpu(n, n, count), inv(n, n, count);
      dynx::solve_batched<T>(this->cpu(), a.cview(), b.cview(), x_cpu.view());
      dynx::inverse_batched<T>(this->cpu(), a.cview(), inv_cpu.view());
      DeviceBatch<T> da(this->gpu(), a), db(this->gpu(), b), dx(this->gpu(), x), dinv(this->gpu(), inv);
      BatchStatus st, st_inv;
      dynx::solve_batched<T>(this->gpu(), da.cview(), db.cview(), dx.view(), &st);
      dynx::inverse_batched<T>(this->gpu(), da.cview(), dinv.view(), &st_inv);
      dx.download(this->gpu(), x);
      dinv.download(this->gpu(), inv);
      // In place: x = b.
      DeviceBatch<T> dxb(this->gpu(), b);
      dynx::solve_batched<T>(this->gpu(), da.cview(), dxb.cview(), dxb.view());
      HostBatch<T> xb = b;
      dxb.download(this->gpu(), xb);
      const double cond = 2.0;
      const double tol = kGpuC * n * eps<T>();  // c * n * eps<T>
      for (std::int64_t i = 0; i < count; ++i) {
        ASSERT_TRUE(st.at(i) == MatrixStatus::ok && st_inv.at(i) == MatrixStatus::ok) << "matrix " << i;
        ASSERT_LE(solve_residual(to_dmat(a, i), to_dmat(x, i), to_dmat(b, i)), tol) << "matrix " << i;
        ASSERT_LE(relative_error(to_dmat(x_cpu, i), to_dmat(x, i)), tol * cond) << "matrix " << i;
        ASSERT_LE(relative_error(to_dmat(x_cpu, i), to_dmat(xb, i)), tol * cond) << "in place, matrix " << i;
        ASSERT_LE(inverse_residual(to_dmat(a, i), to_dmat(inv, i)), tol * cond) << "matrix " << i;
        ASSERT_LE(relative_error(to_dmat(inv_cpu, i), to_dmat(inv, i)), tol * cond) << "matrix " << i;
      }
    }
}

// --- polar ---------------------------------------------------------------------------------------

TYPED_TEST(CudaLinalg, PolarMatchesCpu) {
  using T = TypeParam;
  std::vector<Shape> shapes;
  for (std::int64_t n : cuda_sizes()) shapes.push_back({n, n});
  shapes.insert(shapes.end(), {{40, 20}, {20, 40}, {33, 31}});
  for (auto [m, n] : shapes)
    for (std::int64_t count : cuda_counts(std::max(m, n))) {
      SCOPED_TRACE(testing::Message() << m << "x" << n << " count=" << count);
      Rng rng(900 + m + n);
      const std::int64_t k = std::min(m, n);
      auto a = make_batch<T>(m, n, count, kPacked,
                             [&](std::int64_t) { return with_singular_values(m, n, spread_values(k, 3.0, 1.0), rng); });
      HostBatch<T> q_cpu(m, n, count), q(m, n, count);
      dynx::polar_batched<T>(this->cpu(), a.cview(), q_cpu.view());
      for (SvdAlgorithm algo : gpu_svd_algorithms(m, n)) {
        SCOPED_TRACE(testing::Message() << "algorithm " << int(algo));
        DeviceBatch<T> da(this->gpu(), a), dq(this->gpu(), q);
        dynx::PolarOptions opt;
        opt.svd_algorithm = algo;
        BatchStatus st;
        dynx::polar_batched<T>(this->gpu(), da.cview(), dq.view(), &st, opt);
        dq.download(this->gpu(), q);
        const double cond = 3.0;
        const double tol = kGpuC * std::max(m, n) * eps<T>();  // c * n * eps<T>
        for (std::int64_t i = 0; i < count; ++i) {
          ASSERT_EQ(st.at(i), MatrixStatus::ok) << "matrix " << i;
          const DMat qd = to_dmat(q, i);
          ASSERT_LE(m >= n ? orthonormal_columns_error(qd) : orthonormal_rows_error(qd), tol) << "matrix " << i;
          ASSERT_LE(frobenius(subtract(qd, to_dmat(q_cpu, i))), tol * cond) << "matrix " << i;
        }
      }
    }
}

}  // namespace
