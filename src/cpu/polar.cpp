// Batched orthogonal polar factor on the CPU: Q = U Vᵀ from a thin SVD (gesdd, gesvd fallback).

#include "cpu/cpu.hpp"
#include "cpu/lapack.hpp"

#include "core/workspace.hpp"

#include <algorithm>

namespace dynx::cpu {

template <class T>
void polar(Context& ctx, const detail::PolarArgs& g) {
  constexpr const char* op = "polar_batched";
  const int m = to_lapack_int(g.m, op, "m"), n = to_lapack_int(g.n, op, "n");
  const int k = std::min(m, n);
  const int ldq = to_lapack_int(g.q.ld, op, "q.ld");
  const bool try_gesdd = g.svd_algorithm == SvdAlgorithm::divide_and_conquer;

  T q1{}, q2{};
  lapack::idx iw = 0;
  lapack::gesdd('S', m, n, nullptr, m, nullptr, nullptr, m, nullptr, k, &q1, -1, &iw);
  lapack::gesvd('S', 'S', m, n, nullptr, m, nullptr, nullptr, m, nullptr, k, &q2, -1);
  const lapack::idx lwork = std::max(lapack::work_size(q1), lapack::work_size(q2));
  detail::WorkspaceLayout layout;
  const auto off_a = layout.add<T>(static_cast<std::size_t>(m) * n);
  const auto off_s = layout.add<T>(k);
  const auto off_u = layout.add<T>(static_cast<std::size_t>(m) * k);
  const auto off_vt = layout.add<T>(static_cast<std::size_t>(k) * n);
  const auto off_work = layout.add<T>(static_cast<std::size_t>(lwork));
  const auto off_iwork = layout.add<lapack::idx>(8 * static_cast<std::size_t>(k));
  const std::size_t per = layout.bytes();
  const double flops = 12.0 * double(g.m) * double(g.n) * double(std::min(g.m, g.n));
  const int threads = loop_threads(ctx.num_threads(), g.count, flops);
  char* ws = static_cast<char*>(ctx.workspace(per * threads));

  for_each_matrix(ctx.num_threads(), g.count, flops, [&](std::int64_t i, int t) {
    const T* ai = static_cast<const T*>(g.a.data) + i * g.a.stride;
    T* qi = static_cast<T*>(g.q.data) + i * g.q.stride;
    if (!all_finite(ai, m, n, g.a.ld)) {
      set_status(g.info, i, MatrixStatus::non_finite);
      fill_nan<T>(g.q, i);
      return;
    }
    void* base = ws + static_cast<std::size_t>(t) * per;
    T* acopy = detail::at_offset<T>(base, off_a);
    T* s = detail::at_offset<T>(base, off_s);
    T* u = detail::at_offset<T>(base, off_u);
    T* vt = detail::at_offset<T>(base, off_vt);
    T* work = detail::at_offset<T>(base, off_work);
    lapack::idx info = 1;
    if (try_gesdd) {
      copy_matrix(ai, g.a.ld, acopy, m, m, n);
      info = lapack::gesdd('S', m, n, acopy, m, s, u, m, vt, k, work, lwork,
                           detail::at_offset<lapack::idx>(base, off_iwork));
    }
    if (info != 0) {
      copy_matrix(ai, g.a.ld, acopy, m, m, n);
      info = lapack::gesvd('S', 'S', m, n, acopy, m, s, u, m, vt, k, work, lwork);
    }
    if (info != 0) {
      set_status(g.info, i, MatrixStatus::not_converged);
      fill_nan<T>(g.q, i);
      return;
    }
    lapack::gemm(false, false, m, n, k, T(1), u, m, vt, k, T(0), qi, ldq);
  });
}

template void polar<float>(Context&, const detail::PolarArgs&);
template void polar<double>(Context&, const detail::PolarArgs&);

}  // namespace dynx::cpu
