#pragma once
/// \file cuda/deer_cell.cuh
/// CudaDeerCell<T, Cell>: any cell with the concept of <dynx/math/cells.hpp> bound to a CUDA
/// device, for the DEER solvers of <dynx/deer.hpp>. Header-only and compiled by nvcc in the user's
/// own .cu file, so that a user's cell type runs on the GPU without changing dynx:
///
///     struct MyCell { /* state_dim, input_dim, work_size, step, jacobian, jacobian_diagonal,
///                        step_and_jacobian as in math/cells.hpp, all const and DYNX_HD */ };
///     dynx::CudaDeerCell<double, MyCell> cell(MyCell{...}, dynx::Device::cuda(0), "my_cell");
///     dynx::deer_evaluate<double>(ctx, cell, s0, u, states, options);
///
/// The cell is copied into every kernel launch (it must be trivially copyable), so its weight
/// pointers must point to memory on the cell's device. The CPU counterpart is CpuDeerCell in
/// <dynx/deer_cell.hpp>; both compute the same values up to rounding (libm and CUDA's math
/// functions differ by an ulp or so, and nvcc contracts a·b + c into fused multiply-adds).
///
/// Kernel design (generic, for any cell):
///   linearize   one thread per (slot, step) point, grid-stride. Each point is independent (its
///               linearisation point is the previous iterate), so all B·T points run in parallel.
///               A thread calls the cell's step (form none), step_and_jacobian (dense), step +
///               jacobian_diagonal (diagonal), or step_and_jacobian into a private dense D × D
///               scratch whose diagonal blocks it then copies into the chain-major block layout
///               (block). Each launched thread owns work_size() (+ D² for block) entries of the
///               context workspace; the number of threads launched is capped so that this scratch
///               stays within workspace_limit() (256 MiB by default), the grid-stride loop covering
///               the remaining points with the same scratch.
///   sequential  one thread per slot: the steps of a sequence are inherently sequential, so the
///               parallelism is over the sequences only. The thread steps the cell from column
///               start − 1 (or s0) to column end − 1 of the states, which double as the state
///               buffer (step reads column t − 1 and writes column t), with a private work area
///               from the workspace. The built-in cells of make_deer_cell replace this with fused
///               kernels that also parallelise each step over the state units.
/// No call synchronises the host; every launch is checked (CudaError on failure). The calls take
/// their scratch from ctx.workspace(), which invalidates earlier workspace() pointers of ctx;
/// cells whose work_size() is 0 use no workspace in linearize (forms none, dense, diagonal).

#include <dynx/deer.hpp>
#include <dynx/error.hpp>

#include <cuda_runtime.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>

