"""Held-out and training-row estimates of MINDE on small training sets (docs/method.md §18).

    PYTHONPATH=$PWD python benchmarks/small_data.py [--task multinormal-dense-3-3-0.5] [--kind c]
        [--sizes 250,1000,4000] [--budget quick]

One model per size (seed 0), trained on the first n rows of the task's draw and estimated on
2 000 held-out rows and on (up to 2 000 of) its training rows; prints both, the truth and the
warnings the result carries. Minutes at the quick budget (10 000 steps per size).
"""
from __future__ import annotations

import argparse

import minde
from minde.bench.tasks import get_task, sample


def main() -> None:
    """Print one line per training size."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--task", default="multinormal-dense-3-3-0.5")
    ap.add_argument("--kind", default="c", choices=("c", "j"))
    ap.add_argument("--sizes", default="250,1000,4000")
    ap.add_argument("--budget", default="quick")
    args = ap.parse_args()
    print(f"# {args.task} (truth {get_task(args.task).mi:.3f} nats), MINDE-{args.kind.upper()}, "
          f"budget {args.budget}, seed 0")
    print(f"{'n_train':>7} {'held-out':>9} {'training rows':>13}  warnings")
    for n in (int(s) for s in args.sizes.split(",")):
        x, y, xt, yt = sample(args.task, n, 2_000, 0)
        r = minde.MINDE(args.kind, budget=args.budget, progress=False).fit(x, y).estimate(xt, yt)
        print(f"{n:>7} {r.mi:>9.3f} {r.mi_train:>13.3f}  {len(r.warnings)}: {' | '.join(r.warnings)}",
              flush=True)


if __name__ == "__main__":
    main()
