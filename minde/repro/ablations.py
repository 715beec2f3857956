"""Ablations of docs/method.md §13: importance sampling, reference σ, EMA, entropies, compute cost.

Each ``run_*`` returns tidy rows (estimates in nats) and is called by its notebook through
``minde.repro.experiments.load_or_compute``, which caches the rows under data/results/<stem>/<budget>/.
"""
from __future__ import annotations

import multiprocessing as mp
import resource
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["fit_task", "fit_task_seeds", "run_importance_sampling", "run_sigma", "run_ema", "entropy_problem",
           "run_entropy", "run_compute_cost", "half_cube"]


def fit_task(task: str, kind: str, budget: str, seed: int, device: str = "auto",
             n_train: int | None = None, **kw: Any):
    """Sample ``task`` (docs/method.md §8) and fit one MINDE model; returns (model, x_test, y_test, truth)."""
    from minde.api import MINDE
    from minde.bench.tasks import get_task, sample
    from minde.config import get_budget

    b = get_budget(budget)
    x, y, xt, yt = sample(task, n_train or b.n_train, b.n_test, seed)
    model = MINDE(kind, budget=budget, seed=seed, device=device, progress=False, **kw).fit(x, y)
    return model, xt, yt, float(get_task(task).mi)


def fit_task_seeds(task: str, kind: str, budget: str, seeds: Sequence[int], device: str = "auto",
                   n_train: int | None = None, **kw: Any) -> list[tuple[Any, np.ndarray, np.ndarray, float]]:
    """``fit_task`` for several seeds (data seed = model seed), the models trained batched.

    The seeds' models train as one stacked computation (``minde.api.fit_estimate_group``'s
    machinery; on a CPU in cache-sized groups), each on its own seed's data, and each equals what
    ``fit_task`` gives for that seed. Returns one (model, x_test, y_test, truth) per seed.
    """
    if len(seeds) == 1:
        return [fit_task(task, kind, budget, seeds[0], device, n_train, **kw)]
    from minde.api import MINDE, _fit_group
    from minde.bench.tasks import get_task, sample
    from minde.config import get_budget

    b = get_budget(budget)
    data = [sample(task, n_train or b.n_train, b.n_test, s) for s in seeds]
    models = [MINDE(kind, budget=budget, seed=s, device=device, progress=False, **kw) for s in seeds]
    _fit_group(models, [(d[0], d[1]) for d in data])
    truth = float(get_task(task).mi)
    return [(m, d[2], d[3], truth) for m, d in zip(models, data)]


def _rows(est, **keys: Any) -> list[dict[str, Any]]:
    """Two tidy rows (difference inside / outside) of one MIEstimate."""
    return [dict(keys, variant=v, estimate=e, train_seconds=est.train_seconds,
                 estimate_seconds=est.estimate_seconds) for v, e in est.variants.items()]


def run_importance_sampling(budget: str, tasks: Sequence[str], kinds: Sequence[str] = ("c", "j"),
                            seeds: Sequence[int] = (0,), device: str = "auto") -> pd.DataFrame:
    """docs/method.md §4, §13: t ~ q(t) (importance sampling) vs t ~ U[ε, 1], in training and estimation."""
    rows = []
    for task in tasks:
        for kind in kinds:
            for is_on in (True, False):
                # the same sampler in training and estimation, whatever the budget trains with
                fits = fit_task_seeds(task, kind, budget, seeds, device, importance_sampling=is_on,
                                      train_importance_sampling=is_on)
                for seed, (m, xt, yt, truth) in zip(seeds, fits):
                    rows += _rows(m.estimate(xt, yt), task=task, kind=kind, seed=seed, truth=truth,
                                  sampling="importance" if is_on else "uniform")
    return pd.DataFrame(rows)


def run_sigma(budget: str, tasks: Sequence[str], sigmas: Sequence[float], kinds: Sequence[str] = ("c", "j"),
              seeds: Sequence[int] = (0,), device: str = "auto") -> pd.DataFrame:
    """docs/method.md §2, §13: the (σ) variants against the reference σ; one trained model per task/kind/seed.

    σ enters only the estimator (the reference score), so each model is estimated once per σ.
    """
    rows = []
    for task in tasks:
        for kind in kinds:
            for seed, (m, xt, yt, truth) in zip(seeds, fit_task_seeds(task, kind, budget, seeds, device)):
                for s in sigmas:
                    m.sigma = float(s)
                    rows += _rows(m.estimate(xt, yt), task=task, kind=kind, seed=seed, truth=truth, sigma=s)
    return pd.DataFrame(rows)


def run_ema(budget: str, tasks: Sequence[str], kinds: Sequence[str] = ("c", "j"),
            seeds: Sequence[int] = (0,), device: str = "auto") -> pd.DataFrame:
    """docs/method.md §7, §13: the same trained model estimated with EMA weights and with raw weights."""
    rows = []
    for task in tasks:
        for kind in kinds:
            for seed, (m, xt, yt, truth) in zip(seeds, fit_task_seeds(task, kind, budget, seeds, device)):
                for ema in (True, False):
                    rows += _rows(m.estimate(xt, yt, ema=ema), task=task, kind=kind, seed=seed,
                                  truth=truth, weights="EMA" if ema else "raw")
    return pd.DataFrame(rows)


