"""The sweep command (docs/method.md §8, §12): run (task × method × n_train × seed) units, resumably.

    minde sweep --experiment NAME --budget smoke|quick|paper \\
        --tasks ID[,ID...]|all|highmi|benchmark --methods minde_c,minde_j,cca,...|all \\
        --seeds 0-4 --n-train 10000 [--n-test 10000] [--out DIR] [--retry-failed] \\
        [--recompute] [--dry-run] [--workers N] [--scheduler ADDR|FILE] [--group-size N]
        [--checkpoint-every STEPS] [--checkpoint-seconds S] [--no-progress] [--allow-dirty]
    minde sweep --status EXPERIMENT --budget B [--out DIR]
    minde sweep --verify EXPERIMENT --budget B [--sample K] [--max-seconds S]
        [--seed-select N] [--out DIR]

Each finished unit is one checksummed JSON record (``minde.repro.results``); a rerun skips finished
units, retries failed ones only with ``--retry-failed``, and recomputes all with ``--recompute``.
MINDE units that differ only in their seed run as groups (``minde.repro.units.group_units``): their
models train in one batched computation, each on its own seed's data, and each unit still gets
its own record (written when its group finishes). ``--group-size N`` caps a group at N units
(1: no grouping); by default the cap is ``minde.training.default_group_size`` for the task.

A record must be computed from committed code: when ``minde/`` has uncommitted changes and the
records would go into the project's committed results folder, the sweep refuses before any unit
runs (``minde.repro.provenance.check_sweep_source``; exit status 2). ``--allow-dirty`` sends them
to ``data/results-dirty/`` (git-ignored) instead, unless ``--out`` is given.

A MINDE unit (or seed group) in training saves a checkpoint in ``OUT/EXPERIMENT/BUDGET/checkpoints/``
every ``--checkpoint-seconds`` (default 600) or ``--checkpoint-every`` steps, whichever comes
first; a rerun resumes it bit-identically (docs/method.md §7) and the checkpoint is deleted
once the unit's record is written. ``--status`` prints what a results folder holds (done,
failed, in flight with the checkpoints' steps) without running anything; ``--verify`` recomputes
a reproducible sample of committed records and compares (``minde.repro.verify``).
"""
from __future__ import annotations

import argparse
import datetime as _dt
import os
import re
import sys
import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from minde.config import BUDGETS
from minde.repro import results as res
from minde.repro.units import (
    MINDE_METHODS,
    Checkpointing,
    EpochRule,
    SweepArgumentError,
    Unit,
    checkpoint_files,
    group_units,
    recipe_mismatch,
    run_group,
)

__all__ = ["SweepArgumentError", "SweepPlan", "parse_seeds", "resolve_tasks", "resolve_methods",
           "plan_sweep", "run_sweep", "summary_table", "status_report", "main", "TASK_GROUPS"]

TASK_GROUPS = ("all", "benchmark", "highmi")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def parse_seeds(spec: str | int | Iterable[int]) -> list[int]:
    """Parse "0-4", "0,2,5" or "0-2,7" (or an int / iterable) into sorted unique seeds >= 0."""
    if isinstance(spec, int):
        spec = str(spec)
    if not isinstance(spec, str):
        spec = ",".join(str(s) for s in spec)
    seeds: set[int] = set()
    for part in (p.strip() for p in spec.split(",")):
        m = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if not m:
            raise SweepArgumentError(f"--seeds: cannot parse {part!r} in {spec!r}; use a range "
                                     "'0-4', a list '0,2,5' or both '0-2,7' (non-negative ints)")
        lo, hi = int(m[1]), int(m[2] if m[2] is not None else m[1])
        if hi < lo:
            raise SweepArgumentError(f"--seeds: empty range {part!r} (start > end); did you mean "
                                     f"'{hi}-{lo}'?")
        seeds.update(range(lo, hi + 1))
    return sorted(seeds)


def _split(spec: str | Iterable[str]) -> list[str]:
    """Comma-separated string or iterable -> list of non-empty stripped items (order kept)."""
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    return list(dict.fromkeys(i.strip() for i in items if i.strip()))


