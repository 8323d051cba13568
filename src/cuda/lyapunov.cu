// Lyapunov spectra on CUDA (spec goom.md §5): Benettin QR sweeps over segments of a Jacobian
// sequence (sequential_qr and overlapped_chunks use them), and the reference's parallel spectrum
// with selective resetting (§5.4). Device code in kernels/lyapunov.cuh.
//
// qr_sweep: one thread block per segment. A segment's steps are inherently sequential, so the
// parallelism is across segments (overlapped chunks: 10^4–10^5 of them) and across the d × k
// entries inside a step. J, Q and W = J Q sit in dynamic shared memory when they fit the device's
// opt-in limit (float64: d = k ≤ 96 on sm_90); larger shapes run the same code on global scratch
// from the workspace, with the grid capped so that the scratch stays bounded.
//
// selective_reset: Sklansky's in-place scan as the reference runs it (one launch of reset tests
// and one of combines per level, log2(steps) levels), elements in the scaled float64 format in the
// workspace (steps · (2d² doubles + 2d int64 + a flag)), then a parallel QR readout per step.

#include "cuda/check.hpp"
#include "cuda/cuda.hpp"

#include "core/log.hpp"

#include "kernels/lyapunov.cuh"

#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace dynx::cuda {
namespace {

/// Shared memory kept back for the kernels' static __shared__ variables.
constexpr std::size_t kStaticSharedReserve = 1024;
/// Dynamic shared memory a launch may use without opting in.
constexpr std::size_t kDefaultSharedLimit = 48 * 1024;
/// When the per-block matrices live in global scratch: at most this many blocks per SM, and at
/// most kScratchBudget bytes of scratch in all (but always at least one block).
constexpr std::int64_t kScratchBlocksPerSm = 4;
constexpr std::size_t kScratchBudget = std::size_t(512) << 20;

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
  lim.shared_optin = static_cast<std::size_t>(std::max(optin, 0));
  if (lim.shared_optin < kDefaultSharedLimit) lim.shared_optin = kDefaultSharedLimit;
  return lim;
}

/// Whether `bytes` of dynamic shared memory (plus the static reserve) fit one block.
bool fits_shared(std::size_t bytes, const DeviceLimits& lim) {
  return bytes + kStaticSharedReserve <= lim.shared_optin;
}

/// Raises a kernel's dynamic shared memory limit when a launch needs more than the default.
template <class Kernel>
void allow_shared(Kernel kernel, std::size_t bytes) {
  if (bytes > kDefaultSharedLimit)
    DYNX_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                         static_cast<int>(bytes)));
}

/// Blocks of a kernel that runs on global scratch of `per_block` bytes per block.
std::int64_t scratch_blocks(std::size_t per_block, const DeviceLimits& lim) {
  const std::int64_t by_budget = static_cast<std::int64_t>(kScratchBudget / std::max<std::size_t>(per_block, 1));
  return std::clamp<std::int64_t>(by_budget, 1, kScratchBlocksPerSm * lim.sms);
}

/// Warps of a sweep or readout block: about 256 entries of the d × k matrix per warp, 1 to 8.
/// Tiny shapes get one warp (its barriers are cheap), d = k = 64 gets eight.
int sweep_warps(std::int64_t d, std::int64_t k) {
  const std::int64_t w = (d * k + 255) / 256;
  return static_cast<int>(std::clamp<std::int64_t>(w, 1, kernels::kSweepMaxThreads / 32));
}

std::int64_t round_up(std::int64_t x, std::int64_t m) { return (x + m - 1) / m * m; }

/// Grid for `units` independent blocks of work, capped (the kernels loop over the rest).
unsigned grid_for(std::int64_t units, std::int64_t cap) {
  return static_cast<unsigned>(std::clamp<std::int64_t>(units, 1, cap));
}

}  // namespace

