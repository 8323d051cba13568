// Batched symmetric eigensolver on CUDA (see choose_eigh_cuda_algorithm):
//
// - jacobi_batched (n <= 32): cusolverDn<t>syevjBatched, one call for the batch. cuSOLVER limits
//   it to n <= 32; sweeps are bounded (kJacobiMaxSweeps) and eigenvalues sorted ascending.
// - syevd_each: cusolverDnXsyevd (divide and conquer) per matrix on the stream.
//
// Only the `uplo` triangle is read, by the finite check and by cuSOLVER. Asynchronous.
// cuSOLVER Library docs: "cusolverDn<t>syevjBatched()", "cusolverDnXsyevd()".

#include "cuda/check.hpp"
#include "cuda/cuda.hpp"
#include "cuda/launch.hpp"
#include "cuda/vendor.hpp"

#include "core/heuristics.hpp"
#include "core/log.hpp"

namespace dynx::cuda {

template <class T>
void eigh(Context& ctx, const detail::EighArgs& g) {
  constexpr const char* op = "eigh_batched";
  CudaState& st = state_of(ctx);
  cudaStream_t stream = st.stream();
  cusolverDnHandle_t h = st.cusolver();
  const std::int64_t n = g.n, count = g.count;
  const int ni = to_int(n, op, "n"), batch = to_int(count, op, "count");
  const bool vectors = !g.v.empty();
  const cusolverEigMode_t jobz = vectors ? CUSOLVER_EIG_MODE_VECTOR : CUSOLVER_EIG_MODE_NOVECTOR;
  const cublasFillMode_t uplo =
      g.uplo == Uplo::lower ? CUBLAS_FILL_MODE_LOWER : CUBLAS_FILL_MODE_UPPER;
  const detail::EighCudaAlgorithm algo = detail::choose_eigh_cuda_algorithm(n, count);
  const bool jacobi = algo == detail::EighCudaAlgorithm::jacobi_batched;
  detail::log().debug("cuda eigh: {} x {}x{} {} -> {}{}", count, n, n, dtype_name(g.dtype),
                      jacobi ? "syevjBatched" : "Xsyevd per matrix",
                      vectors ? "" : " (values only)");

  constexpr cudaDataType dt = vendor::data_type<T>();
  BufferSizes sizes;
  if (jacobi) {
    syevjInfo_t params = st.syevj_params();
    sizes = st.buffer_sizes({"syevjBatched", g.dtype, n, vectors, g.uplo == Uplo::lower, count},
                            [&] {
                              int lwork = 0;
                              DYNX_CUSOLVER_CHECK(vendor::syevj_batched_buffer_size(
                                  h, jobz, uplo, ni, static_cast<const T*>(nullptr), ni,
                                  static_cast<const T*>(nullptr), &lwork, params, batch));
                              return BufferSizes{static_cast<std::size_t>(lwork) * sizeof(T), 0};
                            });
  } else {
    sizes = st.buffer_sizes({"Xsyevd", g.dtype, n, vectors, g.uplo == Uplo::lower}, [&] {
      BufferSizes s;
      DYNX_CUSOLVER_CHECK(cusolverDnXsyevd_bufferSize(h, st.cusolver_params(), jobz, uplo, n, dt,
                                                      nullptr, n, dt, nullptr, dt, &s.device,
                                                      &s.host));
      return s;
    });
  }

  detail::WorkspaceLayout layout;
  const auto off_a = layout.add<T>(static_cast<std::size_t>(n * n * count));
  const auto off_w = layout.add<T>(static_cast<std::size_t>(n * count));
  const auto off_work = layout.add<char>(sizes.device > 0 ? sizes.device : 1);
  const auto off_info = layout.add<int>(static_cast<std::size_t>(count));
  void* ws = ctx.workspace(layout.bytes());
  T* d_a = detail::at_offset<T>(ws, off_a);
  T* d_w = detail::at_offset<T>(ws, off_w);
  void* d_work = detail::at_offset<char>(ws, off_work);
  int* d_info = detail::at_offset<int>(ws, off_info);

  const T* a = static_cast<const T*>(g.a.data);
  launch_finite_check<T>(a, n, n, g.a.ld, g.a.stride, count,
                         g.uplo == Uplo::lower ? Region::lower : Region::upper, g.info, stream);
  launch_copy_matrices<T>(a, g.a.ld, g.a.stride, false, d_a, n, n * n, n, n, count, g.info,
                          FailFill::zero_if_non_finite, stream);

  if (jacobi) {
    DYNX_CUSOLVER_CHECK(vendor::syevj_batched(
        h, jobz, uplo, ni, d_a, ni, d_w, static_cast<T*>(d_work),
        static_cast<int>(sizes.device / sizeof(T)), d_info, st.syevj_params(), batch));
  } else {
    void* h_work = sizes.host > 0 ? st.pinned_solver(sizes.host) : nullptr;
    // One call per matrix on the context's stream; calls run in order and share the work arrays.
    // The docs do not promise that a hybrid routine is done with its host workspace when it
    // returns: when one is used, wait before the next call reuses it.
    for (std::int64_t i = 0; i < count; ++i) {
      DYNX_CUSOLVER_CHECK(cusolverDnXsyevd(h, st.cusolver_params(), jobz, uplo, n, dt,
                                           d_a + i * n * n, n, dt, d_w + i * n, dt, d_work,
                                           sizes.device, h_work, sizes.host, d_info + i));
      if (h_work && i + 1 < count) DYNX_CUDA_CHECK(cudaStreamSynchronize(stream));
    }
  }
  launch_merge_solver_info(g.info, d_info, count, MatrixStatus::not_converged, stream);

  launch_copy_vectors<T>(d_w, n, 1, static_cast<T*>(g.w.data), g.w.stride, g.w.inc, n, count,
                         g.info, FailFill::nan_if_failed, stream);
  if (vectors)
    launch_copy_matrices<T>(d_a, n, n * n, false, static_cast<T*>(g.v.data), g.v.ld, g.v.stride, n,
                            n, count, g.info, FailFill::nan_if_failed, stream);
}

template void eigh<float>(Context&, const detail::EighArgs&);
template void eigh<double>(Context&, const detail::EighArgs&);

}  // namespace dynx::cuda
