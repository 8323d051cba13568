// Scans over matrix products and affine recurrences on CUDA (spec goom.md §4; kernels in
// kernels/scan.cuh). Same results as the CPU backend (src/cpu/scan.cpp) up to rounding: the same
// formats and combines, the same chunking of each chain when `chunk` is given.
//
// matrix_product_scan: a work-efficient chunked scan, never a launch per tree level.
//   1. Each chain of n elements is cut into nch chunks of `chunk` (≈ 3k chunks over all chains,
//      ≥ 16 factors each, when the caller leaves chunk = 0); every chunk is reduced to its total,
//      all chunks in parallel.
//   2. The totals (nch per chain) are scanned by the same machinery one level up: sequentially
//      when there are at most 64 per chain, otherwise in chunks of ≈ √nch (and so on).
//   3. Every chunk is swept again from its incoming prefix, writing the outputs (inclusive); a
//      reduce stops after step 1 with the levels above reducing the totals to one product.
// Work ≈ 2T products for an inclusive scan and T for a reduce, at a depth of ≈ 2·chunk + 2√nch.
// The arithmetic runs in one of two ways:
//   d ≤ 32  one thread block per chunk (32, 64 or 128 threads by d), the running product and the
//           factor in shared memory, the d × d products by the block (chunk_scan_kernel);
//   d > 32  all chunks in lockstep: per step, a load and one or two row passes (fold, or LMME
//           scaling), ONE cuBLAS strided-batched GEMM over all chunks, and a row pass that
//           renormalises (or takes logs), with the running products in workspace buffers.
// Chains are processed in groups when the workspace for all of them would exceed kScanBudget.
//
// affine_recurrence_scan: the CPU backend's three phases on the GPU, one block per (chain, chunk).

#include "cuda/check.hpp"
#include "cuda/cuda.hpp"

#include "core/check.hpp"
#include "core/log.hpp"
#include "core/workspace.hpp"

#include "kernels/scan.cuh"

#include <algorithm>
#include <cmath>
#include <type_traits>
#include <vector>

