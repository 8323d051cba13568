#pragma once
/// \file version.hpp

#include <dynx/export.hpp>

namespace dynx {

/// The version of the libdynx that is loaded ("MAJOR.MINOR.PATCH"); may differ from the
/// DYNX_VERSION_STRING the caller was compiled against.
DYNX_API const char* version() noexcept;

/// A one-line description of the build: version, backends, BLAS.
DYNX_API const char* build_info() noexcept;

}  // namespace dynx
