// GOOM operations (include/dynx/goom.hpp) on the CUDA backend against the CPU backend: the same
// seeded inputs through both contexts. Covers the conversions, log-matmul-exp on random batches
// spanning ±5000 nats (broadcast operands, all −∞ rows, the two-sided-scaling example of spec
// §3.4, per-item status), matrix-product scans (both formats, both orders, inclusive and reduce,
// real and GOOM input, d = 3, 8 (one block per chunk) and 33, 40, 64 (lockstep cuBLAS), 1 and 5
// chains of 1000 factors, explicit and automatic chunks, and chunk counts that need more than one
// level of chunk totals), affine recurrences (dense and diagonal, shared and workspace scratch),
// and NaN / overflow reported per chain. Skipped without a CUDA device.
//
// Errors are in nats (absolute errors of logmag). Both backends round differently (cuBLAS and the
// kernels sum in another order and use fused multiply-adds; device exp/log differ from glibc's by
// an ulp), and a GOOM's absolute precision degrades with |logmag| (spec §1.5), so the tolerances
// are relative to |logmag| + 1. Entries far below the largest entry of their matrix are compared
// relative to that largest entry (a float product's error is relative to its largest terms).

#include "cuda/cuda_common.hpp"

#include <dynx/goom.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace dynx::test {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

/// GOOM matrices on the host, packed.
template <class T>
struct HostGoom {
  std::int64_t rows = 0, cols = 0, count = 0;
  std::vector<T> lg;
  std::vector<std::uint8_t> ng;
  HostGoom() = default;
  HostGoom(std::int64_t r, std::int64_t c, std::int64_t n)
      : rows(r), cols(c), count(n), lg(std::size_t(r * c * n)), ng(std::size_t(r * c * n)) {}
  GoomMatrixBatch<T> view() {
    return {MatrixBatch<T>(lg.data(), rows, cols, count),
            MatrixBatch<std::uint8_t>(ng.data(), rows, cols, count)};
  }
  GoomMatrixBatch<const T> cview() const {
    return {MatrixBatch<const T>(lg.data(), rows, cols, count),
            MatrixBatch<const std::uint8_t>(ng.data(), rows, cols, count)};
  }
  T& l(std::int64_t i, std::int64_t j, std::int64_t k = 0) {
    return lg[std::size_t(k * rows * cols + j * rows + i)];
  }
  T l(std::int64_t i, std::int64_t j, std::int64_t k = 0) const {
    return lg[std::size_t(k * rows * cols + j * rows + i)];
  }
  std::uint8_t& s(std::int64_t i, std::int64_t j, std::int64_t k = 0) {
    return ng[std::size_t(k * rows * cols + j * rows + i)];
  }
  std::uint8_t s(std::int64_t i, std::int64_t j, std::int64_t k = 0) const {
    return ng[std::size_t(k * rows * cols + j * rows + i)];
  }
};

/// A device copy of a HostGoom (packed).
template <class T>
struct DevGoom {
  std::int64_t rows, cols, count;
  Buffer<T> lg;
  Buffer<std::uint8_t> ng;
  DevGoom(Context& ctx, const HostGoom<T>& h)
      : rows(h.rows),
        cols(h.cols),
        count(h.count),
        lg(h.lg.size(), ctx.device()),
        ng(h.ng.size(), ctx.device()) {
    copy_bytes(ctx, lg.data(), lg.device(), h.lg.data(), Device::cpu(), lg.bytes());
    copy_bytes(ctx, ng.data(), ng.device(), h.ng.data(), Device::cpu(), ng.bytes());
    ctx.synchronize();
  }
  GoomMatrixBatch<T> view() {
    return {
        MatrixBatch<T>(lg.data(), rows, cols, rows, rows * cols, count, lg.device()),
        MatrixBatch<std::uint8_t>(ng.data(), rows, cols, rows, rows * cols, count, ng.device())};
  }
  GoomMatrixBatch<const T> cview() const {
    return {MatrixBatch<const T>(lg.data(), rows, cols, rows, rows * cols, count, lg.device()),
            MatrixBatch<const std::uint8_t>(ng.data(), rows, cols, rows, rows * cols, count,
                                            ng.device())};
  }
  void download(Context& ctx, HostGoom<T>& h) const {
    copy_bytes(ctx, h.lg.data(), Device::cpu(), lg.data(), lg.device(), lg.bytes());
    copy_bytes(ctx, h.ng.data(), Device::cpu(), ng.data(), ng.device(), ng.bytes());
    ctx.synchronize();
  }
};

/// Broadcast view: matrix 0 of `g` for every one of `count` items (stride 0).
template <class T>
GoomMatrixBatch<const T> broadcast(GoomMatrixBatch<const T> g, std::int64_t count) {
  g.logmag.stride = 0;
  g.neg.stride = 0;
  g.logmag.count = g.neg.count = count;
  return g;
}

bool same_nan_or_value(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  return a == b;
}

/// Tolerance in nats: abs + rel·|logmag|.
struct Tol {
  double abs, rel;
  double at(double logmag) const { return abs + rel * std::fabs(logmag); }
};

