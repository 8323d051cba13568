// Lyapunov spectra (include/dynx/lyapunov.hpp, spec goom.md §5) on the CUDA backend against the
// CPU backend: the same Jacobians (Lorenz-63 by exact RK4 tangents at dt = 0.01, Hénon, i.i.d.
// Gaussian matrices) through both contexts, for every method. The device code exercised is
// qr_sweep (sequential_qr, overlapped_chunks, the sum-rule determinants: kernels/lyapunov.cuh),
// selective_reset (the Sklansky scan with resets and its QR readout) and, for largest_reduce, the
// product scan. Skipped without a CUDA device.
//
// Tolerances, written next to each assertion:
//  * sequential_qr and overlapped_chunks with the same segmenting (explicit chunk and warmup):
//    1e-9 in float64. Both backends run Benettin's QR step by step; they differ only in rounding
//    (Gram–Schmidt once on the GPU, twice on the CPU; other summation orders), and rounding in
//    one step's ln R_ii does not accumulate in the mean: the Q frame is attracted back.
//  * selective_reset: the same number of resets, and exponents within 1e-6 (for d ≤ 16 the GPU
//    rounds every operation as the CPU does, so the scans agree to the last bit on FMA hosts; the
//    1e-6 leaves room for log() of another libm). Lower exponents of long unreset Gaussian
//    products are decided by rounding (their directions fall below float64 resolution before a
//    reset, and the readout completes them arbitrarily): there only the largest is held to 1e-6.
//  * float32 Jacobians: c · eps_f32 / dt with c = 100 (per-step ln R_ii differ by a few eps).

#include "common/lyapunov_data.hpp"
#include "cuda/cuda_common.hpp"

#include <dynx/lyapunov.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace dynx::test {
namespace {

/// i.i.d. N(0, 1/d) entries: products of these have the closed-form spectrum of spec §7.1.
Jacobians gaussian_jacs(std::int64_t d, std::int64_t steps, std::uint64_t seed) {
  Rng rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0 / std::sqrt(double(d)));
  Jacobians out{d, steps, 1.0, std::vector<double>(std::size_t(d * d * steps))};
  for (double& v : out.j) v = normal(rng);
  return out;
}

/// The Jacobians as a host batch in precision T with the given padding.
template <class T>
HostBatch<T> batch(const Jacobians& j, Layout layout = kPacked) {
  HostBatch<T> h(j.d, j.d, j.steps, layout, T(-7));
  for (std::int64_t t = 0; t < j.steps; ++t)
    for (std::int64_t c = 0; c < j.d; ++c)
      for (std::int64_t i = 0; i < j.d; ++i) h(i, c, t) = T(j.j[std::size_t((t * j.d + c) * j.d + i)]);
  return h;
}

LyapunovOptions options(LyapunovMethod m, const Jacobians& j, std::int64_t burn_in) {
  LyapunovOptions o;
  o.method = m;
  o.dt = j.dt;
  o.burn_in = burn_in;
  return o;
}

struct Both {
  LyapunovResult cpu, gpu;
};

class LyapunovCuda : public CudaTest {
 protected:
  /// The same Jacobians (same ld and stride) and options through the CPU and the CUDA context.
  template <class T>
  Both run(const HostBatch<T>& h, const LyapunovOptions& o) {
    DeviceBatch<T> dev(gpu(), h);
    Both r{lyapunov_spectrum<T>(cpu(), h.cview(), o), lyapunov_spectrum<T>(gpu(), dev.cview(), o)};
    return r;
  }
};

