// GOOM benchmarks, side by side in one run (bench/run_goom.sh):
//   1. scans over matrix products: matrices per second of matrix_product_scan (inclusive and
//      reduce, scaled and GOOM formats) against the same number of plain batched GEMMs of the
//      same size, for d = 3, 8, 16, 64, 256 (how close to the matmul rate the scan gets);
//   2. Lyapunov spectra of 10⁶ Lorenz-63 step Jacobians (and 2·10⁵ Gaussian 8×8): every method
//      against our sequential QR baseline on the same Jacobians, with the exponents' differences
//      (on a GPU also against sequential QR on the CPU backend).
// Every timed result is checked once (a fast wrong answer is a bug). Writes JSON to --out.
//
// usage: dynx_bench_goom [--device cpu|cuda:N] [--threads N] [--out FILE] [--quick]

#include <dynx/dynx.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>
#include <string>
#include <vector>

namespace {

using namespace dynx;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Best of `reps` runs of f (after one warm-up run), in seconds; f synchronises itself.
template <class F>
double best_time(int reps, F&& f) {
  f();
  double best = 1e300;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = Clock::now();
    f();
    best = std::min(best, seconds_since(t0));
  }
  return best;
}

template <class T>
Buffer<T> device_copy(Context& ctx, const std::vector<T>& h) {
  return to_device(ctx, h.data(), h.size());
}

json scan_case(Context& ctx, std::int64_t d, std::int64_t chains, std::int64_t steps, int reps) {
  const std::int64_t count = chains * steps;
  std::mt19937_64 rng(d);
  std::normal_distribution<double> normal(0.0, 1.0 / std::sqrt(double(d)));
  std::vector<double> h(std::size_t(count * d * d));
  for (auto& v : h) v = normal(rng);
  Buffer<double> m = device_copy(ctx, h), c(h.size(), ctx.device()), lg(h.size(), ctx.device());
  Buffer<std::uint8_t> ng(h.size(), ctx.device());
  const MatrixBatch<const double> mb(m.data(), d, d, count, ctx.device());
  GoomMatrixBatch<double> out{lg.matrices(d, d, count), ng.matrices(d, d, count)};

  // Plain batched GEMMs of the same count: C_i = M_i M_{i+1} (B shifted by one matrix).
  const std::int64_t gcount = count - 1;
  auto gemm = [&] {
    gemm_batched<double>(ctx, Op::n, Op::n, 1.0, MatrixBatch<const double>(m.data(), d, d, gcount, ctx.device()),
                         MatrixBatch<const double>(m.data() + d * d, d, d, gcount, ctx.device()), 0.0,
                         c.matrices(d, d, gcount));
    ctx.synchronize();
  };
  json row;
  row["d"] = d;
  row["chains"] = chains;
  row["steps"] = steps;
  const double tg = best_time(reps, gemm);
  row["gemm_matrices_per_s"] = double(gcount) / tg;
  std::printf("d=%-4lld chains=%lld steps=%-8lld gemm %.3g mat/s", (long long)d, (long long)chains,
              (long long)steps, double(gcount) / tg);
  struct Variant {
    const char* name;
    ScanKind kind;
    ScanFormat format;
  };
  for (const Variant& v : {Variant{"inclusive_scaled", ScanKind::inclusive, ScanFormat::scaled},
                           Variant{"reduce_scaled", ScanKind::reduce, ScanFormat::scaled},
                           Variant{"inclusive_goom", ScanKind::inclusive, ScanFormat::goom}}) {
    if (v.format == ScanFormat::goom && d > 64) continue;  // slow reference format: small d only
    ProductScanOptions o;
    o.kind = v.kind;
    o.format = v.format;
    GoomMatrixBatch<double> o2 = v.kind == ScanKind::reduce
                                     ? GoomMatrixBatch<double>{lg.matrices(d, d, chains), ng.matrices(d, d, chains)}
                                     : out;
    BatchStatus st;
    const double t = best_time(reps, [&] {
      matrix_product_scan<double>(ctx, mb, steps, o2, &st, o);
      ctx.synchronize();
    });
    if (!st.all_ok()) throw std::runtime_error("scan failed");
    // Check: the last prefix of chain 0 against a float64 product renormalised per step.
    if (v.kind == ScanKind::reduce) {
      std::vector<double> p(std::size_t(d * d), 0.0), q(p.size());
      for (std::int64_t i = 0; i < d; ++i) p[std::size_t(i * d + i)] = 1;
      double scale = 0;
      for (std::int64_t s = 0; s < steps; ++s) {
        const double* a = h.data() + s * d * d;
        for (std::int64_t j = 0; j < d; ++j)
          for (std::int64_t i = 0; i < d; ++i) {
            double acc = 0;
            for (std::int64_t l = 0; l < d; ++l) acc += a[l * d + i] * p[std::size_t(j * d + l)];
            q[std::size_t(j * d + i)] = acc;
          }
        double big = 0;
        for (double x : q) big = std::max(big, std::fabs(x));
        for (std::size_t i = 0; i < p.size(); ++i) p[i] = q[i] / big;
        scale += std::log(big);
      }
      std::vector<double> got(std::size_t(d * d));
      copy_bytes(ctx, got.data(), Device::cpu(), lg.data(), ctx.device(), got.size() * sizeof(double));
      ctx.synchronize();
      double err = 0, pmax = 0;
      for (double x : p) pmax = std::max(pmax, std::fabs(x));
      for (std::size_t i = 0; i < p.size(); ++i)
        if (std::fabs(p[i]) > 1e-3 * pmax) err = std::max(err, std::fabs(got[i] - (std::log(std::fabs(p[i])) + scale)));
      row[std::string(v.name) + "_check_max_err_nats"] = err;
      if (err > 1e-6) throw std::runtime_error("scan check failed: " + std::to_string(err));
    }
    row[std::string(v.name) + "_matrices_per_s"] = double(count) / t;
    row[std::string(v.name) + "_vs_gemm"] = (double(count) / t) / (double(gcount) / tg);
    std::printf("  %s %.3g mat/s (%.2fx gemm)", v.name, double(count) / t, (double(count) / t) / (double(gcount) / tg));
  }
  std::printf("\n");
  return row;
}

