// Batched thin SVD on CUDA, by one of three cuSOLVER algorithms (see choose_svd_algorithm):
//
// - jacobi_batched: cusolverDn<t>gesvdjBatched, one call for the whole batch. cuSOLVER limits it
//   to m, n <= 32 and returns the full U (m × m) and V (n × n); the thin parts are copied out and
//   V is transposed into Vt. Asynchronous.
// - gram_batched: cusolverDn<t>gesvdaStridedBatched, which takes the eigen-decomposition of the
//   Gram matrix AᵀA, so its accuracy is ~cond(A)·eps and it needs m >= n (a wide A is factored as
//   Aᵀ = U' S V'ᵀ, i.e. U = V', V = U'). It reports ||A - U S Vᵀ||_F per matrix in a host array.
//   cuSOLVER documents U as accurate only for singular values far from zero, and a degraded U can
//   still leave a small residual, so we also measure ||UᵀU - I||_F and ||VᵀV - I||_F (two batched
//   GEMMs):
//   a matrix is accepted when all three are below kGramAcceptFactor · max(m, n) · eps (residual
//   relative to ||A||_F) and its info is 0, which certifies a backward-stable SVD; the others are
//   redone with per-matrix gesvdj. Reading the host residuals synchronises the stream once.
// - jacobi_each: cusolverDn<t>gesvdj (econ) per matrix on the stream, any size. Asynchronous.
//
// cuSOLVER Library docs: "cusolverDn<t>gesvdjBatched()", "cusolverDn<t>gesvdaStridedBatched()",
// "cusolverDn<t>gesvdj()".

#include "cuda/check.hpp"
#include "cuda/cuda.hpp"
#include "cuda/launch.hpp"
#include "cuda/vendor.hpp"

#include "core/check.hpp"
#include "core/heuristics.hpp"
#include "core/log.hpp"

#include "kernels/norms.cuh"

#include <algorithm>
#include <limits>
#include <vector>

