#pragma once
/// \file goom.hpp
/// High-dynamic-range matrix products: batches of GOOM matrices (generalized orders of magnitude:
/// a log-magnitude and a sign per entry, spec goom.md §1), log-matmul-exp, inclusive scans and
/// reductions over chains of matrix products, and affine recurrences as a scan.
///
/// Common contract (as in linalg.hpp): views live on ctx.device(), column-major, the call is
/// asynchronous on CUDA, shape and layout errors throw InvalidArgument before anything is
/// enqueued, and per-item failures (NaN or Inf in an input) go into `*status` when given (the
/// item's outputs are NaN) or throw NumericalError after the call when not. T is float or double.
///
/// Order convention ("apply x first, then y"): a chain M_1, M_2, …, M_T acting on column vectors,
/// v_t = M_t v_{t−1}, has the prefix products P_t = M_t ⋯ M_2 M_1 (later factors on the left).
/// ProductOrder::later_right gives M_1 M_2 ⋯ M_t instead (the row-vector convention of the
/// GOOM reference code).

#include <dynx/batch.hpp>
#include <dynx/context.hpp>
#include <dynx/export.hpp>
#include <dynx/status.hpp>

#include <cstdint>
#include <type_traits>

namespace dynx {

/// A batch of GOOM matrices: entry (i, j) of matrix k is the real number
/// (neg(i, j, k) ? −1 : +1) · exp(logmag(i, j, k)). Zero is logmag = −∞; ±∞ is logmag = +∞.
/// `logmag` and `neg` have the same shape and count (their ld and stride may differ). `T` may be
/// const-qualified (an input); the signs then are const too.
template <class T>
struct GoomMatrixBatch {
  using Sign = std::conditional_t<std::is_const_v<T>, const std::uint8_t, std::uint8_t>;
  MatrixBatch<T> logmag;
  MatrixBatch<Sign> neg;  ///< 1 where the entry is negative, 0 otherwise