/// Compares GOOM matrices [0, count) of gpu against cpu. Entries within e^2 of the largest entry
/// of their matrix (or of their row, with per_row) by the CPU result must agree to tol.at(logmag)
/// nats with the same sign; entries further down (up to e^30) are compared relative to that
/// largest entry: min(err, 1)·e^(−gap) ≤ e^2·tol.at(largest). −∞ and NaN must match exactly.
/// Failures are summarised in one message.
template <class T>
void expect_goom_close(const HostGoom<T>& cpu, const HostGoom<T>& gpu, Tol tol,
                       const std::string& what, bool per_row = false) {
  ASSERT_EQ(cpu.lg.size(), gpu.lg.size());
  const std::int64_t per = cpu.rows * cpu.cols;
  std::int64_t bad = 0, signs = 0, specials = 0;
  double worst = 0;
  std::string first;
  for (std::int64_t k = 0; k < cpu.count; ++k) {
    std::vector<double> big(std::size_t(cpu.rows), -kInf);  // per row, or the matrix's in all
    for (std::int64_t q = 0; q < per; ++q) {
      const double v = double(cpu.lg[std::size_t(k * per + q)]);
      if (std::isfinite(v))
        big[std::size_t(q % cpu.rows)] = std::max(big[std::size_t(q % cpu.rows)], v);
    }
    if (!per_row) std::fill(big.begin(), big.end(), *std::max_element(big.begin(), big.end()));
    for (std::int64_t q = 0; q < per; ++q) {
      const std::size_t o = std::size_t(k * per + q);
      const double top = big[std::size_t(q % cpu.rows)];
      const double want = double(cpu.lg[o]), got = double(gpu.lg[o]);
      if (!std::isfinite(want) || !std::isfinite(got)) {
        if (!same_nan_or_value(want, got)) {
          ++specials;
          if (first.empty())
            first = "matrix " + std::to_string(k) + " entry " + std::to_string(q) + ": cpu " +
                    std::to_string(want) + " gpu " + std::to_string(got);
        }
        continue;
      }
      const double gap = top - want, err = std::fabs(got - want);
      if (gap <= 2) {
        worst = std::max(worst, err / tol.at(want));
        if (err > tol.at(want)) {
          ++bad;
          if (first.empty())
            first = "matrix " + std::to_string(k) + " entry " + std::to_string(q) + ": cpu " +
                    std::to_string(want) + " gpu " + std::to_string(got);
        }
        signs += cpu.ng[o] != gpu.ng[o];
      } else if (gap <= 30) {
        if (std::min(err, 1.0) * std::exp(-gap) > std::exp(2.0) * tol.at(top)) ++bad;
      }
    }
  }
  EXPECT_EQ(bad + signs + specials, 0)
      << what << ": " << bad << " entries beyond " << tol.abs << " + " << tol.rel
      << "·|logmag| nats, " << signs << " sign mismatches, " << specials
      << " special-value mismatches; worst dominant error " << worst
      << " × tolerance; first: " << first;
}

// --- conversions ---------------------------------------------------------------------------------

template <class T>
class CudaGoom : public CudaTest {};
TYPED_TEST_SUITE(CudaGoom, RealTypes);

TYPED_TEST(CudaGoom, ConversionsMatchCpu) {
  using T = TypeParam;
  const std::int64_t m = 7, n = 5, count = 3;
  HostBatch<T> x = random_batch<T>(m, n, count, 41, kPadded);
  x(0, 0, 0) = T(0);
  x(1, 0, 0) = -T(0);
  x(2, 0, 0) = std::numeric_limits<T>::infinity();
  x(3, 0, 0) = -std::numeric_limits<T>::infinity();
  x(4, 0, 0) = nan_value<T>();
  x(5, 0, 0) = std::numeric_limits<T>::denorm_min();
  x(6, 0, 0) = -std::numeric_limits<T>::max() / 4;
  HostGoom<T> gc(m, n, count), gg(m, n, count);
  goom_from_real<T>(this->cpu(), x.cview(), gc.view());
  DeviceBatch<T> dx(this->gpu(), x);
  DevGoom<T> dg(this->gpu(), gg);
  goom_from_real<T>(this->gpu(), dx.cview(), dg.view());
  dg.download(this->gpu(), gg);
  for (std::size_t i = 0; i < gc.lg.size(); ++i) {
    // ln|x| by device log against glibc's: within 2 ulps of the result.
    const double want = double(gc.lg[i]), got = double(gg.lg[i]);
    if (std::isfinite(want))
      EXPECT_NEAR(got, want, 2 * eps<T>() * std::max(1.0, std::fabs(want))) << i;
    else
      EXPECT_TRUE(same_nan_or_value(want, got)) << i << ": " << want << " vs " << got;
    EXPECT_EQ(gc.ng[i], gg.ng[i]) << i;  // −0 keeps its sign bit, NaN gives 0
  }
  EXPECT_EQ(gg.ng[1], 1);

  // Back to reals with a shift: out = ±exp(logmag + shift).
  for (T shift : {T(0), T(-3.5)}) {
    HostBatch<T> rc(m, n, count, kPadded, T(0)), rg(m, n, count, kPadded, T(0));
    goom_to_real<T>(this->cpu(), gc.cview(), rc.view(), shift);
    DeviceBatch<T> drg(this->gpu(), rg);
    goom_to_real<T>(this->gpu(), dg.cview(), drg.view(), shift);
    drg.download(this->gpu(), rg);
    for (std::int64_t k = 0; k < count; ++k)
      for (std::int64_t j = 0; j < n; ++j)
        for (std::int64_t i = 0; i < m; ++i) {
          const double want = double(rc(i, j, k)), got = double(rg(i, j, k));
          if (std::isfinite(want) && want != 0)
            // exp(logmag + shift), the sum rounded alike on both: the device exp (≤ 2 ulps) against
            // glibc's (≤ 1 ulp), and absolute ulps of subnormal results.
            EXPECT_NEAR(
                got, want,
                4 * eps<T>() * std::fabs(want) + 4 * double(std::numeric_limits<T>::denorm_min()))
                << i << " " << j << " " << k;
          else
            EXPECT_TRUE(same_nan_or_value(want, got)) << i << " " << j << " " << k;
        }
    EXPECT_TRUE(rg.padding_intact(T(0)));
  }
}

// --- log-matmul-exp ------------------------------------------------------------------------------

/// Random GOOM batch: item q at scale 0, +5000 or −5000 nats, rows offset by ±300 nats (so rows
/// sit far apart and the two-sided scaling matters), random signs.
template <class T>
HostGoom<T> random_goom(std::int64_t r, std::int64_t c, std::int64_t count, double row_offset,
                        std::uint64_t seed) {
  Rng rng(seed);
  std::normal_distribution<double> normal;
  std::bernoulli_distribution coin(0.5);
  HostGoom<T> g(r, c, count);
  for (std::int64_t q = 0; q < count; ++q) {
    const double scale = q % 3 == 0 ? 0.0 : q % 3 == 1 ? 5000.0 : -5000.0;
    for (std::int64_t j = 0; j < c; ++j)
      for (std::int64_t i = 0; i < r; ++i) {
        g.l(i, j, q) = T(scale + 3 * normal(rng) + double(i % 3) * row_offset);
        g.s(i, j, q) = coin(rng);
      }
  }
  return g;
}

