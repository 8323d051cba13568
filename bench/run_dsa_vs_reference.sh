#!/usr/bin/env bash
# DSA: dynx side by side with the reference package dsa-metric, in one run on this machine, on
# identical inputs (the reference benchmark dumps its synthetic systems; dynx reads them), with the
# same thread count. Writes
#   bench/results/<date>-dsa-vs-reference-<shortsha>.json   both raw results + machine + command
#   bench/results/<date>-dsa-vs-reference-<shortsha>.md     per-pair times, ratios, score checks
#
# usage: bench/run_dsa_vs_reference.sh [--quick | --quality N]
#   --quick       ranks 8-32, one pair each, and a short all-pairs estimate
#   --quality N   scores only where they matter most: N pairs each at ranks 16 and 32 (2N systems),
#                 no all-pairs; the table counts the pairs where dynx is above or below the
#                 reference by more than 1e-3
# environment: REF_PYTHON   python of an environment with dsa-metric (default /opt/dsa-ref/bin/python;
#                           create it with: python3 -m venv /opt/dsa-ref && /opt/dsa-ref/bin/pip install dsa-metric)
#              THREADS      threads for both (default 1: torch and OpenMP on a busy 2-core machine
#                           are only comparable single-threaded; use 2 on an idle machine)
#              DEVICE       dynx device (default cpu)
#              BUILD        build directory (default build-bench)
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
ref_python=${REF_PYTHON:-/opt/dsa-ref/bin/python}
threads=${THREADS:-1}
device=${DEVICE:-cpu}
build=${BUILD:-build-bench}
quick=0
quality=0
case ${1:-} in
  --quick) quick=1 ;;
  --quality) quality=${2:?--quality needs a number of pairs} ;;
esac

launcher=()
if command -v ccache >/dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
# The CUDA backend only when the benchmark runs on a GPU, and then for one architecture.
if [[ $device == cuda* ]]; then
  backend=(-DDYNX_ENABLE_CUDA=ON "-DCMAKE_CUDA_ARCHITECTURES=${DYNX_CUDA_ARCH:-90}")
else
  backend=(-DDYNX_ENABLE_CUDA=OFF)
fi
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DDYNX_BUILD_TESTS=OFF \
  -DDYNX_BUILD_BENCH=ON "${backend[@]}" "${launcher[@]}" > /dev/null
cmake --build "$build" --target dynx_bench_dsa

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
ref_args=(--threads "$threads" --systems 100 --dump-systems "$work/systems")
dynx_args=(--systems-dir "$work/systems" --threads "$threads" --device "$device")
if [[ $quick == 1 ]]; then
  ref_args+=(--ranks 8,16,32 --pairs-per-rank 1 --angular-pairs 2)
  dynx_args+=(--pairs-per-rank 1)
elif [[ $quality -gt 0 ]]; then
  ref_args=(--threads "$threads" --systems $((2 * quality)) --dump-systems "$work/systems"
            --ranks 16,32 --pairs-per-rank "$quality" --skip-allpairs)
  dynx_args+=(--pairs-per-rank "$quality" --allpairs-systems 0)
fi
echo "== reference (dsa-metric) =="
"$ref_python" bench/reference/dsa_reference_bench.py "${ref_args[@]}" --out "$work/reference.json" > /dev/null
echo "== dynx =="
# OpenBLAS picks its slowest kernels on VMs that hide the CPU model; say what the CPU can do.
if [[ -z ${OPENBLAS_CORETYPE:-} ]] && grep -qw avx2 /proc/cpuinfo; then export OPENBLAS_CORETYPE=Haswell; fi
OMP_NUM_THREADS=$threads "$build/bench/dynx_bench_dsa" "${dynx_args[@]}" --out "$work/dynx.json" > /dev/null

date=$(date -u +%Y-%m-%d)
sha=$(git rev-parse --short HEAD)
mkdir -p bench/results
out=bench/results/$date-dsa-vs-reference-$sha
n=1
while [[ -e $out.json ]]; do n=$((n + 1)); out=bench/results/$date-dsa-vs-reference-$sha-$n; done
python3 bench/compare_dsa.py "$work/reference.json" "$work/dynx.json" "$out" \
  --command "bench/run_dsa_vs_reference.sh $*" --threads "$threads"
echo "wrote $out.json and $out.md"
