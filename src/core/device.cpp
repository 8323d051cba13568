#include <dynx/config.hpp>
#include <dynx/device.hpp>
#include <dynx/error.hpp>
#include <dynx/version.hpp>

#include "core/backend.hpp"

#include <charconv>
#include <string>

namespace dynx {

Device Device::parse(std::string_view text) {
  if (text == "cpu") return Device::cpu();
  if (text == "cuda" || text == "gpu") return Device::cuda(0);
  if (text.substr(0, 5) == "cuda:") {
    const auto digits = text.substr(5);
    int index = -1;
    const auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), index);
    if (ec == std::errc() && ptr == digits.data() + digits.size() && !digits.empty() && index >= 0)
      return Device::cuda(index);
  }
  throw InvalidArgument("dynx: device '" + std::string(text) +
                        "' is not understood (expected 'cpu', 'cuda' or 'cuda:N')");
}

std::string Device::str() const {
  return is_cpu() ? std::string("cpu") : "cuda:" + std::to_string(index_);
}

int cuda_device_count() noexcept {
#if DYNX_HAS_CUDA
  return detail::backend_for(DeviceKind::cuda).device_count();
#else
  return 0;
#endif
}

bool has_cuda_backend() noexcept { return DYNX_HAS_CUDA != 0; }

const char* version() noexcept { return DYNX_VERSION_STRING; }

const char* build_info() noexcept {
  return "dynx " DYNX_VERSION_STRING " (backends: cpu[OpenBLAS+LAPACKE+OpenMP]"
#if DYNX_HAS_CUDA
         ", cuda[cuBLAS+cuSOLVER]"
#endif
#if DYNX_HAS_MPI
         "; mpi"
#endif
         ")";
}

}  // namespace dynx