namespace dynx::cuda {
namespace {

/// gram_batched accepts a matrix when ||A - U S Vᵀ||_F <= c · max(m, n) · eps · ||A||_F and
/// ||UᵀU - I||_F, ||VᵀV - I||_F <= c · max(m, n) · eps, with c = kGramAcceptFactor. Orthonormal
/// factors with a small residual make the SVD backward stable, so the singular values are then
/// accurate to about c · max(m, n) · eps · ||A|| in absolute terms (like gesvdj's); rank-deficient
/// and ill-conditioned matrices, where gesvda's U degrades, fail the test and are redone.
constexpr double kGramAcceptFactor = 10.0;

const char* algorithm_name(SvdAlgorithm a) {
  switch (a) {
    case SvdAlgorithm::jacobi_batched: return "jacobi_batched";
    case SvdAlgorithm::gram_batched: return "gram_batched";
    case SvdAlgorithm::jacobi_each: return "jacobi_each";
    case SvdAlgorithm::automatic: return "automatic";
    case SvdAlgorithm::divide_and_conquer: return "divide_and_conquer";
    case SvdAlgorithm::qr_iteration: return "qr_iteration";
  }
  return "?";
}

cusolverEigMode_t jobz_of(bool vectors) {
  return vectors ? CUSOLVER_EIG_MODE_VECTOR : CUSOLVER_EIG_MODE_NOVECTOR;
}

// d_err[b] = ||G_b - I||_F (or the max with the value there, with `accumulate`) for the packed
// k × k matrices G_b.
template <class T>
void launch_orthogonality_errors(const T* d_g, std::int64_t k, std::int64_t count, bool accumulate,
                                 double* d_err, cudaStream_t stream) {
  constexpr int kBlock = kernels::kBlockSize;
  kernels::orthogonality_error_kernel<kBlock, T>
      <<<kernels::per_matrix_grid(count), kBlock, 0, stream>>>(d_g, k, k, k * k, count, accumulate,
                                                               d_err);
  DYNX_CUDA_LAUNCH_CHECK();
}

}  // namespace

template <class T>
bool SvdCore<T>::can_run(SvdAlgorithm algorithm, std::int64_t m, std::int64_t n) {
  constexpr std::int64_t kInt = std::numeric_limits<int>::max();
  if (m > kInt || n > kInt) return false;
  switch (algorithm) {
    case SvdAlgorithm::jacobi_batched:  // gesvdjBatched requires m, n <= 32
      return m <= detail::kJacobiBatchedMaxDim && n <= detail::kJacobiBatchedMaxDim;
    case SvdAlgorithm::gram_batched:
    case SvdAlgorithm::jacobi_each: return true;
    default: return false;  // CPU algorithms, or automatic (resolved before the backend)
  }
}

template <class T>
SvdCore<T>::SvdCore(CudaState& state, SvdAlgorithm algorithm, std::int64_t m, std::int64_t n,
                    std::int64_t count, bool vectors)
    : state_(state),
      algorithm_(algorithm),
      m_(m),
      n_(n),
      k_(std::min(m, n)),
      count_(count),
      vectors_(vectors),
      rows_(m),
      cols_(n) {
  constexpr const char* op = "svd_batched";
  DYNX_EXPECTS(can_run(algorithm, m, n),
               fmt::format("svd: algorithm {} cannot factor {}x{} matrices on CUDA (jacobi_batched "
                           "needs m,n <= {}; dimensions must fit 32 bits)",
                           algorithm_name(algorithm), m, n, detail::kJacobiBatchedMaxDim));
  const int batch = to_int(count, op, "count");
  const Dtype dtype = dtype_v<T>;
  cusolverDnHandle_t h = state_.cusolver();
  switch (algorithm_) {
    case SvdAlgorithm::jacobi_batched: {
      // gesvdjBatched returns the full U (m × m) and V (n × n), packed with ldu = m, ldv = n.
      ld_u_ = m;
      stride_u_ = m * m;
      ld_v_ = n;
      stride_v_ = n * n;
      const int mi = static_cast<int>(m), ni = static_cast<int>(n);
      gesvdjInfo_t params = state_.gesvdj_params();
      lwork_ = static_cast<int>(
          state_
              .buffer_sizes({"gesvdjBatched", dtype, m, n, vectors, count},
                            [&] {
                              int lwork = 0;
                              DYNX_CUSOLVER_CHECK(vendor::gesvdj_batched_buffer_size(
                                  h, jobz_of(vectors), mi, ni, static_cast<const T*>(nullptr), mi,
                                  static_cast<const T*>(nullptr), static_cast<const T*>(nullptr),
                                  mi, static_cast<const T*>(nullptr), ni, &lwork, params, batch));
                              return BufferSizes{static_cast<std::size_t>(lwork), 0};
                            })
              .device);
      break;
    }
    case SvdAlgorithm::gram_batched: {
      // gesvda handles m >= n only: factor Aᵀ for a wide A.
      transposed_ = m < n;
      rows_ = std::max(m, n);
      cols_ = k_;
      ld_u_ = rows_;
      stride_u_ = rows_ * k_;
      ld_v_ = cols_;
      stride_v_ = cols_ * k_;
      const int ri = to_int(rows_, op, "max(m, n)"), ci = static_cast<int>(cols_),
                ki = static_cast<int>(k_);
      lwork_ = static_cast<int>(
          state_
              .buffer_sizes({"gesvdaStridedBatched", dtype, rows_, cols_, count},
                            [&] {
                              int lwork = 0;
                              DYNX_CUSOLVER_CHECK(vendor::gesvda_strided_batched_buffer_size(
                                  h, CUSOLVER_EIG_MODE_VECTOR, ki, ri, ci,
                                  static_cast<const T*>(nullptr), ri, rows_ * cols_,
                                  static_cast<const T*>(nullptr), k_,
                                  static_cast<const T*>(nullptr), ri, stride_u_,
                                  static_cast<const T*>(nullptr), ci, stride_v_, &lwork, batch));
                              return BufferSizes{static_cast<std::size_t>(lwork), 0};
                            })
              .device);
      lwork_fallback_ = gesvdj_lwork(rows_, cols_, true);
      break;
    }
    case SvdAlgorithm::jacobi_each: {
      // gesvdj in econ mode: U is m × k, V is n × k.
      ld_u_ = m;
      stride_u_ = vectors ? m * k_ : 0;
      ld_v_ = n;
      stride_v_ = vectors ? n * k_ : 0;
      lwork_ = gesvdj_lwork(m, n, vectors);
      break;
    }
    default:
      DYNX_UNSUPPORTED(fmt::format("svd: algorithm {} does not run on CUDA",
                                   algorithm_name(algorithm_)));
  }
  detail::log().debug("cuda svd: {} x {}x{} {} -> {}{}", count, m, n, dtype_name(dtype),
                      algorithm_name(algorithm_), vectors ? "" : " (values only)");
}

template <class T>
int SvdCore<T>::gesvdj_lwork(std::int64_t rows, std::int64_t cols, bool vectors) {
  constexpr const char* op = "svd_batched";
  const int ri = to_int(rows, op, "rows"), ci = to_int(cols, op, "cols");
  gesvdjInfo_t params = state_.gesvdj_params();
  cusolverDnHandle_t h = state_.cusolver();
  const BufferSizes sizes =
      state_.buffer_sizes({"gesvdj", dtype_v<T>, rows, cols, vectors}, [&] {
        int lwork = 0;
        DYNX_CUSOLVER_CHECK(vendor::gesvdj_buffer_size(
            h, jobz_of(vectors), /*econ=*/1, ri, ci, static_cast<const T*>(nullptr), ri,
            static_cast<const T*>(nullptr), static_cast<const T*>(nullptr), ri,
            static_cast<const T*>(nullptr), ci, &lwork, params));
        return BufferSizes{static_cast<std::size_t>(lwork), 0};
      });
  return static_cast<int>(sizes.device);
}

template <class T>
void SvdCore<T>::add_to(detail::WorkspaceLayout& layout) {
  const auto count = static_cast<std::size_t>(count_);
  const auto k = static_cast<std::size_t>(k_);
  off_a_ = layout.add<T>(static_cast<std::size_t>(rows_ * cols_) * count);
  off_s_ = layout.add<T>(k * count);
  switch (algorithm_) {
    case SvdAlgorithm::jacobi_batched:
      // Allocated even for values only: cuSOLVER wants valid U and V arrays regardless of jobz.
      off_u_ = layout.add<T>(static_cast<std::size_t>(stride_u_) * count);
      off_v_ = layout.add<T>(static_cast<std::size_t>(stride_v_) * count);
      break;
    case SvdAlgorithm::gram_batched:
      // Always with vectors: the residual check needs them.
      off_u_ = layout.add<T>(static_cast<std::size_t>(stride_u_) * count);
      off_v_ = layout.add<T>(static_cast<std::size_t>(stride_v_) * count);
      off_norms_ = layout.add<double>(count);
      off_orth_ = layout.add<double>(count);
      off_work2_ = layout.add<T>(static_cast<std::size_t>(std::max(lwork_fallback_, 1)));
      break;
    default:  // jacobi_each: for values only one dummy U/V shared by all calls (stride 0)
      off_u_ = layout.add<T>(static_cast<std::size_t>(m_ * k_) * (vectors_ ? count : 1));
      off_v_ = layout.add<T>(static_cast<std::size_t>(n_ * k_) * (vectors_ ? count : 1));
      break;
  }
  off_work_ = layout.add<T>(static_cast<std::size_t>(std::max(lwork_, 1)));
  off_info_ = layout.add<int>(count);
}

template <class T>
SvdFactors<T> SvdCore<T>::run(void* ws, const detail::MatRef& a, std::int32_t* d_status) {
  cudaStream_t stream = state_.stream();
  const T* d_a = static_cast<const T*>(a.data);
  // Non-finite matrices are flagged first and reach the solver as zeros, so that no cuSOLVER
  // routine iterates on NaN; their outputs become NaN at the end.
  launch_finite_check<T>(d_a, m_, n_, a.ld, a.stride, count_, Region::full, d_status, stream);
  T* d_packed = detail::at_offset<T>(ws, off_a_);
  launch_copy_matrices<T>(d_a, a.ld, a.stride, transposed_, d_packed, rows_, rows_ * cols_, rows_,
                          cols_, count_, d_status, FailFill::zero_if_non_finite, stream);
  switch (algorithm_) {
    case SvdAlgorithm::jacobi_batched: run_jacobi_batched(ws, d_status); break;
    case SvdAlgorithm::gram_batched: run_gram_batched(ws, a, d_status); break;
    default: run_jacobi_each(ws, d_status); break;
  }
  launch_merge_solver_info(d_status, detail::at_offset<int>(ws, off_info_), count_,
                           MatrixStatus::not_converged, stream);

  const T* d_s = detail::at_offset<T>(ws, off_s_);
  const T* d_u = detail::at_offset<T>(ws, off_u_);
  const T* d_v = detail::at_offset<T>(ws, off_v_);
  const bool have_vectors = vectors_ || algorithm_ == SvdAlgorithm::gram_batched;
  if (!have_vectors) return {d_s, k_, nullptr, 0, 0, nullptr, 0, 0};
  if (transposed_)  // Aᵀ = U' S V'ᵀ  =>  A = V' S U'ᵀ
    return {d_s, k_, d_v, ld_v_, stride_v_, d_u, ld_u_, stride_u_};
  return {d_s, k_, d_u, ld_u_, stride_u_, d_v, ld_v_, stride_v_};
}

template <class T>
void SvdCore<T>::run_jacobi_batched(void* ws, std::int32_t*) {
  const int mi = static_cast<int>(m_), ni = static_cast<int>(n_);
  DYNX_CUSOLVER_CHECK(vendor::gesvdj_batched(
      state_.cusolver(), jobz_of(vectors_), mi, ni, detail::at_offset<T>(ws, off_a_), mi,
      detail::at_offset<T>(ws, off_s_), detail::at_offset<T>(ws, off_u_), mi,
      detail::at_offset<T>(ws, off_v_), ni, detail::at_offset<T>(ws, off_work_), lwork_,
      detail::at_offset<int>(ws, off_info_), state_.gesvdj_params(), static_cast<int>(count_)));
}

template <class T>
void SvdCore<T>::gesvdj_one(T* d_a, std::int64_t rows, std::int64_t cols, T* d_s, T* d_u, T* d_v,
                            T* d_work, int lwork, int* d_info, bool vectors) {
  const int ri = static_cast<int>(rows), ci = static_cast<int>(cols);
  DYNX_CUSOLVER_CHECK(vendor::gesvdj(state_.cusolver(), jobz_of(vectors), /*econ=*/1, ri, ci, d_a,
                                     ri, d_s, d_u, ri, d_v, ci, d_work, lwork, d_info,
                                     state_.gesvdj_params()));
}

template <class T>
void SvdCore<T>::run_jacobi_each(void* ws, std::int32_t*) {
  T* d_a = detail::at_offset<T>(ws, off_a_);
  T* d_s = detail::at_offset<T>(ws, off_s_);
  T* d_u = detail::at_offset<T>(ws, off_u_);
  T* d_v = detail::at_offset<T>(ws, off_v_);
  T* d_work = detail::at_offset<T>(ws, off_work_);
  int* d_info = detail::at_offset<int>(ws, off_info_);
  // One call per matrix, all on the context's stream: they run in order and share the work array.
  for (std::int64_t i = 0; i < count_; ++i)
    gesvdj_one(d_a + i * m_ * n_, m_, n_, d_s + i * k_, d_u + i * stride_u_, d_v + i * stride_v_,
               d_work, lwork_, d_info + i, vectors_);
}

template <class T>
void SvdCore<T>::run_gram_batched(void* ws, const detail::MatRef& a, std::int32_t* d_status) {
  cudaStream_t stream = state_.stream();
  const auto count = static_cast<std::size_t>(count_);
  T* d_a = detail::at_offset<T>(ws, off_a_);
  T* d_s = detail::at_offset<T>(ws, off_s_);
  T* d_u = detail::at_offset<T>(ws, off_u_);
  T* d_v = detail::at_offset<T>(ws, off_v_);
  int* d_info = detail::at_offset<int>(ws, off_info_);
  double* d_norms = detail::at_offset<double>(ws, off_norms_);
  launch_frobenius_norms<T>(d_a, rows_, cols_, rows_, rows_ * cols_, count_, d_norms, stream);

  detail::WorkspaceLayout host;
  const auto off_res = host.add<double>(count);
  const auto off_norms = host.add<double>(count);
  const auto off_orth = host.add<double>(count);
  const auto off_info = host.add<int>(count);
  const auto off_status = host.add<std::int32_t>(count);
  void* h_base = state_.pinned_staging(host.bytes());
  double* h_res = detail::at_offset<double>(h_base, off_res);
  double* h_norms = detail::at_offset<double>(h_base, off_norms);
  double* h_orth = detail::at_offset<double>(h_base, off_orth);
  int* h_info = detail::at_offset<int>(h_base, off_info);
  std::int32_t* h_status = detail::at_offset<std::int32_t>(h_base, off_status);

  const int ri = static_cast<int>(rows_), ci = static_cast<int>(cols_), ki = static_cast<int>(k_);
  DYNX_CUSOLVER_CHECK(vendor::gesvda_strided_batched(
      state_.cusolver(), CUSOLVER_EIG_MODE_VECTOR, ki, ri, ci, d_a, ri, rows_ * cols_, d_s, k_, d_u,
      ri, stride_u_, d_v, ci, stride_v_, detail::at_offset<T>(ws, off_work_), lwork_, d_info, h_res,
      static_cast<int>(count_)));
  // Orthogonality of both factors: G = UᵀU then VᵀV (k × k each) in the packed copy of A, which
  // is free now (a redo re-packs from the caller's matrix, and rows_ * cols_ >= k * k).
  const T one(1), zero(0);
  T* d_gram = d_a;
  double* d_orth = detail::at_offset<double>(ws, off_orth_);
  DYNX_CUBLAS_CHECK(vendor::gemm_strided_batched(state_.cublas(), CUBLAS_OP_T, CUBLAS_OP_N, k_, k_,
                                                 rows_, &one, d_u, ld_u_, stride_u_, d_u, ld_u_,
                                                 stride_u_, &zero, d_gram, k_, k_ * k_, count_));
  launch_orthogonality_errors<T>(d_gram, k_, count_, false, d_orth, stream);
  DYNX_CUBLAS_CHECK(vendor::gemm_strided_batched(state_.cublas(), CUBLAS_OP_T, CUBLAS_OP_N, k_, k_,
                                                 cols_, &one, d_v, ld_v_, stride_v_, d_v, ld_v_,
                                                 stride_v_, &zero, d_gram, k_, k_ * k_, count_));
  launch_orthogonality_errors<T>(d_gram, k_, count_, true, d_orth, stream);

  DYNX_CUDA_CHECK(cudaMemcpyAsync(h_norms, d_norms, count * sizeof(double), cudaMemcpyDeviceToHost,
                                  stream));
  DYNX_CUDA_CHECK(
      cudaMemcpyAsync(h_orth, d_orth, count * sizeof(double), cudaMemcpyDeviceToHost, stream));
  DYNX_CUDA_CHECK(
      cudaMemcpyAsync(h_info, d_info, count * sizeof(int), cudaMemcpyDeviceToHost, stream));
  DYNX_CUDA_CHECK(cudaMemcpyAsync(h_status, d_status, count * sizeof(std::int32_t),
                                  cudaMemcpyDeviceToHost, stream));
  // The one synchronisation of this path: h_RnrmF is a host array, and deciding which matrices to
  // redo needs it together with the info codes.
  DYNX_CUDA_CHECK(cudaStreamSynchronize(stream));

  const double tol = kGramAcceptFactor * static_cast<double>(std::max(rows_, cols_)) *
                     static_cast<double>(std::numeric_limits<T>::epsilon());
  std::vector<std::int64_t> redo;
  for (std::int64_t i = 0; i < count_; ++i) {
    if (h_status[i] != 0) continue;  // non-finite input: the result is NaN anyway
    // Comparisons are false for NaN, so a NaN residual or factor is rejected.
    const bool accepted = h_info[i] == 0 && h_res[i] <= tol * h_norms[i] && h_orth[i] <= tol;
    if (!accepted) redo.push_back(i);
  }
  if (redo.empty()) return;
  detail::log().warn(
      "cuda svd: gram_batched (gesvdaStridedBatched) missed the accuracy test for {} of {} "
      "matrices ({}x{}); redoing them with gesvdj",
      redo.size(), count_, m_, n_);
  // The packed copy of A now holds the Gram matrices: re-pack each matrix to redo.
  T* d_work2 = detail::at_offset<T>(ws, off_work2_);
  const T* src = static_cast<const T*>(a.data);
  for (const std::int64_t i : redo) {
    T* d_ai = d_a + i * rows_ * cols_;
    launch_copy_matrices<T>(src + i * a.stride, a.ld, 0, transposed_, d_ai, rows_, 0, rows_,
                            cols_, 1, nullptr, FailFill::none, stream);
    gesvdj_one(d_ai, rows_, cols_, d_s + i * k_, d_u + i * stride_u_, d_v + i * stride_v_, d_work2,
               lwork_fallback_, d_info + i, true);
  }
}

template <class T>
void svd(Context& ctx, const detail::SvdArgs& g) {
  CudaState& st = state_of(ctx);
  cudaStream_t stream = st.stream();
  const bool vectors = !g.u.empty();
  const std::int64_t k = std::min(g.m, g.n);
  SvdCore<T> core(st, g.algorithm, g.m, g.n, g.count, vectors);
  detail::WorkspaceLayout layout;
  core.add_to(layout);
  void* ws = ctx.workspace(layout.bytes());
  const SvdFactors<T> f = core.run(ws, g.a, g.info);

  // Outputs, with NaN for every matrix that failed.
  launch_copy_vectors<T>(f.s, f.stride_s, 1, static_cast<T*>(g.s.data), g.s.stride, g.s.inc, k,
                         g.count, g.info, FailFill::nan_if_failed, stream);
  if (!vectors) return;
  launch_copy_matrices<T>(f.u, f.ld_u, f.stride_u, false, static_cast<T*>(g.u.data), g.u.ld,
                          g.u.stride, g.m, k, g.count, g.info, FailFill::nan_if_failed, stream);
  // Vt(i, j) = V(j, i): a transposed copy of the first k columns of V.
  launch_copy_matrices<T>(f.v, f.ld_v, f.stride_v, true, static_cast<T*>(g.vt.data), g.vt.ld,
                          g.vt.stride, k, g.n, g.count, g.info, FailFill::nan_if_failed, stream);
}

template class SvdCore<float>;
template class SvdCore<double>;
template void svd<float>(Context&, const detail::SvdArgs&);
template void svd<double>(Context&, const detail::SvdArgs&);

}  // namespace dynx::cuda
