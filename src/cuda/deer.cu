// The cell-independent steps of a DEER iteration on CUDA (src/core/backend.hpp, "DEER"; spec
// deer.md §3–§4): the residual with its per-slot reductions, the sanitised update, Jacobian
// scaling, and the ELK step as a parallel-in-time Kalman filter. Device code in kernels/deer.cuh;
// the CPU backend (src/cpu/deer.cpp) is the reference and these follow it formula for formula
// (residual, update and scaling bit for bit; the ELK filter to rounding).
//
// deer_residual / deer_update: a 2-D grid, blocks along y over the slots and along x over a slot's
//   steps·d window entries (grid-stride loops in both). Each block reduces its entries with CUB
//   and folds them into the slot with one 64-bit atomic: the maxima as atomicMax on the bit
//   patterns of non-negative doubles (NaN mapped above +∞, so a NaN anywhere wins, as on the CPU),
//   the converged prefix as atomicMin. A small kernel first sets the outputs to 0 / steps.
// deer_scale: element-wise.
//
// elk_scan: one Kalman filter per chain, parallel in time by the associative filtering elements
//   (A, b, C, η, J) of Särkkä & García-Fernández (spec §4.4; the elements and combine are written
//   out in kernels/deer.cuh), organised as the chunked three-phase scan of affine_recurrence_scan
//   and matrix_product_scan (src/cuda/scan.cu):
//   1. reduce: every chunk of every chain (except each chain's last) composes its elements into
//      its total, all chunks in parallel;
//   2. the totals (nch per chain) are scanned by the same machinery one level up: in one chunk per
//      chain once there are at most 16 (dense) / 64 (diagonal) of them, else in chunks of ≈ √nch,
//      recursively; a level-k sweep writes the inclusive prefixes of its elements;
//   3. every level-0 chunk is filtered again from its incoming prefix (the filtered mean and
//      covariance before the chunk) with the CPU's Kalman step, writing x_t. The prefix of the
//      first chunk is x_0 = 0, P_0 = 0.
//   Work ≈ 2 element combines + 1 Kalman step per time step; depth ≈ 2·chunk + the levels above.
//   Chunking: dense, about 4 (d ≥ 10) to 32 (tiny d) blocks per SM in all, chunks of ≥ 8 steps;
//   diagonal, about 1024 threads per SM, chunks of ≥ 32 steps; one chunk per chain (a plain
//   sequential filter per chain) when the chains alone fill the device. Element buffers are kept
//   under 512 MB by lengthening the chunks.
//   Diagonal (quasi-ELK, §4.5): one thread per (chain, chunk, unit), five scalars per element,
//   combine with den = 1 + C_i J_j.
//   Dense: one block per (chain, chunk) with the running element, the next element and the
//   combine's temporaries in dynamic shared memory: (8d² + 5d) doubles, 66 KB at d = 32 (the
//   kernels opt in above 48 KB; the 227 KB of sm_90 reach d = 59). The combine's
//   M = (I + C_i J_j)⁻¹ is applied by an in-block Gaussian elimination with partial pivoting on the
//   right-hand sides [A_i | C_i | b_i + C_i η_j]; the Kalman step solves (P⁻ + σ² I) the same way.
//   Blocks have 32 to 256 threads (never fewer: the pivot search is a warp-0 butterfly). Larger d
//   run the same kernels on per-block slots of global scratch (workspace), with the grid capped to
//   keep the scratch under 512 MB: correct for any d, but O(d³) per step in one block, so
//   practical to d of a few hundred (the cell evaluation of such a DEER step costs as much).
//   Everything is accumulated in double, whatever T is (as the CPU). info[c] = non_finite for a
//   chain with NaN/Inf in its F or c, or whose filtered means overflow; such chains are skipped by
//   the later passes and their x is NaN (as the CPU). info is cleared first.

#include "cuda/check.hpp"
#include "cuda/cuda.hpp"

#include "core/log.hpp"
#include "core/workspace.hpp"

#include "kernels/deer.cuh"

