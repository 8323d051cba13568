// Exact optimal transport (include/dynx/math/transport.hpp): linear assignment against brute force
// over all permutations; the transportation solver against the assignment (uniform weights, also
// through the lcm / integer-weight replication reductions) and against an independent optimality
// certificate (feasible duals found by complementary slackness plus Bellman–Ford); degenerate and
// bad inputs; the Wasserstein-2 score on hand-computed examples and the padded variant.
//
// Tolerances: both solvers are exact up to rounding, so values agree to c * (n + m) * eps<T> *
// max|c| (c written next to each assertion). Header-only test: it needs no libdynx.

#include <dynx/math/transport.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <complex>
#include <cstdint>
#include <limits>
#include <numeric>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using dynx::math::assignment_min_cost;
using dynx::math::transport_min_cost;
using dynx::math::wasserstein2_squared;
using dynx::math::wasserstein2_squared_padded;

template <class T>
constexpr double eps() {
  return static_cast<double>(std::numeric_limits<T>::epsilon());
}

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr double kSlowdown = 10.0;  // sanitizer builds
#elif defined(__has_feature)
#  if __has_feature(address_sanitizer) || __has_feature(undefined_behavior_sanitizer)
constexpr double kSlowdown = 10.0;
#  else
constexpr double kSlowdown = 1.0;
#  endif
#else
constexpr double kSlowdown = 1.0;
#endif

using RealTypes = ::testing::Types<float, double>;
template <class T>
class Assignment : public ::testing::Test {};
TYPED_TEST_SUITE(Assignment, RealTypes);
template <class T>
class Transport : public ::testing::Test {};
TYPED_TEST_SUITE(Transport, RealTypes);
template <class T>
class Wasserstein : public ::testing::Test {};
TYPED_TEST_SUITE(Wasserstein, RealTypes);

double max_abs(const std::vector<double>& v) {
  double r = 0;
  for (double x : v) r = std::max(r, std::fabs(x));
  return r;
}

template <class T>
std::vector<double> to_doubles(const std::vector<T>& v) {
  return std::vector<double>(v.begin(), v.end());
}

// Minimum of Σ c[i][σ(i)] over all permutations, summed in double.
template <class T>
double brute_force_assignment(std::int64_t n, const std::vector<T>& c) {
  std::vector<std::int64_t> p(static_cast<std::size_t>(n));
  std::iota(p.begin(), p.end(), std::int64_t{0});
  double best = std::numeric_limits<double>::infinity();
  do {
    double s = 0;
    for (std::int64_t i = 0; i < n; ++i) s += static_cast<double>(c[static_cast<std::size_t>(i * n + p[i])]);
    best = std::min(best, s);
  } while (std::next_permutation(p.begin(), p.end()));
  return n == 0 ? 0.0 : best;
}

enum class CostKind { uniform01, integer_ties, negative, huge };

template <class T>
std::vector<T> random_costs(std::int64_t count, CostKind kind, std::mt19937_64& rng) {
  std::vector<T> c(static_cast<std::size_t>(count));
  std::uniform_real_distribution<double> u01(0.0, 1.0), sym(-1.0, 1.0);
  std::uniform_int_distribution<int> small(0, 3);
  const double huge = static_cast<double>(std::numeric_limits<T>::max()) * 0.1;
  for (auto& x : c) {
    switch (kind) {
      case CostKind::uniform01: x = static_cast<T>(u01(rng)); break;
      case CostKind::integer_ties: x = static_cast<T>(small(rng) - 1); break;
      case CostKind::negative: x = static_cast<T>(1000.0 * sym(rng)); break;
      case CostKind::huge: x = static_cast<T>(huge * (0.5 + 0.5 * u01(rng))); break;
    }
  }
  return c;
}

template <class T>
void expect_permutation_with_cost(std::int64_t n, const std::vector<T>& c, const std::vector<std::int64_t>& col,
                                  T total, double tol) {
  std::vector<char> seen(static_cast<std::size_t>(n), 0);
  double s = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    ASSERT_GE(col[static_cast<std::size_t>(i)], 0);
    ASSERT_LT(col[static_cast<std::size_t>(i)], n);
    EXPECT_FALSE(seen[static_cast<std::size_t>(col[static_cast<std::size_t>(i)])]) << "column used twice";
    seen[static_cast<std::size_t>(col[static_cast<std::size_t>(i)])] = 1;
    s += static_cast<double>(c[static_cast<std::size_t>(i * n + col[static_cast<std::size_t>(i)])]);
  }
  EXPECT_NEAR(static_cast<double>(total), s, tol);
}

// Points in the complex plane, like the eigenvalues of a stable operator.
template <class T>
std::vector<std::complex<T>> random_points(std::int64_t n, std::mt19937_64& rng) {
  std::normal_distribution<double> g;
  std::vector<std::complex<T>> z(static_cast<std::size_t>(n));
  for (auto& p : z) p = {static_cast<T>(0.5 * g(rng)), static_cast<T>(0.5 * g(rng))};
  return z;
}

template <class T>
std::vector<T> sq_dist(const std::vector<std::complex<T>>& x, const std::vector<std::complex<T>>& y) {
  std::vector<T> c(x.size() * y.size());
  for (std::size_t i = 0; i < x.size(); ++i)
    for (std::size_t j = 0; j < y.size(); ++j) {
      const T dr = x[i].real() - y[j].real(), di = x[i].imag() - y[j].imag();
      c[i * y.size() + j] = dr * dr + di * di;
    }
  return c;
}

