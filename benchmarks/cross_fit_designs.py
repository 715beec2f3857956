"""Which data design makes several models' answer most accurate at equal total data (docs/method.md §17, §18)?

    PYTHONPATH=$PWD python benchmarks/cross_fit_designs.py                       # MINDE-J, 3x3 task
    PYTHONPATH=$PWD python benchmarks/cross_fit_designs.py --kind c --sizes 1000,2000 --seeds 0,1

For each (size n, seed): n rows of the task's draw, given whole to each design:

- ``folds5``: the default below 5 000 rows (``minde.estimate_mi``): 5 cross-fitted models, each
  scored with the paper's estimator on the fold it did not train on;
- ``shared3``: one split with 10 % held out; 3 models (seeds) trained on the same 90 %, scored
  jointly on the held-out rows with the cross-model estimator (what ``MINDE(n_seeds=3)`` reports);
- ``disjoint3``: 3 disjoint folds; model k trains on fold k alone; each pair of models is scored
  with the cross-model estimator on the third fold, which neither saw; the answer is the
  fold-size-weighted mean over the 3 pairs, so every row is scored and no model's training rows
  overlap another's. ``disjoint3_paper`` is the paper's estimator of the same models (each on the
  two folds it did not see);
- ``folds5x2``: ``folds5`` with two models (seeds) per fold, trained on the same rows and scored
  jointly with the cross-model estimator on the fold they did not see; ``folds5x2_paper`` is the
  paper's estimator of the same models.

``--designs`` picks some of them (default: all).

Prints one row per (n, seed, design) and the mean absolute error per (n, design) at the end.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import minde
from minde.api import _fit_group, cross_fit, fold_indices
from minde.bench.tasks import get_task, sample
from minde.data import train_test_split
from minde.ensemble import cross_model_estimate


def disjoint(x: np.ndarray, y: np.ndarray, kind: str, seed: int, budget: str) -> dict[str, float]:
    """The ``disjoint3`` design: (cross-model answer, paper-estimator answer)."""
    parts = fold_indices(x.shape[0], 3, seed)
    n_tr = min(len(p) for p in parts)
    models = [minde.MINDE(kind, budget=budget, seed=seed + k, progress=False) for k in range(3)]
    _fit_group(models, [(x[p[:n_tr]], y[p[:n_tr]]) for p in parts])
    cross, paper, weights = [], [], []
    for left in range(3):
        j, k = [m for m in range(3) if m != left]
        xs, ys = x[parts[left]], y[parts[left]]
        cross.append(cross_model_estimate([models[j], models[k]], xs, ys, seed=seed).mi)
        paper.append(np.mean([models[j].estimate(xs, ys).mi, models[k].estimate(xs, ys).mi]))
        weights.append(len(parts[left]))
    w = np.array(weights, dtype=float) / sum(weights)
    return {"disjoint3": float(np.dot(w, cross)), "disjoint3_paper": float(np.dot(w, paper))}


def folds_x2(x: np.ndarray, y: np.ndarray, kind: str, seed: int, budget: str, folds: int = 5) -> dict[str, float]:
    """The ``folds5x2`` design, the default's ``minde.api.cross_fit`` with two models per fold:
    (cross-model answer, paper-estimator answer)."""
    r = cross_fit(x, y, kind, folds, seed=seed, budget=budget, models_per_fold=2, progress=False)
    return {"folds5x2": r.cross.mi, "folds5x2_paper": r.mi}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--task", default="multinormal-dense-3-3-0.5")
    ap.add_argument("--kind", default="j", choices=("c", "j"))
    ap.add_argument("--sizes", default="1000,2000,5000")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--budget", default="quick")
    ap.add_argument("--designs", default="folds5,shared3,disjoint3,folds5x2")
    a = ap.parse_args()
    designs = set(a.designs.split(","))
    truth = float(get_task(a.task).mi)
    print(f"{a.task} (truth {truth:.3f}), MINDE-{a.kind.upper()}, budget {a.budget}")
    print(f"{'n':>6} {'seed':>4} {'design':<16} {'estimate':>9} {'error':>8} {'seconds':>8}", flush=True)
    rows = []
    for n in [int(v) for v in a.sizes.split(",")]:
        for seed in [int(v) for v in a.seeds.split(",")]:
            x, y, _, _ = sample(a.task, n, 2, seed)
            found, secs = {}, {}
            if "folds5" in designs:
                start = time.perf_counter()
                found["folds5"] = minde.estimate_mi(x, y, a.kind, folds=5, budget=a.budget, seed=seed,
                                                    progress=False).mi
                secs["folds5"] = time.perf_counter() - start
            if "shared3" in designs:
                start = time.perf_counter()
                xtr, ytr, xte, yte = train_test_split(x, y, 0.1, seed)
                m = minde.MINDE(a.kind, budget=a.budget, seed=seed, n_seeds=3, progress=False).fit(xtr, ytr)
                found["shared3"] = m.estimate(xte, yte).cross.mi
                secs["shared3"] = time.perf_counter() - start
            for name, run in (("disjoint3", disjoint), ("folds5x2", folds_x2)):
                if name in designs:
                    start = time.perf_counter()
                    got = run(x, y, a.kind, seed, a.budget)
                    found.update(got)
                    secs.update(dict.fromkeys(got, time.perf_counter() - start))
            for design, est in found.items():
                rows.append((n, design, abs(est - truth)))
                print(f"{n:>6} {seed:>4} {design:<16} {est:>9.4f} {est - truth:>+8.4f} {secs[design]:>8.1f}", flush=True)
    print("\nmean absolute error (nats) per size and design")
    designs = list(dict.fromkeys(d for _, d, _ in rows))
    print(f"{'n':>6} " + " ".join(f"{d:>16}" for d in designs))
    for n in sorted({r[0] for r in rows}):
        print(f"{n:>6} " + " ".join(f"{np.mean([e for m, d, e in rows if m == n and d == des]):>16.4f}"
                                    for des in designs))


if __name__ == "__main__":
    main()