template <class T>
HostGoom<T> lmme_on(Context& ctx, GoomMatrixBatch<const T> a, GoomMatrixBatch<const T> b,
                    std::int64_t m, std::int64_t n, std::int64_t count, BatchStatus* st,
                    InnerPrecision p) {
  HostGoom<T> c(m, n, count);
  LmmeOptions o;
  o.precision = p;
  log_matmul_exp<T>(ctx, a, b, c.view(), st, o);
  return c;
}

/// LMME on both backends (GPU inputs uploaded from the host ones; `bcast_a`/`bcast_b` use matrix
/// 0 for every item), the results compared with expect_goom_close.
template <class T>
void check_lmme(Context& cpu, Context& gpu, const HostGoom<T>& a, const HostGoom<T>& b,
                std::int64_t count, bool bcast_a, bool bcast_b, InnerPrecision p, Tol tol,
                const std::string& what) {
  const std::int64_t m = a.rows, n = b.cols;
  auto av = bcast_a ? broadcast(a.cview(), count) : a.cview();
  auto bv = bcast_b ? broadcast(b.cview(), count) : b.cview();
  BatchStatus sc, sg;
  const InnerPrecision pc = p == InnerPrecision::tf32 ? InnerPrecision::same : p;
  HostGoom<T> c = lmme_on<T>(cpu, av, bv, m, n, count, &sc, pc);
  DevGoom<T> da(gpu, a), db(gpu, b);
  HostGoom<T> g(m, n, count);
  DevGoom<T> dc(gpu, g);
  auto dav = bcast_a ? broadcast(da.cview(), count) : da.cview();
  auto dbv = bcast_b ? broadcast(db.cview(), count) : db.cview();
  LmmeOptions o;
  o.precision = p;
  log_matmul_exp<T>(gpu, dav, dbv, dc.view(), &sg, o);
  dc.download(gpu, g);
  for (std::int64_t k = 0; k < count; ++k) EXPECT_EQ(sc.at(k), sg.at(k)) << what << " item " << k;
  // LMME's error is relative to each output row's scale (spec §3.4): compare per row.
  expect_goom_close(c, g, tol, what, /*per_row=*/true);
}

TYPED_TEST(CudaGoom, LmmeMatchesCpuOnRandomBatches) {
  using T = TypeParam;
  const bool dbl = std::is_same_v<T, double>;
  struct Shape {
    std::int64_t m, k, n, count;
  };
  for (const Shape& s :
       {Shape{5, 7, 4, 6}, Shape{1, 1, 1, 3}, Shape{33, 17, 65, 4}, Shape{64, 64, 64, 9}}) {
    const HostGoom<T> a = random_goom<T>(s.m, s.k, s.count, 300.0, 7 + s.m);
    HostGoom<T> b = random_goom<T>(s.k, s.n, s.count, -150.0, 11 + s.n);
    // An all −∞ row of B (item 2) and an exact zero in A: no NaN, the rest unaffected.
    if (s.count > 2)
      for (std::int64_t j = 0; j < s.n; ++j)
        b.l(s.k - 1, j, 2) = -std::numeric_limits<T>::infinity();
    for (InnerPrecision p : {InnerPrecision::same, InnerPrecision::f64}) {
      // Tolerance in nats: the GEMM's relative error k·u (u of the compute type; the sums run in
      // another order on each backend) amplified by cancellation up to e^2 on the dominant
      // entries, plus 4 ulps of T of |logmag| (up to 5600: rounding of the stored log and of
      // the scale arithmetic, identical operations on both backends but for exp/log ulps);
      // both backends err, so twice that.
      const double u = p == InnerPrecision::f64 || dbl ? eps<double>() : eps<float>();
      const Tol tol{2 * 8.0 * double(s.k) * u * std::exp(2.0), 2 * 4 * eps<T>()};
      const std::string what = "lmme " + std::to_string(s.m) + "x" + std::to_string(s.k) + "x" +
                               std::to_string(s.n) + (p == InnerPrecision::f64 ? " f64" : " same");
      check_lmme<T>(this->cpu(), this->gpu(), a, b, s.count, false, false, p, tol, what);
      check_lmme<T>(this->cpu(), this->gpu(), a, b, s.count, true, false, p, tol,
                    what + " bcast a");
      check_lmme<T>(this->cpu(), this->gpu(), a, b, s.count, false, true, p, tol,
                    what + " bcast b");
      check_lmme<T>(this->cpu(), this->gpu(), a, b, s.count, true, true, p, tol,
                    what + " bcast both");
    }
  }
}

TYPED_TEST(CudaGoom, LmmeTf32StaysWithinTf32Accuracy) {
  using T = TypeParam;
  // One item at scale 0 (logmags N(0, 3²)).
  const HostGoom<T> a = random_goom<T>(48, 48, 1, 0.0, 3), b = random_goom<T>(48, 48, 1, 0.0, 5);
  // TF32 keeps 10 mantissa bits (u = 2^-11 ≈ 4.9e-4): a dot product of 48 terms errs by about
  // √48·u ≈ 3.4e-3 relative, e^2 … e^3 more under cancellation on the dominant entries: 0.25
  // nats leaves a margin of 3 over the worst of those, and a wrong product is off by O(1) (float
  // only: double GEMMs ignore tf32). Compared with the CPU's IEEE result.
  const Tol tol = std::is_same_v<T, float>
                      ? Tol{0.25, 0.0}
                      : Tol{2 * 8.0 * 48 * eps<double>() * std::exp(2.0), 8 * eps<T>()};
  check_lmme<T>(this->cpu(), this->gpu(), a, b, 1, false, false, InnerPrecision::tf32, tol,
                "lmme tf32");
}

