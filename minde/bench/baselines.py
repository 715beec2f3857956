"""Every non-MINDE MI estimator behind one call, ``estimate_baseline`` (docs/method.md §9).

Which data each method sees (n_train/n_test are the splits of ``minde.bench.tasks.sample``):

| method                  | fitted on | estimate on | implementation                                   |
|-------------------------|-----------|-------------|--------------------------------------------------|
| mine, infonce, nwj, dv  | train     | test        | bmi 0.1.3's JAX critics, losses and training loops |
| ksg                     | -         | test        | own KSG-1 (k = 10), same metric as bmi's          |
| kde                     | -         | test        | bmi's KDE plug-in, Gaussian kernel, Scott bandwidth |
| cca                     | train     | -           | closed form: whitening + SVD (test split unused)  |
| doe_gauss, doe_logistic | train     | test        | torch, ``minde.bench.doe``                              |

Neural critics: bmi's ``NeuralEstimatorBase.estimate_with_info`` standardises all the data and then
splits it 50/50 at random; here the same steps run on the given splits instead (standardised with
the training statistics): bmi's ``MLP`` critic (hidden (32, 32, 8) if dim_x <= 10 else
(128, 128, 8)), Adam lr 1e-3, batch 256, bmi's ``basic_training`` (``mine_training`` for MINE) with
its early stopping; the estimate is bmi's ``final_mi``, the best held-out value over the
checkpoints. InfoNCE, NWJ and DV score each checkpoint with ``minde.bench.critic_eval``'s blocked
forms of bmi's all-pairs bounds (the same pairs and formulas, summed in another order). At the smoke and quick budgets a checkpoint is evaluated on at most
``critic_eval_max`` test points (an all-pairs bound costs O(n_test²): ~8 s at 10k on one core);
InfoNCE cannot exceed the log of that number (log 2000 = 7.6 nats at the quick budget). The
critics use bmi 0.1.3's private training functions (``basic_training``, ``mine_training``); the
package is pinned, so they are stable here.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
from scipy.spatial.distance import cdist
from scipy.special import digamma

from minde.bench.critic_eval import TEST_FORMULAS
from minde.bench.critic_train import basic_training
from minde.bench.doe import DoEConfig, doe_estimate
from minde.bench.tasks import import_bmi, jax_cpu
from minde.data import check_not_constant

__all__ = [
    "BASELINES",
    "BaselineBudget",
    "BASELINE_BUDGETS",
    "BaselineResult",
    "estimate_baseline",
    "cca_mi",
    "ksg_mi",
    "doe_settings",
]

BASELINES: tuple[str, ...] = (
    "mine", "infonce", "nwj", "dv", "ksg", "cca", "kde", "doe_gauss", "doe_logistic"
)
Budget = Literal["smoke", "quick", "paper"]


@dataclass(frozen=True)
class BaselineBudget:
    """How much work the trained baselines do at one budget (docs/method.md §9)."""

    critic_steps: int  # max training steps of MINE/InfoNCE/NWJ/DV (bmi early stopping may end sooner)
    critic_test_every: int  # steps between held-out checkpoints (early stopping, best-value pick)
    critic_eval_max: int | None  # test points per checkpoint (None: the whole test split)
    doe_steps: int  # Adam steps of each DoE density (the other DoE settings: DoEConfig's defaults)
    kde_max_points: int | None  # KDE uses at most this many test points (None: all)


BASELINE_BUDGETS: dict[str, BaselineBudget] = {
    # smoke: exercises every code path in seconds; estimates are rough
    "smoke": BaselineBudget(
        critic_steps=100, critic_test_every=50, critic_eval_max=1000, doe_steps=200, kde_max_points=1000
    ),
    # quick: one 1v1 critic run takes ~25 s on one loaded CPU core (an all-pairs step costs ~50 ms)
    "quick": BaselineBudget(
        critic_steps=500, critic_test_every=100, critic_eval_max=2000, doe_steps=3000, kde_max_points=None
    ),
    # paper: the critics "up to 200k steps" with bmi's default checkpoint interval; DoE the 3 000 steps
    # of the authors' released DoE runs (docs/method.md §9: 200 000 overfit it)
    "paper": BaselineBudget(
        critic_steps=200_000, critic_test_every=250, critic_eval_max=None, doe_steps=3000, kde_max_points=None
    ),
}


@dataclass(frozen=True)
class BaselineResult:
    """One baseline estimate (docs/method.md §9)."""

    method: str  # one of BASELINES
    estimate: float  # estimated I(X; Y), nats
    seconds: float  # wall-clock seconds of the whole call (including JAX compilation)


def _as_2d(name: str, a: Any) -> np.ndarray:
    """Validate one input array: numeric, finite, 1-D (read as (n, 1)) or 2-D, non-empty (docs/method.md §9)."""
    arr = np.asarray(a)
    if arr.dtype.kind not in "fiu" or arr.dtype == bool:
        raise ValueError(f"{name} must be a real-valued array, got dtype {arr.dtype}")
    if arr.ndim == 1:
        arr = arr.reshape(-1, 1)
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name} must have shape (n, dim) with n, dim >= 1, got {np.shape(a)}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains non-finite values")
    return arr.astype(np.float64 if arr.dtype == np.float64 else np.float32, copy=False)


def _validate(x_train: Any, y_train: Any, x_test: Any, y_test: Any) -> tuple[np.ndarray, ...]:
    """Check shapes across the four arrays; return them as 2-D float arrays (docs/method.md §9)."""
    names = ("x_train", "y_train", "x_test", "y_test")
    xtr, ytr, xte, yte = (_as_2d(n, a) for n, a in zip(names, (x_train, y_train, x_test, y_test)))
    if len(xtr) != len(ytr):
        raise ValueError(f"x_train and y_train have different row counts: {len(xtr)} != {len(ytr)}")
    if len(xte) != len(yte):
        raise ValueError(f"x_test and y_test have different row counts: {len(xte)} != {len(yte)}")
    if xtr.shape[1] != xte.shape[1] or ytr.shape[1] != yte.shape[1]:
        raise ValueError(
            f"train and test dims differ: x {xtr.shape[1]} vs {xte.shape[1]}, y {ytr.shape[1]} vs {yte.shape[1]}"
        )
    return xtr, ytr, xte, yte


def _standardise(train: np.ndarray, test: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Scale both splits with the training mean and std, float32; a constant column is an error."""
    mean, std = train.mean(axis=0), train.std(axis=0)
    check_not_constant(name, mean, std)
    return ((train - mean) / std).astype(np.float32), ((test - mean) / std).astype(np.float32)


