#!/usr/bin/env bash
# The GPU check: builds dynx with the CUDA backend for sm_90 and runs the `gpu` tests, the unit
# tests and the linalg benchmarks, on a machine with a GPU. Written for the borrowed H200 machine,
# which has nvcc, CMake and ninja but no Debian -dev packages and no package registry: run
# scripts/gpu-deps.sh here first, then on that machine, from the repository root,
#
#   bash scripts/gpu-check.sh          (device tool: carry [".gpu-deps"], timeout_s 500)
#
# If the system lacks the packages that install-deps.sh installs, the .deb files in .gpu-deps/ are
# unpacked into a private prefix (no root, nothing written outside it) and the search paths
# point there. Stages: deps, configure, build, gpu tests, unit tests, CUDA benchmark, CPU benchmark.
# Each stage has its own time limit, cut down so that the whole script ends inside
# DYNX_CHECK_BUDGET seconds; a failed stage does not stop the later ones, and the exit status is
# non-zero when any stage failed or timed out.
#
# Writes into $OUT (./gpu-check-out when OUT is unset), at most 9 files:
#   gpu-check.log  everything printed      summary.txt     machine, commit, stages, test counts
#   ctest-gpu.xml  ctest-unit.xml (JUnit)  bench-cuda.json bench-cpu-h200.json (Google Benchmark)
#   bench-dsa-cuda.json bench-dsa-cpu.json (dynx_bench_dsa --synthetic 100: DSA per pair at ranks
#                  8-128 and all-pairs of 100 systems at ranks 16, 32 on CUDA and CPU; the
#                  file is rewritten after each part, so a stage cut at its limit keeps what ran)
#   bench-deer-cuda.json (dynx_bench_deer: DEER, quasi-DEER and the automatic choice against the
#     fused sequential kernel over T, D and batch)
#   bench-goom-cuda.json (dynx_bench_goom: scans vs batched GEMM, Lyapunov methods at T = 10⁶
#                  against sequential QR on the CPU backend)
#
# Environment (all optional):
#   BUILD_DIR            build folder (default build-gpu-check, kept between warm calls)
#   DEPS_PREFIX          where the .deb files are unpacked (default /tmp/dynx-deps)
#   DYNX_DEPS            auto (default: system packages when all are installed, else .gpu-deps),
#                        system or private
#   DYNX_CHECK_BUDGET    seconds for the whole script (default 460; give the device tool 40 more)
#   DYNX_CUDA_ARCH       CUDA architectures (default 90)
#   DYNX_BUILD_TIMEOUT   the build stage's limit in seconds (default 360; 16 cores)
#   DYNX_TEST_LEVEL      for the gpu tests (default 1)
#   DYNX_BENCH_ARGS      extra benchmark arguments (default --benchmark_min_time=0.1)
#   DYNX_BENCH_CPU_FILTER  --benchmark_filter for the CPU benchmark (default: all)
#   DYNX_DSA_ALLPAIRS_RANKS  ranks of the CUDA DSA all-pairs benchmark (default 16,32; add 64
#                        when the budget allows)
#   DYNX_COMMIT          the commit for the summary where there is no .git (else .gpu-deps/COMMIT)
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root" || exit 1
OUT="${OUT:-$root/gpu-check-out}"
mkdir -p "$OUT" && OUT="$(cd "$OUT" && pwd)"
BUILD_DIR="${BUILD_DIR:-$root/build-gpu-check}"
DEPS_PREFIX="${DEPS_PREFIX:-/tmp/dynx-deps}"
DYNX_DEPS="${DYNX_DEPS:-auto}"
BUDGET="${DYNX_CHECK_BUDGET:-460}"
RESERVE=20             # seconds kept back for timeout's --kill-after and the summary
MULTIARCH=x86_64-linux-gnu
LOG="$OUT/gpu-check.log"
SUMMARY="$OUT/summary.txt"
# A run by hand reuses its OUT: drop the last run's results so none is mistaken for this one's.
rm -f "$LOG" "$SUMMARY" "$OUT"/ctest-gpu.xml "$OUT"/ctest-unit.xml "$OUT"/bench-cuda.json \
  "$OUT"/bench-cpu-h200.json "$OUT"/bench-dsa-cuda.json "$OUT"/bench-dsa-cpu.json \
  "$OUT"/bench-goom-cuda.json "$OUT"/bench-deer-cuda.json

