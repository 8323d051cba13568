#pragma once
/// \file math/cells.hpp
/// Recurrent cells s_t = f(s_{t-1}, u_t) that the DEER solvers evaluate (spec deer.md §1, §5, §6),
/// each with an analytic Jacobian ∂f/∂s.
///
/// Cell concept (what the DEER solvers call; a user-supplied C++ cell provides the same members,
/// all const and DYNX_HD when the cell is used on the GPU):
///   int state_dim() const;     D, the length of s
///   int input_dim() const;     the length of u per step (0: u is ignored and may be nullptr)
///   int work_size() const;     scratch entries (of type T) that every method below may use
///   void step(const T* s, const T* u, T* s_next, T* work) const;
///                              s_next = f(s, u)
///   void jacobian(const T* s, const T* u, T* J, T* work) const;
///                              J = ∂f/∂s (s, u), dense D × D, column-major:
///                              J[j * D + i] = ∂f_i/∂s_j
///   void jacobian_diagonal(const T* s, const T* u, T* diag, T* work) const;
///                              diag[i] = J[i * D + i] (quasi-DEER, spec §4.2), computed without
///                              forming J where the cell allows it (see OdeRk4Cell for the
///                              exception)
///   void step_and_jacobian(const T* s, const T* u, T* s_next, T* J, T* work) const;
///                              both at once, sharing the gate computations (one Newton iteration);
///                              s_next and J are bit for bit those of step and jacobian
/// Outputs (s_next, J, diag) alias neither s, u, work nor each other. `work` holds work_size()
/// entries and may be nullptr when work_size() is 0. Nothing allocates.
///
/// Weights are non-owning views: const T* pointers to column-major matrices whose leading
/// dimension is their number of rows (a D × D_in matrix A has A(i, j) = A[j * D + i]), plus the
/// dimensions. Biases may be nullptr (zero). Input weights may be nullptr when the input dimension
/// is 0. The input projections (W_i u + b_i) are computed inside each call from u; they cost
/// O(D · D_in) per row, the same order as the recurrent products.
///
/// Derivatives of the activations avoid cancellation when units saturate: tanh'(a) is computed as
/// sech²(a) = 1 / cosh²(a) (not 1 − tanh²(a)), and for a logistic gate z = σ(a) the complement
/// 1 − z is computed as σ(−a), so z (1 − z) keeps its relative accuracy at both ends (as TanhRnn in
/// dynamical_systems.hpp does).
///
/// Cells: TanhRnnCell (§6.1), MeanFieldRnnCell (§6.2), GruCell (§6.3), LstmCell (§6.4),
/// OdeEulerCell and OdeRk4Cell (a vector field of dynamical_systems.hpp discretised first by an
/// explicit one-step method, §5). All are DYNX_HD, plain C++17 and instantiable for T = float and
/// double. The dense Jacobians cost O(D²) per call beyond the gate computations (O(D³) for RK4).

#include <dynx/math/dynamical_systems.hpp>
#include <dynx/math/hd.hpp>

#include <cmath>
#include <type_traits>
#include <utility>

