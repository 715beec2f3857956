"""Tests of minde.bench.tasks: ids, ground truth, sampling and the on-disk cache (docs/method.md §8, §10)."""
from __future__ import annotations

import math
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from minde.bench import tasks

# docs/method.md §10: MI(s) = -log(1 - rho^2), rho = s^2 / (1 + s^2), for the whole 2-pair task (nats).
DOC_HIGHMI = {2: 1.02, 5: 2.58, 10: 3.93, 20: 5.30, 50: 7.13, 100: 8.52}
ALL_IDS = [t.id for t in tasks.list_tasks("all")]


def test_import_is_light() -> None:
    """`import minde.bench.tasks` imports neither jax nor bmi (docs/method.md §8)."""
    code = "import sys, minde.bench.tasks; print('jax' in sys.modules, 'bmi' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_groups() -> None:
    bench, high = tasks.list_tasks("benchmark"), tasks.list_tasks("highmi")
    assert len(bench) == 40 and all(t.family == "benchmark" for t in bench)
    assert len(high) == 18 and all(t.family == "highmi" for t in high)
    assert len(ALL_IDS) == 58 == len(set(ALL_IDS))
    with pytest.raises(ValueError, match="group"):
        tasks.list_tasks("everything")  # type: ignore[arg-type]


def test_benchmark_truth_matches_bmi() -> None:
    import bmi.benchmark

    for info in tasks.list_tasks("benchmark"):
        task = bmi.benchmark.BENCHMARK_TASKS[info.id]
        assert (info.dim_x, info.dim_y) == (task.dim_x, task.dim_y)
        assert info.mi == pytest.approx(task.mutual_information, abs=1e-12)


@pytest.mark.parametrize("transform", tasks.HIGHMI_TRANSFORMS)
def test_highmi_truth_matches_spec(transform: str) -> None:
    for s, spec_mi in DOC_HIGHMI.items():
        info = tasks.get_task(f"highmi-{transform}-5-5-s{s}")
        rho = s**2 / (1 + s**2)
        assert info.mi == pytest.approx(-math.log(1 - rho**2), abs=1e-9)
        assert info.mi == pytest.approx(spec_mi, abs=0.005)  # docs/method.md §10 rounds to 2 decimals
        assert (info.dim_x, info.dim_y, info.transform, info.strength) == (5, 5, transform, float(s))


@pytest.mark.parametrize("task_id", ALL_IDS)
def test_every_task_samples(task_id: str, tmp_path: Path) -> None:
    info = tasks.get_task(task_id)
    x_tr, y_tr, x_te, y_te = tasks.sample(task_id, 50, 30, seed=0, cache_dir=tmp_path)
    assert x_tr.shape == (50, info.dim_x) and y_tr.shape == (50, info.dim_y)
    assert x_te.shape == (30, info.dim_x) and y_te.shape == (30, info.dim_y)
    for a in (x_tr, y_tr, x_te, y_te):
        assert a.dtype == np.float32 and np.isfinite(a).all()
    assert info.mi > 0


def test_split_is_one_draw(tmp_path: Path) -> None:
    """Train and test are the first and last rows of one draw of n_train + n_test (docs/method.md §8)."""
    import bmi.benchmark

    x, y = bmi.benchmark.BENCHMARK_TASKS["multinormal-dense-2-2-0.5"].sample(100, 3)
    x_tr, y_tr, x_te, y_te = tasks.sample("multinormal-dense-2-2-0.5", 60, 40, 3, cache_dir=tmp_path)
    np.testing.assert_array_equal(np.concatenate([x_tr, x_te]), np.asarray(x, np.float32))
    np.testing.assert_array_equal(np.concatenate([y_tr, y_te]), np.asarray(y, np.float32))


