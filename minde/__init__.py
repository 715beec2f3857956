"""minde: mutual information and entropy estimation with score-based diffusion (MINDE, ICLR 2024).

Quick use::

    import minde
    r = minde.MINDE(kind="c", budget="quick").fit(x, y).estimate(x_test, y_test)
    r.mi, r.mi_sigma, r.entropies

The top level is the thin core the paper describes (see ``docs/method.md``): ``sde``,
``importance``, ``masks``, ``network``, ``estimators``, ``estimation``, ``training``, ``api``
(plus ``config`` and ``data``). It needs only torch and numpy. The reproduction lives beside it:
``minde.bench`` (tasks, baselines, closed forms), ``minde.repro`` (plans, sweeps, results,
runner) and ``minde.plots`` (figures and tables). Attributes are imported lazily (PEP 562), so
``import minde`` itself loads neither torch nor any dependency of the reproduction.
"""
from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> submodule that defines it
_EXPORTS = {
    "MINDE": "api", "MIEstimate": "api", "estimate_mi": "api", "cross_fit": "api", "KINDS": "api",
    "BUDGETS": "config", "Budget": "config", "get_budget": "config",
    "VPSDE": "sde", "ImportanceSampler": "importance", "UniformSampler": "importance",
    "make_sampler": "importance", "ScoreNet": "network", "TrainingDivergedError": "training",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str) -> Any:
    """Import the submodule that defines ``name`` on first use."""
    if name not in _EXPORTS:
        raise AttributeError(f"module 'minde' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
