"""One sweep unit, (task, method, n_train, seed), and the code that runs it (docs/method.md §8, §12).

MINDE units that differ only in their seed are grouped (``group_units``) and their models
trained in one batched computation, each on its own unit's data (``run_group``).

``run_group`` is what a Dask worker executes: it needs only the ``minde`` package and returns the
records to the caller, so workers need no shared filesystem. With ``Checkpointing`` a MINDE
unit (or seed group) saves its training state under the given folder while it trains
(docs/method.md §7) and resumes from it when rerun; the folder is an absolute path on the
machine that runs the sweep, so a worker that shares that filesystem resumes a unit rescheduled
after a crash, and one that does not finds no file and starts afresh.
"""
from __future__ import annotations

import math
import time
import traceback
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from minde.repro.results import UnitKey, UnitRecord, checkpoint_path, environment, method_variants, utc_now

__all__ = ["SweepArgumentError", "Unit", "EpochRule", "MINDE_METHODS", "DOE_METHODS", "run_unit", "run_group", "group_units", "max_group_size",
           "failed_record", "Checkpointing", "recipe_mismatch", "outdated_records"]

MINDE_METHODS = ("minde_c", "minde_j")
DOE_METHODS = ("doe_gauss", "doe_logistic")  # their records keep the fitting recipe (extra["settings"])


class SweepArgumentError(ValueError):
    """A sweep argument is invalid; the message names the bad value and the valid choices."""


@dataclass(frozen=True)
class Unit:
    """One unit of a sweep: a method on one task at one training size and seed."""

    task: str  # task id (minde.bench.tasks)
    method: str  # minde_c | minde_j | a baseline of minde.bench.baselines.BASELINES
    n_train: int  # training-set size
    n_test: int  # test-set size
    seed: int  # data seed = initialisation seed
    budget: str  # smoke | quick | paper
    truth: float | None = None  # ground-truth MI in nats, if known
    steps: int | None = None  # MINDE: optimiser steps set by the plan (EpochRule); None: the budget's

    @property
    def key(self) -> UnitKey:
        """The unit key (task, method, n_train, seed)."""
        return (self.task, self.method, self.n_train, self.seed)

    def label(self) -> str:
        """Short human-readable name."""
        return f"{self.task} {self.method} n={self.n_train} seed={self.seed}"


@dataclass(frozen=True)
class EpochRule:
    """Training steps that grow with the training size (docs/method.md §12): as many steps as
    show the model ``epochs`` x n_train rows, ceil(epochs x n_train / batch) with the batch of
    the budget's rule, at most ``cap``. A plan with this rule gives its MINDE units these steps
    instead of the budget's (the quick budget's are fixed, whatever the size)."""

    epochs: int
    cap: int | None = None

    def __post_init__(self) -> None:
        for name, v in (("epochs", self.epochs), ("cap", self.cap)):
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
                raise SweepArgumentError(f"--{name}: must be a positive integer, got {v!r}")

    def steps(self, task: str, method: str, n_train: int, budget: str) -> int | None:
        """The steps of a MINDE unit (None for a baseline)."""
        if method not in MINDE_METHODS:
            return None
        from minde.bench.tasks import get_task
        from minde.config import get_budget, resolve_settings

        batch = resolve_settings(get_budget(budget), get_task(task).dim_x, n_train, kind=method[-1]).batch_size
        steps = math.ceil(self.epochs * n_train / batch)
        return steps if self.cap is None else min(steps, self.cap)


@dataclass(frozen=True)
class Checkpointing:
    """Training checkpoints of MINDE units: folder (absolute) and how often (docs/method.md §7).

    A checkpoint is saved every ``every_steps`` steps or ``every_seconds`` seconds, whichever
    comes first (None: that criterion off), rounded up to the next chunk of pre-drawn steps.
    """

    folder: str
    every_steps: int | None = None
    every_seconds: float | None = 600.0

    def path(self, units: list[Unit]) -> Path:
        """The checkpoint file of one unit or of one seed group."""
        return checkpoint_path(self.folder, [u.key for u in units])

    def kwargs(self, units: list[Unit]) -> dict[str, Any]:
        """MINDE's checkpoint arguments for these units."""
        return {"checkpoint": self.path(units), "checkpoint_every": self.every_steps,
                "checkpoint_seconds": self.every_seconds}


def _blank_record(unit: Unit) -> UnitRecord:
    """A record for ``unit`` stamped with provenance, before any result."""
    env = environment()
    return UnitRecord(task=unit.task, method=unit.method, n_train=unit.n_train,
                      n_test=unit.n_test, seed=unit.seed, budget=unit.budget, truth=unit.truth,
                      versions=env["versions"], git_rev=env["git_rev"], host=env["host"],
                      machine=env["machine"], fingerprint=env["fingerprint"], timestamp=utc_now())


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


