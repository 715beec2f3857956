"""Variable roles and the multi-time mask trick (docs/method.md §5).

Every variable (X, Y) takes one role per mini-batch: diffused (input x_t, time entry t, its noise is
a regression target), conditioning (input clean x_0, time entry 0) or marginalised (input zeros,
time entry 1). A mask assigns a role to each variable; a ``MaskTable`` stores the masks of one
kind as tensors so that they can be gathered per model and per step without Python work.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import torch

__all__ = ["DIFFUSED", "CONDITIONING", "MARGINALISED", "Mask", "MaskTable", "KIND_MASKS",
           "check_role_probs", "resolved_role_probs", "build_inputs", "loss_weights"]

Role = Literal["diffused", "conditioning", "marginalised"]
DIFFUSED: Role = "diffused"
CONDITIONING: Role = "conditioning"
MARGINALISED: Role = "marginalised"


@dataclass(frozen=True)
class Mask:
    """One assignment of roles to the variables (X, Y) (docs/method.md §5)."""

    roles: tuple[Role, ...]  # role of each variable, in the order (X, Y)

    def __post_init__(self) -> None:
        bad = [r for r in self.roles if r not in (DIFFUSED, CONDITIONING, MARGINALISED)]
        if bad:
            raise ValueError(f"unknown role(s) {bad}; use diffused, conditioning, marginalised")


# Training masks and their probabilities per kind (docs/method.md §5).
KIND_MASKS: dict[str, tuple[tuple[Mask, float], ...]] = {
    "c": ((Mask((DIFFUSED, MARGINALISED)), 0.5), (Mask((DIFFUSED, CONDITIONING)), 0.5)),
    "j": ((Mask((DIFFUSED, DIFFUSED)), 0.5), (Mask((DIFFUSED, CONDITIONING)), 0.25),
          (Mask((CONDITIONING, DIFFUSED)), 0.25)),
}


@dataclass(frozen=True)
class MaskTable:
    """Masks expanded to per-dimension and per-variable tensors (docs/method.md §5).

    diff_dim/cond_dim: (M, D) 0/1 floats; time_mul/time_add: (M, V) so that the time entry of a
    variable is t * time_mul + time_add (t, 0 or 1); loss_dim: (M, D) equals
    w * [dimension diffused] / n_diff with w = 1 + (D - n_diff)/D; probs: (M,).
    """

    diff_dim: torch.Tensor
    cond_dim: torch.Tensor
    time_mul: torch.Tensor
    time_add: torch.Tensor
    loss_dim: torch.Tensor
    probs: torch.Tensor

    @staticmethod
    def build(masks: tuple[Mask, ...], dims: tuple[int, ...], probs: tuple[float, ...] | None = None,
              device: torch.device | str = "cpu") -> "MaskTable":
        """Expand masks over variables of sizes ``dims`` (e.g. (d_x, d_y))."""
        total = sum(dims)
        rows = [_mask_rows(m, dims, total) for m in masks]
        cols = list(zip(*rows))
        stack = [torch.tensor(c, dtype=torch.float32, device=device) for c in cols]
        p = torch.tensor(probs if probs is not None else [1.0 / len(masks)] * len(masks),
                         dtype=torch.float32, device=device)
        return MaskTable(*stack, probs=p)

    @staticmethod
    def for_kind(kind: str, dims: tuple[int, int], device: torch.device | str = "cpu",
                 probs: Sequence[float] | None = None) -> "MaskTable":
        """The training masks of kind "c" or "j", drawn with ``probs`` (default: ``KIND_MASKS``'s)."""
        p = resolved_role_probs(kind, probs)  # also rejects an unknown kind
        return MaskTable.build(tuple(m for m, _ in KIND_MASKS[kind]), dims, p, device)

    def gather(self, index: torch.Tensor) -> "MaskTable":
        """Select masks by index (any shape); trailing dims (D) or (V) are kept."""
        return MaskTable(self.diff_dim[index], self.cond_dim[index], self.time_mul[index],
                         self.time_add[index], self.loss_dim[index], self.probs[index])


def check_role_probs(kind: str, probs: Sequence[float] | None) -> tuple[float, ...] | None:
    """Validate the probabilities of kind's training masks (in ``KIND_MASKS``' order); None stays None."""
    if kind not in KIND_MASKS:
        raise ValueError(f"unknown kind {kind!r}; use 'c' or 'j'")
    if probs is None:
        return None
    names = [" ".join(m.roles) for m, _ in KIND_MASKS[kind]]
    p = tuple(float(v) for v in probs)
    if len(p) != len(names):
        raise ValueError(f"role_probs for kind {kind!r} needs {len(names)} probabilities, one per "
                         f"mask ({'; '.join(names)}), got {len(p)}")
    if not all(math.isfinite(v) and v >= 0 for v in p) or not math.isclose(sum(p), 1.0, abs_tol=1e-9):
        raise ValueError(f"role_probs must be non-negative and sum to 1, got {list(probs)}")
    return p


def resolved_role_probs(kind: str, probs: Sequence[float] | None) -> tuple[float, ...]:
    """``probs`` validated (``check_role_probs``), or ``KIND_MASKS``' probabilities when None."""
    return check_role_probs(kind, probs) or tuple(p for _, p in KIND_MASKS[kind])


def _mask_rows(mask: Mask, dims: tuple[int, ...], total: int) -> tuple[list[float], ...]:
    """Per-dimension and per-variable rows of one mask."""
    if len(mask.roles) != len(dims):
        raise ValueError(f"mask has {len(mask.roles)} roles but there are {len(dims)} variables")
    diff, cond, mul, add = [], [], [], []
    for role, d in zip(mask.roles, dims):
        diff += [float(role == DIFFUSED)] * d
        cond += [float(role == CONDITIONING)] * d
        mul.append(float(role == DIFFUSED))
        add.append(float(role == MARGINALISED))
    n_diff = sum(diff)
    if n_diff == 0:
        raise ValueError("a mask must diffuse at least one variable")
    w = 1.0 + (total - n_diff) / total
    loss = [w * v / n_diff for v in diff]
    return diff, cond, mul, add, loss


def build_inputs(x0: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor,
                 table: MaskTable) -> tuple[torch.Tensor, torch.Tensor]:
    """Network inputs for the roles in ``table`` (docs/method.md §5).

    x0, x_t: (..., B, D) clean and diffused data; t: (..., B); table: gathered to (..., D)/(..., V).
    Returns z_in (..., B, D) = x_t on diffused dims, x0 on conditioning dims, 0 otherwise, and the
    time vector (..., B, V) with entries t / 0 / 1.
    """
    diff = table.diff_dim.unsqueeze(-2)
    cond = table.cond_dim.unsqueeze(-2)
    z_in = diff * x_t + cond * x0
    t_vec = t.unsqueeze(-1) * table.time_mul.unsqueeze(-2) + table.time_add.unsqueeze(-2)
    return z_in, t_vec


def loss_weights(table: MaskTable) -> torch.Tensor:
    """Per-dimension loss weights (..., 1, D): w / n_diff on diffused dims, 0 elsewhere."""
    return table.loss_dim.unsqueeze(-2)
