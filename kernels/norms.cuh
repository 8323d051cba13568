#pragma once
// Per-matrix norms of a batch, one block per matrix with a CUB block reduction in double: the
// Frobenius norm (the scale of gesvda's residual) and ||G - I||_F of a Gram matrix G = QᵀQ (how far
// Q is from orthonormal columns).

#include "kernels/common.cuh"

#include <cub/block/block_reduce.cuh>

#include <cstdint>

namespace dynx::cuda::kernels {

/// d_norms[k] = ||A_k||_F, summed in double with a CUB block reduction.
template <int BlockSize, class T>
DYNX_KERNEL __launch_bounds__(BlockSize) void frobenius_norm_kernel(
    const T* __restrict__ d_a, std::int64_t rows, std::int64_t cols, std::int64_t ld,
    std::int64_t stride, std::int64_t count, double* __restrict__ d_norms) {
  using Reduce = cub::BlockReduce<double, BlockSize>;
  __shared__ typename Reduce::TempStorage temp;
  const std::int64_t elems = rows * cols;
  for (std::int64_t b = blockIdx.x; b < count; b += gridDim.x) {
    const T* a = d_a + b * stride;
    double sum = 0.0;
    for (std::int64_t e = threadIdx.x; e < elems; e += BlockSize) {
      const double x = static_cast<double>(a[(e / rows) * ld + e % rows]);
      sum += x * x;
    }
    const double total = Reduce(temp).Sum(sum);
    if (threadIdx.x == 0) d_norms[b] = sqrt(total);
    __syncthreads();  // temp is reused by the next matrix
  }
}

/// e_k = ||G_k - I||_F for k × k matrices G_k (leading dimension ld); d_err[b] = e_b, or
/// max(d_err[b], e_b) with `accumulate` (NaN propagates either way).
template <int BlockSize, class T>
DYNX_KERNEL __launch_bounds__(BlockSize) void orthogonality_error_kernel(
    const T* __restrict__ d_g, std::int64_t k, std::int64_t ld, std::int64_t stride,
    std::int64_t count, bool accumulate, double* __restrict__ d_err) {
  using Reduce = cub::BlockReduce<double, BlockSize>;
  __shared__ typename Reduce::TempStorage temp;
  const std::int64_t elems = k * k;
  for (std::int64_t b = blockIdx.x; b < count; b += gridDim.x) {
    const T* g = d_g + b * stride;
    double sum = 0.0;
    for (std::int64_t e = threadIdx.x; e < elems; e += BlockSize) {
      const std::int64_t i = e % k, j = e / k;
      const double x = static_cast<double>(g[j * ld + i]) - (i == j ? 1.0 : 0.0);
      sum += x * x;
    }
    const double total = Reduce(temp).Sum(sum);
    if (threadIdx.x == 0) {
      const double err = sqrt(total);
      if (!accumulate) {
        d_err[b] = err;
      } else {
        const double old = d_err[b];
        d_err[b] = (isnan(old) || old >= err) ? old : err;  // a NaN on either side wins
      }
    }
    __syncthreads();  // temp is reused by the next matrix
  }
}

}  // namespace dynx::cuda::kernels
