// Geometric baselines (Procrustes shape distance after PCA, linear CKA) against an independent
// float64 computation (Jacobi eigenvectors for the PCA, Gram singular values for the nuclear
// norm, explicit Frobenius sums for CKA), their invariances, bad input, and the built-in example
// systems: deterministic, and showing the contrast `dynx compare` is meant to show.

#include "common/reference.hpp"

#include <dynx/dsa.hpp>
#include <dynx/error.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

namespace dynx::test {
namespace {

/// A (T, N) row-major copy of a T × N matrix, as TrialSet data.
std::vector<double> row_major(const DMat& x) {
  std::vector<double> out(std::size_t(x.rows * x.cols));
  for (std::int64_t t = 0; t < x.rows; ++t)
    for (std::int64_t f = 0; f < x.cols; ++f) out[std::size_t(t * x.cols + f)] = x(t, f);
  return out;
}

DMat centred(DMat x) {
  for (std::int64_t f = 0; f < x.cols; ++f) {
    double m = 0;
    for (std::int64_t t = 0; t < x.rows; ++t) m += x(t, f);
    m /= double(x.rows);
    for (std::int64_t t = 0; t < x.rows; ++t) x(t, f) -= m;
  }
  return x;
}

/// Scores on the top-p principal axes of the centred data.
DMat pca_scores(const DMat& x, std::int64_t p) {
  const DMat xc = centred(x);
  DMat v(x.cols, x.cols);
  std::vector<double> w = jacobi_eigh(matmul(transpose(xc), xc), &v);
  std::vector<std::int64_t> order(w.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](auto a, auto b) { return w[std::size_t(a)] > w[std::size_t(b)]; });
  DMat vp(x.cols, p);
  for (std::int64_t c = 0; c < p; ++c)
    for (std::int64_t r = 0; r < x.cols; ++r) vp(r, c) = v(r, order[std::size_t(c)]);
  return matmul(xc, vp);
}

double procrustes_reference(const DMat& x, const DMat& y, std::int64_t p) {
  const DMat zx = pca_scores(x, p), zy = pca_scores(y, p);
  const auto s = gram_singular_values(matmul(transpose(zx), zy));
  const double nuc = std::accumulate(s.begin(), s.end(), 0.0);
  return std::acos(std::min(1.0, nuc / (frobenius(zx) * frobenius(zy))));
}

double cka_distance_reference(const DMat& x, const DMat& y) {
  const DMat xc = centred(x), yc = centred(y);
  const double xy = frobenius(matmul(transpose(xc), yc));
  return 1.0 - xy * xy /
                   (frobenius(matmul(transpose(xc), xc)) * frobenius(matmul(transpose(yc), yc)));
}

/// Correlated data: a shared latent signal mixed into n features, plus independent noise.
DMat mixed_data(const DMat& latent, std::int64_t n, double noise, Rng& rng) {
  DMat y = matmul(latent, random_gaussian(latent.cols, n, rng));
  const DMat e = random_gaussian(latent.rows, n, rng);
  for (std::int64_t t = 0; t < y.rows; ++t)
    for (std::int64_t f = 0; f < n; ++f) y(t, f) += noise * e(t, f) + 0.3 * double(f);
  return y;
}

struct Systems {
  std::vector<DMat> mats;
  std::vector<std::vector<double>> store;
  std::vector<TrialSet<double>> sets;
  explicit Systems(std::vector<DMat> m) : mats(std::move(m)) {
    for (const auto& x : mats) store.push_back(row_major(x));
    for (std::size_t i = 0; i < mats.size(); ++i)
      sets.push_back(TrialSet<double>::single(store[i].data(), mats[i].rows, mats[i].cols));
  }
};

TEST(DsaGeometry, MatchesIndependentFloat64) {
  Rng rng(7);
  const DMat latent = random_gaussian(240, 3, rng);
  Systems s({mixed_data(latent, 3, 0.3, rng), mixed_data(latent, 5, 0.5, rng),
             mixed_data(latent, 5, 1.0, rng), mixed_data(random_gaussian(240, 3, rng), 4, 0.3, rng)});
  Context ctx(Device::cpu());
  const std::int64_t n = std::int64_t(s.mats.size());
  for (std::int64_t pca : {0, 2}) {
    GeometryOptions o;
    o.pca_dim = pca;
    const DsaResult r = geometry_pairwise(ctx, s.sets, o);
    ASSERT_EQ(r.rows, n);
    EXPECT_TRUE(r.symmetric);
    for (std::int64_t i = 0; i < n; ++i)
      for (std::int64_t j = 0; j < n; ++j) {
        const std::int64_t p =
            pca > 0 ? pca : std::min(s.mats[std::size_t(i)].cols, s.mats[std::size_t(j)].cols);
        const double want = i == j ? 0.0 : procrustes_reference(s.mats[std::size_t(i)], s.mats[std::size_t(j)], p);
        // Distances here are 0.2–1.4 rad, where arccos is well conditioned: agreement to 1e-9
        // (the two computations differ only in rounding of O(T·N²) sums).
        EXPECT_NEAR(r.distance[std::size_t(i * n + j)], want, 1e-9) << i << "," << j << " pca " << pca;
      }
  }
  GeometryOptions o;
  o.metric = GeometryMetric::cka;
  const DsaResult r = geometry_pairwise(ctx, s.sets, o);
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = 0; j < n; ++j) {
      const double want = i == j ? 0.0 : cka_distance_reference(s.mats[std::size_t(i)], s.mats[std::size_t(j)]);
      EXPECT_NEAR(r.distance[std::size_t(i * n + j)], want, 1e-12) << i << "," << j;  // ratio of sums
    }
  // Cross mode gives the same numbers as the all-pairs matrix.
  const std::vector<TrialSet<double>> xs(s.sets.begin(), s.sets.begin() + 2),
      ys(s.sets.begin() + 1, s.sets.end());
  const DsaResult c = geometry_cross(ctx, xs, ys, o);
  ASSERT_EQ(c.rows, 2);
  ASSERT_EQ(c.cols, n - 1);
  EXPECT_FALSE(c.symmetric);
  for (std::int64_t i = 0; i < 2; ++i)
    for (std::int64_t j = 0; j < n - 1; ++j)
      EXPECT_NEAR(c.distance[std::size_t(i * (n - 1) + j)], r.distance[std::size_t(i * n + j + 1)], 1e-12);
}