/// Both ok, same shape and bookkeeping, exponents and running estimates within `tol`, and the
/// determinant mean of the sum rule within `det_tol` (default: tol).
void expect_close(const Both& r, double tol, const std::string& what, double det_tol = -1) {
  SCOPED_TRACE(what);
  ASSERT_EQ(r.cpu.status, LyapunovStatus::ok);
  ASSERT_EQ(r.gpu.status, LyapunovStatus::ok);
  ASSERT_EQ(r.cpu.exponents.size(), r.gpu.exponents.size());
  EXPECT_EQ(r.cpu.steps, r.gpu.steps);
  EXPECT_EQ(r.cpu.chunks, r.gpu.chunks);
  EXPECT_EQ(r.cpu.warmup, r.gpu.warmup);
  for (std::size_t i = 0; i < r.cpu.exponents.size(); ++i)
    EXPECT_NEAR(r.gpu.exponents[i], r.cpu.exponents[i], tol) << "exponent " << i;
  if (std::isfinite(r.cpu.mean_log_det)) {
    EXPECT_NEAR(r.gpu.mean_log_det, r.cpu.mean_log_det, det_tol < 0 ? tol : det_tol);
  }
  ASSERT_EQ(r.cpu.running_steps, r.gpu.running_steps);
  ASSERT_EQ(r.cpu.running.size(), r.gpu.running.size());
  for (std::size_t i = 0; i < r.cpu.running.size(); ++i)
    EXPECT_NEAR(r.gpu.running[i], r.cpu.running[i], tol) << "running estimate " << i;
}

std::int64_t level_steps(std::int64_t base) { return test_level() >= 1 ? 5 * base : base; }

TEST_F(LyapunovCuda, SequentialQrMatchesCpu) {
  const Jacobians lorenz = system_jacs("lorenz63", 0.01, level_steps(20000), 10000);
  const Jacobians henon = system_jacs("henon", 1.0, level_steps(20000), 1000);
  const Jacobians gauss = gaussian_jacs(8, level_steps(4000), 11);
  for (const Jacobians* j : {&lorenz, &henon, &gauss}) {
    std::vector<std::int64_t> ks = {0, 1};
    if (j->d > 2) ks.push_back(j->d - 1);
    for (std::int64_t k : ks) {
      LyapunovOptions o = options(LyapunovMethod::sequential_qr, *j, 1000);
      o.k = k;
      const Both r = run(batch<double>(*j), o);
      expect_close(r, 1e-9, "d = " + std::to_string(j->d) + ", k = " + std::to_string(k));
      if (k == 0) {  // Σ λ = mean ln|det J| / dt up to rounding (spec §5.1), on the GPU too
        EXPECT_LT(std::fabs(r.gpu.sum_rule_residual), 1e-9) << "d = " << j->d;
      }
    }
  }
}

TEST_F(LyapunovCuda, SequentialQrRecordsRunningEstimatesFromPaddedBatches) {
  // record_every splits the run into segments that continue from the previous Q (q0 / q_out of
  // qr_sweep); non-unit ld and stride.
  const Jacobians lorenz = system_jacs("lorenz63", 0.01, 12000, 10000);
  LyapunovOptions o = options(LyapunovMethod::sequential_qr, lorenz, 500);
  o.record_every = 2500;
  const Both r = run(batch<double>(lorenz, kPadded), o);
  expect_close(r, 1e-9, "lorenz63, padded, record_every 2500");
  EXPECT_EQ(r.gpu.running_steps.size(), 5u);  // 2500, 5000, 7500, 10000, 11500
}

TEST_F(LyapunovCuda, OverlappedChunksMatchCpuForTheSameSegmenting) {
  const Jacobians lorenz = system_jacs("lorenz63", 0.01, level_steps(20000), 10000);
  const Jacobians henon = system_jacs("henon", 1.0, level_steps(20000), 1000);
  const Jacobians gauss = gaussian_jacs(8, level_steps(4000), 12);
  for (const Jacobians* j : {&lorenz, &henon, &gauss}) {
    // A few long chunks, and many short ones (hundreds of segments, one block each).
    for (auto [chunk, warm] : {std::pair<std::int64_t, std::int64_t>{2000, 300}, {16, 64}}) {
      LyapunovOptions o = options(LyapunovMethod::overlapped_chunks, *j, 1000);
      o.chunk = chunk;
      o.warmup = warm;
      o.record_every = 1;  // a running estimate at every chunk boundary
      const Both r = run(batch<double>(*j), o);
      expect_close(r, 1e-9, "d = " + std::to_string(j->d) + ", chunk " + std::to_string(chunk));
      EXPECT_EQ(r.gpu.warmup, warm);
    }
  }
}