namespace dynx::math {

namespace detail {

/// Row i of A x, A column-major with `rows` rows and `cols` columns (0 when cols is 0).
template <class T>
DYNX_HD T cell_row_dot(const T* A, int rows, int cols, int i, const T* x) {
  T s = T(0);
  for (int j = 0; j < cols; ++j) s += A[j * rows + i] * x[j];
  return s;
}

/// Pre-activation of unit i of a gate, (b_i + W_i u + b_h + W_h h)_i, always summed in this order
/// so that every method of a cell sees the same rounding, from the row products dot_i = (W_i u)_i
/// and dot_h = (W_h h)_i, each summed over j in index order as cell_row_dot does (a caller may form
/// them for all rows at once, column by column, with the same rounding). Null biases are zero;
/// dot_i is used only when m > 0.
template <class T>
DYNX_HD T cell_gate_from(int i, int m, T dot_i, const T* bi, T dot_h, const T* bh) {
  T a = bi ? bi[i] : T(0);
  if (m > 0) a += dot_i;
  if (bh) a += bh[i];
  a += dot_h;
  return a;
}

/// The same from the weights: dot_i = (W_i u)_i, dot_h = (W_h h)_i by cell_row_dot.
template <class T>
DYNX_HD T cell_gate(int i, int n, int m, const T* Wi, const T* u, const T* bi, const T* Wh,
                    const T* h, const T* bh) {
  return cell_gate_from(i, m, m > 0 ? cell_row_dot(Wi, n, m, i, u) : T(0), bi,
                        cell_row_dot(Wh, n, n, i, h), bh);
}

/// σ(a) = 1 / (1 + e^{−a}); 0 for a → −∞ (e^{−a} = inf) and 1 for a → +∞.
template <class T>
DYNX_HD T cell_sigmoid(T a) {
  return T(1) / (T(1) + std::exp(-a));
}

/// tanh'(a) = sech²(a) = 1 / cosh²(a), an exact 0 where cosh overflows.
template <class T>
DYNX_HD T cell_sech2(T a) {
  const T ch = std::cosh(a);
  return T(1) / (ch * ch);
}

/// Whether Flow provides `void jacobian_diagonal(const T* x, T* diag) const` (diag Df(x)).
template <class Flow, class T, class = void>
struct flow_has_jacobian_diagonal : std::false_type {};

template <class Flow, class T>
struct flow_has_jacobian_diagonal<
    Flow, T,
    std::void_t<decltype(std::declval<const Flow&>().jacobian_diagonal(
        static_cast<const T*>(nullptr), static_cast<T*>(nullptr)))>> : std::true_type {};

}  // namespace detail

// ------------------------------------------------------------------------------------------------
// Tanh RNN (spec §6.1)
// ------------------------------------------------------------------------------------------------

/// f(s, u) = tanh(W s + U u + b);  J = diag(sech²(a)) W with a = W s + U u + b (= diag(1 − f²) W);
/// diag(J)_i = sech²(a_i) W_ii. Contracting when ‖W‖₂ < 1.
/// W: n × n; U: n × m (may be nullptr when m = 0); b: n entries (may be nullptr).
/// work_size() = 0: every quantity is per row.
template <class T>
struct TanhRnnCell {
  const T* W = nullptr;
  const T* U = nullptr;
  const T* b = nullptr;
  int n = 0;  ///< state dimension D
  int m = 0;  ///< input dimension

  DYNX_HD int state_dim() const { return n; }
  DYNX_HD int input_dim() const { return m; }
  DYNX_HD int work_size() const { return 0; }

  /// a_i = (b + U u + W s)_i.
  DYNX_HD T preactivation(const T* s, const T* u, int i) const {
    return detail::cell_gate(i, n, m, U, u, b, W, s, static_cast<const T*>(nullptr));
  }
  /// The same from the row products (U u)_i and (W s)_i (see detail::cell_gate_from).
  DYNX_HD T preactivation_from(int i, T dot_u, T dot_w) const {
    return detail::cell_gate_from(i, m, dot_u, b, dot_w, static_cast<const T*>(nullptr));
  }

  DYNX_HD void step(const T* s, const T* u, T* s_next, T*) const {
    for (int i = 0; i < n; ++i) s_next[i] = std::tanh(preactivation(s, u, i));
  }

  DYNX_HD void jacobian(const T* s, const T* u, T* J, T*) const {
    for (int i = 0; i < n; ++i) {
      const T d = detail::cell_sech2(preactivation(s, u, i));
      for (int j = 0; j < n; ++j) J[j * n + i] = d * W[j * n + i];
    }
  }

  DYNX_HD void jacobian_diagonal(const T* s, const T* u, T* diag, T*) const {
    for (int i = 0; i < n; ++i) diag[i] = detail::cell_sech2(preactivation(s, u, i)) * W[i * n + i];
  }

  DYNX_HD void step_and_jacobian(const T* s, const T* u, T* s_next, T* J, T*) const {
    for (int i = 0; i < n; ++i) {
      const T a = preactivation(s, u, i);
      s_next[i] = std::tanh(a);
      const T d = detail::cell_sech2(a);
      for (int j = 0; j < n; ++j) J[j * n + i] = d * W[j * n + i];
    }
  }
};

// ------------------------------------------------------------------------------------------------
// Mean-field RNN (spec §6.2)
// ------------------------------------------------------------------------------------------------

/// f(s, u) = W tanh(s) + u;  J = W diag(sech²(s)) (= W diag(1 − tanh²(s)));
/// diag(J)_i = W_ii sech²(s_i) (identically zero with the spec's W_ii = 0: quasi-DEER is then
/// Jacobi). W: n × n. The input is added unprojected, so m is n (the usual case) or 0 (no input,
/// u ignored).
/// work_size() = n (tanh(s), shared by all rows of step).
template <class T>
struct MeanFieldRnnCell {
  const T* W = nullptr;
  int n = 0;  ///< state dimension D
  int m = 0;  ///< input dimension: n, or 0 for no input

