#pragma once
// Shared pieces of the linalg benchmarks: the problem sizes, deterministic inputs, the dynx call of
// each primitive on any Context, and host-side checks of one result per size. Host C++17 only, so
// both the CPU and the CUDA benchmark programs compile it with the host compiler.
//
// Every case is built once per benchmark (not once per Google Benchmark re-invocation, see
// CaseCache) and checked once before it is timed: a fast wrong answer is a bug.

#include <dynx/dynx.hpp>

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <complex>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace dynx::bench {

// --- problem sizes -------------------------------------------------------------------------------

/// One benchmark size: `count` matrices of m × n.
struct Shape {
  std::int64_t m, n, count;
  bool square() const { return m == n; }
  /// "<n>" for square matrices, "<m>x<n>" otherwise.
  std::string dims() const {
    return square() ? std::to_string(n) : std::to_string(m) + "x" + std::to_string(n);
  }
};

/// The square sizes every primitive is measured at, on both backends (count × n×n).
inline const std::vector<Shape>& square_shapes() {
  static const std::vector<Shape> shapes = {
      {8, 8, 10000}, {16, 16, 10000}, {32, 32, 10000}, {64, 64, 2000}, {128, 128, 500}};
  return shapes;
}

/// The tall SVD: 100 × 1000×200.
inline Shape tall_svd_shape() { return {1000, 200, 100}; }

enum class OpKind { gemm, svd, svd_values, qr, eigh, eig, solve, inverse, polar };

inline const char* op_name(OpKind op) {
  switch (op) {
    case OpKind::gemm: return "gemm";
    case OpKind::svd: return "svd";
    case OpKind::svd_values: return "svd_values";
    case OpKind::qr: return "qr";
    case OpKind::eigh: return "eigh";
    case OpKind::eig: return "eig";
    case OpKind::solve: return "solve";
    case OpKind::inverse: return "inverse";
    case OpKind::polar: return "polar";
  }
  return "?";
}

/// Number of right-hand sides of the solve benchmark (one vector per system).
inline constexpr std::int64_t kSolveNrhs = 1;

/// BM_<op>/<backend>/<dtype>/<n>/<count>
template <class T>
std::string bench_name(OpKind op, const std::string& backend, const Shape& s) {
  return std::string("BM_") + op_name(op) + "/" + backend + "/" + dtype_name(dtype_v<T>) + "/" +
         s.dims() + "/" + std::to_string(s.count);
}

// --- inputs --------------------------------------------------------------------------------------

/// Deterministic uniform numbers in [-1, 1) (splitmix64): fast enough to fill 10^7 entries per
/// case, and the same for every backend of one op and size, so they all solve the same problems.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : state_(seed) {}
  double uniform() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return static_cast<double>(z >> 11) * 0x1.0p-52 - 1.0;
  }

 private:
  std::uint64_t state_;
};

inline std::uint64_t seed_of(OpKind op, const Shape& s) {
  return 0x5eedULL + 1000003ULL * static_cast<std::uint64_t>(op) +
         7919ULL * static_cast<std::uint64_t>(s.m) + 104729ULL * static_cast<std::uint64_t>(s.n) +
         static_cast<std::uint64_t>(s.count);
}

/// `count` dense column-major rows × cols matrices with uniform entries; symmetric when asked.
template <class T>
std::vector<T> random_batch(std::int64_t rows, std::int64_t cols, std::int64_t count,
                            std::uint64_t seed, bool symmetric = false) {
  std::vector<T> a(static_cast<std::size_t>(rows * cols * count));
  Rng rng(seed);
  for (auto& x : a) x = static_cast<T>(rng.uniform());
  if (symmetric) {
    for (std::int64_t k = 0; k < count; ++k) {
      T* ak = a.data() + k * rows * cols;
      for (std::int64_t j = 0; j < cols; ++j)
        for (std::int64_t i = j + 1; i < rows; ++i) ak[i * rows + j] = ak[j * rows + i];
    }
  }
  return a;
}

// --- host checks ---------------------------------------------------------------------------------
// Properties, not golden numbers: reconstruction, orthogonality, residuals, all relative and in
// double. Each returns "" when the result is right and a message otherwise.

