// `dynx deer`: evaluates a built-in recurrent cell (include/dynx/math/cells.hpp) with random or
// file-given weights, inputs and initial states over T steps by deer_evaluate (include/dynx/
// deer.hpp), then by the sequential evaluator, and compares the two. Prints the method used and
// why, iterations, residual, timings and agreement; writes a JSON record and the states.

#include "cli/cli.hpp"

#include <dynx/deer.hpp>
#include <dynx/dynx.hpp>

#include <nlohmann/json.hpp>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <memory>
#include <random>

namespace dynx::cli {

const char* const kDeerUsage =
    "usage: dynx deer [options]\n"
    "\n"
    "Evaluates a recurrent cell s_t = f(s_{t-1}, u_t), t = 1 ... T, for B sequences, in parallel\n"
    "over time by Newton's method (DEER and its quasi, block and ELK variants) or one step after\n"
    "the other, and checks the result against the sequential evaluation.\n"
    "\n"
    "cell (default: a random GRU):\n"
    "  --cell NAME            tanh-rnn | mean-field-rnn | gru | lstm (default gru)\n"
    "  --dim D                hidden size (default 32; the lstm state (c, h) has 2D entries)\n"
    "  --input-dim M          input size (default D; mean-field-rnn adds the input unprojected:\n"
    "                         D or 0)\n"
    "  --gain G               recurrent scale of random weights (default 0.9 tanh-rnn, 0.5\n"
    "                         mean-field-rnn, 1 gru, 1 lstm)\n"
    "  --seed N               seeds random weights (N), inputs (N+1) and initial states (N+2) (0)\n"
    "  --weights FILE.npz     weights instead of random ones: one array per member, row-major\n"
    "                         with rows = output units (D x D recurrent, D x M input, D bias):\n"
    "                           tanh-rnn        W U b\n"
    "                           mean-field-rnn  W\n"
    "                           gru             W_ir W_iz W_in W_hr W_hz W_hn\n"
    "                                           b_ir b_iz b_in b_hr b_hz b_hn\n"
    "                           lstm            W_ii W_if W_ig W_io W_hi W_hf W_hg W_ho\n"
    "                                           b_ii b_if b_ig b_io b_hi b_hf b_hg b_ho\n"
    "                         biases may be left out (zero); D and M come from the shapes\n"
    "  random weights (std::mt19937_64): tanh-rnn W ~ N(0, G^2/D), U ~ N(0, 1/M),\n"
    "  b ~ N(0, 0.01/M); mean-field-rnn W ~ N(0, G^2/D) with W_ii = 0; gru input kernels\n"
    "  N(0, 1/M), recurrent kernels G x a random orthogonal matrix, zero biases; lstm input\n"
    "  N(0, 1/M), recurrent N(0, G^2/D), forget-gate bias b_if = 1, other biases 0\n"
    "inputs and initial states:\n"
    "  --steps T              steps (default 10000, or the length of --inputs)\n"
    "  --batch B              sequences (default 1, or the batch of --inputs / --s0)\n"
    "  --inputs FILE.npy      u of shape (T, M), the same for every sequence, or (B, T, M)\n"
    "                         (default N(0, 1); mean-field-rnn a sin(w t + p) per unit and\n"
    "                         sequence, a ~ U(0, 0.2), w ~ U(0.5, 3), p ~ U(0, 2 pi))\n"
    "  --s0 FILE.npy|zeros    initial states of shape (S,), the same for every sequence, or\n"
    "                         (B, S), with S = D (lstm: 2D, c then h) (default U(-1, 1))\n"
    "method:\n"
    "  --method NAME          auto | sequential | deer | quasi | block | elk | quasi-elk\n"
    "                         (default auto: sequential when the largest Lyapunov exponent on a\n"
    "                         sequential probe is not clearly negative or when a Newton iteration\n"
    "                         would cost too much, otherwise deer, quasi, elk or quasi-elk)\n"
    "  --block m              block size of --method block, a divisor of S (default 2; given\n"
    "                         alone, it selects --method block)\n"
    "  --max-iter N           Newton iterations at most (default 100; auto: the measured budget)\n"
    "  --atol X  --rtol X     tolerances on residual and Newton step (default 1e-10 f64, 1e-6 f32)\n"
    "  --shrink K             Jacobian shrinkage (1 - K) J, K in [0, 1) (auto, deer, quasi, block)\n"
    "  --sigma2 X             observation variance of the damped step (default 1e6 elk, 1e2\n"
    "                         quasi-elk)\n"
    "  --no-fallback          do not finish sequentially from the converged prefix when the\n"
    "                         budget is spent or the residual stalls: such sequences end\n"
    "                         not_converged\n"
    "  --probe N              auto: steps of the sequential probe (default min(T, 1024))\n"
    "  --lle-threshold X      auto: the largest Lyapunov exponent per step below which the cell\n"
    "                         counts as predictable (default -0.02)\n"
    "run:\n"
    "  --dtype f64|f32        precision (default f64)\n"
    "  --device cpu|cuda[:N]  --threads N\n"
    "  --no-check             skip the sequential evaluation and the comparison\n"
    "  --out DIR              output folder (default dynx-deer-out)\n"
    "  --no-states            do not write DIR/states.npy\n"
    "  --quiet                print nothing\n"
    "\n"
    "Writes DIR/result.json (settings, versions, method used and why, Lyapunov estimate, status,\n"
    "iterations, residual, step and converged prefix per sequence, timings, agreement with the\n"
    "sequential evaluation) and DIR/states.npy, shape (B, T, S), in the precision computed.\n"
    "Exit status: 0 done, 1 bad data, failed run or a sequence not converged, 2 bad command line.\n";

namespace {

using nlohmann::json;
namespace fs = std::filesystem;

enum class CellKind { tanh_rnn, mean_field_rnn, gru, lstm };

const char* cell_text(CellKind c) {
  switch (c) {
    case CellKind::tanh_rnn: return "tanh-rnn";
    case CellKind::mean_field_rnn: return "mean-field-rnn";
    case CellKind::gru: return "gru";
    case CellKind::lstm: return "lstm";
  }
  return "?";
}

// One weight of a cell, in the order of the cell struct's members.
enum class Role { input, recurrent, bias };
struct Member {
  const char* name;
  Role role;
};

const std::vector<Member>& members(CellKind c) {
  static const std::vector<Member> tanh_rnn = {
      {"W", Role::recurrent}, {"U", Role::input}, {"b", Role::bias}};
  static const std::vector<Member> mean_field = {{"W", Role::recurrent}};
  static const std::vector<Member> gru = {
      {"W_ir", Role::input},     {"W_iz", Role::input},     {"W_in", Role::input},
      {"W_hr", Role::recurrent}, {"W_hz", Role::recurrent}, {"W_hn", Role::recurrent},
      {"b_ir", Role::bias},      {"b_iz", Role::bias},      {"b_in", Role::bias},
      {"b_hr", Role::bias},      {"b_hz", Role::bias},      {"b_hn", Role::bias}};
  static const std::vector<Member> lstm = {
      {"W_ii", Role::input},     {"W_if", Role::input},     {"W_ig", Role::input},
      {"W_io", Role::input},     {"W_hi", Role::recurrent}, {"W_hf", Role::recurrent},
      {"W_hg", Role::recurrent}, {"W_ho", Role::recurrent}, {"b_ii", Role::bias},
      {"b_if", Role::bias},      {"b_ig", Role::bias},      {"b_io", Role::bias},
      {"b_hi", Role::bias},      {"b_hf", Role::bias},      {"b_hg", Role::bias},
      {"b_ho", Role::bias}};
  switch (c) {
    case CellKind::tanh_rnn: return tanh_rnn;
    case CellKind::mean_field_rnn: return mean_field;
    case CellKind::gru: return gru;
    case CellKind::lstm: return lstm;
  }
  return gru;
}

struct Options {
  CellKind cell = CellKind::gru;
  int dim = 0;           // 0: from --weights, or 32
  int input_dim = -1;    // -1: from --weights / --inputs, or D
  double gain = std::numeric_limits<double>::quiet_NaN();  // NaN: the cell's default
  std::int64_t steps = 0, batch = 0;  // 0: from the files, or 10000 and 1
  std::uint64_t seed = 0;
  std::string weights, inputs, s0;
  std::string method_text = "auto";
  bool method_given = false;
  DeerOptions deer;
  bool block_given = false, shrink_given = false, sigma2_given = false, probe_given = false,
       threshold_given = false;
  bool f32 = false;
  Device device = Device::cpu();
  int threads = 0;
  std::string out = "dynx-deer-out";
  bool quiet = false, check = true, states = true;
  std::vector<std::string> argv;
};

Options parse(const std::vector<std::string>& args) {
  Options o;
  o.argv = args;
  constexpr std::int64_t kBig = std::int64_t(1) << 40;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= args.size()) throw UsageError(a + " needs a value");
      return args[++i];
    };
    if (a == "--cell") {
      const std::string v = value();
      static const std::map<std::string, CellKind> kCells = {
          {"tanh-rnn", CellKind::tanh_rnn},
          {"mean-field-rnn", CellKind::mean_field_rnn},
          {"gru", CellKind::gru},
          {"lstm", CellKind::lstm}};
      const auto it = kCells.find(v);
      if (it == kCells.end())
        throw UsageError("--cell expects tanh-rnn|mean-field-rnn|gru|lstm, got '" + v + "'");
      o.cell = it->second;
    } else if (a == "--dim") o.dim = int(parse_int(a, value(), 1, 1 << 16));
    else if (a == "--input-dim") o.input_dim = int(parse_int(a, value(), 0, 1 << 20));
    else if (a == "--gain") o.gain = parse_double(a, value(), 0, 1e6);
    else if (a == "--steps") o.steps = parse_int(a, value(), 1, kBig);
    else if (a == "--batch") o.batch = parse_int(a, value(), 1, kBig);
    else if (a == "--seed") o.seed = std::uint64_t(parse_int(a, value(), 0, kBig));
    else if (a == "--weights") o.weights = value();
    else if (a == "--inputs") o.inputs = value();
    else if (a == "--s0") o.s0 = value();
    else if (a == "--method") {
      const std::string v = value();
      static const std::map<std::string, DeerMethod> kMethods = {
          {"auto", DeerMethod::automatic}, {"sequential", DeerMethod::sequential},
          {"deer", DeerMethod::deer},      {"quasi", DeerMethod::quasi_deer},
          {"block", DeerMethod::block_deer}, {"elk", DeerMethod::elk},
          {"quasi-elk", DeerMethod::quasi_elk}};
      const auto it = kMethods.find(v);
      if (it == kMethods.end())
        throw UsageError(
            "--method expects auto|sequential|deer|quasi|block|elk|quasi-elk, got '" + v + "'");
      o.deer.method = it->second;
      o.method_text = v;
      o.method_given = true;
    } else if (a == "--block") {
      o.deer.block = int(parse_int(a, value(), 1, 1 << 16));
      o.block_given = true;
    } else if (a == "--max-iter") o.deer.max_iter = parse_int(a, value(), 1, kBig);
    else if (a == "--atol") o.deer.atol = parse_double(a, value(), 0, 1e300);
    else if (a == "--rtol") o.deer.rtol = parse_double(a, value(), 0, 1e300);
    else if (a == "--shrink") {
      const std::string v = value();
      o.deer.shrink = parse_double(a, v, 0, 1);
      if (o.deer.shrink >= 1) throw UsageError("--shrink expects a number in [0, 1), got '" + v + "'");
      o.shrink_given = true;
    } else if (a == "--sigma2") {
      o.deer.elk_sigma2 = parse_double(a, value(), 0, 1e300);
      o.sigma2_given = true;
    } else if (a == "--no-fallback") o.deer.fallback = false;
    else if (a == "--probe") {
      o.deer.probe_steps = parse_int(a, value(), 1, kBig);
      o.probe_given = true;
    } else if (a == "--lle-threshold") {
      o.deer.lle_threshold = parse_double(a, value(), -1e6, 1e6);
      o.threshold_given = true;
    } else if (a == "--dtype") {
      const std::string v = value();
      if (v != "f32" && v != "f64") throw UsageError("--dtype expects f32|f64, got '" + v + "'");
      o.f32 = v == "f32";
    } else if (a == "--device") {
      const std::string v = value();
      try {
        o.device = Device::parse(v);
      } catch (const InvalidArgument&) {
        throw UsageError("--device expects cpu, cuda or cuda:N, got '" + v + "'");
      }
    } else if (a == "--threads") o.threads = int(parse_int(a, value(), 1, 4096));
    else if (a == "--out") o.out = value();
    else if (a == "--quiet") o.quiet = true;
    else if (a == "--no-check") o.check = false;
    else if (a == "--no-states") o.states = false;
    else throw UsageError("unknown option '" + a + "'");
  }
  if (o.block_given && !o.method_given) {
    o.deer.method = DeerMethod::block_deer;  // --block alone implies --method block
    o.method_text = "block";
  }
  const DeerMethod m = o.deer.method;
  const bool automatic = m == DeerMethod::automatic;
  if (o.block_given && m != DeerMethod::block_deer)
    throw UsageError("--block is the block size of --method block");
  if (o.shrink_given && !(automatic || m == DeerMethod::deer || m == DeerMethod::quasi_deer ||
                          m == DeerMethod::block_deer))
    throw UsageError("--shrink applies to --method auto|deer|quasi|block");
  if (o.sigma2_given && !(automatic || m == DeerMethod::elk || m == DeerMethod::quasi_elk))
    throw UsageError("--sigma2 applies to --method auto|elk|quasi-elk");
  if ((o.probe_given || o.threshold_given) && !automatic)
    throw UsageError("--probe and --lle-threshold apply to --method auto");
  if (!o.weights.empty() && std::isfinite(o.gain))
    throw UsageError("--gain scales random weights, not --weights");
  const int d = o.dim > 0 ? o.dim : 32;
  if (o.cell == CellKind::mean_field_rnn && o.weights.empty() && o.input_dim > 0 &&
      o.input_dim != d)
    throw UsageError("mean-field-rnn adds its input unprojected: --input-dim must be D = " +
                     std::to_string(d) + " or 0, got " + std::to_string(o.input_dim));
  return o;
}

