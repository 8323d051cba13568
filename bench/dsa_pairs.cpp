// dynx side of the DSA benchmark against the reference package (bench/run_dsa_vs_reference.sh):
// reads the systems that bench/reference/dsa_reference_bench.py dumped (the same float64 arrays
// the reference saw, and its manifest of which pairs and settings it timed), runs the same
// comparisons with dynx and prints one JSON object: per-pair angular time and score at each rank,
// and the all-pairs times (fit, angular, Wasserstein) for the dumped systems — all measured, none
// extrapolated.
//
//   dynx_bench_dsa --systems-dir DIR [--device cpu|cuda:0] [--threads N] [--allpairs-systems N]
//                  [--pairs-per-rank N] [--out FILE]

#include <dynx/dsa.hpp>
#include <dynx/io.hpp>
#include <dynx/version.hpp>

#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

struct Args {
  std::string dir, out, device = "cpu";
  int threads = 2;
  long allpairs = -1, pairs_per_rank = -1;
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) throw std::runtime_error(k + " needs a value");
      return argv[++i];
    };
    if (k == "--systems-dir") a.dir = next();
    else if (k == "--out") a.out = next();
    else if (k == "--device") a.device = next();
    else if (k == "--threads") a.threads = std::stoi(next());
    else if (k == "--allpairs-systems") a.allpairs = std::stol(next());
    else if (k == "--pairs-per-rank") a.pairs_per_rank = std::stol(next());
    else throw std::runtime_error("unknown option " + k);
  }
  if (a.dir.empty()) throw std::runtime_error("--systems-dir is required");
  return a;
}

}  // namespace

int main(int argc, char** argv) try {
  const Args args = parse(argc, argv);
  nlohmann::json manifest;
  std::ifstream(args.dir + "/manifest.json") >> manifest;
  std::vector<dynx::io::Array> arrays;
  for (const auto& f : manifest["files"]) arrays.push_back(dynx::io::read_npy(args.dir + "/" + f.get<std::string>()));
  auto system = [&](std::size_t i) {
    const auto& a = arrays.at(i);
    return dynx::TrialSet<double>::single(a.data.data(), a.shape[0], a.shape[1]);
  };
  dynx::Context ctx(dynx::Device::parse(args.device));
  ctx.set_num_threads(args.threads);
  nlohmann::json out;
  out["tool"] = "dynx";
  out["version"] = dynx::version();
  out["build"] = dynx::build_info();
  out["device"] = args.device;
  out["threads"] = args.threads;

  // Warm-up (first-touch of BLAS, allocator, CUDA context): one small comparison, untimed.
  {
    dynx::DsaOptions o;
    o.fit.rank = 4;
    dynx::dsa_pairwise<double>(ctx, {system(0), system(1)}, o);
  }

  // Per-pair angular comparison at each rank, with the reference's pairs and settings.
  nlohmann::json per_rank = nlohmann::json::array();
  for (const auto& entry : manifest["per_pair_angular"]) {
    dynx::HankelDmdOptions fit;
    fit.n_delays = entry["n_delays"].get<long>();
    fit.rank = entry["rank"].get<long>();
    std::vector<double> secs, fit_secs, scores;
    long count = 0;
    for (const auto& pr : entry["pairs"]) {
      if (args.pairs_per_rank >= 0 && count++ >= args.pairs_per_rank) break;
      const auto i = pr[0].get<std::size_t>(), j = pr[1].get<std::size_t>();
      auto t0 = Clock::now();
      const auto models = dynx::hankel_dmd_fit<double>(ctx, {system(i), system(j)}, fit);
      fit_secs.push_back(seconds_since(t0));
      dynx::DsaOptions o;
      t0 = Clock::now();
      // d(X_i, X_j), as the reference's DSA(X_i, X_j) computes it
      const auto r = dynx::compare_models_cross<double>(ctx, {models[0]}, {models[1]}, o);
      secs.push_back(seconds_since(t0));
      scores.push_back(r.distance[0]);
    }
    double mean = 0;
    for (double s : secs) mean += s / double(secs.size());
    per_rank.push_back({{"rank", entry["rank"]}, {"n_delays", entry["n_delays"]},
                        {"seconds", secs}, {"seconds_mean", mean},
                        {"dmd_fit_seconds", fit_secs}, {"angular_scores", scores}});
    std::fprintf(stderr, "rank %ld: %.4f s per pair\n", entry["rank"].get<long>(), mean);
  }
  out["per_pair_angular"] = per_rank;

  // All pairs of the first N systems: fit once, then angular (measured) and Wasserstein.
  const auto& ap = manifest["all_pairs"];
  const std::size_t n = args.allpairs >= 0 ? std::size_t(args.allpairs) : arrays.size();
  std::vector<dynx::TrialSet<double>> systems;
  for (std::size_t i = 0; i < n; ++i) systems.push_back(system(i));
  dynx::HankelDmdOptions fit;
  fit.n_delays = ap["n_delays"].get<long>();
  fit.rank = ap["rank"].get<long>();
  auto t0 = Clock::now();
  const auto models = dynx::hankel_dmd_fit<double>(ctx, systems, fit);
  const double fit_s = seconds_since(t0);
  dynx::DsaOptions o;
  o.score = dynx::DsaScore::wasserstein;
  t0 = Clock::now();
  const auto w = dynx::compare_models_pairwise<double>(ctx, models, o);
  const double w_s = seconds_since(t0);
  o.score = dynx::DsaScore::angular;
  t0 = Clock::now();
  const auto a = dynx::compare_models_pairwise<double>(ctx, models, o);
  const double a_s = seconds_since(t0);
  std::vector<double> lower;  // row-major lower triangle, the reference's pair order
  for (std::size_t i = 1; i < n; ++i)
    for (std::size_t j = 0; j < i; ++j) lower.push_back(a.distance[i * n + j]);
  const double pairs = double(n * (n - 1) / 2);
  out["all_pairs"] = {{"n_systems", n},
                      {"n_delays", fit.n_delays},
                      {"rank", *fit.rank},
                      {"fit_seconds", fit_s},
                      {"wasserstein", {{"score_seconds", w_s}, {"total_seconds", fit_s + w_s}}},
                      {"angular",
                       {{"measured", true},
                        {"score_seconds", a_s},
                        {"total_seconds", fit_s + a_s},
                        {"pairs_per_second", pairs / a_s},
                        {"scores_lower_triangle", lower}}}};
  std::fprintf(stderr, "all-pairs %zu systems: fit %.3f s, angular %.3f s (%.1f pairs/s), "
               "wasserstein %.3f s\n", n, fit_s, a_s, pairs / a_s, w_s);
  const std::string text = out.dump(1);
  if (!args.out.empty()) std::ofstream(args.out) << text << "\n";
  std::cout << text << "\n";
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "dynx_bench_dsa: %s\n", e.what());
  return 1;
}
