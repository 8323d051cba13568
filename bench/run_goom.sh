#!/usr/bin/env bash
# Builds and runs dynx_bench_goom (GOOM scans against batched GEMM; Lyapunov methods against
# sequential QR at T = 10⁶) and writes
#   bench/results/<date>-goom-<shortsha>.json   the program's JSON
#   bench/results/<date>-goom-<shortsha>.md     machine, commit, command and the printed tables
# (-2, -3, ... when the name is taken: earlier runs are never overwritten).
#
# usage: bench/run_goom.sh [build-dir] [-- program options, e.g. --device cuda:0 --threads 1]
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
build=build-bench
if [[ $# -gt 0 && $1 != -- ]]; then build=$1; shift; fi
[[ ${1:-} == -- ]] && shift
launcher=()
if command -v ccache >/dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
generator=()
if command -v ninja >/dev/null; then generator=(-G Ninja); fi
cmake -S . -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DDYNX_ENABLE_CUDA=OFF \
  -DDYNX_BUILD_TESTS=OFF -DDYNX_BUILD_BENCH=ON "${launcher[@]}" >/dev/null
cmake --build "$build" --target dynx_bench_goom
date=$(date -u +%Y-%m-%d)
sha=$(git rev-parse --short HEAD)
mkdir -p bench/results
out=bench/results/$date-goom-$sha
n=1
while [[ -e $out.json ]]; do n=$((n + 1)); out=bench/results/$date-goom-$sha-$n; done
cmd=("$build/bench/dynx_bench_goom" --out "$out.json" "$@")
export OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-Haswell}
{
  echo "# dynx_bench_goom, $date"
  echo
  echo "- commit: $(git rev-parse HEAD)$(git diff --quiet HEAD || echo ' (+ uncommitted changes)')"
  echo "- machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(free -g | awk '/Mem:/{print $2}') GiB"
  echo "- command: OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE ${cmd[*]}"
  echo
  echo '```'
  "${cmd[@]}"
  echo '```'
} | tee "$out.md"
echo "wrote $out.json and $out.md"
