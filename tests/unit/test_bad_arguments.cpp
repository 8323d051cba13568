// Bad arguments, for every operation: InvalidArgument whose what() names the argument the way the
// core prints it ("`u`"), thrown before anything is written. Wrong shapes, mismatched counts,
// ld < rows, overlapping outputs and inputs, negative dimensions, null data with a nonzero size,
// a view on another device, overlapping matrices of an output.

#include "common/test_common.hpp"

#include <dynx/dynx.hpp>

#include <gtest/gtest.h>

#include <complex>
#include <cstdint>
#include <vector>

namespace {

using namespace dynx::test;
using dynx::Context;
using dynx::Device;
using dynx::MatrixBatch;
using dynx::Op;
using dynx::VectorBatch;

using M = MatrixBatch<double>;
using CM = MatrixBatch<const double>;
using V = VectorBatch<double>;

// Storage big enough for every view below; views carve it up so that overlaps are deliberate.
class LinalgArguments : public ::testing::Test {
 protected:
  std::vector<double> in = std::vector<double>(4096, 1.0);
  std::vector<double> out = std::vector<double>(4096, -7.0);
  std::vector<double> out2 = std::vector<double>(4096, -7.0);
  std::vector<double> out3 = std::vector<double>(4096, -7.0);
  Context ctx;

  // Outputs are never written when the arguments are refused.
  void TearDown() override {
    for (const auto* v : {&out, &out2, &out3})
      for (double x : *v)
        if (x != -7.0) {
          ADD_FAILURE() << "an output was written although the call was refused";
          return;
        }
  }

