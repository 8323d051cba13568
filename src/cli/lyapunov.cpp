// `dynx lyapunov`: the Lyapunov spectrum of a built-in system or of Jacobians read from a .npy or
// HDF5 file, by any of the methods of include/dynx/lyapunov.hpp. Prints a table, writes a JSON
// record of the settings and results and an SVG plot of the running estimates.

#include "cli/cli.hpp"

#include <dynx/dynx.hpp>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <optional>

namespace dynx::cli {

const char* const kLyapunovUsage =
    "usage: dynx lyapunov [--system NAME | --jacobians FILE] [options]\n"
    "\n"
    "Lyapunov spectrum of a built-in system, integrated here in float64 (flows by RK4 with the\n"
    "exact Jacobian of each step), or of a sequence of Jacobians J_t (v_{t+1} = J_t v_t).\n"
    "\n"
    "input (default: --system lorenz63):\n"
    "  --system NAME          lorenz63 | rossler | lorenz96 | henon | tanh-rnn\n"
    "  --param NAME=VALUE     system parameter (repeatable): lorenz63 sigma rho beta; rossler\n"
    "                         a b c; lorenz96 F; henon a b; tanh-rnn gain\n"
    "  --n N                  lorenz96 / tanh-rnn dimension (default 40 / 64)\n"
    "  --seed N               tanh-rnn weights, initial-state perturbation, random starts (0)\n"
    "  --steps N              counted steps (default 100000)\n"
    "  --dt X                 integration step of a flow, or time per Jacobian of a file (0.01;\n"
    "                         1 for henon and tanh-rnn)\n"
    "  --transient N          trajectory steps discarded first (default 10000)\n"
    "  --tangent rk4|euler    step Jacobian of a flow (default rk4: exact; euler: I + dt Df, the\n"
    "                         reference's choice, biased by O(dt))\n"
    "  --jacobians FILE       .npy of shape (steps, d, d), [t, i, j] = dx_i'/dx_j, or\n"
    "                         FILE.h5:/DATASET; --steps is then the file's length minus --burn-in\n"
    "  --dtype f64|f32        precision for file Jacobians (default f64)\n"
    "method:\n"
    "  --method sequential|overlapped|selective-reset|largest\n"
    "                         sequential QR (default on cpu), overlapped chunks (default on cuda),\n"
    "                         the reference's parallel scan with selective resetting, or the\n"
    "                         largest exponent from one reduce\n"
    "  --k K                  the K largest exponents (default all)\n"
    "  --burn-in N            steps that only align the deviation vectors (default 1000)\n"
    "  --chunk N  --warmup N  overlapped chunks (default: automatic)\n"
    "  --max-cos-sim X (0.99999)  --n-above-max N (1)   selective resetting\n"
    "run:\n"
    "  --device cpu|cuda[:N]  --threads N\n"
    "  --points N             running estimates recorded for the plot (default 200)\n"
    "  --out DIR              output folder (default dynx-lyapunov-out)\n"
    "  --quiet                no table and no progress\n"
    "\n"
    "Writes DIR/result.json (settings, versions, exponents, sum-rule residual, resets, status,\n"
    "timings, running estimates) and DIR/convergence.svg (the running estimates).\n"
    "Exit status: 0 done, 1 bad data or failed run, 2 bad command line.\n";

namespace {

using nlohmann::json;
namespace fs = std::filesystem;

struct Options {
  SystemSpec system;
  bool system_given = false;
  std::string jacobians;
  SystemRunOptions run;
  bool dt_given = false;
  LyapunovOptions lyap;
  bool method_given = false, burn_in_given = false;
  bool f32 = false;
  Device device = Device::cpu();
  int threads = 0;
  std::int64_t points = 200;
  std::string out = "dynx-lyapunov-out";
  bool quiet = false;
  std::vector<std::string> argv;
};

Options parse(const std::vector<std::string>& args) {
  Options o;
  o.argv = args;
  o.lyap.burn_in = 1000;
  constexpr std::int64_t kBig = std::int64_t(1) << 40;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= args.size()) throw UsageError(a + " needs a value");
      return args[++i];
    };
    if (a == "--system") o.system.name = value(), o.system_given = true;
    else if (a == "--param") {
      const std::string v = value();
      const auto eq = v.find('=');
      if (eq == std::string::npos || eq == 0)
        throw UsageError("--param expects NAME=VALUE, got '" + v + "'");
      o.system.params.emplace_back(v.substr(0, eq),
                                   parse_double(a, v.substr(eq + 1), -HUGE_VAL, HUGE_VAL));
    } else if (a == "--n") o.system.n = parse_int(a, value(), 1, 4096);
    else if (a == "--seed") {
      o.system.seed = std::uint64_t(parse_int(a, value(), 0, kBig));
      o.lyap.seed = o.system.seed;
    } else if (a == "--steps") o.run.steps = parse_int(a, value(), 1, kBig);
    else if (a == "--dt") o.run.dt = parse_double(a, value(), 1e-12, 1e6), o.dt_given = true;
    else if (a == "--transient") o.run.transient = parse_int(a, value(), 0, kBig);
    else if (a == "--tangent") {
      const std::string v = value();
      if (v == "rk4") o.run.tangent = TangentKind::rk4_exact;
      else if (v == "euler") o.run.tangent = TangentKind::euler;
      else throw UsageError("--tangent expects rk4|euler, got '" + v + "'");
    } else if (a == "--jacobians") o.jacobians = value();
    else if (a == "--dtype") {
      const std::string v = value();
      if (v != "f32" && v != "f64") throw UsageError("--dtype expects f32|f64, got '" + v + "'");
      o.f32 = v == "f32";
    } else if (a == "--method") {
      const std::string v = value();
      static const std::map<std::string, LyapunovMethod> kMethods = {
          {"sequential", LyapunovMethod::sequential_qr},
          {"overlapped", LyapunovMethod::overlapped_chunks},
          {"selective-reset", LyapunovMethod::selective_reset},
          {"largest", LyapunovMethod::largest_reduce}};
      const auto it = kMethods.find(v);
      if (it == kMethods.end())
        throw UsageError("--method expects sequential|overlapped|selective-reset|largest, got '" +
                         v + "'");
      o.lyap.method = it->second;
      o.method_given = true;
    } else if (a == "--k") o.lyap.k = parse_int(a, value(), 1, 1 << 20);
    else if (a == "--burn-in") o.lyap.burn_in = parse_int(a, value(), 0, kBig), o.burn_in_given = true;
    else if (a == "--chunk") o.lyap.chunk = parse_int(a, value(), 1, kBig);
    else if (a == "--warmup") o.lyap.warmup = parse_int(a, value(), 1, kBig);
    else if (a == "--max-cos-sim") o.lyap.max_cos_sim = parse_double(a, value(), 0, 0.999999999999);
    else if (a == "--n-above-max") o.lyap.n_above_max = parse_int(a, value(), 1, 1 << 20);
    else if (a == "--device") {
      const std::string v = value();
      try {
        o.device = Device::parse(v);
      } catch (const InvalidArgument&) {
        throw UsageError("--device expects cpu, cuda or cuda:N, got '" + v + "'");
      }
    } else if (a == "--threads") o.threads = int(parse_int(a, value(), 1, 4096));
    else if (a == "--points") o.points = parse_int(a, value(), 0, 1000000);
    else if (a == "--out") o.out = value();
    else if (a == "--quiet") o.quiet = true;
    else throw UsageError("unknown option '" + a + "'");
  }
  if (!o.jacobians.empty() && o.system_given)
    throw UsageError("--system and --jacobians exclude each other");
  if (!o.jacobians.empty() && (!o.system.params.empty() || o.system.n != 0))
    throw UsageError("--param and --n describe a built-in system, not --jacobians");
  if (!o.method_given)
    o.lyap.method = o.device.is_cpu() ? LyapunovMethod::sequential_qr
                                      : LyapunovMethod::overlapped_chunks;
  return o;
}

