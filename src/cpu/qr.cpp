// Batched thin QR on the CPU: LAPACK geqrf, then orgqr for Q; OpenMP over the batch.

#include "cpu/cpu.hpp"
#include "cpu/lapack.hpp"

#include "core/workspace.hpp"

#include <algorithm>

namespace dynx::cpu {

template <class T>
void qr(Context& ctx, const detail::QrArgs& g) {
  constexpr const char* op = "qr_batched";
  const int m = to_lapack_int(g.m, op, "m"), n = to_lapack_int(g.n, op, "n");
  const int k = std::min(m, n);
  const bool want_q = !g.q.empty();

  T q1{}, q2{};
  lapack::geqrf(m, n, nullptr, m, nullptr, &q1, -1);
  lapack::idx lwork = lapack::work_size(q1);
  if (want_q) {
    lapack::orgqr(m, k, k, nullptr, m, nullptr, &q2, -1);
    lwork = std::max(lwork, lapack::work_size(q2));
  }
  detail::WorkspaceLayout layout;
  const auto off_a = layout.add<T>(static_cast<std::size_t>(m) * n);
  const auto off_tau = layout.add<T>(k);
  const auto off_work = layout.add<T>(static_cast<std::size_t>(lwork));
  const std::size_t per = layout.bytes();
  const double flops = 4.0 * double(g.m) * double(g.n) * double(std::min(g.m, g.n));
  const int threads = loop_threads(ctx.num_threads(), g.count, flops);
  char* ws = static_cast<char*>(ctx.workspace(per * threads));

  for_each_matrix(ctx.num_threads(), g.count, flops, [&](std::int64_t i, int t) {
    const T* ai = static_cast<const T*>(g.a.data) + i * g.a.stride;
    T* ri = static_cast<T*>(g.r.data) + i * g.r.stride;
    T* qi = want_q ? static_cast<T*>(g.q.data) + i * g.q.stride : nullptr;
    if (!all_finite(ai, m, n, g.a.ld)) {
      set_status(g.info, i, MatrixStatus::non_finite);
      fill_nan<T>(g.r, i);
      fill_nan<T>(g.q, i);
      return;
    }
    void* base = ws + static_cast<std::size_t>(t) * per;
    T* acopy = detail::at_offset<T>(base, off_a);
    T* tau = detail::at_offset<T>(base, off_tau);
    T* work = detail::at_offset<T>(base, off_work);
    copy_matrix(ai, g.a.ld, acopy, m, m, n);
    lapack::geqrf(m, n, acopy, m, tau, work, lwork);  // info < 0 only for bad arguments
    // R: the upper trapezoid of the first k rows.
    for (int j = 0; j < n; ++j)
      for (int r = 0; r < k; ++r) ri[j * g.r.ld + r] = r <= j ? acopy[j * m + r] : T(0);
    if (want_q) {
      lapack::orgqr(m, k, k, acopy, m, tau, work, lwork);
      copy_matrix(acopy, m, qi, g.q.ld, m, k);
    }
  });
}

template void qr<float>(Context&, const detail::QrArgs&);
template void qr<double>(Context&, const detail::QrArgs&);

}  // namespace dynx::cpu
