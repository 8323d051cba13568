// Installed-package consumer: the SVD of one 3×2 matrix on the CPU, checked against the closed
// form. Exits nonzero on any failure.

#include <dynx/dynx.hpp>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <exception>

int main() {
  std::printf("dynx_consumer: compiled against dynx %s, running with libdynx %s\n",
              DYNX_VERSION_STRING, dynx::version());
  std::printf("dynx_consumer: %s\n", dynx::build_info());
  if (std::strcmp(DYNX_VERSION_STRING, dynx::version()) != 0) {
    std::fprintf(stderr, "dynx_consumer: header and library versions differ\n");
    return 1;
  }
  try {
    // A = [1 2; 3 4; 5 6], column-major. Its singular values are the square roots of the
    // eigenvalues of AᵀA = [35 44; 44 56]: (t ± sqrt(t² − 4d)) / 2 with t = 91 and d = 24.
    const double a[6] = {1, 3, 5, 2, 4, 6};
    const double t = 91.0, d = 24.0;
    const double expected[2] = {std::sqrt((t + std::sqrt(t * t - 4 * d)) / 2),
                                std::sqrt((t - std::sqrt(t * t - 4 * d)) / 2)};
    double s[2] = {0, 0}, u[6] = {}, vt[4] = {};

    dynx::Context ctx(dynx::Device::cpu());
    dynx::BatchStatus status;
    dynx::svd_batched<double>(ctx, dynx::MatrixBatch<const double>(a, 3, 2, 1),
                              dynx::VectorBatch<double>(s, 2, 1), dynx::MatrixBatch<double>(u, 3, 2, 1),
                              dynx::MatrixBatch<double>(vt, 2, 2, 1), &status);
    status.check("svd");
    int failures = 0;
    for (int i = 0; i < 2; ++i) {
      const double err = std::abs(s[i] - expected[i]) / expected[0];
      std::printf("dynx_consumer: s[%d] = %.15g, closed form %.15g, relative error %.2e\n", i, s[i],
                  expected[i], err);
      if (!(err <= 1e-13)) ++failures;  // 1e-13: a few hundred ulps of double
    }
    // U diag(s) Vt must give back A.
    for (int j = 0; j < 2; ++j)
      for (int r = 0; r < 3; ++r) {
        double x = 0;
        for (int l = 0; l < 2; ++l) x += u[l * 3 + r] * s[l] * vt[j * 2 + l];
        if (!(std::abs(x - a[j * 3 + r]) <= 1e-12)) ++failures;
      }
    if (failures) {
      std::fprintf(stderr, "dynx_consumer: %d check(s) failed\n", failures);
      return 1;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "dynx_consumer: %s\n", e.what());
    return 1;
  }
  std::printf("dynx_consumer: ok\n");
  return 0;
}
