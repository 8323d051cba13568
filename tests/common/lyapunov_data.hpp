#pragma once
// Step Jacobians of the built-in systems for the Lyapunov tests (host and CUDA): packed
// column-major d × d float64 matrices from dynx::system_jacobians.

#include <dynx/lyapunov.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace dynx::test {

struct Jacobians {
  std::int64_t d = 0, steps = 0;
  double dt = 1;  ///< time per step (1 for maps)
  std::vector<double> j;
  MatrixBatch<const double> view() const { return MatrixBatch<const double>(j.data(), d, d, steps); }
};

/// `steps` step Jacobians of system `name` after `transient` discarded steps (flows: RK4 of step
/// dt with the exact step Jacobian, or the Euler tangent).
inline Jacobians system_jacs(const std::string& name, double dt, std::int64_t steps,
                             std::int64_t transient, TangentKind tangent = TangentKind::rk4_exact) {
  SystemSpec s;
  s.name = name;
  const std::int64_t d = system_dimension(s);
  SystemRunOptions run;
  run.dt = dt;
  run.steps = steps;
  run.transient = transient;
  run.tangent = tangent;
  Jacobians out{d, steps, name == "henon" || name == "tanh-rnn" ? 1.0 : dt,
                std::vector<double>(std::size_t(d * d * steps))};
  system_jacobians(s, run, MatrixBatch<double>(out.j.data(), d, d, steps));
  return out;
}

}  // namespace dynx::test
