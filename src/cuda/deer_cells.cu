// The built-in DEER cells on CUDA (make_deer_cell on a CUDA context, declared in
// src/deer/cells.hpp): CudaDeerCell of <dynx/cuda/deer_cell.cuh> for the tanh RNN, mean-field
// RNN, GRU and LSTM, with linearize left to the generic one-thread-per-point kernel and sequential
// replaced by a fused kernel per cell.
//
// Fused sequential kernel: one thread block per sequence (slot), grid-stride over the slots. The
// steps of one sequence are inherently sequential, so besides the batch the only parallelism is
// inside a step: thread r owns the state units r, r + blockDim, … (one unit per thread up to
// kFusedMaxThreads units). Per step it computes its units from the previous state, which the
// whole block reads from shared memory, and writes them both to global memory (column t of the
// states) and to the other half of a shared double buffer; one __syncthreads() per step separates
// the steps.
//   tanh RNN, GRU  unit i is row i of the state: the cell's own per-row helpers
//                  (TanhRnnCell::preactivation, GruCell::gates) on the shared state and input.
//   LSTM           unit j gives rows j (c'_j) and n + j (h'_j): LstmCell::gates.
//   mean-field     s' = W tanh(s) + u needs tanh(s_j) for every j: each thread first writes
//                  tanh of its own units into a shared (double-buffered) vector, a barrier, then
//                  row i = cell_row_dot(W, …, tanh(s)) + u_i. A thread reads back only its own
//                  units of s, so s itself needs a single buffer.
// The input u_t, read by every row, is staged in shared memory too (double-buffered: u_{t+1} is
// loaded during step t). The per-unit arithmetic is that of math/cells.hpp (the same helpers the
// CPU's cell.step calls, in the same summation order: b_i, W_i u, b_h, W_h h), so both backends
// agree up to rounding (CUDA's tanh/exp against libm's, and nvcc's fused multiply-adds).
//
// Weights: the n × n recurrent matrices (1 tanh / mean-field, 3 GRU, 4 LSTM) are copied once per
// block into shared memory when they fit with the buffers in kStageLimit bytes (with D_in = n: the
// tanh RNN up to n = 108 in float / 76 in double, the GRU up to 63 / 44, the LSTM up to 54 / 38,
// the mean-field RNN up to 109 / 76); otherwise they are read from global memory, where the rows
// of a warp read consecutive addresses (coalesced) and, on sm_70 and later, global loads are
// cached in the unified L1/texture cache, so every block of an SM shares one cached copy. The cell methods are called on a copy of the cell whose matrix
// pointers point into shared memory, so the math stays that of cells.hpp in both cases. Input
// matrices and biases are always read from global memory (once per step and row).
//
// Limits: the state, input and tanh buffers must fit the device's opt-in shared memory per block
// (227 KiB on sm_90: D up to ≈ 7000 in double with D_in = D); larger cells fall back to the generic
// one-thread-per-slot kernel of CudaDeerCell (plan_fused decides, once, when the cell is bound).
// Tiny cells with many sequences leave lanes idle (one block of ≥ 32 threads per sequence).

#include "cuda/check.hpp"
#include "cuda/state.hpp"

#include "core/log.hpp"
#include "deer/cells.hpp"

#include "kernels/common.cuh"

#include <dynx/cuda/deer_cell.cuh>
#include <dynx/math/cells.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>

