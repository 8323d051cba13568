// Lyapunov spectra of Jacobian sequences (include/dynx/lyapunov.hpp): option checks, the
// segmenting of each method, and the reduction of per-segment sums to exponents. The per-step
// work runs in the backend (qr_sweep, selective_reset, product_scan) on ctx's device.

#include <dynx/goom.hpp>
#include <dynx/lyapunov.hpp>

#include "core/backend.hpp"
#include "core/check.hpp"
#include "core/views.hpp"
#include "goom/systems.hpp"

#include <dynx/buffer.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

namespace dynx {

const char* to_string(LyapunovMethod m) noexcept {
  switch (m) {
    case LyapunovMethod::sequential_qr: return "sequential_qr";
    case LyapunovMethod::overlapped_chunks: return "overlapped_chunks";
    case LyapunovMethod::selective_reset: return "selective_reset";
    case LyapunovMethod::largest_reduce: return "largest_reduce";
  }
  return "?";
}

const char* to_string(LyapunovStatus s) noexcept {
  switch (s) {
    case LyapunovStatus::ok: return "ok";
    case LyapunovStatus::non_finite: return "non_finite";
  }
  return "?";
}

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

struct Segment {
  std::int64_t first, warmup, length;
};

// Runs qr_sweep over `segs` on ctx's device. Returns the k sums of ln R_ii per segment (host) and
// whether every segment succeeded. q0 / q_out: optional device views (d × k per segment).
template <class T>
bool sweep(Context& ctx, MatrixBatch<const T> jac, std::int64_t k, const std::vector<Segment>& segs,
           std::vector<double>& log_r, MatrixBatch<const T> q0 = {}, MatrixBatch<T> q_out = {}) {
  const std::int64_t d = jac.rows, n = std::int64_t(segs.size());
  std::vector<std::int64_t> host(std::size_t(3 * n));
  for (std::int64_t s = 0; s < n; ++s) {
    host[std::size_t(3 * s)] = segs[std::size_t(s)].first;
    host[std::size_t(3 * s + 1)] = segs[std::size_t(s)].warmup;
    host[std::size_t(3 * s + 2)] = segs[std::size_t(s)].length;
  }
  Buffer<std::int64_t> dseg = to_device(ctx, host.data(), host.size());
  Buffer<double> dlog(std::size_t(n * k), ctx.device());
  BatchStatus status;
  std::int32_t* info = status.prepare(ctx, n);
  detail::QrSweepArgs args{dtype_v<T>, d, k, n, detail::ref(jac), dseg.data(), detail::ref(q0),
                           detail::ref(q_out), dlog.data(), info};
  detail::backend_for(ctx).qr_sweep(ctx, args);
  log_r = to_host(ctx, dlog);
  return status.all_ok();
}

// mean over the counted Jacobians [burn_in, count) of ln|det J_t| (one QR each, in blocks).
template <class T>
double mean_log_det(Context& ctx, MatrixBatch<const T> jac, std::int64_t burn_in, bool& ok) {
  const std::int64_t d = jac.rows, count = jac.count;
  constexpr std::int64_t kBlock = 1 << 16;
  double total = 0;
  for (std::int64_t b = burn_in; b < count; b += kBlock) {
    const std::int64_t e = std::min(count, b + kBlock);
    std::vector<Segment> segs;
    segs.reserve(std::size_t(e - b));
    for (std::int64_t t = b; t < e; ++t) segs.push_back({t, 0, 1});
    std::vector<double> log_r;
    if (!sweep(ctx, jac, d, segs, log_r)) ok = false;
    for (double v : log_r) total += v;
  }
  return total / double(count - burn_in);
}

// ln|v_i| and signs of v = P u for a GOOM matrix P (host, column-major d × d) and real u.
void goom_matvec(std::int64_t d, const double* lg, const std::uint8_t* ng, const std::vector<double>& u,
                 std::vector<double>& out_log, std::vector<int>& out_sign) {
  out_log.assign(std::size_t(d), -std::numeric_limits<double>::infinity());
  out_sign.assign(std::size_t(d), 1);
  for (std::int64_t i = 0; i < d; ++i) {
    double big = -std::numeric_limits<double>::infinity();
    for (std::int64_t j = 0; j < d; ++j)
      if (u[std::size_t(j)] != 0) big = std::max(big, lg[j * d + i] + std::log(std::fabs(u[std::size_t(j)])));
    if (big == -std::numeric_limits<double>::infinity()) continue;
    double sum = 0;
    for (std::int64_t j = 0; j < d; ++j) {
      if (u[std::size_t(j)] == 0) continue;
      const double term = std::exp(lg[j * d + i] + std::log(std::fabs(u[std::size_t(j)])) - big);
      sum += ((ng[j * d + i] != 0) != (u[std::size_t(j)] < 0)) ? -term : term;
    }
    if (sum == 0) continue;
    out_log[std::size_t(i)] = big + std::log(std::fabs(sum));
    out_sign[std::size_t(i)] = sum < 0 ? -1 : 1;
  }
}

// ln‖v‖ from ln|v_i| (a log-sum-exp of 2 ln|v_i|, halved).
double log_norm(const std::vector<double>& lv) {
  double big = -std::numeric_limits<double>::infinity();
  for (double v : lv) big = std::max(big, v);
  if (big == -std::numeric_limits<double>::infinity()) return big;
  double s = 0;
  for (double v : lv) s += std::exp(2 * (v - big));
  return big + 0.5 * std::log(s);
}

// The full product of jac[first, first + n) as a GOOM matrix on the host (float64 values).
template <class T>
bool reduce_product(Context& ctx, MatrixBatch<const T> jac, std::int64_t first, std::int64_t n,
                    std::vector<double>& lg, std::vector<std::uint8_t>& ng) {
  const std::int64_t d = jac.rows;
  Buffer<T> dl(std::size_t(d * d), ctx.device());
  Buffer<std::uint8_t> dn(std::size_t(d * d), ctx.device());
  GoomMatrixBatch<T> out{dl.matrices(d, d, 1), dn.matrices(d, d, 1)};
  ProductScanOptions o;
  o.kind = ScanKind::reduce;
  o.precision = InnerPrecision::f64;  // scaled float64 mantissas for float Jacobians too
  BatchStatus status;
  matrix_product_scan<T>(ctx, jac.slice(first, n), n, out, &status, o);
  const std::vector<T> hl = to_host(ctx, dl);
  ng = to_host(ctx, dn);
  lg.assign(hl.begin(), hl.end());
  return status.all_ok();
}

// Appends the running estimate after `done` counted steps.
void record(LyapunovResult& res, const std::vector<double>& sums, std::int64_t done, double dt) {
  res.running_steps.push_back(done);
  for (double v : sums) res.running.push_back(v / (double(done) * dt));
}

// Sequential QR over Jacobians that arrive in consecutive parts (the blocks of a streamed run, or
// one sequence in memory), carrying Q from call to call on ctx's device. Each part is swept in
// pieces that end where a running estimate is due.
template <class T>
class ChainedSequential {
 public:
  ChainedSequential(Context& ctx, std::int64_t d, std::int64_t k, std::int64_t counted,
                    const LyapunovOptions& o, LyapunovResult& res)
      : ctx_(ctx), d_(d), k_(k), counted_(counted), o_(o), res_(res),
        qa_(std::size_t(d * k), ctx.device()), qb_(std::size_t(d * k), ctx.device()),
        sums_(std::size_t(k), 0.0) {}

