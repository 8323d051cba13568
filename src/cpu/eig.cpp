// Batched general (non-symmetric) eigensolver on the CPU: LAPACK geev per matrix, with the real
// packed eigenvector format unpacked into complex columns.

#include "cpu/cpu.hpp"
#include "cpu/lapack.hpp"

#include "core/workspace.hpp"

#include <complex>

namespace dynx::cpu {

template <class T>
void eig(Context& ctx, const detail::EigArgs& g) {
  using C = std::complex<T>;
  constexpr const char* op = "eig_batched";
  const int n = to_lapack_int(g.n, op, "n");
  const bool vectors = !g.v.empty();
  const char jobvr = vectors ? 'V' : 'N';

  T qw{};
  lapack::geev(jobvr, n, nullptr, n, nullptr, nullptr, nullptr, n, &qw, -1);
  const lapack::idx lwork = lapack::work_size(qw);
  detail::WorkspaceLayout layout;
  const auto off_a = layout.add<T>(static_cast<std::size_t>(n) * n);
  const auto off_wr = layout.add<T>(n);
  const auto off_wi = layout.add<T>(n);
  const auto off_vr = layout.add<T>(vectors ? static_cast<std::size_t>(n) * n : 1);
  const auto off_work = layout.add<T>(static_cast<std::size_t>(lwork));
  const std::size_t per = layout.bytes();
  const double flops = 10.0 * double(g.n) * double(g.n) * double(g.n);
  const int threads = loop_threads(ctx.num_threads(), g.count, flops);
  char* ws = static_cast<char*>(ctx.workspace(per * threads));

  for_each_matrix(ctx.num_threads(), g.count, flops, [&](std::int64_t i, int t) {
    const T* ai = static_cast<const T*>(g.a.data) + i * g.a.stride;
    C* wo = static_cast<C*>(g.w.data) + i * g.w.stride;
    C* vo = vectors ? static_cast<C*>(g.v.data) + i * g.v.stride : nullptr;
    if (!all_finite(ai, n, n, g.a.ld)) {
      set_status(g.info, i, MatrixStatus::non_finite);
      fill_nan<C>(g.w, i);
      fill_nan<C>(g.v, i);
      return;
    }
    void* base = ws + static_cast<std::size_t>(t) * per;
    T* acopy = detail::at_offset<T>(base, off_a);
    T* wr = detail::at_offset<T>(base, off_wr);
    T* wi = detail::at_offset<T>(base, off_wi);
    T* vr = detail::at_offset<T>(base, off_vr);
    copy_matrix(ai, g.a.ld, acopy, n, n, n);
    const lapack::idx info =
        lapack::geev(jobvr, n, acopy, n, wr, wi, vr, n, detail::at_offset<T>(base, off_work), lwork);
    if (info != 0) {
      set_status(g.info, i, MatrixStatus::not_converged);
      fill_nan<C>(g.w, i);
      fill_nan<C>(g.v, i);
      return;
    }
    for (int j = 0; j < n; ++j) wo[j * g.w.inc] = C(wr[j], wi[j]);
    if (!vectors) return;
    // geev packs a complex pair (λ_j, λ_{j+1} = conj λ_j) as columns j (real part) and j+1
    // (imaginary part) of VR.
    for (int j = 0; j < n; ++j) {
      C* col = vo + static_cast<std::int64_t>(j) * g.v.ld;
      if (wi[j] == T(0)) {
        for (int r = 0; r < n; ++r) col[r] = C(vr[j * n + r], T(0));
      } else {
        C* next = col + g.v.ld;
        for (int r = 0; r < n; ++r) {
          const T re = vr[j * n + r], im = vr[(j + 1) * n + r];
          col[r] = C(re, im);
          next[r] = C(re, -im);
        }
        ++j;
      }
    }
  });
}

template void eig<float>(Context&, const detail::EigArgs&);
template void eig<double>(Context&, const detail::EigArgs&);

}  // namespace dynx::cpu