def resolve_tasks(spec: str | Iterable[str]) -> list[str]:
    """Task ids from "ID[,ID...]", a group (all | benchmark | highmi) or, in a list, "highmi:S,S"
    (the high-MI tasks of those strengths); validated by minde.bench.tasks."""
    from minde.bench import tasks

    items = [spec] if isinstance(spec, str) and spec.startswith("highmi:") else _split(spec)
    if not items:
        raise SweepArgumentError(f"--tasks is empty; give task ids or one of {', '.join(TASK_GROUPS)}")
    out: list[str] = []
    for item in items:
        if item in TASK_GROUPS:
            out.extend(t.id for t in tasks.list_tasks(item))
            continue
        if item.startswith("highmi:"):
            try:
                keep = {float(s) for s in item.split(":", 1)[1].split(",")}
            except ValueError:
                raise SweepArgumentError(f"--tasks: {item!r}: strengths must be numbers, e.g. highmi:2,10") from None
            out.extend(t.id for t in tasks.list_tasks("highmi") if t.strength in keep)
            continue
        try:
            tasks.get_task(item)
        except (KeyError, ValueError) as exc:
            raise SweepArgumentError(f"--tasks: {exc} (groups: {', '.join(TASK_GROUPS)})") from None
        out.append(item)
    return list(dict.fromkeys(out))


def valid_methods() -> tuple[str, ...]:
    """Unit methods: the two MINDE kinds, then every baseline of minde.bench.baselines."""
    from minde.bench.baselines import BASELINES

    return MINDE_METHODS + tuple(BASELINES)


def resolve_methods(spec: str | Iterable[str]) -> list[str]:
    """Methods from "m1,m2" or "all"; a MINDE unit yields both its variants (e.g. minde_c_sigma)."""
    valid = valid_methods()
    items = _split(spec)
    if items == ["all"]:
        return list(valid)
    bad = [m for m in items if m not in valid]
    if bad or not items:
        hint = ("; the _sigma variants come with their minde_c / minde_j unit"
                if any(m.endswith("_sigma") for m in bad) else "")
        raise SweepArgumentError(f"--methods: unknown method(s) {bad or items}{hint}; valid: "
                                 f"{', '.join(valid)} or all")
    return items


def _positive_sizes(name: str, spec: str | int | Iterable[int]) -> list[int]:
    """Parse one or more positive integers ("10000" or "5000,10000")."""
    items = _split(str(spec)) if isinstance(spec, (str, int)) else [str(s) for s in spec]
    try:
        sizes = [int(s) for s in items]
    except ValueError:
        raise SweepArgumentError(f"{name}: {spec!r} is not a positive integer (or a comma list "
                                 "of them)") from None
    if not sizes or any(s < 1 for s in sizes):
        raise SweepArgumentError(f"{name}: sizes must be positive integers, got {spec!r}")
    return sorted(set(sizes))


def _check_out(root: Path) -> None:
    """The results root must be (or be creatable as) a writable directory."""
    probe = root
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise SweepArgumentError(f"--out: {probe} exists and is not a directory")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise SweepArgumentError(f"--out: {probe} is not writable; choose another --out DIR")


@dataclass
class SweepPlan:
    """Validated sweep: every requested unit and which of them will run now."""

    experiment: str  # results go to <root>/<experiment>/<budget>/
    budget: str  # smoke | quick | paper
    root: Path  # results root (default data/results)
    units: list[Unit]  # every requested unit
    todo: list[Unit]  # units that will run
    done: int = 0  # finished units skipped
    failed_kept: int = 0  # failed units not retried (no --retry-failed)
    outdated: int = 0  # finished MINDE or DoE units trained with another recipe; rerun
    keys: set = field(default_factory=set)  # keys of every requested unit


