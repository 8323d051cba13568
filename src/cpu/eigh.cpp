// Batched symmetric eigensolver on the CPU: LAPACK syevd (divide and conquer) per matrix.

#include "cpu/cpu.hpp"
#include "cpu/lapack.hpp"

#include "core/workspace.hpp"

#include <algorithm>

namespace dynx::cpu {

template <class T>
void eigh(Context& ctx, const detail::EighArgs& g) {
  constexpr const char* op = "eigh_batched";
  const int n = to_lapack_int(g.n, op, "n");
  const bool vectors = !g.v.empty();
  const char jobz = vectors ? 'V' : 'N';
  const char uplo = g.uplo == Uplo::lower ? 'L' : 'U';

  T qw{};
  lapack::idx qiw = 0;
  lapack::syevd(jobz, uplo, n, nullptr, n, nullptr, &qw, -1, &qiw, -1);
  const lapack::idx lwork = lapack::work_size(qw);
  const lapack::idx liwork = std::max<lapack::idx>(qiw, 1);
  detail::WorkspaceLayout layout;
  const auto off_a = layout.add<T>(static_cast<std::size_t>(n) * n);
  const auto off_w = layout.add<T>(n);
  const auto off_work = layout.add<T>(static_cast<std::size_t>(lwork));
  const auto off_iwork = layout.add<lapack::idx>(static_cast<std::size_t>(liwork));
  const std::size_t per = layout.bytes();
  const double flops = 4.0 * double(g.n) * double(g.n) * double(g.n);
  const int threads = loop_threads(ctx.num_threads(), g.count, flops);
  char* ws = static_cast<char*>(ctx.workspace(per * threads));

  for_each_matrix(ctx.num_threads(), g.count, flops, [&](std::int64_t i, int t) {
    const T* ai = static_cast<const T*>(g.a.data) + i * g.a.stride;
    if (!triangle_finite(ai, n, g.a.ld, g.uplo)) {
      set_status(g.info, i, MatrixStatus::non_finite);
      fill_nan<T>(g.w, i);
      fill_nan<T>(g.v, i);
      return;
    }
    void* base = ws + static_cast<std::size_t>(t) * per;
    T* acopy = detail::at_offset<T>(base, off_a);
    T* w = detail::at_offset<T>(base, off_w);
    copy_matrix(ai, g.a.ld, acopy, n, n, n);
    const lapack::idx info =
        lapack::syevd(jobz, uplo, n, acopy, n, w, detail::at_offset<T>(base, off_work), lwork,
                      detail::at_offset<lapack::idx>(base, off_iwork), liwork);
    if (info != 0) {
      set_status(g.info, i, MatrixStatus::not_converged);
      fill_nan<T>(g.w, i);
      fill_nan<T>(g.v, i);
      return;
    }
    T* wo = static_cast<T*>(g.w.data) + i * g.w.stride;
    for (int j = 0; j < n; ++j) wo[j * g.w.inc] = w[j];
    if (vectors) copy_matrix(acopy, n, static_cast<T*>(g.v.data) + i * g.v.stride, g.v.ld, n, n);
  });
}

template void eigh<float>(Context&, const detail::EighArgs&);
template void eigh<double>(Context&, const detail::EighArgs&);

}  // namespace dynx::cpu