/// Tolerance for a result of type T from an m × n problem: c · max(m, n) · eps(T), c = 20. Every
/// backward-stable algorithm measured here lands one to two orders of magnitude below it.
template <class T>
double tolerance(std::int64_t m, std::int64_t n) {
  constexpr double c = 20.0;
  return c * static_cast<double>(std::max(m, n)) * std::numeric_limits<T>::epsilon();
}

template <class T>
double frob(const T* a, std::int64_t rows, std::int64_t cols) {
  double s = 0;
  for (std::int64_t i = 0; i < rows * cols; ++i) s += std::norm(std::complex<double>(a[i]));
  return std::sqrt(s);
}

/// C = op(A) op(B) in double, all column-major and dense; op = transpose when the flag is set.
template <class T>
std::vector<double> matmul(const T* a, bool ta, const T* b, bool tb, std::int64_t m,
                           std::int64_t n, std::int64_t k) {
  std::vector<double> c(static_cast<std::size_t>(m * n), 0.0);
  for (std::int64_t j = 0; j < n; ++j)
    for (std::int64_t p = 0; p < k; ++p) {
      const double bpj = tb ? b[p * n + j] : b[j * k + p];
      for (std::int64_t i = 0; i < m; ++i) c[j * m + i] += (ta ? a[i * k + p] : a[p * m + i]) * bpj;
    }
  return c;
}

/// ||QᵀQ − I||_F for an m × k matrix Q with orthonormal columns.
template <class T>
double orthogonality_error(const T* q, std::int64_t m, std::int64_t k) {
  const auto g = matmul(q, true, q, false, k, k, m);
  double e = 0;
  for (std::int64_t j = 0; j < k; ++j)
    for (std::int64_t i = 0; i < k; ++i) {
      const double d = g[j * k + i] - (i == j ? 1.0 : 0.0);
      e += d * d;
    }
  return std::sqrt(e);
}

inline std::string fail(const std::string& what, double value, double tol) {
  std::ostringstream s;
  s << what << " = " << value << " > tolerance " << tol;
  return s.str();
}

/// ||C − A B|| / (||A|| ||B||).
template <class T>
std::string check_gemm(const T* a, const T* b, const T* c, std::int64_t n) {
  const auto ref = matmul(a, false, b, false, n, n, n);
  double e = 0;
  for (std::int64_t i = 0; i < n * n; ++i) e += (c[i] - ref[i]) * (c[i] - ref[i]);
  const double rel = std::sqrt(e) / (frob(a, n, n) * frob(b, n, n));
  return rel <= tolerance<T>(n, n) ? "" : fail("gemm: ||C - AB|| / (||A|| ||B||)", rel, tolerance<T>(n, n));
}

/// Thin SVD: descending non-negative s, ||A − U S Vt|| / ||A||, ||UᵀU − I||, ||Vt Vtᵀ − I||.
template <class T>
std::string check_svd(const T* a, const T* s, const T* u, const T* vt, std::int64_t m,
                      std::int64_t n) {
  const std::int64_t k = std::min(m, n);
  const double tol = tolerance<T>(m, n);
  for (std::int64_t j = 0; j < k; ++j)
    if (!(s[j] >= 0) || (j > 0 && s[j] > s[j - 1])) return "svd: singular values not descending and >= 0";
  std::vector<T> us(static_cast<std::size_t>(m * k));
  for (std::int64_t j = 0; j < k; ++j)
    for (std::int64_t i = 0; i < m; ++i) us[j * m + i] = u[j * m + i] * s[j];
  const auto usv = matmul(us.data(), false, vt, false, m, n, k);
  double e = 0;
  for (std::int64_t i = 0; i < m * n; ++i) e += (a[i] - usv[i]) * (a[i] - usv[i]);
  const double rec = std::sqrt(e) / frob(a, m, n);
  if (rec > tol) return fail("svd: ||A - U S Vt|| / ||A||", rec, tol);
  const double ou = orthogonality_error(u, m, k);
  if (ou > tol) return fail("svd: ||UtU - I||", ou, tol);
  std::vector<T> v(static_cast<std::size_t>(n * k));  // Vtᵀ, n × k
  for (std::int64_t j = 0; j < n; ++j)
    for (std::int64_t i = 0; i < k; ++i) v[i * n + j] = vt[j * k + i];
  const double ov = orthogonality_error(v.data(), n, k);
  return ov <= tol ? "" : fail("svd: ||Vt Vtt - I||", ov, tol);
}

