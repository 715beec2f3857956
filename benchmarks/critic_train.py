"""What one neural-baseline fit costs: bmi's training loop against ``minde.bench.critic_train``'s.

    PYTHONPATH=$PWD python benchmarks/critic_train.py                         # 1 000 steps, 1x1 and 5x5
    PYTHONPATH=$PWD python benchmarks/critic_train.py --steps 4000 --dims 1 --repeats 3

bmi 0.1.3's ``basic_training`` draws each step's mini-batch outside its compiled step and compiles
a new step at every call; ``minde.bench.critic_train.basic_training`` draws it inside and keeps
the compiled step (docs/method.md §9). For InfoNCE, NWJ and DV on n = 10 000 correlated Gaussian
training rows (batch 256, Adam 1e-3, bmi's critic width rule), this runs both loops on the same
keys without early stopping and with one checkpoint at the end (on 1 000 test rows), interleaved
over repeats (best kept; the first call of ours compiles, later calls reuse the step), and prints
the seconds per fit, the ratio, and the difference of the final bound.
"""
from __future__ import annotations

import argparse
import time

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=1_000, help="training steps per fit")
    ap.add_argument("--dims", default="1,5", help="d_x = d_y, comma list")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--bounds", default="infonce,nwj,donsker_varadhan")
    a = ap.parse_args()
    from minde.bench import critic_train
    from minde.bench.tasks import import_bmi, jax_cpu

    import_bmi()
    with jax_cpu():
        import jax
        import jax.numpy as jnp
        from bmi.estimators.neural import _backend_quadratic_memory as quadratic
        from bmi.estimators.neural._basic_training import basic_training as bmi_training
        from bmi.estimators.neural._critics import MLP

        print(f"{'bound':>17} {'d':>3} {'steps':>6} {'bmi s':>7} {'ours s':>7} {'ratio':>6} {'|diff|':>8}")
        for d in (int(v) for v in a.dims.split(",")):
            rng = np.random.default_rng(0)
            cov = 0.5 * np.eye(2 * d) + 0.5
            z = rng.multivariate_normal(np.zeros(2 * d), cov, size=11_000).astype(np.float32)
            xs, ys = jnp.asarray(z[:10_000, :d]), jnp.asarray(z[:10_000, d:])
            xt, yt = jnp.asarray(z[10_000:, :d]), jnp.asarray(z[10_000:, d:])
            hidden = (32, 32, 8) if d <= 10 else (128, 128, 8)
            for name in a.bounds.split(","):
                formula = getattr(quadratic, name)
                kw = dict(rng=jax.random.PRNGKey(1), critic=MLP(key=jax.random.PRNGKey(0), dim_x=d, dim_y=d,
                                                             hidden_layers=hidden),
                          mi_formula=formula, xs=xs, ys=ys, xs_test=xt, ys_test=yt, batch_size=256,
                          test_every_n_steps=a.steps, max_n_steps=a.steps, early_stopping=False,
                          learning_rate=1e-3, verbose=False)
                best = {"bmi": np.inf, "ours": np.inf}
                final = {}
                for _ in range(a.repeats):
                    for label, fn in (("bmi", bmi_training), ("ours", critic_train.basic_training)):
                        start = time.perf_counter()
                        log, _ = fn(**kw)
                        best[label] = min(best[label], time.perf_counter() - start)
                        final[label] = float(log.final_mi)
                print(f"{name:>17} {d:>3} {a.steps:>6} {best['bmi']:7.2f} {best['ours']:7.2f} "
                      f"{best['bmi'] / best['ours']:6.1f} {abs(final['bmi'] - final['ours']):8.1e}")


if __name__ == "__main__":
    main()