def test_cache_returns_identical_arrays(tmp_path: Path) -> None:
    first = tasks.sample("1v1-normal-0.75", 40, 20, 1, cache_dir=tmp_path)
    files = list(tmp_path.rglob("*.npz"))
    assert len(files) == 1 and not list(tmp_path.rglob("*.tmp"))
    mtime = files[0].stat().st_mtime_ns
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        second = tasks.sample("1v1-normal-0.75", 40, 20, 1, cache_dir=tmp_path)
    assert files[0].stat().st_mtime_ns == mtime  # read, not rewritten
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    other_split = tasks.sample("1v1-normal-0.75", 20, 40, 1, cache_dir=tmp_path)  # same (n, seed)
    np.testing.assert_array_equal(np.concatenate(other_split[::2]), np.concatenate(first[::2]))
    assert len(list(tmp_path.rglob("*.npz"))) == 1
    third = tasks.sample("1v1-normal-0.75", 40, 20, 2, cache_dir=tmp_path)
    assert not np.array_equal(first[0], third[0])


def test_cache_env_var(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MINDE_CACHE_DIR", str(tmp_path / "env"))
    assert tasks.default_cache_dir() == tmp_path / "env"
    tasks.sample("1v1-normal-0.75", 10, 10, 0)
    assert len(list((tmp_path / "env").rglob("*.npz"))) == 1


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage"])
def test_cache_detects_corruption(damage: str, tmp_path: Path) -> None:
    clean = tasks.sample("1v1-normal-0.75", 40, 20, 0, cache_dir=tmp_path)
    (path,) = tmp_path.rglob("*.npz")
    raw = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(raw[: len(raw) // 2])
    elif damage == "flip":  # change one float inside the stored x array, keep the zip valid
        with np.load(path) as d:
            parts = {k: d[k] for k in d.files}
        parts["x"] = parts["x"].copy()
        parts["x"][5, 0] += 1.0
        np.savez(path, **parts)
    else:
        path.write_bytes(b"not a zip file")
    with pytest.warns(RuntimeWarning, match=str(path.name)):
        again = tasks.sample("1v1-normal-0.75", 40, 20, 0, cache_dir=tmp_path)
    for a, b in zip(clean, again):
        np.testing.assert_array_equal(a, b)
    with warnings.catch_warnings():  # the regenerated file is clean
        warnings.simplefilter("error", RuntimeWarning)
        tasks.sample("1v1-normal-0.75", 40, 20, 0, cache_dir=tmp_path)


@pytest.mark.parametrize(
    "bad, close",
    [("1v1-normal-0.7", "1v1-normal-0.75"), ("multinormal-dense-5-5-0.6", "multinormal-dense-5-5-0.5"),
     ("highmi-spiral-5-5-10", "highmi-spiral-5-5-s10"), ("highmi-sparse-5-5-s10.0", "highmi-sparse-5-5-s10")],
)
def test_unknown_id_lists_close_matches(bad: str, close: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="closest valid ids") as err:
        tasks.get_task(bad)
    assert close in str(err.value)
    with pytest.raises(ValueError):
        tasks.sample(bad, 10, 10, 0, cache_dir=tmp_path)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    "kwargs",
    [dict(n_train=0), dict(n_test=-1), dict(n_train=1.5), dict(seed=-1), dict(seed=True), dict(n_test="10")],
)
def test_argument_validation(kwargs: dict, tmp_path: Path) -> None:
    args = dict(task_id="1v1-normal-0.75", n_train=10, n_test=10, seed=0, cache_dir=tmp_path) | kwargs
    with pytest.raises(ValueError):
        tasks.sample(**args)


def test_other_highmi_ids() -> None:
    """Any canonical high-MI id is accepted (other dims or strengths); invalid dims are rejected."""
    info = tasks.get_task("highmi-spiral-3-4-s11")
    assert (info.dim_x, info.dim_y, info.strength) == (3, 4, 11.0)
    with pytest.raises(ValueError, match="spiral"):
        tasks.get_task("highmi-spiral-5-2-s10")
