// Hankel DMD fit (spec §3), batched over systems on the context's device.
//
// The Hankel matrix H (R × D, R rows = time points, D = N·d) of a long recording can be far too
// big to hold, so it is never formed whole. Pass 1 streams it in chunks of rows through a QR
// (TSQR: R ← qr([R; H_chunk])), which gives the singular values σ and right singular vectors W of
// H from the D × D factor without squaring the condition number (a Gram matrix would). The
// whitened coordinates are then V = H W S⁻¹ (spec §3.2), and pass 2 streams the regression pairs
// (v_j, v_{j+s}) of every trial, never across a trial boundary, accumulating VₓᵀVₓ and VₓᵀV_y.
// Everything after that is k × k and done on the host in double. Systems with the same N, d and τ
// share every batched call (shorter systems get zero rows, which change neither R nor the sums).

#include "dsa/common.hpp"
#include "dsa/host.hpp"
#include "dsa/rank.hpp"

#include "core/log.hpp"

#include <dynx/dsa.hpp>
#include <dynx/status.hpp>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <tuple>

namespace dynx {
namespace {

std::string sys_name(std::size_t i) { return fmt::format("hankel_dmd_fit: system {}", i); }

template <class T>
void validate_system(const TrialSet<T>& s, const HankelDmdOptions& o, std::size_t i) {
  const std::string who = sys_name(i);
  DYNX_EXPECTS(o.n_delays >= 1, who + ": n_delays must be >= 1");
  DYNX_EXPECTS(o.delay_interval >= 1, who + ": delay_interval must be >= 1");
  DYNX_EXPECTS(o.steps_ahead >= 1, who + ": steps_ahead must be >= 1");
  DYNX_EXPECTS(std::isfinite(o.lambda) && o.lambda >= 0, who + ": lambda must be finite and >= 0");
  DYNX_EXPECTS(o.chunk_rows >= 0, who + ": chunk_rows must be >= 0");
  dsa::check_rank_options(o, who);
  DYNX_EXPECTS(s.n_features >= 1, who + ": n_features must be >= 1");
  DYNX_EXPECTS(!s.lengths.empty(), who + ": no trials (empty data)");
  DYNX_EXPECTS(s.data != nullptr, who + ": data is null");
  const std::int64_t span = (o.n_delays - 1) * o.delay_interval;
  for (std::size_t k = 0; k < s.lengths.size(); ++k) {
    DYNX_EXPECTS(s.lengths[k] - span >= 1,
                 fmt::format("{}, trial {}: {} time steps are too few for n_delays={} and "
                             "delay_interval={} (at least {} needed)",
                             who, k, s.lengths[k], o.n_delays, o.delay_interval, span + 1));
  }
  dsa::check_finite_trials(s, who);
}

/// Leading r × r block of a column-major ld × ld matrix.
std::vector<double> leading(const double* a, std::int64_t ld, std::int64_t r) {
  std::vector<double> out(std::size_t(r * r));
  for (std::int64_t j = 0; j < r; ++j)
    for (std::int64_t i = 0; i < r; ++i) out[std::size_t(j * r + i)] = a[j * ld + i];
  return out;
}

/// Final small-matrix step of one system: rank rule and ridge (or reduced-rank) regression from
/// the accumulated whitened cross products (k × k leading blocks of ld × ld matrices).
template <class T>
void finish_model(dsa::HostLinalg& la, const HankelDmdOptions& o, const double* xtx, const double* xty,
                  std::int64_t ld, std::int64_t k, const std::vector<double>& sigma,
                  DmdModel<T>& model) {
  if (!o.reduced_rank) {
    const std::int64_t r =
        dsa::choose_rank(o, sigma, k, model.hankel_rows, model.embedding_dim, model.warnings);
    auto g = leading(xtx, ld, r);
    for (std::int64_t i = 0; i < r; ++i) g[std::size_t(i * r + i)] += o.lambda;
    const auto w = la.solve(r, r, std::move(g), leading(xty, ld, r));  // W = (XᵀX+λI)⁻¹XᵀY
    model.rank = r;
    model.a.assign(std::size_t(r * r), T(0));
    for (std::int64_t j = 0; j < r; ++j)
      for (std::int64_t i = 0; i < r; ++i)
        model.a[std::size_t(j * r + i)] = static_cast<T>(w[std::size_t(i * r + j)]);  // A = Wᵀ
    return;
  }
  // Reduced-rank regression (spec §3.5) on all k columns.
  auto g = leading(xtx, ld, k);
  for (std::int64_t i = 0; i < k; ++i) g[std::size_t(i * k + i)] += o.lambda;
  const auto c = leading(xty, ld, k);
  const auto b_ols = la.solve(k, k, g, c);
  std::vector<double> p(std::size_t(k * k), 0.0);  // P = cᵀ B_ols, symmetrised
  for (std::int64_t j = 0; j < k; ++j)
    for (std::int64_t i = 0; i < k; ++i) {
      double s = 0;
      for (std::int64_t l = 0; l < k; ++l) s += c[std::size_t(i * k + l)] * b_ols[std::size_t(j * k + l)];
      p[std::size_t(j * k + i)] = s;
    }
  for (std::int64_t j = 0; j < k; ++j)
    for (std::int64_t i = 0; i < j; ++i) {
      const double s = 0.5 * (p[std::size_t(j * k + i)] + p[std::size_t(i * k + j)]);
      p[std::size_t(j * k + i)] = p[std::size_t(i * k + j)] = s;
    }
  std::vector<double> lam, q;
  la.eigh_desc(k, std::move(p), lam, q);
  for (double& l : lam) l = std::max(l, 0.0);
  const std::int64_t r = dsa::choose_rank(o, lam, k, model.hankel_rows, model.embedding_dim,
                                          model.warnings);
  // A_row = B_ols Q_r Q_rᵀ; the forward operator is its transpose.
  std::vector<double> qq(std::size_t(k * k), 0.0);
  for (std::int64_t j = 0; j < k; ++j)
    for (std::int64_t i = 0; i < k; ++i) {
      double s = 0;
      for (std::int64_t l = 0; l < r; ++l) s += q[std::size_t(l * k + i)] * q[std::size_t(l * k + j)];
      qq[std::size_t(j * k + i)] = s;
    }
  model.rank = k;
  model.a.assign(std::size_t(k * k), T(0));
  for (std::int64_t j = 0; j < k; ++j)
    for (std::int64_t i = 0; i < k; ++i) {
      double s = 0;
      for (std::int64_t l = 0; l < k; ++l) s += b_ols[std::size_t(l * k + i)] * qq[std::size_t(j * k + l)];
      model.a[std::size_t(i * k + j)] = static_cast<T>(s);  // transpose of A_row(i, j)
    }
}

template <class T>
void fit_group(Context& ctx, const std::vector<TrialSet<T>>& systems,
               const std::vector<HankelDmdOptions>& opts, const std::vector<std::size_t>& members,
               std::vector<DmdModel<T>>& models) {
  const auto& o0 = opts[members[0]];
  const std::int64_t n = systems[members[0]].n_features, d = o0.n_delays, tau = o0.delay_interval;
  const std::int64_t dim = n * d, count = std::int64_t(members.size());
  const std::int64_t span = (d - 1) * tau;

  // All member systems' samples back to back on the device; sample offsets per system.
  std::vector<std::int64_t> offset(members.size() + 1, 0);
  for (std::size_t g = 0; g < members.size(); ++g)
    offset[g + 1] = offset[g] + systems[members[g]].total_length();
  Buffer<T> data(std::size_t(offset.back() * n), ctx.device());
  for (std::size_t g = 0; g < members.size(); ++g) {
    const auto& s = systems[members[g]];
    copy_bytes(ctx, data.data() + offset[g] * n, ctx.device(), s.data, s.device,
               std::size_t(s.total_length() * n) * sizeof(T));
  }

  // Hankel row starts (oldest lag's sample index) and regression pairs, per system.
  std::vector<std::vector<std::int64_t>> rows(members.size()), px(members.size());
  std::int64_t max_rows = 0, max_pairs = 0;
  for (std::size_t g = 0; g < members.size(); ++g) {
    const auto& s = systems[members[g]];
    const std::int64_t steps = opts[members[g]].steps_ahead;
    std::int64_t t0 = offset[g];
    for (std::int64_t len : s.lengths) {
      const std::int64_t tp = len - span;
      for (std::int64_t j = 0; j < tp; ++j) rows[g].push_back(t0 + j);
      for (std::int64_t j = 0; j + steps < tp; ++j) px[g].push_back(t0 + j);
      t0 += len;
    }
    DYNX_EXPECTS(!px[g].empty(),
                 fmt::format("{}: no regression pairs: every trial has at most steps_ahead={} "
                             "delay-embedded time points",
                             sys_name(members[g]), steps));
    auto& m = models[members[g]];
    m.embedding_dim = dim;
    m.hankel_rows = std::int64_t(rows[g].size());
    m.regression_pairs = std::int64_t(px[g].size());
    max_rows = std::max(max_rows, m.hankel_rows);
    max_pairs = std::max(max_pairs, m.regression_pairs);
  }

  // Rows per chunk: about 2^24 elements per batched call in total, at least D, at most needed.
  std::int64_t chunk = o0.chunk_rows;
  if (chunk <= 0) chunk = std::max<std::int64_t>(std::max<std::int64_t>(dim, 256),
                                                 (std::int64_t{1} << 24) / (dim * count));
  const std::int64_t chunk1 = std::min(chunk, max_rows);
  const std::int64_t chunk2 = std::min(chunk, max_pairs);
  detail::log().debug("dsa fit: {} system(s), N={} d={} tau={} D={}, {} rows (chunks of {})",
                      count, n, d, tau, dim, max_rows, chunk1);

  const std::vector<std::int64_t> no_shift(members.size(), 0);
  std::vector<std::int64_t> steps(members.size());
  for (std::size_t g = 0; g < members.size(); ++g) steps[g] = opts[members[g]].steps_ahead;
  auto gather = [&](dsa::DeviceBatch<T>& out, std::int64_t row0, std::int64_t rows_per_item,
                    std::int64_t ld, const std::vector<std::vector<std::int64_t>>& starts,
                    std::int64_t first, const std::vector<std::int64_t>& shift) {
    std::vector<std::int64_t> h(std::size_t(count * rows_per_item), -1);
    for (std::int64_t g = 0; g < count; ++g)
      for (std::int64_t i = 0; i < rows_per_item; ++i) {
        const std::int64_t idx = first + i;
        if (idx < std::int64_t(starts[std::size_t(g)].size()))
          h[std::size_t(g * rows_per_item + i)] =
              starts[std::size_t(g)][std::size_t(idx)] + shift[std::size_t(g)];
      }
    Buffer<std::int64_t> d_starts = dsa::to_ctx(ctx, h);
    detail::MatRef o{out.ptr(0) + row0, rows_per_item, dim, ld, out.stride(), count, dtype_v<T>};
    detail::backend_for(ctx).hankel_rows(
        ctx, detail::HankelArgs{dtype_v<T>, data.data(), n, d, tau, d_starts.data(),
                                rows_per_item, count, o});
    ctx.synchronize();  // d_starts is freed on return
  };

  // Pass 1: R ← qr([R; H_chunk]).
  dsa::DeviceBatch<T> stack(ctx, dim + chunk1, dim, count);
  dsa::DeviceBatch<T> rfac(ctx, dim, dim, count);
  zero_bytes(ctx, stack.buf.data(), ctx.device(), stack.buf.bytes());
  dsa::Scalars<T> one(ctx, count, T(1)), zero(ctx, count, T(0));
  const T* d_one = one.push(ctx);
  const T* d_zero = zero.push(ctx);
  for (std::int64_t first = 0; first < max_rows; first += chunk1) {
    gather(stack, dim, chunk1, dim + chunk1, rows, first, no_shift);
    BatchStatus st;
    qr_batched<T>(ctx, stack.cview(), MatrixBatch<T>(), rfac.view(), &st);
    for (auto g : st.failed_indices())
      DYNX_EXPECTS(false, fmt::format("{}: non-finite values in the data",
                                      sys_name(members[std::size_t(g)])));
    detail::MatRef top{stack.ptr(0), dim, dim, dim + chunk1, stack.stride(), count, dtype_v<T>};
    dsa::axpby<T>(ctx, d_one, rfac.ref(), d_zero, top);
  }

  // SVD of the D × D factor: σ and the right singular vectors (rows of Vᵀ).
  dsa::DeviceBatch<T> u(ctx, dim, dim, count), vt(ctx, dim, dim, count);
  Buffer<T> s(std::size_t(dim * count), ctx.device());
  {
    BatchStatus st;
    svd_batched<T>(ctx, rfac.cview(), VectorBatch<T>(s.data(), dim, count, ctx.device()), u.view(),
                   vt.view(), &st);
    for (auto g : st.failed_indices())
      DYNX_EXPECTS(false, fmt::format("{}: the SVD of the Hankel matrix failed ({})",
                                      sys_name(members[std::size_t(g)]),
                                      to_string(st.at(g))));
  }
  const auto h_s = dsa::to_host_vector(ctx, s.data(), s.size());
  const auto h_vt = dsa::to_host_vector(ctx, vt.buf.data(), vt.buf.size());

  std::vector<std::int64_t> kept(members.size());
  std::vector<std::vector<double>> sigma(members.size());
  std::int64_t kmax = 0;
  for (std::size_t g = 0; g < members.size(); ++g) {
    const auto& o = opts[members[g]];
    auto& m = models[members[g]];
    const std::int64_t q = std::min(dim, m.hankel_rows);
    sigma[g].assign(h_s.begin() + std::int64_t(g) * dim, h_s.begin() + std::int64_t(g) * dim + q);
    DYNX_EXPECTS(sigma[g][0] > 0, sys_name(members[g]) + ": the data are all zero");
    const double cutoff = o.rel_sigma_cutoff >= 0
                              ? o.rel_sigma_cutoff
                              : (std::is_same<T, float>::value ? 1e-6 : 1e-12);
    kept[g] = std::max<std::int64_t>(1, dsa::count_above_relative(sigma[g], cutoff));
    m.kept_singular_values = kept[g];
    m.singular_values.assign(sigma[g].begin(), sigma[g].end());
    kmax = std::max(kmax, kept[g]);
  }

  // P = W_k S_k⁻¹ (D × kmax per system, zero columns beyond a system's k): V = H P.
  std::vector<T> h_p(std::size_t(dim * kmax * count), T(0));
  for (std::size_t g = 0; g < members.size(); ++g)
    for (std::int64_t j = 0; j < kept[g]; ++j)
      for (std::int64_t i = 0; i < dim; ++i)
        h_p[std::size_t(std::int64_t(g) * dim * kmax + j * dim + i)] = static_cast<T>(
            double(h_vt[std::size_t(std::int64_t(g) * dim * dim + i * dim + j)]) / sigma[g][std::size_t(j)]);
  dsa::DeviceBatch<T> proj(ctx, dim, kmax, count);
  dsa::upload(ctx, proj.buf.data(), h_p.data(), h_p.size());

  // Pass 2: whitened regression pairs, VₓᵀVₓ and VₓᵀV_y.
  dsa::DeviceBatch<T> hx(ctx, chunk2, dim, count), hy(ctx, chunk2, dim, count);
  dsa::DeviceBatch<T> vx(ctx, chunk2, kmax, count), vy(ctx, chunk2, kmax, count);
  dsa::DeviceBatch<T> xtx(ctx, kmax, kmax, count), xty(ctx, kmax, kmax, count);
  zero_bytes(ctx, xtx.buf.data(), ctx.device(), xtx.buf.bytes());
  zero_bytes(ctx, xty.buf.data(), ctx.device(), xty.buf.bytes());
  for (std::int64_t first = 0; first < max_pairs; first += chunk2) {
    gather(hx, 0, chunk2, chunk2, px, first, no_shift);
    gather(hy, 0, chunk2, chunk2, px, first, steps);  // y rows: x rows + steps_ahead
    dsa::gemm<T>(ctx, Op::n, Op::n, T(1), hx.ref(), proj.ref(), T(0), vx.ref());
    dsa::gemm<T>(ctx, Op::n, Op::n, T(1), hy.ref(), proj.ref(), T(0), vy.ref());
    dsa::gemm<T>(ctx, Op::t, Op::n, T(1), vx.ref(), vx.ref(), T(1), xtx.ref());
    dsa::gemm<T>(ctx, Op::t, Op::n, T(1), vx.ref(), vy.ref(), T(1), xty.ref());
  }
  const auto h_xtx = dsa::to_host_vector(ctx, xtx.buf.data(), xtx.buf.size());
  const auto h_xty = dsa::to_host_vector(ctx, xty.buf.data(), xty.buf.size());

  dsa::HostLinalg la;
  for (std::size_t g = 0; g < members.size(); ++g) {
    std::vector<double> a(h_xtx.begin() + std::int64_t(g) * kmax * kmax,
                          h_xtx.begin() + std::int64_t(g + 1) * kmax * kmax);
    std::vector<double> b(h_xty.begin() + std::int64_t(g) * kmax * kmax,
                          h_xty.begin() + std::int64_t(g + 1) * kmax * kmax);
    finish_model(la, opts[members[g]], a.data(), b.data(), kmax, kept[g], sigma[g],
                 models[members[g]]);
  }
}

}  // namespace

template <class T>
std::vector<DmdModel<T>> hankel_dmd_fit(Context& ctx, const std::vector<TrialSet<T>>& systems,
                                        const std::vector<HankelDmdOptions>& options) {
  DYNX_EXPECTS(options.size() == systems.size(),
               fmt::format("hankel_dmd_fit: {} option sets for {} systems", options.size(),
                           systems.size()));
  for (std::size_t i = 0; i < systems.size(); ++i) {
    validate_system(systems[i], options[i], i);
    DYNX_EXPECTS(systems[i].device.is_cpu() || systems[i].device == ctx.device(),
                 sys_name(i) + ": data must be on the host or on the context's device");
  }
  std::vector<DmdModel<T>> models(systems.size());
  // Systems sharing N, d and τ (and the chunk option) are fitted together.
  std::map<std::tuple<std::int64_t, std::int64_t, std::int64_t, std::int64_t>,
           std::vector<std::size_t>> groups;
  for (std::size_t i = 0; i < systems.size(); ++i)
    groups[{systems[i].n_features, options[i].n_delays, options[i].delay_interval,
            options[i].chunk_rows}]
        .push_back(i);
  for (const auto& [key, members] : groups) fit_group(ctx, systems, options, members, models);
  return models;
}

template <class T>
std::vector<DmdModel<T>> hankel_dmd_fit(Context& ctx, const std::vector<TrialSet<T>>& systems,
                                        const HankelDmdOptions& options) {
  return hankel_dmd_fit(ctx, systems, std::vector<HankelDmdOptions>(systems.size(), options));
}

#define DYNX_INSTANTIATE(T)                                                                  \
  template DYNX_API std::vector<DmdModel<T>> hankel_dmd_fit<T>(                              \
      Context&, const std::vector<TrialSet<T>>&, const HankelDmdOptions&);                   \
  template DYNX_API std::vector<DmdModel<T>> hankel_dmd_fit<T>(                              \
      Context&, const std::vector<TrialSet<T>>&, const std::vector<HankelDmdOptions>&);
DYNX_INSTANTIATE(float)
DYNX_INSTANTIATE(double)
#undef DYNX_INSTANTIATE

}  // namespace dynx
