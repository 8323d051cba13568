// Many-system DSA (spec §5): all-pairs (each unordered pair once, row-major j < i, mirrored) and
// X-vs-Y comparisons of fitted operators. Operators are normalised once per system and eigenvalues
// computed once per system; pairs of equal operator size are compared in batches, which run
// together on the device (lockstep batched optimisation, see procrustes.cpp).

#include "dsa/common.hpp"
#include "dsa/internal.hpp"

#include "core/log.hpp"

#include <dynx/dsa.hpp>
#include <dynx/math/procrustes.hpp>

#include <algorithm>
#include <map>

namespace dynx {
namespace {

using dsa::Pair;

template <class T>
DsaResult compare(Context& ctx, const std::vector<DmdModel<T>>& x,
                  const std::vector<DmdModel<T>>& y, bool self, const DsaOptions& o) {
  dsa::check_procrustes_options(o.procrustes);
  DYNX_EXPECTS(o.pairs_per_batch >= 0, "dsa: pairs_per_batch must be >= 0");
  auto check_models = [](const std::vector<DmdModel<T>>& ms, const char* side) {
    for (std::size_t i = 0; i < ms.size(); ++i)
      DYNX_EXPECTS(ms[i].rank >= 1 && std::int64_t(ms[i].a.size()) == ms[i].rank * ms[i].rank,
                   fmt::format("dsa: {} model {} has no fitted operator (rank {}, {} entries)",
                               side, i, ms[i].rank, ms[i].a.size()));
  };
  check_models(x, "x");
  check_models(y, "y");
  DsaResult res = dsa::pending_result(std::int64_t(x.size()), std::int64_t(y.size()), self);
  const auto pairs = dsa::pair_schedule(res.rows, res.cols, self);
  const std::int64_t total = std::int64_t(pairs.size());
  std::int64_t done = 0;
  auto report = [&](std::int64_t more) {
    done += more;
    if (o.progress) o.progress(done, total);
  };
  auto put = [&](const Pair& p, double v, PairStatus s, std::int64_t iters) {
    const std::size_t a = std::size_t(p.i * res.cols + p.j);
    res.distance[a] = v;
    res.status[a] = s;
    res.iterations[a] = iters;
    if (self) {
      const std::size_t b = std::size_t(p.j * res.cols + p.i);
      res.distance[b] = v;
      res.status[b] = s;
      res.iterations[b] = iters;
    }
  };
  if (total == 0) return res;

  // Eigenvalues once per system when any pair needs them.
  const bool need_eigs = o.score == DsaScore::wasserstein ||
                         (o.size_mismatch == SizeMismatch::wasserstein &&
                          std::any_of(pairs.begin(), pairs.end(), [&](const Pair& p) {
                            return x[std::size_t(p.i)].rank != y[std::size_t(p.j)].rank;
                          }));
  std::vector<std::vector<std::complex<T>>> ex, ey;
  if (need_eigs) {
    std::vector<const T*> mats;
    std::vector<std::int64_t> sizes;
    for (const auto& m : x) {
      mats.push_back(m.a.data());
      sizes.push_back(m.rank);
    }
    ex = dsa::eigenvalues_of<T>(ctx, mats, sizes, "dsa: x model");
    if (self) {
      ey = ex;
    } else {
      mats.clear();
      sizes.clear();
      for (const auto& m : y) {
        mats.push_back(m.a.data());
        sizes.push_back(m.rank);
      }
      ey = dsa::eigenvalues_of<T>(ctx, mats, sizes, "dsa: y model");
    }
  }
  auto wasserstein_pairs = [&](const std::vector<Pair>& ps, WassersteinWeights w, PairStatus s) {
    std::vector<double> v(ps.size());
#pragma omp parallel for schedule(dynamic, 8)
    for (std::int64_t k = 0; k < std::int64_t(ps.size()); ++k)
      v[std::size_t(k)] = double(wasserstein_eigenvalues<T>(ex[std::size_t(ps[std::size_t(k)].i)],
                                                            ey[std::size_t(ps[std::size_t(k)].j)], w));
    for (std::size_t k = 0; k < ps.size(); ++k) put(ps[k], v[k], s, 0);
  };
  if (o.score == DsaScore::wasserstein) {
    if (dsa::cancelled(o.cancel, res)) return res;
    wasserstein_pairs(pairs, o.wasserstein_weights, PairStatus::ok);
    report(total);
    return res;
  }

  // Angular / euclidean: pairs grouped by (padded) operator size.
  std::map<std::int64_t, std::vector<std::int64_t>> by_size;  // n → pair indices
  std::vector<Pair> fallback;
  for (std::int64_t k = 0; k < total; ++k) {
    const auto& p = pairs[std::size_t(k)];
    const std::int64_t nx = x[std::size_t(p.i)].rank, ny = y[std::size_t(p.j)].rank;
    if (nx == ny) {
      by_size[nx].push_back(k);
      continue;
    }
    switch (o.size_mismatch) {
      case SizeMismatch::error:
        DYNX_EXPECTS(false,
                     fmt::format("dsa: systems x{} and y{} have operators of different sizes "
                                 "({} and {}); fix the rank, or choose size_mismatch = "
                                 "wasserstein (the reference's fallback) or zero_pad",
                                 p.i, p.j, nx, ny));
        break;
      case SizeMismatch::wasserstein: fallback.push_back(p); break;
      case SizeMismatch::zero_pad: by_size[std::max(nx, ny)].push_back(k); break;
    }
  }
  if (!fallback.empty() && !dsa::cancelled(o.cancel, res)) {
    detail::log().warn("dsa: {} pair(s) with operators of different sizes get the zero-padded "
                       "Wasserstein score",
                       fallback.size());
    wasserstein_pairs(fallback, WassersteinWeights::pad_zeros, PairStatus::size_fallback);
    report(std::int64_t(fallback.size()));
  }
  // Normalised operators, zero-padded to n where needed.
  auto normalised = [&](const DmdModel<T>& m, std::int64_t n, const std::string& who) {
    std::vector<T> a(std::size_t(n * n), T(0));
    for (std::int64_t j = 0; j < m.rank; ++j)
      for (std::int64_t i = 0; i < m.rank; ++i)
        a[std::size_t(j * n + i)] = m.a[std::size_t(j * m.rank + i)];
    dsa::normalise_operator(n, a.data(), who);
    return a;
  };
  const std::int64_t per_batch =
      o.pairs_per_batch > 0 ? o.pairs_per_batch : (ctx.device().is_cpu() ? 64 : 4096);
  for (const auto& [n, idx] : by_size) {
    const std::size_t nn = std::size_t(n * n);
    std::map<std::int64_t, std::vector<T>> cache_x, cache_y;  // normalised per system
    auto get = [&](std::map<std::int64_t, std::vector<T>>& cache,
                   const std::vector<DmdModel<T>>& ms, std::int64_t i, const char* side)
        -> const std::vector<T>& {
      auto it = cache.find(i);
      if (it == cache.end())
        it = cache.emplace(i, normalised(ms[std::size_t(i)], n,
                                         fmt::format("dsa: {} operator {}", side, i)))
                 .first;
      return it->second;
    };
    for (std::size_t first = 0; first < idx.size(); first += std::size_t(per_batch)) {
      if (dsa::cancelled(o.cancel, res)) return res;
      const std::size_t cnt = std::min(idx.size() - first, std::size_t(per_batch));
      std::vector<T> ha(nn * cnt), hb(nn * cnt), e(cnt);
      std::vector<std::int64_t> keys(cnt);
      for (std::size_t k = 0; k < cnt; ++k) {
        const auto& p = pairs[std::size_t(idx[first + k])];
        const auto& a = get(cache_x, x, p.i, "x");
        const auto& b = self ? get(cache_x, x, p.j, "x") : get(cache_y, y, p.j, "y");
        std::copy(a.begin(), a.end(), ha.begin() + std::int64_t(k * nn));
        std::copy(b.begin(), b.end(), hb.begin() + std::int64_t(k * nn));
        keys[k] = idx[first + k];
      }
      std::vector<ProcrustesInfo> info;
      dsa::procrustes_normalised<T>(ctx, n, std::int64_t(cnt), ha.data(), hb.data(), o.procrustes,
                                    keys.data(), e.data(), nullptr, info);
      for (std::size_t k = 0; k < cnt; ++k) {
        const auto& p = pairs[std::size_t(idx[first + k])];
        const bool padded = x[std::size_t(p.i)].rank != y[std::size_t(p.j)].rank;
        const double v = o.score == DsaScore::euclidean
                             ? double(e[k])
                             : double(math::angular_from_euclidean(e[k]));
        const PairStatus s = padded ? PairStatus::zero_padded
                                    : (info[k].converged ? PairStatus::ok : PairStatus::not_converged);
        put(p, v, s, info[k].iterations);
      }
      report(std::int64_t(cnt));
    }
  }
  return res;
}

}  // namespace

template <class T>
DsaResult compare_models_pairwise(Context& ctx, const std::vector<DmdModel<T>>& models,
                                  const DsaOptions& options) {
  return compare(ctx, models, models, /*self=*/true, options);
}

template <class T>
DsaResult compare_models_cross(Context& ctx, const std::vector<DmdModel<T>>& x,
                               const std::vector<DmdModel<T>>& y, const DsaOptions& options) {
  return compare(ctx, x, y, /*self=*/false, options);
}

template <class T>
DsaResult dsa_pairwise(Context& ctx, const std::vector<TrialSet<T>>& systems,
                       const DsaOptions& options) {
  return compare_models_pairwise(ctx, hankel_dmd_fit(ctx, systems, options.fit), options);
}

template <class T>
DsaResult dsa_cross(Context& ctx, const std::vector<TrialSet<T>>& x,
                    const std::vector<TrialSet<T>>& y, const DsaOptions& options) {
  return compare_models_cross(ctx, hankel_dmd_fit(ctx, x, options.fit),
                              hankel_dmd_fit(ctx, y, options.fit), options);
}

#define DYNX_INSTANTIATE(T)                                                                     \
  template DYNX_API DsaResult compare_models_pairwise<T>(Context&,                             \
                                                         const std::vector<DmdModel<T>>&,      \
                                                         const DsaOptions&);                   \
  template DYNX_API DsaResult compare_models_cross<T>(Context&, const std::vector<DmdModel<T>>&, \
                                                      const std::vector<DmdModel<T>>&,         \
                                                      const DsaOptions&);                      \
  template DYNX_API DsaResult dsa_pairwise<T>(Context&, const std::vector<TrialSet<T>>&,       \
                                              const DsaOptions&);                              \
  template DYNX_API DsaResult dsa_cross<T>(Context&, const std::vector<TrialSet<T>>&,          \
                                           const std::vector<TrialSet<T>>&, const DsaOptions&);
DYNX_INSTANTIATE(float)
DYNX_INSTANTIATE(double)
#undef DYNX_INSTANTIATE

}  // namespace dynx