namespace dynx::cuda {

namespace kernels {

/// Most threads per block of the fused kernels; units beyond are taken several per thread.
inline constexpr int kFusedMaxThreads = 512;

/// What a fused launch needs besides the cell: DeerSequentialArgs, and where the recurrent
/// matrices are read from.
template <class T>
struct FusedArgs {
  const T* s0;
  const T* u;
  T* states;
  std::int64_t total;
  std::int64_t end;  ///< columns start … end − 1 are computed
  const std::int64_t* seq;
  const std::int64_t* start;
  std::int64_t count;
  bool staged;  ///< recurrent matrices copied into shared memory
};

/// Per-cell pieces of the fused kernels: the n × n recurrent matrices (which may be staged), and
/// the unit update (exactly the body of the cell's step loop for one unit).
template <class Cell>
struct Fused;

template <class T>
struct Fused<math::TanhRnnCell<T>> {
  using Cell = math::TanhRnnCell<T>;
  static constexpr int kMatrices = 1;
  static constexpr bool kMeanField = false;
  DYNX_HD static int units(const Cell& c) { return c.n; }
  DYNX_HD static const T* matrix(const Cell& c, int) { return c.W; }
  DYNX_HD static void set_matrix(Cell& c, int, const T* p) { c.W = p; }
  /// Row i: tanh(b_i + (U u)_i + (W s)_i).
  DYNX_HD static void unit(const Cell& c, const T* s, const T* u, int i, T* s_next, T* out) {
    const T v = std::tanh(c.preactivation(s, u, i));
    s_next[i] = v;
    out[i] = v;
  }
};

template <class T>
struct Fused<math::GruCell<T>> {
  using Cell = math::GruCell<T>;
  static constexpr int kMatrices = 3;
  static constexpr bool kMeanField = false;
  DYNX_HD static int units(const Cell& c) { return c.n; }
  DYNX_HD static const T* matrix(const Cell& c, int r) {
    return r == 0 ? c.W_hr : (r == 1 ? c.W_hz : c.W_hn);
  }
  DYNX_HD static void set_matrix(Cell& c, int r, const T* p) {
    if (r == 0)
      c.W_hr = p;
    else if (r == 1)
      c.W_hz = p;
    else
      c.W_hn = p;
  }
  /// Row i: h'_i = (1 − z_i) n_i + z_i h_i, as GruCell::step.
  DYNX_HD static void unit(const Cell& c, const T* h, const T* u, int i, T* h_next, T* out) {
    const typename Cell::Gates g = c.gates(h, u, i);
    const T v = g.zc * g.nv + g.z * h[i];
    h_next[i] = v;
    out[i] = v;
  }
};

template <class T>
struct Fused<math::LstmCell<T>> {
  using Cell = math::LstmCell<T>;
  static constexpr int kMatrices = 4;
  static constexpr bool kMeanField = false;
  DYNX_HD static int units(const Cell& c) { return c.n; }
  DYNX_HD static const T* matrix(const Cell& c, int r) {
    return r == 0 ? c.W_hi : (r == 1 ? c.W_hf : (r == 2 ? c.W_hg : c.W_ho));
  }
  DYNX_HD static void set_matrix(Cell& c, int r, const T* p) {
    if (r == 0)
      c.W_hi = p;
    else if (r == 1)
      c.W_hf = p;
    else if (r == 2)
      c.W_hg = p;
    else
      c.W_ho = p;
  }
  /// Unit j: c'_j (row j) and h'_j = o_j tanh(c'_j) (row n + j), as LstmCell::step.
  DYNX_HD static void unit(const Cell& c, const T* s, const T* u, int j, T* s_next, T* out) {
    const typename Cell::Gates q = c.gates(s, u, j);
    const T h = q.o * q.tc;
    s_next[j] = q.c_next;
    s_next[c.n + j] = h;
    out[j] = q.c_next;
    out[c.n + j] = h;
  }
};

template <class T>
struct Fused<math::MeanFieldRnnCell<T>> {
  using Cell = math::MeanFieldRnnCell<T>;
  static constexpr int kMatrices = 1;
  static constexpr bool kMeanField = true;  ///< runs fused_mean_field_kernel (no unit())
  DYNX_HD static int units(const Cell& c) { return c.n; }
  DYNX_HD static const T* matrix(const Cell& c, int) { return c.W; }
  DYNX_HD static void set_matrix(Cell& c, int, const T* p) { c.W = p; }
};

/// Copies the recurrent matrices into `w` (kMatrices · n² entries of shared memory) and points
/// the cell's copy at them. The caller synchronises before the matrices are read.
template <class T, class Cell>
__device__ void stage_matrices(Cell& cell, T* w) {
  using P = Fused<Cell>;
  const std::int64_t nn = std::int64_t{P::units(cell)} * P::units(cell);
#pragma unroll
  for (int r = 0; r < P::kMatrices; ++r) {
    const T* src = P::matrix(cell, r);
    T* dst = w + r * nn;
    for (std::int64_t e = threadIdx.x; e < nn; e += blockDim.x) dst[e] = src[e];
    P::set_matrix(cell, r, dst);
  }
}

/// Fused sequential evaluation of a cell whose units need only the previous state and the input
/// (tanh RNN, GRU, LSTM). Shared memory: the state double buffer (2 D), the input double buffer
/// (2 m), then the staged recurrent matrices when args.staged.
template <class T, class Cell>
DYNX_KERNEL __launch_bounds__(kFusedMaxThreads) void fused_sequential_kernel(const Cell cell_in,
                                                                              const FusedArgs<T> a) {
  using P = Fused<Cell>;
  extern __shared__ __align__(16) unsigned char smem_raw[];
  T* smem = reinterpret_cast<T*>(smem_raw);
  const int d = cell_in.state_dim(), m = cell_in.input_dim(), units = P::units(cell_in);
  T* sbuf = smem;           // 2 d
  T* ubuf = smem + 2 * d;   // 2 m
  Cell cell = cell_in;
  if (a.staged) {
    stage_matrices<T>(cell, ubuf + 2 * m);
    __syncthreads();
  }
  const int tid = threadIdx.x, nt = blockDim.x;
  for (std::int64_t k = blockIdx.x; k < a.count; k += gridDim.x) {
    const std::int64_t q = a.seq[k];
    const std::int64_t t0 = a.start[k] > 0 ? a.start[k] : 0;
    if (t0 >= a.end) continue;  // the same for every thread of the block
    T* states = a.states + q * a.total * d;
    const T* u = m > 0 ? a.u + q * a.total * m : nullptr;
    const T* init = t0 == 0 ? a.s0 + q * d : states + (t0 - 1) * d;
    // The previous slot's last step ended with a barrier: both buffers are free.
    for (int e = tid; e < d; e += nt) sbuf[e] = init[e];
    for (int e = tid; e < m; e += nt) ubuf[e] = u[t0 * m + e];
    __syncthreads();
    for (std::int64_t t = t0; t < a.end; ++t) {
      const int p = static_cast<int>((t - t0) & 1);
      const T* cur = sbuf + p * d;
      T* next = sbuf + (p ^ 1) * d;
      const T* ut = m > 0 ? ubuf + p * m : nullptr;
      // Half p ^ 1 of both buffers was last read in step t − 1, which ended with the barrier.
      if (t + 1 < a.end)
        for (int e = tid; e < m; e += nt) ubuf[(p ^ 1) * m + e] = u[(t + 1) * m + e];
      T* out = states + t * d;
      for (int i = tid; i < units; i += nt) P::unit(cell, cur, ut, i, next, out);
      __syncthreads();
    }
  }
}

/// Fused sequential evaluation of the mean-field RNN, s' = W tanh(s) + u. Shared memory: s (D,
/// each entry read and written only by the thread owning it), tanh(s) double-buffered (2 D), then
/// the staged W when args.staged.
template <class T>
DYNX_KERNEL __launch_bounds__(kFusedMaxThreads) void fused_mean_field_kernel(
    const math::MeanFieldRnnCell<T> cell_in, const FusedArgs<T> a) {
  extern __shared__ __align__(16) unsigned char smem_raw[];
  T* smem = reinterpret_cast<T*>(smem_raw);
  const int n = cell_in.n, m = cell_in.m;
  T* s = smem;               // n
  T* th = smem + n;          // 2 n
  math::MeanFieldRnnCell<T> cell = cell_in;
  if (a.staged) {
    stage_matrices<T>(cell, th + 2 * n);
    __syncthreads();
  }
  const int tid = threadIdx.x, nt = blockDim.x;
  for (std::int64_t k = blockIdx.x; k < a.count; k += gridDim.x) {
    const std::int64_t q = a.seq[k];
    const std::int64_t t0 = a.start[k] > 0 ? a.start[k] : 0;
    if (t0 >= a.end) continue;  // the same for every thread of the block
    T* states = a.states + q * a.total * n;
    const T* u = m > 0 ? a.u + q * a.total * m : nullptr;
    const T* init = t0 == 0 ? a.s0 + q * n : states + (t0 - 1) * n;
    for (int i = tid; i < n; i += nt) s[i] = init[i];
    for (std::int64_t t = t0; t < a.end; ++t) {
      // Half p of th was last read in step t − 2, before the barrier of step t − 1.
      T* tp = th + ((t - t0) & 1) * n;
      for (int j = tid; j < n; j += nt) tp[j] = std::tanh(s[j]);
      __syncthreads();
      T* out = states + t * n;
      for (int i = tid; i < n; i += nt) {
        const T v = math::detail::cell_row_dot(cell.W, n, n, i, static_cast<const T*>(tp));
        const T w = m > 0 ? v + u[t * m + i] : v;  // MeanFieldRnnCell::step
        s[i] = w;
        out[i] = w;
      }
    }
    __syncthreads();  // the next slot rewrites th from its first step
  }
}

}  // namespace kernels

namespace {

/// Dynamic shared memory a block may use without opting in.
constexpr std::size_t kDefaultSharedLimit = 48 * 1024;
/// The recurrent matrices are staged in shared memory when the whole block needs at most this:
/// the default limit, so staging never needs the opt-in and a sm_90 SM (228 KiB) still holds
/// four such blocks.
constexpr std::size_t kStageLimit = kDefaultSharedLimit;

/// Shared-memory needs of a fused kernel, in entries of T.
struct FusedShape {
  std::int64_t units = 0;    ///< threads' work items (rows, LSTM units)
  std::int64_t buffers = 0;  ///< state, input and tanh buffers
  std::int64_t weights = 0;  ///< the recurrent matrices
};

template <class Cell>
FusedShape fused_shape(const Cell& c) {
  using P = kernels::Fused<Cell>;
  FusedShape s;
  s.units = P::units(c);
  const std::int64_t d = c.state_dim(), m = c.input_dim();
  // The state and input double buffers; for the mean-field RNN s and tanh(s) double-buffered.
  s.buffers = P::kMeanField ? 3 * d : 2 * d + 2 * m;
  s.weights = std::int64_t{P::kMatrices} * s.units * s.units;
  return s;
}

/// How sequential runs for one cell shape (decided once, when the cell is bound).
struct FusedPlan {
  bool fused = false;       ///< false: the generic one-thread-per-slot kernel of CudaDeerCell
  bool staged = false;      ///< recurrent matrices in shared memory
  int threads = 0;          ///< per block
  std::size_t shared = 0;   ///< dynamic shared memory per block, bytes
};

/// The fused kernel runs when its buffers fit `shared_optin` (the device's opt-in limit per
/// block); the matrices are staged when everything fits kStageLimit. Threads: the units rounded up
/// to whole warps, at most kFusedMaxThreads.
FusedPlan plan_fused(const FusedShape& s, std::size_t elem, std::size_t shared_optin) {
  FusedPlan p;
  if (s.units <= 0) return p;
  const std::size_t base = static_cast<std::size_t>(s.buffers) * elem;
  const std::size_t all = base + static_cast<std::size_t>(s.weights) * elem;
  if (base > std::max(shared_optin, kDefaultSharedLimit)) return p;
  p.fused = true;
  p.staged = all <= kStageLimit;
  p.shared = p.staged ? all : base;
  const std::int64_t warps = (s.units + 31) / 32;
  p.threads = static_cast<int>(std::min<std::int64_t>(warps * 32, kernels::kFusedMaxThreads));
  return p;
}

/// The kernel for a cell type.
template <class T, class Cell>
auto fused_kernel() {
  if constexpr (kernels::Fused<Cell>::kMeanField)
    return kernels::fused_mean_field_kernel<T>;
  else
    return kernels::fused_sequential_kernel<T, Cell>;
}

/// A built-in cell on CUDA: the generic linearize of CudaDeerCell, the fused sequential kernel.
template <class T, class Cell>
class BuiltinCudaCell final : public CudaDeerCell<T, Cell> {
  using Base = CudaDeerCell<T, Cell>;

