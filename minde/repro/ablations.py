"""Ablations of docs/method.md §13: importance sampling, reference σ, EMA, entropies, compute cost,
and the learned-versus-exact score error decomposition on Gaussian tasks (docs/method.md §3, §4, §14).

Each ``run_*`` returns tidy rows (estimates in nats) and is called by its notebook through
``minde.repro.store.load_or_compute``, which stores the rows, task by task, under
data/results/<stem>/<budget>/.
"""
from __future__ import annotations

import multiprocessing as mp
import resource
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["fit_task", "fit_task_seeds", "run_importance_sampling", "run_sigma", "run_ema", "entropy_problem",
           "run_entropy", "run_compute_cost", "half_cube", "score_error_terms", "model_score_error",
           "run_score_error"]


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


# ---------------------------------------------------------------------------------------------
# Score error decomposition on Gaussian tasks (docs/method.md §3, §4, §14)
# ---------------------------------------------------------------------------------------------

# Roles whose learned scores a hybrid takes (the others exact), per kind: (conditional side, other side).
_HYBRIDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "c": (("X|Y",), ("X",)),
    "j": (("XY",), ("X|Y", "Y|X")),
}


def score_error_terms(learned: Callable, exact: Callable, x: Any, y: Any, kind: str, *, sde: Any,
                      sampler: Any, sigma: float, mc_iter: int, generator: Callable[[], Any],
                      batch_size: int = 8192) -> dict[str, np.ndarray]:
    """Per-pass values (mc_iter,) of the estimator with learned, exact and hybrid scores (docs/method.md §3, §4).

    ``learned`` and ``exact`` are noise predictors with ``estimate_terms``' signature; x, y are the
    standardised test set (tensors on the device); ``generator()`` must return a fresh generator in
    the same state at every call, so that every evaluation below sees the SAME t and eps draws.
    Each configuration is ``estimate_terms`` run with a noise predictor that takes some roles from
    ``learned`` and the rest from ``exact``:

    - ``mi[<cfg>]``, ``mi_sigma[<cfg>]`` for cfg in learned, exact and the two hybrids
      ``learned:<roles>`` (kind "j": learned joint / learned conditionals; kind "c": learned
      conditional / learned marginal);
    - ``energy[<role>]`` = E int Λ ||eps_learned - eps_exact||² dt of one role: the "difference
      inside" term of a predictor that returns the error on that role and 0 on the others, so it
      has exactly the estimator's weighting and dimensions;
    - ``energy[diff]``: the same with the error on every role, i.e. the energy of the error of the
      difference the estimator squares (e_XY - [e_X|Y, e_Y|X] for "j", e_X|Y - e_X for "c");
    - derived, pass by pass: ``shift[<cfg>]`` = mi[cfg] - mi[exact]; ``cross`` = shift[learned] -
      energy[diff] (twice the inner product of exact difference and its error);
      ``interaction`` = shift[learned] minus the hybrids' shifts; ``sigma_shift[<cfg>]`` and
      ``sigma_energy`` = the energies with the signs of the (σ) variant.
    """
    import torch

    from minde.estimation import EVAL_MASKS, estimate_terms
    from minde.estimators import mi_sigma_from_terms

    if kind not in _HYBRIDS:
        raise ValueError(f"unknown kind {kind!r}; use 'c' or 'j'")
    names = tuple(EVAL_MASKS[kind])
    role_of = {m.roles: n for n, m in EVAL_MASKS[kind].items()}

    def run(fn: Callable) -> dict[str, np.ndarray]:
        terms = estimate_terms(fn, x, y, kind, sde=sde, sampler=sampler, sigma=sigma, mc_iter=mc_iter,
                               generators=[generator()], batch_size=batch_size)
        out = {k: v[0].double().cpu().numpy() for k, v in terms.items()}
        out["mi_sigma"] = mi_sigma_from_terms(kind, out)
        return out

    def mixed(from_learned: tuple[str, ...]) -> Callable:
        return lambda z, t, m: (learned if role_of[m.roles] in from_learned else exact)(z, t, m)

    def error(on: tuple[str, ...]) -> Callable:
        return lambda z, t, m: (learned(z, t, m) - exact(z, t, m) if role_of[m.roles] in on
                                else torch.zeros_like(z))

    side_a, side_b = _HYBRIDS[kind]
    configs = {"learned": names, "exact": (), f"learned:{','.join(side_a)}": side_a,
               f"learned:{','.join(side_b)}": side_b}
    res: dict[str, np.ndarray] = {}
    for cfg, roles in configs.items():
        terms = run(mixed(roles))
        res[f"mi[{cfg}]"], res[f"mi_sigma[{cfg}]"] = terms["mi"], terms["mi_sigma"]
    for role in names:
        res[f"energy[{role}]"] = run(error((role,)))["mi"]
    res["energy[diff]"] = run(error(names))["mi"]
    for cfg in configs:
        res[f"shift[{cfg}]"] = res[f"mi[{cfg}]"] - res["mi[exact]"]
        res[f"sigma_shift[{cfg}]"] = res[f"mi_sigma[{cfg}]"] - res["mi_sigma[exact]"]
    hybrids = [c for c in configs if c.startswith("learned:")]
    res["cross"] = res["shift[learned]"] - res["energy[diff]"]
    res["interaction"] = res["shift[learned]"] - sum(res[f"shift[{c}]"] for c in hybrids)
    # (σ) variants: gap_X|Y - gap_X (c), gap_X|Y + gap_Y|X - gap_XY (j); each gap gains its role's energy
    res["sigma_energy"] = (res["energy[X|Y]"] - res["energy[X]"] if kind == "c" else
                           res["energy[X|Y]"] + res["energy[Y|X]"] - res["energy[XY]"])
    return res


