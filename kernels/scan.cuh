#pragma once
// Kernels of the chunked scans over matrix products and affine recurrences (spec goom.md §4; host
// side and the algorithm in src/cuda/scan.cu).
//
// Matrix products run in one of two formats, each a small policy struct with the same interface
// (a view of one d × d matrix, loading a factor, the combine, storing as GOOM):
//   ScaledFmt<T, S>  mantissa rows in [1, 2) of type S plus int64 row exponents (spec §3.5); the
//                    combine is the two-sided exponent fold of math::scaled_matmul, a product in
//                    S, and an exact power-of-two renormalisation;
//   GoomFmt<T, C>    GOOMs with logmag in the compute type C; the combine is log-matmul-exp with
//                    two-sided scaling (kernels/goom.cuh), arithmetic in C.
// Both follow the CPU backend's ScaledFormat / GoomFormat (src/cpu/goom_formats.hpp) formula for
// formula. Working matrices are packed (ld = d), in shared memory (d ≤ 32: one block per chunk)
// or in workspace buffers (larger d: lockstep steps over all chunks, the product by cuBLAS).

#include "kernels/goom.cuh"

#include <cstddef>
#include <cstdint>

namespace dynx::cuda::kernels {

// --- the user's factors and outputs --------------------------------------------------------------

/// Input factors: factor k at x + k·stride (and neg + k·stride_neg); neg == nullptr for real input.
template <class T>
struct ScanInput {
  const T* x = nullptr;
  std::int64_t ld = 0, stride = 0;
  const std::uint8_t* neg = nullptr;
  std::int64_t ld_neg = 0, stride_neg = 0;
};

/// GOOM output matrices.
template <class T>
struct GoomOut {
  T* lm = nullptr;
  std::int64_t ld = 0, stride = 0;
  std::uint8_t* neg = nullptr;
  std::int64_t ld_neg = 0, stride_neg = 0;
};

/// Aligned carving of dynamic shared memory (16-byte pieces).
template <class E>
__device__ inline E* take_shared(unsigned char*& p, std::int64_t count) {
  auto addr = reinterpret_cast<std::uintptr_t>(p);
  addr = (addr + 15) & ~std::uintptr_t(15);
  E* out = reinterpret_cast<E*>(addr);
  p = reinterpret_cast<unsigned char*>(addr + static_cast<std::uintptr_t>(count) * sizeof(E));
  return out;
}
__host__ __device__ constexpr std::size_t align16(std::size_t bytes) {
  return (bytes + 15) / 16 * 16;
}

// --- scaled-float format -------------------------------------------------------------------------

template <class T, class S>
struct ScaledFmt {
  using Data = T;
  using Compute = S;
  /// One packed d × d matrix: mantissas m (column-major, ld d) and row exponents e.
  struct View {
    S* m;
    std::int64_t* e;
  };
  /// Matrix k of a workspace array.
  struct Buf {
    S* m = nullptr;
    std::int64_t* e = nullptr;
    __host__ __device__ View at(std::int64_t k, std::int64_t d) const {
      return {m + k * d * d, e + k * d};
    }
  };
  /// Where factors come from: the user's input, or a workspace array (chunk totals one level up).
  struct Source {
    ScanInput<T> in;
    Buf buf;
    bool from_buf = false;
  };
  /// Where results go: the user's GOOM output, or a workspace array.
  struct Dest {
    GoomOut<T> out;
    Buf buf;
    bool to_buf = false;
  };

  __device__ static void copy_row(View from, View to, std::int64_t row, std::int64_t d) {
    for (std::int64_t j = 0; j < d; ++j) to.m[j * d + row] = from.m[j * d + row];
    to.e[row] = from.e[row];
  }
  __device__ static void load_row(const Source& src, std::int64_t k, std::int64_t row,
                                  std::int64_t d, View v) {
    if (src.from_buf) {
      copy_row(src.buf.at(k, d), v, row, d);
    } else if (src.in.neg) {
      scaled_row_from_goom(src.in.x + k * src.in.stride, src.in.ld,
                           src.in.neg + k * src.in.stride_neg, src.in.ld_neg, row, d, v.m, d,
                           v.e + row);
    } else {
      scaled_row_from_real(src.in.x + k * src.in.stride, src.in.ld, row, d, v.m, d, v.e + row);
    }
  }
  __device__ static void store_entry(View v, std::int64_t i, std::int64_t j, std::int64_t d,
                                     const Dest& dst, std::int64_t k) {
    if (dst.to_buf) {
      const View o = dst.buf.at(k, d);
      o.m[j * d + i] = v.m[j * d + i];
      if (j == 0) o.e[i] = v.e[i];
    } else {
      scaled_entry(v.m[j * d + i], v.e[i], dst.out.lm + k * dst.out.stride + j * dst.out.ld + i,
                   dst.out.neg + k * dst.out.stride_neg + j * dst.out.ld_neg + i);
    }
  }

