#pragma once
/// \file math/attention.hpp
/// Exact scaled dot-product attention, one query row at a time, in the blocked online form (spec
/// attention.md §1): DYNX_HD pieces that the CPU backend and CUDA kernels share.
///
/// A row keeps (m, l, acc): the largest score seen, Σ e^{s − m} and Σ e^{s − m} v. A block of n
/// scores s_j with values v_j updates them as
///     m' = max(m, max_j s_j),  l ← l·e^{m − m'} + Σ e^{s_j − m'},  acc ← acc·e^{m − m'} + Σ e^{s_j − m'} v_j,
/// and the row's output is y = acc / l with lse = m + ln l. A row that saw no key outputs 0 and
/// lse = −∞. Causal masks are bottom-right aligned: with n_q queries against n_k ≥ n_q keys, query i
/// (0-based) sees keys j ≤ n_k − n_q + i.

#include <dynx/math/hd.hpp>

#include <cmath>
#include <cstdint>
#include <limits>

namespace dynx::math {

/// The last key query i may see under the bottom-right aligned causal mask (spec §1).
DYNX_HD inline std::int64_t causal_last_key(std::int64_t i, std::int64_t n_q, std::int64_t n_k) {
  return n_k - n_q + i;
}

/// The running state of one query row; A is the accumulation type (float32 or wider).
template <class A>
struct SoftmaxRow {
  A m = -std::numeric_limits<A>::infinity();
  A l = A(0);
};

/// Folds n scores s[0 … n) with values v (row j at v + j·ldv, dv entries) into the row (m, l) and
/// its accumulator acc (dv entries). Scores of −∞ (masked keys) contribute nothing.
template <class T, class A>
DYNX_HD void softmax_block_update(SoftmaxRow<A>& row, A* acc, const T* s, std::int64_t n,
                                  const T* v, std::int64_t ldv, int dv) {
  A bmax = -std::numeric_limits<A>::infinity();
  for (std::int64_t j = 0; j < n; ++j) bmax = A(s[j]) > bmax ? A(s[j]) : bmax;
  if (bmax == -std::numeric_limits<A>::infinity()) return;  // nothing visible in this block
  const A m_new = row.m > bmax ? row.m : bmax;
  const A rescale = std::exp(row.m - m_new);  // 0 for the first visible block (m = −∞)
  row.l *= rescale;
  for (int c = 0; c < dv; ++c) acc[c] *= rescale;
  for (std::int64_t j = 0; j < n; ++j) {
    const A w = std::exp(A(s[j]) - m_new);
    row.l += w;
    for (int c = 0; c < dv; ++c) acc[c] += w * A(v[j * ldv + c]);
  }
  row.m = m_new;
}

/// The row's output y = acc / l (dv entries) and lse = m + ln l; 0 and −∞ when no key was visible.
template <class T, class A>
DYNX_HD void softmax_finish(const SoftmaxRow<A>& row, const A* acc, int dv, T* y, T* lse) {
  if (!(row.l > A(0))) {
    for (int c = 0; c < dv; ++c) y[c] = T(0);
    if (lse) *lse = -std::numeric_limits<T>::infinity();
    return;
  }
  for (int c = 0; c < dv; ++c) y[c] = T(acc[c] / row.l);
  if (lse) *lse = T(row.m + std::log(row.l));
}

}  // namespace dynx::math
