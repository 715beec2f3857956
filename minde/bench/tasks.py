"""Benchmark tasks (docs/method.md §8) and the high-MI family (docs/method.md §10): ids, ground truth, cached samples.

Every task is a bmi ``Task`` (package ``benchmark-mi==0.1.3``). ``bmi`` and ``jax`` are imported
lazily, inside functions, so ``import minde.bench.tasks`` stays light; sampling runs on jax's CPU
device (:func:`jax_cpu`) without changing the process's jax settings.

High-MI family (docs/method.md §10): ``highmi-{transform}-{dim_x}-{dim_y}-s{strength}`` with transform in
``sparse`` (untransformed), ``half_cube`` or ``spiral``; the base task is bmi's
``task_multinormal_sparse(dim_x, dim_y, n_interacting=2, strength=s)``. Its covariance has
correlation rho = s²/(1+s²) on each of the 2 interacting pairs, so each pair carries
-½·log(1-rho²) and the whole task carries MI(s) = -log(1-rho²) nats: docs/method.md §10's list
(s = 2 → 1.02, 5 → 2.58, 10 → 3.93, 20 → 5.30, 50 → 7.13, 100 → 8.52) is the MI of the whole
task, not of one pair. The truth reported here is bmi's ``mutual_information`` (it equals that
formula to 1e-12; the transforms are injective per variable and leave MI unchanged).
"""
from __future__ import annotations

import difflib
import functools
import hashlib
import os
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from minde._io import atomic_write, cache_root

__all__ = [
    "TaskInfo",
    "HIGHMI_STRENGTHS",
    "HIGHMI_TRANSFORMS",
    "list_tasks",
    "get_task",
    "sample",
    "default_cache_dir",
    "import_bmi",
    "jax_cpu",
]

HIGHMI_STRENGTHS: tuple[float, ...] = (2.0, 5.0, 10.0, 20.0, 50.0, 100.0)  # docs/method.md §10 sweep of s
HIGHMI_TRANSFORMS: tuple[str, ...] = ("sparse", "half_cube", "spiral")  # columns (a), (b), (c)
_HIGHMI_DIMS: tuple[int, int] = (5, 5)  # default (dim_x, dim_y) of the listed high-MI tasks
_HIGHMI_RE = re.compile(r"^highmi-(sparse|half_cube|spiral)-(\d+)-(\d+)-s([0-9]+(?:\.[0-9]+)?)$")
_CACHE_FORMAT = 1  # bump when the cache file layout changes

Group = Literal["all", "benchmark", "highmi"]


@dataclass(frozen=True)
class TaskInfo:
    """One task's identity and ground truth (docs/method.md §8, §10)."""

    id: str  # task id: a bmi BENCHMARK_TASKS key or highmi-{transform}-{dx}-{dy}-s{s}
    dim_x: int  # dimension of X
    dim_y: int  # dimension of Y
    mi: float  # ground-truth mutual information I(X; Y), nats (bmi's value)
    family: str  # "benchmark" (the 40 tasks of §2.1) or "highmi" (§2.3)
    transform: str | None = None  # high-MI only: "sparse" | "half_cube" | "spiral"
    strength: float | None = None  # high-MI only: bmi's sparse-multinormal strength s


def import_bmi() -> Any:
    """Import bmi (and so jax) lazily; returns the bmi module (docs/method.md §8).

    The process's jax settings are left as they are: bmi's computations run on the CPU through
    :func:`jax_cpu`, not by setting ``JAX_PLATFORMS`` (set it yourself, e.g. ``JAX_PLATFORMS=cpu``,
    to keep a CUDA build of jaxlib from initialising the GPU).
    """
    import bmi  # noqa: F401  (the package `benchmark-mi`, never the PyPI `bmi`)
    import bmi.benchmark

    return bmi


@contextmanager
def jax_cpu() -> Iterator[None]:
    """Run the jax code inside on the CPU (bmi's samplers and critics), whatever jax's default
    device is, so samples and baselines are the same with or without an accelerator."""
    import jax

    with jax.default_device(jax.devices("cpu")[0]):
        yield


def _highmi_id(transform: str, dim_x: int, dim_y: int, strength: float) -> str:
    """Canonical high-MI task id (docs/method.md §10)."""
    return f"highmi-{transform}-{dim_x}-{dim_y}-s{strength:g}"


