"""What each notebook computes at each budget, the files it declares, and cached loading (docs/method.md §8-§13).

``EXPERIMENTS`` maps a notebook stem to a ``NotebookSpec``: the paper item, the figure and table
stems it writes (``declared_outputs``) and one ``Plan`` per budget (tasks, methods, seeds,
training sizes, notebook knobs). The notebooks read their plan from here, so a notebook holds
only its parameters cell, one call that loads or computes results, and plotting.
Imports no torch at module level.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from minde._io import figure_dir, results_root
from minde.config import BUDGETS
from minde.repro import claims as C
from minde.repro.claims import Claim, Verdict
from minde.repro.recipes import EXTRA_TASKS, SCREEN_TASKS, STUDY_RECIPES

if TYPE_CHECKING:
    from minde.repro.units import EpochRule

__all__ = ["Plan", "NotebookSpec", "EXPERIMENTS", "BUDGET_NAMES", "get_plan", "declared_outputs",
           "available_methods", "sweep_results", "results_path", "split_tasks",
           "add_task_info", "output_stem", "results_folder", "judge", "check_seeds", "estimate_kinds", "wants_joint",
           "epoch_rule"]

BUDGET_NAMES = tuple(BUDGETS)  # smoke, quick, paper: the one budget table is minde.config.BUDGETS
ALL_BASELINES = ("mine", "infonce", "nwj", "dv", "ksg", "cca", "kde", "doe_gauss", "doe_logistic")
MINDE_UNITS = ("minde_c", "minde_j")
SMOKE_BENCH = ("1v1-normal-0.75", "multinormal-sparse-3-3-2-2.0", "student-identity-3-3-2",
               "half_cube-multinormal-sparse-3-3-2-2.0")  # 2 of tasks 1-20, 2 of tasks 21-40
QUICK_ABLATION = ("1v1-normal-0.75", "multinormal-sparse-5-5-2-2.0")
SIGMAS = (0.5, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0)  # docs/method.md §13 reference σ grid


@dataclass(frozen=True)
class Plan:
    """What one notebook computes at one budget (docs/method.md §8-§13)."""

    tasks: tuple[str, ...] = ()  # task ids or groups (minde.repro.sweep.resolve_tasks), e.g. "highmi:2,10"
    methods: tuple[str, ...] = ()  # minde_c, minde_j and/or baselines (sweep units)
    seeds: tuple[int, ...] = (0,)  # data = initialisation seeds
    n_train: tuple[int, ...] | None = None  # training sizes; None: the budget's n_train
    options: dict[str, Any] = field(default_factory=dict)  # notebook-specific knobs
    experiment: str | None = None  # results folder at this budget; None: the notebook's


@dataclass(frozen=True)
class NotebookSpec:
    """One notebook's registry entry: the paper item it reproduces, the files it writes, its plan
    per budget, where its results live and the claim its verdict tests."""

    paper_item: str  # e.g. "Figure 1"; "(unverified)" where docs/method.md §13 leaves the mapping open
    figures: tuple[str, ...]  # figure stems, each written as .pdf and .png
    tables: tuple[str, ...] = ()  # table stems, each written as .csv
    plans: dict[str, Plan] = field(default_factory=dict)  # budget -> plan
    experiment: str | None = None  # results folder data/results/<experiment>/<budget>/; None: the stem
    claim: Claim | None = None  # the paper's claim and the verdict function that tests it
    store: str = "table"  # "sweep": unit records; "table": a cached CSV with its meta.json
    own_recipe: bool = False  # every computation sets its own training knobs (not the budget's recipe)


def estimate_kinds(x: Any, y: Any, kinds: Sequence[str] = ("c", "j"), workers: int | None = None,
                   **kwargs: Any) -> dict[str, Any]:
    """``minde.estimate_mi(x, y, kind=k, **kwargs)`` for every kind k, one process per kind.

    ``workers``: at most this many processes (None: one per kind, capped at the CPU count; 1: in
    this process). Each process trains with one torch thread, as this process would, so the
    estimates equal a serial run's on the same CPU. On a GPU the kinds run here, one after another.
    """
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    from minde.api import estimate_mi
    from minde.utils import resolve_device

    n = len(kinds) if workers is None else int(workers)
    if n < 1:
        raise ValueError(f"workers must be a positive integer or None, got {workers!r}")
    n = min(n, len(kinds), os.cpu_count() or 1)
    if n == 1 or resolve_device(kwargs.get("device", "auto")).type != "cpu":
        return {k: estimate_mi(x, y, kind=k, **kwargs) for k in kinds}
    with ProcessPoolExecutor(n, mp_context=get_context("spawn")) as pool:  # spawn: safe after torch
        futures = {k: pool.submit(estimate_mi, x, y, kind=k, **kwargs) for k in kinds}
        return {k: f.result() for k, f in futures.items()}


def check_seeds(seeds: Sequence[int]) -> tuple[int, ...]:
    """Seeds trained as one MINDE seed group (``MINDE(seed=s0, n_seeds=K)`` trains s0, ..., s0+K-1):
    consecutive non-negative integers; returned as a tuple of ints."""
    items = list(seeds) if isinstance(seeds, (list, tuple, range)) else None
    ok = bool(items) and all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) for s in items)
    if not ok or items[0] < 0 or items != list(range(items[0], items[0] + len(items))):
        raise ValueError(f"seeds must be consecutive non-negative integers such as [0, 1, 2]; got {seeds!r}")
    return tuple(int(s) for s in items)


def _plans(smoke: Plan, quick: Plan, paper: Plan) -> dict[str, Plan]:
    """The three budgets' plans."""
    return {"smoke": smoke, "quick": quick, "paper": paper}


