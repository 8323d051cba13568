// Geometric baselines beside DSA: the angular Procrustes shape distance on PCA-reduced states
// (Williams et al. 2021) and linear CKA (Kornblith et al. 2019). Both compare the states at
// matched time points; they see geometry, not dynamics.
//
// Each system is centred (on the host, in double) and rotated once into its principal axes on the
// context's device (Gram matrix, batched eigh): P_i = V_iᵀ X̃_i, N_i × T, ascending variance, so
// the top p components are its last p rows. A pair then needs one p_i × p_j cross product
// P_i Pⱼᵀ: its nuclear norm for Procrustes (batched SVD), its squared Frobenius norm for CKA. All
// cross products of a row against a run of equally sized systems are one batched GEMM.

#include "dsa/common.hpp"
#include "dsa/internal.hpp"

#include <dynx/dsa.hpp>
#include <dynx/status.hpp>

#include <algorithm>
#include <cmath>
#include <map>

namespace dynx {
namespace {

/// The systems of one side, centred and rotated into principal axes on the device.
template <class T>
struct Prepared {
  Buffer<T> p;                         // P_i back to back
  std::vector<std::int64_t> n, offset;  // features and element offset per system
  std::vector<std::vector<double>> w;  // Gram eigenvalues (ascending) per system
};

template <class T>
Prepared<T> prepare(Context& ctx, const std::vector<TrialSet<T>>& sys, std::int64_t t_total,
                    const char* who) {
  Prepared<T> out;
  std::int64_t elems = 0;
  for (const auto& s : sys) {
    out.n.push_back(s.n_features);
    out.offset.push_back(elems);
    elems += s.n_features * t_total;
  }
  Buffer<T> x(std::size_t(elems), ctx.device());
  // Centre on the host in double (the data may live on a device: stage it through the host).
  for (std::size_t i = 0; i < sys.size(); ++i) {
    const auto& s = sys[i];
    const std::int64_t n = s.n_features, len = n * t_total;
    std::vector<T> h(static_cast<std::size_t>(len));
    copy_bytes(ctx, h.data(), Device::cpu(), s.data, s.device, std::size_t(len) * sizeof(T));
    ctx.synchronize();
    std::vector<double> mean(std::size_t(n), 0.0);
    for (std::int64_t t = 0; t < t_total; ++t)
      for (std::int64_t f = 0; f < n; ++f) {
        const T v = h[std::size_t(t * n + f)];
        DYNX_EXPECTS(std::isfinite(v), fmt::format("{}: system {} has a non-finite value {} at "
                                                   "time step {} (trials stacked), feature {}",
                                                   who, i, double(v), t, f));
        mean[std::size_t(f)] += double(v);
      }
    for (auto& m : mean) m /= double(t_total);
    for (std::int64_t t = 0; t < t_total; ++t)
      for (std::int64_t f = 0; f < n; ++f)
        h[std::size_t(t * n + f)] = T(double(h[std::size_t(t * n + f)]) - mean[std::size_t(f)]);
    dsa::upload(ctx, x.data() + out.offset[i], h.data(), h.size());
  }
  // Principal axes, batched over systems of equal width.
  out.p = Buffer<T>(std::size_t(elems), ctx.device());
  out.w.resize(sys.size());
  std::map<std::int64_t, std::vector<std::size_t>> by_n;
  for (std::size_t i = 0; i < sys.size(); ++i) by_n[out.n[i]].push_back(i);
  for (const auto& [n, idx] : by_n) {
    const std::int64_t cnt = std::int64_t(idx.size());
    dsa::DeviceBatch<T> gram(ctx, n, n, cnt), v(ctx, n, n, cnt);
    for (std::int64_t k = 0; k < cnt; ++k) {
      const detail::MatRef xi{x.data() + out.offset[idx[std::size_t(k)]], n, t_total, n,
                              n * t_total, 1, dtype_v<T>};
      dsa::gemm<T>(ctx, Op::n, Op::t, T(1), xi, xi, T(0), dsa::slice(gram.ref(), k, 1));
    }
    Buffer<T> w(std::size_t(n * cnt), ctx.device());
    BatchStatus st;
    eigh_batched<T>(ctx, gram.cview(), VectorBatch<T>(w.data(), n, cnt, ctx.device()), v.view(),
                    &st);
    for (auto k : st.failed_indices())
      DYNX_EXPECTS(false, fmt::format("{}: system {}: eigen-decomposition of the state covariance "
                                      "failed ({})",
                                      who, idx[std::size_t(k)], to_string(st.at(k))));
    const auto hw = dsa::to_host_vector(ctx, w.data(), w.size());
    for (std::int64_t k = 0; k < cnt; ++k) {
      const std::size_t i = idx[std::size_t(k)];
      auto& wi = out.w[i];
      for (std::int64_t e = 0; e < n; ++e) wi.push_back(std::max(0.0, double(hw[std::size_t(k * n + e)])));
      DYNX_EXPECTS(wi.back() > 0, fmt::format("{}: system {} is constant over time (zero variance "
                                              "after centring)",
                                              who, i));
      const detail::MatRef xi{x.data() + out.offset[i], n, t_total, n, n * t_total, 1, dtype_v<T>};
      const detail::MatRef pi{out.p.data() + out.offset[i], n, t_total, n, n * t_total, 1,
                              dtype_v<T>};
      dsa::gemm<T>(ctx, Op::t, Op::n, T(1), dsa::slice(v.ref(), k, 1), xi, T(0), pi);
    }
  }
  return out;
}

template <class T>
DsaResult geometry(Context& ctx, const std::vector<TrialSet<T>>& x,
                   const std::vector<TrialSet<T>>& y, bool self, const GeometryOptions& o) {
  const char* who = self ? "geometry_pairwise" : "geometry_cross";
  DYNX_EXPECTS(o.pca_dim >= 0, fmt::format("{}: pca_dim must be >= 0, got {}", who, o.pca_dim));
  std::int64_t t_total = -1;
  std::string first;
  auto check = [&](const std::vector<TrialSet<T>>& ss, const char* side) {
    for (std::size_t i = 0; i < ss.size(); ++i) {
      const auto& s = ss[i];
      const std::string name = fmt::format("{}: {}system {}", who, side, i);
      DYNX_EXPECTS(s.data != nullptr, name + ": data is null");
      DYNX_EXPECTS(s.n_features >= 1, name + ": n_features must be >= 1");
      DYNX_EXPECTS(!s.lengths.empty(), name + ": no trials (empty data)");
      for (std::size_t k = 0; k < s.lengths.size(); ++k)
        DYNX_EXPECTS(s.lengths[k] >= 1, fmt::format("{}: trial {} is empty", name, k));
      const std::int64_t t = s.total_length();
      if (t_total < 0) {
        t_total = t;
        first = name;
      }
      DYNX_EXPECTS(t == t_total,
                   fmt::format("{} has {} time steps in total but {} has {}; geometric metrics "
                               "compare states at matched time points, so every system needs "
                               "the same number",
                               name, t, first, t_total));
      DYNX_EXPECTS(t >= 2, fmt::format("{}: {} time step(s); at least 2 are needed", name, t));
    }
  };
  check(x, self ? "" : "x ");
  if (!self) check(y, "y ");

  DsaResult res = dsa::pending_result(std::int64_t(x.size()),
                                      std::int64_t(self ? x.size() : y.size()), self);
  const auto pairs = dsa::pair_schedule(res.rows, res.cols, self);
  if (pairs.empty()) return res;

  const Prepared<T> px = prepare(ctx, x, t_total, who);
  Prepared<T> py_own;
  if (!self) py_own = prepare(ctx, y, t_total, who);
  const Prepared<T>& py = self ? px : py_own;

  const bool cka = o.metric == GeometryMetric::cka;
  auto dims = [&](std::int64_t nx, std::int64_t ny, std::int64_t i, std::int64_t j) {
    if (cka) return std::pair<std::int64_t, std::int64_t>(nx, ny);
    const std::int64_t p = o.pca_dim > 0 ? o.pca_dim : std::min(nx, ny);
    DYNX_EXPECTS(p <= std::min(nx, ny),
                 fmt::format("{}: pca_dim = {} exceeds the features of systems {} ({}) and {} "
                             "({})",
                             who, p, i, nx, j, ny));
    return std::pair<std::int64_t, std::int64_t>(p, p);
  };
  auto top_energy = [](const std::vector<double>& w, std::int64_t p) {
    double s = 0;
    for (std::size_t e = w.size() - std::size_t(p); e < w.size(); ++e) s += w[e];
    return s;
  };
  auto fro_of_gram = [](const std::vector<double>& w) {
    double s = 0;
    for (double v : w) s += v * v;
    return std::sqrt(s);
  };

  std::int64_t done = 0;
  const std::int64_t total = std::int64_t(pairs.size());
  // Pairs of one row against a run of consecutive columns of equal width share one batched GEMM.
  std::size_t k = 0;
  while (k < pairs.size()) {
    if (dsa::cancelled(o.cancel, res)) return res;
    const std::int64_t i = pairs[k].i, j0 = pairs[k].j;
    const std::int64_t nx = px.n[std::size_t(i)], ny = py.n[std::size_t(j0)];
    const auto [pi, pj] = dims(nx, ny, i, j0);
    const std::int64_t cap = std::max<std::int64_t>(1, (std::int64_t(1) << 24) / (pi * pj));
    std::size_t end = k + 1;
    while (end < pairs.size() && pairs[end].i == i && pairs[end].j == pairs[end - 1].j + 1 &&
           py.n[std::size_t(pairs[end].j)] == ny && std::int64_t(end - k) < cap)
      ++end;
    const std::int64_t cnt = std::int64_t(end - k);
    const detail::MatRef a{const_cast<T*>(px.p.data()) + px.offset[std::size_t(i)] + (nx - pi),
                           pi, t_total, nx, 0, cnt, dtype_v<T>};
    const detail::MatRef b{const_cast<T*>(py.p.data()) + py.offset[std::size_t(j0)] + (ny - pj),
                           pj, t_total, ny, ny * t_total, cnt, dtype_v<T>};
    dsa::DeviceBatch<T> c(ctx, pi, pj, cnt);
    dsa::gemm<T>(ctx, Op::n, Op::t, T(1), a, b, T(0), c.ref());
    std::vector<double> score(static_cast<std::size_t>(cnt));
    if (cka) {
      Buffer<T> f2(std::size_t(cnt), ctx.device());
      dsa::dot<T>(ctx, c.ref(), c.ref(), f2.data());
      const auto h = dsa::to_host_vector(ctx, f2.data(), f2.size());
      const double gx = fro_of_gram(px.w[std::size_t(i)]);
      for (std::int64_t q = 0; q < cnt; ++q) {
        const double gy = fro_of_gram(py.w[std::size_t(j0 + q)]);
        score[std::size_t(q)] = std::clamp(1.0 - double(h[std::size_t(q)]) / (gx * gy), 0.0, 1.0);
      }
    } else {
      const std::int64_t p = pi;
      Buffer<T> s(std::size_t(p * cnt), ctx.device());
      BatchStatus st;
      svd_batched<T>(ctx, c.cview(), VectorBatch<T>(s.data(), p, cnt, ctx.device()),
                     MatrixBatch<T>(), MatrixBatch<T>(), &st);
      for (auto q : st.failed_indices())
        DYNX_EXPECTS(false, fmt::format("{}: SVD of the cross-covariance of systems {} and {} "
                                        "failed ({})",
                                        who, i, j0 + q, to_string(st.at(q))));
      const auto h = dsa::to_host_vector(ctx, s.data(), s.size());
      const double ex = top_energy(px.w[std::size_t(i)], p);
      for (std::int64_t q = 0; q < cnt; ++q) {
        double nuc = 0;
        for (std::int64_t e = 0; e < p; ++e) nuc += double(h[std::size_t(q * p + e)]);
        const double ey = top_energy(py.w[std::size_t(j0 + q)], p);
        score[std::size_t(q)] = std::acos(std::clamp(nuc / std::sqrt(ex * ey), -1.0, 1.0));
      }
    }
    for (std::int64_t q = 0; q < cnt; ++q) {
      const std::int64_t j = j0 + q;
      auto set = [&](std::int64_t cell) {
        res.distance[std::size_t(cell)] = score[std::size_t(q)];
        res.status[std::size_t(cell)] = PairStatus::ok;
      };
      set(i * res.cols + j);
      if (self) set(j * res.cols + i);
    }
    done += cnt;
    if (o.progress) o.progress(done, total);
    k = end;
  }
  return res;
}

}  // namespace

template <class T>
DsaResult geometry_pairwise(Context& ctx, const std::vector<TrialSet<T>>& systems,
                            const GeometryOptions& options) {
  return geometry(ctx, systems, systems, true, options);
}

template <class T>
DsaResult geometry_cross(Context& ctx, const std::vector<TrialSet<T>>& x,
                         const std::vector<TrialSet<T>>& y, const GeometryOptions& options) {
  return geometry(ctx, x, y, false, options);
}

#define DYNX_INSTANTIATE(T)                                                                      \
  template DYNX_API DsaResult geometry_pairwise<T>(Context&, const std::vector<TrialSet<T>>&,    \
                                                   const GeometryOptions&);                      \
  template DYNX_API DsaResult geometry_cross<T>(Context&, const std::vector<TrialSet<T>>&,       \
                                                const std::vector<TrialSet<T>>&,                 \
                                                const GeometryOptions&);
DYNX_INSTANTIATE(float)
DYNX_INSTANTIATE(double)
#undef DYNX_INSTANTIATE

}  // namespace dynx