namespace dynx::cuda {
namespace {

using kernels::GoomFmt;
using kernels::ScaledFmt;

/// Largest d handled by one thread block per chunk in shared memory (≤ 36 KB at d = 32 for the
/// widest format, under the 48 KB available without opt-in).
constexpr std::int64_t kSmallMaxD = 32;
/// A level of at most this many totals per chain is scanned by one sequential sweep.
constexpr std::int64_t kSequentialMax = 64;
/// Automatic chunks have at least this many factors.
constexpr std::int64_t kMinChunk = 16;
/// Workspace the scans aim to stay under (chains are grouped, chunks enlarged, to fit).
constexpr std::size_t kScanBudget = std::size_t(512) << 20;
/// Dynamic shared memory available to a block without opting in.
constexpr std::size_t kSharedLimit = 48 * 1024;

std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }

unsigned blocks_for(std::int64_t threads) { return kernels::batched_grid(threads, 1).x; }
unsigned unit_blocks(std::int64_t units) { return kernels::per_matrix_grid(units).x; }

int sm_count(int device) {
  int v = 0;
  if (cudaDeviceGetAttribute(&v, cudaDevAttrMultiProcessorCount, device) != cudaSuccess) {
    (void)cudaGetLastError();
    v = 0;
  }
  return v > 0 ? v : 1;
}

/// Chunks per chain when the caller leaves the choice: about 24 chunks per SM over all chains
/// (≈ 3k on an H200, enough resident blocks to hide latency), none shorter than kMinChunk; one
/// (a plain sequential sweep) when the chains alone fill the device.
std::int64_t auto_chunks_per_chain(std::int64_t chains, std::int64_t steps, int sms) {
  const std::int64_t target = std::clamp<std::int64_t>(24 * std::int64_t{sms}, 512, 4096);
  if (chains >= target) return 1;
  return std::clamp<std::int64_t>(ceil_div(target, chains), 1,
                                  std::max<std::int64_t>(1, steps / kMinChunk));
}

/// Chunks per chain for an explicit chunk size, as the CPU backend: K = ⌈steps / chunk⌉ chunks of
/// ⌈steps / K⌉ (so the same chunk option splits both backends' chains the same way).
std::int64_t chunks_for(std::int64_t steps, std::int64_t chunk) { return ceil_div(steps, chunk); }

struct Level {
  std::int64_t n, chunk, nch;
};

/// Level 0 cuts `steps` factors into k0 chunks; each level above scans the chunk totals of the one
/// below (sequentially once there are at most kSequentialMax, else in chunks of ≈ √n), up to the
/// level with one chunk per chain.
std::vector<Level> plan_levels(std::int64_t steps, std::int64_t k0) {
  std::vector<Level> levels;
  std::int64_t n = steps, k = k0;
  for (;;) {
    k = std::clamp<std::int64_t>(k, 1, n);
    const std::int64_t chunk = ceil_div(n, k);
    const std::int64_t nch = ceil_div(n, chunk);
    levels.push_back({n, chunk, nch});
    if (nch == 1) break;
    n = nch;
    k = n <= kSequentialMax
            ? 1
            : ceil_div(n, static_cast<std::int64_t>(std::ceil(std::sqrt(static_cast<double>(n)))));
  }
  return levels;
}

// Workspace arrays of one format.
template <class Fmt>
struct FmtAlloc;

template <class T, class S>
struct FmtAlloc<ScaledFmt<T, S>> {
  using Fmt = ScaledFmt<T, S>;
  struct BufOff {
    std::size_t m = 0, e = 0;
  };
  struct ScratchOff {
    std::size_t x = 0, z = 0, s = 0;
  };
  static BufOff add_buf(detail::WorkspaceLayout& l, std::int64_t count, std::int64_t d) {
    BufOff o;
    o.m = l.add<S>(std::size_t(count * d * d));
    o.e = l.add<std::int64_t>(std::size_t(count * d));
    return o;
  }
  static typename Fmt::Buf buf_at(void* ws, const BufOff& o) {
    typename Fmt::Buf b;
    b.m = detail::at_offset<S>(ws, o.m);
    b.e = detail::at_offset<std::int64_t>(ws, o.e);
    return b;
  }
  static ScratchOff add_scratch(detail::WorkspaceLayout& l, std::int64_t count, std::int64_t d) {
    ScratchOff o;
    o.x = l.add<S>(std::size_t(count * d * d));
    o.z = l.add<S>(std::size_t(count * d * d));
    o.s = l.add<std::int64_t>(std::size_t(count * d));
    return o;
  }
  static typename Fmt::Scratch scratch_at(void* ws, const ScratchOff& o) {
    typename Fmt::Scratch s;
    s.x = detail::at_offset<S>(ws, o.x);
    s.z = detail::at_offset<S>(ws, o.z);
    s.s = detail::at_offset<std::int64_t>(ws, o.s);
    return s;
  }
};

template <class T, class C>
struct FmtAlloc<GoomFmt<T, C>> {
  using Fmt = GoomFmt<T, C>;
  struct BufOff {
    std::size_t l = 0, n = 0;
  };
  struct ScratchOff {
    std::size_t x = 0, y = 0, z = 0, r = 0, a = 0;
  };
  static BufOff add_buf(detail::WorkspaceLayout& l, std::int64_t count, std::int64_t d) {
    BufOff o;
    o.l = l.add<C>(std::size_t(count * d * d));
    o.n = l.add<std::uint8_t>(std::size_t(count * d * d));
    return o;
  }
  static typename Fmt::Buf buf_at(void* ws, const BufOff& o) {
    typename Fmt::Buf b;
    b.l = detail::at_offset<C>(ws, o.l);
    b.n = detail::at_offset<std::uint8_t>(ws, o.n);
    return b;
  }
  static ScratchOff add_scratch(detail::WorkspaceLayout& l, std::int64_t count, std::int64_t d) {
    ScratchOff o;
    o.x = l.add<C>(std::size_t(count * d * d));
    o.y = l.add<C>(std::size_t(count * d * d));
    o.z = l.add<C>(std::size_t(count * d * d));
    o.r = l.add<C>(std::size_t(count * d));
    o.a = l.add<C>(std::size_t(count * d));
    return o;
  }
  static typename Fmt::Scratch scratch_at(void* ws, const ScratchOff& o) {
    typename Fmt::Scratch s;
    s.x = detail::at_offset<C>(ws, o.x);
    s.y = detail::at_offset<C>(ws, o.y);
    s.z = detail::at_offset<C>(ws, o.z);
    s.r = detail::at_offset<C>(ws, o.r);
    s.a = detail::at_offset<C>(ws, o.a);
    return s;
  }
};

template <class Fmt>
class ProductScanner {
  using T = typename Fmt::Data;
  using C = typename Fmt::Compute;
  using Alloc = FmtAlloc<Fmt>;
  using Buf = typename Fmt::Buf;
  using Source = typename Fmt::Source;
  using Dest = typename Fmt::Dest;
  using Pass = kernels::ChunkPass<Fmt>;