// Spec §3.4: I (−∞ off the diagonal) times H = [[0, 0.5], [−200, −199]] (logs) is H; one-sided
// scaling loses row 2.
TYPED_TEST(CudaGoom, LmmeTwoSidedScalingKeepsSmallRows) {
  using T = TypeParam;
  const T ninf = -std::numeric_limits<T>::infinity();
  HostGoom<T> id(2, 2, 1), h(2, 2, 1), out(2, 2, 1);
  id.l(0, 0) = 0;
  id.l(1, 1) = 0;
  id.l(0, 1) = ninf;
  id.l(1, 0) = ninf;
  h.l(0, 0) = 0;
  h.l(0, 1) = T(0.5);
  h.l(1, 0) = -200;
  h.l(1, 1) = -199;
  h.s(1, 1) = 1;
  DevGoom<T> did(this->gpu(), id), dh(this->gpu(), h), dout(this->gpu(), out);
  log_matmul_exp<T>(this->gpu(), did.cview(), dh.cview(), dout.view());
  dout.download(this->gpu(), out);
  EXPECT_NEAR(double(out.l(0, 0)), 0.0, 1e-6);
  EXPECT_NEAR(double(out.l(0, 1)), 0.5, 1e-6);
  EXPECT_NEAR(double(out.l(1, 0)), -200.0, 1e-4);  // float: ulp of 200 is 1.5e-5
  EXPECT_NEAR(double(out.l(1, 1)), -199.0, 1e-4);
  EXPECT_EQ(out.s(1, 1), 1);
  EXPECT_EQ(out.s(1, 0), 0);
  // A zero matrix (all −∞) gives −∞, not NaN; a decaying product keeps its magnitude.
  HostGoom<T> x(1, 1, 2), y(1, 1, 2), z(1, 1, 2);
  x.l(0, 0, 0) = ninf;
  y.l(0, 0, 0) = T(-3);
  x.l(0, 0, 1) = T(-3000);
  y.l(0, 0, 1) = T(-3000);
  y.s(0, 0, 1) = 1;
  DevGoom<T> dx(this->gpu(), x), dy(this->gpu(), y), dz(this->gpu(), z);
  log_matmul_exp<T>(this->gpu(), dx.cview(), dy.cview(), dz.view());
  dz.download(this->gpu(), z);
  EXPECT_EQ(double(z.l(0, 0, 0)), -kInf);
  EXPECT_NEAR(double(z.l(0, 0, 1)), -6000.0, 6000 * 4 * eps<T>());
  EXPECT_EQ(z.s(0, 0, 1), 1);
}

TYPED_TEST(CudaGoom, LmmeStatusPerItem) {
  using T = TypeParam;
  HostGoom<T> a = random_goom<T>(3, 3, 1, 0.0, 3), b = random_goom<T>(3, 3, 4, 0.0, 4);
  b.l(1, 1, 1) = nan_value<T>();                      // item 1: NaN
  b.l(0, 0, 3) = std::numeric_limits<T>::infinity();  // item 3: +∞ logmag
  DevGoom<T> da(this->gpu(), a), db(this->gpu(), b);
  HostGoom<T> c(3, 3, 4);
  DevGoom<T> dc(this->gpu(), c);
  BatchStatus st;
  log_matmul_exp<T>(this->gpu(), broadcast(da.cview(), 4), db.cview(), dc.view(), &st);
  dc.download(this->gpu(), c);
  EXPECT_EQ(st.at(0), MatrixStatus::ok);
  EXPECT_EQ(st.at(1), MatrixStatus::non_finite);
  EXPECT_EQ(st.at(2), MatrixStatus::ok);
  EXPECT_EQ(st.at(3), MatrixStatus::non_finite);
  for (std::int64_t q = 0; q < 9; ++q) {
    EXPECT_TRUE(std::isnan(double(c.lg[std::size_t(9 + q)])));
    EXPECT_TRUE(std::isnan(double(c.lg[std::size_t(27 + q)])));
    EXPECT_FALSE(std::isnan(double(c.lg[std::size_t(18 + q)])));
  }
  // A NaN in a broadcast A fails every item; without a status the failure throws.
  a.l(2, 2, 0) = nan_value<T>();
  DevGoom<T> da2(this->gpu(), a);
  BatchStatus st2;
  log_matmul_exp<T>(this->gpu(), broadcast(da2.cview(), 4), db.cview(), dc.view(), &st2);
  EXPECT_EQ(st2.failures(), 4);
  EXPECT_THROW(log_matmul_exp<T>(this->gpu(), broadcast(da2.cview(), 4), db.cview(), dc.view()),
               NumericalError);
}

// --- scans over matrix products ------------------------------------------------------------------

/// chains · steps d × d N(0, sigma²) factors.
template <class T>
HostBatch<T> gaussian_factors(std::int64_t d, std::int64_t steps, std::int64_t chains, double sigma,
                              std::uint64_t seed) {
  Rng rng(seed);
  std::normal_distribution<double> normal(0.0, sigma);
  HostBatch<T> m(d, d, steps * chains);
  for (auto& v : m.storage()) v = T(normal(rng));
  return m;
}

struct ScanCase {
  std::int64_t d, steps, chains;
  ScanFormat format;
  ProductOrder order;
  ScanKind kind;
  bool goom_input;
  std::int64_t chunk;
  InnerPrecision precision = InnerPrecision::same;
  std::string str() const {
    std::ostringstream s;
    s << "d " << d << " steps " << steps << " chains " << chains
      << (format == ScanFormat::scaled ? " scaled" : " goom")
      << (order == ProductOrder::later_left ? " later_left" : " later_right")
      << (kind == ScanKind::inclusive ? " inclusive" : " reduce")
      << (goom_input ? " goom-in" : " real-in") << " chunk " << chunk
      << (precision == InnerPrecision::f64 ? " f64" : "");
    return s.str();
  }
};

