// `dynx compare`: Dynamical Similarity Analysis of systems read from .npy/.npz/HDF5 files (or the
// built-in examples), with the geometric baselines beside it. Writes the distance matrices (.npy,
// .csv), a JSON record of every setting, version and per-pair status, and an SVG figure.

#include "cli/cli.hpp"

#include <dynx/dynx.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <unistd.h>

namespace dynx::cli {

const char* const kCompareUsage =
    "usage: dynx compare [DATA ...] [options]\n"
    "\n"
    "Dynamical Similarity Analysis: fits a Hankel DMD operator per system and compares every pair\n"
    "(Procrustes over vector fields, or the Wasserstein distance of the eigenvalues). With no DATA\n"
    "it runs on built-in example systems, with the geometric baselines beside DSA.\n"
    "\n"
    "DATA (each array is one system of shape (time, features) or (trials, time, features)):\n"
    "  FILE.npy                  one system\n"
    "  FILE.npz                  every member is a system\n"
    "  FILE.h5[:/OBJECT]         every numeric dataset (under OBJECT) is a system (also .hdf5)\n"
    "  DIRECTORY                 every .npy/.npz/.h5/.hdf5 file inside, by name\n"
    "  --axes ORDER              axis order of the arrays, letters k (trials), t (time), n\n"
    "                            (features): default tn for 2-D and ktn for 3-D, e.g. nt, tkn\n"
    "  --group-trials            each .npz file / HDF5 group is ONE system whose arrays are its\n"
    "                            trials (lengths may differ: ragged data)\n"
    "  --y DATA                  compare every DATA system with every --y system (repeatable)\n"
    "                            instead of all pairs of DATA\n"
    "\n"
    "fit (Hankel DMD; defaults as the reference's DMD class):\n"
    "  --n-delays D (1)  --delay-interval TAU (1)  --rank R | --rank-thresh S |\n"
    "  --rank-explained-variance P | --optimal-rank  (default: every singular value)\n"
    "  --lambda L (1e-8)  --reduced-rank  --steps-ahead S (1)\n"
    "compare:\n"
    "  --metric dsa|procrustes|cka   main metric (default dsa)\n"
    "  --compare-baselines           also the geometric baselines (Procrustes shape distance after\n"
    "                                PCA, 1 - linear CKA); on by default for the built-in examples\n"
    "  --score angular|euclidean|wasserstein   DSA score (default angular; the reference's DSA\n"
    "                                class defaults to wasserstein since dsa-metric 2.0.1)\n"
    "  --optimizer riemannian|reference   (default riemannian: exact multistart; reference: Adam\n"
    "                                + Cayley, two branches, as published)\n"
    "  --random-starts N (16)  --probe-iters N (16)  --max-iters N (1000)  --seed N (0)\n"
    "  --reference-iters N (1500)  --reference-lr X (5e-3)\n"
    "  --size-mismatch error|wasserstein|zero-pad   operators of different sizes (default error)\n"
    "  --wasserstein-weights uniform|pad-zeros   (default uniform)\n"
    "  --pca-dim P                   Procrustes baseline: principal components kept (default min N)\n"
    "InputDSA (systems driven by inputs; spec 7):\n"
    "  --inputs DATA                 the inputs of the DATA systems, in the same order and trials\n"
    "                                (repeatable); compares intrinsic (A), input (B) and joint scores\n"
    "  --y-inputs DATA               the inputs of the --y systems\n"
    "  --input-dsa                   InputDSA on the built-in driven examples when no DATA is given\n"
    "  --model subspace|dmdc         (default subspace: SubspaceDMDc, for partial observation)\n"
    "  --n-delays/--rank/--lambda    as above, for the InputDSA fit (--energy P (0.999): the rank\n"
    "                                rule of SubspaceDMDc without --rank)\n"
    "  --joint-score euclidean|angular   input and joint scores (default euclidean, as the reference);\n"
    "                                the state score is --score (default angular)\n"
    "  --controllability reference|powers  K = [B, AB, AtB, ...] (reference) or [B, AB, ...] (paper)\n"
    "  --horizon H                   blocks of the powers K (default n)\n"
    "  --reference-compat            the reference's joint value ||K_x - C K_y|| (not rotation\n"
    "                                invariant; to reproduce published numbers)\n"
    "  InputDSA writes state, input and joint .npy/.csv (no distances.*).\n"
    "run:\n"
    "  --device cpu|cuda[:N]  --threads N  --dtype f64|f32 (default f64)\n"
    "  --pairs-per-batch N           pairs optimised together (default 64 on CPU, 4096 on CUDA);\n"
    "                                also how often Ctrl-C can stop the run\n"
    "  --out DIR                     output folder (default dynx-compare-out)\n"
    "  --example-seed N              seed of the built-in examples (default 0)\n"
    "  --quiet                       no tables and no progress\n"
    "\n"
    "Writes DIR/distances.npy and .csv (the main metric; NaN for pairs not computed), one .npy and\n"
    ".csv per baseline, DIR/result.json (settings, versions, models, per-pair status) and\n"
    "DIR/heatmap.svg. Ctrl-C stops after the current batch and still writes the finished pairs.\n"
    "Exit status: 0 done, 1 bad data or failed run, 2 bad command line, 130 interrupted.\n";

namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

std::atomic<bool> g_interrupted{false};

extern "C" void on_sigint(int) {
  g_interrupted.store(true);
  std::signal(SIGINT, SIG_DFL);  // a second Ctrl-C ends the program at once
}

// ------------------------------------------------------------------------------------------------
// Options

struct Options {
  std::vector<std::string> x_paths, y_paths;
  std::string axes;
  bool group_trials = false;
  HankelDmdOptions fit;
  std::string metric = "dsa";
  bool baselines = false, baselines_given = false;
  DsaScore score = DsaScore::angular;
  ProcrustesOptions procrustes;
  SizeMismatch size_mismatch = SizeMismatch::error;
  WassersteinWeights weights = WassersteinWeights::uniform;
  std::int64_t pca_dim = 0;
  std::int64_t pairs_per_batch = 0;
  Device device = Device::cpu();
  int threads = 0;
  bool f32 = false;
  std::string out = "dynx-compare-out";
  std::uint64_t example_seed = 0;
  bool quiet = false;
  std::vector<std::string> argv;
  // InputDSA
  bool input_dsa = false;
  std::vector<std::string> u_paths, yu_paths;
  bool dmdc = false;
  std::optional<double> energy;
  ControllabilityOptions joint;
};

template <class E>
E choose(const std::string& flag, const std::string& v, const std::map<std::string, E>& m) {
  auto it = m.find(v);
  if (it == m.end()) {
    std::string names;
    for (const auto& [k, e] : m) names += (names.empty() ? "" : "|") + k;
    throw UsageError(flag + " expects " + names + ", got '" + v + "'");
  }
  return it->second;
}

Options parse(const std::vector<std::string>& args) {
  Options o;
  o.argv = args;
  int rank_rules = 0;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= args.size()) throw UsageError(a + " needs a value");
      return args[++i];
    };
    constexpr std::int64_t kBig = std::int64_t(1) << 40;
    if (a == "--y") o.y_paths.push_back(value());
    else if (a == "--axes") o.axes = value();
    else if (a == "--group-trials") o.group_trials = true;
    else if (a == "--n-delays") o.fit.n_delays = parse_int(a, value(), 1, 1 << 20);
    else if (a == "--delay-interval") o.fit.delay_interval = parse_int(a, value(), 1, 1 << 20);
    else if (a == "--rank") o.fit.rank = parse_int(a, value(), 1, 1 << 20), ++rank_rules;
    else if (a == "--rank-thresh") o.fit.rank_thresh = parse_double(a, value(), 0, HUGE_VAL), ++rank_rules;
    else if (a == "--rank-explained-variance")
      o.fit.rank_explained_variance = parse_double(a, value(), 0, 1), ++rank_rules;
    else if (a == "--optimal-rank") o.fit.optimal_rank = true, ++rank_rules;
    else if (a == "--lambda") o.fit.lambda = parse_double(a, value(), 0, HUGE_VAL);
    else if (a == "--reduced-rank") o.fit.reduced_rank = true;
    else if (a == "--steps-ahead") o.fit.steps_ahead = parse_int(a, value(), 1, 1 << 20);
    else if (a == "--metric") {
      o.metric = value();
      if (o.metric != "dsa" && o.metric != "procrustes" && o.metric != "cka")
        throw UsageError("--metric expects dsa|procrustes|cka, got '" + o.metric + "'");
    } else if (a == "--compare-baselines") o.baselines = o.baselines_given = true;
    else if (a == "--no-baselines") o.baselines = false, o.baselines_given = true;
    else if (a == "--score")
      o.score = choose<DsaScore>(a, value(), {{"angular", DsaScore::angular},
                                              {"euclidean", DsaScore::euclidean},
                                              {"wasserstein", DsaScore::wasserstein}});
    else if (a == "--optimizer")
      o.procrustes.optimizer = choose<ProcrustesOptimizer>(
          a, value(), {{"riemannian", ProcrustesOptimizer::riemannian_multistart},
                       {"reference", ProcrustesOptimizer::reference_like}});
    else if (a == "--random-starts") o.procrustes.random_starts = parse_int(a, value(), 0, 10000);
    else if (a == "--probe-iters") o.procrustes.probe_iters = parse_int(a, value(), 0, 100000);
    else if (a == "--max-iters") o.procrustes.max_iters = parse_int(a, value(), 1, kBig);
    else if (a == "--seed") o.procrustes.seed = std::uint64_t(parse_int(a, value(), 0, kBig));
    else if (a == "--reference-iters") o.procrustes.reference_iters = parse_int(a, value(), 1, kBig);
    else if (a == "--reference-lr") o.procrustes.reference_lr = parse_double(a, value(), 1e-12, 1e3);
    else if (a == "--size-mismatch")
      o.size_mismatch = choose<SizeMismatch>(a, value(), {{"error", SizeMismatch::error},
                                                          {"wasserstein", SizeMismatch::wasserstein},
                                                          {"zero-pad", SizeMismatch::zero_pad}});
    else if (a == "--wasserstein-weights")
      o.weights = choose<WassersteinWeights>(a, value(), {{"uniform", WassersteinWeights::uniform},
                                                          {"pad-zeros", WassersteinWeights::pad_zeros}});
    else if (a == "--pca-dim") o.pca_dim = parse_int(a, value(), 1, 1 << 20);
    else if (a == "--pairs-per-batch") o.pairs_per_batch = parse_int(a, value(), 1, kBig);
    else if (a == "--device") {
      const std::string v = value();
      try {
        o.device = Device::parse(v);
      } catch (const Error& e) {
        throw UsageError(std::string("--device: ") + e.what());
      }
    } else if (a == "--threads") o.threads = int(parse_int(a, value(), 1, 4096));
    else if (a == "--dtype") {
      const std::string v = value();
      if (v != "f32" && v != "f64") throw UsageError("--dtype expects f32 or f64, got '" + v + "'");
      o.f32 = v == "f32";
    } else if (a == "--out") o.out = value();
    else if (a == "--example-seed") o.example_seed = std::uint64_t(parse_int(a, value(), 0, kBig));
    else if (a == "--quiet") o.quiet = true;
    else if (a == "--inputs") o.u_paths.push_back(value()), o.input_dsa = true;
    else if (a == "--y-inputs") o.yu_paths.push_back(value()), o.input_dsa = true;
    else if (a == "--input-dsa") o.input_dsa = true;
    else if (a == "--model") {
      const std::string v = value();
      if (v != "subspace" && v != "dmdc") throw UsageError("--model expects subspace|dmdc, got '" + v + "'");
      o.dmdc = v == "dmdc";
    } else if (a == "--energy") o.energy = parse_double(a, value(), 1e-12, 1);
    else if (a == "--joint-score")
      o.joint.score = choose<DsaScore>(a, value(), {{"angular", DsaScore::angular},
                                                    {"euclidean", DsaScore::euclidean}});
    else if (a == "--controllability")
      o.joint.matrix = choose<ControllabilityMatrix>(
          a, value(), {{"reference", ControllabilityMatrix::reference},
                       {"powers", ControllabilityMatrix::powers}});
    else if (a == "--horizon") o.joint.horizon = parse_int(a, value(), 1, 1 << 20);
    else if (a == "--reference-compat") o.joint.reference_compat = true;
    else if (a.size() > 1 && a[0] == '-') throw UsageError("unknown option " + a);
    else o.x_paths.push_back(a);
  }
  if (rank_rules > 1)
    throw UsageError("give at most one of --rank, --rank-thresh, --rank-explained-variance and "
                     "--optimal-rank");
  if (!o.y_paths.empty() && o.x_paths.empty())
    throw UsageError("--y needs DATA to compare with (the X side)");
  if (o.input_dsa && !o.x_paths.empty() && o.u_paths.empty())
    throw UsageError("InputDSA on DATA needs --inputs (the inputs that drove each system)");
  if (!o.y_paths.empty() && o.input_dsa && o.yu_paths.empty())
    throw UsageError("InputDSA with --y needs --y-inputs");
  if (o.input_dsa && o.metric != "dsa")
    throw UsageError("--metric " + o.metric + " compares states; it does not apply to InputDSA");
  if (!o.axes.empty()) {
    std::set<char> seen(o.axes.begin(), o.axes.end());
    const bool letters = std::all_of(o.axes.begin(), o.axes.end(),
                                     [](char c) { return c == 'k' || c == 't' || c == 'n'; });
    if (!letters || seen.size() != o.axes.size() || !seen.count('t') || !seen.count('n'))
      throw UsageError("--axes expects the letters t and n and optionally k, each once (e.g. tn, "
                       "nt, ktn, tkn), got '" + o.axes + "'");
  }
  return o;
}

