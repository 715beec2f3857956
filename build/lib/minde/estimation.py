"""Monte Carlo estimation engine: runs a noise predictor under each role mask (docs/method.md §3-§4).

The engine is agnostic to where the noise predictions come from: a trained ``ScoreNet`` (through
``network_noise_fn``) or the closed-form Gaussian oracle of ``minde.bench.gaussian`` share the
signature ``noise_fn(z_in (K,B,D), t_vec (K,B,V), mask) -> eps_hat (K,B,D)``.
"""
from __future__ import annotations

from collections.abc import Callable

import torch

from . import estimators as est
from .importance import TimeSampler
from .masks import CONDITIONING, DIFFUSED, MARGINALISED, Mask, MaskTable, build_inputs
from .sde import VPSDE

__all__ = ["NoiseFn", "TERMS", "estimate_terms"]

NoiseFn = Callable[[torch.Tensor, torch.Tensor, Mask], torch.Tensor]

# Masks used at estimation time (docs/method.md §3) and the per-sample terms each kind produces.
EVAL_MASKS: dict[str, dict[str, Mask]] = {
    "c": {"X": Mask((DIFFUSED, MARGINALISED)), "X|Y": Mask((DIFFUSED, CONDITIONING))},
    "j": {"XY": Mask((DIFFUSED, DIFFUSED)), "X|Y": Mask((DIFFUSED, CONDITIONING)),
          "Y|X": Mask((CONDITIONING, DIFFUSED))},
}
TERMS: dict[str, tuple[str, ...]] = {
    "c": ("mi", "gap_X", "gap_X|Y"),
    "j": ("mi", "gap_XY", "gap_X|Y", "gap_Y|X"),
}


def _noise_under(noise_fn: NoiseFn, mask: Mask, dims: tuple[int, int], x0: torch.Tensor,
                 x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """eps_hat of all D dims with the variables in the roles of ``mask``."""
    table = MaskTable.build((mask,), dims, device=x0.device)
    row = table.gather(torch.zeros((), dtype=torch.long, device=x0.device))
    z_in, t_vec = build_inputs(x0, x_t, t, _expand(row, x0.shape[0]))
    return noise_fn(z_in, t_vec, mask)


def _expand(row: MaskTable, k: int) -> MaskTable:
    """Give a single mask row a leading model axis of size k."""
    return MaskTable(*(f.expand(k, *f.shape) for f in (
        row.diff_dim, row.cond_dim, row.time_mul, row.time_add, row.loss_dim)), probs=row.probs)


def _batch_terms(noise_fn: NoiseFn, kind: str, dims: tuple[int, int], x0: torch.Tensor,
                 x_t: torch.Tensor, t: torch.Tensor, sde: VPSDE, sampler: TimeSampler,
                 sigma: float) -> dict[str, torch.Tensor]:
    """Per-sample terms (K, B) of one batch for ``kind``."""
    dx = dims[0]
    w, sig, chi = sampler.weight(t), sde.sigma_t(t), sde.chi_t(t, sigma)
    eps = {name: _noise_under(noise_fn, m, dims, x0, x_t, t) for name, m in EVAL_MASKS[kind].items()}
    xs, ys = x_t[..., :dx], x_t[..., dx:]
    if kind == "c":
        e_x, e_xy = eps["X"][..., :dx], eps["X|Y"][..., :dx]
        return {"mi": est.mi_inside(e_xy, e_x, w),
                "gap_X": est.reference_gap(e_x, xs, sig, chi, w),
                "gap_X|Y": est.reference_gap(e_xy, xs, sig, chi, w)}
    e_joint, e_xgy, e_ygx = eps["XY"], eps["X|Y"][..., :dx], eps["Y|X"][..., dx:]
    return {"mi": est.mi_inside(e_joint, torch.cat([e_xgy, e_ygx], dim=-1), w),
            "gap_XY": est.reference_gap(e_joint, x_t, sig, chi, w),
            "gap_X|Y": est.reference_gap(e_xgy, xs, sig, chi, w),
            "gap_Y|X": est.reference_gap(e_ygx, ys, sig, chi, w)}


@torch.no_grad()
def estimate_terms(noise_fn: NoiseFn, x: torch.Tensor, y: torch.Tensor, kind: str, *,
                   sde: VPSDE, sampler: TimeSampler, sigma: float, mc_iter: int,
                   generators: list[torch.Generator], batch_size: int = 8192,
                   progress: Callable[[int], None] | None = None) -> dict[str, torch.Tensor]:
    """Mean of each per-sample term over the test set, for each of ``mc_iter`` passes.

    x: (n, d_x), y: (n, d_y) (standardised, on the device); one generator per model (K of them)
    draws that model's t and eps; each pass uses a fresh t and eps for every sample. Returns
    {term: (K, mc_iter)} in nats. The test set is processed in batches of ``batch_size`` rows
    so that memory stays bounded.
    """
    if kind not in TERMS:
        raise ValueError(f"unknown kind {kind!r}; use 'c' or 'j'")
    n, dims = x.shape[0], (x.shape[1], y.shape[1])
    k, dev = len(generators), x.device
    data = torch.cat([x, y], dim=1)
    sums = {name: torch.zeros(k, mc_iter, dtype=torch.float64, device=dev) for name in TERMS[kind]}
    for p in range(mc_iter):
        for start in range(0, n, batch_size):
            x0 = data[start:start + batch_size].unsqueeze(0).expand(k, -1, -1)
            b = x0.shape[1]
            t = torch.stack([sampler.sample((b,), g, dev) for g in generators])
            eps = torch.stack([torch.randn(b, data.shape[1], generator=g, device=dev) for g in generators])
            x_t = sde.perturb(x0, t, eps)
            for name, val in _batch_terms(noise_fn, kind, dims, x0, x_t, t, sde, sampler, sigma).items():
                sums[name][:, p] += val.double().sum(-1)
        if progress is not None:
            progress(p + 1)
    return {name: s / n for name, s in sums.items()}
