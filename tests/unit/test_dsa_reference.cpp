// dynx against fixtures from the reference package dsa-metric 2.0.2 (tests/data/dsa, made by
// make_fixtures.py there): fitted Hankel singular values and DMD eigenvalues to float32 accuracy,
// Wasserstein scores to float32 accuracy, and angular scores never above the reference's stochastic
// upper bounds beyond 1e-3 (and ≈ 0 on every exactly conjugate pair, which the reference misses).

#include <dynx/dsa.hpp>
#include <dynx/error.hpp>
#include <dynx/io.hpp>
#include <dynx/linalg.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <complex>
#include <map>
#include <string>

#ifndef DYNX_TEST_DATA_DIR
#  error "DYNX_TEST_DATA_DIR must point at tests/data"
#endif

namespace dynx {
namespace {

using Npz = std::map<std::string, io::Array>;

Npz load(const std::string& file) {
  Npz out;
  for (auto& a : io::read_npz(std::string(DYNX_TEST_DATA_DIR) + "/dsa/" + file)) out[a.name] = a;
  return out;
}

double scalar(const Npz& z, const std::string& k) { return z.at(k).data.at(0); }

/// A reference system (T, N) or (K, T, N) as a TrialSet over the array's storage.
TrialSet<double> system(const io::Array& a) {
  if (a.shape.size() == 2) return TrialSet<double>::single(a.data.data(), a.shape[0], a.shape[1]);
  return TrialSet<double>::equal_trials(a.data.data(), a.shape[0], a.shape[1], a.shape[2]);
}

/// Eigenvalues stored as `<prefix>_re` and `<prefix>_im`.
std::vector<std::complex<double>> eigs(const Npz& z, const std::string& prefix) {
  const auto& re = z.at(prefix + "_re").data;
  const auto& im = z.at(prefix + "_im").data;
  std::vector<std::complex<double>> e;
  for (std::size_t i = 0; i < re.size(); ++i) e.emplace_back(re[i], im[i]);
  return e;
}

/// Largest distance from a reference eigenvalue to its partner in an optimal matching.
double eig_mismatch(const std::vector<std::complex<double>>& a,
                    const std::vector<std::complex<double>>& b) {
  // W2² with uniform weights is the mean squared matched distance; bound the max by n · mean.
  return std::sqrt(double(a.size()) * wasserstein_eigenvalues(a, b));
}

std::vector<std::complex<double>> model_eigs(const DmdModel<double>& m) {
  Context ctx(Device::cpu());
  std::vector<std::complex<double>> w(std::size_t(m.rank));
  eig_batched<double>(ctx, MatrixBatch<const double>(m.a.data(), m.rank, m.rank, 1),
                      VectorBatch<std::complex<double>>(w.data(), m.rank, 1), {});
  return w;
}

class ReferenceFixtures : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    systems_ = new Npz(load("systems.npz"));
    pipeline_ = new Npz(load("pipeline.npz"));
    matrices_ = new Npz(load("matrices.npz"));
  }
  static void TearDownTestSuite() {
    delete systems_;
    delete pipeline_;
    delete matrices_;
  }
  static Npz* systems_;
  static Npz* pipeline_;
  static Npz* matrices_;
};
Npz* ReferenceFixtures::systems_ = nullptr;
Npz* ReferenceFixtures::pipeline_ = nullptr;
Npz* ReferenceFixtures::matrices_ = nullptr;

