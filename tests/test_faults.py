"""Reliability: determinism across processes and bounded memory at estimation."""
import json
import subprocess
import sys
import textwrap
import uuid

import pytest
from conftest import TAG, end_tagged_processes

RUN = textwrap.dedent("""
    import json, sys, numpy as np, minde
    seed = int(sys.argv[1])
    rng = np.random.default_rng(0)
    z = rng.multivariate_normal([0, 0], [[1, .75], [.75, 1]], size=600)
    r = minde.MINDE("j", budget="smoke", steps=60, mc_iter=2, seed=seed, progress=False)
    r = r.fit(z[:500, :1], z[:500, 1:]).estimate(z[500:, :1], z[500:, 1:])
    print(json.dumps([r.mi, r.mi_sigma, r.entropies]))
""")


def _run(seed: int) -> list:
    out = subprocess.run([sys.executable, "-c", RUN, str(seed)], capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout)


@pytest.mark.slow
def test_same_seed_is_bit_identical_across_processes():
    a, b, c = _run(7), _run(7), _run(8)
    assert a == b
    assert a[0] != c[0]


PEAK = textwrap.dedent("""
    import resource, sys, numpy as np, minde
    batch = int(sys.argv[1])
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200_000, 5)).astype(np.float32)
    y = (x[:, :2] + rng.normal(size=(200_000, 2))).astype(np.float32)
    est = minde.MINDE("c", budget="smoke", steps=5, mc_iter=1, progress=False,
                      eval_batch_size=batch).fit(x[:2000], y[:2000])
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    est.estimate(x, y)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print((after - before) / 1024)
""")


@pytest.mark.slow
def test_estimation_on_200k_rows_runs_in_bounded_memory():
    """Batched estimation adds < 300 MB of peak memory for 200k test rows; unbatched would not."""
    grow = float(subprocess.run([sys.executable, "-c", PEAK, "8192"], capture_output=True,
                                text=True, check=True).stdout)
    assert grow < 300, f"peak memory grew by {grow:.0f} MB"


# --- interruption, disk full, divergence and bad parameters ---------------------------
import errno  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from minde.repro import results as res  # noqa: E402
from minde.repro import sweep  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
TASK = "1v1-normal-0.75"


@pytest.fixture
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MINDE_CACHE_DIR", str(tmp_path / "sample-cache"))
    return tmp_path


def _argv(out, methods="cca", seeds="0-3", *extra):
    return ["--experiment", "f", "--budget", "smoke", "--tasks", TASK, "--methods", methods,
            "--seeds", seeds, "--out", str(out), "--no-progress", *extra]


def _records(out):
    d = out / "f" / "smoke" / "units"
    return {p.name: p.read_text() for p in sorted(d.glob("*.json"))} if d.is_dir() else {}


@pytest.mark.slow
@pytest.mark.parametrize("kill_after", [0.5, 4.0, 9.0])
def test_sweep_killed_at_several_points_resumes_exactly(private_cache, kill_after):
    """SIGKILL at a random-ish point (before any record, or between records); rerun completes."""
    out = private_cache / "results"
    argv = [sys.executable, "-m", "minde.repro.sweep", *_argv(out, "minde_c", "0-3", "--group-size", "2")]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(argv, cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    time.sleep(kill_after)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = _records(out)
    for text in before.values():  # whatever was on disk is a complete, valid record
        json.loads(text)
    done = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    after = _records(out)
    assert len(after) == 4 and all(after[k] == v for k, v in before.items())
    df = res.aggregate("f", "smoke", out)
    assert not df.duplicated(["task", "method", "variant", "n_train", "seed"]).any()
    assert sorted(set(df["seed"])) == [0, 1, 2, 3]


def test_disk_full_while_saving_fails_that_unit_and_keeps_earlier_records(private_cache, monkeypatch, capsys):
    out = private_cache / "results"
    real_replace, calls = os.replace, {"n": 0}

    def replace(src, dst):
        if str(dst).endswith(".json") and "units" in str(dst):
            calls["n"] += 1
            if calls["n"] == 2:
                raise OSError(errno.ENOSPC, "No space left on device")
        return real_replace(src, dst)

    monkeypatch.setattr(res.os, "replace", replace)
    assert sweep.main(_argv(out, seeds="0-2")) == 1
    err = capsys.readouterr().err
    assert "FAILED to save" in err and "No space left on device" in err
    assert "could not be saved" in err
    recs = res.load_units("f", "smoke", out)
    assert len(recs) == 2 and all(r.status == "ok" for r in recs.values())
    assert not list((out / "f" / "smoke" / "units").glob(".*.tmp"))  # no half-written record
    monkeypatch.undo()
    assert sweep.main(_argv(out, seeds="0-2")) == 0  # the rerun computes only the lost unit
    assert "2 done" in capsys.readouterr().out


def test_diverging_unit_fails_with_its_step_and_the_sweep_carries_on(private_cache, monkeypatch, capsys):
    """An absurd learning rate (forced through the budget) makes MINDE diverge; CCA still runs."""
    from minde import config

    smoke = config.BUDGETS["smoke"]
    monkeypatch.setitem(config.BUDGETS, "smoke", config.Budget(**{**smoke.__dict__, "lr": 1e7}))
    out = private_cache / "results"
    assert sweep.main(_argv(out, methods="minde_c,cca", seeds="0")) == 1
    recs = {r.method: r for r in res.load_units("f", "smoke", out).values()}
    assert recs["cca"].status == "ok"
    assert recs["minde_c"].status == "failed"
    assert recs["minde_c"].diverged_step is not None
    assert "TrainingDivergedError" in recs["minde_c"].error and "at step" in recs["minde_c"].error


@pytest.mark.parametrize("params,needle", [
    ({"budget": "huge"}, "unknown budget 'huge'"),
    ({"budget": 3}, "unknown budget 3"),
])
def test_notebook_parameter_of_wrong_value_or_type_is_named(tmp_path, params, needle):
    import papermill as pm

    with pytest.raises(pm.PapermillExecutionError) as info:
        pm.execute_notebook(str(REPO / "notebooks" / "ablation_sigma.ipynb"),
                            str(tmp_path / "out.ipynb"), parameters=params, kernel_name="python3",
                            cwd=str(REPO / "notebooks"), progress_bar=False)
    assert needle in str(info.value) and "valid budgets: smoke, quick, paper" in str(info.value)


@pytest.mark.slow
def test_reproduce_killed_mid_notebook_leaves_no_partial_figure_and_reruns(tmp_path):
    """In a private project root; the kernel's process pool, orphaned by the kill, is ended too."""
    figs = tmp_path / "figures" / "smoke"
    stem = "00_quickstart"
    argv = [sys.executable, "-m", "minde.repro.reproduce", "--budget", "smoke", "--only", stem,
            "--notebooks", str(REPO / "notebooks"), "--runs", str(tmp_path / "runs"), "--no-report"]
    tag = uuid.uuid4().hex
    env = {**os.environ, "PYTHONPATH": str(REPO), "MPLBACKEND": "Agg", "MINDE_HOME": str(tmp_path), TAG: tag}
    proc = subprocess.Popen(argv, cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    time.sleep(6)
    os.killpg(proc.pid, signal.SIGKILL)  # the runner and its kernel
    proc.wait()
    end_tagged_processes(tag)  # what the kernel started lives in other process groups
    for p in figs.glob(f"{stem}*"):  # anything present is complete (atomic writes)
        assert p.stat().st_size > 0 and not p.name.startswith(".")
    done = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    png = (figs / f"{stem}.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 1000