 public:
  ProductScanner(Context& ctx, const detail::ProductScanArgs& a, bool allow_tf32)
      : ctx_(ctx),
        st_(state_of(ctx)),
        a_(a),
        d_(a.d),
        inclusive_(a.kind == ScanKind::inclusive),
        small_(a.d <= kSmallMaxD),
        allow_tf32_(allow_tf32 && std::is_same_v<C, float>) {}

  void run() {
    cudaStream_t stream = st_.stream();
    const std::int64_t chains = a_.chains, steps = a_.steps, d = d_;
    DYNX_CUDA_CHECK(
        cudaMemsetAsync(a_.info, 0, std::size_t(chains) * sizeof(std::int32_t), stream));
    if (chains == 0) return;

    // Status first, so that every pass can skip failed chains.
    constexpr int kBlock = kernels::kBlockSize;
    const bool goom_in = !a_.in_neg.empty();
    const int check = !goom_in                          ? kernels::kCheckReal
                      : a_.format == ScanFormat::scaled ? kernels::kCheckGoomScaled
                                                        : kernels::kCheckGoom;
    kernels::chain_check_kernel<kBlock, T><<<blocks_for(chains * steps * d), kBlock, 0, stream>>>(
        static_cast<const T*>(a_.in.data), d, d, a_.in.ld, a_.in.stride, chains * steps, steps,
        check, a_.info);
    DYNX_CUDA_LAUNCH_CHECK();

    plan();
    void* ws = bytes_ > 0 ? ctx_.workspace(bytes_) : nullptr;
    take_buffers(ws);
    const std::int64_t per_chain_out = inclusive_ ? steps : 1;
    for (std::int64_t g0 = 0; g0 < chains; g0 += group_) {
      chains_ = std::min(group_, chains - g0);
      info_ = a_.info + g0;
      Source src;
      src.in.x = static_cast<const T*>(a_.in.data) + g0 * steps * a_.in.stride;
      src.in.ld = a_.in.ld;
      src.in.stride = a_.in.stride;
      if (goom_in) {
        src.in.neg =
            static_cast<const std::uint8_t*>(a_.in_neg.data) + g0 * steps * a_.in_neg.stride;
        src.in.ld_neg = a_.in_neg.ld;
        src.in.stride_neg = a_.in_neg.stride;
      }
      Dest out;
      out.out.lm = static_cast<T*>(a_.out.data) + g0 * per_chain_out * a_.out.stride;
      out.out.ld = a_.out.ld;
      out.out.stride = a_.out.stride;
      out.out.neg =
          static_cast<std::uint8_t*>(a_.out_neg.data) + g0 * per_chain_out * a_.out_neg.stride;
      out.out.ld_neg = a_.out_neg.ld;
      out.out.stride_neg = a_.out_neg.stride;
      if (inclusive_) {
        scan_level(0, src, out);
      } else {
        reduce_level(0, src, out);
      }
    }

    const std::int64_t out_count = chains * per_chain_out;
    kernels::chain_nan_fill_kernel<kBlock, T>
        <<<kernels::batched_grid(d * d, out_count), kBlock, 0, stream>>>(
            static_cast<T*>(a_.out.data), a_.out.ld, a_.out.stride,
            static_cast<std::uint8_t*>(a_.out_neg.data), a_.out_neg.ld, a_.out_neg.stride, d, d,
            out_count, per_chain_out, a_.info);
    DYNX_CUDA_LAUNCH_CHECK();
  }

