#pragma once
// Helpers for the CUDA-vs-CPU tests: a fixture that skips without a CUDA device, device copies of
// host batches (same ld, stride and padding), and the problem sizes for each DYNX_TEST_LEVEL.
// Public API only (Device::cuda(0), Buffer, copy_bytes): no CUDA headers.

#include "common/reference.hpp"
#include "common/test_common.hpp"

#include <dynx/dynx.hpp>

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

namespace dynx::test {

/// Skips the test when no CUDA device is usable; otherwise provides a CPU and a CUDA context.
class CudaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (dynx::cuda_device_count() == 0) GTEST_SKIP() << "no usable CUDA device";
    gpu_ = std::make_unique<Context>(Device::cuda(0));
  }
  Context& cpu() { return cpu_; }
  Context& gpu() { return *gpu_; }

 private:
  Context cpu_{Device::cpu()};
  std::unique_ptr<Context> gpu_;
};

/// A device copy of a HostBatch, padding included, with the same ld and stride.
template <class T>
class DeviceBatch {
 public:
  DeviceBatch(Context& ctx, const HostBatch<T>& h)
      : buf_(h.storage().size(), ctx.device()),
        rows_(h.rows()), cols_(h.cols()), ld_(h.ld()), stride_(h.stride()), count_(h.count()) {
    copy_bytes(ctx, buf_.data(), buf_.device(), h.storage().data(), Device::cpu(), buf_.bytes());
    ctx.synchronize();
  }
  MatrixBatch<T> view() { return MatrixBatch<T>(buf_.data(), rows_, cols_, ld_, stride_, count_, buf_.device()); }
  MatrixBatch<const T> cview() const {
    return MatrixBatch<const T>(buf_.data(), rows_, cols_, ld_, stride_, count_, buf_.device());
  }
  /// Copies the device contents back into `h` (which must have the same geometry).
  void download(Context& ctx, HostBatch<T>& h) const {
    copy_bytes(ctx, h.storage().data(), Device::cpu(), buf_.data(), buf_.device(), buf_.bytes());
    ctx.synchronize();
  }

 private:
  Buffer<T> buf_;
  std::int64_t rows_, cols_, ld_, stride_, count_;
};

template <class T>
class DeviceVectors {
 public:
  DeviceVectors(Context& ctx, const HostVectors<T>& h)
      : buf_(h.storage().size(), ctx.device()), size_(h.size()), stride_(h.stride()), count_(h.count()),
        inc_(h.inc()) {
    copy_bytes(ctx, buf_.data(), buf_.device(), h.storage().data(), Device::cpu(), buf_.bytes());
    ctx.synchronize();
  }
  VectorBatch<T> view() { return VectorBatch<T>(buf_.data(), size_, stride_, count_, inc_, buf_.device()); }
  void download(Context& ctx, HostVectors<T>& h) const {
    copy_bytes(ctx, h.storage().data(), Device::cpu(), buf_.data(), buf_.device(), buf_.bytes());
    ctx.synchronize();
  }

 private:
  Buffer<T> buf_;
  std::int64_t size_, stride_, count_, inc_;
};

/// Square sizes: both sides of 32 always; bigger ones with DYNX_TEST_LEVEL.
inline std::vector<std::int64_t> cuda_sizes() {
  std::vector<std::int64_t> n = {1, 5, 31, 32, 33, 48};
  if (test_level() >= 1) n.insert(n.end(), {64, 100});
  if (test_level() >= 2) n.insert(n.end(), {128, 256});
  return n;
}

/// Batch sizes for order n: 0, 1 and 257 (a partial last block) up to n = 48; fewer for big n.
inline std::vector<std::int64_t> cuda_counts(std::int64_t n) {
  if (n <= 48) return {0, 1, 257};
  if (n <= 100) return {0, 1, 17};
  return {1, 3};
}

/// GPU results may differ from the CPU ones by a few more roundings than two CPU runs; GPU checks
/// use this c in c * n * eps<T>.
inline constexpr double kGpuC = 16.0;

}  // namespace dynx::test
