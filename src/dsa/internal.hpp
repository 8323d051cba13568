#pragma once
// Functions shared between the DSA translation units (fit, procrustes, wasserstein, pairwise).

#include <dynx/context.hpp>
#include <dynx/dsa.hpp>

#include <atomic>
#include <complex>
#include <limits>
#include <cstdint>
#include <string>
#include <vector>

namespace dynx::dsa {

/// One comparison of a many-system run: row i (x side) against column j (y side).
struct Pair {
  std::int64_t i, j;
};

/// A result with every pair still to compute: distance NaN and status not_computed, except the
/// diagonal of a self-pairwise result (0, ok).
inline DsaResult pending_result(std::int64_t rows, std::int64_t cols, bool self) {
  DsaResult r;
  r.rows = rows;
  r.cols = cols;
  r.symmetric = self;
  const std::size_t cells = std::size_t(rows * cols);
  r.distance.assign(cells, std::numeric_limits<double>::quiet_NaN());
  r.status.assign(cells, PairStatus::not_computed);
  r.iterations.assign(cells, 0);
  if (self)
    for (std::int64_t i = 0; i < rows; ++i) {
      r.distance[std::size_t(i * cols + i)] = 0.0;
      r.status[std::size_t(i * cols + i)] = PairStatus::ok;
    }
  return r;
}

/// True once a cancel flag (possibly null) is set; marks the result incomplete.
inline bool cancelled(const std::atomic<bool>* flag, DsaResult& r) {
  if (flag && flag->load(std::memory_order_relaxed)) r.complete = false;
  return !r.complete;
}

/// The pair schedule: self-pairwise → (i, j) with j < i, row-major; cross → every (i, j).
inline std::vector<Pair> pair_schedule(std::int64_t rows, std::int64_t cols, bool self) {
  std::vector<Pair> p;
  for (std::int64_t i = 0; i < rows; ++i)
    for (std::int64_t j = 0; j < (self ? i : cols); ++j) p.push_back({i, j});
  return p;
}

/// Procrustes for `count` pairs of unit-norm n × n host matrices (packed): writes the euclidean
/// score per pair and, when h_c is non-null, the orthogonal minimiser. `keys` (count entries, or
/// null for 0..count-1) seed each pair's random starts, so results do not depend on batching.
template <class T>
void procrustes_normalised(Context& ctx, std::int64_t n, std::int64_t count, const T* h_a,
                           const T* h_b, const ProcrustesOptions& o, const std::int64_t* keys,
                           T* h_euclid, T* h_c, std::vector<ProcrustesInfo>& info);

/// Scales an n × n host matrix to unit Frobenius norm; InvalidArgument (prefixed by `who`) for
/// NaN/Inf or the zero matrix.
template <class T>
void normalise_operator(std::int64_t n, T* a, const std::string& who);

void check_procrustes_options(const ProcrustesOptions& o);

/// Eigenvalues of host matrices (mats[i] is sizes[i] × sizes[i], packed), computed batched by
/// size on the context's device. `who` prefixes error messages ("<who> <i>: ...").
template <class T>
std::vector<std::vector<std::complex<T>>> eigenvalues_of(Context& ctx,
                                                         const std::vector<const T*>& mats,
                                                         const std::vector<std::int64_t>& sizes,
                                                         const std::string& who);

}  // namespace dynx::dsa
