// SubspaceDMDc fit (spec §7.2, the reference's 'n4sid' backend), batched over systems on the
// context's device and streamed over time.
//
// Column j of the block-Hankel data is h_j = [u_{j+p..j+p+f−1}; u_{j..j+p−1}; y_{j..j+p−1};
// y_{j+p..j+p+f−1}] (each window oldest first), i.e. the blocks U_f, Z_p = [U_p; Y_p] and Y_f.
// Pass 1 streams the columns through a QR (TSQR: R ← qr([R; H_chunkᵀ])), so H = L Qᵀ with L = Rᵀ
// lower block-triangular. The oblique projection is O = L₃₂ L₂₂⁺ Z_p, and since
// Z_p = [L₂₁ L₂₂] Q₁₂ᵀ with Q₁₂ orthonormal, O = M Q₁₂ᵀ with the small M = L₃₂ L₂₂⁺ [L₂₁ L₂₂]:
// O's singular values and left vectors are M's. The state sequence X̂ = S^½ V_oᵀ = S^-½ U_oᵀ O
// is then x_j = K z_p(j) with K = S_n^-½ U_nᵀ L₃₂ L₂₂⁺, so pass 2 streams the regression pairs
// (x_j, u_{j+p}) → x_{j+1} within trials and accumulates ZZᵀ and Z X⁺ᵀ. Nothing of size T_tot is
// ever held; everything after pass 1 is D_H × D_H or smaller and done on the host in double.

#include "dsa/common.hpp"
#include "dsa/host.hpp"

#include "core/log.hpp"

#include <dynx/dsa.hpp>
#include <dynx/status.hpp>

#include <algorithm>
#include <cmath>
#include <limits>