_ABL_SMOKE = Plan(("1v1-normal-0.75",), ("minde_c", "minde_j"), (0,))
# quick plans that estimate MI train 3 seeds (one batched computation), so figures show mean ± std
QUICK_SEEDS = (0, 1, 2)
_ABL_QUICK = Plan(QUICK_ABLATION, ("minde_c", "minde_j"), QUICK_SEEDS)
_ABL_PAPER = Plan(("1v1-normal-0.75", "multinormal-sparse-5-5-2-2.0",
                   "half_cube-multinormal-sparse-5-5-2-2.0", "spiral-multinormal-sparse-5-5-2-2.0",
                   "student-identity-3-3-2"), ("minde_c", "minde_j"), (0, 1, 2, 3, 4))
# quick: the baselines of the 40-task quick sweep (one neural, one nonparametric, one closed form);
# the full set of docs/method.md §9 runs at the paper budget
# the recipe study (minde.repro.recipes): 8 benchmark tasks + 2 outside it, both kinds, 3 seeds
_RECIPE_PLAN = Plan(SCREEN_TASKS + EXTRA_TASKS, ("minde_c", "minde_j"), (0, 1, 2),
                    options={"recipes": STUDY_RECIPES, "max_steps": None})
_QUICK_BASE = ("infonce", "ksg", "cca")
# options of a plan's sweep: "cross" trains all seeds of a MINDE unit as one group and evaluates
# them jointly (docs/method.md §17), so the figures can draw the MINDE-J answer of two models
# (minde.repro.results.ANSWER_VARIANTS); "joint" shows every joint variant (the debiasing study)
_JOINT = {"cross": True, "joint": True}

# Figures 3-4 and Table 1 read the same units of the 40-task benchmark
_BENCHMARK = _plans(Plan(SMOKE_BENCH, ("minde_c", "minde_j", "cca", "ksg")),
                    Plan(("benchmark",), MINDE_UNITS + _QUICK_BASE, QUICK_SEEDS),
                    Plan(("benchmark",), MINDE_UNITS + ALL_BASELINES, tuple(range(10))))


def _rows(fn: Callable[[pd.DataFrame], Verdict]) -> Callable[[pd.DataFrame, str, Plan], Verdict]:
    """A verdict function of the results alone, as the registry calls it: (results, budget, plan)."""
    return lambda df, budget, plan: fn(df)


