// Dispatch heuristics (src/core/heuristics.hpp): pure functions of device, shape and batch size.
// They are internal to libdynx, so src/core/heuristics.cpp is compiled into this test program.

#include "core/heuristics.hpp"

#include <dynx/error.hpp>

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace {

using dynx::DeviceKind;
using dynx::Dtype;
using dynx::SvdAlgorithm;
using dynx::detail::choose_eig_cuda_strategy;
using dynx::detail::choose_eigh_cuda_algorithm;
using dynx::detail::choose_svd_algorithm;
using dynx::detail::EigCudaStrategy;
using dynx::detail::EighCudaAlgorithm;
using dynx::detail::kGramBatchedMinCount;
using dynx::detail::kJacobiBatchedMaxDim;
using dynx::detail::kXgeevMinDim;
using dynx::detail::parallel_over_batch;
using Shapes = std::vector<std::pair<std::int64_t, std::int64_t>>;

TEST(ChooseSvdAlgorithm, CpuAlwaysUsesDivideAndConquer) {
  for (std::int64_t n : {1, 2, 31, 32, 33, 100, 1000})
    for (std::int64_t count : {0, 1, 16, 100000})
      for (Dtype t : {Dtype::f32, Dtype::f64}) {
        EXPECT_EQ(choose_svd_algorithm(DeviceKind::cpu, n, n, count, t), SvdAlgorithm::divide_and_conquer);
        EXPECT_EQ(choose_svd_algorithm(DeviceKind::cpu, 2 * n, n, count, t), SvdAlgorithm::divide_and_conquer);
      }
}

TEST(ChooseSvdAlgorithm, CudaUsesBatchedJacobiUpTo32) {
  EXPECT_EQ(kJacobiBatchedMaxDim, 32);
  for (auto [m, n] : Shapes{{1, 1}, {32, 32}, {32, 1}, {1, 32},
                      {31, 17}, {5, 32}})
    for (std::int64_t count : {1, 15, 16, 100000}) {
      SCOPED_TRACE(testing::Message() << m << "x" << n << " count " << count);
      EXPECT_EQ(choose_svd_algorithm(DeviceKind::cuda, m, n, count, Dtype::f64),
                SvdAlgorithm::jacobi_batched);
      EXPECT_EQ(choose_svd_algorithm(DeviceKind::cuda, m, n, count, Dtype::f32),
                SvdAlgorithm::jacobi_batched);
    }
}

TEST(ChooseSvdAlgorithm, CudaAbove32UsesGramForBigBatchesAndJacobiEachOtherwise) {
  EXPECT_EQ(kGramBatchedMinCount, 16);
  for (auto [m, n] : Shapes{{33, 33}, {33, 32}, {32, 33},
                      {48, 48}, {1000, 10}}) {
    SCOPED_TRACE(testing::Message() << m << "x" << n);
    EXPECT_EQ(choose_svd_algorithm(DeviceKind::cuda, m, n, 16, Dtype::f64), SvdAlgorithm::gram_batched);
    EXPECT_EQ(choose_svd_algorithm(DeviceKind::cuda, m, n, 4096, Dtype::f32), SvdAlgorithm::gram_batched);
    EXPECT_EQ(choose_svd_algorithm(DeviceKind::cuda, m, n, 15, Dtype::f64), SvdAlgorithm::jacobi_each);
    EXPECT_EQ(choose_svd_algorithm(DeviceKind::cuda, m, n, 1, Dtype::f64), SvdAlgorithm::jacobi_each);
  }
}

TEST(ChooseSvdAlgorithm, NeverReturnsAutomatic) {
  for (DeviceKind d : {DeviceKind::cpu, DeviceKind::cuda})
    for (std::int64_t n : {1, 32, 33, 512})
      for (std::int64_t count : {0, 1, 16, 17, 1000})
        EXPECT_NE(choose_svd_algorithm(d, n, n, count, Dtype::f64), SvdAlgorithm::automatic);
}

TEST(CheckSvdAlgorithm, AcceptsAutomaticEverywhere) {
  EXPECT_NO_THROW(dynx::detail::check_svd_algorithm(SvdAlgorithm::automatic, DeviceKind::cpu, 100, 100));
  EXPECT_NO_THROW(dynx::detail::check_svd_algorithm(SvdAlgorithm::automatic, DeviceKind::cuda, 100, 100));
}

TEST(CheckSvdAlgorithm, CpuAlgorithmsAreRejectedOnCuda) {
  for (SvdAlgorithm a : {SvdAlgorithm::divide_and_conquer, SvdAlgorithm::qr_iteration}) {
    EXPECT_NO_THROW(dynx::detail::check_svd_algorithm(a, DeviceKind::cpu, 7, 5));
    EXPECT_THROW(dynx::detail::check_svd_algorithm(a, DeviceKind::cuda, 7, 5), dynx::InvalidArgument);
  }
}

TEST(CheckSvdAlgorithm, CudaAlgorithmsAreRejectedOnCpu) {
  for (SvdAlgorithm a : {SvdAlgorithm::jacobi_batched, SvdAlgorithm::gram_batched, SvdAlgorithm::jacobi_each}) {
    EXPECT_THROW(dynx::detail::check_svd_algorithm(a, DeviceKind::cpu, 7, 5), dynx::InvalidArgument);
    EXPECT_NO_THROW(dynx::detail::check_svd_algorithm(a, DeviceKind::cuda, 7, 5));
  }
}

TEST(CheckSvdAlgorithm, JacobiBatchedIsLimitedTo32) {
  EXPECT_NO_THROW(dynx::detail::check_svd_algorithm(SvdAlgorithm::jacobi_batched, DeviceKind::cuda, 32, 32));
  for (auto [m, n] : Shapes{{33, 32}, {32, 33}, {64, 8}}) {
    try {
      dynx::detail::check_svd_algorithm(SvdAlgorithm::jacobi_batched, DeviceKind::cuda, m, n);
      ADD_FAILURE() << m << "x" << n << " accepted";
    } catch (const dynx::InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find("32"), std::string::npos) << e.what();
    }
  }
  // The other CUDA algorithms take any size.
  EXPECT_NO_THROW(dynx::detail::check_svd_algorithm(SvdAlgorithm::gram_batched, DeviceKind::cuda, 500, 400));
  EXPECT_NO_THROW(dynx::detail::check_svd_algorithm(SvdAlgorithm::jacobi_each, DeviceKind::cuda, 500, 400));
}

