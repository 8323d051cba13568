#pragma once
// Error checks for CUDA runtime, cuBLAS and cuSOLVER calls. Each macro throws the matching
// dynx::Error subclass with the library's error name, the failed expression and file:line.

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cusolverDn.h>

namespace dynx::cuda {

[[noreturn]] void throw_cuda_error(cudaError_t code, const char* expr, const char* file, int line);
[[noreturn]] void throw_cublas_error(cublasStatus_t code, const char* expr, const char* file,
                                     int line);
[[noreturn]] void throw_cusolver_error(cusolverStatus_t code, const char* expr, const char* file,
                                       int line);

/// "CUSOLVER_STATUS_INVALID_VALUE" and so on; cuSOLVER has no name function of its own.
const char* cusolver_status_name(cusolverStatus_t code) noexcept;

}  // namespace dynx::cuda

/// Throws dynx::CudaError when the CUDA runtime call `expr` does not return cudaSuccess.
#define DYNX_CUDA_CHECK(expr)                                                      \
  do {                                                                             \
    const cudaError_t dynx_cuda_status_ = (expr);                                  \
    if (dynx_cuda_status_ != cudaSuccess)                                          \
      ::dynx::cuda::throw_cuda_error(dynx_cuda_status_, #expr, __FILE__, __LINE__); \
  } while (0)

/// Throws dynx::CublasError when the cuBLAS call `expr` does not return CUBLAS_STATUS_SUCCESS.
#define DYNX_CUBLAS_CHECK(expr)                                                        \
  do {                                                                                 \
    const cublasStatus_t dynx_cublas_status_ = (expr);                                 \
    if (dynx_cublas_status_ != CUBLAS_STATUS_SUCCESS)                                  \
      ::dynx::cuda::throw_cublas_error(dynx_cublas_status_, #expr, __FILE__, __LINE__); \
  } while (0)

/// Throws dynx::CusolverError when the cuSOLVER call `expr` does not return
/// CUSOLVER_STATUS_SUCCESS.
#define DYNX_CUSOLVER_CHECK(expr)                                                          \
  do {                                                                                     \
    const cusolverStatus_t dynx_cusolver_status_ = (expr);                                 \
    if (dynx_cusolver_status_ != CUSOLVER_STATUS_SUCCESS)                                  \
      ::dynx::cuda::throw_cusolver_error(dynx_cusolver_status_, #expr, __FILE__, __LINE__); \
  } while (0)

/// After every kernel launch: reports launch errors; with DYNX_SYNC_CHECK also waits for the kernel
/// so that an asynchronous fault is attributed to the launch that caused it.
#ifdef DYNX_SYNC_CHECK
#  define DYNX_CUDA_LAUNCH_CHECK()                \
    do {                                          \
      DYNX_CUDA_CHECK(cudaGetLastError());        \
      DYNX_CUDA_CHECK(cudaDeviceSynchronize());   \
    } while (0)
#else
#  define DYNX_CUDA_LAUNCH_CHECK() DYNX_CUDA_CHECK(cudaGetLastError())
#endif
