"""The sample-size study: MINDE's defaults on small data sets against the former defaults and KSG
(docs/method.md §18; ``notebooks/ablation_sample_size.ipynb``).

For each (task, n, seed): the first n rows of the task's draw for that seed are given whole to
``minde.estimate_mi`` with the budget's defaults (below 5 000 rows: 5 cross-fitted folds, steps
capped per training row; MINDE-J answers with the cross-model estimate of two models per fold or
split), whose answer is recorded, and, up to ``former_max`` rows, with the former defaults (one
model, one split with 10 % held out, the budget's fixed steps whatever n, the paper's
estimator); KSG (k = 5) reads the same n rows, and InfoNCE trains its critic on half of them and
scores the other half (bmi's own protocol). Rows are
stored one (task, n, seed, method) at a time (``minde.repro.store``); a rerun computes only the
rows still missing, so an interrupted study resumes and a method added to the plan is filled in alone.
"""
from __future__ import annotations

import functools
import time
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

__all__ = ["run_sample_size_study", "study_results", "COLUMNS"]

COLUMNS = ("task", "n", "seed", "method", "estimate", "stderr", "warned", "steps", "truth", "seconds",
           "git_rev")


def _arms(kinds: Sequence[str], baselines: Sequence[str], n: int, former_max: int,
          steps: int | None) -> list[str]:
    """The method names one (task, n, seed) computes, in the order they run."""
    names = list(baselines)
    for kind in kinds:
        names += [f"minde_{kind}"] + ([f"minde_{kind}_former"] if n <= former_max and steps else [])
    return names


@functools.lru_cache(maxsize=1)
def _draw(task: str, n: int, seed: int) -> tuple:
    """The first n rows of the task's draw for ``seed``, shared by the methods of one (task, n, seed)."""
    from minde.bench.tasks import sample

    return sample(task, n, 2, seed)


def _row(task: str, n: int, seed: int, method: str, budget: str, steps: int | None) -> dict:
    """One method's row (``COLUMNS``) on the first n rows of the task's draw for ``seed``."""
    import minde
    from minde.bench.baselines import estimate_baseline, ksg_mi
    from minde.bench.tasks import get_task
    from minde.data import train_test_split

    x, y, _, _ = _draw(task, n, seed)
    start = time.perf_counter()
    if method == "ksg":
        row = dict(estimate=ksg_mi(x, y, k=5), stderr=float("nan"), warned=False, steps=0)
    elif method == "infonce":
        x_tr, y_tr, x_te, y_te = train_test_split(x, y, 0.5, seed)
        r = estimate_baseline("infonce", x_tr, y_tr, x_te, y_te, budget=budget, seed=seed)
        row = dict(estimate=r.estimate, stderr=float("nan"), warned=False, steps=0)
    else:
        kind, former = method[6], method.endswith("_former")
        kw = dict(folds=0, steps=steps, debias=False) if former else {}
        r = minde.estimate_mi(x, y, kind, budget=budget, seed=seed, progress=False, **kw)
        row = dict(estimate=r.answer_mi, stderr=r.answer_stderr, warned=bool(r.warnings), steps=r.settings["steps"])
    return dict(task=task, n=n, seed=seed, method=method, truth=float(get_task(task).mi),
                seconds=time.perf_counter() - start, **row)


def run_sample_size_study(tasks: Sequence[str], sizes: Sequence[int], seeds: Sequence[int],
                          kinds: Sequence[str] = ("c", "j"), budget: str = "quick",
                          former_max: int = 2_000, out: str | Path | None = None,
                          progress: bool = True, baselines: Sequence[str] = ("ksg",),
                          recompute: bool = False, finished_only: bool = False) -> pd.DataFrame:
    """Tidy rows (``COLUMNS``) of every (task, n, seed): methods ``minde_<kind>`` (the defaults),
    ``minde_<kind>_former`` (n <= ``former_max``) and the ``baselines`` ("ksg", "infonce");
    ``warned``: the result carries a reliability warning. Stored one (task, n, seed, method) at a
    time (``minde.repro.store``) in ``out`` (default: the notebook's table at ``budget``), so an
    interrupted study resumes and a method added to the plan is computed alone."""
    from minde.config import get_budget
    from minde.repro.store import load_or_compute

    unknown = set(baselines) - {"ksg", "infonce"}
    if unknown:
        raise ValueError(f"unknown baseline(s) of the sample-size study: {sorted(unknown)}; valid: ksg, infonce")
    steps = get_budget(budget).steps
    parts = [dict(task=t, n=n, seed=s, method=m) for s in seeds for t in tasks for n in sizes
             for m in _arms(kinds, baselines, n, former_max, steps)]
    return load_or_compute(
        "ablation_sample_size", budget,
        lambda p: pd.DataFrame([_row(p["task"], p["n"], p["seed"], p["method"], budget, steps)], columns=COLUMNS[:-1]),
        {"tasks": list(tasks), "sizes": list(sizes), "former_max": former_max}, recompute, parts=parts,
        path=out, finished_only=finished_only, progress=progress)


def study_results(budget: str, seeds: Sequence[int] | None = None, recompute: bool = False,
                  finished_only: bool = False, root: str | Path | None = None,
                  progress: bool = True) -> pd.DataFrame:
    """The notebook's rows at ``budget`` (its plan in ``EXPERIMENTS``), stored in
    ``data/results/ablation_sample_size/<budget>/results.csv``. ``finished_only``: compute
    nothing, return the rows already stored; ``recompute``: start afresh."""
    from minde.repro.experiments import get_plan, results_path

    stem = "ablation_sample_size"
    plan = get_plan(stem, budget)
    opts = plan.options
    return run_sample_size_study(plan.tasks, opts["sizes"], plan.seeds if seeds is None else seeds,
                                 kinds=[m[-1] for m in plan.methods if m.startswith("minde_")], budget=budget,
                                 former_max=opts["former_max"], out=results_path(stem, budget, root),
                                 progress=progress, baselines=[m for m in plan.methods if not m.startswith("minde_")],
                                 recompute=recompute, finished_only=finished_only)
