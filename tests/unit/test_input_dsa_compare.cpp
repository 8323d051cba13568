// Comparisons of driven systems (spec §7.4): the joint controllability Procrustes against an
// independent float64 computation (polar factor by Jacobi, nuclear-norm identity), invariance to
// orthogonal changes of basis (and the reference_compat defect that breaks it), the state and
// control components, the input score, and bad input.

#include "common/reference.hpp"

#include <dynx/dsa.hpp>
#include <dynx/error.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

namespace dynx::test {
namespace {

/// K = [B, AB, AᵀB, …, A^{n−1}B, (Aᵀ)^{n−1}B] (reference) or [B, AB, …, A^{h−1}B] (powers).
DMat controllability(const DMat& a, const DMat& b, bool reference, std::int64_t h) {
  const std::int64_t n = a.rows, m = b.cols;
  std::vector<DMat> blocks{b};
  DMat p = b, q = b;
  const std::int64_t steps = reference ? n - 1 : h - 1;
  for (std::int64_t i = 0; i < steps; ++i) {
    p = matmul(a, p);
    blocks.push_back(p);
    if (reference) {
      q = matmul(transpose(a), q);
      blocks.push_back(q);
    }
  }
  DMat k(n, m * std::int64_t(blocks.size()));
  for (std::size_t j = 0; j < blocks.size(); ++j)
    for (std::int64_t c = 0; c < m; ++c)
      for (std::int64_t r = 0; r < n; ++r) k(r, std::int64_t(j) * m + c) = blocks[j](r, c);
  return k;
}

/// Orthogonal polar factor M (MᵀM)^-½ by Jacobi (M nonsingular), and the nuclear norm of M.
DMat polar(const DMat& m, double* nuclear) {
  DMat v;
  const auto w = jacobi_eigh(matmul(transpose(m), m), &v);
  DMat d(m.rows, m.rows);
  *nuclear = 0;
  for (std::int64_t i = 0; i < m.rows; ++i) {
    d(i, i) = 1.0 / std::sqrt(w[std::size_t(i)]);
    *nuclear += std::sqrt(w[std::size_t(i)]);
  }
  return matmul(m, matmul(matmul(v, d), transpose(v)));
}

struct Pair {
  DMat ax, bx, ay, by;
};

struct Scores {
  double joint = 0, state = 0, control = 0;
};

Scores run(const Pair& p, const ControllabilityOptions& o, DMat* c_out = nullptr) {
  Context ctx(Device::cpu());
  const std::int64_t n = p.ax.rows, m = p.bx.cols;
  Scores s;
  DMat c(n, n);
  controllability_distance<double>(ctx, MatrixBatch<const double>(p.ax.v.data(), n, n, 1),
                                   MatrixBatch<const double>(p.bx.v.data(), n, m, 1),
                                   MatrixBatch<const double>(p.ay.v.data(), n, n, 1),
                                   MatrixBatch<const double>(p.by.v.data(), n, m, 1), &s.joint,
                                   &s.state, &s.control, MatrixBatch<double>(c.v.data(), n, n, 1), o);
  if (c_out) *c_out = c;
  return s;
}

DMat stable(std::int64_t n, Rng& rng) {  // random, spectral radius < 1
  DMat a = random_gaussian(n, n, rng);
  for (auto& x : a.v) x *= 0.8 / std::sqrt(double(n));
  return a;
}

TEST(ControllabilityDistance, MatchesAnIndependentPolarFactor) {
  Rng rng(4);
  const std::int64_t n = 5, m = 2;
  const Pair p{stable(n, rng), random_gaussian(n, m, rng), stable(n, rng), random_gaussian(n, m, rng)};
  for (const bool ref : {true, false}) {
    ControllabilityOptions o;
    o.matrix = ref ? ControllabilityMatrix::reference : ControllabilityMatrix::powers;
    o.horizon = 3;
    DMat c;
    const Scores s = run(p, o, &c);
    const DMat kx = controllability(p.ax, p.bx, ref, 3), ky = controllability(p.ay, p.by, ref, 3);
    double nuclear = 0;
    const DMat c_ref = polar(matmul(ky, transpose(kx)), &nuclear);
    EXPECT_LT(max_abs(subtract(c, c_ref)), 1e-10) << ref;
    const double joint = frobenius(subtract(matmul(c_ref, kx), ky));
    EXPECT_NEAR(s.joint, joint, 1e-10 * frobenius(ky));
    // ‖C K_x − K_y‖² = ‖K_x‖² + ‖K_y‖² − 2 ‖K_y K_xᵀ‖_*
    const double via_nuclear = std::pow(frobenius(kx), 2) + std::pow(frobenius(ky), 2) - 2 * nuclear;
    EXPECT_NEAR(s.joint * s.joint, via_nuclear, 1e-9 * std::pow(frobenius(ky), 2));
    EXPECT_NEAR(s.state, frobenius(subtract(matmul(matmul(c_ref, p.ax), transpose(c_ref)), p.ay)), 1e-10);
    EXPECT_NEAR(s.control, frobenius(subtract(matmul(c_ref, p.bx), p.by)), 1e-10);
    // angular: the angle between C K_x and K_y
    o.score = DsaScore::angular;
    const Scores a = run(p, o);
    double dotp = 0;
    const DMat ckx = matmul(c_ref, kx);
    for (std::size_t e = 0; e < ky.v.size(); ++e) dotp += ckx.v[e] * ky.v[e];
    EXPECT_NEAR(a.joint, std::acos(dotp / (frobenius(kx) * frobenius(ky))), 1e-9);
  }
}

TEST(ControllabilityDistance, IsZeroForRotatedCopiesUnlessReferenceCompat) {
  Rng rng(9);
  const std::int64_t n = 6, m = 2;
  const DMat a = stable(n, rng), b = random_gaussian(n, m, rng);
  const DMat q = random_orthonormal(n, n, rng);
  const Pair rotated{a, b, matmul(matmul(q, a), transpose(q)), matmul(q, b)};
  ControllabilityOptions o;
  DMat c;
  const Scores s = run(rotated, o, &c);
  EXPECT_LT(s.joint, 1e-10);
  EXPECT_LT(s.state, 1e-10);
  EXPECT_LT(s.control, 1e-10);
  EXPECT_LT(max_abs(subtract(c, q)), 1e-9);  // C recovers the rotation (K has full row rank)
  // The reference's direction: ‖K_x − C K_y‖ is far from 0 for a generic rotation …
  o.reference_compat = true;
  const Scores compat = run(rotated, o);
  EXPECT_GT(compat.joint, 0.1 * frobenius(controllability(a, b, true, 0)));
  EXPECT_LT(compat.state, 1e-10);  // the components do not change
  // … and exactly 0 for a symmetric change of basis (sign flips), which masks it in practice.
  DMat d = identity(n);
  d(1, 1) = d(4, 4) = -1;
  const Pair flipped{a, b, matmul(matmul(d, a), d), matmul(d, b)};
  EXPECT_LT(run(flipped, o).joint, 1e-10);
}

TEST(InputDistance, IsTheLeftProcrustesOfB) {
  Rng rng(13);
  const std::int64_t n = 5, m = 3;
  const DMat bx = random_gaussian(n, m, rng), by = random_gaussian(n, m, rng);
  Context ctx(Device::cpu());
  auto dist = [&](const DMat& x, const DMat& y, DsaScore s) {
    double v = 0;
    input_distance<double>(ctx, MatrixBatch<const double>(x.v.data(), n, m, 1),
                           MatrixBatch<const double>(y.v.data(), n, m, 1), &v, s);
    return v;
  };
  // ‖B_x − Q B_y‖² = ‖B_x‖² + ‖B_y‖² − 2 ‖B_x B_yᵀ‖_* (the Jacobi nuclear norm of a rank-m
  // product: sum of the square roots of the eigenvalues of (B_x B_yᵀ)ᵀ(B_x B_yᵀ))
  const auto w = jacobi_eigh(matmul(transpose(matmul(bx, transpose(by))), matmul(bx, transpose(by))), nullptr);
  double nuc = 0;  // the m nonzero ones (ascending order; the n − m others are rounding noise)
  for (std::int64_t i = n - m; i < n; ++i) nuc += std::sqrt(w[std::size_t(i)]);
  const double expect = std::sqrt(std::pow(frobenius(bx), 2) + std::pow(frobenius(by), 2) - 2 * nuc);
  EXPECT_NEAR(dist(bx, by, DsaScore::euclidean), expect, 1e-10);
  EXPECT_NEAR(dist(bx, by, DsaScore::euclidean), dist(by, bx, DsaScore::euclidean), 1e-12);
  const DMat q = random_orthonormal(n, n, rng);
  EXPECT_LT(dist(bx, matmul(q, bx), DsaScore::euclidean), 1e-10);
  // A different input gain: euclidean sees it, angular (scale invariant) does not.
  DMat twice = bx;
  for (auto& x : twice.v) x *= 2;
  EXPECT_NEAR(dist(bx, twice, DsaScore::euclidean), frobenius(bx), 1e-10);
  EXPECT_LT(dist(bx, twice, DsaScore::angular), 1e-7);
}

TEST(ControllabilityDistance, RejectsBadInput) {
  Rng rng(1);
  Context ctx(Device::cpu());
  const DMat a4 = stable(4, rng), b42 = random_gaussian(4, 2, rng), a3 = stable(3, rng),
             b32 = random_gaussian(3, 2, rng), b41 = random_gaussian(4, 1, rng);
  double j = 0, s = 0, c = 0;
  auto call = [&](const DMat& ax, const DMat& bx, const DMat& ay, const DMat& by, const std::string& what,
                  ControllabilityOptions o = {}) {
    try {
      controllability_distance<double>(
          ctx, MatrixBatch<const double>(ax.v.data(), ax.rows, ax.cols, 1),
          MatrixBatch<const double>(bx.v.data(), bx.rows, bx.cols, 1),
          MatrixBatch<const double>(ay.v.data(), ay.rows, ay.cols, 1),
          MatrixBatch<const double>(by.v.data(), by.rows, by.cols, 1), &j, &s, &c, {}, o);
      ADD_FAILURE() << "no error; expected '" << what << "'";
    } catch (const InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    }
  };
  call(a4, b42, a3, b32, "differ in state dimension (4 and 3)");
  call(a4, b42, a4, b41, "differ in the number of inputs (2 and 1)");
  DMat bad = b42;
  bad(1, 1) = std::nan("");
  call(a4, bad, a4, b42, "`b_x` holds a non-finite value");
  ControllabilityOptions ang;
  ang.score = DsaScore::angular;
  call(a4, DMat(4, 2), a4, b42, "is the zero matrix", ang);
}

}  // namespace
}  // namespace dynx::test
