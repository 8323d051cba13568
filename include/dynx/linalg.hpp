#pragma once
/// \file linalg.hpp
/// Batched dense linear algebra on one device abstraction.
///
/// Common contract of every function here:
/// - All views must live on `ctx.device()`; a view on another device is an InvalidArgument.
/// - Matrices are column-major (see batch.hpp); every input and output batch has the same `count`.
///   `count == 0` is valid and does nothing.
/// - Inputs are never modified. Outputs must not overlap inputs unless stated.
/// - The call enqueues work on ctx's stream and returns (asynchronous on CUDA; on the CPU the work
///   is done when it returns).
/// - Shape, layout and device errors throw InvalidArgument before anything is enqueued.
/// - Per-matrix failures (singular, not converged, NaN/Inf input) go into `*status` when a
///   BatchStatus is given; the failed matrix's outputs are filled with NaN and the rest of the batch
///   is computed normally. When `status` is null the call synchronises at the end and throws
///   NumericalError if any matrix failed.
/// - T is float or double.

#include <dynx/batch.hpp>
#include <dynx/context.hpp>
#include <dynx/export.hpp>
#include <dynx/status.hpp>
#include <dynx/types.hpp>

#include <complex>
#include <cstdint>

namespace dynx {

/// C_k = alpha * op(A_k) * op(B_k) + beta * C_k for every k, where op(A_k) is m×k', op(B_k) is
/// k'×n and C_k is m×n. An input with `stride == 0` is broadcast: the same matrix is used for every
/// k. With beta == 0, C need not be initialised (NaN in C is not propagated).
template <class T>
DYNX_API void gemm_batched(Context& ctx, Op transa, Op transb, T alpha, MatrixBatch<const T> a,
                           MatrixBatch<const T> b, T beta, MatrixBatch<T> c);

/// Algorithms for svd_batched. `automatic` picks per device and shape (see choose_svd_algorithm).
enum class SvdAlgorithm {
  automatic = 0,
  divide_and_conquer,  ///< CPU: LAPACK gesdd (falls back to gesvd for a matrix where gesdd fails)
  qr_iteration,        ///< CPU: LAPACK gesvd
  jacobi_batched,      ///< CUDA: cusolver gesvdjBatched, m,n ≤ 32
  gram_batched,        ///< CUDA: cusolver gesvdaStridedBatched (accuracy ~ cond(A)·eps; see docs)
  jacobi_each,         ///< CUDA: cusolver gesvdj per matrix on the stream, any size
};

struct SvdOptions {
  SvdAlgorithm algorithm = SvdAlgorithm::automatic;
};

/// Thin SVD A_k = U_k diag(s_k) Vt_k of each m×n matrix, k = min(m, n): s_k holds k singular
/// values in descending order, U_k is m×k and Vt_k is k×n, both with orthonormal rows/columns.
/// Pass empty `u` and `vt` for values only (both or neither). Singular vectors are defined up to
/// sign (and up to rotation within repeated singular values). Status: not_converged, non_finite.
template <class T>
DYNX_API void svd_batched(Context& ctx, MatrixBatch<const T> a, VectorBatch<T> s, MatrixBatch<T> u,
                          MatrixBatch<T> vt, BatchStatus* status = nullptr,
                          const SvdOptions& options = {});

/// Thin QR A_k = Q_k R_k of each m×n matrix, k = min(m, n): Q_k is m×k with orthonormal columns,
/// R_k is k×n upper triangular (Householder; diagonal of R may be negative). Pass an empty `q` for
/// R only. Status: non_finite.
template <class T>
DYNX_API void qr_batched(Context& ctx, MatrixBatch<const T> a, MatrixBatch<T> q, MatrixBatch<T> r,
                         BatchStatus* status = nullptr);

/// Which triangle of a symmetric matrix is read.
enum class Uplo { lower = 0, upper = 1 };

struct EighOptions {
  Uplo uplo = Uplo::lower;
};

/// Eigen-decomposition of symmetric n×n matrices A_k = V_k diag(w_k) V_kᵀ, reading only the
/// `options.uplo` triangle: w_k holds the n eigenvalues in ascending order, V_k (optional; pass an
/// empty view for values only) the orthonormal eigenvectors as columns. Status: not_converged,
/// non_finite.
template <class T>
DYNX_API void eigh_batched(Context& ctx, MatrixBatch<const T> a, VectorBatch<T> w, MatrixBatch<T> v,
                           BatchStatus* status = nullptr, const EighOptions& options = {});

/// Eigenvalues of general real n×n matrices, A_k v = λ v, as complex numbers (conjugate pairs
/// adjacent, positive imaginary part first, in LAPACK geev order). With a non-empty `v`, the right
/// eigenvectors as columns of a complex n×n matrix, each normalised to unit 2-norm with its largest
/// component real. Status: not_converged, non_finite.
template <class T>
DYNX_API void eig_batched(Context& ctx, MatrixBatch<const T> a, VectorBatch<std::complex<T>> w,
                          MatrixBatch<std::complex<T>> v, BatchStatus* status = nullptr);

/// Solves A_k X_k = B_k for each n×n A_k and n×nrhs B_k by LU with partial pivoting. `x` may be the
/// same view as `b` (in place). Status: singular (exact zero pivot), non_finite.
template <class T>
DYNX_API void solve_batched(Context& ctx, MatrixBatch<const T> a, MatrixBatch<const T> b,
                            MatrixBatch<T> x, BatchStatus* status = nullptr);

/// Inverse of each n×n matrix by LU with partial pivoting. Status: singular, non_finite.
template <class T>
DYNX_API void inverse_batched(Context& ctx, MatrixBatch<const T> a, MatrixBatch<T> ainv,
                              BatchStatus* status = nullptr);

struct PolarOptions {
  /// The SVD used to form U Vᵀ.
  SvdAlgorithm svd_algorithm = SvdAlgorithm::automatic;
};

/// Orthogonal polar factor Q_k = U_k V_kᵀ of each m×n matrix A_k = U_k S_k V_kᵀ (thin SVD): the
/// m×n matrix with orthonormal columns (m ≥ n) or rows (m < n) nearest to A_k in Frobenius norm,
/// i.e. the solution of orthogonal Procrustes. For rank-deficient A_k the factor is not unique;
/// one valid choice is returned. Status: not_converged, non_finite.
template <class T>
DYNX_API void polar_batched(Context& ctx, MatrixBatch<const T> a, MatrixBatch<T> q,
                            BatchStatus* status = nullptr, const PolarOptions& options = {});

}  // namespace dynx