def plan_sweep(experiment: str, budget: str, tasks: str | Iterable[str],
               methods: str | Iterable[str], seeds: str | int | Iterable[int] = "0",
               n_train: str | int | Iterable[int] | None = None, n_test: int | str | None = None,
               out: str | os.PathLike | None = None, retry_failed: bool = False,
               recompute: bool = False, cross: bool = False, epochs: EpochRule | None = None) -> SweepPlan:
    """Validate every argument (before any work) and decide which units run.

    ``cross``: every MINDE unit with other seeds in the plan needs a cross-model evaluation over
    all of them (docs/method.md §17); where a finished record lacks one, all seeds of that unit
    are rerun together. ``epochs``: the MINDE units train for the steps of this rule (a finished
    record trained for other steps is rerun) instead of the budget's."""
    if not isinstance(experiment, str) or not _NAME.match(experiment):
        raise SweepArgumentError(f"--experiment: {experiment!r} is not a valid name; use letters, "
                                 "digits, '.', '_' or '-' (starting with a letter or digit)")
    if budget not in BUDGETS:
        raise SweepArgumentError(f"--budget: unknown budget {budget!r}; valid: {', '.join(BUDGETS)}")
    b = BUDGETS[budget]
    sizes = _positive_sizes("--n-train", n_train if n_train is not None else b.n_train)
    n_te = _positive_sizes("--n-test", n_test if n_test is not None else b.n_test)
    if len(n_te) != 1:
        raise SweepArgumentError(f"--n-test: give one size, got {n_test!r}")
    seed_list = parse_seeds(seeds)
    root = Path(out) if out is not None else res.results_root()
    _check_out(root)
    method_list = resolve_methods(methods)
    task_list = resolve_tasks(tasks)
    from minde.bench.tasks import get_task

    truth = {t: float(get_task(t).mi) for t in task_list}
    steps = {(t, m, n): epochs.steps(t, m, n, budget) if epochs is not None else None
             for t in task_list for m in method_list for n in sizes}
    units = [Unit(t, m, n, n_te[0], s, budget, truth[t], steps[t, m, n])
             for t in task_list for m in method_list for n in sizes for s in seed_list]
    plan = SweepPlan(experiment, budget, root, units, [], keys={u.key for u in units})
    existing = res.load_units(experiment, budget, root) if not recompute else {}
    stale = [u for u in units if u.key in existing and existing[u.key].n_test != u.n_test]
    if stale:
        warnings.warn(f"{len(stale)} finished unit(s) used another n_test (e.g. {stale[0].label()}: "
                      f"{existing[stale[0].key].n_test} vs {stale[0].n_test}); n_test is not part "
                      "of the unit key, so they are kept; use --recompute to redo them", stacklevel=2)
    outdated: list[tuple[Unit, str]] = []
    lacking = _lacking_cross(units, existing) if cross else {}
    for u in units:
        rec = existing.get(u.key)
        why = recipe_mismatch(u, rec) if rec is not None else None
        why = why or (lacking.get(u.key) if rec is not None else None)
        if why is not None:
            outdated.append((u, why))
            plan.todo.append(u)
        elif rec is not None and rec.ok:
            plan.done += 1
        elif rec is not None and rec.status == "failed" and not retry_failed:
            plan.failed_kept += 1
        else:
            plan.todo.append(u)
    plan.outdated = len(outdated)
    if outdated:
        u, why = outdated[0]
        print(f"{len(outdated)} finished MINDE or DoE unit(s) were trained with other settings than the "
              f"{budget!r} budget's now (e.g. {u.label()}: {why}); a sweep that is not a dry run recomputes them")
    return plan


def _lacking_cross(units: list[Unit], existing: dict) -> dict:
    """Keys of the MINDE units whose seeds (two or more in the plan) are not all covered by one
    cross-model evaluation in their finished records, each with why: all seeds of such a unit."""
    seeds: dict[tuple, list[int]] = {}
    for u in units:
        if u.method in MINDE_METHODS:
            seeds.setdefault((u.task, u.method, u.n_train, u.n_test), []).append(u.seed)
    out = {}
    for (task, method, n_train, _n_test), group in seeds.items():
        if len(group) < 2:
            continue
        covered = [existing.get((task, method, n_train, s)) for s in group]
        evaluated = [set((r.extra.get("cross") or {}).get("seeds", [])) if r is not None and r.ok else set()
                     for r in covered]
        if not all(set(group) <= e for e in evaluated):
            out.update({(task, method, n_train, s): f"no cross-model evaluation of seeds {sorted(group)}"
                        for s in group})
    return out


