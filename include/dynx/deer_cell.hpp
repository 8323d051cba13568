#pragma once
/// \file deer_cell.hpp
/// CpuDeerCell<T, Cell>: any cell with the concept of <dynx/math/cells.hpp> bound to the CPU
/// backend, for the DEER solvers of <dynx/deer.hpp>. Header-only, so that a user's own cell type
/// runs without changing dynx:
///
///     struct MyCell { /* state_dim, input_dim, work_size, step, jacobian, jacobian_diagonal,
///                        step_and_jacobian as in math/cells.hpp */ };
///     dynx::CpuDeerCell<double, MyCell> cell(MyCell{...});
///     dynx::deer_evaluate<double>(ctx, cell, s0, u, states, options);
///
/// linearize runs in parallel over all (sequence, step) points with OpenMP (when the user's code is
/// compiled with it), sequential in parallel over sequences, each on ctx.num_threads() threads.
/// The cell's weights must be host memory. The CUDA counterpart is CudaDeerCell in
/// <dynx/cuda/deer_cell.cuh>.

#include <dynx/context.hpp>
#include <dynx/deer.hpp>

#include <algorithm>
#include <cstdint>
#include <vector>

// OpenMP pragmas only where the including code is compiled with OpenMP (no unknown-pragma
// warnings otherwise).
#if defined(_OPENMP)
#define DYNX_DEER_OMP(...) _Pragma(#__VA_ARGS__)
#else
#define DYNX_DEER_OMP(...)
#endif

namespace dynx {

template <class T, class Cell>
class CpuDeerCell : public DeerCell<T> {
 public:
  explicit CpuDeerCell(const Cell& cell, const char* name = "cell") : cell_(cell), name_(name) {}

  int state_dim() const noexcept override { return cell_.state_dim(); }
  int input_dim() const noexcept override { return cell_.input_dim(); }
  Device device() const noexcept override { return Device::cpu(); }
  const char* name() const noexcept override { return name_; }
  const Cell& cell() const noexcept { return cell_; }

  void linearize(Context& ctx, const DeerLinearizeArgs<T>& a) const override {
    const std::int64_t d = cell_.state_dim();
    const std::int64_t m_blk = a.form == JacobianForm::block ? a.block : d;
    const std::int64_t nb = m_blk > 0 ? d / m_blk : 0;
    const std::size_t work = static_cast<std::size_t>(std::max(1, cell_.work_size()));
    const std::size_t dense = a.form == JacobianForm::block ? static_cast<std::size_t>(d * d) : 0;
    for_each_point(ctx, a, work + dense, [&](std::int64_t p, std::int64_t k, std::int64_t tau,
                                             const T* prev, const T* ut, T* w) {
      T* f = a.f + p * d;
      switch (a.form) {
        case JacobianForm::none: cell_.step(prev, ut, f, w); break;
        case JacobianForm::dense: cell_.step_and_jacobian(prev, ut, f, a.jac + p * d * d, w); break;
        case JacobianForm::diagonal:
          cell_.step(prev, ut, f, w);
          cell_.jacobian_diagonal(prev, ut, a.jac + p * d, w);
          break;
        case JacobianForm::block: {
          const T* full = w + work;
          cell_.step_and_jacobian(prev, ut, f, w + work, w);
          for (std::int64_t b = 0; b < nb; ++b) {
            T* out = a.jac + ((k * nb + b) * a.steps + tau) * m_blk * m_blk;
            for (std::int64_t j = 0; j < m_blk; ++j)
              for (std::int64_t i = 0; i < m_blk; ++i)
                out[j * m_blk + i] = full[(b * m_blk + j) * d + b * m_blk + i];
          }
          break;
        }
      }
    });
  }

  void sequential(Context& ctx, const DeerSequentialArgs<T>& a) const override {
    for_each_sequence(ctx, a, static_cast<std::size_t>(std::max(1, cell_.work_size())),
                      [&](const T* prev, const T* ut, T* next, T* w) { cell_.step(prev, ut, next, w); });
  }

 protected:
  /// The parallel loop of linearize over the window's points: fn(p, k, tau, prev, u_t, scratch)
  /// for point p = k·steps + tau (step t = first + tau of sequence seq[k]), with `scratch` entries
  /// of per-thread scratch. A cell type with a faster evaluation reuses it (src/deer/cells.cpp).
  template <class Fn>
  void for_each_point(Context& ctx, const DeerLinearizeArgs<T>& a, std::size_t scratch,
                      Fn&& fn) const {
    const std::int64_t d = cell_.state_dim(), m = cell_.input_dim();
    const std::int64_t points = a.count * a.steps;
    (void)ctx;  // the thread count, when compiled with OpenMP
DYNX_DEER_OMP(omp parallel num_threads(ctx.num_threads()))
    {
      std::vector<T> w(scratch);
DYNX_DEER_OMP(omp for schedule(static))
      for (std::int64_t p = 0; p < points; ++p) {
        const std::int64_t k = p / a.steps, tau = p % a.steps, t = a.first + tau;
        const std::int64_t q = a.seq[k];
        const T* prev = t == 0 ? a.s0 + q * d : a.states + (q * a.total + t - 1) * d;
        const T* ut = m > 0 ? a.u + (q * a.total + t) * m : nullptr;
        fn(p, k, tau, prev, ut, w.data());
      }
    }
  }

  /// The loop of sequential, parallel over sequences: step(prev, u_t, next, scratch) for the steps
  /// start[k] … end − 1 of each, with `scratch` entries of per-thread scratch.
  template <class Step>
  void for_each_sequence(Context& ctx, const DeerSequentialArgs<T>& a, std::size_t scratch,
                         Step&& step) const {
    const std::int64_t d = cell_.state_dim(), m = cell_.input_dim();
    (void)ctx;
DYNX_DEER_OMP(omp parallel num_threads(ctx.num_threads()))
    {
      std::vector<T> w(scratch);
DYNX_DEER_OMP(omp for schedule(dynamic, 1))
      for (std::int64_t k = 0; k < a.count; ++k) {
        const std::int64_t q = a.seq[k];
        T* s = a.states + q * a.total * d;
        const T* u = m > 0 ? a.u + q * a.total * m : nullptr;
        for (std::int64_t t = std::max<std::int64_t>(a.start[k], 0); t < a.end; ++t) {
          const T* prev = t == 0 ? a.s0 + q * d : s + (t - 1) * d;
          step(prev, u ? u + t * m : nullptr, s + t * d, w.data());
        }
      }
    }
  }

 private:
  Cell cell_;
  const char* name_;
};

}  // namespace dynx

#undef DYNX_DEER_OMP
