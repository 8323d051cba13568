// dynx side of the DSA benchmark against the reference package (bench/run_dsa_vs_reference.sh):
// reads the systems that bench/reference/dsa_reference_bench.py dumped (the same float64 arrays
// the reference saw, and its manifest of which pairs and settings it timed), runs the same
// comparisons with dynx and prints one JSON object: per-pair angular time and score at each rank,
// and the all-pairs times (fit, angular, Wasserstein) for the dumped systems — all measured, none
// extrapolated.
//
//   dynx_bench_dsa --systems-dir DIR [--device cpu|cuda:0] [--threads N] [--allpairs-systems N]
//                  [--pairs-per-rank N] [--out FILE]        (--allpairs-systems 0: per-pair only)
//
// Without the reference (a GPU machine has no Python packages): `--synthetic N` generates N
// seeded systems here instead (x_{t+1} = A x_t + 0.1 e_t, 8 features, 500 steps, A a random
// rotation of scaled 2-D rotations: the same family as the reference script, not the same numbers),
// times 3 pairs at each rank of `--ranks` (default 8,16,32,64,128, n_delays = ceil(rank / 8)) and
// all pairs at each rank of `--allpairs-ranks` (default 16,32,64).

#include <dynx/dsa.hpp>
#include <dynx/io.hpp>
#include <dynx/version.hpp>

#include <nlohmann/json.hpp>

#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <random>
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
  long allpairs = -1, pairs_per_rank = -1, synthetic = 0;
  std::string ranks = "8,16,32,64,128", allpairs_ranks = "16,32,64";
};

std::vector<long> parse_list(const std::string& s) {
  std::vector<long> v;
  std::size_t at = 0;
  while (at < s.size()) {
    const std::size_t comma = s.find(',', at);
    v.push_back(std::stol(s.substr(at, comma - at)));
    if (comma == std::string::npos) break;
    at = comma + 1;
  }
  return v;
}

/// System i of the synthetic family (row-major (500, 8)), seeded by i alone.
std::vector<double> synthetic_system(std::size_t i) {
  constexpr int kN = 8, kT = 500;
  std::mt19937_64 rng(1000003ull * (i + 1));
  std::normal_distribution<double> g;
  std::uniform_real_distribution<double> u(0, 1);
  // Q: Gram–Schmidt of a Gaussian 8×8 (column-major).
  double q[kN * kN];
  for (auto& v : q) v = g(rng);
  for (int c = 0; c < kN; ++c) {
    for (int p = 0; p < c; ++p) {
      double d = 0;
      for (int r = 0; r < kN; ++r) d += q[c * kN + r] * q[p * kN + r];
      for (int r = 0; r < kN; ++r) q[c * kN + r] -= d * q[p * kN + r];
    }
    double nrm = 0;
    for (int r = 0; r < kN; ++r) nrm += q[c * kN + r] * q[c * kN + r];
    for (int r = 0; r < kN; ++r) q[c * kN + r] /= std::sqrt(nrm);
  }
  double d[kN * kN] = {};
  for (int b = 0; b < kN; b += 2) {
    const double rad = 0.7 + 0.27 * u(rng), th = 0.05 + (1.5208 * u(rng));
    d[b * kN + b] = rad * std::cos(th), d[(b + 1) * kN + b] = -rad * std::sin(th);
    d[b * kN + b + 1] = rad * std::sin(th), d[(b + 1) * kN + b + 1] = rad * std::cos(th);
  }
  double a[kN * kN] = {};  // A = Q D Qᵀ
  for (int c = 0; c < kN; ++c)
    for (int r = 0; r < kN; ++r)
      for (int k = 0; k < kN; ++k)
        for (int l = 0; l < kN; ++l) a[c * kN + r] += q[k * kN + r] * d[l * kN + k] * q[l * kN + c];
  std::vector<double> x(std::size_t(kN * kT));
  double s[kN];
  for (auto& v : s) v = g(rng);
  for (int t = 0; t < kT; ++t) {
    std::copy(s, s + kN, x.begin() + t * kN);
    double nx[kN];
    for (int r = 0; r < kN; ++r) {
      nx[r] = 0.1 * g(rng);
      for (int c = 0; c < kN; ++c) nx[r] += a[c * kN + r] * s[c];
    }
    std::copy(nx, nx + kN, s);
  }
  return x;
}

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
    else if (k == "--synthetic") a.synthetic = std::stol(next());
    else if (k == "--ranks") a.ranks = next();
    else if (k == "--allpairs-ranks") a.allpairs_ranks = next();
    else throw std::runtime_error("unknown option " + k);
  }
  if (a.dir.empty() == (a.synthetic <= 0))
    throw std::runtime_error("give either --systems-dir DIR or --synthetic N");
  return a;
}

}  // namespace