 private:
  struct Layout {
    std::vector<typename Alloc::BufOff> tot, pref;
    typename Alloc::BufOff acc, f;
    typename Alloc::ScratchOff scratch;
    std::size_t bytes = 0;
  };

  Layout layout_for(const std::vector<Level>& levels, std::int64_t group) const {
    detail::WorkspaceLayout l;
    Layout out;
    out.tot.resize(levels.size());
    out.pref.resize(levels.size());
    for (std::size_t k = 0; k < levels.size(); ++k) {
      if (levels[k].nch == 1) continue;
      out.tot[k] = Alloc::add_buf(l, group * levels[k].nch, d_);
      if (inclusive_) out.pref[k] = Alloc::add_buf(l, group * levels[k].nch, d_);
    }
    if (!small_) {
      const std::int64_t units = group * levels[0].nch;  // the widest level
      out.acc = Alloc::add_buf(l, units, d_);
      out.f = Alloc::add_buf(l, units, d_);
      out.scratch = Alloc::add_scratch(l, units, d_);
    }
    out.bytes = l.bytes();
    return out;
  }

  // Chunks per chain, levels, and the group of chains that fits kScanBudget. Only a caller's
  // chunk so small that one chain's totals exceed the budget is enlarged (the ProductScanArgs
  // contract allows larger chunks).
  void plan() {
    const std::int64_t chains = a_.chains, steps = a_.steps;
    std::int64_t k0 = a_.chunk > 0 ? chunks_for(steps, a_.chunk)
                                   : auto_chunks_per_chain(chains, steps, sm_count(st_.device()));
    levels_ = plan_levels(steps, k0);
    while (k0 > 1 && layout_for(levels_, 1).bytes > kScanBudget) {
      k0 = ceil_div(k0, 2);
      levels_ = plan_levels(steps, k0);
    }
    group_ = chains;
    layout_ = layout_for(levels_, group_);
    while (group_ > 1 && layout_.bytes > kScanBudget) {
      group_ = ceil_div(group_, 2);
      layout_ = layout_for(levels_, group_);
    }
    bytes_ = layout_.bytes;
    detail::log().debug(
        "cuda matrix_product_scan: {} chains x {} steps of {}x{} {}, {} {} ({}), chunk {} x {} per "
        "chain, {} levels, {} chains per group, {}",
        chains, steps, d_, d_, dtype_name(a_.dtype),
        a_.format == ScanFormat::scaled ? "scaled" : "goom", inclusive_ ? "inclusive" : "reduce",
        std::is_same_v<C, double> ? "f64" : "f32", levels_[0].chunk, levels_[0].nch, levels_.size(),
        group_, small_ ? "block per chunk" : "lockstep cuBLAS");
  }

  void take_buffers(void* ws) {
    tot_.assign(levels_.size(), Buf{});
    pref_.assign(levels_.size(), Buf{});
    for (std::size_t k = 0; k < levels_.size(); ++k) {
      if (levels_[k].nch == 1) continue;
      tot_[k] = Alloc::buf_at(ws, layout_.tot[k]);
      if (inclusive_) pref_[k] = Alloc::buf_at(ws, layout_.pref[k]);
    }
    if (!small_) {
      acc_ = Alloc::buf_at(ws, layout_.acc);
      f_ = Alloc::buf_at(ws, layout_.f);
      scratch_ = Alloc::scratch_at(ws, layout_.scratch);
    }
  }

  static Source from_buf(const Buf& b) {
    Source s;
    s.buf = b;
    s.from_buf = true;
    return s;
  }
  static Dest to_buf(const Buf& b) {
    Dest d;
    d.buf = b;
    d.to_buf = true;
    return d;
  }

  /// All prefixes of level k's elements into dst.
  void scan_level(std::size_t k, const Source& src, const Dest& dst) {
    if (levels_[k].nch == 1) {
      pass(k, src, dst, /*sweep=*/true, nullptr);
      return;
    }
    pass(k, src, to_buf(tot_[k]), /*sweep=*/false, nullptr);
    scan_level(k + 1, from_buf(tot_[k]), to_buf(pref_[k]));
    pass(k, src, dst, /*sweep=*/true, &pref_[k]);
  }