std::string shape_text(const std::vector<std::int64_t>& shape) {
  std::string s = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + (shape.size() == 1 ? ",)" : ")");
}

// The C-order index `flat` of an array of `shape` as "[i, j, ...]".
std::string index_text(const std::vector<std::int64_t>& shape, std::int64_t flat) {
  std::vector<std::int64_t> idx(shape.size());
  for (std::size_t k = shape.size(); k-- > 0;) {
    idx[k] = shape[k] > 0 ? flat % shape[k] : 0;
    flat = shape[k] > 0 ? flat / shape[k] : 0;
  }
  std::string s = "[";
  for (std::size_t k = 0; k < idx.size(); ++k) s += (k ? ", " : "") + std::to_string(idx[k]);
  return s + "]";
}

void check_finite(const io::Array& a, const std::string& what) {
  for (std::size_t i = 0; i < a.data.size(); ++i)
    if (!std::isfinite(a.data[i]))
      throw InvalidArgument(what + " holds NaN or Inf at " +
                            index_text(a.shape, std::int64_t(i)));
}

// The weights of a cell on the host in float64, one column-major vector per member (in the order
// of members()); an absent bias is an empty vector.
struct HostWeights {
  int n = 0, m = 0;
  std::vector<std::vector<double>> w;
  std::vector<std::string> absent;  // biases left out of --weights
};

