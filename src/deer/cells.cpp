// The built-in cells bound to a device (include/dynx/deer.hpp, make_deer_cell): weights checked once
// (sizes, null pointers, NaN/Inf), then CpuDeerCell on the CPU or the CUDA cells of
// src/cuda/deer_cells.cu.

#include <dynx/deer.hpp>
#include <dynx/deer_cell.hpp>
#include <dynx/error.hpp>

#include "deer/cells.hpp"
#include "deer/check.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

namespace dynx {
namespace {

// One weight of a cell: its name, pointer, entries, and whether it may be null.
template <class T>
struct Weight {
  const char* name;
  const T* p;
  std::int64_t size;
  bool optional;
};

template <class T>
void check_weights(Context& ctx, const char* cell, int n, int m, const std::vector<Weight<T>>& ws) {
  const std::string who = std::string("make_deer_cell(") + cell + ")";
  DYNX_EXPECTS(n >= 1, fmt::format("{}: the state dimension n must be >= 1, got {}", who, n));
  DYNX_EXPECTS(m >= 0, fmt::format("{}: the input dimension m must be >= 0, got {}", who, m));
  for (const Weight<T>& w : ws) {
    if (w.size == 0) continue;
    if (w.p == nullptr) {
      DYNX_EXPECTS(w.optional, fmt::format("{}: weight `{}` is a null pointer", who, w.name));
      continue;
    }
    deer::check_finite(ctx, w.p, w.size, fmt::format("{}: weight `{}`", who, w.name));
  }
}

// --- The CPU sequential evaluator of the built-in cells -------------------------------------------
//
// The cells' own step forms each unit's row products with a strided walk along a row of a
// column-major matrix, which for wide cells is a cache miss per entry. Here every matrix-vector
// product of a step is formed column by column (contiguous, vectorised over the rows), each row
// still summed over j in index order from 0, so the sums, and then the unit updates through the
// cells' *_from functions, are bit for bit those of Cell::step.

// out[i] = Σ_j A[j·rows + i] x[j] for all rows, in the order of detail::cell_row_dot.
template <class T>
void matvec_columns(const T* A, int rows, int cols, const T* x, T* out) {
  std::fill(out, out + rows, T(0));
  for (int j = 0; j < cols; ++j) {
    const T xj = x[j];
    const T* a = A + std::size_t(j) * std::size_t(rows);
    for (int i = 0; i < rows; ++i) out[i] += a[i] * xj;
  }
}

// One evaluation of each built-in cell at (s, u) with the products formed by matvec_columns:
// s_next, and for form dense (diagonal) the Jacobian J (its diagonal) as the cell's
// step_and_jacobian (jacobian_diagonal) computes it. `dots` holds 8n entries.
template <class T>
void fast_eval(const math::TanhRnnCell<T>& c, const T* s, const T* u, T* next, JacobianForm form,
               T* jac, T* dots) {
  const int n = c.n;
  T* du = dots;
  T* dw = dots + n;
  if (c.m > 0) matvec_columns(c.U, n, c.m, u, du);
  matvec_columns(c.W, n, n, s, dw);
  for (int i = 0; i < n; ++i) {
    const T a = c.preactivation_from(i, c.m > 0 ? du[i] : T(0), dw[i]);
    next[i] = std::tanh(a);
    if (form == JacobianForm::dense) {
      const T d = math::detail::cell_sech2(a);
      for (int j = 0; j < n; ++j) jac[j * n + i] = d * c.W[j * n + i];
    } else if (form == JacobianForm::diagonal) {
      jac[i] = math::detail::cell_sech2(a) * c.W[i * n + i];
    }
  }
}

template <class T>
void fast_eval(const math::MeanFieldRnnCell<T>& c, const T* s, const T* u, T* next,
               JacobianForm form, T* jac, T* dots) {
  const int n = c.n;
  T* th = dots;
  T* dw = dots + n;
  for (int j = 0; j < n; ++j) th[j] = std::tanh(s[j]);
  matvec_columns(c.W, n, n, th, dw);
  for (int i = 0; i < n; ++i) next[i] = c.m > 0 ? dw[i] + u[i] : dw[i];
  // The cell's own Jacobians are already column by column (J = W diag(sech² s)).
  if (form == JacobianForm::dense) c.jacobian(s, u, jac, nullptr);
  else if (form == JacobianForm::diagonal) c.jacobian_diagonal(s, u, jac, nullptr);
}

template <class T>
void fast_eval(const math::GruCell<T>& c, const T* h, const T* u, T* next, JacobianForm form,
               T* jac, T* dots) {
  const int n = c.n;
  T* p[6];
  for (int k = 0; k < 6; ++k) p[k] = dots + k * n;
  if (c.m > 0) {
    matvec_columns(c.W_ir, n, c.m, u, p[0]);
    matvec_columns(c.W_iz, n, c.m, u, p[1]);
    matvec_columns(c.W_in, n, c.m, u, p[2]);
  }
  matvec_columns(c.W_hr, n, n, h, p[3]);
  matvec_columns(c.W_hz, n, n, h, p[4]);
  matvec_columns(c.W_hn, n, n, h, p[5]);
  const bool in = c.m > 0;
  for (int i = 0; i < n; ++i) {
    const typename math::GruCell<T>::Dots d{in ? p[0][i] : T(0), in ? p[1][i] : T(0),
                                            in ? p[2][i] : T(0), p[3][i], p[4][i], p[5][i]};
    const auto g = c.gates_from(i, d);
    next[i] = g.zc * g.nv + g.z * h[i];  // GruCell::step
    if (form == JacobianForm::dense) c.jacobian_row(h, i, g, jac);
    else if (form == JacobianForm::diagonal) jac[i] = c.jacobian_diagonal_entry(h, i, g);
  }
}

template <class T>
void fast_eval(const math::LstmCell<T>& c, const T* s, const T* u, T* next, JacobianForm form,
               T* jac, T* dots) {
  const int n = c.n;
  const T* h = s + n;
  T* p[8];
  for (int k = 0; k < 8; ++k) p[k] = dots + k * n;
  if (c.m > 0) {
    matvec_columns(c.W_ii, n, c.m, u, p[0]);
    matvec_columns(c.W_if, n, c.m, u, p[1]);
    matvec_columns(c.W_ig, n, c.m, u, p[2]);
    matvec_columns(c.W_io, n, c.m, u, p[3]);
  }
  matvec_columns(c.W_hi, n, n, h, p[4]);
  matvec_columns(c.W_hf, n, n, h, p[5]);
  matvec_columns(c.W_hg, n, n, h, p[6]);
  matvec_columns(c.W_ho, n, n, h, p[7]);
  const bool in = c.m > 0;
  for (int j = 0; j < n; ++j) {
    const typename math::LstmCell<T>::Dots d{in ? p[0][j] : T(0), in ? p[1][j] : T(0),
                                             in ? p[2][j] : T(0), in ? p[3][j] : T(0),
                                             p[4][j], p[5][j], p[6][j], p[7][j]};
    const auto q = c.gates_from(s, j, d);
    next[j] = q.c_next;  // LstmCell::step
    next[n + j] = q.o * q.tc;
    if (form == JacobianForm::dense) c.jacobian_rows(s, j, q, jac);
    else if (form == JacobianForm::diagonal) c.jacobian_diagonal_entries(s, j, q, jac);
  }
}

// A built-in cell on the CPU: linearize (forms none, dense, diagonal; block through the generic
// path) and the sequential evaluator by fast_eval, bit for bit the cell's own methods.
template <class T, class Cell>
class CpuBuiltinCell final : public CpuDeerCell<T, Cell> {
 public:
  using CpuDeerCell<T, Cell>::CpuDeerCell;