// Literature spectra of the built-in systems at their default parameters (spec §7.2).
std::vector<double> literature(const Options& o) {
  if (!o.jacobians.empty() || !o.system.params.empty()) return {};
  if (o.system.name == "lorenz63") return {0.9056, 0.0, -14.5723};
  if (o.system.name == "rossler") return {0.0714, 0.0, -5.3943};
  if (o.system.name == "henon") return {0.41922, -1.62319};
  return {};
}

// Jacobians from a file as host float64, (steps, d, d) in C order → column-major d × d each.
std::vector<double> read_jacobians(const std::string& spec, std::int64_t& d, std::int64_t& steps) {
  io::Array arr;
  const auto colon = spec.rfind(':');
  const std::string lower = [&] {
    std::string s = spec;
    for (auto& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
    return s;
  }();
  const bool h5 = lower.find(".h5") != std::string::npos || lower.find(".hdf5") != std::string::npos;
  if (h5) {
    const bool has_obj = colon != std::string::npos && colon > 1 && spec.find('/', colon) == colon + 1;
    const std::string path = has_obj ? spec.substr(0, colon) : spec;
    const std::vector<io::Array> all = io::read_hdf5(path, has_obj ? spec.substr(colon + 1) : "");
    if (all.size() != 1)
      throw InvalidArgument(spec + ": holds " + std::to_string(all.size()) +
                            " datasets; name one as FILE.h5:/DATASET");
    arr = all[0];
  } else {
    arr = io::read_npy(spec);
  }
  if (arr.shape.size() != 3 || arr.shape[1] != arr.shape[2] || arr.shape[1] < 1 || arr.shape[0] < 1)
    throw InvalidArgument(spec + ": Jacobians must have shape (steps, d, d), got " +
                          [&] {
                            std::string s = "(";
                            for (std::size_t i = 0; i < arr.shape.size(); ++i)
                              s += (i ? ", " : "") + std::to_string(arr.shape[i]);
                            return s + ")";
                          }());
  steps = arr.shape[0];
  d = arr.shape[1];
  std::vector<double> jac(arr.data.size());
  for (std::int64_t t = 0; t < steps; ++t)
    for (std::int64_t i = 0; i < d; ++i)
      for (std::int64_t j = 0; j < d; ++j)
        jac[std::size_t(t * d * d + j * d + i)] = arr.data[std::size_t(t * d * d + i * d + j)];
  return jac;
}

template <class T>
LyapunovResult run_file(Context& ctx, const std::vector<double>& host, std::int64_t d,
                        std::int64_t steps, const LyapunovOptions& o) {
  const std::vector<T> h(host.begin(), host.end());
  if (ctx.device().is_cpu())
    return lyapunov_spectrum<T>(ctx, MatrixBatch<const T>(h.data(), d, d, steps), o);
  Buffer<T> dev = to_device(ctx, h.data(), h.size());
  return lyapunov_spectrum<T>(ctx, MatrixBatch<const T>(dev.data(), d, d, steps, ctx.device()), o);
}

json nan_to_null(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

}  // namespace

int run_lyapunov(const std::vector<std::string>& args) {
  Options o = parse(args);
  Context ctx(o.device);
  if (o.threads > 0) ctx.set_num_threads(o.threads);
  const bool from_file = !o.jacobians.empty();
  std::vector<double> host;
  std::int64_t d = 0, file_steps = 0;
  if (from_file) {
    host = read_jacobians(o.jacobians, d, file_steps);
    if (o.lyap.burn_in >= file_steps) {
      if (o.burn_in_given)
        throw InvalidArgument(o.jacobians + ": --burn-in " + std::to_string(o.lyap.burn_in) +
                              " leaves none of its " + std::to_string(file_steps) +
                              " Jacobians to count");
      o.lyap.burn_in = file_steps / 10;  // the default 1000 is too long for this file
    }
    o.run.steps = file_steps - o.lyap.burn_in;
    o.lyap.dt = o.dt_given ? o.run.dt : 1.0;
  } else {
    d = system_dimension(o.system);
  }
  if (o.points > 0) o.lyap.record_every = std::max<std::int64_t>(1, o.run.steps / o.points);
  if (o.lyap.method == LyapunovMethod::largest_reduce) o.lyap.record_every = 0;

  if (!o.quiet) {
    std::printf("dynx %s, %s: %s, %s, %lld steps\n", version(), o.device.str().c_str(),
                from_file ? o.jacobians.c_str() : o.system.name.c_str(), to_string(o.lyap.method),
                (long long)o.run.steps);
  }
  Progress progress("lyapunov", "steps", !o.quiet);
  o.lyap.progress = [&](std::int64_t done, std::int64_t total) { progress(done, total); };
  const auto t0 = std::chrono::steady_clock::now();
  LyapunovResult r;
  if (from_file) {
    r = o.f32 ? run_file<float>(ctx, host, d, file_steps, o.lyap)
              : run_file<double>(ctx, host, d, file_steps, o.lyap);
  } else {
    r = lyapunov_spectrum_of_system(ctx, o.system, o.run, o.lyap);
  }
  const double seconds = seconds_since(t0);
  progress.finish();
  const bool is_map = !from_file && (o.system.name == "henon" || o.system.name == "tanh-rnn");
  const double dt = from_file ? o.lyap.dt : is_map ? 1.0 : o.run.dt;

  const std::vector<double> lit = literature(o);
  if (!o.quiet) {
    std::printf("\n  %-4s %14s%s\n", "k", "exponent", lit.empty() ? "" : "     literature");
    for (std::size_t i = 0; i < r.exponents.size(); ++i) {
      std::printf("  %-4zu %14.6f", i + 1, r.exponents[i]);
      if (i < lit.size()) std::printf("   %12.5f", lit[i]);
      std::printf("\n");
    }
    double sum = 0;
    for (double v : r.exponents) sum += v;
    std::printf("\n  sum %.6f, mean ln|det J|/dt %.6f, sum-rule residual %.3g\n", sum,
                r.mean_log_det, r.sum_rule_residual);
    if (r.method == LyapunovMethod::selective_reset) std::printf("  resets: %lld\n", (long long)r.resets);
    if (r.method == LyapunovMethod::overlapped_chunks)
      std::printf("  chunks: %lld, warm-up %lld steps each\n", (long long)r.chunks, (long long)r.warmup);
    std::printf("  status: %s, %.3f s (%.3g steps/s)\n", to_string(r.status), seconds,
                double(o.run.steps) / std::max(seconds, 1e-9));
  }

  const fs::path dir(o.out);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw Error("cannot create output folder " + dir.string() + ": " + ec.message());

  const std::size_t k = r.exponents.size();
  if (!r.running_steps.empty()) {
    std::vector<double> x;
    for (std::int64_t s : r.running_steps) x.push_back(double(s) * dt);
    std::vector<io::LineSeries> series(k);
    for (std::size_t i = 0; i < k; ++i) {
      series[i].label = "λ" + std::to_string(i + 1);
      for (std::size_t p = 0; p < r.running_steps.size(); ++p)
        series[i].y.push_back(r.running[p * k + i]);
    }
    io::write_line_plot_svg((dir / "convergence.svg").string(), x, series,
                            "dynx lyapunov: " + (from_file ? o.jacobians : o.system.name) + " (" +
                                to_string(r.method) + ")",
                            is_map || (from_file && !o.dt_given) ? "steps" : "time",
                            "running estimate", /*panel_per_series=*/true);
  }

  json j;
  j["tool"] = "dynx lyapunov";
  j["version"] = version();
  j["build"] = build_info();
  j["date_utc"] = utc_now();
  j["command"] = o.argv;
  j["device"] = o.device.str();
  j["threads"] = o.device.is_cpu() ? ctx.num_threads() : 0;
  if (from_file) {
    j["input"] = {{"jacobians", o.jacobians}, {"d", d}, {"steps_in_file", file_steps},
                  {"dtype", o.f32 ? "float32" : "float64"}};
  } else {
    json params = json::object();
    for (const auto& [name, v] : o.system.params) params[name] = v;
    j["input"] = {{"system", o.system.name}, {"d", d}, {"params", params},
                  {"n", o.system.n}, {"seed", o.system.seed}, {"dt", o.run.dt},
                  {"transient", o.run.transient},
                  {"tangent", o.run.tangent == TangentKind::euler ? "euler" : "rk4_exact"}};
  }
  j["settings"] = {{"method", to_string(o.lyap.method)}, {"k", o.lyap.k == 0 ? d : o.lyap.k},
                   {"steps", o.run.steps},           {"burn_in", o.lyap.burn_in},
                   {"dt", dt},                       {"chunk", o.lyap.chunk},
                   {"warmup", o.lyap.warmup},        {"max_cos_sim", o.lyap.max_cos_sim},
                   {"n_above_max", o.lyap.n_above_max}, {"seed", o.lyap.seed}};
  json ex = json::array();
  for (double v : r.exponents) ex.push_back(nan_to_null(v));
  j["result"] = {{"exponents", ex},
                 {"status", to_string(r.status)},
                 {"sum_rule_residual", nan_to_null(r.sum_rule_residual)},
                 {"mean_log_det_per_time", nan_to_null(r.mean_log_det)},
                 {"counted_steps", r.steps},
                 {"resets", r.resets},
                 {"chunks", r.chunks},
                 {"warmup", r.warmup},
                 {"seconds", seconds}};
  if (!lit.empty()) j["result"]["literature"] = lit;
  json run = json::array();
  for (std::size_t p = 0; p < r.running_steps.size(); ++p) {
    json e = json::array();
    for (std::size_t i = 0; i < k; ++i) e.push_back(nan_to_null(r.running[p * k + i]));
    run.push_back({{"steps", r.running_steps[p]}, {"estimates", e}});
  }
  j["running"] = run;
  std::ofstream f(dir / "result.json");
  f << j.dump(2) << "\n";
  if (!f) throw Error("cannot write " + (dir / "result.json").string());
  if (!o.quiet)
    std::printf("\nwrote %s/result.json%s\n", dir.string().c_str(),
                r.running_steps.empty() ? "" : " and convergence.svg");
  return r.status == LyapunovStatus::ok ? kExitOk : kExitError;
}

}  // namespace dynx::cli
