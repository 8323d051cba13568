// DEER's solvers on any device (include/dynx/deer.hpp, spec deer.md §3–4, §8.5): argument checks,
// the Newton outer loop over a batch of sequences with per-sequence retirement, the fallback that
// finishes sequentially from the converged prefix, and the automatic choice. The per-iteration
// work runs on ctx's device: the cell's linearize and sequential (DeerCell), the backend's
// deer_residual, deer_scale, affine_scan or elk_scan, and deer_update. The host only keeps the
// per-sequence bookkeeping (a few numbers per sequence and iteration).
//
// One iteration, in the delta form of spec §1.3 over the window [first, T):
//   f, A  = linearize(S)                       f_t = f(s_{t−1}, u_t), A_t = J_t (dense, diagonal,
//                                              blocks), times (1 − shrink), diagonal clipped
//   rhs   = f − S = −r                         residual, its maximum and the converged prefix
//   Δ     = scan(Δ_t = A_t Δ_{t−1} + rhs_t)    affine scan (Δ_first−1 = 0), or the ELK filter
//   S    += ω Δ, sanitised                     NaN → 0, clamp; a failed scan keeps the prefix
// A sequence has converged when both its residual and its step Δ (computed from the same iterate)
// are within atol + rtol |s| everywhere; the returned S is then the updated one, and its residual
// is evaluated once more at the end so the reported residual is that of the returned trajectory.

#include <dynx/buffer.hpp>
#include <dynx/deer.hpp>
#include <dynx/error.hpp>
#include <dynx/lyapunov.hpp>

#include "core/backend.hpp"
#include "core/check.hpp"
#include "deer/check.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>
#include <type_traits>
#include <vector>

