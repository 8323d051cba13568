#pragma once
// Shared test helpers: tolerances, the typed-test type list, host batches with padded layouts
// (non-unit ld and stride, with sentinel padding), and the InvalidArgument expectation macro.
// Header-only; used by tests/unit and tests/cuda.

#include <dynx/dynx.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <complex>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

namespace dynx::test {

/// Machine epsilon of the type under test, as a double so that `c * n * eps<T>()` is computed in
/// double precision.
template <class T>
constexpr double eps() {
  return static_cast<double>(std::numeric_limits<T>::epsilon());
}

template <class T>
T nan_value() {
  return std::numeric_limits<T>::quiet_NaN();
}

/// DYNX_TEST_LEVEL: 0 (default, fast), 1 or 2 (bigger sizes, meant for GPU machines).
inline int test_level() {
  const char* s = std::getenv("DYNX_TEST_LEVEL");
  return s ? std::atoi(s) : 0;
}

/// The scalar types every operation is tested for. (Default GoogleTest names, Suite/0 and
/// Suite/1: CTest's test discovery turns them into Suite.Test<float> and Suite.Test<double>.)
using RealTypes = ::testing::Types<float, double>;

/// Extra rows in the leading dimension and extra elements between matrices.
struct Layout {
  std::int64_t ld_pad = 0;
  std::int64_t stride_pad = 0;
};
inline constexpr Layout kPacked{0, 0};
inline constexpr Layout kPadded{3, 5};

/// Increment between vector elements and extra elements between vectors.
struct VecLayout {
  std::int64_t inc = 1;
  std::int64_t stride_pad = 0;
};
inline constexpr VecLayout kPackedVec{1, 0};
inline constexpr VecLayout kPaddedVec{2, 3};

/// True for NaN; for complex values, when either part is NaN.
template <class T>
bool is_nan(const T& x) {
  if constexpr (std::is_floating_point_v<T>) {
    return std::isnan(x);
  } else {
    return std::isnan(x.real()) || std::isnan(x.imag());
  }
}

/// Bitwise equality that treats two NaNs as equal (for checking untouched padding).
template <class T>
bool same_value(const T& a, const T& b) {
  if (is_nan(a) || is_nan(b)) return is_nan(a) && is_nan(b);
  return a == b;
}

/// `count` host matrices rows × cols in one std::vector, column-major, with ld = rows + ld_pad and
/// stride = ld * cols + stride_pad. Every element, padding included, starts as `fill`. Copyable:
/// the view is rebuilt from the storage on each call.
template <class T>
class HostBatch {
 public:
  HostBatch() = default;
  HostBatch(std::int64_t rows, std::int64_t cols, std::int64_t count, Layout layout = kPacked,
            T fill = T(0))
      : rows_(rows),
        cols_(cols),
        count_(count),
        ld_(std::max<std::int64_t>(1, rows) + layout.ld_pad),
        stride_(ld_ * cols + layout.stride_pad),
        storage_(static_cast<std::size_t>(count * (ld_ * cols + layout.stride_pad)), fill) {}

  std::int64_t rows() const noexcept { return rows_; }
  std::int64_t cols() const noexcept { return cols_; }
  std::int64_t count() const noexcept { return count_; }
  std::int64_t ld() const noexcept { return ld_; }
  std::int64_t stride() const noexcept { return stride_; }

  MatrixBatch<T> view() {
    return MatrixBatch<T>(storage_.empty() ? nullptr : storage_.data(), rows_, cols_, ld_, stride_,
                          count_);
  }
  MatrixBatch<const T> cview() const {
    return MatrixBatch<const T>(storage_.empty() ? nullptr : storage_.data(), rows_, cols_, ld_,
                                stride_, count_);
  }

  T& operator()(std::int64_t i, std::int64_t j, std::int64_t k = 0) {
    return storage_[static_cast<std::size_t>(k * stride_ + j * ld_ + i)];
  }
  const T& operator()(std::int64_t i, std::int64_t j, std::int64_t k = 0) const {
    return storage_[static_cast<std::size_t>(k * stride_ + j * ld_ + i)];
  }

  /// The raw storage (padding included), for device copies.
  std::vector<T>& storage() noexcept { return storage_; }
  const std::vector<T>& storage() const noexcept { return storage_; }

  /// True when every element outside the matrices still holds `fill`.
  bool padding_intact(T fill) const {
    for (std::size_t p = 0; p < storage_.size(); ++p) {
      const auto off = static_cast<std::int64_t>(p) % stride_;
      const bool inside = off < ld_ * cols_ && off % ld_ < rows_;
      if (!inside && !same_value(storage_[p], fill)) return false;
    }
    return true;
  }