def half_cube(x: np.ndarray) -> np.ndarray:
    """bmi's half-cube map x -> x·|x|^½ (elementwise, injective)."""
    return x * np.sqrt(np.abs(x))


def _log_jacobian(x: np.ndarray) -> np.ndarray:
    """log |d half_cube / dx| = log(1.5 |x|^½), summed over dimensions: (n,)."""
    return np.log(1.5 * np.sqrt(np.abs(x)) + 1e-300).sum(1)


def entropy_problem(dim: int, transform: str, n: int, seed: int,
                    rho: float = 0.6) -> tuple[np.ndarray, np.ndarray, dict[str, float]]:
    """X, Y: (n, dim) Gaussian pairs (corr ρ per coordinate), optionally half-cubed, and true entropies.

    For an elementwise bijection f, H(f(X)) = H(X) + E log|f'(X)|; the expectations are taken by
    Monte Carlo on 10⁶ draws (error < 1e-3 nats). Entropies in nats.
    """
    from minde.bench.gaussian import gaussian_entropy

    cov = np.block([[np.eye(dim), rho * np.eye(dim)], [rho * np.eye(dim), np.eye(dim)]])
    z = np.random.default_rng(seed).multivariate_normal(np.zeros(2 * dim), cov, size=n)
    h_x, h_xy = gaussian_entropy(np.eye(dim)), gaussian_entropy(cov)
    truth = {"H(X)": h_x, "H(X,Y)": h_xy, "H(X|Y)": h_xy - h_x, "H(Y|X)": h_xy - h_x}
    if transform == "half_cube":
        jac = float(_log_jacobian(np.random.default_rng(10**6 + seed).normal(size=(10**6, dim))).mean())
        truth = {k: v + (2 * jac if k == "H(X,Y)" else jac) for k, v in truth.items()}
        z = half_cube(z)
    elif transform != "none":
        raise ValueError(f"unknown transform {transform!r}; use 'none' or 'half_cube'")
    return z[:, :dim].astype(np.float32), z[:, dim:].astype(np.float32), truth


def run_entropy(budget: str, dims: Sequence[int], transforms: Sequence[str], kinds: Sequence[str] = ("c", "j"),
                seeds: Sequence[int] = (0,), device: str = "auto") -> pd.DataFrame:
    """docs/method.md §2, §13: MINDE's entropy by-products against closed-form entropies (nats)."""
    from minde.api import MINDE
    from minde.config import get_budget

    b, rows = get_budget(budget), []
    for dim in dims:
        for tr in transforms:
            for seed in seeds:
                x, y, truth = entropy_problem(dim, tr, b.n_train + b.n_test, seed)
                for kind in kinds:
                    m = MINDE(kind, budget=budget, seed=seed, device=device, progress=False)
                    est = m.fit(x[:b.n_train], y[:b.n_train]).estimate(x[b.n_train:], y[b.n_train:])
                    rows += [dict(problem=f"{tr} d={dim}", dim=dim, transform=tr, kind=kind, seed=seed,
                                  quantity=q, estimate=v, truth=truth[q]) for q, v in est.entropies.items()]
    return pd.DataFrame(rows)


def _measure_unit(task: str, method: str, n_train: int, n_test: int, seed: int, budget: str) -> dict[str, Any]:
    """Run one sweep unit in this (fresh) process; report its seconds and peak memory (MiB)."""
    import torch

    from minde.bench.tasks import sample
    from minde.repro.units import Unit, run_unit

    torch.set_num_threads(1)
    sample(task, n_train, n_test, seed)  # draw (or load) the data before measuring
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    rec = run_unit(Unit(task, method, n_train, n_test, seed, budget))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    gpu = torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else float("nan")
    return dict(status=rec.status, error=rec.error, wall_seconds=time.perf_counter() - start,
                train_seconds=rec.extra.get("train_seconds", rec.extra.get("method_seconds", np.nan)),
                estimate_seconds=rec.extra.get("estimate_seconds", np.nan),
                peak_rss_mib=peak, rss_increase_mib=peak - base, peak_gpu_mib=gpu)


def run_compute_cost(budget: str, tasks: Sequence[str], methods: Sequence[str], n_trains: Sequence[int],
                     seed: int = 0) -> pd.DataFrame:
    """docs/method.md §13: seconds and peak memory per (task, method, n_train), each in a fresh process.

    ``rss_increase_mib`` is the growth of the peak resident memory during the unit, after the
    imports and the data are in memory; ``peak_rss_mib`` includes the interpreter and libraries.
    """
    from minde.bench.tasks import get_task
    from minde.config import get_budget

    n_test, ctx = get_budget(budget).n_test, mp.get_context("spawn")
    rows = []
    for task in tasks:
        info = get_task(task)
        for n in n_trains:
            for method in methods:
                with ProcessPoolExecutor(1, mp_context=ctx) as pool:
                    r = pool.submit(_measure_unit, task, method, n, n_test, seed, budget).result()
                rows.append(dict(task=task, dims=f"{info.dim_x}+{info.dim_y}", method=method, n_train=n, **r))
    return pd.DataFrame(rows)
