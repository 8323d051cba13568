#include "cpu/cpu.hpp"

// OpenBLAS's threading controls, declared weak so that libdynx also links against a BLAS without
// them (then there is nothing to control and the guard does nothing).
extern "C" {
int openblas_get_parallel(void) __attribute__((weak));
int openblas_get_num_threads(void) __attribute__((weak));
void openblas_set_num_threads(int) __attribute__((weak));
}

namespace dynx::cpu {

namespace {
// openblas_get_parallel(): 0 = sequential build, 1 = pthreads build, 2 = OpenMP build.
constexpr int kOpenblasPthreads = 1;
}  // namespace

BlasThreadsGuard::BlasThreadsGuard() {
  if (openblas_get_parallel && openblas_get_num_threads && openblas_set_num_threads &&
      openblas_get_parallel() == kOpenblasPthreads) {
    saved_ = openblas_get_num_threads();
    if (saved_ != 1) openblas_set_num_threads(1);
  }
}

BlasThreadsGuard::~BlasThreadsGuard() {
  if (saved_ > 1) openblas_set_num_threads(saved_);
}

}  // namespace dynx::cpu
