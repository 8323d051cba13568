#!/usr/bin/env python3
"""Generate the InputDSA reference fixtures for dynx's tests.

Runs the reference Python package ``dsa-metric`` (import ``DSA``; 2.0.2) on small seeded driven
systems and writes ``fixtures.npz`` (``np.savez``, uncompressed, every member float64, scalars
0-d) and ``meta.json`` next to this script. Everything here is deterministic (no optimiser): the
reference's SubspaceDMDc fit is float64 numpy, its controllability comparisons closed form.

Systems (x' = A x + B u + 0.02 w, y = C x + 0.02 v, u white Gaussian; 4 states, 1 input,
3 outputs; ``np.random.default_rng(SEED)``):
  s0  (A1, B1)                     2 trials × 300 steps, shape (2, 300, 3) / inputs (2, 300, 1)
  s1  (A1, B1) seen through an orthogonal rotation of its 3 outputs (the same draws as s0)
  s2  (A2, B2)                     2 trials × 300 steps

Members, per system k (SubspaceDMDc(y_k, u_k, n_delays=3, rank=4, lamb=1e-8).fit()):
  y{k}, u{k}                       the inputs handed to the reference
  sv{k}                            singular values of the oblique projection (info["singular_values_O"])
  eig{k}_re, eig{k}_im             eigenvalues of A_v, sorted by (re, im)
  markov{k}                        C_v A_v^j B_v for j = 0..5, shape (6, 3, 1) (basis-free)
  a{k}, b{k}, c{k}                 A_v (4, 4), B_v (4, 1), C_v (3, 4) in the reference's basis (the
                                   SVD gauge of its oblique projection), row-major
DMDc (DMDc(y_k, u_k, n_delays=2, rank_output=4).fit(), float32 in the reference, pairs formed on
the concatenated trials), for k = 0, 2:
  dmdc_eig{k}_re, dmdc_eig{k}_im   eigenvalues of its A_v (4 × 4), sorted by (re, im)
  dmdc_sv{k}                       singular values of its Y
Per pair (i, j) in (0, 1), (0, 2), (1, 2), ControllabilitySimilarityTransformDist on
(A_i, A_j, B_i, B_j):
  joint{i}{j}_euc_compat, state{i}{j}_euc, control{i}{j}_euc
                                   compare='joint', score 'euclidean', return_distance_components
                                   (the joint value is the reference's direction, ‖K_x − C K_y‖)
  joint{i}{j}_ang_compat, state{i}{j}_ang, control{i}{j}_ang      the same, score 'angular'
  input{i}{j}_euc, input{i}{j}_ang compare='control'
  wass{i}{j}                       SimilarityTransformDist(score_method='wasserstein') on A_i, A_j

Usage: /opt/dsa-ref/bin/python tests/data/input_dsa/make_fixtures.py
"""

import datetime
import json
import os
import platform
import sys
from importlib.metadata import version

import numpy as np
import torch

from DSA.subspace_dmdc import SubspaceDMDc
from DSA.simdist_controllability import ControllabilitySimilarityTransformDist
from DSA.simdist import SimilarityTransformDist

SEED = 20261203
N_DELAYS, RANK, LAMB = 3, 4, 1e-8


def rotation_dynamics(rng, n, radius, theta0):
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    d = np.zeros((n, n))
    for i in range(0, n - 1, 2):
        th, r = theta0 + 0.4 * i, radius * (1 - 0.05 * i)
        d[i:i + 2, i:i + 2] = r * np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]])
    return q @ d @ q.T


def simulate(rng, a, b, c, trials, steps, noise=0.02):
    n, m, p = a.shape[0], b.shape[1], c.shape[0]
    y = np.zeros((trials, steps, p))
    u = rng.standard_normal((trials, steps, m))
    for k in range(trials):
        x = rng.standard_normal(n)
        for t in range(steps):
            y[k, t] = c @ x + noise * rng.standard_normal(p)
            x = a @ x + b @ u[k, t] + noise * rng.standard_normal(n)
    return y, u


