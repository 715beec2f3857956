"""Checkpoints inside a unit (docs/method.md §7): a killed run resumes bit-identically; a damaged
or mismatched checkpoint is reported and ignored; a finished unit leaves no checkpoint."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import minde
from minde import config, training
from minde.checkpoint import Checkpoint, CheckpointWarning, read_header
from minde.checkpoint import save_state as _real_save
from minde.repro import results as res
from minde.repro import sweep

REPO = Path(__file__).resolve().parents[1]
TASK = "1v1-normal-0.75"
N_TRAIN = 500

# A sweep whose smoke budget trains STEPS steps (argv[1]); the rest of argv goes to the sweep.
DRIVER = textwrap.dedent("""
    import sys
    from minde import config
    smoke = config.BUDGETS["smoke"]
    config.BUDGETS["smoke"] = config.Budget(**{**smoke.__dict__, "steps": int(sys.argv[1])})
    from minde.repro.sweep import main
    sys.exit(main(sys.argv[2:]))
""")


@pytest.fixture(autouse=True)
def _private_sample_cache(tmp_path_factory, monkeypatch) -> None:
    """Keep task samples of these tests out of data/cache (subprocesses inherit the variable)."""
    monkeypatch.setenv("MINDE_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "sample-cache"))


def _steps(monkeypatch, steps: int) -> None:
    """The smoke budget with ``steps`` training steps, in this process."""
    smoke = config.BUDGETS["smoke"]
    monkeypatch.setitem(config.BUDGETS, "smoke", config.Budget(**{**smoke.__dict__, "steps": steps}))


def _argv(out: Path, seeds: str = "0", *extra: str) -> list[str]:
    return ["--experiment", "c", "--budget", "smoke", "--tasks", TASK, "--methods", "minde_c",
            "--seeds", seeds, "--n-train", str(N_TRAIN), "--out", str(out), "--no-progress", *extra]


def _ckpt(out: Path, seeds: str) -> Path:
    return out / "c" / "smoke" / "checkpoints" / f"{TASK}__minde_c__n{N_TRAIN}__s{seeds}.pt"


def _records(out: Path) -> dict[int, res.UnitRecord]:
    return {r.seed: r for r in res.load_units("c", "smoke", out).values()}


def _same_numbers(a: res.UnitRecord, b: res.UnitRecord) -> None:
    """Bit-identical estimates (==, not approx) and the same entropies and standard errors."""
    assert a.ok and b.ok
    assert a.estimates == b.estimates
    for k in ("entropies", "mi_stderr", "mi_sigma_stderr"):
        assert a.extra[k] == b.extra[k], k


class _Interrupt(BaseException):
    """Stands for a kill: not an Exception, so no unit catches it."""


def _interrupt_after_saves(monkeypatch, n: int = 1) -> list[Path]:
    """Make training stop (raise _Interrupt) right after its n-th checkpoint is written."""
    real, saved = training.save_state, []

    def save(path, state, header):
        size = real(path, state, header)
        saved.append(Path(path))
        if len(saved) == n:
            raise _Interrupt
        return size

    monkeypatch.setattr(training, "save_state", save)
    return saved


def _kill_and_resume(tmp_path: Path, seeds: str, steps: int) -> tuple[dict, dict]:
    """Run the sweep in a subprocess, SIGKILL it once its checkpoint exists, rerun it; then an
    uninterrupted run in another folder. Returns (resumed records, reference records)."""
    out = tmp_path / "killed"
    argv = [sys.executable, "-c", DRIVER, str(steps), *_argv(out, seeds, "--checkpoint-every", "100")]
    env = {**os.environ, "PYTHONPATH": str(REPO), "MINDE_NUM_THREADS": "1"}
    ckpt = _ckpt(out, seeds.replace(",", "-"))
    proc = subprocess.Popen(argv, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    end = time.monotonic() + 600
    while not ckpt.exists() and proc.poll() is None and time.monotonic() < end:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    err = proc.communicate()[1].decode()
    assert ckpt.exists(), f"no checkpoint appeared before the sweep ended: {err[-2000:]}"
    assert not _records(out)  # killed in training: nothing recorded yet
    step = read_header(ckpt)["step"]
    assert 0 < step < steps
    done = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    assert not ckpt.exists()  # deleted once the records are written
    ref = tmp_path / "reference"
    subprocess.run([sys.executable, "-c", DRIVER, str(steps), *_argv(ref, seeds)], cwd=REPO, env=env,
                   check=True, capture_output=True, timeout=900)
    return _records(out), _records(ref)


@pytest.mark.slow
def test_killed_unit_resumes_bit_identical(tmp_path: Path) -> None:
    """(a) SIGKILL after a checkpoint; the rerun resumes from it and matches an uninterrupted run."""
    resumed, ref = _kill_and_resume(tmp_path, "0", steps=1500)
    assert resumed[0].resumed_from_step > 0 and ref[0].resumed_from_step == 0
    _same_numbers(resumed[0], ref[0])


@pytest.mark.slow
def test_killed_seed_group_resumes_bit_identical(tmp_path: Path) -> None:
    """(b) The same for a seed group of 3 (one checkpoint for the group)."""
    resumed, ref = _kill_and_resume(tmp_path, "0,1,2", steps=1200)
    assert sorted(resumed) == [0, 1, 2]
    for s in (0, 1, 2):
        assert resumed[s].extra["group_seeds"] == [0, 1, 2]
        assert resumed[s].resumed_from_step > 0
        _same_numbers(resumed[s], ref[s])


def _interrupted_sweep(monkeypatch, out: Path, seeds: str = "0") -> Path:
    """An in-process sweep stopped right after its first checkpoint; returns the checkpoint."""
    saved = _interrupt_after_saves(monkeypatch)
    with pytest.raises(_Interrupt):
        sweep.main(_argv(out, seeds, "--checkpoint-every", "1"))
    monkeypatch.setattr(training, "save_state", _real_save)
    assert saved and saved[0].exists()
    return saved[0]


@pytest.mark.parametrize("damage", ["truncate", "garble", "empty"])
def test_damaged_checkpoint_is_reported_and_ignored(tmp_path: Path, monkeypatch, damage: str) -> None:
    """(c) A truncated/garbled checkpoint: a warning naming its path, a fresh start, the same result."""
    _steps(monkeypatch, 300)
    ckpt = _interrupted_sweep(monkeypatch, tmp_path / "a")
    blob = ckpt.read_bytes()
    ckpt.write_bytes({"truncate": blob[: len(blob) * 2 // 3], "empty": b"",
                      "garble": blob[:-100] + bytes(100)}[damage])
    with pytest.warns(CheckpointWarning, match=re.escape(str(ckpt))):
        assert sweep.main(_argv(tmp_path / "a")) == 0
    assert sweep.main(_argv(tmp_path / "ref", "0", "--checkpoint-seconds", "0")) == 0
    got, ref = _records(tmp_path / "a")[0], _records(tmp_path / "ref")[0]
    assert got.resumed_from_step == 0
    _same_numbers(got, ref)


def test_checkpoint_is_deleted_once_the_record_is_written(tmp_path: Path, monkeypatch) -> None:
    """(d) Checkpoints are written while training and gone when the sweep has the record."""
    _steps(monkeypatch, 300)
    written: list[Path] = []

    def save(path, state, header):
        written.append(Path(path))
        return _real_save(path, state, header)

    monkeypatch.setattr(training, "save_state", save)
    out = tmp_path / "r"
    assert sweep.main(_argv(out, "0-1", "--checkpoint-every", "1")) == 0
    assert set(written) == {_ckpt(out, "0-1")}
    assert len(_records(out)) == 2
    assert not list((out / "c" / "smoke" / "checkpoints").iterdir())


def test_resume_after_interruption_in_process_is_exact(tmp_path: Path, monkeypatch) -> None:
    """An interrupted seed group resumes (from a later chunk) to the uninterrupted numbers."""
    _steps(monkeypatch, 700)
    out = tmp_path / "a"
    saved = _interrupt_after_saves(monkeypatch, n=2)
    with pytest.raises(_Interrupt):
        sweep.main(_argv(out, "0-1", "--checkpoint-every", "1"))
    monkeypatch.setattr(training, "save_state", _real_save)
    assert read_header(saved[-1])["step"] == 512
    assert sweep.main(_argv(out, "0-1")) == 0
    assert sweep.main(_argv(tmp_path / "ref", "0-1", "--checkpoint-seconds", "0")) == 0
    got, ref = _records(out), _records(tmp_path / "ref")
    for s in (0, 1):
        assert got[s].resumed_from_step == 512
        _same_numbers(got[s], ref[s])


def test_checkpoint_of_other_settings_is_reported_and_ignored(tmp_path: Path, monkeypatch) -> None:
    """(e) A checkpoint made with other settings (steps) is named in a warning and not used."""
    _steps(monkeypatch, 300)
    ckpt = _interrupted_sweep(monkeypatch, tmp_path / "a")
    _steps(monkeypatch, 320)
    with pytest.warns(CheckpointWarning, match=re.escape(str(ckpt)) + ".*settings differ"):
        assert sweep.main(_argv(tmp_path / "a")) == 0
    assert sweep.main(_argv(tmp_path / "ref", "0", "--checkpoint-seconds", "0")) == 0
    got, ref = _records(tmp_path / "a")[0], _records(tmp_path / "ref")[0]
    assert got.resumed_from_step == 0
    _same_numbers(got, ref)


def _data(seed: int = 0) -> tuple[np.ndarray, ...]:
    z = np.random.default_rng(seed).multivariate_normal([0, 0], [[1, .75], [.75, 1]], size=700)
    return z[:600, :1], z[:600, 1:], z[600:, :1], z[600:, 1:]


def test_api_checkpoint_other_data_or_seed_is_ignored(tmp_path: Path, monkeypatch) -> None:
    """MINDE(checkpoint=...): a checkpoint of other data, or another seed, is not resumed."""
    x, y, xt, yt = _data()
    kw = dict(budget="smoke", steps=300, mc_iter=1, progress=False, checkpoint=tmp_path / "m.pt",
              checkpoint_every=1)
    _interrupt_after_saves(monkeypatch)
    with pytest.raises(_Interrupt):
        minde.MINDE("c", **kw).fit(x, y)
    monkeypatch.setattr(training, "save_state", _real_save)
    with pytest.warns(CheckpointWarning, match="data_sha256"):
        minde.MINDE("c", **kw).fit(x + 1e-3, y)
    (tmp_path / "m.pt").unlink()
    _interrupt_after_saves(monkeypatch)
    with pytest.raises(_Interrupt):
        minde.MINDE("c", **kw).fit(x, y)
    monkeypatch.setattr(training, "save_state", _real_save)
    with pytest.warns(CheckpointWarning, match="init_sha256"):
        minde.MINDE("c", seed=1, **kw).fit(x, y)
    with pytest.warns(CheckpointWarning, match="role_probs"):
        minde.MINDE("c", role_probs=(0.25, 0.75), **kw).fit(x, y)


def test_api_resumes_finished_training_and_seeds(tmp_path: Path, monkeypatch) -> None:
    """K seeds in groups of 2 (3 models): interrupted in the second group, resumed exactly; a
    finished checkpoint is loaded without training."""
    x, y, xt, yt = _data()
    kw = dict(budget="smoke", steps=300, mc_iter=2, n_seeds=3, progress=False)
    monkeypatch.setattr(training, "default_group_size", lambda *a: 2)
    ref = minde.MINDE("c", **kw).fit(x, y).estimate(xt, yt)
    path = tmp_path / "k3.pt"
    saved = _interrupt_after_saves(monkeypatch, n=3)  # 256 of group 1, its end, 256 of group 2
    with pytest.raises(_Interrupt):
        minde.MINDE("c", checkpoint=path, checkpoint_every=1, **kw).fit(x, y)
    monkeypatch.setattr(training, "save_state", _real_save)
    assert read_header(saved[-1])["step"] == 300 + 256
    got = minde.MINDE("c", checkpoint=path, checkpoint_every=1, **kw).fit(x, y).estimate(xt, yt)
    assert got.resumed_from_step == 556
    assert got.mi_per_seed == ref.mi_per_seed and got.entropies == ref.entropies
    again = minde.MINDE("c", checkpoint=path, checkpoint_every=1, **kw).fit(x, y)
    assert again.train_result.resumed_from_step == 600  # all done: nothing trained
    assert again.estimate(xt, yt).mi_per_seed == ref.mi_per_seed


def test_unwritable_checkpoint_folder_warns_and_trains_on(tmp_path: Path) -> None:
    """A worker without the sweep's filesystem cannot write the checkpoint: it trains on."""
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    x, y, xt, yt = _data()
    kw = dict(budget="smoke", steps=300, mc_iter=1, progress=False)
    with pytest.warns(CheckpointWarning, match="cannot write checkpoint"):
        got = minde.MINDE("c", checkpoint=blocker / "sub" / "m.pt", checkpoint_every=1, **kw).fit(x, y)
    ref = minde.MINDE("c", **kw).fit(x, y)
    assert got.estimate(xt, yt).mi == ref.estimate(xt, yt).mi


