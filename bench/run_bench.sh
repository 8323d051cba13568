#!/usr/bin/env bash
# Builds one benchmark program of bench/ (Release, CPU backend) and runs it, writing
#   bench/results/<date>-<label>-<shortsha>.json   the program's JSON (its --out)
#   bench/results/<date>-<label>-<shortsha>.md     machine, commit, command and the printed tables
# (-2, -3, ... when the name is taken: earlier runs are never overwritten). Used by run_goom.sh and
# run_deer.sh.
#
# usage: bench/run_bench.sh TARGET LABEL [build-dir] [-- program options]
set -euo pipefail
target=$1 label=$2
shift 2
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
cmake --build "$build" --target "$target"
date=$(date -u +%Y-%m-%d)
sha=$(git rev-parse --short HEAD)
mkdir -p bench/results
out=bench/results/$date-$label-$sha
n=1
while [[ -e $out.json ]]; do n=$((n + 1)); out=bench/results/$date-$label-$sha-$n; done
cmd=("$build/bench/$target" --out "$out.json" "$@")
export OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-Haswell}
{
  echo "# $target, $date"
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
