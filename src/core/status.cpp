#include <dynx/error.hpp>
#include <dynx/status.hpp>

#include "core/backend.hpp"
#include "core/check.hpp"

#include <algorithm>

namespace dynx {

const char* to_string(MatrixStatus s) noexcept {
  switch (s) {
    case MatrixStatus::ok: return "ok";
    case MatrixStatus::not_converged: return "not converged";
    case MatrixStatus::singular: return "singular";
    case MatrixStatus::non_finite: return "non-finite input";
  }
  return "unknown";
}

std::int32_t* BatchStatus::prepare(Context& ctx, std::int64_t count) {
  const auto n = static_cast<std::size_t>(std::max<std::int64_t>(count, 1));
  if (device_codes_.size() < n || device_codes_.device() != ctx.device())
    device_codes_ = Buffer<std::int32_t>(n, ctx.device());
  zero_bytes(ctx, device_codes_.data(), device_codes_.device(), n * sizeof(std::int32_t));
  ctx_ = ctx.impl_shared();
  count_ = count;
  fetched_ = false;
  return device_codes_.data();
}

void BatchStatus::fetch() {
  if (fetched_) return;
  host_codes_.resize(static_cast<std::size_t>(count_));
  const std::size_t bytes = host_codes_.size() * sizeof(std::int32_t);
  // Wait for the operation that wrote the codes. A destroyed context waited for its work in its
  // destructor (and a moved one lives on in the weak pointer's target).
  if (auto impl = ctx_.lock()) impl->state->synchronize();
  if (bytes > 0) {
    // The codes are final: a host context reads them (a synchronous copy for device memory).
    Context reader(Device::cpu());
    copy_bytes(reader, host_codes_.data(), Device::cpu(), device_codes_.data(),
               device_codes_.device(), bytes);
  }
  ctx_.reset();
  fetched_ = true;
}

MatrixStatus BatchStatus::at(std::int64_t k) {
  DYNX_EXPECTS(k >= 0 && k < count_,
               fmt::format("BatchStatus::at: index {} out of range for a batch of {}", k, count_));
  fetch();
  return static_cast<MatrixStatus>(host_codes_[static_cast<std::size_t>(k)]);
}

bool BatchStatus::all_ok() { return failures() == 0; }

std::int64_t BatchStatus::failures() {
  fetch();
  return std::count_if(host_codes_.begin(), host_codes_.end(), [](std::int32_t c) { return c != 0; });
}

std::vector<std::int64_t> BatchStatus::failed_indices() {
  fetch();
  std::vector<std::int64_t> out;
  for (std::size_t k = 0; k < host_codes_.size(); ++k)
    if (host_codes_[k] != 0) out.push_back(static_cast<std::int64_t>(k));
  return out;
}

void BatchStatus::check(const std::string& op) {
  const auto failed = failed_indices();
  if (failed.empty()) return;
  std::string list;
  for (std::size_t i = 0; i < failed.size() && i < 5; ++i) {
    const auto k = failed[i];
    list += fmt::format("{}matrix {}: {}", i ? ", " : "", k,
                        to_string(static_cast<MatrixStatus>(host_codes_[static_cast<std::size_t>(k)])));
  }
  if (failed.size() > 5) list += ", ...";
  throw NumericalError(fmt::format("dynx: {}: {} of {} matrices failed ({})", op, failed.size(),
                                   count_, list));
}

}  // namespace dynx