TEST_F(LyapunovCuda, OverlappedChunksDefaultsStayCloseToSequential) {
  // Default chunking differs between the backends (8192 chunks on a GPU); the warm-up from the
  // host pilot bounds the error by about e^-9 of the slowest gap (spec §5.5): 0.01 is ample at
  // 40000 Lorenz steps.
  const Jacobians lorenz = system_jacs("lorenz63", 0.01, 40000, 10000);
  const Both seq = run(batch<double>(lorenz), options(LyapunovMethod::sequential_qr, lorenz, 1000));
  DeviceBatch<double> dev(gpu(), batch<double>(lorenz));
  const LyapunovResult oc =
      lyapunov_spectrum<double>(gpu(), dev.cview(), options(LyapunovMethod::overlapped_chunks, lorenz, 1000));
  ASSERT_EQ(oc.status, LyapunovStatus::ok);
  EXPECT_GT(oc.chunks, 1);
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(oc.exponents[std::size_t(i)], seq.cpu.exponents[std::size_t(i)], 0.01);
}

TEST_F(LyapunovCuda, FloatJacobiansMatchCpu) {
  const Jacobians lorenz = system_jacs("lorenz63", 0.01, 20000, 10000);
  const Jacobians henon = system_jacs("henon", 1.0, 20000, 1000);
  for (const Jacobians* j : {&lorenz, &henon}) {
    const double tol = 100 * eps<float>() / j->dt;  // c = 100, see the header
    for (LyapunovMethod m : {LyapunovMethod::sequential_qr, LyapunovMethod::overlapped_chunks}) {
      LyapunovOptions o = options(m, *j, 1000);
      o.chunk = 2500;
      o.warmup = 500;
      expect_close(run(batch<float>(*j), o), tol, std::string("float, ") + to_string(m));
    }
    // The scan runs in scaled float64 from the float Jacobians on both backends: as in float64.
    // (The sum rule's determinants come from float QR sweeps: `tol` as above.)
    LyapunovOptions o = options(LyapunovMethod::selective_reset, *j, 0);
    const Both r = run(batch<float>(*j), o);
    expect_close(r, 1e-6, "float, selective_reset", tol);
    EXPECT_EQ(r.gpu.resets, r.cpu.resets);
  }
}

TEST_F(LyapunovCuda, LargeDimensionsMatchCpu) {
  // d = 40 (two rows per lane), d = 64 (the largest shared-memory shape that fills 8 warps) and
  // d = 100 (J, Q and J·Q no longer fit in shared memory: per-block global scratch).
  for (std::int64_t d : {std::int64_t(40), std::int64_t(64), std::int64_t(100)}) {
    const Jacobians g = gaussian_jacs(d, 240, 20 + std::uint64_t(d));
    for (std::int64_t k : {std::int64_t(0), std::int64_t(7)}) {
      LyapunovOptions o = options(LyapunovMethod::sequential_qr, g, 40);
      o.k = k;
      expect_close(run(batch<double>(g, kPadded), o), 1e-9,
                   "sequential, d = " + std::to_string(d) + ", k = " + std::to_string(k));
      o.method = LyapunovMethod::overlapped_chunks;
      o.chunk = 25;
      o.warmup = 10;
      expect_close(run(batch<double>(g), o), 1e-9,
                   "overlapped, d = " + std::to_string(d) + ", k = " + std::to_string(k));
    }
  }
}

