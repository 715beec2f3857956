"""A plain training loop for K stacked score networks (docs/method.md §5, §7).

Randomness is drawn per model from that model's own generator, in chunks of steps, so that model
k of a K-batch sees exactly the data order, masks, t and noise of a single run with the same seed.
The step itself is a function of (parameters, pre-built batch): no host synchronisation except a
finiteness check every ``log_every`` steps. All K models' parameters live in one flat buffer
(the autograd leaves are views of it), so that Adam and the EMA are single kernels per step.

With a ``Checkpoint`` the whole state (weights, EMA, Adam, step, generator states, losses) is
saved at chunk boundaries, where the generator states describe exactly the next chunk, so a
resumed run ends bit-identical to an uninterrupted one (docs/method.md §7).
"""
from __future__ import annotations

import datetime as _dt
import json
import math
import time
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import torch
from tqdm import tqdm

from ._io import sha256_hex
from .checkpoint import Checkpoint, CheckpointWarning, fingerprint, load_state, save_state
from .compiled import loss_function, resolve_compile
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
    """EMA weights used for estimation, per-step losses (steps, K) on the CPU, wall time.

    After a resume, ``resumed_from_step`` is the number of steps the checkpoint held (summed over
    the groups trained one after another) and ``seconds`` includes the earlier runs' time.
    """

    ema: dict[str, torch.Tensor]
    losses: torch.Tensor
    seconds: float
    resumed_from_step: int = 0
    compiled: bool = False  # the training step ran compiled (minde.compiled)


@dataclass
class _Chunk:
    """Pre-built network inputs and targets for ``c`` consecutive steps of K models."""

    z_in: torch.Tensor  # (c, K, D, B), channel-major for ScoreNet.forward_cb
    t_vec: torch.Tensor  # (c, K, V, B)
    eps: torch.Tensor  # (c, K, D, B)
    weights: torch.Tensor  # (c, K, D, 1)


def _epoch_rows(n: int, batch: int, start: int, c: int, gen: torch.Generator,
                device: torch.device) -> torch.Tensor:
    """(c, batch) row indices of steps start, ..., start + c - 1 in shuffled epochs.

    Epoch e visits a permutation of the n rows in n // batch batches (the last incomplete batch
    is dropped). The permutation depends only on e and the seed of the model's generator
    (``initial_seed``, kept by its saved state), not on the generator's position, so a resumed
    run and a model in a seed group draw the same rows as an uninterrupted lone run.
    """
    per_epoch = n // batch
    first, last = start // per_epoch, (start + c - 1) // per_epoch

    def visited(epoch: int) -> torch.Tensor:  # the rows epoch visits, in order
        g = torch.Generator().manual_seed((gen.initial_seed() * 1_000_033 + epoch * 7_907 + 1)
                                          % (2**63 - 1))
        return torch.randperm(n, generator=g)[:per_epoch * batch]

    # the epochs' visits back to back; step s's batch is the s-th run of `batch` rows in them
    flat = torch.cat([visited(e) for e in range(first, last + 1)])
    offset = (start - first * per_epoch) * batch
    return flat[offset:offset + c * batch].view(c, batch).to(device)


def _make_chunk(data: torch.Tensor, c: int, batch: int, table: MaskTable, sde: VPSDE,
                sampler: TimeSampler, generators: list[torch.Generator], start: int = 0,
                epochs: bool = False) -> _Chunk:
    """Draw indices, masks, t and eps for c steps, per model from its own generator.

    data: (n, D), shared by the models, or (K, n, D), model k drawing its rows from data[k];
    the draws are the same either way, so model k sees what a single run on its data sees.
    Rows are drawn with replacement, or with ``epochs`` in shuffled epochs (``_epoch_rows``, for
    the steps from ``start`` on).
    """
    n, d = data.shape[-2:]
    dev = data.device
    idx, ts, eps, masks = [], [], [], []
    for g in generators:
        idx.append(_epoch_rows(n, batch, start, c, g, dev) if epochs
                   else torch.randint(n, (c, batch), generator=g, device=dev))
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


