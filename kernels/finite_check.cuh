#pragma once
// NaN/Inf detection over a batch: flags a matrix non_finite before a solver sees it. One block per
// matrix.

#include "kernels/common.cuh"

#include <cstdint>

namespace dynx::cuda::kernels {

/// Which entries of an n × n matrix a finite check reads (0: all, 1: lower, 2: upper triangle).
enum FiniteRegion : int { kRegionFull = 0, kRegionLower = 1, kRegionUpper = 2 };

/// d_status[k] = non_finite (3) when matrix k has a NaN or Inf in the region; otherwise untouched.
template <int BlockSize, class T>
DYNX_KERNEL __launch_bounds__(BlockSize) void finite_check_kernel(
    const T* __restrict__ d_a, std::int64_t rows, std::int64_t cols, std::int64_t ld,
    std::int64_t stride, std::int64_t count, int region, std::int32_t* __restrict__ d_status,
    std::int32_t non_finite_code) {
  const std::int64_t elems = rows * cols;
  for (std::int64_t b = blockIdx.x; b < count; b += gridDim.x) {
    const T* a = d_a + b * stride;
    int bad = 0;
    for (std::int64_t e = threadIdx.x; e < elems && !bad; e += BlockSize) {
      const std::int64_t i = e % rows, j = e / rows;
      const bool inside = region == kRegionFull || (region == kRegionLower ? i >= j : i <= j);
      if (inside && !finite(a[j * ld + i])) bad = 1;
    }
    bad = __syncthreads_or(bad);
    if (bad && threadIdx.x == 0) d_status[b] = non_finite_code;
  }
}

}  // namespace dynx::cuda::kernels
