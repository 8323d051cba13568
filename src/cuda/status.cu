// Launchers of the per-matrix status kernels every CUDA operation shares: the finite check that
// runs before a solver, the mapping of solver info to MatrixStatus after it, NaN fill of failed
// matrices' outputs, and per-matrix Frobenius norms.

#include "cuda/check.hpp"
#include "cuda/launch.hpp"

#include "kernels/finite_check.cuh"
#include "kernels/norms.cuh"
#include "kernels/status.cuh"

namespace dynx::cuda {
namespace {

int region_code(Region region) {
  switch (region) {
    case Region::full: return kernels::kRegionFull;
    case Region::lower: return kernels::kRegionLower;
    case Region::upper: return kernels::kRegionUpper;
  }
  return kernels::kRegionFull;
}

}  // namespace

template <class T>
void launch_finite_check(const T* d_a, std::int64_t rows, std::int64_t cols, std::int64_t ld,
                         std::int64_t stride, std::int64_t count, Region region,
                         std::int32_t* d_status, cudaStream_t stream) {
  if (rows == 0 || cols == 0 || count == 0) return;
  constexpr int kBlock = kernels::kBlockSize;
  kernels::finite_check_kernel<kBlock, T><<<kernels::per_matrix_grid(count), kBlock, 0, stream>>>(
      d_a, rows, cols, ld, stride, count, region_code(region), d_status,
      static_cast<std::int32_t>(MatrixStatus::non_finite));
  DYNX_CUDA_LAUNCH_CHECK();
}

void launch_merge_solver_info(std::int32_t* d_status, const int* d_solver_info, std::int64_t count,
                              MatrixStatus fail, cudaStream_t stream) {
  if (count == 0) return;
  constexpr int kBlock = kernels::kBlockSize;
  const dim3 grid = kernels::batched_grid(count, 1);
  kernels::merge_solver_info_kernel<kBlock><<<grid.x, kBlock, 0, stream>>>(
      d_status, d_solver_info, count, static_cast<std::int32_t>(fail));
  DYNX_CUDA_LAUNCH_CHECK();
}

template <class E>
void launch_fill_nan_matrices(E* d_a, std::int64_t rows, std::int64_t cols, std::int64_t ld,
                              std::int64_t stride, std::int64_t count, const std::int32_t* d_status,
                              cudaStream_t stream) {
  if (!d_a || rows == 0 || cols == 0 || count == 0) return;
  constexpr int kBlock = kernels::kBlockSize;
  kernels::fill_nan_matrices_kernel<kBlock, E>
      <<<kernels::batched_grid(rows * cols, count), kBlock, 0, stream>>>(d_a, rows, cols, ld,
                                                                         stride, count, d_status);
  DYNX_CUDA_LAUNCH_CHECK();
}

template <class E>
void launch_fill_nan_vectors(E* d_v, std::int64_t size, std::int64_t stride, std::int64_t inc,
                             std::int64_t count, const std::int32_t* d_status,
                             cudaStream_t stream) {
  if (!d_v || size == 0 || count == 0) return;
  constexpr int kBlock = kernels::kBlockSize;
  kernels::fill_nan_vectors_kernel<kBlock, E>
      <<<kernels::batched_grid(size, count), kBlock, 0, stream>>>(d_v, size, stride, inc, count,
                                                                  d_status);
  DYNX_CUDA_LAUNCH_CHECK();
}

template <class T>
void launch_frobenius_norms(const T* d_a, std::int64_t rows, std::int64_t cols, std::int64_t ld,
                            std::int64_t stride, std::int64_t count, double* d_norms,
                            cudaStream_t stream) {
  if (count == 0) return;
  constexpr int kBlock = kernels::kBlockSize;
  kernels::frobenius_norm_kernel<kBlock, T>
      <<<kernels::per_matrix_grid(count), kBlock, 0, stream>>>(d_a, rows, cols, ld, stride, count,
                                                               d_norms);
  DYNX_CUDA_LAUNCH_CHECK();
}

#define DYNX_INSTANTIATE_REAL(T)                                                                 \
  template void launch_finite_check<T>(const T*, std::int64_t, std::int64_t, std::int64_t,       \
                                       std::int64_t, std::int64_t, Region, std::int32_t*,        \
                                       cudaStream_t);                                            \
  template void launch_frobenius_norms<T>(const T*, std::int64_t, std::int64_t, std::int64_t,    \
                                          std::int64_t, std::int64_t, double*, cudaStream_t);
DYNX_INSTANTIATE_REAL(float)
DYNX_INSTANTIATE_REAL(double)
#undef DYNX_INSTANTIATE_REAL

#define DYNX_INSTANTIATE_FILL(E)                                                                 \
  template void launch_fill_nan_matrices<E>(E*, std::int64_t, std::int64_t, std::int64_t,        \
                                            std::int64_t, std::int64_t, const std::int32_t*,     \
                                            cudaStream_t);                                       \
  template void launch_fill_nan_vectors<E>(E*, std::int64_t, std::int64_t, std::int64_t,        \
                                           std::int64_t, const std::int32_t*, cudaStream_t);
DYNX_INSTANTIATE_FILL(float)
DYNX_INSTANTIATE_FILL(double)
DYNX_INSTANTIATE_FILL(Complex<float>)
DYNX_INSTANTIATE_FILL(Complex<double>)
#undef DYNX_INSTANTIATE_FILL

}  // namespace dynx::cuda
