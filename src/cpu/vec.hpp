#pragma once
// Contiguous vector kernels under the CPU backend's element-wise operations (inner products,
// scaled sums, finite checks). They are compiled twice on x86-64 with GCC or Clang: for the
// baseline ISA and for x86-64-v3 (AVX2 + FMA), the variant picked once at load time
// (target_clones), so a library built for any x86-64 still uses the vector units the machine
// has. Reductions keep 16 independent partial sums (4 AVX registers): one running sum is bound
// by the add latency, not the load bandwidth (a 1024-element inner product at n = 32 ran 3×
// slower that way).

#include <cstdint>

namespace dynx::cpu::vec {

/// Σ x_i y_i over n elements, accumulated in double (a fixed order for a given machine).
double dot(const float* x, const float* y, std::int64_t n);
double dot(const double* x, const double* y, std::int64_t n);

/// Σ x_i y_i in the data's own precision (16 partial sums, combined in double): for float, 4×
/// the throughput of dot() (no conversions) at a relative error of ~1e-6, for inner products
/// that only steer an iteration (the L-BFGS two-loop), not values that are reported or tested.
double dot_native(const float* x, const float* y, std::int64_t n);
double dot_native(const double* x, const double* y, std::int64_t n);

/// y ← a x + b y over n elements; x is not read when a = 0, y is not read when b = 0.
void axpby(float a, const float* x, float b, float* y, std::int64_t n);
void axpby(double a, const double* x, double b, double* y, std::int64_t n);

/// True when all n elements are finite.
bool all_finite(const float* x, std::int64_t n);
bool all_finite(const double* x, std::int64_t n);

}  // namespace dynx::cpu::vec
