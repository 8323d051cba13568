#pragma once
// Real geev output to complex form. cusolverDnXgeev with real types returns W as 2n reals (real
// parts, then imaginary parts) and VR in LAPACK's packed real format: for a conjugate pair
// (λ_j, λ_{j+1} = conj λ_j, Im λ_j > 0) column j holds the real part and column j+1 the imaginary
// part of v_j, and v_{j+1} = conj v_j. Vectors already have unit 2-norm and largest component real.

#include "kernels/common.cuh"

#include <cstdint>

namespace dynx::cuda::kernels {

/// For each matrix b: w[i] = (wr[i], wi[i]) and, when d_v is not null, the complex eigenvectors
/// as columns of v (n × n, leading dimension ld_v). Matrices with d_status[b] != 0 get NaN.
template <int BlockSize, class T, class C>
DYNX_KERNEL __launch_bounds__(BlockSize) void unpack_geev_kernel(
    const T* __restrict__ d_wri, std::int64_t stride_wri, const T* __restrict__ d_vr,
    std::int64_t stride_vr, std::int64_t n, std::int64_t count, C* __restrict__ d_w,
    std::int64_t stride_w, std::int64_t inc_w, C* __restrict__ d_v, std::int64_t ld_v,
    std::int64_t stride_v, const std::int32_t* __restrict__ d_status) {
  const std::int64_t elems = n + (d_v ? n * n : 0);
  for (std::int64_t b = blockIdx.y; b < count; b += gridDim.y) {
    const bool failed = d_status[b] != 0;
    const T* wr = d_wri + b * stride_wri;
    const T* wi = wr + n;
    const T* vr = d_vr + b * stride_vr;
    for (std::int64_t e = std::int64_t{blockIdx.x} * BlockSize + threadIdx.x; e < elems;
         e += std::int64_t{gridDim.x} * BlockSize) {
      C out;
      if (e < n) {
        if (failed) {
          out = NanOf<C>::value();
        } else {
          out.re = wr[e];
          out.im = wi[e];
        }
        d_w[b * stride_w + e * inc_w] = out;
        continue;
      }
      const std::int64_t f = e - n, r = f % n, j = f / n;
      if (failed) {
        out = NanOf<C>::value();
      } else if (wi[j] == T(0)) {
        out.re = vr[j * n + r];
        out.im = T(0);
      } else if (wi[j] > T(0)) {  // first of a pair: v_j = re + i im
        out.re = vr[j * n + r];
        out.im = vr[(j + 1) * n + r];
      } else {  // second of a pair: v_j = conj v_{j-1}
        out.re = vr[(j - 1) * n + r];
        out.im = -vr[j * n + r];
      }
      d_v[b * stride_v + j * ld_v + r] = out;
    }
  }
}

}  // namespace dynx::cuda::kernels