/// Singular values only: descending, non-negative, and Σ s² = ||A||²_F.
template <class T>
std::string check_svd_values(const T* a, const T* s, std::int64_t m, std::int64_t n) {
  const std::int64_t k = std::min(m, n);
  double ss = 0;
  for (std::int64_t j = 0; j < k; ++j) {
    if (!(s[j] >= 0) || (j > 0 && s[j] > s[j - 1])) return "svd: singular values not descending and >= 0";
    ss += double(s[j]) * s[j];
  }
  const double fa = frob(a, m, n);
  const double rel = std::abs(ss - fa * fa) / (fa * fa);
  return rel <= tolerance<T>(m, n) ? "" : fail("svd: |sum s^2 - ||A||^2| / ||A||^2", rel, tolerance<T>(m, n));
}

/// Thin QR (m ≥ n): R upper triangular, ||A − QR|| / ||A||, ||QᵀQ − I||.
template <class T>
std::string check_qr(const T* a, const T* q, const T* r, std::int64_t m, std::int64_t n) {
  const double tol = tolerance<T>(m, n);
  for (std::int64_t j = 0; j < n; ++j)
    for (std::int64_t i = j + 1; i < n; ++i)
      if (r[j * n + i] != T(0)) return "qr: R is not upper triangular";
  const auto qr = matmul(q, false, r, false, m, n, n);
  double e = 0;
  for (std::int64_t i = 0; i < m * n; ++i) e += (a[i] - qr[i]) * (a[i] - qr[i]);
  const double rec = std::sqrt(e) / frob(a, m, n);
  if (rec > tol) return fail("qr: ||A - QR|| / ||A||", rec, tol);
  const double oq = orthogonality_error(q, m, n);
  return oq <= tol ? "" : fail("qr: ||QtQ - I||", oq, tol);
}

/// Symmetric eigensolver: ascending w, ||A V − V diag(w)|| / ||A||, ||VᵀV − I||.
template <class T>
std::string check_eigh(const T* a, const T* w, const T* v, std::int64_t n) {
  const double tol = tolerance<T>(n, n);
  for (std::int64_t j = 1; j < n; ++j)
    if (!(w[j] >= w[j - 1])) return "eigh: eigenvalues not ascending";
  const auto av = matmul(a, false, v, false, n, n, n);
  double e = 0;
  for (std::int64_t j = 0; j < n; ++j)
    for (std::int64_t i = 0; i < n; ++i) {
      const double d = av[j * n + i] - double(v[j * n + i]) * w[j];
      e += d * d;
    }
  const double res = std::sqrt(e) / frob(a, n, n);
  if (res > tol) return fail("eigh: ||AV - V diag(w)|| / ||A||", res, tol);
  const double ov = orthogonality_error(v, n, n);
  return ov <= tol ? "" : fail("eigh: ||VtV - I||", ov, tol);
}

/// General eigensolver: every column v_j unit-norm and max_j ||A v_j − λ_j v_j|| / ||A|| small.
template <class T>
std::string check_eig(const T* a, const std::complex<T>* w, const std::complex<T>* v,
                      std::int64_t n) {
  const double tol = tolerance<T>(n, n);
  const double fa = frob(a, n, n);
  double worst = 0;
  for (std::int64_t j = 0; j < n; ++j) {
    const std::complex<T>* vj = v + j * n;
    const double nv = frob(vj, n, 1);
    if (std::abs(nv - 1.0) > tol) return fail("eig: | ||v_j|| - 1 |", std::abs(nv - 1.0), tol);
    double e = 0;
    for (std::int64_t i = 0; i < n; ++i) {
      std::complex<double> avi = 0;
      for (std::int64_t p = 0; p < n; ++p)
        avi += double(a[p * n + i]) * std::complex<double>(vj[p]);
      e += std::norm(avi - std::complex<double>(w[j]) * std::complex<double>(vj[i]));
    }
    worst = std::max(worst, std::sqrt(e) / fa);
  }
  return worst <= tol ? "" : fail("eig: max ||A v - lambda v|| / ||A||", worst, tol);
}