TEST(DsaGeometry, InvariantToRotationScaleShiftAndIsometricEmbedding) {
  Rng rng(11);
  const DMat x = mixed_data(random_gaussian(300, 4, rng), 4, 0.2, rng);
  DMat y = matmul(x, random_orthonormal(4, 4, rng));  // rotated
  for (auto& v : y.v) v = 3.0 * v + 1.5;            // scaled and shifted
  const DMat z = matmul(x, transpose(random_orthonormal(6, 4, rng)));  // 4 → 6 features
  Systems s({x, y, z});
  Context ctx(Device::cpu());
  for (auto metric : {GeometryMetric::procrustes, GeometryMetric::cka}) {
    GeometryOptions o;
    o.metric = metric;
    const DsaResult r = geometry_pairwise(ctx, s.sets, o);
    // Exact invariances: Procrustes' arccos(1 − δ) ≈ √(2δ) turns rounding δ ~ 1e-15 into ~1e-7;
    // 1 − CKA is a plain difference of the ratio from 1.
    const double tol = metric == GeometryMetric::cka ? 1e-12 : 2e-6;
    for (double v : r.distance) EXPECT_LT(v, tol);
  }
}

TEST(DsaGeometry, Float32AgreesWithFloat64) {
  Rng rng(3);
  const DMat latent = random_gaussian(200, 2, rng);
  Systems s({mixed_data(latent, 4, 0.4, rng), mixed_data(latent, 4, 0.8, rng),
             mixed_data(random_gaussian(200, 2, rng), 3, 0.4, rng)});
  std::vector<std::vector<float>> f;
  std::vector<TrialSet<float>> sets;
  for (std::size_t i = 0; i < s.store.size(); ++i) f.emplace_back(s.store[i].begin(), s.store[i].end());
  for (std::size_t i = 0; i < f.size(); ++i)
    sets.push_back(TrialSet<float>::single(f[i].data(), s.mats[i].rows, s.mats[i].cols));
  Context ctx(Device::cpu());
  for (auto metric : {GeometryMetric::procrustes, GeometryMetric::cka}) {
    GeometryOptions o;
    o.metric = metric;
    const DsaResult a = geometry_pairwise(ctx, s.sets, o), b = geometry_pairwise(ctx, sets, o);
    // float32 sums over T = 200 time steps: relative rounding ~1e-6, distances O(1).
    for (std::size_t k = 0; k < a.distance.size(); ++k) EXPECT_NEAR(a.distance[k], b.distance[k], 1e-4);
  }
}

