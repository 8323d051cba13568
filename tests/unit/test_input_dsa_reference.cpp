// InputDSA against the reference package's outputs (tests/data/input_dsa, made by its
// make_fixtures.py with dsa-metric 2.0.2): SubspaceDMDc singular values, eigenvalues of A and the
// basis-free Markov parameters C Aʲ B to 1e-8 relative (the reference fits in float64); the
// controllability scores on the reference's own operators, including the joint score in
// reference_compat mode (which depends on the basis, so it is checked in the reference's), and
// the basis-free scores on dynx's fits.

#include "common/reference.hpp"

#include <dynx/dsa.hpp>
#include <dynx/io.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <complex>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#ifndef DYNX_TEST_DATA_DIR
#  error "DYNX_TEST_DATA_DIR must point at tests/data"
#endif

namespace dynx::test {
namespace {

using Npz = std::map<std::string, io::Array>;

const Npz& fixtures() {
  static const Npz z = [] {
    Npz out;
    for (auto& a : io::read_npz(std::string(DYNX_TEST_DATA_DIR) + "/input_dsa/fixtures.npz"))
      out[a.name] = a;
    return out;
  }();
  return z;
}
double scalar(const std::string& k) { return fixtures().at(k).data.at(0); }
/// A row-major (rows, cols) member as a column-major DMat.
DMat matrix(const std::string& k) {
  const auto& a = fixtures().at(k);
  DMat m(a.shape[0], a.shape[1]);
  for (std::int64_t i = 0; i < m.rows; ++i)
    for (std::int64_t j = 0; j < m.cols; ++j) m(i, j) = a.data[std::size_t(i * m.cols + j)];
  return m;
}
TrialSet<double> trials(const std::string& k) {
  const auto& a = fixtures().at(k);
  return TrialSet<double>::equal_trials(a.data.data(), a.shape[0], a.shape[1], a.shape[2]);
}

std::vector<ControlModel<double>> fit_all() {
  Context ctx(Device::cpu());
  SubspaceDmdcOptions o;
  o.n_delays = 3;
  o.rank = 4;
  o.lambda = 1e-8;
  return subspace_dmdc_fit<double>(ctx, {trials("y0"), trials("y1"), trials("y2")},
                                   {trials("u0"), trials("u1"), trials("u2")}, o);
}

TEST(InputDsaReference, SubspaceDmdcMatchesTheReferenceFit) {
  const auto models = fit_all();
  Context cpu(Device::cpu());
  for (int k = 0; k < 3; ++k) {
    const auto& md = models[std::size_t(k)];
    const auto& sv = fixtures().at("sv" + std::to_string(k)).data;
    ASSERT_EQ(md.singular_values.size(), sv.size());
    for (std::size_t i = 0; i < sv.size(); ++i)
      EXPECT_NEAR(md.singular_values[i], sv[i], 1e-8 * sv[0]) << k << " " << i;
    // Eigenvalues of A, sorted by (re, im) as the fixture.
    std::vector<cdouble> w(4);
    eig_batched<double>(cpu, MatrixBatch<const double>(md.a.data(), 4, 4, 1),
                        VectorBatch<cdouble>(w.data(), 4, 1), MatrixBatch<cdouble>());
    std::sort(w.begin(), w.end(), [](cdouble x, cdouble y) {
      return std::make_tuple(x.real(), x.imag()) < std::make_tuple(y.real(), y.imag());
    });
    const auto& re = fixtures().at("eig" + std::to_string(k) + "_re").data;
    const auto& im = fixtures().at("eig" + std::to_string(k) + "_im").data;
    for (std::size_t i = 0; i < 4; ++i) {
      EXPECT_NEAR(w[i].real(), re[i], 1e-8) << k;
      EXPECT_NEAR(w[i].imag(), im[i], 1e-8) << k;
    }
    // Markov parameters C Aʲ B (6 × 3 × 1, row-major) — independent of the state basis.
    const auto& mk = fixtures().at("markov" + std::to_string(k)).data;
    DMat a(4, 4), b(4, 1), c(3, 4), ak = identity(4);
    a.v.assign(md.a.begin(), md.a.end());
    b.v.assign(md.b.begin(), md.b.end());
    c.v.assign(md.c.begin(), md.c.end());
    double scale = 0;
    for (double v : mk) scale = std::max(scale, std::abs(v));
    for (std::int64_t j = 0; j < 6; ++j) {
      const DMat h = matmul(matmul(c, ak), b);
      for (std::int64_t i = 0; i < 3; ++i)
        EXPECT_NEAR(h(i, 0), mk[std::size_t(j * 3 + i)], 1e-8 * scale) << k << " j=" << j;
      ak = matmul(a, ak);
    }
  }
}

struct Scores {
  double joint, state, control, input;
};
Scores scores(const DMat& ax, const DMat& bx, const DMat& ay, const DMat& by, DsaScore s,
              bool compat) {
  Context ctx(Device::cpu());
  ControllabilityOptions o;
  o.score = s;
  o.reference_compat = compat;
  Scores r{};
  const std::int64_t n = ax.rows, m = bx.cols;
  controllability_distance<double>(ctx, MatrixBatch<const double>(ax.v.data(), n, n, 1),
                                   MatrixBatch<const double>(bx.v.data(), n, m, 1),
                                   MatrixBatch<const double>(ay.v.data(), n, n, 1),
                                   MatrixBatch<const double>(by.v.data(), n, m, 1), &r.joint,
                                   &r.state, &r.control, {}, o);
  input_distance<double>(ctx, MatrixBatch<const double>(bx.v.data(), n, m, 1),
                         MatrixBatch<const double>(by.v.data(), n, m, 1), &r.input, s);
  return r;
}

TEST(InputDsaReference, ScoresMatchTheReference) {
  const auto models = fit_all();
  auto mat = [&](int k, bool b) {
    const auto& md = models[std::size_t(k)];
    DMat x(4, b ? 1 : 4);
    x.v.assign(b ? md.b.begin() : md.a.begin(), b ? md.b.end() : md.a.end());
    return x;
  };
  for (const auto& [i, j] : {std::pair{0, 1}, std::pair{0, 2}, std::pair{1, 2}}) {
    const std::string ij = std::to_string(i) + std::to_string(j);
    for (const auto& [score, tag] : {std::pair{DsaScore::euclidean, "euc"}, std::pair{DsaScore::angular, "ang"}}) {
      // On the reference's own operators: every value, including the compat joint score.
      // (Angles: the reference's float64 arccos resolves ~1.5e-8 near 0.)
      const Scores r = scores(matrix("a" + std::to_string(i)), matrix("b" + std::to_string(i)),
                              matrix("a" + std::to_string(j)), matrix("b" + std::to_string(j)), score, true);
      EXPECT_NEAR(r.joint, scalar("joint" + ij + "_" + tag + "_compat"), 3e-8) << ij << tag;
      EXPECT_NEAR(r.state, scalar("state" + ij + "_" + tag), 3e-8) << ij << tag;
      EXPECT_NEAR(r.control, scalar("control" + ij + "_" + tag), 3e-8) << ij << tag;
      EXPECT_NEAR(r.input, scalar("input" + ij + "_" + tag), 3e-8) << ij << tag;
      // On dynx's fits (another sign gauge): the basis-free scores, to the fits' agreement.
      const Scores d = scores(mat(i, false), mat(i, true), mat(j, false), mat(j, true), score, false);
      EXPECT_NEAR(d.input, scalar("input" + ij + "_" + tag), 1e-6) << ij << tag;
    }
  }
  // The reference's joint score is not invariant: s1 is s0 through a rotation of its outputs, yet
  // its compat distance to s2 differs; the default (consistent) score is the same for both.
  EXPECT_GT(std::abs(scalar("joint02_euc_compat") - scalar("joint12_euc_compat")), 0.1);
  const Scores d02 = scores(mat(0, false), mat(0, true), mat(2, false), mat(2, true), DsaScore::euclidean, false);
  const Scores d12 = scores(mat(1, false), mat(1, true), mat(2, false), mat(2, true), DsaScore::euclidean, false);
  EXPECT_NEAR(d02.joint, d12.joint, 1e-8);
  // Wasserstein state score on dynx's fits against the reference's (float32 eigenvalues there).
  Context ctx(Device::cpu());
  for (const auto& [i, j] : {std::pair{0, 1}, std::pair{0, 2}, std::pair{1, 2}}) {
    double w = 0;
    const auto& x = models[std::size_t(i)];
    const auto& y = models[std::size_t(j)];
    spectral_wasserstein<double>(ctx, MatrixBatch<const double>(x.a.data(), 4, 4, 1),
                                 MatrixBatch<const double>(y.a.data(), 4, 4, 1), &w);
    EXPECT_NEAR(w, scalar("wass" + std::to_string(i) + std::to_string(j)), 1e-6);
  }
}

}  // namespace
}  // namespace dynx::test