/// The scan of `m` (or of its GOOM, computed on the CPU, for goom_input) on ctx.
template <class T>
HostGoom<T> scan_on(Context& ctx, Context& cpu, const HostBatch<T>& m, const ScanCase& sc,
                    BatchStatus& st) {
  ProductScanOptions o;
  o.kind = sc.kind;
  o.format = sc.format;
  o.order = sc.order;
  o.chunk = sc.chunk;
  o.precision = sc.precision;
  const std::int64_t out_count = sc.kind == ScanKind::inclusive ? sc.chains * sc.steps : sc.chains;
  HostGoom<T> out(sc.d, sc.d, out_count);
  HostGoom<T> g(sc.d, sc.d, m.count());
  if (sc.goom_input) goom_from_real<T>(cpu, m.cview(), g.view());
  if (ctx.device().kind() == DeviceKind::cpu) {
    if (sc.goom_input) {
      matrix_product_scan<T>(ctx, g.cview(), sc.steps, out.view(), &st, o);
    } else {
      matrix_product_scan<T>(ctx, m.cview(), sc.steps, out.view(), &st, o);
    }
    return out;
  }
  DevGoom<T> dout(ctx, out);
  if (sc.goom_input) {
    DevGoom<T> dg(ctx, g);
    matrix_product_scan<T>(ctx, dg.cview(), sc.steps, dout.view(), &st, o);
  } else {
    DeviceBatch<T> dm(ctx, m);
    matrix_product_scan<T>(ctx, dm.cview(), sc.steps, dout.view(), &st, o);
  }
  dout.download(ctx, out);
  return out;
}

/// Tolerance (nats) for comparing the backends' scans directly, used where both compute in
/// float64 (the CPU backend's measured errors against a float64 truth on chains of 1000 8×8 N(0,1)
/// factors, |logmag| ≈ 975, in brackets; tests/unit/test_goom_ops.cpp). Scaled float64 keeps the
/// mantissa's precision at any magnitude [2.3e-12]: 1e-9·(|logmag| + 1). GOOM float64 re-rounds
/// logs of magnitude up to 1000 (ulp 1.1e-13) at every step [1.8e-10]: 1e-9·(|logmag| + 1).
/// Float data with f64 mantissas / logs: one rounding of the result to float, 1e-6·(|logmag| + 1).
template <class T>
Tol scan_tolerance(const ScanCase& sc) {
  if (std::is_same_v<T, double>) return {1e-9, 1e-9};
  (void)sc;
  return {1e-6, 1e-6};
}

/// Errors of a scan's dominant entries (within e^2 of their matrix's largest, by `truth`) against
/// the float64 truth, in nats, and their sign mismatches; rows of failed chains are skipped.
struct ScanError {
  double dominant = 0;
  std::int64_t signs = 0;
};
template <class T>
ScanError scan_error(const HostGoom<T>& out, const HostGoom<double>& truth) {
  ScanError e;
  const std::int64_t per = truth.rows * truth.cols;
  for (std::int64_t k = 0; k < truth.count; ++k) {
    double big = -kInf;
    for (std::int64_t q = 0; q < per; ++q) big = std::max(big, truth.lg[std::size_t(k * per + q)]);
    for (std::int64_t q = 0; q < per; ++q) {
      const std::size_t o = std::size_t(k * per + q);
      if (!std::isfinite(truth.lg[o]) || truth.lg[o] < big - 2) continue;
      const double err = std::fabs(double(out.lg[o]) - truth.lg[o]);
      e.dominant = std::max(e.dominant, std::isnan(err) ? kInf : err);
      e.signs += out.ng[o] != truth.ng[o];
    }
  }
  return e;
}

/// The float64 truth for a case: the same factors (or GOOM logmags) in double through the CPU
/// backend's scaled float64 scan (mantissa-level accuracy at any magnitude).
template <class T>
HostGoom<double> truth_scan(Context& cpu, const HostBatch<T>& m, const ScanCase& sc) {
  HostBatch<double> md(m.rows(), m.cols(), m.count());
  for (std::int64_t k = 0; k < m.count(); ++k)
    for (std::int64_t j = 0; j < m.cols(); ++j)
      for (std::int64_t i = 0; i < m.rows(); ++i) md(i, j, k) = double(m(i, j, k));
  ScanCase td = sc;
  td.format = ScanFormat::scaled;
  td.chunk = 0;
  td.precision = InnerPrecision::same;
  if (sc.goom_input) {
    // The GOOM the float backends see: ln|x| rounded to T, in double.
    HostGoom<T> g(m.rows(), m.cols(), m.count());
    goom_from_real<T>(cpu, m.cview(), g.view());
    HostGoom<double> gd(m.rows(), m.cols(), m.count());
    for (std::size_t i = 0; i < g.lg.size(); ++i) {
      gd.lg[i] = double(g.lg[i]);
      gd.ng[i] = g.ng[i];
    }
    ProductScanOptions o;
    o.kind = td.kind;
    o.order = td.order;
    HostGoom<double> out(sc.d, sc.d,
                         sc.kind == ScanKind::inclusive ? sc.chains * sc.steps : sc.chains);
    matrix_product_scan<double>(cpu, gd.cview(), sc.steps, out.view(), nullptr, o);
    return out;
  }
  td.goom_input = false;
  BatchStatus st;
  return scan_on<double>(cpu, cpu, md, td, st);
}

