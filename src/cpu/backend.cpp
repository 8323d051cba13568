// The CPU backend: host memory, and each batched operation dispatched on its scalar type to the
// typed implementation in its own file.

#include "cpu/cpu.hpp"

#include "core/check.hpp"

#include <dynx/error.hpp>

#include <cstdlib>
#include <cstring>
#include <new>

namespace dynx::cpu {
namespace {

class CpuState final : public detail::BackendState {
 public:
  void synchronize() override {}  // CPU work is complete when a call returns
};

template <template <class> class F, class Args>
void by_dtype(Context& ctx, const Args& args) {
  switch (args.dtype) {
    case Dtype::f32: F<float>{}(ctx, args); return;
    case Dtype::f64: F<double>{}(ctx, args); return;
    default: DYNX_UNSUPPORTED(fmt::format("cpu backend: dtype {} is not supported", dtype_name(args.dtype)));
  }
}

#define DYNX_CPU_OP(name)                                                        \
  template <class T>                                                             \
  struct Op_##name {                                                             \
    template <class Args>                                                        \
    void operator()(Context& ctx, const Args& a) const { name<T>(ctx, a); }      \
  };
DYNX_CPU_OP(gemm)
DYNX_CPU_OP(svd)
DYNX_CPU_OP(qr)
DYNX_CPU_OP(eigh)
DYNX_CPU_OP(eig)
DYNX_CPU_OP(solve)
DYNX_CPU_OP(inverse)
DYNX_CPU_OP(polar)
DYNX_CPU_OP(hankel_rows)
DYNX_CPU_OP(dot)
DYNX_CPU_OP(axpby)
DYNX_CPU_OP(adam)
DYNX_CPU_OP(lbfgs)
DYNX_CPU_OP(goom_convert)
DYNX_CPU_OP(lmme)
DYNX_CPU_OP(product_scan)
DYNX_CPU_OP(affine_scan)
DYNX_CPU_OP(qr_sweep)
DYNX_CPU_OP(selective_reset)
DYNX_CPU_OP(deer_residual)
DYNX_CPU_OP(deer_update)
DYNX_CPU_OP(deer_scale)
DYNX_CPU_OP(elk_scan)
#undef DYNX_CPU_OP

class CpuBackend final : public detail::Backend {
 public:
  const char* name() const noexcept override { return "cpu"; }
  int device_count() noexcept override { return 1; }
  std::unique_ptr<detail::BackendState> make_state(Device) override {
    return std::make_unique<CpuState>();
  }
  void* allocate(Device, std::size_t bytes) override {
    constexpr std::size_t kAlign = 256;  // Context::workspace promises 256
    void* p = std::aligned_alloc(kAlign, (bytes + kAlign - 1) / kAlign * kAlign);
    if (!p) throw std::bad_alloc();
    return p;
  }
  void deallocate(Device, void* ptr) noexcept override { std::free(ptr); }
  void copy(Context&, void* dst, const void* src, std::size_t bytes) override {
    std::memmove(dst, src, bytes);
  }
  void zero(Context&, void* dst, std::size_t bytes) override { std::memset(dst, 0, bytes); }

  void gemm_batched(Context& c, const detail::GemmArgs& a) override { by_dtype<Op_gemm>(c, a); }
  void svd_batched(Context& c, const detail::SvdArgs& a) override { by_dtype<Op_svd>(c, a); }
  void qr_batched(Context& c, const detail::QrArgs& a) override { by_dtype<Op_qr>(c, a); }
  void eigh_batched(Context& c, const detail::EighArgs& a) override { by_dtype<Op_eigh>(c, a); }
  void eig_batched(Context& c, const detail::EigArgs& a) override { by_dtype<Op_eig>(c, a); }
  void solve_batched(Context& c, const detail::SolveArgs& a) override { by_dtype<Op_solve>(c, a); }
  void inverse_batched(Context& c, const detail::InverseArgs& a) override {
    by_dtype<Op_inverse>(c, a);
  }
  void polar_batched(Context& c, const detail::PolarArgs& a) override { by_dtype<Op_polar>(c, a); }
  void hankel_rows(Context& c, const detail::HankelArgs& a) override {
    by_dtype<Op_hankel_rows>(c, a);
  }
  void dot_batched(Context& c, const detail::DotArgs& a) override { by_dtype<Op_dot>(c, a); }
  void axpby_batched(Context& c, const detail::AxpbyArgs& a) override { by_dtype<Op_axpby>(c, a); }
  void adam_batched(Context& c, const detail::AdamArgs& a) override { by_dtype<Op_adam>(c, a); }
  void lbfgs_direction(Context& c, const detail::LbfgsArgs& a) override {
    by_dtype<Op_lbfgs>(c, a);
  }
  void goom_convert(Context& c, const detail::GoomConvertArgs& a) override {
    by_dtype<Op_goom_convert>(c, a);
  }
  void log_matmul_exp(Context& c, const detail::LmmeArgs& a) override { by_dtype<Op_lmme>(c, a); }
  void product_scan(Context& c, const detail::ProductScanArgs& a) override {
    by_dtype<Op_product_scan>(c, a);
  }
  void affine_scan(Context& c, const detail::AffineScanArgs& a) override {
    by_dtype<Op_affine_scan>(c, a);
  }
  void qr_sweep(Context& c, const detail::QrSweepArgs& a) override { by_dtype<Op_qr_sweep>(c, a); }
  void selective_reset(Context& c, const detail::SelectiveResetArgs& a) override {
    by_dtype<Op_selective_reset>(c, a);
  }
  void deer_residual(Context& c, const detail::DeerResidualArgs& a) override { by_dtype<Op_deer_residual>(c, a); }
  void deer_update(Context& c, const detail::DeerUpdateArgs& a) override { by_dtype<Op_deer_update>(c, a); }
  void deer_scale(Context& c, const detail::DeerScaleArgs& a) override { by_dtype<Op_deer_scale>(c, a); }
  void elk_scan(Context& c, const detail::ElkScanArgs& a) override { by_dtype<Op_elk_scan>(c, a); }
};

}  // namespace

detail::Backend& backend() {
  static CpuBackend b;
  return b;
}

}  // namespace dynx::cpu