  /// Sweeps jac: its first `warm` Jacobians only align Q, the rest are counted. False when a
  /// Jacobian was not finite or Q lost rank.
  bool run(MatrixBatch<const T> jac, std::int64_t warm) {
    const std::int64_t n = jac.count;
    for (std::int64_t pos = warm;;) {
      std::int64_t len = n - pos;
      if (o_.record_every > 0) len = std::min(len, o_.record_every - done_ % o_.record_every);
      const std::int64_t w = pos == warm ? warm : 0;  // the warm-up goes with the first piece
      std::vector<double> log_r;
      const bool ok = sweep<T>(ctx_, jac, k_, {{pos - w, w, len}}, log_r,
                               have_q_ ? MatrixBatch<const T>(qa_.matrices(d_, k_, 1)) : MatrixBatch<const T>{},
                               qb_.matrices(d_, k_, 1));
      std::swap(qa_, qb_);
      have_q_ = true;
      if (!ok) return false;
      for (std::int64_t i = 0; i < k_; ++i) sums_[std::size_t(i)] += log_r[std::size_t(i)];
      done_ += len;
      pos += len;
      if (o_.record_every > 0 && len > 0 && (done_ % o_.record_every == 0 || done_ == counted_))
        record(res_, sums_, done_, o_.dt);
      if (o_.progress && len > 0) o_.progress(done_, counted_);
      if (pos >= n) return true;
    }
  }
  const std::vector<double>& sums() const { return sums_; }