// Feasibility of `plan` for marginals a, b renormalised to the common mass (Σa + Σb)/2, and
// Σ plan·c == reported.
template <class T>
void expect_feasible(std::int64_t n, std::int64_t m, const std::vector<T>& a, const std::vector<T>& b,
                     const std::vector<T>& c, const std::vector<T>& plan, T reported, double tol_mass,
                     double tol_cost) {
  double sa = 0, sb = 0;
  for (T x : a) sa += static_cast<double>(x);
  for (T x : b) sb += static_cast<double>(x);
  const double mass = 0.5 * (sa + sb);
  std::vector<double> row(static_cast<std::size_t>(n), 0.0), col(static_cast<std::size_t>(m), 0.0);
  double cost = 0;
  std::int64_t nonzeros = 0;
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = 0; j < m; ++j) {
      const double p = static_cast<double>(plan[static_cast<std::size_t>(i * m + j)]);
      ASSERT_GE(p, 0.0) << "negative plan entry at " << i << "," << j;
      row[static_cast<std::size_t>(i)] += p;
      col[static_cast<std::size_t>(j)] += p;
      cost += p * static_cast<double>(c[static_cast<std::size_t>(i * m + j)]);
      nonzeros += p > 0;
    }
  EXPECT_LE(nonzeros, n + m - 1) << "not a vertex of the transportation polytope";
  for (std::int64_t i = 0; i < n; ++i)
    EXPECT_NEAR(row[static_cast<std::size_t>(i)], static_cast<double>(a[static_cast<std::size_t>(i)]) * mass / sa, tol_mass)
        << "row " << i;
  for (std::int64_t j = 0; j < m; ++j)
    EXPECT_NEAR(col[static_cast<std::size_t>(j)], static_cast<double>(b[static_cast<std::size_t>(j)]) * mass / sb, tol_mass)
        << "column " << j;
  EXPECT_NEAR(cost, static_cast<double>(reported), tol_cost);
}

// Independent optimality certificate for a feasible plan: duals u, v with u_i + v_j = c_ij on the
// support (complementary slackness) and u_i + v_j <= c_ij + tol everywhere. Within each connected
// component of the support, the duals are fixed up to one offset δ_K (u += δ_K, v -= δ_K); the
// offsets must satisfy difference constraints δ_K(i) − δ_K(j) <= c_ij − ū_i − v̄_j + tol, which
// Bellman–Ford solves (or proves infeasible through a negative cycle). Then the dual objective
// Σ a_i u_i + Σ b_j v_j must equal the primal cost.
template <class T>
void expect_optimal_by_duals(std::int64_t n, std::int64_t m, const std::vector<T>& a, const std::vector<T>& b,
                             const std::vector<T>& c, const std::vector<T>& plan, double tol) {
  const std::int64_t nodes = n + m;  // rows 0..n-1, columns n..n+m-1
  std::vector<std::vector<std::int64_t>> adj(static_cast<std::size_t>(nodes));
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = 0; j < m; ++j)
      if (plan[static_cast<std::size_t>(i * m + j)] > T(0)) {
        adj[static_cast<std::size_t>(i)].push_back(n + j);
        adj[static_cast<std::size_t>(n + j)].push_back(i);
      }
  const auto cost = [&](std::int64_t i, std::int64_t j) { return static_cast<double>(c[static_cast<std::size_t>(i * m + j)]); };
  std::vector<std::int64_t> comp(static_cast<std::size_t>(nodes), -1);
  std::vector<double> pot(static_cast<std::size_t>(nodes), 0.0);  // u for rows, v for columns
  std::int64_t ncomp = 0;
  for (std::int64_t s = 0; s < nodes; ++s) {
    if (comp[static_cast<std::size_t>(s)] >= 0) continue;
    std::vector<std::int64_t> queue{s};
    comp[static_cast<std::size_t>(s)] = ncomp;
    for (std::size_t h = 0; h < queue.size(); ++h) {
      const std::int64_t v = queue[h];
      for (std::int64_t w : adj[static_cast<std::size_t>(v)]) {
        const double cvw = v < n ? cost(v, w - n) : cost(w, v - n);
        if (comp[static_cast<std::size_t>(w)] < 0) {
          comp[static_cast<std::size_t>(w)] = ncomp;
          pot[static_cast<std::size_t>(w)] = cvw - pot[static_cast<std::size_t>(v)];
          queue.push_back(w);
        } else {  // a cycle in the support: slackness must hold on it too
          EXPECT_NEAR(pot[static_cast<std::size_t>(v)] + pot[static_cast<std::size_t>(w)], cvw, tol);
        }
      }
    }
    ++ncomp;
  }
  // Bellman–Ford over components: edge K(j) → K(i) of weight c_ij − ū_i − v̄_j + tol.
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<double> w(static_cast<std::size_t>(ncomp * ncomp), inf);
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = 0; j < m; ++j) {
      const double slack = cost(i, j) - pot[static_cast<std::size_t>(i)] - pot[static_cast<std::size_t>(n + j)] + tol;
      const std::int64_t ki = comp[static_cast<std::size_t>(i)], kj = comp[static_cast<std::size_t>(n + j)];
      if (ki == kj) {
        EXPECT_GE(slack, 0.0) << "dual infeasible inside a support component at " << i << "," << j;
      } else {
        auto& e = w[static_cast<std::size_t>(kj * ncomp + ki)];
        e = std::min(e, slack);
      }
    }
  std::vector<double> delta(static_cast<std::size_t>(ncomp), 0.0);  // virtual source at distance 0
  bool changed = true;
  for (std::int64_t pass = 0; pass <= ncomp && changed; ++pass) {
    changed = false;
    for (std::int64_t from = 0; from < ncomp; ++from)
      for (std::int64_t to = 0; to < ncomp; ++to) {
        const double e = w[static_cast<std::size_t>(from * ncomp + to)];
        if (e < inf && delta[static_cast<std::size_t>(from)] + e < delta[static_cast<std::size_t>(to)]) {
          delta[static_cast<std::size_t>(to)] = delta[static_cast<std::size_t>(from)] + e;
          changed = true;
        }
      }
  }
  ASSERT_FALSE(changed) << "no feasible dual: the plan is not optimal (negative cycle)";
  double sa = 0, sb = 0;
  for (T x : a) sa += static_cast<double>(x);
  for (T x : b) sb += static_cast<double>(x);
  const double mass = 0.5 * (sa + sb);
  double dual = 0, primal = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    const double u = pot[static_cast<std::size_t>(i)] + delta[static_cast<std::size_t>(comp[static_cast<std::size_t>(i)])];
    dual += static_cast<double>(a[static_cast<std::size_t>(i)]) * mass / sa * u;
    for (std::int64_t j = 0; j < m; ++j) {
      const double v = pot[static_cast<std::size_t>(n + j)] - delta[static_cast<std::size_t>(comp[static_cast<std::size_t>(n + j)])];
      EXPECT_LE(u + v, cost(i, j) + 2 * tol) << "dual constraint violated at " << i << "," << j;
      primal += static_cast<double>(plan[static_cast<std::size_t>(i * m + j)]) * cost(i, j);
    }
  }
  for (std::int64_t j = 0; j < m; ++j) {
    const double v = pot[static_cast<std::size_t>(n + j)] - delta[static_cast<std::size_t>(comp[static_cast<std::size_t>(n + j)])];
    dual += static_cast<double>(b[static_cast<std::size_t>(j)]) * mass / sb * v;
  }
  EXPECT_NEAR(dual, primal, tol * mass + 1e-300) << "duality gap";
}