std::vector<double> random_orthogonal(int n, std::mt19937_64& rng) {
  // Gram–Schmidt on a Gaussian matrix, twice per column for accuracy.
  std::normal_distribution<double> g;
  std::vector<double> q(std::size_t(n) * std::size_t(n));
  for (auto& v : q) v = g(rng);
  auto col = [&](int j) { return q.data() + std::size_t(j) * std::size_t(n); };
  for (int j = 0; j < n; ++j)
    for (int pass = 0; pass < 2; ++pass) {
      for (int k = 0; k < j; ++k) {
        double dot = 0;
        for (int i = 0; i < n; ++i) dot += col(k)[i] * col(j)[i];
        for (int i = 0; i < n; ++i) col(j)[i] -= dot * col(k)[i];
      }
      double nrm = 0;
      for (int i = 0; i < n; ++i) nrm += col(j)[i] * col(j)[i];
      nrm = std::sqrt(nrm);
      for (int i = 0; i < n; ++i) col(j)[i] /= nrm;
    }
  return q;
}

// Random weights with recurrent gain g (the distributions of the usage text; the same draws, in
// the same order, as the seeded weights of the library's tests).
HostWeights random_weights(CellKind c, int n, int m, double g, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> N01;
  HostWeights h;
  h.n = n;
  h.m = m;
  const std::size_t nn = std::size_t(n) * std::size_t(n), nm = std::size_t(n) * std::size_t(m);
  const double si = 1.0 / std::sqrt(double(std::max(1, m))), sh = g / std::sqrt(double(n));
  auto add = [&](std::size_t size, auto gen) {
    std::vector<double> v(size);
    for (std::size_t i = 0; i < size; ++i) v[i] = gen(i);
    h.w.push_back(std::move(v));
  };
  switch (c) {
    case CellKind::tanh_rnn:
      add(nn, [&](std::size_t) { return sh * N01(rng); });
      add(nm, [&](std::size_t) { return si * N01(rng); });
      add(std::size_t(n), [&](std::size_t) { return 0.1 * si * N01(rng); });
      break;
    case CellKind::mean_field_rnn:
      add(nn, [&](std::size_t i) { return i % std::size_t(n + 1) == 0 ? 0.0 : sh * N01(rng); });
      break;
    case CellKind::gru:
      for (int k = 0; k < 3; ++k) add(nm, [&](std::size_t) { return si * N01(rng); });
      for (int k = 0; k < 3; ++k) {
        const std::vector<double> q = random_orthogonal(n, rng);
        add(nn, [&](std::size_t i) { return g * q[i]; });
      }
      for (int k = 0; k < 6; ++k) add(std::size_t(n), [](std::size_t) { return 0.0; });
      break;
    case CellKind::lstm:
      for (int k = 0; k < 4; ++k) add(nm, [&](std::size_t) { return si * N01(rng); });
      for (int k = 0; k < 4; ++k) add(nn, [&](std::size_t) { return sh * N01(rng); });
      for (int k = 0; k < 8; ++k)
        add(std::size_t(n), [&](std::size_t) { return k == 1 ? 1.0 : 0.0; });
      break;
  }
  return h;
}

