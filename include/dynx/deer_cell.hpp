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
    const std::int64_t d = cell_.state_dim(), m = cell_.input_dim();
    const std::int64_t points = a.count * a.steps;
    const std::int64_t m_blk = a.form == JacobianForm::block ? a.block : d;
    const std::int64_t nb = m_blk > 0 ? d / m_blk : 0;
    const std::size_t work = static_cast<std::size_t>(std::max(1, cell_.work_size()));
    const std::size_t dense = a.form == JacobianForm::block ? static_cast<std::size_t>(d * d) : 0;
    (void)ctx;  // the thread count, when compiled with OpenMP
DYNX_DEER_OMP(omp parallel num_threads(ctx.num_threads()))
    {
      std::vector<T> w(work), full(std::max<std::size_t>(1, dense));
DYNX_DEER_OMP(omp for schedule(static))
      for (std::int64_t p = 0; p < points; ++p) {
        const std::int64_t k = p / a.steps, tau = p % a.steps, t = a.first + tau;
        const std::int64_t q = a.seq[k];
        const T* prev = t == 0 ? a.s0 + q * d : a.states + (q * a.total + t - 1) * d;
        const T* ut = m > 0 ? a.u + (q * a.total + t) * m : nullptr;
        T* f = a.f + p * d;
        switch (a.form) {
          case JacobianForm::none: cell_.step(prev, ut, f, w.data()); break;
          case JacobianForm::dense:
            cell_.step_and_jacobian(prev, ut, f, a.jac + p * d * d, w.data());
            break;
          case JacobianForm::diagonal:
            cell_.step(prev, ut, f, w.data());
            cell_.jacobian_diagonal(prev, ut, a.jac + p * d, w.data());
            break;
          case JacobianForm::block:
            cell_.step_and_jacobian(prev, ut, f, full.data(), w.data());
            for (std::int64_t b = 0; b < nb; ++b) {
              T* out = a.jac + ((k * nb + b) * a.steps + tau) * m_blk * m_blk;
              for (std::int64_t j = 0; j < m_blk; ++j)
                for (std::int64_t i = 0; i < m_blk; ++i)
                  out[j * m_blk + i] = full[static_cast<std::size_t>((b * m_blk + j) * d + b * m_blk + i)];
            }
            break;
        }
      }
    }
  }

  void sequential(Context& ctx, const DeerSequentialArgs<T>& a) const override {
    const std::int64_t d = cell_.state_dim(), m = cell_.input_dim();
    const std::size_t work = static_cast<std::size_t>(std::max(1, cell_.work_size()));
    (void)ctx;
DYNX_DEER_OMP(omp parallel num_threads(ctx.num_threads()))
    {
      std::vector<T> w(work);
DYNX_DEER_OMP(omp for schedule(dynamic, 1))
      for (std::int64_t k = 0; k < a.count; ++k) {
        const std::int64_t q = a.seq[k];
        T* s = a.states + q * a.total * d;
        const T* u = m > 0 ? a.u + q * a.total * m : nullptr;
        for (std::int64_t t = a.start[k]; t < a.end; ++t) {
          const T* prev = t == 0 ? a.s0 + q * d : s + (t - 1) * d;
          cell_.step(prev, u ? u + t * m : nullptr, s + t * d, w.data());
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
