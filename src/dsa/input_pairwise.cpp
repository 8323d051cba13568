// Many-system InputDSA (spec §7.4 with the pair order of §5): the state score runs through the
// DSA comparison of the intrinsic operators A (compare_models_*: batching, size rules, progress
// and cancellation included), the input and joint scores through the closed-form batched ops of
// controllability.cpp, over the same pair schedule.

#include "dsa/common.hpp"
#include "dsa/internal.hpp"

#include <dynx/dsa.hpp>

#include <algorithm>

namespace dynx {
namespace {

using dsa::Pair;

template <class T>
std::vector<DmdModel<T>> state_models(const std::vector<ControlModel<T>>& ms, const char* side) {
  std::vector<DmdModel<T>> out(ms.size());
  for (std::size_t i = 0; i < ms.size(); ++i) {
    const auto& m = ms[i];
    DYNX_EXPECTS(m.rank >= 1 && std::int64_t(m.a.size()) == m.rank * m.rank &&
                     std::int64_t(m.b.size()) == m.rank * m.inputs && m.inputs >= 1,
                 fmt::format("input_dsa: {} model {} has no fitted A and B (rank {}, inputs {})",
                             side, i, m.rank, m.inputs));
    out[i].rank = m.rank;
    out[i].a = m.a;
  }
  return out;
}

template <class T>
InputDsaResult compare(Context& ctx, const std::vector<ControlModel<T>>& x,
                       const std::vector<ControlModel<T>>& y, bool self,
                       const InputDsaOptions& o) {
  InputDsaResult res;
  DsaOptions so;
  so.score = o.state_score;
  so.procrustes = o.procrustes;
  so.wasserstein_weights = o.wasserstein_weights;
  so.progress = o.progress;
  so.pairs_per_batch = o.pairs_per_batch;
  so.cancel = o.cancel;
  const auto sx = state_models(x, "x");
  const auto sy = self ? std::vector<DmdModel<T>>{} : state_models(y, "y");  // self: y is x
  // Input and joint need equal dimensions across every pair: checked before any work.
  const auto pairs = dsa::pair_schedule(std::int64_t(x.size()), std::int64_t(y.size()), self);
  for (const Pair& p : pairs) {
    const auto& a = x[std::size_t(p.i)];
    const auto& b = self ? x[std::size_t(p.j)] : y[std::size_t(p.j)];
    DYNX_EXPECTS(a.rank == b.rank && a.inputs == b.inputs,
                 fmt::format("input_dsa: systems {} and {} differ in state dimension ({} and {}) "
                             "or inputs ({} and {}); the input and joint scores need equal "
                             "dimensions (fit with an explicit rank)",
                             p.i, p.j, a.rank, b.rank, a.inputs, b.inputs));
  }
  res.state = self ? compare_models_pairwise(ctx, sx, so) : compare_models_cross(ctx, sx, sy, so);
  res.input = dsa::pending_result(res.state.rows, res.state.cols, self);
  res.joint = dsa::pending_result(res.state.rows, res.state.cols, self);
  const std::int64_t per = o.pairs_per_batch > 0 ? o.pairs_per_batch : 1024;
  for (std::size_t first = 0; first < pairs.size(); first += std::size_t(per)) {
    if (dsa::cancelled(o.cancel, res.input)) break;
    const std::size_t cnt = std::min(pairs.size() - first, std::size_t(per));
    const auto& m0 = x[std::size_t(pairs[first].i)];
    const std::int64_t n = m0.rank, m = m0.inputs;
    std::vector<T> ax, bx, ay, by;
    for (std::size_t q = first; q < first + cnt; ++q) {
      const auto& a = x[std::size_t(pairs[q].i)];
      const auto& b = self ? x[std::size_t(pairs[q].j)] : y[std::size_t(pairs[q].j)];
      ax.insert(ax.end(), a.a.begin(), a.a.end());
      bx.insert(bx.end(), a.b.begin(), a.b.end());
      ay.insert(ay.end(), b.a.begin(), b.a.end());
      by.insert(by.end(), b.b.begin(), b.b.end());
    }
    auto up = [&](const std::vector<T>& h) { return dsa::to_ctx(ctx, h); };
    const Buffer<T> dax = up(ax), dbx = up(bx), day = up(ay), dby = up(by);
    const std::int64_t c = std::int64_t(cnt);
    const Device dev = ctx.device();
    std::vector<T> joint(cnt), input(cnt);
    controllability_distance<T>(ctx, MatrixBatch<const T>(dax.data(), n, n, c, dev),
                                MatrixBatch<const T>(dbx.data(), n, m, c, dev),
                                MatrixBatch<const T>(day.data(), n, n, c, dev),
                                MatrixBatch<const T>(dby.data(), n, m, c, dev), joint.data(),
                                nullptr, nullptr, {}, o.joint);
    input_distance<T>(ctx, MatrixBatch<const T>(dbx.data(), n, m, c, dev),
                      MatrixBatch<const T>(dby.data(), n, m, c, dev), input.data(), o.joint.score);
    auto put = [&](DsaResult& r, const Pair& p, double v) {
      r.distance[std::size_t(p.i * r.cols + p.j)] = v;
      r.status[std::size_t(p.i * r.cols + p.j)] = PairStatus::ok;
      if (self) {
        r.distance[std::size_t(p.j * r.cols + p.i)] = v;
        r.status[std::size_t(p.j * r.cols + p.i)] = PairStatus::ok;
      }
    };
    for (std::size_t q = 0; q < cnt; ++q) {
      put(res.input, pairs[first + q], double(input[q]));
      put(res.joint, pairs[first + q], double(joint[q]));
    }
  }
  res.joint.complete = res.input.complete;
  res.complete = res.state.complete && res.input.complete;
  return res;
}

}  // namespace

template <class T>
InputDsaResult input_dsa_pairwise(Context& ctx, const std::vector<ControlModel<T>>& models,
                                  const InputDsaOptions& options) {
  return compare(ctx, models, models, true, options);
}

template <class T>
InputDsaResult input_dsa_cross(Context& ctx, const std::vector<ControlModel<T>>& x,
                               const std::vector<ControlModel<T>>& y,
                               const InputDsaOptions& options) {
  return compare(ctx, x, y, false, options);
}

template <class T>
InputDsaResult input_dsa_pairwise(Context& ctx, const std::vector<TrialSet<T>>& systems,
                                  const std::vector<TrialSet<T>>& inputs,
                                  const InputDsaOptions& options) {
  return input_dsa_pairwise(ctx, subspace_dmdc_fit(ctx, systems, inputs, options.fit), options);
}

#define DYNX_INSTANTIATE(T)                                                                     \
  template DYNX_API InputDsaResult input_dsa_pairwise<T>(                                       \
      Context&, const std::vector<ControlModel<T>>&, const InputDsaOptions&);              \
  template DYNX_API InputDsaResult input_dsa_cross<T>(                                          \
      Context&, const std::vector<ControlModel<T>>&,                                       \
      const std::vector<ControlModel<T>>&, const InputDsaOptions&);                        \
  template DYNX_API InputDsaResult input_dsa_pairwise<T>(                                       \
      Context&, const std::vector<TrialSet<T>>&, const std::vector<TrialSet<T>>&,               \
      const InputDsaOptions&);
DYNX_INSTANTIATE(float)
DYNX_INSTANTIATE(double)
#undef DYNX_INSTANTIATE

}  // namespace dynx
