// Batched GEMM on the CPU: one CBLAS call per matrix, OpenMP over the batch.

#include "cpu/cpu.hpp"
#include "cpu/lapack.hpp"

namespace dynx::cpu {

template <class T>
void gemm(Context& ctx, const detail::GemmArgs& g) {
  constexpr const char* op = "gemm_batched";
  const int m = to_lapack_int(g.m, op, "m"), n = to_lapack_int(g.n, op, "n"),
            k = to_lapack_int(g.k, op, "k");
  const int lda = to_lapack_int(g.a.ld, op, "a.ld"), ldb = to_lapack_int(g.b.ld, op, "b.ld"),
            ldc = to_lapack_int(g.c.ld, op, "c.ld");
  const T alpha = static_cast<T>(g.alpha), beta = static_cast<T>(g.beta);
  const T* a = static_cast<const T*>(g.a.data);
  const T* b = static_cast<const T*>(g.b.data);
  T* c = static_cast<T*>(g.c.data);
  const bool ta = g.transa == Op::t, tb = g.transb == Op::t;
  for_each_matrix(ctx.num_threads(), g.count, [&](std::int64_t i, int) {
    T* ci = c + i * g.c.stride;
    if (k == 0) {  // C = beta C; BLAS may skip this case
      for (int j = 0; j < n; ++j)
        for (int r = 0; r < m; ++r) ci[j * ldc + r] = beta == T(0) ? T(0) : beta * ci[j * ldc + r];
      return;
    }
    lapack::gemm(ta, tb, m, n, k, alpha, a + i * g.a.stride, lda, b + i * g.b.stride, ldb, beta, ci, ldc);
  });
}

template void gemm<float>(Context&, const detail::GemmArgs&);
template void gemm<double>(Context&, const detail::GemmArgs&);

}  // namespace dynx::cpu
