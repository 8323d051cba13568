#!/usr/bin/env bash
# DEER, quasi-DEER and the automatic choice against our sequential evaluator over T, D and batch
# (dynx_bench_deer); results in bench/results/<date>-deer-<sha>.{json,md}.
# usage: bench/run_deer.sh [build-dir] [-- program options, e.g. --device cuda:0 --quick]
exec "$(dirname "${BASH_SOURCE[0]}")/run_bench.sh" dynx_bench_deer deer "$@"