// ------------------------------------------------------------------------------------------------
// Data

/// One system: trials of equal feature count, each (time, features) row-major, back to back.
struct System {
  std::string label, source;
  std::int64_t features = 0;
  std::vector<std::int64_t> lengths;
  std::vector<double> data;
  std::vector<std::int64_t> shape;  // of the array(s) as read (first array when grouped)
};

bool has_ext(const fs::path& p, std::initializer_list<const char*> exts) {
  std::string e = p.extension().string();
  std::transform(e.begin(), e.end(), e.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  for (const char* x : exts)
    if (e == x) return true;
  return false;
}

std::string shape_text(const std::vector<std::int64_t>& s) {
  std::string t = "(";
  for (std::size_t i = 0; i < s.size(); ++i) t += (i ? ", " : "") + std::to_string(s[i]);
  return t + (s.size() == 1 ? ",)" : ")");
}

/// Appends the trials of array `a` (reordered to (trials, time, features)) to `s`.
void add_trials(System& s, const io::Array& a, const std::string& axes_flag, const std::string& where) {
  const std::size_t nd = a.shape.size();
  if (nd != 2 && nd != 3)
    throw InvalidArgument(where + ": an array of shape " + shape_text(a.shape) +
                          " is not a system; it needs 2 (time, features) or 3 (trials, time, "
                          "features) dimensions (see --axes)");
  const std::string axes = axes_flag.empty() ? (nd == 2 ? "tn" : "ktn") : axes_flag;
  if (axes.size() != nd)
    throw InvalidArgument(where + ": --axes " + axes + " names " + std::to_string(axes.size()) +
                          " axes but the array has shape " + shape_text(a.shape));
  std::int64_t dim[3] = {1, 1, 1}, stride[3] = {0, 0, 0};  // k, t, n
  std::int64_t st = 1;
  for (std::size_t q = nd; q-- > 0;) {
    const int which = axes[q] == 'k' ? 0 : axes[q] == 't' ? 1 : 2;
    dim[which] = a.shape[q];
    stride[which] = st;
    st *= a.shape[q];
  }
  if (dim[1] < 1 || dim[2] < 1 || dim[0] < 1)
    throw InvalidArgument(where + ": empty array of shape " + shape_text(a.shape));
  if (s.features == 0) s.features = dim[2];
  if (dim[2] != s.features)
    throw InvalidArgument(where + ": " + std::to_string(dim[2]) + " features, but the other trials "
                          "of this system have " + std::to_string(s.features));
  for (std::int64_t k = 0; k < dim[0]; ++k) {
    for (std::int64_t t = 0; t < dim[1]; ++t)
      for (std::int64_t f = 0; f < dim[2]; ++f) {
        const double v = a.data[std::size_t(k * stride[0] + t * stride[1] + f * stride[2])];
        if (!std::isfinite(v))
          throw InvalidArgument(where + ": non-finite value " + std::to_string(v) + " at trial " +
                                std::to_string(k) + ", time step " + std::to_string(t) +
                                ", feature " + std::to_string(f) + " (axes " + axes + ")");
        s.data.push_back(v);
      }
    s.lengths.push_back(dim[1]);
  }
  if (s.shape.empty()) s.shape = a.shape;
}

/// Reads one DATA argument into systems.
void load(const std::string& arg, const Options& o, std::vector<System>& out) {
  std::string path = arg, object;
  // FILE.h5:/group selects inside an HDF5 file.
  if (auto colon = arg.rfind(':'); colon != std::string::npos && colon > 0) {
    const fs::path head = arg.substr(0, colon);
    if (has_ext(head, {".h5", ".hdf5"}) && !fs::exists(arg)) path = head.string(), object = arg.substr(colon + 1);
  }
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(path, ec))
      if (e.is_regular_file() && has_ext(e.path(), {".npy", ".npz", ".h5", ".hdf5"}))
        files.push_back(e.path());
    if (ec) throw Error(path + ": cannot list the directory: " + ec.message());
    std::sort(files.begin(), files.end());
    if (files.empty())
      throw InvalidArgument(path + ": the directory holds no .npy, .npz, .h5 or .hdf5 files");
    for (const auto& f : files) load(f.string(), o, out);
    return;
  }
  if (!fs::exists(path, ec)) throw InvalidArgument(path + ": no such file or directory");
  const fs::path p(path);
  const std::string stem = p.stem().string();
  std::vector<io::Array> arrays;
  if (has_ext(p, {".npy"})) {
    arrays.push_back(io::read_npy(path));
  } else if (has_ext(p, {".npz"})) {
    arrays = io::read_npz(path);
  } else if (has_ext(p, {".h5", ".hdf5"})) {
    if (!io::hdf5_available())
      throw InvalidArgument(path + ": this build of dynx cannot read HDF5 (built without libhdf5); "
                            "convert to .npy/.npz or rebuild with HDF5");
    arrays = io::read_hdf5(path, object);
  } else {
    throw InvalidArgument(path + ": unknown file type (expected .npy, .npz, .h5 or .hdf5)");
  }
  if (arrays.empty())
    throw InvalidArgument(path + (object.empty() ? "" : ":" + object) + ": no numeric arrays inside");
  if (o.group_trials && arrays.size() > 1) {
    System s;
    s.label = stem;
    s.source = arg;
    for (const auto& a : arrays) add_trials(s, a, o.axes, path + ": " + a.name);
    out.push_back(std::move(s));
    return;
  }
  for (const auto& a : arrays) {
    System s;
    s.label = arrays.size() == 1 && has_ext(p, {".npy"}) ? stem : stem + ":" + a.name;
    s.source = arg;
    add_trials(s, a, o.axes, has_ext(p, {".npy"}) ? path : path + ": " + a.name);
    out.push_back(std::move(s));
  }
}