  DYNX_HD int state_dim() const { return n; }
  DYNX_HD int input_dim() const { return m; }
  DYNX_HD int work_size() const { return n; }

  DYNX_HD void step(const T* s, const T* u, T* s_next, T* work) const {
    for (int j = 0; j < n; ++j) work[j] = std::tanh(s[j]);
    for (int i = 0; i < n; ++i) {
      const T v = detail::cell_row_dot(W, n, n, i, static_cast<const T*>(work));
      s_next[i] = m > 0 ? v + u[i] : v;
    }
  }

  DYNX_HD void jacobian(const T* s, const T*, T* J, T*) const {
    for (int j = 0; j < n; ++j) {
      const T d = detail::cell_sech2(s[j]);
      for (int i = 0; i < n; ++i) J[j * n + i] = W[j * n + i] * d;
    }
  }

  DYNX_HD void jacobian_diagonal(const T* s, const T*, T* diag, T*) const {
    for (int i = 0; i < n; ++i) diag[i] = W[i * n + i] * detail::cell_sech2(s[i]);
  }

  DYNX_HD void step_and_jacobian(const T* s, const T* u, T* s_next, T* J, T* work) const {
    step(s, u, s_next, work);
    jacobian(s, u, J, work);
  }
};

// ------------------------------------------------------------------------------------------------
// GRU (spec §6.3, PyTorch / flax convention)
// ------------------------------------------------------------------------------------------------

/// With h = s:
///   r = σ(a_r),  a_r = W_ir u + b_ir + W_hr h + b_hr
///   z = σ(a_z),  a_z = W_iz u + b_iz + W_hz h + b_hz
///   c = W_hn h + b_hn
///   n = tanh(a_n),  a_n = W_in u + b_in + r ⊙ c
///   h' = (1 − z) ⊙ n + z ⊙ h
/// Jacobian:
///   ∂h'/∂h = diag(z) + diag((h − n) ⊙ z ⊙ (1 − z)) W_hz
///          + diag((1 − z) ⊙ (1 − n²)) [diag(r) W_hn + diag(c ⊙ r ⊙ (1 − r)) W_hr]
/// and its diagonal z_i + (h_i − n_i) z_i (1 − z_i) (W_hz)_ii
///   + (1 − z_i)(1 − n_i²) [r_i (W_hn)_ii + c_i r_i (1 − r_i) (W_hr)_ii].
/// Here 1 − z = σ(−a_z), 1 − r = σ(−a_r) and 1 − n² = sech²(a_n).
/// W_ir, W_iz, W_in: n × m (may be nullptr when m = 0); W_hr, W_hz, W_hn: n × n; the six biases
/// n entries each, any may be nullptr (flax's GRUCell has no b_hr, b_hz).
/// work_size() = 0: every quantity is per row.
template <class T>
struct GruCell {
  const T* W_ir = nullptr;
  const T* W_iz = nullptr;
  const T* W_in = nullptr;
  const T* W_hr = nullptr;
  const T* W_hz = nullptr;
  const T* W_hn = nullptr;
  const T* b_ir = nullptr;
  const T* b_iz = nullptr;
  const T* b_in = nullptr;
  const T* b_hr = nullptr;
  const T* b_hz = nullptr;
  const T* b_hn = nullptr;
  int n = 0;  ///< state (hidden) dimension D
  int m = 0;  ///< input dimension

  /// The gate values of unit i.
  struct Gates {
    T r, rc;   ///< r and 1 − r
    T z, zc;   ///< z and 1 − z
    T c;       ///< (W_hn h + b_hn)_i
    T nv;      ///< n = tanh(a_n)
    T dn;      ///< 1 − n² = sech²(a_n)
  };

  DYNX_HD int state_dim() const { return n; }
  DYNX_HD int input_dim() const { return m; }
  DYNX_HD int work_size() const { return 0; }

