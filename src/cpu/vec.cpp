// Contiguous vector kernels of the CPU backend (see vec.hpp).

#include "cpu/vec.hpp"

#include <algorithm>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && defined(__ELF__) && \
    defined(__has_attribute)
#if __has_attribute(target_clones)
#define DYNX_CPU_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#endif
#endif
#ifndef DYNX_CPU_CLONES
#define DYNX_CPU_CLONES
#endif

// The bodies are inlined into each clone, so that each is compiled for that clone's ISA.
#if defined(__GNUC__) || defined(__clang__)
#define DYNX_CPU_INLINE inline __attribute__((always_inline))
#else
#define DYNX_CPU_INLINE inline
#endif

namespace dynx::cpu::vec {
namespace {

constexpr int kLanes = 16;  // independent partial sums

template <class T>
DYNX_CPU_INLINE double dot_body(const T* x, const T* y, std::int64_t n) {
  double s[kLanes] = {};
  std::int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int l = 0; l < kLanes; ++l) s[l] += double(x[i + l]) * double(y[i + l]);
  double r = 0;
  for (; i < n; ++i) r += double(x[i]) * double(y[i]);
  for (int l = 0; l < kLanes; ++l) r += s[l];
  return r;
}

template <class T>
DYNX_CPU_INLINE double dot_native_body(const T* x, const T* y, std::int64_t n) {
  constexpr int lanes = 4 * kLanes;  // 8 AVX registers of float: enough chains to hide FMA latency
  T s[lanes] = {};
  std::int64_t i = 0;
  for (; i + lanes <= n; i += lanes)
    for (int l = 0; l < lanes; ++l) s[l] += x[i + l] * y[i + l];
  double r = 0;
  for (; i < n; ++i) r += double(x[i]) * double(y[i]);
  for (int l = 0; l < lanes; ++l) r += double(s[l]);
  return r;
}

template <class T>
DYNX_CPU_INLINE void axpby_body(T a, const T* x, T b, T* y, std::int64_t n) {
  if (a == T(0)) {
    if (b == T(0)) {
      std::fill(y, y + n, T(0));
    } else {
      for (std::int64_t i = 0; i < n; ++i) y[i] *= b;
    }
  } else if (b == T(0)) {
    for (std::int64_t i = 0; i < n; ++i) y[i] = a * x[i];
  } else if (b == T(1)) {
    for (std::int64_t i = 0; i < n; ++i) y[i] += a * x[i];
  } else {
    for (std::int64_t i = 0; i < n; ++i) y[i] = a * x[i] + b * y[i];
  }
}

template <class T>
DYNX_CPU_INLINE bool finite_body(const T* x, std::int64_t n) {
  // x − x is +0 for a finite x and NaN for ±Inf or NaN; NaN survives the sums.
  T s[kLanes] = {};
  std::int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int l = 0; l < kLanes; ++l) s[l] += x[i + l] - x[i + l];
  T r = 0;
  for (; i < n; ++i) r += x[i] - x[i];
  for (int l = 0; l < kLanes; ++l) r += s[l];
  return r == T(0);
}

}  // namespace

DYNX_CPU_CLONES double dot(const float* x, const float* y, std::int64_t n) { return dot_body(x, y, n); }
DYNX_CPU_CLONES double dot(const double* x, const double* y, std::int64_t n) { return dot_body(x, y, n); }
DYNX_CPU_CLONES double dot_native(const float* x, const float* y, std::int64_t n) {
  return dot_native_body(x, y, n);
}
double dot_native(const double* x, const double* y, std::int64_t n) { return dot(x, y, n); }
DYNX_CPU_CLONES void axpby(float a, const float* x, float b, float* y, std::int64_t n) {
  axpby_body(a, x, b, y, n);
}
DYNX_CPU_CLONES void axpby(double a, const double* x, double b, double* y, std::int64_t n) {
  axpby_body(a, x, b, y, n);
}
DYNX_CPU_CLONES bool all_finite(const float* x, std::int64_t n) { return finite_body(x, n); }
DYNX_CPU_CLONES bool all_finite(const double* x, std::int64_t n) { return finite_body(x, n); }

}  // namespace dynx::cpu::vec
