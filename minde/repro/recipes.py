"""The training-recipe study: which schedule reaches the paper protocol's accuracy in fewer steps.

A *recipe* overrides the training settings of a budget (learning-rate schedule and warm-up, peak
learning rate, batch size, steps, t sampling in training, EMA decay, network width). ``run_recipe_screen``
trains every recipe on a set of tasks with several seeds (one batched computation per recipe,
task and kind) and records each seed's estimates and the training seconds per model, so recipes
are compared side by side, in one run, at matched wall time (docs/method.md §7, §13).

Beside the benchmark tasks, two problems outside it check that a recipe is not tuned to the
benchmark: an independent pair (MI = 0) and a correlated Gaussian seen through invertible
non-linear maps (MI unchanged by the maps, so known in closed form).
"""
from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["Recipe", "RECIPES", "STUDY_RECIPES", "SCREEN_TASKS", "EXTRA_TASKS", "run_recipe_screen", "study", "sample_problem",
           "subset_cross"]


@dataclass(frozen=True)
class Recipe:
    """Training overrides of one recipe; None keeps the budget's value."""

    steps: int | None = None  # optimiser steps
    lr_mult: float = 1.0  # peak lr = lr_mult x the paper's rule (1e-3 if d_x <= 5 else 2e-3)
    batch_size: int | None = None  # None: the paper's rule (128 if d_x <= 5 else 256)
    lr_schedule: str = "constant"  # constant | cosine | linear
    warmup: float = 0.0  # warm-up fraction of the steps
    train_importance_sampling: bool = True  # t ~ q(t) in training (False: uniform)
    importance_sampling: bool = True  # t ~ q(t) at estimation (False: uniform)
    ema_decay: float | None = None  # None: the budget's (0.999)
    joint_share: float | None = None  # MINDE-J: share of steps on the joint role (None: 0.5)
    batches: str = "replacement"  # mini-batch rows: with replacement | "epochs" (shuffled epochs)
    hidden_mult: int = 1  # hidden width = hidden_mult x the width rule (docs/method.md §6)

    def minde_kwargs(self, dim_x: int, kind: str = "c", dim_y: int | None = None) -> dict[str, Any]:
        """Keyword arguments of ``minde.MINDE`` of ``kind`` for a task with ``dim_x`` columns in X.

        A recipe that widens the network (``hidden_mult`` > 1) also needs ``dim_y``, since the
        width rule reads the total dimension.
        """
        kw = dict(steps=self.steps, lr=self.lr_mult * (1e-3 if dim_x <= 5 else 2e-3),
                  batch_size=self.batch_size, lr_schedule=self.lr_schedule, warmup=self.warmup,
                  train_importance_sampling=self.train_importance_sampling,
                  importance_sampling=self.importance_sampling, ema_decay=self.ema_decay,
                  batches=self.batches)
        if self.hidden_mult != 1:
            if dim_y is None:
                raise ValueError("a recipe with hidden_mult != 1 needs dim_y to apply the width rule")
            from minde.network import default_hidden

            kw["hidden"] = self.hidden_mult * default_hidden(dim_x + dim_y)
        if kind == "j" and self.joint_share is not None:  # the conditionals share the rest equally
            rest = (1.0 - self.joint_share) / 2
            kw["role_probs"] = (self.joint_share, rest, rest)
        return kw