template <class T>
void qr_sweep(Context& ctx, const detail::QrSweepArgs& a) {
  constexpr const char* op = "lyapunov qr_sweep";
  if (a.segments == 0) return;
  CudaState& st = state_of(ctx);
  cudaStream_t stream = st.stream();
  const int d = to_int(a.d, op, "d"), k = to_int(a.k, op, "k");
  const DeviceLimits lim = device_limits(st.device());
  const int threads = 32 * sweep_warps(d, k);
  const std::size_t small = kernels::sweep_small_bytes(k, sizeof(T));
  const std::size_t big = kernels::sweep_big_bytes(d, k, sizeof(T));
  const bool shared = fits_shared(small + big, lim);
  detail::log().debug("cuda qr_sweep: {} segments, d = {}, k = {}, {}: {} threads per block, {}",
                      a.segments, d, k, dtype_name(a.dtype), threads,
                      shared ? "shared memory" : "global scratch");

  const T* jac = static_cast<const T*>(a.jac.data);
  const T* q0 = static_cast<const T*>(a.q0.data);
  T* q_out = static_cast<T*>(a.q_out.data);
  if (shared) {
    auto kernel = kernels::qr_sweep_kernel<T, true>;
    const std::size_t bytes = small + big;
    allow_shared(kernel, bytes);
    kernel<<<grid_for(a.segments, kernels::kMaxBlocks), threads, bytes, stream>>>(
        jac, a.jac.ld, a.jac.stride, a.segment, a.segments, d, k, q0, a.q0.ld, a.q0.stride, q_out,
        a.q_out.ld, a.q_out.stride, a.log_r, a.info, nullptr, 0);
  } else {
    const std::int64_t blocks = std::min(a.segments, scratch_blocks(big, lim));
    void* ws = ctx.workspace(static_cast<std::size_t>(blocks) * big);
    auto kernel = kernels::qr_sweep_kernel<T, false>;
    allow_shared(kernel, small);
    kernel<<<grid_for(blocks, blocks), threads, small, stream>>>(
        jac, a.jac.ld, a.jac.stride, a.segment, a.segments, d, k, q0, a.q0.ld, a.q0.stride, q_out,
        a.q_out.ld, a.q_out.stride, a.log_r, a.info, static_cast<unsigned char*>(ws), big);
  }
  DYNX_CUDA_LAUNCH_CHECK();
}