TEST(CheckSvdAlgorithm, RejectsUnknownValues) {
  EXPECT_THROW(dynx::detail::check_svd_algorithm(static_cast<SvdAlgorithm>(42), DeviceKind::cpu, 3, 3),
               dynx::InvalidArgument);
}

TEST(ChooseEighCudaAlgorithm, BatchedJacobiUpTo32ThenSyevd) {
  for (std::int64_t n : {1, 2, 31, 32})
    EXPECT_EQ(choose_eigh_cuda_algorithm(n, 1000), EighCudaAlgorithm::jacobi_batched) << n;
  for (std::int64_t n : {33, 64, 1000})
    EXPECT_EQ(choose_eigh_cuda_algorithm(n, 1000), EighCudaAlgorithm::syevd_each) << n;
}

TEST(ChooseEigCudaStrategy, OffloadsSmallMatricesAndManyMatricesToTheHost) {
  EXPECT_EQ(kXgeevMinDim, 512);
  EXPECT_EQ(choose_eig_cuda_strategy(2, 1), EigCudaStrategy::host_offload);
  EXPECT_EQ(choose_eig_cuda_strategy(48, 100000), EigCudaStrategy::host_offload);
  EXPECT_EQ(choose_eig_cuda_strategy(511, 1), EigCudaStrategy::host_offload);
  EXPECT_EQ(choose_eig_cuda_strategy(512, 1), EigCudaStrategy::xgeev_each);
  EXPECT_EQ(choose_eig_cuda_strategy(2048, 4), EigCudaStrategy::xgeev_each);
  EXPECT_EQ(choose_eig_cuda_strategy(2048, 5), EigCudaStrategy::host_offload);
}

TEST(ParallelOverBatch, NeedsSeveralThreadsEnoughMatricesAndEnoughWork) {
  const double big = 1e6;  // flops per matrix
  EXPECT_FALSE(parallel_over_batch(1000, 1, big));
  EXPECT_FALSE(parallel_over_batch(0, 4, big));
  EXPECT_FALSE(parallel_over_batch(3, 4, big));
  EXPECT_TRUE(parallel_over_batch(4, 4, big));
  EXPECT_TRUE(parallel_over_batch(2, 2, big));
  EXPECT_TRUE(parallel_over_batch(1000, 16, big));
  EXPECT_FALSE(parallel_over_batch(1, 2, big));
  EXPECT_FALSE(parallel_over_batch(8, 2, 250.0));      // eight 5×5 GEMMs: not worth a fork
  EXPECT_TRUE(parallel_over_batch(100000, 2, 250.0));  // but 100k of them are
}

}  // namespace
