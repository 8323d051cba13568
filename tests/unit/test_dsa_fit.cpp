// Hankel DMD fit (spec §3) against an independent float64 computation (explicit Hankel matrix,
// Jacobi eigenvectors of HᵀH, whitened regression over within-trial pairs), and the pipeline
// cases of spec §9: conjugate and rescaled data, isometric embeddings, ragged trials, rank rules,
// reduced-rank regression, bad input, all-pairs structure.

#include "common/dsa_data.hpp"
#include "common/reference.hpp"

#include <dynx/dsa.hpp>
#include <dynx/error.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

namespace dynx::test {
namespace {

/// The model of spec §3 computed independently in float64.
struct RefModel {
  std::vector<double> sigma;
  DMat a;
};

RefModel reference_fit(const Data& data, std::int64_t d, std::int64_t tau, std::int64_t r,
                       double lambda, std::int64_t steps) {
  const std::int64_t n = data.n, dim = n * d, span = (d - 1) * tau;
  std::vector<std::vector<double>> rows;
  std::vector<std::int64_t> trial_of;
  for (std::size_t k = 0; k < data.lengths.size(); ++k)
    for (std::int64_t j = 0; j + span < data.lengths[k]; ++j) {
      std::vector<double> h;
      for (std::int64_t b = 0; b < d; ++b)
        for (std::int64_t f = 0; f < n; ++f) h.push_back(data.at(std::int64_t(k), j + (d - 1 - b) * tau, f));
      rows.push_back(h);
      trial_of.push_back(std::int64_t(k));
    }
  const std::int64_t R = std::int64_t(rows.size());
  DMat h(R, dim);
  for (std::int64_t i = 0; i < R; ++i)
    for (std::int64_t c = 0; c < dim; ++c) h(i, c) = rows[std::size_t(i)][std::size_t(c)];
  DMat w;
  auto ev = jacobi_eigh(matmul(transpose(h), h), &w);  // ascending
  RefModel m;
  for (std::int64_t i = dim - 1; i >= 0; --i) m.sigma.push_back(std::sqrt(std::max(0.0, ev[std::size_t(i)])));
  DMat wr(dim, r);
  for (std::int64_t j = 0; j < r; ++j)
    for (std::int64_t i = 0; i < dim; ++i) wr(i, j) = w(i, dim - 1 - j) / m.sigma[std::size_t(j)];
  const DMat v = matmul(h, wr);  // R × r whitened coordinates
  std::vector<std::int64_t> xs;
  for (std::int64_t i = 0; i + steps < R; ++i)
    if (trial_of[std::size_t(i)] == trial_of[std::size_t(i + steps)]) xs.push_back(i);
  DMat x(std::int64_t(xs.size()), r), y(std::int64_t(xs.size()), r);
  for (std::size_t p = 0; p < xs.size(); ++p)
    for (std::int64_t c = 0; c < r; ++c) {
      x(std::int64_t(p), c) = v(xs[p], c);
      y(std::int64_t(p), c) = v(xs[p] + steps, c);
    }
  DMat g = matmul(transpose(x), x);
  for (std::int64_t i = 0; i < r; ++i) g(i, i) += lambda;
  const DMat b = matmul(transpose(x), y);
  // W = G⁻¹ B by Gauss–Jordan
  DMat aug = g, rhs = b;
  for (std::int64_t k = 0; k < r; ++k) {
    std::int64_t p = k;
    for (std::int64_t i = k + 1; i < r; ++i)
      if (std::fabs(aug(i, k)) > std::fabs(aug(p, k))) p = i;
    for (std::int64_t j = 0; j < r; ++j) std::swap(aug(k, j), aug(p, j)), std::swap(rhs(k, j), rhs(p, j));
    const double piv = aug(k, k);
    for (std::int64_t j = 0; j < r; ++j) aug(k, j) /= piv, rhs(k, j) /= piv;
    for (std::int64_t i = 0; i < r; ++i) {
      if (i == k) continue;
      const double f = aug(i, k);
      for (std::int64_t j = 0; j < r; ++j) aug(i, j) -= f * aug(k, j), rhs(i, j) -= f * rhs(k, j);
    }
  }
  m.a = transpose(rhs);
  return m;
}

DMat model_matrix(const DmdModel<double>& m) {
  DMat a(m.rank, m.rank);
  std::copy(m.a.begin(), m.a.end(), a.v.begin());
  return a;
}

/// max |(|A|_ij − |B|_ij)|: entry magnitudes are free of the D A D sign gauge (distinct σ).
double gauge_free_diff(const DMat& a, const DMat& b) {
  double d = 0;
  for (std::size_t e = 0; e < a.v.size(); ++e) d = std::max(d, std::fabs(std::fabs(a.v[e]) - std::fabs(b.v[e])));
  return d;
}

double angular(const DmdModel<double>& x, const DmdModel<double>& y) {
  Context ctx(Device::cpu());
  double ang = 0;
  procrustes_vf_distance<double>(ctx, MatrixBatch<const double>(x.a.data(), x.rank, x.rank, 1),
                                 MatrixBatch<const double>(y.a.data(), y.rank, y.rank, 1),
                                 VectorBatch<double>(&ang, 1, 1), {});
  return ang;
}

TEST(HankelDmd, MatchesIndependentFloat64Fit) {
  Rng rng(1);
  const Data data = simulate_linear(4, {120, 90, 150}, 0.95, 0.1, rng);  // ragged trials
  Context ctx(Device::cpu());
  struct Case { std::int64_t d, tau, r, steps; double lambda; };
  for (const Case c : {Case{1, 1, 4, 1, 1e-8}, Case{3, 2, 6, 1, 1e-8}, Case{4, 1, 10, 2, 0.0},
                       Case{3, 3, 5, 1, 0.3}}) {
    SCOPED_TRACE(testing::Message() << "d=" << c.d << " tau=" << c.tau << " r=" << c.r
                                    << " s=" << c.steps << " lambda=" << c.lambda);
    HankelDmdOptions o;
    o.n_delays = c.d;
    o.delay_interval = c.tau;
    o.rank = c.r;
    o.steps_ahead = c.steps;
    o.lambda = c.lambda;
    const auto m = hankel_dmd_fit<double>(ctx, {data.set()}, o)[0];
    const auto ref = reference_fit(data, c.d, c.tau, c.r, c.lambda, c.steps);
    ASSERT_EQ(m.rank, c.r);
    for (std::size_t i = 0; i < m.singular_values.size(); ++i)
      EXPECT_NEAR(m.singular_values[i], ref.sigma[i], 1e-9 * ref.sigma[0]);  // ~ c·eps·cond
    EXPECT_LE(gauge_free_diff(model_matrix(m), ref.a), 1e-8);
    EXPECT_EQ(m.embedding_dim, 4 * c.d);
  }
}

TEST(HankelDmd, ChunkingAndBatchingDoNotChangeTheFit) {
  Rng rng(2);
  const Data a = simulate_linear(3, {200}, 0.9, 0.1, rng);
  const Data b = simulate_linear(3, {60, 70, 80}, 0.8, 0.1, rng);
  Context ctx(Device::cpu());
  HankelDmdOptions o;
  o.n_delays = 4;
  o.rank = 7;
  const auto both = hankel_dmd_fit<double>(ctx, {a.set(), b.set()}, o);
  o.chunk_rows = 13;  // many chunks, and a partial last chunk
  const auto chunked = hankel_dmd_fit<double>(ctx, {b.set()}, o);
  HankelDmdOptions rank7;
  rank7.n_delays = o.n_delays;
  rank7.rank = 7;
  const auto alone = hankel_dmd_fit<double>(ctx, {a.set()}, rank7);
  EXPECT_LE(gauge_free_diff(model_matrix(both[1]), model_matrix(chunked[0])), 1e-10);
  EXPECT_LE(gauge_free_diff(model_matrix(both[0]), model_matrix(alone[0])), 1e-10);
}

TEST(HankelDmd, ConjugateRescaledAndEmbeddedDataGiveZeroDistance) {
  Rng rng(3);
  const Data x = simulate_linear(4, {400}, 0.95, 0.05, rng);
  const DMat q = random_orthonormal(4, 4, rng);
  const DMat e = random_orthonormal(6, 4, rng);  // isometric embedding 4 → 6
  Data rotated = x, scaled = x, embedded{6, x.lengths, {}};
  for (std::int64_t t = 0; t < 400; ++t) {
    for (std::int64_t i = 0; i < 4; ++i) {
      double s = 0;
      for (std::int64_t j = 0; j < 4; ++j) s += q(i, j) * x.x[std::size_t(t * 4 + j)];
      rotated.x[std::size_t(t * 4 + i)] = s;
      scaled.x[std::size_t(t * 4 + i)] *= 3.0;
    }
    for (std::int64_t i = 0; i < 6; ++i) {
      double s = 0;
      for (std::int64_t j = 0; j < 4; ++j) s += e(i, j) * x.x[std::size_t(t * 4 + j)];
      embedded.x.push_back(s);
    }
  }
  Context ctx(Device::cpu());
  HankelDmdOptions o;
  o.n_delays = 3;
  o.rank = 8;
  const auto m = hankel_dmd_fit<double>(ctx, {x.set(), rotated.set(), scaled.set(), embedded.set()}, o);
  for (int k = 1; k < 4; ++k) {
    SCOPED_TRACE(k);
    for (std::size_t i = 0; i < 8; ++i)  // identical Hankel singular values (up to the ×3)
      EXPECT_NEAR(m[std::size_t(k)].singular_values[i] / (k == 2 ? 3.0 : 1.0), m[0].singular_values[i],
                  1e-9 * m[0].singular_values[0]);
    EXPECT_LE(gauge_free_diff(model_matrix(m[0]), model_matrix(m[std::size_t(k)])), 1e-8);
    EXPECT_LE(angular(m[0], m[std::size_t(k)]), 1e-8);  // spec §9 cases 8–10: exactly 0
  }
}

TEST(HankelDmd, PairsNeverCrossTrialBoundaries) {
  Rng rng(4);
  const Data a = simulate_linear(3, {150}, 0.9, 0.1, rng);
  const Data b = simulate_linear(3, {150}, 0.6, 0.1, rng);  // an unrelated system
  Data two{3, {150, 150}, a.x};
  two.x.insert(two.x.end(), b.x.begin(), b.x.end());
  Data one = two;
  one.lengths = {300};  // the same samples as one trial: the jump at t = 150 is a pair
  Context ctx(Device::cpu());
  HankelDmdOptions o;
  o.n_delays = 2;
  o.rank = 6;
  const auto m = hankel_dmd_fit<double>(ctx, {two.set(), one.set()}, o);
  const auto ref = reference_fit(two, 2, 1, 6, 1e-8, 1);
  EXPECT_LE(gauge_free_diff(model_matrix(m[0]), ref.a), 1e-8);
  EXPECT_GT(gauge_free_diff(model_matrix(m[0]), model_matrix(m[1])), 1e-6);
  EXPECT_EQ(m[0].regression_pairs, 2 * (150 - 1 - 1));
  EXPECT_EQ(m[1].regression_pairs, 300 - 1 - 1);
}

TEST(HankelDmd, RankRules) {
  Rng rng(5);
  const Data x = simulate_linear(4, {300}, 0.95, 0.05, rng);
  Context ctx(Device::cpu());
  HankelDmdOptions o;
  o.n_delays = 3;  // D = 12
  const auto full = hankel_dmd_fit<double>(ctx, {x.set()}, o)[0];
  EXPECT_EQ(full.rank, 12);  // no rule: every usable singular value
  const auto& s = full.singular_values;
  o.rank_thresh = 0.5 * (s[4] + s[5]);
  EXPECT_EQ(hankel_dmd_fit<double>(ctx, {x.set()}, o)[0].rank, 5);
  o.rank_thresh.reset();
  double total = 0, cum = 0;
  for (double v : s) total += v * v;
  std::int64_t expect = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    cum += s[i] * s[i];
    if (cum / total >= 0.9) {
      expect = std::int64_t(i) + 1;
      break;
    }
  }
  o.rank_explained_variance = 0.9;
  EXPECT_EQ(hankel_dmd_fit<double>(ctx, {x.set()}, o)[0].rank, expect);
  o.rank_explained_variance.reset();
  o.optimal_rank = true;
  const auto opt = hankel_dmd_fit<double>(ctx, {x.set()}, o)[0];
  EXPECT_GE(opt.rank, 1);
  EXPECT_LE(opt.rank, 12);
  o.optimal_rank = false;
  o.rank = 50;  // more than D = 12: capped with a warning
  const auto capped = hankel_dmd_fit<double>(ctx, {x.set()}, o)[0];
  EXPECT_EQ(capped.rank, 12);
  o.rank_thresh = 1.0;  // two rules
  EXPECT_THROW(hankel_dmd_fit<double>(ctx, {x.set()}, o), InvalidArgument);
  // short 2-D data: R = 5 rows < D = 12 → k = 5, rank 8 capped at 5 with a warning
  HankelDmdOptions shortopt;
  shortopt.n_delays = 3;
  shortopt.rank = 8;
  Data shortx{4, {7}, std::vector<double>(x.x.begin(), x.x.begin() + 28)};
  const auto sm = hankel_dmd_fit<double>(ctx, {shortx.set()}, shortopt)[0];
  EXPECT_EQ(sm.rank, 5);
  EXPECT_FALSE(sm.warnings.empty());
}

TEST(HankelDmd, ReducedRankRegression) {
  Rng rng(6);
  const Data x = simulate_linear(4, {300}, 0.95, 0.05, rng);
  Context ctx(Device::cpu());
  HankelDmdOptions o;
  o.n_delays = 2;
  o.reduced_rank = true;
  o.rank = 3;
  const auto m = hankel_dmd_fit<double>(ctx, {x.set()}, o)[0];
  EXPECT_EQ(m.rank, 8);  // k × k
  // rank ≤ 3: at least 5 singular values of A vanish
  const auto sv = gram_singular_values(model_matrix(m));
  EXPECT_LE(sv[3], 1e-7 * sv[0]);  // Gram-based reference σ: accurate to ~sqrt(eps)·σ_1
  // with r = k, RRR is ordinary least squares on all columns = PCR at full rank
  o.rank = 8;
  const auto rrr_full = hankel_dmd_fit<double>(ctx, {x.set()}, o)[0];
  HankelDmdOptions p;
  p.n_delays = 2;
  p.rank = 8;
  const auto pcr = hankel_dmd_fit<double>(ctx, {x.set()}, p)[0];
  EXPECT_LE(gauge_free_diff(model_matrix(rrr_full), model_matrix(pcr)), 1e-9);
}

TEST(HankelDmd, Float32AgreesWithFloat64) {
  Rng rng(7);
  const Data x = simulate_linear(4, {300}, 0.95, 0.1, rng);
  std::vector<float> xf(x.x.begin(), x.x.end());
  Context ctx(Device::cpu());
  HankelDmdOptions o;
  o.n_delays = 2;
  o.rank = 6;
  const auto m64 = hankel_dmd_fit<double>(ctx, {x.set()}, o)[0];
  const auto m32 = hankel_dmd_fit<float>(ctx, {TrialSet<float>::single(xf.data(), 300, 4)}, o)[0];
  for (std::size_t i = 0; i < 6; ++i)
    EXPECT_NEAR(m32.singular_values[i], m64.singular_values[i], 1e-5 * m64.singular_values[0]);
  double d = 0;
  for (std::size_t e = 0; e < m64.a.size(); ++e)
    d = std::max(d, std::fabs(std::fabs(double(m32.a[e])) - std::fabs(m64.a[e])));
  EXPECT_LE(d, 1e-4);  // float32 rounding amplified by the conditioning of the whitening
}

TEST(HankelDmd, RejectsBadInput) {
  Context ctx(Device::cpu());
  Rng rng(8);
  Data x = simulate_linear(3, {50, 40}, 0.9, 0.1, rng);
  HankelDmdOptions o;
  o.n_delays = 5;
  x.x[std::size_t((50 + 5) * 3 + 1)] = std::nan("");
  try {
    hankel_dmd_fit<double>(ctx, {x.set()}, o);
    FAIL() << "NaN accepted";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("trial 1, time step 5, feature 1"), std::string::npos)
        << e.what();
  }
  x.x[std::size_t((50 + 5) * 3 + 1)] = 0;
  o.n_delays = 30;
  o.delay_interval = 2;  // needs 59 steps
  EXPECT_THROW(hankel_dmd_fit<double>(ctx, {x.set()}, o), InvalidArgument);
  std::vector<double> zeros(300, 0.0);
  EXPECT_THROW(hankel_dmd_fit<double>(ctx, {TrialSet<double>::single(zeros.data(), 100, 3)}, HankelDmdOptions{}),
               InvalidArgument);
  EXPECT_THROW(hankel_dmd_fit<double>(ctx, {TrialSet<double>{x.x.data(), 3, {}, Device::cpu()}}, HankelDmdOptions{}),
               InvalidArgument);
  HankelDmdOptions neg;
  neg.lambda = -1;
  EXPECT_THROW(hankel_dmd_fit<double>(ctx, {x.set()}, neg), InvalidArgument);
}

