"""MINDEEstimator against bmi's own interface and benchmark runner (benchmark-mi 0.1.3)."""
from __future__ import annotations

import inspect
import math

import numpy as np
import pytest

pytest.importorskip("bmi")  # the benchmark-mi package (a declared dependency)
import bmi.benchmark  # noqa: E402
from bmi.interface import BaseModel, EstimateResult, IMutualInformationPointEstimator  # noqa: E402

from minde.bench.interop import MINDEEstimator, MINDEParams  # noqa: E402

TASK = "1v1-normal-0.75"


def test_implements_bmis_protocol():
    est = MINDEEstimator("c", budget="smoke")
    # bmi's protocol is not runtime-checkable, so isinstance() cannot be used; subclassing it
    # explicitly puts it in the MRO, and none of its abstract methods may be left unimplemented
    assert IMutualInformationPointEstimator in type(est).__mro__
    assert not getattr(type(est), "__abstractmethods__", set())
    for name in ("estimate", "estimate_with_info", "parameters"):
        ours, theirs = getattr(MINDEEstimator, name), getattr(IMutualInformationPointEstimator, name)
        assert ours is not theirs, f"{name} is bmi's default, not ours"
        assert list(inspect.signature(ours).parameters) == list(inspect.signature(theirs).parameters)
    params = est.parameters()
    assert isinstance(params, BaseModel) and isinstance(params, MINDEParams)
    assert params.dict()["kind"] == "c" and params.budget == "smoke" and params.variant == "mi"


@pytest.mark.parametrize("kwargs, message", [
    (dict(kind="z"), "unknown kind"), (dict(variant="median"), "unknown variant"),
    (dict(test_size=0.0), "test_size"), (dict(budget="huge"), "unknown budget"),
    (dict(steps=0), "steps"),
])
def test_bad_parameters_fail_at_construction(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MINDEEstimator(**kwargs)


def test_estimate_with_info_is_bmis_record():
    rng = np.random.default_rng(0)
    z = rng.multivariate_normal([0, 0], [[1, 0.75], [0.75, 1]], size=500)
    est = MINDEEstimator("j", variant="mi_sigma", budget="smoke")
    res = est.estimate_with_info(z[:, :1], z[:, 1:])
    assert isinstance(res, EstimateResult)
    info = res.additional_information
    assert res.mi_estimate == info["mi_sigma"] == info["variants"]["minde_j_sigma"]
    assert {"mi_stderr", "entropies", "mi_per_seed", "settings", "n_train", "n_test"} <= set(info)
    assert (info["n_train"], info["n_test"]) == (450, 50)
    assert res.time_in_seconds > 0
    assert est.estimate(z[:, :1], z[:, 1:]) == pytest.approx(res.mi_estimate, abs=1e-6)  # seeded


@pytest.mark.slow
def test_runs_through_bmis_run_estimator(tmp_path):
    task = bmi.benchmark.BENCHMARK_TASKS[TASK]
    path = tmp_path / "sample.csv"
    task.save_sample(path, n_samples=3000, seed=0)
    est = MINDEEstimator("c", budget="smoke", steps=1500)
    run = bmi.benchmark.run_estimator(est, "minde_c", path, task_id=TASK, seed=0)
    assert isinstance(run, bmi.benchmark.RunResult)
    assert run.success, run.additional_information.get("error")
    assert (run.task_id, run.estimator_id, run.n_samples) == (TASK, "minde_c", 3000)
    # 1500 steps on 2700 rows: a plumbing check with a loose tolerance, not an accuracy test
    assert abs(run.mi_estimate - task.mutual_information) < 0.15, run.mi_estimate
    assert run.additional_information["n_test"] == 300
    run.dump(tmp_path / "run.yaml")  # bmi's own YAML dump accepts the extra fields
    assert "mi_sigma" in (tmp_path / "run.yaml").read_text()


def test_run_estimator_reports_failures_without_raising(tmp_path):
    path = tmp_path / "tiny.csv"
    bmi.benchmark.BENCHMARK_TASKS[TASK].save_sample(path, n_samples=17, seed=0)  # 15 training rows
    run = bmi.benchmark.run_estimator(MINDEEstimator(budget="smoke"), "minde_c", path, task_id=TASK)
    assert not run.success and math.isnan(run.mi_estimate)
    assert "too few rows" in run.additional_information["error"]
