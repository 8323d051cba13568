#pragma once
// CPU internals of the GOOM operations: one log-matmul-exp on the calling thread, and the two
// matrix formats a scan over products runs in (scaled float and GOOM), each with the same small
// interface (identity, load a factor, multiply, store as GOOM) so that one chunked scan serves both.

#include "cpu/cpu.hpp"

#include <dynx/math/goom.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

namespace dynx::cpu {

inline constexpr double kLn2 = 0.693147180559945309417232121458176568;

/// Scratch of lmme_one in compute type C.
template <class C>
struct LmmeScratch {
  std::vector<C> r, a, x, y, z;
  void reserve(std::int64_t m, std::int64_t n, std::int64_t k) {
    r.resize(std::size_t(k));
    a.resize(std::size_t(m));
    x.resize(std::size_t(m * k));
    y.resize(std::size_t(k * n));
    z.resize(std::size_t(m * n));
  }
};

/// True when a logmag is usable in a product: not NaN and not +∞ (−∞ is an exact zero).
template <class T>
inline bool goom_logmag_ok(T v) {
  return !(std::isnan(v) || v == std::numeric_limits<T>::infinity());
}

/// C = GOOM(exp(A) exp(B)) for one m × k A and k × n B with two-sided scaling (spec §3.4), the
/// real GEMM in compute type C. Returns false (C untouched) when an input logmag is NaN or +∞.
template <class T, class Cp>
bool lmme_one(std::int64_t m, std::int64_t n, std::int64_t k, const T* al, std::int64_t lda,
              const std::uint8_t* an, std::int64_t ldan, const T* bl, std::int64_t ldb,
              const std::uint8_t* bn, std::int64_t ldbn, T* cl, std::int64_t ldc,
              std::uint8_t* cn, std::int64_t ldcn, LmmeScratch<Cp>& s) {
  constexpr Cp ninf = -std::numeric_limits<Cp>::infinity();
  s.reserve(m, n, k);
  // r_l: row maxima of B (−∞ for an all-zero row).
  for (std::int64_t l = 0; l < k; ++l) s.r[l] = ninf;
  for (std::int64_t j = 0; j < n; ++j)
    for (std::int64_t l = 0; l < k; ++l) {
      const T v = bl[j * ldb + l];
      if (!goom_logmag_ok(v)) return false;
      s.r[l] = std::max(s.r[l], Cp(v));
    }
  // a_i: row maxima of A with r folded into its columns.
  for (std::int64_t i = 0; i < m; ++i) s.a[i] = ninf;
  for (std::int64_t l = 0; l < k; ++l)
    for (std::int64_t i = 0; i < m; ++i) {
      const T v = al[l * lda + i];
      if (!goom_logmag_ok(v)) return false;
      s.a[i] = std::max(s.a[i], Cp(v) + s.r[l]);
    }
  for (std::int64_t l = 0; l < k; ++l) {
    const bool zero_row = s.r[l] == ninf;
    for (std::int64_t i = 0; i < m; ++i) {
      Cp v = 0;
      if (!zero_row && s.a[i] != ninf) {
        v = std::exp((Cp(al[l * lda + i]) + s.r[l]) - s.a[i]);
        if (an[l * ldan + i]) v = -v;
      }
      s.x[l * m + i] = v;
    }
  }
  for (std::int64_t j = 0; j < n; ++j)
    for (std::int64_t l = 0; l < k; ++l) {
      Cp v = 0;
      if (s.r[l] != ninf) {
        v = std::exp(Cp(bl[j * ldb + l]) - s.r[l]);
        if (bn[j * ldbn + l]) v = -v;
      }
      s.y[j * k + l] = v;
    }
  gemm_one<Cp>(false, false, int(m), int(n), int(k), Cp(1), s.x.data(), int(std::max<std::int64_t>(m, 1)),
               s.y.data(), int(std::max<std::int64_t>(k, 1)), Cp(0), s.z.data(), int(std::max<std::int64_t>(m, 1)));
  for (std::int64_t j = 0; j < n; ++j)
    for (std::int64_t i = 0; i < m; ++i) {
      const Cp z = s.z[j * m + i];
      const bool zero = z == Cp(0) || s.a[i] == ninf;
      cl[j * ldc + i] = zero ? T(ninf) : T(std::log(std::fabs(z)) + s.a[i]);
      cn[j * ldcn + i] = !zero && z < Cp(0);
    }
  return true;
}

// ------------------------------------------------------------------------------------------------
// Scan formats. Each holds d × d matrices in compute type C and provides:
//   Mat                       one matrix
//   void identity(Mat&)
//   bool load_real(const T*, ld, Mat&) / load_goom(const T*, ld, const u8*, ld, Mat&)
//                             false when the factor holds NaN/Inf (GOOM: NaN or +∞ logmag)
//   void mul(const Mat& p, const Mat& q, Mat& out)   out = p · q (out distinct from p and q)
//   void store(const Mat&, T* logmag, ld, u8* neg, ld)

/// Scaled float (spec §3.5): mantissa rows with max |entry| in [1, 2) and int64 row exponents.
template <class C>
class ScaledFormat {
 public:
  struct Mat {
    std::vector<C> m;
    std::vector<std::int64_t> e;
  };
  explicit ScaledFormat(std::int64_t d) : d_(d), fold_(std::size_t(d * d)) {}
  Mat make() const { return {std::vector<C>(std::size_t(d_ * d_)), std::vector<std::int64_t>(std::size_t(d_))}; }