def main():
    torch.set_num_threads(1)
    rng = np.random.default_rng(SEED)
    n, m, p = 4, 1, 3
    a1, a2 = rotation_dynamics(rng, n, 0.9, 0.3), rotation_dynamics(rng, n, 0.8, 1.0)
    b1, b2 = rng.standard_normal((n, m)), 2 * rng.standard_normal((n, m))
    c = rng.standard_normal((p, n))
    y0, u0 = simulate(rng, a1, b1, c, 2, 300)
    rot, _ = np.linalg.qr(rng.standard_normal((p, p)))
    y1, u1 = y0 @ rot.T, u0.copy()
    y2, u2 = simulate(rng, a2, b2, c, 2, 300)
    out, models = {}, []
    for k, (y, u) in enumerate([(y0, u0), (y1, u1), (y2, u2)]):
        model = SubspaceDMDc(y, u, n_delays=N_DELAYS, rank=RANK, lamb=LAMB)
        model.fit()
        av, bv, cv = (np.asarray(model.A_v, float), np.asarray(model.B_v, float),
                      np.asarray(model.C_v, float))
        models.append((av, bv))
        ev = np.linalg.eigvals(av)
        order = np.lexsort((ev.imag, ev.real))
        out[f"y{k}"], out[f"u{k}"] = y, u
        out[f"sv{k}"] = np.asarray(model.info["singular_values_O"], float)
        out[f"eig{k}_re"], out[f"eig{k}_im"] = ev.real[order], ev.imag[order]
        out[f"a{k}"], out[f"b{k}"], out[f"c{k}"] = av, bv, cv
        out[f"markov{k}"] = np.stack([cv @ np.linalg.matrix_power(av, j) @ bv for j in range(6)])
    from DSA.dmdc import DMDc
    for k, (y, u) in [(0, (y0, u0)), (2, (y2, u2))]:
        model = DMDc(y, u, n_delays=2, rank_output=4)
        model.fit()
        ev = np.linalg.eigvals(np.asarray(model.A_v, dtype=np.float64))
        order = np.lexsort((ev.imag, ev.real))
        out[f"dmdc_eig{k}_re"], out[f"dmdc_eig{k}_im"] = ev.real[order], ev.imag[order]
        out[f"dmdc_sv{k}"] = np.asarray(model.Sr, dtype=np.float64)
    for i, j in [(0, 1), (0, 2), (1, 2)]:
        (ai, bi), (aj, bj) = models[i], models[j]
        for score, tag in [("euclidean", "euc"), ("angular", "ang")]:
            joint, state, control = ControllabilitySimilarityTransformDist(
                score_method=score, compare="joint", return_distance_components=True).fit_score(
                    ai, aj, bi, bj)
            out[f"joint{i}{j}_{tag}_compat"] = np.float64(joint)
            out[f"state{i}{j}_{tag}"] = np.float64(state)
            out[f"control{i}{j}_{tag}"] = np.float64(control)
            out[f"input{i}{j}_{tag}"] = np.float64(ControllabilitySimilarityTransformDist(
                score_method=score, compare="control").fit_score(ai, aj, bi, bj))
        out[f"wass{i}{j}"] = np.float64(
            SimilarityTransformDist(score_method="wasserstein").fit_score(ai, aj))
    here = os.path.dirname(os.path.abspath(__file__))
    np.savez(os.path.join(here, "fixtures.npz"), **{k: np.asarray(v, dtype=np.float64) for k, v in out.items()})
    meta = {"generator": "tests/data/input_dsa/make_fixtures.py", "seed": SEED,
            "n_delays": N_DELAYS, "rank": RANK, "lamb": LAMB,
            "versions": {"dsa-metric": version("dsa-metric"), "numpy": np.__version__,
                         "torch": torch.__version__, "python": sys.version.split()[0]},
            "platform": platform.platform(),
            "date_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
    with open(os.path.join(here, "meta.json"), "w") as fh:
        json.dump(meta, fh, indent=2)
        fh.write("\n")


if __name__ == "__main__":
    main()