  /// The product of all of level k's elements of each chain into dst[chain].
  void reduce_level(std::size_t k, const Source& src, const Dest& dst) {
    if (levels_[k].nch == 1) {
      pass(k, src, dst, /*sweep=*/false, nullptr);
      return;
    }
    pass(k, src, to_buf(tot_[k]), /*sweep=*/false, nullptr);
    reduce_level(k + 1, from_buf(tot_[k]), dst);
  }

  void pass(std::size_t k, const Source& src, const Dest& dst, bool sweep, const Buf* incoming) {
    Pass p;
    p.d = d_;
    p.n = levels_[k].n;
    p.chunk = levels_[k].chunk;
    p.nch = levels_[k].nch;
    p.chains = chains_;
    p.src = src;
    p.dst = dst;
    p.has_incoming = incoming != nullptr;
    if (incoming) p.incoming = *incoming;
    p.sweep = sweep;
    p.later_left = a_.order == ProductOrder::later_left;
    p.info = info_;
    if (small_) {
      pass_small(p);
    } else {
      pass_lockstep(p);
    }
  }

  void pass_small(const Pass& p) {
    cudaStream_t stream = st_.stream();
    const unsigned grid = unit_blocks(p.chains * p.nch);
    const std::size_t shared = Fmt::shared_bytes(d_);
    DYNX_EXPECTS(shared <= kSharedLimit, "matrix_product_scan: shared memory plan exceeds 48 KB");
    if (d_ <= 8) {
      kernels::chunk_scan_kernel<Fmt, 32><<<grid, 32, shared, stream>>>(p);
    } else if (d_ <= 16) {
      kernels::chunk_scan_kernel<Fmt, 64><<<grid, 64, shared, stream>>>(p);
    } else {
      kernels::chunk_scan_kernel<Fmt, 128><<<grid, 128, shared, stream>>>(p);
    }
    DYNX_CUDA_LAUNCH_CHECK();
  }

  void pass_lockstep(Pass p) {
    constexpr int kBlock = kernels::kBlockSize;
    cudaStream_t stream = st_.stream();
    p.acc = acc_;
    p.f = f_;
    p.scratch = scratch_;
    const std::int64_t units = p.chains * p.nch, d = d_;
    const unsigned grid = blocks_for(units * d);
    kernels::lockstep_init_kernel<Fmt, kBlock><<<grid, kBlock, 0, stream>>>(p);
    DYNX_CUDA_LAUNCH_CHECK();
    const C* rhs = Fmt::gemm_rhs(p.acc, p.f, p.scratch, p.later_left);
    for (std::int64_t j = p.has_incoming ? 0 : 1; j < p.chunk; ++j) {
      p.step = j;
      kernels::lockstep_load_kernel<Fmt, kBlock><<<grid, kBlock, 0, stream>>>(p);
      DYNX_CUDA_LAUNCH_CHECK();
      kernels::lockstep_prepass_kernel<Fmt, kBlock, 1><<<grid, kBlock, 0, stream>>>(p);
      DYNX_CUDA_LAUNCH_CHECK();
      if constexpr (Fmt::kTwoPrepasses) {
        kernels::lockstep_prepass_kernel<Fmt, kBlock, 2><<<grid, kBlock, 0, stream>>>(p);
        DYNX_CUDA_LAUNCH_CHECK();
      }
      // Every unit's product, active or not (inactive ones are ignored by the finish pass).
      gemm_nn_strided<C>(st_, d, d, d, p.scratch.x, d, d * d, rhs, d, d * d, p.scratch.z, d, d * d,
                         units, allow_tf32_);
      kernels::lockstep_finish_kernel<Fmt, kBlock><<<grid, kBlock, 0, stream>>>(p);
      DYNX_CUDA_LAUNCH_CHECK();
    }
    if (!p.sweep) {
      kernels::lockstep_store_kernel<Fmt, kBlock><<<grid, kBlock, 0, stream>>>(p);
      DYNX_CUDA_LAUNCH_CHECK();
    }
  }