namespace dynx {

namespace detail::cuda_cell {

// The kernels carry no visibility attribute (unlike the library's DYNX_KERNEL): a user's cell type
// in an anonymous namespace gives the instantiation internal linkage, where nvcc rejects the
// attribute (warning 1407). The library builds with -fvisibility=hidden, which hides its own.

/// Threads per block of the generic kernels (small: one point's work is a whole cell evaluation,
/// often with a D²-entry output, so register use per thread can be high).
inline constexpr int kThreads = 128;

/// Linearisation of every point of a DeerLinearizeArgs window; `scratch` holds `per_thread`
/// entries per launched thread: `work` cell scratch entries, then D² for the block form's dense J.
template <class T, class Cell>
__global__ __launch_bounds__(kThreads) void
deer_linearize_kernel(const Cell cell, const DeerLinearizeArgs<T> a, T* scratch,
                      std::int64_t per_thread, std::int64_t work) {
  const std::int64_t d = cell.state_dim(), m = cell.input_dim();
  const std::int64_t points = a.count * a.steps;
  const std::int64_t tid = std::int64_t{blockIdx.x} * blockDim.x + threadIdx.x;
  const std::int64_t nthreads = std::int64_t{gridDim.x} * blockDim.x;
  T* w = work > 0 ? scratch + tid * per_thread : nullptr;
  T* full = a.form == JacobianForm::block ? scratch + tid * per_thread + work : nullptr;
  const std::int64_t mb = a.form == JacobianForm::block ? a.block : d;
  const std::int64_t nb = mb > 0 ? d / mb : 0;
  for (std::int64_t p = tid; p < points; p += nthreads) {
    const std::int64_t k = p / a.steps, tau = p % a.steps, t = a.first + tau;
    const std::int64_t q = a.seq[k];
    const T* prev = t == 0 ? a.s0 + q * d : a.states + (q * a.total + t - 1) * d;
    const T* ut = m > 0 ? a.u + (q * a.total + t) * m : nullptr;
    T* f = a.f + p * d;
    switch (a.form) {
      case JacobianForm::none: cell.step(prev, ut, f, w); break;
      case JacobianForm::dense: cell.step_and_jacobian(prev, ut, f, a.jac + p * d * d, w); break;
      case JacobianForm::diagonal:
        cell.step(prev, ut, f, w);
        cell.jacobian_diagonal(prev, ut, a.jac + p * d, w);
        break;
      case JacobianForm::block:
        cell.step_and_jacobian(prev, ut, f, full, w);
        for (std::int64_t b = 0; b < nb; ++b) {
          T* out = a.jac + ((k * nb + b) * a.steps + tau) * mb * mb;
          const T* src = full + (b * mb) * d + b * mb;  // J(bm, bm), leading dimension d
          for (std::int64_t j = 0; j < mb; ++j)
            for (std::int64_t i = 0; i < mb; ++i) out[j * mb + i] = src[j * d + i];
        }
        break;
    }
  }
}

/// Sequential evaluation, one thread per slot (grid-stride); `scratch` holds `work` entries per
/// launched thread (null when the cell needs none).
template <class T, class Cell>
__global__ __launch_bounds__(kThreads) void
deer_sequential_kernel(const Cell cell, const DeerSequentialArgs<T> a, T* scratch,
                       std::int64_t work) {
  const std::int64_t d = cell.state_dim(), m = cell.input_dim();
  const std::int64_t tid = std::int64_t{blockIdx.x} * blockDim.x + threadIdx.x;
  const std::int64_t nthreads = std::int64_t{gridDim.x} * blockDim.x;
  T* w = work > 0 ? scratch + tid * work : nullptr;
  for (std::int64_t k = tid; k < a.count; k += nthreads) {
    const std::int64_t q = a.seq[k];
    T* s = a.states + q * a.total * d;
    const T* u = m > 0 ? a.u + q * a.total * m : nullptr;
    for (std::int64_t t = a.start[k] > 0 ? a.start[k] : 0; t < a.end; ++t) {
      const T* prev = t == 0 ? a.s0 + q * d : s + (t - 1) * d;
      cell.step(prev, u ? u + t * m : nullptr, s + t * d, w);
    }
  }
}

/// Launch geometry of a generic kernel over `items` independent items whose threads each need
/// `bytes_per_thread` of scratch: at most `budget` bytes of scratch in all (but always at least
/// one thread), blocks of up to kThreads, the grid-stride loop covering the rest.
struct Geometry {
  int block = 1;
  std::int64_t grid = 1;
  std::int64_t threads() const noexcept { return grid * block; }
};

inline Geometry geometry(std::int64_t items, std::size_t bytes_per_thread, std::size_t budget) {
  std::int64_t want = items;
  if (bytes_per_thread > 0) {
    const std::int64_t cap = static_cast<std::int64_t>(budget / bytes_per_thread);
    want = std::min(want, std::max<std::int64_t>(cap, 1));
  }
  // gridDim.x is limited to 2^31 − 1 blocks; far more threads than the device runs at once.
  want = std::clamp<std::int64_t>(want, 1, std::int64_t{kThreads} * 0x7fffffff);
  Geometry g;
  g.block = static_cast<int>(std::min<std::int64_t>(kThreads, want));
  g.grid = want / g.block;  // rounded down: grid · block ≤ want (the scratch budget)
  return g;
}

/// "<what> (cudaErrorX: description)".
inline std::string cuda_message(const std::string& what, cudaError_t code) {
  return what + " (" + cudaGetErrorName(code) + ": " + cudaGetErrorString(code) + ")";
}

inline void check_cuda(cudaError_t code, const std::string& what) {
  if (code != cudaSuccess) {
    (void)cudaGetLastError();  // clear a non-sticky error so that it is reported once
    throw CudaError(static_cast<int>(code), cuda_message(what, code));
  }
}

/// After a launch: reports a launch error; when the including code defines DYNX_SYNC_CHECK (as
/// the library's own debug build does), also waits for the kernel so that an asynchronous fault is
/// attributed to it.
inline void check_launch(const std::string& op) {
  check_cuda(cudaGetLastError(), op + ": kernel launch failed");
#ifdef DYNX_SYNC_CHECK
  check_cuda(cudaDeviceSynchronize(), op + ": kernel failed");
#endif
}

/// Makes the cell's device current for the lifetime of the guard (kernels launch on the current
/// device, which must be the stream's), restoring the previous one afterwards.
class CurrentDevice {
 public:
  CurrentDevice(int device, const std::string& op) {
    check_cuda(cudaGetDevice(&previous_), op + ": cudaGetDevice failed");
    if (previous_ != device) {
      check_cuda(cudaSetDevice(device), op + ": cudaSetDevice(" + std::to_string(device) + ") failed");
      restore_ = true;
    }
  }
  ~CurrentDevice() {
    if (restore_ && cudaSetDevice(previous_) != cudaSuccess) (void)cudaGetLastError();
  }
  CurrentDevice(const CurrentDevice&) = delete;
  CurrentDevice& operator=(const CurrentDevice&) = delete;