/// GPU against CPU. Float64 (and float data with f64 internals): directly, to scan_tolerance.
/// Float32 internals: a chain's rounding errors are amplified wherever a step cancels (a product
/// near a lower rank, random factors now and then), so two float32 evaluations in different
/// orders can differ by as much as either is off; the GPU must instead be about as accurate as
/// the CPU against the float64 truth: its dominant-entry error at most 4× the CPU's plus a floor
/// of 2e-3 nats (scaled) or 3e-2 nats (GOOM), well above a float32 scan's usual errors at these
/// sizes (measured 1e-4 … 1e-3 scaled and 3e-3 … 4e-2 GOOM for 1000 N(0,1) 3×3 … 8×8 factors)
/// and far below what a wrong product gives (≥ 1 nat).
template <class T>
void compare_scans(Context& cpu, const HostBatch<T>& m, const ScanCase& sc, const HostGoom<T>& c,
                   const HostGoom<T>& g) {
  if (std::is_same_v<T, double> || sc.precision == InnerPrecision::f64) {
    expect_goom_close(c, g, scan_tolerance<T>(sc), sc.str());
    return;
  }
  const HostGoom<double> truth = truth_scan<T>(cpu, m, sc);
  const ScanError ec = scan_error(c, truth), eg = scan_error(g, truth);
  const double floor = sc.format == ScanFormat::scaled ? 2e-3 : 3e-2;
  EXPECT_LE(eg.dominant, 4 * ec.dominant + floor)
      << sc.str() << ": GPU error " << eg.dominant << " nats, CPU error " << ec.dominant;
  EXPECT_LE(eg.signs, 4 * ec.signs) << sc.str() << ": sign mismatches against the float64 truth";
}

template <class T>
void check_scan(Context& cpu, Context& gpu, const HostBatch<T>& m, const ScanCase& sc) {
  BatchStatus stc, stg;
  const HostGoom<T> c = scan_on<T>(cpu, cpu, m, sc, stc);
  const HostGoom<T> g = scan_on<T>(gpu, cpu, m, sc, stg);
  ASSERT_TRUE(stc.all_ok()) << sc.str();
  EXPECT_TRUE(stg.all_ok()) << sc.str();
  compare_scans(cpu, m, sc, c, g);
}

TYPED_TEST(CudaGoom, ProductScansMatchCpuSmallD) {
  using T = TypeParam;
  for (std::int64_t d : {3, 8})
    for (std::int64_t chains : {1, 5}) {
      const HostBatch<T> m = gaussian_factors<T>(d, 1000, chains, 1.0, 100 + d + chains);
      for (ScanFormat f : {ScanFormat::scaled, ScanFormat::goom})
        for (ProductOrder order : {ProductOrder::later_left, ProductOrder::later_right})
          for (ScanKind kind : {ScanKind::inclusive, ScanKind::reduce})
            for (bool goom_input : {false, true})
              for (std::int64_t chunk : {0, 37})
                check_scan<T>(this->cpu(), this->gpu(), m,
                              ScanCase{d, 1000, chains, f, order, kind, goom_input, chunk});
    }
}

TYPED_TEST(CudaGoom, ProductScansMatchCpuLockstep) {
  using T = TypeParam;
  // d > 32: lockstep steps with one cuBLAS GEMM over all chunks. Real input for later_left, GOOM
  // input for later_right (the CPU backend is slow at d = 64).
  for (std::int64_t d : {33, 64})
    for (std::int64_t chains : {1, 5}) {
      const HostBatch<T> m =
          gaussian_factors<T>(d, 1000, chains, 1.0 / std::sqrt(double(d)), 200 + d + chains);
      for (ScanFormat f : {ScanFormat::scaled, ScanFormat::goom})
        for (ProductOrder order : {ProductOrder::later_left, ProductOrder::later_right})
          for (ScanKind kind : {ScanKind::inclusive, ScanKind::reduce})
            check_scan<T>(
                this->cpu(), this->gpu(), m,
                ScanCase{d, 1000, chains, f, order, kind, order == ProductOrder::later_right,
                         d == 33 ? std::int64_t(50) : std::int64_t(0)});
    }
}

TYPED_TEST(CudaGoom, ProductScansWithManyChunkTotals) {
  using T = TypeParam;
  // Chunks of 16 over 20000 steps: 1250 totals per chain, more than one sequential sweep takes,
  // so the totals are scanned in chunks themselves (a second level). The CPU composes the totals
  // sequentially: the association differs, the results only by rounding.
  for (std::int64_t d : {4, 40}) {
    const std::int64_t steps = d == 4 ? 20000 : 3000, chains = 2;
    const HostBatch<T> m =
        gaussian_factors<T>(d, steps, chains, 1.0 / std::sqrt(double(d)), 300 + d);
    for (ScanFormat f : {ScanFormat::scaled, ScanFormat::goom})
      for (ScanKind kind : {ScanKind::inclusive, ScanKind::reduce}) {
        ScanCase sc{d, steps, chains, f, ProductOrder::later_left, kind, false, 16};
        check_scan<T>(this->cpu(), this->gpu(), m, sc);
      }
  }
  if constexpr (std::is_same_v<T, float>) {
    // Float data with float64 mantissas / logs.
    const HostBatch<T> m = gaussian_factors<T>(8, 1000, 3, 1.0, 17);
    for (ScanFormat f : {ScanFormat::scaled, ScanFormat::goom})
      check_scan<T>(this->cpu(), this->gpu(), m,
                    ScanCase{8, 1000, 3, f, ProductOrder::later_right, ScanKind::inclusive, true, 0,
                             InnerPrecision::f64});
  }
}

