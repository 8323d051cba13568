#include <dynx/context.hpp>
#include <dynx/error.hpp>

#include "core/backend.hpp"
#include "core/check.hpp"
#include "core/log.hpp"

#include <omp.h>

namespace dynx {

Context::Context(Device device) : impl_(std::make_shared<detail::ContextImpl>()) {
  impl_->device = device;
  impl_->backend = &detail::backend_for(device.kind());
  if (device.is_cuda()) {
    const int n = impl_->backend->device_count();
    DYNX_EXPECTS(device.index() >= 0 && device.index() < n,
                 fmt::format("Context: device {} does not exist ({} usable CUDA device(s))",
                             device.str(), n));
  }
  impl_->state = impl_->backend->make_state(device);
  impl_->num_threads = omp_get_max_threads();
}

Context::~Context() {
  if (!impl_) return;
  try {
    if (impl_->workspace) {
      if (impl_->state) impl_->state->synchronize();
      impl_->backend->deallocate(impl_->device, impl_->workspace);
    }
  } catch (const std::exception& e) {
    detail::log().error("Context: releasing the workspace failed: {}", e.what());
  }
}

Context::Context(Context&&) noexcept = default;
Context& Context::operator=(Context&&) noexcept = default;

Device Context::device() const noexcept { return impl_->device; }

void Context::synchronize() { impl_->state->synchronize(); }

void* Context::workspace(std::size_t bytes) {
  auto& im = *impl_;
  if (bytes <= im.workspace_bytes) return im.workspace;
  // Grow by at least 1.5x so that a sequence of slightly larger requests does not reallocate
  // each time. Work already enqueued may still use the old block: wait for it first.
  std::size_t grown = im.workspace_bytes + im.workspace_bytes / 2;
  if (grown < bytes) grown = bytes;
  grown = (grown + 255) / 256 * 256;
  if (im.workspace) {
    im.state->synchronize();
    im.backend->deallocate(im.device, im.workspace);
    im.workspace = nullptr;
    im.workspace_bytes = 0;
  }
  im.workspace = im.backend->allocate(im.device, grown);
  im.workspace_bytes = grown;
  detail::log().debug("workspace on {} grown to {} bytes", im.device.str(), grown);
  return im.workspace;
}

std::size_t Context::workspace_size() const noexcept { return impl_->workspace_bytes; }

void Context::set_num_threads(int threads) {
  DYNX_EXPECTS(threads >= 1, fmt::format("Context::set_num_threads: threads must be >= 1, got {}",
                                         threads));
  impl_->num_threads = threads;
}

int Context::num_threads() const noexcept { return impl_->num_threads; }

void* Context::native_stream() const noexcept { return impl_->state->native_stream(); }

}  // namespace dynx