 private:
  Context& ctx_;
  std::int64_t d_, k_, counted_;
  const LyapunovOptions& o_;
  LyapunovResult& res_;
  Buffer<T> qa_, qb_;
  bool have_q_ = false;
  std::vector<double> sums_;
  std::int64_t done_ = 0;
};

void check_options(const LyapunovOptions& o, std::int64_t d, std::int64_t count) {
  DYNX_EXPECTS(o.k >= 0 && o.k <= d,
               fmt::format("lyapunov_spectrum: `k` must be in [0, d = {}] (0 = all), got {}", d, o.k));
  DYNX_EXPECTS(std::isfinite(o.dt) && o.dt > 0,
               fmt::format("lyapunov_spectrum: `dt` must be finite and > 0, got {}", o.dt));
  DYNX_EXPECTS(o.burn_in >= 0 && o.burn_in < count,
               fmt::format("lyapunov_spectrum: `burn_in` = {} leaves no Jacobian to count out of {}",
                           o.burn_in, count));
  DYNX_EXPECTS(o.chunk >= 0 && o.warmup >= 0 && o.record_every >= 0,
               fmt::format("lyapunov_spectrum: `chunk` ({}), `warmup` ({}) and `record_every` ({}) "
                           "must be ≥ 0",
                           o.chunk, o.warmup, o.record_every));
  DYNX_EXPECTS(o.max_cos_sim > -1 && o.max_cos_sim < 1,
               fmt::format("lyapunov_spectrum: `max_cos_sim` must be in (−1, 1), got {}", o.max_cos_sim));
  DYNX_EXPECTS(o.n_above_max >= 1,
               fmt::format("lyapunov_spectrum: `n_above_max` must be ≥ 1, got {}", o.n_above_max));
}

}  // namespace