// Assignment cost of x_i replicated r_i times against y_j replicated s_j times.
template <class T>
double replicated_assignment(const std::vector<std::complex<T>>& x, const std::vector<std::int64_t>& r,
                             const std::vector<std::complex<T>>& y, const std::vector<std::int64_t>& s) {
  std::vector<std::complex<T>> xx, yy;
  for (std::size_t i = 0; i < x.size(); ++i) xx.insert(xx.end(), static_cast<std::size_t>(r[i]), x[i]);
  for (std::size_t j = 0; j < y.size(); ++j) yy.insert(yy.end(), static_cast<std::size_t>(s[j]), y[j]);
  EXPECT_EQ(xx.size(), yy.size());
  const std::vector<T> c = sq_dist(xx, yy);
  return static_cast<double>(assignment_min_cost<T>(static_cast<std::int64_t>(xx.size()), c.data(), nullptr));
}

// --- assignment ------------------------------------------------------------------------------

TYPED_TEST(Assignment, MatchesBruteForceOnRandomSquares) {
  using T = TypeParam;
  for (CostKind kind : {CostKind::uniform01, CostKind::integer_ties, CostKind::negative, CostKind::huge}) {
    for (std::int64_t n = 0; n <= 8; ++n) {
      for (std::uint64_t seed = 1; seed <= (n <= 6 ? 40u : 6u); ++seed) {
        std::mt19937_64 rng(seed * 1000 + static_cast<std::uint64_t>(n));
        const std::vector<T> c = random_costs<T>(n * n, kind, rng);
        std::vector<std::int64_t> col(static_cast<std::size_t>(n), -1);
        const T got = assignment_min_cost<T>(n, c.data(), col.data());
        const double want = brute_force_assignment(n, c);
        SCOPED_TRACE(testing::Message() << "n " << n << " seed " << seed << " kind " << static_cast<int>(kind));
        const double tol = 4.0 * static_cast<double>(n + 1) * eps<T>() * max_abs(to_doubles(c));  // c = 4
        EXPECT_NEAR(static_cast<double>(got), want, tol);
        expect_permutation_with_cost(n, c, col, got, tol);
        if (kind == CostKind::integer_ties) {
          EXPECT_EQ(static_cast<double>(got), want);  // small integers: exact sums
        }
      }
    }
  }
}

TEST(AssignmentEdge, SizesZeroOneAndTies) {
  EXPECT_EQ(assignment_min_cost<double>(0, nullptr, nullptr), 0.0);
  const double one = -3.5;
  std::int64_t col = -1;
  EXPECT_EQ(assignment_min_cost<double>(1, &one, &col), -3.5);
  EXPECT_EQ(col, 0);
  // All-equal costs: any permutation is optimal.
  const std::vector<double> flat(49, 2.0);
  std::vector<std::int64_t> p(7);
  EXPECT_EQ(assignment_min_cost<double>(7, flat.data(), p.data()), 14.0);
  expect_permutation_with_cost<double>(7, flat, p, 14.0, 0.0);
  // Anti-diagonal optimum.
  const std::vector<double> anti = {5, 5, 0, 5, 0, 5, 0, 5, 5};
  EXPECT_EQ(assignment_min_cost<double>(3, anti.data(), p.data()), 0.0);
  EXPECT_EQ(p[0], 2);
  EXPECT_EQ(p[1], 1);
  EXPECT_EQ(p[2], 0);
}

TEST(AssignmentEdge, ScalesCostsNearTheOverflowLimit) {
  const double big = std::numeric_limits<double>::max() / 4;
  const std::vector<double> c = {big, 0.5 * big, 0.25 * big, 0.5 * big, 0.25 * big, big, 0.25 * big, big, 0.5 * big};
  std::vector<std::int64_t> p(3);
  const double got = assignment_min_cost<double>(3, c.data(), p.data());
  EXPECT_TRUE(std::isfinite(got));
  EXPECT_NEAR(got, brute_force_assignment<double>(3, c), 1e-15 * big);
}