TEST_F(ReferenceFixtures, PipelineMatchesReferenceFitsAndScores) {
  const Npz& sys = *systems_;
  const Npz& pl = *pipeline_;
  std::vector<TrialSet<double>> data;
  for (int i = 0; i < 6; ++i) data.push_back(system(sys.at("sys" + std::to_string(i))));
  Context ctx(Device::cpu());
  for (const std::string s : {"s0", "s1", "s2"}) {
    SCOPED_TRACE(s);
    DsaOptions o;
    o.fit.n_delays = std::int64_t(scalar(pl, s + "_n_delays"));
    o.fit.delay_interval = std::int64_t(scalar(pl, s + "_delay_interval"));
    if (scalar(pl, s + "_rank") > 0) o.fit.rank = std::int64_t(scalar(pl, s + "_rank"));
    const auto models = hankel_dmd_fit(ctx, data, o.fit);
    for (int i = 0; i < 6; ++i) {
      SCOPED_TRACE("system " + std::to_string(i));
      const std::string p = s + "_sys" + std::to_string(i);
      const auto& m = models[std::size_t(i)];
      EXPECT_EQ(m.rank, std::int64_t(scalar(pl, p + "_rank_used")));
      const auto& sv = pl.at(p + "_sv").data;
      for (std::size_t k = 0; k < sv.size(); ++k)  // float32 SVD in the reference: ~1e-6 · σ₁
        EXPECT_NEAR(m.singular_values[k], sv[k], 2e-5 * sv[0]) << "sigma " << k;
      // DMD eigenvalues to float32 accuracy (spec §8: ~1e-4 against the float32 reference)
      EXPECT_LE(eig_mismatch(model_eigs(m), eigs(pl, p + "_eig")), 1e-4);
    }
    o.score = DsaScore::wasserstein;
    const auto w = compare_models_pairwise(ctx, models, o);
    const auto& wref = pl.at(s + "_wasserstein").data;
    for (std::size_t k = 0; k < 36; ++k)  // float32 eigenvalues and cost formula in the reference
      EXPECT_NEAR(w.distance[k], wref[k], 1e-5 + 1e-4 * wref[k]) << "pair " << k;
    o.score = DsaScore::angular;
    const auto ang = compare_models_pairwise(ctx, models, o);
    const auto& aref = pl.at(s + "_angular").data;
    for (std::size_t k = 0; k < 36; ++k)  // never above the reference's upper bound
      EXPECT_LE(ang.distance[k], aref[k] + 1e-3) << "pair " << k << " ref " << aref[k];
    // the exactly conjugate pairs (sys0 ~ sys2, sys4 ~ sys5) are 0, where the reference is not
    EXPECT_LE(ang.distance[0 * 6 + 2], 1e-6);
    EXPECT_LE(ang.distance[4 * 6 + 5], 1e-6);
  }
}

TEST_F(ReferenceFixtures, EuclideanScoresAreNeverAboveReference) {
  const Npz& sys = *systems_;
  const Npz& pl = *pipeline_;
  std::vector<TrialSet<double>> data;
  for (int i = 0; i < 6; ++i) data.push_back(system(sys.at("sys" + std::to_string(i))));
  Context ctx(Device::cpu());
  DsaOptions o;
  o.fit.n_delays = 5;
  o.fit.rank = 8;
  o.score = DsaScore::euclidean;
  const auto r = dsa_pairwise(ctx, data, o);
  const auto& ref = pl.at("s1_euclidean").data;
  for (std::size_t k = 0; k < 36; ++k) EXPECT_LE(r.distance[k], ref[k] + 1e-3) << "pair " << k;
}

