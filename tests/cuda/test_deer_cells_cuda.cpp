// The built-in DEER cells (make_deer_cell, include/dynx/deer.hpp) on CUDA against the same cells on
// the CPU: DeerCell::linearize for every Jacobian form (none, dense, diagonal, block with m = 1, 2
// where D is even, and D) over a window with first > 0 and a slot → sequence map that permutes and
// omits sequences, and DeerCell::sequential (the fused kernels of src/cuda/deer_cells.cu) with a
// start vector mixing 0, > 0 and total (nothing to do), checking that the columns before start and
// the sequences not listed are left as they were. Small cells (D 6–8, D_in 3, batch 3, T = 50),
// plus wide cells whose recurrent weights do not fit shared memory and whose units exceed one
// thread each. Public API only; skipped without a CUDA device.
//
// Both backends evaluate the same formulas of math/cells.hpp in the same summation order; they
// differ by CUDA's tanh/exp against glibc's (an ulp or so) and nvcc's fused multiply-adds, so the
// small cells are held to 1e-12 (double) and 1e-5 (float) relative to max(1, |value|), and the wide
// cells, whose dot products have D terms, to c · D · eps.

#include "common/deer_data.hpp"
#include "cuda/cuda_common.hpp"

#include <dynx/deer.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

namespace dynx::test {
namespace {

template <class T>
class DeerCellsCuda : public CudaTest {};
TYPED_TEST_SUITE(DeerCellsCuda, RealTypes);

template <class T>
constexpr double small_tol() {
  return std::is_same_v<T, double> ? 1e-12 : 1e-5;
}

/// max_i |got_i − want_i| / max(1, |want_i|); infinity when only one of them is NaN or the sizes
/// differ.
template <class T>
double max_rel_diff(const std::vector<T>& got, const std::vector<T>& want) {
  if (got.size() != want.size()) return INFINITY;
  double e = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double g = got[i], w = want[i];
    if (std::isnan(g) || std::isnan(w)) {
      if (std::isnan(g) != std::isnan(w)) return INFINITY;
      continue;
    }
    e = std::max(e, std::fabs(g - w) / std::max(1.0, std::fabs(w)));
  }
  return e;
}

struct CellCase {
  CellKind kind;
  int n;  ///< hidden size (the LSTM state has 2n entries)
  int m;  ///< input size (the mean-field RNN's is n)
};

/// One built-in cell on both backends, from the same seeded weights.
template <class T>
struct BoundCell {
  NetWeights<T> w;
  Buffer<T> d_weights;
  std::unique_ptr<DeerCell<T>> cpu, gpu;
  int d() const { return w.state_dim(); }
  int m() const { return w.m; }
};

template <class T>
BoundCell<T> bind_cell(Context& cpu, Context& gpu, const CellCase& c, std::uint64_t seed) {
  BoundCell<T> b;
  b.w = make_weights<T>(c.kind, c.n, c.m, /*g=*/0.8, seed);
  // deer_data's GRU and LSTM biases are (mostly) zero: give every bias a value so that each
  // weight the cells read takes part in the comparison.
  std::mt19937_64 rng(seed + 1000);
  std::normal_distribution<double> g(0.0, 0.2);
  const std::size_t first_bias = c.kind == CellKind::gru ? 6 : c.kind == CellKind::lstm ? 8 : 2;
  if (c.kind != CellKind::mean_field_rnn)
    for (std::size_t k = first_bias; k < b.w.off.size(); ++k)
      for (int i = 0; i < c.n; ++i) b.w.data[b.w.off[k] + std::size_t(i)] += T(g(rng));
  b.d_weights = to_device(gpu, b.w.data.data(), b.w.data.size());
  const T* h = b.w.data.data();
  const T* dv = b.d_weights.data();
  switch (c.kind) {
    case CellKind::tanh_rnn:
      b.cpu = make_deer_cell<T>(cpu, b.w.tanh_rnn(h));
      b.gpu = make_deer_cell<T>(gpu, b.w.tanh_rnn(dv));
      break;
    case CellKind::mean_field_rnn:
      b.cpu = make_deer_cell<T>(cpu, b.w.mean_field_rnn(h));
      b.gpu = make_deer_cell<T>(gpu, b.w.mean_field_rnn(dv));
      break;
    case CellKind::gru:
      b.cpu = make_deer_cell<T>(cpu, b.w.gru(h));
      b.gpu = make_deer_cell<T>(gpu, b.w.gru(dv));
      break;
    case CellKind::lstm:
      b.cpu = make_deer_cell<T>(cpu, b.w.lstm(h));
      b.gpu = make_deer_cell<T>(gpu, b.w.lstm(dv));
      break;
  }
  return b;
}

/// B sequences of T steps: s0 (B × D), inputs (B × T × D_in), and a current iterate of the states
/// (B × T × D, uniform in ±1) at which the cells are linearised, or which sequential overwrites
/// from each slot's start on.
template <class T>
struct SequenceData {
  std::int64_t batch = 0, total = 0;
  std::vector<T> s0, u, states;
};

template <class T>
SequenceData<T> make_data(const BoundCell<T>& b, std::int64_t batch, std::int64_t total,
                          std::uint64_t seed) {
  SequenceData<T> s;
  s.batch = batch;
  s.total = total;
  s.s0 = make_s0<T>(batch, b.d(), seed);
  s.u = make_inputs<T>(b.w.kind, batch, total, b.m(), seed + 1);
  s.states = make_s0<T>(batch * total, b.d(), seed + 2);
  return s;
}

/// Host null pointer for an empty vector (the cells' u when D_in = 0).
template <class T>
const T* host_ptr(const std::vector<T>& v) {
  return v.empty() ? nullptr : v.data();
}

template <class T>
Buffer<T> upload(Context& gpu, const std::vector<T>& v) {
  return v.empty() ? Buffer<T>() : to_device(gpu, v.data(), v.size());
}

/// f and A_t from both backends for one window and form; returns {error of f, error of jac}.
template <class T>
std::pair<double, double> compare_linearize(Context& cpu, Context& gpu, const BoundCell<T>& b,
                                            const SequenceData<T>& s, std::int64_t first,
                                            std::int64_t steps, const std::vector<std::int64_t>& seq,
                                            JacobianForm form, int block) {
  const std::int64_t d = b.d(), count = std::int64_t(seq.size()), points = count * steps;
  const std::int64_t jac_size = form == JacobianForm::dense      ? points * d * d
                                : form == JacobianForm::diagonal ? points * d
                                : form == JacobianForm::block    ? points * d * block
                                                                 : 0;
  DeerLinearizeArgs<T> a;
  a.total = s.total;
  a.first = first;
  a.steps = steps;
  a.count = count;
  a.form = form;
  a.block = block;

  std::vector<T> f_cpu(static_cast<std::size_t>(points * d));
  std::vector<T> jac_cpu(static_cast<std::size_t>(jac_size));
  a.s0 = s.s0.data();
  a.states = s.states.data();
  a.u = host_ptr(s.u);
  a.seq = seq.data();
  a.f = f_cpu.data();
  a.jac = jac_size ? jac_cpu.data() : nullptr;
  b.cpu->linearize(cpu, a);

  Buffer<T> d_s0 = upload(gpu, s.s0), d_states = upload(gpu, s.states), d_u = upload(gpu, s.u);
  Buffer<std::int64_t> d_seq = upload(gpu, seq);
  Buffer<T> d_f(std::size_t(points * d), gpu.device()), d_jac(std::size_t(jac_size), gpu.device());
  // NaN-filled outputs: an entry the kernel fails to write shows up as a mismatch.
  std::vector<T> nan_f(d_f.size(), nan_value<T>()), nan_jac(d_jac.size(), nan_value<T>());
  copy_bytes(gpu, d_f.data(), gpu.device(), nan_f.data(), Device::cpu(), d_f.bytes());
  if (jac_size)
    copy_bytes(gpu, d_jac.data(), gpu.device(), nan_jac.data(), Device::cpu(), d_jac.bytes());
  a.s0 = d_s0.data();
  a.states = d_states.data();
  a.u = d_u.data();
  a.seq = d_seq.data();
  a.f = d_f.data();
  a.jac = jac_size ? d_jac.data() : nullptr;
  b.gpu->linearize(gpu, a);
  const std::vector<T> f_gpu = to_host(gpu, d_f);
  const std::vector<T> jac_gpu = jac_size ? to_host(gpu, d_jac) : std::vector<T>();
  return {max_rel_diff(f_gpu, f_cpu), max_rel_diff(jac_gpu, jac_cpu)};
}

/// The states after sequential on both backends (starting from the same iterate); returns the
/// error over all B sequences (listed or not).
template <class T>
double compare_sequential(Context& cpu, Context& gpu, const BoundCell<T>& b,
                          const SequenceData<T>& s, const std::vector<std::int64_t>& seq,
                          const std::vector<std::int64_t>& start) {
  DeerSequentialArgs<T> a;
  a.total = s.total;
  a.end = s.total;
  a.count = std::int64_t(seq.size());

  std::vector<T> states_cpu = s.states;
  a.s0 = s.s0.data();
  a.u = host_ptr(s.u);
  a.states = states_cpu.data();
  a.seq = seq.data();
  a.start = start.data();
  b.cpu->sequential(cpu, a);

  Buffer<T> d_s0 = upload(gpu, s.s0), d_states = upload(gpu, s.states), d_u = upload(gpu, s.u);
  Buffer<std::int64_t> d_seq = upload(gpu, seq), d_start = upload(gpu, start);
  a.s0 = d_s0.data();
  a.u = d_u.data();
  a.states = d_states.data();
  a.seq = d_seq.data();
  a.start = d_start.data();
  b.gpu->sequential(gpu, a);
  const std::vector<T> states_gpu = to_host(gpu, d_states);

  // Sequence 1 is not listed and the columns before each start are kept: on both backends those
  // entries still hold the initial iterate.
  if (std::find(seq.begin(), seq.end(), 1) == seq.end()) {
    const std::size_t len = std::size_t(s.total * b.d());
    EXPECT_TRUE(std::equal(states_gpu.begin() + len, states_gpu.begin() + 2 * len,
                           s.states.begin() + len))
        << "sequence 1 was not listed but changed";
  }
  return max_rel_diff(states_gpu, states_cpu);
}

const std::vector<CellCase> kSmallCells = {
    {CellKind::tanh_rnn, 6, 3},
    {CellKind::mean_field_rnn, 7, 7},
    {CellKind::gru, 8, 3},
    {CellKind::lstm, 3, 3},  // state 2n = 6
};

TYPED_TEST(DeerCellsCuda, LinearizeMatchesCpuForEveryForm) {
  using T = TypeParam;
  constexpr std::int64_t kBatch = 3, kSteps = 50;
  std::uint64_t seed = 11;
  for (const CellCase& c : kSmallCells) {
    const BoundCell<T> b = bind_cell<T>(this->cpu(), this->gpu(), c, seed++);
    SCOPED_TRACE(std::string(cell_name(c.kind)) + ", D = " + std::to_string(b.d()));
    EXPECT_EQ(b.gpu->device(), this->gpu().device());
    EXPECT_EQ(b.gpu->state_dim(), b.cpu->state_dim());
    EXPECT_EQ(b.gpu->input_dim(), b.cpu->input_dim());
    const SequenceData<T> s = make_data(b, kBatch, kSteps, seed++);
    std::vector<std::pair<JacobianForm, int>> forms = {{JacobianForm::none, 0},
                                                       {JacobianForm::dense, 0},
                                                       {JacobianForm::diagonal, 0},
                                                       {JacobianForm::block, 1},
                                                       {JacobianForm::block, b.d()}};
    if (b.d() % 2 == 0) forms.push_back({JacobianForm::block, 2});
    // A window inside the sequences (first > 0, ending before T) over slots that permute and omit
    // sequences, and the whole sequences (t = 0 reads s0) over all of them in order.
    struct Window {
      std::int64_t first, steps;
      std::vector<std::int64_t> seq;
    };
    const Window windows[] = {{4, kSteps - 9, {2, 0}}, {0, kSteps, {0, 1, 2}}};
    for (const Window& w : windows)
      for (auto [form, block] : forms) {
        SCOPED_TRACE("form " + std::to_string(int(form)) + ", block " + std::to_string(block) +
                     ", first " + std::to_string(w.first));
        const auto [ef, ej] =
            compare_linearize(this->cpu(), this->gpu(), b, s, w.first, w.steps, w.seq, form, block);
        EXPECT_LE(ef, small_tol<T>());
        EXPECT_LE(ej, small_tol<T>());
      }
  }
}

TYPED_TEST(DeerCellsCuda, SequentialMatchesCpuFromMixedStarts) {
  using T = TypeParam;
  constexpr std::int64_t kBatch = 3, kSteps = 50;
  std::uint64_t seed = 101;
  for (const CellCase& c : kSmallCells) {
    const BoundCell<T> b = bind_cell<T>(this->cpu(), this->gpu(), c, seed++);
    SCOPED_TRACE(std::string(cell_name(c.kind)) + ", D = " + std::to_string(b.d()));
    const SequenceData<T> s = make_data(b, kBatch, kSteps, seed++);
    // From s0, from a later column, from total (nothing to do); then sequence 1 left out.
    EXPECT_LE(compare_sequential(this->cpu(), this->gpu(), b, s, {2, 0, 1}, {0, 17, kSteps}),
              small_tol<T>());
    EXPECT_LE(compare_sequential(this->cpu(), this->gpu(), b, s, {2, 0}, {kSteps - 1, 0}),
              small_tol<T>());
  }
}

// Wide cells: the fused kernels read the recurrent weights from global memory (they do not fit the
// shared-memory budget), take several units per thread (more units than threads in a block) or
// stage the weights of a mid-size cell in float only.
TYPED_TEST(DeerCellsCuda, SequentialMatchesCpuForWideCells) {
  using T = TypeParam;
  constexpr std::int64_t kBatch = 3, kSteps = 20;
  const std::vector<CellCase> cases = {{CellKind::tanh_rnn, 100, 5},
                                       {CellKind::mean_field_rnn, 700, 700},
                                       {CellKind::gru, 600, 4},
                                       {CellKind::lstm, 530, 3}};
  std::uint64_t seed = 201;
  for (const CellCase& c : cases) {
    const BoundCell<T> b = bind_cell<T>(this->cpu(), this->gpu(), c, seed++);
    SCOPED_TRACE(std::string(cell_name(c.kind)) + ", D = " + std::to_string(b.d()));
    const SequenceData<T> s = make_data(b, kBatch, kSteps, seed++);
    // Dot products of n terms, rounded differently (fused multiply-adds on the GPU): c = 4.
    const double tol = 4.0 * c.n * eps<T>();
    EXPECT_LE(compare_sequential(this->cpu(), this->gpu(), b, s, {1, 2, 0}, {0, 9, 3}), tol);
  }
}

TYPED_TEST(DeerCellsCuda, ContextOnAnotherDeviceIsRejected) {
  using T = TypeParam;
  const BoundCell<T> b = bind_cell<T>(this->cpu(), this->gpu(), kSmallCells[0], 7);
  const SequenceData<T> s = make_data(b, 1, 4, 8);
  const std::vector<std::int64_t> seq = {0}, start = {0};
  std::vector<T> states = s.states;
  DeerSequentialArgs<T> a;
  a.s0 = s.s0.data();
  a.u = s.u.data();
  a.states = states.data();
  a.total = s.total;
  a.end = s.total;
  a.seq = seq.data();
  a.start = start.data();
  a.count = 1;
  EXPECT_THROW(b.gpu->sequential(this->cpu(), a), InvalidArgument);
  DeerLinearizeArgs<T> l;
  l.s0 = s.s0.data();
  l.states = states.data();
  l.u = s.u.data();
  l.total = s.total;
  l.steps = s.total;
  l.seq = seq.data();
  l.count = 1;
  std::vector<T> f(std::size_t(s.total * b.d()));
  l.f = f.data();
  EXPECT_THROW(b.gpu->linearize(this->cpu(), l), InvalidArgument);
}

}  // namespace
}  // namespace dynx::test
