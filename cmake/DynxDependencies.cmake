# Finds the CPU backend's dependencies and gathers them in one private interface target,
# dynx_deps_cpu. None of them appear in dynx's public interface.

find_package(OpenMP REQUIRED COMPONENTS CXX)

# OpenBLAS provides BLAS and LAPACK; LAPACKE is Debian's separate C interface. We link OpenBLAS
# directly so that its LAPACK symbols are found before any reference LAPACK pulled in by LAPACKE.
set(BLA_VENDOR OpenBLAS)
find_package(BLAS REQUIRED)
find_path(DYNX_CBLAS_INCLUDE_DIR cblas.h
  PATH_SUFFIXES openblas-openmp openblas-pthread openblas x86_64-linux-gnu/openblas-openmp
                x86_64-linux-gnu/openblas-pthread aarch64-linux-gnu/openblas-openmp
  PATHS /usr/include /usr/include/x86_64-linux-gnu /usr/include/aarch64-linux-gnu
  REQUIRED)
find_path(DYNX_LAPACKE_INCLUDE_DIR lapacke.h PATH_SUFFIXES openblas REQUIRED)
find_library(DYNX_LAPACKE_LIBRARY NAMES lapacke REQUIRED)

find_package(spdlog REQUIRED)

if(DYNX_ENABLE_MPI)
  find_package(MPI REQUIRED COMPONENTS CXX)
endif()

add_library(dynx_deps_cpu INTERFACE)
target_include_directories(dynx_deps_cpu SYSTEM INTERFACE ${DYNX_CBLAS_INCLUDE_DIR} ${DYNX_LAPACKE_INCLUDE_DIR})
target_link_libraries(dynx_deps_cpu INTERFACE
  ${DYNX_LAPACKE_LIBRARY} ${BLAS_LIBRARIES} OpenMP::OpenMP_CXX spdlog::spdlog)
