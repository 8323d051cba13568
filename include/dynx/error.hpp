#pragma once
/// \file error.hpp
/// The exceptions dynx throws. Every message names the operation, the argument and the reason;
/// errors raised by the checking macros also carry the failed expression and file:line.

#include <dynx/export.hpp>

#include <stdexcept>
#include <string>

namespace dynx {

/// Base class of every exception thrown by dynx.
class DYNX_API Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what);
  ~Error() override;
};

/// A caller passed something unusable: wrong shape, wrong device, a null pointer, an impossible
/// option. Nothing was enqueued.
class DYNX_API InvalidArgument : public Error {
 public:
  explicit InvalidArgument(const std::string& what);
  ~InvalidArgument() override;
};

/// The operation or device is not available in this build or on this machine (for example a CUDA
/// device when libdynx was built without CUDA).
class DYNX_API Unsupported : public Error {
 public:
  explicit Unsupported(const std::string& what);
  ~Unsupported() override;
};

/// A batch had matrices that failed (singular, not converged, non-finite input) and the caller did
/// not pass a BatchStatus to receive the per-matrix outcome.
class DYNX_API NumericalError : public Error {
 public:
  explicit NumericalError(const std::string& what);
  ~NumericalError() override;
};

/// A CUDA runtime call failed; code() is the cudaError_t value.
class DYNX_API CudaError : public Error {
 public:
  CudaError(int code, const std::string& what);
  ~CudaError() override;
  int code() const noexcept { return code_; }

 private:
  int code_;
};

/// A cuBLAS call failed; code() is the cublasStatus_t value.
class DYNX_API CublasError : public Error {
 public:
  CublasError(int code, const std::string& what);
  ~CublasError() override;
  int code() const noexcept { return code_; }

 private:
  int code_;
};

/// A cuSOLVER call failed; code() is the cusolverStatus_t value.
class DYNX_API CusolverError : public Error {
 public:
  CusolverError(int code, const std::string& what);
  ~CusolverError() override;
  int code() const noexcept { return code_; }

 private:
  int code_;
};

}  // namespace dynx
