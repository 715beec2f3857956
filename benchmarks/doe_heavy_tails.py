"""Where DoE's estimate on a heavy-tailed task comes from: its test rows one by one.

    PYTHONPATH=$PWD python benchmarks/doe_heavy_tails.py                      # the paper protocol, < 1 min
    PYTHONPATH=$PWD python benchmarks/doe_heavy_tails.py --steps 200000 --lr 1e-3 --batch 256 --relu --no-clip

Fits DoE as a sweep unit does (``minde.bench.doe``, the task's draw at ``--seed``, n = 10 000
training and the paper's 10 000 test rows, compiled step) and prints, per row, log q(y|x) - log q(y)
(its mean over the test rows is the estimate): the mean on the training and test rows, the median
test row, the lowest test rows, the mean without them, and how far out their x lies
(docs/method.md §9, "DoE on heavy tails").
"""
from __future__ import annotations

import argparse

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--task", default="student-identity-3-3-2")
    ap.add_argument("--density", default="logistic", choices=("gauss", "logistic"))
    ap.add_argument("--steps", type=int, default=None, help="Adam steps per density (default: the paper budget's)")
    ap.add_argument("--lr", type=float, default=None, help="Adam learning rate (default: DoEConfig's)")
    ap.add_argument("--batch", type=int, default=None, help="mini-batch size (default: DoEConfig's)")
    ap.add_argument("--relu", action="store_true", help="ReLU hidden layers instead of tanh")
    ap.add_argument("--no-clip", action="store_true", help="no gradient clipping")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    import torch

    from minde.bench import doe
    from minde.bench.baselines import BASELINE_BUDGETS
    from minde.bench.tasks import get_task, sample
    from minde.config import get_budget

    xtr, ytr, xte, yte = sample(a.task, 10_000, get_budget("paper").n_test, a.seed)
    a.steps = a.steps or BASELINE_BUDGETS["paper"].doe_steps
    given: dict = {"learning_rate": a.lr, "batch_size": a.batch, "activation": "relu" if a.relu else None}
    given = {k: v for k, v in given.items() if v is not None} | ({"clip_norm": None} if a.no_clip else {})
    cfg = doe.DoEConfig(density=a.density, n_steps=a.steps, **given)
    with doe._torch_single_thread(a.seed):  # doe_estimate's fit, keeping the per-row terms
        marginal, conditional, (xt, yt, xe, ye) = doe.fitted_densities(xtr, ytr, xte, yte, cfg, a.seed)
        with torch.no_grad():
            train = (conditional(xt, yt, a.density) - marginal(xt, yt, a.density)).numpy()
            test = (conditional(xe, ye, a.density) - marginal(xe, ye, a.density)).numpy()
    order = np.argsort(test)
    far = np.abs(xte).max(axis=1)
    print(f"{a.task}, DoE-{a.density}, {cfg}, seed {a.seed}: truth {get_task(a.task).mi:.4f} nats")
    print(f"estimate (mean over the test rows) {test.mean():.4g}; training rows {train.mean():.4g}; "
          f"median test row {np.median(test):.4g}")
    print("lowest test rows:", " ".join(f"{v:.3g}" for v in test[order[:5]]))
    print("their largest |x|:", " ".join(f"{v:.1f}" for v in far[order[:5]]),
          f"; 99.9 % of test coordinates lie within {np.quantile(np.abs(xte), 0.999):.1f}")
    for k in (10, len(test) // 100):
        print(f"mean without the {k} lowest test rows: {test[order[k:]].mean():.4f}")


if __name__ == "__main__":
    main()
