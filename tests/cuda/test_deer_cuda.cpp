// DEER on the CUDA backend against the CPU backend (include/dynx/deer.hpp): the sequential
// evaluator (fused kernels of the built-in cells) and every parallel solver on contracting cells
// (both must reach the sequential trajectory: float64 ≤ 1e-10, float32 ≤ 1e-5 relative), the
// fallback on a chaotic cell, the automatic choice, and bad input on the device.

#include "cuda/cuda_common.hpp"

#include "common/deer_data.hpp"

#include <dynx/deer.hpp>

#include <cmath>
#include <cstdio>
#include <memory>
#include <vector>

namespace dynx::test {
namespace {

using DeerCuda = CudaTest;

// One problem with host data and a device copy of weights, inputs and initial states.
template <class T>
struct DeviceCase {
  NetWeights<T> w;
  std::int64_t batch, steps;
  int d, m;
  std::vector<T> u, s0;
  std::unique_ptr<DeerCell<T>> cpu_cell, gpu_cell;
  Buffer<T> dw, du, ds0;

  DeviceCase(Context& cpu, Context& gpu, CellKind kind, int n, int m_in, double g, std::int64_t b,
             std::int64_t t, std::uint64_t seed)
      : w(make_weights<T>(kind, n, m_in, g, seed)), batch(b), steps(t) {
    d = w.state_dim();
    m = w.m;
    u = make_inputs<T>(kind, b, t, m, seed + 1);
    s0 = make_s0<T>(b, d, seed + 2, 0.5);
    dw = to_device(gpu, w.data.data(), w.data.size());
    du = to_device(gpu, u.data(), u.size());
    ds0 = to_device(gpu, s0.data(), s0.size());
    cpu_cell = bind(cpu, w.data.data());
    gpu_cell = bind(gpu, dw.data());
  }
  std::unique_ptr<DeerCell<T>> bind(Context& ctx, const T* base) const {
    switch (w.kind) {
      case CellKind::tanh_rnn: return make_deer_cell<T>(ctx, w.tanh_rnn(base));
      case CellKind::mean_field_rnn: return make_deer_cell<T>(ctx, w.mean_field_rnn(base));
      case CellKind::gru: return make_deer_cell<T>(ctx, w.gru(base));
      case CellKind::lstm: return make_deer_cell<T>(ctx, w.lstm(base));
    }
    return nullptr;
  }
  std::vector<T> cpu_sequential(Context& cpu) const {
    std::vector<T> s(std::size_t(batch * steps * d));
    deer_sequential<T>(cpu, *cpu_cell, {s0.data(), d, 1, batch}, {u.data(), m, steps, batch},
                       {s.data(), d, steps, batch});
    return s;
  }
  // Runs on the GPU and returns the states on the host.
  std::vector<T> gpu_run(Context& gpu, const DeerOptions* o, DeerResult* r = nullptr) const {
    Buffer<T> s(std::size_t(batch * steps * d), gpu.device());
    const MatrixBatch<const T> s0v(ds0.data(), d, 1, batch, gpu.device());
    const MatrixBatch<const T> uv(du.data(), m, steps, batch, gpu.device());
    if (o) {
      const DeerResult res = deer_evaluate<T>(gpu, *gpu_cell, s0v, uv, s.matrices(d, steps, batch), *o);
      if (r) *r = res;
    } else {
      deer_sequential<T>(gpu, *gpu_cell, s0v, uv, s.matrices(d, steps, batch));
    }
    return to_host(gpu, s);
  }
};

template <class T>
double rel_diff(const std::vector<T>& a, const std::vector<T>& b) {
  double w = 0, scale = 1e-300;
  for (std::size_t i = 0; i < a.size(); ++i) {
    w = std::max(w, std::fabs(double(a[i]) - double(b[i])));
    scale = std::max(scale, std::fabs(double(b[i])));
  }
  return w / scale;
}

template <class T>
void check_cells(Context& cpu, Context& gpu, double tol) {
  for (CellKind kind : {CellKind::tanh_rnn, CellKind::mean_field_rnn, CellKind::gru, CellKind::lstm}) {
    const DeviceCase<T> c(cpu, gpu, kind, 6, 3, kind == CellKind::gru ? 0.9 : 0.5, 3, 300, 21);
    const std::vector<T> ref = c.cpu_sequential(cpu);
    // The fused sequential kernel: same math as the CPU cell, rounding apart.
    EXPECT_LE(rel_diff(c.gpu_run(gpu, nullptr), ref), sizeof(T) == 8 ? 1e-13 : 1e-5) << cell_name(kind);
    for (DeerMethod method : {DeerMethod::deer, DeerMethod::quasi_deer, DeerMethod::block_deer,
                              DeerMethod::elk, DeerMethod::quasi_elk, DeerMethod::automatic}) {
      DeerOptions o;
      o.method = method;
      o.atol = o.rtol = tol / 2;
      DeerResult r;
      const std::vector<T> s = c.gpu_run(gpu, &o, &r);
      EXPECT_LE(rel_diff(s, ref), tol) << cell_name(kind) << " " << to_string(method) << " " << r.reason;
      for (DeerStatus st : r.status) EXPECT_NE(st, DeerStatus::not_converged);
      std::printf("%-15s %-10s: %s, %ld iterations\n", cell_name(kind), to_string(method),
                  to_string(r.status[0]), long(r.iterations[0]));
    }
  }
}

TEST_F(DeerCuda, EverySolverMatchesCpuSequentialFloat64) { check_cells<double>(cpu(), gpu(), 1e-10); }
TEST_F(DeerCuda, EverySolverMatchesCpuSequentialFloat32) { check_cells<float>(cpu(), gpu(), 1e-5); }

// A long contracting GRU (the regime where the GPU's parallel path should win): DEER and quasi
// converge in a handful of iterations to the CPU's sequential trajectory.
TEST_F(DeerCuda, LongContractingGru) {
  const DeviceCase<double> c(cpu(), gpu(), CellKind::gru, 16, 16, 1.0, 2, 100000, 5);
  const std::vector<double> ref = c.cpu_sequential(cpu());
  for (DeerMethod method : {DeerMethod::deer, DeerMethod::quasi_deer}) {
    DeerOptions o;
    o.method = method;
    DeerResult r;
    const std::vector<double> s = c.gpu_run(gpu(), &o, &r);
    EXPECT_LE(rel_diff(s, ref), 1e-9) << to_string(method);
    EXPECT_EQ(r.status[0], DeerStatus::converged) << r.reason;
    EXPECT_LE(r.iterations[0], method == DeerMethod::deer ? 8 : 40);
  }
}

// A chaotic cell: explicit DEER falls back from its prefix; automatic goes sequential.
TEST_F(DeerCuda, ChaoticCellFallsBack) {
  const DeviceCase<double> c(cpu(), gpu(), CellKind::mean_field_rnn, 16, 0, 2.0, 1, 2000, 7);
  DeerOptions o;
  o.method = DeerMethod::deer;
  o.max_iter = 30;
  DeerResult r;
  c.gpu_run(gpu(), &o, &r);
  EXPECT_EQ(r.status[0], DeerStatus::fell_back) << r.reason;
  EXPECT_LE(r.residual[0], 1e-9);
  o = DeerOptions{};
  o.probe_steps = 500;
  c.gpu_run(gpu(), &o, &r);
  EXPECT_EQ(r.method, DeerMethod::sequential) << r.reason;
  EXPECT_GT(r.lle, 0.0);
}

TEST_F(DeerCuda, BadInputOnTheDevice) {
  DeviceCase<double> c(cpu(), gpu(), CellKind::tanh_rnn, 4, 2, 0.5, 1, 10, 3);
  c.u[3] = std::nan("");
  Buffer<double> bad = to_device(gpu(), c.u.data(), c.u.size()), s(std::size_t(40), gpu().device());
  DeerOptions o;
  o.method = DeerMethod::deer;
  EXPECT_THROW(deer_evaluate<double>(gpu(), *c.gpu_cell, {c.ds0.data(), 4, 1, 1, gpu().device()},
                                     {bad.data(), 2, 10, 1, gpu().device()}, s.matrices(4, 10, 1), o),
               InvalidArgument);
  // A CPU cell on a CUDA context.
  EXPECT_THROW(deer_evaluate<double>(gpu(), *c.cpu_cell, {c.ds0.data(), 4, 1, 1, gpu().device()},
                                     {c.du.data(), 2, 10, 1, gpu().device()}, s.matrices(4, 10, 1), o),
               InvalidArgument);
}

}  // namespace
}  // namespace dynx::test
