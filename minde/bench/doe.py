"""Difference-of-entropies (DoE) MI estimator of McAllester & Stratos, in torch (docs/method.md §9).

I(X; Y) = H(Y) - H(Y|X), each entropy bounded above by a cross-entropy: H(Y) by a learned diagonal
density q(y) and H(Y|X) by a conditional density q(y|x) whose per-dimension location and
log-scale come from an MLP of x. Both are Gaussian (``doe_gauss``) or logistic (``doe_logistic``)
per dimension. Both densities are fitted on the training split (Adam with gradient clipping, a
fixed number of steps; ``DoEConfig``'s defaults are the authors' released DoE settings) and the
estimate is CE_q(Y) - CE_q(Y|X) on the test split, in nats. Y and X are standardised with the
training statistics; the log-Jacobian of the Y scaling cancels in the difference.

Speed (beyond the paper; docs/method.md §9). An eager step of these small models is almost all
per-operation dispatch (about 2 ms for the pair on one core). Fits from 2 000 steps on
(``minde.compiled.resolve_compile``) therefore run each step (gradient, clipping and Adam update)
as one function compiled by ``torch.compile``: the same mini-batches, initialisation and
arithmetic as ``torch.nn.utils.clip_grad_norm_`` with ``torch.optim.Adam``, agreeing with them to
float rounding (``tests/test_doe.py``).
"""
from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator, Literal

import numpy as np
import torch
from torch import nn
from torch.func import grad
from torch.nn import functional as F

from minde.data import check_not_constant

__all__ = ["DoEConfig", "doe_estimate", "fitted_densities"]

Density = Literal["gauss", "logistic"]
Activation = Literal["tanh", "relu"]
_LOGISTIC_LOG_SCALE = math.log(math.sqrt(3.0) / math.pi)  # unit-variance logistic: s = sqrt(3)/pi


@dataclass(frozen=True)
class DoEConfig:
    """Optimisation settings of one DoE fit (docs/method.md §9)."""

    density: Density  # per-dimension family: "gauss" or "logistic"
    n_steps: int  # Adam steps, each for both densities
    # the defaults are the settings of the authors' released DoE runs (docs/method.md §9)
    batch_size: int = 128  # mini-batch size
    learning_rate: float = 1e-2  # Adam learning rate
    clip_norm: float | None = 1.0  # each step's gradient is scaled to at most this norm (None: never)
    activation: Activation = "tanh"  # of the conditional MLP's hidden layers
    hidden: int | None = None  # MLP width; None: 64 if dim_x <= 10, 128 if dim_x <= 50, else 256
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

    def __init__(self, dim_x: int, dim_y: int, hidden: int, n_layers: int, log_scale0: float,
                 activation: Activation = "tanh") -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = dim_x
        for _ in range(n_layers):
            layers += [nn.Linear(width, hidden), nn.Tanh() if activation == "tanh" else nn.ReLU()]
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


_BETAS, _EPS = (0.9, 0.999), 1e-8  # torch.optim.Adam's defaults, which the fits use


def _fit(model: nn.Module, x: torch.Tensor, y: torch.Tensor, cfg: DoEConfig, rng: np.random.Generator,
         compile: bool = False) -> None:
    """Minimise the cross-entropy -mean log q on training mini-batches with Adam (docs/method.md §9);
    ``compile``: each step as one compiled function (``_step``) instead of ``torch.optim.Adam``."""
    batch = min(cfg.batch_size, len(x))
    if compile:
        return _fit_compiled(model, x, y, cfg, rng, batch)
    optimiser = torch.optim.Adam(model.parameters(), lr=cfg.learning_rate, betas=_BETAS, eps=_EPS)
    for _ in range(cfg.n_steps):
        idx = torch.as_tensor(rng.choice(len(x), size=batch, replace=False))
        loss = -model(x[idx], y[idx], cfg.density).mean()
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.clip_norm is not None:
            nn.utils.clip_grad_norm_(model.parameters(), cfg.clip_norm)
        optimiser.step()


def _log_q(p: dict[str, torch.Tensor], x: torch.Tensor, y: torch.Tensor, density: Density,
           activation: Activation = "tanh") -> torch.Tensor:
    """``model(x, y, density)`` of a ``_Marginal`` or ``_Conditional`` (of that ``activation``) from
    its parameters ``p`` (``named_parameters``) alone, so one compiled step serves every model of a shape."""
    if "loc" in p:  # _Marginal
        return _log_density(y, p["loc"].expand_as(y), p["log_scale"].expand_as(y), density)
    n = len(p) // 2  # _Conditional: Linear layers net.0, net.2, ..., the activation after each but the head
    z = x
    for i in range(n):
        z = F.linear(z, p[f"net.{2 * i}.weight"], p[f"net.{2 * i}.bias"])
        z = (torch.tanh(z) if activation == "tanh" else torch.relu(z)) if i < n - 1 else z
    loc, log_scale = z.split(y.shape[1], dim=-1)
    return _log_density(y, loc, log_scale, density)


