#!/usr/bin/env python3
"""Time the reference InputDSA pieces (PyPI ``dsa-metric``) on seeded driven systems, and dump the
systems for dynx (bench/run_input_dsa_vs_reference.sh runs both).

Systems: --systems driven linear systems x' = A x + B u + 0.02 w, y = C x + 0.02 v (6 latent
dimensions, 3 outputs, 1 white-noise input, 2 trials × 300 steps), A from two families (spectral
radius 0.9 or 0.8, random rotation), B random; ``np.random.default_rng(seed)``.

Timed (torch with --threads threads):
  fits          SubspaceDMDc(y, u, n_delays, rank).fit() for every system
  joint+control ControllabilitySimilarityTransformDist(compare='joint',
                return_distance_components=True) and compare='control' for all pairs j < i
  wasserstein   SimilarityTransformDist(score_method='wasserstein') on the A's, all pairs
  angular       SimilarityTransformDist(score_method='angular', iters=1500, lr=5e-3) on the first
                --angular-pairs pairs (an estimate for all pairs: hours otherwise)
"""

import argparse
import json
import os
import platform
import sys
import time

import numpy as np


def make_system(rng, families):
    n, m, p = 6, 1, 3
    fam = rng.integers(len(families))
    a = families[fam]
    b = rng.standard_normal((n, m))
    c = families[-1][:p, :]
    y = np.zeros((2, 300, p))
    u = rng.standard_normal((2, 300, m))
    for k in range(2):
        x = rng.standard_normal(n)
        for t in range(300):
            y[k, t] = c @ x + 0.02 * rng.standard_normal(p)
            x = a @ x + b @ u[k, t] + 0.02 * rng.standard_normal(n)
    return y, u


def rotation(rng, n, radius):
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    d = np.zeros((n, n))
    for i in range(0, n - 1, 2):
        th = 0.3 + 0.4 * i
        d[i:i + 2, i:i + 2] = radius * np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]])
    return q @ d @ q.T


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--systems", type=int, default=100)
    ap.add_argument("--n-delays", type=int, default=6)
    ap.add_argument("--rank", type=int, default=6)
    ap.add_argument("--angular-pairs", type=int, default=10)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--dump-systems", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()

    rng = np.random.default_rng(a.seed)
    fams = [rotation(rng, 6, 0.9), rotation(rng, 6, 0.8)]
    obs, _ = np.linalg.qr(rng.standard_normal((6, 6)))
    systems = [make_system(rng, fams + [obs]) for _ in range(a.systems)]
    os.makedirs(a.dump_systems, exist_ok=True)
    for i, (y, u) in enumerate(systems):
        np.save(os.path.join(a.dump_systems, f"y_{i:03d}.npy"), y)
        np.save(os.path.join(a.dump_systems, f"u_{i:03d}.npy"), u)
    manifest = {"n_systems": a.systems, "n_delays": a.n_delays, "rank": a.rank, "shape_y": [2, 300, 3],
                "shape_u": [2, 300, 1], "seed": a.seed}
    json.dump(manifest, open(os.path.join(a.dump_systems, "manifest.json"), "w"))

    import torch
    from importlib.metadata import version
    from DSA.subspace_dmdc import SubspaceDMDc
    from DSA.simdist_controllability import ControllabilitySimilarityTransformDist
    from DSA.simdist import SimilarityTransformDist
    torch.set_num_threads(a.threads)

    t0 = time.perf_counter()
    models = []
    for y, u in systems:
        md = SubspaceDMDc(y, u, n_delays=a.n_delays, rank=a.rank)
        md.fit()
        models.append((np.asarray(md.A_v, float), np.asarray(md.B_v, float)))
    fit_s = time.perf_counter() - t0
    n = len(models)
    pairs = [(i, j) for i in range(n) for j in range(i)]
    joint = ControllabilitySimilarityTransformDist(compare="joint", return_distance_components=True)
    control = ControllabilitySimilarityTransformDist(compare="control")
    t0 = time.perf_counter()
    jscores, cscores = [], []
    for i, j in pairs:
        jscores.append([float(v) for v in joint.fit_score(models[i][0], models[j][0], models[i][1], models[j][1])])
        cscores.append(float(control.fit_score(models[i][0], models[j][0], models[i][1], models[j][1])))
    jc_s = time.perf_counter() - t0
    wd = SimilarityTransformDist(score_method="wasserstein")
    t0 = time.perf_counter()
    wscores = [float(wd.fit_score(models[i][0], models[j][0])) for i, j in pairs]
    w_s = time.perf_counter() - t0
    ad = SimilarityTransformDist(score_method="angular", iters=1500, lr=5e-3)
    t0 = time.perf_counter()
    ascores = []
    for k, (i, j) in enumerate(pairs[: a.angular_pairs]):
        torch.manual_seed(k)
        ascores.append(float(ad.fit_score(models[i][0], models[j][0])))
    a_s = time.perf_counter() - t0
    res = {"tool": "bench/reference/input_dsa_reference_bench.py", "config": vars(a),
           "versions": {"dsa-metric": version("dsa-metric"), "torch": torch.__version__,
                        "numpy": np.__version__, "python": sys.version.split()[0]},
           "platform": platform.platform(), "n_pairs": len(pairs),
           "fit_seconds": fit_s, "joint_control_seconds": jc_s, "wasserstein_seconds": w_s,
           "angular": {"measured_pairs": len(ascores), "seconds": a_s,
                       "estimated_total_seconds": a_s / max(len(ascores), 1) * len(pairs),
                       "scores": ascores},
           "joint_components": jscores[:50], "control": cscores[:50], "wasserstein": wscores[:50]}
    json.dump(res, open(a.out, "w"), indent=1)


if __name__ == "__main__":
    main()
