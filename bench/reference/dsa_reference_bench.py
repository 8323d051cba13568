#!/usr/bin/env python3
"""Time the reference DSA implementation (PyPI ``dsa-metric``, import name ``DSA``) on this machine.

Prints one JSON object to stdout (and writes it to --out when given) with:

* ``per_pair_angular``: the time of one angular comparison through the ``DSA`` class with its
  defaults (``iters=1500, lr=5e-3``, Adam + Cayley, two branches) for operator sizes r in --ranks.
  Each repetition fits two synthetic systems with ``n_delays = ceil(r / features)`` and
  ``rank = r`` (so ``A_v`` is r x r) and times ``DSA.score()`` alone (the DMD fits are timed
  separately). Repetition p compares systems (2p, 2p+1) (indices modulo --systems) and runs right
  after ``torch.manual_seed(seed + p)``. Mean and min over --pairs-per-rank repetitions.
* ``all_pairs``: self-pairwise ``DSA`` on --systems systems (``n_delays``/``rank`` from
  --allpairs-n-delays/--allpairs-rank): DMD fit time, full Wasserstein all-pairs time (measured),
  and the angular all-pairs time ESTIMATED from the first --angular-pairs pairs in the class's own
  pair order (i = 1.., j < i) as ``fit_seconds + per_pair_mean * n(n-1)/2``
  (``"extrapolated": true`` with the measured count).

torch runs with ``torch.set_num_threads(--threads)`` (default 2), one process (``n_jobs=1``); one
short untimed comparison (iters=10) runs first so torch's one-time initialisation is not timed.
The JSON records the load average at start and end: on a busy 2-core machine, --threads 2 makes
torch's OpenMP threads fight the other load (measured here at load ~4-5: rank 16 went from ~5 s
per pair with 1 thread to 11-30 s with 2), so only trust --threads 2 numbers from an idle machine.

Identical inputs for dynx: ``make_systems()`` is the generator, and ``--dump-systems DIR`` writes
every system used as ``DIR/sys_000.npy`` ... (float64, C order, shape (T, N)) plus
``DIR/manifest.json`` (generator parameters, SHA-256 of each array's bytes, which systems each
benchmark used and with which n_delays/rank). System i depends only on (seed, i, features,
timesteps): the first k systems are the same whatever --systems is. The values are rounded to
float32-representable numbers, because the reference converts its input to float32; a float64
engine then reads exactly what the reference saw.

Each system: x_{t+1} = A x_t + 0.1 e_t, x_0 ~ N(0, I), e_t ~ N(0, I), with
A = G blockdiag(r_b R(theta_b)) G^{-1} (features/2 rotation blocks, plus one real eigenvalue when
features is odd), radii r_b ~ U(0.7, 0.97), theta_b ~ U(0.05, pi/2), G = Q1 diag(U(0.6, 1.4)) Q2
(Q Haar orthogonal).

Examples (with the reference in its own virtual environment):
    /opt/dsa-ref/bin/python bench/reference/dsa_reference_bench.py                  # full (slow)
    /opt/dsa-ref/bin/python bench/reference/dsa_reference_bench.py --ranks 8,16 \\
        --pairs-per-rank 1 --systems 10 --angular-pairs 2 --out /tmp/ref.json
    /opt/dsa-ref/bin/python bench/reference/dsa_reference_bench.py --systems 100 \\
        --dump-systems /tmp/dsa_systems --skip-ranks --skip-allpairs                 # data only
"""

import argparse
import datetime
import hashlib
import json
import math
import os
import platform
import sys
import time

import numpy as np

NOISE = 0.1


# --------------------------------------------------------------------------- synthetic data


def _haar_orthogonal(rng, n):
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return q * np.sign(np.diag(r))