def _default_highmi_ids() -> list[str]:
    """The listed high-MI ids: 3 transforms x 6 strengths at 5 x 5 (docs/method.md §10)."""
    dx, dy = _HIGHMI_DIMS
    return [_highmi_id(t, dx, dy, s) for t in HIGHMI_TRANSFORMS for s in HIGHMI_STRENGTHS]


@functools.lru_cache(maxsize=None)
def _benchmark_ids() -> tuple[str, ...]:
    """The 40 ids of bmi.benchmark.BENCHMARK_TASKS in bmi's order (docs/method.md §8)."""
    bmi = import_bmi()
    return tuple(bmi.benchmark.BENCHMARK_TASKS)


def _unknown(task_id: str, reason: str = "unknown task id") -> ValueError:
    """ValueError naming the closest valid ids (docs/method.md §8)."""
    valid = list(_benchmark_ids()) + _default_highmi_ids()
    close = difflib.get_close_matches(task_id, valid, n=5, cutoff=0.5)
    hint = f"; closest valid ids: {', '.join(close)}" if close else ""
    return ValueError(f"{reason}: {task_id!r}{hint} (see minde.bench.tasks.list_tasks())")


@functools.lru_cache(maxsize=None)
def _bmi_task(task_id: str) -> Any:
    """Build (once) the bmi Task behind an id (docs/method.md §8, §10)."""
    if not isinstance(task_id, str):
        raise TypeError(f"task_id must be a str, got {type(task_id).__name__}")
    bmi = import_bmi()
    if task_id in bmi.benchmark.BENCHMARK_TASKS:
        return bmi.benchmark.BENCHMARK_TASKS[task_id]
    match = _HIGHMI_RE.match(task_id)
    if match is None:
        raise _unknown(task_id)
    transform, dx, dy, s = match.group(1), int(match.group(2)), int(match.group(3)), float(match.group(4))
    if _highmi_id(transform, dx, dy, s) != task_id:
        raise _unknown(task_id, "non-canonical high-MI id")
    if dx < 2 or dy < 2 or s <= 0 or (transform == "spiral" and dy < 3):
        raise _unknown(task_id, "high-MI id needs dims >= 2 (spiral: dim_y >= 3) and s > 0")
    from bmi.benchmark import tasks as btasks

    base = btasks.task_multinormal_sparse(dx, dy, n_interacting=2, strength=s)
    if transform == "half_cube":
        return btasks.transform_half_cube_task(base)
    if transform == "spiral":
        return btasks.transform_spiral_task(base)
    return base


def get_task(task_id: str) -> TaskInfo:
    """Dims and ground-truth MI (nats) of one task id (docs/method.md §8, §10); unknown id → ValueError."""
    task = _bmi_task(task_id)
    match = _HIGHMI_RE.match(task_id)
    family = "highmi" if match else "benchmark"
    return TaskInfo(
        id=task_id,
        dim_x=int(task.dim_x),
        dim_y=int(task.dim_y),
        mi=float(task.mutual_information),
        family=family,
        transform=match.group(1) if match else None,
        strength=float(match.group(4)) if match else None,
    )


def list_tasks(group: Group = "all") -> list[TaskInfo]:
    """Tasks of a group: "benchmark" (40, bmi's order), "highmi" (18 at 5 x 5) or "all" (docs/method.md §8, §10)."""
    if group not in ("all", "benchmark", "highmi"):
        raise ValueError(f"group must be 'all', 'benchmark' or 'highmi', got {group!r}")
    ids: list[str] = []
    if group in ("all", "benchmark"):
        ids += list(_benchmark_ids())
    if group in ("all", "highmi"):
        ids += _default_highmi_ids()
    return [get_task(i) for i in ids]


def default_cache_dir() -> Path:
    """Sample cache folder: $MINDE_CACHE_DIR, else ``<project root>/data/cache``."""
    return cache_root()