# The registry: one entry per notebook, in the report's order (the paper's items, then beyond it).
# Adding a notebook means adding its entry here and the notebook itself (docs/operations.md).
EXPERIMENTS: dict[str, NotebookSpec] = {
    "00_quickstart": NotebookSpec(
        "Quickstart (bivariate normal, all four MINDE variants)", ("00_quickstart",),
        plans=_plans(Plan(seeds=(0, 1), options={"rho": 0.75, "n": 2_000, "steps": None, "test_size": 0.5}),
                     Plan(seeds=QUICK_SEEDS, options={"rho": 0.75, "n": 20_000, "steps": None, "test_size": 0.5}),
                     Plan(seeds=QUICK_SEEDS, options={"rho": 0.75, "n": 110_000, "steps": None,
                                                      "test_size": 0.1})),
        claim=Claim(
            "Quickstart", "all four MINDE variants recover a bivariate normal's MI",
            "On a bivariate normal with correlation 0.75, whose MI is known in closed form, all four MINDE "
            "estimators (docs/method.md §3) recover the true MI.", _rows(C.quickstart_verdict))),
    "fig01_high_mi_benchmark": NotebookSpec(
        "Figure 1 (high-MI benchmark; construction per docs/method.md §10)", ("fig01_high_mi_benchmark",),
        plans=_plans(Plan(("highmi:2,20",), ("minde_c", "cca")),
                     Plan(("highmi:2,10,50",), MINDE_UNITS + _QUICK_BASE, QUICK_SEEDS),
                     Plan(("highmi",), MINDE_UNITS + ALL_BASELINES, tuple(range(10)))),
        store="sweep",
        claim=Claim(
            "Figure 1", "MINDE tracks high MI better than the baselines",
            "As the true MI grows (construction per docs/method.md §10), MINDE's estimates "
            "stay closer to the truth than those of the neural, nonparametric and closed-form baselines, which "
            "fall short at high MI (the paper's Figure 1).", _rows(C.high_mi_verdict))),
    "fig02_consistency_mnist": NotebookSpec(
        "Figure 2 (MNIST self-consistency tests)", ("fig02_consistency_mnist",), ("fig02_consistency_mnist",),
        # seeds share the autoencoders; MINDE trains them as one seed group (at hidden 256 on a CPU
        # that costs about as much as one model per seed)
        plans=_plans(Plan(methods=("minde_c", "minde_j"), seeds=(0, 1)),  # smoke: no InfoNCE (JAX start-up ~30 s)
                     Plan(methods=("minde_c", "minde_j", "infonce"), seeds=QUICK_SEEDS),
                     Plan(methods=("minde_c", "minde_j", "infonce"), seeds=QUICK_SEEDS)),
        store="consistency",
        claim=Claim(
            "Figure 2", "MINDE passes the MNIST self-consistency tests",
            "On MNIST latents, MINDE passes the three self-consistency tests of docs/method.md §11 (the paper's "
            "Figure 2): the MI of an image with its top r rows rises monotonically to its ceiling, adding "
            "a further crop leaves it unchanged (data processing, ratio 1), and it doubles on two independent "
            "pairs (additivity, ratio 2), where baselines such as InfoNCE fail additivity.",
            _rows(C.consistency_verdict))),
    "fig03_benchmark_tasks": NotebookSpec(
        "Figures 3-4 (40-task benchmark, per task)",
        ("fig03_benchmark_tasks_1_20", "fig04_benchmark_tasks_21_40"), experiment="benchmark",
        plans=_BENCHMARK,
        store="sweep",
        claim=Claim(
            "Figures 3–4", "MINDE is closer to the truth than the baselines on the 40 tasks",
            "Over the 40 tasks of the bmi benchmark (docs/method.md §8), MINDE's per-task estimates lie closer "
            "to the ground truth than the baselines' (the paper's Figures 3 and 4).", _rows(C.benchmark_verdict))),
    "tab01_benchmark_table": NotebookSpec(
        "Table 1 (40-task benchmark table, coloured by bias)", ("tab01_benchmark_table",),
        ("tab01_benchmark_table", "tab01_summary"), experiment="benchmark",
        plans=_BENCHMARK,  # the same units as fig03_benchmark_tasks
        store="sweep",
        claim=Claim(
            "Table 1", "MINDE has the lowest error over the 40 tasks",
            "The paper's Table 1 summarises the 40-task benchmark (docs/method.md §8): MINDE's mean absolute "
            "error over the tasks is lower than every baseline's.", _rows(C.benchmark_verdict))),
    "fig05_training_size": NotebookSpec(
        "Figures 5-8 (training-size ablation)",
        ("fig05_training_size", "fig06_training_size", "fig07_training_size", "fig08_training_size"),
        plans=_plans(Plan(("1v1-normal-0.75", "multinormal-sparse-2-2-2-2.0", "student-identity-2-2-2",
                           "spiral-multinormal-sparse-3-3-2-2.0"), ("minde_c", "cca"), (0,), (500, 2_000)),
                     # the steps grow with the training size as the paper's claim assumes: 128 epochs,
                     # at most 30 000 steps (docs/method.md §12); seeds trained and evaluated together
                     Plan(("1v1-normal-0.75", "student-identity-1-1-1", "multinormal-sparse-2-2-2-2.0",
                           "student-identity-5-5-2", "half_cube-multinormal-sparse-3-3-2-2.0",
                           "spiral-multinormal-sparse-3-3-2-2.0"),
                          MINDE_UNITS + ("ksg", "cca", "doe_gauss"), QUICK_SEEDS, (5_000, 10_000, 50_000),
                          options={"cross": True, "epochs": 128, "epoch_cap": 30_000}, experiment="training_size"),
                     # the paper's Figures 5-8 are the benchmark's units at four training sizes,
                     # so at this budget they share the benchmark's results folder
                     Plan(("benchmark",), MINDE_UNITS + ALL_BASELINES, (0, 1, 2, 3, 4),
                          (5_000, 10_000, 50_000, 100_000), experiment="benchmark")),
        store="sweep",
        claim=Claim(
            "Figures 5–8", "MINDE's error decreases as the training set grows",
            "MINDE's estimates approach the truth as the training set grows (docs/method.md §12; the paper's "
            "Figures 5–8), while weaker baselines stay biased.", _rows(C.training_size_verdict))),
    "ablation_importance_sampling": NotebookSpec(
        "Ablation: importance sampling vs uniform t (unverified: Fig. 9-11 / Tab. 2-5)",
        ("ablation_importance_sampling",), ("ablation_importance_sampling",),
        plans=_plans(_ABL_SMOKE, _ABL_QUICK, _ABL_PAPER),
        claim=Claim(
            "Ablation: importance sampling", "importance sampling of t lowers error and variance",
            "The paper samples t from q(t) ∝ β(t)/σ_t² in training and estimation (docs/method.md §4); that "
            "choice predicts lower error, and lower variance over seeds, than uniform t. Mapping to the "
            "paper's figures and tables is unverified (docs/method.md §13).", _rows(C.importance_sampling_verdict))),
    "ablation_sigma": NotebookSpec(
        "Ablation: σ of the Gaussian reference (unverified)", ("ablation_sigma",), ("ablation_sigma",),
        plans=_plans(Plan(_ABL_SMOKE.tasks, _ABL_SMOKE.methods, (0,), options={"sigmas": (0.5, 1.0, 5.0)}),
                     Plan(_ABL_QUICK.tasks, _ABL_QUICK.methods, QUICK_SEEDS, options={"sigmas": SIGMAS}),
                     Plan(_ABL_PAPER.tasks, _ABL_PAPER.methods, _ABL_PAPER.seeds, options={"sigmas": SIGMAS})),
        claim=Claim(
            "Ablation: σ of the reference", "the (σ) estimators are insensitive to σ",
            "With exact scores the (σ) estimators do not depend on the σ of the Gaussian reference "
            "(docs/method.md §2, §3), so the paper's fixed choice predicts estimates insensitive to σ. Mapping "
            "to the paper's numbering is unverified (docs/method.md §13).", _rows(C.sigma_verdict))),
    "ablation_ema": NotebookSpec(
        "Ablation: EMA vs raw weights (unverified)", ("ablation_ema",), ("ablation_ema",),
        plans=_plans(_ABL_SMOKE, _ABL_QUICK, _ABL_PAPER),
        claim=Claim(
            "Ablation: EMA", "EMA weights give better estimates than raw weights",
            "The paper estimates with an exponential moving average of the weights (decay 0.999, docs/method.md "
            "§7); that choice predicts lower error than the raw last-step weights. Mapping to the paper's "
            "numbering is unverified (docs/method.md §13).", _rows(C.ema_verdict))),
    "ablation_entropy": NotebookSpec(
        "Entropy estimation vs closed form (unverified)", ("ablation_entropy",), ("ablation_entropy",),
        plans=_plans(Plan(methods=("minde_c", "minde_j"), options={"dims": (1, 3), "transforms": ("none", "half_cube")}),
                     Plan(methods=("minde_c", "minde_j"), seeds=QUICK_SEEDS,
                          options={"dims": (1, 5), "transforms": ("none", "half_cube")}),
                     Plan(methods=("minde_c", "minde_j"), seeds=(0, 1, 2),
                          options={"dims": (1, 2, 5, 10, 25), "transforms": ("none", "half_cube")})),
        claim=Claim(
            "Ablation: entropy", "MINDE's entropies match closed forms",
            "MINDE estimates entropies as a by-product (docs/method.md §2, §3): on Gaussian pairs and their "
            "half-cube transforms they match the closed-form entropies. Mapping to the paper's numbering is "
            "unverified (docs/method.md §13).", _rows(C.entropy_verdict))),
    "tab_compute_cost": NotebookSpec(
        "Compute cost: time and peak memory (unverified)", ("tab_compute_cost",), ("tab_compute_cost",),
        plans=_plans(Plan(("multinormal-sparse-5-5-2-2.0",), ("minde_c", "cca"), (0,), (2_000,)),
                     Plan(("1v1-normal-0.75", "multinormal-sparse-5-5-2-2.0", "multinormal-dense-25-25-0.5"),
                          ("minde_c", "minde_j", "ksg", "cca", "infonce"), (0,), (10_000,)),
                     Plan(("1v1-normal-0.75", "multinormal-sparse-5-5-2-2.0", "multinormal-dense-25-25-0.5",
                           "multinormal-dense-50-50-0.5"), MINDE_UNITS + ALL_BASELINES, (0,),
                          (10_000, 100_000))),
        claim=Claim(
            "Compute cost", "a quick-budget MINDE model trains in about 30 s",
            "No cost figure of the paper could be checked here (docs/method.md §13), so the stated claim "
            "checked is this repository's: at the quick budget a MINDE model of a small task trains in about "
            "30 s (10 000 steps) on one free CPU thread (README, \"Budgets\").",
            lambda df, budget, plan: C.compute_cost_verdict(df, budget))),
    "ablation_training_recipe": NotebookSpec(
        "Training recipe study (beyond the paper)", ("ablation_training_recipe",), ("ablation_training_recipe",),
        plans=_plans(Plan(("1v1-normal-0.75", "extra-cubic-gaussian-3-3"), ("minde_c",), (0,),
                          options={"recipes": ("constant-is", "cosine-uniform"), "max_steps": 200}),
                     _RECIPE_PLAN, _RECIPE_PLAN),
        own_recipe=True,  # every recipe of the study sets its own training knobs
        claim=Claim(
            "Recipe study (beyond the paper)", "a training recipe beats the paper's at the same step budget",
            "Not a claim of the paper: a learning-rate warm-up and decay (and, optionally, uniform t in "
            "training) should reach the paper protocol's accuracy with far fewer steps than its constant-rate "
            "recipe (docs/method.md §7, §13).", _rows(C.recipe_verdict))),
    "ablation_debiasing": NotebookSpec(
        "Debiased MINDE: cross-model estimates (beyond the paper)", ("ablation_debiasing",),
        ("ablation_debiasing",), experiment="benchmark",
        # the benchmark's MINDE units with all seeds of a unit trained and evaluated together
        plans=_plans(Plan(SMOKE_BENCH, MINDE_UNITS, (0, 1), options=_JOINT),
                     Plan(("benchmark",), MINDE_UNITS, QUICK_SEEDS, options=_JOINT),
                     Plan(("benchmark",), MINDE_UNITS, (0, 1, 2), (10_000,), options=_JOINT)),
        store="sweep",
        claim=Claim(
            "Debiased MINDE (beyond the paper)", "cross-model MINDE-J is accurate in high dimensions",
            "Not a claim of the paper: averaging inner products of different seed models' score differences "
            "on shared draws cancels the part of the networks' error that differs between models "
            "(docs/method.md §17), so MINDE-J, which the paper's estimator biases upwards on wide tasks, "
            "should come within 0.1 nats on nearly every benchmark task.", _rows(C.debiasing_verdict))),
    "ablation_sample_size": NotebookSpec(
        "Small data sets: the defaults against the former ones, KSG and InfoNCE (beyond the paper)",
        ("ablation_sample_size",), ("ablation_sample_size",),
        # each (task, n, seed): the first n rows of the task's draw given whole to estimate_mi
        plans=_plans(Plan(("1v1-normal-0.75",), MINDE_UNITS + ("ksg", "infonce"), (0,),
                          options={"sizes": (250, 1_000), "former_max": 250}),
                     Plan(("1v1-normal-0.75", "multinormal-dense-3-3-0.5"), MINDE_UNITS + ("ksg", "infonce"), QUICK_SEEDS,
                          options={"sizes": (250, 500, 1_000, 2_000, 5_000, 10_000), "former_max": 2_000}),
                     Plan(("1v1-normal-0.75", "multinormal-dense-3-3-0.5"), MINDE_UNITS + ("ksg", "infonce"), QUICK_SEEDS,
                          options={"sizes": (250, 500, 1_000, 2_000, 5_000, 10_000), "former_max": 0})),
        claim=Claim(
            "Small data sets (beyond the paper)", "the defaults do not mislead silently on small data",
            "Not a claim of the paper: with training length that follows the rows and cross-fitting "
            "(docs/method.md §18), MINDE's default estimate on a few hundred to a few thousand rows is either "
            "close to the truth or carries a warning, never silently far off as the former fixed-step "
            "defaults were.", C.sample_size_verdict)),
}