def cca_mi(x: np.ndarray, y: np.ndarray) -> float:
    """Gaussian MI from canonical correlations, -½ Σ log(1 - rho_i²), nats (docs/method.md §9).

    Closed form: whiten X and Y with their inverse covariance square roots, then the singular
    values of the whitened cross-covariance are the canonical correlations rho_i.

    Args:
        x: (n, dim_x), y: (n, dim_y); n must exceed dim_x + dim_y.
    """
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    x, y = x - x.mean(axis=0), y - y.mean(axis=0)
    n = len(x)

    def inv_sqrt(cov: np.ndarray, name: str) -> np.ndarray:
        vals, vecs = np.linalg.eigh(cov)
        if vals.min() <= 1e-12 * max(vals.max(), 1e-300):
            raise ValueError(f"covariance of {name} is singular; CCA needs full-rank data")
        return (vecs / np.sqrt(vals)) @ vecs.T

    wx, wy = inv_sqrt(x.T @ x / n, "x"), inv_sqrt(y.T @ y / n, "y")
    rho = np.linalg.svd(wx @ (x.T @ y / n) @ wy, compute_uv=False)
    rho = np.clip(rho, 0.0, 1.0)
    with np.errstate(divide="ignore"):
        return float(-0.5 * np.sum(np.log1p(-(rho**2))))