template <class T>
void selective_reset(Context& ctx, const detail::SelectiveResetArgs& a) {
  constexpr const char* op = "lyapunov selective_reset";
  CudaState& st = state_of(ctx);
  cudaStream_t stream = st.stream();
  DYNX_CUDA_CHECK(cudaMemsetAsync(a.info, 0, sizeof(std::int32_t), stream));
  DYNX_CUDA_CHECK(cudaMemsetAsync(a.resets, 0, sizeof(std::int64_t), stream));
  const std::int64_t steps = a.steps;
  if (steps == 0 || a.d == 0) return;
  const int d = to_int(a.d, op, "d");
  const std::int64_t d2 = 2 * a.d;
  const DeviceLimits lim = device_limits(st.device());

  // Reset tests: one block per left operand, threads owning rows.
  const int test_threads =
      static_cast<int>(std::clamp<std::int64_t>(round_up(a.d, 32), 32, kernels::kResetMaxThreads));
  const std::size_t test_bytes = kernels::reset_test_bytes(d);
  const bool test_shared = fits_shared(test_bytes, lim);
  // Combines: a team per (left, right) slot, sized to the 2d × d product; small teams share a
  // block of 128 threads.
  const int team = static_cast<int>(
      std::clamp<std::int64_t>(round_up(d2 * a.d, 32), 32, kernels::kResetMaxThreads));
  const std::size_t team_bytes = kernels::combine_team_bytes(d);
  int teams = std::max(1, 128 / team);
  while (teams > 1 && !fits_shared(std::size_t(teams) * team_bytes, lim)) teams /= 2;
  const bool combine_shared = fits_shared(std::size_t(teams) * team_bytes, lim);
  const std::size_t combine_bytes = std::size_t(teams) * team_bytes;
  // Readout: one block per step, threads owning rows / vectors as in the reset test.
  const int readout_threads = test_threads;
  const std::size_t readout_bytes = kernels::readout_bytes(d);
  const bool readout_shared = fits_shared(readout_bytes, lim);

  // Workspace: the elements, then one global scratch region shared by whichever kernels need it
  // (they run one after the other on the stream).
  const std::int64_t test_cap = test_shared ? kernels::kMaxBlocks : scratch_blocks(test_bytes, lim);
  const std::int64_t combine_cap =
      combine_shared ? kernels::kMaxBlocks : scratch_blocks(combine_bytes, lim);
  const std::int64_t readout_cap =
      readout_shared ? kernels::kMaxBlocks : scratch_blocks(readout_bytes, lim);
  std::size_t scratch_bytes = 0;
  if (!test_shared) scratch_bytes = std::max(scratch_bytes, std::size_t(test_cap) * test_bytes);
  if (!combine_shared)
    scratch_bytes = std::max(scratch_bytes, std::size_t(combine_cap) * combine_bytes);
  if (!readout_shared)
    scratch_bytes = std::max(scratch_bytes, std::size_t(readout_cap) * readout_bytes);
  detail::WorkspaceLayout layout;
  const auto off_mant = layout.add<double>(static_cast<std::size_t>(steps * d2 * a.d));
  const auto off_expo = layout.add<std::int64_t>(static_cast<std::size_t>(steps * d2));
  const auto off_flag = layout.add<std::int32_t>(static_cast<std::size_t>(steps));
  const auto off_scratch = layout.add<unsigned char>(scratch_bytes);
  void* ws = ctx.workspace(layout.bytes());
  double* mant = detail::at_offset<double>(ws, off_mant);
  std::int64_t* expo = detail::at_offset<std::int64_t>(ws, off_expo);
  std::int32_t* flag = detail::at_offset<std::int32_t>(ws, off_flag);
  unsigned char* scratch = scratch_bytes ? detail::at_offset<unsigned char>(ws, off_scratch) : nullptr;
  auto* resets = reinterpret_cast<unsigned long long*>(a.resets);
  static_assert(sizeof(unsigned long long) == sizeof(std::int64_t), "resets counter layout");

  std::int64_t levels = 0;
  for (std::int64_t n = 1; n < steps; n *= 2) ++levels;
  detail::log().debug(
      "cuda selective_reset: {} steps, d = {}, {}: {} levels; tests {} threads ({}), combines "
      "{} x {} threads ({}), readout {} threads ({})",
      steps, d, dtype_name(a.dtype), levels, test_threads, test_shared ? "shared" : "global",
      teams, team, combine_shared ? "shared" : "global", readout_threads,
      readout_shared ? "shared" : "global");

  const T* jac = static_cast<const T*>(a.jac.data);
  {
    constexpr int kBlock = kernels::kBlockSize;
    kernels::reset_init_kernel<kBlock, T>
        <<<grid_for((steps * d2 + kBlock - 1) / kBlock, kernels::kMaxBlocks), kBlock, 0, stream>>>(
            jac, a.jac.ld, a.jac.stride, static_cast<const T*>(a.s0.data), a.s0.ld, d, steps, mant,
            expo, flag, a.info);
    DYNX_CUDA_LAUNCH_CHECK();
  }

  auto test_kernel = test_shared ? kernels::reset_test_kernel<true> : kernels::reset_test_kernel<false>;
  const std::size_t test_dyn = test_shared ? test_bytes : 0;
  allow_shared(test_kernel, test_dyn);
  auto combine_kernel =
      combine_shared ? kernels::reset_combine_kernel<true> : kernels::reset_combine_kernel<false>;
  const std::size_t combine_dyn = combine_shared ? combine_bytes : 0;
  allow_shared(combine_kernel, combine_dyn);
  for (std::int64_t n = 1; n < steps; n *= 2) {
    const std::int64_t lefts = kernels::sklansky_lefts(steps, n);
    test_kernel<<<grid_for(lefts, test_cap), test_threads, test_dyn, stream>>>(
        mant, expo, flag, d, steps, n, a.max_cos_sim, a.n_above_max, resets, scratch, test_bytes);
    DYNX_CUDA_LAUNCH_CHECK();
    const std::int64_t rounds = (kernels::sklansky_slots(steps, n) + teams - 1) / teams;
    combine_kernel<<<grid_for(rounds, combine_cap), teams * team, combine_dyn, stream>>>(
        mant, expo, flag, d, steps, n, team, scratch, combine_bytes);
    DYNX_CUDA_LAUNCH_CHECK();
  }

  {
    auto kernel = readout_shared ? kernels::reset_readout_kernel<T, true>
                                 : kernels::reset_readout_kernel<T, false>;
    const std::size_t dyn = readout_shared ? readout_bytes : 0;
    allow_shared(kernel, dyn);
    kernel<<<grid_for(steps, readout_cap),
             readout_threads, dyn, stream>>>(jac, a.jac.ld, a.jac.stride, mant, expo, d, steps,
                                             a.log_r, a.info, scratch, readout_bytes);
    DYNX_CUDA_LAUNCH_CHECK();
  }
  {
    // As the CPU backend: any failure leaves NaN everywhere and no resets.
    constexpr int kBlock = kernels::kBlockSize;
    kernels::reset_finish_kernel<kBlock>
        <<<grid_for((steps * a.d + kBlock - 1) / kBlock, kernels::kMaxBlocks), kBlock, 0, stream>>>(
            a.info, a.log_r, steps * a.d, resets);
    DYNX_CUDA_LAUNCH_CHECK();
  }
}

template void qr_sweep<float>(Context&, const detail::QrSweepArgs&);
template void qr_sweep<double>(Context&, const detail::QrSweepArgs&);
template void selective_reset<float>(Context&, const detail::SelectiveResetArgs&);
template void selective_reset<double>(Context&, const detail::SelectiveResetArgs&);

}  // namespace dynx::cuda