std::string member_list(CellKind c) {
  std::string s;
  for (const Member& mb : members(c)) s += (s.empty() ? "" : " ") + std::string(mb.name);
  return s;
}

// Weights from a .npz: every matrix present, biases optional, no other arrays; shapes checked
// against each other (D from the recurrent matrices, M from the input matrices) and against
// --dim / --input-dim; row-major (rows = output units) transposed to the cells' column-major.
HostWeights read_weights(const Options& o) {
  const std::string& path = o.weights;
  const std::vector<io::Array> arrays = io::read_npz(path);
  std::map<std::string, const io::Array*> by_name;
  for (const io::Array& a : arrays) {
    bool known = false;
    for (const Member& mb : members(o.cell)) known = known || a.name == mb.name;
    if (!known)
      throw InvalidArgument(path + ": unexpected array `" + a.name + "`; the " +
                            cell_text(o.cell) + " cell takes " + member_list(o.cell));
    by_name[a.name] = &a;
  }
  for (const Member& mb : members(o.cell))
    if (mb.role != Role::bias && !by_name.count(mb.name))
      throw InvalidArgument(path + ": missing array `" + std::string(mb.name) + "`; the " +
                            cell_text(o.cell) + " cell takes " + member_list(o.cell) +
                            " (biases may be left out)");
  // D from the first recurrent matrix, M from the first input matrix.
  HostWeights h;
  for (const Member& mb : members(o.cell)) {
    if (mb.role == Role::recurrent && h.n == 0) {
      const io::Array& a = *by_name.at(mb.name);
      if (a.shape.size() != 2 || a.shape[0] != a.shape[1] || a.shape[0] < 1 ||
          a.shape[0] > (1 << 16))
        throw InvalidArgument(path + ": `" + mb.name + "` must be a square D x D matrix, got shape " +
                              shape_text(a.shape));
      h.n = int(a.shape[0]);
    }
  }
  h.m = -1;
  for (const Member& mb : members(o.cell)) {
    if (mb.role != Role::input) continue;
    const io::Array& a = *by_name.at(mb.name);
    if (a.shape.size() != 2 || a.shape[0] != h.n)
      throw InvalidArgument(path + ": `" + mb.name + "` must have shape (D, M) = (" +
                            std::to_string(h.n) + ", M), got " + shape_text(a.shape));
    h.m = int(a.shape[1]);
    break;
  }
  if (o.dim > 0 && o.dim != h.n)
    throw InvalidArgument(path + ": --dim " + std::to_string(o.dim) +
                          " disagrees with the weights (D = " + std::to_string(h.n) + ")");
  if (h.m >= 0 && o.input_dim >= 0 && o.input_dim != h.m)
    throw InvalidArgument(path + ": --input-dim " + std::to_string(o.input_dim) +
                          " disagrees with the weights (M = " + std::to_string(h.m) + ")");
  for (const Member& mb : members(o.cell)) {
    const auto it = by_name.find(mb.name);
    if (it == by_name.end()) {  // a bias left out: zero
      h.w.emplace_back();
      h.absent.push_back(mb.name);
      continue;
    }
    const io::Array& a = *it->second;
    const std::int64_t rows = h.n, cols = mb.role == Role::recurrent ? h.n : h.m;
    const std::vector<std::int64_t> want =
        mb.role == Role::bias ? std::vector<std::int64_t>{rows} : std::vector<std::int64_t>{rows, cols};
    if (a.shape != want)
      throw InvalidArgument(path + ": `" + mb.name + "` must have shape " + shape_text(want) +
                            " (rows = output units), got " + shape_text(a.shape));
    check_finite(a, path + ": `" + mb.name + "`");
    std::vector<double> cm(a.data.size());
    if (mb.role == Role::bias) {
      cm = a.data;
    } else {
      for (std::int64_t i = 0; i < rows; ++i)
        for (std::int64_t j = 0; j < cols; ++j)
          cm[std::size_t(j * rows + i)] = a.data[std::size_t(i * cols + j)];
    }
    h.w.push_back(std::move(cm));
  }
  return h;
}

