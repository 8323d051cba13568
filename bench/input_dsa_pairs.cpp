// dynx side of the InputDSA benchmark against the reference package
// (bench/run_input_dsa_vs_reference.sh): reads the driven systems that
// bench/reference/input_dsa_reference_bench.py dumped, fits every system (SubspaceDMDc) and
// compares all pairs (state, input and joint scores), and prints one JSON object with the times and
// the first 50 pairs' scores (row-major j < i, the reference's order).
//
//   dynx_bench_input_dsa --systems-dir DIR [--threads N] [--device cpu|cuda:0] [--out FILE]

#include <dynx/dsa.hpp>
#include <dynx/io.hpp>
#include <dynx/version.hpp>

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

std::vector<double> lower(const dynx::DsaResult& r, std::size_t max) {
  std::vector<double> out;
  for (std::int64_t i = 1; i < r.rows && out.size() < max; ++i)
    for (std::int64_t j = 0; j < i && out.size() < max; ++j) out.push_back(r.distance[std::size_t(i * r.cols + j)]);
  return out;
}

}  // namespace

int main(int argc, char** argv) try {
  std::string dir, out, device = "cpu";
  int threads = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) throw std::runtime_error(k + " needs a value");
      return argv[++i];
    };
    if (k == "--systems-dir") dir = next();
    else if (k == "--out") out = next();
    else if (k == "--threads") threads = std::stoi(next());
    else if (k == "--device") device = next();
    else throw std::runtime_error("unknown option " + k);
  }
  if (dir.empty()) throw std::runtime_error("--systems-dir DIR is required");
  nlohmann::json manifest;
  std::ifstream(dir + "/manifest.json") >> manifest;
  const int n = manifest["n_systems"].get<int>();
  std::vector<dynx::io::Array> ys, us;
  for (int i = 0; i < n; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "/y_%03d.npy", i);
    ys.push_back(dynx::io::read_npy(dir + name));
    std::snprintf(name, sizeof name, "/u_%03d.npy", i);
    us.push_back(dynx::io::read_npy(dir + name));
  }
  std::vector<dynx::TrialSet<double>> yset, uset;
  for (int i = 0; i < n; ++i) {
    const auto& y = ys[std::size_t(i)];
    const auto& u = us[std::size_t(i)];
    yset.push_back(dynx::TrialSet<double>::equal_trials(y.data.data(), y.shape[0], y.shape[1], y.shape[2]));
    uset.push_back(dynx::TrialSet<double>::equal_trials(u.data.data(), u.shape[0], u.shape[1], u.shape[2]));
  }
  dynx::Context ctx(dynx::Device::parse(device));
  ctx.set_num_threads(threads);
  dynx::InputDsaOptions o;
  o.fit.n_delays = manifest["n_delays"].get<long>();
  o.fit.rank = manifest["rank"].get<long>();
  {  // warm-up (BLAS, allocator)
    auto m = dynx::subspace_dmdc_fit<double>(ctx, {yset[0], yset[1]}, {uset[0], uset[1]}, o.fit);
    dynx::input_dsa_pairwise<double>(ctx, m, o);
  }
  auto t0 = Clock::now();
  const auto models = dynx::subspace_dmdc_fit<double>(ctx, yset, uset, o.fit);
  const double fit_s = since(t0);
  t0 = Clock::now();
  const auto res = dynx::input_dsa_pairwise<double>(ctx, models, o);
  const double all_s = since(t0);
  o.state_score = dynx::DsaScore::wasserstein;
  t0 = Clock::now();
  const auto wres = dynx::input_dsa_pairwise<double>(ctx, models, o);
  const double w_all_s = since(t0);
  nlohmann::json j;
  j["tool"] = "dynx";
  j["version"] = dynx::version();
  j["device"] = device;
  j["threads"] = threads;
  j["n_systems"] = n;
  j["n_pairs"] = n * (n - 1) / 2;
  j["fit_seconds"] = fit_s;
  j["all_pairs_angular_seconds"] = all_s;  // state angular + input + joint
  j["all_pairs_wasserstein_seconds"] = w_all_s;  // state wasserstein + input + joint
  j["input"] = lower(res.input, 50);
  j["joint"] = lower(res.joint, 50);
  j["state_angular"] = lower(res.state, 50);
  j["state_wasserstein"] = lower(wres.state, 50);
  if (!out.empty()) std::ofstream(out) << j.dump(1) << "\n";
  std::cout << j.dump(1) << "\n";
  std::fprintf(stderr, "fits %.3f s; all pairs (state angular + input + joint) %.3f s; with "
               "Wasserstein state %.3f s\n", fit_s, all_s, w_all_s);
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "dynx_bench_input_dsa: %s\n", e.what());
  return 1;
}