  /// Row i of the six matrix-vector products (the input ones 0 when m = 0).
  struct Dots {
    T ir, iz, in, hr, hz, hn;
  };

  DYNX_HD Dots dots(const T* h, const T* u, int i) const {
    Dots d;
    d.ir = m > 0 ? detail::cell_row_dot(W_ir, n, m, i, u) : T(0);
    d.iz = m > 0 ? detail::cell_row_dot(W_iz, n, m, i, u) : T(0);
    d.in = m > 0 ? detail::cell_row_dot(W_in, n, m, i, u) : T(0);
    d.hr = detail::cell_row_dot(W_hr, n, n, i, h);
    d.hz = detail::cell_row_dot(W_hz, n, n, i, h);
    d.hn = detail::cell_row_dot(W_hn, n, n, i, h);
    return d;
  }

  DYNX_HD Gates gates(const T* h, const T* u, int i) const { return gates_from(i, dots(h, u, i)); }

  /// Unit i's gates from its row products (see detail::cell_gate_from).
  DYNX_HD Gates gates_from(int i, const Dots& d) const {
    Gates g;
    const T ar = detail::cell_gate_from(i, m, d.ir, b_ir, d.hr, b_hr);
    const T az = detail::cell_gate_from(i, m, d.iz, b_iz, d.hz, b_hz);
    g.r = detail::cell_sigmoid(ar);
    g.rc = detail::cell_sigmoid(-ar);
    g.z = detail::cell_sigmoid(az);
    g.zc = detail::cell_sigmoid(-az);
    g.c = (b_hn ? b_hn[i] : T(0)) + d.hn;
    T an = b_in ? b_in[i] : T(0);
    if (m > 0) an += d.in;
    an += g.r * g.c;
    g.nv = std::tanh(an);
    g.dn = detail::cell_sech2(an);
    return g;
  }

  DYNX_HD void step(const T* h, const T* u, T* h_next, T*) const {
    for (int i = 0; i < n; ++i) {
      const Gates g = gates(h, u, i);
      h_next[i] = g.zc * g.nv + g.z * h[i];
    }
  }

  DYNX_HD void jacobian(const T* h, const T* u, T* J, T*) const {
    for (int i = 0; i < n; ++i) jacobian_row(h, i, gates(h, u, i), J);
  }

  DYNX_HD void jacobian_diagonal(const T* h, const T* u, T* diag, T*) const {
    for (int i = 0; i < n; ++i) diag[i] = jacobian_diagonal_entry(h, i, gates(h, u, i));
  }

  DYNX_HD void step_and_jacobian(const T* h, const T* u, T* h_next, T* J, T*) const {
    for (int i = 0; i < n; ++i) {
      const Gates g = gates(h, u, i);
      h_next[i] = g.zc * g.nv + g.z * h[i];
      jacobian_row(h, i, g, J);
    }
  }

  /// (∂h'/∂h)_ii from unit i's gates; the same expression as the entry of jacobian_row.
  DYNX_HD T jacobian_diagonal_entry(const T* h, int i, const Gates& g) const {
    const int k = i * n + i;
    const T az = (h[i] - g.nv) * g.z * g.zc;
    const T an = g.zc * g.dn;
    const T v = az * W_hz[k] + an * (g.r * W_hn[k] + g.c * g.r * g.rc * W_hr[k]);
    return g.z + v;
  }