def summary_table(df: pd.DataFrame) -> pd.DataFrame:
    """Per variant: units, MAE vs truth (nats), #within 0.1 nats, failures, mean seconds."""
    if df.empty:
        return pd.DataFrame(columns=["units", "mae", "within_0.1", "failed", "mean_seconds"])
    ok = df["status"] == "ok"
    g = df.assign(ok_err=df["abs_error"].where(ok), within=(df["abs_error"] <= 0.1) & ok,
                  failed=~ok).groupby("variant", sort=False)
    return pd.DataFrame({"units": g.size(), "mae": g["ok_err"].mean(), "within_0.1": g["within"].sum(),
                         "failed": g["failed"].sum(), "mean_seconds": g["seconds"].mean()})


def _describe(plan: SweepPlan, limit: int = 40) -> str:
    """Text of a dry run: counts, then the units that would run."""
    lines = [f"sweep {plan.experiment!r} budget={plan.budget}: {len(plan.units)} units, "
             f"{plan.done} done, {plan.failed_kept} failed (kept; --retry-failed to rerun), "
             f"{len(plan.todo)} to run; results in {res.unit_dir(plan.experiment, plan.budget, plan.root)}"]
    lines += [f"  {u.label()}" for u in plan.todo[:limit]]
    if 0 < limit < len(plan.todo):
        lines.append(f"  ... and {len(plan.todo) - limit} more")
    return "\n".join(lines)


def _progress(total: int, enabled: bool):
    """A tqdm bar over units, or a no-op stand-in; the ETA is the mean unit time so far
    (smoothing 0) times the units left."""
    from tqdm import tqdm

    return tqdm(total=total, unit="unit", desc="sweep", disable=not enabled, dynamic_ncols=True,
                smoothing=0)


def _group_label(group: list[Unit]) -> str:
    """Short name of a group for the progress line: task, method and its seeds."""
    u = group[0]
    seeds = ",".join(str(x.seed) for x in group)
    return f"{u.task} {u.method} n={u.n_train} s={seeds}"


def _checkpointing(plan: SweepPlan, every_steps: int | None, every_seconds: float | None
                   ) -> Checkpointing | None:
    """Checkpoint options of a sweep (None when both criteria are off); the folder is absolute."""
    if every_steps is None and every_seconds is None:
        return None
    folder = res.checkpoint_dir(plan.experiment, plan.budget, plan.root).resolve()
    return Checkpointing(str(folder), every_steps, every_seconds)


def largest_first(groups: list[list[Unit]]) -> list[list[Unit]]:
    """Groups in decreasing order of their expected cost, for workers running side by side: the
    long groups (wide tasks, several seeds) start first, so no worker is left with one at the end
    while the others idle. The cost is taken as proportional to the task's dimension, d_x + d_y,
    times the number of units of the group, for MINDE and the neural critics alike; KSG, CCA and
    KDE come last. Groups of equal cost keep their order."""
    from minde.bench.tasks import get_task
    from minde.repro.verify import DETERMINISTIC  # the baselines that train nothing: seconds per unit

    def cost(group: list[Unit]) -> float:
        try:
            info = get_task(group[0].task)
        except Exception:  # an unknown task fails at once in run_unit
            return 0.0
        weight = 0.01 if group[0].method in DETERMINISTIC else 1.0
        return weight * len(group) * (info.dim_x + info.dim_y)

    return sorted(groups, key=cost, reverse=True)


