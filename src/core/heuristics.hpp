#pragma once
// Dispatch heuristics: pure functions of shape and device, tested on the host
// (tests/unit/test_heuristics.cpp).

#include <dynx/device.hpp>
#include <dynx/linalg.hpp>
#include <dynx/types.hpp>

#include <cstdint>

namespace dynx::detail {

/// cusolver gesvdjBatched / syevjBatched handle matrices up to 32×32 only.
inline constexpr std::int64_t kJacobiBatchedMaxDim = 32;

/// The SVD algorithm `automatic` resolves to. CPU: divide and conquer (gesdd). CUDA: batched
/// Jacobi when m,n ≤ 32; beyond, gesvdaStridedBatched for batches of at least
/// kGramBatchedMinCount (with a residual check that redoes inaccurate matrices by per-matrix
/// Jacobi), per-matrix Jacobi for smaller batches.
SvdAlgorithm choose_svd_algorithm(DeviceKind device, std::int64_t m, std::int64_t n,
                                  std::int64_t count, Dtype dtype);
inline constexpr std::int64_t kGramBatchedMinCount = 16;

/// Throws InvalidArgument when `algo` cannot run on this device and shape.
void check_svd_algorithm(SvdAlgorithm algo, DeviceKind device, std::int64_t m, std::int64_t n);

/// CUDA symmetric eigensolver: syevjBatched for n ≤ 32, otherwise syevd per matrix.
enum class EighCudaAlgorithm { jacobi_batched, syevd_each };
EighCudaAlgorithm choose_eigh_cuda_algorithm(std::int64_t n, std::int64_t count);

/// CUDA general eigensolver strategy. cusolverDnXgeev has no batched form and is a hybrid
/// (Hessenberg reduction on the GPU, QR iterations partly on the host), so for the small matrices
/// DSA produces (n ≤ a few hundred) many per-matrix calls cost more in launches and
/// synchronisations than copying the batch to the host and running LAPACK geev there with OpenMP
/// over the batch. Large single matrices go to Xgeev.
enum class EigCudaStrategy { host_offload, xgeev_each };
EigCudaStrategy choose_eig_cuda_strategy(std::int64_t n, std::int64_t count);
inline constexpr std::int64_t kXgeevMinDim = 512;

/// CPU batch loops run in parallel over matrices (single-threaded BLAS inside) when there are at
/// least as many matrices as threads and the batch is worth a fork/join (about
/// kMinParallelFlops operations in all: below that, waking the thread team costs more than it
/// saves, and an iterative solver calling many tiny batched ops would be slowed down several
/// times); otherwise one matrix at a time with BLAS/LAPACK threaded.
inline constexpr double kMinParallelFlops = 200000.0;
bool parallel_over_batch(std::int64_t count, int threads, double flops_per_matrix);

}  // namespace dynx::detail
