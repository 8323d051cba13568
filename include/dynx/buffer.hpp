#pragma once
/// \file buffer.hpp
/// Owning device or host memory (Buffer<T>) and copies between devices.

#include <dynx/batch.hpp>
#include <dynx/device.hpp>
#include <dynx/export.hpp>

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace dynx {

class Context;

namespace detail {
/// Allocates `bytes` on `device` (256-byte aligned host memory, or cudaMalloc). Throws Unsupported
/// for CUDA when libdynx has no CUDA backend, CudaError when the allocation fails.
DYNX_API void* allocate(Device device, std::size_t bytes);
/// Frees memory from allocate(). Never throws; failures are logged.
DYNX_API void deallocate(Device device, void* ptr) noexcept;
}  // namespace detail

/// Copies `bytes` from `src` on `src_device` to `dst` on `dst_device`, ordered on ctx's stream
/// (asynchronous for device memory; a host-to-host copy on a CPU context completes before return).
/// Host memory that is not pinned makes CUDA copies synchronous, as in cudaMemcpyAsync.
DYNX_API void copy_bytes(Context& ctx, void* dst, Device dst_device, const void* src,
                         Device src_device, std::size_t bytes);

/// Fills `bytes` at `dst` on `device` with zero bytes, ordered on ctx's stream.
DYNX_API void zero_bytes(Context& ctx, void* dst, Device device, std::size_t bytes);

/// `size()` elements of T on one device. Move-only; the memory is freed on destruction.
/// Contents are uninitialised after construction.
template <class T>
class Buffer {
 public:
  Buffer() = default;
  Buffer(std::size_t size, Device device = Device::cpu())
      : data_(size ? static_cast<T*>(detail::allocate(device, size * sizeof(T))) : nullptr),
        size_(size),
        device_(device) {}
  ~Buffer() { reset(); }
  Buffer(Buffer&& o) noexcept
      : data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)), device_(o.device_) {}
  Buffer& operator=(Buffer&& o) noexcept {
    if (this != &o) {
      reset();
      data_ = std::exchange(o.data_, nullptr);
      size_ = std::exchange(o.size_, 0);
      device_ = o.device_;
    }
    return *this;
  }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  T* data() noexcept { return data_; }
  const T* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }
  std::size_t bytes() const noexcept { return size_ * sizeof(T); }
  Device device() const noexcept { return device_; }
  bool empty() const noexcept { return size_ == 0; }

  /// Host memory only.
  T& operator[](std::size_t i) noexcept { return data_[i]; }
  const T& operator[](std::size_t i) const noexcept { return data_[i]; }

  /// Densely packed view of `count` matrices rows × cols (needs rows*cols*count ≤ size()).
  MatrixBatch<T> matrices(std::int64_t rows, std::int64_t cols, std::int64_t count) noexcept {
    return MatrixBatch<T>(data_, rows, cols, count, device_);
  }
  MatrixBatch<const T> matrices(std::int64_t rows, std::int64_t cols, std::int64_t count) const noexcept {
    return MatrixBatch<const T>(data_, rows, cols, count, device_);
  }
  /// Densely packed view of `count` vectors of length `size`.
  VectorBatch<T> vectors(std::int64_t size, std::int64_t count) noexcept {
    return VectorBatch<T>(data_, size, count, device_);
  }
  VectorBatch<const T> vectors(std::int64_t size, std::int64_t count) const noexcept {
    return VectorBatch<const T>(data_, size, count, device_);
  }

  void reset() noexcept {
    if (data_) detail::deallocate(device_, data_);
    data_ = nullptr;
    size_ = 0;
  }

 private:
  T* data_ = nullptr;
  std::size_t size_ = 0;
  Device device_ = Device::cpu();
};

/// Copies min(dst.size(), src.size()) elements from src to dst, ordered on ctx's stream.
template <class T>
void copy(Context& ctx, Buffer<T>& dst, const Buffer<T>& src) {
  const std::size_t n = dst.size() < src.size() ? dst.size() : src.size();
  copy_bytes(ctx, dst.data(), dst.device(), src.data(), src.device(), n * sizeof(T));
}

/// A copy of host data on `ctx.device()`. Synchronous with respect to the host data: `host` may be
/// reused when the call returns.
template <class T>
Buffer<T> to_device(Context& ctx, const T* host, std::size_t n);

/// The contents of `buf` as a host vector; synchronises ctx.
template <class T>
std::vector<T> to_host(Context& ctx, const Buffer<T>& buf);

}  // namespace dynx

#include <dynx/context.hpp>

namespace dynx {

template <class T>
Buffer<T> to_device(Context& ctx, const T* host, std::size_t n) {
  Buffer<T> out(n, ctx.device());
  copy_bytes(ctx, out.data(), out.device(), host, Device::cpu(), n * sizeof(T));
  ctx.synchronize();
  return out;
}

template <class T>
std::vector<T> to_host(Context& ctx, const Buffer<T>& buf) {
  std::vector<T> out(buf.size());
  copy_bytes(ctx, out.data(), Device::cpu(), buf.data(), buf.device(), buf.bytes());
  ctx.synchronize();
  return out;
}

}  // namespace dynx
