#pragma once
/// \file math/dynamical_systems.hpp
/// Built-in dynamical systems for Lyapunov spectra (spec goom.md §5.1, validation cases §7.2), and
/// Runge–Kutta integrators that return the exact Jacobian of one numerical step.
///
/// Flows (continuous time, a vector field f): Lorenz63, Rossler, Lorenz96. Each provides
///   int dim() const;                             state dimension
///   void rhs(const T* x, T* dx) const;           dx = f(x)
///   void jacobian(const T* x, T* J) const;       J = Df(x), dim × dim column-major:
///                                                J[j * dim + i] = ∂f_i/∂x_j
///   T divergence(const T* x) const;              trace Df(x) (the phase-space contraction rate,
///                                                whose time average is the sum of the exponents)
/// Maps (discrete time): Henon, TanhRnn. Each provides dim(), step(x, xnext) and jacobian(x, J)
/// with J the derivative of step at x, same layout.
///
/// Integrators: rk4_step / rk4_step_tangent (classic RK4 and the exact derivative of the RK4 map,
/// obtained by running the variational equations through the same RK4 stages; spec §5.1), and
/// euler_step / euler_tangent (I + h Df, the reference's tangent, biased by O(h): kept for
/// comparison). The Jacobians are meant for deviation dynamics v_t = J_t v_{t-1} (spec §9.2).
///
/// Everything is DYNX_HD, plain C++17, allocation-free (callers pass scratch of a documented size)
/// and instantiable for T = float and double. Dimensions are small: the step Jacobian uses dense
/// O(dim^3) loops.

#include <dynx/math/hd.hpp>

#include <cmath>

namespace dynx::math {

// ------------------------------------------------------------------------------------------------
// Flows
// ------------------------------------------------------------------------------------------------

/// Lorenz (1963): x' = σ(y − x), y' = x(ρ − z) − y, z' = xy − βz. Chaotic at the classic
/// parameters, spectrum ≈ [0.906, 0, −14.572] (spec §7.2); constant divergence −(σ + 1 + β).
template <class T>
struct Lorenz63 {
  T sigma = T(10);
  T rho = T(28);
  T beta = T(8) / T(3);

  DYNX_HD constexpr int dim() const { return 3; }

  DYNX_HD void rhs(const T* x, T* dx) const {
    dx[0] = sigma * (x[1] - x[0]);
    dx[1] = x[0] * (rho - x[2]) - x[1];
    dx[2] = x[0] * x[1] - beta * x[2];
  }

  DYNX_HD void jacobian(const T* x, T* J) const {
    // Column 0: ∂f/∂x.
    J[0] = -sigma;
    J[1] = rho - x[2];
    J[2] = x[1];
    // Column 1: ∂f/∂y.
    J[3] = sigma;
    J[4] = T(-1);
    J[5] = x[0];
    // Column 2: ∂f/∂z.
    J[6] = T(0);
    J[7] = -x[0];
    J[8] = -beta;
  }

  DYNX_HD T divergence(const T*) const { return -(sigma + T(1) + beta); }
};

/// Rössler (1976): x' = −y − z, y' = x + a y, z' = b + z(x − c). Spectrum at the defaults
/// ≈ [0.0714, 0, −5.3943] (spec §7.2); divergence a + x − c depends on the state.
template <class T>
struct Rossler {
  T a = T(0.2);
  T b = T(0.2);
  T c = T(5.7);

  DYNX_HD constexpr int dim() const { return 3; }

  DYNX_HD void rhs(const T* x, T* dx) const {
    dx[0] = -x[1] - x[2];
    dx[1] = x[0] + a * x[1];
    dx[2] = b + x[2] * (x[0] - c);
  }

  DYNX_HD void jacobian(const T* x, T* J) const {
    // Column 0: ∂f/∂x.
    J[0] = T(0);
    J[1] = T(1);
    J[2] = x[2];
    // Column 1: ∂f/∂y.
    J[3] = T(-1);
    J[4] = a;
    J[5] = T(0);
    // Column 2: ∂f/∂z.
    J[6] = T(-1);
    J[7] = T(0);
    J[8] = x[0] - c;
  }

  DYNX_HD T divergence(const T* x) const { return a + x[0] - c; }
};

/// Lorenz (1996): x_i' = (x_{i+1} − x_{i−2}) x_{i−1} − x_i + F with cyclic indices, n ≥ 4 (for
/// smaller n the neighbours i+1, i−2 and i itself coincide and the model degenerates). Chaotic for
/// F = 8; n = 40 is the usual test (λ_1 ≈ 1.66, spec §7.2). Divergence −n, independent of x.
template <class T>
struct Lorenz96 {
  int n = 40;
  T F = T(8);

