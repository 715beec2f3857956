"""Training steps/s of one score network at hidden 64/128/256 (docs/method.md §6-§7).

    PYTHONPATH=$PWD python benchmarks/train_speed.py [--repeats 3] [--seconds 1.5]

One model (K = 1), one torch thread (MINDE_NUM_THREADS overrides), kind "c", batch 128/128/256
at D = 2/10/100 (the hidden width rule's typical dims). Best of ``repeats`` timed runs.
"""
from __future__ import annotations

import argparse

from _timing import CONFIGS, best_of, load, steps_for, train_rate


def main() -> None:
    """Print a table of steps/s and ms/step."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=3, help="timed runs per config (best kept)")
    ap.add_argument("--seconds", type=float, default=1.5, help="target seconds per timed run")
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    print(f"# train_speed: K = 1; {load()}")
    print(f"{'hidden':>6} {'batch':>5} {'D':>4} {'steps/s':>9} {'ms/step':>8}")
    for hidden, batch, dim in CONFIGS:
        n = steps_for(hidden, 1, args.seconds)
        rate = best_of(lambda h=hidden, b=batch, d=dim, n=n: train_rate(1, h, b, d, n, device=args.device), args.repeats)
        print(f"{hidden:>6} {batch:>5} {dim:>4} {rate:>9.1f} {1e3 / rate:>8.2f}", flush=True)
    print(f"# {load()}")


if __name__ == "__main__":
    main()
