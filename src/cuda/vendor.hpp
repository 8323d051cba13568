#pragma once
// Type-overloaded forwarding of the cuBLAS/cuSOLVER S and D routines the backend uses, so that
// the operation templates can call one name for float and double. Each returns the library
// status; callers wrap them in DYNX_CUBLAS_CHECK / DYNX_CUSOLVER_CHECK.

#include <cublas_v2.h>
#include <cusolverDn.h>
#include <library_types.h>

#include <cstdint>

namespace dynx::cuda::vendor {

template <class T> constexpr cudaDataType data_type();
template <> constexpr cudaDataType data_type<float>() { return CUDA_R_32F; }
template <> constexpr cudaDataType data_type<double>() { return CUDA_R_64F; }

// --- cuBLAS --------------------------------------------------------------------------------------

inline cublasStatus_t gemm_strided_batched(cublasHandle_t h, cublasOperation_t ta,
                                           cublasOperation_t tb, std::int64_t m, std::int64_t n,
                                           std::int64_t k, const float* alpha, const float* a,
                                           std::int64_t lda, long long sa, const float* b,
                                           std::int64_t ldb, long long sb, const float* beta,
                                           float* c, std::int64_t ldc, long long sc,
                                           std::int64_t count) {
  return cublasSgemmStridedBatched_64(h, ta, tb, m, n, k, alpha, a, lda, sa, b, ldb, sb, beta, c,
                                      ldc, sc, count);
}
inline cublasStatus_t gemm_strided_batched(cublasHandle_t h, cublasOperation_t ta,
                                           cublasOperation_t tb, std::int64_t m, std::int64_t n,
                                           std::int64_t k, const double* alpha, const double* a,
                                           std::int64_t lda, long long sa, const double* b,
                                           std::int64_t ldb, long long sb, const double* beta,
                                           double* c, std::int64_t ldc, long long sc,
                                           std::int64_t count) {
  return cublasDgemmStridedBatched_64(h, ta, tb, m, n, k, alpha, a, lda, sa, b, ldb, sb, beta, c,
                                      ldc, sc, count);
}

inline cublasStatus_t geqrf_batched(cublasHandle_t h, int m, int n, float* const a[], int lda,
                                    float* const tau[], int* h_info, int count) {
  return cublasSgeqrfBatched(h, m, n, a, lda, tau, h_info, count);
}
inline cublasStatus_t geqrf_batched(cublasHandle_t h, int m, int n, double* const a[], int lda,
                                    double* const tau[], int* h_info, int count) {
  return cublasDgeqrfBatched(h, m, n, a, lda, tau, h_info, count);
}

inline cublasStatus_t getrf_batched(cublasHandle_t h, int n, float* const a[], int lda, int* d_piv,
                                    int* d_info, int count) {
  return cublasSgetrfBatched(h, n, a, lda, d_piv, d_info, count);
}
inline cublasStatus_t getrf_batched(cublasHandle_t h, int n, double* const a[], int lda,
                                    int* d_piv, int* d_info, int count) {
  return cublasDgetrfBatched(h, n, a, lda, d_piv, d_info, count);
}

inline cublasStatus_t getrs_batched(cublasHandle_t h, int n, int nrhs, const float* const a[],
                                    int lda, const int* d_piv, float* const b[], int ldb,
                                    int* h_info, int count) {
  return cublasSgetrsBatched(h, CUBLAS_OP_N, n, nrhs, a, lda, d_piv, b, ldb, h_info, count);
}
inline cublasStatus_t getrs_batched(cublasHandle_t h, int n, int nrhs, const double* const a[],
                                    int lda, const int* d_piv, double* const b[], int ldb,
                                    int* h_info, int count) {
  return cublasDgetrsBatched(h, CUBLAS_OP_N, n, nrhs, a, lda, d_piv, b, ldb, h_info, count);
}

inline cublasStatus_t getri_batched(cublasHandle_t h, int n, const float* const a[], int lda,
                                    const int* d_piv, float* const c[], int ldc, int* d_info,
                                    int count) {
  return cublasSgetriBatched(h, n, a, lda, d_piv, c, ldc, d_info, count);
}
inline cublasStatus_t getri_batched(cublasHandle_t h, int n, const double* const a[], int lda,
                                    const int* d_piv, double* const c[], int ldc, int* d_info,
                                    int count) {
  return cublasDgetriBatched(h, n, a, lda, d_piv, c, ldc, d_info, count);
}

// --- cuSOLVER: Jacobi SVD ------------------------------------------------------------------------

inline cusolverStatus_t gesvdj_batched_buffer_size(cusolverDnHandle_t h, cusolverEigMode_t jobz,
                                                   int m, int n, const float* a, int lda,
                                                   const float* s, const float* u, int ldu,
                                                   const float* v, int ldv, int* lwork,
                                                   gesvdjInfo_t p, int count) {
  return cusolverDnSgesvdjBatched_bufferSize(h, jobz, m, n, a, lda, s, u, ldu, v, ldv, lwork, p,
                                             count);
}
inline cusolverStatus_t gesvdj_batched_buffer_size(cusolverDnHandle_t h, cusolverEigMode_t jobz,
                                                   int m, int n, const double* a, int lda,
                                                   const double* s, const double* u, int ldu,
                                                   const double* v, int ldv, int* lwork,
                                                   gesvdjInfo_t p, int count) {
  return cusolverDnDgesvdjBatched_bufferSize(h, jobz, m, n, a, lda, s, u, ldu, v, ldv, lwork, p,
                                             count);
}
inline cusolverStatus_t gesvdj_batched(cusolverDnHandle_t h, cusolverEigMode_t jobz, int m, int n,
                                       float* a, int lda, float* s, float* u, int ldu, float* v,
                                       int ldv, float* work, int lwork, int* d_info,
                                       gesvdjInfo_t p, int count) {
  return cusolverDnSgesvdjBatched(h, jobz, m, n, a, lda, s, u, ldu, v, ldv, work, lwork, d_info, p,
                                  count);
}
inline cusolverStatus_t gesvdj_batched(cusolverDnHandle_t h, cusolverEigMode_t jobz, int m, int n,
                                       double* a, int lda, double* s, double* u, int ldu,
                                       double* v, int ldv, double* work, int lwork, int* d_info,
                                       gesvdjInfo_t p, int count) {
  return cusolverDnDgesvdjBatched(h, jobz, m, n, a, lda, s, u, ldu, v, ldv, work, lwork, d_info, p,
                                  count);
}

inline cusolverStatus_t gesvdj_buffer_size(cusolverDnHandle_t h, cusolverEigMode_t jobz, int econ,
                                           int m, int n, const float* a, int lda, const float* s,
                                           const float* u, int ldu, const float* v, int ldv,
                                           int* lwork, gesvdjInfo_t p) {
  return cusolverDnSgesvdj_bufferSize(h, jobz, econ, m, n, a, lda, s, u, ldu, v, ldv, lwork, p);
}
inline cusolverStatus_t gesvdj_buffer_size(cusolverDnHandle_t h, cusolverEigMode_t jobz, int econ,
                                           int m, int n, const double* a, int lda,
                                           const double* s, const double* u, int ldu,
                                           const double* v, int ldv, int* lwork, gesvdjInfo_t p) {
  return cusolverDnDgesvdj_bufferSize(h, jobz, econ, m, n, a, lda, s, u, ldu, v, ldv, lwork, p);
}
inline cusolverStatus_t gesvdj(cusolverDnHandle_t h, cusolverEigMode_t jobz, int econ, int m,
                               int n, float* a, int lda, float* s, float* u, int ldu, float* v,
                               int ldv, float* work, int lwork, int* d_info, gesvdjInfo_t p) {
  return cusolverDnSgesvdj(h, jobz, econ, m, n, a, lda, s, u, ldu, v, ldv, work, lwork, d_info, p);
}
inline cusolverStatus_t gesvdj(cusolverDnHandle_t h, cusolverEigMode_t jobz, int econ, int m,
                               int n, double* a, int lda, double* s, double* u, int ldu,
                               double* v, int ldv, double* work, int lwork, int* d_info,
                               gesvdjInfo_t p) {
  return cusolverDnDgesvdj(h, jobz, econ, m, n, a, lda, s, u, ldu, v, ldv, work, lwork, d_info, p);
}

// --- cuSOLVER: approximate (Gram) SVD ------------------------------------------------------------

inline cusolverStatus_t gesvda_strided_batched_buffer_size(
    cusolverDnHandle_t h, cusolverEigMode_t jobz, int rank, int m, int n, const float* a, int lda,
    long long sa, const float* s, long long ss, const float* u, int ldu, long long su,
    const float* v, int ldv, long long sv, int* lwork, int count) {
  return cusolverDnSgesvdaStridedBatched_bufferSize(h, jobz, rank, m, n, a, lda, sa, s, ss, u, ldu,
                                                    su, v, ldv, sv, lwork, count);
}
inline cusolverStatus_t gesvda_strided_batched_buffer_size(
    cusolverDnHandle_t h, cusolverEigMode_t jobz, int rank, int m, int n, const double* a, int lda,
    long long sa, const double* s, long long ss, const double* u, int ldu, long long su,
    const double* v, int ldv, long long sv, int* lwork, int count) {
  return cusolverDnDgesvdaStridedBatched_bufferSize(h, jobz, rank, m, n, a, lda, sa, s, ss, u, ldu,
                                                    su, v, ldv, sv, lwork, count);
}
inline cusolverStatus_t gesvda_strided_batched(cusolverDnHandle_t h, cusolverEigMode_t jobz,
                                               int rank, int m, int n, const float* a, int lda,
                                               long long sa, float* s, long long ss, float* u,
                                               int ldu, long long su, float* v, int ldv,
                                               long long sv, float* work, int lwork, int* d_info,
                                               double* h_r_nrm_f, int count) {
  return cusolverDnSgesvdaStridedBatched(h, jobz, rank, m, n, a, lda, sa, s, ss, u, ldu, su, v, ldv,
                                         sv, work, lwork, d_info, h_r_nrm_f, count);
}
inline cusolverStatus_t gesvda_strided_batched(cusolverDnHandle_t h, cusolverEigMode_t jobz,
                                               int rank, int m, int n, const double* a, int lda,
                                               long long sa, double* s, long long ss, double* u,
                                               int ldu, long long su, double* v, int ldv,
                                               long long sv, double* work, int lwork, int* d_info,
                                               double* h_r_nrm_f, int count) {
  return cusolverDnDgesvdaStridedBatched(h, jobz, rank, m, n, a, lda, sa, s, ss, u, ldu, su, v, ldv,
                                         sv, work, lwork, d_info, h_r_nrm_f, count);
}

// --- cuSOLVER: Jacobi symmetric eigensolver ------------------------------------------------------

inline cusolverStatus_t syevj_batched_buffer_size(cusolverDnHandle_t h, cusolverEigMode_t jobz,
                                                  cublasFillMode_t uplo, int n, const float* a,
                                                  int lda, const float* w, int* lwork,
                                                  syevjInfo_t p, int count) {
  return cusolverDnSsyevjBatched_bufferSize(h, jobz, uplo, n, a, lda, w, lwork, p, count);
}
inline cusolverStatus_t syevj_batched_buffer_size(cusolverDnHandle_t h, cusolverEigMode_t jobz,
                                                  cublasFillMode_t uplo, int n, const double* a,
                                                  int lda, const double* w, int* lwork,
                                                  syevjInfo_t p, int count) {
  return cusolverDnDsyevjBatched_bufferSize(h, jobz, uplo, n, a, lda, w, lwork, p, count);
}
inline cusolverStatus_t syevj_batched(cusolverDnHandle_t h, cusolverEigMode_t jobz,
                                      cublasFillMode_t uplo, int n, float* a, int lda, float* w,
                                      float* work, int lwork, int* d_info, syevjInfo_t p,
                                      int count) {
  return cusolverDnSsyevjBatched(h, jobz, uplo, n, a, lda, w, work, lwork, d_info, p, count);
}
inline cusolverStatus_t syevj_batched(cusolverDnHandle_t h, cusolverEigMode_t jobz,
                                      cublasFillMode_t uplo, int n, double* a, int lda, double* w,
                                      double* work, int lwork, int* d_info, syevjInfo_t p,
                                      int count) {
  return cusolverDnDsyevjBatched(h, jobz, uplo, n, a, lda, w, work, lwork, d_info, p, count);
}

}  // namespace dynx::cuda::vendor
