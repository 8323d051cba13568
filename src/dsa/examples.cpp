// Built-in example systems of `dynx compare`: small data sets on which dynamics-based comparison
// (DSA) and state-based comparison (Procrustes shape distance, CKA) disagree in instructive ways.
// Everything is generated from one seed with a fixed algorithm, so results are reproducible.

#include <dynx/dsa.hpp>

#include <array>
#include <cmath>
#include <random>

namespace dynx {
namespace {

constexpr std::int64_t kTrials = 8;
constexpr std::int64_t kLength = 150;
constexpr std::int64_t kFeatures = 3;

using Vec2 = std::array<double, 2>;
using Map = std::array<double, kFeatures * 2>;  // 3 × 2 row-major: feature f = Σ_c M[f][c] x_c

struct Rng {
  std::mt19937_64 gen;
  std::normal_distribution<double> normal{0.0, 1.0};
  explicit Rng(std::uint64_t seed) : gen(seed) {}
  double operator()() { return normal(gen); }
};

/// A 3 × 2 map with orthonormal columns (Gram–Schmidt of a Gaussian matrix).
Map orthonormal_map(Rng& rng) {
  Map m{};
  for (auto& v : m) v = rng();
  for (int c = 0; c < 2; ++c) {
    for (int p = 0; p < c; ++p) {
      double d = 0;
      for (int f = 0; f < kFeatures; ++f) d += m[f * 2 + c] * m[f * 2 + p];
      for (int f = 0; f < kFeatures; ++f) m[f * 2 + c] -= d * m[f * 2 + p];
    }
    double nrm = 0;
    for (int f = 0; f < kFeatures; ++f) nrm += m[f * 2 + c] * m[f * 2 + c];
    nrm = std::sqrt(nrm);
    for (int f = 0; f < kFeatures; ++f) m[f * 2 + c] /= nrm;
  }
  return m;
}

/// Latent trajectories, kTrials × kLength 2-D states.
using Latent = std::vector<Vec2>;

/// x_{t+1} = r R(θ) x_t + σ e_t from x_0 ~ N(0, s0² I), one run per trial.
Latent damped_rotation(Rng& rng, double r, double theta, double sigma, double s0) {
  Latent x(std::size_t(kTrials * kLength));
  const double c = r * std::cos(theta), s = r * std::sin(theta);
  for (std::int64_t k = 0; k < kTrials; ++k) {
    Vec2 v{s0 * rng(), s0 * rng()};
    for (std::int64_t t = 0; t < kLength; ++t) {
      x[std::size_t(k * kLength + t)] = v;
      v = Vec2{c * v[0] - s * v[1] + sigma * rng(), s * v[0] + c * v[1] + sigma * rng()};
    }
  }
  return x;
}

/// Van der Pol x'' = μ(1 − x²)x' − x, sampled every `dt` (4 RK4 substeps per sample), with small
/// additive process noise per sample; initial states on a disk around the limit cycle.
Latent van_der_pol(Rng& rng, double mu, double dt, double sigma) {
  auto f = [mu](const Vec2& v) { return Vec2{v[1], mu * (1 - v[0] * v[0]) * v[1] - v[0]}; };
  const double h = dt / 4;
  auto sample_step = [&](Vec2& v) {  // 4 RK4 substeps
    for (int sub = 0; sub < 4; ++sub) {
      const Vec2 k1 = f(v), k2 = f({v[0] + h / 2 * k1[0], v[1] + h / 2 * k1[1]});
      const Vec2 k3 = f({v[0] + h / 2 * k2[0], v[1] + h / 2 * k2[1]});
      const Vec2 k4 = f({v[0] + h * k3[0], v[1] + h * k3[1]});
      v = {v[0] + h / 6 * (k1[0] + 2 * k2[0] + 2 * k3[0] + k4[0]),
           v[1] + h / 6 * (k1[1] + 2 * k2[1] + 2 * k3[1] + k4[1])};
    }
  };
  Latent x(std::size_t(kTrials * kLength));
  for (std::int64_t k = 0; k < kTrials; ++k) {
    Vec2 v{2.5 * rng(), 2.5 * rng()};
    for (int burn = 0; burn < 40; ++burn) sample_step(v);  // onto the cycle's neighbourhood
    for (std::int64_t t = 0; t < kLength; ++t) {
      x[std::size_t(k * kLength + t)] = v;
      sample_step(v);
      v[0] += sigma * rng();
      v[1] += sigma * rng();
    }
  }
  return x;
}

/// Observed features y = M x + noise · e, as a (trials, time, features) row-major array.
ExampleSystem observe(std::string name, std::string description, const Latent& x, const Map& m,
                      double noise, Rng& rng) {
  ExampleSystem s{std::move(name), std::move(description), kTrials, kLength, kFeatures, {}};
  s.data.resize(x.size() * kFeatures);
  for (std::size_t t = 0; t < x.size(); ++t)
    for (int f = 0; f < kFeatures; ++f)
      s.data[t * kFeatures + std::size_t(f)] =
          m[std::size_t(f * 2)] * x[t][0] + m[std::size_t(f * 2 + 1)] * x[t][1] + noise * rng();
  return s;
}

constexpr double kObsNoise = 0.02;

}  // namespace

std::vector<ExampleSystem> dsa_example_systems(std::uint64_t seed) {
  Rng rng(seed * 0x9E3779B97F4A7C15ull + 12345);
  std::vector<ExampleSystem> out;

  const Latent spiral = damped_rotation(rng, 0.97, 0.25, 0.3, 2.0);
  const Map q1 = orthonormal_map(rng);
  out.push_back(observe("spiral", "noise-driven damped rotation (r = 0.97, 0.25 rad/step) in 3 "
                                  "orthonormal features",
                        spiral, q1, kObsNoise, rng));

  // The same latent states through a non-orthogonal map: axes stretched 1 : 0.2 and sheared.
  Map sheared{};
  {
    const Map q = orthonormal_map(rng);
    const double a00 = 1.0, a01 = 0.8, a10 = 0.0, a11 = 0.2;  // x ↦ [[1, 0.8], [0, 0.2]] x
    for (int f = 0; f < kFeatures; ++f) {
      sheared[std::size_t(f * 2)] = q[std::size_t(f * 2)] * a00 + q[std::size_t(f * 2 + 1)] * a10;
      sheared[std::size_t(f * 2 + 1)] =
          q[std::size_t(f * 2)] * a01 + q[std::size_t(f * 2 + 1)] * a11;
    }
  }
  out.push_back(observe("spiral-sheared", "the same trajectories as `spiral` seen through a "
                                          "stretched and sheared linear map",
                        spiral, sheared, kObsNoise, rng));

  const Latent rerun = damped_rotation(rng, 0.97, 0.25, 0.3, 2.0);
  out.push_back(observe("spiral-rerun", "the dynamics of `spiral` run again (new initial states "
                                        "and noise) in other orthonormal features",
                        rerun, orthonormal_map(rng), kObsNoise, rng));

  // `spiral`'s states plus a small fast rotation: close in state space, different dynamics.
  const Latent fast = damped_rotation(rng, 0.97, 1.3, 0.12, 0.3);
  Latent mixed(spiral.size());
  for (std::size_t t = 0; t < spiral.size(); ++t)
    mixed[t] = {spiral[t][0] + fast[t][0], spiral[t][1] + fast[t][1]};
  out.push_back(observe("spiral-fast", "the states of `spiral` plus a small fast rotation "
                                       "(1.3 rad/step): alike in state space, different dynamics",
                        mixed, q1, kObsNoise, rng));

  const Latent vdp = van_der_pol(rng, 1.0, 0.15, 0.05);
  out.push_back(observe("vdp", "Van der Pol oscillator (mu = 1), sampled every 0.15, in 3 "
                               "orthonormal features",
                        vdp, orthonormal_map(rng), kObsNoise, rng));
  const Latent vdp2 = van_der_pol(rng, 1.0, 0.15, 0.05);
  out.push_back(observe("vdp-rotated", "the Van der Pol dynamics run again in other orthonormal "
                                       "features",
                        vdp2, orthonormal_map(rng), kObsNoise, rng));
  return out;
}

DsaOptions dsa_example_options() {
  DsaOptions o;
  // Three lags cover the Van der Pol cycle's curvature; rank 6 keeps the signal modes of every
  // example and drops most of the observation noise.
  o.fit.n_delays = 3;
  o.fit.rank = 6;
  o.score = DsaScore::angular;
  return o;
}

// ------------------------------------------------------------------------------------------------
// Driven systems for InputDSA

namespace {

constexpr std::int64_t kDrivenLatent = 6, kDrivenOutputs = 3, kDrivenTrials = 4, kDrivenLength = 400;

/// Column-major n × n: Q · blockdiag(r_i R(θ_i)) · Qᵀ with Q from Gram–Schmidt of a Gaussian.
std::vector<double> driven_dynamics(Rng& rng, double radius, double theta0) {
  const std::int64_t n = kDrivenLatent;
  std::vector<double> q(std::size_t(n * n)), d(std::size_t(n * n), 0.0), a(std::size_t(n * n), 0.0);
  for (auto& v : q) v = rng();
  for (std::int64_t j = 0; j < n; ++j) {
    for (std::int64_t p = 0; p < j; ++p) {
      double dot = 0;
      for (std::int64_t i = 0; i < n; ++i) dot += q[std::size_t(j * n + i)] * q[std::size_t(p * n + i)];
      for (std::int64_t i = 0; i < n; ++i) q[std::size_t(j * n + i)] -= dot * q[std::size_t(p * n + i)];
    }
    double nrm = 0;
    for (std::int64_t i = 0; i < n; ++i) nrm += q[std::size_t(j * n + i)] * q[std::size_t(j * n + i)];
    for (std::int64_t i = 0; i < n; ++i) q[std::size_t(j * n + i)] /= std::sqrt(nrm);
  }
  for (std::int64_t i = 0; i + 1 < n; i += 2) {
    const double th = theta0 + 0.35 * double(i), r = radius * (1.0 - 0.08 * double(i) / double(n));
    d[std::size_t(i * n + i)] = r * std::cos(th), d[std::size_t((i + 1) * n + i)] = -r * std::sin(th);
    d[std::size_t(i * n + i + 1)] = r * std::sin(th), d[std::size_t((i + 1) * n + i + 1)] = r * std::cos(th);
  }
  for (std::int64_t i = 0; i < n; ++i)  // a = q d qᵀ
    for (std::int64_t j = 0; j < n; ++j) {
      double v = 0;
      for (std::int64_t k = 0; k < n; ++k)
        for (std::int64_t l = 0; l < n; ++l)
          v += q[std::size_t(k * n + i)] * d[std::size_t(l * n + k)] * q[std::size_t(l * n + j)];
      a[std::size_t(j * n + i)] = v;
    }
  return a;
}

/// x' = 0.9 (A x + b u) + 0.1 tanh(A x + b u) + 0.01 w, y = C x + 0.01 v, u white.
DrivenExampleSystem simulate_driven(Rng& rng, const std::string& name, const std::string& what,
                                    const std::vector<double>& a, const std::vector<double>& b,
                                    const std::vector<double>& c) {
  const std::int64_t n = kDrivenLatent, p = kDrivenOutputs;
  DrivenExampleSystem s{name, what, kDrivenTrials, kDrivenLength, p, 1, {}, {}};
  for (std::int64_t k = 0; k < kDrivenTrials; ++k) {
    std::vector<double> x(static_cast<std::size_t>(n), 0.0), z(static_cast<std::size_t>(n));
    for (std::int64_t t = 0; t < kDrivenLength; ++t) {
      const double u = rng();
      for (std::int64_t i = 0; i < p; ++i) {
        double v = 0.01 * rng();
        for (std::int64_t j = 0; j < n; ++j) v += c[std::size_t(j * p + i)] * x[std::size_t(j)];
        s.y.push_back(v);
      }
      s.u.push_back(u);
      for (std::int64_t i = 0; i < n; ++i) {
        double v = b[std::size_t(i)] * u;
        for (std::int64_t j = 0; j < n; ++j) v += a[std::size_t(j * n + i)] * x[std::size_t(j)];
        z[std::size_t(i)] = 0.9 * v + 0.1 * std::tanh(v) + 0.01 * rng();
      }
      x = z;
    }
  }
  return s;
}

}  // namespace

std::vector<DrivenExampleSystem> input_dsa_example_systems(std::uint64_t seed) {
  Rng rng(seed * 0x9e3779b97f4a7c15ULL + 0x1234567ULL);
  const std::int64_t n = kDrivenLatent, p = kDrivenOutputs;
  const auto a1 = driven_dynamics(rng, 0.92, 0.3), a2 = driven_dynamics(rng, 0.82, 0.9);
  auto input_vector = [&](double gain) {
    std::vector<double> b(static_cast<std::size_t>(n));
    double nrm = 0;
    for (auto& v : b) v = rng(), nrm += v * v;
    for (auto& v : b) v *= gain / std::sqrt(nrm);
    return b;
  };
  const auto b1 = input_vector(0.5), b2 = input_vector(2.0);
  std::vector<double> c(std::size_t(p * n));  // 3 observed rows of a random rotation
  {
    std::vector<double> full = driven_dynamics(rng, 1.0, 0.0);  // an orthogonal-ish mix
    for (std::int64_t j = 0; j < n; ++j)
      for (std::int64_t i = 0; i < p; ++i) c[std::size_t(j * p + i)] = full[std::size_t(j * n + i)];
  }
  std::vector<DrivenExampleSystem> out;
  out.push_back(simulate_driven(rng, "A1-B1", "intrinsic dynamics A1, input operator B1", a1, b1, c));
  out.push_back(simulate_driven(rng, "A1-B2", "A1 driven through B2 (another direction, 4x the gain)", a1, b2, c));
  out.push_back(simulate_driven(rng, "A2-B1", "intrinsic dynamics A2 (slower decay), input B1", a2, b1, c));
  out.push_back(simulate_driven(rng, "A2-B2", "A2 driven through B2", a2, b2, c));
  // An independent run of A1-B1 seen through a rotation of its three outputs.
  DrivenExampleSystem rot = simulate_driven(rng, "A1-B1-rotated",
                                            "A1-B1 rerun, its outputs seen through a rotation", a1, b1, c);
  const double th = 0.7, cs = std::cos(th), sn = std::sin(th);
  for (std::size_t t = 0; t < rot.y.size(); t += std::size_t(p)) {
    const double y0 = rot.y[t], y1 = rot.y[t + 1];
    rot.y[t] = cs * y0 - sn * y1;
    rot.y[t + 1] = sn * y0 + cs * y1;
  }
  out.insert(out.begin() + 1, std::move(rot));
  return out;
}

InputDsaOptions input_dsa_example_options() {
  InputDsaOptions o;
  o.fit.n_delays = 6;
  o.fit.rank = kDrivenLatent;
  return o;
}

}  // namespace dynx