def _run_minde(unit: Unit, data: tuple, checkpoints: Checkpointing | None = None,
               progress: bool = False) -> tuple[dict[str, float], dict[str, Any]]:
    """Train one MINDE model (kind from the method name) and estimate both variants."""
    from minde.api import MINDE

    x_tr, y_tr, x_te, y_te = data
    ckpt = checkpoints.kwargs([unit]) if checkpoints is not None else {}
    model = MINDE(unit.method[-1], budget=unit.budget, seed=unit.seed, steps=unit.steps, progress=progress, **ckpt)
    est = model.fit(x_tr, y_tr).estimate(x_te, y_te)
    return dict(est.variants), _minde_extra(est)


def _minde_extra(est: Any) -> dict[str, Any]:
    """The ``extra`` of a MINDE unit's record from its ``MIEstimate``."""
    return {"mi_stderr": est.mi_stderr, "mi_sigma_stderr": est.mi_sigma_stderr,
            "entropies": est.entropies, "settings": dict(est.settings),
            "train_seconds": est.train_seconds, "estimate_seconds": est.estimate_seconds,
            "device": str(est.settings["device"]), "resumed_from_step": est.resumed_from_step}


def _run_baseline(unit: Unit, data: tuple) -> tuple[dict[str, float], dict[str, Any]]:
    """Run one baseline estimator of ``minde.bench.baselines``."""
    from minde.bench.baselines import doe_settings, estimate_baseline

    res = estimate_baseline(unit.method, *data, budget=unit.budget, seed=unit.seed)
    extra: dict[str, Any] = {"method_seconds": float(res.seconds), "device": "cpu"}
    if unit.method in DOE_METHODS:  # its fitting recipe, which recipe_mismatch checks
        extra["settings"] = doe_settings(unit.method, unit.budget)
    return {unit.method: float(res.estimate)}, extra


def run_unit(unit: Unit, checkpoints: Checkpointing | None = None, progress: bool = False) -> UnitRecord:
    """Sample the task's data (seed = unit seed), run the method; never raises on a unit error.

    ``checkpoints``: where a MINDE unit keeps its training checkpoint; ``progress``: show the
    training's progress bar.
    """
    start = time.perf_counter()
    try:
        from minde.bench.tasks import sample

        data = sample(unit.task, unit.n_train, unit.n_test, unit.seed)
        if unit.method in MINDE_METHODS:
            estimates, extra = _run_minde(unit, data, checkpoints, progress)
        else:
            estimates, extra = _run_baseline(unit, data)
        _check_estimates(unit, estimates)
    except Exception as exc:  # a failed unit is a result, not a crash (docs/method.md §12)
        return failed_record(unit, exc, time.perf_counter() - start)
    return _ok_record(unit, estimates, {**extra, "worker": _worker_name()}, time.perf_counter() - start)


def _ok_record(unit: Unit, estimates: dict[str, float], extra: dict[str, Any],
               seconds: float) -> UnitRecord:
    """The record of a unit that finished: its estimates (nats), extra details and seconds."""
    rec = _blank_record(unit)
    rec.estimates = {k: float(v) for k, v in estimates.items()}
    rec.extra, rec.seconds = extra, seconds
    rec.resumed_from_step = int(extra.get("resumed_from_step", 0))
    return rec


def _check_estimates(unit: Unit, estimates: dict[str, float]) -> None:
    """Raise if an estimate is non-finite or a variant of the unit's method is missing."""
    bad = {k: v for k, v in estimates.items() if not math.isfinite(v)}
    if bad:
        raise FloatingPointError(f"non-finite estimate(s) {bad}")
    missing = set(method_variants(unit.method)) - set(estimates)
    if missing:
        raise RuntimeError(f"method returned no estimate for {sorted(missing)}")


def _worker_name() -> str:
    """Name of the Dask worker running this code, or "" in-process."""
    try:
        from distributed import get_worker

        return str(get_worker().name)
    except (ImportError, ValueError):
        return ""


_RECIPE_KEYS = ("steps", "batch_size", "lr", "ema_decay", "mc_iter", "lr_schedule", "warmup_steps",
                "train_importance_sampling", "importance_sampling", "batches")


