// Batched general (non-symmetric) eigensolver on CUDA, by choose_eig_cuda_strategy:
//
// - host_offload (the default for the small matrices dynamical-systems analysis produces):
//   cusolverDnXgeev has no batched form and is a hybrid CPU/GPU routine, so the batch is packed on
//   the device, copied to pinned host memory, solved by the CPU backend (LAPACK geev, OpenMP over
//   the batch) on a CPU Context, and the complex results and status codes are copied back. This
//   synchronises the stream once, before the host solve; the copies back are asynchronous.
// - xgeev_each (large n, few matrices): cusolverDnXgeev per matrix on the stream, with real A, real
//   W (2n entries: real parts, then imaginary parts) and real VR in LAPACK's packed format, which a
//   kernel turns into complex values and vectors. Xgeev uses host workspace (pinned) and may
//   synchronise internally.
//
// Both give LAPACK geev's conventions: conjugate pairs adjacent with positive imaginary part
// first, eigenvectors of unit 2-norm with largest component real.
// cuSOLVER Library docs: "cusolverDnXgeev()" (real A with real or complex W; left vectors are not
// supported, jobvl must be NOVECTOR).

#include "cuda/check.hpp"
#include "cuda/cuda.hpp"
#include "cuda/launch.hpp"
#include "cuda/vendor.hpp"

#include "core/heuristics.hpp"
#include "core/log.hpp"

#include "kernels/eig_unpack.cuh"

#include <cstring>

