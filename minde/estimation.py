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

__all__ = ["NoiseFn", "TERMS", "LOSS_TERMS", "estimate_terms"]

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


def _batch_pairs(noise_fn: NoiseFn, kind: str, dims: tuple[int, int], x0: torch.Tensor,
                 x_t: torch.Tensor, t: torch.Tensor, eps: torch.Tensor, sde: VPSDE, sampler: TimeSampler,
                 sigma: float) -> tuple[dict[str, tuple[torch.Tensor, ...]], torch.Tensor]:
    """What each term of one batch compares (docs/method.md §3, §4, §17).

    Each term is ``weight * 1/2 ||a - b||^2`` of two noise predictions: for "mi" the two the
    estimator compares (a the finer one), for "gap_*" a network prediction a and the reference's
    b. Returns ({term: (a, b, target)}, weight (K, B)), where target is the true noise eps of the
    same coordinates (K, B, d).
    """
    dx = dims[0]
    w, sig, chi = sampler.weight(t), sde.sigma_t(t), sde.chi_t(t, sigma)
    pred = {name: _noise_under(noise_fn, m, dims, x0, x_t, t) for name, m in EVAL_MASKS[kind].items()}
    xs, ys = x_t[..., :dx], x_t[..., dx:]
    ex, ey = eps[..., :dx], eps[..., dx:]
    if kind == "c":
        e_x, e_xy = pred["X"][..., :dx], pred["X|Y"][..., :dx]
        ref = est.reference_noise(xs, sig, chi)
        return {"mi": (e_xy, e_x, ex), "gap_X": (e_x, ref, ex), "gap_X|Y": (e_xy, ref, ex)}, w
    e_joint, e_xgy, e_ygx = pred["XY"], pred["X|Y"][..., :dx], pred["Y|X"][..., dx:]
    return {"mi": (e_joint, torch.cat([e_xgy, e_ygx], dim=-1), eps),
            "gap_XY": (e_joint, est.reference_noise(x_t, sig, chi), eps),
            "gap_X|Y": (e_xgy, est.reference_noise(xs, sig, chi), ex),
            "gap_Y|X": (e_ygx, est.reference_noise(ys, sig, chi), ey)}, w


# terms whose denoising-loss form is valid: a's inputs hold everything b's do (docs/method.md §17)
LOSS_TERMS: dict[str, tuple[str, ...]] = {"c": TERMS["c"], "j": ("gap_XY", "gap_X|Y", "gap_Y|X")}


@torch.no_grad()
def estimate_terms(noise_fn: NoiseFn, x: torch.Tensor, y: torch.Tensor, kind: str, *,
                   sde: VPSDE, sampler: TimeSampler, sigma: float, mc_iter: int,
                   generators: list[torch.Generator], batch_size: int = 8192,
                   progress: Callable[[int], None] | None = None,
                   shared: bool = False) -> dict[str, torch.Tensor]:
    """Mean of each per-sample term over the test set, for each of ``mc_iter`` passes.

    x: (n, d_x), y: (n, d_y) (standardised, on the device), or (K, n, d_x), (K, n, d_y) when
    each of the K models sees the test rows on its own scale; one generator per model (K of them)
    draws that model's t and eps; each pass uses a fresh t and eps for every sample. Returns
    {term: (K, mc_iter)} in nats. The test set is processed in batches of ``batch_size`` rows
    so that memory stays bounded.

    ``shared=True`` (docs/method.md §17): ``generators[0]`` draws one t and eps per sample for all K
    models, so that every model is evaluated on the same rows, t and eps, and the result also
    holds ``"gram:" + term``: (mc_iter, K, K), the mean over rows of
    ``weight * 1/2 <D_j, D_k>`` for the term's difference vectors D of models j and k (its
    diagonal is the term itself; its off-diagonal mean is the cross-model estimate), and
    ``"loss:" + term``: (K, mc_iter), the denoising-loss form of each term of ``LOSS_TERMS``.
    """
    if kind not in TERMS:
        raise ValueError(f"unknown kind {kind!r}; use 'c' or 'j'")
    per_model = x.ndim == 3
    n, dims = x.shape[-2], (x.shape[-1], y.shape[-1])
    k, dev = len(generators), x.device
    data = torch.cat([x, y], dim=-1)
    if per_model and data.shape[0] != k:
        raise ValueError(f"per-model test data for {data.shape[0]} models but {k} generators")
    sums = {name: torch.zeros(k, mc_iter, dtype=torch.float64, device=dev) for name in TERMS[kind]}
    grams = {name: torch.zeros(mc_iter, k, k, dtype=torch.float64, device=dev) for name in TERMS[kind]}
    losses = {name: torch.zeros(k, mc_iter, dtype=torch.float64, device=dev) for name in LOSS_TERMS[kind]}
    draw = generators[:1] if shared else generators
    for p in range(mc_iter):
        for start in range(0, n, batch_size):
            rows = data[..., start:start + batch_size, :]
            x0 = rows if per_model else rows.unsqueeze(0).expand(k, -1, -1)
            b = x0.shape[1]
            t = torch.stack([sampler.sample((b,), g, dev) for g in draw]).expand(k, b)
            eps = torch.stack([torch.randn(b, data.shape[-1], generator=g, device=dev) for g in draw]).expand(k, b, -1)
            x_t = sde.perturb(x0, t, eps)
            pairs, w = _batch_pairs(noise_fn, kind, dims, x0, x_t, t, eps, sde, sampler, sigma)
            for name, (fine, coarse, target) in pairs.items():
                d = fine - coarse
                sums[name][:, p] += est.half_sq_norm(d, w).double().sum(-1)
                if shared:
                    grams[name][p] += 0.5 * torch.einsum("jbd,kbd,b->jk", d.double(), d.double(), w[0].double())
                    if name in LOSS_TERMS[kind]:
                        losses[name][:, p] += est.loss_difference(fine, coarse, target, w).double().sum(-1)
        if progress is not None:
            progress(p + 1)
    out = {name: s / n for name, s in sums.items()}
    if shared:
        out.update({f"gram:{name}": g / n for name, g in grams.items()})
        out.update({f"loss:{name}": v / n for name, v in losses.items()})
    return out