def _execute(plan: SweepPlan, workers: int | None, scheduler: str | None, progress: bool,
             group_size: int | None = None, checkpoints: Checkpointing | None = None,
             whole: bool = False) -> dict:
    """Run ``plan.todo``, writing each record as it arrives; returns run statistics.

    The progress line shows units done (the bar), running and failed, the unit in training
    (in-process, with the training's own bar of steps and loss below it) and the ETA.
    """
    groups = group_units(plan.todo, max_size=group_size, whole=whole)
    stats = {"ran": 0, "failed": 0, "devices": set()}
    unsaved: set = set()  # keys of units whose record could not be written
    shown: dict = {"running": 0}  # postfix of the bar besides failed
    bar = _progress(len(plan.todo), progress)

    def show() -> None:
        bar.set_postfix(failed=stats["failed"], **shown)

    def on_record(rec: res.UnitRecord) -> None:
        stats["ran"] += 1
        try:
            res.write_unit(plan.experiment, rec, plan.root)
        except OSError as exc:  # disk full, permission denied: this unit fails, the sweep goes on
            where = res.unit_dir(plan.experiment, plan.budget, plan.root)
            print(f"FAILED to save {rec.task} {rec.method} n={rec.n_train} seed={rec.seed} in "
                  f"{where}: {exc}", file=sys.stderr)
            stats["failed"] += 1
            stats["unsaved"] = stats.get("unsaved", 0) + 1
            unsaved.add(rec.key)
        else:
            stats["failed"] += rec.status != "ok"
        stats["devices"].add(str(rec.extra.get("device", "")))
        bar.set_postfix(failed=stats["failed"], **shown, refresh=False)
        bar.update(1)

    def on_group_done(group: list[Unit]) -> None:
        """Every record of the group is written: its checkpoint is no longer needed."""
        if checkpoints is None or any(u.key in unsaved for u in group):
            return  # a record that could not be saved: keep the trained state for the rerun
        for path in checkpoint_files(group, checkpoints):
            path.unlink(missing_ok=True)

    try:
        if not groups:  # nothing to do: don't start a cluster
            pass
        elif workers is None and scheduler is None:
            for group in groups:
                shown.update(running=len(group), unit=_group_label(group))
                show()
                records = run_group(group, checkpoints, progress=progress)
                shown.update(running=0)
                for rec in records:
                    on_record(rec)
                on_group_done(group)
            shown.pop("unit", None)
            show()
        else:
            from minde.repro.cluster import run_groups_on_dask

            run_groups_on_dask(largest_first(groups), on_record, workers=workers, scheduler=scheduler,
                               status=shown, checkpoints=checkpoints, on_group_done=on_group_done)
    finally:
        bar.close()
    return stats


