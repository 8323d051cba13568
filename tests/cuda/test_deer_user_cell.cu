// A user's own DEER cell, compiled by nvcc as a user would: a small cell type with DYNX_HD members
// bound to CUDA through CudaDeerCell (<dynx/cuda/deer_cell.cuh>) and to the CPU through
// CpuDeerCell (<dynx/deer_cell.hpp>), the two compared on the same data: linearize in every
// Jacobian form (none, dense, diagonal, block 1 × 1 and 2 × 2) over a window with first > 0 and a
// slot map that permutes and omits sequences, with the default workspace limit (one thread per
// point) and with a limit of one thread's scratch (one thread loops over every point, reusing its
// work area and dense scratch); sequential from mixed starts, likewise. Float and double. The cell
// is also checked against central differences on the host, so that its Jacobian is known exact.
// Skipped without a CUDA device (except the checks that need none).
//
// Tolerances: the backends differ by CUDA's tanh/cosh against glibc's and by fused multiply-adds:
// 1e-12 (double) and 1e-5 (float) relative to max(1, |value|).

#include "cuda/cuda_common.hpp"

#include <dynx/cuda/deer_cell.cuh>
#include <dynx/deer.hpp>
#include <dynx/deer_cell.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

namespace dynx::test {
namespace {

/// A damped rotation of squashed states, driven by a scalar input:
///   f(s, u) = ρ R(θ) tanh(s) + b u,   R(θ) = [cos θ  −sin θ; sin θ  cos θ],
///   J = ρ R(θ) diag(sech²(s)),  J_ii = ρ cos θ sech²(s_i).
/// work_size() = 2: tanh(s) in step, sech²(s) in the Jacobians (so that the work area is used).
template <class T>
struct DampedRotationCell {
  T rho = T(0.9);
  T c = T(1), s = T(0);  ///< cos θ, sin θ
  T b0 = T(0.5), b1 = T(-0.25);

  DYNX_HD int state_dim() const { return 2; }
  DYNX_HD int input_dim() const { return 1; }
  DYNX_HD int work_size() const { return 2; }

  DYNX_HD void step(const T* x, const T* u, T* x_next, T* work) const {
    work[0] = std::tanh(x[0]);
    work[1] = std::tanh(x[1]);
    x_next[0] = rho * (c * work[0] - s * work[1]) + b0 * u[0];
    x_next[1] = rho * (s * work[0] + c * work[1]) + b1 * u[0];
  }
  DYNX_HD void jacobian(const T* x, const T*, T* J, T* work) const {
    sech2(x, work);
    J[0] = rho * c * work[0];   // ∂f_0/∂x_0
    J[1] = rho * s * work[0];   // ∂f_1/∂x_0
    J[2] = -rho * s * work[1];  // ∂f_0/∂x_1
    J[3] = rho * c * work[1];   // ∂f_1/∂x_1
  }
  DYNX_HD void jacobian_diagonal(const T* x, const T*, T* diag, T* work) const {
    sech2(x, work);
    diag[0] = rho * c * work[0];
    diag[1] = rho * c * work[1];
  }
  DYNX_HD void step_and_jacobian(const T* x, const T* u, T* x_next, T* J, T* work) const {
    step(x, u, x_next, work);
    jacobian(x, u, J, work);
  }

