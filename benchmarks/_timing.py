"""Shared timing helpers for the speed benchmarks (docs/method.md §7). Not a test module."""
from __future__ import annotations

import os
import time

import torch

from minde.config import TrainSettings
from minde.importance import make_sampler
from minde.network import ScoreNet
from minde.sde import VPSDE
from minde.training import train_score_net
from minde.utils import configure_threads, make_generator

# (hidden, batch, D) of typical tasks: 1v1-like, 5x5, 50x50 (docs/method.md §6-§7 defaults)
CONFIGS = ((64, 128, 2), (128, 128, 10), (256, 256, 100))


def load() -> str:
    """The 1/5/15-minute load averages and the number of CPUs, for the printed header."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} CPUs"


def train_rate(k: int, hidden: int, batch: int, dim: int, steps: int, kind: str = "c",
               device: str = "cpu", group_size: int | None = None, compile: bool = False) -> float:
    """Steps per second of K models (one step updates all K), after a warm-up.

    group_size None: the default grouping of ``train_score_net``; K: all K in one batch.
    compile: the step through ``torch.compile`` (the warm-up compiles it; eager by default).
    """
    configure_threads(None)
    dev = torch.device(device)
    dims = (dim // 2, dim - dim // 2)
    data = torch.randn(10_000, dim, generator=torch.Generator().manual_seed(0)).to(dev)
    net = ScoreNet(dim, 2, hidden, k, seeds=list(range(k))).to(dev)
    sde = VPSDE()
    sampler = make_sampler(True, sde)
    gens = [make_generator(s, 1, dev) for s in range(k)]

    def run(n: int) -> float:
        st = TrainSettings(n, batch, 1e-3, 0.999, 1)
        r = train_score_net(net, data, kind, dims, st, sde=sde, sampler=sampler, generators=gens,
                            progress=False, group_size=group_size, compile=compile)
        if dev.type == "cuda":
            torch.cuda.synchronize()
        return r.seconds

    run(max(5, steps // 10))  # warm-up: allocator, MKL, first chunk
    return steps / run(steps)


def best_of(fn, repeats: int) -> float:
    """Largest of ``repeats`` rates: the least-disturbed measurement on a shared machine."""
    return max(fn() for _ in range(repeats))


def steps_for(hidden: int, k: int, seconds: float = 1.5) -> int:
    """A step count that takes roughly ``seconds`` on one free core (rough cost model)."""
    per_step = 2.5e-3 + 4e-3 * k * (hidden / 64) ** 2 / 8
    return max(20, int(seconds / per_step))


def now() -> float:
    """Wall clock in seconds."""
    return time.perf_counter()