  template <class U = T, class = std::enable_if_t<!std::is_const_v<U>>>
  operator GoomMatrixBatch<const U>() const {
    return {logmag, neg};
  }
  std::int64_t rows() const noexcept { return logmag.rows; }
  std::int64_t cols() const noexcept { return logmag.cols; }
  std::int64_t count() const noexcept { return logmag.count; }
  GoomMatrixBatch slice(std::int64_t first, std::int64_t n) const noexcept {
    return {logmag.slice(first, n), neg.slice(first, n)};
  }
};

/// Precision of the real GEMM inside log-matmul-exp and the scaled-float products.
enum class InnerPrecision {
  same = 0,  ///< the data's own precision (float GEMM for float GOOMs), IEEE, no TF32
  f64,       ///< float64 GEMM for float data: one rounding per product instead of k
  tf32,      ///< CUDA only, explicit opt-in: TF32 tensor cores for float (≈1e-3 relative)
};

/// out_k = GOOM(x_k) elementwise: (ln|x|, x < 0). Zeros give −∞ (never a finite floor).
template <class T>
DYNX_API void goom_from_real(Context& ctx, MatrixBatch<const T> x, GoomMatrixBatch<T> out);

/// out_k = ± exp(logmag) elementwise, shifted by `shift` nats (out = x · e^shift): values beyond
/// the float range become ±∞ or 0, as the format demands. Use a negative shift (e.g. minus the
/// largest logmag) to look at the shape of a matrix whose scale is out of range.
template <class T>
DYNX_API void goom_to_real(Context& ctx, GoomMatrixBatch<const T> g, MatrixBatch<T> out,
                           T shift = T(0));

struct LmmeOptions {
  InnerPrecision precision = InnerPrecision::same;
};

/// Log-matmul-exp (spec §3): C_k = GOOM(exp(A_k) · exp(B_k)) for m × k A_k and k × n B_k, without
/// leaving log space except for one real GEMM on scaled operands. Two-sided scaling (§3.4): each
/// row l of B is shifted by its own maximum r_l, which is folded into A's column l before A's
/// rows are shifted by theirs, so a term is lost only when it is more than the float range below
/// its own output row's largest term; there is no clamp of the scales, so decaying products keep
/// their magnitude. Exact zeros (and all −∞ rows and columns) give −∞. `a` or `b` may have
/// stride 0 (broadcast). Status per item: non_finite when an input holds NaN or +∞ logmag.
template <class T>
DYNX_API void log_matmul_exp(Context& ctx, GoomMatrixBatch<const T> a, GoomMatrixBatch<const T> b,
                             GoomMatrixBatch<T> c, BatchStatus* status = nullptr,
                             const LmmeOptions& options = {});

enum class ScanKind {
  inclusive = 0,  ///< every prefix product P_1 … P_T
  reduce,         ///< only the full product P_T
};

/// Arithmetic used inside a scan over matrix products.
enum class ScanFormat {
  /// Scaled float (spec §3.5, the default): a float matrix with one power-of-two exponent per row;
  /// a product is a GEMM plus exact exponent arithmetic, so the relative precision stays at the
  /// mantissa's, independent of magnitude. Converted to GOOMs only at the output.
  scaled = 0,
  /// GOOMs with log-matmul-exp as the combine (the published method): each combine re-rounds
  /// every log, so errors grow with |ln| (spec §1.5).
  goom,
};

enum class ProductOrder {
  later_left = 0,  ///< P_t = M_t ⋯ M_1 (v_t = M_t v_{t−1}, the default)
  later_right,     ///< P_t = M_1 ⋯ M_t
};

struct ProductScanOptions {
  ScanKind kind = ScanKind::inclusive;
  ScanFormat format = ScanFormat::scaled;
  InnerPrecision precision = InnerPrecision::same;
  ProductOrder order = ProductOrder::later_left;
  /// Matrices per chunk of the chunked scan (each chunk is reduced, the chunk totals are scanned,
  /// then each chunk is swept with its incoming prefix). 0 picks one for the device and sizes.
  std::int64_t chunk = 0;
};

/// Prefix products of `chains` independent chains of `steps` square d × d matrices each: input
/// matrix c·steps + t is factor t + 1 of chain c. Output (GOOM, d × d): for kind inclusive,
/// chains·steps matrices (out[c·steps + t] = P_{t+1} of chain c); for reduce, `chains` matrices.
/// The input is real (`m`) or GOOM (`g`). Status per chain: non_finite when a factor holds NaN or
/// Inf (a GOOM factor: NaN or +∞ logmag); that chain's outputs are NaN.
template <class T>
DYNX_API void matrix_product_scan(Context& ctx, MatrixBatch<const T> m, std::int64_t steps,
                                  GoomMatrixBatch<T> out, BatchStatus* status = nullptr,
                                  const ProductScanOptions& options = {});
template <class T>
DYNX_API void matrix_product_scan(Context& ctx, GoomMatrixBatch<const T> g, std::int64_t steps,
                                  GoomMatrixBatch<T> out, BatchStatus* status = nullptr,
                                  const ProductScanOptions& options = {});

struct AffineScanOptions {
  /// Steps per chunk (see ProductScanOptions::chunk); 0 picks one.
  std::int64_t chunk = 0;
};

/// The affine recurrence x_t = A_t x_{t−1} + b_t, t = 1 … steps (spec §4.5), for `chains`
/// independent chains, as a chunked scan: each chunk's composite map (Π A, accumulated b) is
/// formed in parallel, the chunk maps are applied in order to carry the state across chunks, and
/// every chunk is then swept from its true incoming state. `a`: chains·steps d × d matrices
/// (dense) or d × 1 columns (the diagonal of A_t, for diagonal recurrences such as quasi-DEER);
/// `b`: chains·steps d × n; `x0`: chains d × n; `x`: chains·steps d × n, x[c·steps + t] = x_{t+1}
/// of chain c. Arithmetic is real (the states are reported as reals): a chain whose products
/// overflow gets status non_finite, as does one with NaN/Inf in its inputs.
template <class T>
DYNX_API void affine_recurrence_scan(Context& ctx, MatrixBatch<const T> a, MatrixBatch<const T> b,
                                     MatrixBatch<const T> x0, std::int64_t steps, MatrixBatch<T> x,
                                     BatchStatus* status = nullptr,
                                     const AffineScanOptions& options = {});

}  // namespace dynx
