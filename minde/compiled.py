"""The training step's loss, compiled with ``torch.compile`` when that pays (beyond the paper;
docs/performance.md); ``CompiledOrEager`` also serves the DoE baseline's step (docs/method.md §9).

At the network sizes MINDE uses, an eager training step is dominated by per-operation dispatch,
not arithmetic: inductor fuses the forward and backward into a few kernels (C++ on a CPU, Triton
on a GPU): on a CPU it trains 1.2-1.6 times as fast. Compiling a shape costs tens of seconds the first time
(seconds with a warm cache), so ``resolve_compile`` compiles by default only runs of at least
``COMPILE_MIN_STEPS`` steps. The compiled code is cached on disk by inductor under
``<cache>/inductor`` (``minde._io.cache_root``; ``$TORCHINDUCTOR_CACHE_DIR`` wins), so a sweep
compiles each shape once. ``$MINDE_COMPILE=0`` or ``compile=False`` trains eagerly; when no C++
compiler is found, or compilation fails, training falls back to eager with a warning.

Compiled and eager steps agree to float rounding (about 1e-7 relative per step; training
amplifies it like any change of kernels), so a compiled run is not bit-identical to an eager one;
a run resumed from a checkpoint compiles the same kernels and stays bit-identical.
"""
from __future__ import annotations

import os
import shutil
import warnings
from collections.abc import Callable
from typing import Any

import torch

from .network import Params, forward_cb

__all__ = ["COMPILE_ENV", "COMPILE_MIN_STEPS", "resolve_compile", "step_loss", "loss_function",
           "CompileWarning", "CompiledOrEager"]

COMPILE_ENV = "MINDE_COMPILE"  # "0" / "1": off / on whatever the run length
COMPILE_MIN_STEPS = 2_000  # by default, runs shorter than this train eagerly (compiling costs more)
_RECOMPILE_LIMIT = 64  # shapes compiled per process before torch falls back to eager


class CompileWarning(UserWarning):
    """Training was asked to compile but runs eagerly (no compiler, or compilation failed)."""


def step_loss(params: Params, z: torch.Tensor, t: torch.Tensor, eps: torch.Tensor,
              weights: torch.Tensor, hidden: int, batch: int) -> torch.Tensor:
    """Per-model weighted noise-matching loss (K,) of one training step (docs/method.md §5)."""
    pred = forward_cb(params, z, t, hidden)
    return ((pred - eps).square() * weights).sum((1, 2)) / batch


_COMPILED: dict[Callable[..., Any], Callable[..., Any]] = {}  # function -> torch.compile of it, per process


def _has_compiler(device: torch.device) -> bool:
    """Whether inductor can build kernels here: a C++ compiler on a CPU (Triton ships with CUDA)."""
    if device.type != "cpu":
        return device.type == "cuda"
    return shutil.which(os.environ.get("CXX", "g++")) is not None or shutil.which("c++") is not None


def resolve_compile(compile: bool | None, steps: int, device: torch.device) -> bool:
    """Whether to compile a run of ``steps`` steps: ``compile``, else $MINDE_COMPILE, else
    ``steps >= COMPILE_MIN_STEPS``; False (with a ``CompileWarning``) where nothing can compile."""
    if compile is None:
        env = os.environ.get(COMPILE_ENV, "").strip()
        if env not in ("", "0", "1"):
            raise ValueError(f"${COMPILE_ENV} must be 0 or 1, got {env!r}")
        compile = (env == "1") if env else steps >= COMPILE_MIN_STEPS
    if compile and not _has_compiler(device):
        warnings.warn(f"no C++ compiler found (${{CXX}} or g++): training runs eagerly, about half as "
                      f"fast; install gcc or set {COMPILE_ENV}=0 to silence this", CompileWarning, stacklevel=3)
        return False
    return bool(compile)


def _configure() -> None:
    """Inductor's on-disk cache under the project's cache folder, and room for many shapes."""
    if "TORCHINDUCTOR_CACHE_DIR" not in os.environ:
        from ._io import cache_root
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(cache_root() / "inductor")
    import torch._dynamo.config as dynamo_config
    for name in ("recompile_limit", "cache_size_limit"):
        if hasattr(dynamo_config, name):
            setattr(dynamo_config, name, max(getattr(dynamo_config, name), _RECOMPILE_LIMIT))


class CompiledOrEager:
    """``fn`` run through ``torch.compile`` (compiled once per process, on first use) when
    ``compile``, else eagerly. If the first compiled call fails, that call and every later one run
    ``fn`` eagerly, with a ``CompileWarning`` that names ``what`` runs eagerly; ``compiled`` then
    reads False. One instance serves one run (a MINDE training, a DoE fit)."""

    def __init__(self, fn: Callable[..., Any], compile: bool, what: str) -> None:
        self.fn, self.compiled, self.what, self._tried = fn, compile, what, False
        if compile and fn not in _COMPILED:
            _configure()
            _COMPILED[fn] = torch.compile(fn, dynamic=False)

    def __call__(self, *args: Any) -> Any:
        if not self.compiled:
            return self.fn(*args)
        if self._tried:
            return _COMPILED[self.fn](*args)
        self._tried = True
        try:
            return _COMPILED[self.fn](*args)
        except Exception as exc:  # noqa: BLE001 - any compiler failure: run eagerly instead
            first = (str(exc).splitlines() or [""])[0][:200]
            warnings.warn(f"torch.compile failed ({type(exc).__name__}: {first}); {self.what} runs eagerly",
                          CompileWarning, stacklevel=2)
            self.compiled = False
            return self.fn(*args)


class _Loss(CompiledOrEager):
    """``step_loss`` of one run with its network width and batch size bound: f(params, z, t, eps,
    weights)."""

    def __init__(self, compile: bool, hidden: int, batch: int) -> None:
        super().__init__(step_loss, compile, "training")
        self.hidden, self.batch = hidden, batch

    def __call__(self, p: Params, z: torch.Tensor, t: torch.Tensor, e: torch.Tensor,  # type: ignore[override]
                 w: torch.Tensor) -> torch.Tensor:
        return super().__call__(p, z, t, e, w, self.hidden, self.batch)


def loss_function(compile: bool, hidden: int, batch: int) -> _Loss:
    """``step_loss`` for one run, f(params, z, t, eps, weights), compiled or eager.

    If the first compiled call fails to compile, it and every later call run eagerly, with a
    ``CompileWarning``; the function's ``compiled`` attribute then reads False.
    """
    return _Loss(compile, hidden, batch)
