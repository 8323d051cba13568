#pragma once
// DEER's outer loop on the host (spec deer.md §3): Newton (full Jacobians) or quasi-Newton
// (diagonal Jacobians) iterations whose linearised recurrence
//     s⁺_t = f(s_{t−1}) + A_t (s⁺_{t−1} − s_{t−1}),   s⁺_0 = s_0,
// is solved by the affine-recurrence scan of include/dynx/goom.hpp, and the sequential evaluator
// it is checked against. Any cell of include/dynx/math/cells.hpp (or a user cell with the same
// interface) works. This is the solver core that the public DEER API (issue 6) builds on; it runs
// on a CPU context, one sequence at a time.

#include <dynx/goom.hpp>
#include <dynx/math/cells.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace dynx::deer {

struct NewtonOptions {
  bool quasi = false;        ///< diagonal Jacobians (quasi-DEER) instead of dense ones
  std::int64_t max_iter = 100;
  double tol = 1e-10;        ///< stop when max_t ‖s_t − f(s_{t−1})‖_∞ ≤ tol
  double clip = 1e8;         ///< states clipped to [−clip, clip], NaN → 0 (spec §3.5)
};

struct NewtonResult {
  std::int64_t iterations = 0;  ///< Newton updates made
  double residual = 0;          ///< max_t ‖s_t − f(s_{t−1})‖_∞ of the returned trajectory
  std::int64_t converged_prefix = 0;  ///< states 1 … t_conv have residual ≤ tol (spec §3.4)
  bool converged = false;
};

/// s_t = f(s_{t−1}, u_t), t = 1 … steps, sequentially: states[t−1] (D entries each) from s0 and
/// inputs u (steps × input_dim, row t−1 for step t; may be null when input_dim is 0).
template <class T, class Cell>
void sequential(const Cell& cell, const T* s0, const T* u, std::int64_t steps, T* states) {
  const std::int64_t d = cell.state_dim(), m = cell.input_dim();
  std::vector<T> work(std::size_t(std::max(1, cell.work_size())));
  const T* prev = s0;
  for (std::int64_t t = 0; t < steps; ++t) {
    cell.step(prev, u ? u + t * m : nullptr, states + t * d, work.data());
    prev = states + t * d;
  }
}

/// DEER iterations from the initial guess in `states` (steps × D, overwritten by the solution).
template <class T, class Cell>
NewtonResult newton(Context& ctx, const Cell& cell, const T* s0, const T* u, std::int64_t steps,
                    T* states, const NewtonOptions& o) {
  const std::int64_t d = cell.state_dim(), m = cell.input_dim();
  const std::int64_t acols = o.quasi ? 1 : d;
  std::vector<T> a(std::size_t(steps * d * acols)), b(std::size_t(steps * d)), fv(std::size_t(steps * d)),
      next(std::size_t(steps * d)), work(std::size_t(std::max(1, cell.work_size())));
  NewtonResult res;
  for (std::int64_t it = 0;; ++it) {
    // Cell values and Jacobians at the shifted trajectory S_prev = (s_0, s_1, …, s_{T−1}).
    double worst = 0;
    res.converged_prefix = steps;
    for (std::int64_t t = 0; t < steps; ++t) {
      const T* prev = t == 0 ? s0 : states + (t - 1) * d;
      const T* ut = u ? u + t * m : nullptr;
      T* at = a.data() + t * d * acols;
      T* f = fv.data() + t * d;
      if (o.quasi) {
        cell.step(prev, ut, f, work.data());
        cell.jacobian_diagonal(prev, ut, at, work.data());
      } else {
        cell.step_and_jacobian(prev, ut, f, at, work.data());
      }
      double r = 0;
      for (std::int64_t i = 0; i < d; ++i) r = std::max(r, std::fabs(double(states[t * d + i] - f[i])));
      if (!(r <= o.tol) && res.converged_prefix == steps) res.converged_prefix = t;
      worst = std::isnan(r) ? HUGE_VAL : std::max(worst, r);
      // b_t = f(s_{t−1}) − A_t s_{t−1}
      for (std::int64_t i = 0; i < d; ++i) {
        T v = f[i];
        if (o.quasi) {
          v -= at[i] * prev[i];
        } else {
          for (std::int64_t j = 0; j < d; ++j) v -= at[j * d + i] * prev[j];
        }
        b[std::size_t(t * d + i)] = v;
      }
    }
    res.residual = worst;
    if (worst <= o.tol) {
      res.converged = true;
      return res;
    }
    if (it == o.max_iter) return res;
    BatchStatus st;
    affine_recurrence_scan<T>(ctx, MatrixBatch<const T>(a.data(), d, acols, steps),
                              MatrixBatch<const T>(b.data(), d, 1, steps),
                              MatrixBatch<const T>(s0, d, 1, 1), steps,
                              MatrixBatch<T>(next.data(), d, 1, steps), &st);
    // A scan whose states overflowed returns NaN everywhere. Keep the converged prefix (final,
    // spec §3.4), take the next state exactly as the update would (s⁺_t = f(s_{t−1}) there,
    // since s_{t−1} is converged), and restart the rest from 0 as NaN states are (spec §3.5).
    std::size_t keep = 0;
    if (!st.all_ok()) {
      const std::int64_t t = res.converged_prefix;
      std::copy(fv.begin() + t * d, fv.begin() + (t + 1) * d, states + t * d);
      keep = std::size_t((t + 1) * d);
      std::fill(next.begin() + std::ptrdiff_t(keep), next.end(), T(0));
    }
    for (std::size_t i = keep; i < next.size(); ++i) {
      T v = next[i];
      if (std::isnan(v)) v = T(0);
      states[i] = std::clamp(v, T(-o.clip), T(o.clip));
    }
    res.iterations = it + 1;
  }
}

}  // namespace dynx::deer
