// Recurrent cells for DEER (include/dynx/math/cells.hpp, spec deer.md §5, §6): for every cell and
// several sizes (with and without inputs), the analytic Jacobian against central finite
// differences of step, jacobian_diagonal against the diagonal of jacobian, step_and_jacobian bit
// for bit against step + jacobian, the documented work sizes (with guard entries past the end of
// the scratch), the GRU diagonal formula of §6.3 recomputed independently, the mean-field cell's
// zero diagonal, the Euler cell's use of a flow's own diagonal, contractivity of the tanh cell for
// ‖W‖₂ < 1, and float against double. All in float64 unless stated. Maximum errors are recorded as
// test properties (--gtest_output).

#include <dynx/math/cells.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace dynx::test {
namespace {

using math::GruCell;
using math::LstmCell;
using math::MeanFieldRnnCell;
using math::OdeEulerCell;
using math::OdeRk4Cell;
using math::TanhRnnCell;

void record_max(const char* key, double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3e", v);
  ::testing::Test::RecordProperty(key, buf);
}

double max_abs(const std::vector<double>& a) {
  double m = 0;
  for (double v : a) m = std::max(m, std::fabs(v));
  return m;
}

bool all_finite(const std::vector<double>& a) {
  return std::all_of(a.begin(), a.end(), [](double v) { return std::isfinite(v); });
}

// --- parameters -----------------------------------------------------------------------------------

/// A cell's weight arrays, in the order its factory reads them; an empty array is passed as
/// nullptr.
template <class T>
struct Params {
  std::vector<std::vector<T>> v;
  const T* p(size_t k) const { return v[k].empty() ? nullptr : v[k].data(); }
};

Params<float> to_float(const Params<double>& P) {
  Params<float> F;
  for (const auto& a : P.v) F.v.emplace_back(a.begin(), a.end());
  return F;
}

/// The same values rounded to float and back: a double cell on these weights and the float cell
/// see identical inputs, so they differ only by float arithmetic.
Params<double> float_rounded(const Params<double>& P) {
  Params<double> R;
  for (const auto& a : P.v) {
    R.v.emplace_back();
    for (double x : a) R.v.back().push_back(static_cast<double>(static_cast<float>(x)));
  }
  return R;
}

std::vector<double> gaussian(std::mt19937_64& rng, size_t count, double scale) {
  std::normal_distribution<double> nd(0.0, scale);
  std::vector<double> v(count);
  for (double& x : v) x = nd(rng);
  return v;
}

/// One configuration: the state and input dimensions of the cell and which optional arrays are
/// absent.
struct Config {
  int n;
  int m;
  bool biases;  // false: every bias nullptr
};

// TanhRnnCell: W (n × n, N(0, 1.5²/n)), U (n × m), b.
Params<double> tanh_params(std::mt19937_64& rng, const Config& c) {
  Params<double> P;
  P.v.push_back(gaussian(rng, size_t(c.n) * c.n, 1.5 / std::sqrt(double(c.n))));
  P.v.push_back(c.m > 0 ? gaussian(rng, size_t(c.n) * c.m, 1.0 / std::sqrt(double(c.m)))
                        : std::vector<double>{});
  P.v.push_back(c.biases ? gaussian(rng, c.n, 0.3) : std::vector<double>{});
  return P;
}

template <class T>
TanhRnnCell<T> make_tanh(const Params<T>& P, const Config& c) {
  TanhRnnCell<T> cell;
  cell.W = P.p(0);
  cell.U = P.p(1);
  cell.b = P.p(2);
  cell.n = c.n;
  cell.m = c.m;
  return cell;
}

// MeanFieldRnnCell: W (n × n, N(0, 1.5²/n), W_ii = 0 as in the spec unless biases is set, which
// here means "keep a nonzero diagonal"); m is n or 0.
Params<double> meanfield_params(std::mt19937_64& rng, const Config& c) {
  Params<double> P;
  P.v.push_back(gaussian(rng, size_t(c.n) * c.n, 1.5 / std::sqrt(double(c.n))));
  if (!c.biases)
    for (int i = 0; i < c.n; ++i) P.v[0][size_t(i) * c.n + i] = 0.0;
  return P;
}

template <class T>
MeanFieldRnnCell<T> make_meanfield(const Params<T>& P, const Config& c) {
  MeanFieldRnnCell<T> cell;
  cell.W = P.p(0);
  cell.n = c.n;
  cell.m = c.m;
  return cell;
}

// GruCell: W_ir, W_iz, W_in (n × m), W_hr, W_hz, W_hn (n × n), b_ir, b_iz, b_in, b_hr, b_hz, b_hn.
// Without biases only b_hr and b_hz are dropped (flax's GRUCell) and the rest zeroed.
Params<double> gru_params(std::mt19937_64& rng, const Config& c) {
  Params<double> P;
  for (int k = 0; k < 3; ++k)
    P.v.push_back(c.m > 0 ? gaussian(rng, size_t(c.n) * c.m, 1.0 / std::sqrt(double(c.m)))
                          : std::vector<double>{});
  for (int k = 0; k < 3; ++k)
    P.v.push_back(gaussian(rng, size_t(c.n) * c.n, 1.5 / std::sqrt(double(c.n))));
  for (int k = 0; k < 6; ++k) {
    if (c.biases)
      P.v.push_back(gaussian(rng, c.n, 0.3));
    else if (k == 3 || k == 4)
      P.v.emplace_back();
    else
      P.v.emplace_back(size_t(c.n), 0.0);
  }
  return P;
}

template <class T>
GruCell<T> make_gru(const Params<T>& P, const Config& c) {
  GruCell<T> cell;
  cell.W_ir = P.p(0);
  cell.W_iz = P.p(1);
  cell.W_in = P.p(2);
  cell.W_hr = P.p(3);
  cell.W_hz = P.p(4);
  cell.W_hn = P.p(5);
  cell.b_ir = P.p(6);
  cell.b_iz = P.p(7);
  cell.b_in = P.p(8);
  cell.b_hr = P.p(9);
  cell.b_hz = P.p(10);
  cell.b_hn = P.p(11);
  cell.n = c.n;
  cell.m = c.m;
  return cell;
}

// LstmCell: W_ii, W_if, W_ig, W_io (n × m), W_hi, W_hf, W_hg, W_ho (n × n), eight biases.
Params<double> lstm_params(std::mt19937_64& rng, const Config& c) {
  Params<double> P;
  for (int k = 0; k < 4; ++k)
    P.v.push_back(c.m > 0 ? gaussian(rng, size_t(c.n) * c.m, 1.0 / std::sqrt(double(c.m)))
                          : std::vector<double>{});
  for (int k = 0; k < 4; ++k)
    P.v.push_back(gaussian(rng, size_t(c.n) * c.n, 1.5 / std::sqrt(double(c.n))));
  for (int k = 0; k < 8; ++k)
    P.v.push_back(c.biases ? gaussian(rng, c.n, 0.3) : std::vector<double>{});
  return P;
}

template <class T>
LstmCell<T> make_lstm(const Params<T>& P, const Config& c) {
  LstmCell<T> cell;
  const T** w[16] = {&cell.W_ii, &cell.W_if, &cell.W_ig, &cell.W_io, &cell.W_hi, &cell.W_hf,
                     &cell.W_hg, &cell.W_ho, &cell.b_ii, &cell.b_if, &cell.b_ig, &cell.b_io,
                     &cell.b_hi, &cell.b_hf, &cell.b_hg, &cell.b_ho};
  for (size_t k = 0; k < 16; ++k) *w[k] = P.p(k);
  cell.n = c.n;
  cell.m = c.m;
  return cell;
}

// --- generic checks -------------------------------------------------------------------------------

constexpr int kGuard = 16;
constexpr double kSentinel = -1.2345e300;

/// Scratch of work_size() entries followed by kGuard sentinels; data() is nullptr when the cell
/// needs none (the header allows it), so a cell that touched its scratch anyway would crash.
struct Scratch {
  int size;
  std::vector<double> buf;
  explicit Scratch(int s) : size(s), buf(size_t(s) + kGuard, kSentinel) {}
  double* data() { return size == 0 ? nullptr : buf.data(); }
  bool guard_intact() const {
    for (int k = 0; k < kGuard; ++k)
      if (buf[size_t(size) + k] != kSentinel) return false;
    return true;
  }
};

struct CellErrors {
  double fd = 0;        // max |J − J_fd| / max|J|
  double diag = 0;      // max |diag − diag(J)|
  double sj = 0;        // max |step_and_jacobian − (step, jacobian)|
  bool finite = true;   // every output entry written and finite
  bool guard = true;    // nothing written past work_size()
};

/// Checks one double cell at state s and input u.
template <class Cell>
void check_cell_at(const Cell& cell, const std::vector<double>& s, const std::vector<double>& u,
                   CellErrors& e) {
  const int D = cell.state_dim();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double* up = u.empty() ? nullptr : u.data();
  Scratch w(cell.work_size());
  std::vector<double> s1(D, nan), J(size_t(D) * D, nan), diag(D, nan), s2(D, nan),
      J2(size_t(D) * D, nan);
  cell.step(s.data(), up, s1.data(), w.data());
  cell.jacobian(s.data(), up, J.data(), w.data());
  cell.jacobian_diagonal(s.data(), up, diag.data(), w.data());
  cell.step_and_jacobian(s.data(), up, s2.data(), J2.data(), w.data());
  e.finite = e.finite && all_finite(s1) && all_finite(J) && all_finite(diag) && all_finite(s2) &&
             all_finite(J2);
  e.guard = e.guard && w.guard_intact();

  // Five-point central differences of step, δ_j = 1e-3 · max(1, |s_j|):
  //   ∂f/∂s_j ≈ [f(s − 2δe_j) − 8 f(s − δe_j) + 8 f(s + δe_j) − f(s + 2δe_j)] / (12 δ).
  std::vector<double> Jfd(size_t(D) * D), x(s), f[4];
  const double off[4] = {-2, -1, 1, 2};
  for (auto& v : f) v.assign(size_t(D), 0.0);
  for (int j = 0; j < D; ++j) {
    const double d = 1e-3 * std::max(1.0, std::fabs(s[j]));
    for (int k = 0; k < 4; ++k) {
      x = s;
      x[j] += off[k] * d;
      cell.step(x.data(), up, f[k].data(), w.data());
    }
    for (int i = 0; i < D; ++i)
      Jfd[size_t(j) * D + i] = (f[0][i] - 8 * f[1][i] + 8 * f[2][i] - f[3][i]) / (12 * d);
  }
  const double scale = std::max(max_abs(J), 1e-300);
  for (size_t k = 0; k < J.size(); ++k) e.fd = std::max(e.fd, std::fabs(J[k] - Jfd[k]) / scale);
  for (int i = 0; i < D; ++i)
    e.diag = std::max(e.diag, std::fabs(diag[i] - J[size_t(i) * D + i]));
  for (int i = 0; i < D; ++i) e.sj = std::max(e.sj, std::fabs(s2[i] - s1[i]));
  for (size_t k = 0; k < J.size(); ++k) e.sj = std::max(e.sj, std::fabs(J2[k] - J[k]));
}

/// Asserts the generic properties for a cell family over configurations, each at 6 random
/// (state, input) pairs: states N(0, state_scale²), inputs N(0, 1). state_dim is expected to be
/// input_len_factor · n (2 for the LSTM's stacked (c, h)).
template <class Make, class MakeParams>
CellErrors check_family(const char* name, const std::vector<Config>& configs, Make make,
                        MakeParams make_params, int input_len_factor, double state_scale,
                        unsigned seed) {
  std::mt19937_64 rng(seed);
  CellErrors all;
  for (const Config& c : configs) {
    const Params<double> P = make_params(rng, c);
    const auto cell = make(P, c);
    EXPECT_EQ(cell.input_dim(), c.m) << name;
    EXPECT_EQ(cell.state_dim(), input_len_factor * c.n) << name;
    for (int p = 0; p < 6; ++p) {
      const auto s = gaussian(rng, size_t(cell.state_dim()), state_scale);
      const auto u = gaussian(rng, size_t(c.m), 1.0);
      CellErrors e;
      check_cell_at(cell, s, u, e);
      // Five-point differences: truncation δ⁴/30 · |f⁽⁵⁾| ≈ 3e-14 · |f⁽⁵⁾| (≲ 1e-11 for these
      // weight scales) and rounding ≈ eps · |f| / δ ≈ 1e-13. Relative to max|J| this stays below
      // 1e-7 unless every unit is deeply saturated (max|J| ≲ 1e-4), which these draws avoid.
      EXPECT_LT(e.fd, 1e-7) << name << " n=" << c.n << " m=" << c.m;
      // The diagonal uses the same products as the dense rows: equal to rounding (in fact exact).
      EXPECT_LT(e.diag, 1e-14) << name << " n=" << c.n << " m=" << c.m;
      // step_and_jacobian shares the gate computations but evaluates the same expressions in the
      // same order as step and jacobian: bit for bit.
      EXPECT_EQ(e.sj, 0.0) << name << " n=" << c.n << " m=" << c.m;
      EXPECT_TRUE(e.finite) << name << " n=" << c.n << " m=" << c.m;
      EXPECT_TRUE(e.guard) << name << " wrote past work_size()";
      all.fd = std::max(all.fd, e.fd);
      all.diag = std::max(all.diag, e.diag);
      all.sj = std::max(all.sj, e.sj);
    }
  }
  return all;
}

/// Float instantiation against double on float-representable weights, states and inputs: max over
/// outputs of |float − double| / max|double| for s_next, J and diag. Returns the largest.
template <class MakeF, class MakeD>
double float_vs_double(const Params<double>& P, const Config& c, MakeF make_f, MakeD make_d,
                       std::mt19937_64& rng, double state_scale) {
  const Params<double> Pd = float_rounded(P);
  const Params<float> Pf = to_float(P);
  const auto cd = make_d(Pd, c);
  const auto cf = make_f(Pf, c);
  const int D = cd.state_dim();
  double worst = 0;
  for (int p = 0; p < 4; ++p) {
    std::vector<double> s = gaussian(rng, size_t(D), state_scale), u = gaussian(rng, size_t(c.m), 1);
    for (double& x : s) x = double(float(x));
    for (double& x : u) x = double(float(x));
    const std::vector<float> sf(s.begin(), s.end()), uf(u.begin(), u.end());
    std::vector<double> wd(size_t(cd.work_size()) + 1), s1(D), J(size_t(D) * D), dg(D);
    std::vector<float> wf(size_t(cf.work_size()) + 1), s1f(D), Jf(size_t(D) * D), dgf(D);
    const double* up = u.empty() ? nullptr : u.data();
    const float* upf = uf.empty() ? nullptr : uf.data();
    cd.step_and_jacobian(s.data(), up, s1.data(), J.data(), wd.data());
    cd.jacobian_diagonal(s.data(), up, dg.data(), wd.data());
    cf.step_and_jacobian(sf.data(), upf, s1f.data(), Jf.data(), wf.data());
    cf.jacobian_diagonal(sf.data(), upf, dgf.data(), wf.data());
    auto rel = [](const std::vector<double>& a, const std::vector<float>& b) {
      double m = 0;
      const double sc = std::max(max_abs(a), 1e-30);
      for (size_t k = 0; k < a.size(); ++k) m = std::max(m, std::fabs(double(b[k]) - a[k]) / sc);
      return m;
    };
    worst = std::max({worst, rel(s1, s1f), rel(J, Jf), rel(dg, dgf)});
  }
  return worst;
}

const auto kMakeTanhD = [](const Params<double>& P, const Config& c) { return make_tanh(P, c); };
const auto kMakeTanhF = [](const Params<float>& P, const Config& c) { return make_tanh(P, c); };
const auto kMakeMfD = [](const Params<double>& P, const Config& c) { return make_meanfield(P, c); };
const auto kMakeMfF = [](const Params<float>& P, const Config& c) { return make_meanfield(P, c); };
const auto kMakeGruD = [](const Params<double>& P, const Config& c) { return make_gru(P, c); };
const auto kMakeGruF = [](const Params<float>& P, const Config& c) { return make_gru(P, c); };
const auto kMakeLstmD = [](const Params<double>& P, const Config& c) { return make_lstm(P, c); };
const auto kMakeLstmF = [](const Params<float>& P, const Config& c) { return make_lstm(P, c); };

const std::vector<Config> kRnnConfigs = {{1, 0, true}, {1, 3, false}, {5, 0, false},
                                         {5, 3, true}, {16, 0, true}, {16, 3, true},
                                         {16, 3, false}};
const std::vector<Config> kLstmConfigs = {{1, 0, true}, {1, 3, false}, {4, 0, false},
                                          {4, 3, true}, {8, 0, true},  {8, 3, true}};

// --- the cells ------------------------------------------------------------------------------------

TEST(Cells, TanhRnnJacobians) {
  const auto e = check_family("TanhRnnCell", kRnnConfigs, kMakeTanhD, tanh_params, 1, 1.0, 1);
  record_max("fd_err", e.fd);
  record_max("diag_err", e.diag);
  record_max("step_and_jacobian_diff", e.sj);
}

TEST(Cells, TanhRnnSaturatedUnitsKeepTinySlopes) {
  // A pre-activation of 30: 1 − tanh² would be exactly 0 in double, sech² is 4e-26.
  const double W = 1.0, b = 30.0, s = 0.0;
  TanhRnnCell<double> cell;
  cell.W = &W;
  cell.b = &b;
  cell.n = 1;
  double J = 0;
  cell.jacobian(&s, nullptr, &J, nullptr);
  // sech²(30) = 4 e^{−60} / (1 + e^{−60})², a few ulps from the library's cosh.
  EXPECT_NEAR(J / (4 * std::exp(-60.0)), 1.0, 1e-14);
}

TEST(Cells, MeanFieldRnnJacobians) {
  // m is n (inputs added) or 0; biases = true keeps a nonzero diagonal of W (see meanfield_params).
  const std::vector<Config> configs = {{1, 1, true}, {1, 0, true},  {5, 5, false},
                                       {5, 0, true}, {16, 16, false}, {16, 0, true}};
  const auto e = check_family("MeanFieldRnnCell", configs, kMakeMfD, meanfield_params, 1, 1.0, 2);
  record_max("fd_err", e.fd);
  record_max("diag_err", e.diag);
}

TEST(Cells, MeanFieldRnnZeroDiagonalWhenWiiZero) {
  std::mt19937_64 rng(3);
  const Config c{16, 16, false};
  const auto P = meanfield_params(rng, c);
  const auto cell = make_meanfield(P, c);
  const auto s = gaussian(rng, 16, 1.0), u = gaussian(rng, 16, 1.0);
  std::vector<double> diag(16, 1.0), w(size_t(cell.work_size()));
  cell.jacobian_diagonal(s.data(), u.data(), diag.data(), w.data());
  // W_ii = 0 gives 0 · sech² = 0 exactly (quasi-DEER = Jacobi for this cell, spec §6.2).
  for (double d : diag) EXPECT_EQ(d, 0.0);
  // With m = n the input is added as is: f(s, u) − f(s, 0) = u up to one rounding per entry.
  std::vector<double> f1(16), f0(16), zero(16, 0.0);
  cell.step(s.data(), u.data(), f1.data(), w.data());
  cell.step(s.data(), zero.data(), f0.data(), w.data());
  for (int i = 0; i < 16; ++i) EXPECT_NEAR(f1[i] - f0[i], u[i], 1e-15 * (1 + std::fabs(f0[i])));
}

TEST(Cells, GruJacobians) {
  const auto e = check_family("GruCell", kRnnConfigs, kMakeGruD, gru_params, 1, 1.0, 4);
  record_max("fd_err", e.fd);
  record_max("diag_err", e.diag);
}

TEST(Cells, GruDiagonalMatchesSpecFormula) {
  // §6.3's diagonal, recomputed here from scratch with the spec's own expressions (1 − z, 1 − n²
  // rather than the header's σ(−a), sech²).
  std::mt19937_64 rng(5);
  double worst = 0;
  for (const Config& c : kRnnConfigs) {
    const auto P = gru_params(rng, c);
    const auto cell = make_gru(P, c);
    const int n = c.n, m = c.m;
    auto mat = [&](size_t k, int rows, int i, int j) { return P.v[k][size_t(j) * rows + i]; };
    auto bias = [&](size_t k, int i) { return P.v[k].empty() ? 0.0 : P.v[k][size_t(i)]; };
    for (int p = 0; p < 6; ++p) {
      const auto h = gaussian(rng, size_t(n), 1.0), u = gaussian(rng, size_t(m), 1.0);
      std::vector<double> diag(n);
      cell.jacobian_diagonal(h.data(), u.empty() ? nullptr : u.data(), diag.data(), nullptr);
      for (int i = 0; i < n; ++i) {
        double ar = bias(6, i) + bias(9, i), az = bias(7, i) + bias(10, i), c_ = bias(11, i),
               an = bias(8, i);
        for (int j = 0; j < m; ++j) {
          ar += mat(0, n, i, j) * u[j];
          az += mat(1, n, i, j) * u[j];
          an += mat(2, n, i, j) * u[j];
        }
        for (int j = 0; j < n; ++j) {
          ar += mat(3, n, i, j) * h[j];
          az += mat(4, n, i, j) * h[j];
          c_ += mat(5, n, i, j) * h[j];
        }
        const double r = 1 / (1 + std::exp(-ar)), z = 1 / (1 + std::exp(-az));
        const double nv = std::tanh(an + r * c_);
        const double ref = z + (h[i] - nv) * z * (1 - z) * mat(4, n, i, i) +
                           (1 - z) * (1 - nv * nv) *
                               (r * mat(5, n, i, i) + c_ * r * (1 - r) * mat(3, n, i, i));
        worst = std::max(worst, std::fabs(diag[i] - ref));
      }
    }
  }
  // Entries are O(1); the two computations differ in summation order and in 1 − z vs σ(−a),
  // 1 − n² vs sech²: a few ulps of the O(1) terms.
  EXPECT_LT(worst, 1e-13);
  record_max("spec_formula_diff", worst);
}

TEST(Cells, LstmJacobians) {
  const auto e = check_family("LstmCell", kLstmConfigs, kMakeLstmD, lstm_params, 2, 1.0, 6);
  record_max("fd_err", e.fd);
  record_max("diag_err", e.diag);
}

TEST(Cells, LstmStepMatchesPytorchEquations) {
  // One unit with hand-picked values: c' = f c + i g, h' = o tanh(c').
  const double W_ii = 0.5, W_if = -0.3, W_ig = 0.8, W_io = 0.1;
  const double W_hi = 0.2, W_hf = 0.7, W_hg = -0.4, W_ho = 0.9, b = 0.05;
  LstmCell<double> cell;
  cell.W_ii = &W_ii;
  cell.W_if = &W_if;
  cell.W_ig = &W_ig;
  cell.W_io = &W_io;
  cell.W_hi = &W_hi;
  cell.W_hf = &W_hf;
  cell.W_hg = &W_hg;
  cell.W_ho = &W_ho;
  cell.b_hf = &b;
  cell.n = 1;
  cell.m = 1;
  const double s[2] = {0.6, -0.2}, u = 1.3;
  double s1[2];
  cell.step(s, &u, s1, nullptr);
  auto sig = [](double a) { return 1 / (1 + std::exp(-a)); };
  const double i = sig(W_ii * u + W_hi * s[1]), f = sig(W_if * u + b + W_hf * s[1]),
               g = std::tanh(W_ig * u + W_hg * s[1]), o = sig(W_io * u + W_ho * s[1]);
  const double c1 = f * s[0] + i * g;
  // The same formulas with another summation order: a few ulps.
  EXPECT_NEAR(s1[0], c1, 1e-15);
  EXPECT_NEAR(s1[1], o * std::tanh(c1), 1e-15);
}

/// Lorenz-96 with its own diagonal (−1 everywhere): exercises OdeEulerCell's use of
/// Flow::jacobian_diagonal and the smaller work size.
struct Lorenz96WithDiagonal : math::Lorenz96<double> {
  void jacobian_diagonal(const double*, double* d) const {
    for (int i = 0; i < n; ++i) d[i] = -1.0;
  }
};

template <class Cell>
CellErrors check_ode_cell(const Cell& cell, double state_scale, double offset, unsigned seed) {
  std::mt19937_64 rng(seed);
  CellErrors all;
  for (int p = 0; p < 6; ++p) {
    auto s = gaussian(rng, size_t(cell.state_dim()), state_scale);
    for (double& x : s) x += offset;
    CellErrors e;
    check_cell_at(cell, s, {}, e);
    EXPECT_TRUE(e.finite);
    EXPECT_TRUE(e.guard);
    all.fd = std::max(all.fd, e.fd);
    all.diag = std::max(all.diag, e.diag);
    all.sj = std::max(all.sj, e.sj);
  }
  return all;
}

TEST(Cells, OdeCellJacobians) {
  CellErrors worst;
  auto fold = [&](const CellErrors& e) {
    worst.fd = std::max(worst.fd, e.fd);
    worst.diag = std::max(worst.diag, e.diag);
    worst.sj = std::max(worst.sj, e.sj);
  };
  const math::Lorenz63<double> l63;
  const math::Rossler<double> ros;
  for (double h : {0.01, 0.05}) {
    fold(check_ode_cell(OdeEulerCell<double, math::Lorenz63<double>>{l63, h}, 8.0, 10.0, 7));
    fold(check_ode_cell(OdeRk4Cell<double, math::Lorenz63<double>>{l63, h}, 8.0, 10.0, 8));
    fold(check_ode_cell(OdeEulerCell<double, math::Rossler<double>>{ros, h}, 3.0, 0.0, 9));
    fold(check_ode_cell(OdeRk4Cell<double, math::Rossler<double>>{ros, h}, 3.0, 0.0, 10));
    for (int n : {5, 16}) {
      const math::Lorenz96<double> l96{n, 8.0};
      fold(check_ode_cell(OdeEulerCell<double, math::Lorenz96<double>>{l96, h}, 3.0, 2.0, 11));
      fold(check_ode_cell(OdeRk4Cell<double, math::Lorenz96<double>>{l96, h}, 3.0, 2.0, 12));
      Lorenz96WithDiagonal l96d;
      l96d.n = n;
      fold(check_ode_cell(OdeEulerCell<double, Lorenz96WithDiagonal>{l96d, h}, 3.0, 2.0, 13));
    }
  }
  // Polynomial step maps of low degree in h-weighted terms: the five-point differences are exact
  // up to rounding eps · |f| / δ ≈ 1e-13 · |f| / |s|, and the truncation δ⁴ f⁽⁵⁾ is tiny for
  // these step sizes; 1e-7 of max|J| is the common bound of this file.
  EXPECT_LT(worst.fd, 1e-7);
  // Euler's diagonal is h · Df_ii + 1 in both paths; RK4's is read off the same dense tangent.
  EXPECT_LT(worst.diag, 1e-14);
  // step_and_jacobian runs the same arithmetic as step (rk4_step_tangent is bit for bit rk4_step).
  EXPECT_EQ(worst.sj, 0.0);
  record_max("fd_err", worst.fd);
  record_max("diag_err", worst.diag);
}

TEST(Cells, OdeCellsMatchIntegrators) {
  const math::Lorenz63<double> l63;
  const double x0[3] = {1.0, 2.0, 20.0};
  double a[3], b[3] = {x0[0], x0[1], x0[2]}, w[64];
  const OdeRk4Cell<double, math::Lorenz63<double>> rk{l63, 0.01};
  rk.step(x0, nullptr, a, w);
  math::rk4_step(l63, 0.01, b, w);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(a[i], b[i]);  // the same function on the same numbers
  const OdeEulerCell<double, math::Lorenz63<double>> eu{l63, 0.01};
  eu.step(x0, nullptr, a, w);
  double dx[3];
  l63.rhs(x0, dx);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(a[i], x0[i] + 0.01 * dx[i]);
}

TEST(Cells, WorkSizes) {
  std::vector<double> W(256);
  TanhRnnCell<double> t{W.data(), nullptr, nullptr, 16, 0};
  MeanFieldRnnCell<double> mf{W.data(), 16, 16};
  GruCell<double> g;
  g.n = 16;
  LstmCell<double> l;
  l.n = 8;
  EXPECT_EQ(t.work_size(), 0);
  EXPECT_EQ(mf.work_size(), 16);
  EXPECT_EQ(g.work_size(), 0);
  EXPECT_EQ(l.work_size(), 0);
  EXPECT_EQ(l.state_dim(), 16);
  const math::Lorenz96<double> l96{16, 8.0};
  EXPECT_EQ((OdeEulerCell<double, math::Lorenz96<double>>{l96, 0.01}.work_size()), 16 + 256);
  Lorenz96WithDiagonal l96d;
  l96d.n = 16;
  EXPECT_EQ((OdeEulerCell<double, Lorenz96WithDiagonal>{l96d, 0.01}.work_size()), 16);
  EXPECT_EQ((OdeRk4Cell<double, math::Lorenz96<double>>{l96, 0.01}.work_size()), 4 * 256 + 4 * 16);
  EXPECT_EQ((OdeRk4Cell<double, math::Lorenz63<double>>{}.input_dim()), 0);
}

// --- contractivity --------------------------------------------------------------------------------

/// ‖A‖₂ (A n × n column-major) by power iteration on AᵀA from a fixed start.
double spectral_norm(const std::vector<double>& A, int n) {
  std::vector<double> v(n, 1.0), Av(n), w(n);
  double s = 0;
  for (int it = 0; it < 500; ++it) {
    for (int i = 0; i < n; ++i) {
      Av[i] = 0;
      for (int j = 0; j < n; ++j) Av[i] += A[size_t(j) * n + i] * v[j];
    }
    for (int j = 0; j < n; ++j) {
      w[j] = 0;
      for (int i = 0; i < n; ++i) w[j] += A[size_t(j) * n + i] * Av[i];
    }
    double nw = 0;
    for (double x : w) nw += x * x;
    nw = std::sqrt(nw);
    if (nw == 0) return 0;
    for (int j = 0; j < n; ++j) v[j] = w[j] / nw;
    s = std::sqrt(nw);
  }
  return s;
}

TEST(Cells, TanhRnnContractsWhenWNormBelowOne) {
  std::mt19937_64 rng(21);
  double worst = 0;
  for (int n : {1, 5, 16}) {
    Config c{n, 3, true};
    auto P = tanh_params(rng, c);
    const double norm = spectral_norm(P.v[0], n);
    for (double& x : P.v[0]) x *= 0.9 / norm;  // ‖W‖₂ = 0.9
    const auto cell = make_tanh(P, c);
    std::vector<double> J(size_t(n) * n);
    for (int p = 0; p < 20; ++p) {
      // Small states: sech² ≈ 1 and ‖J‖₂ close to 0.9, the hardest case.
      const auto s = gaussian(rng, size_t(n), p < 10 ? 0.05 : 2.0);
      const auto u = gaussian(rng, 3, p < 10 ? 0.0 : 1.0);
      cell.jacobian(s.data(), u.data(), J.data(), nullptr);
      worst = std::max(worst, spectral_norm(J, n));
    }
  }
  // ‖diag(sech²) W‖₂ ≤ max sech² · ‖W‖₂ ≤ 0.9; the power-iteration estimate is a lower bound.
  EXPECT_LT(worst, 1.0);
  EXPECT_LE(worst, 0.9 + 1e-12);
  record_max("max_J_norm", worst);
}

// --- float ------------------------------------------------------------------------------------------

TEST(Cells, FloatAgreesWithDouble) {
  std::mt19937_64 rng(31);
  double worst = 0;
  for (const Config& c : {Config{5, 3, true}, Config{16, 0, false}, Config{16, 3, true}}) {
    worst = std::max(worst, float_vs_double(tanh_params(rng, c), c, kMakeTanhF, kMakeTanhD, rng, 1));
    worst = std::max(worst, float_vs_double(gru_params(rng, c), c, kMakeGruF, kMakeGruD, rng, 1));
    const Config cm{c.n, c.m > 0 ? c.n : 0, c.biases};
    worst = std::max(worst,
                     float_vs_double(meanfield_params(rng, cm), cm, kMakeMfF, kMakeMfD, rng, 1));
  }
  for (const Config& c : {Config{4, 3, true}, Config{8, 3, false}})
    worst = std::max(worst, float_vs_double(lstm_params(rng, c), c, kMakeLstmF, kMakeLstmD, rng, 1));

  // Lorenz-63 RK4 at points on the attractor's scale.
  const OdeRk4Cell<double, math::Lorenz63<double>> cd{math::Lorenz63<double>{}, 0.01};
  const OdeRk4Cell<float, math::Lorenz63<float>> cf{math::Lorenz63<float>{}, 0.01f};
  const OdeEulerCell<double, math::Lorenz63<double>> ed{math::Lorenz63<double>{}, 0.01};
  const OdeEulerCell<float, math::Lorenz63<float>> ef{math::Lorenz63<float>{}, 0.01f};
  for (int p = 0; p < 4; ++p) {
    auto s = gaussian(rng, 3, 8.0);
    s[2] += 20.0;
    for (double& x : s) x = double(float(x));
    const float sf[3] = {float(s[0]), float(s[1]), float(s[2])};
    double wd[64], s1[3], J[9];
    float wf[64], s1f[3], Jf[9];
    for (int which = 0; which < 2; ++which) {
      if (which == 0) {
        cd.step_and_jacobian(s.data(), nullptr, s1, J, wd);
        cf.step_and_jacobian(sf, nullptr, s1f, Jf, wf);
      } else {
        ed.step_and_jacobian(s.data(), nullptr, s1, J, wd);
        ef.step_and_jacobian(sf, nullptr, s1f, Jf, wf);
      }
      double ms = 0, mj = 0, es = 0, ej = 0;
      for (int i = 0; i < 3; ++i) ms = std::max(ms, std::fabs(s1[i]));
      for (int i = 0; i < 9; ++i) mj = std::max(mj, std::fabs(J[i]));
      for (int i = 0; i < 3; ++i) es = std::max(es, std::fabs(double(s1f[i]) - s1[i]));
      for (int i = 0; i < 9; ++i) ej = std::max(ej, std::fabs(double(Jf[i]) - J[i]));
      worst = std::max({worst, es / ms, ej / mj});
    }
  }
  // float eps is 6e-8; dot products of length ≤ 19 and a few transcendental calls accumulate to a
  // few 1e-7 relative to the largest entry. 1e-5 is the bound asked of the float instantiation.
  EXPECT_LT(worst, 1e-5);
  record_max("float_rel_err", worst);
}

}  // namespace
}  // namespace dynx::test