TEST(AssignmentEdge, IsDeterministic) {
  std::mt19937_64 rng(5);
  const std::vector<double> c = random_costs<double>(40 * 40, CostKind::integer_ties, rng);
  std::vector<std::int64_t> p1(40), p2(40);
  EXPECT_EQ(assignment_min_cost<double>(40, c.data(), p1.data()), assignment_min_cost<double>(40, c.data(), p2.data()));
  EXPECT_EQ(p1, p2);
}

// --- transport -------------------------------------------------------------------------------

TYPED_TEST(Transport, UniformSquareMatchesAssignment) {
  using T = TypeParam;
  for (std::int64_t n : {1, 2, 3, 8, 31, 32, 33, 64}) {
    for (std::uint64_t seed = 1; seed <= 4; ++seed) {
      std::mt19937_64 rng(seed + 77 * static_cast<std::uint64_t>(n));
      for (CostKind kind : {CostKind::uniform01, CostKind::integer_ties, CostKind::negative}) {
        const std::vector<T> c = random_costs<T>(n * n, kind, rng);
        const std::vector<T> ones(static_cast<std::size_t>(n), T(1));
        std::vector<T> plan(static_cast<std::size_t>(n * n));
        const T got = transport_min_cost<T>(n, ones.data(), n, ones.data(), c.data(), plan.data());
        const T want = assignment_min_cost<T>(n, c.data(), nullptr);
        SCOPED_TRACE(testing::Message() << "n " << n << " seed " << seed << " kind " << static_cast<int>(kind));
        const double scale = max_abs(to_doubles(c)) * static_cast<double>(n);
        const double tol = 16.0 * static_cast<double>(2 * n) * eps<T>() * scale;  // c = 16
        EXPECT_NEAR(static_cast<double>(got), static_cast<double>(want), tol);
        expect_feasible(n, n, ones, ones, c, plan, got, 4.0 * eps<T>() * static_cast<double>(n), tol);
      }
    }
  }
}

TYPED_TEST(Transport, UniformUnequalSizesMatchLcmReplication) {
  using T = TypeParam;
  const std::vector<std::pair<std::int64_t, std::int64_t>> sizes = {{6, 4}, {3, 5}, {7, 2}, {2, 7}, {1, 5},
                                                                     {5, 1}, {12, 18}, {9, 15}};
  for (auto [n, m] : sizes) {
    for (std::uint64_t seed = 1; seed <= 5; ++seed) {
      std::mt19937_64 rng(seed * 31 + static_cast<std::uint64_t>(n * 100 + m));
      const auto x = random_points<T>(n, rng), y = random_points<T>(m, rng);
      const std::vector<T> c = sq_dist(x, y);
      const std::vector<T> a(static_cast<std::size_t>(n), T(1) / static_cast<T>(n));
      const std::vector<T> b(static_cast<std::size_t>(m), T(1) / static_cast<T>(m));
      std::vector<T> plan(static_cast<std::size_t>(n * m));
      const T got = transport_min_cost<T>(n, a.data(), m, b.data(), c.data(), plan.data());
      const std::int64_t l = std::lcm(n, m);
      const double want = replicated_assignment(x, std::vector<std::int64_t>(static_cast<std::size_t>(n), l / n), y,
                                                std::vector<std::int64_t>(static_cast<std::size_t>(m), l / m)) /
                          static_cast<double>(l);
      SCOPED_TRACE(testing::Message() << n << " vs " << m << " seed " << seed);
      const double tol = 16.0 * static_cast<double>(l) * eps<T>() * max_abs(to_doubles(c));  // c = 16
      EXPECT_NEAR(static_cast<double>(got), want, tol);
      expect_feasible(n, m, a, b, c, plan, got, 8.0 * eps<T>(), tol);
      expect_optimal_by_duals(n, m, a, b, c, plan, tol);
      // Through the Wasserstein entry point (uniform weights, n != m → transport).
      EXPECT_NEAR(static_cast<double>(wasserstein2_squared<T>(x.data(), n, y.data(), m)), want, tol);
    }
  }
}

TYPED_TEST(Transport, IntegerWeightsMatchReplicatedAssignment) {
  using T = TypeParam;
  for (std::uint64_t seed = 1; seed <= 60; ++seed) {
    std::mt19937_64 rng(seed);
    const std::int64_t n = 1 + static_cast<std::int64_t>(rng() % 7), m = 1 + static_cast<std::int64_t>(rng() % 7);
    std::vector<std::int64_t> r(static_cast<std::size_t>(n)), s(static_cast<std::size_t>(m), 0);
    std::int64_t total = 0;
    for (auto& k : r) total += (k = static_cast<std::int64_t>(rng() % 4));  // zeros included
    if (total == 0) total = r[0] = 1;
    for (std::int64_t u = 0; u < total; ++u) ++s[static_cast<std::size_t>(rng() % static_cast<std::uint64_t>(m))];
    const auto x = random_points<T>(n, rng), y = random_points<T>(m, rng);
    const std::vector<T> c = sq_dist(x, y);
    std::vector<T> a(r.begin(), r.end()), b(s.begin(), s.end());
    for (auto& w : a) w /= static_cast<T>(total);  // probability weights
    for (auto& w : b) w /= static_cast<T>(total);
    std::vector<T> plan(static_cast<std::size_t>(n * m));
    const T got = transport_min_cost<T>(n, a.data(), m, b.data(), c.data(), plan.data());
    const double want = replicated_assignment(x, r, y, s) / static_cast<double>(total);
    SCOPED_TRACE(testing::Message() << "seed " << seed << ": " << n << " vs " << m << ", total " << total);
    const double tol = 16.0 * static_cast<double>(total + n + m) * eps<T>() * max_abs(to_doubles(c));  // c = 16
    EXPECT_NEAR(static_cast<double>(got), want, tol);
    expect_feasible(n, m, a, b, c, plan, got, 8.0 * eps<T>(), tol);
    for (std::int64_t i = 0; i < n; ++i) {
      if (r[static_cast<std::size_t>(i)] != 0) continue;
      for (std::int64_t j = 0; j < m; ++j) EXPECT_EQ(plan[static_cast<std::size_t>(i * m + j)], T(0));
    }
  }
}