template <class T>
LyapunovResult lyapunov_spectrum(Context& ctx, MatrixBatch<const T> jac, const LyapunovOptions& o) {
  detail::static_check_real<T>();
  constexpr const char* op = "lyapunov_spectrum";
  detail::check_nonnegative(op, "jac", jac.rows, jac.cols, jac.count);
  DYNX_EXPECTS(jac.rows == jac.cols && jac.rows >= 1,
               fmt::format("lyapunov_spectrum: Jacobians must be square and non-empty, got {}",
                           detail::shape_str(jac.rows, jac.cols)));
  DYNX_EXPECTS(jac.count >= 1, "lyapunov_spectrum: `jac` holds no Jacobians");
  detail::check_matrix(op, "jac", jac, ctx.device(), jac.rows, jac.cols, jac.count, false);
  const std::int64_t d = jac.rows, count = jac.count;
  check_options(o, d, count);
  const std::int64_t k = o.k == 0 ? d : o.k, counted = count - o.burn_in;

  LyapunovResult res;
  res.method = o.method;
  res.steps = counted;
  bool ok = true;
  std::vector<double> sums(std::size_t(k), 0.0);
  switch (o.method) {
    case LyapunovMethod::sequential_qr: {
      ChainedSequential<T> seq(ctx, d, k, counted, o, res);
      ok = seq.run(jac, o.burn_in);
      sums = seq.sums();
      break;
    }
    case LyapunovMethod::overlapped_chunks: {
      const bool gpu = ctx.device().kind() == DeviceKind::cuda;
      std::int64_t warm = o.warmup;
      if (warm == 0) {
        // Forgetting takes ~ 1/gap time units for the smallest gap between the wanted exponents
        // (spec §5.5): estimate the gaps by a sequential pilot on the first counted steps and
        // warm up long enough for an error factor e^-9 ≈ 1e-4.
        const std::int64_t pilot = std::min<std::int64_t>(counted, 4000);
        std::vector<double> log_r;
        const std::int64_t kp = std::min(d, k + 1);
        // The pilot is sequential: on a GPU it runs on the host, from a copy of its Jacobians.
        bool pilot_ok = false;
        if (ctx.device().is_cpu()) {
          pilot_ok = sweep(ctx, jac, kp, {{0, o.burn_in, pilot}}, log_r);
        } else {
          const std::int64_t n = o.burn_in + pilot;
          std::vector<T> host(std::size_t(n * jac.stride));
          copy_bytes(ctx, host.data(), Device::cpu(), jac.data, ctx.device(),
                     std::size_t((n - 1) * jac.stride + (d - 1) * jac.ld + d) * sizeof(T));
          Context cpu(Device::cpu());
          pilot_ok = sweep(cpu, MatrixBatch<const T>(host.data(), d, d, jac.ld, jac.stride, n), kp,
                           {{0, o.burn_in, pilot}}, log_r);
        }
        if (pilot_ok && kp > 1) {
          double gap = std::numeric_limits<double>::infinity();
          for (std::int64_t i = 0; i + 1 < kp; ++i)
            gap = std::min(gap, (log_r[std::size_t(i)] - log_r[std::size_t(i + 1)]) / double(pilot));
          // A gap the pilot cannot resolve counts as 1/pilot per step.
          gap = std::max(gap, 1.0 / double(pilot));
          warm = std::int64_t(std::ceil(9.0 / gap));
        } else {
          warm = 1000;
        }
        warm = std::max<std::int64_t>(64, std::min(warm, std::max<std::int64_t>(64, counted / 4)));
      }
      std::int64_t chunk = o.chunk;
      if (chunk == 0) {
        // Enough chunks to keep the device busy, each at least 4 warm-ups long (≤ 25% overhead).
        const std::int64_t target = gpu ? 8192 : 8 * std::max(1, ctx.num_threads());
        chunk = std::max<std::int64_t>((counted + target - 1) / target, 4 * warm);
      }
      chunk = std::min(chunk, counted);
      std::vector<Segment> segs;
      for (std::int64_t s = 0; s < counted; s += chunk) {
        const std::int64_t start = o.burn_in + s, w = std::min(warm, start);
        segs.push_back({start - w, w, std::min(chunk, counted - s)});
      }
      std::vector<double> log_r;
      ok = sweep(ctx, jac, k, segs, log_r);
      std::int64_t done = 0;
      for (std::size_t s = 0; s < segs.size(); ++s) {
        for (std::int64_t i = 0; i < k; ++i) sums[std::size_t(i)] += log_r[s * std::size_t(k) + std::size_t(i)];
        done += segs[s].length;
        if (o.record_every > 0) record(res, sums, done, o.dt);
      }
      res.chunks = std::int64_t(segs.size());
      res.warmup = warm;
      break;
    }
    case LyapunovMethod::selective_reset: {
      // A random orthonormal S_0 (any generic full-rank start works, spec §5.4).
      std::mt19937_64 rng(o.seed);
      std::normal_distribution<double> normal;
      std::vector<double> s0(std::size_t(d * d));
      for (auto& v : s0) v = normal(rng);
      for (std::int64_t i = 0; i < d; ++i) {  // Gram–Schmidt of the rows
        for (std::int64_t j = 0; j < i; ++j) {
          double dot = 0;
          for (std::int64_t l = 0; l < d; ++l) dot += s0[std::size_t(l * d + i)] * s0[std::size_t(l * d + j)];
          for (std::int64_t l = 0; l < d; ++l) s0[std::size_t(l * d + i)] -= dot * s0[std::size_t(l * d + j)];
        }
        double ss = 0;
        for (std::int64_t l = 0; l < d; ++l) ss += s0[std::size_t(l * d + i)] * s0[std::size_t(l * d + i)];
        for (std::int64_t l = 0; l < d; ++l) s0[std::size_t(l * d + i)] /= std::sqrt(ss);
      }
      std::vector<T> s0t(s0.begin(), s0.end());
      Buffer<T> ds0 = to_device(ctx, s0t.data(), s0t.size());
      Buffer<double> dlog(std::size_t(count * d), ctx.device());
      Buffer<std::int64_t> dres(1, ctx.device());
      BatchStatus status;
      std::int32_t* info = status.prepare(ctx, 1);
      detail::SelectiveResetArgs args{dtype_v<T>, d, count, detail::ref(jac),
                                      detail::ref(MatrixBatch<const T>(ds0.data(), d, d, 1, ctx.device())),
                                      o.max_cos_sim, o.n_above_max, dlog.data(), dres.data(), info};
      detail::backend_for(ctx).selective_reset(ctx, args);
      const std::vector<double> log_r = to_host(ctx, dlog);
      res.resets = to_host(ctx, dres)[0];
      ok = status.all_ok();
      sums.assign(std::size_t(d), 0.0);
      for (std::int64_t t = o.burn_in; t < count; ++t) {
        for (std::int64_t i = 0; i < d; ++i) sums[std::size_t(i)] += log_r[std::size_t(t * d + i)];
        const std::int64_t done = t + 1 - o.burn_in;
        if (o.record_every > 0 && (done % o.record_every == 0 || t + 1 == count))
          record(res, sums, done, o.dt);
      }
      break;
    }
    case LyapunovMethod::largest_reduce: {
      // λ₁ ≈ ln(‖P u‖/‖u‖)/(T dt) for a random u aligned by the burn-in product (spec §5.3).
      std::mt19937_64 rng(o.seed);
      std::normal_distribution<double> normal;
      std::vector<double> u(static_cast<std::size_t>(d));
      for (auto& v : u) v = normal(rng);
      std::vector<double> lg, lv;
      std::vector<std::uint8_t> ng;
      std::vector<int> sg;
      if (o.burn_in > 0) {
        ok = reduce_product(ctx, jac, 0, o.burn_in, lg, ng);
        goom_matvec(d, lg.data(), ng.data(), u, lv, sg);
        const double ln = log_norm(lv);
        for (std::int64_t i = 0; i < d; ++i)
          u[std::size_t(i)] = sg[std::size_t(i)] * std::exp(lv[std::size_t(i)] - ln);
      }
      double un = 0;
      for (double v : u) un += v * v;
      ok = reduce_product(ctx, jac, o.burn_in, counted, lg, ng) && ok;
      goom_matvec(d, lg.data(), ng.data(), u, lv, sg);
      sums.assign(1, log_norm(lv) - 0.5 * std::log(un));
      break;
    }
  }
  res.status = ok ? LyapunovStatus::ok : LyapunovStatus::non_finite;
  res.exponents.resize(sums.size());
  for (std::size_t i = 0; i < sums.size(); ++i)
    res.exponents[i] = ok ? sums[i] / (double(counted) * o.dt) : kNaN;
  res.sum_rule_residual = res.mean_log_det = kNaN;
  if (o.sum_rule && ok) {
    bool det_ok = true;
    res.mean_log_det = mean_log_det(ctx, jac, o.burn_in, det_ok) / o.dt;
    if (!det_ok) res.mean_log_det = kNaN;
    if (std::int64_t(res.exponents.size()) == d) {
      double total = 0;
      for (double v : res.exponents) total += v;
      res.sum_rule_residual = total - res.mean_log_det;
    }
  }
  if (o.progress) o.progress(counted, counted);
  return res;
}

