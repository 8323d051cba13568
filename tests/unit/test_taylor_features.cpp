// Taylor-attention feature maps and state (include/dynx/math/taylor.hpp, spec attention.md §3–5,
// §10 V1–V3, V5, V6, V10, V12):
// the feature counts of spec §3.4, every feature against an independent enumeration of the
// multisets in graded colex order, the exact inner products (q·k)^p/p! and T_D(q·k/c), the
// multiset-permutation counts; the recurrent state and readout against the naive series (causal and
// not), the degenerate degrees, the odd-degree guard, and the token count past 2^24.

#include <dynx/math/taylor.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

namespace dynx::test {
namespace {

using math::taylor_degree_features;
using math::taylor_feature_map;
using math::taylor_features;

// Features of degree p (offset and count inside Ψ_D).
std::int64_t level_offset(int d, int p) { return p == 0 ? 0 : taylor_features(d, p - 1); }

template <class T>
std::vector<T> features(const std::vector<T>& x, int d, int D, T scale = T(1), bool weighted = true) {
  const std::int64_t n = taylor_features(d, D);
  std::vector<T> psi(static_cast<std::size_t>(n));
  std::vector<unsigned char> run(static_cast<std::size_t>(n));
  taylor_feature_map(x.data(), d, D, scale, psi.data(), run.data(), weighted);
  return psi;
}

TEST(TaylorFeatures, CountsMatchTheSpecTable) {
  const std::int64_t m8[] = {1, 8, 36, 120, 330, 792, 1716, 3432};
  const std::int64_t M8[] = {1, 9, 45, 165, 495, 1287, 3003, 6435};
  const std::int64_t m16[] = {1, 16, 136, 816, 3876, 15504, 54264, 170544};
  const std::int64_t M16[] = {1, 17, 153, 969, 4845, 20349, 74613, 245157};
  for (int p = 0; p < 8; ++p) {
    EXPECT_EQ(taylor_degree_features(8, p), m8[p]);
    EXPECT_EQ(taylor_features(8, p), M8[p]);
    EXPECT_EQ(taylor_degree_features(16, p), m16[p]);
    EXPECT_EQ(taylor_features(16, p), M16[p]);
  }
  EXPECT_EQ(taylor_degree_features(64, 5), 10424128);
  EXPECT_EQ(taylor_features(64, 5), 11238513);
  EXPECT_EQ(taylor_features(32, 5), 435897);
  EXPECT_EQ(math::taylor_binomial(200, 100), -1);  // overflow is reported, not wrapped
}

// The multisets of size p over [0, d) as sorted tuples, in graded colex order (largest index
// first, then recursively), enumerated directly.
std::vector<std::vector<int>> colex_multisets(int d, int p) {
  std::vector<std::vector<int>> all;
  std::vector<int> t(static_cast<std::size_t>(p), 0);
  if (p == 0) return {{}};
  while (true) {
    all.push_back(t);
    int i = p - 1;
    while (i >= 0 && t[static_cast<std::size_t>(i)] == d - 1) --i;
    if (i < 0) break;
    const int v = t[static_cast<std::size_t>(i)] + 1;
    for (int k = i; k < p; ++k) t[static_cast<std::size_t>(k)] = v;
  }
  std::sort(all.begin(), all.end(), [](const std::vector<int>& a, const std::vector<int>& b) {
    return std::lexicographical_compare(a.rbegin(), a.rend(), b.rbegin(), b.rend());
  });
  return all;
}

// Every feature equals x^a / sqrt(a!) of the multiset at its position (float64, 1e-14 relative).
TEST(TaylorFeatures, EveryFeatureIsItsWeightedMonomial) {
  std::mt19937_64 rng(1);
  std::normal_distribution<double> g;
  for (int d : {1, 2, 3, 5}) {
    const int D = 5;
    std::vector<double> x(static_cast<std::size_t>(d));
    for (auto& v : x) v = g(rng);
    const std::vector<double> psi = features(x, d, D);
    for (int p = 0; p <= D; ++p) {
      const auto sets = colex_multisets(d, p);
      ASSERT_EQ(std::int64_t(sets.size()), taylor_degree_features(d, p));
      for (std::size_t f = 0; f < sets.size(); ++f) {
        double mono = 1, fact = 1;
        int run = 0;
        for (std::size_t k = 0; k < sets[f].size(); ++k) {
          mono *= x[static_cast<std::size_t>(sets[f][k])];
          run = k > 0 && sets[f][k] == sets[f][k - 1] ? run + 1 : 1;
          fact *= run;
        }
        const double want = mono / std::sqrt(fact);
        const double got = psi[static_cast<std::size_t>(level_offset(d, p)) + f];
        EXPECT_NEAR(got, want, 1e-14 * std::max(1.0, std::fabs(want))) << "d " << d << " p " << p << " f " << f;
      }
    }
  }
}

// Spec V1: ⟨ψ_p(q), ψ_p(k)⟩ = (q·k)^p / p!, error normalised by ‖q‖^p ‖k‖^p / p!: ≤ 1e-12 in
// float64, ≤ 1e-5 in float32.
template <class T>
void check_degree_identity(double tol) {
  std::mt19937_64 rng(2);
  std::normal_distribution<double> g;
  for (int d : {1, 2, 3, 8, 16}) {
    const int D = 6;
    for (int trial = 0; trial < 3; ++trial) {
      std::vector<T> q(static_cast<std::size_t>(d)), k(q.size());
      double qk = 0, nq = 0, nk = 0;
      for (std::size_t i = 0; i < q.size(); ++i) {
        q[i] = T(g(rng));
        k[i] = T(g(rng));
        qk += double(q[i]) * double(k[i]);
        nq += double(q[i]) * double(q[i]);
        nk += double(k[i]) * double(k[i]);
      }
      const std::vector<T> fq = features(q, d, D), fk = features(k, d, D);
      double fact = 1;
      for (int p = 0; p <= D; ++p) {
        if (p > 0) fact *= p;
        double dot = 0;
        const std::int64_t off = level_offset(d, p), m = taylor_degree_features(d, p);
        for (std::int64_t f = off; f < off + m; ++f)
          dot += double(fq[static_cast<std::size_t>(f)]) * double(fk[static_cast<std::size_t>(f)]);
        const double want = std::pow(qk, p) / fact;
        const double norm = std::pow(std::sqrt(nq * nk), p) / fact;
        EXPECT_LE(std::fabs(dot - want) / norm, tol) << "d " << d << " p " << p;
      }
    }
  }
}

TEST(TaylorFeatures, DegreeInnerProductsAreExactFloat64) { check_degree_identity<double>(1e-12); }
TEST(TaylorFeatures, DegreeInnerProductsAreExactFloat32) { check_degree_identity<float>(1e-5); }

// Spec V2: with q and k scaled by c^{-1/2}, ⟨Ψ_D(q̃), Ψ_D(k̃)⟩ = T_D(q·k / c), D = 0 … 8, against
// the series summed directly (error normalised by Σ_p |x|^p / p! with |x| ≤ ‖q‖‖k‖/c).
TEST(TaylorFeatures, CombinedKernelIsTheTruncatedSeries) {
  std::mt19937_64 rng(3);
  std::normal_distribution<double> g;
  for (int d : {2, 8, 16}) {
    std::vector<double> q(static_cast<std::size_t>(d)), k(q.size());
    for (std::size_t i = 0; i < q.size(); ++i) {
      q[i] = g(rng);
      k[i] = g(rng);
    }
    const double c = std::sqrt(double(d)), s = 1 / std::sqrt(c);
    double qk = 0, nq = 0, nk = 0;
    for (std::size_t i = 0; i < q.size(); ++i) {
      qk += q[i] * k[i];
      nq += q[i] * q[i];
      nk += k[i] * k[i];
    }
    const double x = qk / c, bound = std::sqrt(nq * nk) / c;
    for (int D = 0; D <= (d == 16 ? 6 : 8); ++D) {
      const std::vector<double> fq = features(q, d, D, s), fk = features(k, d, D, s);
      double dot = 0;
      for (std::size_t f = 0; f < fq.size(); ++f) dot += fq[f] * fk[f];
      double want = 0, norm = 0, term = 1, tnorm = 1;
      for (int p = 0; p <= D; ++p) {
        if (p > 0) {
          term *= x / p;
          tnorm *= bound / p;
        }
        want += term;
        norm += tnorm;
      }
      EXPECT_LE(std::fabs(dot - want) / norm, 1e-12) << "d " << d << " D " << D;
    }
  }
}

// The multiset-permutation counts p!/a!: the d = 3, p = 3 values of spec §3.3 (as a multiset: our
// order is colex, the spec lists lex), sums d^p, and ⟨C_p ⊙ Φ_p(q), Φ_p(k)⟩ = (q·k)^p with the
// unweighted monomials.
TEST(TaylorFeatures, MultiplicitiesAndUnweightedMonomials) {
  auto mults = [](int d, int p) {
    const std::int64_t n = taylor_features(d, p), m = taylor_degree_features(d, p);
    std::vector<double> out(static_cast<std::size_t>(m)), work(static_cast<std::size_t>(n));
    std::vector<unsigned char> run(static_cast<std::size_t>(n));
    math::taylor_multiplicities(d, p, out.data(), run.data(), work.data());
    return out;
  };
  std::vector<double> c33 = mults(3, 3);
  std::sort(c33.begin(), c33.end());
  EXPECT_EQ(c33, (std::vector<double>{1, 1, 1, 3, 3, 3, 3, 3, 3, 6}));
  std::mt19937_64 rng(4);
  std::normal_distribution<double> g;
  for (int d : {1, 2, 3, 8}) {
    for (int p = 0; p <= 5; ++p) {
      const std::vector<double> c = mults(d, p);
      double sum = 0;
      for (double v : c) sum += v;
      EXPECT_EQ(sum, std::pow(double(d), p)) << "d " << d << " p " << p;
      std::vector<double> q(static_cast<std::size_t>(d)), k(q.size());
      double qk = 0;
      for (std::size_t i = 0; i < q.size(); ++i) {
        q[i] = g(rng);
        k[i] = g(rng);
        qk += q[i] * k[i];
      }
      const std::vector<double> fq = features(q, d, p, 1.0, false), fk = features(k, d, p, 1.0, false);
      double dot = 0;
      const std::int64_t off = level_offset(d, p);
      for (std::size_t f = 0; f < c.size(); ++f)
        dot += c[f] * fq[static_cast<std::size_t>(off) + f] * fk[static_cast<std::size_t>(off) + f];
      EXPECT_NEAR(dot, std::pow(qk, p), 1e-11 * std::max(1.0, std::pow(std::fabs(qk), p)) * std::pow(double(d), p));
    }
  }
}

// --- The recurrent state and its readout (spec §5) ------------------------------------------------

// Taylor attention over T tokens by the state (causal: fold token i, then read q_i; non-causal:
// fold all, then read), float64.
std::vector<double> state_attention(const std::vector<double>& q, const std::vector<double>& k,
                                    const std::vector<double>& v, int T, int d, int dv, int D,
                                    bool causal, int* guarded = nullptr) {
  const std::int64_t M = taylor_features(d, D);
  const double s = 1 / std::sqrt(std::sqrt(double(d)));
  std::vector<double> S(static_cast<std::size_t>(M * dv), 0.0), z(static_cast<std::size_t>(M), 0.0);
  std::vector<double> psi(static_cast<std::size_t>(M)), y(static_cast<std::size_t>(T * dv)), num(static_cast<std::size_t>(dv));
  std::vector<unsigned char> run(static_cast<std::size_t>(M));
  auto fold = [&](int j) {
    taylor_feature_map(k.data() + j * d, d, D, s, psi.data(), run.data());
    math::taylor_state_add(psi.data(), v.data() + j * dv, M, dv, S.data(), z.data());
  };
  if (!causal)
    for (int j = 0; j < T; ++j) fold(j);
  for (int i = 0; i < T; ++i) {
    if (causal) fold(i);
    taylor_feature_map(q.data() + i * d, d, D, s, psi.data(), run.data());
    const bool ok = math::taylor_readout(psi.data(), S.data(), z.data(), M, dv, y.data() + i * dv, num.data());
    if (!ok && guarded) ++*guarded;
  }
  return y;
}

// The naive reference: weights T_D(x_ij) = Σ_p x^p/p! from the score matrix (no features), and the
// scale Σ_j |w_ij| |v_j| / |Σ_j w_ij| that bounds the rounding of the ratio.
void naive_attention(const std::vector<double>& q, const std::vector<double>& k,
                     const std::vector<double>& v, int T, int d, int dv, int D, bool causal,
                     std::vector<double>& y, std::vector<double>& scale, std::vector<double>& dens) {
  y.assign(static_cast<std::size_t>(T * dv), 0.0);
  scale.assign(static_cast<std::size_t>(T), 0.0);
  dens.assign(static_cast<std::size_t>(T), 0.0);
  for (int i = 0; i < T; ++i) {
    double den = 0, mag = 0;
    std::vector<double> num(static_cast<std::size_t>(dv), 0.0);
    for (int j = 0; j < (causal ? i + 1 : T); ++j) {
      double x = 0;
      for (int a = 0; a < d; ++a) x += q[std::size_t(i * d + a)] * k[std::size_t(j * d + a)];
      x /= std::sqrt(double(d));
      double w = 0, fact = 1;
      for (int p = 0; p <= D; ++p) {
        if (p > 0) fact *= p;
        w += std::pow(x, p) / fact;
      }
      den += w;
      double vn = 0;
      for (int c = 0; c < dv; ++c) {
        num[std::size_t(c)] += w * v[std::size_t(j * dv + c)];
        vn = std::max(vn, std::fabs(v[std::size_t(j * dv + c)]));
      }
      mag += std::fabs(w) * vn;
    }
    for (int c = 0; c < dv; ++c) y[std::size_t(i * dv + c)] = num[std::size_t(c)] / den;
    scale[std::size_t(i)] = mag / std::fabs(den);
    dens[std::size_t(i)] = den;
  }
}

std::vector<double> normal(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> g;
  std::vector<double> x(n);
  for (auto& v : x) v = g(rng);
  return x;
}

// Spec V3 and V5: the state's causal and non-causal outputs equal the naive weighted average to
// 1e-12 (relative to the ratio's own scale) for D = 0 … 4, and the non-causal output equals the
// causal one at the last position. For odd D the rows whose denominator is ≤ 0 are exactly those
// the readout's guard reports (spec §2.3).
TEST(TaylorState, MatchesTheNaiveSeriesCausalAndNot) {
  const int T = 64, d = 8, dv = 4;
  const std::vector<double> q = normal(T * d, 1), k = normal(T * d, 2), v = normal(T * dv, 3);
  for (int D = 0; D <= 4; ++D) {
    for (bool causal : {true, false}) {
      int guarded = 0;
      const std::vector<double> y = state_attention(q, k, v, T, d, dv, D, causal, &guarded);
      std::vector<double> ref, scale, den;
      naive_attention(q, k, v, T, d, dv, D, causal, ref, scale, den);
      int non_positive = 0;
      for (int i = 0; i < T; ++i) non_positive += !(den[std::size_t(i)] > 0);
      EXPECT_EQ(guarded, non_positive) << "D " << D;
      if (D % 2 == 0) {
        EXPECT_EQ(guarded, 0);
      }
      for (int i = 0; i < T; ++i)
        for (int c = 0; c < dv && den[std::size_t(i)] > 0; ++c)
          EXPECT_LE(std::fabs(y[std::size_t(i * dv + c)] - ref[std::size_t(i * dv + c)]),
                    1e-12 * std::max(1.0, scale[std::size_t(i)]))
              << "D " << D << " causal " << causal << " i " << i;
    }
    const std::vector<double> yc = state_attention(q, k, v, T, d, dv, D, true);
    const std::vector<double> yn = state_attention(q, k, v, T, d, dv, D, false);
    for (int c = 0; c < dv; ++c)
      EXPECT_NEAR(yc[std::size_t((T - 1) * dv + c)], yn[std::size_t((T - 1) * dv + c)], 1e-13);
  }
}

// Spec V6: D = 0 is the running mean of v; D = 1 weighs key j by 1 + x_ij.
TEST(TaylorState, DegenerateDegrees) {
  const int T = 20, d = 3, dv = 2;
  const std::vector<double> q = normal(T * d, 4), k = normal(T * d, 5), v = normal(T * dv, 6);
  const std::vector<double> y0 = state_attention(q, k, v, T, d, dv, 0, true);
  for (int i = 0; i < T; ++i)
    for (int c = 0; c < dv; ++c) {
      double mean = 0;
      for (int j = 0; j <= i; ++j) mean += v[std::size_t(j * dv + c)];
      EXPECT_NEAR(y0[std::size_t(i * dv + c)], mean / (i + 1), 1e-14);
    }
  EXPECT_DOUBLE_EQ(math::taylor_series(0.7, 1), 1.7);
  EXPECT_NEAR(math::taylor_series(-3.0, 4), 1.375, 1e-15);  // spec §2.2: T_4(−3) = 1.375
  EXPECT_NEAR(math::taylor_series(-1.596, 3), 0.0, 2e-4);   // spec §2.3: the root of T_3
}

// Spec V12: with odd D a denominator can be ≤ 0 (T_3(x) < 0 below x ≈ −1.596); the readout keeps
// the output finite and reports it.
TEST(TaylorState, OddDegreeGuardReportsNonPositiveDenominators) {
  const int d = 4, dv = 2, T = 1;
  std::vector<double> k = {1, 1, 1, 1}, q = {-2, -2, -2, -2}, v = {1, 2};  // x = −8/2 = −4
  int guarded = 0;
  const std::vector<double> y = state_attention(q, k, v, T, d, dv, 3, true, &guarded);
  EXPECT_EQ(guarded, 1);
  for (double val : y) EXPECT_TRUE(std::isfinite(val));
  guarded = 0;
  state_attention(q, k, v, T, d, dv, 4, true, &guarded);  // even D: T_4 > 0 everywhere
  EXPECT_EQ(guarded, 0);
}

// Spec V10 (the state's part): the token count z_0 is exact past 2^24 with a double state, where a
// float one stalls.
TEST(TaylorState, TokenCountStaysExactPast2To24InDouble) {
  const double one = 1.0, v = 0.5;
  double S = 0, z = 16777216.0;  // 2^24 tokens folded so far
  math::taylor_state_add(&one, &v, 1, 1, &S, &z);
  EXPECT_EQ(z, 16777217.0);
  float Sf = 0, zf = 16777216.0f;
  const float onef = 1.0f, vf = 0.5f;
  math::taylor_state_add(&onef, &vf, 1, 1, &Sf, &zf);
  EXPECT_EQ(zf, 16777216.0f);  // why the engine keeps the state's sums in double
}

}  // namespace
}  // namespace dynx::test
