#pragma once
/// \file transport.hpp
/// Exact discrete optimal transport for Dynamical Similarity Analysis (DSA): the squared
/// 2-Wasserstein distance between two eigenvalue sets in the complex plane, and the two exact
/// solvers behind it (linear assignment and the transportation problem).
///
/// Header-only, host-only, plain C++17 without dependencies. Nothing here is DYNX_HD: the solvers
/// are sequential pivoting algorithms with heap workspace, which have no place on the device.
/// T is float, double or long double. float inputs are solved in double internally (the result is
/// rounded to float once); other types in their own precision.
///
/// Exactness: both solvers return an optimal vertex of the linear programme. Every combinatorial
/// decision (which row is matched, which tree arc leaves) is exact; only the potentials (duals) are
/// floating-point sums of costs, so the optimal value is exact up to rounding of order
/// sqrt(n + m) * eps * max|c| (see transport_min_cost).

#include <algorithm>
#include <cmath>
#include <complex>
#include <cstdint>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

namespace dynx::math {

namespace detail {

/// Working precision of the solvers: at least double.
template <class T>
using transport_work_t =
    std::conditional_t<(std::numeric_limits<T>::digits < std::numeric_limits<double>::digits), double, T>;

/// Marginals are quantised to integer multiples of total_mass / 2^62 (below the rounding of a
/// double weight, 2^-53 relative), so that the network simplex moves integer flows: degenerate
/// pivots are recognised exactly and the anti-cycling rule cannot be fooled by rounding.
inline constexpr std::int64_t kTransportMassUnits = std::int64_t{1} << 62;

[[noreturn]] inline void transport_throw(const char* fn, const std::string& why) {
  throw std::invalid_argument(std::string(fn) + ": " + why);
}

/// Checks that every cost is finite; returns max |c| in W.
template <class W, class T>
W checked_max_abs_cost(const char* fn, std::int64_t count, const T* cost) {
  W cmax = 0;
  for (std::int64_t k = 0; k < count; ++k) {
    const T c = cost[k];
    if (std::isnan(c)) transport_throw(fn, "cost contains NaN (entry " + std::to_string(k) + ")");
    if (std::isinf(c)) transport_throw(fn, "cost contains Inf (entry " + std::to_string(k) + ")");
    cmax = std::max(cmax, static_cast<W>(std::fabs(c)));
  }
  return cmax;
}

/// Power-of-two factor (exact) that brings max|c| down to `limit` when it is above it, so that
/// sums of up to ~`terms` costs in the potentials cannot overflow. 1 otherwise.
template <class W>
W overflow_guard_scale(W cmax, std::int64_t terms) {
  const W limit = std::numeric_limits<W>::max() / (W(8) * static_cast<W>(terms + 1));
  if (!(cmax > limit)) return W(1);
  return std::ldexp(W(1), std::ilogb(limit) - std::ilogb(cmax) - 1);
}

/// Validates weights (finite, >= 0, positive total) and quantises them to nonnegative integers
/// q_i summing to exactly kTransportMassUnits, q_i ≈ units * w_i / sum(w) (largest remainder).
/// A zero weight always gets q_i = 0. Returns sum(w) in W.
template <class W, class T>
W quantise_marginal(const char* fn, const char* name, std::int64_t n, const T* w,
                    std::vector<std::int64_t>& q) {
  using L = std::conditional_t<(std::numeric_limits<long double>::digits > std::numeric_limits<W>::digits),
                               long double, W>;
  W wmax = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    const T x = w[i];
    if (std::isnan(x)) transport_throw(fn, std::string(name) + " contains NaN (entry " + std::to_string(i) + ")");
    if (std::isinf(x)) transport_throw(fn, std::string(name) + " contains Inf (entry " + std::to_string(i) + ")");
    if (x < T(0)) transport_throw(fn, std::string(name) + " has a negative weight (entry " + std::to_string(i) + ")");
    wmax = std::max(wmax, static_cast<W>(x));
  }
  if (!(wmax > W(0))) transport_throw(fn, std::string(name) + " has zero total mass");
  // Sum of w / wmax (in [1, n]) cannot overflow; the total is wmax * s.
  L s = 0;
  for (std::int64_t i = 0; i < n; ++i) s += static_cast<L>(static_cast<W>(w[i]) / wmax);
  const W total = wmax * static_cast<W>(s);
  if (!std::isfinite(total)) transport_throw(fn, std::string(name) + " has an Inf total mass");