  void identity(Mat& x) const {
    std::fill(x.m.begin(), x.m.end(), C(0));
    std::fill(x.e.begin(), x.e.end(), 0);
    for (std::int64_t i = 0; i < d_; ++i) x.m[std::size_t(i * d_ + i)] = C(1);
  }

  template <class T>
  bool load_real(const T* a, std::int64_t lda, Mat& x) const {
    for (std::int64_t j = 0; j < d_; ++j)
      for (std::int64_t i = 0; i < d_; ++i) {
        const T v = a[j * lda + i];
        if (!std::isfinite(v)) return false;
        x.m[std::size_t(j * d_ + i)] = C(v);
      }
    std::fill(x.e.begin(), x.e.end(), 0);
    math::scaled_normalize_rows(d_, d_, x.m.data(), d_, x.e.data());
    return true;
  }

  template <class T>
  bool load_goom(const T* lg, std::int64_t ldl, const std::uint8_t* ng, std::int64_t ldn,
                 Mat& x) const {
    for (std::int64_t i = 0; i < d_; ++i) {
      double big = -std::numeric_limits<double>::infinity();
      for (std::int64_t j = 0; j < d_; ++j) {
        const T v = lg[j * ldl + i];
        if (!goom_logmag_ok(v)) return false;
        big = std::max(big, double(v));
      }
      // Beyond 2^62 in the exponent the format cannot hold the row (e^(3e18)): treat as overflow.
      if (big != -std::numeric_limits<double>::infinity() && std::fabs(big) > 3e18) return false;
      const std::int64_t e =
          big == -std::numeric_limits<double>::infinity() ? 0 : std::int64_t(std::floor(big / kLn2));
      x.e[std::size_t(i)] = e;
      for (std::int64_t j = 0; j < d_; ++j) {
        const double v = std::exp(double(lg[j * ldl + i]) - double(e) * kLn2);
        x.m[std::size_t(j * d_ + i)] = C(ng[j * ldn + i] ? -v : v);
      }
    }
    // Exact power-of-two touch-up: the exp above leaves the row max near, not exactly in, [1, 2).
    math::scaled_normalize_rows(d_, d_, x.m.data(), d_, x.e.data());
    return true;
  }

  // out = p · q with q's row exponents folded into p's columns two-sidedly (spec §3.5).
  void mul(const Mat& p, const Mat& q, Mat& out) {
    const std::int64_t d = d_;
    for (std::int64_t i = 0; i < d; ++i) {
      std::int64_t s = std::numeric_limits<std::int64_t>::min();
      for (std::int64_t l = 0; l < d; ++l) {
        const C v = p.m[std::size_t(l * d + i)];
        if (v != C(0)) s = std::max(s, std::int64_t(math::scaled_exponent(v)) + q.e[std::size_t(l)]);
      }
      if (s == std::numeric_limits<std::int64_t>::min()) s = 0;
      for (std::int64_t l = 0; l < d; ++l)  // shifts ≤ 0 for every nonzero term
        fold_[std::size_t(l * d + i)] = math::times_pow2(p.m[std::size_t(l * d + i)], q.e[std::size_t(l)] - s);
      out.e[std::size_t(i)] = p.e[std::size_t(i)] + s;
    }
    if (d <= 4) {  // below the blocked kernel's padding and call overhead
      for (std::int64_t j = 0; j < d; ++j)
        for (std::int64_t i = 0; i < d; ++i) {
          C acc = 0;
          for (std::int64_t l = 0; l < d; ++l) acc += fold_[std::size_t(l * d + i)] * q.m[std::size_t(j * d + l)];
          out.m[std::size_t(j * d + i)] = acc;
        }
    } else {
      gemm_one<C>(false, false, int(d), int(d), int(d), C(1), fold_.data(), int(d), q.m.data(), int(d),
                  C(0), out.m.data(), int(d));
    }
    math::scaled_normalize_rows(d, d, out.m.data(), d, out.e.data());
  }

