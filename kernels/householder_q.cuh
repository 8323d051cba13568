#pragma once
// Thin Q (and R) from the compact Householder form that cublas<t>geqrfBatched leaves behind:
// reflector j is H_j = I - tau_j v_j v_jᵀ with v_j = [0 (j entries); 1; A(j+1:m, j)], and
// Q = H_0 H_1 ... H_{k-1} applied to the first k columns of the identity (LAPACK orgqr/org2r).
// One block per matrix, one warp per column of Q. Work is O(m k²) per matrix, aimed at the small
// and medium matrices of a batch; a large single matrix would be faster with cuSOLVER orgqr.

#include "kernels/common.cuh"

#include <cub/warp/warp_reduce.cuh>

#include <cstdint>

namespace dynx::cuda::kernels {

/// Forms Q_b (m × k, leading dimension ld_q) for each matrix b. Reflectors are applied backwards
/// (j = k-1 .. 0), as in LAPACK org2r: after applying H_j only columns j..k-1 of Q change, so each
/// step touches the trailing (m-j) × (k-j) block.
template <int BlockSize, class T>
DYNX_KERNEL __launch_bounds__(BlockSize) void householder_q_kernel(
    const T* __restrict__ d_qr, std::int64_t ld_qr, std::int64_t stride_qr,
    const T* __restrict__ d_tau, std::int64_t stride_tau, T* __restrict__ d_q, std::int64_t ld_q,
    std::int64_t stride_q, std::int64_t m, std::int64_t k, std::int64_t count) {
  static_assert(BlockSize % 32 == 0, "whole warps");
  constexpr int kWarps = BlockSize / 32;
  using WarpReduce = cub::WarpReduce<T>;
  __shared__ typename WarpReduce::TempStorage temp[kWarps];
  const int warp = static_cast<int>(threadIdx.x) / 32;
  const int lane = static_cast<int>(threadIdx.x) % 32;

  for (std::int64_t b = blockIdx.x; b < count; b += gridDim.x) {
    const T* qr = d_qr + b * stride_qr;
    const T* tau = d_tau + b * stride_tau;
    T* q = d_q + b * stride_q;
    for (std::int64_t e = threadIdx.x; e < m * k; e += BlockSize) {
      const std::int64_t i = e % m, j = e / m;
      q[j * ld_q + i] = i == j ? T(1) : T(0);
    }
    __syncthreads();
    for (std::int64_t j = k - 1; j >= 0; --j) {
      const T t = tau[j];
      const T* v = qr + j * ld_qr;  // v(j) = 1 implicitly, v(j+1:m) below the diagonal
      if (t != T(0)) {
        for (std::int64_t c = j + warp; c < k; c += kWarps) {  // warp-uniform loop
          T* qc = q + c * ld_q;
          T part = T(0);
          for (std::int64_t r = j + lane; r < m; r += 32) part += (r == j ? T(1) : v[r]) * qc[r];
          const T dot = __shfl_sync(0xffffffffu, WarpReduce(temp[warp]).Sum(part), 0);
          __syncwarp();  // temp[warp] is reused by this warp's next column
          const T s = t * dot;
          for (std::int64_t r = j + lane; r < m; r += 32) qc[r] -= s * (r == j ? T(1) : v[r]);
        }
      }
      __syncthreads();
    }
  }
}

/// R_b = the upper trapezoid of the first k rows of the factored matrix: R(i, j) = A(i, j) for
/// i <= j, 0 below the diagonal; R is k × n.
template <int BlockSize, class T>
DYNX_KERNEL __launch_bounds__(BlockSize) void upper_trapezoid_kernel(
    const T* __restrict__ d_qr, std::int64_t ld_qr, std::int64_t stride_qr, T* __restrict__ d_r,
    std::int64_t ld_r, std::int64_t stride_r, std::int64_t k, std::int64_t n, std::int64_t count) {
  const std::int64_t elems = k * n;
  for (std::int64_t b = blockIdx.y; b < count; b += gridDim.y) {
    const T* qr = d_qr + b * stride_qr;
    T* r = d_r + b * stride_r;
    for (std::int64_t e = std::int64_t{blockIdx.x} * BlockSize + threadIdx.x; e < elems;
         e += std::int64_t{gridDim.x} * BlockSize) {
      const std::int64_t i = e % k, j = e / k;
      r[j * ld_r + i] = i <= j ? qr[j * ld_qr + i] : T(0);
    }
  }
}

}  // namespace dynx::cuda::kernels
