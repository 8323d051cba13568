// DEER's solver core on the host (src/deer/newton.hpp, spec deer.md §3, §10.2–10.4): Newton and
// quasi-Newton iterations solved by the affine-recurrence scan converge to the sequential
// trajectory on contracting cells, keep the prefix property, and report a chaotic cell as not
// converged within its budget.

#include "deer/newton.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

namespace dynx::test {
namespace {

struct TanhNet {
  std::int64_t d, m;
  std::vector<double> W, U, b;
  math::TanhRnnCell<double> cell() const {
    math::TanhRnnCell<double> c;
    c.W = W.data();
    c.U = U.data();
    c.b = b.data();
    c.n = int(d);
    c.m = int(m);
    return c;
  }
};

TanhNet tanh_net(std::int64_t d, std::int64_t m, double gain, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> g(0.0, gain / std::sqrt(double(d))), gu(0.0, 1.0 / std::sqrt(double(m)));
  TanhNet n{d, m, std::vector<double>(std::size_t(d * d)), std::vector<double>(std::size_t(d * m)),
            std::vector<double>(std::size_t(d))};
  for (auto& v : n.W) v = g(rng);
  for (auto& v : n.U) v = gu(rng);
  for (auto& v : n.b) v = 0.1 * gu(rng);
  return n;
}

std::vector<double> inputs(std::int64_t steps, std::int64_t m, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> g;
  std::vector<double> u(std::size_t(steps * m));
  for (auto& v : u) v = g(rng);
  return u;
}

double max_diff(const std::vector<double>& a, const std::vector<double>& b, std::size_t n) {
  double w = 0;
  for (std::size_t i = 0; i < n; ++i) w = std::max(w, std::fabs(a[i] - b[i]));
  return w;
}

TEST(DeerNewton, ContractingTanhRnnMatchesSequential) {
  Context ctx(Device::cpu());
  const std::int64_t d = 8, m = 3, steps = 3000;
  const TanhNet net = tanh_net(d, m, 0.5, 1);  // gain 0.5: contracting (spec §6.1)
  const std::vector<double> u = inputs(steps, m, 2), s0(std::size_t(d), 0.3);
  std::vector<double> seq(std::size_t(steps * d));
  deer::sequential(net.cell(), s0.data(), u.data(), steps, seq.data());
  for (bool quasi : {false, true}) {
    std::vector<double> s(seq.size(), 0.0);  // zero initial guess
    deer::NewtonOptions o;
    o.quasi = quasi;
    const deer::NewtonResult r = deer::newton(ctx, net.cell(), s0.data(), u.data(), steps, s.data(), o);
    ASSERT_TRUE(r.converged) << "quasi " << quasi;
    // Float64 equality with sequential evaluation ≤ 1e-10 (issue 6): the fixed point is the
    // sequential trajectory, reached to the residual tolerance 1e-10 times the contraction's
    // error amplification (≤ 1/(1 − 0.5) here).
    EXPECT_LT(max_diff(s, seq, s.size()), 1e-10) << "quasi " << quasi;
    // Iteration counts (spec §10.4, contracting): a handful for full DEER; quasi-DEER more, but
    // far below T.
    if (!quasi) EXPECT_LE(r.iterations, 8);
    else EXPECT_LE(r.iterations, 60);
    std::printf("tanh D=8 g=0.5 T=3000 %s: %ld iterations, residual %.2e\n", quasi ? "quasi-DEER" : "DEER",
                long(r.iterations), r.residual);
  }
}

TEST(DeerNewton, PrefixPropertyHoldsAfterEveryIteration) {
  Context ctx(Device::cpu());
  const std::int64_t d = 4, m = 2, steps = 40;
  const TanhNet net = tanh_net(d, m, 2.5, 3);  // chaotic gain: only the prefix is exact early on
  const std::vector<double> u = inputs(steps, m, 4), s0(std::size_t(d), 0.5);
  std::vector<double> seq(std::size_t(steps * d));
  deer::sequential(net.cell(), s0.data(), u.data(), steps, seq.data());
  for (std::int64_t i = 1; i <= 6; ++i) {
    std::vector<double> s(seq.size(), 0.0);
    deer::NewtonOptions o;
    o.max_iter = i;
    o.tol = 0;
    deer::newton(ctx, net.cell(), s0.data(), u.data(), steps, s.data(), o);
    // After i iterations the first i states are exact (spec §3.4), up to rounding.
    EXPECT_LT(max_diff(s, seq, std::size_t(i * d)), 1e-12) << "after " << i << " iterations";
  }
}

TEST(DeerNewton, GruAndQuasiDeerMatchSequential) {
  Context ctx(Device::cpu());
  const std::int64_t d = 6, m = 2, steps = 1000;
  std::mt19937_64 rng(5);
  std::normal_distribution<double> g(0.0, 0.4);
  std::vector<std::vector<double>> w(6);
  for (int k = 0; k < 6; ++k) {
    w[std::size_t(k)].resize(std::size_t(k < 3 ? d * m : d * d));
    for (auto& v : w[std::size_t(k)]) v = g(rng);
  }
  math::GruCell<double> cell;
  cell.W_ir = w[0].data();
  cell.W_iz = w[1].data();
  cell.W_in = w[2].data();
  cell.W_hr = w[3].data();
  cell.W_hz = w[4].data();
  cell.W_hn = w[5].data();
  cell.n = int(d);
  cell.m = int(m);
  const std::vector<double> u = inputs(steps, m, 6), s0(std::size_t(d), 0.0);
  std::vector<double> seq(std::size_t(steps * d));
  deer::sequential(cell, s0.data(), u.data(), steps, seq.data());
  for (bool quasi : {false, true}) {
    std::vector<double> s(seq.size(), 0.0);
    deer::NewtonOptions o;
    o.quasi = quasi;
    const deer::NewtonResult r = deer::newton(ctx, cell, s0.data(), u.data(), steps, s.data(), o);
    ASSERT_TRUE(r.converged) << "quasi " << quasi;
    EXPECT_LT(max_diff(s, seq, s.size()), 1e-10) << "quasi " << quasi;  // as above
  }
}

TEST(DeerNewton, ChaoticCellDoesNotConvergeWithinASmallBudget) {
  Context ctx(Device::cpu());
  const std::int64_t d = 16, m = 2, steps = 2000;
  const TanhNet net = tanh_net(d, m, 3.0, 7);  // gain 3: chaotic (spec §6.1, §8)
  const std::vector<double> u = inputs(steps, m, 8), s0(std::size_t(d), 0.1);
  std::vector<double> s(std::size_t(steps * d), 0.0);
  deer::NewtonOptions o;
  o.max_iter = 20;
  const deer::NewtonResult r = deer::newton(ctx, net.cell(), s0.data(), u.data(), steps, s.data(), o);
  // Spec §10.4: on chaotic systems Newton needs ~T iterations; after 20 only a short prefix is
  // converged, and the result says so (the engine then finishes sequentially from the prefix).
  EXPECT_FALSE(r.converged);
  EXPECT_LT(r.converged_prefix, steps / 2);
  EXPECT_GE(r.converged_prefix, 20);  // the prefix property: at least one state per iteration
}

}  // namespace
}  // namespace dynx::test