  const std::int64_t units = kTransportMassUnits;
  const L per = static_cast<L>(units) / s;
  q.assign(static_cast<std::size_t>(n), 0);
  std::vector<L> rem(static_cast<std::size_t>(n), L(0));
  std::int64_t sum = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    const L x = static_cast<L>(static_cast<W>(w[i]) / wmax) * per;  // <= units * (1 + rounding)
    const L f = std::floor(x);
    q[static_cast<std::size_t>(i)] = static_cast<std::int64_t>(f);
    rem[static_cast<std::size_t>(i)] = x - f;
    sum += q[static_cast<std::size_t>(i)];
  }
  // Give the missing units to the largest remainders (take surplus ones from the smallest), one
  // per entry per pass. With a long double accumulator |units - sum| <= n; with double at most a
  // few hundred passes, each moving a mass of 2^-62.
  std::int64_t d = units - sum;
  if (d != 0) {
    std::vector<std::int64_t> order(static_cast<std::size_t>(n));
    std::iota(order.begin(), order.end(), std::int64_t{0});
    const bool add = d > 0;
    std::stable_sort(order.begin(), order.end(), [&](std::int64_t x, std::int64_t y) {
      return add ? rem[static_cast<std::size_t>(x)] > rem[static_cast<std::size_t>(y)]
                 : rem[static_cast<std::size_t>(x)] < rem[static_cast<std::size_t>(y)];
    });
    while (d != 0) {
      for (std::int64_t i : order) {
        if (d == 0) break;
        auto& qi = q[static_cast<std::size_t>(i)];
        if (add && w[i] > T(0)) {
          ++qi;
          --d;
        } else if (!add && qi > 0) {
          --qi;
          ++d;
        }
      }
    }
  }
  return total;
}

/// Primal network simplex on the complete bipartite graph supplies → demands, with an artificial
/// root joined to every node by one big-M arc. The big-M is symbolic: costs and potentials are
/// pairs (k, x) meaning k·M + x, compared lexicographically, so M never rounds the real costs.
/// Anti-cycling: the tree is kept strongly feasible (every zero-flow tree arc points towards the
/// root) with Cunningham's leaving-arc rule, which guarantees termination on degenerate problems
/// (W. H. Cunningham, "A network simplex method", Math. Programming 11, 1976; Ahuja, Magnanti &
/// Orlin, Network Flows, §11.5). Pricing: block search over rows (Dantzig's rule inside a block).
template <class W>
class TransportSimplex {
 public:
  TransportSimplex(std::int64_t n, std::int64_t m, const W* cost, const std::int64_t* qa,
                   const std::int64_t* qb, W tol)
      : n_(n), m_(m), nm_(n * m), root_(n + m), cost_(cost), tol_(tol) {
    const auto nodes = static_cast<std::size_t>(n + m + 1);
    parent_.assign(nodes, -1);
    pred_.assign(nodes, -1);
    up_.assign(nodes, 1);
    art_up_.assign(nodes, 1);
    flow_.assign(nodes, 0);
    pk_.assign(nodes, 0);
    px_.assign(nodes, W(0));
    depth_.assign(nodes, 0);
    first_child_.assign(nodes, -1);
    next_sib_.assign(nodes, -1);
    prev_sib_.assign(nodes, -1);
    for (std::int64_t v = 0; v < n + m; ++v) {
      const auto u = static_cast<std::size_t>(v);
      // Supplies send through v→root; positive demands receive through root→v; a zero demand is
      // joined by v→root with zero flow (pointing to the root keeps the tree strongly feasible).
      const bool supply = v < n;
      const std::int64_t amount = supply ? qa[v] : qb[v - n];
      art_up_[u] = (supply || amount == 0) ? 1 : 0;
      up_[u] = art_up_[u];
      flow_[u] = amount;
      pred_[u] = nm_ + v;
      pk_[u] = art_up_[u] ? -1 : 1;  // potential of v through the big-M arc
      depth_[u] = 1;
      link(v, root_);
    }
    const double rows = std::ceil(std::sqrt(static_cast<double>(nm_)) / static_cast<double>(m));
    rows_per_block_ = std::max<std::int64_t>(1, static_cast<std::int64_t>(rows));
  }