  // Small d: one block per chunk, everything in shared memory.
  struct Shared {
    View acc, f;
    S* x;             // the folded left factor
    std::int64_t* s;  // the product's row exponents before renormalisation
  };
  static std::size_t shared_bytes(std::int64_t d) {
    const auto dd = static_cast<std::size_t>(d * d), dv = static_cast<std::size_t>(d);
    return 3 * align16(dd * sizeof(S)) + 3 * align16(dv * sizeof(std::int64_t)) + 16;
  }
  __device__ static Shared carve(unsigned char* p, std::int64_t d) {
    Shared sh;
    sh.acc.m = take_shared<S>(p, d * d);
    sh.acc.e = take_shared<std::int64_t>(p, d);
    sh.f.m = take_shared<S>(p, d * d);
    sh.f.e = take_shared<std::int64_t>(p, d);
    sh.x = take_shared<S>(p, d * d);
    sh.s = take_shared<std::int64_t>(p, d);
    return sh;
  }
  /// out = left · right by the whole block (math::scaled_matmul); `out` is left or right. The
  /// product overwrites left's mantissas (free once folded), then is renormalised into out.
  __device__ static void combine_block(View left, View right, View out, const Shared& sh,
                                       std::int64_t d) {
    for (std::int64_t i = threadIdx.x; i < d; i += blockDim.x)
      sh.s[i] = left.e[i] + scaled_fold_row(left.m, d, right.e, i, d, sh.x, d);
    __syncthreads();
    for (std::int64_t e = threadIdx.x; e < d * d; e += blockDim.x) {
      const std::int64_t i = e % d, j = e / d;
      S z = 0;
      for (std::int64_t l = 0; l < d; ++l) z = fma(sh.x[l * d + i], right.m[j * d + l], z);
      left.m[e] = z;
    }
    __syncthreads();
    for (std::int64_t i = threadIdx.x; i < d; i += blockDim.x)
      out.e[i] = sh.s[i] + scaled_normalize_row(left.m, d, i, d, out.m, d);
    __syncthreads();
  }

  // Large d: lockstep over chunks, the product by cuBLAS (x · right.m → z).
  struct Scratch {
    S* x = nullptr;
    S* z = nullptr;
    std::int64_t* s = nullptr;
  };
  static constexpr bool kTwoPrepasses = false;
  /// The GEMM's right operand: the right factor's mantissas.
  static const S* gemm_rhs(const Buf& acc, const Buf& f, const Scratch&, bool later_left) {
    return later_left ? acc.m : f.m;
  }
  /// Fold of row `row` of chunk b's left factor (into scratch x), the product's exponents in s.
  __device__ static void prepass1(View left, View right, const Scratch& sc, std::int64_t b,
                                  std::int64_t row, std::int64_t d) {
    sc.s[b * d + row] =
        left.e[row] + scaled_fold_row(left.m, d, right.e, row, d, sc.x + b * d * d, d);
  }
  __device__ static void prepass2(View, View, const Scratch&, std::int64_t, std::int64_t,
                                  std::int64_t) {}
  /// Renormalise row `row` of chunk b's product z into acc.
  __device__ static void finish_row(View acc, const Scratch& sc, std::int64_t b, std::int64_t row,
                                    std::int64_t d) {
    acc.e[row] = sc.s[b * d + row] + scaled_normalize_row(sc.z + b * d * d, d, row, d, acc.m, d);
  }
};

// --- GOOM format ---------------------------------------------------------------------------------

template <class T, class C>
struct GoomFmt {
  using Data = T;
  using Compute = C;
  struct View {
    C* l;
    std::uint8_t* n;
  };
  struct Buf {
    C* l = nullptr;
    std::uint8_t* n = nullptr;
    __host__ __device__ View at(std::int64_t k, std::int64_t d) const {
      return {l + k * d * d, n + k * d * d};
    }
  };
  struct Source {
    ScanInput<T> in;
    Buf buf;
    bool from_buf = false;
  };
  struct Dest {
    GoomOut<T> out;
    Buf buf;
    bool to_buf = false;
  };

