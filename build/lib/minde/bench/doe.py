"""Difference-of-entropies (DoE) MI estimator of McAllester & Stratos, in torch (docs/method.md §9).

I(X; Y) = H(Y) - H(Y|X), each entropy bounded above by a cross-entropy: H(Y) by a learned diagonal
density q(y) and H(Y|X) by a conditional density q(y|x) whose per-dimension location and
log-scale come from an MLP of x. Both are Gaussian (``doe_gauss``) or logistic (``doe_logistic``)
per dimension. Both densities are fitted on the training split (Adam, fixed number of steps) and
the estimate is CE_q(Y) - CE_q(Y|X) on the test split, in nats. Y and X are standardised with the
training statistics; the log-Jacobian of the Y scaling cancels in the difference.
"""
from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator, Literal

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from minde.data import check_not_constant

__all__ = ["DoEConfig", "doe_estimate"]

Density = Literal["gauss", "logistic"]
_LOGISTIC_LOG_SCALE = math.log(math.sqrt(3.0) / math.pi)  # unit-variance logistic: s = sqrt(3)/pi


@dataclass(frozen=True)
class DoEConfig:
    """Optimisation settings of one DoE fit (docs/method.md §9)."""

    density: Density  # per-dimension family: "gauss" or "logistic"
    n_steps: int  # Adam steps, each for both densities
    batch_size: int = 256  # mini-batch size (docs/method.md §9 critics' batch)
    learning_rate: float = 1e-3  # Adam learning rate (docs/method.md §9)
    hidden: int | None = None  # MLP width; None: 64 if dim_x <= 10 else 128
    n_layers: int = 2  # hidden layers of the conditional MLP


def _log_density(y: torch.Tensor, loc: torch.Tensor, log_scale: torch.Tensor, density: Density) -> torch.Tensor:
    """Per-sample log q(y), summed over dims; y, loc, log_scale: (n, dim_y) -> (n,) nats (docs/method.md §9)."""
    z = (y - loc) * torch.exp(-log_scale)
    if density == "gauss":
        per_dim = -0.5 * z**2 - log_scale - 0.5 * math.log(2 * math.pi)
    else:  # logistic: log pdf = -z - log s - 2 softplus(-z)
        per_dim = -z - log_scale - 2.0 * F.softplus(-z)
    return per_dim.sum(dim=-1)


class _Marginal(nn.Module):
    """Diagonal density q(y) with a learned location and log-scale per dimension (docs/method.md §9)."""

    def __init__(self, dim_y: int, log_scale0: float) -> None:
        super().__init__()
        self.loc = nn.Parameter(torch.zeros(dim_y))
        self.log_scale = nn.Parameter(torch.full((dim_y,), log_scale0))

    def forward(self, x: torch.Tensor, y: torch.Tensor, density: Density) -> torch.Tensor:
        """log q(y): (n,) nats; x is ignored."""
        loc, log_scale = self.loc.expand_as(y), self.log_scale.expand_as(y)
        return _log_density(y, loc, log_scale, density)


class _Conditional(nn.Module):
    """q(y|x): an MLP of x gives location and log-scale per dimension of y (docs/method.md §9)."""

    def __init__(self, dim_x: int, dim_y: int, hidden: int, n_layers: int, log_scale0: float) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = dim_x
        for _ in range(n_layers):
            layers += [nn.Linear(width, hidden), nn.ReLU()]
            width = hidden
        head = nn.Linear(width, 2 * dim_y)
        with torch.no_grad():  # start at the standardised marginal: loc 0, unit variance
            head.weight.mul_(0.1)
            head.bias.zero_()
            head.bias[dim_y:] = log_scale0
        self.net = nn.Sequential(*layers, head)
        self.dim_y = dim_y

    def forward(self, x: torch.Tensor, y: torch.Tensor, density: Density) -> torch.Tensor:
        """log q(y|x): (n,) nats."""
        loc, log_scale = self.net(x).split(self.dim_y, dim=-1)
        return _log_density(y, loc, log_scale, density)


@contextmanager
def _torch_single_thread(seed: int) -> Iterator[None]:
    """One intra-op thread and a seeded, forked global RNG, both restored on exit (docs/method.md §9)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            yield
    finally:
        torch.set_num_threads(previous)


def _standardise(train: np.ndarray, test: np.ndarray, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Scale both splits with the training mean and std; a constant column is an error."""
    mean, std = train.mean(axis=0), train.std(axis=0)
    check_not_constant(name, mean, std)
    return (torch.as_tensor((train - mean) / std, dtype=torch.float32),
            torch.as_tensor((test - mean) / std, dtype=torch.float32))


def _fit(model: nn.Module, x: torch.Tensor, y: torch.Tensor, cfg: DoEConfig, rng: np.random.Generator) -> None:
    """Minimise the cross-entropy -mean log q on training mini-batches with Adam (docs/method.md §9)."""
    optimiser = torch.optim.Adam(model.parameters(), lr=cfg.learning_rate)
    batch = min(cfg.batch_size, len(x))
    for _ in range(cfg.n_steps):
        idx = torch.as_tensor(rng.choice(len(x), size=batch, replace=False))
        loss = -model(x[idx], y[idx], cfg.density).mean()
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()


def doe_estimate(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    cfg: DoEConfig,
    seed: int = 0,
) -> float:
    """DoE estimate of I(X; Y) = CE(Y) - CE(Y|X) on the test split, nats (docs/method.md §9).

    Args:
        x_train: (n_train, dim_x), y_train: (n_train, dim_y): fit both densities.
        x_test: (n_test, dim_x), y_test: (n_test, dim_y): evaluate both cross-entropies.
        cfg: density family and optimisation settings.
        seed: drives initialisation and mini-batches.
    """
    dim_x, dim_y = x_train.shape[1], y_train.shape[1]
    hidden = cfg.hidden or (64 if dim_x <= 10 else 128)
    log_scale0 = 0.0 if cfg.density == "gauss" else _LOGISTIC_LOG_SCALE
    xtr, xte = _standardise(x_train, x_test, "x_train")
    ytr, yte = _standardise(y_train, y_test, "y_train")
    with _torch_single_thread(seed):
        rng = np.random.default_rng(seed)
        marginal = _Marginal(dim_y, log_scale0)
        conditional = _Conditional(dim_x, dim_y, hidden, cfg.n_layers, log_scale0)
        _fit(marginal, xtr, ytr, cfg, rng)
        _fit(conditional, xtr, ytr, cfg, rng)
        with torch.no_grad():
            ce_y = -marginal(xte, yte, cfg.density).mean()
            ce_y_given_x = -conditional(xte, yte, cfg.density).mean()
    return float(ce_y - ce_y_given_x)
