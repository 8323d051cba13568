// Element-wise and gather operations of the CPU backend (see the Args structs in
// core/backend.hpp): delay-embedding rows, per-matrix inner products, scaled sums with per-matrix
// scalars, and Adam steps. Parallel over the batch like the LAPACK-backed operations; each item is
// a few thousand flops at most, so nothing inside an item is threaded.

#include "cpu/cpu.hpp"
#include "cpu/vec.hpp"

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <vector>

namespace dynx::cpu {
namespace {

/// Loop shape of an m × n column-major operand set: one vector of m·n when every leading
/// dimension is m (the packed case: one long vectorised loop instead of n short ones, each with
/// its own remainder and horizontal sum), else m × n.
struct Shape {
  std::int64_t m, n;
};
Shape loop_shape(std::int64_t m, std::int64_t n, std::initializer_list<std::int64_t> lds) {
  for (const std::int64_t ld : lds)
    if (ld != m) return {m, n};
  return {m * n, 1};
}

}  // namespace

template <class T>
void hankel_rows(Context& ctx, const detail::HankelArgs& a) {
  const T* data = static_cast<const T*>(a.data);
  const std::int64_t n = a.n_features, d = a.n_delays, tau = a.delay_interval;
  const auto out = a.out.as<T>(ctx.device());
  for_each_matrix(ctx.num_threads(), a.count, double(a.rows * n * d), [&](std::int64_t k, int) {
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
  const Shape sh = loop_shape(args.m, args.n, {a.ld, b.ld});
  for_each_matrix(ctx.num_threads(), args.count, 2.0 * double(args.m * args.n), [&](std::int64_t k, int) {
    const T* pa = a.data + k * a.stride;
    const T* pb = b.data + k * b.stride;
    double sum = 0.0;
    for (std::int64_t j = 0; j < sh.n; ++j) sum += vec::dot(pa + j * a.ld, pb + j * b.ld, sh.m);
    out[k] = static_cast<T>(sum);
  });
}

template <class T>
void axpby(Context& ctx, const detail::AxpbyArgs& args) {
  const auto a = args.a.as<T>(ctx.device());
  const auto c = args.c.as<T>(ctx.device());
  const T* alpha = static_cast<const T*>(args.alpha);
  const T* beta = static_cast<const T*>(args.beta);
  const Shape sh = args.transpose_a ? Shape{args.m, args.n} : loop_shape(args.m, args.n, {a.ld, c.ld});
  for_each_matrix(ctx.num_threads(), args.count, 2.0 * double(args.m * args.n), [&](std::int64_t k, int) {
    const T* pa = a.data + k * a.stride;
    T* pc = c.data + k * c.stride;
    const T al = alpha[k], be = beta[k];
    for (std::int64_t j = 0; j < sh.n; ++j) {
      T* y = pc + j * c.ld;
      if (al == T(0) || !args.transpose_a) {
        vec::axpby(al, al == T(0) ? nullptr : pa + j * a.ld, be, y, sh.m);
      } else {
        const T* x = pa + j;  // row j of a, stride ld
        if (be == T(0)) {
          for (std::int64_t i = 0; i < sh.m; ++i) y[i] = al * x[i * a.ld];
        } else {
          for (std::int64_t i = 0; i < sh.m; ++i) y[i] = al * x[i * a.ld] + be * y[i];
        }
      }
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
  for_each_matrix(ctx.num_threads(), args.count, 2.0 * double(args.m * args.n), [&](std::int64_t k, int) {
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

template <class T>
void lbfgs(Context& ctx, const detail::LbfgsArgs& a) {
  const auto g = a.grad.as<T>(ctx.device());
  const auto out = a.out.as<T>(ctx.device());
  const auto s = a.s.as<T>(ctx.device());
  const auto y = a.y.as<T>(ctx.device());
  const T* rho = static_cast<const T*>(a.rho);
  const T* gamma = static_cast<const T*>(a.gamma);
  const Shape sh = loop_shape(a.m, a.n, {g.ld, out.ld, s.ld, y.ld});
  const std::int64_t rows = sh.m, cols = sh.n;
  // ⟨x, q⟩ and q += c·x over an m × n matrix with leading dimension ld (q: out's ld).
  auto dotq = [&](const T* x, std::int64_t ldx, const T* q) {
    double d = 0;
    for (std::int64_t j = 0; j < cols; ++j) d += vec::dot_native(x + j * ldx, q + j * out.ld, rows);
    return d;
  };
  auto axpy = [&](T c, const T* x, std::int64_t ldx, T* q) {
    for (std::int64_t j = 0; j < cols; ++j) vec::axpby(c, x + j * ldx, T(1), q + j * out.ld, rows);
  };
  auto slot = [&](std::int64_t i) { return ((a.newest - i) % a.memory + a.memory) % a.memory; };
  for_each_matrix(ctx.num_threads(), a.count, 4.0 * double(a.memory * rows * cols), [&](std::int64_t k, int) {
    T* q = out.data + k * out.stride;
    const T* gk = g.data + k * g.stride;
    for (std::int64_t j = 0; j < cols; ++j)
      std::copy_n(gk + j * g.ld, rows, q + j * out.ld);
    double alpha[64];  // memory ≤ 64 (checked by the caller's constant)
    for (std::int64_t i = 0; i < a.memory; ++i) {  // newest → oldest
      const std::int64_t j = slot(i);
      const double r = double(rho[j * a.count + k]);
      alpha[i] = 0;
      if (r == 0.0) continue;
      alpha[i] = r * dotq(s.data + (j * a.count + k) * s.stride, s.ld, q);
      axpy(T(-alpha[i]), y.data + (j * a.count + k) * y.stride, y.ld, q);
    }
    for (std::int64_t j = 0; j < cols; ++j) vec::axpby(T(0), nullptr, gamma[k], q + j * out.ld, rows);
    for (std::int64_t i = a.memory - 1; i >= 0; --i) {  // oldest → newest
      const std::int64_t j = slot(i);
      const double r = double(rho[j * a.count + k]);
      if (r == 0.0) continue;
      const double beta = r * dotq(y.data + (j * a.count + k) * y.stride, y.ld, q);
      axpy(T(alpha[i] - beta), s.data + (j * a.count + k) * s.stride, s.ld, q);
    }
  });
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

}  // namespace dynx::cpu