// Everything the run needs on the host, in float64: weights, inputs (B × T × M) and initial
// states (B × S), with the sizes resolved from the options and the files.
struct Problem {
  HostWeights weights;
  int n = 0, m = 0, s = 0;  // hidden size, input size, state size
  std::int64_t steps = 0, batch = 0;
  std::vector<double> u, s0;
  double gain = 0;  // random weights only
};

int state_size(CellKind c, int n) { return c == CellKind::lstm ? 2 * n : n; }

Problem resolve(const Options& o) {
  Problem p;
  io::Array u_file, s0_file;
  const bool has_u = !o.inputs.empty(), has_s0 = !o.s0.empty() && o.s0 != "zeros";
  if (has_u) u_file = io::read_npy(o.inputs);
  if (has_s0) s0_file = io::read_npy(o.s0);

  // D and M: from the weights, else the options, else the inputs file, else 32 and D.
  if (!o.weights.empty()) p.weights = read_weights(o);
  p.n = !o.weights.empty() ? p.weights.n : o.dim > 0 ? o.dim : 32;
  p.s = state_size(o.cell, p.n);
  int m = !o.weights.empty() && o.cell != CellKind::mean_field_rnn ? p.weights.m : o.input_dim;
  if (has_u && !u_file.shape.empty()) {
    const std::int64_t file_m = u_file.shape.back();
    if (m < 0 && (u_file.shape.size() == 2 || u_file.shape.size() == 3)) m = int(file_m);
  }
  if (m < 0) m = p.n;
  if (o.cell == CellKind::mean_field_rnn && m != 0 && m != p.n)
    throw InvalidArgument("mean-field-rnn adds its input unprojected: the input size must be D = " +
                          std::to_string(p.n) + " or 0, got " + std::to_string(m));
  p.m = m;

  // T and B: from the files (which must agree with --steps / --batch), else the options.
  p.steps = o.steps > 0 ? o.steps : 10000;
  p.batch = o.batch > 0 ? o.batch : 1;
  if (has_u) {
    const auto& sh = u_file.shape;
    if ((sh.size() != 2 && sh.size() != 3) || sh.back() != m || sh[sh.size() - 2] < 1 ||
        (sh.size() == 3 && sh[0] < 1))
      throw InvalidArgument(o.inputs + ": inputs must have shape (T, M) or (B, T, M) with M = " +
                            std::to_string(m) + ", got " + shape_text(sh));
    const std::int64_t t = sh[sh.size() - 2];
    if (o.steps > 0 && o.steps != t)
      throw InvalidArgument(o.inputs + ": holds " + std::to_string(t) + " steps but --steps is " +
                            std::to_string(o.steps));
    p.steps = t;
    if (sh.size() == 3) {
      if (o.batch > 0 && o.batch != sh[0])
        throw InvalidArgument(o.inputs + ": holds " + std::to_string(sh[0]) +
                              " sequences but --batch is " + std::to_string(o.batch));
      p.batch = sh[0];
    }
    check_finite(u_file, o.inputs);
  }
  if (has_s0) {
    const auto& sh = s0_file.shape;
    if ((sh.size() != 1 && sh.size() != 2) || sh.back() != p.s || (sh.size() == 2 && sh[0] < 1))
      throw InvalidArgument(o.s0 + ": initial states must have shape (S,) or (B, S) with S = " +
                            std::to_string(p.s) + (o.cell == CellKind::lstm ? " (c then h)" : "") +
                            ", got " + shape_text(sh));
    if (sh.size() == 2) {
      const bool batch_fixed = o.batch > 0 || (has_u && u_file.shape.size() == 3);
      if (batch_fixed && sh[0] != p.batch)
        throw InvalidArgument(o.s0 + ": holds " + std::to_string(sh[0]) +
                              " initial states but there are " + std::to_string(p.batch) +
                              " sequences");
      p.batch = sh[0];
    }
    check_finite(s0_file, o.s0);
  }

  // Random weights, inputs and initial states where no file gives them.
  if (o.weights.empty()) {
    p.gain = std::isfinite(o.gain) ? o.gain
             : o.cell == CellKind::tanh_rnn       ? 0.9
             : o.cell == CellKind::mean_field_rnn ? 0.5
                                                  : 1.0;
    p.weights = random_weights(o.cell, p.n, m, p.gain, o.seed);
  } else {
    p.weights.m = m;
  }
  const std::size_t tm = std::size_t(p.steps) * std::size_t(m);
  p.u.resize(std::size_t(p.batch) * tm);
  if (has_u) {
    for (std::int64_t b = 0; b < p.batch; ++b)  // a (T, M) file is broadcast
      std::copy_n(u_file.data.begin() + std::ptrdiff_t(u_file.shape.size() == 3 ? std::size_t(b) * tm : 0),
                  tm, p.u.begin() + std::ptrdiff_t(std::size_t(b) * tm));
  } else if (o.cell == CellKind::mean_field_rnn) {
    std::mt19937_64 rng(o.seed + 1);
    std::uniform_real_distribution<double> ua(0, 0.2), uw(0.5, 3.0), up(0, 6.283185307179586);
    for (std::int64_t b = 0; b < p.batch; ++b)
      for (int i = 0; i < m; ++i) {
        const double a = ua(rng), w = uw(rng), ph = up(rng);
        for (std::int64_t t = 0; t < p.steps; ++t)
          p.u[std::size_t((b * p.steps + t) * m + i)] = a * std::sin(w * double(t + 1) + ph);
      }
  } else {
    std::mt19937_64 rng(o.seed + 1);
    std::normal_distribution<double> g;
    for (auto& v : p.u) v = g(rng);
  }
  p.s0.resize(std::size_t(p.batch) * std::size_t(p.s));
  if (has_s0) {
    for (std::int64_t b = 0; b < p.batch; ++b)
      std::copy_n(s0_file.data.begin() + std::ptrdiff_t(s0_file.shape.size() == 2 ? b * p.s : 0),
                  p.s, p.s0.begin() + std::ptrdiff_t(b * p.s));
  } else if (o.s0 != "zeros") {
    std::mt19937_64 rng(o.seed + 2);
    std::uniform_real_distribution<double> g(-1, 1);
    for (auto& v : p.s0) v = g(rng);
  }
  return p;
}