TEST(DsaPairwise, IsSymmetricWithZeroDiagonalAndSeparatesSystems) {
  Rng rng(9);
  // two systems × two independent noise realisations + a rotated copy
  Rng r1(100), r2(100), r3(200), r4(200);
  const Data a1 = simulate_linear(3, {300}, 0.95, 0.05, r1);
  Rng r1b(100);
  Data a2 = simulate_linear(3, {300}, 0.95, 0.05, r1b);  // same system, new noise below
  {
    Rng rr(101);
    std::normal_distribution<double> g;
    for (auto& v : a2.x) v += 0.01 * g(rr);
  }
  const Data b1 = simulate_linear(3, {300}, 0.7, 0.05, r3);
  Context ctx(Device::cpu());
  DsaOptions o;
  o.fit.n_delays = 2;
  o.fit.rank = 5;
  const auto res = dsa_pairwise<double>(ctx, {a1.set(), a2.set(), b1.set()}, o);
  ASSERT_EQ(res.rows, 3);
  for (std::int64_t i = 0; i < 3; ++i) {
    EXPECT_EQ(res.distance[std::size_t(i * 3 + i)], 0.0);
    for (std::int64_t j = 0; j < 3; ++j)
      EXPECT_EQ(res.distance[std::size_t(i * 3 + j)], res.distance[std::size_t(j * 3 + i)]);
  }
  EXPECT_LT(res.distance[1], res.distance[2]);  // same system closer than a different one
  EXPECT_LT(res.distance[1], res.distance[5]);
  // Wasserstein and euclidean variants run through the same entry point
  o.score = DsaScore::euclidean;
  const auto eu = dsa_pairwise<double>(ctx, {a1.set(), a2.set(), b1.set()}, o);
  for (std::size_t k = 0; k < 9; ++k)
    EXPECT_NEAR(eu.distance[k], 2 * std::sin(res.distance[k] / 2), 1e-9);
  o.score = DsaScore::wasserstein;
  const auto w = dsa_pairwise<double>(ctx, {a1.set(), a2.set(), b1.set()}, o);
  EXPECT_LT(w.distance[1], w.distance[2]);
}

}  // namespace
}  // namespace dynx::test