 private:
  int previous_ = 0;
  bool restore_ = false;
};

/// "CudaDeerCell<name>::<method>".
inline std::string op_name(const char* name, const char* method) {
  return std::string("CudaDeerCell<") + (name ? name : "cell") + ">::" + method;
}

/// Checks shared by every CudaDeerCell method: the context is on the cell's device.
inline void check_context(const Context& ctx, Device device, const std::string& op) {
  if (ctx.device() != device)
    throw InvalidArgument(op + ": the context is on " + ctx.device().str() +
                          " but the cell's weights on " + device.str());
}

/// The host-side checks of DeerLinearizeArgs that need no device memory access.
template <class T>
void check_linearize(const DeerLinearizeArgs<T>& a, int d, int m, const std::string& op) {
  if (a.count < 0 || a.steps < 0 || a.first < 0 || a.total < 0 || a.first + a.steps > a.total)
    throw InvalidArgument(op + ": window [first, first + steps) = [" + std::to_string(a.first) +
                          ", " + std::to_string(a.first + a.steps) + ") of count " +
                          std::to_string(a.count) + " is not inside [0, total = " +
                          std::to_string(a.total) + ")");
  if (a.count == 0 || a.steps == 0) return;
  if (!a.s0 || !a.f || !a.seq) throw InvalidArgument(op + ": s0, f and seq must not be null");
  if (a.first + a.steps > 1 && !a.states)
    throw InvalidArgument(op + ": states must not be null when steps after the first are linearised");
  if (m > 0 && !a.u) throw InvalidArgument(op + ": u must not be null when the input dimension is > 0");
  if (a.form != JacobianForm::none && !a.jac)
    throw InvalidArgument(op + ": jac must not be null for a Jacobian form other than none");
  if (a.form == JacobianForm::block && (a.block <= 0 || d % a.block != 0))
    throw InvalidArgument(op + ": block size " + std::to_string(a.block) +
                          " is not a divisor of the state dimension " + std::to_string(d));
}

/// The host-side checks of DeerSequentialArgs that need no device memory access.
template <class T>
void check_sequential(const DeerSequentialArgs<T>& a, int m, const std::string& op) {
  if (a.count < 0 || a.total < 0)
    throw InvalidArgument(op + ": count " + std::to_string(a.count) + " and total " +
                          std::to_string(a.total) + " must not be negative");
  if (a.end < 0 || a.end > a.total)
    throw InvalidArgument(op + ": end " + std::to_string(a.end) + " is not inside [0, total = " +
                          std::to_string(a.total) + "]");
  if (a.count == 0 || a.end == 0) return;
  if (!a.s0 || !a.states || !a.seq || !a.start)
    throw InvalidArgument(op + ": s0, states, seq and start must not be null");
  if (m > 0 && !a.u) throw InvalidArgument(op + ": u must not be null when the input dimension is > 0");
}

}  // namespace detail::cuda_cell

/// A cell type with the concept of <dynx/math/cells.hpp> (all members const and DYNX_HD, so that
/// they run in device code) bound to one CUDA device. Its weights must live on that device and
/// outlive this object. linearize and sequential enqueue on ctx's stream (ctx on the same device)
/// and return without synchronising; they throw InvalidArgument for a context on another device
/// or unusable arguments (nothing is enqueued then) and CudaError when a launch fails.
template <class T, class Cell>
class CudaDeerCell : public DeerCell<T> {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                "CudaDeerCell: T must be float or double");
  static_assert(std::is_trivially_copyable_v<Cell>,
                "CudaDeerCell: the cell is passed to kernels by value and must be trivially copyable");

