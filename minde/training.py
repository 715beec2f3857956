"""A plain training loop for K stacked score networks (SPEC §1.5, §1.7).

Randomness is drawn per model from that model's own generator, in chunks of steps, so that model
k of a K-batch sees exactly the data order, masks, t and noise of a single run with the same seed.
The step itself is a function of (parameters, pre-built batch): no host synchronisation except a
finiteness check every ``log_every`` steps.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import torch
from tqdm.auto import tqdm

from .config import TrainSettings
from .importance import TimeSampler
from .masks import MaskTable, build_inputs, loss_weights
from .network import ScoreNet
from .sde import VPSDE

__all__ = ["TrainResult", "TrainingDivergedError", "train_score_net"]


class TrainingDivergedError(RuntimeError):
    """The training loss became NaN or inf; ``step`` is the first bad step (0-based)."""

    def __init__(self, step: int, model: int, lr: float) -> None:
        self.step, self.model = step, model
        super().__init__(f"training diverged: loss became NaN/inf at step {step} (model {model}); "
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

    z_in: torch.Tensor  # (c, K, B, D)
    t_vec: torch.Tensor  # (c, K, B, V)
    eps: torch.Tensor  # (c, K, B, D)
    weights: torch.Tensor  # (c, K, 1, D)


def _make_chunk(data: torch.Tensor, c: int, batch: int, table: MaskTable, sde: VPSDE,
                sampler: TimeSampler, generators: list[torch.Generator]) -> _Chunk:
    """Draw indices, masks, t and eps for c steps, per model from its own generator."""
    n, d = data.shape
    dev = data.device
    idx, ts, eps, masks = [], [], [], []
    for g in generators:
        idx.append(torch.randint(n, (c, batch), generator=g, device=dev))
        ts.append(sampler.sample((c, batch), g, dev))
        eps.append(torch.randn(c, batch, d, generator=g, device=dev))
        masks.append(torch.multinomial(table.probs, c, replacement=True, generator=g))
    x0 = data[torch.stack(idx, 1)]
    t, noise = torch.stack(ts, 1), torch.stack(eps, 1)
    rows = table.gather(torch.stack(masks, 1))
    z_in, t_vec = build_inputs(x0, sde.perturb(x0, t, noise), t, rows)
    return _Chunk(z_in, t_vec, noise, loss_weights(rows))


def _chunk_size(k: int, batch: int, d: int, n_vars: int) -> int:
    """Steps per pre-built chunk: about 16 MB of float32 inputs, between 1 and 256."""
    per_step = k * batch * (2 * d + n_vars + 1)
    return max(1, min(256, (4 * 1024 * 1024) // max(per_step, 1)))


def _check_finite(losses: torch.Tensor, upto: int, lr: float) -> None:
    """Raise TrainingDivergedError at the first non-finite loss in losses[:upto]."""
    block = losses[:upto]
    if not bool(torch.isfinite(block).all()):
        bad = (~torch.isfinite(block)).nonzero()[0]
        raise TrainingDivergedError(int(bad[0]), int(bad[1]), lr)


def train_score_net(net: ScoreNet, data: torch.Tensor, kind: str, dims: tuple[int, int],
                    settings: TrainSettings, *, sde: VPSDE, sampler: TimeSampler,
                    generators: list[torch.Generator], progress: bool = True,
                    log_every: int = 100, desc: str = "train") -> TrainResult:
    """Train ``net`` (K models) on data (n, D) with the masks of ``kind``; returns EMA weights."""
    k, batch = net.n_models, settings.batch_size
    if len(generators) != k:
        raise ValueError(f"need one generator per model: {k} models, {len(generators)} generators")
    table = MaskTable.for_kind(kind, dims, device=data.device)
    params = list(net.parameters())
    opt = torch.optim.Adam(params, lr=settings.lr, fused=True)
    ema = [p.detach().clone() for p in params]
    losses = torch.empty(settings.steps, k, device=data.device)
    c = _chunk_size(k, batch, data.shape[1], len(dims))
    start, chunk, bar = time.perf_counter(), None, tqdm(
        total=settings.steps, desc=desc, unit="step", disable=not progress, leave=False)
    try:
        for step in range(settings.steps):
            if step % c == 0:
                chunk = _make_chunk(data, min(c, settings.steps - step), batch, table, sde,
                                    sampler, generators)
            j = step % c
            pred = net(chunk.z_in[j], chunk.t_vec[j])
            per_model = ((pred - chunk.eps[j]).square() * chunk.weights[j]).sum((1, 2)) / batch
            opt.zero_grad(set_to_none=True)
            per_model.sum().backward()
            opt.step()
            losses[step] = per_model.detach()
            decay = min(settings.ema_decay, (1.0 + step) / (10.0 + step))  # EMA warm-up
            with torch.no_grad():
                torch._foreach_lerp_(ema, [p.detach() for p in params], 1.0 - decay)
            if (step + 1) % log_every == 0 or step + 1 == settings.steps:
                _check_finite(losses, step + 1, settings.lr)
                bar.update(step + 1 - bar.n)
                bar.set_postfix(loss=f"{float(losses[max(0, step - log_every + 1):step + 1].mean()):.4f}")
    finally:
        bar.close()
    names = list(dict(net.named_parameters()).keys())
    ema_dict = {n.removeprefix("params."): e for n, e in zip(names, ema)}
    return TrainResult(ema_dict, losses.cpu(), time.perf_counter() - start)
