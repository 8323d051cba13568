// SubspaceDMDc (spec §7.2): exact identification of noise-free LTI systems (Markov parameters
// C Aᵏ B and the spectrum of A are invariant to the state basis), agreement with an independent
// float64 computation of the oblique projection through an explicit projector, trials, chunking,
// batching, float32, and bad input.

#include "common/reference.hpp"

#include <dynx/dsa.hpp>
#include <dynx/error.hpp>
#include <dynx/linalg.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

namespace dynx::test {
namespace {

/// A driven linear system x' = A x + B u + w, y = C x + v and its recordings.
struct Lti {
  DMat a, b, c;
};

Lti random_lti(std::int64_t n, std::int64_t m, std::int64_t p, double radius, Rng& rng) {
  DMat q = random_orthonormal(n, n, rng), d(n, n);
  for (std::int64_t i = 0; i + 1 < n; i += 2) {
    const double th = 0.4 + 0.9 * double(i) / double(n), r = radius * (1.0 - 0.1 * double(i) / double(n));
    d(i, i) = r * std::cos(th), d(i, i + 1) = -r * std::sin(th);
    d(i + 1, i) = r * std::sin(th), d(i + 1, i + 1) = r * std::cos(th);
  }
  if (n % 2) d(n - 1, n - 1) = 0.6 * radius;
  return {matmul(matmul(q, d), transpose(q)), random_gaussian(n, m, rng), random_gaussian(p, n, rng)};
}

struct Recording {
  std::vector<std::int64_t> lengths;
  std::vector<double> y, u;  // (time, feature) row-major, trials back to back
  std::int64_t py = 0, m = 0;
  TrialSet<double> ys() const { return {y.data(), py, lengths, Device::cpu()}; }
  TrialSet<double> us() const { return {u.data(), m, lengths, Device::cpu()}; }
};

Recording simulate(const Lti& s, const std::vector<std::int64_t>& lengths, double process_noise,
                   double obs_noise, Rng& rng) {
  const std::int64_t n = s.a.rows, m = s.b.cols, py = s.c.rows;
  std::normal_distribution<double> g;
  Recording r{lengths, {}, {}, py, m};
  for (const std::int64_t len : lengths) {
    DMat x(n, 1);
    for (std::int64_t i = 0; i < n; ++i) x(i, 0) = g(rng);
    for (std::int64_t t = 0; t < len; ++t) {
      DMat u(m, 1);
      for (std::int64_t i = 0; i < m; ++i) u(i, 0) = g(rng);
      const DMat y = matmul(s.c, x);
      for (std::int64_t i = 0; i < py; ++i) r.y.push_back(y(i, 0) + obs_noise * g(rng));
      for (std::int64_t i = 0; i < m; ++i) r.u.push_back(u(i, 0));
      DMat next = matmul(s.a, x);
      const DMat bu = matmul(s.b, u);
      for (std::int64_t i = 0; i < n; ++i) next(i, 0) += bu(i, 0) + process_noise * g(rng);
      x = next;
    }
  }
  return r;
}

template <class T>
DMat as_dmat(const std::vector<T>& v, std::int64_t rows, std::int64_t cols) {
  DMat out(rows, cols);
  for (std::size_t e = 0; e < v.size(); ++e) out.v[e] = double(v[e]);
  return out;
}

/// C Aᵏ B for k = 0..K−1, stacked (basis-free).
std::vector<DMat> markov(const DMat& a, const DMat& b, const DMat& c, int k_max) {
  std::vector<DMat> out;
  DMat ak = identity(a.rows);
  for (int k = 0; k < k_max; ++k) {
    out.push_back(matmul(matmul(c, ak), b));
    ak = matmul(a, ak);
  }
  return out;
}
template <class T>
std::vector<DMat> markov(const ControlModel<T>& md, int k_max) {
  return markov(as_dmat(md.a, md.rank, md.rank), as_dmat(md.b, md.rank, md.inputs),
                as_dmat(md.c, md.outputs, md.rank), k_max);
}

double markov_error(const std::vector<DMat>& x, const std::vector<DMat>& y) {
  double num = 0, den = 0;
  for (std::size_t k = 0; k < x.size(); ++k) {
    num += std::pow(frobenius(subtract(x[k], y[k])), 2);
    den += std::pow(frobenius(y[k]), 2);
  }
  return std::sqrt(num / den);
}

std::vector<cdouble> eigenvalues(const DMat& a) {
  Context cpu(Device::cpu());
  const std::int64_t n = a.rows;
  std::vector<cdouble> w(static_cast<std::size_t>(n));
  eig_batched<double>(cpu, MatrixBatch<const double>(a.v.data(), n, n, 1),
                      VectorBatch<cdouble>(w.data(), n, 1), MatrixBatch<cdouble>());
  return w;
}

TEST(SubspaceDmdc, IdentifiesNoiseFreeSystemsExactly) {
  // 4 states, 2 inputs, 3 outputs (fewer outputs than states: the past window observes them).
  Rng rng(11);
  const Lti sys = random_lti(4, 2, 3, 0.9, rng);
  const Recording rec = simulate(sys, {300, 250, 280}, 0.0, 0.0, rng);
  Context ctx(Device::cpu());
  SubspaceDmdcOptions o;
  o.n_delays = 3;
  o.rank = 4;
  o.lambda = 0;
  const auto md = subspace_dmdc_fit<double>(ctx, {rec.ys()}, {rec.us()}, o)[0];
  ASSERT_EQ(md.rank, 4);
  EXPECT_EQ(md.trials_used, 3);
  EXPECT_EQ(md.columns, (300 - 6) + (250 - 6) + (280 - 6));
  EXPECT_EQ(md.regression_pairs, md.columns - 3);
  // The oblique projection has exactly n nonzero singular values.
  ASSERT_EQ(md.singular_values.size(), 9u);  // min(f·p_out, f·m + p·(m + p_out)) = min(9, 21)
  EXPECT_LT(md.singular_values[4], 1e-9 * md.singular_values[0]);
  // Markov parameters C Aᵏ B and the spectrum of A, to rounding.
  EXPECT_LT(markov_error(markov(md, 8), markov(sys.a, sys.b, sys.c, 8)), 1e-9);
  EXPECT_LT(max_matching_distance(eigenvalues(as_dmat(md.a, 4, 4)), eigenvalues(sys.a)), 1e-9);
  // The energy rule finds the order by itself.
  o.rank.reset();
  const auto auto_rank = subspace_dmdc_fit<double>(ctx, {rec.ys()}, {rec.us()}, o)[0];
  EXPECT_GE(auto_rank.rank, 1);
  EXPECT_LE(auto_rank.rank, 4);
}

/// The oblique projection O = (Y_f Π⊥)(Z_p Π⊥)⁺ Z_p through an explicit T_tot × T_tot projector
/// onto the complement of the future inputs (no LQ), the states S_n^-½ U_nᵀ O from O's
/// eigen-decomposition by Jacobi, and the ridge regression, all in float64.
struct Direct {
  std::vector<double> sigma;
  DMat a, b, c;
};

Direct direct_fit(const Recording& r, std::int64_t d, std::int64_t n, double lambda) {
  const std::int64_t m = r.m, py = r.py;
  std::vector<std::vector<double>> cu, cz, cy;  // columns of U_f, Z_p, Y_f
  std::vector<std::vector<double>> uid;         // u_{j+p} per column
  std::vector<std::int64_t> trial_of;
  std::int64_t t0 = 0, trial = 0;
  for (const std::int64_t len : r.lengths) {
    for (std::int64_t j = 0; j + 2 * d < len; ++j) {
      std::vector<double> uf, zp, yf;
      for (std::int64_t l = 0; l < d; ++l)
        for (std::int64_t i = 0; i < m; ++i) uf.push_back(r.u[std::size_t((t0 + j + d + l) * m + i)]);
      for (std::int64_t l = 0; l < d; ++l)
        for (std::int64_t i = 0; i < m; ++i) zp.push_back(r.u[std::size_t((t0 + j + l) * m + i)]);
      for (std::int64_t l = 0; l < d; ++l)
        for (std::int64_t i = 0; i < py; ++i) zp.push_back(r.y[std::size_t((t0 + j + l) * py + i)]);
      for (std::int64_t l = 0; l < d; ++l)
        for (std::int64_t i = 0; i < py; ++i) yf.push_back(r.y[std::size_t((t0 + j + d + l) * py + i)]);
      std::vector<double> um;
      for (std::int64_t i = 0; i < m; ++i) um.push_back(r.u[std::size_t((t0 + j + d) * m + i)]);
      cu.push_back(uf), cz.push_back(zp), cy.push_back(yf), uid.push_back(um), trial_of.push_back(trial);
    }
    t0 += len;
    ++trial;
  }
  const std::int64_t tt = std::int64_t(cu.size());
  auto to_mat = [&](const std::vector<std::vector<double>>& cols) {
    DMat x(std::int64_t(cols[0].size()), tt);
    for (std::int64_t j = 0; j < tt; ++j)
      for (std::int64_t i = 0; i < x.rows; ++i) x(i, j) = cols[std::size_t(j)][std::size_t(i)];
    return x;
  };
  const DMat uf = to_mat(cu), zp = to_mat(cz), yf = to_mat(cy);
  auto inv_spd = [](const DMat& g) {  // inverse of a symmetric positive definite matrix by Jacobi
    DMat v;
    const auto w = jacobi_eigh(g, &v);
    DMat d(g.rows, g.rows);
    for (std::int64_t i = 0; i < g.rows; ++i) d(i, i) = 1.0 / w[std::size_t(i)];
    return matmul(matmul(v, d), transpose(v));
  };
  // Π⊥ = I − U_fᵀ (U_f U_fᵀ)⁻¹ U_f
  const DMat pu = subtract(identity(tt), matmul(matmul(transpose(uf), inv_spd(matmul(uf, transpose(uf)))), uf));
  const DMat ypp = matmul(yf, pu), zpp = matmul(zp, pu);
  // (Z_p Π⊥)⁺ = (Z_p Π⊥)ᵀ ((Z_p Π⊥)(Z_p Π⊥)ᵀ)⁻¹ (full row rank)
  const DMat o = matmul(matmul(matmul(ypp, transpose(zpp)), inv_spd(matmul(zpp, transpose(zpp)))), zp);
  DMat ua;
  const auto w = jacobi_eigh(matmul(o, transpose(o)), &ua);  // O Oᵀ = U S² Uᵀ, ascending
  Direct out;
  DMat uo(ua.rows, ua.cols);  // descending
  for (std::int64_t j = 0; j < ua.cols; ++j) {
    const std::int64_t src = ua.cols - 1 - j;
    out.sigma.push_back(std::sqrt(std::max(w[std::size_t(src)], 0.0)));
    for (std::int64_t i = 0; i < ua.rows; ++i) uo(i, j) = ua(i, src);
  }
  // X̂ = S_n^-½ U_nᵀ O,  C = U_n S_n^½ (first py rows)
  DMat xh(n, tt), c(py, n);
  const DMat uto = matmul(transpose(first_columns(uo, n)), o);
  for (std::int64_t i = 0; i < n; ++i) {
    for (std::int64_t j = 0; j < tt; ++j) xh(i, j) = uto(i, j) / std::sqrt(out.sigma[std::size_t(i)]);
    for (std::int64_t k = 0; k < py; ++k) c(k, i) = uo(k, i) * std::sqrt(out.sigma[std::size_t(i)]);
  }
  // Ridge regression over pairs within trials.
  DMat g(n + m, n + m), pcross(n + m, n);
  for (std::int64_t j = 0; j + 1 < tt; ++j) {
    if (trial_of[std::size_t(j)] != trial_of[std::size_t(j + 1)]) continue;
    std::vector<double> z;
    for (std::int64_t i = 0; i < n; ++i) z.push_back(xh(i, j));
    for (double v : uid[std::size_t(j)]) z.push_back(v);
    for (std::int64_t a = 0; a < n + m; ++a) {
      for (std::int64_t b = 0; b < n + m; ++b) g(a, b) += z[std::size_t(a)] * z[std::size_t(b)];
      for (std::int64_t b = 0; b < n; ++b) pcross(a, b) += z[std::size_t(a)] * xh(b, j + 1);
    }
  }
  for (std::int64_t i = 0; i < n + m; ++i) g(i, i) += lambda;
  const DMat wmat = matmul(inv_spd(g), pcross);  // (n+m) × n
  out.a = DMat(n, n), out.b = DMat(n, m), out.c = c;
  for (std::int64_t i = 0; i < n; ++i) {
    for (std::int64_t j = 0; j < n; ++j) out.a(i, j) = wmat(j, i);
    for (std::int64_t j = 0; j < m; ++j) out.b(i, j) = wmat(n + j, i);
  }
  return out;
}

TEST(SubspaceDmdc, MatchesAnIndependentProjectorComputation) {
  // Noisy, partially observed (2 outputs of 6 states): every quantity is full rank.
  Rng rng(5);
  const Lti sys = random_lti(6, 1, 2, 0.85, rng);
  const Recording rec = simulate(sys, {160, 120}, 0.05, 0.05, rng);
  Context ctx(Device::cpu());
  SubspaceDmdcOptions o;
  o.n_delays = 4;
  o.rank = 5;
  o.lambda = 1e-6;
  const auto md = subspace_dmdc_fit<double>(ctx, {rec.ys()}, {rec.us()}, o)[0];
  const Direct ref = direct_fit(rec, 4, 5, 1e-6);
  ASSERT_EQ(md.singular_values.size(), 8u);  // min(f·p_out, …) = 8
  for (std::size_t i = 0; i < 8; ++i)
    EXPECT_NEAR(md.singular_values[i], ref.sigma[i], 1e-9 * ref.sigma[0]) << i;
  // Basis-free: Markov parameters and eigenvalues (the two bases differ by column signs).
  EXPECT_LT(markov_error(markov(md, 6), markov(ref.a, ref.b, ref.c, 6)), 1e-8);
  EXPECT_LT(max_matching_distance(eigenvalues(as_dmat(md.a, 5, 5)), eigenvalues(ref.a)), 1e-8);
  // Same basis up to signs: |entries| agree.
  for (std::int64_t j = 0; j < 5; ++j)
    for (std::int64_t i = 0; i < 5; ++i)
      EXPECT_NEAR(std::abs(md.a[std::size_t(j * 5 + i)]), std::abs(ref.a(i, j)), 1e-8);
}

TEST(SubspaceDmdc, ShortTrialsAreSkippedChunksAndBatchesDoNotMatter) {
  Rng rng(3);
  const Lti s1 = random_lti(4, 2, 3, 0.9, rng), s2 = random_lti(4, 2, 3, 0.7, rng);
  const Recording r1 = simulate(s1, {200, 150}, 0.02, 0.02, rng);
  Recording r1short = r1;  // the same plus a trial of 6 = 2·n_delays samples (no column)
  Rng rng2(8);
  const Recording extra = simulate(s1, {6}, 0.02, 0.02, rng2);
  r1short.lengths.push_back(6);
  r1short.y.insert(r1short.y.end(), extra.y.begin(), extra.y.end());
  r1short.u.insert(r1short.u.end(), extra.u.begin(), extra.u.end());
  const Recording r2 = simulate(s2, {90, 130, 70}, 0.02, 0.02, rng);
  Context ctx(Device::cpu());
  SubspaceDmdcOptions o;
  o.n_delays = 3;
  o.rank = 4;
  const auto alone = subspace_dmdc_fit<double>(ctx, {r1.ys()}, {r1.us()}, o)[0];
  const auto with_short = subspace_dmdc_fit<double>(ctx, {r1short.ys()}, {r1short.us()}, o)[0];
  EXPECT_EQ(with_short.trials_used, 2);
  EXPECT_EQ(with_short.trials_total, 3);
  ASSERT_EQ(with_short.warnings.size(), 1u);
  EXPECT_NE(with_short.warnings[0].find("skipped"), std::string::npos);
  EXPECT_LT(markov_error(markov(with_short, 6), markov(alone, 6)), 1e-10);
  // Chunks of 7 columns, and two systems of different lengths in one batched call.
  SubspaceDmdcOptions small = o;
  small.chunk_rows = 7;
  const auto both = subspace_dmdc_fit<double>(ctx, {r1.ys(), r2.ys()}, {r1.us(), r2.us()}, small);
  const auto second = subspace_dmdc_fit<double>(ctx, {r2.ys()}, {r2.us()}, o)[0];
  EXPECT_LT(markov_error(markov(both[0], 6), markov(alone, 6)), 1e-10);
  EXPECT_LT(markov_error(markov(both[1], 6), markov(second, 6)), 1e-10);
  for (std::size_t i = 0; i < alone.singular_values.size(); ++i)
    EXPECT_NEAR(both[0].singular_values[i], alone.singular_values[i], 1e-10 * alone.singular_values[0]);
  // The fit recovers the system: small noise, small error.
  EXPECT_LT(markov_error(markov(alone, 6), markov(s1.a, s1.b, s1.c, 6)), 0.05);
}

TEST(SubspaceDmdc, Float32AgreesWithFloat64) {
  Rng rng(21);
  const Lti sys = random_lti(4, 1, 2, 0.8, rng);
  const Recording rec = simulate(sys, {400}, 0.02, 0.02, rng);
  std::vector<float> yf(rec.y.begin(), rec.y.end()), uf(rec.u.begin(), rec.u.end());
  Context ctx(Device::cpu());
  SubspaceDmdcOptions o;
  o.n_delays = 4;
  o.rank = 4;
  const auto m64 = subspace_dmdc_fit<double>(ctx, {rec.ys()}, {rec.us()}, o)[0];
  const auto m32 = subspace_dmdc_fit<float>(
      ctx, {TrialSet<float>{yf.data(), 2, rec.lengths, Device::cpu()}},
      {TrialSet<float>{uf.data(), 1, rec.lengths, Device::cpu()}}, o)[0];
  EXPECT_LT(markov_error(markov(m32, 6), markov(m64, 6)), 1e-3);
}

TEST(SubspaceDmdc, RejectsBadInput) {
  Rng rng(2);
  const Lti sys = random_lti(4, 2, 3, 0.9, rng);
  Recording rec = simulate(sys, {100}, 0.01, 0.01, rng);
  Context ctx(Device::cpu());
  SubspaceDmdcOptions o;
  o.n_delays = 2;
  auto fails_with = [&](const std::vector<TrialSet<double>>& y, const std::vector<TrialSet<double>>& u,
                        const SubspaceDmdcOptions& opt, const std::string& what) {
    try {
      subspace_dmdc_fit<double>(ctx, y, u, opt);
      ADD_FAILURE() << "no error; expected one mentioning '" << what << "'";
    } catch (const InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    }
  };
  fails_with({rec.ys()}, {}, o, "0 input sets for 1 systems");
  TrialSet<double> u_short = rec.us();
  u_short.lengths = {99};
  fails_with({rec.ys()}, {u_short}, o, "99 time steps of inputs for 100 of outputs");
  SubspaceDmdcOptions big = o;
  big.rank = 7;  // n_delays · outputs = 6
  fails_with({rec.ys()}, {rec.us()}, big, "rank 7 is larger than n_delays · outputs = 6");
  SubspaceDmdcOptions long_window = o;
  long_window.n_delays = 50;
  fails_with({rec.ys()}, {rec.us()}, long_window, "no trial has more than 2 · n_delays = 100");
  SubspaceDmdcOptions bad = o;
  bad.energy = 0;
  fails_with({rec.ys()}, {rec.us()}, bad, "energy must be in (0, 1]");
  rec.u[17] = std::nan("");
  fails_with({rec.ys()}, {rec.us()}, o, "system 0 (inputs): non-finite value nan at trial 0, time step 8");
}

}  // namespace
}  // namespace dynx::test