  Context& ctx_;
  CudaState& st_;
  const detail::ProductScanArgs& a_;
  std::int64_t d_;
  bool inclusive_, small_, allow_tf32_;
  std::vector<Level> levels_;
  Layout layout_;
  std::size_t bytes_ = 0;
  std::int64_t group_ = 1, chains_ = 0;
  std::int32_t* info_ = nullptr;
  std::vector<Buf> tot_, pref_;
  Buf acc_, f_;
  typename Fmt::Scratch scratch_;
};

template <class Fmt>
void run_product_scan(Context& ctx, const detail::ProductScanArgs& a, bool allow_tf32) {
  ProductScanner<Fmt>(ctx, a, allow_tf32).run();
}

}  // namespace

template <class T>
void product_scan(Context& ctx, const detail::ProductScanArgs& a) {
  // Formats and compute types as in the CPU backend: double mantissas / logs for double data or
  // InnerPrecision::f64, float otherwise (tf32 lets the lockstep GEMMs use tensor cores).
  const bool f64 = a.precision == InnerPrecision::f64;
  const bool tf32 = a.precision == InnerPrecision::tf32;
  if constexpr (std::is_same_v<T, double>) {
    if (a.format == ScanFormat::scaled) {
      run_product_scan<ScaledFmt<T, double>>(ctx, a, false);
    } else {
      run_product_scan<GoomFmt<T, double>>(ctx, a, false);
    }
  } else if (a.format == ScanFormat::scaled) {
    if (f64) {
      run_product_scan<ScaledFmt<T, double>>(ctx, a, false);
    } else {
      run_product_scan<ScaledFmt<T, float>>(ctx, a, tf32);
    }
  } else {
    if (f64) {
      run_product_scan<GoomFmt<T, double>>(ctx, a, false);
    } else {
      run_product_scan<GoomFmt<T, float>>(ctx, a, tf32);
    }
  }
}

// ------------------------------------------------------------------------------------------------

