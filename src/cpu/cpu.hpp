#pragma once
// CPU backend internals: typed implementations of each batched operation (one file per op) and
// the helpers they share.

#include "core/backend.hpp"
#include "core/heuristics.hpp"
#include "cpu/vec.hpp"

#include <dynx/status.hpp>

#include <cmath>
#include <cstdint>
#include <exception>
#include <limits>
#include <omp.h>

namespace dynx::cpu {

detail::Backend& backend();

template <class T> void gemm(Context&, const detail::GemmArgs&);
template <class T> void svd(Context&, const detail::SvdArgs&);
template <class T> void qr(Context&, const detail::QrArgs&);
template <class T> void eigh(Context&, const detail::EighArgs&);
template <class T> void eig(Context&, const detail::EigArgs&);
template <class T> void solve(Context&, const detail::SolveArgs&);
template <class T> void inverse(Context&, const detail::InverseArgs&);
template <class T> void polar(Context&, const detail::PolarArgs&);
template <class T> void hankel_rows(Context&, const detail::HankelArgs&);
template <class T> void dot(Context&, const detail::DotArgs&);
template <class T> void axpby(Context&, const detail::AxpbyArgs&);
template <class T> void adam(Context&, const detail::AdamArgs&);
template <class T> void lbfgs(Context&, const detail::LbfgsArgs&);
template <class T> void goom_convert(Context&, const detail::GoomConvertArgs&);
template <class T> void lmme(Context&, const detail::LmmeArgs&);
template <class T> void product_scan(Context&, const detail::ProductScanArgs&);
template <class T> void affine_scan(Context&, const detail::AffineScanArgs&);
template <class T> void qr_sweep(Context&, const detail::QrSweepArgs&);
template <class T> void selective_reset(Context&, const detail::SelectiveResetArgs&);
template <class T> void deer_residual(Context&, const detail::DeerResidualArgs&);
template <class T> void deer_update(Context&, const detail::DeerUpdateArgs&);
template <class T> void deer_scale(Context&, const detail::DeerScaleArgs&);
template <class T> void elk_scan(Context&, const detail::ElkScanArgs&);

/// One C = alpha op(A) op(B) + beta C on the calling thread: the register-blocked kernel when every
/// dimension is ≤ 16, one CBLAS call otherwise (for callers that run their own parallel loop).
template <class T>
void gemm_one(bool ta, bool tb, int m, int n, int k, T alpha, const T* a, int lda, const T* b,
              int ldb, T beta, T* c, int ldc);

/// While alive, keeps a pthreads build of OpenBLAS single-threaded so that it does not
/// oversubscribe the cores our OpenMP loop over the batch already uses. The OpenMP build of
/// OpenBLAS (what scripts/ installs) needs nothing: it runs single-threaded inside a parallel
/// region by itself.
class BlasThreadsGuard {
 public:
  BlasThreadsGuard();
  ~BlasThreadsGuard();
  BlasThreadsGuard(const BlasThreadsGuard&) = delete;
  BlasThreadsGuard& operator=(const BlasThreadsGuard&) = delete;

