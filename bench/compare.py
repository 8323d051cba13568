#!/usr/bin/env python3
"""Markdown table of a dynx_bench_linalg run: dynx CPU backend against the serial LAPACKE baseline.

Reads the Google Benchmark JSON (--benchmark_out_format=json) and prints, for every op, dtype and
size, the matrices/s of `cpu`, `lapacke_serial` and (where measured) `cpu_1thread`, with the ratios
cpu / lapacke_serial and cpu / cpu_1thread. Benchmark names are BM_<op>/<backend>/<dtype>/<n>/<count>.
Standard library only.

    python3 bench/compare.py RESULT.json [--machine TEXT] [--commit SHA] [--command TEXT] > RESULT.md
"""

import argparse
import json
import math
import sys

OP_ORDER = ["gemm", "svd", "svd_values", "qr", "eigh", "eig", "solve", "inverse", "polar"]
BASELINE = "lapacke_serial"
# The timing thread's CPU time falls well below the wall-clock time when it waited: descheduled by
# another process, waiting for an OpenMP sibling that was, or blocked on a lock. Every backend here
# keeps the timing thread busy, so a larger real/cpu ratio flags a measurement to treat with care.
WAIT_FLAG = 1.25


def parse_name(name):
    """BM_<op>/<backend>/<dtype>/<n>/<count>[/real_time...] -> (op, backend, dtype, n, count)."""
    parts = name.split("/")
    if len(parts) < 5 or not parts[0].startswith("BM_"):
        return None
    return parts[0][3:], parts[1], parts[2], parts[3], int(parts[4])


def size_key(n):
    """Sort "8" < "128" < "1000x200" numerically, tall shapes after square ones."""
    if "x" in n:
        m, k = n.split("x")
        return (1, int(m), int(k))
    return (0, int(n), int(n))


def load(path):
    """{(op, dtype, n, count): {backend: (items_per_second or 'error: ...', real/cpu time)}} and
    the JSON context."""
    with open(path) as f:
        data = json.load(f)
    samples = {}
    for b in data.get("benchmarks", []):
        if b.get("run_type") == "aggregate":
            continue
        key = parse_name(b.get("run_name") or b["name"])
        if key is None:
            continue
        op, backend, dtype, n, count = key
        slot = samples.setdefault((op, dtype, n, count), {}).setdefault(backend, [])
        if b.get("error_occurred"):
            slot.append("error: " + b.get("error_message", "?"))
        elif "items_per_second" in b:
            waited = b["real_time"] / b["cpu_time"] if b.get("cpu_time") else 1.0
            slot.append((float(b["items_per_second"]), waited))
    rows = {}
    for key, backends in samples.items():
        rows[key] = {}
        for backend, values in backends.items():
            numbers = [v for v in values if isinstance(v, tuple)]
            # Repetitions (--benchmark_repetitions): the best one. Load from other processes only
            # ever slows a run down, so the fastest repetition is the least disturbed.
            if numbers:
                rows[key][backend] = max(numbers)
            else:
                rows[key][backend] = (values[0], 1.0)
    return rows, data.get("context", {})


def rate(entry):
    if entry is None:
        return "–"
    v, waited = entry
    if isinstance(v, str):
        return v.replace("|", "/")
    flag = " †" if waited > WAIT_FLAG else ""
    for scale, suffix in ((1e6, "M"), (1e3, "k")):
        if v >= scale:
            return f"{v / scale:.3g}{suffix}{flag}"
    return f"{v:.3g}{flag}"


def ratio(a, b):
    if a is None or b is None:
        return None
    if isinstance(a[0], float) and isinstance(b[0], float) and b[0] > 0:
        return a[0] / b[0]
    return None


def fmt_ratio(r):
    return "–" if r is None else f"{r:.2f}×"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("json", help="Google Benchmark JSON output of dynx_bench_linalg")
    ap.add_argument("--machine", default=None, help="machine description (e.g. lscpu model, cores)")
    ap.add_argument("--commit", default=None, help="commit the run measured")
    ap.add_argument("--command", default=None, help="the exact command that produced the JSON")
    args = ap.parse_args()

    rows, ctx = load(args.json)
    out = sys.stdout
    out.write("# dynx CPU backend vs serial LAPACKE\n\n")
    if args.commit:
        out.write(f"- commit: `{args.commit}`\n")
    out.write(f"- date: {ctx.get('date', '?')}\n")
    if args.machine:
        out.write(f"- machine: {args.machine}\n")
    out.write(f"- Google Benchmark context: {ctx.get('num_cpus', '?')} CPUs at "
              f"{ctx.get('mhz_per_cpu', '?')} MHz, load average "
              f"{', '.join(f'{x:.2f}' for x in ctx.get('load_avg', [])) or '?'} at start, "
              f"library build type {ctx.get('library_build_type', '?')}\n")
    if "dynx_build" in ctx:
        out.write(f"- dynx: {ctx['dynx_build']}\n")
    if args.command:
        out.write(f"- command: `{args.command}`\n")
    out.write(
        "\nMatrices per second (higher is better). `cpu`: dynx with the default thread count, "
        "OpenMP over the batch; `lapacke_serial`: one high-level LAPACKE call (or cblas gemm) per "
        "matrix in a serial loop; `cpu_1thread`: dynx with `ctx.set_num_threads(1)` (gemm and svd "
        "only). Ratios above 1 mean dynx is faster.\n\n")
    out.write("| op | dtype | n | count | dynx cpu | lapacke_serial | cpu / lapacke | "
              "cpu_1thread | cpu_1thread / lapacke | cpu / cpu_1thread |\n")
    out.write("|---|---|---|---|---:|---:|---:|---:|---:|---:|\n")

    def order(key):
        op, dtype, n, count = key
        rank = OP_ORDER.index(op) if op in OP_ORDER else len(OP_ORDER)
        return (rank, op, dtype != "f64", size_key(n), count)

    per_op = {}
    for key in sorted(rows, key=order):
        op, dtype, n, count = key
        r = rows[key]
        cpu, base, one = r.get("cpu"), r.get(BASELINE), r.get("cpu_1thread")
        vs_base = ratio(cpu, base)
        if vs_base is not None:
            per_op.setdefault((op, dtype), []).append(vs_base)
        out.write(f"| {op} | {dtype} | {n} | {count} | {rate(cpu)} | {rate(base)} | "
                  f"{fmt_ratio(vs_base)} | {rate(one)} | {fmt_ratio(ratio(one, base))} | "
                  f"{fmt_ratio(ratio(cpu, one))} |\n")

    flagged = sum(1 for r in rows.values() for e in r.values()
                  if isinstance(e[0], float) and e[1] > WAIT_FLAG)
    if flagged:
        out.write(f"\n† {flagged} measurement(s) where the timing thread's wall-clock time exceeded "
                  f"its CPU time by more than {WAIT_FLAG}×: it sat waiting, for a core taken by another "
                  "process, for an OpenMP sibling that lost its core, or on a lock. Usually "
                  "load from other processes; treat that ratio with care.\n")

    if per_op:
        out.write("\nGeometric mean of cpu / lapacke over the sizes:\n\n")
        out.write("| op | dtype | sizes | geomean cpu / lapacke |\n|---|---|---:|---:|\n")
        for (op, dtype) in sorted(per_op, key=lambda k: (OP_ORDER.index(k[0]) if k[0] in OP_ORDER
                                                          else len(OP_ORDER), k[1] != "f64")):
            rs = per_op[(op, dtype)]
            g = math.exp(sum(math.log(x) for x in rs) / len(rs))
            out.write(f"| {op} | {dtype} | {len(rs)} | {g:.2f}× |\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
