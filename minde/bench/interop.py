"""MINDE as a bmi point estimator (``benchmark-mi==0.1.3``), for bmi's runner and bmi user code.

    from minde.bench.interop import MINDEEstimator
    est = MINDEEstimator(kind="c", budget="quick")
    est.estimate(x, y)                    # float, nats
    est.estimate_with_info(x, y)          # bmi.interface.EstimateResult
    bmi.benchmark.run_estimator(est, "minde_c", "sample.csv", task_id="1v1-normal-0.75")

``estimate(x, y)`` follows bmi's convention of taking the whole sample: it holds out
``test_size`` of the rows at random (seeded), trains on the rest and estimates on the held-out
part, as :func:`minde.estimate_mi` does with ``folds=0`` (one split; it cross-fits small data by default).
"""
from __future__ import annotations

import time
from typing import Any, Optional

from bmi.interface import BaseModel, EstimateResult, IMutualInformationPointEstimator
from numpy.typing import ArrayLike

from minde.api import KINDS, MINDE, MIEstimate
from minde.data import MIN_ROWS, check_pair, train_test_split

__all__ = ["MINDEEstimator", "MINDEParams", "VARIANTS"]

VARIANTS = ("mi", "mi_sigma")  # "difference inside" (MINDE-C/J) and "outside" (MINDE-C(σ)/J(σ))


class MINDEParams(BaseModel):
    """Parameters of a MINDEEstimator, as bmi's ``parameters()`` reports them (docs/method.md §7)."""

    kind: str  # "c" or "j" (docs/method.md §3)
    variant: str  # "mi" (difference inside) or "mi_sigma" (difference outside)
    budget: str  # smoke | quick | paper
    test_size: float  # held-out fraction of the sample used for estimation
    seed: int  # seed of the split and the first model
    n_seeds: int  # independent models averaged
    importance_sampling: Optional[bool]  # t ~ q(t) (docs/method.md §4) or uniform; None: the budget's
    sigma: float  # std of the Gaussian reference of the σ-variants (docs/method.md §2)
    device: str  # auto | cpu | cuda[:N]
    steps: Optional[int] = None  # overrides of the budget (None: the budget's value)
    batch_size: Optional[int] = None
    lr: Optional[float] = None
    hidden: Optional[int] = None
    mc_iter: Optional[int] = None


class MINDEEstimator(IMutualInformationPointEstimator):
    """bmi point estimator wrapping ``minde.MINDE`` (docs/method.md §3; bmi's estimator protocol)."""

    def __init__(self, kind: str = "c", *, variant: str = "mi", budget: str = "quick",
                 test_size: float = 0.1, seed: int = 0, n_seeds: int = 1,
                 importance_sampling: bool | None = None, sigma: float = 1.0, device: str = "auto",
                 steps: int | None = None, batch_size: int | None = None, lr: float | None = None,
                 hidden: int | None = None, mc_iter: int | None = None, progress: bool = False) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r}; use 'c' or 'j'")
        if variant not in VARIANTS:
            raise ValueError(f"unknown variant {variant!r}; use 'mi' or 'mi_sigma'")
        if not 0 < test_size < 1:
            raise ValueError(f"test_size must be in (0, 1), got {test_size!r}")
        self._params = MINDEParams(
            kind=kind, variant=variant, budget=budget, test_size=test_size, seed=seed,
            n_seeds=n_seeds, importance_sampling=importance_sampling, sigma=sigma, device=device,
            steps=steps, batch_size=batch_size, lr=lr, hidden=hidden, mc_iter=mc_iter)
        self._progress = progress
        self._model()  # validates every MINDE argument now, not after sampling

    def _model(self) -> MINDE:
        """A fresh, unfitted MINDE with these parameters."""
        p = self._params.dict()
        kind = p.pop("kind")
        for key in ("variant", "test_size"):
            p.pop(key)
        return MINDE(kind, progress=self._progress, **p)

    def parameters(self) -> MINDEParams:
        """The estimator's parameters (a pydantic model, as bmi expects)."""
        return self._params

    def fit_estimate(self, x: ArrayLike, y: ArrayLike) -> tuple[MIEstimate, int, int]:
        """Split, train and estimate; returns the full result and (n_train, n_test)."""
        xa, ya = check_pair(x, y, MIN_ROWS)
        x_tr, y_tr, x_te, y_te = train_test_split(xa, ya, self._params.test_size, self._params.seed)
        result = self._model().fit(x_tr, y_tr).estimate(x_te, y_te)
        return result, len(x_tr), len(x_te)

    def estimate_with_info(self, x: ArrayLike, y: ArrayLike) -> EstimateResult:
        """MI estimate (nats) with every MINDE output in ``additional_information``.

        x: (n, d_x), y: (n, d_y). The extra fields are ``variants`` (both estimates of the
        kind), ``mi_stderr``, ``mi_sigma_stderr``, ``entropies``, per-seed values, settings,
        train/estimate seconds and ``n_train``/``n_test``.
        """
        start = time.perf_counter()
        result, n_train, n_test = self.fit_estimate(x, y)
        info: dict[str, Any] = result.to_dict()
        info.update(variants=result.variants, variant=self._params.variant,
                    n_train=n_train, n_test=n_test)
        mi = result.mi if self._params.variant == "mi" else result.mi_sigma
        return EstimateResult(mi_estimate=float(mi), time_in_seconds=time.perf_counter() - start,
                              additional_information=info)

    def estimate(self, x: ArrayLike, y: ArrayLike) -> float:
        """Point estimate of I(X; Y) in nats from a sample x: (n, d_x), y: (n, d_y)."""
        return self.estimate_with_info(x, y).mi_estimate
