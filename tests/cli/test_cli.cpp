// `dynx compare`, `dynx lyapunov` and `dynx deer` end to end: runs the built program on files
// written here (.npy, .npz, HDF5, a directory, the committed .npz fixture) and on the built-in
// examples, and checks its outputs against the library called directly, its JSON record, its
// errors and exit statuses, and that Ctrl-C saves the finished pairs.

#include <algorithm>

#include "../common/deer_data.hpp"  // seeded weights of the built-in DEER cells

#include <dynx/config.hpp>  // DYNX_HAS_HDF5
#include <dynx/deer.hpp>
#include <dynx/dsa.hpp>
#include <dynx/lyapunov.hpp>
#include <dynx/io.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#if DYNX_HAS_HDF5
#include <hdf5.h>
#endif

#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct Result {
  int rc = -1;
  std::string out;  // stdout and stderr
};

/// Runs `dynx <args>` through the shell, capturing both streams.
Result dynx(const std::string& args) {
  const std::string cmd = std::string(DYNX_CLI_PATH) + " " + args + " 2>&1";
  Result r;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  std::size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int st = pclose(p);
  r.rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return r;
}

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/dynx-cli-XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string operator/(const std::string& name) const { return (fs::path(path_) / name).string(); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

json read_json(const std::string& path) {
  std::ifstream f(path);
  return json::parse(f);
}

/// A noisy linear system x_{t+1} = A x_t + 0.1 e_t (A a scaled rotation pair plus a decay), as a
/// (T, 3) row-major array.
std::vector<double> linear_system(double theta, std::int64_t t_len, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> g;
  std::vector<double> x;
  double s[3] = {g(rng), g(rng), g(rng)};
  for (std::int64_t t = 0; t < t_len; ++t) {
    x.insert(x.end(), s, s + 3);
    const double c = 0.95 * std::cos(theta), sn = 0.95 * std::sin(theta);
    const double n0 = c * s[0] - sn * s[1], n1 = sn * s[0] + c * s[1], n2 = 0.6 * s[2];
    s[0] = n0 + 0.1 * g(rng), s[1] = n1 + 0.1 * g(rng), s[2] = n2 + 0.1 * g(rng);
  }
  return x;
}

class CliCompare : public ::testing::Test {
 protected:
  void SetUp() override {
    for (unsigned i = 0; i < 4; ++i) {
      data_.push_back(linear_system(i < 2 ? 0.3 : 0.9, 300, 10 + i));
      dynx::io::write_npy(dir_ / ("sys" + std::to_string(i) + ".npy"), {300, 3}, data_.back().data());
    }
  }
  std::vector<dynx::TrialSet<double>> sets() const {
    std::vector<dynx::TrialSet<double>> s;
    for (const auto& d : data_) s.push_back(dynx::TrialSet<double>::single(d.data(), 300, 3));
    return s;
  }
  TempDir dir_;
  std::vector<std::vector<double>> data_;
};

TEST_F(CliCompare, DirectoryOfNpyMatchesTheLibrary) {
  TempDir out;
  const Result r = dynx(dir_.path() + " --n-delays 2 --rank 4 --out " + out.path() + " --quiet");
  ASSERT_EQ(r.rc, 0) << r.out;
  const auto d = dynx::io::read_npy(out / "distances.npy");
  ASSERT_EQ(d.shape, (std::vector<std::int64_t>{4, 4}));
  dynx::Context ctx(dynx::Device::cpu());
  dynx::DsaOptions o;
  o.fit.n_delays = 2;
  o.fit.rank = 4;
  const auto want = dynx::dsa_pairwise(ctx, sets(), o);
  for (std::size_t k = 0; k < 16; ++k) EXPECT_EQ(d.data[k], want.distance[k]) << k;  // same code path
  // Same dynamics closer than different dynamics.
  EXPECT_LT(d.data[1 * 4 + 0], d.data[2 * 4 + 0]);
  EXPECT_LT(d.data[3 * 4 + 2], d.data[3 * 4 + 1]);

  const json j = read_json(out / "result.json");
  EXPECT_TRUE(j["complete"].get<bool>());
  EXPECT_EQ(j["mode"], "all-pairs");
  EXPECT_EQ(j["settings"]["fit"]["n_delays"], 2);
  EXPECT_EQ(j["settings"]["fit"]["rank"], 4);
  EXPECT_EQ(j["settings"]["score"], "angular");
  EXPECT_EQ(j["row_labels"], (json{"sys0", "sys1", "sys2", "sys3"}));
  EXPECT_EQ(j["systems_x"][2]["rank"], 4);
  EXPECT_EQ(j["results"][0]["status_counts"]["ok"], 6);  // 6 unordered pairs, all converged
  EXPECT_FALSE(j["version"].get<std::string>().empty());
  std::ifstream csv(out / "distances.csv");
  std::string header;
  std::getline(csv, header);
  EXPECT_EQ(header, ",sys0,sys1,sys2,sys3");
  EXPECT_TRUE(fs::file_size(out / "heatmap.svg") > 1000);
}

TEST_F(CliCompare, CrossModeAndWassersteinAndBaselines) {
  TempDir out;
  const Result r = dynx(dir_ / "sys0.npy" + " " + dir_ / "sys2.npy" + " --y " + dir_ / "sys1.npy" +
                     " --y " + dir_ / "sys3.npy" +
                     " --score wasserstein --compare-baselines --quiet --out " + out.path());
  ASSERT_EQ(r.rc, 0) << r.out;
  const auto d = dynx::io::read_npy(out / "distances.npy");
  ASSERT_EQ(d.shape, (std::vector<std::int64_t>{2, 2}));
  dynx::Context ctx(dynx::Device::cpu());
  dynx::DsaOptions o;
  o.score = dynx::DsaScore::wasserstein;
  const auto s = sets();
  const auto want = dynx::dsa_cross<double>(ctx, {s[0], s[2]}, {s[1], s[3]}, o);
  for (std::size_t k = 0; k < 4; ++k) EXPECT_EQ(d.data[k], want.distance[k]);
  const auto p = dynx::io::read_npy(out / "procrustes.npy");
  const auto c = dynx::io::read_npy(out / "cka.npy");
  const auto gp = dynx::geometry_cross<double>(ctx, {s[0], s[2]}, {s[1], s[3]});
  for (std::size_t k = 0; k < 4; ++k) EXPECT_EQ(p.data[k], gp.distance[k]);
  EXPECT_EQ(c.shape, (std::vector<std::int64_t>{2, 2}));
  const json j = read_json(out / "result.json");
  EXPECT_EQ(j["mode"], "x-vs-y");
  EXPECT_EQ(j["results"].size(), 3u);
  EXPECT_EQ(j["col_labels"], (json{"sys1", "sys3"}));
}

TEST_F(CliCompare, AxesFlagReordersArrays) {
  // The same systems stored as (features, time): --axes nt must give the same matrix.
  TempDir in, out1, out2;
  for (int i = 0; i < 3; ++i) {
    std::vector<double> t(900);
    for (int a = 0; a < 300; ++a)
      for (int f = 0; f < 3; ++f) t[std::size_t(f * 300 + a)] = data_[std::size_t(i)][std::size_t(a * 3 + f)];
    dynx::io::write_npy(in / ("s" + std::to_string(i) + ".npy"), {3, 300}, t.data());
  }
  ASSERT_EQ(dynx(in.path() + " --axes nt --rank 3 --quiet --out " + out1.path()).rc, 0);
  ASSERT_EQ(dynx(dir_ / "sys0.npy " + dir_ / "sys1.npy " + dir_ / "sys2.npy" +
                 " --rank 3 --quiet --out " + out2.path())
                .rc,
            0);
  EXPECT_EQ(dynx::io::read_npy(out1 / "distances.npy").data,
            dynx::io::read_npy(out2 / "distances.npy").data);
  // Wrong axes for the array: a clear error naming the file.
  const Result r = dynx(in.path() + " --axes ktn --quiet --out " + out1.path());
  EXPECT_EQ(r.rc, 1) << r.out;
  EXPECT_NE(r.out.find("s0.npy: --axes ktn names 3 axes but the array has shape (3, 300)"),
            std::string::npos)
      << r.out;
}

#if DYNX_HAS_HDF5
TEST_F(CliCompare, Hdf5DatasetsAndGroupedRaggedTrials) {
  const std::string h5 = dir_ / "runs.h5";
  const hid_t f = H5Fcreate(h5.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  H5Gclose(H5Gcreate2(f, "runs", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  for (int i = 0; i < 3; ++i) {
    const hsize_t dims[2] = {300, 3};
    const hid_t sp = H5Screate_simple(2, dims, nullptr);
    const std::string name = "runs/r" + std::to_string(i);
    const hid_t d = H5Dcreate2(f, name.c_str(), H5T_IEEE_F64LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, data_[std::size_t(i)].data());
    H5Dclose(d);
    H5Sclose(sp);
  }
  H5Fclose(f);
  TempDir out;
  Result r = dynx(h5 + ":/runs --rank 3 --quiet --out " + out.path());
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_EQ(read_json(out / "result.json")["row_labels"], (json{"runs:/runs/r0", "runs:/runs/r1", "runs:/runs/r2"}));
  // --group-trials: the file is one system with three trials; with the .npy of sys3 that is a pair.
  r = dynx(h5 + " " + dir_ / "sys3.npy" + " --group-trials --rank 3 --quiet --out " + out.path());
  ASSERT_EQ(r.rc, 0) << r.out;
  const json j = read_json(out / "result.json");
  EXPECT_EQ(j["systems_x"][0]["trial_lengths"], (json{300, 300, 300}));
  EXPECT_EQ(j["row_labels"], (json{"runs", "sys3"}));
}
#endif

TEST_F(CliCompare, ClearErrorsAndExitStatuses) {
  TempDir out;
  auto expect = [&](const std::string& args, int rc, const std::string& needle) {
    const Result r = dynx(args + " --quiet --out " + out.path());
    EXPECT_EQ(r.rc, rc) << args << "\n" << r.out;
    EXPECT_NE(r.out.find(needle), std::string::npos) << args << "\n" << r.out;
  };
  expect(dir_ / "missing.npy " + dir_ / "sys0.npy", 1, "missing.npy: no such file or directory");
  {
    auto bad = data_[1];
    bad[5 * 3 + 1] = std::nan("");
    dynx::io::write_npy(dir_ / "nan.npy", {300, 3}, bad.data());
    expect(dir_ / "sys0.npy " + dir_ / "nan.npy", 1,
           "nan.npy: non-finite value nan at trial 0, time step 5, feature 1");
    fs::remove(dir_ / "nan.npy");
  }
  expect(dir_.path() + " --n-delays 200 --delay-interval 2", 1,
         "sys0: trial 0 has 300 time points; --n-delays 200 with --delay-interval 2");
  expect(dir_.path() + " --n-delays 2 --rank 7", 1,
         "sys0: --rank 7 is larger than possible: the delay embedding has 6 dimensions");
  {
    std::ofstream(dir_ / "junk.npy") << "this is not numpy";
    expect(dir_ / "junk.npy " + dir_ / "sys0.npy", 1, "junk.npy");
    fs::remove(dir_ / "junk.npy");
  }
  // The reference fixture holds matrices and labels besides systems: a 1-D array is refused.
  expect(std::string(DYNX_TEST_DATA_DIR) + "/dsa/systems.npz", 1,
         "systems.npz: noise_linear: an array of shape () is not a system");
  expect(dir_ / "sys0.npy", 1, "only one system");
  expect(dir_.path() + " --rank 3 --rank-thresh 0.1", 2, "at most one of --rank");
  expect(dir_.path() + " --metric foo", 2, "--metric expects dsa|procrustes|cka");
  expect(dir_.path() + " --score cosine", 2, "--score expects angular|euclidean|wasserstein");
  expect(dir_.path() + " --bogus", 2, "unknown option --bogus");
  expect(dir_.path() + " --n-delays 0", 2, "--n-delays expects an integer in [1,");
  expect(dir_.path() + " --axes tt", 2, "--axes expects");
  expect(dir_.path() + " --device tpu", 2, "--device");
  // Operators of different sizes: an error by default, the reference's fallback on request.
  {
    std::vector<double> wide(300 * 5, 0.0);
    std::mt19937_64 rng(3);
    std::normal_distribution<double> g;
    for (auto& v : wide) v = g(rng);
    dynx::io::write_npy(dir_ / "wide.npy", {300, 5}, wide.data());
    expect(dir_ / "sys0.npy " + dir_ / "wide.npy", 1, "operators of different sizes (5 and 3)");
    const Result r = dynx(dir_ / "sys0.npy " + dir_ / "wide.npy" +
                       " --size-mismatch wasserstein --quiet --out " + out.path());
    EXPECT_EQ(r.rc, 0) << r.out;
    EXPECT_EQ(read_json(out / "result.json")["results"][0]["status"][1][0], "size_fallback");
  }
}

TEST(CliExamples, DefaultRunWritesEveryOutput) {
  TempDir out;
  const Result r = dynx("--out " + out.path());
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("built-in example systems"), std::string::npos);
  EXPECT_NE(r.out.find("Procrustes shape distance"), std::string::npos);
  for (const char* f : {"distances.npy", "distances.csv", "procrustes.npy", "procrustes.csv",
                        "cka.npy", "cka.csv", "result.json", "heatmap.svg"})
    EXPECT_TRUE(fs::exists(out / f)) << f;
  // The matrix equals the library's on the same examples and settings.
  std::vector<dynx::TrialSet<double>> sets;
  const auto ex = dynx::dsa_example_systems(0);
  for (const auto& e : ex) sets.push_back(e.trial_set());
  dynx::Context ctx(dynx::Device::cpu());
  const auto want = dynx::dsa_pairwise(ctx, sets, dynx::dsa_example_options());
  EXPECT_EQ(dynx::io::read_npy(out / "distances.npy").data, want.distance);
  std::ifstream svg(out / "heatmap.svg");
  std::stringstream ss;
  ss << svg.rdbuf();
  const std::string text = ss.str();
  EXPECT_EQ(text.rfind("<svg", 0), 0u);
  EXPECT_NE(text.find("spiral-fast"), std::string::npos);  // labelled
  EXPECT_NE(text.find("DSA (angular)"), std::string::npos);
  EXPECT_NE(text.find("1 - linear CKA"), std::string::npos);
  const json j = read_json(out / "result.json");
  EXPECT_EQ(j["systems_x"].size(), 6u);
  EXPECT_FALSE(j["systems_x"][3]["description"].get<std::string>().empty());
  EXPECT_EQ(j["settings"]["fit"]["n_delays"], dynx::dsa_example_options().fit.n_delays);
}

TEST(CliInputDsa, ExamplesWriteThreeScoresThatMatchTheLibrary) {
  TempDir out;
  const Result r = dynx("--input-dsa --out " + out.path());
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("InputDSA state"), std::string::npos);
  for (const char* f : {"state.npy", "state.csv", "input.npy", "input.csv", "joint.npy", "joint.csv",
                        "result.json", "heatmap.svg"})
    EXPECT_TRUE(fs::exists(out / f)) << f;
  EXPECT_FALSE(fs::exists(out / "distances.npy"));
  std::vector<dynx::TrialSet<double>> ys, us;
  const auto ex = dynx::input_dsa_example_systems(0);
  for (const auto& e : ex) ys.push_back(e.output_set()), us.push_back(e.input_set());
  dynx::Context ctx(dynx::Device::cpu());
  const auto want = dynx::input_dsa_pairwise(ctx, ys, us, dynx::input_dsa_example_options());
  EXPECT_EQ(dynx::io::read_npy(out / "state.npy").data, want.state.distance);
  EXPECT_EQ(dynx::io::read_npy(out / "input.npy").data, want.input.distance);
  EXPECT_EQ(dynx::io::read_npy(out / "joint.npy").data, want.joint.distance);
  // The point of the examples: state groups by A, input by B (order A1-B1, A1-B1-rotated, A1-B2,
  // A2-B1, A2-B2).
  const auto st = dynx::io::read_npy(out / "state.npy").data;
  const auto in = dynx::io::read_npy(out / "input.npy").data;
  auto at = [](const std::vector<double>& m, int i, int j) { return m[std::size_t(i * 5 + j)]; };
  EXPECT_LT(std::max(at(st, 0, 2), at(st, 3, 4)), 0.5 * std::min(at(st, 0, 3), at(st, 2, 4)));
  EXPECT_LT(std::max(at(in, 0, 3), at(in, 2, 4)), 0.5 * std::min(at(in, 0, 2), at(in, 3, 4)));
  const json j = read_json(out / "result.json");
  EXPECT_EQ(j["settings"]["input_dsa"]["model"], "subspace");
  EXPECT_EQ(j["results"].size(), 3u);
  EXPECT_EQ(j["results"][1]["metric"], "input");
  EXPECT_EQ(j["systems_x"][0]["rank"], 6);
}

TEST(CliInputDsa, FilesAndErrors) {
  TempDir data, out;
  const auto ex = dynx::input_dsa_example_systems(3);
  for (std::size_t i = 0; i < 3; ++i) {
    const auto& e = ex[i];
    dynx::io::write_npy(data / ("y" + std::to_string(i) + ".npy"), {e.trials, e.length, e.outputs}, e.y.data());
    dynx::io::write_npy(data / ("u" + std::to_string(i) + ".npy"), {e.trials, e.length, e.inputs}, e.u.data());
  }
  const std::string ys = data / "y0.npy" + " " + data / "y1.npy" + " " + data / "y2.npy";
  const std::string us = " --inputs " + data / "u0.npy" + " --inputs " + data / "u1.npy" +
                         " --inputs " + data / "u2.npy";
  Result r = dynx(ys + us + " --n-delays 5 --rank 6 --model dmdc --out " + out.path() + " --quiet");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_EQ(read_json(out / "result.json")["settings"]["input_dsa"]["model"], "dmdc");
  r = dynx(ys + us + " --n-delays 5 --rank 6 --joint-score angular --reference-compat --out " +
           out.path() + " --quiet");
  ASSERT_EQ(r.rc, 0) << r.out;
  std::vector<dynx::TrialSet<double>> yset, uset;
  for (std::size_t i = 0; i < 3; ++i) yset.push_back(ex[i].output_set()), uset.push_back(ex[i].input_set());
  dynx::InputDsaOptions o;
  o.fit.n_delays = 5;
  o.fit.rank = 6;
  o.joint.score = dynx::DsaScore::angular;
  o.joint.reference_compat = true;
  dynx::Context ctx(dynx::Device::cpu());
  const auto want = dynx::input_dsa_pairwise(ctx, yset, uset, o);
  EXPECT_EQ(dynx::io::read_npy(out / "joint.npy").data, want.joint.distance);
  // Errors: no inputs for data (usage, 2); inputs that do not match (data, 1).
  r = dynx(ys + " --input-dsa --out " + out.path());
  EXPECT_EQ(r.rc, 2) << r.out;
  EXPECT_NE(r.out.find("needs --inputs"), std::string::npos) << r.out;
  r = dynx(ys + " --inputs " + data / "u0.npy" + " --out " + out.path());
  EXPECT_EQ(r.rc, 1) << r.out;
  EXPECT_NE(r.out.find("--inputs: 1 input arrays for 3 systems"), std::string::npos) << r.out;
  r = dynx(data / "y0.npy" + " " + data / "y1.npy" + " --inputs " + data / "u0.npy" + " --inputs " +
           data / "y1.npy" + " --rank 7 --n-delays 2 --out " + out.path());
  EXPECT_EQ(r.rc, 1) << r.out;
  EXPECT_NE(r.out.find("rank 7 is larger than n_delays · outputs = 6"), std::string::npos) << r.out;
}

TEST(CliExamples, HelpAndVersion) {
  Result r = dynx("--help");
  EXPECT_EQ(r.rc, 0);
  EXPECT_NE(r.out.find("compare  Dynamical Similarity Analysis"), std::string::npos);
  r = dynx("compare --help");
  EXPECT_EQ(r.rc, 0);
  EXPECT_NE(r.out.find("usage: dynx compare"), std::string::npos);
  r = dynx("lyapunov --help");
  EXPECT_EQ(r.rc, 0);
  EXPECT_NE(r.out.find("usage: dynx lyapunov"), std::string::npos);
  r = dynx("--version");
  EXPECT_EQ(r.rc, 0);
  EXPECT_NE(r.out.find("0."), std::string::npos);
}

/// Ctrl-C during a long run: exit status 130, every finished pair saved, the rest NaN.
TEST(CliInterrupt, SavesFinishedPairs) {
  TempDir in, out;
  // 30 systems (435 pairs), one pair per batch, the published optimiser at many steps: about a
  // minute of work, cut after 4 s.
  for (int i = 0; i < 30; ++i) {
    const auto x = linear_system(0.2 + 0.05 * i, 400, unsigned(100 + i));
    char name[32];
    std::snprintf(name, sizeof name, "s%02d.npy", i);
    dynx::io::write_npy(in / name, {400, 3}, x.data());
  }
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const std::string o = out.path();
    freopen("/dev/null", "w", stdout);
    freopen("/dev/null", "w", stderr);
    execl(DYNX_CLI_PATH, DYNX_CLI_PATH, in.path().c_str(), "--n-delays", "4", "--rank", "10",
          "--optimizer", "reference", "--reference-iters", "5000", "--pairs-per-batch", "1",
          "--threads", "1", "--out",
          o.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  std::this_thread::sleep_for(std::chrono::seconds(4));
  kill(pid, SIGINT);
  int st = 0;
  waitpid(pid, &st, 0);
  ASSERT_TRUE(WIFEXITED(st));
  EXPECT_EQ(WEXITSTATUS(st), 130);
  const json j = read_json(out / "result.json");
  EXPECT_FALSE(j["complete"].get<bool>());
  EXPECT_TRUE(j["interrupted"].get<bool>());
  const auto d = dynx::io::read_npy(out / "distances.npy");
  ASSERT_EQ(d.shape, (std::vector<std::int64_t>{30, 30}));
  std::int64_t pending = 0, done = 0;
  for (int i = 0; i < 30; ++i)
    for (int k = 0; k < 30; ++k) {
      const std::string s = j["results"][0]["status"][i][k];
      const double v = d.data[std::size_t(i * 30 + k)];
      if (s == "not_computed") {
        ++pending;
        EXPECT_TRUE(std::isnan(v));
        EXPECT_TRUE(j["results"][0]["distance"][i][k].is_null());
      } else {
        EXPECT_TRUE(std::isfinite(v)) << i << "," << k << " " << s;
        done += i != k;
      }
    }
  EXPECT_GT(pending, 0);  // it was stopped before the end
  EXPECT_GT(done, 0);     // and what finished was kept
}

// ------------------------------------------------------------------------------------------------
// dynx lyapunov

TEST(CliLyapunov, BuiltInSystemWritesTableJsonAndPlot) {
  TempDir out;
  const Result r = dynx("lyapunov --system henon --steps 50000 --out " + out.path());
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("literature"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("0.41922"), std::string::npos) << r.out;
  const json j = read_json(out / "result.json");
  EXPECT_EQ(j["settings"]["method"], "sequential_qr");
  EXPECT_EQ(j["result"]["status"], "ok");
  // The same numbers as the library on the same settings (defaults of the command: transient
  // 10000, burn-in 1000).
  dynx::SystemSpec s;
  s.name = "henon";
  dynx::SystemRunOptions run;
  run.steps = 50000;
  dynx::LyapunovOptions o;
  o.burn_in = 1000;
  dynx::Context ctx(dynx::Device::cpu());
  const dynx::LyapunovResult want = dynx::lyapunov_spectrum_of_system(ctx, s, run, o);
  ASSERT_EQ(j["result"]["exponents"].size(), 2u);
  // (The command records running estimates, which sums the same logs in pieces: equal to
  // rounding.)
  for (int i = 0; i < 2; ++i)
    EXPECT_NEAR(j["result"]["exponents"][i].get<double>(), want.exponents[std::size_t(i)], 1e-12);
  // Sum rule of Hénon: ln 0.3 (det J = −b).
  EXPECT_NEAR(j["result"]["mean_log_det_per_time"].get<double>(), std::log(0.3), 1e-10);
  EXPECT_EQ(j["running"].size(), 200u);  // --points default
  std::ifstream svg(out / "convergence.svg");
  std::stringstream ss;
  ss << svg.rdbuf();
  EXPECT_EQ(ss.str().rfind("<svg", 0), 0u);
  EXPECT_NE(ss.str().find("λ2"), std::string::npos);
}

TEST(CliLyapunov, JacobiansFromNpyAndEveryMethod) {
  TempDir out, data;
  // 20000 Lorenz-63 step Jacobians as (steps, d, d) with [t, i, j] = ∂x_i'/∂x_j.
  const std::int64_t steps = 20000;
  std::vector<double> cm(std::size_t(9 * steps)), rm(cm.size());
  dynx::SystemSpec s;
  dynx::SystemRunOptions run;
  run.steps = steps;
  run.transient = 5000;
  dynx::system_jacobians(s, run, dynx::MatrixBatch<double>(cm.data(), 3, 3, steps));
  for (std::int64_t t = 0; t < steps; ++t)
    for (int i = 0; i < 3; ++i)
      for (int jj = 0; jj < 3; ++jj) rm[std::size_t(t * 9 + i * 3 + jj)] = cm[std::size_t(t * 9 + jj * 3 + i)];
  dynx::io::write_npy(data / "jac.npy", {steps, 3, 3}, rm.data());
  dynx::LyapunovOptions o;
  o.dt = 0.01;
  o.burn_in = 1000;
  dynx::Context ctx(dynx::Device::cpu());
  const dynx::LyapunovResult seq =
      dynx::lyapunov_spectrum<double>(ctx, dynx::MatrixBatch<const double>(cm.data(), 3, 3, steps), o);
  for (const char* m : {"sequential", "overlapped", "selective-reset", "largest"}) {
    const Result r = dynx(std::string("lyapunov --jacobians ") + (data / "jac.npy") + " --dt 0.01 --method " + m +
                          " --quiet --out " + out.path());
    ASSERT_EQ(r.rc, 0) << m << "\n" << r.out;
    const json j = read_json(out / "result.json");
    // Every method against the sequential baseline on the same Jacobians: sequential exactly
    // (same code path), overlapped and the reduce within 1e-2 at this short length (20000
    // steps, 200 time units), selective resetting within 0.05 (spec §5.4).
    const double tol = std::string(m) == "sequential" ? 1e-12 : std::string(m) == "selective-reset" ? 0.05 : 1e-2;
    EXPECT_NEAR(j["result"]["exponents"][0].get<double>(), seq.exponents[0], tol) << m;
  }
  auto expect = [&](const std::string& args, int rc, const std::string& needle) {
    const Result r = dynx("lyapunov " + args + " --quiet --out " + out.path());
    EXPECT_EQ(r.rc, rc) << args << "\n" << r.out;
    EXPECT_NE(r.out.find(needle), std::string::npos) << args << "\n" << r.out;
  };
  expect("--system lorenz64", 1, "unknown system `lorenz64`");
  expect("--system lorenz63 --param gamma=1", 1, "unknown parameter `gamma`");
  expect("--param sigma", 2, "--param expects NAME=VALUE");
  expect("--method fast", 2, "--method expects sequential|overlapped|selective-reset|largest");
  expect("--steps 0", 2, "--steps expects an integer");
  expect("--jacobians " + (data / "jac.npy") + " --system henon", 2, "exclude each other");
  expect("--jacobians " + (data / "missing.npy"), 1, "missing.npy");
  expect("--jacobians " + (data / "jac.npy") + " --burn-in 30000", 1, "leaves none of its 20000 Jacobians");
  expect("--system lorenz63 --k 4", 1, "`k` must be in [0, d = 3]");
  {
    std::vector<double> flat(100 * 3, 1.0);
    dynx::io::write_npy(data / "flat.npy", {100, 3}, flat.data());
    expect("--jacobians " + (data / "flat.npy"), 1, "must have shape (steps, d, d), got (100, 3)");
  }
#if DYNX_HAS_HDF5
  {
    // The same Jacobians as an HDF5 dataset (and a second dataset, so that one must be named).
    const std::string h5 = data / "jac.h5";
    const hid_t f = H5Fcreate(h5.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    ASSERT_GE(f, 0);
    for (const char* name : {"jac", "other"}) {
      const hsize_t dims[3] = {hsize_t(steps), 3, 3};
      const hid_t sp = H5Screate_simple(3, dims, nullptr);
      const hid_t dset = H5Dcreate2(f, name, H5T_IEEE_F64LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
      H5Dwrite(dset, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, rm.data());
      H5Dclose(dset);
      H5Sclose(sp);
    }
    H5Fclose(f);
    Result r = dynx("lyapunov --jacobians " + h5 + ":/jac --dt 0.01 --quiet --out " + out.path());
    ASSERT_EQ(r.rc, 0) << r.out;
    EXPECT_NEAR(read_json(out / "result.json")["result"]["exponents"][0].get<double>(), seq.exponents[0], 1e-12);
    r = dynx("lyapunov --jacobians " + h5 + " --quiet --out " + out.path());
    EXPECT_EQ(r.rc, 1) << r.out;
    EXPECT_NE(r.out.find("holds 2 datasets; name one as FILE.h5:/DATASET"), std::string::npos) << r.out;
  }
#endif
  {
    rm[7] = std::nan("");
    dynx::io::write_npy(data / "nan.npy", {steps, 3, 3}, rm.data());
    const Result r = dynx("lyapunov --jacobians " + (data / "nan.npy") + " --out " + out.path());
    EXPECT_EQ(r.rc, 1) << r.out;
    EXPECT_NE(r.out.find("status: non_finite"), std::string::npos) << r.out;
  }
}

// ------------------------------------------------------------------------------------------------
// dynx deer

std::vector<unsigned char> file_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::vector<unsigned char>(std::istreambuf_iterator<char>(f), {});
}

/// One array of an .npz: name, shape and C-order values.
struct NpzArray {
  std::string name;
  std::vector<std::int64_t> shape;
  std::vector<double> data;
};

/// Writes arrays as an uncompressed .npz (what numpy.savez writes: a ZIP archive of .npy members,
/// stored), each member written by dynx::io::write_npy.
void write_npz(const std::string& path, const std::vector<NpzArray>& arrays) {
  auto crc32 = [](const std::vector<unsigned char>& b) {
    std::uint32_t c = 0xffffffffu;
    for (unsigned char x : b) {
      c ^= x;
      for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
    }
    return ~c;
  };
  std::vector<unsigned char> zip, central;
  auto put = [](std::vector<unsigned char>& v, std::uint32_t x, int bytes) {
    for (int k = 0; k < bytes; ++k) v.push_back((unsigned char)(x >> (8 * k)));
  };
  const std::string tmp = path + ".member.npy";
  for (const NpzArray& a : arrays) {
    dynx::io::write_npy(tmp, a.shape, a.data.data());
    const std::vector<unsigned char> data = file_bytes(tmp);
    const std::string name = a.name + ".npy";
    const std::uint32_t crc = crc32(data), size = std::uint32_t(data.size()),
                        offset = std::uint32_t(zip.size());
    // Local header: signature, version 2.0, flags, stored, time, date, CRC, sizes, name length.
    put(zip, 0x04034b50, 4), put(zip, 20, 2), put(zip, 0, 2), put(zip, 0, 2), put(zip, 0, 2);
    put(zip, 0x21, 2), put(zip, crc, 4), put(zip, size, 4), put(zip, size, 4);
    put(zip, std::uint32_t(name.size()), 2), put(zip, 0, 2);
    zip.insert(zip.end(), name.begin(), name.end());
    zip.insert(zip.end(), data.begin(), data.end());
    put(central, 0x02014b50, 4), put(central, 20, 2), put(central, 20, 2), put(central, 0, 2);
    put(central, 0, 2), put(central, 0, 2), put(central, 0x21, 2), put(central, crc, 4);
    put(central, size, 4), put(central, size, 4), put(central, std::uint32_t(name.size()), 2);
    put(central, 0, 2), put(central, 0, 2), put(central, 0, 2), put(central, 0, 2);
    put(central, 0, 4), put(central, offset, 4);
    central.insert(central.end(), name.begin(), name.end());
  }
  fs::remove(tmp);
  const std::uint32_t cd_offset = std::uint32_t(zip.size());
  zip.insert(zip.end(), central.begin(), central.end());
  put(zip, 0x06054b50, 4), put(zip, 0, 2), put(zip, 0, 2);
  put(zip, std::uint32_t(arrays.size()), 2), put(zip, std::uint32_t(arrays.size()), 2);
  put(zip, std::uint32_t(central.size()), 4), put(zip, cd_offset, 4), put(zip, 0, 2);
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(zip.data()), std::streamsize(zip.size()));
}

const char* const kGruNames[] = {"W_ir", "W_iz", "W_in", "W_hr", "W_hz", "W_hn",
                                 "b_ir", "b_iz", "b_in", "b_hr", "b_hz", "b_hn"};
const char* const kLstmNames[] = {"W_ii", "W_if", "W_ig", "W_io", "W_hi", "W_hf", "W_hg", "W_ho",
                                  "b_ii", "b_if", "b_ig", "b_io", "b_hi", "b_hf", "b_hg", "b_ho"};

/// The arrays of a cell's .npz for `dynx deer --weights`: the column-major weights of the test
/// data transposed to NumPy's row-major (rows = output units), named as the cell's members.
std::vector<NpzArray> weight_arrays(const dynx::test::NetWeights<double>& w) {
  using dynx::test::CellKind;
  std::vector<std::string> names;
  switch (w.kind) {
    case CellKind::tanh_rnn: names = {"W", "U", "b"}; break;
    case CellKind::mean_field_rnn: names = {"W"}; break;
    case CellKind::gru: names.assign(std::begin(kGruNames), std::end(kGruNames)); break;
    case CellKind::lstm: names.assign(std::begin(kLstmNames), std::end(kLstmNames)); break;
  }
  std::vector<NpzArray> out;
  for (std::size_t k = 0; k < names.size(); ++k) {
    const std::size_t end = k + 1 < w.off.size() ? w.off[k + 1] : w.data.size();
    const std::int64_t size = std::int64_t(end - w.off[k]);
    const std::int64_t rows = w.n, cols = size / rows;
    NpzArray a{names[k], names[k][0] == 'b' ? std::vector<std::int64_t>{rows}
                                            : std::vector<std::int64_t>{rows, cols}, {}};
    a.data.resize(std::size_t(size));
    for (std::int64_t i = 0; i < rows; ++i)
      for (std::int64_t j = 0; j < cols; ++j)
        a.data[std::size_t(i * cols + j)] = w.data[w.off[k] + std::size_t(j * rows + i)];
    out.push_back(std::move(a));
  }
  return out;
}

double max_abs_diff(const std::vector<double>& a, const std::vector<double>& b) {
  double m = a.size() == b.size() ? 0.0 : HUGE_VAL;
  for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i)
    m = std::max(m, std::fabs(a[i] - b[i]));
  return m;
}

// The default run on a small problem: the automatic choice, whatever it picks, agrees with the
// sequential evaluation to the float64 tolerance, and the record holds what the brief promises.
TEST(CliDeer, DefaultRunAgreesWithSequential) {
  TempDir out;
  const Result r = dynx("deer --dim 8 --steps 2000 --out " + out.path());
  ASSERT_EQ(r.rc, 0) << r.out;
  for (const char* s : {"gru: D = 8, M = 8", "method        automatic -> ", "iterations",
                        "agreement", "wrote"})
    EXPECT_NE(r.out.find(s), std::string::npos) << s << "\n" << r.out;
  const json j = read_json(out / "result.json");
  EXPECT_EQ(j["tool"], "dynx deer");
  EXPECT_EQ(j["input"]["cell"], "gru");
  EXPECT_EQ(j["input"]["steps"], 2000);
  EXPECT_EQ(j["settings"]["method"], "automatic");
  EXPECT_FALSE(j["result"]["reason"].get<std::string>().empty());
  EXPECT_LE(j["result"]["agreement"]["max_rel_diff"].get<double>(), 1e-10);
  EXPECT_TRUE(j["result"]["iterations"].contains("median"));
  EXPECT_LT(j["result"]["lle"].get<double>(), 0.0);  // GRU at gain 1: contracting
  EXPECT_EQ(j["sequences"]["status"].size(), 1u);
  const auto states = dynx::io::read_npy(out / "states.npy");
  EXPECT_EQ(states.shape, (std::vector<std::int64_t>{1, 2000, 8}));
  EXPECT_EQ(states.source_dtype, "<f8");
}

// Explicit DEER converges on every sequence of a batch in a few iterations, in float64 and
// float32 (states.npy then holds float32; agreement to the float32 tolerance, 1e-5 relative).
TEST(CliDeer, ExplicitDeerConverges) {
  TempDir out;
  for (const char* dtype : {"f64", "f32"}) {
    const Result r = dynx(std::string("deer --method deer --dim 8 --steps 1000 --batch 3 --dtype ") +
                          dtype + " --threads 1 --quiet --out " + out.path());
    ASSERT_EQ(r.rc, 0) << dtype << "\n" << r.out;
    EXPECT_TRUE(r.out.empty()) << r.out;  // --quiet
    const json j = read_json(out / "result.json");
    EXPECT_EQ(j["result"]["method"], "deer");
    EXPECT_EQ(j["result"]["status_counts"]["converged"], 3);
    EXPECT_TRUE(j["result"]["all_converged"].get<bool>());
    EXPECT_GE(j["result"]["iterations"]["min"].get<int>(), 1);
    EXPECT_LE(j["result"]["iterations"]["max"].get<int>(), 20) << dtype;
    for (const auto& p : j["sequences"]["converged_prefix"]) EXPECT_EQ(p, 1000);
    EXPECT_LE(j["result"]["agreement"]["max_rel_diff"].get<double>(),
              std::string(dtype) == "f64" ? 1e-10 : 1e-5);
    const auto states = dynx::io::read_npy(out / "states.npy");
    EXPECT_EQ(states.shape, (std::vector<std::int64_t>{3, 1000, 8}));
    EXPECT_EQ(states.source_dtype, std::string(dtype) == "f64" ? "<f8" : "<f4");
  }
}

// A chaotic tanh RNN (gain 3, D = 32: largest Lyapunov exponent ≈ +0.2 per step): the automatic
// choice goes sequential and says why.
TEST(CliDeer, ChaoticCellGoesSequential) {
  TempDir out;
  const Result r = dynx("deer --cell tanh-rnn --gain 3 --steps 2000 --method auto --out " + out.path());
  ASSERT_EQ(r.rc, 0) << r.out;
  const json j = read_json(out / "result.json");
  EXPECT_EQ(j["result"]["method"], "sequential");
  const std::string reason = j["result"]["reason"];
  EXPECT_NE(reason.find("Lyapunov exponent"), std::string::npos) << reason;
  EXPECT_GT(j["result"]["lle"].get<double>(), 0.0);
  EXPECT_EQ(j["result"]["agreement"]["max_abs_diff"].get<double>(), 0.0);  // the same evaluator
  EXPECT_NE(r.out.find("Lyapunov exponent"), std::string::npos) << r.out;
  // Forced DEER without the sequential fallback cannot converge in 3 iterations: exit status 1,
  // the outputs still written.
  const Result nf = dynx("deer --cell tanh-rnn --gain 3 --steps 500 --method deer --no-fallback "
                         "--max-iter 3 --threads 1 --quiet --out " + out.path());
  EXPECT_EQ(nf.rc, 1) << nf.out;
  EXPECT_NE(nf.out.find("1 of 1 sequences did not converge (--no-fallback)"), std::string::npos)
      << nf.out;
  const json k = read_json(out / "result.json");
  EXPECT_EQ(k["result"]["status_counts"]["not_converged"], 1);
  EXPECT_FALSE(k["result"]["all_converged"].get<bool>());
}

// Weights, inputs and initial states from files give the states of the library called directly
// on the same (column-major) weights: every cell, with GRU biases left out (zero, as flax's GRU
// has no b_hr and b_hz: the test weights' biases are zero anyway).
TEST(CliDeer, FilesGiveTheStatesOfTheLibrary) {
  using dynx::test::CellKind;
  TempDir out, data;
  dynx::Context ctx(dynx::Device::cpu());
  ctx.set_num_threads(1);  // tiny problems: OpenMP barriers cost more than they save
  const std::int64_t B = 2, T = 300;
  for (CellKind kind : {CellKind::tanh_rnn, CellKind::mean_field_rnn, CellKind::gru, CellKind::lstm}) {
    const auto w = dynx::test::make_weights<double>(kind, 6, 3, 0.8, 21);
    const int S = w.state_dim(), M = w.m;
    std::vector<NpzArray> arrays = weight_arrays(w);
    if (kind == CellKind::gru)
      arrays.erase(std::remove_if(arrays.begin(), arrays.end(),
                                  [](const NpzArray& a) { return a.name == "b_hr" || a.name == "b_hz"; }),
                   arrays.end());
    write_npz(data / "w.npz", arrays);
    const std::vector<double> u = dynx::test::make_inputs<double>(kind, B, T, M, 22);
    const std::vector<double> s0 = dynx::test::make_s0<double>(B, S, 23);
    dynx::io::write_npy(data / "u.npy", {B, T, M}, u.data());
    dynx::io::write_npy(data / "s0.npy", {B, S}, s0.data());
    const std::string name = dynx::test::cell_name(kind);
    std::string cli_name = name;
    std::replace(cli_name.begin(), cli_name.end(), '_', '-');
    const Result r = dynx("deer --cell " + cli_name + " --weights " + (data / "w.npz") +
                          " --inputs " + (data / "u.npy") + " --s0 " + (data / "s0.npy") +
                          " --method deer --threads 1 --out " + out.path());
    ASSERT_EQ(r.rc, 0) << name << "\n" << r.out;
    if (kind == CellKind::gru) {
      EXPECT_NE(r.out.find("biases left out (zero): b_hr b_hz"), std::string::npos) << r.out;
    }
    const json j = read_json(out / "result.json");
    EXPECT_EQ(j["input"]["d"], 6);
    EXPECT_EQ(j["input"]["input_dim"], M);
    EXPECT_EQ(j["input"]["batch"], B);
    const auto states = dynx::io::read_npy(out / "states.npy");
    ASSERT_EQ(states.shape, (std::vector<std::int64_t>{B, T, S})) << name;

    std::unique_ptr<dynx::DeerCell<double>> cell;
    const double* base = w.data.data();
    switch (kind) {
      case CellKind::tanh_rnn: cell = dynx::make_deer_cell<double>(ctx, w.tanh_rnn(base)); break;
      case CellKind::mean_field_rnn: cell = dynx::make_deer_cell<double>(ctx, w.mean_field_rnn(base)); break;
      case CellKind::gru: cell = dynx::make_deer_cell<double>(ctx, w.gru(base)); break;
      case CellKind::lstm: cell = dynx::make_deer_cell<double>(ctx, w.lstm(base)); break;
    }
    const dynx::MatrixBatch<const double> s0v(s0.data(), S, 1, B), uv(u.data(), M, T, B);
    std::vector<double> seq(std::size_t(B * T * S)), par(seq.size());
    dynx::deer_sequential<double>(ctx, *cell, s0v, uv, dynx::MatrixBatch<double>(seq.data(), S, T, B));
    dynx::DeerOptions o;
    o.method = dynx::DeerMethod::deer;
    dynx::deer_evaluate<double>(ctx, *cell, s0v, uv, dynx::MatrixBatch<double>(par.data(), S, T, B), o);
    // The same computation as the command's (to rounding: 1e-13), and the sequential trajectory
    // to the solver's tolerance (1e-10 on these |s| ≤ 3 states).
    EXPECT_LE(max_abs_diff(states.data, par), 1e-13) << name;
    EXPECT_LE(max_abs_diff(states.data, seq), 1e-10) << name;
  }
}

TEST(CliDeer, BadInputGetsClearErrors) {
  TempDir out, data;
  const auto w = dynx::test::make_weights<double>(dynx::test::CellKind::gru, 8, 8, 1.0, 5);
  const std::vector<NpzArray> good = weight_arrays(w);
  auto expect = [&](const std::string& args, int rc, const std::string& needle) {
    const Result r = dynx("deer " + args + " --steps 200 --quiet --out " + out.path());
    EXPECT_EQ(r.rc, rc) << args << "\n" << r.out;
    EXPECT_NE(r.out.find(needle), std::string::npos) << args << "\n" << r.out;
    return r;
  };
  {  // a missing weight matrix
    std::vector<NpzArray> a = good;
    a.erase(a.begin() + 5);  // W_hn
    write_npz(data / "missing.npz", a);
    expect("--weights " + (data / "missing.npz"), 1, "missing.npz: missing array `W_hn`");
  }
  {  // a misnamed array, a wrong shape, a NaN
    std::vector<NpzArray> a = good;
    a[3].name = "W_hh";
    write_npz(data / "misnamed.npz", a);
    expect("--weights " + (data / "misnamed.npz"), 1, "unexpected array `W_hh`");
    a = good;
    a[4].shape = {4, 16};
    write_npz(data / "shape.npz", a);
    expect("--weights " + (data / "shape.npz"), 1, "`W_hz` must have shape (8, 8)");
    a = good;
    a[0].data[1 * 8 + 2] = std::nan("");
    write_npz(data / "nan.npz", a);
    expect("--weights " + (data / "nan.npz"), 1, "`W_ir` holds NaN or Inf at [1, 2]");
    expect("--weights " + (data / "missing-file.npz"), 1, "missing-file.npz");
    expect("--weights " + (data / "nan.npz") + " --gain 2", 2, "--gain scales random weights");
  }
  {  // inputs of the wrong width, steps that disagree, initial states of the wrong size
    std::vector<double> u(200 * 3, 0.5);
    dynx::io::write_npy(data / "u3.npy", {200, 3}, u.data());
    expect("--dim 8 --inputs " + (data / "u3.npy") + " --input-dim 8", 1,
           "u3.npy: inputs must have shape (T, M) or (B, T, M) with M = 8, got (200, 3)");
    u.resize(150 * 8);
    dynx::io::write_npy(data / "u150.npy", {150, 8}, u.data());
    expect("--dim 8 --inputs " + (data / "u150.npy"), 1, "holds 150 steps but --steps is 200");
    std::vector<double> s0(5, 0.1);
    dynx::io::write_npy(data / "s0.npy", {5}, s0.data());
    expect("--cell lstm --dim 4 --s0 " + (data / "s0.npy"), 1,
           "initial states must have shape (S,) or (B, S) with S = 8 (c then h), got (5,)");
  }
  const Result r = expect("--bogus", 2, "dynx deer: unknown option '--bogus'");
  EXPECT_NE(r.out.find("usage: dynx deer"), std::string::npos) << r.out;
  expect("--block 3 --dim 8", 1, "`block` must divide the state dimension 8, got 3");
  expect("--method deer --block 2", 2, "--block is the block size of --method block");
  expect("--method quasi --shrink 1", 2, "--shrink expects a number in [0, 1), got '1'");
  expect("--method newton", 2, "--method expects auto|sequential|deer|quasi|block|elk|quasi-elk");
  expect("--cell rnn", 2, "--cell expects tanh-rnn|mean-field-rnn|gru|lstm");
  expect("--cell mean-field-rnn --dim 8 --input-dim 3", 2, "--input-dim must be D = 8 or 0");
}

TEST(CliDeer, HelpListsTheCommand) {
  Result r = dynx("deer --help");
  EXPECT_EQ(r.rc, 0);
  EXPECT_NE(r.out.find("usage: dynx deer"), std::string::npos);
  EXPECT_NE(r.out.find("W_ir W_iz W_in W_hr W_hz W_hn"), std::string::npos);
  r = dynx("--help");
  EXPECT_EQ(r.rc, 0);
  EXPECT_NE(r.out.find("deer     evaluate a recurrent cell"), std::string::npos) << r.out;
}

}  // namespace
