// The cell-independent steps of a DEER iteration on the CPU (src/core/backend.hpp, "DEER"): the
// residual with its per-slot reductions, the sanitised update, Jacobian scaling, and the ELK step as
// a sequential Kalman filter per chain (the oracle of the CUDA backend's parallel filter scan).

#include "cpu/cpu.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

namespace dynx::cpu {
namespace {

// Offset of entry i of step τ of slot k in a window vector (src/core/backend.hpp).
struct WindowLayout {
  std::int64_t d, steps, block;
  std::int64_t operator()(std::int64_t k, std::int64_t tau, std::int64_t i) const {
    if (block > 0 && block < d) {
      const std::int64_t nb = d / block;
      return ((k * nb + i / block) * steps + tau) * block + i % block;
    }
    return (k * steps + tau) * d + i;
  }
};

}  // namespace

// Both ops reduce per slot: in parallel over slots when there are enough of them, otherwise over
// the steps of each slot.
template <class T>
void deer_residual(Context& ctx, const detail::DeerResidualArgs& a) {
  const auto* states = static_cast<const T*>(a.states);
  const auto* f = static_cast<const T*>(a.f);
  auto* rhs = static_cast<T*>(a.rhs);
  const WindowLayout at{a.d, a.steps, a.block};
  const int threads = ctx.num_threads();
  // Steps [t0, t1) of slot k: max |r|, whether a NaN was seen, the first step above tolerance.
  auto slot = [&](std::int64_t k, std::int64_t t0, std::int64_t t1, double& rmax, int& nan,
                  std::int64_t& prefix) {
    const T* s = states + (a.seq[k] * a.total + a.first) * a.d;
    for (std::int64_t tau = t0; tau < t1; ++tau) {
      bool above = false;
      for (std::int64_t i = 0; i < a.d; ++i) {
        const T sv = s[tau * a.d + i];
        const T r = sv - f[(k * a.steps + tau) * a.d + i];
        rhs[at(k, tau, i)] = -r;
        const double ar = std::fabs(double(r));
        if (std::isnan(ar)) nan = 1;
        rmax = std::max(rmax, ar);
        if (!(ar <= a.atol + a.rtol * std::fabs(double(sv)))) above = true;
      }
      if (above) prefix = std::min(prefix, tau);
    }
  };
  auto store = [&](std::int64_t k, double rmax, int nan, std::int64_t prefix) {
    a.rmax[k] = nan ? std::numeric_limits<double>::quiet_NaN() : rmax;
    a.prefix[k] = prefix;
  };
  if (a.count >= threads) {
#pragma omp parallel for num_threads(threads) schedule(static)
    for (std::int64_t k = 0; k < a.count; ++k) {
      double rmax = 0;
      int nan = 0;
      std::int64_t prefix = a.steps;
      slot(k, 0, a.steps, rmax, nan, prefix);
      store(k, rmax, nan, prefix);
    }
    return;
  }
  for (std::int64_t k = 0; k < a.count; ++k) {
    double rmax = 0;
    int nan = 0;
    std::int64_t prefix = a.steps;
#pragma omp parallel for num_threads(threads) reduction(max : rmax) reduction(min : prefix) \
    reduction(| : nan) schedule(static)
    for (std::int64_t tau = 0; tau < a.steps; ++tau) slot(k, tau, tau + 1, rmax, nan, prefix);
    store(k, rmax, nan, prefix);
  }
}

template <class T>
void deer_update(Context& ctx, const detail::DeerUpdateArgs& a) {
  auto* states = static_cast<T*>(a.states);
  const auto* delta = static_cast<const T*>(a.delta);
  const auto* f = static_cast<const T*>(a.f);
  const WindowLayout at{a.d, a.steps, a.block};
  const T clip = T(a.clip), omega = T(a.omega);
  const int threads = ctx.num_threads();
  auto slot = [&](std::int64_t k, std::int64_t t0, std::int64_t t1, double& smax, int& nan) {
    T* s = states + (a.seq[k] * a.total + a.first) * a.d;
    for (std::int64_t tau = t0; tau < t1; ++tau) {
      for (std::int64_t i = 0; i < a.d; ++i) {
        T& sv = s[tau * a.d + i];
        const T dv = delta[at(k, tau, i)];
        const double ratio = std::fabs(double(dv)) / (a.atol + a.rtol * std::fabs(double(sv)));
        if (std::isnan(ratio)) nan = 1;
        smax = std::max(smax, ratio);
        T v = sv + omega * dv;
        if (std::isnan(v)) v = T(0);
        sv = std::clamp(v, -clip, clip);
      }
    }
  };
  // The scan overflowed: keep the converged prefix (final, spec §3.4), take the next state as the
  // update would (s⁺ = f(s_prev) there, since s_prev is converged), restart the rest at 0.
  auto reset = [&](std::int64_t k) {
    T* s = states + (a.seq[k] * a.total + a.first) * a.d;
    const std::int64_t p = a.prefix[k];
    if (p < a.steps) {
      std::copy(f + (k * a.steps + p) * a.d, f + (k * a.steps + p + 1) * a.d, s + p * a.d);
      std::fill(s + (p + 1) * a.d, s + a.steps * a.d, T(0));
    }
    a.smax[k] = std::numeric_limits<double>::infinity();
  };
  auto store = [&](std::int64_t k, double smax, int nan) {
    a.smax[k] = nan ? std::numeric_limits<double>::quiet_NaN() : smax;
  };
  if (a.count >= threads) {
#pragma omp parallel for num_threads(threads) schedule(static)
    for (std::int64_t k = 0; k < a.count; ++k) {
      if (a.reset[k] != 0) {
        reset(k);
        continue;
      }
      double smax = 0;
      int nan = 0;
      slot(k, 0, a.steps, smax, nan);
      store(k, smax, nan);
    }
    return;
  }
  for (std::int64_t k = 0; k < a.count; ++k) {
    if (a.reset[k] != 0) {
      reset(k);
      continue;
    }
    double smax = 0;
    int nan = 0;
#pragma omp parallel for num_threads(threads) reduction(max : smax) reduction(| : nan) \
    schedule(static)
    for (std::int64_t tau = 0; tau < a.steps; ++tau) slot(k, tau, tau + 1, smax, nan);
    store(k, smax, nan);
  }
}

template <class T>
void deer_scale(Context& ctx, const detail::DeerScaleArgs& a) {
  auto* x = static_cast<T*>(a.a);
  const T scale = T(a.scale), clip = T(a.clip);
  const bool clamp = a.clip > 0;
#pragma omp parallel for num_threads(ctx.num_threads()) schedule(static)
  for (std::int64_t i = 0; i < a.n; ++i) {
    T v = scale * x[i];
    if (std::isnan(v)) v = T(0);
    x[i] = clamp ? std::clamp(v, -clip, clip) : v;
  }
}

// The ELK step as the standard Kalman filter (filtered means; spec §4.4): x_0 = 0 known (P_0 = 0),
// per step  m⁻ = F m + c,  P⁻ = F P Fᵀ + I,  S = P⁻ + σ² I,  m = σ² S⁻¹ m⁻,  P = σ² S⁻¹ P⁻
// (the update with observation 0 and noise σ² I: K = P⁻ S⁻¹, I − K = σ² S⁻¹). Accumulated in
// double; S is symmetric positive definite, solved by Cholesky. Diagonal F: d scalar filters.
template <class T>
void elk_scan(Context& ctx, const detail::ElkScanArgs& a) {
  const auto* F = static_cast<const T*>(a.F);
  const auto* c = static_cast<const T*>(a.c);
  auto* x = static_cast<T*>(a.x);
  const std::int64_t d = a.d, steps = a.steps;
  const double s2 = a.sigma2;
  const std::int64_t fsz = a.diagonal ? d : d * d;
#pragma omp parallel num_threads(ctx.num_threads())
  {
    std::vector<double> m(static_cast<std::size_t>(d)), mp(static_cast<std::size_t>(d)),
        P(static_cast<std::size_t>(a.diagonal ? d : d * d)), Pp(P.size()), FP(P.size()), L(P.size());
#pragma omp for schedule(dynamic, 1)
    for (std::int64_t ch = 0; ch < a.chains; ++ch) {
      std::fill(m.begin(), m.end(), 0.0);
      std::fill(P.begin(), P.end(), 0.0);
      bool ok = true;
      for (std::int64_t t = 0; t < steps && ok; ++t) {
        const T* Ft = F + (ch * steps + t) * fsz;
        const T* ct = c + (ch * steps + t) * d;
        T* xt = x + (ch * steps + t) * d;
        if (a.diagonal) {
          for (std::int64_t i = 0; i < d; ++i) {
            const double fi = double(Ft[i]);
            const double pp = fi * fi * P[std::size_t(i)] + 1.0;
            const double g = s2 / (pp + s2);
            m[std::size_t(i)] = g * (fi * m[std::size_t(i)] + double(ct[i]));
            P[std::size_t(i)] = g * pp;
            xt[i] = T(m[std::size_t(i)]);
          }
        } else {
          // mp = F m + c; FP = F P; Pp = FP Fᵀ + I.
          for (std::int64_t i = 0; i < d; ++i) {
            double v = double(ct[i]);
            for (std::int64_t j = 0; j < d; ++j) v += double(Ft[j * d + i]) * m[std::size_t(j)];
            mp[std::size_t(i)] = v;
          }
          for (std::int64_t j = 0; j < d; ++j)
            for (std::int64_t i = 0; i < d; ++i) {
              double v = 0;
              for (std::int64_t l = 0; l < d; ++l)
                v += double(Ft[l * d + i]) * P[std::size_t(j * d + l)];
              FP[std::size_t(j * d + i)] = v;
            }
          for (std::int64_t j = 0; j < d; ++j)
            for (std::int64_t i = 0; i < d; ++i) {
              double v = i == j ? 1.0 : 0.0;
              for (std::int64_t l = 0; l < d; ++l)
                v += FP[std::size_t(l * d + i)] * double(Ft[l * d + j]);
              Pp[std::size_t(j * d + i)] = v;
            }
          // Cholesky S = Pp + σ² I = L Lᵀ (lower, column-major).
          for (std::int64_t j = 0; j < d && ok; ++j) {
            double diag = Pp[std::size_t(j * d + j)] + s2;
            for (std::int64_t l = 0; l < j; ++l) diag -= L[std::size_t(l * d + j)] * L[std::size_t(l * d + j)];
            if (!(diag > 0) || !std::isfinite(diag)) {
              ok = false;
              break;
            }
            const double ljj = std::sqrt(diag);
            L[std::size_t(j * d + j)] = ljj;
            for (std::int64_t i = j + 1; i < d; ++i) {
              double v = Pp[std::size_t(j * d + i)];
              for (std::int64_t l = 0; l < j; ++l) v -= L[std::size_t(l * d + i)] * L[std::size_t(l * d + j)];
              L[std::size_t(j * d + i)] = v / ljj;
            }
          }
          if (!ok) break;
          // Solve S y = v in place for v = mp and for each column of Pp.
          auto solve = [&](double* v) {
            for (std::int64_t i = 0; i < d; ++i) {
              double s = v[i];
              for (std::int64_t l = 0; l < i; ++l) s -= L[std::size_t(l * d + i)] * v[l];
              v[i] = s / L[std::size_t(i * d + i)];
            }
            for (std::int64_t i = d - 1; i >= 0; --i) {
              double s = v[i];
              for (std::int64_t l = i + 1; l < d; ++l) s -= L[std::size_t(i * d + l)] * v[l];
              v[i] = s / L[std::size_t(i * d + i)];
            }
          };
          solve(mp.data());
          for (std::int64_t i = 0; i < d; ++i) {
            m[std::size_t(i)] = s2 * mp[std::size_t(i)];
            xt[i] = T(m[std::size_t(i)]);
          }
          for (std::int64_t j = 0; j < d; ++j) solve(Pp.data() + j * d);
          for (std::int64_t j = 0; j < d; ++j)
            for (std::int64_t i = 0; i <= j; ++i) {
              const double v = 0.5 * s2 * (Pp[std::size_t(j * d + i)] + Pp[std::size_t(i * d + j)]);
              P[std::size_t(j * d + i)] = v;
              P[std::size_t(i * d + j)] = v;
            }
        }
        for (std::int64_t i = 0; i < d; ++i)
          if (!std::isfinite(m[std::size_t(i)])) ok = false;
      }
      if (!ok) {
        a.info[ch] = static_cast<std::int32_t>(MatrixStatus::non_finite);
        std::fill(x + ch * steps * d, x + (ch + 1) * steps * d, std::numeric_limits<T>::quiet_NaN());
      }
    }
  }
}

#define DYNX_INSTANTIATE(T)                                                        \
  template void deer_residual<T>(Context&, const detail::DeerResidualArgs&);      \
  template void deer_update<T>(Context&, const detail::DeerUpdateArgs&);          \
  template void deer_scale<T>(Context&, const detail::DeerScaleArgs&);            \
  template void elk_scan<T>(Context&, const detail::ElkScanArgs&);
DYNX_INSTANTIATE(float)
DYNX_INSTANTIATE(double)
#undef DYNX_INSTANTIATE

}  // namespace dynx::cpu
