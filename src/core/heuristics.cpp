#include "core/heuristics.hpp"

#include "core/check.hpp"

namespace dynx::detail {

SvdAlgorithm choose_svd_algorithm(DeviceKind device, std::int64_t m, std::int64_t n,
                                  std::int64_t count, Dtype /*dtype*/) {
  if (device == DeviceKind::cpu) return SvdAlgorithm::divide_and_conquer;
  if (m <= kJacobiBatchedMaxDim && n <= kJacobiBatchedMaxDim) return SvdAlgorithm::jacobi_batched;
  if (count >= kGramBatchedMinCount) return SvdAlgorithm::gram_batched;
  return SvdAlgorithm::jacobi_each;
}

void check_svd_algorithm(SvdAlgorithm algo, DeviceKind device, std::int64_t m, std::int64_t n) {
  const bool cpu = device == DeviceKind::cpu;
  switch (algo) {
    case SvdAlgorithm::automatic: return;
    case SvdAlgorithm::divide_and_conquer:
    case SvdAlgorithm::qr_iteration:
      DYNX_EXPECTS(cpu, "svd: divide_and_conquer and qr_iteration are CPU algorithms; "
                        "use automatic, jacobi_batched, gram_batched or jacobi_each on CUDA");
      return;
    case SvdAlgorithm::jacobi_batched:
      DYNX_EXPECTS(!cpu, "svd: jacobi_batched is a CUDA algorithm");
      DYNX_EXPECTS(m <= kJacobiBatchedMaxDim && n <= kJacobiBatchedMaxDim,
                   fmt::format("svd: jacobi_batched needs m,n <= {}, got {}", kJacobiBatchedMaxDim,
                               shape_str(m, n)));
      return;
    case SvdAlgorithm::gram_batched:
    case SvdAlgorithm::jacobi_each:
      DYNX_EXPECTS(!cpu, "svd: gram_batched and jacobi_each are CUDA algorithms");
      return;
  }
  DYNX_EXPECTS(false, "svd: unknown SvdAlgorithm value");
}

EighCudaAlgorithm choose_eigh_cuda_algorithm(std::int64_t n, std::int64_t /*count*/) {
  return n <= kJacobiBatchedMaxDim ? EighCudaAlgorithm::jacobi_batched : EighCudaAlgorithm::syevd_each;
}

EigCudaStrategy choose_eig_cuda_strategy(std::int64_t n, std::int64_t count) {
  return (n >= kXgeevMinDim && count <= 4) ? EigCudaStrategy::xgeev_each : EigCudaStrategy::host_offload;
}

bool parallel_over_batch(std::int64_t count, int threads, double flops_per_matrix) {
  return threads > 1 && count >= threads && double(count) * flops_per_matrix >= kMinParallelFlops;
}

}  // namespace dynx::detail
