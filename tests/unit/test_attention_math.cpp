// Exact attention's blocked online softmax (include/dynx/math/attention.hpp, spec attention.md §1,
// §10 V7): any block size against a naive long-double softmax, outputs and log-sum-exp to 1e-12,
// non-causal and causal (bottom-right aligned, n_q < n_k), logits of ±1000 without overflow, and a
// row with no visible key.

#include <dynx/math/attention.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

namespace dynx::test {
namespace {

struct Problem {
  int nq, nk, d, dv;
  std::vector<double> q, k, v;  // row-major: nq × d, nk × d, nk × dv
};

Problem make(int nq, int nk, int d, int dv, double spread, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> g;
  Problem p{nq, nk, d, dv, {}, {}, {}};
  p.q.resize(std::size_t(nq * d));
  p.k.resize(std::size_t(nk * d));
  p.v.resize(std::size_t(nk * dv));
  for (auto& x : p.q) x = spread * g(rng);
  for (auto& x : p.k) x = g(rng);
  for (auto& x : p.v) x = g(rng);
  return p;
}

double score(const Problem& p, int i, int j) {
  double s = 0;
  for (int a = 0; a < p.d; ++a) s += p.q[std::size_t(i * p.d + a)] * p.k[std::size_t(j * p.d + a)];
  return s / std::sqrt(double(p.d));
}

// Naive softmax in long double over keys 0 … last.
void naive_row(const Problem& p, int i, int last, std::vector<double>& y, double& lse) {
  long double m = -INFINITY;
  for (int j = 0; j <= last; ++j) m = std::max<long double>(m, score(p, i, j));
  long double l = 0;
  std::vector<long double> acc(std::size_t(p.dv), 0.0L);
  for (int j = 0; j <= last; ++j) {
    const long double w = std::exp((long double)score(p, i, j) - m);
    l += w;
    for (int c = 0; c < p.dv; ++c) acc[std::size_t(c)] += w * p.v[std::size_t(j * p.dv + c)];
  }
  y.resize(std::size_t(p.dv));
  for (int c = 0; c < p.dv; ++c) y[std::size_t(c)] = double(acc[std::size_t(c)] / l);
  lse = double(m + std::log(l));
}

// The blocked form over keys 0 … last in blocks of `block`.
void blocked_row(const Problem& p, int i, int last, int block, std::vector<double>& y, double& lse) {
  math::SoftmaxRow<double> row;
  std::vector<double> acc(static_cast<std::size_t>(p.dv), 0.0), s(static_cast<std::size_t>(block));
  for (int j0 = 0; j0 <= last; j0 += block) {
    const int n = std::min(block, last + 1 - j0);
    for (int j = 0; j < n; ++j) s[std::size_t(j)] = score(p, i, j0 + j);
    math::softmax_block_update(row, acc.data(), s.data(), n, p.v.data() + j0 * p.dv, p.dv, p.dv);
  }
  y.resize(std::size_t(p.dv));
  math::softmax_finish(row, acc.data(), p.dv, y.data(), &lse);
}

void check(const Problem& p, bool causal) {
  for (int block : {1, 3, 16, p.nk}) {
    for (int i = 0; i < p.nq; ++i) {
      const int last = causal ? int(math::causal_last_key(i, p.nq, p.nk)) : p.nk - 1;
      std::vector<double> y, ref;
      double lse = 0, ref_lse = 0;
      blocked_row(p, i, last, block, y, lse);
      naive_row(p, i, last, ref, ref_lse);
      for (int c = 0; c < p.dv; ++c)
        EXPECT_NEAR(y[std::size_t(c)], ref[std::size_t(c)], 1e-12 * std::max(1.0, std::fabs(ref[std::size_t(c)])))
            << "block " << block << " row " << i;
      EXPECT_NEAR(lse, ref_lse, 1e-12 * std::max(1.0, std::fabs(ref_lse))) << "block " << block;
    }
  }
}

TEST(AttentionMath, BlockedSoftmaxMatchesNaiveAnyBlock) {
  check(make(24, 40, 8, 5, 1.0, 1), false);
  check(make(24, 40, 8, 5, 1.0, 2), true);   // bottom-right aligned: query 0 sees keys 0 … 16
  check(make(40, 40, 16, 3, 1.0, 3), true);  // self-attention: j ≤ i
}

TEST(AttentionMath, LargeLogitsDoNotOverflow) {
  const Problem p = make(8, 32, 4, 2, 500.0, 4);  // scores of several hundred to a thousand
  check(p, false);
  std::vector<double> y;
  double lse = 0;
  blocked_row(p, 0, p.nk - 1, 7, y, lse);
  for (double v : y) EXPECT_TRUE(std::isfinite(v));
  EXPECT_TRUE(std::isfinite(lse));
}

TEST(AttentionMath, RowWithoutVisibleKeys) {
  math::SoftmaxRow<double> row;
  double acc[2] = {0, 0}, y[2] = {1, 1}, lse = 0;
  const double s[3] = {-INFINITY, -INFINITY, -INFINITY}, v[6] = {1, 2, 3, 4, 5, 6};
  math::softmax_block_update(row, acc, s, 3, v, 2, 2);
  math::softmax_finish(row, acc, 2, y, &lse);
  EXPECT_EQ(y[0], 0.0);
  EXPECT_EQ(y[1], 0.0);
  EXPECT_EQ(lse, -INFINITY);
  // Masked keys inside a visible block contribute nothing.
  const double s2[3] = {0.5, -INFINITY, 0.25};
  math::softmax_block_update(row, acc, s2, 3, v, 2, 2);
  math::softmax_finish(row, acc, 2, y, &lse);
  const double w0 = std::exp(0.5), w2 = std::exp(0.25);
  EXPECT_NEAR(y[0], (w0 * 1 + w2 * 5) / (w0 + w2), 1e-15);
  EXPECT_NEAR(lse, std::log(w0 + w2), 1e-15);
}

}  // namespace
}  // namespace dynx::test