TYPED_TEST(Transport, RandomWeightsHaveOptimalityCertificate) {
  using T = TypeParam;
  for (std::uint64_t seed = 1; seed <= 40; ++seed) {
    std::mt19937_64 rng(seed + 4242);
    const std::int64_t n = 1 + static_cast<std::int64_t>(rng() % 40), m = 1 + static_cast<std::int64_t>(rng() % 40);
    std::uniform_real_distribution<double> u01(0.0, 1.0);
    std::vector<T> a(static_cast<std::size_t>(n)), b(static_cast<std::size_t>(m));
    for (auto& w : a) w = static_cast<T>(u01(rng) < 0.15 ? 0.0 : u01(rng));
    for (auto& w : b) w = static_cast<T>(u01(rng));
    a[0] += T(0.01);
    CostKind kind = seed % 3 == 0 ? CostKind::negative : seed % 3 == 1 ? CostKind::integer_ties : CostKind::uniform01;
    const std::vector<T> c = random_costs<T>(n * m, kind, rng);
    std::vector<T> plan(static_cast<std::size_t>(n * m));
    const T got = transport_min_cost<T>(n, a.data(), m, b.data(), c.data(), plan.data());
    SCOPED_TRACE(testing::Message() << "seed " << seed << ": " << n << " vs " << m);
    double sa = 0, sb = 0;
    for (T w : a) sa += static_cast<double>(w);
    for (T w : b) sb += static_cast<double>(w);
    const double mass = 0.5 * (sa + sb);
    const double tol = 16.0 * static_cast<double>(n + m) * eps<T>() * max_abs(to_doubles(c));  // c = 16
    expect_feasible(n, m, a, b, c, plan, got, 8.0 * eps<T>() * mass, tol * mass);
    expect_optimal_by_duals(n, m, a, b, c, plan, tol);
    // Symmetry: transposing the problem gives the same value.
    std::vector<T> ct(c.size());
    for (std::int64_t i = 0; i < n; ++i)
      for (std::int64_t j = 0; j < m; ++j) ct[static_cast<std::size_t>(j * n + i)] = c[static_cast<std::size_t>(i * m + j)];
    EXPECT_NEAR(static_cast<double>(transport_min_cost<T>(m, b.data(), n, a.data(), ct.data(), nullptr)),
                static_cast<double>(got), tol * mass);
  }
}

TYPED_TEST(Transport, DegenerateInputs) {
  using T = TypeParam;
  // All points equal: zero cost, any feasible plan.
  {
    const std::vector<T> c(6 * 4, T(0));
    const std::vector<T> a(6, T(1) / 6), b(4, T(1) / 4);
    std::vector<T> plan(24);
    EXPECT_EQ(transport_min_cost<T>(6, a.data(), 4, b.data(), c.data(), plan.data()), T(0));
    expect_feasible(6, 4, a, b, c, plan, T(0), 8 * eps<T>(), 0.0);
    const std::vector<std::complex<T>> x(5, {T(0.3), T(-0.2)}), y(3, {T(0.3), T(-0.2)});
    EXPECT_EQ(wasserstein2_squared<T>(x.data(), 5, y.data(), 3), T(0));
  }
  // Constant cost 5: the value is 5 · mass.
  {
    const std::vector<T> c(5 * 5, T(5));
    const std::vector<T> a(5, T(0.2));
    EXPECT_NEAR(static_cast<double>(transport_min_cost<T>(5, a.data(), 5, a.data(), c.data(), nullptr)), 5.0,
                64 * eps<T>());
  }
  // Zero weights: same value as the problem without those points; their rows and columns stay 0.
  {
    std::mt19937_64 rng(9);
    const auto x = random_points<T>(6, rng), y = random_points<T>(5, rng);
    const std::vector<T> a = {0, T(0.25), 0, T(0.5), T(0.25), 0}, b = {T(0.4), 0, T(0.6), 0, 0};
    const std::vector<T> c = sq_dist(x, y);
    std::vector<T> plan(30);
    const T got = transport_min_cost<T>(6, a.data(), 5, b.data(), c.data(), plan.data());
    const std::vector<std::complex<T>> xr = {x[1], x[3], x[4]}, yr = {y[0], y[2]};
    const std::vector<T> ar = {T(0.25), T(0.5), T(0.25)}, br = {T(0.4), T(0.6)};
    const std::vector<T> cr = sq_dist(xr, yr);
    const T want = transport_min_cost<T>(3, ar.data(), 2, br.data(), cr.data(), nullptr);
    EXPECT_NEAR(static_cast<double>(got), static_cast<double>(want), 16 * eps<T>());
    expect_feasible(6, 5, a, b, c, plan, got, 8 * eps<T>(), 64 * eps<T>());
    // Weighted Wasserstein with the same weights agrees.
    EXPECT_NEAR(static_cast<double>(wasserstein2_squared<T>(x.data(), 6, y.data(), 5, a.data(), b.data())),
                static_cast<double>(want), 64 * eps<T>());
  }
  // Single point on one side: everything moves to (or from) it.
  {
    const std::vector<T> a = {T(2)}, b = {T(0.5), T(1.5)}, c = {T(3), T(1)};
    std::vector<T> plan(2);
    EXPECT_NEAR(static_cast<double>(transport_min_cost<T>(1, a.data(), 2, b.data(), c.data(), plan.data())),
                0.5 * 3 + 1.5 * 1, 16 * eps<T>());
  }
}