  /// Runs to optimality. Throws std::runtime_error only if the safety cap on pivots is reached,
  /// which the anti-cycling rule should make impossible.
  void run() {
    const std::int64_t cap = 1000 + 50 * (nm_ + n_ + m_);
    std::int64_t e = -1;
    while (find_entering(e)) {
      pivot(e);
      if (++pivots_ > cap)
        throw std::runtime_error("transport_min_cost: network simplex exceeded its pivot limit");
    }
    for (std::int64_t v = 0; v < n_ + m_; ++v)
      if (pred_[static_cast<std::size_t>(v)] >= nm_ && flow_[static_cast<std::size_t>(v)] != 0)
        throw std::logic_error("transport_min_cost: artificial flow left at optimum (infeasible)");
  }

  /// Calls f(i, j, flow) for every real tree arc (the support of the optimal plan, plus
  /// degenerate basic arcs with zero flow).
  template <class F>
  void for_each_basic(F&& f) const {
    for (std::int64_t v = 0; v < n_ + m_; ++v) {
      const std::int64_t a = pred_[static_cast<std::size_t>(v)];
      if (a >= 0 && a < nm_) f(a / m_, a % m_, flow_[static_cast<std::size_t>(v)]);
    }
  }

  std::int64_t pivots() const noexcept { return pivots_; }

 private:
  void link(std::int64_t v, std::int64_t p) {  // v becomes the first child of p
    const auto u = static_cast<std::size_t>(v);
    const std::int64_t f = first_child_[static_cast<std::size_t>(p)];
    parent_[u] = p;
    prev_sib_[u] = -1;
    next_sib_[u] = f;
    if (f >= 0) prev_sib_[static_cast<std::size_t>(f)] = v;
    first_child_[static_cast<std::size_t>(p)] = v;
  }

  void unlink(std::int64_t v) {
    const auto u = static_cast<std::size_t>(v);
    const std::int64_t p = parent_[u], a = prev_sib_[u], b = next_sib_[u];
    if (a >= 0) next_sib_[static_cast<std::size_t>(a)] = b;
    else first_child_[static_cast<std::size_t>(p)] = b;
    if (b >= 0) prev_sib_[static_cast<std::size_t>(b)] = a;
  }

  void ends(std::int64_t arc, std::int64_t& tail, std::int64_t& head) const {
    if (arc < nm_) {
      tail = arc / m_;
      head = n_ + arc % m_;
    } else {
      const std::int64_t v = arc - nm_;
      if (art_up_[static_cast<std::size_t>(v)]) {
        tail = v;
        head = root_;
      } else {
        tail = root_;
        head = v;
      }
    }
  }