std::vector<System> load_all(const std::vector<std::string>& paths, const Options& o) {
  std::vector<System> out;
  for (const auto& p : paths) load(p, o, out);
  return out;
}

std::vector<System> examples(std::uint64_t seed, std::vector<std::string>& descriptions) {
  std::vector<System> out;
  for (auto& e : dsa_example_systems(seed)) {
    System s;
    s.label = e.name;
    s.source = "built-in example";
    s.features = e.features;
    s.lengths.assign(std::size_t(e.trials), e.length);
    s.data = std::move(e.data);
    s.shape = {e.trials, e.length, e.features};
    descriptions.push_back(e.description);
    out.push_back(std::move(s));
  }
  return out;
}

/// The checks that give a clearer message here than the library could (it names systems by index).
void check_fit_feasible(const std::vector<System>& sys, const HankelDmdOptions& f) {
  const std::int64_t span = (f.n_delays - 1) * f.delay_interval;
  for (const auto& s : sys) {
    std::int64_t rows = 0;
    for (std::size_t k = 0; k < s.lengths.size(); ++k) {
      if (s.lengths[k] - span < 1 + f.steps_ahead)
        throw InvalidArgument(s.label + ": trial " + std::to_string(k) + " has " +
                              std::to_string(s.lengths[k]) + " time points; --n-delays " +
                              std::to_string(f.n_delays) + " with --delay-interval " +
                              std::to_string(f.delay_interval) + " and --steps-ahead " +
                              std::to_string(f.steps_ahead) + " need at least " +
                              std::to_string(span + 1 + f.steps_ahead));
      rows += s.lengths[k] - span;
    }
    const std::int64_t dim = s.features * f.n_delays, kmax = std::min(dim, rows);
    if (f.rank && *f.rank > kmax)
      throw InvalidArgument(s.label + ": --rank " + std::to_string(*f.rank) + " is larger than "
                            "possible: the delay embedding has " + std::to_string(dim) +
                            " dimensions (" + std::to_string(s.features) + " features x " +
                            std::to_string(f.n_delays) + " delays) and " + std::to_string(rows) +
                            " rows, so at most " + std::to_string(kmax));
  }
}

