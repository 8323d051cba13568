// Public batched linear algebra: argument checks once, then one virtual call into the backend.

#include <dynx/linalg.hpp>

#include "core/backend.hpp"
#include "core/check.hpp"
#include "core/heuristics.hpp"
#include "core/log.hpp"
#include "core/views.hpp"

#include <algorithm>

namespace dynx {
namespace {

using detail::check_matrix;
using detail::check_nonnegative;
using detail::check_vector;
using detail::expect_disjoint;
using detail::MatRef;
using detail::shape_str;
using detail::static_check_real;
using detail::VecRef;
using detail::with_status;

}  // namespace

template <class T>
void gemm_batched(Context& ctx, Op transa, Op transb, T alpha, MatrixBatch<const T> a,
                  MatrixBatch<const T> b, T beta, MatrixBatch<T> c) {
  static_check_real<T>();
  constexpr const char* op = "gemm_batched";
  check_nonnegative(op, "a", a.rows, a.cols, a.count);
  check_nonnegative(op, "b", b.rows, b.cols, b.count);
  check_nonnegative(op, "c", c.rows, c.cols, c.count);
  const std::int64_t m = transa == Op::n ? a.rows : a.cols;
  const std::int64_t k = transa == Op::n ? a.cols : a.rows;
  const std::int64_t kb = transb == Op::n ? b.rows : b.cols;
  const std::int64_t n = transb == Op::n ? b.cols : b.rows;
  DYNX_EXPECTS(k == kb, fmt::format("gemm_batched: inner dimensions differ: op(a) is {}, op(b) is {}",
                                    shape_str(m, k), shape_str(kb, n)));
  const Device dev = ctx.device();
  const std::int64_t count = c.count;
  check_matrix(op, "a", a, dev, a.rows, a.cols, count, false, true);
  check_matrix(op, "b", b, dev, b.rows, b.cols, count, false, true);
  check_matrix(op, "c", c, dev, m, n, count, true);
  expect_disjoint(op, "c", detail::ref(c), "a", detail::ref(a));
  expect_disjoint(op, "c", detail::ref(c), "b", detail::ref(b));
  if (count == 0 || m == 0 || n == 0) return;
  detail::GemmArgs args{dtype_v<T>, transa, transb, m, n, k, count,
                        static_cast<double>(alpha), static_cast<double>(beta),
                        detail::ref(a), detail::ref(b), detail::ref(c)};
  detail::backend_for(ctx).gemm_batched(ctx, args);
}

template <class T>
void svd_batched(Context& ctx, MatrixBatch<const T> a, VectorBatch<T> s, MatrixBatch<T> u,
                 MatrixBatch<T> vt, BatchStatus* status, const SvdOptions& options) {
  static_check_real<T>();
  constexpr const char* op = "svd_batched";
  check_nonnegative(op, "a", a.rows, a.cols, a.count);
  const std::int64_t m = a.rows, n = a.cols, count = a.count, k = std::min(m, n);
  const Device dev = ctx.device();
  check_matrix(op, "a", a, dev, m, n, count, false);
  check_vector(op, "s", s, dev, k, count);
  DYNX_EXPECTS(u.empty() == vt.empty(),
               "svd_batched: pass both `u` and `vt` for vectors, or neither for values only");
  const bool vectors = !u.empty();
  if (vectors) {
    check_matrix(op, "u", u, dev, m, k, count, true);
    check_matrix(op, "vt", vt, dev, k, n, count, true);
    expect_disjoint(op, "u", detail::ref(u), "a", detail::ref(a));
    expect_disjoint(op, "vt", detail::ref(vt), "a", detail::ref(a));
    expect_disjoint(op, "u", detail::ref(u), "vt", detail::ref(vt));
    expect_disjoint(op, "s", detail::ref(s), "u", detail::ref(u));
    expect_disjoint(op, "s", detail::ref(s), "vt", detail::ref(vt));
  }
  expect_disjoint(op, "s", detail::ref(s), "a", detail::ref(a));
  detail::check_svd_algorithm(options.algorithm, dev.kind(), m, n);
  const SvdAlgorithm algo = options.algorithm == SvdAlgorithm::automatic
                                ? detail::choose_svd_algorithm(dev.kind(), m, n, count, dtype_v<T>)
                                : options.algorithm;
  detail::log().debug("svd: {} x {} {} on {} -> algorithm {}", count, shape_str(m, n),
                      dtype_name(dtype_v<T>), dev.str(), static_cast<int>(algo));
  with_status(ctx, status, count, op, [&](std::int32_t* info) {
    if (k == 0) return;
    detail::SvdArgs args{dtype_v<T>, m, n, count, detail::ref(a), detail::ref(s),
                         detail::ref(u), detail::ref(vt), algo, info};
    detail::backend_for(ctx).svd_batched(ctx, args);
  });
}

template <class T>
void qr_batched(Context& ctx, MatrixBatch<const T> a, MatrixBatch<T> q, MatrixBatch<T> r,
                BatchStatus* status) {
  static_check_real<T>();
  constexpr const char* op = "qr_batched";
  check_nonnegative(op, "a", a.rows, a.cols, a.count);
  const std::int64_t m = a.rows, n = a.cols, count = a.count, k = std::min(m, n);
  const Device dev = ctx.device();
  check_matrix(op, "a", a, dev, m, n, count, false);
  check_matrix(op, "r", r, dev, k, n, count, true);
  expect_disjoint(op, "r", detail::ref(r), "a", detail::ref(a));
  if (!q.empty()) {
    check_matrix(op, "q", q, dev, m, k, count, true);
    expect_disjoint(op, "q", detail::ref(q), "a", detail::ref(a));
    expect_disjoint(op, "q", detail::ref(q), "r", detail::ref(r));
  }
  with_status(ctx, status, count, op, [&](std::int32_t* info) {
    if (k == 0) return;
    detail::QrArgs args{dtype_v<T>, m, n, count, detail::ref(a), detail::ref(q), detail::ref(r), info};
    detail::backend_for(ctx).qr_batched(ctx, args);
  });
}

template <class T>
void eigh_batched(Context& ctx, MatrixBatch<const T> a, VectorBatch<T> w, MatrixBatch<T> v,
                  BatchStatus* status, const EighOptions& options) {
  static_check_real<T>();
  constexpr const char* op = "eigh_batched";
  check_nonnegative(op, "a", a.rows, a.cols, a.count);
  DYNX_EXPECTS(a.rows == a.cols, fmt::format("eigh_batched: `a` must be square, got {}",
                                             shape_str(a.rows, a.cols)));
  const std::int64_t n = a.rows, count = a.count;
  const Device dev = ctx.device();
  check_matrix(op, "a", a, dev, n, n, count, false);
  check_vector(op, "w", w, dev, n, count);
  expect_disjoint(op, "w", detail::ref(w), "a", detail::ref(a));
  if (!v.empty()) {
    check_matrix(op, "v", v, dev, n, n, count, true);
    expect_disjoint(op, "v", detail::ref(v), "a", detail::ref(a));
    expect_disjoint(op, "w", detail::ref(w), "v", detail::ref(v));
  }
  with_status(ctx, status, count, op, [&](std::int32_t* info) {
    if (n == 0) return;
    detail::EighArgs args{dtype_v<T>, n, count, detail::ref(a), detail::ref(w), detail::ref(v),
                          options.uplo, info};
    detail::backend_for(ctx).eigh_batched(ctx, args);
  });
}

template <class T>
void eig_batched(Context& ctx, MatrixBatch<const T> a, VectorBatch<std::complex<T>> w,
                 MatrixBatch<std::complex<T>> v, BatchStatus* status) {
  static_check_real<T>();
  constexpr const char* op = "eig_batched";
  check_nonnegative(op, "a", a.rows, a.cols, a.count);
  DYNX_EXPECTS(a.rows == a.cols, fmt::format("eig_batched: `a` must be square, got {}",
                                             shape_str(a.rows, a.cols)));
  const std::int64_t n = a.rows, count = a.count;
  const Device dev = ctx.device();
  check_matrix(op, "a", a, dev, n, n, count, false);
  check_vector(op, "w", w, dev, n, count);
  expect_disjoint(op, "w", detail::ref(w), "a", detail::ref(a));
  if (!v.empty()) {
    check_matrix(op, "v", v, dev, n, n, count, true);
    expect_disjoint(op, "v", detail::ref(v), "a", detail::ref(a));
    expect_disjoint(op, "w", detail::ref(w), "v", detail::ref(v));
  }
  with_status(ctx, status, count, op, [&](std::int32_t* info) {
    if (n == 0) return;
    detail::EigArgs args{dtype_v<T>, n, count, detail::ref(a), detail::ref(w), detail::ref(v), info};
    detail::backend_for(ctx).eig_batched(ctx, args);
  });
}

template <class T>
void solve_batched(Context& ctx, MatrixBatch<const T> a, MatrixBatch<const T> b, MatrixBatch<T> x,
                   BatchStatus* status) {
  static_check_real<T>();
  constexpr const char* op = "solve_batched";
  check_nonnegative(op, "a", a.rows, a.cols, a.count);
  check_nonnegative(op, "b", b.rows, b.cols, b.count);
  DYNX_EXPECTS(a.rows == a.cols, fmt::format("solve_batched: `a` must be square, got {}",
                                             shape_str(a.rows, a.cols)));
  const std::int64_t n = a.rows, nrhs = b.cols, count = a.count;
  const Device dev = ctx.device();
  check_matrix(op, "a", a, dev, n, n, count, false);
  check_matrix(op, "b", b, dev, n, nrhs, count, false);
  check_matrix(op, "x", x, dev, n, nrhs, count, true);
  expect_disjoint(op, "x", detail::ref(x), "a", detail::ref(a));
  const bool in_place = static_cast<const void*>(x.data) == static_cast<const void*>(b.data) &&
                        x.ld == b.ld && x.stride == b.stride;
  if (!in_place) expect_disjoint(op, "x", detail::ref(x), "b", detail::ref(b));
  with_status(ctx, status, count, op, [&](std::int32_t* info) {
    if (n == 0 || nrhs == 0) return;
    detail::SolveArgs args{dtype_v<T>, n, nrhs, count, detail::ref(a), detail::ref(b),
                           detail::ref(x), info};
    detail::backend_for(ctx).solve_batched(ctx, args);
  });
}

template <class T>
void inverse_batched(Context& ctx, MatrixBatch<const T> a, MatrixBatch<T> ainv, BatchStatus* status) {
  static_check_real<T>();
  constexpr const char* op = "inverse_batched";
  check_nonnegative(op, "a", a.rows, a.cols, a.count);
  DYNX_EXPECTS(a.rows == a.cols, fmt::format("inverse_batched: `a` must be square, got {}",
                                             shape_str(a.rows, a.cols)));
  const std::int64_t n = a.rows, count = a.count;
  const Device dev = ctx.device();
  check_matrix(op, "a", a, dev, n, n, count, false);
  check_matrix(op, "ainv", ainv, dev, n, n, count, true);
  expect_disjoint(op, "ainv", detail::ref(ainv), "a", detail::ref(a));
  with_status(ctx, status, count, op, [&](std::int32_t* info) {
    if (n == 0) return;
    detail::InverseArgs args{dtype_v<T>, n, count, detail::ref(a), detail::ref(ainv), info};
    detail::backend_for(ctx).inverse_batched(ctx, args);
  });
}

template <class T>
void polar_batched(Context& ctx, MatrixBatch<const T> a, MatrixBatch<T> q, BatchStatus* status,
                   const PolarOptions& options) {
  static_check_real<T>();
  constexpr const char* op = "polar_batched";
  check_nonnegative(op, "a", a.rows, a.cols, a.count);
  const std::int64_t m = a.rows, n = a.cols, count = a.count;
  const Device dev = ctx.device();
  check_matrix(op, "a", a, dev, m, n, count, false);
  check_matrix(op, "q", q, dev, m, n, count, true);
  expect_disjoint(op, "q", detail::ref(q), "a", detail::ref(a));
  detail::check_svd_algorithm(options.svd_algorithm, dev.kind(), m, n);
  const SvdAlgorithm algo =
      options.svd_algorithm == SvdAlgorithm::automatic
          ? detail::choose_svd_algorithm(dev.kind(), m, n, count, dtype_v<T>)
          : options.svd_algorithm;
  with_status(ctx, status, count, op, [&](std::int32_t* info) {
    if (m == 0 || n == 0) return;
    detail::PolarArgs args{dtype_v<T>, m, n, count, detail::ref(a), detail::ref(q), algo, info};
    detail::backend_for(ctx).polar_batched(ctx, args);
  });
}

#define DYNX_INSTANTIATE_LINALG(T)                                                               \
  template DYNX_API void gemm_batched<T>(Context&, Op, Op, T, MatrixBatch<const T>,              \
                                         MatrixBatch<const T>, T, MatrixBatch<T>);               \
  template DYNX_API void svd_batched<T>(Context&, MatrixBatch<const T>, VectorBatch<T>,          \
                                        MatrixBatch<T>, MatrixBatch<T>, BatchStatus*,            \
                                        const SvdOptions&);                                      \
  template DYNX_API void qr_batched<T>(Context&, MatrixBatch<const T>, MatrixBatch<T>,           \
                                       MatrixBatch<T>, BatchStatus*);                            \
  template DYNX_API void eigh_batched<T>(Context&, MatrixBatch<const T>, VectorBatch<T>,         \
                                         MatrixBatch<T>, BatchStatus*, const EighOptions&);      \
  template DYNX_API void eig_batched<T>(Context&, MatrixBatch<const T>,                          \
                                        VectorBatch<std::complex<T>>,                            \
                                        MatrixBatch<std::complex<T>>, BatchStatus*);             \
  template DYNX_API void solve_batched<T>(Context&, MatrixBatch<const T>, MatrixBatch<const T>,  \
                                          MatrixBatch<T>, BatchStatus*);                         \
  template DYNX_API void inverse_batched<T>(Context&, MatrixBatch<const T>, MatrixBatch<T>,      \
                                            BatchStatus*);                                       \
  template DYNX_API void polar_batched<T>(Context&, MatrixBatch<const T>, MatrixBatch<T>,        \
                                          BatchStatus*, const PolarOptions&);

DYNX_INSTANTIATE_LINALG(float)
DYNX_INSTANTIATE_LINALG(double)

}  // namespace dynx
