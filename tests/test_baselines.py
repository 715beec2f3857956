"""Tests of minde.bench.baselines against closed-form Gaussian MI and bmi's estimators (docs/method.md §9)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from minde.bench import baselines
from minde.bench.baselines import BASELINES, BaselineResult, cca_mi, estimate_baseline, ksg_mi

RHO = 0.75
MI_1V1 = -0.5 * math.log(1 - RHO**2)  # 0.4133 nats, bmi's 1v1-normal-0.75


def gaussian_1v1(n: int, seed: int, rho: float = RHO) -> tuple[np.ndarray, np.ndarray]:
    """(n, 1) x and y, unit variances, correlation rho."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 1))
    y = rho * x + math.sqrt(1 - rho**2) * rng.normal(size=(n, 1))
    return x.astype(np.float32), y.astype(np.float32)


def gaussian_joint(n: int, seed: int, dim_x: int, dim_y: int) -> tuple[np.ndarray, np.ndarray, float]:
    """Samples of a random full-rank Gaussian (X, Y) and its MI -½ log(det Σ / det Σxx det Σyy)."""
    rng = np.random.default_rng(1000 + dim_x * 10 + dim_y)
    a = rng.normal(size=(dim_x + dim_y, dim_x + dim_y))
    cov = a @ a.T + 0.5 * np.eye(dim_x + dim_y)
    _, logdet = np.linalg.slogdet(cov)
    _, logdet_x = np.linalg.slogdet(cov[:dim_x, :dim_x])
    _, logdet_y = np.linalg.slogdet(cov[dim_x:, dim_x:])
    xy = np.random.default_rng(seed).multivariate_normal(np.zeros(dim_x + dim_y), cov, size=n)
    return xy[:, :dim_x], xy[:, dim_x:], -0.5 * (logdet - logdet_x - logdet_y)


@pytest.fixture(scope="module")
def data_1v1() -> tuple[np.ndarray, ...]:
    x_tr, y_tr = gaussian_1v1(1000, seed=0)
    x_te, y_te = gaussian_1v1(1000, seed=1)
    return x_tr, y_tr, x_te, y_te


# NWJ and DV share InfoNCE's critic training (only the bound differs): the first tier runs MINE and
# InfoNCE, the second all four
_SECOND_TIER = {"nwj", "dv"}


@pytest.mark.parametrize("method", [pytest.param(m, marks=pytest.mark.slow) if m in _SECOND_TIER else m
                                    for m in BASELINES])
def test_smoke_budget_finite(method: str, data_1v1: tuple[np.ndarray, ...]) -> None:
    """Every baseline returns a finite, plausible estimate on a 1v1 Gaussian at the smoke budget."""
    res = estimate_baseline(method, *data_1v1, budget="smoke", seed=0)
    assert isinstance(res, BaselineResult) and res.method == method
    assert math.isfinite(res.estimate) and res.seconds >= 0
    assert abs(res.estimate - MI_1V1) < 0.35, res  # loose: smoke training is very short


@pytest.mark.parametrize("dims", [(1, 1), (2, 2), (3, 2), (5, 3)])
def test_cca_matches_bmi(dims: tuple[int, int]) -> None:
    from minde.bench.tasks import import_bmi

    import_bmi()
    import bmi.estimators

    x, y, _ = gaussian_joint(3000, seed=2, dim_x=dims[0], dim_y=dims[1])
    ours = cca_mi(x, y)
    theirs = bmi.estimators.CCAMutualInformationEstimator().estimate(x, y)
    assert ours == pytest.approx(theirs, abs=1e-3)


def test_cca_matches_bmi_task() -> None:
    """Closed-form CCA agrees with bmi's on a benchmark Gaussian task's own samples."""
    from minde.bench import tasks

    tasks.import_bmi()  # forces jax onto the CPU before bmi loads
    import bmi.estimators

    x, y, _, _ = tasks.sample("multinormal-sparse-5-5-2-2.0", 2000, 10, seed=0)
    theirs = bmi.estimators.CCAMutualInformationEstimator().estimate(x, y)
    assert cca_mi(x, y) == pytest.approx(theirs, abs=1e-3)


def test_cca_3x2_close_to_truth() -> None:
    x, y, truth = gaussian_joint(20_000, seed=3, dim_x=3, dim_y=2)
    assert cca_mi(x, y) == pytest.approx(truth, abs=0.02)
    res = estimate_baseline("cca", x[:10_000], y[:10_000], x[10_000:], y[10_000:], budget="smoke")
    assert res.estimate == pytest.approx(truth, abs=0.03)  # fitted on the 10k training split only