#include <dynx/status.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace dynx::cuda {
namespace {

static_assert(sizeof(unsigned long long) == sizeof(double), "max keys alias the double outputs");
static_assert(sizeof(long long) == sizeof(std::int64_t), "prefix atomics on int64");

constexpr int kBlock = kernels::kBlockSize;
/// Workspace (element buffers, global scratch) the ELK scan aims to stay under.
constexpr std::size_t kElkBudget = std::size_t(512) << 20;
/// Dynamic shared memory a launch may use without opting in, and what is kept back for static
/// shared memory.
constexpr std::size_t kDefaultSharedLimit = 48 * 1024;
constexpr std::size_t kStaticSharedReserve = 1024;

struct DeviceLimits {
  std::int64_t sms = 1;
  std::size_t shared_optin = kDefaultSharedLimit;
};

DeviceLimits device_limits(int device) {
  int sms = 0, optin = 0;
  DYNX_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
  DYNX_CUDA_CHECK(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
  DeviceLimits lim;
  lim.sms = std::max(sms, 1);
  lim.shared_optin = std::max(static_cast<std::size_t>(std::max(optin, 0)), kDefaultSharedLimit);
  return lim;
}

unsigned blocks_for(std::int64_t threads) { return kernels::batched_grid(threads, 1).x; }

/// Raises a kernel's dynamic shared memory limit when a launch needs more than the default.
template <class Kernel>
void allow_shared(Kernel kernel, std::size_t bytes) {
  if (bytes > kDefaultSharedLimit)
    DYNX_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                         static_cast<int>(bytes)));
}

}  // namespace

template <class T>
void deer_residual(Context& ctx, const detail::DeerResidualArgs& a) {
  if (a.count == 0) return;
  cudaStream_t stream = state_of(ctx).stream();
  auto* rmax = reinterpret_cast<unsigned long long*>(a.rmax);
  auto* prefix = reinterpret_cast<long long*>(a.prefix);
  kernels::slot_init_kernel<kBlock><<<blocks_for(a.count), kBlock, 0, stream>>>(
      rmax, prefix, a.count, static_cast<long long>(a.steps));
  DYNX_CUDA_LAUNCH_CHECK();
  kernels::ResidualPass<T> p;
  p.d = a.d;
  p.total = a.total;
  p.first = a.first;
  p.steps = a.steps;
  p.count = a.count;
  p.block = a.block;
  p.states = static_cast<const T*>(a.states);
  p.seq = a.seq;
  p.f = static_cast<const T*>(a.f);
  p.rhs = static_cast<T*>(a.rhs);
  p.atol = a.atol;
  p.rtol = a.rtol;
  p.rmax = rmax;
  p.prefix = prefix;
  kernels::deer_residual_kernel<kBlock, T>
      <<<kernels::batched_grid(a.steps * a.d, a.count), kBlock,
         kernels::residual_shared_bytes<kBlock>(), stream>>>(p);
  DYNX_CUDA_LAUNCH_CHECK();
}

template <class T>
void deer_update(Context& ctx, const detail::DeerUpdateArgs& a) {
  if (a.count == 0) return;
  cudaStream_t stream = state_of(ctx).stream();
  auto* smax = reinterpret_cast<unsigned long long*>(a.smax);
  kernels::slot_init_kernel<kBlock>
      <<<blocks_for(a.count), kBlock, 0, stream>>>(smax, nullptr, a.count, 0);
  DYNX_CUDA_LAUNCH_CHECK();
  kernels::UpdatePass<T> p;
  p.d = a.d;
  p.total = a.total;
  p.first = a.first;
  p.steps = a.steps;
  p.count = a.count;
  p.block = a.block;
  p.states = static_cast<T*>(a.states);
  p.seq = a.seq;
  p.delta = static_cast<const T*>(a.delta);
  p.f = static_cast<const T*>(a.f);
  p.reset = a.reset;
  p.prefix = a.prefix;
  p.omega = a.omega;
  p.clip = a.clip;
  p.atol = a.atol;
  p.rtol = a.rtol;
  p.smax = smax;
  // Launched even for an empty window: reset slots still report smax = +∞.
  kernels::deer_update_kernel<kBlock, T>
      <<<kernels::batched_grid(a.steps * a.d, a.count), kBlock,
         kernels::update_shared_bytes<kBlock>(), stream>>>(p);
  DYNX_CUDA_LAUNCH_CHECK();
}