  bool find_entering(std::int64_t& e) {
    // Reduced cost of i→j: c_ij + pot_i - pot_j, negative when (k, x) < (0, -tol).
    std::int64_t best_k = 0;
    W best_x = -tol_;
    e = -1;
    std::int64_t i = next_row_, in_block = 0;
    const std::int64_t* kd = pk_.data() + n_;
    const W* xd = px_.data() + n_;
    for (std::int64_t scanned = 0; scanned < n_;) {
      const W* c = cost_ + i * m_;
      const std::int64_t ki = pk_[static_cast<std::size_t>(i)];
      const W xi = px_[static_cast<std::size_t>(i)];
      for (std::int64_t j = 0; j < m_; ++j) {
        const std::int64_t k = ki - kd[j];
        if (k > best_k) continue;
        const W x = c[j] + xi - xd[j];
        if (k < best_k || x < best_x) {
          best_k = k;
          best_x = x;
          e = i * m_ + j;
        }
      }
      i = (i + 1 == n_) ? 0 : i + 1;
      ++scanned;
      if (++in_block >= rows_per_block_) {
        if (e >= 0) break;
        in_block = 0;
      }
    }
    next_row_ = i;
    return e >= 0;
  }

  void pivot(std::int64_t e) {
    std::int64_t s = 0, t = 0;
    ends(e, s, t);  // flow is pushed along s→t, then back to s through the tree
    std::int64_t a = s, b = t;
    while (depth_[static_cast<std::size_t>(a)] > depth_[static_cast<std::size_t>(b)]) a = parent_[static_cast<std::size_t>(a)];
    while (depth_[static_cast<std::size_t>(b)] > depth_[static_cast<std::size_t>(a)]) b = parent_[static_cast<std::size_t>(b)];
    while (a != b) {
      a = parent_[static_cast<std::size_t>(a)];
      b = parent_[static_cast<std::size_t>(b)];
    }
    const std::int64_t w = a;  // apex
    // The cycle, in its orientation from the apex: w ⇝ s (down), s→t, t ⇝ w (up). Cunningham's
    // rule takes the LAST blocking arc met: on the s side the lowest one (strict <, scanning up),
    // on the t side the highest one (<=, scanning up), and the t side wins ties.
    constexpr std::int64_t kNone = std::numeric_limits<std::int64_t>::max();
    std::int64_t min_s = kNone, leave_s = -1, min_t = kNone, leave_t = -1;
    for (std::int64_t v = s; v != w; v = parent_[static_cast<std::size_t>(v)]) {
      const auto u = static_cast<std::size_t>(v);
      if (up_[u] && flow_[u] < min_s) {  // traversed against its direction: flow decreases
        min_s = flow_[u];
        leave_s = v;
      }
    }
    for (std::int64_t v = t; v != w; v = parent_[static_cast<std::size_t>(v)]) {
      const auto u = static_cast<std::size_t>(v);
      if (!up_[u] && flow_[u] <= min_t) {
        min_t = flow_[u];
        leave_t = v;
      }
    }
    if (leave_s < 0 && leave_t < 0)
      throw std::logic_error("transport_min_cost: unbounded pivot cycle (negative cycle)");
    const bool on_t = leave_t >= 0 && (leave_s < 0 || min_t <= min_s);
    const std::int64_t delta = on_t ? min_t : min_s;
    const std::int64_t q = on_t ? leave_t : leave_s;
    if (delta > 0) {
      for (std::int64_t v = s; v != w; v = parent_[static_cast<std::size_t>(v)])
        flow_[static_cast<std::size_t>(v)] += up_[static_cast<std::size_t>(v)] ? -delta : delta;
      for (std::int64_t v = t; v != w; v = parent_[static_cast<std::size_t>(v)])
        flow_[static_cast<std::size_t>(v)] += up_[static_cast<std::size_t>(v)] ? delta : -delta;
    }
    // Drop the leaving arc (pred of q) and hang q's subtree from the entering arc.
    const std::int64_t x = on_t ? t : s;
    rehang(x, q, on_t ? s : t, e, on_t ? 0 : 1, delta);
    update_subtree(x);
  }

