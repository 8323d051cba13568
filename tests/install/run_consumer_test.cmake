# The installed-package tests, run by CTest as `cmake -P` (see tests/CMakeLists.txt):
#
#   MODE=cmake      cmake --install DYNX_BUILD_DIR --prefix DYNX_PREFIX, then configure, build and
#                   run tests/install/consumer against that prefix alone (find_package(dynx 0.1
#                   CONFIG REQUIRED), dynx::dynx).
#   MODE=pkgconfig  the same install, then `pkg-config --cflags --libs dynx` with PKG_CONFIG_PATH
#                   at the prefix: the flags must point into the prefix, and the consumer's
#                   main.cpp compiled with those flags alone must build and run. Prints
#                   "SKIPPED:" (a CTest skip) when there is no pkg-config.
#   MODE=cli        the same install, then `<prefix>/bin/dynx --version` must run and print the
#                   version (the installed program finds the installed library). "SKIPPED:" when
#                   the CLI is not built.
#
# Variables (-D): MODE, DYNX_BUILD_DIR, DYNX_PREFIX (a scratch folder, removed first),
# CONSUMER_SOURCE_DIR, CONSUMER_BINARY_DIR, CONSUMER_GENERATOR, CONSUMER_CXX_COMPILER,
# EXPECTED_VERSION; optional CONSUMER_CXX_FLAGS (for example the sanitizer flags of an
# instrumented libdynx) and PKG_CONFIG_EXECUTABLE.

cmake_minimum_required(VERSION 3.24)

foreach(var MODE DYNX_BUILD_DIR DYNX_PREFIX CONSUMER_SOURCE_DIR CONSUMER_BINARY_DIR
            CONSUMER_GENERATOR CONSUMER_CXX_COMPILER EXPECTED_VERSION)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "run_consumer_test.cmake: -D${var}=... is required")
  endif()
endforeach()

# Runs a command, echoing it; fails the test with its output when it exits nonzero. The output
# is returned in ${out_var} when one is given (OUTPUT_VAR <name>).
function(run_step name)
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "OUTPUT_VAR" "COMMAND")
  string(REPLACE ";" " " shown "${arg_COMMAND}")
  message(STATUS "[${name}] ${shown}")
  execute_process(COMMAND ${arg_COMMAND} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT "${out}${err}" STREQUAL "")
    message("${out}${err}")
  endif()
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "[${name}] failed (exit status ${rc})")
  endif()
  if(arg_OUTPUT_VAR)
    set(${arg_OUTPUT_VAR} "${out}" PARENT_SCOPE)
  endif()
endfunction()

# --- 1. install into a fresh prefix -------------------------------------------------------------
file(REMOVE_RECURSE "${DYNX_PREFIX}" "${CONSUMER_BINARY_DIR}")
file(MAKE_DIRECTORY "${DYNX_PREFIX}" "${CONSUMER_BINARY_DIR}")
run_step(install COMMAND "${CMAKE_COMMAND}" --install "${DYNX_BUILD_DIR}" --prefix "${DYNX_PREFIX}")

foreach(f include/dynx/dynx.hpp include/dynx/config.hpp include/dynx/linalg.hpp)
  if(NOT EXISTS "${DYNX_PREFIX}/${f}")
    message(FATAL_ERROR "install: ${DYNX_PREFIX}/${f} is missing")
  endif()
endforeach()
file(GLOB_RECURSE _libs "${DYNX_PREFIX}/libdynx.so*")
file(GLOB_RECURSE _configs "${DYNX_PREFIX}/dynxConfig.cmake")
file(GLOB_RECURSE _versions "${DYNX_PREFIX}/dynxConfigVersion.cmake")
file(GLOB_RECURSE _pcs "${DYNX_PREFIX}/dynx.pc")
foreach(what _libs _configs _versions _pcs)
  if(NOT ${what})
    message(FATAL_ERROR "install: no ${what} file under ${DYNX_PREFIX}")
  endif()
endforeach()
list(GET _libs 0 _lib)
get_filename_component(DYNX_LIBDIR "${_lib}" DIRECTORY)
list(GET _pcs 0 _pc)
get_filename_component(DYNX_PCDIR "${_pc}" DIRECTORY)

