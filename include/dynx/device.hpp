#pragma once
/// \file device.hpp
/// Where data lives and where work runs: the host CPU or one CUDA device.

#include <dynx/export.hpp>

#include <string>
#include <string_view>

namespace dynx {

enum class DeviceKind { cpu = 0, cuda = 1 };

/// A device: `cpu`, or `cuda:N` for CUDA device N. A plain value type.
class DYNX_API Device {
 public:
  constexpr Device() noexcept = default;
  static constexpr Device cpu() noexcept { return Device(DeviceKind::cpu, 0); }
  static constexpr Device cuda(int index = 0) noexcept { return Device(DeviceKind::cuda, index); }

  /// Parses "cpu", "cuda" (device 0) or "cuda:N". Throws InvalidArgument on anything else.
  static Device parse(std::string_view text);

  constexpr DeviceKind kind() const noexcept { return kind_; }
  constexpr int index() const noexcept { return index_; }
  constexpr bool is_cpu() const noexcept { return kind_ == DeviceKind::cpu; }
  constexpr bool is_cuda() const noexcept { return kind_ == DeviceKind::cuda; }

  /// "cpu" or "cuda:N".
  std::string str() const;

  friend constexpr bool operator==(Device a, Device b) noexcept {
    return a.kind_ == b.kind_ && a.index_ == b.index_;
  }
  friend constexpr bool operator!=(Device a, Device b) noexcept { return !(a == b); }

 private:
  constexpr Device(DeviceKind kind, int index) noexcept : kind_(kind), index_(index) {}
  DeviceKind kind_ = DeviceKind::cpu;
  int index_ = 0;
};

/// Number of usable CUDA devices; 0 when libdynx has no CUDA backend or no driver/device is present.
/// Never throws.
DYNX_API int cuda_device_count() noexcept;

/// True when libdynx was built with the CUDA backend.
DYNX_API bool has_cuda_backend() noexcept;

}  // namespace dynx