// ------------------------------------------------------------------------------------------------
// The run

const char* score_name(DsaScore s) {
  switch (s) {
    case DsaScore::angular: return "angular";
    case DsaScore::euclidean: return "euclidean";
    case DsaScore::wasserstein: return "wasserstein";
  }
  return "?";
}
const char* status_name(PairStatus s) {
  switch (s) {
    case PairStatus::ok: return "ok";
    case PairStatus::not_converged: return "not_converged";
    case PairStatus::size_fallback: return "size_fallback";
    case PairStatus::zero_padded: return "zero_padded";
    case PairStatus::not_computed: return "not_computed";
  }
  return "?";
}

/// One computed matrix.
struct Metric {
  std::string name, title, unit;
  DsaResult result;
  double seconds = 0;
};

template <class T>
std::vector<TrialSet<T>> trial_sets(const std::vector<System>& sys, std::vector<std::vector<T>>& store) {
  std::vector<TrialSet<T>> out;
  store.clear();
  for (const auto& s : sys) store.emplace_back(s.data.begin(), s.data.end());
  for (std::size_t i = 0; i < sys.size(); ++i)
    out.push_back(TrialSet<T>{store[i].data(), sys[i].features, sys[i].lengths, Device::cpu()});
  return out;
}

json models_json(const std::vector<System>& sys, const std::vector<json>& models) {
  json a = json::array();
  for (std::size_t i = 0; i < sys.size(); ++i) {
    json m = models.empty() ? json::object() : models[i];
    m["label"] = sys[i].label;
    m["source"] = sys[i].source;
    m["shape_read"] = sys[i].shape;
    m["features"] = sys[i].features;
    m["trial_lengths"] = sys[i].lengths;
    a.push_back(std::move(m));
  }
  return a;
}