TEST(DsaGeometry, BadInputNamesTheSystemAndReason) {
  Rng rng(5);
  Context ctx(Device::cpu());
  auto throws_with = [&](const std::vector<TrialSet<double>>& sets, const GeometryOptions& o,
                         const std::string& needle) {
    try {
      geometry_pairwise(ctx, sets, o);
      ADD_FAILURE() << "expected InvalidArgument containing '" << needle << "'";
    } catch (const InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  Systems ok({random_gaussian(50, 3, rng), random_gaussian(50, 3, rng)});
  Systems shorter({random_gaussian(50, 3, rng), random_gaussian(40, 3, rng)});
  throws_with(shorter.sets, {}, "system 1 has 40 time steps");
  Systems nan({random_gaussian(50, 3, rng), random_gaussian(50, 3, rng)});
  nan.store[1][7 * 3 + 2] = std::nan("");
  throws_with(nan.sets, {}, "system 1 has a non-finite value");
  GeometryOptions big;
  big.pca_dim = 4;
  throws_with(ok.sets, big, "pca_dim = 4 exceeds");
  GeometryOptions neg;
  neg.pca_dim = -1;
  throws_with(ok.sets, neg, "pca_dim must be >= 0");
  DMat flat(50, 3);
  for (auto& v : flat.v) v = 2.0;
  Systems constant({random_gaussian(50, 3, rng), flat});
  throws_with(constant.sets, {}, "system 1 is constant");
  std::vector<TrialSet<double>> empty{ok.sets[0], TrialSet<double>{ok.store[1].data(), 3, {}, Device::cpu()}};
  throws_with(empty, {}, "no trials");
}

TEST(DsaExamples, DeterministicPerSeedAndWellFormed) {
  const auto a = dsa_example_systems(0), b = dsa_example_systems(0), c = dsa_example_systems(1);
  ASSERT_EQ(a.size(), 6u);
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].name, b[i].name);
    EXPECT_EQ(a[i].data, b[i].data);  // bit-identical for the same seed
    EXPECT_NE(a[i].data, c[i].data);
    EXPECT_EQ(std::int64_t(a[i].data.size()), a[i].trials * a[i].length * a[i].features);
    EXPECT_FALSE(a[i].description.empty());
    for (double v : a[i].data) ASSERT_TRUE(std::isfinite(v));
  }
}

