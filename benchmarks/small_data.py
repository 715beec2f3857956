"""MINDE on small data sets: today's defaults against the former ones and KSG (docs/method.md §18).

    PYTHONPATH=$PWD python benchmarks/small_data.py [--tasks multinormal-dense-3-3-0.5,1v1-normal-0.75]
        [--sizes 250,440,1000,2000] [--kinds c,j] [--seeds 0] [--old] [--budget quick]

For each task, size n and seed (``minde.repro.small_data.run_sample_size_study``, the computation
of ``notebooks/ablation_sample_size.ipynb``): n rows of the task's draw (seed s), given whole to
``minde.estimate_mi`` with its defaults (below 5 000 rows: 5 cross-fitted folds, one model per
fold for MINDE-C and two, scored cross-model, for MINDE-J, each trained for at most 2 (MINDE-C)
or 5 (MINDE-J) steps per training row; the MINDE column is the answer). ``--old`` adds the former
defaults on the same rows (10 % held out, 10 000 steps whatever n). KSG (k = 5) reads all n
rows. Prints one line per (task, n, seed, kind) with the truth, the estimates, their errors
and whether the result carries a warning. Minutes at the quick budget; ``--old`` adds about a
minute per line on a free core.
"""
from __future__ import annotations

import argparse

from minde.repro.small_data import run_sample_size_study


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
    sizes = [int(v) for v in args.sizes.split(",")]
    df = run_sample_size_study(args.tasks.split(","), sizes, [int(v) for v in args.seeds.split(",")],
                               kinds=args.kinds.split(","), budget=args.budget,
                               former_max=max(sizes) if args.old else 0, progress=False)
    rows = df.set_index(["task", "n", "seed", "method"])
    print(f"# budget {args.budget}; nats; 'warn' = the result carries a warning")
    head = f"{'task':<28}{'n':>6}{'seed':>5}{'kind':>5}{'truth':>7}{'KSG':>7}{'MINDE':>8}{'± se':>7}{'warn':>5}"
    print(head + (f"{'former':>8}{'± se':>7}{'warn':>5}" if args.old else "") + f"{'s':>6}")
    for (task, n, seed), g in df.groupby(["task", "n", "seed"], sort=False):
        for kind in args.kinds.split(","):
            arms = [rows.loc[(task, n, seed, f"minde_{kind}{s}")] for s in ("", "_former")[:1 + args.old]]
            line = (f"{task:<28}{n:>6}{seed:>5}{kind.upper():>5}{g['truth'].iloc[0]:>7.3f}"
                    f"{rows.loc[(task, n, seed, 'ksg'), 'estimate']:>7.3f}")
            line += "".join(f"{r['estimate']:>8.3f}{r['stderr']:>7.3f}{'yes' if r['warned'] else 'no':>5}" for r in arms)
            print(line + f"{sum(r['seconds'] for r in arms):>6.0f}")


if __name__ == "__main__":
    main()
