#pragma once
// Small dense float64 linear algebra on the host for the final steps of the DSA fits (matrices of
// the embedding's size, not of the recording's length), through the CPU backend's batched ops.
// Column-major throughout.

#include "core/check.hpp"

#include <dynx/context.hpp>
#include <dynx/linalg.hpp>
#include <dynx/status.hpp>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

namespace dynx::dsa {

struct HostLinalg {
  Context cpu{Device::cpu()};

  /// op(A) op(B) with op(A) m × k (A stored with leading dimension lda, B with ldb).
  std::vector<double> mul(Op ta, Op tb, std::int64_t m, std::int64_t n, std::int64_t k,
                          const std::vector<double>& a, std::int64_t lda,
                          const std::vector<double>& b, std::int64_t ldb) {
    std::vector<double> c(std::size_t(m * n));
    const std::int64_t ar = ta == Op::n ? m : k, ac = ta == Op::n ? k : m;
    const std::int64_t br = tb == Op::n ? k : n, bc = tb == Op::n ? n : k;
    gemm_batched<double>(cpu, ta, tb, 1.0, MatrixBatch<const double>(a.data(), ar, ac, lda, 0, 1),
                         MatrixBatch<const double>(b.data(), br, bc, ldb, 0, 1), 0.0,
                         MatrixBatch<double>(c.data(), m, n, 1));
    return c;
  }
  /// Thin SVD of an m × n matrix: U (m × q), s (q, descending), Vᵀ (q × n), q = min(m, n).
  /// `who` names the caller in the error of a failed SVD.
  void svd(std::int64_t m, std::int64_t n, std::vector<double> a, std::vector<double>& u,
           std::vector<double>& s, std::vector<double>& vt, const std::string& who) {
    const std::int64_t q = std::min(m, n);
    u.assign(std::size_t(m * q), 0);
    s.assign(std::size_t(q), 0);
    vt.assign(std::size_t(q * n), 0);
    BatchStatus st;
    svd_batched<double>(cpu, MatrixBatch<const double>(a.data(), m, n, 1),
                        VectorBatch<double>(s.data(), q, 1), MatrixBatch<double>(u.data(), m, q, 1),
                        MatrixBatch<double>(vt.data(), q, n, 1), &st);
    DYNX_EXPECTS(st.failed_indices().empty(),
                 who + ": an SVD failed (" + std::string(to_string(st.at(0))) + ")");
  }
  /// X = A⁻¹ B for n × n A and n × m B (solve_batched's error for a singular A).
  std::vector<double> solve(std::int64_t n, std::int64_t m, std::vector<double> a,
                            std::vector<double> b) {
    std::vector<double> x(std::size_t(n * m));
    solve_batched<double>(cpu, MatrixBatch<const double>(a.data(), n, n, 1),
                          MatrixBatch<const double>(b.data(), n, m, 1),
                          MatrixBatch<double>(x.data(), n, m, 1));
    return x;
  }
  /// The same, returning false (x unspecified) when A is singular.
  bool try_solve(std::int64_t n, std::int64_t m, std::vector<double> a, std::vector<double> b,
                 std::vector<double>& x) {
    x.assign(std::size_t(n * m), 0);
    BatchStatus st;
    solve_batched<double>(cpu, MatrixBatch<const double>(a.data(), n, n, 1),
                          MatrixBatch<const double>(b.data(), n, m, 1),
                          MatrixBatch<double>(x.data(), n, m, 1), &st);
    return st.failed_indices().empty();
  }
  /// Eigen-decomposition of a symmetric n × n matrix, eigenvalues descending.
  void eigh_desc(std::int64_t n, std::vector<double> a, std::vector<double>& w,
                 std::vector<double>& v) {
    std::vector<double> wa(static_cast<std::size_t>(n)), va(static_cast<std::size_t>(n * n));
    eigh_batched<double>(cpu, MatrixBatch<const double>(a.data(), n, n, 1),
                         VectorBatch<double>(wa.data(), n, 1), MatrixBatch<double>(va.data(), n, n, 1));
    w.assign(std::size_t(n), 0);
    v.assign(std::size_t(n * n), 0);
    for (std::int64_t j = 0; j < n; ++j) {
      w[std::size_t(j)] = wa[std::size_t(n - 1 - j)];
      std::copy_n(va.data() + (n - 1 - j) * n, n, v.data() + j * n);
    }
  }
};

/// Sub-block [r0, r0 + rows) × [c0, c0 + cols) of a column-major matrix with leading dimension ld.
inline std::vector<double> sub_block(const std::vector<double>& a, std::int64_t ld, std::int64_t r0,
                                     std::int64_t rows, std::int64_t c0, std::int64_t cols) {
  std::vector<double> out(std::size_t(rows * cols));
  for (std::int64_t j = 0; j < cols; ++j)
    for (std::int64_t i = 0; i < rows; ++i)
      out[std::size_t(j * rows + i)] = a[std::size_t((c0 + j) * ld + r0 + i)];
  return out;
}

}  // namespace dynx::dsa
