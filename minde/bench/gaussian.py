"""Closed forms for jointly Gaussian (X, Y) (docs/method.md §14): MI, entropy and exact diffused scores.

``GaussianOracle`` is a drop-in noise predictor for ``minde.estimation.estimate_terms``: it returns
the exact eps_hat = -sigma_t * score of the diffused marginal, conditional and joint densities,
so that the estimator formulas can be checked against the true MI without any training.
``ShiftedGaussianOracle`` does the same for any mean, and ``task_gaussian`` with
``standardised_gaussian`` give the mean and covariance a trained model of a Gaussian benchmark
task should have learned (the score-error study, ``minde.repro.ablations.run_score_error``).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from minde.masks import CONDITIONING, DIFFUSED, MARGINALISED, Mask
from minde.sde import VPSDE

__all__ = ["gaussian_mi", "gaussian_entropy", "GaussianOracle", "random_covariance",
           "exact_gaussian_sample", "ShiftedGaussianOracle", "standardised_gaussian", "task_gaussian"]


def gaussian_mi(cov: np.ndarray, dim_x: int) -> float:
    """I(X; Y) = -1/2 log(det S / (det S_XX det S_YY)) in nats; cov: (D, D), X = first dim_x."""
    cov = np.asarray(cov, dtype=np.float64)
    _, ld = np.linalg.slogdet(cov)
    _, ldx = np.linalg.slogdet(cov[:dim_x, :dim_x])
    _, ldy = np.linalg.slogdet(cov[dim_x:, dim_x:])
    return float(-0.5 * (ld - ldx - ldy))


def gaussian_entropy(cov: np.ndarray) -> float:
    """Differential entropy 1/2 log det(2 pi e S) in nats; cov: (d, d)."""
    cov = np.atleast_2d(np.asarray(cov, dtype=np.float64))
    _, ld = np.linalg.slogdet(2 * math.pi * math.e * cov)
    return float(0.5 * ld)


def random_covariance(dim_x: int, dim_y: int, correlations: list[float] | tuple[float, ...],
                      seed: int = 0) -> np.ndarray:
    """A random (d_x + d_y) covariance whose canonical correlations are ``correlations``.

    Starts from [[I, C], [C^T, I]] with C = U diag(rho) V^T, then mixes X and Y with random
    invertible maps, which leaves I(X; Y) = -1/2 sum log(1 - rho_i^2) unchanged.
    """
    rng = np.random.default_rng(seed)
    rho = np.zeros(min(dim_x, dim_y))
    rho[: len(correlations)] = correlations
    u, _ = np.linalg.qr(rng.normal(size=(dim_x, dim_x)))
    v, _ = np.linalg.qr(rng.normal(size=(dim_y, dim_y)))
    c = u[:, : rho.size] @ np.diag(rho) @ v[:, : rho.size].T
    cov = np.block([[np.eye(dim_x), c], [c.T, np.eye(dim_y)]])
    mix = np.zeros((dim_x + dim_y,) * 2)
    mix[:dim_x, :dim_x] = rng.normal(size=(dim_x, dim_x)) / np.sqrt(dim_x) + np.eye(dim_x)
    mix[dim_x:, dim_x:] = rng.normal(size=(dim_y, dim_y)) / np.sqrt(dim_y) + np.eye(dim_y)
    return mix @ cov @ mix.T


def exact_gaussian_sample(cov: np.ndarray, n: int, seed: int) -> np.ndarray:
    """n zero-mean rows (n, D) whose empirical covariance (1/n) equals ``cov`` exactly (docs/method.md §14).

    Removes the sampling noise of the truth, so that oracle checks see only Monte Carlo error.
    """
    z = np.random.default_rng(seed).normal(size=(n, cov.shape[0]))
    z -= z.mean(0)
    z = z @ np.linalg.inv(np.linalg.cholesky(z.T @ z / n)).T
    return z @ np.linalg.cholesky(cov).T


class GaussianOracle:
    """Exact noise predictions for zero-mean Gaussian data with covariance ``cov`` (docs/method.md §14)."""

    def __init__(self, cov: np.ndarray, dim_x: int, sde: VPSDE | None = None) -> None:
        self.cov = torch.as_tensor(np.asarray(cov), dtype=torch.float64)
        self.dx, self.d = dim_x, self.cov.shape[0]
        self.sde = sde or VPSDE()

    def _eps(self, z: torch.Tensor, mean_shift: torch.Tensor, cov: torch.Tensor,
             t: torch.Tensor) -> torch.Tensor:
        """sigma_t C_t^{-1} (z - mean_shift) with C_t = k_t^2 cov + sigma_t^2 I, per sample t."""
        lam, u = torch.linalg.eigh(cov)
        k2 = self.sde.k_t(t) ** 2
        s2 = self.sde.sigma_t(t) ** 2
        inv = 1.0 / (k2.unsqueeze(-1) * lam + s2.unsqueeze(-1))
        v = (z - mean_shift) @ u
        return self.sde.sigma_t(t).unsqueeze(-1) * ((v * inv) @ u.T)

    def __call__(self, z_in: torch.Tensor, t_vec: torch.Tensor, mask: Mask) -> torch.Tensor:
        """eps_hat (K, B, D) for inputs built under ``mask`` (see ``minde.masks``)."""
        z = z_in.double()
        out = torch.zeros_like(z)
        sx, sy = slice(0, self.dx), slice(self.dx, self.d)
        roles = mask.roles
        if roles == (DIFFUSED, DIFFUSED):
            out = self._eps(z, torch.zeros_like(z), self.cov, t_vec[..., 0].double())
        elif roles in ((DIFFUSED, MARGINALISED), (MARGINALISED, DIFFUSED)):
            s = sx if roles[0] == DIFFUSED else sy
            t = t_vec[..., 0 if roles[0] == DIFFUSED else 1].double()
            out[..., s] = self._eps(z[..., s], torch.zeros_like(z[..., s]), self.cov[s, s], t)
        elif roles in ((DIFFUSED, CONDITIONING), (CONDITIONING, DIFFUSED)):
            s, c = (sx, sy) if roles[0] == DIFFUSED else (sy, sx)
            t = t_vec[..., 0 if roles[0] == DIFFUSED else 1].double()
            a = self.cov[s, c] @ torch.linalg.inv(self.cov[c, c])
            cond_cov = self.cov[s, s] - a @ self.cov[c, s]
            shift = self.sde.k_t(t).unsqueeze(-1) * (z[..., c] @ a.T)
            out[..., s] = self._eps(z[..., s], shift, cond_cov, t)
        else:
            raise ValueError(f"the Gaussian oracle does not support roles {roles}")
        return out.to(z_in.dtype)


def task_gaussian(task: str) -> tuple[np.ndarray, np.ndarray, int]:
    """Mean (D,), covariance (D, D) and d_x of a Gaussian benchmark task (docs/method.md §8, §14).

    Read from the task's bmi sampler (a split multinormal, or the bivariate normal that wraps one);
    any other task raises ValueError. The covariance's closed-form MI is checked against the task's
    ground truth.
    """
    from minde.bench.tasks import _bmi_task, get_task

    sampler = _bmi_task(task).sampler
    inner = getattr(sampler, "_sampler", sampler)  # bmi's bivariate normal wraps a split multinormal
    if not (hasattr(inner, "_covariance") and hasattr(inner, "_mean")):
        raise ValueError(f"task {task!r} is not a (untransformed) Gaussian task; its scores have no "
                         "closed form here")
    cov = np.asarray(inner._covariance, dtype=np.float64)
    mean = np.asarray(inner._mean, dtype=np.float64).reshape(-1)
    info = get_task(task)
    if not np.isclose(gaussian_mi(cov, info.dim_x), info.mi, rtol=0, atol=1e-6):
        raise ValueError(f"task {task!r}: the sampler's covariance does not give the task's MI")
    return mean, cov, info.dim_x


def standardised_gaussian(mean: np.ndarray, cov: np.ndarray, sx: Any, sy: Any) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance of Gaussian data after the model's standardisers ``sx``, ``sy`` (docs/method.md §7).

    The network sees (z - loc) / scale with the training statistics, so the exact scores it should
    learn are those of N((mean - loc) / scale, D^-1 cov D^-1) with D = diag(scale).
    """
    loc = np.concatenate([np.asarray(sx.mean, np.float64), np.asarray(sy.mean, np.float64)])
    scale = np.concatenate([np.asarray(sx.scale, np.float64), np.asarray(sy.scale, np.float64)])
    return (np.asarray(mean, np.float64) - loc) / scale, np.asarray(cov, np.float64) / np.outer(scale, scale)


