#pragma once
// Built-in systems as a source of step Jacobians (include/dynx/math/dynamical_systems.hpp),
// integrated on the host in float64: shared by system_jacobians, lyapunov_spectrum_of_system
// (which streams blocks of Jacobians) and the CLI.

#include <dynx/batch.hpp>
#include <dynx/lyapunov.hpp>

#include <cstdint>
#include <memory>

namespace dynx::detail {

class SystemIntegrator {
 public:
  /// Checks the system and run options (InvalidArgument naming the bad one) and discards
  /// run.transient steps of the trajectory.
  SystemIntegrator(const SystemSpec& system, const SystemRunOptions& run);
  ~SystemIntegrator();
  SystemIntegrator(const SystemIntegrator&) = delete;
  SystemIntegrator& operator=(const SystemIntegrator&) = delete;

  std::int64_t dim() const noexcept;
  /// True for flows (Jacobians of a dt step), false for maps (dt = 1).
  bool is_flow() const noexcept;
  /// Writes the next jac.count step Jacobians (host memory, d × d) and advances the state.
  /// Throws NumericalError if the trajectory leaves the float range (a divergent orbit).
  void next(MatrixBatch<double> jac);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dynx::detail