// The weights on ctx's device in precision T and the cell bound to them.
template <class T>
struct DeviceCell {
  std::vector<Buffer<T>> buffers;
  std::unique_ptr<DeerCell<T>> cell;

  const T* at(std::size_t k) const { return buffers[k].data(); }  // null when empty
};

template <class T>
DeviceCell<T> make_cell(Context& ctx, CellKind kind, const HostWeights& h) {
  DeviceCell<T> d;
  for (const std::vector<double>& w : h.w) {
    const std::vector<T> v(w.begin(), w.end());
    d.buffers.push_back(to_device(ctx, v.data(), v.size()));
  }
  switch (kind) {
    case CellKind::tanh_rnn:
      d.cell = make_deer_cell<T>(ctx, math::TanhRnnCell<T>{d.at(0), d.at(1), d.at(2), h.n, h.m});
      break;
    case CellKind::mean_field_rnn:
      d.cell = make_deer_cell<T>(ctx, math::MeanFieldRnnCell<T>{d.at(0), h.n, h.m});
      break;
    case CellKind::gru: {
      math::GruCell<T> c;
      const T** p[] = {&c.W_ir, &c.W_iz, &c.W_in, &c.W_hr, &c.W_hz, &c.W_hn,
                       &c.b_ir, &c.b_iz, &c.b_in, &c.b_hr, &c.b_hz, &c.b_hn};
      for (std::size_t k = 0; k < 12; ++k) *p[k] = d.at(k);
      c.n = h.n;
      c.m = h.m;
      d.cell = make_deer_cell<T>(ctx, c);
      break;
    }
    case CellKind::lstm: {
      math::LstmCell<T> c;
      const T** p[] = {&c.W_ii, &c.W_if, &c.W_ig, &c.W_io, &c.W_hi, &c.W_hf, &c.W_hg, &c.W_ho,
                       &c.b_ii, &c.b_if, &c.b_ig, &c.b_io, &c.b_hi, &c.b_hf, &c.b_hg, &c.b_ho};
      for (std::size_t k = 0; k < 16; ++k) *p[k] = d.at(k);
      c.n = h.n;
      c.m = h.m;
      d.cell = make_deer_cell<T>(ctx, c);
      break;
    }
  }
  return d;
}

