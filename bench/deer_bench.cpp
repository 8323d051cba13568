// DEER benchmarks, side by side in one run (bench/run_deer.sh): for a contracting GRU (flax-style
// initialisation, spec deer.md §6.3) the wall time of our sequential evaluator, DEER (dense
// Jacobians, when the T·D² Jacobians fit 2^27 entries), quasi-DEER and the automatic choice, over
//   1. sequence length T = 10³ … 10⁶ (D = 8, batch 1),
//   2. state size D = 1 … 256 (T = 10⁴, batch 1),
//   3. batch 1 … 1024 (D = 8, T = 2000),
// with iterations, the agreement with sequential evaluation, which path wins, and how far the
// automatic choice is from the better of the two. Every result is checked (a fast wrong answer is a
// bug). Writes JSON to --out.
//
// usage: dynx_bench_deer [--device cpu|cuda:N] [--threads N] [--out FILE] [--quick] [--f32]

#include "common/deer_data.hpp"

#include <dynx/dynx.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

namespace {

using namespace dynx;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Best of `reps` runs after one warm-up (none for runs longer than 2 s).
template <class F>
double best_time(int reps, F&& f) {
  auto t0 = Clock::now();
  f();
  double best = seconds_since(t0);
  if (best > 2.0) return best;
  for (int r = 0; r < reps; ++r) {
    t0 = Clock::now();
    f();
    best = std::min(best, seconds_since(t0));
  }
  return best;
}

constexpr double kDenseEntries = double(std::int64_t(1) << 27);

template <class T>
json run_case(Context& ctx, int d, std::int64_t steps, std::int64_t batch, int reps) {
  const test::NetWeights<T> w = test::make_weights<T>(test::CellKind::gru, d, d, 1.0, 7);
  const std::vector<T> hu = test::make_inputs<T>(test::CellKind::gru, batch, steps, d, 8);
  const std::vector<T> hs0 = test::make_s0<T>(batch, d, 9, 0.0);
  Buffer<T> wd = to_device(ctx, w.data.data(), w.data.size());
  Buffer<T> u = to_device(ctx, hu.data(), hu.size()), s0 = to_device(ctx, hs0.data(), hs0.size());
  const std::size_t n = std::size_t(batch * steps * d);
  Buffer<T> ref(n, ctx.device()), out(n, ctx.device());
  const auto cell = make_deer_cell<T>(ctx, w.gru(wd.data()));
  const MatrixBatch<const T> s0v(s0.data(), d, 1, batch, ctx.device());
  const MatrixBatch<const T> uv(u.data(), d, steps, batch, ctx.device());

  json row;
  row["D"] = d;
  row["T"] = steps;
  row["batch"] = batch;
  const double t_seq = best_time(reps, [&] {
    deer_sequential<T>(ctx, *cell, s0v, uv, ref.matrices(d, steps, batch));
    ctx.synchronize();
  });
  row["sequential_s"] = t_seq;
  const std::vector<T> href = to_host(ctx, ref);
  double scale = 0;
  for (T v : href) scale = std::max(scale, std::fabs(double(v)));
  std::printf("D=%-4d T=%-8lld B=%-5lld sequential %9.4f s", d, (long long)steps, (long long)batch, t_seq);

  double best_parallel = HUGE_VAL;
  for (DeerMethod m : {DeerMethod::deer, DeerMethod::quasi_deer, DeerMethod::automatic}) {
    const char* name = to_string(m);
    if (m == DeerMethod::deer && double(batch) * double(steps) * double(d) * d > kDenseEntries) {
      row[name] = "skipped: T·D² Jacobians above 2^27 entries";
      std::printf(" | %s skipped", name);
      continue;
    }
    DeerOptions o;
    o.method = m;
    DeerResult r;
    const double t = best_time(reps, [&] {
      r = deer_evaluate<T>(ctx, *cell, s0v, uv, out.matrices(d, steps, batch), o);
      ctx.synchronize();
    });
    const std::vector<T> hs = to_host(ctx, out);
    double err = 0;
    for (std::size_t i = 0; i < n; ++i) err = std::max(err, std::fabs(double(hs[i]) - double(href[i])));
    err /= std::max(scale, 1e-300);
    std::int64_t it_max = 0, fell = 0;
    for (std::int64_t q = 0; q < batch; ++q) {
      it_max = std::max(it_max, r.iterations[std::size_t(q)]);
      fell += r.status[std::size_t(q)] == DeerStatus::fell_back;
    }
    const double limit = sizeof(T) == 8 ? 1e-9 : 1e-4;
    if (!(err <= limit)) {
      std::fprintf(stderr, "\nFAIL: %s D=%d T=%lld B=%lld differs from sequential by %.3g\n", name,
                   d, (long long)steps, (long long)batch, err);
      std::exit(1);
    }
    json j;
    j["seconds"] = t;
    j["speedup_vs_sequential"] = t_seq / t;
    j["iterations_max"] = it_max;
    j["fell_back"] = fell;
    j["rel_error"] = err;
    j["method_used"] = to_string(r.method);
    j["reason"] = r.reason;
    row[name] = j;
    if (m != DeerMethod::automatic) best_parallel = std::min(best_parallel, t);
    std::printf(" | %s %8.4f s (%5.2fx, %lld it)", m == DeerMethod::automatic ? "auto" : name, t,
                t_seq / t, (long long)it_max);
    if (m == DeerMethod::automatic) {
      const double better = std::min(t_seq, best_parallel);
      row["winner"] = best_parallel < t_seq ? "parallel" : "sequential";
      row["auto_over_best"] = t / better;
      std::printf(" -> %s; winner %s, auto/best %.2f", to_string(r.method),
                  best_parallel < t_seq ? "parallel" : "sequential", t / better);
    }
  }
  std::printf("\n");
  std::fflush(stdout);
  return row;
}

}  // namespace