  /// Row i of ∂h'/∂h from unit i's gates; the same expression per entry as jacobian_diagonal.
  DYNX_HD void jacobian_row(const T* h, int i, const Gates& g, T* J) const {
    const T az = (h[i] - g.nv) * g.z * g.zc;
    const T an = g.zc * g.dn;
    for (int j = 0; j < n; ++j) {
      const int k = j * n + i;
      T v = az * W_hz[k] + an * (g.r * W_hn[k] + g.c * g.r * g.rc * W_hr[k]);
      if (j == i) v = g.z + v;
      J[k] = v;
    }
  }
};

// ------------------------------------------------------------------------------------------------
// LSTM (spec §6.4, PyTorch convention)
// ------------------------------------------------------------------------------------------------

/// State s = (c, h) stacked: s[0, n) = c, s[n, 2n) = h, so state_dim() = 2n (PyTorch returns the
/// pair in the order (h, c); here c comes first). With
///   i = σ(a_i), f = σ(a_f), g = tanh(a_g), o = σ(a_o),  a_x = W_ix u + b_ix + W_hx h + b_hx,
///   c' = f ⊙ c + i ⊙ g,   h' = o ⊙ tanh(c'),
/// the 2n × 2n Jacobian w.r.t. (c, h), blocks [∂c'/∂c ∂c'/∂h; ∂h'/∂c ∂h'/∂h], is
///   ∂c'/∂c = diag(f)
///   ∂c'/∂h = diag(c ⊙ f(1 − f)) W_hf + diag(g ⊙ i(1 − i)) W_hi + diag(i ⊙ (1 − g²)) W_hg
///   ∂h'/∂c = diag(o ⊙ (1 − tanh² c')) diag(f)
///   ∂h'/∂h = diag(tanh(c') ⊙ o(1 − o)) W_ho + diag(o ⊙ (1 − tanh² c')) ∂c'/∂h
/// (1 − g² and 1 − tanh² c' as sech², 1 − σ(a) as σ(−a)). The diagonal is f_j for the c part
/// and (∂h'/∂h)_jj for the h part.
/// W_ii, W_if, W_ig, W_io: n × m (may be nullptr when m = 0); W_hi, W_hf, W_hg, W_ho: n × n; the
/// eight biases n entries each, any may be nullptr.
/// work_size() = 0: every quantity is per row.
template <class T>
struct LstmCell {
  const T* W_ii = nullptr;
  const T* W_if = nullptr;
  const T* W_ig = nullptr;
  const T* W_io = nullptr;
  const T* W_hi = nullptr;
  const T* W_hf = nullptr;
  const T* W_hg = nullptr;
  const T* W_ho = nullptr;
  const T* b_ii = nullptr;
  const T* b_if = nullptr;
  const T* b_ig = nullptr;
  const T* b_io = nullptr;
  const T* b_hi = nullptr;
  const T* b_hf = nullptr;
  const T* b_hg = nullptr;
  const T* b_ho = nullptr;
  int n = 0;  ///< hidden size D (the state has 2D entries)
  int m = 0;  ///< input dimension

  /// The gate values and derivative factors of unit j.
  struct Gates {
    T i, f, g, o;    ///< gate values
    T c_next;        ///< c'
    T tc;            ///< tanh(c')
    T di, df, dg, do_;  ///< i(1 − i), f(1 − f), 1 − g², o(1 − o)
    T dtc;           ///< 1 − tanh²(c')
  };

  DYNX_HD int state_dim() const { return 2 * n; }
  DYNX_HD int input_dim() const { return m; }
  DYNX_HD int work_size() const { return 0; }

  /// Unit j's gates at s = (c, h).
  /// Row j of the eight matrix-vector products (the input ones 0 when m = 0), h = s[n, 2n).
  struct Dots {
    T ii, if_, ig, io, hi, hf, hg, ho;
  };

  DYNX_HD Dots dots(const T* s, const T* u, int j) const {
    const T* h = s + n;
    Dots d;
    d.ii = m > 0 ? detail::cell_row_dot(W_ii, n, m, j, u) : T(0);
    d.if_ = m > 0 ? detail::cell_row_dot(W_if, n, m, j, u) : T(0);
    d.ig = m > 0 ? detail::cell_row_dot(W_ig, n, m, j, u) : T(0);
    d.io = m > 0 ? detail::cell_row_dot(W_io, n, m, j, u) : T(0);
    d.hi = detail::cell_row_dot(W_hi, n, n, j, h);
    d.hf = detail::cell_row_dot(W_hf, n, n, j, h);
    d.hg = detail::cell_row_dot(W_hg, n, n, j, h);
    d.ho = detail::cell_row_dot(W_ho, n, n, j, h);
    return d;
  }

  DYNX_HD Gates gates(const T* s, const T* u, int j) const { return gates_from(s, j, dots(s, u, j)); }

