// Element-wise and gather operations of the CPU backend (see the Args structs in
// core/backend.hpp): delay-embedding rows, per-matrix inner products, scaled sums with per-matrix
// scalars, and Adam steps. Parallel over the batch like the LAPACK-backed operations; each item is
// a few thousand flops at most, so nothing inside an item is threaded.

#include "cpu/cpu.hpp"

#include <algorithm>
#include <cmath>

namespace dynx::cpu {

template <class T>
void hankel_rows(Context& ctx, const detail::HankelArgs& a) {
  const T* data = static_cast<const T*>(a.data);
  const std::int64_t n = a.n_features, d = a.n_delays, tau = a.delay_interval;
  const auto out = a.out.as<T>(ctx.device());
  for_each_matrix(ctx.num_threads(), a.count, [&](std::int64_t k, int) {
    T* o = out.data + k * out.stride;
    const std::int64_t* starts = a.starts + k * a.rows;
    for (std::int64_t b = 0; b < d; ++b) {
      const std::int64_t lag = (d - 1 - b) * tau;
      for (std::int64_t f = 0; f < n; ++f) {
        T* col = o + (b * n + f) * out.ld;
        for (std::int64_t i = 0; i < a.rows; ++i)
          col[i] = starts[i] < 0 ? T(0) : data[(starts[i] + lag) * n + f];
      }
    }
  });
}

template <class T>
void dot(Context& ctx, const detail::DotArgs& args) {
  const auto a = args.a.as<T>(ctx.device());
  const auto b = args.b.as<T>(ctx.device());
  T* out = static_cast<T*>(args.out);
  for_each_matrix(ctx.num_threads(), args.count, [&](std::int64_t k, int) {
    const T* pa = a.data + k * a.stride;
    const T* pb = b.data + k * b.stride;
    double sum = 0.0;
    for (std::int64_t j = 0; j < args.n; ++j)
      for (std::int64_t i = 0; i < args.m; ++i)
        sum += double(pa[j * a.ld + i]) * double(pb[j * b.ld + i]);
    out[k] = static_cast<T>(sum);
  });
}

template <class T>
void axpby(Context& ctx, const detail::AxpbyArgs& args) {
  const auto a = args.a.as<T>(ctx.device());
  const auto c = args.c.as<T>(ctx.device());
  const T* alpha = static_cast<const T*>(args.alpha);
  const T* beta = static_cast<const T*>(args.beta);
  for_each_matrix(ctx.num_threads(), args.count, [&](std::int64_t k, int) {
    const T* pa = a.data + k * a.stride;
    T* pc = c.data + k * c.stride;
    const T al = alpha[k], be = beta[k];
    for (std::int64_t j = 0; j < args.n; ++j)
      for (std::int64_t i = 0; i < args.m; ++i) {
        const T x = al == T(0) ? T(0)
                                : al * (args.transpose_a ? pa[i * a.ld + j] : pa[j * a.ld + i]);
        T& y = pc[j * c.ld + i];
        y = be == T(0) ? x : x + be * y;
      }
  });
}

template <class T>
void adam(Context& ctx, const detail::AdamArgs& args) {
  const auto p = args.param.as<T>(ctx.device());
  const auto g = args.grad.as<T>(ctx.device());
  const auto m1 = args.moment1.as<T>(ctx.device());
  const auto m2 = args.moment2.as<T>(ctx.device());
  const double c1 = 1.0 - std::pow(args.beta1, double(args.step));
  const double c2 = 1.0 - std::pow(args.beta2, double(args.step));
  for_each_matrix(ctx.num_threads(), args.count, [&](std::int64_t k, int) {
    for (std::int64_t j = 0; j < args.m * args.n; ++j) {
      const std::int64_t r = j % args.m, col = j / args.m;
      const T gr = g.data[k * g.stride + col * g.ld + r];
      T& mm = m1.data[k * m1.stride + col * m1.ld + r];
      T& vv = m2.data[k * m2.stride + col * m2.ld + r];
      mm = T(args.beta1) * mm + T(1 - args.beta1) * gr;
      vv = T(args.beta2) * vv + T(1 - args.beta2) * gr * gr;
      const double mhat = double(mm) / c1, vhat = double(vv) / c2;
      p.data[k * p.stride + col * p.ld + r] -= T(args.lr * mhat / (std::sqrt(vhat) + args.eps));
    }
  });
}

#define DYNX_INSTANTIATE(T)                                                   \
  template void hankel_rows<T>(Context&, const detail::HankelArgs&);         \
  template void dot<T>(Context&, const detail::DotArgs&);                    \
  template void axpby<T>(Context&, const detail::AxpbyArgs&);                \
  template void adam<T>(Context&, const detail::AdamArgs&);
DYNX_INSTANTIATE(float)
DYNX_INSTANTIATE(double)
#undef DYNX_INSTANTIATE

}  // namespace dynx::cpu