template <class T>
json model_json(const DmdModel<T>& m) {
  json j;
  j["rank"] = m.rank;
  j["embedding_dim"] = m.embedding_dim;
  j["hankel_rows"] = m.hankel_rows;
  j["regression_pairs"] = m.regression_pairs;
  j["kept_singular_values"] = m.kept_singular_values;
  std::vector<double> sv(m.singular_values.begin(), m.singular_values.end());
  if (sv.size() > 64) sv.resize(64);
  j["singular_values_top64"] = sv;
  j["warnings"] = m.warnings;
  return j;
}

void print_matrix(const Metric& m, const std::vector<std::string>& rows,
                  const std::vector<std::string>& cols) {
  std::printf("\n%s\n", m.title.c_str());
  std::size_t w = 6;
  for (const auto& l : rows) w = std::max(w, std::min<std::size_t>(l.size(), 24));
  std::printf("%*s", int(w), "");
  for (const auto& c : cols) std::printf(" %9.9s", c.c_str());
  std::printf("\n");
  for (std::int64_t i = 0; i < m.result.rows; ++i) {
    std::printf("%*.*s", int(w), int(w), rows[std::size_t(i)].c_str());
    for (std::int64_t j = 0; j < m.result.cols; ++j)
      std::printf(" %9.4f", m.result.distance[std::size_t(i * m.result.cols + j)]);
    std::printf("\n");
  }
}

json fit_json(const HankelDmdOptions& f) {
  json j;
  j["n_delays"] = f.n_delays;
  j["delay_interval"] = f.delay_interval;
  j["rank"] = f.rank ? json(*f.rank) : json(nullptr);
  j["rank_thresh"] = f.rank_thresh ? json(*f.rank_thresh) : json(nullptr);
  j["rank_explained_variance"] =
      f.rank_explained_variance ? json(*f.rank_explained_variance) : json(nullptr);
  j["optimal_rank"] = f.optimal_rank;
  j["rel_sigma_cutoff"] = f.rel_sigma_cutoff;
  j["lambda"] = f.lambda;
  j["reduced_rank"] = f.reduced_rank;
  j["steps_ahead"] = f.steps_ahead;
  return j;
}

template <class T>
json control_model_json(const ControlModel<T>& m) {
  json j;
  j["rank"] = m.rank;
  j["inputs"] = m.inputs;
  j["outputs"] = m.outputs;
  j["trials_used"] = m.trials_used;
  j["columns"] = m.columns;
  j["regression_pairs"] = m.regression_pairs;
  std::vector<double> sv(m.singular_values.begin(), m.singular_values.end());
  if (sv.size() > 64) sv.resize(64);
  j["singular_values_top64"] = sv;
  j["warnings"] = m.warnings;
  return j;
}

template <class T>
json fitted_json(const DmdModel<T>& m) { return model_json(m); }
template <class T>
json fitted_json(const ControlModel<T>& m) { return control_model_json(m); }

/// The JSON records of both sides' fitted models and their warnings (printed unless quiet).
template <class M>
void record_models(const std::vector<M>& mx, const std::vector<M>& my,
                   const std::vector<System>& xs, const std::vector<System>& ys, bool self,
                   bool quiet, json& models_x, json& models_y,
                   std::vector<std::string>& fit_warnings) {
  auto collect = [&](const std::vector<M>& ms, const std::vector<System>& ss) {
    std::vector<json> js;
    for (std::size_t i = 0; i < ms.size(); ++i) {
      js.push_back(fitted_json(ms[i]));
      for (const auto& w : ms[i].warnings) fit_warnings.push_back(ss[i].label + ": " + w);
    }
    return js;
  };
  models_x = models_json(xs, collect(mx, xs));
  models_y = self ? json() : models_json(ys, collect(my, ys));
  if (!quiet)
    for (const auto& w : fit_warnings) std::fprintf(stderr, "warning: %s\n", w.c_str());
}

