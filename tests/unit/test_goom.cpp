// GOOMs and the scaled-float matrix format (include/dynx/math/goom.hpp, spec goom.md §1–3.5):
// conversions and the special values of §1.4, the complex form, monoid identities and
// associativity on random inputs, values far outside the float range, cancellation, and chains of
// matrix products far beyond float64's range against a float64 reference renormalised every step.

#include "common/reference.hpp"

#include <dynx/math/goom.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

namespace dynx::test {
namespace {

using math::Goom;

template <class T>
class GoomTest : public ::testing::Test {};
using Precisions = ::testing::Types<float, double>;
TYPED_TEST_SUITE(GoomTest, Precisions);

TYPED_TEST(GoomTest, ConversionsAndSpecialValues) {
  using T = TypeParam;
  const T inf = std::numeric_limits<T>::infinity();
  for (T x : {T(3.5), T(-3.5), T(1e-30), T(-7e20), T(1)}) {
    const Goom<T> g = math::goom_from_real(x);
    EXPECT_EQ(g.neg, x < 0);
    // Relative error ≈ |ln|x|| · eps: the log's rounding is the value's relative error (spec §1.5).
    const T eps = std::numeric_limits<T>::epsilon();
    EXPECT_NEAR(math::goom_to_real(g), x, std::fabs(x) * (std::fabs(std::log(std::fabs(x))) + 4) * eps);
  }
  const Goom<T> z = math::goom_from_real(T(0)), nz = math::goom_from_real(-T(0));
  EXPECT_EQ(z.logmag, -inf);
  EXPECT_FALSE(z.neg);
  EXPECT_TRUE(nz.neg);  // −0 keeps its sign
  EXPECT_EQ(math::goom_to_real(z), T(0));
  EXPECT_TRUE(std::signbit(math::goom_to_real(nz)));
  EXPECT_EQ(math::goom_from_real(inf).logmag, inf);
  EXPECT_FALSE(math::goom_from_real(inf).neg);
  EXPECT_TRUE(math::goom_from_real(-inf).neg);
  EXPECT_EQ(math::goom_to_real(math::goom_from_real(-inf)), -inf);
  EXPECT_TRUE(std::isnan(math::goom_from_real(std::numeric_limits<T>::quiet_NaN()).logmag));
  EXPECT_TRUE(std::isnan(math::goom_to_real(Goom<T>{std::numeric_limits<T>::quiet_NaN(), false})));
  // Beyond the float range: exporting saturates to ±inf or ±0, the GOOM itself holds it.
  EXPECT_EQ(math::goom_to_real(Goom<T>{T(1e4), true}), -inf);
  EXPECT_EQ(math::goom_to_real(Goom<T>{T(-1e4), false}), T(0));
  // Complex form: the sign is the parity of the multiple of π, robust to rounding and to k·π.
  const T pi = math::goom_pi<T>();
  EXPECT_TRUE(math::goom_from_complex(std::complex<T>(T(2), pi)).neg);
  EXPECT_FALSE(math::goom_from_complex(std::complex<T>(T(2), 2 * pi)).neg);
  EXPECT_TRUE(math::goom_from_complex(std::complex<T>(T(2), T(-3) * pi * (T(1) + T(1e-6)))).neg);
  EXPECT_FALSE(math::goom_from_complex(std::complex<T>(T(2), T(1000) * pi)).neg);
  EXPECT_TRUE(std::isnan(math::goom_from_complex(std::complex<T>(T(2), inf)).logmag));
  EXPECT_EQ(math::goom_to_complex(Goom<T>{T(-5), true}).imag(), pi);
}

TYPED_TEST(GoomTest, MonoidsAreAssociativeWithIdentities) {
  using T = TypeParam;
  Rng rng(7);
  std::normal_distribution<double> g;
  std::bernoulli_distribution coin;
  const double eps = std::numeric_limits<T>::epsilon();
  auto random_goom = [&] { return Goom<T>{T(200 * g(rng)), coin(rng)}; };
  const math::GoomMul<T> mul;
  const math::GoomAdd<T> add;
  for (int trial = 0; trial < 2000; ++trial) {
    const Goom<T> a = random_goom(), b = random_goom(), c = random_goom();
    // Multiplication: exact signs; logs add with one rounding each.
    const Goom<T> m1 = mul(mul(a, b), c), m2 = mul(a, mul(b, c));
    EXPECT_EQ(m1.neg, m2.neg);
    EXPECT_NEAR(m1.logmag, m2.logmag, 4 * eps * (std::fabs(a.logmag) + std::fabs(b.logmag) + std::fabs(c.logmag)));
    // Addition: associative up to cancellation; compare on same-sign triples (no cancellation).
    Goom<T> x = a, y = b, z = c;
    y.neg = z.neg = x.neg;
    const Goom<T> s1 = add(add(x, y), z), s2 = add(x, add(y, z));
    EXPECT_EQ(s1.neg, s2.neg);
    const double scale = std::max({std::fabs(double(x.logmag)), std::fabs(double(y.logmag)), std::fabs(double(z.logmag)), 1.0});
    EXPECT_NEAR(s1.logmag, s2.logmag, 8 * eps * scale);
    // Identities.
    EXPECT_EQ(mul(a, math::GoomMul<T>::identity()).logmag, a.logmag);
    EXPECT_EQ(mul(a, math::GoomMul<T>::identity()).neg, a.neg);
    EXPECT_EQ(add(a, math::GoomAdd<T>::identity()).logmag, a.logmag);
    EXPECT_EQ(add(math::GoomAdd<T>::identity(), a).neg, a.neg);
  }
}

TYPED_TEST(GoomTest, SumsFarOutsideTheFloatRangeAndCancellation) {
  using T = TypeParam;
  const double eps = std::numeric_limits<T>::epsilon();
  const T inf = std::numeric_limits<T>::infinity();
  // e^1e4 + e^(1e4 − 1) = e^1e4 (1 + e^-1): far beyond float64's range.
  const Goom<T> a{T(1e4), false}, b{T(1e4 - 1), false};
  const Goom<T> s = math::goom_add(a, b);
  EXPECT_NEAR(double(s.logmag), 1e4 + std::log1p(std::exp(-1.0)), 4 * eps * 1e4);
  // e^-1e4 − e^(−1e4 − 2) keeps the larger sign; a − a is exactly zero.
  const Goom<T> d = math::goom_add(Goom<T>{T(-1e4), true}, Goom<T>{T(-1e4 - 2), false});
  EXPECT_TRUE(d.neg);
  EXPECT_NEAR(double(d.logmag), -1e4 + std::log1p(-std::exp(-2.0)), 4 * eps * 1e4);
  const Goom<T> zero = math::goom_add(a, math::goom_negate(a));
  EXPECT_EQ(zero.logmag, -inf);
  // Terms 1e5 nats apart: the small one vanishes without underflowing the large one (a global
  // max over a tensor would flush the small entries of other slices; here every sum shifts by
  // its own max).
  EXPECT_EQ(math::goom_add(Goom<T>{T(5e4), false}, Goom<T>{T(-5e4), true}).logmag, T(5e4));
  // Infinities and NaN.
  EXPECT_TRUE(std::isnan(math::goom_add(Goom<T>{inf, false}, Goom<T>{inf, true}).logmag));
  EXPECT_EQ(math::goom_add(Goom<T>{inf, true}, Goom<T>{T(3), false}).logmag, inf);
  EXPECT_TRUE(std::isnan(math::goom_add(Goom<T>{std::numeric_limits<T>::quiet_NaN(), false}, a).logmag));
  // 0 · inf is NaN, as for floats; a product of 1e5 factors e^±9 stays exact in sign.
  EXPECT_TRUE(std::isnan(math::goom_mul(Goom<T>{-inf, false}, Goom<T>{inf, false}).logmag));
  Goom<T> p = math::GoomMul<T>::identity();
  bool neg = false;
  for (int k = 0; k < 100000; ++k) {
    const bool f = (k % 3) == 0;
    p = math::goom_mul(p, Goom<T>{T(k % 2 ? 9 : -8.5), f});
    neg = neg != f;
  }
  EXPECT_EQ(p.neg, neg);
  EXPECT_NEAR(double(p.logmag), 50000 * 9.0 - 50000 * 8.5, 1e5 * 9 * eps * 2);
}

/// log|P_ij| and signs of P = A_T ⋯ A_1 by a float64 product renormalised every step (the
/// oracle of spec §7.1): returns the log-magnitudes (column-major) and signs.
void reference_chain(const std::vector<DMat>& mats, std::vector<double>& logmag, std::vector<bool>& neg) {
  const std::int64_t n = mats[0].rows;
  DMat p = identity(n);
  double shift = 0;
  for (const auto& a : mats) {
    p = matmul(a, p);
    const double m = max_abs(p);
    for (auto& v : p.v) v /= m;
    shift += std::log(m);
  }
  logmag.resize(p.v.size());
  neg.resize(p.v.size());
  for (std::size_t e = 0; e < p.v.size(); ++e) {
    logmag[e] = std::log(std::fabs(p.v[e])) + shift;
    neg[e] = p.v[e] < 0;
  }
}

template <class T>
void scaled_chain(const std::vector<DMat>& mats, std::vector<double>& logmag, std::vector<bool>& neg) {
  const std::int64_t n = mats[0].rows;
  std::vector<T> m(std::size_t(n * n), T(0)), next(m.size()), a(m.size()), scratch(m.size());
  std::vector<std::int64_t> e(std::size_t(n), 0), ea(e.size()), enext(e.size());
  for (std::int64_t i = 0; i < n; ++i) m[std::size_t(i * n + i)] = T(1);
  for (const auto& mat : mats) {
    for (std::size_t q = 0; q < a.size(); ++q) a[q] = T(mat.v[q]);
    std::fill(ea.begin(), ea.end(), 0);
    math::scaled_normalize_rows(n, n, a.data(), n, ea.data());
    math::scaled_matmul(n, a.data(), ea.data(), m.data(), e.data(), next.data(), enext.data(), scratch.data());
    m.swap(next);
    e.swap(enext);
  }
  logmag.resize(m.size());
  neg.resize(m.size());
  for (std::int64_t j = 0; j < n; ++j)
    for (std::int64_t i = 0; i < n; ++i) {
      const auto g = math::scaled_entry_goom(m[std::size_t(j * n + i)], e[std::size_t(i)]);
      logmag[std::size_t(j * n + i)] = g.logmag;
      neg[std::size_t(j * n + i)] = g.neg;
    }
}

TEST(ScaledFloat, ChainsOfGaussianMatricesFarBeyondFloat64) {
  // P = A_T ⋯ A_1 of 8 × 8 N(0, 1) matrices: log|P_ij| ~ T · 1.5 for T = 1000, far beyond
  // float64's 709 nats; every entry's log-magnitude and sign against the renormalised float64
  // product (errors in nats, spec §1.5 / §7.1).
  Rng rng(12);
  std::vector<DMat> mats;
  for (int t = 0; t < 1000; ++t) mats.push_back(random_gaussian(8, 8, rng));
  std::vector<double> lr, l64, l32;
  std::vector<bool> sr, s64, s32;
  reference_chain(mats, lr, sr);
  scaled_chain<double>(mats, l64, s64);
  scaled_chain<float>(mats, l32, s32);
  double e64 = 0, e32 = 0;
  for (std::size_t q = 0; q < lr.size(); ++q) {
    EXPECT_EQ(s64[q], sr[q]) << q;
    EXPECT_EQ(s32[q], sr[q]) << q;
    e64 = std::max(e64, std::fabs(l64[q] - lr[q]));
    e32 = std::max(e32, std::fabs(l32[q] - lr[q]));
  }
  EXPECT_GT(lr[0], 709.0);  // beyond float64
  EXPECT_LT(e64, 1e-9);     // nats
  EXPECT_LT(e32, 5e-3);     // nats: float32 mantissas, errors compound over 1000 products
}

TEST(ScaledFloat, ProductsAreAssociativeAndExact) {
  Rng rng(3);
  const std::int64_t n = 5;
  auto scaled = [&](double magnitude) {
    std::vector<double> m(std::size_t(n * n));
    for (auto& v : m) v = std::ldexp(std::normal_distribution<double>()(rng), int(magnitude));
    std::vector<std::int64_t> e(std::size_t(n), 0);
    math::scaled_normalize_rows(n, n, m.data(), n, e.data());
    return std::make_pair(m, e);
  };
  const auto [a, ea] = scaled(900);
  const auto [b, eb] = scaled(-950);
  const auto [c, ec] = scaled(10);
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = 0; j < n; ++j) {
      const double v = std::fabs(a[std::size_t(j * n + i)]);
      EXPECT_LT(v, 2.0);
    }
  std::vector<double> ab(a.size()), abc1(a.size()), bc(a.size()), abc2(a.size()), scratch(a.size());
  std::vector<std::int64_t> eab(ea.size()), e1(ea.size()), ebc(ea.size()), e2(ea.size());
  math::scaled_matmul(n, a.data(), ea.data(), b.data(), eb.data(), ab.data(), eab.data(), scratch.data());
  math::scaled_matmul(n, ab.data(), eab.data(), c.data(), ec.data(), abc1.data(), e1.data(), scratch.data());
  math::scaled_matmul(n, b.data(), eb.data(), c.data(), ec.data(), bc.data(), ebc.data(), scratch.data());
  math::scaled_matmul(n, a.data(), ea.data(), bc.data(), ebc.data(), abc2.data(), e2.data(), scratch.data());
  for (std::int64_t j = 0; j < n; ++j)
    for (std::int64_t i = 0; i < n; ++i) {
      const auto g1 = math::scaled_entry_goom(abc1[std::size_t(j * n + i)], e1[std::size_t(i)]);
      const auto g2 = math::scaled_entry_goom(abc2[std::size_t(j * n + i)], e2[std::size_t(i)]);
      EXPECT_EQ(g1.neg, g2.neg);
      EXPECT_NEAR(g1.logmag, g2.logmag, 1e-10);
    }
  // An all-zero row stays zero with exponent 0.
  std::vector<double> z(std::size_t(n * n), 0.0);
  std::vector<std::int64_t> ez(std::size_t(n), 0);
  math::scaled_normalize_rows(n, n, z.data(), n, ez.data());
  EXPECT_EQ(ez[0], 0);
}

}  // namespace
}  // namespace dynx::test
