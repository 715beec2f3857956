"""Print the error of every estimator fed with exact Gaussian scores (docs/method.md §14).

    python benchmarks/oracle_errors.py

For each covariance, kind, t-sampling and reference sigma: true MI, the two estimates and their
absolute errors in nats (10k exact-covariance samples x 10 Monte Carlo passes).
"""
from __future__ import annotations

import itertools

import numpy as np
import torch

from minde.bench.gaussian import GaussianOracle, exact_gaussian_sample, gaussian_mi, random_covariance
from minde.estimation import estimate_terms
from minde.importance import make_sampler
from minde.sde import VPSDE

COVS = {
    "1x1 rho=0.3": (np.array([[1.0, 0.3], [0.3, 1.0]]), 1),
    "1x1 rho=0.9": (np.array([[1.0, 0.9], [0.9, 1.0]]), 1),
    "3x2": (random_covariance(3, 2, [0.8, 0.5], seed=1), 3),
    "5x5": (random_covariance(5, 5, [0.7, 0.6, 0.3], seed=2), 5),
    "2x2 independent": (np.diag([1.0, 2.0, 0.5, 1.5]), 2),
}


def main() -> None:
    """Run the grid and print one row per case."""
    sde = VPSDE()
    print(f"{'case':18s} kind  t-sampling  sigma   truth    mi     mi_sigma  |err| mi  |err| mi_sigma")
    worst = 0.0
    for (name, (cov, dx)), kind, is_, sigma in itertools.product(COVS.items(), "cj", (True, False), (0.5, 1.0, 2.0)):
        z = exact_gaussian_sample(cov, 10_000, 0)
        x, y = (torch.tensor(a, dtype=torch.float32) for a in (z[:, :dx], z[:, dx:]))
        t = estimate_terms(GaussianOracle(cov, dx, sde), x, y, kind, sde=sde,
                           sampler=make_sampler(is_, sde), sigma=sigma, mc_iter=10,
                           generators=[torch.Generator().manual_seed(0)])
        mi = float(t["mi"].mean())
        ms = float((t["gap_X|Y"] - t["gap_X"]).mean() if kind == "c"
                   else (t["gap_X|Y"] + t["gap_Y|X"] - t["gap_XY"]).mean())
        truth = gaussian_mi(cov, dx)
        worst = max(worst, abs(mi - truth), abs(ms - truth))
        print(f"{name:18s} {kind:4s}  {'importance' if is_ else 'uniform':10s}  {sigma:4.1f}  "
              f"{truth:7.4f} {mi:7.4f} {ms:8.4f}   {abs(mi - truth):7.4f}  {abs(ms - truth):9.4f}")
    print(f"largest absolute error: {worst:.4f} nats")


if __name__ == "__main__":
    torch.set_num_threads(1)
    main()