template <class T>
int run(const Options& o, std::vector<System> xs, std::vector<System> ys,
        const std::vector<System>& xu, const std::vector<System>& yu,
        const std::vector<std::string>& descriptions, const DsaOptions& dsa_base,
        const InputDsaOptions& input_base) {
  const bool examples_run = o.x_paths.empty();
  const bool self = ys.empty();
  Context ctx(o.device);
  if (o.threads > 0) ctx.set_num_threads(o.threads);
  std::vector<std::vector<T>> xstore, ystore;
  const auto xsets = trial_sets<T>(xs, xstore);
  const auto ysets = trial_sets<T>(ys, ystore);
  std::vector<std::string> row_labels, col_labels;
  for (const auto& s : xs) row_labels.push_back(s.label);
  for (const auto& s : (self ? xs : ys)) col_labels.push_back(s.label);

  if (!o.quiet) {
    std::printf("dynx %s, %s, %s, %s\n", version(), o.device.str().c_str(),
                o.f32 ? "float32" : "float64",
                self ? (std::to_string(xs.size()) + " systems, all pairs").c_str()
                     : (std::to_string(xs.size()) + " x " + std::to_string(ys.size()) +
                        " systems")
                           .c_str());
    if (examples_run) {
      std::printf("no data given: built-in example systems (seed %llu)\n",
                  (unsigned long long)o.example_seed);
      for (std::size_t i = 0; i < xs.size(); ++i)
        std::printf("  %-15s %s\n", xs[i].label.c_str(), descriptions[i].c_str());
    }
  }

  DsaOptions dopt = dsa_base;
  dopt.cancel = &g_interrupted;
  std::vector<Metric> metrics;
  json models_x = json::array(), models_y = json::array();
  std::vector<std::string> fit_warnings;
  double fit_seconds = 0;
  const bool want_dsa = o.metric == "dsa";
  const bool want_geometry = o.metric != "dsa" || o.baselines;
  InputDsaOptions iopt = input_base;

  if (o.input_dsa) {
    std::vector<std::vector<T>> xustore, yustore;
    const auto xusets = trial_sets<T>(xu, xustore);
    const auto yusets = trial_sets<T>(yu, yustore);
    auto fit = [&](const std::vector<TrialSet<T>>& y, const std::vector<TrialSet<T>>& u) {
      if (!o.dmdc) return subspace_dmdc_fit<T>(ctx, y, u, iopt.fit);
      DmdcOptions f;
      f.n_delays = o.fit.n_delays;
      f.delay_interval = o.fit.delay_interval;
      f.rank_output = o.fit.rank;
      f.lambda = o.fit.lambda;
      f.steps_ahead = o.fit.steps_ahead;
      return dmdc_fit<T>(ctx, y, u, f);
    };
    auto t0 = Clock::now();
    const auto mx = fit(xsets, xusets);
    const auto my = self ? std::vector<ControlModel<T>>{} : fit(ysets, yusets);
    fit_seconds = seconds_since(t0);
    record_models(mx, my, xs, ys, self, o.quiet, models_x, models_y, fit_warnings);
    Progress progress("inputdsa", "pairs", !o.quiet);
    iopt.progress = [&](std::int64_t d, std::int64_t t) { progress(d, t); };
    iopt.cancel = &g_interrupted;
    t0 = Clock::now();
    InputDsaResult r = self ? input_dsa_pairwise<T>(ctx, mx, iopt) : input_dsa_cross<T>(ctx, mx, my, iopt);
    const double secs = seconds_since(t0);
    progress.finish();
    const char* js = score_name(iopt.joint.score);
    const std::string ss = score_name(iopt.state_score);
    metrics.push_back({"state", "InputDSA state: intrinsic dynamics A (" + ss + ")",
                       iopt.state_score == DsaScore::angular ? "radians" : "", std::move(r.state), secs});
    metrics.push_back({"input", std::string("InputDSA input: input operators B (") + js + ")",
                       iopt.joint.score == DsaScore::angular ? "radians" : "", std::move(r.input), 0});
    metrics.push_back({"joint", std::string("InputDSA joint: controllability (") + js + ")",
                       iopt.joint.score == DsaScore::angular ? "radians" : "", std::move(r.joint), 0});
  } else if (want_dsa) {
    check_fit_feasible(xs, dopt.fit);
    check_fit_feasible(ys, dopt.fit);
    auto t0 = Clock::now();
    const auto mx = hankel_dmd_fit<T>(ctx, xsets, dopt.fit);
    const auto my = self ? std::vector<DmdModel<T>>{} : hankel_dmd_fit<T>(ctx, ysets, dopt.fit);
    fit_seconds = seconds_since(t0);
    record_models(mx, my, xs, ys, self, o.quiet, models_x, models_y, fit_warnings);
    Progress progress("dsa", "pairs", !o.quiet);
    dopt.progress = [&](std::int64_t d, std::int64_t t) { progress(d, t); };
    Metric m;
    m.name = "dsa";
    m.unit = dopt.score == DsaScore::angular ? "radians" : dopt.score == DsaScore::euclidean ? "" : "squared W2";
    m.title = std::string("DSA (") + score_name(dopt.score) + ")";
    t0 = Clock::now();
    m.result = self ? compare_models_pairwise<T>(ctx, mx, dopt) : compare_models_cross<T>(ctx, mx, my, dopt);
    m.seconds = seconds_since(t0);
    progress.finish();
    metrics.push_back(std::move(m));
  } else {
    models_x = models_json(xs, {});
    models_y = self ? json() : models_json(ys, {});
  }
  if (want_geometry && !g_interrupted) {
    std::vector<std::pair<GeometryMetric, std::string>> todo;
    if (o.metric == "procrustes" || o.baselines) todo.emplace_back(GeometryMetric::procrustes, "procrustes");
    if (o.metric == "cka" || o.baselines) todo.emplace_back(GeometryMetric::cka, "cka");
    if (o.metric == "cka" && o.baselines) std::swap(todo[0], todo[1]);
    for (const auto& [gm, name] : todo) {
      if (g_interrupted) break;
      GeometryOptions g;
      g.metric = gm;
      g.pca_dim = o.pca_dim;
      g.cancel = &g_interrupted;
      Progress progress(name, "pairs", !o.quiet);
      g.progress = [&](std::int64_t d, std::int64_t t) { progress(d, t); };
      Metric m;
      m.name = name;
      m.title = gm == GeometryMetric::procrustes ? "Procrustes shape distance (states)"
                                                 : "1 - linear CKA (states)";
      m.unit = gm == GeometryMetric::procrustes ? "radians" : "";
      const auto t0 = Clock::now();
      m.result = self ? geometry_pairwise<T>(ctx, xsets, g) : geometry_cross<T>(ctx, xsets, ysets, g);
      m.seconds = seconds_since(t0);
      progress.finish();
      metrics.push_back(std::move(m));
    }
  }
  const bool interrupted = g_interrupted.load();

  // --- outputs ---
  std::error_code ec;
  fs::create_directories(o.out, ec);
  if (ec) throw Error(o.out + ": cannot create the output folder: " + ec.message());
  const fs::path dir(o.out);
  std::vector<io::HeatmapPanel> panels;
  json jm = json::array();
  for (std::size_t k = 0; k < metrics.size(); ++k) {
    const Metric& m = metrics[k];
    const std::string base = k == 0 && !o.input_dsa ? "distances" : m.name;
    const std::vector<std::int64_t> shape{m.result.rows, m.result.cols};
    io::write_npy((dir / (base + ".npy")).string(), shape, m.result.distance.data());
    io::write_csv((dir / (base + ".csv")).string(), m.result.rows, m.result.cols,
                  m.result.distance.data(), row_labels, col_labels);
    panels.push_back({m.result.rows, m.result.cols, m.result.distance.data(), row_labels,
                      col_labels, m.title, m.unit});
    json j;
    j["metric"] = m.name;
    j["title"] = m.title;
    j["files"] = {base + ".npy", base + ".csv"};
    j["seconds"] = m.seconds;
    j["complete"] = m.result.complete;
    j["symmetric"] = m.result.symmetric;
    j["distance"] = json::array();
    j["status"] = json::array();
    j["iterations"] = json::array();
    std::map<std::string, std::int64_t> counts;
    for (std::int64_t i = 0; i < m.result.rows; ++i) {
      json d = json::array(), s = json::array(), it = json::array();
      for (std::int64_t c = 0; c < m.result.cols; ++c) {
        const std::size_t a = std::size_t(i * m.result.cols + c);
        const double v = m.result.distance[a];
        d.push_back(std::isfinite(v) ? json(v) : json(nullptr));
        s.push_back(status_name(m.result.status[a]));
        it.push_back(m.result.iterations[a]);
        if (!self || c < i) ++counts[status_name(m.result.status[a])];
      }
      j["distance"].push_back(d);
      j["status"].push_back(s);
      j["iterations"].push_back(it);
    }
    j["status_counts"] = counts;
    jm.push_back(std::move(j));
  }
  const std::string title =
      examples_run ? "dynx compare: built-in examples" : "dynx compare";
  if (!panels.empty()) io::write_heatmap_panels_svg((dir / "heatmap.svg").string(), panels, title);

  json r;
  r["tool"] = "dynx compare";
  r["version"] = version();
  r["build"] = build_info();
  r["date_utc"] = utc_now();
  r["command"] = o.argv;
  r["complete"] = !interrupted;
  r["interrupted"] = interrupted;
  r["mode"] = self ? "all-pairs" : "x-vs-y";
  r["device"] = o.device.str();
  r["threads"] = o.device.is_cpu() ? ctx.num_threads() : 0;
  r["dtype"] = o.f32 ? "float32" : "float64";
  r["inputs"] = {{"x", examples_run ? json("built-in examples") : json(o.x_paths)},
                 {"y", json(o.y_paths)},
                 {"axes", o.axes.empty() ? "tn (2-D) / ktn (3-D)" : o.axes},
                 {"group_trials", o.group_trials},
                 {"example_seed", examples_run ? json(o.example_seed) : json(nullptr)}};
  r["systems_x"] = models_x;
  if (!self) r["systems_y"] = models_y;
  if (examples_run)
    for (std::size_t i = 0; i < descriptions.size(); ++i) r["systems_x"][i]["description"] = descriptions[i];
  json settings;
  settings["metric"] = o.metric;
  settings["baselines"] = o.baselines;
  settings["fit"] = fit_json(dopt.fit);
  settings["score"] = score_name(dopt.score);
  settings["procrustes"] = {
      {"optimizer", dopt.procrustes.optimizer == ProcrustesOptimizer::reference_like ? "reference"
                                                                                      : "riemannian"},
      {"random_starts", dopt.procrustes.random_starts},
      {"probe_iters", dopt.procrustes.probe_iters},
      {"refine_top", dopt.procrustes.refine_top},
      {"max_iters", dopt.procrustes.max_iters},
      {"grad_tol", dopt.procrustes.grad_tol},
      {"seed", dopt.procrustes.seed},
      {"reference_iters", dopt.procrustes.reference_iters},
      {"reference_lr", dopt.procrustes.reference_lr}};
  settings["size_mismatch"] = dopt.size_mismatch == SizeMismatch::error         ? "error"
                              : dopt.size_mismatch == SizeMismatch::wasserstein ? "wasserstein"
                                                                                : "zero-pad";
  settings["wasserstein_weights"] =
      dopt.wasserstein_weights == WassersteinWeights::uniform ? "uniform" : "pad-zeros";
  settings["pca_dim"] = o.pca_dim;
  if (o.input_dsa)
    settings["input_dsa"] = {
        {"model", o.dmdc ? "dmdc" : "subspace"},
        {"n_delays", iopt.fit.n_delays},
        {"rank", iopt.fit.rank ? json(*iopt.fit.rank) : json(nullptr)},
        {"energy", iopt.fit.energy},
        {"lambda", iopt.fit.lambda},
        {"state_score", score_name(iopt.state_score)},
        {"joint_score", score_name(iopt.joint.score)},
        {"controllability", iopt.joint.matrix == ControllabilityMatrix::reference ? "reference" : "powers"},
        {"horizon", iopt.joint.horizon},
        {"reference_compat", iopt.joint.reference_compat}};
  settings["pairs_per_batch"] = dopt.pairs_per_batch;
  r["settings"] = settings;
  r["fit_seconds"] = fit_seconds;
  r["fit_warnings"] = fit_warnings;
  r["row_labels"] = row_labels;
  r["col_labels"] = col_labels;
  r["results"] = jm;
  {
    const std::string path = (dir / "result.json").string();
    std::ofstream f(path);
    f << r.dump(2) << "\n";
    if (!f) throw Error(path + ": cannot write");
  }

  if (!o.quiet) {
    if (xs.size() <= 12 && (self ? xs.size() : ys.size()) <= 12)
      for (const auto& m : metrics) print_matrix(m, row_labels, col_labels);
    if (examples_run && o.input_dsa && !interrupted)
      std::printf(
          "\nHow to read this: the state score compares the intrinsic dynamics A only, so it\n"
          "groups the systems by A (A1-* against A2-*) whatever drives them; the input score\n"
          "compares the input operators B and groups them by B. `A1-B1-rotated` is `A1-B1` rerun\n"
          "and seen through a rotation of its outputs: every score puts it next to `A1-B1`.\n");
    if (examples_run && !o.input_dsa && metrics.size() == 3 && !interrupted)
      std::printf(
          "\nHow to read this: `spiral`, `spiral-sheared` and `spiral-rerun` share one dynamical\n"
          "system and DSA puts them close together, while the state-based baselines (Procrustes,\n"
          "CKA) call them far apart because their states differ point by point. `spiral-fast`\n"
          "looks like `spiral` in state space (the baselines put it closest), but it is a\n"
          "different system, and DSA says so. The two Van der Pol runs match each other.\n");
    std::printf("\n%s: fit %.3f s", interrupted ? "interrupted" : "done", fit_seconds);
    for (const auto& m : metrics) std::printf(", %s %.3f s", m.name.c_str(), m.seconds);
    if (o.input_dsa)
      std::printf("\nwrote %s/{state,input,joint}.{npy,csv}, result.json and heatmap.svg\n", o.out.c_str());
    else
      std::printf("\nwrote %s/{distances.npy,distances.csv,result.json,heatmap.svg}%s\n",
                  o.out.c_str(), metrics.size() > 1 ? " and one .npy/.csv per baseline" : "");
  }
  if (interrupted) {
    std::fprintf(stderr, "dynx compare: interrupted; the finished pairs are saved in %s (pairs not "
                         "computed are NaN, status not_computed)\n",
                 o.out.c_str());
    return kExitInterrupted;
  }
  return kExitOk;
}

}  // namespace