namespace dynx {
namespace {

std::string sys_name(std::size_t i) { return fmt::format("subspace_dmdc_fit: system {}", i); }

void check_options(const SubspaceDmdcOptions& o) {
  DYNX_EXPECTS(o.n_delays >= 1, "subspace_dmdc_fit: n_delays must be >= 1");
  DYNX_EXPECTS(!o.rank || *o.rank >= 1, "subspace_dmdc_fit: rank must be >= 1");
  DYNX_EXPECTS(o.energy > 0 && o.energy <= 1, "subspace_dmdc_fit: energy must be in (0, 1]");
  DYNX_EXPECTS(std::isfinite(o.lambda) && o.lambda >= 0,
               "subspace_dmdc_fit: lambda must be finite and >= 0");
  DYNX_EXPECTS(o.chunk_rows >= 0, "subspace_dmdc_fit: chunk_rows must be >= 0");
}

template <class T>
void fit_group(Context& ctx, const std::vector<TrialSet<T>>& ys, const std::vector<TrialSet<T>>& us,
               const SubspaceDmdcOptions& o, const std::vector<std::size_t>& members,
               std::vector<ControlModel<T>>& models) {
  const std::int64_t py = ys[members[0]].n_features, m = us[members[0]].n_features;
  const std::int64_t p = o.n_delays, f = o.n_delays, count = std::int64_t(members.size());
  const std::int64_t dim_uf = f * m, dim_zp = p * (m + py), dim_yf = f * py;
  const std::int64_t dim = dim_uf + dim_zp + dim_yf;

  // Outputs and inputs of all members back to back on the device (sample offsets per system).
  std::vector<std::int64_t> offset(members.size() + 1, 0);
  for (std::size_t g = 0; g < members.size(); ++g)
    offset[g + 1] = offset[g] + ys[members[g]].total_length();
  Buffer<T> ydata(std::size_t(offset.back() * py), ctx.device());
  Buffer<T> udata(std::size_t(offset.back() * m), ctx.device());
  for (std::size_t g = 0; g < members.size(); ++g) {
    const auto& y = ys[members[g]];
    const auto& u = us[members[g]];
    copy_bytes(ctx, ydata.data() + offset[g] * py, ctx.device(), y.data, y.device,
               std::size_t(y.total_length() * py) * sizeof(T));
    copy_bytes(ctx, udata.data() + offset[g] * m, ctx.device(), u.data, u.device,
               std::size_t(u.total_length() * m) * sizeof(T));
  }

  // Columns j (their first sample) of the trials long enough, and regression pairs (j, j + 1).
  std::vector<std::vector<std::int64_t>> cols(members.size()), pairs(members.size());
  std::int64_t max_cols = 0, max_pairs = 0;
  for (std::size_t g = 0; g < members.size(); ++g) {
    const auto& y = ys[members[g]];
    auto& md = models[members[g]];
    md.outputs = py;
    md.inputs = m;
    md.trials_total = std::int64_t(y.lengths.size());
    std::int64_t t0 = offset[g];
    for (const std::int64_t len : y.lengths) {
      const std::int64_t tk = len - p - f;
      if (tk > 0) {
        ++md.trials_used;
        for (std::int64_t j = 0; j < tk; ++j) cols[g].push_back(t0 + j);
        for (std::int64_t j = 0; j + 1 < tk; ++j) pairs[g].push_back(t0 + j);
      }
      t0 += len;
    }
    const std::string who = sys_name(members[g]);
    DYNX_EXPECTS(md.trials_used > 0,
                 fmt::format("{}: no trial has more than 2 · n_delays = {} time steps", who, p + f));
    if (md.trials_used < md.trials_total)
      md.warnings.push_back(fmt::format("{} of {} trials have at most 2 · n_delays = {} time steps "
                                        "and were skipped",
                                        md.trials_total - md.trials_used, md.trials_total, p + f));
    DYNX_EXPECTS(!pairs[g].empty(),
                 fmt::format("{}: no regression pairs (every trial used has exactly 2 · n_delays "
                             "+ 1 time steps)",
                             who));
    md.columns = std::int64_t(cols[g].size());
    md.regression_pairs = std::int64_t(pairs[g].size());
    max_cols = std::max(max_cols, md.columns);
    max_pairs = std::max(max_pairs, md.regression_pairs);
  }

  std::int64_t chunk = o.chunk_rows;
  if (chunk <= 0) chunk = std::max<std::int64_t>(std::max<std::int64_t>(dim, 256),
                                                 (std::int64_t{1} << 24) / (dim * count));
  const std::int64_t chunk1 = std::min(chunk, max_cols), chunk2 = std::min(chunk, max_pairs);
  detail::log().debug("subspace dmdc fit: {} system(s), outputs {} inputs {} n_delays {}, D_H={}, "
                      "{} columns (chunks of {})",
                      count, py, m, p, dim, max_cols, chunk1);

  // Writes `rows_per_item` rows of one window block into out (rows row0.., columns col0..):
  // row i holds samples start_i + shift + 0..d−1 of `src` (n features each), oldest first,
  // where start_i = starts[g][first + i] (zero rows past a system's end). hankel_rows writes the
  // most recent lag first; a delay interval of −1 from the window's last sample reverses that.
  auto window = [&](dsa::DeviceBatch<T>& out, std::int64_t row0, std::int64_t col0,
                    std::int64_t rows_per_item, const Buffer<T>& src, std::int64_t n,
                    std::int64_t d, const std::vector<std::vector<std::int64_t>>& starts,
                    std::int64_t first, std::int64_t shift) {
    std::vector<std::int64_t> h(std::size_t(count * rows_per_item), -1);
    for (std::int64_t g = 0; g < count; ++g)
      for (std::int64_t i = 0; i < rows_per_item; ++i) {
        const std::int64_t idx = first + i;
        if (idx < std::int64_t(starts[std::size_t(g)].size()))
          h[std::size_t(g * rows_per_item + i)] = starts[std::size_t(g)][std::size_t(idx)] + shift + d - 1;
      }
    Buffer<std::int64_t> d_starts = dsa::to_ctx(ctx, h);
    detail::MatRef r{out.ptr(0) + row0 + col0 * out.rows, rows_per_item, n * d, out.rows,
                     out.stride(), count, dtype_v<T>};
    detail::backend_for(ctx).hankel_rows(
        ctx, detail::HankelArgs{dtype_v<T>, src.data(), n, d, -1, d_starts.data(), rows_per_item,
                                count, r});
    ctx.synchronize();  // d_starts is freed on return
  };
  // z_p(j) = [u_{j..j+p−1}; y_{j..j+p−1}] into columns col0.. of out.
  auto past = [&](dsa::DeviceBatch<T>& out, std::int64_t row0, std::int64_t col0,
                  std::int64_t rows_per_item, const std::vector<std::vector<std::int64_t>>& starts,
                  std::int64_t first, std::int64_t shift) {
    window(out, row0, col0, rows_per_item, udata, m, p, starts, first, shift);
    window(out, row0, col0 + p * m, rows_per_item, ydata, py, p, starts, first, shift);
  };

  // Pass 1: R ← qr([R; Hᵀ_chunk]).
  dsa::DeviceBatch<T> stack(ctx, dim + chunk1, dim, count), rfac(ctx, dim, dim, count);
  zero_bytes(ctx, stack.buf.data(), ctx.device(), stack.buf.bytes());
  dsa::Scalars<T> one(ctx, count, T(1)), zero(ctx, count, T(0));
  const T* d_one = one.push(ctx);
  const T* d_zero = zero.push(ctx);
  for (std::int64_t first = 0; first < max_cols; first += chunk1) {
    window(stack, dim, 0, chunk1, udata, m, f, cols, first, p);  // U_f
    past(stack, dim, dim_uf, chunk1, cols, first, 0);              // Z_p
    window(stack, dim, dim_uf + dim_zp, chunk1, ydata, py, f, cols, first, p);  // Y_f
    BatchStatus st;
    qr_batched<T>(ctx, stack.cview(), MatrixBatch<T>(), rfac.view(), &st);
    for (auto g : st.failed_indices())
      DYNX_EXPECTS(false, fmt::format("{}: the QR of the block-Hankel data failed ({})",
                                      sys_name(members[std::size_t(g)]), to_string(st.at(g))));
    detail::MatRef top{stack.ptr(0), dim, dim, dim + chunk1, stack.stride(), count, dtype_v<T>};
    dsa::axpby<T>(ctx, d_one, rfac.ref(), d_zero, top);
  }
  const auto h_r = dsa::to_host_vector(ctx, rfac.buf.data(), rfac.buf.size());

  // Host, per system: O's SVD through M, the rank, C and K = S_n^-½ U_nᵀ L₃₂ L₂₂⁺.
  dsa::HostLinalg host;
  std::vector<std::vector<double>> kmat(members.size());
  std::int64_t nmax = 0;
  for (std::size_t g = 0; g < members.size(); ++g) {
    auto& md = models[members[g]];
    const std::string who = sys_name(members[g]);
    std::vector<double> r(h_r.begin() + std::int64_t(g) * dim * dim,
                          h_r.begin() + std::int64_t(g + 1) * dim * dim);
    // L = Rᵀ: L₂₁ = (R₁₂)ᵀ, L₂₂ = (R₂₂)ᵀ, L₃₂ = (R₂₃)ᵀ.
    const auto r12 = dsa::sub_block(r, dim, 0, dim_uf, dim_uf, dim_zp);
    const auto r22 = dsa::sub_block(r, dim, dim_uf, dim_zp, dim_uf, dim_zp);
    const auto r23 = dsa::sub_block(r, dim, dim_uf, dim_zp, dim_uf + dim_zp, dim_yf);
    // L₂₂⁺ = (R₂₂ᵀ)⁺ = V S⁺ Uᵀ of R₂₂ᵀ = U S Vᵀ ⇔ R₂₂ = V S Uᵀ; relative cutoff as the reference's
    // pinv (max dimension · machine epsilon of the data's precision).
    std::vector<double> u22, s22, vt22;
    host.svd(dim_zp, dim_zp, r22, u22, s22, vt22, who);  // R₂₂ = u22 s22 vt22
    DYNX_EXPECTS(s22[0] > 0, who + ": the past inputs and outputs are all zero");
    const double cut = double(dim_zp) * double(std::numeric_limits<T>::epsilon()) * s22[0];
    // pinv(L₂₂) = pinv(R₂₂ᵀ) = u22 diag(1/s) vt22 (transposing R₂₂⁺ = vt22ᵀ diag(1/s) u22ᵀ)
    std::vector<double> us(u22);
    for (std::int64_t j = 0; j < dim_zp; ++j) {
      const double inv = s22[std::size_t(j)] > cut ? 1.0 / s22[std::size_t(j)] : 0.0;
      for (std::int64_t i = 0; i < dim_zp; ++i) us[std::size_t(j * dim_zp + i)] *= inv;
    }
    const auto pinv22 = host.mul(Op::n, Op::n, dim_zp, dim_zp, dim_zp, us, dim_zp, vt22, dim_zp);
    // L₃₂ L₂₂⁺ = R₂₃ᵀ pinv22   (dim_yf × dim_zp)
    const auto lp = host.mul(Op::t, Op::n, dim_yf, dim_zp, dim_zp, r23, dim_zp, pinv22, dim_zp);
    // M = (L₃₂ L₂₂⁺) [L₂₁ L₂₂] = lp [R₁₂ᵀ R₂₂ᵀ]
    std::vector<double> l2(std::size_t(dim_zp * (dim_uf + dim_zp)));
    for (std::int64_t j = 0; j < dim_uf; ++j)
      for (std::int64_t i = 0; i < dim_zp; ++i)
        l2[std::size_t(j * dim_zp + i)] = r12[std::size_t(i * dim_uf + j)];
    for (std::int64_t j = 0; j < dim_zp; ++j)
      for (std::int64_t i = 0; i < dim_zp; ++i)
        l2[std::size_t((dim_uf + j) * dim_zp + i)] = r22[std::size_t(i * dim_zp + j)];
    const auto mm = host.mul(Op::n, Op::n, dim_yf, dim_uf + dim_zp, dim_zp, lp, dim_yf, l2, dim_zp);
    std::vector<double> uo, so, vto;
    host.svd(dim_yf, dim_uf + dim_zp, mm, uo, so, vto, who);
    md.singular_values.assign(so.begin(), so.end());
    const std::int64_t q = std::int64_t(so.size());
    double total = 0;
    for (double v : so) total += v * v;
    DYNX_EXPECTS(total > 0, who + ": the oblique projection is zero (the outputs do not depend on "
                                  "the past)");
    const std::int64_t nmax_allowed = std::min(dim_yf, md.columns);
    std::int64_t n = 0;
    if (o.rank) {
      n = *o.rank;
      DYNX_EXPECTS(n <= nmax_allowed,
                   fmt::format("{}: rank {} is larger than n_delays · outputs = {} and the {} "
                               "block-Hankel columns allow (at most {}; partially observed systems "
                               "need n_delays >= rank / outputs)",
                               who, n, dim_yf, md.columns, nmax_allowed));
      DYNX_EXPECTS(so[std::size_t(n - 1)] > 1e-13 * so[0],
                   fmt::format("{}: rank {} is larger than the numerical rank of the oblique "
                               "projection (singular value {} is {:.3g} of the largest)",
                               who, n, n, so[std::size_t(n - 1)] / so[0]));
    } else {
      double acc = 0;
      n = q;
      for (std::int64_t i = 0; i < q; ++i) {
        acc += so[std::size_t(i)] * so[std::size_t(i)];
        if (acc / total >= o.energy) {
          n = i + 1;
          break;
        }
      }
      n = std::clamp<std::int64_t>(n, 1, nmax_allowed);
    }
    md.rank = n;
    nmax = std::max(nmax, n);
    // C = first py rows of Γ = U_n S_n^½;  K = S_n^-½ U_nᵀ lp  (n × dim_zp)
    md.c.assign(std::size_t(py * n), T(0));
    for (std::int64_t j = 0; j < n; ++j)
      for (std::int64_t i = 0; i < py; ++i)
        md.c[std::size_t(j * py + i)] =
            static_cast<T>(uo[std::size_t(j * dim_yf + i)] * std::sqrt(so[std::size_t(j)]));
    auto k = host.mul(Op::t, Op::n, n, dim_zp, dim_yf, uo, dim_yf, lp, dim_yf);
    for (std::int64_t j = 0; j < dim_zp; ++j)
      for (std::int64_t i = 0; i < n; ++i) k[std::size_t(j * n + i)] /= std::sqrt(so[std::size_t(i)]);
    kmat[g] = std::move(k);
  }

  // Kᵀ per system (dim_zp × nmax, zero columns beyond a system's n): x_j = Kᵀᵀ z_p(j).
  std::vector<T> h_kt(std::size_t(dim_zp * nmax * count), T(0));
  for (std::size_t g = 0; g < members.size(); ++g) {
    const std::int64_t n = models[members[g]].rank;
    for (std::int64_t j = 0; j < n; ++j)
      for (std::int64_t i = 0; i < dim_zp; ++i)
        h_kt[std::size_t(std::int64_t(g) * dim_zp * nmax + j * dim_zp + i)] =
            static_cast<T>(kmat[g][std::size_t(i * n + j)]);
  }
  dsa::DeviceBatch<T> kt(ctx, dim_zp, nmax, count);
  dsa::upload(ctx, kt.buf.data(), h_kt.data(), h_kt.size());

  // Pass 2: Z = [x_j; u_{j+p}] and x_{j+1} per pair; G = Σ z zᵀ, P = Σ z x_{j+1}ᵀ.
  const std::int64_t nz = nmax + m;
  dsa::DeviceBatch<T> zc(ctx, chunk2, dim_zp, count), zn(ctx, chunk2, dim_zp, count);
  dsa::DeviceBatch<T> z(ctx, chunk2, nz, count), xn(ctx, chunk2, nmax, count);
  dsa::DeviceBatch<T> gram(ctx, nz, nz, count), cross(ctx, nz, nmax, count);
  zero_bytes(ctx, gram.buf.data(), ctx.device(), gram.buf.bytes());
  zero_bytes(ctx, cross.buf.data(), ctx.device(), cross.buf.bytes());
  for (std::int64_t first = 0; first < max_pairs; first += chunk2) {
    past(zc, 0, 0, chunk2, pairs, first, 0);
    past(zn, 0, 0, chunk2, pairs, first, 1);
    window(z, 0, nmax, chunk2, udata, m, 1, pairs, first, p);  // u_{j+p}
    detail::MatRef zx{z.ptr(0), chunk2, nmax, chunk2, z.stride(), count, dtype_v<T>};
    dsa::gemm<T>(ctx, Op::n, Op::n, T(1), zc.ref(), kt.ref(), T(0), zx);
    dsa::gemm<T>(ctx, Op::n, Op::n, T(1), zn.ref(), kt.ref(), T(0), xn.ref());
    dsa::gemm<T>(ctx, Op::t, Op::n, T(1), z.ref(), z.ref(), T(1), gram.ref());
    dsa::gemm<T>(ctx, Op::t, Op::n, T(1), z.ref(), xn.ref(), T(1), cross.ref());
  }
  const auto h_g = dsa::to_host_vector(ctx, gram.buf.data(), gram.buf.size());
  const auto h_c = dsa::to_host_vector(ctx, cross.buf.data(), cross.buf.size());

  // [A B] = Pᵀ (G + λI)⁻¹ on the rows/columns of each system's n states and m inputs.
  for (std::size_t g = 0; g < members.size(); ++g) {
    auto& md = models[members[g]];
    const std::int64_t n = md.rank, k = n + m;
    auto idx = [&](std::int64_t i) { return i < n ? i : nmax + (i - n); };
    std::vector<double> gg(std::size_t(k * k)), pp(std::size_t(k * n));
    for (std::int64_t j = 0; j < k; ++j)
      for (std::int64_t i = 0; i < k; ++i)
        gg[std::size_t(j * k + i)] = double(h_g[std::size_t(std::int64_t(g) * nz * nz + idx(j) * nz + idx(i))]);
    for (std::int64_t i = 0; i < k; ++i) gg[std::size_t(i * k + i)] += o.lambda;
    for (std::int64_t j = 0; j < n; ++j)
      for (std::int64_t i = 0; i < k; ++i)
        pp[std::size_t(j * k + i)] = double(h_c[std::size_t(std::int64_t(g) * nz * nmax + j * nz + idx(i))]);
    std::vector<double> w;
    DYNX_EXPECTS(host.try_solve(k, n, std::move(gg), std::move(pp), w), fmt::format("{}: the regression for A and B is singular (constant inputs "
                                      "or states? try lambda > 0)",
                                      sys_name(members[g])));
    // W = (G + λI)⁻¹ P is k × n; [A B] = Wᵀ.
    md.a.assign(std::size_t(n * n), T(0));
    md.b.assign(std::size_t(n * m), T(0));
    for (std::int64_t i = 0; i < n; ++i) {
      for (std::int64_t j = 0; j < n; ++j) md.a[std::size_t(j * n + i)] = static_cast<T>(w[std::size_t(i * k + j)]);
      for (std::int64_t j = 0; j < m; ++j)
        md.b[std::size_t(j * n + i)] = static_cast<T>(w[std::size_t(i * k + n + j)]);
    }
  }
}

}  // namespace

template <class T>
std::vector<ControlModel<T>> subspace_dmdc_fit(Context& ctx,
                                                    const std::vector<TrialSet<T>>& systems,
                                                    const std::vector<TrialSet<T>>& inputs,
                                                    const SubspaceDmdcOptions& options) {
  check_options(options);
  return dsa::fit_driven<ControlModel<T>>(
      ctx, systems, inputs, "subspace_dmdc_fit", [](std::size_t) {},
      [&](const std::vector<std::size_t>& members, std::vector<ControlModel<T>>& models) {
        fit_group(ctx, systems, inputs, options, members, models);
      });
}

#define DYNX_INSTANTIATE(T)                                                              \
  template DYNX_API std::vector<ControlModel<T>> subspace_dmdc_fit<T>(              \
      Context&, const std::vector<TrialSet<T>>&, const std::vector<TrialSet<T>>&,        \
      const SubspaceDmdcOptions&);
DYNX_INSTANTIATE(float)
DYNX_INSTANTIATE(double)
#undef DYNX_INSTANTIATE

}  // namespace dynx
