"""What the debiased answer costs: training time of the K models of one answer against one model.

    PYTHONPATH=$PWD python benchmarks/answer_cost.py                 # hidden 64, K = 1, 2, 3
    PYTHONPATH=$PWD python benchmarks/answer_cost.py --steps 4000 --repeats 3

MINDE-J's default answer (``minde.estimate_mi``, ``minde estimate``) is the cross-model estimate
of ``minde.api.ANSWER_MODELS`` models trained as one batched group (docs/method.md §17). This
trains MINDE-J on 10 000 rows of 1v1-normal-0.75 (hidden 64) with K = 1, 2 and 3 models,
interleaved over repeats (best kept), so the ratios are comparable on a shared machine, and
prints the training seconds and their ratio to K = 1. A first unmeasured fit per K warms the
compiled kernels' cache.
"""
from __future__ import annotations

import argparse
import time

import minde
from minde.bench.tasks import sample


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--ks", default="1,2,3")
    a = ap.parse_args()
    ks = [int(k) for k in a.ks.split(",")]
    x, y, _, _ = sample("1v1-normal-0.75", 10_000, 2, 0)
    kw = dict(budget="quick", steps=a.steps, hidden=64, progress=False)
    for k in ks:  # warm-up: compile (or load) each shape once
        minde.MINDE("j", n_seeds=k, **dict(kw, steps=min(a.steps, 300))).fit(x, y)
    best: dict[int, float] = {}
    for _ in range(a.repeats):
        for k in ks:
            start = time.perf_counter()
            minde.MINDE("j", n_seeds=k, **kw).fit(x, y)
            best[k] = min(best.get(k, float("inf")), time.perf_counter() - start)
    print(f"MINDE-J, hidden 64, {a.steps} steps, best of {a.repeats}")
    print(f"{'K':>3} {'seconds':>8} {'ratio to K=1':>13}")
    for k in ks:
        print(f"{k:>3} {best[k]:>8.1f} {best[k] / best[ks[0]]:>13.2f}")


if __name__ == "__main__":
    main()
