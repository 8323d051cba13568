// Per-context CUDA state (stream, handles, caches, host staging) and the error reporting behind
// the DYNX_CUDA_CHECK / DYNX_CUBLAS_CHECK / DYNX_CUSOLVER_CHECK macros.

#include "cuda/check.hpp"
#include "cuda/state.hpp"

#include "core/check.hpp"
#include "core/log.hpp"

#include <dynx/error.hpp>

#include <fmt/format.h>

#include <climits>

namespace dynx::cuda {
using detail::base_name;

// --- errors --------------------------------------------------------------------------------------

void throw_cuda_error(cudaError_t code, const char* expr, const char* file, int line) {
  throw CudaError(static_cast<int>(code),
                  fmt::format("dynx: CUDA error {} ({}) in `{}` at {}:{}", cudaGetErrorName(code),
                              cudaGetErrorString(code), expr, base_name(file), line));
}

void throw_cublas_error(cublasStatus_t code, const char* expr, const char* file, int line) {
  throw CublasError(static_cast<int>(code),
                    fmt::format("dynx: cuBLAS error {} ({}) in `{}` at {}:{}",
                                cublasGetStatusName(code), cublasGetStatusString(code), expr,
                                base_name(file), line));
}

void throw_cusolver_error(cusolverStatus_t code, const char* expr, const char* file, int line) {
  throw CusolverError(static_cast<int>(code),
                      fmt::format("dynx: cuSOLVER error {} in `{}` at {}:{}",
                                  cusolver_status_name(code), expr, base_name(file), line));
}

const char* cusolver_status_name(cusolverStatus_t code) noexcept {
  switch (code) {
    case CUSOLVER_STATUS_SUCCESS: return "CUSOLVER_STATUS_SUCCESS";
    case CUSOLVER_STATUS_NOT_INITIALIZED: return "CUSOLVER_STATUS_NOT_INITIALIZED";
    case CUSOLVER_STATUS_ALLOC_FAILED: return "CUSOLVER_STATUS_ALLOC_FAILED";
    case CUSOLVER_STATUS_INVALID_VALUE: return "CUSOLVER_STATUS_INVALID_VALUE";
    case CUSOLVER_STATUS_ARCH_MISMATCH: return "CUSOLVER_STATUS_ARCH_MISMATCH";
    case CUSOLVER_STATUS_MAPPING_ERROR: return "CUSOLVER_STATUS_MAPPING_ERROR";
    case CUSOLVER_STATUS_EXECUTION_FAILED: return "CUSOLVER_STATUS_EXECUTION_FAILED";
    case CUSOLVER_STATUS_INTERNAL_ERROR: return "CUSOLVER_STATUS_INTERNAL_ERROR";
    case CUSOLVER_STATUS_MATRIX_TYPE_NOT_SUPPORTED:
      return "CUSOLVER_STATUS_MATRIX_TYPE_NOT_SUPPORTED";
    case CUSOLVER_STATUS_NOT_SUPPORTED: return "CUSOLVER_STATUS_NOT_SUPPORTED";
    case CUSOLVER_STATUS_ZERO_PIVOT: return "CUSOLVER_STATUS_ZERO_PIVOT";
    case CUSOLVER_STATUS_INVALID_LICENSE: return "CUSOLVER_STATUS_INVALID_LICENSE";
    case CUSOLVER_STATUS_INVALID_WORKSPACE: return "CUSOLVER_STATUS_INVALID_WORKSPACE";
    default: return "CUSOLVER_STATUS_(unknown)";
  }
}

int to_int(std::int64_t value, const char* op, const char* what) {
  DYNX_EXPECTS(value >= 0 && value <= INT_MAX,
               fmt::format("{}: {} = {} exceeds the 32-bit limit of cuBLAS/cuSOLVER", op, what,
                           value));
  return static_cast<int>(value);
}

// --- device guard --------------------------------------------------------------------------------

DeviceGuard::DeviceGuard(int device) {
  DYNX_CUDA_CHECK(cudaGetDevice(&previous_));
  if (previous_ != device) DYNX_CUDA_CHECK(cudaSetDevice(device));
}

DeviceGuard::~DeviceGuard() {
  int current = -1;
  if (cudaGetDevice(&current) == cudaSuccess && current == previous_) return;
  const cudaError_t err = cudaSetDevice(previous_);
  if (err != cudaSuccess)
    detail::log().error("cuda: restoring device {} failed: {}", previous_, cudaGetErrorString(err));
}

// --- state ---------------------------------------------------------------------------------------

CudaState::CudaState(int device) : device_(device) {
  DeviceGuard guard(device_);
  try {
    // Non-blocking: the context's work does not serialise with the legacy default stream.
    DYNX_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    DYNX_CUBLAS_CHECK(cublasCreate(&cublas_));
    DYNX_CUBLAS_CHECK(cublasSetStream(cublas_, stream_));
    DYNX_CUSOLVER_CHECK(cusolverDnCreate(&cusolver_));
    DYNX_CUSOLVER_CHECK(cusolverDnSetStream(cusolver_, stream_));
    DYNX_CUSOLVER_CHECK(cusolverDnCreateParams(&params_));
    DYNX_CUSOLVER_CHECK(cusolverDnCreateGesvdjInfo(&gesvdj_));
    DYNX_CUSOLVER_CHECK(cusolverDnXgesvdjSetMaxSweeps(gesvdj_, kJacobiMaxSweeps));
    DYNX_CUSOLVER_CHECK(cusolverDnXgesvdjSetSortEig(gesvdj_, 1));  // descending values
    DYNX_CUSOLVER_CHECK(cusolverDnCreateSyevjInfo(&syevj_));
    DYNX_CUSOLVER_CHECK(cusolverDnXsyevjSetMaxSweeps(syevj_, kJacobiMaxSweeps));
    DYNX_CUSOLVER_CHECK(cusolverDnXsyevjSetSortEig(syevj_, 1));  // ascending values
  } catch (...) {
    release();
    throw;
  }
  detail::log().debug("cuda: context state on device {} created", device_);
}

CudaState::~CudaState() { release(); }

void CudaState::release() noexcept {
  try {
    DeviceGuard guard(device_);
    if (stream_) {
      const cudaError_t err = cudaStreamSynchronize(stream_);
      if (err != cudaSuccess)
        detail::log().error("cuda: synchronising the stream at context teardown failed: {}",
                            cudaGetErrorString(err));
    }
    cpu_context_.reset();
    for (PinnedBlock* block : {&staging_, &solver_host_}) {
      if (block->ptr && cudaFreeHost(block->ptr) != cudaSuccess)
        detail::log().error("cuda: cudaFreeHost failed at context teardown");
      *block = PinnedBlock{};
    }
    if (syevj_ && cusolverDnDestroySyevjInfo(syevj_) != CUSOLVER_STATUS_SUCCESS)
      detail::log().error("cuda: cusolverDnDestroySyevjInfo failed");
    if (gesvdj_ && cusolverDnDestroyGesvdjInfo(gesvdj_) != CUSOLVER_STATUS_SUCCESS)
      detail::log().error("cuda: cusolverDnDestroyGesvdjInfo failed");
    if (params_ && cusolverDnDestroyParams(params_) != CUSOLVER_STATUS_SUCCESS)
      detail::log().error("cuda: cusolverDnDestroyParams failed");
    if (cusolver_ && cusolverDnDestroy(cusolver_) != CUSOLVER_STATUS_SUCCESS)
      detail::log().error("cuda: cusolverDnDestroy failed");
    if (cublas_ && cublasDestroy(cublas_) != CUBLAS_STATUS_SUCCESS)
      detail::log().error("cuda: cublasDestroy failed");
    if (stream_ && cudaStreamDestroy(stream_) != cudaSuccess)
      detail::log().error("cuda: cudaStreamDestroy failed");
  } catch (const std::exception& e) {
    detail::log().error("cuda: releasing the context state on device {} failed: {}", device_,
                        e.what());
  } catch (...) {
    detail::log().error("cuda: releasing the context state on device {} failed", device_);
  }
  syevj_ = nullptr;
  gesvdj_ = nullptr;
  params_ = nullptr;
  cusolver_ = nullptr;
  cublas_ = nullptr;
  stream_ = nullptr;
}

void CudaState::synchronize() {
  DeviceGuard guard(device_);
  DYNX_CUDA_CHECK(cudaStreamSynchronize(stream_));
}

void* CudaState::grow(PinnedBlock& block, std::size_t bytes) {
  if (bytes <= block.bytes) return block.ptr;
  DeviceGuard guard(device_);
  if (block.ptr) {
    DYNX_CUDA_CHECK(cudaStreamSynchronize(stream_));  // queued copies may still read the block
    DYNX_CUDA_CHECK(cudaFreeHost(block.ptr));
    block = PinnedBlock{};
  }
  std::size_t grown = bytes + bytes / 2;
  grown = (grown + 4095) / 4096 * 4096;
  DYNX_CUDA_CHECK(cudaMallocHost(&block.ptr, grown));
  block.bytes = grown;
  detail::log().debug("cuda: pinned host block grown to {} bytes", grown);
  return block.ptr;
}

void* CudaState::pinned_staging(std::size_t bytes) { return grow(staging_, bytes); }

void* CudaState::pinned_solver(std::size_t bytes) { return grow(solver_host_, bytes); }

Context& CudaState::cpu_context() {
  if (!cpu_context_) cpu_context_ = std::make_unique<Context>(Device::cpu());
  return *cpu_context_;
}

}  // namespace dynx::cuda
