"""Time and disk per training checkpoint at hidden 64 and 256 (docs/method.md §7), in one run.

    PYTHONPATH=$PWD python benchmarks/checkpoint_overhead.py [--steps 600] [--dir DIR]

One model (K = 1), kind "c", the hidden width rule's typical tasks: hidden 64 / batch 128 at
D = 2 (1v1) and hidden 256 / batch 256 at D = 100 (50 x 50). Training runs with a checkpoint at
every chunk boundary (``checkpoint_every=1``) and every write is timed: serialising the state,
its SHA-256, writing, fsync and the rename. A checkpoint holds the weights, the EMA, Adam's two
moments (4 copies of the parameters) and the losses so far (4 bytes per step and model), so
the last column adds those losses at the paper budget's last step.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch
from _timing import load

from minde import training
from minde.checkpoint import Checkpoint, save_state
from minde.config import TrainSettings
from minde.importance import make_sampler
from minde.network import ScoreNet
from minde.sde import VPSDE
from minde.utils import configure_threads, make_generator

CONFIGS = ((64, 128, 2, 391_000), (256, 256, 100, 293_250))  # hidden, batch, D, paper steps


def measure(hidden: int, batch: int, dim: int, steps: int, folder: Path) -> tuple[list[float], list[int], int]:
    """Train ``steps`` steps checkpointing at every chunk; returns (seconds, bytes) per write, params."""
    times, sizes = [], []

    def timed(path, state, header):
        t0 = time.perf_counter()
        n = save_state(path, state, header)
        times.append(time.perf_counter() - t0)
        sizes.append(n)
        return n

    training.save_state = timed
    try:
        configure_threads(None)
        data = torch.randn(10_000, dim, generator=torch.Generator().manual_seed(0))
        net = ScoreNet(dim, 2, hidden, 1, seeds=[0])
        sde = VPSDE()
        training.train_score_net(
            net, data, "c", (dim // 2, dim - dim // 2), TrainSettings(steps, batch, 1e-3, 0.999, 1),
            sde=sde, sampler=make_sampler(True, sde), generators=[make_generator(0, 1, data.device)],
            progress=False, checkpoint=Checkpoint(folder / f"h{hidden}.pt", every_steps=1))
    finally:
        training.save_state = save_state
    return times, sizes, sum(p.numel() for p in net.params.values())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=600, help="training steps per configuration")
    ap.add_argument("--dir", default=None, help="folder for the checkpoint files (default: a temp dir)")
    args = ap.parse_args()
    folder = Path(args.dir or tempfile.mkdtemp(prefix="minde-ckpt-"))
    print(f"# checkpoint_overhead: K = 1, {args.steps} steps, files in {folder}; {load()}")
    print(f"{'hidden':>6} {'D':>4} {'params':>8} {'writes':>6} {'ms/ckpt':>8} {'MB/ckpt':>8} "
          f"{'MB at paper end':>15}")
    for hidden, batch, dim, paper_steps in CONFIGS:
        times, sizes, params = measure(hidden, batch, dim, args.steps, folder)
        mid = [s for s in sizes[:-1]] or sizes  # writes during training (the last is the end state)
        at_end = max(mid) + 4 * (paper_steps - args.steps)
        print(f"{hidden:>6} {dim:>4} {params:>8} {len(times):>6} {1e3 * statistics.median(times):>8.1f} "
              f"{max(mid) / 1e6:>8.2f} {at_end / 1e6:>15.2f}", flush=True)
    print(f"# {load()}")


if __name__ == "__main__":
    main()
