#include <dynx/error.hpp>

#include "core/check.hpp"

namespace dynx {

Error::Error(const std::string& what) : std::runtime_error(what) {}
Error::~Error() = default;
InvalidArgument::InvalidArgument(const std::string& what) : Error(what) {}
InvalidArgument::~InvalidArgument() = default;
Unsupported::Unsupported(const std::string& what) : Error(what) {}
Unsupported::~Unsupported() = default;
NumericalError::NumericalError(const std::string& what) : Error(what) {}
NumericalError::~NumericalError() = default;
CudaError::CudaError(int code, const std::string& what) : Error(what), code_(code) {}
CudaError::~CudaError() = default;
CublasError::CublasError(int code, const std::string& what) : Error(what), code_(code) {}
CublasError::~CublasError() = default;
CusolverError::CusolverError(int code, const std::string& what) : Error(what), code_(code) {}
CusolverError::~CusolverError() = default;

namespace detail {

void throw_invalid_argument(const char* expr, const std::string& msg, const char* file, int line) {
  throw InvalidArgument(fmt::format("dynx: {} (check `{}` failed at {}:{})", msg, expr,
                                    base_name(file), line));
}

void throw_unsupported(const std::string& msg, const char* file, int line) {
  throw Unsupported(fmt::format("dynx: {} ({}:{})", msg, base_name(file), line));
}

}  // namespace detail
}  // namespace dynx
