// CUDA device basics through the public API: contexts, buffers, copies, workspace, and argument
// checks that involve the device. Skipped without a CUDA device.

#include "cuda/cuda_common.hpp"

#include <cstdint>
#include <cstring>
#include <numeric>
#include <vector>

namespace {

using namespace dynx::test;
using dynx::Buffer;
using dynx::Context;
using dynx::Device;

using CudaCore = CudaTest;

TEST_F(CudaCore, ContextHasAStreamAndTheDevice) {
  EXPECT_EQ(gpu().device(), Device::cuda(0));
  EXPECT_NE(gpu().native_stream(), nullptr);
  EXPECT_NO_THROW(gpu().synchronize());
  EXPECT_TRUE(dynx::has_cuda_backend());
  EXPECT_GE(dynx::cuda_device_count(), 1);
}

TEST_F(CudaCore, NonexistentDeviceIsAnInvalidArgument) {
  EXPECT_THROW(Context(Device::cuda(dynx::cuda_device_count())), dynx::InvalidArgument);
}

TEST_F(CudaCore, CopiesRoundTripThroughTheDevice) {
  std::vector<double> host(1000), back(1000, -1.0);
  std::iota(host.begin(), host.end(), 0.5);
  Buffer<double> d1(host.size(), Device::cuda(0)), d2(host.size(), Device::cuda(0));
  EXPECT_EQ(d1.device(), Device::cuda(0));
  dynx::copy_bytes(gpu(), d1.data(), d1.device(), host.data(), Device::cpu(), d1.bytes());
  dynx::copy(gpu(), d2, d1);  // device to device
  dynx::copy_bytes(gpu(), back.data(), Device::cpu(), d2.data(), d2.device(), d2.bytes());
  gpu().synchronize();
  EXPECT_EQ(back, host);
  // to_device / to_host.
  Buffer<double> d3 = dynx::to_device(gpu(), host.data(), host.size());
  EXPECT_EQ(dynx::to_host(gpu(), d3), host);
  // Copies ordered on a CPU context work too.
  std::vector<double> again(1000, 0.0);
  dynx::copy_bytes(cpu(), again.data(), Device::cpu(), d3.data(), d3.device(), d3.bytes());
  EXPECT_EQ(again, host);
}

TEST_F(CudaCore, ZeroBytesClearsDeviceMemory) {
  std::vector<float> host(64, 3.f);
  Buffer<float> d = dynx::to_device(gpu(), host.data(), host.size());
  dynx::zero_bytes(gpu(), d.data(), d.device(), 16 * sizeof(float));
  const auto back = dynx::to_host(gpu(), d);
  for (int i = 0; i < 64; ++i) EXPECT_EQ(back[static_cast<std::size_t>(i)], i < 16 ? 0.f : 3.f) << i;
}

TEST_F(CudaCore, BufferMovesKeepTheDevicePointer) {
  Buffer<int> a(10, Device::cuda(0));
  int* p = a.data();
  Buffer<int> b(std::move(a));
  EXPECT_EQ(b.data(), p);
  EXPECT_EQ(b.device(), Device::cuda(0));
  EXPECT_EQ(a.data(), nullptr);  // NOLINT(bugprone-use-after-move)
  Buffer<int> c;
  c = std::move(b);
  EXPECT_EQ(c.data(), p);
}

TEST_F(CudaCore, WorkspaceIsAlignedAndGrows) {
  void* p = gpu().workspace(1000);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p) % 256, 0u);
  EXPECT_GE(gpu().workspace_size(), 1000u);
  void* q = gpu().workspace(1 << 20);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(q) % 256, 0u);
  EXPECT_GE(gpu().workspace_size(), std::size_t{1} << 20);
  EXPECT_EQ(gpu().workspace(10), q);
}

TEST_F(CudaCore, HostViewsOnACudaContextAreRejected) {
  auto a = random_batch<double>(4, 4, 2, 1);
  HostVectors<double> s(4, 2);
  DYNX_EXPECT_INVALID_ARGUMENT(dynx::svd_batched<double>(gpu(), a.cview(), s.view(), {}, {}), "`a`");
  DeviceBatch<double> da(gpu(), a);
  DYNX_EXPECT_INVALID_ARGUMENT(dynx::svd_batched<double>(gpu(), da.cview(), s.view(), {}, {}), "`s`");
  // Device views on the CPU context.
  DYNX_EXPECT_INVALID_ARGUMENT(dynx::svd_batched<double>(cpu(), da.cview(), s.view(), {}, {}), "`a`");
  // A view on another device index.
  dynx::MatrixBatch<const double> other(da.cview().data, 4, 4, 4, 16, 2, Device::cuda(1));
  DYNX_EXPECT_INVALID_ARGUMENT(dynx::svd_batched<double>(gpu(), other, s.view(), {}, {}), "`a`");
}

TEST_F(CudaCore, CpuOnlySvdAlgorithmsAreRejected) {
  auto a = random_batch<double>(4, 4, 2, 2);
  DeviceBatch<double> da(gpu(), a);
  HostVectors<double> hs(4, 2);
  DeviceVectors<double> s(gpu(), hs);
  for (auto algo : {dynx::SvdAlgorithm::divide_and_conquer, dynx::SvdAlgorithm::qr_iteration}) {
    dynx::SvdOptions opt;
    opt.algorithm = algo;
    EXPECT_THROW(dynx::svd_batched<double>(gpu(), da.cview(), s.view(), {}, {}, nullptr, opt), dynx::InvalidArgument);
  }
  // jacobi_batched is limited to 32×32.
  auto big = random_batch<double>(33, 33, 1, 3);
  DeviceBatch<double> db(gpu(), big);
  HostVectors<double> hs33(33, 1);
  DeviceVectors<double> s33(gpu(), hs33);
  dynx::SvdOptions opt;
  opt.algorithm = dynx::SvdAlgorithm::jacobi_batched;
  EXPECT_THROW(dynx::svd_batched<double>(gpu(), db.cview(), s33.view(), {}, {}, nullptr, opt), dynx::InvalidArgument);
}

TEST_F(CudaCore, BatchStatusOfADeviceOperationIsReadOnTheHost) {
  HostBatch<double> a(3, 3, 4);
  for (std::int64_t k = 0; k < 4; ++k)
    for (int i = 0; i < 3; ++i) a(i, i, k) = 1.0 + i;
  for (int i = 0; i < 3; ++i) a(i, 0, 2) = 0.0;  // singular
  DeviceBatch<double> da(gpu(), a);
  HostBatch<double> inv(3, 3, 4);
  DeviceBatch<double> dinv(gpu(), inv);
  dynx::BatchStatus st;
  dynx::inverse_batched<double>(gpu(), da.cview(), dinv.view(), &st);
  EXPECT_EQ(st.count(), 4);
  EXPECT_EQ(st.failed_indices(), std::vector<std::int64_t>{2});
  EXPECT_EQ(st.at(2), dynx::MatrixStatus::singular);
  EXPECT_THROW(st.check("inverse"), dynx::NumericalError);
}

}  // namespace
