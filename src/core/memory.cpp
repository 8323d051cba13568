#include <dynx/buffer.hpp>
#include <dynx/context.hpp>

#include "core/backend.hpp"
#include "core/check.hpp"
#include "core/log.hpp"

#include <cstring>

namespace dynx {
namespace detail {

void* allocate(Device device, std::size_t bytes) {
  return backend_for(device.kind()).allocate(device, bytes);
}

void deallocate(Device device, void* ptr) noexcept {
  if (!ptr) return;
  try {
    backend_for(device.kind()).deallocate(device, ptr);
  } catch (const std::exception& e) {
    log().error("deallocate on {} failed: {}", device.str(), e.what());
  }
}

}  // namespace detail

void copy_bytes(Context& ctx, void* dst, Device dst_device, const void* src, Device src_device,
                std::size_t bytes) {
  if (bytes == 0) return;
  DYNX_EXPECTS(dst != nullptr && src != nullptr,
               fmt::format("copy_bytes: null {} pointer for a copy of {} bytes",
                           dst ? "source" : "destination", bytes));
  if (dst_device.is_cpu() && src_device.is_cpu()) {
    if (ctx.device().is_cuda()) ctx.synchronize();  // host data may be produced by queued work
    std::memmove(dst, src, bytes);
    return;
  }
  // At least one side is a CUDA device: the CUDA backend copies (unified addressing decides the
  // direction), on ctx's stream when ctx is a CUDA context, otherwise synchronously.
  detail::backend_for(DeviceKind::cuda).copy(ctx, dst, src, bytes);
}

void zero_bytes(Context& ctx, void* dst, Device device, std::size_t bytes) {
  if (bytes == 0) return;
  DYNX_EXPECTS(dst != nullptr, "zero_bytes: null destination");
  if (device.is_cpu()) {
    if (ctx.device().is_cuda()) ctx.synchronize();
    std::memset(dst, 0, bytes);
    return;
  }
  detail::backend_for(DeviceKind::cuda).zero(ctx, dst, bytes);
}

}  // namespace dynx
