"""The sample-size study: MINDE's defaults on small data sets against the former defaults and KSG
(docs/method.md §18; ``notebooks/ablation_sample_size.ipynb``).

For each (task, n, seed): the first n rows of the task's draw for that seed are given whole to
``minde.estimate_mi`` with the budget's defaults (below 5 000 rows: 5 cross-fitted folds, steps
capped per training row; MINDE-J answers with the cross-model estimate of two models per fold or
split), whose answer is recorded, and, up to ``former_max`` rows, with the former defaults (one
model, one split with 10 % held out, the budget's fixed steps whatever n, the paper's
estimator); KSG (k = 5) reads the same n rows, and InfoNCE trains its critic on half of them and
scores the other half (bmi's own protocol). Rows are
saved after every (task, n, seed); a rerun computes only the (task, n, seed, method) rows still
missing, so an interrupted study resumes and a method added to the plan is filled in alone.
"""
from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from minde._io import atomic_write

__all__ = ["run_sample_size_study", "study_results", "COLUMNS"]

COLUMNS = ("task", "n", "seed", "method", "estimate", "stderr", "warned", "steps", "truth", "seconds",
           "git_rev")


def _load(path: Path | None) -> pd.DataFrame:
    return pd.read_csv(path) if path is not None and path.exists() else pd.DataFrame(columns=COLUMNS)


def _arms(kinds: Sequence[str], baselines: Sequence[str], n: int, former_max: int,
          steps: int | None) -> list[str]:
    """The method names one (task, n, seed) computes, in the order they run."""
    names = list(baselines)
    for kind in kinds:
        names += [f"minde_{kind}"] + ([f"minde_{kind}_former"] if n <= former_max and steps else [])
    return names


def run_sample_size_study(tasks: Sequence[str], sizes: Sequence[int], seeds: Sequence[int],
                          kinds: Sequence[str] = ("c", "j"), budget: str = "quick",
                          former_max: int = 2_000, out: str | Path | None = None,
                          progress: bool = True, baselines: Sequence[str] = ("ksg",)) -> pd.DataFrame:
    """Tidy rows (``COLUMNS``) of every (task, n, seed): methods ``minde_<kind>`` (the defaults),
    ``minde_<kind>_former`` (n <= ``former_max``) and the ``baselines`` ("ksg", "infonce");
    ``warned``: the result carries a reliability warning. With ``out`` (a CSV path) rows are
    saved after each (task, n, seed), and rows already there are not computed again."""
    from tqdm import tqdm

    import minde
    from minde.bench.baselines import estimate_baseline, ksg_mi
    from minde.bench.tasks import get_task, sample
    from minde.config import get_budget
    from minde.data import train_test_split
    from minde.repro.provenance import source_revision

    unknown = set(baselines) - {"ksg", "infonce"}
    if unknown:
        raise ValueError(f"unknown baseline(s) of the sample-size study: {sorted(unknown)}; valid: ksg, infonce")
    rev, steps = source_revision(), get_budget(budget).steps
    path = Path(out) if out is not None else None
    df = _load(path)
    done = set(zip(df["task"], df["n"].astype(int), df["seed"].astype(int), df["method"]))
    jobs = [(t, n, s, todo) for s in seeds for t in tasks for n in sizes
            if (todo := [m for m in _arms(kinds, baselines, n, former_max, steps) if (t, n, s, m) not in done])]
    for task, n, seed, todo in tqdm(jobs, desc="sample sizes", disable=not progress):
        x, y, _, _ = sample(task, n, 2, seed)
        truth = float(get_task(task).mi)
        rows = []
        for method in todo:
            start = time.perf_counter()
            if method == "ksg":
                rows.append(dict(method=method, estimate=ksg_mi(x, y, k=5), stderr=float("nan"),
                                 warned=False, steps=0))
            elif method == "infonce":
                x_tr, y_tr, x_te, y_te = train_test_split(x, y, 0.5, seed)
                r = estimate_baseline("infonce", x_tr, y_tr, x_te, y_te, budget=budget, seed=seed)
                rows.append(dict(method=method, estimate=r.estimate, stderr=float("nan"), warned=False, steps=0))
            else:
                kind, former = method[6], method.endswith("_former")
                kw = dict(folds=0, steps=steps, debias=False) if former else {}
                r = minde.estimate_mi(x, y, kind, budget=budget, seed=seed, progress=False, **kw)
                rows.append(dict(method=method, estimate=r.answer_mi, stderr=r.answer_stderr,
                                 warned=bool(r.warnings), steps=r.settings["steps"]))
            rows[-1]["seconds"] = time.perf_counter() - start
        new = pd.DataFrame([dict(task=task, n=n, seed=seed, truth=truth, git_rev=rev, **r) for r in rows],
                           columns=COLUMNS)
        df = new if df.empty else pd.concat([df, new], ignore_index=True)
        if path is not None:
            atomic_write(path, df.to_csv(index=False))
    return df


def study_results(budget: str, seeds: Sequence[int] | None = None, recompute: bool = False,
                  finished_only: bool = False, root: str | Path | None = None,
                  progress: bool = True) -> pd.DataFrame:
    """The notebook's rows at ``budget`` (its plan in ``EXPERIMENTS``): resumed from, and saved to,
    ``data/results/ablation_sample_size/<budget>/results.csv``. ``finished_only``: compute
    nothing, return the rows already saved; ``recompute``: start afresh."""
    from minde.repro.experiments import EXPERIMENTS, budget_fingerprint, results_path
    from minde.repro.results import write_meta

    stem = "ablation_sample_size"
    plan = EXPERIMENTS[stem].plans[budget]
    path = results_path(stem, budget, root)
    if recompute and path.exists():
        path.unlink()
    if finished_only:
        return _load(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    opts = plan.options
    df = run_sample_size_study(plan.tasks, opts["sizes"], plan.seeds if seeds is None else seeds,
                               kinds=[m[-1] for m in plan.methods if m.startswith("minde_")], budget=budget,
                               former_max=opts["former_max"], out=path, progress=progress,
                               baselines=[m for m in plan.methods if not m.startswith("minde_")])
    write_meta(stem, budget, path.parent.parent.parent,
               params={"tasks": list(plan.tasks), "sizes": list(opts["sizes"]),
                       "former_max": opts["former_max"], "budget_settings": budget_fingerprint(budget)})
    return df