def _chunk_size(batch: int, d: int, n_vars: int) -> int:
    """Steps per pre-built chunk: about 16 MB of float32 inputs per model, between 1 and 256.

    It depends on one model's sizes only, never on how many models share the chunk: a model
    draws its randomness chunk by chunk (indices for c steps, then t, eps and masks for c steps),
    so another c would give it other draws and a grouped model other results than a lone one.
    A group of K models therefore holds K times one model's chunk (K is capped on a CPU).
    """
    per_step = batch * (2 * d + n_vars + 1)
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
                losses: torch.Tensor, bar: tqdm, log_every: int, first_model: int,
                resume: dict[str, Any] | None = None, save=None, loss_fn=None) -> torch.Tensor:
    """Run the optimiser steps on ``fp.flat`` in place; returns the flat EMA buffer.

    losses: (steps, k) view into which this group's per-step losses go; ``first_model`` is the
    group's first model index, for error messages. ``resume``: {step, flat, ema, opt} of a
    checkpoint taken at a chunk boundary (``fp.flat`` is overwritten with its weights).
    ``save(step, ema, opt)`` is called at every chunk boundary after the first. ``loss_fn``: the
    step's loss, ``minde.compiled.loss_function`` (default: eager).
    """
    batch, leaves = settings.batch_size, list(fp.leaves.values())
    loss_fn = loss_fn or loss_function(False, net.hidden, batch)
    opt = torch.optim.Adam([fp.flat], lr=settings.lr, fused=True)
    lrs = lr_factors(settings)
    ema, start = fp.flat.clone(), 0
    if resume is not None:
        start = resume["step"]
        with torch.no_grad():
            fp.flat.copy_(resume["flat"])
            ema.copy_(resume["ema"])
        opt.load_state_dict(resume["opt"])
    chunk, j, logged = None, 0, start
    for step in range(start, settings.steps):
        if chunk is None or j == chunk.z_in.shape[0]:
            if save is not None and step > start:
                save(step, ema, opt)
            chunk, j = next_chunk(step), 0
        if lrs is not None:
            opt.param_groups[0]["lr"] = settings.lr * lrs[step]
        per_model = loss_fn(fp.leaves, chunk.z_in[j], chunk.t_vec[j], chunk.eps[j], chunk.weights[j])
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
                    group_size: int | None = None, checkpoint: Checkpoint | None = None,
                    role_probs: Sequence[float] | None = None, compile: bool | None = None) -> TrainResult:
    """Train ``net`` (K models) on data with the masks of ``kind``; returns EMA weights.

    data is (n, D), one data set shared by all K models, or (K, n, D), model k training on
    data[k] (same n for all); either way model k's draws come from generators[k] only, so it
    ends with the weights of a K = 1 run on its data with its generator (to float tolerance).
    Models are trained in groups of ``group_size`` (default ``default_group_size``), each group
    as one batched computation; model k's result does not depend on the grouping. The trained
    (non-EMA) weights are written back into ``net.params``; the EMA weights, used for estimation,
    are returned as {name: (K, *shape)}; losses are (steps, K) (weighted noise-matching loss).

    ``role_probs``: how often each of kind's masks is drawn, in ``KIND_MASKS``' order (default:
    ``KIND_MASKS``' probabilities).

    ``checkpoint``: save the whole training state there (atomically) when due, at chunk
    boundaries, and resume from it if it holds a run of this fingerprint (same code, settings,
    data, initial weights and generators); the result is then bit-identical to an
    uninterrupted run. The file is left in place when training ends (the caller deletes it).

    ``compile``: run the step through ``torch.compile`` (None: ``minde.compiled.resolve_compile``,
    i.e. $MINDE_COMPILE, else runs of at least ``COMPILE_MIN_STEPS`` steps).
    """
    k = net.n_models
    loss_fn = loss_function(resolve_compile(compile, settings.steps, data.device), net.hidden,
                            settings.batch_size)
    if len(generators) != k:
        raise ValueError(f"need one generator per model: {k} models, {len(generators)} generators")
    if data.dim() not in (2, 3) or (data.dim() == 3 and data.shape[0] != k):
        raise ValueError(f"data must be (n, D) or (K, n, D) with K = {k} models, "
                         f"got shape {tuple(data.shape)}")
    g = group_size or default_group_size(k, settings.batch_size, net.hidden, data.device)
    losses = torch.empty(settings.steps, k, device=data.device)
    table = MaskTable.for_kind(kind, dims, device=data.device, probs=role_probs)
    start = time.perf_counter()
    ckpt = None if checkpoint is None else _CheckpointRun(
        checkpoint, net, data, kind, table.probs.tolist(), dims, settings, sde, sampler,
        generators, g, losses, log_every)
    first, cur = ckpt.restore() if ckpt is not None else (0, None)
    done = ckpt.resumed_from_step if ckpt is not None else 0
    bar = tqdm(total=settings.steps * math.ceil(k / g), initial=done, desc=desc, unit="step",
               disable=not progress, leave=False)
    emas = [ckpt.done_ema] if ckpt is not None and ckpt.done_ema is not None else []
    try:
        for lo in range(first, k, g):
            models = slice(lo, min(k, lo + g))
            resume = cur if lo == first else None
            save = ckpt.saver(models, resume["step"] if resume else 0) if ckpt is not None else None
            emas.append(_train_group(net, data, table, dims, settings, models, losses, sde, sampler,
                                     generators, bar, log_every, resume, save, loss_fn))
            if ckpt is not None:
                ckpt.group_done(models.stop, emas)
    finally:
        bar.close()
    ema = {n: torch.cat([e[n] for e in emas]) for n in emas[0]}
    prior = ckpt.prior_seconds if ckpt is not None else 0.0
    return TrainResult(ema, losses.cpu(), prior + time.perf_counter() - start, done, loss_fn.compiled)


