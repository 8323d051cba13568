#!/usr/bin/env bash
# Builds the CPU benchmarks (Release, CUDA off, bench on) and runs them once, writing
#   bench/results/<date>-cpu-<shortsha>.json   Google Benchmark JSON
#   bench/results/<date>-cpu-<shortsha>.md     dynx vs serial LAPACKE table (bench/compare.py)
# (<date>-cpu-<shortsha>-2.* and so on when that name is taken: earlier runs are never overwritten).
#
# usage: bench/run_cpu.sh [build-dir]       (default build-bench, relative to the repository root)
# environment: MIN_TIME   --benchmark_min_time in seconds (default 0.5; the whole run then takes
#                         about 7 minutes on 2 idle cores)
#              FILTER     --benchmark_filter regex (default: everything)
#              REPETITIONS --benchmark_repetitions (default 1); compare.py keeps the best one
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
build=${1:-build-bench}
min_time=${MIN_TIME:-0.5}
filter=${FILTER:-}
repetitions=${REPETITIONS:-1}

launcher=()
if command -v ccache >/dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
generator=()
if command -v ninja >/dev/null; then generator=(-G Ninja); fi
cmake -S . -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DDYNX_ENABLE_CUDA=OFF \
  -DDYNX_BUILD_TESTS=OFF -DDYNX_BUILD_BENCH=ON "${launcher[@]}"
cmake --build "$build" --target dynx_bench_linalg

date=$(date -u +%Y-%m-%d)
sha=$(git rev-parse --short HEAD)
mkdir -p bench/results
out=bench/results/$date-cpu-$sha
# Never overwrite an earlier run of the same commit on the same day: add -2, -3, ...
n=1
while [[ -e $out.json ]]; do n=$((n + 1)); out=bench/results/$date-cpu-$sha-$n; done

# Google Benchmark 1.7.1 takes --benchmark_min_time as a plain number of seconds.
cmd=("$build/bench/dynx_bench_linalg" "--benchmark_out=$out.json" --benchmark_out_format=json
     "--benchmark_min_time=$min_time")
if [[ -n $filter ]]; then cmd+=("--benchmark_filter=$filter"); fi
if [[ $repetitions != 1 ]]; then cmd+=("--benchmark_repetitions=$repetitions"); fi
env_note=""
for v in OMP_NUM_THREADS OPENBLAS_NUM_THREADS OMP_PROC_BIND; do
  if [[ -n ${!v:-} ]]; then env_note+="$v=${!v} "; fi
done
echo "running: ${env_note}${cmd[*]}" >&2
if ! "${cmd[@]}"; then
  echo "benchmark run failed; $out.json is incomplete and no table was written" >&2
  exit 1
fi

model=$(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -n1)
cores=$(nproc)
python3 bench/compare.py "$out.json" \
  --machine "${model:-unknown CPU}, $cores cores ($(uname -sr))" \
  --commit "$sha" \
  --command "${env_note}${cmd[*]}" >"$out.md"
echo "wrote $out.json and $out.md" >&2