  // Reverses the tree path x → ... → q: x becomes a child of `np` through `arc`.
  void rehang(std::int64_t x, std::int64_t q, std::int64_t np, std::int64_t arc, char up,
              std::int64_t fl) {
    std::int64_t cur = x;
    for (;;) {
      const auto u = static_cast<std::size_t>(cur);
      const std::int64_t old_parent = parent_[u], old_arc = pred_[u], old_flow = flow_[u];
      const char old_up = up_[u];
      unlink(cur);
      link(cur, np);
      pred_[u] = arc;
      up_[u] = up;
      flow_[u] = fl;
      if (cur == q) break;
      np = cur;
      arc = old_arc;
      up = static_cast<char>(!old_up);
      fl = old_flow;
      cur = old_parent;
    }
  }

  // Depth and potentials of the subtree rooted at x, from its (unchanged) parent downwards.
  // Recomputing (rather than shifting by the reduced cost) keeps the potentials a function of the
  // tree alone, so rounding does not accumulate over pivots.
  void update_subtree(std::int64_t x) {
    stack_.clear();
    stack_.push_back(x);
    while (!stack_.empty()) {
      const std::int64_t v = stack_.back();
      stack_.pop_back();
      const auto u = static_cast<std::size_t>(v);
      const auto p = static_cast<std::size_t>(parent_[u]);
      const std::int64_t arc = pred_[u];
      const std::int64_t ck = arc < nm_ ? 0 : 1;
      const W cx = arc < nm_ ? cost_[arc] : W(0);
      depth_[u] = depth_[p] + 1;
      // Tree arcs have zero reduced cost: c + pot_tail - pot_head = 0.
      if (up_[u]) {  // v → parent
        pk_[u] = pk_[p] - ck;
        px_[u] = px_[p] - cx;
      } else {
        pk_[u] = pk_[p] + ck;
        px_[u] = px_[p] + cx;
      }
      for (std::int64_t c = first_child_[u]; c >= 0; c = next_sib_[static_cast<std::size_t>(c)])
        stack_.push_back(c);
    }
  }

  std::int64_t n_, m_, nm_, root_;
  const W* cost_;
  W tol_;
  std::int64_t rows_per_block_ = 1, next_row_ = 0, pivots_ = 0;
  std::vector<std::int64_t> parent_, pred_, flow_, pk_, depth_, first_child_, next_sib_, prev_sib_,
      stack_;
  std::vector<char> up_, art_up_;
  std::vector<W> px_;
};

/// transport_min_cost in the working precision; also returns the common mass of the plan.
template <class T>
transport_work_t<T> transport_solve(const char* fn, std::int64_t n, const T* a, std::int64_t m,
                                    const T* b, const T* cost, T* plan,
                                    transport_work_t<T>* mass_out) {
  using W = transport_work_t<T>;
  if (n < 0 || m < 0) transport_throw(fn, "n and m must be nonnegative");
  if (n == 0) transport_throw(fn, "`a` has zero total mass (n == 0)");
  if (m == 0) transport_throw(fn, "`b` has zero total mass (m == 0)");
  if (a == nullptr) transport_throw(fn, "`a` is null");
  if (b == nullptr) transport_throw(fn, "`b` is null");
  if (cost == nullptr) transport_throw(fn, "`cost` is null");
  std::vector<std::int64_t> qa, qb;
  const W sa = quantise_marginal<W>(fn, "`a`", n, a, qa);
  const W sb = quantise_marginal<W>(fn, "`b`", m, b, qb);
  const W mass = sa / 2 + sb / 2;
  if (mass_out) *mass_out = mass;
  const std::int64_t nm = n * m;
  const W cmax = checked_max_abs_cost<W>(fn, nm, cost);
  const W scale = overflow_guard_scale(cmax, n + m);
  std::vector<W> c(static_cast<std::size_t>(nm));
  for (std::int64_t k = 0; k < nm; ++k) c[static_cast<std::size_t>(k)] = static_cast<W>(cost[k]) * scale;
  // Pricing tolerance: potentials are sums of costs along tree paths, each rounding by
  // eps * max|c|; 4 * sqrt(n + m) of them is far above what a path really accumulates.
  const W tol = W(4) * std::sqrt(static_cast<W>(n + m)) * std::numeric_limits<W>::epsilon() * cmax * scale;

  TransportSimplex<W> simplex(n, m, c.data(), qa.data(), qb.data(), tol);
  simplex.run();

  const W unit = mass / static_cast<W>(kTransportMassUnits);  // mass of one flow unit
  if (plan) std::fill(plan, plan + nm, T(0));
  W total = 0;
  simplex.for_each_basic([&](std::int64_t i, std::int64_t j, std::int64_t f) {
    if (f == 0) return;
    const W p = static_cast<W>(f) * unit;
    total += p * static_cast<W>(cost[i * m + j]);
    if (plan) plan[i * m + j] = static_cast<T>(p);
  });
  return total;
}

}  // namespace detail