  __device__ static void copy_row(View from, View to, std::int64_t row, std::int64_t d) {
    for (std::int64_t j = 0; j < d; ++j) {
      to.l[j * d + row] = from.l[j * d + row];
      to.n[j * d + row] = from.n[j * d + row];
    }
  }
  /// As the CPU GoomFormat: a real factor's log is taken in T and then converted to C.
  __device__ static void load_row(const Source& src, std::int64_t k, std::int64_t row,
                                  std::int64_t d, View v) {
    if (src.from_buf) {
      copy_row(src.buf.at(k, d), v, row, d);
      return;
    }
    const T* x = src.in.x + k * src.in.stride;
    if (src.in.neg) {
      const std::uint8_t* ng = src.in.neg + k * src.in.stride_neg;
      for (std::int64_t j = 0; j < d; ++j) {
        v.l[j * d + row] = static_cast<C>(x[j * src.in.ld + row]);
        v.n[j * d + row] = ng[j * src.in.ld_neg + row] != 0 ? 1 : 0;
      }
    } else {
      for (std::int64_t j = 0; j < d; ++j) {
        const math::Goom<T> g = math::goom_from_real(x[j * src.in.ld + row]);
        v.l[j * d + row] = static_cast<C>(g.logmag);
        v.n[j * d + row] = g.neg ? 1 : 0;
      }
    }
  }
  __device__ static void store_entry(View v, std::int64_t i, std::int64_t j, std::int64_t d,
                                     const Dest& dst, std::int64_t k) {
    if (dst.to_buf) {
      const View o = dst.buf.at(k, d);
      o.l[j * d + i] = v.l[j * d + i];
      o.n[j * d + i] = v.n[j * d + i];
    } else {
      dst.out.lm[k * dst.out.stride + j * dst.out.ld + i] = static_cast<T>(v.l[j * d + i]);
      dst.out.neg[k * dst.out.stride_neg + j * dst.out.ld_neg + i] = v.n[j * d + i];
    }
  }

  struct Shared {
    View acc, f;
    C* x;  // left operand scaled
    C* y;  // right operand scaled
    C* r;  // row maxima of the right operand
    C* a;  // row scales of the left operand
  };
  static std::size_t shared_bytes(std::int64_t d) {
    const auto dd = static_cast<std::size_t>(d * d), dv = static_cast<std::size_t>(d);
    return 4 * align16(dd * sizeof(C)) + 2 * align16(dd) + 2 * align16(dv * sizeof(C)) + 16;
  }
  __device__ static Shared carve(unsigned char* p, std::int64_t d) {
    Shared sh;
    sh.acc.l = take_shared<C>(p, d * d);
    sh.f.l = take_shared<C>(p, d * d);
    sh.x = take_shared<C>(p, d * d);
    sh.y = take_shared<C>(p, d * d);
    sh.r = take_shared<C>(p, d);
    sh.a = take_shared<C>(p, d);
    sh.acc.n = take_shared<std::uint8_t>(p, d * d);
    sh.f.n = take_shared<std::uint8_t>(p, d * d);
    return sh;
  }
  /// out = LMME(left, right) by the whole block (the CPU lmme_one<C, C>); `out` is left or right.
  __device__ static void combine_block(View left, View right, View out, const Shared& sh,
                                       std::int64_t d) {
    for (std::int64_t l = threadIdx.x; l < d; l += blockDim.x) {
      const C r = goom_row_max<C>(right.l, d, l, d);
      sh.r[l] = r;
      lmme_right_row<C>(right.l, d, right.n, d, l, d, r, sh.y, d);
    }
    __syncthreads();
    for (std::int64_t i = threadIdx.x; i < d; i += blockDim.x)
      sh.a[i] = lmme_left_row<C>(left.l, d, left.n, d, i, d, sh.r, sh.x, d);
    __syncthreads();
    // left and right are consumed: out may be overwritten while x, y and a are read.
    for (std::int64_t e = threadIdx.x; e < d * d; e += blockDim.x) {
      const std::int64_t i = e % d, j = e / d;
      C z = 0;
      for (std::int64_t l = 0; l < d; ++l) z = fma(sh.x[l * d + i], sh.y[j * d + l], z);
      lmme_entry<C, C>(z, sh.a[i], out.l + e, out.n + e);
    }
    __syncthreads();
  }

