"""What one DoE fit costs: eager ``torch.optim.Adam`` steps against the compiled step.

    PYTHONPATH=$PWD python benchmarks/doe_speed.py                        # 4 000 steps, d = 1, 5, 25
    PYTHONPATH=$PWD python benchmarks/doe_speed.py --steps 20000 --dims 5 --repeats 3

``minde.bench.doe`` fits two small densities by Adam, 200 000 steps each at the paper budget
(docs/method.md §9). For each d_x = d_y and density this runs ``doe_estimate`` with
``compile=False`` and ``compile=True`` on the same n = 10 000 correlated Gaussian rows (batch 256,
one torch thread), interleaved over repeats (best kept; a warm-up fit compiles the shapes first,
so the times are of fits in a process that has compiled them, as in a sweep), and prints the
seconds per fit, the ratio, and the difference of the estimates.
"""
from __future__ import annotations

import argparse
import time

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=4_000, help="Adam steps per density")
    ap.add_argument("--dims", default="1,5,25", help="d_x = d_y, comma list")
    ap.add_argument("--densities", default="gauss,logistic")
    ap.add_argument("--repeats", type=int, default=2)
    a = ap.parse_args()
    import torch

    from minde.bench.doe import DoEConfig, doe_estimate

    torch.set_num_threads(1)
    print(f"{'density':>9} {'d':>3} {'steps':>6} {'eager s':>8} {'compiled s':>10} {'ratio':>6} {'|diff|':>8}")
    for d in (int(v) for v in a.dims.split(",")):
        rng = np.random.default_rng(0)
        z = rng.multivariate_normal(np.zeros(2 * d), 0.5 * np.eye(2 * d) + 0.5, size=20_000)
        data = (z[:10_000, :d], z[:10_000, d:], z[10_000:, :d], z[10_000:, d:])
        for density in a.densities.split(","):
            doe_estimate(*data, DoEConfig(density, n_steps=10), compile=True)  # compile the shapes
            cfg = DoEConfig(density, n_steps=a.steps)
            best, value = {False: np.inf, True: np.inf}, {}
            for _ in range(a.repeats):
                for compiled in (False, True):
                    start = time.perf_counter()
                    value[compiled] = doe_estimate(*data, cfg, seed=0, compile=compiled)
                    best[compiled] = min(best[compiled], time.perf_counter() - start)
            print(f"{density:>9} {d:>3} {a.steps:>6} {best[False]:>8.1f} {best[True]:>10.1f} "
                  f"{best[False] / best[True]:>6.2f} {abs(value[True] - value[False]):>8.1e}")


if __name__ == "__main__":
    main()
