// Batched GEMM on the CPU: OpenMP over the batch; tiny matrices (every dimension ≤ kSmallGemmMax)
// by a register-blocked kernel of our own, larger ones by one CBLAS call per matrix.

#include "cpu/cpu.hpp"
#include "cpu/lapack.hpp"

#include <cstring>

namespace dynx::cpu {
namespace {

// Below this size, OpenBLAS calls made from several threads at once contend on its internal
// buffer pool: in bench/results (2026-12-01) cblas over the batch on 2 threads ran at 0.7× a serial
// loop for 8×8. This kernel needs no shared buffers; it is compiled twice (AVX2/FMA and baseline
// x86-64) and picked at load time.
constexpr int kSmallGemmMax = 16;

// 32-byte GCC/Clang vector types (an attribute on a dependent type would be ignored).
template <class T>
struct Vec32;
template <>
struct Vec32<float> {
  typedef float type __attribute__((vector_size(32)));
};
template <>
struct Vec32<double> {
  typedef double type __attribute__((vector_size(32)));
};

// C = alpha op(A) op(B) + beta C for m ≤ R, n, k ≤ kSmallGemmMax, R = 8 or 16. op(A) is first
// copied into a zero-padded R × k block, so that the kernel always computes R rows with
// compile-time trip counts: each column of C is R accumulators held in registers (R = 16: 2 AVX
// registers of float, 4 of double), and enough columns are computed together for 8 independent
// FMA chains. At 16×16 on one thread: 0.24 µs (float) and 0.39 µs (double) per call, against 0.43
// and 0.57 for the plain loop nest it replaced and 0.16 and 0.26 for a bare OpenBLAS call.
// beta == 0 overwrites C without reading it (so NaN in C does not propagate), as BLAS specifies.
template <class T, bool TA, bool TB, int R>
__attribute__((target_clones("arch=x86-64-v3", "default"))) void small_gemm(
    int m, int n, int k, T alpha, const T* a, int lda, const T* b, int ldb, T beta, T* c, int ldc) {
  using V = typename Vec32<T>::type;             // one AVX register (two SSE ones in baseline)
  constexpr int W = R * int(sizeof(T)) / 32;     // registers per column of R rows
  constexpr int kCols = 8 / W;                   // columns at once: 8 accumulator registers
  alignas(64) T ap[R * kSmallGemmMax];
  for (int l = 0; l < k; ++l) {
    T* apl = ap + l * R;
    if constexpr (TA) {
      for (int i = 0; i < m; ++i) apl[i] = a[i * lda + l];
    } else {
      std::memcpy(apl, a + l * lda, sizeof(T) * std::size_t(m));
    }
    for (int i = m; i < R; ++i) apl[i] = T(0);
  }
  auto store = [&](int j, const V* acc) {
    T* cj = c + j * ldc;
    V v[W];
    if (beta == T(0)) {
      for (int w = 0; w < W; ++w) v[w] = alpha * acc[w];
    } else {
      alignas(64) T old[R] = {};
      std::memcpy(old, cj, sizeof(T) * std::size_t(m));
      V o[W];
      std::memcpy(o, old, sizeof(o));
      for (int w = 0; w < W; ++w) v[w] = alpha * acc[w] + beta * o[w];
    }
    std::memcpy(cj, v, sizeof(T) * std::size_t(m));
  };
  int j = 0;
  for (; j + kCols <= n; j += kCols) {
    V acc[kCols][W] = {};
    for (int l = 0; l < k; ++l) {
      V al[W];
      std::memcpy(al, ap + l * R, sizeof(al));
      for (int q = 0; q < kCols; ++q) {
        const T blj = TB ? b[l * ldb + j + q] : b[(j + q) * ldb + l];
        for (int w = 0; w < W; ++w) acc[q][w] += al[w] * blj;
      }
    }
    for (int q = 0; q < kCols; ++q) store(j + q, acc[q]);
  }
  for (; j < n; ++j) {
    V acc[W] = {};
    for (int l = 0; l < k; ++l) {
      V al[W];
      std::memcpy(al, ap + l * R, sizeof(al));
      const T blj = TB ? b[l * ldb + j] : b[j * ldb + l];
      for (int w = 0; w < W; ++w) acc[w] += al[w] * blj;
    }
    store(j, acc);
  }
}

template <class T>
using SmallGemmFn = void (*)(int, int, int, T, const T*, int, const T*, int, T, T*, int);

template <class T, int R>
SmallGemmFn<T> small_gemm_for(bool ta, bool tb) {
  if (!ta) return tb ? &small_gemm<T, false, true, R> : &small_gemm<T, false, false, R>;
  return tb ? &small_gemm<T, true, true, R> : &small_gemm<T, true, false, R>;
}

template <class T>
SmallGemmFn<T> small_gemm_for(bool ta, bool tb, int m) {
  return m <= 8 ? small_gemm_for<T, 8>(ta, tb) : small_gemm_for<T, kSmallGemmMax>(ta, tb);
}

}  // namespace

template <class T>
void gemm_one(bool ta, bool tb, int m, int n, int k, T alpha, const T* a, int lda, const T* b,
              int ldb, T beta, T* c, int ldc) {
  if (m == 0 || n == 0) return;
  if (m <= kSmallGemmMax && n <= kSmallGemmMax && k <= kSmallGemmMax) {
    small_gemm_for<T>(ta, tb, m)(m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  } else if (k == 0) {  // C = beta C, which BLAS may skip
    for (int j = 0; j < n; ++j)
      for (int r = 0; r < m; ++r) c[j * ldc + r] = beta == T(0) ? T(0) : beta * c[j * ldc + r];
  } else {
    lapack::gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  }
}
template void gemm_one<float>(bool, bool, int, int, int, float, const float*, int, const float*,
                              int, float, float*, int);
template void gemm_one<double>(bool, bool, int, int, int, double, const double*, int,
                               const double*, int, double, double*, int);

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
  const double flops = 2.0 * double(g.m) * double(g.n) * double(g.k);
  for_each_matrix(ctx.num_threads(), g.count, flops, [&](std::int64_t i, int) {
    gemm_one(ta, tb, m, n, k, alpha, a + i * g.a.stride, lda, b + i * g.b.stride, ldb, beta,
             c + i * g.c.stride, ldc);
  });
}

template void gemm<float>(Context&, const detail::GemmArgs&);
template void gemm<double>(Context&, const detail::GemmArgs&);

}  // namespace dynx::cpu
