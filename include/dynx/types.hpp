#pragma once
/// \file types.hpp
/// Scalar types and small enums shared by the public API.

#include <complex>
#include <cstdint>
#include <type_traits>

namespace dynx {

/// Element types that dynx operations accept.
enum class Dtype { f32 = 0, f64 = 1, c64 = 2, c128 = 3, i32 = 4, u8 = 5 };

template <class T> struct dtype_of;
template <> struct dtype_of<float> { static constexpr Dtype value = Dtype::f32; };
template <> struct dtype_of<double> { static constexpr Dtype value = Dtype::f64; };
template <> struct dtype_of<std::complex<float>> { static constexpr Dtype value = Dtype::c64; };
template <> struct dtype_of<std::complex<double>> { static constexpr Dtype value = Dtype::c128; };
template <> struct dtype_of<std::int32_t> { static constexpr Dtype value = Dtype::i32; };
template <> struct dtype_of<std::uint8_t> { static constexpr Dtype value = Dtype::u8; };
template <class T> inline constexpr Dtype dtype_v = dtype_of<std::remove_const_t<T>>::value;

/// Size in bytes of one element of `t`.
constexpr std::size_t dtype_size(Dtype t) noexcept {
  switch (t) {
    case Dtype::f32: return 4;
    case Dtype::f64: return 8;
    case Dtype::c64: return 8;
    case Dtype::c128: return 16;
    case Dtype::i32: return 4;
    case Dtype::u8: return 1;
  }
  return 0;
}

/// "f32", "f64", "c64", "c128", "i32", "u8".
constexpr const char* dtype_name(Dtype t) noexcept {
  switch (t) {
    case Dtype::f32: return "f32";
    case Dtype::f64: return "f64";
    case Dtype::c64: return "c64";
    case Dtype::c128: return "c128";
    case Dtype::i32: return "i32";
    case Dtype::u8: return "u8";
  }
  return "?";
}

/// Transpose flag of a GEMM operand: use the matrix as stored (`n`) or its transpose (`t`).
enum class Op { n = 0, t = 1 };

}  // namespace dynx