stage_lines=()         # "name status seconds" for the summary
test_lines=()          # "label: counts"
failed=0

# --- helpers -------------------------------------------------------------------------------------

left() { echo $((BUDGET - SECONDS - RESERVE)); }

# stage <name> <cap seconds> <command...>: runs the command under `timeout`, limited to the cap
# and to what is left of the budget, and records its status and time.
stage() {
  local name="$1" cap="$2"; shift 2
  local avail; avail="$(left)"
  if [ "$avail" -lt 15 ]; then
    echo "== [$name] skipped: out of time (budget ${BUDGET}s)"
    stage_lines+=("$name skipped-no-time 0"); failed=1
    return 1
  fi
  local limit=$((cap < avail ? cap : avail))
  echo "== [$name] $(date -u +%H:%M:%S) limit ${limit}s: $*"
  local t0=$SECONDS rc=0
  timeout --kill-after=10 "$limit" "$@" || rc=$?
  local dt=$((SECONDS - t0)) status=ok
  if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then status="timeout(${limit}s)"; failed=1
  elif [ "$rc" -ne 0 ]; then status="failed(rc=$rc)"; failed=1; fi
  echo "== [$name] $status after ${dt}s"
  stage_lines+=("$name $status ${dt}s")
  return "$rc"
}

have_syslib() {   # is a shared library (soname) known to the system's loader?
  { /sbin/ldconfig -p 2>/dev/null || ldconfig -p 2>/dev/null; } | grep -q " $1 " && return 0
  local d
  for d in /usr/lib/$MULTIARCH /lib/$MULTIARCH /usr/lib64 /lib64 /usr/lib; do
    [ -e "$d/$1" ] && return 0
  done
  return 1
}

extract_deb() {   # extract_deb <file.deb> <prefix>: like dpkg -x, with fallbacks
  local deb="$1" dest="$2"
  if command -v dpkg-deb >/dev/null; then
    dpkg-deb -x "$deb" "$dest"
  elif command -v ar >/dev/null && command -v tar >/dev/null; then
    local tmp; tmp="$(mktemp -d)"
    (cd "$tmp" && ar x "$deb") && tar -xf "$tmp"/data.tar.* -C "$dest"
    local rc=$?; rm -rf "$tmp"; return $rc
  else
    python3 - "$deb" "$dest" <<'EOF'
import io, sys, tarfile
deb, dest = sys.argv[1], sys.argv[2]
with open(deb, "rb") as f:
    data = f.read()
assert data[:8] == b"!<arch>\n", "not an ar archive"
pos = 8
while pos + 60 <= len(data):
    name = data[pos:pos + 16].decode().strip().rstrip("/")
    size = int(data[pos + 48:pos + 58].decode().strip())
    body = data[pos + 60:pos + 60 + size]
    if name.startswith("data.tar"):
        with tarfile.open(fileobj=io.BytesIO(body)) as t:
            if hasattr(tarfile, "tar_filter"):   # Python >= 3.12 (and security backports)
                t.extractall(dest, filter="tar")
            else:
                t.extractall(dest)
        break
    pos += 60 + size + (size & 1)
else:
    sys.exit("no data.tar member in " + deb)
EOF
  fi
}

system_has_deps() {   # all the packages install-deps.sh installs for building and testing
  command -v dpkg-query >/dev/null || return 1
  local p
  for p in libopenblas-openmp-dev liblapacke-dev libspdlog-dev libfmt-dev libgtest-dev \
           libgmock-dev libbenchmark-dev; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || return 1
  done
}

