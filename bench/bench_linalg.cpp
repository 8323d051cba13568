// Batched linear algebra on the CPU backend, side by side with the plainest alternative a user has:
// one high-level LAPACKE call (or one cblas_?gemm) per matrix in a serial loop.
//
//   BM_<op>/cpu/<dtype>/<n>/<count>             dynx, Context(Device::cpu()), default threads
//   BM_<op>/cpu_1thread/<dtype>/<n>/<count>     dynx with ctx.set_num_threads(1) (gemm, svd)
//   BM_<op>/lapacke_serial/<dtype>/<n>/<count>  serial loop of LAPACKE/CBLAS calls
//
// The baseline uses the high-level LAPACKE interface, which allocates its work arrays on every
// call, and leaves OpenBLAS at its default threading, as a user's loop would. cpu_1thread does the
// same (a serial loop over the batch, BLAS threaded inside when OpenBLAS decides so, which for these
// sizes happens only from n = 128), so cpu_1thread / lapacke_serial isolates the per-call overhead
// and cpu / cpu_1thread the gain of threads over the batch. Ratios are taken within one run because
// other processes may share the machine.

#include "bench_common.hpp"

#include <cblas.h>
#include <lapacke.h>

#include <cstring>

namespace dynx::bench {
namespace {

// --- LAPACKE / CBLAS overloads for float and double -----------------------------------------------

void gemm_nn(int n, const float* a, const float* b, float* c) {
  cblas_sgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
}
void gemm_nn(int n, const double* a, const double* b, double* c) {
  cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0, a, n, b, n, 0.0, c, n);
}
void gemm_mkn(int m, int n, int k, const float* a, const float* b, float* c) {
  cblas_sgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0f, a, m, b, k, 0.0f, c, m);
}
void gemm_mkn(int m, int n, int k, const double* a, const double* b, double* c) {
  cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0, a, m, b, k, 0.0, c, m);
}
lapack_int gesdd(char job, int m, int n, float* a, float* s, float* u, float* vt) {
  return LAPACKE_sgesdd(LAPACK_COL_MAJOR, job, m, n, a, m, s, u, m, vt, std::min(m, n));
}
lapack_int gesdd(char job, int m, int n, double* a, double* s, double* u, double* vt) {
  return LAPACKE_dgesdd(LAPACK_COL_MAJOR, job, m, n, a, m, s, u, m, vt, std::min(m, n));
}
lapack_int geqrf(int m, int n, float* a, float* tau) {
  return LAPACKE_sgeqrf(LAPACK_COL_MAJOR, m, n, a, m, tau);
}
lapack_int geqrf(int m, int n, double* a, double* tau) {
  return LAPACKE_dgeqrf(LAPACK_COL_MAJOR, m, n, a, m, tau);
}
lapack_int orgqr(int m, int n, float* a, const float* tau) {
  return LAPACKE_sorgqr(LAPACK_COL_MAJOR, m, n, n, a, m, tau);
}
lapack_int orgqr(int m, int n, double* a, const double* tau) {
  return LAPACKE_dorgqr(LAPACK_COL_MAJOR, m, n, n, a, m, tau);
}
lapack_int syevd(int n, float* a, float* w) { return LAPACKE_ssyevd(LAPACK_COL_MAJOR, 'V', 'L', n, a, n, w); }
lapack_int syevd(int n, double* a, double* w) { return LAPACKE_dsyevd(LAPACK_COL_MAJOR, 'V', 'L', n, a, n, w); }
lapack_int geev(int n, float* a, float* wr, float* wi, float* vr) {
  return LAPACKE_sgeev(LAPACK_COL_MAJOR, 'N', 'V', n, a, n, wr, wi, nullptr, 1, vr, n);
}
lapack_int geev(int n, double* a, double* wr, double* wi, double* vr) {
  return LAPACKE_dgeev(LAPACK_COL_MAJOR, 'N', 'V', n, a, n, wr, wi, nullptr, 1, vr, n);
}
lapack_int gesv(int n, int nrhs, float* a, lapack_int* piv, float* b) {
  return LAPACKE_sgesv(LAPACK_COL_MAJOR, n, nrhs, a, n, piv, b, n);
}
lapack_int gesv(int n, int nrhs, double* a, lapack_int* piv, double* b) {
  return LAPACKE_dgesv(LAPACK_COL_MAJOR, n, nrhs, a, n, piv, b, n);
}
lapack_int getrf(int n, float* a, lapack_int* piv) { return LAPACKE_sgetrf(LAPACK_COL_MAJOR, n, n, a, n, piv); }
lapack_int getrf(int n, double* a, lapack_int* piv) { return LAPACKE_dgetrf(LAPACK_COL_MAJOR, n, n, a, n, piv); }
lapack_int getri(int n, float* a, const lapack_int* piv) { return LAPACKE_sgetri(LAPACK_COL_MAJOR, n, a, n, piv); }
lapack_int getri(int n, double* a, const lapack_int* piv) { return LAPACKE_dgetri(LAPACK_COL_MAJOR, n, a, n, piv); }

