#pragma once
// Internal helpers of the DSA pipeline: device arrays owned together with the context that uses
// them, typed wrappers of the element-wise backend operations, and host <-> device transfers.
// Everything here runs on whichever backend the context selects.

#include "core/backend.hpp"
#include "core/check.hpp"

#include <dynx/buffer.hpp>
#include <dynx/context.hpp>
#include <dynx/linalg.hpp>

#include <cmath>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace dynx::dsa {

/// A packed batch of `count` rows × cols column-major matrices on the context's device.
template <class T>
struct DeviceBatch {
  Buffer<T> buf;
  std::int64_t rows = 0, cols = 0, count = 0;

  DeviceBatch() = default;
  DeviceBatch(Context& ctx, std::int64_t rows_, std::int64_t cols_, std::int64_t count_)
      : buf(static_cast<std::size_t>(rows_ * cols_ * count_), ctx.device()),
        rows(rows_), cols(cols_), count(count_) {}
  std::int64_t stride() const noexcept { return rows * cols; }
  T* ptr(std::int64_t k) noexcept { return buf.data() + k * stride(); }
  MatrixBatch<T> view() noexcept { return {buf.data(), rows, cols, count, buf.device()}; }
  MatrixBatch<const T> cview() const noexcept {
    return {buf.data(), rows, cols, count, buf.device()};
  }
  detail::MatRef ref() const noexcept {
    return {const_cast<T*>(buf.data()), rows, cols, rows, stride(), count, dtype_v<T>};
  }
};

/// A matrix batch view as an untyped backend reference.
template <class T>
detail::MatRef mref(MatrixBatch<T> m) noexcept {
  return detail::ref(m);
}

/// Copies `n` elements between host and the context's device (either direction; a plain copy on
/// the CPU backend).
template <class T>
void upload(Context& ctx, T* d_dst, const T* h_src, std::size_t n) {
  copy_bytes(ctx, d_dst, ctx.device(), h_src, Device::cpu(), n * sizeof(T));
}
template <class T>
void download(Context& ctx, T* h_dst, const T* d_src, std::size_t n) {
  copy_bytes(ctx, h_dst, Device::cpu(), d_src, ctx.device(), n * sizeof(T));
  ctx.synchronize();
}
/// Throws InvalidArgument naming `who` and the trial, time step and feature of the first NaN or
/// Inf of a TrialSet on the host (data on a device is caught by the factorisations instead).
template <class Set>
void check_finite_trials(const Set& s, const std::string& who) {
  if (!s.device.is_cpu()) return;
  std::int64_t t0 = 0;
  for (std::size_t k = 0; k < s.lengths.size(); ++k) {
    for (std::int64_t t = 0; t < s.lengths[k]; ++t)
      for (std::int64_t f = 0; f < s.n_features; ++f) {
        const auto v = s.data[(t0 + t) * s.n_features + f];
        DYNX_EXPECTS(std::isfinite(v), fmt::format("{}: non-finite value {} at trial {}, time "
                                                   "step {}, feature {}",
                                                   who, double(v), k, t, f));
      }
    t0 += s.lengths[k];
  }
}

/// The outputs `y` and inputs `u` of one driven system: non-empty, the same trials and lengths,
/// finite (on the host). Errors start with `who`.
template <class Set>
void check_driven_system(const Set& y, const Set& u, const std::string& who) {
  for (const auto* s : {&y, &u}) {
    const char* what = s == &y ? "outputs" : "inputs";
    DYNX_EXPECTS(s->n_features >= 1, fmt::format("{}: {} need at least one feature", who, what));
    DYNX_EXPECTS(!s->lengths.empty(), fmt::format("{}: no trials of {} (empty data)", who, what));
    DYNX_EXPECTS(s->data != nullptr, fmt::format("{}: {} data is null", who, what));
  }
  DYNX_EXPECTS(u.lengths.size() == y.lengths.size(),
               fmt::format("{}: {} trials of inputs for {} trials of outputs", who,
                           u.lengths.size(), y.lengths.size()));
  for (std::size_t k = 0; k < y.lengths.size(); ++k)
    DYNX_EXPECTS(u.lengths[k] == y.lengths[k],
                 fmt::format("{}, trial {}: {} time steps of inputs for {} of outputs", who, k,
                             u.lengths[k], y.lengths[k]));
  check_finite_trials(y, who + " (outputs)");
  check_finite_trials(u, who + " (inputs)");
}