 public:
  /// Binds `cell` (weights on `device`, a CUDA device) under a short `name` for reports (a string
  /// literal or another string that outlives the object). Throws InvalidArgument when `device` is
  /// not a CUDA device.
  explicit CudaDeerCell(const Cell& cell, Device device = Device::cuda(0), const char* name = "cell")
      : cell_(cell), device_(device), name_(name ? name : "cell") {
    if (!device.is_cuda())
      throw InvalidArgument(std::string("CudaDeerCell<") + name_ + ">: device " + device.str() +
                            " is not a CUDA device");
  }

  int state_dim() const noexcept override { return cell_.state_dim(); }
  int input_dim() const noexcept override { return cell_.input_dim(); }
  Device device() const noexcept override { return device_; }
  const char* name() const noexcept override { return name_; }
  const Cell& cell() const noexcept { return cell_; }

  /// The most workspace bytes the generic kernels aim at (fewer threads, each looping over more
  /// points, when all points would need more); one thread's scratch is always granted.
  std::size_t workspace_limit() const noexcept { return workspace_limit_; }
  void set_workspace_limit(std::size_t bytes) noexcept { workspace_limit_ = bytes; }

  /// DeerCell::linearize (layouts in DeerLinearizeArgs; every pointer on the cell's device): one
  /// thread per (slot, step) point. Scratch (work_size() entries per thread, plus D² for the block
  /// form) comes from ctx.workspace(); none is taken when both are 0. Asynchronous.
  void linearize(Context& ctx, const DeerLinearizeArgs<T>& a) const override {
    const std::string op = detail::cuda_cell::op_name(name_, "linearize");
    const int d = cell_.state_dim(), m = cell_.input_dim();
    detail::cuda_cell::check_context(ctx, device_, op);
    detail::cuda_cell::check_linearize(a, d, m, op);
    const std::int64_t points = a.count * a.steps;
    if (points == 0 || d == 0) return;
    const std::int64_t work = std::max(0, cell_.work_size());
    const std::int64_t dense = a.form == JacobianForm::block ? std::int64_t{d} * d : 0;
    const std::int64_t per_thread = work + dense;
    const auto g = detail::cuda_cell::geometry(
        points, static_cast<std::size_t>(per_thread) * sizeof(T), workspace_limit_);
    detail::cuda_cell::CurrentDevice guard(device_.index(), op);
    T* scratch = per_thread > 0 ? static_cast<T*>(ctx.workspace(
                                      static_cast<std::size_t>(g.threads() * per_thread) * sizeof(T)))
                                : nullptr;
    auto stream = static_cast<cudaStream_t>(ctx.native_stream());
    detail::cuda_cell::deer_linearize_kernel<T, Cell>
        <<<static_cast<unsigned>(g.grid), static_cast<unsigned>(g.block), 0, stream>>>(
            cell_, a, scratch, per_thread, work);
    detail::cuda_cell::check_launch(op);
  }

  /// DeerCell::sequential (layouts in DeerSequentialArgs; every pointer on the cell's device): one
  /// thread per slot, work_size() scratch entries per thread from ctx.workspace(). Asynchronous.
  void sequential(Context& ctx, const DeerSequentialArgs<T>& a) const override {
    const std::string op = detail::cuda_cell::op_name(name_, "sequential");
    detail::cuda_cell::check_context(ctx, device_, op);
    detail::cuda_cell::check_sequential(a, cell_.input_dim(), op);
    if (a.count == 0 || a.end == 0 || cell_.state_dim() == 0) return;
    const std::int64_t work = std::max(0, cell_.work_size());
    const auto g = detail::cuda_cell::geometry(a.count, static_cast<std::size_t>(work) * sizeof(T),
                                               workspace_limit_);
    detail::cuda_cell::CurrentDevice guard(device_.index(), op);
    T* scratch = work > 0 ? static_cast<T*>(ctx.workspace(
                                static_cast<std::size_t>(g.threads() * work) * sizeof(T)))
                          : nullptr;
    auto stream = static_cast<cudaStream_t>(ctx.native_stream());
    detail::cuda_cell::deer_sequential_kernel<T, Cell>
        <<<static_cast<unsigned>(g.grid), static_cast<unsigned>(g.block), 0, stream>>>(cell_, a,
                                                                                       scratch, work);
    detail::cuda_cell::check_launch(op);
  }

 private:
  Cell cell_;
  Device device_;
  const char* name_;
  std::size_t workspace_limit_ = std::size_t(256) << 20;
};

}  // namespace dynx