TYPED_TEST(CudaGoom, ProductScanNanFailsOnlyItsChain) {
  using T = TypeParam;
  for (std::int64_t d : {8, 40})
    for (ScanFormat f : {ScanFormat::scaled, ScanFormat::goom})
      for (bool goom_input : {false, true}) {
        const std::int64_t steps = 300, chains = 4;
        HostBatch<T> m = gaussian_factors<T>(d, steps, chains, 1.0 / std::sqrt(double(d)), 77);
        m(1, 2, 2 * steps + 150) = goom_input ? std::numeric_limits<T>::infinity() : nan_value<T>();
        const ScanCase sc{
            d, steps, chains, f, ProductOrder::later_left, ScanKind::inclusive, goom_input, 0};
        BatchStatus stc, stg;
        const HostGoom<T> c = scan_on<T>(this->cpu(), this->cpu(), m, sc, stc);
        const HostGoom<T> g = scan_on<T>(this->gpu(), this->cpu(), m, sc, stg);
        for (std::int64_t k = 0; k < chains; ++k) {
          EXPECT_EQ(stc.at(k), k == 2 ? MatrixStatus::non_finite : MatrixStatus::ok) << sc.str();
          EXPECT_EQ(stg.at(k), k == 2 ? MatrixStatus::non_finite : MatrixStatus::ok) << sc.str();
        }
        // Chain 2's outputs are NaN, every one of them; the other chains are unaffected.
        const std::int64_t per = d * d * steps;
        for (std::int64_t q = 2 * per; q < 3 * per; ++q)
          ASSERT_TRUE(std::isnan(double(g.lg[std::size_t(q)]))) << sc.str() << " at " << q;
        // Chains 0 and 1 as a scan of their own.
        HostGoom<T> c_ok(d, d, 2 * steps), g_ok(d, d, 2 * steps);
        std::copy(c.lg.begin(), c.lg.begin() + 2 * per, c_ok.lg.begin());
        std::copy(c.ng.begin(), c.ng.begin() + 2 * per, c_ok.ng.begin());
        std::copy(g.lg.begin(), g.lg.begin() + 2 * per, g_ok.lg.begin());
        std::copy(g.ng.begin(), g.ng.begin() + 2 * per, g_ok.ng.begin());
        HostBatch<T> m_ok(d, d, 2 * steps);
        for (std::int64_t k = 0; k < 2 * steps; ++k)
          for (std::int64_t j = 0; j < d; ++j)
            for (std::int64_t i = 0; i < d; ++i) m_ok(i, j, k) = m(i, j, k);
        ScanCase sc_ok = sc;
        sc_ok.chains = 2;
        compare_scans(this->cpu(), m_ok, sc_ok, c_ok, g_ok);
      }
}

TYPED_TEST(CudaGoom, ProductScanOfOneStepAndHugeGoomInput) {
  using T = TypeParam;
  // steps = 1: the output is the (converted) factor itself.
  const HostBatch<T> m = gaussian_factors<T>(5, 1, 7, 1.0, 5);
  for (ScanFormat f : {ScanFormat::scaled, ScanFormat::goom})
    for (ScanKind kind : {ScanKind::inclusive, ScanKind::reduce})
      check_scan<T>(this->cpu(), this->gpu(), m,
                    ScanCase{5, 1, 7, f, ProductOrder::later_left, kind, false, 0});
  // GOOM factors far beyond the float range (logmag ±1e4): scaled conversion via exp(L − e ln 2).
  HostGoom<T> g(3, 3, 40);
  Rng rng(9);
  std::normal_distribution<double> normal;
  for (std::size_t i = 0; i < g.lg.size(); ++i) {
    g.lg[i] = T(1e4 * ((i / 9) % 2 ? 1 : -1) + 5 * normal(rng));
    g.ng[i] = std::uint8_t(i % 3 == 0);
  }
  g.lg[4] = -std::numeric_limits<T>::infinity();  // an exact zero
  for (ScanFormat f : {ScanFormat::scaled, ScanFormat::goom}) {
    ProductScanOptions o;
    o.format = f;
    HostGoom<T> c(3, 3, 40), out(3, 3, 40);
    BatchStatus stc, stg;
    matrix_product_scan<T>(this->cpu(), g.cview(), 20, c.view(), &stc, o);
    DevGoom<T> dg(this->gpu(), g), dout(this->gpu(), out);
    matrix_product_scan<T>(this->gpu(), dg.cview(), 20, dout.view(), &stg, o);
    dout.download(this->gpu(), out);
    EXPECT_TRUE(stc.all_ok());
    EXPECT_TRUE(stg.all_ok());
    const std::string what = f == ScanFormat::scaled ? "huge goom scaled" : "huge goom goom";
    if constexpr (std::is_same_v<T, double>) {
      expect_goom_close(c, out, Tol{1e-9, 1e-9}, what);  // as scan_tolerance
    } else {
      // Against the float64 truth (the same logmags in double, scaled float64 on the CPU), as in
      // compare_scans; |logmag| up to 2e5 here, so the floor grows with it (1e-6 relative: a few
      // float ulps of the largest logmag).
      HostGoom<double> gd(3, 3, 40), truth(3, 3, 40);
      for (std::size_t i = 0; i < g.lg.size(); ++i) {
        gd.lg[i] = double(g.lg[i]);
        gd.ng[i] = g.ng[i];
      }
      matrix_product_scan<double>(this->cpu(), gd.cview(), 20, truth.view());
      const ScanError ec = scan_error(c, truth), eg = scan_error(out, truth);
      double top = 0;
      for (double v : truth.lg)
        if (std::isfinite(v)) top = std::max(top, std::fabs(v));
      const double floor = (f == ScanFormat::scaled ? 2e-3 : 3e-2) + 1e-6 * top;
      EXPECT_LE(eg.dominant, 4 * ec.dominant + floor) << what << ": CPU error " << ec.dominant;
      EXPECT_LE(eg.signs, 4 * ec.signs) << what;
    }
  }
}

// --- affine recurrences --------------------------------------------------------------------------

struct AffineCase {
  std::int64_t d, n, steps, chains;
  bool diagonal;
  std::int64_t chunk;
  std::string str() const {
    std::ostringstream s;
    s << "d " << d << " n " << n << " steps " << steps << " chains " << chains
      << (diagonal ? " diagonal" : " dense") << " chunk " << chunk;
    return s.str();
  }
};

template <class T>
struct AffineData {
  HostBatch<T> a, b, x0;
};

/// Contractive random maps (dense: N(0, (0.9/√d)²) entries; diagonal: uniform in (−0.98, 0.98))
/// so that the states stay bounded.
template <class T>
AffineData<T> affine_data(const AffineCase& ac, std::uint64_t seed) {
  Rng rng(seed);
  std::normal_distribution<double> normal;
  std::uniform_real_distribution<double> uni(-0.98, 0.98);
  AffineData<T> data{HostBatch<T>(ac.d, ac.diagonal ? 1 : ac.d, ac.chains * ac.steps, kPadded),
                     HostBatch<T>(ac.d, ac.n, ac.chains * ac.steps, kPadded),
                     HostBatch<T>(ac.d, ac.n, ac.chains)};
  for (std::int64_t k = 0; k < data.a.count(); ++k)
    for (std::int64_t j = 0; j < data.a.cols(); ++j)
      for (std::int64_t i = 0; i < ac.d; ++i)
        data.a(i, j, k) = T(ac.diagonal ? uni(rng) : 0.9 * normal(rng) / std::sqrt(double(ac.d)));
  for (std::int64_t k = 0; k < data.b.count(); ++k)
    for (std::int64_t j = 0; j < ac.n; ++j)
      for (std::int64_t i = 0; i < ac.d; ++i) data.b(i, j, k) = T(normal(rng));
  for (auto& v : data.x0.storage()) v = T(3 * normal(rng));
  return data;
}