/// The shared driver of the fits with inputs: checks that every system's outputs and inputs
/// match (`check(i)` adds the fit's own checks) and are on the host or the context's device,
/// then calls fit_group(members, models) once per group of systems with the same numbers of
/// outputs and inputs (they share every batched call).
template <class Model, class Set, class Check, class FitGroup>
std::vector<Model> fit_driven(Context& ctx, const std::vector<Set>& systems,
                              const std::vector<Set>& inputs, const char* op, Check check,
                              FitGroup fit_group) {
  DYNX_EXPECTS(inputs.size() == systems.size(),
               fmt::format("{}: {} input sets for {} systems", op, inputs.size(), systems.size()));
  for (std::size_t i = 0; i < systems.size(); ++i) {
    const std::string who = fmt::format("{}: system {}", op, i);
    check_driven_system(systems[i], inputs[i], who);
    check(i);
    for (const auto* s : {&systems[i], &inputs[i]})
      DYNX_EXPECTS(s->device.is_cpu() || s->device == ctx.device(),
                   who + ": data must be on the host or on the context's device");
  }
  std::vector<Model> models(systems.size());
  std::map<std::pair<std::int64_t, std::int64_t>, std::vector<std::size_t>> groups;
  for (std::size_t i = 0; i < systems.size(); ++i)
    groups[{systems[i].n_features, inputs[i].n_features}].push_back(i);
  for (const auto& [key, members] : groups) fit_group(members, models);
  return models;
}

template <class T>
Buffer<T> to_ctx(Context& ctx, const std::vector<T>& h) {
  Buffer<T> b(h.size(), ctx.device());
  if (!h.empty()) upload(ctx, b.data(), h.data(), h.size());
  return b;
}
template <class T>
std::vector<T> to_host_vector(Context& ctx, const T* d, std::size_t n) {
  std::vector<T> h(n);
  if (n) download(ctx, h.data(), d, n);
  return h;
}

/// out[k] = <a_k, b_k> (device array of a.count scalars).
template <class T>
void dot(Context& ctx, const detail::MatRef& a, const detail::MatRef& b, T* d_out) {
  detail::backend_for(ctx).dot_batched(
      ctx, detail::DotArgs{dtype_v<T>, a.rows, a.cols, a.count, a, b, d_out});
}

/// c_k = alpha[k] · op(a_k) + beta[k] · c_k (alpha, beta: device arrays of c.count scalars).
template <class T>
void axpby(Context& ctx, const T* d_alpha, const detail::MatRef& a, const T* d_beta,
           const detail::MatRef& c, bool transpose_a = false) {
  detail::backend_for(ctx).axpby_batched(
      ctx, detail::AxpbyArgs{dtype_v<T>, c.rows, c.cols, c.count, d_alpha, d_beta, transpose_a,
                             a, c});
}

/// C = alpha op(A) op(B) + beta C over the batch (A or B may be broadcast with stride 0).
template <class T>
void gemm(Context& ctx, Op ta, Op tb, T alpha, const detail::MatRef& a, const detail::MatRef& b,
          T beta, const detail::MatRef& c) {
  const std::int64_t k = ta == Op::n ? a.cols : a.rows;
  detail::backend_for(ctx).gemm_batched(
      ctx, detail::GemmArgs{dtype_v<T>, ta, tb, c.rows, c.cols, k, c.count, double(alpha),
                            double(beta), a, b, c});
}

/// A view of `count` matrices of `m` starting at matrix `first`.
inline detail::MatRef slice(detail::MatRef m, std::int64_t first, std::int64_t count) {
  m.data = static_cast<char*>(m.data) +
           first * m.stride * static_cast<std::int64_t>(dtype_size(m.dtype));
  m.count = count;
  return m;
}

/// Per-item scalars held on the host and mirrored to the device on demand.
template <class T>
struct Scalars {
  std::vector<T> h;
  Buffer<T> d;
  Scalars(Context& ctx, std::int64_t count, T value = T(0))
      : h(static_cast<std::size_t>(count), value), d(static_cast<std::size_t>(count), ctx.device()) {}
  /// Sends h to the device and returns the device pointer.
  const T* push(Context& ctx) {
    if (!h.empty()) upload(ctx, d.data(), h.data(), h.size());
    return d.data();
  }
  /// Fetches the device values into h.
  void pull(Context& ctx) {
    if (!h.empty()) download(ctx, h.data(), d.data(), h.size());
  }
};

}  // namespace dynx::dsa