def recipe_mismatch(unit: Unit, rec: UnitRecord) -> str | None:
    """Why a finished MINDE or DoE record was trained with other settings than ``unit``'s budget
    now resolves to (e.g. a budget whose recipe changed since), or None when they agree. A unit
    whose plan sets its steps (``Unit.steps``) is checked against those steps.

    """
    if unit.method in DOE_METHODS and rec.ok:
        from minde.bench.baselines import doe_settings

        want, have = doe_settings(unit.method, unit.budget), rec.extra.get("settings")
        if have is None:
            return "no fitting settings recorded"
        return ", ".join(f"{k} {have.get(k)!r} (now {v!r})" for k, v in want.items() if have.get(k) != v) or None
    if unit.method not in MINDE_METHODS or not rec.ok:
        return None
    from dataclasses import asdict

    from minde.bench.tasks import get_task
    from minde.config import get_budget, resolve_settings

    budget = get_budget(unit.budget)
    want: dict[str, Any] = asdict(resolve_settings(budget, get_task(unit.task).dim_x, unit.n_train,
                                                   kind=unit.method[-1], steps=unit.steps))
    want["importance_sampling"] = True  # the sweep estimates with importance-sampled t
    train_is = budget.train_importance(unit.method[-1])
    want["train_importance_sampling"] = True if train_is is None else train_is
    have = dict(rec.extra.get("settings", {}))
    diff = [f"{k} {have.get(k)!r} (now {want[k]!r})" for k in _RECIPE_KEYS
            if not (have.get(k) == want[k] or (isinstance(want[k], float) and have.get(k) is not None
                                                and math.isclose(float(have[k]), want[k])))]
    return ", ".join(diff) or None


def outdated_records(records: dict[UnitKey, UnitRecord], budget: str,
                     epochs: EpochRule | None = None) -> dict[UnitKey, str]:
    """The finished MINDE and DoE records among ``records`` (of one results folder at ``budget``) that
    ``recipe_mismatch`` finds trained with other settings, each with why; ``epochs``: the
    plan's rule for the steps, if it has one."""
    out = {}
    for key, rec in records.items():
        steps = epochs.steps(rec.task, rec.method, rec.n_train, budget) if epochs is not None else None
        unit = Unit(rec.task, rec.method, rec.n_train, rec.n_test, rec.seed, budget, rec.truth, steps)
        why = recipe_mismatch(unit, rec)
        if why is not None:
            out[key] = why
    return out


def _group_key(unit: Unit) -> tuple | None:
    """Units with the same key (MINDE units only) may train as one batch; None: never grouped."""
    if unit.method not in MINDE_METHODS:
        return None
    return (unit.task, unit.method, unit.n_train, unit.n_test, unit.budget, unit.steps)


def max_group_size(unit: Unit, device: Any = None) -> int:
    """Most seeds of ``unit``'s kind trained as one batch: ``default_group_size`` for the hidden
    width and batch size the unit's model will use (8 for 1v1 tasks on a CPU, 1 at hidden 256).

    device: where the group will train (default: ``resolve_device("auto")`` here); on a GPU all
    seeds form one group.
    """
    from minde.bench.tasks import get_task
    from minde.config import get_budget, resolve_settings
    from minde.network import default_hidden
    from minde.training import default_group_size
    from minde.utils import resolve_device

    info = get_task(unit.task)
    batch = resolve_settings(get_budget(unit.budget), info.dim_x, unit.n_train,
                             kind=unit.method[-1]).batch_size
    hidden = default_hidden(info.dim_x + info.dim_y)
    unbounded = 2**31 - 1  # as many models as there are: default_group_size applies only its cap
    return default_group_size(unbounded, batch, hidden, resolve_device(device or "auto"))


def group_units(units: list[Unit], max_size: int | None = None,
                device: Any = None, whole: bool = False) -> list[list[Unit]]:
    """Split units into groups that are run together (``run_group``), keeping unit order.

    MINDE units that differ only in their seed (same task, method, n_train, n_test, budget) form
    groups of at most ``max_group_size`` (or ``max_size``, if smaller) units, filled in order;
    each group trains its models in one batched computation, model k on unit k's own data.
    ``whole=True`` keeps all seeds of such units in one group (up to ``max_size``), so that the
    cross-model estimate covers them all. Baselines, and MINDE units that share nothing, stay
    one per group. Groups are ordered by their first unit. ``max_size=1`` turns grouping off.
    """
    if max_size is not None and max_size < 1:
        raise ValueError(f"max_size must be a positive integer, got {max_size!r}")
    seeds_of = Counter(_group_key(u) for u in units)
    groups: list[list[Unit]] = []
    open_group: dict[tuple, tuple[list[Unit], int]] = {}  # key -> (group being filled, its cap)
    for u in units:
        key = _group_key(u)
        if key is None:
            groups.append([u])
            continue
        if key not in open_group or len(open_group[key][0]) >= open_group[key][1]:
            try:
                cap = max(max_group_size(u, device), seeds_of[key] if whole else 1)
            except Exception:  # unknown task / budget: the unit fails alone in run_unit
                cap = 1
            cap = min(cap, max_size) if max_size is not None else cap
            open_group[key] = ([], cap)
            groups.append(open_group[key][0])
        open_group[key][0].append(u)
    return groups