// --- the serial LAPACKE baseline ------------------------------------------------------------------

/// The same problems as DynxCase (same inputs, same packed output layout, same checks), solved by
/// one high-level LAPACKE call per matrix. Inputs are copied first because LAPACK overwrites them;
/// dynx copies too.
template <class T>
class LapackeCase final : public Case {
 public:
  LapackeCase(OpKind op, Shape s) : op_(op), s_(s) {
    const std::int64_t m = s.m, n = s.n, k = std::min(m, n), c = s.count;
    a_ = random_batch<T>(m, n, c, seed_of(op, s), op == OpKind::eigh);
    scratch_.resize(static_cast<std::size_t>(m * n));
    auto out = [&](std::int64_t elems) { return std::vector<T>(static_cast<std::size_t>(elems * c)); };
    switch (op) {
      case OpKind::gemm:
        b_ = random_batch<T>(n, n, c, seed_of(op, s) + 1);
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
        tau_.resize(static_cast<std::size_t>(k));
        break;
      case OpKind::eigh:
        s_out_ = out(n);
        x_ = out(n * n);
        break;
      case OpKind::eig:
        w_.resize(static_cast<std::size_t>(n * c));
        v_.resize(static_cast<std::size_t>(n * n * c));
        wr_.resize(static_cast<std::size_t>(n));
        wi_.resize(static_cast<std::size_t>(n));
        vr_.resize(static_cast<std::size_t>(n * n));
        break;
      case OpKind::solve:
        b_ = random_batch<T>(n, kSolveNrhs, c, seed_of(op, s) + 1);
        x_ = out(n * kSolveNrhs);
        piv_.resize(static_cast<std::size_t>(n));
        break;
      case OpKind::inverse:
        x_ = out(n * n);
        piv_.resize(static_cast<std::size_t>(n));
        break;
      case OpKind::polar:
        x_ = out(n * n);
        s_out_.resize(static_cast<std::size_t>(k));
        u_.resize(static_cast<std::size_t>(m * k));
        vt_.resize(static_cast<std::size_t>(k * n));
        break;
    }
  }

