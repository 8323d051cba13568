#pragma once
// Overloads of the LAPACKE `_work` and CBLAS routines the CPU backend uses, so that the typed code
// is written once for float and double. Column-major throughout; the `_work` variants take caller
// scratch (no allocation, no NaN scan) so they can run inside the batch loop.

#include <cblas.h>
#include <lapacke.h>

#include <cstdint>

namespace dynx::cpu::lapack {

using idx = lapack_int;

inline CBLAS_TRANSPOSE trans(bool t) { return t ? CblasTrans : CblasNoTrans; }

inline void gemm(bool ta, bool tb, idx m, idx n, idx k, float alpha, const float* a, idx lda,
                 const float* b, idx ldb, float beta, float* c, idx ldc) {
  cblas_sgemm(CblasColMajor, trans(ta), trans(tb), m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
inline void gemm(bool ta, bool tb, idx m, idx n, idx k, double alpha, const double* a, idx lda,
                 const double* b, idx ldb, double beta, double* c, idx ldc) {
  cblas_dgemm(CblasColMajor, trans(ta), trans(tb), m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

inline idx gesdd(char jobz, idx m, idx n, float* a, idx lda, float* s, float* u, idx ldu, float* vt,
                 idx ldvt, float* work, idx lwork, idx* iwork) {
  return LAPACKE_sgesdd_work(LAPACK_COL_MAJOR, jobz, m, n, a, lda, s, u, ldu, vt, ldvt, work, lwork, iwork);
}
inline idx gesdd(char jobz, idx m, idx n, double* a, idx lda, double* s, double* u, idx ldu,
                 double* vt, idx ldvt, double* work, idx lwork, idx* iwork) {
  return LAPACKE_dgesdd_work(LAPACK_COL_MAJOR, jobz, m, n, a, lda, s, u, ldu, vt, ldvt, work, lwork, iwork);
}

inline idx gesvd(char jobu, char jobvt, idx m, idx n, float* a, idx lda, float* s, float* u, idx ldu,
                 float* vt, idx ldvt, float* work, idx lwork) {
  return LAPACKE_sgesvd_work(LAPACK_COL_MAJOR, jobu, jobvt, m, n, a, lda, s, u, ldu, vt, ldvt, work, lwork);
}
inline idx gesvd(char jobu, char jobvt, idx m, idx n, double* a, idx lda, double* s, double* u,
                 idx ldu, double* vt, idx ldvt, double* work, idx lwork) {
  return LAPACKE_dgesvd_work(LAPACK_COL_MAJOR, jobu, jobvt, m, n, a, lda, s, u, ldu, vt, ldvt, work, lwork);
}

inline idx geqrf(idx m, idx n, float* a, idx lda, float* tau, float* work, idx lwork) {
  return LAPACKE_sgeqrf_work(LAPACK_COL_MAJOR, m, n, a, lda, tau, work, lwork);
}
inline idx geqrf(idx m, idx n, double* a, idx lda, double* tau, double* work, idx lwork) {
  return LAPACKE_dgeqrf_work(LAPACK_COL_MAJOR, m, n, a, lda, tau, work, lwork);
}
inline idx orgqr(idx m, idx n, idx k, float* a, idx lda, const float* tau, float* work, idx lwork) {
  return LAPACKE_sorgqr_work(LAPACK_COL_MAJOR, m, n, k, a, lda, tau, work, lwork);
}
inline idx orgqr(idx m, idx n, idx k, double* a, idx lda, const double* tau, double* work, idx lwork) {
  return LAPACKE_dorgqr_work(LAPACK_COL_MAJOR, m, n, k, a, lda, tau, work, lwork);
}

inline idx syevd(char jobz, char uplo, idx n, float* a, idx lda, float* w, float* work, idx lwork,
                 idx* iwork, idx liwork) {
  return LAPACKE_ssyevd_work(LAPACK_COL_MAJOR, jobz, uplo, n, a, lda, w, work, lwork, iwork, liwork);
}
inline idx syevd(char jobz, char uplo, idx n, double* a, idx lda, double* w, double* work,
                 idx lwork, idx* iwork, idx liwork) {
  return LAPACKE_dsyevd_work(LAPACK_COL_MAJOR, jobz, uplo, n, a, lda, w, work, lwork, iwork, liwork);
}

inline idx geev(char jobvr, idx n, float* a, idx lda, float* wr, float* wi, float* vr, idx ldvr,
                float* work, idx lwork) {
  return LAPACKE_sgeev_work(LAPACK_COL_MAJOR, 'N', jobvr, n, a, lda, wr, wi, nullptr, 1, vr, ldvr, work, lwork);
}
inline idx geev(char jobvr, idx n, double* a, idx lda, double* wr, double* wi, double* vr, idx ldvr,
                double* work, idx lwork) {
  return LAPACKE_dgeev_work(LAPACK_COL_MAJOR, 'N', jobvr, n, a, lda, wr, wi, nullptr, 1, vr, ldvr, work, lwork);
}

inline idx getrf(idx m, idx n, float* a, idx lda, idx* ipiv) {
  return LAPACKE_sgetrf_work(LAPACK_COL_MAJOR, m, n, a, lda, ipiv);
}
inline idx getrf(idx m, idx n, double* a, idx lda, idx* ipiv) {
  return LAPACKE_dgetrf_work(LAPACK_COL_MAJOR, m, n, a, lda, ipiv);
}
inline idx getrs(idx n, idx nrhs, const float* a, idx lda, const idx* ipiv, float* b, idx ldb) {
  return LAPACKE_sgetrs_work(LAPACK_COL_MAJOR, 'N', n, nrhs, a, lda, ipiv, b, ldb);
}
inline idx getrs(idx n, idx nrhs, const double* a, idx lda, const idx* ipiv, double* b, idx ldb) {
  return LAPACKE_dgetrs_work(LAPACK_COL_MAJOR, 'N', n, nrhs, a, lda, ipiv, b, ldb);
}
inline idx getri(idx n, float* a, idx lda, const idx* ipiv, float* work, idx lwork) {
  return LAPACKE_sgetri_work(LAPACK_COL_MAJOR, n, a, lda, ipiv, work, lwork);
}
inline idx getri(idx n, double* a, idx lda, const idx* ipiv, double* work, idx lwork) {
  return LAPACKE_dgetri_work(LAPACK_COL_MAJOR, n, a, lda, ipiv, work, lwork);
}

/// LAPACK returns optimal workspace sizes as a floating-point number in work[0].
template <class T>
idx work_size(T w) {
  const idx n = static_cast<idx>(w);
  return n < 1 ? 1 : n;
}

}  // namespace dynx::cpu::lapack