int run_compare(const std::vector<std::string>& args) {
  const Options o = parse(args);
  std::vector<std::string> descriptions;
  std::vector<System> xs, ys, xu, yu;
  DsaOptions d;
  Options opts = o;
  InputDsaOptions id;
  auto fit_given = [&] {
    for (const auto& a : o.argv)
      if (a == "--n-delays" || a == "--delay-interval" || a == "--rank" || a == "--rank-thresh" ||
          a == "--rank-explained-variance" || a == "--optimal-rank" || a == "--steps-ahead" ||
          a == "--lambda" || a == "--reduced-rank" || a == "--energy")
        return true;
    return false;
  };
  if (o.input_dsa) {
    if (o.x_paths.empty()) {
      for (auto& e : input_dsa_example_systems(o.example_seed)) {
        System y, u;
        y.label = u.label = e.name;
        y.source = u.source = "built-in example";
        y.features = e.outputs;
        u.features = e.inputs;
        y.lengths = u.lengths = std::vector<std::int64_t>(std::size_t(e.trials), e.length);
        y.shape = {e.trials, e.length, e.outputs};
        u.shape = {e.trials, e.length, e.inputs};
        y.data = std::move(e.y);
        u.data = std::move(e.u);
        descriptions.push_back(e.description);
        xs.push_back(std::move(y));
        xu.push_back(std::move(u));
      }
      if (!fit_given()) {
        const InputDsaOptions ex = input_dsa_example_options();
        opts.fit.n_delays = ex.fit.n_delays;
        opts.fit.rank = ex.fit.rank;
      }
    } else {
      xs = load_all(o.x_paths, o);
      ys = load_all(o.y_paths, o);
      xu = load_all(o.u_paths, o);
      yu = load_all(o.yu_paths, o);
    }
    auto match = [](const std::vector<System>& sys, const std::vector<System>& in, const char* what) {
      if (in.size() != sys.size())
        throw InvalidArgument(std::string(what) + ": " + std::to_string(in.size()) +
                              " input arrays for " + std::to_string(sys.size()) + " systems (give one per system, in the same order)");
      for (std::size_t i = 0; i < sys.size(); ++i)
        if (in[i].lengths != sys[i].lengths)
          throw InvalidArgument(std::string(what) + ": the inputs " + in[i].label + " (" +
                                std::to_string(in[i].lengths.size()) + " trials) do not match the trials and lengths of " +
                                sys[i].label + " (" + std::to_string(sys[i].lengths.size()) + " trials)");
    };
    match(xs, xu, "--inputs");
    match(ys, yu, "--y-inputs");
    id.fit.n_delays = opts.fit.n_delays;
    id.fit.rank = opts.fit.rank;
    if (o.energy) id.fit.energy = *o.energy;
    id.fit.lambda = opts.fit.lambda;
    id.state_score = opts.score;
    id.procrustes = opts.procrustes;
    id.wasserstein_weights = opts.weights;
    id.joint = opts.joint;
    id.pairs_per_batch = opts.pairs_per_batch;
  } else if (o.x_paths.empty()) {
    xs = examples(o.example_seed, descriptions);
    const DsaOptions ex = dsa_example_options();
    // The example settings, unless the command line sets the fit.
    if (!fit_given()) opts.fit = ex.fit;
    if (!o.baselines_given) opts.baselines = true;
  } else {
    xs = load_all(o.x_paths, o);
    ys = load_all(o.y_paths, o);
  }
  d.fit = opts.fit;
  d.score = opts.score;
  d.procrustes = opts.procrustes;
  d.size_mismatch = opts.size_mismatch;
  d.wasserstein_weights = opts.weights;
  d.pairs_per_batch = opts.pairs_per_batch;
  if (xs.empty()) throw InvalidArgument("no systems to compare");
  if (ys.empty() && xs.size() < 2)
    throw InvalidArgument("only one system (" + xs[0].label + "): all pairs need at least two; "
                          "give more data, or --y to compare against other systems");
  g_interrupted = false;
  std::signal(SIGINT, on_sigint);
  return opts.f32 ? run<float>(opts, std::move(xs), std::move(ys), xu, yu, descriptions, d, id)
                  : run<double>(opts, std::move(xs), std::move(ys), xu, yu, descriptions, d, id);
}

}  // namespace dynx::cli
