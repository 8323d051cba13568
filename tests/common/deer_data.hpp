#pragma once
// Seeded weights, inputs and initial states of the built-in DEER cells (spec deer.md §6), shared by
// the CPU tests (tests/unit/test_deer.cpp), the CUDA tests and the benchmark. All weights of one
// cell live in one vector, so a device copy is one upload; `cell(base)` rebinds the cell's
// pointers to any copy of that vector.

#include <dynx/math/cells.hpp>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

namespace dynx::test {

enum class CellKind { tanh_rnn, mean_field_rnn, gru, lstm };

inline const char* cell_name(CellKind k) {
  switch (k) {
    case CellKind::tanh_rnn: return "tanh_rnn";
    case CellKind::mean_field_rnn: return "mean_field_rnn";
    case CellKind::gru: return "gru";
    case CellKind::lstm: return "lstm";
  }
  return "?";
}

template <class T>
struct NetWeights {
  CellKind kind = CellKind::tanh_rnn;
  int n = 0, m = 0;
  std::vector<T> data;
  std::vector<std::size_t> off;  // offset of each weight, in the order of the cell's members

  int state_dim() const { return kind == CellKind::lstm ? 2 * n : n; }

  math::TanhRnnCell<T> tanh_rnn(const T* base) const {
    return {base + off[0], base + off[1], base + off[2], n, m};
  }
  math::MeanFieldRnnCell<T> mean_field_rnn(const T* base) const { return {base + off[0], n, m}; }
  math::GruCell<T> gru(const T* base) const {
    math::GruCell<T> c;
    const T** p[] = {&c.W_ir, &c.W_iz, &c.W_in, &c.W_hr, &c.W_hz, &c.W_hn,
                     &c.b_ir, &c.b_iz, &c.b_in, &c.b_hr, &c.b_hz, &c.b_hn};
    for (std::size_t i = 0; i < 12; ++i) *p[i] = base + off[i];
    c.n = n;
    c.m = m;
    return c;
  }
  math::LstmCell<T> lstm(const T* base) const {
    math::LstmCell<T> c;
    const T** p[] = {&c.W_ii, &c.W_if, &c.W_ig, &c.W_io, &c.W_hi, &c.W_hf, &c.W_hg, &c.W_ho,
                     &c.b_ii, &c.b_if, &c.b_ig, &c.b_io, &c.b_hi, &c.b_hf, &c.b_hg, &c.b_ho};
    for (std::size_t i = 0; i < 16; ++i) *p[i] = base + off[i];
    c.n = n;
    c.m = m;
    return c;
  }
};

namespace detail_deer {

// A random n × n orthogonal matrix (Gram–Schmidt on a Gaussian matrix, twice for accuracy).
inline std::vector<double> orthogonal(int n, std::mt19937_64& rng) {
  std::normal_distribution<double> g;
  std::vector<double> q(std::size_t(n * n));
  for (auto& v : q) v = g(rng);
  for (int j = 0; j < n; ++j)
    for (int pass = 0; pass < 2; ++pass) {
      for (int k = 0; k < j; ++k) {
        double dot = 0;
        for (int i = 0; i < n; ++i) dot += q[std::size_t(k * n + i)] * q[std::size_t(j * n + i)];
        for (int i = 0; i < n; ++i) q[std::size_t(j * n + i)] -= dot * q[std::size_t(k * n + i)];
      }
      double nrm = 0;
      for (int i = 0; i < n; ++i) nrm += q[std::size_t(j * n + i)] * q[std::size_t(j * n + i)];
      nrm = std::sqrt(nrm);
      for (int i = 0; i < n; ++i) q[std::size_t(j * n + i)] /= nrm;
    }
  return q;
}

}  // namespace detail_deer

/// Weights of a built-in cell with recurrent gain g:
///   tanh_rnn        W ~ N(0, g²/n), U ~ N(0, 1/m), b ~ 0.1·N(0, 1/m)              (spec §6.1)
///   mean_field_rnn  W ~ N(0, g²/n) with W_ii = 0, input added unprojected (m = n)  (spec §6.2)
///   gru             flax-style: input kernels N(0, 1/m), recurrent g·orthogonal, zero biases (§6.3)
///   lstm            input N(0, 1/m), recurrent N(0, g²/n), forget-gate bias 1, others 0
template <class T>
NetWeights<T> make_weights(CellKind kind, int n, int m, double g, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> N01;
  NetWeights<T> w;
  w.kind = kind;
  w.n = n;
  w.m = kind == CellKind::mean_field_rnn ? n : m;
  std::vector<double> d;
  auto add = [&](std::size_t size, auto gen) {
    w.off.push_back(d.size());
    for (std::size_t i = 0; i < size; ++i) d.push_back(gen(i));
  };
  const std::size_t nn = std::size_t(n) * n, nm = std::size_t(n) * std::size_t(w.m);
  const double si = 1.0 / std::sqrt(double(std::max(1, w.m))), sh = g / std::sqrt(double(n));
  switch (kind) {
    case CellKind::tanh_rnn:
      add(nn, [&](std::size_t) { return sh * N01(rng); });
      add(nm, [&](std::size_t) { return si * N01(rng); });
      add(std::size_t(n), [&](std::size_t) { return 0.1 * si * N01(rng); });
      break;
    case CellKind::mean_field_rnn:
      add(nn, [&](std::size_t i) { return i % std::size_t(n + 1) == 0 ? 0.0 : sh * N01(rng); });
      break;
    case CellKind::gru: {
      for (int k = 0; k < 3; ++k) add(nm, [&](std::size_t) { return si * N01(rng); });
      for (int k = 0; k < 3; ++k) {
        const std::vector<double> q = detail_deer::orthogonal(n, rng);
        add(nn, [&](std::size_t i) { return g * q[i]; });
      }
      for (int k = 0; k < 6; ++k) add(std::size_t(n), [](std::size_t) { return 0.0; });
      break;
    }
    case CellKind::lstm:
      for (int k = 0; k < 4; ++k) add(nm, [&](std::size_t) { return si * N01(rng); });
      for (int k = 0; k < 4; ++k) add(nn, [&](std::size_t) { return sh * N01(rng); });
      for (int k = 0; k < 8; ++k) add(std::size_t(n), [&](std::size_t) { return k == 1 ? 1.0 : 0.0; });
      break;
  }
  w.data.assign(d.begin(), d.end());
  return w;
}

/// Inputs of B sequences of T steps (B × T × m): N(0, 1), or for the mean-field RNN the spec's
/// sinusoids a_i sin(ω_i t + φ_i), a ~ U(0, 0.2), ω ~ U(0.5, 3), φ ~ U(0, 2π), per sequence.
template <class T>
std::vector<T> make_inputs(CellKind kind, std::int64_t batch, std::int64_t steps, int m,
                           std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<T> u(std::size_t(batch * steps * m));
  if (kind == CellKind::mean_field_rnn) {
    std::uniform_real_distribution<double> ua(0, 0.2), uw(0.5, 3.0), up(0, 6.283185307179586);
    for (std::int64_t b = 0; b < batch; ++b)
      for (int i = 0; i < m; ++i) {
        const double a = ua(rng), w = uw(rng), ph = up(rng);
        for (std::int64_t t = 0; t < steps; ++t)
          u[std::size_t((b * steps + t) * m + i)] = T(a * std::sin(w * double(t + 1) + ph));
      }
  } else {
    std::normal_distribution<double> g;
    for (auto& v : u) v = T(g(rng));
  }
  return u;
}

/// Initial states U(−1, 1)·scale, B × D.
template <class T>
std::vector<T> make_s0(std::int64_t batch, int d, std::uint64_t seed, double scale = 1.0) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> g(-1, 1);
  std::vector<T> s(std::size_t(batch * d));
  for (auto& v : s) v = T(scale * g(rng));
  return s;
}

}  // namespace dynx::test
