"""The paper-era score network (SPEC §1.6), as K independent models with stacked weights.

Every parameter carries a leading model axis K so that K seeds train in one batched computation
(batched matmuls); K = 1 is the ordinary single network. Inputs are z: (K, B, D) and a time vector
with one entry per variable t: (K, B, V); the output is the predicted noise eps_hat: (K, B, D).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["ScoreNet", "default_hidden"]

Params = dict[str, torch.Tensor]
GROUPS = 8  # GroupNorm groups (SPEC §1.6)


def default_hidden(dim: int) -> int:
    """Hidden width rule of SPEC §1.6: 64 if D <= 10, 128 if D <= 50, else 256."""
    return 64 if dim <= 10 else 128 if dim <= 50 else 256


class ScoreNet(nn.Module):
    """K stacked copies of the MINDE MLP score network (SPEC §1.6)."""

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
        """Name -> (init rule, shape without the model axis)."""
        d, v, h = self.dim, self.n_vars, self.hidden
        s: dict[str, tuple[str, tuple[int, ...]]] = {}

        def lin(name: str, n_in: int, n_out: int, rule: str = "uniform") -> None:
            s[f"{name}_w"] = (f"{rule}:{n_in}", (n_in, n_out))
            s[f"{name}_b"] = (f"{rule}:{n_in}", (n_out,))

        def block(name: str, n_in: int, n_out: int) -> None:
            s[f"{name}_gn1_w"], s[f"{name}_gn1_b"] = ("one", (n_in,)), ("zero", (n_in,))
            lin(f"{name}_lin1", n_in, n_out)
            lin(f"{name}_temb", h, n_out)
            s[f"{name}_gn2_w"], s[f"{name}_gn2_b"] = ("one", (n_out,)), ("zero", (n_out,))
            lin(f"{name}_lin2", n_out, n_out)
            lin(f"{name}_skip", n_in, n_out)

        lin("inp", d, h)
        lin("time1", v, h)
        lin("time2", h, h)
        block("block1", h, h)
        block("block2", h, h)
        block("block3", 2 * h, h)
        s["out_gn_w"], s["out_gn_b"] = ("one", (h,)), ("zero", (h,))
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
        """eps_hat (K, B, D) for inputs z (K, B, D) and time vectors t (K, B, V)."""
        p = self.params if params is None else params
        r = _linear(z, p, "inp")
        temb = _linear(F.gelu(_linear(t, p, "time1")), p, "time2")
        temb = F.silu(temb)
        h = _block(r, temb, p, "block1")
        h = _block(h, temb, p, "block2")
        h = _block(torch.cat([h, r], dim=-1), temb, p, "block3")
        return _linear(F.silu(_group_norm(h, p, "out_gn")), p, "out")


def _linear(x: torch.Tensor, p: Params, name: str) -> torch.Tensor:
    """Batched affine map x @ W + b with W: (K, in, out)."""
    return torch.baddbmm(p[f"{name}_b"].unsqueeze(1), x, p[f"{name}_w"])


def _group_norm(x: torch.Tensor, p: Params, name: str) -> torch.Tensor:
    """GroupNorm(8) per sample with per-model affine parameters; x: (K, B, C)."""
    k, b, c = x.shape
    w, bias = p[f"{name}_w"], p[f"{name}_b"]
    if k == 1:
        return F.group_norm(x.view(b, c), GROUPS, w[0], bias[0]).view(1, b, c)
    xn = F.group_norm(x.reshape(k * b, c), GROUPS).view(k, b, c)
    return torch.addcmul(bias.unsqueeze(1), xn, w.unsqueeze(1))


def _block(x: torch.Tensor, temb: torch.Tensor, p: Params, name: str) -> torch.Tensor:
    """Time-conditioned residual block: GN-SiLU-Linear, + time, GN-SiLU-Linear, + linear skip."""
    h = _linear(F.silu(_group_norm(x, p, f"{name}_gn1")), p, f"{name}_lin1")
    h = h + _linear(temb, p, f"{name}_temb")
    h = _linear(F.silu(_group_norm(h, p, f"{name}_gn2")), p, f"{name}_lin2")
    return h + _linear(x, p, f"{name}_skip")