def check_budget(budget: str) -> str:
    """A clear error for an unknown budget name."""
    if budget not in BUDGET_NAMES:
        raise ValueError(f"unknown budget {budget!r}; valid budgets: {', '.join(BUDGET_NAMES)}")
    return budget


def get_plan(stem: str, budget: str) -> Plan:
    """The plan of notebook ``stem`` at ``budget``."""
    check_budget(budget)
    return EXPERIMENTS[stem].plans[budget]


def results_folder(stem: str, budget: str) -> str:
    """The results folder of notebook ``stem`` at ``budget``: ``data/results/<this>/<budget>/``."""
    return get_plan(stem, budget).experiment or EXPERIMENTS[stem].experiment or stem


def judge(stem: str, df: pd.DataFrame | None, budget: str) -> Verdict:
    """The verdict of notebook ``stem``'s claim on its results ``df`` at ``budget`` (None: no
    results); the last cell of every notebook and the claims report both call this."""
    claim = EXPERIMENTS[stem].claim
    if claim is None:
        raise KeyError(f"notebook {stem!r} has no claim in minde.repro.experiments.EXPERIMENTS")
    return claim.verdict(pd.DataFrame() if df is None else df, check_budget(budget), get_plan(stem, budget))


def declared_outputs(stem: str, budget: str, root: str | os.PathLike | None = None,
                     n_train: int | Sequence[int] | None = None) -> list[Path]:
    """the files notebook ``stem`` writes at ``budget`` (figures .pdf/.png, tables .csv); with
    ``n_train`` (a notebook parameter replacing the plan's sizes) their stems end in ``_n<size>``."""
    spec, out = EXPERIMENTS[stem], figure_dir(check_budget(budget), root)
    return ([out / f"{output_stem(f, n_train)}.{ext}" for f in spec.figures for ext in ("pdf", "png")]
            + [out / f"{output_stem(t, n_train)}.csv" for t in spec.tables])