def _check_int(name: str, value: Any, minimum: int) -> int:
    """Validate an integer argument (bool rejected) against a lower bound (docs/method.md §8)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an int, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def _checksum(x: np.ndarray, y: np.ndarray, key: str) -> str:
    """SHA-256 over the cache key, shapes, dtypes and bytes of both arrays (docs/method.md §8)."""
    h = hashlib.sha256()
    h.update(f"{key}|{x.shape}|{x.dtype}|{y.shape}|{y.dtype}|".encode())
    h.update(np.ascontiguousarray(x).tobytes())
    h.update(np.ascontiguousarray(y).tobytes())
    return h.hexdigest()


def _cache_path(cache_dir: Path, task_id: str, n: int, seed: int) -> Path:
    """Cache file of one (task, n, seed) draw (docs/method.md §8)."""
    return cache_dir / task_id / f"n{n}-seed{seed}.npz"


def _cache_key(task_id: str, n: int, seed: int) -> str:
    """String identity of one cached draw, folded into its checksum (docs/method.md §8)."""
    return f"v{_CACHE_FORMAT}|{task_id}|n={n}|seed={seed}"


def _load_cached(
    path: Path, key: str, shape_x: tuple[int, int], shape_y: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray] | None:
    """Load and verify a cached draw; None, with a warning naming the file, if corrupt (docs/method.md §8)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            x, y = data["x"], data["y"]
            stored_key, stored_sum = str(data["key"]), str(data["sha256"])
        problems = []
        if stored_key != key:
            problems.append(f"key {stored_key!r} != {key!r}")
        if x.shape != shape_x or y.shape != shape_y or x.dtype != np.float32 or y.dtype != np.float32:
            problems.append(f"shapes/dtypes {x.shape} {x.dtype}, {y.shape} {y.dtype}")
        if not problems and _checksum(x, y, key) != stored_sum:
            problems.append("SHA-256 checksum mismatch")
        if not problems:
            return x, y
        reason = "; ".join(problems)
    except Exception as exc:  # truncated zip, missing member, bad header, ...
        reason = f"{type(exc).__name__}: {exc}"
    warnings.warn(f"corrupted sample cache file {path} ({reason}); regenerating it", RuntimeWarning, stacklevel=3)
    return None


def _save_atomic(path: Path, x: np.ndarray, y: np.ndarray, key: str) -> None:
    """Write a draw as .npz with its checksum: atomically (``minde._io.atomic_write``)."""
    atomic_write(path, lambda fh: np.savez(fh, x=x, y=y, key=np.array(key),
                                           sha256=np.array(_checksum(x, y, key))))


def _draw(task_id: str, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """One draw of n points from the bmi task, as float32 (n, dim) arrays (docs/method.md §8)."""
    with jax_cpu():
        x, y = _bmi_task(task_id).sample(n, seed)
    x, y = np.asarray(x, np.float32), np.asarray(y, np.float32)
    x, y = x.reshape(n, -1), y.reshape(n, -1)
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise RuntimeError(f"task {task_id!r} produced non-finite samples (n={n}, seed={seed})")
    return x, y


def sample(
    task_id: str,
    n_train: int,
    n_test: int,
    seed: int,
    cache_dir: str | os.PathLike | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Draw n_train + n_test points once with seed, split, cache on disk (docs/method.md §8).

    A smaller sample is not a prefix of a larger one in bmi, so the whole draw of
    n = n_train + n_test points is cached, keyed by (task, n, seed); the first n_train rows are the
    training split. The cache file holds a SHA-256 checksum; a corrupted or truncated file is
    reported with ``warnings.warn`` (naming the path) and regenerated.

    Args:
        task_id: an id of ``list_tasks()`` (or any canonical high-MI id).
        n_train, n_test: positive sizes of the two splits.
        seed: integer >= 0 passed to bmi's ``task.sample(n, seed)``.
        cache_dir: folder of the cache; default ``default_cache_dir()``.

    Returns:
        x_train: (n_train, dim_x), y_train: (n_train, dim_y), x_test: (n_test, dim_x),
        y_test: (n_test, dim_y), all float32 numpy arrays.
    """
    n_train = _check_int("n_train", n_train, 1)
    n_test = _check_int("n_test", n_test, 1)
    seed = _check_int("seed", seed, 0)
    info = get_task(task_id)  # validates the id before touching the disk
    n = n_train + n_test
    key = _cache_key(task_id, n, seed)
    path = _cache_path(Path(cache_dir) if cache_dir is not None else default_cache_dir(), task_id, n, seed)
    cached = None
    if path.exists():
        cached = _load_cached(path, key, (n, info.dim_x), (n, info.dim_y))
    if cached is None:
        cached = _draw(task_id, n, seed)
        _save_atomic(path, cached[0], cached[1], key)
    x, y = cached
    return x[:n_train], y[:n_train], x[n_train:], y[n_train:]
