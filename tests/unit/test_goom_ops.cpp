// Batched GOOM operations on the CPU backend (include/dynx/goom.hpp, spec goom.md §3–4):
// log-matmul-exp against a per-entry signed log-sum-exp oracle (the "exact" LMME of §3.5),
// including the two-sided-scaling example of §3.4 and decaying products; scans over chains of
// 8×8 Gaussian matrices far beyond the float64 range against a float64 product renormalised
// every step (§7.1), in both formats, both orders, chunked and not; affine recurrences against a
// sequential float64 loop. Errors are in nats (absolute errors of ln|x|).

#include "common/reference.hpp"
#include "common/test_common.hpp"

#include <dynx/goom.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <limits>
#include <random>
#include <vector>

namespace dynx::test {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// A host batch of GOOM matrices (packed) with views.
template <class T>
struct HostGoom {
  std::int64_t rows, cols, count;
  std::vector<T> lg;
  std::vector<std::uint8_t> ng;
  HostGoom(std::int64_t r, std::int64_t c, std::int64_t n)
      : rows(r), cols(c), count(n), lg(std::size_t(r * c * n)), ng(std::size_t(r * c * n)) {}
  GoomMatrixBatch<T> view() {
    return {MatrixBatch<T>(lg.data(), rows, cols, count), MatrixBatch<std::uint8_t>(ng.data(), rows, cols, count)};
  }
  GoomMatrixBatch<const T> cview() const {
    return {MatrixBatch<const T>(lg.data(), rows, cols, count),
            MatrixBatch<const std::uint8_t>(ng.data(), rows, cols, count)};
  }
  T& l(std::int64_t i, std::int64_t j, std::int64_t k = 0) { return lg[std::size_t(k * rows * cols + j * rows + i)]; }
  std::uint8_t& s(std::int64_t i, std::int64_t j, std::int64_t k = 0) {
    return ng[std::size_t(k * rows * cols + j * rows + i)];
  }
};

// Signed log-sum-exp of Σ_l ±exp(a_il + b_lj), per entry in long double: the slow exact oracle.
template <class T>
void lmme_oracle(HostGoom<T>& a, HostGoom<T>& b, std::int64_t ka, std::int64_t kb, std::int64_t i,
                 std::int64_t j, double& logmag, bool& neg) {
  long double big = -kInf;
  for (std::int64_t l = 0; l < a.cols; ++l) big = std::max<long double>(big, (long double)a.l(i, l, ka) + b.l(l, j, kb));
  if (big == -kInf) {
    logmag = -kInf;
    neg = false;
    return;
  }
  long double sum = 0;
  for (std::int64_t l = 0; l < a.cols; ++l) {
    const long double t = std::exp((long double)a.l(i, l, ka) + b.l(l, j, kb) - big);
    sum += (a.s(i, l, ka) != b.s(l, j, kb)) ? -t : t;
  }
  logmag = sum == 0 ? -kInf : double(big + std::log(std::fabs(sum)));
  neg = sum < 0;
}

template <class T>
class GoomOpsTest : public ::testing::Test {};
TYPED_TEST_SUITE(GoomOpsTest, RealTypes);

TYPED_TEST(GoomOpsTest, ConversionsRoundTrip) {
  using T = TypeParam;
  Context ctx(Device::cpu());
  std::vector<T> x = {T(3), T(-2.5), T(0), -T(0), T(1e-30), T(-7e20)};
  HostGoom<T> g(3, 2, 1);
  goom_from_real<T>(ctx, MatrixBatch<const T>(x.data(), 3, 2, 1), g.view());
  EXPECT_EQ(g.lg[2], -std::numeric_limits<T>::infinity());
  EXPECT_EQ(g.ng[1], 1);
  EXPECT_EQ(g.ng[3], 1);  // −0 keeps its sign
  std::vector<T> back(6);
  goom_to_real<T>(ctx, g.cview(), MatrixBatch<T>(back.data(), 3, 2, 1));
  for (std::size_t i = 0; i < x.size(); ++i)
    // Relative error ≈ |ln|x||·eps (the log's rounding, spec §1.5).
    EXPECT_NEAR(double(back[i]), double(x[i]), std::fabs(double(x[i])) * 60 * eps<T>()) << i;
  // A shift brings out-of-range values back: e^(1000 − 999) = e.
  HostGoom<T> h(1, 1, 1);
  h.l(0, 0) = T(1000);
  T y = 0;
  goom_to_real<T>(ctx, h.cview(), MatrixBatch<T>(&y, 1, 1, 1), T(-999));
  EXPECT_NEAR(double(y), std::exp(1.0), 1e-4);
  goom_to_real<T>(ctx, h.cview(), MatrixBatch<T>(&y, 1, 1, 1));
  EXPECT_EQ(double(y), kInf);  // overflows honestly
}

TYPED_TEST(GoomOpsTest, LmmeMatchesOracleAcrossScales) {
  using T = TypeParam;
  Context ctx(Device::cpu());
  Rng rng(7);
  std::normal_distribution<double> normal;
  std::bernoulli_distribution coin(0.5);
  const std::int64_t m = 5, k = 7, n = 4, count = 6;
  HostGoom<T> a(m, k, count), b(k, n, count), c(m, n, count);
  for (std::int64_t q = 0; q < count; ++q) {
    // Item scales from ordinary to far outside float64 (±5000 nats), including decaying ones,
    // and per-row offsets of ±300 nats so that rows sit far apart.
    const double scale = (q % 3 == 0 ? 0.0 : q % 3 == 1 ? 5000.0 : -5000.0);
    for (std::int64_t i = 0; i < m; ++i)
      for (std::int64_t l = 0; l < k; ++l) {
        a.l(i, l, q) = T(scale + 3 * normal(rng) + (i % 2) * 300.0);
        a.s(i, l, q) = coin(rng);
      }
    for (std::int64_t l = 0; l < k; ++l)
      for (std::int64_t j = 0; j < n; ++j) {
        b.l(l, j, q) = T(scale + 3 * normal(rng) - (l % 3) * 150.0);
        b.s(l, j, q) = coin(rng);
      }
  }
  a.l(1, 2, 4) = -std::numeric_limits<T>::infinity();  // exact zeros
  for (std::int64_t j = 0; j < n; ++j) b.l(3, j, 5) = -std::numeric_limits<T>::infinity();
  for (InnerPrecision p : {InnerPrecision::same, InnerPrecision::f64}) {
    LmmeOptions o;
    o.precision = p;
    BatchStatus st;
    log_matmul_exp<T>(ctx, a.cview(), b.cview(), c.view(), &st, o);
    ASSERT_TRUE(st.all_ok());
    double worst = 0;
    for (std::int64_t q = 0; q < count; ++q)
      for (std::int64_t i = 0; i < m; ++i)
        for (std::int64_t j = 0; j < n; ++j) {
          double lm;
          bool neg;
          lmme_oracle(a, b, q, q, i, j, lm, neg);
          // Only entries without heavy cancellation are checked for the value: the sum's relative
          // error is ≈ k·u·Σ|terms|/|sum| (spec §3.3), so an entry much smaller than its largest
          // term (≥ e^-3 here) is excluded from the tolerance.
          double big = -kInf;
          for (std::int64_t l = 0; l < k; ++l) big = std::max(big, double(a.l(i, l, q)) + double(b.l(l, j, q)));
          if (lm < big - 3) continue;
          EXPECT_EQ(bool(c.s(i, j, q)), neg) << q << " " << i << " " << j;
          // Error: the GEMM's relative error (k·u·e^3) plus the rounding of the log's magnitude
          // |ln| ≤ 5400 when it is stored in T (half an ulp: 2.4e-4 for float, 4.5e-13 for double).
          const double ue = p == InnerPrecision::f64 ? eps<double>() : eps<T>();
          // In `same` precision the exponent arithmetic a + r − max (magnitudes up to 10⁴) is
          // itself rounded in T: a few more ulps of |ln|.
          const double tol = 20.0 * k * ue * std::exp(3.0) +
                             (p == InnerPrecision::f64 ? 1.0 : 4.0) * std::fabs(lm) * eps<T>();
          worst = std::max(worst, std::fabs(double(c.l(i, j, q)) - lm));
          EXPECT_NEAR(double(c.l(i, j, q)), lm, tol) << q << " " << i << " " << j;
        }
    std::printf("LMME %s precision %s: max error %.3g nats\n", sizeof(T) == 4 ? "float" : "double",
                p == InnerPrecision::f64 ? "f64" : "same", worst);
  }
  // Item 5's row 3 of b is all zero: column 3 of a contributes nothing, and no NaN appears.
  for (std::int64_t i = 0; i < m; ++i)
    for (std::int64_t j = 0; j < n; ++j) EXPECT_FALSE(std::isnan(double(c.l(i, j, 5))));
}

// Spec §3.4: I (with −∞ off the diagonal) times H = [[0, 0.5], [−200, −199]] (logs) is H; the
// one-sided scaling of the reference loses row 2 (−∞) and its floor mode returns −174.67.
TYPED_TEST(GoomOpsTest, LmmeTwoSidedScalingKeepsSmallRows) {
  using T = TypeParam;
  Context ctx(Device::cpu());
  HostGoom<T> id(2, 2, 1), h(2, 2, 1), out(2, 2, 1);
  const T ninf = -std::numeric_limits<T>::infinity();
  id.l(0, 0) = 0; id.l(1, 1) = 0; id.l(0, 1) = ninf; id.l(1, 0) = ninf;
  h.l(0, 0) = 0; h.l(0, 1) = T(0.5); h.l(1, 0) = -200; h.l(1, 1) = -199;
  log_matmul_exp<T>(ctx, id.cview(), h.cview(), out.view());
  EXPECT_NEAR(double(out.l(0, 0)), 0.0, 1e-6);
  EXPECT_NEAR(double(out.l(0, 1)), 0.5, 1e-6);
  EXPECT_NEAR(double(out.l(1, 0)), -200.0, 1e-4);  // float: ulp of 200 is 1.5e-5
  EXPECT_NEAR(double(out.l(1, 1)), -199.0, 1e-4);
  // A decaying product: no clamp of the scales at 0, so e^-3000 · e^-3000 stays exact.
  HostGoom<T> x(1, 1, 1), y(1, 1, 1), z(1, 1, 1);
  x.l(0, 0) = -3000; y.l(0, 0) = -3000; y.s(0, 0) = 1;
  log_matmul_exp<T>(ctx, x.cview(), y.cview(), z.view());
  EXPECT_NEAR(double(z.l(0, 0)), -6000.0, 6000 * eps<T>());
  EXPECT_EQ(z.s(0, 0), 1);
  // All −∞ (a zero matrix) gives −∞, not NaN.
  x.l(0, 0) = ninf;
  log_matmul_exp<T>(ctx, x.cview(), y.cview(), z.view());
  EXPECT_EQ(double(z.l(0, 0)), -kInf);
}

TYPED_TEST(GoomOpsTest, LmmeBroadcastAndPerItemStatus) {
  using T = TypeParam;
  Context ctx(Device::cpu());
  Rng rng(3);
  std::normal_distribution<double> normal;
  HostGoom<T> a(3, 3, 1), b(3, 3, 4), c(3, 3, 4);
  for (auto& v : a.lg) v = T(normal(rng));
  for (auto& v : b.lg) v = T(normal(rng));
  b.lg[9 + 4] = std::numeric_limits<T>::quiet_NaN();  // item 1
  b.lg[27] = std::numeric_limits<T>::infinity();       // item 3: +∞ logmag
  GoomMatrixBatch<const T> abc = a.cview();
  abc.logmag.stride = 0;
  abc.neg.stride = 0;
  abc.logmag.count = abc.neg.count = 4;
  BatchStatus st;
  log_matmul_exp<T>(ctx, abc, b.cview(), c.view(), &st);
  EXPECT_EQ(st.at(0), MatrixStatus::ok);
  EXPECT_EQ(st.at(1), MatrixStatus::non_finite);
  EXPECT_EQ(st.at(2), MatrixStatus::ok);
  EXPECT_EQ(st.at(3), MatrixStatus::non_finite);
  EXPECT_TRUE(std::isnan(double(c.l(0, 0, 1))));
  double lm;
  bool neg;
  lmme_oracle(a, b, 0, 2, 1, 2, lm, neg);
  EXPECT_NEAR(double(c.l(1, 2, 2)), lm, 1e-4);
  // Without a status the failure throws.
  EXPECT_THROW(log_matmul_exp<T>(ctx, abc, b.cview(), c.view()), NumericalError);
}

TEST(GoomOps, BadArguments) {
  Context ctx(Device::cpu());
  HostGoom<double> a(2, 3, 1), b(2, 2, 1), c(2, 2, 1);
  EXPECT_THROW(log_matmul_exp<double>(ctx, a.cview(), b.cview(), c.view()), InvalidArgument);
  LmmeOptions o;
  o.precision = InnerPrecision::tf32;
  EXPECT_THROW(log_matmul_exp<double>(ctx, b.cview(), b.cview(), c.view(), nullptr, o), InvalidArgument);
  std::vector<double> m(4 * 6);
  HostGoom<double> out(2, 2, 6);
  EXPECT_THROW(matrix_product_scan<double>(ctx, MatrixBatch<const double>(m.data(), 2, 2, 6), 4, out.view()),
               InvalidArgument);  // 6 matrices are not chains × 4 steps
  EXPECT_THROW(matrix_product_scan<double>(ctx, MatrixBatch<const double>(m.data(), 2, 2, 6), 0, out.view()),
               InvalidArgument);
  std::vector<double> rect(6 * 6);
  EXPECT_THROW(matrix_product_scan<double>(ctx, MatrixBatch<const double>(rect.data(), 2, 3, 6), 6, out.view()),
               InvalidArgument);  // not square
}

// ------------------------------------------------------------------------------------------------
// Scans over products of Gaussian matrices.

struct Chain {
  std::int64_t d, steps, chains;
  std::vector<double> m;  // chains · steps d × d
};

Chain gaussian_chains(std::int64_t d, std::int64_t steps, std::int64_t chains, double sigma,
                      std::uint64_t seed) {
  Rng rng(seed);
  std::normal_distribution<double> normal(0.0, sigma);
  Chain c{d, steps, chains, std::vector<double>(std::size_t(d * d * steps * chains))};
  for (auto& v : c.m) v = normal(rng);
  return c;
}

// Float64 reference renormalised every step (spec §7.1): ln|P_t(i, j)| and sign for every prefix
// of chain `c`, P_t = M_t ⋯ M_1 (later_left) or M_1 ⋯ M_t.
struct PrefixRef {
  std::vector<double> lg;
  std::vector<std::uint8_t> ng;
};
PrefixRef reference_prefixes(const Chain& ch, std::int64_t c, bool later_left) {
  const std::int64_t d = ch.d;
  PrefixRef r{std::vector<double>(std::size_t(ch.steps * d * d)), std::vector<std::uint8_t>(std::size_t(ch.steps * d * d))};
  DMat p = identity(d);
  double scale = 0;  // P = e^scale · p
  for (std::int64_t t = 0; t < ch.steps; ++t) {
    DMat m(d, d);
    std::copy(ch.m.begin() + (c * ch.steps + t) * d * d, ch.m.begin() + (c * ch.steps + t + 1) * d * d, m.v.begin());
    p = later_left ? matmul(m, p) : matmul(p, m);
    const double big = max_abs(p);
    for (double& v : p.v) v /= big;
    scale += std::log(big);
    for (std::int64_t q = 0; q < d * d; ++q) {
      r.lg[std::size_t(t * d * d + q)] = p.v[std::size_t(q)] == 0 ? -kInf : std::log(std::fabs(p.v[std::size_t(q)])) + scale;
      r.ng[std::size_t(t * d * d + q)] = p.v[std::size_t(q)] < 0;
    }
  }
  return r;
}

// Errors of chain c's outputs against the reference, in nats. A float result's error is relative
// to the largest entry of its matrix, so an entry e^-g below the largest has an error up to e^g
// times larger (cancellation, as in any float product). Reported: the max error of the dominant
// entries (within e^-2 of the largest), the max over all entries of error·e^-g (the error
// relative to the largest entry), and the sign mismatches among the dominant entries.
struct ChainError {
  double dominant = 0, relative = 0;
  int signs = 0;
};
template <class T>
ChainError compare_prefixes(const HostGoom<T>& out, std::int64_t first_out, const PrefixRef& ref,
                            std::int64_t d, std::int64_t t0, std::int64_t t1) {
  ChainError e;
  for (std::int64_t t = t0; t < t1; ++t) {
    double big = -kInf;
    for (std::int64_t q = 0; q < d * d; ++q) big = std::max(big, ref.lg[std::size_t(t * d * d + q)]);
    for (std::int64_t q = 0; q < d * d; ++q) {
      const double want = ref.lg[std::size_t(t * d * d + q)];
      const std::size_t o = std::size_t((first_out + t - t0) * d * d + q);
      const double gap = big - want;
      if (gap > 30) continue;  // below what either format resolves relative to the largest entry
      const double err = std::fabs(double(out.lg[o]) - want);
      e.relative = std::max(e.relative, std::min(err, 1.0) * std::exp(-gap));
      if (gap <= 2) {
        e.dominant = std::max(e.dominant, err);
        e.signs += (out.ng[o] != 0) != (ref.ng[std::size_t(t * d * d + q)] != 0);
      }
    }
  }
  return e;
}

template <class T>
std::vector<T> as(const std::vector<double>& v) {
  return std::vector<T>(v.begin(), v.end());
}

TYPED_TEST(GoomOpsTest, ScanOfGaussianChainsBeyondFloat64) {
  using T = TypeParam;
  Context ctx(Device::cpu());
  // 3 chains of 1000 8×8 N(0,1) matrices: ln|P| reaches ≈ 975 (λ₁ = 0.9746 per step), past
  // float64's 709.8, and sign patterns change at every step.
  const Chain ch = gaussian_chains(8, 1000, 3, 1.0, 11);
  const std::vector<T> m = as<T>(ch.m);
  const MatrixBatch<const T> mb(m.data(), 8, 8, ch.steps * ch.chains);
  for (ProductOrder order : {ProductOrder::later_left, ProductOrder::later_right}) {
    std::vector<PrefixRef> refs;
    for (std::int64_t c = 0; c < ch.chains; ++c)
      refs.push_back(reference_prefixes(ch, c, order == ProductOrder::later_left));
    for (ScanFormat format : {ScanFormat::scaled, ScanFormat::goom})
      for (std::int64_t chunk : {std::int64_t(0), std::int64_t(37), std::int64_t(1000)}) {
        ProductScanOptions o;
        o.order = order;
        o.format = format;
        o.chunk = chunk;
        HostGoom<T> out(8, 8, ch.steps * ch.chains);
        BatchStatus st;
        matrix_product_scan<T>(ctx, mb, ch.steps, out.view(), &st, o);
        ASSERT_TRUE(st.all_ok());
        for (std::int64_t c = 0; c < ch.chains; ++c) {
          const ChainError e = compare_prefixes(out, c * ch.steps, refs[std::size_t(c)], 8, 0, ch.steps);
          const double err = e.dominant;
          EXPECT_EQ(e.signs, 0) << "chain " << c;
          // Tolerances in nats on the dominant entries (measured maxima over 3 chains × 1000
          // prefixes in brackets). Scaled float64 rounds at the mantissa level (≈ 1e-16 relative),
          // independent of the magnitude [2.3e-12]; GOOM float64 re-rounds every log of magnitude
          // up to 975 (ulp 1.1e-13) at each step [1.8e-10]; scaled float32 [8.8e-4]; GOOM float32
          // re-rounds at ulp(975) = 6e-5 per step and drifts as a random walk [0.064], the
          // reference format's known weakness (spec §1.5).
          const bool dbl = std::is_same_v<T, double>;
          const double tol = format == ScanFormat::scaled ? (dbl ? 1e-11 : 3e-3) : (dbl ? 1e-9 : 0.2);
          EXPECT_LT(err, tol) << "chain " << c << " format " << int(format) << " chunk " << chunk;
        }
      }
  }
}

TYPED_TEST(GoomOpsTest, ReduceEqualsLastPrefixAndGoomInputEqualsRealInput) {
  using T = TypeParam;
  Context ctx(Device::cpu());
  // Decaying chains: N(0, 0.05²) entries shrink the product by ≈ e^-2 per step (λ₁ = 0.9746 +
  // ln 0.05), so after 2000 steps ln|P| ≈ −4000: far below float64's smallest subnormal.
  const Chain ch = gaussian_chains(5, 2000, 2, 0.05, 5);
  const std::vector<T> m = as<T>(ch.m);
  const MatrixBatch<const T> mb(m.data(), 5, 5, ch.steps * ch.chains);
  HostGoom<T> incl(5, 5, ch.steps * ch.chains), red(5, 5, ch.chains), gin(5, 5, ch.steps * ch.chains),
      red2(5, 5, ch.chains);
  matrix_product_scan<T>(ctx, mb, ch.steps, incl.view());
  ProductScanOptions o;
  o.kind = ScanKind::reduce;
  matrix_product_scan<T>(ctx, mb, ch.steps, red.view(), nullptr, o);
  goom_from_real<T>(ctx, mb, gin.view());
  o.chunk = 300;
  matrix_product_scan<T>(ctx, gin.cview(), ch.steps, red2.view(), nullptr, o);
  const double tol = std::is_same_v<T, double> ? 1e-9 : 2e-3;  // nats (see the previous test)
  for (std::int64_t c = 0; c < ch.chains; ++c) {
    const PrefixRef ref = reference_prefixes(ch, c, true);
    EXPECT_LT(ref.lg[std::size_t((ch.steps - 1) * 25)], -3000.0);  // really beyond float64
    for (const ChainError& e : {compare_prefixes(incl, c * ch.steps, ref, 5, 0, ch.steps),
                                compare_prefixes(red, c, ref, 5, ch.steps - 1, ch.steps),
                                compare_prefixes(red2, c, ref, 5, ch.steps - 1, ch.steps)}) {
      std::printf("decaying %s: dominant %.3g relative %.3g signs %d\n", sizeof(T) == 4 ? "f32" : "f64", e.dominant,
                  e.relative, e.signs);
      EXPECT_EQ(e.signs, 0);
      EXPECT_LT(e.dominant, tol);
    }
  }
}

TEST(GoomOps, LongChainOf100kMatrices) {
  Context ctx(Device::cpu());
  // T = 100,000 8×8 N(0,1) matrices (ln|P| ≈ 97,500), the long case: both formats in
  // float64, the scaled format in float32, against the renormalised float64 reference.
  const Chain ch = gaussian_chains(8, 100000, 1, 1.0, 21);
  const PrefixRef ref = reference_prefixes(ch, 0, true);
  ProductScanOptions o;
  o.kind = ScanKind::reduce;
  struct Case { ScanFormat f; bool dbl; double tol; };
  // Tolerances (nats, measured in brackets): scaled f64 [2.2e-10]; GOOM f64, whose per-step
  // rounding grows with |ln| ≈ 1e5 (ulp 1.5e-11) [2.9e-7]; scaled f32 [0.012] (spec §1.5: 0.054
  // on a tree, all signs right). Complex64 GOOMs fail here (spec §1.5: 2.8 nats, wrong signs).
  for (const Case& cs : {Case{ScanFormat::scaled, true, 2e-9}, Case{ScanFormat::goom, true, 2e-6},
                         Case{ScanFormat::scaled, false, 0.1}}) {
    o.format = cs.f;
    HostGoom<double> outd(8, 8, 1);
    HostGoom<float> outf(8, 8, 1);
    ChainError r;
    if (cs.dbl) {
      matrix_product_scan<double>(ctx, MatrixBatch<const double>(ch.m.data(), 8, 8, ch.steps), ch.steps, outd.view(),
                                  nullptr, o);
      r = compare_prefixes(outd, 0, ref, 8, ch.steps - 1, ch.steps);
    } else {
      const std::vector<float> mf = as<float>(ch.m);
      matrix_product_scan<float>(ctx, MatrixBatch<const float>(mf.data(), 8, 8, ch.steps), ch.steps, outf.view(),
                                 nullptr, o);
      r = compare_prefixes(outf, 0, ref, 8, ch.steps - 1, ch.steps);
    }
    EXPECT_EQ(r.signs, 0);
    EXPECT_LT(r.dominant, cs.tol) << "format " << int(cs.f) << " double " << cs.dbl;
    std::printf("T=1e5 8x8: format %s %s: dominant %.3g relative %.3g nats\n",
                cs.f == ScanFormat::scaled ? "scaled" : "goom", cs.dbl ? "f64" : "f32", r.dominant, r.relative);
  }
}

TYPED_TEST(GoomOpsTest, ScanStatusPerChain) {
  using T = TypeParam;
  Context ctx(Device::cpu());
  const Chain ch = gaussian_chains(3, 50, 3, 1.0, 2);
  std::vector<T> m = as<T>(ch.m);
  m[std::size_t((50 + 20) * 9 + 4)] = std::numeric_limits<T>::infinity();  // chain 1, step 20
  HostGoom<T> out(3, 3, 150);
  BatchStatus st;
  ProductScanOptions o;
  o.chunk = 8;
  matrix_product_scan<T>(ctx, MatrixBatch<const T>(m.data(), 3, 3, 150), 50, out.view(), &st, o);
  EXPECT_EQ(st.at(0), MatrixStatus::ok);
  EXPECT_EQ(st.at(1), MatrixStatus::non_finite);
  EXPECT_EQ(st.at(2), MatrixStatus::ok);
  EXPECT_TRUE(std::isnan(double(out.l(0, 0, 60))));
  EXPECT_FALSE(std::isnan(double(out.l(0, 0, 120))));
}

// ------------------------------------------------------------------------------------------------
// Affine recurrences.

TYPED_TEST(GoomOpsTest, AffineRecurrenceMatchesSequentialLoop) {
  using T = TypeParam;
  Context ctx(Device::cpu());
  Rng rng(9);
  std::normal_distribution<double> normal;
  const std::int64_t d = 4, n = 2, steps = 500, chains = 3;
  for (bool diagonal : {false, true}) {
    const std::int64_t acols = diagonal ? 1 : d;
    std::vector<double> a(std::size_t(d * acols * steps * chains)), b(std::size_t(d * n * steps * chains)),
        x0(std::size_t(d * n * chains));
    // Contracting maps (spectral radius ≈ 0.95), as in DEER's linearised steps.
    for (auto& v : a) v = diagonal ? 0.95 * std::tanh(normal(rng)) : 0.95 * normal(rng) / std::sqrt(2.0 * d);
    for (auto& v : b) v = normal(rng);
    for (auto& v : x0) v = normal(rng);
    // Float64 sequential reference.
    std::vector<double> ref(b.size());
    for (std::int64_t c = 0; c < chains; ++c) {
      std::vector<double> x(x0.begin() + c * d * n, x0.begin() + (c + 1) * d * n);
      for (std::int64_t t = 0; t < steps; ++t) {
        const std::int64_t i = c * steps + t;
        std::vector<double> y(std::size_t(d * n));
        for (std::int64_t q = 0; q < n; ++q)
          for (std::int64_t r = 0; r < d; ++r) {
            double v = b[std::size_t(i * d * n + q * d + r)];
            if (diagonal) v += a[std::size_t(i * d + r)] * x[std::size_t(q * d + r)];
            else for (std::int64_t l = 0; l < d; ++l) v += a[std::size_t(i * d * d + l * d + r)] * x[std::size_t(q * d + l)];
            y[std::size_t(q * d + r)] = v;
          }
        x = y;
        std::copy(x.begin(), x.end(), ref.begin() + i * d * n);
      }
    }
    const std::vector<T> at = as<T>(a), bt = as<T>(b), xt = as<T>(x0);
    for (std::int64_t chunk : {std::int64_t(0), std::int64_t(7), std::int64_t(64), std::int64_t(500)}) {
      std::vector<T> out(b.size());
      AffineScanOptions o;
      o.chunk = chunk;
      affine_recurrence_scan<T>(ctx, MatrixBatch<const T>(at.data(), d, acols, steps * chains),
                                MatrixBatch<const T>(bt.data(), d, n, steps * chains),
                                MatrixBatch<const T>(xt.data(), d, n, chains), steps,
                                MatrixBatch<T>(out.data(), d, n, steps * chains), nullptr, o);
      double worst = 0;
      for (std::size_t i = 0; i < out.size(); ++i) worst = std::max(worst, std::fabs(double(out[i]) - ref[i]));
      // States are O(3); contraction 0.95 bounds error growth to ~1/(1 − 0.95) = 20 roundings.
      EXPECT_LT(worst, 200 * eps<T>() * 10) << "diagonal " << diagonal << " chunk " << chunk;
    }
  }
}

TEST(GoomOps, AffineRecurrenceOverflowIsReported) {
  Context ctx(Device::cpu());
  const std::int64_t steps = 2000;
  std::vector<double> a(static_cast<std::size_t>(steps), 2.0), b(static_cast<std::size_t>(steps), 1.0),
      x0(1, 1.0), x(static_cast<std::size_t>(steps));
  BatchStatus st;
  affine_recurrence_scan<double>(ctx, MatrixBatch<const double>(a.data(), 1, 1, steps),
                                 MatrixBatch<const double>(b.data(), 1, 1, steps),
                                 MatrixBatch<const double>(x0.data(), 1, 1, 1), steps,
                                 MatrixBatch<double>(x.data(), 1, 1, steps), &st);
  EXPECT_EQ(st.at(0), MatrixStatus::non_finite);  // 2^2000 overflows float64
  EXPECT_TRUE(std::isnan(x[0]));
}

}  // namespace
}  // namespace dynx::test