  // Large d: x · y → z by cuBLAS.
  struct Scratch {
    C* x = nullptr;
    C* y = nullptr;
    C* z = nullptr;
    C* r = nullptr;
    C* a = nullptr;
  };
  static constexpr bool kTwoPrepasses = true;
  /// The GEMM's right operand: the scaled right factor.
  static const C* gemm_rhs(const Buf&, const Buf&, const Scratch& sc, bool) { return sc.y; }
  /// Row `row` of chunk b's right operand: its maximum r and the scaled row of y.
  __device__ static void prepass1(View, View right, const Scratch& sc, std::int64_t b,
                                  std::int64_t row, std::int64_t d) {
    const C r = goom_row_max<C>(right.l, d, row, d);
    sc.r[b * d + row] = r;
    lmme_right_row<C>(right.l, d, right.n, d, row, d, r, sc.y + b * d * d, d);
  }
  /// Row `row` of chunk b's left operand: its scale a and the scaled row of x.
  __device__ static void prepass2(View left, View, const Scratch& sc, std::int64_t b,
                                  std::int64_t row, std::int64_t d) {
    sc.a[b * d + row] =
        lmme_left_row<C>(left.l, d, left.n, d, row, d, sc.r + b * d, sc.x + b * d * d, d);
  }
  __device__ static void finish_row(View acc, const Scratch& sc, std::int64_t b, std::int64_t row,
                                    std::int64_t d) {
    const C* z = sc.z + b * d * d;
    const C a = sc.a[b * d + row];
    for (std::int64_t j = 0; j < d; ++j)
      lmme_entry<C, C>(z[j * d + row], a, acc.l + j * d + row, acc.n + j * d + row);
  }
};

// --- chunked product scan ------------------------------------------------------------------------
// A pass works on `chains` chains of n elements each (level 0: the factors; level ≥ 1: the chunk
// totals of the level below), split into nch chunks of `chunk` elements (the last one shorter).
// Unit b = c·nch + q is chunk q of chain c, covering elements c·n + q·chunk + [0, len). A reduce
// pass leaves the chunk's product at dst[b]; a sweep pass writes every running product to
// dst[c·n + q·chunk + j], starting from incoming[c·nch + q − 1] for q ≥ 1 when has_incoming (the
// inclusive scan of the totals), from the chunk's first element otherwise. Chains whose info is
// set are skipped (their outputs are filled with NaN at the end).

template <class Fmt>
struct ChunkPass {
  using Buf = typename Fmt::Buf;
  std::int64_t d = 0, n = 0, chunk = 1, nch = 1, chains = 0;
  typename Fmt::Source src;
  typename Fmt::Dest dst;
  Buf incoming;
  bool has_incoming = false;
  bool sweep = false;
  bool later_left = true;
  const std::int32_t* info = nullptr;
  // Lockstep (large d) only.
  Buf acc, f;
  typename Fmt::Scratch scratch;
  std::int64_t step = 0;  // the element index j within each chunk of the current step

