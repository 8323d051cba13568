// Built-in dynamical systems as Jacobian sources (src/goom/systems.hpp), and the public
// system_dimension / system_jacobians.

#include "goom/systems.hpp"

#include "core/check.hpp"

#include <dynx/error.hpp>
#include <dynx/math/dynamical_systems.hpp>

#include <cmath>
#include <random>
#include <string>
#include <variant>
#include <vector>

namespace dynx {
namespace detail {
namespace {

using System = std::variant<math::Lorenz63<double>, math::Rossler<double>, math::Lorenz96<double>,
                            math::Henon<double>, math::TanhRnn<double>>;

template <class S>
constexpr bool is_flow_v = std::is_same_v<S, math::Lorenz63<double>> ||
                           std::is_same_v<S, math::Rossler<double>> ||
                           std::is_same_v<S, math::Lorenz96<double>>;

// Sets `field` from the parameter `name` when given; every parameter must be used by the system.
struct Params {
  const SystemSpec& spec;
  std::vector<bool> used;
  explicit Params(const SystemSpec& s) : spec(s), used(s.params.size(), false) {}
  void take(const char* name, double& field) {
    for (std::size_t i = 0; i < spec.params.size(); ++i)
      if (spec.params[i].first == name) {
        DYNX_EXPECTS(std::isfinite(spec.params[i].second),
                     fmt::format("system {}: parameter `{}` must be finite, got {}", spec.name, name,
                                 spec.params[i].second));
        field = spec.params[i].second;
        used[i] = true;
      }
  }
  void finish(const char* known) {
    for (std::size_t i = 0; i < used.size(); ++i)
      DYNX_EXPECTS(used[i], fmt::format("system {}: unknown parameter `{}` (known: {})", spec.name,
                                        spec.params[i].first, known));
  }
};

}  // namespace

struct SystemIntegrator::Impl {
  System system;
  std::vector<double> weights;  // tanh-rnn: W (n × n)
  std::vector<double> x, work;
  double dt = 1;
  TangentKind tangent = TangentKind::rk4_exact;
  std::int64_t d = 0;
  std::string name;