# --- 2. the consumer, per mode -------------------------------------------------------------------
if(MODE STREQUAL "cmake")
  run_step(configure COMMAND "${CMAKE_COMMAND}" -S "${CONSUMER_SOURCE_DIR}" -B "${CONSUMER_BINARY_DIR}"
           -G "${CONSUMER_GENERATOR}" -DCMAKE_BUILD_TYPE=Release
           "-DCMAKE_CXX_COMPILER=${CONSUMER_CXX_COMPILER}" "-DCMAKE_CXX_FLAGS=${CONSUMER_CXX_FLAGS}"
           "-DCMAKE_PREFIX_PATH=${DYNX_PREFIX}"
           -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF -DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF)
  # The package must come from the scratch prefix, not from some other installed copy.
  file(STRINGS "${CONSUMER_BINARY_DIR}/CMakeCache.txt" _dir REGEX "^dynx_DIR:")
  string(FIND "${_dir}" "${DYNX_PREFIX}/" _at)
  if(NOT _at GREATER -1)
    message(FATAL_ERROR "configure: dynx was found outside ${DYNX_PREFIX}: ${_dir}")
  endif()
  run_step(build COMMAND "${CMAKE_COMMAND}" --build "${CONSUMER_BINARY_DIR}")
  run_step(run OUTPUT_VAR out COMMAND "${CONSUMER_BINARY_DIR}/dynx_consumer")
  if(NOT out MATCHES "running with libdynx ${EXPECTED_VERSION}" OR NOT out MATCHES "dynx_consumer: ok")
    message(FATAL_ERROR "run: unexpected output from dynx_consumer")
  endif()

elseif(MODE STREQUAL "pkgconfig")
  if(NOT PKG_CONFIG_EXECUTABLE)
    message(STATUS "SKIPPED: no pkg-config on this machine")
    return()
  endif()
  set(_env "${CMAKE_COMMAND}" -E env "PKG_CONFIG_PATH=${DYNX_PCDIR}" PKG_CONFIG_LIBDIR=/nonexistent)
  run_step(modversion OUTPUT_VAR version COMMAND ${_env} "${PKG_CONFIG_EXECUTABLE}" --modversion dynx)
  string(STRIP "${version}" version)
  if(NOT version STREQUAL EXPECTED_VERSION)
    message(FATAL_ERROR "pkg-config: dynx version '${version}', expected '${EXPECTED_VERSION}'")
  endif()
  run_step(flags OUTPUT_VAR flags COMMAND ${_env} "${PKG_CONFIG_EXECUTABLE}" --cflags --libs dynx)
  string(STRIP "${flags}" flags)
  # An installed .pc must describe where it was installed, whatever prefix the build was
  # configured with (cmake --install --prefix relocates the package).
  # pkg-config may print the paths un-normalised (prefix=${pcfiledir}/../..): compare them
  # resolved.
  set(resolved "")
  separate_arguments(raw_list UNIX_COMMAND "${flags}")
  foreach(f IN LISTS raw_list)
    if(f MATCHES "^-([IL])(.+)$")
      get_filename_component(p "${CMAKE_MATCH_2}" REALPATH)
      list(APPEND resolved "-${CMAKE_MATCH_1}${p}")
    else()
      list(APPEND resolved "${f}")
    endif()
  endforeach()
  get_filename_component(_prefix_real "${DYNX_PREFIX}" REALPATH)
  get_filename_component(_libdir_real "${DYNX_LIBDIR}" REALPATH)
  list(JOIN resolved " " resolved_flags)
  foreach(expected "-I${_prefix_real}/include" "-L${_libdir_real}" "-ldynx")
    string(FIND " ${resolved_flags} " " ${expected} " _at)
    if(_at EQUAL -1)
      message(FATAL_ERROR "pkg-config --cflags --libs dynx gave '${flags}', which lacks '${expected}' "
                          "(the package was installed with --prefix ${DYNX_PREFIX})")
    endif()
  endforeach()
  separate_arguments(flag_list UNIX_COMMAND "${flags}")
  separate_arguments(extra_list UNIX_COMMAND "${CONSUMER_CXX_FLAGS}")
  set(exe "${CONSUMER_BINARY_DIR}/dynx_consumer_pkgconfig")
  run_step(compile COMMAND "${CONSUMER_CXX_COMPILER}" ${extra_list} "${CONSUMER_SOURCE_DIR}/main.cpp"
           ${flag_list} "-Wl,-rpath,${DYNX_LIBDIR}" -o "${exe}")
  run_step(run OUTPUT_VAR out COMMAND "${exe}")
  if(NOT out MATCHES "dynx_consumer: ok")
    message(FATAL_ERROR "run: unexpected output from ${exe}")
  endif()

elseif(MODE STREQUAL "cli")
  if(NOT EXISTS "${DYNX_PREFIX}/bin/dynx")
    message(STATUS "SKIPPED: the dynx command-line program is not installed by this build")
    return()
  endif()
  # Run with a clean loader path: the installed program must find the installed library itself.
  run_step(version OUTPUT_VAR out COMMAND "${CMAKE_COMMAND}" -E env --unset=LD_LIBRARY_PATH
           "${DYNX_PREFIX}/bin/dynx" --version)
  string(STRIP "${out}" out)
  if(NOT out STREQUAL EXPECTED_VERSION)
    message(FATAL_ERROR "dynx --version printed '${out}', expected '${EXPECTED_VERSION}'")
  endif()

else()
  message(FATAL_ERROR "run_consumer_test.cmake: MODE must be cmake, pkgconfig or cli, got '${MODE}'")
endif()
message(STATUS "install test (${MODE}): passed")