  /// Unit j's gates at s = (c, h) from its row products (see detail::cell_gate_from).
  DYNX_HD Gates gates_from(const T* s, int j, const Dots& d) const {
    const T* c = s;
    const T ai = detail::cell_gate_from(j, m, d.ii, b_ii, d.hi, b_hi);
    const T af = detail::cell_gate_from(j, m, d.if_, b_if, d.hf, b_hf);
    const T ag = detail::cell_gate_from(j, m, d.ig, b_ig, d.hg, b_hg);
    const T ao = detail::cell_gate_from(j, m, d.io, b_io, d.ho, b_ho);
    Gates q;
    q.i = detail::cell_sigmoid(ai);
    q.f = detail::cell_sigmoid(af);
    q.g = std::tanh(ag);
    q.o = detail::cell_sigmoid(ao);
    q.di = q.i * detail::cell_sigmoid(-ai);
    q.df = q.f * detail::cell_sigmoid(-af);
    q.dg = detail::cell_sech2(ag);
    q.do_ = q.o * detail::cell_sigmoid(-ao);
    q.c_next = q.f * c[j] + q.i * q.g;
    q.tc = std::tanh(q.c_next);
    q.dtc = detail::cell_sech2(q.c_next);
    return q;
  }

  DYNX_HD void step(const T* s, const T* u, T* s_next, T*) const {
    for (int j = 0; j < n; ++j) {
      const Gates q = gates(s, u, j);
      s_next[j] = q.c_next;
      s_next[n + j] = q.o * q.tc;
    }
  }

  DYNX_HD void jacobian(const T* s, const T* u, T* J, T*) const {
    for (int j = 0; j < n; ++j) jacobian_rows(s, j, gates(s, u, j), J);
  }

  DYNX_HD void jacobian_diagonal(const T* s, const T* u, T* diag, T*) const {
    for (int j = 0; j < n; ++j) jacobian_diagonal_entries(s, j, gates(s, u, j), diag);
  }

  /// diag[j] (the c part, f_j) and diag[n + j] ((∂h'/∂h)_jj) from unit j's gates.
  DYNX_HD void jacobian_diagonal_entries(const T* s, int j, const Gates& q, T* diag) const {
    const T* c = s;
    const int k = j * n + j;
    // The same products as jacobian_rows, so the entries agree bit for bit.
    const T a_f = c[j] * q.df;
    const T a_i = q.g * q.di;
    const T a_g = q.i * q.dg;
    const T ohc = q.o * q.dtc;
    const T a_o = q.tc * q.do_;
    const T dch = a_f * W_hf[k] + a_i * W_hi[k] + a_g * W_hg[k];
    diag[j] = q.f;
    diag[n + j] = a_o * W_ho[k] + ohc * dch;
  }

  DYNX_HD void step_and_jacobian(const T* s, const T* u, T* s_next, T* J, T*) const {
    for (int j = 0; j < n; ++j) {
      const Gates q = gates(s, u, j);
      s_next[j] = q.c_next;
      s_next[n + j] = q.o * q.tc;
      jacobian_rows(s, j, q, J);
    }
  }

  /// Rows j (c'_j) and n + j (h'_j) of the 2n × 2n Jacobian (leading dimension 2n).
  DYNX_HD void jacobian_rows(const T* s, int j, const Gates& q, T* J) const {
    const int N = 2 * n;
    const T* c = s;
    const T a_f = c[j] * q.df;  // ∂c'_j/∂a_f
    const T a_i = q.g * q.di;   // ∂c'_j/∂a_i
    const T a_g = q.i * q.dg;   // ∂c'_j/∂a_g
    const T ohc = q.o * q.dtc;  // ∂h'_j/∂c'_j
    const T a_o = q.tc * q.do_; // ∂h'_j/∂a_o
    // Columns of c: only the diagonal entries are nonzero.
    for (int l = 0; l < n; ++l) {
      J[l * N + j] = l == j ? q.f : T(0);
      J[l * N + n + j] = l == j ? ohc * q.f : T(0);
    }
    // Columns of h.
    for (int l = 0; l < n; ++l) {
      const int k = l * n + j;
      const T dch = a_f * W_hf[k] + a_i * W_hi[k] + a_g * W_hg[k];
      J[(n + l) * N + j] = dch;
      J[(n + l) * N + n + j] = a_o * W_ho[k] + ohc * dch;
    }
  }
};

// ------------------------------------------------------------------------------------------------
// Discretised flows (spec §5, "discretize first")
// ------------------------------------------------------------------------------------------------

/// Forward Euler on a flow of dynamical_systems.hpp (rhs, jacobian, dim): f(s) = s + h g(s), input
/// ignored (input_dim 0); J = I + h Dg(s), the exact derivative of the step map.
/// jacobian_diagonal uses Flow::jacobian_diagonal(x, diag) (diag Dg) when the flow has one, and
/// otherwise forms Dg in the scratch (the built-in flows provide only the dense Jacobian).
/// work_size() = dim, plus dim² when Flow has no jacobian_diagonal.
template <class T, class Flow>
struct OdeEulerCell {
  Flow flow{};
  T h = T(0.01);  ///< step size

