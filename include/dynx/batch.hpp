#pragma once
/// \file batch.hpp
/// Non-owning views of batches of matrices and vectors.
///
/// Matrices are column-major: element (i, j) of matrix k is at `data[k * stride + j * ld + i]`, the
/// convention of cuBLAS `*StridedBatched`, cuSOLVER and LAPACK. A view never owns or frees memory;
/// the memory lives on `device` (host memory for Device::cpu()).

#include <dynx/device.hpp>

#include <cstdint>
#include <type_traits>

namespace dynx {

class Context;
template <class T> class Buffer;

/// `count` matrices of `rows` × `cols`, column-major with leading dimension `ld` (≥ rows), matrix k
/// starting at `data + k * stride`. A view with `data == nullptr` and count 0 or rows/cols 0 is the
/// empty view: operations read it as "this output is not wanted".
template <class T>
struct MatrixBatch {
  T* data = nullptr;
  std::int64_t rows = 0;
  std::int64_t cols = 0;
  std::int64_t ld = 0;
  std::int64_t stride = 0;
  std::int64_t count = 0;
  Device device = Device::cpu();

  MatrixBatch() = default;
  /// Densely packed: ld = rows, stride = rows * cols.
  MatrixBatch(T* data_, std::int64_t rows_, std::int64_t cols_, std::int64_t count_,
              Device device_ = Device::cpu())
      : data(data_), rows(rows_), cols(cols_), ld(rows_), stride(rows_ * cols_), count(count_),
        device(device_) {}
  /// Fully specified.
  MatrixBatch(T* data_, std::int64_t rows_, std::int64_t cols_, std::int64_t ld_,
              std::int64_t stride_, std::int64_t count_, Device device_ = Device::cpu())
      : data(data_), rows(rows_), cols(cols_), ld(ld_), stride(stride_), count(count_),
        device(device_) {}

  /// A view of the same memory as const.
  template <class U = T, class = std::enable_if_t<!std::is_const_v<U>>>
  operator MatrixBatch<const U>() const {
    return MatrixBatch<const U>(data, rows, cols, ld, stride, count, device);
  }

  bool empty() const noexcept { return data == nullptr; }
  /// First element of matrix k.
  T* matrix(std::int64_t k) const noexcept { return data + k * stride; }
  /// Element (i, j) of matrix k. Host memory only.
  T& operator()(std::int64_t i, std::int64_t j, std::int64_t k = 0) const noexcept {
    return data[k * stride + j * ld + i];
  }
  /// Matrices [first, first + n) of this batch.
  MatrixBatch slice(std::int64_t first, std::int64_t n) const noexcept {
    return MatrixBatch(data + first * stride, rows, cols, ld, stride, n, device);
  }
};

/// `count` vectors of length `size`, element i of vector k at `data[k * stride + i * inc]`.
template <class T>
struct VectorBatch {
  T* data = nullptr;
  std::int64_t size = 0;
  std::int64_t stride = 0;
  std::int64_t count = 0;
  std::int64_t inc = 1;
  Device device = Device::cpu();

  VectorBatch() = default;
  /// Densely packed: stride = size, inc = 1.
  VectorBatch(T* data_, std::int64_t size_, std::int64_t count_, Device device_ = Device::cpu())
      : data(data_), size(size_), stride(size_), count(count_), device(device_) {}
  VectorBatch(T* data_, std::int64_t size_, std::int64_t stride_, std::int64_t count_,
              std::int64_t inc_, Device device_ = Device::cpu())
      : data(data_), size(size_), stride(stride_), count(count_), inc(inc_), device(device_) {}

  template <class U = T, class = std::enable_if_t<!std::is_const_v<U>>>
  operator VectorBatch<const U>() const {
    return VectorBatch<const U>(data, size, stride, count, inc, device);
  }

  bool empty() const noexcept { return data == nullptr; }
  T* vector(std::int64_t k) const noexcept { return data + k * stride; }
  T& operator()(std::int64_t i, std::int64_t k = 0) const noexcept {
    return data[k * stride + i * inc];
  }
  VectorBatch slice(std::int64_t first, std::int64_t n) const noexcept {
    return VectorBatch(data + first * stride, size, stride, n, inc, device);
  }
};

}  // namespace dynx
