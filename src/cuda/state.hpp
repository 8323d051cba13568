#pragma once
// Per-context CUDA state: the device, a non-blocking stream, cuBLAS and cuSOLVER handles bound to
// it, cached cuSOLVER workspace queries and Jacobi parameters, and lazily created host resources
// (pinned staging, a CPU Context) for the operations that offload to the host.

#include "core/backend.hpp"

#include <dynx/context.hpp>
#include <dynx/types.hpp>

#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <cusolverDn.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <tuple>

namespace dynx::cuda {

/// Makes `device` current for its lifetime and restores the previous device on destruction (which
/// never throws; a failed restore is logged). Every backend entry point holds one.
class DeviceGuard {
 public:
  explicit DeviceGuard(int device);
  ~DeviceGuard();
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int previous_ = -1;
};

/// Workspace sizes in bytes answered by a cuSOLVER `_bufferSize` query.
struct BufferSizes {
  std::size_t device = 0;
  std::size_t host = 0;
};

/// What a cached `_bufferSize` answer depends on: the routine, the scalar type and up to five
/// shape parameters or flags (all our solver inputs are packed, so ld = rows is implied).
struct BufferKey {
  std::string routine;
  Dtype dtype = Dtype::f64;
  std::int64_t p0 = 0, p1 = 0, p2 = 0, p3 = 0, p4 = 0;
  bool operator<(const BufferKey& o) const {
    return std::tie(routine, dtype, p0, p1, p2, p3, p4) <
           std::tie(o.routine, o.dtype, o.p0, o.p1, o.p2, o.p3, o.p4);
  }
};

/// Maximum Jacobi sweeps of gesvdj/gesvdjBatched/syevjBatched. The sweep bound is what keeps a
/// Jacobi solve from running forever on hard input; cuSOLVER's own default is also 100, and a
/// matrix that needs more is reported as not_converged.
inline constexpr int kJacobiMaxSweeps = 100;

class CudaState final : public detail::BackendState {
 public:
  explicit CudaState(int device);
  ~CudaState() override;
  CudaState(const CudaState&) = delete;
  CudaState& operator=(const CudaState&) = delete;

  void synchronize() override;
  void* native_stream() noexcept override { return stream_; }

  int device() const noexcept { return device_; }
  cudaStream_t stream() const noexcept { return stream_; }
  cublasHandle_t cublas() const noexcept { return cublas_; }
  cusolverDnHandle_t cusolver() const noexcept { return cusolver_; }
  /// Parameters of the 64-bit cuSOLVER API (Xsyevd, Xgeev): default algorithm.
  cusolverDnParams_t cusolver_params() const noexcept { return params_; }
  /// Jacobi parameters: default tolerance (machine epsilon of the routine's type),
  /// kJacobiMaxSweeps sweeps, sorted output. The same settings serve every shape and type, so one
  /// object of each kind per context is enough.
  gesvdjInfo_t gesvdj_params() const noexcept { return gesvdj_; }
  syevjInfo_t syevj_params() const noexcept { return syevj_; }

  /// The cached answer for `key`, calling `query()` (which returns BufferSizes) the first time.
  template <class Query>
  BufferSizes buffer_sizes(const BufferKey& key, Query&& query) {
    const auto it = buffer_cache_.find(key);
    if (it != buffer_cache_.end()) return it->second;
    const BufferSizes sizes = query();
    buffer_cache_.emplace(key, sizes);
    return sizes;
  }

  /// Pinned host memory of at least `bytes` for staging copies, valid until the next call.
  /// Growing waits for the stream first, since queued copies may still use the old block.
  void* pinned_staging(std::size_t bytes);
  /// Pinned host workspace for hybrid cuSOLVER routines (Xgeev, Xsyevd), same growth rule.
  void* pinned_solver(std::size_t bytes);
  /// A CPU Context for host offload, created on first use.
  Context& cpu_context();

 private:
  struct PinnedBlock {
    void* ptr = nullptr;
    std::size_t bytes = 0;
  };
  void* grow(PinnedBlock& block, std::size_t bytes);
  void release() noexcept;

  int device_ = 0;
  cudaStream_t stream_ = nullptr;
  cublasHandle_t cublas_ = nullptr;
  cusolverDnHandle_t cusolver_ = nullptr;
  cusolverDnParams_t params_ = nullptr;
  gesvdjInfo_t gesvdj_ = nullptr;
  syevjInfo_t syevj_ = nullptr;
  std::map<BufferKey, BufferSizes> buffer_cache_;
  PinnedBlock staging_;
  PinnedBlock solver_host_;
  std::unique_ptr<Context> cpu_context_;
};

/// The CUDA state of a CUDA context.
inline CudaState& state_of(Context& ctx) {
  return static_cast<CudaState&>(*ctx.impl().state);
}

/// A dimension for a 32-bit cuBLAS/cuSOLVER argument; InvalidArgument when it does not fit.
int to_int(std::int64_t value, const char* op, const char* what);

}  // namespace dynx::cuda
