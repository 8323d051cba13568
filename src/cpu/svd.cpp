// Batched thin SVD on the CPU: LAPACK gesdd (divide and conquer) per matrix, falling back to gesvd
// (QR iteration) for a matrix where gesdd does not converge; OpenMP over the batch.

#include "cpu/cpu.hpp"
#include "cpu/lapack.hpp"

#include "core/workspace.hpp"

#include <algorithm>
#include <vector>

namespace dynx::cpu {
namespace {

// Scratch for one matrix: a copy of A, s, and the LAPACK work arrays sized by workspace queries.
template <class T>
struct SvdPlan {
  int m, n, k;
  bool vectors;
  SvdAlgorithm algo;
  lapack::idx lwork_gesdd = 1, lwork_gesvd = 1;
  std::size_t off_a, off_s, off_work, off_iwork;
  std::size_t bytes;

  SvdPlan(int m_, int n_, bool vectors_, SvdAlgorithm algo_)
      : m(m_), n(n_), k(std::min(m_, n_)), vectors(vectors_), algo(algo_) {
    T q{};
    int iw = 0;
    const char job = vectors ? 'S' : 'N';
    // Workspace queries (lwork = -1) need no real data.
    if (algo == SvdAlgorithm::divide_and_conquer) {
      lapack::gesdd(job, m, n, nullptr, m, nullptr, nullptr, m, nullptr, k, &q, -1, &iw);
      lwork_gesdd = lapack::work_size(q);
    }
    lapack::gesvd(job, job, m, n, nullptr, m, nullptr, nullptr, m, nullptr, k, &q, -1);
    lwork_gesvd = lapack::work_size(q);
    detail::WorkspaceLayout layout;
    off_a = layout.add<T>(static_cast<std::size_t>(m) * n);
    off_s = layout.add<T>(k);
    off_work = layout.add<T>(static_cast<std::size_t>(std::max(lwork_gesdd, lwork_gesvd)));
    off_iwork = layout.add<lapack::idx>(8 * static_cast<std::size_t>(k));
    bytes = layout.bytes();
  }
};

}  // namespace

template <class T>
void svd(Context& ctx, const detail::SvdArgs& g) {
  constexpr const char* op = "svd_batched";
  const int m = to_lapack_int(g.m, op, "m"), n = to_lapack_int(g.n, op, "n");
  const bool vectors = !g.u.empty();
  if (vectors) {
    to_lapack_int(g.u.ld, op, "u.ld");
    to_lapack_int(g.vt.ld, op, "vt.ld");
  }
  const SvdPlan<T> plan(m, n, vectors, g.algorithm);
  const double flops = 12.0 * double(g.m) * double(g.n) * double(std::min(g.m, g.n));
  const int threads = loop_threads(ctx.num_threads(), g.count, flops);
  char* ws = static_cast<char*>(ctx.workspace(plan.bytes * threads));

  const T* a = static_cast<const T*>(g.a.data);
  T* s = static_cast<T*>(g.s.data);
  T* u = static_cast<T*>(g.u.data);
  T* vt = static_cast<T*>(g.vt.data);
  const char job = vectors ? 'S' : 'N';
  const int k = plan.k;

  for_each_matrix(ctx.num_threads(), g.count, flops, [&](std::int64_t i, int t) {
    const T* ai = a + i * g.a.stride;
    if (!all_finite(ai, m, n, g.a.ld)) {
      set_status(g.info, i, MatrixStatus::non_finite);
      fill_nan<T>(g.s, i);
      fill_nan<T>(g.u, i);
      fill_nan<T>(g.vt, i);
      return;
    }
    void* base = ws + static_cast<std::size_t>(t) * plan.bytes;
    T* acopy = detail::at_offset<T>(base, plan.off_a);
    T* si = detail::at_offset<T>(base, plan.off_s);
    T* work = detail::at_offset<T>(base, plan.off_work);
    auto* iwork = detail::at_offset<lapack::idx>(base, plan.off_iwork);
    T* ui = vectors ? u + i * g.u.stride : nullptr;
    T* vti = vectors ? vt + i * g.vt.stride : nullptr;
    const int ldu = vectors ? static_cast<int>(g.u.ld) : 1;
    const int ldvt = vectors ? static_cast<int>(g.vt.ld) : 1;

    lapack::idx info = 1;
    if (plan.algo == SvdAlgorithm::divide_and_conquer) {
      copy_matrix(ai, g.a.ld, acopy, m, m, n);
      info = lapack::gesdd(job, m, n, acopy, m, si, ui, ldu, vti, ldvt, work, plan.lwork_gesdd, iwork);
    }
    if (info != 0) {  // qr_iteration requested, or gesdd failed to converge: QR iteration
      copy_matrix(ai, g.a.ld, acopy, m, m, n);
      info = lapack::gesvd(job, job, m, n, acopy, m, si, ui, ldu, vti, ldvt, work, plan.lwork_gesvd);
    }
    if (info != 0) {
      set_status(g.info, i, MatrixStatus::not_converged);
      fill_nan<T>(g.s, i);
      fill_nan<T>(g.u, i);
      fill_nan<T>(g.vt, i);
      return;
    }
    T* so = s + i * g.s.stride;
    for (int j = 0; j < k; ++j) so[j * g.s.inc] = si[j];
  });
}

template void svd<float>(Context&, const detail::SvdArgs&);
template void svd<double>(Context&, const detail::SvdArgs&);

}  // namespace dynx::cpu
