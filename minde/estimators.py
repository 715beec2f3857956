"""The MI and entropy formulas of MINDE as pure tensor functions (docs/method.md §2-§4).

All work on the noise scale: with s = -eps_hat/sigma_t, 1/2 g^2 ||s_a - s_b||^2 equals
1/2 (g^2/sigma_t^2) ||eps_a - eps_b||^2, and the time sampler's ``weight(t)`` already contains
g^2/sigma_t^2 divided by the sampling density. Each function returns per-sample contributions
(shape (..., B)); their mean over samples (and t draws) is the estimate in nats.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from .utils import append_dims

__all__ = ["half_sq_norm", "loss_difference", "cross_model_mean", "leave_one_model_out", "score_gap", "reference_gap", "mi_inside", "mi_sigma_c", "mi_sigma_j", "mi_sigma_from_terms",
           "entropy_from_gap", "reference_noise", "gaussian_reference_constant"]


def half_sq_norm(diff: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """weight * 1/2 ||diff||^2 per sample; diff: (..., B, d), weight: (..., B)."""
    return 0.5 * weight * diff.square().sum(-1)


def loss_difference(fine: torch.Tensor, coarse: torch.Tensor, target: torch.Tensor,
                    weight: torch.Tensor) -> torch.Tensor:
    """weight * 1/2 (||target - coarse||^2 - ||target - fine||^2) per sample (docs/method.md §17).

    With target the true noise, its expectation equals that of ``score_gap(fine, coarse)`` when
    both predictions are exact and ``fine`` sees everything ``coarse`` does; each network's
    squared error then enters with opposite signs instead of adding.
    """
    return 0.5 * weight * ((target - coarse).square().sum(-1) - (target - fine).square().sum(-1))


def score_gap(eps_a: torch.Tensor, eps_b: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """weight * 1/2 ||eps_a - eps_b||^2 per sample; eps_*: (..., B, d), weight: (..., B)."""
    return half_sq_norm(eps_a - eps_b, weight)


def reference_noise(x_t: torch.Tensor, sigma_t: torch.Tensor, chi_t: torch.Tensor) -> torch.Tensor:
    """Score of the diffused reference N(0, chi_t I), -x_t/chi_t, on the noise scale (docs/method.md §4).

    Returned as the equivalent noise prediction sigma_t x_t / chi_t (since eps = -sigma_t s).
    x_t: (..., B, d); sigma_t, chi_t: (..., B).
    """
    return append_dims(sigma_t / chi_t, x_t.ndim) * x_t


def reference_gap(eps: torch.Tensor, x_t: torch.Tensor, sigma_t: torch.Tensor,
                  chi_t: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """weight * 1/2 ||eps - eps_ref||^2: the integrand of -e_* in docs/method.md §3 (per sample)."""
    return score_gap(eps, reference_noise(x_t, sigma_t, chi_t), weight)


def mi_inside(eps_a: torch.Tensor, eps_b: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """MINDE-C or MINDE-J ("difference inside", docs/method.md §3), per sample.

    MINDE-C: eps_a = conditional eps_{X|Y}, eps_b = marginal eps_X (X dims only).
    MINDE-J: eps_a = joint eps_{XY}, eps_b = [eps_{X|Y}, eps_{Y|X}] (all dims).
    """
    return score_gap(eps_a, eps_b, weight)


def mi_sigma_c(gap_marginal: torch.Tensor, gap_conditional: torch.Tensor) -> torch.Tensor:
    """MINDE-C(sigma) = e_X - e_{X|Y} = gap_{X|Y} - gap_X with gap = -e (docs/method.md §3)."""
    return gap_conditional - gap_marginal


def mi_sigma_j(gap_joint: torch.Tensor, gap_x_given_y: torch.Tensor,
               gap_y_given_x: torch.Tensor) -> torch.Tensor:
    """MINDE-J(sigma) = e_{XY} - e_{X|Y} - e_{Y|X} with gap = -e (docs/method.md §3)."""
    return gap_x_given_y + gap_y_given_x - gap_joint


def mi_sigma_from_terms(kind: str, terms: Mapping[str, Any]) -> Any:
    """The (sigma) variant of ``kind`` ("c" or "j") from the gap terms of ``estimate_terms``
    (tensors or arrays, any shape); docs/method.md §3."""
    if kind == "c":
        return mi_sigma_c(terms["gap_X"], terms["gap_X|Y"])
    if kind == "j":
        return mi_sigma_j(terms["gap_XY"], terms["gap_X|Y"], terms["gap_Y|X"])
    raise ValueError(f"unknown kind {kind!r}; use 'c' or 'j'")


def gaussian_reference_constant(dim: int, sigma: float, mean_sq_norm: float, chi_T: float) -> float:
    """N/2 log(2 pi sigma^2) + E||x_0||^2/(2 sigma^2) - KL(p_T || N(0, chi_T I)) (docs/method.md §2)."""
    kl_T = 0.5 * dim * (math.log(chi_T) - 1.0 + 1.0 / chi_T)
    return 0.5 * dim * math.log(2 * math.pi * sigma**2) + mean_sq_norm / (2 * sigma**2) - kl_T


def entropy_from_gap(mean_gap: float, dim: int, sigma: float, mean_sq_norm: float,
                     chi_T: float) -> float:
    """H(p) in nats from the mean reference gap E int 1/2 g^2 ||s_p - s_ref||^2 (docs/method.md §2)."""
    return gaussian_reference_constant(dim, sigma, mean_sq_norm, chi_T) - mean_gap


def cross_model_mean(gram: np.ndarray) -> np.ndarray:
    """The cross-model estimate from Gram matrices (..., K, K) of K >= 2 models (docs/method.md §17).

    gram[..., j, k] is the mean of weight * 1/2 <D_j, D_k> over shared draws, for the difference
    vectors D of models j and k; the diagonal is each model's own (paper) estimate. The mean of
    the K(K-1) off-diagonal entries, (||sum_k D_k||^2 - sum_k ||D_k||^2) / (K(K-1)) per draw,
    keeps the true difference's squared norm and drops every error's squared norm that is
    independent across models.
    """
    k = gram.shape[-1]
    if k < 2:
        raise ValueError("the cross-model estimate needs at least 2 models")
    total = gram.sum(axis=(-2, -1)) - np.trace(gram, axis1=-2, axis2=-1)
    return total / (k * (k - 1))


def leave_one_model_out(gram: np.ndarray) -> np.ndarray:
    """(..., K): the cross-model estimate without model j, for each j (K >= 3; a jackknife over models)."""
    k = gram.shape[-1]
    if k < 3:
        raise ValueError("leaving one model out needs at least 3 models")
    off = gram - np.eye(k) * gram  # off-diagonal entries only
    without = off.sum(axis=(-2, -1))[..., None] - off.sum(axis=-1) - off.sum(axis=-2)
    return without / ((k - 1) * (k - 2))