/// Exact linear assignment: the permutation σ minimising Σ_i cost[i*n + σ(i)], by the O(n³)
/// shortest augmenting path method with row and column potentials (the Hungarian method in the
/// Jonker–Volgenant form: one Dijkstra-like sweep over the columns per row, R. Jonker & A.
/// Volgenant, Computing 38, 1987).
///
/// - `cost`: n×n, row-major, host memory; any finite values (negative, tied, huge: costs above
///   max(T)/(8(n+1)) are scaled by an exact power of two internally, so the potentials cannot
///   overflow).
/// - `col_for_row`: if not null, receives σ (n entries, a permutation of 0..n-1).
/// - Returns Σ_i cost[i, σ(i)], summed in at least double precision. n == 0 returns 0.
/// - Exactness: σ is optimal up to ties within rounding of the potentials (a few eps * max|c|).
///   Deterministic: the same input gives the same σ.
/// - Complexity: O(n³) time, O(n²) extra memory (a scaled copy of the costs in double for float).
/// - Throws std::invalid_argument for n < 0, a null `cost` with n > 0, or a NaN or Inf cost (the
///   message says which entry).
template <class T>
T assignment_min_cost(std::int64_t n, const T* cost, std::int64_t* col_for_row) {
  static_assert(std::is_floating_point_v<T>, "assignment_min_cost: T must be a floating-point type");
  using W = detail::transport_work_t<T>;
  constexpr const char* fn = "assignment_min_cost";
  if (n < 0) detail::transport_throw(fn, "n must be nonnegative");
  if (n == 0) return T(0);
  if (cost == nullptr) detail::transport_throw(fn, "`cost` is null");
  const W cmax = detail::checked_max_abs_cost<W>(fn, n * n, cost);
  if (n == 1) {
    if (col_for_row) col_for_row[0] = 0;
    return cost[0];
  }
  const W scale = detail::overflow_guard_scale(cmax, n);
  const auto N = static_cast<std::size_t>(n);
  std::vector<W> c(N * N);
  for (std::size_t k = 0; k < N * N; ++k) c[k] = static_cast<W>(cost[k]) * scale;

  // 1-based rows and columns; column 0 is the virtual column holding the row being inserted.
  const W inf = std::numeric_limits<W>::infinity();
  std::vector<W> u(N + 1, W(0)), v(N + 1, W(0)), minv(N + 1);
  std::vector<std::size_t> row_of(N + 1, 0), way(N + 1, 0);
  std::vector<char> used(N + 1);
  for (std::size_t i = 1; i <= N; ++i) {
    row_of[0] = i;
    std::size_t j0 = 0;
    std::fill(minv.begin(), minv.end(), inf);
    std::fill(used.begin(), used.end(), 0);
    do {  // grow a shortest-path tree over the columns until it reaches a free column
      used[j0] = 1;
      const std::size_t i0 = row_of[j0];
      const W* ci = c.data() + (i0 - 1) * N;
      const W ui = u[i0];
      W delta = inf;
      std::size_t j1 = 0;
      for (std::size_t j = 1; j <= N; ++j) {
        if (used[j]) continue;
        const W cur = ci[j - 1] - ui - v[j];
        if (cur < minv[j]) {
          minv[j] = cur;
          way[j] = j0;
        }
        if (minv[j] < delta || j1 == 0) {
          delta = minv[j];
          j1 = j;
        }
      }
      for (std::size_t j = 0; j <= N; ++j) {
        if (used[j]) {
          u[row_of[j]] += delta;
          v[j] -= delta;
        } else {
          minv[j] -= delta;
        }
      }
      j0 = j1;
    } while (row_of[j0] != 0);
    do {  // augment along the path
      const std::size_t j1 = way[j0];
      row_of[j0] = row_of[j1];
      j0 = j1;
    } while (j0 != 0);
  }
  W total = 0;
  for (std::size_t j = 1; j <= N; ++j) {
    const std::size_t i = row_of[j] - 1;
    if (col_for_row) col_for_row[i] = static_cast<std::int64_t>(j - 1);
    total += static_cast<W>(cost[i * N + (j - 1)]);
  }
  return static_cast<T>(total);
}