// Many duplicate points on a small grid (integer costs, massive ties) with uniform weights: every
// partial sum of the marginals coincides somewhere, so most pivots are degenerate. Must terminate
// and agree with the lcm replication.
TYPED_TEST(Transport, TerminatesOnHighlyDegenerateProblems) {
  using T = TypeParam;
  const std::vector<std::pair<std::int64_t, std::int64_t>> sizes = {{64, 48}, {60, 60}, {40, 24}, {5, 35}};
  for (auto [n, m] : sizes) {
    std::mt19937_64 rng(static_cast<std::uint64_t>(n * 1000 + m));
    std::uniform_int_distribution<int> g(0, 2);
    std::vector<std::complex<T>> x(static_cast<std::size_t>(n)), y(static_cast<std::size_t>(m));
    for (auto& z : x) z = {static_cast<T>(g(rng)), static_cast<T>(g(rng))};
    for (auto& z : y) z = {static_cast<T>(g(rng)), static_cast<T>(g(rng))};
    const std::vector<T> c = sq_dist(x, y);
    const std::vector<T> a(static_cast<std::size_t>(n), T(1) / static_cast<T>(n));
    const std::vector<T> b(static_cast<std::size_t>(m), T(1) / static_cast<T>(m));
    std::vector<T> plan(static_cast<std::size_t>(n * m));
    const T got = transport_min_cost<T>(n, a.data(), m, b.data(), c.data(), plan.data());
    const std::int64_t l = std::lcm(n, m);
    const double want = replicated_assignment(x, std::vector<std::int64_t>(static_cast<std::size_t>(n), l / n), y,
                                              std::vector<std::int64_t>(static_cast<std::size_t>(m), l / m)) /
                        static_cast<double>(l);
    SCOPED_TRACE(testing::Message() << n << " vs " << m);
    const double tol = 16.0 * static_cast<double>(l) * eps<T>() * 8.0;  // c = 16, max cost 8
    EXPECT_NEAR(static_cast<double>(got), want, tol);
    expect_feasible(n, m, a, b, c, plan, got, 8.0 * eps<T>(), tol);
  }
}

// Weights summing to 1 ± 1e-7 (float rounding): renormalised, not treated as infeasible (an old POT
// bug returned 0). The reference renormalises in double.
TYPED_TEST(Transport, RenormalisesMarginalsThatDifferByRounding) {
  using T = TypeParam;
  std::mt19937_64 rng(17);
  const std::int64_t n = 9, m = 7;
  const auto x = random_points<T>(n, rng), y = random_points<T>(m, rng);
  const std::vector<T> c = sq_dist(x, y);
  std::uniform_real_distribution<double> u01(0.1, 1.0);
  std::vector<double> ad(static_cast<std::size_t>(n)), bd(static_cast<std::size_t>(m));
  for (auto& w : ad) w = u01(rng);
  for (auto& w : bd) w = u01(rng);
  const double sad = std::accumulate(ad.begin(), ad.end(), 0.0), sbd = std::accumulate(bd.begin(), bd.end(), 0.0);
  for (auto& w : ad) w /= sad;
  for (auto& w : bd) w /= sbd;
  std::vector<T> a(ad.begin(), ad.end()), b(bd.begin(), bd.end());
  a[0] += T(1e-7);  // now Σa = 1 + 1e-7 (plus the float rounding), Σb = 1 ± rounding
  b[1] -= T(1e-7);
  std::vector<T> plan(static_cast<std::size_t>(n * m));
  const T got = transport_min_cost<T>(n, a.data(), m, b.data(), c.data(), plan.data());
  EXPECT_GT(got, T(0));
  // Reference: the same weights renormalised to 1 in double, solved in double.
  std::vector<double> ar(a.begin(), a.end()), br(b.begin(), b.end()), cd(c.begin(), c.end());
  const double sa = std::accumulate(ar.begin(), ar.end(), 0.0), sb = std::accumulate(br.begin(), br.end(), 0.0);
  for (auto& w : ar) w /= sa;
  for (auto& w : br) w /= sb;
  const double want = transport_min_cost<double>(n, ar.data(), m, br.data(), cd.data(), nullptr);
  const double mass = 0.5 * (sa + sb);
  EXPECT_NEAR(static_cast<double>(got), want * mass, 64 * eps<T>() * max_abs(cd));  // c = 64
  expect_feasible(n, m, a, b, c, plan, got, 8 * eps<T>(), 64 * eps<T>() * max_abs(cd));
  EXPECT_NEAR(static_cast<double>(wasserstein2_squared<T>(x.data(), n, y.data(), m, a.data(), b.data())), want,
              64 * eps<T>() * max_abs(cd));
}