 private:
  DYNX_HD static void sech2(const T* x, T* out) {
    for (int i = 0; i < 2; ++i) {
      const T ch = std::cosh(x[i]);
      out[i] = T(1) / (ch * ch);
    }
  }
};

template <class T>
DampedRotationCell<T> make_cell(double theta) {
  DampedRotationCell<T> cell;
  cell.c = T(std::cos(theta));
  cell.s = T(std::sin(theta));
  return cell;
}

template <class T>
constexpr double tol() {
  return std::is_same_v<T, double> ? 1e-12 : 1e-5;
}

template <class T>
double max_rel_diff(const std::vector<T>& got, const std::vector<T>& want) {
  if (got.size() != want.size()) return INFINITY;
  double e = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double g = got[i], w = want[i];
    if (std::isnan(g) != std::isnan(w)) return INFINITY;
    if (!std::isnan(g)) e = std::max(e, std::fabs(g - w) / std::max(1.0, std::fabs(w)));
  }
  return e;
}

template <class T>
std::vector<T> uniform(std::size_t n, double lo, double hi, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> g(lo, hi);
  std::vector<T> v(n);
  for (auto& x : v) x = T(g(rng));
  return v;
}

/// B sequences of T steps of the 2-state, 1-input cell; host data and device copies.
template <class T>
struct Data {
  static constexpr std::int64_t kBatch = 4, kSteps = 64, kD = 2;
  std::vector<T> s0 = uniform<T>(kBatch * kD, -1, 1, 1);
  std::vector<T> u = uniform<T>(kBatch * kSteps, -1, 1, 2);
  std::vector<T> states = uniform<T>(kBatch * kSteps * kD, -1, 1, 3);
};

template <class T>
class DeerUserCell : public CudaTest {};
TYPED_TEST_SUITE(DeerUserCell, RealTypes);

TYPED_TEST(DeerUserCell, LinearizeMatchesCpu) {
  using T = TypeParam;
  using Cell = DampedRotationCell<T>;
  Context& gpu = this->gpu();
  const Cell cell = make_cell<T>(0.7);
  const CpuDeerCell<T, Cell> on_cpu(cell, "damped_rotation");
  CudaDeerCell<T, Cell> on_gpu(cell, gpu.device(), "damped_rotation");
  EXPECT_STREQ(on_gpu.name(), "damped_rotation");
  EXPECT_EQ(on_gpu.state_dim(), 2);
  EXPECT_EQ(on_gpu.input_dim(), 1);
  EXPECT_EQ(on_gpu.device(), gpu.device());

  const Data<T> h;
  const std::int64_t d = Data<T>::kD;
  Buffer<T> d_s0 = to_device(gpu, h.s0.data(), h.s0.size());
  Buffer<T> d_u = to_device(gpu, h.u.data(), h.u.size());
  Buffer<T> d_states = to_device(gpu, h.states.data(), h.states.size());

  struct Window {
    std::int64_t first, steps;
    std::vector<std::int64_t> seq;
  };
  const Window windows[] = {{5, Data<T>::kSteps - 12, {3, 0, 2}}, {0, Data<T>::kSteps, {0, 1, 2, 3}}};
  const std::pair<JacobianForm, int> forms[] = {{JacobianForm::none, 0},
                                                {JacobianForm::dense, 0},
                                                {JacobianForm::diagonal, 0},
                                                {JacobianForm::block, 1},
                                                {JacobianForm::block, 2}};
  for (std::size_t limit : {std::size_t(256) << 20, std::size_t(1)}) {
    on_gpu.set_workspace_limit(limit);
    for (const Window& w : windows)
      for (auto [form, block] : forms) {
        SCOPED_TRACE("form " + std::to_string(int(form)) + ", block " + std::to_string(block) +
                     ", first " + std::to_string(w.first) + ", workspace limit " +
                     std::to_string(limit));
        const std::int64_t points = std::int64_t(w.seq.size()) * w.steps;
        const std::int64_t jn = form == JacobianForm::dense      ? points * d * d
                                : form == JacobianForm::diagonal ? points * d
                                : form == JacobianForm::block    ? points * d * block
                                                                 : 0;
        DeerLinearizeArgs<T> a;
        a.total = Data<T>::kSteps;
        a.first = w.first;
        a.steps = w.steps;
        a.count = std::int64_t(w.seq.size());
        a.form = form;
        a.block = block;

        std::vector<T> f_cpu(std::size_t(points * d)), jac_cpu(std::size_t(std::max<std::int64_t>(jn, 1)));
        a.s0 = h.s0.data();
        a.states = h.states.data();
        a.u = h.u.data();
        a.seq = w.seq.data();
        a.f = f_cpu.data();
        a.jac = jn ? jac_cpu.data() : nullptr;
        on_cpu.linearize(this->cpu(), a);

        Buffer<std::int64_t> d_seq = to_device(gpu, w.seq.data(), w.seq.size());
        const std::vector<T> nan_f(f_cpu.size(), nan_value<T>()), nan_jac(jac_cpu.size(), nan_value<T>());
        Buffer<T> d_f = to_device(gpu, nan_f.data(), nan_f.size());
        Buffer<T> d_jac = to_device(gpu, nan_jac.data(), nan_jac.size());
        a.s0 = d_s0.data();
        a.states = d_states.data();
        a.u = d_u.data();
        a.seq = d_seq.data();
        a.f = d_f.data();
        a.jac = jn ? d_jac.data() : nullptr;
        on_gpu.linearize(gpu, a);
        EXPECT_LE(max_rel_diff(to_host(gpu, d_f), f_cpu), tol<T>());
        if (jn) EXPECT_LE(max_rel_diff(to_host(gpu, d_jac), jac_cpu), tol<T>());
      }
  }
}

TYPED_TEST(DeerUserCell, SequentialMatchesCpu) {
  using T = TypeParam;
  using Cell = DampedRotationCell<T>;
  Context& gpu = this->gpu();
  const Cell cell = make_cell<T>(-1.3);
  const CpuDeerCell<T, Cell> on_cpu(cell, "damped_rotation");
  CudaDeerCell<T, Cell> on_gpu(cell, gpu.device(), "damped_rotation");
  const Data<T> h;
  const std::int64_t total = Data<T>::kSteps;
  // From s0, from a later column, from the last column, nothing to do; sequence 1 left out.
  const std::vector<std::int64_t> seq = {3, 0, 2, 1}, start = {0, 23, total - 1, total};
  const std::vector<std::int64_t> seq_omit = {2, 0, 3}, start_omit = {7, 0, 40};
  for (std::size_t limit : {std::size_t(256) << 20, std::size_t(1)})
    for (int pass = 0; pass < 2; ++pass) {
      const std::vector<std::int64_t>& sq = pass ? seq_omit : seq;
      const std::vector<std::int64_t>& st = pass ? start_omit : start;
      SCOPED_TRACE("pass " + std::to_string(pass) + ", workspace limit " + std::to_string(limit));
      on_gpu.set_workspace_limit(limit);
      DeerSequentialArgs<T> a;
      a.total = total;
      a.end = total;
      a.count = std::int64_t(sq.size());
      std::vector<T> states_cpu = h.states;
      a.s0 = h.s0.data();
      a.u = h.u.data();
      a.states = states_cpu.data();
      a.seq = sq.data();
      a.start = st.data();
      on_cpu.sequential(this->cpu(), a);

      Buffer<T> d_s0 = to_device(gpu, h.s0.data(), h.s0.size());
      Buffer<T> d_u = to_device(gpu, h.u.data(), h.u.size());
      Buffer<T> d_states = to_device(gpu, h.states.data(), h.states.size());
      Buffer<std::int64_t> d_seq = to_device(gpu, sq.data(), sq.size());
      Buffer<std::int64_t> d_start = to_device(gpu, st.data(), st.size());
      a.s0 = d_s0.data();
      a.u = d_u.data();
      a.states = d_states.data();
      a.seq = d_seq.data();
      a.start = d_start.data();
      on_gpu.sequential(gpu, a);
      const std::vector<T> states_gpu = to_host(gpu, d_states);
      EXPECT_LE(max_rel_diff(states_gpu, states_cpu), tol<T>());
      if (pass == 1) {  // sequence 1 untouched
        const std::size_t len = std::size_t(total * Data<T>::kD);
        EXPECT_TRUE(std::equal(states_gpu.begin() + len, states_gpu.begin() + 2 * len,
                               h.states.begin() + len));
      }
    }
}

TYPED_TEST(DeerUserCell, ContextOnAnotherDeviceIsRejected) {
  using T = TypeParam;
  using Cell = DampedRotationCell<T>;
  CudaDeerCell<T, Cell> on_gpu(make_cell<T>(0.3), this->gpu().device(), "damped_rotation");
  DeerSequentialArgs<T> a;
  EXPECT_THROW(on_gpu.sequential(this->cpu(), a), InvalidArgument);
  DeerLinearizeArgs<T> l;
  EXPECT_THROW(on_gpu.linearize(this->cpu(), l), InvalidArgument);
}

// Checks that need no device.

TEST(DeerUserCellHost, JacobianMatchesCentralDifferences) {
  const DampedRotationCell<double> cell = make_cell<double>(0.7);
  const double x[2] = {0.3, -1.1}, u[1] = {0.4}, h = 1e-6;
  double J[4], diag[2], w[2];
  cell.jacobian(x, u, J, w);
  cell.jacobian_diagonal(x, u, diag, w);
  for (int j = 0; j < 2; ++j) {
    double xp[2] = {x[0], x[1]}, xm[2] = {x[0], x[1]}, fp[2], fm[2];
    xp[j] += h;
    xm[j] -= h;
    cell.step(xp, u, fp, w);
    cell.step(xm, u, fm, w);
    // Central differences: O(h²) truncation plus O(eps / h) rounding, c = 1e-8 for both.
    for (int i = 0; i < 2; ++i) EXPECT_NEAR(J[j * 2 + i], (fp[i] - fm[i]) / (2 * h), 1e-8);
  }
  EXPECT_EQ(diag[0], J[0]);
  EXPECT_EQ(diag[1], J[3]);
}

TEST(DeerUserCellHost, NonCudaDeviceIsRejected) {
  using Cell = DampedRotationCell<double>;
  EXPECT_THROW((CudaDeerCell<double, Cell>(make_cell<double>(0.1), Device::cpu())), InvalidArgument);
}

}  // namespace
}  // namespace dynx::test
