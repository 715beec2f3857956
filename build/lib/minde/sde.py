"""VP-SDE forward process (docs/method.md §1): beta(t) linear, x_t = k_t x_0 + sigma_t eps."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .utils import append_dims

__all__ = ["VPSDE"]


@dataclass(frozen=True)
class VPSDE:
    """Variance-preserving SDE dx = -1/2 beta(t) x dt + sqrt(beta(t)) dW on [0, T] (docs/method.md §1)."""

    beta_min: float = 0.1  # beta(0)
    beta_max: float = 20.0  # beta(T)
    T: float = 1.0  # final time

    def beta(self, t: torch.Tensor) -> torch.Tensor:
        """beta(t) = beta_min + t (beta_max - beta_min)."""
        return self.beta_min + t * (self.beta_max - self.beta_min)

    def g2(self, t: torch.Tensor) -> torch.Tensor:
        """Squared diffusion coefficient g(t)^2 = beta(t)."""
        return self.beta(t)

    def sde(self, x: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Drift -1/2 beta(t) x and diffusion g(t) = sqrt(beta(t)); t: (n,), x: (n, ...)."""
        beta = self.beta(t)
        return -0.5 * append_dims(beta, x.ndim) * x, torch.sqrt(beta)

    def int_beta(self, t: torch.Tensor) -> torch.Tensor:
        """B(t) = int_0^t beta(s) ds."""
        return self.beta_min * t + 0.5 * t**2 * (self.beta_max - self.beta_min)

    def log_k(self, t: torch.Tensor) -> torch.Tensor:
        """log k_t = -1/4 t^2 (beta_max - beta_min) - 1/2 t beta_min."""
        return -0.5 * self.int_beta(t)

    def k_t(self, t: torch.Tensor) -> torch.Tensor:
        """Mean scale k_t of the perturbation kernel."""
        return torch.exp(self.log_k(t))

    def sigma_t(self, t: torch.Tensor) -> torch.Tensor:
        """Noise scale sigma_t = sqrt(1 - k_t^2), computed stably with expm1."""
        return torch.sqrt(-torch.expm1(-self.int_beta(t)))

    def marginal_prob(self, x: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean k_t x_0 and std sigma_t of p(x_t | x_0); t: (n,) broadcast over x: (n, ...)."""
        return append_dims(self.k_t(t), x.ndim) * x, self.sigma_t(t)

    def perturb(self, x: torch.Tensor, t: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        """x_t = k_t x_0 + sigma_t eps for given noise eps (same shape as x)."""
        mean, std = self.marginal_prob(x, t)
        return mean + append_dims(std, x.ndim) * eps

    def chi_t(self, t: torch.Tensor, sigma: float) -> torch.Tensor:
        """Variance chi_t = k_t^2 sigma^2 + sigma_t^2 of N(0, sigma^2) pushed to time t (docs/method.md §2)."""
        k2 = torch.exp(2.0 * self.log_k(t))
        return k2 * sigma**2 + (1.0 - k2)