json nan_to_null(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

std::string number(double v, const char* fmt = "%.3g") {
  if (std::isnan(v)) return "-";
  char b[64];
  std::snprintf(b, sizeof b, fmt, v);
  return b;
}

// The comparison with the sequential evaluation.
struct Agreement {
  double max_abs = 0;  // max |s − s_seq| over every entry
  double max_rel = 0;  // max over sequences of max |s − s_seq| / max |s_seq| of that sequence
  double max_state = 0;  // max |s_seq|
  std::int64_t worst = 0;  // the sequence of max_rel
};

template <class T>
Agreement compare(const std::vector<T>& s, const std::vector<T>& ref, std::int64_t batch) {
  Agreement a;
  const std::size_t per = batch > 0 ? s.size() / std::size_t(batch) : 0;
  a.max_rel = batch > 0 ? 0.0 : std::numeric_limits<double>::quiet_NaN();
  for (std::int64_t q = 0; q < batch; ++q) {
    double diff = 0, scale = 0;
    for (std::size_t i = std::size_t(q) * per; i < std::size_t(q + 1) * per; ++i) {
      const double x = double(s[i]), y = double(ref[i]);
      const double d = std::isfinite(x) && std::isfinite(y) ? std::fabs(x - y) : HUGE_VAL;
      diff = std::max(diff, d);
      scale = std::max(scale, std::fabs(y));
    }
    const double rel = diff / std::max(scale, std::numeric_limits<double>::min());
    a.max_abs = std::max(a.max_abs, diff);
    a.max_state = std::max(a.max_state, scale);
    if (rel > a.max_rel || q == 0) a.max_rel = rel, a.worst = q;
  }
  return a;
}

template <class T>
int run(const Options& o, Context& ctx, const Problem& p) {
  const std::int64_t B = p.batch, Tn = p.steps;
  const int S = p.s, M = p.m;
  const std::size_t state_entries = std::size_t(B) * std::size_t(Tn) * std::size_t(S);
  const DeviceCell<T> cell = make_cell<T>(ctx, o.cell, p.weights);
  const std::vector<T> h_u(p.u.begin(), p.u.end()), h_s0(p.s0.begin(), p.s0.end());
  const Buffer<T> u = to_device(ctx, h_u.data(), h_u.size());
  const Buffer<T> s0 = to_device(ctx, h_s0.data(), h_s0.size());
  Buffer<T> states(state_entries, ctx.device());
  const Device dev = ctx.device();
  const MatrixBatch<const T> s0v(s0.data(), S, 1, B, dev);
  const MatrixBatch<const T> uv = M > 0 ? MatrixBatch<const T>(u.data(), M, Tn, B, dev)
                                        : MatrixBatch<const T>();
  const char* dtype = sizeof(T) == 4 ? "float32" : "float64";

  if (!o.quiet) {
    std::printf("dynx %s, %s", version(), o.device.str().c_str());
    if (o.device.is_cpu())
      std::printf(" (%d thread%s)", ctx.num_threads(), ctx.num_threads() == 1 ? "" : "s");
    std::printf("\n%s: D = %d, M = %d, state %d; T = %lld steps, B = %lld; %s; weights %s\n",
                cell_text(o.cell), p.n, M, S, (long long)Tn, (long long)B, dtype,
                o.weights.empty() ? ("random (seed " + std::to_string(o.seed) + ", gain " +
                                     number(p.gain, "%g") + ")").c_str()
                                  : o.weights.c_str());
    if (!p.weights.absent.empty()) {
      std::printf("  biases left out (zero):");
      for (const auto& b : p.weights.absent) std::printf(" %s", b.c_str());
      std::printf("\n");
    }
    std::printf("running %s ...\n", o.method_text.c_str());
    std::fflush(stdout);
  }
  ctx.synchronize();
  auto t0 = std::chrono::steady_clock::now();
  const DeerResult r = deer_evaluate<T>(ctx, *cell.cell, s0v, uv, states.matrices(S, Tn, B), o.deer);
  ctx.synchronize();
  const double seconds = seconds_since(t0);
  const std::vector<T> h_states = to_host(ctx, states);

  double seconds_seq = std::numeric_limits<double>::quiet_NaN();
  std::vector<T> h_ref;
  Agreement agree;
  if (o.check) {
    if (!o.quiet) {
      std::printf("running sequential ...\n");
      std::fflush(stdout);
    }
    Buffer<T> ref(state_entries, ctx.device());
    ctx.synchronize();
    t0 = std::chrono::steady_clock::now();
    deer_sequential<T>(ctx, *cell.cell, s0v, uv, ref.matrices(S, Tn, B));
    ctx.synchronize();
    seconds_seq = seconds_since(t0);
    h_ref = to_host(ctx, ref);
    agree = compare(h_states, h_ref, B);
  }

  // The largest Lyapunov exponent: the automatic choice's estimate, otherwise the same estimate
  // on the sequential trajectory (its first min(T, 1024) steps of up to 4 sequences).
  double lle = r.lle;
  std::string lle_source =
      std::isfinite(lle) ? "automatic probe, " + std::to_string(r.probe_steps) + " steps" : "";
  if (!std::isfinite(lle) && o.check && B > 0 && Tn > 0) {
    const std::int64_t nb = std::min<std::int64_t>(B, 4), tp = std::min<std::int64_t>(Tn, 1024);
    std::vector<T> hs(std::size_t(nb * tp * S)), hu(std::size_t(nb * tp * M));
    for (std::int64_t q = 0; q < nb; ++q) {
      std::copy_n(h_ref.begin() + std::ptrdiff_t(q * Tn * S), tp * S,
                  hs.begin() + std::ptrdiff_t(q * tp * S));
      std::copy_n(h_u.begin() + std::ptrdiff_t(q * Tn * M), tp * M,
                  hu.begin() + std::ptrdiff_t(q * tp * M));
    }
    try {
      const Buffer<T> ds = to_device(ctx, hs.data(), hs.size()), du = to_device(ctx, hu.data(), hu.size());
      lle = deer_largest_lyapunov<T>(
          ctx, *cell.cell, s0v.slice(0, nb),
          M > 0 ? MatrixBatch<const T>(du.data(), M, tp, nb, dev) : MatrixBatch<const T>(),
          MatrixBatch<const T>(ds.data(), S, tp, nb, dev));
      lle_source = "sequential trajectory, first " + std::to_string(tp) + " steps of " +
                   std::to_string(nb) + " sequence" + (nb > 1 ? "s" : "");
    } catch (const InvalidArgument&) {  // a non-finite Jacobian: no estimate
      lle = std::numeric_limits<double>::quiet_NaN();
    }
  }

  // Per-sequence summaries.
  std::map<std::string, std::int64_t> counts;
  for (DeerStatus s : r.status) ++counts[to_string(s)];
  std::vector<std::int64_t> its = r.iterations;
  std::sort(its.begin(), its.end());
  const std::int64_t it_min = its.empty() ? 0 : its.front(), it_max = its.empty() ? 0 : its.back();
  const double it_median =
      its.empty() ? 0
                  : its.size() % 2 ? double(its[its.size() / 2])
                                   : 0.5 * double(its[its.size() / 2 - 1] + its[its.size() / 2]);
  double residual_max = 0;
  for (double v : r.residual) residual_max = std::isnan(v) ? v : std::max(residual_max, v);
  const bool all_converged = r.all_converged();
  const double speedup = seconds_seq / std::max(seconds, 1e-12);

  if (!o.quiet) {
    std::printf("\n  %-13s %s -> %s\n", "method", to_string(o.deer.method), to_string(r.method));
    if (!r.reason.empty()) std::printf("  %-13s %s\n", "reason", r.reason.c_str());
    if (std::isfinite(lle))
      std::printf("  %-13s %.4g per step (%s)\n", "lyapunov", lle, lle_source.c_str());
    std::string st;
    for (const auto& [name, n] : counts) st += (st.empty() ? "" : ", ") + std::to_string(n) + " " + name;
    std::printf("  %-13s %s\n", "sequences", st.c_str());
    std::printf("  %-13s min %lld, median %g, max %lld\n", "iterations", (long long)it_min,
                it_median, (long long)it_max);
    std::printf("  %-13s max %s\n", "residual", number(residual_max).c_str());
    std::printf("  %-13s %.4g s (%s)", "time", seconds, to_string(r.method));
    if (o.check)
      std::printf(", sequential %.4g s, speed-up %.3gx", seconds_seq, speedup);
    std::printf("\n");
    if (o.check)
      std::printf("  %-13s max |s - s_seq| %s, relative %s (max |s_seq| %s)\n", "agreement",
                  number(agree.max_abs).c_str(), number(agree.max_rel).c_str(),
                  number(agree.max_state).c_str());
    const std::int64_t shown = std::min<std::int64_t>(B, 8);
    std::printf("\n  %-6s %-14s %10s %11s %11s %10s\n", "seq", "status", "iterations", "residual",
                "step", "prefix");
    for (std::int64_t q = 0; q < shown; ++q) {
      const std::size_t k = std::size_t(q);
      std::printf("  %-6lld %-14s %10lld %11s %11s %10lld\n", (long long)q, to_string(r.status[k]),
                  (long long)r.iterations[k], number(r.residual[k]).c_str(),
                  number(r.step[k]).c_str(), (long long)r.converged_prefix[k]);
    }
    if (B > shown) std::printf("  ... %lld more in result.json\n", (long long)(B - shown));
  }

  const fs::path dir(o.out);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw Error("cannot create output folder " + dir.string() + ": " + ec.message());
  if (o.states) {
    const std::vector<std::int64_t> shape = {B, Tn, S};
    io::write_npy((dir / "states.npy").string(), shape, h_states.data());
  }

  json j;
  j["tool"] = "dynx deer";
  j["version"] = version();
  j["build"] = build_info();
  j["date_utc"] = utc_now();
  j["command"] = o.argv;
  j["device"] = o.device.str();
  j["threads"] = o.device.is_cpu() ? ctx.num_threads() : 0;
  json weights;
  if (o.weights.empty()) {
    weights = {{"random", true}, {"seed", o.seed}, {"gain", p.gain}};
  } else {
    weights = {{"file", o.weights}, {"biases_absent", p.weights.absent}};
  }
  j["input"] = {{"cell", cell_text(o.cell)},
                {"d", p.n},
                {"input_dim", M},
                {"state_dim", S},
                {"steps", Tn},
                {"batch", B},
                {"dtype", dtype},
                {"weights", weights},
                {"inputs", o.inputs.empty() ? json("random") : json(o.inputs)},
                {"s0", o.s0.empty() ? json("random") : json(o.s0)},
                {"seed", o.seed}};
  j["settings"] = {{"method", to_string(o.deer.method)},
                   {"block", o.deer.block},
                   {"max_iter", o.deer.max_iter},
                   {"atol", o.deer.atol > 0 ? o.deer.atol : sizeof(T) == 4 ? 1e-6 : 1e-10},
                   {"rtol", o.deer.rtol > 0 ? o.deer.rtol : sizeof(T) == 4 ? 1e-6 : 1e-10},
                   {"shrink", o.deer.shrink},
                   {"elk_sigma2", o.deer.elk_sigma2},
                   {"fallback", o.deer.fallback},
                   {"probe_steps", o.deer.probe_steps},
                   {"lle_threshold", o.deer.lle_threshold},
                   {"check", o.check}};
  json status = json::array(), step = json::array(), residual = json::array();
  for (std::size_t k = 0; k < r.status.size(); ++k) {
    status.push_back(to_string(r.status[k]));
    step.push_back(nan_to_null(r.step[k]));
    residual.push_back(nan_to_null(r.residual[k]));
  }
  j["result"] = {{"method", to_string(r.method)},
                 {"reason", r.reason},
                 {"lle", nan_to_null(lle)},
                 {"lle_source", lle_source},
                 {"probe_steps", r.probe_steps},
                 {"all_converged", all_converged},
                 {"status_counts", counts},
                 {"iterations", {{"min", it_min}, {"median", it_median}, {"max", it_max}}},
                 {"residual_max", nan_to_null(residual_max)},
                 {"seconds", seconds},
                 {"seconds_per_iteration", r.seconds_per_iteration},
                 {"seconds_per_step_sequential_probe", r.seconds_per_step_sequential}};
  if (o.check) {
    j["result"]["seconds_sequential"] = seconds_seq;
    j["result"]["speedup"] = nan_to_null(speedup);
    j["result"]["agreement"] = {{"max_abs_diff", nan_to_null(agree.max_abs)},
                                {"max_rel_diff", nan_to_null(agree.max_rel)},
                                {"worst_sequence", agree.worst},
                                {"max_abs_state", agree.max_state}};
  }
  j["sequences"] = {{"status", status},
                    {"iterations", r.iterations},
                    {"residual", residual},
                    {"step", step},
                    {"converged_prefix", r.converged_prefix}};
  std::ofstream f(dir / "result.json");
  f << j.dump(2) << "\n";
  if (!f) throw Error("cannot write " + (dir / "result.json").string());
  if (!o.quiet)
    std::printf("\nwrote %s/result.json%s\n", dir.string().c_str(),
                o.states ? " and states.npy" : "");
  if (!all_converged) {
    std::fprintf(stderr,
                 "dynx deer: %lld of %lld sequences did not converge (--no-fallback); their last "
                 "iterates are in the output\n",
                 (long long)counts["not_converged"], (long long)B);
    return kExitError;
  }
  return kExitOk;
}

}  // namespace

int run_deer(const std::vector<std::string>& args) {
  const Options o = parse(args);
  Context ctx(o.device);
  if (o.threads > 0) ctx.set_num_threads(o.threads);
  const Problem p = resolve(o);
  return o.f32 ? run<float>(o, ctx, p) : run<double>(o, ctx, p);
}

}  // namespace dynx::cli