  template <class T>
  void store(const Mat& x, T* lg, std::int64_t ldl, std::uint8_t* ng, std::int64_t ldn) const {
    for (std::int64_t j = 0; j < d_; ++j)
      for (std::int64_t i = 0; i < d_; ++i) {
        const C v = x.m[std::size_t(j * d_ + i)];
        lg[j * ldl + i] = v == C(0) ? -std::numeric_limits<T>::infinity()
                                    : T(std::log(std::fabs(double(v))) + double(x.e[std::size_t(i)]) * kLn2);
        ng[j * ldn + i] = v < C(0);
      }
  }

 private:
  std::int64_t d_;
  std::vector<C> fold_;
};

/// GOOMs with log-matmul-exp as the product (the published method).
template <class C>
class GoomFormat {
 public:
  struct Mat {
    std::vector<C> lg;
    std::vector<std::uint8_t> ng;
  };
  explicit GoomFormat(std::int64_t d) : d_(d) {}
  Mat make() const { return {std::vector<C>(std::size_t(d_ * d_)), std::vector<std::uint8_t>(std::size_t(d_ * d_))}; }

  void identity(Mat& x) const {
    std::fill(x.lg.begin(), x.lg.end(), -std::numeric_limits<C>::infinity());
    std::fill(x.ng.begin(), x.ng.end(), std::uint8_t(0));
    for (std::int64_t i = 0; i < d_; ++i) x.lg[std::size_t(i * d_ + i)] = C(0);
  }

  template <class T>
  bool load_real(const T* a, std::int64_t lda, Mat& x) const {
    for (std::int64_t j = 0; j < d_; ++j)
      for (std::int64_t i = 0; i < d_; ++i) {
        const T v = a[j * lda + i];
        if (!std::isfinite(v)) return false;
        // The log in the input's precision, then rounded once (spec §1.2).
        const math::Goom<T> g = math::goom_from_real(v);
        x.lg[std::size_t(j * d_ + i)] = C(g.logmag);
        x.ng[std::size_t(j * d_ + i)] = g.neg;
      }
    return true;
  }

  template <class T>
  bool load_goom(const T* lg, std::int64_t ldl, const std::uint8_t* ng, std::int64_t ldn,
                 Mat& x) const {
    for (std::int64_t j = 0; j < d_; ++j)
      for (std::int64_t i = 0; i < d_; ++i) {
        const T v = lg[j * ldl + i];
        if (!goom_logmag_ok(v)) return false;
        x.lg[std::size_t(j * d_ + i)] = C(v);
        x.ng[std::size_t(j * d_ + i)] = ng[j * ldn + i] != 0;
      }
    return true;
  }

  void mul(const Mat& p, const Mat& q, Mat& out) {
    lmme_one<C, C>(d_, d_, d_, p.lg.data(), d_, p.ng.data(), d_, q.lg.data(), d_, q.ng.data(), d_,
                   out.lg.data(), d_, out.ng.data(), d_, scratch_);
  }

  template <class T>
  void store(const Mat& x, T* lg, std::int64_t ldl, std::uint8_t* ng, std::int64_t ldn) const {
    for (std::int64_t j = 0; j < d_; ++j)
      for (std::int64_t i = 0; i < d_; ++i) {
        lg[j * ldl + i] = T(x.lg[std::size_t(j * d_ + i)]);
        ng[j * ldn + i] = x.ng[std::size_t(j * d_ + i)];
      }
  }

 private:
  std::int64_t d_;
  LmmeScratch<C> scratch_;
};

}  // namespace dynx::cpu