namespace dynx::cuda {
namespace {

constexpr Dtype complex_dtype(Dtype real) { return real == Dtype::f32 ? Dtype::c64 : Dtype::c128; }

// Packed real geev output (W: 2n reals per matrix, VR: n × n per matrix) to the caller's complex
// w and, when d_v is not null, v; NaN for matrices whose status is set.
template <class T>
void launch_unpack_geev(const T* d_wri, const T* d_vr, std::int64_t n, std::int64_t count,
                        Complex<T>* d_w, std::int64_t stride_w, std::int64_t inc_w, Complex<T>* d_v,
                        std::int64_t ld_v, std::int64_t stride_v, const std::int32_t* d_status,
                        cudaStream_t stream) {
  constexpr int kBlock = kernels::kBlockSize;
  kernels::unpack_geev_kernel<kBlock, T, Complex<T>>
      <<<kernels::batched_grid(n + (d_v ? n * n : 0), count), kBlock, 0, stream>>>(
          d_wri, 2 * n, d_vr, n * n, n, count, d_w, stride_w, inc_w, d_v, ld_v, stride_v,
          d_status);
  DYNX_CUDA_LAUNCH_CHECK();
}

template <class T>
void eig_host_offload(Context& ctx, const detail::EigArgs& g) {
  using C = std::complex<T>;
  CudaState& st = state_of(ctx);
  cudaStream_t stream = st.stream();
  const std::int64_t n = g.n, count = g.count;
  const bool vectors = !g.v.empty();
  const auto nn = static_cast<std::size_t>(n * n * count), nw = static_cast<std::size_t>(n * count);

  detail::WorkspaceLayout layout;
  const auto off_a = layout.add<T>(nn);
  const auto off_w = layout.add<C>(nw);
  const auto off_v = layout.add<C>(vectors ? nn : 0);
  void* ws = ctx.workspace(layout.bytes());
  T* d_a = detail::at_offset<T>(ws, off_a);
  C* d_w = detail::at_offset<C>(ws, off_w);
  C* d_v = detail::at_offset<C>(ws, off_v);

  detail::WorkspaceLayout host;
  const auto hoff_a = host.add<T>(nn);
  const auto hoff_w = host.add<C>(nw);
  const auto hoff_v = host.add<C>(vectors ? nn : 0);
  const auto hoff_info = host.add<std::int32_t>(static_cast<std::size_t>(count));
  void* h_base = st.pinned_staging(host.bytes());
  T* h_a = detail::at_offset<T>(h_base, hoff_a);
  C* h_w = detail::at_offset<C>(h_base, hoff_w);
  C* h_v = detail::at_offset<C>(h_base, hoff_v);
  std::int32_t* h_info = detail::at_offset<std::int32_t>(h_base, hoff_info);

  // Pack on the device so that one contiguous copy moves the batch whatever its ld and stride.
  launch_copy_matrices<T>(static_cast<const T*>(g.a.data), g.a.ld, g.a.stride, false, d_a, n,
                          n * n, n, n, count, nullptr, FailFill::none, stream);
  DYNX_CUDA_CHECK(cudaMemcpyAsync(h_a, d_a, nn * sizeof(T), cudaMemcpyDeviceToHost, stream));
  DYNX_CUDA_CHECK(cudaStreamSynchronize(stream));  // the host solve needs the data

  // The CPU backend checks for NaN/Inf, solves, fills failed matrices with NaN and writes codes.
  std::memset(h_info, 0, static_cast<std::size_t>(count) * sizeof(std::int32_t));
  const Dtype cd = complex_dtype(g.dtype);
  detail::EigArgs host_args{
      g.dtype,
      n,
      count,
      detail::MatRef{h_a, n, n, n, n * n, count, g.dtype},
      detail::VecRef{h_w, n, n, count, 1, cd},
      vectors ? detail::MatRef{h_v, n, n, n, n * n, count, cd} : detail::MatRef{},
      h_info};
  Context& cpu = st.cpu_context();
  detail::backend_for(DeviceKind::cpu).eig_batched(cpu, host_args);

  DYNX_CUDA_CHECK(cudaMemcpyAsync(d_w, h_w, nw * sizeof(C), cudaMemcpyHostToDevice, stream));
  if (vectors)
    DYNX_CUDA_CHECK(cudaMemcpyAsync(d_v, h_v, nn * sizeof(C), cudaMemcpyHostToDevice, stream));
  DYNX_CUDA_CHECK(cudaMemcpyAsync(g.info, h_info,
                                  static_cast<std::size_t>(count) * sizeof(std::int32_t),
                                  cudaMemcpyHostToDevice, stream));
  launch_copy_vectors<Complex<T>>(as_device_complex(d_w), n, 1,
                                  static_cast<Complex<T>*>(g.w.data), g.w.stride, g.w.inc, n,
                                  count, nullptr, FailFill::none, stream);
  if (vectors)
    launch_copy_matrices<Complex<T>>(as_device_complex(d_v), n, n * n, false,
                                     static_cast<Complex<T>*>(g.v.data), g.v.ld, g.v.stride, n, n,
                                     count, nullptr, FailFill::none, stream);
}

template <class T>
void eig_xgeev_each(Context& ctx, const detail::EigArgs& g) {
  CudaState& st = state_of(ctx);
  cudaStream_t stream = st.stream();
  cusolverDnHandle_t h = st.cusolver();
  const std::int64_t n = g.n, count = g.count;
  const bool vectors = !g.v.empty();
  const cusolverEigMode_t jobvr = vectors ? CUSOLVER_EIG_MODE_VECTOR : CUSOLVER_EIG_MODE_NOVECTOR;
  const std::int64_t ldvr = vectors ? n : 1;
  constexpr cudaDataType dt = vendor::data_type<T>();
  const BufferSizes sizes = st.buffer_sizes({"Xgeev", g.dtype, n, vectors}, [&] {
    BufferSizes s;
    DYNX_CUSOLVER_CHECK(cusolverDnXgeev_bufferSize(
        h, st.cusolver_params(), CUSOLVER_EIG_MODE_NOVECTOR, jobvr, n, dt, nullptr, n, dt, nullptr,
        dt, nullptr, 1, dt, nullptr, ldvr, dt, &s.device, &s.host));
    return s;
  });

  detail::WorkspaceLayout layout;
  const auto off_a = layout.add<T>(static_cast<std::size_t>(n * n * count));
  const auto off_w = layout.add<T>(static_cast<std::size_t>(2 * n * count));
  const auto off_vr = layout.add<T>(vectors ? static_cast<std::size_t>(n * n * count) : 1);
  const auto off_work = layout.add<char>(sizes.device > 0 ? sizes.device : 1);
  const auto off_info = layout.add<int>(static_cast<std::size_t>(count));
  void* ws = ctx.workspace(layout.bytes());
  T* d_a = detail::at_offset<T>(ws, off_a);
  T* d_w = detail::at_offset<T>(ws, off_w);
  T* d_vr = detail::at_offset<T>(ws, off_vr);
  void* d_work = detail::at_offset<char>(ws, off_work);
  int* d_info = detail::at_offset<int>(ws, off_info);
  void* h_work = sizes.host > 0 ? st.pinned_solver(sizes.host) : nullptr;

  const T* a = static_cast<const T*>(g.a.data);
  launch_finite_check<T>(a, n, n, g.a.ld, g.a.stride, count, Region::full, g.info, stream);
  launch_copy_matrices<T>(a, g.a.ld, g.a.stride, false, d_a, n, n * n, n, n, count, g.info,
                          FailFill::zero_if_non_finite, stream);
  // The docs do not promise that the hybrid Xgeev is done with its host workspace when it
  // returns: wait before the next call reuses it.
  for (std::int64_t i = 0; i < count; ++i) {
    DYNX_CUSOLVER_CHECK(cusolverDnXgeev(
        h, st.cusolver_params(), CUSOLVER_EIG_MODE_NOVECTOR, jobvr, n, dt, d_a + i * n * n, n, dt,
        d_w + i * 2 * n, dt, nullptr, 1, dt, vectors ? d_vr + i * n * n : nullptr, ldvr, dt,
        d_work, sizes.device, h_work, sizes.host, d_info + i));
    if (h_work && i + 1 < count) DYNX_CUDA_CHECK(cudaStreamSynchronize(stream));
  }
  launch_merge_solver_info(g.info, d_info, count, MatrixStatus::not_converged, stream);

  launch_unpack_geev<T>(d_w, d_vr, n, count, static_cast<Complex<T>*>(g.w.data), g.w.stride,
                        g.w.inc, vectors ? static_cast<Complex<T>*>(g.v.data) : nullptr, g.v.ld,
                        g.v.stride, g.info, stream);
}

}  // namespace

template <class T>
void eig(Context& ctx, const detail::EigArgs& g) {
  const detail::EigCudaStrategy strategy = detail::choose_eig_cuda_strategy(g.n, g.count);
  const bool offload = strategy == detail::EigCudaStrategy::host_offload;
  detail::log().debug("cuda eig: {} x {}x{} {} -> {}", g.count, g.n, g.n, dtype_name(g.dtype),
                      offload ? "host_offload (LAPACK geev)" : "Xgeev per matrix");
  if (offload)
    eig_host_offload<T>(ctx, g);
  else
    eig_xgeev_each<T>(ctx, g);
}

template void eig<float>(Context&, const detail::EigArgs&);
template void eig<double>(Context&, const detail::EigArgs&);

}  // namespace dynx::cuda
