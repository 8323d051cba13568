#pragma once
// Element-wise and gather kernels of the DSA pipeline (see the Args structs in core/backend.hpp):
// delay-embedding rows, per-matrix Frobenius inner products (one block per matrix, CUB reduction
// in double), scaled sums with per-matrix scalars, and Adam steps. Batched element loops use
// blockIdx.y for the batch and a grid-stride loop over the elements, as in batch_copy.cuh.

#include "kernels/common.cuh"

#include <cub/block/block_reduce.cuh>

#include <cstdint>

namespace dynx::cuda::kernels {

template <int BlockSize, class T>
DYNX_KERNEL __launch_bounds__(BlockSize) void hankel_rows_kernel(
    const T* __restrict__ d_data, std::int64_t n, std::int64_t d, std::int64_t tau,
    const std::int64_t* __restrict__ d_starts, std::int64_t rows, std::int64_t count,
    T* __restrict__ d_out, std::int64_t ld, std::int64_t stride) {
  const std::int64_t elems = rows * n * d;
  for (std::int64_t k = blockIdx.y; k < count; k += gridDim.y) {
    const std::int64_t* starts = d_starts + k * rows;
    T* out = d_out + k * stride;
    for (std::int64_t e = std::int64_t{blockIdx.x} * BlockSize + threadIdx.x; e < elems;
         e += std::int64_t{gridDim.x} * BlockSize) {
      const std::int64_t i = e % rows, col = e / rows;  // consecutive threads: consecutive rows
      const std::int64_t b = col / n, f = col % n;
      const std::int64_t s = starts[i];
      out[col * ld + i] = s < 0 ? T(0) : d_data[(s + (d - 1 - b) * tau) * n + f];
    }
  }
}

template <int BlockSize, class T>
DYNX_KERNEL __launch_bounds__(BlockSize) void dot_kernel(
    const T* __restrict__ d_a, std::int64_t lda, std::int64_t stride_a,
    const T* __restrict__ d_b, std::int64_t ldb, std::int64_t stride_b, std::int64_t m,
    std::int64_t n, std::int64_t count, T* __restrict__ d_out) {
  using Reduce = cub::BlockReduce<double, BlockSize>;
  __shared__ typename Reduce::TempStorage temp;
  const std::int64_t elems = m * n;
  for (std::int64_t k = blockIdx.x; k < count; k += gridDim.x) {
    const T* a = d_a + k * stride_a;
    const T* b = d_b + k * stride_b;
    double sum = 0.0;
    for (std::int64_t e = threadIdx.x; e < elems; e += BlockSize) {
      const std::int64_t i = e % m, j = e / m;
      sum += static_cast<double>(a[j * lda + i]) * static_cast<double>(b[j * ldb + i]);
    }
    const double total = Reduce(temp).Sum(sum);
    if (threadIdx.x == 0) d_out[k] = static_cast<T>(total);
    __syncthreads();  // temp is reused by the next matrix
  }
}

template <int BlockSize, class T>
DYNX_KERNEL __launch_bounds__(BlockSize) void axpby_kernel(
    const T* __restrict__ d_alpha, const T* __restrict__ d_beta, bool transpose_a,
    const T* __restrict__ d_a, std::int64_t lda, std::int64_t stride_a, T* __restrict__ d_c,
    std::int64_t ldc, std::int64_t stride_c, std::int64_t m, std::int64_t n, std::int64_t count) {
  const std::int64_t elems = m * n;
  for (std::int64_t k = blockIdx.y; k < count; k += gridDim.y) {
    const T* a = d_a + k * stride_a;
    T* c = d_c + k * stride_c;
    const T al = d_alpha[k], be = d_beta[k];
    for (std::int64_t e = std::int64_t{blockIdx.x} * BlockSize + threadIdx.x; e < elems;
         e += std::int64_t{gridDim.x} * BlockSize) {
      const std::int64_t i = e % m, j = e / m;
      const T x = al == T(0) ? T(0) : al * (transpose_a ? a[i * lda + j] : a[j * lda + i]);
      T& y = c[j * ldc + i];
      y = be == T(0) ? x : x + be * y;
    }
  }
}

template <int BlockSize, class T>
DYNX_KERNEL __launch_bounds__(BlockSize) void adam_kernel(
    T* __restrict__ d_p, std::int64_t ldp, std::int64_t sp, const T* __restrict__ d_g,
    std::int64_t ldg, std::int64_t sg, T* __restrict__ d_m1, std::int64_t ld1, std::int64_t s1,
    T* __restrict__ d_m2, std::int64_t ld2, std::int64_t s2, std::int64_t m, std::int64_t n,
    std::int64_t count, double lr, double beta1, double beta2, double eps, double c1, double c2) {
  const std::int64_t elems = m * n;
  for (std::int64_t k = blockIdx.y; k < count; k += gridDim.y) {
    for (std::int64_t e = std::int64_t{blockIdx.x} * BlockSize + threadIdx.x; e < elems;
         e += std::int64_t{gridDim.x} * BlockSize) {
      const std::int64_t i = e % m, j = e / m;
      const T g = d_g[k * sg + j * ldg + i];
      T& mm = d_m1[k * s1 + j * ld1 + i];
      T& vv = d_m2[k * s2 + j * ld2 + i];
      mm = T(beta1) * mm + T(1 - beta1) * g;
      vv = T(beta2) * vv + T(1 - beta2) * g * g;
      const double mhat = double(mm) / c1, vhat = double(vv) / c2;
      d_p[k * sp + j * ldp + i] -= T(lr * mhat / (sqrt(vhat) + eps));
    }
  }
}

}  // namespace dynx::cuda::kernels