def model_score_error(model: Any, x_test: np.ndarray, y_test: np.ndarray, task: str,
                      seed: int) -> list[dict[str, Any]]:
    """Tidy rows (task, seed, kind, role_probs, steps, quantity, value, stderr) of one trained model
    (docs/method.md §3, §14); role_probs: how often training drew each of the kind's masks, e.g. "0.5/0.25/0.25".

    The test set and the trained noise predictor are those ``model.estimate`` evaluates, drawn with
    the model's evaluation generator, so ``mi[learned]`` equals ``model.estimate(x_test, y_test).mi``; the exact
    scores are those of the task's Gaussian after the same standardisation. Values are means over
    the model's ``mc_iter`` passes (nats), stderr their standard error across passes.
    """
    from minde.bench.tasks import get_task
    from minde.masks import resolved_role_probs

    if model.n_seeds != 1:
        raise ValueError(f"model_score_error takes a model of one seed, not an ensemble of {model.n_seeds}")
    from minde.bench.gaussian import ShiftedGaussianOracle, standardised_gaussian, task_gaussian

    mean, cov, dim_x = task_gaussian(task)
    mean_s, cov_s = standardised_gaussian(mean, cov, model._sx, model._sy)
    xs, ys, learned = model._eval_inputs(x_test, y_test)  # exactly what model.estimate evaluates
    start = time.perf_counter()
    passes = score_error_terms(
        learned, ShiftedGaussianOracle(cov_s, mean_s, dim_x, model.sde, model.device), xs, ys, model.kind,
        sde=model.sde, sampler=model.sampler, sigma=model.sigma, mc_iter=model.settings.mc_iter,
        generator=lambda: model._eval_generators()[0], batch_size=model.eval_batch_size)
    seconds = time.perf_counter() - start
    probs = resolved_role_probs(model.kind, model.role_probs)
    keys = dict(task=task, seed=seed, kind=model.kind, role_probs="/".join(f"{p:g}" for p in probs),
                steps=model.settings.steps)
    rows = [dict(keys, quantity="truth", value=float(get_task(task).mi), stderr=0.0)]
    for q, v in passes.items():
        se = float(v.std(ddof=1) / np.sqrt(v.size)) if v.size > 1 else float("nan")
        rows.append(dict(keys, quantity=q, value=float(v.mean()), stderr=se))
    rows += [dict(keys, quantity="train_seconds", value=float(model.train_result.seconds), stderr=float("nan")),
             dict(keys, quantity="score_error_seconds", value=seconds, stderr=float("nan"))]
    return rows


def run_score_error(budget: str, tasks: Sequence[str], seeds: Sequence[int] = (0,),
                    kinds: Sequence[str] = ("c", "j"), device: str = "auto", **kw: Any) -> pd.DataFrame:
    """docs/method.md §3, §4, §14: how much of MINDE's error on Gaussian tasks is score error, by role.

    Trains one model per (task, kind, seed) (``fit_task_seeds``) and, on its standardised test set
    with the same t and eps draws, evaluates the estimator with the learned scores, the exact ones
    and the hybrids, and the error energy of each role (``score_error_terms``). Tidy rows:
    task, seed, kind, role_probs, steps, quantity, value (nats, or seconds for ``*_seconds``), stderr.
    ``kw`` goes to ``MINDE`` (e.g. ``role_probs=(0.2, 0.4, 0.4)`` with one kind, or ``steps``).
    """
    from minde.bench.gaussian import task_gaussian

    rows: list[dict[str, Any]] = []
    for task in tasks:
        task_gaussian(task)  # fail before training when the task has no closed-form scores
        for kind in kinds:
            fits = fit_task_seeds(task, kind, budget, seeds, device, **kw)
            for seed, (m, xt, yt, _) in zip(seeds, fits):
                rows += model_score_error(m, xt, yt, task, seed)
    return pd.DataFrame(rows)
