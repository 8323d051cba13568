// Public GOOM operations (include/dynx/goom.hpp): argument checks once, then one virtual call into
// the backend.

#include <dynx/goom.hpp>

#include "core/backend.hpp"
#include "core/check.hpp"
#include "core/views.hpp"

namespace dynx {
namespace {

using detail::check_matrix;
using detail::check_nonnegative;
using detail::expect_disjoint;
using detail::shape_str;
using detail::static_check_real;
using detail::with_status;

// Both halves of a GOOM view: same shape and count, on the context's device.
template <class T>
void check_goom(const char* op, const char* name, const GoomMatrixBatch<T>& g, Device dev,
                std::int64_t rows, std::int64_t cols, std::int64_t count, bool is_output,
                bool allow_broadcast = false) {
  const std::string lname = fmt::format("{}.logmag", name), sname = fmt::format("{}.neg", name);
  check_nonnegative(op, lname.c_str(), g.logmag.rows, g.logmag.cols, g.logmag.count);
  check_matrix(op, lname.c_str(), g.logmag, dev, rows, cols, count, is_output, allow_broadcast);
  check_matrix(op, sname.c_str(), g.neg, dev, rows, cols, count, is_output, allow_broadcast);
  if (is_output) expect_disjoint(op, sname.c_str(), detail::ref(g.neg), lname.c_str(), detail::ref(g.logmag));
}

template <class O, class I>
void expect_goom_disjoint(const char* op, const GoomMatrixBatch<O>& out, const char* in_name,
                          const GoomMatrixBatch<I>& in) {
  for (const auto& o : {detail::ref(out.logmag), detail::ref(out.neg)}) {
    expect_disjoint(op, "output", o, in_name, detail::ref(in.logmag));
    expect_disjoint(op, "output", o, in_name, detail::ref(in.neg));
  }
}

void check_precision(const char* op, InnerPrecision p, Device dev) {
  DYNX_EXPECTS(p != InnerPrecision::tf32 || dev.kind() == DeviceKind::cuda,
               fmt::format("{}: precision tf32 uses CUDA tensor cores; on {} choose same or f64",
                           op, dev.str()));
}

}  // namespace

template <class T>
void goom_from_real(Context& ctx, MatrixBatch<const T> x, GoomMatrixBatch<T> out) {
  static_check_real<T>();
  constexpr const char* op = "goom_from_real";
  check_nonnegative(op, "x", x.rows, x.cols, x.count);
  const Device dev = ctx.device();
  check_matrix(op, "x", x, dev, x.rows, x.cols, x.count, false);
  check_goom(op, "out", out, dev, x.rows, x.cols, x.count, true);
  expect_disjoint(op, "out.logmag", detail::ref(out.logmag), "x", detail::ref(x));
  expect_disjoint(op, "out.neg", detail::ref(out.neg), "x", detail::ref(x));
  if (x.rows * x.cols * x.count == 0) return;
  detail::GoomConvertArgs args{dtype_v<T>, x.rows, x.cols, x.count, detail::ref(x),
                               detail::ref(out.logmag), detail::ref(out.neg), 0.0, false};
  detail::backend_for(ctx).goom_convert(ctx, args);
}

template <class T>
void goom_to_real(Context& ctx, GoomMatrixBatch<const T> g, MatrixBatch<T> out, T shift) {
  static_check_real<T>();
  constexpr const char* op = "goom_to_real";
  const Device dev = ctx.device();
  check_goom(op, "g", g, dev, g.rows(), g.cols(), g.count(), false);
  check_matrix(op, "out", out, dev, g.rows(), g.cols(), g.count(), true);
  expect_disjoint(op, "out", detail::ref(out), "g.logmag", detail::ref(g.logmag));
  expect_disjoint(op, "out", detail::ref(out), "g.neg", detail::ref(g.neg));
  DYNX_EXPECTS(std::isfinite(double(shift)),
               fmt::format("goom_to_real: `shift` must be finite, got {}", double(shift)));
  if (g.rows() * g.cols() * g.count() == 0) return;
  detail::GoomConvertArgs args{dtype_v<T>, g.rows(), g.cols(), g.count(), detail::ref(out),
                               detail::ref(g.logmag), detail::ref(g.neg), double(shift), true};
  detail::backend_for(ctx).goom_convert(ctx, args);
}

template <class T>
void log_matmul_exp(Context& ctx, GoomMatrixBatch<const T> a, GoomMatrixBatch<const T> b,
                    GoomMatrixBatch<T> c, BatchStatus* status, const LmmeOptions& options) {
  static_check_real<T>();
  constexpr const char* op = "log_matmul_exp";
  const Device dev = ctx.device();
  check_nonnegative(op, "c.logmag", c.rows(), c.cols(), c.count());
  const std::int64_t count = c.count(), m = a.rows(), k = a.cols(), n = b.cols();
  DYNX_EXPECTS(b.rows() == k,
               fmt::format("log_matmul_exp: inner dimensions differ: a is {}, b is {}",
                           shape_str(a.rows(), a.cols()), shape_str(b.rows(), b.cols())));
  check_goom(op, "a", a, dev, m, k, count, false, true);
  check_goom(op, "b", b, dev, k, n, count, false, true);
  check_goom(op, "c", c, dev, m, n, count, true);
  expect_goom_disjoint(op, c, "a", a);
  expect_goom_disjoint(op, c, "b", b);
  check_precision(op, options.precision, dev);
  with_status(ctx, status, count, op, [&](std::int32_t* info) {
    if (m == 0 || n == 0) return;
    detail::LmmeArgs args{dtype_v<T>, m, n, k, count,
                          detail::ref(a.logmag), detail::ref(a.neg), detail::ref(b.logmag),
                          detail::ref(b.neg), detail::ref(c.logmag), detail::ref(c.neg),
                          options.precision, info};
    detail::backend_for(ctx).log_matmul_exp(ctx, args);
  });
}

namespace {

// Shared by both input forms of matrix_product_scan: `in` is the real input or the GOOM logmag,
// in_neg empty for real input.
template <class T>
void product_scan_impl(Context& ctx, const detail::MatRef& in,
                       const detail::MatRef& in_neg, std::int64_t steps, GoomMatrixBatch<T> out,
                       BatchStatus* status, const ProductScanOptions& o) {
  static_check_real<T>();
  constexpr const char* op = "matrix_product_scan";
  const Device dev = ctx.device();
  DYNX_EXPECTS(in.rows == in.cols,
               fmt::format("matrix_product_scan: factors must be square, got {}",
                           shape_str(in.rows, in.cols)));
  DYNX_EXPECTS(steps >= 1,
               fmt::format("matrix_product_scan: `steps` must be at least 1, got {}", steps));
  DYNX_EXPECTS(in.count % steps == 0,
               fmt::format("matrix_product_scan: the input holds {} matrices, not a multiple of "
                           "steps = {} (chains × steps factors, chain-major)",
                           in.count, steps));
  DYNX_EXPECTS(o.chunk >= 0,
               fmt::format("matrix_product_scan: `chunk` must be ≥ 0 (0 = automatic), got {}",
                           o.chunk));
  check_precision(op, o.precision, dev);
  const std::int64_t d = in.rows, chains = in.count / steps;
  const std::int64_t out_count = o.kind == ScanKind::inclusive ? chains * steps : chains;
  check_goom(op, "out", out, dev, d, d, out_count, true);
  expect_disjoint(op, "out.logmag", detail::ref(out.logmag), "input", in);
  expect_disjoint(op, "out.neg", detail::ref(out.neg), "input", in);
  if (!in_neg.empty()) {
    expect_disjoint(op, "out.logmag", detail::ref(out.logmag), "input.neg", in_neg);
    expect_disjoint(op, "out.neg", detail::ref(out.neg), "input.neg", in_neg);
  }
  with_status(ctx, status, chains, op, [&](std::int32_t* info) {
    if (d == 0) return;
    detail::ProductScanArgs args{dtype_v<T>, d, steps, chains, in, in_neg,
                                 detail::ref(out.logmag), detail::ref(out.neg), o.kind, o.format,
                                 o.precision, o.order, o.chunk, info};
    detail::backend_for(ctx).product_scan(ctx, args);
  });
}

}  // namespace

template <class T>
void matrix_product_scan(Context& ctx, MatrixBatch<const T> m, std::int64_t steps,
                         GoomMatrixBatch<T> out, BatchStatus* status,
                         const ProductScanOptions& options) {
  check_nonnegative("matrix_product_scan", "m", m.rows, m.cols, m.count);
  check_matrix("matrix_product_scan", "m", m, ctx.device(), m.rows, m.cols, m.count, false);
  product_scan_impl<T>(ctx, detail::ref(m), detail::MatRef{}, steps, out, status, options);
}

template <class T>
void matrix_product_scan(Context& ctx, GoomMatrixBatch<const T> g, std::int64_t steps,
                         GoomMatrixBatch<T> out, BatchStatus* status,
                         const ProductScanOptions& options) {
  check_goom("matrix_product_scan", "g", g, ctx.device(), g.rows(), g.cols(), g.count(), false);
  product_scan_impl<T>(ctx, detail::ref(g.logmag), detail::ref(g.neg), steps, out, status,
                       options);
}

template <class T>
void affine_recurrence_scan(Context& ctx, MatrixBatch<const T> a, MatrixBatch<const T> b,
                            MatrixBatch<const T> x0, std::int64_t steps, MatrixBatch<T> x,
                            BatchStatus* status, const AffineScanOptions& options) {
  static_check_real<T>();
  constexpr const char* op = "affine_recurrence_scan";
  const Device dev = ctx.device();
  check_nonnegative(op, "x0", x0.rows, x0.cols, x0.count);
  check_nonnegative(op, "a", a.rows, a.cols, a.count);
  const std::int64_t d = x0.rows, n = x0.cols, chains = x0.count;
  DYNX_EXPECTS(steps >= 1,
               fmt::format("affine_recurrence_scan: `steps` must be at least 1, got {}", steps));
  DYNX_EXPECTS(options.chunk >= 0,
               fmt::format("affine_recurrence_scan: `chunk` must be ≥ 0 (0 = automatic), got {}",
                           options.chunk));
  const bool diagonal = a.cols == 1 && d != 1;
  DYNX_EXPECTS(a.rows == d && (a.cols == d || a.cols == 1),
               fmt::format("affine_recurrence_scan: `a` must be {} (dense) or {}x1 (diagonal) to "
                           "match x0's {} rows, got {}",
                           shape_str(d, d), d, d, shape_str(a.rows, a.cols)));
  check_matrix(op, "x0", x0, dev, d, n, chains, false);
  check_matrix(op, "a", a, dev, d, a.cols, chains * steps, false);
  check_matrix(op, "b", b, dev, d, n, chains * steps, false);
  check_matrix(op, "x", x, dev, d, n, chains * steps, true);
  expect_disjoint(op, "x", detail::ref(x), "a", detail::ref(a));
  expect_disjoint(op, "x", detail::ref(x), "b", detail::ref(b));
  expect_disjoint(op, "x", detail::ref(x), "x0", detail::ref(x0));
  with_status(ctx, status, chains, op, [&](std::int32_t* info) {
    if (d == 0 || n == 0) return;
    detail::AffineScanArgs args{dtype_v<T>, d, n, steps, chains, diagonal, detail::ref(a),
                                detail::ref(b), detail::ref(x0), detail::ref(x), options.chunk,
                                info};
    detail::backend_for(ctx).affine_scan(ctx, args);
  });
}

#define DYNX_INSTANTIATE(T)                                                                    \
  template DYNX_API void goom_from_real<T>(Context&, MatrixBatch<const T>, GoomMatrixBatch<T>); \
  template DYNX_API void goom_to_real<T>(Context&, GoomMatrixBatch<const T>, MatrixBatch<T>, T); \
  template DYNX_API void log_matmul_exp<T>(Context&, GoomMatrixBatch<const T>,                 \
                                           GoomMatrixBatch<const T>, GoomMatrixBatch<T>,        \
                                           BatchStatus*, const LmmeOptions&);                   \
  template DYNX_API void matrix_product_scan<T>(Context&, MatrixBatch<const T>, std::int64_t,  \
                                                GoomMatrixBatch<T>, BatchStatus*,               \
                                                const ProductScanOptions&);                     \
  template DYNX_API void matrix_product_scan<T>(Context&, GoomMatrixBatch<const T>,            \
                                                std::int64_t, GoomMatrixBatch<T>, BatchStatus*, \
                                                const ProductScanOptions&);                     \
  template DYNX_API void affine_recurrence_scan<T>(Context&, MatrixBatch<const T>,             \
                                                   MatrixBatch<const T>, MatrixBatch<const T>,  \
                                                   std::int64_t, MatrixBatch<T>, BatchStatus*,  \
                                                   const AffineScanOptions&);
DYNX_INSTANTIATE(float)
DYNX_INSTANTIATE(double)
#undef DYNX_INSTANTIATE

}  // namespace dynx
