// Batched LU solve and inverse on the CPU: LAPACK getrf + getrs / getri per matrix.

#include "cpu/cpu.hpp"
#include "cpu/lapack.hpp"

#include "core/workspace.hpp"

namespace dynx::cpu {

template <class T>
void solve(Context& ctx, const detail::SolveArgs& g) {
  constexpr const char* op = "solve_batched";
  const int n = to_lapack_int(g.n, op, "n"), nrhs = to_lapack_int(g.nrhs, op, "nrhs");
  const int ldx = to_lapack_int(g.x.ld, op, "x.ld");
  detail::WorkspaceLayout layout;
  const auto off_a = layout.add<T>(static_cast<std::size_t>(n) * n);
  const auto off_piv = layout.add<lapack::idx>(n);
  const std::size_t per = layout.bytes();
  const double flops = double(g.n) * double(g.n) * (double(g.n) + 2.0 * double(g.nrhs));
  const int threads = loop_threads(ctx.num_threads(), g.count, flops);
  char* ws = static_cast<char*>(ctx.workspace(per * threads));

  for_each_matrix(ctx.num_threads(), g.count, flops, [&](std::int64_t i, int t) {
    const T* ai = static_cast<const T*>(g.a.data) + i * g.a.stride;
    const T* bi = static_cast<const T*>(g.b.data) + i * g.b.stride;
    T* xi = static_cast<T*>(g.x.data) + i * g.x.stride;
    if (!all_finite(ai, n, n, g.a.ld) || !all_finite(bi, n, nrhs, g.b.ld)) {
      set_status(g.info, i, MatrixStatus::non_finite);
      fill_nan<T>(g.x, i);
      return;
    }
    void* base = ws + static_cast<std::size_t>(t) * per;
    T* lu = detail::at_offset<T>(base, off_a);
    auto* piv = detail::at_offset<lapack::idx>(base, off_piv);
    copy_matrix(ai, g.a.ld, lu, n, n, n);
    if (xi != bi) copy_matrix(bi, g.b.ld, xi, g.x.ld, n, nrhs);
    if (lapack::getrf(n, n, lu, n, piv) != 0) {  // info > 0: U(info, info) is exactly zero
      set_status(g.info, i, MatrixStatus::singular);
      fill_nan<T>(g.x, i);
      return;
    }
    lapack::getrs(n, nrhs, lu, n, piv, xi, ldx);
  });
}

template <class T>
void inverse(Context& ctx, const detail::InverseArgs& g) {
  constexpr const char* op = "inverse_batched";
  const int n = to_lapack_int(g.n, op, "n");
  const int ldi = to_lapack_int(g.ainv.ld, op, "ainv.ld");
  T qw{};
  lapack::getri(n, nullptr, ldi, nullptr, &qw, -1);
  const lapack::idx lwork = lapack::work_size(qw);
  detail::WorkspaceLayout layout;
  const auto off_piv = layout.add<lapack::idx>(n);
  const auto off_work = layout.add<T>(static_cast<std::size_t>(lwork));
  const std::size_t per = layout.bytes();
  const double flops = 3.0 * double(g.n) * double(g.n) * double(g.n);
  const int threads = loop_threads(ctx.num_threads(), g.count, flops);
  char* ws = static_cast<char*>(ctx.workspace(per * threads));

  for_each_matrix(ctx.num_threads(), g.count, flops, [&](std::int64_t i, int t) {
    const T* ai = static_cast<const T*>(g.a.data) + i * g.a.stride;
    T* inv = static_cast<T*>(g.ainv.data) + i * g.ainv.stride;
    if (!all_finite(ai, n, n, g.a.ld)) {
      set_status(g.info, i, MatrixStatus::non_finite);
      fill_nan<T>(g.ainv, i);
      return;
    }
    void* base = ws + static_cast<std::size_t>(t) * per;
    auto* piv = detail::at_offset<lapack::idx>(base, off_piv);
    copy_matrix(ai, g.a.ld, inv, g.ainv.ld, n, n);
    if (lapack::getrf(n, n, inv, ldi, piv) != 0 ||
        lapack::getri(n, inv, ldi, piv, detail::at_offset<T>(base, off_work), lwork) != 0) {
      set_status(g.info, i, MatrixStatus::singular);
      fill_nan<T>(g.ainv, i);
    }
  });
}

template void solve<float>(Context&, const detail::SolveArgs&);
template void solve<double>(Context&, const detail::SolveArgs&);
template void inverse<float>(Context&, const detail::InverseArgs&);
template void inverse<double>(Context&, const detail::InverseArgs&);

}  // namespace dynx::cpu