template <class T>
void deer_scale(Context& ctx, const detail::DeerScaleArgs& a) {
  if (a.n == 0) return;
  cudaStream_t stream = state_of(ctx).stream();
  kernels::deer_scale_kernel<kBlock, T><<<blocks_for(a.n), kBlock, 0, stream>>>(
      static_cast<T*>(a.a), a.n, static_cast<T>(a.scale), static_cast<T>(a.clip), a.clip > 0);
  DYNX_CUDA_LAUNCH_CHECK();
}

template <class T>
void elk_scan(Context& ctx, const detail::ElkScanArgs& a) {
  CudaState& st = state_of(ctx);
  cudaStream_t stream = st.stream();
  DYNX_CUDA_CHECK(cudaMemsetAsync(
      a.info, 0, std::size_t(std::max<std::int64_t>(a.chains, 0)) * sizeof(std::int32_t), stream));
  const std::int64_t d = a.d, steps = a.steps, chains = a.chains;
  if (chains == 0 || steps == 0 || d == 0) return;
  const bool diag = a.diagonal;
  const auto code = static_cast<std::int32_t>(MatrixStatus::non_finite);
  const auto* F = static_cast<const T*>(a.F);
  const auto* c = static_cast<const T*>(a.c);
  auto* x = static_cast<T*>(a.x);

  // Chains with non-finite inputs are flagged first, so that every pass skips them.
  const std::int64_t fsz = diag ? d : d * d;
  kernels::elk_check_kernel<kBlock, T>
      <<<blocks_for(chains * steps * (fsz + d)), kBlock, 0, stream>>>(F, fsz, c, d, steps, chains,
                                                                      code, a.info);
  DYNX_CUDA_LAUNCH_CHECK();

  // Plan: levels, and where the dense blocks keep their working memory.
  const DeviceLimits lim = device_limits(st.device());
  const int threads = diag ? kBlock : kernels::elk_dense_threads(d);
  const std::int64_t target =
      diag ? 1024 * lim.sms : std::min<std::int64_t>(32, 4 * (256 / threads)) * lim.sms;
  std::int64_t k0 = kernels::elk_chunks_per_chain(d, steps, chains, diag, target);
  const std::int64_t seq_max = diag ? kernels::kElkDiagSeqMax : kernels::kElkDenseSeqMax;
  std::vector<kernels::ElkLevel> levels = kernels::elk_plan_levels(steps, k0, seq_max);
  while (k0 > 1 && kernels::elk_buffer_bytes(levels, chains, d, diag) > kElkBudget) {
    k0 = (k0 + 1) / 2;
    levels = kernels::elk_plan_levels(steps, k0, seq_max);
  }
  const std::size_t combine_bytes =
      static_cast<std::size_t>(kernels::elk_combine_doubles(d)) * sizeof(double);
  const std::size_t filter_bytes =
      static_cast<std::size_t>(kernels::elk_filter_doubles(d)) * sizeof(double);
  const bool shared = diag || combine_bytes + kStaticSharedReserve <= lim.shared_optin;
  const int dense_threads = shared ? threads : kernels::kElkMaxThreads;
  const std::int64_t scratch_blocks =
      shared ? kernels::kMaxBlocks
             : std::clamp<std::int64_t>(static_cast<std::int64_t>(kElkBudget / combine_bytes), 1,
                                        4 * lim.sms);

  detail::WorkspaceLayout layout;
  const std::int64_t elem = kernels::elk_elem_doubles(d, diag);
  std::vector<std::size_t> off_tot(levels.size(), 0), off_pref(levels.size(), 0);
  for (std::size_t k = 0; k < levels.size(); ++k) {
    if (levels[k].nch == 1) continue;
    off_tot[k] = layout.add<double>(std::size_t(chains * levels[k].nch * elem));
    off_pref[k] = layout.add<double>(std::size_t(chains * levels[k].nch * elem));
  }
  const std::size_t off_scratch = layout.add<double>(
      shared ? 0 : std::size_t(scratch_blocks * kernels::elk_combine_doubles(d)));
  void* ws = layout.bytes() > 0 ? ctx.workspace(layout.bytes()) : nullptr;
  std::vector<kernels::ElkElems> tot(levels.size()), pref(levels.size());
  for (std::size_t k = 0; k < levels.size(); ++k) {
    if (levels[k].nch == 1) continue;
    tot[k] = {detail::at_offset<double>(ws, off_tot[k]), chains * levels[k].nch};
    pref[k] = {detail::at_offset<double>(ws, off_pref[k]), chains * levels[k].nch};
  }
  detail::log().debug(
      "cuda elk_scan: {} chains x {} steps, d {} {} {}, chunk {} x {} per chain, {} levels, {}",
      chains, steps, d, diag ? "diagonal" : "dense", dtype_name(a.dtype), levels[0].chunk,
      levels[0].nch, levels.size(),
      diag     ? "thread per unit"
      : shared ? "block per chunk, shared memory"
               : "block per chunk, global scratch");

  kernels::ElkPass<T> base;
  base.d = d;
  base.chains = chains;
  base.steps = steps;
  base.diagonal = diag;
  base.F = F;
  base.c = c;
  base.x = x;
  base.sigma2 = a.sigma2;
  base.kappa = 1.0 / (1.0 + a.sigma2);
  base.om = a.sigma2 / (1.0 + a.sigma2);  // 1 − κ without cancellation
  base.info = a.info;
  base.fail_code = code;
  if (!shared) {
    base.scratch = detail::at_offset<double>(ws, off_scratch);
    base.scratch_elems = kernels::elk_combine_doubles(d);
  }
  if (!diag && shared) {
    allow_shared(kernels::elk_dense_combine_kernel<T>, combine_bytes);
    allow_shared(kernels::elk_dense_filter_kernel<T>, filter_bytes);
  }
  auto launch = [&](const kernels::ElkPass<T>& p) {
    const std::int64_t units = p.chains * p.chunks();
    if (diag) {
      kernels::elk_diag_kernel<kBlock, T><<<blocks_for(units * d), kBlock, 0, stream>>>(p);
    } else {
      const auto grid = static_cast<unsigned>(std::clamp<std::int64_t>(units, 1, scratch_blocks));
      if (p.level0 && p.sweep) {
        kernels::elk_dense_filter_kernel<T>
            <<<grid, dense_threads, shared ? filter_bytes : 0, stream>>>(p);
      } else {
        kernels::elk_dense_combine_kernel<T>
            <<<grid, dense_threads, shared ? combine_bytes : 0, stream>>>(p);
      }
    }
    DYNX_CUDA_LAUNCH_CHECK();
  };
  kernels::elk_run_levels(base, levels, tot, pref, 0, kernels::ElkElems{}, kernels::ElkElems{},
                          launch);

  // Chains that failed (inputs, or overflow found by a sweep): every x NaN, as on the CPU.
  kernels::elk_nan_fill_kernel<kBlock, T>
      <<<kernels::batched_grid(steps * d, chains), kBlock, 0, stream>>>(x, steps * d, chains,
                                                                       a.info);
  DYNX_CUDA_LAUNCH_CHECK();
}

#define DYNX_INSTANTIATE(T)                                                   \
  template void deer_residual<T>(Context&, const detail::DeerResidualArgs&); \
  template void deer_update<T>(Context&, const detail::DeerUpdateArgs&);     \
  template void deer_scale<T>(Context&, const detail::DeerScaleArgs&);       \
  template void elk_scan<T>(Context&, const detail::ElkScanArgs&);
DYNX_INSTANTIATE(float)
DYNX_INSTANTIATE(double)
#undef DYNX_INSTANTIATE

}  // namespace dynx::cuda