template <class T>
HostBatch<T> affine_on(Context& ctx, const AffineData<T>& in, const AffineCase& ac,
                       BatchStatus& st) {
  AffineScanOptions o;
  o.chunk = ac.chunk;
  HostBatch<T> x(ac.d, ac.n, ac.chains * ac.steps, kPadded, T(0));
  if (ctx.device().kind() == DeviceKind::cpu) {
    affine_recurrence_scan<T>(ctx, in.a.cview(), in.b.cview(), in.x0.cview(), ac.steps, x.view(),
                              &st, o);
    return x;
  }
  DeviceBatch<T> da(ctx, in.a), db(ctx, in.b), dx0(ctx, in.x0), dx(ctx, x);
  affine_recurrence_scan<T>(ctx, da.cview(), db.cview(), dx0.cview(), ac.steps, dx.view(), &st, o);
  dx.download(ctx, x);
  return x;
}

/// Max |gpu − cpu| over chain c's states, relative to 1 + the largest |state| of the chain.
template <class T>
double affine_chain_error(const HostBatch<T>& c, const HostBatch<T>& g, std::int64_t chain,
                          std::int64_t steps) {
  double err = 0, scale = 1;
  for (std::int64_t k = chain * steps; k < (chain + 1) * steps; ++k)
    for (std::int64_t j = 0; j < c.cols(); ++j)
      for (std::int64_t i = 0; i < c.rows(); ++i) {
        scale = std::max(scale, std::fabs(double(c(i, j, k))));
        const double e = std::fabs(double(g(i, j, k)) - double(c(i, j, k)));
        err = std::max(err, std::isnan(e) ? kInf : e);
      }
  return err / scale;
}

TYPED_TEST(CudaGoom, AffineScansMatchCpu) {
  using T = TypeParam;
  std::vector<AffineCase> cases;
  for (bool diagonal : {false, true})
    for (std::int64_t d : {1, 4, 16, 40})
      for (std::int64_t chains : {1, 5})
        for (std::int64_t chunk : {0, 50})
          cases.push_back({d, diagonal ? 2 : 3, 1000, chains, diagonal && d > 1, chunk});
  // d = 80 dense in double: the compose's (d² + dn) scratch exceeds shared memory and goes to
  // workspace slots.
  cases.push_back({80, 2, 300, 2, false, 30});
  for (const AffineCase& ac : cases) {
    const AffineData<T> in = affine_data<T>(ac, 1000 + ac.d * 7 + ac.chains);
    BatchStatus stc, stg;
    const HostBatch<T> c = affine_on<T>(this->cpu(), in, ac, stc);
    const HostBatch<T> g = affine_on<T>(this->gpu(), in, ac, stg);
    ASSERT_TRUE(stc.all_ok()) << ac.str();
    EXPECT_TRUE(stg.all_ok()) << ac.str();
    EXPECT_TRUE(g.padding_intact(T(0))) << ac.str();
    for (std::int64_t ch = 0; ch < ac.chains; ++ch)
      // Contractive maps keep rounding errors from growing: each state is a few hundred roundings
      // (summation order, fused multiply-adds, and for automatic chunks a different split of the
      // chain) of O(d) terms below the largest state: 100·(d + n)·eps relative.
      EXPECT_LE(affine_chain_error(c, g, ch, ac.steps), 100.0 * double(ac.d + ac.n) * eps<T>())
          << ac.str() << " chain " << ch;
  }
}

TYPED_TEST(CudaGoom, AffineScanStatusPerChain) {
  using T = TypeParam;
  for (bool diagonal : {false, true})
    for (std::int64_t chunk : {0, 40}) {
      const AffineCase ac{6, 2, 400, 4, diagonal, chunk};
      AffineData<T> in = affine_data<T>(ac, 55);
      in.b(3, 1, 1 * ac.steps + 200) = nan_value<T>();  // chain 1: NaN input
      // Chain 3 overflows: A = 8·I, so the state grows like 8^t = 2^(3t) > the double range.
      for (std::int64_t k = 3 * ac.steps; k < 4 * ac.steps; ++k)
        for (std::int64_t j = 0; j < in.a.cols(); ++j)
          for (std::int64_t i = 0; i < ac.d; ++i) in.a(i, j, k) = T(diagonal || i == j ? 8 : 0);
      BatchStatus stc, stg;
      const HostBatch<T> c = affine_on<T>(this->cpu(), in, ac, stc);
      const HostBatch<T> g = affine_on<T>(this->gpu(), in, ac, stg);
      for (std::int64_t ch = 0; ch < ac.chains; ++ch) {
        const bool bad = ch == 1 || ch == 3;
        EXPECT_EQ(stc.at(ch), bad ? MatrixStatus::non_finite : MatrixStatus::ok)
            << ac.str() << " " << ch;
        EXPECT_EQ(stg.at(ch), stc.at(ch)) << ac.str() << " chain " << ch;
      }
      for (std::int64_t k = 1 * ac.steps; k < 2 * ac.steps; ++k) ASSERT_TRUE(g.all_nan(k)) << k;
      EXPECT_LE(affine_chain_error(c, g, 0, ac.steps), 100.0 * double(ac.d + ac.n) * eps<T>());
      EXPECT_LE(affine_chain_error(c, g, 2, ac.steps), 100.0 * double(ac.d + ac.n) * eps<T>());
    }
}

}  // namespace
}  // namespace dynx::test
