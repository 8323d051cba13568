// Scans over matrix products and affine recurrences on the CPU: a chunked three-phase scan,
// parallel over (chain, chunk) units with OpenMP.
//
//   1. Each chunk but the last of a chain is swept from the identity, giving its total (chunk 0
//      writes its outputs on the way, since its incoming prefix is the identity).
//   2. The chunk totals are composed in order, giving each chunk's incoming prefix.
//   3. Each chunk but the first is swept from its incoming prefix, writing its outputs.
//
// An inclusive scan with K chunks per chain does about (2 − 2/K)·T products at depth 2T/K; a
// reduce does T − 1 at depth T/K (phase 3 is not needed). With as many chains as threads, one
// chunk per chain (a plain sequential sweep) is the least work and is what the automatic choice
// takes.

#include "cpu/goom_formats.hpp"

#include <atomic>
#include <memory>

namespace dynx::cpu {
namespace {

// Chunks per chain: from an explicit chunk size, or enough to keep `threads` busy (automatic).
std::int64_t chunks_per_chain(std::int64_t chains, std::int64_t steps, std::int64_t chunk,
                              int threads, bool inclusive) {
  if (chunk > 0) return (steps + chunk - 1) / chunk;
  if (chains >= threads || steps < 64) return 1;
  const std::int64_t per_chain = (threads + chains - 1) / chains;
  // Inclusive: K = p + 1 chunks keep p threads busy in both sweeps (phase 1 skips the last chunk,
  // phase 3 the first), for a depth of 2T/(p + 1).
  return std::min<std::int64_t>(steps, inclusive ? per_chain + 1 : per_chain);
}

template <class T, class Format>
void product_scan_in(Context& ctx, const detail::ProductScanArgs& a) {
  using Mat = typename Format::Mat;
  const std::int64_t d = a.d, steps = a.steps, chains = a.chains;
  const bool inclusive = a.kind == ScanKind::inclusive;
  const bool later_left = a.order == ProductOrder::later_left;
  const int threads = ctx.num_threads();
  const std::int64_t K = chunks_per_chain(chains, steps, a.chunk, threads, inclusive);
  const std::int64_t chunk = (steps + K - 1) / K;
  const std::int64_t nchunks = (steps + chunk - 1) / chunk;  // ≤ K

  const auto* in = static_cast<const T*>(a.in.data);
  const auto* in_neg = static_cast<const std::uint8_t*>(a.in_neg.data);
  auto* out = static_cast<T*>(a.out.data);
  auto* out_neg = static_cast<std::uint8_t*>(a.out_neg.data);
  std::vector<std::atomic<bool>> failed(static_cast<std::size_t>(chains));
  for (auto& f : failed) f.store(false, std::memory_order_relaxed);

  const int nthreads = std::max(1, threads);
  std::vector<std::unique_ptr<Format>> formats;
  std::vector<Mat> factor, acc, tmp;
  for (int t = 0; t < nthreads; ++t) {
    formats.push_back(std::make_unique<Format>(d));
    factor.push_back(formats.back()->make());
    acc.push_back(formats.back()->make());
    tmp.push_back(formats.back()->make());
  }
  // Chunk totals (phase 1) and incoming prefixes (phase 2), chain-major.
  std::vector<Mat> total(std::size_t(chains * nchunks)), prefix(std::size_t(chains * nchunks));

  auto load = [&](Format& f, std::int64_t idx, Mat& x) {
    return in_neg ? f.load_goom(in + idx * a.in.stride, a.in.ld, in_neg + idx * a.in_neg.stride,
                                a.in_neg.ld, x)
                  : f.load_real(in + idx * a.in.stride, a.in.ld, x);
  };
  // acc ← "acc, then x": x·acc (later_left) or acc·x.
  auto compose = [&](Format& f, Mat& accm, const Mat& x, Mat& scratch) {
    if (later_left) f.mul(x, accm, scratch); else f.mul(accm, x, scratch);
    std::swap(accm, scratch);
  };
  auto store = [&](Format& f, const Mat& x, std::int64_t o) {
    f.store(x, out + o * a.out.stride, a.out.ld, out_neg + o * a.out_neg.stride, a.out_neg.ld);
  };
  // Sweeps chunk j of chain c, from `start` (null: identity); writes outputs when `write`; leaves
  // the chunk's (or chunk-and-prefix) product in acc[t].
  auto sweep = [&](std::int64_t c, std::int64_t j, const Mat* start, bool write, int t) {
    Format& f = *formats[std::size_t(t)];
    Mat& x = factor[std::size_t(t)];
    Mat& accm = acc[std::size_t(t)];
    const std::int64_t t0 = j * chunk, t1 = std::min(steps, t0 + chunk);
    if (start) accm = *start; else f.identity(accm);
    for (std::int64_t s = t0; s < t1; ++s) {
      if (failed[std::size_t(c)].load(std::memory_order_relaxed)) return false;
      if (!load(f, c * steps + s, x)) {
        failed[std::size_t(c)].store(true, std::memory_order_relaxed);
        return false;
      }
      if (s == t0 && !start) std::swap(accm, x); else compose(f, accm, x, tmp[std::size_t(t)]);
      if (write && inclusive) store(f, accm, c * steps + s);
    }
    return true;
  };

  // Phase 1: totals of every chunk except the last of a chain (inclusive); all chunks (reduce).
  const std::int64_t p1 = inclusive ? nchunks - 1 : nchunks;
  if (p1 == 0) {  // one chunk per chain (inclusive): one sequential sweep per chain
    for_each_unit(nthreads, chains, [&](std::int64_t c, int t) { sweep(c, 0, nullptr, true, t); });
  } else {
    for_each_unit(nthreads, chains * p1, [&](std::int64_t u, int t) {
      const std::int64_t c = u / p1, j = u % p1;
      if (sweep(c, j, nullptr, j == 0, t)) total[std::size_t(c * nchunks + j)] = acc[std::size_t(t)];
    });
    // Phase 2: incoming prefixes (inclusive) or the full product (reduce), per chain.
    for_each_unit(nthreads, chains, [&](std::int64_t c, int t) {
      if (failed[std::size_t(c)].load()) return;
      Format& f = *formats[std::size_t(t)];
      Mat run = total[std::size_t(c * nchunks)];
      for (std::int64_t j = 1; j < p1; ++j) {
        if (inclusive) prefix[std::size_t(c * nchunks + j)] = run;
        compose(f, run, total[std::size_t(c * nchunks + j)], tmp[std::size_t(t)]);
      }
      if (inclusive) prefix[std::size_t(c * nchunks + p1)] = run; else store(f, run, c);
    });
    // Phase 3: sweep chunks 1 … K−1 from their prefixes.
    if (inclusive) {
      for_each_unit(nthreads, chains * (nchunks - 1), [&](std::int64_t u, int t) {
        const std::int64_t c = u / (nchunks - 1), j = 1 + u % (nchunks - 1);
        if (failed[std::size_t(c)].load()) return;
        sweep(c, j, &prefix[std::size_t(c * nchunks + j)], true, t);
      });
    }
  }
  // Status, and NaN outputs for failed chains.
  const std::int64_t per_chain = inclusive ? steps : 1;
  for (std::int64_t c = 0; c < chains; ++c) {
    const bool bad = failed[std::size_t(c)].load();
    set_status(a.info, c, bad ? MatrixStatus::non_finite : MatrixStatus::ok);
    if (bad)
      for (std::int64_t o = c * per_chain; o < (c + 1) * per_chain; ++o)
        fill(out + o * a.out.stride, d, d, a.out.ld, std::numeric_limits<T>::quiet_NaN());
  }
}

}  // namespace

template <class T>
void product_scan(Context& ctx, const detail::ProductScanArgs& a) {
  const bool wide = a.precision == InnerPrecision::f64 || std::is_same_v<T, double>;
  if (a.format == ScanFormat::scaled) {
    if (wide) product_scan_in<T, ScaledFormat<double>>(ctx, a);
    else product_scan_in<T, ScaledFormat<float>>(ctx, a);
  } else {
    if (wide) product_scan_in<T, GoomFormat<double>>(ctx, a);
    else product_scan_in<T, GoomFormat<float>>(ctx, a);
  }
}

// ------------------------------------------------------------------------------------------------
// Affine recurrences x_t = A_t x_{t−1} + b_t.

namespace {

template <class T>
struct AffineIo {
  const detail::AffineScanArgs& a;
  const T* A(std::int64_t i) const { return static_cast<const T*>(a.a.data) + i * a.a.stride; }
  const T* B(std::int64_t i) const { return static_cast<const T*>(a.b.data) + i * a.b.stride; }
  T* X(std::int64_t i) const { return static_cast<T*>(a.x.data) + i * a.x.stride; }
};

// out (d × n) ← A_i y + b_i.
template <class T>
void affine_step(const AffineIo<T>& io, std::int64_t i, const T* y, std::int64_t ldy, T* out,
                 std::int64_t ldo) {
  const auto& a = io.a;
  const std::int64_t d = a.d, n = a.n;
  const T* A = io.A(i);
  const T* b = io.B(i);
  if (a.diagonal) {
    for (std::int64_t j = 0; j < n; ++j)
      for (std::int64_t r = 0; r < d; ++r) out[j * ldo + r] = A[r] * y[j * ldy + r] + b[j * a.b.ld + r];
  } else {
    for (std::int64_t j = 0; j < n; ++j)
      for (std::int64_t r = 0; r < d; ++r) out[j * ldo + r] = b[j * a.b.ld + r];
    gemm_one<T>(false, false, int(d), int(n), int(d), T(1), A, int(a.a.ld), y, int(ldy), T(1), out,
                int(ldo));
  }
}

}  // namespace

template <class T>
void affine_scan(Context& ctx, const detail::AffineScanArgs& a) {
  const std::int64_t d = a.d, n = a.n, steps = a.steps, chains = a.chains;
  const int threads = std::max(1, ctx.num_threads());
  const AffineIo<T> io{a};
  // Chunking costs the chunk maps' products (d³ per step dense, d diagonal) on top of the sweeps
  // (d²n dense, dn diagonal): worth it only when that extra work is repaid by the threads.
  std::int64_t K = 1;
  if (a.chunk > 0) {
    K = (steps + a.chunk - 1) / a.chunk;
  } else if (chains < threads && steps >= 256) {
    const double sweep = a.diagonal ? double(d * n) : double(d * d * n);
    const double compose = a.diagonal ? double(d) : double(d * d * d);
    const std::int64_t p = (threads + chains - 1) / chains;
    // Depth with K = p + 1 chunks ≈ (2 sweeps + 1 compose)·T/(p + 1) against T·sweep.
    if ((2 * sweep + compose) / double(p + 1) < 0.8 * sweep) K = p + 1;
  }
  const std::int64_t chunk = (steps + K - 1) / K, nchunks = (steps + chunk - 1) / chunk;
  std::vector<std::atomic<bool>> failed(static_cast<std::size_t>(chains));
  for (auto& f : failed) f.store(false, std::memory_order_relaxed);

  const std::int64_t asz = a.diagonal ? d : d * d;
  // Per (chain, chunk): the composite map (Ā, b̄) of the chunk, and its incoming state.
  std::vector<T> amap(std::size_t(chains * nchunks * asz)), bmap(std::size_t(chains * nchunks * d * n)),
      xin(std::size_t(chains * nchunks * d * n));
  std::vector<std::vector<T>> scratch(std::size_t(threads), std::vector<T>(std::size_t(std::max(asz, d * n))));

  auto chain_x0 = [&](std::int64_t c, T* dst) {
    const T* x0 = static_cast<const T*>(a.x0.data) + c * a.x0.stride;
    for (std::int64_t j = 0; j < n; ++j)
      for (std::int64_t r = 0; r < d; ++r) dst[j * d + r] = x0[j * a.x0.ld + r];
  };
  auto inputs_finite = [&](std::int64_t i) {
    return (a.diagonal ? all_finite(io.A(i), d, 1, a.a.ld) : all_finite(io.A(i), d, d, a.a.ld)) &&
           all_finite(io.B(i), d, n, a.b.ld);
  };
  // Sweep chunk j of chain c from the state y0 (d × n, ld d), writing the outputs.
  auto sweep = [&](std::int64_t c, std::int64_t j, const T* y0) {
    const std::int64_t t0 = j * chunk, t1 = std::min(steps, t0 + chunk);
    const T* y = y0;
    std::int64_t ldy = d;
    for (std::int64_t s = t0; s < t1; ++s) {
      const std::int64_t i = c * steps + s;
      if (!inputs_finite(i)) {
        failed[std::size_t(c)].store(true, std::memory_order_relaxed);
        return;
      }
      affine_step(io, i, y, ldy, io.X(i), a.x.ld);
      y = io.X(i);
      ldy = a.x.ld;
    }
  };
  // Composite map of chunk j: Ā = A_{t1−1} ⋯ A_{t0}, b̄ = the chunk's state from x = 0.
  auto compose_chunk = [&](std::int64_t c, std::int64_t j, int t) {
    const std::int64_t t0 = j * chunk, t1 = std::min(steps, t0 + chunk);
    T* am = amap.data() + (c * nchunks + j) * asz;
    T* bm = bmap.data() + (c * nchunks + j) * d * n;
    T* tmpa = scratch[std::size_t(t)].data();
    std::fill(bm, bm + d * n, T(0));
    if (a.diagonal) std::fill(am, am + d, T(1));
    else { std::fill(am, am + d * d, T(0)); for (std::int64_t r = 0; r < d; ++r) am[r * d + r] = T(1); }
    std::vector<T> bt(std::size_t(d * n));
    for (std::int64_t s = t0; s < t1; ++s) {
      const std::int64_t i = c * steps + s;
      if (!inputs_finite(i)) {
        failed[std::size_t(c)].store(true, std::memory_order_relaxed);
        return;
      }
      affine_step(io, i, bm, d, bt.data(), d);
      std::copy(bt.begin(), bt.end(), bm);
      if (a.diagonal) {
        for (std::int64_t r = 0; r < d; ++r) am[r] *= io.A(i)[r];
      } else {
        gemm_one<T>(false, false, int(d), int(d), int(d), T(1), io.A(i), int(a.a.ld), am, int(d), T(0),
                    tmpa, int(d));
        std::copy(tmpa, tmpa + d * d, am);
      }
    }
  };

  if (nchunks == 1) {
    for_each_unit(threads, chains, [&](std::int64_t c, int) {
      std::vector<T> y(std::size_t(d * n));
      chain_x0(c, y.data());
      sweep(c, 0, y.data());
    });
  } else {
    // Phase 1: chunk 0 swept from x0; chunks 1 … K−2 composed (the last one is never needed).
    for_each_unit(threads, chains * (nchunks - 1), [&](std::int64_t u, int t) {
      const std::int64_t c = u / (nchunks - 1), j = u % (nchunks - 1);
      if (j == 0) {
        T* y = xin.data() + (c * nchunks) * d * n;
        chain_x0(c, y);
        sweep(c, 0, y);
      } else {
        compose_chunk(c, j, t);
      }
    });
    // Phase 2: incoming states of chunks 2 … K−1 (chunk 1's is chunk 0's last output).
    for_each_unit(threads, chains, [&](std::int64_t c, int) {
      if (failed[std::size_t(c)].load()) return;
      T* x1 = xin.data() + (c * nchunks + 1) * d * n;
      copy_matrix(io.X(c * steps + chunk - 1), a.x.ld, x1, d, d, n);
      for (std::int64_t j = 2; j < nchunks; ++j) {
        const T* prev = xin.data() + (c * nchunks + j - 1) * d * n;
        T* cur = xin.data() + (c * nchunks + j) * d * n;
        const T* am = amap.data() + (c * nchunks + j - 1) * asz;
        const T* bm = bmap.data() + (c * nchunks + j - 1) * d * n;
        for (std::int64_t q = 0; q < n; ++q)
          for (std::int64_t r = 0; r < d; ++r) {
            T v = bm[q * d + r];
            if (a.diagonal) v += am[r] * prev[q * d + r];
            else for (std::int64_t l = 0; l < d; ++l) v += am[l * d + r] * prev[q * d + l];
            cur[q * d + r] = v;
          }
      }
    });
    // Phase 3: sweep chunks 1 … K−1.
    for_each_unit(threads, chains * (nchunks - 1), [&](std::int64_t u, int) {
      const std::int64_t c = u / (nchunks - 1), j = 1 + u % (nchunks - 1);
      if (failed[std::size_t(c)].load()) return;
      sweep(c, j, xin.data() + (c * nchunks + j) * d * n);
    });
  }
  for (std::int64_t c = 0; c < chains; ++c) {
    bool bad = failed[std::size_t(c)].load();
    // Overflow of the states (or of a chunk map carried into them) shows as a non-finite output.
    for (std::int64_t s = 0; s < steps && !bad; ++s)
      bad = !all_finite(io.X(c * steps + s), d, n, a.x.ld);
    set_status(a.info, c, bad ? MatrixStatus::non_finite : MatrixStatus::ok);
    if (bad)
      for (std::int64_t s = 0; s < steps; ++s)
        fill(io.X(c * steps + s), d, n, a.x.ld, std::numeric_limits<T>::quiet_NaN());
  }
}

template void product_scan<float>(Context&, const detail::ProductScanArgs&);
template void product_scan<double>(Context&, const detail::ProductScanArgs&);
template void affine_scan<float>(Context&, const detail::AffineScanArgs&);
template void affine_scan<double>(Context&, const detail::AffineScanArgs&);

}  // namespace dynx::cpu
