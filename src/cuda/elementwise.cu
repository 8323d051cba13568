// Element-wise and gather operations of the CUDA backend (see the Args structs in
// core/backend.hpp and the kernels in kernels/elementwise.cuh). All enqueue on the context's
// stream and return without synchronising.

#include "cuda/check.hpp"
#include "cuda/cuda.hpp"

#include "kernels/elementwise.cuh"

#include <cmath>

namespace dynx::cuda {

template <class T>
void hankel_rows(Context& ctx, const detail::HankelArgs& a) {
  const std::int64_t cols = a.n_features * a.n_delays;
  if (a.rows == 0 || cols == 0 || a.count == 0) return;
  constexpr int kBlock = kernels::kBlockSize;
  kernels::hankel_rows_kernel<kBlock, T>
      <<<kernels::batched_grid(a.rows * cols, a.count), kBlock, 0, state_of(ctx).stream()>>>(
          static_cast<const T*>(a.data), a.n_features, a.n_delays, a.delay_interval, a.starts,
          a.rows, a.count, static_cast<T*>(a.out.data), a.out.ld, a.out.stride);
  DYNX_CUDA_LAUNCH_CHECK();
}

template <class T>
void dot(Context& ctx, const detail::DotArgs& a) {
  if (a.count == 0) return;
  constexpr int kBlock = kernels::kBlockSize;
  kernels::dot_kernel<kBlock, T>
      <<<kernels::per_matrix_grid(a.count), kBlock, 0, state_of(ctx).stream()>>>(
          static_cast<const T*>(a.a.data), a.a.ld, a.a.stride, static_cast<const T*>(a.b.data),
          a.b.ld, a.b.stride, a.m, a.n, a.count, static_cast<T*>(a.out));
  DYNX_CUDA_LAUNCH_CHECK();
}

template <class T>
void axpby(Context& ctx, const detail::AxpbyArgs& a) {
  if (a.m == 0 || a.n == 0 || a.count == 0) return;
  constexpr int kBlock = kernels::kBlockSize;
  kernels::axpby_kernel<kBlock, T>
      <<<kernels::batched_grid(a.m * a.n, a.count), kBlock, 0, state_of(ctx).stream()>>>(
          static_cast<const T*>(a.alpha), static_cast<const T*>(a.beta), a.transpose_a,
          static_cast<const T*>(a.a.data), a.a.ld, a.a.stride, static_cast<T*>(a.c.data), a.c.ld,
          a.c.stride, a.m, a.n, a.count);
  DYNX_CUDA_LAUNCH_CHECK();
}

template <class T>
void adam(Context& ctx, const detail::AdamArgs& a) {
  if (a.m == 0 || a.n == 0 || a.count == 0) return;
  constexpr int kBlock = kernels::kBlockSize;
  const double c1 = 1.0 - std::pow(a.beta1, double(a.step));
  const double c2 = 1.0 - std::pow(a.beta2, double(a.step));
  kernels::adam_kernel<kBlock, T>
      <<<kernels::batched_grid(a.m * a.n, a.count), kBlock, 0, state_of(ctx).stream()>>>(
          static_cast<T*>(a.param.data), a.param.ld, a.param.stride,
          static_cast<const T*>(a.grad.data), a.grad.ld, a.grad.stride,
          static_cast<T*>(a.moment1.data), a.moment1.ld, a.moment1.stride,
          static_cast<T*>(a.moment2.data), a.moment2.ld, a.moment2.stride, a.m, a.n, a.count,
          a.lr, a.beta1, a.beta2, a.eps, c1, c2);
  DYNX_CUDA_LAUNCH_CHECK();
}

template <class T>
void lbfgs(Context& ctx, const detail::LbfgsArgs& a) {
  if (a.count == 0 || a.m * a.n == 0) return;
  constexpr int kBlock = kernels::kBlockSize;
  const std::size_t shared = std::size_t(a.memory) * sizeof(double);
  kernels::lbfgs_direction_kernel<kBlock, T>
      <<<kernels::per_matrix_grid(a.count), kBlock, shared, state_of(ctx).stream()>>>(
          static_cast<const T*>(a.grad.data), a.grad.ld, a.grad.stride,
          static_cast<T*>(a.out.data), a.out.ld, a.out.stride, static_cast<const T*>(a.s.data),
          a.s.ld, a.s.stride, static_cast<const T*>(a.y.data), a.y.ld, a.y.stride,
          static_cast<const T*>(a.rho), static_cast<const T*>(a.gamma), a.m, a.n, a.count,
          a.memory, a.newest);
  DYNX_CUDA_LAUNCH_CHECK();
}

#define DYNX_INSTANTIATE(T)                                                   \
  template void hankel_rows<T>(Context&, const detail::HankelArgs&);         \
  template void dot<T>(Context&, const detail::DotArgs&);                    \
  template void axpby<T>(Context&, const detail::AxpbyArgs&);                \
  template void adam<T>(Context&, const detail::AdamArgs&);                  \
  template void lbfgs<T>(Context&, const detail::LbfgsArgs&);
DYNX_INSTANTIATE(float)
DYNX_INSTANTIATE(double)
#undef DYNX_INSTANTIATE

}  // namespace dynx::cuda
