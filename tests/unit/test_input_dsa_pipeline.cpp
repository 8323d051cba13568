// InputDSA end to end (fit + three scores): the InputDSA paper's synthetic experiment in small
// (four partially observed, mildly nonlinear, noisy systems {A₁, A₂} × {B₁, B₂}: the state score
// groups them by A and the input score by B), invariance to a rotation of the observations, a
// different input gain seen by the input score only, and the all-pairs layout.

#include "common/reference.hpp"

#include <dynx/dsa.hpp>
#include <dynx/error.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace dynx::test {
namespace {

struct Driven {
  DMat a, b, c;
};

DMat rotation_dynamics(std::int64_t n, double radius, double theta0, Rng& rng) {
  const DMat q = random_orthonormal(n, n, rng);
  DMat d(n, n);
  for (std::int64_t i = 0; i + 1 < n; i += 2) {
    const double th = theta0 + 0.35 * double(i), r = radius * (1.0 - 0.08 * double(i) / double(n));
    d(i, i) = r * std::cos(th), d(i, i + 1) = -r * std::sin(th);
    d(i + 1, i) = r * std::sin(th), d(i + 1, i + 1) = r * std::cos(th);
  }
  return matmul(matmul(q, d), transpose(q));
}

/// x' = (1 − ε)(A x + B u) + ε tanh(A x + B u) + w,  y = C x + v, white Gaussian inputs.
struct Recording {
  std::vector<std::int64_t> lengths;
  std::vector<double> y, u;
  std::int64_t py, m;
  TrialSet<double> ys() const { return {y.data(), py, lengths, Device::cpu()}; }
  TrialSet<double> us() const { return {u.data(), m, lengths, Device::cpu()}; }
};

Recording simulate(const Driven& s, std::int64_t trials, std::int64_t len, double eps, double noise,
             std::uint64_t seed) {
  Rng rng(seed);
  std::normal_distribution<double> g;
  const std::int64_t n = s.a.rows, m = s.b.cols, py = s.c.rows;
  Recording r{std::vector<std::int64_t>(std::size_t(trials), len), {}, {}, py, m};
  for (std::int64_t k = 0; k < trials; ++k) {
    DMat x(n, 1);
    for (std::int64_t t = 0; t < len; ++t) {
      DMat u(m, 1);
      for (auto& v : u.v) v = g(rng);
      const DMat y = matmul(s.c, x);
      for (std::int64_t i = 0; i < py; ++i) r.y.push_back(y(i, 0) + noise * g(rng));
      r.u.insert(r.u.end(), u.v.begin(), u.v.end());
      DMat z = matmul(s.a, x);
      const DMat bu = matmul(s.b, u);
      for (std::int64_t i = 0; i < n; ++i) {
        const double v = z(i, 0) + bu(i, 0);
        z(i, 0) = (1 - eps) * v + eps * std::tanh(v) + noise * g(rng);
      }
      x = z;
    }
  }
  return r;
}

double at(const DsaResult& r, std::int64_t i, std::int64_t j) { return r.distance[std::size_t(i * r.cols + j)]; }

TEST(InputDsa, PaperExperimentGroupsByAInTheStateScoreAndByBInTheInputScore) {
  // 6 latent dimensions, 3 observed, 1 input; spectral radii 0.92 / 0.82, input gains 0.5 / 2.
  Rng rng(2024);
  const std::int64_t n = 6;
  const DMat a1 = rotation_dynamics(n, 0.92, 0.3, rng), a2 = rotation_dynamics(n, 0.82, 0.9, rng);
  DMat b1 = random_gaussian(n, 1, rng), b2 = random_gaussian(n, 1, rng);
  const double n1 = frobenius(b1), n2 = frobenius(b2);
  for (auto& v : b1.v) v *= 0.5 / n1;
  for (auto& v : b2.v) v *= 2.0 / n2;
  const DMat c = random_orthonormal(n, n, rng);  // observe 3 of its rows
  DMat obs(3, n);
  for (std::int64_t j = 0; j < n; ++j)
    for (std::int64_t i = 0; i < 3; ++i) obs(i, j) = c(i, j);
  // Systems in the order (A₁,B₁), (A₁,B₂), (A₂,B₁), (A₂,B₂).
  std::vector<Recording> runs;
  std::uint64_t seed = 100;
  for (const DMat* a : {&a1, &a2})
    for (const DMat* b : {&b1, &b2}) runs.push_back(simulate({*a, *b, obs}, 4, 500, 0.1, 0.01, seed++));
  std::vector<TrialSet<double>> ys, us;
  for (const auto& r : runs) ys.push_back(r.ys()), us.push_back(r.us());
  Context ctx(Device::cpu());
  InputDsaOptions o;
  o.fit.n_delays = 6;
  o.fit.rank = n;
  const InputDsaResult res = input_dsa_pairwise<double>(ctx, ys, us, o);
  ASSERT_TRUE(res.complete);
  // State: same A (0–1, 2–3) closer than different A (0–2, 0–3, 1–2, 1–3).
  const double same_a = std::max(at(res.state, 0, 1), at(res.state, 2, 3));
  const double diff_a = std::min({at(res.state, 0, 2), at(res.state, 0, 3), at(res.state, 1, 2),
                                  at(res.state, 1, 3)});
  EXPECT_LT(same_a, 0.5 * diff_a) << same_a << " vs " << diff_a;
  // Input: same B (0–2, 1–3) closer than different B (0–1, 2–3, 0–3, 1–2).
  const double same_b = std::max(at(res.input, 0, 2), at(res.input, 1, 3));
  const double diff_b = std::min({at(res.input, 0, 1), at(res.input, 2, 3), at(res.input, 0, 3),
                                  at(res.input, 1, 2)});
  EXPECT_LT(same_b, 0.5 * diff_b) << same_b << " vs " << diff_b;
  // Layout: symmetric, zero diagonal, every pair computed.
  for (const DsaResult* r : {&res.state, &res.input, &res.joint})
    for (std::int64_t i = 0; i < 4; ++i) {
      EXPECT_EQ(at(*r, i, i), 0.0);
      for (std::int64_t j = 0; j < 4; ++j) {
        EXPECT_EQ(at(*r, i, j), at(*r, j, i));
        EXPECT_EQ(r->status[std::size_t(i * 4 + j)], PairStatus::ok);
      }
    }
}

TEST(InputDsa, RotatedObservationsScoreZeroAndAnInputGainOnlyMovesTheInputScore) {
  Rng rng(77);
  const std::int64_t n = 4;
  const Driven s{rotation_dynamics(n, 0.9, 0.5, rng), random_gaussian(n, 1, rng),
                 random_gaussian(3, n, rng)};
  const Recording base = simulate(s, 3, 400, 0.0, 0.01, 5);
  // The same recording seen through a rotation of the 3 outputs.
  const DMat r = random_orthonormal(3, 3, rng);
  Recording rotated = base;
  for (std::size_t t = 0; t < base.y.size() / 3; ++t)
    for (std::int64_t i = 0; i < 3; ++i) {
      double v = 0;
      for (std::int64_t k = 0; k < 3; ++k) v += r(i, k) * base.y[t * 3 + std::size_t(k)];
      rotated.y[t * 3 + std::size_t(i)] = v;
    }
  // The same system with twice the input gain (same inputs and noise draws).
  Driven gain = s;
  for (auto& v : gain.b.v) v *= 2;
  const Recording doubled = simulate(gain, 3, 400, 0.0, 0.01, 5);
  Context ctx(Device::cpu());
  InputDsaOptions o;
  o.fit.n_delays = 4;
  o.fit.rank = n;
  const auto res = input_dsa_pairwise<double>(ctx, {base.ys(), rotated.ys(), doubled.ys()},
                                              {base.us(), rotated.us(), doubled.us()}, o);
  EXPECT_LT(at(res.state, 0, 1), 1e-6);
  EXPECT_LT(at(res.input, 0, 1), 1e-6);
  EXPECT_LT(at(res.joint, 0, 1), 1e-6);
  // Twice the gain: the intrinsic dynamics match, the input operators do not.
  EXPECT_LT(at(res.state, 0, 2), 0.05);
  EXPECT_GT(at(res.input, 0, 2), 10 * at(res.state, 0, 2));
}

TEST(InputDsa, SurrogateInputsCorrelatedWithTheDriveKeepTheStructure) {
  // Spec §7.5: the true inputs replaced by a noisy proxy (correlation ~0.9 with the drive) keep the
  // grouping by A and by B; unrelated white noise as "inputs" loses the grouping by B.
  auto ex = input_dsa_example_systems(0);  // A1-B1, A1-B1-rotated, A1-B2, A2-B1, A2-B2
  Rng rng(99);
  std::normal_distribution<double> g;
  std::vector<std::vector<double>> proxy, unrelated;
  for (const auto& e : ex) {
    proxy.push_back(e.u);
    for (auto& v : proxy.back()) v += 0.5 * g(rng);
    unrelated.emplace_back(e.u.size());
    for (auto& v : unrelated.back()) v = g(rng);
  }
  Context ctx(Device::cpu());
  const InputDsaOptions o = input_dsa_example_options();
  auto run = [&](const std::vector<std::vector<double>>& inputs) {
    std::vector<TrialSet<double>> ys, us;
    for (std::size_t i = 0; i < ex.size(); ++i) {
      ys.push_back(ex[i].output_set());
      us.push_back(TrialSet<double>::equal_trials(inputs[i].data(), ex[i].trials, ex[i].length, 1));
    }
    return input_dsa_pairwise<double>(ctx, ys, us, o);
  };
  const auto r = run(proxy);
  const double same_a = std::max(at(r.state, 0, 2), at(r.state, 3, 4));
  const double diff_a = std::min({at(r.state, 0, 3), at(r.state, 0, 4), at(r.state, 2, 3), at(r.state, 2, 4)});
  EXPECT_LT(same_a, 0.5 * diff_a) << same_a << " vs " << diff_a;
  const double same_b = std::max(at(r.input, 0, 3), at(r.input, 2, 4));
  const double diff_b = std::min({at(r.input, 0, 2), at(r.input, 3, 4), at(r.input, 0, 4), at(r.input, 2, 3)});
  EXPECT_LT(same_b, 0.5 * diff_b) << same_b << " vs " << diff_b;
  const auto u = run(unrelated);
  const double same_bu = std::max(at(u.input, 0, 3), at(u.input, 2, 4));
  const double diff_bu = std::min({at(u.input, 0, 2), at(u.input, 3, 4), at(u.input, 0, 4), at(u.input, 2, 3)});
  EXPECT_GT(same_bu, 0.5 * diff_bu) << same_bu << " vs " << diff_bu;
}

TEST(InputDsa, CrossEqualsTheMatchingBlockOfAllPairs) {
  const auto ex = input_dsa_example_systems(2);
  std::vector<TrialSet<double>> ys, us;
  for (const auto& e : ex) ys.push_back(e.output_set()), us.push_back(e.input_set());
  Context ctx(Device::cpu());
  const InputDsaOptions o = input_dsa_example_options();
  const auto models = subspace_dmdc_fit<double>(ctx, ys, us, o.fit);
  const auto all = input_dsa_pairwise<double>(ctx, models, o);
  const std::vector<ControlModel<double>> x(models.begin(), models.begin() + 2), y(models.begin() + 2, models.end());
  const auto cross = input_dsa_cross<double>(ctx, x, y, o);
  ASSERT_EQ(cross.state.rows, 2);
  ASSERT_EQ(cross.state.cols, 3);
  for (std::int64_t i = 0; i < 2; ++i)
    for (std::int64_t j = 0; j < 3; ++j) {
      // all-pairs computes d(i, j) with the larger index first (then mirrors): the input and joint
      // scores are symmetric to rounding, the state score to the optimiser's tolerance.
      EXPECT_NEAR(at(cross.input, i, j), at(all.input, i, j + 2), 1e-12);
      EXPECT_NEAR(at(cross.joint, i, j), at(all.joint, i, j + 2), 1e-10);
      EXPECT_NEAR(at(cross.state, i, j), at(all.state, i, j + 2), 1e-6);
      EXPECT_EQ(cross.input.status[std::size_t(i * 3 + j)], PairStatus::ok);
    }
}

TEST(InputDsa, DifferentDimensionsAreAClearError) {
  Rng rng(3);
  ControlModel<double> a, b;
  a.rank = 2, a.inputs = 1, a.outputs = 1, a.a = {0.5, 0, 0, 0.4}, a.b = {1, 0}, a.c = {1, 0};
  b.rank = 3, b.inputs = 1, b.outputs = 1, b.a = std::vector<double>(9, 0.1), b.b = {1, 0, 0};
  b.c = {1, 0, 0};
  Context ctx(Device::cpu());
  try {
    input_dsa_pairwise<double>(ctx, std::vector<ControlModel<double>>{a, b});
    ADD_FAILURE() << "no error";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("systems 1 and 0 differ in state dimension (3 and 2)"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace dynx::test