 private:
  int saved_ = -1;
};

/// Calls f(k, t) for k in [0, count) (each about `flops_per_matrix` operations), where t in [0, threads) names the calling thread's slice of
/// per-thread scratch. Parallel over the batch when detail::parallel_over_batch says so, serial
/// (with multi-threaded BLAS inside each call) otherwise. The matrices of one batch cost the same,
/// so the schedule is static: contiguous blocks per thread, no per-item synchronisation (which
/// would dominate for 8×8 GEMMs). An exception thrown by f is rethrown on the calling thread
/// after the loop.
template <class F>
void for_each_matrix(int threads, std::int64_t count, double flops_per_matrix, F&& f) {
  if (!detail::parallel_over_batch(count, threads, flops_per_matrix)) {
    for (std::int64_t k = 0; k < count; ++k) f(k, 0);
    return;
  }
  BlasThreadsGuard guard;
  std::exception_ptr error;
#pragma omp parallel num_threads(threads)
  {
    const int t = omp_get_thread_num();
#pragma omp for schedule(static)
    for (std::int64_t k = 0; k < count; ++k) {
      try {
        f(k, t);
      } catch (...) {
#pragma omp critical(dynx_cpu_error)
        if (!error) error = std::current_exception();
      }
    }
  }
  if (error) std::rethrow_exception(error);
}

/// Calls f(u, t) for u in [0, units) on up to `threads` threads with a dynamic schedule (for units
/// of uneven cost: chunks of a scan, segments of a sweep); t names the calling thread's scratch.
/// An exception thrown by f is rethrown on the calling thread after the loop.
template <class F>
void for_each_unit(int threads, std::int64_t units, F&& f) {
  if (threads <= 1 || units <= 1) {
    for (std::int64_t u = 0; u < units; ++u) f(u, 0);
    return;
  }
  BlasThreadsGuard guard;
  std::exception_ptr error;
#pragma omp parallel num_threads(threads)
  {
    const int t = omp_get_thread_num();
#pragma omp for schedule(dynamic, 1)
    for (std::int64_t u = 0; u < units; ++u) {
      try {
        f(u, t);
      } catch (...) {
#pragma omp critical(dynx_cpu_unit_error)
        if (!error) error = std::current_exception();
      }
    }
  }
  if (error) std::rethrow_exception(error);
}

/// Number of threads for_each_matrix will use for this batch (scratch is sized by it).
inline int loop_threads(int threads, std::int64_t count, double flops_per_matrix) {
  return detail::parallel_over_batch(count, threads, flops_per_matrix) ? threads : 1;
}

/// True when every entry of the rows × cols column-major matrix is finite.
template <class T>
bool all_finite(const T* a, std::int64_t rows, std::int64_t cols, std::int64_t ld) {
  if (ld == rows) return vec::all_finite(a, rows * cols);
  for (std::int64_t j = 0; j < cols; ++j)
    if (!vec::all_finite(a + j * ld, rows)) return false;
  return true;
}

/// Finite check of one triangle (with the diagonal) of an n × n matrix.
template <class T>
bool triangle_finite(const T* a, std::int64_t n, std::int64_t ld, Uplo uplo) {
  for (std::int64_t j = 0; j < n; ++j) {
    const std::int64_t i0 = uplo == Uplo::lower ? j : 0;
    const std::int64_t i1 = uplo == Uplo::lower ? n : j + 1;
    for (std::int64_t i = i0; i < i1; ++i)
      if (!std::isfinite(a[j * ld + i])) return false;
  }
  return true;
}

template <class T>
void fill(T* a, std::int64_t rows, std::int64_t cols, std::int64_t ld, T value) {
  for (std::int64_t j = 0; j < cols; ++j)
    for (std::int64_t i = 0; i < rows; ++i) a[j * ld + i] = value;
}

template <class T>
void fill_nan(const detail::MatRef& m, std::int64_t k) {
  if (m.empty()) return;
  using R = T;
  fill(static_cast<R*>(m.data) + k * m.stride, m.rows, m.cols, m.ld,
       R(std::numeric_limits<double>::quiet_NaN()));
}

template <class T>
void fill_nan(const detail::VecRef& v, std::int64_t k) {
  if (v.empty()) return;
  T* p = static_cast<T*>(v.data) + k * v.stride;
  for (std::int64_t i = 0; i < v.size; ++i) p[i * v.inc] = T(std::numeric_limits<double>::quiet_NaN());
}

/// Copies a rows × cols column-major matrix between leading dimensions.
template <class T>
void copy_matrix(const T* src, std::int64_t lds, T* dst, std::int64_t ldd, std::int64_t rows,
                 std::int64_t cols) {
  for (std::int64_t j = 0; j < cols; ++j)
    for (std::int64_t i = 0; i < rows; ++i) dst[j * ldd + i] = src[j * lds + i];
}

inline void set_status(std::int32_t* info, std::int64_t k, MatrixStatus s) {
  info[k] = static_cast<std::int32_t>(s);
}

}  // namespace dynx::cpu

#include "core/check.hpp"

namespace dynx::cpu {
/// LAPACK takes 32-bit dimensions: anything larger is an InvalidArgument, not a silent wrap.
inline int to_lapack_int(std::int64_t v, const char* op, const char* what) {
  DYNX_EXPECTS(v <= std::numeric_limits<int>::max(),
               fmt::format("{}: {} = {} exceeds the 32-bit LAPACK limit", op, what, v));
  return static_cast<int>(v);
}
}  // namespace dynx::cpu