  DYNX_HD int dim() const { return n; }

  DYNX_HD void rhs(const T* x, T* dx) const {
    for (int i = 0; i < n; ++i) {
      const int ip1 = i + 1 < n ? i + 1 : i + 1 - n;
      const int im1 = i >= 1 ? i - 1 : i - 1 + n;
      const int im2 = i >= 2 ? i - 2 : i - 2 + n;
      dx[i] = (x[ip1] - x[im2]) * x[im1] - x[i] + F;
    }
  }

  /// Dense output, four nonzeros per row: zeros first, then row i's entries in columns i−2, i−1,
  /// i and i+1. The nonzeros are accumulated (+=) so that coinciding indices would still sum
  /// correctly.
  DYNX_HD void jacobian(const T* x, T* J) const {
    for (int k = 0; k < n * n; ++k) J[k] = T(0);
    for (int i = 0; i < n; ++i) {
      const int ip1 = i + 1 < n ? i + 1 : i + 1 - n;
      const int im1 = i >= 1 ? i - 1 : i - 1 + n;
      const int im2 = i >= 2 ? i - 2 : i - 2 + n;
      J[ip1 * n + i] += x[im1];
      J[im2 * n + i] -= x[im1];
      J[im1 * n + i] += x[ip1] - x[im2];
      J[i * n + i] -= T(1);
    }
  }

  DYNX_HD T divergence(const T*) const { return -T(n); }
};

// ------------------------------------------------------------------------------------------------
// Maps
// ------------------------------------------------------------------------------------------------

/// Hénon (1976): x' = 1 − a x² + y, y' = b x. Spectrum per iteration ≈ [0.41922, −1.62319] at the
/// defaults (spec §7.2); det J = −b everywhere, so the exponents sum to ln b exactly.
template <class T>
struct Henon {
  T a = T(1.4);
  T b = T(0.3);

  DYNX_HD constexpr int dim() const { return 2; }

  /// xnext must not alias x.
  DYNX_HD void step(const T* x, T* xnext) const {
    xnext[0] = T(1) - a * x[0] * x[0] + x[1];
    xnext[1] = b * x[0];
  }

  DYNX_HD void jacobian(const T* x, T* J) const {
    J[0] = T(-2) * a * x[0];  // ∂x'/∂x
    J[1] = b;                 // ∂y'/∂x
    J[2] = T(1);              // ∂x'/∂y
    J[3] = T(0);              // ∂y'/∂y
  }
};

/// A tanh recurrent network as a map, x' = tanh(W x + b): a non-owning view of W (n × n,
/// column-major, leading dimension n) and b (n entries; nullptr means no bias).
template <class T>
struct TanhRnn {
  const T* W = nullptr;
  const T* b = nullptr;
  int n = 0;

  DYNX_HD int dim() const { return n; }

  /// Pre-activation s_i = (W x + b)_i.
  DYNX_HD T preactivation(const T* x, int i) const {
    T s = b ? b[i] : T(0);
    for (int j = 0; j < n; ++j) s += W[j * n + i] * x[j];
    return s;
  }

  /// xnext must not alias x.
  DYNX_HD void step(const T* x, T* xnext) const {
    for (int i = 0; i < n; ++i) xnext[i] = std::tanh(preactivation(x, i));
  }