  static constexpr bool kFlowDiagonal = detail::flow_has_jacobian_diagonal<Flow, T>::value;

  DYNX_HD int state_dim() const { return flow.dim(); }
  DYNX_HD int input_dim() const { return 0; }
  DYNX_HD int work_size() const {
    const int d = flow.dim();
    return kFlowDiagonal ? d : d + d * d;
  }

  DYNX_HD void step(const T* s, const T*, T* s_next, T* work) const {
    const int d = flow.dim();
    for (int i = 0; i < d; ++i) s_next[i] = s[i];
    euler_step(flow, h, s_next, work);
  }

  DYNX_HD void jacobian(const T* s, const T*, T* J, T*) const { euler_tangent(flow, h, s, J); }

  DYNX_HD void jacobian_diagonal(const T* s, const T*, T* diag, T* work) const {
    const int d = flow.dim();
    if constexpr (kFlowDiagonal) {
      flow.jacobian_diagonal(s, diag);
      for (int i = 0; i < d; ++i) diag[i] = h * diag[i] + T(1);
    } else {
      flow.jacobian(s, work);
      for (int i = 0; i < d; ++i) diag[i] = h * work[i * d + i] + T(1);
    }
  }

  DYNX_HD void step_and_jacobian(const T* s, const T* u, T* s_next, T* J, T* work) const {
    step(s, u, s_next, work);
    jacobian(s, u, J, work);
  }
};

/// Classic RK4 on a flow of dynamical_systems.hpp: f(s) = the RK4 step of size h from s (rk4_step),
/// input ignored (input_dim 0); J = the exact derivative of the RK4 map (rk4_step_tangent), not
/// I + h Dg. The RK4 map's diagonal needs the full stage tangents, so jacobian_diagonal forms the
/// dense J in the scratch: it costs as much as jacobian (the one exception to the concept's
/// "without forming J"; D is small for these flows).
/// work_size() = 4 · dim² + 4 · dim (dim for a copy of s, rk4_tangent_work_size(dim) = 3 dim² +
/// 3 dim for the tangent stages, dim² for the dense J of jacobian_diagonal).
template <class T, class Flow>
struct OdeRk4Cell {
  Flow flow{};
  T h = T(0.01);  ///< step size

  DYNX_HD int state_dim() const { return flow.dim(); }
  DYNX_HD int input_dim() const { return 0; }
  DYNX_HD int work_size() const {
    const int d = flow.dim();
    return 4 * d * d + 4 * d;
  }

  DYNX_HD void step(const T* s, const T*, T* s_next, T* work) const {
    const int d = flow.dim();
    for (int i = 0; i < d; ++i) s_next[i] = s[i];
    rk4_step(flow, h, s_next, work);
  }

  DYNX_HD void jacobian(const T* s, const T*, T* J, T* work) const {
    const int d = flow.dim();
    T* x = work;  // rk4_step_tangent advances its state in place: step a copy
    for (int i = 0; i < d; ++i) x[i] = s[i];
    rk4_step_tangent(flow, h, x, J, work + d);
  }

  DYNX_HD void jacobian_diagonal(const T* s, const T* u, T* diag, T* work) const {
    const int d = flow.dim();
    T* J = work + d + rk4_tangent_work_size(d);
    jacobian(s, u, J, work);
    for (int i = 0; i < d; ++i) diag[i] = J[i * d + i];
  }

  /// s_next is bit for bit rk4_step's (rk4_step_tangent runs the same stage arithmetic).
  DYNX_HD void step_and_jacobian(const T* s, const T*, T* s_next, T* J, T* work) const {
    const int d = flow.dim();
    for (int i = 0; i < d; ++i) s_next[i] = s[i];
    rk4_step_tangent(flow, h, s_next, J, work);
  }
};

}  // namespace dynx::math
