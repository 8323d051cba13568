// Batched GEMM on CUDA: one cublas<t>gemmStridedBatched_64 call for the whole batch. A stride of 0
// broadcasts an input, which cuBLAS strided-batched routines accept as is.

#include "cuda/check.hpp"
#include "cuda/cuda.hpp"
#include "cuda/launch.hpp"
#include "cuda/vendor.hpp"

#include "core/log.hpp"

namespace dynx::cuda {

template <class T>
void gemm(Context& ctx, const detail::GemmArgs& g) {
  CudaState& st = state_of(ctx);
  const T alpha = static_cast<T>(g.alpha), beta = static_cast<T>(g.beta);
  T* c = static_cast<T*>(g.c.data);
  if (g.k == 0) {
    // C = beta C. Done here rather than relying on cuBLAS's k == 0 quick path, which also leaves
    // A and B (possibly null for k == 0) untouched.
    launch_scale_matrices<T>(c, g.m, g.n, g.c.ld, g.c.stride, g.count, beta, st.stream());
    return;
  }
  detail::log().debug("cuda gemm: {} x ({}x{}x{}) {}", g.count, g.m, g.n, g.k,
                      dtype_name(g.dtype));
  const auto op = [](Op o) { return o == Op::n ? CUBLAS_OP_N : CUBLAS_OP_T; };
  // With beta == 0 cuBLAS does not read C, so NaN in an uninitialised C is not propagated.
  DYNX_CUBLAS_CHECK(vendor::gemm_strided_batched(
      st.cublas(), op(g.transa), op(g.transb), g.m, g.n, g.k, &alpha,
      static_cast<const T*>(g.a.data), g.a.ld, g.count > 1 ? g.a.stride : 0,
      static_cast<const T*>(g.b.data), g.b.ld, g.count > 1 ? g.b.stride : 0, &beta, c, g.c.ld,
      g.count > 1 ? g.c.stride : 0, g.count));
}

template void gemm<float>(Context&, const detail::GemmArgs&);
template void gemm<double>(Context&, const detail::GemmArgs&);

}  // namespace dynx::cuda
