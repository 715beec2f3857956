"""Small shared helpers: broadcasting, devices, threads, seeds (no maths here)."""
from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import torch

__all__ = ["append_dims", "resolve_device", "resolve_threads", "configure_threads", "torch_threads",
           "make_generator"]


def append_dims(x: torch.Tensor, target_ndim: int) -> torch.Tensor:
    """Append trailing singleton dims so per-sample coefficients broadcast (k-diffusion style)."""
    missing = target_ndim - x.ndim
    if missing < 0:
        raise ValueError(f"input has {x.ndim} dims but target_ndim is {target_ndim}, which is less")
    return x[(...,) + (None,) * missing]


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """Map "auto" to CUDA when available, else CPU; validate anything else."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError as exc:
        raise ValueError(f"unknown device {device!r}; use 'auto', 'cpu' or 'cuda[:N]'") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available; use 'auto' or 'cpu'")
    return dev


def resolve_threads(n_threads: int | None = None) -> int:
    """Torch intra-op threads to use: argument, else $MINDE_NUM_THREADS, else 1 (dispatch-bound MLPs)."""
    if n_threads is None:
        env = os.environ.get("MINDE_NUM_THREADS", "1")
        try:
            n_threads = int(env)
        except ValueError as exc:
            raise ValueError(f"MINDE_NUM_THREADS must be a positive integer, got {env!r}") from exc
    if n_threads < 1:
        raise ValueError(f"number of threads must be >= 1, got {n_threads}")
    return n_threads


def configure_threads(n_threads: int | None = None) -> int:
    """Set torch's intra-op threads for the whole process (:func:`resolve_threads`); for scripts."""
    n_threads = resolve_threads(n_threads)
    if torch.get_num_threads() != n_threads:
        torch.set_num_threads(n_threads)
    return n_threads


@contextmanager
def torch_threads(n_threads: int | None = None) -> Iterator[int]:
    """Torch's intra-op threads set to :func:`resolve_threads` inside, the caller's count restored after."""
    previous = torch.get_num_threads()
    n_threads = configure_threads(n_threads)
    try:
        yield n_threads
    finally:
        if torch.get_num_threads() != previous:
            torch.set_num_threads(previous)


def make_generator(seed: int, stream: int, device: torch.device) -> torch.Generator:
    """A torch generator for one (seed, stream) pair; streams separate init, training, estimation."""
    gen = torch.Generator(device=device)
    gen.manual_seed((int(seed) * 1_000_003 + int(stream) * 7_919) % (2**63 - 1))
    return gen
