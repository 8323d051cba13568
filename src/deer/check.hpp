#pragma once
// Checks shared by the DEER entry points (src/deer/cells.cpp, src/deer/deer.cpp).

#include "core/check.hpp"

#include <dynx/buffer.hpp>
#include <dynx/context.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

namespace dynx::deer {

/// Throws InvalidArgument "`{what}` holds NaN or Inf (entry {i})" unless the n values at p (on ctx's
/// device) are finite. Device memory is copied to the host in blocks of 1M values.
template <class T>
void check_finite(Context& ctx, const T* p, std::int64_t n, const std::string& what) {
  if (n <= 0) return;
  const bool host = ctx.device().is_cpu();
  constexpr std::int64_t kBlock = 1 << 20;
  std::vector<T> buf(host ? 0 : static_cast<std::size_t>(std::min(n, kBlock)));
  for (std::int64_t at = 0; at < n; at += kBlock) {
    const std::int64_t len = std::min(kBlock, n - at);
    const T* v = p + at;
    if (!host) {
      copy_bytes(ctx, buf.data(), Device::cpu(), p + at, ctx.device(), std::size_t(len) * sizeof(T));
      ctx.synchronize();
      v = buf.data();
    }
    for (std::int64_t i = 0; i < len; ++i)
      DYNX_EXPECTS(std::isfinite(v[i]),
                   fmt::format("{} holds NaN or Inf (entry {})", what, at + i));
  }
}

}  // namespace dynx::deer
