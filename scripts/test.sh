#!/usr/bin/env bash
# The whole test suite: installs dependencies, builds dynx with tests (CUDA backend compiled when
# nvcc is present; its `gpu` tests skip themselves without a GPU), runs CTest, then builds and
# runs the CPU tests again under AddressSanitizer + UndefinedBehaviorSanitizer, and fuzzes the
# .npy/.npz readers with libFuzzer for 20 s each (scripts/fuzz.sh).
#
#   scripts/test.sh                 everything
#   scripts/test.sh --no-sanitize   skip the sanitizer build and the fuzzing
set -euo pipefail
source "$(dirname "$0")/env.sh"
sanitize=1
for arg in "$@"; do
  case "$arg" in
    --no-sanitize) sanitize=0 ;;
    *) echo "test.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done

"$DYNX_ROOT/scripts/install-deps.sh"

echo "== build ($DYNX_BUILD_DIR, CUDA=$DYNX_CUDA) =="
configure_dynx "$DYNX_BUILD_DIR" -DDYNX_BUILD_TESTS=ON
cmake --build "$DYNX_BUILD_DIR" -j "$DYNX_JOBS"
echo "== tests =="
ctest --test-dir "$DYNX_BUILD_DIR" --output-on-failure -j "$DYNX_JOBS"

if [ "$sanitize" = 1 ]; then
  san_dir="${DYNX_BUILD_DIR}-asan"
  echo "== sanitizer build ($san_dir, CPU only, ASan + UBSan) =="
  DYNX_CUDA=OFF configure_dynx "$san_dir" -DDYNX_ENABLE_CUDA=OFF -DDYNX_SANITIZE=ON \
    -DDYNX_BUILD_TESTS=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo
  cmake --build "$san_dir" -j "$DYNX_JOBS"
  echo "== sanitizer tests =="
  # OpenBLAS/OpenMP keep thread pools alive at exit; leak checking is about our code, so report
  # leaks but suppress those inside the runtime libraries (tests/lsan.supp).
  ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1" \
  LSAN_OPTIONS="suppressions=$DYNX_ROOT/tests/lsan.supp:print_suppressions=0" \
  UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
    ctest --test-dir "$san_dir" --output-on-failure -j "$DYNX_JOBS" -LE install
  echo "== fuzzing the file readers (20 s per harness) =="
  "$DYNX_ROOT/scripts/fuzz.sh" 20
fi
echo "== all tests passed =="