template <class T>
void affine_scan(Context& ctx, const detail::AffineScanArgs& a) {
  CudaState& st = state_of(ctx);
  cudaStream_t stream = st.stream();
  const std::int64_t d = a.d, n = a.n, steps = a.steps, chains = a.chains;
  DYNX_CUDA_CHECK(cudaMemsetAsync(a.info, 0, std::size_t(chains) * sizeof(std::int32_t), stream));
  if (chains == 0 || steps == 0 || d == 0 || n == 0) return;
  constexpr int kBlock = kernels::kBlockSize;
  const std::int64_t acols = a.diagonal ? 1 : d;

  // Non-finite inputs (x0 is not checked: it shows as non-finite states, as on the CPU).
  kernels::chain_check_kernel<kBlock, T><<<blocks_for(chains * steps * d), kBlock, 0, stream>>>(
      static_cast<const T*>(a.a.data), d, acols, a.a.ld, a.a.stride, chains * steps, steps,
      kernels::kCheckReal, a.info);
  DYNX_CUDA_LAUNCH_CHECK();
  kernels::chain_check_kernel<kBlock, T><<<blocks_for(chains * steps * d), kBlock, 0, stream>>>(
      static_cast<const T*>(a.b.data), d, n, a.b.ld, a.b.stride, chains * steps, steps,
      kernels::kCheckReal, a.info);
  DYNX_CUDA_LAUNCH_CHECK();

  // Chunking: as the CPU for an explicit chunk, else ≈ 3k blocks over all chains; fewer chunks
  // when the maps and states of all of them would not fit the budget.
  std::int64_t k = a.chunk > 0 ? chunks_for(steps, a.chunk)
                               : auto_chunks_per_chain(chains, steps, sm_count(st.device()));
  const std::int64_t map_a_elems = a.diagonal ? d : d * d;
  const auto unit_bytes = std::size_t(map_a_elems + 2 * d * n) * sizeof(T);
  while (k > 1 && std::size_t(chains * k) * unit_bytes > kScanBudget) k = ceil_div(k, 2);
  k = std::clamp<std::int64_t>(k, 1, steps);
  const std::int64_t chunk = ceil_div(steps, k), nch = ceil_div(steps, chunk);

  // Threads per block: enough for one step's outputs (a compose has d·d + d·n of them).
  const std::int64_t outputs = a.diagonal || nch == 1 ? d * n : d * d + d * n;
  const int threads = outputs <= 32 ? 32 : outputs <= 64 ? 64 : outputs <= 128 ? 128 : 256;
  // A dense compose keeps (A·Ā, A·b̄) in `work`: shared memory when it fits, else one workspace
  // slot per block of phase 1.
  const std::int64_t work_elems = !a.diagonal && nch > 2 ? d * d + d * n : 0;
  const auto work_bytes = std::size_t(work_elems) * sizeof(T);
  const bool work_shared = work_bytes <= kSharedLimit;
  const std::int64_t units1 = chains * (nch > 1 ? nch - 1 : 1);
  unsigned grid1 = unit_blocks(units1);
  if (!work_shared)
    grid1 = unsigned(std::clamp<std::int64_t>(
        std::int64_t(kScanBudget / std::max<std::size_t>(work_bytes, 1)), 1, grid1));

  detail::WorkspaceLayout layout;
  const std::int64_t units = nch > 1 ? chains * nch : 0;
  const std::size_t off_ma = layout.add<T>(std::size_t(units * map_a_elems));
  const std::size_t off_mb = layout.add<T>(std::size_t(units * d * n));
  const std::size_t off_st = layout.add<T>(std::size_t(units * d * n));
  const std::size_t off_work = layout.add<T>(work_shared ? 0 : std::size_t(grid1) * work_elems);
  void* ws = layout.bytes() > 0 ? ctx.workspace(layout.bytes()) : nullptr;

  kernels::AffinePass<T> p;
  p.d = d;
  p.n = n;
  p.steps = steps;
  p.chunk = chunk;
  p.nch = nch;
  p.chains = chains;
  p.diagonal = a.diagonal;
  p.a = static_cast<const T*>(a.a.data);
  p.lda = a.a.ld;
  p.stride_a = a.a.stride;
  p.b = static_cast<const T*>(a.b.data);
  p.ldb = a.b.ld;
  p.stride_b = a.b.stride;
  p.x0 = static_cast<const T*>(a.x0.data);
  p.ldx0 = a.x0.ld;
  p.stride_x0 = a.x0.stride;
  p.x = static_cast<T*>(a.x.data);
  p.ldx = a.x.ld;
  p.stride_x = a.x.stride;
  if (ws) {
    p.map_a = detail::at_offset<T>(ws, off_ma);
    p.map_b = detail::at_offset<T>(ws, off_mb);
    p.state = detail::at_offset<T>(ws, off_st);
    if (!work_shared) p.work = detail::at_offset<T>(ws, off_work);
  }
  p.work_elems = work_elems;
  p.info = a.info;
  detail::log().debug(
      "cuda affine_recurrence_scan: {} chains x {} steps, d {} n {} {} {}, chunk {} "
      "x {} per chain, {} threads per block",
      chains, steps, d, n, a.diagonal ? "diagonal" : "dense", dtype_name(a.dtype), chunk, nch,
      threads);

  kernels::affine_phase1_kernel<256, T>
      <<<grid1, threads, work_shared ? work_bytes : 0, stream>>>(p);
  DYNX_CUDA_LAUNCH_CHECK();
  if (nch > 1) {
    kernels::affine_phase2_kernel<256, T><<<unit_blocks(chains), threads, 0, stream>>>(p);
    DYNX_CUDA_LAUNCH_CHECK();
    kernels::affine_phase3_kernel<256, T>
        <<<unit_blocks(chains * (nch - 1)), threads, 0, stream>>>(p);
    DYNX_CUDA_LAUNCH_CHECK();
  }
  // Chains that failed (inputs, or overflow found by a sweep): every state NaN.
  kernels::chain_nan_fill_kernel<kBlock, T>
      <<<kernels::batched_grid(d * n, chains * steps), kBlock, 0, stream>>>(
          p.x, p.ldx, p.stride_x, nullptr, 0, 0, d, n, chains * steps, steps, a.info);
  DYNX_CUDA_LAUNCH_CHECK();
}

template void product_scan<float>(Context&, const detail::ProductScanArgs&);
template void product_scan<double>(Context&, const detail::ProductScanArgs&);
template void affine_scan<float>(Context&, const detail::AffineScanArgs&);
template void affine_scan<double>(Context&, const detail::AffineScanArgs&);

}  // namespace dynx::cuda