 public:
  BuiltinCudaCell(const Cell& cell, Device device, const char* name) : Base(cell, device, name) {
    DeviceGuard guard(device.index());
    int optin = 0;
    DYNX_CUDA_CHECK(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin,
                                           device.index()));
    plan_ = plan_fused(fused_shape(cell), sizeof(T), static_cast<std::size_t>(std::max(optin, 0)));
    if (plan_.fused && plan_.shared > kDefaultSharedLimit)
      // Always the device's maximum (not this cell's need), so that cells of one type but
      // different sizes never lower each other's limit.
      DYNX_CUDA_CHECK(cudaFuncSetAttribute(fused_kernel<T, Cell>(),
                                           cudaFuncAttributeMaxDynamicSharedMemorySize, optin));
    detail::log().debug(
        "cuda deer cell {}: D = {}, D_in = {}, {}: sequential {}", name, cell.state_dim(),
        cell.input_dim(), sizeof(T) == 4 ? "f32" : "f64",
        plan_.fused ? fmt::format("fused, {} threads per sequence, {} B shared, weights {}",
                                  plan_.threads, plan_.shared,
                                  plan_.staged ? "in shared memory" : "from global memory")
                    : std::string("one thread per sequence (state too large for shared memory)"));
  }

  void sequential(Context& ctx, const DeerSequentialArgs<T>& a) const override {
    if (!plan_.fused) {
      Base::sequential(ctx, a);
      return;
    }
    const std::string op = dynx::detail::cuda_cell::op_name(this->name(), "sequential");
    dynx::detail::cuda_cell::check_context(ctx, this->device(), op);
    dynx::detail::cuda_cell::check_sequential(a, this->input_dim(), op);
    if (a.count == 0 || a.end == 0) return;
    DeviceGuard guard(this->device().index());
    const kernels::FusedArgs<T> args{a.s0,  a.u,     a.states, a.total,     a.end,
                                     a.seq, a.start, a.count,  plan_.staged};
    const dim3 grid = kernels::per_matrix_grid(a.count);
    auto kernel = fused_kernel<T, Cell>();
    kernel<<<grid, plan_.threads, plan_.shared, state_of(ctx).stream()>>>(this->cell(), args);
    DYNX_CUDA_LAUNCH_CHECK();
  }

