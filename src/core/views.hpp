#pragma once
// Argument checks shared by the public batched operations (linalg, goom, lyapunov): views on the
// context's device with the promised shapes, outputs that do not alias inputs, and per-matrix
// status codes that throw when the caller passed no BatchStatus.

#include "core/backend.hpp"
#include "core/check.hpp"

#include <dynx/status.hpp>

#include <algorithm>
#include <type_traits>

namespace dynx::detail {

// Byte range [begin, end) a view touches, for overlap checks.
struct Span {
  const char* begin;
  const char* end;
};
inline Span span_of(const MatRef& m) {
  const auto* p = static_cast<const char*>(m.data);
  if (!p || m.rows == 0 || m.cols == 0 || m.count == 0) return {p, p};
  const std::int64_t last = (m.count - 1) * m.stride + (m.cols - 1) * m.ld + m.rows;
  return {p, p + last * static_cast<std::int64_t>(dtype_size(m.dtype))};
}
inline Span span_of(const VecRef& v) {
  const auto* p = static_cast<const char*>(v.data);
  if (!p || v.size == 0 || v.count == 0) return {p, p};
  const std::int64_t last = (v.count - 1) * v.stride + (v.size - 1) * v.inc + 1;
  return {p, p + last * static_cast<std::int64_t>(dtype_size(v.dtype))};
}
inline bool overlap(Span a, Span b) { return a.begin < b.end && b.begin < a.end; }

template <class Out, class In>
inline void expect_disjoint(const char* op, const char* out_name, const Out& out, const char* in_name,
                     const In& in) {
  DYNX_EXPECTS(!overlap(span_of(out), span_of(in)),
               fmt::format("{}: output `{}` overlaps input `{}`; outputs must not alias inputs", op,
                           out_name, in_name));
}

// Checks one matrix view: device, shape, count, ld and stride, non-null data.
template <class T>
inline void check_matrix(const char* op, const char* name, const MatrixBatch<T>& v, Device device,
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
                   fmt::format("{}: `{}` has stride {}; only inputs that may be broadcast (one "
                               "matrix for the whole batch) can use stride 0",
                               op, name, v.stride));
    }
  }
  DYNX_EXPECTS(v.data != nullptr || rows * cols * count == 0,
               fmt::format("{}: `{}` is a null pointer for {} matrices of {}", op, name, count,
                           shape_str(rows, cols)));
}

template <class T>
inline void check_vector(const char* op, const char* name, const VectorBatch<T>& v, Device device,
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

inline void check_nonnegative(const char* op, const char* what, std::int64_t rows, std::int64_t cols,
                       std::int64_t count) {
  DYNX_EXPECTS(rows >= 0 && cols >= 0 && count >= 0,
               fmt::format("{}: `{}` has negative dimensions {} x {} matrices", op, what, count,
                           shape_str(rows, cols)));
}

// Runs `f(info)` with per-matrix codes going to `status`, or to a local status that is checked
// (synchronising) when the caller passed none.
template <class F>
inline void with_status(Context& ctx, BatchStatus* status, std::int64_t count, const char* op, F&& f) {
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

}  // namespace dynx::detail
