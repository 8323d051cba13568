#pragma once
/// \file status.hpp
/// Per-matrix outcomes of a batched operation. A singular or non-converging matrix, or one with
/// NaN/Inf entries, is data: it is recorded here and the rest of the batch carries on.

#include <dynx/buffer.hpp>
#include <dynx/export.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace dynx {

/// Outcome of one matrix of a batch.
enum class MatrixStatus : std::int32_t {
  ok = 0,
  not_converged = 1,  ///< an iterative algorithm (SVD, eigensolver) did not converge
  singular = 2,       ///< exactly singular in LU (a zero pivot); solve/inverse outputs are NaN
  non_finite = 3,     ///< the input held NaN or Inf; outputs are NaN
};

DYNX_API const char* to_string(MatrixStatus s) noexcept;

/// Per-matrix status codes of one batched call. Operations write the codes on the context's device
/// without synchronising; the accessors below copy them to the host the first time they are needed
/// after a call (which synchronises that context). A status may outlive its context: the
/// context's destructor waits for its work, and the codes are then read directly.
class DYNX_API BatchStatus {
 public:
  BatchStatus() = default;
  BatchStatus(BatchStatus&&) noexcept = default;
  BatchStatus& operator=(BatchStatus&&) noexcept = default;

  /// Number of matrices the last operation reported on.
  std::int64_t count() const noexcept { return count_; }
  /// Status of matrix k (synchronises on first use after an operation).
  MatrixStatus at(std::int64_t k);
  /// True when every matrix is MatrixStatus::ok.
  bool all_ok();
  /// Number of matrices that are not ok.
  std::int64_t failures();
  /// Indices of the matrices that are not ok.
  std::vector<std::int64_t> failed_indices();
  /// Throws NumericalError naming `op`, the number of failed matrices and the first few of them,
  /// when any matrix failed.
  void check(const std::string& op = "batched operation");

  /// Internal: called by operations before they write codes. Sizes the code array for `count`
  /// matrices on ctx's device and returns it (device pointer on CUDA).
  std::int32_t* prepare(Context& ctx, std::int64_t count);

 private:
  void fetch();
  Buffer<std::int32_t> device_codes_;
  std::vector<std::int32_t> host_codes_;
  std::weak_ptr<detail::ContextImpl> ctx_;  // the context of the last operation
  std::int64_t count_ = 0;
  bool fetched_ = true;
};

}  // namespace dynx
