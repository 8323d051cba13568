// Batched GEMM on the CPU: OpenMP over the batch; tiny matrices (every dimension ≤ kSmallGemmMax)
// by a direct loop nest, larger ones by one CBLAS call per matrix.

#include "cpu/cpu.hpp"
#include "cpu/lapack.hpp"

namespace dynx::cpu {
namespace {

// Below this size, OpenBLAS calls made from several threads at once contend on its internal
// buffer pool: in bench/results (2026-12-01) cblas over the batch on 2 threads ran at 0.7× a serial
// loop for 8×8. This loop nest needs no buffers; it is compiled twice (AVX2/FMA and baseline x86-64)
// and picked at load time. On one thread it is slower than OpenBLAS's tuned kernels (about 0.6×),
// on 2 threads it matches or beats the serial cblas loop.
constexpr int kSmallGemmMax = 16;

// C = alpha op(A) op(B) + beta C for m, n, k ≤ kSmallGemmMax. beta == 0 overwrites C without
// reading it (so NaN in C does not propagate), as BLAS specifies.
template <class T, bool TA, bool TB>
__attribute__((target_clones("arch=x86-64-v3", "default"))) void small_gemm(int m, int n, int k, T alpha, const T* a, int lda, const T* b, int ldb, T beta,
                T* c, int ldc) {
  T acc[kSmallGemmMax];
  for (int j = 0; j < n; ++j) {
    if constexpr (!TA) {
      // Column j of C as a combination of the columns of A (contiguous axpy).
      for (int i = 0; i < m; ++i) acc[i] = T(0);
      for (int l = 0; l < k; ++l) {
        const T blj = TB ? b[l * ldb + j] : b[j * ldb + l];
        const T* al = a + l * lda;
        for (int i = 0; i < m; ++i) acc[i] += al[i] * blj;
      }
    } else {
      // Entry (i, j) as the dot product of column i of A with column j of op(B).
      for (int i = 0; i < m; ++i) {
        const T* ai = a + i * lda;
        T s = T(0);
        for (int l = 0; l < k; ++l) s += ai[l] * (TB ? b[l * ldb + j] : b[j * ldb + l]);
        acc[i] = s;
      }
    }
    T* cj = c + j * ldc;
    if (beta == T(0)) {
      for (int i = 0; i < m; ++i) cj[i] = alpha * acc[i];
    } else {
      for (int i = 0; i < m; ++i) cj[i] = alpha * acc[i] + beta * cj[i];
    }
  }
}

template <class T>
using SmallGemmFn = void (*)(int, int, int, T, const T*, int, const T*, int, T, T*, int);

template <class T>
SmallGemmFn<T> small_gemm_for(bool ta, bool tb) {
  if (!ta) return tb ? &small_gemm<T, false, true> : &small_gemm<T, false, false>;
  return tb ? &small_gemm<T, true, true> : &small_gemm<T, true, false>;
}

}  // namespace

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
  const bool small = m <= kSmallGemmMax && n <= kSmallGemmMax && k <= kSmallGemmMax;
  const SmallGemmFn<T> small_fn = small_gemm_for<T>(ta, tb);
  const double flops = 2.0 * double(g.m) * double(g.n) * double(g.k);
  for_each_matrix(ctx.num_threads(), g.count, flops, [&](std::int64_t i, int) {
    const T* ai = a + i * g.a.stride;
    const T* bi = b + i * g.b.stride;
    T* ci = c + i * g.c.stride;
    if (small) {
      small_fn(m, n, k, alpha, ai, lda, bi, ldb, beta, ci, ldc);
      return;
    }
    if (k == 0) {  // C = beta C, which BLAS may skip
      for (int j = 0; j < n; ++j)
        for (int r = 0; r < m; ++r) ci[j * ldc + r] = beta == T(0) ? T(0) : beta * ci[j * ldc + r];
      return;
    }
    lapack::gemm(ta, tb, m, n, k, alpha, ai, lda, bi, ldb, beta, ci, ldc);
  });
}

template void gemm<float>(Context&, const detail::GemmArgs&);
template void gemm<double>(Context&, const detail::GemmArgs&);

}  // namespace dynx::cpu
