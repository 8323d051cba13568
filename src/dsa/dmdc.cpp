// DMDc fit (Proctor et al. 2016; spec §7.3, the reference's joint-SVD formulation), batched over
// systems on the context's device and streamed over time.
//
// Regression rows r = [x_t, u_t, x_{t+s}] (x_t the delay-embedded state row ending at t, newest
// lag first; u_t the input row with c lags ending at the same time) are streamed through a QR
// (TSQR), so that [Ωᵀ Yᵀ] = Q [R₁₁ R₁₂; 0 R₂₂] with Ω = [X; U]. Then Ω = R₁₁ᵀQ₁ᵀ (its U_p, S_p and
// V_p = Q₁W_p from the SVD R₁₁ᵀ = U_p S_p W_pᵀ), Y = [R₁₂ᵀ R₂₂ᵀ][Q₁ Q₂]ᵀ (its U_r from the SVD of
// the small [R₁₂ᵀ R₂₂ᵀ]) and Y V_p = R₁₂ᵀ W_p, so that A_full = R₁₂ᵀ W_p S̃ U_p1ᵀ and
// B_full = R₁₂ᵀ W_p S̃ U_p2ᵀ are formed from (2D + D_u)² numbers, however long the data.

#include "dsa/common.hpp"
#include "dsa/host.hpp"

#include "core/log.hpp"

#include <dynx/dsa.hpp>
#include <dynx/status.hpp>

#include <algorithm>