def run_sweep(experiment: str, budget: str, tasks: str | Iterable[str], methods: str | Iterable[str],
              seeds: str | int | Iterable[int] = "0", n_train: str | int | Iterable[int] | None = None,
              n_test: int | str | None = None, out: str | os.PathLike | None = None,
              retry_failed: bool = False, recompute: bool = False, dry_run: bool = False,
              workers: int | None = None, scheduler: str | None = None, progress: bool = True,
              echo: Callable[[str], None] = print, group_size: int | None = None,
              allow_dirty: bool = False, checkpoint_every: int | None = None,
              checkpoint_seconds: float | None = 600.0, cross: bool = False,
              epochs: EpochRule | None = None) -> pd.DataFrame:
    """Run a sweep and return the tidy rows (``minde.repro.results.TIDY_COLUMNS``) of its units.

    Estimates and truths are in nats; one row per variant (minde_c gives minde_c and
    minde_c_sigma). With ``dry_run`` nothing is computed or written and the rows of units
    already on disk are returned. ``workers``: embedded Dask cluster of that many processes;
    ``scheduler``: address or scheduler file of an existing Dask cluster. ``group_size``: at
    most this many MINDE seeds per batched group (None: ``default_group_size``; 1: no grouping).
    ``allow_dirty``: with uncommitted changes in minde/, write to ``data/results-dirty/`` (unless
    ``out`` is given) instead of refusing (``minde.repro.provenance.check_sweep_source``).
    ``checkpoint_every`` (steps) / ``checkpoint_seconds``: how often a MINDE unit in training
    saves its checkpoint (None: that criterion off; both None: no checkpoints).
    ``cross``: all seeds of a MINDE unit train in one group and are evaluated jointly for the
    cross-model estimate (docs/method.md §17); finished units without that evaluation are rerun.
    ``epochs``: MINDE units train for the steps of this rule (``EpochRule``) instead of the budget's.
    """
    from minde.repro.cluster import check_dask_args

    check_dask_args(workers, scheduler)
    if group_size is not None and (isinstance(group_size, bool) or not isinstance(group_size, int)
                                   or group_size < 1):
        raise SweepArgumentError(f"--group-size: must be a positive integer, got {group_size!r}")
    if checkpoint_every is not None and (isinstance(checkpoint_every, bool) or not isinstance(checkpoint_every, int)
                                         or checkpoint_every < 1):
        raise SweepArgumentError(f"--checkpoint-every: must be a positive number of steps, got {checkpoint_every!r}")
    if checkpoint_seconds is not None and not checkpoint_seconds > 0:
        raise SweepArgumentError(f"--checkpoint-seconds: must be positive (0 on the command line: off), "
                                 f"got {checkpoint_seconds!r}")
    from minde.repro import provenance

    rev = provenance.source_revision()
    dirty = rev.endswith(provenance.DIRTY_SUFFIX)
    if dirty and allow_dirty and out is None:
        out = provenance.dirty_results_root()
    plan = plan_sweep(experiment, budget, tasks, methods, seeds, n_train, n_test, out,
                      retry_failed, recompute, cross, epochs)
    if dirty and not allow_dirty and plan.todo and not dry_run:
        provenance.check_sweep_source(plan.root, experiment, budget, rev)
    echo(_describe(plan, limit=40 if dry_run else 0))
    if not dry_run:
        res.clean_stale_temps(experiment, budget, plan.root)
        start = time.perf_counter()
        stats = _execute(plan, workers, scheduler, progress, group_size,
                         _checkpointing(plan, checkpoint_every, checkpoint_seconds), whole=cross)
        where = scheduler or (f"local dask x{workers}" if workers else "in-process")
        meta = res.unit_dir(experiment, budget, plan.root) / "meta.json"
        try:
            if stats["ran"] or not meta.exists():
                res.write_meta(experiment, budget, plan.root, device=sorted(stats["devices"] - {""}),
                               executor=where, last_sweep_units=stats["ran"],
                               last_sweep_seconds=round(time.perf_counter() - start, 3))
        except OSError as exc:
            print(f"warning: could not write {meta}: {exc}", file=sys.stderr)
    try:
        df = res.aggregate(experiment, budget, plan.root, write=not dry_run)
    except OSError as exc:  # results.csv not writable: the unit records are still the truth
        print(f"warning: could not write results.csv: {exc}", file=sys.stderr)
        df = res.aggregate(experiment, budget, plan.root, write=False)
    keys = list(zip(df["task"], df["method"], df["n_train"], df["seed"]))
    out = df[[k in plan.keys for k in keys]].reset_index(drop=True)
    out.attrs["unsaved"] = 0 if dry_run else stats.get("unsaved", 0)
    return out


def _age(iso: str) -> str:
    """How long ago an ISO-8601 time was, e.g. '3 min ago'."""
    try:
        then = _dt.datetime.fromisoformat(iso)
    except (TypeError, ValueError):
        return "?"
    sec = max(0.0, (_dt.datetime.now(_dt.timezone.utc) - then).total_seconds())
    return f"{sec:.0f} s ago" if sec < 120 else f"{sec / 60:.0f} min ago" if sec < 7200 else f"{sec / 3600:.1f} h ago"


