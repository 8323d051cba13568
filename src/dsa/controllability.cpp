// Comparisons of driven systems (spec §7.4): the joint controllability Procrustes of InputDSA with
// its state and control components, and the input (B-only) score. Everything is closed form
// (one SVD per pair) and batched over pairs with the backend's GEMM, SVD and element-wise ops.

#include "dsa/common.hpp"

#include <dynx/dsa.hpp>
#include <dynx/status.hpp>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

namespace dynx {
namespace {

/// A packed host copy of a view (any ld/stride, on any device), checked for NaN/Inf.
template <class T>
std::vector<T> gather(Context& ctx, MatrixBatch<const T> v, const char* op, const char* name) {
  DYNX_EXPECTS(v.device == ctx.device(),
               fmt::format("{}: `{}` must be on the context's device", op, name));
  std::vector<T> h(std::size_t(v.rows * v.cols * v.count));
  for (std::int64_t k = 0; k < v.count; ++k)
    for (std::int64_t j = 0; j < v.cols; ++j)
      copy_bytes(ctx, h.data() + (k * v.cols + j) * v.rows, Device::cpu(),
                 v.data + k * v.stride + j * v.ld, v.device, std::size_t(v.rows) * sizeof(T));
  ctx.synchronize();
  for (std::size_t e = 0; e < h.size(); ++e)
    DYNX_EXPECTS(std::isfinite(h[e]),
                 fmt::format("{}: `{}` holds a non-finite value (matrix {})", op, name,
                             std::int64_t(e) / (v.rows * v.cols)));
  return h;
}

/// Block j (columns [j·w, (j+1)·w)) of a batch of n × (blocks·w) matrices.
template <class T>
detail::MatRef block(dsa::DeviceBatch<T>& k, std::int64_t j, std::int64_t w) {
  return {k.ptr(0) + j * w * k.rows, k.rows, w, k.rows, k.stride(), k.count, dtype_v<T>};
}

/// Per pair, ‖X − Y‖ (euclidean) or the angle 2·asin(‖X/‖X‖ − Y/‖Y‖‖ / 2) (angular), for
/// batches of equally shaped matrices; `d` is scratch of their shape. Host results.
template <class T>
std::vector<T> score(Context& ctx, const detail::MatRef& x, const detail::MatRef& y,
                     dsa::DeviceBatch<T>& d, DsaScore s, const char* op, const char* what) {
  const std::int64_t count = x.count;
  dsa::Scalars<T> al(ctx, count, T(1)), be(ctx, count, T(-1)), nx(ctx, count), ny(ctx, count);
  if (s == DsaScore::angular) {
    dsa::dot<T>(ctx, x, x, nx.d.data());
    dsa::dot<T>(ctx, y, y, ny.d.data());
    nx.pull(ctx);
    ny.pull(ctx);
    for (std::int64_t k = 0; k < count; ++k) {
      const std::size_t q = std::size_t(k);
      DYNX_EXPECTS(nx.h[q] > 0 && ny.h[q] > 0,
                   fmt::format("{}: the {} of pair {} is the zero matrix (its angle is undefined)",
                               op, what, k));
      al.h[q] = T(1) / std::sqrt(nx.h[q]);
      be.h[q] = T(-1) / std::sqrt(ny.h[q]);
    }
  }
  dsa::Scalars<T> zero(ctx, count, T(0)), one(ctx, count, T(1));  // alive until the sync below
  dsa::axpby<T>(ctx, be.push(ctx), y, zero.push(ctx), d.ref());
  dsa::axpby<T>(ctx, al.push(ctx), x, one.push(ctx), d.ref());
  dsa::Scalars<T> e2(ctx, count);
  dsa::dot<T>(ctx, d.ref(), d.ref(), e2.d.data());
  e2.pull(ctx);
  std::vector<T> out(static_cast<std::size_t>(count));
  for (std::int64_t k = 0; k < count; ++k) {
    const T e = std::sqrt(std::max(e2.h[std::size_t(k)], T(0)));
    out[std::size_t(k)] = s == DsaScore::angular ? T(2) * std::asin(std::min(e / T(2), T(1))) : e;
  }
  return out;
}

/// Q = U Vᵀ, the orthogonal polar factor of each n × n matrix of `m` (through its SVD).
template <class T>
void polar_factor(Context& ctx, const dsa::DeviceBatch<T>& m, dsa::DeviceBatch<T>& q,
                  const char* op) {
  const std::int64_t n = m.rows, count = m.count;
  dsa::DeviceBatch<T> u(ctx, n, n, count), vt(ctx, n, n, count);
  Buffer<T> s(std::size_t(n * count), ctx.device());
  BatchStatus st;
  svd_batched<T>(ctx, m.cview(), VectorBatch<T>(s.data(), n, count, ctx.device()), u.view(),
                 vt.view(), &st);
  for (auto k : st.failed_indices())
    DYNX_EXPECTS(false, fmt::format("{}: the SVD of pair {} failed ({})", op, k, to_string(st.at(k))));
  dsa::gemm<T>(ctx, Op::n, Op::n, T(1), u.ref(), vt.ref(), T(0), q.ref());
}

void check_score(DsaScore s, const char* op) {
  DYNX_EXPECTS(s == DsaScore::euclidean || s == DsaScore::angular,
               fmt::format("{}: score must be euclidean or angular", op));
}

}  // namespace

template <class T>
void controllability_distance(Context& ctx, MatrixBatch<const T> a_x, MatrixBatch<const T> b_x,
                              MatrixBatch<const T> a_y, MatrixBatch<const T> b_y, T* joint,
                              T* state, T* control, MatrixBatch<T> c,
                              const ControllabilityOptions& o) {
  constexpr const char* op = "controllability_distance";
  check_score(o.score, op);
  DYNX_EXPECTS(o.horizon >= 0, fmt::format("{}: horizon must be >= 0", op));
  const std::int64_t n = a_x.rows, m = b_x.cols, count = a_x.count;
  DYNX_EXPECTS(a_x.cols == n && a_y.rows == a_y.cols,
               fmt::format("{}: the state matrices must be square", op));
  DYNX_EXPECTS(a_y.rows == n,
               fmt::format("{}: the systems differ in state dimension ({} and {}); InputDSA "
                           "needs equal dimensions (compare the states by Wasserstein instead)",
                           op, n, a_y.rows));
  DYNX_EXPECTS(b_x.rows == n && b_y.rows == n,
               fmt::format("{}: the input matrices must have n = {} rows", op, n));
  DYNX_EXPECTS(b_y.cols == m,
               fmt::format("{}: the systems differ in the number of inputs ({} and {})", op, m,
                           b_y.cols));
  DYNX_EXPECTS(n >= 1 && m >= 1, fmt::format("{}: empty systems", op));
  for (auto cnt : {b_x.count, a_y.count, b_y.count})
    DYNX_EXPECTS(cnt == count, fmt::format("{}: the four batches differ in size", op));
  if (c.data)
    DYNX_EXPECTS(c.rows == n && c.cols == n && c.count == count && c.device == ctx.device(),
                 fmt::format("{}: `c` must be n x n per pair on the context's device", op));
  if (count == 0) return;

  const std::vector<T> hax = gather(ctx, a_x, op, "a_x"), hbx = gather(ctx, b_x, op, "b_x");
  const std::vector<T> hay = gather(ctx, a_y, op, "a_y"), hby = gather(ctx, b_y, op, "b_y");
  dsa::DeviceBatch<T> ax(ctx, n, n, count), ay(ctx, n, n, count);
  dsa::upload(ctx, ax.buf.data(), hax.data(), hax.size());
  dsa::upload(ctx, ay.buf.data(), hay.data(), hay.size());

  // K = [B, AB, AᵀB, …] or [B, AB, …, A^{h−1}B]: each block one batched GEMM from an earlier one.
  const bool ref = o.matrix == ControllabilityMatrix::reference;
  const std::int64_t blocks = ref ? 2 * n - 1 : (o.horizon > 0 ? o.horizon : n);
  auto build = [&](const std::vector<T>& hb, dsa::DeviceBatch<T>& a) {
    dsa::DeviceBatch<T> k(ctx, n, blocks * m, count);
    for (std::int64_t q = 0; q < count; ++q)
      dsa::upload(ctx, k.ptr(q), hb.data() + q * n * m, std::size_t(n * m));
    for (std::int64_t j = 1; j < blocks; ++j) {
      if (ref) {  // odd blocks A·(previous odd), even blocks Aᵀ·(previous even); both from B at j = 1, 2
        const std::int64_t prev = j <= 2 ? 0 : j - 2;
        dsa::gemm<T>(ctx, j % 2 ? Op::n : Op::t, Op::n, T(1), a.ref(), block(k, prev, m), T(0),
                     block(k, j, m));
      } else {
        dsa::gemm<T>(ctx, Op::n, Op::n, T(1), a.ref(), block(k, j - 1, m), T(0), block(k, j, m));
      }
    }
    return k;
  };
  dsa::DeviceBatch<T> kx = build(hbx, ax), ky = build(hby, ay);

  // C = polar factor of K_y K_xᵀ.
  dsa::DeviceBatch<T> mm(ctx, n, n, count), cc(ctx, n, n, count);
  dsa::gemm<T>(ctx, Op::n, Op::t, T(1), ky.ref(), kx.ref(), T(0), mm.ref());
  polar_factor(ctx, mm, cc, op);

  if (joint) {
    dsa::DeviceBatch<T> ck(ctx, n, blocks * m, count), d(ctx, n, blocks * m, count);
    std::vector<T> v;
    if (o.reference_compat) {  // ‖K_x − C K_y‖
      dsa::gemm<T>(ctx, Op::n, Op::n, T(1), cc.ref(), ky.ref(), T(0), ck.ref());
      v = score(ctx, kx.ref(), ck.ref(), d, o.score, op, "controllability matrix");
    } else {  // ‖C K_x − K_y‖
      dsa::gemm<T>(ctx, Op::n, Op::n, T(1), cc.ref(), kx.ref(), T(0), ck.ref());
      v = score(ctx, ck.ref(), ky.ref(), d, o.score, op, "controllability matrix");
    }
    std::copy(v.begin(), v.end(), joint);
  }
  if (state) {  // C A_x Cᵀ against A_y
    dsa::DeviceBatch<T> t(ctx, n, n, count), cac(ctx, n, n, count), d(ctx, n, n, count);
    dsa::gemm<T>(ctx, Op::n, Op::n, T(1), cc.ref(), ax.ref(), T(0), t.ref());
    dsa::gemm<T>(ctx, Op::n, Op::t, T(1), t.ref(), cc.ref(), T(0), cac.ref());
    const auto v = score(ctx, cac.ref(), ay.ref(), d, o.score, op, "state matrix");
    std::copy(v.begin(), v.end(), state);
  }
  if (control) {  // C B_x against B_y (block 0 of the K's)
    dsa::DeviceBatch<T> cb(ctx, n, m, count), d(ctx, n, m, count);
    dsa::gemm<T>(ctx, Op::n, Op::n, T(1), cc.ref(), block(kx, 0, m), T(0), cb.ref());
    const auto v = score(ctx, cb.ref(), block(ky, 0, m), d, o.score, op, "input matrix");
    std::copy(v.begin(), v.end(), control);
  }
  if (c.data)
    for (std::int64_t q = 0; q < count; ++q)
      for (std::int64_t j = 0; j < n; ++j)
        copy_bytes(ctx, c.data + q * c.stride + j * c.ld, c.device, cc.ptr(q) + j * n, ctx.device(),
                   std::size_t(n) * sizeof(T));
  ctx.synchronize();
}

template <class T>
void input_distance(Context& ctx, MatrixBatch<const T> b_x, MatrixBatch<const T> b_y, T* out,
                    DsaScore s) {
  constexpr const char* op = "input_distance";
  check_score(s, op);
  const std::int64_t n = b_x.rows, m = b_x.cols, count = b_x.count;
  DYNX_EXPECTS(b_y.rows == n && b_y.cols == m,
               fmt::format("{}: `b_y` is {}x{} but `b_x` is {}x{} (InputDSA needs equal state and "
                           "input dimensions)",
                           op, b_y.rows, b_y.cols, n, m));
  DYNX_EXPECTS(b_y.count == count, fmt::format("{}: `b_x` and `b_y` differ in batch size", op));
  DYNX_EXPECTS(n >= 1 && m >= 1, fmt::format("{}: empty input matrices", op));
  if (count == 0) return;
  const std::vector<T> hx = gather(ctx, b_x, op, "b_x"), hy = gather(ctx, b_y, op, "b_y");
  dsa::DeviceBatch<T> bx(ctx, n, m, count), by(ctx, n, m, count), mm(ctx, n, n, count),
      q(ctx, n, n, count), qb(ctx, n, m, count), d(ctx, n, m, count);
  dsa::upload(ctx, bx.buf.data(), hx.data(), hx.size());
  dsa::upload(ctx, by.buf.data(), hy.data(), hy.size());
  dsa::gemm<T>(ctx, Op::n, Op::t, T(1), bx.ref(), by.ref(), T(0), mm.ref());  // B_x B_yᵀ
  polar_factor(ctx, mm, q, op);
  dsa::gemm<T>(ctx, Op::n, Op::n, T(1), q.ref(), by.ref(), T(0), qb.ref());
  const auto v = score(ctx, bx.ref(), qb.ref(), d, s, op, "input matrix");
  std::copy(v.begin(), v.end(), out);
}

#define DYNX_INSTANTIATE(T)                                                                     \
  template DYNX_API void controllability_distance<T>(                                           \
      Context&, MatrixBatch<const T>, MatrixBatch<const T>, MatrixBatch<const T>,               \
      MatrixBatch<const T>, T*, T*, T*, MatrixBatch<T>, const ControllabilityOptions&);         \
  template DYNX_API void input_distance<T>(Context&, MatrixBatch<const T>, MatrixBatch<const T>, \
                                           T*, DsaScore);
DYNX_INSTANTIATE(float)
DYNX_INSTANTIATE(double)
#undef DYNX_INSTANTIATE

}  // namespace dynx
