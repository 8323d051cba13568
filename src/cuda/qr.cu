// Batched thin QR on CUDA: cublas<t>geqrfBatched factors the whole batch (Householder, in place on
// a packed copy), then our kernels (kernels/householder_q.cuh) extract R and form the thin Q by
// applying the reflectors to the identity.
//
// Limits: geqrfBatched takes 32-bit m, n and batch size and is meant for many small matrices
// (cuBLAS docs, "cublas<t>geqrfBatched()"); the Q kernel uses one block per matrix and does
// O(m·k²) work, so very large single matrices are slow but correct.

#include "cuda/check.hpp"
#include "cuda/cuda.hpp"
#include "cuda/launch.hpp"
#include "cuda/vendor.hpp"

#include "core/log.hpp"

#include "kernels/householder_q.cuh"

#include <algorithm>

namespace dynx::cuda {
namespace {

// Threads per block of the Q kernel: 8 warps, each working on its own columns of Q.
constexpr int kQBlockSize = 256;

template <class T>
void launch_upper_trapezoid(const T* d_qr, std::int64_t ld_qr, std::int64_t stride_qr, T* d_r,
                            std::int64_t ld_r, std::int64_t stride_r, std::int64_t k,
                            std::int64_t n, std::int64_t count, cudaStream_t stream) {
  constexpr int kBlock = kernels::kBlockSize;
  kernels::upper_trapezoid_kernel<kBlock, T>
      <<<kernels::batched_grid(k * n, count), kBlock, 0, stream>>>(d_qr, ld_qr, stride_qr, d_r,
                                                                   ld_r, stride_r, k, n, count);
  DYNX_CUDA_LAUNCH_CHECK();
}

template <class T>
void launch_householder_q(const T* d_qr, std::int64_t ld_qr, std::int64_t stride_qr,
                          const T* d_tau, std::int64_t stride_tau, T* d_q, std::int64_t ld_q,
                          std::int64_t stride_q, std::int64_t m, std::int64_t k,
                          std::int64_t count, cudaStream_t stream) {
  kernels::householder_q_kernel<kQBlockSize, T>
      <<<kernels::per_matrix_grid(count), kQBlockSize, 0, stream>>>(
          d_qr, ld_qr, stride_qr, d_tau, stride_tau, d_q, ld_q, stride_q, m, k, count);
  DYNX_CUDA_LAUNCH_CHECK();
}

}  // namespace

template <class T>
void qr(Context& ctx, const detail::QrArgs& g) {
  constexpr const char* op = "qr_batched";
  CudaState& st = state_of(ctx);
  cudaStream_t stream = st.stream();
  const std::int64_t m = g.m, n = g.n, k = std::min(m, n), count = g.count;
  const int mi = to_int(m, op, "m"), ni = to_int(n, op, "n"), batch = to_int(count, op, "count");
  const bool want_q = !g.q.empty();
  detail::log().debug("cuda qr: {} x {}x{} {} -> geqrfBatched{}", count, m, n,
                      dtype_name(g.dtype), want_q ? " + householder_q" : "");

  detail::WorkspaceLayout layout;
  const auto off_a = layout.add<T>(static_cast<std::size_t>(m * n * count));
  const auto off_tau = layout.add<T>(static_cast<std::size_t>(k * count));
  const auto off_a_ptrs = layout.add<T*>(static_cast<std::size_t>(count));
  const auto off_tau_ptrs = layout.add<T*>(static_cast<std::size_t>(count));
  void* ws = ctx.workspace(layout.bytes());
  T* d_a = detail::at_offset<T>(ws, off_a);
  T* d_tau = detail::at_offset<T>(ws, off_tau);
  T** d_a_ptrs = detail::at_offset<T*>(ws, off_a_ptrs);
  T** d_tau_ptrs = detail::at_offset<T*>(ws, off_tau_ptrs);

  const T* a = static_cast<const T*>(g.a.data);
  launch_finite_check<T>(a, m, n, g.a.ld, g.a.stride, count, Region::full, g.info, stream);
  launch_copy_matrices<T>(a, g.a.ld, g.a.stride, false, d_a, m, m * n, m, n, count, g.info,
                          FailFill::zero_if_non_finite, stream);
  launch_pointer_array<T>(d_a, m * n, count, d_a_ptrs, stream);
  launch_pointer_array<T>(d_tau, k, count, d_tau_ptrs, stream);

  int h_info = 0;  // geqrfBatched reports only argument errors, on the host
  DYNX_CUBLAS_CHECK(vendor::geqrf_batched(st.cublas(), mi, ni, d_a_ptrs, mi, d_tau_ptrs, &h_info,
                                          batch));
  if (h_info != 0)
    throw_cublas_error(CUBLAS_STATUS_INVALID_VALUE, "cublas<t>geqrfBatched rejected an argument",
                       __FILE__, __LINE__);

  T* r = static_cast<T*>(g.r.data);
  launch_upper_trapezoid<T>(d_a, m, m * n, r, g.r.ld, g.r.stride, k, n, count, stream);
  launch_fill_nan_matrices<T>(r, k, n, g.r.ld, g.r.stride, count, g.info, stream);
  if (!want_q) return;
  T* q = static_cast<T*>(g.q.data);
  launch_householder_q<T>(d_a, m, m * n, d_tau, k, q, g.q.ld, g.q.stride, m, k, count, stream);
  launch_fill_nan_matrices<T>(q, m, k, g.q.ld, g.q.stride, count, g.info, stream);
}

template void qr<float>(Context&, const detail::QrArgs&);
template void qr<double>(Context&, const detail::QrArgs&);

}  // namespace dynx::cuda