namespace {

// Sequential QR over a built-in system, streamed: Jacobians are generated on the host in blocks,
// copied to ctx's device and swept, with Q carried from block to block, so memory stays bounded
// for any number of steps.
LyapunovResult stream_sequential(Context& ctx, detail::SystemIntegrator& integ,
                                 std::int64_t counted, const LyapunovOptions& o) {
  const std::int64_t d = integ.dim(), k = o.k == 0 ? d : o.k;
  const std::int64_t block = std::max<std::int64_t>(1, (std::int64_t(1) << 22) / (d * d));
  const bool on_host = ctx.device().kind() == DeviceKind::cpu;
  std::vector<double> host(std::size_t(block * d * d));
  Buffer<double> dev(on_host ? 0 : std::size_t(block * d * d), ctx.device());
  LyapunovResult res;
  res.method = o.method;
  res.steps = counted;
  ChainedSequential<double> seq(ctx, d, k, counted, o, res);
  double log_det = 0;
  bool ok = true, det_ok = true;
  std::int64_t burn = o.burn_in;
  const std::int64_t total = o.burn_in + counted;
  for (std::int64_t produced = 0; produced < total && ok; produced += block) {
    const std::int64_t n = std::min(block, total - produced);
    integ.next(MatrixBatch<double>(host.data(), d, d, n));
    MatrixBatch<const double> jac(host.data(), d, d, n);
    if (!on_host) {
      copy_bytes(ctx, dev.data(), ctx.device(), host.data(), Device::cpu(),
                 std::size_t(n * d * d) * sizeof(double));
      jac = MatrixBatch<const double>(dev.data(), d, d, n, ctx.device());
    }
    const std::int64_t warm = std::min(burn, n);
    burn -= warm;
    if (o.sum_rule && n > warm) log_det += mean_log_det(ctx, jac, warm, det_ok) * double(n - warm);
    ok = seq.run(jac, warm);
  }
  const std::vector<double>& sums = seq.sums();
  res.status = ok ? LyapunovStatus::ok : LyapunovStatus::non_finite;
  res.exponents.resize(std::size_t(k));
  for (std::int64_t i = 0; i < k; ++i)
    res.exponents[std::size_t(i)] = ok ? sums[std::size_t(i)] / (double(counted) * o.dt) : kNaN;
  res.sum_rule_residual = res.mean_log_det = kNaN;
  if (o.sum_rule && ok && det_ok) {
    res.mean_log_det = log_det / double(counted) / o.dt;
    if (k == d) {
      double t = 0;
      for (double v : res.exponents) t += v;
      res.sum_rule_residual = t - res.mean_log_det;
    }
  }
  return res;
}

}  // namespace

