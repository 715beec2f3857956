"""Cross-model (debiased) MINDE over K trained models, beyond the paper (docs/method.md §17).

Every MINDE estimate is a weighted squared norm of a difference vector D of noise predictions
(the two scores it compares, or a score and the Gaussian reference). A trained network's error
e enters as ||D* + e||^2, so its squared norm adds to the estimate whatever its sign. With K
models evaluated on the same rows with the same t and eps, the mean over pairs j != k of
<D_j, D_k> keeps ||D*||^2 and drops ||e||^2 for the part of the error that is independent
across models; the part they share stays. ``cross_model_estimate`` computes it for the MI
(both forms) and the entropies, with the paper's estimators on the same draws beside it.
"""
from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch

from .estimation import estimate_terms
from .estimators import cross_model_mean, leave_one_model_out, mi_sigma_from_terms
from .utils import make_generator, torch_threads

MINDE = Any  # minde.api.MINDE, not imported: the API imports this module

__all__ = ["CrossModelEstimate", "cross_model_estimate", "STREAM_SHARED"]

STREAM_SHARED = 3  # generator stream of the draws shared by all models (training 1, estimation 2)


@dataclass(frozen=True)
class CrossModelEstimate:
    """Cross-model estimates in nats from K >= 2 models on shared draws (docs/method.md §17)."""

    kind: str  # "c" or "j"
    n_models: int  # K
    mi: float  # cross-model "difference inside" (debiased MINDE-C / MINDE-J)
    mi_stderr: float  # Monte Carlo standard error across the mc_iter passes
    mi_model_se: float  # jackknife standard error over models (NaN for K = 2)
    mi_sigma: float  # cross-model "difference outside" (debiased MINDE-C(σ) / MINDE-J(σ))
    mi_sigma_stderr: float
    mi_sigma_model_se: float
    mi_paper: float  # the paper's estimator on the same draws, mean over the K models
    mi_sigma_paper: float
    # the denoising-loss forms, mean over the K models (docs/method.md §17; NaN: no valid form)
    mi_loss: float = math.nan  # MINDE-C only: the loss of the marginal minus that of the conditional
    mi_loss_stderr: float = math.nan
    mi_sigma_loss: float = math.nan  # the (σ) variant from the loss forms of the reference gaps
    mi_sigma_loss_stderr: float = math.nan
    entropies: dict[str, float] = field(default_factory=dict)  # cross-model entropies, original scale
    seconds: float = 0.0  # time of the shared evaluation
    # term -> its Gram matrix (K x K, mean over the passes): the cross-model estimate of any
    # subset of the models is the mean of its off-diagonal entries (``cross_model_mean``)
    gram: dict[str, list[list[float]]] = field(default_factory=dict)

    @property
    def variants(self) -> dict[str, float]:
        """Method name -> estimate: {"minde_c_cross": .., "minde_c_sigma_cross": ..}."""
        return {f"minde_{self.kind}_cross": self.mi, f"minde_{self.kind}_sigma_cross": self.mi_sigma}

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dictionary."""
        return asdict(self)


def _slots(models: Sequence[MINDE]) -> list[tuple[MINDE, int]]:
    """(model, index of its network) for every trained network of ``models``, checked alike."""
    if not models:
        raise ValueError("cross_model_estimate needs trained models")
    first = models[0]
    for m in models:
        if m.train_result is None or m.net is None:
            raise ValueError("cross_model_estimate called before fit(); fit every model first")
        if (m.kind, m.dims, m.hidden_used, m.sigma, m.importance_sampling, m.device) != (
                first.kind, first.dims, first.hidden_used, first.sigma, first.importance_sampling, first.device):
            raise ValueError("models differ in kind, dimensions, width, sigma, t sampler or device")
    slots = [(m, k) for m in models for k in range(m.n_seeds)]
    if len(slots) < 2:
        raise ValueError("the cross-model estimate needs at least 2 models (n_seeds >= 2, or several MINDEs)")
    return slots


def _stacked_ema(slots: list[tuple[MINDE, int]]) -> dict[str, torch.Tensor]:
    """EMA weights of every network, stacked on the model axis."""
    names = slots[0][0].train_result.ema.keys()
    return {n: torch.cat([m.train_result.ema[n][k:k + 1] for m, k in slots]) for n in names}


def _jackknife(values: np.ndarray) -> float:
    """Jackknife standard error from leave-one-out values (K,); NaN below 3."""
    k = values.size
    return float(math.sqrt((k - 1) / k * ((values - values.mean()) ** 2).sum())) if k >= 3 else math.nan


def _summaries(gram: np.ndarray) -> tuple[float, float, float, float]:
    """(cross estimate, its Monte Carlo se, jackknife se over models, paper mean) of (mc_iter, K, K)."""
    mean, se = _mean_se(cross_model_mean(gram))
    k = gram.shape[-1]
    model_se = _jackknife(leave_one_model_out(gram).mean(0)) if k >= 3 else math.nan
    paper = float(np.diagonal(gram, axis1=-2, axis2=-1).mean())
    return mean, se, model_se, paper


def cross_model_estimate(models: Sequence[MINDE], x: Any, y: Any, *, seed: int | None = None,
                         ema: bool = True) -> CrossModelEstimate:
    """Cross-model MI and entropies on held-out x: (m, d_x), y: (m, d_y) (docs/method.md §17).

    ``models``: one ``MINDE`` with ``n_seeds`` >= 2, or several fitted ``MINDE`` of one kind and
    width (e.g. seed models trained on different data); each network sees the rows standardised
    with its own model's statistics, and all see the same t and eps, drawn from ``seed``
    (default: the first model's seed). The rows should be unseen by every model.
    """
    slots = _slots(models)
    first = slots[0][0]
    xs, ys = [], []
    for m in models:
        mx, my, _ = m._eval_inputs(x, y, ema=ema)
        xs += [mx] * m.n_seeds
        ys += [my] * m.n_seeds
    params = _stacked_ema(slots) if ema else {
        n: torch.cat([m.net.params[n][k:k + 1] for m, k in slots]).detach() for n in first.net.params}
    net = first.net
    gen = make_generator(first.seed if seed is None else seed, STREAM_SHARED, first.device)
    start = time.perf_counter()
    with torch_threads(first.n_threads):
        terms = estimate_terms(lambda z, t, _m: net(z, t, params=params), torch.stack(xs), torch.stack(ys),
                               first.kind, sde=first.sde, sampler=first.sampler, sigma=first.sigma,
                               mc_iter=first.settings.mc_iter, batch_size=first.eval_batch_size,
                               generators=[gen] * len(slots), shared=True)
    grams = {k[5:]: v.cpu().numpy() for k, v in terms.items() if k.startswith("gram:")}
    mi = _summaries(grams["mi"])
    sigma_gram = mi_sigma_from_terms(first.kind, grams)  # linear in the gaps, so the same on Gram matrices
    mi_sigma = _summaries(sigma_gram)
    entropies = _entropies(slots, grams, xs, ys)
    losses = {k[5:]: v.cpu().numpy().mean(0) for k, v in terms.items() if k.startswith("loss:")}  # (mc_iter,)
    mi_loss = _mean_se(losses["mi"]) if "mi" in losses else (math.nan, math.nan)
    mi_sigma_loss = _mean_se(mi_sigma_from_terms(first.kind, losses))
    return CrossModelEstimate(first.kind, len(slots), mi[0], mi[1], mi[2], mi_sigma[0], mi_sigma[1], mi_sigma[2],
                              mi[3], mi_sigma[3], *mi_loss, *mi_sigma_loss, entropies, time.perf_counter() - start,
                              {name: g.mean(0).tolist() for name, g in grams.items()})


def _mean_se(per_pass: np.ndarray) -> tuple[float, float]:
    """Mean over passes and its standard error (NaN for one pass)."""
    se = float(per_pass.std(ddof=1) / math.sqrt(per_pass.size)) if per_pass.size > 1 else math.nan
    return float(per_pass.mean()), se


def _entropies(slots: list[tuple[MINDE, int]], grams: dict[str, np.ndarray], xs: list[torch.Tensor],
               ys: list[torch.Tensor]) -> dict[str, float]:
    """Cross-model entropies on the original scale: the mean over models of each model's constant
    (its standardisation) minus the cross-model reference gap (docs/method.md §2, §17)."""
    out = {}
    per_model = [m.entropy_constants(mx, my) for (m, _), mx, my in zip(slots, xs, ys)]
    for label, (term, _) in per_model[0].items():
        if term not in grams:
            continue
        consts = [c[label][1] for c in per_model]
        out[label] = float(np.mean(consts) - cross_model_mean(grams[term]).mean())
    return out
