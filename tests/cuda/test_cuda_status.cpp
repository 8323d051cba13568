// Per-matrix status codes on the GPU equal the CPU's, for every operation: NaN/Inf input
// (non_finite, NaN outputs), exactly singular matrices (singular, NaN outputs), the rest of the
// batch intact; empty batches. Skipped without a CUDA device.

#include "cuda/cuda_common.hpp"

#include <complex>
#include <cstdint>
#include <limits>
#include <vector>

namespace {

using namespace dynx::test;
using dynx::BatchStatus;
using dynx::MatrixStatus;

template <class T>
class CudaStatus : public CudaTest {};
TYPED_TEST_SUITE(CudaStatus, RealTypes);

// Codes of every matrix.
std::vector<MatrixStatus> codes(BatchStatus& st) {
  std::vector<MatrixStatus> out;
  for (std::int64_t i = 0; i < st.count(); ++i) out.push_back(st.at(i));
  return out;
}

// A batch of `count` n×n well-conditioned matrices where matrix 3 holds NaN, 7 holds Inf, 11 is
// exactly singular (zero first column) and the last one holds -Inf.
template <class T>
HostBatch<T> poisoned_batch(std::int64_t n, std::int64_t count, std::uint64_t seed) {
  Rng rng(seed);
  auto a = make_batch<T>(n, n, count, kPacked,
                         [&](std::int64_t) { return with_singular_values(n, n, spread_values(n, 2.0, 1.0), rng); });
  a(n / 2, n / 2, 3) = std::numeric_limits<T>::quiet_NaN();
  a(0, n - 1, 7) = std::numeric_limits<T>::infinity();
  for (std::int64_t i = 0; i < n; ++i) a(i, 0, 11) = T(0);
  a(n - 1, 0, count - 1) = -std::numeric_limits<T>::infinity();
  return a;
}

constexpr std::int64_t kCount = 257;

TYPED_TEST(CudaStatus, SolveAndInverseCodesMatchCpu) {
  using T = TypeParam;
  for (std::int64_t n : {4, 33}) {
    SCOPED_TRACE(testing::Message() << "n=" << n);
    auto a = poisoned_batch<T>(n, kCount, 1000 + n);
    auto b = random_batch<T>(n, 2, kCount, 1001);
    HostBatch<T> x(n, 2, kCount), inv(n, n, kCount), x_cpu(n, 2, kCount), inv_cpu(n, n, kCount);
    BatchStatus sc, sci, sg, sgi;
    dynx::solve_batched<T>(this->cpu(), a.cview(), b.cview(), x_cpu.view(), &sc);
    dynx::inverse_batched<T>(this->cpu(), a.cview(), inv_cpu.view(), &sci);
    DeviceBatch<T> da(this->gpu(), a), db(this->gpu(), b), dx(this->gpu(), x), dinv(this->gpu(), inv);
    dynx::solve_batched<T>(this->gpu(), da.cview(), db.cview(), dx.view(), &sg);
    dynx::inverse_batched<T>(this->gpu(), da.cview(), dinv.view(), &sgi);
    dx.download(this->gpu(), x);
    dinv.download(this->gpu(), inv);
    EXPECT_EQ(codes(sg), codes(sc));
    EXPECT_EQ(codes(sgi), codes(sci));
    EXPECT_EQ(sg.at(3), MatrixStatus::non_finite);
    EXPECT_EQ(sg.at(11), MatrixStatus::singular);
    for (std::int64_t i : {std::int64_t{3}, std::int64_t{7}, std::int64_t{11}, kCount - 1}) {
      EXPECT_TRUE(x.all_nan(i)) << "matrix " << i;
      EXPECT_TRUE(inv.all_nan(i)) << "matrix " << i;
    }
    EXPECT_TRUE(x.all_finite(0));
    EXPECT_THROW(dynx::solve_batched<T>(this->gpu(), da.cview(), db.cview(), dx.view()), dynx::NumericalError);
  }
}

TYPED_TEST(CudaStatus, DecompositionCodesMatchCpu) {
  using T = TypeParam;
  using C = std::complex<T>;
  for (std::int64_t n : {5, 32, 33}) {
    SCOPED_TRACE(testing::Message() << "n=" << n);
    auto a = poisoned_batch<T>(n, kCount, 1100 + n);
    DeviceBatch<T> da(this->gpu(), a);
    // svd (every GPU algorithm that fits), values and vectors.
    {
      HostVectors<T> s(n, kCount);
      HostBatch<T> u(n, n, kCount), vt(n, n, kCount);
      BatchStatus sc;
      dynx::svd_batched<T>(this->cpu(), a.cview(), s.view(), {}, {}, &sc);
      std::vector<dynx::SvdAlgorithm> algos = {dynx::SvdAlgorithm::automatic, dynx::SvdAlgorithm::gram_batched,
                                               dynx::SvdAlgorithm::jacobi_each};
      if (n <= 32) algos.push_back(dynx::SvdAlgorithm::jacobi_batched);
      for (auto algo : algos) {
        SCOPED_TRACE(testing::Message() << "svd algorithm " << int(algo));
        DeviceVectors<T> ds(this->gpu(), s);
        DeviceBatch<T> du(this->gpu(), u), dvt(this->gpu(), vt);
        BatchStatus sg;
        dynx::SvdOptions opt;
        opt.algorithm = algo;
        dynx::svd_batched<T>(this->gpu(), da.cview(), ds.view(), du.view(), dvt.view(), &sg, opt);
        ds.download(this->gpu(), s);
        du.download(this->gpu(), u);
        EXPECT_EQ(codes(sg), codes(sc));
        EXPECT_TRUE(s.all_nan(3));
        EXPECT_TRUE(u.all_nan(7));
        EXPECT_FALSE(s.all_nan(11));  // singular is fine for an SVD
      }
    }
    // qr
    {
      HostBatch<T> q(n, n, kCount), r(n, n, kCount);
      BatchStatus sc, sg;
      dynx::qr_batched<T>(this->cpu(), a.cview(), q.view(), r.view(), &sc);
      DeviceBatch<T> dq(this->gpu(), q), dr(this->gpu(), r);
      dynx::qr_batched<T>(this->gpu(), da.cview(), dq.view(), dr.view(), &sg);
      dr.download(this->gpu(), r);
      EXPECT_EQ(codes(sg), codes(sc));
      EXPECT_TRUE(r.all_nan(3));
    }
    // eigh (lower triangle: matrix 7's Inf sits in the upper one, so it is not read).
    {
      HostVectors<T> w(n, kCount);
      HostBatch<T> v(n, n, kCount);
      BatchStatus sc, sg;
      dynx::eigh_batched<T>(this->cpu(), a.cview(), w.view(), {}, &sc);
      DeviceVectors<T> dw(this->gpu(), w);
      DeviceBatch<T> dv(this->gpu(), v);
      dynx::eigh_batched<T>(this->gpu(), da.cview(), dw.view(), dv.view(), &sg);
      dw.download(this->gpu(), w);
      EXPECT_EQ(codes(sg), codes(sc));
      EXPECT_EQ(sg.at(7), n == 1 ? MatrixStatus::non_finite : MatrixStatus::ok);
      EXPECT_TRUE(w.all_nan(3));
    }
    // eig
    {
      HostVectors<C> w(n, kCount);
      HostBatch<C> v(n, n, kCount);
      BatchStatus sc, sg;
      dynx::eig_batched<T>(this->cpu(), a.cview(), w.view(), {}, &sc);
      DeviceVectors<C> dw(this->gpu(), w);
      DeviceBatch<C> dv(this->gpu(), v);
      dynx::eig_batched<T>(this->gpu(), da.cview(), dw.view(), dv.view(), &sg);
      dw.download(this->gpu(), w);
      dv.download(this->gpu(), v);
      EXPECT_EQ(codes(sg), codes(sc));
      EXPECT_TRUE(w.all_nan(3));
      EXPECT_TRUE(v.all_nan(kCount - 1));
    }
    // polar
    {
      HostBatch<T> q(n, n, kCount);
      BatchStatus sc, sg;
      dynx::polar_batched<T>(this->cpu(), a.cview(), q.view(), &sc);
      DeviceBatch<T> dq(this->gpu(), q);
      dynx::polar_batched<T>(this->gpu(), da.cview(), dq.view(), &sg);
      dq.download(this->gpu(), q);
      EXPECT_EQ(codes(sg), codes(sc));
      EXPECT_TRUE(q.all_nan(7));
      EXPECT_FALSE(q.all_nan(0));
    }
  }
}

TYPED_TEST(CudaStatus, EmptyBatchesAreNoOps) {
  using T = TypeParam;
  using C = std::complex<T>;
  const dynx::Device d = dynx::Device::cuda(0);
  dynx::MatrixBatch<const T> a(nullptr, 4, 4, 4, 16, 0, d);
  dynx::MatrixBatch<T> m(nullptr, 4, 4, 4, 16, 0, d);
  dynx::VectorBatch<T> v(nullptr, 4, 4, 0, 1, d);
  BatchStatus st;
  EXPECT_NO_THROW(dynx::gemm_batched<T>(this->gpu(), dynx::Op::n, dynx::Op::n, T(1), a, a, T(0), m));
  EXPECT_NO_THROW(dynx::svd_batched<T>(this->gpu(), a, v, m, m, &st));
  EXPECT_EQ(st.count(), 0);
  EXPECT_NO_THROW(dynx::qr_batched<T>(this->gpu(), a, {}, m, &st));
  EXPECT_NO_THROW(dynx::eigh_batched<T>(this->gpu(), a, v, {}, &st));
  EXPECT_NO_THROW(dynx::eig_batched<T>(this->gpu(), a, dynx::VectorBatch<C>(nullptr, 4, 4, 0, 1, d), {}, &st));
  EXPECT_NO_THROW(dynx::solve_batched<T>(this->gpu(), a, a, m, &st));
  EXPECT_NO_THROW(dynx::inverse_batched<T>(this->gpu(), a, m, &st));
  EXPECT_NO_THROW(dynx::polar_batched<T>(this->gpu(), a, m, &st));
  EXPECT_TRUE(st.all_ok());
  EXPECT_NO_THROW(this->gpu().synchronize());
}

}  // namespace