  /// J = diag(1 − x'²) W. The factor is computed as sech²(s) = 1 / cosh²(s), equal to 1 − tanh²(s)
  /// but without the cancellation of 1 − x'² when a unit saturates (x' → ±1): the tiny slopes of
  /// saturated units keep their relative accuracy, which matters for the most negative exponents.
  /// cosh overflowing to inf for huge |s| gives an exact 0.
  DYNX_HD void jacobian(const T* x, T* J) const {
    for (int i = 0; i < n; ++i) {
      const T ch = std::cosh(preactivation(x, i));
      const T d = T(1) / (ch * ch);
      for (int j = 0; j < n; ++j) J[j * n + i] = d * W[j * n + i];
    }
  }
};

// ------------------------------------------------------------------------------------------------
// Default initial conditions: a typical starting state per system (in the basin of the attractor;
// discard a transient before measuring exponents, spec §5.2). Overloaded so generic code can call
// default_initial_state(system, x).
// ------------------------------------------------------------------------------------------------

/// (1, 1, 1): off the z-axis (the stable manifold of the origin), so it reaches the attractor.
template <class T>
DYNX_HD void default_initial_state(const Lorenz63<T>&, T* x) {
  x[0] = T(1);
  x[1] = T(1);
  x[2] = T(1);
}

/// (1, 1, 0): near the unstable focus in the x–y plane, from where the orbit spirals out onto the
/// attractor (some far-away starts escape to infinity instead).
template <class T>
DYNX_HD void default_initial_state(const Rossler<T>&, T* x) {
  x[0] = T(1);
  x[1] = T(1);
  x[2] = T(0);
}

/// x_i = F with x_0 += 0.01: the unstable equilibrium x_i = F, nudged off it.
template <class T>
DYNX_HD void default_initial_state(const Lorenz96<T>& f, T* x) {
  for (int i = 0; i < f.n; ++i) x[i] = f.F;
  x[0] += T(0.01);
}

/// (0.1, 0.1): inside the basin of the Hénon attractor.
template <class T>
DYNX_HD void default_initial_state(const Henon<T>&, T* x) {
  x[0] = T(0.1);
  x[1] = T(0.1);
}

/// x_i = 0.1: a small nonzero state (x = 0 is a fixed point when b = 0).
template <class T>
DYNX_HD void default_initial_state(const TanhRnn<T>& f, T* x) {
  for (int i = 0; i < f.n; ++i) x[i] = T(0.1);
}

// ------------------------------------------------------------------------------------------------
// Integrators for flows. Flow is any type with the flow interface above.
// ------------------------------------------------------------------------------------------------

/// Scratch entries (of type T) needed by rk4_step: 3 · dim.
DYNX_HD constexpr int rk4_work_size(int dim) { return 3 * dim; }

/// Scratch entries (of type T) needed by rk4_step_tangent: 3 · dim² + 3 · dim.
DYNX_HD constexpr int rk4_tangent_work_size(int dim) { return 3 * dim * dim + 3 * dim; }

/// Scratch entries (of type T) needed by euler_step: dim.
DYNX_HD constexpr int euler_work_size(int dim) { return dim; }

namespace detail {

/// xs = x + c k.
template <class T>
DYNX_HD void rk4_stage_point(int n, const T* x, T c, const T* k, T* xs) {
  for (int i = 0; i < n; ++i) xs[i] = x[i] + c * k[i];
}

/// acc = w k (first stage) or acc += w k.
template <class T>
DYNX_HD void rk4_accumulate(int n, bool first, T w, const T* k, T* acc) {
  if (first) {
    for (int i = 0; i < n; ++i) acc[i] = w * k[i];
  } else {
    for (int i = 0; i < n; ++i) acc[i] += w * k[i];
  }
}

/// x += (h / 6) acc.
template <class T>
DYNX_HD void rk4_finish(int n, T h, const T* acc, T* x) {
  const T h6 = h / T(6);
  for (int i = 0; i < n; ++i) x[i] += h6 * acc[i];
}

/// Kout = D (I + c Kin) = D + c D Kin, all n × n column-major; Kout aliases neither input.
template <class T>
DYNX_HD void rk4_stage_tangent(int n, const T* D, T c, const T* Kin, T* Kout) {
  for (int j = 0; j < n; ++j) {
    T* out = Kout + j * n;
    for (int i = 0; i < n; ++i) out[i] = D[j * n + i];
    for (int l = 0; l < n; ++l) {
      const T s = c * Kin[j * n + l];
      if (s == T(0)) continue;  // Lorenz96's Jacobians are mostly zeros
      const T* dcol = D + l * n;
      for (int i = 0; i < n; ++i) out[i] += dcol[i] * s;
    }
  }
}

}  // namespace detail

/// One classic RK4 step of size h, in place:
///   k1 = f(x), k2 = f(x + h/2 k1), k3 = f(x + h/2 k2), k4 = f(x + h k3),
///   x ← x + h/6 (k1 + 2 k2 + 2 k3 + k4).
/// work: rk4_work_size(dim) = 3 · dim entries, aliasing nothing else.
template <class T, class Flow>
DYNX_HD void rk4_step(const Flow& f, T h, T* x, T* work) {
  const int n = f.dim();
  T* xs = work;          // stage point
  T* k = work + n;       // current stage slope
  T* acc = work + 2 * n; // k1 + 2 k2 + 2 k3 + k4
  const T half = h / T(2);
  f.rhs(x, k);
  detail::rk4_accumulate(n, true, T(1), k, acc);
  detail::rk4_stage_point(n, x, half, k, xs);
  f.rhs(xs, k);
  detail::rk4_accumulate(n, false, T(2), k, acc);
  detail::rk4_stage_point(n, x, half, k, xs);
  f.rhs(xs, k);
  detail::rk4_accumulate(n, false, T(2), k, acc);
  detail::rk4_stage_point(n, x, h, k, xs);
  f.rhs(xs, k);
  detail::rk4_accumulate(n, false, T(1), k, acc);
  detail::rk4_finish(n, h, acc, x);
}

/// One RK4 step (x updated in place, bit for bit as rk4_step) together with the exact Jacobian of
/// the RK4 map at the old x, written to jstep (dim × dim, column-major). Differentiating each stage
/// (the variational equations run through the same RK4 scheme, spec §5.1):
///   K1 = Df(x),            K2 = Df(x + h/2 k1) (I + h/2 K1),
///   K3 = Df(x + h/2 k2) (I + h/2 K2),   K4 = Df(x + h k3) (I + h K3),
///   jstep = I + h/6 (K1 + 2 K2 + 2 K3 + K4).
/// Unlike the Euler tangent I + h Df, this keeps the Lyapunov sum rule (ln det jstep ≈ h trace Df
/// to O(h^5) per step) and the zero exponent of a flow unbiased to RK4 accuracy.
/// work: rk4_tangent_work_size(dim) = 3 · dim² + 3 · dim entries, aliasing neither x nor jstep.
/// Cost: four rhs and four jacobian calls plus three dense dim³ products.
template <class T, class Flow>
DYNX_HD void rk4_step_tangent(const Flow& f, T h, T* x, T* jstep, T* work) {
  const int n = f.dim();
  const int nn = n * n;
  T* xs = work;
  T* k = work + n;
  T* acc = work + 2 * n;
  T* D = work + 3 * n;  // Df at the current stage point
  T* Kprev = D + nn;    // previous stage tangent K_{s-1}
  T* Kcur = Kprev + nn; // current stage tangent K_s
  const T half = h / T(2);

  // Stage 1 at x: k1 = f(x), K1 = Df(x). jstep accumulates K1 + 2 K2 + 2 K3 + K4.
  f.rhs(x, k);
  f.jacobian(x, Kprev);
  detail::rk4_accumulate(n, true, T(1), k, acc);
  for (int e = 0; e < nn; ++e) jstep[e] = Kprev[e];

  // Stages 2..4: point x + c k_{s-1}, weight w, and K_s = Df(point) (I + c K_{s-1}).
  const T cs[3] = {half, half, h};
  const T ws[3] = {T(2), T(2), T(1)};
  for (int s = 0; s < 3; ++s) {
    detail::rk4_stage_point(n, x, cs[s], k, xs);
    f.rhs(xs, k);
    f.jacobian(xs, D);
    detail::rk4_accumulate(n, false, ws[s], k, acc);
    detail::rk4_stage_tangent(n, D, cs[s], Kprev, Kcur);
    for (int e = 0; e < nn; ++e) jstep[e] += ws[s] * Kcur[e];
    T* t = Kprev;
    Kprev = Kcur;
    Kcur = t;
  }

  // jstep = I + h/6 (K1 + 2 K2 + 2 K3 + K4); x ← x + h/6 (k1 + 2 k2 + 2 k3 + k4).
  const T h6 = h / T(6);
  for (int e = 0; e < nn; ++e) jstep[e] *= h6;
  for (int i = 0; i < n; ++i) jstep[i * n + i] += T(1);
  detail::rk4_finish(n, h, acc, x);
}

/// One forward-Euler step, in place: x ← x + h f(x). work: euler_work_size(dim) = dim entries.
template <class T, class Flow>
DYNX_HD void euler_step(const Flow& f, T h, T* x, T* work) {
  const int n = f.dim();
  f.rhs(x, work);
  for (int i = 0; i < n; ++i) x[i] += h * work[i];
}

/// The Euler tangent jstep = I + h Df(x) (the reference's choice, spec §5.1): it is the exact
/// derivative of euler_step, but as a tangent for an accurately integrated flow it biases the
/// exponents by O(h) and breaks the sum rule (det(I + h Df) ≠ exp(h trace Df)). For comparison.
template <class T, class Flow>
DYNX_HD void euler_tangent(const Flow& f, T h, const T* x, T* jstep) {
  const int n = f.dim();
  f.jacobian(x, jstep);
  for (int e = 0; e < n * n; ++e) jstep[e] *= h;
  for (int i = 0; i < n; ++i) jstep[i * n + i] += T(1);
}

}  // namespace dynx::math
