// Public batched linear algebra: argument checks once, then one virtual call into the backend.

#include <dynx/linalg.hpp>

#include "core/backend.hpp"
#include "core/check.hpp"
#include "core/heuristics.hpp"
#include "core/log.hpp"

#include <algorithm>

namespace dynx {
namespace {

using detail::MatRef;
using detail::shape_str;
using detail::VecRef;

// Byte range [begin, end) a view touches, for overlap checks.
struct Span {
  const char* begin;
  const char* end;
};
Span span_of(const MatRef& m) {
  const auto* p = static_cast<const char*>(m.data);
  if (!p || m.rows == 0 || m.cols == 0 || m.count == 0) return {p, p};
  const std::int64_t last = (m.count - 1) * m.stride + (m.cols - 1) * m.ld + m.rows;
  return {p, p + last * static_cast<std::int64_t>(dtype_size(m.dtype))};
}
Span span_of(const VecRef& v) {
  const auto* p = static_cast<const char*>(v.data);
  if (!p || v.size == 0 || v.count == 0) return {p, p};
  const std::int64_t last = (v.count - 1) * v.stride + (v.size - 1) * v.inc + 1;
  return {p, p + last * static_cast<std::int64_t>(dtype_size(v.dtype))};
}
bool overlap(Span a, Span b) { return a.begin < b.end && b.begin < a.end; }

template <class Out, class In>
void expect_disjoint(const char* op, const char* out_name, const Out& out, const char* in_name,
                     const In& in) {
  DYNX_EXPECTS(!overlap(span_of(out), span_of(in)),
               fmt::format("{}: output `{}` overlaps input `{}`; outputs must not alias inputs", op,
                           out_name, in_name));
}

// Checks one matrix view: device, shape, count, ld and stride, non-null data.
template <class T>
void check_matrix(const char* op, const char* name, const MatrixBatch<T>& v, Device device,
                  std::int64_t rows, std::int64_t cols, std::int64_t count, bool is_output,
                  bool allow_broadcast = false) {
  DYNX_EXPECTS(v.device == device,
               fmt::format("{}: `{}` is on {} but the context is on {}", op, name, v.device.str(),
                           device.str()));
  DYNX_EXPECTS(v.rows == rows && v.cols == cols,
               fmt::format("{}: `{}` must be {}, got {}", op, name, shape_str(rows, cols),
                           shape_str(v.rows, v.cols)));
  DYNX_EXPECTS(v.count == count,
               fmt::format("{}: `{}` holds {} matrices but the batch has {}", op, name, v.count,
                           count));
  // BLAS needs ld >= 1, but an empty view (no elements) is never passed to BLAS, so the packed
  // view of 0-row matrices (ld = rows = 0) is accepted.
  const bool has_elements = rows > 0 && cols > 0 && count > 0;
  DYNX_EXPECTS(v.ld >= (has_elements ? std::max<std::int64_t>(1, rows) : rows),
               fmt::format("{}: `{}` has ld {} < max(1, rows = {})", op, name, v.ld, rows));
  if (has_elements && count > 1) {
    const bool broadcast = allow_broadcast && v.stride == 0;
    if (!broadcast) {
      DYNX_EXPECTS(v.stride >= v.ld * cols || (!is_output && v.stride >= 0),
                   fmt::format("{}: `{}` has stride {} < ld*cols = {}, so its matrices overlap", op,
                               name, v.stride, v.ld * cols));
      DYNX_EXPECTS(v.stride > 0 || allow_broadcast,
                   fmt::format("{}: `{}` has stride {}; only broadcast inputs of gemm_batched may "
                               "use stride 0",
                               op, name, v.stride));
    }
  }
  DYNX_EXPECTS(v.data != nullptr || rows * cols * count == 0,
               fmt::format("{}: `{}` is a null pointer for {} matrices of {}", op, name, count,
                           shape_str(rows, cols)));
}

template <class T>
void check_vector(const char* op, const char* name, const VectorBatch<T>& v, Device device,
                  std::int64_t size, std::int64_t count) {
  DYNX_EXPECTS(v.device == device,
               fmt::format("{}: `{}` is on {} but the context is on {}", op, name, v.device.str(),
                           device.str()));
  DYNX_EXPECTS(v.size == size,
               fmt::format("{}: `{}` must have length {}, got {}", op, name, size, v.size));
  DYNX_EXPECTS(v.count == count,
               fmt::format("{}: `{}` holds {} vectors but the batch has {}", op, name, v.count,
                           count));
  DYNX_EXPECTS(v.inc >= 1, fmt::format("{}: `{}` has inc {} < 1", op, name, v.inc));
  if (count > 1)
    DYNX_EXPECTS(v.stride >= (size - 1) * v.inc + 1,
                 fmt::format("{}: `{}` has stride {}, so its vectors overlap", op, name, v.stride));
  DYNX_EXPECTS(v.data != nullptr || size * count == 0,
               fmt::format("{}: `{}` is a null pointer", op, name));
}

void check_nonnegative(const char* op, const char* what, std::int64_t rows, std::int64_t cols,
                       std::int64_t count) {
  DYNX_EXPECTS(rows >= 0 && cols >= 0 && count >= 0,
               fmt::format("{}: `{}` has negative dimensions {} x {} matrices", op, what, count,
                           shape_str(rows, cols)));
}

// Runs `f(info)` with per-matrix codes going to `status`, or to a local status that is checked
// (synchronising) when the caller passed none.
template <class F>
void with_status(Context& ctx, BatchStatus* status, std::int64_t count, const char* op, F&& f) {
  BatchStatus local;
  BatchStatus& st = status ? *status : local;
  std::int32_t* info = st.prepare(ctx, count);
  if (count > 0) f(info);
  if (!status) local.check(op);
}

template <class T>
constexpr void static_check_real() {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                "dynx linear algebra is instantiated for float and double");
}

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