def available_methods(methods: Sequence[str]) -> list[str]:
    """Methods of the plan that can run here; baselines are dropped (with a note) if missing."""
    try:
        from minde.bench.baselines import BASELINES
    except ImportError:
        BASELINES = ()  # noqa: N806
    keep = [m for m in methods if m in MINDE_UNITS or m in BASELINES]
    if len(keep) < len(methods):
        print(f"note: skipping unavailable methods {sorted(set(methods) - set(keep))}")
    return keep


def results_path(experiment: str, budget: str, root: str | os.PathLike | None = None) -> Path:
    """``data/results/<experiment>/<budget>/results.csv``."""
    base = Path(root) if root is not None else results_root()
    return base / experiment / check_budget(budget) / "results.csv"


def sweep_results(stem: str, budget: str, recompute: bool = False, seeds: Sequence[int] | None = None,
                  workers: int | None = None, scheduler: str | None = None,
                  root: str | os.PathLike | None = None, n_train: int | Sequence[int] | None = None,
                  finished_only: bool = False) -> pd.DataFrame:
    """Tidy rows of the notebook's sweep: finished units are loaded, missing ones computed.

    ``seeds`` / ``n_train`` replace the plan's (e.g. ``budget="paper", n_train=10000, seeds=[0, 1, 2]``:
    the paper's protocol at its 10 000-sample point). ``finished_only``: compute nothing and
    return the finished units among those requested (a partial sweep plots what it has).
    """
    from minde.repro.sweep import run_sweep

    plan, experiment = get_plan(stem, budget), results_folder(stem, budget)
    sizes = plan.n_train if n_train is None else ([n_train] if isinstance(n_train, int) else list(n_train))
    rule = epoch_rule(stem, budget)
    df = run_sweep(experiment, budget, plan.tasks, available_methods(plan.methods),
                   seeds=list(seeds if seeds is not None else plan.seeds), n_train=sizes, out=root,
                   recompute=recompute, workers=workers, scheduler=scheduler, progress=False,
                   dry_run=finished_only, cross=bool(plan.options.get("cross", False)), epochs=rule,
                   echo=(lambda text: print(text.splitlines()[0])) if finished_only else print)
    if "variant" in df:  # joint evaluations: the debiasing study's, and the answer's everywhere (§17)
        from minde.repro.results import shown_variant

        joint = wants_joint(stem, budget)
        df = df[df["variant"].map(lambda v: shown_variant(v, joint)).astype(bool)].reset_index(drop=True)
    if finished_only and not df.empty:  # a record of an earlier recipe is not a finished unit
        from minde.repro.results import load_units
        from minde.repro.units import outdated_records

        stale = outdated_records(load_units(experiment, budget, root), budget, rule)
        keep = [k not in stale for k in zip(df["task"], df["method"], df["n_train"], df["seed"])]
        if not all(keep):
            print(f"left out {len(keep) - sum(keep)} row(s) of units trained with an earlier recipe of the "
                  f"{budget} budget")
            df = df[keep].reset_index(drop=True)
    return df