def ksg_mi(x: np.ndarray, y: np.ndarray, k: int = 10, chunk_size: int = 256) -> float:
    """KSG estimator (Kraskov et al. 2004, first variant) of I(X; Y), nats (docs/method.md §9).

    Matches bmi's ``KSGEnsembleFirstEstimator(neighborhoods=(k,))``: each variable standardised,
    Euclidean distance within X and within Y, the maximum of the two in the joint space;
    I = psi(k) + psi(n) - mean[psi(n_x + 1) + psi(n_y + 1)], with n_x (n_y) the points strictly
    closer in X (Y) than the k-th joint neighbour. Unlike bmi, a negative estimate is not clipped.

    Args:
        x: (n, dim_x), y: (n, dim_y), n > k.
        k: neighbourhood size.
        chunk_size: rows per block of the O(n²) distance computation (memory ~ 3 · chunk · n · 8 B).
    """
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    n = len(x)
    if n <= k:
        raise ValueError(f"KSG with k={k} needs more than {k} points, got {n}")
    for name, a in (("x", x), ("y", y)):
        check_not_constant(name, a.mean(axis=0), a.std(axis=0))
    x = (x - x.mean(axis=0)) / x.std(axis=0)
    y = (y - y.mean(axis=0)) / y.std(axis=0)
    total = 0.0
    for start in range(0, n, chunk_size):
        dx = cdist(x[start : start + chunk_size], x)
        dy = cdist(y[start : start + chunk_size], y)
        eps = np.partition(np.maximum(dx, dy), k, axis=1)[:, k]  # index 0 is the point itself
        n_x = np.maximum((dx < eps[:, None]).sum(axis=1) - 1, 0)  # duplicates (eps = 0) -> 0
        n_y = np.maximum((dy < eps[:, None]).sum(axis=1) - 1, 0)
        total += float(np.sum(digamma(n_x + 1) + digamma(n_y + 1)))
    return float(digamma(k) + digamma(n) - total / n)


def _critic_mi(
    method: str,
    xtr: np.ndarray,
    ytr: np.ndarray,
    xte: np.ndarray,
    yte: np.ndarray,
    budget: BaselineBudget,
    seed: int,
) -> float:
    """Train one of bmi's critics on train, return its best held-out MI (nats) (docs/method.md §9)."""
    import_bmi()
    import jax
    import jax.numpy as jnp
    from bmi.estimators.neural import _backend_quadratic_memory as quadratic
    from bmi.estimators.neural._critics import MLP
    from bmi.estimators.neural._mine_estimator import mine_training

    xtr, xte = _standardise(xtr, xte, "x_train")
    ytr, yte = _standardise(ytr, yte, "y_train")
    if budget.critic_eval_max is not None:
        xte, yte = xte[: budget.critic_eval_max], yte[: budget.critic_eval_max]
    hidden = (32, 32, 8) if xtr.shape[1] <= 10 else (128, 128, 8)
    key_init, _key_split, key_fit = jax.random.split(jax.random.PRNGKey(seed), 3)  # bmi's key use
    critic = MLP(key=key_init, dim_x=xtr.shape[1], dim_y=ytr.shape[1], hidden_layers=hidden)
    arrays = dict(
        xs=jnp.asarray(xtr), ys=jnp.asarray(ytr), xs_test=jnp.asarray(xte), ys_test=jnp.asarray(yte)
    )
    common = dict(
        rng=key_fit, critic=critic, batch_size=min(256, len(xtr)), learning_rate=1e-3, verbose=False,
        test_every_n_steps=min(budget.critic_test_every, budget.critic_steps), max_n_steps=budget.critic_steps,
    )
    if method == "mine":
        log, _ = mine_training(**common, **arrays, alpha=0.9)  # bmi's default smoothing
    else:
        name = {"infonce": "infonce", "nwj": "nwj", "dv": "donsker_varadhan"}[method]
        # bmi's loop with each step one compiled call (minde.bench.critic_train) and the
        # checkpoints' all-pairs bounds in blocks (minde.bench.critic_eval): bmi's values to float32
        # rounding, up to twice as fast on the quick budget's 2 000 test points
        formulas = dict(mi_formula=getattr(quadratic, name), mi_formula_test=TEST_FORMULAS[name])
        log, _ = basic_training(**common, **arrays, **formulas)
    return float(log.final_mi)


