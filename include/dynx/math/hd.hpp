#pragma once
// DYNX_HD marks math that is compiled both by the host compiler (CPU backend, host tests) and by
// nvcc for device code. Files in include/dynx/math/ are plain C++17 with no CUDA includes.

#if defined(__CUDACC__)
#  define DYNX_HD __host__ __device__
#else
#  define DYNX_HD
#endif