def _train_group(net: ScoreNet, data: torch.Tensor, table: MaskTable, dims: tuple[int, int],
                 settings: TrainSettings, models: slice, losses: torch.Tensor, sde: VPSDE,
                 sampler: TimeSampler, generators: list[torch.Generator], bar: tqdm,
                 log_every: int, resume: dict[str, Any] | None = None,
                 save=None, loss_fn=None) -> dict[str, torch.Tensor]:
    """Train models[lo:hi] of ``net`` as one batched computation; returns their EMA weights.

    data: (n, D) shared, or (K, n, D) for all K models of ``net`` (this group uses data[models]).
    table: the training masks and their probabilities. ``resume``, ``save`` and ``loss_fn``: see ``_train_loop``.
    """
    gens, batch = generators[models], settings.batch_size
    if data.dim() == 3:
        data = data[models]
    c = _chunk_size(batch, data.shape[-1], len(dims))

    def next_chunk(step: int) -> _Chunk:
        return _make_chunk(data, min(c, settings.steps - step), batch, table, sde, sampler, gens,
                           start=step, epochs=settings.batches == "epochs")

    fp = _FlatParams({n: p[models] for n, p in net.params.items()})
    ema = _train_loop(net, fp, next_chunk, settings, losses[:, models], bar, log_every,
                      models.start, resume, None if save is None else lambda s, e, o: save(s, fp, e, o),
                      loss_fn)
    with torch.no_grad():
        for name, view in fp.views(fp.flat).items():
            net.params[name][models] = view
    return {n: v.contiguous() for n, v in fp.views(ema).items()}


def _digest(t: torch.Tensor) -> str:
    """SHA-256 of a tensor's bytes (on the CPU)."""
    return sha256_hex(t.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())