TEST_F(LyapunovCuda, ScalarJacobiansGiveTheMeanLog) {
  // d = 1: every method reduces to mean ln|J_t|.
  const Jacobians g = gaussian_jacs(1, 3001, 5);
  double mean = 0;
  for (std::int64_t t = 100; t < g.steps; ++t) mean += std::log(std::fabs(g.j[std::size_t(t)]));
  mean /= double(g.steps - 100);
  for (LyapunovMethod m : {LyapunovMethod::sequential_qr, LyapunovMethod::overlapped_chunks,
                           LyapunovMethod::selective_reset, LyapunovMethod::largest_reduce}) {
    LyapunovOptions o = options(m, g, 100);
    o.chunk = 300;
    o.warmup = 10;
    const Both r = run(batch<double>(g), o);
    expect_close(r, 1e-9, to_string(m));
    EXPECT_NEAR(r.gpu.exponents[0], mean, 1e-9) << to_string(m);
  }
}

TEST_F(LyapunovCuda, SelectiveResetMatchesCpu) {
  const Jacobians lorenz = system_jacs("lorenz63", 0.01, level_steps(8192), 10000);
  const Jacobians henon = system_jacs("henon", 1.0, level_steps(8192), 1000);
  for (const Jacobians* j : {&lorenz, &henon}) {
    for (double cos : {0.99999, 0.999}) {
      LyapunovOptions o = options(LyapunovMethod::selective_reset, *j, 0);
      o.max_cos_sim = cos;
      o.record_every = 1024;
      const Both r = run(batch<double>(*j, kPadded), o);
      expect_close(r, 1e-6, "d = " + std::to_string(j->d) + ", max_cos_sim " + std::to_string(cos));
      EXPECT_EQ(r.gpu.resets, r.cpu.resets);
      EXPECT_GT(r.gpu.resets, 0);
      // The readout's Σ ln R_ii is ln|det J_t| at every step, whatever Q_t is.
      EXPECT_LT(std::fabs(r.gpu.sum_rule_residual), 1e-9);
    }
  }
  // Steps that are not a power of two, n_above_max > 1, a single step.
  const Jacobians gauss = gaussian_jacs(8, 1000, 13);
  for (std::int64_t steps : {std::int64_t(1), std::int64_t(7), std::int64_t(1000)}) {
    for (std::int64_t above : {std::int64_t(1), std::int64_t(3)}) {
      Jacobians part = gauss;
      part.steps = steps;
      part.j.resize(std::size_t(64 * steps));
      LyapunovOptions o = options(LyapunovMethod::selective_reset, part, 0);
      o.n_above_max = above;
      o.max_cos_sim = 0.9999;
      const Both r = run(batch<double>(part), o);
      SCOPED_TRACE("gaussian 8x8, steps " + std::to_string(steps) + ", n_above_max " +
                   std::to_string(above));
      ASSERT_EQ(r.cpu.status, LyapunovStatus::ok);
      ASSERT_EQ(r.gpu.status, LyapunovStatus::ok);
      EXPECT_EQ(r.gpu.resets, r.cpu.resets);
      EXPECT_NEAR(r.gpu.exponents[0], r.cpu.exponents[0], 1e-6);
      EXPECT_LT(std::fabs(r.gpu.sum_rule_residual), 1e-9);
    }
  }
}