def epoch_rule(stem: str, budget: str) -> EpochRule | None:
    """The steps rule of notebook ``stem``'s plan at ``budget`` (plan options "epochs" and
    "epoch_cap"), or None: its MINDE units train for the budget's steps."""
    from minde.repro.units import EpochRule

    options = get_plan(stem, budget).options
    return EpochRule(options["epochs"], options.get("epoch_cap")) if "epochs" in options else None


def wants_joint(stem: str, budget: str) -> bool:
    """Does notebook ``stem`` show the seed groups' joint (cross-model) evaluations at ``budget``?
    Only the plans that ask for them (docs/method.md §17); the paper's figures show the answer
    variants alone (``minde.repro.results.shown_variant``)."""
    return bool(get_plan(stem, budget).options.get("joint", False))


def output_stem(stem: str, n_train: int | Sequence[int] | None = None) -> str:
    """A figure or table stem, suffixed ``_n<size>`` when one training size replaces the plan's
    (``fig03_benchmark_tasks_1_20_n10000``: the paper protocol at n = 10 000)."""
    if n_train is None:
        return stem
    sizes = [n_train] if isinstance(n_train, int) else list(n_train)
    return f"{stem}_n{'-'.join(str(int(n)) for n in sizes)}"


def split_tasks(tasks: Sequence[str], n_groups: int) -> list[list[str]]:
    """Split tasks into ``n_groups`` by their position among the 40 benchmark tasks (docs/method.md §8, §12)."""
    from minde.bench import tasks as T

    order = {t.id: i for i, t in enumerate(T.list_tasks("benchmark"))}
    size = len(order) // n_groups
    groups: list[list[str]] = [[] for _ in range(n_groups)]
    for t in sorted(tasks, key=lambda t: order.get(t, len(order))):
        groups[min(order.get(t, len(order)) // size, n_groups - 1)].append(t)
    return groups


def add_task_info(agg: pd.DataFrame) -> pd.DataFrame:
    """Add the high-MI transform and strength columns (docs/method.md §10) from the task ids."""
    from minde.bench import tasks as T

    info = {t: T.get_task(t) for t in agg["task"].unique()}
    return agg.assign(transform=[info[t].transform for t in agg["task"]],
                      strength=[info[t].strength for t in agg["task"]])
