"""What one checkpoint of the neural baselines costs: bmi's all-pairs bounds against the blocked ones.

    PYTHONPATH=$PWD python benchmarks/critic_eval.py                     # 2 000 and 10 000 test rows, 5x5
    PYTHONPATH=$PWD python benchmarks/critic_eval.py --sizes 2000 --dims 25 --repeats 3

InfoNCE, NWJ and DV score every checkpoint on all n² pairs of the test split (docs/method.md §9):
2 000 rows at the quick budget, 10 000 at the paper protocol. For a critic of bmi's width rule
(hidden (32, 32, 8) if d_x <= 10, else (128, 128, 8)) on n correlated Gaussian rows, this times
bmi 0.1.3's linear-memory bound and ``minde.bench.critic_eval``'s blocked one, interleaved over
repeats (best kept, after one call each to compile), prints the seconds per checkpoint, their
ratio and the largest difference of the values.
"""
from __future__ import annotations

import argparse
import time

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="2000,10000", help="test rows per checkpoint")
    ap.add_argument("--dims", default="5", help="d_x = d_y, comma list")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--bounds", default="infonce,nwj,donsker_varadhan")
    a = ap.parse_args()
    from minde.bench import critic_eval
    from minde.bench.tasks import import_bmi, jax_cpu

    import_bmi()
    with jax_cpu():
        import jax
        import jax.numpy as jnp
        from bmi.estimators.neural import _backend_linear_memory as linear
        from bmi.estimators.neural._critics import MLP

        print(f"{'bound':>17} {'d':>3} {'n':>6} {'bmi s':>7} {'blocked s':>9} {'ratio':>6} {'|diff|':>8}")
        for d in (int(v) for v in a.dims.split(",")):
            hidden = (32, 32, 8) if d <= 10 else (128, 128, 8)
            critic = MLP(key=jax.random.PRNGKey(0), dim_x=d, dim_y=d, hidden_layers=hidden)
            for n in (int(v) for v in a.sizes.split(",")):
                rng = np.random.default_rng(0)
                x = rng.normal(size=(n, d)).astype(np.float32)
                y = (0.8 * x + 0.6 * rng.normal(size=(n, d))).astype(np.float32)
                xs, ys = jnp.asarray(x), jnp.asarray(y)
                for name in a.bounds.split(","):
                    pair = {"bmi": getattr(linear, name), "blocked": critic_eval.TEST_FORMULAS[name]}
                    values = {k: float(f(critic, xs, ys)) for k, f in pair.items()}  # compile once
                    best = {k: float("inf") for k in pair}
                    for _ in range(a.repeats):
                        for k, f in pair.items():
                            start = time.perf_counter()
                            float(f(critic, xs, ys))
                            best[k] = min(best[k], time.perf_counter() - start)
                    print(f"{name:>17} {d:>3} {n:>6} {best['bmi']:>7.2f} {best['blocked']:>9.2f} "
                          f"{best['bmi'] / best['blocked']:>6.2f} {abs(values['bmi'] - values['blocked']):>8.1e}",
                          flush=True)


if __name__ == "__main__":
    main()
