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

/// The L-BFGS two-loop recursion (see LbfgsArgs), one block per item; `alpha` in shared memory
/// (memory doubles, dynamic).
template <int BlockSize, class T>
DYNX_KERNEL __launch_bounds__(BlockSize) void lbfgs_direction_kernel(
    const T* __restrict__ d_g, std::int64_t ldg, std::int64_t sg, T* __restrict__ d_out,
    std::int64_t ldo, std::int64_t so, const T* __restrict__ d_s, std::int64_t lds,
    std::int64_t ss, const T* __restrict__ d_y, std::int64_t ldy, std::int64_t sy,
    const T* __restrict__ d_rho, const T* __restrict__ d_gamma, std::int64_t m, std::int64_t n,
    std::int64_t count, std::int64_t memory, std::int64_t newest) {
  using Reduce = cub::BlockReduce<double, BlockSize>;
  __shared__ typename Reduce::TempStorage temp;
  __shared__ double shared_dot;
  extern __shared__ double alpha[];
  const std::int64_t elems = m * n;
  for (std::int64_t k = blockIdx.x; k < count; k += gridDim.x) {
    T* q = d_out + k * so;
    for (std::int64_t e = threadIdx.x; e < elems; e += BlockSize)
      q[(e / m) * ldo + e % m] = d_g[k * sg + (e / m) * ldg + e % m];
    __syncthreads();
    for (std::int64_t i = 0; i < memory; ++i) {  // newest → oldest
      const std::int64_t j = ((newest - i) % memory + memory) % memory;
      const double r = static_cast<double>(d_rho[j * count + k]);
      if (r == 0.0) {
        if (threadIdx.x == 0) alpha[i] = 0.0;
        continue;
      }
      const T* s = d_s + (j * count + k) * ss;
      const T* y = d_y + (j * count + k) * sy;
      double part = 0.0;
      for (std::int64_t e = threadIdx.x; e < elems; e += BlockSize)
        part += static_cast<double>(s[(e / m) * lds + e % m]) *
                static_cast<double>(q[(e / m) * ldo + e % m]);
      const double total = Reduce(temp).Sum(part);
      if (threadIdx.x == 0) shared_dot = r * total;
      __syncthreads();
      const double a = shared_dot;
      if (threadIdx.x == 0) alpha[i] = a;
      for (std::int64_t e = threadIdx.x; e < elems; e += BlockSize)
        q[(e / m) * ldo + e % m] -= T(a) * y[(e / m) * ldy + e % m];
      __syncthreads();
    }
    const T gam = d_gamma[k];
    for (std::int64_t e = threadIdx.x; e < elems; e += BlockSize) q[(e / m) * ldo + e % m] *= gam;
    __syncthreads();
    for (std::int64_t i = memory - 1; i >= 0; --i) {  // oldest → newest
      const std::int64_t j = ((newest - i) % memory + memory) % memory;
      const double r = static_cast<double>(d_rho[j * count + k]);
      if (r == 0.0) continue;
      const T* s = d_s + (j * count + k) * ss;
      const T* y = d_y + (j * count + k) * sy;
      double part = 0.0;
      for (std::int64_t e = threadIdx.x; e < elems; e += BlockSize)
        part += static_cast<double>(y[(e / m) * ldy + e % m]) *
                static_cast<double>(q[(e / m) * ldo + e % m]);
      const double total = Reduce(temp).Sum(part);
      if (threadIdx.x == 0) shared_dot = alpha[i] - r * total;
      __syncthreads();
      const T c = T(shared_dot);
      for (std::int64_t e = threadIdx.x; e < elems; e += BlockSize)
        q[(e / m) * ldo + e % m] += c * s[(e / m) * lds + e % m];
      __syncthreads();
    }
  }
}

}  // namespace dynx::cuda::kernels