# the candidates; "constant-is" is the quick budget's recipe before this study
RECIPES: dict[str, Recipe] = {
    "constant-is": Recipe(steps=10_000),
    "cosine-is": Recipe(steps=10_000, lr_mult=2.0, lr_schedule="cosine", warmup=0.05),
    "cosine-uniform": Recipe(steps=10_000, lr_mult=2.0, lr_schedule="cosine", warmup=0.05,
                             train_importance_sampling=False),
    "cosine-uniform-est": Recipe(steps=10_000, lr_mult=2.0, lr_schedule="cosine", warmup=0.05,
                                 train_importance_sampling=False, importance_sampling=False),
    "cosine-uniform-b512": Recipe(steps=4_000, lr_mult=4.0, batch_size=512, lr_schedule="cosine",
                                  warmup=0.05, train_importance_sampling=False),
    # MINDE-J's joint score is its worst fitted (docs/method.md §14): 80 % of the steps on it
    "cosine-uniform-j80": Recipe(steps=10_000, lr_mult=2.0, lr_schedule="cosine", warmup=0.05,
                                 train_importance_sampling=False, joint_share=0.8),
    # MINDE-J's roles weighted as in the authors' code (docs/method.md §15): the loss weights w of
    # section 5 give the joint role 40 % of the expected gradient at the default share of 0.5, and
    # half of it at a share of 0.6, as the authors' unweighted per-coordinate sums do at 0.5
    "cosine-uniform-j60": Recipe(steps=10_000, lr_mult=2.0, lr_schedule="cosine", warmup=0.05,
                                 train_importance_sampling=False, joint_share=0.6),
    # the paper's recipe with the authors' code's mini-batches (shuffled epochs; docs/method.md §15)
    "constant-is-epochs": Recipe(steps=10_000, batches="epochs"),
}
# each kind's quick recipe with a shorter EMA (about the last 100 steps instead of 1 000) or a
# network twice as wide (docs/method.md §13)
for _name in ("cosine-is", "cosine-uniform"):
    RECIPES[f"{_name}-ema99"] = replace(RECIPES[_name], ema_decay=0.99)
    RECIPES[f"{_name}-w2"] = replace(RECIPES[_name], hidden_mult=2)
# the wide network at matched training time: a step at twice the width cost 2.2-2.4x as much in
# one run at d <= 10, so 4 300 steps take about as long as the quick recipe's 10 000
RECIPES["cosine-uniform-w2-4k"] = replace(RECIPES["cosine-uniform-w2"], steps=4_300)

# the recipes the study (ablation_training_recipe.ipynb) compares
STUDY_RECIPES = ("constant-is", "cosine-is", "cosine-uniform", "cosine-uniform-b512")

# about eight representative benchmark tasks: 1v1, dense and sparse 5x5, Student, half-cube,
# spiral, one 25x25 and additive noise
SCREEN_TASKS = ("1v1-normal-0.75", "multinormal-dense-5-5-0.5", "multinormal-sparse-5-5-2-2.0",
                "student-identity-5-5-2", "half_cube-multinormal-sparse-5-5-2-2.0",
                "spiral-multinormal-sparse-5-5-2-2.0", "multinormal-sparse-25-25-2-2.0",
                "1v1-additive-0.75")
# problems outside the benchmark (see sample_problem)
EXTRA_TASKS = ("extra-independent-3-3", "extra-cubic-gaussian-3-3")


def _extra_sample(task: str, n: int, seed: int) -> tuple[np.ndarray, np.ndarray, float]:
    """(x, y, truth) of a problem outside the benchmark."""
    from minde.bench.gaussian import exact_gaussian_sample, gaussian_mi, random_covariance

    if task == "extra-independent-3-3":
        rng = np.random.default_rng(seed)
        return rng.normal(size=(n, 3)), rng.standard_t(4, size=(n, 3)), 0.0
    if task == "extra-cubic-gaussian-3-3":
        cov = random_covariance(3, 3, [0.8, 0.5], seed=11)
        z = exact_gaussian_sample(cov, n, seed)
        # invertible maps leave MI unchanged: x -> x^3 + x, y -> sinh(y)
        return z[:, :3] ** 3 + z[:, :3], np.sinh(z[:, 3:]), gaussian_mi(cov, 3)
    raise ValueError(f"unknown extra task {task!r}; known: {', '.join(EXTRA_TASKS)}")