/// Linear solve, normwise backward error ||A X − B|| / (||A|| ||X|| + ||B||).
template <class T>
std::string check_solve(const T* a, const T* b, const T* x, std::int64_t n, std::int64_t nrhs) {
  const auto ax = matmul(a, false, x, false, n, nrhs, n);
  double e = 0;
  for (std::int64_t i = 0; i < n * nrhs; ++i) e += (ax[i] - b[i]) * (ax[i] - b[i]);
  const double be = std::sqrt(e) / (frob(a, n, n) * frob(x, n, nrhs) + frob(b, n, nrhs));
  return be <= tolerance<T>(n, n) ? "" : fail("solve: ||AX - B|| / (||A|| ||X|| + ||B||)", be, tolerance<T>(n, n));
}

/// Inverse: ||A·Ainv − I|| / (||A|| ||Ainv||).
template <class T>
std::string check_inverse(const T* a, const T* ainv, std::int64_t n) {
  const auto p = matmul(a, false, ainv, false, n, n, n);
  double e = 0;
  for (std::int64_t j = 0; j < n; ++j)
    for (std::int64_t i = 0; i < n; ++i) {
      const double d = p[j * n + i] - (i == j ? 1.0 : 0.0);
      e += d * d;
    }
  const double rel = std::sqrt(e) / (frob(a, n, n) * frob(ainv, n, n));
  return rel <= tolerance<T>(n, n) ? "" : fail("inverse: ||A Ainv - I|| / (||A|| ||Ainv||)", rel, tolerance<T>(n, n));
}

/// Polar factor of a square A: Q orthogonal and trace(QᵀA) = Σ σ_i(A) (the polar factor is the
/// orthogonal matrix that maximises it). `sigma` are A's singular values from the CPU backend.
template <class T>
std::string check_polar(const T* a, const T* q, const std::vector<double>& sigma, std::int64_t n) {
  const double tol = tolerance<T>(n, n);
  const double oq = orthogonality_error(q, n, n);
  if (oq > tol) return fail("polar: ||QtQ - I||", oq, tol);
  double tr = 0, nuc = 0;
  for (std::int64_t i = 0; i < n * n; ++i) tr += double(q[i]) * a[i];
  for (double s : sigma) nuc += s;
  const double rel = std::abs(tr - nuc) / nuc;
  return rel <= tol ? "" : fail("polar: |trace(QtA) - sum sigma| / sum sigma", rel, tol);
}

/// Singular values of the dense m × n matrix `a` (host), computed by the dynx CPU backend: the
/// oracle the polar check compares against.
template <class T>
std::vector<double> singular_values_cpu(const T* a, std::int64_t m, std::int64_t n) {
  Context cpu(Device::cpu());
  std::vector<T> s(static_cast<std::size_t>(std::min(m, n)));
  svd_batched<T>(cpu, MatrixBatch<const T>(a, m, n, 1), VectorBatch<T>(s.data(), std::min(m, n), 1),
                 {}, {});
  return std::vector<double>(s.begin(), s.end());
}

// --- cases ---------------------------------------------------------------------------------------

/// One benchmarked problem: inputs and outputs allocated, `run()` computes the whole batch once
/// (on CUDA it enqueues the work), `check()` verifies the first and the last matrix of the last
/// run (synchronising) and returns "" or what is wrong.
class Case {
 public:
  virtual ~Case() = default;
  virtual void run() = 0;
  virtual std::string check() = 0;
};

/// Host copies of `n` elements at `offset` of a buffer on any device.
template <class T>
std::vector<T> fetch(Context& ctx, const Buffer<T>& buf, std::int64_t offset, std::int64_t n) {
  std::vector<T> out(static_cast<std::size_t>(n));
  copy_bytes(ctx, out.data(), Device::cpu(), buf.data() + offset, buf.device(),
             static_cast<std::size_t>(n) * sizeof(T));
  ctx.synchronize();
  return out;
}

