// Device memory for Buffer and workspaces, copies and fills, and the launchers of the shared
// batched copy kernels (kernels/batch_copy.cuh).

#include "cuda/check.hpp"
#include "cuda/cuda.hpp"
#include "cuda/launch.hpp"
#include "cuda/state.hpp"

#include "core/log.hpp"

#include "kernels/batch_copy.cuh"

namespace dynx::cuda {
namespace {

constexpr std::int32_t kNonFinite = static_cast<std::int32_t>(MatrixStatus::non_finite);

// The device owning `p` when it is device (or managed) memory, otherwise -1.
int device_of(const void* p) {
  cudaPointerAttributes attr{};
  if (cudaPointerGetAttributes(&attr, p) != cudaSuccess) {
    (void)cudaGetLastError();  // not a pointer CUDA knows: plain host memory
    return -1;
  }
  return (attr.type == cudaMemoryTypeDevice || attr.type == cudaMemoryTypeManaged) ? attr.device
                                                                                   : -1;
}

// The device a copy or fill outside any CUDA context runs on.
int device_for(const void* dst, const void* src) {
  int d = device_of(dst);
  if (d < 0 && src) d = device_of(src);
  if (d < 0) DYNX_CUDA_CHECK(cudaGetDevice(&d));
  return d;
}

}  // namespace

int device_count() noexcept {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    (void)cudaGetLastError();  // clear the sticky "no driver / no device" error
    return 0;
  }
  return n;
}

void* allocate(Device device, std::size_t bytes) {
  if (bytes == 0) return nullptr;
  DeviceGuard guard(device.index());
  void* p = nullptr;
  DYNX_CUDA_CHECK(cudaMalloc(&p, bytes));
  return p;
}

void deallocate(Device device, void* ptr) noexcept {
  if (!ptr) return;
  try {
    DeviceGuard guard(device.index());
    const cudaError_t err = cudaFree(ptr);
    if (err != cudaSuccess)
      detail::log().error("cuda: cudaFree on {} failed: {}", device.str(), cudaGetErrorString(err));
  } catch (const std::exception& e) {
    detail::log().error("cuda: cudaFree on {} failed: {}", device.str(), e.what());
  }
}

void copy(Context& ctx, void* dst, const void* src, std::size_t bytes) {
  if (bytes == 0) return;
  if (ctx.device().is_cuda()) {
    CudaState& st = state_of(ctx);
    DeviceGuard guard(st.device());
    // Unified addressing lets the runtime infer the direction.
    DYNX_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDefault, st.stream()));
    return;
  }
  // A CPU context has no stream: copy on the legacy stream of the device involved and wait, so
  // that the data is in place when this returns (device-to-device cudaMemcpy alone would not wait).
  DeviceGuard guard(device_for(dst, src));
  DYNX_CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyDefault));
  DYNX_CUDA_CHECK(cudaStreamSynchronize(cudaStreamLegacy));
}

void zero(Context& ctx, void* dst, std::size_t bytes) {
  if (bytes == 0) return;
  if (ctx.device().is_cuda()) {
    CudaState& st = state_of(ctx);
    DeviceGuard guard(st.device());
    DYNX_CUDA_CHECK(cudaMemsetAsync(dst, 0, bytes, st.stream()));
    return;
  }
  DeviceGuard guard(device_for(dst, nullptr));
  DYNX_CUDA_CHECK(cudaMemset(dst, 0, bytes));  // asynchronous for device memory: wait below
  DYNX_CUDA_CHECK(cudaStreamSynchronize(cudaStreamLegacy));
}

// --- shared copy launchers -----------------------------------------------------------------------

