"""MINDE on small data sets: today's defaults against the former ones and KSG (docs/method.md §18).

    PYTHONPATH=$PWD python benchmarks/small_data.py [--tasks multinormal-dense-3-3-0.5,1v1-normal-0.75]
        [--sizes 250,440,1000,2000] [--kinds c,j] [--seeds 0] [--old] [--budget quick]

For each task, size n and seed: n rows of the task's draw (seed s), given whole to
``minde.estimate_mi`` with its defaults (below 5 000 rows: 5 cross-fitted models, each trained
for at most 2 (MINDE-C) or 5 (MINDE-J) steps per training row). ``--old`` adds the former
defaults on the same rows (10 % held out, 10 000 steps whatever n). KSG (k = 5) reads all n
rows. Prints one line per (task, n, seed, kind) with the truth, the estimates, their errors
and whether the result carries a warning. Minutes at the quick budget; ``--old`` adds about a
minute per line on a free core.
"""
from __future__ import annotations

import argparse
import time

import minde
from minde.bench.baselines import ksg_mi
from minde.bench.tasks import get_task, sample


def main() -> None:
    """Print one line per (task, n, seed, kind)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tasks", default="multinormal-dense-3-3-0.5,1v1-normal-0.75")
    ap.add_argument("--sizes", default="250,440,1000,2000")
    ap.add_argument("--kinds", default="c,j")
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--old", action="store_true", help="also the former defaults (10 000 steps, 10 %% held out)")
    ap.add_argument("--budget", default="quick")
    args = ap.parse_args()
    print(f"# budget {args.budget}; nats; 'warn' = the result carries a warning")
    head = f"{'task':<28}{'n':>6}{'seed':>5}{'kind':>5}{'truth':>7}{'KSG':>7}{'MINDE':>8}{'± se':>7}{'warn':>5}"
    print(head + (f"{'former':>8}{'± se':>7}{'warn':>5}" if args.old else "") + f"{'s':>6}", flush=True)
    for task in args.tasks.split(","):
        truth = get_task(task).mi
        for n in (int(v) for v in args.sizes.split(",")):
            for seed in (int(v) for v in args.seeds.split(",")):
                x, y, _, _ = sample(task, n, 2, seed)
                ksg = ksg_mi(x, y, k=5)
                for kind in args.kinds.split(","):
                    start = time.perf_counter()
                    r = minde.estimate_mi(x, y, kind, budget=args.budget, seed=seed, progress=False)
                    line = (f"{task:<28}{n:>6}{seed:>5}{kind.upper():>5}{truth:>7.3f}{ksg:>7.3f}"
                            f"{r.mi:>8.3f}{r.mi_stderr:>7.3f}{'yes' if r.warnings else 'no':>5}")
                    if args.old:
                        o = minde.estimate_mi(x, y, kind, budget=args.budget, seed=seed, folds=0,
                                              steps=10_000, progress=False)
                        line += f"{o.mi:>8.3f}{o.mi_stderr:>7.3f}{'yes' if o.warnings else 'no':>5}"
                    print(line + f"{time.perf_counter() - start:>6.0f}", flush=True)


if __name__ == "__main__":
    main()