def status_report(experiment: str, budget: str, out: str | os.PathLike | None = None,
                  limit: int = 20) -> str:
    """What a results folder holds, without running anything: finished units per method, failed
    units grouped by error, and units in flight (checkpoints, with their step and last loss)."""
    from minde.checkpoint import read_header

    root = Path(out) if out is not None else res.results_root()
    where = res.unit_dir(experiment, budget, root)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        recs = res.load_units(experiment, budget, root)
    ok = [r for r in recs.values() if r.ok]
    failed = [r for r in recs.values() if not r.ok]
    by_method = pd.Series([r.method for r in ok], dtype=object).value_counts()
    lines = [f"{where}: {len(ok)} done, {len(failed)} failed"
             + (f", {len(caught)} corrupt record(s) ignored" if caught else "")]
    if len(ok):
        lines.append("  done: " + ", ".join(f"{m} {n}" for m, n in by_method.items()))
    if ok:
        secs = sum(r.seconds for r in ok)
        lines.append(f"  time of finished units: {secs / 3600:.2f} h (mean {secs / len(ok):.1f} s)")
    errors: dict[str, list[res.UnitRecord]] = {}
    for r in failed:
        errors.setdefault((r.error or "no error text").splitlines()[0][:160], []).append(r)
    for err, rs in sorted(errors.items(), key=lambda kv: -len(kv[1])):
        names = ", ".join(f"{r.task} {r.method} n={r.n_train} s={r.seed}" for r in rs[:3])
        lines.append(f"  failed x{len(rs)}: {err}  [{names}{', ...' if len(rs) > 3 else ''}]")
    ckpts = sorted(res.checkpoint_dir(experiment, budget, root).glob("*.pt"))
    lines.append(f"  in flight: {len(ckpts)} checkpoint(s)"
                 + (f" in {res.checkpoint_dir(experiment, budget, root)}" if ckpts else ""))
    for path in ckpts[:limit]:
        try:
            h = read_header(path)
        except (OSError, ValueError) as exc:
            lines.append(f"    {path.stem}: unreadable ({exc}); a rerun ignores it")
            continue
        loss = "" if h.get("loss") is None else f", loss {h['loss']:.4f}"
        pct = 100.0 * h["step"] / max(1, h["total"])
        lines.append(f"    {path.stem}: step {h['step']}/{h['total']} ({pct:.0f}%){loss}, "
                     f"{h.get('seconds', 0):.0f} s of training, saved {_age(h.get('saved', ''))}")
    if len(ckpts) > limit:
        lines.append(f"    ... and {len(ckpts) - limit} more")
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    """The command-line interface of ``minde sweep``."""
    p = argparse.ArgumentParser(prog="minde sweep", description=__doc__.split("\n")[0])
    p.add_argument("--experiment", help="results go to OUT/EXPERIMENT/BUDGET/ (required to run)")
    p.add_argument("--budget", required=True, help=f"one of {', '.join(BUDGETS)}")
    p.add_argument("--tasks", help="ID[,ID...] or all | benchmark | highmi (required to run)")
    p.add_argument("--methods", help="minde_c,minde_j,<baselines> or all (required to run)")
    p.add_argument("--seeds", default="0", help="e.g. 0-4, 0,2,5 (data seed = model seed)")
    p.add_argument("--n-train", default=None, help="training size(s), e.g. 10000 or 5000,10000")
    p.add_argument("--n-test", default=None, help="test size (default: the budget's)")
    p.add_argument("--out", default=None, help=f"results root (default {res.results_root()})")
    p.add_argument("--retry-failed", action="store_true", help="rerun units recorded as failed")
    p.add_argument("--recompute", action="store_true", help="rerun every unit, even finished ones")
    p.add_argument("--dry-run", action="store_true", help="print the plan, compute nothing")
    p.add_argument("--workers", type=int, default=None, help="embedded Dask cluster, N processes")
    p.add_argument("--scheduler", default=None, help="tcp://HOST:PORT or scheduler-file path")
    p.add_argument("--group-size", type=int, default=None,
                   help="at most N MINDE seeds trained as one batch (default: auto; 1: no grouping)")
    p.add_argument("--checkpoint-every", type=int, default=None, metavar="STEPS",
                   help="save a MINDE unit's training checkpoint every STEPS steps (rounded up to "
                        "the next chunk of at most 256 steps)")
    p.add_argument("--checkpoint-seconds", type=float, default=600.0, metavar="S",
                   help="... or every S seconds, whichever comes first (default 600; 0: no time "
                        "criterion; 0 without --checkpoint-every: no checkpoints)")
    p.add_argument("--cross", action="store_true",
                   help="train all seeds of a MINDE unit together and evaluate them jointly (cross-model "
                        "estimate, docs/method.md §17); rerun finished units that lack it")
    p.add_argument("--epochs", type=int, default=None, metavar="E",
                   help="MINDE units train E epochs (E x ceil(n_train / batch) steps) instead of the "
                        "budget's steps, so the steps grow with the training size (docs/method.md §12)")
    p.add_argument("--max-steps", type=int, default=None, metavar="S",
                   help="with --epochs: at most S steps")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--allow-dirty", action="store_true",
                   help="allow uncommitted changes in minde/; results go to data/results-dirty/ unless --out")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--status", metavar="EXPERIMENT",
                      help="print the state of OUT/EXPERIMENT/BUDGET (done, failed, in flight); run nothing")
    mode.add_argument("--verify", metavar="EXPERIMENT",
                      help="recompute a sample of the records of OUT/EXPERIMENT/BUDGET and compare")
    p.add_argument("--sample", type=int, default=3, metavar="K", help="--verify: records to recompute")
    p.add_argument("--max-seconds", type=float, default=None, metavar="S",
                   help="--verify: only records whose unit took at most S seconds")
    p.add_argument("--seed-select", type=int, default=0, metavar="N",
                   help="--verify: seed of the random choice of records (default 0)")
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point; exit status 0 if every requested unit is ok, 1 if any failed, 2 on bad args."""
    p = _parser()
    a = p.parse_args(argv)
    if a.status is not None:
        if a.budget not in BUDGETS:
            p.error(f"--budget: unknown budget {a.budget!r}; valid: {', '.join(BUDGETS)}")
        if not res.unit_dir(a.status, a.budget, a.out).is_dir():
            print(f"minde sweep: error: no results at "
                  f"{res.unit_dir(a.status, a.budget, a.out)}", file=sys.stderr)
            return 2
        print(status_report(a.status, a.budget, a.out))
        return 0
    if a.verify is not None:
        from minde.repro.verify import main_verify

        return main_verify(a.verify, a.budget, out=a.out, sample=a.sample, max_seconds=a.max_seconds,
                           seed_select=a.seed_select)
    missing = [f"--{n}" for n in ("experiment", "tasks", "methods") if getattr(a, n) is None]
    if missing:
        p.error(f"the following arguments are required to run a sweep: {', '.join(missing)}")
    every_s = a.checkpoint_seconds if a.checkpoint_seconds and a.checkpoint_seconds > 0 else None
    if a.checkpoint_seconds is not None and a.checkpoint_seconds < 0:
        p.error(f"--checkpoint-seconds: must be >= 0, got {a.checkpoint_seconds}")
    if a.max_steps is not None and a.epochs is None:
        p.error("--max-steps caps --epochs; give --epochs too")
    try:
        rule = EpochRule(a.epochs, a.max_steps) if a.epochs is not None else None
        df = run_sweep(a.experiment, a.budget, a.tasks, a.methods, a.seeds, a.n_train, a.n_test,
                       a.out, a.retry_failed, a.recompute, a.dry_run, a.workers, a.scheduler,
                       progress=not a.no_progress, group_size=a.group_size, allow_dirty=a.allow_dirty,
                       checkpoint_every=a.checkpoint_every, checkpoint_seconds=every_s, cross=a.cross,
                       epochs=rule)
    except SweepArgumentError as exc:
        print(f"minde sweep: error: {exc}", file=sys.stderr)
        return 2
    if a.dry_run:
        return 0
    with pd.option_context("display.width", 120, "display.float_format", "{:.4f}".format):
        print(summary_table(df).to_string())
    failed = df.loc[df["status"] != "ok"].drop_duplicates(["task", "method", "n_train", "seed"])
    for _, r in failed.head(20).iterrows():
        print(f"FAILED {r.task} {r.method} n={r.n_train} seed={r.seed}: {r.error}", file=sys.stderr)
    if df.attrs.get("unsaved"):
        print(f"{df.attrs['unsaved']} unit(s) could not be saved (see FAILED lines above); "
              f"free space or fix permissions, then rerun to compute them", file=sys.stderr)
    return 1 if len(failed) or df.attrs.get("unsaved") else 0


if __name__ == "__main__":
    sys.exit(main())