LyapunovResult lyapunov_spectrum_of_system(Context& ctx, const SystemSpec& system,
                                           const SystemRunOptions& run,
                                           const LyapunovOptions& options) {
  DYNX_EXPECTS(run.steps >= 1,
               fmt::format("lyapunov_spectrum_of_system: `steps` must be ≥ 1, got {}", run.steps));
  detail::SystemIntegrator integ(system, run);
  LyapunovOptions o = options;
  o.dt = integ.is_flow() ? run.dt : 1.0;
  const std::int64_t d = integ.dim(), total = o.burn_in + run.steps;
  check_options(o, d, total);
  if (o.method == LyapunovMethod::sequential_qr) return stream_sequential(ctx, integ, run.steps, o);
  // The parallel methods see the whole sequence at once.
  const double bytes = double(total) * double(d * d) * sizeof(double);
  DYNX_EXPECTS(bytes <= 8.0 * (1ull << 30),
               fmt::format("lyapunov_spectrum_of_system: {} steps of {} Jacobians need {:.1f} GiB "
                           "for method {}; use sequential_qr (streamed) or fewer steps",
                           total, detail::shape_str(d, d), bytes / double(1ull << 30),
                           to_string(o.method)));
  std::vector<double> host(std::size_t(total * d * d));
  integ.next(MatrixBatch<double>(host.data(), d, d, total));
  if (ctx.device().kind() == DeviceKind::cpu)
    return lyapunov_spectrum<double>(ctx, MatrixBatch<const double>(host.data(), d, d, total), o);
  Buffer<double> dev = to_device(ctx, host.data(), host.size());
  return lyapunov_spectrum<double>(ctx, MatrixBatch<const double>(dev.data(), d, d, total, ctx.device()), o);
}

template DYNX_API LyapunovResult lyapunov_spectrum<float>(Context&, MatrixBatch<const float>,
                                                          const LyapunovOptions&);
template DYNX_API LyapunovResult lyapunov_spectrum<double>(Context&, MatrixBatch<const double>,
                                                           const LyapunovOptions&);

}  // namespace dynx