cmake_hints=()

# Unpacks .gpu-deps/*.deb into $DEPS_PREFIX, makes the links Debian's update-alternatives would
# make, and points the compiler, linker, loader and CMake there. Runs in this shell (it exports).
setup_private_deps() {
  local usr="$DEPS_PREFIX/usr" lib="$DEPS_PREFIX/usr/lib/$MULTIARCH"
  local inc="$DEPS_PREFIX/usr/include/$MULTIARCH" f p
  local stamp; stamp="$(ls -1 .gpu-deps/*.deb | sort | xargs -n1 basename | cksum | cut -d' ' -f1)"
  if [ -f "$DEPS_PREFIX/.stamp" ] && [ "$(cat "$DEPS_PREFIX/.stamp")" = "$stamp" ]; then
    echo "deps: $DEPS_PREFIX already unpacked"
  else
    rm -rf "$DEPS_PREFIX" && mkdir -p "$DEPS_PREFIX" || return 1
    for f in .gpu-deps/*.deb; do
      p="$(basename "$f")"; p="${p%%_*}"
      # OpenBLAS's runtime libraries: an older copy on LD_LIBRARY_PATH would shadow the system's
      # (compiler-matched) one, so unpack them only where the system has none.
      case "$p" in
        libgfortran5) have_syslib libgfortran.so.5 && { echo "deps: system has libgfortran.so.5"; continue; } ;;
        libquadmath0) have_syslib libquadmath.so.0 && { echo "deps: system has libquadmath.so.0"; continue; } ;;
        libgomp1)     have_syslib libgomp.so.1 && { echo "deps: system has libgomp.so.1"; continue; } ;;
      esac
      echo "deps: unpacking $(basename "$f")"
      extract_deb "$root/$f" "$DEPS_PREFIX" || { echo "deps: could not unpack $f" >&2; return 1; }
    done
    # What libopenblas0-openmp's and libopenblas-openmp-dev's postinst scripts register with
    # update-alternatives (relative links, so the prefix can move).
    for f in libblas.so.3 liblapack.so.3 libopenblas.so.0 libblas.so liblapack.so libopenblas.so; do
      ln -sfn "openblas-openmp/$f" "$lib/$f"
    done
    for f in cblas.h f77blas.h openblas_config.h; do ln -sfn "openblas-openmp/$f" "$inc/$f"; done
    ln -sfn openblas-openmp/cblas.h "$inc/cblas-openblas.h"
    mkdir -p "$lib/cmake/openblas"
    for f in OpenBLASConfig.cmake OpenBLASConfigVersion.cmake; do
      ln -sfn "../../openblas-openmp/cmake/openblas/$f" "$lib/cmake/openblas/$f"
    done
    echo "$stamp" >"$DEPS_PREFIX/.stamp"
  fi
  for f in "$lib/libopenblas.so" "$lib/libblas.so.3" "$lib/liblapack.so.3" "$lib/liblapacke.so" \
           "$lib/libtmglib.so.3" "$inc/cblas.h" "$usr/include/lapacke.h" \
           "$lib/cmake/spdlog/spdlogConfig.cmake" "$lib/cmake/fmt/fmt-config.cmake" \
           "$lib/cmake/GTest/GTestConfig.cmake" "$lib/cmake/benchmark/benchmarkConfig.cmake"; do
    [ -e "$f" ] || { echo "deps: missing $f after unpacking" >&2; return 1; }
  done
  export CMAKE_PREFIX_PATH="$usr${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}"
  export CMAKE_LIBRARY_PATH="$lib${CMAKE_LIBRARY_PATH:+:$CMAKE_LIBRARY_PATH}"
  export CMAKE_INCLUDE_PATH="$usr/include${CMAKE_INCLUDE_PATH:+:$CMAKE_INCLUDE_PATH}"
  export LD_LIBRARY_PATH="$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  export LIBRARY_PATH="$lib${LIBRARY_PATH:+:$LIBRARY_PATH}"
  export CPATH="$usr/include${CPATH:+:$CPATH}"
  # Explicit package folders, for a CMake that does not search lib/<multiarch> (non-Debian hosts).
  cmake_hints=(-Dspdlog_DIR="$lib/cmake/spdlog" -Dfmt_DIR="$lib/cmake/fmt"
               -DGTest_DIR="$lib/cmake/GTest" -Dbenchmark_DIR="$lib/cmake/benchmark")
  echo "deps: private prefix $DEPS_PREFIX"
  echo "  CMAKE_PREFIX_PATH=$CMAKE_PREFIX_PATH"
  echo "  LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
  echo "  CPATH=$CPATH"
}

setup_deps() {
  local mode="$DYNX_DEPS"
  if [ "$mode" = auto ]; then
    if system_has_deps; then mode=system
    elif compgen -G ".gpu-deps/*.deb" >/dev/null; then mode=private
    else
      echo "deps: the system lacks some packages and there is no .gpu-deps/ (run scripts/gpu-deps.sh" \
           "here and carry .gpu-deps); trying the system's anyway" >&2
      mode=system
    fi
  fi
  DEPS_MODE="$mode"
  case "$mode" in
    system) echo "deps: using the system's packages" ;;
    private) setup_private_deps ;;
    *) echo "deps: DYNX_DEPS must be auto, system or private" >&2; return 2 ;;
  esac
}

# Test counts from a CTest JUnit file: CTest's own (a gtest program is one CTest test unless the
# tests are discovered one by one) and GoogleTest's per-case lines from the captured output.
junit_counts() {
  [ -s "$1" ] || { echo "no results"; return; }
  local head; head="$(tr '\n\t' '  ' <"$1" | grep -o '<testsuite [^>]*>' | head -n1)"
  attr() { echo "$head" | grep -o " $1=\"[0-9]*\"" | grep -o '[0-9]*'; }
  local ok skip failed_names
  ok="$(grep -c '\[       OK \] ' "$1")"
  skip="$(grep -Ec '\[  SKIPPED \] [^ ]+\.[^ ]+ \(' "$1")"
  failed_names="$(tr '\n' ' ' <"$1" | grep -o '<testcase name="[^"]*"[^>]*status="fail"' |
                  sed 's/<testcase name="\([^"]*\)".*/\1/' | paste -sd ' ' -)"
  echo "tests $(attr tests), failed $(attr failures), skipped $(attr skipped);" \
       "gtest cases ok $ok, skipped $skip${failed_names:+; FAILED: $failed_names}"
}