 private:
  FusedPlan plan_;
};

template <class T, class Cell>
std::unique_ptr<DeerCell<T>> make_builtin(Context& ctx, const Cell& cell, const char* name) {
  if (!ctx.device().is_cuda())
    throw InvalidArgument(std::string("make_deer_cell(") + name + "): the context is on " +
                          ctx.device().str() + ", not a CUDA device");
  return std::make_unique<BuiltinCudaCell<T, Cell>>(cell, ctx.device(), name);
}

}  // namespace

}  // namespace dynx::cuda

namespace dynx::detail {

template <class T>
std::unique_ptr<DeerCell<T>> cuda_deer_cell(Context& ctx, const math::TanhRnnCell<T>& cell) {
  return cuda::make_builtin<T>(ctx, cell, "tanh_rnn");
}
template <class T>
std::unique_ptr<DeerCell<T>> cuda_deer_cell(Context& ctx, const math::MeanFieldRnnCell<T>& cell) {
  return cuda::make_builtin<T>(ctx, cell, "mean_field_rnn");
}
template <class T>
std::unique_ptr<DeerCell<T>> cuda_deer_cell(Context& ctx, const math::GruCell<T>& cell) {
  return cuda::make_builtin<T>(ctx, cell, "gru");
}
template <class T>
std::unique_ptr<DeerCell<T>> cuda_deer_cell(Context& ctx, const math::LstmCell<T>& cell) {
  return cuda::make_builtin<T>(ctx, cell, "lstm");
}

#define DYNX_INSTANTIATE_CUDA_DEER_CELLS(T)                                                     \
  template std::unique_ptr<DeerCell<T>> cuda_deer_cell(Context&, const math::TanhRnnCell<T>&);  \
  template std::unique_ptr<DeerCell<T>> cuda_deer_cell(Context&,                              \
                                                       const math::MeanFieldRnnCell<T>&);     \
  template std::unique_ptr<DeerCell<T>> cuda_deer_cell(Context&, const math::GruCell<T>&);      \
  template std::unique_ptr<DeerCell<T>> cuda_deer_cell(Context&, const math::LstmCell<T>&);
DYNX_INSTANTIATE_CUDA_DEER_CELLS(float)
DYNX_INSTANTIATE_CUDA_DEER_CELLS(double)
#undef DYNX_INSTANTIATE_CUDA_DEER_CELLS

}  // namespace dynx::detail
