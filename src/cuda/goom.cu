// GOOM conversions and batched log-matmul-exp on CUDA (spec goom.md §1–3; kernels in
// kernels/goom.cuh).
//
// log_matmul_exp with two-sided scaling (§3.4), as the CPU backend's lmme_one, in four passes on
// the context's stream:
//   1. rows of B: r_l = max_j B(l, j) and Y = ±exp(B − r) (one thread per row of B);
//   2. rows of A: a_i = max_l (A(i, l) + r_l) and X = ±exp((A + r) − a) (one thread per row);
//   3. Z = X · Y, one cuBLAS strided-batched GEMM in the compute type (pedantic FP32 or FP64: no
//      TF32 unless InnerPrecision::tf32 asks for it);
//   4. C = (ln|Z| + a_i, Z < 0), NaN for items whose inputs held NaN or +∞ logmag.
// Broadcast inputs (stride 0) are scaled once: Y (and r) once when B is broadcast, X once when
// both are, and then the GEMM runs once and its result is shared by every item.

#include "cuda/check.hpp"
#include "cuda/cuda.hpp"
#include "cuda/vendor.hpp"

#include "core/log.hpp"
#include "core/workspace.hpp"

#include "kernels/goom.cuh"

#include <type_traits>

namespace dynx::cuda {

template <class C>
void gemm_nn_strided(CudaState& state, std::int64_t m, std::int64_t n, std::int64_t k, const C* d_a,
                     std::int64_t lda, std::int64_t stride_a, const C* d_b, std::int64_t ldb,
                     std::int64_t stride_b, C* d_c, std::int64_t ldc, std::int64_t stride_c,
                     std::int64_t batch, bool allow_tf32) {
  static_assert(std::is_same_v<C, float> || std::is_same_v<C, double>, "float or double");
  const C one = 1, zero = 0;
  constexpr cudaDataType type = std::is_same_v<C, float> ? CUDA_R_32F : CUDA_R_64F;
  // Pedantic compute types: plain IEEE products and sums in C whatever the handle's math mode or
  // NVIDIA_TF32_OVERRIDE say (cuBLAS docs, "cublasComputeType_t").
  cublasComputeType_t compute = CUBLAS_COMPUTE_64F_PEDANTIC;
  if constexpr (std::is_same_v<C, float>)
    compute = allow_tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F_PEDANTIC;
  // With beta == 0 cuBLAS does not read C.
  const long long sa = batch > 1 ? stride_a : 0, sb = batch > 1 ? stride_b : 0,
                  sc = batch > 1 ? stride_c : 0;
  const cublasStatus_t status = cublasGemmStridedBatchedEx_64(
      state.cublas(), CUBLAS_OP_N, CUBLAS_OP_N, m, n, k, &one, d_a, type, lda, sa, d_b, type, ldb,
      sb, &zero, d_c, type, ldc, sc, batch, compute, CUBLAS_GEMM_DEFAULT);
  if (status == CUBLAS_STATUS_NOT_SUPPORTED && !allow_tf32) {
    // A cuBLAS without the pedantic path for this shape: the plain S/D routine, which uses the
    // handle's default math mode (no TF32 unless NVIDIA_TF32_OVERRIDE forces it).
    detail::log().warn(
        "cuda gemm: pedantic compute type not supported; using the default math mode");
    DYNX_CUBLAS_CHECK(vendor::gemm_strided_batched(state.cublas(), CUBLAS_OP_N, CUBLAS_OP_N, m, n,
                                                   k, &one, d_a, lda, sa, d_b, ldb, sb, &zero, d_c,
                                                   ldc, sc, batch));
    return;
  }
  DYNX_CUBLAS_CHECK(status);
}

template void gemm_nn_strided<float>(CudaState&, std::int64_t, std::int64_t, std::int64_t,
                                     const float*, std::int64_t, std::int64_t, const float*,
                                     std::int64_t, std::int64_t, float*, std::int64_t, std::int64_t,
                                     std::int64_t, bool);
template void gemm_nn_strided<double>(CudaState&, std::int64_t, std::int64_t, std::int64_t,
                                      const double*, std::int64_t, std::int64_t, const double*,
                                      std::int64_t, std::int64_t, double*, std::int64_t,
                                      std::int64_t, std::int64_t, bool);

template <class T>
void goom_convert(Context& ctx, const detail::GoomConvertArgs& a) {
  if (a.m == 0 || a.n == 0 || a.count == 0) return;
  constexpr int kBlock = kernels::kBlockSize;
  const dim3 grid = kernels::batched_grid(a.m * a.n, a.count);
  cudaStream_t stream = state_of(ctx).stream();
  T* real = static_cast<T*>(a.real.data);
  T* lm = static_cast<T*>(a.logmag.data);
  auto* neg = static_cast<std::uint8_t*>(a.neg.data);
  if (a.to_real) {
    kernels::goom_to_real_kernel<kBlock, T><<<grid, kBlock, 0, stream>>>(
        lm, a.logmag.ld, a.logmag.stride, neg, a.neg.ld, a.neg.stride, real, a.real.ld,
        a.real.stride, a.m, a.n, a.count, static_cast<T>(a.shift));
  } else {
    kernels::goom_from_real_kernel<kBlock, T><<<grid, kBlock, 0, stream>>>(
        real, a.real.ld, a.real.stride, lm, a.logmag.ld, a.logmag.stride, neg, a.neg.ld,
        a.neg.stride, a.m, a.n, a.count);
  }
  DYNX_CUDA_LAUNCH_CHECK();
}

namespace {

/// Blocks for a 1-D grid-stride loop over `items` threads' worth of work.
unsigned blocks_for(std::int64_t items) { return kernels::batched_grid(items, 1).x; }

template <class T, class C>
void lmme_in(Context& ctx, const detail::LmmeArgs& g, bool allow_tf32) {
  CudaState& st = state_of(ctx);
  cudaStream_t stream = st.stream();
  const std::int64_t m = g.m, n = g.n, k = g.k, count = g.count;
  if (count == 0) return;
  // One scaled copy of an operand serves the whole batch when it is broadcast (with count 1 the
  // strides are meaningless). X depends on B's row maxima, so it is shared only when both are.
  const bool a_bcast = count == 1 || (g.a.stride == 0 && g.a_neg.stride == 0);
  const bool b_bcast = count == 1 || (g.b.stride == 0 && g.b_neg.stride == 0);
  const std::int64_t ny = b_bcast ? 1 : count;
  const std::int64_t nx = a_bcast && b_bcast ? 1 : count;  // also the number of Z products
  detail::log().debug("cuda log_matmul_exp: {} x ({}x{}x{}) {}, compute {}{}", count, m, k, n,
                      dtype_name(g.dtype), std::is_same_v<C, double> ? "f64" : "f32",
                      allow_tf32 ? " (tf32)" : "");

  detail::WorkspaceLayout layout;
  const std::size_t off_r = layout.add<C>(std::size_t(ny * k));
  const std::size_t off_y = layout.add<C>(std::size_t(ny * k * n));
  const std::size_t off_fb = layout.add<std::int32_t>(std::size_t(ny));
  const std::size_t off_a = layout.add<C>(std::size_t(nx * m));
  const std::size_t off_x = layout.add<C>(std::size_t(nx * m * k));
  const std::size_t off_fa = layout.add<std::int32_t>(std::size_t(nx));
  const std::size_t off_z = layout.add<C>(std::size_t(nx * m * n));
  void* ws = ctx.workspace(layout.bytes());
  C* d_r = detail::at_offset<C>(ws, off_r);
  C* d_y = detail::at_offset<C>(ws, off_y);
  auto* d_flag_b = detail::at_offset<std::int32_t>(ws, off_fb);
  C* d_scale = detail::at_offset<C>(ws, off_a);
  C* d_x = detail::at_offset<C>(ws, off_x);
  auto* d_flag_a = detail::at_offset<std::int32_t>(ws, off_fa);
  C* d_z = detail::at_offset<C>(ws, off_z);
  DYNX_CUDA_CHECK(cudaMemsetAsync(d_flag_b, 0, std::size_t(ny) * sizeof(std::int32_t), stream));
  DYNX_CUDA_CHECK(cudaMemsetAsync(d_flag_a, 0, std::size_t(nx) * sizeof(std::int32_t), stream));

  constexpr int kBlock = kernels::kBlockSize;
  const auto* a = static_cast<const T*>(g.a.data);
  const auto* an = static_cast<const std::uint8_t*>(g.a_neg.data);
  const auto* b = static_cast<const T*>(g.b.data);
  const auto* bn = static_cast<const std::uint8_t*>(g.b_neg.data);
  if (ny * k > 0) {
    kernels::lmme_right_kernel<kBlock, T, C><<<blocks_for(ny * k), kBlock, 0, stream>>>(
        b, g.b.ld, g.b.stride, bn, g.b_neg.ld, g.b_neg.stride, k, n, ny, d_r, d_y, d_flag_b);
    DYNX_CUDA_LAUNCH_CHECK();
  }
  if (nx * m > 0) {
    kernels::lmme_left_kernel<kBlock, T, C><<<blocks_for(nx * m), kBlock, 0, stream>>>(
        a, g.a.ld, g.a.stride, an, g.a_neg.ld, g.a_neg.stride, m, k, nx, ny, d_r, d_scale, d_x,
        d_flag_a);
    DYNX_CUDA_LAUNCH_CHECK();
  }
  const bool have_z = m > 0 && n > 0 && k > 0;
  if (have_z) {
    gemm_nn_strided<C>(st, m, n, k, d_x, m, m * k, d_y, k, ny == 1 ? 0 : k * n, d_z, m, m * n, nx,
                       allow_tf32);
  }
  kernels::lmme_status_kernel<kBlock>
      <<<blocks_for(count), kBlock, 0, stream>>>(d_flag_a, nx, d_flag_b, ny, count, g.info);
  DYNX_CUDA_LAUNCH_CHECK();
  if (m > 0 && n > 0) {
    kernels::lmme_epilogue_kernel<kBlock, T, C>
        <<<kernels::batched_grid(m * n, count), kBlock, 0, stream>>>(
            have_z ? d_z : nullptr, nx, d_scale, nx, g.info, static_cast<T*>(g.c.data), g.c.ld,
            g.c.stride, static_cast<std::uint8_t*>(g.c_neg.data), g.c_neg.ld, g.c_neg.stride, m, n,
            count);
    DYNX_CUDA_LAUNCH_CHECK();
  }
}

}  // namespace

template <class T>
void lmme(Context& ctx, const detail::LmmeArgs& g) {
  // Compute type as in the CPU backend: T, or double for f64. TF32 only changes float GEMMs.
  if (g.precision == InnerPrecision::f64) {
    lmme_in<T, double>(ctx, g, false);
  } else {
    lmme_in<T, T>(ctx, g, g.precision == InnerPrecision::tf32);
  }
}

template void goom_convert<float>(Context&, const detail::GoomConvertArgs&);
template void goom_convert<double>(Context&, const detail::GoomConvertArgs&);
template void lmme<float>(Context&, const detail::LmmeArgs&);
template void lmme<double>(Context&, const detail::LmmeArgs&);

}  // namespace dynx::cuda