  CM a(std::int64_t m, std::int64_t n, std::int64_t count = 2) { return CM(in.data(), m, n, count); }
  M o(std::int64_t m, std::int64_t n, std::int64_t count = 2) { return M(out.data(), m, n, count); }
  M o2(std::int64_t m, std::int64_t n, std::int64_t count = 2) { return M(out2.data(), m, n, count); }
  V vec(std::int64_t size, std::int64_t count = 2) { return V(out3.data(), size, count); }
};

// --- gemm ----------------------------------------------------------------------------------------

TEST_F(LinalgArguments, Gemm) {
  auto gemm = [&](Op ta, Op tb, CM x, CM y, M c) { dynx::gemm_batched<double>(ctx, ta, tb, 1.0, x, y, 0.0, c); };
  DYNX_EXPECT_INVALID_ARGUMENT(gemm(Op::n, Op::n, a(3, 4), a(5, 2), o(3, 2)), "inner");
  DYNX_EXPECT_INVALID_ARGUMENT(gemm(Op::t, Op::n, a(3, 4), a(4, 2), o(4, 2)), "inner");
  DYNX_EXPECT_INVALID_ARGUMENT(gemm(Op::n, Op::n, a(3, 4), a(4, 2), o(3, 3)), "`c`");
  DYNX_EXPECT_INVALID_ARGUMENT(gemm(Op::n, Op::t, a(3, 4), a(4, 2), o(3, 2)), "inner");
  DYNX_EXPECT_INVALID_ARGUMENT(gemm(Op::n, Op::n, a(3, 4, 2), a(4, 2, 3), o(3, 2, 3)), "`a`");  // count
  DYNX_EXPECT_INVALID_ARGUMENT(gemm(Op::n, Op::n, a(3, 4, 3), a(4, 2, 2), o(3, 2, 3)), "`b`");  // count
  DYNX_EXPECT_INVALID_ARGUMENT(gemm(Op::n, Op::n, CM(in.data(), 3, 4, 2, 12, 2), a(4, 2), o(3, 2)), "`a`");  // ld
  DYNX_EXPECT_INVALID_ARGUMENT(gemm(Op::n, Op::n, a(3, 4), a(4, 2), M(out.data(), 3, 2, 1, 6, 2)), "`c`");  // ld
  DYNX_EXPECT_INVALID_ARGUMENT(gemm(Op::n, Op::n, a(3, 4), a(4, 2), M(out.data(), 3, 2, 3, 0, 2)), "`c`");  // stride 0
  DYNX_EXPECT_INVALID_ARGUMENT(gemm(Op::n, Op::n, a(3, 4), a(4, 2), M(out.data(), 3, 2, 3, 5, 2)), "`c`");  // overlapping
  DYNX_EXPECT_INVALID_ARGUMENT(gemm(Op::n, Op::n, CM(in.data(), -3, 4, 2), a(4, 2), o(3, 2)), "`a`");
  DYNX_EXPECT_INVALID_ARGUMENT(gemm(Op::n, Op::n, a(3, 4), a(4, 2), M(out.data(), 3, -2, 2)), "`c`");
  DYNX_EXPECT_INVALID_ARGUMENT(gemm(Op::n, Op::n, a(3, 4), a(4, 2), M(nullptr, 3, 2, 2)), "`c`");
  DYNX_EXPECT_INVALID_ARGUMENT(gemm(Op::n, Op::n, CM(nullptr, 3, 4, 2), a(4, 2), o(3, 2)), "`a`");
  DYNX_EXPECT_INVALID_ARGUMENT(gemm(Op::n, Op::n, a(3, 4), CM(in.data(), 4, 2, 2, Device::cuda(0)), o(3, 2)), "`b`");
  DYNX_EXPECT_INVALID_ARGUMENT(gemm(Op::n, Op::n, a(3, 4), a(4, 2), M(out.data(), 3, 2, 2, Device::cuda(0))), "`c`");
}

TEST_F(LinalgArguments, GemmOutputOverlappingAnInput) {
  // c on top of a, and c on top of b (same storage, mutable and const views).
  M c(in.data(), 3, 2, 2);
  DYNX_EXPECT_INVALID_ARGUMENT(dynx::gemm_batched<double>(ctx, Op::n, Op::n, 1.0, CM(in.data(), 3, 4, 2),
                                                          CM(in.data() + 1000, 4, 2, 2), 0.0, c),
                               "`c`");
  DYNX_EXPECT_INVALID_ARGUMENT(dynx::gemm_batched<double>(ctx, Op::n, Op::n, 1.0, CM(in.data() + 1000, 3, 4, 2),
                                                          CM(in.data() + 5, 4, 2, 2), 0.0, c),
                               "`c`");
  for (double x : in) ASSERT_EQ(x, 1.0) << "an input was written although the call was refused";
}

// --- svd -----------------------------------------------------------------------------------------

TEST_F(LinalgArguments, Svd) {
  auto svd = [&](CM x, V s, M u, M vt) { dynx::svd_batched<double>(ctx, x, s, u, vt); };
  // m = 5, n = 3, k = 3: u is 5×3, vt 3×3.
  DYNX_EXPECT_INVALID_ARGUMENT(svd(a(5, 3), vec(2), o(5, 3), o2(3, 3)), "`s`");
  DYNX_EXPECT_INVALID_ARGUMENT(svd(a(5, 3), vec(3), o(5, 5), o2(3, 3)), "`u`");
  DYNX_EXPECT_INVALID_ARGUMENT(svd(a(5, 3), vec(3), o(5, 3), o2(3, 5)), "`vt`");
  DYNX_EXPECT_INVALID_ARGUMENT(svd(a(3, 5), vec(3), o(3, 5), o2(3, 5)), "`u`");  // wide: u is 3×3
  DYNX_EXPECT_INVALID_ARGUMENT(svd(a(5, 3), vec(3), o(5, 3, 1), o2(3, 3)), "`u`");  // count
  DYNX_EXPECT_INVALID_ARGUMENT(svd(a(5, 3), vec(3, 3), o(5, 3), o2(3, 3)), "`s`");  // count
  DYNX_EXPECT_INVALID_ARGUMENT(svd(a(5, 3), vec(3), o(5, 3), M()), "`vt`");  // u without vt
  DYNX_EXPECT_INVALID_ARGUMENT(svd(a(5, 3), vec(3), M(), o2(3, 3)), "`u`");  // vt without u
  DYNX_EXPECT_INVALID_ARGUMENT(svd(CM(in.data(), 5, 3, 4, 15, 2), vec(3), o(5, 3), o2(3, 3)), "`a`");  // ld
  DYNX_EXPECT_INVALID_ARGUMENT(svd(a(5, 3), vec(3), M(out.data(), 5, 3, 5, 10, 2), o2(3, 3)), "`u`");  // stride
  DYNX_EXPECT_INVALID_ARGUMENT(svd(CM(in.data(), 5, -3, 2), vec(3), o(5, 3), o2(3, 3)), "`a`");
  DYNX_EXPECT_INVALID_ARGUMENT(svd(CM(in.data(), 5, 3, -2), vec(3), o(5, 3), o2(3, 3)), "`a`");
  DYNX_EXPECT_INVALID_ARGUMENT(svd(CM(nullptr, 5, 3, 2), vec(3), o(5, 3), o2(3, 3)), "`a`");
  DYNX_EXPECT_INVALID_ARGUMENT(svd(a(5, 3), V(nullptr, 3, 2), o(5, 3), o2(3, 3)), "`s`");
  DYNX_EXPECT_INVALID_ARGUMENT(svd(a(5, 3), vec(3), M(nullptr, 5, 3, 2), o2(3, 3)), "pass both");
  DYNX_EXPECT_INVALID_ARGUMENT(svd(a(5, 3), V(out3.data(), 3, 3, 2, /*inc=*/0), o(5, 3), o2(3, 3)), "`s`");
  DYNX_EXPECT_INVALID_ARGUMENT(svd(a(5, 3), V(out3.data(), 3, /*stride=*/2, 2, 1), o(5, 3), o2(3, 3)), "`s`");
  DYNX_EXPECT_INVALID_ARGUMENT(svd(CM(in.data(), 5, 3, 2, Device::cuda(0)), vec(3), o(5, 3), o2(3, 3)), "`a`");
  DYNX_EXPECT_INVALID_ARGUMENT(svd(a(5, 3), V(out3.data(), 3, 2, Device::cuda(0)), o(5, 3), o2(3, 3)), "`s`");
  DYNX_EXPECT_INVALID_ARGUMENT(svd(a(5, 3), vec(3), M(out.data(), 5, 3, 2, Device::cuda(1)), o2(3, 3)), "`u`");
}

TEST_F(LinalgArguments, SvdOverlaps) {
  auto svd = [&](CM x, V s, M u, M vt) { dynx::svd_batched<double>(ctx, x, s, u, vt); };
  // u on top of a.
  DYNX_EXPECT_INVALID_ARGUMENT(svd(CM(out.data(), 5, 3, 2), vec(3), M(out.data() + 7, 5, 3, 2), o2(3, 3)), "`u`");
  // vt on top of a.
  DYNX_EXPECT_INVALID_ARGUMENT(svd(CM(out2.data() + 3, 5, 3, 2), vec(3), o(5, 3), o2(3, 3)), "`vt`");
  // s on top of a.
  DYNX_EXPECT_INVALID_ARGUMENT(svd(CM(out3.data(), 5, 3, 2), vec(3), o(5, 3), o2(3, 3)), "`s`");
  // u on top of vt (two outputs).
  DYNX_EXPECT_INVALID_ARGUMENT(svd(a(5, 3), vec(3), o(5, 3), M(out.data() + 20, 3, 3, 2)), "`u`");
  // s on top of u.
  DYNX_EXPECT_INVALID_ARGUMENT(svd(a(5, 3), V(out.data() + 4, 3, 2), o(5, 3), o2(3, 3)), "`s`");
}

// Outputs must not overlap each other either: s on top of vt would be overwritten by vt.
TEST_F(LinalgArguments, SvdValuesOverlappingVt) {
  DYNX_EXPECT_INVALID_ARGUMENT(
      dynx::svd_batched<double>(ctx, a(5, 3), V(out2.data() + 2, 3, 2), o(5, 3), o2(3, 3)), "`s`");
}

// --- qr ------------------------------------------------------------------------------------------

TEST_F(LinalgArguments, Qr) {
  auto qr = [&](CM x, M q, M r) { dynx::qr_batched<double>(ctx, x, q, r); };
  DYNX_EXPECT_INVALID_ARGUMENT(qr(a(5, 3), o(5, 3), o2(5, 3)), "`r`");
  DYNX_EXPECT_INVALID_ARGUMENT(qr(a(5, 3), o(5, 5), o2(3, 3)), "`q`");
  DYNX_EXPECT_INVALID_ARGUMENT(qr(a(3, 5), o(3, 5), o2(3, 5)), "`q`");  // wide: q is 3×3
  DYNX_EXPECT_INVALID_ARGUMENT(qr(a(5, 3), o(5, 3), o2(3, 3, 3)), "`r`");  // count
  DYNX_EXPECT_INVALID_ARGUMENT(qr(a(5, 3), M(), M(out2.data(), 3, 3, 2, 9, 2)), "`r`");  // ld
  DYNX_EXPECT_INVALID_ARGUMENT(qr(CM(in.data(), -5, 3, 2), o(5, 3), o2(3, 3)), "`a`");
  DYNX_EXPECT_INVALID_ARGUMENT(qr(a(5, 3), o(5, 3), M(nullptr, 3, 3, 2)), "`r`");
  DYNX_EXPECT_INVALID_ARGUMENT(qr(CM(out.data() + 2, 5, 3, 2), o(5, 3), o2(3, 3)), "`q`");  // q overlaps a
  DYNX_EXPECT_INVALID_ARGUMENT(qr(CM(out2.data() + 2, 5, 3, 2), M(), o2(3, 3)), "`r`");  // r overlaps a
  DYNX_EXPECT_INVALID_ARGUMENT(qr(a(5, 3), o(5, 3), M(out.data() + 10, 3, 3, 2)), "`q`");  // q overlaps r
  DYNX_EXPECT_INVALID_ARGUMENT(qr(a(5, 3), o(5, 3), M(out2.data(), 3, 3, 2, Device::cuda(0))), "`r`");
}

// --- eigh and eig --------------------------------------------------------------------------------

TEST_F(LinalgArguments, Eigh) {
  auto eigh = [&](CM x, V w, M v) { dynx::eigh_batched<double>(ctx, x, w, v); };
  DYNX_EXPECT_INVALID_ARGUMENT(eigh(a(4, 3), vec(4), o(4, 4)), "`a`");  // not square
  DYNX_EXPECT_INVALID_ARGUMENT(eigh(a(4, 4), vec(3), o(4, 4)), "`w`");
  DYNX_EXPECT_INVALID_ARGUMENT(eigh(a(4, 4), vec(4), o(4, 3)), "`v`");
  DYNX_EXPECT_INVALID_ARGUMENT(eigh(a(4, 4), vec(4), o(4, 4, 1)), "`v`");  // count
  DYNX_EXPECT_INVALID_ARGUMENT(eigh(CM(in.data(), 4, 4, 3, 16, 2), vec(4), o(4, 4)), "`a`");  // ld
  DYNX_EXPECT_INVALID_ARGUMENT(eigh(CM(in.data(), -4, -4, 2), vec(4), o(4, 4)), "`a`");
  DYNX_EXPECT_INVALID_ARGUMENT(eigh(a(4, 4), V(nullptr, 4, 2), o(4, 4)), "`w`");
  DYNX_EXPECT_INVALID_ARGUMENT(eigh(CM(out.data() + 1, 4, 4, 2), vec(4), o(4, 4)), "`v`");  // v overlaps a
  DYNX_EXPECT_INVALID_ARGUMENT(eigh(CM(out3.data(), 4, 4, 2), vec(4), o(4, 4)), "`w`");  // w overlaps a
  DYNX_EXPECT_INVALID_ARGUMENT(eigh(a(4, 4), V(out.data() + 3, 4, 2), o(4, 4)), "`w`");  // w overlaps v
  DYNX_EXPECT_INVALID_ARGUMENT(eigh(a(4, 4), vec(4), M(out.data(), 4, 4, 2, Device::cuda(0))), "`v`");
}

TEST_F(LinalgArguments, Eig) {
  using C = std::complex<double>;
  std::vector<C> cw(64, C(-7.0)), cv(256, C(-7.0));
  auto eig = [&](CM x, VectorBatch<C> w, MatrixBatch<C> v) { dynx::eig_batched<double>(ctx, x, w, v); };
  const VectorBatch<C> w4(cw.data(), 4, 2);
  const MatrixBatch<C> v4(cv.data(), 4, 4, 2);
  DYNX_EXPECT_INVALID_ARGUMENT(eig(a(4, 3), w4, v4), "`a`");
  DYNX_EXPECT_INVALID_ARGUMENT(eig(a(4, 4), VectorBatch<C>(cw.data(), 3, 2), v4), "`w`");
  DYNX_EXPECT_INVALID_ARGUMENT(eig(a(4, 4), w4, MatrixBatch<C>(cv.data(), 4, 3, 2)), "`v`");
  DYNX_EXPECT_INVALID_ARGUMENT(eig(a(4, 4, 3), w4, v4), "`w`");  // count
  DYNX_EXPECT_INVALID_ARGUMENT(eig(CM(nullptr, 4, 4, 2), w4, v4), "`a`");
  DYNX_EXPECT_INVALID_ARGUMENT(eig(a(4, 4), VectorBatch<C>(cv.data() + 2, 4, 2), v4), "`w`");  // w overlaps v
  DYNX_EXPECT_INVALID_ARGUMENT(eig(a(4, 4), w4, MatrixBatch<C>(cv.data(), 4, 4, 2, Device::cuda(0))), "`v`");
  DYNX_EXPECT_INVALID_ARGUMENT(eig(CM(reinterpret_cast<const double*>(cv.data()), 4, 4, 2), w4, v4), "`v`");
  for (const C& z : cw) ASSERT_EQ(z, C(-7.0)) << "w written although the call was refused";
  for (const C& z : cv) ASSERT_EQ(z, C(-7.0)) << "v written although the call was refused";
}

// --- solve and inverse ---------------------------------------------------------------------------

TEST_F(LinalgArguments, Solve) {
  auto solve = [&](CM x, CM b, M out_x) { dynx::solve_batched<double>(ctx, x, b, out_x); };
  DYNX_EXPECT_INVALID_ARGUMENT(solve(a(4, 3), a(4, 2), o(3, 2)), "`a`");  // not square
  DYNX_EXPECT_INVALID_ARGUMENT(solve(a(4, 4), a(3, 2), o(4, 2)), "`b`");
  DYNX_EXPECT_INVALID_ARGUMENT(solve(a(4, 4), a(4, 2), o(4, 3)), "`x`");
  DYNX_EXPECT_INVALID_ARGUMENT(solve(a(4, 4), a(4, 2, 3), o(4, 2)), "`b`");  // count
  DYNX_EXPECT_INVALID_ARGUMENT(solve(a(4, 4), a(4, 2), o(4, 2, 1)), "`x`");  // count
  DYNX_EXPECT_INVALID_ARGUMENT(solve(a(4, 4), CM(in.data(), 4, 2, 2, 8, 2), o(4, 2)), "`b`");  // ld
  DYNX_EXPECT_INVALID_ARGUMENT(solve(a(4, 4), a(4, 2), M(out.data(), 4, 2, 4, 4, 2)), "`x`");  // stride
  DYNX_EXPECT_INVALID_ARGUMENT(solve(CM(in.data(), -4, -4, 2), a(4, 2), o(4, 2)), "`a`");
  DYNX_EXPECT_INVALID_ARGUMENT(solve(a(4, 4), a(4, 2), M(nullptr, 4, 2, 2)), "`x`");
  DYNX_EXPECT_INVALID_ARGUMENT(solve(CM(out.data() + 1, 4, 4, 2), a(4, 2), o(4, 2)), "`x`");  // x overlaps a
  // x overlaps b without being the same view (in place needs identical data, ld and stride).
  DYNX_EXPECT_INVALID_ARGUMENT(solve(a(4, 4), CM(out.data() + 1, 4, 2, 2), o(4, 2)), "`x`");
  DYNX_EXPECT_INVALID_ARGUMENT(solve(a(4, 4), CM(out.data(), 4, 2, 5, 10, 2), M(out.data(), 4, 2, 4, 10, 2)), "`x`");
  DYNX_EXPECT_INVALID_ARGUMENT(solve(a(4, 4), CM(in.data(), 4, 2, 2, Device::cuda(0)), o(4, 2)), "`b`");
}

TEST_F(LinalgArguments, Inverse) {
  auto inverse = [&](CM x, M ainv) { dynx::inverse_batched<double>(ctx, x, ainv); };
  DYNX_EXPECT_INVALID_ARGUMENT(inverse(a(4, 3), o(4, 3)), "`a`");
  DYNX_EXPECT_INVALID_ARGUMENT(inverse(a(4, 4), o(4, 3)), "`ainv`");
  DYNX_EXPECT_INVALID_ARGUMENT(inverse(a(4, 4), o(4, 4, 3)), "`ainv`");  // count
  DYNX_EXPECT_INVALID_ARGUMENT(inverse(CM(in.data(), 4, 4, 2, 16, 2), o(4, 4)), "`a`");  // ld
  DYNX_EXPECT_INVALID_ARGUMENT(inverse(a(4, 4), M(out.data(), 4, 4, 4, 8, 2)), "`ainv`");  // stride
  DYNX_EXPECT_INVALID_ARGUMENT(inverse(CM(in.data(), 4, 4, -1), o(4, 4)), "`a`");
  DYNX_EXPECT_INVALID_ARGUMENT(inverse(CM(nullptr, 4, 4, 2), o(4, 4)), "`a`");
  DYNX_EXPECT_INVALID_ARGUMENT(inverse(CM(out.data() + 16, 4, 4, 2), o(4, 4)), "`ainv`");  // overlap
  DYNX_EXPECT_INVALID_ARGUMENT(inverse(a(4, 4), M(out.data(), 4, 4, 2, Device::cuda(0))), "`ainv`");
}

// --- polar ---------------------------------------------------------------------------------------

TEST_F(LinalgArguments, Polar) {
  auto polar = [&](CM x, M q) { dynx::polar_batched<double>(ctx, x, q); };
  DYNX_EXPECT_INVALID_ARGUMENT(polar(a(5, 3), o(3, 5)), "`q`");
  DYNX_EXPECT_INVALID_ARGUMENT(polar(a(5, 3), o(5, 3, 1)), "`q`");  // count
  DYNX_EXPECT_INVALID_ARGUMENT(polar(CM(in.data(), 5, 3, 4, 15, 2), o(5, 3)), "`a`");  // ld
  DYNX_EXPECT_INVALID_ARGUMENT(polar(CM(in.data(), 5, -3, 2), o(5, 3)), "`a`");
  DYNX_EXPECT_INVALID_ARGUMENT(polar(a(5, 3), M(nullptr, 5, 3, 2)), "`q`");
  DYNX_EXPECT_INVALID_ARGUMENT(polar(CM(out.data() + 14, 5, 3, 2), o(5, 3)), "`q`");  // overlap
  DYNX_EXPECT_INVALID_ARGUMENT(polar(a(5, 3), M(out.data(), 5, 3, 2, Device::cuda(0))), "`q`");
  DYNX_EXPECT_INVALID_ARGUMENT(polar(CM(in.data(), 5, 3, 2, Device::cuda(0)), o(5, 3)), "`a`");
}

// The checks are the same code for float.
TEST(LinalgArgumentsFloat, NamesTheArgument) {
  Context ctx;
  std::vector<float> in(64, 1.f), out(64, -7.f), s(8, -7.f);
  DYNX_EXPECT_INVALID_ARGUMENT(
      dynx::svd_batched<float>(ctx, MatrixBatch<const float>(in.data(), 4, 3, 2), VectorBatch<float>(s.data(), 2, 2),
                               {}, {}),
      "`s`");
  DYNX_EXPECT_INVALID_ARGUMENT(dynx::polar_batched<float>(ctx, MatrixBatch<const float>(in.data(), 4, 3, 2),
                                                          MatrixBatch<float>(out.data(), 4, 4, 2)),
                               "`q`");
  for (float x : out) EXPECT_EQ(x, -7.f);
  for (float x : s) EXPECT_EQ(x, -7.f);
}

// batch.hpp documents ld ≥ rows and the packed constructor sets ld = rows: a packed view of
// 0-row matrices (ld = 0) describes no data and should be accepted like any empty problem.
TEST(LinalgEmptyViews, PackedViewsOfZeroRowMatricesAreAccepted) {
  Context ctx;
  std::vector<double> b(6, 1.0);
  EXPECT_NO_THROW(dynx::gemm_batched<double>(ctx, Op::n, Op::n, 1.0, CM(nullptr, 0, 3, 2), CM(b.data(), 3, 1, 2),
                                             0.0, M(nullptr, 0, 1, 2)));
  EXPECT_NO_THROW(dynx::svd_batched<double>(ctx, CM(nullptr, 0, 3, 2), V(nullptr, 0, 2), {}, {}));
  EXPECT_NO_THROW(dynx::inverse_batched<double>(ctx, CM(nullptr, 0, 0, 2), M(nullptr, 0, 0, 2)));
}

}  // namespace
