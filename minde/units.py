"""One sweep unit, (task, method, n_train, seed), and the code that runs it (SPEC §2.1, §2.5).

``run_group`` is what a Dask worker executes: it needs only the ``minde`` package, returns the
records to the caller and writes nothing, so workers need no shared filesystem.
"""
from __future__ import annotations

import math
import time
import traceback
from dataclasses import dataclass
from typing import Any

from .results import UnitKey, UnitRecord, environment, method_variants, utc_now

__all__ = ["Unit", "MINDE_METHODS", "run_unit", "run_group", "group_units", "failed_record"]

MINDE_METHODS = ("minde_c", "minde_j")


@dataclass(frozen=True)
class Unit:
    """One unit of a sweep: a method on one task at one training size and seed."""

    task: str  # task id (minde.tasks)
    method: str  # minde_c | minde_j | a baseline of minde.baselines.BASELINES
    n_train: int  # training-set size
    n_test: int  # test-set size
    seed: int  # data seed = initialisation seed
    budget: str  # smoke | quick | paper
    truth: float | None = None  # ground-truth MI in nats, if known

    @property
    def key(self) -> UnitKey:
        """The unit key (task, method, n_train, seed)."""
        return (self.task, self.method, self.n_train, self.seed)

    def label(self) -> str:
        """Short human-readable name."""
        return f"{self.task} {self.method} n={self.n_train} seed={self.seed}"


def _blank_record(unit: Unit) -> UnitRecord:
    """A record for ``unit`` stamped with provenance, before any result."""
    env = environment()
    return UnitRecord(task=unit.task, method=unit.method, n_train=unit.n_train,
                      n_test=unit.n_test, seed=unit.seed, budget=unit.budget, truth=unit.truth,
                      versions=env["versions"], git_rev=env["git_rev"], host=env["host"],
                      timestamp=utc_now())


def failed_record(unit: Unit, exc: BaseException, seconds: float = 0.0) -> UnitRecord:
    """A ``failed`` record carrying the error text (and the divergence step, if any)."""
    rec = _blank_record(unit)
    rec.status, rec.seconds = "failed", float(seconds)
    rec.error, rec.error_type = f"{type(exc).__name__}: {exc}", type(exc).__name__
    step = getattr(exc, "step", None)
    rec.diverged_step = int(step) if isinstance(step, int) else None
    tb = traceback.format_exception(type(exc), exc, exc.__traceback__)
    rec.extra["traceback"] = "".join(tb)[-4000:]
    return rec


def _run_minde(unit: Unit, data: tuple) -> tuple[dict[str, float], dict[str, Any]]:
    """Train one MINDE model (kind from the method name) and estimate both variants."""
    from .api import MINDE

    x_tr, y_tr, x_te, y_te = data
    model = MINDE(unit.method[-1], budget=unit.budget, seed=unit.seed, progress=False)
    est = model.fit(x_tr, y_tr).estimate(x_te, y_te)
    extra = {"mi_stderr": est.mi_stderr, "mi_sigma_stderr": est.mi_sigma_stderr,
             "entropies": est.entropies, "settings": dict(est.settings),
             "train_seconds": est.train_seconds, "estimate_seconds": est.estimate_seconds,
             "device": str(model.device)}
    return dict(est.variants), extra


def _run_baseline(unit: Unit, data: tuple) -> tuple[dict[str, float], dict[str, Any]]:
    """Run one baseline estimator of ``minde.baselines``."""
    from .baselines import estimate_baseline

    res = estimate_baseline(unit.method, *data, budget=unit.budget, seed=unit.seed)
    return {unit.method: float(res.estimate)}, {"method_seconds": float(res.seconds),
                                                 "device": "cpu"}


def run_unit(unit: Unit) -> UnitRecord:
    """Sample the task's data (seed = unit seed), run the method; never raises on a unit error."""
    start = time.perf_counter()
    try:
        from .tasks import sample

        data = sample(unit.task, unit.n_train, unit.n_test, unit.seed)
        runner = _run_minde if unit.method in MINDE_METHODS else _run_baseline
        estimates, extra = runner(unit, data)
        bad = {k: v for k, v in estimates.items() if not math.isfinite(v)}
        if bad:
            raise FloatingPointError(f"non-finite estimate(s) {bad}")
        missing = set(method_variants(unit.method)) - set(estimates)
        if missing:
            raise RuntimeError(f"method returned no estimate for {sorted(missing)}")
    except Exception as exc:  # a failed unit is a result, not a crash (SPEC §2.5)
        return failed_record(unit, exc, time.perf_counter() - start)
    rec = _blank_record(unit)
    rec.estimates = {k: float(v) for k, v in estimates.items()}
    rec.extra, rec.seconds = {**extra, "worker": _worker_name()}, time.perf_counter() - start
    return rec


def _worker_name() -> str:
    """Name of the Dask worker running this code, or "" in-process."""
    try:
        from distributed import get_worker

        return str(get_worker().name)
    except (ImportError, ValueError):
        return ""


def group_units(units: list[Unit]) -> list[list[Unit]]:
    """Split units into groups that are run together (today: one unit per group).

    Hook for batched seeds: ``MINDE(seed=s0, n_seeds=K)`` trains models s0..s0+K-1 in one
    batched computation, but on *one* data set. A unit's data seed is its own seed, so units of
    one (task, method, n_train) share no data and must stay separate. A variant of the protocol
    that fixes the data seed (e.g. seed-only ablations) would group here, by (task, method,
    n_train, data seed), and ``run_group`` would fit once with ``n_seeds=len(group)`` and split
    ``mi_per_seed`` / ``mi_sigma_per_seed`` into one record per unit.
    """
    return [[u] for u in units]


def run_group(group: list[Unit]) -> list[UnitRecord]:
    """Run one group of units (see ``group_units``) and return one record per unit."""
    return [run_unit(u) for u in group]
