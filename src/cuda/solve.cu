// Batched LU solve and inverse on CUDA: cublas<t>getrfBatched (partial pivoting) on a packed copy
// of A, then cublas<t>getrsBatched in place on X, or cublas<t>getriBatched out of place into the
// inverse. Pointer arrays are built on the device; nothing synchronises.
//
// cuBLAS docs ("cublas<t>getrfBatched()"): info[k] = i > 0 means U(i,i) is exactly zero; that
// matrix is reported `singular` and its output filled with NaN. getrsBatched reports only argument
// errors, on the host. All dimensions and the batch size are 32-bit.

#include "cuda/check.hpp"
#include "cuda/cuda.hpp"
#include "cuda/launch.hpp"
#include "cuda/vendor.hpp"

#include "core/log.hpp"

namespace dynx::cuda {

template <class T>
void solve(Context& ctx, const detail::SolveArgs& g) {
  constexpr const char* op = "solve_batched";
  CudaState& st = state_of(ctx);
  cudaStream_t stream = st.stream();
  const std::int64_t n = g.n, nrhs = g.nrhs, count = g.count;
  const int ni = to_int(n, op, "n"), nrhsi = to_int(nrhs, op, "nrhs"),
            ldx = to_int(g.x.ld, op, "x.ld"), batch = to_int(count, op, "count");
  detail::log().debug("cuda solve: {} x {}x{} (nrhs {}) {} -> getrfBatched + getrsBatched", count,
                      n, n, nrhs, dtype_name(g.dtype));

  detail::WorkspaceLayout layout;
  const auto off_lu = layout.add<T>(static_cast<std::size_t>(n * n * count));
  const auto off_piv = layout.add<int>(static_cast<std::size_t>(n * count));
  const auto off_info = layout.add<int>(static_cast<std::size_t>(count));
  const auto off_a_ptrs = layout.add<T*>(static_cast<std::size_t>(count));
  const auto off_x_ptrs = layout.add<T*>(static_cast<std::size_t>(count));
  void* ws = ctx.workspace(layout.bytes());
  T* d_lu = detail::at_offset<T>(ws, off_lu);
  int* d_piv = detail::at_offset<int>(ws, off_piv);
  int* d_info = detail::at_offset<int>(ws, off_info);
  T** d_a_ptrs = detail::at_offset<T*>(ws, off_a_ptrs);
  T** d_x_ptrs = detail::at_offset<T*>(ws, off_x_ptrs);

  const T* a = static_cast<const T*>(g.a.data);
  const T* b = static_cast<const T*>(g.b.data);
  T* x = static_cast<T*>(g.x.data);
  launch_finite_check<T>(a, n, n, g.a.ld, g.a.stride, count, Region::full, g.info, stream);
  launch_finite_check<T>(b, n, nrhs, g.b.ld, g.b.stride, count, Region::full, g.info, stream);
  launch_copy_matrices<T>(a, g.a.ld, g.a.stride, false, d_lu, n, n * n, n, n, count, g.info,
                          FailFill::zero_if_non_finite, stream);
  // getrs overwrites its right-hand side: solve in X, after copying B there unless X is B (core
  // only lets them share memory when they are the same view).
  if (static_cast<const void*>(x) != static_cast<const void*>(b))
    launch_copy_matrices<T>(b, g.b.ld, g.b.stride, false, x, g.x.ld, g.x.stride, n, nrhs, count,
                            nullptr, FailFill::none, stream);
  launch_pointer_array<T>(d_lu, n * n, count, d_a_ptrs, stream);
  launch_pointer_array<T>(x, g.x.stride, count, d_x_ptrs, stream);

  DYNX_CUBLAS_CHECK(vendor::getrf_batched(st.cublas(), ni, d_a_ptrs, ni, d_piv, d_info, batch));
  int h_info = 0;
  DYNX_CUBLAS_CHECK(vendor::getrs_batched(st.cublas(), ni, nrhsi, d_a_ptrs, ni, d_piv, d_x_ptrs,
                                          ldx, &h_info, batch));
  if (h_info != 0)
    throw_cublas_error(CUBLAS_STATUS_INVALID_VALUE, "cublas<t>getrsBatched rejected an argument",
                       __FILE__, __LINE__);
  launch_merge_solver_info(g.info, d_info, count, MatrixStatus::singular, stream);
  launch_fill_nan_matrices<T>(x, n, nrhs, g.x.ld, g.x.stride, count, g.info, stream);
}

template <class T>
void inverse(Context& ctx, const detail::InverseArgs& g) {
  constexpr const char* op = "inverse_batched";
  CudaState& st = state_of(ctx);
  cudaStream_t stream = st.stream();
  const std::int64_t n = g.n, count = g.count;
  const int ni = to_int(n, op, "n"), ldc = to_int(g.ainv.ld, op, "ainv.ld"),
            batch = to_int(count, op, "count");
  detail::log().debug("cuda inverse: {} x {}x{} {} -> getrfBatched + getriBatched", count, n, n,
                      dtype_name(g.dtype));

  detail::WorkspaceLayout layout;
  const auto off_lu = layout.add<T>(static_cast<std::size_t>(n * n * count));
  const auto off_piv = layout.add<int>(static_cast<std::size_t>(n * count));
  const auto off_info_lu = layout.add<int>(static_cast<std::size_t>(count));
  const auto off_info_inv = layout.add<int>(static_cast<std::size_t>(count));
  const auto off_a_ptrs = layout.add<T*>(static_cast<std::size_t>(count));
  const auto off_c_ptrs = layout.add<T*>(static_cast<std::size_t>(count));
  void* ws = ctx.workspace(layout.bytes());
  T* d_lu = detail::at_offset<T>(ws, off_lu);
  int* d_piv = detail::at_offset<int>(ws, off_piv);
  int* d_info_lu = detail::at_offset<int>(ws, off_info_lu);
  int* d_info_inv = detail::at_offset<int>(ws, off_info_inv);
  T** d_a_ptrs = detail::at_offset<T*>(ws, off_a_ptrs);
  T** d_c_ptrs = detail::at_offset<T*>(ws, off_c_ptrs);

  const T* a = static_cast<const T*>(g.a.data);
  T* inv = static_cast<T*>(g.ainv.data);
  launch_finite_check<T>(a, n, n, g.a.ld, g.a.stride, count, Region::full, g.info, stream);
  launch_copy_matrices<T>(a, g.a.ld, g.a.stride, false, d_lu, n, n * n, n, n, count, g.info,
                          FailFill::zero_if_non_finite, stream);
  launch_pointer_array<T>(d_lu, n * n, count, d_a_ptrs, stream);
  launch_pointer_array<T>(inv, g.ainv.stride, count, d_c_ptrs, stream);

  DYNX_CUBLAS_CHECK(vendor::getrf_batched(st.cublas(), ni, d_a_ptrs, ni, d_piv, d_info_lu, batch));
  // getriBatched works out of place (A and C must not overlap): the LU stays in the workspace.
  DYNX_CUBLAS_CHECK(vendor::getri_batched(st.cublas(), ni, d_a_ptrs, ni, d_piv, d_c_ptrs, ldc,
                                          d_info_inv, batch));
  launch_merge_solver_info(g.info, d_info_lu, count, MatrixStatus::singular, stream);
  launch_merge_solver_info(g.info, d_info_inv, count, MatrixStatus::singular, stream);
  launch_fill_nan_matrices<T>(inv, n, n, g.ainv.ld, g.ainv.stride, count, g.info, stream);
}

template void solve<float>(Context&, const detail::SolveArgs&);
template void solve<double>(Context&, const detail::SolveArgs&);
template void inverse<float>(Context&, const detail::InverseArgs&);
template void inverse<double>(Context&, const detail::InverseArgs&);

}  // namespace dynx::cuda