/// Exact transportation problem: min Σ_ij P_ij cost[i*m + j] over P ≥ 0 (n×m) with row sums
/// a_i·M/Σa and column sums b_j·M/Σb, where M = (Σa + Σb)/2. Both marginals are renormalised to
/// the same total mass M, so weights that are meant to sum to 1 but differ by rounding (float
/// weights summing to 1 ± 1e-7) are solved as intended instead of being infeasible.
///
/// - `a` (n), `b` (m): finite, nonnegative weights with positive totals; zero weights allowed.
/// - `cost`: n×m, row-major; finite values of any sign.
/// - `plan`: if not null, receives the optimal P (n×m, row-major). It is a vertex of the
///   transportation polytope: at most n + m - 1 nonzero entries.
/// - Returns Σ P_ij cost_ij (summed in at least double precision) for that plan, i.e. scaled by
///   the common mass M (M = 1 for probability weights).
/// - Method: primal network simplex with a strongly feasible spanning tree (Cunningham's rule),
///   so it terminates on degenerate problems such as uniform 1/n vs 1/m. The marginals are first
///   quantised to multiples of M·2^-62 (finer than double rounding), which makes flows exact
///   integers: feasibility holds to rounding of the output and degeneracy is detected exactly. The
///   potentials are floating-point; a reduced cost counts as negative below
///   -4·sqrt(n+m)·eps·max|c|, which bounds the suboptimality by that times M.
/// - Deterministic. Typical time for n = m = 512 is tens of milliseconds (each pivot is O(n + m)
///   plus block pricing of about sqrt(n·m) arcs); O(n·m) memory.
/// - Throws std::invalid_argument for n or m ≤ 0, null pointers, negative, NaN or Inf weights, a
///   zero total mass, or a NaN or Inf cost (the message names the argument and the entry).
template <class T>
T transport_min_cost(std::int64_t n, const T* a, std::int64_t m, const T* b, const T* cost, T* plan) {
  static_assert(std::is_floating_point_v<T>, "transport_min_cost: T must be a floating-point type");
  return static_cast<T>(detail::transport_solve("transport_min_cost", n, a, m, b, cost, plan, nullptr));
}