  /// True when every element of matrix k is NaN.
  bool all_nan(std::int64_t k) const {
    for (std::int64_t j = 0; j < cols_; ++j)
      for (std::int64_t i = 0; i < rows_; ++i)
        if (!is_nan((*this)(i, j, k))) return false;
    return true;
  }
  /// True when every element of matrix k is finite.
  bool all_finite(std::int64_t k) const {
    for (std::int64_t j = 0; j < cols_; ++j)
      for (std::int64_t i = 0; i < rows_; ++i) {
        const T& x = (*this)(i, j, k);
        if constexpr (std::is_floating_point_v<T>) {
          if (!std::isfinite(x)) return false;
        } else {
          if (!std::isfinite(x.real()) || !std::isfinite(x.imag())) return false;
        }
      }
    return true;
  }

 private:
  std::int64_t rows_ = 0, cols_ = 0, count_ = 0, ld_ = 1, stride_ = 0;
  std::vector<T> storage_;
};

/// `count` host vectors of length `size` with element increment `inc` and stride
/// (size - 1) * inc + 1 + stride_pad.
template <class T>
class HostVectors {
 public:
  HostVectors() = default;
  HostVectors(std::int64_t size, std::int64_t count, VecLayout layout = kPackedVec, T fill = T(0))
      : size_(size),
        count_(count),
        inc_(layout.inc),
        stride_(std::max<std::int64_t>(0, (size - 1) * layout.inc + 1) + layout.stride_pad),
        storage_(static_cast<std::size_t>(count * stride_), fill) {}

  std::int64_t size() const noexcept { return size_; }
  std::int64_t count() const noexcept { return count_; }
  std::int64_t inc() const noexcept { return inc_; }
  std::int64_t stride() const noexcept { return stride_; }

  VectorBatch<T> view() {
    return VectorBatch<T>(storage_.empty() ? nullptr : storage_.data(), size_, stride_, count_, inc_);
  }
  VectorBatch<const T> cview() const {
    return VectorBatch<const T>(storage_.empty() ? nullptr : storage_.data(), size_, stride_,
                                count_, inc_);
  }

  T& operator()(std::int64_t i, std::int64_t k = 0) {
    return storage_[static_cast<std::size_t>(k * stride_ + i * inc_)];
  }
  const T& operator()(std::int64_t i, std::int64_t k = 0) const {
    return storage_[static_cast<std::size_t>(k * stride_ + i * inc_)];
  }

  std::vector<T>& storage() noexcept { return storage_; }
  const std::vector<T>& storage() const noexcept { return storage_; }

  /// Vector k as a std::vector (contiguous copy).
  std::vector<T> get(std::int64_t k) const {
    std::vector<T> out(static_cast<std::size_t>(size_));
    for (std::int64_t i = 0; i < size_; ++i) out[static_cast<std::size_t>(i)] = (*this)(i, k);
    return out;
  }

  bool padding_intact(T fill) const {
    for (std::size_t p = 0; p < storage_.size(); ++p) {
      const auto off = static_cast<std::int64_t>(p) % stride_;
      const bool inside = off % inc_ == 0 && off / inc_ < size_;
      if (!inside && !same_value(storage_[p], fill)) return false;
    }
    return true;
  }

  bool all_nan(std::int64_t k) const {
    for (std::int64_t i = 0; i < size_; ++i)
      if (!is_nan((*this)(i, k))) return false;
    return true;
  }

 private:
  std::int64_t size_ = 0, count_ = 0, inc_ = 1, stride_ = 0;
  std::vector<T> storage_;
};

/// A value that no operation produces, for output padding.
template <class T>
T sentinel() {
  return T(-7777.25f);
}

}  // namespace dynx::test

/// Expects `statement` to throw dynx::InvalidArgument whose what() contains `needle` (for example
/// "`u`", the argument's name as the core's checks print it).
#define DYNX_EXPECT_INVALID_ARGUMENT(statement, needle)                                       \
  do {                                                                                        \
    bool dynx_threw_ = false;                                                                 \
    try {                                                                                     \
      statement;                                                                              \
    } catch (const ::dynx::InvalidArgument& e) {                                              \
      dynx_threw_ = true;                                                                     \
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos)                        \
          << "InvalidArgument does not mention " << (needle) << ": " << e.what();             \
    } catch (const std::exception& e) {                                                       \
      dynx_threw_ = true;                                                                     \
      ADD_FAILURE() << "expected dynx::InvalidArgument naming " << (needle)                   \
                    << ", got another exception: " << e.what();                               \
    }                                                                                         \
    if (!dynx_threw_)                                                                         \
      ADD_FAILURE() << "expected dynx::InvalidArgument naming " << (needle) << " from "       \
                    << #statement;                                                            \
  } while (0)