template <class E>
void launch_copy_matrices(const E* d_src, std::int64_t ld_src, std::int64_t stride_src,
                          bool transpose, E* d_dst, std::int64_t ld_dst, std::int64_t stride_dst,
                          std::int64_t rows, std::int64_t cols, std::int64_t count,
                          const std::int32_t* d_status, FailFill fill, cudaStream_t stream) {
  if (rows == 0 || cols == 0 || count == 0) return;
  constexpr int kBlock = kernels::kBlockSize;
  kernels::copy_matrices_kernel<kBlock, E>
      <<<kernels::batched_grid(rows * cols, count), kBlock, 0, stream>>>(
          d_src, ld_src, stride_src, transpose, d_dst, ld_dst, stride_dst, rows, cols, count,
          d_status, static_cast<int>(fill), kNonFinite);
  DYNX_CUDA_LAUNCH_CHECK();
}

template <class E>
void launch_copy_vectors(const E* d_src, std::int64_t stride_src, std::int64_t inc_src, E* d_dst,
                         std::int64_t stride_dst, std::int64_t inc_dst, std::int64_t size,
                         std::int64_t count, const std::int32_t* d_status, FailFill fill,
                         cudaStream_t stream) {
  if (size == 0 || count == 0) return;
  constexpr int kBlock = kernels::kBlockSize;
  kernels::copy_vectors_kernel<kBlock, E>
      <<<kernels::batched_grid(size, count), kBlock, 0, stream>>>(
          d_src, stride_src, inc_src, d_dst, stride_dst, inc_dst, size, count, d_status,
          static_cast<int>(fill), kNonFinite);
  DYNX_CUDA_LAUNCH_CHECK();
}

template <class T>
void launch_pointer_array(T* d_base, std::int64_t stride, std::int64_t count, T** d_ptrs,
                          cudaStream_t stream) {
  if (count == 0) return;
  constexpr int kBlock = kernels::kBlockSize;
  const dim3 grid = kernels::batched_grid(count, 1);
  kernels::pointer_array_kernel<kBlock, T><<<grid.x, kBlock, 0, stream>>>(d_base, stride, count,
                                                                          d_ptrs);
  DYNX_CUDA_LAUNCH_CHECK();
}

template <class T>
void launch_scale_matrices(T* d_c, std::int64_t rows, std::int64_t cols, std::int64_t ld,
                           std::int64_t stride, std::int64_t count, T beta, cudaStream_t stream) {
  if (rows == 0 || cols == 0 || count == 0) return;
  constexpr int kBlock = kernels::kBlockSize;
  kernels::scale_matrices_kernel<kBlock, T>
      <<<kernels::batched_grid(rows * cols, count), kBlock, 0, stream>>>(d_c, rows, cols, ld,
                                                                         stride, count, beta);
  DYNX_CUDA_LAUNCH_CHECK();
}

#define DYNX_INSTANTIATE_COPY(E)                                                                \
  template void launch_copy_matrices<E>(const E*, std::int64_t, std::int64_t, bool, E*,         \
                                        std::int64_t, std::int64_t, std::int64_t, std::int64_t, \
                                        std::int64_t, const std::int32_t*, FailFill,            \
                                        cudaStream_t);                                          \
  template void launch_copy_vectors<E>(const E*, std::int64_t, std::int64_t, E*, std::int64_t,  \
                                       std::int64_t, std::int64_t, std::int64_t,                \
                                       const std::int32_t*, FailFill, cudaStream_t);
DYNX_INSTANTIATE_COPY(float)
DYNX_INSTANTIATE_COPY(double)
DYNX_INSTANTIATE_COPY(Complex<float>)
DYNX_INSTANTIATE_COPY(Complex<double>)
#undef DYNX_INSTANTIATE_COPY

#define DYNX_INSTANTIATE_REAL(T)                                                                \
  template void launch_pointer_array<T>(T*, std::int64_t, std::int64_t, T**, cudaStream_t);     \
  template void launch_scale_matrices<T>(T*, std::int64_t, std::int64_t, std::int64_t,          \
                                         std::int64_t, std::int64_t, T, cudaStream_t);
DYNX_INSTANTIATE_REAL(float)
DYNX_INSTANTIATE_REAL(double)
#undef DYNX_INSTANTIATE_REAL

}  // namespace dynx::cuda
