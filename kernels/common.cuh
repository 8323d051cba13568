#pragma once
// Shared device-code helpers: the hidden-visibility kernel marker, launch geometry for batched
// element-wise kernels, and NaN / finiteness helpers for real and complex element types.
// Included only from src/cuda.

#include <cuda_runtime.h>

#include <cstdint>

/// Kernels have hidden visibility (as in CCCL) so that two shared objects embedding dynx kernels
/// do not clash.
#define DYNX_KERNEL __global__ __attribute__((visibility("hidden")))

namespace dynx::cuda::kernels {

/// Threads per block of the element-wise batched kernels.
inline constexpr int kBlockSize = 256;
/// gridDim.y is limited to 65535: batches beyond that are covered by a grid-stride loop over y.
inline constexpr std::int64_t kMaxGridY = 65535;
/// Cap on gridDim.x for element loops; larger matrices are covered by a grid-stride loop over x.
inline constexpr std::int64_t kMaxGridX = 4096;
/// Cap on gridDim.x for one-block-per-matrix kernels (batch covered by a grid-stride loop).
inline constexpr std::int64_t kMaxBlocks = 1 << 20;

/// Grid for a kernel with `per_matrix` independent elements in each of `count` matrices: blocks
/// along x cover one matrix's elements, blocks along y cover the batch.
inline dim3 batched_grid(std::int64_t per_matrix, std::int64_t count, int block = kBlockSize) {
  std::int64_t x = (per_matrix + block - 1) / block;
  x = x < 1 ? 1 : (x > kMaxGridX ? kMaxGridX : x);
  std::int64_t y = count < 1 ? 1 : (count > kMaxGridY ? kMaxGridY : count);
  return dim3(static_cast<unsigned>(x), static_cast<unsigned>(y));
}

/// Grid for one block per matrix.
inline dim3 per_matrix_grid(std::int64_t count) {
  const std::int64_t x = count < 1 ? 1 : (count > kMaxBlocks ? kMaxBlocks : count);
  return dim3(static_cast<unsigned>(x));
}

/// Quiet NaN of an element type: real (float, double) or complex-like (a struct with `re` and
/// `im` members, see dynx::cuda::Complex).
template <class E>
struct NanOf {
  __device__ static E value() {
    E e;
    e.re = NanOf<decltype(e.re)>::value();
    e.im = NanOf<decltype(e.im)>::value();
    return e;
  }
};
template <>
struct NanOf<float> {
  __device__ static float value() { return __int_as_float(0x7fc00000); }
};
template <>
struct NanOf<double> {
  __device__ static double value() { return __longlong_as_double(0x7ff8000000000000LL); }
};

/// Zero of an element type (real or complex-like).
template <class E>
__device__ inline E zero_of() {
  E e{};
  return e;
}

template <class T>
__device__ inline bool finite(T x) {
  return isfinite(x);
}

}  // namespace dynx::cuda::kernels
