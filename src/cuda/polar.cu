// Batched orthogonal polar factor on CUDA: Q = U Vᵀ from the thin SVD (the SVD core of svd.cu,
// whose U and V stay in the workspace) followed by one strided-batched GEMM.

#include "cuda/check.hpp"
#include "cuda/cuda.hpp"
#include "cuda/launch.hpp"
#include "cuda/vendor.hpp"

#include "core/log.hpp"

#include <algorithm>

namespace dynx::cuda {

template <class T>
void polar(Context& ctx, const detail::PolarArgs& g) {
  CudaState& st = state_of(ctx);
  const std::int64_t k = std::min(g.m, g.n);
  detail::log().debug("cuda polar: {} x {}x{} {} -> thin SVD + gemmStridedBatched", g.count, g.m,
                      g.n, dtype_name(g.dtype));
  SvdCore<T> core(st, g.svd_algorithm, g.m, g.n, g.count, /*vectors=*/true);
  detail::WorkspaceLayout layout;
  core.add_to(layout);
  void* ws = ctx.workspace(layout.bytes());
  const SvdFactors<T> f = core.run(ws, g.a, g.info);

  // Q (m × n) = U (m × k) · V(n × k)ᵀ.
  const T one(1), zero(0);
  T* q = static_cast<T*>(g.q.data);
  DYNX_CUBLAS_CHECK(vendor::gemm_strided_batched(
      st.cublas(), CUBLAS_OP_N, CUBLAS_OP_T, g.m, g.n, k, &one, f.u, f.ld_u, f.stride_u, f.v,
      f.ld_v, f.stride_v, &zero, q, g.q.ld, g.count > 1 ? g.q.stride : 0, g.count));
  launch_fill_nan_matrices<T>(q, g.m, g.n, g.q.ld, g.q.stride, g.count, g.info, st.stream());
}

template void polar<float>(Context&, const detail::PolarArgs&);
template void polar<double>(Context&, const detail::PolarArgs&);

}  // namespace dynx::cuda
