#pragma once
/// \file context.hpp
/// A Context is where work runs: a device, and for CUDA a stream with its cuBLAS and cuSOLVER
/// handles; for the CPU the number of OpenMP threads. It also owns a reusable workspace. Every
/// operation takes one. One Context per host thread: a Context is not thread-safe.

#include <dynx/device.hpp>
#include <dynx/export.hpp>

#include <cstddef>
#include <memory>

namespace dynx {

namespace detail {
struct ContextImpl;
}

class DYNX_API Context {
 public:
  /// A context on `device`. For CUDA this creates a non-blocking stream and library handles; it
  /// throws Unsupported when libdynx has no CUDA backend and InvalidArgument when the device index
  /// does not exist.
  explicit Context(Device device = Device::cpu());
  ~Context();
  Context(Context&&) noexcept;
  Context& operator=(Context&&) noexcept;
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  Device device() const noexcept;

  /// Waits until all work enqueued on this context has finished. Throws CudaError if the device
  /// reported an asynchronous fault.
  void synchronize();

  /// Scratch memory of at least `bytes` on the context's device, aligned to 256 bytes, valid until
  /// the next workspace() call on this context. Grows as needed and is reused: operations take
  /// their scratch from here instead of allocating. Growing synchronises the stream first.
  void* workspace(std::size_t bytes);
  /// Bytes currently held by the workspace.
  std::size_t workspace_size() const noexcept;

  /// CPU: threads used for parallel loops over a batch (default: OpenMP's maximum). Ignored on CUDA.
  void set_num_threads(int threads);
  int num_threads() const noexcept;

  /// The CUDA stream (a cudaStream_t) for interoperation; nullptr on the CPU.
  void* native_stream() const noexcept;

  /// Internal: backend state. Not part of the stable API.
  detail::ContextImpl& impl() noexcept { return *impl_; }
  const detail::ContextImpl& impl() const noexcept { return *impl_; }
  std::weak_ptr<detail::ContextImpl> impl_shared() const noexcept { return impl_; }

 private:
  std::shared_ptr<detail::ContextImpl> impl_;  // shared with BatchStatus (weakly)
};

}  // namespace dynx