TEST_F(LyapunovCuda, SelectiveResetHandlesLargeDimensions) {
  // d = 24 (the parallel second Gram–Schmidt pass) and d = 100 (the combine's and the readout's
  // matrices no longer fit in shared memory: per-block global scratch). Gaussian products lose their lower directions
  // before a reset, so only the largest exponent and the per-step sum rule are compared.
  for (std::int64_t d : {std::int64_t(24), std::int64_t(100)}) {
    const Jacobians g = gaussian_jacs(d, 130, 30 + std::uint64_t(d));
    LyapunovOptions o = options(LyapunovMethod::selective_reset, g, 0);
    o.max_cos_sim = 0.999;
    const Both r = run(batch<double>(g), o);
    SCOPED_TRACE("d = " + std::to_string(d));
    ASSERT_EQ(r.cpu.status, LyapunovStatus::ok);
    ASSERT_EQ(r.gpu.status, LyapunovStatus::ok);
    EXPECT_EQ(r.gpu.resets, r.cpu.resets);
    EXPECT_NEAR(r.gpu.exponents[0], r.cpu.exponents[0], 1e-6);
    EXPECT_LT(std::fabs(r.gpu.sum_rule_residual), 1e-9);
  }
}

TEST_F(LyapunovCuda, LargestReduceMatchesCpu) {
  // One reduce of the full product in scaled float64 on both backends, in different tree orders:
  // ln‖P u‖ agrees to a few hundred eps of its size, far below 1e-9 once divided by the steps.
  const Jacobians lorenz = system_jacs("lorenz63", 0.01, level_steps(20000), 10000);
  const Jacobians henon = system_jacs("henon", 1.0, level_steps(20000), 1000);
  const Jacobians gauss = gaussian_jacs(8, level_steps(4000), 14);
  for (const Jacobians* j : {&lorenz, &henon, &gauss}) {
    LyapunovOptions o = options(LyapunovMethod::largest_reduce, *j, 1000);
    o.seed = 3;
    expect_close(run(batch<double>(*j), o), 1e-9, "d = " + std::to_string(j->d));
  }
}

TEST_F(LyapunovCuda, NonFiniteJacobiansGiveNonFiniteStatus) {
  Jacobians henon = system_jacs("henon", 1.0, 3000, 100);
  henon.j[500 * 4 + 1] = std::numeric_limits<double>::quiet_NaN();
  Jacobians lorenz = system_jacs("lorenz63", 0.01, 3000, 1000);
  lorenz.j[2999 * 9 + 8] = std::numeric_limits<double>::infinity();  // the readout's last one
  for (const Jacobians* j : {&henon, &lorenz}) {
    for (LyapunovMethod m : {LyapunovMethod::sequential_qr, LyapunovMethod::overlapped_chunks,
                             LyapunovMethod::selective_reset, LyapunovMethod::largest_reduce}) {
      LyapunovOptions o = options(m, *j, 100);
      o.chunk = 400;
      o.warmup = 100;
      const Both r = run(batch<double>(*j), o);
      SCOPED_TRACE(std::string(to_string(m)) + ", d = " + std::to_string(j->d));
      EXPECT_EQ(r.cpu.status, LyapunovStatus::non_finite);
      EXPECT_EQ(r.gpu.status, LyapunovStatus::non_finite);
      ASSERT_FALSE(r.gpu.exponents.empty());
      for (double v : r.gpu.exponents) EXPECT_TRUE(std::isnan(v));
      EXPECT_EQ(r.gpu.resets, 0);
    }
  }
}

TEST_F(LyapunovCuda, LostRankGivesNonFiniteStatus) {
  // A zero Jacobian collapses every deviation vector: R_ii = 0.
  Jacobians g = gaussian_jacs(4, 600, 15);
  for (std::int64_t e = 0; e < 16; ++e) g.j[std::size_t(300 * 16 + e)] = 0;
  for (LyapunovMethod m : {LyapunovMethod::sequential_qr, LyapunovMethod::overlapped_chunks,
                           LyapunovMethod::selective_reset}) {
    LyapunovOptions o = options(m, g, 10);
    o.chunk = 100;
    o.warmup = 20;
    const Both r = run(batch<double>(g), o);
    EXPECT_EQ(r.cpu.status, LyapunovStatus::non_finite) << to_string(m);
    EXPECT_EQ(r.gpu.status, LyapunovStatus::non_finite) << to_string(m);
  }
}

}  // namespace
}  // namespace dynx::test