TYPED_TEST(Transport, LargeSizesAreFastAndFeasible) {
  using T = TypeParam;
  const std::vector<std::pair<std::int64_t, std::int64_t>> sizes = {{300, 300}, {300, 200}, {512, 512}};
  for (auto [n, m] : sizes) {
    std::mt19937_64 rng(static_cast<std::uint64_t>(n * 7 + m));
    const auto x = random_points<T>(n, rng), y = random_points<T>(m, rng);
    const std::vector<T> c = sq_dist(x, y);
    const std::vector<T> a(static_cast<std::size_t>(n), T(1) / static_cast<T>(n));
    const std::vector<T> b(static_cast<std::size_t>(m), T(1) / static_cast<T>(m));
    std::vector<T> plan(static_cast<std::size_t>(n * m));
    const auto t0 = std::chrono::steady_clock::now();
    const T got = transport_min_cost<T>(n, a.data(), m, b.data(), c.data(), plan.data());
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("[ timing   ] transport %lld x %lld (%s): %.4f s\n", static_cast<long long>(n),
                static_cast<long long>(m), sizeof(T) == 4 ? "float" : "double", seconds);
    EXPECT_LT(seconds, 1.0 * kSlowdown);
    SCOPED_TRACE(testing::Message() << n << " vs " << m);
    const double tol = 16.0 * static_cast<double>(n + m) * eps<T>() * max_abs(to_doubles(c));  // c = 16
    expect_feasible(n, m, a, b, c, plan, got, 1e-12 + 4.0 * eps<T>(), tol);
    if (n == m) {
      const auto t1 = std::chrono::steady_clock::now();
      const double want = static_cast<double>(assignment_min_cost<T>(n, c.data(), nullptr)) / static_cast<double>(n);
      const double s2 = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
      std::printf("[ timing   ] assignment %lld (%s): %.4f s\n", static_cast<long long>(n),
                  sizeof(T) == 4 ? "float" : "double", s2);
      EXPECT_LT(s2, 1.0 * kSlowdown);
      EXPECT_NEAR(static_cast<double>(got), want, tol);
    } else {
      const std::int64_t l = std::lcm(n, m);  // 600: a 600×600 assignment
      const double want = replicated_assignment(x, std::vector<std::int64_t>(static_cast<std::size_t>(n), l / n), y,
                                                std::vector<std::int64_t>(static_cast<std::size_t>(m), l / m)) /
                          static_cast<double>(l);
      EXPECT_NEAR(static_cast<double>(got), want, 16.0 * static_cast<double>(l) * eps<T>() * max_abs(to_doubles(c)));
    }
  }
}