namespace dynx {

const char* to_string(DeerMethod m) noexcept {
  switch (m) {
    case DeerMethod::automatic: return "automatic";
    case DeerMethod::sequential: return "sequential";
    case DeerMethod::deer: return "deer";
    case DeerMethod::quasi_deer: return "quasi_deer";
    case DeerMethod::block_deer: return "block_deer";
    case DeerMethod::elk: return "elk";
    case DeerMethod::quasi_elk: return "quasi_elk";
  }
  return "?";
}

const char* to_string(DeerStatus s) noexcept {
  switch (s) {
    case DeerStatus::converged: return "converged";
    case DeerStatus::fell_back: return "fell_back";
    case DeerStatus::sequential: return "sequential";
    case DeerStatus::not_converged: return "not_converged";
  }
  return "?";
}

namespace {

using Clock = std::chrono::steady_clock;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
// Dense Jacobians formed for a Lyapunov estimate: at most this many entries (at least 16 steps),
// which also bounds the estimate's cost for wide cells (D² per step) to a few sequential steps'
// worth per probe step.
constexpr std::int64_t kProbeJacobianEntries = std::int64_t(1) << 20;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// The checked problem: packed arrays on ctx's device.
template <class T>
struct Problem {
  Context& ctx;
  const DeerCell<T>& cell;
  const T* s0;
  const T* u;
  T* states;
  std::int64_t batch, steps, d, m;
};

template <class T>
Problem<T> check_problem(const char* op, Context& ctx, const DeerCell<T>& cell,
                         MatrixBatch<const T> s0, MatrixBatch<const T> u, MatrixBatch<T> states) {
  const Device dev = ctx.device();
  DYNX_EXPECTS(cell.device() == dev,
               fmt::format("{}: the cell is bound to {} but the context is on {}", op,
                           cell.device().str(), dev.str()));
  const std::int64_t d = cell.state_dim(), m = cell.input_dim();
  const std::int64_t batch = states.count, steps = states.cols;
  auto packed = [&](const char* name, auto v, std::int64_t rows, std::int64_t cols) {
    DYNX_EXPECTS(v.device == dev, fmt::format("{}: `{}` is on {} but the context is on {}", op,
                                              name, v.device.str(), dev.str()));
    DYNX_EXPECTS(v.rows == rows && v.cols == cols,
                 fmt::format("{}: `{}` must be {} × {} per sequence, got {} × {}", op, name, rows,
                             cols, v.rows, v.cols));
    DYNX_EXPECTS(v.count == batch, fmt::format("{}: `{}` holds {} sequences but `states` holds {}",
                                               op, name, v.count, batch));
    DYNX_EXPECTS(v.ld == rows && (batch <= 1 || v.stride == rows * cols),
                 fmt::format("{}: `{}` must be packed (ld = {}, stride = {}), got ld {} and "
                             "stride {}",
                             op, name, rows, rows * cols, v.ld, v.stride));
    DYNX_EXPECTS(v.data != nullptr || rows * cols * batch == 0,
                 fmt::format("{}: `{}` is a null pointer", op, name));
  };
  packed("states", states, d, steps);
  packed("s0", s0, d, 1);
  if (m > 0) {
    packed("u", u, m, steps);
  } else {
    DYNX_EXPECTS(u.empty() || u.rows == 0,
                 fmt::format("{}: the cell takes no input, but `u` has {} rows", op, u.rows));
  }
  deer::check_finite(ctx, s0.data, batch * d, fmt::format("{}: `s0`", op));
  if (m > 0) deer::check_finite(ctx, u.data, batch * steps * m, fmt::format("{}: `u`", op));
  return Problem<T>{ctx, cell, s0.data, m > 0 ? u.data : nullptr, states.data, batch, steps, d, m};
}

void check_options(const DeerOptions& o, std::int64_t d) {
  const char* op = "deer_evaluate";
  if (o.method == DeerMethod::block_deer)
    DYNX_EXPECTS(o.block >= 1 && o.block <= d && d % o.block == 0,
                 fmt::format("{}: `block` must divide the state dimension {}, got {}", op, d,
                             o.block));
  DYNX_EXPECTS(o.max_iter >= 0, fmt::format("{}: `max_iter` must be >= 0, got {}", op, o.max_iter));
  DYNX_EXPECTS(std::isfinite(o.atol) && o.atol >= 0 && std::isfinite(o.rtol) && o.rtol >= 0,
               fmt::format("{}: `atol` and `rtol` must be finite and >= 0, got {} and {}", op,
                           o.atol, o.rtol));
  DYNX_EXPECTS(o.shrink >= 0 && o.shrink < 1,
               fmt::format("{}: `shrink` must be in [0, 1), got {}", op, o.shrink));
  DYNX_EXPECTS(std::isfinite(o.clip_jacobian) && o.clip_jacobian >= 0,
               fmt::format("{}: `clip_jacobian` must be finite and >= 0, got {}", op,
                           o.clip_jacobian));
  DYNX_EXPECTS(o.clip_state > 0,
               fmt::format("{}: `clip_state` must be > 0, got {}", op, o.clip_state));
  DYNX_EXPECTS(o.relaxation > 0 && o.relaxation <= 2,
               fmt::format("{}: `relaxation` must be in (0, 2], got {}", op, o.relaxation));
  DYNX_EXPECTS(std::isfinite(o.elk_sigma2) && o.elk_sigma2 >= 0,
               fmt::format("{}: `elk_sigma2` must be finite and >= 0, got {}", op, o.elk_sigma2));
  DYNX_EXPECTS(o.stall >= 1, fmt::format("{}: `stall` must be >= 1, got {}", op, o.stall));
  DYNX_EXPECTS(o.probe_steps >= 0,
               fmt::format("{}: `probe_steps` must be >= 0, got {}", op, o.probe_steps));
  DYNX_EXPECTS(std::isfinite(o.lle_threshold),
               fmt::format("{}: `lle_threshold` must be finite", op));
}

// The cell's linearisation over the window [first, first + steps) of `count` sequences (seq on
// the device) into f and, unless form is none, jac.
template <class T>
void linearize(const Problem<T>& p, std::int64_t first, std::int64_t steps, const std::int64_t* seq,
               std::int64_t count, T* f, JacobianForm form = JacobianForm::none, int block = 0,
               T* jac = nullptr) {
  DeerLinearizeArgs<T> la;
  la.s0 = p.s0;
  la.states = p.states;
  la.u = p.u;
  la.total = p.steps;
  la.first = first;
  la.steps = steps;
  la.seq = seq;
  la.count = count;
  la.f = f;
  la.form = form;
  la.block = block;
  la.jac = jac;
  p.cell.linearize(p.ctx, la);
}

// Runs the cell's sequential evaluator on the given sequences from start[k] up to `end`.
template <class T>
void run_sequential(const Problem<T>& p, const std::vector<std::int64_t>& seq,
                    const std::vector<std::int64_t>& start, std::int64_t end) {
  if (seq.empty()) return;
  Buffer<std::int64_t> dseq = to_device(p.ctx, seq.data(), seq.size());
  Buffer<std::int64_t> dstart = to_device(p.ctx, start.data(), start.size());
  DeerSequentialArgs<T> a;
  a.s0 = p.s0;
  a.u = p.u;
  a.states = p.states;
  a.total = p.steps;
  a.end = end;
  a.seq = dseq.data();
  a.start = dstart.data();
  a.count = std::int64_t(seq.size());
  p.cell.sequential(p.ctx, a);
}

// Max |r| per sequence of the window [first, T) of the given sequences (one cell evaluation).
template <class T>
std::vector<double> residuals(const Problem<T>& p, const std::vector<std::int64_t>& seq,
                              std::int64_t first) {
  const std::int64_t w = p.steps - first, count = std::int64_t(seq.size());
  std::vector<double> out(seq.size(), 0.0);
  if (w <= 0 || count == 0) return out;
  Buffer<std::int64_t> dseq = to_device(p.ctx, seq.data(), seq.size());
  Buffer<T> f(std::size_t(count * w * p.d), p.ctx.device());
  Buffer<T> rhs(f.size(), p.ctx.device());
  Buffer<double> rmax(std::size_t(count), p.ctx.device());
  Buffer<std::int64_t> prefix(std::size_t(count), p.ctx.device());
  linearize(p, first, w, dseq.data(), count, f.data());
  detail::DeerResidualArgs ra{dtype_v<T>, p.d,       p.steps,    first, w,   count, 0,
                              p.states,   dseq.data(), f.data(), rhs.data(), 0.0, 0.0,
                              rmax.data(), prefix.data()};
  detail::backend_for(p.ctx).deer_residual(p.ctx, ra);
  return to_host(p.ctx, rmax);
}

// What the automatic choice learns from the dense Jacobians along a computed prefix.
struct Probe {
  double lle = 0;        // largest Lyapunov exponent per step, mean over the sequences
  double offdiag = 0;    // mean ‖J − diag J‖_F / ‖J‖_F: how much a diagonal approximation drops
  double per_point = 0;  // seconds per (sequence, step) of one dense linearisation
};

// The Jacobians along the states of the first nseq sequences over the last steps of the computed
// window [0, end) (the most settled part of a prefix), as many as kProbeJacobianEntries allows.
template <class T>
Probe probe_jacobians(const Problem<T>& p, std::int64_t nseq, std::int64_t end) {
  const std::int64_t d = p.d;
  const std::int64_t steps =
      std::min(end, std::max<std::int64_t>(16, kProbeJacobianEntries / (d * d)));
  const std::int64_t first = end - steps;
  std::vector<std::int64_t> seq(std::size_t(1), 0);
  Buffer<T> f(std::size_t(steps * d), p.ctx.device());
  Buffer<T> jac(std::size_t(steps * d * d), p.ctx.device());
  Probe pr;
  double seconds = 0;
  for (std::int64_t q = 0; q < nseq; ++q) {
    seq[0] = q;
    Buffer<std::int64_t> dseq = to_device(p.ctx, seq.data(), seq.size());
    p.ctx.synchronize();
    const auto t0 = Clock::now();
    linearize(p, first, steps, dseq.data(), 1, f.data(), JacobianForm::dense, 0, jac.data());
    p.ctx.synchronize();
    seconds += seconds_since(t0);
    LyapunovOptions lo;
    lo.method = LyapunovMethod::sequential_qr;
    lo.k = 1;
    lo.sum_rule = false;
    const LyapunovResult lr =
        lyapunov_spectrum<T>(p.ctx, MatrixBatch<const T>(jac.data(), d, d, steps, p.ctx.device()), lo);
    pr.lle += lr.exponents.empty() ? kNaN : lr.exponents[0];
    // Off-diagonal weight from a sample of up to 64 Jacobians.
    const std::int64_t sample = std::min<std::int64_t>(steps, 64);
    std::vector<T> host(std::size_t(sample * d * d));
    copy_bytes(p.ctx, host.data(), Device::cpu(), jac.data(), p.ctx.device(), host.size() * sizeof(T));
    p.ctx.synchronize();
    double frac = 0;
    for (std::int64_t t = 0; t < sample; ++t) {
      double all = 0, off = 0;
      for (std::int64_t j = 0; j < d; ++j)
        for (std::int64_t i = 0; i < d; ++i) {
          const double v = double(host[std::size_t((t * d + j) * d + i)]);
          all += v * v;
          if (i != j) off += v * v;
        }
      frac += all > 0 ? std::sqrt(off / all) : 0.0;
    }
    pr.offdiag += frac / double(sample);
  }
  pr.lle /= double(nseq);
  pr.offdiag /= double(nseq);
  pr.per_point = seconds / double(nseq * steps);
  return pr;
}

JacobianForm form_of(DeerMethod m, int block, std::int64_t d) {
  switch (m) {
    case DeerMethod::deer:
    case DeerMethod::elk: return JacobianForm::dense;
    case DeerMethod::quasi_deer:
    case DeerMethod::quasi_elk: return JacobianForm::diagonal;
    case DeerMethod::block_deer:
      return block == d ? JacobianForm::dense
                        : block == 1 ? JacobianForm::diagonal : JacobianForm::block;
    default: return JacobianForm::none;
  }
}

// The per-sequence bookkeeping of a parallel solve.
struct Track {
  double last_step = kNaN;    // the previous iteration's step (for the rate estimate)
  double best = HUGE_VAL;     // best residual so far
  int since_best = 0;         // iterations without a new low (by 1 %)
  int non_finite = 0;         // consecutive iterations with a non-finite residual
  std::vector<std::int64_t> prefixes;  // converged prefix after each iteration
};

// The parallel solve over the window [first, T) of the sequences `todo`. Fills the per-sequence
// results; sequences that must fall back are finished sequentially here. `time_budget` (> 0):
// seconds of parallel iterations after which every remaining sequence falls back (automatic).
template <class T>
void solve_parallel(const Problem<T>& p, DeerMethod method, const DeerOptions& o,
                    std::int64_t first, std::vector<std::int64_t> todo, double time_budget,
                    DeerResult& res) {
  Context& ctx = p.ctx;
  const Device dev = ctx.device();
  detail::Backend& be = detail::backend_for(ctx);
  const std::int64_t d = p.d, w = p.steps - first, count0 = std::int64_t(todo.size());
  if (w <= 0 || count0 == 0) return;
  const JacobianForm form = form_of(method, o.block, d);
  const std::int64_t blk = form == JacobianForm::block ? o.block : form == JacobianForm::dense ? d : 0;
  const std::int64_t jsize = form == JacobianForm::dense ? d * d
                             : form == JacobianForm::diagonal ? d
                                                              : d * std::int64_t(o.block);
  const bool elk = method == DeerMethod::elk || method == DeerMethod::quasi_elk;
  const double sigma2 = o.elk_sigma2 > 0 ? o.elk_sigma2 : method == DeerMethod::elk ? 1e6 : 1e2;
  const double atol = o.atol > 0 ? o.atol : (std::is_same_v<T, float> ? 1e-6 : 1e-10);
  const double rtol = o.rtol > 0 ? o.rtol : (std::is_same_v<T, float> ? 1e-6 : 1e-10);
  const std::int64_t max_iter = o.max_iter > 0 ? o.max_iter : (time_budget > 0 ? w : 100);
  const double scale = elk ? 1.0 : 1.0 - o.shrink;
  const double clipj = form == JacobianForm::diagonal ? o.clip_jacobian : 0.0;
  // Chains of the scan per slot: one, or one per block.
  const std::int64_t nb = form == JacobianForm::block ? d / o.block : 1;
  const std::int64_t cd = form == JacobianForm::block ? o.block : d;  // chain dimension

  Buffer<std::int64_t> dseq(std::size_t(count0), dev);
  Buffer<T> f(std::size_t(count0 * w * d), dev), jac(std::size_t(count0 * w * jsize), dev),
      rhs(f.size(), dev), delta(f.size(), dev), zeros(std::size_t(count0 * d), dev);
  zero_bytes(ctx, zeros.data(), dev, zeros.bytes());
  Buffer<double> rmax(std::size_t(count0), dev), smax(std::size_t(count0), dev);
  Buffer<std::int64_t> prefix(std::size_t(count0), dev);
  Buffer<std::int32_t> info(std::size_t(count0 * nb), dev), reset(std::size_t(count0), dev);

  std::vector<Track> track(std::size_t(p.batch));
  std::vector<std::int64_t> fall_seq, fall_start;
  std::vector<std::string> fall_reason;
  const auto t0 = Clock::now();
  std::int64_t iterations_run = 0;
  for (std::int64_t it = 0; !todo.empty(); ++it) {
    const std::int64_t count = std::int64_t(todo.size());
    copy_bytes(ctx, dseq.data(), dev, todo.data(), Device::cpu(), todo.size() * sizeof(std::int64_t));
    linearize(p, first, w, dseq.data(), count, f.data(), form, o.block, jac.data());
    if (scale != 1.0 || clipj > 0) {
      detail::DeerScaleArgs sa{dtype_v<T>, count * w * jsize, jac.data(), scale, clipj};
      be.deer_scale(ctx, sa);
    }
    detail::DeerResidualArgs ra{dtype_v<T>, d,      p.steps,  first,      w,        count,
                                blk,        p.states, dseq.data(), f.data(), rhs.data(), atol,
                                rtol,       rmax.data(), prefix.data()};
    be.deer_residual(ctx, ra);
    zero_bytes(ctx, info.data(), dev, std::size_t(count * nb) * sizeof(std::int32_t));
    if (elk) {
      detail::ElkScanArgs ea{dtype_v<T>, d, w, count, form == JacobianForm::diagonal,
                             jac.data(), rhs.data(), delta.data(), sigma2, info.data()};
      be.elk_scan(ctx, ea);
    } else {
      const std::int64_t chains = count * nb;
      const bool diag = form == JacobianForm::diagonal;
      const std::int64_t acols = diag ? 1 : cd;
      detail::AffineScanArgs sa;
      sa.dtype = dtype_v<T>;
      sa.d = cd;
      sa.n = 1;
      sa.steps = w;
      sa.chains = chains;
      sa.diagonal = diag;
      sa.a = detail::MatRef{jac.data(), cd, acols, cd, cd * acols, chains * w, dtype_v<T>};
      sa.b = detail::MatRef{rhs.data(), cd, 1, cd, cd, chains * w, dtype_v<T>};
      sa.x0 = detail::MatRef{zeros.data(), cd, 1, cd, cd, chains, dtype_v<T>};
      sa.x = detail::MatRef{delta.data(), cd, 1, cd, cd, chains * w, dtype_v<T>};
      sa.chunk = 0;
      sa.info = info.data();
      be.affine_scan(ctx, sa);
    }
    // Per-slot scan failure (any of its block chains).
    const std::int32_t* reset_ptr = info.data();
    std::vector<std::int32_t> hinfo;
    if (nb > 1) {
      hinfo = to_host(ctx, info);
      std::vector<std::int32_t> hreset(std::size_t(count), 0);
      for (std::int64_t k = 0; k < count; ++k)
        for (std::int64_t b = 0; b < nb; ++b)
          if (hinfo[std::size_t(k * nb + b)] != 0) hreset[std::size_t(k)] = 1;
      copy_bytes(ctx, reset.data(), dev, hreset.data(), Device::cpu(), hreset.size() * sizeof(std::int32_t));
      reset_ptr = reset.data();
    }
    detail::DeerUpdateArgs ua{dtype_v<T>, d,         p.steps,     first,          w,
                              count,      blk,       p.states,    dseq.data(),    delta.data(),
                              f.data(),   reset_ptr, prefix.data(), o.relaxation, o.clip_state,
                              atol,       rtol,      smax.data()};
    be.deer_update(ctx, ua);
    const std::vector<double> hr = to_host(ctx, rmax), hs = to_host(ctx, smax);
    const std::vector<std::int64_t> hp = to_host(ctx, prefix);
    ++iterations_run;
    const double elapsed = seconds_since(t0);
    // With a time budget (automatic), give up as soon as the parallel solve cannot finish within
    // it: the remaining iterations are extrapolated from the decrease of each sequence's step
    // (linear rate ρ = step_i / step_{i−1}; conservative for Newton, whose rate improves).
    double predicted = 0;  // further iterations the slowest sequence needs
    for (std::int64_t k = 0; k < count && time_budget > 0; ++k) {
      const Track& tr = track[std::size_t(todo[std::size_t(k)])];
      const double s = hs[std::size_t(k)];
      double more = HUGE_VAL;
      if (s <= 1) {
        more = 1;
      } else if (std::isfinite(s) && std::isfinite(tr.last_step) && s < tr.last_step) {
        more = std::ceil(std::log(s) / std::log(tr.last_step / s)) + 1;
      } else if (it == 0) {
        more = 1;  // no rate yet
      }
      predicted = std::max(predicted, more);
    }
    const double per_iteration = elapsed / double(iterations_run);
    const bool out_of_time = time_budget > 0 && (elapsed >= time_budget ||
                                                 elapsed + predicted * per_iteration > time_budget);

    std::vector<std::int64_t> next;
    for (std::int64_t k = 0; k < count; ++k) {
      const std::int64_t q = todo[std::size_t(k)];
      Track& tr = track[std::size_t(q)];
      const double r = hr[std::size_t(k)], s = hs[std::size_t(k)];
      const std::int64_t pre = hp[std::size_t(k)];
      res.iterations[std::size_t(q)] = it + 1;
      res.step[std::size_t(q)] = s;
      res.converged_prefix[std::size_t(q)] = first + pre;
      tr.prefixes.push_back(pre);
      // Error of the updated iterate ≈ ρ/(1 − ρ)·|Δ| for an iteration converging at rate ρ (the
      // quasi and damped variants), estimated from the last two steps; Newton's ρ → 0.
      const double rate = std::isfinite(tr.last_step) && tr.last_step > 0
                              ? std::min(0.99, s / tr.last_step) : 0.0;
      tr.last_step = s;
      if (pre == w && s * std::max(1.0, rate / (1.0 - rate)) <= 1.0) {
        res.status[std::size_t(q)] = DeerStatus::converged;
        continue;
      }
      // Stall: no new low of the residual (by 1 %) for `stall` iterations, and a prefix growing
      // too slowly to cover the window within the remaining budget.
      if (std::isfinite(r) && r < 0.99 * tr.best) {
        tr.best = r;
        tr.since_best = 0;
      } else {
        ++tr.since_best;
      }
      tr.non_finite = std::isfinite(r) ? 0 : tr.non_finite + 1;
      bool stalled = false;
      if (tr.since_best >= o.stall && std::int64_t(tr.prefixes.size()) > o.stall) {
        const std::int64_t gain = pre - tr.prefixes[tr.prefixes.size() - 1 - std::size_t(o.stall)];
        const std::int64_t left = max_iter - (it + 1);
        stalled = double(std::max<std::int64_t>(gain, 0)) / double(o.stall) * double(left) <
                  double(w - pre);
      }
      std::string why;
      if (!o.fallback) {
        // Without a fallback only the budget ends the iterations.
      } else if (tr.non_finite >= o.stall) {
        why = fmt::format("non-finite iterates for {} iterations", tr.non_finite);
      } else if (stalled) {
        why = fmt::format("stalled after {} iterations: residual {:.3g} not improving and the "
                          "converged prefix ({} of {} steps) growing too slowly",
                          it + 1, r, pre, w);
      } else if (it + 1 >= max_iter) {
        why = fmt::format("iteration budget of {} spent (residual {:.3g}, prefix {} of {})",
                          max_iter, r, pre, w);
      } else if (out_of_time) {
        why = fmt::format("after {} iterations ({:.3g} s), {} more were predicted: the parallel "
                          "solve could not finish within the measured cost of sequential "
                          "evaluation ({:.3g} s)",
                          it + 1, elapsed, std::isfinite(predicted) ? fmt::format("{:.0f}", predicted) : "unboundedly many",
                          time_budget);
      }
      if (!o.fallback && it + 1 >= max_iter)
        why = fmt::format("iteration budget of {} spent (residual {:.3g}, prefix {} of {})",
                          max_iter, r, pre, w);
      if (why.empty()) {
        next.push_back(q);
        continue;
      }
      if (o.fallback) {
        res.status[std::size_t(q)] = DeerStatus::fell_back;
        fall_seq.push_back(q);
        fall_start.push_back(first + pre);
      } else {
        res.status[std::size_t(q)] = DeerStatus::not_converged;
      }
      fall_reason.push_back(std::move(why));
    }
    todo.swap(next);
  }
  res.seconds_per_iteration = iterations_run > 0 ? seconds_since(t0) / double(iterations_run) : 0;
  run_sequential(p, fall_seq, fall_start, p.steps);
  if (!fall_reason.empty()) {
    const std::size_t n = fall_reason.size();
    std::string msg = fmt::format("{} of {} sequences {}: {}", n, count0,
                                  o.fallback ? "finished sequentially from their converged prefix"
                                             : "did not converge",
                                  fall_reason[0]);
    res.reason += (res.reason.empty() ? "" : "; ") + msg;
  }
}

template <class T>
DeerResult make_result(std::int64_t batch) {
  DeerResult r;
  r.lle = kNaN;
  r.status.assign(std::size_t(batch), DeerStatus::sequential);
  r.iterations.assign(std::size_t(batch), 0);
  r.residual.assign(std::size_t(batch), 0.0);
  r.step.assign(std::size_t(batch), kNaN);
  r.converged_prefix.assign(std::size_t(batch), 0);
  return r;
}

// The residual of every returned trajectory that parallel iterations touched (one more cell
// evaluation of those sequences); sequential results satisfy the recurrence by construction
// (residual 0, the whole sequence final).
template <class T>
void finish(const Problem<T>& p, DeerResult& r) {
  std::vector<std::int64_t> touched;
  for (std::int64_t q = 0; q < p.batch; ++q) {
    if (r.status[std::size_t(q)] == DeerStatus::sequential) {
      r.converged_prefix[std::size_t(q)] = p.steps;
    } else {
      touched.push_back(q);
    }
  }
  const std::vector<double> res = residuals(p, touched, 0);
  for (std::size_t k = 0; k < touched.size(); ++k) r.residual[std::size_t(touched[k])] = res[k];
}

}  // namespace

template <class T>
DeerResult deer_evaluate(Context& ctx, const DeerCell<T>& cell, MatrixBatch<const T> s0,
                         MatrixBatch<const T> u, MatrixBatch<T> states, const DeerOptions& o) {
  const Problem<T> p = check_problem<T>("deer_evaluate", ctx, cell, s0, u, states);
  check_options(o, p.d);
  DeerResult res = make_result<T>(p.batch);
  res.method = o.method;
  if (p.batch == 0 || p.steps == 0) return res;
  std::vector<std::int64_t> all(std::size_t(p.batch));
  std::iota(all.begin(), all.end(), 0);
  const std::vector<std::int64_t> zeros(all.size(), 0);

  if (o.method == DeerMethod::sequential) {
    run_sequential(p, all, zeros, p.steps);
    finish(p, res);
    return res;
  }
  if (o.method != DeerMethod::automatic) {
    if (o.warm_start) {
      deer::check_finite(ctx, p.states, p.batch * p.steps * p.d, "deer_evaluate: `states` (warm start)");
    } else {
      zero_bytes(ctx, p.states, ctx.device(), std::size_t(p.batch * p.steps * p.d) * sizeof(T));
    }
    solve_parallel(p, o.method, o, 0, all, 0.0, res);
    finish(p, res);
    return res;
  }

  // Automatic (spec §8.5, §3.6): a sequential prefix measures the sequential cost and gives the
  // trajectory on which the largest Lyapunov exponent is estimated; it is kept as the converged
  // prefix of every sequence.
  std::int64_t probe = o.probe_steps > 0 ? o.probe_steps : 1024;
  probe = std::min(probe, p.steps);
  ctx.synchronize();
  auto t0 = Clock::now();
  run_sequential(p, all, zeros, probe);
  ctx.synchronize();
  const double seq_per_step = seconds_since(t0) / double(probe);
  res.probe_steps = probe;
  res.seconds_per_step_sequential = seq_per_step;
  res.method = DeerMethod::sequential;
  std::vector<std::int64_t> from_probe(all.size(), probe);
  if (probe == p.steps) {
    res.reason = fmt::format("sequential: T = {} is within the {}-step probe", p.steps, probe);
    finish(p, res);
    return res;
  }
  const std::int64_t rest = p.steps - probe;
  const double seq_rest = seq_per_step * double(rest);
  const Probe pr = probe_jacobians(p, std::min<std::int64_t>(p.batch, 4), probe);
  const double lle = pr.lle, offdiag = pr.offdiag;
  res.lle = lle;
  if (!(lle < o.lle_threshold)) {
    res.reason = fmt::format("sequential: largest Lyapunov exponent {:.3g} per step ≥ {:.3g} "
                             "(unpredictable: Newton iterations would approach T)",
                             lle, o.lle_threshold);
    run_sequential(p, all, from_probe, p.steps);
    finish(p, res);
    return res;
  }
  // Dense Newton where the Jacobian's off-diagonal part matters and the T·D² Jacobians fit;
  // diagonal (quasi) otherwise. Near the edge of stability, the damped (ELK) variant.
  const double dense_bytes = double(p.batch) * double(rest) * double(p.d * p.d) * sizeof(T);
  const bool dense = (p.d <= 16 || offdiag > 0.5) && dense_bytes <= 2.0 * (1 << 30);
  const bool damped = lle > 5 * o.lle_threshold;
  const DeerMethod method = dense ? (damped ? DeerMethod::elk : DeerMethod::deer)
                                  : (damped ? DeerMethod::quasi_elk : DeerMethod::quasi_deer);
  // Cost check: the probe's dense linearisation (an upper bound for the diagonal form), scaled
  // to the rest, against the sequential rest. A solve needs at least two iterations (the second
  // confirms the step).
  const double iteration = pr.per_point * double(p.batch * rest);
  if (o.measure_cost && 2 * iteration >= seq_rest) {
    res.reason = fmt::format("sequential: largest Lyapunov exponent {:.3g} per step is "
                             "predictable, but one {} iteration would cost ≈ {:.3g} s against "
                             "{:.3g} s for the sequential rest",
                             lle, to_string(method), iteration, seq_rest);
    run_sequential(p, all, from_probe, p.steps);
    finish(p, res);
    return res;
  }
  res.method = method;
  res.reason = fmt::format("{}: largest Lyapunov exponent {:.3g} per step < {:.3g} "
                           "(predictable{}); {} Jacobians (off-diagonal share {:.2f}, D = {})",
                           to_string(method), lle, o.lle_threshold,
                           damped ? ", near the edge: damped" : "", dense ? "dense" : "diagonal",
                           offdiag, p.d);
  for (std::int64_t q = 0; q < p.batch; ++q) res.converged_prefix[std::size_t(q)] = probe;
  // Initial guess on the window: zeros (the prefix stays).
  for (std::int64_t q = 0; q < p.batch; ++q)
    zero_bytes(ctx, p.states + (q * p.steps + probe) * p.d, ctx.device(),
               std::size_t(rest * p.d) * sizeof(T));
  solve_parallel(p, method, o, probe, all, o.measure_cost ? seq_rest : 0.0, res);
  finish(p, res);
  return res;
}

template <class T>
void deer_sequential(Context& ctx, const DeerCell<T>& cell, MatrixBatch<const T> s0,
                     MatrixBatch<const T> u, MatrixBatch<T> states) {
  const Problem<T> p = check_problem<T>("deer_sequential", ctx, cell, s0, u, states);
  if (p.batch == 0 || p.steps == 0) return;
  std::vector<std::int64_t> all(std::size_t(p.batch));
  std::iota(all.begin(), all.end(), 0);
  run_sequential(p, all, std::vector<std::int64_t>(all.size(), 0), p.steps);
}

template <class T>
double deer_largest_lyapunov(Context& ctx, const DeerCell<T>& cell, MatrixBatch<const T> s0,
                             MatrixBatch<const T> u, MatrixBatch<const T> states) {
  MatrixBatch<T> sv(const_cast<T*>(states.data), states.rows, states.cols, states.ld,
                    states.stride, states.count, states.device);
  const Problem<T> p = check_problem<T>("deer_largest_lyapunov", ctx, cell, s0, u, sv);
  DYNX_EXPECTS(p.batch > 0 && p.steps > 0,
               "deer_largest_lyapunov: `states` must hold at least one step of one sequence");
  deer::check_finite(ctx, sv.data, p.batch * p.steps * p.d, "deer_largest_lyapunov: `states`");
  return probe_jacobians(p, p.batch, p.steps).lle;
}

#define DYNX_INSTANTIATE(T)                                                                     \
  template DYNX_API DeerResult deer_evaluate<T>(Context&, const DeerCell<T>&,                  \
                                                MatrixBatch<const T>, MatrixBatch<const T>,    \
                                                MatrixBatch<T>, const DeerOptions&);           \
  template DYNX_API void deer_sequential<T>(Context&, const DeerCell<T>&, MatrixBatch<const T>, \
                                            MatrixBatch<const T>, MatrixBatch<T>);             \
  template DYNX_API double deer_largest_lyapunov<T>(Context&, const DeerCell<T>&,              \
                                                    MatrixBatch<const T>, MatrixBatch<const T>, \
                                                    MatrixBatch<const T>);
DYNX_INSTANTIATE(float)
DYNX_INSTANTIATE(double)
#undef DYNX_INSTANTIATE

}  // namespace dynx
