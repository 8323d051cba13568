// DMDc (spec §7.3): exact identification of a noise-free fully observed system (C Âᵏ B̂ = Aᵏ B with
// C = U_r), the reference's outputs (tests/data/input_dsa, float32 there) with its cross-trial
// pairs reproduced on request, pairs within trials by default, and bad input.

#include "common/reference.hpp"

#include <dynx/dsa.hpp>
#include <dynx/error.hpp>
#include <dynx/io.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#ifndef DYNX_TEST_DATA_DIR
#  error "DYNX_TEST_DATA_DIR must point at tests/data"
#endif

namespace dynx::test {
namespace {

std::vector<cdouble> sorted_eigenvalues(const std::vector<double>& a, std::int64_t n) {
  Context cpu(Device::cpu());
  std::vector<cdouble> w(static_cast<std::size_t>(n));
  eig_batched<double>(cpu, MatrixBatch<const double>(a.data(), n, n, 1), VectorBatch<cdouble>(w.data(), n, 1),
                      MatrixBatch<cdouble>());
  std::sort(w.begin(), w.end(), [](cdouble x, cdouble y) {
    return std::make_tuple(x.real(), x.imag()) < std::make_tuple(y.real(), y.imag());
  });
  return w;
}

TEST(Dmdc, IdentifiesANoiseFreeFullyObservedSystem) {
  Rng rng(6);
  const std::int64_t n = 4, m = 2;
  DMat a = random_orthonormal(n, n, rng);  // spectral radius 0.8
  for (auto& v : a.v) v *= 0.8;
  const DMat b = random_gaussian(n, m, rng);
  std::normal_distribution<double> g;
  std::vector<std::int64_t> lengths{150, 120};
  std::vector<double> x, u;
  for (const std::int64_t len : lengths) {
    DMat s(n, 1);
    for (auto& v : s.v) v = g(rng);
    for (std::int64_t t = 0; t < len; ++t) {
      DMat ut(m, 1);
      for (auto& v : ut.v) v = g(rng);
      x.insert(x.end(), s.v.begin(), s.v.end());
      u.insert(u.end(), ut.v.begin(), ut.v.end());
      DMat next = matmul(a, s);
      const DMat bu = matmul(b, ut);
      for (std::int64_t i = 0; i < n; ++i) next(i, 0) += bu(i, 0);
      s = next;
    }
  }
  Context ctx(Device::cpu());
  DmdcOptions o;
  o.lambda = 0;
  const auto md = dmdc_fit<double>(ctx, {TrialSet<double>{x.data(), n, lengths, Device::cpu()}},
                                   {TrialSet<double>{u.data(), m, lengths, Device::cpu()}}, o)[0];
  ASSERT_EQ(md.rank, n);
  EXPECT_EQ(md.regression_pairs, 149 + 119);  // within trials
  DMat ah(n, n), bh(n, m), c(n, n), ak = identity(n), ahk = identity(n);
  ah.v.assign(md.a.begin(), md.a.end());
  bh.v.assign(md.b.begin(), md.b.end());
  c.v.assign(md.c.begin(), md.c.end());
  for (int k = 0; k < 5; ++k) {
    EXPECT_LT(max_abs(subtract(matmul(matmul(c, ahk), bh), matmul(ak, b))), 1e-9) << k;
    ak = matmul(a, ak);
    ahk = matmul(ah, ahk);
  }
}

TEST(Dmdc, MatchesTheReferenceWithItsCrossTrialPairs) {
  std::map<std::string, io::Array> z;
  for (auto& arr : io::read_npz(std::string(DYNX_TEST_DATA_DIR) + "/input_dsa/fixtures.npz")) z[arr.name] = arr;
  Context ctx(Device::cpu());
  for (const int k : {0, 2}) {
    const auto& y = z.at("y" + std::to_string(k));
    const auto& u = z.at("u" + std::to_string(k));
    const auto ys = TrialSet<double>::equal_trials(y.data.data(), y.shape[0], y.shape[1], y.shape[2]);
    const auto us = TrialSet<double>::equal_trials(u.data.data(), u.shape[0], u.shape[1], u.shape[2]);
    DmdcOptions o;
    o.n_delays = 2;
    o.rank_output = 4;
    o.reference_cross_trial_pairs = true;
    const auto md = dmdc_fit<double>(ctx, {ys}, {us}, o)[0];
    const auto w = sorted_eigenvalues(md.a, 4);
    const auto& re = z.at("dmdc_eig" + std::to_string(k) + "_re").data;
    const auto& im = z.at("dmdc_eig" + std::to_string(k) + "_im").data;
    for (std::size_t i = 0; i < 4; ++i) {  // the reference computes in float32
      EXPECT_NEAR(w[i].real(), re[i], 1e-4) << k;
      EXPECT_NEAR(w[i].imag(), im[i], 1e-4) << k;
    }
    const auto& sv = z.at("dmdc_sv" + std::to_string(k)).data;
    ASSERT_EQ(md.singular_values.size(), sv.size());
    for (std::size_t i = 0; i < sv.size(); ++i) EXPECT_NEAR(md.singular_values[i], sv[i], 1e-5 * sv[0]);
    EXPECT_EQ(md.regression_pairs, 2 * 299 - 1);  // 2 trials of 299 rows, one pair spans them
    // Within trials (the default) the boundary pair is gone and the fit moves a little.
    o.reference_cross_trial_pairs = false;
    const auto within = dmdc_fit<double>(ctx, {ys}, {us}, o)[0];
    EXPECT_EQ(within.regression_pairs, 2 * 298);
    EXPECT_GT(max_matching_distance(sorted_eigenvalues(within.a, 4), w), 1e-8);
  }
}

TEST(Dmdc, RejectsBadInput) {
  std::vector<double> y(40, 1.0), u(20, 0.5);
  for (std::size_t i = 0; i < y.size(); ++i) y[i] = std::sin(0.3 * double(i));
  Context ctx(Device::cpu());
  const TrialSet<double> ys = TrialSet<double>::single(y.data(), 20, 2), us = TrialSet<double>::single(u.data(), 20, 1);
  auto fails = [&](const DmdcOptions& o, const std::string& what) {
    try {
      dmdc_fit<double>(ctx, {ys}, {us}, o);
      ADD_FAILURE() << "no error; expected '" << what << "'";
    } catch (const InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    }
  };
  DmdcOptions o;
  o.n_control_delays = 2;
  fails(o, "n_control_delays must be in [1, n_delays]");
  o = {};
  o.rank_output = 3;
  fails(o, "rank_output 3 is larger than min(D, pairs) = 2");
  o = {};
  o.n_delays = 25;
  fails(o, "no regression pairs");
}

}  // namespace
}  // namespace dynx::test
