"""The paper-era score network (docs/method.md §6), as K independent models with stacked weights.

Every parameter carries a leading model axis K so that K seeds train in one batched computation
(batched matmuls); K = 1 is the ordinary single network. The public ``forward`` takes z: (K, B, D)
and a time vector with one entry per variable t: (K, B, V) and returns eps_hat: (K, B, D).

Internally activations are kept channel-major, (K, C, B): linear layers are ``W @ x`` with
W: (K, out, in) (nn.Linear's layout), and GroupNorm reduces over the 8 channels of a group with
the batch as the contiguous inner axis, which vectorises on a CPU (PyTorch's own group_norm is
slow for GroupNorm(8) on (B, C) inputs). Training feeds pre-transposed inputs to ``forward_cb``.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["ScoreNet", "default_hidden"]

Params = dict[str, torch.Tensor]
GROUPS = 8  # GroupNorm groups (docs/method.md §6)
GN_EPS = 1e-5  # GroupNorm epsilon (PyTorch's default)
EVAL_ELEMENTS = 2**19  # largest K * samples * hidden per forward chunk in ``forward``


def default_hidden(dim: int) -> int:
    """Hidden width rule of docs/method.md §6: 64 if D <= 10, 128 if D <= 50, else 256."""
    return 64 if dim <= 10 else 128 if dim <= 50 else 256


class ScoreNet(nn.Module):
    """K stacked copies of the MINDE MLP score network (docs/method.md §6)."""

    def __init__(self, dim: int, n_vars: int, hidden: int, n_models: int = 1,
                 seeds: list[int] | None = None) -> None:
        super().__init__()
        if hidden % GROUPS:
            raise ValueError(f"hidden size must be a multiple of {GROUPS}, got {hidden}")
        self.dim, self.n_vars, self.hidden, self.n_models = dim, n_vars, hidden, n_models
        seeds = list(range(n_models)) if seeds is None else list(seeds)
        if len(seeds) != n_models:
            raise ValueError(f"need one seed per model: {n_models} models, {len(seeds)} seeds")
        shapes = self._shapes()
        per_model = [self._init_one(shapes, s) for s in seeds]
        self.params = nn.ParameterDict(
            {k: nn.Parameter(torch.stack([p[k] for p in per_model])) for k in shapes})

    def _shapes(self) -> dict[str, tuple[str, tuple[int, ...]]]:
        """Name -> (init rule, shape without the model axis); weights are (out, in)."""
        d, v, h = self.dim, self.n_vars, self.hidden
        s: dict[str, tuple[str, tuple[int, ...]]] = {}

        def lin(name: str, n_in: int, n_out: int, rule: str = "uniform") -> None:
            s[f"{name}_w"] = (f"{rule}:{n_in}", (n_out, n_in))
            s[f"{name}_b"] = (f"{rule}:{n_in}", (n_out, 1))

        def norm(name: str, n: int) -> None:
            s[f"{name}_w"], s[f"{name}_b"] = ("one", (n, 1)), ("zero", (n, 1))

        lin("inp", d, h)
        lin("time1", v, h)
        lin("time2", h, h)
        lin("temb", h, 3 * h)  # the three blocks' time projections, stacked (out = 3h)
        for name, n_in in (("block1", h), ("block2", h), ("block3", 2 * h)):
            norm(f"{name}_gn1", n_in)
            lin(f"{name}_lin1", n_in, h)
            norm(f"{name}_gn2", h)
            lin(f"{name}_lin2", h, h)
            lin(f"{name}_skip", n_in, h)
        norm("out_gn", h)
        lin("out", h, d, rule="zero")
        return s

    @staticmethod
    def _init_one(shapes: dict[str, tuple[str, tuple[int, ...]]], seed: int) -> Params:
        """Initialise one model with its own generator (PyTorch's default Linear init)."""
        gen = torch.Generator().manual_seed(int(seed))
        out: Params = {}
        for name, (rule, shape) in shapes.items():
            if rule == "one":
                out[name] = torch.ones(shape)
            elif rule == "zero" or rule.startswith("zero:"):
                out[name] = torch.zeros(shape)
            else:
                bound = 1.0 / math.sqrt(int(rule.split(":")[1]))
                out[name] = (torch.rand(shape, generator=gen) * 2 - 1) * bound
        return out

    def forward(self, z: torch.Tensor, t: torch.Tensor, params: Params | None = None) -> torch.Tensor:
        """eps_hat (K, B, D) for inputs z (K, B, D) and time vectors t (K, B, V).

        Every sample is independent (GroupNorm is per sample), so large inputs are processed in
        column chunks of at most EVAL_ELEMENTS / (K * hidden) samples to stay cache-sized.
        """
        k, b = z.shape[:2]
        step = max(512, EVAL_ELEMENTS // (k * self.hidden))
        outs = [self.forward_cb(z[:, i:i + step].transpose(1, 2), t[:, i:i + step].transpose(1, 2),
                                params) for i in range(0, b, step)]
        return (outs[0] if len(outs) == 1 else torch.cat(outs, dim=2)).transpose(1, 2)

    def forward_cb(self, z: torch.Tensor, t: torch.Tensor, params: Params | None = None) -> torch.Tensor:
        """Channel-major forward: eps_hat (K, D, B) for z (K, D, B) and t (K, V, B)."""
        return forward_cb(self.params if params is None else params, z, t, self.hidden)


def forward_cb(p: Params, z: torch.Tensor, t: torch.Tensor, hidden: int) -> torch.Tensor:
    """``ScoreNet.forward_cb`` as a function of the parameters (what training compiles)."""
    k, h, b = z.shape[0], hidden, z.shape[2]
    r = _linear(z, p, "inp")
    temb = F.silu(_linear(F.gelu(_linear(t, p, "time1")), p, "time2"))
    t1, t2, t3 = _linear(temb, p, "temb").view(k, 3, h, b).unbind(1)
    x = _block(r, t1, p, "block1")
    x = _block(x, t2, p, "block2")
    x = _block(torch.cat([x, r], dim=1), t3, p, "block3")
    return _linear(_gn_silu(x, p, "out_gn"), p, "out")


def _linear(x: torch.Tensor, p: Params, name: str) -> torch.Tensor:
    """Batched affine map W @ x + b: W (K, out, in), x (K, in, B), b (K, out, 1)."""
    return torch.baddbmm(p[f"{name}_b"], p[f"{name}_w"], x)


class _GroupNormCB(torch.autograd.Function):
    """GroupNorm statistics and normalisation of x: (K, G, S, B) over S (docs/method.md §6), no affine."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        xc = x - x.mean(2, keepdim=True)
        rstd = (xc.square().mean(2, keepdim=True) + GN_EPS).rsqrt_()
        xhat = xc.mul_(rstd)
        ctx.save_for_backward(xhat, rstd)
        return xhat

    @staticmethod
    def backward(ctx, gy: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        xhat, rstd = ctx.saved_tensors
        m2 = (gy * xhat).mean(2, keepdim=True)
        gx = gy - gy.mean(2, keepdim=True)
        return gx.sub_(xhat * m2).mul_(rstd)


def _gn_silu(x: torch.Tensor, p: Params, name: str) -> torch.Tensor:
    """SiLU(GroupNorm(8)(x)) with per-model affine parameters; x: (K, C, B)."""
    k, c, b = x.shape
    xhat = _GroupNormCB.apply(x.reshape(k, GROUPS, c // GROUPS, b)).view(k, c, b)
    return F.silu(torch.addcmul(p[f"{name}_b"], xhat, p[f"{name}_w"]))


def _block(x: torch.Tensor, temb: torch.Tensor, p: Params, name: str) -> torch.Tensor:
    """Time-conditioned residual block: GN-SiLU-Linear, + time, GN-SiLU-Linear, + linear skip."""
    h = _linear(_gn_silu(x, p, f"{name}_gn1"), p, f"{name}_lin1") + temb
    h = _linear(_gn_silu(h, p, f"{name}_gn2"), p, f"{name}_lin2")
    return h + _linear(x, p, f"{name}_skip")
