#!/usr/bin/env bash
# InputDSA: dynx side by side with the reference package dsa-metric, in one run on this machine,
# on identical inputs (the reference benchmark dumps its seeded driven systems; dynx reads them),
# with the same thread count. Writes
#   bench/results/<date>-input-dsa-vs-reference-<shortsha>.json   both raw results + command
#   bench/results/<date>-input-dsa-vs-reference-<shortsha>.md     times, ratios, score checks
#
# usage: bench/run_input_dsa_vs_reference.sh
# environment: REF_PYTHON (default /opt/dsa-ref/bin/python), THREADS (default 1), BUILD
#              (default build-bench), SYSTEMS (default 100)
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
ref_python=${REF_PYTHON:-/opt/dsa-ref/bin/python}
threads=${THREADS:-1}
build=${BUILD:-build-bench}
systems=${SYSTEMS:-100}
launcher=()
if command -v ccache >/dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DDYNX_BUILD_TESTS=OFF \
  -DDYNX_BUILD_BENCH=ON -DDYNX_ENABLE_CUDA=OFF "${launcher[@]}" > /dev/null
cmake --build "$build" --target dynx_bench_input_dsa
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "== reference (dsa-metric) =="
"$ref_python" bench/reference/input_dsa_reference_bench.py --systems "$systems" --threads "$threads" \
  --dump-systems "$work/systems" --out "$work/reference.json"
echo "== dynx =="
if [[ -z ${OPENBLAS_CORETYPE:-} ]] && grep -qw avx2 /proc/cpuinfo; then export OPENBLAS_CORETYPE=Haswell; fi
OMP_NUM_THREADS=$threads "$build/bench/dynx_bench_input_dsa" --systems-dir "$work/systems" \
  --threads "$threads" --out "$work/dynx.json" > /dev/null
date=$(date -u +%Y-%m-%d)
sha=$(git rev-parse --short HEAD)
out=bench/results/$date-input-dsa-vs-reference-$sha
n=1
while [[ -e $out.json ]]; do n=$((n + 1)); out=bench/results/$date-input-dsa-vs-reference-$sha-$n; done
python3 - "$work/reference.json" "$work/dynx.json" "$out" "bench/run_input_dsa_vs_reference.sh $*" "$threads" <<'PY'
import json, os, platform, subprocess, sys, datetime
ref, dx = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
out, command, threads = sys.argv[3], sys.argv[4], sys.argv[5]
commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
ref_pairs = ref["joint_control_seconds"] + ref["wasserstein_seconds"]
ref_ang = ref["joint_control_seconds"] + ref["angular"]["estimated_total_seconds"]
ctl = [abs(a - b) for a, b in zip(dx["input"], ref["control"])]
was = [abs(a - b) for a, b in zip(dx["state_wasserstein"], ref["wasserstein"])]
ang = [a - b for a, b in zip(dx["state_angular"], ref["angular"]["scores"])]
lines = [f"# InputDSA: dynx vs dsa-metric ({datetime.date.today()})", "",
         f"- machine: {cpu}, {os.cpu_count()} cores, load average at merge {os.getloadavg()[0]:.2f}",
         f"- commit: `{commit}`; threads: {threads} for both", f"- command: `{command}`",
         f"- {dx['n_systems']} driven systems (2 trials x 300 steps, 3 outputs, 1 input), SubspaceDMDc "
         f"n_delays {ref['config']['n_delays']}, rank {ref['config']['rank']}; {dx['n_pairs']} pairs", "",
         "| | reference | dynx | speed-up |", "|---|---|---|---|",
         f"| SubspaceDMDc fits | {ref['fit_seconds']:.2f} s | {dx['fit_seconds']:.3f} s | {ref['fit_seconds'] / dx['fit_seconds']:.0f}x |",
         f"| all pairs: joint + input + Wasserstein state | {ref_pairs:.2f} s | {dx['all_pairs_wasserstein_seconds']:.3f} s | {ref_pairs / dx['all_pairs_wasserstein_seconds']:.0f}x |",
         f"| all pairs: joint + input + angular state | {ref_ang:.0f} s (angular estimated from {ref['angular']['measured_pairs']} pairs) | {dx['all_pairs_angular_seconds']:.2f} s (measured) | {ref_ang / dx['all_pairs_angular_seconds']:.0f}x |",
         "", "## Score checks (first 50 pairs)", "",
         f"- input score (reference compare='control') max |dynx - ref| = {max(ctl):.2e}",
         f"- Wasserstein state score max |dynx - ref| = {max(was):.2e} (float32 eigenvalues in the reference)",
         f"- angular state score on the {len(ang)} pairs the reference ran: max(dynx - ref) = {max(ang):+.2e}",
         "- the joint score: dynx reports the paper-consistent ||C K_x - K_y||; the reference's value "
         "(its direction) depends on the basis of each fit and is not compared here (see the fixtures test)"]
json.dump({"commit": commit, "command": command, "threads": threads, "reference": ref, "dynx": dx},
          open(out + ".json", "w"), indent=1)
open(out + ".md", "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
echo "wrote $out.json and $out.md"
