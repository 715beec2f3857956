"""Closed forms for jointly Gaussian (X, Y) (docs/method.md §14): MI, entropy and exact diffused scores.

``GaussianOracle`` is a drop-in noise predictor for ``minde.estimation.estimate_terms``: it returns
the exact eps_hat = -sigma_t * score of the diffused marginal, conditional and joint densities,
so that the estimator formulas can be checked against the true MI without any training.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from minde.masks import CONDITIONING, DIFFUSED, MARGINALISED, Mask
from minde.sde import VPSDE

__all__ = ["gaussian_mi", "gaussian_entropy", "GaussianOracle", "random_covariance",
           "exact_gaussian_sample"]


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