  __device__ std::int64_t len(std::int64_t q) const {
    const std::int64_t left = n - q * chunk;
    return left < chunk ? left : chunk;
  }
  __device__ bool starts_from_incoming(std::int64_t q) const { return has_incoming && q > 0; }
  /// Whether unit b combines element `step` in this lockstep step.
  __device__ bool active(std::int64_t b) const {
    const std::int64_t c = b / nch, q = b % nch;
    const std::int64_t first = starts_from_incoming(q) ? 0 : 1;
    return step >= first && step < len(q) && info[c] == 0;
  }
  __device__ std::int64_t element(std::int64_t b, std::int64_t j) const {
    return (b / nch) * n + (b % nch) * chunk + j;
  }
};

/// Small d: one block per unit, the running product and the factor in shared memory.
template <class Fmt, int BlockSize>
DYNX_KERNEL __launch_bounds__(BlockSize) void chunk_scan_kernel(const ChunkPass<Fmt> p) {
  extern __shared__ __align__(16) unsigned char smem[];
  const typename Fmt::Shared sh = Fmt::carve(smem, p.d);
  const std::int64_t d = p.d, units = p.chains * p.nch;
  for (std::int64_t b = blockIdx.x; b < units; b += gridDim.x) {
    const std::int64_t c = b / p.nch, q = b % p.nch;
    if (__syncthreads_or(p.info[c] != 0)) continue;  // the same answer for the whole block
    const std::int64_t len = p.len(q), base = p.element(b, 0);
    std::int64_t j0 = 1;
    if (p.starts_from_incoming(q)) {
      const typename Fmt::View in = p.incoming.at(c * p.nch + q - 1, d);
      for (std::int64_t i = threadIdx.x; i < d; i += BlockSize) Fmt::copy_row(in, sh.acc, i, d);
      j0 = 0;
    } else {
      for (std::int64_t i = threadIdx.x; i < d; i += BlockSize)
        Fmt::load_row(p.src, base, i, d, sh.acc);
    }
    __syncthreads();
    if (p.sweep && j0 == 1)
      for (std::int64_t e = threadIdx.x; e < d * d; e += BlockSize)
        Fmt::store_entry(sh.acc, e % d, e / d, d, p.dst, base);
    for (std::int64_t j = j0; j < len; ++j) {
      for (std::int64_t i = threadIdx.x; i < d; i += BlockSize)
        Fmt::load_row(p.src, base + j, i, d, sh.f);
      __syncthreads();
      if (p.later_left) {
        Fmt::combine_block(sh.f, sh.acc, sh.acc, sh, d);  // acc ← factor · acc
      } else {
        Fmt::combine_block(sh.acc, sh.f, sh.acc, sh, d);  // acc ← acc · factor
      }
      if (p.sweep)
        for (std::int64_t e = threadIdx.x; e < d * d; e += BlockSize)
          Fmt::store_entry(sh.acc, e % d, e / d, d, p.dst, base + j);
    }
    if (!p.sweep)
      for (std::int64_t e = threadIdx.x; e < d * d; e += BlockSize)
        Fmt::store_entry(sh.acc, e % d, e / d, d, p.dst, b);
    __syncthreads();  // shared memory is reused by the next unit
  }
}

// Lockstep kernels (large d): one thread per (unit, row); t = b·d + row.

/// Step 0: acc[b] = incoming prefix (q ≥ 1 with has_incoming) or the chunk's first element
/// (written out when sweeping).
template <class Fmt, int BlockSize>
DYNX_KERNEL __launch_bounds__(BlockSize) void lockstep_init_kernel(const ChunkPass<Fmt> p) {
  const std::int64_t d = p.d, rows = p.chains * p.nch * d;
  for (std::int64_t t = std::int64_t{blockIdx.x} * BlockSize + threadIdx.x; t < rows;
       t += std::int64_t{gridDim.x} * BlockSize) {
    const std::int64_t b = t / d, row = t % d, c = b / p.nch, q = b % p.nch;
    if (p.info[c] != 0) continue;
    const typename Fmt::View acc = p.acc.at(b, d);
    if (p.starts_from_incoming(q)) {
      Fmt::copy_row(p.incoming.at(c * p.nch + q - 1, d), acc, row, d);
    } else {
      const std::int64_t k = p.element(b, 0);
      Fmt::load_row(p.src, k, row, d, acc);
      if (p.sweep)
        for (std::int64_t j = 0; j < d; ++j) Fmt::store_entry(acc, row, j, d, p.dst, k);
    }
  }
}

/// f[b] = element `step` of each active unit.
template <class Fmt, int BlockSize>
DYNX_KERNEL __launch_bounds__(BlockSize) void lockstep_load_kernel(const ChunkPass<Fmt> p) {
  const std::int64_t d = p.d, rows = p.chains * p.nch * d;
  for (std::int64_t t = std::int64_t{blockIdx.x} * BlockSize + threadIdx.x; t < rows;
       t += std::int64_t{gridDim.x} * BlockSize) {
    const std::int64_t b = t / d, row = t % d;
    if (!p.active(b)) continue;
    Fmt::load_row(p.src, p.element(b, p.step), row, d, p.f.at(b, d));
  }
}

/// The format's pre-GEMM row pass 1 or 2 on (left, right) = (f, acc) for later_left, (acc, f)
/// otherwise.
template <class Fmt, int BlockSize, int Pass>
DYNX_KERNEL __launch_bounds__(BlockSize) void lockstep_prepass_kernel(const ChunkPass<Fmt> p) {
  const std::int64_t d = p.d, rows = p.chains * p.nch * d;
  for (std::int64_t t = std::int64_t{blockIdx.x} * BlockSize + threadIdx.x; t < rows;
       t += std::int64_t{gridDim.x} * BlockSize) {
    const std::int64_t b = t / d, row = t % d;
    if (!p.active(b)) continue;
    const typename Fmt::View acc = p.acc.at(b, d), f = p.f.at(b, d);
    const typename Fmt::View left = p.later_left ? f : acc, right = p.later_left ? acc : f;
    if constexpr (Pass == 1) {
      Fmt::prepass1(left, right, p.scratch, b, row, d);
    } else {
      Fmt::prepass2(left, right, p.scratch, b, row, d);
    }
  }
}

/// acc[b] = the product from the GEMM's z (renormalised / as GOOM); written out when sweeping.
template <class Fmt, int BlockSize>
DYNX_KERNEL __launch_bounds__(BlockSize) void lockstep_finish_kernel(const ChunkPass<Fmt> p) {
  const std::int64_t d = p.d, rows = p.chains * p.nch * d;
  for (std::int64_t t = std::int64_t{blockIdx.x} * BlockSize + threadIdx.x; t < rows;
       t += std::int64_t{gridDim.x} * BlockSize) {
    const std::int64_t b = t / d, row = t % d;
    if (!p.active(b)) continue;
    const typename Fmt::View acc = p.acc.at(b, d);
    Fmt::finish_row(acc, p.scratch, b, row, d);
    if (p.sweep) {
      const std::int64_t k = p.element(b, p.step);
      for (std::int64_t j = 0; j < d; ++j) Fmt::store_entry(acc, row, j, d, p.dst, k);
    }
  }
}

/// Reduce passes: dst[b] = acc[b].
template <class Fmt, int BlockSize>
DYNX_KERNEL __launch_bounds__(BlockSize) void lockstep_store_kernel(const ChunkPass<Fmt> p) {
  const std::int64_t d = p.d, rows = p.chains * p.nch * d;
  for (std::int64_t t = std::int64_t{blockIdx.x} * BlockSize + threadIdx.x; t < rows;
       t += std::int64_t{gridDim.x} * BlockSize) {
    const std::int64_t b = t / d, row = t % d;
    if (p.info[b / p.nch] != 0) continue;
    const typename Fmt::View acc = p.acc.at(b, d);
    for (std::int64_t j = 0; j < d; ++j) Fmt::store_entry(acc, row, j, d, p.dst, b);
  }
}

// --- status --------------------------------------------------------------------------------------

/// What makes a chain's input non_finite.
enum ChainCheck : int {
  kCheckReal = 0,        ///< NaN or ±Inf
  kCheckGoom = 1,        ///< NaN or +∞ logmag
  kCheckGoomScaled = 2,  ///< as kCheckGoom, or a row beyond the scaled format's exponent range
};

/// info[k / per_chain] = non_finite for every matrix k (of `count`, rows × cols) whose rows fail
/// `check`; other entries are left as they are. One thread per matrix row.
template <int BlockSize, class T>
DYNX_KERNEL __launch_bounds__(BlockSize) void chain_check_kernel(
    const T* __restrict__ d_a, std::int64_t rows, std::int64_t cols, std::int64_t ld,
    std::int64_t stride, std::int64_t count, std::int64_t per_chain, int check,
    std::int32_t* __restrict__ d_info) {
  const std::int64_t total = count * rows;
  for (std::int64_t t = std::int64_t{blockIdx.x} * BlockSize + threadIdx.x; t < total;
       t += std::int64_t{gridDim.x} * BlockSize) {
    const std::int64_t k = t / rows, row = t % rows;
    const T* a = d_a + k * stride;
    bool bad = false;
    T big = -std::numeric_limits<T>::infinity();
    for (std::int64_t j = 0; j < cols; ++j) {
      const T v = a[j * ld + row];
      if (check == kCheckReal) {
        bad |= !isfinite(v);
      } else {
        bad |= goom_bad(v);
        big = fmax(big, v);
      }
    }
    if (check == kCheckGoomScaled && big > -std::numeric_limits<T>::infinity() &&
        fabs(static_cast<double>(big)) > kScaledMaxLogmag)
      bad = true;
    if (bad) d_info[k / per_chain] = kNonFiniteStatus;
  }
}

/// Matrices k of chains with info[k / per_chain] != 0 become NaN (and their signs 0 when given).
template <int BlockSize, class T>
DYNX_KERNEL __launch_bounds__(BlockSize) void chain_nan_fill_kernel(
    T* __restrict__ d_a, std::int64_t ld, std::int64_t stride, std::uint8_t* __restrict__ d_neg,
    std::int64_t ld_neg, std::int64_t stride_neg, std::int64_t rows, std::int64_t cols,
    std::int64_t count, std::int64_t per_chain, const std::int32_t* __restrict__ d_info) {
  const std::int64_t elems = rows * cols;
  for (std::int64_t k = blockIdx.y; k < count; k += gridDim.y) {
    if (d_info[k / per_chain] == 0) continue;
    for (std::int64_t e = std::int64_t{blockIdx.x} * BlockSize + threadIdx.x; e < elems;
         e += std::int64_t{gridDim.x} * BlockSize) {
      const std::int64_t i = e % rows, j = e / rows;
      d_a[k * stride + j * ld + i] = NanOf<T>::value();
      if (d_neg) d_neg[k * stride_neg + j * ld_neg + i] = 0;
    }
  }
}

// --- affine recurrences x_t = A_t x_{t−1} + b_t --------------------------------------------------
// Chains of `steps` steps split into nch chunks of `chunk` steps. Phase 1: chunk 0 of each chain is
// swept from x0 (its outputs written), chunks 1 … nch−2 are composed into their maps
// (Ā = A_last ⋯ A_first, b̄ = the chunk's state from x = 0). Phase 2: per chain, the incoming
// states of chunks 1 … nch−1 (chunk 1's is chunk 0's last output). Phase 3: chunks 1 … nch−1 are
// swept from their incoming states. As in the CPU backend, a sweep reads its previous state back
// from the output it has just written. One block per (chain, chunk) unit; states and maps are
// packed d × n (ld d) in the workspace; the running map of a compose lives in `work` (shared
// memory, or a per-block slot of a workspace array when it does not fit).

template <class T>
struct AffinePass {
  std::int64_t d = 0, n = 0, steps = 0, chunk = 1, nch = 1, chains = 0;
  bool diagonal = false;
  const T* a = nullptr;
  std::int64_t lda = 0, stride_a = 0;
  const T* b = nullptr;
  std::int64_t ldb = 0, stride_b = 0;
  const T* x0 = nullptr;
  std::int64_t ldx0 = 0, stride_x0 = 0;
  T* x = nullptr;
  std::int64_t ldx = 0, stride_x = 0;
  T* map_a = nullptr;  // per unit: d × d (dense) or d (diagonal)
  T* map_b = nullptr;  // per unit: d × n
  T* state = nullptr;  // per unit: the incoming state, d × n
  T* work = nullptr;   // null: dynamic shared memory; else gridDim.x slots of work_elems
  std::int64_t work_elems = 0;
  std::int32_t* info = nullptr;

