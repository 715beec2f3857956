"""Ensemble (n_seeds = K) vs K separate runs at the quick budget (docs/method.md §7).

    PYTHONPATH=$PWD python benchmarks/ensemble_accuracy.py [--kinds c j] [--seeds 3] [--steps N]

On a 1v1 Gaussian (rho = 0.75, MI 0.4133 nats) and a 5x5 Gaussian (random_covariance(5, 5,
[0.7, 0.6, 0.3], seed=2)), trains MINDE(n_seeds=K) once and MINDE(seed=s) for each of the K seeds,
and prints the per-seed estimates of both, their largest difference, the truth, and wall times.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
from _timing import load

import minde
from minde.bench.gaussian import gaussian_mi, random_covariance

TASKS = {
    "1v1 rho=0.75": (np.array([[1.0, 0.75], [0.75, 1.0]]), 1),
    "5x5": (random_covariance(5, 5, [0.7, 0.6, 0.3], seed=2), 5),
}


def compare(name: str, kind: str, n_seeds: int, steps: int | None) -> None:
    """Fit the ensemble and the separate runs on one task and print one block of rows."""
    cov, dx = TASKS[name]
    budget = minde.BUDGETS["quick"]
    z = np.random.default_rng(0).multivariate_normal(np.zeros(len(cov)), cov,
                                                     size=budget.n_train + budget.n_test)
    x, y = z[:budget.n_train, :dx], z[:budget.n_train, dx:]
    xt, yt = z[budget.n_train:, :dx], z[budget.n_train:, dx:]
    kw = dict(budget="quick", steps=steps, progress=False)
    t0 = time.perf_counter()
    ens = minde.MINDE(kind, seed=0, n_seeds=n_seeds, **kw).fit(x, y).estimate(xt, yt)
    t_ens = time.perf_counter() - t0
    t0 = time.perf_counter()
    singles = [minde.MINDE(kind, seed=s, **kw).fit(x, y).estimate(xt, yt) for s in range(n_seeds)]
    t_sep = time.perf_counter() - t0
    print(f"\n{name}  kind {kind}  truth {gaussian_mi(cov, dx):.4f} nats  "
          f"ensemble {t_ens:.0f} s, separate {t_sep:.0f} s")
    print(f"{'seed':>4} {'ens mi':>8} {'sep mi':>8} {'ens mi_s':>9} {'sep mi_s':>9}")
    for s, r in enumerate(singles):
        print(f"{s:>4} {ens.mi_per_seed[s]:>8.4f} {r.mi:>8.4f} {ens.mi_sigma_per_seed[s]:>9.4f} "
              f"{r.mi_sigma:>9.4f}")
    diff = max(max(abs(ens.mi_per_seed[s] - r.mi), abs(ens.mi_sigma_per_seed[s] - r.mi_sigma))
               for s, r in enumerate(singles))
    print(f"mean: ensemble {ens.mi:.4f} / {ens.mi_sigma:.4f} (seed std {ens.mi_seed_std:.4f}); "
          f"separate {np.mean([r.mi for r in singles]):.4f} / "
          f"{np.mean([r.mi_sigma for r in singles]):.4f}; max |difference| {diff:.2e} nats", flush=True)


def main() -> None:
    """Run every (task, kind) pair."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kinds", nargs="+", default=["c", "j"])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=None, help="override the quick budget's steps")
    args = ap.parse_args()
    print(f"# ensemble_accuracy: start, {load()}")
    for name in TASKS:
        for kind in args.kinds:
            compare(name, kind, args.seeds, args.steps)
    print(f"# end, {load()}")


if __name__ == "__main__":
    main()