def test_checkpoint_options_are_validated() -> None:
    for bad in (dict(every_steps=0), dict(every_steps=1.5), dict(every_seconds=-1),
                dict(every_seconds=float("nan"))):
        with pytest.raises(ValueError, match="checkpoint"):
            Checkpoint("x.pt", **bad)
    assert sweep.main(_argv(Path("/tmp"), "0", "--checkpoint-every", "0")) == 2


def test_status_shows_done_failed_and_in_flight(tmp_path: Path, monkeypatch, capsys) -> None:
    _steps(monkeypatch, 300)
    out = tmp_path / "s"
    ckpt = _interrupted_sweep(monkeypatch, out, "3")
    assert sweep.main(_argv(out, "0")) == 0
    rec = _records(out)[0]
    failed = res.UnitRecord(**{**rec.__dict__, "seed": 9, "status": "failed", "estimates": {},
                               "error": "TrainingDivergedError: training diverged at step 7"})
    res.write_unit("c", failed, out)
    capsys.readouterr()
    assert sweep.main(["--status", "c", "--budget", "smoke", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "1 done, 1 failed" in text and "minde_c 1" in text
    assert "failed x1: TrainingDivergedError: training diverged at step 7" in text
    assert f"{ckpt.stem}: step 256/300" in text
    assert sweep.main(["--status", "nothing", "--budget", "smoke", "--out", str(out)]) == 2


PRELOAD = textwrap.dedent("""
    # Dask worker preload: the smoke budget with $MINDE_TEST_STEPS training steps
    import os
    from minde import config
    smoke = config.BUDGETS["smoke"]
    config.BUDGETS["smoke"] = config.Budget(**{**smoke.__dict__, "steps": int(os.environ["MINDE_TEST_STEPS"])})
""")


@pytest.mark.slow
def test_unit_rescheduled_after_worker_death_resumes_on_shared_filesystem(tmp_path: Path, monkeypatch) -> None:
    """Dask: the worker training a unit is killed after its checkpoint; a new worker (same
    filesystem) resumes it, and the record equals an uninterrupted run."""
    steps = 1500
    dask = str(Path(sys.executable).with_name("dask"))
    env = {**os.environ, "PYTHONPATH": str(REPO), "MINDE_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
           "MINDE_TEST_STEPS": str(steps)}
    preload = tmp_path / "budget_preload.py"
    preload.write_text(PRELOAD)
    sched = tmp_path / "scheduler.json"
    procs: list[subprocess.Popen] = []

    def start(*cmd: str) -> subprocess.Popen:
        procs.append(subprocess.Popen([dask, *cmd], env=env, cwd=tmp_path, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL))
        return procs[-1]

    def worker(name: str) -> subprocess.Popen:
        return start("worker", "--scheduler-file", str(sched), "--nthreads", "1", "--no-nanny",
                     "--host", "127.0.0.1", "--no-dashboard", "--name", name, "--preload", str(preload),
                     "--local-directory", str(tmp_path / name))

    def wait(pred, what: str, timeout: float = 300) -> None:
        end = time.monotonic() + timeout
        while not pred():
            assert time.monotonic() < end, f"timed out waiting for {what}"
            time.sleep(0.05)

    out = tmp_path / "res"
    ckpt = _ckpt(out, "0")
    try:
        start("scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard", "--scheduler-file", str(sched))
        wait(lambda: sched.is_file() and sched.stat().st_size > 0, "the scheduler")
        first = worker("w0")
        client = subprocess.Popen([sys.executable, "-c", DRIVER, str(steps),
                                   *_argv(out, "0", "--checkpoint-every", "100", "--scheduler", str(sched))],
                                  cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        procs.append(client)
        wait(ckpt.exists, "a checkpoint")
        first.send_signal(signal.SIGKILL)
        first.wait()
        killed_at = read_header(ckpt)["step"]
        worker("w1")
        _, err = client.communicate(timeout=900)
        assert client.returncode == 0, err[-3000:]
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.kill()
            p.wait(timeout=30)
    rec = _records(out)[0]
    assert rec.extra["worker"] == "w1" and rec.resumed_from_step == killed_at > 0
    assert not ckpt.exists()
    _steps(monkeypatch, steps)
    assert sweep.main(_argv(tmp_path / "ref", "0", "--checkpoint-seconds", "0")) == 0
    _same_numbers(rec, _records(tmp_path / "ref")[0])