template <class F>
void expect_invalid(F&& f, const std::string& needle) {
  try {
    f();
    ADD_FAILURE() << "expected std::invalid_argument mentioning " << needle;
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TYPED_TEST(Transport, BadInputThrows) {
  using T = TypeParam;
  const T nan = std::numeric_limits<T>::quiet_NaN(), inf = std::numeric_limits<T>::infinity();
  const std::vector<T> c = {1, 2, 3, 4}, w = {T(0.5), T(0.5)};
  std::vector<T> bad = c;
  bad[2] = nan;
  expect_invalid([&] { assignment_min_cost<T>(2, bad.data(), nullptr); }, "NaN");
  expect_invalid([&] { transport_min_cost<T>(2, w.data(), 2, w.data(), bad.data(), nullptr); }, "NaN");
  bad[2] = inf;
  expect_invalid([&] { assignment_min_cost<T>(2, bad.data(), nullptr); }, "Inf");
  expect_invalid([&] { transport_min_cost<T>(2, w.data(), 2, w.data(), bad.data(), nullptr); }, "Inf");
  expect_invalid([&] { assignment_min_cost<T>(-1, c.data(), nullptr); }, "n");
  expect_invalid([&] { assignment_min_cost<T>(2, static_cast<const T*>(nullptr), nullptr); }, "`cost`");
  const std::vector<T> neg = {T(1.5), T(-0.5)}, wnan = {T(1), nan}, zero = {T(0), T(0)}, winf = {inf, T(1)};
  expect_invalid([&] { transport_min_cost<T>(2, neg.data(), 2, w.data(), c.data(), nullptr); }, "negative");
  expect_invalid([&] { transport_min_cost<T>(2, w.data(), 2, wnan.data(), c.data(), nullptr); }, "`b` contains NaN");
  expect_invalid([&] { transport_min_cost<T>(2, zero.data(), 2, w.data(), c.data(), nullptr); }, "zero total mass");
  expect_invalid([&] { transport_min_cost<T>(2, winf.data(), 2, w.data(), c.data(), nullptr); }, "Inf");
  expect_invalid([&] { transport_min_cost<T>(0, w.data(), 2, w.data(), c.data(), nullptr); }, "zero total mass");
  expect_invalid([&] { transport_min_cost<T>(2, w.data(), 2, w.data(), static_cast<const T*>(nullptr), nullptr); },
                 "`cost`");
  const std::vector<std::complex<T>> x = {{0, 0}, {nan, 0}}, y = {{0, 0}, {1, 0}};
  expect_invalid([&] { wasserstein2_squared<T>(x.data(), 2, y.data(), 2); }, "`x` contains NaN");
  expect_invalid([&] { wasserstein2_squared<T>(y.data(), 0, y.data(), 2); }, "nonempty");
  expect_invalid([&] { wasserstein2_squared<T>(y.data(), 2, y.data(), 2, neg.data()); }, "negative");
  expect_invalid([&] { wasserstein2_squared_padded<T>(y.data(), 0, y.data(), 0); }, "empty");
}

// --- Wasserstein-2 ---------------------------------------------------------------------------

TYPED_TEST(Wasserstein, IdenticalSetsGiveExactlyZero) {
  using T = TypeParam;
  std::mt19937_64 rng(3);
  for (std::int64_t n : {1, 2, 7, 33}) {
    const auto x = random_points<T>(n, rng);
    auto y = x;
    std::reverse(y.begin(), y.end());  // same set, another order
    EXPECT_EQ(wasserstein2_squared<T>(x.data(), n, y.data(), n), T(0));
    std::vector<T> w(static_cast<std::size_t>(n));
    for (std::int64_t i = 0; i < n; ++i) w[static_cast<std::size_t>(i)] = static_cast<T>(i + 1);
    std::vector<T> wr(w.rbegin(), w.rend());
    EXPECT_EQ(wasserstein2_squared<T>(x.data(), n, y.data(), n, w.data(), wr.data()), T(0));
    EXPECT_EQ(wasserstein2_squared_padded<T>(x.data(), n, y.data(), n), T(0));
  }
}

TYPED_TEST(Wasserstein, HandExamples) {
  using T = TypeParam;
  using C = std::complex<T>;
  const double tol = 16 * eps<T>();
  // {0, 1} vs {0, 2}: match 0↔0 (0) and 1↔2 (1), mean 1/2 (the other matching costs (4 + 1)/2).
  const std::vector<C> a = {C(0, 0), C(1, 0)}, b = {C(0, 0), C(2, 0)};
  EXPECT_NEAR(static_cast<double>(wasserstein2_squared<T>(a.data(), 2, b.data(), 2)), 0.5, tol);
  // {1+i} vs {−1−i}: |2+2i|² = 8.
  const C p(1, 1), q(-1, -1);
  EXPECT_NEAR(static_cast<double>(wasserstein2_squared<T>(&p, 1, &q, 1)), 8.0, tol);
  // {0} vs {1, i}: half the mass moves 1, half moves 1: W2² = 1.
  const C o(0, 0);
  const std::vector<C> d = {C(1, 0), C(0, 1)};
  EXPECT_NEAR(static_cast<double>(wasserstein2_squared<T>(&o, 1, d.data(), 2)), 1.0, tol);
  // {0, 1, 2} (1/3 each) vs {0, 2} (1/2 each): 0→0 and 2→2 carry 1/3, the point 1 splits 1/6 + 1/6
  // at cost 1 each: W2² = 1/3.
  const std::vector<C> e = {C(0, 0), C(1, 0), C(2, 0)}, f = {C(0, 0), C(2, 0)};
  EXPECT_NEAR(static_cast<double>(wasserstein2_squared<T>(e.data(), 3, f.data(), 2)), 1.0 / 3.0, tol);
  // Weighted: {0, 1} with weights (3, 1) vs {0, 1} with (1, 1): 1/4 of the mass moves 0→1: 1/4.
  const std::vector<T> wa = {3, 1}, wb = {1, 1};
  const std::vector<C> g = {C(0, 0), C(1, 0)};
  EXPECT_NEAR(static_cast<double>(wasserstein2_squared<T>(g.data(), 2, g.data(), 2, wa.data(), wb.data())), 0.25, tol);
  // Equal non-null weights with n == m take the assignment path and agree with null weights.
  const std::vector<T> w2 = {T(0.5), T(0.5)};
  EXPECT_NEAR(static_cast<double>(wasserstein2_squared<T>(a.data(), 2, b.data(), 2, w2.data(), w2.data())), 0.5, tol);
  // Padded: {1, 2} vs {3}: pad {3, 0}; matching 1↔0, 2↔3 costs (1 + 1)/2 = 1 (the other (4 + 4)/2).
  const std::vector<C> h = {C(1, 0), C(2, 0)};
  const C three(3, 0);
  EXPECT_NEAR(static_cast<double>(wasserstein2_squared_padded<T>(h.data(), 2, &three, 1)), 1.0, tol);
  // Unpadded: {1, 2} vs {3}: (4 + 1)/2 = 2.5.
  EXPECT_NEAR(static_cast<double>(wasserstein2_squared<T>(h.data(), 2, &three, 1)), 2.5, tol);
}

TYPED_TEST(Wasserstein, PaddedAndUniformVariantsDifferAndMatchDefinitions) {
  using T = TypeParam;
  std::mt19937_64 rng(11);
  auto x = random_points<T>(6, rng), y = random_points<T>(4, rng);
  for (auto& z : x) z += std::complex<T>(2, 0);  // away from the origin, where padding puts points
  for (auto& z : y) z += std::complex<T>(2, 0);
  const T uniform = wasserstein2_squared<T>(x.data(), 6, y.data(), 4);
  const T padded = wasserstein2_squared_padded<T>(x.data(), 6, y.data(), 4);
  const double scale = 16.0;  // |x − y|² <= about 16 here
  const double tol = 64 * eps<T>() * scale;  // c = 64
  // Uniform: lcm(6, 4) = 12 replicas, x twice, y three times.
  const double want_uniform = replicated_assignment(x, std::vector<std::int64_t>(6, 2), y, std::vector<std::int64_t>(4, 3)) / 12.0;
  EXPECT_NEAR(static_cast<double>(uniform), want_uniform, tol);
  // Padded: y plus two zeros, a 6×6 assignment over 6.
  std::vector<std::complex<T>> yp = y;
  yp.resize(6, std::complex<T>(0, 0));
  const std::vector<T> cp = sq_dist(x, yp);
  EXPECT_NEAR(static_cast<double>(padded), brute_force_assignment<T>(6, cp) / 6.0, tol);
  EXPECT_NEAR(static_cast<double>(padded), static_cast<double>(wasserstein2_squared<T>(x.data(), 6, yp.data(), 6)), tol);
  EXPECT_GT(std::fabs(static_cast<double>(padded) - static_cast<double>(uniform)), 0.1);
  // Padding is symmetric in which side is smaller.
  EXPECT_NEAR(static_cast<double>(wasserstein2_squared_padded<T>(y.data(), 4, x.data(), 6)), static_cast<double>(padded), tol);
}

}  // namespace