int main(int argc, char** argv) {
  std::string device = "cpu", out = "deer_bench.json";
  int threads = 0;
  bool quick = false, f32 = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--device" && i + 1 < argc) device = argv[++i];
    else if (a == "--threads" && i + 1 < argc) threads = std::atoi(argv[++i]);
    else if (a == "--out" && i + 1 < argc) out = argv[++i];
    else if (a == "--quick") quick = true;
    else if (a == "--f32") f32 = true;
    else {
      std::fprintf(stderr, "usage: dynx_bench_deer [--device cpu|cuda:N] [--threads N] [--out FILE] [--quick] [--f32]\n");
      return 2;
    }
  }
  Context ctx(Device::parse(device));
  if (threads > 0) ctx.set_num_threads(threads);
  const int reps = quick ? 1 : 2;
  json doc;
  doc["device"] = device;
  doc["threads"] = ctx.num_threads();
  doc["dtype"] = f32 ? "f32" : "f64";
  doc["cell"] = "gru (flax-style init: recurrent orthogonal, input N(0, 1/D), zero biases)";
  // The file is rewritten after every case, so a run cut at a time limit keeps what it measured.
  auto run = [&](int d, std::int64_t t, std::int64_t b) {
    return f32 ? run_case<float>(ctx, d, t, b, reps) : run_case<double>(ctx, d, t, b, reps);
  };
  auto save = [&] { std::ofstream(out) << doc.dump(2) << "\n"; };
  std::printf("== length (D = 8, batch 1)\n");
  for (std::int64_t t : {1000, 10000, 100000, 1000000}) {
    if (quick && t > 100000) break;
    doc["length"].push_back(run(8, t, 1));
    save();
  }
  std::printf("== state size (T = 10^4, batch 1)\n");
  for (int d : {1, 8, 32, 64, 128, 256}) {
    if (quick && d > 64) break;
    doc["width"].push_back(run(d, 10000, 1));
    save();
  }
  std::printf("== batch (D = 8, T = 2000)\n");
  for (std::int64_t b : {1, 16, 256, 1024}) {
    if (quick && b > 256) break;
    doc["batch"].push_back(run(8, 2000, b));
    save();
  }
  save();
  std::printf("wrote %s\n", out.c_str());
  return 0;
}