namespace dynx {
namespace {

std::string sys_name(std::size_t i) { return fmt::format("dmdc_fit: system {}", i); }

void check_options(const DmdcOptions& o) {
  DYNX_EXPECTS(o.n_delays >= 1, "dmdc_fit: n_delays must be >= 1");
  DYNX_EXPECTS(o.delay_interval >= 1, "dmdc_fit: delay_interval must be >= 1");
  DYNX_EXPECTS(o.n_control_delays >= 1 && o.n_control_delays <= o.n_delays,
               "dmdc_fit: n_control_delays must be in [1, n_delays]");
  DYNX_EXPECTS(!o.rank_input || *o.rank_input >= 1, "dmdc_fit: rank_input must be >= 1");
  DYNX_EXPECTS(!o.rank_output || *o.rank_output >= 1, "dmdc_fit: rank_output must be >= 1");
  DYNX_EXPECTS(std::isfinite(o.lambda) && o.lambda >= 0, "dmdc_fit: lambda must be finite and >= 0");
  DYNX_EXPECTS(o.steps_ahead >= 1, "dmdc_fit: steps_ahead must be >= 1");
  DYNX_EXPECTS(o.chunk_rows >= 0, "dmdc_fit: chunk_rows must be >= 0");
}

template <class T>
void fit_group(Context& ctx, const std::vector<TrialSet<T>>& ys, const std::vector<TrialSet<T>>& us,
               const DmdcOptions& o, const std::vector<std::size_t>& members,
               std::vector<ControlModel<T>>& models) {
  const std::int64_t nf = ys[members[0]].n_features, nu = us[members[0]].n_features;
  const std::int64_t d = o.n_delays, tau = o.delay_interval, c = o.n_control_delays;
  const std::int64_t dx = nf * d, du = nu * c, width = 2 * dx + du, count = std::int64_t(members.size());
  const std::int64_t span = (d - 1) * tau;

  std::vector<std::int64_t> offset(members.size() + 1, 0);
  for (std::size_t g = 0; g < members.size(); ++g)
    offset[g + 1] = offset[g] + ys[members[g]].total_length();
  Buffer<T> ydata(std::size_t(offset.back() * nf), ctx.device());
  Buffer<T> udata(std::size_t(offset.back() * nu), ctx.device());
  for (std::size_t g = 0; g < members.size(); ++g) {
    const auto& y = ys[members[g]];
    const auto& u = us[members[g]];
    copy_bytes(ctx, ydata.data() + offset[g] * nf, ctx.device(), y.data, y.device,
               std::size_t(y.total_length() * nf) * sizeof(T));
    copy_bytes(ctx, udata.data() + offset[g] * nu, ctx.device(), u.data, u.device,
               std::size_t(u.total_length() * nu) * sizeof(T));
  }

  // Regression pairs: the first sample of the x row and of the x_{t+s} row.
  std::vector<std::vector<std::int64_t>> xs(members.size()), ysh(members.size());
  std::int64_t max_pairs = 0;
  for (std::size_t g = 0; g < members.size(); ++g) {
    const auto& y = ys[members[g]];
    auto& md = models[members[g]];
    md.outputs = dx;
    md.inputs = du;
    md.trials_total = std::int64_t(y.lengths.size());
    std::vector<std::int64_t> rows;  // all Hankel rows, trial by trial
    std::int64_t t0 = offset[g];
    for (const std::int64_t len : y.lengths) {
      const std::int64_t tp = len - span;
      if (tp >= 1) ++md.trials_used;
      for (std::int64_t j = 0; j < tp; ++j) rows.push_back(t0 + j);
      if (!o.reference_cross_trial_pairs)
        for (std::int64_t j = 0; j + o.steps_ahead < tp; ++j) {
          xs[g].push_back(t0 + j);
          ysh[g].push_back(t0 + j + o.steps_ahead);
        }
      t0 += len;
    }
    if (o.reference_cross_trial_pairs)
      for (std::size_t r = 0; r + std::size_t(o.steps_ahead) < rows.size(); ++r) {
        xs[g].push_back(rows[r]);
        ysh[g].push_back(rows[r + std::size_t(o.steps_ahead)]);
      }
    if (md.trials_used < md.trials_total)
      md.warnings.push_back(fmt::format("{} of {} trials are shorter than the delay window ({} "
                                        "samples) and were skipped",
                                        md.trials_total - md.trials_used, md.trials_total, span + 1));
    DYNX_EXPECTS(!xs[g].empty(), fmt::format("{}: no regression pairs (every trial has at most "
                                             "steps_ahead = {} delay-embedded rows)",
                                             sys_name(members[g]), o.steps_ahead));
    md.columns = std::int64_t(rows.size());
    md.regression_pairs = std::int64_t(xs[g].size());
    max_pairs = std::max(max_pairs, md.regression_pairs);
  }

  std::int64_t chunk = o.chunk_rows;
  if (chunk <= 0) chunk = std::max<std::int64_t>(std::max<std::int64_t>(width, 256),
                                                 (std::int64_t{1} << 24) / (width * count));
  chunk = std::min(chunk, max_pairs);
  detail::log().debug("dmdc fit: {} system(s), D={} D_u={}, {} pairs (chunks of {})", count, dx, du,
                      max_pairs, chunk);

  // Rows [first, first + chunk) of every member into rows dx.. of the stack (hankel_rows writes the
  // newest lag first; a row of `d` lags starting at sample t ends at t + (d − 1)τ).
  dsa::DeviceBatch<T> stack(ctx, width + chunk, width, count), rfac(ctx, width, width, count);
  zero_bytes(ctx, stack.buf.data(), ctx.device(), stack.buf.bytes());
  auto rows_of = [&](std::int64_t col0, const Buffer<T>& src, std::int64_t n, std::int64_t lags,
                     const std::vector<std::vector<std::int64_t>>& starts, std::int64_t first,
                     std::int64_t shift) {
    std::vector<std::int64_t> h(std::size_t(count * chunk), -1);
    for (std::int64_t g = 0; g < count; ++g)
      for (std::int64_t i = 0; i < chunk; ++i) {
        const std::int64_t idx = first + i;
        if (idx < std::int64_t(starts[std::size_t(g)].size()))
          h[std::size_t(g * chunk + i)] = starts[std::size_t(g)][std::size_t(idx)] + shift;
      }
    Buffer<std::int64_t> d_starts = dsa::to_ctx(ctx, h);
    detail::MatRef r{stack.ptr(0) + width + col0 * stack.rows, chunk, n * lags, stack.rows,
                     stack.stride(), count, dtype_v<T>};
    detail::backend_for(ctx).hankel_rows(
        ctx, detail::HankelArgs{dtype_v<T>, src.data(), n, lags, tau, d_starts.data(), chunk, count, r});
    ctx.synchronize();
  };
  dsa::Scalars<T> one(ctx, count, T(1)), zero(ctx, count, T(0));
  const T* d_one = one.push(ctx);
  const T* d_zero = zero.push(ctx);
  for (std::int64_t first = 0; first < max_pairs; first += chunk) {
    rows_of(0, ydata, nf, d, xs, first, 0);                    // x_t
    rows_of(dx, udata, nu, c, xs, first, (d - c) * tau);       // u, newest lag at the row's end
    rows_of(dx + du, ydata, nf, d, ysh, first, 0);             // x_{t+s}
    BatchStatus st;
    qr_batched<T>(ctx, stack.cview(), MatrixBatch<T>(), rfac.view(), &st);
    for (auto g : st.failed_indices())
      DYNX_EXPECTS(false, fmt::format("{}: the QR of the regression rows failed ({})",
                                      sys_name(members[std::size_t(g)]), to_string(st.at(g))));
    detail::MatRef top{stack.ptr(0), width, width, width + chunk, stack.stride(), count, dtype_v<T>};
    dsa::axpby<T>(ctx, d_one, rfac.ref(), d_zero, top);
  }
  const auto h_r = dsa::to_host_vector(ctx, rfac.buf.data(), rfac.buf.size());

  dsa::HostLinalg host;
  const std::int64_t dp = dx + du;  // rows of Ω
  for (std::size_t g = 0; g < members.size(); ++g) {
    auto& md = models[members[g]];
    const std::string who = sys_name(members[g]);
    const std::vector<double> r(h_r.begin() + std::int64_t(g) * width * width,
                                h_r.begin() + std::int64_t(g + 1) * width * width);
    const auto r11 = dsa::sub_block(r, width, 0, dp, 0, dp);
    const auto r12 = dsa::sub_block(r, width, 0, dp, dp, dx);
    const auto r22 = dsa::sub_block(r, width, dp, dx, dp, dx);
    // Ω = R₁₁ᵀ Q₁ᵀ: SVD of R₁₁ᵀ = U_p S_p W_pᵀ.
    std::vector<double> r11t(std::size_t(dp * dp));
    for (std::int64_t j = 0; j < dp; ++j)
      for (std::int64_t i = 0; i < dp; ++i) r11t[std::size_t(j * dp + i)] = r11[std::size_t(i * dp + j)];
    std::vector<double> up, sp, wpt;
    host.svd(dp, dp, r11t, up, sp, wpt, who);
    DYNX_EXPECTS(sp[0] > 0, who + ": the states and inputs are all zero");
    // Y = [R₁₂ᵀ R₂₂ᵀ] Qᵀ: its left singular vectors from the D × (dp + D) matrix.
    std::vector<double> yr(std::size_t(dx * (dp + dx)));
    for (std::int64_t j = 0; j < dp; ++j)
      for (std::int64_t i = 0; i < dx; ++i) yr[std::size_t(j * dx + i)] = r12[std::size_t(i * dp + j)];
    for (std::int64_t j = 0; j < dx; ++j)
      for (std::int64_t i = 0; i < dx; ++i) yr[std::size_t((dp + j) * dx + i)] = r22[std::size_t(i * dx + j)];
    std::vector<double> ur, sr, vrt;
    host.svd(dx, dp + dx, yr, ur, sr, vrt, who);
    const std::int64_t ri = o.rank_input ? *o.rank_input : std::min(dp, md.regression_pairs);
    const std::int64_t ro = o.rank_output ? *o.rank_output : std::min(dx, md.regression_pairs);
    DYNX_EXPECTS(ri <= std::min(dp, md.regression_pairs),
                 fmt::format("{}: rank_input {} is larger than min(D + D_u, pairs) = {}", who, ri,
                             std::min(dp, md.regression_pairs)));
    DYNX_EXPECTS(ro <= std::min(dx, md.regression_pairs),
                 fmt::format("{}: rank_output {} is larger than min(D, pairs) = {}", who, ro,
                             std::min(dx, md.regression_pairs)));
    // G = R₁₂ᵀ W_p[:, :ri] S̃ (D × ri), S̃ = σ / (σ² + λ); A_full = G U_p1ᵀ, B_full = G U_p2ᵀ.
    std::vector<double> wp(std::size_t(dp * ri));  // W_p = (W_pᵀ)ᵀ, first ri columns
    for (std::int64_t j = 0; j < ri; ++j)
      for (std::int64_t i = 0; i < dp; ++i)
        wp[std::size_t(j * dp + i)] =
            wpt[std::size_t(i * dp + j)] * sp[std::size_t(j)] / (sp[std::size_t(j)] * sp[std::size_t(j)] + o.lambda);
    const auto gm = host.mul(Op::t, Op::n, dx, ri, dp, r12, dp, wp, dp);
    // A = U_rᵀ G U_p1ᵀ U_r (ro × ro), B = U_rᵀ G U_p2ᵀ (ro × D_u).
    const auto urg = host.mul(Op::t, Op::n, ro, ri, dx, ur, dx, gm, dx);  // U_rᵀ G
    const auto up1 = dsa::sub_block(up, dp, 0, dx, 0, ri), up2 = dsa::sub_block(up, dp, dx, du, 0, ri);
    const auto p1u = host.mul(Op::t, Op::n, ri, ro, dx, up1, dx, ur, dx);  // U_p1ᵀ U_r
    const auto a = host.mul(Op::n, Op::n, ro, ro, ri, urg, ro, p1u, ri);
    const auto b = host.mul(Op::n, Op::t, ro, du, ri, urg, ro, up2, du);
    md.rank = ro;
    md.a.assign(a.begin(), a.end());
    md.b.assign(b.begin(), b.end());
    md.c.assign(ur.begin(), ur.begin() + dx * ro);
    md.singular_values.assign(sr.begin(), sr.end());
  }
}

}  // namespace

template <class T>
std::vector<ControlModel<T>> dmdc_fit(Context& ctx, const std::vector<TrialSet<T>>& systems,
                                      const std::vector<TrialSet<T>>& inputs,
                                      const DmdcOptions& options) {
  check_options(options);
  return dsa::fit_driven<ControlModel<T>>(
      ctx, systems, inputs, "dmdc_fit", [](std::size_t) {},
      [&](const std::vector<std::size_t>& members, std::vector<ControlModel<T>>& models) {
        fit_group(ctx, systems, inputs, options, members, models);
      });
}

#define DYNX_INSTANTIATE(T)                                                                   \
  template DYNX_API std::vector<ControlModel<T>> dmdc_fit<T>(                                 \
      Context&, const std::vector<TrialSet<T>>&, const std::vector<TrialSet<T>>&,             \
      const DmdcOptions&);
DYNX_INSTANTIATE(float)
DYNX_INSTANTIATE(double)
#undef DYNX_INSTANTIATE

}  // namespace dynx