  __host__ __device__ std::int64_t map_a_elems() const { return diagonal ? d : d * d; }
  __device__ std::int64_t len(std::int64_t q) const {
    const std::int64_t left = steps - q * chunk;
    return left < chunk ? left : chunk;
  }
};

/// Sweeps steps [t0, t0 + len) of chain c from the state y (ld ldy), writing x_t; flags the chain
/// when a state is not finite (overflow). The whole block; no shared memory.
template <class T>
__device__ void affine_sweep_block(const AffinePass<T>& p, std::int64_t c, std::int64_t t0,
                                   std::int64_t len, const T* y, std::int64_t ldy) {
  const std::int64_t d = p.d, n = p.n;
  bool bad = false;
  for (std::int64_t s = t0; s < t0 + len; ++s) {
    const std::int64_t k = c * p.steps + s;
    const T* A = p.a + k * p.stride_a;
    const T* bk = p.b + k * p.stride_b;
    T* out = p.x + k * p.stride_x;
    for (std::int64_t e = threadIdx.x; e < d * n; e += blockDim.x) {
      const std::int64_t i = e % d, j = e / d;
      T v;
      if (p.diagonal) {
        v = A[i] * y[j * ldy + i] + bk[j * p.ldb + i];
      } else {
        T acc = 0;
        for (std::int64_t l = 0; l < d; ++l) acc = fma(A[l * p.lda + i], y[j * ldy + l], acc);
        v = acc + bk[j * p.ldb + i];
      }
      out[j * p.ldx + i] = v;
      bad |= !isfinite(v);
    }
    __syncthreads();  // out is the next step's y (global writes are visible to the block now)
    y = out;
    ldy = p.ldx;
  }
  if (bad) p.info[c] = kNonFiniteStatus;
}

/// The map of chunk q of chain c into map_a / map_b of unit c·nch + q. Dense: the running (Ā, b̄)
/// stay in the unit's map slot and each step's product goes through `work` (d × d + d × n).
template <class T>
__device__ void affine_compose_block(const AffinePass<T>& p, std::int64_t c, std::int64_t q,
                                     T* work) {
  const std::int64_t d = p.d, n = p.n, u = c * p.nch + q;
  const std::int64_t t0 = q * p.chunk, len = p.len(q);
  T* ma = p.map_a + u * p.map_a_elems();
  T* mb = p.map_b + u * d * n;
  // The first step's map is (A, b) itself (the CPU starts from (I, 0): the same values exactly).
  {
    const std::int64_t k = c * p.steps + t0;
    const T* A = p.a + k * p.stride_a;
    const T* bk = p.b + k * p.stride_b;
    for (std::int64_t e = threadIdx.x; e < p.map_a_elems(); e += blockDim.x)
      ma[e] = p.diagonal ? A[e] : A[(e / d) * p.lda + e % d];
    for (std::int64_t e = threadIdx.x; e < d * n; e += blockDim.x)
      mb[e] = bk[(e / d) * p.ldb + e % d];
  }
  __syncthreads();
  for (std::int64_t s = t0 + 1; s < t0 + len; ++s) {
    const std::int64_t k = c * p.steps + s;
    const T* A = p.a + k * p.stride_a;
    const T* bk = p.b + k * p.stride_b;
    if (p.diagonal) {
      // Element-wise: each thread owns the same entries at every step, so no synchronisation.
      for (std::int64_t e = threadIdx.x; e < d * n; e += blockDim.x) {
        const std::int64_t i = e % d, j = e / d;
        mb[e] = A[i] * mb[e] + bk[j * p.ldb + i];
      }
      for (std::int64_t i = threadIdx.x; i < d; i += blockDim.x) ma[i] *= A[i];
    } else {
      // work = (A·Ā, A·b̄ + b), then copied back.
      for (std::int64_t e = threadIdx.x; e < d * d + d * n; e += blockDim.x) {
        const bool is_b = e >= d * d;
        const std::int64_t f = is_b ? e - d * d : e;
        const std::int64_t i = f % d, j = f / d;
        const T* src = is_b ? mb : ma;
        T acc = 0;
        for (std::int64_t l = 0; l < d; ++l) acc = fma(A[l * p.lda + i], src[j * d + l], acc);
        work[e] = is_b ? acc + bk[j * p.ldb + i] : acc;
      }
      __syncthreads();
      for (std::int64_t e = threadIdx.x; e < d * d + d * n; e += blockDim.x) {
        if (e < d * d) {
          ma[e] = work[e];
        } else {
          mb[e - d * d] = work[e];
        }
      }
      __syncthreads();
    }
  }
}

/// Phase 1 (see above); also the whole scan when nch == 1 (every unit is a chunk 0).
template <int BlockSize, class T>
DYNX_KERNEL __launch_bounds__(BlockSize) void affine_phase1_kernel(const AffinePass<T> p) {
  extern __shared__ __align__(16) unsigned char smem[];
  T* work = p.work ? p.work + std::int64_t{blockIdx.x} * p.work_elems : reinterpret_cast<T*>(smem);
  const std::int64_t per_chain = p.nch > 1 ? p.nch - 1 : 1;
  const std::int64_t units = p.chains * per_chain;
  for (std::int64_t u = blockIdx.x; u < units; u += gridDim.x) {
    const std::int64_t c = u / per_chain, q = u % per_chain;
    // info[c] may be set by another block meanwhile (overflow): decide once for the whole block.
    if (__syncthreads_or(p.info[c] != 0)) continue;
    if (q == 0) {
      affine_sweep_block(p, c, 0, p.len(0), p.x0 + c * p.stride_x0, p.ldx0);
    } else {
      affine_compose_block(p, c, q, work);
    }
    __syncthreads();
  }
}

/// Phase 2: one block per chain; state[c·nch + q] = incoming state of chunk q, q ≥ 1.
template <int BlockSize, class T>
DYNX_KERNEL __launch_bounds__(BlockSize) void affine_phase2_kernel(const AffinePass<T> p) {
  const std::int64_t d = p.d, n = p.n;
  for (std::int64_t c = blockIdx.x; c < p.chains; c += gridDim.x) {
    if (__syncthreads_or(p.info[c] != 0)) continue;
    T* s1 = p.state + (c * p.nch + 1) * d * n;
    const T* x_last = p.x + (c * p.steps + p.chunk - 1) * p.stride_x;
    for (std::int64_t e = threadIdx.x; e < d * n; e += blockDim.x)
      s1[e] = x_last[(e / d) * p.ldx + e % d];
    __syncthreads();
    for (std::int64_t q = 2; q < p.nch; ++q) {
      const std::int64_t u = c * p.nch + q - 1;
      const T* prev = p.state + u * d * n;
      T* cur = p.state + (u + 1) * d * n;
      const T* ma = p.map_a + u * p.map_a_elems();
      const T* mb = p.map_b + u * d * n;
      for (std::int64_t e = threadIdx.x; e < d * n; e += blockDim.x) {
        const std::int64_t i = e % d, j = e / d;
        T v = mb[e];
        if (p.diagonal) {
          v += ma[i] * prev[e];
        } else {
          for (std::int64_t l = 0; l < d; ++l) v += ma[l * d + i] * prev[j * d + l];
        }
        cur[e] = v;
      }
      __syncthreads();
    }
  }
}

/// Phase 3: chunks 1 … nch−1 swept from their incoming states.
template <int BlockSize, class T>
DYNX_KERNEL __launch_bounds__(BlockSize) void affine_phase3_kernel(const AffinePass<T> p) {
  const std::int64_t per_chain = p.nch - 1, units = p.chains * per_chain;
  for (std::int64_t u = blockIdx.x; u < units; u += gridDim.x) {
    const std::int64_t c = u / per_chain, q = 1 + u % per_chain;
    if (__syncthreads_or(p.info[c] != 0)) continue;
    affine_sweep_block(p, c, q * p.chunk, p.len(q), p.state + (c * p.nch + q) * p.d * p.n, p.d);
    __syncthreads();
  }
}

}  // namespace dynx::cuda::kernels