class ShiftedGaussianOracle:
    """Exact noise predictions for Gaussian (X, Y) with any mean (docs/method.md §14).

    ``GaussianOracle`` assumes zero mean. With mean mu, a diffused variable has mean k_t mu and a
    conditioning variable mean mu, so subtracting those from the inputs reduces the problem to the
    zero-mean oracle (the conditional mean k_t A (y0 - mu_y) + k_t mu_x is recovered exactly).
    """

    def __init__(self, cov: np.ndarray, mean: np.ndarray, dim_x: int, sde: Any = None,
                 device: Any = "cpu") -> None:
        self.oracle = GaussianOracle(cov, dim_x, sde)
        self.oracle.cov = self.oracle.cov.to(device)
        self.sde = self.oracle.sde
        self.mean = torch.as_tensor(np.asarray(mean), dtype=torch.float64, device=device)
        self.bounds = ((0, dim_x), (dim_x, self.oracle.d))

    def __call__(self, z_in: torch.Tensor, t_vec: torch.Tensor, mask: Mask) -> torch.Tensor:
        """eps_hat (K, B, D) for inputs built under ``mask`` (see ``minde.masks``)."""
        z = z_in.double().clone()
        for v, (role, (a, b)) in enumerate(zip(mask.roles, self.bounds)):
            if role == DIFFUSED:
                z[..., a:b] -= self.sde.k_t(t_vec[..., v].double()).unsqueeze(-1) * self.mean[a:b]
            elif role == CONDITIONING:
                z[..., a:b] -= self.mean[a:b]
        return self.oracle(z, t_vec, mask).to(z_in.dtype)