  void run() override {
    const int m = static_cast<int>(s_.m), n = static_cast<int>(s_.n), k = std::min(m, n);
    const std::int64_t mn = s_.m * s_.n;
    info_ = 0;
    for (std::int64_t i = 0; i < s_.count; ++i) {
      const T* ai = a_.data() + i * mn;
      lapack_int info = 0;
      switch (op_) {
        case OpKind::gemm: gemm_nn(n, ai, b_.data() + i * mn, x_.data() + i * mn); break;
        case OpKind::svd:
          std::memcpy(scratch_.data(), ai, mn * sizeof(T));
          info = gesdd('S', m, n, scratch_.data(), s_out_.data() + i * k, x_.data() + i * m * k,
                       y_.data() + i * k * n);
          break;
        case OpKind::svd_values:
          std::memcpy(scratch_.data(), ai, mn * sizeof(T));
          info = gesdd('N', m, n, scratch_.data(), s_out_.data() + i * k, nullptr, nullptr);
          break;
        case OpKind::qr: {  // m ≥ n: Q overwrites a copy of A in the output, R is its upper triangle
          T* q = x_.data() + i * mn;
          T* r = y_.data() + i * k * n;
          std::memcpy(q, ai, mn * sizeof(T));
          info = geqrf(m, n, q, tau_.data());
          for (int j = 0; j < n; ++j)
            for (int p = 0; p < k; ++p) r[j * k + p] = p <= j ? q[j * m + p] : T(0);
          if (info == 0) info = orgqr(m, n, q, tau_.data());
          break;
        }
        case OpKind::eigh: {
          T* v = x_.data() + i * mn;
          std::memcpy(v, ai, mn * sizeof(T));
          info = syevd(n, v, s_out_.data() + i * n);
          break;
        }
        case OpKind::eig: {
          std::memcpy(scratch_.data(), ai, mn * sizeof(T));
          info = geev(n, scratch_.data(), wr_.data(), wi_.data(), vr_.data());
          unpack_eig(i);  // to the complex layout dynx returns, so both are checked alike
          break;
        }
        case OpKind::solve: {
          T* x = x_.data() + i * n * kSolveNrhs;
          std::memcpy(scratch_.data(), ai, mn * sizeof(T));
          std::memcpy(x, b_.data() + i * n * kSolveNrhs, n * kSolveNrhs * sizeof(T));
          info = gesv(n, kSolveNrhs, scratch_.data(), piv_.data(), x);
          break;
        }
        case OpKind::inverse: {
          T* inv = x_.data() + i * mn;
          std::memcpy(inv, ai, mn * sizeof(T));
          info = getrf(n, inv, piv_.data());
          if (info == 0) info = getri(n, inv, piv_.data());
          break;
        }
        case OpKind::polar:
          std::memcpy(scratch_.data(), ai, mn * sizeof(T));
          info = gesdd('S', m, n, scratch_.data(), s_out_.data(), u_.data(), vt_.data());
          gemm_mkn(m, n, k, u_.data(), vt_.data(), x_.data() + i * mn);
          break;
      }
      if (info != 0 && info_ == 0) info_ = info;
    }
  }

  std::string check() override {
    if (info_ != 0) return "LAPACKE returned info = " + std::to_string(info_);
    const std::int64_t m = s_.m, n = s_.n, k = std::min(m, n);
    for (std::int64_t i : {std::int64_t{0}, s_.count - 1}) {
      const T* a = a_.data() + i * m * n;
      std::string msg;
      switch (op_) {
        case OpKind::gemm: msg = check_gemm(a, b_.data() + i * n * n, x_.data() + i * n * n, n); break;
        case OpKind::svd:
          msg = check_svd(a, s_out_.data() + i * k, x_.data() + i * m * k, y_.data() + i * k * n, m, n);
          break;
        case OpKind::svd_values: msg = check_svd_values(a, s_out_.data() + i * k, m, n); break;
        case OpKind::qr: msg = check_qr(a, x_.data() + i * m * k, y_.data() + i * k * n, m, n); break;
        case OpKind::eigh: msg = check_eigh(a, s_out_.data() + i * n, x_.data() + i * n * n, n); break;
        case OpKind::eig: msg = check_eig(a, w_.data() + i * n, v_.data() + i * n * n, n); break;
        case OpKind::solve:
          msg = check_solve(a, b_.data() + i * n * kSolveNrhs, x_.data() + i * n * kSolveNrhs, n, kSolveNrhs);
          break;
        case OpKind::inverse: msg = check_inverse(a, x_.data() + i * n * n, n); break;
        case OpKind::polar: msg = check_polar(a, x_.data() + i * n * n, singular_values_cpu(a, m, n), n); break;
      }
      if (!msg.empty()) return "matrix " + std::to_string(i) + ": " + msg;
    }
    return "";
  }