run_bench() {   # run_bench <stage name> <binary name> <cap> <json file> [args...]
  local name="$1" bin="$2" cap="$3" json="$4"; shift 4
  local path
  path="$(find "$BUILD_DIR" -type f -name "$bin" -perm -u+x 2>/dev/null | head -n1)"
  if [ -z "$path" ]; then
    echo "== [$name] skipped: no $bin in $BUILD_DIR (not written yet, or it did not build)"
    stage_lines+=("$name skipped-no-binary 0")
    return 0
  fi
  # DYNX_BENCH_ARGS is a list of words; set but empty means no extra arguments.
  local extra=(--benchmark_min_time=0.1)
  [ -n "${DYNX_BENCH_ARGS+set}" ] && read -r -a extra <<<"$DYNX_BENCH_ARGS"
  stage "$name" "$cap" "$path" --benchmark_out="$json" --benchmark_out_format=json \
    "${extra[@]}" "$@"
  local rc=$?
  [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ] && echo "== [$name] killed at its time limit: $json is incomplete"
  return 0
}

write_summary() {
  local commit="unknown" head=""
  if [ -e "$root/.git" ] && command -v git >/dev/null; then
    head="$(git -C "$root" rev-parse HEAD 2>/dev/null)"
  fi
  if [ -n "$head" ]; then
    commit="$head$(git -C "$root" diff --quiet HEAD 2>/dev/null || echo ' +uncommitted changes')"
  elif [ -n "${DYNX_COMMIT:-}" ]; then commit="$DYNX_COMMIT"
  elif [ -f .gpu-deps/COMMIT ]; then commit="$(tr '\n' ' ' <.gpu-deps/COMMIT)(from .gpu-deps/COMMIT)"
  fi
  {
    echo "dynx gpu-check, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "commit:  $commit"
    echo "machine: $(hostname 2>/dev/null), $(nproc) cores, $(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME")"
    local gpu; gpu="$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | paste -sd ';' -)"
    echo "gpu:     ${gpu:-none seen by nvidia-smi}"
    echo "nvcc:    $(nvcc --version 2>/dev/null | grep -o 'release [0-9.]*, V[0-9.]*' || echo none)"
    echo "cmake:   $(cmake --version 2>/dev/null | head -n1)"
    echo "deps:    ${DEPS_MODE:-?}"
    echo "build:   $BUILD_DIR (CUDA arch ${DYNX_CUDA_ARCH})"
    echo "stages (name status time):"
    local l; for l in "${stage_lines[@]}"; do echo "  $l"; done
    echo "tests:"
    for l in "${test_lines[@]}"; do echo "  $l"; done
    echo "total:   ${SECONDS}s of a ${BUDGET}s budget"
    if [ "$failed" = 0 ]; then echo "result:  PASS"; else echo "result:  FAIL"; fi
  } >"$SUMMARY"
}