def test_cca_invariant_to_affine_maps() -> None:
    x, y, _ = gaussian_joint(2000, seed=4, dim_x=3, dim_y=2)
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(3, 3)), rng.normal(size=(2, 2))
    assert cca_mi(x @ a + 5.0, y @ b - 2.0) == pytest.approx(cca_mi(x, y), abs=1e-8)


def test_ksg_1v1_close_to_truth() -> None:
    x, y = gaussian_1v1(5000, seed=5)
    assert ksg_mi(x, y, k=10) == pytest.approx(MI_1V1, abs=0.05)


def test_ksg_matches_bmi() -> None:
    from minde.bench.tasks import import_bmi

    import_bmi()
    import bmi.estimators

    x, y, _ = gaussian_joint(600, seed=6, dim_x=3, dim_y=2)
    theirs = bmi.estimators.KSGEnsembleFirstEstimator(neighborhoods=(10,)).estimate(x, y)
    assert ksg_mi(x, y, k=10, chunk_size=100) == pytest.approx(theirs, abs=1e-6)


def test_ksg_independent_near_zero() -> None:
    rng = np.random.default_rng(7)
    assert abs(ksg_mi(rng.normal(size=(3000, 2)), rng.normal(size=(3000, 2)))) < 0.03


def test_estimate_baseline_uses_test_split_for_ksg(data_1v1: tuple[np.ndarray, ...]) -> None:
    x_tr, y_tr, x_te, y_te = data_1v1
    res = estimate_baseline("ksg", x_tr[:50], y_tr[:50], x_te, y_te, budget="smoke")
    assert res.estimate == pytest.approx(ksg_mi(x_te, y_te, k=10), abs=1e-9)


def test_seed_reproducible(data_1v1: tuple[np.ndarray, ...]) -> None:
    a = estimate_baseline("doe_gauss", *data_1v1, budget="smoke", seed=3)
    b = estimate_baseline("doe_gauss", *data_1v1, budget="smoke", seed=3)
    assert a.estimate == b.estimate


def test_unknown_method_and_budget(data_1v1: tuple[np.ndarray, ...]) -> None:
    with pytest.raises(ValueError, match="infonce"):
        estimate_baseline("info_nce", *data_1v1)
    with pytest.raises(ValueError, match="smoke"):
        estimate_baseline("cca", *data_1v1, budget="huge")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="seed"):
        estimate_baseline("cca", *data_1v1, seed=-1)


def test_input_validation() -> None:
    x, y = gaussian_1v1(100, seed=8)
    res = estimate_baseline("cca", x[:, 0], y[:, 0], x[:, 0], y[:, 0], budget="smoke")  # 1-D accepted
    assert math.isfinite(res.estimate)
    bad_nan = x.copy()
    bad_nan[3, 0] = np.nan
    cases = [
        ((x[:90], y, x, y), "row counts"),
        ((x, y, x[:90], y), "row counts"),
        ((bad_nan, y, x, y), "non-finite"),
        ((x.reshape(100, 1, 1), y, x, y), "shape"),
        ((x, y, np.hstack([x, x]), y), "dims differ"),
        ((np.array(["a"] * 100), y, x, y), "real-valued"),
        ((np.zeros((0, 1)), np.zeros((0, 1)), x, y), "shape"),
    ]
    for args, match in cases:
        with pytest.raises(ValueError, match=match):
            estimate_baseline("cca", *args, budget="smoke")


def test_non_finite_estimate_raises(monkeypatch: pytest.MonkeyPatch, data_1v1: tuple[np.ndarray, ...]) -> None:
    monkeypatch.setattr(baselines, "cca_mi", lambda x, y: float("inf"))
    with pytest.raises(RuntimeError, match="cca"):
        estimate_baseline("cca", *data_1v1, budget="smoke")


def test_budgets_table() -> None:
    assert set(baselines.BASELINE_BUDGETS) == {"smoke", "quick", "paper"}
    paper = baselines.BASELINE_BUDGETS["paper"]
    assert paper.critic_steps == 200_000 and paper.critic_eval_max is None  # docs/method.md §9
    for b in baselines.BASELINE_BUDGETS.values():
        assert b.critic_test_every <= b.critic_steps


@pytest.mark.slow
@pytest.mark.parametrize("method", ["doe_gauss", "doe_logistic", "kde", "mine"])
def test_quick_budget_1v1_accuracy(method: str) -> None:
    """At the quick budget, these baselines land within 0.1 nats on the 1v1 Gaussian."""
    x_tr, y_tr = gaussian_1v1(5000, seed=10)
    x_te, y_te = gaussian_1v1(5000, seed=11)
    res = estimate_baseline(method, x_tr, y_tr, x_te, y_te, budget="quick", seed=0)
    assert res.estimate == pytest.approx(MI_1V1, abs=0.1), res