json lyapunov_case(Context& ctx, const std::string& what, const std::vector<double>& h, std::int64_t d,
                   std::int64_t steps, double dt) {
  Buffer<double> jac = device_copy(ctx, h);
  const MatrixBatch<const double> jb(jac.data(), d, d, steps, ctx.device());
  json out;
  out["system"] = what;
  out["d"] = d;
  out["steps"] = steps;
  std::vector<double> base;
  double base_t = 0;
  // On a GPU, the baseline is also timed on the CPU backend: the target compares the GPU
  // methods with sequential QR on the CPU.
  double cpu_seq_t = 0;
  if (!ctx.device().is_cpu()) {
    Context cpu(Device::cpu());
    LyapunovOptions o;
    o.dt = dt;
    o.burn_in = 1000;
    o.sum_rule = false;
    cpu_seq_t = best_time(1, [&] {
      lyapunov_spectrum<double>(cpu, MatrixBatch<const double>(h.data(), d, d, steps), o);
    });
    out["cpu_sequential_seconds"] = cpu_seq_t;
    std::printf("%s T=%lld cpu sequential_qr %8.3f s\n", what.c_str(), (long long)steps, cpu_seq_t);
  }
  for (LyapunovMethod m : {LyapunovMethod::sequential_qr, LyapunovMethod::overlapped_chunks,
                           LyapunovMethod::largest_reduce, LyapunovMethod::selective_reset}) {
    LyapunovOptions o;
    o.method = m;
    o.dt = dt;
    o.burn_in = 1000;
    o.sum_rule = false;  // timed alone; the sum rule is checked in tests
    LyapunovResult r;
    const double t = best_time(1,
                               [&] { r = lyapunov_spectrum<double>(ctx, jb, o); });
    if (r.status != LyapunovStatus::ok) throw std::runtime_error("lyapunov failed");
    if (m == LyapunovMethod::sequential_qr) base = r.exponents, base_t = t;
    double diff = 0;
    for (std::size_t i = 0; i < r.exponents.size(); ++i) diff = std::max(diff, std::fabs(r.exponents[i] - base[i]));
    json e;
    e["seconds"] = t;
    e["speedup_vs_sequential"] = base_t / t;
    if (cpu_seq_t > 0) e["speedup_vs_cpu_sequential"] = cpu_seq_t / t;
    e["exponents"] = r.exponents;
    e["max_diff_vs_sequential"] = diff;
    if (m == LyapunovMethod::overlapped_chunks) e["chunks"] = r.chunks, e["warmup"] = r.warmup;
    if (m == LyapunovMethod::selective_reset) e["resets"] = r.resets;
    out[to_string(m)] = e;
    std::printf("%s T=%lld %-18s %8.3f s  %6.2fx  max |diff| %.2e  lambda1 %.5f\n", what.c_str(),
                (long long)steps, to_string(m), t, base_t / t, diff, r.exponents[0]);
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  Device device = Device::cpu();
  int threads = 0;
  std::string out_path;
  bool quick = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--device" && i + 1 < argc) device = Device::parse(argv[++i]);
    else if (a == "--threads" && i + 1 < argc) threads = std::atoi(argv[++i]);
    else if (a == "--out" && i + 1 < argc) out_path = argv[++i];
    else if (a == "--quick") quick = true;
    else {
      std::fprintf(stderr, "usage: dynx_bench_goom [--device D] [--threads N] [--out FILE] [--quick]\n");
      return 2;
    }
  }
  Context ctx(device);
  if (threads > 0) ctx.set_num_threads(threads);
  json j;
  j["device"] = device.str();
  j["threads"] = ctx.num_threads();
  j["version"] = version();
  std::printf("dynx %s on %s, %d threads\n", version(), device.str().c_str(), ctx.num_threads());

  const double scale = quick ? 0.1 : 1.0;
  json scans = json::array();
  // Matrices per case: more for small d (the cost per matrix grows as d³).
  for (auto [d, count] : std::vector<std::pair<std::int64_t, std::int64_t>>{
           {3, 1000000}, {8, 400000}, {16, 100000}, {64, 8000}, {256, 400}}) {
    const std::int64_t n = std::max<std::int64_t>(64, std::int64_t(double(count) * scale));
    for (std::int64_t chains : {std::int64_t(1), std::int64_t(64)})
      scans.push_back(scan_case(ctx, d, chains, n / chains, quick ? 1 : 3));
  }
  j["scans"] = scans;

  json lyap = json::array();
  {
    const std::int64_t steps = quick ? 100000 : 1000000;
    SystemSpec s;
    SystemRunOptions run;
    run.steps = steps;
    run.dt = 0.01;
    std::vector<double> h(std::size_t(9 * steps));
    system_jacobians(s, run, MatrixBatch<double>(h.data(), 3, 3, steps));
    lyap.push_back(lyapunov_case(ctx, "lorenz63", h, 3, steps, 0.01));
  }
  {
    const std::int64_t steps = quick ? 20000 : 200000;
    std::mt19937_64 rng(1);
    std::normal_distribution<double> normal;
    std::vector<double> h(std::size_t(64 * steps));
    for (auto& v : h) v = normal(rng);
    lyap.push_back(lyapunov_case(ctx, "gaussian8", h, 8, steps, 1.0));
  }
  j["lyapunov"] = lyap;
  if (!out_path.empty()) std::ofstream(out_path) << j.dump(2) << "\n";
  return 0;
}