/// The point of the built-in example: DSA groups by dynamics, geometry by states. Bounds measured
/// on seeds 0–3 (DSA angular: spiral family 0.04–0.075 apart, spiral-fast ≥ 0.37 from spiral, the
/// two Van der Pol runs 0.036–0.057 apart; Procrustes: spiral-fast 0.30–0.39 from spiral, the
/// conjugate views ≥ 0.66) with margins of about 2×.
TEST(DsaExamples, DsaGroupsByDynamicsGeometryByStates) {
  Context ctx(Device::cpu());
  for (std::uint64_t seed : {0u, 1u}) {
    const auto ex = dsa_example_systems(seed);
    std::vector<TrialSet<double>> sets;
    for (const auto& e : ex) sets.push_back(e.trial_set());
    auto at = [&](const DsaResult& r, std::size_t i, std::size_t j) {
      return r.distance[i * std::size_t(r.cols) + j];
    };
    enum { spiral, sheared, rerun, fast, vdp, vdp2 };
    const DsaResult d = dsa_pairwise(ctx, sets, dsa_example_options());
    EXPECT_LT(at(d, spiral, sheared), 0.15);
    EXPECT_LT(at(d, spiral, rerun), 0.15);
    EXPECT_LT(at(d, vdp, vdp2), 0.15);
    EXPECT_GT(at(d, spiral, fast), 0.25);
    EXPECT_GT(at(d, spiral, vdp), 0.25);
    const DsaResult g = geometry_pairwise(ctx, sets);
    EXPECT_LT(at(g, spiral, fast), 0.5);
    EXPECT_GT(at(g, spiral, sheared), 0.55);
    EXPECT_GT(at(g, spiral, rerun), 1.0);
    // Geometry ranks the impostor closest; DSA ranks it farther than every conjugate view.
    EXPECT_LT(at(g, spiral, fast), at(g, spiral, sheared));
    EXPECT_GT(at(d, spiral, fast), 2 * std::max(at(d, spiral, sheared), at(d, spiral, rerun)));
  }
}

/// A cancelled run returns its finished pairs unchanged and marks the rest not_computed (NaN).
TEST(DsaCancel, StopsBetweenBatchesAndKeepsFinishedPairs) {
  Context ctx(Device::cpu());
  const auto ex = dsa_example_systems(0);
  std::vector<TrialSet<double>> sets;
  for (const auto& e : ex) sets.push_back(e.trial_set());
  DsaOptions o = dsa_example_options();
  o.pairs_per_batch = 2;
  const DsaResult full = dsa_pairwise(ctx, sets, o);
  EXPECT_TRUE(full.complete);
  std::atomic<bool> stop{false};
  o.cancel = &stop;
  o.progress = [&](std::int64_t done, std::int64_t) { stop = done >= 4; };
  const DsaResult part = dsa_pairwise(ctx, sets, o);
  EXPECT_FALSE(part.complete);
  std::int64_t computed = 0;
  for (std::int64_t i = 0; i < part.rows; ++i)
    for (std::int64_t j = 0; j < i; ++j) {
      const std::size_t a = std::size_t(i * part.cols + j), b = std::size_t(j * part.cols + i);
      EXPECT_EQ(part.status[a], part.status[b]);
      if (part.status[a] == PairStatus::not_computed) {
        EXPECT_TRUE(std::isnan(part.distance[a]) && std::isnan(part.distance[b]));
      } else {
        ++computed;
        EXPECT_EQ(part.distance[a], full.distance[a]);  // same seeds per pair: bit-identical
      }
    }
  EXPECT_EQ(computed, 4);  // two batches of two, then the flag stopped the run
  for (std::int64_t i = 0; i < part.rows; ++i) EXPECT_EQ(part.distance[std::size_t(i * part.cols + i)], 0.0);

  GeometryOptions g;
  std::atomic<bool> now{true};
  g.cancel = &now;
  const DsaResult none = geometry_pairwise(ctx, sets, g);
  EXPECT_FALSE(none.complete);
  EXPECT_TRUE(std::isnan(none.distance[1]));
  EXPECT_EQ(none.status[1], PairStatus::not_computed);
}

}  // namespace
}  // namespace dynx::test
