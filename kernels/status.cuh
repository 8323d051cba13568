#pragma once
// Per-matrix status bookkeeping on the device: folding a solver's info array into MatrixStatus
// codes, and overwriting the outputs of failed matrices with NaN.

#include "kernels/common.cuh"

#include <cstdint>

namespace dynx::cuda::kernels {

/// d_status[k] = fail_code where d_status[k] == 0 and d_info[k] != 0.
template <int BlockSize>
DYNX_KERNEL __launch_bounds__(BlockSize) void merge_solver_info_kernel(
    std::int32_t* __restrict__ d_status, const int* __restrict__ d_info, std::int64_t count,
    std::int32_t fail_code) {
  for (std::int64_t k = std::int64_t{blockIdx.x} * BlockSize + threadIdx.x; k < count;
       k += std::int64_t{gridDim.x} * BlockSize) {
    if (d_status[k] == 0 && d_info[k] != 0) d_status[k] = fail_code;
  }
}

/// Matrix k (rows × cols, leading dimension ld) becomes NaN where d_status[k] != 0.
template <int BlockSize, class E>
DYNX_KERNEL __launch_bounds__(BlockSize) void fill_nan_matrices_kernel(
    E* __restrict__ d_a, std::int64_t rows, std::int64_t cols, std::int64_t ld,
    std::int64_t stride, std::int64_t count, const std::int32_t* __restrict__ d_status) {
  const std::int64_t elems = rows * cols;
  for (std::int64_t b = blockIdx.y; b < count; b += gridDim.y) {
    if (d_status[b] == 0) continue;
    E* a = d_a + b * stride;
    for (std::int64_t e = std::int64_t{blockIdx.x} * BlockSize + threadIdx.x; e < elems;
         e += std::int64_t{gridDim.x} * BlockSize)
      a[(e / rows) * ld + e % rows] = NanOf<E>::value();
  }
}

/// Vector k (element i at k * stride + i * inc) becomes NaN where d_status[k] != 0.
template <int BlockSize, class E>
DYNX_KERNEL __launch_bounds__(BlockSize) void fill_nan_vectors_kernel(
    E* __restrict__ d_v, std::int64_t size, std::int64_t stride, std::int64_t inc,
    std::int64_t count, const std::int32_t* __restrict__ d_status) {
  for (std::int64_t b = blockIdx.y; b < count; b += gridDim.y) {
    if (d_status[b] == 0) continue;
    E* v = d_v + b * stride;
    for (std::int64_t i = std::int64_t{blockIdx.x} * BlockSize + threadIdx.x; i < size;
         i += std::int64_t{gridDim.x} * BlockSize)
      v[i * inc] = NanOf<E>::value();
  }
}

}  // namespace dynx::cuda::kernels