/// Squared 2-Wasserstein distance between the discrete measures Σ wx_i δ(x_i) and Σ wy_j δ(y_j)
/// in the complex plane (the DSA score between two eigenvalue sets): the optimal transport cost
/// with c_ij = |x_i − y_j|², computed as (Re diff)² + (Im diff)² in T.
///
/// - `x` (n points), `y` (m points): finite. `wx`, `wy`: weights (n and m entries), or null for
///   uniform weights. Weights are normalised to probability measures, so their scale is irrelevant.
/// - Uniform weights with n == m use assignment_min_cost / n (exact, O(n³)); everything else uses
///   transport_min_cost (divided by the common mass).
/// - Identical sets give exactly 0.
/// - Throws std::invalid_argument for n or m ≤ 0, null points, a non-finite point or cost, and the
///   weight errors of transport_min_cost.
template <class T>
T wasserstein2_squared(const std::complex<T>* x, std::int64_t n, const std::complex<T>* y, std::int64_t m,
                       const T* wx = nullptr, const T* wy = nullptr) {
  static_assert(std::is_floating_point_v<T>, "wasserstein2_squared: T must be a floating-point type");
  using W = detail::transport_work_t<T>;
  constexpr const char* fn = "wasserstein2_squared";
  if (n <= 0 || m <= 0) detail::transport_throw(fn, "both point sets must be nonempty");
  if (x == nullptr || y == nullptr) detail::transport_throw(fn, "a point set is null");
  for (std::int64_t i = 0; i < n; ++i)
    if (!std::isfinite(x[i].real()) || !std::isfinite(x[i].imag()))
      detail::transport_throw(fn, "`x` contains NaN or Inf (entry " + std::to_string(i) + ")");
  for (std::int64_t j = 0; j < m; ++j)
    if (!std::isfinite(y[j].real()) || !std::isfinite(y[j].imag()))
      detail::transport_throw(fn, "`y` contains NaN or Inf (entry " + std::to_string(j) + ")");
  const auto is_uniform = [](std::int64_t k, const T* w) {
    if (w == nullptr) return true;
    if (!(w[0] > T(0)) || !std::isfinite(w[0])) return false;  // let the solver report it
    for (std::int64_t i = 1; i < k; ++i)
      if (w[i] != w[0]) return false;
    return true;
  };
  std::vector<T> c(static_cast<std::size_t>(n * m));
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = 0; j < m; ++j) {
      const T dr = x[i].real() - y[j].real();
      const T di = x[i].imag() - y[j].imag();
      c[static_cast<std::size_t>(i * m + j)] = dr * dr + di * di;
    }
  if (n == m && is_uniform(n, wx) && is_uniform(m, wy)) {
    const W total = static_cast<W>(assignment_min_cost<T>(n, c.data(), nullptr));
    return static_cast<T>(total / static_cast<W>(n));
  }
  std::vector<T> ones;
  if (wx == nullptr || wy == nullptr) ones.assign(static_cast<std::size_t>(std::max(n, m)), T(1));
  W mass = 1;
  const W total = detail::transport_solve(fn, n, wx ? wx : ones.data(), m, wy ? wy : ones.data(),
                                          c.data(), static_cast<T*>(nullptr), &mass);
  return static_cast<T>(total / mass);
}

/// The DSA reference package's score for operators of different sizes: the smaller point set is
/// padded with zeros (points at the origin) up to max(n, m) points, then both get uniform weights
/// and the score is wasserstein2_squared of the padded sets (an assignment problem). Equals
/// wasserstein2_squared when n == m.
///
/// Throws std::invalid_argument when both sets are empty, for null points with a positive count,
/// and for non-finite points.
template <class T>
T wasserstein2_squared_padded(const std::complex<T>* x, std::int64_t n, const std::complex<T>* y,
                              std::int64_t m) {
  constexpr const char* fn = "wasserstein2_squared_padded";
  if (n < 0 || m < 0) detail::transport_throw(fn, "n and m must be nonnegative");
  if (n == 0 && m == 0) detail::transport_throw(fn, "both point sets are empty");
  if ((n > 0 && x == nullptr) || (m > 0 && y == nullptr)) detail::transport_throw(fn, "a point set is null");
  const std::int64_t k = std::max(n, m);
  std::vector<std::complex<T>> xp(static_cast<std::size_t>(k)), yp(static_cast<std::size_t>(k));
  std::copy(x, x + n, xp.begin());
  std::copy(y, y + m, yp.begin());
  return wasserstein2_squared<T>(xp.data(), k, yp.data(), k);
}

}  // namespace dynx::math
