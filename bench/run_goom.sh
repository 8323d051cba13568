#!/usr/bin/env bash
# GOOM scans against batched GEMM, and Lyapunov methods against sequential QR at T = 10⁶
# (dynx_bench_goom); results in bench/results/<date>-goom-<sha>.{json,md}.
# usage: bench/run_goom.sh [build-dir] [-- program options, e.g. --device cuda:0 --threads 1]
exec "$(dirname "${BASH_SOURCE[0]}")/run_bench.sh" dynx_bench_goom goom "$@"
