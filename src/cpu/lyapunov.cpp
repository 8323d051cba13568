// Lyapunov machinery on the CPU: Benettin QR sweeps over segments (OpenMP over segments), and the
// published parallel method with selective resetting (spec goom.md §5.4), which the CUDA backend
// follows step for step.

#include "cpu/goom_formats.hpp"

#include <atomic>

namespace dynx::cpu {
namespace {

// v ← v minus its projections on the orthonormal vectors q_0 … q_{i−1} (q_j at q + j·d), by
// modified Gram–Schmidt with one re-orthogonalisation pass ("twice is enough"). Shared by both
// Gram–Schmidt variants below; the CUDA kernels follow the same order of operations.
template <class T>
void project_out(const T* q, std::int64_t i, std::int64_t d, T* v) {
  for (int pass = 0; pass < 2; ++pass)
    for (std::int64_t j = 0; j < i; ++j) {
      const T* qj = q + j * d;
      T dot = 0;
      for (std::int64_t l = 0; l < d; ++l) dot += qj[l] * v[l];
      for (std::int64_t l = 0; l < d; ++l) v[l] -= dot * qj[l];
    }
}

// Gram–Schmidt QR of the d × k column-major w (ld d) in place: w ← Q, r[i] = R_ii ≥ 0. Returns
// false when a column is lost (R_ii = 0 or not finite).
template <class T>
bool mgs2(std::int64_t d, std::int64_t k, T* w, double* r) {
  for (std::int64_t i = 0; i < k; ++i) {
    T* wi = w + i * d;
    project_out(w, i, d, wi);
    // Scaled norm: columns of J·Q may be far from 1 in size.
    T big = 0;
    for (std::int64_t l = 0; l < d; ++l) big = std::max(big, std::fabs(wi[l]));
    if (!(big > T(0)) || !std::isfinite(big)) return false;
    T ss = 0;
    for (std::int64_t l = 0; l < d; ++l) ss += (wi[l] / big) * (wi[l] / big);
    const T norm = big * std::sqrt(ss);
    r[i] = double(norm);
    for (std::int64_t l = 0; l < d; ++l) wi[l] /= norm;
  }
  return true;
}

}  // namespace

template <class T>
void qr_sweep(Context& ctx, const detail::QrSweepArgs& a) {
  const std::int64_t d = a.d, k = a.k;
  const T* jac = static_cast<const T*>(a.jac.data);
  const int threads = std::max(1, ctx.num_threads());
  std::vector<std::vector<T>> q(std::size_t(threads), std::vector<T>(std::size_t(d * k))),
      w(std::size_t(threads), std::vector<T>(std::size_t(d * k)));
  std::vector<std::vector<double>> rdiag(static_cast<std::size_t>(threads),
                                         std::vector<double>(static_cast<std::size_t>(k)));
  for_each_unit(threads, a.segments, [&](std::int64_t s, int t) {
    const std::int64_t first = a.segment[3 * s], warm = a.segment[3 * s + 1],
                       len = a.segment[3 * s + 2];
    T* qs = q[std::size_t(t)].data();
    T* ws = w[std::size_t(t)].data();
    double* rs = rdiag[std::size_t(t)].data();
    double* out = a.log_r + s * k;
    if (a.q0.empty()) {
      std::fill(qs, qs + d * k, T(0));
      for (std::int64_t i = 0; i < k; ++i) qs[i * d + i] = T(1);
    } else {
      copy_matrix(static_cast<const T*>(a.q0.data) + s * a.q0.stride, a.q0.ld, qs, d, d, k);
    }
    for (std::int64_t i = 0; i < k; ++i) out[i] = 0;
    bool ok = true;
    for (std::int64_t step = 0; step < warm + len && ok; ++step) {
      const T* J = jac + (first + step) * a.jac.stride;
      if (!all_finite(J, d, d, a.jac.ld)) {
        ok = false;
        break;
      }
      gemm_one<T>(false, false, int(d), int(k), int(d), T(1), J, int(a.jac.ld), qs, int(d), T(0), ws,
                  int(d));
      ok = mgs2(d, k, ws, rs);
      std::swap(qs, ws);
      if (ok && step >= warm)
        for (std::int64_t i = 0; i < k; ++i) out[i] += std::log(rs[i]);
    }
    // qs/ws were swapped an odd or even number of times: keep the per-thread buffers consistent.
    if (qs != q[std::size_t(t)].data()) std::copy(qs, qs + d * k, q[std::size_t(t)].data());
    qs = q[std::size_t(t)].data();
    if (!ok) {
      for (std::int64_t i = 0; i < k; ++i) out[i] = std::numeric_limits<double>::quiet_NaN();
      set_status(a.info, s, MatrixStatus::non_finite);
    } else {
      set_status(a.info, s, MatrixStatus::ok);
    }
    if (!a.q_out.empty())
      copy_matrix(qs, d, static_cast<T*>(a.q_out.data) + s * a.q_out.stride, a.q_out.ld, d, k);
  });
}

// ------------------------------------------------------------------------------------------------
// Selective resetting (spec §5.4), in the row form of the reference: element t is a stack [A; B]
// of d × d matrices acting on row states X ↦ X A + B, plus a flag "already holds a reset".
// e_0 = [S_0; 0], e_t = [J_{t−1}ᵀ; 0] for t ≥ 1. Every row of A and B is kept in scaled float64
// (a mantissa row with max |entry| in [1, 2) times 2^e), so the aggregates never overflow. The
// scan is Sklansky's, in place: at level n, for each block of 2n, the last element of the left
// half (first tested and possibly reset, in place) is combined into every element of the right
// half: R ← [A_L A_R; B_L A_R + B_R]. The reset test on the left operand L (only when it holds no
// reset yet): normalise the rows of A_L, count pairs i < j with cosine > max_cos_sim, and when
// the count reaches n_above_max replace L by [0; Q] with Q the Gram–Schmidt orthonormalisation of
// those rows in order. Readout at every t: X_t = A_t + B_t, Q_t = Gram–Schmidt of X_t's rows (as
// columns), and ln R_ii of QR(J_t Q_t).

namespace {

// A d × d matrix stored by rows (row i at m + i·d) with one exponent per row.
struct RowScaled {
  double* m;
  std::int64_t* e;
};

void normalize_row(double* row, std::int64_t d, std::int64_t& e) {
  double big = 0;
  for (std::int64_t j = 0; j < d; ++j) big = std::max(big, std::fabs(row[j]));
  if (!(big > 0)) {
    e = 0;
    return;
  }
  const int s = math::scaled_exponent(big);
  for (std::int64_t j = 0; j < d; ++j) row[j] = math::times_pow2(row[j], -s);
  e += s;
}

bool row_zero(const double* row, std::int64_t d) {
  for (std::int64_t j = 0; j < d; ++j)
    if (row[j] != 0) return false;
  return true;
}

// out = p · q (row-scaled, out distinct from both): q's row exponents folded into p's columns.
void rs_mul(std::int64_t d, RowScaled p, RowScaled q, RowScaled out, double* fold) {
  for (std::int64_t i = 0; i < d; ++i) {
    std::int64_t s = std::numeric_limits<std::int64_t>::min();
    const double* pi = p.m + i * d;
    for (std::int64_t l = 0; l < d; ++l)
      if (pi[l] != 0) s = std::max(s, std::int64_t(math::scaled_exponent(pi[l])) + q.e[l]);
    if (s == std::numeric_limits<std::int64_t>::min()) s = 0;
    for (std::int64_t l = 0; l < d; ++l)
      fold[i * d + l] = math::times_pow2(pi[l], q.e[l] - s);
    out.e[i] = p.e[i] + s;
  }
  // Row-major out = fold · q.m is column-major outᵀ = q.mᵀ · foldᵀ.
  gemm_one<double>(false, false, int(d), int(d), int(d), 1.0, q.m, int(d), fold, int(d), 0.0, out.m,
                   int(d));
  for (std::int64_t i = 0; i < d; ++i) normalize_row(out.m + i * d, d, out.e[i]);
}

// x += y row by row (exponents aligned to the larger one per row).
void rs_add(std::int64_t d, RowScaled x, RowScaled y) {
  for (std::int64_t i = 0; i < d; ++i) {
    double* xi = x.m + i * d;
    const double* yi = y.m + i * d;
    if (row_zero(yi, d)) continue;
    if (row_zero(xi, d)) {
      std::copy(yi, yi + d, xi);
      x.e[i] = y.e[i];
      continue;
    }
    const std::int64_t E = std::max(x.e[i], y.e[i]);
    for (std::int64_t j = 0; j < d; ++j)
      xi[j] = math::times_pow2(xi[j], x.e[i] - E) + math::times_pow2(yi[j], y.e[i] - E);
    x.e[i] = E;
    normalize_row(xi, d, x.e[i]);
  }
}

// Rows of m normalised to unit 2-norm into u (zero rows stay zero).
void unit_rows(std::int64_t d, const double* m, double* u) {
  for (std::int64_t i = 0; i < d; ++i) {
    double ss = 0;
    for (std::int64_t j = 0; j < d; ++j) ss += m[i * d + j] * m[i * d + j];
    const double inv = ss > 0 ? 1.0 / std::sqrt(ss) : 0.0;
    for (std::int64_t j = 0; j < d; ++j) u[i * d + j] = m[i * d + j] * inv;
  }
}

// Gram–Schmidt (MGS, twice) of the rows of u in order, in place. A row with nothing left after
// the projections (below 1e-14 of its unit length: colinear in float64) is replaced by the unit
// vector orthogonal to the rows before it that is closest to a coordinate axis, so the result is
// always an orthonormal basis, as the reference's Householder QR returns (its completion of a
// lost direction is arbitrary too; in 2-D it is unique up to sign).
void gram_schmidt_rows(std::int64_t d, double* u) {
  auto project = [&](std::int64_t i, double* v) {
    project_out(u, i, d, v);
    double ss = 0;
    for (std::int64_t l = 0; l < d; ++l) ss += v[l] * v[l];
    return ss;
  };
  for (std::int64_t i = 0; i < d; ++i) {
    double* ui = u + i * d;
    double ss = project(i, ui);
    if (!(ss > 1e-28)) {
      double best = -1;
      for (std::int64_t axis = 0; axis < d && best < 0.5; ++axis) {
        std::vector<double> v(std::size_t(d), 0.0);
        v[std::size_t(axis)] = 1;
        const double r = project(i, v.data());
        if (r > best) {
          best = r;
          std::copy(v.begin(), v.end(), ui);
        }
      }
      ss = best;
    }
    const double inv = 1.0 / std::sqrt(ss);
    for (std::int64_t l = 0; l < d; ++l) ui[l] *= inv;
  }
}

struct ResetScan {
  std::int64_t d, T;
  std::vector<double> am, bm;           // T · d · d mantissas (rows contiguous)
  std::vector<std::int64_t> ae, be;     // T · d exponents
  std::vector<std::uint8_t> flag;       // T
  RowScaled A(std::int64_t t) { return {am.data() + t * d * d, ae.data() + t * d}; }
  RowScaled B(std::int64_t t) { return {bm.data() + t * d * d, be.data() + t * d}; }
};

}  // namespace

template <class T>
void selective_reset(Context& ctx, const detail::SelectiveResetArgs& a) {
  const std::int64_t d = a.d, steps = a.steps;
  const T* jac = static_cast<const T*>(a.jac.data);
  const T* s0 = static_cast<const T*>(a.s0.data);
  const int threads = std::max(1, ctx.num_threads());
  *a.resets = 0;
  auto fail = [&] {
    for (std::int64_t i = 0; i < steps * d; ++i) a.log_r[i] = std::numeric_limits<double>::quiet_NaN();
    *a.info = static_cast<std::int32_t>(MatrixStatus::non_finite);
  };
  bool finite = all_finite(s0, d, d, a.s0.ld);
  for (std::int64_t t = 0; t < steps && finite; ++t)
    finite = all_finite(jac + t * a.jac.stride, d, d, a.jac.ld);
  if (!finite) return fail();

  ResetScan sc{d, steps, std::vector<double>(std::size_t(steps * d * d)),
               std::vector<double>(std::size_t(steps * d * d), 0.0),
               std::vector<std::int64_t>(std::size_t(steps * d), 0),
               std::vector<std::int64_t>(std::size_t(steps * d), 0),
               std::vector<std::uint8_t>(std::size_t(steps), 0)};
  // e_0 = S_0 (its rows are the deviation vectors); e_t = J_{t−1}ᵀ, whose row i is column i of J.
  for (std::int64_t t = 0; t < steps; ++t) {
    RowScaled x = sc.A(t);
    for (std::int64_t i = 0; i < d; ++i)
      for (std::int64_t j = 0; j < d; ++j)
        x.m[i * d + j] = t == 0 ? double(s0[j * a.s0.ld + i])
                                : double(jac[(t - 1) * a.jac.stride + i * a.jac.ld + j]);
    for (std::int64_t i = 0; i < d; ++i) normalize_row(x.m + i * d, d, x.e[i]);
  }

  std::atomic<std::int64_t> resets{0};
  std::vector<std::vector<double>> scratch(std::size_t(threads), std::vector<double>(std::size_t(4 * d * d)));
  std::vector<std::vector<std::int64_t>> escratch(std::size_t(threads), std::vector<std::int64_t>(std::size_t(2 * d)));
  for (std::int64_t n = 1; n < steps; n *= 2) {
    const std::int64_t blocks = (steps + 2 * n - 1) / (2 * n);
    // Reset tests of this level's left operands (one per block), in place.
    for_each_unit(threads, blocks, [&](std::int64_t b, int t) {
      const std::int64_t l = b * 2 * n + n - 1;
      if (l + 1 >= steps || sc.flag[std::size_t(l)]) return;
      double* u = scratch[std::size_t(t)].data();
      RowScaled L = sc.A(l);
      unit_rows(d, L.m, u);
      std::int64_t count = 0;
      for (std::int64_t i = 0; i < d; ++i)
        for (std::int64_t j = i + 1; j < d; ++j) {
          double dot = 0;
          for (std::int64_t q = 0; q < d; ++q) dot += u[i * d + q] * u[j * d + q];
          if (dot > a.max_cos_sim) ++count;
        }
      if (count < a.n_above_max) return;
      gram_schmidt_rows(d, u);
      RowScaled Bl = sc.B(l);
      std::copy(u, u + d * d, Bl.m);
      for (std::int64_t i = 0; i < d; ++i) {
        Bl.e[i] = 0;
        normalize_row(Bl.m + i * d, d, Bl.e[i]);
      }
      std::fill(L.m, L.m + d * d, 0.0);
      std::fill(L.e, L.e + d, 0);
      sc.flag[std::size_t(l)] = 1;
      resets.fetch_add(1, std::memory_order_relaxed);
    });
    // Combines: every right-half element with its block's left operand.
    const std::int64_t rights = steps - n;  // upper bound on the pairs of this level
    for_each_unit(threads, (rights + 63) / 64, [&](std::int64_t g, int t) {
      double* buf = scratch[std::size_t(t)].data();
      std::int64_t* ebuf = escratch[std::size_t(t)].data();
      for (std::int64_t idx = g * 64; idx < std::min(rights, (g + 1) * 64); ++idx) {
        // The idx-th element that lies in a right half at this level.
        const std::int64_t b = idx / n, j = b * 2 * n + n + idx % n;
        if (j >= steps) continue;
        const std::int64_t l = b * 2 * n + n - 1;
        RowScaled nA{buf, ebuf}, nB{buf + d * d, ebuf + d};
        rs_mul(d, sc.A(l), sc.A(j), nA, buf + 2 * d * d);
        rs_mul(d, sc.B(l), sc.A(j), nB, buf + 2 * d * d);
        rs_add(d, nB, sc.B(j));
        RowScaled Aj = sc.A(j), Bj = sc.B(j);
        std::copy(nA.m, nA.m + d * d, Aj.m);
        std::copy(nA.e, nA.e + d, Aj.e);
        std::copy(nB.m, nB.m + d * d, Bj.m);
        std::copy(nB.e, nB.e + d, Bj.e);
        sc.flag[std::size_t(j)] |= sc.flag[std::size_t(l)];
      }
    });
  }
  *a.resets = resets.load();

  // Readout, parallel over t.
  std::atomic<bool> lost{false};
  for_each_unit(threads, (steps + 255) / 256, [&](std::int64_t g, int t) {
    double* x = scratch[std::size_t(t)].data();
    double* w = x + d * d;
    double* r = x + 2 * d * d;
    for (std::int64_t s = g * 256; s < std::min(steps, (g + 1) * 256); ++s) {
      // X_s = A_s + B_s, then its rows normalised (exponents no longer matter).
      std::int64_t* e = escratch[std::size_t(t)].data();
      std::copy(sc.A(s).m, sc.A(s).m + d * d, x);
      std::copy(sc.A(s).e, sc.A(s).e + d, e);
      rs_add(d, RowScaled{x, e}, sc.B(s));
      unit_rows(d, x, x);
      gram_schmidt_rows(d, x);  // row i of x = column i of Q_s
      // W = J_s Q_s (column-major; Q_s column-major is x read as is).
      double* jd = x + 3 * d * d;
      for (std::int64_t j = 0; j < d; ++j)
        for (std::int64_t i = 0; i < d; ++i) jd[j * d + i] = double(jac[s * a.jac.stride + j * a.jac.ld + i]);
      gemm_one<double>(false, false, int(d), int(d), int(d), 1.0, jd, int(d), x, int(d), 0.0, w, int(d));
      if (!mgs2(d, d, w, r)) {
        lost.store(true);
        continue;
      }
      for (std::int64_t i = 0; i < d; ++i) a.log_r[s * d + i] = std::log(r[i]);
    }
  });
  if (lost.load()) return fail();
  *a.info = static_cast<std::int32_t>(MatrixStatus::ok);
}

template void qr_sweep<float>(Context&, const detail::QrSweepArgs&);
template void qr_sweep<double>(Context&, const detail::QrSweepArgs&);
template void selective_reset<float>(Context&, const detail::SelectiveResetArgs&);
template void selective_reset<double>(Context&, const detail::SelectiveResetArgs&);

}  // namespace dynx::cpu
