#pragma once
// Batched data movement: strided matrix and vector copies (optionally transposed, optionally
// replacing failed matrices by zeros or NaN), pointer arrays for cuBLAS batched routines, and
// the C = beta*C scaling GEMM needs when k == 0.

#include "kernels/common.cuh"

#include <cstdint>

namespace dynx::cuda::kernels {

/// What a copy writes for a matrix whose status is set (values of dynx::cuda::FailFill).
enum CopyFill : int { kFillNone = 0, kFillZeroIfNonFinite = 1, kFillNanIfFailed = 2 };

template <class E>
__device__ inline bool replace_with_fill(const std::int32_t* d_status, std::int64_t b, int fill,
                                         std::int32_t non_finite_code, E& value) {
  if (fill == kFillNone || d_status == nullptr) return false;
  const std::int32_t s = d_status[b];
  if (fill == kFillZeroIfNonFinite && s == non_finite_code) {
    value = zero_of<E>();
    return true;
  }
  if (fill == kFillNanIfFailed && s != 0) {
    value = NanOf<E>::value();
    return true;
  }
  return false;
}

/// dst(i, j) of matrix b = src(i, j), or src(j, i) with `transpose`; dst is rows × cols.
template <int BlockSize, class E>
DYNX_KERNEL __launch_bounds__(BlockSize) void copy_matrices_kernel(
    const E* __restrict__ d_src, std::int64_t ld_src, std::int64_t stride_src, bool transpose,
    E* __restrict__ d_dst, std::int64_t ld_dst, std::int64_t stride_dst, std::int64_t rows,
    std::int64_t cols, std::int64_t count, const std::int32_t* __restrict__ d_status, int fill,
    std::int32_t non_finite_code) {
  const std::int64_t elems = rows * cols;
  for (std::int64_t b = blockIdx.y; b < count; b += gridDim.y) {
    E fill_value = zero_of<E>();
    const bool replaced = replace_with_fill(d_status, b, fill, non_finite_code, fill_value);
    const E* src = d_src + b * stride_src;
    E* dst = d_dst + b * stride_dst;
    for (std::int64_t e = std::int64_t{blockIdx.x} * BlockSize + threadIdx.x; e < elems;
         e += std::int64_t{gridDim.x} * BlockSize) {
      const std::int64_t i = e % rows, j = e / rows;
      dst[j * ld_dst + i] = replaced ? fill_value
                                     : (transpose ? src[i * ld_src + j] : src[j * ld_src + i]);
    }
  }
}

/// dst vector b = src vector b, element i at b * stride + i * inc on each side.
template <int BlockSize, class E>
DYNX_KERNEL __launch_bounds__(BlockSize) void copy_vectors_kernel(
    const E* __restrict__ d_src, std::int64_t stride_src, std::int64_t inc_src,
    E* __restrict__ d_dst, std::int64_t stride_dst, std::int64_t inc_dst, std::int64_t size,
    std::int64_t count, const std::int32_t* __restrict__ d_status, int fill,
    std::int32_t non_finite_code) {
  for (std::int64_t b = blockIdx.y; b < count; b += gridDim.y) {
    E fill_value = zero_of<E>();
    const bool replaced = replace_with_fill(d_status, b, fill, non_finite_code, fill_value);
    const E* src = d_src + b * stride_src;
    E* dst = d_dst + b * stride_dst;
    for (std::int64_t i = std::int64_t{blockIdx.x} * BlockSize + threadIdx.x; i < size;
         i += std::int64_t{gridDim.x} * BlockSize)
      dst[i * inc_dst] = replaced ? fill_value : src[i * inc_src];
  }
}

/// d_ptrs[k] = d_base + k * stride.
template <int BlockSize, class T>
DYNX_KERNEL __launch_bounds__(BlockSize) void pointer_array_kernel(T* d_base, std::int64_t stride,
                                                                   std::int64_t count,
                                                                   T** __restrict__ d_ptrs) {
  for (std::int64_t k = std::int64_t{blockIdx.x} * BlockSize + threadIdx.x; k < count;
       k += std::int64_t{gridDim.x} * BlockSize)
    d_ptrs[k] = d_base + k * stride;
}

/// C_b = beta * C_b, writing exact zeros when beta == 0.
template <int BlockSize, class T>
DYNX_KERNEL __launch_bounds__(BlockSize) void scale_matrices_kernel(
    T* __restrict__ d_c, std::int64_t rows, std::int64_t cols, std::int64_t ld,
    std::int64_t stride, std::int64_t count, T beta) {
  const std::int64_t elems = rows * cols;
  for (std::int64_t b = blockIdx.y; b < count; b += gridDim.y) {
    T* c = d_c + b * stride;
    for (std::int64_t e = std::int64_t{blockIdx.x} * BlockSize + threadIdx.x; e < elems;
         e += std::int64_t{gridDim.x} * BlockSize) {
      T& x = c[(e / rows) * ld + e % rows];
      x = beta == T(0) ? T(0) : beta * x;
    }
  }
}

}  // namespace dynx::cuda::kernels
