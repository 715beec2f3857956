"""A plain training loop for K stacked score networks (docs/method.md §5, §7).

Randomness is drawn per model from that model's own generator, in chunks of steps, so that model
k of a K-batch sees exactly the data order, masks, t and noise of a single run with the same seed.
The step itself is a function of (parameters, pre-built batch): no host synchronisation except a
finiteness check every ``log_every`` steps. All K models' parameters live in one flat buffer
(the autograd leaves are views of it), so that Adam and the EMA are single kernels per step.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

import torch
from tqdm import tqdm

from .config import TrainSettings
from .importance import TimeSampler
from .masks import MaskTable, build_inputs, loss_weights
from .network import ScoreNet
from .sde import VPSDE

__all__ = ["TrainResult", "TrainingDivergedError", "train_score_net", "default_group_size", "lr_factors"]


CPU_GROUP_ELEMENTS = 2**16  # largest K * batch * hidden trained as one batch on a CPU
FLAT_ALIGN = 64  # flat parameter buffer length is a multiple of this (see _FlatParams)
LOSS_LIMIT = 1e6  # a loss this large (the target is unit-variance noise, O(1) loss) is divergence


class TrainingDivergedError(RuntimeError):
    """The training loss became NaN/inf or exploded; ``step`` is the first bad step (0-based)."""

    def __init__(self, step: int, model: int, lr: float, reason: str = "NaN/inf") -> None:
        self.step, self.model = step, model
        super().__init__(f"training diverged: loss became {reason} at step {step} (model {model}); "
                         f"try a smaller learning rate than {lr:g} or check the data scale")


@dataclass
class TrainResult:
    """EMA weights used for estimation, per-step losses (steps, K) on the CPU, wall time."""

    ema: dict[str, torch.Tensor]
    losses: torch.Tensor
    seconds: float


@dataclass
class _Chunk:
    """Pre-built network inputs and targets for ``c`` consecutive steps of K models."""

    z_in: torch.Tensor  # (c, K, D, B), channel-major for ScoreNet.forward_cb
    t_vec: torch.Tensor  # (c, K, V, B)
    eps: torch.Tensor  # (c, K, D, B)
    weights: torch.Tensor  # (c, K, D, 1)


def _make_chunk(data: torch.Tensor, c: int, batch: int, table: MaskTable, sde: VPSDE,
                sampler: TimeSampler, generators: list[torch.Generator]) -> _Chunk:
    """Draw indices, masks, t and eps for c steps, per model from its own generator.

    data: (n, D), shared by the models, or (K, n, D), model k drawing its rows from data[k];
    the draws are the same either way, so model k sees what a single run on its data sees.
    """
    n, d = data.shape[-2:]
    dev = data.device
    idx, ts, eps, masks = [], [], [], []
    for g in generators:
        idx.append(torch.randint(n, (c, batch), generator=g, device=dev))
        ts.append(sampler.sample((c, batch), g, dev))
        eps.append(torch.randn(c, batch, d, generator=g, device=dev))
        masks.append(torch.multinomial(table.probs, c, replacement=True, generator=g))
    rows_idx = torch.stack(idx, 1)  # (c, K, B)
    if data.dim() == 3:  # per-model data: x0[c, k, b] = data[k, idx[c, k, b]]
        x0 = data[torch.arange(len(generators), device=dev).view(1, -1, 1), rows_idx]
    else:
        x0 = data[rows_idx]
    t, noise = torch.stack(ts, 1), torch.stack(eps, 1)
    rows = table.gather(torch.stack(masks, 1))
    z_in, t_vec = build_inputs(x0, sde.perturb(x0, t, noise), t, rows)
    cb = [a.transpose(-1, -2).contiguous() for a in (z_in, t_vec, noise, loss_weights(rows))]
    return _Chunk(*cb)


def _chunk_size(k: int, batch: int, d: int, n_vars: int) -> int:
    """Steps per pre-built chunk: about 16 MB of float32 inputs, between 1 and 256."""
    per_step = k * batch * (2 * d + n_vars + 1)
    return max(1, min(256, (4 * 1024 * 1024) // max(per_step, 1)))


def _check_finite(losses: torch.Tensor, upto: int, lr: float, first_model: int = 0) -> None:
    """Raise TrainingDivergedError at the first loss in losses[:upto] that is NaN/inf or huge."""
    block = losses[:upto]
    bad = ~(block.abs() <= LOSS_LIMIT)  # NaN compares False
    if bool(bad.any()):
        step, model = (int(i) for i in bad.nonzero()[0])
        value = float(block[step, model])
        reason = "NaN/inf" if not math.isfinite(value) else f"larger than {LOSS_LIMIT:g} ({value:.3g})"
        raise TrainingDivergedError(step, first_model + model, lr, reason)


class _FlatParams:
    """All K models' parameters in one flat buffer, one contiguous (K, *shape) block per name.

    The buffer is zero-padded to a multiple of FLAT_ALIGN elements so that Adam and the EMA run
    every element through their vectorised loops (their scalar tail loops round differently,
    which would make a model's result depend on how many models share the buffer).
    """

    def __init__(self, params: dict[str, torch.Tensor]) -> None:
        self.shapes = {n: p.shape for n, p in params.items()}
        parts = [p.detach().reshape(-1) for p in params.values()]
        size = sum(p.numel() for p in parts)
        self.pad = parts[0].new_zeros(-size % FLAT_ALIGN)
        self.flat = torch.cat(parts + [self.pad])
        self.leaves = {n: v.detach().requires_grad_() for n, v in self.views(self.flat).items()}

    def views(self, flat: torch.Tensor) -> dict[str, torch.Tensor]:
        """Name -> (K, *shape) view of a flat buffer laid out like ``self.flat``."""
        out, start = {}, 0
        for name, shape in self.shapes.items():
            n = math.prod(shape)
            out[name] = flat[start:start + n].view(shape)
            start += n
        return out

    def flat_grad(self, grads: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """Concatenate per-parameter gradients (and the zero padding) into the flat layout."""
        return torch.cat([g.reshape(-1) for g in grads] + [self.pad])


def lr_factors(settings: TrainSettings) -> list[float] | None:
    """Learning-rate multiplier of every step (docs/method.md §7), or None for a constant rate.

    A linear warm-up from 0 over ``warmup_steps`` (step s gets (s + 1) / warmup_steps), then
    ``cosine`` (½(1 + cos πu)) or ``linear`` (1 − u) decay with u going from 0 to 1 over the
    remaining steps, or ``constant`` (1).
    """
    steps, warm, kind = settings.steps, settings.warmup_steps, settings.lr_schedule
    if kind == "constant" and warm == 0:
        return None
    out = []
    for s in range(steps):
        if s < warm:
            out.append((s + 1) / warm)
            continue
        u = (s - warm) / max(1, steps - warm - 1)
        out.append(1.0 if kind == "constant" else 0.5 * (1 + math.cos(math.pi * u)) if kind == "cosine"
                   else 1.0 - u)
    return out


def _train_loop(net: ScoreNet, fp: _FlatParams, next_chunk, settings: TrainSettings,
                losses: torch.Tensor, bar: tqdm, log_every: int, first_model: int) -> torch.Tensor:
    """Run the optimiser steps on ``fp.flat`` in place; returns the flat EMA buffer.

    losses: (steps, k) view into which this group's per-step losses go; ``first_model`` is the
    group's first model index, for error messages.
    """
    batch, leaves = settings.batch_size, list(fp.leaves.values())
    opt = torch.optim.Adam([fp.flat], lr=settings.lr, fused=True)
    lrs = lr_factors(settings)
    ema = fp.flat.clone()
    chunk, j, logged = None, 0, 0
    for step in range(settings.steps):
        if chunk is None or j == chunk.z_in.shape[0]:
            chunk, j = next_chunk(step), 0
        if lrs is not None:
            opt.param_groups[0]["lr"] = settings.lr * lrs[step]
        pred = net.forward_cb(chunk.z_in[j], chunk.t_vec[j], params=fp.leaves)
        per_model = ((pred - chunk.eps[j]).square() * chunk.weights[j]).sum((1, 2)) / batch
        fp.flat.grad = fp.flat_grad(torch.autograd.grad(per_model.sum(), leaves))
        opt.step()
        losses[step] = per_model.detach()
        decay = min(settings.ema_decay, (1.0 + step) / (10.0 + step))  # EMA warm-up
        ema.lerp_(fp.flat, 1.0 - decay)
        j += 1
        if (step + 1) % log_every == 0 or step + 1 == settings.steps:
            _check_finite(losses, step + 1, settings.lr, first_model)
            bar.update(step + 1 - logged)
            logged = step + 1
            bar.set_postfix(loss=f"{float(losses[max(0, step - log_every + 1):step + 1].mean()):.4f}")
    return ema


def default_group_size(n_models: int, batch: int, hidden: int, device: torch.device) -> int:
    """Models per batched computation: all of them on a GPU; on a CPU at most 2**16 / (B * hidden).

    On a CPU a K-batch pays off while one activation (K, hidden, B) stays cache-sized (~256 kB);
    beyond that the step is memory-bound and K models in one batch run slower per model than one
    at a time (measured by benchmarks/ensemble_throughput.py), so larger K are split into groups
    trained one after the other. Hidden 64 / batch 128 gives 8, 128 / 128 gives 4, 256 / 256 gives 1.
    """
    if device.type != "cpu":
        return n_models
    return max(1, min(n_models, CPU_GROUP_ELEMENTS // (batch * hidden)))


def train_score_net(net: ScoreNet, data: torch.Tensor, kind: str, dims: tuple[int, int],
                    settings: TrainSettings, *, sde: VPSDE, sampler: TimeSampler,
                    generators: list[torch.Generator], progress: bool = True,
                    log_every: int = 100, desc: str = "train",
                    group_size: int | None = None) -> TrainResult:
    """Train ``net`` (K models) on data with the masks of ``kind``; returns EMA weights.

    data is (n, D), one data set shared by all K models, or (K, n, D), model k training on
    data[k] (same n for all); either way model k's draws come from generators[k] only, so it
    ends with the weights of a K = 1 run on its data with its generator (to float tolerance).
    Models are trained in groups of ``group_size`` (default ``default_group_size``), each group
    as one batched computation; model k's result does not depend on the grouping. The trained
    (non-EMA) weights are written back into ``net.params``; the EMA weights, used for estimation,
    are returned as {name: (K, *shape)}; losses are (steps, K) (weighted noise-matching loss).
    """
    k = net.n_models
    if len(generators) != k:
        raise ValueError(f"need one generator per model: {k} models, {len(generators)} generators")
    if data.dim() not in (2, 3) or (data.dim() == 3 and data.shape[0] != k):
        raise ValueError(f"data must be (n, D) or (K, n, D) with K = {k} models, "
                         f"got shape {tuple(data.shape)}")
    g = group_size or default_group_size(k, settings.batch_size, net.hidden, data.device)
    losses = torch.empty(settings.steps, k, device=data.device)
    start = time.perf_counter()
    bar = tqdm(total=settings.steps * math.ceil(k / g), desc=desc, unit="step",
               disable=not progress, leave=False)
    emas = []
    try:
        for lo in range(0, k, g):
            emas.append(_train_group(net, data, kind, dims, settings, slice(lo, min(k, lo + g)),
                                     losses, sde, sampler, generators, bar, log_every))
    finally:
        bar.close()
    ema = {n: torch.cat([e[n] for e in emas]) for n in emas[0]}
    return TrainResult(ema, losses.cpu(), time.perf_counter() - start)


def _train_group(net: ScoreNet, data: torch.Tensor, kind: str, dims: tuple[int, int],
                 settings: TrainSettings, models: slice, losses: torch.Tensor, sde: VPSDE,
                 sampler: TimeSampler, generators: list[torch.Generator], bar: tqdm,
                 log_every: int) -> dict[str, torch.Tensor]:
    """Train models[lo:hi] of ``net`` as one batched computation; returns their EMA weights.

    data: (n, D) shared, or (K, n, D) for all K models of ``net`` (this group uses data[models]).
    """
    gens, batch = generators[models], settings.batch_size
    if data.dim() == 3:
        data = data[models]
    table = MaskTable.for_kind(kind, dims, device=data.device)
    c = _chunk_size(len(gens), batch, data.shape[-1], len(dims))

    def next_chunk(step: int) -> _Chunk:
        return _make_chunk(data, min(c, settings.steps - step), batch, table, sde, sampler, gens)

    fp = _FlatParams({n: p[models] for n, p in net.params.items()})
    ema = _train_loop(net, fp, next_chunk, settings, losses[:, models], bar, log_every,
                      models.start)
    with torch.no_grad():
        for name, view in fp.views(fp.flat).items():
            net.params[name][models] = view
    return {n: v.contiguous() for n, v in fp.views(ema).items()}
