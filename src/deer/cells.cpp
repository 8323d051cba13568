// The built-in cells bound to a device (include/dynx/deer.hpp, make_deer_cell): weights checked once
// (sizes, null pointers, NaN/Inf), then CpuDeerCell on the CPU or the CUDA cells of
// src/cuda/deer_cells.cu.

#include <dynx/deer.hpp>
#include <dynx/deer_cell.hpp>
#include <dynx/error.hpp>

#include "deer/cells.hpp"
#include "deer/check.hpp"

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

template <class T, class Cell>
std::unique_ptr<DeerCell<T>> bind(Context& ctx, const Cell& cell, const char* name) {
  if (ctx.device().is_cpu()) return std::make_unique<CpuDeerCell<T, Cell>>(cell, name);
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
