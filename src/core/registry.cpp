// Picks the backend from a device kind. The CPU backend is always present; the CUDA backend is
// compiled in with DYNX_ENABLE_CUDA.

#include "core/backend.hpp"
#include "core/check.hpp"

#include <dynx/config.hpp>

namespace dynx {
namespace cpu {
detail::Backend& backend();
}
#if DYNX_HAS_CUDA
namespace cuda {
detail::Backend& backend();
}
#endif

namespace detail {

Backend& backend_for(DeviceKind kind) {
  switch (kind) {
    case DeviceKind::cpu: return cpu::backend();
    case DeviceKind::cuda:
#if DYNX_HAS_CUDA
      return cuda::backend();
#else
      DYNX_UNSUPPORTED("this libdynx was built without the CUDA backend (DYNX_ENABLE_CUDA=OFF); "
                       "use Device::cpu()");
#endif
  }
  DYNX_UNSUPPORTED("unknown device kind");
}

}  // namespace detail
}  // namespace dynx