def _step(params: dict[str, torch.Tensor], m: dict[str, torch.Tensor], v: dict[str, torch.Tensor],
          t: torch.Tensor, xb: torch.Tensor, yb: torch.Tensor, density: Density, lr: float,
          clip_norm: float | None = None, activation: Activation = "tanh",
          ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """One Adam step on -mean log q(batch), as a pure function: new (params, first moments, second
    moments). The arithmetic is ``torch.optim.Adam``'s (single-tensor form, no weight decay): step
    ``t`` (a 0-dim tensor, so a compiled step serves every step count), after the gradient is scaled
    as ``torch.nn.utils.clip_grad_norm_(.., clip_norm)`` scales it."""
    grads = grad(lambda p: -_log_q(p, xb, yb, density, activation).mean())(params)
    if clip_norm is not None:
        total = torch.sqrt(sum((g * g).sum() for g in grads.values()))
        scale = torch.clamp(clip_norm / (total + 1e-6), max=1.0)
        grads = {k: g * scale for k, g in grads.items()}
    (b1, b2), bc1, bc2 = _BETAS, 1 - _BETAS[0] ** t, 1 - _BETAS[1] ** t
    new_p, new_m, new_v = {}, {}, {}
    for k, g in grads.items():
        new_m[k] = m[k].lerp(g, 1 - b1)
        new_v[k] = v[k] * b2 + (1 - b2) * g * g
        new_p[k] = params[k] - (lr / bc1) * new_m[k] / (new_v[k].sqrt() / bc2.sqrt() + _EPS)
    return new_p, new_m, new_v


def _fit_compiled(model: nn.Module, x: torch.Tensor, y: torch.Tensor, cfg: DoEConfig,
                  rng: np.random.Generator, batch: int) -> None:
    """``_fit`` with ``_step`` compiled (the same mini-batches); falls back to the eager step, with
    a ``CompileWarning``, if compiling fails. The trained values are copied into ``model``."""
    from minde.compiled import CompiledOrEager

    step = CompiledOrEager(_step, True, "DoE")
    params = {k: p.detach().clone() for k, p in model.named_parameters()}
    m = {k: torch.zeros_like(p) for k, p in params.items()}
    v = {k: torch.zeros_like(p) for k, p in params.items()}
    for n in range(1, cfg.n_steps + 1):
        idx = torch.as_tensor(rng.choice(len(x), size=batch, replace=False))
        params, m, v = step(params, m, v, torch.tensor(float(n), dtype=torch.float64), x[idx], y[idx],
                            cfg.density, cfg.learning_rate, cfg.clip_norm, cfg.activation)
    with torch.no_grad():
        for k, p in model.named_parameters():
            p.copy_(params[k])


def fitted_densities(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray,
                     cfg: DoEConfig, seed: int = 0, compile: bool | None = None,
                     ) -> tuple[nn.Module, nn.Module, tuple[torch.Tensor, ...]]:
    """``doe_estimate``'s fit: the marginal and conditional densities, trained, and the splits
    standardised by the training rows' statistics (x_train, y_train, x_test, y_test as tensors),
    so that a caller can score rows one by one (``benchmarks/doe_heavy_tails.py``). Call it inside
    ``_torch_single_thread(seed)``, as ``doe_estimate`` does. Arguments as ``doe_estimate``'s."""
    from minde.compiled import resolve_compile

    compile = resolve_compile(compile, cfg.n_steps, torch.device("cpu"))
    dim_x, dim_y = x_train.shape[1], y_train.shape[1]
    hidden = cfg.hidden or (64 if dim_x <= 10 else 128 if dim_x <= 50 else 256)
    log_scale0 = 0.0 if cfg.density == "gauss" else _LOGISTIC_LOG_SCALE
    xtr, xte = _standardise(x_train, x_test, "x_train")
    ytr, yte = _standardise(y_train, y_test, "y_train")
    rng = np.random.default_rng(seed)
    marginal = _Marginal(dim_y, log_scale0)
    conditional = _Conditional(dim_x, dim_y, hidden, cfg.n_layers, log_scale0, cfg.activation)
    _fit(marginal, xtr, ytr, cfg, rng, compile)
    _fit(conditional, xtr, ytr, cfg, rng, compile)
    return marginal, conditional, (xtr, ytr, xte, yte)


def doe_estimate(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    cfg: DoEConfig,
    seed: int = 0,
    compile: bool | None = None,
) -> float:
    """DoE estimate of I(X; Y) = CE(Y) - CE(Y|X) on the test split, nats (docs/method.md §9).

    Args:
        x_train: (n_train, dim_x), y_train: (n_train, dim_y): fit both densities.
        x_test: (n_test, dim_x), y_test: (n_test, dim_y): evaluate both cross-entropies.
        cfg: density family and optimisation settings.
        seed: drives initialisation and mini-batches.
        compile: compile each training step (None: ``minde.compiled.resolve_compile``, i.e. fits of
            at least 2 000 steps, unless $MINDE_COMPILE says otherwise).
    """
    with _torch_single_thread(seed):
        marginal, conditional, (_, _, xte, yte) = fitted_densities(x_train, y_train, x_test, y_test, cfg,
                                                                   seed, compile)
        with torch.no_grad():
            ce_y = -marginal(xte, yte, cfg.density).mean()
            ce_y_given_x = -conditional(xte, yte, cfg.density).mean()
    return float(ce_y - ce_y_given_x)