# --- the check -----------------------------------------------------------------------------------

main() {
  echo "== dynx gpu-check: $(date -u +%Y-%m-%dT%H:%M:%SZ), budget ${BUDGET}s, OUT=$OUT"
  export DYNX_BUILD_DIR="$BUILD_DIR" DYNX_CUDA=ON DYNX_CUDA_ARCH="${DYNX_CUDA_ARCH:-90}"
  # shellcheck source=scripts/env.sh
  source "$root/scripts/env.sh"    # nvcc on PATH, DYNX_JOBS, configure_dynx
  local jobs; jobs="$(nproc)"

  echo "== machine"
  cat /etc/os-release 2>/dev/null
  uname -a
  nvidia-smi 2>&1 || echo "(nvidia-smi failed)"
  nvcc --version 2>&1 || echo "(no nvcc)"
  cmake --version 2>&1 | head -n1
  echo "ninja $(ninja --version 2>&1)"
  "${CXX:-c++}" --version 2>&1 | head -n1
  echo "cores: $jobs"; free -g 2>/dev/null | head -n2; df -h "$root" 2>/dev/null | tail -n1

  echo "== [deps]"
  local t0=$SECONDS
  if setup_deps; then stage_lines+=("deps ok($DEPS_MODE) $((SECONDS - t0))s")
  else stage_lines+=("deps failed $((SECONDS - t0))s"); failed=1; fi

  # Configure (in a child bash, so it runs under `timeout`); then build everything that builds.
  # shellcheck disable=SC2016  # expanded by the child bash
  stage configure 120 bash -c 'source "$1/scripts/env.sh" && shift && configure_dynx "$@"' _ "$root" \
    "$BUILD_DIR" -DDYNX_BUILD_TESTS=ON -DDYNX_BUILD_BENCH=ON "${cmake_hints[@]}"
  stage build "${DYNX_BUILD_TIMEOUT:-360}" cmake --build "$BUILD_DIR" -j "$jobs" -- -k 0

  local gpu_xml="$OUT/ctest-gpu.xml" unit_xml="$OUT/ctest-unit.xml"
  DYNX_TEST_LEVEL="${DYNX_TEST_LEVEL:-1}" stage "gpu-tests" 180 \
    ctest --test-dir "$BUILD_DIR" -L gpu --output-on-failure --no-tests=error --timeout 150 \
    -j 8 --test-output-size-passed 1000000 --output-junit "$gpu_xml"
  test_lines+=("gpu:  $(junit_counts "$gpu_xml")")
  if nvidia-smi -L >/dev/null 2>&1 && [ -s "$gpu_xml" ] &&
     junit_counts "$gpu_xml" | grep -Eq '^tests ([1-9][0-9]*), failed 0, skipped \1;|gtest cases ok 0, skipped [1-9]'; then
    echo "== [gpu-tests] every gpu test skipped itself although nvidia-smi sees a GPU"
    test_lines+=("gpu:  ALL SKIPPED with a GPU present"); failed=1
  fi
  stage "unit-tests" 120 \
    ctest --test-dir "$BUILD_DIR" -L unit --output-on-failure --no-tests=error --timeout 100 \
    -j "$jobs" --test-output-size-passed 1000000 --output-junit "$unit_xml"
  test_lines+=("unit: $(junit_counts "$unit_xml")")

  # DSA on synthetic systems (no Python here): CUDA first, then the CPU backend on the same data.
  local dsa; dsa="$(find "$BUILD_DIR" -type f -name dynx_bench_dsa -perm -u+x 2>/dev/null | head -n1)"
  if [ -n "$dsa" ]; then
    stage bench-dsa-cuda 100 "$dsa" --synthetic 100 --device cuda:0 \
      --allpairs-ranks "${DYNX_DSA_ALLPAIRS_RANKS:-16,32}" --out "$OUT/bench-dsa-cuda.json"
    stage bench-dsa-cpu 60 "$dsa" --synthetic 100 --device cpu --threads "$jobs" --ranks 8,16,32 \
      --allpairs-ranks 16,32 --out "$OUT/bench-dsa-cpu.json"
  else
    stage_lines+=("bench-dsa skipped-no-binary 0")
  fi
  # GOOM scans against batched GEMM, and the Lyapunov methods on the GPU against sequential QR on
  # the CPU backend (same Jacobians, T = 10⁶), before the linalg benchmarks.
  local goom; goom="$(find "$BUILD_DIR" -type f -name dynx_bench_goom -perm -u+x 2>/dev/null | head -n1)"
  if [ -n "$goom" ]; then
    stage bench-goom-cuda 90 "$goom" --device cuda:0 --out "$OUT/bench-goom-cuda.json"
  else
    stage_lines+=("bench-goom skipped-no-binary 0")
  fi
  # DEER: parallel vs our fused sequential kernel over T, D and batch, with the automatic choice
  # (targets: parallel >= 10x the fused sequential kernel for a contracting GRU at batch 1,
  # D <= 64, T >= 1e5; automatic never more than 1.2x slower than the better of the two).
  local deer; deer="$(find "$BUILD_DIR" -type f -name dynx_bench_deer -perm -u+x 2>/dev/null | head -n1)"
  if [ -n "$deer" ]; then
    stage bench-deer-cuda 120 "$deer" --device cuda:0 --out "$OUT/bench-deer-cuda.json"
  else
    stage_lines+=("bench-deer skipped-no-binary 0")
  fi
  run_bench bench-cuda dynx_bench_linalg_cuda 120 "$OUT/bench-cuda.json"
  local cpu_filter=()
  [ -n "${DYNX_BENCH_CPU_FILTER:-}" ] && cpu_filter=(--benchmark_filter="$DYNX_BENCH_CPU_FILTER")
  run_bench bench-cpu dynx_bench_linalg 120 "$OUT/bench-cpu-h200.json" "${cpu_filter[@]}"

  write_summary
  echo "== summary ($SUMMARY)"
  cat "$SUMMARY"
  return "$failed"
}

main 2>&1 | tee "$LOG"
exit "${PIPESTATUS[0]}"