class _CheckpointRun:
    """The checkpoint of one ``train_score_net`` call: what to restore and when to save.

    The saved state: ``group`` (first model of the group in progress; K when all are done),
    ``step`` (steps that group has done), the finished groups' weights and EMA, the group in
    progress' flat weights, EMA and Adam state, every generator's state, the losses so far and
    the training seconds so far; plus the fingerprint the run must match to be resumed.
    """

    def __init__(self, spec: Checkpoint, net: ScoreNet, data: torch.Tensor, kind: str,
                 role_probs: list[float], dims: tuple[int, int], settings: TrainSettings, sde: VPSDE, sampler: TimeSampler,
                 generators: list[torch.Generator], group_size: int, losses: torch.Tensor,
                 log_every: int) -> None:
        self.spec, self.net, self.gens, self.g, self.losses = spec, net, generators, group_size, losses
        self.steps, self.log_every, self.k = settings.steps, log_every, net.n_models
        self.fingerprint = fingerprint(
            kind=kind, role_probs=role_probs, dims=list(dims), models=net.n_models, hidden=net.hidden, dim=net.dim,
            n_vars=net.n_vars, settings=asdict(settings), group_size=group_size, sde=repr(sde),
            sampler=repr(sampler), data_shape=list(data.shape), data_dtype=str(data.dtype),
            data_sha256=_digest(data), device=data.device.type,
            init_sha256=_digest(torch.cat([p.detach().reshape(-1) for p in net.params.values()])),
            generators_sha256=_digest(torch.cat([gen.get_state() for gen in generators])),
            **spec.meta)
        self.started = time.perf_counter()
        self.last_time = time.monotonic()
        self.last_step = 0  # step of the group in progress at the last save (or start)
        self.resumed_from_step, self.prior_seconds = 0, 0.0
        self.done_ema: dict[str, torch.Tensor] | None = None
        self.saved = self.failed = False

    def _width(self, lo: int) -> int:
        """Models in the group starting at ``lo`` (0 past the last group)."""
        return max(0, min(self.k, lo + self.g) - lo)

    def _done_steps(self, first: int, step: int) -> int:
        """Steps done, summed over the groups trained one after another."""
        return math.ceil(first / self.g) * self.steps + step

    def restore(self) -> tuple[int, dict[str, Any] | None]:
        """Load the checkpoint if it is valid: returns (first group to train, its resume state)."""
        state = load_state(self.spec.path, self.fingerprint)
        if state is None:
            return 0, None
        try:
            first, step = self._check(state)
        except (KeyError, TypeError, ValueError, RuntimeError, AttributeError) as exc:
            warnings.warn(f"ignoring checkpoint {self.spec.path}: its state is inconsistent ({exc}); "
                          "training starts from step 0", CheckpointWarning, stacklevel=3)
            return 0, None
        dev = self.losses.device
        with torch.no_grad():
            for name, w in state["done_params"].items():
                self.net.params[name][:first] = w.to(dev)
            self.losses[:, :first] = state["losses_done"].to(dev)
            self.losses[:step, first:first + self._width(first)] = state["losses_cur"].to(dev)
        for gen, st in zip(self.gens, state["generators"]):
            gen.set_state(st)
        if first:
            self.done_ema = {n: w.to(dev) for n, w in state["done_ema"].items()}
        self.resumed_from_step = self._done_steps(first, step)
        self.prior_seconds = float(state["seconds"])
        self.saved = True
        if step == 0:
            return first, None
        cur = state["current"]
        return first, {"step": step, "flat": cur["flat"].to(dev), "ema": cur["ema"].to(dev),
                       "opt": cur["opt"]}

    def _check(self, state: dict[str, Any]) -> tuple[int, int]:
        """Validate the state's structure before anything is overwritten."""
        first, step = int(state["group"]), int(state["step"])
        if not (0 <= first <= self.k and (first % self.g == 0 or first == self.k)):
            raise ValueError(f"group {first} out of range")
        if not (0 <= step < self.steps) or (step and first == self.k):
            raise ValueError(f"step {step} out of range")
        if len(state["generators"]) != self.k:
            raise ValueError("wrong number of generator states")
        if first:
            for name, p in self.net.params.items():
                for part in ("done_params", "done_ema"):
                    if tuple(state[part][name].shape) != (first, *p.shape[1:]):
                        raise ValueError(f"{part}[{name}] has the wrong shape")
        if tuple(state["losses_done"].shape) != (self.steps, first):
            raise ValueError("losses of the finished groups have the wrong shape")
        if tuple(state["losses_cur"].shape) != (step, self._width(first)):
            raise ValueError("losses of the group in progress have the wrong shape")
        if step:
            cur = state["current"]
            size = sum(p[first:first + self._width(first)].numel() for p in self.net.params.values())
            if tuple(cur["flat"].shape) != (size + (-size % FLAT_ALIGN),) or cur["ema"].shape != cur["flat"].shape:
                raise ValueError("flat buffers of the group in progress have the wrong shape")
        return first, step

    def saver(self, models: slice, start: int):
        """``save(step, fp, ema, opt)`` for the group ``models`` resumed at ``start``: writes when due."""
        self.last_step = start

        def save(step: int, fp: _FlatParams, ema: torch.Tensor, opt: torch.optim.Optimizer) -> None:
            if self._due(step):
                cur = {"flat": fp.flat.detach().clone(), "ema": ema.clone(), "opt": opt.state_dict()}
                self._write(models.start, step, cur, self.losses[:step, models])

        return save

    def _due(self, step: int) -> bool:
        """Have ``every_steps`` steps or ``every_seconds`` seconds passed since the last save?"""
        every_s, every_t = self.spec.every_steps, self.spec.every_seconds
        return ((every_s is not None and step - self.last_step >= every_s)
                or (every_t is not None and time.monotonic() - self.last_time >= every_t))

    def group_done(self, stop: int, emas: list[dict[str, torch.Tensor]]) -> None:
        """After a group: save the finished state if due, or if this run has a checkpoint already."""
        self.done_ema = {n: torch.cat([e[n] for e in emas]) for n in emas[0]}
        if self.saved or self._due(self.steps):
            self._write(stop, 0, {}, self.losses[:0, stop:stop + self._width(stop)])

    def _write(self, first: int, step: int, cur: dict[str, Any], losses_cur: torch.Tensor) -> None:
        if self.failed:
            return
        seconds = self.prior_seconds + time.perf_counter() - self.started
        state = {
            "fingerprint": json.dumps(self.fingerprint, sort_keys=True), "group": first, "step": step,
            "done_params": {n: p.detach()[:first].clone() for n, p in self.net.params.items()} if first else {},
            "done_ema": {n: w[:first].clone() for n, w in self.done_ema.items()} if first else {},
            "current": cur, "losses_done": self.losses[:, :first].clone(),
            "losses_cur": losses_cur.clone(), "generators": [gen.get_state() for gen in self.gens],
            "seconds": seconds,
        }
        recent = losses_cur[-self.log_every:] if step else self.losses[-self.log_every:, :first]
        header = {"step": self._done_steps(first, step), "total": self._done_steps(self.k, 0),
                  "models": self.k, "loss": float(recent.mean()) if recent.numel() else None,
                  "saved": _utc_now(), "seconds": round(seconds, 3)}
        try:
            save_state(self.spec.path, state, header)
        except OSError as exc:  # disk full, no such folder on this machine: train on without
            warnings.warn(f"cannot write checkpoint {self.spec.path}: {exc}; training goes on "
                          "without checkpoints", CheckpointWarning, stacklevel=2)
            self.failed = True
            return
        self.saved, self.last_time, self.last_step = True, time.monotonic(), step


def _utc_now() -> str:
    """Current UTC time, ISO-8601 with seconds."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
