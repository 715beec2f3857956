"""Sampling of t for training and Monte Carlo estimation (docs/method.md §4).

Two samplers share one interface: ``sample(shape, generator)`` draws t, and ``weight(t)`` is the
factor that turns 1/2 ||eps_a - eps_b||^2 (raw noise outputs) into an unbiased-in-t estimate of
int 1/2 g(t)^2 ||s_a - s_b||^2 dt, using s = -eps/sigma_t.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from .sde import VPSDE

__all__ = ["ImportanceSampler", "UniformSampler", "TimeSampler", "make_sampler"]


@dataclass(frozen=True)
class UniformSampler:
    """t ~ U[eps, T]; weight (T - eps) g(t)^2 / sigma_t^2 (docs/method.md §4, uniform)."""

    sde: VPSDE = field(default_factory=VPSDE)  # forward process whose g and sigma_t are used
    eps: float = 1e-5  # lower end of the time interval

    def sample(self, shape: tuple[int, ...], generator: torch.Generator | None = None,
               device: torch.device | str = "cpu") -> torch.Tensor:
        """Draw t of the given shape."""
        u = torch.rand(shape, generator=generator, device=device)
        return self.eps + (self.sde.T - self.eps) * u

    def weight(self, t: torch.Tensor) -> torch.Tensor:
        """(T - eps) g(t)^2 / sigma_t^2 for each t."""
        return (self.sde.T - self.eps) * self.sde.g2(t) / self.sde.sigma_t(t) ** 2


@dataclass(frozen=True)
class ImportanceSampler:
    """t ~ q(t) proportional to beta(t)/sigma_t^2 on [t_eps, T], constant below (docs/method.md §4).

    With r(t) = beta(t)/sigma_t^2, B(t) = int_0^t beta and A(t) = log(1 - e^{-B}) + B (so
    A' = r), the unnormalised CDF is F(t) = t r(t_eps) below t_eps and
    t_eps r(t_eps) + A(t) - A(t_eps) above; Z = F(T). Since g^2/sigma_t^2 / q = Z on [t_eps, T],
    the estimator weight is the constant Z (as in the paper; below t_eps this clips g^2/sigma^2
    at r(t_eps), a region of width t_eps whose contribution is negligible).
    """

    sde: VPSDE = field(default_factory=VPSDE)  # forward process whose beta defines q
    t_eps: float = 1e-3  # below this q is constant

    def _r(self, t: float) -> float:
        tt = torch.tensor(t, dtype=torch.float64)
        return float(self.sde.beta(tt) / self.sde.sigma_t(tt) ** 2)

    def _A(self, t: float) -> float:
        b = float(self.sde.int_beta(torch.tensor(t, dtype=torch.float64)))
        return math.log(-math.expm1(-b)) + b

    @property
    def Z(self) -> float:
        """Normalising constant Z = t_eps r(t_eps) + A(T) - A(t_eps), from the SDE's betas."""
        return self.t_eps * self._r(self.t_eps) + self._A(self.sde.T) - self._A(self.t_eps)

    def density(self, t: torch.Tensor) -> torch.Tensor:
        """Normalised q(t) on [0, T] (float64 recommended)."""
        tc = torch.clamp(t, min=self.t_eps)
        return self.sde.beta(tc) / self.sde.sigma_t(tc) ** 2 / self.Z

    def cdf(self, t: torch.Tensor) -> torch.Tensor:
        """Normalised CDF of q."""
        r_eps, a_eps = self._r(self.t_eps), self._A(self.t_eps)
        b = self.sde.int_beta(torch.clamp(t, min=self.t_eps))
        upper = self.t_eps * r_eps + torch.log(-torch.expm1(-b)) + b - a_eps
        return torch.where(t <= self.t_eps, t * r_eps, upper) / self.Z

    def inverse_cdf(self, u: torch.Tensor) -> torch.Tensor:
        """Closed-form inverse of the CDF, u in [0, 1]."""
        r_eps, a_eps, z = self._r(self.t_eps), self._A(self.t_eps), self.Z
        v = u * z
        low = v / r_eps
        a = v - self.t_eps * r_eps + a_eps
        big_b = torch.nn.functional.softplus(a)  # B = log(1 + e^a) solves log(e^B - 1) = a
        db = self.sde.beta_max - self.sde.beta_min
        high = (-self.sde.beta_min + torch.sqrt(self.sde.beta_min**2 + 2.0 * db * big_b)) / db
        return torch.where(v <= self.t_eps * r_eps, low, high).clamp(max=self.sde.T)

    def sample(self, shape: tuple[int, ...], generator: torch.Generator | None = None,
               device: torch.device | str = "cpu") -> torch.Tensor:
        """Draw t ~ q by inverting the CDF of uniform draws."""
        u = torch.rand(shape, generator=generator, device=device)
        return self.inverse_cdf(u)

    def weight(self, t: torch.Tensor) -> torch.Tensor:
        """The constant Z for every t."""
        return torch.full_like(t, self.Z)


TimeSampler = ImportanceSampler | UniformSampler


def make_sampler(importance_sampling: bool, sde: VPSDE | None = None) -> TimeSampler:
    """The paper's default (importance sampling) or uniform t (docs/method.md §4)."""
    sde = sde or VPSDE()
    return ImportanceSampler(sde) if importance_sampling else UniformSampler(sde)
