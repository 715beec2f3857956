"""Sweeps on a real Dask cluster on loopback: `dask scheduler` + two `dask worker`s."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from minde.repro import results as res
from minde.repro import sweep

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
DASK = str(Path(sys.executable).with_name("dask"))
TASK = "1v1-normal-0.75"


def _env() -> dict[str, str]:
    """Environment of the dask subprocesses: this checkout, one thread."""
    return {**os.environ, "PYTHONPATH": str(REPO), "MINDE_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}


@pytest.fixture(autouse=True)
def _private_sample_cache(tmp_path_factory, monkeypatch) -> None:
    """Keep task samples of these tests out of data/cache (subprocesses inherit the variable)."""
    monkeypatch.setenv("MINDE_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "sample-cache"))


def _wait_for(pred, timeout: float, what: str) -> None:
    """Poll ``pred`` until true or fail naming ``what``."""
    end = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > end:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.1)


def _n_workers(sched_file: Path) -> int:
    """Number of workers the scheduler knows."""
    from distributed import Client

    with Client(scheduler_file=str(sched_file), timeout="20s") as c:
        return len(c.scheduler_info()["workers"])


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[Path, list[subprocess.Popen]]]:
    """Scheduler on 127.0.0.1 (random port, scheduler file) and two single-thread workers."""
    sched_file = tmp_path / "scheduler.json"
    procs = [subprocess.Popen([DASK, "scheduler", "--host", "127.0.0.1", "--port", "0",
                               "--no-dashboard", "--scheduler-file", str(sched_file)],
                              env=_env(), cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    workers = []
    try:
        _wait_for(lambda: sched_file.is_file() and sched_file.stat().st_size > 0, 60, "scheduler")
        for i in range(2):
            workers.append(subprocess.Popen(
                [DASK, "worker", "--scheduler-file", str(sched_file), "--nthreads", "1",
                 "--no-nanny", "--host", "127.0.0.1", "--no-dashboard", "--name", f"w{i}",
                 "--local-directory", str(tmp_path / f"w{i}")],
                env=_env(), cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        procs += workers
        _wait_for(lambda: _n_workers(sched_file) == 2, 90, "two workers")
        assert json.loads(sched_file.read_text())["address"].startswith("tcp://127.0.0.1:")
        yield sched_file, workers
    finally:
        for p in reversed(procs):  # they hold no state worth a graceful close
            if p.poll() is None:
                p.kill()
            p.wait(timeout=30)


def _argv(out: Path, sched: Path, methods: str, seeds: str, *extra: str) -> list[str]:
    """Smoke sweep through an existing scheduler."""
    return ["--experiment", "d", "--budget", "smoke", "--tasks", TASK, "--methods", methods,
            "--seeds", seeds, "--out", str(out), "--scheduler", str(sched), "--no-progress", *extra]


def test_sweep_through_scheduler(cluster, tmp_path: Path, capsys) -> None:
    sched, _ = cluster
    out = tmp_path / "res"
    assert sweep.main(_argv(out, sched, "minde_c,cca", "0-1")) == 0
    assert "2 worker(s)" in capsys.readouterr().out
    recs = res.load_units("d", "smoke", out)
    assert len(recs) == 4 and all(r.ok for r in recs.values())
    assert {r.extra["worker"] for r in recs.values()} <= {"w0", "w1"}
    df = res.aggregate("d", "smoke", out)
    joint = df["variant"].map(res.is_joint_variant)  # seeds 0-1 of minde_c: one group, evaluated jointly
    assert sorted(df.loc[joint, "variant"]) == ["minde_c_cross", "minde_c_loss", "minde_c_sigma_cross",
                                                "minde_c_sigma_loss"]
    df = df[~joint]
    assert len(df) == 6 and (df["status"] == "ok").all()
    assert abs(df.set_index(["variant", "seed"]).loc[("cca", 0), "estimate"] - 0.4133) < 0.1
    assert sweep.main(_argv(out, sched, "minde_c,cca", "0-1")) == 0  # all done: nothing resubmitted
    assert res.load_units("d", "smoke", out) == recs
    local = sweep.run_sweep("d", "smoke", TASK, "minde_c", "0", out=tmp_path / "local", progress=False)
    remote = df[(df["method"] == "minde_c") & (df["seed"] == 0)]
    local = local[~local["variant"].map(res.is_joint_variant)]
    # same seeds, same numbers (remote seeds 0-1 trained as one batch: to float tolerance)
    assert list(remote["estimate"]) == pytest.approx(list(local["estimate"]), rel=1e-4, abs=1e-6)


def test_killed_worker_units_are_rescheduled(cluster, tmp_path: Path) -> None:
    sched, workers = cluster
    out = tmp_path / "res"
    units_dir = out / "d" / "smoke" / "units"
    proc = subprocess.Popen([sys.executable, "-m", "minde.repro.sweep", *_argv(out, sched, "minde_c", "0-5", "--group-size", "2")],
                            env=_env(), cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_for(lambda: units_dir.is_dir() and any(units_dir.glob("*.json")), 180, "first record")
    workers[0].send_signal(signal.SIGKILL)
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    assert workers[0].poll() is not None
    names = sorted(p.name for p in units_dir.glob("*.json"))
    assert names == sorted(f"{TASK}__minde_c__n2000__s{s}.json" for s in range(6))
    df = res.aggregate("d", "smoke", out)
    df = df[~df["variant"].map(res.is_joint_variant)]
    assert len(df) == 12 and (df["status"] == "ok").all()
    assert not df.duplicated(["task", "method", "variant", "n_train", "seed"]).any()


def test_embedded_local_cluster(tmp_path: Path, capsys) -> None:
    df = sweep.run_sweep("l", "smoke", TASK, "cca", "0-3", out=tmp_path, workers=2, progress=False)
    assert len(df) == 4 and (df["status"] == "ok").all()
    assert "2 worker(s)" in capsys.readouterr().out
    recs = res.load_units("l", "smoke", tmp_path)
    assert all(r.extra["worker"] != "" for r in recs.values())  # ran on Dask workers
    meta = json.loads((tmp_path / "l" / "smoke" / "meta.json").read_text())
    assert meta["executor"] == "local dask x2"


def test_groups_start_longest_first_on_workers(tmp_path: Path) -> None:
    """largest_first puts wide tasks and seed groups before narrow ones and the cheap methods
    last, and one worker runs the groups in that order (its records arrive in it)."""
    from minde.repro.cluster import run_groups_on_dask
    from minde.repro.units import Unit

    def unit(task: str, method: str, seed: int = 0) -> Unit:
        return Unit(task, method, 200, 100, seed, "smoke")

    wide, narrow = "multinormal-dense-5-5-0.5", TASK
    groups = [[unit(narrow, "cca")], [unit(wide, "ksg")], [unit(narrow, "mine")],
              [unit(narrow, "minde_c", s) for s in range(3)], [unit(wide, "mine")]]
    order = sweep.largest_first(groups)
    assert [(g[0].task, g[0].method, len(g)) for g in order] == [
        (wide, "mine", 1), (narrow, "minde_c", 3), (narrow, "mine", 1), (wide, "ksg", 1), (narrow, "cca", 1)]
    cheap = [[unit(t, "cca")] for t in (narrow, wide, narrow)]
    arrived: list = []
    run_groups_on_dask(sweep.largest_first(cheap), lambda rec: arrived.append(rec.task), workers=1,
                       echo=lambda _: None)
    assert arrived == [wide, narrow, narrow]