 private:
  // geev packs a conjugate pair as two real columns (real part, imaginary part).
  void unpack_eig(std::int64_t i) {
    const std::int64_t n = s_.n;
    std::complex<T>* w = w_.data() + i * n;
    std::complex<T>* v = v_.data() + i * n * n;
    for (std::int64_t j = 0; j < n; ++j) {
      w[j] = {wr_[j], wi_[j]};
      if (wi_[j] == T(0)) {
        for (std::int64_t r = 0; r < n; ++r) v[j * n + r] = {vr_[j * n + r], T(0)};
      } else if (j + 1 < n) {
        w[j + 1] = {wr_[j + 1], wi_[j + 1]};
        for (std::int64_t r = 0; r < n; ++r) {
          v[j * n + r] = {vr_[j * n + r], vr_[(j + 1) * n + r]};
          v[(j + 1) * n + r] = {vr_[j * n + r], -vr_[(j + 1) * n + r]};
        }
        ++j;
      }
    }
  }

  OpKind op_;
  Shape s_;
  std::vector<T> a_, b_, x_, y_, s_out_, scratch_, tau_, u_, vt_, wr_, wi_, vr_;
  std::vector<std::complex<T>> w_, v_;
  std::vector<lapack_int> piv_;
  lapack_int info_ = 0;
};

// --- registration ---------------------------------------------------------------------------------

enum class Backend { cpu, cpu_1thread, lapacke_serial };

const char* backend_name(Backend b) {
  switch (b) {
    case Backend::cpu: return "cpu";
    case Backend::cpu_1thread: return "cpu_1thread";
    case Backend::lapacke_serial: return "lapacke_serial";
  }
  return "?";
}

template <class T>
void register_one(OpKind op, Backend backend, Shape s) {
  const std::string name = bench_name<T>(op, backend_name(backend), s);
  benchmark::RegisterBenchmark(name.c_str(), [=](benchmark::State& state) {
    CachedCase& cc = cached_case(name, [&](CachedCase& out) {
      if (backend == Backend::lapacke_serial) {
        out.c = std::make_unique<LapackeCase<T>>(op, s);
      } else {
        out.ctx = std::make_unique<Context>(Device::cpu());
        if (backend == Backend::cpu_1thread) out.ctx->set_num_threads(1);
        out.c = std::make_unique<DynxCase<T>>(*out.ctx, op, s);
      }
    });
    if (!cc.error.empty()) {
      state.SkipWithError(cc.error.c_str());
      return;
    }
    for (auto _ : state) cc.c->run();
    report(state, s);
  })
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();  // OpenMP threads: wall-clock, not the process's CPU time
}

template <class T>
void register_op(OpKind op, const std::vector<Shape>& shapes, bool with_1thread) {
  for (const Shape& s : shapes) {
    register_one<T>(op, Backend::cpu, s);
    if (with_1thread) register_one<T>(op, Backend::cpu_1thread, s);
    register_one<T>(op, Backend::lapacke_serial, s);
  }
}

void register_all() {
  const auto& sq = square_shapes();
  std::vector<Shape> svd_shapes = sq;
  svd_shapes.push_back(tall_svd_shape());
  const std::vector<Shape> tall = {tall_svd_shape()};

  register_op<double>(OpKind::gemm, sq, true);
  register_op<float>(OpKind::gemm, sq, true);
  register_op<double>(OpKind::svd, svd_shapes, true);
  register_op<float>(OpKind::svd, svd_shapes, true);
  register_op<double>(OpKind::svd_values, tall, true);
  register_op<float>(OpKind::svd_values, tall, true);
  for (OpKind op : {OpKind::qr, OpKind::eigh, OpKind::eig, OpKind::solve, OpKind::inverse, OpKind::polar}) {
    register_op<double>(op, sq, false);
    register_op<float>(op, sq, false);
  }
}

}  // namespace
}  // namespace dynx::bench

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  dynx::bench::register_all();
  benchmark::AddCustomContext("dynx_version", dynx::version());
  benchmark::AddCustomContext("dynx_build", dynx::build_info());
  benchmark::RunSpecifiedBenchmarks();
  dynx::bench::release_cases();
  benchmark::Shutdown();
  return 0;
}
