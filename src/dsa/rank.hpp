#pragma once
// The Hankel DMD rank rules of spec §3.3 as pure host functions (header-only so the unit tests
// call them directly).

#include "core/check.hpp"

#include <dynx/dsa.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

namespace dynx::dsa {

/// ω(β) of the Gavish–Donoho optimal hard threshold for an unknown noise level (their eq. (5),
/// the cubic approximation), β ∈ (0, 1] the aspect ratio of the matrix.
inline double gavish_donoho_omega(double beta) {
  return 0.56 * beta * beta * beta - 0.95 * beta * beta + 1.82 * beta + 1.43;
}

/// Number of leading values above `cutoff · values[0]` (values descending, nonnegative).
inline std::int64_t count_above_relative(const std::vector<double>& values, double cutoff) {
  if (values.empty() || !(values[0] > 0)) return 0;
  std::int64_t k = 0;
  for (double v : values)
    if (v > cutoff * values[0]) ++k;
  return k;
}

/// Checks that at most one rank rule is set and that its value is usable.
inline void check_rank_options(const HankelDmdOptions& o, const std::string& who) {
  const int rules = int(o.rank.has_value()) + int(o.rank_thresh.has_value()) +
                    int(o.rank_explained_variance.has_value()) + int(o.optimal_rank);
  DYNX_EXPECTS(rules <= 1, who + ": give at most one of rank, rank_thresh, "
                                 "rank_explained_variance and optimal_rank");
  if (o.rank) DYNX_EXPECTS(*o.rank >= 1, who + ": rank must be >= 1");
  if (o.rank_thresh)
    DYNX_EXPECTS(std::isfinite(*o.rank_thresh) && *o.rank_thresh >= 0,
                 who + ": rank_thresh must be a finite value >= 0");
  if (o.rank_explained_variance)
    DYNX_EXPECTS(*o.rank_explained_variance > 0 && *o.rank_explained_variance <= 1,
                 who + ": rank_explained_variance must be in (0, 1]");
}

/// The rank r chosen by the rule in `o` from `values` (descending: singular values, or RRR
/// projector eigenvalues), of which the first `k` are usable (k ≥ 1). `rows` × `cols` is the
/// shape of the factored matrix (for the optimal hard threshold). Warnings are appended.
inline std::int64_t choose_rank(const HankelDmdOptions& o, const std::vector<double>& values,
                                std::int64_t k, std::int64_t rows, std::int64_t cols,
                                std::vector<std::string>& warnings) {
  if (o.rank) {
    // k ≤ min(rows, cols): a rank above the embedding dimension is capped here too, with a
    // warning (the reference caps it silently).
    if (*o.rank > k) {
      warnings.push_back("rank " + std::to_string(*o.rank) + " is more than the " +
                         std::to_string(k) + " usable singular values; using " +
                         std::to_string(k));
      return k;
    }
    return *o.rank;
  }
  if (o.rank_thresh) {
    std::int64_t r = 0;
    for (std::int64_t i = 0; i < k; ++i)
      if (values[std::size_t(i)] > *o.rank_thresh) ++r;
    if (r == 0) {
      warnings.push_back("rank_thresh is above every singular value; using rank 1");
      r = 1;
    }
    return r;
  }
  if (o.rank_explained_variance) {
    double total = 0;
    for (double v : values) total += v * v;
    double cum = 0;
    for (std::int64_t i = 0; i < k; ++i) {
      cum += values[std::size_t(i)] * values[std::size_t(i)];
      if (cum / total >= *o.rank_explained_variance) return i + 1;
    }
    return k;
  }
  if (o.optimal_rank) {
    const std::int64_t q = std::min<std::int64_t>({rows, cols, std::int64_t(values.size())});
    std::vector<double> v(values.begin(), values.begin() + q);
    std::nth_element(v.begin(), v.begin() + q / 2, v.end());
    double median = v[std::size_t(q / 2)];
    if (q % 2 == 0 && q > 0) {
      const double lower = *std::max_element(v.begin(), v.begin() + q / 2);
      median = 0.5 * (median + lower);
    }
    const double beta = double(std::min(rows, cols)) / double(std::max(rows, cols));
    const double tau = gavish_donoho_omega(beta) * median;
    std::int64_t r = 0;
    for (std::int64_t i = 0; i < k; ++i)
      if (values[std::size_t(i)] > tau) ++r;
    return std::max<std::int64_t>(r, 1);
  }
  return k;
}

}  // namespace dynx::dsa