  void linearize(Context& ctx, const DeerLinearizeArgs<T>& a) const override {
    if (a.form == JacobianForm::block) {
      CpuDeerCell<T, Cell>::linearize(ctx, a);
      return;
    }
    const Cell& c = this->cell();
    const std::int64_t d = c.state_dim();
    const std::int64_t jsize = a.form == JacobianForm::dense ? d * d : d;
    this->for_each_point(ctx, a, std::size_t(8 * c.n),
                         [&](std::int64_t p, std::int64_t, std::int64_t, const T* prev, const T* ut,
                             T* dots) {
                           fast_eval(c, prev, ut, a.f + p * d, a.form,
                                     a.jac ? a.jac + p * jsize : nullptr, dots);
                         });
  }

  void sequential(Context& ctx, const DeerSequentialArgs<T>& a) const override {
    const Cell& c = this->cell();
    this->for_each_sequence(ctx, a, std::size_t(8 * c.n),
                            [&](const T* prev, const T* ut, T* next, T* dots) {
                              fast_eval(c, prev, ut, next, JacobianForm::none,
                                        static_cast<T*>(nullptr), dots);
                            });
  }
};

template <class T, class Cell>
std::unique_ptr<DeerCell<T>> bind(Context& ctx, const Cell& cell, const char* name) {
  if (ctx.device().is_cpu()) return std::make_unique<CpuBuiltinCell<T, Cell>>(cell, name);
#if DYNX_HAS_CUDA
  return detail::cuda_deer_cell<T>(ctx, cell);
#else
  DYNX_UNSUPPORTED("make_deer_cell: this libdynx was built without the CUDA backend");
#endif
}

}  // namespace

template <class T>
std::unique_ptr<DeerCell<T>> make_deer_cell(Context& ctx, const math::TanhRnnCell<T>& c) {
  const std::int64_t n = c.n, m = c.m;
  check_weights<T>(ctx, "tanh_rnn", c.n, c.m,
                   {{"W", c.W, n * n, false}, {"U", c.U, n * m, false}, {"b", c.b, n, true}});
  return bind<T>(ctx, c, "tanh_rnn");
}

template <class T>
std::unique_ptr<DeerCell<T>> make_deer_cell(Context& ctx, const math::MeanFieldRnnCell<T>& c) {
  const std::int64_t n = c.n;
  DYNX_EXPECTS(c.m == 0 || c.m == c.n,
               fmt::format("make_deer_cell(mean_field_rnn): the input is added unprojected, so m "
                           "must be 0 or n = {}, got {}",
                           c.n, c.m));
  check_weights<T>(ctx, "mean_field_rnn", c.n, c.m, {{"W", c.W, n * n, false}});
  return bind<T>(ctx, c, "mean_field_rnn");
}

template <class T>
std::unique_ptr<DeerCell<T>> make_deer_cell(Context& ctx, const math::GruCell<T>& c) {
  const std::int64_t n = c.n, m = c.m;
  check_weights<T>(ctx, "gru", c.n, c.m,
                   {{"W_ir", c.W_ir, n * m, false}, {"W_iz", c.W_iz, n * m, false},
                    {"W_in", c.W_in, n * m, false}, {"W_hr", c.W_hr, n * n, false},
                    {"W_hz", c.W_hz, n * n, false}, {"W_hn", c.W_hn, n * n, false},
                    {"b_ir", c.b_ir, n, true},      {"b_iz", c.b_iz, n, true},
                    {"b_in", c.b_in, n, true},      {"b_hr", c.b_hr, n, true},
                    {"b_hz", c.b_hz, n, true},      {"b_hn", c.b_hn, n, true}});
  return bind<T>(ctx, c, "gru");
}

template <class T>
std::unique_ptr<DeerCell<T>> make_deer_cell(Context& ctx, const math::LstmCell<T>& c) {
  const std::int64_t n = c.n, m = c.m;
  check_weights<T>(ctx, "lstm", c.n, c.m,
                   {{"W_ii", c.W_ii, n * m, false}, {"W_if", c.W_if, n * m, false},
                    {"W_ig", c.W_ig, n * m, false}, {"W_io", c.W_io, n * m, false},
                    {"W_hi", c.W_hi, n * n, false}, {"W_hf", c.W_hf, n * n, false},
                    {"W_hg", c.W_hg, n * n, false}, {"W_ho", c.W_ho, n * n, false},
                    {"b_ii", c.b_ii, n, true},      {"b_if", c.b_if, n, true},
                    {"b_ig", c.b_ig, n, true},      {"b_io", c.b_io, n, true},
                    {"b_hi", c.b_hi, n, true},      {"b_hf", c.b_hf, n, true},
                    {"b_hg", c.b_hg, n, true},      {"b_ho", c.b_ho, n, true}});
  return bind<T>(ctx, c, "lstm");
}

#define DYNX_INSTANTIATE(T)                                                                     \
  template DYNX_API std::unique_ptr<DeerCell<T>> make_deer_cell(Context&,                      \
                                                                const math::TanhRnnCell<T>&);  \
  template DYNX_API std::unique_ptr<DeerCell<T>> make_deer_cell(                               \
      Context&, const math::MeanFieldRnnCell<T>&);                                             \
  template DYNX_API std::unique_ptr<DeerCell<T>> make_deer_cell(Context&,                      \
                                                                const math::GruCell<T>&);      \
  template DYNX_API std::unique_ptr<DeerCell<T>> make_deer_cell(Context&,                      \
                                                                const math::LstmCell<T>&);
DYNX_INSTANTIATE(float)
DYNX_INSTANTIATE(double)
#undef DYNX_INSTANTIATE

}  // namespace dynx