int main(int argc, char** argv) try {
  const Args args = parse(argc, argv);
  // The systems and the plan: the reference's dump and manifest, or the synthetic family.
  nlohmann::json manifest;
  std::vector<std::vector<double>> data;
  std::vector<std::array<std::int64_t, 2>> shapes;
  if (args.synthetic > 0) {
    for (long i = 0; i < args.synthetic; ++i) {
      data.push_back(synthetic_system(std::size_t(i)));
      shapes.push_back({500, 8});
    }
    manifest["per_pair_angular"] = nlohmann::json::array();
    for (long r : parse_list(args.ranks)) {
      nlohmann::json pairs = nlohmann::json::array();
      for (long p = 0; p < 3; ++p) pairs.push_back({(2 * p) % args.synthetic, (2 * p + 1) % args.synthetic});
      manifest["per_pair_angular"].push_back({{"rank", r}, {"n_delays", (r + 7) / 8}, {"pairs", pairs}});
    }
    manifest["all_pairs"] = nlohmann::json::array();
    for (long r : parse_list(args.allpairs_ranks))
      manifest["all_pairs"].push_back({{"rank", r}, {"n_delays", (r + 7) / 8}});
  } else {
    std::ifstream(args.dir + "/manifest.json") >> manifest;
    for (const auto& f : manifest["files"]) {
      auto a = dynx::io::read_npy(args.dir + "/" + f.get<std::string>());
      shapes.push_back({a.shape[0], a.shape[1]});
      data.push_back(std::move(a.data));
    }
    manifest["all_pairs"] = nlohmann::json::array({manifest["all_pairs"]});
  }
  auto system = [&](std::size_t i) {
    return dynx::TrialSet<double>::single(data.at(i).data(), shapes.at(i)[0], shapes.at(i)[1]);
  };
  dynx::Context ctx(dynx::Device::parse(args.device));
  ctx.set_num_threads(args.threads);
  nlohmann::json out;
  out["tool"] = "dynx";
  out["version"] = dynx::version();
  out["build"] = dynx::build_info();
  out["device"] = args.device;
  out["threads"] = args.threads;
  out["systems"] = args.synthetic > 0 ? nlohmann::json("synthetic " + std::to_string(args.synthetic))
                                      : nlohmann::json(args.dir);

  // The JSON is rewritten after each part, so a run cut short keeps what it measured.
  auto save = [&] {
    if (!args.out.empty()) std::ofstream(args.out) << out.dump(1) << "\n";
  };

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
  save();

  // All pairs of the first N systems: fit once, then angular (measured) and Wasserstein
  // (`--allpairs-systems 0`: none).
  const std::size_t n = args.allpairs >= 0 ? std::size_t(args.allpairs) : data.size();
  if (n < 2) manifest["all_pairs"] = nlohmann::json::array();
  std::vector<dynx::TrialSet<double>> systems;
  for (std::size_t i = 0; i < n; ++i) systems.push_back(system(i));
  nlohmann::json all = nlohmann::json::array();
  for (const auto& ap : manifest["all_pairs"]) {
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
    all.push_back({{"n_systems", n},
                   {"n_delays", fit.n_delays},
                   {"rank", *fit.rank},
                   {"fit_seconds", fit_s},
                   {"wasserstein", {{"score_seconds", w_s}, {"total_seconds", fit_s + w_s}}},
                   {"angular",
                    {{"measured", true},
                     {"score_seconds", a_s},
                     {"total_seconds", fit_s + a_s},
                     {"pairs_per_second", pairs / a_s},
                     {"scores_lower_triangle", lower}}}});
    out["all_pairs"] = all;
    save();
    std::fprintf(stderr, "all-pairs %zu systems, rank %ld: fit %.3f s, angular %.3f s (%.1f pairs/s), "
                 "wasserstein %.3f s\n", n, *fit.rank, fit_s, a_s, pairs / a_s, w_s);
  }
  // One all-pairs entry (the reference's plan) keeps the object form compare_dsa.py reads.
  out["all_pairs"] = all.size() == 1 ? all[0] : all;
  if (all.empty()) out.erase("all_pairs");
  save();
  std::cout << out.dump(1) << "\n";
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "dynx_bench_dsa: %s\n", e.what());
  return 1;
}