/// The dynx call of `op` on `ctx` (any device), inputs uploaded once, outputs in packed batches.
template <class T>
class DynxCase final : public Case {
 public:
  DynxCase(Context& ctx, OpKind op, Shape s) : ctx_(ctx), op_(op), s_(s) {
    const std::int64_t m = s.m, n = s.n, k = std::min(m, n), c = s.count;
    host_a_ = random_batch<T>(m, n, c, seed_of(op, s), op == OpKind::eigh);
    a_ = to_device(ctx, host_a_.data(), host_a_.size());
    auto out = [&](std::int64_t elems) { return Buffer<T>(static_cast<std::size_t>(elems * c), ctx.device()); };
    switch (op) {
      case OpKind::gemm:
        host_b_ = random_batch<T>(n, n, c, seed_of(op, s) + 1);
        b_ = to_device(ctx, host_b_.data(), host_b_.size());
        x_ = out(n * n);
        break;
      case OpKind::svd:
        s_out_ = out(k);
        x_ = out(m * k);
        y_ = out(k * n);
        break;
      case OpKind::svd_values: s_out_ = out(k); break;
      case OpKind::qr:
        x_ = out(m * k);
        y_ = out(k * n);
        break;
      case OpKind::eigh:
        s_out_ = out(n);
        x_ = out(n * n);
        break;
      case OpKind::eig:
        w_ = Buffer<std::complex<T>>(static_cast<std::size_t>(n * c), ctx.device());
        v_ = Buffer<std::complex<T>>(static_cast<std::size_t>(n * n * c), ctx.device());
        break;
      case OpKind::solve:
        host_b_ = random_batch<T>(n, kSolveNrhs, c, seed_of(op, s) + 1);
        b_ = to_device(ctx, host_b_.data(), host_b_.size());
        x_ = out(n * kSolveNrhs);
        break;
      case OpKind::inverse:
      case OpKind::polar: x_ = out(m * n); break;
    }
  }

  void run() override {
    const std::int64_t m = s_.m, n = s_.n, k = std::min(m, n), c = s_.count;
    const Device d = ctx_.device();
    const MatrixBatch<const T> a(a_.data(), m, n, c, d);
    switch (op_) {
      case OpKind::gemm:
        gemm_batched<T>(ctx_, Op::n, Op::n, T(1), a, MatrixBatch<const T>(b_.data(), n, n, c, d), T(0),
                        MatrixBatch<T>(x_.data(), n, n, c, d));
        break;
      case OpKind::svd:
        svd_batched<T>(ctx_, a, VectorBatch<T>(s_out_.data(), k, c, d), MatrixBatch<T>(x_.data(), m, k, c, d),
                       MatrixBatch<T>(y_.data(), k, n, c, d), &status_);
        break;
      case OpKind::svd_values:
        svd_batched<T>(ctx_, a, VectorBatch<T>(s_out_.data(), k, c, d), {}, {}, &status_);
        break;
      case OpKind::qr:
        qr_batched<T>(ctx_, a, MatrixBatch<T>(x_.data(), m, k, c, d), MatrixBatch<T>(y_.data(), k, n, c, d),
                      &status_);
        break;
      case OpKind::eigh:
        eigh_batched<T>(ctx_, a, VectorBatch<T>(s_out_.data(), n, c, d), MatrixBatch<T>(x_.data(), n, n, c, d),
                        &status_);
        break;
      case OpKind::eig:
        eig_batched<T>(ctx_, a, VectorBatch<std::complex<T>>(w_.data(), n, c, d),
                       MatrixBatch<std::complex<T>>(v_.data(), n, n, c, d), &status_);
        break;
      case OpKind::solve:
        solve_batched<T>(ctx_, a, MatrixBatch<const T>(b_.data(), n, kSolveNrhs, c, d),
                         MatrixBatch<T>(x_.data(), n, kSolveNrhs, c, d), &status_);
        break;
      case OpKind::inverse:
        inverse_batched<T>(ctx_, a, MatrixBatch<T>(x_.data(), n, n, c, d), &status_);
        break;
      case OpKind::polar:
        polar_batched<T>(ctx_, a, MatrixBatch<T>(x_.data(), m, n, c, d), &status_);
        break;
    }
  }