def sample_problem(task: str, n_train: int, n_test: int, seed: int
                   ) -> tuple[tuple[np.ndarray, ...], float]:
    """((x_train, y_train, x_test, y_test), truth) for a benchmark or extra task."""
    if task in EXTRA_TASKS:
        x, y, truth = _extra_sample(task, n_train + n_test, seed)
        x, y = x.astype(np.float32), y.astype(np.float32)
        return (x[:n_train], y[:n_train], x[n_train:], y[n_train:]), truth
    from minde.bench.tasks import get_task, sample

    return sample(task, n_train, n_test, seed), float(get_task(task).mi)


def subset_cross(gram: np.ndarray) -> list[tuple[tuple[int, ...], float]]:
    """The cross-model estimate of every subset of k >= 2 of K models (docs/method.md §17), from
    their Gram matrix (K x K, mean over the passes): the mean of the subset's off-diagonal entries.
    Subsets in order of size, then lexicographic."""
    from itertools import combinations

    from minde.estimators import cross_model_mean

    k_all = gram.shape[-1]
    return [(sub, float(cross_model_mean(gram[np.ix_(sub, sub)])))
            for k in range(2, k_all + 1) for sub in combinations(range(k_all), k)]


def run_recipe_screen(recipes: dict[str, Recipe], tasks: Sequence[str], seeds: Sequence[int],
                      kinds: Sequence[str] = ("c", "j"), n_train: int = 10_000, n_test: int = 10_000,
                      budget: str = "quick", progress: bool = True, max_steps: int | None = None,
                      cross: bool = False) -> pd.DataFrame:
    """Train and estimate every (recipe, task, kind) with ``seeds`` as one batch; tidy rows.

    Rows: recipe, task, kind, variant (minde_c, minde_c_sigma, ...), seed, estimate, truth,
    steps, batch_size, lr, hidden, seconds (training seconds per model), git_rev (the code
    revision), plus the recipe's settings. ``max_steps`` caps every recipe's steps (in proportion), for plumbing checks at the
    smoke budget. ``study`` computes and stores it one (task, kind, recipe) at a time.

    ``cross`` (two seeds or more): the seeds' models are also evaluated jointly on the first
    seed's test rows (docs/method.md §17), and every subset of k >= 2 of them gives a row
    ``minde_<kind>_cross`` with ``models`` = k and ``subset`` = its seeds ("0-2-3"), read off
    the stored Gram matrix; the per-seed rows have ``models`` = 1.
    """
    from tqdm import tqdm

    from minde.api import fit_estimate_group
    from minde.repro.provenance import source_revision
    from minde.repro.results import is_joint_variant

    rev = source_revision()  # each row carries it: a study resumed later mixes revisions
    rows = []
    jobs = [(r, t, k) for t in tasks for k in kinds for r in recipes]
    for name, task, kind in tqdm(jobs, desc="recipes", disable=not progress or len(jobs) < 2):
        recipe = recipes[name]
        if max_steps is not None and recipe.steps is not None:
            recipe = replace(recipe, steps=max(1, recipe.steps * max_steps // 10_000))
        draws = [sample_problem(task, n_train, n_test, s) for s in seeds]
        dim_x, dim_y = draws[0][0][0].shape[1], draws[0][0][1].shape[1]
        start = time.perf_counter()
        joint = cross and len(seeds) >= 2
        results = fit_estimate_group(kind, [d for d, _ in draws], list(seeds), budget=budget,
                                     progress=False, cross=joint, **recipe.minde_kwargs(dim_x, kind, dim_y))
        wall = time.perf_counter() - start
        for seed, (_, truth), r in zip(seeds, draws, results):
            common = dict(recipe=name, task=task, kind=kind, truth=truth, steps=r.settings["steps"],
                          batch_size=r.settings["batch_size"], lr=r.settings["lr"],
                          hidden=r.settings["hidden"], seconds=r.train_seconds, group_seconds=wall,
                          git_rev=rev, **{f"recipe_{k}": v for k, v in asdict(recipe).items()})
            rows += [dict(variant=variant, seed=seed, estimate=value, models=1, subset=str(seed), **common)
                     for variant, value in r.variants.items() if not is_joint_variant(variant)]
        if joint:
            gram = np.asarray(results[0].cross.gram["mi"])
            rows += [dict(variant=f"minde_{kind}_cross", seed=seeds[0], estimate=est, models=len(sub),
                          subset="-".join(str(seeds[i]) for i in sub),
                          **{**common, "seconds": float(np.mean([r.train_seconds for r in results]))})
                     for sub, est in subset_cross(gram)]
    return pd.DataFrame(rows)


def study(recipes: Sequence[str], tasks: Sequence[str], seeds: Sequence[int], kinds: Sequence[str] = ("c", "j"),
          budget: str = "quick", max_steps: int | None = None, n_train: int = 10_000, cross: bool = False,
          path: str | Path | None = None, recompute: bool = False, progress: bool = True) -> pd.DataFrame:
    """The recipe study's rows (``run_recipe_screen``), stored one (task, kind, recipe) at a time
    (``minde.repro.store``; task-major, so a partial run compares every recipe on the tasks it has
    reached) in ``path`` (default: the notebook's table at ``budget``) and resumed from it."""
    from minde.repro.store import load_or_compute

    unknown = [r for r in recipes if r not in RECIPES]
    if unknown:
        raise ValueError(f"unknown recipe(s) {unknown}; known: {', '.join(RECIPES)}")
    params = dict(tasks=list(tasks), kinds=list(kinds), seeds=list(seeds), recipes=list(recipes), max_steps=max_steps)
    if n_train != 10_000:  # settings at their defaults are left out, as in the tables stored before them
        params["n_train"] = n_train
    if cross:
        params["cross"] = True
    return load_or_compute(
        "ablation_training_recipe", budget,
        lambda p: run_recipe_screen({p["recipe"]: RECIPES[p["recipe"]]}, [p["task"]], seeds, [p["kind"]],
                                    n_train=n_train, budget=budget, progress=False, max_steps=max_steps, cross=cross),
        params, recompute, recipe=False,  # every recipe sets its own training knobs
        parts=[{"task": t, "kind": k, "recipe": r} for t in tasks for k in kinds for r in recipes],
        path=path, progress=progress)


def main(argv: list[str] | None = None) -> int:
    """``minde recipes --out CSV [--recipes a,b] [--tasks ...] [--seeds 0-2]``."""
    import argparse

    from minde.repro.sweep import parse_seeds

    p = argparse.ArgumentParser(prog="minde recipes", description=__doc__.split("\n")[0])
    p.add_argument("--out", required=True, help="CSV of rows (its settings in <name>.meta.json, or meta.json "
                                                "beside a results.csv); finished groups are skipped on a rerun")
    # the defaults are the notebook's quick plan, so this command resumes exactly what
    # ablation_training_recipe.ipynb computes and reads (RECIPES also holds recipes it does not run)
    p.add_argument("--recipes", default=",".join(STUDY_RECIPES),
                   help=f"comma list of recipe names, of: {', '.join(RECIPES)} "
                        "(default: the notebook's quick plan)")
    p.add_argument("--tasks", default=",".join(SCREEN_TASKS + EXTRA_TASKS),
                   help="comma list of tasks (default: the notebook's quick plan)")
    p.add_argument("--kinds", default="c,j")
    p.add_argument("--seeds", default="0-2")
    p.add_argument("--n-train", type=int, default=10_000)
    p.add_argument("--cross", action="store_true",
                   help="also evaluate the seeds' models jointly: the cross-model estimate of every subset")
    a = p.parse_args(argv)
    try:
        study([r for r in a.recipes.split(",") if r], [t for t in a.tasks.split(",") if t], parse_seeds(a.seeds),
              kinds=a.kinds.split(","), n_train=a.n_train, cross=a.cross, path=a.out)
    except ValueError as exc:
        p.error(str(exc))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
