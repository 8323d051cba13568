// GOOM conversions and batched log-matmul-exp on the CPU (OpenMP over the batch).

#include "cpu/goom_formats.hpp"

namespace dynx::cpu {

template <class T>
void goom_convert(Context& ctx, const detail::GoomConvertArgs& a) {
  T* re = static_cast<T*>(a.real.data);
  T* lg = static_cast<T*>(a.logmag.data);
  auto* ng = static_cast<std::uint8_t*>(a.neg.data);
  const T shift = T(a.shift);
  for_each_matrix(ctx.num_threads(), a.count, 20.0 * double(a.m * a.n), [&](std::int64_t k, int) {
    T* r = re + k * a.real.stride;
    T* l = lg + k * a.logmag.stride;
    std::uint8_t* s = ng + k * a.neg.stride;
    for (std::int64_t j = 0; j < a.n; ++j)
      for (std::int64_t i = 0; i < a.m; ++i) {
        T& rv = r[j * a.real.ld + i];
        T& lv = l[j * a.logmag.ld + i];
        std::uint8_t& sv = s[j * a.neg.ld + i];
        if (a.to_real) {
          const T v = std::exp(lv + shift);
          rv = sv ? -v : v;
        } else {
          const math::Goom<T> g = math::goom_from_real(rv);
          lv = g.logmag;
          sv = g.neg;
        }
      }
  });
}

namespace {

template <class T, class Cp>
void lmme_batch(Context& ctx, const detail::LmmeArgs& g) {
  const auto* al = static_cast<const T*>(g.a.data);
  const auto* an = static_cast<const std::uint8_t*>(g.a_neg.data);
  const auto* bl = static_cast<const T*>(g.b.data);
  const auto* bn = static_cast<const std::uint8_t*>(g.b_neg.data);
  auto* cl = static_cast<T*>(g.c.data);
  auto* cn = static_cast<std::uint8_t*>(g.c_neg.data);
  const double flops = 2.0 * double(g.m) * double(g.n) * double(g.k) +
                       20.0 * double(g.m * g.k + g.k * g.n + g.m * g.n);
  const int threads = loop_threads(ctx.num_threads(), g.count, flops);
  std::vector<LmmeScratch<Cp>> scratch(static_cast<std::size_t>(threads));
  for_each_matrix(ctx.num_threads(), g.count, flops, [&](std::int64_t k, int t) {
    T* c = cl + k * g.c.stride;
    const bool ok = lmme_one<T, Cp>(g.m, g.n, g.k, al + k * g.a.stride, g.a.ld,
                                    an + k * g.a_neg.stride, g.a_neg.ld, bl + k * g.b.stride,
                                    g.b.ld, bn + k * g.b_neg.stride, g.b_neg.ld, c, g.c.ld,
                                    cn + k * g.c_neg.stride, g.c_neg.ld, scratch[std::size_t(t)]);
    if (ok) {
      set_status(g.info, k, MatrixStatus::ok);
    } else {
      set_status(g.info, k, MatrixStatus::non_finite);
      fill(c, g.m, g.n, g.c.ld, std::numeric_limits<T>::quiet_NaN());
    }
  });
}

}  // namespace

template <class T>
void lmme(Context& ctx, const detail::LmmeArgs& g) {
  if (g.precision == InnerPrecision::f64) {
    lmme_batch<T, double>(ctx, g);
  } else {
    lmme_batch<T, T>(ctx, g);
  }
}

template void goom_convert<float>(Context&, const detail::GoomConvertArgs&);
template void goom_convert<double>(Context&, const detail::GoomConvertArgs&);
template void lmme<float>(Context&, const detail::LmmeArgs&);
template void lmme<double>(Context&, const detail::LmmeArgs&);

}  // namespace dynx::cpu
