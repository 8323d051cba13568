// Built-in dynamical systems and step Jacobians (include/dynx/math/dynamical_systems.hpp, spec
// goom.md §5.1, §7.2): every analytic Jacobian against central finite differences, divergence
// against the trace, the exact RK4-map tangent against finite differences of the RK4 map, state
// updates of rk4_step_tangent identical to rk4_step, the per-step sum rule ln|det J| ≈ h·trace Df
// (which the Euler tangent breaks), Hénon's det J = −b, the default initial states, a short
// Lorenz-63 spectrum whose zero exponent the exact tangent keeps, and a float instantiation.
// All in float64 unless stated. Maximum errors are recorded as test properties (--gtest_output).

#include <dynx/math/dynamical_systems.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace dynx::test {
namespace {

using math::Henon;
using math::Lorenz63;
using math::Lorenz96;
using math::Rossler;
using math::TanhRnn;

void record_max(const char* key, double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3e", v);
  ::testing::Test::RecordProperty(key, buf);
}

/// Central-difference Jacobian of g: R^n → R^n at x, column-major, step δ_j = rel · max(1, |x_j|).
template <class G>
std::vector<double> fd_jacobian(const G& g, int n, const std::vector<double>& x, double rel) {
  std::vector<double> J(static_cast<size_t>(n) * n), xp(x), xm(x), gp(n), gm(n);
  for (int j = 0; j < n; ++j) {
    const double d = rel * std::max(1.0, std::fabs(x[j]));
    xp = x;
    xm = x;
    xp[j] += d;
    xm[j] -= d;
    g(xp.data(), gp.data());
    g(xm.data(), gm.data());
    for (int i = 0; i < n; ++i) J[static_cast<size_t>(j) * n + i] = (gp[i] - gm[i]) / (2 * d);
  }
  return J;
}

/// max_ij |A − B| / (1 + |B|): relative for large entries, absolute near zero.
double max_rel_diff(const std::vector<double>& a, const std::vector<double>& b) {
  double m = 0;
  for (size_t k = 0; k < a.size(); ++k) m = std::max(m, std::fabs(a[k] - b[k]) / (1 + std::fabs(b[k])));
  return m;
}

/// ln|det A| by Gaussian elimination with partial pivoting (A column-major, copied).
double log_abs_det(int n, std::vector<double> a) {
  double s = 0;
  for (int c = 0; c < n; ++c) {
    int p = c;
    for (int r = c + 1; r < n; ++r)
      if (std::fabs(a[c * n + r]) > std::fabs(a[c * n + p])) p = r;
    if (p != c)
      for (int j = 0; j < n; ++j) std::swap(a[j * n + c], a[j * n + p]);
    const double piv = a[c * n + c];
    s += std::log(std::fabs(piv));
    for (int r = c + 1; r < n; ++r) {
      const double l = a[c * n + r] / piv;
      for (int j = c; j < n; ++j) a[j * n + r] -= l * a[j * n + c];
    }
  }
  return s;
}

double trace(int n, const std::vector<double>& a) {
  double t = 0;
  for (int i = 0; i < n; ++i) t += a[i * n + i];
  return t;
}

/// A state on (or near) the attractor: the default initial state after `steps` RK4 steps.
template <class Flow>
std::vector<double> on_attractor(const Flow& f, double h, int steps) {
  const int n = f.dim();
  std::vector<double> x(n), work(math::rk4_work_size(n));
  math::default_initial_state(f, x.data());
  for (int s = 0; s < steps; ++s) math::rk4_step(f, h, x.data(), work.data());
  return x;
}

/// Sample points for a flow: `count` points along an RK4 trajectory after a transient, each
/// perturbed by a seeded Gaussian so that the points are not all on one orbit.
template <class Flow>
std::vector<std::vector<double>> sample_points(const Flow& f, double h, int transient, int count,
                                               unsigned seed) {
  const int n = f.dim();
  std::vector<double> x = on_attractor(f, h, transient), work(math::rk4_work_size(n));
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> nd(0.0, 0.5);
  std::vector<std::vector<double>> pts;
  for (int p = 0; p < count; ++p) {
    for (int s = 0; s < 37; ++s) math::rk4_step(f, h, x.data(), work.data());
    std::vector<double> y(x);
    for (double& v : y) v += nd(rng);
    pts.push_back(y);
  }
  return pts;
}

/// Checks f.jacobian against central differences of f.rhs and f.divergence against the trace at
/// the given points; returns {max Jacobian error, max divergence error}.
template <class Flow>
std::pair<double, double> check_flow(const Flow& f, const std::vector<std::vector<double>>& pts) {
  const int n = f.dim();
  double jerr = 0, derr = 0;
  for (const auto& x : pts) {
    std::vector<double> J(static_cast<size_t>(n) * n);
    f.jacobian(x.data(), J.data());
    const auto Jfd = fd_jacobian([&](const double* y, double* dy) { f.rhs(y, dy); }, n, x, 1e-6);
    jerr = std::max(jerr, max_rel_diff(J, Jfd));
    const double tr = trace(n, J);
    derr = std::max(derr, std::fabs(f.divergence(x.data()) - tr) / (1 + std::fabs(tr)));
  }
  return {jerr, derr};
}

// --- analytic Jacobians and divergences ----------------------------------------------------------

TEST(DynamicalSystems, FlowJacobiansMatchFiniteDifferences) {
  const Lorenz63<double> lorenz;
  const Rossler<double> rossler;
  const Lorenz96<double> l96_4{4, 8.0}, l96_7{7, 8.0}, l96_40{40, 8.0};
  const auto r63 = check_flow(lorenz, sample_points(lorenz, 0.01, 2000, 8, 1));
  const auto rro = check_flow(rossler, sample_points(rossler, 0.02, 2000, 8, 2));
  const auto r4 = check_flow(l96_4, sample_points(l96_4, 0.01, 500, 4, 3));
  const auto r7 = check_flow(l96_7, sample_points(l96_7, 0.01, 500, 4, 4));
  const auto r40 = check_flow(l96_40, sample_points(l96_40, 0.01, 1000, 4, 5));
  // The three vector fields are quadratic, so central differences are exact up to rounding:
  // about eps · |f| / δ ≈ 1e-16 · 100 / 1e-6 = 1e-8 relative. 1e-6 leaves two digits of margin.
  EXPECT_LT(r63.first, 1e-6);
  EXPECT_LT(rro.first, 1e-6);
  EXPECT_LT(r4.first, 1e-6);
  EXPECT_LT(r7.first, 1e-6);
  EXPECT_LT(r40.first, 1e-6);
  // divergence vs summing the Jacobian's diagonal: the same numbers in another order, so only a
  // few ulps apart.
  for (double d : {r63.second, rro.second, r4.second, r7.second, r40.second}) EXPECT_LT(d, 1e-14);
  record_max("jacobian_fd_err",
             std::max({r63.first, rro.first, r4.first, r7.first, r40.first}));
  record_max("divergence_trace_err",
             std::max({r63.second, rro.second, r4.second, r7.second, r40.second}));
}

TEST(DynamicalSystems, KnownDivergences) {
  const Lorenz63<double> lorenz;
  const double x[3] = {1.5, -2.0, 20.0};
  // −(σ + 1 + β) = −13.6667 (spec §5.1), the same arithmetic as the header up to ordering: ulps.
  EXPECT_NEAR(lorenz.divergence(x), -(10.0 + 1.0 + 8.0 / 3.0), 1e-14);
  for (int n : {4, 5, 40}) {
    const Lorenz96<double> l96{n, 8.0};
    std::vector<double> y(n, 3.0);
    // −n exactly: an integer converted to double.
    EXPECT_EQ(l96.divergence(y.data()), -double(n));
  }
  const Rossler<double> rossler;
  const double z[3] = {2.0, 1.0, 0.5};
  // a + x − c = 0.2 + 2 − 5.7, a couple of roundings.
  EXPECT_NEAR(rossler.divergence(z), 0.2 + 2.0 - 5.7, 1e-14);
}

TEST(DynamicalSystems, MapJacobiansMatchFiniteDifferences) {
  std::mt19937_64 rng(11);
  std::normal_distribution<double> nd(0.0, 1.0);
  // Hénon at points along the attractor and randomly perturbed ones.
  const Henon<double> henon;
  double herr = 0;
  std::vector<double> x(2), xn(2);
  math::default_initial_state(henon, x.data());
  for (int it = 0; it < 200; ++it) {
    henon.step(x.data(), xn.data());
    x = xn;
    if (it % 20 != 19) continue;
    std::vector<double> y{x[0] + 0.3 * nd(rng), x[1] + 0.3 * nd(rng)}, J(4);
    henon.jacobian(y.data(), J.data());
    const auto Jfd = fd_jacobian([&](const double* u, double* v) { henon.step(u, v); }, 2, y, 1e-6);
    herr = std::max(herr, max_rel_diff(J, Jfd));
  }
  // Quadratic map: central differences exact up to rounding (~1e-10 here).
  EXPECT_LT(herr, 1e-6);

  // tanh RNN, n = 6, W with spectral scale ~2 (some units near saturation), with and without b.
  const int n = 6;
  std::vector<double> W(n * n), b(n);
  for (double& w : W) w = 2.0 * nd(rng) / std::sqrt(double(n));
  for (double& v : b) v = 0.5 * nd(rng);
  double rerr = 0;
  for (const double* bias : {static_cast<const double*>(b.data()), static_cast<const double*>(nullptr)}) {
    const TanhRnn<double> rnn{W.data(), bias, n};
    ASSERT_EQ(rnn.dim(), n);
    for (int p = 0; p < 5; ++p) {
      std::vector<double> y(n), J(n * n);
      for (double& v : y) v = nd(rng);
      rnn.jacobian(y.data(), J.data());
      const auto Jfd = fd_jacobian([&](const double* u, double* v) { rnn.step(u, v); }, n, y, 1e-6);
      rerr = std::max(rerr, max_rel_diff(J, Jfd));
    }
  }
  // Non-polynomial: truncation δ² |f'''| / 6 ≈ 1e-12 plus rounding ≈ 1e-10; 1e-6 is generous.
  EXPECT_LT(rerr, 1e-6);
  record_max("henon_fd_err", herr);
  record_max("tanh_rnn_fd_err", rerr);
}

TEST(DynamicalSystems, TanhRnnSaturatedSlopesKeepRelativeAccuracy) {
  // One unit with pre-activation 20: 1 − tanh² would round to 0 (tanh(20) = 1 in double), the
  // sech² form keeps 4 e^{−40} ≈ 1.7e-17 to full relative accuracy.
  const double W[1] = {1.0}, b[1] = {0.0}, x[1] = {20.0};
  const TanhRnn<double> rnn{W, b, 1};
  double J[1];
  rnn.jacobian(x, J);
  const double expect = 1.0 / (std::cosh(20.0) * std::cosh(20.0));
  EXPECT_GT(J[0], 0.0);
  // Same formula as the header, so equal to a few ulps.
  EXPECT_NEAR(J[0] / expect, 1.0, 1e-14);
}

TEST(DynamicalSystems, HenonDeterminantIsMinusB) {
  for (const Henon<double>& henon : {Henon<double>{}, Henon<double>{1.2, 0.4}}) {
    std::vector<double> x(2), xn(2), J(4);
    math::default_initial_state(henon, x.data());
    for (int it = 0; it < 100; ++it) {
      henon.jacobian(x.data(), J.data());
      // det = J00 J11 − J01 J10 = (−2ax)·0 − 1·b = −b exactly (a product with 0 and with 1).
      EXPECT_EQ(J[0] * J[3] - J[2] * J[1], -henon.b);
      henon.step(x.data(), xn.data());
      x = xn;
    }
  }
}

// --- integrators ---------------------------------------------------------------------------------

TEST(DynamicalSystems, WorkSizes) {
  static_assert(math::rk4_tangent_work_size(3) == 3 * 9 + 3 * 3, "3 dim^2 + 3 dim");
  static_assert(math::rk4_work_size(40) == 120, "3 dim");
  static_assert(math::euler_work_size(5) == 5, "dim");
  static_assert(Lorenz63<double>{}.dim() == 3, "constexpr dim");
  SUCCEED();
}

/// jstep of rk4_step_tangent against central differences of the RK4 map x ↦ rk4_step(x).
template <class Flow>
double rk4_tangent_fd_error(const Flow& f, double h, const std::vector<std::vector<double>>& pts) {
  const int n = f.dim();
  std::vector<double> work(math::rk4_tangent_work_size(n)), work1(math::rk4_work_size(n));
  double err = 0;
  for (const auto& x0 : pts) {
    std::vector<double> x(x0), J(static_cast<size_t>(n) * n);
    math::rk4_step_tangent(f, h, x.data(), J.data(), work.data());
    const auto rk4_map = [&](const double* u, double* v) {
      std::copy(u, u + n, v);
      math::rk4_step(f, h, v, work1.data());
    };
    const auto Jfd = fd_jacobian(rk4_map, n, x0, 1e-5);
    err = std::max(err, max_rel_diff(J, Jfd));
  }
  return err;
}

TEST(DynamicalSystems, Rk4TangentMatchesFiniteDifferencesOfTheRk4Map) {
  const double h = 0.01;
  const Lorenz63<double> lorenz;
  const Rossler<double> rossler;
  const Lorenz96<double> l96_5{5, 8.0}, l96_40{40, 8.0};
  const double e63 = rk4_tangent_fd_error(lorenz, h, sample_points(lorenz, h, 2000, 8, 21));
  const double ero = rk4_tangent_fd_error(rossler, h, sample_points(rossler, 0.02, 2000, 8, 22));
  const double e5 = rk4_tangent_fd_error(l96_5, h, sample_points(l96_5, h, 500, 4, 23));
  const double e40 = rk4_tangent_fd_error(l96_40, h, sample_points(l96_40, h, 1000, 3, 24));
  // The RK4 map is a polynomial of degree 16 in x; with δ = 1e-5 the central-difference
  // truncation is ≈ δ² h |D³f| ~ 1e-12 and rounding ≈ eps |x| / δ ≈ 1e-16 · 30 / 1e-5 ≈ 3e-10,
  // so 1e-7 separates exact derivatives from any wrong stage term (which is O(h²) ≈ 1e-4 or more).
  EXPECT_LT(e63, 1e-7);
  EXPECT_LT(ero, 1e-7);
  EXPECT_LT(e5, 1e-7);
  EXPECT_LT(e40, 1e-7);
  record_max("rk4_tangent_fd_err", std::max({e63, ero, e5, e40}));

  // The Euler tangent is the exact derivative of euler_step (quadratic field: exact to rounding).
  double eeul = 0;
  for (const auto& x0 : sample_points(lorenz, h, 2000, 4, 25)) {
    std::vector<double> J(9), w(math::euler_work_size(3));
    math::euler_tangent(lorenz, h, x0.data(), J.data());
    const auto euler_map = [&](const double* u, double* v) {
      std::copy(u, u + 3, v);
      math::euler_step(lorenz, h, v, w.data());
    };
    eeul = std::max(eeul, max_rel_diff(J, fd_jacobian(euler_map, 3, x0, 1e-5)));
  }
  // Rounding only: eps · |x| / δ ≈ 3e-10.
  EXPECT_LT(eeul, 1e-7);
  record_max("euler_tangent_fd_err", eeul);
}

TEST(DynamicalSystems, Rk4TangentAdvancesStateExactlyLikeRk4Step) {
  const auto run = [](const auto& f, double h, int steps) {
    const int n = f.dim();
    std::vector<double> a(n), b(n), J(static_cast<size_t>(n) * n);
    std::vector<double> w1(math::rk4_work_size(n)), w2(math::rk4_tangent_work_size(n));
    math::default_initial_state(f, a.data());
    b = a;
    for (int s = 0; s < steps; ++s) {
      math::rk4_step(f, h, a.data(), w1.data());
      math::rk4_step_tangent(f, h, b.data(), J.data(), w2.data());
    }
    // Bit for bit: the same stage arithmetic in the same order (no tolerance), so a trajectory
    // and its Jacobians can be produced by either routine interchangeably.
    for (int i = 0; i < n; ++i) EXPECT_EQ(a[i], b[i]) << "component " << i;
  };
  run(Lorenz63<double>{}, 0.01, 3000);
  run(Rossler<double>{}, 0.02, 3000);
  run(Lorenz96<double>{40, 8.0}, 0.01, 1000);
}

TEST(DynamicalSystems, Rk4TangentKeepsThePerStepSumRule) {
  // ln|det jstep| = h · trace Df + O(h^5) per step for the RK4 map (the exact flow map has
  // det = exp(∫ trace Df)); the Euler tangent is off by O(h²): ln det(I + hA) − h tr A ≈ −h² tr(A²)/2.
  const double h = 0.01;
  const Lorenz63<double> lorenz;
  std::vector<double> x = on_attractor(lorenz, h, 10000);  // 100 time units of transient
  std::vector<double> J(9), Je(9), work(math::rk4_tangent_work_size(3));
  double err = 0, sum_err = 0, eul_sum = 0;
  const int steps = 2000;
  for (int s = 0; s < steps; ++s) {
    math::euler_tangent(lorenz, h, x.data(), Je.data());
    const double hdiv = h * lorenz.divergence(x.data());
    math::rk4_step_tangent(lorenz, h, x.data(), J.data(), work.data());
    const double d = log_abs_det(3, J) - hdiv;
    err = std::max(err, std::fabs(d));
    sum_err += d;
    eul_sum += log_abs_det(3, Je) - hdiv;
  }
  // The leading local error is −tr((h Df)^5)/120 plus terms in the derivatives of Df along the
  // orbit; with |h λ| ≲ 0.23 for Lorenz's fastest direction that is a few 1e-6 at worst, and the
  // mean over the orbit ≈ 1e-6 per step (spec §5.1: the rate −13.66656 vs −13.66667 at h = 0.01).
  EXPECT_LT(err, 1e-5);
  EXPECT_LT(std::fabs(sum_err / steps), 2e-6);
  // The Euler tangent misses by −h² tr(Df²)/2 + O(h³) per step. tr(Df²) = 108.1 + 2σ(ρ − z) − 2x²
  // changes sign along the orbit, so compare the mean: spec §5.1 measures a sum of −14.18 instead
  // of −13.67, i.e. ≈ −5e-3 per step, three orders above the RK4 tangent's mean.
  EXPECT_GT(std::fabs(eul_sum / steps), 1e-3);
  record_max("lorenz63_sum_rule_max_err", err);
  record_max("lorenz63_sum_rule_mean_err", std::fabs(sum_err / steps));
  record_max("lorenz63_euler_mean_err", std::fabs(eul_sum / steps));

  // Lorenz-96 (n = 40, trace Df = −40): h · 40 = 0.4 per step, same O(h^5) check.
  const Lorenz96<double> l96{40, 8.0};
  std::vector<double> y = on_attractor(l96, h, 2000);
  std::vector<double> K(1600), work96(math::rk4_tangent_work_size(40));
  double err96 = 0;
  for (int s = 0; s < 50; ++s) {
    math::rk4_step_tangent(l96, h, y.data(), K.data(), work96.data());
    err96 = std::max(err96, std::fabs(log_abs_det(40, K) + 40 * h));
  }
  // Forty directions each contribute an O(|h λ|^5 / 120) term, |h λ| ≲ 0.1 for most of them
  // (measured max ≈ 7e-7); 1e-5 still fails a stage error of O(h²) ≈ 1e-4 × 40.
  EXPECT_LT(err96, 1e-5);
  record_max("lorenz96_sum_rule_max_err", err96);
}

/// Sequential QR (modified Gram–Schmidt) over the step Jacobians of a flow: the Lyapunov spectrum
/// over `steps` steps after `burn` alignment steps, starting from the state x.
template <class Flow, class Tangent>
std::vector<double> short_spectrum(const Flow& f, double h, std::vector<double> x, int burn,
                                   int steps, const Tangent& tangent) {
  const int n = f.dim();
  std::vector<double> Q(static_cast<size_t>(n) * n, 0.0), J(Q.size()), V(Q.size()), sums(n, 0.0);
  for (int i = 0; i < n; ++i) Q[i * n + i] = 1;
  for (int s = 0; s < burn + steps; ++s) {
    tangent(x, J);
    for (int j = 0; j < n; ++j)  // V = J Q
      for (int i = 0; i < n; ++i) {
        double acc = 0;
        for (int l = 0; l < n; ++l) acc += J[l * n + i] * Q[j * n + l];
        V[j * n + i] = acc;
      }
    for (int j = 0; j < n; ++j) {
      for (int p = 0; p < j; ++p) {
        double d = 0;
        for (int i = 0; i < n; ++i) d += V[p * n + i] * V[j * n + i];
        for (int i = 0; i < n; ++i) V[j * n + i] -= d * V[p * n + i];
      }
      double nrm = 0;
      for (int i = 0; i < n; ++i) nrm += V[j * n + i] * V[j * n + i];
      nrm = std::sqrt(nrm);
      for (int i = 0; i < n; ++i) V[j * n + i] /= nrm;
      if (s >= burn) sums[j] += std::log(nrm);
    }
    Q = V;
  }
  for (double& v : sums) v /= steps * h;
  return sums;
}

TEST(DynamicalSystems, Lorenz63ShortSpectrumZeroExponent) {
  // 100 time units of transient, 10 of alignment, 300 of averaging. The spec's reference values
  // are [0.906, 0, −14.572] (§7.2); at this length the statistical error is a few 0.01.
  const double h = 0.01;
  const Lorenz63<double> lorenz;
  const std::vector<double> x0 = on_attractor(lorenz, h, 10000);
  std::vector<double> work(math::rk4_tangent_work_size(3)), w1(math::rk4_work_size(3));
  const auto exact = short_spectrum(lorenz, h, x0, 1000, 30000, [&](std::vector<double>& x, std::vector<double>& J) {
    math::rk4_step_tangent(lorenz, h, x.data(), J.data(), work.data());
  });
  const auto euler = short_spectrum(lorenz, h, x0, 1000, 30000, [&](std::vector<double>& x, std::vector<double>& J) {
    math::euler_tangent(lorenz, h, x.data(), J.data());
    math::rk4_step(lorenz, h, x.data(), w1.data());
  });
  // Statistical error of a 300-unit average is ~0.02 for λ1 and smaller for λ2 (whose local
  // fluctuations average out along the orbit); 0.1 / 0.05 leave margin while still excluding the
  // Euler-tangent bias (spec §5.1: about [1.18, 0.52, −15.88]).
  EXPECT_NEAR(exact[0], 0.906, 0.1);
  EXPECT_NEAR(exact[1], 0.0, 0.05);
  EXPECT_NEAR(exact[2], -14.572, 0.1);
  // Sum rule over the run: mean ln det / h = −13.6667 to O(h^4) (measured −13.66656 in the spec).
  EXPECT_NEAR(exact[0] + exact[1] + exact[2], -(10.0 + 1.0 + 8.0 / 3.0), 1e-3);
  // The Euler tangent's middle exponent is biased far from 0.
  EXPECT_GT(std::fabs(euler[1]), 0.2);
  record_max("lorenz63_exact_l1", exact[0]);
  record_max("lorenz63_exact_l2", exact[1]);
  record_max("lorenz63_exact_l3", exact[2]);
  record_max("lorenz63_euler_l2", euler[1]);
}

TEST(DynamicalSystems, DefaultInitialStatesReachBoundedAttractors) {
  // Lorenz-63: 200 time units stay inside |x|, |y| < 30, 0 < z < 60 (the attractor's box),
  // and the orbit has left (1, 1, 1).
  {
    const Lorenz63<double> f;
    std::vector<double> x = on_attractor(f, 0.01, 20000);
    EXPECT_LT(std::fabs(x[0]), 30.0);
    EXPECT_LT(std::fabs(x[1]), 30.0);
    EXPECT_GT(x[2], 0.0);
    EXPECT_LT(x[2], 60.0);
  }
  // Rössler: 400 time units stay inside |x|, |y| < 15, 0 < z < 30.
  {
    const Rossler<double> f;
    std::vector<double> x(3), w(math::rk4_work_size(3));
    math::default_initial_state(f, x.data());
    double m = 0;
    for (int s = 0; s < 20000; ++s) {
      math::rk4_step(f, 0.02, x.data(), w.data());
      m = std::max({m, std::fabs(x[0]), std::fabs(x[1])});
      ASSERT_GT(x[2], 0.0);
      ASSERT_LT(x[2], 30.0);
    }
    EXPECT_LT(m, 15.0);
    EXPECT_GT(m, 5.0);  // on the attractor (|x| reaches ~10), not at a fixed point
  }
  // Lorenz-96: after 20 time units the nudged equilibrium has grown into chaos (spread ≫ 0.01).
  {
    const Lorenz96<double> f{40, 8.0};
    std::vector<double> x = on_attractor(f, 0.01, 2000);
    double spread = 0;
    for (double v : x) {
      EXPECT_LT(std::fabs(v), 20.0);
      spread = std::max(spread, std::fabs(v - f.F));
    }
    EXPECT_GT(spread, 1.0);
  }
  // Hénon: 10^4 iterations inside the attractor's box |x| < 1.5, |y| < 0.5.
  {
    const Henon<double> f;
    std::vector<double> x(2), xn(2);
    math::default_initial_state(f, x.data());
    for (int it = 0; it < 10000; ++it) {
      f.step(x.data(), xn.data());
      x = xn;
      ASSERT_LT(std::fabs(x[0]), 1.5);
      ASSERT_LT(std::fabs(x[1]), 0.5);
    }
  }
  // tanh RNN: a nonzero state of the right size.
  {
    const double W[4] = {1, 0, 0, 1};
    const TanhRnn<double> f{W, nullptr, 2};
    double x[2] = {0, 0};
    math::default_initial_state(f, x);
    EXPECT_EQ(x[0], 0.1);
    EXPECT_EQ(x[1], 0.1);
  }
}

TEST(DynamicalSystems, FloatInstantiation) {
  // Lorenz-63 and Lorenz-96 in float against the same step in double from the same start.
  const float h = 0.01f;
  {
    const Lorenz63<float> ff;
    const Lorenz63<double> fd;
    const std::vector<double> xd0 = on_attractor(fd, 0.01, 2000);
    float x[3], J[9], work[math::rk4_tangent_work_size(3)];
    for (int i = 0; i < 3; ++i) x[i] = static_cast<float>(xd0[i]);
    std::vector<double> xd(x, x + 3), Jd(9), workd(math::rk4_tangent_work_size(3));
    math::rk4_step_tangent(ff, h, x, J, work);
    math::rk4_step_tangent(fd, 0.01, xd.data(), Jd.data(), workd.data());
    // Float rounding through a few dozen operations with terms up to ~|σ x| ≈ 300: relative
    // ~1e-6, checked at 1e-5 against (1 + |value|).
    for (int i = 0; i < 3; ++i) EXPECT_NEAR(x[i], xd[i], 1e-5 * (1 + std::fabs(xd[i])));
    for (int e = 0; e < 9; ++e) EXPECT_NEAR(J[e], Jd[e], 1e-5 * (1 + std::fabs(Jd[e])));
    EXPECT_FLOAT_EQ(ff.divergence(x), -(10.0f + 1.0f + 8.0f / 3.0f));
  }
  {
    // From the default state (F + 0.01, F, ..., F), one step and twenty.
    const Lorenz96<float> ff{6, 8.0f};
    const Lorenz96<double> fd{6, 8.0};
    float x[6], J[36], work[math::rk4_tangent_work_size(6)];
    std::vector<double> xd(6), Jd(36), workd(math::rk4_tangent_work_size(6));
    math::default_initial_state(ff, x);
    math::default_initial_state(fd, xd.data());
    for (int s = 0; s < 20; ++s) {
      math::rk4_step_tangent(ff, h, x, J, work);
      math::rk4_step_tangent(fd, 0.01, xd.data(), Jd.data(), workd.data());
      // Float rounding of entries up to |F| = 8 (state) and ≈ 1 (jstep), near the unstable
      // equilibrium where 20 steps amplify errors by ≲ e^{0.2 · λ}, λ ≲ 10: 1e-5 · (1 + |v|).
      for (int i = 0; i < 6; ++i) EXPECT_NEAR(x[i], xd[i], 1e-5 * (1 + std::fabs(xd[i])));
      for (int e = 0; e < 36; ++e) EXPECT_NEAR(J[e], Jd[e], 1e-5 * (1 + std::fabs(Jd[e])));
    }
    EXPECT_EQ(ff.divergence(x), -6.0f);  // exact
  }
}

}  // namespace
}  // namespace dynx::test
