#pragma once
// Launchers of the kernels that several CUDA operations share: finite checks, status mapping and
// NaN fill (defined in status.cu), batched copies and pointer arrays (defined in memory.cu). Every
// launcher enqueues on `stream`, checks the launch and returns; none synchronises.

#include <dynx/status.hpp>

#include <cuda_runtime_api.h>

#include <complex>
#include <cstdint>

namespace dynx::cuda {

/// Plain complex number with the layout of std::complex<T> (two T, real part first), usable in
/// device code. std::complex<T> arrays from the public API are reinterpreted as Complex<T>.
template <class T>
struct Complex {
  T re;
  T im;
};
static_assert(sizeof(Complex<double>) == sizeof(std::complex<double>), "layout of std::complex");
static_assert(sizeof(Complex<float>) == sizeof(std::complex<float>), "layout of std::complex");

template <class T>
Complex<T>* as_device_complex(std::complex<T>* p) noexcept {
  return reinterpret_cast<Complex<T>*>(p);
}

/// Which part of a matrix a finite check reads: all of it, or one triangle with the diagonal
/// (eigh reads only options.uplo).
enum class Region { full, lower, upper };

/// What a copy writes for matrix k instead of its data, depending on d_status[k]:
enum class FailFill {
  none,                ///< always copy (d_status may be null)
  zero_if_non_finite,  ///< zeros when the input was flagged non_finite (solver inputs)
  nan_if_failed,       ///< NaN when the matrix failed in any way (outputs)
};

// --- status.cu -----------------------------------------------------------------------------------

/// Sets d_status[k] = non_finite for each matrix holding NaN or Inf in `region`; other entries are
/// left as they are (so several checks can be combined).
template <class T>
void launch_finite_check(const T* d_a, std::int64_t rows, std::int64_t cols, std::int64_t ld,
                         std::int64_t stride, std::int64_t count, Region region,
                         std::int32_t* d_status, cudaStream_t stream);

/// For each k whose d_status[k] is ok and whose solver info is nonzero, sets d_status[k] = fail.
/// Matrices already flagged (non_finite) keep their code.
void launch_merge_solver_info(std::int32_t* d_status, const int* d_solver_info, std::int64_t count,
                              MatrixStatus fail, cudaStream_t stream);

/// Fills matrix k with NaN where d_status[k] != ok. E is float, double or Complex<float/double>.
template <class E>
void launch_fill_nan_matrices(E* d_a, std::int64_t rows, std::int64_t cols, std::int64_t ld,
                              std::int64_t stride, std::int64_t count, const std::int32_t* d_status,
                              cudaStream_t stream);

/// Fills vector k (element i at d_v[k * stride + i * inc]) with NaN where d_status[k] != ok.
template <class E>
void launch_fill_nan_vectors(E* d_v, std::int64_t size, std::int64_t stride, std::int64_t inc,
                             std::int64_t count, const std::int32_t* d_status, cudaStream_t stream);

/// d_norms[k] = Frobenius norm of matrix k, accumulated in double.
template <class T>
void launch_frobenius_norms(const T* d_a, std::int64_t rows, std::int64_t cols, std::int64_t ld,
                            std::int64_t stride, std::int64_t count, double* d_norms,
                            cudaStream_t stream);

// --- memory.cu -----------------------------------------------------------------------------------

/// Batched copy of rows × cols matrices: dst(i, j) = src(i, j), or src(j, i) when `transpose`
/// (src is then cols × rows), with `fill` deciding what failed matrices receive.
template <class E>
void launch_copy_matrices(const E* d_src, std::int64_t ld_src, std::int64_t stride_src,
                          bool transpose, E* d_dst, std::int64_t ld_dst, std::int64_t stride_dst,
                          std::int64_t rows, std::int64_t cols, std::int64_t count,
                          const std::int32_t* d_status, FailFill fill, cudaStream_t stream);

/// Batched copy of vectors of `size` elements with arbitrary strides and increments.
template <class E>
void launch_copy_vectors(const E* d_src, std::int64_t stride_src, std::int64_t inc_src, E* d_dst,
                         std::int64_t stride_dst, std::int64_t inc_dst, std::int64_t size,
                         std::int64_t count, const std::int32_t* d_status, FailFill fill,
                         cudaStream_t stream);

/// d_ptrs[k] = d_base + k * stride: the device pointer arrays cuBLAS batched routines take.
template <class T>
void launch_pointer_array(T* d_base, std::int64_t stride, std::int64_t count, T** d_ptrs,
                          cudaStream_t stream);

/// C_k = beta * C_k (C_k = 0 when beta == 0, so NaN in C is not propagated).
template <class T>
void launch_scale_matrices(T* d_c, std::int64_t rows, std::int64_t cols, std::int64_t ld,
                           std::int64_t stride, std::int64_t count, T beta, cudaStream_t stream);

}  // namespace dynx::cuda