TEST_F(ReferenceFixtures, MixedRanksMatchBothWassersteinVariants) {
  const Npz& sys = *systems_;
  const Npz& pl = *pipeline_;
  std::vector<TrialSet<double>> data;
  std::vector<HankelDmdOptions> opts;
  const auto& ranks = pl.at("mixed_ranks").data;
  const auto& which = pl.at("mixed_systems").data;
  for (std::size_t i = 0; i < 3; ++i) {
    data.push_back(system(sys.at("sys" + std::to_string(int(which[i])))));
    HankelDmdOptions o;
    o.n_delays = std::int64_t(scalar(pl, "mixed_n_delays"));
    o.rank = std::int64_t(ranks[i]);
    opts.push_back(o);
  }
  Context ctx(Device::cpu());
  const auto models = hankel_dmd_fit(ctx, data, opts);
  DsaOptions o;
  o.score = DsaScore::wasserstein;  // the DSA class: uniform weights, no padding
  const auto w = compare_models_pairwise(ctx, models, o);
  const auto& wref = pl.at("mixed_wasserstein").data;
  for (std::size_t k = 0; k < 9; ++k) EXPECT_NEAR(w.distance[k], wref[k], 1e-5 + 1e-4 * wref[k]);
  // angular with different sizes: an error by default, the reference's fallback on request
  o.score = DsaScore::angular;
  EXPECT_THROW(compare_models_pairwise(ctx, models, o), InvalidArgument);
  o.size_mismatch = SizeMismatch::wasserstein;
  const auto a = compare_models_pairwise(ctx, models, o);
  const auto& aref = pl.at("mixed_angular").data;
  for (std::size_t k = 0; k < 9; ++k) {
    EXPECT_NEAR(a.distance[k], aref[k], 1e-5 + 1e-4 * aref[k]);
    if (k % 4 != 0) {
      EXPECT_EQ(a.status[k], PairStatus::size_fallback);
    }
  }
}

TEST_F(ReferenceFixtures, OperatorCasesBeatOrMatchReference) {
  const Npz& mz = *matrices_;
  Context ctx(Device::cpu());
  for (int n : {6, 8})
    for (const std::string c : {"ident", "conj_so", "conj_oneg", "flip_even", "flip_odd", "scale2",
                                "similar", "unrelated", "normal"}) {
      const std::string p = "m" + std::to_string(n) + "_" + c;
      SCOPED_TRACE(p);
      const auto& a = mz.at(p + "_A").data;
      const auto& b = mz.at(p + "_B").data;
      // the fixtures are row-major (n, n): pass the transposes, which leaves every score unchanged
      double ang = 0, eu = 0, w = 0;
      MatrixBatch<const double> A(a.data(), n, n, 1), B(b.data(), n, n, 1);
      procrustes_vf_distance<double>(ctx, A, B, VectorBatch<double>(&ang, 1, 1),
                                     VectorBatch<double>(&eu, 1, 1));
      spectral_wasserstein<double>(ctx, A, B, &w);
      EXPECT_LE(ang, scalar(mz, p + "_angular") + 1e-3);
      EXPECT_LE(eu, scalar(mz, p + "_euclidean") + 1e-3);
      EXPECT_NEAR(w, scalar(mz, p + "_wasserstein"), 1e-5);  // reference: float32, ~1e-7 noise
      if (c != "similar" && c != "unrelated" && c != "normal") {
        EXPECT_LE(ang, 1e-7);  // exact conjugates
      }
    }
  // size mismatch 6×6 vs 4×4: both Wasserstein variants
  const auto& a = mz.at("mismatch_A").data;
  const auto& b = mz.at("mismatch_B").data;
  const auto ea = eigs(mz, "mismatch_eigA"), eb = eigs(mz, "mismatch_eigB");
  EXPECT_NEAR(wasserstein_eigenvalues(ea, eb, WassersteinWeights::uniform),
              scalar(mz, "mismatch_wasserstein_uniform"), 1e-5);
  EXPECT_NEAR(wasserstein_eigenvalues(ea, eb, WassersteinWeights::pad_zeros),
              scalar(mz, "mismatch_wasserstein_padded"), 1e-5);
  double w = 0;
  spectral_wasserstein<double>(ctx, MatrixBatch<const double>(a.data(), 6, 6, 1),
                               MatrixBatch<const double>(b.data(), 4, 4, 1), &w,
                               WassersteinWeights::pad_zeros);
  EXPECT_NEAR(w, scalar(mz, "mismatch_wasserstein_padded"), 1e-5);
}

}  // namespace
}  // namespace dynx