  // One step: Jacobian of the step at the current state into J (may be null), state advanced.
  template <class S>
  void step(const S& s, double* J) {
    if constexpr (is_flow_v<S>) {
      if (!J) {
        math::rk4_step(s, dt, x.data(), work.data());
      } else if (tangent == TangentKind::rk4_exact) {
        math::rk4_step_tangent(s, dt, x.data(), J, work.data());
      } else {
        math::euler_tangent(s, dt, x.data(), J);  // at x_t, then the state by RK4 as always
        math::rk4_step(s, dt, x.data(), work.data());
      }
    } else {
      if (J) s.jacobian(x.data(), J);
      double* next = work.data();
      s.step(x.data(), next);
      std::copy(next, next + d, x.data());
    }
  }
  void check_state(std::int64_t at) const {
    for (double v : x)
      if (!std::isfinite(v))
        throw NumericalError(fmt::format(
            "system {}: the trajectory left the float range after {} steps (a divergent orbit: "
            "check the parameters, dt and the initial state)",
            name, at));
  }
};

SystemIntegrator::SystemIntegrator(const SystemSpec& spec, const SystemRunOptions& run)
    : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  m.name = spec.name;
  Params p(spec);
  DYNX_EXPECTS(run.transient >= 0,
               fmt::format("system {}: `transient` must be ≥ 0, got {}", spec.name, run.transient));
  DYNX_EXPECTS(spec.n >= 0, fmt::format("system {}: `n` must be ≥ 0, got {}", spec.name, spec.n));
  bool flow = true;
  if (spec.name == "lorenz63") {
    math::Lorenz63<double> s;
    p.take("sigma", s.sigma);
    p.take("rho", s.rho);
    p.take("beta", s.beta);
    p.finish("sigma, rho, beta");
    m.system = s;
  } else if (spec.name == "rossler") {
    math::Rossler<double> s;
    p.take("a", s.a);
    p.take("b", s.b);
    p.take("c", s.c);
    p.finish("a, b, c");
    m.system = s;
  } else if (spec.name == "lorenz96") {
    math::Lorenz96<double> s;
    s.n = spec.n == 0 ? 40 : int(spec.n);
    DYNX_EXPECTS(spec.n == 0 || (spec.n >= 4 && spec.n <= 4096),
                 fmt::format("system lorenz96: `n` must be in [4, 4096], got {}", spec.n));
    p.take("F", s.F);
    p.finish("F");
    m.system = s;
  } else if (spec.name == "henon") {
    math::Henon<double> s;
    p.take("a", s.a);
    p.take("b", s.b);
    p.finish("a, b");
    m.system = s;
    flow = false;
  } else if (spec.name == "tanh-rnn") {
    const std::int64_t n = spec.n == 0 ? 64 : spec.n;
    DYNX_EXPECTS(n >= 1 && n <= 4096,
                 fmt::format("system tanh-rnn: `n` must be in [1, 4096], got {}", spec.n));
    double gain = 2.0;  // > 1: the chaotic regime of random tanh networks
    p.take("gain", gain);
    p.finish("gain");
    std::mt19937_64 rng(spec.seed);
    std::normal_distribution<double> normal(0.0, gain / std::sqrt(double(n)));
    m.weights.resize(std::size_t(n * n));
    for (auto& w : m.weights) w = normal(rng);
    math::TanhRnn<double> s;
    s.W = m.weights.data();
    s.n = int(n);
    m.system = s;
    flow = false;
  } else {
    DYNX_EXPECTS(false, fmt::format("unknown system `{}` (known: lorenz63, rossler, lorenz96, "
                                    "henon, tanh-rnn)",
                                    spec.name));
  }
  if (flow) {
    DYNX_EXPECTS(std::isfinite(run.dt) && run.dt > 0,
                 fmt::format("system {}: `dt` must be finite and > 0, got {}", spec.name, run.dt));
    m.dt = run.dt;
  }
  m.tangent = run.tangent;
  std::visit(
      [&](const auto& s) {
        m.d = s.dim();
        m.x.resize(std::size_t(m.d));
        math::default_initial_state(s, m.x.data());
        m.work.resize(std::size_t(std::max(math::rk4_tangent_work_size(int(m.d)), int(m.d))));
      },
      m.system);
  if (spec.seed != 0) {  // a different trajectory per seed
    std::mt19937_64 rng(spec.seed ^ 0x9e3779b97f4a7c15ull);
    std::normal_distribution<double> normal(0.0, 1e-3);
    for (auto& v : m.x) v += normal(rng);
  }
  std::visit([&](const auto& s) {
    for (std::int64_t t = 0; t < run.transient; ++t) m.step(s, nullptr);
  }, m.system);
  m.check_state(run.transient);
}

SystemIntegrator::~SystemIntegrator() = default;
std::int64_t SystemIntegrator::dim() const noexcept { return impl_->d; }
bool SystemIntegrator::is_flow() const noexcept {
  return std::visit([](const auto& s) { return is_flow_v<std::decay_t<decltype(s)>>; }, impl_->system);
}

void SystemIntegrator::next(MatrixBatch<double> jac) {
  Impl& m = *impl_;
  DYNX_EXPECTS(jac.rows == m.d && jac.cols == m.d && jac.device.kind() == DeviceKind::cpu,
               fmt::format("system {}: Jacobians must be host {} matrices, got {}", m.name,
                           shape_str(m.d, m.d), shape_str(jac.rows, jac.cols)));
  std::vector<double> J(std::size_t(m.d * m.d));
  std::visit([&](const auto& s) {
    for (std::int64_t t = 0; t < jac.count; ++t) {
      m.step(s, J.data());
      for (std::int64_t j = 0; j < m.d; ++j)
        for (std::int64_t i = 0; i < m.d; ++i) jac(i, j, t) = J[std::size_t(j * m.d + i)];
    }
  }, m.system);
  m.check_state(jac.count);
}

}  // namespace detail

std::int64_t system_dimension(const SystemSpec& system) {
  SystemRunOptions run;
  run.transient = 0;
  return detail::SystemIntegrator(system, run).dim();
}

void system_jacobians(const SystemSpec& system, const SystemRunOptions& run,
                      MatrixBatch<double> jac) {
  detail::SystemIntegrator integ(system, run);
  DYNX_EXPECTS(jac.count == run.steps,
               fmt::format("system_jacobians: `jac` holds {} matrices but run.steps = {}", jac.count,
                           run.steps));
  integ.next(jac);
}

}  // namespace dynx