def _kde_mi(xte: np.ndarray, yte: np.ndarray, budget: BaselineBudget) -> float:
    """bmi's KDE plug-in h(X) + h(Y) - h(X, Y) on the test split, Gaussian kernel (docs/method.md §9)."""
    import_bmi()
    import bmi.estimators

    m = budget.kde_max_points or len(xte)
    est = bmi.estimators.KDEMutualInformationEstimator(
        kernel_xy="gaussian", bandwidth_xy="scott", standardize=True
    )
    return float(est.estimate(xte[:m], yte[:m]))


def _dispatch(method: str, data: tuple[np.ndarray, ...], budget: BaselineBudget, seed: int) -> float:
    """Run one method on validated (x_train, y_train, x_test, y_test) (docs/method.md §9)."""
    xtr, ytr, xte, yte = data
    if method in ("mine", "infonce", "nwj", "dv"):
        with jax_cpu():
            return _critic_mi(method, xtr, ytr, xte, yte, budget, seed)
    if method == "ksg":
        return ksg_mi(xte, yte, k=10)
    if method == "cca":
        return cca_mi(xtr, ytr)
    if method == "kde":
        with jax_cpu():
            return _kde_mi(xte, yte, budget)
    return doe_estimate(xtr, ytr, xte, yte, _doe_config(method, budget), seed=seed)


def _doe_config(method: str, budget: BaselineBudget) -> DoEConfig:
    return DoEConfig(density="gauss" if method == "doe_gauss" else "logistic", n_steps=budget.doe_steps)


def doe_settings(method: str, budget: Budget) -> dict[str, Any]:
    """The settings a DoE unit (``doe_gauss``, ``doe_logistic``) fits with at ``budget``, as its
    record keeps them (``extra["settings"]``): a record made with others is stale."""
    return asdict(_doe_config(method, BASELINE_BUDGETS[budget]))


def estimate_baseline(
    method: str,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    *,
    budget: Budget = "quick",
    seed: int = 0,
) -> BaselineResult:
    """Estimate I(X; Y) in nats with one non-MINDE method (docs/method.md §9).

    Args:
        method: one of ``BASELINES``.
        x_train: (n_train, dim_x), y_train: (n_train, dim_y): training split (1-D is read as (n, 1)).
        x_test: (n_test, dim_x), y_test: (n_test, dim_y): held-out split.
        budget: "smoke" | "quick" | "paper", see ``BASELINE_BUDGETS``.
        seed: integer >= 0 driving initialisation and mini-batches of the trained methods.

    Returns:
        BaselineResult(method, estimate [nats], seconds).

    Raises:
        ValueError: unknown method or budget, or invalid arrays or seed.
        RuntimeError: the method produced a non-finite estimate.
    """
    if method not in BASELINES:
        raise ValueError(f"unknown baseline {method!r}; valid: {', '.join(BASELINES)}")
    if budget not in BASELINE_BUDGETS:
        raise ValueError(f"unknown budget {budget!r}; valid: {', '.join(BASELINE_BUDGETS)}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be an int >= 0, got {seed!r}")
    data = _validate(x_train, y_train, x_test, y_test)
    start = time.perf_counter()
    estimate = _dispatch(method, data, BASELINE_BUDGETS[budget], int(seed))
    seconds = time.perf_counter() - start
    if not np.isfinite(estimate):
        raise RuntimeError(
            f"baseline {method!r} returned a non-finite estimate ({estimate}) at budget {budget!r}"
        )
    return BaselineResult(method=method, estimate=float(estimate), seconds=seconds)
