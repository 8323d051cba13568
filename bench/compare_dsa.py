#!/usr/bin/env python3
"""Merge the reference (dsa-metric) and dynx DSA benchmark results into bench/results/.

usage: compare_dsa.py REFERENCE.json DYNX.json OUT_PREFIX --command CMD --threads N

Writes OUT_PREFIX.json (both raw results, the machine, the commit and the command) and
OUT_PREFIX.md (per-pair times and ratios per rank, all-pairs times, and the score check: dynx's
angular score must not exceed the reference's on the same pair by more than 1e-3)."""
import argparse
import datetime
import json
import os
import platform
import subprocess

TOL = 1e-3


def machine():
    cpu = "unknown"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "platform": platform.platform(),
            "loadavg": os.getloadavg()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("reference")
    ap.add_argument("dynx")
    ap.add_argument("out")
    ap.add_argument("--command", default="")
    ap.add_argument("--threads", default="")
    a = ap.parse_args()
    ref = json.load(open(a.reference))
    dx = json.load(open(a.dynx))
    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    rows, worse = [], []
    ref_ranks = {e["rank"]: e for e in ref.get("per_pair_angular", [])}
    for e in dx["per_pair_angular"]:
        r = ref_ranks.get(e["rank"])
        if not r:
            continue
        n = min(len(r["seconds"]), len(e["seconds"]))
        ref_mean = sum(r["seconds"][:n]) / n
        dx_mean = sum(e["seconds"][:n]) / n
        above = 0
        for k in range(n):
            if e["angular_scores"][k] > r["angular_scores"][k] + TOL:
                above += 1
                worse.append((f"rank {e['rank']} pair {k}", e["angular_scores"][k], r["angular_scores"][k]))
        below = sum(e["angular_scores"][k] < r["angular_scores"][k] - TOL for k in range(n))
        rows.append((e["rank"], n, ref_mean, dx_mean, ref_mean / dx_mean,
                     max(e["angular_scores"][k] - r["angular_scores"][k] for k in range(n)), above, below))
    ap_ref, ap_dx = ref.get("all_pairs", {}), dx.get("all_pairs", {})
    lines = [f"# DSA: dynx vs dsa-metric ({datetime.date.today()})", "",
             f"- machine: {machine()['cpu']}, {os.cpu_count()} cores, load average at merge {os.getloadavg()[0]:.2f}",
             f"- commit: `{commit}`; threads: {a.threads} for both (torch.set_num_threads / dynx Context)",
             f"- command: `{a.command}`",
             f"- reference: dsa-metric (`DSA` class defaults: angular, Adam + Cayley, iters 1500, lr 5e-3); "
             f"dynx: riemannian_multistart defaults, float64, device {dx['device']}",
             "", "## One angular comparison (fits excluded), same systems and settings", "",
             f"| rank | pairs | reference s/pair | dynx s/pair | speed-up | max(dynx − ref) score "
             f"| dynx above ref + {TOL} | dynx below ref − {TOL} |",
             "|---|---|---|---|---|---|---|---|"]
    for (rank, n, rm, dm, ratio, diff, above, below) in rows:
        lines.append(f"| {rank} | {n} | {rm:.3f} | {dm:.4f} | {ratio:.0f}× | {diff:+.2e} | {above} | {below} |")
    if ap_ref and ap_dx and "angular" in ap_ref:
        n_pairs = ap_ref["n_pairs"]
        lines += ["", f"## All pairs of {ap_dx['n_systems']} systems (rank {ap_dx['rank']}, n_delays {ap_dx['n_delays']}, {n_pairs} pairs)", "",
                  "| | reference | dynx | speed-up |", "|---|---|---|---|",
                  f"| DMD fits | {ap_ref['dmd_fit_seconds']:.2f} s | {ap_dx['fit_seconds']:.3f} s | {ap_ref['dmd_fit_seconds'] / ap_dx['fit_seconds']:.0f}× |",
                  f"| Wasserstein (fit + score) | {ap_ref['wasserstein']['total_seconds']:.2f} s | {ap_dx['wasserstein']['total_seconds']:.3f} s | {ap_ref['wasserstein']['total_seconds'] / ap_dx['wasserstein']['total_seconds']:.0f}× |",
                  f"| angular (fit + score) | {ap_ref['angular']['estimated_total_seconds']:.0f} s (estimated from {ap_ref['angular']['measured_pairs']} measured pairs) | {ap_dx['angular']['total_seconds']:.2f} s (measured) | {ap_ref['angular']['estimated_total_seconds'] / ap_dx['angular']['total_seconds']:.0f}× |"]
        lower = ap_dx["angular"]["scores_lower_triangle"]
        for k, s in enumerate(ap_ref["angular"]["measured_scores"]):
            if lower[k] > s + TOL:
                worse.append((f"all-pairs pair {k}", lower[k], s))
        m = len(ap_ref["angular"]["measured_scores"])
        if m:
            d = max(lower[k] - ap_ref["angular"]["measured_scores"][k] for k in range(m))
            lines.append(f"\nScores on the {m} all-pairs pairs the reference measured: max(dynx − ref) = {d:+.2e}.")
    lines += ["", "## Score check", ""]
    if worse:
        lines.append(f"dynx above the reference by more than {TOL} on {len(worse)} pair(s):")
        lines += [f"- {w[0]}: dynx {w[1]:.5f}, reference {w[2]:.5f}" for w in worse]
    else:
        lines.append(f"dynx's angular score is at most the reference's + {TOL} on every compared pair.")
    json.dump({"machine": machine(), "commit": commit, "command": a.command, "threads": a.threads,
               "reference": ref, "dynx": dx, "pairs_above_reference": worse},
              open(a.out + ".json", "w"), indent=1)
    open(a.out + ".md", "w").write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
