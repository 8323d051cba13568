# Finds the CPU backend's dependencies, and those of the file readers (zlib; HDF5, optional), and
# gathers them in one private interface target, dynx_deps_cpu. None of them appear in dynx's public
# interface.

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

# File readers (src/io): zlib inflates deflated .npz members; HDF5 (C API) is optional.
find_package(ZLIB REQUIRED)
# FindHDF5 probes the C library by compiling a C file, so it needs the C language enabled.
check_language(C)
if(CMAKE_C_COMPILER)
  enable_language(C)
  find_package(HDF5 COMPONENTS C)
endif()
option(DYNX_ENABLE_HDF5 "Read HDF5 input files (needs the HDF5 C library; default ON if found)"
       ${HDF5_FOUND})
if(DYNX_ENABLE_HDF5 AND NOT HDF5_FOUND)
  message(FATAL_ERROR "DYNX_ENABLE_HDF5: the HDF5 C library was not found (install libhdf5-dev) "
                      "or configure with -DDYNX_ENABLE_HDF5=OFF")
endif()
set(DYNX_HAS_HDF5 ${DYNX_ENABLE_HDF5})

add_library(dynx_deps_cpu INTERFACE)
target_include_directories(dynx_deps_cpu SYSTEM INTERFACE ${DYNX_CBLAS_INCLUDE_DIR} ${DYNX_LAPACKE_INCLUDE_DIR})
target_link_libraries(dynx_deps_cpu INTERFACE
  ${DYNX_LAPACKE_LIBRARY} ${BLAS_LIBRARIES} OpenMP::OpenMP_CXX spdlog::spdlog)
target_link_libraries(dynx_deps_cpu INTERFACE ZLIB::ZLIB)
if(DYNX_ENABLE_HDF5)
  target_link_libraries(dynx_deps_cpu INTERFACE hdf5::hdf5)
endif()
