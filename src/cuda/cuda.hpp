#pragma once
// CUDA backend internals: the typed implementation of each batched operation (one .cu file per
// op, instantiated there for float and double) and the SVD core that svd and polar share.

#include "core/backend.hpp"
#include "core/workspace.hpp"
#include "cuda/state.hpp"

#include <cstddef>
#include <cstdint>

namespace dynx::cuda {

detail::Backend& backend();

// Devices and memory (memory.cu).
int device_count() noexcept;
void* allocate(Device device, std::size_t bytes);
void deallocate(Device device, void* ptr) noexcept;
void copy(Context& ctx, void* dst, const void* src, std::size_t bytes);
void zero(Context& ctx, void* dst, std::size_t bytes);

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

/// C_b = A_b · B_b (no transposes, alpha 1, beta 0) for `batch` column-major products in type C
/// (float or double) on the context's stream, strides as in cuBLAS *StridedBatched (0 broadcasts).
/// IEEE arithmetic in C (pedantic compute type: no TF32, no emulation; the plain S/D routine in
/// the handle's default math mode should cuBLAS not support it) unless `allow_tf32`, which lets
/// float products use TF32 tensor cores (InnerPrecision::tf32). Defined in goom.cu.
template <class C>
void gemm_nn_strided(CudaState& state, std::int64_t m, std::int64_t n, std::int64_t k,
                     const C* d_a, std::int64_t lda, std::int64_t stride_a, const C* d_b,
                     std::int64_t ldb, std::int64_t stride_b, C* d_c, std::int64_t ldc,
                     std::int64_t stride_c, std::int64_t batch, bool allow_tf32);

/// Thin factors A_k = U_k diag(s_k) V_kᵀ as the SVD core leaves them in the workspace, k =
/// min(m, n): s_k descending (k entries, contiguous), U_k the first k columns of an m-row matrix,
/// V_k the first k columns of an n-row matrix (V, not Vᵀ). Failed matrices hold garbage; their
/// status is set.
template <class T>
struct SvdFactors {
  const T* s;
  std::int64_t stride_s;
  const T* u;  // null for values only
  std::int64_t ld_u, stride_u;
  const T* v;  // null for values only
  std::int64_t ld_v, stride_v;
};

/// The SVD of a batch by one of the CUDA algorithms (jacobi_batched, gram_batched, jacobi_each),
/// shared by svd_batched and polar_batched. Usage: construct, add_to(layout) alongside the
/// caller's own scratch, take one ctx.workspace(layout.bytes()), then run().
template <class T>
class SvdCore {
 public:
  /// Whether `algorithm` can factor m × n matrices on CUDA (jacobi_batched: m, n <= 32; all:
  /// 32-bit dimensions). The dispatcher's choice always satisfies it.
  static bool can_run(SvdAlgorithm algorithm, std::int64_t m, std::int64_t n);

  SvdCore(CudaState& state, SvdAlgorithm algorithm, std::int64_t m, std::int64_t n,
          std::int64_t count, bool vectors);
  /// Reserves this algorithm's scratch in `layout`.
  void add_to(detail::WorkspaceLayout& layout);
  /// Flags non-finite inputs in d_status, factors every matrix, and marks matrices that did not
  /// converge. Enqueued on the context's stream; gram_batched synchronises once (see svd.cu).
  SvdFactors<T> run(void* workspace, const detail::MatRef& a, std::int32_t* d_status);

 private:
  void run_jacobi_batched(void* ws, std::int32_t* d_status);
  void run_jacobi_each(void* ws, std::int32_t* d_status);
  void run_gram_batched(void* ws, const detail::MatRef& a, std::int32_t* d_status);
  void gesvdj_one(T* d_a, std::int64_t rows, std::int64_t cols, T* d_s, T* d_u, T* d_v, T* d_work,
                  int lwork, int* d_info, bool vectors);
  int gesvdj_lwork(std::int64_t rows, std::int64_t cols, bool vectors);

  CudaState& state_;
  SvdAlgorithm algorithm_;
  std::int64_t m_, n_, k_, count_;
  bool vectors_;
  // Packed solver input: rows_ × cols_ (A, or Aᵀ when gram_batched factors a wide matrix).
  std::int64_t rows_, cols_;
  bool transposed_ = false;
  std::int64_t ld_u_ = 0, stride_u_ = 0, ld_v_ = 0, stride_v_ = 0;
  int lwork_ = 0, lwork_fallback_ = 0;
  std::size_t off_a_ = 0, off_s_ = 0, off_u_ = 0, off_v_ = 0, off_work_ = 0, off_work2_ = 0,
              off_info_ = 0, off_norms_ = 0, off_orth_ = 0;
};

}  // namespace dynx::cuda
