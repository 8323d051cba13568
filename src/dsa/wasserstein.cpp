// The eigenvalue-spectrum score of spec §4.3: squared 2-Wasserstein distance between the
// eigenvalue sets of two operators, solved exactly (assignment for equal sizes, the transport
// simplex otherwise; include/dynx/math/transport.hpp). Eigenvalues come from eig_batched on the
// context's device, the transport problems run on the host, in parallel over pairs.

#include "dsa/common.hpp"
#include "dsa/internal.hpp"

#include <dynx/dsa.hpp>
#include <dynx/math/transport.hpp>
#include <dynx/status.hpp>

#include <exception>
#include <map>

namespace dynx {
namespace dsa {

template <class T>
std::vector<std::vector<std::complex<T>>> eigenvalues_of(Context& ctx,
                                                         const std::vector<const T*>& mats,
                                                         const std::vector<std::int64_t>& sizes,
                                                         const std::string& who) {
  std::vector<std::vector<std::complex<T>>> out(mats.size());
  std::map<std::int64_t, std::vector<std::size_t>> by_size;
  for (std::size_t i = 0; i < mats.size(); ++i) by_size[sizes[i]].push_back(i);
  for (const auto& [n, idx] : by_size) {
    const std::int64_t count = std::int64_t(idx.size());
    const std::size_t nn = std::size_t(n * n);
    std::vector<T> h(nn * idx.size());
    for (std::size_t k = 0; k < idx.size(); ++k) {
      const T* m = mats[idx[k]];
      for (std::size_t e = 0; e < nn; ++e) {
        DYNX_EXPECTS(std::isfinite(m[e]), fmt::format("{} {} holds NaN or Inf", who, idx[k]));
        h[k * nn + e] = m[e];
      }
    }
    DeviceBatch<T> a(ctx, n, n, count);
    upload(ctx, a.buf.data(), h.data(), h.size());
    Buffer<std::complex<T>> w(std::size_t(n * count), ctx.device());
    BatchStatus st;
    eig_batched<T>(ctx, a.cview(), VectorBatch<std::complex<T>>(w.data(), n, count, ctx.device()),
                   MatrixBatch<std::complex<T>>(), &st);
    for (auto k : st.failed_indices())
      DYNX_EXPECTS(false, fmt::format("{} {}: eigenvalues failed ({})", who, idx[std::size_t(k)],
                                      to_string(st.at(k))));
    const auto hw = to_host_vector(ctx, w.data(), w.size());
    for (std::size_t k = 0; k < idx.size(); ++k)
      out[idx[k]].assign(hw.begin() + std::int64_t(k) * n, hw.begin() + std::int64_t(k + 1) * n);
  }
  return out;
}

template std::vector<std::vector<std::complex<float>>> eigenvalues_of<float>(
    Context&, const std::vector<const float*>&, const std::vector<std::int64_t>&,
    const std::string&);
template std::vector<std::vector<std::complex<double>>> eigenvalues_of<double>(
    Context&, const std::vector<const double*>&, const std::vector<std::int64_t>&,
    const std::string&);

}  // namespace dsa

template <class T>
T wasserstein_eigenvalues(const std::vector<std::complex<T>>& x,
                          const std::vector<std::complex<T>>& y, WassersteinWeights weights) {
  DYNX_EXPECTS(!x.empty() && !y.empty(), "wasserstein_eigenvalues: empty eigenvalue set");
  for (const auto* v : {&x, &y})
    for (const auto& z : *v)
      DYNX_EXPECTS(std::isfinite(z.real()) && std::isfinite(z.imag()),
                   "wasserstein_eigenvalues: non-finite eigenvalue");
  const auto n = std::int64_t(x.size()), m = std::int64_t(y.size());
  if (weights == WassersteinWeights::pad_zeros)
    return math::wasserstein2_squared_padded<T>(x.data(), n, y.data(), m);
  return math::wasserstein2_squared<T>(x.data(), n, y.data(), m);
}

template <class T>
void spectral_wasserstein(Context& ctx, MatrixBatch<const T> a, MatrixBatch<const T> b, T* out,
                          WassersteinWeights weights) {
  DYNX_EXPECTS(a.rows == a.cols && b.rows == b.cols,
               "spectral_wasserstein: `a` and `b` must hold square matrices");
  DYNX_EXPECTS(a.count == b.count, "spectral_wasserstein: `a` and `b` differ in batch size");
  DYNX_EXPECTS(a.rows >= 1 && b.rows >= 1, "spectral_wasserstein: empty operators");
  DYNX_EXPECTS(out != nullptr || a.count == 0, "spectral_wasserstein: `out` is null");
  DYNX_EXPECTS(a.device == ctx.device() && b.device == ctx.device(),
               "spectral_wasserstein: inputs must be on the context's device");
  // Pack to host (any ld/stride), then eigenvalues of both sides batched on the device.
  auto pack = [&](MatrixBatch<const T> v) {
    std::vector<T> h(std::size_t(v.rows * v.rows * v.count));
    for (std::int64_t k = 0; k < v.count; ++k)
      for (std::int64_t j = 0; j < v.rows; ++j)
        copy_bytes(ctx, h.data() + (k * v.rows + j) * v.rows, Device::cpu(),
                   v.data + k * v.stride + j * v.ld, v.device, std::size_t(v.rows) * sizeof(T));
    return h;
  };
  const auto ha = pack(a), hb = pack(b);
  ctx.synchronize();
  std::vector<const T*> mats;
  std::vector<std::int64_t> sizes;
  for (std::int64_t k = 0; k < a.count; ++k) {
    mats.push_back(ha.data() + k * a.rows * a.rows);
    sizes.push_back(a.rows);
  }
  for (std::int64_t k = 0; k < b.count; ++k) {
    mats.push_back(hb.data() + k * b.rows * b.rows);
    sizes.push_back(b.rows);
  }
  const auto ev = dsa::eigenvalues_of<T>(ctx, mats, sizes, "spectral_wasserstein: matrix");
  std::exception_ptr error;
#pragma omp parallel for schedule(dynamic)
  for (std::int64_t k = 0; k < a.count; ++k) {
    try {
      out[k] = wasserstein_eigenvalues<T>(ev[std::size_t(k)], ev[std::size_t(a.count + k)], weights);
    } catch (...) {
#pragma omp critical(dynx_wasserstein_error)
      if (!error) error = std::current_exception();
    }
  }
  if (error) std::rethrow_exception(error);
}

#define DYNX_INSTANTIATE(T)                                                                     \
  template DYNX_API T wasserstein_eigenvalues<T>(const std::vector<std::complex<T>>&,          \
                                                 const std::vector<std::complex<T>>&,          \
                                                 WassersteinWeights);                          \
  template DYNX_API void spectral_wasserstein<T>(Context&, MatrixBatch<const T>,                \
                                                 MatrixBatch<const T>, T*, WassersteinWeights);
DYNX_INSTANTIATE(float)
DYNX_INSTANTIATE(double)
#undef DYNX_INSTANTIATE

}  // namespace dynx