def run_group(group: list[Unit], checkpoints: Checkpointing | None = None,
              progress: bool = False) -> list[UnitRecord]:
    """Run one group of units (see ``group_units``) and return one record per unit, in order.

    A group of several MINDE units of one (task, method, n_train, n_test, budget) trains its
    models in one batched computation (``minde.api.fit_estimate_group``) with one checkpoint
    file, and evaluates them jointly for the cross-model estimate (docs/method.md §17), kept in
    each record's ``extra["cross"]``; anything else runs unit by unit (``run_unit``). Never
    raises on a unit error.
    """
    if not is_grouped(group):
        return [run_unit(u, checkpoints, progress) for u in group]
    return _run_minde_group(group, checkpoints, progress)


def is_grouped(group: list[Unit]) -> bool:
    """Does ``run_group`` train this group's models as one batch (one checkpoint for all)?"""
    keys = {_group_key(u) for u in group}
    return len(group) >= 2 and None not in keys and len(keys) == 1


def checkpoint_files(group: list[Unit], checkpoints: Checkpointing) -> list[Path]:
    """The checkpoint files ``run_group(group)`` may write (one per group, or per MINDE unit)."""
    if is_grouped(group):
        live = [checkpoints.path(group)]
        return live + [checkpoints.path([u]) for u in group]  # units rerun alone on divergence
    return [checkpoints.path([u]) for u in group if u.method in MINDE_METHODS]


def _run_minde_group(group: list[Unit], checkpoints: Checkpointing | None = None,
                     progress: bool = False) -> list[UnitRecord]:
    """Sample each unit's data (seed = unit seed), train all models batched, one record each.

    A unit whose sampling fails fails alone; if the batched training/estimation raises, every
    remaining unit fails with that error, except on divergence (``TrainingDivergedError``), which
    reruns the units one by one so that only the diverging seeds fail (as without grouping, and
    so that ``--retry-failed`` does not diverge the same group again). Each record's ``seconds``
    is the group's wall time / number of models trained; extra has group_size, group_seconds.
    """
    from minde.api import fit_estimate_group
    from minde.bench.tasks import sample
    from minde.training import TrainingDivergedError

    start = time.perf_counter()
    records: dict[int, UnitRecord] = {}
    data: dict[int, tuple] = {}
    for i, u in enumerate(group):
        t0 = time.perf_counter()
        try:
            data[i] = sample(u.task, u.n_train, u.n_test, u.seed)
        except Exception as exc:  # this unit fails, the others still run
            records[i] = failed_record(u, exc, time.perf_counter() - t0)
    live = [i for i in range(len(group)) if i not in records]
    first = group[0]
    ckpt = checkpoints.kwargs([group[i] for i in live]) if checkpoints is not None and live else {}
    try:
        ests = fit_estimate_group(first.method[-1], [data[i] for i in live],
                                  [group[i].seed for i in live], budget=first.budget, steps=first.steps,
                                  progress=progress, cross=True, **ckpt) if live else []
    except TrainingDivergedError as exc:
        for i in live:
            rec = run_unit(group[i], checkpoints, progress)
            rec.extra["group_fallback"] = f"{type(exc).__name__}: {exc}"
            records[i] = rec
        return [records[i] for i in range(len(group))]
    except Exception as exc:  # a failed group is a result, not a crash (docs/method.md §12)
        per = (time.perf_counter() - start) / max(1, len(live))
        for i in live:
            records[i] = failed_record(group[i], exc, per)
        return [records[i] for i in range(len(group))]
    group_seconds = time.perf_counter() - start
    worker = _worker_name()
    for i, est in zip(live, ests):
        unit = group[i]
        extra = {**_minde_extra(est), "worker": worker, "group_size": len(live),
                 "group_seeds": [group[j].seed for j in live], "group_seconds": group_seconds}
        if est.cross is not None:  # evaluated on the test rows of the group's first seed
            extra["cross"] = {**est.cross.to_dict(), "seeds": extra["group_seeds"], "test_seed": group[live[0]].seed}
        paper = {v: est.variants[v] for v in method_variants(unit.method)}  # the cross ones are in extra
        try:
            _check_estimates(unit, paper)
        except Exception as exc:
            records[i] = failed_record(unit, exc, group_seconds / len(live))
            continue
        records[i] = _ok_record(unit, paper, extra, group_seconds / len(live))
    return [records[i] for i in range(len(group))]