  std::string check() override {
    ctx_.synchronize();
    if (op_ != OpKind::gemm && !status_.all_ok()) {
      const auto bad = status_.failed_indices();
      return std::string(op_name(op_)) + ": " + std::to_string(bad.size()) + " matrices failed, first " +
             std::to_string(bad.front()) + " (" + to_string(status_.at(bad.front())) + ")";
    }
    for (std::int64_t i : {std::int64_t{0}, s_.count - 1}) {
      std::string msg = check_one(i);
      if (!msg.empty()) return "matrix " + std::to_string(i) + ": " + msg;
    }
    return "";
  }

 private:
  std::string check_one(std::int64_t i) {
    const std::int64_t m = s_.m, n = s_.n, k = std::min(m, n);
    const T* a = host_a_.data() + i * m * n;
    switch (op_) {
      case OpKind::gemm:
        return check_gemm(a, host_b_.data() + i * n * n, fetch(ctx_, x_, i * n * n, n * n).data(), n);
      case OpKind::svd:
        return check_svd(a, fetch(ctx_, s_out_, i * k, k).data(), fetch(ctx_, x_, i * m * k, m * k).data(),
                         fetch(ctx_, y_, i * k * n, k * n).data(), m, n);
      case OpKind::svd_values: return check_svd_values(a, fetch(ctx_, s_out_, i * k, k).data(), m, n);
      case OpKind::qr:
        return check_qr(a, fetch(ctx_, x_, i * m * k, m * k).data(), fetch(ctx_, y_, i * k * n, k * n).data(),
                        m, n);
      case OpKind::eigh:
        return check_eigh(a, fetch(ctx_, s_out_, i * n, n).data(), fetch(ctx_, x_, i * n * n, n * n).data(), n);
      case OpKind::eig:
        return check_eig(a, fetch(ctx_, w_, i * n, n).data(), fetch(ctx_, v_, i * n * n, n * n).data(), n);
      case OpKind::solve:
        return check_solve(a, host_b_.data() + i * n * kSolveNrhs,
                           fetch(ctx_, x_, i * n * kSolveNrhs, n * kSolveNrhs).data(), n, kSolveNrhs);
      case OpKind::inverse: return check_inverse(a, fetch(ctx_, x_, i * n * n, n * n).data(), n);
      case OpKind::polar:
        return check_polar(a, fetch(ctx_, x_, i * n * n, n * n).data(), singular_values_cpu(a, m, n), n);
    }
    return "unknown op";
  }

  Context& ctx_;
  OpKind op_;
  Shape s_;
  std::vector<T> host_a_, host_b_;
  Buffer<T> a_, b_, x_, y_, s_out_;
  Buffer<std::complex<T>> w_, v_;
  BatchStatus status_;
};

/// Google Benchmark calls a benchmark function several times while it settles the iteration
/// count, so a case (inputs, outputs, context) is built and checked the first time a benchmark
/// runs and kept until the next benchmark starts; only one case is alive at a time.
struct CachedCase {
  std::unique_ptr<Context> ctx;
  std::unique_ptr<Case> c;
  std::string error;  ///< "" when the check passed
};

struct CaseSlot {
  std::string name;
  CachedCase cached;
};
inline CaseSlot& case_slot() {
  static CaseSlot slot;
  return slot;
}

/// Frees the last case; call before main returns, so that no CUDA context outlives the runtime.
inline void release_cases() { case_slot() = CaseSlot{}; }

inline CachedCase& cached_case(const std::string& name,
                               const std::function<void(CachedCase&)>& build) {
  std::string& current = case_slot().name;
  CachedCase& cached = case_slot().cached;
  if (current != name) {
    cached = CachedCase{};  // release the previous benchmark's memory first
    current = name;
    try {
      build(cached);
      if (cached.c) {
        cached.c->run();  // also the warm-up: workspace growth, handle and plan creation
        cached.error = cached.c->check();
      }
    } catch (const std::exception& e) {
      cached.error = std::string("exception: ") + e.what();
    }
  }
  return cached;
}

/// Matrices per second in the report (`items_per_second`), plus the size as counters.
inline void report(benchmark::State& state, const Shape& s) {
  state.SetItemsProcessed(state.iterations() * s.count);
  state.counters["m"] = static_cast<double>(s.m);
  state.counters["n"] = static_cast<double>(s.n);
  state.counters["count"] = static_cast<double>(s.count);
}

}  // namespace dynx::bench