def make_system(seed, index, features=8, timesteps=500):
    """One (timesteps, features) float64 trajectory of a random stable linear system (see module
    docstring). Deterministic in (seed, index, features, timesteps)."""
    rng = np.random.default_rng([seed, index])
    n = features
    lam = np.zeros((n, n))
    for b in range(n // 2):
        r = rng.uniform(0.7, 0.97)
        th = rng.uniform(0.05, math.pi / 2)
        c, s = math.cos(th), math.sin(th)
        lam[2 * b : 2 * b + 2, 2 * b : 2 * b + 2] = r * np.array([[c, -s], [s, c]])
    if n % 2:
        lam[n - 1, n - 1] = rng.uniform(-0.95, 0.95)
    g = _haar_orthogonal(rng, n) @ np.diag(rng.uniform(0.6, 1.4, n)) @ _haar_orthogonal(rng, n)
    a = g @ lam @ np.linalg.inv(g)
    x = np.zeros((timesteps, n))
    x[0] = rng.standard_normal(n)
    for t in range(1, timesteps):
        x[t] = a @ x[t - 1] + NOISE * rng.standard_normal(n)
    return x.astype(np.float32).astype(np.float64)


def make_systems(n_systems, features=8, timesteps=500, seed=0):
    """The list of systems used by this benchmark (system i = make_system(seed, i, ...))."""
    return [make_system(seed, i, features, timesteps) for i in range(n_systems)]


def n_delays_for_rank(rank, features):
    return max(1, math.ceil(rank / features))


def rank_pairs(pairs_per_rank, n_systems):
    return [((2 * p) % n_systems, (2 * p + 1) % n_systems) for p in range(pairs_per_rank)]


def dump_systems(directory, systems, args):
    os.makedirs(directory, exist_ok=True)
    hashes = []
    for i, s in enumerate(systems):
        arr = np.ascontiguousarray(s, dtype=np.float64)
        np.save(os.path.join(directory, f"sys_{i:03d}.npy"), arr)
        hashes.append(hashlib.sha256(arr.tobytes()).hexdigest())
    ranks = [int(r) for r in args.ranks.split(",") if r]
    manifest = {
        "generator": "bench/reference/dsa_reference_bench.py:make_systems",
        "seed": args.seed, "features": args.features, "timesteps": args.timesteps,
        "noise": NOISE, "n_systems": len(systems), "dtype": "float64 (float32-representable)",
        "shape": [args.timesteps, args.features], "files": [f"sys_{i:03d}.npy" for i in
                                                            range(len(systems))],
        "sha256_of_array_bytes": hashes,
        "per_pair_angular": [
            {"rank": r, "n_delays": n_delays_for_rank(r, args.features),
             "pairs": rank_pairs(args.pairs_per_rank, len(systems))} for r in ranks],
        "all_pairs": {"n_delays": args.allpairs_n_delays, "rank": args.allpairs_rank,
                      "angular_measured_pairs": args.angular_pairs,
                      "pair_order": "i = 1..n-1, j = 0..i-1 (row-major lower triangle)"},
        "optimiser": {"iters": args.iters, "lr": args.lr},
    }
    with open(os.path.join(directory, "manifest.json"), "w") as fh:
        json.dump(manifest, fh, indent=2)
        fh.write("\n")
    return hashes


# --------------------------------------------------------------------------- benchmarks


def warm_up(torch, DSA, systems):
    """One short untimed comparison so torch's one-time initialisation is not timed."""
    dsa = DSA(systems[0], systems[1 % len(systems)], score_method="angular", iters=10, lr=5e-3,
              n_delays=1, rank=min(4, systems[0].shape[1]))
    dsa.fit_dmds()
    torch.manual_seed(0)
    dsa.score()


def bench_ranks(args, systems, torch, DSA):
    out = []
    ranks = [int(r) for r in args.ranks.split(",") if r]
    for r in ranks:
        d = n_delays_for_rank(r, args.features)
        secs, fit_secs, scores = [], [], []
        pairs = rank_pairs(args.pairs_per_rank, len(systems))
        for p, (ia, ib) in enumerate(pairs):
            dsa = DSA(systems[ia], systems[ib], score_method="angular", iters=args.iters,
                      lr=args.lr, n_delays=d, rank=r)
            t0 = time.perf_counter()
            dsa.fit_dmds()
            fit_secs.append(time.perf_counter() - t0)
            shape = tuple(dsa.dmds[0][0].A_v.shape)
            assert shape == (r, r), f"A_v is {shape}, expected {(r, r)}"
            torch.manual_seed(args.seed + p)
            t0 = time.perf_counter()
            val = dsa.score()
            secs.append(time.perf_counter() - t0)
            scores.append(float(val))
            print(f"[rank {r}] pair {p} ({ia},{ib}): {secs[-1]:.3f} s, angular {val:.4f}",
                  file=sys.stderr, flush=True)
        out.append({
            "rank": r, "n_delays": d, "A_v_shape": [r, r], "pairs": pairs,
            "seconds": secs, "mean_s": float(np.mean(secs)), "min_s": float(np.min(secs)),
            "dmd_fit_seconds_per_pair_mean": float(np.mean(fit_secs)), "angular_scores": scores,
        })
    return out


def bench_all_pairs(args, systems, torch, DSA):
    n = len(systems)
    n_pairs = n * (n - 1) // 2
    kw = {"n_delays": args.allpairs_n_delays, "rank": args.allpairs_rank}
    res = {"n_systems": n, "n_pairs": n_pairs, **kw, "mode": "DSA(list) self-pairwise, n_jobs=1"}

    # Wasserstein: fully measured
    dsa = DSA(systems, score_method="wasserstein", iters=args.iters, lr=args.lr, **kw)
    t0 = time.perf_counter()
    dsa.fit_dmds()
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    mat = dsa.score()
    score_s = time.perf_counter() - t0
    res["dmd_fit_seconds"] = fit_s
    res["wasserstein"] = {
        "measured": True, "score_seconds": score_s, "total_seconds": fit_s + score_s,
        "per_pair_mean_s": score_s / max(n_pairs, 1),
        "matrix_checksum": float(np.sum(mat)),
    }
    print(f"[all-pairs] n={n}: fit {fit_s:.2f} s, wasserstein scoring {score_s:.2f} s",
          file=sys.stderr, flush=True)

    # Angular: measure the first M pairs in the class's order, extrapolate to all pairs
    dsa_a = DSA(systems, score_method="angular", iters=args.iters, lr=args.lr, **kw)
    dsa_a.fit_dmds()
    cache = [dsa_a.get_compare_objects(dmd) for dmd in dsa_a.dmds[0]]
    order = [(i, j) for i in range(n) for j in range(i)]
    m = min(args.angular_pairs, n_pairs)
    secs, scores = [], []
    for k, (i, j) in enumerate(order[:m]):
        torch.manual_seed(args.seed + k)
        t0 = time.perf_counter()
        scores.append(float(dsa_a.simdist.fit_score(cache[i], cache[j])))
        secs.append(time.perf_counter() - t0)
    mean_s = float(np.mean(secs)) if secs else float("nan")
    res["angular"] = {
        "measured": False, "extrapolated": True,
        "estimate": "dmd_fit_seconds + per_pair_mean_s * n_pairs",
        "measured_pairs": m, "measured_pair_indices": order[:m],
        "measured_seconds_total": float(np.sum(secs)),
        "per_pair_mean_s": mean_s, "per_pair_min_s": float(np.min(secs)) if secs else None,
        "per_pair_max_s": float(np.max(secs)) if secs else None,
        "estimated_total_seconds": fit_s + mean_s * n_pairs,
        "measured_scores": scores,
    }
    print(f"[all-pairs] angular: {m} pairs measured, mean {mean_s:.3f} s/pair, "
          f"estimated total {fit_s + mean_s * n_pairs:.0f} s for {n_pairs} pairs",
          file=sys.stderr, flush=True)
    return res


def main():
    ap = argparse.ArgumentParser(description="Time the reference DSA (dsa-metric) on this machine.")
    ap.add_argument("--ranks", default="8,16,32,64,128", help="comma-separated operator sizes")
    ap.add_argument("--pairs-per-rank", type=int, default=3)
    ap.add_argument("--systems", type=int, default=100, help="systems for the all-pairs timing")
    ap.add_argument("--angular-pairs", type=int, default=20,
                    help="pairs measured for the angular all-pairs extrapolation")
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    ap.add_argument("--features", type=int, default=8, help="N of each synthetic system")
    ap.add_argument("--timesteps", type=int, default=500, help="T of each synthetic system")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--allpairs-n-delays", type=int, default=4)
    ap.add_argument("--allpairs-rank", type=int, default=16)
    ap.add_argument("--iters", type=int, default=1500, help="DSA class default 1500")
    ap.add_argument("--lr", type=float, default=5e-3, help="DSA class default 5e-3")
    ap.add_argument("--dump-systems", metavar="DIR", help="write the systems as .npy into DIR")
    ap.add_argument("--skip-ranks", action="store_true")
    ap.add_argument("--skip-allpairs", action="store_true")
    ap.add_argument("--out", help="also write the JSON here")
    args = ap.parse_args()

    ranks = [int(r) for r in args.ranks.split(",") if r]
    n_needed = args.systems
    if not args.skip_ranks:
        n_needed = max(n_needed, 2)
        for r in ranks:
            d = n_delays_for_rank(r, args.features)
            if args.timesteps - (d - 1) < r:
                ap.error(f"--timesteps {args.timesteps} too short for rank {r} (n_delays {d})")
    t0 = time.perf_counter()
    systems = make_systems(n_needed, args.features, args.timesteps, args.seed)
    gen_s = time.perf_counter() - t0

    result = {
        "tool": "bench/reference/dsa_reference_bench.py",
        "date_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "config": vars(args),
        "data": {"generator": "make_systems", "n_systems": len(systems),
                 "shape": [args.timesteps, args.features], "noise": NOISE,
                 "generation_seconds": gen_s},
    }
    if args.dump_systems:
        result["data"]["dumped_to"] = os.path.abspath(args.dump_systems)
        result["data"]["sha256_of_array_bytes"] = dump_systems(args.dump_systems, systems, args)

    if not (args.skip_ranks and args.skip_allpairs):
        import torch
        from importlib.metadata import version
        from DSA import DSA

        torch.set_num_threads(args.threads)
        warm_up(torch, DSA, systems)
        result["versions"] = {"dsa-metric": version("dsa-metric"), "torch": torch.__version__,
                              "numpy": np.__version__, "POT": version("pot"),
                              "python": sys.version.split()[0]}
        result["machine"] = {"platform": platform.platform(), "processor": platform.processor(),
                             "cpu_count": os.cpu_count(),
                             "torch_threads": torch.get_num_threads(),
                             "cuda_available": bool(torch.cuda.is_available()),
                             "device_used": "cpu (DSA class does not forward device)",
                             "loadavg_at_start": list(os.getloadavg())}
        if not args.skip_ranks:
            result["per_pair_angular"] = bench_ranks(args, systems, torch, DSA)
        if not args.skip_allpairs:
            result["all_pairs"] = bench_all_pairs(args, systems[: args.systems], torch, DSA)

    if "machine" in result:
        result["machine"]["loadavg_at_end"] = list(os.getloadavg())
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        with open(args.out, "w") as fh:
            fh.write(text + "\n")


if __name__ == "__main__":
    main()
